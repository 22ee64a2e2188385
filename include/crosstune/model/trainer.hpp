// crosstune/model/trainer.hpp — train and apply a cost-model network on extracted features.
//
// Mini-batches are drawn within tasks (a batch holds records of one task, as TenSet trains), so the
// pairwise rank loss always has pairs to compare; the order of batches is shuffled with the Rng, so a
// seed gives the same model. Each epoch reports its training loss and, given a validation set, its
// pairwise comparison accuracy; the weights of the best validation epoch are kept (early stopping after
// `patience` epochs without improvement). predict() scores any number of candidates in chunks. Every
// function is a template over the network (BiLstmAttentionNet, the MLP baseline's PooledMlpNet, or
// another with the same members), so this header needs none of them.
//
//   auto report = crosstune::model::train(net, train_batch, labels, task_ids, &validation, options, rng);
//   std::vector<float> scores(n);
//   crosstune::model::predict(net, batch, scores);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/metrics/ranking.hpp"
#include "crosstune/model/matrix.hpp"
#include "crosstune/model/optim.hpp"
#include "crosstune/model/parallel.hpp"

namespace crosstune::model {

/// How the learning rate changes over training.
enum class LrSchedule { constant, cosine };

/// Learning rate after `done` of `total` mini-batches under `schedule` (cosine: half a cosine period from
/// `lr` to `lr * final_ratio`).
[[nodiscard]] inline float scheduled_learning_rate(LrSchedule schedule, float lr, float final_ratio,
                                                   std::size_t done, std::size_t total) noexcept {
  if (schedule == LrSchedule::constant || total <= 1) return lr;
  const double t = std::min(1.0, static_cast<double>(done) / static_cast<double>(total - 1));
  const double pi = 3.14159265358979323846;
  const double factor = final_ratio + (1.0 - final_ratio) * 0.5 * (1.0 + std::cos(pi * t));
  return static_cast<float>(lr * factor);
}

struct TrainOptions {
  std::size_t epochs = 30;
  std::size_t batch_size = 16;
  float learning_rate = 1e-3f;
  /// Learning rate over training: constant, or cosine decay per mini-batch from learning_rate down to
  /// learning_rate * final_lr_ratio at the last planned batch (epochs * batches per epoch).
  LrSchedule schedule = LrSchedule::constant;
  float final_lr_ratio = 0.05f;
  float weight_decay = 0.0f;
  float clip_norm = 1.0f;  ///< global gradient norm limit (0: no clipping)
  Loss loss = Loss::mse_and_rank;
  float rank_weight = 1.0f;  ///< weight of the rank loss in mse_and_rank
  std::size_t patience = 5;  ///< epochs without a better validation PCA before stopping (0: never stop early)
  /// Threads for batch-parallel gradients and validation (0: every core). Results are deterministic for
  /// a seed and a thread count; a different thread count sums gradients in a different order.
  std::size_t threads = 0;
  /// Parameters (in BiLstmAttentionNet::parameters() order) left unchanged: fine-tuning with frozen layers.
  std::vector<bool> frozen{};
  /// Called after every epoch with (epoch, training loss, validation PCA or -1); for progress output.
  std::function<void(std::size_t, double, double)> on_epoch{};
  /// Called after every mini-batch with (epoch, batches done in it, batches in it); for progress bars.
  std::function<void(std::size_t, std::size_t, std::size_t)> on_batch{};
};

/// Labelled candidates: features plus a label and a task id per candidate.
struct LabelledBatch {
  const features::FeatureBatch* features = nullptr;
  std::span<const float> labels;
  std::span<const std::uint32_t> tasks;
};

struct TrainReport {
  std::vector<double> train_loss;      ///< per epoch
  std::vector<double> validation_pca;  ///< per epoch, when a validation set was given
  std::size_t best_epoch = 0;          ///< epoch whose weights were kept
  bool stopped_early = false;
};

/// Copies candidates `rows` of `from` into `to` (reusing its buffers).
inline void gather(const features::FeatureBatch& from, std::span<const std::size_t> rows,
                   features::FeatureBatch& to) {
  const std::size_t S = from.steps.shape()[1], D = from.steps.shape()[2], W = from.workload.shape()[1],
                    H = from.hardware.shape()[1];
  to.reshape(rows.size(), {"", 0, D, S, W, H});
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::size_t r = rows[i];
    std::copy_n(from.steps.data() + r * S * D, S * D, to.steps.data() + i * S * D);
    std::copy_n(from.mask.data() + r * S, S, to.mask.data() + i * S);
    std::copy_n(from.workload.data() + r * W, W, to.workload.data() + i * W);
    std::copy_n(from.hardware.data() + r * H, H, to.hardware.data() + i * H);
    to.lengths[i] = from.lengths[r];
    to.truncated[i] = from.truncated[r];
  }
}

/// Scores every candidate of `batch` into `scores` (size batch.size()) on the calling thread, in chunks of
/// `chunk` read in place. Predictor (model/parallel.hpp) does the same on several threads.
template <class Net>
void predict(Net& net, const features::FeatureBatch& batch, std::span<float> scores,
             std::size_t chunk = 256) {
  static_assert(require_network<Net>());
  for (std::size_t first = 0; first < batch.size(); first += chunk) {
    const std::size_t count = std::min(batch.size() - first, chunk);
    const auto& s = net.score(batch, first, count);
    for (std::size_t i = 0; i < count; ++i)
      scores[first + i] = static_cast<float>(s(0, static_cast<Eigen::Index>(i)));
  }
}

/// Options a training run can use: at least one epoch and one candidate a batch, a positive learning
/// rate, and every other number finite and in its range. User-supplied options go through here.
[[nodiscard]] inline Expected<void> validate(const TrainOptions& o) {
  auto bad = [](const std::string& what, const std::string& hint) {
    return unexpected(Error(ErrorKind::invalid_argument, "train: " + what, {}, 0, 0, hint));
  };
  if (o.epochs == 0) return bad("epochs must be at least 1", "an untrained model is not worth a file");
  if (o.batch_size == 0) return bad("batch_size must be at least 1", "the usual size is 16");
  if (!(o.learning_rate > 0.0f && std::isfinite(o.learning_rate)))
    return bad("learning_rate " + std::to_string(o.learning_rate) + " is not a positive number", "try 1e-3");
  if (!(o.final_lr_ratio >= 0.0f && o.final_lr_ratio <= 1.0f)) {
    return bad("final_lr_ratio " + std::to_string(o.final_lr_ratio) + " is outside [0, 1]",
               "it is the cosine schedule's last rate over the first, e.g. 0.05");
  }
  if (!(o.weight_decay >= 0.0f && std::isfinite(o.weight_decay)))
    return bad("weight_decay " + std::to_string(o.weight_decay) + " is not a number >= 0", "0 turns it off");
  if (!(o.clip_norm >= 0.0f && std::isfinite(o.clip_norm)))
    return bad("clip_norm " + std::to_string(o.clip_norm) + " is not a number >= 0", "0 turns clipping off");
  if (!(o.rank_weight >= 0.0f && std::isfinite(o.rank_weight)))
    return bad("rank_weight " + std::to_string(o.rank_weight) + " is not a number >= 0", "the default is 1");
  return {};
}

/// A training set a model can learn from: as many labels and task ids as candidates, and at least one.
[[nodiscard]] inline Expected<void> check_labelled(const LabelledBatch& data) {
  const std::size_t n = data.features->size();
  if (n == 0 || data.labels.size() != n || data.tasks.size() != n) {
    return unexpected(Error(ErrorKind::invalid_argument,
                            "train: features, labels and task ids must have the same, non-zero count"));
  }
  return {};
}

/// predict()'s arguments for a model reading `layout`: a batch of that layout and one score slot per
/// candidate.
[[nodiscard]] inline Expected<void> check_predict_args(const features::FeatureLayout& layout,
                                                       const features::FeatureBatch& batch,
                                                       std::span<const float> scores) {
  if (auto ok = features::check_batch(layout, batch); !ok) return ok;
  if (scores.size() != batch.size()) {
    return unexpected(Error(ErrorKind::invalid_argument, "predict: " + std::to_string(scores.size()) +
                                                             " score slots for " +
                                                             std::to_string(batch.size()) + " candidates"));
  }
  return {};
}

/// Pairwise comparison accuracy of `scores` against `labels` within each task (candidates in any order,
/// grouped by `tasks`), weighted by records.
[[nodiscard]] inline Expected<double> task_pca(std::span<const float> scores, std::span<const float> labels,
                                               std::span<const std::uint32_t> tasks) {
  const std::size_t n = scores.size();
  if (labels.size() != n || tasks.size() != n) {
    return unexpected(Error(ErrorKind::invalid_argument, "task_pca: " + std::to_string(n) + " scores, " +
                                                             std::to_string(labels.size()) + " labels and " +
                                                             std::to_string(tasks.size()) + " task ids"));
  }
  // Group by task: order candidates by task id (stable), offsets at task boundaries.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return tasks[a] < tasks[b]; });
  std::vector<float> p(n), l(n);
  std::vector<std::size_t> offsets{0};
  for (std::size_t i = 0; i < n; ++i) {
    p[i] = scores[order[i]];
    l[i] = labels[order[i]];
    if (i + 1 == n || tasks[order[i + 1]] != tasks[order[i]]) offsets.push_back(i + 1);
  }
  return metrics::pairwise_comparison_accuracy(p, l, offsets);
}

/// Pairwise comparison accuracy of the net on labelled candidates, per task, weighted by records.
template <class Net>
[[nodiscard]] Expected<double> evaluate_pca(Net& net, const LabelledBatch& data, Predictor<Net>& predictor) {
  std::vector<float> scores(data.features->size());
  predictor.predict(net, *data.features, scores);
  return task_pca(scores, data.labels, data.tasks);
}

/// evaluate_pca on `threads` threads (0: every core).
template <class Net>
[[nodiscard]] Expected<double> evaluate_pca(Net& net, const LabelledBatch& data, std::size_t threads = 0) {
  Predictor<Net> predictor(threads);
  return evaluate_pca(net, data, predictor);
}

/// Trains `net` on `train` (and watches `validation`, if given). Deterministic for the Rng's seed and
/// options.threads.
template <class Net>
[[nodiscard]] Expected<TrainReport> train(Net& net, const LabelledBatch& train_set,
                                          const LabelledBatch* validation, const TrainOptions& options,
                                          Rng& rng) {
  static_assert(require_network<Net>());
  if (auto ok = check_labelled(train_set); !ok) return unexpected(std::move(ok).error());
  if (auto ok = validate(options); !ok) return unexpected(std::move(ok).error());
  const std::size_t n = train_set.features->size();
  std::map<std::uint32_t, std::vector<std::size_t>> by_task;
  for (std::size_t i = 0; i < n; ++i)
    by_task[train_set.tasks[i]].push_back(i);

  using Scalar = typename Net::scalar_type;
  TrainStep<Net> step(net,
                      {.learning_rate = options.learning_rate,
                       .weight_decay = options.weight_decay,
                       .clip_norm = options.clip_norm,
                       .loss = options.loss,
                       .rank_weight = options.rank_weight,
                       .frozen = options.frozen},
                      options.threads);
  Predictor<Net> predictor(options.threads);
  TrainReport report;
  double best = -1;
  std::vector<Matrix<Scalar>> best_weights, initial_weights;
  for (auto p : net.parameters())
    initial_weights.push_back(*p.value);
  std::size_t since_best = 0;
  features::FeatureBatch batch;
  std::vector<float> labels;
  std::vector<std::uint32_t> tasks;
  for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
    // Batches within tasks, in shuffled order.
    std::vector<std::vector<std::size_t>> batches;
    for (auto& [task, rows] : by_task) {
      rng.shuffle(std::span<std::size_t>(rows));
      for (std::size_t b = 0; b < rows.size(); b += options.batch_size)
        batches.emplace_back(
            rows.begin() + static_cast<std::ptrdiff_t>(b),
            rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), b + options.batch_size)));
    }
    rng.shuffle(std::span<std::vector<std::size_t>>(batches));
    double epoch_loss = 0;
    std::size_t done = 0;
    for (const auto& rows : batches) {
      step.set_learning_rate(scheduled_learning_rate(options.schedule, options.learning_rate,
                                                     options.final_lr_ratio, epoch * batches.size() + done,
                                                     options.epochs * batches.size()));
      gather(*train_set.features, rows, batch);
      labels.resize(rows.size());
      tasks.resize(rows.size());
      for (std::size_t i = 0; i < rows.size(); ++i) {
        labels[i] = train_set.labels[rows[i]];
        tasks[i] = train_set.tasks[rows[i]];
      }
      const Scalar loss = step.run(batch, labels, tasks);
      epoch_loss += static_cast<double>(loss);
      if (options.on_batch) options.on_batch(epoch, ++done, batches.size());
    }
    report.train_loss.push_back(epoch_loss / static_cast<double>(std::max<std::size_t>(batches.size(), 1)));
    if (!std::isfinite(report.train_loss.back())) {
      // The weights are no longer numbers: give the network back its best (or its first) weights, so the
      // caller holds a usable model, and report the run as failed.
      std::size_t i = 0;
      for (auto p : net.parameters())
        *p.value = best_weights.empty() ? initial_weights[i++] : best_weights[i++];
      return unexpected(
          Error(ErrorKind::invalid_argument,
                "training diverged in epoch " + std::to_string(epoch + 1) + " (the loss is " +
                    std::to_string(report.train_loss.back()) + "); the network is back to " +
                    (best_weights.empty() ? "its weights before the run" : "the weights of its best epoch"),
                {}, 0, 0, "lower the learning rate"));
    }
    if (validation) {
      auto pca = evaluate_pca(net, *validation, predictor);
      if (!pca) return unexpected(std::move(pca).error());
      report.validation_pca.push_back(*pca);
      if (options.on_epoch) options.on_epoch(epoch, report.train_loss.back(), *pca);
      if (*pca > best) {
        best = *pca;
        report.best_epoch = epoch;
        since_best = 0;
        best_weights.clear();
        for (auto p : net.parameters())
          best_weights.push_back(*p.value);
      } else if (options.patience > 0 && ++since_best >= options.patience) {
        report.stopped_early = true;
        break;
      }
    } else {
      report.best_epoch = epoch;
      if (options.on_epoch) options.on_epoch(epoch, report.train_loss.back(), -1.0);
    }
  }
  if (!best_weights.empty()) {
    std::size_t i = 0;
    for (auto p : net.parameters())
      *p.value = best_weights[i++];
  }
  return report;
}

/// A CostModel's predict(): refuses a batch of another feature layout or a wrong number of score slots,
/// then scores with `predictor`.
template <class Net>
[[nodiscard]] Expected<void> checked_predict(const features::FeatureLayout& layout, Predictor<Net>& predictor,
                                             Net& net, const features::FeatureBatch& batch,
                                             std::span<float> scores) {
  if (auto ok = check_predict_args(layout, batch, scores); !ok) return ok;
  predictor.predict(net, batch, scores);
  return {};
}

/// A CostModel's fit() and fine-tuning: refuses features of another layout, then trains.
template <class Net>
[[nodiscard]] Expected<TrainReport> checked_train(const features::FeatureLayout& layout, Net& net,
                                                  const LabelledBatch& train_set,
                                                  const LabelledBatch* validation,
                                                  const TrainOptions& options, Rng& rng) {
  if (auto ok = features::check_batch(layout, *train_set.features); !ok)
    return unexpected(std::move(ok).error());
  return train(net, train_set, validation, options, rng);
}

}  // namespace crosstune::model
