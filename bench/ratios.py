#!/usr/bin/env python3
"""Prints, for one Google Benchmark JSON file, every benchmark's throughput relative to the first one
whose name starts with BM_crosstune, else the first (measured in the same run, so the ratio is what to compare)."""
import json
import sys

data = json.load(open(sys.argv[1]))
runs = [b for b in data["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
base = next((b for b in runs if b["name"].startswith("BM_crosstune")), runs[0])
ctx = data["context"]
print(f"\n{ctx.get('host_name', '?')} {ctx['date']}: {ctx['num_cpus']} CPUs at {ctx['mhz_per_cpu']} MHz")
print(f"{'benchmark':40s} {'MB/s':>10s} {'records/s':>12s} {'vs ' + base['name']:>10s}")
for b in runs:
    mbs = b.get("bytes_per_second", 0) / 1e6
    items = b.get("items_per_second", 0)
    print(f"{b['name']:40s} {mbs:10.1f} {items:12.0f} {items / base['items_per_second']:10.3f}")
