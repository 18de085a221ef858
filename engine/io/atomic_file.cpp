/*
 * atomic_file.cpp — temporary file + fsync + rename + directory fsync, and plain reads.
 */
#include "engine/io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/base/error.hpp"

namespace gan {

namespace {

std::string parent_dir(const std::string& path) {
  const std::filesystem::path p(path);
  const auto parent = p.parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// A path that cannot be opened, created or replaced is bad input (exit status 2)...
[[noreturn]] void fail_io(const std::string& what, const std::string& path, int err) {
  GAN_INPUT_FAIL("cannot " << what << " " << path << ": " << std::strerror(err));
}

// ... while data that cannot be written to an open file (disk full, file too large, I/O
// error) is a runtime failure (exit status 1).
[[noreturn]] void fail_output(const std::string& what, const std::string& path, int err) {
  throw Error("cannot " + what + " " + path + ": " + std::strerror(err));
}

}  // namespace

void write_file_atomic(const std::string& path, const void* data, size_t bytes) {
  const std::string dir = parent_dir(path);
  std::string tmp = path + ".tmp.XXXXXX";
  std::vector<char> name(tmp.begin(), tmp.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) {
    const int err = errno;
    GAN_INPUT_FAIL("cannot write " << path << ": cannot create a file in " << dir << ": "
                                   << std::strerror(err));
  }
  tmp = name.data();
  auto abandon = [&](const char* what, int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    fail_output(what, path, err);
  };
  const char* p = static_cast<const char*>(data);
  size_t left = bytes;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon("write", errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0) abandon("set permissions of", errno);
  if (::fsync(fd) != 0) abandon("flush", errno);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail_output("close", path, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail_io("replace", path, err);
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {  // make the rename itself durable
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::vector<uint8_t> read_file(const std::string& path, size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail_io("open", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail_io("stat", path, err);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    GAN_INPUT_FAIL("cannot read " << path << ": it is a directory");
  }
  if (static_cast<unsigned long long>(st.st_size) > max_bytes) {
    ::close(fd);
    GAN_INPUT_FAIL("cannot read " << path << ": " << st.st_size << " bytes is more than the "
                                  << max_bytes << " allowed");
  }
  std::vector<uint8_t> out(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fail_io("read", path, err);
    }
    if (n == 0) break;  // file shrank while reading
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

void ensure_writable_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) GAN_INPUT_FAIL("cannot create directory " << dir << ": " << ec.message());
  if (!std::filesystem::is_directory(dir, ec))
    GAN_INPUT_FAIL("cannot use " << dir << " as output directory: it is not a directory");
  std::string probe = (std::filesystem::path(dir) / ".write-test.XXXXXX").string();
  std::vector<char> name(probe.begin(), probe.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) fail_io("write to directory", dir, errno);
  ::close(fd);
  ::unlink(name.data());
}

AppendFile::AppendFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) fail_io("open", path, errno);
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::write(const std::string& text) {
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_output("append to", path_, errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace gan
