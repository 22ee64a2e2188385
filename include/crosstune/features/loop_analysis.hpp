// crosstune/features/loop_analysis.hpp — what the loop-statistics features measure on a lowered nest:
// index values at given loop values, floating-point operations of a value, the loads of a value, and the
// slopes, strides and footprints of one access inside a list of loops.
//
// Strides and footprints come from evaluating each index at the loop bounds: exact for affine indices, an
// average slope for the floordiv/floormod ones that fused loops produce; footprints are bounding boxes
// clipped to the buffer. features/loop_features.hpp (per store) and features/kernel_features.hpp (per GPU
// kernel) are built on these.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "crosstune/codegen/lower.hpp"
#include "crosstune/ir/dag.hpp"

namespace crosstune::features::loop_analysis {

inline float log2p(double x) { return static_cast<float>(std::log2(1.0 + std::max(0.0, x))); }

/// The integer value of index expression `id` with loop variables at `vars` (indexed by loop id).
inline std::int64_t eval_index(const ir::ExprPool& pool, ir::ExprId id, std::span<const std::int64_t> vars) {
  const ir::ExprNode& n = pool[id];
  auto a = [&] { return eval_index(pool, n.a, vars); };
  auto b = [&] { return eval_index(pool, n.b, vars); };
  switch (n.op) {
    case ir::ExprOp::int_const: return n.integer;
    case ir::ExprOp::var: return n.integer >= 0 && static_cast<std::size_t>(n.integer) < vars.size() ? vars[static_cast<std::size_t>(n.integer)] : 0;
    case ir::ExprOp::add: return a() + b();
    case ir::ExprOp::sub: return a() - b();
    case ir::ExprOp::mul: return a() * b();
    case ir::ExprOp::floordiv: {
      const std::int64_t q = b();
      return q == 0 ? 0 : ir::ExprPool::floor_div(a(), q);
    }
    case ir::ExprOp::floormod: {
      const std::int64_t p = a(), q = b();
      return q == 0 ? 0 : p - ir::ExprPool::floor_div(p, q) * q;
    }
    case ir::ExprOp::min: return std::min(a(), b());
    case ir::ExprOp::max: return std::max(a(), b());
    case ir::ExprOp::lt: return a() < b() ? 1 : 0;
    case ir::ExprOp::ge: return a() >= b() ? 1 : 0;
    case ir::ExprOp::logical_and: return a() != 0 && b() != 0 ? 1 : 0;
    case ir::ExprOp::select: return eval_index(pool, n.a, vars) != 0 ? b() : eval_index(pool, n.c, vars);
    default: return 0;
  }
}

/// Floating-point operations of value expression `id` (index arithmetic is not counted).
inline std::int64_t count_ops(const ir::ExprPool& pool, ir::ExprId id) {
  const ir::ExprNode& n = pool[id];
  if (n.type != ir::ExprType::value) return 0;
  switch (n.op) {
    case ir::ExprOp::float_const:
    case ir::ExprOp::load:
    case ir::ExprOp::to_float: return 0;
    case ir::ExprOp::select: return 1 + count_ops(pool, n.b) + count_ops(pool, n.c);
    case ir::ExprOp::exp:
    case ir::ExprOp::tanh:
    case ir::ExprOp::erf: return 1 + count_ops(pool, n.a);
    default: return 1 + count_ops(pool, n.a) + count_ops(pool, n.b);
  }
}

/// The loads of value expression `id`: (buffer, load node).
inline void collect_loads(const ir::ExprPool& pool, ir::ExprId id, std::vector<std::pair<std::int32_t, ir::ExprId>>& out) {
  if (id == ir::no_expr) return;
  const ir::ExprNode& n = pool[id];
  if (n.op == ir::ExprOp::load) {
    out.emplace_back(static_cast<std::int32_t>(n.integer), id);
    return;  // indices hold no loads
  }
  collect_loads(pool, n.a, out);
  collect_loads(pool, n.b, out);
  collect_loads(pool, n.c, out);
}

struct Access {
  std::int32_t buffer = -1;
  std::span<const ir::ExprId> index;
  // Per enclosing loop (outer to inner): slope of each dimension, and the linear stride in elements.
  std::vector<double> slope;  ///< [dims × loops]
  std::vector<double> stride;
  std::vector<double> footprint;  ///< elements touched by the loops from level k inward, k = 0..loops
};

/// The slopes, strides and footprints of one access inside `loops` (ids, outer to inner).
inline void analyse_access(const codegen::LoopNest& nest, std::span<const std::int32_t> loops, Access& a,
                           std::vector<std::int64_t>& vars) {
  const std::size_t n = loops.size(), dims = a.index.size();
  const auto& shape = nest.buffers[static_cast<std::size_t>(a.buffer)].shape;
  a.slope.assign(dims * n, 0.0);
  a.stride.assign(n, 0.0);
  std::fill(vars.begin(), vars.end(), 0);
  std::vector<std::int64_t> base(dims);
  for (std::size_t d = 0; d < dims; ++d) base[d] = eval_index(nest.pool, a.index[d], vars);
  for (std::size_t j = 0; j < n; ++j) {
    const auto loop = static_cast<std::size_t>(loops[j]);
    const std::int64_t last = nest.loops[loop].extent - 1;
    if (last <= 0) continue;
    vars[loop] = last;
    double row = 1;
    for (std::size_t d = dims; d-- > 0;) {
      const double s = static_cast<double>(eval_index(nest.pool, a.index[d], vars) - base[d]) / static_cast<double>(last);
      a.slope[d * n + j] = s;
      a.stride[j] += s * row;
      row *= d < shape.size() ? static_cast<double>(shape[d]) : 1.0;
    }
    vars[loop] = 0;
  }
  a.footprint.assign(n + 1, 1.0);
  std::vector<double> span(dims, 1.0);
  for (std::size_t k = n; k-- > 0;) {
    const double reach = static_cast<double>(nest.loops[static_cast<std::size_t>(loops[k])].extent - 1);
    double elements = 1;
    for (std::size_t d = 0; d < dims; ++d) {
      span[d] += std::abs(a.slope[d * n + k]) * reach;
      const double limit = d < shape.size() ? static_cast<double>(shape[d]) : 1.0;
      elements *= std::min(span[d], std::max(1.0, limit));
    }
    a.footprint[k] = elements;
  }
}


}  // namespace crosstune::features::loop_analysis
