#include "crosstune/model/cost_model.hpp"

#include <doctest/doctest.h>

#include "crosstune/concepts.hpp"
#include "synthetic_ranking.hpp"
#include "test_support.hpp"

using namespace crosstune;
using namespace crosstune::model;

static_assert(CostModel<BiLstmAttentionModel>);
static_assert(!CostModel<BiLstmAttentionNet<float>>);

namespace {
const features::FeatureLayout& layout = test::synthetic_layout;
using test::make_synthetic;
}  // namespace

TEST_CASE("fit, predict, save and load through the CostModel interface") {
  const auto data = make_synthetic(64, 1);
  BiLstmAttentionModel model(layout, test::small_synthetic_config(), 3);
  const LabelledBatch set{&data.batch, data.labels, data.tasks};
  Rng rng(0);
  REQUIRE(model.fit(set, &set, {.epochs = 2}, rng));
  std::vector<float> scores(64), again(64);
  REQUIRE(model.predict(data.batch, scores));
  test::TempDir dir;
  REQUIRE(model.save(dir / "m.bin"));
  auto loaded = BiLstmAttentionModel::load(dir / "m.bin");
  REQUIRE(loaded);
  CHECK(loaded->layout() == layout);
  REQUIRE(loaded->predict(data.batch, again));
  CHECK(scores == again);
  std::vector<float> too_few(3);
  CHECK_FALSE(model.predict(data.batch, too_few));
}

TEST_CASE("fine-tuning leaves frozen blocks unchanged and trains the others") {
  const auto data = make_synthetic(48, 2);
  BiLstmAttentionModel model(layout, test::small_synthetic_config(), 5);
  std::vector<Matrix<float>> before;
  for (auto p : model.network().parameters())
    before.push_back(*p.value);
  Rng rng(1);
  const LabelledBatch set{&data.batch, data.labels, data.tasks};
  REQUIRE(model.fine_tune(set, nullptr, {.epochs = 1}, {Block::embedding, Block::lstm}, rng));
  const auto mask = model.frozen_mask({Block::embedding, Block::lstm});
  const auto params = model.network().parameters();
  REQUIRE(mask.size() == params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    CAPTURE(i);
    if (mask[i]) {
      CHECK(*params[i].value == before[i]);
    } else {
      CHECK(*params[i].value != before[i]);
    }
  }
}

TEST_CASE("features of another layout are refused") {
  BiLstmAttentionModel model(layout, test::small_synthetic_config());
  features::FeatureBatch other;
  other.reshape(2, {"synthetic", 1, 6, 16, 2, 2});  // 16 steps, not 8
  std::vector<float> scores(2);
  auto refused = model.predict(other, scores);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("max steps 8") != std::string::npos);
}

TEST_CASE("sizes out of range are refused by make() and throw from the constructor") {
  struct Case {
    const char* what;
    BiLstmAttentionConfig sizes;
  };
  auto sized = [](auto edit) {
    BiLstmAttentionConfig c;
    c.hidden = 8;
    c.layers = 1;
    c.heads = 2;
    c.embedding = 8;
    c.head_hidden = 8;
    edit(c);
    return c;
  };
  const Case cases[] = {
      {"'hidden' is 0", sized([](auto& c) { c.hidden = 0; })},
      {"'hidden' is 1000000", sized([](auto& c) { c.hidden = 1000000; })},
      {"'layers' is 65", sized([](auto& c) { c.layers = 65; })},
      {"'embedding' is 0", sized([](auto& c) { c.embedding = 0; })},
      {"must be divisible by heads", sized([](auto& c) { c.heads = 3; })},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto made = BiLstmAttentionModel::make(layout, c.sizes);
    REQUIRE_FALSE(made);
    CHECK(made.error().message.find(c.what) != std::string::npos);
    CHECK_THROWS_AS(BiLstmAttentionModel(layout, c.sizes), ErrorException);
  }
  features::FeatureLayout no_steps = layout;
  no_steps.max_steps = 0;
  CHECK_FALSE(BiLstmAttentionModel::make(no_steps, sized([](auto&) {})));
  auto good = BiLstmAttentionModel::make(layout, sized([](auto&) {}), 3);
  REQUIRE(good);
  CHECK(good->network().config().hidden == 8);
  CHECK(good->layout() == layout);
}
