#!/usr/bin/env bash
# Transfer-tuning against tuning from scratch, on other shapes of a tuned operator (Gibson & Cano).
#
# The source is a tuned 1024³ GEMM log (build/bench-results/tune_gemm.json from bench/tune_compare.sh, or
# SOURCE=...). For each target shape, one after the other on the otherwise idle machine:
#   transfer: `crosstune tune --transfer SOURCE --trials $TRANSFER_TRIALS` — the source's best schedules,
#             transplanted and measured (then the search, if the budget is larger than what was transplanted);
#   scratch:  `crosstune tune --trials $SCRATCH_TRIALS` — the evolutionary search from nothing.
# Both print the best kernel confirmed next to Eigen; bench/transfer_ratios.py prints how much of the
# from-scratch GFLOP/s the transfer reaches and for what share of its wall time.
#
# Usage: bash bench/transfer_tuning.sh        (TARGETS="M,K,N ..." TRANSFER_TRIALS=8 SCRATCH_TRIALS=128)
set -euo pipefail
cd "$(dirname "$0")/.."
source_log=${SOURCE:-build/bench-results/tune_gemm.json}
targets=${TARGETS:-"128,768,3072 128,3072,768 512,512,2048 2048,256,1024"}
transfer_trials=${TRANSFER_TRIALS:-8}
scratch_trials=${SCRATCH_TRIALS:-128}
[ -s "$source_log" ] || { echo "transfer_tuning: no source log $source_log (run bench/tune_compare.sh, or set SOURCE)" >&2; exit 2; }
cmake --preset release >/dev/null
cmake --build --preset release --target crosstune_cli -j "$(nproc)" >/dev/null
out=build/bench-results/transfer
mkdir -p "$out"
for shape in $targets; do
  name=${shape//,/x}
  rm -f "$out/$name.transfer.log.json" "$out/$name.scratch.log.json"
  build/release/bin/crosstune --quiet tune --op matmul --shape "$shape" --trials "$transfer_trials" --per-round "$transfer_trials" \
    --transfer "$source_log" --no-resume --log "$out/$name.transfer.log.json" --json >"$out/$name.transfer.json"
  build/release/bin/crosstune --quiet tune --op matmul --shape "$shape" --trials "$scratch_trials" \
    --no-resume --log "$out/$name.scratch.log.json" --json >"$out/$name.scratch.json"
done
python3 bench/transfer_ratios.py "$out" $targets
