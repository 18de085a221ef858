/*
 * backend_buffer.hpp — backend memory owned by a scope: allocated (zero-filled) on
 * construction, freed on destruction, so that an exception leaks nothing.
 */
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/backend.hpp"

namespace gan {

class BackendBuffer {
 public:
  BackendBuffer(Backend& be, size_t bytes) : be_(be), p_(be.alloc(bytes)) {}
  ~BackendBuffer() { be_.free(p_); }
  BackendBuffer(const BackendBuffer&) = delete;
  BackendBuffer& operator=(const BackendBuffer&) = delete;

  void* get() const { return p_; }
  float* f() const { return static_cast<float*>(p_); }
  int32_t* i32() const { return static_cast<int32_t*>(p_); }
  uint8_t* u8() const { return static_cast<uint8_t*>(p_); }

 private:
  Backend& be_;
  void* p_;
};

}  // namespace gan
