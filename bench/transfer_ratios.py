#!/usr/bin/env python3
"""Prints bench/transfer_tuning.sh's results as a markdown table: per target shape, the best GFLOP/s and
wall time of transfer-tuning and of tuning from scratch (both confirmed next to Eigen by `crosstune tune`),
the share of the from-scratch GFLOP/s the transfer reaches, and the share of its wall time it took.

Usage: python3 bench/transfer_ratios.py OUT_DIR SHAPE...   (shapes as M,K,N)
"""
import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def main():
    out, shapes = sys.argv[1], sys.argv[2:]
    print("| target M,K,N | transfer GFLOP/s | transfer s (trials, transplanted) | scratch GFLOP/s | scratch s (trials) "
          "| Eigen GFLOP/s | transfer / scratch GFLOP/s | transfer / scratch time |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for shape in shapes:
        name = shape.replace(",", "x")
        t = load(os.path.join(out, name + ".transfer.json"))
        s = load(os.path.join(out, name + ".scratch.json"))
        print(f"| {shape} | {t['best_gflops']:.1f} | {t['seconds']:.1f} ({t['trials']}, {t.get('transferred', '?')}) | {s['best_gflops']:.1f} | "
              f"{s['seconds']:.0f} ({s['trials']}) | {s['reference_gflops']:.1f} | {t['best_gflops'] / s['best_gflops']:.2f} | "
              f"{t['seconds'] / s['seconds']:.2f} |")


if __name__ == "__main__":
    main()
