// Checks batch-parallel training and prediction against the serial path, and their determinism.
#include "crosstune/model/parallel.hpp"

#include <doctest/doctest.h>

#include "crosstune/model/trainer.hpp"
#include "synthetic_ranking.hpp"

using namespace crosstune;
using namespace crosstune::model;

namespace {
std::vector<Matrix<float>> weights(BiLstmAttentionNet<float>& net) {
  std::vector<Matrix<float>> w;
  for (auto p : net.parameters())
    w.push_back(*p.value);
  return w;
}
float max_difference(const std::vector<Matrix<float>>& a, const std::vector<Matrix<float>>& b) {
  float d = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    d = std::max(d, (a[i] - b[i]).cwiseAbs().maxCoeff());
  return d;
}
// Weights after `steps` training steps on `threads` threads, from the same start.
std::vector<Matrix<float>> trained(std::size_t threads, std::size_t steps) {
  const auto data = test::make_synthetic(16, 7);
  Rng rng(3);
  BiLstmAttentionNet<float> net(test::small_synthetic_config(), rng);
  TrainStep<BiLstmAttentionNet<float>> step(net, {.learning_rate = 1e-2f}, threads);
  for (std::size_t s = 0; s < steps; ++s)
    (void)step.run(data.batch, data.labels, data.tasks);
  return weights(net);
}
}  // namespace

TEST_CASE("a batch-parallel step equals the serial step up to the order of the gradient sums") {
  const auto serial = trained(1, 1), two = trained(2, 1), three = trained(3, 1);
  // Adam moves every weight by about the learning rate (1e-2); the parts sum in another order.
  CHECK(max_difference(serial, two) < 1e-5f);
  CHECK(max_difference(serial, three) < 1e-5f);
  CHECK(max_difference(serial, trained(1, 0)) > 1e-3f);  // and the step did move the weights
}

TEST_CASE("training is deterministic for a thread count") {
  CHECK(trained(2, 4) == trained(2, 4));
  CHECK(trained(3, 4) == trained(3, 4));
}

TEST_CASE("more threads than candidates leaves none idle with an empty part") {
  const auto data = test::make_synthetic(2, 9);
  Rng rng(3);
  BiLstmAttentionNet<float> net(test::small_synthetic_config(), rng);
  TrainStep<BiLstmAttentionNet<float>> step(net, {}, 8);
  CHECK(std::isfinite(step.run(data.batch, data.labels, data.tasks)));
}

TEST_CASE("parallel prediction equals serial prediction, over uneven chunks") {
  const auto data = test::make_synthetic(100, 11);
  Rng rng(5);
  BiLstmAttentionNet<float> net(test::small_synthetic_config(), rng);
  std::vector<float> serial(100), parallel(100);
  predict(net, data.batch, serial);
  Predictor<BiLstmAttentionNet<float>> predictor(3, 7);  // 15 chunks, the last of 2 candidates
  predictor.predict(net, data.batch, parallel);
  for (std::size_t i = 0; i < serial.size(); ++i)
    CHECK(parallel[i] == doctest::Approx(serial[i]).epsilon(1e-5));
}

TEST_CASE("prediction follows the network's new weights") {
  const auto data = test::make_synthetic(64, 12);
  Rng rng(5);
  BiLstmAttentionNet<float> net(test::small_synthetic_config(), rng);
  Predictor<BiLstmAttentionNet<float>> predictor(2, 8);
  std::vector<float> before(64), after(64), serial(64);
  predictor.predict(net, data.batch, before);
  TrainStep<BiLstmAttentionNet<float>> step(net, {.learning_rate = 1e-2f}, 1);
  (void)step.run(data.batch, data.labels, data.tasks);
  predictor.predict(net, data.batch, after);
  predict(net, data.batch, serial);
  CHECK(before != after);
  for (std::size_t i = 0; i < serial.size(); ++i)
    CHECK(after[i] == doctest::Approx(serial[i]).epsilon(1e-5));
}
