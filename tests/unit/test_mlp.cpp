#include "crosstune/model/mlp.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "crosstune/concepts.hpp"
#include "gradient_check.hpp"
#include "model_file_surgery.hpp"
#include "synthetic_ranking.hpp"
#include "test_support.hpp"

using namespace crosstune;
using namespace crosstune::model;

static_assert(CostModel<MlpModel>);

TEST_CASE("every MLP gradient matches central finite differences, with padding") {
  Rng rng(3);
  const auto data = test::make_synthetic(6, 4);  // 2-8 real steps of 8, the rest padding
  PooledMlpNet<double> net({6, 2, 2, 8}, rng);
  Matrix<double> r(1, 6);
  for (Eigen::Index i = 0; i < r.size(); ++i)
    r(0, i) = rng.uniform_real(-1, 1);
  auto loss = [&] { return net.forward(data.batch).cwiseProduct(r).sum(); };
  net.zero_grad();
  (void)loss();
  net.backward(r);
  const std::size_t checked = test::check_parameter_gradients(net.parameters(), loss);
  CHECK(checked == net.parameter_count());
}

TEST_CASE("padded steps do not change the pooled features") {
  auto data = test::make_synthetic(4, 5);
  Rng rng(1);
  PooledMlpNet<double> net({6, 2, 2, 8}, rng);
  const Matrix<double> before = net.forward(data.batch);
  for (std::size_t b = 0; b < 4; ++b)
    for (std::size_t t = data.batch.lengths[b]; t < 8; ++t)
      for (std::size_t k = 0; k < 6; ++k)
        data.batch.steps(b, t, k) = 100.0f;
  CHECK((net.forward(data.batch) - before).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("the MLP learns the synthetic ranking, and saves and loads to the same bytes") {
  const auto train_data = test::make_synthetic(960, 1);
  const auto test_data = test::make_synthetic(160, 2);
  MlpModel model(test::synthetic_layout, 64, 7);
  const LabelledBatch train_set{&train_data.batch, train_data.labels, train_data.tasks};
  const LabelledBatch test_set{&test_data.batch, test_data.labels, test_data.tasks};
  Rng rng(0);
  auto report = model.fit(train_set, &test_set, {.epochs = 25, .patience = 0, .threads = 2}, rng);
  REQUIRE(report);
  const double pca = report->validation_pca[report->best_epoch];
  MESSAGE("MLP held-out PCA " << pca);
  CHECK(pca > 0.8);
  test::TempDir dir;
  REQUIRE(model.save(dir / "mlp.bin"));
  auto loaded = MlpModel::load(dir / "mlp.bin");
  REQUIRE(loaded);
  CHECK(loaded->serialize() == model.serialize());
  std::vector<float> a(160), b(160);
  REQUIRE(model.predict(test_data.batch, a));
  REQUIRE(loaded->predict(test_data.batch, b));
  CHECK(a == b);
}

TEST_CASE("corrupted, truncated and foreign MLP files are refused with a reason") {
  MlpModel model(test::synthetic_layout, 16);
  const std::string bytes = model.serialize();
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x5a;
  auto refused = MlpModel::deserialize(flipped, "m.bin");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("checksum") != std::string::npos);
  CHECK_FALSE(MlpModel::deserialize(bytes.substr(0, 40), "m.bin"));
  BiLstmAttentionConfig c = config_for(test::synthetic_layout);
  c.hidden = 4;
  c.embedding = 4;
  c.layers = 1;
  c.head_hidden = 4;
  Rng rng(0);
  BiLstmAttentionNet<float> other(c, rng);
  auto foreign = MlpModel::deserialize(serialize_model(other, test::synthetic_layout), "bilstm.bin");
  REQUIRE_FALSE(foreign);
  CHECK(foreign.error().message.find("not a crosstune MLP model file") != std::string::npos);
}

namespace {
/// Where the fields of an MLP file of test::synthetic_layout are: 4 architecture fields (step, workload,
/// hardware dims, hidden), the layout named "synthetic".
const test::ModelFileOffsets mlp_offsets{4, 9};

using crosstune::test::contains;

/// The message of the error MlpModel::deserialize gives for `bytes` as "crafted.bin", after checking that
/// the file is refused with an error that names it and says what to do.
std::string mlp_refusal(const std::string& bytes) {
  auto loaded = MlpModel::deserialize(bytes, "crafted.bin");
  REQUIRE_FALSE(loaded);
  const Error& e = loaded.error();
  CHECK(e.file == "crafted.bin");
  CHECK((e.kind == ErrorKind::parse || e.kind == ErrorKind::schema));
  CHECK(contains(e.hint, "retrain"));
  return e.message;
}
}  // namespace

TEST_CASE("an MLP file whose sizes break a bound is refused despite a valid checksum") {
  const std::string good = MlpModel(test::synthetic_layout, 16).serialize();
  const char* const fields[] = {"step_dims", "workload_dims", "hardware_dims", "hidden"};
  const char* const layout_fields[] = {"step dims", "max steps", "workload dims", "hardware dims"};
  for (const std::uint64_t huge : {std::uint64_t{1} << 40, std::uint64_t{1} << 63}) {
    CAPTURE(huge);
    for (std::size_t field = 0; field < 4; ++field) {
      CAPTURE(fields[field]);
      std::string bytes = good;
      test::overwrite(bytes, mlp_offsets.architecture(field), huge);
      CHECK(contains(mlp_refusal(test::with_valid_checksum(bytes)), std::string("architecture field '") +
                                                                        fields[field] + "' is " +
                                                                        std::to_string(huge) + ", outside"));
    }
    for (std::size_t dim = 0; dim < 4; ++dim) {
      CAPTURE(layout_fields[dim]);
      std::string bytes = good;
      test::overwrite(bytes, mlp_offsets.layout_dim(dim), huge);
      CHECK(contains(
          mlp_refusal(test::with_valid_checksum(bytes)),
          std::string("the feature layout's ") + layout_fields[dim] + " is " + std::to_string(huge)));
    }
  }
  std::string name = good;
  test::overwrite<std::uint32_t>(name, mlp_offsets.layout_name_length(), ~std::uint32_t{0});
  CHECK(contains(mlp_refusal(test::with_valid_checksum(name)),
                 "the feature layout's name is 4294967295 bytes long, more than the 256 allowed"));
  for (const std::uint64_t small : {0, 1}) {
    std::string hidden = good;
    test::overwrite(hidden, mlp_offsets.architecture(3), small);
    CHECK(contains(mlp_refusal(test::with_valid_checksum(hidden)),
                   "architecture field 'hidden' is " + std::to_string(small) + ", outside [2, "));
  }
  std::string no_steps = good;
  test::overwrite<std::uint64_t>(no_steps, mlp_offsets.layout_dim(1), 0);
  CHECK(contains(mlp_refusal(test::with_valid_checksum(no_steps)), "the feature layout's max steps is 0"));
  std::string no_step_dims = good;
  test::overwrite<std::uint64_t>(no_step_dims, mlp_offsets.architecture(0), 0);
  CHECK(
      contains(mlp_refusal(test::with_valid_checksum(no_step_dims)), "architecture field 'step_dims' is 0"));
}

TEST_CASE("an MLP file whose architecture reads other features than its layout is refused") {
  const std::string good = MlpModel(test::synthetic_layout, 16).serialize();
  std::string narrower = good;
  test::overwrite<std::uint64_t>(narrower, mlp_offsets.layout_dim(0), 5);
  CHECK(contains(mlp_refusal(test::with_valid_checksum(narrower)),
                 "the architecture reads 6 / 2 / 2 step / workload / hardware features, its feature layout "
                 "\"synthetic\" produces 5 / 2 / 2"));
  // The layout of hardware joined per step (8 step dims, no hardware dims) under the separate architecture.
  std::string joined = good;
  test::overwrite<std::uint64_t>(joined, mlp_offsets.layout_dim(0), 8);
  test::overwrite<std::uint64_t>(joined, mlp_offsets.layout_dim(3), 0);
  CHECK(contains(mlp_refusal(test::with_valid_checksum(joined)),
                 "produces 8 / 2 / 0 (hardware joined per step)"));
  // A model of that layout is fine, and scores its batches.
  const features::FeatureLayout joined_layout{"synthetic", 1, 8, 8, 2, 0};
  MlpModel model(joined_layout, 4);
  auto loaded = MlpModel::deserialize(model.serialize(), "joined.bin");
  REQUIRE(loaded);
  features::FeatureBatch batch;
  batch.reset(2, joined_layout);
  batch.lengths = {1, 3};
  std::vector<float> scores(2);
  CHECK(loaded->predict(batch, scores));
}

TEST_CASE("MLP parameter counts, shapes, weight bytes and values must be the architecture's") {
  const std::string good = MlpModel(test::synthetic_layout, 16).serialize();
  std::string count = good;
  test::overwrite<std::uint64_t>(count, mlp_offsets.parameter_count(), std::uint64_t{1} << 62);
  CHECK(contains(mlp_refusal(test::with_valid_checksum(count)),
                 "parameter count 4611686018427387904 does not match the architecture's 6"));
  // The second layer's [8 x 16] weight stored as [16 x 8].
  std::string transposed = good;
  test::overwrite<std::uint64_t>(transposed, mlp_offsets.parameter(good, 2), 16);
  test::overwrite<std::uint64_t>(transposed, mlp_offsets.parameter(good, 2) + 8, 8);
  CHECK(contains(mlp_refusal(test::with_valid_checksum(transposed)),
                 "shape of parameter 2 ('w') is 16 x 8, the architecture's is 8 x 16"));
  const std::string body = good.substr(0, good.size() - 8), checksum(8, '\0');
  CHECK(contains(mlp_refusal(test::with_valid_checksum(body.substr(0, body.size() - 4) + checksum)),
                 "truncated weights"));
  CHECK(contains(mlp_refusal(test::with_valid_checksum(body + std::string(4, '\0') + checksum)),
                 "unexpected bytes after the weights"));
  std::string wider = good;  // hidden 32: 16 x 32 + 32, 32 x 16 + 16, 16 + 1 weights
  test::overwrite<std::uint64_t>(wider, mlp_offsets.architecture(3), 32);
  CHECK(contains(mlp_refusal(test::with_valid_checksum(wider)),
                 "the architecture has 1089 weights in 6 parameters"));
  std::string nan = good;
  test::overwrite(nan, mlp_offsets.parameter(good, 5) + 16, std::numeric_limits<float>::quiet_NaN());
  CHECK(contains(mlp_refusal(test::with_valid_checksum(nan)),
                 "parameter 5 ('b') holds a non-finite value (NaN or Inf) at index 0"));
}

TEST_CASE("MlpModel::load refuses a folder and a device before reading them") {
  test::TempDir dir;
  auto folder = MlpModel::load(dir.path());
  REQUIRE_FALSE(folder);
  CHECK(folder.error().kind == ErrorKind::io);
  CHECK(contains(folder.error().message, "the model path is a folder"));
  auto device = MlpModel::load("/dev/zero");
  REQUIRE_FALSE(device);
  CHECK(device.error().kind == ErrorKind::io);
  CHECK(device.error().file == "/dev/zero");
  CHECK(contains(device.error().message, "the model path is a device"));
}

TEST_CASE("an MLP width out of range is refused by make(), not quietly changed") {
  for (std::size_t bad : {std::size_t{0}, std::size_t{1}, std::size_t{1} << 20}) {
    CAPTURE(bad);
    auto made = MlpModel::make(test::synthetic_layout, bad);
    REQUIRE_FALSE(made);
    CHECK(made.error().message.find("hidden width is " + std::to_string(bad)) != std::string::npos);
    CHECK_THROWS_AS(MlpModel(test::synthetic_layout, bad), ErrorException);
  }
  auto made = MlpModel::make(test::synthetic_layout, 2);
  REQUIRE(made);
  CHECK(made->network().config().hidden == 2);
}
