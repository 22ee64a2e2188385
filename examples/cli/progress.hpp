// Progress of the `crosstune` commands that take more than a second (reading logs, extracting features,
// training): one bar on stderr, redrawn in place at most ten times a second, and shown only when stderr
// is a terminal and --quiet is not given. Results stay on stdout, so `crosstune ... > out.txt` keeps a
// clean file and a log of stderr keeps no carriage-return noise.
//
//   Progress bar("reading logs", files.size());
//   for (...) bar.update(++done);
//   bar.finish();                 // clears the line
//   note("trained 3 epochs");     // a line on stderr unless --quiet
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "common.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/io/log_reader.hpp"

namespace crosstune::cli {

/// Whether progress bars are drawn: stderr is a terminal and --quiet was not given.
[[nodiscard]] inline bool progress_visible() {
  return !quiet && ::isatty(::fileno(stderr)) != 0;
}

/// An informational line on stderr (what a command is doing, per-epoch figures), printf-style and checked
/// as such by the compiler; --quiet drops it.
[[gnu::format(printf, 1, 2)]] inline void note(const char* format, ...) {
  if (quiet) return;
  clear_progress_line();
  std::va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
}

class Progress {
 public:
  Progress(std::string label, std::size_t total)
      : label_(std::move(label)), total_(total), visible_(progress_visible()), start_(clock::now()) {}
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { finish(); }

  /// `done` of the total are finished; redraws when a tenth of a second has passed or at the end.
  void update(std::size_t done) {
    if (!visible_ || total_ == 0) return;
    const auto now = clock::now();
    if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    progress_on_line = true;
    const double spent = std::chrono::duration<double>(now - start_).count();
    const double eta =
        done == 0 ? 0.0 : spent / static_cast<double>(done) * static_cast<double>(total_ - done);
    constexpr int width = 30;
    const int filled = static_cast<int>(width * std::min(done, total_) / total_);
    std::fprintf(stderr, "\r\033[K%s [%.*s%*s] %zu/%zu, %.0f s, ETA %.0f s", label_.c_str(), filled,
                 "##############################", width - filled, "", done, total_, spent, eta);
    std::fflush(stderr);
  }
  /// Clears the bar's line, so what follows starts on a clean line.
  void finish() { clear_progress_line(); }

 private:
  using clock = std::chrono::steady_clock;
  std::string label_;
  std::size_t total_;
  bool visible_;
  clock::time_point start_, last_draw_{};
};

/// Calls `use(record)` for every record of `files`, with a progress bar labelled `label`. A file that
/// cannot be read, or a bad line without `skip_bad`, ends the command (exit 1); with `skip_bad`, skipped
/// lines are reported on stderr. Returns the reading statistics of all files.
template <class Use>
io::ReadStats for_each_record(const std::vector<std::string>& files, bool skip_bad, const char* label, Use&& use) {
  io::ReadOptions read_options;
  read_options.on_bad_line = skip_bad ? io::OnBadLine::skip : io::OnBadLine::stop;
  read_options.allow_empty = skip_bad;
  io::ReadStats totals;
  Progress progress(label, files.size());
  std::size_t done = 0;
  for (const auto& file : files) {
    progress.update(done++);
    auto reader = io::LogReader::open(file, read_options);
    if (!reader) fail(reader.error());
    Record record;
    while (true) {
      auto more = reader->next(record);
      if (!more) fail(more.error());
      if (!*more) break;
      use(record);
    }
    const io::ReadStats& stats = reader->stats();
    if (stats.records == 0) warn(file + ": no records");
    if (stats.skipped_lines > 0) clear_progress_line();
    for (const auto& diagnostic : stats.diagnostics) std::cerr << "crosstune: skipped: " << diagnostic.describe() << '\n';
    if (stats.skipped_lines > stats.diagnostics.size())
      std::cerr << "crosstune: skipped " << stats.skipped_lines - stats.diagnostics.size() << " more bad lines in " << file << '\n';
    totals += stats;
  }
  progress.finish();
  return totals;
}

}  // namespace crosstune::cli
