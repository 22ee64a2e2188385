// crosstune/io/record_parser.hpp — parse one line of an Ansor / TVM auto_scheduler log into a Record.
//
// The parser pulls exactly the Ansor schema, in order, straight into a Record (no JSON DOM) and
// accepts every shape the format has had: v0.6 lines with six task fields, v0.5 with five, v0.3 with
// three and v0.2 with two. A mismatch yields an Error naming the column and what was expected and found.
//
// Records of one log usually share their task, so the parser interns tasks: a task whose JSON text was
// seen before is not parsed again, and all its records point to one shared Task. Keep one parser per
// input stream (it is not thread-safe) and reuse the output Record to avoid reallocating.
//
//   crosstune::io::RecordParser parser;
//   crosstune::Record record;
//   if (auto ok = parser.parse(line, record); !ok) std::cerr << ok.error().describe();
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/detail/json.hpp"

namespace crosstune::io {

class RecordParser {
 public:
  RecordParser() = default;

  /// Parses one log line (without its newline) into `out`. On error `out` is unspecified and the
  /// Error has kind parse (not JSON), schema (wrong type, count or value) or unsupported (unknown step
  /// kind), the 1-based column, and an empty file/line for the caller to fill in.
  [[nodiscard]] Expected<void> parse(std::string_view line, Record& out) {
    detail::JsonScanner in(line);
    unsupported_ = false;
    if (parse_line(in, out)) return {};
    Error error;
    error.kind = unsupported_ ? ErrorKind::unsupported : in.error_kind();
    error.message = in.error_message();
    error.column = in.error_offset() + 1;
    return unexpected(std::move(error));
  }

  /// Number of distinct tasks seen so far (shared between records).
  [[nodiscard]] std::size_t distinct_tasks() const noexcept { return tasks_by_text_.size(); }

  /// Forgets interned tasks (records already parsed keep theirs).
  void clear_task_cache() noexcept {
    tasks_by_text_.clear();
    last_task_text_.clear();
    last_task_.reset();
  }

 private:
  using Scanner = detail::JsonScanner;

  bool parse_line(Scanner& in, Record& out) {
    if (in.at_end()) return in.fail_at(in.cursor(), "empty line where a record was expected");
    if (!in.expect('{', "the start of a record")) return false;
    bool seen_input = false, seen_result = false, seen_version = false;
    out.version.clear();
    if (!in.consume_if('}')) {
      while (true) {
        const char* key_start = (in.skip_ws(), in.cursor());
        if (!in.read_string(key_, "a record key") || !in.expect(':', "a record key")) return false;
        bool* seen = key_ == "i"   ? &seen_input
                     : key_ == "r" ? &seen_result
                     : key_ == "v" ? &seen_version
                                   : nullptr;
        if (seen == nullptr) {
          return schema(
              in, key_start,
              "unknown record key \"" + key_ + "\" (an Ansor record has only \"i\", \"r\" and \"v\")");
        }
        if (*seen) return schema(in, key_start, "duplicate record key \"" + key_ + "\"");
        *seen = true;
        const bool ok = key_ == "i"   ? parse_input(in, out)
                        : key_ == "r" ? parse_result(in, out.result)
                                      : in.read_string(out.version, "the version \"v\"");
        if (!ok) return false;
        if (in.consume_if(',')) continue;
        if (!in.expect('}', "the end of the record")) return false;
        break;
      }
    }
    if (!seen_input) return schema(in, in.cursor(), "record has no input \"i\"");
    if (!seen_result) return schema(in, in.cursor(), "record has no result \"r\"");
    if (!in.at_end()) {
      return in.fail_at(in.cursor(), "unexpected text after the end of the record: " + in.describe_next());
    }
    return true;
  }

  // "i": [task, [[], [steps...]]]
  bool parse_input(Scanner& in, Record& out) {
    return in.expect('[', "the input \"i\"") && parse_task(in, out.task) &&
           in.expect(',', "the input \"i\" after the task") &&
           in.expect('[', "the state (second item of \"i\")") && in.expect('[', "the state's stage list") &&
           in.expect(']', "the state's stage list (Ansor writes it empty: [])") &&
           in.expect(',', "the state after the stage list") && parse_steps(in, out.steps) &&
           in.expect(']', "the end of the state") && in.expect(']', "the end of the input \"i\"");
  }

  bool parse_task(Scanner& in, std::shared_ptr<const Task>& task) {
    in.skip_ws();
    // Fast path: the same task text as the previous record's (the common case in a log). A JSON
    // array is self-delimiting, so equal bytes here mean an equal task.
    if (last_task_ && in.rest().starts_with(last_task_text_)) {
      in.advance(last_task_text_.size());
      task = last_task_;
      return true;
    }
    const char* start = in.cursor();
    auto parsed = std::make_shared<Task>();
    if (!parse_task_fields(in, *parsed)) return false;
    std::string text(start, in.cursor());
    auto [it, inserted] = tasks_by_text_.try_emplace(text, nullptr);
    if (inserted) it->second = std::move(parsed);
    last_task_text_ = std::move(text);
    last_task_ = it->second;
    task = it->second;
    return true;
  }

  bool parse_task_fields(Scanner& in, Task& task) {
    if (!in.expect('[', "the task (first item of \"i\")")) return false;
    std::string target;
    if (!in.read_string(task.workload_key, "the workload key") ||
        !in.expect(',', "the task after the workload key") || !in.read_string(target, "the target")) {
      return false;
    }
    task.target = Target(std::move(target));
    task.fields_in_log = 2;
    if (in.consume_if(']')) return true;

    std::array<std::int64_t, RecordedHardwareParams::field_count> values{};
    if (!in.expect(',', "the task after the target") || !in.expect('[', "the hardware parameters"))
      return false;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0 && !in.expect(',', "the hardware parameters (8 integers)")) return false;
      if (!in.read_int64(values[i], "a hardware parameter")) return false;
    }
    if (!in.expect(']', "the end of the hardware parameters (8 integers)")) return false;
    task.hardware_params = RecordedHardwareParams::from_array(values);
    task.fields_in_log = 3;
    if (in.consume_if(']')) return true;

    if (!in.expect(',', "the task after the hardware parameters") ||
        !in.read_string(task.target_host, "the target host")) {
      return false;
    }
    task.fields_in_log = 4;
    if (in.consume_if(']')) return true;

    if (!in.expect(',', "the task after the target host")) return false;
    const char* option_start = (in.skip_ws(), in.cursor());
    std::int64_t layout = 0;
    if (!in.read_int64(layout, "the layout rewrite option")) return false;
    if (layout < 0 || layout > 2) {
      return schema(in, option_start,
                    "layout rewrite option must be 0, 1 or 2, found " + std::to_string(layout));
    }
    task.layout_rewrite = static_cast<LayoutRewriteOption>(layout);
    task.fields_in_log = 5;
    if (in.consume_if(']')) return true;

    if (!in.expect(',', "the task after the layout rewrite option") ||
        !in.expect('[', "the task input names")) {
      return false;
    }
    task.task_input_names.clear();
    if (!in.consume_if(']')) {
      for (bool more = true; more;) {
        if (!in.read_string(task.task_input_names.emplace_back(), "a task input name") ||
            !in.next_item(more, "the task input names")) {
          return false;
        }
      }
    }
    task.fields_in_log = 6;
    return in.expect(']', "the end of the task (at most 6 fields)");
  }

  bool parse_steps(Scanner& in, StepSequence& steps) {
    steps.clear();
    if (!in.expect('[', "the transform steps")) return false;
    if (in.consume_if(']')) return true;
    std::size_t index = 0;
    for (bool more = true; more; ++index) {
      if (!parse_step(in, steps)) {
        // Context is added only on failure, so the hot path builds no strings.
        in.add_error_context(" (in step " + std::to_string(index) +
                             (step_kind_ ? std::string(", ") + std::string(record_prefix(*step_kind_)) : "") +
                             ")");
        return false;
      }
      if (!in.next_item(more, "the transform steps")) return false;
    }
    return true;
  }

  bool parse_step(Scanner& in, StepSequence& steps) {
    step_kind_.reset();
    if (!in.expect('[', "a transform step")) return false;
    const char* kind_start = (in.skip_ws(), in.cursor());
    // Fast path: a plain prefix of 2-4 capital letters such as "SP", matched without copying.
    const std::string_view rest = in.rest();
    std::size_t letters = 0;
    if (!rest.empty() && rest[0] == '"')
      while (letters < 4 && 1 + letters < rest.size() && rest[1 + letters] >= 'A' && rest[1 + letters] <= 'Z')
        ++letters;
    if (letters >= 2 && 1 + letters < rest.size() && rest[1 + letters] == '"') {
      const std::string_view prefix = rest.substr(1, letters);
      step_kind_ = step_kind_from_prefix(prefix);
      if (!step_kind_) key_.assign(prefix);
      in.advance(letters + 2);
    } else {
      if (!in.read_string(key_, "the kind of a transform step")) return false;
      step_kind_ = step_kind_from_prefix(key_);
    }
    if (!step_kind_) {
      unsupported_ = true;
      return in.fail_at(kind_start, "unknown step kind \"" + key_ +
                                        "\" (known: AN FU PR RE SP FSP FFSP SA CA CI CR CHR CHW RF)");
    }
    std::int64_t stage_id = 0, a = 0, b = 0, c = 0;
    bool flag = false;
    auto integer = [&](std::int64_t& v, std::string_view name) {
      return in.expect(',', "the next step field") && in.read_int64(v, name);
    };
    auto boolean = [&](bool& v, std::string_view name) {
      return in.expect(',', "the next step field") && in.read_bool_int(v, name);
    };
    auto text = [&](std::string_view name) {
      return in.expect(',', "the next step field") && in.read_string(text_, name);
    };
    auto list = [&](std::string_view name) {
      list_.clear();
      if (!in.expect(',', "the next step field") || !in.expect('[', name)) return false;
      if (in.consume_if(']')) return true;
      for (bool more = true; more;) {
        if (!in.read_int64(list_.emplace_back(), name) || !in.next_item(more, name)) return false;
      }
      return true;
    };
    if (!integer(stage_id, "stage_id")) return false;

    switch (*step_kind_) {
      case StepKind::annotation: {
        if (!integer(a, "iter_id") || !in.expect(',', "the next step field")) return false;
        const char* at = (in.skip_ws(), in.cursor());
        if (!in.read_int64(b, "annotation")) return false;
        const auto annotation = iterator_annotation_from_number(b);
        if (!annotation) {
          return schema(in, at,
                        "annotation " + std::to_string(b) + " is not an Ansor IteratorAnnotation (0..11)");
        }
        steps.add_annotation(stage_id, a, *annotation);
        break;
      }
      case StepKind::fuse:
        if (!list("fused_ids")) return false;
        steps.add_fuse(stage_id, list_);
        break;
      case StepKind::pragma:
        if (!integer(a, "iter_id") || !text("pragma_type")) return false;
        steps.add_pragma(stage_id, a, text_);
        break;
      case StepKind::reorder:
        if (!list("after_ids")) return false;
        steps.add_reorder(stage_id, list_);
        break;
      case StepKind::split:
        if (!integer(a, "iter_id") || !integer(b, "extent") || !list("lengths") ||
            !boolean(flag, "inner_to_outer")) {
          return false;
        }
        steps.add_split(stage_id, a, b, list_, flag);
        break;
      case StepKind::follow_split:
        if (!integer(a, "iter_id") || !integer(b, "src_step_id") || !integer(c, "n_split")) return false;
        steps.add_follow_split(stage_id, a, b, c);
        break;
      case StepKind::follow_fused_split:
        if (!integer(a, "iter_id") || !list("src_step_ids") || !integer(b, "level") ||
            !boolean(flag, "factor_or_nparts")) {
          return false;
        }
        steps.add_follow_fused_split(stage_id, a, list_, b, flag);
        break;
      case StepKind::storage_align:
        if (!integer(a, "iter_id") || !integer(b, "factor") || !integer(c, "offset")) return false;
        steps.add_storage_align(stage_id, a, b, c);
        break;
      case StepKind::compute_at:
        if (!integer(a, "target_stage_id") || !integer(b, "target_iter_id")) return false;
        steps.add_compute_at(stage_id, a, b);
        break;
      case StepKind::compute_inline: steps.add_compute_inline(stage_id); break;
      case StepKind::compute_root: steps.add_compute_root(stage_id); break;
      case StepKind::cache_read:
        if (!text("scope_name") || !list("reader_stage_ids")) return false;
        steps.add_cache_read(stage_id, text_, list_);
        break;
      case StepKind::cache_write:
        if (!text("scope_name")) return false;
        steps.add_cache_write(stage_id, text_);
        break;
      case StepKind::rfactor:
        if (!integer(a, "iter_id") || !integer(b, "factor_iter_id")) return false;
        steps.add_rfactor(stage_id, a, b);
        break;
    }
    return in.expect(']', "the end of the step (it has more fields than its kind takes)");
  }

  // "r": [[costs...], error_no, all_cost, timestamp]
  bool parse_result(Scanner& in, MeasureResult& result) {
    if (!in.expect('[', "the result \"r\"") || !in.expect('[', "the costs (first item of \"r\")"))
      return false;
    result.costs_seconds.clear();
    if (!in.consume_if(']')) {
      for (bool more = true; more;) {
        const char* cost_start = (in.skip_ws(), in.cursor());
        if (!in.read_double(result.costs_seconds.emplace_back(), "a cost")) return false;
        // A cost is a duration: NaN, infinities, zero or below would poison every label of the task
        // far from here, so they are refused where the file and line are still known.
        if (const double cost = result.costs_seconds.back(); !(cost > 0.0) || !std::isfinite(cost)) {
          return schema(in, cost_start,
                        "cost " +
                            std::string(cost_start, static_cast<std::size_t>(in.cursor() - cost_start)) +
                            " is not a positive, finite number of seconds");
        }
        if (!in.next_item(more, "the costs")) return false;
      }
    }
    if (!in.expect(',', "the result after the costs")) return false;
    const char* error_start = (in.skip_ws(), in.cursor());
    std::int64_t error_no = 0;
    if (!in.read_int64(error_no, "the error code")) return false;
    const auto code = error_code_from_number(error_no);
    if (!code) {
      return schema(in, error_start,
                    "error code " + std::to_string(error_no) + " is not an Ansor MeasureErrorNo (0..8)");
    }
    result.error = *code;
    return in.expect(',', "the result after the error code") &&
           in.read_double(result.all_cost_seconds, "the total measurement time") &&
           in.expect(',', "the result after the total measurement time") &&
           in.read_double(result.timestamp, "the timestamp") &&
           in.expect(']', "the end of the result \"r\" (4 items)");
  }

  static bool schema(Scanner& in, const char* where, std::string message) {
    return in.fail_at(where, std::move(message), ErrorKind::schema);
  }

  std::unordered_map<std::string, std::shared_ptr<const Task>> tasks_by_text_;
  std::string last_task_text_;
  std::shared_ptr<const Task> last_task_;
  std::optional<StepKind> step_kind_;  // kind of the step being parsed, for error context
  bool unsupported_ = false;
  std::string key_;                 // scratch: record keys and step kinds
  std::string text_;                // scratch: pragma and scope strings
  std::vector<std::int64_t> list_;  // scratch: integer lists of steps
};

}  // namespace crosstune::io
