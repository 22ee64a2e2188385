// crosstune/ir/evaluate.hpp — a direct interpreter of compute DAGs, for verification.
//
// Evaluates every operation of a DAG over its whole iteration domain, in stage order, reading the
// placeholders from the caller's buffers. It is slow (a tree walk per element) and exact in the sense
// that matters: reductions accumulate in double and every load is bounds-checked, so a DAG whose index
// arithmetic strays outside a tensor is reported, not silently read. Tests use it to check each
// operator's DAG against ir/reference.hpp, and generated kernels against any DAG, including those rebuilt
// from workload keys.
//
//   auto dag = crosstune::ir::matmul(8, 4, 5).value();
//   std::vector<float> a(32, 1.0f), b(20, 2.0f);
//   auto outputs = crosstune::ir::evaluate(dag, {a, b}).value();  // outputs[0][i] == 8.0f
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/ir/dag.hpp"

namespace crosstune::ir {

namespace evaluate_detail {

struct Interpreter {
  const Operation& op;
  const std::unordered_map<std::int32_t, std::vector<float>>& tensors;
  const std::unordered_map<std::int32_t, const Operation*>& ops;
  std::vector<std::int64_t> vars;
  std::string error;

  std::int64_t index(ExprId id) {
    const ExprNode& n = op.pool[id];
    switch (n.op) {
      case ExprOp::int_const: return n.integer;
      case ExprOp::var: return vars[static_cast<std::size_t>(n.integer)];
      case ExprOp::add: return index(n.a) + index(n.b);
      case ExprOp::sub: return index(n.a) - index(n.b);
      case ExprOp::mul: return index(n.a) * index(n.b);
      case ExprOp::min: return std::min(index(n.a), index(n.b));
      case ExprOp::max: return std::max(index(n.a), index(n.b));
      case ExprOp::floordiv:
      case ExprOp::floormod: {
        const std::int64_t p = index(n.a), q = index(n.b);
        if (q == 0) {
          error = "division by zero in an index";
          return 0;
        }
        const std::int64_t d = ExprPool::floor_div(p, q);
        return n.op == ExprOp::floordiv ? d : p - d * q;
      }
      case ExprOp::select: return condition(n.a) ? index(n.b) : index(n.c);
      default: error = "a value where an index was expected"; return 0;
    }
  }
  bool condition(ExprId id) {
    const ExprNode& n = op.pool[id];
    switch (n.op) {
      case ExprOp::lt: return index(n.a) < index(n.b);
      case ExprOp::ge: return index(n.a) >= index(n.b);
      case ExprOp::logical_and: return condition(n.a) && condition(n.b);
      default: error = "an expression where a condition was expected"; return false;
    }
  }
  double value(ExprId id) {
    const ExprNode& n = op.pool[id];
    switch (n.op) {
      case ExprOp::float_const: return n.real;
      case ExprOp::load: {
        const auto tensor = static_cast<std::int32_t>(n.integer);
        const Operation& producer = *ops.at(tensor);
        const auto args = op.pool.args(id);
        std::int64_t flat = 0;
        for (std::size_t d = 0; d < args.size(); ++d) {
          const std::int64_t i = index(args[d]);
          const std::int64_t extent = producer.axes[d].extent;
          if (i < 0 || i >= extent) {
            if (error.empty())
              error = "reads " + producer.name + " at index " + std::to_string(i) + " of dimension " + std::to_string(d) +
                      " (extent " + std::to_string(extent) + ")";
            return 0.0;
          }
          flat = flat * extent + i;
        }
        return tensors.at(tensor)[static_cast<std::size_t>(flat)];
      }
      case ExprOp::add: return value(n.a) + value(n.b);
      case ExprOp::sub: return value(n.a) - value(n.b);
      case ExprOp::mul: return value(n.a) * value(n.b);
      case ExprOp::div: return value(n.a) / value(n.b);
      case ExprOp::min: return std::min(value(n.a), value(n.b));
      case ExprOp::max: return std::max(value(n.a), value(n.b));
      case ExprOp::select: return condition(n.a) ? value(n.b) : value(n.c);
      case ExprOp::to_float: return static_cast<double>(index(n.a));
      case ExprOp::exp: return std::exp(value(n.a));
      case ExprOp::tanh: return std::tanh(value(n.a));
      case ExprOp::erf: return std::erf(value(n.a));
      default: error = "an index where a value was expected"; return 0.0;
    }
  }
};

}  // namespace evaluate_detail

/// Runs `dag` on `inputs` (one buffer per placeholder, in stage order, row-major) and returns its outputs
/// in the order of dag.outputs(). Errors name the operation and what went wrong.
[[nodiscard]] inline Expected<std::vector<std::vector<float>>> evaluate(const ComputeDag& dag,
                                                                        std::span<const std::span<const float>> inputs) {
  auto bad = [](const std::string& what) { return unexpected(Error(ErrorKind::invalid_argument, "ir::evaluate: " + what)); };
  std::unordered_map<std::int32_t, std::vector<float>> tensors;
  std::unordered_map<std::int32_t, const Operation*> ops;
  std::size_t next_input = 0;
  for (const auto& op_ptr : dag.ops()) {
    const Operation& op = *op_ptr;
    ops[op.id] = &op;
    if (op.placeholder) {
      if (next_input >= inputs.size())
        return bad("the DAG has more placeholders than the " + std::to_string(inputs.size()) + " inputs given");
      const auto in = inputs[next_input++];
      if (static_cast<std::int64_t>(in.size()) != op.element_count())
        return bad("input '" + op.name + "' holds " + std::to_string(in.size()) + " values, its shape " +
                   std::to_string(op.element_count()));
      tensors[op.id].assign(in.begin(), in.end());
      continue;
    }
    std::vector<float>& out = tensors[op.id];
    out.resize(static_cast<std::size_t>(op.element_count()));
    evaluate_detail::Interpreter run{op, tensors, ops, std::vector<std::int64_t>(op.axes.size() + op.reduce_axes.size(), 0), {}};
    const std::size_t n_spatial = op.axes.size();
    for (std::int64_t flat = 0; flat < op.element_count(); ++flat) {
      std::int64_t rest = flat;
      for (std::size_t d = n_spatial; d-- > 0;) {
        run.vars[d] = rest % op.axes[d].extent;
        rest /= op.axes[d].extent;
      }
      double acc = reduce_identity(op.reduce);
      if (op.reduce == ReduceKind::none) {
        acc = run.value(op.body);
      } else {
        for (std::int64_t r = 0; r < op.reduce_count(); ++r) {
          std::int64_t left = r;
          for (std::size_t d = op.reduce_axes.size(); d-- > 0;) {
            run.vars[n_spatial + d] = left % op.reduce_axes[d].extent;
            left /= op.reduce_axes[d].extent;
          }
          const double v = run.value(op.body);
          acc = op.reduce == ReduceKind::sum ? acc + v : op.reduce == ReduceKind::max ? std::max(acc, v) : std::min(acc, v);
        }
      }
      if (!run.error.empty()) return bad("'" + op.name + "' " + run.error);
      out[static_cast<std::size_t>(flat)] = static_cast<float>(acc);
    }
  }
  if (next_input != inputs.size())
    return bad(std::to_string(inputs.size()) + " inputs given for " + std::to_string(next_input) + " placeholders");
  std::vector<std::vector<float>> outputs;
  for (std::int32_t id : dag.outputs()) outputs.push_back(std::move(tensors[id]));
  return outputs;
}

/// The same with the inputs as vectors.
[[nodiscard]] inline Expected<std::vector<std::vector<float>>> evaluate(const ComputeDag& dag,
                                                                        const std::vector<std::vector<float>>& inputs) {
  std::vector<std::span<const float>> spans(inputs.begin(), inputs.end());
  return evaluate(dag, std::span<const std::span<const float>>(spans));
}

}  // namespace crosstune::ir
