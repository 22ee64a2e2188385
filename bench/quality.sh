#!/usr/bin/env bash
# Reproduces the quality table of docs/results.md on the shared Ansor logs: the BiLSTM-attention model
# against the MLP baseline on identical splits (same seed, same records), within tasks, on held-out tasks,
# across GPUs (K80 -> V100, zero-shot and fine-tuned on 5% and 20% of the V100 records), and with the
# K80 data pruned by the hardware-aware sampler against a uniform sample of the same size.
# Usage: bash bench/quality.sh [LOGS_ROOT (default ../shared/data/ansor-logs)]   (about 50 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
root="${1:-../shared/data/ansor-logs}"
out=build/quality
mkdir -p "$out"
cmake --preset release >/dev/null
cmake --build --preset release --target crosstune_cli -j "$(nproc)" >/dev/null
ct=build/release/bin/crosstune
gpu=("$root/k80" "$root/v100" "$root/tvm-ci/conv2d.json.gz" "$root/tvm-ci/resnet-18-NHWC-B1-cuda.json.gz"
     "$root"/other-gpu/ansor_kernels__*.json.gz "$root"/other-gpu/fused_conv_bias_relu_expr_*.json.gz)
bilstm=(--hidden 64 --layers 2 --embedding 64 --threads 2 --seed 0)
run() { echo "== $*" | tee -a "$out/log.txt"; "$@" 2>&1 | grep -v "^\r" | tee -a "$out/log.txt"; }
: > "$out/log.txt"
# Within tasks (90/10 of every task's records) on the GPU logs the shipped model trains on.
run $ct train --model mlp --epochs 30 --threads 2 --seed 0 --out "$out/mlp-gpu.bin" "${gpu[@]}"
# Held-out tasks: 20% of the K80 and V100 tasks never seen in training.
run $ct train --split by_task --ratio 0.8 --epochs 12 "${bilstm[@]}" --out "$out/bilstm-bytask.bin" "$root/k80" "$root/v100"
run $ct train --model mlp --split by_task --ratio 0.8 --epochs 30 --threads 2 --seed 0 --out "$out/mlp-bytask.bin" \
  "$root/k80" "$root/v100"
# Across GPUs: train on K80 only, test on V100.
run $ct train --epochs 12 "${bilstm[@]}" --out "$out/bilstm-k80.bin" "$root/k80"
run $ct train --model mlp --epochs 30 --threads 2 --seed 0 --out "$out/mlp-k80.bin" "$root/k80"
run $ct eval --json --model "$out/bilstm-k80.bin" "$root/v100"
run $ct eval --json --model "$out/mlp-k80.bin" "$root/v100"
for share in 0.05 0.2; do
  run $ct finetune --model "$out/bilstm-k80.bin" --ratio $share --epochs 6 --threads 2 --seed 0 \
    --out "$out/bilstm-k80-v100-$share.bin" "$root/v100"
done
# Data saved by the hardware-aware sampler: K80 records pruned for V100 against a uniform sample of the
# same size, each trained like the full K80 model and tested on all of V100.
run $ct data sample --sampler hardware-aware --target v100 --out "$out/k80-hwaware.json" "$root/k80"
run $ct data sample --sampler uniform --fraction 0.5505 --out "$out/k80-uniform.json" "$root/k80"
for kind in hwaware uniform; do
  run $ct train --epochs 12 "${bilstm[@]}" --hardware k80 --out "$out/bilstm-k80-$kind.bin" "$out/k80-$kind.json"
  run $ct eval --json --model "$out/bilstm-k80-$kind.bin" "$root/v100"
done
