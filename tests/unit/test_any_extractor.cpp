// AnyExtractor: each name gives its extractor's layout and batches, a model's layout gives back the
// extractor that made it, and unknown names or mismatched layouts are refused with a reason.
#include "crosstune/features/any_extractor.hpp"

#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "crosstune/hw/presets.hpp"
#include "crosstune/io/log_reader.hpp"
#include "test_support.hpp"

using namespace crosstune;

namespace {

std::vector<Record> sample_records(std::size_t count) {
  auto reader = io::LogReader::open(test::sample_logs() / "k80" / "ansor_conv2d_128_128_28_28_128_3_3_1_1.json.gz");
  REQUIRE(reader);
  std::vector<Record> records;
  Record record;
  while (records.size() < count) {
    auto more = reader->next(record);
    REQUIRE(more);
    if (!*more) break;
    records.push_back(record);
  }
  return records;
}

void check_same(const features::FeatureBatch& a, const features::FeatureBatch& b) {
  REQUIRE(a.steps.shape() == b.steps.shape());
  CHECK(a.steps == b.steps);
  CHECK(a.mask == b.mask);
  CHECK(a.workload == b.workload);
  CHECK(a.hardware == b.hardware);
  CHECK(a.lengths == b.lengths);
}

}  // namespace

TEST_CASE("each name gives its extractor: the same layout and the same batch") {
  const auto records = sample_records(24);
  REQUIRE(records.size() == 24);
  features::FeatureBatch got, expected;

  auto steps = features::AnyExtractor::named("steps", 32);
  REQUIRE(steps);
  features::StepSequenceExtractor step_extractor({.max_steps = 32});
  CHECK(steps->layout() == step_extractor.layout());
  REQUIRE(steps->extract(records, hw::presets::k80, got));
  REQUIRE(step_extractor.extract(records, hw::presets::k80, expected));
  check_same(got, expected);
  CHECK(steps->unreplayed() == 0);

  auto loops = features::AnyExtractor::named("loops", 6);
  REQUIRE(loops);
  features::LoopFeatureExtractor loop_extractor({.max_stores = 6});
  CHECK(loops->layout() == loop_extractor.layout());
  CHECK(loops->layout().name == "loops");
  REQUIRE(loops->extract(records, hw::presets::k80, got));
  REQUIRE(loop_extractor.extract(records, hw::presets::k80, expected));
  check_same(got, expected);

  auto joined = features::AnyExtractor::named("steps+loops");
  REQUIRE(joined);
  features::LoopFeatureExtractor joined_extractor({.with_steps = true});
  CHECK(joined->layout() == joined_extractor.layout());
  // Mixed hardware: one descriptor per record.
  std::vector<hw::HardwareParams> hardware(records.size(), hw::presets::v100);
  hardware[0] = hw::presets::k80;
  REQUIRE(joined->extract(records, hardware, got));
  REQUIRE(joined_extractor.extract(records, hardware, expected));
  check_same(got, expected);
  CHECK(joined->unreplayed() == 0);
}

TEST_CASE("steps+launch: the steps extractor's batch with the launch columns after the workload vector") {
  const auto records = sample_records(24);
  auto launch = features::AnyExtractor::named("steps+launch", 32);
  REQUIRE(launch);
  const auto layout = launch->layout();
  CHECK(layout.name == "steps+launch");
  CHECK(layout.workload_dims == features::workload_dims + features::launch_dims);
  CHECK(layout.version == features::StepSequenceExtractor::version * 10 + features::launch_features_version);
  features::FeatureBatch got, plain;
  std::vector<hw::HardwareParams> hardware(records.size(), hw::presets::v100);
  hardware[1] = hw::presets::k80;
  REQUIRE(launch->extract(records, hardware, got));
  features::StepSequenceExtractor steps({.max_steps = 32});
  REQUIRE(steps.extract(records, hardware, plain));
  CHECK(got.steps == plain.steps);
  CHECK(got.hardware == plain.hardware);
  const std::size_t W = layout.workload_dims;
  for (std::size_t i = 0; i < records.size(); ++i) {
    CAPTURE(i);
    for (std::size_t d = 0; d < features::workload_dims; ++d)
      CHECK(got.workload(i, d) == plain.workload(i, d));
    std::array<float, features::launch_dims> row{};
    features::launch_features(records[i].steps, hardware[i], row);
    for (std::size_t d = 0; d < features::launch_dims; ++d)
      CHECK(got.workload.data()[i * W + features::workload_dims + d] == row[d]);
    CHECK(row[features::launch_column::gpu] == 1.0f);
  }
  // The K80 record's device columns differ from the same schedule's on the V100.
  std::array<float, features::launch_dims> k80{}, v100{};
  features::launch_features(records[1].steps, hw::presets::k80, k80);
  features::launch_features(records[1].steps, hw::presets::v100, v100);
  CHECK(k80[features::launch_column::blocks_per_unit] > v100[features::launch_column::blocks_per_unit]);
}

TEST_CASE("a model's layout gives back the extractor that produced it") {
  for (auto name : features::extractor_names) {
    CAPTURE(name);
    auto made = features::AnyExtractor::named(name, 16);
    REQUIRE(made);
    auto again = features::AnyExtractor::for_layout(made->layout());
    REQUIRE(again);
    CHECK(again->layout() == made->layout());
  }
}

TEST_CASE("unknown names and layouts of another version are refused with a reason") {
  auto unknown = features::AnyExtractor::named("pixels");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("pixels") != std::string::npos);
  CHECK(unknown.error().hint.find("steps+loops") != std::string::npos);
  CHECK_FALSE(features::AnyExtractor::named("steps", 0));

  auto layout = features::AnyExtractor::named("steps+loops").value().layout();
  layout.version -= 100;  // a model trained on the previous loop-feature columns
  auto old = features::AnyExtractor::for_layout(layout);
  REQUIRE_FALSE(old);
  CHECK(old.error().message.find("version") != std::string::npos);

  features::FeatureLayout foreign{"pixels", 1, 8, 8, 8, 8};
  auto none = features::AnyExtractor::for_layout(foreign);
  REQUIRE_FALSE(none);
  CHECK(none.error().message.find("pixels") != std::string::npos);
}
