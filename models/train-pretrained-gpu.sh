#!/usr/bin/env bash
# Reproduces models/pretrained-gpu.bin: the BiLSTM-attention cost model shipped as the examples' default
# for CUDA targets. It trains only on the MIT- and Apache-licensed GPU logs of the shared Ansor corpus
# (k80/, v100/, the CUDA logs of tvm-ci/ and the Cocktailer files of other-gpu/; see
# models/LICENSE-NOTICE.txt), with a fixed seed and thread count, so the same build on the same kind of
# machine writes the same file. It trains on every task and keeps the last of its 40 cosine-scheduled epochs
# (--validate 0: no task held out for model selection); the records --split within_task holds out are the
# card's held-out figures.
# Usage: bash models/train-pretrained-gpu.sh [LOGS_ROOT (default ../shared/data/ansor-logs)] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
root="${1:-../shared/data/ansor-logs}"
out="${2:-models/pretrained-gpu.bin}"
[ -d "$root/k80" ] || { echo "train-pretrained-gpu: no logs under $root (pass the ansor-logs folder)" >&2; exit 2; }
cmake --preset release >/dev/null
cmake --build --preset release --target crosstune_cli -j "$(nproc)" >/dev/null
build/release/bin/crosstune train --seed 0 --threads 2 --epochs 40 --schedule cosine --validate 0 --batch 16 \
  --hidden 64 --layers 2 --embedding 64 --heads 2 --max-steps 64 --out "$out" \
  "$root/k80" "$root/v100" "$root/tvm-ci/conv2d.json.gz" "$root/tvm-ci/resnet-18-NHWC-B1-cuda.json.gz" \
  "$root"/other-gpu/ansor_kernels__*.json.gz "$root"/other-gpu/fused_conv_bias_relu_expr_*.json.gz
