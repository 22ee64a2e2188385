// crosstune/measure/verify.hpp — comparing a kernel's output with a reference, with a message that says
// where and by how much it is off.
//
//   if (auto wrong = measure::check_close(got, want, {.rtol = 1e-4})) fail(*wrong);
//   // "element 1234 is 0.5 where 0.25 is expected (error 0.25, tolerance 1e-4·max(1, |0.25|)); 17 elements off"
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <span>
#include <string>

namespace crosstune::measure {

struct Tolerance {
  double rtol = 1e-4;  ///< |got − want| ≤ rtol · max(1, |want|) + atol
  double atol = 0;
};

/// nullopt when every element of `got` is within the tolerance of `want` (NaN never is); otherwise a
/// message naming the worst element, its values and error, and how many elements are off.
[[nodiscard]] inline std::optional<std::string> check_close(std::span<const float> got, std::span<const float> want,
                                                            Tolerance tolerance = {}) {
  if (got.size() != want.size())
    return "the output holds " + std::to_string(got.size()) + " elements, the reference " + std::to_string(want.size());
  std::size_t off = 0, worst = 0;
  double worst_excess = -1;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double w = want[i], g = got[i];
    const double allowed = tolerance.rtol * std::max(1.0, std::abs(w)) + tolerance.atol;
    const double error = std::abs(g - w);
    if (error <= allowed) continue;  // false for NaN
    ++off;
    const double excess = std::isnan(error) ? INFINITY : error / std::max(allowed, 1e-300);
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  if (off == 0) return std::nullopt;
  char text[256];
  std::snprintf(text, sizeof text, "element %zu is %.9g where %.9g is expected (error %.3g); %zu of %zu elements are off",
                worst, static_cast<double>(got[worst]), static_cast<double>(want[worst]),
                std::abs(static_cast<double>(got[worst]) - want[worst]), off, got.size());
  return std::string(text);
}

}  // namespace crosstune::measure
