/*
 * cuda_backend.cu — CudaBackend: the Backend of engine/backend.hpp on one CUDA device.
 *
 * One non-blocking stream carries every op, copy and memset, in issue order. One cuBLAS
 * handle bound to that stream with a workspace set once (so that no allocation happens
 * inside a graph capture), FP32 math unless CudaOptions::tf32 (then TF32 tensor cores),
 * atomics disallowed (deterministic products). Memory: cudaMalloc + cudaMemsetAsync zero;
 * pinned host memory for asynchronous downloads, whose completion is one event.
 * Graphs: begin_capture/end_capture record everything issued in between on the stream
 * (thread-local capture mode) into a CudaGraph owned by the caller, which holds the
 * temporaries it may reach; abort_capture ends a failed capture without throwing.
 * The kernels of each op come from the registry (kernel_registry.hpp), those of the
 * evaluation ops (matmul, softmax_xent, gather_labels) from eval_ops.hpp; the training
 * options' ops (dropout, smoothed head, EMA) call their launchers in cuda_ops.hpp directly
 * (the smoothed head follows the d_head variant selected in the registry); NVTX ranges mark
 * each op and the engine's range_push/pop. time_ms() times work with two events on the
 * stream; memory_budget() is the device's free memory.
 */
#include "kernels/cuda/cuda_backend.hpp"

#include <cublas_v2.h>
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>
#include <nvtx3/nvToolsExt.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <sstream>
#include <vector>

#include "engine/base/error.hpp"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_context.cuh"
#include "kernels/cuda/eval_ops.hpp"
#include "kernels/cuda/kernel_registry.hpp"

namespace gan {
namespace {

using gpu::CudaCtx;

constexpr size_t kCublasWorkspace = size_t(32) << 20;  // cuBLAS's recommendation for Hopper
constexpr size_t kInitialScratch = size_t(4) << 20;    // per-op temporaries

class NvtxRange {
 public:
  explicit NvtxRange(const char* name) { nvtxRangePushA(name); }
  ~NvtxRange() { nvtxRangePop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

// An instantiated graph, replayed on the stream it was captured from. Holds the temporary
// buffers it may reach, so that growing them later never frees memory it reads.
class CudaGraph final : public CapturedGraph {
 public:
  CudaGraph(cudaGraphExec_t exec, cudaStream_t stream, long long kernels,
            std::vector<std::shared_ptr<void>> memory)
      : exec_(exec), stream_(stream), kernels_(kernels), memory_(std::move(memory)) {}
  ~CudaGraph() override {
    (void)cudaStreamSynchronize(stream_);  // a replay may still run
    (void)cudaGraphExecDestroy(exec_);
    memory_.clear();
    (void)cudaGetLastError();
  }
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;
  void replay() override { CUDA_CHECK(cudaGraphLaunch(exec_, stream_)); }
  long long kernel_count() const override { return kernels_; }

 private:
  cudaGraphExec_t exec_;
  cudaStream_t stream_;
  long long kernels_;
  std::vector<std::shared_ptr<void>> memory_;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaOptions& opt) {
    const int count = cuda_device_count();
    if (count == 0) GAN_INPUT_FAIL("no CUDA device is visible (check the driver and "
                                   "CUDA_VISIBLE_DEVICES)");
    if (opt.device < 0 || opt.device >= count)
      GAN_INPUT_FAIL("CUDA device " << opt.device << " does not exist: there "
                                    << (count == 1 ? "is " : "are ") << count
                                    << " CUDA device" << (count == 1 ? "" : "s") << " (0.."
                                    << count - 1 << ")");
    ctx_.device = opt.device;
    name_ = "cuda:" + std::to_string(opt.device) + " " + cuda_device_description(opt.device);
    try {
      CUDA_CHECK(cudaSetDevice(opt.device));
      CUDA_CHECK(cudaDeviceGetAttribute(&ctx_.num_sms, cudaDevAttrMultiProcessorCount,
                                        opt.device));
      CUDA_CHECK(cudaStreamCreateWithFlags(&ctx_.stream, cudaStreamNonBlocking));
      CUDA_CHECK(cudaEventCreate(&download_event_));  // timed: the read-back clock
      CUDA_CHECK(cudaEventCreate(&clock_mark_));
      CUDA_CHECK(cudaEventCreate(&timer_start_));
      CUDA_CHECK(cudaEventCreate(&timer_stop_));
      CUBLAS_CHECK(cublasCreate(&ctx_.blas));
      CUBLAS_CHECK(cublasSetStream(ctx_.blas, ctx_.stream));  // resets the workspace: first
      blas_workspace_ = gpu::cuda_malloc(kCublasWorkspace, "the cuBLAS workspace");
      CUBLAS_CHECK(cublasSetWorkspace(ctx_.blas, blas_workspace_, kCublasWorkspace));
      CUBLAS_CHECK(cublasSetMathMode(ctx_.blas, opt.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                         : CUBLAS_DEFAULT_MATH));
      CUBLAS_CHECK(cublasSetAtomicsMode(ctx_.blas, CUBLAS_ATOMICS_NOT_ALLOWED));
      CUBLAS_CHECK(cublasSetPointerMode(ctx_.blas, CUBLAS_POINTER_MODE_HOST));
      ctx_.fixed = static_cast<gpu::FixedState*>(alloc(sizeof(gpu::FixedState)));
      ctx_.scratch.get(kInitialScratch, ctx_.stream, "scratch memory");
      CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
    } catch (...) {
      release();
      throw;
    }
  }
  ~CudaBackend() override { release(); }
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override { return name_; }
  bool is_cuda() const override { return true; }

  // ---- memory ------------------------------------------------------------------
  void* alloc(size_t bytes) override {
    void* p = gpu::cuda_malloc(bytes, "device memory");
    const cudaError_t e = cudaMemsetAsync(p, 0, bytes, ctx_.stream);
    if (e != cudaSuccess) {
      (void)cudaFree(p);
      gpu::throw_cuda(__FILE__, __LINE__, "cudaMemsetAsync(zero-fill of an allocation)", e);
    }
    return p;
  }
  size_t memory_budget() const override {
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
      (void)cudaGetLastError();
      return SIZE_MAX;
    }
    return free_b;
  }
  void free(void* p) noexcept override {
    if (p && cudaFree(p) != cudaSuccess) (void)cudaGetLastError();
  }
  void* alloc_host(size_t bytes) override {
    void* p = nullptr;
    const cudaError_t e = cudaMallocHost(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      GAN_FAIL("cannot allocate " << bytes << " bytes of pinned host memory: "
                                  << cudaGetErrorString(e));
    }
    return p;
  }
  void free_host(void* p) noexcept override {
    if (p && cudaFreeHost(p) != cudaSuccess) (void)cudaGetLastError();
  }
  void upload(void* dst, const void* src, size_t bytes) override {
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx_.stream));
    CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));  // src may be freed when we return
  }
  void download(void* dst, const void* src, size_t bytes) override {
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx_.stream));
    CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  }
  void download_async(void* dst, const void* src, size_t bytes) override {
    if (bytes) CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx_.stream));
    CUDA_CHECK(cudaEventRecord(download_event_, ctx_.stream));
  }
  bool downloads_done() override {
    const cudaError_t e = cudaEventQuery(download_event_);
    if (e == cudaSuccess) return true;
    if (e == cudaErrorNotReady) {
      (void)cudaGetLastError();  // "not ready" is an answer, not an error
      return false;
    }
    gpu::throw_cuda(__FILE__, __LINE__, "cudaEventQuery(downloads)", e);
  }
  void wait_downloads() override { CUDA_CHECK(cudaEventSynchronize(download_event_)); }
  void mark_clock() override { CUDA_CHECK(cudaEventRecord(clock_mark_, ctx_.stream)); }
  double download_seconds() override {
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, clock_mark_, download_event_));
    return ms / 1000.0;
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes)
      CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx_.stream));
  }
  void synchronize() override { CUDA_CHECK(cudaStreamSynchronize(ctx_.stream)); }

  // ---- data --------------------------------------------------------------------
  void shuffle(int32_t* perm, int n, uint64_t seed, uint64_t epoch, StepCounters* c) override {
    NvtxRange r("shuffle");
    registry_.shuffle()(ctx_, perm, n, seed, epoch, c);
  }
  void gather_batch(float* out, const uint8_t* images, int dim, const int32_t* perm,
                    const StepCounters* c, int slot, int rows) override {
    NvtxRange r("gather_batch");
    registry_.gather()(ctx_, out, images, dim, perm, c, slot, rows);
  }
  void noise(float* out, size_t n, uint64_t seed, Stream purpose, const int64_t* counter,
             int64_t k_mul, int64_t k_add) override {
    NvtxRange r("noise");
    registry_.noise()(ctx_, out, n, seed, purpose, counter, k_mul, k_add);
  }

  // ---- layers ------------------------------------------------------------------
  void dense_forward(const DenseDesc& d, Mode mode, int rows, const float* x, DenseParams p,
                     BnStats rs, DenseSaved s, float* y) override {
    NvtxRange r("dense_forward");
    registry_.dense_forward()(ctx_, d, mode, rows, x, p, rs, s, y);
  }
  void dense_backward(const DenseDesc& d, int rows, const float* x, DenseParams p, DenseSaved s,
                      const float* y, float* dy, DenseGrads g, float* dx) override {
    NvtxRange r("dense_backward");
    registry_.dense_backward()(ctx_, d, rows, x, p, s, y, dy, g, dx);
  }
  void d_head(const DenseDesc& d, HeadMode mode, int n_real, int n_fake, const float* x,
              DenseParams p, DenseGrads g, float* dx, StepMetrics* m) override {
    NvtxRange r("d_head");
    registry_.d_head()(ctx_, d, mode, n_real, n_fake, x, p, g, dx, m);
  }

  // ---- training options ------------------------------------------------------------
  void dense_forward_dropout(const DenseDesc& d, int rows, const float* x, DenseParams p,
                             const DropoutMask& m, float* y) override {
    NvtxRange r("dense_forward_dropout");
    gpu::dense_forward_dropout_fused(ctx_, d, rows, x, p, m, y);
  }
  void dense_backward_dropout(const DenseDesc& d, int rows, const float* x, DenseParams p,
                              const DropoutMask& m, const float* y, float* dy, DenseGrads g,
                              float* dx) override {
    NvtxRange r("dense_backward_dropout");
    gpu::dense_backward_dropout_fused(ctx_, d, rows, x, p, m, y, dy, g, dx);
  }
  void d_head_smoothed(const DenseDesc& d, HeadMode mode, int n_real, int n_fake,
                       float real_label, const float* x, DenseParams p, DenseGrads g, float* dx,
                       StepMetrics* m) override {
    NvtxRange r("d_head_smoothed");
    if (registry_.selected("d_head") == "unfused")
      gpu::d_head_smoothed_unfused(ctx_, d, mode, n_real, n_fake, real_label, x, p, g, dx, m);
    else
      gpu::d_head_smoothed_fused(ctx_, d, mode, n_real, n_fake, real_label, x, p, g, dx, m);
  }
  void ema_update(float* ema, const float* src, size_t n, float* ema_stats, const float* stats,
                  size_t n_stats, float decay, const StepCounters* c) override {
    NvtxRange r("ema_update");
    gpu::ema_update_flat(ctx_, ema, src, n, ema_stats, stats, n_stats, decay, c);
  }

  // ---- optimizer -----------------------------------------------------------------
  void check_finite(const float* grads, size_t n, const float* loss, Net net,
                    StepCounters* c) override {
    NvtxRange r("check_finite");
    registry_.check_finite()(ctx_, grads, n, loss, net, c);
  }
  void adam(float* params, const float* grads, float* m, float* v, size_t n,
            const AdamConfig& cfg, Net net, StepCounters* c) override {
    NvtxRange r("adam");
    registry_.adam()(ctx_, params, grads, m, v, n, cfg, net, c);
  }
  void end_iteration(StepCounters* c, int d_steps) override {
    gpu::end_iteration_counters(ctx_, c, d_steps);
  }

  // ---- evaluation and the digit classifier (one kernel each, not in the registry) ----
  void matmul(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
              const float* B, float beta, float* C) override {
    NvtxRange r("matmul");
    gpu::matmul_fp32(ctx_, trans_a, trans_b, M, N, K, alpha, A, B, beta, C);
  }
  void softmax_xent(int rows, int classes, const float* logits, const int32_t* labels,
                    float* dlogits, XentMetrics* m) override {
    NvtxRange r("softmax_xent");
    gpu::softmax_xent_block(ctx_, rows, classes, logits, labels, dlogits, m);
  }
  void gather_labels(int32_t* out, const uint8_t* labels, const int32_t* perm,
                     const StepCounters* c, int slot, int rows) override {
    NvtxRange r("gather_labels");
    gpu::gather_labels_direct(ctx_, out, labels, perm, c, slot, rows);
  }

  // ---- graphs and profiling -----------------------------------------------------
  bool supports_graphs() const override { return true; }
  void begin_capture() override {
    GAN_CHECK(!capturing_, "begin_capture: a capture is already in progress");
    CUDA_CHECK(cudaStreamBeginCapture(ctx_.stream, cudaStreamCaptureModeThreadLocal));
    capturing_ = true;
  }
  std::unique_ptr<CapturedGraph> end_capture() override {
    GAN_CHECK(capturing_, "end_capture without begin_capture");
    capturing_ = false;
    cudaGraph_t graph = nullptr;
    CUDA_CHECK(cudaStreamEndCapture(ctx_.stream, &graph));
    long long kernels = 0;
    cudaGraphExec_t exec = nullptr;
    cudaError_t e = cudaSuccess;
    try {
      kernels = count_kernel_nodes(graph);
      e = cudaGraphInstantiate(&exec, graph, 0);
    } catch (...) {
      (void)cudaGraphDestroy(graph);
      throw;
    }
    (void)cudaGraphDestroy(graph);  // the instantiated graph does not need it
    if (e != cudaSuccess) gpu::throw_cuda(__FILE__, __LINE__, "cudaGraphInstantiate", e);
    graph_kernels_ = kernels;
    return std::make_unique<CudaGraph>(exec, ctx_.stream, kernels, ctx_.graph_memory());
  }
  void abort_capture() noexcept override {
    if (!capturing_) return;
    capturing_ = false;
    cudaGraph_t g = nullptr;  // null where the capture was invalidated
    if (cudaStreamEndCapture(ctx_.stream, &g) == cudaSuccess && g) (void)cudaGraphDestroy(g);
    (void)cudaGetLastError();  // clears what can be cleared; a sticky fault stays sticky
  }
  void range_push(const char* name) override { nvtxRangePushA(name); }
  void range_pop() override { nvtxRangePop(); }
  void profiler_start() override { CUDA_CHECK(cudaProfilerStart()); }
  void profiler_stop() override { CUDA_CHECK(cudaProfilerStop()); }
  long long graph_kernel_count() const override { return graph_kernels_; }

  // ---- timing ---------------------------------------------------------------------
  double time_ms(const std::function<void()>& work) override {
    CUDA_CHECK(cudaEventRecord(timer_start_, ctx_.stream));
    work();
    CUDA_CHECK(cudaEventRecord(timer_stop_, ctx_.stream));
    CUDA_CHECK(cudaEventSynchronize(timer_stop_));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, timer_start_, timer_stop_));
    return ms;
  }

  // ---- kernel variants ----------------------------------------------------------
  std::vector<OpVariants> kernel_variants() const override { return registry_.list(); }
  void select_kernel(const std::string& op, const std::string& variant) override {
    registry_.select(op, variant);
  }

 private:
  // Kernel nodes of a captured graph, child graphs included.
  static long long count_kernel_nodes(cudaGraph_t g) {
    size_t n = 0;
    CUDA_CHECK(cudaGraphGetNodes(g, nullptr, &n));
    std::vector<cudaGraphNode_t> nodes(n);
    if (n) CUDA_CHECK(cudaGraphGetNodes(g, nodes.data(), &n));
    long long kernels = 0;
    for (cudaGraphNode_t node : nodes) {
      cudaGraphNodeType type;
      CUDA_CHECK(cudaGraphNodeGetType(node, &type));
      if (type == cudaGraphNodeTypeKernel) {
        ++kernels;
      } else if (type == cudaGraphNodeTypeGraph) {
        cudaGraph_t child = nullptr;
        CUDA_CHECK(cudaGraphChildGraphNodeGetGraph(node, &child));
        kernels += count_kernel_nodes(child);
      }
    }
    return kernels;
  }
  // Frees everything; safe on a partly constructed backend. Errors are ignored (a failed
  // device cannot be helped here) and cleared.
  void release() noexcept {
    abort_capture();
    if (ctx_.stream) (void)cudaStreamSynchronize(ctx_.stream);
    ctx_.scratch.release();
    ctx_.sort_keys_in.release();
    ctx_.sort_keys_out.release();
    ctx_.sort_values_in.release();
    ctx_.sort_temp.release();
    if (ctx_.fixed) free(ctx_.fixed);
    ctx_.fixed = nullptr;
    if (ctx_.blas) (void)cublasDestroy(ctx_.blas);
    ctx_.blas = nullptr;
    if (blas_workspace_) (void)cudaFree(blas_workspace_);
    blas_workspace_ = nullptr;
    for (cudaEvent_t* e : {&download_event_, &clock_mark_, &timer_start_, &timer_stop_}) {
      if (*e) (void)cudaEventDestroy(*e);
      *e = nullptr;
    }
    if (ctx_.stream) (void)cudaStreamDestroy(ctx_.stream);
    ctx_.stream = nullptr;
    (void)cudaGetLastError();
  }

  CudaCtx ctx_;
  gpu::KernelRegistry registry_;
  std::string name_;
  void* blas_workspace_ = nullptr;
  cudaEvent_t download_event_ = nullptr;
  cudaEvent_t clock_mark_ = nullptr;  // mark_clock()'s point in the stream
  cudaEvent_t timer_start_ = nullptr, timer_stop_ = nullptr;
  bool capturing_ = false;
  long long graph_kernels_ = -1;  // of the graph captured last
};

}  // namespace

DeviceProbe probe_cuda_devices() {
  CudaRuntimeAnswer a;
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  a.ok = e == cudaSuccess;
  a.devices = a.ok ? n : 0;
  if (!a.ok) {
    a.error_name = cudaGetErrorName(e);
    a.error_text = cudaGetErrorString(e);
    a.error_is_no_device = e == cudaErrorNoDevice;
    a.error_is_old_driver = e == cudaErrorInsufficientDriver;
  }
  if (cudaDriverGetVersion(&a.driver_version) != cudaSuccess) a.driver_version = 0;
  if (cudaRuntimeGetVersion(&a.runtime_version) != cudaSuccess) a.runtime_version = 0;
  (void)cudaGetLastError();  // the answer is in `a`; leave no error behind
  return classify_cuda_answer(a);
}

int cuda_device_count() {
  const DeviceProbe p = probe_cuda_devices();
  if (p.failed()) GAN_FAIL("CUDA does not work on this machine: " << p.error);
  return p.devices;
}

std::string cuda_device_description(int device) {
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  const double gib = static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0);
  std::ostringstream os;
  os << prop.name << " (sm_" << prop.major << prop.minor << ", " << std::lround(gib) << " GiB)";
  return os.str();
}

std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& opt) {
  return std::make_unique<CudaBackend>(opt);
}

}  // namespace gan
