/*
 * error.hpp — the one exception type of gan_cuda and the macros that raise it.
 *
 * Library code never exits: it throws gan::Error carrying what failed and where
 * (file:line), and the app turns it into a message and a non-zero exit status.
 * GAN_CHECK(cond, msg) throws when a condition does not hold; GAN_FAIL(msg) throws
 * unconditionally. Messages are built with operator<< into a std::ostringstream.
 */
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace gan {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Raised for malformed input files, flags or checkpoints: the app maps it to exit status 2.
class InputError : public Error {
 public:
  using Error::Error;
};

[[noreturn]] inline void throw_error(const char* file, int line, const std::string& what) {
  std::ostringstream os;
  os << what << " [" << file << ":" << line << "]";
  throw Error(os.str());
}

}  // namespace gan

#define GAN_FAIL(msg)                                          \
  do {                                                         \
    std::ostringstream gan_fail_os_;                           \
    gan_fail_os_ << msg;                                       \
    ::gan::throw_error(__FILE__, __LINE__, gan_fail_os_.str()); \
  } while (0)

#define GAN_CHECK(cond, msg)                         \
  do {                                               \
    if (!(cond)) GAN_FAIL("check failed: " #cond ": " << msg); \
  } while (0)

// Input errors carry no source location: they are about the user's file or flag, and
// the message alone must say what is wrong with it.
#define GAN_INPUT_FAIL(msg)                  \
  do {                                       \
    std::ostringstream gan_in_os_;           \
    gan_in_os_ << msg;                       \
    throw ::gan::InputError(gan_in_os_.str()); \
  } while (0)
