// bench_measurer — the CPU kernel measurer end to end: 64 random GEMM candidates built, checked against
// the reference and timed by measure::LocalMeasurer, as a tuner's measurement round does.
//
// Candidates: 64 distinct random samples (fixed seed) of the CPU sketch space of GEMM 256³ and 1024³
// (ir::matmul), lowered and emitted as C++ with distinct function names and one shared preamble (so the
// Builder can put `kernels_per_unit` of them in one translation unit); the packed entry is
// `k<i>_packed`. The reference is the unscheduled DAG lowered and emitted. Generation and the task's
// reference (set_task: build and run the naive kernel once) are not timed; the iteration time is one
// measure() call on the 64 candidates (build all, then check, time and log each).
//
// Settings (the same on the MetaSchedule side, bench/peers/metaschedule_measure.py):
//   tuning: number 1, repeat 3, min_repeat_ms 100, cache flush on (Ansor-like, with flush);
//   quick:  number 1, repeat 1, min_repeat_ms 0, no flush (the check run is the warm-up).
// The Builder runs 2 compilers at once (the machine's 2 cores) with 4 or 1 kernels per translation unit,
// a build limit of 120 s a kernel; a candidate's check and timing get 10 s (Ansor's default). The
// kernels run on OpenMP's default threads (2), unpinned. Five rounds: about 5 minutes on an idle 2-core machine.
// Each round leaves its log and one CSV row per candidate in $CROSSTUNE_BENCH_DIR/measurer/
// (default build/bench-files/measurer/).
//
// Counters (per candidate unless noted; N = 64):
//   candidates_per_s        N / wall of measure();
//   with_task_per_s         N / (wall + set_task), the task's reference counted in;
//   build_wall_s            wall time of the build phase (all 64, 2 compilers at once);
//   build_s                 build_wall_s / N;
//   compile_s               Σ Measurement::build_seconds / N (each kernel's share of its compiler run);
//   overhead_ms             (wall − Σ run_seconds) / N: everything but the check and timing runs;
//   overhead_no_build_ms    (wall − Σ (run_seconds + build_seconds)) / N, as the records count it (the
//                           compiler shares add up to about twice the build's wall time on 2 cores);
//   runner_overhead_ms      (run phase wall − Σ run_seconds) / N: load, IPC, logging between runs;
//   protocol_ms             the least kernel time the setting asks for: one check run + repeat ·
//                           max(min_repeat_ms, mean cost) (+ warm-ups beyond the check);
//   overhead_vs_protocol_ms (wall − Σ protocol) / N: what the measurer adds to the kernels' own time;
//   timed_out_s             Σ run_seconds of the candidates that ran past the time limit (10 s each);
//   overhead_ex_timeouts_ms (wall − Σ protocol − timed_out_s) / N: the same, the time limits spent apart;
//   timing_excess_ms        (Σ run_seconds − Σ protocol) / N: calibration, cache flushes, NaN fill and
//                           output check inside the timed run (and the time limits spent);
//   median_cv               median repeat-to-repeat CV of the candidates whose mean is ≥ 1 ms (repeat ≥ 2);
//   ok                      candidates that built, passed the check and were timed.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "crosstune/codegen/cpu.hpp"
#include "crosstune/codegen/lower.hpp"
#include "crosstune/core/task.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/measure/local_measurer.hpp"
#include "crosstune/schedule/cpu_sketch.hpp"
#include "crosstune/schedule/state.hpp"

namespace {
using namespace crosstune;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t candidate_count = 64;
constexpr std::uint64_t candidate_seed = 20261130;
constexpr std::size_t jobs = 2;

/// prefix + number + suffix (written out: GCC 12 reports a false -Wrestrict on "k" + std::to_string(i)).
std::string numbered(const char* prefix, std::int64_t number, const char* suffix = "") {
  std::string s(prefix);
  s += std::to_string(number);
  s += suffix;
  return s;
}

std::filesystem::path bench_dir() {
  const char* env = std::getenv("CROSSTUNE_BENCH_DIR");
  std::filesystem::path dir = std::filesystem::path(env ? env : "build/bench-files") / "measurer";
  std::filesystem::create_directories(dir);
  return dir;
}

// (codegen/cpu.hpp may grow helpers for these two; written out here so the benchmark builds on the
// committed headers.)
/// The buffers of a lowered nest, in the packed entry's argument order (inputs, then outputs).
measure::KernelSignature signature_of(const codegen::LoopNest& nest) {
  measure::KernelSignature sig;
  for (const std::int32_t p : nest.params) {
    const auto& b = nest.buffers[static_cast<std::size_t>(p)];
    sig.buffers.push_back({b.name, b.elements(), b.kind == codegen::BufferKind::output});
  }
  return sig;
}

/// The kernel `name` of a nest as the measurers take it: the shared preamble apart, entry `<name>_packed`.
measure::KernelSource source_of(const codegen::LoopNest& nest, const std::string& name) {
  codegen::CpuCodegenOptions o;
  o.function_name = name;
  o.preamble = false;
  o.packed_entry = true;
  return {codegen::cpu_preamble(), codegen::emit_cpp(nest, o), name + "_packed"};
}

struct Workload {
  std::shared_ptr<const ir::ComputeDag> dag;
  measure::MeasureTask task;
  std::vector<measure::Candidate> candidates;
  double generate_seconds = 0;
};

/// The task (reference: the unscheduled DAG) and 64 distinct random candidates of GEMM n³.
Workload make_workload(std::int64_t n) {
  Workload w;
  const auto start = clock_type::now();
  w.dag = std::make_shared<const ir::ComputeDag>(ir::matmul(n, n, n).value());
  auto task = std::make_shared<Task>();
  task->workload_key = w.dag->workload_key();
  task->target = Target("llvm -mcpu=znver4 -num-cores=2");

  const auto naive = codegen::lower(schedule::State(w.dag)).value();
  w.task.signature = signature_of(naive);
  w.task.seed = 1;
  w.task.reference = source_of(naive, "reference");

  schedule::CpuSketchOptions options;
  options.cores = 2;
  const auto space = schedule::CpuSketchSpace::make(w.dag, options).value();
  Rng rng(candidate_seed);
  std::unordered_set<std::uint64_t> seen;
  while (w.candidates.size() < candidate_count) {
    const auto c = space.sample(rng);
    if (!seen.insert(c.hash()).second) continue;
    auto state = space.apply(c);
    if (!state) continue;
    auto nest = codegen::lower(*state);
    if (!nest) continue;
    const auto i = static_cast<std::int64_t>(w.candidates.size());
    measure::Candidate candidate;
    candidate.kernel = source_of(*nest, numbered("k", i));  // shared preamble, entry k<i>_packed
    candidate.record.task = task;
    candidate.record.steps = state->steps();
    w.candidates.push_back(std::move(candidate));
  }
  w.generate_seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  return w;
}

const Workload& workload(std::int64_t n) {
  static std::map<std::int64_t, Workload> cache;
  auto it = cache.find(n);
  if (it == cache.end()) it = cache.emplace(n, make_workload(n)).first;
  return it->second;
}

measure::TimingOptions timing_of(bool tuning) {
  measure::TimingOptions t;
  t.number = 1;
  if (tuning) {
    t.repeat = 3;
    t.min_repeat_ms = 100;
    t.flush_cache = true;
  } else {
    t.repeat = 1;
    t.min_repeat_ms = 0;
    t.warmup = 0;
  }
  return t;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Args: GEMM size, setting (1 tuning, 0 quick), kernels per translation unit.
void BM_measure(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const bool tuning = state.range(1) != 0;
  const auto per_unit = static_cast<std::size_t>(state.range(2));
  const Workload& w = workload(n);
  std::string label = numbered("gemm", n);
  label += tuning ? " tuning" : " quick";
  label += numbered(" kpu", static_cast<std::int64_t>(per_unit));

  const auto dir = bench_dir();
  std::string name = numbered("gemm", n, tuning ? "_tuning" : "_quick");
  name += numbered("_kpu", static_cast<std::int64_t>(per_unit));
  const auto log = dir / (name + ".json");
  std::filesystem::remove(log);
  std::filesystem::remove_all(dir / name);

  measure::LocalMeasurerOptions options;
  options.build.work_dir = dir / name;
  options.build.jobs = jobs;
  options.build.kernels_per_unit = per_unit;
  options.build.timeout_s = 120;
  options.run.timing = timing_of(tuning);
  options.run.timeout_s = 10;  // Ansor's LocalRunner default; the peer uses the same
  options.log = log;
  auto measurer = measure::LocalMeasurer::make(options);
  if (!measurer) {
    state.SkipWithError(measurer.error().describe().c_str());
    return;
  }
  if (auto ok = measurer->set_task(w.task); !ok) {
    state.SkipWithError(ok.error().describe().c_str());
    return;
  }
  const double task_seconds = measurer->reference_seconds();

  measure::BatchResult batch;
  double wall = 0, first_result_at = -1;
  for (auto _ : state) {
    const auto start = clock_type::now();
    batch = measurer->measure(w.candidates, [&](std::size_t i, const measure::Measurement&) {
      if (i == 0) first_result_at = std::chrono::duration<double>(clock_type::now() - start).count();
    });
    wall = std::chrono::duration<double>(clock_type::now() - start).count();
    state.SetIterationTime(wall);
  }
  if (batch.measurements.empty()) {
    state.SkipWithError(("nothing measured: " + batch.stop_reason).c_str());
    return;
  }

  const auto& timing = options.run.timing;
  // One row per candidate next to the log, for a closer look at where the time went.
  std::ofstream rows(dir / (name + ".csv"));
  rows << "candidate,error,build_s,run_s,all_cost_s,number,mean_s,cv\n";
  for (std::size_t i = 0; i < batch.measurements.size(); ++i) {
    const auto& m = batch.measurements[i];
    rows << i << ',' << to_string(m.result().error) << ',' << m.build_seconds << ',' << m.run_seconds << ','
         << m.record.result.all_cost_seconds << ',' << m.timing.number << ',' << m.timing.mean_seconds() << ',' << m.timing.cv() << '\n';
  }
  const double count = static_cast<double>(batch.measurements.size());
  double sum_run = 0, sum_build = 0, sum_protocol = 0, timed_out = 0;
  std::size_t ok = 0;
  std::vector<double> cvs, means;
  std::map<std::string, std::size_t> failures;
  for (const auto& m : batch.measurements) {
    sum_run += m.run_seconds;
    sum_build += m.build_seconds;
    if (m.result().error == ErrorCode::run_timeout) timed_out += m.run_seconds;
    if (!m.ok()) {
      ++failures[std::string(to_string(m.result().error))];
      continue;
    }
    ++ok;
    const double mean = m.timing.mean_seconds();
    means.push_back(mean);
    // The least the setting asks of the kernel: the check run (the warm-up), warm-ups beyond it, and
    // `repeat` repeats of at least min_repeat_ms each.
    const double extra_warmups = static_cast<double>(std::max<std::int64_t>(0, timing.warmup - 1));
    sum_protocol += mean * (1 + extra_warmups) +
                    static_cast<double>(timing.repeat) * std::max(timing.min_repeat_ms * 1e-3, mean * static_cast<double>(timing.number));
    if (timing.repeat >= 2 && mean >= 1e-3) cvs.push_back(m.timing.cv());
  }
  // The build phase ends when the first candidate's run begins; all_cost_seconds of the first
  // measurement is its build share plus the time from its run's start to its result.
  const auto& first = batch.measurements.front();
  const double first_run_phase = first.record.result.all_cost_seconds - first.build_seconds;
  const double build_wall = std::max(0.0, first_result_at - first_run_phase);
  const double run_phase = wall - build_wall;

  state.counters["candidates_per_s"] = count / wall;
  state.counters["with_task_per_s"] = count / (wall + task_seconds);
  state.counters["task_s"] = task_seconds;
  state.counters["generate_s"] = w.generate_seconds;
  state.counters["build_wall_s"] = build_wall;
  state.counters["build_s"] = build_wall / count;
  state.counters["compile_s"] = sum_build / count;
  state.counters["run_phase_s"] = run_phase;
  state.counters["sum_run_s"] = sum_run;
  state.counters["overhead_ms"] = (wall - sum_run) / count * 1e3;
  state.counters["overhead_no_build_ms"] = (wall - sum_run - sum_build) / count * 1e3;
  state.counters["runner_overhead_ms"] = (run_phase - sum_run) / count * 1e3;
  state.counters["protocol_ms"] = sum_protocol / count * 1e3;
  state.counters["overhead_vs_protocol_ms"] = (wall - sum_protocol) / count * 1e3;
  state.counters["timed_out_s"] = timed_out;
  state.counters["overhead_ex_timeouts_ms"] = (wall - sum_protocol - timed_out) / count * 1e3;
  state.counters["timing_excess_ms"] = (sum_run - sum_protocol) / count * 1e3;
  state.counters["median_kernel_ms"] = median(means) * 1e3;
  state.counters["ok"] = static_cast<double>(ok);
  state.counters["measured"] = count;
  if (!cvs.empty()) {
    state.counters["median_cv"] = median(cvs);
    state.counters["max_cv"] = *std::max_element(cvs.begin(), cvs.end());
    state.counters["cv_candidates"] = static_cast<double>(cvs.size());
  }
  for (const auto& [code, k] : failures) label += numbered((", " + code + " ").c_str(), static_cast<std::int64_t>(k));
  if (batch.stopped()) label += ", stopped: " + batch.stop_reason.substr(0, 200);
  state.SetLabel(label);
}
BENCHMARK(BM_measure)
    ->ArgNames({"n", "tuning", "kpu"})
    ->Args({256, 0, 4})
    ->Args({256, 0, 1})
    ->Args({256, 1, 4})
    ->Args({1024, 0, 4})
    ->Args({1024, 1, 4})
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
