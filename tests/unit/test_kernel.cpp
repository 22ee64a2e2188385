// What measurers are handed: buffer declarations, their validation, and the deterministic inputs every
// process (the worker, the caller computing a reference) fills the same way.
#include "crosstune/measure/kernel.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

using namespace crosstune;
using measure::BufferSpec;
using measure::KernelSignature;

namespace {
std::string signature_refusal(const KernelSignature& s) {
  auto ok = s.validate();
  REQUIRE_FALSE(ok.has_value());
  CHECK(ok.error().kind == ErrorKind::invalid_argument);
  return ok.error().message;
}
}  // namespace

TEST_CASE("a signature with an output and positive counts is valid; its total counts every buffer") {
  const KernelSignature gemm{{{"A", 64 * 32}, {"B", 32 * 16}, {"C", 64 * 16, true}}};
  CHECK(gemm.validate().has_value());
  CHECK(gemm.total_elements() == 64 * 32 + 32 * 16 + 64 * 16);
  CHECK(KernelSignature{}.total_elements() == 0);
  // Outputs may come first, and there may be several.
  CHECK(KernelSignature{{{"Y", 1, true}, {"X", 1}, {"Z", 1, true}}}.validate().has_value());
}

TEST_CASE("validate refuses a signature without buffers, without an output, with an empty or negative buffer") {
  CHECK(signature_refusal({}) == "measure::KernelSignature: no buffers");
  CHECK(signature_refusal({{{"A", 8}, {"B", 8}}}) == "measure::KernelSignature: no buffer is marked as an output");
  CHECK(signature_refusal({{{"A", 8}, {"B", 0, true}}}) == "measure::KernelSignature: buffer 'B' has 0 elements");
  CHECK(signature_refusal({{{"A", -3}, {"B", 8, true}}}) == "measure::KernelSignature: buffer 'A' has -3 elements");
  auto hint = KernelSignature{}.validate().error().hint;
  CHECK(hint.find("element count") != std::string::npos);
}

TEST_CASE("validate refuses more than 2^36 floats, in one buffer or in all of them together") {
  const std::int64_t limit = std::int64_t{1} << 36;
  CHECK(KernelSignature{{{"A", limit, true}}}.validate().has_value());
  CHECK(signature_refusal({{{"A", limit + 1, true}}}) == "measure::KernelSignature: the buffers hold more than 2^36 floats");
  CHECK(signature_refusal({{{"A", limit / 2 + 1}, {"B", limit / 2, true}}}) == "measure::KernelSignature: the buffers hold more than 2^36 floats");
  CHECK(KernelSignature{{{"A", limit / 2}, {"B", limit / 2, true}}}.validate().has_value());
  // Counts near the int64 limit are refused, not overflowed.
  CHECK_FALSE(KernelSignature{{{"A", INT64_MAX}, {"B", INT64_MAX, true}}}.validate().has_value());
}

TEST_CASE("buffers and signatures compare by value") {
  CHECK(BufferSpec{"A", 4, true} == BufferSpec{"A", 4, true});
  CHECK_FALSE(BufferSpec{"A", 4, true} == BufferSpec{"A", 4, false});
  CHECK_FALSE(BufferSpec{"A", 4} == BufferSpec{"A", 5});
  CHECK(KernelSignature{{{"A", 4}, {"B", 4, true}}} == KernelSignature{{{"A", 4}, {"B", 4, true}}});
  CHECK_FALSE(KernelSignature{{{"A", 4}, {"B", 4, true}}} == KernelSignature{{{"B", 4, true}, {"A", 4}}});
}

TEST_CASE("input values are pinned: the same on every machine, in every process, at compile time") {
  // A changed hash would silently break references computed by an earlier version or another process.
  static_assert(measure::input_value(0, 0, 0) == measure::input_value(0, 0, 0));
  CHECK(measure::input_value(0, 0, 0) == 0.0159211159f);
  CHECK(measure::input_value(1, 0, 0) == -0.647974968f);
  CHECK(measure::input_value(42, 1, 7) == 0.248267412f);
  CHECK(measure::input_value(7, 2, 1000000) == 0.329281569f);
}

TEST_CASE("input values lie in [-1, 1) on a 2^-23 grid, spread evenly, and differ by seed, buffer and index") {
  double sum = 0, below_zero = 0;
  std::set<float> distinct;
  const int n = 100000;
  int outside = 0, off_grid = 0;
  for (int i = 0; i < n; ++i) {
    const float v = measure::input_value(5, 0, static_cast<std::uint64_t>(i));
    outside += v < -1.0f || v >= 1.0f ? 1 : 0;
    const double steps = (static_cast<double>(v) + 1.0) * 8388608.0;  // 24 random bits
    off_grid += steps != std::floor(steps) ? 1 : 0;
    sum += v;
    below_zero += v < 0 ? 1 : 0;
    distinct.insert(v);
  }
  CHECK(outside == 0);
  CHECK(off_grid == 0);
  CHECK(std::abs(sum / n) < 0.02);
  CHECK(below_zero / n == doctest::Approx(0.5).epsilon(0.02));
  CHECK(distinct.size() > n * 99 / 100);
  int same_seed = 0, same_buffer = 0;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    same_seed += measure::input_value(5, 0, i) == measure::input_value(6, 0, i) ? 1 : 0;
    same_buffer += measure::input_value(5, 0, i) == measure::input_value(5, 1, i) ? 1 : 0;
  }
  CHECK(same_seed < 5);
  CHECK(same_buffer < 5);
}

TEST_CASE("fill_input writes input_value of each position, and nothing past the span") {
  std::vector<float> data(130, 7.0f);
  measure::fill_input(std::span<float>(data).first(129), 11, 2);
  for (std::size_t i = 0; i < 129; ++i) {
    CAPTURE(i);
    REQUIRE(data[i] == measure::input_value(11, 2, i));
  }
  CHECK(data[129] == 7.0f);
  std::vector<float> empty;
  measure::fill_input(empty, 1, 0);  // no elements: nothing happens
  CHECK(empty.empty());
}

TEST_CASE("a kernel source is a preamble, a body and an entry, all plain strings") {
  const measure::KernelSource k{.preamble = "#include <cmath>\n", .body = "extern \"C\" void f(float* const*) {}\n", .entry = "f"};
  CHECK(k.entry == "f");
  CHECK(measure::KernelSource{}.preamble.empty());
}
