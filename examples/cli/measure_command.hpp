// `crosstune measure`: builds, checks and times candidate kernels of an operator on this CPU, and appends
// one Ansor record per candidate to a log.
//
//   crosstune measure --op matmul --shape 512,512,512 --random 64 --log gemm.json
//   crosstune measure --op conv2d --shape 1,64,56,56,64,3,3 --padding 1 --random 32 --target avx2 --log c.json
//   crosstune measure --replay gemm.json --top 5 --log confirm.json      re-measure the best 5 per task
//
// Candidates are drawn from the CPU sketches of the operator (as `crosstune codegen` draws them), lowered
// to C++ (codegen/), and measured by measure::LocalMeasurer: built in parallel, run in a forked worker
// that a crashing or hanging kernel cannot take down, checked against the unscheduled loop nest on the
// same inputs, and timed with Ansor's semantics (--number, --repeat, --min-repeat-ms, optional --flush;
// with --flush, min_repeat_ms is 0 unless given, so that every repeat follows its flush).
// Every candidate, failed or not, becomes one record of --log as soon as it is judged, so an interrupted
// run keeps everything measured before. Ctrl-C abandons the candidate running (it is not logged), stops,
// prints the summary and exits 130; the records judged before are in the log. A second Ctrl-C ends the
// tool at once.
// With --replay, the log's records are replayed onto their DAGs, records with the same steps as another
// of their task are measured once, and each is measured again for the current --target and --threads:
// the new records carry that target, not the logged one.
// The tables at the end, one per task, rank the candidates by mean cost with a 95% confidence interval and
// mark those whose intervals overlap the best's as ties (none with --repeat 1: one cost has no interval);
// a grouped failure report follows.
//
// Usage errors (exit 2): --log missing, --replay with generation flags, an unknown --target.
// Refused inputs (exit 1): a --target this CPU cannot run, a --log that cannot be written or that is the
// --replay log, an operator the builders refuse, a reference kernel that does not build or run, a run that
// stopped (150 failures in a row, every candidate timing out: the message says why). Interrupted: exit 130.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "codegen_command.hpp"
#include "common.hpp"
#include "crosstune/codegen/cpu.hpp"
#include "crosstune/codegen/lower.hpp"
#include "crosstune/hw/host_probe.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/io/log_writer.hpp"
#include "crosstune/measure/local_measurer.hpp"
#include "crosstune/schedule/cpu_sketch.hpp"
#include "crosstune/schedule/replay.hpp"
#include "progress.hpp"

namespace crosstune::cli {

struct MeasureOptions {
  CodegenOptions op;  ///< --op/--shape/--key and the operators' flags, --random, --seed
  std::string log, replay;
  std::size_t top = 0;
  std::string target = "native";
  std::size_t threads = 0;
  std::string pin;
  bool bind = false;
  std::size_t number = 1, repeat = 3;
  double min_repeat_ms = 100;
  bool min_repeat_ms_given = false;  ///< --min-repeat-ms was on the command line (not the default)
  double timeout = 10;
  bool flush = false, no_check = false;
  std::size_t jobs = 0, per_unit = 4, batch = 16, max_failures = 150;
};

namespace measure_detail {

/// --target: the -march for the compiler and the -mcpu of the records' target string.
struct TargetChoice {
  std::string_view name, march, mcpu;
  std::int64_t vector_bytes;  // 0: this machine's
};
inline constexpr std::array<TargetChoice, 4> targets = {{
    {"native", "native", "", 0},
    {"avx512", "x86-64-v4", "x86-64-v4", 64},
    {"avx2", "x86-64-v3", "x86-64-v3", 32},
    {"sse4.2", "x86-64-v2", "x86-64-v2", 16},
}};
[[nodiscard]] inline const TargetChoice& target_choice(std::string_view name) {
  for (const auto& t : targets)
    if (t.name == name) return t;
  return targets[0];  // --target is checked against the names
}

/// What --target `t` needs that this CPU lacks, in the names of the ISA manuals (empty: it has them all;
/// --target native needs nothing). The probe's flags carry the OS checks (XCR0); the few extensions it
/// does not report are read from cpuid here, the AVX-512 ones only where the OS enables AVX-512.
[[nodiscard]] inline std::vector<std::string> missing_features(const TargetChoice& t, const hw::X86Features& x86) {
  std::vector<std::string> missing;
  if (t.vector_bytes == 0) return missing;
  bool ssse3 = false, popcnt = false, movbe = false, f16c = false, bmi1 = false, bmi2 = false, lzcnt = false, avx512cd = false,
       avx512dq = false;
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
    ssse3 = (ecx & (1u << 9)) != 0;
    movbe = (ecx & (1u << 22)) != 0;
    popcnt = (ecx & (1u << 23)) != 0;
    f16c = x86.avx && (ecx & (1u << 29)) != 0;
  }
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    bmi1 = (ebx & (1u << 3)) != 0;
    bmi2 = (ebx & (1u << 8)) != 0;
    avx512dq = x86.avx512f && (ebx & (1u << 17)) != 0;
    avx512cd = x86.avx512f && (ebx & (1u << 28)) != 0;
  }
  if (__get_cpuid(0x80000001u, &eax, &ebx, &ecx, &edx)) lzcnt = (ecx & (1u << 5)) != 0;
#endif
  auto need = [&](bool has, const char* name) {
    if (!has) missing.emplace_back(name);
  };
  need(x86.sse4_2, "SSE4.2");
  need(ssse3, "SSSE3");
  need(popcnt, "POPCNT");
  if (t.vector_bytes < 32) return missing;
  need(x86.avx, "AVX");
  need(x86.avx2, "AVX2");
  need(x86.fma, "FMA");
  need(bmi1, "BMI1");
  need(bmi2, "BMI2");
  need(f16c, "F16C");
  need(lzcnt, "LZCNT");
  need(movbe, "MOVBE");
  if (t.vector_bytes < 64) return missing;
  const std::size_t before = missing.size();
  need(x86.avx512f, "AVX-512F");
  need(x86.avx512bw, "AVX-512BW");
  need(avx512cd, "AVX-512CD");
  need(avx512dq, "AVX-512DQ");
  need(x86.avx512vl, "AVX-512VL");
  if (missing.size() - before == 5) {  // none of them: say so in one word
    missing.resize(before);
    missing.emplace_back("AVX-512");
  }
  return missing;
}

/// Refuses (exit 1), before any work, a --target whose instructions this CPU cannot run: its kernels and
/// the reference would die of SIGILL, which reads as a broken reference.
inline void check_target_runs_here(const TargetChoice& t, const hw::HostProbe& host) {
  if (t.vector_bytes == 0) return;
  std::string message = "--target ";
  message += t.name;
  message += ": ";
#if defined(__x86_64__) || defined(__i386__)
  const auto missing = missing_features(t, host.x86);
  if (missing.empty()) return;
  message += "this CPU lacks ";
  message += joined(missing);
  message += " (";
  message += t.march;
  message += t.vector_bytes == 64   ? " needs AVX-512F/BW/CD/DQ/VL besides x86-64-v3"
             : t.vector_bytes == 32 ? " needs AVX2, FMA, BMI1/2, F16C, LZCNT and MOVBE besides x86-64-v2"
                                    : " needs SSE4.2, SSSE3 and POPCNT";
  message += "); use --target native";
  for (const auto& lower : targets)  // the widest target below this one that the CPU runs
    if (lower.vector_bytes > 0 && lower.vector_bytes < t.vector_bytes && missing_features(lower, host.x86).empty()) {
      message += " or ";
      message += lower.name;
      break;
    }
#else
  message += "this CPU is not x86-64 (";
  message += host.architecture.empty() ? std::string("unknown architecture") : host.architecture;
  message += "); use --target native";
#endif
  fail(Error(ErrorKind::unsupported, message));
}

/// --target, with the names above (measure, tune and calibrate take it alike).
inline void add_target_flag(CLI::App& cmd, std::string& target) {
  std::vector<std::string> names;
  for (const auto& t : targets) names.emplace_back(t.name);
  cmd.add_option("--target", target, "native (default: -march=native), avx512 (x86-64-v4), avx2 (x86-64-v3) or sse4.2 (x86-64-v2)")
      ->check(CLI::IsMember(names));
}

/// Raised by SIGINT while candidates are measured.
inline std::atomic<bool> interrupted{false};
extern "C" inline void on_sigint(int) { interrupted.store(true); }

/// The unscheduled loop nest of `dag`: the reference every candidate is checked against.
[[nodiscard]] inline measure::KernelSource reference_kernel(const std::shared_ptr<const ir::ComputeDag>& dag,
                                                           measure::KernelSignature& signature) {
  schedule::State state(dag);
  auto nest = codegen::lower(state);
  if (!nest) fail(nest.error());
  signature = codegen::kernel_signature(*nest);
  codegen::CpuCodegenOptions cpp;
  cpp.function_name = "crosstune_reference";
  return codegen::kernel_source(*nest, cpp);
}

/// The task of the records: the DAG's key, the target, this machine's cores and vector width.
[[nodiscard]] inline std::shared_ptr<Task> make_task(const ir::ComputeDag& dag, const TargetChoice& t, std::int64_t cores) {
  auto task = std::make_shared<Task>();
  task->workload_key = dag.workload_key();
  std::string target = "llvm -keys=cpu";
  if (!t.mcpu.empty()) target += " -mcpu=" + std::string(t.mcpu);
  target += " -num-cores=" + std::to_string(cores);
  task->target = Target(target);
  const auto host = hw::probe_host();
  task->hardware_params.num_cores = cores;
  task->hardware_params.vector_unit_bytes = t.vector_bytes > 0 ? t.vector_bytes : host.params.vector_unit_bytes;
  task->hardware_params.cache_line_bytes = host.params.cache_line_bytes > 0 ? host.params.cache_line_bytes : 64;
  return task;
}

/// One row of a task's table.
struct Ranked {
  std::size_t candidate = 0;  // 1-based, in the order measured
  const measure::Measurement* m = nullptr;
  double before = 0;  // --replay: the logged mean cost
};

/// Whether a timing has an interval: two repeats at least (one cost has no spread to judge).
[[nodiscard]] inline bool has_interval(const measure::Timing& t) { return t.costs_seconds.size() >= 2; }

/// Whether `t` is tied with the best: both have intervals, and they overlap.
[[nodiscard]] inline bool tied(const measure::Timing& t, const measure::Timing& best) {
  return has_interval(t) && has_interval(best) && t.tied_with(best);
}

/// The table of one task: its heading (the workload key), the successful measurements ranked by mean
/// cost, the best `limit` printed with ties to the best marked, and a line on the best.
inline void print_table(const std::string& workload_key, std::vector<Ranked> rows, std::int64_t flops, bool replay,
                        std::size_t limit) {
  std::printf("\ntask %s\n", workload_key.c_str());
  std::stable_sort(rows.begin(), rows.end(), [](const Ranked& a, const Ranked& b) {
    return a.m->timing.mean_seconds() < b.m->timing.mean_seconds();
  });
  if (rows.empty()) {
    std::printf("no candidate of this task was measured successfully\n");
    return;
  }
  std::printf("%-5s %-9s %12s %11s %7s %10s%s\n", "rank", "candidate", "mean (ms)", "±95% (ms)", "CV", flops > 0 ? "GFLOP/s" : "",
              replay ? "  logged (ms)" : "");
  const measure::Timing& best = rows.front().m->timing;
  for (std::size_t i = 0; i < rows.size() && i < limit; ++i) {
    const auto& t = rows[i].m->timing;
    char gflops[32] = "";
    if (flops > 0) std::snprintf(gflops, sizeof gflops, "%.1f", static_cast<double>(flops) / t.mean_seconds() * 1e-9);
    std::printf("%-5zu %-9zu %12.4f ", i + 1, rows[i].candidate, t.mean_seconds() * 1e3);
    if (has_interval(t))
      std::printf("%11.4f %6.1f%% ", t.ci95_half_width_seconds() * 1e3, t.cv() * 100);
    else
      std::printf("%11s %7s ", "n/a", "n/a");
    std::printf("%10s", gflops);
    if (replay) {
      if (rows[i].before > 0 && std::isfinite(rows[i].before))
        std::printf("  %11.4f", rows[i].before * 1e3);
      else
        std::printf("  %11s", "failed");
    }
    if (i > 0 && tied(t, best)) std::printf("  tie with rank 1");
    std::printf("\n");
  }
  std::size_t ties = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) ties += tied(rows[i].m->timing, best) ? 1 : 0;
  std::string line = "best: candidate ";
  line += std::to_string(rows.front().candidate);
  char cost[96];
  if (has_interval(best))
    std::snprintf(cost, sizeof cost, ", %.4f ms ± %.4f ms (95%%)", best.mean_seconds() * 1e3, best.ci95_half_width_seconds() * 1e3);
  else
    std::snprintf(cost, sizeof cost, ", %.4f ms (one repeat: no interval)", best.mean_seconds() * 1e3);
  line += cost;
  if (ties > 0) {
    line += ", tied with ";
    line += std::to_string(ties);
    line += ties == 1 ? " other" : " others";
    line += ": re-measure them with --replay LOG --top ";
    line += std::to_string(ties + 1);
  }
  std::printf("%s\n", line.c_str());
}

}  // namespace measure_detail

inline void run_measure(const MeasureOptions& o) {
  using namespace measure_detail;
  using namespace codegen_detail;
  // The log is appended to, so a log that exists is fine; one that is --replay's input, a folder, or in a
  // missing or unwritable folder is refused here, before any work.
  check_outputs(o.replay.empty() ? std::vector<std::string>{} : std::vector<std::string>{o.replay}, {{"--log", o.log}});
  const TargetChoice& target = target_choice(o.target);
  const auto host = hw::probe_host();
  check_target_runs_here(target, host);
  const std::int64_t cores = o.threads > 0 ? static_cast<std::int64_t>(o.threads) : std::max<std::int64_t>(1, host.params.num_cores);

  // --flush flushes before every repeat, not before every run: with min_repeat_ms growing `number`, all
  // runs of a repeat but the first would find the caches warm again.
  double min_repeat_ms = o.min_repeat_ms;
  if (o.flush && !o.min_repeat_ms_given) {
    min_repeat_ms = 0;
    note("--flush: min_repeat_ms is 0, not 100 (give --min-repeat-ms to change it), so each repeat is --number %zu run%s after one "
         "flush", o.number, o.number == 1 ? "" : "s");
  }
  if (o.flush && (min_repeat_ms > 0 || o.number > 1)) {
    std::string message = "--flush with ";
    message += min_repeat_ms > 0 ? "--min-repeat-ms above 0" : "--number above 1";
    message += ": the caches are flushed before the first run of each repeat only, the other runs find them warm";
    warn(message);
  }
  if (o.repeat == 1)
    warn("--repeat 1 gives no confidence interval: the tables show n/a for ±95% and CV and mark no ties; use --repeat 3 or more to "
         "tell candidates apart");

  measure::LocalMeasurerOptions options;
  options.build.compile.march = std::string(target.march);
  options.build.jobs = o.jobs;
  options.build.kernels_per_unit = o.per_unit;
  options.run.threads = static_cast<int>(o.threads);
  if (!o.pin.empty())
    for (auto cpu : parse_ints(o.pin)) options.run.pin_cpus.push_back(static_cast<int>(cpu));
  options.run.bind_threads = o.bind;
  options.run.timeout_s = o.timeout;
  options.run.check = !o.no_check;
  options.run.timing.number = static_cast<std::int64_t>(o.number);
  options.run.timing.repeat = static_cast<std::int64_t>(o.repeat);
  options.run.timing.min_repeat_ms = min_repeat_ms;
  options.run.timing.flush_cache = o.flush;
  options.max_consecutive_failures = o.max_failures;
  options.log = o.log;
  auto measurer = measure::LocalMeasurer::make(options);
  if (!measurer) fail(measurer.error());

  // What to measure, task by task: the DAG, and candidates as (kernel, record).
  struct TaskWork {
    std::shared_ptr<const ir::ComputeDag> dag;
    std::vector<measure::Candidate> candidates;
    std::vector<double> before;  // --replay: the logged mean costs
  };
  std::vector<TaskWork> work;
  std::size_t refused = 0;
  std::string first_refusal;
  auto add_candidate = [&](TaskWork& w, const schedule::State& state, std::shared_ptr<const Task> task, double before) {
    auto nest = codegen::lower(state);
    if (!nest) {
      if (refused++ == 0) first_refusal = nest.error().describe();
      return;
    }
    codegen::CpuCodegenOptions cpp;
    cpp.function_name = "k";
    cpp.function_name += std::to_string(w.candidates.size());
    measure::Candidate c;
    c.kernel = codegen::kernel_source(*nest, cpp);
    c.record.task = std::move(task);
    c.record.steps = state.steps();
    w.candidates.push_back(std::move(c));
    w.before.push_back(before);
  };
  if (o.replay.empty()) {
    auto built = o.op.key.empty() ? build_op(o.op) : ir::dag_from_workload_key(o.op.key);
    if (!built) fail(built.error());
    auto dag = std::make_shared<const ir::ComputeDag>(std::move(*built));
    check_size(*dag);
    schedule::CpuSketchOptions sketch;
    sketch.cores = cores;
    auto space = schedule::CpuSketchSpace::make(dag, sketch);
    if (!space) fail(space.error());
    const auto task = make_task(*dag, target, cores);
    TaskWork w{dag, {}, {}};
    for (const auto& c : distinct_candidates(*space, *dag, o.op.random, o.op.seed)) {
      auto state = space->apply(c);
      if (!state) {
        if (refused++ == 0) first_refusal = state.error().describe();
        continue;
      }
      add_candidate(w, *state, task, 0);
    }
    work.push_back(std::move(w));
  } else {
    // Records grouped by task (workload key); those with the same steps as another of their task are
    // measured once (as the one with the best logged result); with --top K only the K fastest successful
    // ones of each task. Each is measured for the current --target and --threads, so its new record gets
    // a task made for them: the logged target and cores are those of another measurement.
    std::map<std::string, std::vector<Record>> by_key;
    for_each_record({o.replay}, false, "reading", [&](const Record& r) { by_key[r.task->workload_key].push_back(r); });
    schedule::Replayer replayer;
    std::size_t duplicates = 0;
    for (auto& [key, records] : by_key) {
      std::vector<Record> distinct;
      std::map<std::size_t, std::vector<std::size_t>> by_length;  // steps.size() -> indices into distinct
      for (auto& r : records) {
        auto& same_length = by_length[r.steps.size()];
        const auto same = std::find_if(same_length.begin(), same_length.end(), [&](std::size_t i) { return distinct[i].steps == r.steps; });
        if (same == same_length.end()) {
          same_length.push_back(distinct.size());
          distinct.push_back(std::move(r));
          continue;
        }
        ++duplicates;
        if (r.result.mean_cost_seconds() < distinct[*same].result.mean_cost_seconds()) distinct[*same] = std::move(r);
      }
      records = std::move(distinct);
      if (o.top > 0) keep_fastest(records, o.top);
      if (records.empty()) continue;
      auto dag = replayer.dag(key);
      if (!dag) {
        refused += records.size();
        if (first_refusal.empty()) first_refusal = dag.error().describe();
        continue;
      }
      const auto task = make_task(**dag, target, cores);
      TaskWork w{*dag, {}, {}};
      for (const auto& r : records) {
        auto state = replayer.replay(r);
        if (!state) {
          if (refused++ == 0) first_refusal = state.error().describe();
          continue;
        }
        add_candidate(w, *state, task, r.result.ok() ? r.result.mean_cost_seconds() : 0);
      }
      if (!w.candidates.empty()) work.push_back(std::move(w));
    }
    if (duplicates > 0)
      note("%zu record%s left out: the same steps as another record of %s task", duplicates, duplicates == 1 ? " is" : "s are",
           duplicates == 1 ? "its" : "their");
  }
  if (refused > 0)
    warn(std::to_string(refused) + " candidate" + (refused == 1 ? "" : "s") + " could not be made into kernels and are left out; the first: " +
         first_refusal);

  std::size_t total = 0;
  for (const auto& w : work) total += w.candidates.size();
  if (total == 0) fail(Error(ErrorKind::empty_input, "nothing to measure", o.replay, 0, 0, "check --replay's log or the operator"));

  interrupted.store(false);
  measurer->set_stop_flag(&interrupted);
  struct sigaction action {}, previous{};
  action.sa_handler = on_sigint;
  action.sa_flags = SA_RESETHAND;  // one-shot: a second Ctrl-C ends the tool at once (the default action)
  ::sigaction(SIGINT, &action, &previous);
  struct RestoreSignal {
    struct sigaction saved;
    ~RestoreSignal() { ::sigaction(SIGINT, &saved, nullptr); }
  } restore{previous};

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::vector<measure::Measurement>> results(work.size());
  std::string stop_reason;
  bool was_interrupted = false;
  std::size_t done = 0, ok = 0;
  Progress progress("measuring", total);
  for (std::size_t t = 0; t < work.size() && stop_reason.empty(); ++t) {
    measure::MeasureTask task;
    task.seed = 1;
    measure::KernelSignature signature;
    task.reference = reference_kernel(work[t].dag, signature);
    task.signature = signature;
    if (o.no_check) task.reference.reset();
    progress.update(done);
    if (auto set = measurer->set_task(task); !set) {
      if (interrupted.load()) {
        was_interrupted = true;
        break;
      }
      Error e = std::move(set).error();
      if (const auto cut = e.message.find('\n'); cut != std::string::npos) {  // the compiler's messages first
        progress.finish();
        std::string messages = e.message.substr(cut + 1);
        if (!messages.empty() && messages.back() != '\n') messages += '\n';
        std::cerr << messages;
        e.message.resize(cut);
        if (!e.message.empty() && e.message.back() == ':') e.message.back() = ' ';
        e.message += "(the compiler's messages are above)";
      }
      e.message = work[t].dag->workload_key() + ": " + e.message;
      fail(e);
    }
    const auto& candidates = work[t].candidates;
    for (std::size_t b = 0; b < candidates.size() && stop_reason.empty(); b += o.batch) {
      const auto batch = std::span(candidates).subspan(b, std::min(o.batch, candidates.size() - b));
      auto result = measurer->measure(batch, [&](std::size_t, const measure::Measurement& m) {
        ok += m.ok() ? 1 : 0;
        progress.update(++done);
      });
      for (auto& m : result.measurements) results[t].push_back(std::move(m));
      if (result.stopped()) {
        stop_reason = result.stop_reason;
        was_interrupted = result.interrupted;
      }
    }
  }
  progress.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("measured %zu of %zu candidates in %.1f s (%.2f candidates/s): %zu ok, %zu failed; log: %s\n", done, total, seconds,
              static_cast<double>(done) / std::max(seconds, 1e-9), ok, done - ok, o.log.c_str());
  // One table per task: ranks, ties and GFLOP/s mean something only among candidates of one DAG.
  std::size_t index = 0;
  for (std::size_t t = 0; t < work.size(); ++t) {
    if (results[t].empty()) continue;  // the run stopped before this task
    std::vector<Ranked> rows;
    for (std::size_t i = 0; i < results[t].size(); ++i) {
      ++index;
      if (results[t][i].ok()) rows.push_back({index, &results[t][i], work[t].before[i]});
    }
    print_table(work[t].dag->workload_key(), std::move(rows), work[t].dag->flops(), !o.replay.empty(), 10);
  }
  const std::string failures = measurer->failures().describe();
  if (!failures.empty()) std::printf("failures by error code (count: first message):\n%s", failures.c_str());
  std::fflush(stdout);
  if (was_interrupted) {
    warn("interrupted: every candidate judged before Ctrl-C is in " + o.log);
    throw CLI::RuntimeError(130);
  }
  if (!stop_reason.empty()) {
    // The reason's first line in the error; what follows it (the failures so far) is printed above.
    const auto cut = stop_reason.find('\n');
    fail(Error(ErrorKind::backend, "the run stopped early: " + stop_reason.substr(0, cut), o.log));
  }
}

inline void add_measure_command(CLI::App& app) {
  using namespace codegen_detail;
  auto o = std::make_shared<MeasureOptions>();
  auto* cmd = app.add_subcommand("measure",
                                 "Build, check and time candidate kernels of an operator on this CPU (or re-measure "
                                 "a log's candidates with --replay), appending one Ansor record per candidate to --log");
  auto [op, shape, key, op_options] = add_operator_flags(*cmd, o->op);
  auto* random = cmd->add_option("--random", o->op.random, "Distinct random candidates to measure (default 1)")->check(count_in(1, 100000));
  auto* seed = cmd->add_option("--seed", o->op.seed, "Random seed of the candidates (default 0)")->check(count_in(0, UINT64_MAX));
  cmd->add_option("--log", o->log, "Append one record per candidate to this Ansor log (created when missing)")->required();
  auto* replay = cmd->add_option("--replay", o->replay, "Re-measure the candidates of this log instead of drawing new ones")
                     ->check(CLI::ExistingFile);
  auto* top = cmd->add_option("--top", o->top, "--replay: only the K fastest successful records of each task")->check(count_in(1, 1000000));
  measure_detail::add_target_flag(*cmd, o->target);
  cmd->add_option("--threads", o->threads, "OpenMP threads per kernel, and the cores the schedules parallelise for (default: all)")
      ->check(count_in(1, 4096));
  cmd->add_option("--pin", o->pin, "Pin the kernels' process and threads to these CPUs, comma-separated (e.g. 0,1)")
      ->check(int_list(0, CPU_SETSIZE - 1));
  cmd->add_flag("--bind", o->bind, "Bind the kernels' threads, OpenMP's included, to one logical CPU each (as OMP_PROC_BIND=true OMP_PLACES=threads would), for steadier timings");
  cmd->add_option("--number", o->number, "Runs per repeat before --min-repeat-ms grows it (default 1)")->check(count_in(1, 1u << 30));
  cmd->add_option("--repeat", o->repeat, "Repeats, each one cost in the record (default 3)")->check(count_in(1, 1000));
  cmd->add_option("--min-repeat-ms", o->min_repeat_ms, "Grow --number until a repeat lasts this long (default 100; 0 with --flush)")
      ->check(CLI::Range(0.0, 60000.0));
  cmd->add_option("--timeout", o->timeout, "Seconds a candidate may run: check, warm-up and timing (default 10)")
      ->check(CLI::Range(0.001, 86400.0));
  cmd->add_flag("--flush", o->flush,
                "Flush the caches before every repeat; --min-repeat-ms then defaults to 0, so that each repeat is --number runs "
                "(default 1) right after its flush");
  cmd->add_flag("--no-check", o->no_check, "Do not check outputs against the unscheduled kernel");
  cmd->add_option("--jobs", o->jobs, "Compilers at once (default: one per hardware thread)")->check(count_in(1, 4096));
  cmd->add_option("--per-unit", o->per_unit, "Kernels per translation unit (default 4)")->check(count_in(1, 1024));
  cmd->add_option("--batch", o->batch, "Candidates built together before they run (default 16)")->check(count_in(1, 100000));
  cmd->add_option("--max-failures", o->max_failures, "Stop after this many failures in a row (default 150)")->check(count_in(1, 1u << 30));
  op->needs(shape);
  shape->needs(op);
  op->excludes(key);
  for (auto* generation : {op, shape, key, random, seed}) replay->excludes(generation);
  for (auto* flag : op_options) replay->excludes(flag);
  top->needs(replay);
  cmd->callback([o, cmd] {
    o->min_repeat_ms_given = cmd->count("--min-repeat-ms") > 0;
    if (o->replay.empty()) {
      check_generation_flags(*cmd, o->op);
    }
    run_measure(*o);
  });
}

}  // namespace crosstune::cli
