"""What the MetaSchedule peers (metaschedule_tune.py, metaschedule_network.py) share: one JSON object on
stdout and everything else on stderr, the skip that keeps the benchmarks running without TVM, the builder,
runner and evaluator settings that match `crosstune tune`'s, and the host's CPU as TVM's LLVM names it.

Import it first: importing it sends file descriptor 1 to stderr (TVM and its workers print there), and
emit() writes to the real stdout.
"""
import json
import os
import sys

_OUT = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr

BUILD_TIMEOUT_S = 120  # the machine is loaded, and each build round starts workers that import TVM
RUN_TIMEOUT_S = 10  # crosstune tune's --timeout default
TUNING = dict(number=1, repeat=3, min_repeat_ms=20, enable_cpu_cache_flush=False)  # crosstune tune's defaults
CONFIRM = dict(number=1, repeat=5, min_repeat_ms=100)  # crosstune tune's final measurement


def emit(obj):
    _OUT.write(json.dumps(obj, indent=1) + "\n")
    _OUT.flush()


def skip(script, why):
    """Prints {"peer": ..., "skipped": why} and exits 0, so the benchmark around the peer goes on."""
    emit({"peer": "tvm-metaschedule", "skipped": why})
    print(f"{script}: skipped: {why}", file=sys.stderr)
    sys.exit(0)


def import_metaschedule(script):
    """(tvm, meta_schedule module, derived_object); skips the peer when TVM cannot be imported."""
    try:
        import tvm
        from tvm.ir.utils import derived_object

        try:
            from tvm.s_tir import meta_schedule as ms  # TVM ≥ 0.22 moved MetaSchedule under s_tir
        except ImportError:
            from tvm import meta_schedule as ms
        return tvm, ms, derived_object
    except Exception as e:  # noqa: BLE001 - any import failure only skips the peer
        skip(script, f"TVM MetaSchedule cannot be imported ({type(e).__name__}: {e}); run bench/install-peers.sh")


def host_mcpu(tvm):
    try:
        return str(tvm.target.codegen.llvm_get_system_cpu())
    except Exception:  # noqa: BLE001
        return "znver4"


def builder_and_runner(ms, threads):
    """LocalBuilder(max_workers=threads) and LocalRunner with crosstune tune's evaluator settings."""
    builder = ms.builder.LocalBuilder(max_workers=threads, timeout_sec=BUILD_TIMEOUT_S)
    runner = ms.runner.LocalRunner(timeout_sec=RUN_TIMEOUT_S, evaluator_config=ms.runner.EvaluatorConfig(**TUNING))
    return builder, runner


def successful_costs(state, builder_results, runner_results):
    """Counts a measured round in `state` ("trials", "errors", "first_error") and returns the mean cost in
    seconds of each candidate that built and ran."""
    costs = []
    for b, r in zip(builder_results, runner_results):
        state["trials"] += 1
        error = b.error_msg or r.error_msg
        if error is not None or not r.run_secs:
            state["errors"] += 1
            state["first_error"] = state["first_error"] or str(error)[:400]
            continue
        secs = [float(x) for x in r.run_secs]
        costs.append(sum(secs) / len(secs))
    return costs
