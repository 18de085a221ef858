/*
 * test_bench.cpp — the benchmark pieces on the CPU: the iteration's FLOP and byte counts
 * against hand counts, percentiles, the op-counting backend (counts and transparency),
 * Backend::time_ms, `gan_cuda bench` (its JSON, --serve protocol, --save-init, epoch
 * wrap-around, refusals) and kernel-bench's check against the reference (a backend with one
 * altered op must fail exactly the cases of that op).
 */
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "apps/app.hpp"
#include "apps/bench/kernel_bench.hpp"
#include "engine/checkpoint.hpp"
#include "apps/cli_options.hpp"
#include "apps/bench/counting_backend.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "apps/bench/iteration_cost.hpp"
#include "engine/eval/sample_stats.hpp"
#include "engine/trainer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "tests/support/process_runner.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;

// z 2 -> G [2->3 bn relu, 3->5 sigmoid]; D [5->4 leaky, 4->1]; images 1x5.
TrainConfig tiny_config(int batch, int d_steps = 1) {
  return test::small_train_config({2, {3}, {4}, 1, 5, batch}, 0, d_steps);
}

TrainConfig small_config() { return test::small_train_config({8, {16, 12}, {12, 10}, 4, 5, 6}); }

Dataset synthetic_data(int count, int rows, int cols) {
  return test::random_dataset(count, rows, cols, 5);
}

// A directory holding `count` random 28x28 training images as IDX files.
void write_mnist(const std::string& dir, int count) {
  const Dataset d = synthetic_data(count, 28, 28);
  write_idx(dir + "/train-images-idx3-ubyte", {uint32_t(count), 28, 28}, d.images.data());
  write_idx(dir + "/train-labels-idx1-ubyte", {uint32_t(count)}, d.labels.data());
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  REQUIRE(f.good());
  return nlohmann::json::parse(f);
}

TEST_CASE("iteration_cost matches a hand count of the products and bytes of a tiny model") {
  // F(G) = 2(2*3 + 3*5) = 42, F0(G) = 12, F(D) = 2(5*4 + 4*1) = 48, F0(D) = 40.
  // D step: B F(G) + 2B (3 F(D) - F0(D)) = 250 B;  G step: B (2 F(G) + 2 F(D)) + B (F(G) - F0(G))
  // = 210 B.
  const IterationCost c1 = iteration_cost(tiny_config(4));
  CHECK(c1.matmul_flops == doctest::Approx(460.0 * 4));
  const IterationCost c2 = iteration_cost(tiny_config(4, 2));
  CHECK(c2.matmul_flops == doctest::Approx(710.0 * 4));
  CHECK(c1.params[0] == 35);  // 6 + 3 + 3 + 3 + 15 + 5
  CHECK(c1.params[1] == 29);  // 20 + 4 + 4 + 1
  // Bytes: D step 269 B + 1124, G step 216 B + 1456 (see iteration_cost.hpp for the model).
  CHECK(c1.min_bytes == doctest::Approx(485.0 * 4 + 2580));
  CHECK(c2.min_bytes == doctest::Approx((2 * 269.0 + 216) * 4 + 2 * 1124 + 1456));
}

TEST_CASE("iteration_cost of the default model at batch 128") {
  TrainConfig c;
  c.batch_size = 128;
  const IterationCost cost = iteration_cost(c);
  // Weight products: G 1,499,136 and D 565,376 multiply-adds per row (biases excluded).
  const double g = 64 * 128 + 128 * 256 + 256 * 512 + 512 * 1024 + 1024 * 784;
  const double d = 784 * 512 + 512 * 256 + 256 * 128 + 128;
  const double B = 128;
  const double d_step = 2 * B * g + 2 * (2 * B) * (3 * d - 784 * 512);
  const double g_step = 2 * B * g + 2 * B * (2 * d) + 2 * B * g + 2 * B * (g - 64 * 128);
  CHECK(cost.matmul_flops == doctest::Approx(d_step + g_step));
  CHECK(cost.params[0] == 1505680);
  CHECK(cost.params[1] == 566273);
  CHECK(cost.min_bytes > 32.0 * (1505680 + 566273));
}

TEST_CASE("percentiles interpolate between the closest ranks like NumPy") {
  const std::vector<double> v = {5, 1, 9, 3, 7, 2.5, 8};
  CHECK(percentile(v, 10) == doctest::Approx(1.9));
  CHECK(percentile(v, 50) == doctest::Approx(5.0));
  CHECK(percentile(v, 90) == doctest::Approx(8.4));
  CHECK(percentile(v, 0) == 1.0);
  CHECK(percentile(v, 100) == 9.0);
  const SampleSummary s = summarize(v);
  CHECK(s.n == 7);
  CHECK(s.mean == doctest::Approx(35.5 / 7));
  CHECK(s.min == 1.0);
  CHECK(s.max == 9.0);
  CHECK(summarize({4.0}).p90 == 4.0);
  CHECK_THROWS_AS(percentile({}, 50), Error);
  CHECK_THROWS_AS(percentile(v, 101), Error);
  CHECK_THROWS_AS(summarize({}), Error);
}

TEST_CASE("CountingBackend counts the ops of one iteration and changes no result") {
  const TrainConfig cfg = small_config();
  const Dataset data = synthetic_data(60, 4, 5);
  auto plain = make_cpu_backend();
  auto inner = make_cpu_backend();
  CountingBackend counting(*inner);
  Trainer a(*plain, cfg), b(counting, cfg);
  for (Trainer* t : {&a, &b}) {
    t->set_data(data);
    t->init_weights();
  }
  counting.reset_counts();
  a.run_iteration();
  b.run_iteration();
  // 2 noise, G forward twice (3 layers), 1 gather, D hidden forward twice (2 layers), 2 heads,
  // backward: D hidden twice + G 3, 2 finite checks, 2 Adam, 1 end_iteration.
  CHECK(counting.ops() == 2 + 6 + 1 + 4 + 2 + 7 + 2 + 2 + 1);
  CHECK(counting.ops_by_name().at("dense_forward") == 10);
  CHECK(counting.ops_by_name().at("dense_backward") == 7);
  CHECK(counting.ops_by_name().count("shuffle") == 0);
  b.begin_epoch(1);
  CHECK(counting.ops_by_name().at("shuffle") == 1);
  a.begin_epoch(1);
  a.run_iteration();
  b.run_iteration();
  const TrainState sa = a.state(), sb = b.state();
  for (int q = 0; q < 2; ++q) {
    CHECK(sa.params[q] == sb.params[q]);
    CHECK(sa.adam_v[q] == sb.adam_v[q]);
  }
  CHECK(sa.bn_stats == sb.bn_stats);
  CHECK(counting.name() == "cpu");
  CHECK(counting.graph_kernel_count() == -1);
}

TEST_CASE("Backend::time_ms measures the work on the CPU backend") {
  auto be = make_cpu_backend();
  int calls = 0;
  const double ms = be->time_ms([&] {
    ++calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  });
  CHECK(calls == 1);
  CHECK(ms >= 19.0);
  CHECK(ms < 2000.0);
}

TEST_CASE("bench writes its timings, counts and costs as JSON") {
  test::TempDir dir("bench");
  write_mnist(dir.path(), 40);  // 5 iterations per epoch at batch 8: the blocks cross epochs
  BenchOptions opt;
  opt.data = dir.path();
  opt.device = "cpu";
  opt.batch = 8;
  opt.warmup = 1;
  opt.blocks = 3;
  opt.iters_per_block = 4;
  opt.json = dir / "bench.json";
  opt.save_init = dir / "init.safetensors";
  std::ostringstream out;
  std::istringstream in;
  REQUIRE(run_bench(opt, out, in) == 0);
  const nlohmann::json j = read_json(opt.json);
  CHECK(j["program"] == "gan_cuda");
  CHECK(j["variant"] == "graph");
  CHECK(j["graph_captured"] == false);
  CHECK(j["batch"] == 8);
  CHECK(j["precision"] == "fp32");
  CHECK(j["images"] == 40);
  CHECK(j["iters_per_epoch"] == 5);
  CHECK(j["block_ms"].size() == 3);
  CHECK(j["blocks"] == 3);
  CHECK(j["iterations_run"] == 1 + 1 + 3 * 4);
  CHECK(j["skipped"]["G"] == 0);
  CHECK(j["skipped"]["D"] == 0);
  CHECK(j["ops_per_iter"] == 37);  // the plain iteration: D step 16, G step 20, end 1
  CHECK(j["kernels_per_iter"].is_null());
  TrainConfig c;
  c.batch_size = 8;
  CHECK(j["flops_per_iter"].get<double>() == doctest::Approx(iteration_cost(c).matmul_flops));
  const double median = j["us_per_iter"]["median"];
  CHECK(median >= j["us_per_iter"]["min"].get<double>());
  CHECK(median <= j["us_per_iter"]["max"].get<double>());
  CHECK(j["us_per_iter"]["p10"].get<double>() <= median);
  CHECK(j["images_per_s"].get<double>() == doctest::Approx(8 * 1e6 / median));
  std::vector<double> us;
  for (double ms : j["block_ms"]) us.push_back(ms * 1000 / 4);
  CHECK(median == doctest::Approx(percentile(us, 50)));

  // --save-init holds the trainer's initial weights, without optimizer state.
  const Checkpoint ck = load_checkpoint(opt.save_init);
  CHECK_FALSE(ck.has_optimizer);
  auto be = make_cpu_backend();
  TrainConfig cfg = TrainConfig::plain();
  cfg.batch_size = 8;
  Trainer t(*be, cfg);
  t.set_data(load_mnist(dir.path(), Split::Train));
  t.init_weights();
  CHECK(ck.state.params[0] == t.state().params[0]);
  CHECK(ck.state.params[1] == t.state().params[1]);
}

TEST_CASE("bench --serve times one block per line and stops at quit") {
  test::TempDir dir("bench_serve");
  write_mnist(dir.path(), 24);
  BenchOptions opt;
  opt.data = dir.path();
  opt.device = "cpu";
  opt.batch = 8;
  opt.warmup = 0;
  opt.iters_per_block = 2;
  opt.no_graph = true;
  opt.serve = true;
  opt.json = dir / "serve.json";
  std::ostringstream out;
  std::istringstream in("block\nblock\nquit\nblock\n");
  REQUIRE(run_bench(opt, out, in) == 0);
  const std::string text = out.str();
  CHECK(text.find("READY cpu\n") != std::string::npos);
  size_t blocks = 0;
  for (size_t at = text.find("\nBLOCK "); at != std::string::npos;
       at = text.find("\nBLOCK ", at + 1))
    ++blocks;
  CHECK(blocks == 2);
  CHECK(text.find("DONE\n") != std::string::npos);
  const nlohmann::json j = read_json(opt.json);
  CHECK(j["variant"] == "eager");
  CHECK(j["blocks"] == 2);

  std::istringstream bad("block\nfaster\n");
  std::ostringstream out2;
  CHECK_THROWS_AS(run_bench(opt, out2, bad), InputError);
}

TEST_CASE("bench refuses a run with nowhere to write and a batch larger than the data") {
  test::TempDir dir("bench_refuse");
  write_mnist(dir.path(), 12);
  BenchOptions opt;
  opt.data = dir.path();
  opt.device = "cpu";
  opt.batch = 8;
  std::ostringstream out;
  std::istringstream in;
  CHECK_THROWS_WITH_AS(run_bench(opt, out, in), doctest::Contains("--json"), InputError);
  opt.json = dir / "b.json";
  opt.batch = 16;
  CHECK_THROWS_WITH_AS(run_bench(opt, out, in), doctest::Contains("--batch 16"), InputError);
  CHECK_FALSE(std::filesystem::exists(opt.json));
}

TEST_CASE("the bench and kernel-bench command lines") {
  const char* argv[] = {"gan_cuda", "bench",    "--batch",  "256",    "--blocks", "7",
                        "--iters-per-block", "9", "--no-graph", "--tf32", "--json", "x.json",
                        "--kernel", "adam=flat", "--serve"};
  const CliCommand c = parse_cli(static_cast<int>(std::size(argv)), argv, "data");
  CHECK(c.kind == CliCommand::Kind::Bench);
  CHECK(c.bench.batch == 256);
  CHECK(c.bench.blocks == 7);
  CHECK(c.bench.iters_per_block == 9);
  CHECK(c.bench.no_graph);
  CHECK(c.bench.tf32);
  CHECK(c.bench.serve);
  CHECK(c.bench.json == "x.json");
  CHECK(c.bench.data == "data");
  REQUIRE(c.bench.kernels.size() == 1);
  CHECK(c.bench.kernels[0].second == "flat");

  const char* kargv[] = {"gan_cuda", "kernel-bench", "--op", "adam", "--op", "noise",
                         "--repeats", "3"};
  const CliCommand k = parse_cli(static_cast<int>(std::size(kargv)), kargv, "data");
  CHECK(k.kind == CliCommand::Kind::KernelBench);
  CHECK(k.kernel_bench.ops == std::vector<std::string>{"adam", "noise"});
  CHECK(k.kernel_bench.repeats == 3);

  const char* bad[] = {"gan_cuda", "bench", "--batch", "1"};
  CHECK_THROWS_AS(parse_cli(4, bad, "data"), InputError);
  const char* bad_iters[] = {"gan_cuda", "bench", "--iters-per-block", "0"};
  CHECK_THROWS_AS(parse_cli(4, bad_iters, "data"), InputError);
}

KernelBenchSettings quick_settings() {
  KernelBenchSettings s;
  s.images = 64;
  s.repeats = 2;
  s.calls = 1;
  s.rotate_bytes = 0;
  return s;
}

TEST_CASE("kernel-bench runs every case of every op of the CPU backend, agreeing with itself, and times it") {
  auto be = make_cpu_backend();
  auto ref = make_cpu_reference_backend();
  const auto results = bench_kernels(*be, *ref, small_config(), quick_settings());
  std::map<std::string, int> per_op;
  std::map<std::string, std::set<std::string>> variants;
  for (const KernelCaseResult& r : results) {
    CHECK_MESSAGE(r.ok, r.op << " " << r.variant << " " << r.shape << ": " << r.check);
    CHECK(r.us.n == 2);
    CHECK(r.rotation == 1);
    variants[r.op].insert(r.variant);
    if (r.variant != "reference" || r.op == "d_head" || r.op == "shuffle" || r.op == "gather" ||
        r.op == "noise")
      ++per_op[r.op];  // the cases of one variant per op
  }
  // Every variant of every op with cases is run.
  CHECK(variants["dense_forward"] == std::set<std::string>{"fast", "reference"});
  CHECK(variants["adam"] == std::set<std::string>{"fast", "reference"});
  CHECK(variants["check_finite"] == std::set<std::string>{"threaded", "reference"});
  // G: 3 layers; D: 2 hidden layers on 2B and on B rows.
  CHECK(per_op["dense_forward"] == 3 + 2 * 2);
  CHECK(per_op["dense_backward"] == 3 + 2 + 2);
  CHECK(per_op["d_head"] == 2);
  CHECK(per_op["adam"] == 2);
  CHECK(per_op["check_finite"] == 2);
  CHECK(per_op["shuffle"] == 1);
  CHECK(per_op["gather"] == 1);
  CHECK(per_op["noise"] == 1);

  KernelBenchSettings s = quick_settings();
  s.ops = {"adam"};
  s.rotate_bytes = size_t(1) << 40;
  const auto adam = bench_kernels(*be, *ref, small_config(), s);
  REQUIRE(adam.size() == 2 * 2);  // two cases (G, D), two variants
  CHECK(adam[0].rotation == 1024);  // the cap
  s.ops = {"softmax"};
  CHECK_THROWS_WITH_AS(bench_kernels(*be, *ref, small_config(), s),
                       doctest::Contains("--op softmax"), InputError);
}

// The CPU backend with a wrong input gradient and a wrong shuffle.
class AlteredBackend : public CountingBackend {
 public:
  using CountingBackend::CountingBackend;
  void dense_backward(const DenseDesc& d, int rows, const float* x, DenseParams p, DenseSaved s,
                      const float* y, float* dy, DenseGrads g, float* dx) override {
    CountingBackend::dense_backward(d, rows, x, p, s, y, dy, g, dx);
    if (dx) dx[rows * d.in - 1] += 0.5f;
  }
  void shuffle(int32_t* perm, int n, uint64_t seed, uint64_t epoch, StepCounters* c) override {
    CountingBackend::shuffle(perm, n, seed, epoch, c);
    std::swap(perm[0], perm[n - 1]);
  }
};

// The CPU backend with one op's output off by 0.5 (an index flipped for integer outputs).
class OneOpOff : public CountingBackend {
 public:
  OneOpOff(Backend& inner, std::string op) : CountingBackend(inner), op_(std::move(op)) {}
  void dense_forward(const DenseDesc& d, Mode mode, int rows, const float* x, DenseParams p,
                     BnStats rs, DenseSaved s, float* y) override {
    CountingBackend::dense_forward(d, mode, rows, x, p, rs, s, y);
    if (op_ == "dense_forward") y[rows * d.out - 1] += 0.5f;
  }
  void dense_backward(const DenseDesc& d, int rows, const float* x, DenseParams p, DenseSaved s,
                      const float* y, float* dy, DenseGrads g, float* dx) override {
    CountingBackend::dense_backward(d, rows, x, p, s, y, dy, g, dx);
    if (op_ != "dense_backward") return;
    if (dx)
      dx[0] += 0.5f;
    else
      g.db[d.out - 1] += 0.5f;
  }
  void d_head(const DenseDesc& d, HeadMode mode, int n_real, int n_fake, const float* x,
              DenseParams p, DenseGrads g, float* dx, StepMetrics* m) override {
    CountingBackend::d_head(d, mode, n_real, n_fake, x, p, g, dx, m);
    if (op_ != "d_head") return;
    if (dx)
      dx[(n_real + n_fake) * d.in - 1] += 0.5f;
    else
      m->value += 0.5f;
  }
  void adam(float* params, const float* grads, float* m, float* v, size_t n,
            const AdamConfig& cfg, Net net, StepCounters* c) override {
    CountingBackend::adam(params, grads, m, v, n, cfg, net, c);
    if (op_ == "adam") params[n / 2] += 0.5f;
  }
  void check_finite(const float* grads, size_t n, const float* loss, Net net,
                    StepCounters* c) override {
    CountingBackend::check_finite(grads, n, loss, net, c);
    if (op_ == "check_finite") c->bad_now[static_cast<int>(net)] ^= 1;
  }
  void shuffle(int32_t* perm, int n, uint64_t seed, uint64_t epoch, StepCounters* c) override {
    CountingBackend::shuffle(perm, n, seed, epoch, c);
    if (op_ == "shuffle") std::swap(perm[n / 2], perm[n / 2 + 1]);
  }
  void gather_batch(float* out, const uint8_t* images, int dim, const int32_t* perm,
                    const StepCounters* c, int slot, int rows) override {
    CountingBackend::gather_batch(out, images, dim, perm, c, slot, rows);
    if (op_ == "gather") out[rows * dim - 1] += 0.5f;
  }
  void noise(float* out, size_t n, uint64_t seed, Stream purpose, const int64_t* counter,
             int64_t k_mul, int64_t k_add) override {
    CountingBackend::noise(out, n, seed, purpose, counter, k_mul, k_add);
    if (op_ == "noise") out[n - 1] += 0.5f;
  }

 private:
  std::string op_;
};

TEST_CASE("kernel-bench's check fails every case of an op whose output is off") {
  auto inner = make_cpu_backend();
  auto ref = make_cpu_backend();
  for (const char* op : {"dense_forward", "dense_backward", "d_head", "adam", "check_finite",
                         "shuffle", "gather", "noise"}) {
    CAPTURE(op);
    OneOpOff off(*inner, op);
    KernelBenchSettings s = quick_settings();
    s.ops = {op};
    const auto results = bench_kernels(off, *ref, small_config(), s);
    CHECK_FALSE(results.empty());
    for (const KernelCaseResult& r : results) {
      CHECK_MESSAGE(!r.ok, r.op << " " << r.shape << " passed its check");
      CHECK(r.op == op);
      CHECK(r.check.find("differ") != std::string::npos);
      CHECK(r.us.n == 0);  // not timed
    }
  }
}

TEST_CASE("kernel-bench reports the cases whose outputs disagree with the reference") {
  auto inner = make_cpu_backend();
  auto ref = make_cpu_reference_backend();
  AlteredBackend altered(*inner);
  const auto results = bench_kernels(altered, *ref, small_config(), quick_settings());
  int failed = 0;
  for (const KernelCaseResult& r : results) {
    const bool has_dx = r.op == "dense_backward" && r.shape.find("no dx") == std::string::npos;
    const bool should_fail = has_dx || r.op == "shuffle";
    CHECK_MESSAGE(r.ok == !should_fail, r.op << " " << r.shape << ": " << r.check);
    if (r.ok) continue;
    ++failed;
    CHECK(r.us.n == 0);  // not timed
    if (has_dx) CHECK(r.check.find("dx: 1 of ") == 0);
    if (r.op == "shuffle") CHECK(r.check.find("perm differs") == 0);
  }
  // G layers 1, 2; D layer 1 on 2B rows; D 0, 1 on B rows: for both dense_backward variants
  CHECK(failed == 2 * (2 + 1 + 2) + 1);
}

}  // namespace
