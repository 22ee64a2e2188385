#include "crosstune/model/mlp.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "crosstune/concepts.hpp"
#include "gradient_check.hpp"
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
