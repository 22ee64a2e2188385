# Tests of the `crosstune` command-line tool (label: cli).
set(_logs "${CROSSTUNE_TEST_DATA}/ansor-logs")
set(_bad "${CROSSTUNE_TEST_DATA}/bad/malformed.json")
set(_cli $<TARGET_FILE:crosstune_cli>)

add_test(NAME cli.logs_stats_json COMMAND ${_cli} logs stats --json
         ${_logs}/k80/ansor_matmul_128_4032_1000.json.gz ${_logs}/v100/ansor_matmul_128_4032_1000.json.gz
         ${_logs}/tvm-ci/resnet-50-NHWC-B1-llvm.json.gz)
# 1000 + 1000 + 26 records; the K80 and V100 logs share workload key and target, so 1 + 26 tasks.
set_tests_properties(cli.logs_stats_json PROPERTIES
  PASS_REGULAR_EXPRESSION "^\\{\"records\": 2026, \"valid_records\": [0-9]+, \"files\": 3, .*\"tasks\": 27, ")

# A folder stands for every .json / .json.gz file under it: the whole sample has 10 541 records.
add_test(NAME cli.logs_stats_folder COMMAND ${_cli} logs stats --json ${_logs})
set_tests_properties(cli.logs_stats_folder PROPERTIES PASS_REGULAR_EXPRESSION "^\\{\"records\": 10541, .*\"files\": 18, ")

add_test(NAME cli.logs_stats_table COMMAND ${_cli} logs stats ${_logs}/tvm-ci/conv2d.json.gz ${_logs}/tvm-ci/matmul.json.gz)
set_tests_properties(cli.logs_stats_table PROPERTIES
  PASS_REGULAR_EXPRESSION "records +2 \\(2 valid.*FLOPs per task +2\\.312e\\+08 \\.\\. 2\\.149e\\+09")

add_test(NAME cli.logs_stats_malformed_fails COMMAND ${_cli} logs stats ${_bad})
set_tests_properties(cli.logs_stats_malformed_fails PROPERTIES WILL_FAIL TRUE)
add_test(NAME cli.logs_stats_malformed_names_file_and_line COMMAND ${_cli} logs stats ${_bad})
set_tests_properties(cli.logs_stats_malformed_names_file_and_line PROPERTIES
  PASS_REGULAR_EXPRESSION "malformed\\.json:line 2, column [0-9]+: unknown step kind \"XX\"")

add_test(NAME cli.logs_stats_skip_bad COMMAND ${_cli} logs stats --json --skip-bad ${_bad})
set_tests_properties(cli.logs_stats_skip_bad PROPERTIES
  PASS_REGULAR_EXPRESSION "\"records\": 2, .*\"skipped_lines\": 2,.*skipped 2 malformed lines")

add_test(NAME cli.logs_stats_missing_file COMMAND ${_cli} logs stats /nonexistent/log.json)
set_tests_properties(cli.logs_stats_missing_file PROPERTIES WILL_FAIL TRUE)

add_test(NAME cli.example_read_logs COMMAND $<TARGET_FILE:example_read_logs>
         ${_logs}/k80/ansor_matmul_128_4032_1000.json.gz ${CMAKE_CURRENT_BINARY_DIR}/best.json)
set_tests_properties(cli.example_read_logs PROPERTIES PASS_REGULAR_EXPRESSION "1000 records read, best of 1 tasks")

# The composition examples: a real (small) tuning run each.
add_test(NAME cli.example_custom_search_loop COMMAND $<TARGET_FILE:example_custom_search_loop> 64 3)
set_tests_properties(cli.example_custom_search_loop PROPERTIES TIMEOUT 600 PASS_REGULAR_EXPRESSION "round 3: 16 measured, best [0-9.]+ GFLOP/s")
add_test(NAME cli.example_custom_policy COMMAND $<TARGET_FILE:example_custom_policy> 64 24)
set_tests_properties(cli.example_custom_policy PROPERTIES TIMEOUT 600
  PASS_REGULAR_EXPRESSION "24 trials in [0-9.]+ s: best [0-9.]+ ms, [0-9.]+ GFLOP/s; the model guided the search")

# crosstune tune: an operator against Eigen (JSON fields; its 4 finalists measured twice more), and a network's table
# (resume and deadlines: cli/bad_inputs.sh).
add_test(NAME cli.tune_matmul COMMAND ${_cli} tune --op matmul --shape 64,64,64 --trials 16 --per-round 8 --population 128 --threads 1
         --log ${CMAKE_CURRENT_BINARY_DIR}/tune_matmul.json --best ${CMAKE_CURRENT_BINARY_DIR}/tune_matmul_best.json --no-resume --json)
set_tests_properties(cli.tune_matmul PROPERTIES TIMEOUT 600 PASS_REGULAR_EXPRESSION
  "\"trials\": 16, .*\"best_gflops\": [0-9.]*[1-9][0-9.]*, \"tuning_best_gflops\": [0-9.]*[1-9][0-9.]*, \"finalist_gflops\": [0-9.]*[1-9][0-9.]*, \"finalists\": 4, \"ties\": [0-3], \"remeasured\": 8, \"reference_seconds\": [0-9.e-]+, \"reference_gflops\": [0-9.]*[1-9][0-9.]*, \"ratio\": [0-9.]*[1-9].*\"remeasure\": [0-9.]*[1-9]")
add_test(NAME cli.calibrate COMMAND ${_cli} calibrate --budget 2 --tasks 1 --epochs 3 --threads 2
         --out ${CMAKE_CURRENT_BINARY_DIR}/calibrated.bin --log ${CMAKE_CURRENT_BINARY_DIR}/calibrated.json)
set_tests_properties(cli.calibrate PROPERTIES TIMEOUT 600 PASS_REGULAR_EXPRESSION
  "calibrated on [0-9]+ records of [0-9]+ tasks .*held-out tasks: [0-9]+, PCA [0-9.]+, top-1 [0-9.]+.*card: .*calibrated.card.md")
add_test(NAME cli.tune_network COMMAND ${_cli} tune --network bert_base --trials 16 --per-round 2 --population 64 --cost-model bilstm
         --log ${CMAKE_CURRENT_BINARY_DIR}/tune_bert.json --no-resume)
set_tests_properties(cli.tune_network PROPERTIES TIMEOUT 900 PASS_REGULAR_EXPRESSION
  "tuned bert_base .*: 16 trials.*network estimate [^:]*: [0-9.]+ ms; untuned [0-9.]+ ms")

# crosstune hw
add_test(NAME cli.hw_host COMMAND ${_cli} hw --json)
set_tests_properties(cli.hw_host PROPERTIES PASS_REGULAR_EXPRESSION "^\\{\"name\": \"host\", \"kind\": \"cpu\", \"num_cores\": [1-9]")
add_test(NAME cli.hw_preset_v100 COMMAND ${_cli} hw --preset v100 --json)
set_tests_properties(cli.hw_preset_v100 PROPERTIES PASS_REGULAR_EXPRESSION
  "\"num_cores\": -1, \"vector_unit_bytes\": 16, \"cache_line_bytes\": 64, \"max_shared_memory_per_block\": 49152, \"max_local_memory_per_block\": 2147483647, \"max_threads_per_block\": 1024, \"max_vthread_extent\": 8, \"warp_size\": 32, \"compute_units\": 80")
add_test(NAME cli.hw_target COMMAND ${_cli} hw --target "llvm -mcpu=skylake-avx512 -num-cores 24")
set_tests_properties(cli.hw_target PROPERTIES PASS_REGULAR_EXPRESSION "num_cores +24.*vector_unit_bytes +64.*isa +\"avx512\"")
add_test(NAME cli.hw_list_presets COMMAND ${_cli} hw --list-presets)
set_tests_properties(cli.hw_list_presets PROPERTIES PASS_REGULAR_EXPRESSION "k80 .*h100 .*platinum-8272 .*graviton2")
add_test(NAME cli.hw_bad_target_fails COMMAND ${_cli} hw --target "cuda -arhc=sm_80")
set_tests_properties(cli.hw_bad_target_fails PROPERTIES WILL_FAIL TRUE)
add_test(NAME cli.hw_bad_target_message COMMAND ${_cli} hw --target "cuda -arhc=sm_80")
set_tests_properties(cli.hw_bad_target_message PROPERTIES PASS_REGULAR_EXPRESSION "column 6: .*unknown option \"-arhc=sm_80\"")
add_test(NAME cli.hw_unknown_preset_fails COMMAND ${_cli} hw --preset nope)
set_tests_properties(cli.hw_unknown_preset_fails PROPERTIES WILL_FAIL TRUE)

# crosstune data on the K80 and V100 sample logs: 11 tasks, 8466 valid records at --min-records 10.
set(_k80_v100 ${_logs}/k80 ${_logs}/v100)
add_test(NAME cli.data_stats COMMAND ${_cli} data stats --json --min-records 10 ${_k80_v100})
set_tests_properties(cli.data_stats PROPERTIES PASS_REGULAR_EXPRESSION
  "\"hardware\": \\{\"k80\": \\{\"tasks\": 6, .*\"v100\": \\{\"tasks\": 5, ")
foreach(_split within_task by_task)
  add_test(NAME cli.data_split_${_split} COMMAND ${_cli} data split --split ${_split} --ratio 0.8 --seed 1
           --train ${CMAKE_CURRENT_BINARY_DIR}/${_split}_train.json --test ${CMAKE_CURRENT_BINARY_DIR}/${_split}_test.json
           --min-records 10 ${_k80_v100})
  set_tests_properties(cli.data_split_${_split} PROPERTIES PASS_REGULAR_EXPRESSION "split of ([0-9]+) records.*train.*test")
  # The two written logs together hold every valid record of the kept tasks.
  add_test(NAME cli.data_split_${_split}_union COMMAND ${_cli} logs stats --json
           ${CMAKE_CURRENT_BINARY_DIR}/${_split}_train.json ${CMAKE_CURRENT_BINARY_DIR}/${_split}_test.json)
  set_tests_properties(cli.data_split_${_split}_union PROPERTIES DEPENDS cli.data_split_${_split}
                       PASS_REGULAR_EXPRESSION "^\\{\"records\": 8466, \"valid_records\": 8466, ")
endforeach()
add_test(NAME cli.data_split_by_target COMMAND ${_cli} data split --split by_target --test-target v100
         --train ${CMAKE_CURRENT_BINARY_DIR}/bt_train.json --test ${CMAKE_CURRENT_BINARY_DIR}/bt_test.json
         --min-records 10 ${_k80_v100})
set_tests_properties(cli.data_split_by_target PROPERTIES PASS_REGULAR_EXPRESSION "4455 train .* 4011 test")
add_test(NAME cli.data_split_by_target_needs_target COMMAND ${_cli} data split --split by_target
         --train ${CMAKE_CURRENT_BINARY_DIR}/x.json --test ${CMAKE_CURRENT_BINARY_DIR}/y.json ${_k80_v100})
set_tests_properties(cli.data_split_by_target_needs_target PROPERTIES WILL_FAIL TRUE)
add_test(NAME cli.data_sample_hardware_aware COMMAND ${_cli} data sample --target v100 --min-records 10
         --out ${CMAKE_CURRENT_BINARY_DIR}/sampled.json ${_k80_v100})
set_tests_properties(cli.data_sample_hardware_aware PROPERTIES PASS_REGULAR_EXPRESSION "kept fraction 0\\.5[0-9]+")
add_test(NAME cli.data_sample_uniform COMMAND ${_cli} data sample --sampler uniform --fraction 0.25 --min-records 10
         --out ${CMAKE_CURRENT_BINARY_DIR}/uniform.json ${_k80_v100})
set_tests_properties(cli.data_sample_uniform PROPERTIES PASS_REGULAR_EXPRESSION "kept fraction 0\\.2[45]")
add_test(NAME cli.data_export COMMAND ${_cli} data export --min-records 10 --out ${CMAKE_CURRENT_BINARY_DIR}/npy ${_k80_v100})
set_tests_properties(cli.data_export PROPERTIES PASS_REGULAR_EXPRESSION "8466 records of 11 tasks exported")

# crosstune features: one row per record read (10 541 in the sample), streamed to .npy.
add_test(NAME cli.features COMMAND ${_cli} features --max-steps 32 --out ${CMAKE_CURRENT_BINARY_DIR}/x.npy
         --mask-out ${CMAKE_CURRENT_BINARY_DIR}/m.npy ${_logs})
set_tests_properties(cli.features PROPERTIES PASS_REGULAR_EXPRESSION "10541 records -> .*x\\.npy \\[10541, 32, 44\\] float32")
# The loop statistics with the GPU kernel vector: every sample record replays; W = 27 + 54 + 30.
add_test(NAME cli.features_steps_loops COMMAND ${_cli} features --extractor steps+loops --max-steps 32
         --out ${CMAKE_CURRENT_BINARY_DIR}/xl.npy --workload-out ${CMAKE_CURRENT_BINARY_DIR}/wl.npy ${_logs}/k80)
set_tests_properties(cli.features_steps_loops PROPERTIES PASS_REGULAR_EXPRESSION "records -> .*xl\\.npy \\[[0-9]+, 32, 44\\] float32 \\(steps\\+loops v211"
  FAIL_REGULAR_EXPRESSION "no loop features")
# The launch columns read off the steps: W = 27 + 20, layout version 111 * 10 + 1; per-step hardware too.
add_test(NAME cli.features_steps_launch COMMAND ${_cli} features --extractor steps+launch --max-steps 32 --hardware-join per_step
         --out ${CMAKE_CURRENT_BINARY_DIR}/xa.npy --workload-out ${CMAKE_CURRENT_BINARY_DIR}/wa.npy ${_logs})
set_tests_properties(cli.features_steps_launch PROPERTIES PASS_REGULAR_EXPRESSION
  "10541 records -> .*xa\\.npy \\[10541, 32, 64\\] float32 \\(steps\\+launch v1111")
add_test(NAME cli.features_bad_join_fails COMMAND ${_cli} features --hardware-join diagonal --out ${CMAKE_CURRENT_BINARY_DIR}/y.npy ${_logs})
set_tests_properties(cli.features_bad_join_fails PROPERTIES WILL_FAIL TRUE)

# crosstune train / eval: a tiny model, one epoch, on the K80 sample; eval reads it back.
add_test(NAME cli.train COMMAND ${_cli} train --epochs 1 --hidden 8 --layers 1 --embedding 8 --min-records 10
         --out ${CMAKE_CURRENT_BINARY_DIR}/tiny.bin ${_logs}/k80)
set_tests_properties(cli.train PROPERTIES PASS_REGULAR_EXPRESSION "epoch 1/1 .*validation PCA 0\\.[0-9]+.*model written to")
# Model selection never sees the test records: the epoch is chosen on held-out training tasks, or (with
# --validate 0) the last epoch is kept; finetune can hold tasks out of its few records too.
add_test(NAME cli.train_validate_zero COMMAND ${_cli} train --epochs 2 --hidden 8 --layers 1 --embedding 8 --min-records 10
         --validate 0 --out ${CMAKE_CURRENT_BINARY_DIR}/tiny-noval.bin ${_logs}/k80)
set_tests_properties(cli.train_validate_zero PROPERTIES PASS_REGULAR_EXPRESSION
  "no validation: the last epoch is kept.*epoch 2/2  loss [0-9.]+  [0-9]+ s.*kept the last epoch, 2 \\(no validation\\); model written to"
  FAIL_REGULAR_EXPRESSION "validation PCA")
add_test(NAME cli.train_validate_tasks COMMAND ${_cli} train --model mlp --epochs 2 --hidden 16 --min-records 10 --threads 2
         --validate 0.5 --out ${CMAKE_CURRENT_BINARY_DIR}/tiny-mlp-val.bin ${_logs}/k80)
set_tests_properties(cli.train_validate_tasks PROPERTIES PASS_REGULAR_EXPRESSION
  "validating on [1-9][0-9]* records of 3 held-out training tasks.*best validation PCA 0\\.[0-9]+ at epoch [12] \\(on 3 held-out training tasks\\); model written to")
add_test(NAME cli.finetune_validate_tasks COMMAND ${_cli} finetune --model ${CMAKE_CURRENT_BINARY_DIR}/tiny-mlp-val.bin --epochs 1
         --validate 0.4 --min-records 10 --threads 2 --out ${CMAKE_CURRENT_BINARY_DIR}/tiny-mlp-val-v100.bin ${_logs}/v100)
set_tests_properties(cli.finetune_validate_tasks PROPERTIES DEPENDS cli.train_validate_tasks PASS_REGULAR_EXPRESSION
  "validating on [1-9][0-9]* records of 2 held-out training tasks.*best validation PCA 0\\.[0-9]+ at epoch 1 \\(on 2 held-out training tasks\\); held-out PCA")
add_test(NAME cli.eval COMMAND ${_cli} eval --json --min-records 10 --model ${CMAKE_CURRENT_BINARY_DIR}/tiny.bin ${_logs}/v100)
set_tests_properties(cli.eval PROPERTIES DEPENDS cli.train PASS_REGULAR_EXPRESSION
  "^\\{\"pca\": 0\\.[0-9]+, \"top1\": [01]\\.[0-9]+, \"top5\": [01]\\.[0-9]+, \"rmse\": [0-9.]+, \"kendall\": -?[0-9.]+, \"records\": 4011, \"tasks\": 5\\}")
add_test(NAME cli.finetune COMMAND ${_cli} finetune --model ${CMAKE_CURRENT_BINARY_DIR}/tiny.bin --freeze embedding,lstm
         --epochs 1 --ratio 0.05 --min-records 10 --out ${CMAKE_CURRENT_BINARY_DIR}/tiny-v100.bin ${_logs}/v100)
set_tests_properties(cli.finetune PROPERTIES DEPENDS cli.train PASS_REGULAR_EXPRESSION
  "fine-tuning on [0-9]+ records \\(2 frozen blocks\\).*model written to")
add_test(NAME cli.finetune_unknown_block_is_named COMMAND ${_cli} finetune --model ${CMAKE_CURRENT_BINARY_DIR}/tiny.bin
         --freeze lstms --out ${CMAKE_CURRENT_BINARY_DIR}/x.bin ${_logs}/v100)
set_tests_properties(cli.finetune_unknown_block_is_named PROPERTIES DEPENDS cli.train
  PASS_REGULAR_EXPRESSION "usage error: --freeze: lstms not in \\{attention,embedding,head,lstm\\}")
# --features: the model file keeps its layout, so eval and finetune extract what it was trained on.
add_test(NAME cli.train_steps_loops COMMAND ${_cli} train --features steps+loops --epochs 1 --hidden 8 --layers 1 --embedding 8
         --min-records 10 --out ${CMAKE_CURRENT_BINARY_DIR}/tiny-sl.bin ${_logs}/k80)
set_tests_properties(cli.train_steps_loops PROPERTIES PASS_REGULAR_EXPRESSION "epoch 1/1 .*validation PCA 0\\.[0-9]+.*model written to")
add_test(NAME cli.eval_steps_loops COMMAND ${_cli} eval --json --min-records 10 --model ${CMAKE_CURRENT_BINARY_DIR}/tiny-sl.bin ${_logs}/v100)
set_tests_properties(cli.eval_steps_loops PROPERTIES DEPENDS cli.train_steps_loops PASS_REGULAR_EXPRESSION
  "^\\{\"pca\": 0\\.[0-9]+, .*\"records\": 4011, \"tasks\": 5\\}")
add_test(NAME cli.finetune_steps_loops COMMAND ${_cli} finetune --model ${CMAKE_CURRENT_BINARY_DIR}/tiny-sl.bin --epochs 1
         --ratio 0.05 --min-records 10 --out ${CMAKE_CURRENT_BINARY_DIR}/tiny-sl-v100.bin ${_logs}/v100)
set_tests_properties(cli.finetune_steps_loops PROPERTIES DEPENDS cli.train_steps_loops PASS_REGULAR_EXPRESSION
  "held-out records before: 0\\.[0-9]+.*held-out PCA 0\\.[0-9]+ before, 0\\.[0-9]+ after; model written to")
add_test(NAME cli.train_mlp_launch COMMAND ${_cli} train --model mlp --features steps+launch --epochs 1 --hidden 16
         --min-records 10 --threads 2 --out ${CMAKE_CURRENT_BINARY_DIR}/tiny-mlp-launch.bin ${_logs}/k80)
set_tests_properties(cli.train_mlp_launch PROPERTIES PASS_REGULAR_EXPRESSION "MLP baseline.*epoch 1/1 .*model written to")
add_test(NAME cli.eval_mlp_launch COMMAND ${_cli} eval --json --min-records 10 --model ${CMAKE_CURRENT_BINARY_DIR}/tiny-mlp-launch.bin
         ${_logs}/v100)
set_tests_properties(cli.eval_mlp_launch PROPERTIES DEPENDS cli.train_mlp_launch PASS_REGULAR_EXPRESSION
  "^\\{\"pca\": 0\\.[0-9]+, .*\"records\": 4011, \"tasks\": 5\\}")
add_test(NAME cli.train_mlp_loops COMMAND ${_cli} train --model mlp --features loops --max-steps 4 --epochs 1 --hidden 16
         --min-records 10 --threads 2 --out ${CMAKE_CURRENT_BINARY_DIR}/tiny-mlp-loops.bin ${_logs}/k80)
set_tests_properties(cli.train_mlp_loops PROPERTIES PASS_REGULAR_EXPRESSION "MLP baseline.*epoch 1/1 .*model written to")
add_test(NAME cli.eval_mlp_loops COMMAND ${_cli} eval --json --min-records 10 --model ${CMAKE_CURRENT_BINARY_DIR}/tiny-mlp-loops.bin
         ${_logs}/v100)
set_tests_properties(cli.eval_mlp_loops PROPERTIES DEPENDS cli.train_mlp_loops PASS_REGULAR_EXPRESSION
  "^\\{\"pca\": 0\\.[0-9]+, .*\"records\": 4011, \"tasks\": 5\\}")
add_test(NAME cli.train_unknown_features COMMAND ${_cli} train --features pixels --out x.bin ${_logs}/k80)
set_tests_properties(cli.train_unknown_features PROPERTIES PASS_REGULAR_EXPRESSION
  "usage error: --features: pixels not in \\{steps,loops,steps\\+loops,steps\\+launch\\}")
add_test(NAME cli.train_mlp COMMAND ${_cli} train --model mlp --epochs 2 --hidden 16 --min-records 10 --threads 2
         --out ${CMAKE_CURRENT_BINARY_DIR}/tiny-mlp.bin ${_logs}/k80)
set_tests_properties(cli.train_mlp PROPERTIES PASS_REGULAR_EXPRESSION "MLP baseline.*epoch 2/2 .*model written to")
add_test(NAME cli.eval_mlp COMMAND ${_cli} eval --json --min-records 10 --model ${CMAKE_CURRENT_BINARY_DIR}/tiny-mlp.bin ${_logs}/v100)
set_tests_properties(cli.eval_mlp PROPERTIES DEPENDS cli.train_mlp PASS_REGULAR_EXPRESSION
  "^\\{\"pca\": 0\\.[0-9]+, .*\"records\": 4011, \"tasks\": 5\\}")
add_test(NAME cli.train_unknown_model_kind COMMAND ${_cli} train --model gbdt --out x.bin ${_logs}/k80)
set_tests_properties(cli.train_unknown_model_kind PROPERTIES PASS_REGULAR_EXPRESSION
  "usage error: --model: gbdt not in \\{bilstm,mlp,xgb\\}")
add_test(NAME cli.finetune_mlp COMMAND ${_cli} finetune --model ${CMAKE_CURRENT_BINARY_DIR}/tiny-mlp.bin --epochs 1
         --min-records 10 --threads 2 --out ${CMAKE_CURRENT_BINARY_DIR}/tiny-mlp-v100.bin ${_logs}/v100)
set_tests_properties(cli.finetune_mlp PROPERTIES DEPENDS cli.train_mlp PASS_REGULAR_EXPRESSION
  "held-out records before: 0\\.[0-9]+.*held-out PCA 0\\.[0-9]+ before, 0\\.[0-9]+ after; model written to")
add_test(NAME cli.finetune_mlp_refuses_freeze COMMAND ${_cli} finetune --model ${CMAKE_CURRENT_BINARY_DIR}/tiny-mlp.bin
         --freeze lstm --out x.bin ${_logs}/v100)
set_tests_properties(cli.finetune_mlp_refuses_freeze PROPERTIES DEPENDS cli.train_mlp PASS_REGULAR_EXPRESSION
  "error: --freeze applies to BiLSTM-attention models only")
if(TARGET crosstune::xgboost)
  add_test(NAME cli.train_xgb COMMAND ${_cli} train --model xgb --epochs 3 --min-records 10 --threads 2
           --out ${CMAKE_CURRENT_BINARY_DIR}/tiny-xgb.bin ${_logs}/k80)
  set_tests_properties(cli.train_xgb PROPERTIES PASS_REGULAR_EXPRESSION "XGBoost baseline.*epoch 3/3 .*model written to")
  add_test(NAME cli.eval_xgb COMMAND ${_cli} eval --json --min-records 10 --model ${CMAKE_CURRENT_BINARY_DIR}/tiny-xgb.bin
           ${_logs}/v100)
  set_tests_properties(cli.eval_xgb PROPERTIES DEPENDS cli.train_xgb PASS_REGULAR_EXPRESSION
    "^\\{\"pca\": 0\\.[0-9]+, .*\"records\": 4011, \"tasks\": 5\\}")
  # --holdout scores exactly the records training held out (same split, seed and logs): 447 records of the
  # 6 tasks, less those of the one task training validated on and so never trained on.
  add_test(NAME cli.eval_xgb_holdout COMMAND ${_cli} eval --holdout --min-records 10
           --model ${CMAKE_CURRENT_BINARY_DIR}/tiny-xgb.bin ${_logs}/k80)
  set_tests_properties(cli.eval_xgb_holdout PROPERTIES DEPENDS cli.train_xgb PASS_REGULAR_EXPRESSION
    "left out: the 1 validated on.*records 342, tasks 5\nPCA 0\\.[0-9]+")
  add_test(NAME cli.eval_xgb_holdout_all_tasks COMMAND ${_cli} eval --holdout --validate 0 --min-records 10
           --model ${CMAKE_CURRENT_BINARY_DIR}/tiny-xgb.bin ${_logs}/k80)
  set_tests_properties(cli.eval_xgb_holdout_all_tasks PROPERTIES DEPENDS cli.train_xgb PASS_REGULAR_EXPRESSION
    "^records 447, tasks 6\nPCA 0\\.[0-9]+" FAIL_REGULAR_EXPRESSION "left out")
  add_test(NAME cli.finetune_xgb COMMAND ${_cli} finetune --model ${CMAKE_CURRENT_BINARY_DIR}/tiny-xgb.bin --epochs 2
           --min-records 10 --threads 2 --out ${CMAKE_CURRENT_BINARY_DIR}/tiny-xgb-v100.bin ${_logs}/v100)
  set_tests_properties(cli.finetune_xgb PROPERTIES DEPENDS cli.train_xgb PASS_REGULAR_EXPRESSION
    "held-out records before: 0\\.[0-9]+.*epoch 2/2.*model written to")
  # Trees as the online model. The Eigen reference is measured after they trained, in a worker forked then:
  # with XGBoost's OpenMP threads in this process it hung (GCC's OpenMP runtime is not fork-safe).
  add_test(NAME cli.tune_matmul_xgb COMMAND ${_cli} tune --op matmul --shape 64,64,64 --trials 16 --per-round 8 --population 128
           --threads 2 --cost-model xgb --log ${CMAKE_CURRENT_BINARY_DIR}/tune_matmul_xgb.json --no-resume --json)
  set_tests_properties(cli.tune_matmul_xgb PROPERTIES TIMEOUT 600 PASS_REGULAR_EXPRESSION
    "\"trials\": 16, .*\"best_gflops\": [0-9.]*[1-9][0-9.]*, .*\"reference_seconds\": [0-9.e-]+, \"reference_gflops\": [0-9.]*[1-9][0-9.]*")
  # Simulated annealing as the search policy. In these tests 16 trials take 2 rounds of 8, or 3 when two
  # candidates of a round make the same program (it is measured once).
  add_test(NAME cli.tune_matmul_annealing COMMAND ${_cli} tune --op matmul --shape 48,40,56 --trials 16 --per-round 8
           --threads 2 --cost-model xgb --search annealing --no-reference
           --log ${CMAKE_CURRENT_BINARY_DIR}/tune_matmul_annealing.json --no-resume --json)
  set_tests_properties(cli.tune_matmul_annealing PROPERTIES TIMEOUT 600 PASS_REGULAR_EXPRESSION
    "\"trials\": 16, \"resumed\": 0, \"failures\": 0, \"rounds\": [23], .*\"best_gflops\": [0-9.]*[1-9][0-9.]*")
  # Trees reading the loop statistics of each candidate's lowered program (--features loops), and both.
  foreach(_features loops steps+loops steps+launch)
    string(REPLACE "+" "_" _name ${_features})
    add_test(NAME cli.tune_matmul_${_name} COMMAND ${_cli} tune --op matmul --shape 48,40,56 --trials 16 --per-round 8
             --population 128 --threads 2 --cost-model xgb --features ${_features} --no-reference
             --log ${CMAKE_CURRENT_BINARY_DIR}/tune_matmul_${_name}.json --no-resume --json)
    # One at a time: two tuning runs timing kernels on the same 2 cores can push a run past its timeout.
    set_tests_properties(cli.tune_matmul_${_name} PROPERTIES TIMEOUT 600 RESOURCE_LOCK cpu_timing PASS_REGULAR_EXPRESSION
      "\"trials\": 16, \"resumed\": 0, \"failures\": 0, \"rounds\": [23], .*\"best_gflops\": [0-9.]*[1-9][0-9.]*")
  endforeach()
  # Trees fitting the throughput with Ansor's weighting (--tree-objective weighted): the second round is
  # guided by them (its "train" time is that of their fit).
  add_test(NAME cli.tune_matmul_weighted_trees COMMAND ${_cli} tune --op matmul --shape 48,40,56 --trials 16 --per-round 8
           --population 128 --threads 2 --cost-model xgb --tree-objective weighted --no-reference
           --log ${CMAKE_CURRENT_BINARY_DIR}/tune_matmul_weighted_trees.json --no-resume --json)
  set_tests_properties(cli.tune_matmul_weighted_trees PROPERTIES TIMEOUT 600 PASS_REGULAR_EXPRESSION
    "\"trials\": 16, \"resumed\": 0, \"failures\": 0, \"rounds\": [23], .*\"best_gflops\": [0-9.]*[1-9][0-9.]*.*\"train\": [0-9.]*[1-9]")
  add_test(NAME cli.tune_refuses_an_unknown_tree_objective COMMAND ${_cli} tune --op matmul --shape 48,40,56 --trials 8
           --tree-objective listwise --log ${CMAKE_CURRENT_BINARY_DIR}/tune_unknown_objective.json)
  set_tests_properties(cli.tune_refuses_an_unknown_tree_objective PROPERTIES WILL_FAIL TRUE)
endif()
# The shipped model: eval and finetune default to it. The V100 sample is mostly among its training records,
# so this checks that the file is a trained model, not how well it generalises (docs/results.md does that).
add_test(NAME cli.eval_shipped_model COMMAND ${_cli} eval --json --min-records 10 ${_logs}/v100)
set_tests_properties(cli.eval_shipped_model PROPERTIES PASS_REGULAR_EXPRESSION "^\\{\"pca\": 0\\.[789][0-9]+")
add_test(NAME cli.eval_refuses_a_corrupt_model COMMAND ${_cli} eval --model ${_bad} ${_logs}/v100)
set_tests_properties(cli.eval_refuses_a_corrupt_model PROPERTIES WILL_FAIL TRUE)

# crosstune codegen: candidates of an operator, their steps and C++. The kernels written with --out compile
# as one translation unit (only the first carries the helper preamble).
set(_codegen_cpp ${CMAKE_CURRENT_BINARY_DIR}/codegen_matmul.cpp)
add_test(NAME cli.codegen_matmul_out COMMAND ${_cli} codegen --op matmul --shape 64,32,48 --random 3 --seed 7
         --out ${_codegen_cpp})
set_tests_properties(cli.codegen_matmul_out PROPERTIES FIXTURES_SETUP codegen_matmul PASS_REGULAR_EXPRESSION
  "// candidate 1 of 3: workload \\[\"matmul_layer\", 64, 32, 48\\], sketch \"[^\"]+\", 196608 FLOPs, [0-9]+ steps \\(Ansor log JSON\\), function crosstune_kernel_0\n// \\[\"[A-Z]+\", 2, .*// candidate 3 of 3: .*function crosstune_kernel_2\n")
add_test(NAME cli.codegen_matmul_out_compiles COMMAND ${CMAKE_CXX_COMPILER} -std=c++17 -O1 -fopenmp -shared -fPIC
         ${_codegen_cpp} -o ${CMAKE_CURRENT_BINARY_DIR}/codegen_matmul.so)
set_tests_properties(cli.codegen_matmul_out_compiles PROPERTIES FIXTURES_REQUIRED codegen_matmul)
# --json: one object per candidate; --compile builds the kernels of a workload key from the public logs.
add_test(NAME cli.codegen_json COMMAND ${_cli} codegen --op conv2d --shape 1,8,10,10,16,3,3 --padding 1 --random 2 --json)
set_tests_properties(cli.codegen_json PROPERTIES PASS_REGULAR_EXPRESSION
  "\n\\{\"workload_key\": \"[^\n]*crosstune\\.conv2d[^\n]*\", \"sketch\": \"[^\"]+\", \"flops\": 230400, \"steps\": \\[\\[\"[^\n]*\\]\\], \"function\": \"crosstune_kernel_1\", \"source\": \"#include <cmath>")
add_test(NAME cli.codegen_key_compile COMMAND ${_cli} codegen --key "[\"conv2d_layer\", 1, 16, 14, 14, 32, 3, 3, 1, 1]"
         --random 2 --seed 3 --compile)
set_tests_properties(cli.codegen_key_compile PROPERTIES PASS_REGULAR_EXPRESSION
  "compiled 2 kernels in .*// candidate 2 of 2: workload \\[\"conv2d_layer\", 1, 16, 14, 14, 32, 3, 3, 1, 1\\]")
# --replay: every record of the named families of the K80 sample replays onto its DAG; the whole sample
# holds hashed and unknown keys too, which are counted by cause.
add_test(NAME cli.codegen_replay_k80 COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:crosstune_cli> -DLOGS=${_logs}/k80
         -DRECORDS=4476 -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/codegen_replay_check.cmake)
set_tests_properties(cli.codegen_replay_k80 PROPERTIES PASS_REGULAR_EXPRESSION "all 4476 records replayed")
# --replay --source --top 1: the C++ of a tuning log's fastest record, its result in the comment.
add_test(NAME cli.codegen_replay_source COMMAND ${_cli} codegen --replay ${CMAKE_CURRENT_BINARY_DIR}/tune_matmul.json --source --top 1)
set_tests_properties(cli.codegen_replay_source PROPERTIES DEPENDS cli.tune_matmul PASS_REGULAR_EXPRESSION
  "// record [0-9]+: workload \\[\"matmul_layer\", 64, 64, 64\\], target llvm [^\n]*, logged [0-9.]+ ms, [0-9.]+ GFLOP/s, function crosstune_record_[0-9]+\n// \\[\"[A-Z]+\".*#include <cmath>.*extern \"C\" void crosstune_record_[0-9]+\\(")
# --best: the winner alone, one record that replays to C++.
add_test(NAME cli.codegen_replay_tune_best COMMAND ${_cli} codegen --replay ${CMAKE_CURRENT_BINARY_DIR}/tune_matmul_best.json --source)
set_tests_properties(cli.codegen_replay_tune_best PROPERTIES DEPENDS cli.tune_matmul PASS_REGULAR_EXPRESSION
  "// record 1: workload \\[\"matmul_layer\", 64, 64, 64\\][^\n]*function crosstune_record_1\n.*extern \"C\" void crosstune_record_1\\(")
add_test(NAME cli.codegen_source_needs_replay COMMAND ${_cli} codegen --op matmul --shape 8,8,8 --source)
set_tests_properties(cli.codegen_source_needs_replay PROPERTIES WILL_FAIL TRUE)
add_test(NAME cli.codegen_replay_table COMMAND ${_cli} codegen --replay ${_logs})
set_tests_properties(cli.codegen_replay_table PROPERTIES PASS_REGULAR_EXPRESSION
  "records +10541\n.*matmul_layer +2000 +2000 .*\\(hashed\\) */hashed_key: workload key \\[")

get_property(_cli_tests DIRECTORY PROPERTY TESTS)
foreach(_t IN LISTS _cli_tests)
  if(_t MATCHES "^cli\\.")
    set_tests_properties(${_t} PROPERTIES LABELS cli)
  endif()
endforeach()

# The tool against bad inputs and faults: exit 1 or 2 with one error line, never a signal; outputs that
# are inputs refused; files at the outputs of a failed command left as they were.
add_test(NAME cli.bad_inputs COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/bad_inputs.sh ${_cli}
         ${CROSSTUNE_TEST_DATA} ${CMAKE_CURRENT_BINARY_DIR}/bad_inputs)
set_tests_properties(cli.bad_inputs PROPERTIES LABELS cli TIMEOUT 300)
# A network's --json: per-task workload keys, weights and FLOPs (bench/time_to_tune.py rebuilds the estimate
# curve from them), the time profile and the guard.
add_test(NAME cli.tune_network_json COMMAND ${_cli} tune --network bert_base --trials 4 --per-round 2 --population 64
         --log ${CMAKE_CURRENT_BINARY_DIR}/tune_bert_json.json --no-resume --no-reference --json)
set_tests_properties(cli.tune_network_json PROPERTIES TIMEOUT 900 PASS_REGULAR_EXPRESSION
  "^\\{\"network\": \"bert_base\", .*\"trials\": 4, .*\"profile\": \\{\"search\": [0-9.]+, .*\"guard\": \\{\"checked\": false.*\"tasks\": \\[\\{\"name\": \"[^\"]+\", \"workload_key\": \"\\[.*\"weight\": [0-9]+, \"flops\": [0-9]+, ")
# --layout NHWC with --network: every convolution, pool and residual add of the network in channels last.
add_test(NAME cli.tune_network_nhwc COMMAND ${_cli} tune --network resnet50 --layout NHWC --trials 2 --per-round 2
         --population 64 --log ${CMAKE_CURRENT_BINARY_DIR}/tune_resnet_nhwc.json --no-resume --no-reference --json)
set_tests_properties(cli.tune_network_nhwc PROPERTIES TIMEOUT 900 FAIL_REGULAR_EXPRESSION "NCHW"
  PASS_REGULAR_EXPRESSION "\"network\": \"resnet50\", .*\"trials\": 2, .*crosstune.conv2d[^A-Z]*NHWC.*add 1x56x56x256")
