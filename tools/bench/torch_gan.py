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
tensors as the two state_dicts (strict), and the adam.* tensors as torch.optim.Adam state.

Command line:
  python torch_gan.py --check-checkpoint FILE [--rows N] [--seed S]
      loads FILE and prints the mean of N eval-mode generator samples (and the Adam steps).

Importing this file does no work.
"""

import argparse
import json
import sys

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


def make_adam(module, lr=2e-4, betas=(0.5, 0.999), eps=1e-8):
    return torch.optim.Adam(module.parameters(), lr=lr, betas=betas, eps=eps)


def make_optimizers(gan, cfg=None):
    """Adam for G and D with the config's hyper-parameters (the engine's defaults if None)."""
    kw = {}
    if cfg is not None:
        kw = dict(lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"])
    return make_adam(gan.G, **kw), make_adam(gan.D, **kw)


# ---- one training step ---------------------------------------------------------------


class DStepResult:
    """Scalars of a D step (the engine's StepMetrics D fields)."""

    def __init__(self, d_loss, d_real, d_fake):
        self.d_loss, self.d_real, self.d_fake = d_loss, d_real, d_fake
        self.value = -d_loss  # V(D, G) = mean log D(x) + mean log(1 - D(G(z)))


class GStepResult:
    def __init__(self, g_loss, g_fake):
        self.g_loss, self.g_fake = g_loss, g_fake


def d_loss_fn(real_logits, fake_logits):
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) +
            F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_loss_fn(fake_logits, g_loss="non-saturating"):
    if g_loss == "non-saturating":  # -mean log D(G(z))
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    if g_loss == "minimax":  # mean log(1 - D(G(z)))
        return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    raise ValueError(f"g_loss must be 'non-saturating' or 'minimax', got {g_loss!r}")


def d_step(gan, opt_d, x_real, z, step=True):
    """One D update: G(z) in training mode without gradients, D on [x_real; G(z)].

    Leaves D's gradients in .grad (they are set, not accumulated). Returns DStepResult."""
    with torch.no_grad():
        fake = gan.G(z)
    opt_d.zero_grad(set_to_none=True)
    logits = gan.D(torch.cat([x_real, fake], dim=0))
    n = x_real.shape[0]
    loss = d_loss_fn(logits[:n], logits[n:])
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
    Adam moments and step counts unless it is weights-only (then they are fresh)."""
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
    opt_g, opt_d = make_optimizers(gan, cfg)
    _adam_state_into(opt_g, gan.G, tensors, "adam.G.")
    _adam_state_into(opt_d, gan.D, tensors, "adam.D.")
    return gan, opt_g, opt_d, cfg, meta


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
    ap.add_argument("--seed", type=int, default=0, help="torch seed of the sample noise")
    args = ap.parse_args(argv)
    if args.check_checkpoint:
        return check_checkpoint(args.check_checkpoint, args.rows, args.seed)
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
