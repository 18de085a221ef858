"""run_bench.py — runs the gan_cuda vs PyTorch benchmark and writes everything into one folder.

Steps, in this order (the later ones are skipped, and say so, once --budget-s is spent):
  1. data: the bundled complete MNIST training set (60,000 images), unless --data is given;
  2. ceilings: gan_ceilings (copy bandwidth, SGEMM FP32 and TF32 rates), CUDA only;
  3. the initial weights, written by gan_cuda (bench --save-init) and read by every PyTorch
     run, so both programs start from the same parameters;
  4. set-up: for every (batch, precision) one server process per program — gan_cuda bench
     --serve (graph, eager) and torch_gan.py --serve (each mode) — started --parallel at a
     time, the slowest to compile first; each compiles, captures and warms up, then waits.
     Set-up may take --setup-share of the budget; a program not ready by then is dropped
     (and named in the report). Nothing is timed while any set-up runs;
  5. timing, one (batch, precision) at a time, batch --first-batch first: --blocks rounds,
     each asking every server of that configuration for one block, in an order rotated by
     one every round, so that slow drifts of the GPU's clocks hit every program alike;
     then the servers write their JSON (the PyTorch ones count kernels with the profiler).
     Once the budget is spent a configuration gets 5 rounds at most;
  6. end to end, after the --first-batch timings: gan_cuda train (always) and torch_gan.py
     --epochs (while the budget lasts) for --e2e-epochs epochs at batch --e2e-batch;
  7. kernel-bench (while the budget lasts): every kernel variant checked against the CPU
     reference and timed.
Writes OUT/results.json (all of it, with the environment and the git commit) and the runs'
own files under OUT/runs/. tools/bench/report.py turns results.json into the report.
Standard library only; PyTorch is needed only by the torch_gan.py processes (--python).
"""

import argparse
import datetime
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)


COMPILE_MODES = ("compile-default", "compile-reduce-overhead", "compile-max-autotune")


def log(msg):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


def words(s):
    return [w for w in s.replace(",", " ").split() if w]


def ints(s):
    return [int(w) for w in words(s)]


class Budget:
    def __init__(self, seconds):
        self.t0, self.seconds = time.monotonic(), seconds

    def left(self):
        return self.seconds - (time.monotonic() - self.t0)

    def spent(self):
        return self.left() <= 0


class Server:
    """A program in --serve mode: READY once set up, then one 'block' -> 'BLOCK <ms>'."""

    def __init__(self, label, cmd, json_path, log_path, config, env=None):
        self.label, self.cmd, self.json_path, self.log_path = label, cmd, json_path, log_path
        self.config = config  # (batch, precision)
        self.env = env
        self.proc = None
        self.lines = queue.Queue()
        self.ready = False
        self.failed = None  # why, when it failed
        self.started_at = None

    def start(self):
        self.started_at = time.monotonic()
        self.err = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True, bufsize=1, env=self.env)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _next(self, timeout):
        """The next protocol line (READY, BLOCK, DONE); other output goes to the log."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.label}: no answer in {timeout:.0f} s")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"{self.label}: exited with status {self.proc.wait()} "
                                   f"(see {self.log_path})")
            if line.startswith(("READY", "BLOCK", "DONE")):
                return line
            self.err.write(line + "\n")
            self.err.flush()

    def poll_ready(self):
        """True once READY; raises when the process died."""
        if self.ready:
            return True
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return False
            if line is None:
                raise RuntimeError(f"{self.label}: exited with status {self.proc.wait()} "
                                   f"during set-up (see {self.log_path})")
            if line.startswith("READY"):
                self.ready = True
                return True
            self.err.write(line + "\n")
            self.err.flush()

    def block(self, timeout):
        self.proc.stdin.write("block\n")
        self.proc.stdin.flush()
        line = self._next(timeout)
        if not line.startswith("BLOCK "):
            raise RuntimeError(f"{self.label}: expected BLOCK, got {line!r}")
        return float(line.split()[1])

    def quit(self, timeout):
        """Asks the server to finish; returns its JSON (None if it failed)."""
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
                self.proc.wait(timeout=timeout)
        except Exception as e:  # noqa: BLE001 — a server that will not stop is killed
            self.failed = self.failed or f"did not finish: {e}"
            self.kill()
        self.err.close()
        if self.proc.returncode != 0:
            self.failed = self.failed or f"exit status {self.proc.returncode} (see {self.log_path})"
        if os.path.exists(self.json_path):
            with open(self.json_path) as f:
                return json.load(f)
        return None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_command(cmd, log_path, timeout, env=None):
    """Runs cmd to completion with its output in log_path; returns (status, seconds)."""
    t0 = time.monotonic()
    with open(log_path, "w") as f:
        try:
            p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout, env=env)
            status = p.returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
    return status, time.monotonic() - t0


def git_commit(given=None):
    """The commit measured: --commit when given (a copy of the tree without .git), else git's."""
    if given:
        return {"commit": given, "dirty": None}

    def git(*args):
        try:
            return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except Exception:  # noqa: BLE001 — no git: the report says "unknown"
            return ""

    commit = git("rev-parse", "HEAD") or "unknown"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"commit": commit, "dirty": dirty}


def nvidia_smi():
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,"
                              "clocks.max.sm,clocks.max.mem,power.limit",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20).stdout.strip().splitlines()
    except Exception:  # noqa: BLE001
        return None
    if not out:
        return None
    keys = ("name", "driver", "memory", "max_sm_clock", "max_mem_clock", "power_limit")
    return dict(zip(keys, (v.strip() for v in out[0].split(","))))


def python_env(python):
    try:
        out = subprocess.run([python, "-c", "import json, torch; print(json.dumps({"
                              "'torch': torch.__version__, 'torch_cuda': torch.version.cuda, "
                              "'cuda_available': torch.cuda.is_available()}))"],
                             capture_output=True, text=True, timeout=120)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except Exception as e:  # noqa: BLE001
        return {"error": str(e)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True,
                    help="build folder holding gan_cuda (and gan_ceilings)")
    ap.add_argument("--out", required=True, help="folder for results.json and runs/")
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--python", default=sys.executable, help="interpreter that has torch")
    ap.add_argument("--commit", help="the commit measured, where the tree has no .git")
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"),
                    help="an IDX folder (default: the bundled complete MNIST)")
    ap.add_argument("--batches", default="64 128 256 512 1024")
    ap.add_argument("--first-batch", type=int, default=128, help="timed first; the e2e follows it")
    ap.add_argument("--precisions", default="fp32 tf32")
    ap.add_argument("--gan-variants", default="graph eager")
    ap.add_argument("--torch-modes", default="eager " + " ".join(COMPILE_MODES) + " dataloader")
    ap.add_argument("--compile-batches", default="128 1024",
                    help="batches at which compile-default/-reduce-overhead run")
    ap.add_argument("--autotune-batches", default="128", help="batches for compile-max-autotune")
    ap.add_argument("--dataloader-batches", default="128", help="batches for dataloader")
    ap.add_argument("--blocks", type=int, default=30)
    ap.add_argument("--iters-per-block", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--parallel", type=int, default=16, help="server set-ups at a time")
    ap.add_argument("--setup-share", type=float, default=0.45,
                    help="share of the budget that set-up may take")
    ap.add_argument("--block-timeout", type=float, default=120)
    ap.add_argument("--e2e-epochs", type=int, default=50)
    ap.add_argument("--e2e-batch", type=int, default=128)
    ap.add_argument("--e2e-torch-modes", default="eager compile-reduce-overhead")
    ap.add_argument("--e2e-timeout", type=float, default=600)
    ap.add_argument("--kernel-bench", type=int, default=1, help="1: run gan_cuda kernel-bench")
    ap.add_argument("--kernel-repeats", type=int, default=30)
    ap.add_argument("--budget-s", type=float, default=480,
                    help="seconds after which the remaining steps are skipped")
    args = ap.parse_args(argv)

    budget = Budget(args.budget_s)
    out = os.path.abspath(args.out)
    runs = os.path.join(out, "runs")
    os.makedirs(runs, exist_ok=True)
    gan = os.path.join(args.build, "gan_cuda")
    ceilings_bin = os.path.join(args.build, "gan_ceilings")
    torch_gan = os.path.join(HERE, "torch_gan.py")
    skipped = []
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git": git_commit(args.commit), "device": args.device, "nvidia_smi": nvidia_smi(),
        "python": python_env(args.python),
        "settings": {k: v for k, v in vars(args).items() if k not in ("build", "out", "python")},
        "runs": [], "e2e": [], "failures": [], "skipped": skipped,
    }
    peer_env = dict(os.environ)
    # Many set-ups compile at once: a few compile workers each rather than one per core.
    peer_env.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "4")
    peer_env["PYTHONUNBUFFERED"] = "1"

    # 1. data
    data = os.path.abspath(args.data)
    bundled = data == os.path.abspath(os.path.join(ROOT, "data", "mnist"))
    results["data"] = {"dir": "bundled data/mnist" if bundled else data}
    log(f"data: {data}")

    # 2. ceilings
    if args.device == "cuda":
        path = os.path.join(runs, "ceilings.json")
        status, secs = run_command([ceilings_bin, "--json", path],
                                   os.path.join(runs, "ceilings.log"), 300)
        if status == 0:
            with open(path) as f:
                results["ceilings"] = json.load(f)
            c = results["ceilings"]
            log(f"ceilings: copy {c['copy']['result']['gb_per_s']['median']:.0f} GB/s, SGEMM "
                f"FP32 {c['sgemm_fp32']['result']['tflop_per_s']['median']:.1f} / TF32 "
                f"{c['sgemm_tf32']['result']['tflop_per_s']['median']:.1f} TFLOP/s")
        else:
            results["failures"].append(f"gan_ceilings: status {status} (see runs/ceilings.log)")

    # 3. initial weights
    init = os.path.join(runs, "init.safetensors")
    status, _ = run_command([gan, "bench", "--device", args.device, "--data", data,
                             "--blocks", "0", "--save-init", init],
                            os.path.join(runs, "init.log"), 300)
    if status != 0:
        results["failures"].append(f"gan_cuda bench --save-init: status {status}")
        init = None

    # 4. servers
    batches = ints(args.batches)
    if args.first_batch in batches:
        batches.remove(args.first_batch)
        batches.insert(0, args.first_batch)
    precisions = words(args.precisions)
    allowed = {"compile-default": ints(args.compile_batches),
               "compile-reduce-overhead": ints(args.compile_batches),
               "compile-max-autotune": ints(args.autotune_batches),
               "dataloader": ints(args.dataloader_batches)}
    common = ["--data", data, "--warmup", str(args.warmup), "--iters-per-block",
              str(args.iters_per_block), "--serve"]
    servers = []
    for b in batches:
        for prec in precisions:
            tf32 = ["--tf32"] if prec == "tf32" else []
            for v in words(args.gan_variants):
                name = f"gan_cuda-{v}-b{b}-{prec}"
                cmd = [gan, "bench", "--device", args.device, "--batch", str(b), *common,
                       "--json", os.path.join(runs, name + ".json"), *tf32]
                if v == "eager":
                    cmd.append("--no-graph")
                servers.append(Server(name, cmd, os.path.join(runs, name + ".json"),
                                      os.path.join(runs, name + ".log"), (b, prec)))
            for m in words(args.torch_modes):
                if m in allowed and b not in allowed[m]:
                    continue
                name = f"pytorch-{m}-b{b}-{prec}"
                cmd = [args.python, torch_gan, "--mode", m, "--device", args.device,
                       "--batch", str(b), *common, "--count-kernels",
                       "--json", os.path.join(runs, name + ".json"), *tf32]
                if init:
                    cmd += ["--init", init]
                servers.append(Server(name, cmd, os.path.join(runs, name + ".json"),
                                      os.path.join(runs, name + ".log"), (b, prec), peer_env))

    def set_up(group):
        def cost(s):  # slowest set-ups first
            for i, m in enumerate(("max-autotune", "reduce-overhead", "compile-default",
                                   "pytorch")):
                if m in s.label:
                    return i
            return 9
        pending, active = sorted(group, key=cost), []
        deadline = time.monotonic() + max(0.0, args.setup_share * budget.left())
        while pending or active:
            late = time.monotonic() > deadline
            while pending and len(active) < args.parallel and not late:
                s = pending.pop(0)
                s.start()
                active.append(s)
            if late and pending:
                for s in pending:
                    s.failed = "not started: set-up time spent"
                skipped.extend(s.label for s in pending)
                pending = []
            for s in list(active):
                try:
                    if s.poll_ready():
                        active.remove(s)
                        log(f"ready: {s.label} ({time.monotonic() - s.started_at:.1f} s)")
                    elif late:
                        raise TimeoutError(f"{s.label}: not ready after "
                                           f"{time.monotonic() - s.started_at:.0f} s, when the "
                                           "set-up time was spent")
                except Exception as e:  # noqa: BLE001 — one failed program does not stop the rest
                    s.failed = str(e)
                    s.kill()
                    active.remove(s)
                    log(f"FAILED: {e}")
            time.sleep(0.05)

    log(f"setting up {len(servers)} programs, {args.parallel} at a time")
    set_up(servers)

    # 5. timing, configuration by configuration; 6. end to end after the first batch
    def time_config(config):
        group = [s for s in servers if s.config == config and s.ready and not s.failed]
        if not group:
            return
        log(f"timing batch {config[0]} {config[1]}: {', '.join(s.label for s in group)}")
        rounds = 0
        for r in range(args.blocks):
            if budget.spent() and rounds >= 5:
                skipped.append(f"batch {config[0]} {config[1]}: rounds after {rounds}")
                break
            order = group[r % len(group):] + group[:r % len(group)]
            for s in order:
                if s.failed:
                    continue
                try:
                    s.block(args.block_timeout)
                except Exception as e:  # noqa: BLE001
                    s.failed = str(e)
                    s.kill()
                    log(f"FAILED: {e}")
            rounds += 1
        for s in group:
            j = s.quit(args.block_timeout + 60)
            if j is not None:
                j["label"] = s.label
                j["rounds"] = rounds
                results["runs"].append(j)
                if "us_per_iter" in j:
                    log(f"  {s.label}: {j['us_per_iter']['median']:.1f} us/iteration")
        save()

    def save():
        with open(os.path.join(out, "results.json.tmp"), "w") as f:
            json.dump(results, f, indent=1)
        os.replace(os.path.join(out, "results.json.tmp"), os.path.join(out, "results.json"))

    def end_to_end():
        E, B = args.e2e_epochs, args.e2e_batch
        runs_e2e = [("gan_cuda", "graph")] + [("pytorch", m) for m in words(args.e2e_torch_modes)]
        for program, variant in runs_e2e:
            if budget.spent() and program != "gan_cuda":
                skipped.append(f"end to end {program} {variant}")
                continue
            name = f"e2e-{program}-{variant}"
            entry = {"program": program, "variant": variant, "epochs": E, "batch": B,
                     "precision": "fp32"}
            if program == "gan_cuda":
                run_dir = os.path.join(runs, name)
                shutil.rmtree(run_dir, ignore_errors=True)
                cmd = [gan, "train", "--device", args.device, "--data", data, "--epochs",
                       str(E), "--batch-size", str(B), "--out", run_dir, "--sample-every",
                       str(E), "--checkpoint-every", str(E), "--log-every", "100000000"]
                status, secs = run_command(cmd, os.path.join(runs, name + ".log"),
                                           args.e2e_timeout)
                entry.update(status=status, wall_s=secs)
                metrics = os.path.join(run_dir, "metrics.jsonl")
                if status == 0 and os.path.exists(metrics):
                    with open(metrics) as f:
                        last = [json.loads(line) for line in f if line.strip()][-1]
                    entry.update(loop_s=last.get("time_s"), iterations=last.get("step"),
                                 last_d_loss=last.get("d_loss"), last_g_loss=last.get("g_loss"))
                    entry["images_per_s"] = entry["iterations"] * B / entry["loop_s"]
            else:
                path = os.path.join(runs, name + ".json")
                cmd = [args.python, torch_gan, "--mode", variant, "--device", args.device,
                       "--batch", str(B), "--data", data, "--epochs", str(E), "--json", path]
                if init:
                    cmd += ["--init", init]
                status, secs = run_command(cmd, os.path.join(runs, name + ".log"),
                                           args.e2e_timeout, peer_env)
                entry.update(status=status, wall_s=secs)
                if status == 0 and os.path.exists(path):
                    with open(path) as f:
                        j = json.load(f)
                    entry.update({k: j.get(k) for k in ("loop_s", "compile_s", "iterations",
                                                        "images_per_s", "images",
                                                        "last_d_loss", "last_g_loss")})
            if status != 0:
                results["failures"].append(f"end to end {program} {variant}: status {status} "
                                           f"(see runs/{name}.log)")
            log(f"end to end {program} {variant}: status {status}, {secs:.1f} s")
            results["e2e"].append(entry)
            save()

    try:
        configs = [(b, p) for b in batches for p in precisions]
        for i, config in enumerate(configs):
            time_config(config)
            is_last_first = config[0] == batches[0] and (
                i + 1 == len(configs) or configs[i + 1][0] != batches[0])
            if is_last_first and args.e2e_epochs > 0:
                end_to_end()
        if args.kernel_bench:
            for prec in precisions:
                if budget.spent():
                    skipped.append(f"kernel-bench {prec}")
                    continue
                path = os.path.join(runs, f"kernels-{prec}.json")
                cmd = [gan, "kernel-bench", "--device", args.device, "--batch",
                       str(args.e2e_batch), "--repeats", str(args.kernel_repeats), "--json", path]
                if prec == "tf32":
                    cmd.append("--tf32")
                if args.device == "cpu":
                    cmd += ["--calls", "2"]
                status, secs = run_command(cmd, os.path.join(runs, f"kernels-{prec}.log"), 600)
                log(f"kernel-bench {prec}: status {status}, {secs:.1f} s")
                if os.path.exists(path):
                    with open(path) as f:
                        results.setdefault("kernels", []).append(json.load(f))
                if status != 0:
                    results["failures"].append(f"kernel-bench {prec}: status {status} "
                                               f"(see runs/kernels-{prec}.log)")
    finally:
        for s in servers:
            s.kill()
        for s in servers:
            if s.failed:
                results["failures"].append(f"{s.label}: {s.failed}")
        results["elapsed_s"] = args.budget_s - budget.left()
        save()
    log(f"results in {os.path.join(out, 'results.json')}"
        f"{' (' + str(len(results['failures'])) + ' failures)' if results['failures'] else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
