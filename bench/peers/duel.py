#!/usr/bin/env python3
"""crosstune's best kernel and MetaSchedule's, timed in alternation on the same machine (bench/tune_compare.sh).

Each side's own confirmation times its kernel once, at the end of its run, minutes apart from the other's;
on a VM whose speed drifts by 10-30% between phases, that decides the ratio as much as the kernels do.
Here the two kernels are timed in turn, round after round, within seconds of each other, so both see the
same phases; the ratio of each round and their median is the verdict.

Kernels:
  crosstune:    C++ from `crosstune codegen --replay BEST --source` (BEST: `crosstune tune --best`), built
                here with the flags crosstune's measurer uses (c++ -std=c++17 -O3 -march=native -fopenmp
                -mprefer-vector-width=512), together with a timing loop, into a shared library
  MetaSchedule: the library metaschedule_tune.py --export wrote (its confirmed best kernel)
Each runs in a worker process of its own (OMP_NUM_THREADS / TVM_NUM_THREADS = --threads), so the two
thread pools never share the process; the idle worker waits on a pipe while the other is timed.
Threads are bound to cores on both sides: TVM binds its thread pool by default, and crosstune's worker
gets OMP_PROC_BIND=true and OMP_PLACES=cores (unless the environment sets them). Unbound, libgomp's
threads made a tuned convolution bimodal on the 2-core VM (about 185 or 215 GFLOP/s, switching from
round to round) where TVM's pool stayed steady, bound or not (docs/results.md, fifteenth pass).
--no-bind leaves both unbound (TVM_BIND_THREADS=0, OMP_PROC_BIND=false).

Timing, the same for both: a warm-up call, then the calls a repeat needs to last --min-repeat-ms (grown
on each side until a repeat lasts that long, then kept for every round), then --repeat repeats, each timed
as one native loop of that many calls (crosstune: a C++ loop with steady_clock; MetaSchedule: TVM's
time_evaluator with min_repeat_ms=0); a round's cost is the mean of its repeats. One round of each side
on each placement comes first and is not counted (thread pools started, caches warm). The sides, and the
placements, alternate in ABBA order (crosstune and the first placement first in even rounds, MetaSchedule
and the last placement first in odd ones), so a drift favours neither, with 50 ms between turns for the
idle side's threads to stop spinning.
Buffers: both kernels run on the same placements of their buffers, each placement timed in every round
(--placements, page offsets in bytes, default 0,64: page-aligned, as crosstune's measurer allocates them,
and 64 bytes past a page boundary, where TVM's allocator puts a large tensor). Placement alone moves a
kernel by up to ~10% (docs/results.md, fourteenth pass, followed up); which placement a kernel was tuned
on then favours neither side. Each buffer is an anonymous mmap of its own, the data starting at the
offset; TVM gets it through DLPack, without a copy. Both outputs, on every placement, are checked against
NumPy (te_ops's references) on the same inputs first (uniform in [-1, 1], seed 1); a wrong kernel ends the
duel with an error.

Prints one JSON object on stdout:
  {"op", "shape", "rounds", "placements": [0, 64],
   "by_placement": {"0": {"crosstune_gflops": [...], "metaschedule_gflops": [...], "ratios": [...], "median_ratio",
                          "crosstune_median_gflops", "metaschedule_median_gflops"}, "64": {...}},
   "ratios": [...placement by placement, each round by round], "median_ratio", "min_ratio", "max_ratio",
   "crosstune_median_gflops", "metaschedule_median_gflops", ...}
The top-level figures pool every placement's rounds: the verdict.
Usage: build/peer-venv/bin/python bench/peers/duel.py --op gemm --shape 1024,1024,1024 \\
         --crosstune-source best.cpp --crosstune-entry crosstune_record_1 --metaschedule-lib ms.so
         [--rounds 30] [--repeat 5] [--min-repeat-ms 100] [--threads 2] [--placements 0,64] [--no-bind]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time


def shapes(op, shape, padding, stride, layout):
    """(input shapes, output shape, flops) of crosstune's DAG, in the kernels' argument order."""
    if op == "gemm":
        m, n, k = shape
        return [(m, k), (k, n)], (m, n), 2.0 * m * n * k
    n, c, h, w, k, r, s = shape
    oh = (h + 2 * padding - r) // stride + 1
    ow = (w + 2 * padding - s) // stride + 1
    flops = 2.0 * n * k * oh * ow * c * r * s
    if layout == "NHWC":
        return [(n, h, w, c), (r, s, c, k)], (n, oh, ow, k), flops
    return [(n, c, h, w), (k, c, r, s)], (n, k, oh, ow), flops


def inputs_of(in_shapes):
    import numpy as np

    rng = np.random.default_rng(1)
    return [rng.uniform(-1, 1, s).astype("float32") for s in in_shapes]


def placed(array, offset):
    """A copy of `array` in an anonymous mmap of its own, its data `offset` bytes past the page boundary.

    The mapping lives as long as the returned array (NumPy keeps it as the array's base)."""
    import mmap

    import numpy as np

    region = mmap.mmap(-1, offset + array.nbytes)
    copy = np.frombuffer(region, np.uint8, array.nbytes, offset).view(array.dtype).reshape(array.shape)
    copy[...] = array
    return copy


# ---- workers: one line of JSON per command read on stdin ----

def worker(args):
    import numpy as np

    in_shapes, out_shape, _ = shapes(args.op, args.shape, args.padding, args.stride, args.layout)
    inputs = inputs_of(in_shapes)
    output = np.zeros(out_shape, "float32")
    # One set of buffers a placement; every kernel call of a command uses the set it names.
    sets = [[placed(x, offset) for x in inputs + [output]] for offset in args.placements]
    if args.worker == "crosstune":
        import ctypes

        lib = ctypes.CDLL(args.lib)
        run = lib.duel_run
        run.restype = ctypes.c_double
        run.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_long]
        pointers = [(ctypes.c_void_p * len(b))(*[x.ctypes.data for x in b]) for b in sets]
        for p in pointers:
            run(p, 1)

        def timed(placement, number, repeat):
            return [run(pointers[placement], number) / number for _ in range(repeat)]
    else:
        import tvm

        dev = tvm.cpu()
        mod = tvm.runtime.load_module(args.lib)
        entry = mod.entry_name if hasattr(mod, "entry_name") else "main"
        tvm_sets = [[tvm.runtime.from_dlpack(x) for x in b] for b in sets]  # the same memory, no copy
        for b, t in zip(sets, tvm_sets):  # shared, not copied: a write on one side shows on the other
            for x, y in zip(b, t):
                kept = x.flat[0]
                x.flat[0] = kept + 1
                shared = y.numpy().flat[0] == x.flat[0]
                x.flat[0] = kept
                if not shared:
                    fail("TVM copied a buffer given through DLPack; the placements would not hold")
        for t in tvm_sets:
            mod[entry](*t)

        def timed(placement, number, repeat):
            evaluator = mod.time_evaluator(entry, dev, number=number, repeat=repeat, min_repeat_ms=0)
            return [float(c) for c in evaluator(*tvm_sets[placement]).results]
    np.save(args.output, np.stack([np.array(b[-1]) for b in sets]))
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        print(json.dumps({"costs": timed(command["placement"], command["number"], command["repeat"])}), flush=True)


# ---- the driver ----

HARNESS = """
#include <chrono>
extern "C" double duel_run(float* const* args, long number) {
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < number; ++i) ENTRY_packed(args);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
"""


def build_crosstune(source, entry, folder):
    harness = os.path.join(folder, "duel_crosstune.cpp")
    with open(harness, "w") as f:
        f.write(f'#include "{os.path.abspath(source)}"\n#define ENTRY_packed {entry}_packed\n{HARNESS}')
    library = os.path.join(folder, "duel_crosstune.so")
    command = [os.environ.get("CXX", "c++"), "-std=c++17", "-O3", "-shared", "-fPIC", "-w", "-march=native", "-fopenmp",
               "-mprefer-vector-width=512", harness, "-o", library]
    built = subprocess.run(command, capture_output=True, text=True)
    if built.returncode != 0:
        fail(f"the crosstune kernel did not build ({' '.join(command)}):\n{built.stderr[-2000:]}")
    return library


def fail(why):
    print(f"duel: error: {why}", file=sys.stderr)
    sys.exit(1)


class Worker:
    def __init__(self, side, lib, args, folder):
        self.side = side
        self.output = os.path.join(folder, f"{side}_out.npy")
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), TVM_NUM_THREADS=str(args.threads))
        if args.no_bind:
            env.update(OMP_PROC_BIND="false", TVM_BIND_THREADS="0")
        else:
            env.setdefault("OMP_PROC_BIND", "true")
            env.setdefault("OMP_PLACES", "cores")
            env.pop("TVM_BIND_THREADS", None)
        command = [sys.executable, os.path.abspath(__file__), "--worker", side, "--lib", lib, "--output", self.output,
                   "--op", args.op, "--shape", ",".join(map(str, args.shape)), "--padding", str(args.padding),
                   "--stride", str(args.stride), "--layout", args.layout,
                   "--placements", ",".join(map(str, args.placements))]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.reply()  # ready: the kernel ran once and its output is saved

    def reply(self):
        line = self.process.stdout.readline()
        if not line:
            fail(f"the {self.side} worker ended (exit {self.process.wait()}); its messages are above")
        return json.loads(line)

    def time(self, placement, number, repeat):  # placement: an index into --placements
        self.process.stdin.write(json.dumps({"placement": placement, "number": number, "repeat": repeat}) + "\n")
        self.process.stdin.flush()
        return self.reply()["costs"]

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--op", choices=["gemm", "conv2d"], default="gemm")
    parser.add_argument("--shape", required=True, help="gemm: M,N,K; conv2d: N,C,H,W,K,R,S")
    parser.add_argument("--padding", type=int, default=0)
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--min-repeat-ms", type=float, default=100)
    parser.add_argument("--no-bind", action="store_true",
                        help="leave both sides' threads unbound (default: bound to cores, as TVM's pool is)")
    parser.add_argument("--placements", default="0,64",
                        help="page offsets of the buffers' data in bytes, comma-separated; every round times each")
    parser.add_argument("--crosstune-source")
    parser.add_argument("--crosstune-entry")
    parser.add_argument("--metaschedule-lib")
    parser.add_argument("--worker", choices=["crosstune", "metaschedule"], help=argparse.SUPPRESS)
    parser.add_argument("--lib", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.shape = [int(s) for s in args.shape.split(",")]
    try:
        args.placements = [int(p) for p in args.placements.split(",")]
    except ValueError:
        parser.error(f"--placements: comma-separated byte offsets, such as 0,64, not '{args.placements}'")
    if not args.placements or len(set(args.placements)) != len(args.placements) or \
            any(p < 0 or p >= 4096 or p % 4 for p in args.placements):
        parser.error(f"--placements: distinct offsets in [0, 4096), multiples of 4 (float32), not '{args.placements}'")
    if len(args.shape) != (3 if args.op == "gemm" else 7) or min(args.shape) < 1:
        parser.error(f"--shape: {args.op} takes {'M,N,K' if args.op == 'gemm' else 'N,C,H,W,K,R,S'}")
    if args.worker:
        return worker(args)
    for flag in ("crosstune_source", "crosstune_entry", "metaschedule_lib"):
        if not getattr(args, flag):
            parser.error(f"--{flag.replace('_', '-')} is required")
    if args.rounds < 1 or args.repeat < 1 or args.min_repeat_ms <= 0:
        parser.error("--rounds and --repeat must be at least 1, --min-repeat-ms above 0")

    import numpy as np

    in_shapes, _, flops = shapes(args.op, args.shape, args.padding, args.stride, args.layout)
    with tempfile.TemporaryDirectory(prefix="duel_") as folder:
        library = build_crosstune(args.crosstune_source, args.crosstune_entry, folder)
        workers = [Worker("crosstune", library, args, folder),
                   Worker("metaschedule", os.path.abspath(args.metaschedule_lib), args, folder)]

        # Both outputs, on every placement, against NumPy.
        inputs = inputs_of(in_shapes)
        if args.op == "gemm":
            want = inputs[0] @ inputs[1]
        else:  # te_ops imports TVM: here in the driver, which times nothing, never in the crosstune worker
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import te_ops

            want = te_ops.conv2d_reference(*inputs, (args.padding,) * 4, (args.stride, args.stride), args.layout)
        errors = {}
        for w in workers:
            got = np.load(w.output)  # one output a placement
            errors[w.side] = max(float(np.max(np.abs(g - want)) / max(1e-30, float(np.max(np.abs(want))))) for g in got)
            if not errors[w.side] < 1e-3:
                fail(f"the {w.side} kernel's output differs from NumPy's (max error {errors[w.side]:.3g} of the largest value)")

        # The calls a repeat needs to last --min-repeat-ms, grown on each side until a repeat does (as TVM's
        # time_evaluator grows them), on the first placement; each side keeps its count for every round.
        def calls_per_repeat(w):
            number, goal = 1, args.min_repeat_ms * 1e-3
            while True:
                cost = w.time(0, number, 1)[0]
                if cost * number >= goal:
                    return number
                number = max(number * 2, math.ceil(goal / max(cost, 1e-9)))

        number = {w.side: calls_per_repeat(w) for w in workers}
        places = range(len(args.placements))
        for p in places:  # a round each, not counted: thread pools started, pages and caches warm
            for w in workers:
                w.time(p, number[w.side], 1)
        costs = {(side, p): [] for side in ("crosstune", "metaschedule") for p in places}
        for r in range(args.rounds):
            # ABBA over the sides and over the placements, so that a drift favours no side and no placement.
            for p in (places if r % 2 == 0 else places[::-1]):
                for w in (workers if r % 2 == 0 else workers[::-1]):
                    time.sleep(0.05)  # the other side's thread pool stops spinning and sleeps
                    costs[w.side, p].append(statistics.mean(w.time(p, number[w.side], args.repeat)))
            print(f"duel: round {r + 1}/{args.rounds}: " + "; ".join(
                f"offset {offset}: crosstune {flops / costs['crosstune', p][-1] * 1e-9:.1f}, "
                f"MetaSchedule {flops / costs['metaschedule', p][-1] * 1e-9:.1f}" for p, offset in enumerate(args.placements))
                + " GFLOP/s", file=sys.stderr)
        for w in workers:
            w.close()

    def summary(ct, ms):  # the costs of each side's rounds, in the same order
        gflops = {"crosstune": [flops / c * 1e-9 for c in ct], "metaschedule": [flops / c * 1e-9 for c in ms]}
        ratios = [m / c for c, m in zip(ct, ms)]
        return {
            "crosstune_gflops": [round(g, 3) for g in gflops["crosstune"]],
            "metaschedule_gflops": [round(g, 3) for g in gflops["metaschedule"]],
            "ratios": [round(x, 4) for x in ratios],
            "median_ratio": statistics.median(ratios), "min_ratio": min(ratios), "max_ratio": max(ratios),
            "crosstune_median_gflops": statistics.median(gflops["crosstune"]),
            "metaschedule_median_gflops": statistics.median(gflops["metaschedule"]),
        }

    pooled = summary(*([c for p in places for c in costs[side, p]] for side in ("crosstune", "metaschedule")))
    print(json.dumps({
        "op": args.op, "shape": ",".join(map(str, args.shape)), "layout": args.layout if args.op == "conv2d" else None,
        "threads": args.threads, "rounds": args.rounds, "repeat": args.repeat, "number": number, "flops": flops,
        "max_rel_error": errors, "placements": args.placements, "bound_threads": not args.no_bind,
        "by_placement": {str(offset): summary(costs["crosstune", p], costs["metaschedule", p])
                         for p, offset in enumerate(args.placements)},
        **pooled,
    }, indent=1))


if __name__ == "__main__":
    main()
