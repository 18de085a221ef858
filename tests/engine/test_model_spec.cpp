/*
 * test_model_spec.cpp — ModelSpec validation and the arena layouts of G and D.
 *
 * Parameter counts of the default networks computed by hand, PyTorch state_dict names and
 * shapes, contiguous offsets shared by params and DenseOffsets, a small custom spec laid out
 * by hand, and every validate() error.
 */
#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

#include "engine/base/error.hpp"
#include "engine/model_spec.hpp"

namespace {

using gan::Act;
using gan::ModelSpec;
using gan::NetLayout;
using gan::TensorEntry;
using Shape = std::vector<int64_t>;

const TensorEntry* find(const std::vector<TensorEntry>& v, const std::string& name) {
  for (const TensorEntry& e : v)
    if (e.name == name) return &e;
  return nullptr;
}

// Entries are back to back, in order, and add up to `total`.
void check_contiguous(const std::vector<TensorEntry>& v, size_t total) {
  size_t at = 0;
  for (const TensorEntry& e : v) {
    INFO(e.name);
    CHECK(e.offset == at);
    at += e.numel();
  }
  CHECK(at == total);
}

// DenseOffsets agree with the named entries.
void check_offsets(const NetLayout& net) {
  REQUIRE(net.offsets.size() == net.layers.size());
  size_t p = 0, b = 0;
  for (size_t i = 0; i < net.layers.size(); ++i) {
    INFO("layer " << i);
    CHECK(net.offsets[i].W == net.params[p++].offset);
    CHECK(net.offsets[i].b == net.params[p++].offset);
    if (net.layers[i].batchnorm) {
      CHECK(net.offsets[i].gamma == (long long)net.params[p++].offset);
      CHECK(net.offsets[i].beta == (long long)net.params[p++].offset);
      CHECK(net.offsets[i].running_mean == (long long)net.buffers[b++].offset);
      CHECK(net.offsets[i].running_var == (long long)net.buffers[b++].offset);
    } else {
      CHECK(net.offsets[i].gamma == -1);
      CHECK(net.offsets[i].beta == -1);
      CHECK(net.offsets[i].running_mean == -1);
      CHECK(net.offsets[i].running_var == -1);
    }
  }
  CHECK(p == net.params.size());
  CHECK(b == net.buffers.size());
}

}  // namespace

TEST_CASE("model spec: the default generator's layout, names and counts") {
  const ModelSpec s;
  CHECK_NOTHROW(s.validate());
  const NetLayout g = gan::layout_generator(s);
  // Linear + BN per hidden layer: in*out + out + 2 out.
  //   64->128: 8192 + 128 + 256 = 8576        128->256: 32768 + 256 + 512 = 33536
  //   256->512: 131072 + 512 + 1024 = 132608  512->1024: 524288 + 1024 + 2048 = 527360
  //   1024->784 (Linear, Sigmoid): 802816 + 784 = 803600
  CHECK(g.param_count == 8576 + 33536 + 132608 + 527360 + 803600);
  CHECK(g.param_count == 1505680);
  CHECK(g.stat_count == 2 * (128 + 256 + 512 + 1024));
  CHECK(g.max_width() == 1024);
  REQUIRE(g.layers.size() == 5);
  const int ins[] = {64, 128, 256, 512, 1024}, outs[] = {128, 256, 512, 1024, 784};
  for (int i = 0; i < 5; ++i) {
    INFO("layer " << i);
    CHECK(g.layers[i].in == ins[i]);
    CHECK(g.layers[i].out == outs[i]);
    CHECK(g.layers[i].batchnorm == (i < 4));
    CHECK(g.layers[i].act == (i < 4 ? Act::ReLU : Act::Sigmoid));
    CHECK(g.layers[i].bn_eps == s.bn_eps);
    CHECK(g.layers[i].bn_momentum == s.bn_momentum);
  }
  REQUIRE(g.params.size() == 4 * 4 + 2);
  CHECK(g.params[0].name == "net.0.weight");
  CHECK(g.params[0].shape == Shape{128, 64});
  CHECK(g.params[1].name == "net.0.bias");
  CHECK(g.params[2].name == "net.1.weight");  // BatchNorm gamma
  CHECK(g.params[3].name == "net.1.bias");    // BatchNorm beta
  CHECK(g.params[4].name == "net.3.weight");
  CHECK(g.params.back().name == "net.12.bias");
  const TensorEntry* out_w = find(g.params, "net.12.weight");
  REQUIRE(out_w != nullptr);
  CHECK(out_w->shape == Shape{784, 1024});
  CHECK(out_w->offset == 8576 + 33536 + 132608 + 527360);
  CHECK(find(g.params, "net.10.weight")->shape == Shape{1024});
  CHECK(find(g.params, "net.2.weight") == nullptr);  // ReLU has no parameters
  REQUIRE(g.buffers.size() == 8);
  CHECK(g.buffers[0].name == "net.1.running_mean");
  CHECK(g.buffers[1].name == "net.1.running_var");
  CHECK(g.buffers[7].name == "net.10.running_var");
  CHECK(g.buffers[7].shape == Shape{1024});
  CHECK(g.bn_modules == std::vector<std::string>{"net.1", "net.4", "net.7", "net.10"});
  check_contiguous(g.params, g.param_count);
  check_contiguous(g.buffers, g.stat_count);
  check_offsets(g);
}

TEST_CASE("model spec: the default discriminator's layout, names and counts") {
  const NetLayout d = gan::layout_discriminator(ModelSpec{});
  //   784->512: 401408 + 512   512->256: 131072 + 256   256->128: 32768 + 128   128->1: 128 + 1
  CHECK(d.param_count == 401920 + 131328 + 32896 + 129);
  CHECK(d.param_count == 566273);
  CHECK(d.stat_count == 0);
  CHECK(d.buffers.empty());
  CHECK(d.bn_modules.empty());
  CHECK(d.max_width() == 784);
  REQUIRE(d.layers.size() == 4);
  for (int i = 0; i < 3; ++i) {
    INFO("layer " << i);
    CHECK(d.layers[i].act == Act::LeakyReLU);
    CHECK(d.layers[i].slope == 0.2f);
    CHECK_FALSE(d.layers[i].batchnorm);
  }
  CHECK(d.layers[3].out == 1);
  CHECK(d.layers[3].in == 128);
  CHECK(d.layers[3].act == Act::None);
  REQUIRE(d.params.size() == 8);
  const char* names[] = {"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias",
                         "net.4.weight", "net.4.bias", "net.6.weight", "net.6.bias"};
  for (int i = 0; i < 8; ++i) CHECK(d.params[i].name == names[i]);
  CHECK(d.params[0].shape == Shape{512, 784});
  CHECK(d.params[6].shape == Shape{1, 128});
  CHECK(d.params[6].offset == 401920 + 131328 + 32896);
  CHECK(d.params[7].shape == Shape{1});
  check_contiguous(d.params, d.param_count);
  check_offsets(d);
}

TEST_CASE("model spec: a small custom spec is laid out as computed by hand") {
  ModelSpec s;
  s.z_dim = 3;
  s.g_widths = {5};
  s.d_widths = {4, 2};
  s.image_h = 2;
  s.image_w = 3;
  s.leaky_slope = 0.1f;
  s.bn_eps = 1e-3f;
  s.bn_momentum = 0.25f;
  CHECK_NOTHROW(s.validate());
  const NetLayout g = gan::layout_generator(s);
  // net.0.weight [5,3] @0, net.0.bias @15, net.1.weight @20, net.1.bias @25,
  // net.3.weight [6,5] @30, net.3.bias @60; 66 in all. Stats: mean @0, var @5.
  REQUIRE(g.params.size() == 6);
  const size_t offs[] = {0, 15, 20, 25, 30, 60};
  for (int i = 0; i < 6; ++i) CHECK(g.params[i].offset == offs[i]);
  CHECK(g.params[4].name == "net.3.weight");
  CHECK(g.params[4].shape == Shape{6, 5});
  CHECK(g.param_count == 66);
  CHECK(g.stat_count == 10);
  CHECK(g.offsets[0].running_var == 5);
  CHECK(g.layers[0].bn_eps == 1e-3f);
  CHECK(g.layers[0].bn_momentum == 0.25f);
  const NetLayout d = gan::layout_discriminator(s);
  // net.0 [4,6] @0 + 4, net.2 [2,4] @28 + 2, net.4 [1,2] @38 + 1: 41 in all.
  CHECK(d.param_count == 41);
  CHECK(d.params[2].offset == 28);
  CHECK(d.params[4].name == "net.4.weight");
  CHECK(d.params[4].offset == 38);
  CHECK(d.layers[0].slope == 0.1f);
  CHECK(d.max_width() == 6);
  CHECK(g.max_width() == 6);
}

TEST_CASE("model spec: validate() names each out-of-range field") {
  auto refused = [](void (*edit)(ModelSpec&), const char* needle) {
    ModelSpec s;
    edit(s);
    INFO("expecting: " << std::string(needle));
    CHECK_THROWS_WITH_AS(s.validate(), doctest::Contains(needle), gan::InputError);
  };
  refused([](ModelSpec& s) { s.z_dim = 0; }, "--z-dim");
  refused([](ModelSpec& s) { s.z_dim = -4; }, "--z-dim");
  refused([](ModelSpec& s) { s.z_dim = 65537; }, "--z-dim");
  refused([](ModelSpec& s) { s.g_widths.clear(); }, "generator needs at least one");
  refused([](ModelSpec& s) { s.d_widths.clear(); }, "discriminator needs at least one");
  refused([](ModelSpec& s) { s.g_widths[2] = 0; }, "a generator width");
  refused([](ModelSpec& s) { s.g_widths[0] = 70000; }, "a generator width");
  refused([](ModelSpec& s) { s.d_widths[1] = -1; }, "a discriminator width");
  refused([](ModelSpec& s) { s.image_h = 0; }, "image size 0x28");
  refused([](ModelSpec& s) { s.image_w = -28; }, "image size");
  refused([](ModelSpec& s) { s.image_h = s.image_w = 257; }, "image size 257x257");
  refused([](ModelSpec& s) { s.leaky_slope = 1.0f; }, "LeakyReLU slope");
  refused([](ModelSpec& s) { s.leaky_slope = -0.1f; }, "LeakyReLU slope");
  refused([](ModelSpec& s) { s.leaky_slope = std::numeric_limits<float>::quiet_NaN(); },
          "LeakyReLU slope");
  refused([](ModelSpec& s) { s.bn_eps = 0.0f; }, "BatchNorm eps");
  refused([](ModelSpec& s) { s.bn_eps = -1e-5f; }, "BatchNorm eps");
  refused([](ModelSpec& s) { s.bn_eps = std::numeric_limits<float>::infinity(); },
          "BatchNorm eps");
  refused([](ModelSpec& s) { s.bn_eps = std::numeric_limits<float>::quiet_NaN(); },
          "BatchNorm eps");
  refused([](ModelSpec& s) { s.bn_momentum = -0.1f; }, "BatchNorm momentum");
  refused([](ModelSpec& s) { s.bn_momentum = 1.5f; }, "BatchNorm momentum");
  refused([](ModelSpec& s) { s.bn_momentum = std::numeric_limits<float>::quiet_NaN(); },
          "BatchNorm momentum");

  // The edges of the ranges are accepted.
  ModelSpec s;
  s.z_dim = 65536;
  s.g_widths = {1};
  s.d_widths = {65536};
  s.image_h = 256;
  s.image_w = 256;
  s.leaky_slope = 0.0f;
  s.bn_momentum = 1.0f;
  CHECK_NOTHROW(s.validate());
  s.bn_momentum = 0.0f;
  CHECK_NOTHROW(s.validate());
}

TEST_CASE("model spec: equality compares every field, and act_name names every activation") {
  const ModelSpec a;
  CHECK(a == ModelSpec{});
  // each of the eight fields on its own: a copy that differs in that field only is unequal
  const std::pair<const char*, void (*)(ModelSpec&)> changes[] = {
      {"z_dim", [](ModelSpec& s) { s.z_dim += 1; }},
      {"g_widths", [](ModelSpec& s) { s.g_widths.back() -= 1; }},
      {"d_widths", [](ModelSpec& s) { s.d_widths.front() -= 1; }},
      {"image_h", [](ModelSpec& s) { s.image_h -= 1; }},
      {"image_w", [](ModelSpec& s) { s.image_w -= 1; }},
      {"leaky_slope", [](ModelSpec& s) { s.leaky_slope = 0.01f; }},
      {"bn_eps", [](ModelSpec& s) { s.bn_eps = 1e-3f; }},
      {"bn_momentum", [](ModelSpec& s) { s.bn_momentum = 0.2f; }},
  };
  for (const auto& [field, change] : changes) {
    CAPTURE(field);
    ModelSpec b = a;
    change(b);
    CHECK_FALSE(a == b);
    CHECK_FALSE(b == a);
  }
  CHECK(std::string(gan::act_name(Act::None)) == "none");
  CHECK(std::string(gan::act_name(Act::ReLU)) == "relu");
  CHECK(std::string(gan::act_name(Act::LeakyReLU)) == "leaky_relu");
  CHECK(std::string(gan::act_name(Act::Sigmoid)) == "sigmoid");
}
