#include "crosstune/model/xgboost.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "crosstune/concepts.hpp"
#include "crosstune/model/mlp.hpp"
#include "synthetic_ranking.hpp"
#include "test_support.hpp"

using namespace crosstune;
using namespace crosstune::model;

static_assert(CostModel<XgbModel>);

namespace {
struct Split {
  test::Synthetic train = test::make_synthetic(960, 1);
  test::Synthetic test = test::make_synthetic(160, 2);
  LabelledBatch train_set{&train.batch, train.labels, train.tasks};
  LabelledBatch test_set{&test.batch, test.labels, test.tasks};
};
}  // namespace

TEST_CASE("the XGBoost baseline learns the synthetic ranking as a regressor and as a ranker") {
  const Split data;
  for (const Loss loss : {Loss::mse, Loss::rank}) {
    XgbModel model(test::synthetic_layout, {.max_depth = 4, .rounds_per_epoch = 5});
    Rng rng(0);
    auto report = model.fit(data.train_set, &data.test_set,
                            {.epochs = 12, .loss = loss, .patience = 0, .threads = 2}, rng);
    REQUIRE(report);
    REQUIRE(report->validation_pca.size() == 12);
    REQUIRE(report->train_loss.size() == 12);
    const double pca = report->validation_pca[report->best_epoch];
    MESSAGE("XGBoost (" << std::string(loss == Loss::mse ? "regression" : "pairwise") << ") held-out PCA "
                        << pca);
    CHECK(pca > 0.8);
    CHECK(report->train_loss.back() < report->train_loss.front());  // RMSE, or 1 - NDCG, falls
    // The kept ensemble is the best epoch's, and predict() reproduces its validation PCA.
    CHECK(model.rounds() == (report->best_epoch + 1) * 5);
    std::vector<float> scores(data.test.batch.size());
    REQUIRE(model.predict(data.test.batch, scores));
    CHECK(*task_pca(scores, data.test.labels, data.test.tasks) == doctest::Approx(pca).epsilon(1e-12));
  }
}

TEST_CASE("XGBoost training is deterministic, and a saved model loads to the same bytes and scores") {
  const Split data;
  auto fit = [&] {
    XgbModel model(test::synthetic_layout, {.max_depth = 4, .rounds_per_epoch = 4});
    Rng rng(5);
    REQUIRE(model.fit(data.train_set, nullptr, {.epochs = 3, .threads = 2}, rng));
    return model;
  };
  XgbModel model = fit();
  CHECK(model.rounds() == 12);
  CHECK(fit().serialize() == model.serialize());
  test::TempDir dir;
  REQUIRE(model.save(dir / "xgb.bin"));
  auto loaded = XgbModel::load(dir / "xgb.bin");
  REQUIRE(loaded);
  CHECK(loaded->serialize() == model.serialize());
  CHECK(loaded->rounds() == 12);
  std::vector<float> a(data.test.batch.size()), b(data.test.batch.size());
  REQUIRE(model.predict(data.test.batch, a));
  REQUIRE(loaded->predict(data.test.batch, b));
  CHECK(a == b);
  REQUIRE(loaded->set_threads(1));
  REQUIRE(loaded->predict(data.test.batch, b));
  CHECK(a == b);
}

TEST_CASE("fit on a trained XGBoost model adds trees (fine-tuning)") {
  const Split data;
  XgbModel model(test::synthetic_layout, {.max_depth = 3, .rounds_per_epoch = 2});
  Rng rng(1);
  REQUIRE(model.fit(data.train_set, nullptr, {.epochs = 2, .threads = 1}, rng));
  std::vector<float> before(data.test.batch.size()), after(data.test.batch.size());
  REQUIRE(model.predict(data.test.batch, before));
  REQUIRE(model.fit(data.test_set, nullptr, {.epochs = 3, .threads = 1}, rng));
  CHECK(model.rounds() == 4 + 6);
  REQUIRE(model.predict(data.test.batch, after));
  CHECK(before != after);
}

TEST_CASE("XGBoost refuses untrained prediction, foreign layouts and mismatched sizes with a reason") {
  const Split data;
  XgbModel model(test::synthetic_layout);
  std::vector<float> scores(data.test.batch.size());
  auto untrained = model.predict(data.test.batch, scores);
  REQUIRE_FALSE(untrained);
  CHECK(untrained.error().message.find("not trained") != std::string::npos);
  features::FeatureLayout other = test::synthetic_layout;
  other.step_dims = 5;
  XgbModel foreign(other);
  Rng rng(0);
  CHECK_FALSE(foreign.fit(data.train_set, nullptr, {.epochs = 1}, rng));
  REQUIRE(model.fit(data.train_set, nullptr, {.epochs = 1, .threads = 1}, rng));
  std::vector<float> too_few(3);
  auto short_scores = model.predict(data.test.batch, too_few);
  REQUIRE_FALSE(short_scores);
  CHECK(short_scores.error().message.find("score slots") != std::string::npos);
  const std::vector<float> no_labels;
  const LabelledBatch unlabelled{&data.train.batch, no_labels, data.train.tasks};
  CHECK_FALSE(model.fit(unlabelled, nullptr, {.epochs = 1}, rng));
}

TEST_CASE("corrupted, truncated and foreign XGBoost files are refused with a reason") {
  const Split data;
  XgbModel model(test::synthetic_layout, {.max_depth = 3, .rounds_per_epoch = 2});
  Rng rng(0);
  REQUIRE(model.fit(data.train_set, nullptr, {.epochs = 1, .threads = 1}, rng));
  const std::string bytes = model.serialize();
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x5a;
  auto refused = XgbModel::deserialize(flipped, "x.bin");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("checksum") != std::string::npos);
  CHECK_FALSE(XgbModel::deserialize(bytes.substr(0, bytes.size() / 2), "x.bin"));
  MlpModel mlp(test::synthetic_layout, 8);
  auto foreign = XgbModel::deserialize(mlp.serialize(), "mlp.bin");
  REQUIRE_FALSE(foreign);
  CHECK(foreign.error().message.find("not a crosstune XGBoost model file") != std::string::npos);
}
