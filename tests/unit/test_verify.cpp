// Output checks: within tolerance passes; otherwise the message names the worst element and counts.
#include "crosstune/measure/verify.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace crosstune;

TEST_CASE("outputs within the tolerance pass") {
  const std::vector<float> want = {1.0f, -2.0f, 1000.0f, 0.0f};
  const std::vector<float> got = {1.00005f, -2.0001f, 1000.05f, 0.00009f};
  CHECK_FALSE(measure::check_close(got, want).has_value());
}

TEST_CASE("the worst element is named with its values and the count of elements off") {
  const std::vector<float> want = {1.0f, 2.0f, 3.0f, 4.0f};
  const std::vector<float> got = {1.0f, 2.1f, 3.0f, 5.0f};
  auto wrong = measure::check_close(got, want);
  REQUIRE(wrong.has_value());
  CHECK(wrong->find("element 3 is 5 where 4 is expected") != std::string::npos);
  CHECK(wrong->find("2 of 4 elements are off") != std::string::npos);
}

TEST_CASE("NaN is never close, and sizes must agree") {
  const std::vector<float> want = {1.0f, 2.0f};
  const std::vector<float> nan = {1.0f, NAN};
  auto wrong = measure::check_close(nan, want);
  REQUIRE(wrong.has_value());
  CHECK(wrong->find("element 1") != std::string::npos);
  CHECK(measure::check_close(std::vector<float>{1.0f}, want)->find("holds 1 elements") != std::string::npos);
}

TEST_CASE("an absolute tolerance admits small errors around zero") {
  const std::vector<float> want = {0.0f};
  const std::vector<float> got = {0.01f};
  CHECK(measure::check_close(got, want).has_value());
  CHECK_FALSE(measure::check_close(got, want, {.rtol = 1e-4, .atol = 0.02}).has_value());
}
