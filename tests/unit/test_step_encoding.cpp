#include "crosstune/features/step_encoding.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <vector>

#include "crosstune/io/record_parser.hpp"

using namespace crosstune;
using namespace crosstune::features;

namespace {
Record known_record() {
  io::RecordParser parser;
  Record r;
  parser
      .parse(
          R"({"i": [["[\"matmul_layer\", 128, 4032, 1000]", "cuda -keys=cuda,gpu"], [[], [["SP", 2, 0, 1024, [2, 1, 4], 1], ["AN", 4, 0, 5], ["PR", 2, 0, "auto_unroll_max_step$16"], ["CHR", 1, "shared", [3]], ["CA", 2, 4, 3]]]], "r": [[0.001], 0, 1, 1], "v": "v0.6"})",
          r)
      .value();
  return r;
}
float lg(double x, double scale) {
  return static_cast<float>(std::log2(1.0 + x) / scale);
}
}  // namespace

TEST_CASE("a record with known steps gives the hand-written matrix") {
  const Record r = known_record();
  // Expected non-zero entries per step, column -> value; every other column is 0.
  const std::vector<std::vector<std::pair<std::size_t, float>>> expected = {
      // ["SP", 2, 0, 1024, [2, 1, 4], 1]
      {{4, 1},
       {14, lg(2, 6)},
       {18, lg(1024, 24)},
       {19, lg(2, 12)},
       {20, lg(1, 12)},
       {21, lg(4, 12)},
       {23, 0.75f},
       {24, 1}},
      // ["AN", 4, 0, 5]: blockIdx.x
      {{0, 1}, {14, lg(4, 6)}, {26 + 5, 1}, {43, 0.2f}},
      // ["PR", 2, 0, "auto_unroll_max_step$16"]
      {{2, 1}, {14, lg(2, 6)}, {38, lg(16, 11)}, {43, 0.4f}},
      // ["CHR", 1, "shared", [3]]
      {{11, 1}, {14, lg(1, 6)}, {25, lg(1, 6)}, {40, 1}, {43, 0.6f}},
      // ["CA", 2, 4, 3]: target stage 4, target iterator 3
      {{8, 1}, {14, lg(2, 6)}, {15, lg(4, 6)}, {16, lg(3, 8)}, {43, 0.8f}},
  };
  REQUIRE(r.steps.size() == expected.size());
  for (std::size_t s = 0; s < expected.size(); ++s) {
    CAPTURE(s);
    std::array<float, step_dims> row{};
    row.fill(-1.0f);  // encode_step must overwrite every column
    encode_step(r.steps[s], s, r.steps.size(), row.data());
    std::array<float, step_dims> want{};
    for (const auto& [column, value] : expected[s])
      want[column] = value;
    for (std::size_t c = 0; c < step_dims; ++c) {
      CAPTURE(c);
      CHECK(row[c] == doctest::Approx(want[c]).epsilon(1e-6));
    }
  }
}

TEST_CASE("the encoding covers every step kind and stays within [0, 1]") {
  StepSequence s;
  const std::array<std::int64_t, 2> ids{0, 1};
  s.add_fuse(1, ids);
  s.add_reorder(1, ids);
  s.add_follow_split(3, 0, 2, 3);
  s.add_follow_fused_split(3, 1, ids, 1, true);
  s.add_storage_align(2, 1, 32, 4);
  s.add_compute_inline(1);
  s.add_compute_root(2);
  s.add_cache_write(3, "local");
  s.add_rfactor(2, 1, 0);
  s.add_pragma(2, 0, "debug_skip_region");
  for (std::size_t i = 0; i < s.size(); ++i) {
    std::array<float, step_dims> row{};
    encode_step(s[i], i, s.size(), row.data());
    CHECK(row[static_cast<std::size_t>(s[i].kind())] == 1.0f);
    for (float v : row) {
      CHECK(v >= 0.0f);
      CHECK(v <= 1.0f);
    }
  }
  std::array<float, step_dims> row{};
  encode_step(s[7], 7, s.size(), row.data());
  CHECK(row[step_column::scope + 1] == 1.0f);  // "local"
  encode_step(s[9], 9, s.size(), row.data());
  CHECK(row[step_column::other_pragma] == 1.0f);
}
