"""stats.py — order statistics of timing samples, the same as engine/eval/sample_stats.hpp.

percentile(v, q) interpolates linearly between the closest ranks (NumPy's default): with v
sorted, position q/100 * (n - 1). summarize(v) gives n, median, p10, p90, mean, min, max.
Standard library only.
"""


def percentile(values, q):
    if not values:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    v = sorted(values)
    pos = q / 100.0 * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (pos - lo) * (v[hi] - v[lo])


def summarize(values):
    return {
        "n": len(values),
        "median": percentile(values, 50),
        "p10": percentile(values, 10),
        "p90": percentile(values, 90),
        "mean": sum(values) / len(values),
        "min": min(values),
        "max": max(values),
    }
