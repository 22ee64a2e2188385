// crosstune/data/samplers.hpp — choose which records to train on (Sampler policies), and which tasks
// of a network to tune first.
//
// Training on every record of a large dataset costs time without buying accuracy (Verma et al., section
// 3.2: pruning TenSet to 53–57 % of its records left pairwise accuracy unchanged). Three samplers
// satisfy the Sampler concept (`select(const Dataset&, Rng&) -> Selection`):
//
//  * UniformSampler: the same random share of every task.
//  * FlopsWeightedSampler: a record budget shared among tasks in proportion to their FLOPs.
//  * HardwareAwareSampler: the paper's pruning for a target hardware: keep the operator types the target
//    runs, the fastest records of every task (they decide rankings), a thinned sample of the slow
//    ones, and cap redundant tasks per (operator, FLOPs bucket).
//
// select_tasks_by_flops() picks the tasks that cover a share of a network's FLOPs (transfer-tuning's
// order of work). Every function is deterministic for a given Rng seed.
//
// Knobs that come from a user go through each sampler's make(), which returns an Error for a value out
// of range (a fraction of -0.3, 2 or NaN); select() on a sampler whose knobs are out of range throws
// ErrorException with the same Error, since reaching it is a programming mistake.
//
//   crosstune::Rng rng(0);
//   auto kept = crosstune::data::HardwareAwareSampler{.target = "v100"}.select(dataset, rng);
//   std::cout << "kept " << kept.kept_fraction * 100 << "% of the records\n";
//   auto sampler = crosstune::data::UniformSampler::make(user_fraction);   // Expected<UniformSampler>
//   if (!sampler) return fail(sampler.error());
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "crosstune/core/rng.hpp"
#include "crosstune/data/dataset.hpp"
#include "crosstune/data/splits.hpp"

namespace crosstune::data {

/// The records a sampler kept, sorted by (task, record), and what share of the dataset that is.
struct Selection {
  std::vector<RecordRef> records;
  double kept_fraction = 0;  ///< records.size() / dataset records
};

namespace detail {
inline Selection finish(std::vector<RecordRef> records, const Dataset& ds) {
  std::sort(records.begin(), records.end());
  Selection s;
  s.kept_fraction =
      ds.records() ? static_cast<double>(records.size()) / static_cast<double>(ds.records()) : 0.0;
  s.records = std::move(records);
  return s;
}
/// `count` distinct record indices of a task of `n` records, chosen with rng.
inline std::vector<std::size_t> choose(std::size_t n, std::size_t count, Rng& rng) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  rng.shuffle(std::span<std::size_t>(order));
  order.resize(std::min(count, n));
  return order;
}
inline std::size_t rounded_share(double fraction, std::size_t n) {
  return static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n)));
}
/// An Error unless lo <= value <= hi (with lo excluded when `lo_open`); NaN is always out of range.
inline Expected<void> check_fraction(const char* sampler, const char* knob, double value, bool lo_open) {
  const bool ok = (lo_open ? value > 0.0 : value >= 0.0) && value <= 1.0;
  if (ok) return {};
  return unexpected(Error(ErrorKind::invalid_argument,
                          std::string(sampler) + ": " + knob + " must be in " +
                              (lo_open ? "(0, 1]" : "[0, 1]") + ", not " + std::to_string(value),
                          {}, 0, 0, std::string("give ") + knob + " as a share, e.g. 0.5"));
}
/// select()'s guard: knobs out of range are a programming mistake once past make().
inline void require(const Expected<void>& valid) {
  if (!valid) throw ErrorException(valid.error());
}
}  // namespace detail

/// Keeps round(fraction × n) records of every task, chosen at random.
struct UniformSampler {
  double fraction = 0.5;  ///< in (0, 1]

  /// A sampler with a user's knob; an Error when fraction is not in (0, 1].
  [[nodiscard]] static Expected<UniformSampler> make(double fraction) {
    UniformSampler s{fraction};
    if (auto ok = s.validate(); !ok) return unexpected(std::move(ok).error());
    return s;
  }
  [[nodiscard]] Expected<void> validate() const {
    return detail::check_fraction("UniformSampler", "fraction", fraction, true);
  }

  /// Throws ErrorException when a knob is out of range (see validate()).
  [[nodiscard]] Selection select(const Dataset& ds, Rng& rng) const {
    detail::require(validate());
    std::vector<RecordRef> kept;
    for (std::size_t t = 0; t < ds.tasks().size(); ++t)
      for (std::size_t r :
           detail::choose(ds.tasks()[t].size(), detail::rounded_share(fraction, ds.tasks()[t].size()), rng))
        kept.push_back({t, r});
    return detail::finish(std::move(kept), ds);
  }
};

/// Shares a budget of fraction × (all records) among tasks in proportion to their FLOPs (tasks whose
/// FLOPs are unknown count as the median known task), capped at each task's size; records within a task
/// are chosen at random.
struct FlopsWeightedSampler {
  double fraction = 0.5;  ///< in (0, 1]

  /// A sampler with a user's knob; an Error when fraction is not in (0, 1].
  [[nodiscard]] static Expected<FlopsWeightedSampler> make(double fraction) {
    FlopsWeightedSampler s{fraction};
    if (auto ok = s.validate(); !ok) return unexpected(std::move(ok).error());
    return s;
  }
  [[nodiscard]] Expected<void> validate() const {
    return detail::check_fraction("FlopsWeightedSampler", "fraction", fraction, true);
  }

  /// Throws ErrorException when a knob is out of range (see validate()).
  [[nodiscard]] Selection select(const Dataset& ds, Rng& rng) const {
    detail::require(validate());
    const auto& tasks = ds.tasks();
    std::vector<double> known;
    for (const auto& t : tasks)
      if (t.workload.flops) known.push_back(*t.workload.flops);
    double median = 1.0;
    if (!known.empty()) {
      std::nth_element(known.begin(), known.begin() + static_cast<std::ptrdiff_t>(known.size() / 2),
                       known.end());
      median = known[known.size() / 2];
    }
    std::vector<double> weight(tasks.size());
    for (std::size_t t = 0; t < tasks.size(); ++t)
      weight[t] = tasks[t].workload.flops.value_or(median);
    // Water-filling: tasks whose share exceeds their size keep everything, the rest is shared again.
    std::vector<std::size_t> quota(tasks.size(), 0);
    std::size_t budget = detail::rounded_share(fraction, ds.records());
    std::vector<bool> full(tasks.size(), false);
    for (int round = 0; round < 64 && budget > 0; ++round) {
      double total = 0;
      for (std::size_t t = 0; t < tasks.size(); ++t)
        if (!full[t]) total += weight[t];
      if (total <= 0) break;
      std::size_t given = 0;
      bool capped = false;
      for (std::size_t t = 0; t < tasks.size(); ++t) {
        if (full[t]) continue;
        const auto want =
            static_cast<std::size_t>(std::floor(static_cast<double>(budget) * weight[t] / total));
        const std::size_t room = tasks[t].size() - quota[t];
        const std::size_t add = std::min(want, room);
        quota[t] += add;
        given += add;
        if (quota[t] == tasks[t].size()) {
          full[t] = true;
          capped = capped || want > room;
        }
      }
      budget -= given;
      if (!capped) break;
    }
    std::vector<RecordRef> kept;
    for (std::size_t t = 0; t < tasks.size(); ++t)
      for (std::size_t r : detail::choose(tasks[t].size(), quota[t], rng))
        kept.push_back({t, r});
    return detail::finish(std::move(kept), ds);
  }
};

/// Hardware-aware pruning (Verma et al., sections 3.2 and 4.2). Knobs:
struct HardwareAwareSampler {
  /// Hardware the model is trained for (a dataset hardware name such as "v100"). When set and present in
  /// the dataset, tasks of other hardware whose operator kind the target never runs are dropped: their
  /// schedules teach nothing about the target's workloads. Empty: every operator kind is kept.
  std::string target{};
  /// Share of each task's records, fastest first, kept whole: fast kernels decide what a search picks.
  double fast_fraction = 0.4;
  /// Share of the remaining (slower) records kept, spread evenly over their cost ranks so the model still
  /// sees the whole range; the rest are redundant slow variants and are dropped.
  double slow_fraction = 0.25;
  /// At most this many tasks per (hardware, operator kind, log2-FLOPs bucket), those with the most
  /// records; 0 keeps all. Removes near-duplicate kernel shapes.
  std::size_t max_tasks_per_flops_bucket = 0;

  /// A sampler with a user's knobs; an Error when a fraction is not in [0, 1].
  [[nodiscard]] static Expected<HardwareAwareSampler> make(std::string target, double fast_fraction,
                                                           double slow_fraction,
                                                           std::size_t max_tasks_per_flops_bucket = 0) {
    HardwareAwareSampler s{std::move(target), fast_fraction, slow_fraction, max_tasks_per_flops_bucket};
    if (auto ok = s.validate(); !ok) return unexpected(std::move(ok).error());
    return s;
  }
  [[nodiscard]] Expected<void> validate() const {
    if (auto ok = detail::check_fraction("HardwareAwareSampler", "fast_fraction", fast_fraction, false); !ok)
      return ok;
    return detail::check_fraction("HardwareAwareSampler", "slow_fraction", slow_fraction, false);
  }

  /// Throws ErrorException when a knob is out of range (see validate()).
  [[nodiscard]] Selection select(const Dataset& ds, Rng& rng) const {
    detail::require(validate());
    (void)rng;  // deterministic: ranks, not random draws, decide what is kept
    const auto& tasks = ds.tasks();
    std::set<OpKind> target_ops;
    for (const auto& t : tasks)
      if (!target.empty() && t.hardware == target) target_ops.insert(t.workload.op);

    // Tasks to consider: operator filter, then the per-bucket cap.
    std::map<std::tuple<std::string, OpKind, int>, std::vector<std::size_t>> buckets;
    for (std::size_t t = 0; t < tasks.size(); ++t) {
      const auto& task = tasks[t];
      if (!target_ops.empty() && task.hardware != target && target_ops.count(task.workload.op) == 0) continue;
      const int bucket =
          task.workload.flops ? static_cast<int>(std::floor(std::log2(*task.workload.flops))) : -1;
      buckets[{task.hardware, task.workload.op, bucket}].push_back(t);
    }
    std::vector<std::size_t> chosen_tasks;
    for (auto& [key, members] : buckets) {
      if (max_tasks_per_flops_bucket > 0 && members.size() > max_tasks_per_flops_bucket) {
        std::stable_sort(members.begin(), members.end(),
                         [&](std::size_t a, std::size_t b) { return tasks[a].size() > tasks[b].size(); });
        members.resize(max_tasks_per_flops_bucket);
      }
      chosen_tasks.insert(chosen_tasks.end(), members.begin(), members.end());
    }

    std::vector<RecordRef> kept;
    for (std::size_t t : chosen_tasks) {
      const auto& costs = tasks[t].mean_costs_seconds;
      std::vector<std::size_t> by_cost(costs.size());
      std::iota(by_cost.begin(), by_cost.end(), std::size_t{0});
      std::stable_sort(by_cost.begin(), by_cost.end(),
                       [&](std::size_t a, std::size_t b) { return costs[a] < costs[b]; });
      const std::size_t n = by_cost.size();
      const std::size_t fast =
          std::min(n, std::max<std::size_t>(
                          1, static_cast<std::size_t>(std::ceil(fast_fraction * static_cast<double>(n)))));
      for (std::size_t i = 0; i < fast; ++i)
        kept.push_back({t, by_cost[i]});
      const std::size_t slow_total = n - fast;
      const std::size_t slow_keep = detail::rounded_share(slow_fraction, slow_total);
      // Evenly spaced ranks among the slow records, always including the slowest.
      for (std::size_t j = 0; j < slow_keep; ++j) {
        const std::size_t rank =
            fast + (slow_keep == 1 ? slow_total - 1 : j * (slow_total - 1) / (slow_keep - 1));
        kept.push_back({t, by_cost[rank]});
      }
    }
    return detail::finish(std::move(kept), ds);
  }
};

/// The fewest tasks whose FLOPs × weight (e.g. occurrences in a network) cover at least `share` of the
/// total, largest contribution first. Tasks with unknown FLOPs contribute nothing. Returns task indices.
[[nodiscard]] inline Expected<std::vector<std::size_t>> select_tasks_by_flops(
    const Dataset& ds, double share, std::span<const double> weights = {}) {
  if (!(share > 0 && share <= 1)) {
    return unexpected(Error(ErrorKind::invalid_argument, "select_tasks_by_flops: share must be in (0, 1]"));
  }
  if (!weights.empty() && weights.size() != ds.tasks().size()) {
    return unexpected(Error(ErrorKind::invalid_argument,
                            "select_tasks_by_flops: " + std::to_string(weights.size()) + " weights for " +
                                std::to_string(ds.tasks().size()) + " tasks"));
  }
  std::vector<std::pair<double, std::size_t>> contribution;
  double total = 0;
  for (std::size_t t = 0; t < ds.tasks().size(); ++t) {
    const double c = ds.tasks()[t].workload.flops.value_or(0.0) * (weights.empty() ? 1.0 : weights[t]);
    contribution.emplace_back(c, t);
    total += c;
  }
  if (total <= 0) {
    return unexpected(Error(ErrorKind::invalid_argument, "select_tasks_by_flops: no task has known FLOPs"));
  }
  std::stable_sort(contribution.begin(), contribution.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::size_t> chosen;
  double covered = 0;
  for (const auto& [c, t] : contribution) {
    if (covered >= share * total || c <= 0) break;
    chosen.push_back(t);
    covered += c;
  }
  return chosen;
}

}  // namespace crosstune::data
