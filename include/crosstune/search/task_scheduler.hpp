// crosstune/search/task_scheduler.hpp — which task to tune next: Ansor's gradient-based task scheduler.
//
// A network is many tasks (subgraphs), and a tuning budget spent evenly on them is mostly wasted: a task
// that occurs once and is already near its peak gains nothing from more trials, while a heavy conv2d
// that is still improving gains a lot. Ansor (Zheng et al., "Ansor: Generating High-Performance Tensor
// Programs for Deep Learning", OSDI 2020, section 6, "Task Scheduler") treats the budget as variables
// t_i, the time units given to task i, and minimises the network's latency estimate
//
//     f = Σ_i w_i · g_i(t_i)        (w_i: occurrences of task i, g_i: its best latency after t_i units)
//
// by a kind of gradient descent: each round goes to the task with the largest |∂f/∂t_i|, estimated as
// (section 6.2)
//
//     ∂f/∂t_i ≈ w_i · ( α · (g_i(t_i) − g_i(t_i − Δt)) / Δt
//                     + (1 − α) · min( −g_i(t_i) / t_i ,  β · C_i / max_{k ∈ N(i)} V_k − g_i(t_i) ) )
//
// The first term is the recent slope (a backward window of Δt rounds); the second is an optimistic guess
// of the next one: either the latency keeps falling at its average rate so far, or the task reaches,
// within a factor β, the best throughput V_k = C_k / g_k (C_k its FLOPs) of its similar tasks N(i). A task
// whose peers run far faster than it does is thus worth more rounds. Here one time unit is one round of
// the tuner (one batch of measurements of one task); for several networks, fold each network's weight into
// w_i (w_i = Σ_j B_j · occurrences of task i in network j gives the paper's f1).
//
// The practical parts, as in Ansor: every task first gets one round, in order (warm-up); a task still
// without any successful measurement (g = +inf) has no gradient information, and is retried, fewest rounds
// first, before any gradient is used (f is infinite until it has one); after that, with probability ε a
// random active task is picked instead of the best (ε-greedy). A task stops being scheduled when it is
// marked done (search space exhausted, measuring failed for good), when a round measured nothing, or when
// its best did not improve for `early_stopping` rounds. A task that cannot reach 1/β of its group's best
// throughput even after `similarity_patience` more rounds than every peer is not similar after all: it
// leaves its group, so a wrong tag cannot make it take every round (TVM's auto_scheduler does the same).
//
// The scheduler is pure logic: it knows task names, weights, FLOPs and tags, never kernels, and it does no
// I/O. The tuner asks `next()`, runs that task's round, and reports the task's best latency with
// `record()`. Round-robin (`Strategy::round_robin`) is there for comparison.
//
//   std::vector<search::SchedulerTask> tasks;
//   for (const auto& t : network_tasks) {
//     const auto info = data::describe_workload(t.key);
//     tasks.push_back({t.name, double(t.occurrences), info.flops.value_or(0),
//                      search::similarity_tag(info.op, info.flops)});
//   }
//   auto scheduler = search::TaskScheduler::make(std::move(tasks)).value();
//   crosstune::Rng rng(seed);
//   for (std::size_t round = 0; round < max_rounds; ++round) {
//     const auto task = scheduler.next(rng);
//     if (!task) break;                                   // every task done
//     const RoundResult r = tune_one_round(*task);        // the tuner's own work
//     scheduler.record(*task, r.best_seconds, r.trials);  // +inf while nothing succeeded
//   }
//   std::cout << "estimated network latency " << scheduler.objective() << " s\n";
//
// Which tasks to tune at all is a separate choice: data::select_tasks_by_flops picks those that cover a
// share of a network's FLOPs; the scheduler then shares the rounds among the tasks it is given.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/data/workload_info.hpp"

namespace crosstune::search {

/// One task of the network, as the scheduler sees it.
struct SchedulerTask {
  std::string name;   ///< for logs and messages (e.g. the workload key); non-empty names must be unique
  double weight = 1;  ///< w_i: how often the task runs in the network (finite, > 0)
  double flops = 0;   ///< C_i: floating-point operations of one run; 0 = unknown (no similarity term)
  std::string tag;    ///< similarity group: tasks with the same non-empty tag are N(i); "" = none
};

/// A similarity tag from a task's operator kind and FLOPs: same operator, FLOPs within the same power of
/// two (the log2-FLOPs bucket of data::HardwareAwareSampler). "" when either is unknown, so such a task is
/// similar to none.
[[nodiscard]] inline std::string similarity_tag(data::OpKind op, std::optional<double> flops) {
  if (op == data::OpKind::other || !flops || !(*flops >= 1) || !std::isfinite(*flops)) return {};
  return std::string(data::to_string(op)) + "/2^" +
         std::to_string(static_cast<int>(std::floor(std::log2(*flops))));
}

struct TaskSchedulerOptions {
  enum class Strategy {
    gradient,    ///< Ansor's: warm-up, then the largest |∂f/∂t_i| (ε-greedy)
    round_robin  ///< every active task in turn, for comparison
  };
  Strategy strategy = Strategy::gradient;
  double alpha = 0.2;  ///< α: weight of the backward (observed) slope against the optimistic guess, [0, 1]
  double beta = 2;     ///< β: a task may reach 1/β of its peers' best throughput; finite, >= 1
  double epsilon = 0.05;                ///< ε: chance of a random active task instead of the best, [0, 1]
  std::size_t backward_window = 3;      ///< Δt, in rounds (>= 1); shorter while a task has fewer rounds
  std::size_t early_stopping = 0;       ///< a task stops after this many rounds without a better best; 0: off
  std::size_t similarity_patience = 5;  ///< rounds beyond every peer before a lagging task leaves its group

  [[nodiscard]] Expected<void> validate() const {
    auto bad = [](const std::string& what) {
      return unexpected(Error(ErrorKind::invalid_argument, "search::TaskSchedulerOptions: " + what));
    };
    if (strategy != Strategy::gradient && strategy != Strategy::round_robin) return bad("unknown strategy");
    if (!(alpha >= 0 && alpha <= 1)) return bad("alpha must be in [0, 1], got " + std::to_string(alpha));
    if (!(beta >= 1) || !std::isfinite(beta))
      return bad("beta must be finite and at least 1, got " + std::to_string(beta));
    if (!(epsilon >= 0 && epsilon <= 1))
      return bad("epsilon must be in [0, 1], got " + std::to_string(epsilon));
    if (backward_window < 1) return bad("backward_window must be at least 1 round");
    return {};
  }
};

/// Why next() chose its task (for logs and tests).
enum class PickReason {
  none,         ///< next() has not picked anything yet, or every task was done
  warm_up,      ///< the task had no round yet
  no_result,    ///< the task had rounds but no successful measurement
  random,       ///< ε-greedy exploration
  gradient,     ///< the largest |∂f/∂t_i|
  round_robin,  ///< its turn
};

[[nodiscard]] constexpr const char* to_string(PickReason reason) noexcept {
  switch (reason) {
    case PickReason::none: return "none";
    case PickReason::warm_up: return "warm_up";
    case PickReason::no_result: return "no_result";
    case PickReason::random: return "random";
    case PickReason::gradient: return "gradient";
    case PickReason::round_robin: return "round_robin";
  }
  return "none";
}

class TaskScheduler {
 public:
  using Strategy = TaskSchedulerOptions::Strategy;

  /// Refuses an empty task list, a weight that is not finite and > 0, FLOPs that are not finite and >= 0,
  /// two tasks with the same non-empty name, and invalid options.
  [[nodiscard]] static Expected<TaskScheduler> make(std::vector<SchedulerTask> tasks,
                                                    TaskSchedulerOptions options = {}) {
    if (auto ok = options.validate(); !ok) return unexpected(std::move(ok).error());
    auto bad = [](const std::string& what, std::string hint = {}) {
      return unexpected(
          Error(ErrorKind::invalid_argument, "search::TaskScheduler: " + what, {}, 0, 0, std::move(hint)));
    };
    if (tasks.empty()) return bad("no tasks to schedule");
    std::map<std::string_view, std::size_t> names;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      const auto& t = tasks[i];
      const std::string which = "task " + std::to_string(i) + (t.name.empty() ? "" : " (" + t.name + ")");
      if (!(t.weight > 0) || !std::isfinite(t.weight))
        return bad(which + " has weight " + std::to_string(t.weight) + "; a weight must be finite and > 0",
                   "the weight is how often the task runs in the network");
      if (!(t.flops >= 0) || !std::isfinite(t.flops))
        return bad(which + " has FLOPs " + std::to_string(t.flops) + "; FLOPs must be finite and >= 0",
                   "use 0 when they are unknown");
      if (t.name.empty()) continue;
      const auto [it, fresh] = names.emplace(t.name, i);
      if (!fresh)
        return bad(
            "tasks " + std::to_string(it->second) + " and " + std::to_string(i) + " are both named " + t.name,
            "give a task that occurs several times once, with the sum of the weights");
    }
    return TaskScheduler(std::move(tasks), options);
  }

  /// The task to tune next round; nullopt when every task is done or stopped. Draws from `rng` only for
  /// ε-greedy (gradient strategy with epsilon > 0, after warm-up and retries); calling it again without a
  /// record() in between may pick again (warm-up picks the same task; round-robin moves on).
  [[nodiscard]] std::optional<std::size_t> next(Rng& rng) {
    compute_gradients();
    std::vector<std::size_t> active;
    for (std::size_t i = 0; i < size(); ++i)
      if (state_[i].active) active.push_back(i);
    if (active.empty()) {
      reason_ = PickReason::none;
      return std::nullopt;
    }
    if (options_.strategy == Strategy::round_robin) {
      std::size_t pick = active.front();
      if (cursor_) {  // the first active task after the last pick, cyclically
        const auto after = std::upper_bound(active.begin(), active.end(), *cursor_);
        if (after != active.end()) pick = *after;
      }
      return chosen(pick, PickReason::round_robin);
    }
    for (std::size_t i : active)
      if (state_[i].history.empty()) return chosen(i, PickReason::warm_up);
    std::optional<std::size_t> retry;
    for (std::size_t i : active)
      if (!std::isfinite(best_[i]) && (!retry || state_[i].history.size() < state_[*retry].history.size()))
        retry = i;
    if (retry) return chosen(*retry, PickReason::no_result);
    if (options_.epsilon > 0 && rng.bernoulli(options_.epsilon))
      return chosen(active[static_cast<std::size_t>(rng.uniform_index(active.size()))], PickReason::random);
    std::size_t pick = active.front();
    for (std::size_t i : active) {
      // Most negative gradient first; on a tie, the task with fewer rounds, then the lower index.
      if (gradients_[i] < gradients_[pick] ||
          (gradients_[i] == gradients_[pick] && state_[i].history.size() < state_[pick].history.size()))
        pick = i;
    }
    return chosen(pick, PickReason::gradient);
  }

  /// Reports one round of `task`: its best latency so far in seconds (+inf while nothing succeeded; a
  /// value above the previous best leaves the best unchanged) and the trials the round measured. A round of
  /// 0 trials means the search space has nothing left: the task is done. Throws std::out_of_range for a bad
  /// index, std::invalid_argument for a latency that is NaN or not > 0.
  void record(std::size_t task, double best_seconds_after_round, std::size_t trials_this_round) {
    check_index(task, "record");
    if (!(best_seconds_after_round > 0))
      throw std::invalid_argument("search::TaskScheduler::record: task " + std::to_string(task) +
                                  ": best latency must be > 0 seconds or +inf, got " +
                                  std::to_string(best_seconds_after_round));
    auto& s = state_[task];
    if (best_seconds_after_round < best_[task]) {
      best_[task] = best_seconds_after_round;
      s.rounds_without_improvement = 0;
    } else {
      ++s.rounds_without_improvement;
    }
    s.history.push_back(best_[task]);
    s.trials += trials_this_round;
    if (trials_this_round == 0) s.active = false;
    if (options_.early_stopping > 0 && s.rounds_without_improvement >= options_.early_stopping) {
      s.active = false;
      s.stopped_early = true;
    }
    leave_group_if_dissimilar(task);
  }

  /// No more rounds for `task` (search space exhausted, measuring failed for good). Its best still counts.
  void mark_done(std::size_t task) {
    check_index(task, "mark_done");
    state_[task].active = false;
  }

  /// Σ w_i g_i: the network latency estimate in seconds; +inf while any task has no result.
  [[nodiscard]] double objective() const noexcept {
    double f = 0;
    for (std::size_t i = 0; i < size(); ++i)
      f += tasks_[i].weight * best_[i];
    return f;
  }

  [[nodiscard]] std::size_t size() const noexcept { return tasks_.size(); }
  [[nodiscard]] const std::vector<SchedulerTask>& tasks() const noexcept { return tasks_; }
  [[nodiscard]] const TaskSchedulerOptions& options() const noexcept { return options_; }
  /// g_i per task, seconds; +inf for a task without a successful measurement.
  [[nodiscard]] const std::vector<double>& best_seconds() const noexcept { return best_; }
  [[nodiscard]] std::size_t trials(std::size_t task) const { return at(task, "trials").trials; }
  [[nodiscard]] std::size_t rounds(std::size_t task) const { return at(task, "rounds").history.size(); }
  /// Best latency after each round of `task`, oldest first (+inf entries before its first success).
  [[nodiscard]] const std::vector<double>& history(std::size_t task) const {
    return at(task, "history").history;
  }
  /// Still scheduled: neither marked done, nor emptied (a 0-trial round), nor stopped early.
  [[nodiscard]] bool active(std::size_t task) const { return at(task, "active").active; }
  /// Stopped by early_stopping (a subset of !active).
  [[nodiscard]] bool stopped_early(std::size_t task) const { return at(task, "stopped_early").stopped_early; }
  /// N(i) without i: the tasks now in `task`'s similarity group (empty without a tag, or after leaving it).
  [[nodiscard]] std::vector<std::size_t> peers(std::size_t task) const {
    check_index(task, "peers");
    std::vector<std::size_t> out;
    if (!in_group_[task]) return out;
    for (std::size_t k = 0; k < size(); ++k)
      if (k != task && in_group_[k] && tasks_[k].tag == tasks_[task].tag) out.push_back(k);
    return out;
  }
  /// ∂f/∂t_i per task as last computed by next() (<= 0; the most negative is the most promising); 0 for a
  /// task that is not active or has no successful measurement (no gradient information).
  [[nodiscard]] const std::vector<double>& gradients() const noexcept { return gradients_; }
  /// Why the last next() chose its task.
  [[nodiscard]] PickReason last_reason() const noexcept { return reason_; }

 private:
  struct TaskState {
    std::vector<double> history;  // best after each round
    std::size_t trials = 0;
    std::size_t rounds_without_improvement = 0;
    bool active = true;
    bool stopped_early = false;
  };

  TaskScheduler(std::vector<SchedulerTask> tasks, TaskSchedulerOptions options)
      : tasks_(std::move(tasks)),
        options_(options),
        best_(tasks_.size(), std::numeric_limits<double>::infinity()),
        gradients_(tasks_.size(), 0.0),
        state_(tasks_.size()),
        in_group_(tasks_.size(), false) {
    // A task with a tag and known FLOPs is in its tag's group; a group of one has no similarity term.
    for (std::size_t i = 0; i < size(); ++i)
      in_group_[i] = !tasks_[i].tag.empty() && tasks_[i].flops > 0;
  }

  void check_index(std::size_t task, const char* what) const {
    if (task >= size())
      throw std::out_of_range(std::string("search::TaskScheduler::") + what + ": task " +
                              std::to_string(task) + " of " + std::to_string(size()));
  }
  [[nodiscard]] const TaskState& at(std::size_t task, const char* what) const {
    check_index(task, what);
    return state_[task];
  }

  std::optional<std::size_t> chosen(std::size_t task, PickReason reason) {
    cursor_ = task;
    reason_ = reason;
    return task;
  }

  /// V_k = C_k / g_k, 0 when unknown (no FLOPs, no result, or not in a group).
  [[nodiscard]] double throughput(std::size_t k) const {
    return in_group_[k] && std::isfinite(best_[k]) ? tasks_[k].flops / best_[k] : 0.0;
  }

  /// max_{k ∈ N(i)} V_k per tag, over the group's members (i included, as its own best is a lower bound).
  [[nodiscard]] std::map<std::string_view, std::pair<double, std::size_t>> group_peaks() const {
    std::map<std::string_view, std::pair<double, std::size_t>> peak;  // tag -> (max V, members)
    for (std::size_t k = 0; k < size(); ++k) {
      if (!in_group_[k]) continue;
      auto& [v, members] = peak[tasks_[k].tag];
      v = std::max(v, throughput(k));
      ++members;
    }
    return peak;
  }

  void compute_gradients() {
    const auto peak = group_peaks();
    const double alpha = options_.alpha;
    for (std::size_t i = 0; i < size(); ++i) {
      const auto& s = state_[i];
      const double g = best_[i];
      if (!s.active || s.history.empty() || !std::isfinite(g)) {
        gradients_[i] = 0;
        continue;
      }
      // Backward: the slope over the last Δt rounds, from the oldest round in that window with a result.
      const std::size_t last = s.history.size() - 1;
      const std::size_t from = last > options_.backward_window ? last - options_.backward_window : 0;
      double backward = 0;
      for (std::size_t j = from; j < last; ++j) {
        if (std::isfinite(s.history[j])) {
          backward = (s.history[last] - s.history[j]) / static_cast<double>(last - j);
          break;
        }
      }
      // Forward: the optimistic guess; the similarity term only with a peer that has a throughput.
      double forward = -g / static_cast<double>(s.history.size());
      if (in_group_[i]) {
        const auto& [v_max, members] = peak.at(tasks_[i].tag);
        if (members > 1 && v_max > 0)
          forward = std::min(forward, options_.beta * tasks_[i].flops / v_max - g);
      }
      gradients_[i] = tasks_[i].weight * (alpha * backward + (1 - alpha) * forward);
    }
  }

  /// After a round of `task`: if it has had `similarity_patience` more rounds than every peer and still
  /// runs below 1/β of the group's best throughput, it is not similar to them; it leaves the group.
  void leave_group_if_dissimilar(std::size_t task) {
    if (!in_group_[task] || !std::isfinite(best_[task])) return;
    double v_best = 0;
    std::size_t peer_rounds = 0;
    bool has_peer = false;
    for (std::size_t k = 0; k < size(); ++k) {
      if (k == task || !in_group_[k] || tasks_[k].tag != tasks_[task].tag) continue;
      has_peer = true;
      v_best = std::max(v_best, throughput(k));
      peer_rounds = std::max(peer_rounds, state_[k].history.size());
    }
    if (!has_peer) return;
    if (throughput(task) * options_.beta < v_best &&
        state_[task].history.size() > peer_rounds + options_.similarity_patience)
      in_group_[task] = false;
  }

  std::vector<SchedulerTask> tasks_;
  TaskSchedulerOptions options_;
  std::vector<double> best_;
  std::vector<double> gradients_;
  std::vector<TaskState> state_;
  std::vector<bool> in_group_;
  std::optional<std::size_t> cursor_;
  PickReason reason_ = PickReason::none;
};

}  // namespace crosstune::search
