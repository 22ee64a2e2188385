#include "crosstune/model/trainer.hpp"

#include <doctest/doctest.h>

using namespace crosstune;
using namespace crosstune::model;

namespace {
// A synthetic ranking problem: candidates of 4 tasks, 2-8 steps of 6 random features; the label is a
// fixed nonlinear function of the steps (features 0 and 1 of every step and their interaction), scaled
// into (0, 1] per task, as normalised throughput is.
struct Synthetic {
  features::FeatureBatch batch;
  std::vector<float> labels;
  std::vector<std::uint32_t> tasks;
};
Synthetic make(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  Synthetic s;
  const std::size_t S = 8, D = 6, W = 2, H = 2;
  s.batch.reshape(n, {"synthetic", 1, D, S, W, H});
  std::vector<double> raw(n);
  for (std::size_t b = 0; b < n; ++b) {
    const auto len = static_cast<std::uint32_t>(rng.uniform_int(2, 8));
    s.batch.lengths[b] = len;
    double value = 0;
    for (std::size_t t = 0; t < S; ++t) {
      s.batch.mask(b, t) = t < len ? 1.0f : 0.0f;
      for (std::size_t k = 0; k < D; ++k)
        s.batch.steps(b, t, k) = t < len ? static_cast<float>(rng.uniform01()) : 0.0f;
      if (t < len) value += s.batch.steps(b, t, 0) - 0.5 * s.batch.steps(b, t, 1) * s.batch.steps(b, t, 2);
    }
    raw[b] = value / len;
    s.tasks.push_back(static_cast<std::uint32_t>(b % 4));
    for (std::size_t k = 0; k < W; ++k)
      s.batch.workload(b, k) = static_cast<float>(s.tasks.back()) / 4.0f;
    for (std::size_t k = 0; k < H; ++k)
      s.batch.hardware(b, k) = 0.5f;
  }
  // Per task: label = exp(raw - max raw), in (0, 1].
  for (std::uint32_t t = 0; t < 4; ++t) {
    double top = -1e9;
    for (std::size_t b = 0; b < n; ++b)
      if (s.tasks[b] == t) top = std::max(top, raw[b]);
    for (std::size_t b = 0; b < n; ++b)
      if (s.tasks[b] == t) raw[b] = std::exp(2.0 * (raw[b] - top));
  }
  for (double r : raw)
    s.labels.push_back(static_cast<float>(r));
  return s;
}
BiLstmAttentionConfig small() {
  BiLstmAttentionConfig c;
  c.step_dims = 6;
  c.workload_dims = 2;
  c.hardware_dims = 2;
  c.embedding = 16;
  c.hidden = 16;
  c.layers = 1;
  c.heads = 2;
  c.head_hidden = 16;
  return c;
}
}  // namespace

TEST_CASE("training on a small synthetic ranking problem reaches PCA > 0.95 on held-out candidates") {
  const auto train_data = make(960, 1);
  const auto test_data = make(160, 2);
  Rng rng(7);
  BiLstmAttentionNet<float> net(small(), rng);
  const LabelledBatch train_set{&train_data.batch, train_data.labels, train_data.tasks};
  const LabelledBatch test_set{&test_data.batch, test_data.labels, test_data.tasks};
  const double before = *evaluate_pca(net, test_set);
  TrainOptions options;
  options.epochs = 40;
  options.patience = 10;
  options.learning_rate = 3e-3f;
  auto report = train(net, train_set, &test_set, options, rng);
  REQUIRE(report);
  const double after = *evaluate_pca(net, test_set);
  MESSAGE("held-out PCA " << before << " -> " << after << " (best epoch " << report->best_epoch << ", losses "
                          << report->train_loss.front() << " -> " << report->train_loss.back() << ")");
  CHECK(after > 0.95);
  CHECK(report->train_loss.back() < report->train_loss.front());
}

TEST_CASE("training is deterministic for a seed") {
  const auto data = make(96, 3);
  const LabelledBatch set{&data.batch, data.labels, data.tasks};
  TrainOptions options;
  options.epochs = 2;
  std::vector<float> a(96), b(96);
  for (auto* out : {&a, &b}) {
    Rng rng(11);
    BiLstmAttentionNet<float> net(small(), rng);
    REQUIRE(train(net, set, nullptr, options, rng));
    predict(net, data.batch, *out);
  }
  CHECK(a == b);
}

TEST_CASE("bad training input is refused") {
  const auto data = make(8, 4);
  Rng rng(0);
  BiLstmAttentionNet<float> net(small(), rng);
  const std::vector<float> short_labels(3, 1.0f);
  const LabelledBatch bad{&data.batch, short_labels, data.tasks};
  CHECK_FALSE(train(net, bad, nullptr, {}, rng));
}
