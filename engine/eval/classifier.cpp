/*
 * classifier.cpp — layout, initialisation, training loop and inference of the digit MLP.
 */
#include "engine/eval/classifier.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "engine/backend_buffer.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"

namespace gan {

namespace {

constexpr int kMaxWidth = 1 << 16;
constexpr int kPredictChunk = 1024;  // rows per inference pass

// Counters and metrics in one allocation, as in the trainer.
struct ClassifierState {
  StepCounters counters;
  XentMetrics metrics;
};

}  // namespace

void ClassifierSpec::validate() const {
  if (image_h < 1 || image_w < 1 || static_cast<long long>(image_h) * image_w > kMaxWidth)
    GAN_INPUT_FAIL("classifier image size " << image_h << "x" << image_w << " is not supported");
  if (widths.empty()) GAN_INPUT_FAIL("the classifier needs at least one hidden layer");
  for (int w : widths)
    if (w < 1 || w > kMaxWidth)
      GAN_INPUT_FAIL("a classifier width must be between 1 and " << kMaxWidth << ", got " << w);
  if (classes < 2 || classes > 256)
    GAN_INPUT_FAIL("the classifier needs 2 to 256 classes, got " << classes);
}

bool ClassifierSpec::operator==(const ClassifierSpec& o) const {
  return image_h == o.image_h && image_w == o.image_w && widths == o.widths &&
         classes == o.classes;
}

NetLayout layout_classifier(const ClassifierSpec& s) {
  NetLayout net;
  int in = s.image_dim(), module = 0;
  auto add = [&](int out, Act act) {
    DenseDesc d;
    d.in = in;
    d.out = out;
    d.act = act;
    DenseOffsets off;
    const std::string lin = "net." + std::to_string(module);
    off.W = net.param_count;
    net.params.push_back(TensorEntry{lin + ".weight", {out, in}, net.param_count});
    net.param_count += static_cast<size_t>(out) * in;
    off.b = net.param_count;
    net.params.push_back(TensorEntry{lin + ".bias", {out}, net.param_count});
    net.param_count += static_cast<size_t>(out);
    net.layers.push_back(d);
    net.offsets.push_back(off);
    module += 2;  // Linear, ReLU
    in = out;
  };
  for (int w : s.widths) add(w, Act::ReLU);
  add(s.classes, Act::None);
  return net;
}

Dataset with_shifted_copies(const Dataset& d) {
  Dataset out;
  out.rows = d.rows;
  out.cols = d.cols;
  out.count = 5 * d.count;
  const size_t dim = static_cast<size_t>(d.dim());
  out.images.reserve(5 * d.images.size());
  out.images = d.images;
  for (int c = 0; c < 5; ++c) out.labels.insert(out.labels.end(), d.labels.begin(), d.labels.end());
  const int shifts[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
  for (const auto& s : shifts) {
    const size_t base = out.images.size();
    out.images.resize(base + d.images.size(), 0);
    for (int n = 0; n < d.count; ++n)
      for (int y = 0; y < d.rows; ++y)
        for (int x = 0; x < d.cols; ++x) {
          const int sx = x - s[0], sy = y - s[1];
          if (sx < 0 || sx >= d.cols || sy < 0 || sy >= d.rows) continue;
          out.images[base + n * dim + static_cast<size_t>(y) * d.cols + x] =
              d.images[n * dim + static_cast<size_t>(sy) * d.cols + sx];
        }
  }
  return out;
}

std::vector<float> images_to_float(const uint8_t* images, size_t count) {
  std::vector<float> out(count);
  for (size_t i = 0; i < count; ++i) out[i] = images[i] / 255.0f;
  return out;
}

float* Classifier::alloc_floats(size_t n) {
  void* p = be_.alloc(n * sizeof(float));
  owned_.push_back(p);
  return static_cast<float*>(p);
}

Classifier::Classifier(Backend& backend, const ClassifierSpec& spec)
    : be_(backend), spec_(spec) {
  spec_.validate();
  net_ = layout_classifier(spec_);
  params_ = alloc_floats(net_.param_count);
}

Classifier::~Classifier() {
  for (void* p : owned_) be_.free(p);
}

void Classifier::init_weights(uint64_t seed) {
  std::vector<float> p(net_.param_count);
  uint64_t tensor = 0;
  for (size_t l = 0; l < net_.layers.size(); ++l) {
    const DenseDesc& d = net_.layers[l];
    const DenseOffsets& o = net_.offsets[l];
    const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.in)));
    const std::pair<size_t, size_t> parts[] = {{o.W, size_t(d.out) * d.in}, {o.b, size_t(d.out)}};
    for (auto [offset, count] : parts) {
      const uint64_t stream = stream_id(Stream::Init, (uint64_t{2} << 16) | tensor++);
      for (size_t i = 0; i < count; ++i)
        p[offset + i] = (2.0f * philox_uniform(seed, stream, i) - 1.0f) * bound;
    }
  }
  set_params(p);
}

std::vector<float> Classifier::params() const {
  std::vector<float> p(net_.param_count);
  be_.download(p.data(), params_, p.size() * sizeof(float));
  return p;
}

void Classifier::set_params(const std::vector<float>& p) {
  GAN_CHECK(p.size() == net_.param_count, "classifier parameters: " << p.size() << " values, the "
                                              << "model has " << net_.param_count);
  be_.upload(params_, p.data(), p.size() * sizeof(float));
}

DenseParams Classifier::layer_params(size_t l) const {
  const DenseOffsets& o = net_.offsets[l];
  return DenseParams{params_ + o.W, params_ + o.b, nullptr, nullptr};
}

void Classifier::forward(Mode mode, int rows, const float* x, float* const* outs) {
  for (size_t l = 0; l < net_.layers.size(); ++l) {
    be_.dense_forward(net_.layers[l], mode, rows, x, layer_params(l), BnStats{}, DenseSaved{},
                      outs[l]);
    x = outs[l];
  }
}

namespace {

void check_data(const Dataset& data, const ClassifierSpec& s, const char* what) {
  if (data.rows != s.image_h || data.cols != s.image_w)
    GAN_INPUT_FAIL(what << " has " << data.rows << "x" << data.cols << " images but the "
                        << "classifier takes " << s.image_h << "x" << s.image_w);
  for (uint8_t y : data.labels)
    if (y >= s.classes)
      GAN_INPUT_FAIL(what << " holds label " << int(y) << " but the classifier has "
                          << s.classes << " classes");
}

}  // namespace

void Classifier::train(const Dataset& original, const ClassifierTraining& cfg,
                       const Progress& progress) {
  check_data(original, spec_, "the training data");
  const Dataset augmented = cfg.shift_augment ? with_shifted_copies(original) : Dataset{};
  const Dataset& data = cfg.shift_augment ? augmented : original;
  if (cfg.batch_size < 1 || cfg.batch_size > data.count)
    GAN_INPUT_FAIL("classifier batch size " << cfg.batch_size << " does not fit "
                                            << data.count << " training images");
  if (cfg.epochs < 0) GAN_INPUT_FAIL("classifier epochs must be >= 0, got " << cfg.epochs);
  const int B = cfg.batch_size, dim = spec_.image_dim();
  const size_t P = net_.param_count, L = net_.layers.size();
  const size_t widest = static_cast<size_t>(net_.max_width());
  BackendBuffer images(be_, data.images.size()), labels(be_, data.labels.size());
  BackendBuffer perm(be_, sizeof(int32_t) * data.count);
  BackendBuffer grads(be_, P * sizeof(float)), m(be_, P * sizeof(float)), v(be_, P * sizeof(float));
  BackendBuffer x(be_, static_cast<size_t>(B) * dim * sizeof(float));
  BackendBuffer y(be_, static_cast<size_t>(B) * sizeof(int32_t));
  BackendBuffer act(be_, L * static_cast<size_t>(B) * widest * sizeof(float));
  BackendBuffer dbuf(be_, 2 * static_cast<size_t>(B) * widest * sizeof(float));
  BackendBuffer state(be_, sizeof(ClassifierState));
  be_.upload(images.get(), data.images.data(), data.images.size());
  be_.upload(labels.get(), data.labels.data(), data.labels.size());
  auto* st = static_cast<ClassifierState*>(state.get());
  StepCounters* c = &st->counters;
  std::vector<float*> outs(L), d(2);
  for (size_t l = 0; l < L; ++l) outs[l] = act.f() + l * B * widest;
  d[0] = dbuf.f();
  d[1] = dbuf.f() + static_cast<size_t>(B) * widest;
  const int per_epoch = data.count / B;
  for (int epoch = 0; epoch < cfg.epochs; ++epoch) {
    be_.shuffle(perm.i32(), data.count, cfg.seed, static_cast<uint64_t>(epoch), c);
    double loss_sum = 0;
    long long correct = 0;
    for (int it = 0; it < per_epoch; ++it) {
      be_.gather_batch(x.f(), images.u8(), dim, perm.i32(), c, 0, B);
      be_.gather_labels(y.i32(), labels.u8(), perm.i32(), c, 0, B);
      forward(Mode::Train, B, x.f(), outs.data());
      be_.softmax_xent(B, spec_.classes, outs[L - 1], y.i32(), d[0], &st->metrics);
      int cur = 0;
      for (size_t l = L; l-- > 0;) {
        const DenseOffsets& o = net_.offsets[l];
        const float* in = l == 0 ? x.f() : outs[l - 1];
        float* dx = l > 0 ? d[1 - cur] : nullptr;
        be_.dense_backward(net_.layers[l], B, in, layer_params(l), DenseSaved{}, outs[l], d[cur],
                           DenseGrads{grads.f() + o.W, grads.f() + o.b, nullptr, nullptr}, dx);
        cur = 1 - cur;
      }
      be_.check_finite(grads.f(), P, &st->metrics.loss, Net::G, c);
      be_.adam(params_, grads.f(), m.f(), v.f(), P, cfg.adam, Net::G, c);
      be_.end_iteration(c, 1);
      XentMetrics host;
      be_.download(&host, &st->metrics, sizeof(host));
      loss_sum += host.loss;
      correct += host.correct;
    }
    if (progress)
      progress(epoch + 1, per_epoch ? loss_sum / per_epoch : 0.0,
               per_epoch ? double(correct) / (double(per_epoch) * B) : 0.0);
  }
}

double Classifier::accuracy(const Dataset& data) {
  check_data(data, spec_, "the evaluation data");
  if (data.count == 0) return 0.0;
  const int dim = spec_.image_dim(), chunk = std::min(kPredictChunk, data.count);
  const size_t widest = static_cast<size_t>(net_.max_width());
  BackendBuffer x(be_, static_cast<size_t>(chunk) * dim * sizeof(float));
  BackendBuffer y(be_, static_cast<size_t>(chunk) * sizeof(int32_t));
  BackendBuffer act(be_, 2 * static_cast<size_t>(chunk) * widest * sizeof(float));
  BackendBuffer met(be_, sizeof(XentMetrics));
  const size_t L = net_.layers.size();
  std::vector<float*> outs(L);
  for (size_t l = 0; l < L; ++l) outs[l] = act.f() + (l % 2) * chunk * widest;
  long long correct = 0;
  for (int first = 0; first < data.count; first += chunk) {
    const int rows = std::min(chunk, data.count - first);
    const std::vector<float> xf =
        images_to_float(data.images.data() + static_cast<size_t>(first) * dim,
                        static_cast<size_t>(rows) * dim);
    std::vector<int32_t> yl(data.labels.begin() + first, data.labels.begin() + first + rows);
    be_.upload(x.get(), xf.data(), xf.size() * sizeof(float));
    be_.upload(y.get(), yl.data(), yl.size() * sizeof(int32_t));
    forward(Mode::Eval, rows, x.f(), outs.data());
    auto* m = static_cast<XentMetrics*>(met.get());
    be_.softmax_xent(rows, spec_.classes, outs[L - 1], y.i32(), nullptr, m);
    XentMetrics host;
    be_.download(&host, m, sizeof(host));
    correct += host.correct;
  }
  return double(correct) / data.count;
}

void Classifier::predict(const float* images, int n, std::vector<float>* logits,
                         std::vector<float>* features) {
  GAN_CHECK(n >= 0, "negative image count");
  const int dim = spec_.image_dim(), C = spec_.classes, F = spec_.feature_dim();
  if (logits) logits->assign(static_cast<size_t>(n) * C, 0.0f);
  if (features) features->assign(static_cast<size_t>(n) * F, 0.0f);
  if (n == 0) return;
  const int chunk = std::min(kPredictChunk, n);
  const size_t widest = static_cast<size_t>(net_.max_width());
  const size_t L = net_.layers.size();
  BackendBuffer x(be_, static_cast<size_t>(chunk) * dim * sizeof(float));
  BackendBuffer act(be_, 2 * static_cast<size_t>(chunk) * widest * sizeof(float));
  std::vector<float*> outs(L);
  for (size_t l = 0; l < L; ++l) outs[l] = act.f() + (l % 2) * chunk * widest;
  for (int first = 0; first < n; first += chunk) {
    const int rows = std::min(chunk, n - first);
    be_.upload(x.get(), images + static_cast<size_t>(first) * dim,
               static_cast<size_t>(rows) * dim * sizeof(float));
    forward(Mode::Eval, rows, x.f(), outs.data());
    if (logits)
      be_.download(logits->data() + static_cast<size_t>(first) * C, outs[L - 1],
                   static_cast<size_t>(rows) * C * sizeof(float));
    if (features)
      be_.download(features->data() + static_cast<size_t>(first) * F, outs[L - 2],
                   static_cast<size_t>(rows) * F * sizeof(float));
  }
}

}  // namespace gan
