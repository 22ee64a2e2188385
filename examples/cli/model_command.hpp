// `crosstune train`, `eval` and `finetune`: the cost models (BiLSTM-attention, MLP, XGBoost) on tuning logs.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "crosstune/data/dataset.hpp"
#include "crosstune/data/splits.hpp"
#include "crosstune/features/any_extractor.hpp"
#include "crosstune/metrics/ranking.hpp"
#include "crosstune/model/cost_model.hpp"
#include "crosstune/model/mlp.hpp"
#include "crosstune/model/serialization.hpp"
#include "crosstune/model/trainer.hpp"
#ifdef CROSSTUNE_WITH_XGBOOST
#include "crosstune/model/xgboost.hpp"
#endif
#include "common.hpp"
#include "data_command.hpp"
#include "progress.hpp"

namespace crosstune::cli {

struct ModelOptions {
  std::vector<std::string> logs;
  std::string model = "bilstm";
  std::string features = "steps";
  std::string hardware;
  std::size_t min_records = 48;
  std::size_t epochs = 30, batch = 16, max_steps = 64, hidden = 128, layers = 3, heads = 2, embedding = 64;
  std::uint64_t seed = 0;
  std::size_t threads = 0;
  double ratio = 0.9;
  float learning_rate = 1e-3f;
  std::string loss = "both";
  float rank_weight = 1.0f;
  std::string schedule = "constant";
  std::size_t patience = 5;
  std::string split = "within_task";
  /// Share of the training tasks held out whole to choose the epoch on (0: none, keep the last epoch);
  /// unset: 0.1 for train, 0 for finetune.
  std::optional<double> validate;
  std::string out, model_in;
  std::vector<std::string> freeze;
  bool json = false;
  bool holdout = false;
};

/// Features, labels and task ids of the referenced records of a dataset.
struct ExtractedSet {
  features::FeatureBatch batch;
  std::vector<float> labels;
  std::vector<std::uint32_t> tasks;
  std::size_t unreplayed = 0;  ///< records given zero loop features (steps that do not replay or lower)
};

inline Expected<ExtractedSet> extract_set(const data::Dataset& ds, const std::vector<data::RecordRef>& refs,
                                          features::AnyExtractor& extractor) {
  ExtractedSet out;
  if (refs.empty()) return out;  // no validation set
  std::vector<Record> records;
  std::vector<hw::HardwareParams> hardware;
  records.reserve(refs.size());
  for (const auto& r : refs) {
    const auto& task = ds.tasks()[r.task];
    records.push_back(task.records[r.record]);
    hardware.push_back(task.hardware_params);
    out.labels.push_back(task.labels[r.record]);
    out.tasks.push_back(static_cast<std::uint32_t>(r.task));
  }
  if (auto ok = extractor.extract(records, hardware, out.batch); !ok)
    return unexpected(std::move(ok).error());
  out.unreplayed = extractor.unreplayed();
  return out;
}

/// Says (stderr) how many records got zero loop features: their steps did not replay or lower.
inline void report_unreplayed(std::size_t n, std::size_t records) {
  if (n > 0)
    note("%zu of %zu records have no loop features (their workload or steps do not replay onto a DAG crosstune builds)", n, records);
}

/// Train and validation features of a split.
inline std::pair<ExtractedSet, ExtractedSet> extract_split(const data::Dataset& ds, const data::Split& split,
                                                           features::AnyExtractor& extractor) {
  auto train_set = extract_set(ds, split.train, extractor);
  if (!train_set) fail(train_set.error());
  auto val_set = extract_set(ds, split.test, extractor);
  if (!val_set) fail(val_set.error());
  return {std::move(*train_set), std::move(*val_set)};
}

inline model::Loss parse_loss(const std::string& loss) {
  if (loss == "mse") return model::Loss::mse;
  if (loss == "rank") return model::Loss::rank;
  if (loss == "both") return model::Loss::mse_and_rank;
  fail(
      Error(ErrorKind::invalid_argument, "unknown loss \"" + loss + "\"", {}, 0, 0, "use mse, rank or both"));
}

/// Per-epoch lines on stderr (unless --quiet), and on a terminal a progress bar within the epoch.
inline void report_progress(model::TrainOptions& options, std::size_t epochs) {
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (progress_visible()) {
    auto bar = std::make_shared<std::unique_ptr<Progress>>();
    options.on_batch = [=](std::size_t epoch, std::size_t done, std::size_t total) {
      if (done == 1)
        *bar = std::make_unique<Progress>("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs),
                                          total);
      (*bar)->update(done);
    };
  }
  options.on_epoch = [=](std::size_t epoch, double loss, double pca) {
    const double elapsed = seconds();
    const double eta = elapsed / static_cast<double>(epoch + 1) * static_cast<double>(epochs - epoch - 1);
    if (pca >= 0) {
      note("epoch %zu/%zu  loss %.5f  validation PCA %.4f  %.0f s (ETA %.0f s)", epoch + 1, epochs, loss, pca,
           elapsed, eta);
    } else {
      note("epoch %zu/%zu  loss %.5f  %.0f s (ETA %.0f s)", epoch + 1, epochs, loss, elapsed, eta);
    }
  };
}

/// The layer blocks `finetune --freeze` names.
inline const std::map<std::string, model::Block> frozen_blocks = {{"embedding", model::Block::embedding},
                                                                  {"lstm", model::Block::lstm},
                                                                  {"attention", model::Block::attention},
                                                                  {"head", model::Block::head}};

/// Fails a command whose training run failed; a diverged run's hint names the flag to change.
[[noreturn]] inline void fail_training(Error e, const ModelOptions& o) {
  if (e.message.find("training diverged") != std::string::npos)
    e.hint = "lower --lr (it was " + std::to_string(o.learning_rate) + "); no model was written";
  fail(e);
}

/// The result line of a training command (stdout): the kept epoch (chosen on the validation tasks, or the
/// last without them), `extra` and the file.
inline void print_trained(const model::TrainReport& report, std::size_t validation_tasks, const std::string& extra,
                          const std::string& out) {
  if (report.validation_pca.empty()) {
    std::printf("kept the last epoch, %zu (no validation)%s; model written to %s\n", report.best_epoch + 1,
                extra.c_str(), out.c_str());
  } else {
    std::printf("best validation PCA %.4f at epoch %zu (on %zu held-out training task%s)%s; model written to %s\n",
                report.validation_pca[report.best_epoch], report.best_epoch + 1, validation_tasks,
                validation_tasks == 1 ? "" : "s", extra.c_str(), out.c_str());
  }
}

/// "validating on N records of K held-out training tasks", or that there is no validation.
inline std::string validation_text(std::size_t records, std::size_t tasks) {
  if (records == 0) return "no validation: the last epoch is kept";
  return "validating on " + std::to_string(records) + " records of " + std::to_string(tasks) +
         " held-out training task" + (tasks == 1 ? "" : "s");
}

/// What a training command learns from and chooses its epoch on: of the `training` records, a `share` of
/// the tasks held out whole for validation (data::split_validation_tasks), none when `share` is 0. The
/// test records of --split are never among them: model selection does not look at what eval --holdout
/// scores.
struct TrainingRecords {
  std::vector<data::RecordRef> train, validation;
  std::size_t validation_tasks = 0;
};

inline TrainingRecords validation_for(const std::vector<data::RecordRef>& training, double share, Rng& rng) {
  if (share <= 0) return {training, {}, 0};
  const std::set<std::size_t> training_tasks = [&] {
    std::set<std::size_t> t;
    for (const auto& r : training)
      t.insert(r.task);
    return t;
  }();
  if (training_tasks.size() == 1) {
    note("one training task: no task to hold out for validation, so the last epoch is kept (as with --validate 0)");
    return {training, {}, 0};
  }
  auto split = data::split_validation_tasks(training, share, rng);
  if (!split) {
    auto e = std::move(split).error();
    e.hint = "pass --validate 0 to train every epoch and keep the last";
    fail(e);
  }
  std::set<std::size_t> tasks;
  for (const auto& r : split->test)
    tasks.insert(r.task);
  return {std::move(split->train), std::move(split->test), tasks.size()};
}

/// The shipped GPU model (models/pretrained-gpu.bin): in $CROSSTUNE_MODELS, the source tree of this
/// build, or the installed data directory, the first that has it.
inline std::string default_model() {
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("CROSSTUNE_MODELS")) dirs.emplace_back(env);
#ifdef CROSSTUNE_SOURCE_MODELS
  dirs.emplace_back(CROSSTUNE_SOURCE_MODELS);
#endif
#ifdef CROSSTUNE_INSTALLED_MODELS
  dirs.emplace_back(CROSSTUNE_INSTALLED_MODELS);
#endif
  for (const auto& d : dirs)
    if (std::filesystem::exists(d / "pretrained-gpu.bin")) return (d / "pretrained-gpu.bin").string();
  fail(Error(ErrorKind::io, "no --model given and the shipped pretrained-gpu.bin was not found", {}, 0, 0,
             "pass --model FILE, or set CROSSTUNE_MODELS to the folder holding pretrained-gpu.bin"));
}

/// The training options the command line gives, with progress output.
inline model::TrainOptions train_options(const ModelOptions& o) {
  model::TrainOptions options;
  options.epochs = o.epochs;
  options.batch_size = o.batch;
  options.learning_rate = o.learning_rate;
  options.loss = parse_loss(o.loss);
  options.rank_weight = o.rank_weight;
  options.schedule = o.schedule == "cosine" ? model::LrSchedule::cosine : model::LrSchedule::constant;
  options.patience = o.patience;
  options.threads = o.threads;
  report_progress(options, o.epochs);
  return options;
}

inline data::Dataset load_model_dataset(const ModelOptions& o, const std::vector<std::string>& files) {
  auto ds = load_dataset(files, o.hardware, o.min_records, false);
  if (ds.tasks().empty())
    fail(Error(ErrorKind::invalid_argument, "no task has enough records", {}, 0, 0, "lower --min-records"));
  return ds;
}

/// Trains a baseline (the MLP or XGBoost) on the split and writes it.
template <class Model>
void run_train_baseline(const ModelOptions& o, Model model, const char* what, const TrainingRecords& records,
                        const ExtractedSet& train_set, const ExtractedSet& val_set, Rng& rng) {
  auto options = train_options(o);
  note("training %s on %zu records, %s", what, records.train.size(),
       validation_text(records.validation.size(), records.validation_tasks).c_str());
  const model::LabelledBatch train_data{&train_set.batch, train_set.labels, train_set.tasks};
  const model::LabelledBatch val_data{&val_set.batch, val_set.labels, val_set.tasks};
  auto report = model.fit(train_data, records.validation.empty() ? nullptr : &val_data, options, rng);
  if (!report) fail_training(report.error(), o);
  if (auto ok = model.save(o.out); !ok) fail(ok.error());
  print_trained(*report, records.validation_tasks, "", o.out);
}

#ifdef CROSSTUNE_WITH_XGBOOST
using AnyModelVariant = std::variant<model::BiLstmAttentionModel, model::MlpModel, model::XgbModel>;
#else
using AnyModelVariant = std::variant<model::BiLstmAttentionModel, model::MlpModel>;
#endif

/// A model file of any kind, told apart by its magic.
struct AnyModel {
  AnyModelVariant model;

  static AnyModel load(const std::string& path) {
    auto bytes = model::detail::read_file(path);
    if (!bytes) fail(bytes.error());
    auto starts_with = [&](const char(&magic)[8]) {
      return bytes->compare(0, sizeof magic, std::string(magic, sizeof magic)) == 0;
    };
    if (starts_with(model::mlp_file_magic)) return {unwrap(model::MlpModel::deserialize(*bytes, path))};
    if (starts_with(model::xgb_file_magic)) {
#ifdef CROSSTUNE_WITH_XGBOOST
      return {unwrap(model::XgbModel::deserialize(*bytes, path))};
#else
      fail(Error(ErrorKind::unsupported, "an XGBoost model, and this crosstune was built without XGBoost",
                 path, 0, 0, "install libxgboost-dev (scripts/setup.sh does) and rebuild"));
#endif
    }
    return {unwrap(model::BiLstmAttentionModel::deserialize(*bytes, path))};
  }
  const features::FeatureLayout& layout() const {
    return std::visit([](const auto& m) -> const features::FeatureLayout& { return m.layout(); }, model);
  }
  void set_threads(std::size_t threads) {
    std::visit(
        [&](auto& m) {
          if constexpr (std::is_void_v<decltype(m.set_threads(threads))>) {
            m.set_threads(threads);
          } else if (auto ok = m.set_threads(threads); !ok) {
            fail(ok.error());
          }
        },
        model);
  }
  void predict(const features::FeatureBatch& batch, std::span<float> scores) {
    std::visit([&](auto& m) { unwrap(m.predict(batch, scores)); }, model);
  }

 private:
  template <class T>
  static T unwrap(Expected<T> value) {
    if (!value) fail(value.error());
    return std::move(*value);
  }
  static void unwrap(Expected<void> ok) {
    if (!ok) fail(ok.error());
  }
};

/// The training / validation split of `train` (--split, --ratio; drawn first from the seed's Rng), which
/// `eval --holdout` draws again to score the held-out records only.
inline data::Split split_for(const ModelOptions& o, const data::Dataset& ds, Rng& rng) {
  if (o.split != "within_task" && o.split != "by_task") {
    fail(Error(ErrorKind::invalid_argument, "unknown split \"" + o.split + "\"", {}, 0, 0,
               "use --split within_task or --split by_task"));
  }
  auto split = o.split == "by_task" ? data::split_by_task(ds, o.ratio, rng)
                                    : data::split_within_task(ds, o.ratio, true, rng);
  if (!split) fail(split.error());
  return std::move(*split);
}

inline void run_train(const ModelOptions& o) {
#ifndef CROSSTUNE_WITH_XGBOOST
  if (o.model == "xgb") {
    fail(Error(ErrorKind::unsupported, "this crosstune was built without XGBoost", {}, 0, 0,
               "install libxgboost-dev (scripts/setup.sh does) and rebuild, or use --model bilstm or mlp"));
  }
#endif
  const auto files = expand_log_paths(o.logs);
  check_outputs(files, {{"--out", o.out}});
  auto chosen = features::AnyExtractor::named(o.features, o.max_steps);  // --features accepts only extractor_names
  if (!chosen) fail(chosen.error());
  features::AnyExtractor extractor = std::move(*chosen);
  auto config = model::config_for(extractor.layout());
  config.hidden = o.hidden;
  config.layers = o.layers;
  config.heads = o.heads;
  config.embedding = o.embedding;
  if (o.model == "bilstm") {
    if (auto ok = config.validate(); !ok) fail(ok.error());  // before the logs are read
  }
  if (auto ok = model::validate(train_options(o)); !ok) fail(ok.error());  // before the logs are read
  const auto ds = load_model_dataset(o, files);
  Rng rng(o.seed);
  const auto split = split_for(o, ds, rng);  // drawn first: eval --holdout draws it again
  const auto records = validation_for(split.train, o.validate.value_or(0.1), rng);
  auto [train_set, val_set] = extract_split(ds, {records.train, records.validation}, extractor);
  report_unreplayed(train_set.unreplayed + val_set.unreplayed, train_set.batch.size() + val_set.batch.size());
  if (o.model == "mlp") {
    auto mlp = model::MlpModel::make(extractor.layout(), o.hidden, o.seed);
    if (!mlp) fail(mlp.error());
    const std::string what =
        "the MLP baseline (" + std::to_string(mlp->network().parameter_count()) + " parameters)";
    return run_train_baseline(o, std::move(*mlp), what.c_str(), records, train_set, val_set, rng);
  }
#ifdef CROSSTUNE_WITH_XGBOOST
  if (o.model == "xgb") {
    return run_train_baseline(o, model::XgbModel(extractor.layout()),
                              "the XGBoost baseline (10 rounds an epoch)", records, train_set, val_set, rng);
  }
#endif
  model::BiLstmAttentionNet<float> net(config, rng);
  auto options = train_options(o);
  note("training on %zu records, %s (%zu parameters)", records.train.size(),
       validation_text(records.validation.size(), records.validation_tasks).c_str(), net.parameter_count());
  const model::LabelledBatch train_data{&train_set.batch, train_set.labels, train_set.tasks};
  const model::LabelledBatch val_data{&val_set.batch, val_set.labels, val_set.tasks};
  auto report = model::train(net, train_data, records.validation.empty() ? nullptr : &val_data, options, rng);
  if (!report) fail_training(report.error(), o);
  if (auto ok = model::save_model(o.out, net, extractor.layout()); !ok) fail(ok.error());
  print_trained(*report, records.validation_tasks, "", o.out);
}

inline void run_eval(const ModelOptions& o) {
  const auto files = expand_log_paths(o.logs);
  auto loaded = AnyModel::load(o.model_in.empty() ? default_model() : o.model_in);
  auto for_layout = features::AnyExtractor::for_layout(loaded.layout());
  if (!for_layout) fail(for_layout.error());
  auto& extractor = *for_layout;
  const auto ds = load_model_dataset(o, files);
  std::vector<data::RecordRef> all;
  if (o.holdout) {
    Rng rng(o.seed);
    const auto split = split_for(o, ds, rng);
    all = split.test;
    if (o.split == "within_task" && o.validate.value_or(0.1) > 0) {
      // The tasks `train` held out for validation were not trained on: their records are not within-task
      // test records. Drawn again as train drew them (after the split, from the same Rng).
      if (auto v = data::split_validation_tasks(split.train, o.validate.value_or(0.1), rng)) {
        std::set<std::size_t> validation_tasks;
        for (const auto& r : v->test)
          validation_tasks.insert(r.task);
        std::erase_if(all, [&](const data::RecordRef& r) { return validation_tasks.contains(r.task); });
        note("scoring the held-out records of the %zu tasks trained on (left out: the %zu validated on)",
             ds.tasks().size() - validation_tasks.size(), validation_tasks.size());
      }
    }
    std::sort(all.begin(), all.end(), [](const data::RecordRef& a, const data::RecordRef& b) {
      return a.task != b.task ? a.task < b.task : a.record < b.record;
    });
  } else {
    for (std::size_t t = 0; t < ds.tasks().size(); ++t)
      for (std::size_t r = 0; r < ds.tasks()[t].size(); ++r)
        all.push_back({t, r});
  }
  if (all.empty()) fail(Error(ErrorKind::invalid_argument, "no records to score", {}, 0, 0, "check --ratio"));
  auto set = extract_set(ds, all, extractor);
  if (!set) fail(set.error());
  report_unreplayed(set->unreplayed, all.size());
  std::vector<float> scores(all.size());
  loaded.set_threads(o.threads);
  loaded.predict(set->batch, scores);
  std::vector<std::size_t> offsets{0};  // task boundaries in `all`
  for (std::size_t i = 1; i <= all.size(); ++i)
    if (i == all.size() || all[i].task != all[i - 1].task) offsets.push_back(i);
  const std::size_t tasks = offsets.size() - 1;
  auto report = metrics::evaluate_ranking(scores, set->labels, offsets);
  if (!report) fail(report.error());
  if (o.json) {
    std::printf(
        "{\"pca\": %.6f, \"top1\": %.6f, \"top5\": %.6f, \"rmse\": %.6f, \"kendall\": %.6f, \"records\": "
        "%zu, \"tasks\": %zu}\n",
        report->pairwise_comparison_accuracy, report->top1, report->top5, report->rmse, report->kendall_tau,
        all.size(), tasks);
  } else {
    std::printf("records %zu, tasks %zu\nPCA %.4f  top-1 %.4f  top-5 %.4f  RMSE %.4f  Kendall tau %.4f\n",
                all.size(), tasks, report->pairwise_comparison_accuracy, report->top1, report->top5,
                report->rmse, report->kendall_tau);
  }
}

inline void run_finetune(const ModelOptions& o) {
  const auto files = expand_log_paths(o.logs);
  const std::string model_in = o.model_in.empty() ? default_model() : o.model_in;
  auto inputs = files;
  inputs.push_back(model_in);
  check_outputs(inputs, {{"--out", o.out}});
  if (auto ok = model::validate(train_options(o)); !ok) fail(ok.error());  // before the logs are read
  auto loaded = AnyModel::load(model_in);
  auto for_layout = features::AnyExtractor::for_layout(loaded.layout());
  if (!for_layout) fail(for_layout.error());
  auto& extractor = *for_layout;
  std::set<model::Block> frozen;
  for (const auto& name : o.freeze)
    frozen.insert(frozen_blocks.at(name));  // --freeze accepts only these names
  if (!frozen.empty() && !std::holds_alternative<model::BiLstmAttentionModel>(loaded.model)) {
    fail(Error(ErrorKind::invalid_argument, "--freeze applies to BiLSTM-attention models only", {}, 0, 0,
               "drop --freeze: a baseline fine-tunes all of its weights (the MLP) or adds trees (XGBoost)"));
  }
  const auto ds = load_model_dataset(o, files);
  Rng rng(o.seed);
  auto split = data::split_within_task(ds, o.ratio, true, rng);
  if (!split) fail(split.error());
  if (split->test.empty()) {
    fail(Error(ErrorKind::invalid_argument, "no records left to score on", {}, 0, 0, "lower --ratio"));
  }
  const auto records = validation_for(split->train, o.validate.value_or(0.0), rng);
  auto [train_set, val_set] = extract_split(ds, {records.train, records.validation}, extractor);
  auto test_set = extract_set(ds, split->test, extractor);
  if (!test_set) fail(test_set.error());
  report_unreplayed(train_set.unreplayed + val_set.unreplayed + test_set->unreplayed,
                    train_set.batch.size() + val_set.batch.size() + test_set->batch.size());
  auto options = train_options(o);
  const model::LabelledBatch train_data{&train_set.batch, train_set.labels, train_set.tasks};
  const model::LabelledBatch val_data{&val_set.batch, val_set.labels, val_set.tasks};
  const model::LabelledBatch* validation = records.validation.empty() ? nullptr : &val_data;
  // The held-out records (the other 1 - --ratio of every task) are scored before and after, for the
  // report only: the epoch is chosen on the validation tasks, if any.
  loaded.set_threads(o.threads);
  auto held_out_pca = [&] {
    std::vector<float> scores(test_set->labels.size());
    loaded.predict(test_set->batch, scores);
    auto pca = model::task_pca(scores, test_set->labels, test_set->tasks);
    if (!pca) fail(pca.error());
    return *pca;
  };
  const double before = held_out_pca();
  note("fine-tuning on %zu records (%zu frozen blocks), %s; PCA on the %zu held-out records before: %.4f",
       records.train.size(), frozen.size(), validation_text(records.validation.size(), records.validation_tasks).c_str(),
       split->test.size(), before);
  auto report = std::visit(
      [&](auto& m) {
        if constexpr (std::is_same_v<std::decay_t<decltype(m)>, model::BiLstmAttentionModel>) {
          return m.fine_tune(train_data, validation, options, frozen, rng);
        } else {
          return m.fit(train_data, validation, options, rng);
        }
      },
      loaded.model);
  if (!report) fail_training(report.error(), o);
  const double after = held_out_pca();
  std::visit(
      [&](auto& m) {
        if (auto ok = m.save(o.out); !ok) fail(ok.error());
      },
      loaded.model);
  char extra[128];
  std::snprintf(extra, sizeof extra, "; held-out PCA %.4f before, %.4f after", before, after);
  print_trained(*report, records.validation_tasks, extra, o.out);
}

inline void add_model_commands(CLI::App& app) {
  auto o = std::make_shared<ModelOptions>();
  auto common = [&](CLI::App* c) {
    c->add_option("logs", o->logs, "Log files or folders")->required()->check(CLI::ExistingPath);
    c->add_option("--hardware", o->hardware,
                  "Preset that measured all the logs (else HARDWARE files / targets)")
        ->check(preset_name());
    c->add_option("--min-records", o->min_records, "Drop tasks with fewer valid records (default 48)")
        ->check(count_in(1, 1u << 30));
  };
  // Optimisation flags train and finetune share.
  auto optimisation = [o](CLI::App* c) {
    c->add_option("--lr", o->learning_rate, "Adam learning rate (default 1e-3)")
        ->check(real_in(1e-12, 10));  // a float: smaller rates would round to 0
    c->add_option("--schedule", o->schedule,
                  "Learning rate schedule: constant (default) or cosine (decays to 5% by the last epoch)")
        ->check(CLI::IsMember({"constant", "cosine"}));
    c->add_option("--loss", o->loss, "mse, rank or both (default)")
        ->check(CLI::IsMember({"mse", "rank", "both"}));
    c->add_option("--rank-weight", o->rank_weight, "Weight of the rank loss when --loss both (default 1)")
        ->check(real_in(0, 1e6));
    c->add_option("--patience", o->patience,
                  "Epochs without a better validation PCA before stopping (default 5; 0: never stop early)")
        ->check(count_in(0, 1u << 20));
  };
  auto validate = [o](CLI::App* c, const char* default_text) {
    c->add_option("--validate", o->validate,
                  std::string("Share of the training tasks held out whole to choose the epoch on; the records "
                              "--ratio holds out are never used (0: no validation, keep the last epoch; default ") +
                      default_text + ")")
        ->check(real_in(0, 1, Ends::open_high));
  };
  auto* train = app.add_subcommand("train",
                                   "Train a cost model: BiLSTM-attention, or the MLP or XGBoost baseline "
                                   "(choosing the epoch on 10% of the training tasks, held out)");
  common(train);
  train
      ->add_option(
          "--model", o->model,
          "Model kind: bilstm (default), mlp (the pooled-feature MLP baseline) or xgb (XGBoost trees on "
          "pooled features; an epoch is 10 boosting rounds)")
      ->check(CLI::IsMember({"bilstm", "mlp", "xgb"}));
  train->add_option("--epochs", o->epochs, "Epochs (default 30; early stopping after 5 without improvement)")
      ->check(count_in(1, 1u << 20));
  train->add_option("--batch", o->batch, "Mini-batch size (default 16)")->check(count_in(1, 1u << 16));
  train->add_option("--seed", o->seed, "Random seed (default 0)")->check(count_in(0, UINT64_MAX));
  train
      ->add_option("--threads", o->threads,
                   "Threads (default 0: every core); results are reproducible for a seed and thread count")
      ->check(count_in(0, 4096));
  optimisation(train);
  validate(train, "0.1");
  train->add_option("--hidden", o->hidden, "LSTM hidden size, or the MLP's first layer width (default 128)")
      ->check(count_in(2, 4096));
  train->add_option("--layers", o->layers, "BiLSTM layers (default 3)")->check(count_in(1, 16));
  train->add_option("--heads", o->heads, "Attention heads (default 2)")->check(count_in(1, 64));
  train->add_option("--embedding", o->embedding, "Input projection width (default 64)")
      ->check(count_in(1, 4096));
  train
      ->add_option("--features", o->features,
                   "What the model reads: steps (the schedule's step sequence, default), loops (loop statistics of the lowered "
                   "program, one vector per store), steps+loops (the steps, with the largest store's loop statistics and the "
                   "GPU kernel's launch configuration against the device joined in the workload vector; needs workloads "
                   "crosstune can rebuild) or steps+launch (the steps, with the launch configuration read off the steps "
                   "alone joined in the workload vector; every record has it)")
      ->check(CLI::IsMember({"steps", "loops", "steps+loops", "steps+launch"}));
  train->add_option("--max-steps", o->max_steps, "Steps (or, with --features loops, store statements) per candidate (default 64)")
      ->check(count_in(1, features::max_steps_limit));
  train
      ->add_option(
          "--ratio", o->ratio,
          "Share of each task's records (within_task) or of the tasks (by_task) to train on (default 0.9)")
      ->check(real_in(0, 1, Ends::open));
  train
      ->add_option("--split", o->split,
                   "Test split, kept out of training and validation for eval --holdout: within_task "
                   "(default: held-out records of every task) or by_task (held-out tasks)")
      ->check(CLI::IsMember({"within_task", "by_task"}));
  train->add_option("--out", o->out, "Model file to write")->required();
  train->callback([o] { run_train(*o); });
  auto* eval = app.add_subcommand("eval", "Score a model on logs: PCA, top-1, top-5, RMSE, Kendall tau");
  common(eval);
  eval->add_option("--model", o->model_in, "Model file (default: the shipped models/pretrained-gpu.bin)")
      ->check(CLI::ExistingFile);
  eval->add_flag("--json", o->json, "Print one JSON object");
  eval->add_flag(
      "--holdout", o->holdout,
      "Score only the records `train` held out with the same --split, --ratio, --seed and logs (never "
      "trained or validated on)");
  eval->add_option("--split", o->split, "With --holdout: within_task (default) or by_task")
      ->check(CLI::IsMember({"within_task", "by_task"}));
  eval->add_option("--ratio", o->ratio, "With --holdout: the training share (default 0.9)")
      ->check(real_in(0, 1, Ends::open));
  eval->add_option("--seed", o->seed, "With --holdout: the training seed (default 0)")
      ->check(count_in(0, UINT64_MAX));
  eval->add_option("--validate", o->validate,
                   "With --holdout --split within_task: train's --validate (default 0.1; 0 for a model from "
                   "finetune), whose validation tasks are left out, since they were not trained on")
      ->check(real_in(0, 1, Ends::open_high));
  eval->add_option("--threads", o->threads, "Threads (default 0: every core)")->check(count_in(0, 4096));
  eval->callback([o] { run_eval(*o); });
  auto* finetune =
      app.add_subcommand("finetune", "Continue training a model on a new target's records, layers frozen");
  common(finetune);
  finetune
      ->add_option("--model", o->model_in,
                   "Model file to start from (default: the shipped models/pretrained-gpu.bin)")
      ->check(CLI::ExistingFile);
  finetune->add_option("--freeze", o->freeze, "Blocks to keep fixed: embedding, lstm, attention, head")
      ->check(CLI::IsMember(frozen_blocks))
      ->delimiter(',');
  finetune->add_option("--epochs", o->epochs, "Epochs (default 30)")->check(count_in(1, 1u << 20));
  finetune->add_option("--batch", o->batch, "Mini-batch size (default 16)")->check(count_in(1, 1u << 16));
  optimisation(finetune);
  validate(finetune, "0: the few records of every task are all fine-tuned on");
  finetune->add_option("--seed", o->seed, "Random seed (default 0)")->check(count_in(0, UINT64_MAX));
  finetune->add_option("--threads", o->threads, "Threads (default 0: every core)")->check(count_in(0, 4096));
  finetune
      ->add_option("--ratio", o->ratio, "Share of each task fine-tuned on; the rest is scored before and after (default 0.9)")
      ->check(real_in(0, 1, Ends::open));
  finetune->add_option("--out", o->out, "Model file to write")->required();
  finetune->callback([o] { run_finetune(*o); });
}

}  // namespace crosstune::cli
