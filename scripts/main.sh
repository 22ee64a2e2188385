#!/usr/bin/env bash
# The main job: build crosstune's command-line tool (release) and tune on this CPU with crosstune's own
# loop (sketches, evolutionary search guided by the shipped CPU cost model, models/pretrained-cpu.bin,
# fine-tuned online on this machine's measurements after the negative-transfer guard has judged it; every
# candidate built, checked and timed):
#   1. a 1024×1024×1024 float32 GEMM, 128 trials: the best kernel's GFLOP/s next to Eigen's on the same
#      threads, and their ratio;
#   2. ResNet-50 at batch 1 (31 operator tasks) in channels-last layout (NHWC, the layout that vectorises on
#      a CPU) for 5 minutes, with the same model and the schedules of its calibration records transplanted
#      first (transfer-tuning): a table per task and the network's estimated latency against the untuned
#      kernels and against Eigen's implementations.
# The logs go to build/main/; a second run resumes from them (what they hold is not measured again).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release --target crosstune_cli -j "$(nproc)"
mkdir -p build/main
build/release/bin/crosstune tune --op matmul --shape 1024,1024,1024 --trials 128 --model models/pretrained-cpu.bin --log build/main/gemm1024.json
build/release/bin/crosstune tune --network resnet50 --layout NHWC --trials 100000 --per-round 8 --time-budget 300 --model models/pretrained-cpu.bin \
  --transfer models/pretrained-cpu.json.gz --log build/main/resnet50-nhwc.json
