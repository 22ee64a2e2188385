#include "crosstune/features/step_sequence_extractor.hpp"

#include <doctest/doctest.h>

#include <cstring>

#include "crosstune/hw/presets.hpp"
#include "crosstune/io/log_reader.hpp"
#include "test_support.hpp"

using namespace crosstune;
using namespace crosstune::features;

namespace {
std::vector<Record> sample_records() {
  std::vector<Record> all;
  for (const auto& f : test::log_files_under(test::sample_logs())) {
    auto r = io::read_log_file(f);
    REQUIRE(r);
    all.insert(all.end(), r->begin(), r->end());
  }
  return all;
}
}  // namespace

TEST_CASE("every record of the sample extracts; shapes, mask and padding are right") {
  const auto records = sample_records();
  StepSequenceExtractor extractor({.max_steps = 64});
  FeatureBatch batch;
  REQUIRE(extractor.extract(records, hw::presets::v100, batch));
  const auto layout = extractor.layout();
  CHECK(layout.step_dims == step_dims);
  CHECK(layout.hardware_dims == hw::HardwareParams::feature_count);
  REQUIRE(batch.size() == records.size());
  CHECK(batch.steps.shape()[0] == records.size());
  CHECK(batch.steps.shape()[1] == 64);
  CHECK(batch.steps.shape()[2] == step_dims);
  for (std::size_t i = 0; i < records.size(); i += 97) {
    const std::size_t n = records[i].steps.size();
    CHECK(batch.lengths[i] == std::min<std::size_t>(n, 64));
    for (std::size_t s = 0; s < 64; ++s) {
      CHECK(batch.mask(i, s) == (s < n ? 1.0f : 0.0f));
      if (s >= n) CHECK(batch.steps(i, s, 0) + batch.steps(i, s, step_column::stage_id) == 0.0f);
    }
    CHECK(batch.hardware(i, 1) == 1.0f);  // is_gpu
  }
}

TEST_CASE("long sequences are truncated to max_steps and the drop is counted") {
  const auto records = sample_records();
  std::size_t longest = 0;
  for (const auto& r : records)
    longest = std::max(longest, r.steps.size());
  REQUIRE(longest > 8);
  StepSequenceExtractor extractor({.max_steps = 8});
  FeatureBatch batch;
  REQUIRE(extractor.extract(records, hw::presets::k80, batch));
  for (std::size_t i = 0; i < records.size(); ++i) {
    const std::size_t n = records[i].steps.size();
    CHECK(batch.lengths[i] == std::min<std::size_t>(n, 8));
    CHECK(batch.truncated[i] == (n > 8 ? n - 8 : 0));
  }
  // The kept steps are the first ones, encoded as in the full sequence (positions relative to its length).
  StepSequenceExtractor full({.max_steps = 128});
  FeatureBatch all;
  REQUIRE(full.extract(records, hw::presets::k80, all));
  for (std::size_t s = 0; s < 8; ++s)
    for (std::size_t c = 0; c < step_dims; ++c)
      CHECK(batch.steps(0, s, c) == all.steps(0, s, c));
}

TEST_CASE("the parallel result equals the serial result bit for bit") {
  const auto records = sample_records();
  StepSequenceExtractor parallel({.max_steps = 64, .parallel = true});
  StepSequenceExtractor serial({.max_steps = 64, .parallel = false});
  FeatureBatch a, b;
  REQUIRE(parallel.extract(records, hw::presets::v100, a));
  REQUIRE(serial.extract(records, hw::presets::v100, b));
  CHECK(std::memcmp(a.steps.data(), b.steps.data(), a.steps.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.mask.data(), b.mask.data(), a.mask.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.workload.data(), b.workload.data(), a.workload.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.hardware.data(), b.hardware.data(), a.hardware.size() * sizeof(float)) == 0);
}

TEST_CASE("buffers are reused for batches of the same shape") {
  const auto records = sample_records();
  const std::span<const Record> first(records.data(), 512), second(records.data() + 512, 512);
  StepSequenceExtractor extractor;
  FeatureBatch batch;
  REQUIRE(extractor.extract(first, hw::presets::v100, batch));
  const float* steps = batch.steps.data();
  REQUIRE(extractor.extract(second, hw::presets::v100, batch));
  CHECK(batch.steps.data() == steps);
}

TEST_CASE("hardware joined per step appends the hardware vector to every real step") {
  const auto records = sample_records();
  const std::span<const Record> some(records.data(), 50);
  StepSequenceExtractor joined({.max_steps = 32, .hardware_join = HardwareJoin::per_step});
  FeatureBatch batch;
  REQUIRE(joined.extract(some, hw::presets::a100, batch));
  const auto layout = joined.layout();
  CHECK(layout.step_dims == step_dims + hw::HardwareParams::feature_count);
  CHECK(layout.hardware_dims == 0);
  const auto hw_features = hw::presets::a100.to_features();
  for (std::size_t k = 0; k < hw_features.size(); ++k)
    CHECK(batch.steps(0, 0, step_dims + k) == hw_features[k]);
  const std::size_t n = batch.lengths[0];
  if (n < 32) CHECK(batch.steps(0, n, step_dims) == 0.0f);  // padding stays zero
  // Mixed hardware: one descriptor per record.
  std::vector<hw::HardwareParams> per_record(some.size(), hw::presets::k80);
  per_record[1] = hw::presets::h100;
  StepSequenceExtractor separate;
  REQUIRE(separate.extract(some, per_record, batch));
  CHECK(batch.hardware(1, 18) == doctest::Approx(0.9f));
  CHECK(batch.hardware(0, 18) == doctest::Approx(0.37f));
  CHECK_FALSE(separate.extract(some, std::span<const hw::HardwareParams>(per_record.data(), 3), batch));
}

TEST_CASE("a model trained on one layout refuses another") {
  const auto trained = StepSequenceExtractor({.max_steps = 64}).layout();
  CHECK(check_compatible(trained, StepSequenceExtractor({.max_steps = 64}).layout()));
  auto other_steps = check_compatible(trained, StepSequenceExtractor({.max_steps = 32}).layout());
  REQUIRE_FALSE(other_steps);
  CHECK(other_steps.error().message.find("max steps 64") != std::string::npos);
  FeatureLayout old = trained;
  old.version = trained.version - 1;
  auto old_version = check_compatible(old, trained);
  REQUIRE_FALSE(old_version);
  CHECK(old_version.error().message.find("version") != std::string::npos);
  CHECK_FALSE(
      check_compatible(trained, StepSequenceExtractor({.hardware_join = HardwareJoin::per_step}).layout()));
  Record no_task;
  StepSequenceExtractor extractor;
  FeatureBatch batch;
  CHECK_FALSE(extractor.extract(std::span<const Record>(&no_task, 1), hw::presets::v100, batch));
  CHECK_FALSE(
      StepSequenceExtractor({.max_steps = 0}).extract(std::span<const Record>(), hw::presets::v100, batch));
}

TEST_CASE("the extractor for a stored layout reproduces it, and an impossible layout is refused") {
  for (const auto join : {HardwareJoin::separate, HardwareJoin::per_step}) {
    const auto stored = StepSequenceExtractor({.max_steps = 40, .hardware_join = join}).layout();
    auto extractor = StepSequenceExtractor::for_layout(stored);
    REQUIRE(extractor);
    CHECK(extractor->layout() == stored);
  }
  FeatureLayout foreign = StepSequenceExtractor().layout();
  foreign.step_dims = 7;
  CHECK_FALSE(StepSequenceExtractor::for_layout(foreign));
}

TEST_CASE("max_steps outside [1, max_steps_limit] is refused by make(), extract() and for_layout()") {
  for (std::size_t bad : {std::size_t{0}, max_steps_limit + 1, std::size_t{1} << 40}) {
    CAPTURE(bad);
    auto made = StepSequenceExtractor::make({.max_steps = bad});
    REQUIRE_FALSE(made);
    CHECK(made.error().message.find("max_steps is " + std::to_string(bad)) != std::string::npos);
    StepSequenceExtractor direct({.max_steps = bad});
    FeatureBatch batch;
    const std::vector<Record> none;
    CHECK_FALSE(direct.extract(none, hw::presets::v100, batch));
    FeatureLayout layout = StepSequenceExtractor().layout();
    layout.max_steps = bad;
    CHECK_FALSE(StepSequenceExtractor::for_layout(layout));
  }
  REQUIRE(StepSequenceExtractor::make({.max_steps = max_steps_limit}));
  CHECK(StepSequenceExtractor::make({.max_steps = 1})->layout().max_steps == 1);
}
