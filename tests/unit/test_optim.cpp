#include "crosstune/model/optim.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace crosstune::model;

TEST_CASE("one Adam step matches the update computed by hand") {
  Matrix<double> w(1, 2), g(1, 2);
  w << 1.0, -2.0;
  g << 0.5, -0.25;
  Adam<double> adam({.learning_rate = 0.1});
  adam.step({{&w, &g, "w"}});
  // Step 1: m = 0.1 g, v = 0.001 g^2; bias-corrected m/c1 = g, v/c2 = g^2; update = lr * g / (|g| + eps).
  CHECK(w(0, 0) == doctest::Approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-8)));
  CHECK(w(0, 1) == doctest::Approx(-2.0 + 0.1 * 0.25 / (0.25 + 1e-8)));
  // Step 2 with the same gradient moves by the same amount again.
  adam.step({{&w, &g, "w"}});
  CHECK(w(0, 0) == doctest::Approx(1.0 - 0.2).epsilon(1e-6));
  CHECK(adam.steps() == 2);
  // Frozen parameters do not move; weight decay shrinks.
  Matrix<double> frozen = w;
  adam.step({{&w, &g, "w"}}, {true});
  CHECK(w == frozen);
  Matrix<double> zero_grad = Matrix<double>::Zero(1, 2);
  Adam<double> decay({.learning_rate = 0.1, .weight_decay = 0.5});
  Matrix<double> x(1, 2);
  x << 2.0, 2.0;
  decay.step({{&x, &zero_grad, "x"}});
  CHECK(x(0, 0) == doctest::Approx(2.0 * (1 - 0.05)));
}

TEST_CASE("gradient clipping limits the global norm") {
  Matrix<double> a(1, 2), ga(1, 2), b(1, 1), gb(1, 1);
  ga << 3.0, 0.0;
  gb << 4.0;
  const double norm = clip_gradients<double>({{&a, &ga, "a"}, {&b, &gb, "b"}}, 1.0);
  CHECK(norm == doctest::Approx(5.0));
  CHECK(ga(0, 0) == doctest::Approx(0.6));
  CHECK(gb(0, 0) == doctest::Approx(0.8));
}

TEST_CASE("loss gradients match finite differences") {
  Matrix<double> s(1, 4);
  s << 0.3, -0.2, 0.8, 0.1;
  const std::vector<float> labels{1.0f, 0.5f, 0.25f, 0.5f};
  const std::vector<std::uint32_t> groups{0, 0, 0, 1};
  auto check = [&](auto f) {
    const auto [loss, grad] = f(s);
    for (Eigen::Index i = 0; i < 4; ++i) {
      Matrix<double> up = s, down = s;
      up(0, i) += 1e-6;
      down(0, i) -= 1e-6;
      CHECK(grad(0, i) == doctest::Approx((f(up).first - f(down).first) / 2e-6).epsilon(1e-5));
    }
    return loss;
  };
  const double mse = check([&](const Matrix<double>& x) { return mse_loss(x, labels); });
  CHECK(mse == doctest::Approx((0.49 + 0.49 + 0.3025 + 0.16) / 4));
  const double rank = check([&](const Matrix<double>& x) { return pairwise_rank_loss(x, labels, groups); });
  // Pairs in group 0 with y_i > y_j: (0,1), (0,2), (1,2).
  const double expected =
      (std::log1p(std::exp(-0.5)) + std::log1p(std::exp(0.5)) + std::log1p(std::exp(1.0))) / 3;
  CHECK(rank == doctest::Approx(expected));
}
