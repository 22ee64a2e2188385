// The callable measurer: an embedder's function timed with the same statistics; exceptions become
// runtime_device, failed checks wrong_answer, each with its message; results carry wall time and time.
#include "crosstune/measure/callable_measurer.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <vector>

#include "crosstune/measure/verify.hpp"

using namespace crosstune;

TEST_CASE("a correct function is timed: one cost per repeat, no error, wall time and timestamp set") {
  auto measurer = measure::CallableMeasurer::make({.number = 2, .repeat = 4}).value();
  std::vector<float> out(16), want(16, 3.0f);
  int calls = 0;
  auto m = measurer.measure(
      [&] {
        ++calls;
        for (auto& x : out) x = 3.0f;
      },
      [&] { return measure::check_close(out, want); });
  CHECK(m.result.ok());
  CHECK(m.message.empty());
  CHECK(m.result.costs_seconds.size() == 4);
  CHECK(m.result.costs_seconds == m.timing.costs_seconds);
  CHECK(calls == 1 /* checked run */ + 1 /* warm-up */ + 2 * 4);
  CHECK(m.result.all_cost_seconds >= 0);
  CHECK(m.result.timestamp > 1.7e9);  // after 2023, in Unix seconds
  CHECK(m.result.mean_cost_seconds() == doctest::Approx(m.timing.mean_seconds()));
}

TEST_CASE("a wrong answer is error 5 with the check's message, and is not timed") {
  measure::CallableMeasurer measurer({});
  std::vector<float> out(4, 0.0f), want(4, 1.0f);
  int calls = 0;
  auto m = measurer.measure([&] { ++calls; }, [&] { return measure::check_close(out, want); });
  CHECK(m.result.error == ErrorCode::wrong_answer);
  CHECK(m.result.costs_seconds.empty());
  CHECK(m.message.find("element 0 is 0 where 1 is expected") != std::string::npos);
  CHECK(calls == 1);
}

TEST_CASE("a function that throws is error 4 with the exception's words, whether on the first run or later") {
  measure::CallableMeasurer measurer({.number = 1, .repeat = 3});
  auto first = measurer.measure([] { throw std::runtime_error("out of shared memory"); });
  CHECK(first.result.error == ErrorCode::runtime_device);
  CHECK(first.message == "the function threw: out of shared memory");
  int calls = 0;
  auto later = measurer.measure([&] {
    if (++calls == 3) throw 42;  // during timing, and not a std::exception
  });
  CHECK(later.result.error == ErrorCode::runtime_device);
  CHECK(later.message.find("not a std::exception") != std::string::npos);
  CHECK(later.result.costs_seconds.empty());
}

TEST_CASE("invalid options are refused by make and throw from the constructor") {
  CHECK_FALSE(measure::CallableMeasurer::make({.number = 0}).has_value());
  CHECK_THROWS_AS(measure::CallableMeasurer({.repeat = 0}), ErrorException);
}
