#!/usr/bin/env python3
"""Compares bench_cost_model's JSON with the PyTorch peer's (bench/peers/torch_bilstm_attention.py).

Usage: model_ratios.py CROSSTUNE.json PEER.json [PEER.json ...]
For each operation and batch size, prints crosstune's best candidates/s over its thread counts and chunk
sizes, PyTorch's best over its thread counts, and their ratio (all measured in the same run).
"""
import json
import re
import sys


def best(files, prefix):
    table = {}
    for path in files:
        for b in json.load(open(path))["benchmarks"]:
            if b.get("run_type", "iteration") != "iteration":
                continue
            m = re.match(r"BM_(\w+?)_(predict|train_step)/batch:(\d+)/threads:(\d+)", b["name"])
            if not m or m.group(1) != prefix:
                continue
            key = (m.group(2), int(m.group(3)))
            rate = b["items_per_second"]
            if rate > table.get(key, (0, ""))[0]:
                table[key] = (rate, b["name"])
    return table


ours = best(sys.argv[1:2], "crosstune")
theirs = best(sys.argv[2:], "pytorch")
print(f"{'operation':12s} {'batch':>6s} {'crosstune/s':>12s} {'pytorch/s':>10s} {'ratio':>6s}  best settings")
for key in sorted(ours):
    if key not in theirs:
        continue
    (a, name_a), (b, name_b) = ours[key], theirs[key]
    settings = name_a.split("/", 1)[1].replace("/real_time", "") + " vs " + name_b.split("/")[-1]
    print(f"{key[0]:12s} {key[1]:6d} {a:12.0f} {b:10.0f} {a / b:6.2f}  {settings}")
