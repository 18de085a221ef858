/*
 * trainer.cpp — buffers, initialisation and the iteration of trainer.hpp.
 */
#include "engine/trainer.hpp"

#include <cmath>
#include <cstddef>
#include <cstring>
#include <sstream>
#include <string>

#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"

namespace gan {

namespace {

// Counters and metrics share one allocation so that one copy reads both back.
struct DeviceState {
  StepCounters counters;
  StepMetrics metrics;
};

int net_index(Net n) { return static_cast<int>(n); }

std::string widths_text(const std::vector<int>& w) {
  std::string s;
  for (size_t i = 0; i < w.size() && i < 8; ++i) s += (i ? "," : "") + std::to_string(w[i]);
  if (w.size() > 8) s += ",... (" + std::to_string(w.size()) + " layers)";
  return s;
}

// Refuses a model whose buffers cannot fit, before anything is allocated: a buffer of 2^31
// elements or more (kernels index with 32-bit integers), or more bytes in all than the
// backend's memory_budget(). The element counts mirror the allocations of the constructor.
void check_fits(const Backend& be, const TrainConfig& cfg, const NetLayout& g,
                const NetLayout& d) {
  const uint64_t B = static_cast<uint64_t>(cfg.batch_size);
  const uint64_t dim = static_cast<uint64_t>(cfg.spec.image_dim());
  const uint64_t widest = static_cast<uint64_t>(std::max(g.max_width(), d.max_width()));
  uint64_t largest = 0, floats = 0;
  auto buffer = [&](uint64_t count, uint64_t copies) {
    largest = std::max(largest, count);
    floats += count * copies;
  };
  for (const NetLayout* net : {&g, &d}) {
    buffer(net->param_count, 4);  // parameters, gradients, Adam m and v
    for (const DenseDesc& l : net->layers) buffer(static_cast<uint64_t>(l.out) * l.in, 0);
  }
  buffer(std::max<uint64_t>(g.stat_count, 1), 1);
  if (cfg.has_ema()) {
    buffer(g.param_count, 1);
    buffer(std::max<uint64_t>(g.stat_count, 1), 1);
  }
  buffer(B * static_cast<uint64_t>(cfg.spec.z_dim), 1);
  buffer(2 * B * dim, 1);
  for (size_t l = 0; l < g.layers.size(); ++l) {
    const uint64_t out = static_cast<uint64_t>(g.layers[l].out);
    if (l + 1 < g.layers.size()) buffer(B * out, 1);
    if (g.layers[l].batchnorm) {
      buffer(B * out, 1);  // saved z
      buffer(out, 2);      // saved mean, rstd
    }
  }
  for (size_t l = 0; l + 1 < d.layers.size(); ++l)
    buffer(2 * B * static_cast<uint64_t>(d.layers[l].out), 1);
  buffer(2 * B * widest, 2);
  const uint64_t bytes =
      floats * sizeof(float) + 2 * (sizeof(StepCounters) + sizeof(StepMetrics));
  const uint64_t budget = be.memory_budget();
  constexpr uint64_t kMaxElements = (uint64_t(1) << 31) - 1;
  if (largest <= kMaxElements && bytes <= budget) return;
  std::ostringstream what;
  what << "batch " << B << ", --g-widths " << widths_text(cfg.spec.g_widths) << ", --d-widths "
       << widths_text(cfg.spec.d_widths) << ", --z-dim " << cfg.spec.z_dim << ", images "
       << cfg.spec.image_h << "x" << cfg.spec.image_w;
  const double gib = double(uint64_t(1) << 30);
  if (largest > kMaxElements)
    GAN_INPUT_FAIL("the model does not fit (" << what.str() << "): one of its buffers would hold "
                   << largest << " values, more than the " << kMaxElements << " a buffer may "
                   << "hold; use a smaller --batch-size or narrower --g-widths/--d-widths");
  GAN_INPUT_FAIL("the model does not fit (" << what.str() << "): its buffers need "
                 << bytes / gib << " GiB but " << be.name() << " has " << budget / gib
                 << " GiB available; use a smaller --batch-size or narrower "
                 << "--g-widths/--d-widths");
}

}  // namespace

struct Trainer::Buffers {
  float* params[2] = {};
  float* grads[2] = {};
  float* m[2] = {};
  float* v[2] = {};
  float* bn_stats = nullptr;
  float* ema = nullptr;        // G's averaged parameters (--g-ema), G's arena layout
  float* ema_stats = nullptr;  // their BatchNorm running statistics
  DeviceState* state = nullptr;     // backend memory
  DeviceState* readback = nullptr;  // host memory fit for download_async
  uint8_t* images = nullptr;
  int32_t* perm = nullptr;
  float* z = nullptr;                // [B, z_dim]
  std::vector<float*> g_out;         // per G layer [B, out]; the last aliases d_in's fake rows
  std::vector<DenseSaved> g_saved;   // per G layer (BatchNorm layers only)
  float* d_in = nullptr;             // [2B, image_dim]: real rows then fake rows
  std::vector<float*> d_out;         // per D hidden layer [2B, out]
  float* dbuf[2] = {};               // ping-pong gradient buffers [2B, widest]
};

float* Trainer::alloc_floats(size_t n) {
  void* p = be_.alloc(n * sizeof(float));
  owned_.push_back(p);
  return static_cast<float*>(p);
}

Trainer::Trainer(Backend& backend, const TrainConfig& cfg, bool use_graph)
    : be_(backend), cfg_(cfg), use_graph_(use_graph), b_(std::make_unique<Buffers>()) {
  cfg_.validate();
  g_ = layout_generator(cfg_.spec);
  d_ = layout_discriminator(cfg_.spec);
  check_fits(be_, cfg_, g_, d_);
  const size_t B = static_cast<size_t>(cfg_.batch_size);
  const int dim = cfg_.spec.image_dim();
  try {
    for (Net n : {Net::G, Net::D}) {
      const int k = net_index(n);
      const size_t count = layout(n).param_count;
      b_->params[k] = alloc_floats(count);
      b_->grads[k] = alloc_floats(count);
      b_->m[k] = alloc_floats(count);
      b_->v[k] = alloc_floats(count);
    }
    b_->bn_stats = alloc_floats(std::max<size_t>(g_.stat_count, 1));
    if (cfg_.has_ema()) {
      b_->ema = alloc_floats(g_.param_count);
      b_->ema_stats = alloc_floats(std::max<size_t>(g_.stat_count, 1));
    }
    b_->state = static_cast<DeviceState*>(be_.alloc(sizeof(DeviceState)));
    owned_.push_back(b_->state);
    b_->readback = static_cast<DeviceState*>(be_.alloc_host(sizeof(DeviceState)));
    b_->z = alloc_floats(B * cfg_.spec.z_dim);
    b_->d_in = alloc_floats(2 * B * dim);
    for (size_t l = 0; l < g_.layers.size(); ++l) {
      const DenseDesc& d = g_.layers[l];
      const bool last = l + 1 == g_.layers.size();
      b_->g_out.push_back(last ? b_->d_in + B * dim : alloc_floats(B * d.out));
      DenseSaved s;
      if (d.batchnorm) {
        s.z = alloc_floats(B * d.out);
        s.mean = alloc_floats(d.out);
        s.rstd = alloc_floats(d.out);
      }
      b_->g_saved.push_back(s);
    }
    for (size_t l = 0; l + 1 < d_.layers.size(); ++l)
      b_->d_out.push_back(alloc_floats(2 * B * d_.layers[l].out));
    const int widest = std::max(g_.max_width(), d_.max_width());
    b_->dbuf[0] = alloc_floats(2 * B * widest);
    b_->dbuf[1] = alloc_floats(2 * B * widest);
  } catch (...) {
    for (void* p : owned_) be_.free(p);
    if (b_->readback) be_.free_host(b_->readback);
    throw;
  }
  StepCounters c;
  be_.upload(&b_->state->counters, &c, sizeof(c));
}

Trainer::~Trainer() {
  graph_.reset();  // before the memory it reads
  for (void* p : owned_) be_.free(p);
  if (b_ && b_->readback) be_.free_host(b_->readback);
}

void Trainer::set_data(const Dataset& train) {
  if (train.rows != cfg_.spec.image_h || train.cols != cfg_.spec.image_w)
    GAN_INPUT_FAIL("the data has " << train.rows << "x" << train.cols << " images but the model "
                                   << "expects " << cfg_.spec.image_h << "x"
                                   << cfg_.spec.image_w);
  const long long per_iter = static_cast<long long>(cfg_.batch_size) * cfg_.d_steps;
  if (train.count < per_iter)
    GAN_INPUT_FAIL("the training set has " << train.count << " images, fewer than one iteration "
                                           << "needs (batch size " << cfg_.batch_size << " x "
                                           << cfg_.d_steps << " D steps)");
  GAN_CHECK(!b_->images, "set_data() is called once per Trainer");
  b_->images = static_cast<uint8_t*>(be_.alloc(train.images.size()));
  owned_.push_back(b_->images);
  b_->perm = static_cast<int32_t*>(be_.alloc(sizeof(int32_t) * train.count));
  owned_.push_back(b_->perm);
  be_.upload(b_->images, train.images.data(), train.images.size());
  data_count_ = train.count;
}

int Trainer::iterations_per_epoch() const {
  return data_count_ / (cfg_.batch_size * cfg_.d_steps);
}

AdamConfig Trainer::adam_config(Net n) const {
  AdamConfig a = cfg_.adam(n);
  if (cfg_.has_lr_decay()) {
    const int64_t per_epoch = iterations_per_epoch();
    a.decay_start = per_epoch * cfg_.lr_decay_start;
    a.decay_end = per_epoch * cfg_.lr_decay_end;
  }
  return a;
}

void Trainer::init_weights() {
  TrainState s;
  for (Net n : {Net::G, Net::D}) {
    const int q = net_index(n);
    const NetLayout& net = layout(n);
    std::vector<float>& p = s.params[q];
    p.assign(net.param_count, 0.0f);
    uint64_t tensor = 0;  // tensor number in arena order: W, b[, gamma, beta] per layer
    for (size_t l = 0; l < net.layers.size(); ++l) {
      const DenseDesc& d = net.layers[l];
      const DenseOffsets& o = net.offsets[l];
      const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.in)));
      const std::pair<size_t, size_t> linear[] = {{o.W, size_t(d.out) * d.in}, {o.b, size_t(d.out)}};
      for (auto [offset, count] : linear) {
        const uint64_t stream = stream_id(Stream::Init, (static_cast<uint64_t>(q) << 16) | tensor++);
        for (size_t i = 0; i < count; ++i)
          p[offset + i] = (2.0f * philox_uniform(cfg_.seed, stream, i) - 1.0f) * bound;
      }
      if (d.batchnorm) {
        std::fill_n(p.begin() + o.gamma, d.out, 1.0f);  // beta stays 0
        tensor += 2;
      }
    }
    s.adam_m[q].assign(net.param_count, 0.0f);
    s.adam_v[q].assign(net.param_count, 0.0f);
  }
  s.bn_stats.assign(g_.stat_count, 0.0f);
  for (const DenseOffsets& o : g_.offsets)
    if (o.running_var >= 0)
      std::fill_n(s.bn_stats.begin() + o.running_var,
                  g_.layers[&o - g_.offsets.data()].out, 1.0f);
  s.counters = StepCounters{};
  s.epoch = 0;
  if (cfg_.has_ema()) {  // the average starts at the initial weights
    s.ema_params = s.params[0];
    s.ema_stats = s.bn_stats;
  }
  set_state(s);
}

void Trainer::begin_epoch(int64_t epoch) {
  GAN_CHECK(b_->images, "set_data() before begin_epoch()");
  epoch_ = epoch;
  be_.shuffle(b_->perm, data_count_, cfg_.seed, static_cast<uint64_t>(epoch), &b_->state->counters);
}

DenseParams Trainer::layer_params(Net n, size_t l, const float* arena) const {
  const DenseOffsets& o = layout(n).offsets[l];
  const float* P = arena ? arena : b_->params[net_index(n)];
  return DenseParams{P + o.W, P + o.b, o.gamma >= 0 ? P + o.gamma : nullptr,
                     o.beta >= 0 ? P + o.beta : nullptr};
}

DenseGrads Trainer::layer_grads(Net n, size_t l) const {
  const DenseOffsets& o = layout(n).offsets[l];
  float* G = b_->grads[net_index(n)];
  return DenseGrads{G + o.W, G + o.b, o.gamma >= 0 ? G + o.gamma : nullptr,
                    o.beta >= 0 ? G + o.beta : nullptr};
}

BnStats Trainer::g_stats(size_t l, float* arena) const {
  const DenseOffsets& o = g_.offsets[l];
  if (o.running_mean < 0) return BnStats{};
  float* S = arena ? arena : b_->bn_stats;
  return BnStats{S + o.running_mean, S + o.running_var};
}

void Trainer::g_forward(Mode mode, int rows, const float* z, float* const* outs) {
  const float* x = z;
  for (size_t l = 0; l < g_.layers.size(); ++l) {
    be_.dense_forward(g_.layers[l], mode, rows, x, layer_params(Net::G, l), g_stats(l),
                      mode == Mode::Train ? b_->g_saved[l] : DenseSaved{}, outs[l]);
    x = outs[l];
  }
}

void Trainer::enqueue_iteration() {
  const int B = cfg_.batch_size, k = cfg_.d_steps;
  const int dim = cfg_.spec.image_dim(), zd = cfg_.spec.z_dim;
  StepCounters* c = &b_->state->counters;
  StepMetrics* met = &b_->state->metrics;
  float* fake = b_->d_in + static_cast<size_t>(B) * dim;
  const size_t nd = d_.layers.size();
  auto d_params = [&](size_t l) { return layer_params(Net::D, l); };
  auto d_grads = [&](size_t l) { return layer_grads(Net::D, l); };
  // Dropout mask of D's hidden layer l in the pass of draw number iteration * (k+1) + j.
  const bool dropout = cfg_.d_dropout > 0.0f;
  auto mask = [&](size_t l, int j) {
    return DropoutMask{cfg_.d_dropout, cfg_.seed, &c->iteration, k + 1, j,
                       static_cast<uint32_t>(l)};
  };
  // D forward over `rows` rows starting at `in` (pass j); hidden outputs into d_out.
  auto d_forward = [&](int rows, const float* in, int j) {
    const float* x = in;
    for (size_t l = 0; l + 1 < nd; ++l) {
      if (dropout)
        be_.dense_forward_dropout(d_.layers[l], rows, x, d_params(l), mask(l, j), b_->d_out[l]);
      else
        be_.dense_forward(d_.layers[l], Mode::Train, rows, x, d_params(l), BnStats{},
                          DenseSaved{}, b_->d_out[l]);
      x = b_->d_out[l];
    }
    return x;
  };
  // D backward from dbuf[0] (gradient w.r.t. the head's input) of pass j; returns the buffer
  // that holds dL/d(input) when want_dx, else null.
  auto d_backward = [&](int rows, const float* in, int j, bool weights, bool want_dx) {
    int cur = 0;
    for (size_t l = nd - 1; l-- > 0;) {
      const float* x = l == 0 ? in : b_->d_out[l - 1];
      float* dx = (l > 0 || want_dx) ? b_->dbuf[1 - cur] : nullptr;
      const DenseGrads g = weights ? d_grads(l) : DenseGrads{};
      if (dropout)
        be_.dense_backward_dropout(d_.layers[l], rows, x, d_params(l), mask(l, j), b_->d_out[l],
                                   b_->dbuf[cur], g, dx);
      else
        be_.dense_backward(d_.layers[l], rows, x, d_params(l), DenseSaved{}, b_->d_out[l],
                           b_->dbuf[cur], g, dx);
      cur = 1 - cur;
    }
    return want_dx ? b_->dbuf[cur] : nullptr;
  };

  for (int j = 0; j < k; ++j) {
    ScopedRange range(be_, "D step");
    be_.noise(b_->z, static_cast<size_t>(B) * zd, cfg_.seed, Stream::Noise, &c->iteration, k + 1, j);
    g_forward(Mode::Train, B, b_->z, b_->g_out.data());
    be_.gather_batch(b_->d_in, b_->images, dim, b_->perm, c, j, B);
    const float* h = d_forward(2 * B, b_->d_in, j);
    if (cfg_.real_label == 1.0f)
      be_.d_head(d_.layers[nd - 1], HeadMode::DStep, B, B, h, d_params(nd - 1), d_grads(nd - 1),
                 b_->dbuf[0], met);
    else
      be_.d_head_smoothed(d_.layers[nd - 1], HeadMode::DStep, B, B, cfg_.real_label, h,
                          d_params(nd - 1), d_grads(nd - 1), b_->dbuf[0], met);
    d_backward(2 * B, b_->d_in, j, true, false);
    ScopedRange adam_range(be_, "Adam D");
    be_.check_finite(b_->grads[1], d_.param_count, &met->d_loss, Net::D, c);
    be_.adam(b_->params[1], b_->grads[1], b_->m[1], b_->v[1], d_.param_count,
             adam_config(Net::D), Net::D, c);
  }
  {
    ScopedRange range(be_, "G step");
    be_.noise(b_->z, static_cast<size_t>(B) * zd, cfg_.seed, Stream::Noise, &c->iteration, k + 1, k);
    g_forward(Mode::Train, B, b_->z, b_->g_out.data());
    const float* h = d_forward(B, fake, k);
    const HeadMode hm = cfg_.g_loss == GLoss::NonSaturating ? HeadMode::GNonSaturating
                                                            : HeadMode::GMinimax;
    be_.d_head(d_.layers[nd - 1], hm, 0, B, h, d_params(nd - 1), DenseGrads{}, b_->dbuf[0], met);
    float* dy = d_backward(B, fake, k, false, true);
    // G backward, from its output layer down.
    float* other = dy == b_->dbuf[0] ? b_->dbuf[1] : b_->dbuf[0];
    for (size_t l = g_.layers.size(); l-- > 0;) {
      const float* x = l == 0 ? b_->z : b_->g_out[l - 1];
      float* dx = l > 0 ? other : nullptr;
      be_.dense_backward(g_.layers[l], B, x, layer_params(Net::G, l), b_->g_saved[l],
                         b_->g_out[l], dy, layer_grads(Net::G, l), dx);
      std::swap(dy, other);
    }
    ScopedRange adam_range(be_, "Adam G");
    be_.check_finite(b_->grads[0], g_.param_count, &met->g_loss, Net::G, c);
    be_.adam(b_->params[0], b_->grads[0], b_->m[0], b_->v[0], g_.param_count,
             adam_config(Net::G), Net::G, c);
    if (cfg_.has_ema())
      be_.ema_update(b_->ema, b_->params[0], g_.param_count, b_->ema_stats, b_->bn_stats,
                     g_.stat_count, cfg_.g_ema, c);
  }
  be_.end_iteration(c, k);
}

void Trainer::run_iteration() {
  GAN_CHECK(b_->images, "set_data() before run_iteration()");
  if (!(use_graph_ && be_.supports_graphs())) {
    enqueue_iteration();
    return;
  }
  if (!graph_) {
    be_.begin_capture();
    try {
      enqueue_iteration();
    } catch (...) {
      be_.abort_capture();  // never throws: the error being reported stays the first one
      throw;
    }
    graph_ = be_.end_capture();
    GAN_CHECK(graph_, be_.name() << " supports graphs but returned none from a capture");
  }
  graph_->replay();
}

TrainState Trainer::state() const {
  TrainState s;
  for (Net n : {Net::G, Net::D}) {
    const int q = net_index(n);
    const size_t count = layout(n).param_count;
    for (auto [dst, src] : {std::pair{&s.params[q], b_->params[q]}, {&s.adam_m[q], b_->m[q]},
                            {&s.adam_v[q], b_->v[q]}}) {
      dst->resize(count);
      be_.download(dst->data(), src, count * sizeof(float));
    }
  }
  s.bn_stats.resize(g_.stat_count);
  be_.download(s.bn_stats.data(), b_->bn_stats, g_.stat_count * sizeof(float));
  if (cfg_.has_ema()) {
    s.ema_params.resize(g_.param_count);
    s.ema_stats.resize(g_.stat_count);
    be_.download(s.ema_params.data(), b_->ema, g_.param_count * sizeof(float));
    be_.download(s.ema_stats.data(), b_->ema_stats, g_.stat_count * sizeof(float));
  }
  be_.download(&s.counters, &b_->state->counters, sizeof(StepCounters));
  s.epoch = epoch_;
  s.data_count = data_count_;
  return s;
}

void Trainer::set_state(const TrainState& s) {
  for (Net n : {Net::G, Net::D}) {
    const int q = net_index(n);
    const size_t count = layout(n).param_count;
    GAN_CHECK(s.params[q].size() == count && s.adam_m[q].size() == count &&
                  s.adam_v[q].size() == count,
              "state of the wrong size for this model");
    be_.upload(b_->params[q], s.params[q].data(), count * sizeof(float));
    be_.upload(b_->m[q], s.adam_m[q].data(), count * sizeof(float));
    be_.upload(b_->v[q], s.adam_v[q].data(), count * sizeof(float));
  }
  GAN_CHECK(s.bn_stats.size() == g_.stat_count, "BatchNorm state of the wrong size");
  be_.upload(b_->bn_stats, s.bn_stats.data(), g_.stat_count * sizeof(float));
  if (cfg_.has_ema()) {
    GAN_CHECK(s.ema_params.size() == g_.param_count && s.ema_stats.size() == g_.stat_count,
              "the state has no weight average of the right size (--g-ema)");
    be_.upload(b_->ema, s.ema_params.data(), g_.param_count * sizeof(float));
    be_.upload(b_->ema_stats, s.ema_stats.data(), g_.stat_count * sizeof(float));
  }
  epoch_ = s.epoch;
  if (b_->images) {
    // The permutation is a function of (seed, epoch): rebuild it, then put the cursor back.
    be_.shuffle(b_->perm, data_count_, cfg_.seed, static_cast<uint64_t>(s.epoch),
                &b_->state->counters);
  }
  be_.upload(&b_->state->counters, &s.counters, sizeof(StepCounters));
}

StepCounters Trainer::counters() const {
  StepCounters c;
  be_.download(&c, &b_->state->counters, sizeof(c));
  return c;
}

StepMetrics Trainer::metrics() const {
  StepMetrics m;
  be_.download(&m, &b_->state->metrics, sizeof(m));
  return m;
}

void Trainer::request_readback() {
  be_.download_async(b_->readback, b_->state, sizeof(DeviceState));
}
bool Trainer::readback_ready() { return be_.downloads_done(); }
void Trainer::wait_readback() { be_.wait_downloads(); }
StepMetrics Trainer::readback_metrics() const { return b_->readback->metrics; }
StepCounters Trainer::readback_counters() const { return b_->readback->counters; }

std::vector<float> Trainer::grads(Net n) const {
  const int q = net_index(n);
  std::vector<float> out(layout(n).param_count);
  be_.download(out.data(), b_->grads[q], out.size() * sizeof(float));
  return out;
}

std::vector<float> Trainer::activation(Net n, int layer) const {
  const NetLayout& net = layout(n);
  GAN_CHECK(layer >= 0 && static_cast<size_t>(layer) < net.layers.size() - (n == Net::D ? 1 : 0),
            "no stored output for layer " << layer);
  const size_t B = static_cast<size_t>(cfg_.batch_size);
  const size_t count = B * net.layers[layer].out;
  const float* src = n == Net::G ? b_->g_out[layer] : b_->d_out[layer];
  std::vector<float> out(count);
  be_.download(out.data(), src, count * sizeof(float));
  return out;
}

std::vector<float> Trainer::generate(int n, Stream purpose, uint64_t index) {
  return generate(n, purpose, index, GenerateOptions{});
}

GenerateOptions Trainer::default_generate_options() const {
  GenerateOptions o;
  o.weights = cfg_.has_ema() ? SampleWeights::Ema : SampleWeights::Raw;
  o.bn = cfg_.sample_bn;
  o.bn_batch = cfg_.sample_chunk();
  return o;
}

std::vector<float> Trainer::generate(int n, Stream purpose, uint64_t index,
                                     const GenerateOptions& opt) {
  GAN_CHECK(n >= 0, "negative sample count");
  const bool ema = opt.weights == SampleWeights::Ema;
  if (ema && !cfg_.has_ema())
    GAN_INPUT_FAIL("this generator has no weight average (it was trained without --g-ema); "
                   "sample its raw weights instead");
  const bool bn_train = opt.bn == SampleBn::Train;
  if (bn_train && opt.bn_batch < 2)
    GAN_INPUT_FAIL("sampling with BatchNorm in training mode needs chunks of at least 2 rows, "
                   "got " << opt.bn_batch);
  const int dim = cfg_.spec.image_dim(), zd = cfg_.spec.z_dim;
  std::vector<float> out(static_cast<size_t>(n) * dim);
  if (n == 0) return out;
  ScopedRange range(be_, "sampling");
  // Eval mode: chunks of up to 1024 rows (the result does not depend on them). Train mode:
  // chunks of exactly bn_batch rows, the noise drawn for whole chunks (rows past n are
  // computed and dropped), so sample i depends only on its chunk floor(i / bn_batch).
  const int chunk = bn_train ? opt.bn_batch : std::min(n, 1024);
  const int chunks = (n + chunk - 1) / chunk;
  const size_t rows_drawn = bn_train ? static_cast<size_t>(chunks) * chunk : static_cast<size_t>(n);
  const Mode mode = bn_train ? Mode::Train : Mode::Eval;
  const float* P = ema ? b_->ema : b_->params[0];
  float* S = ema ? b_->ema_stats : b_->bn_stats;
  // Own buffers: the training buffers (and, in train mode, the running statistics) stay intact.
  std::vector<void*> tmp;
  auto alloc = [&](size_t count) {
    tmp.push_back(be_.alloc(count * sizeof(float)));
    return static_cast<float*>(tmp.back());
  };
  try {
    float* z = alloc(rows_drawn * zd);
    float* act[2] = {alloc(static_cast<size_t>(chunk) * g_.max_width()),
                     alloc(static_cast<size_t>(chunk) * g_.max_width())};
    std::vector<DenseSaved> saved(g_.layers.size());
    if (bn_train)
      for (size_t l = 0; l < g_.layers.size(); ++l)
        if (g_.layers[l].batchnorm) {
          const size_t w = static_cast<size_t>(g_.layers[l].out);
          saved[l] = DenseSaved{alloc(static_cast<size_t>(chunk) * w), alloc(w), alloc(w)};
        }
    be_.noise(z, rows_drawn * zd, cfg_.seed, purpose, nullptr, 0, static_cast<int64_t>(index));
    for (int start = 0; start < n; start += chunk) {
      const int rows = bn_train ? chunk : std::min(chunk, n - start);
      const float* x = z + static_cast<size_t>(start) * zd;
      for (size_t l = 0; l < g_.layers.size(); ++l) {
        // Train mode: batch statistics, running statistics untouched (null BnStats).
        const BnStats rs = bn_train ? BnStats{} : g_stats(l, S);
        be_.dense_forward(g_.layers[l], mode, rows, x, layer_params(Net::G, l, P), rs, saved[l],
                          act[l % 2]);
        x = act[l % 2];
      }
      const int keep = std::min(chunk, n - start);
      be_.download(out.data() + static_cast<size_t>(start) * dim, x,
                   static_cast<size_t>(keep) * dim * sizeof(float));
    }
  } catch (...) {
    for (void* p : tmp) be_.free(p);
    throw;
  }
  for (void* p : tmp) be_.free(p);
  return out;
}

}  // namespace gan
