// `crosstune features`: dump the model input of every record, for inspection in Python.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "crosstune/data/dataset.hpp"
#include "crosstune/features/step_sequence_extractor.hpp"
#include "crosstune/hw/presets.hpp"
#include "crosstune/hw/target_string.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/io/npy_writer.hpp"
#include "logs_command.hpp"

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

/// The descriptor of the hardware that measured `task` in file `path` (as the Dataset resolves it).
inline hw::HardwareParams descriptor_for_task(const std::string& explicit_hardware,
                                              const std::string& folder_hint, const Task& task) {
  const std::string name = data::resolve_hardware_name(explicit_hardware, folder_hint, task.target);
  hw::HardwareParams p;
  if (const auto* preset = hw::find_preset(name)) {
    p = *preset;
  } else if (auto parsed = hw::hardware_of(task)) {
    p = *parsed;
  } else {
    p = hw::from_recorded(task.hardware_params);
  }
  if (task.has_hardware_params()) p.assign_recorded(task.hardware_params);
  return p;
}

inline void run_features(const FeaturesOptions& o) {
  auto fail = [](const Error& e) {
    std::cerr << "crosstune: error: " << e.describe() << '\n';
    throw CLI::RuntimeError(1);
  };
  if (o.extractor != "steps") {
    fail(Error(ErrorKind::invalid_argument, "unknown extractor \"" + o.extractor + "\"", {}, 0, 0,
               "crosstune has the \"steps\" extractor; loop statistics come with its IR"));
  }
  if (!o.hardware.empty() && hw::find_preset(o.hardware) == nullptr) {
    fail(Error(ErrorKind::invalid_argument, "unknown hardware preset \"" + o.hardware + "\""));
  }
  features::StepSequenceOptions options;
  options.max_steps = o.max_steps;
  if (o.hardware_join == "per_step") {
    options.hardware_join = features::HardwareJoin::per_step;
  } else if (o.hardware_join != "separate") {
    fail(Error(ErrorKind::invalid_argument, "--hardware-join must be separate or per_step"));
  }
  features::StepSequenceExtractor extractor(options);
  const auto layout = extractor.layout();

  // First pass: count the records, so the .npy headers can hold the shape; second pass: extract in
  // chunks and stream them out. Rows are records in file order, one per record read.
  const auto files = expand_log_paths(o.logs);
  io::ReadOptions read_options;
  read_options.on_bad_line = o.skip_bad ? io::OnBadLine::skip : io::OnBadLine::stop;
  read_options.allow_empty = true;
  std::size_t total = 0;
  for (const auto& f : files) {
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
  std::size_t truncated = 0;
  auto flush = [&] {
    if (records.empty()) return;
    if (auto ok = extractor.extract(records, descriptors, batch); !ok) fail(ok.error());
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
  for (const auto& f : files) {
    std::ifstream hint_file(std::filesystem::path(f).parent_path() / "HARDWARE");
    std::string hint;
    if (hint_file) std::getline(hint_file, hint);
    auto reader = io::LogReader::open(f, read_options);
    if (!reader) fail(reader.error());
    Record r;
    while (*reader->next(r)) {
      descriptors.push_back(descriptor_for_task(o.hardware, hint, *r.task));
      records.push_back(r);
      if (records.size() == chunk) flush();
    }
  }
  flush();
  for (auto* w : {&mask, &workload, &hardware})
    if (*w)
      if (auto ok = (*w)->close(); !ok) fail(ok.error());
  if (auto ok = steps->close(); !ok) fail(ok.error());
  std::printf("%zu records -> %s [%zu, %zu, %zu] float32 (%s v%d; %zu sequences truncated to %zu steps)\n",
              total, o.out.c_str(), total, layout.max_steps, layout.step_dims, layout.name.c_str(),
              layout.version, truncated, layout.max_steps);
}

inline void add_features_command(CLI::App& app) {
  auto o = std::make_shared<FeaturesOptions>();
  auto* cmd = app.add_subcommand("features", "Write the model input of every record as .npy files");
  cmd->add_option("logs", o->logs, "Log files or folders")->required()->check(CLI::ExistingPath);
  cmd->add_option("--extractor", o->extractor, "Feature extractor (steps)");
  cmd->add_option("--max-steps", o->max_steps, "Steps per record after padding / truncation (default 64)");
  cmd->add_option("--hardware-join", o->hardware_join, "separate (default) or per_step");
  cmd->add_option("--hardware", o->hardware,
                  "Preset that measured all the logs (else HARDWARE files / targets)");
  cmd->add_option("--out", o->out, "Step features, float32 [records, steps, dims]")->required();
  cmd->add_option("--mask-out", o->mask_out, "Mask of real steps, float32 [records, steps]");
  cmd->add_option("--workload-out", o->workload_out, "Workload features, float32 [records, dims]");
  cmd->add_option("--hardware-out", o->hardware_out, "Hardware features, float32 [records, 20]");
  cmd->add_flag("--skip-bad", o->skip_bad, "Skip malformed lines instead of stopping");
  cmd->callback([o] { run_features(*o); });
}

}  // namespace crosstune::cli
