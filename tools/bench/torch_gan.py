"""torch_gan.py — the gan_cuda model and training step in PyTorch, and a checkpoint loader.

The modules follow engine/model_spec.hpp, so their state_dict names are the engine's:
  Generator.net     = Sequential([Linear, BatchNorm1d(eps, momentum), ReLU] x len(g_widths),
                                 Linear, Sigmoid)
  Discriminator.net = Sequential([Linear, LeakyReLU(slope)] x len(d_widths), Linear(., 1))
One training iteration is engine/trainer.hpp's: d_steps D steps (D loss
BCE(D(x), 1) + BCE(D(G(z)), 0) on logits, batch means) then one G step (non-saturating
-log D(G(z)) or minimax log(1 - D(G(z)))), each followed by Adam(lr, betas, eps). G stays in
training mode in both steps, so its BatchNorm running statistics move on every G forward.

load_gan_checkpoint(path) reads a gan_cuda checkpoint (engine/checkpoint.hpp): the G./D.
tensors as the two state_dicts (strict), the adam.* tensors as torch.optim.Adam state, and
G's weight average (G_ema.*, present with --g-ema) as gan.G_ema.

The benchmark peer (section "timing" below) runs the same iteration with the data resident
on the device, in one of these modes:
  eager                    Adam(fused=True) on CUDA, no host synchronisation in the loop;
  compile-default, compile-reduce-overhead, compile-max-autotune
                           the D-step and G-step forward functions under torch.compile in
                           that mode (their backward passes compiled by AOTAutograd), the
                           fused Adam steps eager; compile time is reported apart;
  dataloader               for reference only: the plain loop of a first PyTorch version —
                           a CPU DataLoader (shuffle, drop_last) whose batches are copied to
                           the device, foreach Adam, .item() on the losses every step.
Every mode does the engine's arithmetic: D on [x_real; G(z)] with G's BatchNorm in training
mode and no gradient into G, BCE with logits; the G step back-propagates through D with D's
weights detached (so D's gradients are neither computed nor touched); fresh N(0, 1) noise for
each step; a new random permutation of the images each epoch (drop_last).

Command line:
  python torch_gan.py --check-checkpoint FILE [--rows N] [--seed S]
      loads FILE and prints the mean of N eval-mode generator samples (and the Adam steps).
  python torch_gan.py --mode MODE --batch B [--tf32] [--init CHECKPOINT] [--data DIR]
                      [--blocks N] [--iters-per-block K] [--warmup W] [--json OUT]
                      [--serve] [--count-kernels] [--epochs E] [--device cuda|cpu]
                      [--threads N]
      times blocks of K iterations (CUDA events on CUDA, the host clock on the CPU) and
      writes OUT; with --serve it prints READY, then times one block per "block" line on
      stdin (printing "BLOCK <ms>") until "quit", as gan_cuda bench --serve does; with
      --epochs E it instead trains E epochs end to end and reports the wall time.
      --init loads gan_cuda's initial weights (gan_cuda bench --save-init), so both
      programs start from the same parameters.

Importing this file does no work.
"""

import argparse
import copy
import gzip
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- model ---------------------------------------------------------------------------


class Generator(nn.Module):
    def __init__(self, z_dim, g_widths, image_dim, bn_eps=1e-5, bn_momentum=0.1):
        super().__init__()
        layers, width = [], z_dim
        for w in g_widths:
            layers += [nn.Linear(width, w), nn.BatchNorm1d(w, eps=bn_eps, momentum=bn_momentum),
                       nn.ReLU()]
            width = w
        layers += [nn.Linear(width, image_dim), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.z_dim = z_dim

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    """Returns logits [rows, 1]; D(x) = sigmoid(logit)."""

    def __init__(self, image_dim, d_widths, slope=0.2):
        super().__init__()
        layers, width = [], image_dim
        for w in d_widths:
            layers += [nn.Linear(width, w), nn.LeakyReLU(slope)]
            width = w
        layers += [nn.Linear(width, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class GAN(nn.Module):
    def __init__(self, z_dim=64, g_widths=(128, 256, 512, 1024), d_widths=(512, 256, 128),
                 image_h=28, image_w=28, leaky_slope=0.2, bn_eps=1e-5, bn_momentum=0.1):
        super().__init__()
        image_dim = image_h * image_w
        self.G = Generator(z_dim, list(g_widths), image_dim, bn_eps, bn_momentum)
        self.D = Discriminator(image_dim, list(d_widths), leaky_slope)

    @classmethod
    def from_config(cls, cfg):
        """From a TrainConfig as a dict (engine/train_config.cpp's JSON)."""
        return cls(cfg["z_dim"], cfg["g_widths"], cfg["d_widths"], cfg["image_h"],
                   cfg["image_w"], cfg["leaky_slope"], cfg["bn_eps"], cfg["bn_momentum"])


def make_adam(module, lr=2e-4, betas=(0.5, 0.999), eps=1e-8, **kw):
    """kw: further torch.optim.Adam options (fused=True for the benchmark peer on CUDA)."""
    return torch.optim.Adam(module.parameters(), lr=lr, betas=betas, eps=eps, **kw)


def adam_kwargs(cfg, net):
    """Adam options of network "G" or "D" from a config dict: its "lr_g"/"lr_d", or the one
    "lr" that configurations with equal rates (and older ones) hold."""
    lr = cfg["lr"] if "lr" in cfg else cfg["lr_g" if net == "G" else "lr_d"]
    return dict(lr=lr, betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"])


def make_optimizers(gan, cfg=None):
    """Adam for G and D with the config's hyper-parameters (the engine's defaults if None)."""
    if cfg is None:
        return make_adam(gan.G), make_adam(gan.D)
    return make_adam(gan.G, **adam_kwargs(cfg, "G")), make_adam(gan.D, **adam_kwargs(cfg, "D"))


# ---- one training step ---------------------------------------------------------------


class DStepResult:
    """Scalars of a D step (the engine's StepMetrics D fields)."""

    def __init__(self, d_loss, d_real, d_fake):
        self.d_loss, self.d_real, self.d_fake = d_loss, d_real, d_fake
        self.value = -d_loss  # V(D, G) = mean log D(x) + mean log(1 - D(G(z)))


class GStepResult:
    def __init__(self, g_loss, g_fake):
        self.g_loss, self.g_fake = g_loss, g_fake


def d_loss_fn(real_logits, fake_logits, real_label=1.0):
    """BCE(D(x), real_label) + BCE(D(G(z)), 0); real_label < 1 is one-sided label smoothing."""
    return (F.binary_cross_entropy_with_logits(real_logits,
                                               torch.full_like(real_logits, real_label)) +
            F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_loss_fn(fake_logits, g_loss="non-saturating"):
    if g_loss == "non-saturating":  # -mean log D(G(z))
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    if g_loss == "minimax":  # mean log(1 - D(G(z)))
        return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    raise ValueError(f"g_loss must be 'non-saturating' or 'minimax', got {g_loss!r}")


def d_step(gan, opt_d, x_real, z, step=True, real_label=1.0):
    """One D update: G(z) in training mode without gradients, D on [x_real; G(z)].

    Leaves D's gradients in .grad (they are set, not accumulated). Returns DStepResult."""
    with torch.no_grad():
        fake = gan.G(z)
    opt_d.zero_grad(set_to_none=True)
    logits = gan.D(torch.cat([x_real, fake], dim=0))
    n = x_real.shape[0]
    loss = d_loss_fn(logits[:n], logits[n:], real_label)
    loss.backward()
    if step:
        opt_d.step()
    with torch.no_grad():
        d_real = torch.sigmoid(logits[:n]).mean().item()
        d_fake = torch.sigmoid(logits[n:]).mean().item()
    return DStepResult(loss.item(), d_real, d_fake)


def g_step(gan, opt_g, z, g_loss="non-saturating", step=True):
    """One G update through D; D's weights and gradients are left untouched.

    Leaves G's gradients in .grad. Returns GStepResult."""
    opt_g.zero_grad(set_to_none=True)
    d_params = list(gan.D.parameters())
    saved = [p.requires_grad for p in d_params]
    for p in d_params:
        p.requires_grad_(False)
    try:
        logits = gan.D(gan.G(z))
        loss = g_loss_fn(logits, g_loss)
        loss.backward()
    finally:
        for p, r in zip(d_params, saved):
            p.requires_grad_(r)
    if step:
        opt_g.step()
    with torch.no_grad():
        g_fake = torch.sigmoid(logits).mean().item()
    return GStepResult(loss.item(), g_fake)


# ---- checkpoints ---------------------------------------------------------------------


def _adam_state_into(opt, module, tensors, prefix):
    """Puts adam.<net>.exp_avg.<name> / exp_avg_sq.<name> / step into opt.state."""
    step_key = prefix + "step"
    if step_key not in tensors:
        return False
    step = float(tensors[step_key].item())
    for name, p in module.named_parameters():
        opt.state[p] = {
            "step": torch.tensor(step, dtype=torch.float32),
            "exp_avg": tensors[prefix + "exp_avg." + name].clone().to(p.dtype),
            "exp_avg_sq": tensors[prefix + "exp_avg_sq." + name].clone().to(p.dtype),
        }
    return True


def load_gan_checkpoint(path):
    """Loads a gan_cuda checkpoint. Returns (gan, opt_g, opt_d, config dict, metadata dict).

    Parameters and BatchNorm buffers load strictly; the optimizers hold the checkpoint's
    Adam moments and step counts unless it is weights-only (then they are fresh). A checkpoint
    of a run with --g-ema also holds G's weight average (G_ema.*, G's names): it is loaded,
    strictly, into gan.G_ema (a copy of G's module); gan.G_ema is None otherwise."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    tensors = load_file(path)
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != "gan_cuda-checkpoint":
        raise ValueError(f"{path}: not a gan_cuda checkpoint")
    cfg = json.loads(meta["config"])
    gan = GAN.from_config(cfg)
    for prefix, module in (("G.", gan.G), ("D.", gan.D)):
        sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        module.load_state_dict(sd, strict=True)
    gan.G_ema = None
    ema = {k[len("G_ema."):]: v for k, v in tensors.items() if k.startswith("G_ema.")}
    if ema:
        gan.G_ema = copy.deepcopy(gan.G)
        gan.G_ema.load_state_dict(ema, strict=True)
    opt_g, opt_d = make_optimizers(gan, cfg)
    _adam_state_into(opt_g, gan.G, tensors, "adam.G.")
    _adam_state_into(opt_d, gan.D, tensors, "adam.D.")
    return gan, opt_g, opt_d, cfg, meta


# ---- timing --------------------------------------------------------------------------

MODES = ("eager", "compile-default", "compile-reduce-overhead", "compile-max-autotune",
         "dataloader")


def load_idx_images(data_dir):
    """uint8 [count, rows * cols] and (rows, cols) from <dir>/train-images-idx3-ubyte[.gz]
    (the raw file preferred, as engine/io/idx.hpp does)."""
    import numpy as np

    for name in ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            break
    else:
        raise FileNotFoundError(f"{data_dir}: no train-images-idx3-ubyte[.gz]")
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[:4] != b"\x00\x00\x08\x03":
        raise ValueError(f"{path}: not an IDX file of unsigned bytes, rank 3")
    count, rows, cols = (int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    data = np.frombuffer(raw, dtype=np.uint8, offset=16)
    if data.size != count * rows * cols:
        raise ValueError(f"{path}: {data.size} pixels, the header says {count}x{rows}x{cols}")
    return data.reshape(count, rows * cols), (rows, cols)


def set_precision(tf32):
    """Strict FP32 (no TF32 anywhere) or TF32 tensor cores for FP32 matrix products."""
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")


def d_forward_loss(gan, x_real, z):
    """The D step's loss: G(z) without gradients (BatchNorm in training mode), D on both."""
    with torch.no_grad():
        fake = gan.G(z)
    logits = gan.D(torch.cat([x_real, fake], dim=0))
    n = x_real.shape[0]
    return d_loss_fn(logits[:n], logits[n:])


def d_frozen(D, x):
    """D's forward with its weights detached: gradients flow to x only."""
    for m in D.net:
        if isinstance(m, nn.Linear):
            x = F.linear(x, m.weight.detach(), m.bias.detach())
        else:
            x = m(x)
    return x


def g_forward_loss(gan, z, g_loss="non-saturating"):
    return g_loss_fn(d_frozen(gan.D, gan.G(z)), g_loss)


class Clock:
    """Milliseconds of a block of work: CUDA events on the current stream, else the host
    clock (after a synchronize, which is a no-op on the CPU)."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def time_ms(self, work):
        if self.cuda:
            a = torch.cuda.Event(enable_timing=True)
            b = torch.cuda.Event(enable_timing=True)
            a.record()
            work()
            b.record()
            b.synchronize()
            return a.elapsed_time(b)
        t0 = time.perf_counter()
        work()
        return (time.perf_counter() - t0) * 1e3


class PeerRunner:
    """One mode's training loop over device-resident data; step() runs one iteration and
    begins a new epoch (a fresh permutation) when the batches run out."""

    def __init__(self, mode, batch, images_u8, device, init=None, g_loss="non-saturating",
                 seed=0):
        if mode not in MODES:
            raise ValueError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
        torch.manual_seed(seed)
        self.mode, self.batch, self.device, self.g_loss = mode, batch, device, g_loss
        if init:
            gan, _, _, cfg, _ = load_gan_checkpoint(init)
        else:
            gan, cfg = GAN(), None
        self.gan = gan.to(device).train()
        self.z_dim = self.gan.G.z_dim
        kw_g = adam_kwargs(cfg, "G") if cfg is not None else {}
        kw_d = adam_kwargs(cfg, "D") if cfg is not None else {}
        fused = {"fused": True} if device.type == "cuda" and mode != "dataloader" else {}
        self.opt_g = make_adam(self.gan.G, **kw_g, **fused)
        self.opt_d = make_adam(self.gan.D, **kw_d, **fused)
        self.count = images_u8.shape[0]
        if self.count < batch:
            raise ValueError(f"--batch {batch} is larger than the {self.count} images")
        self.per_epoch = self.count // batch
        self.in_epoch = self.per_epoch  # the first step begins epoch 0
        self.epoch = -1
        self.last = None
        images = torch.from_numpy(images_u8.copy())
        if mode == "dataloader":
            from torch.utils.data import DataLoader, TensorDataset

            self.loader = DataLoader(TensorDataset(images.float().div_(255)), batch_size=batch,
                                     shuffle=True, drop_last=True)
            self.loader_it = None
            return
        self.images = images.to(device).float().div_(255)  # resident, [count, dim] in [0, 1]
        d_fn = lambda x, z: d_forward_loss(self.gan, x, z)  # noqa: E731
        g_fn = lambda z: g_forward_loss(self.gan, z, self.g_loss)  # noqa: E731
        if mode.startswith("compile-"):
            cmode = mode[len("compile-"):]
            d_fn = torch.compile(d_fn, mode=cmode)
            g_fn = torch.compile(g_fn, mode=cmode)
        self.d_fn, self.g_fn = d_fn, g_fn
        self.cudagraphs = mode in ("compile-reduce-overhead", "compile-max-autotune")

    def _next_real(self):
        if self.in_epoch == self.per_epoch:
            self.epoch += 1
            self.in_epoch = 0
            if self.mode == "dataloader":
                self.loader_it = iter(self.loader)
            else:
                self.perm = torch.randperm(self.count, device=self.device)
        i = self.in_epoch
        self.in_epoch += 1
        if self.mode == "dataloader":
            (x,) = next(self.loader_it)
            return x.to(self.device)
        return self.images[self.perm[i * self.batch:(i + 1) * self.batch]]

    def step(self):
        x = self._next_real()
        if self.mode == "dataloader":  # the reference loop, with its per-step .item() syncs
            z = torch.randn(self.batch, self.z_dim, device=self.device)
            dr = d_step(self.gan, self.opt_d, x, z)
            z = torch.randn(self.batch, self.z_dim, device=self.device)
            gr = g_step(self.gan, self.opt_g, z, self.g_loss)
            self.last = (dr.d_loss, gr.g_loss)
            return
        if self.cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()
        z_d = torch.randn(self.batch, self.z_dim, device=self.device)
        z_g = torch.randn(self.batch, self.z_dim, device=self.device)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss = self.d_fn(x, z_d)
        d_loss.backward()
        self.opt_d.step()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss = self.g_fn(z_g)
        g_loss.backward()
        self.opt_g.step()
        self.last = (d_loss, g_loss)

    def run(self, n):
        for _ in range(n):
            self.step()

    def last_losses(self):
        if self.last is None:
            return None, None
        return tuple(float(v) if isinstance(v, float) else float(v.detach().item())
                     for v in self.last)


def count_gpu_ops(runner, iterations=5):
    """Kernels and memory operations per iteration seen by the profiler (CUDA only): a
    dict {"kernels": k, "memory_ops": m}, or None where the profiler gives nothing."""
    if runner.device.type != "cuda":
        return None
    try:
        from torch.profiler import ProfilerActivity, profile

        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            runner.run(iterations)
            torch.cuda.synchronize()
        kernels = memory = 0
        for e in prof.events():
            if e.device_type != torch.autograd.DeviceType.CUDA:
                continue
            if "memcpy" in e.name.lower() or "memset" in e.name.lower():
                memory += 1
            else:
                kernels += 1
        if kernels == 0:
            return None
        return {"kernels": kernels / iterations, "memory_ops": memory / iterations}
    except Exception as e:  # the profiler is an extra; the timings stand without it
        print(f"torch_gan: kernel count unavailable: {e}", file=sys.stderr)
        return None


def cudagraph_skips():
    """How often Inductor fell back from CUDA graphs (None where the counter is unknown)."""
    try:
        from torch._dynamo.utils import counters

        return int(sum(v for k, v in counters["inductor"].items() if "cudagraph_skip" in k))
    except Exception:  # noqa: BLE001 — a private counter; absent in some versions
        return None


def environment(device):
    env = {"torch": torch.__version__, "torch_cuda": torch.version.cuda,
           "device": device.type, "threads": torch.get_num_threads()}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    else:  # the libraries behind PyTorch's CPU ops (BLAS, oneDNN, CPU capability)
        cfg = torch.__config__.show()
        libs = [line.strip(" -") for line in cfg.splitlines() if "Build settings" not in line
                and any(k in line for k in ("CPU capability", "MKL", "oneDNN", "OpenMP"))]
        libs += [w.strip(",") for w in cfg.split() if w.startswith("BLAS_INFO=")]
        env["cpu_libraries"] = libs
    return env


def run_peer(args):
    from stats import summarize

    t_start = time.perf_counter()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("torch_gan: --device cuda but torch sees no CUDA device")
    if device.type == "cuda":
        if device.index is None:  # set_device needs an index: plain "cuda" is the first GPU
            device = torch.device("cuda", 0)
        torch.cuda.set_device(device)
    if args.mode.startswith("compile-") and device.type == "cpu" and args.mode != "compile-default":
        print(f"torch_gan: note: {args.mode} on the CPU has no CUDA graphs", file=sys.stderr)
    set_precision(args.tf32)
    images, _ = load_idx_images(args.data)
    runner = PeerRunner(args.mode, args.batch, images, device, args.init, seed=args.seed)
    clock = Clock(device)
    out = {"program": "pytorch", "variant": args.mode, "batch": args.batch, "d_steps": 1,
           "tf32": args.tf32, "precision": "tf32" if args.tf32 else "fp32",
           "images": int(images.shape[0]), "iters_per_epoch": runner.per_epoch,
           "init": args.init, **environment(device)}

    # The first iterations compile (and record CUDA graphs): their time is the compile time.
    t0 = time.perf_counter()
    runner.run(3)
    clock.sync()
    out["compile_s"] = time.perf_counter() - t0

    if args.epochs:
        total = args.epochs * runner.per_epoch
        t0 = time.perf_counter()
        runner.run(total - 3)
        clock.sync()
        loop_s = time.perf_counter() - t0 + out["compile_s"]
        out.update(epochs=args.epochs, iterations=total, loop_s=loop_s,
                   wall_s=time.perf_counter() - t_start,
                   images_per_s=total * args.batch / loop_s)
        out["last_d_loss"], out["last_g_loss"] = runner.last_losses()
        write_json(args.json, out)
        print(f"torch_gan {args.mode}: {args.epochs} epochs of {runner.count} images in "
              f"{loop_s:.2f} s (compile {out['compile_s']:.2f} s)")
        return 0

    runner.run(args.warmup)
    clock.sync()
    out["setup_s"] = time.perf_counter() - t_start
    out["cudagraph_skips"] = cudagraph_skips() if args.mode.startswith("compile-") else None
    out["warmup"], out["iters_per_block"] = args.warmup, args.iters_per_block

    block_cpu_ms = []

    def block():
        cpu0 = time.process_time()
        ms = clock.time_ms(lambda: runner.run(args.iters_per_block))
        block_cpu_ms.append((time.process_time() - cpu0) * 1e3)
        return ms

    block_ms = []
    if args.serve:
        print("READY", flush=True)
        for line in sys.stdin:
            line = line.strip()
            if line == "quit":
                break
            if line != "block":
                raise SystemExit(f"torch_gan --serve: expected 'block' or 'quit', got {line!r}")
            block_ms.append(block())
            print(f"BLOCK {block_ms[-1]} {block_cpu_ms[-1]}", flush=True)
    else:
        block_ms = [block() for _ in range(args.blocks)]
    out["blocks"], out["block_ms"] = len(block_ms), block_ms
    out["block_cpu_ms"] = block_cpu_ms  # process CPU time (user + system) of each block
    if block_ms:
        us = summarize([ms * 1e3 / args.iters_per_block for ms in block_ms])
        out["us_per_iter"] = us
        out["images_per_s"] = args.batch * 1e6 / us["median"]
    out["last_d_loss"], out["last_g_loss"] = runner.last_losses()
    out["gpu_ops_per_iter"] = count_gpu_ops(runner) if args.count_kernels else None
    out["kernels_per_iter"] = (out["gpu_ops_per_iter"] or {}).get("kernels")
    write_json(args.json, out)
    if block_ms:
        print(f"torch_gan {args.mode} batch {args.batch}: {us['median']:.1f} us/iteration "
              f"(p10 {us['p10']:.1f}, p90 {us['p90']:.1f}, {len(block_ms)} blocks)")
    if args.serve:
        print("DONE", flush=True)
    return 0


def write_json(path, obj):
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


# ---- command line --------------------------------------------------------------------


def check_checkpoint(path, rows, seed):
    gan, opt_g, opt_d, cfg, meta = load_gan_checkpoint(path)
    gan.eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        z = torch.randn(rows, cfg["z_dim"], generator=gen)
        x = gan.G(z)
    steps = []
    for opt in (opt_g, opt_d):
        st = [s["step"].item() for s in opt.state.values() if "step" in s]
        steps.append(int(st[0]) if st else 0)
    n_g = sum(p.numel() for p in gan.G.parameters())
    n_d = sum(p.numel() for p in gan.D.parameters())
    print(f"{path}: G {n_g} parameters, D {n_d} parameters, Adam steps G {steps[0]} "
          f"D {steps[1]}, state {meta.get('state', '{}')}")
    print(f"G sample mean over {rows} rows: {x.mean().item():.6f} "
          f"(min {x.min().item():.6f}, max {x.max().item():.6f})")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check-checkpoint", metavar="FILE",
                    help="load a gan_cuda checkpoint and print a G sample's mean")
    ap.add_argument("--rows", type=int, default=64, help="sample rows for --check-checkpoint")
    ap.add_argument("--seed", type=int, default=0, help="torch seed (sample noise, peer)")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--mode", choices=MODES, help="run the benchmark peer in this mode")
    ap.add_argument("--batch", type=int, default=128, help="batch size")
    ap.add_argument("--tf32", action="store_true", help="TF32 matrix products")
    ap.add_argument("--init", metavar="CHECKPOINT", help="gan_cuda's initial weights")
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "data", "mnist"),
                    help="directory of MNIST IDX files")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--blocks", type=int, default=30, help="timed blocks")
    ap.add_argument("--iters-per-block", type=int, default=20, help="iterations per block")
    ap.add_argument("--warmup", type=int, default=20, help="iterations before timing")
    ap.add_argument("--json", metavar="OUT", help="write the results here")
    ap.add_argument("--serve", action="store_true",
                    help="time one block per 'block' line on stdin")
    ap.add_argument("--count-kernels", action="store_true",
                    help="count GPU kernels per iteration with the profiler, after timing")
    ap.add_argument("--epochs", type=int, default=0,
                    help="train this many epochs end to end instead of timing blocks")
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU threads of PyTorch's ops (torch.set_num_threads; 0: its default)")
    args = ap.parse_args(argv)
    if args.check_checkpoint:
        return check_checkpoint(args.check_checkpoint, args.rows, args.seed)
    if args.mode:
        for name in ("batch", "iters_per_block"):
            if getattr(args, name) < 1:
                ap.error(f"--{name.replace('_', '-')} must be at least 1")
        if args.blocks < 0 or args.warmup < 0 or args.epochs < 0 or args.threads < 0:
            ap.error("--blocks, --warmup, --epochs and --threads must not be negative")
        if args.threads:
            torch.set_num_threads(args.threads)
        sys.path.insert(0, here)
        return run_peer(args)
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
