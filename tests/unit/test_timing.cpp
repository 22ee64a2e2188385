// Timing with Ansor's semantics: warm-up, number grown to min_repeat_ms, one cost per repeat, optional
// cache flush; and the statistics (mean, median, deviation, CV, Student-t confidence interval, ties).
// Times are only checked from below (a run cannot take less than it waits), never for speed.
#include "crosstune/measure/timing.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdint>

using namespace crosstune;
using measure::Timing;
using measure::TimingOptions;

namespace {
/// Busy-waits `seconds` (a sleep could wake late, but never early either; busy-waiting keeps it short).
void spin(double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
  }
}
}  // namespace

TEST_CASE("without min_repeat_ms the function runs warm-up plus number times repeat") {
  TimingOptions o;
  o.number = 4;
  o.repeat = 3;
  o.warmup = 2;
  int calls = 0;
  const Timing t = measure::time_function([&] { ++calls; }, o);
  CHECK(calls == 2 + 4 * 3);
  CHECK(t.number == 4);
  CHECK(t.costs_seconds.size() == 3);
}

TEST_CASE("number grows until one repeat lasts min_repeat_ms, and each cost is the mean per run") {
  TimingOptions o;
  o.repeat = 2;
  o.min_repeat_ms = 5;
  const Timing t = measure::time_function([] { spin(200e-6); }, o);
  // A run takes at least 200 µs, so growth stops by 5 ms / 200 µs · 1.1 ≈ 28 runs, or one 1.618× step
  // past a count below 25 (a loaded machine stops it sooner).
  CHECK(t.number >= 1);
  CHECK(t.number <= 41);
  for (double c : t.costs_seconds) CHECK(c >= 200e-6);
  // A function of a few nanoseconds needs many runs to fill a millisecond.
  o.min_repeat_ms = 1;
  volatile int sink = 0;
  CHECK(measure::time_function([&] { sink = sink + 1; }, o).number > 100);
}

TEST_CASE("a function that already lasts min_repeat_ms runs warmup + repeat times: no run is spent on calibration alone") {
  TimingOptions o;
  o.repeat = 3;
  o.warmup = 1;
  o.min_repeat_ms = 1;
  int calls = 0;
  const Timing t = measure::time_function([&] { ++calls; spin(3e-3); }, o);
  CHECK(t.number == 1);
  CHECK(calls == 1 + 3);
  REQUIRE(t.costs_seconds.size() == 3);
  for (double c : t.costs_seconds) CHECK(c >= 3e-3);
}

TEST_CASE("a run of more than half of min_repeat_ms doubles number at once, not repeats alone until noise ends it") {
  TimingOptions o;
  o.repeat = 3;
  o.warmup = 1;
  o.min_repeat_ms = 10;
  int calls = 0;
  // 6 ms a run for the first 60 calls (then nothing, so that a regression ends instead of spinning on)
  const Timing t = measure::time_function([&] { if (++calls <= 60) spin(6e-3); }, o);
  // warm-up, one round of 1 (6 ms: short), then 2 a repeat; a preempted first round may stop at 1
  CHECK(t.number <= 2);
  CHECK(calls <= 1 + 1 + 3 * 2);
  REQUIRE(t.costs_seconds.size() == 3);
  for (double c : t.costs_seconds) CHECK(c >= 6e-3);
}

TEST_CASE("number stops at max_number however short the function") {
  TimingOptions o;
  o.min_repeat_ms = 1000;
  o.max_number = 64;
  o.repeat = 1;
  const Timing t = measure::time_function([] {}, o);
  CHECK(t.number == 64);
}

TEST_CASE("flushing the cache between repeats does not change what is run") {
  TimingOptions o;
  o.flush_cache = true;
  o.flush_bytes = 1 << 20;
  o.repeat = 4;
  int calls = 0;
  measure::CacheFlusher flusher;
  const Timing t = measure::time_function([&] { ++calls; }, o, &flusher);
  CHECK(calls == 1 + 4);
  CHECK(t.costs_seconds.size() == 4);
}

TEST_CASE("statistics of known costs") {
  Timing t;
  t.costs_seconds = {1.0, 2.0, 3.0, 4.0};
  CHECK(t.mean_seconds() == doctest::Approx(2.5));
  CHECK(t.median_seconds() == doctest::Approx(2.5));
  CHECK(t.min_seconds() == 1.0);
  CHECK(t.stdev_seconds() == doctest::Approx(std::sqrt(5.0 / 3.0)));
  CHECK(t.cv() == doctest::Approx(std::sqrt(5.0 / 3.0) / 2.5));
  CHECK(t.ci95_half_width_seconds() == doctest::Approx(3.182 * std::sqrt(5.0 / 3.0) / 2.0));
  Timing one;
  one.costs_seconds = {0.5};
  CHECK(one.stdev_seconds() == 0);
  CHECK(one.ci95_half_width_seconds() == 0);
  CHECK(one.median_seconds() == 0.5);
  CHECK(Timing{}.mean_seconds() == 0);
}

TEST_CASE("Student's t quantiles match the table and approach 1.96") {
  CHECK(Timing::student_t95(1) == doctest::Approx(12.706));
  CHECK(Timing::student_t95(9) == doctest::Approx(2.262));
  CHECK(Timing::student_t95(30) == doctest::Approx(2.042));
  CHECK(Timing::student_t95(60) == doctest::Approx(2.000).epsilon(0.003));
  CHECK(Timing::student_t95(1000) == doctest::Approx(1.962).epsilon(0.002));
}

TEST_CASE("two timings tie when their confidence intervals overlap") {
  Timing a, b, c;
  a.costs_seconds = {1.00, 1.02, 0.98};
  b.costs_seconds = {1.01, 1.03, 0.99};
  c.costs_seconds = {2.00, 2.01, 1.99};
  CHECK(a.tied_with(b));
  CHECK_FALSE(a.tied_with(c));
}

TEST_CASE("invalid timing options are refused with the field named") {
  TimingOptions o;
  CHECK(o.validate().has_value());
  o.repeat = 0;
  CHECK(o.validate().error().message.find("repeat") != std::string::npos);
  o = {};
  o.min_repeat_ms = -1;
  CHECK_FALSE(o.validate().has_value());
  o = {};
  o.min_repeat_ms = NAN;
  CHECK_FALSE(o.validate().has_value());
  o = {};
  o.warmup = -1;
  CHECK_FALSE(o.validate().has_value());
  o = {};
  o.number = 10;
  o.max_number = 5;
  CHECK_FALSE(o.validate().has_value());
}
