// crosstune/model/parallel.hpp — batch-parallel training steps and prediction on TBB.
//
// A mini-batch is cut into `threads` contiguous parts; part p runs forward and backward on its own copy
// of the network (a replica), and the replicas' gradients are summed into the master in part order. The
// cut depends only on the batch size and the thread count, never on scheduling, so training is
// deterministic for a given seed and thread count. With one thread the master runs the whole batch
// itself. Prediction cuts the candidates into chunks that the replicas score side by side; once each
// replica has scored its largest chunk, it allocates nothing (the networks' score() keep grow-only buffers).
//
// Both work on any network with forward/score/backward/zero_grad/parameters and a copy constructor:
// BiLstmAttentionNet and the MLP baseline (model/mlp.hpp).
//
//   crosstune::model::TrainStep step(net, {.learning_rate = 1e-3f}, /*threads=*/2);
//   const float loss = step.run(batch, labels, task_ids);
//   crosstune::model::Predictor<BiLstmAttentionNet<float>> predictor(/*threads=*/2);
//   predictor.predict(net, candidates, scores);
#pragma once

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "crosstune/features/feature_batch.hpp"
#include "crosstune/model/matrix.hpp"
#include "crosstune/model/network.hpp"
#include "crosstune/model/optim.hpp"
#include "crosstune/model/parameter.hpp"

namespace crosstune::model {

enum class Loss { mse, rank, mse_and_rank };

/// The options of one optimisation step (a subset of TrainOptions).
struct StepOptions {
  float learning_rate = 1e-3f;
  float weight_decay = 0.0f;
  float clip_norm = 1.0f;  ///< global gradient norm limit (0: no clipping)
  Loss loss = Loss::mse_and_rank;
  float rank_weight = 1.0f;    ///< weight of the rank loss in mse_and_rank
  std::vector<bool> frozen{};  ///< parameters (in parameters() order) left unchanged
};

/// Threads to use for `requested` (0: every core TBB may use).
[[nodiscard]] inline std::size_t resolve_threads(std::size_t requested) {
  return requested > 0 ? requested : static_cast<std::size_t>(tbb::info::default_concurrency());
}

/// An arena for `threads` parts; never more threads than TBB may run, since the cut, not the arena,
/// fixes the results.
[[nodiscard]] inline std::unique_ptr<tbb::task_arena> make_arena(std::size_t threads) {
  const auto cores = static_cast<std::size_t>(tbb::info::default_concurrency());
  return std::make_unique<tbb::task_arena>(static_cast<int>(std::min(threads, cores)));
}

/// Copies of a master network, one per worker, whose weights follow the master's.
template <class Net>
class Replicas {
  static_assert(require_network<Net>());

 public:
  using Scalar = typename Net::scalar_type;

  /// Ensures `count` copies of `master` exist and hold its current weights.
  void sync(Net& master, std::size_t count) {
    if (copies_.size() != count || master_ != &master) {
      master_ = &master;
      master_params_ = master.parameters();
      copies_.clear();
      copy_params_.clear();
      for (std::size_t i = 0; i < count; ++i) {
        copies_.push_back(std::make_unique<Net>(master));
        copy_params_.push_back(copies_.back()->parameters());
      }
      return;
    }
    for (const auto& to : copy_params_)
      for (std::size_t i = 0; i < master_params_.size(); ++i)
        *to[i].value = *master_params_[i].value;
  }
  [[nodiscard]] std::size_t size() const noexcept { return copies_.size(); }
  Net& operator[](std::size_t i) { return *copies_[i]; }
  /// The parameters of copy i, in parameters() order.
  [[nodiscard]] const std::vector<Parameter<Scalar>>& parameters(std::size_t i) const {
    return copy_params_[i];
  }

 private:
  Net* master_ = nullptr;
  std::vector<Parameter<Scalar>> master_params_;
  std::vector<std::unique_ptr<Net>> copies_;
  std::vector<std::vector<Parameter<Scalar>>> copy_params_;
};

/// One optimisation step at a time on mini-batches: forward, loss, backward, clipping, Adam.
template <class Net>
class TrainStep {
  static_assert(require_network<Net>());

 public:
  using Scalar = typename Net::scalar_type;

  TrainStep(Net& net, StepOptions options, std::size_t threads = 1)
      : net_(net),
        options_(std::move(options)),
        threads_(resolve_threads(threads)),
        arena_(make_arena(threads_)),
        adam_({.learning_rate = static_cast<Scalar>(options_.learning_rate),
               .weight_decay = static_cast<Scalar>(options_.weight_decay)}) {}

  [[nodiscard]] std::size_t threads() const noexcept { return threads_; }

  /// Changes the learning rate of the following steps (for schedules); Adam's moments are kept.
  void set_learning_rate(float lr) noexcept { adam_.set_learning_rate(static_cast<Scalar>(lr)); }

  /// Trains on every candidate of `batch` (labels and task ids per candidate); returns the loss before
  /// the update.
  Scalar run(const features::FeatureBatch& batch, std::span<const float> labels,
             std::span<const std::uint32_t> tasks) {
    const std::size_t n = batch.size();
    const std::size_t parts = std::min(threads_, n);
    scores_.resize(1, static_cast<Eigen::Index>(n));
    if (parts <= 1) {
      scores_ = net_.forward(batch);
    } else {
      replicas_.sync(net_, parts);
      arena_->execute([&] {
        tbb::parallel_for(std::size_t{0}, parts, [&](std::size_t p) {
          const auto [first, count] = part(p, parts, n);
          scores_.middleCols(static_cast<Eigen::Index>(first), static_cast<Eigen::Index>(count)) =
              replicas_[p].forward(batch, first, count);
        });
      });
    }
    Scalar loss = 0;
    grad_ = Matrix<Scalar>::Zero(1, scores_.cols());
    if (options_.loss != Loss::rank) {
      auto [l, g] = mse_loss(scores_, labels);
      loss += l;
      grad_ += g;
    }
    if (options_.loss != Loss::mse) {
      auto [l, g] = pairwise_rank_loss(scores_, labels, tasks);
      const auto w = options_.loss == Loss::rank ? Scalar(1) : static_cast<Scalar>(options_.rank_weight);
      loss += w * l;
      grad_ += w * g;
    }
    net_.zero_grad();
    const auto params = net_.parameters();
    if (parts <= 1) {
      net_.backward(grad_);
    } else {
      arena_->execute([&] {
        tbb::parallel_for(std::size_t{0}, parts, [&](std::size_t p) {
          const auto [first, count] = part(p, parts, n);
          replicas_[p].zero_grad();
          replicas_[p].backward(
              grad_.middleCols(static_cast<Eigen::Index>(first), static_cast<Eigen::Index>(count)));
        });
      });
      for (std::size_t p = 0; p < parts; ++p) {
        const auto& from = replicas_.parameters(p);
        for (std::size_t i = 0; i < params.size(); ++i)
          *params[i].grad += *from[i].grad;
      }
    }
    clip_gradients(params, static_cast<Scalar>(options_.clip_norm));
    adam_.step(params, options_.frozen);
    return loss;
  }

 private:
  /// Candidates [first, first + count) of part p of n candidates cut into `parts`.
  static std::pair<std::size_t, std::size_t> part(std::size_t p, std::size_t parts, std::size_t n) {
    const std::size_t first = n * p / parts, last = n * (p + 1) / parts;
    return {first, last - first};
  }

  Net& net_;
  StepOptions options_;
  std::size_t threads_;
  std::unique_ptr<tbb::task_arena> arena_;  // held by pointer: task_arena cannot move
  Adam<Scalar> adam_;
  Replicas<Net> replicas_;
  Matrix<Scalar> scores_, grad_;
};

/// Scores candidates in chunks, the chunks spread over `threads` copies of the network.
template <class Net>
class Predictor {
  static_assert(require_network<Net>());

 public:
  using Scalar = typename Net::scalar_type;

  explicit Predictor(std::size_t threads = 0, std::size_t chunk = 256)
      : threads_(resolve_threads(threads)),
        chunk_(std::max<std::size_t>(chunk, 1)),
        arena_(make_arena(threads_)) {}

  [[nodiscard]] std::size_t threads() const noexcept { return threads_; }

  /// Scores every candidate of `batch` into `scores` (size batch.size()) with `net`'s current weights.
  void predict(Net& net, const features::FeatureBatch& batch, std::span<float> scores) {
    // Chunks of at most chunk_ candidates, smaller when that leaves a thread idle (at least 8, below
    // which the GEMMs get too thin to pay for the thread).
    const std::size_t n = batch.size();
    const std::size_t chunk = std::min(chunk_, std::max<std::size_t>((n + threads_ - 1) / threads_, 8));
    const std::size_t chunks = (n + chunk - 1) / chunk, workers = std::min(threads_, chunks);
    auto score = [&](Net& worker, std::size_t c) {
      const std::size_t first = c * chunk, count = std::min(chunk, n - first);
      const auto& s = worker.score(batch, first, count);
      for (std::size_t i = 0; i < count; ++i)
        scores[first + i] = static_cast<float>(s(0, static_cast<Eigen::Index>(i)));
    };
    if (workers <= 1) {
      for (std::size_t c = 0; c < chunks; ++c)
        score(net, c);
      return;
    }
    replicas_.sync(net, workers);
    // Worker w scores chunks w, w + workers, ...: a fixed assignment, so each copy is used by one task.
    arena_->execute([&] {
      tbb::parallel_for(std::size_t{0}, workers, [&](std::size_t w) {
        for (std::size_t c = w; c < chunks; c += workers)
          score(replicas_[w], c);
      });
    });
  }

 private:
  std::size_t threads_, chunk_;
  std::unique_ptr<tbb::task_arena> arena_;  // held by pointer: task_arena cannot move
  Replicas<Net> replicas_;
};

}  // namespace crosstune::model
