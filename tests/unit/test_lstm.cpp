#include "crosstune/model/lstm.hpp"

#include <doctest/doctest.h>

#include "gradient_check.hpp"

#include <cmath>

using namespace crosstune;
using namespace crosstune::model;

namespace {
using Mat = Matrix<double>;

struct Problem {
  Sequence<double> x;
  Mask<double> mask;
  Sequence<double> weights;  // loss = sum_t <weights_t, out_t>
};

// Right-padded batch: candidate b has lengths[b] real steps.
Problem make_problem(std::size_t T, std::size_t input, std::size_t out_dim, std::vector<int> lengths,
                     Rng& rng) {
  Problem p;
  const auto B = static_cast<Eigen::Index>(lengths.size());
  for (std::size_t t = 0; t < T; ++t) {
    Mat x(input, B), w(out_dim, B);
    RowVector<double> m(B);
    for (Eigen::Index i = 0; i < x.size(); ++i)
      x.data()[i] = rng.uniform_real(-1, 1);
    for (Eigen::Index i = 0; i < w.size(); ++i)
      w.data()[i] = rng.uniform_real(-1, 1);
    for (Eigen::Index b = 0; b < B; ++b)
      m(b) = static_cast<int>(t) < lengths[static_cast<std::size_t>(b)] ? 1.0 : 0.0;
    p.x.push_back(x);
    p.weights.push_back(w);
    p.mask.push_back(m);
  }
  return p;
}

template <class Layer>
double loss(Layer& layer, const Problem& p) {
  const auto& out = layer.forward(p.x, p.mask);
  double s = 0;
  for (std::size_t t = 0; t < out.size(); ++t)
    s += out[t].cwiseProduct(p.weights[t]).sum();
  return s;
}

// Every parameter's and every input's analytic gradient against central finite differences (a weight
// that only meets padded steps has an exactly-zero gradient, which the absolute tolerance covers).
template <class Layer>
void check_gradients(Layer& layer, Problem& p) {
  layer.zero_grad();
  (void)loss(layer, p);
  const auto d_x = layer.backward(p.weights);  // copy: later forwards overwrite the layer's buffers
  auto f = [&] { return loss(layer, p); };
  (void)test::check_parameter_gradients(layer.parameters(), f);
  for (std::size_t t = 0; t < p.x.size(); ++t)
    (void)test::check_gradient(p.x[t], d_x[t], f, "x[" + std::to_string(t) + "]");
}
}  // namespace

TEST_CASE("LSTM gradients match central finite differences, with padding, in both directions") {
  Rng rng(5);
  for (bool reverse : {false, true}) {
    CAPTURE(reverse);
    Lstm<double> lstm(3, 4, rng, reverse);
    auto p = make_problem(5, 3, 4, {5, 3, 1}, rng);
    check_gradients(lstm, p);
  }
}

TEST_CASE("bidirectional LSTM gradients match central finite differences") {
  Rng rng(11);
  BiLstm<double> lstm(3, 2, rng);
  auto p = make_problem(4, 3, 4, {4, 2}, rng);
  check_gradients(lstm, p);
}

TEST_CASE("padded steps change nothing: not the outputs, not the gradients") {
  Rng rng(3);
  BiLstm<double> lstm(3, 4, rng);
  auto p = make_problem(6, 3, 8, {6, 2, 4}, rng);
  lstm.zero_grad();
  const double before = loss(lstm, p);
  const Sequence<double> out_before = lstm.forward(p.x, p.mask);
  (void)lstm.backward(p.weights);
  std::vector<Mat> grads_before;
  for (auto q : lstm.parameters())
    grads_before.push_back(*q.grad);
  // Garbage in the padded steps of candidate 1 (length 2) and 2 (length 4).
  for (std::size_t t = 2; t < 6; ++t)
    p.x[t].col(1).setConstant(1e3);
  for (std::size_t t = 4; t < 6; ++t)
    p.x[t].col(2).setConstant(-7.5);
  lstm.zero_grad();
  CHECK(loss(lstm, p) == doctest::Approx(before).epsilon(1e-12));
  const auto& out_after = lstm.forward(p.x, p.mask);
  for (std::size_t t = 0; t < 6; ++t)
    CHECK((out_after[t] - out_before[t]).cwiseAbs().maxCoeff() < 1e-12);
  (void)lstm.backward(p.weights);
  std::size_t k = 0;
  for (auto q : lstm.parameters())
    CHECK((*q.grad - grads_before[k++]).cwiseAbs().maxCoeff() < 1e-12);
  // A padded step outputs zeros.
  CHECK(out_after[5].col(1).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("a candidate gives the same output alone as in a padded batch") {
  Rng rng(8);
  Lstm<float> lstm(4, 6, rng, true);
  Rng data(1);
  auto p64 = make_problem(5, 4, 6, {3, 5}, data);
  Sequence<float> batch, alone;
  Mask<float> mask_batch, mask_alone;
  for (std::size_t t = 0; t < 5; ++t) {
    batch.push_back(p64.x[t].cast<float>());
    mask_batch.push_back(p64.mask[t].cast<float>());
  }
  for (std::size_t t = 0; t < 3; ++t) {
    alone.push_back(p64.x[t].col(0).cast<float>());
    mask_alone.push_back(RowVector<float>::Ones(1));
  }
  const Sequence<float> out_batch = lstm.forward(batch, mask_batch);
  const auto& out_alone = lstm.forward(alone, mask_alone);
  for (std::size_t t = 0; t < 3; ++t)
    CHECK((out_batch[t].col(0) - out_alone[t]).cwiseAbs().maxCoeff() < 1e-6f);
}

TEST_CASE("the inference pass of an LSTM gives the training pass's outputs, in any buffer shape") {
  Rng rng(17);
  Lstm<double> one_way(3, 4, rng, /*reverse=*/true);
  BiLstm<double> both_ways(3, 4, rng);
  Scratch<double> gates, state;
  // The second problem is smaller than the first: the buffers are reused at another shape.
  for (const auto& lengths : {std::vector<int>{5, 3, 1, 0}, std::vector<int>{2, 1}}) {
    const std::size_t T = 5;
    const auto p = make_problem(T, 3, 8, lengths, rng);
    const auto B = static_cast<Eigen::Index>(lengths.size());
    Mat x(3, static_cast<Eigen::Index>(T) * B), mask(static_cast<Eigen::Index>(T), B);
    for (std::size_t t = 0; t < T; ++t) {
      x.middleCols(static_cast<Eigen::Index>(t) * B, B) = p.x[t];
      mask.row(static_cast<Eigen::Index>(t)) = p.mask[t];
    }
    Mat out_one(4, x.cols()), out_both(8, x.cols());
    one_way.infer(x, mask, out_one, gates, state);
    both_ways.infer(x, mask, out_both, gates, state);
    const auto& expected_one = one_way.forward(p.x, p.mask);
    const auto& expected_both = both_ways.forward(p.x, p.mask);
    for (std::size_t t = 0; t < T; ++t) {
      const auto cols = static_cast<Eigen::Index>(t) * B;
      CHECK((out_one.middleCols(cols, B) - expected_one[t]).cwiseAbs().maxCoeff() < 1e-14);
      CHECK((out_both.middleCols(cols, B) - expected_both[t]).cwiseAbs().maxCoeff() < 1e-14);
    }
  }
}
