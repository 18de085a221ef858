/*
 * main.cpp — the gan_cuda program: everything lives in gan_app (apps/app.cpp).
 */
#include "apps/app.hpp"

int main(int argc, char** argv) { return gan::run_app(argc, argv); }
