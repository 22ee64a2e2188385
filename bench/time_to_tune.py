#!/usr/bin/env python3
"""Prints bench/time_to_tune.sh's results as a markdown table: per case, the trials and the wall time that
`crosstune tune` needed to reach 95% of the from-scratch run's best GFLOP/s (as measured while tuning),
from scratch and with a pre-trained model, their ratio, each side's best and the guard's verdict on the
model; and, when bench/tune_compare.sh left tune_<case>.metaschedule.json in the same folder, the trials
and time TVM MetaSchedule needed to reach 95% of its own best (its curve has one point a round).

The from-scratch side is ttt_<case>.scratch.*, or bench/tune_compare.sh's tune_<case>.json and
tune_<case>.crosstune.json when that is missing (SIDES=model bash bench/time_to_tune.sh).
Wall time is read from the records: each record's timestamp less the first record's timestamp and build
and run time, so the set-up before the first build (the reference kernel) is not counted.

Usage: python3 bench/time_to_tune.py [--dir build/bench-results] [--model M] [gemm conv conv7]
"""
import argparse
import json
import os

CASES = {
    "gemm": "GEMM 1024³",
    "conv": "ResNet-50 conv 3×3, 56×56, 64→64",
    "conv7": "ResNet-50 conv 3×3, 7×7, 512→512",
}


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def curve(log_path, flops):
    """[(trial, seconds since the start, best GFLOP/s so far)] from a crosstune log."""
    points, best, start = [], 0.0, None
    try:
        with open(log_path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except (OSError, json.JSONDecodeError):
        return []
    for i, rec in enumerate(lines):
        costs, error, all_cost, stamp = rec["r"][0], rec["r"][1], rec["r"][2], rec["r"][3]
        if start is None:
            start = stamp - all_cost
        if error == 0 and costs:
            best = max(best, flops / (sum(costs) / len(costs)) / 1e9)
        points.append((i + 1, stamp - start, best))
    return points


def reach(points, target):
    for trial, seconds, best in points:
        if best >= target:
            return trial, seconds
    return None


def fmt_reach(r):
    return (f"{r[0]}", f"{r[1]:.0f} s") if r else ("not reached", "-")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default="build/bench-results")
    parser.add_argument("--model", default="models/pretrained-cpu.bin")
    parser.add_argument("cases", nargs="*", default=list(CASES))
    args = parser.parse_args()
    print(f"\nTime to reach 95% of the from-scratch run's best (model: {args.model})\n")
    print("| case | trials | scratch: trials | time | best GFLOP/s | pre-trained: trials | time | best GFLOP/s | "
          "time ratio | guard | MetaSchedule: trials | time | best GFLOP/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for c in args.cases:
        sides = {}
        for side in ("scratch", "model"):
            result_path, log_path = (os.path.join(args.dir, f"ttt_{c}.{side}.result.json"),
                                     os.path.join(args.dir, f"ttt_{c}.{side}.json"))
            if side == "scratch" and not os.path.exists(result_path):  # bench/tune_compare.sh's run
                result_path, log_path = (os.path.join(args.dir, f"tune_{c}.crosstune.json"),
                                         os.path.join(args.dir, f"tune_{c}.json"))
            result = read_json(result_path) or {}
            if "best_seconds" not in result:
                sides[side] = None
                continue
            flops = result["best_gflops"] * 1e9 * result["best_seconds"]
            sides[side] = (result, curve(log_path, flops))
        if sides.get("scratch") is None:
            print(f"| {CASES.get(c, c)} | - | missing | | | | | | | | | | |")
            continue
        scratch_result, scratch_curve = sides["scratch"]
        target = 0.95 * scratch_curve[-1][2]
        a = reach(scratch_curve, target)
        row = [CASES.get(c, c), str(scratch_result.get("trials", "-")), *fmt_reach(a), f"{scratch_curve[-1][2]:.0f}"]
        if sides.get("model"):
            model_result, model_curve = sides["model"]
            b = reach(model_curve, target)
            ratio = f"{b[1] / a[1]:.2f}" if a and b and a[1] > 0 else "-"
            guard = model_result.get("guard", {})
            verdict = ("replaced (PCA %.2f)" % guard.get("pca", 0) if guard.get("fell_back")
                       else "kept (PCA %.2f)" % guard.get("pca", 0) if guard.get("checked") else "not judged")
            row += [*fmt_reach(b), f"{model_curve[-1][2]:.0f}", ratio, verdict]
        else:
            row += ["missing", "", "", "", ""]
        ms = read_json(os.path.join(args.dir, f"tune_{c}.metaschedule.json"))
        if ms and ms.get("curve"):
            points = [(int(t), float(s), float(g)) for t, s, g in ms["curve"]]
            m = reach(points, 0.95 * points[-1][2])
            row += [*fmt_reach(m), f"{points[-1][2]:.0f}"]
        else:
            row += ["-", "-", "-"]
        print("| " + " | ".join(row) + " |")
    print("\nBest GFLOP/s here: as measured while tuning (3 repeats of at least 20 ms), not the confirmed figures of "
          "tune_ratios.py. MetaSchedule: its own 95%, one point a round of 64.")


if __name__ == "__main__":
    main()
