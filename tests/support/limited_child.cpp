/*
 * limited_child.cpp — run_in_child: fork, run the code, report how it ended through the exit
 * status; run_in_limited_child: the same with RLIMIT_AS at the parent's address space plus a
 * margin.
 */
#include "tests/support/limited_child.hpp"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <new>

#include "engine/base/error.hpp"

namespace gan::test {

namespace {

// Bytes of address space this process holds now (the first field of /proc/self/statm).
size_t address_space_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0;
  statm >> pages;
  REQUIRE(pages > 0);
  return pages * size_t(::sysconf(_SC_PAGESIZE));
}

}  // namespace

int run_in_child(const std::function<int()>& f) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 126;
    try {
      code = f();
    } catch (...) {
    }
    ::_exit(code);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int run_in_limited_child(const std::function<void()>& f, const std::string& want, size_t extra) {
  const size_t limit = address_space_bytes() + extra;
  return run_in_child([&] {
    const rlimit lim{limit, limit};
    if (::setrlimit(RLIMIT_AS, &lim) != 0) return 6;
    try {
      f();
    } catch (const InputError& e) {
      return std::string(e.what()).find(want) != std::string::npos ? 0 : 1;
    } catch (const std::bad_alloc&) {
      return 3;
    } catch (...) {
      return 4;
    }
    return 5;
  });
}

}  // namespace gan::test
