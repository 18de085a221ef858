#!/usr/bin/env python3
"""mutate.py — mutation testing of chosen source files against the CPU test suite.

For each target file, universalmutator (PyPI; rule-based mutation of C and C++) generates
mutants: one line changed by one rule (an operator swapped, a condition negated, a
statement commented out, a constant changed, ...). A seeded sample of them is run:
  1. the tree of one commit is exported once into a scratch directory (the working tree is
     never touched) and configured with the cpu preset (the tests that judge these files
     run on the CPU); the unmutated tree must build and pass each file's tests, which also times
     them;
  2. each sampled mutant is written into the scratch copy, checked for syntax with the
     file's own compile command (a mutant that does not compile is "stillborn" and another
     is drawn in its place), built incrementally (ccache helps) and judged by the file's
     tests with a timeout: a failing or timed-out run kills it, a passing run means it
     survived;
  3. the original file is put back before the next mutant.
The score of a file is killed / (killed + survived). Each file's result (the commit measured,
the sample, the score, every surviving mutant as a diff line) replaces that file's record in
docs/mutation-results.json, so a file can be measured again after its tests change while the
others keep theirs; the block between the markers in docs/testing.md is rendered from that
record. A file's sample is drawn by a generator seeded with the seed and the file's path, so
it does not depend on which other files a run takes.

Usage (tools/mutation/run.sh installs universalmutator and calls this):
  mutate.py [--per-file N] [--files F ...] [--seed S] [--commit REV] [--scratch DIR]
            [--results JSON] [--no-report] [--report-only]
The default of 12 mutants per file over the 13 targets took 17 to 21 minutes on 2 cores (a mutant
costs a few seconds: an incremental rebuild and the file's tests); --per-file 30 fits in
about an hour. Survivors listed in tools/mutation/equivalent.json are reported apart.
"""
import argparse
import contextlib
import datetime
import io
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

from universalmutator import mutator

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Each target: the doctest source files (-sf patterns) whose tests judge its mutants.
TARGETS = {
    "kernels/cpu/adam_cpu.cpp": ["*test_ops_adam.cpp", "*test_golden.cpp"],
    "kernels/cpu/d_head_bce_cpu.cpp": ["*test_ops_head.cpp", "*test_golden.cpp"],
    "kernels/cpu/data_pipeline_cpu.cpp": ["*test_ops_data.cpp", "*test_trainer.cpp"],
    "kernels/cpu/gemm_cpu.cpp": ["*test_ops_dense.cpp", "*test_eval_ops.cpp",
                                 "*test_matmul_empty.cpp"],
    "kernels/cpu/linear_bn_act_cpu.cpp": ["*test_ops_dense.cpp", "*test_golden.cpp"],
    "kernels/cpu/softmax_xent_cpu.cpp": ["*test_eval_ops.cpp", "*test_classifier.cpp"],
    "kernels/cpu/gather_labels_cpu.cpp": ["*test_eval_ops.cpp", "*test_classifier.cpp"],
    "kernels/cpu/cpu_backend.cpp": ["*test_ops_*.cpp", "*test_trainer.cpp"],
    "kernels/cpu/gemm_fast.cpp": ["*test_ops_fast.cpp", "*test_golden.cpp"],
    "kernels/cpu/linear_bn_act_fast.cpp": ["*test_ops_fast.cpp", "*test_golden.cpp"],
    "engine/trainer.cpp": ["*test_trainer.cpp", "*test_golden.cpp", "*test_checkpoint.cpp",
                           "*test_faults.cpp", "*test_resume.cpp", "*test_training_options.cpp"],
    "apps/train_command.cpp": ["*test_resume.cpp", "*test_app_e2e.cpp", "*test_cli.cpp",
                               "*test_interrupt.cpp", "*test_faults.cpp",
                               "*test_training_options_cli.cpp", "*test_eval_command.cpp"],
    "apps/train_log.cpp": ["*test_train_log.cpp", "*test_app_e2e.cpp", "*test_faults.cpp", "*test_resume.cpp",
                           "*test_interrupt.cpp", "*test_training_options_cli.cpp"],
    "engine/io/idx.cpp": ["*test_idx.cpp"],
    "engine/io/safetensors.cpp": ["*test_safetensors.cpp", "*test_checkpoint.cpp"],
    "engine/checkpoint.cpp": ["*test_checkpoint.cpp", "*test_resume.cpp", "*test_golden.cpp",
                              "*test_training_options.cpp"],
}

RULES = ["universal.rules", "cpp.rules", "c_like.rules"]
# Lines not worth mutating: comments, preprocessor lines, namespace and access lines, lone
# braces. (universalmutator already skips block comments and string-only changes.)
IGNORE = [r"^\s*//", r"^\s*#", r"^\s*namespace\b", r"^\s*}\s*(//.*)?$", r"^\s*{\s*$",
          r"^\s*(public|private|protected):\s*$"]

BEGIN = "<!-- mutation-results:begin -->"
END = "<!-- mutation-results:end -->"


def log(*a):
    print(*a, flush=True)


def run(cmd, cwd=None, timeout=None, env=None):
    """(exit status, seconds, output tail); status None on timeout. The command runs in a
    process group of its own, killed whole on timeout: a mutant's test may leave a gan_cuda
    child hanging, which would otherwise outlive the run and hold the cores."""
    t0 = time.monotonic()
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace",
                          start_new_session=True) as p:
        try:
            out, _ = p.communicate(timeout=timeout)
            return p.returncode, time.monotonic() - t0, out[-2000:]
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
            return None, time.monotonic() - t0, (out or "")[-2000:]


def generate(path):
    """All mutants of a file: (line number, new line text)."""
    with open(path) as f:
        source = f.readlines()
    with contextlib.redirect_stdout(io.StringIO()):
        found = mutator.mutants_regexp(source, ruleFiles=RULES, ignorePatterns=IGNORE,
                                       ignoreStringOnly=True)
    return source, [(m[0], m[1]) for m in found]


def export_tree(commit, tree):
    if os.path.exists(tree):
        shutil.rmtree(tree)
    os.makedirs(tree)
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit], check=True,
                             stdout=subprocess.PIPE).stdout
    subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)


def configure(tree):
    env = dict(os.environ, CMAKE_CXX_COMPILER_LAUNCHER="ccache", CCACHE_BASEDIR=tree)
    rc, _, out = run(["cmake", "--preset", "cpu"], cwd=tree, env=env)
    if rc != 0:
        sys.exit("configure failed:\n" + out)
    return env


def compile_command(build, tree, rel):
    with open(os.path.join(build, "compile_commands.json")) as f:
        for entry in json.load(f):
            if os.path.realpath(entry["file"]) == os.path.realpath(os.path.join(tree, rel)):
                args = entry.get("arguments") or shlex.split(entry["command"])
                # drop the launcher and the output, check syntax only
                args = [a for a in args if a != "ccache"]
                out = [a for i, a in enumerate(args) if a != "-o" and (i == 0 or args[i - 1] != "-o")]
                return out + ["-fsyntax-only"], entry["directory"]
    sys.exit(f"{rel} is not in compile_commands.json")


def build_tests(build, env, timeout):
    return run(["cmake", "--build", build, "--target", "gan_tests", "-j1"], env=env,
               timeout=timeout)


def test_command(build, patterns):
    return [os.path.join(build, "gan_tests"), "-sf=" + ",".join(patterns), "--abort-after=1",
            "--no-colors"]


def diff_line(source, lineno, new):
    return f"{lineno}: `{source[lineno - 1].strip()}` → `{new.strip()}`"


def merge_results(path, results):
    """The records in `path` (one per file, each naming the commit it measured) with those of
    this run put in place of the same files' older ones; written back to `path`."""
    merged = {}
    if os.path.exists(path):
        with open(path) as f:
            merged = {r["file"]: r for r in json.load(f)["files"]}
    merged.update({r["file"]: r for r in results})
    order = [t for t in TARGETS if t in merged] + sorted(set(merged) - set(TARGETS))
    files = [merged[t] for t in order]
    with open(path, "w") as f:
        json.dump({"files": files}, f, indent=1)
        f.write("\n")
    return files


EQUIVALENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "equivalent.json")


def load_equivalent():
    """{(file, original line, mutant line): why} of the mutants judged equivalent: the program
    behaves the same with them, so no test can kill them (tools/mutation/equivalent.json)."""
    if not os.path.exists(EQUIVALENT):
        return {}
    with open(EQUIVALENT) as f:
        return {(e["file"], flat(e["original"]), flat(e["mutant"])): e["why"]
                for e in json.load(f)}


def flat(text):
    """`text` with every run of white space (line breaks too) made one space."""
    return " ".join(text.split())


def parse_survivor(what):
    """(line, original, mutant) of a diff line written by diff_line."""
    m = re.match(r"^(\d+): `(.*)` → `(.*)`$", what, re.S)
    return (int(m.group(1)), flat(m.group(2)), flat(m.group(3))) if m else (0, flat(what), "")


def write_report(results):
    doc = os.path.join(ROOT, "docs", "testing.md")
    with open(doc) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{doc} lacks the markers {BEGIN} / {END}")
    equivalent = load_equivalent()
    lines = [BEGIN, "",
             "Each file's row names the commit it was measured on (a file is measured again "
             "after its tests change). A timed-out test run counts as killed. Equivalent: "
             "survivors that change nothing the program does (listed below with the reason, "
             "from `tools/mutation/equivalent.json`); score = killed / (killed + survived - "
             "equivalent), and killed / (killed + survived) beside it.", "",
             "| file | commit | date | sample (seed) | mutants generated | run | stillborn "
             "(redrawn) | killed (timeouts) | survived | equivalent | score | all counted | "
             "minutes |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
             "---: |"]
    gaps, explained = [], []
    for r in results:
        run_n = r["killed"] + r["survived"]
        n_eq = 0
        for what in r["survivors"]:
            _, original, mutant = parse_survivor(what)
            why = equivalent.get((r["file"], original, mutant))
            if why:
                n_eq += 1
                explained.append(f"- {r['file']}:{flat(what)} — {why}")
            else:
                gaps.append(f"- {r['file']}:{flat(what)}")
        real = run_n - n_eq
        score = f"{100.0 * r['killed'] / real:.0f}%" if real else "–"
        raw = f"{100.0 * r['killed'] / run_n:.0f}%" if run_n else "–"
        lines.append(f"| {r['file']} | `{r['commit'][:10]}` | {r['date']} | {r['per_file']} "
                     f"({r['seed']}) | {r['generated']} | {run_n} | {r['stillborn']} | "
                     f"{r['killed']} ({r['timeouts']}) | {r['survived']} | {n_eq} | {score} | "
                     f"{raw} | {r['seconds'] / 60:.1f} |")
    lines += ["", "Surviving mutants not explained (gaps in the tests; line: original → mutant):",
              ""] + (gaps or ["- none"])
    lines += ["", "Equivalent mutants (line: original → mutant — why no test can kill it):",
              ""] + (explained or ["- none"])
    lines += ["", END]
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    with open(doc, "w") as f:
        f.write(text[:start] + "\n".join(lines) + text[stop:])
    log(f"wrote {doc}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-file", type=int, default=12, help="mutants run per file")
    ap.add_argument("--files", nargs="*", default=sorted(TARGETS), help="files to mutate")
    ap.add_argument("--seed", type=int, default=20141204)
    ap.add_argument("--commit", default="HEAD", help="the commit to measure")
    ap.add_argument("--scratch", default=os.path.join(ROOT, "build", "mutation"))
    ap.add_argument("--build-timeout", type=int, default=900)
    ap.add_argument("--results", default=os.path.join(ROOT, "docs", "mutation-results.json"),
                    help="record of every file's latest measurement, updated by this run")
    ap.add_argument("--no-report", action="store_true",
                    help="leave docs/testing.md and the record alone")
    ap.add_argument("--report-only", action="store_true",
                    help="run nothing: render docs/testing.md from the record (e.g. after "
                         "tools/mutation/equivalent.json changed)")
    args = ap.parse_args()
    if args.report_only:
        write_report(merge_results(args.results, []))
        return
    for f in args.files:
        if f not in TARGETS:
            sys.exit(f"{f}: not a target; targets: {', '.join(sorted(TARGETS))}")

    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", args.commit], check=True,
                            stdout=subprocess.PIPE, text=True).stdout.strip()
    tree = os.path.join(args.scratch, "tree")
    build = os.path.join(tree, "build", "cpu")  # the cpu preset's
    log(f"exporting {commit} into {tree}")
    export_tree(commit, tree)
    env = configure(tree)

    results = []
    for i, rel in enumerate(args.files):
        rng = random.Random(f"{args.seed}:{rel}")  # a file's sample does not depend on the others
        path = os.path.join(tree, rel)
        cmd = test_command(build, TARGETS[rel])
        # the first build is the whole tree's (no time limit); after it the binaries hold the
        # previous file's last mutant until rebuilt
        rc, secs, out = build_tests(build, env, None if i == 0 else args.build_timeout)
        if rc != 0:
            sys.exit(f"{rel}: the unmutated tree does not build:\n{out}")
        if i == 0:
            log(f"built the unmutated tree in {secs:.0f} s")
        rc, base, out = run(cmd, cwd=build)
        if rc != 0:
            sys.exit(f"{rel}: the tests fail without a mutant:\n{out}")
        timeout = 3 * base + 30
        source, mutants = generate(path)
        syntax, syntax_dir = compile_command(build, tree, rel)
        order = list(range(len(mutants)))
        rng.shuffle(order)
        r = {"file": rel, "commit": commit, "date": datetime.date.today().isoformat(),
             "per_file": args.per_file, "seed": args.seed, "generated": len(mutants),
             "stillborn": 0, "killed": 0, "survived": 0, "timeouts": 0, "survivors": [],
             "tests": TARGETS[rel], "baseline_s": round(base, 1)}
        log(f"{rel}: {len(mutants)} mutants; tests take {base:.1f} s (timeout {timeout:.0f} s)")
        original = "".join(source)
        t_file = time.monotonic()
        for i in order:
            if r["killed"] + r["survived"] >= args.per_file:
                break
            lineno, new = mutants[i]
            what = diff_line(source, lineno, new)
            mutated = source[:lineno - 1] + [new] + source[lineno:]
            try:
                with open(path, "w") as f:
                    f.write("".join(mutated))
                ok, _, _ = run(syntax, cwd=syntax_dir, timeout=120)
                if ok != 0:
                    r["stillborn"] += 1
                    continue
                rc, _, out = build_tests(build, env, args.build_timeout)
                if rc != 0:
                    r["stillborn"] += 1
                    continue
                rc, secs, out = run(cmd, cwd=build, timeout=timeout)
            finally:
                with open(path, "w") as f:
                    f.write(original)
            if rc is None:
                r["killed"] += 1
                r["timeouts"] += 1
                verdict = "killed (timeout)"
            elif rc != 0:
                r["killed"] += 1
                verdict = "killed"
            else:
                r["survived"] += 1
                r["survivors"].append(what)
                verdict = "SURVIVED"
            log(f"  {verdict:17s} {secs:6.1f} s  {what}")
        r["seconds"] = round(time.monotonic() - t_file)
        results.append(r)
        with open(os.path.join(args.scratch, "results.json"), "w") as f:
            json.dump({"commit": commit, "per_file": args.per_file, "seed": args.seed,
                       "files": results}, f, indent=1)
    # leave the scratch build matching the commit again
    build_tests(build, env, args.build_timeout)
    for r in results:
        n = r["killed"] + r["survived"]
        log(f"{r['file']}: {r['killed']}/{n} killed, {r['stillborn']} stillborn, "
            f"{r['seconds'] / 60:.1f} min")
    if not args.no_report:
        write_report(merge_results(args.results, results))


if __name__ == "__main__":
    main()
