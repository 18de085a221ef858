"""make_reference.py — golden state files that pin gan_cuda's training semantics to PyTorch.

For each case below it builds a small model, reproduces the engine's conventions exactly
(engine/trainer.hpp: Philox initialisation, epoch-0 shuffle of the bundled MNIST training
set, noise streams, D steps on [real; fake], G step), runs 3 training iterations in float32
PyTorch (tools/bench/torch_gan.py) and writes tests/data/golden/<case>.gold, which
tests/engine/test_golden.cpp replays on the CPU backend.

Usage (from anywhere; needs torch, numpy):  python tools/make_reference.py [--out DIR]

File format (little-endian), version 1:
  char[8]  magic "GANGOLD\\0"
  u32      version = 1
  u32      tensor count
  per tensor:
    u32    name length, then the name bytes (UTF-8, no terminator)
    u32    dtype: 0 = f32, 1 = u8
    u32    rank, then u64 dims[rank]
    data   prod(dims) elements of the dtype, row-major
Tensors (B = batch size, <name> = PyTorch state_dict name within the network):
  config                          u8  TrainConfig JSON exactly as engine/train_config.cpp
                                      writes it (gan::to_json)
  check.noise                     noise draw 0 (stream Noise:0) [B, z_dim]
  check.perm                      the first entries of epoch 0's permutation (as f32)
  init.G.<name>, init.D.<name>    parameters after Trainer::init_weights
  it1.<metric>                    [] d_loss d_real d_fake value (the last D step of
                                  iteration 1), g_loss g_fake (its G step)
  it1.grad.D.<name>               D gradients of iteration 1's last D step
  it1.grad.G.<name>               G gradients of iteration 1's G step
  it1.act.G.<l>                   [B, out] output of G layer l in the G step (after the
                                  activation: ReLU for BatchNorm layers, Sigmoid for the last)
  it1.act.D.<l>                   [B, out] D hidden layer l (after LeakyReLU) on the G step's batch
  it1.bn.G.<buffer>               G's BatchNorm running_mean / running_var after iteration 1
  it3.<metric>                    the six metrics of iteration 3
  it3.param.{G,D}.<name>          parameters after 3 iterations
  it3.exp_avg.{G,D}.<name>        Adam first moments after 3 iterations
  it3.exp_avg_sq.{G,D}.<name>     Adam second moments after 3 iterations
  it3.bn.G.<buffer>               running statistics after 3 iterations
  it3.sample                      [4, image_dim] G in eval mode on stream FixedNoise:0
"""

import argparse
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "bench"))

import torch_gan  # noqa: E402
from philox import (Stream, philox_normals, philox_uniforms, shuffle_permutation,  # noqa: E402
                    stream_id)

MAGIC = b"GANGOLD\0"
VERSION = 1
DTYPE_F32, DTYPE_U8 = 0, 1

ITERATIONS = 3
SAMPLE_ROWS = 4
PERM_ENTRIES = 64

BASE = dict(z_dim=8, g_widths=[16, 12], d_widths=[12, 10], image_h=28, image_w=28,
            leaky_slope=0.2, bn_eps=1e-5, bn_momentum=0.1, batch_size=6, d_steps=1,
            g_loss="non-saturating", lr=2e-4, beta1=0.5, beta2=0.999, eps=1e-8,
            seed=0x5EED00002014, nan_policy="abort")

CASES = {
    "non_saturating": dict(),
    "minimax": dict(g_loss="minimax"),
    "non_saturating_k2": dict(d_steps=2),
}

FLOAT_FIELDS = ("leaky_slope", "bn_eps", "bn_momentum", "lr", "beta1", "beta2", "eps")

# ---- helpers ---------------------------------------------------------------------------


def config_json(cfg):
    """The TrainConfig JSON as gan::to_json writes it: nlohmann::json's dump() of an object
    with sorted keys, no spaces, floats widened from float32 and printed shortest round-trip."""
    out = dict(cfg)
    for k in FLOAT_FIELDS:
        out[k] = float(np.float32(cfg[k]))
    return json.dumps(out, sort_keys=True, separators=(",", ":"))


def load_mnist_train_images():
    path = os.path.join(ROOT, "data", "mnist", "train-images-idx3-ubyte.gz")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    assert magic == 0x00000803, f"{path}: bad IDX magic {magic:#x}"
    images = np.frombuffer(raw, dtype=np.uint8, offset=16)
    assert images.size == count * rows * cols, f"{path}: wrong payload size"
    return images.reshape(count, rows * cols)


def layer_tensor_names(net):
    """Per dense layer: (names in arena order, whether it has BatchNorm), with the module
    numbering of engine/model_spec.cpp."""
    out, module = [], 0
    if isinstance(net, torch_gan.Generator):
        n_hidden = (len(net.net) - 2) // 3
        for _ in range(n_hidden):
            out.append(([f"net.{module}.weight", f"net.{module}.bias",
                         f"net.{module + 1}.weight", f"net.{module + 1}.bias"], True))
            module += 3
    else:
        n_hidden = (len(net.net) - 1) // 2
        for _ in range(n_hidden):
            out.append(([f"net.{module}.weight", f"net.{module}.bias"], False))
            module += 2
    out.append(([f"net.{module}.weight", f"net.{module}.bias"], False))
    return out


def engine_init(module, q, seed):
    """Trainer::init_weights: element i of tensor number p of network q (G 0, D 1) is
    (2 philox_uniform(seed, Init:(q << 16 | p), i) - 1) * float(1 / sqrt(fan_in)) in float32;
    BatchNorm gamma 1, beta 0 (their tensor numbers are skipped), running stats 0 / 1."""
    sd = module.state_dict()
    new = {}
    p = 0
    for names, bn in layer_tensor_names(module):
        w_name, b_name = names[0], names[1]
        fan_in = sd[w_name].shape[1]
        bound = np.float32(1.0 / np.sqrt(np.float64(fan_in)))
        for name in (w_name, b_name):
            shape = tuple(sd[name].shape)
            u = philox_uniforms(seed, stream_id(Stream.INIT, (q << 16) | p), int(np.prod(shape)))
            vals = (np.float32(2.0) * u - np.float32(1.0)) * bound
            new[name] = torch.from_numpy(vals.astype(np.float32).reshape(shape))
            p += 1
        if bn:
            new[names[2]] = torch.ones_like(sd[names[2]])
            new[names[3]] = torch.zeros_like(sd[names[3]])
            p += 2
    for name, t in sd.items():
        if name.endswith("running_mean"):
            new[name] = torch.zeros_like(t)
        elif name.endswith("running_var"):
            new[name] = torch.ones_like(t)
        elif name.endswith("num_batches_tracked"):
            new[name] = torch.zeros_like(t)
    module.load_state_dict(new, strict=True)


def noise(seed, draw, rows, z_dim):
    z = philox_normals(seed, stream_id(Stream.NOISE, draw), rows * z_dim)
    return torch.from_numpy(z.reshape(rows, z_dim))


class GoldenWriter:
    def __init__(self):
        self.entries = []
        self.names = set()

    def add(self, name, array, dtype=DTYPE_F32):
        assert name not in self.names, name
        self.names.add(name)
        if isinstance(array, torch.Tensor):  # a copy: parameters change in place later
            array = array.detach().cpu().clone().numpy()
        array = np.array(array, dtype=np.float32 if dtype == DTYPE_F32 else np.uint8, copy=True)
        self.entries.append((name, dtype, array))

    def add_net(self, prefix, module, what="param"):
        for name, t in module.named_parameters():
            self.add(prefix + name, t if what == "param" else t.grad)

    def bytes(self):
        out = [MAGIC, struct.pack("<II", VERSION, len(self.entries))]
        for name, dtype, a in self.entries:
            nb = name.encode("utf-8")
            out.append(struct.pack("<I", len(nb)) + nb)
            out.append(struct.pack("<II", dtype, a.ndim))
            out.append(struct.pack(f"<{a.ndim}Q", *a.shape))
            out.append(np.ascontiguousarray(a).astype("<f4" if dtype == DTYPE_F32 else "u1")
                       .tobytes())
        return b"".join(out)


# ---- one case --------------------------------------------------------------------------


def run_case(cfg, images):
    B, k, zd, seed = cfg["batch_size"], cfg["d_steps"], cfg["z_dim"], cfg["seed"]
    w = GoldenWriter()
    w.add("config", np.frombuffer(config_json(cfg).encode("utf-8"), dtype=np.uint8), DTYPE_U8)

    perm = shuffle_permutation(seed, 0, images.shape[0])
    w.add("check.noise", noise(seed, 0, B, zd))
    w.add("check.perm", perm[:PERM_ENTRIES].astype(np.float32))

    gan = torch_gan.GAN.from_config(cfg)
    engine_init(gan.G, 0, seed)
    engine_init(gan.D, 1, seed)
    w.add_net("init.G.", gan.G)
    w.add_net("init.D.", gan.D)
    opt_g, opt_d = torch_gan.make_optimizers(gan, cfg)
    gan.train()

    def real_batch(b):
        idx = perm[b * B:(b + 1) * B]
        return torch.from_numpy(images[idx].astype(np.float32) / np.float32(255.0))

    def add_metrics(prefix, dr, gr):
        for name, v in (("d_loss", dr.d_loss), ("d_real", dr.d_real), ("d_fake", dr.d_fake),
                        ("value", dr.value), ("g_loss", gr.g_loss), ("g_fake", gr.g_fake)):
            w.add(prefix + name, np.array(v, dtype=np.float32))

    for t in range(ITERATIONS):
        first = t == 0
        for j in range(k):
            dr = torch_gan.d_step(gan, opt_d, real_batch(t * k + j), noise(seed, t * (k + 1) + j,
                                                                           B, zd))
            if first and j == k - 1:
                d_grads = {n: p.grad.clone() for n, p in gan.D.named_parameters()}
        acts, hooks = {}, []
        if first:
            g_mods = [m for m in gan.G.net if isinstance(m, (torch.nn.ReLU, torch.nn.Sigmoid))]
            d_mods = [m for m in gan.D.net if isinstance(m, torch.nn.LeakyReLU)]
            for tag, mods in (("G", g_mods), ("D", d_mods)):
                for l, m in enumerate(mods):
                    hooks.append(m.register_forward_hook(
                        lambda mod, inp, out, key=f"it1.act.{tag}.{l}": acts.__setitem__(
                            key, out.detach().clone())))
        gr = torch_gan.g_step(gan, opt_g, noise(seed, t * (k + 1) + k, B, zd), cfg["g_loss"])
        for h in hooks:
            h.remove()
        if first:
            add_metrics("it1.", dr, gr)
            for n, g in d_grads.items():
                w.add("it1.grad.D." + n, g)
            w.add_net("it1.grad.G.", gan.G, what="grad")
            for key in sorted(acts):
                w.add(key, acts[key])
            for n, b in gan.G.named_buffers():
                if "running" in n:
                    w.add("it1.bn.G." + n, b)
        if t == ITERATIONS - 1:
            add_metrics("it3.", dr, gr)

    w.add_net("it3.param.G.", gan.G)
    w.add_net("it3.param.D.", gan.D)
    for net, module, opt in (("G", gan.G, opt_g), ("D", gan.D, opt_d)):
        for n, p in module.named_parameters():
            st = opt.state[p]
            assert int(st["step"].item()) == ITERATIONS * (1 if net == "G" else k)
            w.add(f"it3.exp_avg.{net}.{n}", st["exp_avg"])
            w.add(f"it3.exp_avg_sq.{net}.{n}", st["exp_avg_sq"])
    for n, b in gan.G.named_buffers():
        if "running" in n:
            w.add("it3.bn.G." + n, b)
    gan.G.eval()
    with torch.no_grad():
        z = philox_normals(seed, stream_id(Stream.FIXED_NOISE, 0), SAMPLE_ROWS * zd)
        w.add("it3.sample", gan.G(torch.from_numpy(z.reshape(SAMPLE_ROWS, zd))))
    return w


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write the golden reference files.")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "golden"),
                    help="output directory (default: tests/data/golden)")
    args = ap.parse_args(argv)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    images = load_mnist_train_images()
    os.makedirs(args.out, exist_ok=True)
    for case, overrides in CASES.items():
        cfg = dict(BASE, **overrides)
        data = run_case(cfg, images).bytes()
        path = os.path.join(args.out, case + ".gold")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        print(f"wrote {path} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
