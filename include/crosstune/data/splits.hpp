// crosstune/data/splits.hpp — train/test splits of a Dataset, deterministic for a seed.
//
// The split decides what a metric means (Verma et al., section 4.2): within_task tests on unseen
// schedules of seen tasks, by_task on unseen tasks, by_target on unseen hardware, and few_shot gives a
// model k measurements of the new hardware to fine-tune on and tests on the rest. A Split lists
// records by (task, record) index; every record of the dataset is in exactly one of train and test.
//
//   crosstune::Rng rng(0);
//   auto split = crosstune::data::split_by_target(dataset, "v100");
//   for (auto [task, record] : split->test) use(dataset.tasks()[task].records[record]);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/data/dataset.hpp"

namespace crosstune::data {

struct RecordRef {
  std::size_t task = 0;
  std::size_t record = 0;
  friend bool operator==(const RecordRef&, const RecordRef&) = default;
  friend auto operator<=>(const RecordRef&, const RecordRef&) = default;
};

struct Split {
  std::vector<RecordRef> train;
  std::vector<RecordRef> test;
};

namespace detail {
inline Expected<void> check_ratio(double ratio, std::string_view name) {
  if (!(ratio > 0.0 && ratio < 1.0)) {
    return unexpected(Error(ErrorKind::invalid_argument, std::string(name) + ": train ratio " +
                                                             std::to_string(ratio) + " is not in (0, 1)"));
  }
  return {};
}
}  // namespace detail

/// Per task, the first ratio × n records (in file order, like TenSet) train, the rest test; with
/// `shuffle` the records of each task are shuffled with `rng` first.
[[nodiscard]] inline Expected<Split> split_within_task(const Dataset& ds, double train_ratio, bool shuffle,
                                                       Rng& rng) {
  if (auto ok = detail::check_ratio(train_ratio, "within_task"); !ok)
    return unexpected(std::move(ok).error());
  Split s;
  for (std::size_t t = 0; t < ds.tasks().size(); ++t) {
    const std::size_t n = ds.tasks()[t].size();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    if (shuffle) rng.shuffle(std::span<std::size_t>(order));
    const auto n_train = static_cast<std::size_t>(std::floor(train_ratio * static_cast<double>(n)));
    for (std::size_t i = 0; i < n; ++i)
      (i < n_train ? s.train : s.test).push_back({t, order[i]});
  }
  return s;
}

/// Whole tasks held out: a shuffled (1 - ratio) share of the tasks, at least one, is the test set.
[[nodiscard]] inline Expected<Split> split_by_task(const Dataset& ds, double train_ratio, Rng& rng) {
  if (auto ok = detail::check_ratio(train_ratio, "by_task"); !ok) return unexpected(std::move(ok).error());
  if (ds.tasks().size() < 2) {
    return unexpected(Error(ErrorKind::invalid_argument, "by_task needs at least 2 tasks, the dataset has " +
                                                             std::to_string(ds.tasks().size())));
  }
  std::vector<std::size_t> order(ds.tasks().size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  rng.shuffle(std::span<std::size_t>(order));
  auto n_test = static_cast<std::size_t>(std::ceil((1.0 - train_ratio) * static_cast<double>(order.size())));
  n_test = std::clamp<std::size_t>(n_test, 1, order.size() - 1);
  std::vector<bool> is_test(order.size(), false);
  for (std::size_t i = 0; i < n_test; ++i)
    is_test[order[i]] = true;
  Split s;
  for (std::size_t t = 0; t < ds.tasks().size(); ++t)
    for (std::size_t r = 0; r < ds.tasks()[t].size(); ++r)
      (is_test[t] ? s.test : s.train).push_back({t, r});
  return s;
}

/// Model selection without the test set: a shuffled `share` of the tasks of `train` (at least one, never
/// all) is held out whole for validation, so early stopping and hyper-parameters are chosen on tasks the
/// model does not train on (by_task validation). The result's train holds the other tasks' records and
/// its test the held-out tasks' records, each in the order of `train`.
[[nodiscard]] inline Expected<Split> split_validation_tasks(std::span<const RecordRef> train, double share,
                                                            Rng& rng) {
  if (!(share > 0.0 && share < 1.0)) {
    return unexpected(Error(ErrorKind::invalid_argument,
                            "validation: task share " + std::to_string(share) + " is not in (0, 1)"));
  }
  std::vector<std::size_t> tasks;
  for (const auto& r : train)
    tasks.push_back(r.task);
  std::sort(tasks.begin(), tasks.end());
  tasks.erase(std::unique(tasks.begin(), tasks.end()), tasks.end());
  if (tasks.size() < 2) {
    return unexpected(Error(ErrorKind::invalid_argument,
                            "validation on held-out tasks needs at least 2 training tasks, there " +
                                std::string(tasks.size() == 1 ? "is 1" : "are 0")));
  }
  rng.shuffle(std::span<std::size_t>(tasks));
  auto n_val = static_cast<std::size_t>(std::ceil(share * static_cast<double>(tasks.size())));
  n_val = std::clamp<std::size_t>(n_val, 1, tasks.size() - 1);
  std::sort(tasks.begin(), tasks.begin() + static_cast<std::ptrdiff_t>(n_val));
  Split s;
  for (const auto& r : train) {
    const bool held = std::binary_search(tasks.begin(), tasks.begin() + static_cast<std::ptrdiff_t>(n_val), r.task);
    (held ? s.test : s.train).push_back(r);
  }
  return s;
}

/// Records of tasks whose hardware matches `test_hardware` are the test set, all others train.
/// `test_hardware` is a hardware name of the dataset (a preset such as "v100", or a name resolved from a
/// target string) or a full target string.
[[nodiscard]] inline Expected<Split> split_by_target(const Dataset& ds, const std::string& test_hardware) {
  auto matches = [&](const TaskData& t) {
    return t.hardware == test_hardware || t.task->target.str() == test_hardware;
  };
  Split s;
  for (std::size_t t = 0; t < ds.tasks().size(); ++t)
    for (std::size_t r = 0; r < ds.tasks()[t].size(); ++r)
      (matches(ds.tasks()[t]) ? s.test : s.train).push_back({t, r});
  if (s.test.empty() || s.train.empty()) {
    std::string names;
    for (const auto& n : ds.hardware_names())
      names += (names.empty() ? "" : ", ") + n;
    return unexpected(Error(ErrorKind::invalid_argument,
                            "by_target: hardware \"" + test_hardware + "\" " +
                                (s.test.empty() ? "has no records in the dataset" : "holds every record"),
                            {}, 0, 0, "the dataset's hardware: " + names));
  }
  return s;
}

/// Fine-tuning on few measurements of new hardware: of the records of `target_hardware`, `k` records
/// (or, if `fraction` > 0, that share) chosen at random with `rng` form the train set, the rest of that
/// hardware the test set. Records of other hardware are in neither (pre-training uses them).
struct FewShotSplit {
  Split split;                    ///< train: the few target records; test: the remaining target records
  std::vector<RecordRef> source;  ///< records of all other hardware, for pre-training
};

[[nodiscard]] inline Expected<FewShotSplit> split_few_shot(const Dataset& ds,
                                                           const std::string& target_hardware, std::size_t k,
                                                           double fraction, Rng& rng) {
  std::vector<RecordRef> target;
  FewShotSplit out;
  for (std::size_t t = 0; t < ds.tasks().size(); ++t) {
    const bool is_target =
        ds.tasks()[t].hardware == target_hardware || ds.tasks()[t].task->target.str() == target_hardware;
    for (std::size_t r = 0; r < ds.tasks()[t].size(); ++r)
      (is_target ? target : out.source).push_back({t, r});
  }
  if (target.empty()) {
    return unexpected(
        Error(ErrorKind::invalid_argument, "few_shot: hardware \"" + target_hardware + "\" has no records"));
  }
  if (fraction < 0 || fraction >= 1) {
    return unexpected(Error(ErrorKind::invalid_argument, "few_shot: fraction must be in [0, 1)"));
  }
  const std::size_t n_train =
      fraction > 0 ? static_cast<std::size_t>(std::round(fraction * static_cast<double>(target.size()))) : k;
  if (n_train == 0 || n_train >= target.size()) {
    return unexpected(Error(ErrorKind::invalid_argument,
                            "few_shot: " + std::to_string(n_train) + " training records out of " +
                                std::to_string(target.size()) + " leaves no train or no test set"));
  }
  rng.shuffle(std::span<RecordRef>(target));
  out.split.train.assign(target.begin(), target.begin() + static_cast<std::ptrdiff_t>(n_train));
  out.split.test.assign(target.begin() + static_cast<std::ptrdiff_t>(n_train), target.end());
  std::sort(out.split.train.begin(), out.split.train.end());
  std::sort(out.split.test.begin(), out.split.test.end());
  return out;
}

}  // namespace crosstune::data
