"""torch_train.py — the PyTorch peer of a gan_cuda training run, for side-by-side quality.

Trains a gan_cuda recipe in PyTorch (the modules and steps of tools/bench/torch_gan.py) from
the engine's own start and with the engine's own randomness, so that the two programs differ
only in their arithmetic:
  - initial weights: Trainer::init_weights reproduced through tools/philox.py
    (tools/make_reference.py's engine_init, which the golden test holds to the engine);
  - data order: epoch e's permutation sorts the images by philox_u32(seed, Shuffle:e, i);
    an epoch has floor(N / (B k)) iterations, the last partial batch dropped;
  - noise: D step j of iteration t draws stream Noise:t(k+1)+j, the G step Noise:t(k+1)+k.
It writes a weights-only gan_cuda checkpoint (engine/checkpoint.hpp: G./D. tensors under
state_dict names, metadata format/version/config/state) that `gan_cuda eval` and
`gan_cuda sample` load like the engine's own.

The recipe is the `config` metadata of a gan_cuda checkpoint (any checkpoint of that recipe,
e.g. the engine's run being compared) or a TrainConfig JSON file. A recipe field this peer
does not know is refused by name. The training options follow engine/trainer.hpp:
  - lr_g / lr_d: each network's Adam rate (torch_gan.make_optimizers);
  - d_dropout P: inverted dropout after each hidden LeakyReLU of D in both steps (forward
    hooks, so the state_dict names stay the engine's); its masks come from torch's generator
    (seeded with the recipe's seed), not from the engine's Philox stream — the only
    randomness the two programs do not share;
  - real_label L: the real rows' BCE target in the D loss;
  - lr_decay [S, E]: before iteration t both networks' rates are lr * scale(t), scale 1 before
    iteration S * per_epoch, (E per_epoch - t) / ((E - S) per_epoch) from there, 0 from
    E * per_epoch on (engine/lr_schedule.h);
  - g_ema DECAY: after every G step, avg = DECAY avg + (1 - DECAY) x over G's parameters and
    BatchNorm running statistics, starting from the initial weights; written as G_ema.*;
  - sample_bn, sample_bn_batch: how samples are drawn, which training does not touch; they
    are kept in the checkpoint's config, so `gan_cuda eval` samples the peer the same way.

Usage (needs torch, numpy, safetensors):
  python tools/quality/torch_train.py --config out/checkpoint.safetensors --epochs 50 \\
      --out peer.safetensors [--data data/mnist] [--threads N] [--log-every 500]
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))

import torch_gan  # noqa: E402
from make_reference import engine_init, noise  # noqa: E402
from philox import shuffle_permutation  # noqa: E402

# The TrainConfig fields this peer implements (engine/train_config.cpp's JSON keys).
IMPLEMENTED = {"batch_size", "d_steps", "g_loss", "seed", "nan_policy", "z_dim", "g_widths",
               "d_widths", "image_h", "image_w", "leaky_slope", "bn_eps", "bn_momentum", "lr",
               "lr_g", "lr_d", "beta1", "beta2", "eps", "d_dropout", "real_label", "g_ema",
               "lr_decay", "sample_bn", "sample_bn_batch"}


def read_config(path):
    """The TrainConfig JSON of a gan_cuda checkpoint's metadata, or of a JSON file."""
    if path.endswith(".json"):
        with open(path) as f:
            text = f.read().strip()
        return json.loads(text), text
    from safetensors import safe_open
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != "gan_cuda-checkpoint":
        raise SystemExit(f"torch_train: {path}: not a gan_cuda checkpoint")
    return json.loads(meta["config"]), meta["config"]


def check_implemented(cfg):
    unknown = sorted(k for k in cfg if k not in IMPLEMENTED)
    if unknown:
        raise SystemExit("torch_train: the recipe sets " + ", ".join(unknown) +
                         ", which this peer does not implement")


def add_d_dropout(D, p):
    """Inverted dropout on the output of each hidden LeakyReLU of D while D is training."""
    for m in D.net:
        if isinstance(m, torch.nn.LeakyReLU):
            m.register_forward_hook(
                lambda mod, inp, out: torch.nn.functional.dropout(out, p, training=mod.training))


class WeightAverage:
    """G's moving average: parameters and running statistics, from the initial weights."""

    def __init__(self, G, decay):
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in G.state_dict().items()}

    @torch.no_grad()
    def update(self, G):
        for k, v in G.state_dict().items():
            if v.dtype.is_floating_point:
                self.state[k].mul_(self.decay).add_(v, alpha=1.0 - self.decay)
            else:
                self.state[k].copy_(v)  # num_batches_tracked


def write_checkpoint(path, gan, cfg_json, state, ema=None):
    """A weights-only gan_cuda checkpoint, written atomically (temporary file, rename)."""
    from safetensors.torch import save_file
    tensors = {}
    named = [("G.", gan.G.state_dict()), ("D.", gan.D.state_dict())]
    if ema is not None:
        named.append(("G_ema.", ema.state))
    for prefix, sd in named:
        for name, t in sd.items():
            t = t.detach().contiguous().cpu()
            if not (t.dtype == torch.int64 or torch.isfinite(t).all()):
                raise SystemExit(f"torch_train: refusing to write {path}: {prefix}{name} "
                                 "holds non-finite values")
            tensors[prefix + name] = t
    meta = {"format": "gan_cuda-checkpoint", "version": "1", "config": cfg_json,
            "state": json.dumps(state), "weights_only": "true"}
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=meta)
    os.replace(tmp, path)


def lr_scale(start, end, t):
    """engine/lr_schedule.h's lr_scale: the decay's factor at iteration t."""
    if end <= start or t < start:
        return 1.0
    if t >= end:
        return 0.0
    return (end - t) / (end - start)


def train(cfg, cfg_json, images, epochs, out, log_every):
    B, k, zd, seed = cfg["batch_size"], cfg["d_steps"], cfg["z_dim"], cfg["seed"]
    n = images.shape[0]
    per_epoch = n // (B * k)
    if per_epoch < 1:
        raise SystemExit(f"torch_train: {n} images are fewer than one iteration needs ({B * k})")
    gan = torch_gan.GAN.from_config(cfg)
    engine_init(gan.G, 0, seed)
    engine_init(gan.D, 1, seed)
    opt_g, opt_d = torch_gan.make_optimizers(gan, cfg)
    torch.manual_seed(seed)
    if cfg.get("d_dropout", 0.0) > 0.0:
        add_d_dropout(gan.D, cfg["d_dropout"])
    real_label = cfg.get("real_label", 1.0)
    ema = WeightAverage(gan.G, cfg["g_ema"]) if cfg.get("g_ema", 0.0) > 0.0 else None
    decay_start, decay_end = (e * per_epoch for e in cfg.get("lr_decay", [0, 0]))
    base_lr = [[g["lr"] for g in opt.param_groups] for opt in (opt_g, opt_d)]
    gan.train()
    t = 0
    t0 = time.perf_counter()
    for epoch in range(epochs):
        perm = shuffle_permutation(seed, epoch, n)
        for it in range(per_epoch):
            scale = lr_scale(decay_start, decay_end, t)
            for opt, lrs in zip((opt_g, opt_d), base_lr):
                for g, lr in zip(opt.param_groups, lrs):
                    g["lr"] = lr * scale
            for j in range(k):
                b = it * k + j
                x = torch.from_numpy(images[perm[b * B:(b + 1) * B]].astype(np.float32) /
                                     np.float32(255.0))
                dr = torch_gan.d_step(gan, opt_d, x, noise(seed, t * (k + 1) + j, B, zd),
                                     real_label=real_label)
            gr = torch_gan.g_step(gan, opt_g, noise(seed, t * (k + 1) + k, B, zd), cfg["g_loss"])
            if ema is not None:
                ema.update(gan.G)
            t += 1
            if not (np.isfinite(dr.d_loss) and np.isfinite(gr.g_loss)):
                raise SystemExit(f"torch_train: non-finite loss at iteration {t}")
            if log_every and t % log_every == 0:
                rate = t * B / (time.perf_counter() - t0)
                print(f"epoch {epoch + it / per_epoch:.2f} step {t}/{epochs * per_epoch}  "
                      f"D {dr.d_loss:.4f}  G {gr.g_loss:.4f}  D(x) {dr.d_real:.3f}  "
                      f"D(G(z)) {dr.d_fake:.3f}  {rate:.0f} img/s", flush=True)
    state = {"epoch": epochs, "data_count": int(n), "iteration": t, "batch_cursor": per_epoch * k,
             "skipped": [0, 0], "first_bad_iteration": [-1, -1]}
    write_checkpoint(out, gan, cfg_json, state, ema)
    return t, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True,
                    help="a gan_cuda checkpoint (its recipe) or a TrainConfig JSON file")
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--out", required=True, help="the checkpoint to write")
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"))
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--log-every", type=int, default=500)
    args = ap.parse_args(argv)
    if args.epochs < 1:
        ap.error("--epochs must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg, cfg_json = read_config(args.config)
    check_implemented(cfg)
    images, (rows, cols) = torch_gan.load_idx_images(args.data)
    if (rows, cols) != (cfg["image_h"], cfg["image_w"]):
        raise SystemExit(f"torch_train: {args.data} holds {rows}x{cols} images, the recipe "
                         f"{cfg['image_h']}x{cfg['image_w']}")
    iterations, seconds = train(cfg, cfg_json, images, args.epochs, args.out, args.log_every)
    print(f"torch_train: {iterations} iterations in {seconds:.1f} s on "
          f"{torch.get_num_threads()} threads; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
