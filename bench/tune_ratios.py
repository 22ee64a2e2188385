#!/usr/bin/env python3
"""Prints bench/tune_compare.sh's results as a markdown table: for each case, `crosstune tune`'s best
kernel (GFLOP/s as its final back-to-back measurement confirms it) and wall time, Eigen's GFLOP/s on the
same threads (crosstune's reference_gflops), TVM MetaSchedule's best (confirmed the same way by
bench/peers/metaschedule_tune.py) and wall time, measured in the same run, and two ratios:
crosstune GFLOP/s / MetaSchedule GFLOP/s (above 1: crosstune's kernel is faster) and MetaSchedule wall /
crosstune wall (above 1: crosstune tuned faster). Then the host, the date and the load.

Usage: python3 bench/tune_ratios.py [--dir build/bench-results] [gemm conv conv-nhwc]
"""
import argparse
import datetime
import json
import os

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
    parser.add_argument("cases", nargs="*", default=list(CASES))
    args = parser.parse_args()
    notes, dates, peers = [], [], set()
    rows = []
    for c in args.cases:
        ct_path = os.path.join(args.dir, f"tune_{c}.crosstune.json")
        ct, ms = read(ct_path), read(os.path.join(args.dir, f"tune_{c}.metaschedule.json"))
        if os.path.exists(ct_path):
            dates.append(os.path.getmtime(ct_path))
        for side, d in (("crosstune", ct), ("MetaSchedule", ms)):
            if "skipped" in d:
                notes.append(f"{c}, {side}: skipped ({d['skipped']})")
        if "tvm" in ms:
            peers.add(f"TVM {ms['tvm']}, target {ms.get('target')}")
        trials = str(ct.get("trials", "-"))
        if "trials" in ms and ms["trials"] != ct.get("trials"):
            trials += f" / {ms['trials']}"
        rows.append([
            CASES.get(c, c),
            trials,
            num(ct.get("best_gflops"), ".1f"),
            num(ct.get("seconds"), ".0f"),
            num(ct.get("reference_gflops"), ".1f"),
            num(ms.get("best_gflops"), ".1f"),
            num(ms.get("seconds"), ".0f"),
            ratio(ct.get("best_gflops"), ms.get("best_gflops")),
            ratio(ms.get("seconds"), ct.get("seconds")),
        ])
        if ct.get("transferred"):
            notes.append(f"{c}, crosstune: {ct['transferred']} schedules transplanted from --transfer's log, measured first")
        for side, d in (("crosstune", ct), ("MetaSchedule", ms)):
            if d.get("failures"):
                notes.append(f"{c}, {side}: {d['failures']} of {d.get('trials')} candidates failed")
    when = datetime.datetime.fromtimestamp(max(dates) if dates else datetime.datetime.now().timestamp())
    threads = {str(d) for d in [read(os.path.join(args.dir, f"tune_{c}.crosstune.json")).get("threads") for c in args.cases] if d}
    print(f"\nHost: {host()}, {os.cpu_count()} CPUs; {'/'.join(sorted(threads)) or '?'} threads a kernel; "
          f"{when:%Y-%m-%d %H:%M}")
    for p in sorted(peers):
        print(f"MetaSchedule: {p}")
    print()
    head = ["case", "trials", "crosstune GFLOP/s", "crosstune wall s", "Eigen GFLOP/s", "MetaSchedule GFLOP/s",
            "MetaSchedule wall s", "GFLOP/s ratio (crosstune / MS)", "wall ratio (MS / crosstune)"]
    print("| " + " | ".join(head) + " |")
    print("|---|---:|" + "---:|" * (len(head) - 2))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print("\nGFLOP/s: each side's best kernel measured again after tuning (5 repeats of at least 100 ms);"
          "\nwall: the tuning loop, end to end. Trials \"a / b\": crosstune's, then MetaSchedule's, when they differ.")
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
