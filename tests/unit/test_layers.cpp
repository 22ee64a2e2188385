#include "crosstune/model/layers.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

using namespace crosstune;
using namespace crosstune::model;

namespace {
using Mat = Matrix<double>;

Mat random_matrix(Eigen::Index rows, Eigen::Index cols, Rng& rng) {
  Mat m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i)
    m.data()[i] = rng.uniform_real(-1, 1);
  return m;
}
// Relative error, with an absolute floor of 1e-6: exactly-zero gradients (the key bias, which shifts
// a whole softmax row) leave only finite-difference noise of ~1e-11.
double relative_error(double a, double b) {
  return std::abs(a - b) / std::max({1e-6, std::abs(a), std::abs(b)});
}

// Analytic gradients of loss = <R, f(x)> for every parameter and input, against central differences.
template <class Forward, class Backward>
void check(std::vector<Parameter<double>> params, Mat& x, const Mat& r, Forward forward, Backward backward) {
  auto loss = [&] { return forward(x).cwiseProduct(r).sum(); };
  (void)loss();
  const Mat d_x = backward(r);
  const double eps = 1e-6;
  for (auto p : params) {
    const Mat analytic = *p.grad;
    for (Eigen::Index i = 0; i < p.value->size(); ++i) {
      double& v = p.value->data()[i];
      const double saved = v;
      v = saved + eps;
      const double up = loss();
      v = saved - eps;
      const double down = loss();
      v = saved;
      INFO(std::string(p.name) << "[" << i << "] analytic " << analytic.data()[i] << " numeric "
                               << (up - down) / (2 * eps));
      REQUIRE(relative_error(analytic.data()[i], (up - down) / (2 * eps)) < 1e-4);
    }
  }
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    double& v = x.data()[i];
    const double saved = v;
    v = saved + eps;
    const double up = loss();
    v = saved - eps;
    const double down = loss();
    v = saved;
    INFO("x[" << i << "]");
    REQUIRE(relative_error(d_x.data()[i], (up - down) / (2 * eps)) < 1e-4);
  }
}
}  // namespace

TEST_CASE("linear layer gradients match finite differences") {
  Rng rng(2);
  Linear<double> layer(5, 3, rng);
  Mat x = random_matrix(5, 4, rng);
  const Mat r = random_matrix(3, 4, rng);
  layer.zero_grad();
  check(
      layer.parameters(), x, r, [&](const Mat& in) -> Mat { return layer.forward(in); },
      [&](const Mat& d) -> Mat { return layer.backward(d); });
}

TEST_CASE("masked multi-head self-attention gradients match finite differences") {
  Rng rng(4);
  for (Eigen::Index length : {6, 4, 1}) {
    CAPTURE(length);
    SelfAttention<double> attention(4, 2, rng);
    Mat x = random_matrix(4, 6, rng);
    const Mat r = random_matrix(4, 6, rng);
    attention.zero_grad();
    check(
        attention.parameters(), x, r, [&](const Mat& in) -> Mat { return attention.forward(in, length); },
        [&](const Mat& d) -> Mat { return attention.backward(d); });
  }
}

TEST_CASE("padded steps do not change the attention output at real steps") {
  Rng rng(9);
  SelfAttention<double> attention(6, 3, rng);
  Mat x = random_matrix(6, 5, rng);
  const Mat before = attention.forward(x, 3).leftCols(3);
  x.rightCols(2).setConstant(50.0);
  const Mat after = attention.forward(x, 3).leftCols(3);
  CHECK((before - after).cwiseAbs().maxCoeff() < 1e-12);
  // Attention rows are probability distributions over the real steps.
  Mat only_real = random_matrix(6, 3, rng);
  const Mat a = attention.forward(only_real, 3);
  CHECK(a.allFinite());
}
