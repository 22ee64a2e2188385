// What every `crosstune` subcommand shares: the error policy, validated numeric options, the log files
// a command line names, and the checks on output paths that run before any long work.
//
// Error policy (README, "Exit codes"): exit 0 on success; 1 when an input is refused or an operation
// fails, with one line `crosstune: error: ...` on stderr naming the file, line or flag and what to do;
// 2 for a usage error (unknown flag, missing or out-of-range value). Results go to stdout; progress,
// warnings and errors to stderr.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/hw/presets.hpp"
#include "crosstune/hw/target_string.hpp"
#include "crosstune/io/atomic_file.hpp"

namespace crosstune::cli {

/// Set by the global --quiet flag: no progress and no notes, only results, warnings and errors.
inline bool quiet = false;

/// True while a progress bar (progress.hpp) holds the current stderr line.
inline bool progress_on_line = false;
/// Clears a progress bar from the line, so a message starts at its beginning.
inline void clear_progress_line() {
  if (!progress_on_line) return;
  std::cerr << "\r\033[K" << std::flush;
  progress_on_line = false;
}

/// Reports a refused input or a failed operation and ends the command with exit code 1.
[[noreturn]] inline void fail(const Error& e) {
  clear_progress_line();
  std::cerr << "crosstune: error: " << e.describe() << '\n';
  throw CLI::RuntimeError(1);
}

/// Reports a usage error found after parsing (a flag that needs another): exit code 2, like CLI11's own.
[[noreturn]] inline void usage_error(const std::string& message) {
  throw CLI::ValidationError(message);
}

inline void warn(std::string_view message) {
  clear_progress_line();
  std::cerr << "crosstune: warning: " << message << '\n';
}

/// "a, b, c", for messages that list names.
[[nodiscard]] inline std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

/// A whole number in [lo, hi], written in decimal without a sign or anything after it: "-1" is refused
/// instead of wrapping to 2^64 - 1 in an unsigned option.
[[nodiscard]] inline CLI::Validator count_in(std::uint64_t lo, std::uint64_t hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        std::uint64_t value = 0;
        const auto* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, value);
        if (text.empty() || ec == std::errc::invalid_argument || ptr != end)
          return "\"" + text + "\" is not a whole number in " + range;
        if (ec == std::errc::result_out_of_range || value < lo || value > hi)
          return text + " is out of range " + range;
        return {};
      },
      "INT in " + range);
}

/// How a real option's range treats its ends.
enum class Ends { closed, open_low, open_high, open };

/// A finite number in the range (NaN and infinities are refused, which CLI::Range lets through).
[[nodiscard]] inline CLI::Validator real_in(double lo, double hi, Ends ends = Ends::closed) {
  const bool low_open = ends == Ends::open_low || ends == Ends::open;
  const bool high_open = ends == Ends::open_high || ends == Ends::open;
  auto show = [](double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
    return s;
  };
  const std::string range = (low_open ? "(" : "[") + show(lo) + ", " + show(hi) + (high_open ? ")" : "]");
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double value = 0;
        const auto* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, value);
        if (text.empty() || ec != std::errc{} || ptr != end || !std::isfinite(value))
          return "\"" + text + "\" is not a finite number in " + range;
        if ((low_open ? value <= lo : value < lo) || (high_open ? value >= hi : value > hi))
          return text + " is out of range " + range;
        return {};
      },
      "NUMBER in " + range);
}

/// A hardware preset name.
[[nodiscard]] inline CLI::Validator preset_name() {
  return CLI::Validator(
      [](std::string& name) -> std::string {
        if (hw::find_preset(name) != nullptr) return {};
        return "unknown hardware preset \"" + name + "\" (crosstune hw --list-presets lists them)";
      },
      "PRESET");
}

/// A TVM target string crosstune can read.
[[nodiscard]] inline CLI::Validator target_string() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (auto parsed = hw::parse_target(text); !parsed) return parsed.error().describe();
        return {};
      },
      "TARGET");
}

/// `--top K` of `measure --replay` and `codegen --replay --source`: keeps the K fastest successful
/// records of `items` (a task's), fastest first, records of equal time in their order. `record_of` maps an
/// element to its Record (the identity for a vector of records).
template <class T, class RecordOf = std::identity>
void keep_fastest(std::vector<T>& items, std::size_t k, RecordOf record_of = {}) {
  const auto seconds = [&](const T& item) { return std::invoke(record_of, item).result.mean_cost_seconds(); };
  std::erase_if(items, [&](const T& item) { return !std::invoke(record_of, item).result.ok(); });
  std::stable_sort(items.begin(), items.end(), [&](const T& a, const T& b) { return seconds(a) < seconds(b); });
  if (items.size() > k) items.resize(k);
}

/// The log files named on the command line, folders replaced by the .json / .json.gz files under them
/// (recursively, sorted). A folder that cannot be read is an error; a link inside one that leads nowhere
/// (dangling, or a loop) is not a log and is skipped with a warning.
[[nodiscard]] inline std::vector<std::string> expand_log_paths(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& path : paths) {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec) {
      fail(Error(ErrorKind::io, "cannot read: " + ec.message(), path, 0, 0,
                 "check the path (a link that leads nowhere, or a missing file)"));
    }
    if (!fs::is_directory(status)) {
      files.push_back(path);
      continue;
    }
    std::vector<std::string> found;
    fs::recursive_directory_iterator it(path, fs::directory_options::none, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const auto name = it->path().filename().string();
      if (!name.ends_with(".json") && !name.ends_with(".json.gz")) continue;
      std::error_code entry_ec;
      const bool regular = it->is_regular_file(entry_ec);
      if (entry_ec) {
        warn(it->path().string() + ": skipped, " + entry_ec.message());
        continue;
      }
      if (regular) found.push_back(it->path().string());
    }
    if (ec) {
      fail(Error(ErrorKind::io, "cannot read the folder: " + ec.message(), path, 0, 0,
                 "make it readable, or name the log files one by one"));
    }
    if (found.empty()) {
      fail(Error(ErrorKind::empty_input, "no .json or .json.gz log under this folder", path, 0, 0,
                 "name a folder that holds tuning logs, or the log files themselves"));
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

/// One output of a command: the flag that named it, and the path.
struct Output {
  std::string flag;
  std::string path;
};

/// Refuses, before any work, an output that cannot be written, that is one of the inputs, or that
/// another output of the same command also names (compared after following links). Empty paths are
/// outputs not asked for and are ignored.
inline void check_outputs(const std::vector<std::string>& inputs, const std::vector<Output>& outputs) {
  namespace fs = std::filesystem;
  auto same_file = [](const fs::path& a, const fs::path& b) {
    std::error_code ec;
    if (fs::equivalent(a, b, ec)) return true;  // both exist: same inode
    const auto ca = fs::weakly_canonical(a, ec);
    if (ec) return false;
    const auto cb = fs::weakly_canonical(b, ec);
    return !ec && ca == cb;
  };
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const auto& out = outputs[i];
    if (out.path.empty()) continue;
    if (auto ok = io::check_writable(out.path); !ok) {
      Error e = std::move(ok).error();
      e.message = out.flag + ": " + e.message;
      fail(e);
    }
    for (const auto& in : inputs) {
      if (same_file(out.path, in)) {
        fail(Error(ErrorKind::invalid_argument, out.flag + " names an input of this command", out.path, 0, 0,
                   "write the output to another file; crosstune never overwrites its inputs"));
      }
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (!outputs[j].path.empty() && same_file(out.path, outputs[j].path)) {
        fail(Error(ErrorKind::invalid_argument, out.flag + " and " + outputs[j].flag + " name the same file",
                   out.path, 0, 0, "give each output its own file"));
      }
    }
  }
}

}  // namespace crosstune::cli
