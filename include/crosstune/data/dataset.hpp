// crosstune/data/dataset.hpp — tuning records grouped into tasks, labelled for cost-model training.
//
// A Dataset reads any number of logs (in parallel, one file per TBB task) and groups their records
// into tasks keyed by (workload key, hardware): the same workload measured on two GPUs is two tasks.
// Only valid measurements (error code 0) become training records; the others are counted. Each record's
// label is TenSet's normalised throughput, min mean cost of the task / mean cost (1.0 = the task's best).
// Tasks with fewer than `min_records_per_task` valid records are dropped (counted), as TenSet does.
//
// Which hardware measured a log is taken, in this order, from LogSource::hardware (the command line's
// --hardware), from a one-line file named HARDWARE in the log's folder, from -model=/-arch=/-mcpu= of the
// target string, and is otherwise "unknown-<target kind>" ("unknown-cuda"; one warning per target string in
// DatasetStats::warnings), so that unknown CPUs and GPUs never share a hardware name.
//
//   auto ds = crosstune::data::Dataset::load({{"k80/a.json.gz"}, {"v100/a.json.gz"}});
//   for (const auto& task : ds->tasks()) std::cout << task.hardware << ' ' << task.size() << '\n';
#pragma once

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/data/workload_info.hpp"
#include "crosstune/hw/presets.hpp"
#include "crosstune/hw/target_string.hpp"
#include "crosstune/io/log_reader.hpp"

namespace crosstune::data {

/// One log file and, optionally, the hardware preset that measured it (overrides everything else).
struct LogSource {
  std::filesystem::path path;
  std::string hardware;  ///< preset name, or empty to resolve from HARDWARE file / target string
};

struct DatasetOptions {
  std::size_t min_records_per_task = 48;  ///< tasks with fewer valid records are dropped (TenSet: 48)
  io::OnBadLine on_bad_line = io::OnBadLine::stop;
  /// Called after each file is read, with the files done and the total (for progress bars). Files are
  /// read in parallel; the calls are serialised, so the callback needs no locking of its own. An
  /// exception it throws is rethrown by load() once the files are read.
  std::function<void(std::size_t files_done, std::size_t files_total)> on_file_read{};
};

struct DatasetStats {
  std::size_t files = 0;
  std::size_t records_read = 0;       ///< every record of every file
  std::size_t invalid_records = 0;    ///< error code != 0 (kept out of the dataset, counted here)
  std::size_t skipped_lines = 0;      ///< malformed lines under OnBadLine::skip
  std::size_t dropped_tasks = 0;      ///< tasks with fewer than min_records_per_task valid records
  std::size_t dropped_records = 0;    ///< valid records of the dropped tasks
  std::vector<std::string> warnings;  ///< e.g. logs whose hardware could not be resolved
};

/// The valid records of one (workload key, hardware) task, with their labels.
struct TaskData {
  std::string workload_key;
  std::string hardware;  ///< preset name ("k80"), or a name from the target string, or "unknown"
  hw::HardwareParams hardware_params;  ///< the descriptor of `hardware`, refined by the records' parameters
  std::shared_ptr<const Task> task;    ///< the task as the first record stated it (target string etc.)
  WorkloadInfo workload;               ///< operator kind and FLOPs, when the key tells
  std::vector<Record> records;         ///< valid records, in file order
  std::vector<double> mean_costs_seconds;
  std::vector<float> labels;  ///< min mean cost / mean cost, in (0, 1]
  double min_cost_seconds = std::numeric_limits<double>::infinity();
  std::size_t invalid_records = 0;  ///< records of this task with error != 0

  [[nodiscard]] std::size_t size() const noexcept { return records.size(); }
};

/// The hardware a log was measured on (see the header comment for the order of sources). `folder_hint` is
/// the content of the HARDWARE file of the log's folder, if any.
[[nodiscard]] inline std::string resolve_hardware_name(const std::string& explicit_hardware,
                                                       const std::string& folder_hint, const Target& target) {
  auto canonical = [](std::string_view name) {
    const hw::HardwareParams* p = hw::find_preset(name);
    return p ? std::string(p->name) : std::string(name);
  };
  if (!explicit_hardware.empty()) return canonical(explicit_hardware);
  if (!folder_hint.empty()) return canonical(folder_hint);
  if (auto model = target.option("model"); model && !model->empty()) return canonical(*model);
  if (auto arch = target.option("arch"); arch && !arch->empty())
    return std::string(target.kind()) + "-" + std::string(*arch);
  if (auto mcpu = target.option("mcpu"); mcpu && !mcpu->empty())
    return std::string(target.kind()) + "-" + std::string(*mcpu);
  // Unknown, but never mixed across device kinds: "unknown-cuda", "unknown-llvm".
  return target.kind().empty() ? std::string("unknown") : "unknown-" + std::string(target.kind());
}

/// The preset named by the HARDWARE file beside `log_file` (first line, blanks trimmed; "" when there is
/// no such file). Errors: the file names no preset, or cannot be read.
[[nodiscard]] inline Expected<std::string> hardware_file_hint(const std::filesystem::path& log_file) {
  const auto path = log_file.parent_path() / "HARDWARE";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::string();
  std::ifstream in(path);
  if (!in) {
    return unexpected(Error(ErrorKind::io, "cannot read the HARDWARE file", path.string(), 0, 0,
                            "make it readable, or name the hardware with --hardware"));
  }
  std::string name;
  std::getline(in, name);
  const auto blank = [](char c) { return c == ' ' || c == '\r' || c == '\t'; };
  while (!name.empty() && blank(name.back()))
    name.pop_back();
  name.erase(0, static_cast<std::size_t>(std::find_if_not(name.begin(), name.end(), blank) - name.begin()));
  if (!name.empty() && hw::find_preset(name) == nullptr) {
    return unexpected(Error(ErrorKind::invalid_argument,
                            "HARDWARE file names unknown preset \"" + name + "\"", path.string(), 1, 0,
                            "write one preset name (crosstune hw --list-presets)"));
  }
  return name;
}

/// The descriptor of hardware `name` (resolve_hardware_name's result) for a task: the preset, else what
/// the task's target string says, refined by the hardware parameters the log recorded.
[[nodiscard]] inline hw::HardwareParams hardware_descriptor(const std::string& name, const Task& task) {
  hw::HardwareParams p;
  if (const hw::HardwareParams* preset = hw::find_preset(name)) {
    p = *preset;
  } else if (auto parsed = hw::parse_target(task.target.str())) {
    p = *parsed;
  }
  if (task.has_hardware_params()) {
    // The search ran with the recorded parameters; they describe what the schedules were made for.
    if (p.kind == hw::DeviceKind::unknown) p = hw::from_recorded(task.hardware_params);
    p.assign_recorded(task.hardware_params);
  }
  return p;
}

class Dataset {
 public:
  /// Reads and groups the logs. Errors: a file that cannot be read, or a malformed line under
  /// OnBadLine::stop, or an unknown preset name in a LogSource / HARDWARE file.
  [[nodiscard]] static Expected<Dataset> load(std::span<const LogSource> sources,
                                              DatasetOptions options = {}) {
    // Parse every file in parallel; group afterwards in file order, so the result does not depend on
    // the number of threads.
    std::vector<FileResult> files(sources.size());
    std::mutex progress_mutex;
    std::size_t files_done = 0;
    std::exception_ptr callback_failure;  // rethrown once every file is done
    auto report = [&]() noexcept {
      if (!options.on_file_read) return;
      std::lock_guard lock(progress_mutex);
      try {
        options.on_file_read(++files_done, sources.size());
      } catch (...) {
        if (!callback_failure) callback_failure = std::current_exception();
      }
    };
    tbb::parallel_for(std::size_t{0}, sources.size(), [&](std::size_t i) {
      FileResult& out = files[i];
      struct Reported {
        decltype(report)& done;
        ~Reported() { done(); }
      } reported{report};
      const auto& source = sources[i];
      if (!source.hardware.empty() && hw::find_preset(source.hardware) == nullptr) {
        out.error = Error(ErrorKind::invalid_argument, "unknown hardware preset \"" + source.hardware + "\"",
                          source.path.string(), 0, 0, "crosstune hw --list-presets lists the names");
        return;
      }
      if (auto hint = hardware_file_hint(source.path); !hint) {
        out.error = hint.error();
        return;
      } else {
        out.hardware_hint = *hint;
      }
      io::ReadOptions read_options;
      read_options.on_bad_line = options.on_bad_line;
      read_options.allow_empty = true;
      auto reader = io::LogReader::open(source.path, read_options);
      if (!reader) {
        out.error = reader.error();
        return;
      }
      Record record;
      while (true) {
        auto more = reader->next(record);
        if (!more) {
          out.error = more.error();
          return;
        }
        if (!*more) break;
        out.records.push_back(record);
      }
      out.stats = reader->stats();
    });
    if (callback_failure) std::rethrow_exception(callback_failure);
    return build(files, sources, options);
  }

  /// Groups and labels records already read: `files[i]` are the records of `sources[i]` (whose path
  /// locates its HARDWARE file). The records are copied.
  [[nodiscard]] static Expected<Dataset> from_records(std::span<const std::vector<Record>> files,
                                                      std::span<const LogSource> sources,
                                                      DatasetOptions options = {}) {
    if (files.size() != sources.size()) {
      return unexpected(Error(ErrorKind::invalid_argument, "from_records: " + std::to_string(files.size()) +
                                                               " record lists for " +
                                                               std::to_string(sources.size()) + " sources"));
    }
    std::vector<FileResult> results(files.size());
    for (std::size_t i = 0; i < files.size(); ++i) {
      auto hint = hardware_file_hint(sources[i].path);
      if (!hint) return unexpected(std::move(hint).error());
      results[i].hardware_hint = *hint;
      results[i].records = files[i];
      results[i].stats.records = files[i].size();
    }
    return build(results, sources, options);
  }

  /// Groups and labels records measured on one device — a tuner's own measurements — without files or
  /// HARDWARE lookups: every task is keyed by (workload key, `hardware`) and described by `params`.
  /// Failed records are counted as invalid, as when read from a log. The records are copied.
  [[nodiscard]] static Dataset from_measured(std::span<const Record> records, const std::string& hardware,
                                             const hw::HardwareParams& params, std::size_t min_records_per_task = 1) {
    std::vector<FileResult> files(1);
    files[0].records.assign(records.begin(), records.end());
    files[0].stats.records = records.size();
    const LogSource source{{}, hardware.empty() ? std::string("unknown") : hardware};
    DatasetOptions options;
    options.min_records_per_task = min_records_per_task;
    auto built = build(files, std::span<const LogSource>(&source, 1), options);  // cannot fail: no file errors
    Dataset ds = std::move(*built);
    for (auto& t : ds.tasks_) t.hardware_params = params;
    return ds;
  }

  /// Convenience: every path with the same explicit hardware (empty: resolve per file).
  [[nodiscard]] static Expected<Dataset> load(const std::vector<std::filesystem::path>& paths,
                                              const std::string& hardware = {}, DatasetOptions options = {}) {
    std::vector<LogSource> sources;
    for (const auto& p : paths)
      sources.push_back({p, hardware});
    return load(std::span<const LogSource>(sources), options);
  }

  [[nodiscard]] const std::vector<TaskData>& tasks() const noexcept { return tasks_; }
  [[nodiscard]] std::vector<TaskData>& tasks() noexcept { return tasks_; }
  [[nodiscard]] const DatasetStats& stats() const noexcept { return stats_; }

  /// Valid records in the kept tasks.
  [[nodiscard]] std::size_t records() const noexcept {
    std::size_t n = 0;
    for (const auto& t : tasks_)
      n += t.size();
    return n;
  }

  /// Distinct hardware names, sorted.
  [[nodiscard]] std::vector<std::string> hardware_names() const {
    std::vector<std::string> names;
    for (const auto& t : tasks_)
      names.push_back(t.hardware);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
  }

 private:
  struct FileResult {
    std::vector<Record> records;
    std::string hardware_hint;
    io::ReadStats stats;
    std::optional<Error> error;
  };

  static Expected<Dataset> build(std::vector<FileResult>& files, std::span<const LogSource> sources,
                                 const DatasetOptions& options) {
    Dataset ds;
    std::map<std::pair<std::string, std::string>, std::size_t> index;  // (key, hardware) -> task
    std::map<std::string, std::pair<std::size_t, std::string>>
        unknown_targets;  // target -> (files, last file)
    for (std::size_t i = 0; i < files.size(); ++i) {
      auto& file = files[i];
      if (file.error) return unexpected(std::move(*file.error));
      ++ds.stats_.files;
      ds.stats_.records_read += file.stats.records;
      ds.stats_.skipped_lines += file.stats.skipped_lines;
      // Records of a file share their Task objects, so the task index is looked up once per Task.
      std::unordered_map<const Task*, std::size_t> task_index;
      for (auto& record : file.records) {
        const Task& task = *record.task;
        auto cached = task_index.find(&task);
        if (cached == task_index.end()) {
          const std::string hardware =
              resolve_hardware_name(sources[i].hardware, file.hardware_hint, task.target);
          if (hardware.starts_with("unknown")) {
            auto& [files_seen, last_file] = unknown_targets[task.target.str()];
            if (last_file != sources[i].path.string()) ++files_seen;
            last_file = sources[i].path.string();
          }
          auto [it, inserted] = index.try_emplace({task.workload_key, hardware}, ds.tasks_.size());
          if (inserted) {
            TaskData t;
            t.workload_key = task.workload_key;
            t.hardware = hardware;
            t.task = record.task;
            t.workload = describe_workload(task.workload_key);
            t.hardware_params = hardware_descriptor(hardware, task);
            ds.tasks_.push_back(std::move(t));
          }
          cached = task_index.emplace(&task, it->second).first;
        }
        TaskData& t = ds.tasks_[cached->second];
        if (!record.result.ok() || record.result.costs_seconds.empty()) {
          ++t.invalid_records;
          ++ds.stats_.invalid_records;
          continue;
        }
        t.records.push_back(std::move(record));
      }
      file.records.clear();
      file.records.shrink_to_fit();
    }

    for (const auto& [target, seen] : unknown_targets) {
      ds.stats_.warnings.push_back(
          "cannot tell which hardware measured target \"" + target + "\" (" + std::to_string(seen.first) +
          " file(s), e.g. " + seen.second + "); its tasks are keyed as \"" +
          resolve_hardware_name({}, {}, Target(target)) +
          "\"; name it with --hardware PRESET or a HARDWARE file in the log's folder");
    }

    // Drop small tasks, then label: min mean cost of the task / mean cost.
    std::vector<TaskData> kept;
    kept.reserve(ds.tasks_.size());
    for (auto& t : ds.tasks_) {
      // A task without a single valid record has no best cost to label against, whatever the minimum.
      if (t.records.empty() || t.records.size() < options.min_records_per_task) {
        ++ds.stats_.dropped_tasks;
        ds.stats_.dropped_records += t.records.size();
        continue;
      }
      t.mean_costs_seconds.reserve(t.records.size());
      for (const auto& r : t.records)
        t.mean_costs_seconds.push_back(r.result.mean_cost_seconds());
      t.min_cost_seconds = *std::min_element(t.mean_costs_seconds.begin(), t.mean_costs_seconds.end());
      t.labels.reserve(t.records.size());
      for (double c : t.mean_costs_seconds)
        t.labels.push_back(static_cast<float>(t.min_cost_seconds / c));
      kept.push_back(std::move(t));
    }
    ds.tasks_ = std::move(kept);
    return ds;
  }

  std::vector<TaskData> tasks_;
  DatasetStats stats_;
};

}  // namespace crosstune::data
