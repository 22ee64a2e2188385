// crosstune/model/layers.hpp — dense layers and masked multi-head self-attention, forward and backward.
//
// The pieces of the cost model around its LSTM (model/lstm.hpp): a Linear layer on [features, N]
// matrices, ReLU, and multi-head self-attention over each candidate's steps that ignores padded steps as
// keys. Like the LSTM, each layer keeps what backward() needs from its last forward() and accumulates
// gradients until zero_grad(). tests/unit/test_layers.cpp checks every gradient by finite differences.
#pragma once

#include <Eigen/Dense>

#include <cmath>
#include <limits>
#include <vector>

#include "crosstune/core/rng.hpp"
#include "crosstune/model/lstm.hpp"

namespace crosstune::model {

/// y = W x + b on the columns of x ([in, N] -> [out, N]).
template <class Scalar>
class Linear {
 public:
  Linear(std::size_t in, std::size_t out, Rng& rng) {
    w_.resize(static_cast<Eigen::Index>(out), static_cast<Eigen::Index>(in));
    b_.resize(static_cast<Eigen::Index>(out), 1);
    init_uniform(w_, in, rng);
    init_uniform(b_, in, rng);
    grad_w_ = Matrix<Scalar>::Zero(w_.rows(), w_.cols());
    grad_b_ = Matrix<Scalar>::Zero(b_.rows(), 1);
  }

  [[nodiscard]] std::size_t input_size() const noexcept { return static_cast<std::size_t>(w_.cols()); }
  [[nodiscard]] std::size_t output_size() const noexcept { return static_cast<std::size_t>(w_.rows()); }

  /// Stateless forward (for inference): out = W x + b.
  void apply(const Matrix<Scalar>& x, Matrix<Scalar>& out) const {
    out.noalias() = w_ * x;
    out.colwise() += b_.col(0);
  }
  const Matrix<Scalar>& forward(const Matrix<Scalar>& x) {
    x_ = &x;
    apply(x, out_);
    return out_;
  }
  /// Accumulates dW, db; returns d(loss)/dx.
  const Matrix<Scalar>& backward(const Matrix<Scalar>& d_out) {
    grad_w_.noalias() += d_out * x_->transpose();
    grad_b_.col(0) += d_out.rowwise().sum();
    d_x_.noalias() = w_.transpose() * d_out;
    return d_x_;
  }
  void zero_grad() {
    grad_w_.setZero();
    grad_b_.setZero();
  }
  [[nodiscard]] std::vector<Parameter<Scalar>> parameters() {
    return {{&w_, &grad_w_, "w"}, {&b_, &grad_b_, "b"}};
  }

 private:
  Matrix<Scalar> w_, b_, grad_w_, grad_b_, out_, d_x_;
  const Matrix<Scalar>* x_ = nullptr;
};

/// Multi-head self-attention over the steps of each candidate, padded steps masked out as keys:
/// per head h, A = softmax_j(q_i . k_j / sqrt(d)) over real steps j, o_i = sum_j A_ij v_j; the heads are
/// concatenated and projected: y = W_o o + b_o. Input and output are [E, T] per candidate.
template <class Scalar>
class SelfAttention {
 public:
  SelfAttention(std::size_t dims, std::size_t heads, Rng& rng)
      : dims_(dims),
        heads_(heads),
        q_(dims, dims, rng),
        k_(dims, dims, rng),
        v_(dims, dims, rng),
        o_(dims, dims, rng) {}

  [[nodiscard]] std::size_t heads() const noexcept { return heads_; }

  /// x: one candidate's steps [E, T]; length: its real steps (the first `length` columns).
  const Matrix<Scalar>& forward(const Matrix<Scalar>& x, Eigen::Index length) {
    length_ = length;
    const Eigen::Index T = x.cols(), d = static_cast<Eigen::Index>(dims_ / heads_);
    const Scalar scale = Scalar(1) / std::sqrt(static_cast<Scalar>(d));
    // The projections stay in the Linear layers' buffers until their next forward; backward reads them.
    q_out_ = &q_.forward(x);
    k_out_ = &k_.forward(x);
    v_out_ = &v_.forward(x);
    const Matrix<Scalar>&Q = *q_out_, &K = *k_out_, &V = *v_out_;
    attention_.resize(heads_);
    heads_out_.resize(static_cast<Eigen::Index>(dims_), T);
    heads_out_.setZero();
    for (std::size_t h = 0; h < heads_; ++h) {
      const Eigen::Index r = static_cast<Eigen::Index>(h) * d;
      Matrix<Scalar>& A = attention_[h];
      A = Matrix<Scalar>::Zero(T, T);  // rows: queries, columns: keys
      if (length > 0) {
        A.leftCols(length).noalias() =
            (Q.middleRows(r, d).transpose() * K.middleRows(r, d).leftCols(length)) * scale;
        for (Eigen::Index i = 0; i < T; ++i) {
          auto row = A.row(i).head(length);
          const Scalar top = row.maxCoeff();
          row = (row.array() - top).exp().matrix();
          row /= row.sum();
        }
        heads_out_.middleRows(r, d).noalias() = V.middleRows(r, d) * A.transpose();
      }
    }
    return o_.forward(heads_out_);
  }

  /// Returns d(loss)/dx, [E, T].
  const Matrix<Scalar>& backward(const Matrix<Scalar>& d_y) {
    const Eigen::Index T = d_y.cols(), d = static_cast<Eigen::Index>(dims_ / heads_);
    const Scalar scale = Scalar(1) / std::sqrt(static_cast<Scalar>(d));
    const Matrix<Scalar> d_heads = o_.backward(d_y);
    d_q_ = Matrix<Scalar>::Zero(static_cast<Eigen::Index>(dims_), T);
    d_k_ = d_q_;
    d_v_ = d_q_;
    const Matrix<Scalar>&Q = *q_out_, &K = *k_out_, &V = *v_out_;
    for (std::size_t h = 0; h < heads_; ++h) {
      if (length_ == 0) break;
      const Eigen::Index r = static_cast<Eigen::Index>(h) * d;
      const Matrix<Scalar>& A = attention_[h];
      const auto dO = d_heads.middleRows(r, d);
      d_v_.middleRows(r, d).noalias() = dO * A;
      Matrix<Scalar> dA = dO.transpose() * V.middleRows(r, d);  // [T, T]
      // Softmax over each row: dS_ij = A_ij (dA_ij - sum_k dA_ik A_ik); masked keys have A = 0.
      const Matrix<Scalar> row_dot = (dA.cwiseProduct(A)).rowwise().sum();
      Matrix<Scalar> dS = A.cwiseProduct(dA - row_dot.replicate(1, T)) * scale;
      d_q_.middleRows(r, d).noalias() = K.middleRows(r, d) * dS.transpose();
      d_k_.middleRows(r, d).noalias() = Q.middleRows(r, d) * dS;
    }
    d_x_ = q_.backward(d_q_);
    d_x_ += k_.backward(d_k_);
    d_x_ += v_.backward(d_v_);
    return d_x_;
  }

  void zero_grad() {
    q_.zero_grad();
    k_.zero_grad();
    v_.zero_grad();
    o_.zero_grad();
  }
  [[nodiscard]] std::vector<Parameter<Scalar>> parameters() {
    std::vector<Parameter<Scalar>> p;
    for (auto* layer : {&q_, &k_, &v_, &o_})
      for (auto q : layer->parameters())
        p.push_back(q);
    return p;
  }

 private:
  std::size_t dims_, heads_;
  Linear<Scalar> q_, k_, v_, o_;
  Eigen::Index length_ = 0;
  std::vector<Matrix<Scalar>> attention_;
  Matrix<Scalar> heads_out_, d_q_, d_k_, d_v_, d_x_;
  const Matrix<Scalar>*q_out_ = nullptr, *k_out_ = nullptr, *v_out_ = nullptr;
};

}  // namespace crosstune::model
