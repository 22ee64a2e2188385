#!/usr/bin/env python3
"""Prints bench/tune_compare.sh's results as a markdown table: for each case, `crosstune tune`'s best
kernel (GFLOP/s as its final back-to-back measurement confirms it) and wall time, Eigen's GFLOP/s on the
same threads (crosstune's reference_gflops), TVM MetaSchedule's best (confirmed the same way by
bench/peers/metaschedule_tune.py) and wall time, measured in the same run, and two ratios:
crosstune GFLOP/s / MetaSchedule GFLOP/s (above 1: crosstune's kernel is faster) and MetaSchedule wall /
crosstune wall (above 1: crosstune tuned faster); and the duel's (bench/peers/duel.py: both best kernels
timed in alternation, so that a VM's phases weigh on both alike), its median ratio crosstune / MetaSchedule
over the rounds. Then the host, the date and the load.

With several crosstune seeds (tune_compare.sh's SEEDS) there is a row for each seed against the one
MetaSchedule run, and a line per case with the ratios' median and range.

Usage: python3 bench/tune_ratios.py [--dir build/bench-results] [--seeds "0 1 2"] [gemm conv conv-nhwc]
"""
import argparse
import datetime
import json
import os
import statistics

CASES = {
    "gemm": "GEMM 1024³",
    "conv": "ResNet-50 conv 3×3, 56×56, 64→64",
    "conv-nhwc": "ResNet-50 conv 3×3, 56×56, 64→64, NHWC",
}


def read(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return {"skipped": f"{path} is missing"}
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        return {"skipped": f"{path} is not JSON ({e})"}


def host():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def num(value, fmt):
    return format(value, fmt) if isinstance(value, (int, float)) and value > 0 else "-"


def ratio(a, b):
    return f"{a / b:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0 and b > 0 else "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default="build/bench-results")
    parser.add_argument("--seeds", default="", help="crosstune's seeds, the first one's files untagged (tune_compare.sh)")
    parser.add_argument("cases", nargs="*", default=list(CASES))
    args = parser.parse_args()
    seeds = args.seeds.split() or [None]
    notes, dates, peers, spreads = [], [], set(), []
    rows = []
    for c in args.cases:
        ms = read(os.path.join(args.dir, f"tune_{c}.metaschedule.json"))
        if "skipped" in ms:
            notes.append(f"{c}, MetaSchedule: skipped ({ms['skipped']})")
        elif ms.get("failures"):
            notes.append(f"{c}, MetaSchedule: {ms['failures']} of {ms.get('trials')} candidates failed")
        if "tvm" in ms:
            peers.add(f"TVM {ms['tvm']}, target {ms.get('target')}")
        gflops_ratios, wall_ratios, duel_ratios = [], [], []
        for i, seed in enumerate(seeds):
            tag = "" if i == 0 else f".s{seed}"
            ct_path = os.path.join(args.dir, f"tune_{c}.crosstune{tag}.json")
            ct = read(ct_path)
            if os.path.exists(ct_path):
                dates.append(os.path.getmtime(ct_path))
            who = "crosstune" + ("" if seed is None else f" seed {seed}")
            if "skipped" in ct:
                notes.append(f"{c}, {who}: skipped ({ct['skipped']})")
            trials = str(ct.get("trials", "-"))
            if "trials" in ms and ms["trials"] != ct.get("trials"):
                trials += f" / {ms['trials']}"
            row = [CASES.get(c, c)] + ([] if seed is None else [seed]) + [
                trials,
                num(ct.get("best_gflops"), ".1f"),
                num(ct.get("seconds"), ".0f"),
                num(ct.get("reference_gflops"), ".1f"),
                num(ms.get("best_gflops"), ".1f"),
                num(ms.get("seconds"), ".0f"),
                ratio(ct.get("best_gflops"), ms.get("best_gflops")),
                ratio(ms.get("seconds"), ct.get("seconds")),
            ]
            if row[-2] != "-":
                gflops_ratios.append(float(row[-2]))
            if row[-1] != "-":
                wall_ratios.append(float(row[-1]))
            duel = read(os.path.join(args.dir, f"tune_{c}.duel{tag}.json"))
            if "median_ratio" in duel:
                row.append(f"{duel['median_ratio']:.2f} ({duel['min_ratio']:.2f}-{duel['max_ratio']:.2f}; "
                           f"{duel['crosstune_median_gflops']:.1f} / {duel['metaschedule_median_gflops']:.1f})")
                duel_ratios.append(duel["median_ratio"])
            else:
                row.append("-")
                if "skipped" in duel and "is missing" not in duel["skipped"]:
                    notes.append(f"{c}, duel of {who}: skipped ({duel['skipped']})")
            rows.append(row)
            if ct.get("transferred"):
                notes.append(f"{c}, {who}: {ct['transferred']} schedules transplanted from --transfer's log, measured first")
            if ct.get("failures"):
                notes.append(f"{c}, {who}: {ct['failures']} of {ct.get('trials')} candidates failed")
        if len(gflops_ratios) > 1:
            at_least = sum(r >= 1 for r in gflops_ratios)
            spreads.append(f"{CASES.get(c, c)}: GFLOP/s ratio median {statistics.median(gflops_ratios):.2f} "
                           f"(range {min(gflops_ratios):.2f}-{max(gflops_ratios):.2f}, {at_least} of {len(gflops_ratios)} seeds "
                           f"at 1 or above)" +
                           (f"; wall ratio median {statistics.median(wall_ratios):.2f}" if wall_ratios else "") +
                           (f"; duels: median ratio {statistics.median(duel_ratios):.2f} (range {min(duel_ratios):.2f}-"
                            f"{max(duel_ratios):.2f}, {sum(r >= 1 for r in duel_ratios)} of {len(duel_ratios)} at 1 or above)"
                            if duel_ratios else ""))
    when = datetime.datetime.fromtimestamp(max(dates) if dates else datetime.datetime.now().timestamp())
    threads = {str(d) for d in [read(os.path.join(args.dir, f"tune_{c}.crosstune.json")).get("threads") for c in args.cases] if d}
    print(f"\nHost: {host()}, {os.cpu_count()} CPUs; {'/'.join(sorted(threads)) or '?'} threads a kernel; "
          f"{when:%Y-%m-%d %H:%M}")
    for p in sorted(peers):
        print(f"MetaSchedule: {p}")
    print()
    head = ["case"] + ([] if seeds == [None] else ["seed"]) + ["trials", "crosstune GFLOP/s", "crosstune wall s", "Eigen GFLOP/s", "MetaSchedule GFLOP/s",
            "MetaSchedule wall s", "GFLOP/s ratio (crosstune / MS)", "wall ratio (MS / crosstune)",
            "duel ratio, median (range; GFLOP/s crosstune / MS)"]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if spreads:
        print()
        for line in spreads:
            print(line)
    print("\nGFLOP/s: each side's best kernel measured again after tuning (5 repeats of at least 100 ms);"
          "\nwall: the tuning loop, end to end. Trials \"a / b\": crosstune's, then MetaSchedule's, when they differ."
          "\nduel: the two best kernels timed in alternation, round after round (bench/peers/duel.py); the median"
          "\nof the rounds' ratios crosstune / MetaSchedule, their range, and each side's median GFLOP/s.")
    for n in notes:
        print(f"- {n}")
    load = os.path.join(args.dir, "tune_load.txt")
    if os.path.exists(load):
        print("\n/proc/loadavg (side, UTC time, load 1/5/15 min):")
        with open(load) as f:
            for line in f:
                print("    " + line.rstrip())


if __name__ == "__main__":
    main()
