#!/usr/bin/env python3
"""Prints bench_measurer's rounds (Google Benchmark JSON) beside TVM MetaSchedule's
(bench/peers/metaschedule_measure.py's JSON), measured in the same run: candidates per second end to
end, the ratio crosstune / MetaSchedule, the build and run phases, the overhead per candidate beyond the
least kernel time the setting asks for, and the median repeat-to-repeat CV of kernels of 1 ms or more.

Usage: python3 bench/measurer_ratios.py build/bench-results/bench_measurer.json \\
           build/bench-results/metaschedule_measure.json
"""
import json
import re
import sys


def crosstune_rounds(path):
    data = json.load(open(path))
    rounds = {}
    for b in data["benchmarks"]:
        m = re.match(r"BM_measure/n:(\d+)/tuning:(\d)/kpu:(\d+)", b["name"])
        if not m or b.get("error_occurred"):
            continue
        setting = "tuning" if m.group(2) == "1" else "quick"
        rounds[(int(m.group(1)), setting, int(m.group(3)))] = b
    return data["context"], rounds


def cv(v):
    return f"{v:7.3f}" if isinstance(v, (int, float)) else f"{'-':>7s}"


def row(name, side, per_s, ratio, build, run, overhead, kernel, median_cv, ok):
    print(f"{name:24s} {side:12s} {per_s:7.2f} {ratio:>6s} {build:8.1f} {run:7.1f} {overhead:8.1f} "
          f"{kernel:9.1f} {cv(median_cv)} {ok:3d}")


def main():
    ctx, ct = crosstune_rounds(sys.argv[1])
    peer = json.load(open(sys.argv[2])) if len(sys.argv) > 2 else {"skipped": "no peer file given"}
    ms = {(r["n"], r["setting"]): r for r in peer.get("results", [])}
    load = ctx.get("load_avg", "?")
    print(f"\n{ctx.get('host_name', '?')} {ctx['date']}: {ctx['num_cpus']} CPUs, load {load}")
    if "skipped" in peer:
        print(f"MetaSchedule: skipped ({peer['skipped']})")
    else:
        print(f"MetaSchedule: TVM {peer.get('tvm')}, target {peer.get('target')}")
    print(f"{'round (64 candidates)':24s} {'side':12s} {'cand/s':>7s} {'ratio':>6s} {'build s':>8s} "
          f"{'run s':>7s} {'ovh ms':>8s} {'kernel ms':>9s} {'med CV':>7s} {'ok':>3s}")
    for (n, setting, kpu), b in sorted(ct.items()):
        overhead = b.get("overhead_ex_timeouts_ms", b.get("overhead_vs_protocol_ms"))
        row(f"gemm{n} {setting} kpu={kpu}", "crosstune", b["candidates_per_s"], "", b["build_wall_s"],
            b["run_phase_s"], overhead, b["protocol_ms"], b.get("median_cv"), int(b["ok"]))
        r = ms.get((n, setting))
        if r is not None and kpu == 4:
            ratio = f"{b['candidates_per_s'] / r['candidates_per_s']:6.2f}"
            overhead = r.get("overhead_ex_timeouts_ms", r["overhead_vs_protocol_ms"])
            row("", "MetaSchedule", r["candidates_per_s"], ratio, r["build_wall_s"], r["run_wall_s"],
                overhead, r["protocol_ms"], r.get("median_cv"), r["ok"])
    print("ratio: crosstune candidates/s over MetaSchedule's (kpu=4 rounds).\n"
          "ovh ms: per candidate, wall - the least kernel time the setting asks for - the time limits spent\n"
          "on candidates that ran past them. kernel ms: that least kernel time per candidate.\n"
          "med CV: median repeat-to-repeat CV of the kernels of 1 ms or more.")


if __name__ == "__main__":
    main()
