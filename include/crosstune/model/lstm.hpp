// crosstune/model/lstm.hpp — LSTM layers over padded, masked step sequences, forward and backward by hand.
//
// The cost model reads a candidate as a sequence of step vectors (features/). These layers are its
// recurrent core, written on Eigen with no ML framework: an LSTM over time-major batches
// ([T] matrices of [features, batch]), and a bidirectional pair of them. Sequences are right-padded; a step
// with mask 0 leaves the state unchanged and outputs zeros, so padding never changes a result, and the
// backward direction starts at each sequence's last real step.
//
// Every layer keeps what backward() needs from the last forward(); gradients accumulate into the layer's
// gradient buffers (zero them with zero_grad()). Scalar is float for training and inference, double for
// the finite-difference checks in tests/unit/test_lstm.cpp.
//
//   crosstune::model::BiLstm<float> lstm(/*input=*/44, /*hidden=*/128, rng);
//   const auto& out = lstm.forward(steps, mask);  // T matrices of [256, B]
//   lstm.backward(d_out);                         // fills lstm.d_inputs() and the weight gradients
#pragma once

#include <Eigen/Dense>

#include <cmath>
#include <cstddef>
#include <vector>

#include "crosstune/core/rng.hpp"
#include "crosstune/model/matrix.hpp"
#include "crosstune/model/parameter.hpp"

namespace crosstune::model {

template <class Scalar>
using RowVector = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;

/// A sequence of T step matrices, each [features, batch] (time-major: one GEMM per step for the batch).
template <class Scalar>
using Sequence = std::vector<Matrix<Scalar>>;

/// mask[t] is a [1, batch] row: 1 where step t of that candidate is real, 0 for padding.
template <class Scalar>
using Mask = std::vector<RowVector<Scalar>>;

/// One-direction LSTM layer: gates = W_ih x_t + W_hh h_{t-1} + b, in the order input, forget, cell, output.
template <class Scalar>
class Lstm {
 public:
  Lstm(std::size_t input, std::size_t hidden, Rng& rng, bool reverse = false)
      : input_(input), hidden_(hidden), reverse_(reverse) {
    w_ih_.resize(4 * hidden, input);
    w_hh_.resize(4 * hidden, hidden);
    bias_.resize(4 * hidden, 1);
    init_uniform(w_ih_, hidden, rng);
    init_uniform(w_hh_, hidden, rng);
    init_uniform(bias_, hidden, rng);
    grad_w_ih_ = Matrix<Scalar>::Zero(w_ih_.rows(), w_ih_.cols());
    grad_w_hh_ = Matrix<Scalar>::Zero(w_hh_.rows(), w_hh_.cols());
    grad_bias_ = Matrix<Scalar>::Zero(bias_.rows(), 1);
  }

  [[nodiscard]] std::size_t input_size() const noexcept { return input_; }
  [[nodiscard]] std::size_t hidden_size() const noexcept { return hidden_; }

  /// Runs the sequence (from the last step to the first when reverse). Returns the T outputs [hidden, B]:
  /// h_t at real steps, 0 at padded ones.
  const Sequence<Scalar>& forward(const Sequence<Scalar>& x, const Mask<Scalar>& mask) {
    const std::size_t T = x.size();
    const Eigen::Index B = T ? x[0].cols() : 0, H = static_cast<Eigen::Index>(hidden_);
    x_ = &x;
    mask_ = &mask;
    cells_.resize(T);
    tanh_cells_.resize(T);
    states_h_.resize(T + 1);
    states_c_.resize(T + 1);
    out_.resize(T);
    // The input's contribution to every step's gates in one GEMM: x_cat_ holds the steps side by side.
    x_cat_.resize(static_cast<Eigen::Index>(input_), static_cast<Eigen::Index>(T) * B);
    for (std::size_t t = 0; t < T; ++t)
      x_cat_.middleCols(static_cast<Eigen::Index>(t) * B, B) = x[t];
    gates_.resize(w_ih_.rows(), x_cat_.cols());
    multiply<Scalar>(gates_, w_ih_, x_cat_);
    // states_[k] is the state before the k-th step in processing order; states_[0] is zero.
    states_h_[0] = Matrix<Scalar>::Zero(H, B);
    states_c_[0] = Matrix<Scalar>::Zero(H, B);
    for (std::size_t k = 0; k < T; ++k) {
      const std::size_t t = reverse_ ? T - 1 - k : k;
      // Step t's gates, in place in gates_ (kept for backward).
      auto g = gates_.middleCols(static_cast<Eigen::Index>(t) * B, B);
      multiply<Scalar>(g, w_hh_, states_h_[k], /*accumulate=*/true);
      activate(g);
      const auto i = g.topRows(H).array(), f = g.middleRows(H, H).array(),
                 cg = g.middleRows(2 * H, H).array(), o = g.bottomRows(H).array();
      cells_[k] = (f * states_c_[k].array() + i * cg).matrix();
      tanh_cells_[k] = cells_[k].array().tanh().matrix();
      const auto m = mask[t].array().replicate(H, 1);
      h_new_ = (o * tanh_cells_[k].array()).matrix();
      const auto& h_new = h_new_;
      states_h_[k + 1] = (m * h_new.array() + (Scalar(1) - m) * states_h_[k].array()).matrix();
      states_c_[k + 1] = (m * cells_[k].array() + (Scalar(1) - m) * states_c_[k].array()).matrix();
      out_[t] = (m * h_new.array()).matrix();
    }
    return out_;
  }

  /// Inference only (keeps nothing for backward()): runs the steps x, [input, T B] with step t in
  /// columns [t B, (t + 1) B), under mask [T, B], and writes the outputs to out, [hidden, T B] in the same
  /// layout. gates and state are working storage; once they have held the largest T B, nothing allocates.
  void infer(const Eigen::Ref<const Matrix<Scalar>>& x, const Eigen::Ref<const Matrix<Scalar>>& mask,
             Eigen::Ref<Matrix<Scalar>> out, Scratch<Scalar>& gates_buffer,
             Scratch<Scalar>& state_buffer) const {
    const Eigen::Index T = mask.rows(), B = mask.cols(), H = static_cast<Eigen::Index>(hidden_);
    auto gates = gates_buffer.view(4 * H, T * B);
    multiply<Scalar>(gates, w_ih_, x);
    auto state = state_buffer.view(H, 4 * B);
    auto h = state.leftCols(B), c = state.middleCols(B, B), c_new = state.middleCols(2 * B, B),
         h_new = state.rightCols(B);
    h.setZero();
    c.setZero();
    for (Eigen::Index k = 0; k < T; ++k) {
      const Eigen::Index t = reverse_ ? T - 1 - k : k;
      auto g = gates.middleCols(t * B, B);
      multiply<Scalar>(g, w_hh_, h, /*accumulate=*/true);
      activate(g);
      const auto i = g.topRows(H).array(), f = g.middleRows(H, H).array(),
                 cg = g.middleRows(2 * H, H).array(), o = g.bottomRows(H).array();
      const auto m = mask.row(t).array().replicate(H, 1);
      c_new = (f * c.array() + i * cg).matrix();
      h_new = (o * c_new.array().tanh()).matrix();
      out.middleCols(t * B, B) = (m * h_new.array()).matrix();
      h = (m * h_new.array() + (Scalar(1) - m) * h.array()).matrix();
      c = (m * c_new.array() + (Scalar(1) - m) * c.array()).matrix();
    }
  }

  /// Back-propagates d(loss)/d(outputs) through the last forward(); accumulates weight gradients and
  /// returns d(loss)/d(inputs), T matrices [input, B].
  const Sequence<Scalar>& backward(const Sequence<Scalar>& d_out) {
    const auto& x = *x_;
    const auto& mask = *mask_;
    const std::size_t T = x.size();
    const Eigen::Index B = T ? x[0].cols() : 0, H = static_cast<Eigen::Index>(hidden_);
    d_x_.resize(T);
    d_gates_all_.resize(4 * H, static_cast<Eigen::Index>(T) * B);
    Matrix<Scalar> dh = Matrix<Scalar>::Zero(H, B), dc = Matrix<Scalar>::Zero(H, B);
    for (std::size_t kk = T; kk-- > 0;) {
      auto d_gates = d_gates_all_.middleCols(static_cast<Eigen::Index>(t_of(kk, T)) * B, B);
      const std::size_t t = t_of(kk, T);
      const auto m = mask[t].array().replicate(H, 1);
      const auto g = gates_.middleCols(static_cast<Eigen::Index>(t) * B, B);
      const auto i = g.topRows(H).array(), f = g.middleRows(H, H).array(),
                 cg = g.middleRows(2 * H, H).array(), o = g.bottomRows(H).array();
      const auto tc = tanh_cells_[kk].array();
      // out_t = m h~, h_t = m h~ + (1 - m) h_{t-1}: real steps feed the cell, padded ones pass through.
      const Matrix<Scalar> dh_cell = (m * (d_out[t].array() + dh.array())).matrix();
      const Matrix<Scalar> dc_cell = (m * dc.array() + dh_cell.array() * o * (Scalar(1) - tc * tc)).matrix();
      d_gates.topRows(H) = (dc_cell.array() * cg * i * (Scalar(1) - i)).matrix();
      d_gates.middleRows(H, H) = (dc_cell.array() * states_c_[kk].array() * f * (Scalar(1) - f)).matrix();
      d_gates.middleRows(2 * H, H) = (dc_cell.array() * i * (Scalar(1) - cg * cg)).matrix();
      d_gates.bottomRows(H) = (dh_cell.array() * tc * o * (Scalar(1) - o)).matrix();
      grad_w_hh_.noalias() += d_gates * states_h_[kk].transpose();
      Matrix<Scalar> dh_prev = w_hh_.transpose() * d_gates;
      dh = (dh_prev.array() + (Scalar(1) - m) * dh.array()).matrix();
      dc = (dc_cell.array() * f + (Scalar(1) - m) * dc.array()).matrix();
    }
    // The input weights' gradient and the inputs' gradients for all steps in one GEMM each.
    grad_w_ih_.noalias() += d_gates_all_ * x_cat_.transpose();
    grad_bias_.col(0) += d_gates_all_.rowwise().sum();
    d_x_cat_.noalias() = w_ih_.transpose() * d_gates_all_;
    for (std::size_t t = 0; t < T; ++t)
      d_x_[t] = d_x_cat_.middleCols(static_cast<Eigen::Index>(t) * B, B);
    return d_x_;
  }

  void zero_grad() {
    grad_w_ih_.setZero();
    grad_w_hh_.setZero();
    grad_bias_.setZero();
  }

  [[nodiscard]] std::vector<Parameter<Scalar>> parameters() {
    return {{&w_ih_, &grad_w_ih_, "w_ih"}, {&w_hh_, &grad_w_hh_, "w_hh"}, {&bias_, &grad_bias_, "bias"}};
  }

 private:
  /// Adds the bias to one step's gates, [4 hidden, B], and applies their functions in place: sigmoid for
  /// the input, forget and output gates, tanh for the cell candidate.
  template <class Gates>
  void activate(Gates& g) const {
    const auto H = static_cast<Eigen::Index>(hidden_);
    g.colwise() += bias_.col(0);
    g.topRows(2 * H) = (Scalar(1) + (-g.topRows(2 * H)).array().exp()).inverse().matrix();
    g.middleRows(2 * H, H) = g.middleRows(2 * H, H).array().tanh().matrix();
    g.bottomRows(H) = (Scalar(1) + (-g.bottomRows(H)).array().exp()).inverse().matrix();
  }

  /// The time step processed k-th.
  [[nodiscard]] std::size_t t_of(std::size_t k, std::size_t T) const noexcept {
    return reverse_ ? T - 1 - k : k;
  }

  std::size_t input_, hidden_;
  bool reverse_;
  Matrix<Scalar> w_ih_, w_hh_, bias_;
  Matrix<Scalar> grad_w_ih_, grad_w_hh_, grad_bias_;
  // Saved by forward() for backward(), indexed in processing order (k), outputs in time order (t).
  const Sequence<Scalar>* x_ = nullptr;
  const Mask<Scalar>* mask_ = nullptr;
  Sequence<Scalar> cells_, tanh_cells_, states_h_, states_c_, out_, d_x_;
  // Every step's inputs, gates and gate gradients side by side (column t * B + b): the input GEMMs run
  // once for all steps.
  Matrix<Scalar> x_cat_, gates_, h_new_, d_gates_all_, d_x_cat_;
};

/// Bidirectional LSTM: a forward and a reverse Lstm on the same input; outputs concatenated [2 hidden, B].
template <class Scalar>
class BiLstm {
 public:
  BiLstm(std::size_t input, std::size_t hidden, Rng& rng)
      : forward_(input, hidden, rng, false), backward_(input, hidden, rng, true), hidden_(hidden) {}

  [[nodiscard]] std::size_t output_size() const noexcept { return 2 * hidden_; }

  const Sequence<Scalar>& forward(const Sequence<Scalar>& x, const Mask<Scalar>& mask) {
    const auto& a = forward_.forward(x, mask);
    const auto& b = backward_.forward(x, mask);
    out_.resize(x.size());
    const auto H = static_cast<Eigen::Index>(hidden_);
    for (std::size_t t = 0; t < x.size(); ++t) {
      out_[t].resize(2 * H, a[t].cols());
      out_[t].topRows(H) = a[t];
      out_[t].bottomRows(H) = b[t];
    }
    return out_;
  }

  /// Inference only: x and out as in Lstm::infer, out with 2 hidden rows (forward direction on top).
  void infer(const Eigen::Ref<const Matrix<Scalar>>& x, const Eigen::Ref<const Matrix<Scalar>>& mask,
             Eigen::Ref<Matrix<Scalar>> out, Scratch<Scalar>& gates, Scratch<Scalar>& state) const {
    const auto H = static_cast<Eigen::Index>(hidden_);
    forward_.infer(x, mask, out.topRows(H), gates, state);
    backward_.infer(x, mask, out.bottomRows(H), gates, state);
  }

  const Sequence<Scalar>& backward(const Sequence<Scalar>& d_out) {
    const auto H = static_cast<Eigen::Index>(hidden_);
    d_a_.resize(d_out.size());
    d_b_.resize(d_out.size());
    for (std::size_t t = 0; t < d_out.size(); ++t) {
      d_a_[t] = d_out[t].topRows(H);
      d_b_[t] = d_out[t].bottomRows(H);
    }
    const auto& da = forward_.backward(d_a_);
    const auto& db = backward_.backward(d_b_);
    d_x_.resize(d_out.size());
    for (std::size_t t = 0; t < d_out.size(); ++t)
      d_x_[t] = da[t] + db[t];
    return d_x_;
  }

  void zero_grad() {
    forward_.zero_grad();
    backward_.zero_grad();
  }

  [[nodiscard]] std::vector<Parameter<Scalar>> parameters() {
    auto p = forward_.parameters();
    for (auto q : backward_.parameters())
      p.push_back(q);
    return p;
  }

 private:
  Lstm<Scalar> forward_, backward_;
  std::size_t hidden_;
  Sequence<Scalar> out_, d_a_, d_b_, d_x_;
};

}  // namespace crosstune::model
