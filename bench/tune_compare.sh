#!/usr/bin/env bash
# Tuning, crosstune against TVM MetaSchedule, in the same run: for each case, `crosstune tune` and then
# bench/peers/metaschedule_tune.py with the same trial budget, one after the other on the otherwise idle
# machine, then bench/tune_ratios.py prints the table (best GFLOP/s and wall time of both, Eigen's GFLOP/s,
# the ratios). Not part of the default `bash bench/run.sh`: at 256 trials a case took 45-90 s for crosstune
# and 175-230 s for MetaSchedule on the 2-core Zen 5 VM (2026-11-30), so about 12 minutes for both cases.
#
# Usage: bash bench/tune_compare.sh              (or: bash bench/run.sh --tune, after the other benchmarks)
#        TRIALS=8 bash bench/tune_compare.sh     (a smoke test: a few minutes, not a result)
#        MATCH=third bash bench/tune_compare.sh  (the issue's goal as asked: MetaSchedule runs first, with TRIALS
#                                                 trials; then crosstune gets a third of its wall time as
#                                                 --time-budget and as many trials as fit in it)
# Environment: TRIALS (default 256), PER_ROUND (64), THREADS (nproc), CASES ("gemm conv"), SEED (0),
# SEEDS (crosstune's seeds, one run each against the one MetaSchedule run, e.g. "0 1 2"; default SEED),
# CT_ARGS (more `crosstune tune` options, e.g. "--transfer models/pretrained-cpu.json.gz"; default none),
# DUEL_ROUNDS (30; 0: no duels), BIND (1: crosstune's measurer binds the kernels' threads to one CPU each,
# `crosstune tune --bind`, as TVM binds its thread pool by default; 0: unbound).
# After both sides of a case, bench/peers/duel.py times crosstune's winner (--best) and MetaSchedule's
# (--export) in alternation, DUEL_ROUNDS rounds of 5 repeats of at least 100 ms each on two placements of
# the same buffers, both sides' threads bound to cores, one duel a seed (about 80 s): each side's own
# confirmation runs minutes apart from the other's, and on a VM whose speed drifts between phases that
# decides the ratio as much as the kernels do; in a duel the phases weigh on both alike.
# DUEL_ONLY=1 runs the duels alone, again, on the kernels an earlier run left in build/bench-results.
# Cases: gemm = C = A·B float32 1024³; conv = ResNet-50's 3×3 convolution, NCHW, batch 1, 56×56, 64 → 64
# channels, padding 1; conv-nhwc = the same in channels last (filters HWIO) on both sides. Needs
# build/release/bin/crosstune (cmake --build --preset release); the peer needs TVM in build/peer-venv
# (bench/install-peers.sh) and skips without it.
# Output in build/bench-results/: tune_<case>.json (crosstune's log of every candidate, this run's only),
# tune_<case>.crosstune.json and tune_<case>.metaschedule.json (the two results), tune_load.txt
# (/proc/loadavg before and after each side); with SEEDS, the first seed's files as above and each other
# seed's as tune_<case>.s<seed>.json and tune_<case>.crosstune.s<seed>.json; tune_<case>[.s<seed>].best.json
# and .best.cpp (crosstune's winner and its C++), tune_<case>.metaschedule.so (MetaSchedule's) and
# tune_<case>.duel[.s<seed>].json (the duels).
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS=${TRIALS:-256}
PER_ROUND=${PER_ROUND:-64}
THREADS=${THREADS:-$(nproc)}
CASES=${CASES:-gemm conv}
SEED=${SEED:-0}
read -r -a SEED_LIST <<< "${SEEDS:-$SEED}"
[ "${#SEED_LIST[@]}" -gt 0 ] || { echo "tune_compare: SEEDS is empty" >&2; exit 2; }
for s in "${SEED_LIST[@]}"; do
  [[ "$s" =~ ^[0-9]+$ ]] || { echo "tune_compare: SEEDS must be non-negative integers, not '$s'" >&2; exit 2; }
done
MATCH=${MATCH:-trials}
DUEL_ROUNDS=${DUEL_ROUNDS:-30}
DUEL_ONLY=${DUEL_ONLY:-0}
BIND=${BIND:-1}
case "$BIND" in 0) bind_args=() ;; 1) bind_args=(--bind) ;; *) echo "tune_compare: BIND must be 0 or 1, not $BIND" >&2; exit 2 ;; esac
[[ "$DUEL_ROUNDS" =~ ^[0-9]+$ ]] || { echo "tune_compare: DUEL_ROUNDS must be a non-negative integer, not '$DUEL_ROUNDS'" >&2; exit 2; }
case "$MATCH" in trials|third) ;; *) echo "tune_compare: MATCH must be trials or third, not $MATCH" >&2; exit 2 ;; esac
read -r -a CT_EXTRA <<< "${CT_ARGS:-}"
CROSSTUNE=build/release/bin/crosstune
OUT=build/bench-results
[ -x "$CROSSTUNE" ] || { echo "tune_compare: $CROSSTUNE is not built (cmake --build --preset release)" >&2; exit 1; }
PEER_PYTHON=build/peer-venv/bin/python
[ -x "$PEER_PYTHON" ] || PEER_PYTHON=python3
mkdir -p "$OUT"
LOAD="$OUT/tune_load.txt"
[ "$DUEL_ONLY" = 1 ] || : > "$LOAD"
load() { echo "$1 $(date -u +%H:%M:%S) $(cat /proc/loadavg)" >> "$LOAD"; }

for c in $CASES; do
  # An earlier run's other seeds, winners, kernels and duels.
  [ "$DUEL_ONLY" = 1 ] || rm -f "$OUT/tune_$c".crosstune.s*.json "$OUT/tune_$c".s*.json "$OUT/tune_$c".*best.json "$OUT/tune_$c".*best.cpp \
    "$OUT/tune_$c".duel*.json "$OUT/tune_$c.metaschedule.so"
  # shellcheck disable=SC2054 # the commas are in the shapes
  case "$c" in
    # crosstune's matmul takes M,K,N; the peer's gemm M,N,K (the same for a cube).
    gemm) ct_args=(--op matmul --shape 1024,1024,1024); ms_args=(--op gemm --shape 1024,1024,1024)
          duel_args=("${ms_args[@]}") ;;
    conv) ct_args=(--op conv2d --shape 1,64,56,56,64,3,3 --padding 1)
          ms_args=(--op conv2d --shape 1,64,56,56,64,3,3 --padding 1); duel_args=("${ms_args[@]}") ;;
    conv-nhwc) ct_args=(--op conv2d --shape 1,64,56,56,64,3,3 --padding 1 --layout NHWC)
               ms_args=(--op conv2d --shape 1,64,56,56,64,3,3 --padding 1 --layout NHWC); duel_args=("${ms_args[@]}") ;;
    *) echo "tune_compare: unknown case $c (gemm, conv, conv-nhwc)" >&2; exit 2 ;;
  esac
  run_crosstune() {  # $@: the budget options; once per seed of SEEDS
    for seed in "${SEED_LIST[@]}"; do
      local tag=""
      [ "$seed" = "${SEED_LIST[0]}" ] || tag=".s$seed"
      echo "== $c: crosstune tune, $*, seed $seed" >&2
      rm -f "$OUT/tune_$c$tag.json"
      load "$c crosstune seed $seed before"
      "$CROSSTUNE" tune "${ct_args[@]}" "$@" --per-round "$PER_ROUND" --threads "$THREADS" --seed "$seed" \
        --log "$OUT/tune_$c$tag.json" --best "$OUT/tune_$c$tag.best.json" --no-resume --json "${bind_args[@]}" "${CT_EXTRA[@]}" \
        > "$OUT/tune_$c.crosstune$tag.json" ||
        echo "{\"skipped\": \"crosstune tune failed (exit $?); its messages are above\"}" > "$OUT/tune_$c.crosstune$tag.json"
      load "$c crosstune seed $seed after"
    done
  }
  run_metaschedule() {
    echo "== $c: TVM MetaSchedule, $TRIALS trials" >&2
    load "$c metaschedule before"
    "$PEER_PYTHON" bench/peers/metaschedule_tune.py "${ms_args[@]}" --trials "$TRIALS" --per-round "$PER_ROUND" \
      --threads "$THREADS" --seed "$SEED" --export "$OUT/tune_$c.metaschedule.so" > "$OUT/tune_$c.metaschedule.json" ||
      echo '{"skipped": "bench/peers/metaschedule_tune.py failed; its messages are above"}' > "$OUT/tune_$c.metaschedule.json"
    load "$c metaschedule after"
  }
  # Both sides' best kernels timed in alternation, one duel a crosstune seed (bench/peers/duel.py).
  run_duels() {
    [ "$DUEL_ROUNDS" -gt 0 ] || return 0
    [ -f "$OUT/tune_$c.metaschedule.so" ] || { echo "tune_compare: no MetaSchedule kernel for $c; no duel" >&2; return 0; }
    for seed in "${SEED_LIST[@]}"; do
      local tag=""
      [ "$seed" = "${SEED_LIST[0]}" ] || tag=".s$seed"
      local best="$OUT/tune_$c$tag.best.json" source="$OUT/tune_$c$tag.best.cpp" entry
      [ -s "$best" ] || { echo "tune_compare: crosstune seed $seed left no winner for $c; no duel" >&2; continue; }
      "$CROSSTUNE" --quiet codegen --replay "$best" --source > "$source" ||
        { echo "tune_compare: $best does not replay to C++; no duel for seed $seed" >&2; continue; }
      entry=$(sed -n 's|^// record [0-9]*: .*, function \([A-Za-z0-9_]*\)$|\1|p' "$source" | head -n 1)
      [ -n "$entry" ] || { echo "tune_compare: no kernel function in $source; no duel for seed $seed" >&2; continue; }
      echo "== $c: duel, crosstune seed $seed against MetaSchedule, $DUEL_ROUNDS rounds" >&2
      load "$c duel seed $seed before"
      "$PEER_PYTHON" bench/peers/duel.py "${duel_args[@]}" --threads "$THREADS" --rounds "$DUEL_ROUNDS" \
        --crosstune-source "$source" --crosstune-entry "$entry" --metaschedule-lib "$OUT/tune_$c.metaschedule.so" \
        > "$OUT/tune_$c.duel$tag.json" ||
        echo '{"skipped": "bench/peers/duel.py failed; its messages are above"}' > "$OUT/tune_$c.duel$tag.json"
      load "$c duel seed $seed after"
    done
  }
  if [ "$DUEL_ONLY" = 1 ]; then
    :
  elif [ "$MATCH" = third ]; then
    run_metaschedule
    # A third of MetaSchedule's wall time, as crosstune's hard deadline (the trial count is the CLI's maximum).
    budget=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print("%.1f" % (d["seconds"] / 3) if "seconds" in d else "")' "$OUT/tune_$c.metaschedule.json" 2>/dev/null || true)
    if [ -n "$budget" ]; then
      run_crosstune --trials 10000000 --time-budget "$budget"
    else
      echo "tune_compare: MetaSchedule gave no wall time for $c; crosstune runs $TRIALS trials instead" >&2
      run_crosstune --trials "$TRIALS"
    fi
  else
    run_crosstune --trials "$TRIALS"
    run_metaschedule
  fi
  run_duels
done
# shellcheck disable=SC2086
python3 bench/tune_ratios.py --dir "$OUT" --seeds "${SEED_LIST[*]}" $CASES
[ -z "${CT_ARGS:-}" ] || echo "crosstune tune options added (CT_ARGS): $CT_ARGS"
[ "$MATCH" = trials ] || echo "crosstune's budget (MATCH=third): a third of MetaSchedule's wall time as --time-budget, no trial limit"
