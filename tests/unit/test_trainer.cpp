#include "crosstune/model/trainer.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <vector>

#include "synthetic_ranking.hpp"

using namespace crosstune;
using namespace crosstune::model;

namespace {
using test::make_synthetic;
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
  const auto train_data = make_synthetic(960, 1);
  const auto test_data = make_synthetic(160, 2);
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
  const auto data = make_synthetic(96, 3);
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
  const auto data = make_synthetic(8, 4);
  Rng rng(0);
  BiLstmAttentionNet<float> net(small(), rng);
  const std::vector<float> short_labels(3, 1.0f);
  const LabelledBatch bad{&data.batch, short_labels, data.tasks};
  CHECK_FALSE(train(net, bad, nullptr, {}, rng));
  const LabelledBatch good{&data.batch, data.labels, data.tasks};
  TrainOptions rising;
  rising.schedule = LrSchedule::cosine;
  rising.final_lr_ratio = 2.0f;
  auto refused = train(net, good, nullptr, rising, rng);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("final_lr_ratio") != std::string::npos);
}

TEST_CASE("the cosine schedule falls from the learning rate to its final share, half a period") {
  const float lr = 1e-3f;
  CHECK(scheduled_learning_rate(LrSchedule::constant, lr, 0.05f, 70, 100) == lr);
  CHECK(scheduled_learning_rate(LrSchedule::cosine, lr, 0.05f, 0, 100) == doctest::Approx(lr));
  CHECK(scheduled_learning_rate(LrSchedule::cosine, lr, 0.05f, 99, 100) == doctest::Approx(0.05 * lr));
  // Half-way, cos(pi/2) = 0: the mean of the two ends.
  CHECK(scheduled_learning_rate(LrSchedule::cosine, lr, 0.0f, 50, 101) == doctest::Approx(0.5 * lr));
  float previous = lr;
  for (std::size_t done = 1; done < 100; ++done) {
    const float now = scheduled_learning_rate(LrSchedule::cosine, lr, 0.05f, done, 100);
    CHECK(now <= previous);
    previous = now;
  }
}

TEST_CASE("a cosine schedule changes the trained weights, and training with it still learns") {
  const auto data = make_synthetic(192, 3);
  const LabelledBatch set{&data.batch, data.labels, data.tasks};
  std::vector<float> constant(192), cosine(192);
  for (auto schedule : {LrSchedule::constant, LrSchedule::cosine}) {
    Rng rng(11);
    BiLstmAttentionNet<float> net(small(), rng);
    TrainOptions options;
    options.epochs = 3;
    options.schedule = schedule;
    auto report = train(net, set, nullptr, options, rng);
    REQUIRE(report);
    CHECK(report->train_loss.back() < report->train_loss.front());
    predict(net, data.batch, schedule == LrSchedule::cosine ? cosine : constant);
  }
  CHECK(constant != cosine);
}

TEST_CASE("task_pca groups candidates by task in any order, and refuses mismatched sizes") {
  // Two tasks interleaved: task 0 ranked right (3 pairs), task 1 ranked wrong on 1 of 1 pair.
  const std::vector<float> scores{0.1f, 5.0f, 0.2f, 4.0f, 0.3f};
  const std::vector<float> labels{1.0f, 1.0f, 2.0f, 2.0f, 3.0f};
  const std::vector<std::uint32_t> tasks{0, 1, 0, 1, 0};
  auto pca = task_pca(scores, labels, tasks);
  REQUIRE(pca);
  CHECK(*pca == doctest::Approx((3 * 1.0 + 2 * 0.0) / 5));
  CHECK_FALSE(task_pca(scores, labels, std::vector<std::uint32_t>{0, 1}));
}

TEST_CASE("options out of range are refused before training, each naming its field") {
  const auto data = make_synthetic(8, 5);
  const LabelledBatch good{&data.batch, data.labels, data.tasks};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  struct Case {
    const char* field;
    TrainOptions options;
  };
  std::vector<Case> cases;
  auto add = [&](const char* field, auto edit) {
    TrainOptions o;
    edit(o);
    cases.push_back({field, o});
  };
  add("epochs", [](TrainOptions& o) { o.epochs = 0; });
  add("batch_size", [](TrainOptions& o) { o.batch_size = 0; });
  add("learning_rate", [](TrainOptions& o) { o.learning_rate = -1.0f; });
  add("learning_rate", [](TrainOptions& o) { o.learning_rate = 0.0f; });
  add("learning_rate", [&](TrainOptions& o) { o.learning_rate = nan; });
  add("weight_decay", [](TrainOptions& o) { o.weight_decay = -0.1f; });
  add("clip_norm", [&](TrainOptions& o) { o.clip_norm = nan; });
  add("rank_weight", [](TrainOptions& o) { o.rank_weight = -1.0f; });
  for (const auto& c : cases) {
    CAPTURE(c.field);
    auto refused = validate(c.options);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.find(c.field) != std::string::npos);
    Rng rng(0);
    BiLstmAttentionNet<float> net(small(), rng);
    const auto before = *net.parameters().front().value;
    CHECK_FALSE(train(net, good, nullptr, c.options, rng));
    CHECK(*net.parameters().front().value == before);  // refused before any step
  }
  CHECK(validate(TrainOptions{}));
}

TEST_CASE("a run whose loss stops being a number is an error, not a model") {
  const auto data = make_synthetic(64, 6);
  const LabelledBatch set{&data.batch, data.labels, data.tasks};
  Rng rng(0);
  BiLstmAttentionNet<float> net(small(), rng);
  TrainOptions options;
  options.epochs = 3;
  options.learning_rate = 1e30f;  // finite, but every step overflows the weights
  options.clip_norm = 0.0f;
  std::vector<Matrix<float>> before;
  for (auto p : net.parameters())
    before.push_back(*p.value);
  auto report = train(net, set, nullptr, options, rng);
  REQUIRE_FALSE(report);
  CHECK(report.error().message.find("training diverged") != std::string::npos);
  CHECK(report.error().message.find("back to its weights before the run") != std::string::npos);
  CHECK(report.error().hint.find("lower the learning rate") != std::string::npos);
  std::size_t i = 0;
  for (auto p : net.parameters())
    CHECK(*p.value == before[i++]);  // the caller still holds a usable network
}
