// `crosstune features`: dump the model input of every record, for inspection in Python.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "crosstune/data/dataset.hpp"
#include "crosstune/features/any_extractor.hpp"
#include "crosstune/hw/presets.hpp"
#include "crosstune/hw/target_string.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/io/npy_writer.hpp"
#include "progress.hpp"

namespace crosstune::cli {

struct FeaturesOptions {
  std::vector<std::string> logs;
  std::string extractor = "steps";
  std::size_t max_steps = 64;
  std::string hardware_join = "separate";
  std::string hardware;
  std::string out, mask_out, workload_out, hardware_out;
  bool skip_bad = false;
};

inline void run_features(const FeaturesOptions& o) {
  features::AnyExtractor extractor = [&] {
    if (o.hardware_join != "separate" && o.hardware_join != "per_step")
      fail(Error(ErrorKind::invalid_argument, "--hardware-join must be separate or per_step"));
    if (o.extractor == "steps" || o.extractor == "steps+launch") {
      features::StepSequenceOptions options;
      options.max_steps = o.max_steps;
      options.launch = o.extractor == "steps+launch";
      if (o.hardware_join == "per_step") options.hardware_join = features::HardwareJoin::per_step;
      return features::AnyExtractor(features::StepSequenceExtractor(options));
    }
    if (o.hardware_join != "separate") {
      fail(Error(ErrorKind::invalid_argument, "--hardware-join per_step applies to the steps extractors only", {}, 0, 0,
                 "drop --hardware-join, or use --extractor steps or steps+launch"));
    }
    auto chosen = features::AnyExtractor::named(o.extractor, o.max_steps);
    if (!chosen) fail(chosen.error());
    return std::move(*chosen);
  }();
  const auto layout = extractor.layout();

  // First pass: count the records, so the .npy headers can hold the shape; second pass: extract in
  // chunks and stream them out. Rows are records in file order, one per record read.
  const auto files = expand_log_paths(o.logs);
  check_outputs(files, {{"--out", o.out},
                        {"--mask-out", o.mask_out},
                        {"--workload-out", o.workload_out},
                        {"--hardware-out", o.hardware_out}});
  io::ReadOptions read_options;
  read_options.on_bad_line = o.skip_bad ? io::OnBadLine::skip : io::OnBadLine::stop;
  read_options.allow_empty = true;
  std::size_t total = 0;
  Progress counting("counting records", files.size());
  for (std::size_t i = 0; i < files.size(); ++i) {
    counting.update(i);
    const auto& f = files[i];
    auto reader = io::LogReader::open(f, read_options);
    if (!reader) fail(reader.error());
    Record r;
    while (true) {
      auto more = reader->next(r);
      if (!more) fail(more.error());
      if (!*more) break;
      ++total;
    }
  }
  counting.finish();
  auto steps = io::NpyWriter<float>::open(o.out, {total, layout.max_steps, layout.step_dims});
  if (!steps) fail(steps.error());
  std::optional<io::NpyWriter<float>> mask, workload, hardware;
  auto open_optional = [&](std::optional<io::NpyWriter<float>>& w, const std::string& path,
                           std::vector<std::size_t> shape) {
    if (path.empty()) return;
    auto opened = io::NpyWriter<float>::open(path, std::move(shape));
    if (!opened) fail(opened.error());
    w.emplace(std::move(*opened));
  };
  open_optional(mask, o.mask_out, {total, layout.max_steps});
  open_optional(workload, o.workload_out, {total, layout.workload_dims});
  open_optional(hardware, o.hardware_out, {total, hw::HardwareParams::feature_count});

  constexpr std::size_t chunk = 4096;
  std::vector<Record> records;
  std::vector<hw::HardwareParams> descriptors;
  features::FeatureBatch batch;
  std::size_t truncated = 0, unreplayed = 0;
  auto flush = [&] {
    if (records.empty()) return;
    if (auto ok = extractor.extract(records, descriptors, batch); !ok) fail(ok.error());
    unreplayed += extractor.unreplayed();
    auto write = [&](std::optional<io::NpyWriter<float>>& w, const auto& tensor) {
      if (w) {
        if (auto ok = w->append(std::span<const float>(tensor.data(), tensor.size())); !ok) fail(ok.error());
      }
    };
    if (auto ok = steps->append(std::span<const float>(batch.steps.data(), batch.steps.size())); !ok)
      fail(ok.error());
    write(mask, batch.mask);
    write(workload, batch.workload);
    if (hardware) {
      for (const auto& d : descriptors) {
        const auto f = d.to_features();
        if (auto ok = hardware->append(f); !ok) fail(ok.error());
      }
    }
    for (auto t : batch.truncated)
      truncated += t ? 1 : 0;
    records.clear();
    descriptors.clear();
  };
  Progress extracting("extracting features", total);
  std::size_t extracted = 0;
  for (const auto& f : files) {
    auto hint = data::hardware_file_hint(f);
    if (!hint) fail(hint.error());
    auto reader = io::LogReader::open(f, read_options);
    if (!reader) fail(reader.error());
    Record r;
    while (true) {
      auto more = reader->next(r);
      if (!more) fail(more.error());
      if (!*more) break;
      if (++extracted > total) {
        fail(Error(ErrorKind::io, "the file grew while it was read", f, 0, 0,
                   "run again once nothing writes to the logs"));
      }
      const auto name = data::resolve_hardware_name(o.hardware, *hint, r.task->target);
      descriptors.push_back(data::hardware_descriptor(name, *r.task));
      records.push_back(r);
      if (records.size() == chunk) {
        flush();
        extracting.update(extracted);
      }
    }
  }
  flush();
  extracting.finish();
  for (auto* w : {&mask, &workload, &hardware})
    if (*w)
      if (auto ok = (*w)->close(); !ok) fail(ok.error());
  if (auto ok = steps->close(); !ok) fail(ok.error());
  if (unreplayed > 0)
    note("%zu of %zu records have no loop features (their workload or steps do not replay onto a DAG crosstune builds)", unreplayed,
         total);
  std::printf("%zu records -> %s [%zu, %zu, %zu] float32 (%s v%d; %zu sequences truncated to %zu %s)\n",
              total, o.out.c_str(), total, layout.max_steps, layout.step_dims, layout.name.c_str(),
              layout.version, truncated, layout.max_steps, layout.name == "loops" ? "stores" : "steps");
}

inline void add_features_command(CLI::App& app) {
  auto o = std::make_shared<FeaturesOptions>();
  auto* cmd = app.add_subcommand("features", "Write the model input of every record as .npy files");
  cmd->add_option("logs", o->logs, "Log files or folders")->required()->check(CLI::ExistingPath);
  cmd->add_option("--extractor", o->extractor,
                  "Feature extractor: steps (default), loops (loop statistics, one vector per store), steps+loops (the steps, "
                  "with the largest store's and the GPU kernel's vectors in the workload vector) or steps+launch (the steps, "
                  "with the launch configuration read off them in the workload vector); docs/features.md")
      ->check(CLI::IsMember({"steps", "loops", "steps+loops", "steps+launch"}));
  cmd->add_option("--max-steps", o->max_steps, "Steps (loops: stores) per record after padding / truncation (default 64)")
      ->check(count_in(1, features::max_steps_limit));
  cmd->add_option("--hardware-join", o->hardware_join, "separate (default) or per_step")
      ->check(CLI::IsMember({"separate", "per_step"}));
  cmd->add_option("--hardware", o->hardware,
                  "Preset that measured all the logs (else HARDWARE files / targets)")
      ->check(preset_name());
  cmd->add_option("--out", o->out, "Step features, float32 [records, steps, dims]")->required();
  cmd->add_option("--mask-out", o->mask_out, "Mask of real steps, float32 [records, steps]");
  cmd->add_option("--workload-out", o->workload_out, "Workload features, float32 [records, dims]");
  cmd->add_option("--hardware-out", o->hardware_out, "Hardware features, float32 [records, 20]");
  cmd->add_flag("--skip-bad", o->skip_bad, "Skip malformed lines instead of stopping");
  cmd->callback([o] { run_features(*o); });
}

}  // namespace crosstune::cli
