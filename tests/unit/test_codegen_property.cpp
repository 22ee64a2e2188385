// The code-generation property test: for every operator family, at small shapes with odd sizes and sizes
// of 1 and at a larger shape, distinct random CPU candidates (all of them when the space is smaller) are
// lowered, emitted, compiled (all of a case in one translation unit, built with -O3 -march=native
// -fopenmp) and run, and each must match ir/reference.hpp within 1e-4 relative. One case is also built
// with Clang when it is installed. CROSSTUNE_CODEGEN_CANDIDATES sets the candidates per case (default 100):
// ctest's codegen.property takes 25 (about a minute and a half on two cores), codegen.property_full
// (label long) 100.
#include <doctest/doctest.h>

#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "crosstune/measure/compiler.hpp"
#include "crosstune/codegen/cpu.hpp"
#include "crosstune/codegen/lower.hpp"
#include "crosstune/schedule/cpu_sketch.hpp"
#include "operator_cases.hpp"
#include "test_support.hpp"

using namespace crosstune;

namespace {
/// Candidates per case: CROSSTUNE_CODEGEN_CANDIDATES, else 100; the test fails on a value out of range.
int candidates_per_case() {
  const char* text = std::getenv("CROSSTUNE_CODEGEN_CANDIDATES");
  if (text == nullptr) return 100;
  const int n = std::atoi(text);
  REQUIRE_MESSAGE((n >= 1 && n <= 10000), "CROSSTUNE_CODEGEN_CANDIDATES=" << text << ": give a count in [1, 10000]");
  return n;
}

struct Batch {
  std::string source;
  std::vector<std::string> names;
  std::uint64_t space_size = 0;  ///< distinct candidates the case's space holds
};

/// `wanted` distinct candidates of the case, as one translation unit. Uniform draws (prior 0):
/// every sketch and tile factor as often as any other, not only the ones the tuner's prior favours.
Batch emit_batch(const test::OperatorCase& c, int wanted, Rng& rng) {
  auto space = schedule::CpuSketchSpace::make(c.dag, {.cores = 2, .prior = 0.0}).value();
  Batch batch;
  batch.space_size = space.size();
  batch.source = codegen::cpu_preamble();
  std::unordered_set<std::uint64_t> seen;
  for (int attempt = 0; attempt < 50 * wanted && static_cast<int>(batch.names.size()) < wanted; ++attempt) {
    auto candidate = space.sample(rng);
    if (attempt % 2 == 1) candidate = space.mutate(candidate, rng);
    if (!seen.insert(candidate.hash()).second) continue;
    auto state = space.apply(candidate);
    REQUIRE_MESSAGE(state.has_value(), state.error().describe());
    auto nest = codegen::lower(*state);
    REQUIRE_MESSAGE(nest.has_value(), nest.error().describe());
    codegen::CpuCodegenOptions options;
    options.preamble = false;
    options.function_name = "k" + std::to_string(batch.names.size());
    batch.source += codegen::emit_cpp(*nest, options);
    batch.names.push_back(options.function_name);
  }
  return batch;
}

/// Runs every kernel of the batch on the case's inputs; returns how many matched the reference.
int check_batch(const test::OperatorCase& c, const Batch& batch, const std::filesystem::path& library_path) {
  auto library = measure::SharedLibrary::open(library_path).value();
  int matched = 0;
  for (const auto& name : batch.names) {
    auto kernel = library.function<void(float* const*)>(name + "_packed").value();
    std::vector<std::vector<float>> buffers = c.inputs;
    buffers.emplace_back(c.expected.size(), -12345.0f);
    std::vector<float*> args;
    for (auto& b : buffers) args.push_back(b.data());
    kernel(args.data());
    const double error = test::worst_relative_error(buffers.back(), c.expected);
    CHECK_MESSAGE(error < 1e-4, c.name << ": kernel " << name << " is off by " << error);
    matched += error < 1e-4 ? 1 : 0;
  }
  return matched;
}
}  // namespace

TEST_CASE("random candidates of every operator family compile and match the reference") {
  Rng rng(19);
  const auto cases = test::operator_cases(rng, /*large=*/true);
  const test::TempDir dir;
  std::vector<Batch> batches;
  const int wanted = candidates_per_case();
  for (const auto& c : cases) batches.push_back(emit_batch(c, wanted, rng));
  // Two compilers at a time (CI has two cores).
  std::vector<std::future<Expected<void>>> builds(cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (i >= 2) builds[i - 2].wait();
    builds[i] = std::async(std::launch::async, [&, i] {
      return measure::compile_shared_library(batches[i].source, dir / ("case" + std::to_string(i) + ".so"));
    });
  }
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(cases[i].name);
    auto built = builds[i].get();
    REQUIRE_MESSAGE(built.has_value(), built.error().describe());
    // A space smaller than that (element-wise operators at small shapes) is tested whole.
    CHECK(batches[i].names.size() == std::min<std::uint64_t>(static_cast<std::uint64_t>(wanted), batches[i].space_size));
    CHECK(check_batch(cases[i], batches[i], dir / ("case" + std::to_string(i) + ".so")) == static_cast<int>(batches[i].names.size()));
  }
}

TEST_CASE("generated kernels also build with Clang and match the reference") {
  Rng rng(23);
  const auto cases = test::operator_cases(rng);
  const test::TempDir dir;
  measure::CompileOptions clang;
  clang.compiler = "clang++";
  for (std::size_t i : {std::size_t{0}, std::size_t{5}}) {  // a matmul and a convolution
    const Batch batch = emit_batch(cases[i], candidates_per_case(), rng);
    const auto library = dir / ("clang" + std::to_string(i) + ".so");
    auto built = measure::compile_shared_library(batch.source, library, clang);
    if (!built && built.error().message.find("cannot run the compiler") != std::string::npos) {
      MESSAGE("clang++ is not installed: skipped");
      return;
    }
    if (!built && built.error().message.find("-lomp") != std::string::npos) {
      MESSAGE("Clang's OpenMP runtime (libomp-dev) is not installed: built with -fopenmp-simd only");
      clang.openmp = false;
      built = measure::compile_shared_library(batch.source, library, clang);
    }
    REQUIRE_MESSAGE(built.has_value(), built.error().describe());
    CHECK(check_batch(cases[i], batch, dir / ("clang" + std::to_string(i) + ".so")) == static_cast<int>(batch.names.size()));
  }
}
