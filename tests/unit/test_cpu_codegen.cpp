// The C++ emitter: what a kernel looks like (signature, names, pragmas, tiles) and that kernels built
// from it compute the reference's result. The property test over hundreds of random candidates per
// operator family is tests/unit/test_codegen_property.cpp.
#include "crosstune/codegen/cpu.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "crosstune/measure/builder.hpp"
#include "crosstune/measure/compiler.hpp"
#include "crosstune/ir/evaluate.hpp"
#include "crosstune/ir/operators.hpp"
#include "operator_cases.hpp"
#include "test_support.hpp"

using namespace crosstune;
using test::share;

namespace {
using crosstune::test::contains;

/// A matmul with a local accumulator tile, a parallel fused outer loop, a vector loop and auto-unroll.
schedule::State tiled_matmul(std::shared_ptr<const ir::ComputeDag> dag) {
  schedule::State s(std::move(dag));
  s.cache_write(2, "local").value();
  s.split(3, 0, {8}).value();
  s.split(3, 2, {16}).value();
  const std::int64_t order[] = {0, 2, 1, 3};
  s.reorder(3, order).value();
  s.compute_at(2, 3, 1).value();
  const std::int64_t fuse[] = {0, 1};
  s.fuse(3, fuse).value();
  s.annotate(3, 0, IteratorAnnotation::parallel).value();
  s.annotate(3, 2, IteratorAnnotation::vectorize).value();
  s.annotate(2, 1, IteratorAnnotation::vectorize).value();
  s.pragma(2, 0, "auto_unroll_max_step$16").value();
  return s;
}

/// Builds `source` and checks that each kernel named in `names` computes out[M, N] = a[M, K] · b[K, N].
void check_matmul_kernels(const std::string& source, std::initializer_list<const char*> names, std::int64_t m,
                          std::int64_t n, std::int64_t k, std::uint64_t seed) {
  const crosstune::test::TempDir dir;
  auto built = measure::compile_shared_library(source, dir / "k.so");
  REQUIRE_MESSAGE(built.has_value(), built.error().describe());
  auto library = measure::SharedLibrary::open(dir / "k.so").value();
  Rng rng(seed);
  std::vector<float> a = test::random_values(m * k, rng), b = test::random_values(k * n, rng);
  std::vector<float> want(static_cast<std::size_t>(m * n));
  ir::reference::matmul(a, b, want, m, n, k).value();
  for (const char* name : names) {
    auto kernel = library.function<void(const float*, const float*, float*)>(name).value();
    std::vector<float> got(static_cast<std::size_t>(m * n), -1.0f);
    kernel(a.data(), b.data(), got.data());
    CHECK_MESSAGE(test::worst_relative_error(got, want) < 1e-4, name);
  }
}
}  // namespace

TEST_CASE("a kernel is one extern C function over restrict pointers, inputs first, with a packed entry") {
  auto dag = share(ir::matmul(32, 16, 48));
  const std::string source = codegen::emit_cpp(codegen::lower(schedule::State(dag)).value(), {.function_name = "mm"});
  CHECK(contains(source, "extern \"C\" void mm(const float* __restrict A, const float* __restrict B, float* __restrict compute) {"));
  CHECK(contains(source, "extern \"C\" void mm_packed(float* const* args) {\n  mm(args[0], args[1], args[2]);"));
  CHECK(contains(source, "for (long x = 0; x < 32; ++x) {"));
  CHECK(contains(source, "compute[x * 48 + y] += A[x * 16 + k] * B[k * 48 + y];"));
  CHECK(contains(source, "compute[x * 48 + y] = 0.0f;"));
  // 32-bit loop variables only on request (and only while every extent fits them)
  const std::string narrow = codegen::emit_cpp(codegen::lower(schedule::State(dag)).value(), {.function_name = "mm", .wide_indices = false});
  CHECK(contains(narrow, "for (int x = 0; x < 32; ++x) {"));
  CHECK_FALSE(contains(narrow, "for (long "));
  CHECK_FALSE(contains(source, "for (int "));
}

TEST_CASE("annotations become OpenMP and unroll pragmas, tiles stack arrays") {
  auto dag = share(ir::matmul(64, 32, 64));
  const std::string source = codegen::emit_cpp(codegen::lower(tiled_matmul(dag)).value(), {.function_name = "mm"});
  CHECK(contains(source, "#pragma omp parallel for\n  for (long x_0_y_0_ = 0; x_0_y_0_ < 32; ++x_0_y_0_) {"));
  CHECK(contains(source, "#pragma omp simd"));
  CHECK(contains(source, "alignas(64) float compute_local[128];"));
  CHECK(contains(source, "CROSSTUNE_UNROLL("));
  // without OpenMP: no omp pragmas, the same loops
  codegen::CpuCodegenOptions serial;
  serial.openmp = false;
  const std::string plain = codegen::emit_cpp(codegen::lower(tiled_matmul(dag)).value(), serial);
  CHECK_FALSE(contains(plain, "#pragma omp"));
  // a tile over the stack limit goes to the heap
  codegen::CpuCodegenOptions small_stack;
  small_stack.stack_tile_bytes = 64;
  CHECK(contains(codegen::emit_cpp(codegen::lower(tiled_matmul(dag)).value(), small_stack), "ct_heap_buffer compute_local_storage(128);"));
}

TEST_CASE("an index that can be negative divides with floor division, and the kernel agrees with the DAG") {
  ir::DagBuilder b;
  const ir::Tensor a = b.placeholder("A", {10});
  const ir::Tensor out = b.compute("shifted", {{"i", 8}}, [&](ir::ExprPool&, std::span<const ir::Expr> v) {
    return a(ir::floordiv(v[0] - 3.0, 2) + 2.0);  // floordiv(-3, 2) = -2: C's '/' would give -1
  });
  auto dag = share(b.build({out}, "shifted"));
  const std::string source = codegen::emit_cpp(codegen::lower(schedule::State(dag)).value(), {.function_name = "shifted"});
  CHECK(contains(source, "ct_floordiv(i - 3, 2)"));
  const crosstune::test::TempDir dir;
  REQUIRE(measure::compile_shared_library(source, dir / "shifted.so").has_value());
  auto library = measure::SharedLibrary::open(dir / "shifted.so").value();
  auto kernel = library.function<void(const float*, float*)>("shifted").value();
  std::vector<float> in(10), got(8);
  for (int i = 0; i < 10; ++i) in[static_cast<std::size_t>(i)] = static_cast<float>(i);
  kernel(in.data(), got.data());
  CHECK(got == ir::evaluate(*dag, std::vector<std::vector<float>>{in}).value()[0]);
}

TEST_CASE("padding becomes a conditional load, with no buffer for the inlined padding stage") {
  ir::Conv2dParams p{};
  p.in_channels = 2, p.in_height = 6, p.in_width = 6, p.out_channels = 2, p.kernel_h = 3, p.kernel_w = 3;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  auto dag = share(ir::conv2d(p));
  schedule::State s(dag);
  s.compute_inline(1).value();
  const std::string source = codegen::emit_cpp(codegen::lower(s).value());
  CHECK(contains(source, "? data["));
  CHECK(contains(source, " : 0.0f)"));
  CHECK_FALSE(contains(source, "pad_temp"));
}

TEST_CASE("several kernels share one translation unit when only the first carries the preamble") {
  auto dag = share(ir::matmul(4, 4, 4));
  const auto nest = codegen::lower(schedule::State(dag)).value();
  codegen::CpuCodegenOptions first, second;
  first.function_name = "k0";
  second.function_name = "k1";
  second.preamble = false;
  const std::string both = codegen::emit_cpp(nest, first) + codegen::emit_cpp(nest, second);
  CHECK(contains(both, "void k0("));
  CHECK(contains(both, "void k1("));
  std::size_t count = 0;
  for (std::size_t at = both.find("ct_heap_buffer {"); at != std::string::npos; at = both.find("ct_heap_buffer {", at + 1)) ++count;
  CHECK(count == 1);
}

TEST_CASE("emitted kernels compile and compute the reference's result") {
  auto dag = share(ir::matmul(64, 32, 64));
  std::string source = codegen::emit_cpp(codegen::lower(tiled_matmul(dag)).value(), {.function_name = "tiled"});
  codegen::CpuCodegenOptions plain;
  plain.function_name = "plain";
  plain.preamble = false;
  source += codegen::emit_cpp(codegen::lower(schedule::State(dag)).value(), plain);
  check_matmul_kernels(source, {"tiled", "plain"}, 64, 64, 32, 8);
}

namespace {
/// A matmul's x and y split by `rows` and `lanes` under k (x.0 y.0 k x.1 y.1), the lanes vectorised or not.
schedule::State split_tile(std::shared_ptr<const ir::ComputeDag> dag, std::int64_t rows, std::int64_t lanes, bool vectorise) {
  schedule::State s(std::move(dag));
  s.split(2, 0, {rows}).value();
  s.split(2, 2, {lanes}).value();
  const std::int64_t order[] = {0, 2, 4, 1, 3};
  s.reorder(2, order).value();
  if (vectorise) s.annotate(2, 4, IteratorAnnotation::vectorize).value();
  return s;
}

/// A 32^3 matmul tiled x_0, y_0, k, x_1, y_1 with tile x_tile by y_tile unrolled under the k loop.
schedule::State register_tile(std::shared_ptr<const ir::ComputeDag> dag, std::int64_t x_tile, std::int64_t y_tile) {
  schedule::State s = split_tile(std::move(dag), x_tile, y_tile, false);
  s.pragma(2, 0, "auto_unroll_max_step$512").value();
  return s;
}
}  // namespace

TEST_CASE("a reduction loop around an unrolled register tile stays scalar, and the kernel is still right") {
  // GCC would vectorise the k loop with a vector accumulator per tile statement (cpu.hpp says why not)
  auto dag = share(ir::matmul(32, 32, 32));
  // (the tile's promotion to a local array is left out here: the next test case has it)
  const std::string big = codegen::emit_cpp(codegen::lower(register_tile(dag, 16, 16)).value(), {.function_name = "big", .promote_register_tiles = false});
  CHECK(contains(big, "#pragma omp simd safelen(1) simdlen(1)  // a register tile's reduction: kept scalar\n      for (long k = 0;"));
  CHECK(contains(big, "CROSSTUNE_UNROLL(16)\n        for (long x_1 = 0;"));
  // a tile of 4 statements: GCC's vectorised reduction is no slower, the loop is left alone
  codegen::CpuCodegenOptions small_options;
  small_options.function_name = "small";
  small_options.preamble = false;
  small_options.promote_register_tiles = false;
  const std::string small = codegen::emit_cpp(codegen::lower(register_tile(dag, 2, 2)).value(), small_options);
  CHECK_FALSE(contains(small, "safelen"));
  // a tile whose inner loop is vectorised keeps its omp simd, and the k loop is left alone
  auto vectorised_tile = register_tile(dag, 16, 16);
  vectorised_tile.annotate(2, 4, IteratorAnnotation::vectorize).value();
  codegen::CpuCodegenOptions vectorised_options;
  vectorised_options.function_name = "vectorised";
  vectorised_options.preamble = false;
  vectorised_options.promote_register_tiles = false;
  const std::string vectorised = codegen::emit_cpp(codegen::lower(vectorised_tile).value(), vectorised_options);
  CHECK_FALSE(contains(vectorised, "safelen"));
  CHECK(contains(vectorised, "#pragma omp simd\n          for (long y_1 = 0;"));
  // a loop left inside the k loop (the tile is not unrolled): nothing to keep scalar
  const schedule::State rolled = split_tile(dag, 16, 16, false);
  codegen::CpuCodegenOptions rolled_options;
  rolled_options.function_name = "rolled";
  rolled_options.preamble = false;
  const std::string plain = codegen::emit_cpp(codegen::lower(rolled).value(), rolled_options);
  CHECK_FALSE(contains(plain, "safelen"));
  // without OpenMP there is no pragma at all
  codegen::CpuCodegenOptions serial;
  serial.openmp = false;
  CHECK_FALSE(contains(codegen::emit_cpp(codegen::lower(register_tile(dag, 16, 16)).value(), serial), "#pragma omp"));

  check_matmul_kernels(big + small + vectorised + plain, {"big", "small", "vectorised", "rolled"}, 32, 32, 32, 9);
}

TEST_CASE("a register tile under its reduction loop accumulates in a local array, and the kernel is still right") {
  // GCC keeps a slice of a larger buffer in memory across the reduction loop (cpu.hpp, register_tile)
  auto dag = share(ir::matmul(32, 16, 128));
  auto vector_tile = [&](std::int64_t rows, std::int64_t lanes) { return split_tile(dag, rows, lanes, true); };
  auto source = [&](const schedule::State& s, const char* name, bool promote = true) {
    codegen::CpuCodegenOptions options;
    options.function_name = name;
    options.preamble = std::string(name) == "tile";
    options.promote_register_tiles = promote;
    return codegen::emit_cpp(codegen::lower(s).value(), options);
  };
  const std::string tile = source(vector_tile(8, 32), "tile");
  CHECK(contains(tile, "alignas(64) float ct_tile[256];"));
  CHECK(contains(tile, "ct_tile[x_1 * 32 + y_1] = compute["));
  CHECK(contains(tile, "for (long k = 0; k < 16; ++k) {"));
  CHECK(contains(tile, "ct_tile[x_1 * 32 + y_1] += A["));
  CHECK(contains(tile, "] = ct_tile[x_1 * 32 + y_1];"));
  CHECK_FALSE(contains(source(vector_tile(8, 32), "off", false), "ct_tile"));
  // more elements than 32 AVX-512 registers hold: left in its buffer
  const std::string wide = source(vector_tile(16, 64), "wide");
  CHECK_FALSE(contains(wide, "ct_tile"));
  // a tile loop neither unrolled nor vectorised stays a loop: nothing to promote
  const std::string plain = source(split_tile(dag, 8, 32, false), "rolled");
  CHECK_FALSE(contains(plain, "ct_tile"));
  // an unrolled tile under a reduction loop kept scalar: promoted, the loop still kept scalar
  schedule::State scalar = split_tile(dag, 16, 16, false);
  scalar.pragma(2, 0, "auto_unroll_max_step$512").value();
  const std::string kept_scalar = source(scalar, "scalar");
  CHECK(contains(kept_scalar, "float ct_tile[256];"));
  CHECK(contains(kept_scalar, "#pragma omp simd safelen(1) simdlen(1)  // a register tile's reduction: kept scalar\n"));

  check_matmul_kernels(tile + wide + plain + kept_scalar, {"tile", "wide", "rolled", "scalar"}, 32, 128, 16, 12);
}

TEST_CASE("the rows of a vector tile are unrolled whatever auto_unroll_max_step says, and the kernel is still right") {
  // GCC keeps an 8x64 accumulator tile in memory when its row loop stays a loop (cpu.hpp says why)
  auto dag = share(ir::matmul(32, 16, 128));
  auto vector_tile = [&](std::int64_t rows, std::int64_t lanes) { return split_tile(dag, rows, lanes, true); };
  auto source = [&](const schedule::State& s, const char* name) {
    codegen::CpuCodegenOptions options;
    options.function_name = name;
    options.preamble = std::string(name) == "rows8";
    options.promote_register_tiles = false;  // the next test case has it
    return codegen::emit_cpp(codegen::lower(s).value(), options);
  };
  const std::string rows8 = source(vector_tile(8, 64), "rows8");
  CHECK(contains(rows8, "CROSSTUNE_UNROLL(8)\n        for (long x_1 = 0; x_1 < 8; ++x_1) {\n          #pragma omp simd\n"));
  // more rows than the limit, or more elements than 32 AVX-512 registers hold: left to the schedule
  const std::string rows32 = source(vector_tile(32, 16), "rows32");
  CHECK_FALSE(contains(rows32, "CROSSTUNE_UNROLL"));
  const std::string wide = source(vector_tile(16, 64), "wide");
  CHECK_FALSE(contains(wide, "CROSSTUNE_UNROLL"));
  // a row loop whose lanes are not vectorised is left alone
  const std::string rows_scalar = source(split_tile(dag, 8, 64, false), "scalar");
  CHECK_FALSE(contains(rows_scalar, "CROSSTUNE_UNROLL"));
  // without OpenMP the rows are still unrolled (the pragma is GCC's or Clang's own)
  codegen::CpuCodegenOptions serial;
  serial.openmp = false;
  CHECK(contains(codegen::emit_cpp(codegen::lower(vector_tile(8, 64)).value(), serial), "CROSSTUNE_UNROLL(8)"));

  check_matmul_kernels(rows8 + rows32 + wide + rows_scalar, {"rows8", "rows32", "wide", "scalar"}, 32, 128, 16, 10);
}

TEST_CASE("a parallel loop accumulating in place in an output passes the buffers to its body again as restrict parameters") {
  // OpenMP's outlined body loses __restrict (cpu.hpp, shared_buffers, says what it costs)
  auto dag = share(ir::matmul(32, 16, 64));
  schedule::State in_place = split_tile(dag, 8, 16, true);  // x.0 y.0 k x.1 y.1, accumulating in the output
  in_place.annotate(2, 0, IteratorAnnotation::parallel).value();
  auto source = [&](const schedule::State& s, const char* name, bool restrict_bodies) {
    codegen::CpuCodegenOptions options;
    options.function_name = name;
    options.preamble = std::string(name) == "lambda";
    options.restrict_parallel_bodies = restrict_bodies;
    return codegen::emit_cpp(codegen::lower(s).value(), options);
  };
  const std::string lambda = source(in_place, "lambda", true);
  CHECK(contains(lambda, "for (long x_0 = 0; x_0 < 4; ++x_0) {\n"
                         "    [&](const float* __restrict A, const float* __restrict B, float* __restrict compute) {"));
  CHECK(contains(lambda, "    }(A, B, compute);\n  }\n"));
  // (the 8x16 tile under k is accumulated in ct_tile, then stored into the output)
  CHECK(contains(lambda, "compute[x_0 * 512 + x_1 * 64 + y_0 * 16 + y_1] = ct_tile[x_1 * 16 + y_1];"));
  // turned off: the loop body as it is
  const std::string plain = source(in_place, "plain", false);
  CHECK_FALSE(contains(plain, "[&]("));
  // a parallel loop that accumulates into a local tile only (cache_write) keeps its body as it is
  const std::string local = source(tiled_matmul(dag), "local", true);
  CHECK(contains(local, "#pragma omp parallel for"));
  CHECK_FALSE(contains(local, "[&]("));
  // without OpenMP there is no parallel region and no lambda
  codegen::CpuCodegenOptions serial;
  serial.openmp = false;
  CHECK_FALSE(contains(codegen::emit_cpp(codegen::lower(in_place).value(), serial), "[&]("));

  check_matmul_kernels(lambda + plain + local, {"lambda", "plain", "local"}, 32, 64, 16, 11);
}

TEST_CASE("kernel_signature and kernel_source give the measurers the kernel's buffers and a unit-sharable source") {
  auto dag = share(ir::matmul(8, 4, 6));
  const auto nest = codegen::lower(tiled_matmul(dag)).value();
  const measure::KernelSignature signature = codegen::kernel_signature(nest);
  REQUIRE(signature.buffers.size() == 3);
  CHECK(signature.buffers[0] == measure::BufferSpec{"A", 8 * 4, false});
  CHECK(signature.buffers[1] == measure::BufferSpec{"B", 4 * 6, false});
  CHECK(signature.buffers[2].elements == 8 * 6);
  CHECK(signature.buffers[2].output);
  CHECK(signature.validate().has_value());
  const measure::KernelSource a = codegen::kernel_source(nest, {.function_name = "ka"});
  const measure::KernelSource b = codegen::kernel_source(nest, {.function_name = "kb", .preamble = true});  // the preamble is kept apart
  CHECK(a.preamble == codegen::cpu_preamble());
  CHECK(a.entry == "ka_packed");
  CHECK(contains(a.body, "extern \"C\" void ka_packed(float* const* args)"));
  CHECK_FALSE(contains(b.body, "ct_heap_buffer {"));
  // Both in one translation unit, through the Builder, compute what the DAG does.
  const test::TempDir dir;
  auto builder = measure::Builder::make({.work_dir = dir.path(), .jobs = 1, .kernels_per_unit = 2}).value();
  const std::vector<measure::KernelSource> kernels = {a, b};
  const auto built = builder.build(kernels);
  REQUIRE_MESSAGE(built[0].ok(), built[0].message);
  REQUIRE_MESSAGE(built[1].ok(), built[1].message);
  CHECK(built[0].library == built[1].library);
  auto library = measure::SharedLibrary::open(built[0].library).value();
  auto* kernel = library.function<void(float* const*)>("kb_packed").value();
  std::vector<std::vector<float>> buffers;
  for (std::size_t i = 0; i < signature.buffers.size(); ++i) {
    buffers.emplace_back(static_cast<std::size_t>(signature.buffers[i].elements), 0.0f);
    if (!signature.buffers[i].output) measure::fill_input(buffers.back(), 3, i);
  }
  std::vector<float*> args;
  for (auto& v : buffers) args.push_back(v.data());
  kernel(args.data());
  for (int x = 0; x < 8; ++x)
    for (int y = 0; y < 6; ++y) {
      float want = 0;
      for (int k = 0; k < 4; ++k) want += buffers[0][static_cast<std::size_t>(x * 4 + k)] * buffers[1][static_cast<std::size_t>(k * 6 + y)];
      CHECK(buffers[2][static_cast<std::size_t>(x * 6 + y)] == doctest::Approx(want).epsilon(1e-5));
    }
}
