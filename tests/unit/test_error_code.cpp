#include "crosstune/core/error_code.hpp"

#include <doctest/doctest.h>

using crosstune::ErrorCode;

TEST_CASE("error codes carry Ansor's MeasureErrorNo numbers") {
  CHECK(static_cast<int>(ErrorCode::no_error) == 0);
  CHECK(static_cast<int>(ErrorCode::instantiation_error) == 1);
  CHECK(static_cast<int>(ErrorCode::compile_host) == 2);
  CHECK(static_cast<int>(ErrorCode::compile_device) == 3);
  CHECK(static_cast<int>(ErrorCode::runtime_device) == 4);
  CHECK(static_cast<int>(ErrorCode::wrong_answer) == 5);
  CHECK(static_cast<int>(ErrorCode::build_timeout) == 6);
  CHECK(static_cast<int>(ErrorCode::run_timeout) == 7);
  CHECK(static_cast<int>(ErrorCode::unknown_error) == 8);
}

TEST_CASE("error codes convert from numbers 0..8 only") {
  for (int i = 0; i < 9; ++i)
    CHECK(crosstune::error_code_from_number(i).has_value());
  CHECK_FALSE(crosstune::error_code_from_number(-1));
  CHECK_FALSE(crosstune::error_code_from_number(9));
  CHECK(crosstune::to_string(ErrorCode::run_timeout) == "run_timeout");
  CHECK(crosstune::to_string(static_cast<ErrorCode>(42)) == "invalid_error_code");
}
