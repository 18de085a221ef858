/*
 * ceilings.cu — the two ceilings the benchmarks compare against, measured on this GPU:
 *   copy:  device-to-device cudaMemcpyAsync of --copy-mib MiB; GB/s counts bytes read plus
 *          bytes written (2 x size per copy), the DRAM bandwidth an op streaming data gets;
 *   sgemm: cublasSgemm at --gemm-n cubed (C = A B, random data in [-1, 1]), in strict FP32
 *          (CUBLAS_PEDANTIC_MATH) and with TF32 tensor cores (CUBLAS_TF32_TENSOR_OP_MATH);
 *          TFLOP/s = 2 n^3 / time.
 * Each is timed with CUDA events, one event pair per call, after --warmup untimed calls;
 * the median and the 10th/90th percentiles of --reps calls are reported. Prints JSON (to
 * stdout, and to --json FILE) with the device, driver, runtime and cuBLAS versions.
 *
 * Usage: gan_ceilings [--json FILE] [--copy-mib 1024] [--gemm-n 8192] [--reps 20] [--warmup 3]
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace {

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  std::fprintf(stderr, "gan_ceilings: %s: %s\n", what, cudaGetErrorString(e));
  std::exit(1);
}
void check(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  std::fprintf(stderr, "gan_ceilings: %s: cuBLAS status %d\n", what, static_cast<int>(s));
  std::exit(1);
}

__global__ void fill_uniform(float* x, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x) {
    uint32_t h = static_cast<uint32_t>(i) * 0x9E3779B1u ^ seed;
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    x[i] = static_cast<float>(h) * (2.0f / 4294967296.0f) - 1.0f;
  }
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

// Milliseconds of each of `reps` calls of f on `s`, after `warmup` untimed ones.
std::vector<double> time_calls(cudaStream_t s, int warmup, int reps,
                               const std::function<void()>& f) {
  cudaEvent_t a, b;
  check(cudaEventCreate(&a), "cudaEventCreate");
  check(cudaEventCreate(&b), "cudaEventCreate");
  for (int i = 0; i < warmup; ++i) f();
  check(cudaStreamSynchronize(s), "warm-up");
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    check(cudaEventRecord(a, s), "cudaEventRecord");
    f();
    check(cudaEventRecord(b, s), "cudaEventRecord");
    check(cudaEventSynchronize(b), "cudaEventSynchronize");
    float t = 0;
    check(cudaEventElapsedTime(&t, a, b), "cudaEventElapsedTime");
    ms.push_back(t);
  }
  check(cudaEventDestroy(a), "cudaEventDestroy");
  check(cudaEventDestroy(b), "cudaEventDestroy");
  return ms;
}

// {"ms": {median, p10, p90}, "<unit>": {median, p10, p90}} where unit = work / seconds * scale.
std::string stats_json(const std::vector<double>& ms, double work, const char* unit) {
  std::ostringstream os;
  os.precision(8);
  const double med = percentile(ms, 50), p10 = percentile(ms, 10), p90 = percentile(ms, 90);
  os << "{\"ms\": {\"median\": " << med << ", \"p10\": " << p10 << ", \"p90\": " << p90
     << "}, \"" << unit << "\": {\"median\": " << work / (med * 1e-3) << ", \"p10\": "
     << work / (p90 * 1e-3) << ", \"p90\": " << work / (p10 * 1e-3) << "}, \"reps\": "
     << ms.size() << "}";
  return os.str();
}

std::string version_string(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  size_t copy_mib = 1024;
  int n = 8192, reps = 20, warmup = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gan_ceilings: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    auto positive = [&](const std::string& v) {
      char* end = nullptr;
      const long long x = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end || x <= 0) {
        std::fprintf(stderr, "gan_ceilings: %s expects a positive integer, got '%s'\n",
                     a.c_str(), v.c_str());
        std::exit(2);
      }
      return x;
    };
    if (a == "--json") json_path = value();
    else if (a == "--copy-mib") copy_mib = static_cast<size_t>(positive(value()));
    else if (a == "--gemm-n") n = static_cast<int>(positive(value()));
    else if (a == "--reps") reps = static_cast<int>(positive(value()));
    else if (a == "--warmup") warmup = static_cast<int>(positive(value()));
    else {
      std::fprintf(stderr,
                   "usage: gan_ceilings [--json FILE] [--copy-mib MIB] [--gemm-n N] [--reps R] "
                   "[--warmup W]\n");
      return 2;
    }
  }

  int device = 0, driver = 0, runtime = 0, blas_version = 0;
  check(cudaGetDevice(&device), "cudaGetDevice (is there a CUDA device?)");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  check(cudaDriverGetVersion(&driver), "cudaDriverGetVersion");
  check(cudaRuntimeGetVersion(&runtime), "cudaRuntimeGetVersion");
  cudaStream_t s;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  cublasHandle_t h;
  check(cublasCreate(&h), "cublasCreate");
  check(cublasGetVersion(h, &blas_version), "cublasGetVersion");
  check(cublasSetStream(h, s), "cublasSetStream");

  // ---- copy bandwidth ------------------------------------------------------------------
  const size_t bytes = copy_mib << 20;
  void *src = nullptr, *dst = nullptr;
  check(cudaMalloc(&src, bytes), "cudaMalloc (copy source)");
  check(cudaMalloc(&dst, bytes), "cudaMalloc (copy destination)");
  check(cudaMemsetAsync(src, 1, bytes, s), "cudaMemset");
  const std::vector<double> copy_ms = time_calls(s, warmup, reps, [&] {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s), "cudaMemcpyAsync");
  });
  check(cudaFree(src), "cudaFree");
  check(cudaFree(dst), "cudaFree");

  // ---- SGEMM ---------------------------------------------------------------------------
  const size_t elems = size_t(n) * n;
  float *A = nullptr, *B = nullptr, *C = nullptr;
  check(cudaMalloc(&A, elems * 4), "cudaMalloc (A)");
  check(cudaMalloc(&B, elems * 4), "cudaMalloc (B)");
  check(cudaMalloc(&C, elems * 4), "cudaMalloc (C)");
  fill_uniform<<<1024, 256, 0, s>>>(A, elems, 1u);
  fill_uniform<<<1024, 256, 0, s>>>(B, elems, 2u);
  check(cudaGetLastError(), "fill_uniform");
  const float one = 1.0f, zero = 0.0f;
  auto gemm = [&] {
    check(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, A, n, B, n, &zero, C, n),
          "cublasSgemm");
  };
  check(cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode(pedantic)");
  const std::vector<double> fp32_ms = time_calls(s, warmup, reps, gemm);
  check(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH), "cublasSetMathMode(TF32)");
  const std::vector<double> tf32_ms = time_calls(s, warmup, reps, gemm);
  check(cudaFree(A), "cudaFree");
  check(cudaFree(B), "cudaFree");
  check(cudaFree(C), "cudaFree");
  check(cublasDestroy(h), "cublasDestroy");
  check(cudaStreamDestroy(s), "cudaStreamDestroy");

  const double flops = 2.0 * double(n) * n * n;
  std::ostringstream os;
  os << "{\n \"program\": \"gan_ceilings\",\n"
     << " \"gpu\": \"" << prop.name << "\",\n"
     << " \"sm\": \"sm_" << prop.major << prop.minor << "\",\n"
     << " \"multiprocessors\": " << prop.multiProcessorCount << ",\n"
     << " \"l2_bytes\": " << prop.l2CacheSize << ",\n"
     << " \"memory_bytes\": " << prop.totalGlobalMem << ",\n"
     << " \"cuda_driver_api\": \"" << version_string(driver) << "\",\n"
     << " \"cuda_runtime\": \"" << version_string(runtime) << "\",\n"
     << " \"cublas\": " << blas_version << ",\n"
     << " \"copy\": {\"bytes\": " << bytes << ", \"result\": "
     << stats_json(copy_ms, 2.0 * double(bytes) * 1e-9, "gb_per_s") << "},\n"
     << " \"sgemm_fp32\": {\"n\": " << n << ", \"math\": \"CUBLAS_PEDANTIC_MATH\", \"result\": "
     << stats_json(fp32_ms, flops * 1e-12, "tflop_per_s") << "},\n"
     << " \"sgemm_tf32\": {\"n\": " << n
     << ", \"math\": \"CUBLAS_TF32_TENSOR_OP_MATH\", \"result\": "
     << stats_json(tf32_ms, flops * 1e-12, "tflop_per_s") << "}\n}\n";
  std::fputs(os.str().c_str(), stdout);
  if (!json_path.empty()) {
    std::ofstream f(json_path);
    f << os.str();
    if (!f) {
      std::fprintf(stderr, "gan_ceilings: cannot write %s\n", json_path.c_str());
      return 1;
    }
  }
  return 0;
}
