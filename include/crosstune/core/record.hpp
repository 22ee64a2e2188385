// crosstune/core/record.hpp — one measured tensor program: the unit that flows through crosstune.
//
// A Record is (task, step sequence) → (measure result), exactly one line of an Ansor / TVM
// auto_scheduler log. Readers produce Records, measurers and tuners append them, datasets group them by
// task, feature extractors turn them into model input.
//
//   for (const Record& r : records)
//     if (r.result.ok()) best = std::min(best, r.result.mean_cost_seconds());
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "crosstune/core/error_code.hpp"
#include "crosstune/core/step.hpp"
#include "crosstune/core/task.hpp"

namespace crosstune {

/// The outcome of measuring one candidate (the "r" array of a log line).
struct MeasureResult {
  std::vector<double> costs_seconds;  ///< one run time per repeat, seconds
  ErrorCode error = ErrorCode::no_error;
  double all_cost_seconds = 0.0;  ///< wall time of the whole measurement (build + run)
  double timestamp = 0.0;         ///< Unix time the measurement finished, seconds

  [[nodiscard]] bool ok() const noexcept { return error == ErrorCode::no_error; }

  /// Mean of costs_seconds; +inf when there is no cost or the measurement failed.
  [[nodiscard]] double mean_cost_seconds() const noexcept {
    if (!ok() || costs_seconds.empty()) return std::numeric_limits<double>::infinity();
    return std::accumulate(costs_seconds.begin(), costs_seconds.end(), 0.0) /
           static_cast<double>(costs_seconds.size());
  }

  friend bool operator==(const MeasureResult&, const MeasureResult&) = default;
};

struct Record {
  std::shared_ptr<const Task> task;  ///< shared between the records of one task; never null when read
  StepSequence steps;
  MeasureResult result;
  std::string version;  ///< log format version, e.g. "v0.6"; empty when the line had none

  /// Equal when tasks compare equal by value (not by pointer), and steps, result and version are equal.
  friend bool operator==(const Record& a, const Record& b) noexcept {
    const bool same_task = a.task == b.task || (a.task && b.task && *a.task == *b.task);
    return same_task && a.steps == b.steps && a.result == b.result && a.version == b.version;
  }
};

/// The version string crosstune writes for records it creates (the newest Ansor log format).
inline constexpr const char* current_log_version = "v0.6";

}  // namespace crosstune
