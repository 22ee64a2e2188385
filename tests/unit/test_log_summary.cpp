#include "crosstune/data/log_summary.hpp"

#include <doctest/doctest.h>

#include "crosstune/io/log_reader.hpp"
#include "test_support.hpp"

using namespace crosstune;

namespace {
Record make(const std::shared_ptr<const Task>& task, ErrorCode error, double cost,
            const char* version = "v0.6") {
  Record r;
  r.task = task;
  r.result.error = error;
  r.result.costs_seconds = {cost};
  r.version = version;
  return r;
}
std::shared_ptr<const Task> task(const char* key, const char* target) {
  auto t = std::make_shared<Task>();
  t->workload_key = key;
  t->target = Target(target);
  return t;
}
}  // namespace

TEST_CASE("the summary counts records, valid records, tasks, targets, errors and versions") {
  const auto matmul_k80 = task(R"(["matmul_layer", 2, 3, 4])", "cuda");
  const auto matmul_copy = task(R"(["matmul_layer", 2, 3, 4])", "cuda");  // equal task, other object
  const auto relu_cpu = task(R"(["relu_layer", 10])", "llvm");
  data::LogSummary s;
  s.add(make(matmul_k80, ErrorCode::no_error, 2.0));
  s.add(make(matmul_copy, ErrorCode::no_error, 1.0));
  s.add(make(matmul_k80, ErrorCode::run_timeout, 1e10));
  s.add(make(relu_cpu, ErrorCode::no_error, 0.5, "v0.5"));
  s.add(make(relu_cpu, ErrorCode::no_error, 0.4, "v0.6;by=crosstune 0.1.0;threads=2"));  // with provenance
  s.add(make(relu_cpu, ErrorCode::no_error, 0.3, "v0.6;by=crosstune 0.1.0;threads=1"));
  CHECK(s.versions().at("v0.6") == 5);  // counted by format version, whatever the provenance
  CHECK(s.versions().count("v0.6;by=crosstune 0.1.0;threads=2") == 0);
  CHECK(s.records() == 6);
  CHECK(s.valid_records() == 5);
  CHECK(s.tasks() == 2);
  CHECK(s.error_histogram()[0] == 5);
  CHECK(s.error_histogram()[7] == 1);
  CHECK(s.targets().at("cuda") == std::make_pair<std::size_t, std::size_t>(3, 1));
  CHECK(s.versions().at("v0.5") == 1);
  const auto per_task = s.records_per_task();
  CHECK(per_task.min == 3);
  CHECK(per_task.median == 3);
  CHECK(per_task.max == 3);
  CHECK(s.task_entries()[0].best_mean_cost_seconds == 1.0);
  CHECK(s.task_entries()[0].valid_records == 2);
  CHECK(s.tasks_with_flops() == 2);
  const auto range = s.flops_range();
  REQUIRE(range);
  CHECK(range->first == 10.0);
  CHECK(range->second == 48.0);
  CHECK(s.tasks_per_op().at("dense") == 1);
}

TEST_CASE("an empty summary has no tasks and no FLOP range") {
  data::LogSummary s;
  CHECK(s.tasks() == 0);
  CHECK(s.records_per_task().max == 0);
  CHECK_FALSE(s.flops_range());
}

TEST_CASE("the K80 and V100 logs of one workload share a task (identical target strings)") {
  data::LogSummary s;
  for (const char* gpu : {"k80", "v100"}) {
    auto records = io::read_log_file(test::sample_logs() / gpu / "ansor_matmul_128_4032_1000.json.gz");
    REQUIRE(records);
    for (const auto& r : *records)
      s.add(r);
  }
  CHECK(s.records() == 2000);
  CHECK(s.tasks() == 1);
}
