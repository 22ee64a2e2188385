// crosstune/model/optim.hpp — Adam with decoupled weight decay, gradient clipping, and the training losses.
//
// Losses take scores s and labels y (normalised throughput, 1 = the task's best) of a mini-batch and
// return the loss and d(loss)/d(scores):
//  * mse_loss: mean (s_i - y_i)^2, whose root is the paper's RMSE objective;
//  * pairwise_rank_loss: mean over pairs of the same task with y_i > y_j of log(1 + exp(-(s_i - s_j))),
//    the within-task ranking objective (a logistic RankNet loss).
//
//   crosstune::model::Adam<float> adam({.learning_rate = 1e-3f});
//   auto [loss, grad] = crosstune::model::mse_loss(scores, labels);
//   net.zero_grad(); net.backward(grad); clip_gradients(net.parameters(), 1.0f); adam.step(net.parameters());
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "crosstune/model/matrix.hpp"
#include "crosstune/model/parameter.hpp"

namespace crosstune::model {

template <class Scalar>
struct AdamOptions {
  Scalar learning_rate = Scalar(1e-3);
  Scalar beta1 = Scalar(0.9);
  Scalar beta2 = Scalar(0.999);
  Scalar epsilon = Scalar(1e-8);
  Scalar weight_decay = Scalar(0);  ///< decoupled (AdamW): w -= lr * weight_decay * w
};

/// Adam (Kingma & Ba) over a fixed list of parameters; moment buffers are created on the first step.
template <class Scalar>
class Adam {
 public:
  explicit Adam(AdamOptions<Scalar> options = {}) : options_(options) {}

  [[nodiscard]] const AdamOptions<Scalar>& options() const noexcept { return options_; }
  void set_learning_rate(Scalar lr) noexcept { options_.learning_rate = lr; }
  [[nodiscard]] std::size_t steps() const noexcept { return step_; }

  /// One update. `frozen[i]` true leaves parameter i unchanged (for fine-tuning with frozen layers).
  void step(const std::vector<Parameter<Scalar>>& params, const std::vector<bool>& frozen = {}) {
    if (m_.empty()) {
      for (const auto& p : params) {
        m_.push_back(Matrix<Scalar>::Zero(p.value->rows(), p.value->cols()));
        v_.push_back(Matrix<Scalar>::Zero(p.value->rows(), p.value->cols()));
      }
    }
    ++step_;
    const Scalar c1 = Scalar(1) - std::pow(options_.beta1, static_cast<Scalar>(step_));
    const Scalar c2 = Scalar(1) - std::pow(options_.beta2, static_cast<Scalar>(step_));
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (!frozen.empty() && frozen[i]) continue;
      auto& w = *params[i].value;
      const auto& g = *params[i].grad;
      m_[i] = options_.beta1 * m_[i] + (Scalar(1) - options_.beta1) * g;
      v_[i] = options_.beta2 * v_[i] + (Scalar(1) - options_.beta2) * g.cwiseProduct(g);
      if (options_.weight_decay > 0) w *= Scalar(1) - options_.learning_rate * options_.weight_decay;
      w.array() -=
          options_.learning_rate * (m_[i].array() / c1) / ((v_[i].array() / c2).sqrt() + options_.epsilon);
    }
  }

 private:
  AdamOptions<Scalar> options_;
  std::size_t step_ = 0;
  std::vector<Matrix<Scalar>> m_, v_;
};

/// Scales all gradients so that their global L2 norm is at most `max_norm`; returns the norm before.
template <class Scalar>
Scalar clip_gradients(const std::vector<Parameter<Scalar>>& params, Scalar max_norm) {
  Scalar sq = 0;
  for (const auto& p : params)
    sq += p.grad->squaredNorm();
  const Scalar norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm) {
    const Scalar scale = max_norm / norm;
    for (const auto& p : params)
      *p.grad *= scale;
  }
  return norm;
}

/// Mean squared error and its gradient with respect to the scores ([1, B]).
template <class Scalar>
std::pair<Scalar, Matrix<Scalar>> mse_loss(const Matrix<Scalar>& scores, std::span<const float> labels) {
  const auto B = scores.cols();
  Matrix<Scalar> grad(1, B);
  Scalar loss = 0;
  for (Eigen::Index b = 0; b < B; ++b) {
    const Scalar diff = scores(0, b) - static_cast<Scalar>(labels[static_cast<std::size_t>(b)]);
    loss += diff * diff;
    grad(0, b) = Scalar(2) * diff / static_cast<Scalar>(B);
  }
  return {B ? loss / static_cast<Scalar>(B) : Scalar(0), grad};
}

/// Logistic pairwise ranking loss over pairs of the same group (task) whose labels differ, and its gradient.
template <class Scalar>
std::pair<Scalar, Matrix<Scalar>> pairwise_rank_loss(const Matrix<Scalar>& scores,
                                                     std::span<const float> labels,
                                                     std::span<const std::uint32_t> groups) {
  const auto B = scores.cols();
  Matrix<Scalar> grad = Matrix<Scalar>::Zero(1, B);
  Scalar loss = 0;
  std::size_t pairs = 0;
  for (Eigen::Index i = 0; i < B; ++i) {
    for (Eigen::Index j = 0; j < B; ++j) {
      const auto ui = static_cast<std::size_t>(i), uj = static_cast<std::size_t>(j);
      if (groups[ui] != groups[uj] || !(labels[ui] > labels[uj])) continue;
      const Scalar margin = scores(0, i) - scores(0, j);
      // log(1 + exp(-m)), computed stably; its derivative in m is -sigmoid(-m).
      loss += margin > 0 ? std::log1p(std::exp(-margin)) : -margin + std::log1p(std::exp(margin));
      const Scalar g = -Scalar(1) / (Scalar(1) + std::exp(margin));
      grad(0, i) += g;
      grad(0, j) -= g;
      ++pairs;
    }
  }
  if (pairs == 0) return {Scalar(0), grad};
  grad /= static_cast<Scalar>(pairs);
  return {loss / static_cast<Scalar>(pairs), grad};
}

}  // namespace crosstune::model
