// crosstune/io/log_reader.hpp — stream Records out of Ansor / TVM auto_scheduler logs (.json, .json.gz).
//
// The reader is the entry point for tuning logs and the TenSet dataset. It streams (memory stays flat
// for any file size), reads gzip and plain files alike, skips blank and '#' comment lines, and on a
// malformed line either stops with an Error naming file, line, column and the problem, or — with
// OnBadLine::skip — counts the line, keeps its diagnostic and goes on. Nothing is dropped silently: the
// stats say how many lines were read, parsed, skipped and why.
//
//   auto reader = crosstune::io::LogReader::open("k80/ansor_relu.json.gz");
//   if (!reader) return fail(reader.error());
//   crosstune::Record record;
//   while (true) {
//     auto more = reader->next(record);
//     if (!more) return fail(more.error());  // file:line: what was wrong
//     if (!*more) break;
//     use(record);
//   }
//
// Or all at once: `auto records = crosstune::io::read_log_file(path);`
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/detail/line_source.hpp"
#include "crosstune/io/record_parser.hpp"

namespace crosstune::io {

/// What to do with a line that is not a valid record.
enum class OnBadLine {
  stop,  ///< next() returns the Error; the caller decides
  skip,  ///< count it, keep its Error in ReadStats::diagnostics (up to a limit), read on
};

struct ReadOptions {
  OnBadLine on_bad_line = OnBadLine::stop;
  std::size_t max_line_bytes = std::size_t{64} << 20;  ///< a longer line stops reading (not a log file)
  std::size_t max_diagnostics = 32;  ///< skipped-line Errors kept in ReadStats (all are counted)
  bool allow_empty = false;          ///< a file with no record is an error unless this is set
};

struct ReadStats {
  std::size_t lines = 0;           ///< lines seen, including blank, comment and bad ones
  std::size_t records = 0;         ///< records returned
  std::size_t skipped_lines = 0;   ///< bad lines skipped under OnBadLine::skip
  std::size_t ignored_lines = 0;   ///< blank lines and '#' comment lines
  std::size_t bytes = 0;           ///< uncompressed bytes consumed
  std::vector<Error> diagnostics;  ///< the first max_diagnostics skipped-line errors

  ReadStats& operator+=(const ReadStats& other) {
    lines += other.lines;
    records += other.records;
    skipped_lines += other.skipped_lines;
    ignored_lines += other.ignored_lines;
    bytes += other.bytes;
    diagnostics.insert(diagnostics.end(), other.diagnostics.begin(), other.diagnostics.end());
    return *this;
  }
};

class LogReader {
 public:
  /// Opens a plain or gzip log file. Errors: the file cannot be opened (ErrorKind::io).
  [[nodiscard]] static Expected<LogReader> open(const std::filesystem::path& path, ReadOptions options = {}) {
    auto source = detail::LineSource::open_file(path, options.max_line_bytes);
    if (!source) return unexpected(std::move(source).error());
    return LogReader(std::move(*source), options);
  }

  /// Reads log lines held in memory; `name` stands for the file name in errors.
  [[nodiscard]] static LogReader from_string(std::string text, std::string name = "<memory>",
                                             ReadOptions options = {}) {
    return LogReader(
        detail::LineSource::from_memory(std::move(text), std::move(name), options.max_line_bytes), options);
  }

  /// Reads the next record into `out`: true when one was read, false at the end of the input.
  /// Errors: a bad line under OnBadLine::stop; always an I/O or decompression failure, and an input
  /// without records unless ReadOptions::allow_empty.
  [[nodiscard]] Expected<bool> next(Record& out) {
    while (true) {
      std::string_view line;
      auto more = source_.next(line);
      if (!more) return unexpected(std::move(more).error());  // I/O, gzip or an over-long line: fatal
      stats_.bytes = source_.bytes_read();
      if (!*more) {
        if (stats_.records == 0 && stats_.skipped_lines == 0 && !options_.allow_empty) {
          return unexpected(
              Error{ErrorKind::empty_input,
                    stats_.lines == 0 ? "file is empty" : "file has no records (only blank or '#' lines)",
                    source_.name(), 0, 0, "is this the right file?"});
        }
        return false;
      }
      ++stats_.lines;
      if (is_ignorable(line)) {
        ++stats_.ignored_lines;
        continue;
      }
      if (auto parsed = parser_.parse(line, out); !parsed) {
        Error error = std::move(parsed).error();
        error.file = source_.name();
        error.line = source_.line_number();
        if (stats_.lines == 1 && looks_binary(line)) {
          error.message = "not a JSON-lines log: the first line holds binary data";
          error.hint =
              "crosstune reads plain and gzip-compressed Ansor logs; other formats must be converted";
        }
        if (auto handled = handle_bad_line(std::move(error)); !handled)
          return unexpected(std::move(handled).error());
        continue;
      }
      ++stats_.records;
      return true;
    }
  }

  [[nodiscard]] const ReadStats& stats() const noexcept { return stats_; }
  [[nodiscard]] const std::string& name() const noexcept { return source_.name(); }
  /// Distinct tasks met so far.
  [[nodiscard]] std::size_t distinct_tasks() const noexcept { return parser_.distinct_tasks(); }

 private:
  LogReader(detail::LineSource source, ReadOptions options) : source_(std::move(source)), options_(options) {}

  static bool is_ignorable(std::string_view line) noexcept {
    for (char c : line) {
      if (c == '#') return true;
      if (c != ' ' && c != '\t' && c != '\r') return false;
    }
    return true;
  }
  static bool looks_binary(std::string_view line) noexcept {
    const auto probe = line.substr(0, 64);
    return probe.find('\0') != std::string_view::npos ||
           !crosstune::detail::is_valid_utf8(probe.substr(0, 16));
  }

  Expected<void> handle_bad_line(Error error) {
    if (options_.on_bad_line == OnBadLine::stop) {
      if (error.hint.empty())
        error.hint = "fix or remove the line, or read with OnBadLine::skip (--skip-bad)";
      return unexpected(std::move(error));
    }
    ++stats_.skipped_lines;
    if (stats_.diagnostics.size() < options_.max_diagnostics) stats_.diagnostics.push_back(std::move(error));
    return {};
  }

  detail::LineSource source_;
  RecordParser parser_;
  ReadOptions options_;
  ReadStats stats_;
};

/// All records of one log file. With OnBadLine::skip, `stats` (if given) tells what was skipped.
[[nodiscard]] inline Expected<std::vector<Record>> read_log_file(const std::filesystem::path& path,
                                                                 ReadOptions options = {},
                                                                 ReadStats* stats = nullptr) {
  auto reader = LogReader::open(path, options);
  if (!reader) return unexpected(std::move(reader).error());
  std::vector<Record> records;
  Record record;
  while (true) {
    auto more = reader->next(record);
    if (!more) return unexpected(std::move(more).error());
    if (!*more) break;
    records.push_back(record);  // a copy is sized exactly; `record` keeps its capacity for the next line
  }
  if (stats) *stats = reader->stats();
  return records;
}

}  // namespace crosstune::io
