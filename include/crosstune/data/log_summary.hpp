// crosstune/data/log_summary.hpp — what a set of tuning logs holds: counts per task, target, error code.
//
// The first question about any pile of logs is what is in it. LogSummary is fed records one at a time
// (so logs of any size stream through it) and answers: how many records and valid ones, how many tasks
// (distinct workload key and target), which targets, the error-code histogram, records per task, log
// versions and the FLOP range of the tasks whose FLOPs the workload key tells.
//
//   crosstune::data::LogSummary summary;
//   for (const auto& r : records) summary.add(r);
//   std::cout << summary.tasks() << " tasks, " << summary.records() << " records\n";
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crosstune/core/error_code.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/data/workload_info.hpp"

namespace crosstune::data {

class LogSummary {
 public:
  struct TaskEntry {
    std::string workload_key;
    std::string target;
    std::size_t records = 0;
    std::size_t valid_records = 0;
    double best_mean_cost_seconds = 0;  ///< +inf when no valid record
    WorkloadInfo workload;
  };

  struct Distribution {
    std::size_t min = 0, median = 0, max = 0;
  };

  /// Adds one record.
  void add(const Record& record) {
    ++records_;
    ++error_histogram_[static_cast<std::size_t>(record.result.error)];
    // The format version only: crosstune's measurers append their provenance after a ';'
    // (measure/provenance.hpp), which would make every machine and setting a version of its own.
    ++versions_[record.version.substr(0, record.version.find(';'))];
    const Task* task = record.task.get();
    if (task == nullptr) return;
    // Records share Task objects, so the pointer is a cheap first-level key; equal tasks read through
    // different parsers still end up in one entry through the (key, target) map.
    std::size_t index = 0;
    if (auto it = index_by_pointer_.find(task); it != index_by_pointer_.end()) {
      index = it->second;
    } else {
      auto key = std::make_pair(task->workload_key, task->target.str());
      auto [pos, inserted] = index_by_key_.try_emplace(key, tasks_.size());
      if (inserted) {
        TaskEntry entry;
        entry.workload_key = task->workload_key;
        entry.target = task->target.str();
        entry.best_mean_cost_seconds = std::numeric_limits<double>::infinity();
        entry.workload = describe_workload(task->workload_key);
        tasks_.push_back(std::move(entry));
        ++records_per_target_[task->target.str()].second;
      }
      index = pos->second;
      index_by_pointer_.emplace(task, index);
      task_owners_.push_back(record.task);  // keeps the pointer key valid
    }
    TaskEntry& entry = tasks_[index];
    ++entry.records;
    ++records_per_target_[entry.target].first;
    if (record.result.ok()) {
      ++valid_records_;
      ++entry.valid_records;
      entry.best_mean_cost_seconds =
          std::min(entry.best_mean_cost_seconds, record.result.mean_cost_seconds());
    }
  }

  [[nodiscard]] std::size_t records() const noexcept { return records_; }
  [[nodiscard]] std::size_t valid_records() const noexcept { return valid_records_; }
  [[nodiscard]] std::size_t tasks() const noexcept { return tasks_.size(); }
  [[nodiscard]] const std::vector<TaskEntry>& task_entries() const noexcept { return tasks_; }

  /// Records per ErrorCode, indexed by its Ansor number.
  [[nodiscard]] const std::array<std::size_t, error_code_count>& error_histogram() const noexcept {
    return error_histogram_;
  }
  /// target string -> (records, tasks), sorted by target string.
  [[nodiscard]] const std::map<std::string, std::pair<std::size_t, std::size_t>>& targets() const noexcept {
    return records_per_target_;
  }
  /// log version -> records ("" for lines without a version).
  [[nodiscard]] const std::map<std::string, std::size_t>& versions() const noexcept { return versions_; }

  /// Minimum, median (lower) and maximum records per task; zeros when there is no task.
  [[nodiscard]] Distribution records_per_task() const {
    if (tasks_.empty()) return {};
    std::vector<std::size_t> counts;
    counts.reserve(tasks_.size());
    for (const auto& t : tasks_)
      counts.push_back(t.records);
    std::sort(counts.begin(), counts.end());
    return {counts.front(), counts[(counts.size() - 1) / 2], counts.back()};
  }

  /// Number of tasks whose FLOPs are known, and their min and max FLOPs (nullopt when none is known).
  [[nodiscard]] std::size_t tasks_with_flops() const noexcept {
    return static_cast<std::size_t>(std::count_if(
        tasks_.begin(), tasks_.end(), [](const TaskEntry& t) { return t.workload.flops.has_value(); }));
  }
  [[nodiscard]] std::optional<std::pair<double, double>> flops_range() const {
    std::optional<std::pair<double, double>> range;
    for (const auto& t : tasks_) {
      if (!t.workload.flops) continue;
      const double f = *t.workload.flops;
      if (!range) range = std::make_pair(f, f);
      range->first = std::min(range->first, f);
      range->second = std::max(range->second, f);
    }
    return range;
  }

  /// Tasks per operator kind.
  [[nodiscard]] std::map<std::string, std::size_t> tasks_per_op() const {
    std::map<std::string, std::size_t> out;
    for (const auto& t : tasks_)
      ++out[std::string(to_string(t.workload.op))];
    return out;
  }

 private:
  struct PairHash {
    std::size_t operator()(const std::pair<std::string, std::string>& p) const noexcept {
      return std::hash<std::string>{}(p.first) * 31 + std::hash<std::string>{}(p.second);
    }
  };

  std::size_t records_ = 0;
  std::size_t valid_records_ = 0;
  std::array<std::size_t, error_code_count> error_histogram_{};
  std::map<std::string, std::pair<std::size_t, std::size_t>> records_per_target_;
  std::map<std::string, std::size_t> versions_;
  std::vector<TaskEntry> tasks_;
  std::unordered_map<std::pair<std::string, std::string>, std::size_t, PairHash> index_by_key_;
  std::unordered_map<const Task*, std::size_t> index_by_pointer_;
  std::vector<std::shared_ptr<const Task>> task_owners_;
};

}  // namespace crosstune::data
