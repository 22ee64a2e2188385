// `crosstune calibrate`: makes a cost model for this machine in one command.
//
//   crosstune calibrate --budget 60 --out my-cpu.bin [--model models/pretrained-cpu.bin] [--log my-cpu.json]
//
// It tunes a representative set of tasks — the operators that carry most of the FLOPs of ResNet-50,
// MobileNet-V2, Inception-V3 and BERT-base (`--tasks` per network, the CNNs in `--layout` NCHW, NHWC or
// both) — for three quarters of --budget minutes with search::Tuner, every candidate appended to --log
// (resumed when it exists). Then it trains the model on those records: --model's weights fine-tuned, or a
// fresh BiLSTM, with a fifth of the tasks held out; its pairwise comparison accuracy and top-1 on the
// held-out tasks (and --model's before training) go into the model card written beside it (OUT.card.md:
// training data, feature schema and version, hyper-parameters, metrics, the command that reproduces it).
// Both files are written whole or not at all.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common.hpp"
#include "model_command.hpp"
#include "crosstune/io/atomic_file.hpp"
#include "crosstune/metrics/ranking.hpp"
#include "crosstune/model/model_card.hpp"
#include "crosstune/version.hpp"
#include "tune_command.hpp"

namespace crosstune::cli {

struct CalibrateOptions {
  double budget_minutes = 30;
  std::string out, model, log, target = "native";
  std::size_t threads = 0, tasks_per_network = 4, epochs = 30;
  std::string layout = "NCHW";  ///< the networks' convolutions: NCHW, NHWC or both
  std::uint64_t seed = 0;
  std::string command_line;
};

namespace calibrate_detail {

/// The representative tasks: per network and layout, its first `per_network` tasks by FLOPs share
/// (weight × FLOPs). A workload met again counts toward `per_network` but is measured once (BERT's tasks
/// have no layout: the second layout adds none of them).
[[nodiscard]] inline std::vector<search::TuneTask> representative_tasks(std::size_t per_network,
                                                                        std::span<const ir::Layout> layouts) {
  std::vector<search::TuneTask> out;
  std::set<std::string> keys;
  for (const ir::Layout layout : layouts) {
    for (auto name : ir::network_names()) {
      auto net = ir::network(name, layout).value();
      std::stable_sort(net.tasks.begin(), net.tasks.end(), [](const ir::NetworkTask& a, const ir::NetworkTask& b) {
        return static_cast<double>(a.weight) * static_cast<double>(a.flops) > static_cast<double>(b.weight) * static_cast<double>(b.flops);
      });
      const std::size_t taken = std::min(per_network, net.tasks.size());
      for (std::size_t i = 0; i < taken; ++i) {
        const ir::NetworkTask& t = net.tasks[i];
        if (!keys.insert(t.workload_key).second) continue;
        auto dag = ir::dag_from_workload_key(t.workload_key);
        if (!dag) continue;
        std::string label(name);
        if (layout == ir::Layout::nhwc && t.workload_key.find("NHWC") != std::string::npos) label += " NHWC";
        out.push_back({std::make_shared<const ir::ComputeDag>(std::move(*dag)), 1, label + ": " + t.name});
      }
    }
  }
  return out;
}

[[nodiscard]] inline std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace calibrate_detail

inline void run_calibrate(const CalibrateOptions& o) {
  using namespace calibrate_detail;
  const std::string log = o.log.empty() ? std::filesystem::path(o.out).replace_extension(".json").string() : o.log;
  const std::string card_path = std::filesystem::path(o.out).replace_extension(".card.md").string();
  check_outputs({o.model}, {{"--out", o.out}, {"--log", log}, {"the model card", card_path}});
  std::vector<ir::Layout> layouts;
  if (o.layout != "NHWC") layouts.push_back(ir::Layout::nchw);
  if (o.layout != "NCHW") layouts.push_back(ir::Layout::nhwc);
  const auto tasks = representative_tasks(o.tasks_per_network, layouts);
  if (tasks.size() < 2) fail(Error(ErrorKind::invalid_argument, "calibrate needs at least 2 tasks", {}, 0, 0, "raise --tasks"));

  // 1. Measure: tune the tasks for three quarters of the budget.
  TuneOptions tune;
  tune.log = log;
  tune.model = o.model;
  tune.target = o.target;
  tune.threads = o.threads;
  tune.trials = 0;  // the deadline alone ends the measuring
  tune.per_round = 16;
  tune.time_budget = std::max(1.0, o.budget_minutes * 60.0 * 0.75);
  tune.no_reference = true;
  tune.finalists = 0;  // measuring for training data: no winner to pick, and no candidate counted twice
  tune.op.seed = o.seed;
  note("calibrate: measuring %zu tasks for %.0f s, then training", tasks.size(), tune.time_budget);
  const search::TuneResult tuned = tune_tasks(tune, tasks, "calibration set");
  if (measure_detail::interrupted.load()) {
    warn("interrupted: every candidate measured is in " + log + "; no model written");
    throw CLI::RuntimeError(130);
  }

  // 2. The records of these tasks, from the log (this run's and any earlier one's).
  std::set<std::string> keys;
  for (const auto& t : tasks) keys.insert(t.dag->workload_key());
  std::vector<Record> records;
  for_each_record({log}, false, "reading --log", [&](const Record& r) {
    if (r.result.ok() && keys.contains(r.task->workload_key)) records.push_back(r);
  });
  const auto probe = hw::probe_host();
  const hw::HardwareParams host = probe.params;
  data::Dataset ds = data::Dataset::from_measured(records, "host", host, 8);
  if (ds.tasks().size() < 2)
    fail(Error(ErrorKind::empty_input, "fewer than 2 tasks have 8 successful records", log, 0, 0, "give calibrate a larger --budget"));

  // 3. Hold out a fifth of the tasks (at least one), seeded.
  Rng rng(o.seed);
  std::vector<std::size_t> order(ds.tasks().size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  rng.shuffle(std::span<std::size_t>(order));
  const std::size_t heldout_count = std::max<std::size_t>(1, order.size() / 5);
  const std::set<std::size_t> heldout(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(heldout_count));
  std::vector<data::RecordRef> train_refs, test_refs;
  for (std::size_t t = 0; t < ds.tasks().size(); ++t)
    for (std::size_t r = 0; r < ds.tasks()[t].size(); ++r) (heldout.contains(t) ? test_refs : train_refs).push_back({t, r});
  features::AnyExtractor extractor(features::StepSequenceExtractor{});
  auto train_set = extract_set(ds, train_refs, extractor);
  if (!train_set) fail(train_set.error());
  auto test_set = extract_set(ds, test_refs, extractor);
  if (!test_set) fail(test_set.error());
  std::vector<std::size_t> offsets{0};
  for (std::size_t i = 1; i <= test_refs.size(); ++i)
    if (i == test_refs.size() || test_refs[i].task != test_refs[i - 1].task) offsets.push_back(i);

  // 4. Train: --model fine-tuned, or a fresh model.
  auto model = o.model.empty() ? model::BiLstmAttentionModel(extractor.layout(), tune_detail::fresh_model_sizes(), o.seed)
                               : model::BiLstmAttentionModel::load(o.model).value();
  std::vector<float> scores(test_refs.size());
  double base_pca = -1;
  if (!o.model.empty()) {
    if (auto ok = model.predict(test_set->batch, scores); !ok) fail(ok.error());
    if (auto r = metrics::evaluate_ranking(scores, test_set->labels, offsets)) base_pca = r->pairwise_comparison_accuracy;
  }
  model::TrainOptions train;
  train.epochs = o.epochs;
  train.schedule = model::LrSchedule::cosine;
  train.patience = 0;
  train.threads = o.threads;
  const model::LabelledBatch train_data{&train_set->batch, train_set->labels, train_set->tasks};
  Progress bar("training", o.epochs);
  train.on_epoch = [&](std::size_t epoch, double, double) { bar.update(epoch + 1); };
  auto report = model.fit(train_data, nullptr, train, rng);
  bar.finish();
  if (!report) fail(report.error());
  if (auto ok = model.predict(test_set->batch, scores); !ok) fail(ok.error());
  auto ranking = metrics::evaluate_ranking(scores, test_set->labels, offsets);
  if (!ranking) fail(ranking.error());

  // 5. The model and its card, each written whole.
  model::ModelCard card;
  card.name = std::filesystem::path(o.out).stem().string();
  card.model_kind = "bilstm-attention";
  card.created = utc_now();
  card.crosstune_version = version_string;
  const std::size_t kernel_threads = o.threads > 0 ? o.threads : static_cast<std::size_t>(std::max<std::int64_t>(1, host.num_cores));
  card.hardware = (probe.model.empty() ? std::string("this host") : probe.model) + " (" + probe.architecture + "), " + std::to_string(host.num_cores) +
                  " cores, " + std::to_string(host.vector_unit_bytes * 8) + "-bit vectors; kernels on " + std::to_string(kernel_threads) +
                  " threads, --target " + o.target;
  card.base_model = o.model;
  card.training.sources.push_back(log + ": records crosstune measured on this machine (`crosstune calibrate`, " +
                                  std::to_string(tuned.trials) + " this run)");
  card.training.records = train_refs.size();
  card.training.tasks = ds.tasks().size() - heldout.size();
  card.training.license = "measured by the user; no third-party data";
  for (std::size_t t = 0; t < ds.tasks().size(); ++t)
    (heldout.contains(t) ? card.metrics.heldout_keys : card.training.task_keys).push_back(ds.tasks()[t].workload_key);
  card.features = extractor.layout();
  const model::BiLstmAttentionConfig sizes = model.network().config();
  card.hyperparameters = {{"embedding", std::to_string(sizes.embedding)},
                          {"hidden", std::to_string(sizes.hidden)},
                          {"layers", std::to_string(sizes.layers)},
                          {"heads", std::to_string(sizes.heads)},
                          {"head_hidden", std::to_string(sizes.head_hidden)},
                          {"epochs", std::to_string(train.epochs)},
                          {"batch_size", std::to_string(train.batch_size)},
                          {"learning_rate", std::to_string(train.learning_rate)},
                          {"schedule", "cosine"},
                          {"loss", "mse_and_rank"},
                          {"seed", std::to_string(o.seed)}};
  card.metrics.heldout_tasks = heldout.size();
  card.metrics.heldout_records = test_refs.size();
  card.metrics.pca = ranking->pairwise_comparison_accuracy;
  card.metrics.top1 = ranking->top1;
  card.metrics.base_pca = base_pca;
  card.reproduce = o.command_line;
  card.notes.push_back("Held-out tasks are whole tasks kept out of training (a fifth, seeded), so the metrics say how the model ranks "
                       "operators it has not seen on this machine.");
  if (auto ok = model.save(o.out); !ok) fail(ok.error());
  if (auto ok = io::write_file_atomically(card_path, card.to_markdown()); !ok) fail(ok.error());
  std::printf("calibrated on %zu records of %zu tasks (%zu measured now); held-out tasks: %zu, PCA %.3f, top-1 %.3f", train_refs.size(),
              card.training.tasks, tuned.trials, heldout.size(), card.metrics.pca, card.metrics.top1);
  if (base_pca >= 0) std::printf(" (base model before training: PCA %.3f)", base_pca);
  std::printf("\nmodel: %s\ncard: %s\nlog: %s\n", o.out.c_str(), card_path.c_str(), log.c_str());
}

inline void add_calibrate_command(CLI::App& app) {
  auto o = std::make_shared<CalibrateOptions>();
  auto* cmd = app.add_subcommand("calibrate",
                                 "Measure a representative set of tasks on this machine, train the cost model on them (--model's "
                                 "fine-tuned, or a fresh one), and write it with a model card");
  cmd->add_option("--budget", o->budget_minutes, "Minutes in all: three quarters measuring, the rest training (default 30)")
      ->check(CLI::Range(0.1, 100000.0));
  cmd->add_option("--out", o->out, "The model to write; its card goes beside it as OUT.card.md")->required();
  cmd->add_option("--model", o->model, "A trained BiLSTM model to start from (default: a fresh one)")->check(CLI::ExistingFile);
  cmd->add_option("--log", o->log, "The measurements (default: OUT with .json); resumed when it exists");
  measure_detail::add_target_flag(*cmd, o->target);
  cmd->add_option("--threads", o->threads, "Threads per kernel and for training (default: all)")->check(count_in(1, 4096));
  cmd->add_option("--tasks", o->tasks_per_network, "Tasks per network and layout, by FLOPs share (default 4)")
      ->check(count_in(1, 100));
  cmd->add_option("--layout", o->layout, "The networks' convolutions, pools and adds in NCHW (default), NHWC or both")
      ->check(CLI::IsMember({"NCHW", "NHWC", "both"}));
  cmd->add_option("--epochs", o->epochs, "Training epochs (default 30)")->check(count_in(1, 100000));
  cmd->add_option("--seed", o->seed, "Seed of the search, the held-out tasks and training (default 0)")->check(count_in(0, UINT64_MAX));
  cmd->callback([o, cmd] {
    o->command_line = "crosstune calibrate";
    for (const auto* option : cmd->get_options())
      for (const auto& value : option->results())
        if (option->get_name() != "--help" && !option->get_lnames().empty())
          o->command_line += " --" + option->get_lnames().front() + " " + value;
    run_calibrate(*o);
  });
}

}  // namespace crosstune::cli
