// The Replayer on the shipped sample of public logs (tests/data/ansor-logs): every record of the named
// families replays and ends with the stages of docs/notes/tenset-workloads.md section 3.6; hashed and
// unknown keys and corrupted steps are counted by cause, and the errors say which step was refused.
#include "crosstune/schedule/replay.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "crosstune/io/log_reader.hpp"
#include "test_support.hpp"

using namespace crosstune;
using schedule::ComputeAtKind;
using schedule::ReplayCause;

namespace {
std::vector<Record> read(const std::filesystem::path& path) {
  auto records = io::read_log_file(path);
  REQUIRE(records);
  return std::move(*records);
}
std::vector<Record> read_sample(const std::string& relative) { return read(test::sample_logs() / relative); }

std::string joined_stage_names(const schedule::State& state) {
  std::string out;
  for (const auto& s : state.stages()) {
    if (!out.empty()) out += ' ';
    out += s.name();
  }
  return out;
}

/// Appends a copy of `step` to `out`.
void append(StepSequence& out, StepView s) {
  const auto& d = s.data();
  switch (s.kind()) {
    case StepKind::annotation: out.add_annotation(d.stage_id, d.iter_id, d.annotation); break;
    case StepKind::fuse: out.add_fuse(d.stage_id, s.list()); break;
    case StepKind::pragma: out.add_pragma(d.stage_id, d.iter_id, s.text()); break;
    case StepKind::reorder: out.add_reorder(d.stage_id, s.list()); break;
    case StepKind::split: out.add_split(d.stage_id, d.iter_id, d.first, s.list(), d.flag); break;
    case StepKind::follow_split: out.add_follow_split(d.stage_id, d.iter_id, d.first, d.second); break;
    case StepKind::follow_fused_split: out.add_follow_fused_split(d.stage_id, d.iter_id, s.list(), d.first, d.flag); break;
    case StepKind::storage_align: out.add_storage_align(d.stage_id, d.iter_id, d.first, d.second); break;
    case StepKind::compute_at: out.add_compute_at(d.stage_id, d.iter_id, d.first); break;
    case StepKind::compute_inline: out.add_compute_inline(d.stage_id); break;
    case StepKind::compute_root: out.add_compute_root(d.stage_id); break;
    case StepKind::cache_read: out.add_cache_read(d.stage_id, s.text(), s.list()); break;
    case StepKind::cache_write: out.add_cache_write(d.stage_id, s.text()); break;
    case StepKind::rfactor: out.add_rfactor(d.stage_id, d.iter_id, d.first); break;
  }
}

/// `steps` with step `index` replaced by whatever `replace` appends (given the original step).
StepSequence with_step(const StepSequence& steps, std::size_t index,
                       const std::function<void(StepSequence&, StepView)>& replace) {
  StepSequence out;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (i == index)
      replace(out, steps[i]);
    else
      append(out, steps[i]);
  }
  return out;
}

/// The index of the first step of `kind`.
std::size_t first_of(const StepSequence& steps, StepKind kind) {
  for (std::size_t i = 0; i < steps.size(); ++i)
    if (steps[i].kind() == kind) return i;
  FAIL("no step of the kind");
  return 0;
}
}  // namespace

TEST_CASE("every record of the named families in the sample logs replays, and the others are counted by cause") {
  schedule::Replayer replayer;
  schedule::ReplayReport report;
  for (const auto& file : test::log_files_under(test::sample_logs())) {
    CAPTURE(file);
    for (const Record& record : read(file)) {
      auto state = replayer.replay(record);
      report.add(replayer.last_family(), replayer.last_cause(), state ? nullptr : &state.error());
      CHECK(state.has_value() == (replayer.last_cause() == ReplayCause::replayed));
    }
  }
  auto counts = [&](const std::string& family) {
    auto it = report.by_family.find(family);
    REQUIRE(it != report.by_family.end());
    return it->second;
  };
  // Record counts from tests/data/ansor-logs/MANIFEST.md (conv2d_layer includes the TVM tutorial's record).
  const std::map<std::string, std::int64_t> named = {
      {"conv2d_layer", 2065}, {"depthwise_conv2d_layer", 2000}, {"matmul_layer", 2000}, {"pool_layer", 2000},
      {"reduction_layer", 400}, {"relu_layer", 24},             {"matmul_add", 1}};
  for (const auto& entry : named) {  // (no structured binding: clang 14 cannot capture one in CHECK_MESSAGE)
    const auto c = counts(entry.first);
    CHECK_MESSAGE(c.records == entry.second, entry.first);
    CHECK_MESSAGE(c.replayed() == entry.second, entry.first);
  }
  CHECK(counts("(hashed)").records == 50);
  CHECK(counts("(hashed)").by_cause[static_cast<std::size_t>(ReplayCause::hashed_key)] == 50);
  CHECK(counts("get_expr").by_cause[static_cast<std::size_t>(ReplayCause::unknown_workload)] == 2000);
  CHECK(counts("sparse_dense").by_cause[static_cast<std::size_t>(ReplayCause::unknown_workload)] == 1);
  CHECK(report.by_family.size() == named.size() + 3);
  CHECK(report.total.records == 10541);
  CHECK(report.total.replayed() == 8490);
  CHECK(report.total.by_cause[static_cast<std::size_t>(ReplayCause::hashed_key)] == 50);
  CHECK(report.total.by_cause[static_cast<std::size_t>(ReplayCause::unknown_workload)] == 2001);
  CHECK(report.total.by_cause[static_cast<std::size_t>(ReplayCause::step_refused)] == 0);
  CHECK(report.total.by_cause[static_cast<std::size_t>(ReplayCause::bad_key)] == 0);
  // One first error per family and cause that had errors.
  CHECK(report.first_error.size() == 3);
  CHECK(report.first_error.count("(hashed)/hashed_key") == 1);
  CHECK(report.first_error.count("get_expr/unknown_workload") == 1);
  CHECK(report.first_error.count("sparse_dense/unknown_workload") == 1);
}

TEST_CASE("matmul_layer, conv2d_layer and depthwise records end with the cache stages of the note's section 3.6") {
  struct Expect {
    const char* file;
    const char* stages;
    std::vector<std::pair<ComputeAtKind, std::int32_t>> placement;  // (compute_at, attach_stage) per stage
  };
  constexpr auto root = ComputeAtKind::root, inlined = ComputeAtKind::inlined, at = ComputeAtKind::iter;
  const std::vector<std::pair<ComputeAtKind, std::int32_t>> conv = {{root, -1}, {inlined, -1}, {at, 5}, {root, -1},
                                                                   {at, 5},    {at, 6},        {root, -1}};
  const std::vector<Expect> expects = {
      {"k80/ansor_matmul_128_4032_1000.json.gz", "A A.shared B B.shared compute.local compute",
       {{root, -1}, {at, 4}, {root, -1}, {at, 4}, {at, 5}, {root, -1}}},
      {"v100/ansor_matmul_128_4032_1000.json.gz", "A A.shared B B.shared compute.local compute",
       {{root, -1}, {at, 4}, {root, -1}, {at, 4}, {at, 5}, {root, -1}}},
      {"k80/ansor_conv2d_128_128_28_28_128_3_3_1_1.json.gz",
       "data pad_temp pad_temp.shared kernel kernel.shared compute.local compute", conv},
      {"v100/ansor_conv2d_128_128_28_28_128_3_3_1_SAME.json.gz",
       "data pad_temp pad_temp.shared kernel kernel.shared compute.local compute", conv},
      {"k80/ansor_depthwise_128_168_42_42_3_3_1_SAME.json.gz",
       "data PaddedInput PaddedInput.shared kernel kernel.shared DepthwiseConv2d.local DepthwiseConv2d", conv},
  };
  schedule::Replayer replayer;
  for (const auto& e : expects) {
    CAPTURE(e.file);
    const auto records = read_sample(e.file);
    REQUIRE(records.size() >= 1000);
    std::size_t checked = 0;
    for (const Record& record : records) {
      auto state = replayer.replay(record);
      REQUIRE(state);
      REQUIRE(joined_stage_names(*state) == e.stages);
      for (std::size_t i = 0; i < e.placement.size(); ++i) {
        CAPTURE(i);
        REQUIRE(state->stage(i).compute_at == e.placement[i].first);
        REQUIRE(state->stage(i).attach_stage == e.placement[i].second);
      }
      CHECK(state->steps() == record.steps);
      ++checked;
    }
    CHECK(checked == records.size());
  }
}

TEST_CASE("hashed keys, unknown workloads and bad keys are not replayed, and say why") {
  schedule::Replayer replayer;
  const auto hashed = read_sample("tvm-ci/resnet-18-NHWC-B1-cuda.json.gz");
  auto state = replayer.replay(hashed.front());
  REQUIRE_FALSE(state);
  CHECK(replayer.last_cause() == ReplayCause::hashed_key);
  CHECK(replayer.last_family() == "(hashed)");
  CHECK(state.error().message.find("hash") != std::string::npos);

  const auto unknown = read_sample("tvm-ci/sparse_dense.json.gz");
  auto sparse = replayer.replay(unknown.front());
  REQUIRE_FALSE(sparse);
  CHECK(replayer.last_cause() == ReplayCause::unknown_workload);
  CHECK(replayer.last_family() == "sparse_dense");
  CHECK(sparse.error().message.find("sparse_dense") != std::string::npos);

  const StepSequence none;
  CHECK_FALSE(replayer.replay(R"(["matmul_layer", 128, 4032])", none));
  CHECK(replayer.last_cause() == ReplayCause::bad_key);
  CHECK(replayer.last_family() == "matmul_layer");
  CHECK_FALSE(replayer.replay("not a key", none));
  CHECK(replayer.last_cause() == ReplayCause::bad_key);

  // A DAG is built once per key, and the cause of a good key is reset by the next replay.
  auto a = replayer.dag(R"(["matmul_layer", 16, 8, 4])");
  auto b = replayer.dag(R"(["matmul_layer", 16, 8, 4])");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->get() == b->get());
  CHECK(replayer.last_cause() == ReplayCause::replayed);
  auto empty = replayer.replay(R"(["matmul_layer", 16, 8, 4])", none);
  REQUIRE(empty);
  CHECK(empty->steps().empty());
  CHECK(joined_stage_names(*empty) == "A B compute");
}

TEST_CASE("a record with a corrupted step is refused as step_refused, and the error names the step") {
  const auto records = read_sample("k80/ansor_matmul_128_4032_1000.json.gz");
  const Record& record = records.front();
  schedule::Replayer replayer;
  REQUIRE(replayer.replay(record));
  schedule::ReplayReport report;
  auto check_refused = [&](const StepSequence& steps, std::size_t index, const std::string& kind) {
    auto state = replayer.replay(record.task->workload_key, steps);
    REQUIRE_FALSE(state);
    CHECK(replayer.last_cause() == ReplayCause::step_refused);
    CHECK(replayer.last_family() == "matmul_layer");
    const std::string& message = state.error().message;
    INFO(message);
    CHECK(message.starts_with("step " + std::to_string(index) + " (" + kind + "): "));
    report.add(replayer.last_family(), replayer.last_cause(), &state.error());
  };

  SUBCASE("a split extent changed") {
    const std::size_t i = first_of(record.steps, StepKind::split);
    const auto steps = with_step(record.steps, i, [](StepSequence& out, StepView s) {
      out.add_split(s.stage_id(), s.iter_id(), s.extent() - 1, s.lengths(), s.inner_to_outer());
    });
    check_refused(steps, i, "SP");
  }
  SUBCASE("an annotated iterator out of range") {
    const std::size_t i = first_of(record.steps, StepKind::annotation);
    const auto steps = with_step(record.steps, i, [](StepSequence& out, StepView s) {
      out.add_annotation(s.stage_id(), 99, s.annotation());
    });
    check_refused(steps, i, "AN");
  }
  SUBCASE("a stage id out of range") {
    const std::size_t i = first_of(record.steps, StepKind::compute_at);
    const auto steps = with_step(record.steps, i, [](StepSequence& out, StepView s) {
      out.add_compute_at(s.stage_id(), 42, s.target_iter_id());
    });
    check_refused(steps, i, "CA");
  }
  SUBCASE("a fuse of iterators that are not consecutive") {
    const std::size_t i = first_of(record.steps, StepKind::fuse);
    const auto steps = with_step(record.steps, i, [](StepSequence& out, StepView s) {
      const std::vector<std::int64_t> ids = {s.fused_ids().front(), s.fused_ids().back() + 1};
      out.add_fuse(s.stage_id(), ids);
    });
    check_refused(steps, i, "FU");
  }
  SUBCASE("a follow_split of a step that is not a split") {
    const std::size_t i = first_of(record.steps, StepKind::follow_split);
    const auto steps = with_step(record.steps, i, [](StepSequence& out, StepView s) {
      out.add_follow_split(s.stage_id(), s.iter_id(), 0, s.n_split());  // step 0 is the cache_write
    });
    check_refused(steps, i, "FSP");
  }
  SUBCASE("a reorder that is not a permutation") {
    const std::size_t i = first_of(record.steps, StepKind::reorder);
    const auto steps = with_step(record.steps, i, [](StepSequence& out, StepView s) {
      std::vector<std::int64_t> ids(s.after_ids().begin(), s.after_ids().end());
      ids.back() = ids.front();
      out.add_reorder(s.stage_id(), ids);
    });
    check_refused(steps, i, "RE");
  }
  CHECK(report.total.records == 1);
  CHECK(report.total.by_cause[static_cast<std::size_t>(ReplayCause::step_refused)] == 1);
  CHECK(report.first_error.count("matmul_layer/step_refused") == 1);
  // The replayer still replays the record itself.
  CHECK(replayer.replay(record));
  CHECK(replayer.last_cause() == ReplayCause::replayed);
}

TEST_CASE("ReplayReport counts by family and cause and keeps the first error of each") {
  schedule::ReplayReport report;
  const Error first(ErrorKind::invalid_argument, "first");
  const Error second(ErrorKind::invalid_argument, "second");
  report.add("matmul_layer", ReplayCause::replayed);
  report.add("matmul_layer", ReplayCause::step_refused, &first);
  report.add("matmul_layer", ReplayCause::step_refused, &second);
  report.add("(hashed)", ReplayCause::hashed_key, &second);
  CHECK(report.total.records == 4);
  CHECK(report.total.replayed() == 1);
  CHECK(report.by_family["matmul_layer"].records == 3);
  CHECK(report.by_family["matmul_layer"].by_cause[static_cast<std::size_t>(ReplayCause::step_refused)] == 2);
  CHECK(report.by_family["(hashed)"].by_cause[static_cast<std::size_t>(ReplayCause::hashed_key)] == 1);
  CHECK(report.first_error["matmul_layer/step_refused"] == "first");
  CHECK(report.first_error["(hashed)/hashed_key"] == "second");
  CHECK(to_string(ReplayCause::step_refused) == "step_refused");
}
