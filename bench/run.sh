#!/usr/bin/env bash
# Builds and runs the benchmarks with their peers, and prints each peer's speed relative to crosstune's.
# Usage: bash bench/run.sh [--shared] [--tune] [extra Google Benchmark flags]
#   --shared   use every log under ../shared/data/ansor-logs instead of the shipped sample
#   --tune     at the end, also compare tuning with TVM MetaSchedule (bench/tune_compare.sh: GEMM 1024³ and a
#              ResNet-50 convolution, 256 trials each side, TRIALS=... to change; an estimated 30-60 minutes more)
set -euo pipefail
cd "$(dirname "$0")/.."
TUNE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --shared) export CROSSTUNE_BENCH_LOGS="$PWD/../shared/data/ansor-logs"; shift ;;
    --tune) TUNE=1; shift ;;
    *) break ;;
  esac
done
bash bench/install-peers.sh
cmake --preset release -DCROSSTUNE_BUILD_BENCH=ON >/dev/null
cmake --build --preset release --target bench_log_io bench_dataset bench_features bench_files bench_cost_model bench_codegen \
  bench_measurer -j "$(nproc)"
mkdir -p build/bench-results
for b in bench_log_io bench_dataset bench_features bench_files bench_codegen; do
  build/release/bench/$b --benchmark_min_time=2 --benchmark_out=build/bench-results/$b.json \
    --benchmark_out_format=json "$@"
  python3 bench/ratios.py build/bench-results/$b.json
done
# The cost model and PyTorch's build of it, one after the other on the same idle machine. PyTorch gets
# 1 and 2 threads; with 2, OMP_WAIT_POLICY=PASSIVE (several times faster here than its default).
build/release/bench/bench_cost_model --benchmark_min_time=1 --benchmark_out=build/bench-results/bench_cost_model.json \
  --benchmark_out_format=json "$@"
/usr/bin/python3 bench/peers/torch_bilstm_attention.py 1 > build/bench-results/torch_1.json
OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/peers/torch_bilstm_attention.py 2 > build/bench-results/torch_2.json
python3 bench/model_ratios.py build/bench-results/bench_cost_model.json build/bench-results/torch_1.json \
  build/bench-results/torch_2.json
# The kernel measurer end to end (about 8 minutes) and TVM MetaSchedule's builder and runner on the same
# GEMM shapes and settings right after it (about as long; it skips when TVM is not installed).
cat /proc/loadavg > build/bench-results/measurer_load.txt
build/release/bench/bench_measurer --benchmark_out=build/bench-results/bench_measurer.json --benchmark_out_format=json "$@"
cat /proc/loadavg >> build/bench-results/measurer_load.txt
PEER_PYTHON=build/peer-venv/bin/python
[ -x "$PEER_PYTHON" ] || PEER_PYTHON=python3
"$PEER_PYTHON" bench/peers/metaschedule_measure.py > build/bench-results/metaschedule_measure.json ||
  echo '{"skipped": "bench/peers/metaschedule_measure.py failed; its messages are above"}' > build/bench-results/metaschedule_measure.json
cat /proc/loadavg >> build/bench-results/measurer_load.txt
python3 bench/measurer_ratios.py build/bench-results/bench_measurer.json build/bench-results/metaschedule_measure.json
# Tuning against MetaSchedule (opt-in: --tune), needs the release build of the crosstune tool.
if [ "$TUNE" = 1 ]; then
  cmake --build --preset release --target crosstune_cli -j "$(nproc)"
  bash bench/tune_compare.sh
fi
