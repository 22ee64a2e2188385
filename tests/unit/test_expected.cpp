#include "crosstune/core/expected.hpp"

#include <doctest/doctest.h>

#include <string>

using crosstune::Error;
using crosstune::ErrorKind;
using crosstune::Expected;

namespace {
Expected<int> parse_digit(char c) {
  if (c < '0' || c > '9')
    return crosstune::unexpected(
        Error(ErrorKind::invalid_argument, "not a digit", "in.txt", 3, 7, "use 0-9"));
  return c - '0';
}
}  // namespace

TEST_CASE("an Expected holds either a value or an error") {
  auto good = parse_digit('7');
  REQUIRE(good.has_value());
  CHECK(*good == 7);
  auto bad = parse_digit('x');
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == ErrorKind::invalid_argument);
  CHECK(bad.error().line == 3);
}

TEST_CASE("reading the value of an error throws an ErrorException carrying the error") {
  auto bad = parse_digit('x');
  CHECK_THROWS_AS((void)bad.value(), crosstune::ErrorException);
  try {
    (void)bad.value();
  } catch (const crosstune::ErrorException& e) {
    CHECK(e.error().message == "not a digit");
    CHECK(std::string(e.what()) == "in.txt:line 3, column 7: not a digit (use 0-9)");
  }
}

TEST_CASE("describe leaves out the parts of the location that are unknown") {
  CHECK(Error(ErrorKind::io, "boom").describe() == "boom");
  CHECK(Error(ErrorKind::io, "boom", "f.json").describe() == "f.json: boom");
  CHECK(Error(ErrorKind::io, "boom", "f.json", 12).describe() == "f.json:line 12: boom");
  CHECK(Error(ErrorKind::io, "boom", "", 2, 5).describe() == "line 2, column 5: boom");
}

TEST_CASE("Expected<void> reports success or failure") {
  Expected<void> ok;
  CHECK(ok.has_value());
  CHECK_NOTHROW(ok.value());
  Expected<void> failed = crosstune::unexpected(Error(ErrorKind::schema, "bad"));
  CHECK_FALSE(failed);
  CHECK(failed.error().message == "bad");
  CHECK_THROWS_AS(failed.value(), crosstune::ErrorException);
}

TEST_CASE("error kinds have names") {
  CHECK(std::string(crosstune::to_string(ErrorKind::empty_input)) == "empty_input");
  CHECK(std::string(crosstune::to_string(ErrorKind::parse)) == "parse");
  CHECK(std::string(crosstune::to_string(ErrorKind::backend)) == "backend");
}
