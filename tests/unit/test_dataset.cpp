#include "crosstune/data/dataset.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "crosstune/io/log_writer.hpp"
#include "test_support.hpp"

using namespace crosstune;
using crosstune::data::Dataset;
using crosstune::data::LogSource;

namespace {
std::vector<std::filesystem::path> matmul_logs() {
  return {test::sample_logs() / "k80" / "ansor_matmul_128_4032_1000.json.gz",
          test::sample_logs() / "v100" / "ansor_matmul_128_4032_1000.json.gz"};
}
}  // namespace

TEST_CASE("the same workload on two GPUs is two tasks, named by the folders' HARDWARE files") {
  auto ds = Dataset::load(matmul_logs());
  REQUIRE(ds);
  REQUIRE(ds->tasks().size() == 2);
  CHECK(ds->tasks()[0].hardware == "k80");
  CHECK(ds->tasks()[1].hardware == "v100");
  CHECK(ds->tasks()[0].workload_key == ds->tasks()[1].workload_key);
  CHECK(ds->tasks()[0].hardware_params.compute_capability == 37);
  CHECK(ds->tasks()[1].hardware_params.compute_units == 80);
  CHECK(ds->stats().files == 2);
  CHECK(ds->stats().records_read == 2000);
  CHECK(ds->records() + ds->stats().invalid_records == 2000);
  CHECK(ds->hardware_names() == std::vector<std::string>{"k80", "v100"});
  CHECK(ds->stats().warnings.empty());
}

TEST_CASE("labels are the task's min mean cost over each record's mean cost") {
  auto ds = Dataset::load(matmul_logs());
  REQUIRE(ds);
  for (const auto& t : ds->tasks()) {
    REQUIRE(t.labels.size() == t.size());
    double min_cost = 1e300;
    for (const auto& r : t.records) {
      CHECK(r.result.ok());
      min_cost = std::min(min_cost, r.result.mean_cost_seconds());
    }
    CHECK(t.min_cost_seconds == min_cost);
    for (std::size_t i = 0; i < t.size(); ++i) {
      CHECK(t.labels[i] > 0.0f);
      CHECK(t.labels[i] <= 1.0f);
      CHECK(t.labels[i] == doctest::Approx(min_cost / t.records[i].result.mean_cost_seconds()));
    }
    CHECK(*std::max_element(t.labels.begin(), t.labels.end()) == 1.0f);
    CHECK(t.workload.op == data::OpKind::dense);
  }
}

TEST_CASE("an explicit hardware wins over the HARDWARE file; unknown names are refused") {
  const auto logs = matmul_logs();
  std::vector<LogSource> sources{{logs[0], "a100"}, {logs[1], ""}};
  auto ds = Dataset::load(std::span<const LogSource>(sources));
  REQUIRE(ds);
  CHECK(ds->tasks()[0].hardware == "a100");
  CHECK(ds->tasks()[1].hardware == "v100");
  std::vector<LogSource> bad{{logs[0], "not-a-gpu"}};
  auto refused = Dataset::load(std::span<const LogSource>(bad));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("unknown hardware preset \"not-a-gpu\"") != std::string::npos);
}

TEST_CASE("without a HARDWARE file the target string names the hardware, or it is unknown with a warning") {
  CHECK(data::resolve_hardware_name("", "", Target("cuda -arch=sm_75 -model=2080ti")) == "rtx2080ti");
  CHECK(data::resolve_hardware_name("", "", Target("cuda -arch=sm_86")) == "cuda-sm_86");
  CHECK(data::resolve_hardware_name("", "", Target("llvm -mcpu=core-avx2")) == "llvm-core-avx2");
  CHECK(data::resolve_hardware_name("", "", Target("cuda -keys=cuda,gpu")) == "unknown-cuda");
  CHECK(data::resolve_hardware_name("", "", Target("llvm -keys=cpu ")) == "unknown-llvm");
  CHECK(data::resolve_hardware_name("", "k80", Target("cuda -model=v100")) == "k80");
  CHECK(data::resolve_hardware_name("tesla-v100", "k80", Target("cuda")) == "v100");
  // The Cocktailer logs' target has no -arch: unknown, with one warning per file.
  auto ds = Dataset::load({test::sample_logs() / "other-gpu" /
                           "ansor_kernels__batch_matmul_bcast_a_expr_4_64_256_256_ansor__tune.json.gz"});
  REQUIRE(ds);
  REQUIRE(ds->tasks().size() == 1);
  CHECK(ds->tasks()[0].hardware == "unknown-cuda");
  REQUIRE(ds->stats().warnings.size() == 1);
  CHECK(ds->stats().warnings[0].find("keyed as \"unknown-cuda\"") != std::string::npos);
}

TEST_CASE("tasks with too few valid records are dropped and counted; invalid records are counted") {
  test::TempDir dir;
  auto records = io::read_log_file(test::sample_logs() / "k80" / "ansor_relu_128_128_28_28.json.gz");
  REQUIRE(records);
  REQUIRE(records->size() == 12);
  Record failed = records->front();
  failed.result.error = ErrorCode::run_timeout;
  failed.result.costs_seconds = {1e10};
  {
    auto writer = io::LogWriter::open(dir / "small.json");
    REQUIRE(writer);
    REQUIRE(writer->write(*records));
    REQUIRE(writer->write(failed));
  }
  auto dropped = Dataset::load({dir / "small.json"}, "k80");
  REQUIRE(dropped);
  CHECK(dropped->tasks().empty());
  CHECK(dropped->stats().dropped_tasks == 1);
  CHECK(dropped->stats().dropped_records == 12);
  CHECK(dropped->stats().invalid_records == 1);
  auto kept = Dataset::load({dir / "small.json"}, "k80", {.min_records_per_task = 12});
  REQUIRE(kept);
  REQUIRE(kept->tasks().size() == 1);
  CHECK(kept->tasks()[0].size() == 12);
  CHECK(kept->tasks()[0].invalid_records == 1);
}

TEST_CASE("loading is deterministic and a bad file is an error naming it") {
  const auto files = test::log_files_under(test::sample_logs());
  auto a = Dataset::load(files);
  auto b = Dataset::load(files);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(a->tasks().size() == b->tasks().size());
  for (std::size_t t = 0; t < a->tasks().size(); ++t) {
    CHECK(a->tasks()[t].workload_key == b->tasks()[t].workload_key);
    CHECK(a->tasks()[t].labels == b->tasks()[t].labels);
  }
  auto bad = Dataset::load({test::data_dir() / "bad" / "malformed.json"});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().line == 2);
}

TEST_CASE("on_file_read reports every file once, and an exception it throws comes out of load()") {
  std::vector<std::size_t> seen;
  data::DatasetOptions options;
  options.on_file_read = [&](std::size_t done, std::size_t total) {
    CHECK(total == 2);
    seen.push_back(done);
  };
  REQUIRE(Dataset::load(matmul_logs(), {}, options));
  CHECK(seen == std::vector<std::size_t>{1, 2});
  options.on_file_read = [](std::size_t, std::size_t) { throw std::runtime_error("stop"); };
  CHECK_THROWS_WITH_AS((void)Dataset::load(matmul_logs(), {}, options), "stop", std::runtime_error);
}

TEST_CASE("a task without a valid record is dropped even with no minimum, never labelled") {
  test::TempDir dir;
  test::write_file(dir / "errors.json",
                   R"({"i": [["[\"k\"]", "llvm -mcpu=znver4"], [[], []]], "r": [[1e10], 4, 1, 1]})"
                   "\n");
  auto ds = Dataset::load({dir / "errors.json"}, {}, {.min_records_per_task = 0});
  REQUIRE(ds);
  CHECK(ds->tasks().empty());
  CHECK(ds->stats().invalid_records == 1);
  CHECK(ds->stats().dropped_tasks == 1);
}

TEST_CASE("a HARDWARE file is read trimmed, and an unknown name in it is refused with its path") {
  test::TempDir dir;
  test::write_file(dir / "log.json", "");
  CHECK(*data::hardware_file_hint(dir / "log.json") == "");
  test::write_file(dir / "HARDWARE", "  v100 \r\nignored second line\n");
  CHECK(*data::hardware_file_hint(dir / "log.json") == "v100");
  test::write_file(dir / "HARDWARE", "v1000\n");
  auto unknown = data::hardware_file_hint(dir / "log.json");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("unknown preset \"v1000\"") != std::string::npos);
  CHECK(unknown.error().file.ends_with("HARDWARE"));
}
