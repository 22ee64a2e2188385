#include "crosstune/model/one_of.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "crosstune/concepts.hpp"
#include "crosstune/model/cost_model.hpp"
#include "crosstune/model/mlp.hpp"
#include "synthetic_ranking.hpp"
#include "test_support.hpp"

using namespace crosstune;
using namespace crosstune::model;

using Either = OneOf<BiLstmAttentionModel, MlpModel>;
static_assert(CostModel<Either>);
static_assert(std::same_as<Either::train_options, TrainOptions>);
// Kinds with other train options, or a type that is not a model, do not make a OneOf.
struct OtherOptions {};
struct OtherModel {
  using train_options = OtherOptions;
  features::FeatureLayout layout() const { return {}; }
  Expected<void> predict(const features::FeatureBatch&, std::span<float>) { return {}; }
  Expected<TrainReport> fit(const LabelledBatch&, const LabelledBatch*, const OtherOptions&, Rng&) { return TrainReport{}; }
  Expected<void> save(const std::filesystem::path&) const { return {}; }
};
static_assert(CostModel<OtherModel>);
template <class... M>
concept one_of_allowed = requires { typename OneOf<M...>; sizeof(OneOf<M...>); };
static_assert(!one_of_allowed<MlpModel, OtherModel>);
static_assert(!one_of_allowed<MlpModel, int>);

TEST_CASE("OneOf forwards prediction, training and saving to the model it holds") {
  const auto train_data = test::make_synthetic(320, 1);
  const auto test_data = test::make_synthetic(80, 2);
  const LabelledBatch train_set{&train_data.batch, train_data.labels, train_data.tasks};
  const TrainOptions options{.epochs = 3, .patience = 0, .threads = 1};

  MlpModel alone(test::synthetic_layout, 32, 5);
  Either held = MlpModel(test::synthetic_layout, 32, 5);
  CHECK(held.index() == 1);
  REQUIRE(held.get_if<MlpModel>() != nullptr);
  CHECK(held.get_if<BiLstmAttentionModel>() == nullptr);
  CHECK(held.layout() == alone.layout());

  Rng a(9), b(9);
  auto fitted_alone = alone.fit(train_set, nullptr, options, a);
  auto fitted_held = held.fit(train_set, nullptr, options, b);
  REQUIRE(fitted_alone);
  REQUIRE(fitted_held);
  CHECK(fitted_held->train_loss == fitted_alone->train_loss);

  std::vector<float> x(80), y(80);
  REQUIRE(alone.predict(test_data.batch, x));
  REQUIRE(held.predict(test_data.batch, y));
  CHECK(x == y);

  test::TempDir dir;
  REQUIRE(held.save(dir / "held.bin"));
  auto loaded = MlpModel::load(dir / "held.bin");
  REQUIRE(loaded);
  CHECK(loaded->serialize() == alone.serialize());
}

TEST_CASE("OneOf holding the BiLSTM scores as the BiLSTM does") {
  const auto data = test::make_synthetic(40, 3);
  BiLstmAttentionModel alone(test::synthetic_layout, {}, 4);
  Either held = BiLstmAttentionModel(test::synthetic_layout, {}, 4);
  CHECK(held.index() == 0);
  std::vector<float> x(40), y(40);
  REQUIRE(alone.predict(data.batch, x));
  REQUIRE(held.predict(data.batch, y));
  CHECK(x == y);
}
