#!/usr/bin/env bash
# The `crosstune` tool against bad inputs and faults, as an adversarial user would try them. Each case
# states the exit code it must end with (1: refused input or failed operation, 2: usage error; never a
# signal), a pattern its stderr must match, and, where the command names outputs, that files already at
# those paths are left exactly as they were.
#
#   tests/cli/bad_inputs.sh build/release/bin/crosstune tests/data /tmp/work
set -u
cli=$(realpath "$1")
data=$(realpath "$2")
work=$3
logs=$data/ansor-logs
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1

passed=0
failed=0
report_failure() {
  echo "FAIL: $1"
  echo "  command: ${*:2}"
  sed 's/^/  stderr | /' stderr.txt | head -8
  failed=$((failed + 1))
}

# expect RC PATTERN COMMAND... : the exit code, and an extended regex stderr must match.
expect() {
  local want=$1 pattern=$2
  shift 2
  "$@" >stdout.txt 2>stderr.txt </dev/null
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    report_failure "exit code $rc, expected $want" "$@"
    return
  fi
  if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" stderr.txt; then
    report_failure "stderr does not match /$pattern/" "$@"
    return
  fi
  if [ "$want" -ne 0 ]; then
    # Exactly one error line, and it is the last line (warnings may precede it).
    if [ "$(grep -Ec '^crosstune: (usage )?error: ' stderr.txt)" -ne 1 ] ||
      ! tail -n 1 stderr.txt | grep -Eq '^crosstune: (usage )?error: '; then
      report_failure "not exactly one closing 'crosstune: error:' line" "$@"
      return
    fi
    if grep -Eq 'terminate called|Segmentation|Aborted|AddressSanitizer|runtime error' stderr.txt; then
      report_failure "crash output" "$@"
      return
    fi
  fi
  passed=$((passed + 1))
}

# intact FILE... : each file still holds the sentinel it was given by `sentinel`.
sentinel() {
  for f in "$@"; do echo "sentinel of $f" >"$f"; done
}
intact() {
  for f in "$@"; do
    if [ "$(cat "$f" 2>/dev/null)" != "sentinel of $f" ]; then
      echo "FAIL: $f was changed by a failed command"
      failed=$((failed + 1))
      return
    fi
  done
  passed=$((passed + 1))
  # No temporary may be left beside an output.
  if ls -a . | grep -q '\.tmp-'; then
    echo "FAIL: a temporary file was left behind: $(ls -a . | grep '\.tmp-')"
    failed=$((failed + 1))
  fi
}

k80=$logs/k80
one_log=$k80/ansor_matmul_128_4032_1000.json.gz
cp "$one_log" in.json.gz
tiny="--epochs 1 --hidden 4 --layers 1 --heads 1 --embedding 4 --threads 1"

## Usage errors (exit 2): unknown names, values out of range, negative numbers for counts.
expect 2 'A subcommand is required|not expected' "$cli"
expect 2 'unknown command "nosuch"' "$cli" nosuch
expect 2 '--bogus' "$cli" logs stats --bogus "$one_log"
expect 2 '--out is required' "$cli" train "$one_log"
for bad in -1 0 1e3 1.5 99999999999999999999 ""; do
  expect 2 "--epochs" "$cli" train --epochs "$bad" --out m.bin "$one_log"
done
expect 2 '--batch: 0 is out of range' "$cli" train --batch 0 --out m.bin "$one_log"
for bad in -1 0 nan inf -inf 1e300 abc; do
  expect 2 "--lr" "$cli" train --lr "$bad" --out m.bin "$one_log"
done
for bad in 0 1 -0.5 nan 2; do
  expect 2 "--ratio" "$cli" train --ratio "$bad" --out m.bin "$one_log"
done
expect 2 '--max-steps: 100000000 is out of range \[1, 1024\]' "$cli" train --max-steps 100000000 --out m.bin "$one_log"
expect 2 '--max-steps' "$cli" features --max-steps 0 --out x.npy "$one_log"
expect 2 '--hidden' "$cli" train --hidden 999999 --out m.bin "$one_log"
expect 2 '--layers' "$cli" train --layers 0 --out m.bin "$one_log"
expect 2 '--threads' "$cli" train --threads -2 --out m.bin "$one_log"
expect 2 '--seed: "-1" is not a whole number' "$cli" train --seed -1 --out m.bin "$one_log"
expect 2 '--model: nope not in' "$cli" train --model nope --out m.bin "$one_log"
expect 2 '--loss' "$cli" train --loss nope --out m.bin "$one_log"
expect 2 '--rank-weight' "$cli" train --rank-weight nan --out m.bin "$one_log"
expect 2 '--patience' "$cli" finetune --patience -1 --out m.bin "$one_log"
expect 2 '--min-records: 0 is out of range' "$cli" train --min-records 0 --out m.bin "$one_log"
for bad in 1 -0.1 nan; do
  expect 2 "--validate" "$cli" train --validate "$bad" --out m.bin "$one_log"
done
expect 2 '--hardware: unknown hardware preset "nope"' "$cli" eval --hardware nope "$one_log"
for bad in -1 2 nan 0; do
  expect 2 '--fraction' "$cli" data sample --sampler uniform --fraction "$bad" --out s.json "$one_log"
done
expect 2 '--fast-fraction' "$cli" data sample --fast-fraction 1.5 --out s.json "$one_log"
expect 2 '--slow-fraction' "$cli" data sample --slow-fraction -0.1 --out s.json "$one_log"
expect 2 '--sampler' "$cli" data sample --sampler nope --out s.json "$one_log"
expect 2 '--max-tasks-per-bucket' "$cli" data sample --max-tasks-per-bucket -1 --out s.json "$one_log"
expect 2 '--split' "$cli" data split --split nope --train a.json --test b.json "$one_log"
expect 2 '--shots' "$cli" data split --split few_shot --shots 0 --test-target k80 --train a.json --test b.json "$one_log"
expect 2 'empty target string' "$cli" hw --target ""
expect 2 'option -mcpu has no value' "$cli" hw --target "llvm -mcpu="
expect 2 'unknown option "-arhc=sm_80"' "$cli" hw --target "cuda -arhc=sm_80"
expect 2 'unknown hardware preset "nope"' "$cli" hw --preset nope
expect 2 '--hardware-join' "$cli" features --hardware-join sideways --out x.npy "$one_log"
expect 2 'does not exist|not exist' "$cli" logs stats /nonexistent/log.json

## Refused inputs (exit 1): bad files, bad model files, impossible requests.
printf '{"i": [["[\\"k\\"]", "llvm"], [[], []]], "r": [[-nan], 0, 1, 1]}\n' >nan_cost.json
expect 1 'nan_cost\.json:line 1, column [0-9]+: cost -nan is not a positive, finite number' "$cli" logs stats nan_cost.json
printf '{"i": [["[\\"k\\"]", "llvm"], [[], []]], "r": [[0], 0, 1, 1]}\n' >zero_cost.json
expect 1 'zero_cost\.json:line 1, .*cost 0 is not a positive' "$cli" data stats zero_cost.json
expect 1 'malformed\.json:line 2' "$cli" logs stats "$data/bad/malformed.json"
mkdir -p empty_folder
expect 1 'empty_folder: no \.json or \.json\.gz log' "$cli" logs stats empty_folder
mkdir -p loops && ln -sf self.json loops/self.json && ln -sf missing loops/dangling.json && cp "$one_log" loops/
expect 0 'loops/self\.json: skipped' "$cli" logs stats loops
expect 1 'no task has enough records' "$cli" train $tiny --min-records 100000 --out m.bin "$one_log"
expect 0 'one training task: no task to hold out for validation, so the last epoch is kept' "$cli" train $tiny --min-records 10 --out one-task.bin "$one_log"
printf '{"i": [["[\\"k\\"]", "llvm"], [[], []]], "r": [[1e10], 4, 1, 1]}\n' >only_errors.json
expect 1 'no task has enough records' "$cli" train $tiny --min-records 1 --out m.bin only_errors.json
expect 1 '--target nope: no task of these logs was measured on it' "$cli" data sample --target nope --min-records 10 --out s.json "$one_log"
expect 2 '--freeze: nope not in' "$cli" finetune --freeze nope --out m2.bin "$one_log"
expect 2 '--extractor: pixels not in' "$cli" features --extractor pixels --out x.npy "$one_log"
expect 1 '--hardware-join per_step applies to the steps extractors only' "$cli" features --extractor loops --hardware-join per_step --out x.npy "$one_log"
expect 2 '--split by_target needs --test-target' "$cli" data split --split by_target --train a.json --test b.json "$one_log"
expect 2 '--source is written by --split few_shot only' "$cli" data split --split within_task --train a.json --test b.json --source c.json "$one_log"
expect 2 '--lr: 1e-46 is out of range' "$cli" train --lr 1e-46 --out m.bin "$one_log"
expect 1 '/dev/zero' "$cli" eval --model /dev/zero "$one_log"
expect 1 'bad magic|not a crosstune' "$cli" eval --model "$one_log" "$one_log"
printf 'CRTNMDL\0\2\0\0\0short' >truncated.bin
expect 1 'truncated\.bin' "$cli" eval --model truncated.bin "$one_log"
expect 1 'folder /nonexistent/dir does not exist' "$cli" train $tiny --min-records 10 --out /nonexistent/dir/m.bin "$one_log"
expect 1 'is a folder, not a file' "$cli" train $tiny --min-records 10 --out . "$one_log"
touch export_is_a_file
expect 1 'export writes a folder' "$cli" data export --min-records 10 --out export_is_a_file "$one_log"
if [ "$(id -u)" -ne 0 ]; then
  mkdir -p locked/inner && cp "$one_log" locked/inner/ && chmod 000 locked/inner
  expect 1 'cannot read the folder' "$cli" logs stats locked
  chmod 755 locked/inner
fi

## Outputs that would destroy an input, or each other: refused before any work, files intact.
sentinel out.json
expect 1 '--train names an input' "$cli" data split --split within_task --train in.json.gz --test out.json in.json.gz
expect 1 '--out names an input' "$cli" train $tiny --out in.json.gz in.json.gz
expect 1 '--out names an input' "$cli" data sample --out in.json.gz in.json.gz
ln -sf in.json.gz link_to_input.json.gz
expect 1 '--out names an input' "$cli" data sample --out link_to_input.json.gz in.json.gz
expect 1 '--mask-out and --out name the same file' "$cli" features --out out.json --mask-out out.json in.json.gz
expect 1 '--test and --train name the same file' "$cli" data split --split within_task --train out.json --test ./out.json in.json.gz
intact out.json
cmp -s in.json.gz "$one_log" && passed=$((passed + 1)) || { echo "FAIL: the input log was changed"; failed=$((failed + 1)); }

## A command that fails after its checks leaves the files already at its output paths alone.
sentinel train.json test.json
expect 1 'v100' "$cli" data split --split by_target --test-target v100 --min-records 10 --train train.json --test test.json "$one_log"
intact train.json test.json
sentinel model.bin
expect 1 'no task has enough records' "$cli" train $tiny --min-records 100000 --out model.bin "$one_log"
intact model.bin

## A write the device refuses half-way (here: past `ulimit -f`, as a full disk would) is an error, and
## the file at the output path, and the folder around it, are as they were.
sentinel x.npy train.json test.json
expect 1 'x\.npy: write failed: File too large .*free disk space' bash -c "ulimit -f 256 && exec \"\$0\" \"\$@\"" \
  "$cli" features --out x.npy --mask-out mask.npy "$one_log"
intact x.npy
[ ! -e mask.npy ] && passed=$((passed + 1)) || { echo "FAIL: a partial mask.npy was left"; failed=$((failed + 1)); }
expect 1 'write failed: File too large' bash -c "ulimit -f 256 && exec \"\$0\" \"\$@\"" \
  "$cli" data split --split within_task --min-records 10 --train train.json --test test.json "$logs/k80" "$logs/v100"
intact train.json test.json
expect 1 'writing the results to standard output failed' bash -c 'exec "$0" "$@" >/dev/full' "$cli" hw --preset v100

## Finetuning a model into its own file is refused; a good run writes a model that loads.
expect 0 'epoch 1/1' "$cli" train $tiny --min-records 10 --out good.bin "$one_log"
cp good.bin good_copy.bin
expect 1 '--out names an input' "$cli" finetune --model good.bin --epochs 1 --min-records 10 --out good.bin "$one_log"
cmp -s good.bin good_copy.bin && passed=$((passed + 1)) || { echo "FAIL: finetune changed its input model"; failed=$((failed + 1)); }
expect 0 '' "$cli" eval --model good.bin --min-records 10 "$one_log"
expect 0 '' "$cli" --quiet eval --model good.bin --min-records 10 "$one_log"
if [ -s stderr.txt ]; then echo "FAIL: --quiet printed on stderr"; failed=$((failed + 1)); else passed=$((passed + 1)); fi

## crosstune codegen: operators and their sizes are checked before any work; what the operator builder
## refuses is exit 1 with its message; --out is written only by a command that succeeds.
expect 2 'give --op NAME with --shape, --key WORKLOAD_KEY, or --replay' "$cli" codegen
expect 2 '--op: nope not in \{matmul,' "$cli" codegen --op nope --shape 1,2,3
expect 2 '--op requires --shape' "$cli" codegen --op matmul
expect 2 '--shape: --op matmul takes 3 values \(M,K,N\), "1,2" has 2' "$cli" codegen --op matmul --shape 1,2
expect 2 '--shape: --op conv2d takes 7 values' "$cli" codegen --op conv2d --shape 1,8,8,8
for bad in 0 -1 x 1.5 "" 1,,2 99999999999; do
  expect 2 "--shape: " "$cli" codegen --op relu --shape "$bad"
done
for bad in 0 -1 10001 abc; do
  expect 2 '--random' "$cli" codegen --op matmul --shape 4,4,4 --random "$bad"
done
expect 2 '--seed: "-1" is not a whole number' "$cli" codegen --op matmul --shape 4,4,4 --seed -1
expect 2 '--cores' "$cli" codegen --op matmul --shape 4,4,4 --cores 0
expect 2 '--op excludes --replay' "$cli" codegen --op matmul --shape 4,4,4 --replay "$one_log"
expect 2 '--out excludes --replay' "$cli" codegen --replay "$one_log" --out k.cpp
expect 2 '--op excludes --key' "$cli" codegen --op matmul --shape 4,4,4 --key '["matmul_layer", 4, 4, 4]'
expect 2 '--stride applies to --op conv2d, depthwise_conv2d and pool2d only \(not to --op matmul\)' \
  "$cli" codegen --op matmul --shape 4,4,4 --stride 2
expect 2 '--axis applies to --op softmax only \(not to --key\)' "$cli" codegen --key '["matmul_layer", 4, 4, 4]' --axis 0
expect 2 '--padding: "1,2,3" has 3 values, expected 1, 2 or 4' "$cli" codegen --op conv2d --shape 1,8,8,8,8,3,3 --padding 1,2,3
expect 2 '--stride: 0 in "0" is out of range' "$cli" codegen --op pool2d --shape 1,8,8,8,3,3 --stride 0
expect 2 '--layout: NCWH not in' "$cli" codegen --op conv2d --shape 1,8,8,8,8,3,3 --layout NCWH
expect 2 '--skip-bad requires --replay' "$cli" codegen --op matmul --shape 4,4,4 --skip-bad
expect 1 'conv2d: 4 groups do not divide 6 input and 8 output channels' "$cli" codegen --op conv2d --shape 1,6,8,8,8,3,3 --groups 4
expect 1 'kernel is larger than the padded input' "$cli" codegen --op conv2d --shape 1,6,8,8,8,9,3
expect 1 'ir::softmax: axis 2 is out of range' "$cli" codegen --op softmax --shape 4,5 --axis 2
expect 1 'ir::reduce: axis 7 is out of range for rank 2' "$cli" codegen --op reduce --shape 4,5 --axes 0,7
expect 1 'ir::pool2d: padding must be smaller than the window' "$cli" codegen --op pool2d --shape 1,4,8,8,2,2 --padding 2
expect 1 'more than 2\^60 iterations' "$cli" codegen --op matmul --shape 2147483647,2147483647,2147483647
expect 1 'the hash of a network subgraph' "$cli" codegen --key '["d7b65649a4dd54becea0a52aabbc5af5", 1, 1000, 1, 1000]'
expect 1 "unknown workload 'nosuch'" "$cli" codegen --key '["nosuch", 1]'
expect 1 '--key:column 1: .*workload key' "$cli" codegen --key 'not json'
expect 1 'matmul: M, K and N must be at least 1' "$cli" codegen --key '["matmul_layer", 0, 4, 4]'
expect 1 'malformed\.json:line 2' "$cli" codegen --replay "$data/bad/malformed.json"
expect 0 'skipped 2 malformed lines' "$cli" codegen --replay "$data/bad/malformed.json" --skip-bad
expect 1 'empty_folder: no \.json or \.json\.gz log' "$cli" codegen --replay empty_folder
expect 1 'folder /nonexistent/dir does not exist' "$cli" codegen --op matmul --shape 4,4,4 --out /nonexistent/dir/k.cpp
expect 1 'is a folder, not a file' "$cli" codegen --op matmul --shape 4,4,4 --out .
sentinel k.cpp
expect 1 'groups do not divide' "$cli" codegen --op conv2d --shape 1,6,8,8,8,3,3 --groups 4 --out k.cpp
intact k.cpp
expect 1 'k\.cpp: write failed: File too large' bash -c "ulimit -f 1 && exec \"\$0\" \"\$@\"" \
  "$cli" codegen --op matmul --shape 64,64,64 --random 4 --out k.cpp
intact k.cpp
[ ! -s stdout.txt ] && passed=$((passed + 1)) || { echo "FAIL: a failed codegen printed results"; failed=$((failed + 1)); }
# --compile: a compiler that refuses the kernels (its messages shown, then one error line), and none at all.
mkdir -p fakecc && printf '#!/bin/sh\necho "kernels.cpp:1:1: error: the fake compiler refuses" >&2\nexit 1\n' >fakecc/c++
chmod +x fakecc/c++
expect 1 'the fake compiler refuses' env PATH="$PWD/fakecc:$PATH" "$cli" codegen --op matmul --shape 8,8,8 --compile --out k.cpp
grep -q 'error: the generated C++ does not compile' stderr.txt && passed=$((passed + 1)) ||
  { echo "FAIL: a failed --compile is not reported as such"; failed=$((failed + 1)); }
intact k.cpp
expect 1 "cannot run the compiler 'c\+\+'" env PATH=/nonexistent "$cli" codegen --op matmul --shape 8,8,8 --compile
expect 1 'writing the results to standard output failed' bash -c 'exec "$0" "$@" >/dev/full' "$cli" codegen --op matmul --shape 8,8,8
expect 0 '' "$cli" --quiet codegen --op matmul --shape 16,16,16 --random 2 --out k.cpp
if [ -s stderr.txt ]; then echo "FAIL: codegen --quiet printed on stderr"; failed=$((failed + 1)); else passed=$((passed + 1)); fi
grep -q 'crosstune_kernel_1_packed' k.cpp && passed=$((passed + 1)) || { echo "FAIL: k.cpp lacks the second kernel"; failed=$((failed + 1)); }

## crosstune measure: flags checked first; a compiler that refuses everything, candidates that all fail,
## and Ctrl-C: exit codes, messages, and a log that holds every record judged.
expect 2 '--log is required' "$cli" measure --op matmul --shape 4,4,4
expect 2 '--target: arm not in' "$cli" measure --op matmul --shape 4,4,4 --target arm --log m.json
expect 2 '--op excludes --replay' "$cli" measure --op matmul --shape 4,4,4 --replay "$one_log" --log m.json
expect 2 '--top requires --replay' "$cli" measure --op matmul --shape 4,4,4 --top 3 --log m.json
expect 2 '--timeout' "$cli" measure --op matmul --shape 4,4,4 --timeout 0 --log m.json
expect 2 '--pin: "x" in "0,x" is not a whole number' "$cli" measure --op matmul --shape 4,4,4 --pin 0,x --log m.json
expect 1 'folder /nonexistent/dir does not exist' "$cli" measure --op matmul --shape 4,4,4 --log /nonexistent/dir/m.json
expect 1 'the reference kernel does not build \(compile_host\) \(the compiler.s messages are above\)' \
  env PATH="$PWD/fakecc:$PATH" "$cli" measure --op matmul --shape 8,8,8 --random 2 --log m.json
# A compiler that builds the reference but no candidate: the run stops after --max-failures in a row,
# each failure logged with error code 2.
mkdir -p pickycc && printf '#!/bin/sh\nsrc=/dev/null\nfor a; do case "$a" in *.cpp) src=$a;; esac; done\ngrep -q crosstune_reference "$src" && exec %s "$@"\necho "picky: refuses candidates" >&2\nexit 1\n' "$(command -v c++)" >pickycc/c++
chmod +x pickycc/c++
rm -f picky.json
expect 1 'the run stopped early: 3 candidates in a row failed' \
  env PATH="$PWD/pickycc:$PATH" "$cli" measure --op matmul --shape 8,8,8 --random 6 --max-failures 3 --log picky.json
[ "$(grep -c '"r": \[\[1e+10\], 2,' picky.json)" -eq 3 ] && passed=$((passed + 1)) ||
  { echo "FAIL: picky.json does not hold 3 compile_host records"; cat picky.json | head -3; failed=$((failed + 1)); }
# --log is an output, checked before any work: the --replay log itself (also through a link) and a folder
# are refused, and the log is left as it was.
sentinel replayed.json
expect 1 '--log names an input' "$cli" measure --replay replayed.json --log replayed.json
ln -sf replayed.json link_to_replayed.json
expect 1 '--log names an input' "$cli" measure --replay replayed.json --log link_to_replayed.json
intact replayed.json
expect 1 '--log: is a folder, not a file' "$cli" measure --op matmul --shape 4,4,4 --log .
# A --target whose instructions the CPU lacks (--target avx512 without AVX-512) is refused with exit 1
# before any work; not tested here, since the machines that run these tests have AVX-512.
# --flush alone: min_repeat_ms 0 (a note says so, and the records' provenance); with --min-repeat-ms, a warning.
rm -f flush.json
expect 0 '--flush: min_repeat_ms is 0, not 100' "$cli" measure --op matmul --shape 8,8,8 --flush --log flush.json
grep -Eq 'flush=1;.*min_repeat_ms=0[;"]' flush.json && passed=$((passed + 1)) ||
  { echo "FAIL: --flush alone did not measure with min_repeat_ms 0"; head -c 600 flush.json; failed=$((failed + 1)); }
expect 0 'warning: --flush with --min-repeat-ms above 0: the caches are flushed before the first run of each repeat only' \
  "$cli" measure --op matmul --shape 8,8,8 --flush --min-repeat-ms 1 --log flush.json
# --bind: the records say so (bind=1); without it bind=0.
rm -f bind.json
expect 0 '' "$cli" measure --op matmul --shape 8,8,8 --bind --log bind.json
grep -q ';bind=1;' bind.json && passed=$((passed + 1)) ||
  { echo "FAIL: measure --bind did not record bind=1"; head -c 600 bind.json; failed=$((failed + 1)); }
grep -q ';bind=0;' flush.json && passed=$((passed + 1)) ||
  { echo "FAIL: measure without --bind did not record bind=0"; head -c 600 flush.json; failed=$((failed + 1)); }
# --repeat 1: a warning, n/a for the interval and the CV, and no ties.
expect 0 'warning: --repeat 1 gives no confidence interval' \
  "$cli" measure --op matmul --shape 8,8,8 --random 3 --repeat 1 --min-repeat-ms 0 --log repeat1.json
grep -Eq '^1 +[0-9]+ +[0-9.]+ +n/a +n/a' stdout.txt && ! grep -q 'tie with' stdout.txt && passed=$((passed + 1)) ||
  { echo "FAIL: --repeat 1 printed an interval or ties"; sed 's/^/  stdout | /' stdout.txt; failed=$((failed + 1)); }
# --replay of a log holding every record twice, over two tasks: each distinct candidate is measured once,
# for the current --target and --threads (its new record says so, not the logged target), and each task
# gets a table of its own.
rm -f two_tasks.json confirmed.json
"$cli" measure --op matmul --shape 16,16,16 --random 3 --min-repeat-ms 0 --log two_tasks.json >/dev/null 2>&1
"$cli" measure --op relu --shape 64,64 --random 2 --min-repeat-ms 0 --log two_tasks.json >/dev/null 2>&1
cat two_tasks.json two_tasks.json >doubled.json
if [ "$(uname -m)" = x86_64 ]; then replay_target=sse4.2 replay_mcpu=' -mcpu=x86-64-v2'; else replay_target=native replay_mcpu=''; fi
expect 0 '[0-9]+ records are left out: the same steps as another record of their task' \
  "$cli" measure --replay doubled.json --top 2 --target "$replay_target" --threads 1 --min-repeat-ms 0 --log confirmed.json
records=$(wc -l <confirmed.json)
retargeted=$(grep -c "\"llvm -keys=cpu$replay_mcpu -num-cores=1\"" confirmed.json)
tables=$(grep -c '^task \[' stdout.txt)
if [ "$records" -eq 4 ] && [ "$retargeted" -eq 4 ] && [ "$tables" -eq 2 ] && grep -q 'logged (ms)' stdout.txt; then
  passed=$((passed + 1))
else
  echo "FAIL: --replay: $records records (4 expected), $retargeted for the new target, $tables tables (2 expected)"
  sed 's/^/  stdout | /' stdout.txt
  failed=$((failed + 1))
fi
# Ctrl-C in the middle: exit 130, and every line of the log is a whole record.
rm -f interrupted.json
"$cli" --quiet measure --op matmul --shape 128,128,128 --random 40 --min-repeat-ms 200 --log interrupted.json \
  >stdout.txt 2>stderr.txt </dev/null &
pid=$!
for _ in $(seq 1 600); do [ -s interrupted.json ] && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
rc=$?
lines=$(wc -l <interrupted.json)
if [ "$rc" -eq 130 ] && [ "$lines" -ge 1 ] && [ "$lines" -lt 40 ] && grep -q 'interrupted: every candidate judged' stderr.txt &&
  "$cli" logs stats interrupted.json >/dev/null 2>&1; then
  passed=$((passed + 1))
else
  echo "FAIL: Ctrl-C during measure: exit $rc, $lines records"; sed 's/^/  stderr | /' stderr.txt | head -5; failed=$((failed + 1))
fi

## crosstune tune: flags checked first, outputs and the model checked before any work, a deadline that
## ends the run with the best so far, and Ctrl-C.
expect 2 '--log is required' "$cli" tune --op matmul --shape 4,4,4
expect 2 '--network: vgg not in' "$cli" tune --network vgg --log t.json
expect 2 '--op excludes --network' "$cli" tune --network resnet50 --op matmul --shape 4,4,4 --log t.json
expect 2 '--search: genetic not in' "$cli" tune --op matmul --shape 4,4,4 --search genetic --log t.json
expect 2 '--model: File does not exist' "$cli" tune --op matmul --shape 4,4,4 --model /nonexistent/m.bin --log t.json
expect 2 'give --op NAME with --shape' "$cli" tune --log t.json
expect 1 'folder /nonexistent/dir does not exist' "$cli" tune --op matmul --shape 4,4,4 --log /nonexistent/dir/t.json
printf 'not a model' >bogus.bin
sentinel t.json
expect 1 'bogus.bin' "$cli" tune --op matmul --shape 4,4,4 --model bogus.bin --log t.json
intact t.json
# --best: refused before any work when it is --log or an input; the file there stays as it was.
expect 1 '--best and --log name the same file' "$cli" tune --op matmul --shape 4,4,4 --log t.json --best t.json
intact t.json
expect 1 '--best names an input' "$cli" tune --op matmul --shape 4,4,4 --model bogus.bin --best bogus.bin --log t2.json
[ "$(cat bogus.bin)" = 'not a model' ] && passed=$((passed + 1)) || { echo "FAIL: tune --best changed its input"; failed=$((failed + 1)); }
# --time-budget: the run ends at the deadline, reports its best, and the log holds what was measured
# (15 s: two candidates built and timed while ctest runs compilers beside it).
rm -f deadline.json
expect 0 '' "$cli" --quiet tune --op matmul --shape 96,96,96 --trials 100000 --per-round 2 --population 64 --time-budget 15 \
  --no-reference --log deadline.json
if grep -q 'stopped by the deadline' stdout.txt && grep -Eq 'best kernel +[0-9.]+ GFLOP/s' stdout.txt &&
  "$cli" logs stats deadline.json >/dev/null 2>&1; then
  passed=$((passed + 1))
else
  echo "FAIL: --time-budget did not end the run with a best kernel"; sed 's/^/  stdout | /' stdout.txt | head -5; failed=$((failed + 1))
fi
# A model trained on another feature layout than --features gives: refused, naming both.
expect 1 'feature layout mismatch: the model was trained with extractor "steps", the extractor produces "loops"' \
  "$cli" tune --op matmul --shape 4,4,4 --features loops --model "$data/../../models/pretrained-cpu.bin" --log t.json
# A deadline before the first measurement: no kernel to use, so the command fails and says why; a --best
# file already there is left as it was.
sentinel early_best.json
expect 1 'no working kernel: no candidate was measured before the deadline.*give a longer --time-budget' \
  "$cli" --quiet tune --op matmul --shape 96,96,96 --trials 100 --time-budget 0.001 --no-reference --log early.json \
  --best early_best.json
intact early_best.json
# A log that exists is resumed: its records are not measured again, and the new ones are appended.
rm -f resumed.json
"$cli" --quiet tune --op matmul --shape 32,32,32 --trials 8 --per-round 8 --population 64 --no-reference --log resumed.json >/dev/null 2>&1
# Each run also measures its 4 finalists twice more (--finalists): 8 + 8 records, 8 distinct candidates.
expect 0 'resuming from resumed.json: 8 candidates of these tasks \(16 records\) are not measured again' \
  "$cli" tune --op matmul --shape 32,32,32 --trials 8 --per-round 8 --population 64 --no-reference --log resumed.json
if grep -q '8 trials (0 failed, 8 resumed)' stdout.txt && [ "$(wc -l <resumed.json)" -eq 32 ] &&
  [ "$(sed 's/, "r": .*//' resumed.json | sort -u | wc -l)" -eq 16 ]; then  # 16 distinct (task, steps)
  passed=$((passed + 1))
else
  echo "FAIL: resume: $(wc -l <resumed.json) records"; sed 's/^/  stdout | /' stdout.txt | head -3; failed=$((failed + 1))
fi
# crosstune calibrate: --out required; an output that is the --model input, or an unwritable folder, refused
# before any work.
expect 2 '--out is required' "$cli" calibrate --budget 1
cp "$data/../../models/pretrained-gpu.bin" base.bin 2>/dev/null || printf 'x' >base.bin
expect 1 '--out names an input' "$cli" calibrate --budget 1 --model base.bin --out base.bin
expect 1 'folder /nonexistent/dir does not exist' "$cli" calibrate --budget 1 --out /nonexistent/dir/m.bin
expect 2 '--layout: NWHC not in' "$cli" calibrate --budget 1 --layout NWHC --out m.bin
expect 2 '--layout: both not in' "$cli" tune --network resnet50 --layout both --log t.json
expect 2 '--stride excludes --network' "$cli" tune --network resnet50 --layout NHWC --stride 2 --log t.json
# Ctrl-C while tuning: exit 130 after the report, the log whole.
rm -f tune_interrupted.json
"$cli" --quiet tune --op matmul --shape 128,128,128 --trials 400 --per-round 8 --population 64 --log tune_interrupted.json \
  >stdout.txt 2>stderr.txt </dev/null &
pid=$!
for _ in $(seq 1 600); do [ -s tune_interrupted.json ] && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
rc=$?
lines=$(wc -l <tune_interrupted.json)
if [ "$rc" -eq 130 ] && [ "$lines" -ge 1 ] && [ "$lines" -lt 400 ] && grep -q 'stopped by Ctrl-C' stdout.txt &&
  grep -q 'interrupted: the best found so far is above' stderr.txt && "$cli" logs stats tune_interrupted.json >/dev/null 2>&1; then
  passed=$((passed + 1))
else
  echo "FAIL: Ctrl-C during tune: exit $rc, $lines records"; sed 's/^/  stderr | /' stderr.txt | head -5; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
