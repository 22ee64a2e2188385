#include "crosstune/features/feature_batch.hpp"

#include <doctest/doctest.h>

using namespace crosstune;
using namespace crosstune::features;

TEST_CASE("reshape sizes every buffer from the layout and keeps storage when the shape is unchanged") {
  const FeatureLayout layout{"steps", 3, 5, 7, 2, 4};
  FeatureBatch batch;
  batch.reshape(3, layout);
  CHECK(batch.size() == 3);
  CHECK(batch.steps.shape()[0] == 3);
  CHECK(batch.steps.shape()[1] == 7);
  CHECK(batch.steps.shape()[2] == 5);
  CHECK(batch.mask.shape()[1] == 7);
  CHECK(batch.workload.shape()[1] == 2);
  CHECK(batch.hardware.shape()[1] == 4);
  CHECK(batch.truncated.size() == 3);
  const float* storage = batch.steps.data();
  batch.steps(2, 6, 4) = 1.5f;
  batch.reshape(3, layout);
  CHECK(batch.steps.data() == storage);
  CHECK(batch.steps(2, 6, 4) == 1.5f);
}

TEST_CASE("reset zeroes every value, including those written before") {
  const FeatureLayout layout{"steps", 3, 5, 7, 2, 4};
  FeatureBatch batch;
  batch.reshape(2, layout);
  batch.steps.fill(3.0f);
  batch.mask.fill(1.0f);
  batch.workload.fill(2.0f);
  batch.hardware.fill(4.0f);
  batch.lengths = {7, 7};
  batch.truncated = {1, 2};
  batch.reset(2, layout);
  for (float v : batch.steps)
    CHECK(v == 0.0f);
  for (float v : batch.mask)
    CHECK(v == 0.0f);
  for (float v : batch.workload)
    CHECK(v == 0.0f);
  for (float v : batch.hardware)
    CHECK(v == 0.0f);
  CHECK(batch.lengths == std::vector<std::uint32_t>{0, 0});
  CHECK(batch.truncated == std::vector<std::uint32_t>{0, 0});
}

TEST_CASE("check_compatible names the first difference and what to do") {
  const FeatureLayout trained{"steps", 3, 5, 7, 2, 4};
  CHECK(check_compatible(trained, trained));
  auto message = [&](FeatureLayout actual) {
    auto result = check_compatible(trained, actual);
    REQUIRE_FALSE(result);
    CHECK_FALSE(result.error().hint.empty());
    return result.error().message;
  };
  CHECK(message({"flat", 3, 5, 7, 2, 4}).find("extractor \"steps\"") != std::string::npos);
  CHECK(message({"steps", 4, 5, 7, 2, 4}).find("version 3, the extractor produces 4") != std::string::npos);
  CHECK(message({"steps", 3, 6, 7, 2, 4}).find("step dims 5") != std::string::npos);
  CHECK(message({"steps", 3, 5, 9, 2, 4}).find("max steps 7") != std::string::npos);
  CHECK(message({"steps", 3, 5, 7, 2, 0}).find("workload/hardware dims 2/4, the extractor produces 2/0") !=
        std::string::npos);
}

TEST_CASE("check_batch refuses a batch a network would read out of bounds") {
  const FeatureLayout layout{"steps", 3, 5, 7, 2, 4};
  FeatureBatch batch;
  batch.reset(3, layout);
  batch.lengths = {7, 0, 3};
  CHECK(check_batch(layout, batch));
  batch.lengths[1] = 8;  // more steps than the batch holds
  auto too_long = check_batch(layout, batch);
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().message.find("candidate 1 claims 8 steps of 7") != std::string::npos);
  batch.lengths[1] = 2;
  batch.lengths.push_back(1);  // four candidates claimed, three in the tensors
  auto short_tensors = check_batch(layout, batch);
  REQUIRE_FALSE(short_tensors);
  CHECK(short_tensors.error().message.find("do not all hold 4 candidates") != std::string::npos);
  const FeatureLayout no_steps{"steps", 3, 5, 0, 2, 4};
  FeatureBatch empty_steps;
  empty_steps.reset(2, no_steps);
  auto nothing = check_batch(no_steps, empty_steps);
  REQUIRE_FALSE(nothing);
  CHECK(nothing.error().message.find("no step positions") != std::string::npos);
  CHECK_FALSE(check_batch(FeatureLayout{"steps", 3, 5, 6, 2, 4}, batch));  // another layout
}
