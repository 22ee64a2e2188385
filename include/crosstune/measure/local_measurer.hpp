// crosstune/measure/local_measurer.hpp — the CPU kernel measurer: builds a batch of candidate kernels in
// parallel, runs each in the forked worker with a check against the reference and honest timing, and
// appends one Ansor record per candidate, failed or not, to a log.
//
// It satisfies the `Measurer` concept (crosstune/concepts.hpp). A campaign is never aborted by a bad
// candidate: each one gets its error code and message, and the failures are grouped in failures(). It
// stops early, with the reason in BatchResult::stop_reason, only when
//   * `max_consecutive_failures` candidates in a row failed (Ansor stops at 150, the default);
//   * the first `timeouts_before_diagnosis` candidates all ran past the time limit, with a diagnosis
//     (a -march the CPU lacks, an overloaded machine, a limit too small for the operator);
//   * the stop flag was raised (the CLI raises it on SIGINT);
//   * the log cannot be written.
// Every record is written and handed to the OS as soon as its candidate is judged, under a file lock,
// so a killed tuner loses nothing and a second process appending to the same log never interleaves
// (the log must be plain JSON lines: a .gz log is refused).
// Records carry their provenance in "v" (measure/provenance.hpp).
//
//   auto measurer = measure::LocalMeasurer::make({.log = "gemm.json"}).value();
//   measurer.set_task({.signature = sig, .seed = 1, .reference = naive}).value();
//   auto batch = measurer.measure(candidates, [](std::size_t i, const measure::Measurement& m) { ... });
#pragma once

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/io/log_writer.hpp"
#include "crosstune/measure/builder.hpp"
#include "crosstune/measure/measurement.hpp"
#include "crosstune/measure/provenance.hpp"
#include "crosstune/measure/runner.hpp"

namespace crosstune::measure {

struct LocalMeasurerOptions {
  BuildOptions build{};  ///< an empty work_dir: a temporary folder, removed with the measurer
  RunOptions run{};
  std::filesystem::path log{};  ///< records are appended here; empty: no log
  std::size_t max_consecutive_failures = 150;
  std::size_t timeouts_before_diagnosis = 8;  ///< 0: never diagnose
};

namespace detail {
/// A folder removed, with what it holds, when its owner goes.
class OwnedFolder {
 public:
  OwnedFolder() = default;
  explicit OwnedFolder(std::filesystem::path path) : path_(std::move(path)) {}
  OwnedFolder(OwnedFolder&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  OwnedFolder& operator=(OwnedFolder&& other) noexcept {
    if (this != &other) {
      remove();
      path_ = std::exchange(other.path_, {});
    }
    return *this;
  }
  OwnedFolder(const OwnedFolder&) = delete;
  OwnedFolder& operator=(const OwnedFolder&) = delete;
  ~OwnedFolder() { remove(); }

 private:
  void remove() noexcept {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::filesystem::path path_;
};
}  // namespace detail

/// The placeholder cost Ansor writes for a failed measurement.
inline constexpr double failed_cost_seconds = 1e10;

class LocalMeasurer {
 public:
  [[nodiscard]] static Expected<LocalMeasurer> make(LocalMeasurerOptions options) {
    if (options.max_consecutive_failures < 1)
      return unexpected(Error(ErrorKind::invalid_argument, "measure::LocalMeasurerOptions: max_consecutive_failures must be at least 1"));
    if (auto ok = options.run.validate(); !ok) return unexpected(std::move(ok).error());
    LocalMeasurer m;
    if (options.build.work_dir.empty()) {
      std::string pattern = (std::filesystem::temp_directory_path() / "crosstune-measure-XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr)
        return unexpected(Error(ErrorKind::io, "cannot create a temporary folder for the builds", pattern, 0, 0,
                                "set TMPDIR, or give LocalMeasurerOptions::build.work_dir"));
      options.build.work_dir = pattern;
      m.owned_dir_ = detail::OwnedFolder(pattern);
    }
    auto builder = Builder::make(options.build);
    if (!builder) return unexpected(std::move(builder).error());
    auto runner = Runner::make(options.run, options.build.work_dir);
    if (!runner) return unexpected(std::move(runner).error());
    m.builder_.emplace(std::move(*builder));
    m.runner_.emplace(std::move(*runner));
    if (options.log.extension() == ".gz")
      return unexpected(Error(ErrorKind::invalid_argument, "a measurer's log must be plain JSON lines, not gzip", options.log.string(), 0,
                              0, "log to a .json file (compress it when the run is over): every record of a plain log is a whole "
                                 "line the moment it is written, and several processes can append to it"));
    if (!options.log.empty())
      if (auto ok = io::check_writable(options.log); !ok) return unexpected(std::move(ok).error());
    m.provenance_ = Provenance::of_host();
    const auto& c = options.build.compile;
    m.provenance_.set("cc", compiler_version(c.compiler));
    // The flags: the command line between the compiler and "k.cpp -o k.so".
    const auto command = compile_command(c, "k.cpp", "k.so");
    m.provenance_.set("flags", join_command({command.begin() + 1, command.end() - 3}));
    const auto& r = options.run;
    std::size_t available = r.pin_cpus.size();
    if (available == 0) {
      cpu_set_t allowed;
      CPU_ZERO(&allowed);
      available = ::sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? static_cast<std::size_t>(CPU_COUNT(&allowed))
                                                                         : std::thread::hardware_concurrency();
    }
    // OpenMP's default is one thread per CPU the process may run on.
    m.provenance_.set("threads", r.threads > 0 ? std::to_string(r.threads) : std::to_string(available) + " (OpenMP default)");
    std::string pin = "none";
    if (!r.pin_cpus.empty()) {
      pin.clear();
      for (int cpu : r.pin_cpus) pin += (pin.empty() ? "" : ",") + std::to_string(cpu);
    }
    m.provenance_.set("pin", pin);
    m.provenance_.set("bind", r.bind_threads ? "1" : "0");
    m.provenance_.set("flush", r.timing.flush_cache ? "1" : "0");
    m.provenance_.set("number", std::to_string(r.timing.number));
    m.provenance_.set("repeat", std::to_string(r.timing.repeat));
    char ms[32];
    std::snprintf(ms, sizeof ms, "%g", r.timing.min_repeat_ms);
    m.provenance_.set("min_repeat_ms", ms);
    m.provenance_.set("warmup", std::to_string(r.timing.warmup));
    m.options_ = std::move(options);
    return m;
  }


  [[nodiscard]] const LocalMeasurerOptions& options() const noexcept { return options_; }
  [[nodiscard]] const Provenance& provenance() const noexcept { return provenance_; }
  [[nodiscard]] const FailureReport& failures() const noexcept { return failures_; }
  [[nodiscard]] const std::filesystem::path& work_dir() const noexcept { return options_.build.work_dir; }
  /// Seconds the reference of the current task took to build and run (0 without one).
  [[nodiscard]] double reference_seconds() const noexcept { return reference_seconds_; }
  /// While `*stop` is true, measure() stops at once; the candidate running is abandoned, not logged.
  /// Candidates whose first run takes longer than `seconds` are timed by that run alone (Runner::set_slow_cutoff;
  /// 0: off). search::Tuner sets it to a multiple of the task's best cost.
  void set_slow_cutoff(double seconds) noexcept { runner_->set_slow_cutoff(seconds); }

  void set_stop_flag(const std::atomic<bool>* stop) noexcept {
    stop_ = stop;
    runner_->set_stop_flag(stop);
  }

  /// Sets the task the next candidates are measured on: builds and runs the reference. Errors: an
  /// invalid signature, a reference that does not compile, crashes or runs past the reference time limit.
  [[nodiscard]] Expected<void> set_task(const MeasureTask& task) {
    const auto start = std::chrono::steady_clock::now();
    consecutive_failures_ = successes_ = timeouts_without_success_ = 0;  // the early stops judge each task afresh
    RunTask run{.signature = task.signature, .seed = task.seed, .reference_values = task.reference_values};
    std::vector<BuildResult> reference;
    if (task.reference) {
      reference = builder_->build(std::span<const KernelSource>(&*task.reference, 1));
      if (!reference.front().ok())
        return unexpected(Error(ErrorKind::backend, "the reference kernel does not build (" + std::string(to_string(reference.front().error)) +
                                                        "):\n" + reference.front().message));
      run.reference_library = reference.front().library;
      run.reference_entry = reference.front().entry;
    }
    auto ok = runner_->set_task(std::move(run));
    if (!reference.empty() && !options_.build.keep_files) remove_built(reference.front().library);
    reference_seconds_ = task.reference || !task.reference_values.empty()
                             ? std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
                             : 0;
    return ok;
  }

  /// Builds and measures the candidates, logging each; `on_result(i, measurement)` is called as each
  /// candidate is judged (for progress). See the header comment for when it stops early.
  BatchResult measure(std::span<const Candidate> candidates,
                      const std::function<void(std::size_t, const Measurement&)>& on_result = {}) {
    BatchResult batch;
    if (stopping()) return interrupted(batch);
    std::vector<KernelSource> kernels;
    kernels.reserve(candidates.size());
    for (const auto& c : candidates) kernels.push_back(c.kernel);
    const std::vector<BuildResult> built = builder_->build(kernels, stop_);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if (stopping()) {
        interrupted(batch);
        break;
      }
      Measurement m;
      m.record = candidates[i].record;
      m.build_seconds = built[i].seconds;
      const auto start = std::chrono::steady_clock::now();
      if (!built[i].ok()) {
        m.record.result.error = built[i].error;
        m.message = built[i].message;
      } else {
        RunResult r = runner_->run(built[i].library, built[i].entry);
        if (r.stopped) {
          interrupted(batch);
          break;
        }
        m.record.result.error = r.error;
        m.message = std::move(r.message);
        m.timing = std::move(r.timing);
        m.run_seconds = r.seconds;
      }
      m.record.result.costs_seconds = m.ok() ? m.timing.costs_seconds : std::vector<double>{failed_cost_seconds};
      m.record.result.all_cost_seconds = m.build_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      m.record.result.timestamp = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      if (m.ok() && m.timing.number != options_.run.timing.number) {
        Provenance used = provenance_;  // the `number` min_repeat_ms grew to, for this record
        used.set("number", std::to_string(m.timing.number));
        m.record.version = used.version_string();
      } else {
        m.record.version = provenance_.version_string();
      }
      if (!options_.log.empty()) {
        if (!m.record.task) {
          batch.stop_reason = "candidate " + std::to_string(i) + " has no task in its record, so it cannot be logged";
        } else if (auto written = log(m.record); !written) {
          batch.stop_reason = "cannot append to the log: " + written.error().describe();
        }
      }
      if (m.ok()) {
        consecutive_failures_ = 0;
        ++successes_;
      } else {
        failures_.add(m.record.result.error, m.message);
        ++consecutive_failures_;
        if (m.record.result.error == ErrorCode::run_timeout && successes_ == 0) ++timeouts_without_success_;
      }
      if (on_result) on_result(i, m);
      const ErrorCode error = m.record.result.error;
      const std::string message = m.message;
      batch.measurements.push_back(std::move(m));
      if (batch.stopped()) break;
      if (consecutive_failures_ >= options_.max_consecutive_failures) {
        batch.stop_reason = std::to_string(consecutive_failures_) + " candidates in a row failed (the limit is " +
                            std::to_string(options_.max_consecutive_failures) + "); the last: " + std::string(to_string(error)) + ": " +
                            message.substr(0, 300) + "\nFailures so far:\n" + failures_.describe();
        break;
      }
      // No success yet in this task, so every failure of the task is in the current run of failures: all
      // of them time-outs when the two counts agree.
      if (options_.timeouts_before_diagnosis > 0 && successes_ == 0 && timeouts_without_success_ >= options_.timeouts_before_diagnosis &&
          timeouts_without_success_ == consecutive_failures_) {
        batch.stop_reason = diagnose_timeouts();
        break;
      }
    }
    if (!options_.build.keep_files)
      for (const auto& b : built) remove_built(b.library);  // shared units are removed once; failed ones too
    return batch;
  }

 private:
  LocalMeasurer() = default;

  [[nodiscard]] bool stopping() const noexcept { return stop_ != nullptr && stop_->load(std::memory_order_relaxed); }
  static BatchResult& interrupted(BatchResult& batch) {
    batch.interrupted = true;
    batch.stop_reason = "stopped on request (the stop flag was raised); every candidate judged before is logged";
    return batch;
  }

  std::string diagnose_timeouts() const {
    std::string load = "unknown";
    std::ifstream loadavg("/proc/loadavg");
    std::getline(loadavg, load);
    load = load.substr(0, load.find(' '));
    char text[1200];
    std::snprintf(text, sizeof text,
                  "the first %zu candidates all ran past the %g s time limit and none finished. Likely causes: the kernels "
                  "use instructions this CPU lacks or run very slowly under emulation (compiled with -march=%s for %s); "
                  "the machine is overloaded (load average %s on %u CPUs); or the limit is too small for this operator "
                  "(the reference kernel took %.3g s to build and run; raise the run timeout).",
                  timeouts_without_success_, options_.run.timeout_s, options_.build.compile.march.c_str(),
                  provenance_.get("cpu").c_str(), load.c_str(), std::thread::hardware_concurrency(), reference_seconds_);
    return text;
  }

  /// Appends `record` to the log, opened at the first record (a run that measures nothing creates none).
  [[nodiscard]] Expected<void> log(const Record& record) {
    if (!log_) {
      auto writer = io::LogWriter::open(options_.log, io::WriteMode::append, io::FlushPolicy::each_record);
      if (!writer) return unexpected(std::move(writer).error());
      log_.emplace(std::move(*writer));
    }
    return log_->write(record);
  }

  /// A library with its source and compiler log (the files of a failed build, too).
  static void remove_built(const std::filesystem::path& library) {
    if (library.empty()) return;
    std::error_code ignored;
    for (const char* ext : {".so", ".cpp", ".log"}) std::filesystem::remove(std::filesystem::path(library).replace_extension(ext), ignored);
  }

  LocalMeasurerOptions options_;
  detail::OwnedFolder owned_dir_;  // declared first, removed last: after the worker that loads from it
  std::optional<Builder> builder_;
  std::optional<Runner> runner_;
  std::optional<io::LogWriter> log_;
  Provenance provenance_;
  FailureReport failures_;
  std::size_t consecutive_failures_ = 0, successes_ = 0, timeouts_without_success_ = 0;
  double reference_seconds_ = 0;
  const std::atomic<bool>* stop_ = nullptr;
};

}  // namespace crosstune::measure
