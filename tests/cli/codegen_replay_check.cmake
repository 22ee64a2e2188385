# `crosstune codegen --replay LOG --json` on logs of named workload families: every record replays.
#
#   cmake -DCLI=build/release/bin/crosstune -DLOGS=tests/data/ansor-logs/k80 [-DRECORDS=4476] -P codegen_replay_check.cmake
#
# Fails unless the command succeeds, its JSON has "records", "replayed" and "failed_by_cause", "replayed"
# equals "records" (and RECORDS, when given), and there is at least one record.
foreach(_var CLI LOGS)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "codegen_replay_check.cmake needs -D${_var}=...")
  endif()
endforeach()
separate_arguments(_logs UNIX_COMMAND "${LOGS}")
execute_process(COMMAND ${CLI} --quiet codegen --replay ${_logs} --json
                RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "crosstune codegen --replay exited with ${_rc}:\n${_err}")
endif()
# The totals come first in the object, before "by_family".
string(REGEX MATCH "^\\{\"records\": ([0-9]+), \"replayed\": ([0-9]+), \"failed_by_cause\": \\{" _head "${_out}")
if(NOT _head)
  message(FATAL_ERROR "the output does not start with records, replayed and failed_by_cause:\n${_out}")
endif()
set(_records ${CMAKE_MATCH_1})
set(_replayed ${CMAKE_MATCH_2})
if(_records EQUAL 0)
  message(FATAL_ERROR "no records in ${LOGS}")
endif()
if(NOT _replayed EQUAL _records)
  message(FATAL_ERROR "${_replayed} of ${_records} records replayed:\n${_out}")
endif()
if(DEFINED RECORDS AND NOT _records EQUAL RECORDS)
  message(FATAL_ERROR "${_records} records read, expected ${RECORDS}")
endif()
message(STATUS "all ${_records} records replayed")
