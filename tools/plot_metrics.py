#!/usr/bin/env python3
"""plot_metrics.py — draws a gan_cuda run's metrics.jsonl into PNG files.

Reads the per-step training records (d_loss, g_loss, d_real, d_fake, g_fake, ...) and the
evaluation records that `--eval-every N` appends ({"step", "epoch", "eval": {...}}, see
apps/training_eval.hpp), and writes into --out (default: <run>/plots):
  losses.png         D and G losses against epochs
  discriminator.png  mean D(x), D(G(z)) in the D step and in the G step (0.5 marked)
  eval.png           (with evaluation records) Parzen log-likelihood +- standard error,
                     Fréchet distance, precision and recall, classes covered and
                     KL(p_gen || uniform), median distance to the nearest training image of
                     samples and of test images

Usage:  python tools/plot_metrics.py RUN_DIR_OR_METRICS_JSONL [--out DIR]
Needs matplotlib (e.g. `pip install matplotlib` in a virtual environment). A torn last line
(a run killed mid-write) is skipped with a warning.
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_records(path):
    train, evals = [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                print(f"{path}:{number}: skipping a line that is not JSON", file=sys.stderr)
                continue
            (evals if "eval" in record else train).append(record)
    return train, evals


def series(records, key):
    pts = [(r["epoch"], r[key]) for r in records if key in r and r[key] is not None]
    return [p[0] for p in pts], [p[1] for p in pts]


def plot_losses(train, out):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for key, label in (("d_loss", "D loss  -V(D,G)"), ("g_loss", "G loss")):
        x, y = series(train, key)
        ax.plot(x, y, label=label, linewidth=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("losses")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_discriminator(train, out):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for key, label in (("d_real", "D(x)"), ("d_fake", "D(G(z)), D step"),
                       ("g_fake", "D(G(z)), G step")):
        x, y = series(train, key)
        ax.plot(x, y, label=label, linewidth=1)
    ax.axhline(0.5, color="gray", linestyle="--", linewidth=0.8, label="1/2 (equilibrium)")
    ax.set_ylim(0, 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean discriminator output")
    ax.set_title("discriminator")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_eval(evals, out):
    epochs = [r["epoch"] for r in evals]
    e = [r["eval"] for r in evals]
    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    ax = axes[0][0]
    ax.errorbar(epochs, [m["parzen"]["log_likelihood"] for m in e],
                yerr=[m["parzen"]["standard_error"] for m in e], marker="o", capsize=3)
    ax.set_title("Parzen log-likelihood (nats)")
    ax = axes[0][1]
    ax.plot(epochs, [m["frechet_distance"] for m in e], marker="o")
    ax.set_yscale("log")
    ax.set_title("Fréchet distance (classifier features)")
    ax = axes[0][2]
    ax.plot(epochs, [m["precision"] for m in e], marker="o", label="precision")
    ax.plot(epochs, [m["recall"] for m in e], marker="o", label="recall")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"precision / recall (k = {e[-1].get('k', 3)})")
    ax.legend()
    ax = axes[1][0]
    ax.plot(epochs, [m["classes"]["covered"] for m in e], marker="o")
    ax.set_ylim(0, len(e[-1]["classes"]["histogram"]) + 0.5)
    ax.set_title("classes covered")
    ax = axes[1][1]
    ax.plot(epochs, [m["classes"]["kl_to_uniform"] for m in e], marker="o")
    ax.set_title("KL(p_gen || uniform)")
    ax = axes[1][2]
    ax.plot(epochs, [m["nearest_train"]["samples_median"] for m in e], marker="o",
            label="samples")
    ax.plot(epochs, [m["nearest_train"]["test_median"] for m in e], linestyle="--",
            label="test images")
    ax.set_title("median distance to the nearest training image")
    ax.legend()
    for row in axes:
        for a in row:
            a.set_xlabel("epoch")
            a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("metrics", help="a run directory or its metrics.jsonl")
    p.add_argument("--out", help="directory of the PNG files (default: <run>/plots)")
    args = p.parse_args()
    path = args.metrics
    if os.path.isdir(path):
        path = os.path.join(path, "metrics.jsonl")
    if not os.path.isfile(path):
        sys.exit(f"plot_metrics: no such file: {path}")
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(path)), "plots")
    os.makedirs(out, exist_ok=True)
    train, evals = read_records(path)
    if not train and not evals:
        sys.exit(f"plot_metrics: {path} holds no records")
    written = []
    if train:
        plot_losses(train, os.path.join(out, "losses.png"))
        plot_discriminator(train, os.path.join(out, "discriminator.png"))
        written += ["losses.png", "discriminator.png"]
    if evals:
        plot_eval(evals, os.path.join(out, "eval.png"))
        written.append("eval.png")
    print(f"wrote {', '.join(written)} to {out}")


if __name__ == "__main__":
    main()
