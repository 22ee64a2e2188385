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

#include "crosstune/features/any_extractor.hpp"
#include "crosstune/features/loop_features.hpp"
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
static_assert(crosstune::FeatureExtractor<crosstune::features::LoopFeatureExtractor>);
static_assert(crosstune::FeatureExtractor<crosstune::features::AnyExtractor>);
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

// --- descriptors reach extractors that take them -------------------------------------------------------

namespace {
// A user's descriptor with a field HardwareParams does not have, and an extractor that reads it.
struct BoardWithBandwidth {
  double dram_gbps = 0;
  [[nodiscard]] crosstune::hw::HardwareParams params() const { return crosstune::hw::presets::v100; }
};
struct BandwidthFeature {
  crosstune::features::FeatureLayout layout() const { return {"bandwidth", 1, 1, 1, 0, 0}; }
  crosstune::Expected<void> extract(std::span<const crosstune::Record> records, const BoardWithBandwidth& board,
                                    crosstune::features::FeatureBatch& batch) {
    batch.reshape(records.size(), layout());
    for (std::size_t i = 0; i < records.size(); ++i) {
      batch.steps(i, 0, 0) = static_cast<float>(board.dram_gbps);
      batch.mask(i, 0) = 1.0f;
      batch.lengths[i] = 1;
    }
    return {};
  }
};
}  // namespace

static_assert(crosstune::FeatureExtractorFor<BandwidthFeature, BoardWithBandwidth>);
static_assert(!crosstune::FeatureExtractorFor<BandwidthFeature, crosstune::hw::HardwareParams>);  // needs the board
static_assert(!crosstune::FeatureExtractor<BandwidthFeature>);  // it takes no HardwareParams
static_assert(crosstune::FeatureExtractorFor<StepCount, BoardWithBandwidth>);  // through the board's params()
static_assert(crosstune::FeatureExtractorFor<crosstune::features::StepSequenceExtractor, MyBoard>);
static_assert(crosstune::MixedHardwareFeatureExtractor<crosstune::features::StepSequenceExtractor>);
static_assert(crosstune::MixedHardwareFeatureExtractor<crosstune::features::AnyExtractor>);
static_assert(!crosstune::MixedHardwareFeatureExtractor<StepCount>);

TEST_CASE("extract_features hands an extractor the descriptor itself when it takes its type") {
  BandwidthFeature extractor;
  crosstune::features::FeatureBatch batch;
  std::vector<crosstune::Record> records(1);
  REQUIRE(crosstune::extract_features(extractor, records, BoardWithBandwidth{900.0}, batch));
  CHECK(batch.steps(0, 0, 0) == 900.0f);
  StepCount counter;  // takes HardwareParams: gets the board's params()
  REQUIRE(crosstune::extract_features(counter, records, BoardWithBandwidth{900.0}, batch));
  CHECK(batch.steps(0, 0, 0) == 0.0f);
}

// --- cost models and their networks --------------------------------------------------------------------

#include "crosstune/model/cost_model.hpp"
#include "crosstune/model/mlp.hpp"

namespace {
struct FitWithOwnOptions {  // a model with options of its own type
  struct Options {
    int trees = 10;
  };
  using train_options = Options;
  crosstune::features::FeatureLayout layout() const { return {}; }
  crosstune::Expected<void> predict(const crosstune::features::FeatureBatch&, std::span<float>) { return {}; }
  crosstune::Expected<crosstune::model::TrainReport> fit(const crosstune::model::LabelledBatch&, const crosstune::model::LabelledBatch*,
                                                         const Options&, crosstune::Rng&) {
    return crosstune::model::TrainReport{};
  }
  crosstune::Expected<void> save(const std::filesystem::path&) { return {}; }
};
struct FitWithOtherOptions : FitWithOwnOptions {  // declares one options type, takes another
  using train_options = crosstune::model::TrainOptions;
};
}  // namespace

static_assert(crosstune::CostModel<crosstune::model::BiLstmAttentionModel>);
static_assert(crosstune::CostModel<crosstune::model::MlpModel>);
static_assert(crosstune::CostModel<FitWithOwnOptions>);
static_assert(!crosstune::CostModel<FitWithOtherOptions>);
static_assert(crosstune::model::Network<crosstune::model::BiLstmAttentionNet<float>>);
static_assert(crosstune::model::Network<crosstune::model::BiLstmAttentionNet<double>>);
static_assert(crosstune::model::Network<crosstune::model::PooledMlpNet<float>>);
static_assert(!crosstune::model::Network<crosstune::model::MlpModel>);  // a model, not a network
static_assert(!crosstune::model::Network<int>);

// --- search policies -----------------------------------------------------------------------------------

#include "crosstune/search/evolutionary_search.hpp"
#include "crosstune/search/simulated_annealing.hpp"

namespace {
// The smallest policy (docs/policies/search-policy.md): the first sketch's candidates in knob order.
struct FirstUnmeasured {
  std::vector<crosstune::schedule::CpuCandidate> ask(const crosstune::search::SearchContext& context, std::size_t n, crosstune::Rng& rng) {
    std::vector<crosstune::schedule::CpuCandidate> out;
    for (std::size_t tries = 0; out.size() < n && tries < 64 * n; ++tries) {
      auto c = context.space->sample(rng);
      if (!context.is_measured(c) && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(std::move(c));
    }
    return out;
  }
  void tell(const crosstune::search::SearchContext&, std::span<const crosstune::schedule::CpuCandidate>, std::span<const double>) {}
};
struct AskWithoutRng {
  std::vector<crosstune::schedule::CpuCandidate> ask(const crosstune::search::SearchContext&, std::size_t) { return {}; }
  void tell(const crosstune::search::SearchContext&, std::span<const crosstune::schedule::CpuCandidate>, std::span<const double>) {}
};
struct NotCopyable : FirstUnmeasured {
  NotCopyable() = default;
  NotCopyable(const NotCopyable&) = delete;
};
}  // namespace

static_assert(crosstune::search::SearchPolicy<crosstune::search::RandomSearch>);
static_assert(crosstune::search::SearchPolicy<crosstune::search::EvolutionarySearch>);
static_assert(crosstune::search::SearchPolicy<crosstune::search::SimulatedAnnealing>);
static_assert(crosstune::search::SearchPolicy<FirstUnmeasured>);
static_assert(!crosstune::search::SearchPolicy<AskWithoutRng>);
static_assert(!crosstune::search::SearchPolicy<NotCopyable>);
static_assert(!crosstune::search::SearchPolicy<int>);
