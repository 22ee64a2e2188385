// Expressions of the IR: constant folding of index arithmetic, simplification of fused offsets over loop
// extents, the index/value/condition type rules, TVM's FLOP counting, copying between pools and the
// post-order walk.
#include "crosstune/ir/expr.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

using namespace crosstune::ir;

namespace {
bool is_index_constant(const Expr& e, std::int64_t value) {
  const ExprNode& n = (*e.pool)[e.id];
  return n.op == ExprOp::int_const && n.type == ExprType::index && n.integer == value;
}
}  // namespace

TEST_CASE("adding or subtracting 0, multiplying or dividing by 1 gives the index itself") {
  ExprPool pool;
  const Expr x = pool.var(0);
  CHECK((x + 0).id == x.id);
  CHECK((x - 0).id == x.id);
  CHECK((x * 1).id == x.id);
  CHECK(floordiv(x, 1).id == x.id);
  CHECK((pool.index(0) + x).id == x.id);
  CHECK((pool.index(1) * x).id == x.id);
  CHECK(is_index_constant(floormod(x, 1), 0));
  CHECK(is_index_constant(x * 0, 0));
  CHECK(is_index_constant(pool.index(0) * x, 0));
  // 0 - x is not x.
  const Expr negated = pool.index(0) - x;
  CHECK(pool[negated.id].op == ExprOp::sub);
}

TEST_CASE("constant index arithmetic is folded, floordiv and floormod rounding toward minus infinity") {
  ExprPool pool;
  auto c = [&](std::int64_t v) { return pool.index(v); };
  CHECK(is_index_constant(c(7) + c(5), 12));
  CHECK(is_index_constant(c(7) - c(5), 2));
  CHECK(is_index_constant(c(7) * c(-5), -35));
  CHECK(is_index_constant(min(c(7), c(-5)), -5));
  CHECK(is_index_constant(max(c(7), c(-5)), 7));
  CHECK(is_index_constant(floordiv(c(7), 2), 3));
  CHECK(is_index_constant(floormod(c(7), 2), 1));
  CHECK(is_index_constant(floordiv(c(-7), 2), -4));
  CHECK(is_index_constant(floormod(c(-7), 2), 1));
  CHECK(is_index_constant(floordiv(c(7), -2), -4));
  CHECK(is_index_constant(floormod(c(7), -2), -1));
  CHECK(is_index_constant(floordiv(c(-7), -2), 3));
  CHECK(is_index_constant(floormod(c(-7), -2), -1));
  CHECK(is_index_constant(floordiv(c(-8), 2), -4));
  CHECK(is_index_constant(floormod(c(-8), 2), 0));
  CHECK(is_index_constant(floordiv(c(0), 3), 0));
  CHECK(ExprPool::floor_div(-1, 3) == -1);
  CHECK(ExprPool::floor_div(1, 3) == 0);
  CHECK(ExprPool::floor_div(-3, 3) == -1);
  // A constant division by zero is left to the evaluator to report, not folded.
  CHECK(pool[floordiv(c(5), 0).id].op == ExprOp::floordiv);
  CHECK(pool[floormod(c(5), 0).id].op == ExprOp::floormod);
  // to_float of a constant is a float constant.
  const Expr f = to_float(c(9));
  CHECK(pool[f.id].op == ExprOp::float_const);
  CHECK(pool[f.id].real == 9.0);
}

TEST_CASE("value arithmetic is never folded: x + 0.0 is an add") {
  ExprPool pool;
  const Expr v = pool.load(0, {pool.var(0)});
  const Expr sum = v + 0.0;
  CHECK(pool[sum.id].op == ExprOp::add);
  CHECK(pool[sum.id].type == ExprType::value);
  CHECK(pool[(v * 1.0).id].op == ExprOp::mul);
}

TEST_CASE("operands of different types, '/' on indices and floordiv on values are refused") {
  ExprPool pool;
  const Expr i = pool.var(0);
  const Expr v = pool.load(0, {i});
  CHECK_THROWS_AS((void)(i + v), std::invalid_argument);
  CHECK_THROWS_AS((void)(v * i), std::invalid_argument);
  CHECK_THROWS_AS((void)(i / pool.index(2)), std::invalid_argument);
  CHECK_THROWS_AS((void)(pool.index(6) / pool.index(2)), std::invalid_argument);
  CHECK_THROWS_AS((void)pool.binary(ExprOp::floordiv, v.id, v.id), std::invalid_argument);
  CHECK_THROWS_AS((void)pool.binary(ExprOp::floormod, v.id, v.id), std::invalid_argument);
  CHECK_THROWS_AS((void)floordiv(v, 2), std::invalid_argument);
  CHECK_THROWS_AS((void)exp(i), std::invalid_argument);
  CHECK_THROWS_AS((void)tanh(i), std::invalid_argument);
  CHECK_THROWS_AS((void)erf(i), std::invalid_argument);
  CHECK_THROWS_AS((void)to_float(v), std::invalid_argument);
  CHECK_THROWS_AS((void)pool.load(1, {v}), std::invalid_argument);
  CHECK_THROWS_AS((void)pool.load(1, {Expr{}}), std::invalid_argument);
}

TEST_CASE(
    "select needs a condition and branches of one type; && joins conditions, comparisons take indices") {
  ExprPool pool;
  const Expr i = pool.var(0);
  const Expr v = pool.load(0, {i});
  const Expr inside = (i >= 1) && (i < 5);
  CHECK(pool[inside.id].type == ExprType::condition);
  CHECK(pool[inside.id].op == ExprOp::logical_and);
  const Expr chosen = select(inside, v, pool.value(0.0));
  CHECK(pool[chosen.id].type == ExprType::value);
  CHECK(pool[select(inside, i, pool.index(0)).id].type == ExprType::index);
  CHECK_THROWS_AS((void)select(i, v, v), std::invalid_argument);
  CHECK_THROWS_AS((void)select(v, v, v), std::invalid_argument);
  CHECK_THROWS_AS((void)select(inside, v, i), std::invalid_argument);
  CHECK_THROWS_AS((void)(inside + inside), std::invalid_argument);
  CHECK_THROWS_AS((void)(inside && i), std::invalid_argument);
  CHECK_THROWS_AS((void)(i && i), std::invalid_argument);
  CHECK_THROWS_AS((void)(v && v), std::invalid_argument);
  CHECK_THROWS_AS((void)(v < v), std::invalid_argument);
  CHECK_THROWS_AS((void)(v >= v), std::invalid_argument);
  CHECK_THROWS_AS((void)(inside < inside), std::invalid_argument);
}

TEST_CASE("count_flops: index math, loads, constants and casts count 0, each float operation 1") {
  ExprPool pool;
  const Expr i = pool.var(0), j = pool.var(1);
  const Expr index_math = floordiv(i * 3 + j, 2) - floormod(j, 4);
  CHECK(count_flops(pool, index_math.id) == 0);
  const Expr a = pool.load(0, {index_math, i});
  const Expr b = pool.load(1, {j});
  CHECK(count_flops(pool, a.id) == 0);
  CHECK(count_flops(pool, pool.value(2.5).id) == 0);
  CHECK(count_flops(pool, to_float(i * j).id) == 0);
  CHECK(count_flops(pool, (a + b).id) == 1);
  CHECK(count_flops(pool, (a - b).id) == 1);
  CHECK(count_flops(pool, (a * b).id) == 1);
  CHECK(count_flops(pool, (a / b).id) == 1);
  CHECK(count_flops(pool, max(a, 0.0).id) == 1);
  CHECK(count_flops(pool, min(a, b).id) == 1);
  CHECK(count_flops(pool, exp(a).id) == 1);
  CHECK(count_flops(pool, tanh(a).id) == 1);
  CHECK(count_flops(pool, erf(a).id) == 1);
  CHECK(count_flops(pool, (a / to_float(i + 1)).id) == 1);
  CHECK(count_flops(pool, exp(a * b + a).id) == 3);
  // A node used twice is counted at each use, as in the expression tree TVM walks.
  const Expr s = a + b;
  CHECK(count_flops(pool, (s * s).id) == 3);
}

TEST_CASE("count_flops: a select counts its branches and nothing for itself or its condition") {
  ExprPool pool;
  const Expr i = pool.var(0);
  const Expr a = pool.load(0, {i});
  const Expr condition = (i >= 1) && (i < pool.index(7) - 1);
  CHECK(count_flops(pool, select(condition, a, pool.value(0.0)).id) == 0);
  CHECK(count_flops(pool, select(condition, a * a, pool.value(0.0)).id) == 1);
  CHECK(count_flops(pool, select(condition, a + a, exp(a) * a).id) == 3);
  CHECK(count_flops(pool, (select(condition, a + a, a) + a).id) == 2);
}

TEST_CASE("import copies a tree into another pool, remapping variables and loads") {
  ExprPool source;
  const Expr x = source.var(0), y = source.var(1);
  const Expr cond = x < 4;
  const Expr body = select(cond, exp(source.load(5, {x + 1, y})) * 2.0, source.value(-1.5));

  ExprPool dest;
  (void)dest.index(42);  // the copy does not start at id 0
  std::vector<std::int64_t> vars_seen, loads_seen;
  const ExprId root = dest.import(
      source, body.id,
      [&](std::int64_t number) {
        vars_seen.push_back(number);
        return dest.var(number + 10).id;
      },
      [&](std::int64_t tensor, std::span<const ExprId> indices) {
        loads_seen.push_back(tensor);
        return dest.load_ids(tensor + 100, indices);
      });
  CHECK(vars_seen == std::vector<std::int64_t>{0, 0, 1});
  CHECK(loads_seen == std::vector<std::int64_t>{5});
  const ExprNode& sel = dest[root];
  REQUIRE(sel.op == ExprOp::select);
  CHECK(sel.type == ExprType::value);
  const ExprNode& lt = dest[sel.a];
  REQUIRE(lt.op == ExprOp::lt);
  CHECK(dest[lt.a].op == ExprOp::var);
  CHECK(dest[lt.a].integer == 10);
  CHECK(dest[lt.b].integer == 4);
  const ExprNode& product = dest[sel.b];
  REQUIRE(product.op == ExprOp::mul);
  CHECK(dest[product.b].op == ExprOp::float_const);
  CHECK(dest[product.b].real == 2.0);
  const ExprNode& e = dest[product.a];
  REQUIRE(e.op == ExprOp::exp);
  const ExprNode& load = dest[e.a];
  REQUIRE(load.op == ExprOp::load);
  CHECK(load.integer == 105);
  const auto args = dest.args(e.a);
  REQUIRE(args.size() == 2);
  CHECK(dest[args[0]].op == ExprOp::add);
  CHECK(dest[dest[args[0]].a].integer == 10);
  CHECK(dest[dest[args[0]].b].integer == 1);
  CHECK(dest[args[1]].op == ExprOp::var);
  CHECK(dest[args[1]].integer == 11);
  CHECK(dest[sel.c].op == ExprOp::float_const);
  CHECK(dest[sel.c].real == -1.5);
  CHECK(count_flops(dest, root) == count_flops(source, body.id));
}

TEST_CASE("import folds again when a variable becomes a constant, and copies loads of many indices") {
  ExprPool source;
  std::vector<Expr> indices;
  for (int d = 0; d < 10; ++d)
    indices.push_back(source.var(d) * 1 + 0);
  const Expr load = source.load(3, indices);
  const Expr body = load + to_float(floordiv(source.var(0) + 7, 2));

  ExprPool dest;
  const ExprId root = dest.import(
      source, body.id,
      [&](std::int64_t number) { return number == 0 ? dest.index(5).id : dest.var(number).id; },
      [&](std::int64_t tensor, std::span<const ExprId> ids) { return dest.load_ids(tensor, ids); });
  const ExprNode& add = dest[root];
  REQUIRE(add.op == ExprOp::add);
  // floordiv(5 + 7, 2) = 6, then to_float(6) = 6.0: all folded.
  CHECK(dest[add.b].op == ExprOp::float_const);
  CHECK(dest[add.b].real == 6.0);
  const auto args = dest.args(add.a);
  REQUIRE(args.size() == 10);
  CHECK(dest[args[0]].op == ExprOp::int_const);
  CHECK(dest[args[0]].integer == 5);
  for (std::size_t d = 1; d < 10; ++d) {
    CHECK(dest[args[d]].op == ExprOp::var);
    CHECK(dest[args[d]].integer == static_cast<std::int64_t>(d));
  }
}

TEST_CASE("post_order visits operands left to right, then the node") {
  ExprPool pool;
  const Expr i = pool.var(0), j = pool.var(1);
  const Expr a = pool.load(0, {i, j});
  const Expr b = pool.load(1, {j});
  const Expr c = pool.value(3.0);
  const Expr product = (a + b) * c;
  std::vector<ExprId> order;
  pool.post_order(product.id, [&](ExprId id) { order.push_back(id); });
  const ExprId sum = pool[product.id].a;
  CHECK(order == std::vector<ExprId>{i.id, j.id, a.id, j.id, b.id, sum, c.id, product.id});

  const Expr condition = i < 2;
  const Expr chosen = select(condition, a, b);
  order.clear();
  pool.post_order(chosen.id, [&](ExprId id) { order.push_back(id); });
  const ExprId two = pool[condition.id].b;
  CHECK(order == std::vector<ExprId>{i.id, two, condition.id, i.id, j.id, a.id, j.id, b.id, chosen.id});
}

TEST_CASE("dtypes have names and sizes") {
  CHECK(to_string(DType::float32) == "float32");
  CHECK(to_string(DType::float16) == "float16");
  CHECK(to_string(DType::bfloat16) == "bfloat16");
  CHECK(to_string(DType::int8) == "int8");
  CHECK(size_bytes(DType::float32) == 4);
  CHECK(size_bytes(DType::float16) == 2);
  CHECK(size_bytes(DType::bfloat16) == 2);
  CHECK(size_bytes(DType::int8) == 1);
}

namespace {
/// An independent integer evaluator of index expressions (floor division and remainder).
std::int64_t eval_index(const ExprPool& pool, ExprId id, std::span<const std::int64_t> vars) {
  const ExprNode& n = pool[id];
  auto floor_div = [](std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); };
  switch (n.op) {
    case ExprOp::int_const: return n.integer;
    case ExprOp::var: return vars[static_cast<std::size_t>(n.integer)];
    case ExprOp::add: return eval_index(pool, n.a, vars) + eval_index(pool, n.b, vars);
    case ExprOp::sub: return eval_index(pool, n.a, vars) - eval_index(pool, n.b, vars);
    case ExprOp::mul: return eval_index(pool, n.a, vars) * eval_index(pool, n.b, vars);
    case ExprOp::floordiv: return floor_div(eval_index(pool, n.a, vars), eval_index(pool, n.b, vars));
    case ExprOp::floormod: {
      const std::int64_t a = eval_index(pool, n.a, vars), b = eval_index(pool, n.b, vars);
      return a - floor_div(a, b) * b;
    }
    case ExprOp::min: return std::min(eval_index(pool, n.a, vars), eval_index(pool, n.b, vars));
    case ExprOp::max: return std::max(eval_index(pool, n.a, vars), eval_index(pool, n.b, vars));
    default: throw std::logic_error("not an index expression");
  }
}

std::size_t count_ops(const ExprPool& pool, ExprId root, ExprOp op) {
  std::size_t n = 0;
  pool.post_order(root, [&](ExprId id) { n += pool[id].op == op ? 1 : 0; });
  return n;
}
}  // namespace

TEST_CASE("simplify_index folds the pieces of a fused loop variable back into it, given the loops' extents") {
  // A loop fusing the four axes of a 1x256x56x56 tensor, split by 56: f < 14336, i < 56. The flat offset of
  // element (x / 802816, x / 3136 % 256, x / 56 % 56, x % 56), x = f * 56 + i, is x itself.
  ExprPool pool;
  const Expr f = pool.var(0), i = pool.var(1);
  const Expr x = f * 56 + i;
  const Expr offset = floordiv(x, 802816) * 802816 + floormod(floordiv(x, 3136), 256) * 3136 + floormod(floordiv(x, 56), 56) * 56 + floormod(x, 56);
  const std::int64_t extents[] = {14336, 56};
  auto extent = [&](std::int64_t v) { return extents[v]; };
  const ExprId simplified = simplify_index(pool, offset.id, extent, true);
  CHECK(count_ops(pool, simplified, ExprOp::floordiv) == 0);
  CHECK(count_ops(pool, simplified, ExprOp::floormod) == 0);
  const ExprNode& top = pool[simplified];
  REQUIRE(top.op == ExprOp::add);  // f * 56 + i
  CHECK(pool[top.b].op == ExprOp::var);
  CHECK(pool[top.b].integer == 1);
  for (std::int64_t fv : {std::int64_t{0}, std::int64_t{1}, std::int64_t{777}, std::int64_t{14335}})
    for (std::int64_t iv : {std::int64_t{0}, std::int64_t{13}, std::int64_t{55}}) {
      const std::int64_t vars[] = {fv, iv};
      CHECK(eval_index(pool, simplified, vars) == eval_index(pool, offset.id, vars));
    }

  // Without extents the remainders cannot be dropped, but x / 56 * 56 + x % 56 is x for every integer x.
  const Expr whole = floordiv(f, 56) * 56 + floormod(f, 56);
  const ExprId folded = simplify_index(pool, whole.id);
  CHECK(pool[folded].op == ExprOp::var);
  // An extent beyond the divisor keeps the remainder: f % 3136 with f < 10000.
  const Expr rows = floormod(floordiv(f, 56), 56) * 56 + floormod(f, 56);
  const std::int64_t wide[] = {10000, 1};
  const ExprId kept = simplify_index(pool, rows.id, [&](std::int64_t v) { return wide[v]; });
  CHECK(pool[kept].op == ExprOp::floormod);
  CHECK(pool[pool[kept].b].integer == 3136);
}

TEST_CASE("simplify_index with extents agrees with an independent evaluator on random fused offsets") {
  // Random shapes, fused and split like a schedule, then mixed with terms that must not fold.
  std::uint64_t state = 12345;
  auto next = [&](std::int64_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::int64_t>((state >> 33) % static_cast<std::uint64_t>(bound));
  };
  for (int trial = 0; trial < 200; ++trial) {
    ExprPool pool;
    const std::int64_t d0 = 1 + next(4), d1 = 1 + next(6), d2 = 1 + next(6);  // a d0 x d1 x d2 tensor
    const std::int64_t inner = 1 + next(d2 * d1);                              // the fused loop split by `inner`
    const std::int64_t outer = (d0 * d1 * d2 + inner - 1) / inner;
    const Expr o = pool.var(0), in = pool.var(1), other = pool.var(2);
    const Expr x = o * inner + in;
    Expr offset = floordiv(floordiv(x, d2), d1) * (d1 * d2) + floormod(floordiv(x, d2), d1) * d2 + floormod(x, d2);
    if (next(2) == 1) offset = offset + floormod(other, 3) * (1 + next(5));  // an unrelated term
    if (next(3) == 1) offset = offset + floormod(x, d2) * next(3);           // an extra piece with another scale
    const std::int64_t extents[] = {outer, inner, 7};
    const ExprId simplified = simplify_index(pool, offset.id, [&](std::int64_t v) { return extents[v]; }, next(2) == 1);
    for (std::int64_t a = 0; a < outer; ++a)
      for (std::int64_t b = 0; b < inner; ++b)
        for (std::int64_t c = 0; c < 7; c += 3) {
          const std::int64_t vars[] = {a, b, c};
          REQUIRE(eval_index(pool, simplified, vars) == eval_index(pool, offset.id, vars));
        }
  }
}
