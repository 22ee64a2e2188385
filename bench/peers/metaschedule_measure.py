#!/usr/bin/env python3
"""The peer of bench_measurer: TVM MetaSchedule's LocalBuilder + LocalRunner measuring 64 GEMM candidates
end to end, with the same settings, on the same machine, right after it (bench/run.sh).

Candidates: 64 samples of MetaSchedule's own CPU design space for C = A·B (float32, n×n×n), drawn by its
ReplayTrace search strategy (random decisions for every sampling instruction of the design-space traces,
postprocessors applied), as the first round of a tune_tir would measure them. Generation is not timed.
A round is timed as a tuner does it: LocalBuilder.build on all 64 (2 workers, 120 s build time limit,
a fresh process pool per call as LocalBuilder makes, whose workers each import TVM and its tensor
intrinsics), then LocalRunner.run on those that built (one reused worker, 10 s time limit) and every
result awaited. One build per size serves both settings (it does not depend on them): a setting's round
is that build's time plus its own run's. Making the builder and the runner (each checks its functions in
a process pool) is reported apart (init_s). LocalRunner does not check outputs.

Settings, as in bench_measurer:
  tuning: EvaluatorConfig(number=1, repeat=3, min_repeat_ms=100, enable_cpu_cache_flush=True)
  quick:  EvaluatorConfig(number=1, repeat=1, min_repeat_ms=0,   enable_cpu_cache_flush=False)
(TVM's time_evaluator runs the kernel once untimed first; its cache flush evicts the kernel's inputs
but the first; bench_measurer writes 64 MiB.)

Prints one JSON object on stdout: {"peer": ..., "results": [{"n", "setting", "candidates_per_s", ...}]}.
Install the peer with bench/install-peers.sh (a virtual environment in build/peer-venv); without TVM it
prints {"skipped": "<why>"} and exits 0, so the benchmarks run on.

Usage: python3 bench/peers/metaschedule_measure.py [--sizes 256,1024] [--settings quick,tuning]
       [--candidates 64] [--workers 2]
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import time


def skip(why):
    print(json.dumps({"peer": "tvm-metaschedule", "skipped": why}))
    print(f"metaschedule_measure: skipped: {why}", file=sys.stderr)
    sys.exit(0)


try:
    import tvm
    from tvm import te

    try:
        from tvm.s_tir import meta_schedule as ms  # TVM ≥ 0.22 moved MetaSchedule under s_tir
    except ImportError:
        from tvm import meta_schedule as ms
    EvaluatorConfig, RunnerInput = ms.runner.EvaluatorConfig, ms.runner.RunnerInput
    BuilderInput = ms.builder.BuilderInput
except Exception as e:  # noqa: BLE001 - any import failure only skips the peer
    skip(f"TVM MetaSchedule cannot be imported ({type(e).__name__}: {e}); run bench/install-peers.sh")

SETTINGS = {
    "tuning": dict(number=1, repeat=3, min_repeat_ms=100, enable_cpu_cache_flush=True),
    "quick": dict(number=1, repeat=1, min_repeat_ms=0, enable_cpu_cache_flush=False),
}
TARGET = {"kind": "llvm", "num-cores": 2, "mcpu": "znver4"}
SEED = 20261130
RUN_TIMEOUT_S = 10  # Ansor's LocalRunner default, as bench_measurer's


def gemm_module(n):
    a = te.placeholder((n, n), name="A")
    b = te.placeholder((n, n), name="B")
    k = te.reduce_axis((0, n), name="k")
    c = te.compute((n, n), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="C")
    return tvm.IRModule({"main": te.create_prim_func([a, b, c])})


def candidates(n, count, target):
    """`count` candidates from ReplayTrace over the post-order-apply design space (MetaSchedule's own
    random sampling, postprocessors applied), and the seconds it took."""
    start = time.perf_counter()
    ctx = ms.TuneContext(
        mod=gemm_module(n),
        target=target,
        space_generator="post-order-apply",
        search_strategy="replay-trace",
        task_name=f"gemm{n}",
        rand_state=SEED,
        num_threads=2,
    )
    spaces = ctx.generate_design_space()
    ctx.pre_tuning(max_trials=count, num_trials_per_iter=count, design_spaces=spaces)
    out = []
    while len(out) < count:
        batch = ctx.generate_measure_candidates()
        if not batch:
            break
        out.extend(batch)
    return out[:count], len(spaces), time.perf_counter() - start


def median(values):
    return statistics.median(values) if values else None


def build(cands, target, workers):
    """One LocalBuilder round on all candidates: (results, seconds, seconds to make the builder)."""
    start = time.perf_counter()
    builder = ms.builder.LocalBuilder(max_workers=workers, timeout_sec=120)
    init_s = time.perf_counter() - start  # a process pool that checks its functions
    t0 = time.perf_counter()
    built = builder.build([BuilderInput(c.sch.mod, target) for c in cands])
    return built, time.perf_counter() - t0, init_s


def run(setting, cands, built):
    """One LocalRunner round on the candidates that built: (results, seconds, seconds to make the runner)."""
    start = time.perf_counter()
    config = EvaluatorConfig(**SETTINGS[setting])
    runner = ms.runner.LocalRunner(timeout_sec=RUN_TIMEOUT_S, evaluator_config=config)
    init_s = time.perf_counter() - start  # starts its worker and checks its functions
    ok_builds = [(c, b) for c, b in zip(cands, built) if b.error_msg is None]
    t0 = time.perf_counter()
    futures = runner.run([RunnerInput(b.artifact_path, "llvm", c.args_info) for c, b in ok_builds])
    results = [f.result() for f in futures]
    seconds = time.perf_counter() - t0
    del runner  # its worker goes with it
    return results, seconds, init_s


def summary(n, setting, count, built, build_s, build_init_s, results, run_s, run_init_s):
    config = SETTINGS[setting]
    wall = build_s + run_s
    build_errors = [b.error_msg for b in built if b.error_msg is not None]
    run_errors = [r.error_msg for r in results if r.error_msg is not None]
    costs = [[float(c) for c in r.run_secs] for r in results if r.error_msg is None]
    means = [sum(c) / len(c) for c in costs]
    # The least kernel time the setting asks for: time_evaluator's untimed first run, then `repeat`
    # repeats of at least min_repeat_ms each (its calibration rounds are not counted: a lower bound).
    min_repeat = config["min_repeat_ms"] * 1e-3
    protocol = sum(m + config["repeat"] * max(min_repeat, m * config["number"]) for m in means)
    cvs = []
    if config["repeat"] >= 2:
        for c, m in zip(costs, means):
            if m >= 1e-3:
                cvs.append(statistics.stdev(c) / m)
    # A run past the time limit costs the limit (the pool kills the worker then).
    timed_out = RUN_TIMEOUT_S * sum(1 for e in run_errors if "Timeout" in e)
    first_error = (build_errors + run_errors + [None])[0]
    ran = max(1, len(results))
    return {
        "n": n,
        "setting": setting,
        "evaluator": config,
        "candidates": count,
        "built": count - len(build_errors),
        "ok": len(costs),
        "build_errors": len(build_errors),
        "run_errors": len(run_errors),
        "first_error": first_error[:400] if first_error else None,
        "wall_s": wall,
        "build_wall_s": build_s,
        "run_wall_s": run_s,
        "init_s": build_init_s + run_init_s,
        "candidates_per_s": count / wall,
        "with_init_per_s": count / (wall + build_init_s + run_init_s),
        "build_s": build_s / count,
        "run_s": run_s / ran,
        "protocol_ms": protocol / count * 1e3,
        "overhead_vs_protocol_ms": (wall - protocol) / count * 1e3,
        "timed_out_s": timed_out,
        "overhead_ex_timeouts_ms": (wall - protocol - timed_out) / count * 1e3,
        "runner_overhead_ms": (run_s - protocol) / ran * 1e3,
        "median_kernel_ms": median(means) * 1e3 if means else None,
        "median_cv": median(cvs),
        "max_cv": max(cvs) if cvs else None,
        "cv_candidates": len(cvs),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="256,1024")
    parser.add_argument("--settings", default="quick,tuning")
    parser.add_argument("--candidates", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    try:
        target = tvm.target.Target(TARGET)
    except Exception as e:  # noqa: BLE001
        skip(f"the target {TARGET} is refused ({type(e).__name__}: {e})")
    out = {
        "peer": "tvm-metaschedule",
        "tvm": tvm.__version__,
        "target": str(target),
        "load_before": open("/proc/loadavg").read().split()[:3],
        "results": [],
    }
    for n in (int(s) for s in args.sizes.split(",")):
        cands, spaces, gen_s = candidates(n, args.candidates, target)
        print(f"gemm{n}: {len(cands)} candidates from {spaces} design spaces in {gen_s:.1f} s",
              file=sys.stderr)
        # One build round per size serves both settings (the build does not depend on them); each
        # setting's round is that build plus its own run.
        built, build_s, build_init_s = build(cands, target, args.workers)
        print(f"gemm{n}: built in {build_s:.1f} s", file=sys.stderr)
        for setting in args.settings.split(","):
            results, run_s, run_init_s = run(setting, cands, built)
            r = summary(n, setting, len(cands), built, build_s, build_init_s, results, run_s, run_init_s)
            r["generate_s"] = gen_s
            r["design_spaces"] = spaces
            r["load_after"] = open("/proc/loadavg").read().split()[:3]
            print(
                f"gemm{n} {setting}: {r['candidates_per_s']:.2f} candidates/s, "
                f"build {r['build_wall_s']:.1f} s, run {r['run_wall_s']:.1f} s, "
                f"ok {r['ok']}/{r['candidates']}",
                file=sys.stderr,
            )
            out["results"].append(r)
        for b in built:  # what the task scheduler removes after a round; not timed
            if b.artifact_path:
                shutil.rmtree(os.path.dirname(b.artifact_path), ignore_errors=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - a TVM failure skips the peer with its message, never a number
        import traceback

        traceback.print_exc()
        skip(f"TVM MetaSchedule failed ({type(e).__name__}: {str(e)[:500]})")
