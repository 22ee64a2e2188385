// `crosstune logs ...`: subcommands that read Ansor / TVM auto_scheduler logs.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "common.hpp"
#include "crosstune/data/log_summary.hpp"
#include "crosstune/detail/json.hpp"
#include "crosstune/io/log_reader.hpp"
#include "progress.hpp"

namespace crosstune::cli {

struct LogsStatsOptions {
  std::vector<std::string> files;
  bool json = false;
  bool skip_bad = false;
};

/// Reads every file into `summary`; a file that cannot be read, or a bad line without --skip-bad, ends
/// the command (exit 1).
inline void read_into_summary(const LogsStatsOptions& options, data::LogSummary& summary,
                              io::ReadStats& totals) {
  totals = for_each_record(options.files, options.skip_bad, "reading logs", [&](const Record& r) { summary.add(r); });
}

inline void print_stats_json(const data::LogSummary& s, const io::ReadStats& totals, std::size_t files) {
  using detail::append_double;
  using detail::append_json_string;
  std::string out = "{";
  auto field = [&](const char* name) {
    if (out.size() > 1) out += ", ";
    append_json_string(out, name);
    out += ": ";
  };
  auto number = [&](const char* name, std::size_t value) {
    field(name);
    out += std::to_string(value);
  };
  // {"name": count, ...} from any map of string to count.
  auto count_object = [&](const char* name, const auto& counts) {
    field(name);
    out += "{";
    bool first = true;
    for (const auto& [key, count] : counts) {
      out += first ? "" : ", ";
      first = false;
      append_json_string(out, key);
      out += ": " + std::to_string(count);
    }
    out += "}";
  };
  number("records", s.records());
  number("valid_records", s.valid_records());
  number("files", files);
  number("lines", totals.lines);
  number("skipped_lines", totals.skipped_lines);
  number("ignored_lines", totals.ignored_lines);
  number("tasks", s.tasks());
  field("targets");
  out += "[";
  bool first = true;
  for (const auto& [target, counts] : s.targets()) {
    out += first ? "" : ", ";
    first = false;
    out += "{\"target\": ";
    append_json_string(out, target);
    out += ", \"records\": " + std::to_string(counts.first) +
           ", \"tasks\": " + std::to_string(counts.second) + "}";
  }
  out += "]";
  std::vector<std::pair<std::string_view, std::size_t>> error_codes;
  for (std::size_t i = 0; i < error_code_count; ++i)
    error_codes.emplace_back(error_code_names[i], s.error_histogram()[i]);
  count_object("error_codes", error_codes);
  const auto per_task = s.records_per_task();
  field("records_per_task");
  out += "{\"min\": " + std::to_string(per_task.min) + ", \"median\": " + std::to_string(per_task.median) +
         ", \"max\": " + std::to_string(per_task.max) + "}";
  count_object("tasks_per_op", s.tasks_per_op());
  field("flops");
  out += "{\"tasks_known\": " + std::to_string(s.tasks_with_flops());
  if (const auto range = s.flops_range()) {
    out += ", \"min\": ";
    append_double(out, range->first);
    out += ", \"max\": ";
    append_double(out, range->second);
  }
  out += "}";
  count_object("versions", s.versions());
  out += "}";
  std::cout << out << '\n';
}

inline void print_stats_table(const data::LogSummary& s, const io::ReadStats& totals, std::size_t files) {
  std::printf("files             %zu\n", files);
  std::printf("records           %zu (%zu valid, error code 0)\n", s.records(), s.valid_records());
  if (totals.skipped_lines) std::printf("skipped lines     %zu (malformed)\n", totals.skipped_lines);
  std::printf("tasks             %zu (distinct workload key and target)\n", s.tasks());
  const auto per_task = s.records_per_task();
  std::printf("records per task  min %zu, median %zu, max %zu\n", per_task.min, per_task.median,
              per_task.max);
  if (const auto range = s.flops_range()) {
    std::printf("FLOPs per task    %.4g .. %.4g (known for %zu of %zu tasks)\n", range->first, range->second,
                s.tasks_with_flops(), s.tasks());
  } else {
    std::printf("FLOPs per task    unknown for all tasks (hashed workload keys)\n");
  }
  int width = 7;
  for (const auto& entry : s.targets())
    width = std::max(width, static_cast<int>(entry.first.size()));
  std::printf("\n  %-*s %8s %8s\n", width, "target", "records", "tasks");
  for (const auto& [target, counts] : s.targets())
    std::printf("  %-*s %8zu %8zu\n", width, target.empty() ? "(empty)" : target.c_str(), counts.first,
                counts.second);
  std::printf("\noperators (tasks)\n");
  for (const auto& [op, count] : s.tasks_per_op())
    std::printf("  %-20s %8zu\n", op.c_str(), count);
  std::printf("\nerror codes\n");
  for (std::size_t i = 0; i < error_code_count; ++i) {
    if (s.error_histogram()[i] == 0) continue;
    std::printf("  %zu %-20s %8zu\n", i, std::string(error_code_names[i]).c_str(), s.error_histogram()[i]);
  }
  std::printf("\nlog versions\n");
  for (const auto& [version, count] : s.versions())
    std::printf("  %-8s %8zu\n", version.empty() ? "(none)" : version.c_str(), count);
}

inline void add_logs_command(CLI::App& app) {
  auto* logs = app.add_subcommand("logs", "Inspect Ansor / TVM auto_scheduler tuning logs (.json, .json.gz)");
  logs->require_subcommand(1);
  auto options = std::make_shared<LogsStatsOptions>();
  auto* stats =
      logs->add_subcommand("stats", "Records, tasks, targets, error codes, records per task, FLOPs");
  stats->add_option("files", options->files, "Log files (plain or gzip)")
      ->required()
      ->check(CLI::ExistingPath);
  stats->add_flag("--json", options->json,
                  "Print one JSON object (its 'records' field is the number of records)");
  stats->add_flag("--skip-bad", options->skip_bad,
                  "Skip malformed lines (reported on stderr) instead of stopping");
  stats->callback([options] {
    options->files = expand_log_paths(options->files);
    data::LogSummary summary;
    io::ReadStats totals;
    read_into_summary(*options, summary, totals);
    if (options->json) {
      print_stats_json(summary, totals, options->files.size());
    } else {
      print_stats_table(summary, totals, options->files.size());
    }
    if (totals.skipped_lines)
      std::cerr << "crosstune: skipped " << totals.skipped_lines << " malformed lines\n";
  });
}

}  // namespace crosstune::cli
