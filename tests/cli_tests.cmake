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

get_property(_cli_tests DIRECTORY PROPERTY TESTS)
foreach(_t IN LISTS _cli_tests)
  if(_t MATCHES "^cli\\.")
    set_tests_properties(${_t} PROPERTIES LABELS cli)
  endif()
endforeach()
