#!/usr/bin/env python3
"""The peer of `crosstune tune`: TVM MetaSchedule tuning the same operator with the same trial budget, on
the same machine, right after it (bench/tune_compare.sh).

Operators (float32, the same DAGs as crosstune's --op):
  gemm    C = A·B, A M×K, B K×N, --shape M,N,K (default 1024,1024,1024; crosstune's matmul takes M,K,N)
  conv2d  convolution, --shape N,C,H,W,K,R,S (crosstune's conv2d order: N,CI,H,W,CO,KH,KW), with
          --padding and --stride (default: ResNet-50's 3×3 layer at 56×56, 64 → 64 channels, batch 1, pad 1);
          --layout NCHW (filters OIHW, the default) or NHWC (filters HWIO), as crosstune's --layout

Tuning: `tune_tir` as shipped (post-order-apply design space, evolutionary search, its default XGBoost cost
model trained online, the gradient task scheduler) for --trials candidates (max_trials_global),
--per-round a round (num_trials_per_iter). Target {"kind": "llvm", "num-cores": --threads, "mcpu": --mcpu;
default the host's CPU as TVM's LLVM names it}. LocalBuilder(max_workers=--threads, timeout_sec=120: the
machine is loaded, and each build round starts workers that import TVM), LocalRunner(timeout_sec=10,
crosstune's --timeout) with EvaluatorConfig(number=1, repeat=3, min_repeat_ms=20,
enable_cpu_cache_flush=False): `crosstune tune`'s defaults (--repeat 3, --min-repeat-ms 20, no flush).
"seconds" is the wall time of the tune_tir call: making the builder, runner and cost model, design-space
generation, search, builds, runs and model updates, as crosstune's "seconds" counts its whole loop.

Confirmation, as `crosstune tune` does for its best kernel: the best schedule of the database
(compile_tir) is built in this process and timed with time_evaluator(number=1, repeat=5,
min_repeat_ms=100), no flush, on --threads threads (TVM_NUM_THREADS); best_seconds is the mean of the 5
repeats. Its output is checked against NumPy first (MetaSchedule's runner checks nothing): a wrong best
kernel skips the peer rather than giving a number. "tuning_best_seconds" is the best the runner saw.
With --export, that kernel is also written as a shared library, for bench/peers/duel.py to time it
interleaved with crosstune's.
"curve" has one point per measured round: [trials so far, seconds since tune_tir began, best GFLOP/s
so far], from a measure callback appended to the default ones (it only reads the round's results).

Prints one JSON object on stdout (everything TVM logs goes to stderr):
  {"peer": "tvm-metaschedule", "op", "shape", "trials", "seconds", "best_seconds", "best_gflops",
   "threads", "curve", ...}
Install the peer with bench/install-peers.sh (a virtual environment in build/peer-venv); without TVM it
prints {"skipped": "<why>"} and exits 0, so the benchmarks run on.

Usage: build/peer-venv/bin/python bench/peers/metaschedule_tune.py [--op gemm|conv2d] [--shape ...]
       [--padding 1] [--stride 1] [--layout NCHW|NHWC] [--trials 256] [--per-round 64] [--threads 2] [--mcpu znver5]
       [--seed 0] [--work-dir DIR (kept; default a temporary folder, removed)] [--export best.so]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

from ms_common import CONFIRM, TUNING, builder_and_runner, emit, host_mcpu, import_metaschedule, successful_costs
from ms_common import skip as skip_peer

DEFAULT_SHAPES = {"gemm": "1024,1024,1024", "conv2d": "1,64,56,56,64,3,3"}


def skip(why):
    skip_peer("metaschedule_tune", why)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--op", choices=sorted(DEFAULT_SHAPES), default="gemm")
    parser.add_argument("--shape", help="gemm: M,N,K; conv2d: N,C,H,W,K,R,S")
    parser.add_argument("--padding", type=int, default=None, help="conv2d (default 1)")
    parser.add_argument("--stride", type=int, default=1, help="conv2d (default 1)")
    parser.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW", help="conv2d (default NCHW)")
    parser.add_argument("--trials", type=int, default=256)
    parser.add_argument("--per-round", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mcpu", default=None, help="default: the host's, as TVM's LLVM names it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--export", default=None,
                        help="also write the confirmed best kernel here as a shared library (bench/peers/duel.py)")
    args = parser.parse_args()
    args.shape = [int(s) for s in (args.shape or DEFAULT_SHAPES[args.op]).split(",")]
    if len(args.shape) != (3 if args.op == "gemm" else 7) or min(args.shape) < 1:
        parser.error(f"--shape: {args.op} takes {'M,N,K' if args.op == 'gemm' else 'N,C,H,W,K,R,S'}")
    if args.padding is None:
        args.padding = 1 if args.op == "conv2d" else 0
    return args


ARGS = parse_args()
os.environ["TVM_NUM_THREADS"] = str(ARGS.threads)  # the runtime's thread pool, here and in the workers

tvm, ms, derived_object = import_metaschedule("metaschedule_tune")
import numpy as np  # noqa: E402 - after TVM_NUM_THREADS is set
from tvm import te  # noqa: E402

import te_ops  # noqa: E402 - beside this script


def reference(args, inputs):
    """The output NumPy computes from the same inputs."""
    if args.op == "gemm":
        return inputs[0] @ inputs[1]
    pads = (args.padding,) * 4
    return te_ops.conv2d_reference(*inputs, pads, (args.stride, args.stride), args.layout)


def main():
    args = ARGS
    if args.op == "gemm":
        m, n, k = args.shape
        tensors, flops = te_ops.gemm(m, n, k)
    else:
        n, c, h, w, k, r, s = args.shape
        pads, strides = (args.padding,) * 4, (args.stride, args.stride)
        tensors, flops = te_ops.conv2d(n, c, h, w, k, r, s, pads, strides, args.layout)
    mod = tvm.IRModule({"main": te.create_prim_func(tensors)})
    mcpu = args.mcpu or host_mcpu(tvm)
    target_dict = {"kind": "llvm", "num-cores": args.threads, "mcpu": mcpu}
    try:
        target = tvm.target.Target(target_dict)
    except Exception as e:  # noqa: BLE001
        skip(f"the target {target_dict} is refused ({type(e).__name__}: {e})")

    curve = []
    state = {"trials": 0, "best": float("inf"), "errors": 0, "first_error": None}
    start = [0.0]

    @derived_object
    class Curve(ms.measure_callback.PyMeasureCallback):
        """Records [trials so far, elapsed seconds, best GFLOP/s] after each measured round."""

        def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
            for cost in successful_costs(state, builder_results, runner_results):
                state["best"] = min(state["best"], cost)
            best = flops / state["best"] * 1e-9 if state["best"] < float("inf") else 0.0
            curve.append([state["trials"], round(time.perf_counter() - start[0], 3), round(best, 3)])
            print(f"metaschedule_tune: {state['trials']}/{args.trials} trials, best {best:.1f} GFLOP/s, "
                  f"{curve[-1][1]:.0f} s", file=sys.stderr)

    work_dir = args.work_dir or tempfile.mkdtemp(prefix="metaschedule_tune_")
    os.makedirs(work_dir, exist_ok=True)
    load_before = open("/proc/loadavg").read().split()[:3]
    try:
        callbacks = list(ms.measure_callback.MeasureCallback.create("default")) + [Curve()]
        start[0] = time.perf_counter()
        builder, runner = builder_and_runner(ms, args.threads)
        database = ms.tune_tir(
            mod,
            target,
            work_dir,
            max_trials_global=args.trials,
            num_trials_per_iter=args.per_round,
            builder=builder,
            runner=runner,
            measure_callbacks=callbacks,
            num_tuning_cores=args.threads,
            seed=args.seed,
        )
        seconds = time.perf_counter() - start[0]
        load_after = open("/proc/loadavg").read().split()[:3]

        # Confirm: the best schedule built here, checked against NumPy, then timed.
        sch = ms.tir_integration.compile_tir(database, mod, target)
        if sch is None:
            skip(f"no working schedule in {state['trials']} trials (first error: {state['first_error']})")
        lib = tvm.compile(sch.mod, target=target)
        dev = tvm.cpu()
        rng = np.random.default_rng(1)
        inputs = [rng.uniform(-1, 1, [int(d) for d in t.shape]).astype("float32") for t in tensors[:-1]]
        out_shape = [int(d) for d in tensors[-1].shape]
        tvm_args = [tvm.runtime.tensor(x, dev) for x in inputs] + [
            tvm.runtime.tensor(np.zeros(out_shape, "float32"), dev)
        ]
        rt_mod = lib.mod
        rt_mod[rt_mod.entry_name](*tvm_args)
        got, want = tvm_args[-1].numpy(), reference(args, inputs)
        error = float(np.max(np.abs(got - want)) / max(1e-30, float(np.max(np.abs(want)))))
        if not error < 1e-3:
            skip(f"the best schedule's output differs from NumPy's (max error {error:.3g} of the largest value)")
        evaluator = rt_mod.time_evaluator(rt_mod.entry_name, dev, **CONFIRM)
        costs = [float(c) for c in evaluator(*tvm_args).results]
        best_seconds = statistics.mean(costs)
        if args.export:
            lib.export_library(args.export)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)

    emit({
        "peer": "tvm-metaschedule",
        "tvm": tvm.__version__,
        "op": args.op,
        "shape": ",".join(map(str, args.shape)),
        "padding": args.padding if args.op == "conv2d" else None,
        "stride": args.stride if args.op == "conv2d" else None,
        "layout": args.layout if args.op == "conv2d" else None,
        "target": str(target),
        "threads": args.threads,
        "trials_requested": args.trials,
        "trials": state["trials"],
        "failures": state["errors"],
        "first_error": state["first_error"],
        "per_round": args.per_round,
        "seconds": round(seconds, 3),
        "tuning_best_seconds": state["best"] if state["best"] < float("inf") else None,
        "best_seconds": best_seconds,
        "best_gflops": flops / best_seconds * 1e-9,
        "confirm_costs": costs,
        "max_rel_error": error,
        "export": args.export,
        "flops": flops,
        "evaluator": TUNING,
        "load_before": load_before,
        "load_after": load_after,
        "curve": curve,
    })


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - a TVM failure skips the peer with its message, never a number
        import traceback

        traceback.print_exc()
        skip(f"TVM MetaSchedule failed ({type(e).__name__}: {str(e)[:500]})")
