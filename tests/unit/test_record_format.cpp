#include "crosstune/io/record_format.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "crosstune/io/record_parser.hpp"

using namespace crosstune;

namespace {
Record parse(const std::string& line) {
  io::RecordParser parser;
  Record r;
  parser.parse(line, r).value();
  return r;
}
}  // namespace

TEST_CASE("a TVM-written line is written back byte for byte") {
  const std::string lines[] = {
      R"({"i": [["[\"relu_layer\", 128, 672, 11, 11]", "cuda -keys=cuda,gpu -max_num_threads=1024 -thread_warp_size=32", [-1, 16, 64, 49152, 2147483647, 1024, 8, 32], "", 0, []], [[], [["FU", 1, [0, 1, 2, 3]], ["SP", 1, 0, 10407936, [22], 1], ["AN", 1, 0, 5], ["AN", 1, 1, 6]]]], "r": [[0.00213307], 0, 2.61612, 1639142434], "v": "v0.6"})",
      R"({"i": [["[\"matmul_add\", 1024, 1024, 1024, \"float32\"]", "llvm -keys=cpu", [18, 64, 64, 0, 0, 0, 0, 0]], [[], [["SP", 2, 0, 1024, [2, 1, 4], 1], ["FSP", 4, 0, 0, 2], ["CA", 2, 4, 3], ["PR", 2, 0, "auto_unroll_max_step$8"]]]], "r": [[0.0044742], 0, 0.335558, 1607112214], "v": "v0.3"})",
      R"({"i": [["[\"conv2d_layer\", 1, 7, 7, 512, 512, 3, 3, [1, 1], [1, 1]]", "cuda -keys=cuda,gpu -max_num_threads=1024 -thread_warp_size=32"], [[], [["CI", 5], ["CHR", 2, "shared", [3]], ["FFSP", 6, 0, [4, 3, 2, 1], 1, 1], ["CHW", 3, "local"], ["RF", 2, 1, 0], ["SA", 3, 1, 32, 4], ["CR", 5], ["RE", 3, [0, 1]]]]], "r": [[1e+10], 4, 18.0241, 1603259147], "v": "v0.2"})",
      R"({"i": [["[\"sparse_dense\", 512, [9831, 16, 1], \"float32\"]", "llvm -keys=cpu", [6, 64, 64, 0, 0, 0, 0, 0], "", 1, ["W_data", "W_indices"]], [[], []]], "r": [[0.000957008, 4.47561e-05], 0, 0.605709, 1614689820], "v": "v0.6"})",
  };
  for (const auto& line : lines) {
    CAPTURE(line);
    CHECK(io::to_log_line(parse(line)) == line);
  }
}

TEST_CASE("parse, write, parse gives an equal record, whatever the number formatting was") {
  const std::string python_written =
      R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[10000000000.0, 0.1], 4, 24.1753, 1637543970.5], "v": "v0.6"})";
  const Record first = parse(python_written);
  const std::string written = io::to_log_line(first);
  CHECK(
      written ==
      R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[1e+10, 0.1], 4, 24.1753, 1637543970.5], "v": "v0.6"})");
  CHECK(parse(written) == first);
}

TEST_CASE("a record without a version is written without one") {
  const std::string line = R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[1], 0, 1, 1]})";
  CHECK(io::to_log_line(parse(line)) == line);
}

TEST_CASE("records that cannot be written are refused and nothing is appended") {
  Record r = parse(R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[1], 0, 1, 1], "v": "v0.6"})");
  std::string out = "kept";

  Record inf_cost = r;
  inf_cost.result.costs_seconds = {std::numeric_limits<double>::infinity()};
  auto e1 = io::append_record_line(out, inf_cost);
  REQUIRE_FALSE(e1);
  CHECK(e1.error().kind == ErrorKind::invalid_argument);
  CHECK(e1.error().message.find("cost is not a finite number") != std::string::npos);

  Record no_task = r;
  no_task.task = nullptr;
  CHECK_FALSE(io::append_record_line(out, no_task));

  Record bad_text = r;
  auto task = std::make_shared<Task>(*r.task);
  task->workload_key = "bad \xff key";
  bad_text.task = task;
  auto e3 = io::append_record_line(out, bad_text);
  REQUIRE_FALSE(e3);
  CHECK(e3.error().message.find("workload key is not valid UTF-8") != std::string::npos);

  Record nan_time = r;
  nan_time.result.all_cost_seconds = std::nan("");
  CHECK_FALSE(io::append_record_line(out, nan_time));
  CHECK(out == "kept");
  CHECK_THROWS_AS((void)io::to_log_line(inf_cost), ErrorException);
}

TEST_CASE("a record built in code is written in the v0.6 layout") {
  auto task = std::make_shared<Task>();
  task->workload_key = R"(["relu_layer", 4])";
  task->target = Target("llvm -keys=cpu -mcpu=znver4");
  task->hardware_params = RecordedHardwareParams{2, 32, 64, 0, 0, 0, 0, 0};
  Record r;
  r.task = task;
  r.steps.add_annotation(1, 0, IteratorAnnotation::parallel);
  r.result.costs_seconds = {2.5e-06};
  r.result.all_cost_seconds = 0.25;
  r.result.timestamp = 1700000000;
  r.version = current_log_version;
  CHECK(
      io::to_log_line(r) ==
      R"({"i": [["[\"relu_layer\", 4]", "llvm -keys=cpu -mcpu=znver4", [2, 32, 64, 0, 0, 0, 0, 0], "", 0, []], [[], [["AN", 1, 0, 3]]]], "r": [[2.5e-06], 0, 0.25, 1700000000], "v": "v0.6"})");
}
