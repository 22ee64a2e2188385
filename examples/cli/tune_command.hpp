// `crosstune tune`: tunes an operator or a whole network on this CPU with search::Tuner, and compares the
// result with Eigen on the same threads.
//
//   crosstune tune --op matmul --shape 1024,1024,1024 --trials 256 --log gemm.json [--model M.bin] [--json]
//   crosstune tune --network resnet50 --trials 2000 --time-budget 3600 --log r50.json
//   crosstune tune --network resnet50 --layout NHWC --trials 2000 --log r50.json   # channels last
//
// The loop is the library's: the task scheduler picks a task, the evolutionary search (or --search random)
// proposes --per-round candidates guided by the cost model (a fresh one of --cost-model's kind, BiLSTM or
// XGBoost trees, trained online; or --model's BiLSTM fine-tuned online, which a fresh one replaces when the
// guard finds it ranks worse: model::OneOf), measure::LocalMeasurer builds, checks and times them and
// appends every one to --log.
// A --log that exists is resumed: its records of the tasks are not measured again and count toward the
// best. --time-budget is a hard deadline: the best found by then is reported. Ctrl-C stops the same way
// (exit 130 after the report).
//
// At the end the best kernel of each task is measured again, back to back with its Eigen peer
// (codegen/eigen_reference.hpp: GEMM, im2col + GEMM for convolutions) and, for networks, the untuned loop
// nest, with the same timer, threads and --repeat; those confirmed figures are what is printed, with the
// ratio to Eigen. Operators Eigen has no peer for (pooling, depthwise convolutions, element-wise) are
// compared with their untuned kernel. --best FILE keeps each task's winner as a one-record-a-task Ansor
// log, for `crosstune codegen --replay FILE --source` (its C++) or another tool.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "codegen_command.hpp"
#include "common.hpp"
#include "crosstune/codegen/eigen_reference.hpp"
#include "crosstune/data/samplers.hpp"
#include "crosstune/features/loop_features.hpp"
#include "crosstune/features/any_extractor.hpp"
#include "crosstune/features/step_sequence_extractor.hpp"
#include "crosstune/io/atomic_file.hpp"
#include "crosstune/io/record_format.hpp"
#include "crosstune/ir/networks.hpp"
#include "crosstune/model/cost_model.hpp"
#include "crosstune/model/one_of.hpp"
#ifdef CROSSTUNE_WITH_XGBOOST
#include "crosstune/model/xgboost.hpp"
#endif
#include "crosstune/schedule/replay.hpp"
#include "crosstune/search/evolutionary_search.hpp"
#include "crosstune/search/simulated_annealing.hpp"
#include "crosstune/search/tuner.hpp"
#include "measure_command.hpp"
#include "progress.hpp"

namespace crosstune::cli {

struct TuneOptions {
  CodegenOptions op;  ///< --op/--shape/--key and the operators' flags, --seed
  std::string network, log, best, model, transfer, search = "evolutionary", target = "native";
#ifdef CROSSTUNE_WITH_XGBOOST
  std::string cost_model = "xgb";  ///< the fresh model's kind: xgb (with XGBoost) or bilstm
#else
  std::string cost_model = "bilstm";
#endif
  std::string features = "steps";  ///< what the models read: steps, loops (loop statistics), steps+loops or steps+launch
  std::string tree_objective = "rank";  ///< the fresh trees' objective: rank (pairwise) or weighted (throughput-weighted squared error)
  std::size_t trials = 64, per_round = 64, population = 2048, iterations = 4, threads = 0, repeat = 3;
  double time_budget = 0, min_repeat_ms = 20, timeout = 10, slow_cutoff = 10;
  std::size_t early_stopping = 0;
  std::size_t finalists = 4, finalist_passes = 2;  ///< search::RemeasureOptions: top and passes
  bool json = false, no_resume = false, no_reference = false, bind = false;
};

namespace tune_detail {

// Ctrl-C raises measure_detail::interrupted, as in `crosstune measure`.

/// The confirmed figures of one task: best, Eigen, untuned (seconds; 0: not measured).
struct Confirmed {
  double best = 0, eigen = 0, untuned = 0;
  std::string eigen_note;  // why there is no Eigen figure
};

/// Measures the best kernel of `t` again, with its Eigen peer and (when `untuned`) the unscheduled loop
/// nest, back to back under the same settings, on a measurer that logs nothing.
inline Confirmed confirm(measure::LocalMeasurer& measurer, const search::TaskResult& t, std::uint64_t seed, bool untuned,
                         bool eigen_available) {
  Confirmed out;
  schedule::Replayer replayer;
  auto dag = replayer.dag(t.workload_key);
  if (!dag) return out;
  schedule::State unscheduled(*dag);
  auto nest = codegen::lower(unscheduled);
  if (!nest) return out;
  measure::MeasureTask task;
  task.signature = codegen::kernel_signature(*nest);
  task.seed = seed;
  codegen::CpuCodegenOptions cpp;
  cpp.function_name = "crosstune_reference";
  task.reference = codegen::kernel_source(*nest, cpp);
  std::vector<measure::Candidate> candidates;
  enum class Kind { best, eigen, untuned };
  std::vector<Kind> kinds;
  auto add = [&](measure::KernelSource k, Kind kind) {
    measure::Candidate c;
    c.kernel = std::move(k);
    c.record.task = t.best ? t.best->task : nullptr;
    candidates.push_back(std::move(c));
    kinds.push_back(kind);
  };
  if (t.best) {
    auto state = replayer.replay(*t.best);
    if (state)
      if (auto best_nest = codegen::lower(*state)) {
        cpp.function_name = "crosstune_best";
        add(codegen::kernel_source(*best_nest, cpp), Kind::best);
      }
  }
  if (eigen_available) {
    auto eigen = codegen::eigen_reference_kernel(**dag, task.signature);
    if (eigen)
      add(std::move(*eigen), Kind::eigen);
    else
      out.eigen_note = eigen.error().message;
  }
  if (untuned) {
    cpp.function_name = "crosstune_untuned";
    add(codegen::kernel_source(*nest, cpp), Kind::untuned);
  }
  if (candidates.empty()) return out;
  if (!measurer.set_task(task)) return out;
  auto batch = measurer.measure(candidates);
  for (std::size_t i = 0; i < batch.measurements.size(); ++i) {
    const auto& m = batch.measurements[i];
    if (!m.ok()) {
      if (kinds[i] == Kind::eigen) out.eigen_note = "the Eigen kernel failed: " + m.message.substr(0, 200);
      continue;
    }
    const double s = m.timing.mean_seconds();
    (kinds[i] == Kind::best ? out.best : kinds[i] == Kind::eigen ? out.eigen : out.untuned) = s;
  }
  return out;
}

/// The sizes of a model trained from scratch during a run: small, so that its updates and the thousands of
/// predictions of each search round stay a small share of the time.
inline model::BiLstmAttentionConfig fresh_model_sizes() {
  model::BiLstmAttentionConfig sizes;
  sizes.embedding = 32;
  sizes.hidden = 32;
  sizes.layers = 1;
  sizes.heads = 2;
  sizes.head_hidden = 32;
  return sizes;
}

/// While alive, Ctrl-C raises measure_detail::interrupted (once: a second Ctrl-C ends the tool at once).
class SigintToFlag {
 public:
  SigintToFlag() {
    struct sigaction action {};
    action.sa_handler = measure_detail::on_sigint;
    action.sa_flags = SA_RESETHAND;
    ::sigaction(SIGINT, &action, &previous_);
  }
  SigintToFlag(const SigintToFlag&) = delete;
  SigintToFlag& operator=(const SigintToFlag&) = delete;
  ~SigintToFlag() { ::sigaction(SIGINT, &previous_, nullptr); }

 private:
  struct sigaction previous_ {};
};

/// The time line of the report: where the wall time went, and the log.
inline void print_time_shares(const search::TuneProfile& p, const std::string& log) {
  auto share = [&](double part) { return p.total > 0 ? 100.0 * part / p.total : 0.0; };
  std::printf("time: measuring %.0f%%, search %.0f%%, prediction %.0f%%, training %.0f%%, lowering %.0f%%, finalists %.0f%%\nlog: %s\n",
              share(p.measure), share(p.search), share(p.predict), share(p.train), share(p.lower), share(p.remeasure), log.c_str());
}

/// What ended the run, in words: "stopped by the deadline".
inline std::string stop_words(const std::string& reason) {
  if (reason == "trials") return "the trial budget";
  if (reason == "deadline") return "the deadline (--time-budget)";
  if (reason == "stopped") return "Ctrl-C";
  if (reason == "every task is done") return "every task being done";
  return "the measurer: " + reason;
}

/// Why a task ended without a working kernel, for the report and the error.
inline std::string no_kernel_reason(const search::TuneResult& result, const search::TaskResult& t) {
  std::string why = t.trials == 0 ? "no candidate was measured before " + stop_words(result.stop_reason)
                                  : "all " + std::to_string(t.trials) + " candidates measured failed to build, check or run";
  if (t.resumed > 0) why += ", and none of the " + std::to_string(t.resumed) + " resumed records works";
  return why;
}

inline std::string json_quoted(const std::string& text) {
  std::string out;
  detail::append_json_string(out, text);
  return out;
}

inline std::string gflops_text(std::int64_t flops, double seconds) {
  if (!(seconds > 0)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(flops) / seconds * 1e-9);
  return buf;
}

inline std::string ms_text(double seconds) {
  if (!(seconds > 0) || !std::isfinite(seconds)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", seconds * 1e3);
  return buf;
}

/// --best: each task's winner, as its record measured while tuning, in an Ansor log that replaces `path`
/// atomically (a failure leaves an existing file as it was). Tasks without a working kernel have no line;
/// when no task has one, the file is not written at all (the command then fails for an operator).
inline void write_best(const std::string& path, const search::TuneResult& result) {
  std::string text;
  std::size_t written = 0;
  for (const auto& t : result.tasks) {
    if (!t.best) continue;
    if (auto ok = io::append_record_line(text, *t.best); !ok) {
      Error e = std::move(ok).error();
      e.message = "--best: the winner of " + t.name + " cannot be written: " + e.message;
      fail(e);
    }
    text.push_back('\n');
    ++written;
  }
  if (written == 0) {
    note("--best: no task has a working kernel; %s is not written", path.c_str());
    return;
  }
  if (auto ok = io::write_file_atomically(path, text); !ok) {
    Error e = std::move(ok).error();
    e.message = "--best: " + e.message;
    fail(e);
  }
  if (written < result.tasks.size())
    note("--best: %s holds %zu of %zu tasks; the others have no working kernel", path.c_str(), written, result.tasks.size());
}

}  // namespace tune_detail

/// The measurer's settings for these options: the tuning run's, and (without a log) the final confirmation's.
inline measure::LocalMeasurerOptions measurer_options(const TuneOptions& o, const measure_detail::TargetChoice& target, std::int64_t cores) {
  measure::LocalMeasurerOptions mo;
  mo.build.compile.march = std::string(target.march);
  mo.run.threads = static_cast<int>(cores);
  mo.run.bind_threads = o.bind;
  mo.run.timeout_s = o.timeout;
  mo.run.timing.repeat = static_cast<std::int64_t>(o.repeat);
  mo.run.timing.min_repeat_ms = o.min_repeat_ms;
  mo.log = o.log;
  return mo;
}

/// Tunes `tasks` as `crosstune tune` does (the hardware from the host and --target/--threads, the model,
/// the measurer appending to --log, resume, --transfer, progress, Ctrl-C); `what` names them in progress.
/// Exits (fail) on an error; an interrupted run returns its results with measure_detail::interrupted set.
inline search::TuneResult tune_tasks(const TuneOptions& o, const std::vector<search::TuneTask>& tasks, const std::string& what) {
  using namespace tune_detail;
  using namespace measure_detail;
  using namespace codegen_detail;
  const TargetChoice& target = target_choice(o.target);
  const auto host = hw::probe_host();
  check_target_runs_here(target, host);
  const std::int64_t cores = o.threads > 0 ? static_cast<std::int64_t>(o.threads) : std::max<std::int64_t>(1, host.params.num_cores);
  if (!o.json) note("tuning %s: %zu task%s on %lld thread%s", what.c_str(), tasks.size(), tasks.size() == 1 ? "" : "s",
                    static_cast<long long>(cores), cores == 1 ? "" : "s");

  // The hardware as the schedules and the model see it, and the records' target string.
  hw::HardwareParams hardware = host.params;
  hardware.num_cores = cores;
  if (target.vector_bytes > 0) hardware.vector_unit_bytes = target.vector_bytes;
  if (hardware.cache_line_bytes <= 0) hardware.cache_line_bytes = 64;
  std::string target_string = "llvm -keys=cpu";
  if (!target.mcpu.empty()) target_string += " -mcpu=" + std::string(target.mcpu);
  target_string += " -num-cores=" + std::to_string(cores);

  // The model: --model's (pre-trained), or a fresh one of --cost-model's kind trained online; a fresh one
  // is also the negative-transfer guard's yardstick and fallback when --model ranks this machine's first
  // measurements no better than chance or worse than a fresh model trained on half of them.
  auto chosen = features::AnyExtractor::named(o.features);  // --features accepts only extractor_names
  if (!chosen) fail(chosen.error());
  features::AnyExtractor extractor = std::move(*chosen);
#ifdef CROSSTUNE_WITH_XGBOOST
  using OnlineModel = model::OneOf<model::BiLstmAttentionModel, model::XgbModel>;
#else
  using OnlineModel = model::OneOf<model::BiLstmAttentionModel>;
  if (o.cost_model == "xgb")
    fail(Error(ErrorKind::invalid_argument, "--cost-model xgb: this crosstune was built without XGBoost", {}, 0, 0,
               "install libxgboost-dev (scripts/setup.sh does) and build again, or use --cost-model bilstm"));
#endif
  std::function<OnlineModel()> fresh = [layout = extractor.layout(), seed = o.op.seed, trees = o.cost_model == "xgb",
                                           weighted = o.tree_objective == "weighted"]() -> OnlineModel {
#ifdef CROSSTUNE_WITH_XGBOOST
    if (trees) return model::XgbModel(layout, {.throughput_weighted = weighted});
#endif
    (void)trees;
    (void)weighted;
    return model::BiLstmAttentionModel(layout, fresh_model_sizes(), seed);
  };
  std::optional<OnlineModel> model;
  if (!o.model.empty()) {
    auto loaded = model::BiLstmAttentionModel::load(o.model);
    if (!loaded) fail(loaded.error());
    if (auto ok = features::check_compatible(loaded->layout(), extractor.layout()); !ok) {
      Error e = std::move(ok).error();
      e.file = o.model;
      fail(e);
    }
    model.emplace(std::move(*loaded));
  } else {
    model.emplace(fresh());
  }

  // The measurer: the settings of `crosstune measure`, every candidate appended to --log.
  auto measurer = measure::LocalMeasurer::make(measurer_options(o, target, cores));
  if (!measurer) fail(measurer.error());

  // Resume: the log's records of these tasks are measured already.
  std::vector<Record> resumed;
  std::error_code ec;
  if (!o.no_resume && std::filesystem::exists(o.log, ec)) {
    std::vector<std::string> keys;
    for (const auto& t : tasks) keys.push_back(t.dag->workload_key());
    for_each_record({o.log}, false, "reading --log", [&](const Record& r) {
      if (std::find(keys.begin(), keys.end(), r.task->workload_key) != keys.end()) resumed.push_back(r);
    });
    if (!resumed.empty()) {
      // A candidate measured again (the finalists of an earlier run) is one candidate.
      std::set<std::pair<std::string_view, std::uint64_t>> distinct;  // as the Tuner keys them
      for (const auto& r : resumed) distinct.emplace(r.task->workload_key, hash_value(r.steps));
      if (distinct.size() == resumed.size())
        note("resuming from %s: %zu records of these tasks are not measured again", o.log.c_str(), resumed.size());
      else
        note("resuming from %s: %zu candidates of these tasks (%zu records) are not measured again", o.log.c_str(), distinct.size(),
             resumed.size());
    }
  }
  // Transfer-tuning: the tuned records of other shapes are transplanted onto these tasks first.
  std::vector<Record> transfer;
  if (!o.transfer.empty()) {
    for_each_record({o.transfer}, false, "reading --transfer", [&](const Record& r) {
      if (r.result.ok()) transfer.push_back(r);
    });
    if (transfer.empty()) fail(Error(ErrorKind::empty_input, "no successful record to transplant", o.transfer, 0, 0, "give a tuning log"));
  }

  search::TunerOptions to;
  to.measures_per_round = o.per_round;
  to.seed = o.op.seed;
  to.target = target_string;
  to.model_ready = !o.model.empty();
  to.stop = &interrupted;
  to.slow_cutoff_ratio = o.slow_cutoff;
  to.remeasure.top = o.finalists;
  to.remeasure.passes = o.finalist_passes;
  search::EvolutionaryOptions evo;
  evo.population = o.population;
  evo.iterations = o.iterations;
  if (auto ok = evo.validate(); !ok) fail(ok.error());
  search::TuneBudget budget{o.trials, o.time_budget, o.early_stopping};  // trials 0: only the deadline

  interrupted.store(false);
  const SigintToFlag sigint;

  // Progress: round, best, trials/s, ETA (of the trial budget, or of the deadline when nearer).
  const bool visible = progress_visible();
  search::TuneCallbacks callbacks;
  callbacks.on_round = [&](const search::RoundReport& r) {
    const double rate = r.elapsed_seconds > 0 ? static_cast<double>(r.trials) / r.elapsed_seconds : 0;
    // ETA: of the trial budget (o.trials 0: none) or of the deadline, whichever comes first.
    double eta = std::numeric_limits<double>::infinity();
    if (o.trials > 0 && rate > 0) eta = static_cast<double>(o.trials > r.trials ? o.trials - r.trials : 0) / rate;
    if (o.time_budget > 0) eta = std::min(eta, std::max(0.0, o.time_budget - r.elapsed_seconds));
    const std::string trials = o.trials > 0 ? std::to_string(r.trials) + "/" + std::to_string(o.trials) : std::to_string(r.trials);
    const std::string eta_text = std::isfinite(eta) ? std::to_string(static_cast<long long>(eta)) + " s" : "-";
    const auto& task = r.partial->tasks[r.task];
    std::string best = tasks.size() == 1 ? gflops_text(task.flops, task.best_seconds) + " GFLOP/s"
                                         : "estimate " + ms_text(r.estimate_seconds) + " ms";
    if (visible) {
      progress_on_line = true;
      std::fprintf(stderr, "\r\033[Kround %zu: %s trials, best %s, %.2f trials/s, ETA %s", r.round, trials.c_str(), best.c_str(), rate,
                   eta_text.c_str());
      std::fflush(stderr);
    } else if (!quiet && !o.json) {
      std::fprintf(stderr, "round %zu (%s): %s trials, best %s, %.2f trials/s\n", r.round, task.name.c_str(), trials.c_str(), best.c_str(),
                   rate);
    }
    return true;
  };

  auto run = [&](auto policy) -> Expected<search::TuneResult> {
    search::Tuner tuner(std::move(extractor), hardware, data::UniformSampler{1.0}, std::move(*model), std::move(*measurer), std::move(policy), to);
    tuner.set_fresh_model(fresh);
    if (!resumed.empty()) tuner.resume(resumed);
    if (!transfer.empty()) tuner.transfer_from(transfer, {.per_task = 8, .sources_per_key = 8});  // the 8 best of each source workload
    return tuner.tune(tasks, budget, callbacks);
  };
  Expected<search::TuneResult> tuned = o.search == "random"      ? run(search::RandomSearch{})
                                       : o.search == "annealing" ? run(search::SimulatedAnnealing{})
                                                                 : run(search::EvolutionarySearch(evo));
  clear_progress_line();
  if (!tuned) fail(tuned.error());
  if (tuned->guard.checked && tuned->guard.fell_back)
    warn("--model: " + tuned->guard.message);
  else if (tuned->guard.checked)
    note("--model: %s", tuned->guard.message.c_str());

  return std::move(*tuned);
}

inline void run_tune(const TuneOptions& o) {
  using namespace tune_detail;
  using namespace measure_detail;
  using namespace codegen_detail;
  check_outputs({o.model, o.transfer}, {{"--log", o.log}, {"--best", o.best}});
  const TargetChoice& target = target_choice(o.target);
  const auto host = hw::probe_host();
  check_target_runs_here(target, host);
  const std::int64_t cores = o.threads > 0 ? static_cast<std::int64_t>(o.threads) : std::max<std::int64_t>(1, host.params.num_cores);

  // The tasks.
  std::vector<search::TuneTask> tasks;
  std::string what;
  if (!o.network.empty()) {
    auto net = ir::network(o.network, layout_of(o.op));
    if (!net) fail(net.error());
    what = net->name;
    for (const auto& t : net->tasks) {
      auto dag = ir::dag_from_workload_key(t.workload_key);
      if (!dag) fail(dag.error());
      tasks.push_back({std::make_shared<const ir::ComputeDag>(std::move(*dag)), static_cast<double>(t.weight), t.name});
    }
  } else {
    auto built = o.op.key.empty() ? build_op(o.op) : ir::dag_from_workload_key(o.op.key);
    if (!built) fail(built.error());
    auto dag = std::make_shared<const ir::ComputeDag>(std::move(*built));
    check_size(*dag);
    what = o.op.key.empty() ? o.op.op + " " + o.op.shape : dag->workload_key();
    tasks.push_back({dag, 1, what});
  }

  const search::TuneResult result = tune_tasks(o, tasks, what);
  if (!o.best.empty()) write_best(o.best, result);
  const measure::LocalMeasurerOptions mo = measurer_options(o, target, cores);
  const SigintToFlag sigint;  // Ctrl-C during the final measurements: the report of what was tuned, then exit 130

  // Confirm: best, Eigen and (networks) untuned, measured back to back on a measurer without a log.
  std::vector<Confirmed> confirmed(result.tasks.size());
  if (!o.no_reference && !interrupted.load()) {
    measure::LocalMeasurerOptions co = mo;
    co.log.clear();
    co.run.timing.repeat = std::max<std::int64_t>(5, static_cast<std::int64_t>(o.repeat));
    co.run.timing.min_repeat_ms = std::max(o.min_repeat_ms, 100.0);
    auto include = codegen::eigen_include_dir();
    if (include) co.build.compile.extra_flags.push_back("-I" + include->string());
    auto confirmer = measure::LocalMeasurer::make(co);
    if (!confirmer) fail(confirmer.error());
    Progress progress("measuring the best kernels again, with Eigen's", result.tasks.size());
    for (std::size_t i = 0; i < result.tasks.size() && !interrupted.load(); ++i) {
      confirmed[i] = confirm(*confirmer, result.tasks[i], 1, !o.network.empty(), static_cast<bool>(include));
      if (!include) confirmed[i].eigen_note = include.error().message;
      progress.update(i + 1);
    }
  }

  // Report.
  double estimate = 0, eigen_estimate = 0, untuned_estimate = 0;
  bool complete = true;
  for (std::size_t i = 0; i < result.tasks.size(); ++i) {
    const auto& t = result.tasks[i];
    const double best = confirmed[i].best > 0 ? confirmed[i].best : t.best_seconds;
    if (!std::isfinite(best)) complete = false;
    estimate += t.weight * best;
    eigen_estimate += t.weight * (confirmed[i].eigen > 0 ? confirmed[i].eigen : confirmed[i].untuned);
    untuned_estimate += t.weight * confirmed[i].untuned;
  }
  const auto& p = result.profile;
  if (o.network.empty()) {
    const auto& t = result.tasks[0];
    const double best = confirmed[0].best > 0 ? confirmed[0].best : t.best_seconds;
    const double eigen = confirmed[0].eigen;
    const double best_gflops = best > 0 && std::isfinite(best) ? static_cast<double>(t.flops) / best * 1e-9 : 0;
    const double eigen_gflops = eigen > 0 ? static_cast<double>(t.flops) / eigen * 1e-9 : 0;
    const double ratio = eigen_gflops > 0 ? best_gflops / eigen_gflops : 0;
    const double tuning_gflops = t.tuning_best_seconds > 0 && std::isfinite(t.tuning_best_seconds)
                                     ? static_cast<double>(t.flops) / t.tuning_best_seconds * 1e-9
                                     : 0;
    // The winner's median over its re-measurements as a finalist (0: there were none).
    const double finalist_gflops = t.picked_by_finalists() && t.best_seconds > 0 ? static_cast<double>(t.flops) / t.best_seconds * 1e-9 : 0;
    if (o.json) {
      std::printf("{\"task\": %s, \"workload_key\": %s, \"threads\": %lld, \"trials\": %zu, \"resumed\": %zu, \"failures\": %zu, "
                  "\"rounds\": %zu, \"seconds\": %.3f, \"stop_reason\": \"%s\", \"best_seconds\": %.9g, \"best_gflops\": %.3f, "
                  "\"tuning_best_gflops\": %.3f, \"finalist_gflops\": %.3f, \"finalists\": %zu, \"ties\": %zu, \"remeasured\": %zu, "
                  "\"reference_seconds\": %.9g, \"reference_gflops\": %.3f, \"ratio\": %.4f, \"profile\": {\"search\": %.3f, \"predict\": %.3f, "
                  "\"train\": %.3f, \"lower\": %.3f, \"measure\": %.3f, \"remeasure\": %.3f, \"total\": %.3f}, "
                  "\"guard\": {\"checked\": %s, \"pca\": %.4f, "
                  "\"compared\": %s, \"half_pca\": %.4f, \"fresh_pca\": %.4f, \"fell_back\": %s}, \"transferred\": %zu, "
                  "\"transfer_note\": %s, \"log\": %s}\n",
                  json_quoted(what).c_str(), json_quoted(t.workload_key).c_str(), static_cast<long long>(cores), result.trials, t.resumed,
                  t.failures, result.rounds, result.seconds, result.stop_reason.c_str(), best, best_gflops, tuning_gflops, finalist_gflops,
                  t.finalists.size(), t.ties, result.remeasured, eigen, eigen_gflops, ratio, p.search, p.predict, p.train, p.lower, p.measure,
                  p.remeasure, p.total, result.guard.checked ? "true" : "false", result.guard.pca,
                  result.guard.compared ? "true" : "false", result.guard.half_pca, result.guard.fresh_pca,
                  result.guard.fell_back ? "true" : "false", t.transferred, json_quoted(t.transfer_note).c_str(), json_quoted(o.log).c_str());
    } else {
      std::printf("tuned %s on %lld thread%s: %zu trials (%zu failed, %zu resumed) in %.1f s, %zu rounds, stopped by %s\n", what.c_str(),
                  static_cast<long long>(cores), cores == 1 ? "" : "s", result.trials, t.failures, t.resumed, result.seconds, result.rounds,
                  stop_words(result.stop_reason).c_str());
      if (!o.transfer.empty()) std::printf("  transfer: %s; %zu measured\n", t.transfer_note.c_str(), t.transferred);
      if (best > 0 && std::isfinite(best))
        std::printf("  best kernel      %8s GFLOP/s  (%s ms)\n", gflops_text(t.flops, best).c_str(), ms_text(best).c_str());
      else
        std::printf("  best kernel      none: %s\n", no_kernel_reason(result, t).c_str());
      if (t.picked_by_finalists())
        std::printf("  picked from %zu finalists, each measured again %zu times: %s GFLOP/s there (the best while tuning read %s)%s\n",
                    t.finalists.size(), o.finalist_passes, gflops_text(t.flops, t.best_seconds).c_str(),
                    gflops_text(t.flops, t.tuning_best_seconds).c_str(),
                    t.ties == 0 ? "" : ("; " + std::to_string(t.ties) + " of them tied with it").c_str());
      else if (!t.finalists.empty())
        std::printf("  finalists: all %zu failed when measured again (first: %s); the best stands as measured while tuning\n",
                    t.finalists.size(), t.finalists.front().failure.c_str());
      if (eigen > 0) {
        std::printf("  Eigen reference  %8s GFLOP/s  (%s ms)\n", gflops_text(t.flops, eigen).c_str(), ms_text(eigen).c_str());
        std::printf("  ratio            %8.2f\n", ratio);
      } else if (!o.no_reference) {
        std::printf("  Eigen reference  none: %s\n", confirmed[0].eigen_note.c_str());
      }
      print_time_shares(p, o.log);
    }
  } else {
    if (o.json) {
      std::printf("{\"network\": \"%s\", \"threads\": %lld, \"trials\": %zu, \"rounds\": %zu, \"seconds\": %.3f, \"stop_reason\": \"%s\", "
                  "\"estimate_seconds\": %.9g, \"untuned_seconds\": %.9g, \"reference_seconds\": %.9g, \"profile\": {\"search\": %.3f, "
                  "\"predict\": %.3f, \"train\": %.3f, \"lower\": %.3f, \"measure\": %.3f, \"remeasure\": %.3f, \"total\": %.3f}, \"remeasured\": %zu, "
                  "\"guard\": {\"checked\": %s, "
                  "\"pca\": %.4f, \"compared\": %s, \"half_pca\": %.4f, \"fresh_pca\": %.4f, \"fell_back\": %s}, \"log\": %s, \"tasks\": [",
                  what.c_str(), static_cast<long long>(cores), result.trials, result.rounds, result.seconds, result.stop_reason.c_str(),
                  complete ? estimate : -1.0, untuned_estimate, eigen_estimate, p.search, p.predict, p.train, p.lower, p.measure, p.remeasure,
                  p.total, result.remeasured, result.guard.checked ? "true" : "false", result.guard.pca, result.guard.compared ? "true" : "false", result.guard.half_pca,
                  result.guard.fresh_pca, result.guard.fell_back ? "true" : "false", json_quoted(o.log).c_str());
      for (std::size_t i = 0; i < result.tasks.size(); ++i) {
        const auto& t = result.tasks[i];
        std::printf("%s{\"name\": %s, \"workload_key\": %s, \"weight\": %g, \"flops\": %lld, \"trials\": %zu, \"transferred\": %zu, "
                    "\"best_seconds\": %.9g, \"tuning_best_seconds\": %.9g, \"finalists\": %zu, \"picked_by_finalists\": %s, "
                    "\"ties\": %zu, \"reference_seconds\": %.9g, \"untuned_seconds\": %.9g}",
                    i ? ", " : "", json_quoted(t.name).c_str(), json_quoted(t.workload_key).c_str(), t.weight, static_cast<long long>(t.flops),
                    t.trials, t.transferred, confirmed[i].best > 0 ? confirmed[i].best : t.best_seconds,
                    std::isfinite(t.tuning_best_seconds) ? t.tuning_best_seconds : -1.0, t.finalists.size(),
                    t.picked_by_finalists() ? "true" : "false", t.ties, confirmed[i].eigen,
                    confirmed[i].untuned);
      }
      std::printf("]}\n");
    } else {
      std::printf("tuned %s on %lld threads: %zu trials in %.1f s, %zu rounds, stopped by %s\n", what.c_str(), static_cast<long long>(cores),
                  result.trials, result.seconds, result.rounds, stop_words(result.stop_reason).c_str());
      std::printf("%-34s %6s %6s %11s %9s %11s %11s\n", "task", "weight", "trials", "best (ms)", "GFLOP/s", "Eigen (ms)", "untuned (ms)");
      for (std::size_t i = 0; i < result.tasks.size(); ++i) {
        const auto& t = result.tasks[i];
        const double best = confirmed[i].best > 0 ? confirmed[i].best : t.best_seconds;
        std::printf("%-34.34s %6g %6zu %11s %9s %11s %11s\n", t.name.c_str(), t.weight, t.trials, ms_text(best).c_str(),
                    gflops_text(t.flops, best).c_str(), ms_text(confirmed[i].eigen).c_str(), ms_text(confirmed[i].untuned).c_str());
      }
      if (!o.transfer.empty()) {
        std::size_t transplanted = 0, without = 0;
        for (const auto& t : result.tasks) {
          transplanted += t.transferred;
          without += t.transfer_note.starts_with("no record") ? 1 : 0;
        }
        std::printf("transfer: %zu transplanted schedules measured; %zu of %zu tasks had no record of their kernel class in %s\n",
                    transplanted, without, result.tasks.size(), o.transfer.c_str());
      }
      std::printf("network estimate (Σ weight × best): %s ms", complete ? ms_text(estimate).c_str() : "- (a task has no working kernel)");
      if (untuned_estimate > 0) std::printf("; untuned %s ms", ms_text(untuned_estimate).c_str());
      if (eigen_estimate > 0) std::printf("; Eigen where it has the operator, untuned elsewhere %s ms", ms_text(eigen_estimate).c_str());
      std::printf("\n");
      print_time_shares(p, o.log);
    }
  }
  std::fflush(stdout);
  if (interrupted.load()) {
    warn("interrupted: the best found so far is above; every candidate measured is in " + o.log);
    throw CLI::RuntimeError(130);
  }
  // One operator and no working kernel: nothing to use, so the command fails (a network's table says
  // which of its tasks have none, and the others are still worth having).
  if (o.network.empty() && !(result.tasks[0].best_seconds > 0 && std::isfinite(result.tasks[0].best_seconds)))
    fail(Error(ErrorKind::empty_input, "no working kernel: " + no_kernel_reason(result, result.tasks[0]), o.log, 0, 0,
               result.stop_reason == "deadline" ? "give a longer --time-budget" : "read the failures in the log (crosstune logs stats)"));
}

inline void add_tune_command(CLI::App& app) {
  using namespace codegen_detail;
  auto o = std::make_shared<TuneOptions>();
  auto* cmd = app.add_subcommand("tune",
                                 "Tune an operator (--op/--shape or --key) or a network (--network) on this CPU: evolutionary search "
                                 "guided by the cost model, every candidate built, checked, timed and logged; the best compared with Eigen");
  auto [op, shape, key, op_options] = add_operator_flags(*cmd, o->op);
  cmd->add_option("--seed", o->op.seed, "Random seed of the search and the model (default 0)")->check(count_in(0, UINT64_MAX));
  std::vector<std::string> networks;
  for (auto n : ir::network_names()) networks.emplace_back(n);
  auto* network = cmd->add_option("--network", o->network, "Tune every task of a network: " + joined(networks))
                      ->check(CLI::IsMember(networks));
  cmd->add_option("--trials", o->trials, "Candidates to measure, over all tasks (default 64)")->check(count_in(1, 10000000));
  cmd->add_option("--time-budget", o->time_budget, "Hard deadline in seconds: the best found by then is reported (default: none)")
      ->check(CLI::Range(0.001, 1e7));
  cmd->add_option("--log", o->log, "Append one record per candidate to this Ansor log; a log that exists is resumed")->required();
  cmd->add_option("--model", o->model, "A trained BiLSTM cost model to start from, judged by the negative-transfer guard and fine-tuned online: models/pretrained-cpu.bin (shipped, calibrated on a 2-core Zen 5), or one of crosstune train / calibrate (default: a fresh one, trained online)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--transfer", o->transfer,
                  "Transfer-tuning: transplant the best schedules (8 a task) of this log's other shapes of the same kernel class, measured first")
      ->check(CLI::ExistingFile);
  cmd->add_option("--cost-model", o->cost_model,
                  "The kind of a fresh model, trained online on this run's measurements: the model without --model, the guard's yardstick "
                  "and fallback with it. xgb (gradient-boosted trees on pooled step features; the default where crosstune was built with XGBoost) "
                  "or bilstm (the default otherwise)")
      ->check(CLI::IsMember({"bilstm", "xgb"}));
  cmd->add_option("--tree-objective", o->tree_objective,
                  "What the fresh trees fit: rank (XGBoost's pairwise ranker within the task, default) or weighted (the normalised "
                  "throughput, each squared error weighted by it, as Ansor trains its online trees)")
      ->check(CLI::IsMember({"rank", "weighted"}));
  cmd->add_option("--features", o->features,
                  "What the cost models read: steps (the schedule's step sequence, default; what the shipped models read) or loops "
                  "(loop statistics of the lowered program: strides, footprints, reuse, vector and parallel extents against the hardware) or "
                  "steps+loops (the step sequence, with the loop statistics of the largest store) or steps+launch (the step "
                  "sequence, with the launch configuration read off it)")
      ->check(CLI::IsMember({"steps", "loops", "steps+loops", "steps+launch"}));
  cmd->add_option("--search", o->search,
                  "evolutionary (Ansor's, default), annealing (simulated annealing over the model's scores: 128 chains, 80 steps) or random")
      ->check(CLI::IsMember({"evolutionary", "annealing", "random"}));
  cmd->add_option("--per-round", o->per_round, "Candidates measured per round (default 64)")->check(count_in(1, 100000));
  cmd->add_option("--population", o->population, "Evolutionary search: population at most (default 2048; 32 per candidate of a round, at least 256)")->check(count_in(2, 1000000));
  cmd->add_option("--iterations", o->iterations, "Evolutionary search: generations per round (default 4)")->check(count_in(0, 1000));
  cmd->add_option("--early-stopping", o->early_stopping, "A task is done after this many rounds without a better kernel (default: never)")
      ->check(count_in(1, 1000000));
  measure_detail::add_target_flag(*cmd, o->target);
  cmd->add_option("--threads", o->threads, "Threads per kernel, and the cores the schedules are made for (default: all)")
      ->check(count_in(1, 4096));
  cmd->add_flag("--bind", o->bind, "Bind the kernels' threads, OpenMP's included, to one logical CPU each (as OMP_PROC_BIND=true OMP_PLACES=threads would), for steadier timings");
  cmd->add_option("--repeat", o->repeat, "Repeats per candidate (default 3)")->check(count_in(1, 1000));
  cmd->add_option("--min-repeat-ms", o->min_repeat_ms, "Grow the runs per repeat until one lasts this long (default 20)")
      ->check(CLI::Range(0.0, 60000.0));
  cmd->add_option("--timeout", o->timeout, "Seconds a candidate may run (default 10)")->check(CLI::Range(0.001, 86400.0));
  cmd->add_option("--slow-cutoff", o->slow_cutoff,
                  "A candidate whose first run is this many times slower than the task's best is timed by that run alone "
                  "(default 10; 0: full timing for all)")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--finalists", o->finalists,
                  "At the end, measure the fastest K candidates of each task again, interleaved, and pick the winner on those "
                  "measurements alone (default 4; 0: keep the fastest as first measured). With --time-budget, its last 5% is kept for them")
      ->check(count_in(0, 1000));
  cmd->add_option("--finalist-passes", o->finalist_passes, "Times each finalist is measured again (default 2)")->check(count_in(1, 100));
  cmd->add_option("--best", o->best,
                  "Write each task's winner (the finalists' pick, or with --finalists 0 the fastest measured) to this Ansor log, one record a task, replacing the file; "
                  "`crosstune codegen --replay FILE --source` prints their C++");
  cmd->add_flag("--no-resume", o->no_resume, "Do not read --log's records first (they are still appended to)");
  cmd->add_flag("--no-reference", o->no_reference, "Skip the final measurements of the best kernels, Eigen and the untuned kernels");
  cmd->add_flag("--json", o->json, "Print the result as JSON (best_gflops, reference_gflops, ratio, trials, seconds, ...)");
  op->needs(shape);
  shape->needs(op);
  op->excludes(key);
  network->excludes(op);
  network->excludes(key);
  for (auto* flag : op_options) {
    if (!flag->check_lname("layout")) {
      network->excludes(flag);
      continue;
    }
    flag->description(flag->get_description() +
                      "; with --network, the layout of all its convolutions, pools and residual adds");
  }
  cmd->callback([o, cmd] {
    if (o->network.empty()) check_generation_flags(*cmd, o->op);
    run_tune(*o);
  });
}

}  // namespace crosstune::cli
