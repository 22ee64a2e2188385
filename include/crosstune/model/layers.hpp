// crosstune/model/layers.hpp — dense layers and masked multi-head self-attention, forward and backward.
//
// The pieces of the cost model around its LSTM (model/lstm.hpp): a Linear layer on [features, N]
// matrices, ReLU, and multi-head self-attention over each candidate's steps that ignores padded steps as
// keys. Like the LSTM, each layer keeps what backward() needs from its last forward() and accumulates
// gradients until zero_grad(). tests/unit/test_layers.cpp checks every gradient by finite differences.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "crosstune/core/rng.hpp"
#include "crosstune/model/matrix.hpp"
#include "crosstune/model/parameter.hpp"

namespace crosstune::model {

/// Whether a Linear layer adds a bias.
enum class Bias : bool { without, with };

/// y = W x + b on the columns of x ([in, N] -> [out, N]); y = W x for a layer built with Bias::without.
template <class Scalar>
class Linear {
 public:
  Linear(std::size_t in, std::size_t out, Rng& rng, Bias bias = Bias::with) : bias_(bias) {
    w_.resize(static_cast<Eigen::Index>(out), static_cast<Eigen::Index>(in));
    b_ = Matrix<Scalar>::Zero(static_cast<Eigen::Index>(out), 1);
    init_uniform(w_, in, rng);
    if (bias_ == Bias::with) init_uniform(b_, in, rng);
    grad_w_ = Matrix<Scalar>::Zero(w_.rows(), w_.cols());
    grad_b_ = Matrix<Scalar>::Zero(b_.rows(), 1);
  }

  [[nodiscard]] const Matrix<Scalar>& weight() const noexcept { return w_; }
  /// The bias column (zeros for a layer without bias).
  [[nodiscard]] const Matrix<Scalar>& bias() const noexcept { return b_; }
  [[nodiscard]] std::size_t input_size() const noexcept { return static_cast<std::size_t>(w_.cols()); }
  [[nodiscard]] std::size_t output_size() const noexcept { return static_cast<std::size_t>(w_.rows()); }

  /// Stateless forward (for inference): out = W x + b.
  void apply(const Matrix<Scalar>& x, Matrix<Scalar>& out) const {
    out.resize(w_.rows(), x.cols());
    apply_into(x, out);
  }
  /// The same into `out`, already [output_size(), x.cols()] (a view of grow-only storage, say).
  void apply_into(const Eigen::Ref<const Matrix<Scalar>>& x, Eigen::Ref<Matrix<Scalar>> out) const {
    multiply<Scalar>(out, w_, x);
    if (bias_ == Bias::with) out.colwise() += b_.col(0);
  }
  const Matrix<Scalar>& forward(const Matrix<Scalar>& x) {
    x_ = &x;
    apply(x, out_);
    return out_;
  }
  /// Accumulates dW, db; returns d(loss)/dx.
  const Matrix<Scalar>& backward(const Matrix<Scalar>& d_out) {
    grad_w_.noalias() += d_out * x_->transpose();
    if (bias_ == Bias::with) grad_b_.col(0) += d_out.rowwise().sum();
    d_x_.noalias() = w_.transpose() * d_out;
    return d_x_;
  }
  void zero_grad() {
    grad_w_.setZero();
    grad_b_.setZero();
  }
  [[nodiscard]] std::vector<Parameter<Scalar>> parameters() {
    if (bias_ == Bias::without) return {{&w_, &grad_w_, "w"}};
    return {{&w_, &grad_w_, "w"}, {&b_, &grad_b_, "b"}};
  }

 private:
  Bias bias_;
  Matrix<Scalar> w_, b_, grad_w_, grad_b_, out_, d_x_;
  const Matrix<Scalar>* x_ = nullptr;
};

/// Multi-head self-attention within each candidate's steps. The input packs the real steps of all
/// candidates side by side ([E, N], candidate c in columns [offsets[c], offsets[c+1])), so padding never
/// enters: per head h, A = softmax_j(q_i . k_j / sqrt(d)) over the steps j of the same candidate,
/// o_i = sum_j A_ij v_j; heads are concatenated and projected, y = W_o o + b_o. The key projection has
/// no bias: a key bias adds q_i . b_k to every score of query i, which the softmax cancels, so its
/// gradient is zero and it would only be dead weight (and an untrainable parameter in fine-tuning).
template <class Scalar>
class SelfAttention {
 public:
  SelfAttention(std::size_t dims, std::size_t heads, Rng& rng)
      : dims_(dims),
        heads_(heads),
        q_(dims, dims, rng),
        k_(dims, dims, rng, Bias::without),
        v_(dims, dims, rng),
        o_(dims, dims, rng) {}

  [[nodiscard]] std::size_t heads() const noexcept { return heads_; }

  const Matrix<Scalar>& forward(const Matrix<Scalar>& x, const std::vector<Eigen::Index>& offsets) {
    offsets_ = offsets;
    const Eigen::Index d = static_cast<Eigen::Index>(dims_ / heads_);
    const Scalar scale = Scalar(1) / std::sqrt(static_cast<Scalar>(d));
    // The projections stay in the Linear layers' buffers until their next forward; backward reads them.
    q_out_ = &q_.forward(x);
    k_out_ = &k_.forward(x);
    v_out_ = &v_.forward(x);
    const Matrix<Scalar>&Q = *q_out_, &K = *k_out_, &V = *v_out_;
    const std::size_t segments = offsets.empty() ? 0 : offsets.size() - 1;
    attention_.resize(segments * heads_);
    heads_out_.resize(static_cast<Eigen::Index>(dims_), x.cols());
    for (std::size_t c = 0; c < segments; ++c) {
      const Eigen::Index begin = offsets[c], n = offsets[c + 1] - offsets[c];
      for (std::size_t h = 0; h < heads_; ++h) {
        const Eigen::Index r = static_cast<Eigen::Index>(h) * d;
        Matrix<Scalar>& A = attention_[c * heads_ + h];  // rows: queries, columns: keys
        A.noalias() = (Q.block(r, begin, d, n).transpose() * K.block(r, begin, d, n)) * scale;
        for (Eigen::Index i = 0; i < n; ++i) {
          auto row = A.row(i);
          const Scalar top = row.maxCoeff();
          row = (row.array() - top).exp().matrix();
          row /= row.sum();
        }
        heads_out_.block(r, begin, d, n).noalias() = V.block(r, begin, d, n) * A.transpose();
      }
    }
    return o_.forward(heads_out_);
  }

  /// The mean over each candidate's steps of forward()'s output, [E, candidates], computed without the
  /// per-step outputs (inference only; backward() does not apply to it). Since the output projection and
  /// the values are affine, mean_i y_i = W_o [per head: W_v (X a) + b_v] + b_o, where a_j is the mean
  /// over queries i of A_ij: the value and output projections run once per candidate, not per step.
  /// A candidate without steps pools to zeros, as forward() followed by a mean does. Every buffer is
  /// grow-only storage: once the largest shapes have been seen, nothing allocates. The result is valid
  /// until the next call.
  typename Scratch<Scalar>::View pooled(const Eigen::Ref<const Matrix<Scalar>>& x,
                                        const std::vector<Eigen::Index>& offsets) {
    const Eigen::Index d = static_cast<Eigen::Index>(dims_ / heads_), E = static_cast<Eigen::Index>(dims_);
    const Scalar scale = Scalar(1) / std::sqrt(static_cast<Scalar>(d));
    auto q = q_pool_.view(E, x.cols()), k = k_pool_.view(E, x.cols());
    q_.apply_into(x, q);
    k_.apply_into(x, k);
    const auto segments = static_cast<Eigen::Index>(offsets.empty() ? 0 : offsets.size() - 1);
    auto heads = pooled_heads_.view(E, segments);
    auto x_mean = x_mean_.view(E, 1);
    const Matrix<Scalar>& Wv = v_.weight();
    const Matrix<Scalar>& bv = v_.bias();
    for (Eigen::Index c = 0; c < segments; ++c) {
      const Eigen::Index begin = offsets[static_cast<std::size_t>(c)],
                         n = offsets[static_cast<std::size_t>(c) + 1] - begin;
      if (n == 0) {
        heads.col(c).setZero();
        continue;
      }
      auto A = a_pool_.view(n, n);
      auto weights = mean_weights_.view(n, 1);
      for (std::size_t h = 0; h < heads_; ++h) {
        const Eigen::Index r = static_cast<Eigen::Index>(h) * d;
        A.noalias() = q.block(r, begin, d, n).transpose() * k.block(r, begin, d, n);
        A *= scale;  // apart from the product: Eigen would evaluate a scaled product into a temporary
        for (Eigen::Index i = 0; i < n; ++i) {
          auto row = A.row(i);
          const Scalar top = row.maxCoeff();
          row = (row.array() - top).exp().matrix();
          row /= row.sum();
        }
        weights.noalias() = A.colwise().mean().transpose();
        x_mean.noalias() = x.middleCols(begin, n) * weights;
        heads.col(c).segment(r, d).noalias() = Wv.middleRows(r, d) * x_mean;
        heads.col(c).segment(r, d) += bv.col(0).segment(r, d);
      }
    }
    auto out = pooled_out_.view(E, segments);
    o_.apply_into(heads, out);
    for (Eigen::Index c = 0; c < segments; ++c)
      if (offsets[static_cast<std::size_t>(c) + 1] == offsets[static_cast<std::size_t>(c)])
        out.col(c).setZero();
    return out;
  }

  /// Single candidate of `length` real steps in the first columns of x; later columns are padding and
  /// come out as zeros.
  const Matrix<Scalar>& forward(const Matrix<Scalar>& x, Eigen::Index length) {
    packed_ = x.leftCols(length);
    const auto& y = forward(packed_, std::vector<Eigen::Index>{0, length});
    padded_out_ = Matrix<Scalar>::Zero(y.rows(), x.cols());
    padded_out_.leftCols(length) = y;
    padded_columns_ = x.cols();
    return padded_out_;
  }

  /// Returns d(loss)/dx with the shape of the last forward's input.
  const Matrix<Scalar>& backward(const Matrix<Scalar>& d_y_in) {
    const bool padded = padded_columns_ > 0;
    const Matrix<Scalar> d_y = padded ? Matrix<Scalar>(d_y_in.leftCols(offsets_.back())) : d_y_in;
    const Eigen::Index d = static_cast<Eigen::Index>(dims_ / heads_);
    const Scalar scale = Scalar(1) / std::sqrt(static_cast<Scalar>(d));
    const Matrix<Scalar> d_heads = o_.backward(d_y);
    const Matrix<Scalar>&Q = *q_out_, &K = *k_out_, &V = *v_out_;
    d_q_ = Matrix<Scalar>::Zero(static_cast<Eigen::Index>(dims_), d_y.cols());
    d_k_ = d_q_;
    d_v_ = d_q_;
    for (std::size_t c = 0; c + 1 < offsets_.size(); ++c) {
      const Eigen::Index begin = offsets_[c], n = offsets_[c + 1] - offsets_[c];
      for (std::size_t h = 0; h < heads_; ++h) {
        const Eigen::Index r = static_cast<Eigen::Index>(h) * d;
        const Matrix<Scalar>& A = attention_[c * heads_ + h];
        const auto dO = d_heads.block(r, begin, d, n);
        d_v_.block(r, begin, d, n).noalias() = dO * A;
        const Matrix<Scalar> dA = dO.transpose() * V.block(r, begin, d, n);
        // Softmax over each row: dS_ij = A_ij (dA_ij - sum_k dA_ik A_ik).
        const Matrix<Scalar> row_dot = dA.cwiseProduct(A).rowwise().sum();
        const Matrix<Scalar> dS = A.cwiseProduct(dA - row_dot.replicate(1, n)) * scale;
        d_q_.block(r, begin, d, n).noalias() = K.block(r, begin, d, n) * dS.transpose();
        d_k_.block(r, begin, d, n).noalias() = Q.block(r, begin, d, n) * dS;
      }
    }
    d_x_ = q_.backward(d_q_);
    d_x_ += k_.backward(d_k_);
    d_x_ += v_.backward(d_v_);
    if (padded) {
      Matrix<Scalar> full = Matrix<Scalar>::Zero(d_x_.rows(), padded_columns_);
      full.leftCols(d_x_.cols()) = d_x_;
      d_x_ = std::move(full);
      padded_columns_ = 0;
    }
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
  std::vector<Eigen::Index> offsets_;
  std::vector<Matrix<Scalar>> attention_;
  Matrix<Scalar> heads_out_, d_q_, d_k_, d_v_, d_x_, packed_, padded_out_;
  Scratch<Scalar> q_pool_, k_pool_, a_pool_, mean_weights_, x_mean_, pooled_heads_,
      pooled_out_;  // pooled()'s
  Eigen::Index padded_columns_ = 0;
  const Matrix<Scalar>*q_out_ = nullptr, *k_out_ = nullptr, *v_out_ = nullptr;
};

}  // namespace crosstune::model
