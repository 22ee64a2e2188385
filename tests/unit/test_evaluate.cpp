// The DAG interpreter on hand-built DAGs: index arithmetic, reductions in double, bounds-checked loads
// reported with the operation's name, and the checks on its inputs. Every operator of ir/operators.hpp is
// checked through it against ir/reference.hpp in test_operators.cpp.
#include "crosstune/ir/evaluate.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>
#include "test_support.hpp"

using namespace crosstune;
using namespace crosstune::ir;

namespace {
using crosstune::test::contains;

/// out[i] = A[index(i)] over i in [0, n), for a tensor A of `size` elements.
template <class Index>
ComputeDag gather(std::int64_t size, std::int64_t n, Index index) {
  DagBuilder b;
  const Tensor a = b.placeholder("A", {size});
  const Tensor out = b.compute("gather", {{"i", n}},
                               [&](ExprPool& pool, std::span<const Expr> v) { return a(index(pool, v[0])); });
  return b.build({out}, "[\"gather\"]").value();
}
const std::vector<float> iota5 = {0, 1, 2, 3, 4};
}  // namespace

TEST_CASE("the matmul of ones and twos is 2·K everywhere") {
  DagBuilder b;
  const Tensor a = b.placeholder("A", {8, 4});
  const Tensor w = b.placeholder("B", {4, 5});
  const Tensor c =
      b.compute("compute", {{"x", 8}, {"y", 5}}, {{"k", 4}}, ReduceKind::sum,
                [&](ExprPool&, std::span<const Expr> v) { return a(v[0], v[2]) * w(v[2], v[1]); });
  const ComputeDag dag = b.build({c}, "[\"mm\"]").value();
  const std::vector<float> ones(32, 1.0f), twos(20, 2.0f);
  const auto out = evaluate(dag, {ones, twos});
  REQUIRE(out);
  REQUIRE(out->size() == 1);
  CHECK((*out)[0] == std::vector<float>(40, 8.0f));
  // The span overload gives the same.
  const std::span<const float> spans[] = {ones, twos};
  const auto same = evaluate(dag, std::span<const std::span<const float>>(spans));
  REQUIRE(same);
  CHECK(*same == *out);
}

TEST_CASE("index arithmetic: floordiv and floormod round toward minus infinity, select picks a branch") {
  // A rotation by 2 through a negative index: A[(i - 2) mod 5].
  auto rotated = evaluate(gather(5, 5, [](ExprPool&, Expr i) { return floormod(i - 2, 5); }), {iota5});
  REQUIRE(rotated);
  CHECK((*rotated)[0] == std::vector<float>{3, 4, 0, 1, 2});
  // floordiv(i - 3, 2) + 2 for i in 0..4: floor(-3 / 2) = -2, floor(-1 / 2) = -1, so 0, 1, 1, 2, 2.
  auto halves = evaluate(gather(5, 5, [](ExprPool&, Expr i) { return floordiv(i - 3, 2) + 2; }), {iota5});
  REQUIRE(halves);
  CHECK((*halves)[0] == std::vector<float>{0, 1, 1, 2, 2});
  // A mirror: i < 3 ? i : 6 - i, and min/max clamps.
  auto mirror = evaluate(
      gather(5, 6, [](ExprPool& pool, Expr i) { return select(i < 3, i, pool.index(6) - i); }), {iota5});
  REQUIRE(mirror);
  CHECK((*mirror)[0] == std::vector<float>{0, 1, 2, 3, 2, 1});
  auto clamped = evaluate(
      gather(5, 7, [](ExprPool& pool, Expr i) { return max(min(i - 1, pool.index(4)), pool.index(0)); }),
      {iota5});
  REQUIRE(clamped);
  CHECK((*clamped)[0] == std::vector<float>{0, 0, 1, 2, 3, 4, 4});
}

TEST_CASE("values: float math, casts of indices and the padding select") {
  DagBuilder b;
  const Tensor a = b.placeholder("A", {4});
  const Tensor out = b.compute("out", {{"i", 6}}, [&](ExprPool& pool, std::span<const Expr> v) {
    const Expr i = v[0];
    const Expr padded = select((i >= 1) && (i < 5), a(i - 1), pool.value(-1.0));
    return padded * to_float(i) + exp(pool.value(0.0)) - tanh(pool.value(0.0)) + erf(pool.value(0.0)) +
           min(pool.value(2.0), pool.value(3.0)) / max(pool.value(2.0), pool.value(4.0));
  });
  const ComputeDag dag = b.build({out}, "[\"v\"]").value();
  const auto result = evaluate(dag, {std::vector<float>{10, 20, 30, 40}});
  REQUIRE(result);
  const std::vector<float> want = {-0.0f + 1.5f,  10 * 1 + 1.5f, 20 * 2 + 1.5f,
                                   30 * 3 + 1.5f, 40 * 4 + 1.5f, -5 + 1.5f};
  CHECK((*result)[0] == want);
}

TEST_CASE("reductions accumulate in double and start from their identity") {
  DagBuilder b;
  const Tensor a = b.placeholder("A", {2, 3});
  const Tensor sum = b.compute("sum", {}, {{"i", 2}, {"j", 3}}, ReduceKind::sum,
                               [&](ExprPool&, std::span<const Expr> v) { return a(v[0], v[1]); });
  const Tensor top = b.compute("top", {{"i", 2}}, {{"j", 3}}, ReduceKind::max,
                               [&](ExprPool&, std::span<const Expr> v) { return a(v[0], v[1]); });
  const Tensor low = b.compute("low", {{"j", 3}}, {{"i", 2}}, ReduceKind::min,
                               [&](ExprPool&, std::span<const Expr> v) { return a(v[1], v[0]); });
  const ComputeDag dag = b.build({sum, top, low}, "[\"r\"]").value();
  // 1e8 + 1 - 1e8 is 0 in float and 1 in double; every value is negative for max, positive for min.
  const auto out = evaluate(dag, {std::vector<float>{1e8f, 1.0f, -1e8f, -3.0f, -2.0f, -5.0f}});
  REQUIRE(out);
  REQUIRE(out->size() == 3);
  CHECK((*out)[0] == std::vector<float>{-9.0f});
  CHECK((*out)[1] == std::vector<float>{1e8f, -2.0f});
  CHECK((*out)[2] == std::vector<float>{-3.0f, -2.0f, -1e8f});
}

TEST_CASE("outputs come in the order build was given them, intermediate stages are not returned") {
  DagBuilder b;
  const Tensor a = b.placeholder("A", {3});
  const Tensor twice =
      b.compute("twice", {{"i", 3}}, [&](ExprPool&, std::span<const Expr> v) { return a(v[0]) * 2.0; });
  const Tensor plus =
      b.compute("plus", {{"i", 3}}, [&](ExprPool&, std::span<const Expr> v) { return twice(v[0]) + 1.0; });
  const Tensor minus =
      b.compute("minus", {{"i", 3}}, [&](ExprPool&, std::span<const Expr> v) { return a(v[0]) - 1.0; });
  const ComputeDag dag = b.build({minus, plus}, "[\"o\"]").value();
  const auto out = evaluate(dag, {std::vector<float>{1, 2, 3}});
  REQUIRE(out);
  REQUIRE(out->size() == 2);
  CHECK((*out)[0] == std::vector<float>{0, 1, 2});
  CHECK((*out)[1] == std::vector<float>{3, 5, 7});
}

TEST_CASE("inputs are taken in stage order, which may differ from the order of declaration") {
  DagBuilder b;
  const Tensor a = b.placeholder("A", {2});
  const Tensor w = b.placeholder("B", {3});
  const Tensor out = b.compute("out", {{"i", 2}, {"j", 3}},
                               [&](ExprPool&, std::span<const Expr> v) { return w(v[1]) - a(v[0]); });
  const ComputeDag dag = b.build({out}, "[\"order\"]").value();
  REQUIRE(dag.op(0).name == "B");
  const auto result = evaluate(dag, {std::vector<float>{1, 2, 3}, std::vector<float>{10, 20}});
  REQUIRE(result);
  CHECK((*result)[0] == std::vector<float>{-9, -8, -7, -19, -18, -17});
}

TEST_CASE("a load outside its tensor is reported with the operation, the tensor and the index") {
  auto past_end = evaluate(gather(5, 5, [](ExprPool&, Expr i) { return i + 1; }), {iota5});
  REQUIRE_FALSE(past_end);
  CHECK(past_end.error().kind == ErrorKind::invalid_argument);
  CHECK(contains(past_end.error().message, "'gather'"));
  CHECK(contains(past_end.error().message, "reads A at index 5 of dimension 0 (extent 5)"));
  auto before_start = evaluate(gather(5, 5, [](ExprPool&, Expr i) { return i - 1; }), {iota5});
  REQUIRE_FALSE(before_start);
  CHECK(contains(before_start.error().message, "reads A at index -1 of dimension 0"));
  // In the second dimension of a 2-d tensor, inside a reduction.
  DagBuilder b;
  const Tensor a = b.placeholder("M", {2, 3});
  const Tensor rows = b.compute("rows", {{"i", 2}}, {{"j", 4}}, ReduceKind::sum,
                                [&](ExprPool&, std::span<const Expr> v) { return a(v[0], v[1]); });
  auto wide = evaluate(b.build({rows}, "[\"w\"]").value(), {std::vector<float>(6, 1.0f)});
  REQUIRE_FALSE(wide);
  CHECK(contains(wide.error().message, "'rows' reads M at index 3 of dimension 1 (extent 3)"));
}

TEST_CASE("an index divided by zero is an error, not a crash") {
  auto out = evaluate(gather(5, 5, [](ExprPool&, Expr i) { return floordiv(i, 0); }), {iota5});
  REQUIRE_FALSE(out);
  CHECK(contains(out.error().message, "'gather'"));
  CHECK(contains(out.error().message, "division by zero"));
  auto mod = evaluate(gather(5, 5, [](ExprPool&, Expr i) { return floormod(i, 0); }), {iota5});
  REQUIRE_FALSE(mod);
  CHECK(contains(mod.error().message, "division by zero"));
}

TEST_CASE("too few, too many or wrongly sized inputs are refused") {
  const ComputeDag dag = gather(5, 5, [](ExprPool&, Expr i) { return i; });
  auto none = evaluate(dag, std::vector<std::vector<float>>{});
  REQUIRE_FALSE(none);
  CHECK(none.error().kind == ErrorKind::invalid_argument);
  CHECK(contains(none.error().message, "more placeholders than the 0 inputs given"));
  auto extra = evaluate(dag, {iota5, iota5});
  REQUIRE_FALSE(extra);
  CHECK(extra.error().kind == ErrorKind::invalid_argument);
  CHECK(contains(extra.error().message, "2 inputs given for 1 placeholders"));
  auto wrong = evaluate(dag, {std::vector<float>{1, 2, 3}});
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().kind == ErrorKind::invalid_argument);
  CHECK(contains(wrong.error().message, "input 'A' holds 3 values, its shape 5"));
}

TEST_CASE("a DAG without placeholders needs no inputs") {
  DagBuilder b;
  const Tensor out = b.compute("ramp", {{"i", 2}, {"j", 3}}, [](ExprPool&, std::span<const Expr> v) {
    return to_float(v[0] * 3 + v[1]) * 0.5;
  });
  const auto result = evaluate(b.build({out}, "[\"ramp\"]").value(), std::vector<std::vector<float>>{});
  REQUIRE(result);
  CHECK((*result)[0] == std::vector<float>{0, 0.5f, 1, 1.5f, 2, 2.5f});
}
