#include "crosstune/metrics/ranking.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

using namespace crosstune::metrics;

TEST_CASE("pairwise comparison accuracy counts the pairs ordered as the labels, by hand") {
  // Pairs (0,1) (0,2) (1,2): labels 3>2, 3>1, 2>1; predictions 0.9>0.1 ok, 0.9>0.5 ok, 0.1<0.5 wrong.
  const std::vector<float> p{0.9f, 0.1f, 0.5f}, l{3, 2, 1};
  CHECK(*pairwise_comparison_accuracy(p, l) == doctest::Approx(2.0 / 3.0));
  const std::vector<float> perfect{3, 2, 1};
  CHECK(*pairwise_comparison_accuracy(perfect, l) == 1.0);
  const std::vector<float> reversed{1, 2, 3};
  CHECK(*pairwise_comparison_accuracy(reversed, l) == 0.0);
}

TEST_CASE("PCA compares signs: a pair is right when the prediction ties exactly where the labels tie") {
  // Labels tie on (0,1): right only when the predictions tie too.
  const std::vector<float> l{1, 1}, equal{0.5f, 0.5f}, up{0.2f, 0.8f}, down{0.8f, 0.2f};
  CHECK(*pairwise_comparison_accuracy(equal, l) == 1.0);
  CHECK(*pairwise_comparison_accuracy(up, l) == 0.0);
  CHECK(*pairwise_comparison_accuracy(down, l) == 0.0);
  // Predictions tie where the labels do not: wrong, in either order.
  const std::vector<float> tied{0.5f, 0.5f}, l_up{1, 2}, l_down{2, 1};
  CHECK(*pairwise_comparison_accuracy(tied, l_up) == 0.0);
  CHECK(*pairwise_comparison_accuracy(tied, l_down) == 0.0);
}

TEST_CASE("PCA does not depend on the order of the records, ties included") {
  // Tree models score many candidates alike; the metric must not reward or punish their order.
  std::vector<float> p{0.3f, 0.3f, 0.9f, 0.1f, 0.3f, 0.9f}, l{2, 5, 7, 1, 2, 6};
  const double pca = *pairwise_comparison_accuracy(p, l);
  for (int rotation = 0; rotation < 5; ++rotation) {
    std::rotate(p.begin(), p.begin() + 1, p.end());
    std::rotate(l.begin(), l.begin() + 1, l.end());
    CHECK(*pairwise_comparison_accuracy(p, l) == pca);
  }
  std::reverse(p.begin(), p.end());
  std::reverse(l.begin(), l.end());
  CHECK(*pairwise_comparison_accuracy(p, l) == pca);
}

TEST_CASE("a task with at most one record scores 0.5; tasks are weighted by records or given weights") {
  const std::vector<float> one{0.3f};
  CHECK(*pairwise_comparison_accuracy(one, one) == 0.5);
  // Task 0: 3 records, PCA 2/3. Task 1: 1 record, 0.5.
  const std::vector<float> p{0.9f, 0.1f, 0.5f, 0.7f}, l{3, 2, 1, 1};
  const std::vector<std::size_t> offsets{0, 3, 4};
  CHECK(*pairwise_comparison_accuracy(p, l, offsets) == doctest::Approx((3 * 2.0 / 3.0 + 1 * 0.5) / 4));
  const std::vector<double> network{1, 3};
  CHECK(*pairwise_comparison_accuracy(p, l, offsets, network) == doctest::Approx((2.0 / 3.0 + 3 * 0.5) / 4));
}

TEST_CASE("top-k score: best label among the k highest predictions over the best label") {
  const std::vector<float> p{0.9f, 0.1f, 0.5f, 0.8f}, l{0.5f, 1.0f, 0.25f, 0.75f};
  CHECK(*top_k_score(p, l, 1) == doctest::Approx(0.5));
  CHECK(*top_k_score(p, l, 2) == doctest::Approx(0.75));
  CHECK(*top_k_score(p, l, 4) == doctest::Approx(1.0));
  CHECK(*top_k_score(p, l, 10) == doctest::Approx(1.0));
  const std::vector<std::size_t> offsets{0, 2, 4};  // task 0: top1 0.5/1.0; task 1: top1 0.75/0.75
  CHECK(*top_k_score(p, l, offsets, 1) == doctest::Approx(0.75));
  CHECK_FALSE(top_k_score(p, l, 0));
}

TEST_CASE("RMSE and Kendall's tau against hand-computed values") {
  const std::vector<float> p{1, 2, 3}, l{1, 2, 5};
  CHECK(*rmse(p, l) == doctest::Approx(std::sqrt(4.0 / 3.0)));
  CHECK(*kendall_tau(p, l) == doctest::Approx(1.0));
  const std::vector<float> q{3, 1, 2};  // pairs: (0,1) disc, (0,2) disc, (1,2) conc -> (1-2)/3
  CHECK(*kendall_tau(q, l) == doctest::Approx(-1.0 / 3.0));
  // tau-b with a tie in the labels: l = {1, 1, 2}, p = {1, 2, 3}: C=2, D=0, ties only in l: 1.
  const std::vector<float> tied{1, 1, 2};
  CHECK(*kendall_tau(p, tied) == doctest::Approx(2.0 / std::sqrt(3.0 * 2.0)));
  const std::vector<float> constant{1, 1, 1};
  CHECK(*kendall_tau(p, constant) == 0.0);
}

TEST_CASE("bad inputs are errors that say what is wrong") {
  const std::vector<float> two{1, 2}, three{1, 2, 3};
  auto mismatch = pairwise_comparison_accuracy(two, three);
  REQUIRE_FALSE(mismatch);
  CHECK(mismatch.error().message == "pairwise_comparison_accuracy: 2 predictions for 3 labels");
  const std::vector<float> nan{1, std::numeric_limits<float>::quiet_NaN()};
  auto bad = rmse(nan, two);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "rmse: prediction 1 is not a finite number");
  const std::vector<float> empty;
  CHECK_FALSE(rmse(empty, empty));
  CHECK_FALSE(top_k_score(empty, empty, 1));
  const std::vector<std::size_t> bad_offsets{0, 3, 1};
  CHECK_FALSE(pairwise_comparison_accuracy(three, three, std::vector<std::size_t>{0, 2}));
  CHECK_FALSE(pairwise_comparison_accuracy(three, three, bad_offsets));
  const std::vector<std::size_t> ok_offsets{0, 3};
  const std::vector<double> wrong_weights{1, 2};
  CHECK_FALSE(pairwise_comparison_accuracy(three, three, ok_offsets, wrong_weights));
  const std::vector<double> zero{0};
  CHECK_FALSE(pairwise_comparison_accuracy(three, three, ok_offsets, zero));
}

TEST_CASE("evaluate_ranking reports every metric") {
  const std::vector<float> p{0.9f, 0.1f, 0.5f, 0.7f}, l{1.0f, 0.5f, 0.25f, 1.0f};
  const std::vector<std::size_t> offsets{0, 3, 4};
  auto r = evaluate_ranking(p, l, offsets);
  REQUIRE(r);
  CHECK(r->pairwise_comparison_accuracy == doctest::Approx((3 * 2.0 / 3.0 + 0.5) / 4));
  CHECK(r->top1 == doctest::Approx(1.0));
  CHECK(r->rmse > 0);
}
