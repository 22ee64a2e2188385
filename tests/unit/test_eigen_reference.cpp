// The Eigen reference kernels: each supported family, built with Eigen's headers, computes what the DAG
// computes (against the DAG interpreter on one thread and on three, in the Runner's forked worker, and
// through the LocalMeasurer against the unscheduled kernel); everything else, and a signature that is not the
// DAG's, is refused with a reason; eigen_include_dir finds Eigen or says what to do.
#include "crosstune/codegen/eigen_reference.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "crosstune/codegen/cpu.hpp"
#include "crosstune/codegen/lower.hpp"
#include "crosstune/ir/evaluate.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/ir/workloads.hpp"
#include "crosstune/measure/builder.hpp"
#include "crosstune/measure/compiler.hpp"
#include "crosstune/measure/local_measurer.hpp"
#include "crosstune/measure/runner.hpp"
#include "crosstune/schedule/state.hpp"
#include "operator_cases.hpp"
#include "test_support.hpp"

using namespace crosstune;
using test::share;

namespace {
using crosstune::test::contains;

/// "name3" (built with +=: GCC 12 warns falsely about "literal" + std::to_string).
std::string numbered(const char* prefix, std::size_t i) {
  std::string name = prefix;
  name += std::to_string(i);
  return name;
}

/// The signature of crosstune's kernels for `dag` (its unscheduled loop nest's).
measure::KernelSignature signature_of(const std::shared_ptr<const ir::ComputeDag>& dag) {
  return codegen::kernel_signature(codegen::lower(schedule::State(dag)).value());
}

/// Compile options that find Eigen (the test fails when it cannot be found).
measure::CompileOptions eigen_compile_options() {
  measure::CompileOptions options;
  auto dir = codegen::eigen_include_dir();
  REQUIRE_MESSAGE(dir.has_value(), dir.error().describe());
  options.extra_flags.push_back("-I" + dir->string());
  return options;
}

ir::Conv2dParams conv(ir::Layout layout, std::int64_t batch, std::int64_t in_channels, std::int64_t height,
                      std::int64_t width, std::int64_t out_channels, std::int64_t kernel) {
  ir::Conv2dParams p;
  p.layout = layout;
  p.batch = batch, p.in_channels = in_channels, p.in_height = height, p.in_width = width,
  p.out_channels = out_channels;
  p.kernel_h = p.kernel_w = kernel;
  return p;
}

struct Case {
  std::string name;
  std::shared_ptr<const ir::ComputeDag> dag;
};

/// Every family the Eigen reference supports, at small shapes with odd sizes.
std::vector<Case> supported_cases() {
  std::vector<Case> cases;
  auto add = [&](std::string name, Expected<ir::ComputeDag> dag) {
    cases.push_back({std::move(name), share(std::move(dag))});
  };
  add("matmul", ir::matmul(13, 7, 21));
  add("matmul 1x1x1", ir::matmul(1, 1, 1));
  add("matmul_add", ir::dag_from_workload_key(R"(["matmul_add", 9, 5, 11])"));
  add("dense", ir::dense(6, 17, 10, false));
  add("dense + bias + relu", ir::dense(7, 33, 12, true, ir::Activation::relu));
  add("dense + gelu", ir::dense(5, 19, 9, false, ir::Activation::gelu));
  add("dense + bias + gelu", ir::dense(4, 8, 300, true, ir::Activation::gelu));
  add("batch_matmul NT", ir::batch_matmul(3, 3, 5, 7, 6));
  add("batch_matmul NN, B broadcast", ir::batch_matmul(4, 1, 6, 5, 7, false));
  add("batch_matmul NT, A broadcast", ir::batch_matmul(1, 5, 3, 9, 4));
  add("batch_matmul of one", ir::batch_matmul(1, 1, 8, 3, 5, false));
  {
    auto p = conv(ir::Layout::nchw, 2, 3, 11, 10, 5, 3);  // strided, padded unevenly, dilated
    p.stride_h = 2, p.stride_w = 1, p.pad_top = 1, p.pad_left = 2, p.pad_bottom = 0, p.pad_right = 1,
    p.dilation_h = 2, p.dilation_w = 3;
    add("conv2d NCHW strided padded dilated", ir::conv2d(p));
    p.layout = ir::Layout::nhwc;
    add("conv2d NHWC strided padded dilated", ir::conv2d(p));
  }
  {
    auto p = conv(ir::Layout::nchw, 1, 8, 26, 26, 6, 3);  // im2col large enough for its parallel loop
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    add("conv2d NCHW 3x3 same", ir::conv2d(p));
    p.layout = ir::Layout::nhwc;
    add("conv2d NHWC 3x3 same", ir::conv2d(p));
  }
  add("conv2d NCHW 1x1", ir::conv2d(conv(ir::Layout::nchw, 2, 6, 5, 7, 4, 1)));
  add("conv2d NHWC 1x1", ir::conv2d(conv(ir::Layout::nhwc, 2, 6, 5, 7, 4, 1)));
  {
    auto p = conv(ir::Layout::nchw, 1, 4, 9, 9, 3, 1);  // 1x1 but strided: im2col after all
    p.stride_h = p.stride_w = 2;
    add("conv2d NCHW 1x1 stride 2", ir::conv2d(p));
  }
  add("conv2d_layer", ir::dag_from_workload_key(R"(["conv2d_layer", 2, 4, 9, 8, 6, 3, 3, 2, "SAME"])"));
  add("conv2d_layer tutorial, bias + relu",
      ir::dag_from_workload_key(R"(["conv2d_layer", 1, 7, 7, 5, 3, 3, 3, [1, 1], [1, 1]])"));
  return cases;
}

/// The DAG's output for the measurers' inputs of `seed`, from the interpreter.
std::vector<float> interpreted(const ir::ComputeDag& dag, const measure::KernelSignature& signature,
                               std::uint64_t seed) {
  std::vector<std::vector<float>> inputs;
  for (std::size_t i = 0; i + 1 < signature.buffers.size(); ++i) {
    inputs.emplace_back(static_cast<std::size_t>(signature.buffers[i].elements));
    measure::fill_input(inputs.back(), seed, i);
  }
  auto outputs = ir::evaluate(dag, inputs);
  REQUIRE_MESSAGE(outputs.has_value(), outputs.error().describe());
  return outputs->front();
}

/// A Runner (its own forked worker: OpenMP never runs in the test process, whose thread pool a forked
/// worker could not use) with `threads` OpenMP threads, one timed repeat.
measure::Runner runner_with(int threads, const std::filesystem::path& dir) {
  measure::RunOptions options;
  options.threads = threads;
  options.timing.repeat = 1;
  options.timeout_s = 60;
  auto runner = measure::Runner::make(options, dir);
  REQUIRE_MESSAGE(runner.has_value(), runner.error().describe());
  return std::move(*runner);
}
}  // namespace

TEST_CASE("eigen_include_dir finds a folder holding Eigen's headers") {
  auto dir = codegen::eigen_include_dir();
  REQUIRE_MESSAGE(dir.has_value(), dir.error().describe());
  CHECK(std::filesystem::is_regular_file(*dir / "Eigen" / "Core"));
  CHECK(std::filesystem::is_regular_file(*dir / "Eigen" / "Dense"));
}

TEST_CASE(
    "the include folder is the configured one when given, else the first candidate that holds Eigen, else an "
    "error that says what to do") {
  const test::TempDir dir;
  std::filesystem::create_directories(dir / "good" / "Eigen");
  test::write_file(dir / "good" / "Eigen" / "Core", "// Eigen\n");
  std::filesystem::create_directories(dir / "empty");
  const std::vector<std::filesystem::path> candidates = {dir / "empty", dir / "missing", dir / "good"};
  CHECK(codegen::eigen_detail::find_include_dir({}, candidates).value() == dir / "good");
  CHECK(codegen::eigen_detail::find_include_dir(dir / "good", std::vector<std::filesystem::path>{}).value() ==
        dir / "good");

  auto wrong =
      codegen::eigen_detail::find_include_dir(dir / "empty", candidates);  // configured: no falling back
  REQUIRE_FALSE(wrong.has_value());
  CHECK(contains(wrong.error().message, "CROSSTUNE_EIGEN_INCLUDE_DIR names " + (dir / "empty").string()));

  auto none = codegen::eigen_detail::find_include_dir(
      {}, std::vector<std::filesystem::path>{dir / "empty", dir / "missing"});
  REQUIRE_FALSE(none.has_value());
  CHECK(contains(none.error().message, (dir / "missing").string()));
  CHECK(contains(none.error().hint, "libeigen3-dev"));
  CHECK(contains(none.error().hint, "CROSSTUNE_EIGEN_INCLUDE_DIR"));
}

TEST_CASE(
    "a reference is one extern C entry over the packed args, with a preamble every Eigen reference shares") {
  auto dag = share(ir::matmul(8, 4, 6));
  const auto signature = signature_of(dag);
  const auto a = codegen::eigen_reference_kernel(*dag, signature).value();
  const auto b = codegen::eigen_reference_kernel(*share(ir::dense(3, 4, 5, true)),
                                                 signature_of(share(ir::dense(3, 4, 5, true))),
                                                 {.function_name = "dense_eigen"})
                     .value();
  CHECK(a.entry == "crosstune_eigen");
  CHECK(contains(a.body, "extern \"C\" void crosstune_eigen(float* const* args) {"));
  CHECK(contains(a.body, "c.noalias() = a * b;"));
  CHECK(contains(a.preamble, "#include <Eigen/Core>"));
  CHECK(b.entry == "dense_eigen");
  CHECK(contains(b.body, "data * weight.transpose()"));
  CHECK(contains(b.body, "epilogue<ct_eigen::Activation::none>(args[3], 3, 5, args[2], nullptr)"));
  CHECK(a.preamble == b.preamble);
  // A 1x1 unstrided convolution multiplies the image in place; a 3x3 one goes through im2col.
  auto direct = share(ir::conv2d(conv(ir::Layout::nchw, 1, 4, 5, 5, 2, 1)));
  auto windowed = share(ir::conv2d(conv(ir::Layout::nhwc, 1, 4, 5, 5, 2, 3)));
  CHECK_FALSE(
      contains(codegen::eigen_reference_kernel(*direct, signature_of(direct)).value().body, "im2col"));
  CHECK(contains(codegen::eigen_reference_kernel(*windowed, signature_of(windowed)).value().body,
                 "ct_eigen::im2col_nhwc(image, col, window);"));
}

TEST_CASE("every supported family computes what its DAG computes, on one thread and on three") {
  const auto cases = supported_cases();
  std::vector<measure::KernelSource> kernels;
  std::vector<measure::KernelSignature> signatures;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    signatures.push_back(signature_of(cases[i].dag));
    auto kernel = codegen::eigen_reference_kernel(*cases[i].dag, signatures.back(),
                                                  {.function_name = numbered("eigen", i)});
    REQUIRE_MESSAGE(kernel.has_value(), cases[i].name, ": ", kernel.error().describe());
    kernels.push_back(std::move(*kernel));
  }
  // All in one translation unit (they share the preamble): one compiler run for Eigen's headers.
  const test::TempDir dir;
  auto builder = measure::Builder::make({.work_dir = dir.path(),
                                         .compile = eigen_compile_options(),
                                         .jobs = 1,
                                         .kernels_per_unit = kernels.size(),
                                         .timeout_s = 300})
                     .value();
  const auto built = builder.build(kernels);
  REQUIRE_MESSAGE(built.front().ok(), built.front().message);
  for (int threads : {1, 3}) {  // three threads on two CPUs or more: the batches in parallel, then not
    CAPTURE(threads);
    measure::Runner runner = runner_with(threads, dir.path());
    for (std::size_t i = 0; i < cases.size(); ++i) {
      CAPTURE(cases[i].name);
      REQUIRE(built[i].ok());
      CHECK(built[i].library == built.front().library);
      const std::uint64_t seed = 11 + i;
      REQUIRE(runner.set_task({.signature = signatures[i],
                               .seed = seed,
                               .reference_values = {interpreted(*cases[i].dag, signatures[i], seed)}}));
      const measure::RunResult result = runner.run(built[i].library, built[i].entry);
      CHECK_MESSAGE(result.ok(), result.message);
    }
  }
}

TEST_CASE(
    "the check above can fail: a reference checked against another operator's outputs is a wrong answer") {
  // dense with ReLU against the interpreter of the same shape without it: the negative outputs differ.
  auto relu = share(ir::dense(6, 9, 7, true, ir::Activation::relu));
  auto plain = share(ir::dense(6, 9, 7, true));
  const auto signature = signature_of(relu);
  const auto kernel = codegen::eigen_reference_kernel(*relu, signature).value();
  const test::TempDir dir;
  REQUIRE(
      measure::compile_shared_library(kernel.preamble + kernel.body, dir / "relu.so", eigen_compile_options())
          .has_value());
  measure::Runner runner = runner_with(1, dir.path());
  REQUIRE(runner.set_task(
      {.signature = signature, .seed = 5, .reference_values = {interpreted(*relu, signature, 5)}}));
  CHECK(runner.run(dir / "relu.so", kernel.entry).ok());
  REQUIRE(runner.set_task(
      {.signature = signature, .seed = 5, .reference_values = {interpreted(*plain, signature, 5)}}));
  CHECK(runner.run(dir / "relu.so", kernel.entry).error == ErrorCode::wrong_answer);
}

TEST_CASE(
    "the LocalMeasurer measures an Eigen reference like any candidate, checked against the unscheduled "
    "kernel") {
  const test::TempDir dir;
  measure::LocalMeasurerOptions options;
  options.build.work_dir = dir / "build";
  options.build.jobs = 1;
  options.build.compile = eigen_compile_options();
  options.build.timeout_s = 300;
  options.run.threads = 2;
  options.run.timing.repeat = 2;
  auto measurer = measure::LocalMeasurer::make(options).value();
  ir::Conv2dParams p = conv(ir::Layout::nchw, 2, 5, 12, 12, 7, 3);
  p.stride_h = p.stride_w = 2, p.pad_top = p.pad_left = 1, p.dilation_h = 2;
  const std::vector<std::shared_ptr<const ir::ComputeDag>> dags = {
      share(ir::matmul(64, 48, 80)), share(ir::conv2d(p)), share(ir::batch_matmul(4, 4, 16, 24, 8))};
  for (const auto& dag : dags) {
    CAPTURE(dag->workload_key());
    const auto nest = codegen::lower(schedule::State(dag)).value();
    const measure::KernelSignature signature = codegen::kernel_signature(nest);
    REQUIRE(measurer.set_task({.signature = signature,
                               .seed = 3,
                               .reference = codegen::kernel_source(nest, {.function_name = "reference"})}));
    measure::Candidate candidate;
    candidate.kernel = codegen::eigen_reference_kernel(*dag, signature).value();
    const auto batch = measurer.measure(std::span<const measure::Candidate>(&candidate, 1));
    REQUIRE(batch.measurements.size() == 1);
    const measure::Measurement& m = batch.measurements.front();
    CHECK_MESSAGE(m.ok(), m.message);
    CHECK(m.timing.costs_seconds.size() == 2);
    CHECK(m.timing.min_seconds() > 0);
  }
}

TEST_CASE("operators without an Eigen implementation are refused as unsupported, naming the family") {
  auto refused = [](Expected<ir::ComputeDag> built, const std::string& family) {
    CAPTURE(family);
    auto dag = share(std::move(built));
    auto kernel = codegen::eigen_reference_kernel(*dag, signature_of(dag));
    REQUIRE_FALSE(kernel.has_value());
    CHECK(kernel.error().kind == ErrorKind::unsupported);
    CHECK(contains(kernel.error().message, family));
  };
  refused(ir::softmax({4, 8}, 1), "'crosstune.softmax'");
  refused(ir::unary({16}, ir::UnaryOp::relu), "'crosstune.unary'");
  refused(ir::depthwise_conv2d(conv(ir::Layout::nchw, 1, 4, 6, 6, 4, 3)), "'crosstune.depthwise_conv2d'");
  auto grouped = conv(ir::Layout::nchw, 1, 4, 6, 6, 4, 3);
  grouped.groups = 2;
  refused(ir::conv2d(grouped), "2 groups");
  refused(ir::dag_from_workload_key(R"(["relu_layer", 4, 4])"), "'relu_layer'");
  refused(ir::dag_from_workload_key(R"(["depthwise_conv2d_layer", 1, 4, 8, 8, 3, 3, 1, 1])"),
          "'depthwise_conv2d_layer'");
  // A DAG whose key is a subgraph hash, or not a key at all.
  auto matmul = ir::matmul(4, 4, 4).value();
  std::vector<ir::OperationPtr> ops(matmul.ops().begin(), matmul.ops().end());
  std::vector<std::int32_t> outputs(matmul.outputs().begin(), matmul.outputs().end());
  refused(ir::ComputeDag(ops, outputs, R"(["f3351bf9aef587a2fb1bf57b0fc78601", [4, 4], [4, 4], [4, 4]])"),
          "subgraph");
  refused(ir::ComputeDag(ops, outputs, "my matmul"), "does not parse");
}

TEST_CASE("a signature that is not the DAG's is refused, naming the buffer") {
  auto dag = share(ir::dense(6, 5, 4, true, ir::Activation::relu));
  const measure::KernelSignature good = signature_of(dag);
  REQUIRE(codegen::eigen_reference_kernel(*dag, good).has_value());
  auto refused = [&](const measure::KernelSignature& signature, const std::string& part) {
    CAPTURE(part);
    auto kernel = codegen::eigen_reference_kernel(*dag, signature);
    REQUIRE_FALSE(kernel.has_value());
    CHECK(kernel.error().kind == ErrorKind::invalid_argument);
    CHECK(contains(kernel.error().message, part));
    CHECK(contains(kernel.error().hint, "kernel_signature"));
  };
  measure::KernelSignature wrong_count = good;
  wrong_count.buffers[1].elements += 1;
  refused(wrong_count,
          "buffer 1 ('weight') of the signature holds 21 elements, the DAG's 'weight' [4, 5] has 20");
  measure::KernelSignature missing = good;
  missing.buffers.erase(missing.buffers.begin() + 2);  // no bias
  refused(missing, "the signature has 3 buffers, the DAG's kernel takes 4");
  measure::KernelSignature swapped = good;
  swapped.buffers[2].output = true;
  swapped.buffers[3].output = false;
  refused(swapped, "buffer 2 ('bias') of the signature is marked as an output");
  refused(measure::KernelSignature{}, "no buffers");
  // Another DAG's signature, with as many buffers.
  refused(signature_of(share(ir::dense(6, 5, 3, true))), "'weight'");
}

TEST_CASE(
    "a DAG that does not compute what its key names, a malformed key and a bad function name are refused") {
  auto matmul = ir::matmul(4, 5, 6).value();
  std::vector<ir::OperationPtr> ops(matmul.ops().begin(), matmul.ops().end());
  std::vector<std::int32_t> outputs(matmul.outputs().begin(), matmul.outputs().end());
  const ir::ComputeDag lying(ops, outputs, R"(["matmul_layer", 4, 5, 7])");
  auto kernel = codegen::eigen_reference_kernel(
      lying, measure::KernelSignature{{{"A", 20}, {"B", 30}, {"compute", 24, true}}});
  REQUIRE_FALSE(kernel.has_value());
  CHECK(kernel.error().kind == ErrorKind::invalid_argument);
  CHECK(contains(kernel.error().message, "input 'B' is [5, 6], the key implies [5, 7]"));

  const ir::ComputeDag malformed(ops, outputs, R"(["matmul_layer", 4, "five", 6])");
  auto schema = codegen::eigen_reference_kernel(
      malformed, measure::KernelSignature{{{"A", 20}, {"B", 30}, {"compute", 24, true}}});
  REQUIRE_FALSE(schema.has_value());
  CHECK(schema.error().kind == ErrorKind::schema);

  const ir::ComputeDag right(ops, outputs, matmul.workload_key());
  for (const char* name : {"", "2fast", "a-b", "ct_eigen"}) {
    CAPTURE(name);
    auto named = codegen::eigen_reference_kernel(
        right, measure::KernelSignature{{{"A", 20}, {"B", 30}, {"compute", 24, true}}},
        {.function_name = name});
    REQUIRE_FALSE(named.has_value());
    CHECK(named.error().kind == ErrorKind::invalid_argument);
  }
}
