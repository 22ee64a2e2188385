// crosstune/ir/expr.hpp — scalar expressions of the tensor-program IR: index arithmetic, float math and
// tensor loads.
//
// Each operation of a compute DAG owns one ExprPool: a flat vector of nodes referenced by 32-bit ids, so a
// whole operation body is copied with two vector copies and never chases pointers. Axis variables are
// numbered per operation (spatial axes first, then reduction axes); loads name their tensor by the id the
// DAG gave it, so inserting stages (cache_read, cache_write, rfactor) never renumbers anything.
//
// Expr is a (pool, id) handle with arithmetic operators, used by the operator builders in ir/operators.hpp:
//
//   ExprPool pool;
//   Expr x = pool.var(0), k = pool.var(2);
//   Expr body = pool.load(a_id, {x, k}) * pool.load(b_id, {k, pool.var(1)});
//
// Integer expressions are indices; float expressions are values. The two never mix without an explicit
// `to_float` (as in TVM, where the average pool divides by a cast of its window size).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crosstune::ir {

/// Element types. Only float32 is supported by the generator so far; the others are declared so that
/// workloads naming them are refused with a clear error instead of being misread.
enum class DType : std::uint8_t { float32, float16, bfloat16, int8 };

[[nodiscard]] constexpr std::string_view to_string(DType type) noexcept {
  switch (type) {
    case DType::float32: return "float32";
    case DType::float16: return "float16";
    case DType::bfloat16: return "bfloat16";
    case DType::int8: return "int8";
  }
  return "invalid";
}

[[nodiscard]] constexpr std::int64_t size_bytes(DType type) noexcept {
  switch (type) {
    case DType::float32: return 4;
    case DType::float16:
    case DType::bfloat16: return 2;
    case DType::int8: return 1;
  }
  return 0;
}

/// Expression node kinds. Binary arithmetic works on either integers or floats (both operands alike);
/// floordiv/floormod are integer-only (rounding toward minus infinity); div is float-only.
enum class ExprOp : std::uint8_t {
  int_const,    ///< integer literal (value in `integer`)
  float_const,  ///< float literal (value in `real`)
  var,          ///< axis variable number `integer` of the owning operation (or loop variable in a nest)
  load,         ///< tensor `integer` at the indices args[0..]
  add,
  sub,
  mul,
  div,       ///< float division
  floordiv,  ///< integer division rounding down
  floormod,  ///< integer remainder of floordiv, in [0, divisor)
  min,
  max,
  lt,           ///< integer comparison, gives a condition
  ge,           ///< integer comparison, gives a condition
  logical_and,  ///< both conditions
  select,       ///< a ? b : c, with a a condition (TVM's if_then_else)
  to_float,     ///< integer to float
  exp,
  tanh,
  erf,
};

/// The result type class of a node: an index (int64), a value (float32) or a condition (bool).
enum class ExprType : std::uint8_t { index, value, condition };

using ExprId = std::int32_t;
inline constexpr ExprId no_expr = -1;

struct ExprNode {
  ExprOp op = ExprOp::int_const;
  ExprType type = ExprType::index;
  ExprId a = no_expr, b = no_expr, c = no_expr;  ///< operands (select: condition, then, else)
  std::int64_t integer = 0;                      ///< int_const value, var number, load tensor id
  double real = 0.0;                             ///< float_const value
  std::uint32_t args_offset = 0, args_count = 0; ///< load indices in ExprPool::args
};

class ExprPool;

/// A handle to one node of a pool; the operators below build new nodes in the same pool.
struct Expr {
  ExprPool* pool = nullptr;
  ExprId id = no_expr;
};

/// The nodes of one operation's body (or of a lowered loop nest).
class ExprPool {
 public:
  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
  [[nodiscard]] const ExprNode& operator[](ExprId id) const { return nodes_[static_cast<std::size_t>(id)]; }
  [[nodiscard]] std::span<const ExprId> args(ExprId id) const {
    const ExprNode& n = (*this)[id];
    return {args_.data() + n.args_offset, n.args_count};
  }
  void reserve(std::size_t nodes, std::size_t args = 0) {
    nodes_.reserve(nodes);
    args_.reserve(args);
  }

  [[nodiscard]] Expr index(std::int64_t value) { return {this, push(ExprOp::int_const, ExprType::index, value)}; }
  [[nodiscard]] Expr value(double v) {
    const ExprId id = push(ExprOp::float_const, ExprType::value, 0);
    nodes_[static_cast<std::size_t>(id)].real = v;
    return {this, id};
  }
  [[nodiscard]] Expr var(std::int64_t number) { return {this, push(ExprOp::var, ExprType::index, number)}; }
  [[nodiscard]] Expr load(std::int64_t tensor_id, std::span<const Expr> indices) {
    for (const Expr& e : indices) require(e, ExprType::index, "load index");
    const ExprId id = push(ExprOp::load, ExprType::value, tensor_id);
    auto& n = nodes_[static_cast<std::size_t>(id)];
    n.args_offset = static_cast<std::uint32_t>(args_.size());
    n.args_count = static_cast<std::uint32_t>(indices.size());
    for (const Expr& e : indices) args_.push_back(e.id);
    return {this, id};
  }
  [[nodiscard]] Expr load(std::int64_t tensor_id, std::initializer_list<Expr> indices) {
    return load(tensor_id, std::span<const Expr>(indices.begin(), indices.size()));
  }
  /// A load whose indices are ids already in this pool (used when copying between pools).
  [[nodiscard]] ExprId load_ids(std::int64_t tensor_id, std::span<const ExprId> indices) {
    const ExprId id = push(ExprOp::load, ExprType::value, tensor_id);
    auto& n = nodes_[static_cast<std::size_t>(id)];
    n.args_offset = static_cast<std::uint32_t>(args_.size());
    n.args_count = static_cast<std::uint32_t>(indices.size());
    args_.insert(args_.end(), indices.begin(), indices.end());
    return id;
  }

  /// A binary node with constant folding of index arithmetic (x+0, x*1, x/1, x%1, constants).
  [[nodiscard]] ExprId binary(ExprOp op, ExprId a, ExprId b) {
    const ExprNode& x = (*this)[a];
    const ExprNode& y = (*this)[b];
    if (x.type != y.type || x.type == ExprType::condition) {
      if (!(op == ExprOp::logical_and && x.type == ExprType::condition && y.type == ExprType::condition))
        throw std::invalid_argument("ir::Expr: operands of different types (use to_float for indices)");
    }
    if (op == ExprOp::logical_and && x.type != ExprType::condition)
      throw std::invalid_argument("ir::Expr: && needs two conditions");
    if ((op == ExprOp::lt || op == ExprOp::ge) && x.type != ExprType::index)
      throw std::invalid_argument("ir::Expr: comparisons are on indices");
    if (x.type == ExprType::index) {
      const bool xc = x.op == ExprOp::int_const, yc = y.op == ExprOp::int_const;
      if (xc && yc) {
        const std::int64_t p = x.integer, q = y.integer;
        switch (op) {
          case ExprOp::add: return push(ExprOp::int_const, ExprType::index, p + q);
          case ExprOp::sub: return push(ExprOp::int_const, ExprType::index, p - q);
          case ExprOp::mul: return push(ExprOp::int_const, ExprType::index, p * q);
          case ExprOp::floordiv:
            if (q != 0) return push(ExprOp::int_const, ExprType::index, floor_div(p, q));
            break;
          case ExprOp::floormod:
            if (q != 0) return push(ExprOp::int_const, ExprType::index, p - floor_div(p, q) * q);
            break;
          case ExprOp::min: return push(ExprOp::int_const, ExprType::index, p < q ? p : q);
          case ExprOp::max: return push(ExprOp::int_const, ExprType::index, p > q ? p : q);
          default: break;
        }
      }
      if (yc) {
        if ((op == ExprOp::add || op == ExprOp::sub) && y.integer == 0) return a;
        if ((op == ExprOp::mul || op == ExprOp::floordiv) && y.integer == 1) return a;
        if (op == ExprOp::mul && y.integer == 0) return b;
        if (op == ExprOp::floormod && y.integer == 1) return push(ExprOp::int_const, ExprType::index, 0);
      }
      if (xc) {
        if (op == ExprOp::add && x.integer == 0) return b;
        if (op == ExprOp::mul && x.integer == 1) return b;
        if (op == ExprOp::mul && x.integer == 0) return a;
      }
      if (op == ExprOp::div) throw std::invalid_argument("ir::Expr: '/' on indices (use floordiv)");
    } else if (op == ExprOp::floordiv || op == ExprOp::floormod) {
      throw std::invalid_argument("ir::Expr: floordiv/floormod on values");
    }
    ExprType type = x.type;
    if (op == ExprOp::lt || op == ExprOp::ge || op == ExprOp::logical_and) type = ExprType::condition;
    const ExprId id = push(op, type, 0);
    nodes_[static_cast<std::size_t>(id)].a = a;
    nodes_[static_cast<std::size_t>(id)].b = b;
    return id;
  }
  [[nodiscard]] ExprId unary(ExprOp op, ExprId a) {
    const ExprNode& x = (*this)[a];
    if (op == ExprOp::to_float) {
      if (x.type != ExprType::index) throw std::invalid_argument("ir::Expr: to_float of a non-index");
      if (x.op == ExprOp::int_const) return value(static_cast<double>(x.integer)).id;
    } else if (x.type != ExprType::value) {
      throw std::invalid_argument("ir::Expr: exp/tanh/erf need a value");
    }
    const ExprId id = push(op, ExprType::value, 0);
    nodes_[static_cast<std::size_t>(id)].a = a;
    return id;
  }
  [[nodiscard]] ExprId select_ids(ExprId condition, ExprId then_value, ExprId else_value) {
    if ((*this)[condition].type != ExprType::condition)
      throw std::invalid_argument("ir::Expr: select needs a condition");
    if ((*this)[then_value].type != (*this)[else_value].type)
      throw std::invalid_argument("ir::Expr: select branches of different types");
    const ExprId id = push(ExprOp::select, (*this)[then_value].type, 0);
    auto& n = nodes_[static_cast<std::size_t>(id)];
    n.a = condition;
    n.b = then_value;
    n.c = else_value;
    return id;
  }
  /// Copies node `id` of `source` (and everything under it) into this pool. `map_var(number)` gives the
  /// id (in this pool) a variable becomes; `map_load(tensor_id, index ids)` gives the id a load becomes.
  template <class MapVar, class MapLoad>
  ExprId import(const ExprPool& source, ExprId id, MapVar&& map_var, MapLoad&& map_load) {
    const ExprNode n = source[id];
    switch (n.op) {
      case ExprOp::int_const: return push(ExprOp::int_const, ExprType::index, n.integer);
      case ExprOp::float_const: return value(n.real).id;
      case ExprOp::var: return map_var(n.integer);
      case ExprOp::load: {
        ExprId small[8];
        std::vector<ExprId> large;
        const auto src_args = source.args(id);
        ExprId* out = small;
        if (src_args.size() > 8) {
          large.resize(src_args.size());
          out = large.data();
        }
        for (std::size_t i = 0; i < src_args.size(); ++i)
          out[i] = import(source, src_args[i], map_var, map_load);
        return map_load(n.integer, std::span<const ExprId>(out, src_args.size()));
      }
      case ExprOp::select: {
        const ExprId c = import(source, n.a, map_var, map_load);
        const ExprId t = import(source, n.b, map_var, map_load);
        const ExprId e = import(source, n.c, map_var, map_load);
        return select_ids(c, t, e);
      }
      case ExprOp::to_float:
      case ExprOp::exp:
      case ExprOp::tanh:
      case ExprOp::erf: return unary(n.op, import(source, n.a, map_var, map_load));
      default: {
        const ExprId a = import(source, n.a, map_var, map_load);
        const ExprId b = import(source, n.b, map_var, map_load);
        return binary(n.op, a, b);
      }
    }
  }

  /// Calls `visit(id)` on every node under `root` in post-order, operands left to right.
  template <class Visit>
  void post_order(ExprId root, Visit&& visit) const {
    const ExprNode& n = (*this)[root];
    if (n.op == ExprOp::load) {
      for (ExprId arg : args(root)) post_order(arg, visit);
    } else {
      if (n.a != no_expr) post_order(n.a, visit);
      if (n.b != no_expr) post_order(n.b, visit);
      if (n.c != no_expr) post_order(n.c, visit);
    }
    visit(root);
  }

  static constexpr std::int64_t floor_div(std::int64_t p, std::int64_t q) noexcept {
    const std::int64_t d = p / q;
    return (p % q != 0 && ((p < 0) != (q < 0))) ? d - 1 : d;
  }

 private:
  static void require(const Expr& e, ExprType type, const char* what) {
    if (e.pool == nullptr || e.id == no_expr) throw std::invalid_argument(std::string("ir::Expr: empty ") + what);
    if ((*e.pool)[e.id].type != type) throw std::invalid_argument(std::string("ir::Expr: wrong type for ") + what);
  }
  ExprId push(ExprOp op, ExprType type, std::int64_t integer) {
    ExprNode& n = nodes_.emplace_back();
    n.op = op;
    n.type = type;
    n.integer = integer;
    return static_cast<ExprId>(nodes_.size() - 1);
  }

  std::vector<ExprNode> nodes_;
  std::vector<ExprId> args_;
};

// ---- Expr operators (both operands from the same pool) ----------------------------------------------

namespace expr_detail {
inline Expr make(const Expr& a, ExprId id) { return {a.pool, id}; }
inline Expr constant_like(const Expr& a, double v) {
  return (*a.pool)[a.id].type == ExprType::index ? a.pool->index(static_cast<std::int64_t>(v)) : a.pool->value(v);
}
}  // namespace expr_detail

[[nodiscard]] inline Expr operator+(Expr a, Expr b) { return expr_detail::make(a, a.pool->binary(ExprOp::add, a.id, b.id)); }
[[nodiscard]] inline Expr operator-(Expr a, Expr b) { return expr_detail::make(a, a.pool->binary(ExprOp::sub, a.id, b.id)); }
[[nodiscard]] inline Expr operator*(Expr a, Expr b) { return expr_detail::make(a, a.pool->binary(ExprOp::mul, a.id, b.id)); }
[[nodiscard]] inline Expr operator/(Expr a, Expr b) { return expr_detail::make(a, a.pool->binary(ExprOp::div, a.id, b.id)); }
[[nodiscard]] inline Expr operator+(Expr a, double b) { return a + expr_detail::constant_like(a, b); }
[[nodiscard]] inline Expr operator-(Expr a, double b) { return a - expr_detail::constant_like(a, b); }
[[nodiscard]] inline Expr operator*(Expr a, double b) { return a * expr_detail::constant_like(a, b); }
[[nodiscard]] inline Expr operator/(Expr a, double b) { return a / expr_detail::constant_like(a, b); }
[[nodiscard]] inline Expr floordiv(Expr a, std::int64_t b) {
  return expr_detail::make(a, a.pool->binary(ExprOp::floordiv, a.id, a.pool->index(b).id));
}
[[nodiscard]] inline Expr floormod(Expr a, std::int64_t b) {
  return expr_detail::make(a, a.pool->binary(ExprOp::floormod, a.id, a.pool->index(b).id));
}
[[nodiscard]] inline Expr min(Expr a, Expr b) { return expr_detail::make(a, a.pool->binary(ExprOp::min, a.id, b.id)); }
[[nodiscard]] inline Expr max(Expr a, Expr b) { return expr_detail::make(a, a.pool->binary(ExprOp::max, a.id, b.id)); }
[[nodiscard]] inline Expr max(Expr a, double b) { return max(a, expr_detail::constant_like(a, b)); }
[[nodiscard]] inline Expr operator<(Expr a, Expr b) { return expr_detail::make(a, a.pool->binary(ExprOp::lt, a.id, b.id)); }
[[nodiscard]] inline Expr operator<(Expr a, std::int64_t b) { return a < a.pool->index(b); }
[[nodiscard]] inline Expr operator>=(Expr a, Expr b) { return expr_detail::make(a, a.pool->binary(ExprOp::ge, a.id, b.id)); }
[[nodiscard]] inline Expr operator>=(Expr a, std::int64_t b) { return a >= a.pool->index(b); }
[[nodiscard]] inline Expr operator&&(Expr a, Expr b) {
  return expr_detail::make(a, a.pool->binary(ExprOp::logical_and, a.id, b.id));
}
[[nodiscard]] inline Expr select(Expr condition, Expr then_value, Expr else_value) {
  return expr_detail::make(condition, condition.pool->select_ids(condition.id, then_value.id, else_value.id));
}
[[nodiscard]] inline Expr to_float(Expr a) { return expr_detail::make(a, a.pool->unary(ExprOp::to_float, a.id)); }
[[nodiscard]] inline Expr exp(Expr a) { return expr_detail::make(a, a.pool->unary(ExprOp::exp, a.id)); }
[[nodiscard]] inline Expr tanh(Expr a) { return expr_detail::make(a, a.pool->unary(ExprOp::tanh, a.id)); }
[[nodiscard]] inline Expr erf(Expr a) { return expr_detail::make(a, a.pool->unary(ExprOp::erf, a.id)); }

/// True when `a` and `b` are the same expression tree (same operations, constants and variables).
[[nodiscard]] inline bool same_expr(const ExprPool& pool, ExprId a, ExprId b) {
  if (a == b) return true;
  if (a == no_expr || b == no_expr) return false;
  const ExprNode& x = pool[a];
  const ExprNode& y = pool[b];
  if (x.op != y.op || x.type != y.type || x.integer != y.integer) return false;
  if (x.op == ExprOp::float_const) return x.real == y.real;
  if (x.op == ExprOp::load) {
    const auto p = pool.args(a), q = pool.args(b);
    if (p.size() != q.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (!same_expr(pool, p[i], q[i])) return false;
    return true;
  }
  return same_expr(pool, x.a, y.a) && same_expr(pool, x.b, y.b) && same_expr(pool, x.c, y.c);
}

/// The closed interval [lo, hi] an index expression lies in.
struct IndexRange {
  std::int64_t lo = 0, hi = 0;
};

/// The interval of index expression `id`, given `extent(var)`: the extent of variable `var` (it ranges over
/// [0, extent)) or 0 when unknown. Nullopt when some part is unknown (a load, an unknown variable, a
/// division by a non-constant).
template <class Extent>
[[nodiscard]] std::optional<IndexRange> index_range(const ExprPool& pool, ExprId id, Extent&& extent) {
  const ExprNode& n = pool[id];
  if (n.type != ExprType::index) return std::nullopt;
  auto both = [&]() -> std::optional<std::pair<IndexRange, IndexRange>> {
    auto x = index_range(pool, n.a, extent);
    if (!x) return std::nullopt;
    auto y = index_range(pool, n.b, extent);
    if (!y) return std::nullopt;
    return std::pair{*x, *y};
  };
  auto floor_div = [](std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); };
  switch (n.op) {
    case ExprOp::int_const: return IndexRange{n.integer, n.integer};
    case ExprOp::var: {
      const std::int64_t e = extent(n.integer);
      if (e <= 0) return std::nullopt;
      return IndexRange{0, e - 1};
    }
    case ExprOp::add: {
      auto r = both();
      if (!r) return std::nullopt;
      return IndexRange{r->first.lo + r->second.lo, r->first.hi + r->second.hi};
    }
    case ExprOp::sub: {
      auto r = both();
      if (!r) return std::nullopt;
      return IndexRange{r->first.lo - r->second.hi, r->first.hi - r->second.lo};
    }
    case ExprOp::mul: {
      auto r = both();
      if (!r) return std::nullopt;
      const std::int64_t c[4] = {r->first.lo * r->second.lo, r->first.lo * r->second.hi, r->first.hi * r->second.lo,
                                 r->first.hi * r->second.hi};
      return IndexRange{*std::min_element(c, c + 4), *std::max_element(c, c + 4)};
    }
    case ExprOp::floordiv:
    case ExprOp::floormod: {
      if (pool[n.b].op != ExprOp::int_const || pool[n.b].integer <= 0) return std::nullopt;
      const std::int64_t d = pool[n.b].integer;
      auto x = index_range(pool, n.a, extent);
      if (!x) return std::nullopt;
      if (n.op == ExprOp::floordiv) return IndexRange{floor_div(x->lo, d), floor_div(x->hi, d)};
      if (floor_div(x->lo, d) == floor_div(x->hi, d)) return IndexRange{x->lo - floor_div(x->lo, d) * d, x->hi - floor_div(x->lo, d) * d};
      return IndexRange{0, d - 1};
    }
    case ExprOp::min:
    case ExprOp::max: {
      auto r = both();
      if (!r) return std::nullopt;
      if (n.op == ExprOp::min) return IndexRange{std::min(r->first.lo, r->second.lo), std::min(r->first.hi, r->second.hi)};
      return IndexRange{std::max(r->first.lo, r->second.lo), std::max(r->first.hi, r->second.hi)};
    }
    default: return std::nullopt;
  }
}

namespace expr_detail {
using Terms = std::vector<std::pair<ExprId, std::int64_t>>;

/// No variable extents known.
inline constexpr auto no_extents = [](std::int64_t) -> std::int64_t { return 0; };

/// Adds coef × atom to `terms`, merging it with an equal atom.
inline void add_term(const ExprPool& pool, Terms& terms, ExprId atom, std::int64_t coef) {
  for (auto& [existing, c] : terms) {
    if (same_expr(pool, existing, atom)) {
      c += coef;
      return;
    }
  }
  terms.emplace_back(atom, coef);
}

/// Adds coef × (the index expression `id`) to `terms`/`constant`, splitting sums and constant products;
/// anything else is an opaque atom (its own operands simplified first). With variable extents, a
/// floordiv or floormod whose operand provably lies in [0, divisor) becomes 0 or its operand.
template <class Simplify, class Extent>
void collect_affine(ExprPool& pool, ExprId id, std::int64_t coef, Terms& terms, std::int64_t& constant, Simplify&& simplify,
                    Extent&& extent) {
  const ExprNode n = pool[id];
  switch (n.op) {
    case ExprOp::int_const: constant += coef * n.integer; return;
    case ExprOp::add:
      collect_affine(pool, n.a, coef, terms, constant, simplify, extent);
      collect_affine(pool, n.b, coef, terms, constant, simplify, extent);
      return;
    case ExprOp::sub:
      collect_affine(pool, n.a, coef, terms, constant, simplify, extent);
      collect_affine(pool, n.b, -coef, terms, constant, simplify, extent);
      return;
    case ExprOp::mul:
      if (pool[n.b].op == ExprOp::int_const) return collect_affine(pool, n.a, coef * pool[n.b].integer, terms, constant, simplify, extent);
      if (pool[n.a].op == ExprOp::int_const) return collect_affine(pool, n.b, coef * pool[n.a].integer, terms, constant, simplify, extent);
      break;
    case ExprOp::floordiv:
    case ExprOp::floormod:
      if (pool[n.b].op == ExprOp::int_const && pool[n.b].integer > 0) {
        const auto r = index_range(pool, n.a, extent);
        if (r && r->lo >= 0 && r->hi < pool[n.b].integer) {
          if (n.op == ExprOp::floormod) collect_affine(pool, n.a, coef, terms, constant, simplify, extent);
          return;  // floordiv: 0
        }
      }
      break;
    default: break;
  }
  ExprId atom = id;
  if (n.op == ExprOp::floordiv || n.op == ExprOp::floormod || n.op == ExprOp::mul || n.op == ExprOp::min || n.op == ExprOp::max)
    atom = pool.binary(n.op, simplify(n.a), simplify(n.b));
  add_term(pool, terms, atom, coef);
}

/// Whether `id` is floormod(x, c) or floordiv(x, c) with a positive constant c: sets x and c.
inline bool div_or_mod(const ExprPool& pool, ExprId id, ExprOp op, ExprId& x, std::int64_t& c) {
  const ExprNode& n = pool[id];
  if (n.op != op || pool[n.b].op != ExprOp::int_const || pool[n.b].integer <= 0) return false;
  x = n.a;
  c = pool[n.b].integer;
  return true;
}

/// Folds the pieces of a fused loop variable back together: (x / c % e)·k·c + (x % c)·k becomes
/// (x % (c·e))·k, and (x / c)·k·c + (x % c)·k becomes x·k — the index a tensor's flat offset takes when a
/// loop fuses its contiguous axes. Repeats until nothing folds.
template <class Simplify, class Extent>
void fold_fused(ExprPool& pool, Terms& terms, std::int64_t& constant, Simplify&& simplify, Extent&& extent) {
  for (bool again = true; again;) {
    again = false;
    for (std::size_t i = 0; i < terms.size() && !again; ++i) {
      ExprId x{};
      std::int64_t c = 0;
      const std::int64_t k = terms[i].second;
      if (k == 0 || !div_or_mod(pool, terms[i].first, ExprOp::floormod, x, c)) continue;  // (x % c)·k
      for (std::size_t j = 0; j < terms.size() && !again; ++j) {
        if (j == i || terms[j].second != k * c) continue;
        ExprId inner{}, y{};
        std::int64_t e = 0, c2 = 0;
        ExprId folded = no_expr;
        if (div_or_mod(pool, terms[j].first, ExprOp::floormod, inner, e) && div_or_mod(pool, inner, ExprOp::floordiv, y, c2) && c2 == c &&
            same_expr(pool, x, y))
          folded = pool.binary(ExprOp::floormod, x, pool.index(c * e).id);  // (x / c % e)·k·c
        else if (div_or_mod(pool, terms[j].first, ExprOp::floordiv, y, c2) && c2 == c && same_expr(pool, x, y))
          folded = x;  // (x / c)·k·c
        if (folded == no_expr) continue;
        Terms rest;
        for (std::size_t t = 0; t < terms.size(); ++t)
          if (t != i && t != j) rest.push_back(terms[t]);
        collect_affine(pool, folded, k, rest, constant, simplify, extent);
        terms = std::move(rest);
        again = true;
      }
    }
  }
}
}  // namespace expr_detail

/// Rewrites an index expression as a sum of distinct terms (variables in increasing number, then other
/// sub-expressions) times constant coefficients, plus one constant: `(a + b*3) - (a + b)` becomes `b*2`.
/// `extent(var)` gives the extent of each variable (0: unknown): with it, divisions and remainders whose
/// operand provably lies within the divisor vanish, and the pieces of a fused loop variable fold back
/// together (expr_detail::fold_fused), so `(f / 56 % 56)·56 + f % 56` over f < 3136 becomes `f`.
/// `largest_first` orders the terms by decreasing coefficient instead (a flat offset then reads row-major:
/// `k * 48 + y`). Values and conditions are returned unchanged.
template <class Extent>
[[nodiscard]] ExprId simplify_index(ExprPool& pool, ExprId id, Extent&& extent, bool largest_first = false) {
  if (pool[id].type != ExprType::index) return id;
  expr_detail::Terms terms;
  std::int64_t constant = 0;
  auto simplify = [&](ExprId sub) { return simplify_index(pool, sub, extent); };
  expr_detail::collect_affine(pool, id, 1, terms, constant, simplify, extent);
  expr_detail::fold_fused(pool, terms, constant, simplify, extent);
  std::stable_sort(terms.begin(), terms.end(), [&](const auto& x, const auto& y) {
    if (largest_first && x.second != y.second) return x.second > y.second;
    const ExprNode& a = pool[x.first];
    const ExprNode& b = pool[y.first];
    const bool av = a.op == ExprOp::var, bv = b.op == ExprOp::var;
    if (av != bv) return av;
    return av && a.integer < b.integer;
  });
  ExprId out = no_expr;
  for (const auto& [atom, coef] : terms) {
    if (coef == 0) continue;
    const std::int64_t magnitude = coef < 0 ? -coef : coef;
    const ExprId term = magnitude == 1 ? atom : pool.binary(ExprOp::mul, atom, pool.index(magnitude).id);
    if (out == no_expr) out = coef < 0 ? pool.binary(ExprOp::sub, pool.index(0).id, term) : term;
    else out = pool.binary(coef < 0 ? ExprOp::sub : ExprOp::add, out, term);
  }
  if (out == no_expr) return pool.index(constant).id;
  if (constant != 0) out = pool.binary(constant < 0 ? ExprOp::sub : ExprOp::add, out, pool.index(constant < 0 ? -constant : constant).id);
  return out;
}

/// simplify_index with no variable extents known (no division or remainder is dropped).
[[nodiscard]] inline ExprId simplify_index(ExprPool& pool, ExprId id) { return simplify_index(pool, id, expr_detail::no_extents); }

/// Floating-point operations in the tree under `root`, counted as TVM's FlopEstimator does: one per
/// arithmetic, min/max or math-function node whose result is a value; index arithmetic, loads,
/// constants, casts and selects count nothing (a select's branches are counted).
[[nodiscard]] inline std::int64_t count_flops(const ExprPool& pool, ExprId root) {
  std::int64_t flops = 0;
  pool.post_order(root, [&](ExprId id) {
    const ExprNode& n = pool[id];
    if (n.type != ExprType::value) return;
    switch (n.op) {
      case ExprOp::add:
      case ExprOp::sub:
      case ExprOp::mul:
      case ExprOp::div:
      case ExprOp::min:
      case ExprOp::max:
      case ExprOp::exp:
      case ExprOp::tanh:
      case ExprOp::erf: ++flops; break;
      default: break;
    }
  });
  return flops;
}

}  // namespace crosstune::ir
