// bench_codegen — the tensor-program generator: how fast it makes candidates, how fast it replays logs,
// what compiling a candidate costs, and how good random candidates are.
//
//   * sample / mutate / apply: CPU candidates per second for GEMM 1024³ and a ResNet-50 3×3 convolution
//     (apply = building the State from the candidate's steps, i.e. the validity check);
//   * replay: records of the corpus (bench_corpus.hpp) whose DAG crosstune rebuilds from the workload key,
//     replayed onto it per second (DAGs built once beforehand, as a Replayer keeps them);
//   * lower + emit: candidates turned into C++ per second;
//   * compile: seconds per candidate, 16 candidates in one translation unit against one file each;
//   * kernel quality: the best of 200 random candidates for GEMM 1024³ and the ResNet-50 layer, against
//     Eigen's GEMM and im2col + Eigen on the same threads (the starting point the tuner must beat).
//     GFLOP/s and the ratio to Eigen are reported as counters; the kernels run with OMP_NUM_THREADS and
//     Eigen with as many threads (default: all hardware threads).
#include <benchmark/benchmark.h>

#include <Eigen/Dense>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "bench_corpus.hpp"
#include "crosstune/measure/compiler.hpp"
#include "crosstune/codegen/cpu.hpp"
#include "crosstune/codegen/lower.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/schedule/cpu_sketch.hpp"
#include "crosstune/schedule/replay.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {
using namespace crosstune;

/// prefix + number + suffix (written out: GCC 12 reports a false -Wrestrict on "k" + std::to_string(i)).
std::string numbered(const char* prefix, std::int64_t number, const char* suffix = "") {
  std::string s(prefix);
  s += std::to_string(number);
  s += suffix;
  return s;
}

std::shared_ptr<const ir::ComputeDag> gemm_dag() {
  static const auto dag = std::make_shared<const ir::ComputeDag>(ir::matmul(1024, 1024, 1024).value());
  return dag;
}
ir::Conv2dParams resnet_conv() {  // ResNet-50, stage 2: 3×3, 64 → 64 channels at 56×56, batch 1
  ir::Conv2dParams p{};
  p.batch = 1, p.in_channels = 64, p.in_height = 56, p.in_width = 56, p.out_channels = 64;
  p.kernel_h = p.kernel_w = 3;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  return p;
}
std::shared_ptr<const ir::ComputeDag> conv_dag() {
  static const auto dag = std::make_shared<const ir::ComputeDag>(ir::conv2d(resnet_conv()).value());
  return dag;
}
std::shared_ptr<const ir::ComputeDag> dag_of(int which) { return which == 0 ? gemm_dag() : conv_dag(); }
const char* name_of(int which) { return which == 0 ? "gemm1024" : "resnet50_conv3x3"; }

int threads() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  const int n = env ? std::atoi(env) : static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, n);
}
schedule::CpuSketchSpace space_of(int which) {
  schedule::CpuSketchOptions options;
  options.cores = threads();
  return schedule::CpuSketchSpace::make(dag_of(which), options).value();
}
std::filesystem::path bench_dir() {
  const char* env = std::getenv("CROSSTUNE_BENCH_DIR");
  std::filesystem::path dir = std::filesystem::path(env ? env : "build/bench-files") / "codegen";
  std::filesystem::create_directories(dir);
  return dir;
}

// ---- candidate generation -----------------------------------------------------------------------

void BM_sample(benchmark::State& state) {
  const auto space = space_of(static_cast<int>(state.range(0)));
  Rng rng(1);
  std::uint64_t h = 0;
  for (auto _ : state) h ^= space.sample(rng).hash();
  benchmark::DoNotOptimize(h);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(name_of(static_cast<int>(state.range(0))));
}
BENCHMARK(BM_sample)->Arg(0)->Arg(1);

void BM_mutate(benchmark::State& state) {
  const auto space = space_of(static_cast<int>(state.range(0)));
  Rng rng(2);
  auto c = space.sample(rng);
  for (auto _ : state) {
    c = space.mutate(c, rng);
    benchmark::DoNotOptimize(c.values.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(name_of(static_cast<int>(state.range(0))));
}
BENCHMARK(BM_mutate)->Arg(0)->Arg(1);

void BM_apply(benchmark::State& state) {
  const auto space = space_of(static_cast<int>(state.range(0)));
  Rng rng(3);
  std::vector<schedule::CpuCandidate> pool;
  for (int i = 0; i < 1024; ++i) pool.push_back(space.sample(rng));
  std::size_t i = 0;
  for (auto _ : state) {
    auto s = space.apply(pool[i++ % pool.size()]);
    benchmark::DoNotOptimize(s.has_value());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(name_of(static_cast<int>(state.range(0))));
}
BENCHMARK(BM_apply)->Arg(0)->Arg(1);

void BM_lower_and_emit(benchmark::State& state) {
  const auto space = space_of(static_cast<int>(state.range(0)));
  Rng rng(4);
  std::vector<schedule::State> states;
  for (int i = 0; i < 64; ++i) states.push_back(space.apply(space.sample(rng)).value());
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    auto nest = codegen::lower(states[i++ % states.size()]).value();
    bytes += codegen::emit_cpp(nest).size();
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(name_of(static_cast<int>(state.range(0))));
}
BENCHMARK(BM_lower_and_emit)->Arg(0)->Arg(1);

// ---- replay -----------------------------------------------------------------------------------

void BM_replay(benchmark::State& state) {
  static const std::vector<Record> records = [] {
    std::vector<Record> named;  // records whose DAG crosstune rebuilds from the key
    schedule::Replayer probe;
    for (const auto& file : bench::corpus_files()) {
      auto all = io::read_log_file(file);
      if (!all) continue;
      for (auto& r : *all)
        if (probe.dag(r.task->workload_key)) named.push_back(std::move(r));
    }
    return named;
  }();
  if (records.empty()) {
    state.SkipWithError("no named-family record in the corpus");
    return;
  }
  schedule::Replayer replayer;
  std::size_t i = 0, replayed = 0;
  for (const auto& r : records) (void)replayer.dag(r.task->workload_key);  // DAGs built once, outside the timing
  for (auto _ : state) replayed += replayer.replay(records[i++ % records.size()]).has_value() ? 1 : 0;
  state.SetItemsProcessed(state.iterations());
  state.counters["replayed_fraction"] = static_cast<double>(replayed) / static_cast<double>(state.iterations());
  state.SetLabel(std::to_string(records.size()) + " records of named workloads");
}
BENCHMARK(BM_replay);

// ---- compilation --------------------------------------------------------------------------------

std::vector<std::string> kernels(int which, int count, std::uint64_t seed) {
  const auto space = space_of(which);
  Rng rng(seed);
  std::vector<std::string> out;
  std::unordered_set<std::uint64_t> seen;
  while (static_cast<int>(out.size()) < count) {
    const auto c = space.sample(rng);
    if (!seen.insert(c.hash()).second) continue;
    codegen::CpuCodegenOptions o;
    o.function_name = numbered("k", static_cast<std::int64_t>(out.size()));
    o.preamble = false;
    out.push_back(codegen::emit_cpp(codegen::lower(space.apply(c).value()).value(), o));
  }
  return out;
}

void BM_compile(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const bool batched = state.range(1) != 0;
  constexpr int count = 16;
  const auto sources = kernels(which, count, 5);
  const auto dir = bench_dir();
  for (auto _ : state) {
    if (batched) {
      std::string all = codegen::cpu_preamble();
      for (const auto& s : sources) all += s;
      if (!measure::compile_shared_library(all, dir / "batched.so")) state.SkipWithError("compile failed");
    } else {
      for (int i = 0; i < count; ++i)
        if (!measure::compile_shared_library(codegen::cpu_preamble() + sources[static_cast<std::size_t>(i)], dir / numbered("one", i, ".so")))
          state.SkipWithError("compile failed");
    }
  }
  state.SetItemsProcessed(state.iterations() * count);
  state.counters["seconds_per_candidate"] =
      benchmark::Counter(static_cast<double>(count) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel(std::string(name_of(which)) + (batched ? ", 16 in one file" : ", one file each"));
}
BENCHMARK(BM_compile)->Args({0, 0})->Args({0, 1})->Args({1, 0})->Args({1, 1})->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

// ---- kernel quality -----------------------------------------------------------------------------

template <class F>
double best_seconds(F&& run, double budget_seconds = 0.5) {
  run();  // warm up
  double best = 1e30, spent = 0;
  for (int i = 0; i < 10 && spent < budget_seconds; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    spent += s;
  }
  return best;
}

/// The peer: Eigen's GEMM, or im2col + Eigen's GEMM for the convolution, on `threads()` threads.
double eigen_seconds(int which) {
  Eigen::setNbThreads(threads());
  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  if (which == 0) {
    Matrix a = Matrix::Random(1024, 1024), b = Matrix::Random(1024, 1024), c(1024, 1024);
    return best_seconds([&] { c.noalias() = a * b; });
  }
  const auto p = resnet_conv();
  const std::int64_t oh = p.out_height(), ow = p.out_width(), k = p.in_channels * p.kernel_h * p.kernel_w;
  Matrix data = Matrix::Random(p.in_channels, p.in_height * p.in_width), kernel = Matrix::Random(p.out_channels, k);
  Matrix cols(k, oh * ow), out(p.out_channels, oh * ow);
  return best_seconds([&] {
    for (std::int64_t c = 0; c < p.in_channels; ++c)
      for (std::int64_t ky = 0; ky < p.kernel_h; ++ky)
        for (std::int64_t kx = 0; kx < p.kernel_w; ++kx) {
          const std::int64_t row = (c * p.kernel_h + ky) * p.kernel_w + kx;
          for (std::int64_t y = 0; y < oh; ++y)
            for (std::int64_t x = 0; x < ow; ++x) {
              const std::int64_t iy = y + ky - p.pad_top, ix = x + kx - p.pad_left;
              cols(row, y * ow + x) = (iy < 0 || iy >= p.in_height || ix < 0 || ix >= p.in_width) ? 0.0f : data(c, iy * p.in_width + ix);
            }
        }
    out.noalias() = kernel * cols;
  });
}

void BM_best_of_random(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const int count = static_cast<int>(state.range(1));
  const auto dag = dag_of(which);
  const auto dir = bench_dir();
  double best = 1e30, eigen = 0;
  for (auto _ : state) {
    const auto sources = kernels(which, count, 11);
    // Batches of 20 per translation unit: a bad kernel costs its own run, not a whole rebuild.
    std::vector<float> a_in, b_in;
    std::vector<std::vector<float>> buffers;
    for (const auto& op : dag->ops())
      if (op->placeholder) buffers.emplace_back(static_cast<std::size_t>(op->element_count()), 0.5f);
    buffers.emplace_back(static_cast<std::size_t>(dag->op(dag->size() - 1).element_count()), 0.0f);
    std::vector<float*> args;
    for (auto& b : buffers) args.push_back(b.data());
    for (int first = 0; first < count; first += 20) {
      std::string source = codegen::cpu_preamble();
      for (int i = first; i < std::min(count, first + 20); ++i) source += sources[static_cast<std::size_t>(i)];
      const auto lib = dir / numbered(which == 0 ? "quality_gemm_" : "quality_conv_", first, ".so");
      if (!measure::compile_shared_library(source, lib)) {
        state.SkipWithError("compile failed");
        return;
      }
      auto library = measure::SharedLibrary::open(lib).value();
      for (int i = first; i < std::min(count, first + 20); ++i) {
        auto kernel = library.function<void(float* const*)>(numbered("k", i, "_packed")).value();
        best = std::min(best, best_seconds([&] { kernel(args.data()); }, 0.2));
      }
    }
    eigen = eigen_seconds(which);
  }
  const double flops = static_cast<double>(dag->flops());
  state.counters["best_gflops"] = flops / best * 1e-9;
  state.counters["eigen_gflops"] = flops / eigen * 1e-9;
  state.counters["best_vs_eigen"] = eigen / best;
  state.counters["threads"] = threads();
  state.SetLabel(std::string(name_of(which)) + ", best of " + std::to_string(count) + " random candidates");
}
BENCHMARK(BM_best_of_random)->Args({0, 200})->Args({1, 200})->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
