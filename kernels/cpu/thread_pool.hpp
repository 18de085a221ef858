/*
 * thread_pool.hpp — a fixed team of worker threads that sleep between jobs.
 *
 * run(fn) calls fn(t) once for every t in [0, size()): t = 0 on the calling thread, the
 * others on the workers, and returns when all have returned. Which t runs where is fixed, so
 * an op that partitions its work by t does the same arithmetic on every run. Idle workers
 * block on a condition variable (no spinning, no yielding): a pool of N threads costs nothing
 * while the process waits, and leaves the cores to others on a shared machine.
 * An exception thrown by fn is rethrown by run() (the first one, after all have finished).
 * run() is not reentrant: fn must not call run() on the same pool.
 */
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace gan::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads >= 1; threads - 1 workers are started
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  template <typename Fn>
  void run(Fn&& fn) {
    if (size_ == 1) {
      fn(0);
      return;
    }
    run_job([](void* ctx, int t) { (*static_cast<Fn*>(ctx))(t); }, &fn);
  }

 private:
  using Job = void (*)(void*, int);
  void run_job(Job job, void* ctx);
  void worker(int t);
  void call(int t);

  int size_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  uint64_t generation_ = 0;  // bumped for every job
  int pending_ = 0;          // workers still running the current job
  bool stop_ = false;
  Job job_ = nullptr;
  void* ctx_ = nullptr;
  std::exception_ptr error_;
};

// The number of cores this process may run on (its CPU affinity mask), at least 1.
int available_cores();

}  // namespace gan::cpu
