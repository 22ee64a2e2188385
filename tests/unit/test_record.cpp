#include "crosstune/core/record.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <memory>

using namespace crosstune;

TEST_CASE("the mean cost averages the repeats of a successful measurement") {
  MeasureResult r;
  r.costs_seconds = {1.0, 2.0, 3.0};
  CHECK(r.ok());
  CHECK(r.mean_cost_seconds() == doctest::Approx(2.0));
  r.error = ErrorCode::run_timeout;
  CHECK(std::isinf(r.mean_cost_seconds()));
  MeasureResult empty;
  CHECK(std::isinf(empty.mean_cost_seconds()));
}

TEST_CASE("records compare their tasks by value, not by pointer") {
  auto task = std::make_shared<Task>();
  task->workload_key = "[\"k\"]";
  Record a;
  a.task = task;
  a.version = "v0.6";
  Record b = a;
  b.task = std::make_shared<Task>(*task);
  CHECK(a == b);
  auto other = std::make_shared<Task>(*task);
  other->workload_key = "[\"other\"]";
  b.task = other;
  CHECK_FALSE(a == b);
  b.task = nullptr;
  CHECK_FALSE(a == b);
}
