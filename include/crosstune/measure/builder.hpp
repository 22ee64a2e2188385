// crosstune/measure/builder.hpp — builds many kernels into shared libraries at once: several kernels
// per translation unit, several compilers in parallel, each under a time limit.
//
// Starting the compiler and parsing the headers cost about as much as compiling one kernel, so kernels
// that can share a translation unit (same preamble, distinct entry names: see KernelSource) are built
// `kernels_per_unit` at a time. A unit that fails or runs past the time limit is built again kernel by
// kernel, so each kernel gets its own verdict: compile_host with the compiler's messages, or
// build_timeout. Up to `jobs` compilers run at once (a process pool: each compiler is a process of its
// own, so nothing here needs threads).
//
//   auto builder = measure::Builder::make({.work_dir = dir}).value();
//   std::vector<measure::BuildResult> built = builder.build(kernels);
//   for (auto& b : built) if (b.ok()) run(b.library, b.entry); else report(b.error, b.message);
#pragma once

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "crosstune/core/error_code.hpp"
#include "crosstune/core/expected.hpp"
#include "crosstune/measure/compiler.hpp"
#include "crosstune/measure/kernel.hpp"

namespace crosstune::measure {

struct BuildOptions {
  std::filesystem::path work_dir{};   ///< sources, logs and libraries go here (created when missing)
  CompileOptions compile{};
  std::size_t jobs = 0;               ///< compilers at once; 0: one per hardware thread
  std::size_t kernels_per_unit = 4;   ///< kernels per translation unit (1: each on its own)
  double timeout_s = 60;              ///< per kernel (a unit of K gets K times as long); ≤ 0: no limit
  bool keep_files = false;            ///< keep the sources and logs of units that failed and were split

  [[nodiscard]] Expected<void> validate() const {
    if (work_dir.empty())
      return unexpected(Error(ErrorKind::invalid_argument, "measure::BuildOptions: work_dir is empty", {}, 0, 0,
                              "give the builder a folder for its sources and libraries"));
    if (kernels_per_unit < 1)
      return unexpected(Error(ErrorKind::invalid_argument, "measure::BuildOptions: kernels_per_unit must be at least 1"));
    return {};
  }
};

/// The verdict on one kernel.
struct BuildResult {
  ErrorCode error = ErrorCode::no_error;  ///< no_error, compile_host or build_timeout
  std::string message{};                  ///< the compiler's messages, or why the build stopped
  std::filesystem::path library{};        ///< the shared library holding the entry (the one that was not
                                          ///< built, on failure: its .cpp and .log are next to it)
  std::string entry{};
  double seconds = 0;  ///< this kernel's share of its compiler run (the whole run when built alone)

  [[nodiscard]] bool ok() const noexcept { return error == ErrorCode::no_error; }
};

class Builder {
 public:
  [[nodiscard]] static Expected<Builder> make(BuildOptions options) {
    if (auto ok = options.validate(); !ok) return unexpected(std::move(ok).error());
    std::error_code ec;
    std::filesystem::create_directories(options.work_dir, ec);
    if (ec || !std::filesystem::is_directory(options.work_dir))
      return unexpected(Error(ErrorKind::io, "cannot create the build folder: " + (ec ? ec.message() : "not a folder"),
                              options.work_dir.string(), 0, 0, "give a writable work_dir"));
    if (options.jobs == 0) options.jobs = std::max(1u, std::thread::hardware_concurrency());
    return Builder(std::move(options));
  }

  [[nodiscard]] const BuildOptions& options() const noexcept { return options_; }

  /// Builds every kernel; one verdict each, in order. Never fails as a whole: a compiler that cannot be
  /// started or a folder that cannot be written is every affected kernel's compile_host message. When
  /// `*stop` becomes true, the compilers running are killed and the kernels not built get
  /// unknown_error, "stopped before it was built".
  std::vector<BuildResult> build(std::span<const KernelSource> kernels, const std::atomic<bool>* stop = nullptr) {
    std::vector<BuildResult> results(kernels.size());
    std::deque<Unit> queue;
    // Group neighbours that can share a unit: the same preamble, distinct entries.
    for (std::size_t i = 0; i < kernels.size();) {
      Unit unit;
      unit.kernels.push_back(i);
      std::size_t j = i + 1;
      for (; j < kernels.size() && unit.kernels.size() < options_.kernels_per_unit; ++j) {
        if (kernels[j].preamble != kernels[i].preamble) break;
        const bool clash = std::any_of(unit.kernels.begin(), unit.kernels.end(),
                                       [&](std::size_t k) { return kernels[k].entry == kernels[j].entry; });
        if (clash) break;
        unit.kernels.push_back(j);
      }
      queue.push_back(std::move(unit));
      i = j;
    }
    std::vector<Running> running;
    while (!queue.empty() || !running.empty()) {
      if (stop != nullptr && stop->load(std::memory_order_relaxed)) {
        running.clear();  // each CompileJob kills its compiler
        for (std::size_t k = 0; k < kernels.size(); ++k) {
          if (results[k].ok() && !results[k].library.empty()) continue;  // built before the stop
          if (results[k].error != ErrorCode::no_error) continue;         // judged before the stop
          results[k].error = ErrorCode::unknown_error;
          results[k].message = "stopped before it was built";
        }
        return results;
      }
      while (!queue.empty() && running.size() < options_.jobs) {
        Unit unit = std::move(queue.front());
        queue.pop_front();
        start(unit, kernels, results, running);
      }
      bool progressed = false;
      for (std::size_t r = 0; r < running.size();) {
        const auto status = running[r].job.poll();
        if (status == CompileJob::Status::running) {
          ++r;
          continue;
        }
        progressed = true;
        finish(running[r], status, kernels, results, queue);
        running.erase(running.begin() + static_cast<std::ptrdiff_t>(r));
      }
      if (!progressed && !running.empty()) {
        const timespec pause{0, 1'000'000};  // 1 ms; a build takes hundreds
        ::nanosleep(&pause, nullptr);
      }
    }
    return results;
  }

 private:
  struct Unit {
    std::vector<std::size_t> kernels;
  };
  struct Running {
    Unit unit;
    CompileJob job;
    std::filesystem::path library;
  };

  explicit Builder(BuildOptions options) : options_(std::move(options)) {}

  void start(Unit& unit, std::span<const KernelSource> kernels, std::vector<BuildResult>& results, std::vector<Running>& running) {
    std::string source = kernels[unit.kernels.front()].preamble;
    for (std::size_t k : unit.kernels) {
      source += '\n';
      source += kernels[k].body;
    }
    // A fresh name per unit (and per process: several builders may share a folder): dlopen hands back
    // the library it loaded first for a path it has seen.
    std::string name = "ct";
    name += std::to_string(::getpid());
    name += '_';
    name += std::to_string(unique_file_number());
    name += ".so";
    const std::filesystem::path library = options_.work_dir / name;
    // The limit grows with the unit: K slow but healthy kernels must not time out together.
    const double limit = options_.timeout_s > 0 ? options_.timeout_s * static_cast<double>(unit.kernels.size()) : 0;
    auto job = CompileJob::start(source, library, options_.compile, limit);
    if (!job) {
      for (std::size_t k : unit.kernels) {
        results[k].error = ErrorCode::compile_host;
        results[k].message = job.error().describe();
      }
      return;
    }
    running.push_back(Running{std::move(unit), std::move(*job), library});
  }

  void finish(Running& done, CompileJob::Status status, std::span<const KernelSource> kernels, std::vector<BuildResult>& results,
              std::deque<Unit>& queue) {
    const auto& unit = done.unit.kernels;
    if (status == CompileJob::Status::succeeded) {
      const double share = done.job.seconds() / static_cast<double>(unit.size());
      for (std::size_t k : unit) {
        results[k].error = ErrorCode::no_error;
        results[k].library = done.library;
        results[k].entry = kernels[k].entry;
        results[k].seconds = share;
      }
      return;
    }
    if (unit.size() > 1) {  // find the culprit: each kernel again on its own
      for (std::size_t k : unit) queue.push_front(Unit{{k}});
      if (!options_.keep_files) {
        std::error_code ignored;
        for (const char* ext : {".cpp", ".log"}) std::filesystem::remove(std::filesystem::path(done.library).replace_extension(ext), ignored);
      }
      return;
    }
    auto& r = results[unit.front()];
    r.library = done.library;
    r.seconds = done.job.seconds();
    if (status == CompileJob::Status::timed_out) {
      r.error = ErrorCode::build_timeout;
      r.message = "the compiler ran past the " + seconds_text(options_.timeout_s) + " s build time limit and was stopped (" +
                  done.job.source_file().string() + ")";
    } else {
      r.error = ErrorCode::compile_host;
      r.message = done.job.messages();
    }
  }

  BuildOptions options_;
};

}  // namespace crosstune::measure
