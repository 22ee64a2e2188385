// `crosstune data ...`: datasets of tuning logs — stats, train/test splits, sampling, .npy export.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "crosstune/concepts.hpp"
#include "crosstune/data/dataset.hpp"
#include "crosstune/data/export.hpp"
#include "crosstune/data/samplers.hpp"
#include "crosstune/data/splits.hpp"
#include "crosstune/detail/json.hpp"
#include "crosstune/io/log_writer.hpp"
#include "logs_command.hpp"
#include "progress.hpp"

namespace crosstune::cli {

struct DataOptions {
  std::vector<std::string> logs;
  std::string hardware;
  std::size_t min_records = 48;
  bool skip_bad = false;
  bool json = false;
  // split
  std::string split = "within_task";
  double ratio = 0.9;
  std::string test_target;
  std::size_t shots = 0;
  std::uint64_t seed = 0;
  bool shuffle = false;
  std::string train_out, test_out, source_out;
  // sample
  std::string sampler = "hardware-aware";
  double fraction = 0.5;
  double fast_fraction = 0.4, slow_fraction = 0.25;
  std::size_t max_tasks_per_bucket = 0;
  std::string out;
};

/// Reads the logs into a Dataset (a progress bar on a terminal); `files` are the expanded log paths.
inline data::Dataset load_dataset(const std::vector<std::string>& files, const std::string& hardware,
                                  std::size_t min_records, bool skip_bad) {
  data::DatasetOptions options;
  options.min_records_per_task = min_records;
  options.on_bad_line = skip_bad ? io::OnBadLine::skip : io::OnBadLine::stop;
  Progress progress("reading logs", files.size());
  options.on_file_read = [&](std::size_t done, std::size_t) { progress.update(done); };
  std::vector<std::filesystem::path> paths(files.begin(), files.end());
  auto ds = data::Dataset::load(paths, hardware, options);
  progress.finish();
  if (!ds) fail(ds.error());
  for (const auto& w : ds->stats().warnings)
    warn(w);
  if (ds->stats().skipped_lines)
    warn("skipped " + std::to_string(ds->stats().skipped_lines) + " malformed lines");
  return std::move(*ds);
}

inline data::Dataset load_dataset(const DataOptions& o) {
  return load_dataset(expand_log_paths(o.logs), o.hardware, o.min_records, o.skip_bad);
}

/// Writes the referenced records of each (path, records) pair as an Ansor log. Every file is written to
/// a temporary first and renamed into place only once all are complete, so a failure while writing (a
/// full disk) leaves every old file as it was.
inline void write_record_files(
    const data::Dataset& ds,
    const std::vector<std::pair<std::string, const std::vector<data::RecordRef>*>>& outputs) {
  std::vector<io::LogWriter> writers;
  for (const auto& [path, refs] : outputs) {
    auto writer = io::LogWriter::open(path, io::WriteMode::truncate);
    if (!writer) fail(writer.error());
    for (const auto& r : *refs)
      if (auto ok = writer->write(ds.tasks()[r.task].records[r.record]); !ok) fail(ok.error());
    if (auto ok = writer->flush(); !ok) fail(ok.error());
    writers.push_back(std::move(*writer));
  }
  for (auto& writer : writers)
    if (auto ok = writer.close(); !ok) fail(ok.error());
}

inline void run_data_stats(const DataOptions& o) {
  const auto ds = load_dataset(o);
  struct PerHardware {
    std::size_t tasks = 0, records = 0, invalid = 0;
    std::map<std::string, std::size_t> ops;
  };
  std::map<std::string, PerHardware> per;
  for (const auto& t : ds.tasks()) {
    auto& h = per[t.hardware];
    ++h.tasks;
    h.records += t.size();
    h.invalid += t.invalid_records;
    ++h.ops[std::string(data::to_string(t.workload.op))];
  }
  const auto& s = ds.stats();
  if (o.json) {
    std::string out = "{\"files\": " + std::to_string(s.files) +
                      ", \"records_read\": " + std::to_string(s.records_read) +
                      ", \"tasks\": " + std::to_string(ds.tasks().size()) +
                      ", \"records\": " + std::to_string(ds.records()) +
                      ", \"invalid_records\": " + std::to_string(s.invalid_records) +
                      ", \"dropped_tasks\": " + std::to_string(s.dropped_tasks) +
                      ", \"dropped_records\": " + std::to_string(s.dropped_records) + ", \"hardware\": {";
    bool first = true;
    for (const auto& [name, h] : per) {
      out += first ? "" : ", ";
      first = false;
      detail::append_json_string(out, name);
      out += ": {\"tasks\": " + std::to_string(h.tasks) + ", \"records\": " + std::to_string(h.records) +
             ", \"invalid_records\": " + std::to_string(h.invalid) + ", \"ops\": {";
      bool first_op = true;
      for (const auto& [op, n] : h.ops) {
        out += first_op ? "" : ", ";
        first_op = false;
        detail::append_json_string(out, op);
        out += ": " + std::to_string(n);
      }
      out += "}}";
    }
    std::cout << out << "}}\n";
    return;
  }
  std::printf("files %zu, records read %zu; kept %zu tasks with %zu valid records (min %zu per task)\n",
              s.files, s.records_read, ds.tasks().size(), ds.records(), o.min_records);
  std::printf("invalid records (error != 0) %zu; dropped %zu small tasks with %zu records\n\n",
              s.invalid_records, s.dropped_tasks, s.dropped_records);
  std::printf("%-16s %7s %9s %9s  operators (tasks)\n", "hardware", "tasks", "records", "invalid");
  for (const auto& [name, h] : per) {
    std::string ops;
    for (const auto& [op, n] : h.ops)
      ops += op + " " + std::to_string(n) + "  ";
    std::printf("%-16s %7zu %9zu %9zu  %s\n", name.c_str(), h.tasks, h.records, h.invalid, ops.c_str());
  }
}

inline void run_data_split(const DataOptions& o) {
  const auto files = expand_log_paths(o.logs);
  check_outputs(files, {{"--train", o.train_out}, {"--test", o.test_out}, {"--source", o.source_out}});
  if ((o.split == "by_target" || o.split == "few_shot") && o.test_target.empty())
    usage_error("--split " + o.split + " needs --test-target (the hardware to test on, e.g. v100)");
  if (!o.source_out.empty() && o.split != "few_shot")
    usage_error("--source is written by --split few_shot only");
  const auto ds = load_dataset(files, o.hardware, o.min_records, o.skip_bad);
  Rng rng(o.seed);
  Expected<data::Split> split = data::Split{};
  std::vector<data::RecordRef> source;
  if (o.split == "within_task") {
    split = data::split_within_task(ds, o.ratio, o.shuffle, rng);
  } else if (o.split == "by_task") {
    split = data::split_by_task(ds, o.ratio, rng);
  } else if (o.split == "by_target" || o.split == "few_shot") {
    if (o.split == "by_target") {
      split = data::split_by_target(ds, o.test_target);
    } else {
      // --shots K records, or --ratio as the share of the target's records to fine-tune on.
      auto few = data::split_few_shot(ds, o.test_target, o.shots, o.shots ? 0.0 : o.ratio, rng);
      if (!few) fail(few.error());
      source = few->source;
      split = few->split;
    }
  } else {
    fail(Error(ErrorKind::invalid_argument, "unknown split \"" + o.split + "\"", {}, 0, 0,
               "use within_task, by_task, by_target or few_shot"));
  }
  if (!split) fail(split.error());
  std::vector<std::pair<std::string, const std::vector<data::RecordRef>*>> outputs = {
      {o.train_out, &split->train}, {o.test_out, &split->test}};
  if (!o.source_out.empty()) outputs.emplace_back(o.source_out, &source);
  write_record_files(ds, outputs);
  std::printf("%s split of %zu records in %zu tasks: %zu train -> %s, %zu test -> %s\n", o.split.c_str(),
              ds.records(), ds.tasks().size(), split->train.size(), o.train_out.c_str(), split->test.size(),
              o.test_out.c_str());
}

inline void run_data_sample(const DataOptions& o) {
  const auto files = expand_log_paths(o.logs);
  check_outputs(files, {{"--out", o.out}});
  auto checked = [](auto made) {
    if (!made) fail(made.error());
    return *made;
  };
  // Knobs are checked before the logs are read.
  std::optional<data::UniformSampler> uniform;
  std::optional<data::FlopsWeightedSampler> flops;
  std::optional<data::HardwareAwareSampler> hardware_aware;
  if (o.sampler == "uniform") {
    uniform = checked(data::UniformSampler::make(o.fraction));
  } else if (o.sampler == "flops") {
    flops = checked(data::FlopsWeightedSampler::make(o.fraction));
  } else if (o.sampler == "hardware-aware") {
    hardware_aware = checked(data::HardwareAwareSampler::make(o.test_target, o.fast_fraction, o.slow_fraction,
                                                              o.max_tasks_per_bucket));
  } else {
    fail(Error(ErrorKind::invalid_argument, "unknown sampler \"" + o.sampler + "\"", {}, 0, 0,
               "use uniform, flops or hardware-aware"));
  }
  const auto ds = load_dataset(files, o.hardware, o.min_records, o.skip_bad);
  if (hardware_aware && !o.test_target.empty()) {
    const bool present = std::any_of(ds.tasks().begin(), ds.tasks().end(),
                                     [&](const auto& t) { return t.hardware == o.test_target; });
    if (!present) {
      fail(Error(ErrorKind::invalid_argument,
                 "--target " + o.test_target + ": no task of these logs was measured on it", {}, 0, 0,
                 "the logs hold " + joined(ds.hardware_names()) + "; name one of them, or drop --target"));
    }
  }
  Rng rng(o.seed);
  data::Selection kept;
  if (uniform) kept = crosstune::sample_records(*uniform, ds, rng);
  if (flops) kept = crosstune::sample_records(*flops, ds, rng);
  if (hardware_aware) kept = crosstune::sample_records(*hardware_aware, ds, rng);
  write_record_files(ds, {{o.out, &kept.records}});
  std::printf("%s sampler kept %zu of %zu records (kept fraction %.4f) -> %s\n", o.sampler.c_str(),
              kept.records.size(), ds.records(), kept.kept_fraction, o.out.c_str());
}

inline void add_data_command(CLI::App& app) {
  auto o = std::make_shared<DataOptions>();
  auto* data_cmd =
      app.add_subcommand("data", "Datasets of tuning logs: stats, splits, sampling, .npy export");
  data_cmd->require_subcommand(1);
  auto common = [&](CLI::App* c) {
    c->add_option("logs", o->logs, "Log files or folders")->required()->check(CLI::ExistingPath);
    c->add_option("--hardware", o->hardware,
                  "Preset that measured all the logs (else HARDWARE files / target strings)")
        ->check(preset_name());
    c->add_option("--min-records", o->min_records, "Drop tasks with fewer valid records (default 48)")
        ->check(count_in(1, 1u << 30));
    c->add_flag("--skip-bad", o->skip_bad, "Skip malformed lines instead of stopping");
  };
  auto* stats = data_cmd->add_subcommand("stats", "Tasks, records, valid records and operators per hardware");
  common(stats);
  stats->add_flag("--json", o->json, "Print one JSON object");
  stats->callback([o] { run_data_stats(*o); });

  auto* split = data_cmd->add_subcommand("split", "Write train and test logs for a split");
  common(split);
  split->add_option("--split", o->split, "within_task, by_task, by_target or few_shot")
      ->required()
      ->check(CLI::IsMember({"within_task", "by_task", "by_target", "few_shot"}));
  split
      ->add_option("--ratio", o->ratio,
                   "Train share (within_task, by_task; few_shot without --shots), default 0.9")
      ->check(real_in(0, 1, Ends::open));
  split->add_option("--test-target", o->test_target,
                    "by_target/few_shot: hardware (e.g. v100) or target string");
  split->add_option("--shots", o->shots, "few_shot: number of target records to fine-tune on")
      ->check(count_in(1, 1u << 30));
  split->add_option("--seed", o->seed, "Random seed (default 0)")->check(count_in(0, UINT64_MAX));
  split->add_flag("--shuffle", o->shuffle, "within_task: shuffle records before splitting (TenSet does not)");
  split->add_option("--train", o->train_out, "Train log to write")->required();
  split->add_option("--test", o->test_out, "Test log to write")->required();
  split->add_option("--source", o->source_out, "few_shot: also write the other hardware's records here");
  split->callback([o] { run_data_split(*o); });

  auto* sample = data_cmd->add_subcommand("sample", "Write the records a sampler keeps");
  common(sample);
  sample->add_option("--sampler", o->sampler, "uniform, flops or hardware-aware (default)")
      ->check(CLI::IsMember({"uniform", "flops", "hardware-aware"}));
  sample->add_option("--target", o->test_target,
                     "hardware-aware: the hardware to sample for (a hardware name of the logs, e.g. v100)");
  sample->add_option("--fraction", o->fraction, "uniform/flops: share of records to keep (default 0.5)")
      ->check(real_in(0, 1, Ends::open_low));
  sample
      ->add_option("--fast-fraction", o->fast_fraction,
                   "hardware-aware: fastest share kept whole (default 0.4)")
      ->check(real_in(0, 1));
  sample
      ->add_option("--slow-fraction", o->slow_fraction,
                   "hardware-aware: share of the rest kept (default 0.25)")
      ->check(real_in(0, 1));
  sample
      ->add_option("--max-tasks-per-bucket", o->max_tasks_per_bucket,
                   "hardware-aware: cap per FLOPs bucket (0: none)")
      ->check(count_in(0, 1u << 30));
  sample->add_option("--seed", o->seed, "Random seed (default 0)")->check(count_in(0, UINT64_MAX));
  sample->add_option("--out", o->out, "Log to write")->required();
  sample->callback([o] { run_data_sample(*o); });

  auto* exp = data_cmd->add_subcommand(
      "export", "Write labels.npy, costs.npy, task_index.npy, task_offsets.npy, tasks.tsv");
  common(exp);
  exp->add_option("--out", o->out, "Folder to write")->required();
  exp->callback([o] {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(o->out, ec) && !fs::is_directory(o->out, ec)) {
      fail(Error(ErrorKind::invalid_argument, "--out names a file; export writes a folder of five files",
                 o->out, 0, 0, "give a folder path (it is created if missing)"));
    }
    // Checked before the logs are read: the folder (or where it will be made) is writable, and no
    // file it will hold is an input.
    const auto files = expand_log_paths(o->logs);
    const fs::path out = o->out;
    std::vector<Output> outputs;
    if (fs::is_directory(out, ec)) {
      for (const char* name : {"labels.npy", "costs.npy", "task_index.npy", "task_offsets.npy", "tasks.tsv"})
        outputs.push_back({"--out", (out / name).string()});
    } else {
      outputs.push_back({"--out", out.string()});
    }
    check_outputs(files, outputs);
    const auto ds = load_dataset(files, o->hardware, o->min_records, o->skip_bad);
    if (auto ok = data::export_npy(ds, o->out); !ok) fail(ok.error());
    std::printf("%zu records of %zu tasks exported to %s\n", ds.records(), ds.tasks().size(), o->out.c_str());
  });
}

}  // namespace crosstune::cli
