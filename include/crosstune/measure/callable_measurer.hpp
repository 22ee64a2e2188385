// crosstune/measure/callable_measurer.hpp — measures an embedder's own function: no code generation,
// the same timing statistics, cache flush and verification as crosstune's kernel measurers.
//
// A DSL backend, or a hand-written kernel library, hands over a callable (and optionally a check of its
// output); the result is an Ansor MeasureResult (one cost per repeat, an error code) plus the Timing with
// its statistics. The callable runs in this process: an exception becomes runtime_device, a failed
// check wrong_answer (the check's message says where). A crash or a hang takes the process with it;
// kernels that may do that belong in the forked measurer.
//
//   measure::CallableMeasurer measurer({.repeat = 5, .min_repeat_ms = 20, .flush_cache = true});
//   auto m = measurer.measure([&] { my_gemm(a, b, c); },
//                             [&] { return measure::check_close(c, reference); });
//   if (m.result.ok()) std::cout << m.timing.mean_seconds() << '\n';
//   else std::cout << to_string(m.result.error) << ": " << m.message << '\n';
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "crosstune/core/error_code.hpp"
#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/measure/timing.hpp"

namespace crosstune::measure {

/// The outcome of one measurement.
struct CallableMeasurement {
  MeasureResult result;  ///< costs per repeat (empty on failure), error code, wall time, timestamp
  Timing timing;         ///< the same costs with their statistics, and the `number` used
  std::string message;   ///< why it failed (the exception's or the check's words); empty on success
};

class CallableMeasurer {
 public:
  /// Refuses invalid options (see TimingOptions::validate).
  [[nodiscard]] static Expected<CallableMeasurer> make(TimingOptions options = {}) {
    if (auto ok = options.validate(); !ok) return unexpected(std::move(ok).error());
    return CallableMeasurer(options);
  }
  /// The same for options known to be valid; throws ErrorException otherwise.
  explicit CallableMeasurer(TimingOptions options) : options_(options) { options_.validate().value(); }

  [[nodiscard]] const TimingOptions& options() const noexcept { return options_; }

  /// Runs `run` once and checks its output with `check` (std::optional<std::string>: nullopt when
  /// right), then times it. `check` sees the output of the first run only.
  template <class Run, class Check>
  CallableMeasurement measure(Run&& run, Check&& check) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    CallableMeasurement m;
    auto finish = [&](ErrorCode error) {
      m.result.error = error;
      m.result.costs_seconds = error == ErrorCode::no_error ? m.timing.costs_seconds : std::vector<double>{};
      m.result.all_cost_seconds = std::chrono::duration<double>(clock::now() - start).count();
      m.result.timestamp =
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      return std::move(m);
    };
    try {
      run();
      std::optional<std::string> wrong = check();
      if (wrong) {
        m.message = std::move(*wrong);
        return finish(ErrorCode::wrong_answer);
      }
      m.timing = time_function(run, options_, &flusher_);
    } catch (const std::exception& e) {
      m.message = std::string("the function threw: ") + e.what();
      return finish(ErrorCode::runtime_device);
    } catch (...) {
      m.message = "the function threw something that is not a std::exception";
      return finish(ErrorCode::runtime_device);
    }
    return finish(ErrorCode::no_error);
  }
  /// Times `run` without a check.
  template <class Run>
  CallableMeasurement measure(Run&& run) {
    return measure(std::forward<Run>(run), [] { return std::optional<std::string>{}; });
  }

 private:
  TimingOptions options_;
  CacheFlusher flusher_;
};

}  // namespace crosstune::measure
