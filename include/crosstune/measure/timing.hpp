// crosstune/measure/timing.hpp — timing a kernel the way Ansor and TVM's time_evaluator do, with the
// statistics a tuner needs to tell a real winner from noise.
//
// A measurement is `repeat` repeats; each repeat runs the kernel `number` times back to back and records
// the mean run time. In the first repeat, `number` grows until one round lasts at least `min_repeat_ms`
// (so short kernels are not timed at the clock's resolution; the last round is the repeat's cost), after
// `warmup` untimed runs. With
// `flush_cache`, a buffer larger than the last-level cache is written between repeats, so every repeat
// starts from cold caches as the kernel would inside a network.
//
//   measure::TimingOptions options;            // number 1, repeat 3, min_repeat_ms 0, 1 warm-up run
//   options.min_repeat_ms = 50;
//   auto t = measure::time_function([&] { kernel(args); }, options);
//   std::cout << t.mean_seconds() << " s ± " << t.ci95_half_width_seconds() << " (CV " << t.cv() << ")\n";
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "crosstune/core/expected.hpp"

namespace crosstune::measure {

struct TimingOptions {
  std::int64_t number = 1;         ///< runs per repeat (grown to reach min_repeat_ms)
  std::int64_t repeat = 3;         ///< repeats, each giving one cost
  double min_repeat_ms = 0;        ///< grow `number` until a repeat lasts at least this long
  std::int64_t warmup = 1;         ///< untimed runs before anything is timed
  bool flush_cache = false;        ///< write `flush_bytes` of memory before every repeat
  std::int64_t flush_bytes = 64 << 20;  ///< larger than the last-level cache (64 MiB by default)
  std::int64_t max_number = 1 << 30;    ///< `number` never grows past this

  /// Every count at least 1 (warm-up at least 0), times finite and not negative.
  [[nodiscard]] Expected<void> validate() const {
    auto bad = [](const std::string& what) {
      return unexpected(Error(ErrorKind::invalid_argument, "measure::TimingOptions: " + what));
    };
    if (number < 1 || repeat < 1 || max_number < 1) return bad("number, repeat and max_number must be at least 1");
    if (number > max_number) return bad("number is above max_number");
    if (warmup < 0) return bad("warmup must not be negative");
    if (!(min_repeat_ms >= 0) || !std::isfinite(min_repeat_ms)) return bad("min_repeat_ms must be a finite time, at least 0");
    if (flush_cache && flush_bytes < 1) return bad("flush_bytes must be at least 1 when flushing");
    return {};
  }
};

/// The costs of one measurement and their statistics.
struct Timing {
  std::vector<double> costs_seconds;  ///< mean run time of each repeat
  std::int64_t number = 1;            ///< runs per repeat that were used

  [[nodiscard]] double mean_seconds() const noexcept {
    if (costs_seconds.empty()) return 0;
    return std::accumulate(costs_seconds.begin(), costs_seconds.end(), 0.0) / static_cast<double>(costs_seconds.size());
  }
  [[nodiscard]] double min_seconds() const noexcept {
    return costs_seconds.empty() ? 0 : *std::min_element(costs_seconds.begin(), costs_seconds.end());
  }
  [[nodiscard]] double median_seconds() const {
    if (costs_seconds.empty()) return 0;
    std::vector<double> sorted = costs_seconds;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t n = sorted.size();
    return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  }
  /// Sample standard deviation of the repeats (0 with fewer than two).
  [[nodiscard]] double stdev_seconds() const noexcept {
    const std::size_t n = costs_seconds.size();
    if (n < 2) return 0;
    const double m = mean_seconds();
    double sum = 0;
    for (double c : costs_seconds) sum += (c - m) * (c - m);
    return std::sqrt(sum / static_cast<double>(n - 1));
  }
  /// Coefficient of variation: standard deviation over mean.
  [[nodiscard]] double cv() const noexcept {
    const double m = mean_seconds();
    return m > 0 ? stdev_seconds() / m : 0;
  }
  /// Half the width of the 95% confidence interval of the mean (Student's t), 0 with fewer than two repeats.
  [[nodiscard]] double ci95_half_width_seconds() const noexcept {
    const std::size_t n = costs_seconds.size();
    if (n < 2) return 0;
    return student_t95(n - 1) * stdev_seconds() / std::sqrt(static_cast<double>(n));
  }
  /// True when the two means' 95% intervals overlap: neither is reliably faster.
  [[nodiscard]] bool tied_with(const Timing& other) const noexcept {
    const double a = mean_seconds(), b = other.mean_seconds();
    return std::abs(a - b) <= ci95_half_width_seconds() + other.ci95_half_width_seconds();
  }

  /// The two-sided 95% quantile of Student's t with `dof` degrees of freedom.
  [[nodiscard]] static double student_t95(std::size_t dof) noexcept {
    static constexpr double table[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                       2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                       2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
    if (dof == 0) return 0;
    if (dof <= 30) return table[dof - 1];
    return 1.96 + 2.4 / static_cast<double>(dof);  // within 0.2% of the exact quantile above 30
  }
};

/// Memory written between repeats to evict the caches; reused across calls of one thread.
class CacheFlusher {
 public:
  void flush(std::int64_t bytes) {
    const auto n = static_cast<std::size_t>(bytes) / sizeof(std::uint64_t) + 1;
    if (buffer_.size() < n) buffer_.assign(n, 0);
    volatile std::uint64_t* p = buffer_.data();  // volatile: the writes must happen
    for (std::size_t i = 0; i < n; i += 8) p[i] = p[i] + 1;  // one write per 64-byte line
  }

 private:
  std::vector<std::uint64_t> buffer_;
};

/// Times `run` with `options` (validated by the caller: see TimingOptions::validate). `run` is called
/// warmup + (the first repeat's rounds while `number` grows) + number·(repeat − 1) times.
template <class Run>
Timing time_function(Run&& run, const TimingOptions& options, CacheFlusher* flusher = nullptr) {
  using clock = std::chrono::steady_clock;
  CacheFlusher own;
  CacheFlusher& flush = flusher != nullptr ? *flusher : own;
  for (std::int64_t i = 0; i < options.warmup; ++i) run();
  auto timed = [&](std::int64_t number) {
    const auto start = clock::now();
    for (std::int64_t i = 0; i < number; ++i) run();
    return std::chrono::duration<double>(clock::now() - start).count();
  };
  Timing t;
  t.number = options.number;
  t.costs_seconds.reserve(static_cast<std::size_t>(options.repeat));
  // As TVM's time_evaluator: the first repeat grows `number` until it lasts min_repeat_ms (by the
  // shortfall, with head room, at least 1.618× a round), and its last round is its cost; the other
  // repeats run that `number` once. No run is spent on calibration alone.
  const double target = options.min_repeat_ms * 1e-3;
  for (std::int64_t r = 0; r < options.repeat; ++r) {
    if (options.flush_cache) flush.flush(options.flush_bytes);
    double seconds = timed(t.number);
    while (r == 0 && seconds < target && t.number < options.max_number) {
      const double per_run = seconds / static_cast<double>(t.number);
      const double wanted = per_run > 0 ? target / per_run * 1.1 : static_cast<double>(t.number) * 16;
      const double grown = std::max(wanted, static_cast<double>(t.number) * 1.618);
      // Rounded up and at least one more run: truncating 1 × 1.618 gave 1 again, and a run of more than
      // half the target was then repeated alone until noise carried one past the target.
      const double next = std::max(std::ceil(grown), static_cast<double>(t.number) + 1);
      t.number = static_cast<std::int64_t>(std::min(next, static_cast<double>(options.max_number)));
      if (options.flush_cache) flush.flush(options.flush_bytes);
      seconds = timed(t.number);
    }
    t.costs_seconds.push_back(seconds / static_cast<double>(t.number));
  }
  return t;
}

}  // namespace crosstune::measure
