// crosstune/measure/measurer.hpp — the Measurer concept: what the Tuner needs of whatever measures its
// candidates.
//
// `set_task(task)` prepares what the candidates run on (buffers, inputs, the reference outputs) and
// `measure(candidates)` builds, checks and times each one, returning a measure::BatchResult with one
// Measurement per candidate judged (its record with result and provenance, the repeats, the failure
// message) and, when it stopped early, why. measure::LocalMeasurer (CPU kernels) satisfies it; an
// embedder's own (a remote device, a simulator, a cache of earlier results) plugs into the Tuner the same
// way. Two optional members are used when present: `measure(candidates, on_result)` reports each
// measurement as it is judged, and `set_stop_flag(const std::atomic<bool>*)` lets the Tuner stop a batch
// at its deadline. See docs/policies/measurer.md.
#pragma once

#include <concepts>
#include <span>

#include "crosstune/core/expected.hpp"
#include "crosstune/measure/measurement.hpp"

namespace crosstune {

template <class M>
concept Measurer = requires(M& m, const measure::MeasureTask& task, std::span<const measure::Candidate> candidates) {
  { m.set_task(task) } -> std::same_as<Expected<void>>;
  { m.measure(candidates) } -> std::convertible_to<measure::BatchResult>;
};

/// Checks a Measurer with one readable message per missing member.
template <class M>
constexpr bool require_measurer() {
  static_assert(requires(M& m, const measure::MeasureTask& task) {
    { m.set_task(task) } -> std::same_as<Expected<void>>;
  }, "crosstune: this type is not a Measurer: it needs set_task(const measure::MeasureTask&) -> Expected<void> "
     "(see docs/policies/measurer.md)");
  static_assert(requires(M& m, std::span<const measure::Candidate> candidates) {
    { m.measure(candidates) } -> std::convertible_to<measure::BatchResult>;
  }, "crosstune: this type is not a Measurer: it needs measure(std::span<const measure::Candidate>) -> "
     "measure::BatchResult (see docs/policies/measurer.md)");
  return Measurer<M>;
}

/// Measures `candidates` with any measurer (checked with a readable message) after setting its task.
template <class M>
[[nodiscard]] Expected<measure::BatchResult> measure_candidates(M& measurer, const measure::MeasureTask& task,
                                                                std::span<const measure::Candidate> candidates) {
  static_assert(require_measurer<M>());
  if (auto ok = measurer.set_task(task); !ok) return unexpected(std::move(ok).error());
  return measurer.measure(candidates);
}

}  // namespace crosstune
