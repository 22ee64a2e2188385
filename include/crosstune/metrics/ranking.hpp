// crosstune/metrics/ranking.hpp — how well a cost model ranks the candidates of each task.
//
// A cost model is judged by ranking, not by absolute error: a search keeps the candidates it scores
// best. These are the metrics of TenSet and of Verma et al. (exact formulas in docs/metrics.md):
// pairwise comparison accuracy (PCA), top-k score, RMSE of labels, Kendall's tau, each per task and
// aggregated over tasks weighted by test records — or by network occurrence counts for the
// network-weighted versions. Predictions and labels are "higher is better" (labels are normalised
// throughput). Bad input (length mismatch, NaN, empty, bad task offsets) is an Error, not a number.
//
//   // Two tasks: records [0, 3) and [3, 5).
//   std::vector<std::size_t> offsets{0, 3, 5};
//   auto pca = crosstune::metrics::pairwise_comparison_accuracy(pred, label, offsets);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "crosstune/core/expected.hpp"

namespace crosstune::metrics {

namespace detail {
inline Expected<void> check_inputs(std::span<const float> predictions, std::span<const float> labels,
                                   std::string_view metric) {
  auto fail = [&](std::string what) {
    return unexpected(Error(ErrorKind::invalid_argument, std::string(metric) + ": " + what));
  };
  if (predictions.size() != labels.size()) {
    return fail(std::to_string(predictions.size()) + " predictions for " + std::to_string(labels.size()) +
                " labels");
  }
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    if (!std::isfinite(predictions[i]))
      return fail("prediction " + std::to_string(i) + " is not a finite number");
    if (!std::isfinite(labels[i])) return fail("label " + std::to_string(i) + " is not a finite number");
  }
  return {};
}

inline Expected<void> check_groups(std::size_t n, std::span<const std::size_t> offsets,
                                   std::span<const double> task_weights, std::string_view metric) {
  auto fail = [&](std::string what) {
    return unexpected(Error(ErrorKind::invalid_argument, std::string(metric) + ": " + what, {}, 0, 0,
                            "offsets hold T+1 increasing positions from 0 to the number of records"));
  };
  if (offsets.size() < 2) return fail("needs at least one task (offsets of size >= 2)");
  if (offsets.front() != 0 || offsets.back() != n)
    return fail("offsets must start at 0 and end at " + std::to_string(n));
  for (std::size_t t = 1; t < offsets.size(); ++t)
    if (offsets[t] < offsets[t - 1]) return fail("offsets decrease at task " + std::to_string(t - 1));
  if (!task_weights.empty() && task_weights.size() != offsets.size() - 1) {
    return fail(std::to_string(task_weights.size()) + " task weights for " +
                std::to_string(offsets.size() - 1) + " tasks");
  }
  for (double w : task_weights)
    if (!std::isfinite(w) || w < 0) return fail("task weights must be finite and >= 0");
  return {};
}

/// Weighted mean of per-task values; weights default to the records per task.
template <class PerTask>
Expected<double> aggregate(std::span<const float> predictions, std::span<const float> labels,
                           std::span<const std::size_t> offsets, std::span<const double> task_weights,
                           std::string_view metric, PerTask per_task) {
  if (auto ok = check_inputs(predictions, labels, metric); !ok) return unexpected(std::move(ok).error());
  if (auto ok = check_groups(labels.size(), offsets, task_weights, metric); !ok)
    return unexpected(std::move(ok).error());
  double sum = 0, weight_sum = 0;
  for (std::size_t t = 0; t + 1 < offsets.size(); ++t) {
    const std::size_t begin = offsets[t], count = offsets[t + 1] - offsets[t];
    const double w = task_weights.empty() ? static_cast<double>(count) : task_weights[t];
    if (w == 0) continue;
    sum += w * per_task(predictions.subspan(begin, count), labels.subspan(begin, count));
    weight_sum += w;
  }
  if (weight_sum == 0) {
    return unexpected(Error(ErrorKind::invalid_argument,
                            std::string(metric) + ": all tasks have zero weight (no records)"));
  }
  return sum / weight_sum;
}

inline double pca_one(std::span<const float> p, std::span<const float> l) noexcept {
  const std::size_t n = p.size();
  if (n <= 1) return 0.5;
  std::size_t correct = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const float pi = p[i], li = l[i];
    std::uint32_t c = 0;  // per row; 32-bit lanes vectorise better
    // sign(p_i - p_j) == sign(l_i - l_j): symmetric in i and j, so the order of the records never matters.
    for (std::size_t j = i + 1; j < n; ++j)
      c += static_cast<std::uint32_t>(((pi > p[j]) - (pi < p[j])) == ((li > l[j]) - (li < l[j])));
    correct += c;
  }
  return static_cast<double>(correct) / (static_cast<double>(n) * static_cast<double>(n - 1) / 2.0);
}

inline double top_k_one(std::span<const float> p, std::span<const float> l, std::size_t k) {
  if (p.empty()) return 0.0;
  const float best = *std::max_element(l.begin(), l.end());
  if (best <= 0) return 0.0;
  std::vector<std::size_t> order(p.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  const std::size_t kk = std::min(k, p.size());
  // Highest predictions first; ties broken by position so the result is deterministic.
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(kk), order.end(),
                    [&](std::size_t a, std::size_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  float chosen = l[order[0]];
  for (std::size_t i = 1; i < kk; ++i)
    chosen = std::max(chosen, l[order[i]]);
  return static_cast<double>(chosen) / static_cast<double>(best);
}

inline double kendall_one(std::span<const float> p, std::span<const float> l) noexcept {
  const std::size_t n = p.size();
  if (n <= 1) return 0.0;
  // Branch-free counts so the inner loop vectorises: s = sign(p_i - p_j) * sign(l_i - l_j).
  std::int64_t concordant = 0, discordant = 0, ties_p_only = 0, ties_l_only = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const float pi = p[i], li = l[i];
    std::int32_t c = 0, d = 0, tp = 0, tl = 0;  // per row: n < 2^31
    for (std::size_t j = i + 1; j < n; ++j) {
      const int sp = static_cast<int>(pi > p[j]) - static_cast<int>(pi < p[j]);
      const int sl = static_cast<int>(li > l[j]) - static_cast<int>(li < l[j]);
      const int prod = sp * sl;
      c += prod > 0;
      d += prod < 0;
      tp += (sp == 0) & (sl != 0);
      tl += (sl == 0) & (sp != 0);
    }
    concordant += c;
    discordant += d;
    ties_p_only += tp;
    ties_l_only += tl;
  }
  const auto nc = static_cast<double>(concordant), nd = static_cast<double>(discordant);
  const double denominator =
      std::sqrt((nc + nd + static_cast<double>(ties_p_only)) * (nc + nd + static_cast<double>(ties_l_only)));
  return denominator > 0 ? (nc - nd) / denominator : 0.0;
}
}  // namespace detail

/// PCA of one task: the fraction of pairs i < j with (p_i > p_j) == (l_i > l_j). A task with at most one
/// record scores 0.5 (TenSet's convention).
[[nodiscard]] inline Expected<double> pairwise_comparison_accuracy(std::span<const float> predictions,
                                                                   std::span<const float> labels) {
  if (auto ok = detail::check_inputs(predictions, labels, "pairwise_comparison_accuracy"); !ok)
    return unexpected(std::move(ok).error());
  return detail::pca_one(predictions, labels);
}

/// PCA over tasks (records [offsets[t], offsets[t+1]) form task t), weighted by records per task, or by
/// `task_weights` (e.g. occurrences of the task in a network) when given.
[[nodiscard]] inline Expected<double> pairwise_comparison_accuracy(
    std::span<const float> predictions, std::span<const float> labels, std::span<const std::size_t> offsets,
    std::span<const double> task_weights = {}) {
  return detail::aggregate(predictions, labels, offsets, task_weights, "pairwise_comparison_accuracy",
                           [](auto p, auto l) { return detail::pca_one(p, l); });
}

/// Top-k score of one task: the best label among the k highest predictions, over the task's best label.
[[nodiscard]] inline Expected<double> top_k_score(std::span<const float> predictions,
                                                  std::span<const float> labels, std::size_t k) {
  if (auto ok = detail::check_inputs(predictions, labels, "top_k_score"); !ok)
    return unexpected(std::move(ok).error());
  if (k == 0) return unexpected(Error(ErrorKind::invalid_argument, "top_k_score: k must be at least 1"));
  if (predictions.empty()) return unexpected(Error(ErrorKind::invalid_argument, "top_k_score: no records"));
  return detail::top_k_one(predictions, labels, k);
}

/// Top-k score over tasks, weighted as pairwise_comparison_accuracy.
[[nodiscard]] inline Expected<double> top_k_score(std::span<const float> predictions,
                                                  std::span<const float> labels,
                                                  std::span<const std::size_t> offsets, std::size_t k,
                                                  std::span<const double> task_weights = {}) {
  if (k == 0) return unexpected(Error(ErrorKind::invalid_argument, "top_k_score: k must be at least 1"));
  return detail::aggregate(predictions, labels, offsets, task_weights, "top_k_score",
                           [k](auto p, auto l) { return detail::top_k_one(p, l, k); });
}

/// Root-mean-square error between predictions and labels over all records.
[[nodiscard]] inline Expected<double> rmse(std::span<const float> predictions,
                                           std::span<const float> labels) {
  if (auto ok = detail::check_inputs(predictions, labels, "rmse"); !ok)
    return unexpected(std::move(ok).error());
  if (predictions.empty()) return unexpected(Error(ErrorKind::invalid_argument, "rmse: no records"));
  double sum = 0;
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    const double d = static_cast<double>(predictions[i]) - static_cast<double>(labels[i]);
    sum += d * d;
  }
  return std::sqrt(sum / static_cast<double>(predictions.size()));
}

/// Kendall's tau-b of one task (ties counted as in tau-b; 0 when undefined, e.g. all labels equal).
[[nodiscard]] inline Expected<double> kendall_tau(std::span<const float> predictions,
                                                  std::span<const float> labels) {
  if (auto ok = detail::check_inputs(predictions, labels, "kendall_tau"); !ok)
    return unexpected(std::move(ok).error());
  return detail::kendall_one(predictions, labels);
}

/// Kendall's tau-b over tasks, weighted as pairwise_comparison_accuracy.
[[nodiscard]] inline Expected<double> kendall_tau(std::span<const float> predictions,
                                                  std::span<const float> labels,
                                                  std::span<const std::size_t> offsets,
                                                  std::span<const double> task_weights = {}) {
  return detail::aggregate(predictions, labels, offsets, task_weights, "kendall_tau",
                           [](auto p, auto l) { return detail::kendall_one(p, l); });
}

/// Every metric at once, as reported by the CLI and the benchmarks.
struct RankingReport {
  double pairwise_comparison_accuracy = 0;
  double top1 = 0, top5 = 0, top10 = 0;
  double rmse = 0;
  double kendall_tau = 0;
};

[[nodiscard]] inline Expected<RankingReport> evaluate_ranking(std::span<const float> predictions,
                                                              std::span<const float> labels,
                                                              std::span<const std::size_t> offsets,
                                                              std::span<const double> task_weights = {}) {
  RankingReport r;
  auto pca = pairwise_comparison_accuracy(predictions, labels, offsets, task_weights);
  if (!pca) return unexpected(std::move(pca).error());
  r.pairwise_comparison_accuracy = *pca;
  r.top1 = *top_k_score(predictions, labels, offsets, 1, task_weights);
  r.top5 = *top_k_score(predictions, labels, offsets, 5, task_weights);
  r.top10 = *top_k_score(predictions, labels, offsets, 10, task_weights);
  r.rmse = *rmse(predictions, labels);
  r.kendall_tau = *kendall_tau(predictions, labels, offsets, task_weights);
  return r;
}

}  // namespace crosstune::metrics
