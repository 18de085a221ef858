"""report.py — the benchmark report: run_bench.py's results.json to Markdown and JSON.

  python report.py RESULTS_JSON --md OUT.md [--json OUT.json]

The Markdown holds: the machine (GPU, driver, CUDA, cuBLAS, PyTorch) and the git commit;
the measured ceilings; per precision, a table of microseconds per iteration (median) by batch
for every program, with the floor, the ratio of each peer to gan_cuda's graph and of
gan_cuda to the floor; every run in detail (median, p10, p90, images/s, ratios, kernels and
ops per iteration, compile time); the end-to-end runs; the kernel microbenchmarks against
the ceilings; and what failed or was skipped. The JSON is results.json with these derived
numbers added under "derived". docs/bench/README.md explains every column.

Floor of an iteration = max(FLOPs / SGEMM rate, compulsory bytes / copy bandwidth), with the
FLOPs and bytes of apps/bench/iteration_cost.hpp (gan_cuda bench writes them) and the SGEMM rate
of the same precision (FP32: CUBLAS_PEDANTIC_MATH; TF32: tensor cores). Standard library only.
"""

import argparse
import json
import os
import sys


def fmt(x, digits=1):
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    if abs(x) >= 1e5:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def key(run):
    return f"{run['program']} {run['variant']}"


def program_order(runs):
    order = ["gan_cuda graph", "gan_cuda eager", "pytorch eager", "pytorch compile-default",
             "pytorch compile-reduce-overhead", "pytorch compile-max-autotune",
             "pytorch dataloader"]
    seen = {key(r) for r in runs}
    return [k for k in order if k in seen] + sorted(seen - set(order))


def ceiling(results, name):
    c = results.get("ceilings")
    if not c:
        return None
    unit = "gb_per_s" if name == "copy" else "tflop_per_s"
    return c[name]["result"][unit]["median"]


def floor_us(results, batch, precision):
    """(floor, compute part, memory part) in microseconds, from gan_cuda's cost model."""
    cost = next((r for r in results["runs"] if r["program"] == "gan_cuda"
                 and r["batch"] == batch and "flops_per_iter" in r), None)
    copy = ceiling(results, "copy")
    gemm = ceiling(results, "sgemm_tf32" if precision == "tf32" else "sgemm_fp32")
    if not cost or not copy or not gemm:
        return None, None, None
    t_flops = cost["flops_per_iter"] / (gemm * 1e12) * 1e6
    t_bytes = cost["min_bytes_per_iter"] / (copy * 1e9) * 1e6
    return max(t_flops, t_bytes), t_flops, t_bytes


def median_us(run):
    return run.get("us_per_iter", {}).get("median")


def derive(results):
    runs = [r for r in results["runs"] if "us_per_iter" in r]
    derived = {"floors": [], "runs": []}
    configs = sorted({(r["batch"], r["precision"]) for r in runs},
                     key=lambda c: (c[1] != "fp32", c[0]))
    for b, p in configs:
        f, f_flops, f_bytes = floor_us(results, b, p)
        derived["floors"].append({"batch": b, "precision": p, "floor_us": f,
                                  "compute_us": f_flops, "memory_us": f_bytes})
        group = [r for r in runs if r["batch"] == b and r["precision"] == p]
        base = next((r for r in group if key(r) == "gan_cuda graph"), None)
        graph_kernels = base.get("kernels_per_iter") if base else None
        for r in group:
            kernels = r.get("kernels_per_iter")
            kernels_note = None
            if kernels is None and key(r) == "gan_cuda eager" and graph_kernels is not None:
                kernels, kernels_note = graph_kernels, "same launches as the graph"
            derived["runs"].append({
                "label": r.get("label", key(r)), "program": r["program"],
                "variant": r["variant"], "batch": b, "precision": p,
                "median_us": median_us(r), "p10_us": r["us_per_iter"]["p10"],
                "p90_us": r["us_per_iter"]["p90"], "blocks": r["us_per_iter"]["n"],
                "images_per_s": r.get("images_per_s"),
                "vs_gan_cuda_graph": ratio(median_us(r), median_us(base) if base else None),
                "vs_floor": ratio(median_us(r), f),
                "kernels_per_iter": kernels, "kernels_note": kernels_note,
                "ops_per_iter": r.get("ops_per_iter"), "compile_s": r.get("compile_s"),
            })
    return derived


def markdown(results, derived):
    L = []
    add = L.append
    git = results.get("git", {})
    smi = results.get("nvidia_smi") or {}
    ceil = results.get("ceilings") or {}
    py = results.get("python") or {}
    torch_run = next((r for r in results["runs"] if r["program"] == "pytorch"), {})
    gan_run = next((r for r in results["runs"] if r["program"] == "gan_cuda"), {})
    s = results.get("settings", {})
    add("# gan_cuda vs PyTorch: the training iteration")
    add("")
    add(f"- Measured {results.get('date', '?')} at commit `{git.get('commit', 'unknown')}`"
        f"{' (with uncommitted changes)' if git.get('dirty') else ''}.")
    gpu = smi.get("name") or ceil.get("gpu") or gan_run.get("backend", results.get("device"))
    add(f"- GPU: {gpu}"
        f"{', ' + ceil['sm'] if ceil.get('sm') else ''}"
        f"{', ' + str(ceil['multiprocessors']) + ' SMs' if ceil.get('multiprocessors') else ''}"
        f"{', L2 ' + str(ceil['l2_bytes'] >> 20) + ' MiB' if ceil.get('l2_bytes') else ''}; "
        f"driver {smi.get('driver', '–')}; CUDA runtime {ceil.get('cuda_runtime', '–')} "
        f"(driver API {ceil.get('cuda_driver_api', '–')}); cuBLAS {ceil.get('cublas', '–')}.")
    add(f"- PyTorch {torch_run.get('torch') or py.get('torch', '–')} "
        f"(CUDA {torch_run.get('torch_cuda') or py.get('torch_cuda', '–')}).")
    data = results.get("data", {})
    if data.get("dir"):
        add(f"- Data: {data['dir']} (the bundled data is the complete MNIST training set, "
            f"60,000 images), resident on the device for every program except "
            f"`pytorch dataloader`.")
    add(f"- Timing: {s.get('warmup')} warm-up iterations, then rounds of one block of "
        f"{s.get('iters_per_block')} iterations per program, the programs alternating in a "
        f"rotating order, up to {s.get('blocks')} rounds; "
        + ("CUDA events around each block" if results.get("device") == "cuda" else
           "the host clock around each block, after a synchronisation (CPU run)")
        + "; median and p10/p90 over the blocks.")
    add("- Precision: `fp32` = strict FP32 everywhere (no TF32); `tf32` = TF32 tensor cores for "
        "the FP32 matrix products in both programs.")
    add("")
    if ceil:
        add("## Ceilings")
        add("")
        add("| ceiling | median | p10 | p90 |")
        add("| --- | --- | --- | --- |")
        for name, label, unit in (("copy", "device-to-device copy (read + write)", "GB/s"),
                                  ("sgemm_fp32", f"SGEMM {ceil['sgemm_fp32']['n']}³ FP32 "
                                   "(pedantic)", "TFLOP/s"),
                                  ("sgemm_tf32", f"SGEMM {ceil['sgemm_tf32']['n']}³ TF32",
                                   "TFLOP/s")):
            r = ceil[name]["result"]["gb_per_s" if unit == "GB/s" else "tflop_per_s"]
            add(f"| {label} | {fmt(r['median'])} {unit} | {fmt(r['p10'])} | {fmt(r['p90'])} |")
        add("")

    runs = [r for r in results["runs"] if "us_per_iter" in r]
    programs = program_order(runs)
    for precision in ("fp32", "tf32"):
        rows = [d for d in derived["runs"] if d["precision"] == precision]
        if not rows:
            continue
        batches = sorted({d["batch"] for d in rows})
        add(f"## µs per iteration, {precision} (median)")
        add("")
        add("| batch | floor | " + " | ".join(programs) + " |")
        add("| --- | --- | " + " | ".join("---" for _ in programs) + " |")
        for b in batches:
            f = next((x["floor_us"] for x in derived["floors"]
                      if x["batch"] == b and x["precision"] == precision), None)
            cells = []
            for p in programs:
                d = next((x for x in rows if x["batch"] == b and
                          f"{x['program']} {x['variant']}" == p), None)
                cells.append(fmt(d["median_us"]) if d else "")
            add(f"| {b} | {fmt(f)} | " + " | ".join(cells) + " |")
        add("")
        peers = [p for p in programs if p != "gan_cuda graph"]
        add(f"Ratio of each program's time to gan_cuda graph's ({precision}; above 1: gan_cuda "
            "graph is faster), and of gan_cuda graph's time to the floor:")
        add("")
        add("| batch | " + " | ".join(peers) + " | gan_cuda graph / floor |")
        add("| --- | " + " | ".join("---" for _ in peers) + " | --- |")
        for b in batches:
            cells = []
            for p in peers:
                d = next((x for x in rows if x["batch"] == b and
                          f"{x['program']} {x['variant']}" == p), None)
                cells.append(fmt(d["vs_gan_cuda_graph"], 2) if d else "")
            g = next((x for x in rows if x["batch"] == b and x["program"] == "gan_cuda"
                      and x["variant"] == "graph"), None)
            add(f"| {b} | " + " | ".join(cells) + f" | {fmt(g['vs_floor'], 2) if g else ''} |")
        add("")

    if derived["runs"]:
        add("## Every run")
        add("")
        add("| program | batch | precision | µs/iter median | p10 | p90 | blocks | images/s | "
            "÷ gan_cuda graph | ÷ floor | kernels/iter | ops/iter | compile s |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        def order(d):
            return d["precision"], d["batch"], programs.index(f"{d['program']} {d['variant']}")

        for d in sorted(derived["runs"], key=order):
            kern = fmt(d["kernels_per_iter"], 0)
            if d["kernels_note"]:
                kern += "*"
            add(f"| {d['program']} {d['variant']} | {d['batch']} | {d['precision']} | "
                f"{fmt(d['median_us'])} | {fmt(d['p10_us'])} | {fmt(d['p90_us'])} | "
                f"{d['blocks']} | {fmt(d['images_per_s'], 0)} | {fmt(d['vs_gan_cuda_graph'], 2)} | "
                f"{fmt(d['vs_floor'], 2)} | {kern} | {fmt(d['ops_per_iter'], 0)} | "
                f"{fmt(d['compile_s'])} |")
        add("")
        if any(d["kernels_note"] for d in derived["runs"]):
            add("\\* gan_cuda eager launches the kernels its graph holds (the same code issues "
                "both); the count is the graph's.")
            add("")
        floors = [x for x in derived["floors"] if x["floor_us"] is not None]
        if floors:
            add("Floors (µs): " + "; ".join(
                f"batch {x['batch']} {x['precision']}: {fmt(x['floor_us'])} (compute "
                f"{fmt(x['compute_us'])}, memory {fmt(x['memory_us'])})" for x in floors) + ".")
            add("")

    if results.get("e2e"):
        add("## End to end")
        add("")
        e = results["e2e"][0]
        add(f"{e['epochs']} epoch{'s' if e['epochs'] != 1 else ''} at batch {e['batch']}, "
            f"{e['precision']}; wall = the whole "
            "process (start-up, data loading, compilation, training, final checkpoint for "
            "gan_cuda); loop = the training loop alone (compilation included for PyTorch, "
            "shown apart).")
        add("")
        add("| program | status | wall s | loop s | compile s | iterations | images/s (loop) | "
            "last D loss | last G loss |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for e in results["e2e"]:
            add(f"| {e['program']} {e['variant']} | {e.get('status')} | "
                f"{fmt(e.get('wall_s'), 2)} | {fmt(e.get('loop_s'), 2)} | {fmt(e.get('compile_s'), 2)} | "
                f"{fmt(e.get('iterations'), 0)} | {fmt(e.get('images_per_s'), 0)} | "
                f"{fmt(e.get('last_d_loss'), 3)} | {fmt(e.get('last_g_loss'), 3)} |")
        add("")

    copy, fp32, tf32 = (ceiling(results, n) for n in ("copy", "sgemm_fp32", "sgemm_tf32"))
    for kb in results.get("kernels", []):
        prec = "tf32" if kb.get("tf32") else "fp32"
        gemm = tf32 if kb.get("tf32") else fp32
        add(f"## Kernels, batch {kb['batch']}, {prec} ({kb['backend']}; {kb['repeats']} blocks "
            f"of {kb['calls']} calls, inputs rotated past the L2 cache)")
        add("")
        add("| op | variant | shape | check | µs/call median | p10 | p90 | GB/s | % copy | "
            "TFLOP/s | % SGEMM |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for c in kb["cases"]:
            u = c.get("us_per_call")
            if not u:
                add(f"| {c['op']} | {c['variant']} | {c['shape']} | **{c['check']}** "
                    "| | | | | | | |")
                continue
            gbs, tfs = c.get("gb_per_s"), c.get("tflop_per_s")
            add(f"| {c['op']} | {c['variant']} | {c['shape']} | ok | {fmt(u['median'], 2)} | "
                f"{fmt(u['p10'], 2)} | {fmt(u['p90'], 2)} | {fmt(gbs)} | "
                f"{fmt(ratio(100 * gbs, copy)) if copy else '–'} | "
                f"{fmt(tfs, 2) if c['flops'] else '–'} | "
                f"{fmt(ratio(100 * tfs, gemm)) if gemm and c['flops'] else '–'} |")
        add("")

    skips = [r for r in results["runs"] if r.get("cudagraph_skips")]
    if skips:
        add("Note: Inductor did not use CUDA graphs for some compiled functions of: " +
            ", ".join(f"{r.get('label', key(r))} ({r['cudagraph_skips']})" for r in skips) +
            " (the reason is in that run's log).")
        add("")
    if results.get("failures") or results.get("skipped"):
        add("## Failures and omissions")
        add("")
        for f in results.get("failures", []):
            add(f"- failed: {f}")
        for s_ in results.get("skipped", []):
            add(f"- skipped (time budget): {s_}")
        add("")
    add("Columns and method: docs/bench/README.md.")
    return "\n".join(L) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", help="results.json written by run_bench.py")
    ap.add_argument("--md", required=True, help="write the Markdown report here")
    ap.add_argument("--json", help="write results.json with the derived numbers here")
    args = ap.parse_args(argv)
    with open(args.results) as f:
        results = json.load(f)
    derived = derive(results)
    text = markdown(results, derived)
    full = json.dumps({**results, "derived": derived}, indent=1) + "\n"
    for path, content in ((args.md, text), (args.json, full)):
        if not path:
            continue
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            f.write(content)
        os.replace(path + ".tmp", path)
    print(f"report: {args.md}" + (f", {args.json}" if args.json else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
