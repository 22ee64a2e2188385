// crosstune/search/tuner.hpp — the tuning loop: the six policies put together.
//
// A Tuner is a template over a feature extractor, a hardware descriptor, a sampler, a cost model, a
// measurer and a search policy (the concepts of crosstune/concepts.hpp and search/search_policy.hpp),
// each checked where it is used with a message naming what is missing. One round of `tune()`:
//
//   1. the task scheduler picks a task (Ansor's gradient on the weighted network latency; round-robin on
//      request);
//   2. the search policy proposes `measures_per_round` candidates of the task's sketches that were never
//      measured, guided by the cost model (a Scorer that turns candidates into steps, features and scores);
//   3. the candidates are lowered to C++ and the measurer builds, checks and times them (and logs them);
//   4. the policy is told the costs, and the model is updated on the records measured so far (the sampler
//      chooses which), so the next round's guesses are better.
//
// When the search ends, each task's fastest few candidates are measured again, interleaved, and the winner
// is picked on those measurements alone (RemeasureOptions: the fastest first reading is partly luck).
//
// The budget is a number of trials, a hard wall-clock deadline or both: at the deadline the measurer is
// stopped mid-batch (when it has set_stop_flag) and the best found so far is returned. resume() takes a
// log's records first: they are never measured again, they train the model, and their best counts.
// Callbacks after each measurement and each round let an embedder log, draw progress or stop early; the
// profile says where the time went (search, prediction, training, measuring).
//
//   auto tuner = search::Tuner(features::StepSequenceExtractor{}, hw::probe_host().params,
//                              data::UniformSampler{}, model::XgbModel(layout), std::move(measurer),
//                              search::EvolutionarySearch{}, {.measures_per_round = 64});
//   auto result = tuner.tune(tasks, {.trials = 256, .seconds = 600}).value();
//   std::cout << result.tasks[0].best_seconds << '\n';
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "crosstune/codegen/cpu.hpp"
#include "crosstune/codegen/lower.hpp"
#include "crosstune/concepts.hpp"
#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/data/dataset.hpp"
#include "crosstune/io/record_format.hpp"
#include "crosstune/ir/dag.hpp"
#include "crosstune/ir/workloads.hpp"
#include "crosstune/measure/timing.hpp"
#include "crosstune/schedule/cpu_sketch.hpp"
#include "crosstune/search/search_policy.hpp"
#include "crosstune/search/task_scheduler.hpp"
#include "crosstune/search/transfer_tuning.hpp"

namespace crosstune::search {

/// One operator to tune: its compute DAG and how often the network runs it.
struct TuneTask {
  std::shared_ptr<const ir::ComputeDag> dag{};
  double weight = 1;   ///< occurrences in the network (the latency estimate is Σ weight × best)
  std::string name{};  ///< for progress and tables (empty: the workload key)
};

/// When to stop: whichever comes first. At least one of trials and seconds must be set.
struct TuneBudget {
  std::size_t trials = 64;          ///< measurements, over all tasks (a resumed log's do not count)
  double seconds = 0;               ///< hard wall-clock deadline from the start of tune() (0: none)
  std::size_t early_stopping = 0;   ///< rounds of a task without a better best before it is done (0: never)
};

/// The negative-transfer guard: a model given trained (pre-trained on other hardware or tasks) is scored on
/// the first `min_records` successful measurements of this run before it learns from them. While it is
/// judged, a share `random_share` of each round is drawn at random rather than picked by the model, so
/// the sample spans good and poor candidates alike (a model's own top picks alone are hard to tell apart,
/// even for a model that picks well). It must pass both tests:
/// - better than chance: its pairwise comparison accuracy over them (PCA; 0.5 is a coin toss) is at least
///   `min_pca`;
/// - no worse than a fresh model (when Tuner::set_fresh_model gives one and `against_fresh` is set): the
///   measurements are split in two halves at random within each task, a fresh model is trained on one
///   half, and the given model must rank the other half at least as well as the fresh model does, less
///   `margin`.
/// If it fails either, the Tuner falls back to the fresh model (without one, the given model keeps
/// training on this run's records only) and says so in TuneResult::guard.
struct TransferGuardOptions {
  bool enabled = true;
  std::size_t min_records = 32;  ///< successful measurements of this run before the verdict
  double min_pca = 0.5;
  bool against_fresh = true;
  /// The fresh model must beat the given one by more than this to replace it: the held-out half is 16–32
  /// records, over which PCA moves by about 0.05 between samples (two ResNet-50 runs judged the shipped CPU
  /// model 0.667 against a fresh 0.500, then 0.625 against 0.667).
  double margin = 0.05;
  double random_share = 0.5;  ///< of each round while the model is judged, drawn at random
};

/// What the guard found.
struct TransferGuardReport {
  bool checked = false;     ///< a verdict was reached
  double pca = 0;           ///< the given model's PCA on this run's first measurements
  std::size_t records = 0;  ///< how many it was judged on
  bool compared = false;    ///< it was compared with a fresh model (half_pca and fresh_pca are set)
  double half_pca = 0;      ///< the given model's PCA on the half the fresh model did not see
  double fresh_pca = 0;     ///< the fresh model's PCA on that half, trained on the other
  bool fell_back = false;   ///< it failed a test and was replaced
  std::string message{};
};

/// The end of a run: the `top` fastest candidates of each task, as measured while tuning, are measured
/// again `passes` times, interleaved (1 2 3 4 1 2 3 4), and the winner is the one with the lowest median
/// over those measurements alone. The fastest of hundreds of noisy measurements is partly luck: on a
/// 2-core VM whose same kernel read 75-146 GFLOP/s from one measurement to the next, a GEMM tuning run's
/// best read 164 GFLOP/s while tuning and 67 when measured again (docs/results.md, twelfth pass).
/// Measured apart from the search, the finalists give the winner an unbiased figure and say whether it
/// is really ahead (TaskResult::ties).
struct RemeasureOptions {
  std::size_t top = 4;     ///< finalists per task (0: none, the best stands as measured while tuning)
  std::size_t passes = 2;  ///< measurements of each finalist, interleaved (at least 1)
  /// With a deadline (TuneBudget::seconds), the search stops this share of the budget early, so that the
  /// finalists are measured before the deadline (the tasks with the largest weight x latency first).
  double reserve_share = 0.05;
};

struct TunerOptions {
  std::size_t measures_per_round = 64;  ///< candidates measured per round (Ansor: 64)
  std::uint64_t seed = 0;               ///< of the search and the model updates
  std::string target{};                 ///< target string of the records (empty: "llvm -keys=cpu -num-cores=N")
  std::uint64_t input_seed = 1;         ///< the kernels' inputs (measure::fill_input)
  bool check = true;                    ///< check outputs against the unscheduled loop nest
  bool update_model = true;             ///< fine-tune the model on the measurements after every round
  bool model_ready = false;             ///< the model is trained already (pre-trained): it guides the first round
  std::size_t min_train_records = 16;   ///< successful records before the model is first trained
  /// Mini-batch steps an online update takes at least, for models whose train options have `epochs` and
  /// `batch_size`: while the records are few, epochs are added (up to `max_update_epochs`) to reach it.
  /// Six epochs on a first round of 64 GEMM records (12 steps) left a fresh model ranking the next
  /// candidates worse than chance (pairwise accuracy 0.33); 100 epochs (200 steps, about 2 s on 2 cores)
  /// gave 0.73 (docs/search.md). 0: the update options' epochs as they are.
  std::size_t min_update_steps = 256;
  std::size_t max_update_epochs = 100;
  /// Once the model guides the search, it is updated when at least this many successful records have come
  /// in since its last update (1: after every round). A network tuned 8 candidates a round spent 10% of its
  /// wall time in updates after every round.
  std::size_t update_every_records = 64;
  /// ... and at least this share of the records it was last trained on, so that updates come at geometric
  /// intervals once the history is long: an update trains on the whole history, and at a fixed interval
  /// their total cost grows with the square of the run's length. With the shipped 64-wide model kept by
  /// the guard, a 300 s ResNet-50 run spent 15% of its time in the model at a fixed 64 (docs/results.md,
  /// fifth pass). 0: every update_every_records.
  double update_growth = 0.25;
  /// A candidate whose first run takes longer than this many times the task's best cost is timed by that
  /// run alone, when the measurer has set_slow_cutoff (0: every candidate gets the full timing).
  double slow_cutoff_ratio = 10;
  TaskSchedulerOptions scheduler{};
  TransferGuardOptions guard{};
  RemeasureOptions remeasure{};
  const std::atomic<bool>* stop = nullptr;  ///< raised by the embedder (e.g. on SIGINT): stop as at the deadline
};

/// Where the time of a tune() went, in seconds of wall time.
struct TuneProfile {
  double search = 0;    ///< the policies' ask() and tell(), without the model's predictions
  double predict = 0;   ///< features and cost-model predictions for the search
  double train = 0;     ///< model updates
  double lower = 0;     ///< candidates to C++ (apply, lower, print)
  double measure = 0;   ///< the measurer: build, check, time, log (set_task included)
  double remeasure = 0; ///< the finalists measured again at the end (RemeasureOptions), lowering included
  double total = 0;

  [[nodiscard]] double model() const noexcept { return predict + train; }
};

/// A candidate measured again at the end of a run (RemeasureOptions).
struct Finalist {
  Record record;          ///< as measured while tuning (or resumed): its steps and its first costs
  measure::Timing timing; ///< the costs of the re-measurements alone, every repeat of every pass
  std::string failure{};  ///< why a re-measurement failed (empty: none did); such a finalist cannot win
};

/// A task's outcome.
struct TaskResult {
  std::string name, workload_key;
  double weight = 1;
  std::int64_t flops = 0;
  /// The winner's cost: with finalists, the median of its re-measurements; without, its mean cost as
  /// measured while tuning. +inf: nothing succeeded.
  double best_seconds = std::numeric_limits<double>::infinity();
  std::optional<Record> best{};   ///< the winner's record as measured while tuning (or resumed)
  double tuning_best_seconds = std::numeric_limits<double>::infinity();  ///< the lowest mean cost seen while tuning
  /// Measured again at the end, the winner first (empty: none were). When every one failed again, they are
  /// kept with their failures and the best stands as measured while tuning (picked_by_finalists() false).
  std::vector<Finalist> finalists{};
  std::size_t ties = 0;           ///< finalists the winner cannot be told from (95% intervals of the means overlap)
  std::size_t trials = 0;         ///< measured in this run
  std::size_t failures = 0;       ///< of those, failed (any error code)
  std::size_t resumed = 0;        ///< records taken from resume()
  std::size_t transferred = 0;    ///< of `trials`, schedules transplanted from other tasks (transfer_from)
  std::string transfer_note{};    ///< what transfer_from found for this task, or why nothing
  std::size_t rounds = 0;
  std::string done_reason{};      ///< why the task stopped before the budget did (space exhausted, early stopping)

  [[nodiscard]] double gflops() const noexcept {
    return std::isfinite(best_seconds) && best_seconds > 0 ? static_cast<double>(flops) / best_seconds * 1e-9 : 0.0;
  }
  /// The winner was picked by its re-measurements (best_seconds is their median).
  [[nodiscard]] bool picked_by_finalists() const noexcept {
    return !finalists.empty() && finalists.front().failure.empty() && !finalists.front().timing.costs_seconds.empty();
  }
};

/// What tune() found.
struct TuneResult {
  std::vector<TaskResult> tasks;
  std::size_t trials = 0;   ///< measured in this run, over all tasks
  std::size_t remeasured = 0;  ///< finalists' measurements at the end (not trials: nothing new is tried)
  std::size_t rounds = 0;
  double seconds = 0;       ///< wall time of tune()
  std::string stop_reason;  ///< "trials", "deadline", "stopped", "callback", "every task is done", or the measurer's reason
  bool deadline_hit = false;
  TuneProfile profile{};
  TransferGuardReport guard{};  ///< the negative-transfer guard's verdict on a model given trained

  /// Σ weight × best latency over the tasks (+inf while a task has no successful candidate).
  [[nodiscard]] double estimate_seconds() const noexcept {
    double sum = 0;
    for (const auto& t : tasks) sum += t.weight * t.best_seconds;
    return sum;
  }
};

/// What a round did, for on_round.
struct RoundReport {
  std::size_t round = 0;       ///< 1-based, over all tasks
  std::size_t task = 0;        ///< index into tune()'s tasks
  std::size_t measured = 0;    ///< candidates measured this round
  std::size_t ok = 0;          ///< of those, successful
  std::size_t trials = 0;      ///< measured so far in this run, over all tasks
  std::size_t budget_trials = 0;
  double elapsed_seconds = 0;
  double task_best_seconds = std::numeric_limits<double>::infinity();
  double estimate_seconds = std::numeric_limits<double>::infinity();  ///< Σ weight × best over the tasks
  const TuneResult* partial = nullptr;  ///< the results so far (valid during the call)
};

struct TuneCallbacks {
  std::function<void(std::size_t task, const measure::Measurement&)> on_measurement{};
  std::function<bool(const RoundReport&)> on_round{};  ///< false: stop after this round
};

/// The default options of a model's online updates: at least 6 epochs (TunerOptions::min_update_steps adds
/// more while the records are few), no early stopping (no validation set).
template <class Options>
struct OnlineUpdateDefaults {
  [[nodiscard]] static Options get() { return Options{}; }
};
template <>
struct OnlineUpdateDefaults<model::TrainOptions> {
  [[nodiscard]] static model::TrainOptions get() {
    model::TrainOptions o;
    o.epochs = 6;
    o.batch_size = 32;
    o.patience = 0;
    return o;
  }
};

namespace detail {
/// Raises `flag` at `deadline` (if any) or when `external` is raised, whichever is first.
class Watchdog {
 public:
  Watchdog(std::atomic<bool>& flag, std::optional<std::chrono::steady_clock::time_point> deadline,
           const std::atomic<bool>* external)
      : flag_(flag) {
    if (!deadline && external == nullptr) return;
    thread_ = std::thread([this, deadline, external] {
      std::unique_lock lock(mutex_);
      while (!quit_) {
        if (deadline && std::chrono::steady_clock::now() >= *deadline) {
          fired_deadline_ = true;
          flag_.store(true);
          return;
        }
        if (external != nullptr && external->load()) {
          flag_.store(true);
          return;
        }
        wake_.wait_for(lock, std::chrono::milliseconds(10));
      }
    });
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] bool deadline_fired() {
    std::lock_guard lock(mutex_);
    return fired_deadline_;
  }

 private:
  std::atomic<bool>& flag_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool quit_ = false, fired_deadline_ = false;
  std::thread thread_;
};

[[nodiscard]] inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace detail

template <class Extractor, class Hardware, class Sampler, class Model, class Measurer, class Policy>
class Tuner {
  static_assert(require_feature_extractor_for<Extractor, Hardware>());
  static_assert(require_hardware_descriptor<Hardware>());
  static_assert(require_sampler<Sampler>());
  static_assert(require_cost_model<Model>());
  static_assert(require_measurer<Measurer>());
  static_assert(require_search_policy<Policy>());

 public:
  using train_options = typename Model::train_options;

  Tuner(Extractor extractor, Hardware hardware, Sampler sampler, Model model, Measurer measurer, Policy policy,
        TunerOptions options = {}, train_options update = OnlineUpdateDefaults<train_options>::get())
      : extractor_(std::move(extractor)),
        hardware_(std::move(hardware)),
        sampler_(std::move(sampler)),
        model_(std::move(model)),
        measurer_(std::move(measurer)),
        policy_(std::move(policy)),
        options_(std::move(options)),
        update_(std::move(update)),
        rng_(options_.seed) {}

  [[nodiscard]] Model& model() noexcept { return model_; }
  [[nodiscard]] Measurer& measurer() noexcept { return measurer_; }
  [[nodiscard]] Extractor& extractor() noexcept { return extractor_; }
  [[nodiscard]] const Hardware& hardware() const noexcept { return hardware_; }
  [[nodiscard]] const TunerOptions& options() const noexcept { return options_; }
  /// Whether the model guides the search (trained here, or given trained).
  [[nodiscard]] bool model_ready() const noexcept { return model_ready_; }

  /// How to make an untrained model, for the negative-transfer guard's fallback (TransferGuardOptions).
  void set_fresh_model(std::function<Model()> make) { fresh_model_ = std::move(make); }

  /// Tuned records of other workloads (a log of other shapes, other layers of a network): before a task's
  /// first search round, the best schedules of its kernel class are transplanted onto it
  /// (transfer_schedules: Transfer-Tuning, Gibson & Cano) and measured first, ranked by the model when it
  /// is ready. TaskResult::transfer_note says what was found for each task, or why nothing was.
  void transfer_from(std::span<const Record> tuned, TransferOptions options = {}) {
    transfer_sources_.assign(tuned.begin(), tuned.end());
    transfer_options_ = options;
  }

  /// Records measured before (a log of an earlier run): those of a task's workload key are not measured
  /// again, train the model and count toward the task's best. Records of other workloads are ignored.
  void resume(std::span<const Record> records) {
    for (const auto& r : records)
      if (r.task) resumed_.push_back(r);
  }

  /// Tunes `tasks` within `budget`. Errors: no tasks, a task without a DAG or whose DAG cannot be
  /// scheduled or lowered, a budget of neither trials nor seconds, a measurer that refuses a task's
  /// reference kernel. A measurer that stops (the stop flag, failures in a row) ends the run with the
  /// results so far and its reason in stop_reason.
  [[nodiscard]] Expected<TuneResult> tune(std::span<const TuneTask> tasks, TuneBudget budget, TuneCallbacks callbacks = {}) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    if (tasks.empty()) return bad("no tasks to tune", "give at least one TuneTask");
    if (budget.trials == 0 && !(budget.seconds > 0)) return bad("the budget has neither trials nor seconds", "set trials, seconds or both");
    if (!(budget.seconds >= 0) || !std::isfinite(budget.seconds)) return bad("budget.seconds must be a finite number >= 0", "0: no deadline");
    if (options_.measures_per_round == 0) return bad("measures_per_round must be at least 1", "Ansor measures 64 per round");
    if (options_.remeasure.top > 0 && options_.remeasure.passes == 0)
      return bad("remeasure.passes must be at least 1 when remeasure.top is set", "2 passes; or remeasure.top = 0 for none");
    if (!(options_.remeasure.reserve_share >= 0 && options_.remeasure.reserve_share < 1))
      return bad("remeasure.reserve_share must be a number in [0, 1)", "0.05: the last 5% of a deadline is kept for the finalists");
    if (!(options_.update_growth >= 0 && options_.update_growth <= 100))
      return bad("update_growth must be a number in [0, 100]",
                 "0.25: update once the records have grown by a quarter; 0: at a fixed interval");
    const std::size_t trial_limit = budget.trials > 0 ? budget.trials : std::numeric_limits<std::size_t>::max();

    states_.clear();
    TuneResult result;
    std::vector<SchedulerTask> scheduled;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      auto state = prepare(tasks[i], i);
      if (!state) return unexpected(std::move(state).error());
      states_.push_back(std::move(*state));
      const TaskState& s = states_.back();
      result.tasks.push_back(s.result);
      scheduled.push_back({s.result.name, s.result.weight, static_cast<double>(s.result.flops), ir::workload_family(s.result.workload_key)});
    }
    take_resumed();
    if (!transfer_sources_.empty())
      for (TaskState& s : states_) plan_transfer(s);
    for (std::size_t i = 0; i < states_.size(); ++i) result.tasks[i] = states_[i].result;
    auto scheduler = TaskScheduler::make(std::move(scheduled), options_.scheduler);
    if (!scheduler) return unexpected(std::move(scheduler).error());

    if (!model_ready_ && options_.model_ready) model_ready_ = true;
    const bool judge_given_model = model_ready_ && options_.guard.enabled && !guard_.checked;
    const std::size_t history_before = history_.size();
    std::vector<Record> guard_sample;  // this run's successful measurements the guard judges (no transplanted ones)
    if (!model_ready_ && options_.update_model) {  // resumed records can train the model before the first round
      const auto t0 = clock::now();
      if (auto ok = update_model(); !ok) return unexpected(std::move(ok).error());
      result.profile.train += detail::seconds_since(t0);
    }

    std::atomic<bool> stop{false};
    // The search's deadline comes early by the share kept for the finalists (RemeasureOptions).
    std::optional<clock::time_point> deadline, search_deadline;
    if (budget.seconds > 0) {
      const double search_seconds = budget.seconds * (options_.remeasure.top > 0 ? 1 - options_.remeasure.reserve_share : 1.0);
      deadline = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(budget.seconds));
      search_deadline = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(search_seconds));
    }
    if constexpr (requires(Measurer& m) { m.set_stop_flag(&stop); }) measurer_.set_stop_flag(&stop);
    struct ClearStopFlag {
      Measurer& m;
      ~ClearStopFlag() {
        if constexpr (requires(Measurer& x) { x.set_stop_flag(nullptr); }) m.set_stop_flag(nullptr);
      }
    } clear_stop{measurer_};
    std::optional<detail::Watchdog> watchdog_storage;
    watchdog_storage.emplace(stop, search_deadline, options_.stop);
    detail::Watchdog& watchdog = *watchdog_storage;

    std::optional<std::size_t> current;  // the task the measurer is set to
    while (true) {
      if (options_.stop != nullptr && options_.stop->load()) stop.store(true);  // not only when the watchdog looks
      if (stop.load()) {
        result.stop_reason = watchdog.deadline_fired() ? "deadline" : "stopped";
        break;
      }
      if (result.trials >= trial_limit) {
        result.stop_reason = "trials";
        break;
      }
      const auto next = scheduler->next(rng_);
      if (!next) {
        result.stop_reason = "every task is done";
        break;
      }
      TaskState& s = states_[*next];
      const std::size_t n = std::min(options_.measures_per_round, trial_limit - result.trials);

      // Ask: transplanted schedules first (transfer_from), then the policy.
      const double predict_before = result.profile.predict;
      auto t0 = clock::now();
      const SearchContext context = context_for(s, result.profile);
      const bool transfer_round = !s.transfer_pending.empty();
      std::vector<CpuCandidate> asked;
      std::vector<StepSequence> transplanted;
      if (transfer_round) {
        const std::size_t take = std::min(n, s.transfer_pending.size());
        transplanted.assign(std::make_move_iterator(s.transfer_pending.begin()),
                            std::make_move_iterator(s.transfer_pending.begin() + static_cast<std::ptrdiff_t>(take)));
        s.transfer_pending.erase(s.transfer_pending.begin(), s.transfer_pending.begin() + static_cast<std::ptrdiff_t>(take));
      } else {
        // While a given model is judged, part of the round is drawn at random (TransferGuardOptions).
        const bool judging = judge_given_model && !guard_.checked && model_ready_;
        const double share = std::clamp(options_.guard.random_share, 0.0, 1.0);
        const auto random_n = judging ? std::min(n, static_cast<std::size_t>(std::llround(share * static_cast<double>(n)))) : 0;
        asked = s.policy.ask(context, n - random_n, rng_);
        if (random_n > 0) add_random(s, context, asked, random_n);
      }
      result.profile.search += detail::seconds_since(t0) - (result.profile.predict - predict_before);
      if (!transfer_round && asked.empty()) {
        s.result.done_reason = "its search space is exhausted";
        scheduler->mark_done(*next);
        result.tasks[*next] = s.result;
        continue;
      }

      // Lower.
      t0 = clock::now();
      std::vector<measure::Candidate> candidates;
      std::vector<CpuCandidate> kept;
      candidates.reserve(asked.size() + transplanted.size());
      // Two candidates of a round can make the same program (different knobs, the same steps): it is
      // measured once.
      std::unordered_set<std::uint64_t> this_round;
      for (auto& c : asked) {
        std::optional<measure::Candidate> made;
        auto state = s.space->apply(c);
        if (state) {
          const std::uint64_t steps = hash_value(state->steps());
          if (s.measured.contains(steps) || !this_round.insert(steps).second) continue;
          if (auto lowered = make_candidate(s, *state, candidates.size())) made = std::move(*lowered);
        }
        if (!made) {
          s.refused.push_back(c);
          continue;
        }
        candidates.push_back(std::move(*made));
        kept.push_back(std::move(c));
      }
      for (auto& steps : transplanted) {
        schedule::State state(s.dag);
        if (!state.apply(steps)) continue;  // transfer_schedules checked it applies
        if (auto made = make_candidate(s, state, candidates.size())) candidates.push_back(std::move(*made));
      }
      result.profile.lower += detail::seconds_since(t0);
      if (candidates.empty() && transfer_round) continue;  // the policy asks next time
      if (candidates.empty()) {
        s.result.done_reason = "no proposed candidate could be lowered to a kernel";
        scheduler->mark_done(*next);
        result.tasks[*next] = s.result;
        continue;
      }

      // Measure.
      t0 = clock::now();
      if (current != *next) {
        if (auto ok = measurer_.set_task(s.measure_task); !ok) {
          if (stop.load()) {
            result.stop_reason = watchdog.deadline_fired() ? "deadline" : "stopped";
            result.profile.measure += detail::seconds_since(t0);
            break;
          }
          Error e = std::move(ok).error();
          e.message = s.result.workload_key + ": " + e.message;
          return unexpected(std::move(e));
        }
        current = *next;
      }
      if constexpr (requires(Measurer& m) { m.set_slow_cutoff(1.0); })
        measurer_.set_slow_cutoff(options_.slow_cutoff_ratio > 0 && std::isfinite(s.result.best_seconds)
                                      ? options_.slow_cutoff_ratio * s.result.best_seconds
                                      : 0.0);
      measure::BatchResult batch;
      if constexpr (requires(Measurer& m, std::span<const measure::Candidate> c,
                             const std::function<void(std::size_t, const measure::Measurement&)>& f) { m.measure(c, f); }) {
        // Each result as it comes: to the embedder, and to the slow cutoff, which follows the best so far.
        double running_best = s.result.best_seconds;
        std::function<void(std::size_t, const measure::Measurement&)> each = [&](std::size_t, const measure::Measurement& m) {
          if constexpr (requires(Measurer& x) { x.set_slow_cutoff(1.0); }) {
            if (m.ok() && m.record.result.mean_cost_seconds() < running_best && options_.slow_cutoff_ratio > 0) {
              running_best = m.record.result.mean_cost_seconds();
              measurer_.set_slow_cutoff(options_.slow_cutoff_ratio * running_best);
            }
          }
          if (callbacks.on_measurement) callbacks.on_measurement(*next, m);
        };
        batch = measurer_.measure(std::span<const measure::Candidate>(candidates), each);
      } else {
        batch = measurer_.measure(std::span<const measure::Candidate>(candidates));
        if (callbacks.on_measurement)
          for (const auto& m : batch.measurements) callbacks.on_measurement(*next, m);
      }
      result.profile.measure += detail::seconds_since(t0);

      // Tell.
      t0 = clock::now();
      const std::size_t judged = std::min(batch.measurements.size(), candidates.size());
      std::vector<double> seconds(judged);
      std::size_t ok_count = 0;
      const double best_before = s.result.best_seconds;
      for (std::size_t i = 0; i < judged; ++i) {
        const measure::Measurement& m = batch.measurements[i];
        s.measured.insert(hash_value(m.record.steps));
        seconds[i] = m.ok() ? m.record.result.mean_cost_seconds() : std::numeric_limits<double>::infinity();
        ++s.result.trials;
        if (m.ok()) {
          ++ok_count;
          history_.push_back(m.record);
          offer_leader(s, m.record);
          if (seconds[i] < s.result.best_seconds) {
            s.result.best_seconds = seconds[i];
            s.result.best = m.record;
          }
        } else {
          ++s.result.failures;
        }
      }
      if (!transfer_round) s.policy.tell(context, std::span<const CpuCandidate>(kept.data(), std::min(judged, kept.size())), seconds);
      if (transfer_round) s.result.transferred += judged;
      result.profile.search += detail::seconds_since(t0);
      result.trials += judged;
      ++s.result.rounds;
      ++result.rounds;
      s.rounds_without_gain = s.result.best_seconds < best_before ? 0 : s.rounds_without_gain + 1;
      scheduler->record(*next, s.result.best_seconds, judged);
      if (budget.early_stopping > 0 && s.rounds_without_gain >= budget.early_stopping) {
        s.result.done_reason = "no better candidate in " + std::to_string(budget.early_stopping) + " rounds (early stopping)";
        scheduler->mark_done(*next);
      }
      result.tasks[*next] = s.result;

      if (batch.stopped()) {
        result.stop_reason = stop.load() ? (watchdog.deadline_fired() ? "deadline" : "stopped") : batch.stop_reason;
        break;
      }

      // Judge a model given trained on this run's first measurements, before it learns from them.
      if (judge_given_model && !guard_.checked && !transfer_round)
        for (std::size_t i = 0; i < judged; ++i)
          if (batch.measurements[i].ok()) guard_sample.push_back(batch.measurements[i].record);
      if (judge_given_model && !guard_.checked && guard_sample.size() >= options_.guard.min_records) {
        t0 = clock::now();
        if (auto ok = judge_given_model_on(guard_sample, history_before); !ok)
          return unexpected(std::move(ok).error());
        result.profile.predict += detail::seconds_since(t0);
        result.guard = guard_;
      }

      // Learn (not while the guard still judges the given model: it must be judged on records it has not
      // learned from).
      const bool guard_pending = judge_given_model && !guard_.checked;
      const auto grown = static_cast<std::size_t>(std::ceil(options_.update_growth * static_cast<double>(trained_on_)));
      const bool update_due =
          !model_ready_ || history_.size() >= trained_on_ + std::max({options_.update_every_records, grown, std::size_t{1}});
      if (options_.update_model && ok_count > 0 && !stop.load() && !guard_pending && update_due) {
        t0 = clock::now();
        if (auto ok = update_model(); !ok) return unexpected(std::move(ok).error());
        result.profile.train += detail::seconds_since(t0);
      }

      if (callbacks.on_round) {
        RoundReport report;
        report.round = result.rounds;
        report.task = *next;
        report.measured = judged;
        report.ok = ok_count;
        report.trials = result.trials;
        report.budget_trials = budget.trials;
        report.elapsed_seconds = detail::seconds_since(start);
        report.task_best_seconds = s.result.best_seconds;
        report.estimate_seconds = result.estimate_seconds();
        report.partial = &result;
        if (!callbacks.on_round(report)) {
          result.stop_reason = "callback";
          break;
        }
      }
    }
    result.deadline_hit = watchdog.deadline_fired();
    for (std::size_t i = 0; i < states_.size(); ++i) {
      states_[i].result.tuning_best_seconds = states_[i].result.best_seconds;
      result.tasks[i] = states_[i].result;
    }

    // The finalists, measured again before the real deadline: not after an external stop (Ctrl-C, the
    // embedder's flag) nor after the measurer gave up (failures in a row).
    const bool ended_normally = result.stop_reason == "trials" || result.stop_reason == "deadline" ||
                                result.stop_reason == "callback" || result.stop_reason == "every task is done";
    if (options_.remeasure.top > 0 && ended_normally && !(options_.stop != nullptr && options_.stop->load())) {
      watchdog_storage.reset();  // its flag may be up: the search's deadline has passed
      stop.store(false);
      detail::Watchdog final_watchdog(stop, deadline, options_.stop);
      const auto t0 = clock::now();
      remeasure_finalists(result, stop, current);
      result.profile.remeasure += detail::seconds_since(t0);
      result.deadline_hit = result.deadline_hit || final_watchdog.deadline_fired();
    }
    result.seconds = detail::seconds_since(start);
    result.profile.total = result.seconds;
    return result;
  }

 private:
  struct TaskState {
    std::shared_ptr<const ir::ComputeDag> dag;
    std::shared_ptr<const Task> record_task;
    std::optional<schedule::CpuSketchSpace> space;
    measure::MeasureTask measure_task;
    Policy policy;
    std::unordered_set<std::uint64_t> measured;  ///< step hashes of every candidate measured or resumed
    std::vector<CpuCandidate> refused;           ///< proposed but not lowerable
    std::vector<StepSequence> transfer_pending;  ///< transplanted schedules not measured yet
    std::vector<Record> leaders;                 ///< the fastest successful records, fastest first (RemeasureOptions::top)
    std::size_t rounds_without_gain = 0;
    TaskResult result;
  };

  static Unexpected bad(const std::string& what, const std::string& hint) {
    return unexpected(Error(ErrorKind::invalid_argument, "Tuner: " + what, {}, 0, 0, hint));
  }

  [[nodiscard]] std::string target_string() const {
    if (!options_.target.empty()) return options_.target;
    const hw::HardwareParams p = hardware_params_of(hardware_);
    return "llvm -keys=cpu -num-cores=" + std::to_string(std::max<std::int64_t>(1, p.num_cores));
  }

  Expected<TaskState> prepare(const TuneTask& t, std::size_t index) {
    if (!t.dag) return bad("task " + std::to_string(index) + " has no DAG", "build one with crosstune::ir (e.g. ir::matmul)");
    if (!(t.weight > 0) || !std::isfinite(t.weight))
      return bad("task " + std::to_string(index) + " has weight " + std::to_string(t.weight), "weights are occurrences: positive numbers");
    const hw::HardwareParams p = hardware_params_of(hardware_);
    auto space = schedule::CpuSketchSpace::make(t.dag, schedule::CpuSketchOptions::from(p));
    if (!space) return unexpected(std::move(space).error());
    TaskState s{t.dag, nullptr, std::move(*space), {}, policy_, {}, {}, {}, {}, 0, {}};
    auto task = std::make_shared<Task>();
    task->workload_key = t.dag->workload_key();
    task->target = Target(target_string());
    task->hardware_params.num_cores = std::max<std::int64_t>(1, p.num_cores);
    task->hardware_params.vector_unit_bytes = p.vector_unit_bytes;
    task->hardware_params.cache_line_bytes = p.cache_line_bytes > 0 ? p.cache_line_bytes : 64;
    s.record_task = task;
    schedule::State unscheduled(t.dag);
    auto nest = codegen::lower(unscheduled);
    if (!nest) return unexpected(std::move(nest).error());
    s.measure_task.signature = codegen::kernel_signature(*nest);
    s.measure_task.seed = options_.input_seed;
    if (options_.check) {
      codegen::CpuCodegenOptions cpp;
      cpp.function_name = "crosstune_reference";
      s.measure_task.reference = codegen::kernel_source(*nest, cpp);
    }
    s.result.name = t.name.empty() ? task->workload_key : t.name;
    s.result.workload_key = task->workload_key;
    s.result.weight = t.weight;
    s.result.flops = t.dag->flops();
    return s;
  }

  /// Moves the resumed records of each task's workload into its state: measured, history, best.
  void take_resumed() {
    for (const Record& r : resumed_) {
      for (TaskState& s : states_) {
        if (r.task->workload_key != s.result.workload_key) continue;
        if (!s.measured.insert(hash_value(r.steps)).second) break;
        ++s.result.resumed;
        if (r.result.ok()) {
          Record copy = r;
          copy.task = s.record_task;  // trained on as measured for this target
          history_.push_back(copy);
          offer_leader(s, r);
          if (r.result.mean_cost_seconds() < s.result.best_seconds) {
            s.result.best_seconds = r.result.mean_cost_seconds();
            s.result.best = r;
          }
        }
        break;
      }
    }
    resumed_.clear();
  }

  /// Keeps `r` among the task's `remeasure.top` fastest successful records (distinct steps: a step
  /// sequence is measured once).
  void offer_leader(TaskState& s, const Record& r) const {
    const std::size_t top = options_.remeasure.top;
    if (top == 0) return;
    const double cost = r.result.mean_cost_seconds();
    if (s.leaders.size() >= top && !(cost < s.leaders.back().result.mean_cost_seconds())) return;
    auto at = std::upper_bound(s.leaders.begin(), s.leaders.end(), cost,
                               [](double c, const Record& x) { return c < x.result.mean_cost_seconds(); });
    s.leaders.insert(at, r);
    if (s.leaders.size() > top) s.leaders.pop_back();
  }

  /// Measures each task's leaders again, `passes` times interleaved in one batch, and makes the one with
  /// the lowest median over those measurements the task's best (RemeasureOptions). Tasks go in order of
  /// weight x latency, so that a deadline cuts the least important ones; a task not reached, or whose
  /// finalists all failed again (they are kept in TaskResult::finalists), keeps its best as measured while
  /// tuning.
  void remeasure_finalists(TuneResult& result, const std::atomic<bool>& stop, std::optional<std::size_t>& current) {
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < states_.size(); ++i)
      if (!states_[i].leaders.empty()) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return states_[a].result.weight * states_[a].result.best_seconds > states_[b].result.weight * states_[b].result.best_seconds;
    });
    if constexpr (requires(Measurer& m) { m.set_slow_cutoff(1.0); }) measurer_.set_slow_cutoff(0.0);
    for (const std::size_t t : order) {
      if (stop.load()) return;
      TaskState& s = states_[t];
      // The leaders as kernels, each `passes` times with its own entry name, interleaved.
      std::vector<measure::Candidate> candidates;
      std::vector<std::size_t> of;  // the leader each candidate measures
      for (std::size_t pass = 0; pass < options_.remeasure.passes; ++pass)
        for (std::size_t i = 0; i < s.leaders.size(); ++i) {
          schedule::State state(s.dag);
          if (!state.apply(s.leaders[i].steps)) continue;  // it applied when it was measured
          auto made = make_candidate(s, state, candidates.size());
          if (!made) continue;
          made->record = s.leaders[i];
          made->record.task = s.record_task;
          made->record.result = {};
          candidates.push_back(std::move(*made));
          of.push_back(i);
        }
      if (candidates.empty()) continue;
      if (current != t) {
        if (!measurer_.set_task(s.measure_task)) continue;  // measured before, so only a stop refuses it now
        current = t;
      }
      const measure::BatchResult batch = measurer_.measure(std::span<const measure::Candidate>(candidates));
      std::vector<Finalist> finalists(s.leaders.size());
      for (std::size_t i = 0; i < finalists.size(); ++i) finalists[i].record = s.leaders[i];
      std::vector<std::size_t> passes_seen(finalists.size(), 0);
      const std::size_t judged_count = std::min(batch.measurements.size(), of.size());
      for (std::size_t j = 0; j < judged_count; ++j) {
        const measure::Measurement& m = batch.measurements[j];
        Finalist& f = finalists[of[j]];
        ++passes_seen[of[j]];
        if (m.ok()) {
          f.timing.costs_seconds.insert(f.timing.costs_seconds.end(), m.record.result.costs_seconds.begin(), m.record.result.costs_seconds.end());
        } else if (f.failure.empty()) {
          f.failure = std::string(to_string(m.record.result.error)) + (m.message.empty() ? "" : ": " + m.message.substr(0, 300));
        }
      }
      result.remeasured += judged_count;
      // Each finalist needs all its passes: one cut short by a stop is left out, not judged on less.
      std::vector<Finalist> judged;
      for (std::size_t i = 0; i < finalists.size(); ++i)
        if (passes_seen[i] == options_.remeasure.passes) judged.push_back(std::move(finalists[i]));
      auto can_win = [](const Finalist& f) { return f.failure.empty() && !f.timing.costs_seconds.empty(); };
      std::stable_sort(judged.begin(), judged.end(), [&](const Finalist& a, const Finalist& b) {
        if (can_win(a) != can_win(b)) return can_win(a);
        return can_win(a) && a.timing.median_seconds() < b.timing.median_seconds();
      });
      if (judged.empty()) continue;
      if (can_win(judged.front())) {
        s.result.best = judged.front().record;
        s.result.best_seconds = judged.front().timing.median_seconds();
        s.result.ties = 0;
        for (std::size_t i = 1; i < judged.size(); ++i)
          if (can_win(judged[i]) && judged[i].timing.tied_with(judged.front().timing)) ++s.result.ties;
      }
      s.result.finalists = std::move(judged);  // every one failed again: kept, with their failures, for the report
      result.tasks[t] = s.result;
    }
  }

  /// The transplanted schedules of a task (transfer_from's records), best first: by the model's score when
  /// it is ready, else in transfer_schedules' order; none already measured.
  void plan_transfer(TaskState& s) {
    TransferReport report;
    auto found = transfer_schedules(*s.dag, transfer_sources_, transfer_options_, &report);
    std::vector<StepSequence> pending;
    for (auto& c : found)
      if (!s.measured.contains(hash_value(c.steps))) pending.push_back(std::move(c.steps));
    if (model_ready_ && pending.size() > 1) {
      std::vector<Record> records(pending.size());
      for (std::size_t i = 0; i < pending.size(); ++i) records[i] = Record{s.record_task, pending[i], {}, {}};
      std::vector<float> scores(pending.size());
      if (extract_features(extractor_, std::span<const Record>(records), hardware_, score_batch_) && model_.predict(score_batch_, scores)) {
        std::vector<std::size_t> order(pending.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
        std::vector<StepSequence> ranked;
        for (std::size_t i : order) ranked.push_back(std::move(pending[i]));
        pending = std::move(ranked);
      }
    }
    std::string note = std::to_string(pending.size()) + " schedule" + (pending.size() == 1 ? "" : "s") + " transplanted from " +
                       std::to_string(report.compatible_sources) + " compatible record" + (report.compatible_sources == 1 ? "" : "s");
    if (report.compatible_sources == 0)
      note = "no record of this kernel class to transplant" +
             (report.first_incompatibility.empty() ? std::string() : " (e.g. " + report.first_incompatibility + ")");
    else if (report.refused > 0)
      note += "; " + std::to_string(report.refused) + " did not fit (" + report.first_refusal + ")";
    s.result.transfer_note = std::move(note);
    s.transfer_pending = std::move(pending);
  }

  /// The search context of a task: its space, its measured set and (once the model guides) the scorer.
  SearchContext context_for(TaskState& s, TuneProfile& profile) {
    SearchContext context;
    context.space = &*s.space;
    context.measured = [&s](const CpuCandidate& c) {
      auto state = s.space->apply(c);
      return state && s.measured.contains(hash_value(state->steps()));
    };
    if (model_ready_) {
      context.score = [this, &s, &profile](std::span<const CpuCandidate> candidates, std::span<float> scores) {
        const auto t0 = std::chrono::steady_clock::now();
        score_records_.resize(candidates.size());
        std::vector<bool> valid(candidates.size(), false);
        for (std::size_t i = 0; i < candidates.size(); ++i) {
          auto state = s.space->apply(candidates[i]);
          score_records_[i].task = s.record_task;
          if (state) {
            score_records_[i].steps = state->steps();
            valid[i] = true;
          } else {
            score_records_[i].steps = StepSequence{};
          }
        }
        bool ok = static_cast<bool>(extract_features(extractor_, std::span<const Record>(score_records_), hardware_, score_batch_));
        ok = ok && static_cast<bool>(model_.predict(score_batch_, scores));
        for (std::size_t i = 0; i < candidates.size(); ++i)
          if (!ok || !valid[i]) scores[i] = -std::numeric_limits<float>::infinity();
        profile.predict += detail::seconds_since(t0);
      };
    }
    return context;
  }

  /// Appends up to `count` random candidates of the task's space that are neither measured nor in `out`.
  void add_random(const TaskState& s, const SearchContext& context, std::vector<CpuCandidate>& out, std::size_t count) {
    std::unordered_set<std::uint64_t> taken;
    for (const auto& c : out) taken.insert(c.hash());
    const std::size_t wanted = out.size() + count;
    for (std::size_t attempt = 0; attempt < 32 * count && out.size() < wanted; ++attempt) {
      CpuCandidate c = s.space->sample(rng_);
      if (!taken.insert(c.hash()).second || context.is_measured(c)) continue;
      out.push_back(std::move(c));
    }
  }

  /// A candidate as a kernel and the record it is logged with.
  Expected<measure::Candidate> make_candidate(const TaskState& s, const schedule::State& state, std::size_t index) const {
    auto nest = codegen::lower(state);
    if (!nest) return unexpected(std::move(nest).error());
    codegen::CpuCodegenOptions cpp;
    cpp.function_name = "k";
    cpp.function_name += std::to_string(index);
    measure::Candidate out;
    out.kernel = codegen::kernel_source(*nest, cpp);
    out.record.task = s.record_task;
    out.record.steps = state.steps();
    return out;
  }

  /// The negative-transfer guard's verdict on `records` (this run's successful measurements, transplanted
  /// schedules left out: they are a narrow sample of good ones). On a fall-back, the model learns from
  /// history_ from `this_run` on only.
  Expected<void> judge_given_model_on(std::span<const Record> records, std::size_t this_run) {
    const hw::HardwareParams p = hardware_params_of(hardware_);
    const data::Dataset ds = data::Dataset::from_measured(records, std::string(p.name), p);
    TrainingSet all, half_a, half_b;
    Rng split(rng_());
    for (std::size_t t = 0; t < ds.tasks().size(); ++t) {
      const auto& task = ds.tasks()[t];
      std::vector<std::size_t> order(task.records.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[split.uniform_index(i)]);
      for (std::size_t k = 0; k < order.size(); ++k) {
        const std::size_t r = order[k];
        all.add(task.records[r], task.labels[r], static_cast<std::uint32_t>(t));
        (k % 2 == 0 ? half_a : half_b).add(task.records[r], task.labels[r], static_cast<std::uint32_t>(t));
      }
    }
    auto pca = pca_of(model_, all);
    if (!pca) return unexpected(std::move(pca).error());
    guard_.checked = true;
    guard_.pca = *pca;
    guard_.records = all.records.size();
    char text[320];
    std::snprintf(text, sizeof text, "the given model ranks this run's first %zu measurements with PCA %.3f", all.records.size(), *pca);
    guard_.message = text;
    bool fail = *pca < options_.guard.min_pca;
    if (fail) {
      std::snprintf(text, sizeof text, " (< %.2f; 0.5 is chance)", options_.guard.min_pca);
      guard_.message += text;
    }
    std::optional<Model> fresh;
    if constexpr (std::is_move_assignable_v<Model>) {
      if (!fail && fresh_model_ && options_.guard.against_fresh && half_a.records.size() >= 2 && half_b.records.size() >= 2) {
        fresh.emplace(fresh_model_());
        Rng rng(rng_());
        if (auto ok = fit_on(*fresh, half_a, rng); !ok) return ok;
        auto given_half = pca_of(model_, half_b);
        if (!given_half) return unexpected(std::move(given_half).error());
        auto fresh_half = pca_of(*fresh, half_b);
        if (!fresh_half) return unexpected(std::move(fresh_half).error());
        guard_.compared = true;
        guard_.half_pca = *given_half;
        guard_.fresh_pca = *fresh_half;
        fail = *given_half < *fresh_half - options_.guard.margin;
        std::snprintf(text, sizeof text, "; on a held-out half, %.3f against %.3f for a fresh model trained on the other half",
                      *given_half, *fresh_half);
        guard_.message += text;
      }
    }
    if (!fail) {
      guard_.message += ": kept";
      return {};
    }
    guard_.fell_back = true;
    guard_.message += ": ";
    if constexpr (std::is_move_assignable_v<Model>) {
      if (fresh_model_) {
        model_ = fresh ? std::move(*fresh) : fresh_model_();
        guard_.message += "replaced by a fresh model trained on this run's measurements";
      } else {
        guard_.message += "it keeps learning, from this run's measurements only (no fresh model was given: Tuner::set_fresh_model)";
      }
    } else {
      guard_.message += "it keeps learning, from this run's measurements only (the model type is not move-assignable)";
    }
    // Until retrained, the search is not guided by a model known to mislead it.
    model_ready_ = false;
    history_.erase(history_.begin(), history_.begin() + static_cast<std::ptrdiff_t>(std::min(this_run, history_.size())));
    trained_on_ = 0;
    return {};
  }

  /// Records with their labels and task indices, as a model trains on or is scored on them.
  struct TrainingSet {
    std::vector<Record> records;
    std::vector<float> labels;
    std::vector<std::uint32_t> tasks;
    void add(const Record& r, float label, std::uint32_t task) {
      records.push_back(r);
      labels.push_back(label);
      tasks.push_back(task);
    }
  };

  /// `model`'s PCA over `set`.
  Expected<double> pca_of(Model& model, const TrainingSet& set) {
    if (auto ok = extract_features(extractor_, std::span<const Record>(set.records), hardware_, train_batch_); !ok)
      return unexpected(std::move(ok).error());
    std::vector<float> scores(set.records.size());
    if (auto ok = model.predict(train_batch_, scores); !ok) return unexpected(std::move(ok).error());
    return model::task_pca(scores, set.labels, set.tasks);
  }

  /// Fits `model` on `set` with the online-update options (epochs raised to min_update_steps).
  Expected<void> fit_on(Model& model, const TrainingSet& set, Rng& rng) {
    if (auto ok = extract_features(extractor_, std::span<const Record>(set.records), hardware_, train_batch_); !ok)
      return unexpected(std::move(ok).error());
    const model::LabelledBatch train{&train_batch_, set.labels, set.tasks};
    train_options update = update_;
    if constexpr (requires { update.epochs; update.batch_size; }) {
      if (options_.min_update_steps > 0 && update.batch_size > 0) {
        const std::size_t batches = (set.records.size() + update.batch_size - 1) / update.batch_size;
        const std::size_t wanted = (options_.min_update_steps + batches - 1) / batches;
        update.epochs = std::max<std::size_t>(update.epochs, std::min(wanted, options_.max_update_epochs));
      }
    }
    auto report = model.fit(train, nullptr, update, rng);
    if (!report) return unexpected(std::move(report).error());
    return {};
  }

  /// Trains the model on the sampler's choice of the successful records so far (labels: the task's best
  /// cost over the record's, as TenSet labels).
  Expected<void> update_model() {
    const hw::HardwareParams p = hardware_params_of(hardware_);
    data::Dataset ds = data::Dataset::from_measured(history_, std::string(p.name), p);
    Rng rng(rng_());
    const data::Selection selection = sample_records(sampler_, ds, rng);
    if (selection.records.size() < std::max<std::size_t>(options_.min_train_records, 2)) return {};
    TrainingSet set;
    for (const auto& ref : selection.records) {
      const auto& task = ds.tasks()[ref.task];
      set.add(task.records[ref.record], task.labels[ref.record], static_cast<std::uint32_t>(ref.task));
    }
    if (auto ok = fit_on(model_, set, rng); !ok) return ok;
    model_ready_ = true;
    trained_on_ = history_.size();
    return {};
  }

  Extractor extractor_;
  Hardware hardware_;
  Sampler sampler_;
  Model model_;
  Measurer measurer_;
  Policy policy_;
  TunerOptions options_;
  train_options update_;
  Rng rng_;
  bool model_ready_ = false;
  std::size_t trained_on_ = 0;  ///< history_.size() at the last model update
  TransferGuardReport guard_;
  std::function<Model()> fresh_model_;
  std::vector<TaskState> states_;
  std::vector<Record> history_;   ///< successful records of every task (measured or resumed), for the model
  std::vector<Record> resumed_;   ///< given to resume(), taken at the next tune()
  std::vector<Record> transfer_sources_;  ///< given to transfer_from()
  TransferOptions transfer_options_{};
  std::vector<Record> score_records_;
  features::FeatureBatch score_batch_, train_batch_;
};

}  // namespace crosstune::search
