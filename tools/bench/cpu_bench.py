"""cpu_bench.py — gan_cuda's CPU backend against PyTorch on the same cores, one command.

  python3 tools/bench/cpu_bench.py [--build build/release] [--threads N] [--batches "64 128 256"]
                                   [--rounds 15] [--iters-per-block 10] [--warmup 10]
                                   [--e2e-epochs 50] [--e2e-torch] [--out docs/bench]

Steps:
  1. the machine: CPU model, family/model, vector extensions, the cores this process may use,
     the thread count used (--threads, default: all those cores, for both programs);
  2. peak: gan_cpu_peak (tools/bench/cpu_peak.cpp) measures the FP32 multiply-add ceiling of
     that many threads in the widest instruction set, 3 times before the timings and 3 after;
     the highest counts (each is a measurement at that moment's clock and load);
     the nominal peak, cores x lanes x 2 FLOPs x 2 FMA pipes x the clock /proc/cpuinfo reports,
     is given beside it (2 pipes is an assumption true of current Intel and AMD server cores);
  3. initial weights written by gan_cuda (bench --save-init), read by PyTorch (--init);
  4. per batch: `gan_cuda bench --device cpu --threads N --serve` and `torch_gan.py --mode
     eager --device cpu --threads N --serve` are set up (warm-up included) one after the
     other, then asked for one block each, alternately, in an order swapped every round, for
     --rounds rounds; each block reports its wall time and its process CPU time. A shared
     machine slows both alike within a round; CPU time (user + system) shows the work done,
     wall time what a user waits;
  5. with --e2e-epochs E: `gan_cuda train --device cpu --threads N --epochs E` on --data (the
     bundled complete MNIST: 60,000 digits, 468 iterations per epoch at batch 128) with its
     default flags (a sample grid and a checkpoint every epoch), timed as a whole process
     (wall, user, system); with --e2e-torch also torch_gan.py --epochs E (its training loop).
Writes OUT/cpu-<date>-<commit>-t<threads>.json (everything) and .md (the tables). Standard
library only; PyTorch is needed by the torch_gan.py processes (--python). Absolute numbers from a machine
that others are using are provisional: rerun on a quiet machine for the record.
"""

import argparse
import datetime
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import run_bench  # noqa: E402  (Server, git_commit, python_env)
from stats import summarize  # noqa: E402

log = run_bench.log


def rel(path):
    """A path inside the repository relative to its root (reports name no machine paths)."""
    full = os.path.abspath(path)
    return os.path.relpath(full, ROOT) if full.startswith(ROOT + os.sep) else os.path.basename(full)


def cpu_info():
    info = {"model": None, "family": None, "model_number": None, "mhz": None, "flags": []}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return info
    block = text.split("\n\n")[0]
    fields = {}
    for line in block.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    info["model"] = fields.get("model name")
    info["family"] = fields.get("cpu family")
    info["model_number"] = fields.get("model")
    info["mhz"] = float(fields["cpu MHz"]) if "cpu MHz" in fields else None
    flags = set(fields.get("flags", "").split())
    info["flags"] = sorted(flags & {"sse2", "avx", "avx2", "fma", "avx512f", "avx512bw",
                                    "avx512dq", "avx512vl", "avx512_bf16", "amx_tile"})
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") as f:
            info["max_mhz"] = int(f.read()) / 1000.0
    except OSError:
        info["max_mhz"] = None
    return info


def nominal_peak(info, threads):
    """GFLOP/s: threads x lanes x 2 (multiply-add) x 2 FMA pipes x clock (GHz)."""
    mhz = info.get("max_mhz") or info.get("mhz")
    if not mhz:
        return None
    flags = set(info["flags"])
    lanes = 16 if "avx512f" in flags else 8 if {"avx2", "fma"} <= flags else 4
    return {"gflop_per_s": threads * lanes * 2 * 2 * mhz / 1000.0, "lanes": lanes,
            "fma_pipes": 2, "mhz": mhz,
            "mhz_from": "cpuinfo_max_freq" if info.get("max_mhz") else "/proc/cpuinfo cpu MHz"}


def idx_count(data_dir):
    """Images in <dir>/train-images-idx3-ubyte[.gz], from the IDX header."""
    import gzip

    for name in ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rb") as f:
                head = f.read(8)
            return int.from_bytes(head[4:8], "big")
    raise FileNotFoundError(f"{data_dir}: no train-images-idx3-ubyte[.gz]")


def run_json(cmd, path, log_path, timeout=600):
    status, secs = run_bench.run_command(cmd, log_path, timeout)
    if status != 0 or not os.path.exists(path):
        raise RuntimeError(f"{' '.join(cmd)}: status {status} (see {log_path})")
    with open(path) as f:
        return json.load(f)


def timed_process(cmd, log_path, timeout):
    """(status, wall s, user s, system s) of a child process."""
    t0 = time.monotonic()
    with open(log_path, "w") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except BaseException:
            p.kill()
            raise
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    if wall > timeout:
        log(f"note: {cmd[0]} took {wall:.0f} s, beyond the {timeout:.0f} s expected")
    return p.returncode, wall, ru.ru_utime, ru.ru_stime


def per_iter(ms_list, iters):
    return summarize([ms * 1e3 / iters for ms in ms_list]) if ms_list else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"),
                    help="build folder holding gan_cuda and gan_cpu_peak")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                    help="threads of both programs (default: the cores this process may use)")
    ap.add_argument("--batches", default="64 128 256")
    ap.add_argument("--rounds", type=int, default=15, help="alternating blocks per program")
    ap.add_argument("--iters-per-block", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"),
                    help="MNIST IDX folder of the timed blocks")
    ap.add_argument("--e2e-epochs", type=int, default=0,
                    help="also time gan_cuda train for this many epochs of 60,000 digits")
    ap.add_argument("--e2e-torch", action="store_true", help="and torch_gan.py --epochs likewise")
    ap.add_argument("--python", default=sys.executable, help="interpreter that has torch")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "bench"),
                    help="folder of cpu-<date>-<commit>-t<threads>.md/.json")
    ap.add_argument("--keep", help="keep the runs' files in this folder (default: a temporary one)")
    args = ap.parse_args(argv)
    if args.threads < 1 or args.rounds < 1 or args.iters_per_block < 1 or args.warmup < 0:
        ap.error("--threads, --rounds and --iters-per-block must be at least 1, --warmup >= 0")

    gan = os.path.join(args.build, "gan_cuda")
    peak_bin = os.path.join(args.build, "gan_cpu_peak")
    for b in (gan, peak_bin):
        if not os.path.exists(b):
            sys.exit(f"cpu_bench: {b} is missing: build first (cmake --build --preset release)")
    torch_gan = os.path.join(HERE, "torch_gan.py")
    work = args.keep or tempfile.mkdtemp(prefix="gan-cpu-bench-")
    os.makedirs(work, exist_ok=True)
    T = args.threads
    info = cpu_info()
    res = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git": run_bench.git_commit(), "cpu": info, "cores_available": len(os.sched_getaffinity(0)),
        "threads": T, "python": run_bench.python_env(args.python),
        "load_average_before": os.getloadavg(),
        "settings": {k: (rel(v) if k == "data" else v) for k, v in vars(args).items()
                     if k not in ("build", "python", "out", "keep")},
        "runs": [], "e2e": [], "failures": [],
    }

    # 2. peak (again after the timings: the highest of all counts)
    peak_json = os.path.join(work, "peak.json")
    res["peak_samples"] = []

    def measure_peak():
        for _ in range(3):
            res["peak_samples"].append(run_json(
                [peak_bin, "--threads", str(T), "--seconds", "0.3", "--json", peak_json],
                peak_json, os.path.join(work, "peak.log")))
        res["peak_measured"] = max(res["peak_samples"], key=lambda p: p["gflop_per_s"])

    measure_peak()
    res["peak_nominal"] = nominal_peak(info, T)
    log(f"peak: measured {res['peak_measured']['gflop_per_s']:.0f} GFLOP/s "
        f"({res['peak_measured']['isa']}, {T} threads)")

    # 3. initial weights
    init = os.path.join(work, "init.safetensors")
    status, _ = run_bench.run_command([gan, "bench", "--device", "cpu", "--data", args.data,
                                       "--blocks", "0", "--save-init", init],
                                      os.path.join(work, "init.log"), 300)
    if status != 0:
        sys.exit(f"cpu_bench: gan_cuda bench --save-init failed (see {work}/init.log)")

    # 4. alternating blocks per batch
    common = ["--data", args.data, "--warmup", str(args.warmup), "--iters-per-block",
              str(args.iters_per_block), "--serve"]
    peer_env = dict(os.environ, PYTHONUNBUFFERED="1")
    for b in [int(w) for w in args.batches.replace(",", " ").split()]:
        servers = []
        for program in ("gan_cuda", "pytorch"):
            name = f"{program}-b{b}"
            path = os.path.join(work, name + ".json")
            if program == "gan_cuda":
                cmd = [gan, "bench", "--device", "cpu", "--threads", str(T), "--batch", str(b),
                       *common, "--json", path]
                env = None
            else:
                cmd = [args.python, torch_gan, "--mode", "eager", "--device", "cpu", "--threads",
                       str(T), "--batch", str(b), "--init", init, *common, "--json", path]
                env = peer_env
            servers.append(run_bench.Server(name, cmd, path, os.path.join(work, name + ".log"),
                                            (b, "fp32"), env))
        for s in servers:  # one set-up at a time: nothing else runs while one warms up
            s.start()
            deadline = time.monotonic() + 300
            while not s.poll_ready():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{s.label}: not ready after 300 s")
                time.sleep(0.05)
        log(f"batch {b}: {args.rounds} rounds of {args.iters_per_block} iterations each")
        for r in range(args.rounds):
            for s in (servers if r % 2 == 0 else servers[::-1]):
                s.block(600)
        for s in servers:
            j = s.quit(120)
            if j is None:
                res["failures"].append(f"{s.label}: {s.failed}")
                continue
            j["label"] = s.label
            if j.get("init"):
                j["init"] = os.path.basename(j["init"])  # the run's own initial weights
            j["us_per_iter_cpu"] = per_iter(j.get("block_cpu_ms", []), args.iters_per_block)
            res["runs"].append(j)
            log(f"  {s.label}: {j['us_per_iter']['median']:.0f} us/iteration wall, "
                f"{j['us_per_iter_cpu']['median']:.0f} us CPU")

    # 5. end to end
    if args.e2e_epochs > 0:
        data = args.data
        count = idx_count(data)
        out_dir = os.path.join(work, "e2e-gan")
        shutil.rmtree(out_dir, ignore_errors=True)
        cmd = [gan, "train", "--device", "cpu", "--threads", str(T), "--data", data,
               "--epochs", str(args.e2e_epochs), "--out", out_dir]
        log(f"end to end: {' '.join(cmd[1:])}")
        status, wall, user, system = timed_process(cmd, os.path.join(work, "e2e-gan.log"), 3600)
        shown = ["OUT" if a == out_dir else rel(a) if os.path.isabs(a) else a for a in cmd[1:]]
        entry = {"program": "gan_cuda", "command": "gan_cuda " + " ".join(shown),
                 "status": status, "epochs": args.e2e_epochs, "images": count,
                 "wall_s": wall, "user_s": user, "system_s": system}
        metrics = os.path.join(out_dir, "metrics.jsonl")
        if os.path.exists(metrics):
            with open(metrics) as f:
                last = [json.loads(line) for line in f if line.strip() and '"d_loss"' in line]
            if last:
                entry.update(iterations=last[-1].get("step"), loop_s=last[-1].get("time_s"),
                             last_d_loss=last[-1].get("d_loss"), last_g_loss=last[-1].get("g_loss"))
        res["e2e"].append(entry)
        log(f"  gan_cuda: status {status}, {wall:.0f} s wall ({user:.0f} s user, "
            f"{system:.0f} s system)")
        if args.e2e_torch:
            path = os.path.join(work, "e2e-torch.json")
            cmd = [args.python, torch_gan, "--mode", "eager", "--device", "cpu", "--threads",
                   str(T), "--batch", "128", "--data", data, "--epochs", str(args.e2e_epochs),
                   "--init", init, "--json", path]
            status, wall, user, system = timed_process(cmd, os.path.join(work, "e2e-torch.log"),
                                                       7200)
            entry = {"program": "pytorch", "status": status, "epochs": args.e2e_epochs,
                     "wall_s": wall, "user_s": user, "system_s": system}
            if os.path.exists(path):
                with open(path) as f:
                    j = json.load(f)
                entry.update(loop_s=j.get("loop_s"), iterations=j.get("iterations"))
            res["e2e"].append(entry)
            log(f"  pytorch: status {status}, {wall:.0f} s wall")

    res["load_average_after"] = os.getloadavg()
    measure_peak()
    write_report(res, args)
    return 0


def fmt(v, digits=0):
    return "—" if v is None else f"{v:,.{digits}f}"


def write_report(res, args):
    commit = (res["git"].get("commit") or "unknown")[:10]
    stem = os.path.join(args.out, f"cpu-{res['date'][:10]}-{commit}-t{res['threads']}")
    os.makedirs(args.out, exist_ok=True)
    peak = res["peak_measured"]["gflop_per_s"]
    nominal = (res.get("peak_nominal") or {}).get("gflop_per_s")
    by = {(j["program"], j["batch"]): j for j in res["runs"]}
    rows = []
    for (program, batch), j in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        us, cpu = j["us_per_iter"], j.get("us_per_iter_cpu") or {}
        flops = by.get(("gan_cuda", batch), {}).get("flops_per_iter")
        peer = by.get(("pytorch", batch))
        gan = by.get(("gan_cuda", batch))
        speedup = (peer["us_per_iter"]["median"] / us["median"]
                   if program == "gan_cuda" and peer else None)
        cpu_speedup = (peer["us_per_iter_cpu"]["median"] / cpu["median"]
                       if program == "gan_cuda" and peer and cpu else None)
        gflops = flops / us["median"] / 1e3 if flops else None
        row = {"program": program, "batch": batch, "us_median": us["median"], "us_p10": us["p10"],
               "us_p90": us["p90"], "cpu_us_median": cpu.get("median"),
               "images_per_s": batch * 1e6 / us["median"], "speedup_vs_pytorch": speedup,
               "cpu_speedup_vs_pytorch": cpu_speedup, "gflop_per_s": gflops,
               "pct_measured_peak": 100 * gflops / peak if gflops else None,
               "pct_nominal_peak": 100 * gflops / nominal if gflops and nominal else None,
               "blocks": us["n"]}
        if program == "gan_cuda" and gan:
            row["kernel"] = gan.get("cpu_gemm")
        else:
            row["kernel"] = "; ".join((j.get("cpu_libraries") or [])[:3])
        rows.append(row)
    res["table"] = rows
    with open(stem + ".json", "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    cpu = res["cpu"]
    L = [f"# CPU benchmark: gan_cuda's CPU backend against PyTorch ({res['date'][:10]})", "",
         f"- commit `{commit}`{' (uncommitted changes)' if res['git'].get('dirty') else ''}",
         f"- CPU: {cpu.get('model')} (family {cpu.get('family')}, model "
         f"{cpu.get('model_number')}; {', '.join(cpu.get('flags', []))}); "
         f"{res['cores_available']} cores available, **{res['threads']} threads** for both programs",
         f"- gan_cuda matrix products: {rows[0].get('kernel') if rows else '—'}; PyTorch "
         f"{(res['python'] or {}).get('torch')}: "
         f"{'; '.join(next((j.get('cpu_libraries') or [] for j in res['runs'] if j['program'] == 'pytorch'), []))}",
         f"- peak FP32: measured {peak:,.0f} GFLOP/s (gan_cpu_peak: {res['threads']} threads of "
         f"independent {res['peak_measured']['isa']} multiply-adds); nominal "
         f"{fmt(nominal)} GFLOP/s (threads x {res['peak_nominal']['lanes'] if res.get('peak_nominal') else '?'} "
         f"lanes x 2 FLOPs x 2 FMA pipes x {fmt((res.get('peak_nominal') or {}).get('mhz'))} MHz "
         f"from {(res.get('peak_nominal') or {}).get('mhz_from', '—')})",
         f"- load average before/after: {', '.join(f'{v:.1f}' for v in res['load_average_before'])}"
         f" / {', '.join(f'{v:.1f}' for v in res['load_average_after'])}"
         f" (above 0 means other programs shared the cores: treat absolute numbers as provisional)",
         f"- method: per batch both programs set up and warmed up ({args.warmup} iterations), then "
         f"{args.rounds} rounds of one block of {args.iters_per_block} iterations each, "
         "alternating, order swapped every round; same initial weights; median and p10/p90 "
         "over the blocks", "",
         "| program | batch | µs/iter median | p10 | p90 | CPU µs/iter | images/s | × PyTorch "
         "(wall) | × PyTorch (CPU time) | GFLOP/s | % measured peak | % nominal peak |",
         "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        L.append(f"| {r['program']} | {r['batch']} | {fmt(r['us_median'])} | {fmt(r['us_p10'])} | "
                 f"{fmt(r['us_p90'])} | {fmt(r['cpu_us_median'])} | {fmt(r['images_per_s'])} | "
                 f"{fmt(r['speedup_vs_pytorch'], 2)} | {fmt(r['cpu_speedup_vs_pytorch'], 2)} | "
                 f"{fmt(r['gflop_per_s'], 1)} | {fmt(r['pct_measured_peak'], 1)} | "
                 f"{fmt(r['pct_nominal_peak'], 1)} |")
    L += ["", "GFLOP/s counts the iteration's matrix-product FLOPs (apps/bench/iteration_cost.hpp, "
          "the same for both programs) over the median wall time per iteration. CPU µs/iter is "
          "the process's user + system time per iteration (all threads).", ""]
    if res["e2e"]:
        L += ["## End to end", "", "| program | epochs | images | wall | user | system | "
              "iterations | training loop |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for e in res["e2e"]:
            L.append(f"| {e['program']} | {e['epochs']} | {fmt(e.get('images'))} | "
                     f"{fmt(e['wall_s'] / 60, 1)} min | {fmt(e['user_s'] / 60, 1)} min | "
                     f"{fmt(e['system_s'] / 60, 1)} min | {fmt(e.get('iterations'))} | "
                     f"{fmt((e.get('loop_s') or 0) / 60, 1)} min |")
        L += ["", f"gan_cuda: `{res['e2e'][0].get('command', '')}` (default flags: a sample grid "
              "and a checkpoint every epoch), the whole process timed.", ""]
    if res["failures"]:
        L += ["## Failures", ""] + [f"- {f}" for f in res["failures"]] + [""]
    L += ["Reproduce: `cmake --build --preset release && python3 tools/bench/cpu_bench.py"
          f"{' --e2e-epochs ' + str(args.e2e_epochs) if args.e2e_epochs else ''}`.", ""]
    with open(stem + ".md", "w") as f:
        f.write("\n".join(L))
    log(f"report: {stem}.md ({stem}.json)")


if __name__ == "__main__":
    sys.exit(main())
