// crosstune/measure/measurement.hpp — the vocabulary every measurer speaks (the `Measurer` concept in
// crosstune/concepts.hpp): a task to measure on, candidates, and what came of each.
//
//   measure::MeasureTask task{.signature = sig, .seed = 1, .reference = naive_kernel};
//   std::vector<measure::Candidate> candidates = ...;      // kernel source + the record to log
//   measure::BatchResult batch = measurer.measure(candidates);
//   for (auto& m : batch.measurements) if (m.result.ok()) use(m.timing.mean_seconds());
//   if (batch.stopped()) std::cerr << batch.stop_reason << '\n';
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crosstune/core/error_code.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/measure/kernel.hpp"
#include "crosstune/measure/timing.hpp"

namespace crosstune::measure {

/// What the candidates of one task run on, and what their outputs are checked against.
struct MeasureTask {
  KernelSignature signature{};
  std::uint64_t seed = 0;                  ///< inputs: fill_input(buffer, seed, position)
  std::optional<KernelSource> reference{};  ///< a kernel known to be right (e.g. the unscheduled loop nest)
  std::vector<std::vector<float>> reference_values{};  ///< or the outputs' values, one vector per output
};

/// One candidate: its kernel, and the record (task and steps) its result is logged with.
struct Candidate {
  KernelSource kernel{};
  Record record{};  ///< `task` and `steps`; the measurer fills `result` and `version`
};

/// What came of one candidate.
struct Measurement {
  Record record{};       ///< the candidate's record with its result and provenance, as logged
  Timing timing{};       ///< the repeats and `number` (empty on failure)
  std::string message{};  ///< why it failed, in the words of the compiler, the loader or the check
  double build_seconds = 0;  ///< its share of the compiler run that built it
  double run_seconds = 0;    ///< the check run and the timing, as the time limit counts them

  [[nodiscard]] const MeasureResult& result() const noexcept { return record.result; }
  [[nodiscard]] bool ok() const noexcept { return record.result.ok(); }
};

/// Failures grouped by error code: how many, and the first message of each.
struct FailureReport {
  struct Entry {
    std::size_t count = 0;
    std::string first_message{};
  };
  std::array<Entry, error_code_count> by_code{};

  void add(ErrorCode code, const std::string& message) {
    auto& e = by_code[static_cast<std::size_t>(code)];
    if (e.count++ == 0) e.first_message = message.substr(0, 2000);
  }
  [[nodiscard]] std::size_t failures() const noexcept {
    std::size_t n = 0;
    for (std::size_t c = 1; c < by_code.size(); ++c) n += by_code[c].count;
    return n;
  }
  /// One paragraph per error code that occurred: "run_timeout (7) × 3: first message".
  [[nodiscard]] std::string describe() const {
    std::string out;
    for (std::size_t c = 1; c < by_code.size(); ++c) {
      if (by_code[c].count == 0) continue;
      out += to_string(static_cast<ErrorCode>(c));
      out += " (" + std::to_string(c) + ") x " + std::to_string(by_code[c].count) + ": ";
      const auto& m = by_code[c].first_message;
      out += m.substr(0, m.find('\n') == std::string::npos ? m.size() : std::min<std::size_t>(m.size(), 600));
      out += '\n';
    }
    return out;
  }
};

/// The measurements of a batch, in candidate order. When the measurer stopped early (too many
/// failures in a row, every candidate timing out, the stop flag, a log that cannot be written),
/// `measurements` holds the candidates judged before and `stop_reason` says why.
struct BatchResult {
  std::vector<Measurement> measurements{};
  std::string stop_reason{};
  bool interrupted = false;  ///< stopped by the stop flag (e.g. SIGINT)

  [[nodiscard]] bool stopped() const noexcept { return !stop_reason.empty(); }
};

}  // namespace crosstune::measure
