/*
 * kernel_registry.cpp — the variant tables of kernel_registry.hpp and selection by name.
 */
#include "kernels/cuda/kernel_registry.hpp"

#include <sstream>

#include "engine/base/error.hpp"

namespace gan::gpu {
namespace {

// ---- the tables ----------------------------------------------------------------------

const KernelVariant<DenseForwardFn> kDenseForward[] = {
    {"fused", "cuBLAS x W^T, then one pass: bias + BatchNorm statistics + normalise + "
              "activation + running statistics",
     &dense_forward_fused},
    {"unfused", "cuBLAS x W^T, then one simple kernel per step (bias, mean, variance, "
                "normalise, running statistics, activation)",
     &dense_forward_unfused},
};
const KernelVariant<DenseBackwardFn> kDenseBackward[] = {
    {"fused", "one pass: activation derivative + BatchNorm backward with its column sums + "
              "bias gradient, then cuBLAS dW and dx",
     &dense_backward_fused},
    {"unfused", "one simple kernel per step, then cuBLAS dW and dx", &dense_backward_unfused},
};
const KernelVariant<DHeadFn> kDHead[] = {
    {"fused", "one kernel: logits, BCE losses, metrics, dw, db and dx", &d_head_fused},
    {"unfused", "one kernel per step: logits, per-row loss, metrics, dw, db, dx",
     &d_head_unfused},
};
const KernelVariant<AdamFn> kAdam[] = {
    {"flat", "one launch over the network's whole arena (vectorised)", &adam_flat},
};
const KernelVariant<CheckFiniteFn> kCheckFinite[] = {
    {"flag", "one scan setting a device flag, one thread recording the result",
     &check_finite_flag},
};
const KernelVariant<ShuffleFn> kShuffle[] = {
    {"radix_sort", "Philox keys, stable CUB radix sort of (key, index)", &shuffle_radix},
};
const KernelVariant<GatherFn> kGather[] = {
    {"direct", "uint8 rows picked by the permutation, scaled by 1/255", &gather_direct},
};
const KernelVariant<NoiseFn> kNoise[] = {
    {"philox", "Philox4x32-10 + Box-Muller per element, stream read on the device",
     &noise_philox},
};

struct OpInfo {
  const char* op;
  std::vector<const char*> names, summaries;
};

template <typename Fn, size_t N>
OpInfo info(const char* op, const KernelVariant<Fn> (&table)[N]) {
  OpInfo o{op, {}, {}};
  for (const auto& v : table) {
    o.names.push_back(v.name);
    o.summaries.push_back(v.summary);
  }
  return o;
}

// Op indices, in the order of ops().
enum OpIndex : size_t {
  kOpDenseForward, kOpDenseBackward, kOpDHead, kOpAdam, kOpCheckFinite, kOpShuffle, kOpGather,
  kOpNoise, kOpCount
};

const std::vector<OpInfo>& ops() {
  static const std::vector<OpInfo> all = {
      info("dense_forward", kDenseForward), info("dense_backward", kDenseBackward),
      info("d_head", kDHead),               info("adam", kAdam),
      info("check_finite", kCheckFinite),   info("shuffle", kShuffle),
      info("gather", kGather),              info("noise", kNoise),
  };
  return all;
}

std::string join(const std::vector<const char*>& v) {
  std::string s;
  for (const char* x : v) s += (s.empty() ? "" : ", ") + std::string(x);
  return s;
}

}  // namespace

// ---- selection -----------------------------------------------------------------------

KernelRegistry::KernelRegistry() : selected_(kOpCount, 0) {}

size_t KernelRegistry::op_index(const std::string& op) const {
  const auto& all = ops();
  for (size_t i = 0; i < all.size(); ++i)
    if (op == all[i].op) return i;
  std::vector<const char*> names;
  for (const auto& o : all) names.push_back(o.op);
  GAN_INPUT_FAIL("unknown kernel op '" << op << "'; the ops are: " << join(names));
}

std::vector<OpVariants> KernelRegistry::list() const {
  std::vector<OpVariants> out;
  const auto& all = ops();
  for (size_t i = 0; i < all.size(); ++i) {
    OpVariants v;
    v.op = all[i].op;
    for (const char* n : all[i].names) v.variants.emplace_back(n);
    v.selected = all[i].names[selected_[i]];
    out.push_back(std::move(v));
  }
  return out;
}

void KernelRegistry::select(const std::string& op, const std::string& variant) {
  const size_t i = op_index(op);
  const OpInfo& o = ops()[i];
  for (size_t k = 0; k < o.names.size(); ++k)
    if (variant == o.names[k]) {
      selected_[i] = k;
      return;
    }
  GAN_INPUT_FAIL("unknown variant '" << variant << "' of kernel op '" << op
                                     << "'; valid variants: " << join(o.names));
}

std::string KernelRegistry::selected(const std::string& op) const {
  const size_t i = op_index(op);
  return ops()[i].names[selected_[i]];
}

std::string KernelRegistry::summary(const std::string& op, const std::string& variant) {
  for (const auto& o : ops())
    if (op == o.op)
      for (size_t k = 0; k < o.names.size(); ++k)
        if (variant == o.names[k]) return o.summaries[k];
  return "";
}

DenseForwardFn KernelRegistry::dense_forward() const {
  return kDenseForward[selected_[kOpDenseForward]].fn;
}
DenseBackwardFn KernelRegistry::dense_backward() const {
  return kDenseBackward[selected_[kOpDenseBackward]].fn;
}
DHeadFn KernelRegistry::d_head() const { return kDHead[selected_[kOpDHead]].fn; }
AdamFn KernelRegistry::adam() const { return kAdam[selected_[kOpAdam]].fn; }
CheckFiniteFn KernelRegistry::check_finite() const {
  return kCheckFinite[selected_[kOpCheckFinite]].fn;
}
ShuffleFn KernelRegistry::shuffle() const { return kShuffle[selected_[kOpShuffle]].fn; }
GatherFn KernelRegistry::gather() const { return kGather[selected_[kOpGather]].fn; }
NoiseFn KernelRegistry::noise() const { return kNoise[selected_[kOpNoise]].fn; }

}  // namespace gan::gpu
