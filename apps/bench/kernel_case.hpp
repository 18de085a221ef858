/*
 * kernel_case.hpp — one case of `gan_cuda kernel-bench` (kernel_bench.hpp): the arrays of one
 * op call at one shape (initial contents, which are outputs and at what tolerance), the call
 * itself, and CaseBuffers, one backend copy of every array of a case.
 */
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/backend.hpp"

namespace gan::kbench {

enum class Elem : uint8_t { F32, I32, U8, I64 };

struct Tol {
  double atol = 0, rtol = 0;
};

struct Array {
  std::string name;
  Elem elem = Elem::F32;
  std::vector<uint8_t> host;  // initial contents
  bool output = false;        // compared with the reference after one call
  Tol tol;                    // for F32 outputs; integers must agree exactly
};

struct Case {
  std::string op, shape;
  double flops = 0, bytes = 0;
  std::vector<Array> arrays;
  // One call on `b`; ptr[i] is the backend copy of arrays[i].
  std::function<void(Backend& b, const std::vector<void*>& ptr)> issue;

  template <typename T>
  size_t add(const std::string& name, Elem e, const std::vector<T>& v, bool output = false,
             Tol tol = {}) {
    Array a;
    a.name = name;
    a.elem = e;
    a.host.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(a.host.data(), v.data(), a.host.size());
    a.output = output;
    a.tol = tol;
    arrays.push_back(std::move(a));
    return arrays.size() - 1;
  }
  size_t total_bytes() const {
    size_t n = 0;
    for (const Array& a : arrays) n += a.host.size();
    return n;
  }
};

// One backend copy of every array of a case, freed on destruction.
class CaseBuffers {
 public:
  CaseBuffers(Backend& b, const Case& c) : b_(b) {
    try {
      for (const Array& a : c.arrays) {
        ptr.push_back(b_.alloc(std::max<size_t>(a.host.size(), 4)));
        b_.upload(ptr.back(), a.host.data(), a.host.size());
      }
    } catch (...) {
      release();
      throw;
    }
  }
  ~CaseBuffers() { release(); }
  CaseBuffers(const CaseBuffers&) = delete;
  CaseBuffers& operator=(const CaseBuffers&) = delete;
  std::vector<uint8_t> download(const Case& c, size_t i) {
    std::vector<uint8_t> out(c.arrays[i].host.size());
    b_.download(out.data(), ptr[i], out.size());
    return out;
  }
  std::vector<void*> ptr;

 private:
  void release() noexcept {
    for (void* p : ptr) b_.free(p);
    ptr.clear();
  }
  Backend& b_;
};

}  // namespace gan::kbench
