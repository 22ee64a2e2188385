// crosstune/concepts.hpp — every policy concept of crosstune, in one place.
//
// A tuning loop is put together from policies chosen at compile time: hardware descriptors, feature
// extractors, samplers, a cost model, a measurer and a search policy. Each is a C++20 concept below, with
// a page in docs/policies/ showing the smallest type that satisfies it. Functions taking a policy check it
// with a static_assert whose message says what is missing, instead of a template backtrace.
//
// The concept of the search layer (SearchPolicy) is added with that layer.
#pragma once

#include <concepts>
#include <filesystem>
#include <span>
#include <string_view>

#include "crosstune/core/record.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/data/samplers.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/hw/hardware_params.hpp"
#include "crosstune/measure/measurement.hpp"
#include "crosstune/model/trainer.hpp"

namespace crosstune {

/// A description of one device: its parameters, a name and its kind. `params()` must be usable in
/// constant expressions when the descriptor is (presets are constexpr values). hw::HardwareParams is the
/// canonical model; an embedder's own type (with extra fields, or computed parameters) satisfies it with
/// three member functions. See docs/policies/hardware-descriptor.md.
template <class H>
concept HardwareDescriptor = requires(const H& h) {
  { h.params() } -> std::convertible_to<hw::HardwareParams>;
  { h.params().name } -> std::convertible_to<std::string_view>;
  { h.params().kind } -> std::convertible_to<hw::DeviceKind>;
};

/// Checks a HardwareDescriptor with a readable message; use in functions taking any descriptor.
template <class H>
constexpr bool require_hardware_descriptor() {
  static_assert(HardwareDescriptor<H>,
                "crosstune: this type is not a HardwareDescriptor: it needs a const member function params() "
                "returning crosstune::hw::HardwareParams (see docs/policies/hardware-descriptor.md)");
  return HardwareDescriptor<H>;
}

/// The HardwareParams of any descriptor.
template <class H>
[[nodiscard]] constexpr hw::HardwareParams hardware_params_of(const H& descriptor) {
  static_assert(require_hardware_descriptor<H>());
  return descriptor.params();
}

/// Turns records into model input: `layout()` names what it produces (name, version, dimensions) and
/// `extract(records, hardware, batch)` fills a features::FeatureBatch for records measured on `hardware`.
/// Step-sequence features (features::StepSequenceExtractor) and, with crosstune's IR, loop-statistics
/// features plug in the same way. See docs/policies/feature-extractor.md.
template <class F>
concept FeatureExtractor = requires(F& f, const F& cf, std::span<const Record> records,
                                    const hw::HardwareParams& hardware, features::FeatureBatch& batch) {
  { cf.layout() } -> std::convertible_to<features::FeatureLayout>;
  { f.extract(records, hardware, batch) } -> std::same_as<Expected<void>>;
};

/// Checks a FeatureExtractor with a readable message.
template <class F>
constexpr bool require_feature_extractor() {
  static_assert(
      FeatureExtractor<F>,
      "crosstune: this type is not a FeatureExtractor: it needs layout() -> features::FeatureLayout and "
      "extract(std::span<const Record>, const hw::HardwareParams&, features::FeatureBatch&) -> "
      "Expected<void> "
      "(see docs/policies/feature-extractor.md)");
  return FeatureExtractor<F>;
}

/// Runs any extractor (checked with a readable message).
template <class F>
[[nodiscard]] Expected<void> extract_features(F& extractor, std::span<const Record> records,
                                              const hw::HardwareParams& hardware,
                                              features::FeatureBatch& batch) {
  static_assert(require_feature_extractor<F>());
  return extractor.extract(records, hardware, batch);
}

/// Scores candidates from their features (higher = faster), learns from labelled candidates, and keeps
/// its weights in a file: `layout()`, `predict(batch, scores)`, `fit(train, validation, options, rng)`,
/// `save(path)`. model::BiLstmAttentionModel satisfies it; baselines (MLP, XGBoost) will too. See
/// docs/policies/cost-model.md.
template <class M>
concept CostModel = requires(M& m, const M& cm, const features::FeatureBatch& batch, std::span<float> scores,
                             const model::LabelledBatch& data, const model::TrainOptions& options, Rng& rng,
                             const std::filesystem::path& path) {
  { cm.layout() } -> std::convertible_to<features::FeatureLayout>;
  { m.predict(batch, scores) } -> std::same_as<Expected<void>>;
  { m.fit(data, &data, options, rng) } -> std::same_as<Expected<model::TrainReport>>;
  { m.save(path) } -> std::same_as<Expected<void>>;
};

/// Checks a CostModel with a readable message.
template <class M>
constexpr bool require_cost_model() {
  static_assert(
      CostModel<M>,
      "crosstune: this type is not a CostModel: it needs layout(), predict(FeatureBatch, span<float>) -> "
      "Expected<void>, fit(LabelledBatch, const LabelledBatch*, TrainOptions, Rng&) -> Expected<TrainReport> "
      "and save(path) -> Expected<void> (see docs/policies/cost-model.md)");
  return CostModel<M>;
}

/// Chooses the records of a Dataset to train on: `select(dataset, rng)` returns a data::Selection
/// (records sorted by task and record, and the kept fraction). Randomness only through the Rng, so a
/// seed gives the same selection. See docs/policies/sampler.md.
template <class S>
concept Sampler = requires(const S& s, const data::Dataset& ds, Rng& rng) {
  { s.select(ds, rng) } -> std::convertible_to<data::Selection>;
};

/// Checks a Sampler with a readable message.
template <class S>
constexpr bool require_sampler() {
  static_assert(
      Sampler<S>,
      "crosstune: this type is not a Sampler: it needs a const member function "
      "select(const crosstune::data::Dataset&, crosstune::Rng&) returning crosstune::data::Selection "
      "(see docs/policies/sampler.md)");
  return Sampler<S>;
}

/// Runs any sampler (checked with a readable message).
template <class S>
[[nodiscard]] data::Selection sample_records(const S& sampler, const data::Dataset& ds, Rng& rng) {
  static_assert(require_sampler<S>());
  return sampler.select(ds, rng);
}

/// Measures candidate kernels on a device: `set_task(task)` prepares what they run on (buffers, inputs,
/// the reference outputs) and `measure(candidates)` builds, checks and times each one, returning a
/// measure::BatchResult with one Measurement per candidate judged (its record with result and
/// provenance, the repeats, the failure message) and, when it stopped early, why.
/// measure::LocalMeasurer (CPU kernels) satisfies it; an embedder's own (a remote device, a simulator,
/// a cache of earlier results) plugs into the Tuner the same way. See docs/policies/measurer.md.
template <class M>
concept Measurer = requires(M& m, const measure::MeasureTask& task, std::span<const measure::Candidate> candidates) {
  { m.set_task(task) } -> std::same_as<Expected<void>>;
  { m.measure(candidates) } -> std::convertible_to<measure::BatchResult>;
};

/// Checks a Measurer with a readable message.
template <class M>
constexpr bool require_measurer() {
  static_assert(Measurer<M>,
                "crosstune: this type is not a Measurer: it needs set_task(const measure::MeasureTask&) -> Expected<void> "
                "and measure(std::span<const measure::Candidate>) -> measure::BatchResult (see docs/policies/measurer.md)");
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
