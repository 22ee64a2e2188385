// search::transfer_schedules (Transfer-Tuning, Gibson & Cano): schedules sampled on one matmul or conv2d
// transplanted to other shapes of the same kernel class apply, lower, split the target's loops by the
// divisor rule, come ranked and deduplicated, compute the right result when compiled and run, and
// records of other kernel classes give nothing, with the reason.
#include "crosstune/search/transfer_tuning.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crosstune/codegen/cpu.hpp"
#include "crosstune/codegen/lower.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/ir/workloads.hpp"
#include "crosstune/measure/local_measurer.hpp"
#include "crosstune/schedule/cpu_sketch.hpp"
#include "crosstune/schedule/state.hpp"
#include "operator_cases.hpp"

using namespace crosstune;

namespace {

using crosstune::test::share;

std::shared_ptr<const Task> task_of(const ir::ComputeDag& dag) {
  auto task = std::make_shared<Task>();
  task->workload_key = dag.workload_key();
  task->target = Target("llvm -keys=cpu -num-cores=2");
  task->hardware_params.num_cores = 2;
  return task;
}

Record record_of(const std::shared_ptr<const Task>& task, StepSequence steps, double seconds) {
  Record r;
  r.task = task;
  r.steps = std::move(steps);
  r.result.costs_seconds = {seconds};
  r.version = current_log_version;
  return r;
}

/// `n` candidates sampled from the CPU sketches of `dag` (2 cores), as records with made-up costs that
/// are not in sampling order: record i costs (1 + (7i mod n)) ms times `scale`.
std::vector<Record> sampled_records(const std::shared_ptr<const ir::ComputeDag>& dag, std::size_t n, std::uint64_t seed, double scale = 1) {
  auto space = schedule::CpuSketchSpace::make(dag, {.cores = 2}).value();
  Rng rng(seed);
  const auto task = task_of(*dag);
  std::vector<Record> out;
  for (std::size_t i = 0; i < n; ++i) {
    const schedule::State state = space.apply(space.sample(rng)).value();
    out.push_back(record_of(task, state.steps(), scale * 1e-3 * static_cast<double>(1 + (7 * i) % n)));
  }
  return out;
}

/// The divisor rule, written out again: innermost length first, each kept if it divides what is left,
/// else the largest divisor of what is left not above it.
std::vector<std::int64_t> rule(std::int64_t extent, std::vector<std::int64_t> lengths) {
  std::int64_t left = extent;
  for (std::size_t k = lengths.size(); k-- > 0;) {
    std::int64_t d = std::min(lengths[k], left);
    while (left % d != 0) --d;
    lengths[k] = d;
    left /= d;
  }
  return lengths;
}

/// Replays `c` on `dag` step by step: every split's extent is the loop's at that step, and its lengths
/// are the source split's lengths under the rule (or unchanged with keep_lengths); then it lowers.
void check_candidate(const search::TransferCandidate& c, const std::shared_ptr<const ir::ComputeDag>& dag,
                     std::span<const Record> tuned, bool keep_lengths = false) {
  const StepSequence& source = tuned[c.source_record].steps;
  REQUIRE(c.steps.size() == source.size());
  schedule::State state(dag);
  for (std::size_t i = 0; i < c.steps.size(); ++i) {
    const StepView step = c.steps[i];
    REQUIRE(step.kind() == source[i].kind());
    if (step.kind() == StepKind::split) {
      const std::int64_t extent = state.stage(static_cast<std::size_t>(step.stage_id())).extent(static_cast<std::size_t>(step.iter_id()));
      REQUIRE(extent > 0);  // the sketches split before compute_at: extents are known
      CHECK(step.extent() == extent);
      const std::vector<std::int64_t> recorded(source[i].lengths().begin(), source[i].lengths().end());
      const std::vector<std::int64_t> got(step.lengths().begin(), step.lengths().end());
      CHECK(got == (keep_lengths ? recorded : rule(extent, recorded)));
      if (!keep_lengths) {
        std::int64_t product = 1;
        for (auto l : got) product *= l;
        CHECK(extent % product == 0);  // a perfect split
      }
    }
    const auto applied = state.apply(step);
    REQUIRE_MESSAGE(applied.has_value(), applied.error().describe());
  }
  const auto nest = codegen::lower(state);
  REQUIRE_MESSAGE(nest.has_value(), nest.error().describe());
}

/// A hand-made SSRSRS-like schedule of the matmul in `dag` with the given x, y and k split lengths.
StepSequence tiled_matmul(const std::shared_ptr<const ir::ComputeDag>& dag, std::vector<std::int64_t> x, std::vector<std::int64_t> y,
                          std::int64_t k) {
  schedule::State s(dag);
  s.split(2, 0, x).value();  // x.0 .. x.3, y, k
  s.split(2, 4, y).value();  // x.0 .. x.3, y.0 .. y.3, k
  const std::int64_t ks[] = {k};
  s.split(2, 8, ks).value();  // ..., k.0, k.1
  const std::int64_t order[] = {0, 4, 1, 5, 8, 2, 6, 9, 3, 7};
  s.reorder(2, order).value();
  const std::int64_t fuse[] = {0, 1};
  s.fuse(2, fuse).value();
  s.annotate(2, 0, IteratorAnnotation::parallel).value();
  s.annotate(2, 8, IteratorAnnotation::vectorize).value();
  s.pragma(2, 0, "auto_unroll_max_step$16").value();
  return s.steps();
}

ir::Conv2dParams conv_params(std::int64_t in_c, std::int64_t hw, std::int64_t out_c, std::int64_t pad) {
  ir::Conv2dParams p{};
  p.batch = 1, p.in_channels = in_c, p.in_height = hw, p.in_width = hw, p.out_channels = out_c;
  p.kernel_h = p.kernel_w = 3;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  return p;
}

/// Builds, checks against the unscheduled kernel and times each schedule of `dag`; every one must be ok().
void measure_all(const std::shared_ptr<const ir::ComputeDag>& dag, const std::vector<StepSequence>& schedules) {
  measure::LocalMeasurerOptions o;
  o.run.threads = 2;
  o.run.timing.repeat = 1;
  o.run.timing.min_repeat_ms = 0;
  o.run.timeout_s = 30;
  o.build.kernels_per_unit = 8;
  auto measurer = measure::LocalMeasurer::make(o).value();
  const auto unscheduled = codegen::lower(schedule::State(dag)).value();
  measure::MeasureTask task;
  task.signature = codegen::kernel_signature(unscheduled);
  task.seed = 3;
  codegen::CpuCodegenOptions reference;
  reference.function_name = "crosstune_reference";
  task.reference = codegen::kernel_source(unscheduled, reference);
  REQUIRE(measurer.set_task(task).has_value());
  std::vector<measure::Candidate> candidates;
  const auto record_task = task_of(*dag);
  for (std::size_t i = 0; i < schedules.size(); ++i) {
    schedule::State state(dag);
    REQUIRE(state.apply(schedules[i]).has_value());
    codegen::CpuCodegenOptions cpp;
    cpp.function_name = "transplanted";
    cpp.function_name += std::to_string(i);
    measure::Candidate c;
    c.kernel = codegen::kernel_source(codegen::lower(state).value(), cpp);
    c.record.task = record_task;
    c.record.steps = schedules[i];
    candidates.push_back(std::move(c));
  }
  const measure::BatchResult batch = measurer.measure(candidates);
  REQUIRE(batch.measurements.size() == schedules.size());
  for (const auto& m : batch.measurements) CHECK_MESSAGE(m.ok(), m.message);
}

}  // namespace

TEST_CASE("the divisor rule keeps the inner lengths that divide and shrinks the others; the extents become the target's") {
  const auto source = share(ir::matmul(256, 256, 256));
  const auto target = share(ir::matmul(384, 200, 128));  // x 384, k 200, y 128
  const std::vector<Record> tuned = {record_of(task_of(*source), tiled_matmul(source, {4, 16, 8}, {2, 8, 16}, 16), 1e-3)};
  search::TransferReport report;
  const auto out = search::transfer_schedules(*target, tuned, {}, &report);
  REQUIRE(out.size() == 1);
  CHECK(report.compatible_sources == 1);
  CHECK(report.adapted == 1);
  CHECK(report.refused == 0);
  std::vector<std::vector<std::int64_t>> lengths;
  std::vector<std::int64_t> extents;
  for (StepView s : out[0].steps)
    if (s.kind() == StepKind::split) {
      lengths.emplace_back(s.lengths().begin(), s.lengths().end());
      extents.push_back(s.extent());
    }
  // x: 8 | 384 → 48, 16 | 48 → 3, 4 ∤ 3 → 3 (outer 1); y: 16 | 128 → 8, 8 | 8 → 1, 2 ∤ 1 → 1; k: 16 ∤ 200 → 10
  CHECK(extents == std::vector<std::int64_t>{384, 128, 200});
  CHECK(lengths == std::vector<std::vector<std::int64_t>>{{3, 16, 8}, {1, 8, 16}, {10}});
  CHECK(out[0].changed_lengths == 3);
  CHECK(out[0].source_key == source->workload_key());
  CHECK(out[0].source_seconds == doctest::Approx(1e-3));
  CHECK(out[0].flops_ratio == doctest::Approx(static_cast<double>(target->flops()) / static_cast<double>(source->flops())));
  // everything but the splits is copied: the pragma, the annotations, the reorder and the fusion
  const StepSequence& from = tuned[0].steps;
  for (std::size_t i = 0; i < from.size(); ++i)
    if (from[i].kind() != StepKind::split) CHECK(from[i].data().first == out[0].steps[i].data().first);
  CHECK(out[0].steps[out[0].steps.size() - 1].pragma_type() == "auto_unroll_max_step$16");
  check_candidate(out[0], target, tuned);

  // keep_lengths: only the extents change, the imperfect splits lower with guards
  const auto kept = search::transfer_schedules(*target, tuned, {.keep_lengths = true});
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].changed_lengths == 0);
  check_candidate(kept[0], target, tuned, true);
}

TEST_CASE("sampled matmul schedules transplanted to a matmul of non-dividing extents apply, lower and follow the rule") {
  const auto source = share(ir::matmul(256, 256, 256));
  const auto target = share(ir::matmul(384, 200, 128));
  const std::vector<Record> tuned = sampled_records(source, 32, 11);
  search::TransferReport report;
  const auto out = search::transfer_schedules(*target, tuned, {.per_task = 0, .sources_per_key = 0}, &report);
  CHECK(report.compatible_sources == tuned.size());
  CHECK(report.incompatible_sources == 0);
  CHECK(report.refused == 0);
  CHECK_MESSAGE(report.first_refusal.empty(), report.first_refusal);
  CHECK(report.adapted == out.size());
  CHECK(out.size() + report.duplicates == tuned.size());
  REQUIRE(out.size() >= 8);
  std::size_t changed = 0;
  for (const auto& c : out) {
    check_candidate(c, target, tuned);
    changed += c.changed_lengths;
  }
  CHECK(changed > 0);  // 200 is not a power of two: some k split had to change
  // the same schedules with the recorded lengths lower too
  const auto kept = search::transfer_schedules(*target, tuned, {.per_task = 4, .sources_per_key = 4, .keep_lengths = true});
  REQUIRE(kept.size() == 4);
  for (const auto& c : kept) check_candidate(c, target, tuned, true);
}

TEST_CASE("the best source comes first: by cost relative to its own task, then by the nearest FLOPs") {
  const auto near = share(ir::matmul(256, 256, 256));
  const auto far = share(ir::matmul(64, 64, 64));
  const auto target = share(ir::matmul(384, 200, 128));
  std::vector<Record> tuned = sampled_records(far, 16, 5, 0.01);  // far: absolutely faster, relatively the same
  const std::vector<Record> near_records = sampled_records(near, 16, 6);
  tuned.insert(tuned.end(), near_records.begin(), near_records.end());
  auto best_of = [&](std::size_t first, std::size_t count) {
    std::size_t best = first;
    for (std::size_t i = first; i < first + count; ++i)
      if (tuned[i].result.mean_cost_seconds() < tuned[best].result.mean_cost_seconds()) best = i;
    return best;
  };
  search::TransferReport report;
  const auto out = search::transfer_schedules(*target, tuned, {.per_task = 6, .sources_per_key = 3}, &report);
  REQUIRE(out.size() == 6);
  CHECK(out[0].source_record == best_of(16, 16));
  CHECK(out[0].source_key == near->workload_key());
  CHECK(out[0].source_relative == 1.0);
  CHECK(out[1].source_record == best_of(0, 16));
  CHECK(out[1].source_key == far->workload_key());
  CHECK(out[1].source_relative == 1.0);
  for (std::size_t i = 1; i < out.size(); ++i) CHECK(out[i - 1].source_relative <= out[i].source_relative);
  CHECK(out[2].source_relative > 1.0);
  CHECK(report.compatible_sources == 32);
  for (const auto& c : out) check_candidate(c, target, tuned);

  // within one task, cheaper first; sources_per_key bounds what is used
  const std::vector<Record> one(near_records.begin(), near_records.end());
  const auto three = search::transfer_schedules(*target, one, {.per_task = 8, .sources_per_key = 3});
  REQUIRE(three.size() == 3);
  CHECK(three[0].source_record == best_of(16, 16) - 16);
  CHECK(three[0].source_seconds < three[1].source_seconds);
  CHECK(three[1].source_seconds < three[2].source_seconds);
}

TEST_CASE("identical schedules, recorded or once adapted, are returned once") {
  const auto source = share(ir::matmul(256, 256, 256));
  const auto target = share(ir::matmul(384, 200, 128));
  // [8, 16, 8] and [4, 16, 8] both become [3, 16, 8] on 384
  const auto task = task_of(*source);
  const std::vector<Record> two = {record_of(task, tiled_matmul(source, {4, 16, 8}, {2, 8, 16}, 16), 1e-3),
                                   record_of(task, tiled_matmul(source, {8, 16, 8}, {2, 8, 16}, 16), 2e-3)};
  REQUIRE_FALSE(two[0].steps == two[1].steps);
  search::TransferReport report;
  const auto out = search::transfer_schedules(*target, two, {}, &report);
  CHECK(out.size() == 1);
  CHECK(report.duplicates == 1);
  CHECK(out[0].source_record == 0);

  // every sampled record twice: the copies are duplicates, the candidates all differ
  std::vector<Record> tuned = sampled_records(source, 24, 21);
  const auto once = search::transfer_schedules(*target, tuned, {.per_task = 0, .sources_per_key = 0});
  const std::vector<Record> copy = tuned;
  tuned.insert(tuned.end(), copy.begin(), copy.end());
  search::TransferReport twice_report;
  const auto twice = search::transfer_schedules(*target, tuned, {.per_task = 0, .sources_per_key = 0}, &twice_report);
  CHECK(twice.size() == once.size());
  CHECK(twice_report.duplicates >= 24);
  for (std::size_t i = 0; i < twice.size(); ++i)
    for (std::size_t j = i + 1; j < twice.size(); ++j) CHECK_FALSE(twice[i].steps == twice[j].steps);
}

TEST_CASE("conv2d schedules transplant to another conv2d of the same structure (other sizes, no padding)") {
  const auto source = share(ir::conv2d(conv_params(16, 14, 32, 1)));
  const auto target = share(ir::conv2d(conv_params(12, 9, 20, 0)));  // 7x7 output, 20 channels, 12 in
  CHECK(search::same_kernel_class(*source, *target).has_value());
  const std::vector<Record> tuned = sampled_records(source, 24, 31);
  search::TransferReport report;
  const auto out = search::transfer_schedules(*target, tuned, {.per_task = 0, .sources_per_key = 0}, &report);
  CHECK(report.compatible_sources == 24);
  CHECK_MESSAGE(report.refused == 0, report.first_refusal);
  REQUIRE(out.size() >= 8);
  for (const auto& c : out) check_candidate(c, target, tuned);
  // the public log's name of the same computation is one class with crosstune's
  const auto named = share(ir::dag_from_workload_key(R"(["conv2d_layer", 1, 12, 9, 9, 20, 3, 3, 1, 0])"));
  CHECK(search::same_kernel_class(*named, *target).has_value());
  CHECK(search::transfer_schedules(*named, tuned, {.per_task = 2}).size() == 2);
}

TEST_CASE("records of another kernel class give no candidate, and the report and same_kernel_class say why") {
  const auto matmul = share(ir::matmul(256, 256, 256));
  const auto conv = share(ir::conv2d(conv_params(16, 14, 32, 1)));
  const std::vector<Record> matmul_records = sampled_records(matmul, 8, 41);
  const std::vector<Record> conv_records = sampled_records(conv, 8, 42);

  search::TransferReport report;
  CHECK(search::transfer_schedules(*conv, matmul_records, {}, &report).empty());
  CHECK(report.incompatible_sources == 8);
  CHECK(report.compatible_sources == 0);
  CHECK(report.adapted == 0);
  CHECK(report.first_incompatibility.find("the operators differ: conv2d") != std::string::npos);
  CHECK(report.first_incompatibility.find("matmul (matmul_layer)") != std::string::npos);

  // conv2d + bias + ReLU (the tutorial form of conv2d_layer) is not the bare conv2d: more stages
  const auto fused = share(ir::dag_from_workload_key(R"(["conv2d_layer", 1, 14, 14, 32, 16, 3, 3, [1, 1], [1, 1]])"));
  const auto stages = search::same_kernel_class(*fused, *conv);
  REQUIRE_FALSE(stages.has_value());
  CHECK(stages.error().message.find("7 and 4 stages") != std::string::npos);
  CHECK(search::transfer_schedules(*fused, conv_records, {}, &report).empty());
  CHECK(report.incompatible_sources == 8);
  CHECK(report.first_incompatibility.find("stages") != std::string::npos);

  // NHWC: the same stage counts and axis counts, but the axes play other roles
  ir::Conv2dParams nhwc = conv_params(16, 14, 32, 1);
  nhwc.layout = ir::Layout::nhwc;
  const auto roles = search::same_kernel_class(*share(ir::conv2d(nhwc)), *conv);
  REQUIRE_FALSE(roles.has_value());
  CHECK(roles.error().message.find("other roles") != std::string::npos);

  // dense with a bias is matmul's class but not its structure; bare dense is both
  const auto biased = search::same_kernel_class(*share(ir::dense(128, 64, 96, true)), *matmul);
  REQUIRE_FALSE(biased.has_value());
  CHECK(biased.error().message.find("stages") != std::string::npos);
  const auto dense = share(ir::dense(96, 200, 160, false));
  CHECK(search::same_kernel_class(*dense, *matmul).has_value());
  const auto to_dense = search::transfer_schedules(*dense, matmul_records, {.per_task = 3});
  CHECK(to_dense.size() == 3);
  for (const auto& c : to_dense) check_candidate(c, dense, matmul_records);

  // a key that names no family
  ir::DagBuilder b;
  const ir::Tensor a = b.placeholder("A", {4});
  const ir::Tensor out = b.compute("out", {{"i", 4}}, [&](ir::ExprPool&, std::span<const ir::Expr> v) { return a(v[0]); });
  const auto custom = share(b.build({out}, "my kernel"));
  const auto none = search::same_kernel_class(*custom, *matmul);
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().message.find("names no operator family") != std::string::npos);
}

TEST_CASE("failed records are never sources, and a source whose steps do not apply is refused with the reason") {
  const auto source = share(ir::matmul(256, 256, 256));
  const auto target = share(ir::matmul(384, 200, 128));
  std::vector<Record> tuned = sampled_records(source, 4, 51);
  tuned[0].result.error = ErrorCode::wrong_answer;  // the cheapest: must not be used
  tuned[1].result.costs_seconds.clear();            // no cost
  StepSequence broken = tuned[2].steps;
  broken.add_annotation(2, 99, IteratorAnnotation::unroll);
  tuned[2].steps = broken;
  tuned[2].result.costs_seconds = {1e-6};  // the cheapest that remains
  search::TransferReport report;
  const auto out = search::transfer_schedules(*target, tuned, {.per_task = 0, .sources_per_key = 0}, &report);
  CHECK(report.skipped_records == 2);
  CHECK(report.compatible_sources == 2);
  CHECK(report.refused == 1);
  CHECK(report.first_refusal.find("iterator 99") != std::string::npos);
  REQUIRE(out.size() == 1);
  CHECK(out[0].source_record == 3);
}

TEST_CASE("transplanted kernels compile, run and compute the unscheduled kernel's result") {
  {  // matmul with non-dividing extents: the best three, the hand-made one, and recorded lengths with guards
    const auto source = share(ir::matmul(256, 256, 256));
    const auto target = share(ir::matmul(384, 200, 128));
    std::vector<Record> tuned = sampled_records(source, 16, 61);
    tuned.push_back(record_of(task_of(*source), tiled_matmul(source, {4, 16, 8}, {2, 8, 16}, 16), 1e-9));
    const auto adapted = search::transfer_schedules(*target, tuned, {.per_task = 3, .sources_per_key = 3});
    const auto kept = search::transfer_schedules(*target, tuned, {.per_task = 2, .sources_per_key = 2, .keep_lengths = true});
    REQUIRE(adapted.size() == 3);
    REQUIRE(kept.size() == 2);
    CHECK(adapted[0].source_record == tuned.size() - 1);
    std::vector<StepSequence> schedules;
    for (const auto& c : adapted) schedules.push_back(c.steps);
    for (const auto& c : kept) schedules.push_back(c.steps);
    measure_all(target, schedules);
  }
  {  // conv2d: another shape, no padding
    const auto source = share(ir::conv2d(conv_params(16, 14, 32, 1)));
    const auto target = share(ir::conv2d(conv_params(12, 9, 20, 0)));
    const std::vector<Record> tuned = sampled_records(source, 16, 71);
    const auto adapted = search::transfer_schedules(*target, tuned, {.per_task = 3});
    REQUIRE(adapted.size() == 3);
    std::vector<StepSequence> schedules;
    for (const auto& c : adapted) schedules.push_back(c.steps);
    measure_all(target, schedules);
  }
}
