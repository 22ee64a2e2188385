// crosstune/io/record_format.hpp — write a Record as one Ansor / TVM auto_scheduler log line.
//
// The output uses the layout TVM's own writer produces ({"i": [...], "r": [...], "v": "v0.6"} with ", "
// and ": " separators), so TVM versions with auto_scheduler load it and tools that grep logs keep
// working. Doubles are written in their shortest round-trip form in %g style, so reading the line back
// gives the same Record bit for bit, and values TVM printed (six significant digits) come out as the
// same bytes. A task keeps the number of fields its log version had (see Task::fields_in_log).
//
//   std::string line;
//   if (auto ok = crosstune::io::append_record_line(line, record); !ok) report(ok.error());
#pragma once

#include <cmath>
#include <string>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/detail/json.hpp"

namespace crosstune::io {

namespace detail_format {
inline Expected<void> check_utf8(std::string_view text, std::string_view field) {
  std::size_t bad = 0;
  if (crosstune::detail::is_valid_utf8(text, &bad)) return {};
  return unexpected(
      Error{ErrorKind::invalid_argument,
            "the " + std::string(field) + " is not valid UTF-8 (byte " + std::to_string(bad) + ")",
            {},
            0,
            0,
            "JSON logs can only hold UTF-8 text"});
}
inline Expected<void> check_finite(double value, std::string_view field) {
  if (std::isfinite(value)) return {};
  return unexpected(Error{ErrorKind::invalid_argument,
                          "the " + std::string(field) + " is not a finite number",
                          {},
                          0,
                          0,
                          "JSON cannot hold inf or nan; Ansor logs write 1e+10 as the cost of a failed run"});
}
inline void append_int_list(std::string& out, std::span<const std::int64_t> values) {
  out.push_back('[');
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    crosstune::detail::append_int(out, values[i]);
  }
  out.push_back(']');
}
}  // namespace detail_format

/// Appends the step as written in logs, e.g. ["SP", 2, 0, 1024, [2, 1, 4], 1].
inline void append_step(std::string& out, const StepView& step) {
  using crosstune::detail::append_int;
  using crosstune::detail::append_json_string;
  const auto& d = step.data();
  out += "[\"";
  out += record_prefix(d.kind);
  out += "\", ";
  append_int(out, d.stage_id);
  const auto sep_int = [&](std::int64_t v) {
    out += ", ";
    append_int(out, v);
  };
  const auto sep_list = [&] {
    out += ", ";
    detail_format::append_int_list(out, step.list());
  };
  const auto sep_text = [&] {
    out += ", ";
    append_json_string(out, step.text());
  };
  switch (d.kind) {
    case StepKind::annotation:
      sep_int(d.iter_id);
      sep_int(static_cast<std::int64_t>(d.annotation));
      break;
    case StepKind::fuse:
    case StepKind::reorder: sep_list(); break;
    case StepKind::pragma:
      sep_int(d.iter_id);
      sep_text();
      break;
    case StepKind::split:
      sep_int(d.iter_id);
      sep_int(d.first);
      sep_list();
      sep_int(d.flag ? 1 : 0);
      break;
    case StepKind::follow_split:
    case StepKind::storage_align:
      sep_int(d.iter_id);
      sep_int(d.first);
      sep_int(d.second);
      break;
    case StepKind::follow_fused_split:
      sep_int(d.iter_id);
      sep_list();
      sep_int(d.first);
      sep_int(d.flag ? 1 : 0);
      break;
    case StepKind::compute_at:
    case StepKind::rfactor:
      sep_int(d.iter_id);
      sep_int(d.first);
      break;
    case StepKind::compute_inline:
    case StepKind::compute_root: break;
    case StepKind::cache_read:
      sep_text();
      sep_list();
      break;
    case StepKind::cache_write: sep_text(); break;
  }
  out.push_back(']');
}

/// Appends the task array, e.g. ["[\"relu_layer\", 128]", "cuda ...", [-1, 16, ...], "", 0, []].
inline void append_task(std::string& out, const Task& task) {
  using crosstune::detail::append_int;
  using crosstune::detail::append_json_string;
  out.push_back('[');
  append_json_string(out, task.workload_key);
  out += ", ";
  append_json_string(out, task.target.str());
  if (task.fields_in_log >= 3) {
    out += ", ";
    const auto hw = task.hardware_params.to_array();
    detail_format::append_int_list(out, hw);
  }
  if (task.fields_in_log >= 4) {
    out += ", ";
    append_json_string(out, task.target_host);
  }
  if (task.fields_in_log >= 5) {
    out += ", ";
    append_int(out, static_cast<std::int64_t>(task.layout_rewrite));
  }
  if (task.fields_in_log >= 6) {
    out += ", [";
    for (std::size_t i = 0; i < task.task_input_names.size(); ++i) {
      if (i) out += ", ";
      append_json_string(out, task.task_input_names[i]);
    }
    out.push_back(']');
  }
  out.push_back(']');
}

/// Checks that `record` can be written as a valid log line (task present, UTF-8 text, finite numbers).
[[nodiscard]] inline Expected<void> validate_for_writing(const Record& record) {
  if (!record.task) {
    return unexpected(Error{
        ErrorKind::invalid_argument, "record has no task", {}, 0, 0, "set Record::task before writing"});
  }
  const Task& task = *record.task;
  if (task.fields_in_log < Task::min_fields || task.fields_in_log > Task::max_fields) {
    return unexpected(Error{ErrorKind::invalid_argument,
                            "task fields_in_log is " + std::to_string(task.fields_in_log) + ", must be 2..6",
                            {},
                            0,
                            0,
                            "use Task::max_fields for new records"});
  }
  for (const auto& [text, field] :
       {std::pair<std::string_view, std::string_view>{task.workload_key, "workload key"},
        {task.target.str(), "target"},
        {task.target_host, "target host"},
        {record.version, "version"}}) {
    if (auto ok = detail_format::check_utf8(text, field); !ok) return ok;
  }
  for (const auto& name : task.task_input_names)
    if (auto ok = detail_format::check_utf8(name, "task input name"); !ok) return ok;
  for (const StepView step : record.steps)
    if (auto ok = detail_format::check_utf8(step.text(), "step text"); !ok) return ok;
  for (double cost : record.result.costs_seconds)
    if (auto ok = detail_format::check_finite(cost, "cost"); !ok) return ok;
  if (auto ok = detail_format::check_finite(record.result.all_cost_seconds, "total measurement time"); !ok)
    return ok;
  return detail_format::check_finite(record.result.timestamp, "timestamp");
}

/// Appends `record` as one log line (without the newline). On error nothing is appended.
[[nodiscard]] inline Expected<void> append_record_line(std::string& out, const Record& record) {
  if (auto ok = validate_for_writing(record); !ok) return ok;
  using crosstune::detail::append_double;
  using crosstune::detail::append_int;
  out += "{\"i\": [";
  append_task(out, *record.task);
  out += ", [[], [";
  for (std::size_t i = 0; i < record.steps.size(); ++i) {
    if (i) out += ", ";
    append_step(out, record.steps[i]);
  }
  out += "]]], \"r\": [[";
  const auto& costs = record.result.costs_seconds;
  for (std::size_t i = 0; i < costs.size(); ++i) {
    if (i) out += ", ";
    append_double(out, costs[i]);
  }
  out += "], ";
  append_int(out, static_cast<std::int64_t>(record.result.error));
  out += ", ";
  append_double(out, record.result.all_cost_seconds);
  out += ", ";
  // TVM writes the timestamp as an integer number of seconds; keep that form whenever it is one.
  const double ts = record.result.timestamp;
  if (ts == std::trunc(ts) && std::fabs(ts) < 9.0e15) {
    append_int(out, static_cast<std::int64_t>(ts));
  } else {
    append_double(out, ts);
  }
  out.push_back(']');
  if (!record.version.empty()) {
    out += ", \"v\": ";
    crosstune::detail::append_json_string(out, record.version);
  }
  out.push_back('}');
  return {};
}

/// The record as one log line (without the newline); throws ErrorException if it cannot be written.
[[nodiscard]] inline std::string to_log_line(const Record& record) {
  std::string line;
  append_record_line(line, record).value();
  return line;
}

}  // namespace crosstune::io
