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

Network cases (resnet50, ...) get a second table: the network estimate (Σ weight × best latency) over time,
rebuilt from each side's log and the task list of its --json result (a task not measured yet counts at its
untuned kernel's latency), and the trials and time each side (scratch, model, transfer, both) needed to come
within 5% of the from-scratch run's final estimate; and, when the metaschedule side ran
(ttt_<case>.metaschedule.result.json, bench/peers/metaschedule_network.py), TVM MetaSchedule's row from its
own curve (one point a round), with the trials and time to within 5% of its own final estimate as well.

Usage: python3 bench/time_to_tune.py [--dir build/bench-results] [--model M] [gemm conv conv7 resnet50]
"""
import argparse
import json
import os

CASES = {
    "gemm": "GEMM 1024³",
    "conv": "ResNet-50 conv 3×3, 56×56, 64→64",
    "conv7": "ResNet-50 conv 3×3, 7×7, 512→512",
}
NETWORKS = {"resnet50": "ResNet-50", "mobilenet_v2": "MobileNet-V2", "inception_v3": "Inception-V3", "bert_base": "BERT-base"}
NETWORK_SIDES = ("scratch", "model", "transfer", "both")


def label(case, names):
    """The printed name of a case; "-nhwc" (channels-last layout) kept as a suffix."""
    base = case.removesuffix("-nhwc")
    return names.get(base, base) + (" NHWC" if base != case else "")


def is_network(case):
    return case.removesuffix("-nhwc") in NETWORKS


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def timed_records(log_path):
    """[(trial, seconds since the start, workload key, mean cost or None)] from a crosstune log: each record's
    timestamp less the first record's timestamp and its build and run time. A candidate measured again (the
    finalists `crosstune tune` measures at the end of a run) is one trial, counted at its first reading."""
    try:
        with open(log_path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except (OSError, json.JSONDecodeError):
        return []
    out, start, seen = [], None, set()
    for rec in lines:
        costs, error, all_cost, stamp = rec["r"][0], rec["r"][1], rec["r"][2], rec["r"][3]
        if start is None:
            start = stamp - all_cost
        candidate = (rec["i"][0][0], json.dumps(rec["i"][1]))
        if candidate in seen:
            continue
        seen.add(candidate)
        out.append((len(out) + 1, stamp - start, rec["i"][0][0], sum(costs) / len(costs) if error == 0 and costs else None))
    return out


def curve(log_path, flops):
    """[(trial, seconds since the start, best GFLOP/s so far)] from a crosstune log."""
    points, best = [], 0.0
    for trial, seconds, _, cost in timed_records(log_path):
        if cost:
            best = max(best, flops / cost / 1e9)
        points.append((trial, seconds, best))
    return points


def network_curve(log_path, tasks):
    """[(trial, seconds since the start, network estimate in seconds)] from a crosstune log of a network run:
    Σ weight × best over the tasks, a task not measured yet at its untuned latency."""
    weight = {t["workload_key"]: t["weight"] for t in tasks}
    best = {t["workload_key"]: t["untuned_seconds"] for t in tasks}
    if any(not (v > 0) for v in best.values()):
        return []
    points = []
    for trial, seconds, key, cost in timed_records(log_path):
        if cost and key in best:
            best[key] = min(best[key], cost)
        points.append((trial, seconds, sum(weight[k] * best[k] for k in best)))
    return points


def reach_latency(points, target):
    for trial, seconds, estimate in points:
        if estimate <= target:
            return trial, seconds
    return None


def network_table(args, cases):
    print("\nNetworks: time to come within 5% of the from-scratch run's final estimate (Σ weight × best, as measured "
          "while tuning; a task not measured yet at its untuned latency)\n")
    print("| network | side | trials | time | final estimate | trials to 5% of scratch's final | time | time / scratch's | "
          "guard or transfer | profile: model share |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for c in cases:
        runs = {}
        for side in NETWORK_SIDES:
            result = read_json(os.path.join(args.dir, f"ttt_{c}.{side}.result.json")) or {}
            if "tasks" not in result:
                continue
            points = network_curve(os.path.join(args.dir, f"ttt_{c}.{side}.json"), result["tasks"])
            if points:
                runs[side] = (result, points)
        if "scratch" not in runs:
            print(f"| {label(c, NETWORKS)} | scratch | missing | | | | | | | |")
            continue
        target = runs["scratch"][1][-1][2] / 0.95
        base = reach_latency(runs["scratch"][1], target)
        for side, (result, points) in runs.items():
            r = reach_latency(points, target)
            ratio = f"{r[1] / base[1]:.2f}" if r and base and base[1] > 0 else "-"
            note = ""
            guard = result.get("guard", {})
            if side in ("model", "both"):
                verdict = "replaced" if guard.get("fell_back") else "kept"
                pca = "PCA %.2f" % guard.get("pca", 0)
                if guard.get("compared"):
                    pca += "; half %.2f vs fresh %.2f" % (guard.get("half_pca", 0), guard.get("fresh_pca", 0))
                note = f"{verdict} ({pca})" if guard.get("checked") else "not judged"
            if side in ("transfer", "both"):
                note += ("; " if note else "") + "%d transplanted" % sum(t.get("transferred", 0) for t in result["tasks"])
            profile = result.get("profile", {})
            model_share = ((profile.get("train", 0) + profile.get("predict", 0)) / profile["total"] * 100
                           if profile.get("total") else 0)
            row = [label(c, NETWORKS), side, str(result.get("trials", "-")), f"{result.get('seconds', 0):.0f} s",
                   f"{points[-1][2] * 1e3:.1f} ms", *fmt_reach(r), ratio, note, f"{model_share:.1f}%"]
            print("| " + " | ".join(row) + " |")
        ms = read_json(os.path.join(args.dir, f"ttt_{c}.metaschedule.result.json")) or {}
        if ms.get("curve"):
            points = [(int(t), float(s), float(e)) for t, s, e in ms["curve"]]
            r = reach_latency(points, target)
            ratio = f"{r[1] / base[1]:.2f}" if r and base and base[1] > 0 else "-"
            own = reach_latency(points, points[-1][2] / 0.95)
            note = (f"own 5%: {own[0]} trials, {own[1]:.0f} s; confirmed "
                    f"{ms.get('confirmed_estimate_seconds', 0) * 1e3:.1f} ms" if own else "")
            if ms.get("wrong"):
                note += f"; {len(ms['wrong'])} wrong kernels"
            row = [label(c, NETWORKS), "MetaSchedule", str(ms.get("trials", "-")), f"{ms.get('seconds', 0):.0f} s",
                   f"{points[-1][2] * 1e3:.1f} ms", *fmt_reach(r), ratio, note, "-"]
            print("| " + " | ".join(row) + " |")
        elif ms.get("skipped"):
            print(f"| {label(c, NETWORKS)} | MetaSchedule | skipped: {ms['skipped']} | | | | | | | |")


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
    networks = [c for c in args.cases if is_network(c)]
    args.cases = [c for c in args.cases if not is_network(c)]
    if networks:
        network_table(args, networks)
    if not args.cases:
        return
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
            print(f"| {label(c, CASES)} | - | missing | | | | | | | | | | |")
            continue
        scratch_result, scratch_curve = sides["scratch"]
        target = 0.95 * scratch_curve[-1][2]
        a = reach(scratch_curve, target)
        row = [label(c, CASES), str(scratch_result.get("trials", "-")), *fmt_reach(a), f"{scratch_curve[-1][2]:.0f}"]
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
