#!/usr/bin/env bash
# Time to tune: for each case, `crosstune tune` from scratch (a fresh cost model trained online) and with a
# pre-trained model (--model, default the shipped models/pretrained-cpu.bin, judged by the negative-transfer
# guard and fine-tuned online), the same trials and seed, one after the other; then bench/time_to_tune.py
# prints the trials and wall time each needed to reach 95% of the from-scratch run's best, and the same for
# TVM MetaSchedule when bench/tune_compare.sh left its result for the case in the same folder.
#
# Usage: bash bench/time_to_tune.sh                  (about 2-4 minutes a case and side on 2 cores)
#        TRIALS=64 CASES=gemm bash bench/time_to_tune.sh
# Environment: TRIALS (default 256), PER_ROUND (64), THREADS (nproc), CASES ("gemm conv conv7"), SEED (0),
# MODEL (models/pretrained-cpu.bin), SIDES ("scratch model"; "model" alone reuses the from-scratch run that
# bench/tune_compare.sh made with the same TRIALS, PER_ROUND, THREADS and SEED, tune_<case>.json). Cases: gemm = C = A·B float32 1024³; conv = ResNet-50's 3×3
# convolution, NCHW, batch 1, 56×56, 64 → 64 channels, padding 1 (one of the tasks the shipped CPU model was
# calibrated on); conv7 = ResNet-50's 3×3 convolution at 7×7, 512 → 512 (not among them). A case with
# -nhwc appended (conv-nhwc, resnet50-nhwc, ...) tunes the same in channels-last layout (--layout NHWC).
# Network cases (resnet50, mobilenet_v2, inception_v3, bert_base) tune every task of the network for
# NET_SECONDS (default 300) at NET_PER_ROUND (8) a round, and may add two sides: transfer (no model, the
# schedules of TRANSFER, default models/pretrained-cpu.json.gz, the shipped model's calibration records,
# transplanted first: transfer-tuning) and both (--model and --transfer together, as scripts/main.sh). bench/time_to_tune.py rebuilds each network's estimate curve from the
# log (the untuned kernel stands in for a task not measured yet) and reports the time each side needed to
# come within 5% of the from-scratch run's final estimate.
#   CASES=resnet50 SIDES="scratch model transfer" bash bench/time_to_tune.sh     (about 6 minutes a side)
# A network case also takes the side metaschedule: TVM MetaSchedule (bench/peers/metaschedule_network.py, in
# build/peer-venv) tunes the tasks of this case's scratch run (run it first, or in the same SIDES) with the
# same weights, for MS_TRIALS candidates (default: as many as the scratch run measured) at MS_PER_ROUND (16)
# a round; about 1.6 s a candidate on 2 cores with ResNet-50 (1 218 trials: 32 minutes).
# Output in build/bench-results/: ttt_<case>.<side>.json (the logs, this run's only) and
# ttt_<case>.<side>.result.json (tune --json).
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS=${TRIALS:-256}
PER_ROUND=${PER_ROUND:-64}
THREADS=${THREADS:-$(nproc)}
CASES=${CASES:-gemm conv conv7}
SEED=${SEED:-0}
MODEL=${MODEL:-models/pretrained-cpu.bin}
SIDES=${SIDES:-scratch model}
NET_SECONDS=${NET_SECONDS:-300}
NET_PER_ROUND=${NET_PER_ROUND:-8}
TRANSFER=${TRANSFER:-models/pretrained-cpu.json.gz}
MS_PER_ROUND=${MS_PER_ROUND:-16}
PEER_PYTHON=build/peer-venv/bin/python
[ -x "$PEER_PYTHON" ] || PEER_PYTHON=python3
CROSSTUNE=build/release/bin/crosstune
OUT=build/bench-results
[ -x "$CROSSTUNE" ] || { echo "time_to_tune: $CROSSTUNE is not built (cmake --build --preset release)" >&2; exit 1; }
[ -f "$MODEL" ] || { echo "time_to_tune: no model at $MODEL (set MODEL=...)" >&2; exit 1; }
mkdir -p "$OUT"

for c in $CASES; do
  layout=()
  base=$c
  if [[ "$c" == *-nhwc ]]; then layout=(--layout NHWC); base=${c%-nhwc}; fi
  # shellcheck disable=SC2054 # the commas are in the shapes
  case "$base" in
    gemm) args=(--op matmul --shape 1024,1024,1024) ;;
    conv) args=(--op conv2d --shape 1,64,56,56,64,3,3 --padding 1) ;;
    conv7) args=(--op conv2d --shape 1,512,7,7,512,3,3 --padding 1) ;;
    resnet50 | mobilenet_v2 | inception_v3 | bert_base) args=(--network "$base") ;;
    *) echo "time_to_tune: unknown case $c (gemm, conv, conv7, or a network: resnet50, mobilenet_v2, inception_v3, bert_base; conv, conv7 and the networks with -nhwc for channels last)" >&2; exit 2 ;;
  esac
  [ "$base" = gemm ] && [ ${#layout[@]} -gt 0 ] && { echo "time_to_tune: gemm has no layout (gemm-nhwc)" >&2; exit 2; }
  args+=("${layout[@]}")
  budget=(--trials "$TRIALS" --per-round "$PER_ROUND")
  [ "${args[0]}" = --network ] && budget=(--trials 10000000 --per-round "$NET_PER_ROUND" --time-budget "$NET_SECONDS")
  for side in $SIDES; do
    if [ "$side" = metaschedule ]; then
      [ "${args[0]}" = --network ] || { echo "time_to_tune: the metaschedule side is for networks (bench/tune_compare.sh compares operators)" >&2; exit 2; }
      scratch="$OUT/ttt_$c.scratch.result.json"
      [ -f "$scratch" ] || { echo "time_to_tune: $scratch is missing: run the scratch side first (SIDES=\"scratch metaschedule\")" >&2; exit 1; }
      ms_trials=${MS_TRIALS:-$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["trials"])' "$scratch")}
      echo "== $c: TVM MetaSchedule, $ms_trials trials, $MS_PER_ROUND a round" >&2
      "$PEER_PYTHON" bench/peers/metaschedule_network.py --tasks "$scratch" --trials "$ms_trials" \
        --per-round "$MS_PER_ROUND" --threads "$THREADS" --seed "$SEED" > "$OUT/ttt_$c.metaschedule.result.json" ||
        echo '{"skipped": "bench/peers/metaschedule_network.py failed; its messages are above"}' > "$OUT/ttt_$c.metaschedule.result.json"
      continue
    fi
    extra=()
    [ "$side" = model ] && extra=(--model "$MODEL")
    [ "$side" = transfer ] && extra=(--transfer "$TRANSFER")
    [ "$side" = both ] && extra=(--model "$MODEL" --transfer "$TRANSFER")
    echo "== $c: crosstune tune, $side, ${budget[*]}" >&2
    rm -f "$OUT/ttt_$c.$side.json"
    "$CROSSTUNE" tune "${args[@]}" "${extra[@]}" "${budget[@]}" --threads "$THREADS" \
      --seed "$SEED" --log "$OUT/ttt_$c.$side.json" --no-resume --json > "$OUT/ttt_$c.$side.result.json" ||
      echo "{\"skipped\": \"crosstune tune failed (exit $?); its messages are above\"}" > "$OUT/ttt_$c.$side.result.json"
  done
done
# shellcheck disable=SC2086
python3 bench/time_to_tune.py --dir "$OUT" --model "$MODEL" $CASES
