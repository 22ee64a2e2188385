// The compute DAG: Ansor's stage order (post-order depth-first from the outputs, inputs in order of first
// load), the inputs of each operation, the builder's errors, and FLOPs and bytes.
#include "crosstune/ir/dag.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>
#include "test_support.hpp"
#include "operator_cases.hpp"

using namespace crosstune;
using namespace crosstune::ir;

namespace {
using crosstune::test::stage_names;
using crosstune::test::contains;

/// out = matmul(A, B) + C, with the placeholders declared in the order given.
ComputeDag matmul_add(bool c_first) {
  DagBuilder b;
  Tensor c;
  if (c_first) c = b.placeholder("C", {4, 3});
  const Tensor a = b.placeholder("A", {4, 5});
  const Tensor w = b.placeholder("B", {5, 3});
  const Tensor mm =
      b.compute("matmul", {{"i", 4}, {"j", 3}}, {{"k", 5}}, ReduceKind::sum,
                [&](ExprPool&, std::span<const Expr> v) { return a(v[0], v[2]) * w(v[2], v[1]); });
  if (!c_first) c = b.placeholder("C", {4, 3});
  const Tensor out = b.compute("out", {{"i", 4}, {"j", 3}}, [&](ExprPool&, std::span<const Expr> v) {
    return mm(v[0], v[1]) + c(v[0], v[1]);
  });
  return b.build({out}, R"(["matmul_add", 4, 5, 3])").value();
}
}  // namespace

TEST_CASE("stages are in post-order from the output, a body's inputs in the order it first loads them") {
  DagBuilder b;
  const Tensor a = b.placeholder("A", {6});
  const Tensor w = b.placeholder("B", {6});
  const Tensor out = b.compute(
      "compute", {{"i", 6}}, [&](ExprPool&, std::span<const Expr> v) { return w(v[0]) * a(v[0]) + a(v[0]); });
  const ComputeDag dag = b.build({out}, "[\"x\"]").value();
  CHECK(stage_names(dag) == std::vector<std::string>{"B", "A", "compute"});
  CHECK(dag.op(2).inputs == std::vector<std::int32_t>{w.id, a.id});  // A loaded twice, listed once
  CHECK(dag.inputs() == std::vector<std::int32_t>{w.id, a.id});      // placeholders in stage order
}

TEST_CASE("matmul + C puts C after matmul, wherever it was declared") {
  for (bool c_first : {false, true}) {
    CAPTURE(c_first);
    const ComputeDag dag = matmul_add(c_first);
    CHECK(stage_names(dag) == std::vector<std::string>{"A", "B", "matmul", "C", "out"});
    const Operation& out = dag.op(4);
    REQUIRE(out.inputs.size() == 2);
    CHECK(dag.find(out.inputs[0]) == 2);  // matmul
    CHECK(dag.find(out.inputs[1]) == 3);  // C
    CHECK(dag.op(2).inputs == std::vector<std::int32_t>{dag.op(0).id, dag.op(1).id});
    CHECK(dag.op(0).inputs.empty());
    CHECK(dag.outputs().size() == 1);
    CHECK(dag.outputs()[0] == out.id);
    CHECK(dag.flops() == 2 * 4 * 3 * 5 + 4 * 3);
    CHECK(dag.workload_key() == R"(["matmul_add", 4, 5, 3])");
  }
}

TEST_CASE("operations no output depends on are left out, and shared producers appear once") {
  DagBuilder b;
  const Tensor x = b.placeholder("x", {3});
  const Tensor unused = b.placeholder("unused", {3});
  const Tensor sq =
      b.compute("sq", {{"i", 3}}, [&](ExprPool&, std::span<const Expr> v) { return x(v[0]) * x(v[0]); });
  const Tensor dead = b.compute("dead", {{"i", 3}},
                                [&](ExprPool&, std::span<const Expr> v) { return unused(v[0]) + sq(v[0]); });
  const Tensor y =
      b.compute("y", {{"i", 3}}, [&](ExprPool&, std::span<const Expr> v) { return sq(v[0]) + x(v[0]); });
  const Tensor z =
      b.compute("z", {{"i", 3}}, [&](ExprPool&, std::span<const Expr> v) { return exp(sq(v[0])); });
  (void)dead;
  const ComputeDag dag = b.build({z, y}, "[\"two\"]").value();
  CHECK(stage_names(dag) == std::vector<std::string>{"x", "sq", "z", "y"});
  CHECK(dag.outputs().size() == 2);
  CHECK(dag.outputs()[0] == z.id);
  CHECK(dag.outputs()[1] == y.id);
  CHECK(dag.is_output(z.id));
  CHECK(dag.is_output(y.id));
  CHECK_FALSE(dag.is_output(sq.id));
  CHECK(dag.find(unused.id) == -1);
  CHECK(dag.find(dead.id) == -1);
  CHECK(dag.inputs() == std::vector<std::int32_t>{x.id});
  CHECK(dag.next_tensor_id() == z.id + 1);
  CHECK(dag.flops() == 3 * (1 + 1 + 1));
  // bytes: the input x and the outputs z and y, once each.
  CHECK(dag.bytes() == 3 * 4 * 3);
}

TEST_CASE("a matmul DAG has exact FLOPs, bytes, shapes and ids") {
  const std::int64_t m = 7, k = 13, n = 5;
  DagBuilder b;
  const Tensor a = b.placeholder("A", {m, k});
  const Tensor w = b.placeholder("B", {k, n});
  const Tensor c =
      b.compute("compute", {{"x", m}, {"y", n}}, {{"k", k}}, ReduceKind::sum,
                [&](ExprPool&, std::span<const Expr> v) { return a(v[0], v[2]) * w(v[2], v[1]); });
  CHECK(c.shape == std::vector<std::int64_t>{m, n});
  const ComputeDag dag = b.build({c}, R"(["matmul_layer", 7, 13, 5])").value();
  REQUIRE(dag.size() == 3);
  CHECK(dag.flops() == 2 * m * n * k);
  CHECK(dag.bytes() == (m * k + k * n + m * n) * 4);
  CHECK(dag.next_tensor_id() == 3);
  CHECK(dag.find(a.id) == 0);
  CHECK(dag.find(w.id) == 1);
  CHECK(dag.find(c.id) == 2);
  CHECK(dag.find(99) == -1);
  CHECK(dag.is_output(c.id));
  CHECK_FALSE(dag.is_output(a.id));
  CHECK(dag.inputs() == std::vector<std::int32_t>{a.id, w.id});
  const Operation& op = dag.op(2);
  CHECK_FALSE(op.placeholder);
  CHECK(op.reduce == ReduceKind::sum);
  CHECK(op.rank() == 2);
  CHECK(op.shape() == std::vector<std::int64_t>{m, n});
  CHECK(op.element_count() == m * n);
  CHECK(op.reduce_count() == k);
  CHECK(op.flops() == 2 * m * n * k);
  CHECK(op.axes == std::vector<Axis>{{"x", m}, {"y", n}});
  CHECK(op.reduce_axes == std::vector<Axis>{{"k", k}});
  const Operation& pa = dag.op(0);
  CHECK(pa.placeholder);
  CHECK(pa.flops() == 0);
  CHECK(pa.axes == std::vector<Axis>{{"ax0", m}, {"ax1", k}});
  CHECK(pa.reduce_count() == 1);
  CHECK_THROWS_AS((void)dag.op(3), std::out_of_range);
}

TEST_CASE("a max or min reduction counts one combine per step, an element-wise stage none") {
  DagBuilder b;
  const Tensor x = b.placeholder("x", {4, 6});
  const Tensor top = b.compute("top", {{"i", 4}}, {{"j", 6}}, ReduceKind::max,
                               [&](ExprPool&, std::span<const Expr> v) { return x(v[0], v[1]); });
  const Tensor low = b.compute("low", {{"i", 4}}, {{"j", 6}}, ReduceKind::min,
                               [&](ExprPool&, std::span<const Expr> v) { return exp(x(v[0], v[1])); });
  const Tensor out =
      b.compute("out", {{"i", 4}}, [&](ExprPool&, std::span<const Expr> v) { return top(v[0]) - low(v[0]); });
  // A reduction kind without reduction axes is no reduction.
  const Tensor copy = b.compute("copy", {{"i", 4}}, {}, ReduceKind::sum,
                                [&](ExprPool&, std::span<const Expr> v) { return out(v[0]); });
  const ComputeDag dag = b.build({copy}, "[\"r\"]").value();
  CHECK(dag.op(dag.find(top.id)).flops() == 4 * 6);
  CHECK(dag.op(dag.find(low.id)).flops() == 4 * 6 * 2);
  CHECK(dag.op(dag.find(out.id)).flops() == 4);
  CHECK(dag.op(dag.find(copy.id)).reduce == ReduceKind::none);
  CHECK(dag.op(dag.find(copy.id)).flops() == 0);
  CHECK(dag.flops() == 24 + 48 + 4);
  CHECK(reduce_identity(ReduceKind::sum) == 0.0);
  CHECK(reduce_identity(ReduceKind::max) == -std::numeric_limits<float>::infinity());
  CHECK(reduce_identity(ReduceKind::min) == std::numeric_limits<float>::infinity());
  CHECK(to_string(ReduceKind::none) == "none");
  CHECK(to_string(ReduceKind::sum) == "sum");
  CHECK(to_string(ReduceKind::max) == "max");
  CHECK(to_string(ReduceKind::min) == "min");
}

TEST_CASE("a rank-0 tensor is loaded with its pool") {
  DagBuilder b;
  const Tensor x = b.placeholder("x", {5});
  const Tensor total = b.compute("total", {}, {{"k", 5}}, ReduceKind::sum,
                                 [&](ExprPool&, std::span<const Expr> v) { return x(v[0]); });
  CHECK(total.shape.empty());
  const Tensor centred = b.compute("centred", {{"i", 5}}, [&](ExprPool& pool, std::span<const Expr> v) {
    return x(v[0]) - total.at({}, &pool) / 5.0;
  });
  CHECK_THROWS_AS(
      (void)b.compute("bad", {{"i", 1}}, [&](ExprPool&, std::span<const Expr>) { return total.at({}); }),
      std::invalid_argument);
  const ComputeDag dag = b.build({centred}, "[\"c\"]").value();
  CHECK(stage_names(dag) == std::vector<std::string>{"x", "total", "centred"});
  CHECK(dag.op(1).element_count() == 1);
  CHECK(dag.op(1).rank() == 0);
}

TEST_CASE("a load with the wrong number of indices is refused when made, or when the DAG is built") {
  DagBuilder b;
  const Tensor a = b.placeholder("A", {3, 4});
  CHECK_THROWS_AS(
      (void)b.compute("short", {{"i", 3}}, [&](ExprPool&, std::span<const Expr> v) { return a(v[0]); }),
      std::invalid_argument);
  // Made directly in the pool, the mismatch is found by build().
  const Tensor bad = b.compute(
      "bad", {{"i", 3}}, [&](ExprPool& pool, std::span<const Expr> v) { return pool.load(a.id, {v[0]}); });
  auto dag = b.build({bad}, "[\"k\"]");
  REQUIRE_FALSE(dag);
  CHECK(dag.error().kind == ErrorKind::invalid_argument);
  CHECK(contains(dag.error().message, "'bad'"));
  CHECK(contains(dag.error().message, "loads 'A' (rank 2) with 1 indices"));
}

TEST_CASE("build refuses extents below 1, variables that are not axes, and reductions without a combiner") {
  const auto body = [](const Tensor& in) {
    return [in](ExprPool&, std::span<const Expr> v) { return in(v[0]); };
  };
  {
    DagBuilder b;
    const Tensor a = b.placeholder("A", {3});
    const Tensor out = b.compute("empty", {{"i", 0}}, body(a));
    auto dag = b.build({out}, "[\"k\"]");
    REQUIRE_FALSE(dag);
    CHECK(dag.error().kind == ErrorKind::invalid_argument);
    CHECK(contains(dag.error().message, "'empty' has axis 'i' of extent 0"));
  }
  {
    DagBuilder b;
    const Tensor a = b.placeholder("A", {0});
    const Tensor out = b.compute("out", {{"i", 1}}, body(a));
    auto dag = b.build({out}, "[\"k\"]");
    REQUIRE_FALSE(dag);
    CHECK(contains(dag.error().message, "'A' has axis 'ax0' of extent 0"));
  }
  {
    DagBuilder b;
    const Tensor a = b.placeholder("A", {3, 2});
    const Tensor out = b.compute("sum", {{"i", 3}}, {{"k", 0}}, ReduceKind::sum,
                                 [&](ExprPool&, std::span<const Expr> v) { return a(v[0], v[1]); });
    auto dag = b.build({out}, "[\"k\"]");
    REQUIRE_FALSE(dag);
    CHECK(contains(dag.error().message, "'sum' has reduction axis 'k' of extent 0"));
  }
  {
    DagBuilder b;
    const Tensor a = b.placeholder("A", {3});
    const Tensor out =
        b.compute("far", {{"i", 3}}, [&](ExprPool& pool, std::span<const Expr>) { return a(pool.var(4)); });
    auto dag = b.build({out}, "[\"k\"]");
    REQUIRE_FALSE(dag);
    CHECK(dag.error().kind == ErrorKind::invalid_argument);
    CHECK(contains(dag.error().message, "'far' uses variable 4"));
  }
  {
    DagBuilder b;
    const Tensor a = b.placeholder("A", {3, 2});
    const Tensor out = b.compute("plain", {{"i", 3}}, {{"k", 2}}, ReduceKind::none,
                                 [&](ExprPool&, std::span<const Expr> v) { return a(v[0], v[1]); });
    auto dag = b.build({out}, "[\"k\"]");
    REQUIRE_FALSE(dag);
    CHECK(dag.error().kind == ErrorKind::invalid_argument);
    CHECK(contains(dag.error().message, "'plain' has reduction axes but no reduction"));
  }
  {
    DagBuilder b;
    const Tensor a = b.placeholder("", {3});
    const Tensor out = b.compute("out", {{"i", 3}}, body(a));
    CHECK_FALSE(b.build({out}, "[\"k\"]"));
  }
}

TEST_CASE("a tensor of another dtype than float32 is unsupported") {
  DagBuilder b;
  const Tensor a = b.placeholder("half", {3}, DType::float16);
  const Tensor out =
      b.compute("out", {{"i", 3}}, [&](ExprPool&, std::span<const Expr> v) { return a(v[0]); });
  auto dag = b.build({out}, "[\"k\"]");
  REQUIRE_FALSE(dag);
  CHECK(dag.error().kind == ErrorKind::unsupported);
  CHECK(contains(dag.error().message, "'half' is float16"));
  CHECK_FALSE(dag.error().hint.empty());
}

TEST_CASE("outputs must be compute operations of this builder, and there must be one") {
  DagBuilder b;
  const Tensor a = b.placeholder("A", {3});
  const Tensor out =
      b.compute("out", {{"i", 3}}, [&](ExprPool&, std::span<const Expr> v) { return a(v[0]); });
  auto placeholder = b.build({a}, "[\"k\"]");
  REQUIRE_FALSE(placeholder);
  CHECK(placeholder.error().kind == ErrorKind::invalid_argument);
  CHECK(contains(placeholder.error().message, "output 'A' is a placeholder"));
  auto none = b.build({}, "[\"k\"]");
  REQUIRE_FALSE(none);
  CHECK(none.error().kind == ErrorKind::invalid_argument);
  CHECK_FALSE(b.build({Tensor{7, {3}}}, "[\"k\"]"));
  CHECK_FALSE(b.build({Tensor{-1, {3}}}, "[\"k\"]"));
  CHECK(b.build({out}, "[\"k\"]"));
}

TEST_CASE("a body must be a float value built in the operation's own pool") {
  DagBuilder b;
  const Tensor a = b.placeholder("A", {3});
  CHECK_THROWS_AS(
      (void)b.compute("index", {{"i", 3}}, [](ExprPool&, std::span<const Expr> v) { return v[0] + 1; }),
      std::invalid_argument);
  ExprPool elsewhere;
  CHECK_THROWS_AS((void)b.compute("elsewhere", {{"i", 3}},
                                  [&](ExprPool&, std::span<const Expr>) { return elsewhere.value(1.0); }),
                  std::invalid_argument);
  CHECK_THROWS_AS((void)b.compute("mixed", {{"i", 3}},
                                  [&](ExprPool&, std::span<const Expr> v) { return a(v[0]) + v[0]; }),
                  std::invalid_argument);
}

TEST_CASE("collect_inputs recomputes an operation's inputs from its body") {
  Operation op;
  op.axes = {{"i", 2}};
  const Expr i = op.pool.var(0);
  op.body = (op.pool.load(4, {i}) * op.pool.load(2, {i}) + op.pool.load(4, {i})).id;
  collect_inputs(op);
  CHECK(op.inputs == std::vector<std::int32_t>{4, 2});
  op.body = no_expr;
  collect_inputs(op);
  CHECK(op.inputs.empty());
  CHECK(op.flops() == 0);
}

TEST_CASE(
    "a body that throws leaves the builder usable: later tensors keep ids that match their operations") {
  DagBuilder b;
  const Tensor a = b.placeholder("A", {3, 4});
  CHECK_THROWS_AS(
      (void)b.compute("short", {{"i", 3}}, [&](ExprPool&, std::span<const Expr> v) { return a(v[0]); }),
      std::invalid_argument);
  const Tensor w = b.placeholder("B", {4});
  const Tensor out = b.compute("out", {{"i", 3}}, {{"k", 4}}, ReduceKind::sum,
                               [&](ExprPool&, std::span<const Expr> v) { return a(v[0], v[1]) * w(v[1]); });
  CHECK(w.id == 1);
  CHECK(out.id == 2);
  const ComputeDag dag = b.build({out}, "[\"k\"]").value();
  CHECK(stage_names(dag) == std::vector<std::string>{"A", "B", "out"});
  CHECK(dag.op(2).id == out.id);
  CHECK(dag.next_tensor_id() == 3);
}

TEST_CASE("inline_body substitutes inlined producers and builds every other load through the callback") {
  DagBuilder b;
  const Tensor a = b.placeholder("A", {4});
  const Tensor twice = b.compute("twice", {{"i", 4}}, [&](ExprPool&, std::span<const Expr> v) { return a(v[0]) * 2.0; });
  const Tensor out = b.compute("out", {{"j", 3}}, [&](ExprPool&, std::span<const Expr> v) { return twice(v[0] + 1.0); });
  const ComputeDag dag = b.build({out}, "inline").value();
  const Operation& twice_op = dag.op(static_cast<std::size_t>(dag.find(twice.id)));
  ExprPool pool;
  std::vector<std::int32_t> loaded;
  const ExprId body = inline_body(
      pool, dag.op(static_cast<std::size_t>(dag.find(out.id))), {},
      [&](std::int32_t t) { return t == twice.id ? &twice_op : nullptr; },
      [&](std::int32_t t, std::span<const ExprId> index) {
        loaded.push_back(t);
        return pool.load_ids(t, index);
      });
  CHECK(loaded == std::vector<std::int32_t>{a.id});  // `twice` was substituted, `A` loaded
  CHECK(count_flops(pool, body) == 1);               // the substituted multiplication
  // A's index is j + 1: variable 0 of `out`, kept as is (no values were given)
  const ExprNode& product = pool[body];
  const ExprNode& load = pool[product.a];
  REQUIRE(load.op == ExprOp::load);
  CHECK(pool[pool.args(product.a)[0]].op == ExprOp::add);
}
