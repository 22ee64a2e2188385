// Every shipped policy satisfies its concept; near misses do not.
#include "crosstune/concepts.hpp"

#include <doctest/doctest.h>

#include "crosstune/hw/presets.hpp"

namespace {
// The smallest embedder-defined descriptor (docs/policies/hardware-descriptor.md).
struct MyBoard {
  [[nodiscard]] constexpr crosstune::hw::HardwareParams params() const {
    auto p = crosstune::hw::presets::a100;
    p.name = "my-board";
    p.clock_ghz = 1.2;
    return p;
  }
};
struct NoParams {
  int name;
};
struct WrongParams {
  int params() const { return 0; }
};
}  // namespace

static_assert(crosstune::HardwareDescriptor<crosstune::hw::HardwareParams>);
static_assert(crosstune::HardwareDescriptor<decltype(crosstune::hw::presets::v100)>);
static_assert(crosstune::HardwareDescriptor<MyBoard>);
static_assert(!crosstune::HardwareDescriptor<NoParams>);
static_assert(!crosstune::HardwareDescriptor<WrongParams>);
static_assert(!crosstune::HardwareDescriptor<int>);

TEST_CASE("descriptors are read through the concept, at compile time too") {
  constexpr auto board = crosstune::hardware_params_of(MyBoard{});
  static_assert(board.clock_ghz == 1.2);
  CHECK(board.name == "my-board");
  CHECK(crosstune::hardware_params_of(crosstune::hw::presets::k80).compute_capability == 37);
}

namespace {
struct KeepFirstRecord {  // the smallest Sampler (docs/policies/sampler.md)
  crosstune::data::Selection select(const crosstune::data::Dataset& ds, crosstune::Rng&) const {
    crosstune::data::Selection s;
    for (std::size_t t = 0; t < ds.tasks().size(); ++t)
      s.records.push_back({t, 0});
    s.kept_fraction =
        ds.records() ? static_cast<double>(s.records.size()) / static_cast<double>(ds.records()) : 0.0;
    return s;
  }
};
struct SelectWithoutRng {
  crosstune::data::Selection select(const crosstune::data::Dataset&) const { return {}; }
};
}  // namespace

static_assert(crosstune::Sampler<crosstune::data::UniformSampler>);
static_assert(crosstune::Sampler<crosstune::data::FlopsWeightedSampler>);
static_assert(crosstune::Sampler<crosstune::data::HardwareAwareSampler>);
static_assert(crosstune::Sampler<KeepFirstRecord>);
static_assert(!crosstune::Sampler<SelectWithoutRng>);
static_assert(!crosstune::Sampler<int>);

#include "crosstune/features/step_sequence_extractor.hpp"

namespace {
// The smallest FeatureExtractor: one feature per candidate, its number of steps
// (docs/policies/feature-extractor.md).
struct StepCount {
  crosstune::features::FeatureLayout layout() const { return {"step-count", 1, 1, 1, 0, 0}; }
  crosstune::Expected<void> extract(std::span<const crosstune::Record> records,
                                    const crosstune::hw::HardwareParams&,
                                    crosstune::features::FeatureBatch& batch) {
    batch.reshape(records.size(), layout());
    for (std::size_t i = 0; i < records.size(); ++i) {
      batch.steps(i, 0, 0) = static_cast<float>(records[i].steps.size());
      batch.mask(i, 0) = 1.0f;
      batch.lengths[i] = 1;
    }
    return {};
  }
};
struct ExtractWithoutHardware {
  crosstune::features::FeatureLayout layout() const { return {}; }
  crosstune::Expected<void> extract(std::span<const crosstune::Record>, crosstune::features::FeatureBatch&) {
    return {};
  }
};
}  // namespace

static_assert(crosstune::FeatureExtractor<crosstune::features::StepSequenceExtractor>);
static_assert(crosstune::FeatureExtractor<StepCount>);
static_assert(!crosstune::FeatureExtractor<ExtractWithoutHardware>);
static_assert(!crosstune::FeatureExtractor<crosstune::data::UniformSampler>);

TEST_CASE("extractors run through the concept") {
  StepCount extractor;
  crosstune::features::FeatureBatch batch;
  std::vector<crosstune::Record> records(2);
  records[1].steps.add_compute_inline(1);
  REQUIRE(crosstune::extract_features(extractor, records, crosstune::hw::presets::v100, batch));
  CHECK(batch.steps(1, 0, 0) == 1.0f);
}

#include "crosstune/measure/callable_measurer.hpp"
#include "crosstune/measure/local_measurer.hpp"

namespace {
// The smallest embedder-defined measurer (docs/policies/measurer.md): it "measures" every candidate
// as taking as long as its kernel body is long.
struct SourceLengthMeasurer {
  crosstune::Expected<void> set_task(const crosstune::measure::MeasureTask& task) {
    buffers = task.signature.buffers.size();
    return {};
  }
  crosstune::measure::BatchResult measure(std::span<const crosstune::measure::Candidate> candidates) {
    crosstune::measure::BatchResult batch;
    for (const auto& c : candidates) {
      crosstune::measure::Measurement m;
      m.record = c.record;
      m.record.result.costs_seconds = {1e-9 * static_cast<double>(c.kernel.body.size() + buffers)};
      batch.measurements.push_back(std::move(m));
    }
    return batch;
  }
  std::size_t buffers = 0;
};
struct MeasureWithoutTask {
  crosstune::measure::BatchResult measure(std::span<const crosstune::measure::Candidate>) { return {}; }
};
struct MeasureReturningCosts {
  crosstune::Expected<void> set_task(const crosstune::measure::MeasureTask&) { return {}; }
  std::vector<double> measure(std::span<const crosstune::measure::Candidate>) { return {}; }
};
}  // namespace

static_assert(crosstune::Measurer<crosstune::measure::LocalMeasurer>);
static_assert(crosstune::Measurer<SourceLengthMeasurer>);
static_assert(!crosstune::Measurer<MeasureWithoutTask>);
static_assert(!crosstune::Measurer<MeasureReturningCosts>);
static_assert(!crosstune::Measurer<crosstune::measure::CallableMeasurer>);
static_assert(!crosstune::Measurer<int>);

TEST_CASE("measurers run through the concept") {
  SourceLengthMeasurer measurer;
  crosstune::measure::MeasureTask task;
  task.signature.buffers = {{"A", 4}, {"B", 4, true}};
  std::vector<crosstune::measure::Candidate> candidates(2);
  candidates[0].kernel.body = "abc";
  candidates[1].kernel.body = "abcdef";
  auto batch = crosstune::measure_candidates(measurer, task, candidates);
  REQUIRE(batch.has_value());
  REQUIRE(batch->measurements.size() == 2);
  CHECK(batch->measurements[0].record.result.costs_seconds[0] == doctest::Approx(5e-9));
  CHECK(batch->measurements[1].record.result.costs_seconds[0] == doctest::Approx(8e-9));
  CHECK_FALSE(batch->stopped());
}
