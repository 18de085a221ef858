"""study.py — trains training recipes and scores each with `gan_cuda eval`.

A plan (JSON, see tools/quality/plan.json) names stages; a stage has a number of epochs, a
list of seeds, optional base_flags and a list of configurations, each a name and the gan_cuda
flags that differ from the base (a flag given again replaces the base's), and optionally its
own "seeds" (a finalist found in a one-seed stage gets a second seed). Entries may say
"program": "torch" to train the recipe of another entry
(same flags, same seed) with the PyTorch peer (tools/quality/torch_train.py) instead, or
"eval_of": NAME to train nothing and evaluate NAME's checkpoints again with "eval_flags"
(e.g. ["--weights", "raw"] for a run's raw weights beside its weight average). NAME is a
configuration of the same stage, or STAGE/NAME one of another stage.

For every (stage, configuration, seed) the study runs, in RUNS/<stage>/<name>/seed<S>/:
  gan_cuda --epochs E --seed S --out . <flags>        (or the PyTorch peer)
  gan_cuda eval --checkpoint checkpoint.safetensors --classifier CLASSIFIER --out eval.json
and records the command, the wall time, the iterations and the backend in run.json. A run
whose eval.json exists is not run again, so a study can be stopped and continued, and
`--report-only` rebuilds the report from what is there.

The report (--md, --json; by default docs/quality/study.{md,json}) has one row per
(stage, configuration): the mean and the spread (min..max) over its seeds of every metric,
the iterations and the wall time per run, and which backend trained it.

Usage:
  python tools/quality/study.py --plan tools/quality/plan.json --stage screen \\
      [--only NAME ...] [--runs out/study] [--classifier FILE] [--gan build/release/gan_cuda]
      [--device cpu] [--threads N] [--report-only]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

# (key in the report, label, path into eval.json's "metrics", digits)
METRICS = [
    ("kl", "KL to uniform", ("classes", "kl_to_uniform"), 3),
    ("min_class", "rarest class %", None, 1),
    ("max_class", "commonest class %", None, 1),
    ("covered", "classes ≥ 2%", None, 1),
    ("frechet", "Fréchet", ("frechet_distance",), 1),
    ("precision", "precision", ("precision",), 3),
    ("recall", "recall", ("recall",), 3),
    ("parzen", "Parzen (nats)", ("parzen", "log_likelihood"), 1),
    ("nn_ratio", "NN ratio", ("nearest_train", "ratio"), 2),
]


def log(msg):
    print(f"[study {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def metric_values(ev):
    m = ev["metrics"]
    out = {}
    for key, _, path, _ in METRICS:
        if path is None:
            continue
        v = m
        for p in path:
            v = v[p]
        out[key] = float(v)
    hist = m["classes"]["histogram"]
    n = sum(hist)
    shares = [100.0 * h / n for h in hist]
    out["min_class"] = min(shares)
    out["max_class"] = max(shares)
    out["covered"] = float(sum(1 for s in shares if s >= 2.0))
    return out


def run(cmd, log_path, cwd=None):
    """Runs cmd with output into log_path; returns the wall time. Raises on failure."""
    t0 = time.perf_counter()
    with open(log_path, "w") as f:
        status = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=cwd)
    seconds = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {status}; see {log_path}")
    return seconds


def merge_flags(base, flags):
    """base flags ("--name value" pairs) with those that `flags` sets again left out, then
    `flags`: a configuration says only what differs from its stage's base_flags."""
    given = {f for f in flags if f.startswith("--")}
    out, i = [], 0
    while i < len(base):
        has_value = i + 1 < len(base) and not base[i + 1].startswith("--")
        if base[i] not in given:
            out += base[i:i + 1 + has_value]
        i += 1 + has_value
    return out + list(flags)


def find_entry(plan, stage_name, ref):
    """(stage name, stage, configuration) that `ref` names: NAME in stage_name, or STAGE/NAME."""
    if "/" in ref:
        stage_name, ref = ref.split("/", 1)
    stage = plan["stages"].get(stage_name)
    entry = stage and next((e for e in stage["configs"] if e["name"] == ref), None)
    if entry is None:
        raise SystemExit(f"study: no configuration named {ref} in stage {stage_name}")
    return stage_name, stage, entry


def entry_flags(plan, stage_name, entry):
    other = entry.get("recipe") or entry.get("eval_of")
    stage = plan["stages"][stage_name]
    if other:
        _, stage, entry = find_entry(plan, stage_name, other)
    return merge_flags(stage.get("base_flags", []), entry.get("flags", []))


def entry_seeds(stage, entry):
    """The seeds of an entry: its own "seeds", or its stage's."""
    return entry.get("seeds", stage["seeds"])


def run_one(args, plan, stage_name, stage, entry, seed):
    d = os.path.join(args.runs, stage_name, entry["name"], f"seed{seed}")
    eval_path = os.path.join(d, "eval.json")
    if os.path.exists(eval_path):
        return d
    if args.report_only:
        return None
    os.makedirs(d, exist_ok=True)
    epochs = stage["epochs"]
    flags = entry_flags(plan, stage_name, entry)
    program = entry.get("program", "gan_cuda")
    threads = ["--threads", str(args.threads)] if args.threads else []
    ckpt = os.path.join(d, "checkpoint.safetensors")
    if entry.get("eval_of"):
        program = "eval only"
        of_stage, _, of = find_entry(plan, stage_name, entry["eval_of"])
        ckpt = os.path.join(args.runs, of_stage, of["name"], f"seed{seed}",
                            "checkpoint.safetensors")
        if not os.path.exists(ckpt):
            raise SystemExit(f"study: {entry['name']} needs {ckpt} (run {entry['eval_of']} first)")
        backend = "(the checkpoint of " + entry["eval_of"] + ")"
    elif program == "torch":
        # The recipe (its TrainConfig) is read from the gan_cuda run of the same entry and seed.
        ref = os.path.join(args.runs, stage_name, entry["recipe"], f"seed{seed}",
                           "checkpoint.safetensors")
        if not os.path.exists(ref):
            raise SystemExit(f"study: {entry['name']} needs {ref} (run {entry['recipe']} first)")
        cmd = [args.python, os.path.join(HERE, "torch_train.py"), "--config", ref, "--epochs",
               str(epochs), "--out", ckpt, "--data", args.data] + threads
        backend = "pytorch " + args.device
    else:
        cmd = [args.gan, "--out", d, "--data", args.data, "--log-every", "500", "--epochs",
               str(epochs), "--seed", str(seed), "--device", args.device] + flags + threads
        backend = "gan_cuda " + args.device
    eval_cmd = [args.gan, "eval", "--checkpoint", ckpt, "--out", eval_path, "--data", args.data,
                "--device", args.device] + entry.get("eval_flags", []) + threads
    if args.classifier:
        eval_cmd += ["--classifier", args.classifier]
    train_s = None
    if program == "eval only":
        cmd = eval_cmd
    else:
        log(f"{stage_name}/{entry['name']}/seed{seed}: {' '.join(cmd[1:])}")
        train_s = run(cmd, os.path.join(d, "train.log"))
    eval_s = run(eval_cmd, os.path.join(d, "eval.log"))
    with open(eval_path) as f:
        ev = json.load(f)
    info = {"stage": stage_name, "name": entry["name"], "seed": seed, "epochs": epochs,
            "program": program, "backend": backend, "flags": flags, "command": cmd[1:],
            "iterations": ev.get("iteration"), "train_s": train_s, "eval_s": eval_s}
    with open(os.path.join(d, "run.json"), "w") as f:
        json.dump(info, f, indent=2)
    log(f"  {entry['name']}/seed{seed}: {train_s or 0:.0f} s; " + ", ".join(f"{k} {v:.3f}" for k, v in metric_values(ev).items()))
    return d


def collect(args, plan):
    rows = []
    for stage_name, stage in plan["stages"].items():
        for entry in stage["configs"]:
            runs = []
            for seed in entry_seeds(stage, entry):
                d = os.path.join(args.runs, stage_name, entry["name"], f"seed{seed}")
                if not os.path.exists(os.path.join(d, "eval.json")):
                    continue
                with open(os.path.join(d, "eval.json")) as f:
                    ev = json.load(f)
                info = {}
                if os.path.exists(os.path.join(d, "run.json")):
                    with open(os.path.join(d, "run.json")) as f:
                        info = json.load(f)
                runs.append({"seed": seed, "metrics": metric_values(ev),
                             "iterations": ev.get("iteration"),
                             "train_s": info.get("train_s"), "backend": info.get("backend")})
            if not runs:
                continue
            summary = {}
            for key, *_ in METRICS:
                vals = [r["metrics"][key] for r in runs]
                summary[key] = {"mean": statistics.fmean(vals), "min": min(vals),
                                "max": max(vals)}
            rows.append({"stage": stage_name, "name": entry["name"],
                         "note": entry.get("note", ""),
                         "flags": entry_flags(plan, stage_name, entry) + entry.get("eval_flags", []),
                         "program": entry.get("program", "gan_cuda"),
                         "epochs": stage["epochs"], "seeds": [r["seed"] for r in runs],
                         "runs": runs, "summary": summary})
    return rows


def fmt(s, digits, spread):
    text = f"{s['mean']:.{digits}f}"
    if spread:
        text += f" ({s['min']:.{digits}f}..{s['max']:.{digits}f})"
    return text


def write_report(args, plan, rows):
    with open(args.json, "w") as f:
        json.dump({"plan": plan, "rows": rows}, f, indent=2)
    lines = ["# Recipe study", "",
             "Written by `tools/quality/study.py` from the runs it trained; every number is "
             "`gan_cuda eval` on 10,000 samples (mean over seeds, min..max in brackets where "
             "there is more than one seed). Classes ≥ 2%: digits that make up at least 2% of "
             "the samples. NN ratio: median distance from a sample to its nearest training "
             "image over the same for test images (below 1: closer to the training set).", ""]
    for stage_name, stage in plan["stages"].items():
        srows = [r for r in rows if r["stage"] == stage_name]
        if not srows:
            continue
        lines += [f"## {stage_name}: {stage['epochs']} epochs, seeds "
                  f"{', '.join(map(str, stage['seeds']))}", ""]
        if stage.get("note"):
            lines += [stage["note"], ""]
        head = ["configuration", "flags", "seeds"] + [m[1] for m in METRICS] + \
               ["iterations", "train s / run", "trained by"]
        lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for r in srows:
            spread = len(r["runs"]) > 1
            cells = [r["name"], "`" + " ".join(r["flags"]) + "`" if r["flags"] else "defaults",
                     str(len(r["runs"]))]
            cells += [fmt(r["summary"][key], digits, spread) for key, _, _, digits in METRICS]
            its = {run["iterations"] for run in r["runs"]}
            secs = [run["train_s"] for run in r["runs"] if run["train_s"]]
            cells += [", ".join(str(i) for i in sorted(its)),
                      f"{statistics.fmean(secs):.0f}" if secs else "–",
                      ", ".join(sorted({run["backend"] or "–" for run in r["runs"]}))]
            lines.append("| " + " | ".join(cells) + " |")
        notes = [f"- **{r['name']}**: {r['note']}" for r in srows if r["note"]]
        lines += [""] + notes + ([""] if notes else [])
    with open(args.md, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    log(f"wrote {args.md} and {args.json}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plan", default=os.path.join(HERE, "plan.json"))
    ap.add_argument("--stage", action="append", help="stage(s) to run (default: every stage)")
    ap.add_argument("--only", action="append", help="only these configurations")
    ap.add_argument("--seeds", help="comma-separated seeds instead of the stage's")
    ap.add_argument("--runs", default=os.path.join(ROOT, "out", "study"))
    ap.add_argument("--gan", default=os.path.join(ROOT, "build", "release", "gan_cuda"))
    ap.add_argument("--python", default=sys.executable, help="interpreter that has torch")
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"))
    ap.add_argument("--classifier", help="classifier of every eval (gan_cuda train-classifier); "
                                         "trained once into RUNS/classifier.safetensors if absent")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, help="CPU threads of each gan_cuda run and eval "
                                                "and of each PyTorch peer (default: each "
                                                "program's own, every core)")
    ap.add_argument("--md", default=os.path.join(ROOT, "docs", "quality", "study.md"))
    ap.add_argument("--json", default=os.path.join(ROOT, "docs", "quality", "study.json"))
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args(argv)
    with open(args.plan) as f:
        plan = json.load(f)
    os.makedirs(args.runs, exist_ok=True)
    if not args.classifier and not args.report_only:
        args.classifier = os.path.join(args.runs, "classifier.safetensors")
        if not os.path.exists(args.classifier):
            log("training the evaluation's classifier once")
            run([args.gan, "train-classifier", "--data", args.data, "--out", args.classifier,
                 "--device", args.device], os.path.join(args.runs, "classifier.log"))
    stages = args.stage or list(plan["stages"])
    for name in stages:
        if name not in plan["stages"]:
            raise SystemExit(f"study: no stage {name!r} in {args.plan}")
        stage = plan["stages"][name]
        for entry in stage["configs"]:
            if args.only and entry["name"] not in args.only:
                continue
            seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else \
                entry_seeds(stage, entry)
            for seed in seeds:
                run_one(args, plan, name, stage, entry, seed)
    write_report(args, plan, collect(args, plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
