#!/usr/bin/env python3
"""The peer of `crosstune tune --network`: TVM MetaSchedule tuning the tasks of the same network, with the
same weights, for a given trial budget, on the same machine (bench/time_to_tune.sh, SIDES=metaschedule).

The tasks come from a `crosstune tune --network ... --json` result (--tasks FILE): each task's workload key
(conv2d, pool2d, dense, add, softmax; te_ops.py builds the same DAG as a tensor expression), its weight
(occurrences in the network) and its untuned latency. MetaSchedule tunes them all at once with `tune_tasks`
as shipped: post-order-apply design spaces, evolutionary search, its XGBoost cost model trained online and
the gradient task scheduler over the weights, --trials candidates over all tasks (max_trials_global),
--per-round a round (num_trials_per_iter). Builder, runner and target as metaschedule_tune.py: LocalBuilder
(max_workers=--threads, timeout 120 s), LocalRunner(timeout 10 s, number=1, repeat=3, min_repeat_ms=20, no
flush), {"kind": "llvm", "num-cores": --threads, "mcpu": the host's}.

The network estimate is crosstune's: Σ weight × best latency of each task, a task not yet measured counted at
its untuned latency from --tasks (crosstune's untuned loop nest). "curve" has one point per measured round:
[trials so far, seconds since tune_tasks began, estimate]. "to_95" is the first point within 5% of the final
estimate. Confirmation: each task's best schedule is built here, its output checked against NumPy, and timed
(number=1, repeat=5, min_repeat_ms=100); "confirmed_estimate_seconds" sums those. A wrong kernel is reported
in "wrong", a task without a working schedule in "unmeasured"; both count at their untuned latency.

Prints one JSON object on stdout (TVM's logs go to stderr). Without TVM: {"skipped": "<why>"}, exit 0.
Usage: build/peer-venv/bin/python bench/peers/metaschedule_network.py --tasks RESULT.json [--trials 1000]
       [--per-round 16] [--threads 2] [--seed 0] [--work-dir DIR (kept; default a temporary folder)]
"""
import argparse
import importlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

from ms_common import CONFIRM, builder_and_runner, emit, host_mcpu, import_metaschedule, successful_costs
from ms_common import skip as skip_peer


def skip(why):
    skip_peer("metaschedule_network", why)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", required=True, help="a crosstune tune --network --json result")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--per-round", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mcpu", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", default=None)
    args = parser.parse_args()
    if args.trials < 1 or args.per_round < 1 or args.threads < 1:
        parser.error("--trials, --per-round and --threads must be at least 1")
    return args


ARGS = parse_args()
os.environ["TVM_NUM_THREADS"] = str(ARGS.threads)

try:
    with open(ARGS.tasks) as f:
        NETWORK = json.load(f)
    TASKS = NETWORK["tasks"]
except (OSError, ValueError, KeyError) as e:
    skip(f"--tasks {ARGS.tasks}: not a crosstune tune --network --json result ({type(e).__name__}: {e})")

tvm, ms, derived_object = import_metaschedule("metaschedule_network")
import numpy as np  # noqa: E402 - after TVM_NUM_THREADS is set
from tvm import te  # noqa: E402

import te_ops  # noqa: E402 - beside this script

get_loggers_from_work_dir = importlib.import_module(ms.__name__ + ".logging").get_loggers_from_work_dir
fork_seed = importlib.import_module(ms.__name__ + ".utils").fork_seed


def confirm(database, func, tensors, reference, target, rng):
    """(seconds, max relative error) of the task's best schedule; (None, None) when the task has none;
    (None, why) when its output is wrong."""
    mod = tvm.IRModule({"main": func})
    sch = ms.tir_integration.compile_tir(database, mod, target)
    if sch is None:
        return None, None
    lib = tvm.compile(sch.mod, target=target)
    dev = tvm.cpu()
    inputs = [rng.uniform(-1, 1, [int(d) for d in t.shape]).astype("float32") for t in tensors[:-1]]
    out = [int(d) for d in tensors[-1].shape]
    args = [tvm.runtime.tensor(x, dev) for x in inputs] + [tvm.runtime.tensor(np.zeros(out, "float32"), dev)]
    rt = lib.mod
    rt[rt.entry_name](*args)
    got, want = args[-1].numpy(), reference(*inputs)
    error = float(np.max(np.abs(got - want)) / max(1e-30, float(np.max(np.abs(want)))))
    if not error < 1e-3:
        return None, f"output differs from NumPy's (max error {error:.3g} of the largest value)"
    costs = rt.time_evaluator(rt.entry_name, dev, **CONFIRM)(*args).results
    return statistics.mean(float(c) for c in costs), error


def main():
    args = ARGS
    funcs, built = [], []
    for t in TASKS:
        try:
            tensors, _, reference = te_ops.from_workload_key(t["workload_key"])
        except ValueError as e:
            skip(str(e))
        funcs.append(te.create_prim_func(tensors))
        built.append((tensors, reference))
    weights = [float(t["weight"]) for t in TASKS]
    untuned = [float(t.get("untuned_seconds") or 0) for t in TASKS]
    if min(untuned) <= 0:
        skip("--tasks has no untuned latency for every task: give a result of a run without --no-reference")

    target_dict = {"kind": "llvm", "num-cores": args.threads, "mcpu": args.mcpu or host_mcpu(tvm)}
    target = tvm.target.Target(target_dict)
    best = [None] * len(TASKS)
    state = {"trials": 0, "errors": 0, "first_error": None}
    curve = []
    start = [0.0]

    def estimate():
        return sum(w * (b if b is not None else u) for w, b, u in zip(weights, best, untuned))

    @derived_object
    class Curve(ms.measure_callback.PyMeasureCallback):
        """Appends [trials, seconds, estimate] after each measured round; reads the results only."""

        def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
            for cost in successful_costs(state, builder_results, runner_results):
                if best[task_id] is None or cost < best[task_id]:
                    best[task_id] = cost
            curve.append([state["trials"], round(time.perf_counter() - start[0], 3), estimate()])
            print(f"metaschedule_network: {state['trials']}/{args.trials} trials, estimate {estimate() * 1e3:.2f} ms, "
                  f"{curve[-1][1]:.0f} s", file=sys.stderr)

    work_dir = args.work_dir or tempfile.mkdtemp(prefix="metaschedule_network_")
    os.makedirs(work_dir, exist_ok=True)
    names = [f"task{i:02d}" for i in range(len(TASKS))]
    try:
        contexts = [
            ms.TuneContext(mod=tvm.IRModule({"main": f}), target=target, space_generator="post-order-apply",
                           search_strategy="evolutionary", task_name=name, rand_state=seed,
                           num_threads=args.threads, logger=logger).clone()
            for f, name, logger, seed in zip(funcs, names, get_loggers_from_work_dir(work_dir, names),
                                              fork_seed(args.seed, n=len(funcs)))
        ]
        callbacks = list(ms.measure_callback.MeasureCallback.create("default")) + [Curve()]
        builder, runner = builder_and_runner(ms, args.threads)
        start[0] = time.perf_counter()
        database = ms.tune_tasks(tasks=contexts, task_weights=weights, work_dir=work_dir,
                                 max_trials_global=args.trials, num_trials_per_iter=args.per_round,
                                 builder=builder, runner=runner, measure_callbacks=callbacks)
        seconds = time.perf_counter() - start[0]

        rng = np.random.default_rng(1)
        confirmed, wrong, unmeasured = [], [], []
        for i, (f, (tensors, reference)) in enumerate(zip(funcs, built)):
            secs, note = confirm(database, f, tensors, reference, target, rng)
            if secs is None and note is None:
                unmeasured.append(TASKS[i]["name"])
            elif secs is None:
                wrong.append({"task": TASKS[i]["name"], "why": note})
            confirmed.append(secs)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)

    final = estimate()
    to_95 = next((p for p in curve if p[2] <= 1.05 * final), None)
    emit({
        "peer": "tvm-metaschedule",
        "tvm": tvm.__version__,
        "network": NETWORK.get("network"),
        "target": str(target),
        "threads": args.threads,
        "trials_requested": args.trials,
        "trials": state["trials"],
        "failures": state["errors"],
        "first_error": state["first_error"],
        "per_round": args.per_round,
        "seconds": round(seconds, 3),
        "estimate_seconds": final,
        "confirmed_estimate_seconds": sum(w * (c if c is not None else u)
                                          for w, c, u in zip(weights, confirmed, untuned)),
        "untuned_seconds": sum(w * u for w, u in zip(weights, untuned)),
        "to_95": {"trials": to_95[0], "seconds": to_95[1]} if to_95 else None,
        "wrong": wrong,
        "unmeasured": unmeasured,
        "tasks": [{"name": t["name"], "weight": t["weight"], "best_seconds": b, "confirmed_seconds": c}
                  for t, b, c in zip(TASKS, best, confirmed)],
        "curve": curve,
    })


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        skip(f"TVM MetaSchedule failed ({type(e).__name__}: {str(e)[:500]})")
