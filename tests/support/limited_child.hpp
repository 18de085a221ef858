/*
 * limited_child.hpp — runs a piece of code in a forked child process, so that it may change
 * process-wide limits without touching the test runner: run_in_child returns how the code
 * ended; run_in_limited_child first lets the child's address space grow only by a given
 * number of bytes: a test that a parser refuses what a file claims before allocating it (an
 * allocation past the limit fails with std::bad_alloc there).
 */
#pragma once

#include <cstddef>
#include <functional>
#include <string>

// AddressSanitizer reserves terabytes of address space for its shadow memory, so an
// address-space limit cannot bound a process built with it: tests that need one are skipped
// there (the release suite, which CI runs too, makes them).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GAN_HAS_ASAN_FEATURE 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(GAN_HAS_ASAN_FEATURE)
#define GAN_HAS_ASAN_FEATURE 1
#endif
#ifndef GAN_HAS_ASAN_FEATURE
#define GAN_HAS_ASAN_FEATURE 0
#endif

namespace gan::test {

// Runs `f` in a forked child process and returns its exit status: what `f` returned (0 to
// 255), 126 when it threw, 128 + N when signal N killed it.
int run_in_child(const std::function<int()>& f);

// Runs `f` in a child process whose address space may grow by at most `extra` bytes past
// this one's. The child's exit status: 0 when `f` threw an InputError whose message holds
// `want`, 1 for an InputError with another message, 3 when an allocation failed (the limit
// was hit), 4 for another exception, 5 when `f` returned, 6 when the limit could not be set.
int run_in_limited_child(const std::function<void()>& f, const std::string& want, size_t extra);

}  // namespace gan::test
