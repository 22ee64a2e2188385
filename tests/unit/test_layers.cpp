#include "crosstune/model/layers.hpp"

#include <doctest/doctest.h>

#include "gradient_check.hpp"

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
// Analytic gradients of loss = <R, f(x)> for every parameter and input, against central differences.
template <class Forward, class Backward>
void check(std::vector<Parameter<double>> params, Mat& x, const Mat& r, Forward forward, Backward backward) {
  auto loss = [&] { return forward(x).cwiseProduct(r).sum(); };
  (void)loss();
  const Mat d_x = backward(r);
  (void)test::check_parameter_gradients(params, loss);
  (void)test::check_gradient(x, d_x, loss, "x");
}
}  // namespace

TEST_CASE("linear layer gradients match finite differences, with and without bias") {
  Rng rng(2);
  for (const Bias bias : {Bias::with, Bias::without}) {
    CAPTURE(static_cast<bool>(bias));
    Linear<double> layer(5, 3, rng, bias);
    CHECK(layer.parameters().size() == (bias == Bias::with ? 2u : 1u));
    Mat x = random_matrix(5, 4, rng);
    const Mat r = random_matrix(3, 4, rng);
    layer.zero_grad();
    check(
        layer.parameters(), x, r, [&](const Mat& in) -> Mat { return layer.forward(in); },
        [&](const Mat& d) -> Mat { return layer.backward(d); });
    if (bias == Bias::without) CHECK(layer.forward(Mat::Zero(5, 2)).isZero());
  }
}

TEST_CASE("every attention parameter is trainable: each gets a non-zero gradient") {
  // A key bias would not: it adds the same score to a whole softmax row. The layer has none.
  Rng rng(5);
  SelfAttention<double> attention(4, 2, rng);
  const Mat x = random_matrix(4, 5, rng);
  attention.zero_grad();
  (void)attention.forward(x, 5);
  (void)attention.backward(random_matrix(4, 5, rng));
  const auto params = attention.parameters();
  CHECK(params.size() == 7);  // q, v, o: weight and bias; k: weight
  for (auto p : params) {
    CAPTURE(std::string(p.name));
    CHECK(p.grad->cwiseAbs().maxCoeff() > 1e-6);
  }
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

TEST_CASE("packed attention: gradients over several candidates, and candidates do not see each other") {
  Rng rng(12);
  SelfAttention<double> attention(4, 2, rng);
  Mat x = random_matrix(4, 9, rng);  // candidates of 4, 1 and 4 steps
  const Mat r = random_matrix(4, 9, rng);
  const std::vector<Eigen::Index> offsets{0, 4, 5, 9};
  attention.zero_grad();
  check(
      attention.parameters(), x, r, [&](const Mat& in) -> Mat { return attention.forward(in, offsets); },
      [&](const Mat& d) -> Mat { return attention.backward(d); });
  const Mat before = attention.forward(x, offsets);
  x.col(4).setConstant(9.0);  // the middle candidate only
  const Mat after = attention.forward(x, offsets);
  CHECK((before.leftCols(4) - after.leftCols(4)).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((before.rightCols(4) - after.rightCols(4)).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("pooled attention equals the mean over each candidate's steps of the full output") {
  Rng rng(21);
  SelfAttention<double> attention(6, 3, rng);
  const Mat x = random_matrix(6, 9, rng);
  const std::vector<Eigen::Index> offsets{0, 4, 4, 5, 9};  // the second candidate has no steps
  const Mat pooled = attention.pooled(x, offsets);
  const Mat full = attention.forward(x, offsets);
  REQUIRE(pooled.cols() == 4);
  for (std::size_t c = 0; c + 1 < offsets.size(); ++c) {
    CAPTURE(c);
    const Eigen::Index n = offsets[c + 1] - offsets[c];
    const Mat expected = n > 0 ? Mat(full.middleCols(offsets[c], n).rowwise().mean()) : Mat::Zero(6, 1);
    CHECK((pooled.col(static_cast<Eigen::Index>(c)) - expected).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("a linear layer applied into a view gives its forward output, with and without bias") {
  Rng rng(8);
  for (const Bias bias : {Bias::with, Bias::without}) {
    CAPTURE(static_cast<bool>(bias));
    Linear<double> layer(4, 3, rng, bias);
    const Mat x = random_matrix(4, 6, rng);
    const Mat expected = layer.forward(x);
    Mat wide = Mat::Zero(5, 6);
    layer.apply_into(x, wide.middleRows(1, 3));  // a block with an outer stride
    CHECK((wide.middleRows(1, 3) - expected).cwiseAbs().maxCoeff() < 1e-14);
    CHECK(wide.row(0).isZero());
    CHECK(wide.row(4).isZero());
  }
}
