# Every public header, and every header of the command-line tool, compiles on its own: one translation
# unit per header that includes it twice (so its include guard is checked too). Built with the tests, so
# a header that leans on what another header happened to include fails the build in CI.
function(crosstune_header_check target root)
  set(_sources)
  foreach(_header IN LISTS ARGN)
    file(RELATIVE_PATH _relative ${root} ${_header})
    string(MAKE_C_IDENTIFIER ${_relative} _id)
    set(_source ${CMAKE_CURRENT_BINARY_DIR}/header_check/${target}/${_id}.cpp)
    file(CONFIGURE OUTPUT ${_source} CONTENT "#include \"${_header}\"\n#include \"${_header}\"\n")
    list(APPEND _sources ${_source})
  endforeach()
  add_library(${target} OBJECT ${_sources})
  target_link_libraries(${target} PRIVATE crosstune::crosstune crosstune_warnings)
endfunction()

file(GLOB_RECURSE _public_headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/crosstune/*.hpp)
# The XGBoost baseline needs XGBoost's headers: checked only where the optional target exists.
list(FILTER _public_headers EXCLUDE REGEX "/model/xgboost\\.hpp$")
crosstune_header_check(crosstune_header_check ${PROJECT_SOURCE_DIR}/include ${_public_headers})
if(TARGET crosstune::xgboost)
  crosstune_header_check(crosstune_header_check_xgboost ${PROJECT_SOURCE_DIR}/include
                         ${PROJECT_SOURCE_DIR}/include/crosstune/model/xgboost.hpp)
  target_link_libraries(crosstune_header_check_xgboost PRIVATE crosstune::xgboost)
endif()
if(CROSSTUNE_BUILD_EXAMPLES)
  find_package(CLI11 REQUIRED)
  file(GLOB _cli_headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/examples/cli/*.hpp)
  crosstune_header_check(crosstune_header_check_cli ${PROJECT_SOURCE_DIR}/examples/cli ${_cli_headers})
  target_link_libraries(crosstune_header_check_cli PRIVATE CLI11::CLI11)
  if(TARGET crosstune::xgboost)
    target_link_libraries(crosstune_header_check_cli PRIVATE crosstune::xgboost)
  endif()
endif()
