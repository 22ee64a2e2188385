# Package-consumption tests (label: cmake): a tiny project builds against crosstune through find_package
# (after `cmake --install` into a scratch prefix), add_subdirectory and FetchContent, then runs.
set(_consumer_src "${CMAKE_CURRENT_SOURCE_DIR}/cmake/consumer")
set(_sample "${CROSSTUNE_TEST_DATA}/ansor-logs/tvm-ci/resnet-18-NHWC-B1-cuda.json.gz")
set(_work "${CMAKE_CURRENT_BINARY_DIR}/consumer")

add_test(NAME cmake.install
         COMMAND ${CMAKE_COMMAND} --install ${PROJECT_BINARY_DIR} --prefix ${_work}/prefix)
set_tests_properties(cmake.install PROPERTIES FIXTURES_SETUP crosstune_installed LABELS cmake)

foreach(_mode find_package subdirectory fetchcontent)
  set(_extra "")
  if(_mode STREQUAL "find_package")
    set(_extra "-DCMAKE_PREFIX_PATH=${_work}/prefix")
  endif()
  add_test(NAME cmake.consume_${_mode}
           COMMAND ${CMAKE_COMMAND} -E env
                   sh -c "rm -rf ${_work}/${_mode} && \
${CMAKE_COMMAND} -S ${_consumer_src} -B ${_work}/${_mode} -DCROSSTUNE_CONSUME=${_mode} \
-DCROSSTUNE_SOURCE_DIR=${PROJECT_SOURCE_DIR} -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER} ${_extra} >/dev/null && \
${CMAKE_COMMAND} --build ${_work}/${_mode} --target consumer >/dev/null && \
${_work}/${_mode}/consumer ${_sample}")
  set_tests_properties(cmake.consume_${_mode} PROPERTIES LABELS cmake TIMEOUT 600
                       PASS_REGULAR_EXPRESSION "consumer read 24 records with crosstune 0\\.1\\.0")
  if(_mode STREQUAL "find_package")
    set_tests_properties(cmake.consume_${_mode} PROPERTIES FIXTURES_REQUIRED crosstune_installed)
  endif()
endforeach()
