// search::Tuner: real tuning runs on a small GEMM with the CPU measurer — budgets (trials, deadline),
// resume from a log, callbacks, the model guiding the search, a user's own policies, and refusals.
#include "crosstune/search/tuner.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "crosstune/data/samplers.hpp"
#include "crosstune/features/step_sequence_extractor.hpp"
#include "crosstune/hw/presets.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/measure/local_measurer.hpp"
#include "crosstune/model/mlp.hpp"
#include "crosstune/search/evolutionary_search.hpp"
#include "measure_support.hpp"

using namespace crosstune;

namespace {

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("crosstune-test-tuner-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// A 2-core CPU, as the records and sketches see it.
hw::HardwareParams two_cores() {
  hw::HardwareParams p;
  p.name = "test-cpu";
  p.kind = hw::DeviceKind::cpu;
  p.num_cores = 2;
  p.vector_unit_bytes = 32;
  p.cache_line_bytes = 64;
  return p;
}

measure::LocalMeasurer quick_measurer(const std::filesystem::path& log) {
  measure::LocalMeasurerOptions o;
  o.run.threads = 1;
  o.run.timing.repeat = 1;
  o.run.timing.min_repeat_ms = 0;
  o.run.timeout_s = 10;
  o.build.kernels_per_unit = 8;
  // These tests are about the loop, not the kernels' speed: -O1 builds them in about half the time of -O3.
  o.build.compile.optimization = "-O1";
  o.log = log;
  return measure::LocalMeasurer::make(o).value();
}

std::vector<search::TuneTask> gemm_task(std::int64_t n = 32) {
  return {search::TuneTask{std::make_shared<const ir::ComputeDag>(ir::matmul(n, n, n).value()), 1, "gemm"}};
}

template <class Model, class Policy>
auto make_tuner(Model model, Policy policy, const std::filesystem::path& log, search::TunerOptions options = {}) {
  return search::Tuner(features::StepSequenceExtractor{}, two_cores(), data::UniformSampler{1.0}, std::move(model),
                       quick_measurer(log), std::move(policy), options);
}

/// A small, fast model: the MLP baseline, 32 wide.
model::MlpModel small_model() { return model::MlpModel(features::StepSequenceExtractor{}.layout(), 32, 1); }

/// The MLP, noting the epochs and mini-batches of every fit() the tuner asks of it.
struct FitRecorder {
  using train_options = model::MlpModel::train_options;
  model::MlpModel inner = small_model();
  std::shared_ptr<std::vector<std::pair<std::size_t, std::size_t>>> fits = std::make_shared<std::vector<std::pair<std::size_t, std::size_t>>>();

  [[nodiscard]] features::FeatureLayout layout() const { return inner.layout(); }
  [[nodiscard]] Expected<void> predict(const features::FeatureBatch& batch, std::span<float> scores) { return inner.predict(batch, scores); }
  [[nodiscard]] Expected<model::TrainReport> fit(const model::LabelledBatch& data, const model::LabelledBatch* validation,
                                                 const train_options& options, Rng& rng) {
    const std::size_t batches = (data.labels.size() + options.batch_size - 1) / options.batch_size;
    fits->emplace_back(options.epochs, options.epochs * batches);
    return inner.fit(data, validation, options, rng);
  }
  [[nodiscard]] Expected<void> save(const std::filesystem::path& path) { return inner.save(path); }
};

}  // namespace

TEST_CASE("online updates take at least min_update_steps mini-batches while the records are few") {
  const auto dir = fresh_dir("update-steps");
  FitRecorder model;
  auto fits = model.fits;
  model::TrainOptions update;
  update.epochs = 2;
  update.batch_size = 4;
  update.patience = 0;
  auto tuner = search::Tuner(features::StepSequenceExtractor{}, two_cores(), data::UniformSampler{1.0}, std::move(model),
                             quick_measurer(dir / "log.json"), search::RandomSearch{},
                             {.measures_per_round = 8, .min_train_records = 8, .min_update_steps = 12, .max_update_epochs = 5, .update_every_records = 1}, update);
  auto result = tuner.tune(gemm_task(), {.trials = 24}).value();
  REQUIRE(fits->size() >= 2);
  // 8 records = 2 mini-batches: 6 epochs wanted, 5 allowed; 16 records = 4: 3 epochs
  CHECK((*fits)[0].first == 5);
  CHECK((*fits)[0].second == 10);
  CHECK((*fits)[1].first == 3);
  CHECK((*fits)[1].second == 12);
  // once the records alone make min_update_steps, the update options' epochs are kept
  for (const auto& [epochs, steps] : *fits) CHECK(epochs >= 2);
  std::filesystem::remove_all(dir);
}

TEST_CASE("once the model guides, it is updated after update_every_records new records, not every round") {
  const auto dir = fresh_dir("update-every");
  FitRecorder model;
  auto fits = model.fits;
  auto tuner = search::Tuner(features::StepSequenceExtractor{}, two_cores(), data::UniformSampler{1.0}, std::move(model),
                             quick_measurer(dir / "log.json"), search::RandomSearch{},
                             {.measures_per_round = 8, .min_train_records = 8, .min_update_steps = 4, .update_every_records = 16});
  auto result = tuner.tune(gemm_task(), {.trials = 40}).value();
  REQUIRE(result.trials == 40);
  // rounds end at 8, 16, 24, 32, 40 records: the first trains (the model is not ready), then every 16 more
  CHECK(fits->size() == 3);
  std::filesystem::remove_all(dir);
}

TEST_CASE("update_growth spaces the updates geometrically once the history is long; out of range is refused") {
  const auto dir = fresh_dir("update-growth");
  for (const double growth : {0.0, 0.5}) {
    FitRecorder model;
    auto fits = model.fits;
    auto tuner = search::Tuner(features::StepSequenceExtractor{}, two_cores(), data::UniformSampler{1.0}, std::move(model),
                               quick_measurer(dir / ("log" + std::to_string(growth) + ".json")), search::RandomSearch{},
                               {.measures_per_round = 8, .min_train_records = 8, .min_update_steps = 4,
                                .update_every_records = 16, .update_growth = growth});
    auto result = tuner.tune(gemm_task(), {.trials = 80}).value();
    REQUIRE(result.trials == 80);
    INFO("growth " << growth);
    // fixed: 8, then every 16: 24, 40, 56, 72. Growth 0.5: 8, 24 (16 > 4), 40 (16 > 12), 64 (20 > 16: the
    // round ending at 64 is the first with 20 new), and 96 is past the budget.
    CHECK(fits->size() == (growth == 0.0 ? 5u : 4u));
  }
  for (const double growth : {-0.1, 101.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    auto tuner = make_tuner(small_model(), search::RandomSearch{}, dir / "refused.json", {.update_growth = growth});
    auto result = tuner.tune(gemm_task(), {.trials = 8});
    REQUIRE_FALSE(result);
    CHECK(result.error().message.find("update_growth") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a random search measures exactly the trial budget, logs every candidate and the finalists again, and finds a working kernel") {
  const auto dir = fresh_dir("random");
  auto tuner = make_tuner(small_model(), search::RandomSearch{}, dir / "log.json", {.measures_per_round = 8, .update_model = false});
  std::size_t measurements = 0, rounds = 0;
  search::TuneCallbacks callbacks;
  callbacks.on_measurement = [&](std::size_t task, const measure::Measurement&) {
    CHECK(task == 0);
    ++measurements;
  };
  callbacks.on_round = [&](const search::RoundReport& r) {
    ++rounds;
    CHECK(r.round == rounds);
    CHECK(r.trials == measurements);
    CHECK(r.partial != nullptr);
    return true;
  };
  const auto tasks = gemm_task();
  auto result = tuner.tune(tasks, {.trials = 20}, callbacks).value();
  CHECK(result.trials == 20);
  CHECK(measurements == 20);
  CHECK(rounds == 3);  // 8 + 8 + 4
  CHECK(result.stop_reason == "trials");
  REQUIRE(result.tasks.size() == 1);
  const auto& t = result.tasks[0];
  CHECK(t.trials == 20);
  CHECK(std::isfinite(t.best_seconds));
  REQUIRE(t.best.has_value());
  CHECK(t.gflops() > 0);
  CHECK(result.estimate_seconds() == doctest::Approx(t.best_seconds));
  CHECK(result.profile.measure > 0);
  CHECK(result.profile.remeasure > 0);
  CHECK(result.profile.total >= result.profile.measure + result.profile.remeasure);

  // The 4 fastest (the default RemeasureOptions) measured again twice, interleaved: the winner is the
  // lowest median of those measurements alone, and it is one of them.
  CHECK(result.remeasured == 8);
  REQUIRE(t.finalists.size() == 4);
  for (const auto& f : t.finalists) {
    CHECK(f.failure.empty());
    CHECK(f.timing.costs_seconds.size() == 2);  // 2 passes x 1 repeat (quick_measurer)
    CHECK(f.timing.median_seconds() >= t.finalists[0].timing.median_seconds());
  }
  CHECK(t.best_seconds == t.finalists[0].timing.median_seconds());
  CHECK(t.best->steps == t.finalists[0].record.steps);
  CHECK(t.ties <= 3);

  // Every measured candidate is in the log once, with the task's workload key; the finalists twice more.
  const auto records = test::read_log(dir / "log.json");
  CHECK(records.size() == 20 + 8);
  std::map<std::uint64_t, int> times;
  double tuning_best = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    CHECK(r.task->workload_key == tasks[0].dag->workload_key());
    ++times[hash_value(r.steps)];
    if (i < 20) tuning_best = std::min(tuning_best, r.result.mean_cost_seconds());
  }
  CHECK(times.size() == 20);
  for (const auto& f : t.finalists) CHECK(times[hash_value(f.record.steps)] == 3);
  CHECK(t.tuning_best_seconds == doctest::Approx(tuning_best));
  // The finalists are the 4 fastest as first measured.
  std::vector<double> first(records.size() - 8);
  for (std::size_t i = 0; i < first.size(); ++i) first[i] = records[i].result.mean_cost_seconds();
  std::sort(first.begin(), first.end());
  for (const auto& f : t.finalists) CHECK(f.record.result.mean_cost_seconds() <= first[3]);
  std::filesystem::remove_all(dir);
}

namespace {
/// A measurer that builds nothing, for the finalists: each candidate's true cost is a function of its
/// steps; its first measurement reads that times a factor in [0.2, 1] (luck), later ones read it exactly,
/// except those of the candidates in `broken`, which fail.
struct NoisyMeasurer {
  std::shared_ptr<std::map<std::uint64_t, int>> seen = std::make_shared<std::map<std::uint64_t, int>>();
  std::set<std::uint64_t> broken{};

  static double true_cost(std::uint64_t h) { return 1e-3 * (1 + static_cast<double>(h % 1000) / 100); }
  static double luck(std::uint64_t h) { return 0.2 + 0.8 * static_cast<double>((h / 1000) % 1000) / 1000; }

  [[nodiscard]] Expected<void> set_task(const measure::MeasureTask&) { return {}; }
  measure::BatchResult measure(std::span<const measure::Candidate> candidates) {
    measure::BatchResult batch;
    for (const auto& c : candidates) {
      measure::Measurement m;
      m.record = c.record;
      const std::uint64_t h = hash_value(c.record.steps);
      const int before = (*seen)[h]++;
      if (before > 0 && broken.contains(h)) {
        m.record.result.error = ErrorCode::runtime_device;
        m.record.result.costs_seconds = {1e10};
        m.message = "it crashed the second time";
      } else {
        m.record.result.costs_seconds = {true_cost(h) * (before == 0 ? luck(h) : 1.0)};
      }
      batch.measurements.push_back(std::move(m));
    }
    return batch;
  }
};

template <class Policy = search::RandomSearch>
search::TuneResult noisy_run(NoisyMeasurer measurer, std::size_t top, Policy policy = {}, std::size_t trials = 64,
                             bool update_model = false, std::int64_t n = 32) {
  search::TunerOptions options{.measures_per_round = 16, .update_model = update_model};
  options.remeasure.top = top;
  search::Tuner tuner(features::StepSequenceExtractor{}, two_cores(), data::UniformSampler{1.0}, small_model(), std::move(measurer),
                      std::move(policy), options);
  return tuner.tune(gemm_task(n), {.trials = trials}).value();
}
}  // namespace

TEST_CASE("two candidates of a round that make the same program are measured once") {
  // The evolutionary search's mutations can reach the same steps through different knobs; before the
  // Tuner compared steps within a round, such pairs were measured twice: 20 of these 320 trials on a 64^3
  // GEMM, 10 of 320 on 256^3, 2 of 192 in a 1024^3 run.
  search::EvolutionaryOptions evo;
  evo.population = 256;
  evo.iterations = 2;
  NoisyMeasurer measurer;
  const auto result = noisy_run(measurer, 0, search::EvolutionarySearch(evo), 320, true, 64);
  CHECK(result.trials > 0);
  std::size_t measured = 0;
  for (const auto& [steps, times] : *measurer.seen) {
    CHECK(times == 1);
    measured += static_cast<std::size_t>(times);
  }
  CHECK(measured == result.trials);
}

TEST_CASE("the finalists are measured again and the winner is the fastest of those measurements, not the luckiest first one") {
  const auto plain = noisy_run(NoisyMeasurer{}, 0);
  const auto& p = plain.tasks[0];
  CHECK(plain.remeasured == 0);
  CHECK(p.finalists.empty());
  CHECK(p.best_seconds == p.tuning_best_seconds);  // the luckiest first measurement

  NoisyMeasurer measurer;
  const auto result = noisy_run(measurer, 4);
  const auto& t = result.tasks[0];
  CHECK(t.tuning_best_seconds == p.tuning_best_seconds);  // the same seed: the same candidates
  CHECK(result.remeasured == 8);
  REQUIRE(t.finalists.size() == 4);
  // The finalists are the 4 lowest first readings; the winner, the lowest true cost among them.
  double lowest_true = std::numeric_limits<double>::infinity();
  for (const auto& f : t.finalists) {
    const std::uint64_t h = hash_value(f.record.steps);
    CHECK((*measurer.seen)[h] == 3);
    CHECK(f.timing.costs_seconds.size() == 2);
    CHECK(f.timing.median_seconds() == doctest::Approx(NoisyMeasurer::true_cost(h)));
    lowest_true = std::min(lowest_true, NoisyMeasurer::true_cost(h));
  }
  CHECK(t.best_seconds == doctest::Approx(lowest_true));
  CHECK(t.best->steps == t.finalists[0].record.steps);
  // Not worse than the plain run's pick, by its true cost, and honest: no lucky reading in best_seconds.
  CHECK(t.best_seconds <= NoisyMeasurer::true_cost(hash_value(p.best->steps)));
  CHECK(t.best_seconds > t.tuning_best_seconds);
  std::size_t equal = 0;  // exact re-measurements: ties only between equal costs
  for (std::size_t i = 1; i < t.finalists.size(); ++i) equal += t.finalists[i].timing.median_seconds() == t.best_seconds;
  CHECK(t.ties == equal);

  SUBCASE("a finalist that fails when measured again cannot win") {
    NoisyMeasurer flaky;
    flaky.broken.insert(hash_value(t.finalists[0].record.steps));
    const auto again = noisy_run(flaky, 4);
    const auto& a = again.tasks[0];
    REQUIRE(a.finalists.size() == 4);
    CHECK(a.best->steps == t.finalists[1].record.steps);
    CHECK(a.best_seconds == doctest::Approx(t.finalists[1].timing.median_seconds()));
    CHECK(a.finalists.back().record.steps == t.finalists[0].record.steps);
    CHECK(a.finalists.back().failure.find("crashed the second time") != std::string::npos);
    CHECK(a.picked_by_finalists());
  }
  SUBCASE("when every finalist fails again, they are kept with their failures and the best stands as measured while tuning") {
    NoisyMeasurer flaky;
    for (const auto& f : t.finalists) flaky.broken.insert(hash_value(f.record.steps));
    const auto again = noisy_run(flaky, 4);
    const auto& a = again.tasks[0];
    CHECK(again.remeasured == 8);
    REQUIRE(a.finalists.size() == 4);
    CHECK_FALSE(a.picked_by_finalists());
    for (const auto& f : a.finalists) CHECK(f.failure.find("crashed the second time") != std::string::npos);
    CHECK(a.best_seconds == p.tuning_best_seconds);
    CHECK(a.best->steps == p.best->steps);
    CHECK(a.ties == 0);
  }
  CHECK(t.picked_by_finalists());
  CHECK_FALSE(p.picked_by_finalists());
}

TEST_CASE("a resumed log is not measured again and its best counts") {
  const auto dir = fresh_dir("resume");
  const auto tasks = gemm_task();
  double first_best = 0;
  {
    auto tuner = make_tuner(small_model(), search::RandomSearch{}, dir / "log.json", {.measures_per_round = 8, .update_model = false});
    first_best = tuner.tune(tasks, {.trials = 16}).value().tasks[0].tuning_best_seconds;
  }
  const auto before = test::read_log(dir / "log.json");
  REQUIRE(before.size() == 16 + 8);  // and the 4 finalists measured twice more
  // The same seed would draw the same candidates: resumed, they must all be skipped.
  auto tuner = make_tuner(small_model(), search::RandomSearch{}, dir / "log.json", {.measures_per_round = 8, .update_model = false});
  tuner.resume(before);
  auto result = tuner.tune(tasks, {.trials = 8}).value();
  CHECK(result.tasks[0].resumed == 16);
  CHECK(result.tasks[0].trials == 8);
  CHECK(result.tasks[0].tuning_best_seconds <= first_best);  // as first measured: the log's first record of each
  const auto after = test::read_log(dir / "log.json");
  REQUIRE(after.size() == 24 + 16);
  std::set<std::uint64_t> distinct;
  for (const auto& r : after) distinct.insert(hash_value(r.steps));
  CHECK(distinct.size() == 24);
  std::filesystem::remove_all(dir);
}

TEST_CASE("the model is trained online and then guides the evolutionary search") {
  const auto dir = fresh_dir("guided");
  search::EvolutionaryOptions evo;
  evo.population = 64;
  evo.iterations = 2;
  auto tuner = make_tuner(small_model(), search::EvolutionarySearch(evo), dir / "log.json",
                          {.measures_per_round = 8, .min_train_records = 8});
  CHECK_FALSE(tuner.model_ready());
  std::vector<bool> ready_after_round;
  search::TuneCallbacks callbacks;
  callbacks.on_round = [&](const search::RoundReport&) {
    ready_after_round.push_back(tuner.model_ready());
    return true;
  };
  auto result = tuner.tune(gemm_task(), {.trials = 24}, callbacks).value();
  CHECK(result.trials == 24);
  CHECK(tuner.model_ready());
  // 8 candidates a round, fewer when two of them make the same program (measured once): 3 rounds or more.
  REQUIRE(ready_after_round.size() >= 3);
  CHECK(ready_after_round[0]);  // 8 successful records after the first round
  CHECK(result.profile.train > 0);
  CHECK(result.profile.predict > 0);  // the later rounds were scored by the model
  std::filesystem::remove_all(dir);
}

TEST_CASE("a deadline stops the run with the best found so far, and so do the stop flag and on_round") {
  const auto dir = fresh_dir("deadline");
  SUBCASE("deadline") {
    auto tuner = make_tuner(small_model(), search::RandomSearch{}, dir / "log.json", {.measures_per_round = 4, .update_model = false});
    const auto start = std::chrono::steady_clock::now();
    auto result = tuner.tune(gemm_task(), {.trials = 100000, .seconds = 3}).value();
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(result.stop_reason == "deadline");
    CHECK(result.deadline_hit);
    CHECK(result.trials < 100000);
    CHECK(took < 3 + 10);  // at most one candidate's time limit past the deadline
    CHECK(test::read_log(dir / "log.json").size() == result.trials + result.remeasured);
  }
  SUBCASE("on_round returning false") {
    auto tuner = make_tuner(small_model(), search::RandomSearch{}, dir / "log.json", {.measures_per_round = 4, .update_model = false});
    search::TuneCallbacks callbacks;
    callbacks.on_round = [](const search::RoundReport&) { return false; };
    auto result = tuner.tune(gemm_task(), {.trials = 100}, callbacks).value();
    CHECK(result.stop_reason == "callback");
    CHECK(result.trials == 4);
  }
  SUBCASE("the embedder's stop flag") {
    std::atomic<bool> stop{true};
    auto tuner = make_tuner(small_model(), search::RandomSearch{}, dir / "log.json",
                            {.measures_per_round = 4, .update_model = false, .stop = &stop});
    auto result = tuner.tune(gemm_task(), {.trials = 100}).value();
    CHECK(result.stop_reason == "stopped");
    CHECK(result.trials == 0);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("several tasks share the budget and the network estimate sums weight x best") {
  const auto dir = fresh_dir("tasks");
  std::vector<search::TuneTask> tasks = {
      {std::make_shared<const ir::ComputeDag>(ir::matmul(32, 32, 32).value()), 3, "small"},
      {std::make_shared<const ir::ComputeDag>(ir::matmul(48, 32, 16).value()), 1, "other"}};
  auto tuner = make_tuner(small_model(), search::RandomSearch{}, dir / "log.json", {.measures_per_round = 4, .update_model = false});
  auto result = tuner.tune(tasks, {.trials = 16}).value();
  CHECK(result.trials == 16);
  REQUIRE(result.tasks.size() == 2);
  CHECK(result.tasks[0].trials >= 4);  // the warm-up gives every task a round
  CHECK(result.tasks[1].trials >= 4);
  CHECK(result.tasks[0].trials + result.tasks[1].trials == 16);
  CHECK(result.estimate_seconds() == doctest::Approx(3 * result.tasks[0].best_seconds + result.tasks[1].best_seconds));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a task whose space runs out is done, and the run ends when every task is") {
  const auto dir = fresh_dir("exhausted");
  // 2 x 2 x 2 has few schedules: asking for far more than it holds ends the task.
  auto tuner = make_tuner(small_model(), search::RandomSearch{}, dir / "log.json", {.measures_per_round = 64, .update_model = false});
  auto result = tuner.tune(gemm_task(2), {.trials = 5000}).value();
  CHECK(result.stop_reason == "every task is done");
  CHECK(result.trials < 5000);
  CHECK(result.tasks[0].done_reason.find("exhausted") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("bad budgets and tasks are refused with what to do") {
  const auto dir = fresh_dir("refusals");
  auto tuner = make_tuner(small_model(), search::RandomSearch{}, dir / "log.json");
  CHECK(tuner.tune({}, {.trials = 4}).error().message.find("no tasks") != std::string::npos);
  CHECK(tuner.tune(gemm_task(), {.trials = 0}).error().message.find("neither trials nor seconds") != std::string::npos);
  CHECK(tuner.tune(gemm_task(), {.trials = 1, .seconds = -1}).error().message.find("seconds") != std::string::npos);
  std::vector<search::TuneTask> no_dag(1);
  CHECK(tuner.tune(no_dag, {.trials = 4}).error().message.find("has no DAG") != std::string::npos);
  auto weightless = gemm_task();
  weightless[0].weight = 0;
  CHECK(tuner.tune(weightless, {.trials = 4}).error().message.find("weight") != std::string::npos);
  search::TunerOptions no_passes;
  no_passes.remeasure.passes = 0;
  auto refused = make_tuner(small_model(), search::RandomSearch{}, dir / "log.json", no_passes).tune(gemm_task(), {.trials = 4});
  CHECK(refused.error().message.find("remeasure.passes") != std::string::npos);
  search::TunerOptions all_reserved;
  all_reserved.remeasure.reserve_share = 1;
  refused = make_tuner(small_model(), search::RandomSearch{}, dir / "log.json", all_reserved).tune(gemm_task(), {.trials = 4});
  CHECK(refused.error().message.find("reserve_share") != std::string::npos);
  std::filesystem::remove_all(dir);
}

namespace {
/// A model that has learned something: trained on a first run's records. The run is made once; each
/// subcase below starts from a copy of its weights.
model::MlpModel trained_model() {
  static const std::string weights = [] {
    const auto dir = fresh_dir("guard-first");
    auto first = make_tuner(small_model(), search::RandomSearch{}, dir / "first.json", {.measures_per_round = 8, .min_train_records = 8});
    REQUIRE(first.tune(gemm_task(), {.trials = 16}));
    std::filesystem::remove_all(dir);
    return first.model().serialize();
  }();
  return model::MlpModel::deserialize(weights, "the trained model").value();
}
}  // namespace

TEST_CASE("the negative-transfer guard judges a model given trained before trusting it") {
  const auto dir = fresh_dir("guard");
  model::MlpModel trained = trained_model();
  // A tuner judging `trained`, with a fresh model that counts how often it is made.
  auto guarded = [&](const search::TunerOptions& options, int& made) {
    auto tuner = make_tuner(std::move(trained), search::EvolutionarySearch({.population = 64, .iterations = 1}), dir / "log.json", options);
    tuner.set_fresh_model([&made] {
      ++made;
      return small_model();
    });
    return tuner;
  };
  SUBCASE("kept when it reaches min_pca") {
    search::TunerOptions options{.measures_per_round = 8, .model_ready = true};
    options.guard = {.enabled = true, .min_records = 8, .min_pca = 0.0};
    auto tuner = make_tuner(std::move(trained), search::EvolutionarySearch({.population = 64, .iterations = 1}), dir / "log.json", options);
    auto result = tuner.tune(gemm_task(), {.trials = 16}).value();
    CHECK(result.guard.checked);
    CHECK_FALSE(result.guard.fell_back);
    CHECK(result.guard.records >= 8);
    CHECK(result.guard.pca >= 0.0);
    CHECK(result.guard.pca <= 1.0);
    CHECK(result.guard.message.find("kept") != std::string::npos);
  }
  SUBCASE("replaced by a fresh model when it does not") {
    search::TunerOptions options{.measures_per_round = 8, .model_ready = true};
    options.guard = {.enabled = true, .min_records = 8, .min_pca = 1.01};  // nothing reaches it
    int made = 0;
    auto tuner = guarded(options, made);
    auto result = tuner.tune(gemm_task(), {.trials = 24}).value();
    CHECK(result.guard.checked);
    CHECK(result.guard.fell_back);
    CHECK(made == 1);
    CHECK(result.guard.message.find("replaced by a fresh model") != std::string::npos);
    CHECK(tuner.model_ready());  // retrained on this run's records
  }
  SUBCASE("compared with a fresh model trained on half of the first measurements: kept within the margin") {
    search::TunerOptions options{.measures_per_round = 16, .model_ready = true};
    options.guard = {.enabled = true, .min_records = 16, .min_pca = 0.0, .against_fresh = true, .margin = 1.0};
    int made = 0;
    auto tuner = guarded(options, made);
    auto result = tuner.tune(gemm_task(), {.trials = 16}).value();
    CHECK(result.guard.compared);
    CHECK_FALSE(result.guard.fell_back);
    CHECK(made == 1);
    CHECK(result.guard.half_pca >= 0.0);
    CHECK(result.guard.half_pca <= 1.0);
    CHECK(result.guard.fresh_pca >= 0.0);
    CHECK(result.guard.fresh_pca <= 1.0);
    CHECK(result.guard.message.find("fresh model trained on the other half") != std::string::npos);
    CHECK(result.guard.message.find("kept") != std::string::npos);
  }
  SUBCASE("compared with a fresh model: replaced by it when it ranks worse") {
    search::TunerOptions options{.measures_per_round = 16, .model_ready = true};
    options.guard = {.enabled = true, .min_records = 16, .min_pca = 0.0, .against_fresh = true, .margin = -1.01};  // nothing passes
    int made = 0;
    auto tuner = guarded(options, made);
    auto result = tuner.tune(gemm_task(), {.trials = 32}).value();
    CHECK(result.guard.compared);
    CHECK(result.guard.fell_back);
    CHECK(made == 1);  // the comparison's fresh model is the one kept
    CHECK(result.guard.message.find("replaced by a fresh model") != std::string::npos);
    CHECK(tuner.model_ready());
  }
  SUBCASE("while it is judged, part of each round is drawn at random instead of asked of the policy") {
    struct CountingPolicy {
      search::RandomSearch inner;
      std::shared_ptr<std::vector<std::size_t>> asked = std::make_shared<std::vector<std::size_t>>();
      std::vector<search::CpuCandidate> ask(const search::SearchContext& context, std::size_t n, Rng& rng) {
        asked->push_back(n);
        return inner.ask(context, n, rng);
      }
      void tell(const search::SearchContext& context, std::span<const search::CpuCandidate> candidates, std::span<const double> seconds) {
        inner.tell(context, candidates, seconds);
      }
    };
    CountingPolicy policy;
    auto asked = policy.asked;
    search::TunerOptions options{.measures_per_round = 16, .model_ready = true};
    options.guard = {.enabled = true, .min_records = 16, .min_pca = 0.0, .against_fresh = false, .random_share = 0.25};
    auto tuner = make_tuner(std::move(trained), policy, dir / "log.json", options);
    auto result = tuner.tune(gemm_task(), {.trials = 32}).value();
    CHECK(result.trials == 32);
    REQUIRE(asked->size() == 2);
    CHECK((*asked)[0] == 12);  // 4 of the judged round drawn at random
    CHECK((*asked)[1] == 16);  // the verdict is in: the policy gets the whole round
  }
  SUBCASE("not compared when it is worse than chance") {
    search::TunerOptions options{.measures_per_round = 8, .model_ready = true};
    options.guard = {.enabled = true, .min_records = 8, .min_pca = 1.01};
    auto tuner = make_tuner(std::move(trained), search::EvolutionarySearch({.population = 64, .iterations = 1}), dir / "log.json", options);
    tuner.set_fresh_model([&] { return small_model(); });
    auto result = tuner.tune(gemm_task(), {.trials = 16}).value();
    CHECK(result.guard.fell_back);
    CHECK_FALSE(result.guard.compared);
    CHECK(result.guard.message.find("0.5 is chance") != std::string::npos);
  }
  SUBCASE("off for a model trained here") {
    auto tuner = make_tuner(small_model(), search::RandomSearch{}, dir / "log.json", {.measures_per_round = 8, .min_train_records = 8});
    auto result = tuner.tune(gemm_task(), {.trials = 16}).value();
    CHECK_FALSE(result.guard.checked);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("schedules of tuned shapes are transplanted first, and a task of another class is told why not") {
  const auto dir = fresh_dir("transfer");
  {
    auto first = make_tuner(small_model(), search::RandomSearch{}, dir / "source.json", {.measures_per_round = 8, .update_model = false});
    REQUIRE(first.tune(gemm_task(64), {.trials = 16}));
  }
  const auto tuned = test::read_log(dir / "source.json");
  std::vector<search::TuneTask> tasks = {
      {std::make_shared<const ir::ComputeDag>(ir::matmul(96, 64, 48).value()), 1, "other shape"},
      {std::make_shared<const ir::ComputeDag>(ir::unary({64, 64}, ir::UnaryOp::relu).value()), 1, "another class"}};
  auto tuner = make_tuner(small_model(), search::RandomSearch{}, dir / "log.json", {.measures_per_round = 8, .update_model = false});
  tuner.transfer_from(tuned, {.per_task = 8, .sources_per_key = 3});
  auto result = tuner.tune(tasks, {.trials = 24}).value();
  const auto& shape = result.tasks[0];
  CHECK(shape.transferred == 3);  // the 3 best of the one source workload, measured in the task's first round
  CHECK(shape.transfer_note.find("3 schedules transplanted from") != std::string::npos);
  CHECK(std::isfinite(shape.best_seconds));
  const auto& other = result.tasks[1];
  CHECK(other.transferred == 0);
  CHECK(other.transfer_note.find("no record of this kernel class") != std::string::npos);

  // A model given trained is judged on searched candidates only: the transplanted ones, a narrow sample of
  // good schedules, do not count toward the guard's records.
  search::TunerOptions judged{.measures_per_round = 8, .model_ready = true};
  judged.guard = {.enabled = true, .min_records = 8, .min_pca = 0.0, .against_fresh = false};
  auto guarded = make_tuner(small_model(), search::RandomSearch{}, dir / "log2.json", judged);
  guarded.transfer_from(tuned, {.per_task = 8, .sources_per_key = 3});
  std::vector<search::TuneTask> one = {tasks[0]};
  auto first_rounds = guarded.tune(one, {.trials = 11}).value();  // 3 transplanted, then 8 searched
  CHECK(first_rounds.tasks[0].transferred == 3);
  CHECK(first_rounds.guard.checked);
  CHECK(first_rounds.guard.records == 8);
  std::filesystem::remove_all(dir);
}
