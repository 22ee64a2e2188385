#include "crosstune/model/bilstm_attention.hpp"

#include <doctest/doctest.h>

#include "gradient_check.hpp"

#include <algorithm>
#include <cmath>
#include <string>

using namespace crosstune;
using namespace crosstune::model;

namespace {
features::FeatureBatch random_batch(std::vector<std::uint32_t> lengths, std::size_t S, std::size_t D,
                                    std::size_t W, std::size_t H, Rng& rng) {
  features::FeatureBatch batch;
  batch.reshape(lengths.size(), {"test", 1, D, S, W, H});
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    batch.lengths[b] = lengths[b];
    for (std::size_t s = 0; s < S; ++s) {
      batch.mask(b, s) = s < lengths[b] ? 1.0f : 0.0f;
      for (std::size_t k = 0; k < D; ++k)
        batch.steps(b, s, k) = s < lengths[b] ? static_cast<float>(rng.uniform01()) : 0.0f;
    }
    for (std::size_t k = 0; k < W; ++k)
      batch.workload(b, k) = static_cast<float>(rng.uniform01());
    for (std::size_t k = 0; k < H; ++k)
      batch.hardware(b, k) = static_cast<float>(rng.uniform01());
  }
  return batch;
}

BiLstmAttentionConfig small_config() {
  BiLstmAttentionConfig c;
  c.step_dims = 5;
  c.workload_dims = 3;
  c.hardware_dims = 2;
  c.embedding = 4;
  c.hidden = 3;
  c.layers = 2;
  c.heads = 2;
  c.head_hidden = 4;
  return c;
}

}  // namespace

TEST_CASE("every parameter's gradient of the whole network matches central finite differences") {
  Rng rng(21);
  BiLstmAttentionNet<double> net(small_config(), rng);
  const auto batch = random_batch({4, 2, 3}, 5, 5, 3, 2, rng);
  Matrix<double> r(1, 3);
  r << 0.7, -1.3, 0.4;
  auto loss = [&] { return net.forward(batch).cwiseProduct(r).sum(); };
  net.zero_grad();
  (void)loss();
  net.backward(r);
  const std::size_t checked = test::check_parameter_gradients(net.parameters(), loss);
  CHECK(checked == net.parameter_count());
  MESSAGE(checked << " parameters checked");
  const auto blocks = net.parameter_blocks();
  REQUIRE(blocks.size() == net.parameters().size());
  CHECK(blocks.front() == Block::embedding);
  CHECK(blocks.back() == Block::head);
  CHECK(std::is_sorted(blocks.begin(), blocks.end()));
}

TEST_CASE("padded steps do not change the scores; a candidate scores the same alone or in a batch") {
  Rng rng(4);
  BiLstmAttentionNet<float> net(small_config(), rng);
  auto batch = random_batch({5, 2, 3}, 6, 5, 3, 2, rng);
  const Matrix<float> before = net.forward(batch);
  for (std::size_t s = 2; s < 6; ++s)
    for (std::size_t k = 0; k < 5; ++k)
      batch.steps(1, s, k) = 123.0f;  // garbage in candidate 1's padding
  const Matrix<float> after = net.forward(batch);
  CHECK((before - after).cwiseAbs().maxCoeff() == 0.0f);
  features::FeatureBatch alone;
  alone.reshape(1, {"test", 1, 5, 6, 3, 2});
  for (std::size_t s = 0; s < 6; ++s)
    for (std::size_t k = 0; k < 5; ++k)
      alone.steps(0, s, k) = batch.steps(2, s, k);
  for (std::size_t k = 0; k < 3; ++k)
    alone.workload(0, k) = batch.workload(2, k);
  for (std::size_t k = 0; k < 2; ++k)
    alone.hardware(0, k) = batch.hardware(2, k);
  alone.lengths[0] = 3;
  CHECK(net.forward(alone)(0, 0) == doctest::Approx(before(0, 2)).epsilon(1e-5));
}

TEST_CASE("an invalid configuration is refused") {
  auto c = small_config();
  c.heads = 4;  // 2 * 3 = 6 is not divisible by 4
  CHECK_FALSE(c.validate());
  Rng rng(0);
  CHECK_THROWS_AS(BiLstmAttentionNet<float>(c, rng), ErrorException);
  BiLstmAttentionConfig defaults;
  defaults.step_dims = 44;
  CHECK(defaults.validate());
}

TEST_CASE("the inference pass scores exactly as the training pass") {
  Rng rng(31);
  BiLstmAttentionNet<double> net(small_config(), rng);
  const auto batch = random_batch({6, 1, 3, 6, 2}, 6, 5, 3, 2, rng);
  const Matrix<double> training = net.forward(batch);
  const Matrix<double> inference = net.score(batch, 0, batch.size());
  CHECK((training - inference).cwiseAbs().maxCoeff() < 1e-12);
  const Matrix<double> tail = net.score(batch, 3, 2);
  CHECK((training.middleCols(3, 2) - tail).cwiseAbs().maxCoeff() < 1e-12);
}
