"""tile_mnist.py — a training set of N x the bundled images, for the 60,000-image benchmarks.

The bundled data/mnist holds 10,000 training digits; the benchmarks time epochs of 60,000
images (the size of the full MNIST training set), so this writes the bundled images and
labels repeated `--times` times (6 by default), in order, as raw (uncompressed) IDX files
that gan_cuda and tools/bench/torch_gan.py both read:
    OUT/train-images-idx3-ubyte, OUT/train-labels-idx1-ubyte
Every epoch then sees each bundled digit `times` times; the arithmetic per iteration is that
of the full data set. Standard library only.

Usage: python tile_mnist.py OUT [--data DIR] [--times N]
"""

import argparse
import gzip
import os
import sys


def read_idx(path):
    """(header bytes, dims, payload bytes) of a raw or gzip IDX file of unsigned bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    payload = raw[4 + 4 * rank:]
    size = 1
    for d in dims:
        size *= d
    if len(payload) != size:
        raise ValueError(f"{path}: {len(payload)} payload bytes, the header says {dims}")
    return dims, payload


def find(data_dir, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(data_dir, candidate)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{data_dir}: no {name}[.gz]")


def write_idx(path, dims, payload):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(bytes([0, 0, 8, len(dims)]))
        for d in dims:
            f.write(d.to_bytes(4, "big"))
        f.write(payload)
    os.replace(tmp, path)


def tile(data_dir, out_dir, times):
    os.makedirs(out_dir, exist_ok=True)
    counts = []
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        dims, payload = read_idx(find(data_dir, name))
        write_idx(os.path.join(out_dir, name), [dims[0] * times] + dims[1:], payload * times)
        counts.append(dims[0] * times)
    if counts[0] != counts[1]:
        raise ValueError(f"{data_dir}: {counts[0]} images but {counts[1]} labels")
    return counts[0]


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="output directory")
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "data", "mnist"))
    ap.add_argument("--times", type=int, default=6)
    args = ap.parse_args(argv)
    if args.times < 1:
        ap.error("--times must be at least 1")
    n = tile(args.data, args.out, args.times)
    print(f"{args.out}: {n} images ({args.times} x {args.data})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
