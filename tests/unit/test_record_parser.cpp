#include "crosstune/io/record_parser.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace crosstune;
using crosstune::io::RecordParser;

namespace {
// A v0.6 line holding one step of every kind.
const std::string every_kind_line =
    R"({"i": [["[\"matmul\", 64]", "cuda -keys=cuda,gpu -arch=sm_70", [-1, 16, 64, 49152, 2147483647, 1024, 8, 32], "", 0, ["w"]], )"
    R"([[], [["AN", 4, 0, 5], ["FU", 4, [0, 1]], ["PR", 2, 0, "auto_unroll_max_step$16"], ["RE", 2, [0, 2, 1]], )"
    R"(["SP", 2, 0, 1024, [2, 1, 4], 1], ["FSP", 4, 0, 4, 2], ["FFSP", 4, 1, [7, 8], 1, 0], ["SA", 3, 1, 32, 4], )"
    R"(["CA", 2, 4, 3], ["CI", 1], ["CR", 5], ["CHR", 1, "shared", [3]], ["CHW", 3, "local"], ["RF", 2, 1, 0]]]], )"
    R"("r": [[0.000429498, 0.0004], 0, 1.59126, 1603259147], "v": "v0.6"})";

Expected<void> parse(const std::string& line, Record& out) {
  RecordParser parser;
  return parser.parse(line, out);
}
}  // namespace

TEST_CASE("a v0.6 line with every step kind parses into the expected record") {
  Record r;
  REQUIRE(parse(every_kind_line, r));
  const Task& t = *r.task;
  CHECK(t.workload_key == R"(["matmul", 64])");
  CHECK(t.target.option("arch") == "sm_70");
  CHECK(t.hardware_params.max_shared_memory_per_block == 49152);
  CHECK(t.target_host.empty());
  CHECK(t.layout_rewrite == LayoutRewriteOption::no_rewrite);
  CHECK(t.task_input_names == std::vector<std::string>{"w"});
  CHECK(t.fields_in_log == 6);
  REQUIRE(r.steps.size() == 14);
  CHECK(r.steps[0].annotation() == IteratorAnnotation::block_x);
  CHECK(r.steps[2].pragma_type() == "auto_unroll_max_step$16");
  CHECK(r.steps[4].extent() == 1024);
  CHECK(r.steps[4].lengths().size() == 3);
  CHECK(r.steps[4].inner_to_outer());
  CHECK(r.steps[6].src_step_ids()[0] == 7);
  CHECK_FALSE(r.steps[6].factor_or_nparts());
  CHECK(r.steps[7].offset() == 4);
  CHECK(r.steps[8].target_iter_id() == 3);
  CHECK(r.steps[10].kind() == StepKind::compute_root);
  CHECK(r.steps[11].reader_stage_ids()[0] == 3);
  CHECK(r.steps[13].factor_iter_id() == 0);
  CHECK(r.result.costs_seconds == std::vector<double>{0.000429498, 0.0004});
  CHECK(r.result.error == ErrorCode::no_error);
  CHECK(r.result.all_cost_seconds == 1.59126);
  CHECK(r.result.timestamp == 1603259147.0);
  CHECK(r.version == "v0.6");
}

TEST_CASE("older log versions with shorter task arrays parse, remembering their shape") {
  Record r;
  REQUIRE(parse(
      R"({"i": [["[\"k\"]", "cuda -keys=cuda,gpu"], [[], [["CI", 5]]]], "r": [[0.1], 0, 1.5, 1603259147], "v": "v0.2"})",
      r));
  CHECK(r.task->fields_in_log == 2);
  CHECK_FALSE(r.task->has_hardware_params());
  REQUIRE(parse(
      R"({"i": [["[\"k\"]", "llvm -keys=cpu", [18, 64, 64, 0, 0, 0, 0, 0]], [[], []]], "r": [[0.1], 0, 1, 1], "v": "v0.3"})",
      r));
  CHECK(r.task->fields_in_log == 3);
  CHECK(r.task->hardware_params.num_cores == 18);
  CHECK(r.steps.empty());
  REQUIRE(parse(
      R"({"i": [["[\"k\"]", "llvm", [4, 64, 64, 0, 0, 0, 0, 0], "", 2], [[], []]], "r": [[0.1], 0, 1, 1], "v": "v0.5"})",
      r));
  CHECK(r.task->fields_in_log == 5);
  CHECK(r.task->layout_rewrite == LayoutRewriteOption::rewrite_for_pre_transformed);
}

TEST_CASE("keys may come in any order; the version may be missing") {
  Record r;
  REQUIRE(parse(R"({"v": "v0.6", "r": [[], 6, 10, 1], "i": [["[\"k\"]", "llvm"], [[], []]]})", r));
  CHECK(r.version == "v0.6");
  CHECK(r.result.error == ErrorCode::build_timeout);
  CHECK(r.result.costs_seconds.empty());
  REQUIRE(parse(R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[1], 0, 1, 1]})", r));
  CHECK(r.version.empty());
}

TEST_CASE("records of one task share a single Task object") {
  RecordParser parser;
  Record a, b, c;
  const std::string line1 = R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[1], 0, 1, 1], "v": "v0.6"})";
  const std::string line2 = R"({"i": [["[\"other\"]", "llvm"], [[], []]], "r": [[1], 0, 1, 1], "v": "v0.6"})";
  REQUIRE(parser.parse(line1, a));
  REQUIRE(parser.parse(line2, b));
  REQUIRE(parser.parse(line1, c));
  CHECK(a.task.get() == c.task.get());
  CHECK(a.task.get() != b.task.get());
  CHECK(parser.distinct_tasks() == 2);
}

struct BadLine {
  const char* name;
  std::string line;
  ErrorKind kind;
  const char* message_part;
};

TEST_CASE("malformed lines are refused with the kind, column and a message saying what was wrong") {
  const std::string good = every_kind_line;
  const BadLine cases[] = {
      {"truncated line", good.substr(0, 120), ErrorKind::parse, "truncated line"},
      {"empty line", "", ErrorKind::parse, "empty line"},
      {"not JSON", "hello", ErrorKind::parse, "expected '{'"},
      {"unknown step kind", R"({"i": [["[\"k\"]", "llvm"], [[], [["XX", 1]]]], "r": [[1], 0, 1, 1]})",
       ErrorKind::unsupported, "unknown step kind \"XX\""},
      {"wrong type in a step",
       R"({"i": [["[\"k\"]", "llvm"], [[], [["SP", 2, "0", 8, [2], 1]]]], "r": [[1], 0, 1, 1]})",
       ErrorKind::schema, "expected an integer for iter_id, found a string (in step 0, SP)"},
      {"too many step fields", R"({"i": [["[\"k\"]", "llvm"], [[], [["CI", 2, 3]]]], "r": [[1], 0, 1, 1]})",
       ErrorKind::parse, "the end of the step"},
      {"too few step fields", R"({"i": [["[\"k\"]", "llvm"], [[], [["CA", 2, 3]]]], "r": [[1], 0, 1, 1]})",
       ErrorKind::parse, "expected ','"},
      {"bad UTF-8", "{\"i\": [[\"[\\\"k\xff\\\"]\", \"llvm\"], [[], []]], \"r\": [[1], 0, 1, 1]}",
       ErrorKind::parse, "invalid UTF-8"},
      {"error code out of range", R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[1], 9, 1, 1]})",
       ErrorKind::schema, "error code 9 is not an Ansor MeasureErrorNo"},
      {"annotation out of range",
       R"({"i": [["[\"k\"]", "llvm"], [[], [["AN", 1, 0, 12]]]], "r": [[1], 0, 1, 1]})", ErrorKind::schema,
       "annotation 12"},
      {"unknown key", R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[1], 0, 1, 1], "x": 1})",
       ErrorKind::schema, "unknown record key \"x\""},
      {"duplicate key", R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[1], 0, 1, 1], "r": [[1], 0, 1, 1]})",
       ErrorKind::schema, "duplicate record key \"r\""},
      {"missing result", R"({"i": [["[\"k\"]", "llvm"], [[], []]]})", ErrorKind::schema, "no result"},
      {"trailing text", good + " x", ErrorKind::parse, "unexpected text after the end of the record"},
      {"seven hardware params",
       R"({"i": [["[\"k\"]", "llvm", [1, 2, 3, 4, 5, 6, 7]], [[], []]], "r": [[1], 0, 1, 1]})",
       ErrorKind::parse, "hardware parameters"},
      {"boolean flag out of range",
       R"({"i": [["[\"k\"]", "llvm"], [[], [["SP", 2, 0, 8, [2], 2]]]], "r": [[1], 0, 1, 1]})",
       ErrorKind::schema, "inner_to_outer must be 0 or 1"},
      {"non-empty stage list", R"({"i": [["[\"k\"]", "llvm"], [[1], []]], "r": [[1], 0, 1, 1]})",
       ErrorKind::schema, "stage list"},
      {"cost not a number", R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [["fast"], 0, 1, 1]})",
       ErrorKind::schema, "expected a number for a cost, found a string"},
      {"cost NaN", R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[1e-3, -nan], 0, 1, 1]})",
       ErrorKind::schema, "cost -nan is not a positive, finite number of seconds"},
      {"cost -Infinity", R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[-Infinity], 0, 1, 1]})",
       ErrorKind::schema, "cost -Infinity is not a positive"},
      {"cost Infinity", R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[Infinity], 0, 1, 1]})",
       ErrorKind::parse, "expected a number for a cost"},
      {"cost zero", R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[0], 0, 1, 1]})", ErrorKind::schema,
       "cost 0 is not a positive"},
      {"cost below zero", R"({"i": [["[\"k\"]", "llvm"], [[], []]], "r": [[2e-3, -1e-3], 0, 1, 1]})",
       ErrorKind::schema, "cost -1e-3 is not a positive"},
  };
  for (const auto& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    Record r;
    auto result = parse(c.line, r);
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == c.kind);
    CHECK(result.error().column >= 1);
    CHECK(result.error().column <= c.line.size() + 1);
    const std::string message = result.error().message;
    CAPTURE(message);
    CHECK(message.find(c.message_part) != std::string::npos);
  }
}

TEST_CASE("the column of an error points at the offending byte") {
  const std::string line =
      R"({"i": [["[\"k\"]", "llvm"], [[], [["SP", 2, "0", 8, [2], 1]]]], "r": [[1], 0, 1, 1]})";
  Record r;
  auto result = parse(line, r);
  REQUIRE_FALSE(result);
  CHECK(line[result.error().column - 1] == '"');
  CHECK(line.substr(result.error().column - 1, 3) == "\"0\"");
}
