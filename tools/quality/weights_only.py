"""weights_only.py — a gan_cuda checkpoint without its optimizer state, for sharing.

Copies every tensor of a checkpoint except the Adam moments and steps (adam.*) and marks the
metadata weights_only = "true", as engine/checkpoint.cpp writes weights-only files: G., D.
and, with --g-ema, G_ema. tensors stay, so `gan_cuda sample` and `gan_cuda eval` load the
result (resuming training from it starts a fresh optimizer). Written atomically.

Usage (needs safetensors and torch):
  python tools/quality/weights_only.py IN.safetensors OUT.safetensors
"""

import os
import sys

from safetensors import safe_open
from safetensors.torch import load_file, save_file


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: weights_only.py IN.safetensors OUT.safetensors")
    src, dst = argv
    with safe_open(src, framework="pt") as f:
        meta = dict(f.metadata() or {})
    if meta.get("format") != "gan_cuda-checkpoint":
        raise SystemExit(f"weights_only: {src}: not a gan_cuda checkpoint")
    tensors = {k: v for k, v in load_file(src).items() if not k.startswith("adam.")}
    meta["weights_only"] = "true"
    tmp = dst + ".tmp"
    save_file(tensors, tmp, metadata=meta)
    os.replace(tmp, dst)
    print(f"wrote {dst}: {len(tensors)} tensors, "
          f"{sum(t.numel() for t in tensors.values()) * 4 / 2**20:.1f} MiB")


if __name__ == "__main__":
    main(sys.argv[1:])
