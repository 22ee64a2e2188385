// crosstune/codegen/interpret.hpp — runs a lowered loop nest directly, without compiling it.
//
// The interpreter executes loops, allocations and stores in order, with every load and store
// bounds-checked against its buffer, and reports reads of values no store has written. It checks
// lowering on its own: a schedule's loop nest must compute what ir::evaluate computes from the DAG,
// whatever the C++ emitter or the compiler then do. It is slow (a tree walk per statement); use it on
// small shapes.
//
//   auto nest = codegen::lower(state).value();
//   auto outputs = codegen::interpret(nest, {a, b}).value();  // the DAG's outputs, as ir::evaluate gives them
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "crosstune/codegen/lower.hpp"
#include "crosstune/core/expected.hpp"

namespace crosstune::codegen {

namespace interpret_detail {

class Machine {
 public:
  Machine(const LoopNest& nest, std::vector<std::vector<float>>& memory, std::vector<std::vector<char>>& written)
      : nest_(nest), memory_(memory), written_(written), loops_(nest.loops.size(), 0) {}

  bool run(const std::vector<Stmt>& body) {
    for (const Stmt& s : body) {
      switch (s.kind) {
        case StmtKind::allocate: {
          const auto b = static_cast<std::size_t>(s.buffer);
          const auto n = static_cast<std::size_t>(nest_.buffers[b].elements());
          memory_[b].assign(n, std::numeric_limits<float>::quiet_NaN());
          written_[b].assign(n, 0);
          break;
        }
        case StmtKind::loop: {
          const auto l = static_cast<std::size_t>(s.loop);
          for (std::int64_t i = 0; i < nest_.loops[l].extent; ++i) {
            loops_[l] = i;
            if (!run(s.body)) return false;
          }
          break;
        }
        case StmtKind::store: {
          if (s.condition != ir::no_expr && !condition(s.condition)) break;
          const double v = value(s.value);
          const std::int64_t at = flat(s.buffer, s.index, "store to");
          if (!error.empty()) return false;
          memory_[static_cast<std::size_t>(s.buffer)][static_cast<std::size_t>(at)] = static_cast<float>(v);
          written_[static_cast<std::size_t>(s.buffer)][static_cast<std::size_t>(at)] = 1;
          break;
        }
      }
      if (!error.empty()) return false;
    }
    return true;
  }

  std::string error;

 private:
  std::int64_t flat(std::int32_t buffer, std::span<const ir::ExprId> index, const char* what) {
    const Buffer& b = nest_.buffers[static_cast<std::size_t>(buffer)];
    if (index.size() != b.shape.size()) {
      fail(std::string(what) + " " + b.name + " with " + std::to_string(index.size()) + " indices");
      return 0;
    }
    std::int64_t at = 0;
    for (std::size_t d = 0; d < index.size(); ++d) {
      const std::int64_t i = integer(index[d]);
      if (i < 0 || i >= b.shape[d]) {
        fail(std::string(what) + " " + b.name + " at index " + std::to_string(i) + " of dimension " + std::to_string(d) +
             " (extent " + std::to_string(b.shape[d]) + ")");
        return 0;
      }
      at = at * b.shape[d] + i;
    }
    return at;
  }
  void fail(std::string why) {
    if (error.empty()) error = std::move(why);
  }
  std::int64_t integer(ir::ExprId id) {
    const ir::ExprNode& n = nest_.pool[id];
    switch (n.op) {
      case ir::ExprOp::int_const: return n.integer;
      case ir::ExprOp::var: return loops_[static_cast<std::size_t>(n.integer)];
      case ir::ExprOp::add: return integer(n.a) + integer(n.b);
      case ir::ExprOp::sub: return integer(n.a) - integer(n.b);
      case ir::ExprOp::mul: return integer(n.a) * integer(n.b);
      case ir::ExprOp::min: return std::min(integer(n.a), integer(n.b));
      case ir::ExprOp::max: return std::max(integer(n.a), integer(n.b));
      case ir::ExprOp::floordiv:
      case ir::ExprOp::floormod: {
        const std::int64_t p = integer(n.a), q = integer(n.b);
        if (q == 0) {
          fail("division by zero in an index");
          return 0;
        }
        const std::int64_t d = ir::ExprPool::floor_div(p, q);
        return n.op == ir::ExprOp::floordiv ? d : p - d * q;
      }
      case ir::ExprOp::select: return condition(n.a) ? integer(n.b) : integer(n.c);
      default: fail("a value where an index was expected"); return 0;
    }
  }
  bool condition(ir::ExprId id) {
    const ir::ExprNode& n = nest_.pool[id];
    switch (n.op) {
      case ir::ExprOp::lt: return integer(n.a) < integer(n.b);
      case ir::ExprOp::ge: return integer(n.a) >= integer(n.b);
      case ir::ExprOp::logical_and: return condition(n.a) && condition(n.b);
      default: fail("an expression where a condition was expected"); return false;
    }
  }
  double value(ir::ExprId id) {
    const ir::ExprNode& n = nest_.pool[id];
    switch (n.op) {
      case ir::ExprOp::float_const: return n.real;
      case ir::ExprOp::load: {
        const std::int64_t at = flat(static_cast<std::int32_t>(n.integer), nest_.pool.args(id), "load from");
        if (!error.empty()) return 0.0;
        const auto b = static_cast<std::size_t>(n.integer);
        if (written_[b][static_cast<std::size_t>(at)] == 0) {
          fail("load from " + nest_.buffers[b].name + " reads an element nothing has written");
          return 0.0;
        }
        return memory_[b][static_cast<std::size_t>(at)];
      }
      case ir::ExprOp::add: return value(n.a) + value(n.b);
      case ir::ExprOp::sub: return value(n.a) - value(n.b);
      case ir::ExprOp::mul: return value(n.a) * value(n.b);
      case ir::ExprOp::div: return value(n.a) / value(n.b);
      case ir::ExprOp::min: return std::min(value(n.a), value(n.b));
      case ir::ExprOp::max: return std::max(value(n.a), value(n.b));
      case ir::ExprOp::select: return condition(n.a) ? value(n.b) : value(n.c);
      case ir::ExprOp::to_float: return static_cast<double>(integer(n.a));
      case ir::ExprOp::exp: return std::exp(value(n.a));
      case ir::ExprOp::tanh: return std::tanh(value(n.a));
      case ir::ExprOp::erf: return std::erf(value(n.a));
      default: fail("an index where a value was expected"); return 0.0;
    }
  }

  const LoopNest& nest_;
  std::vector<std::vector<float>>& memory_;
  std::vector<std::vector<char>>& written_;
  std::vector<std::int64_t> loops_;
};

}  // namespace interpret_detail

/// Runs `nest` on `inputs` (one per input buffer, in parameter order) and returns its outputs in
/// parameter order. Errors: wrong input sizes, an access out of a buffer, a read of an unwritten
/// element, or an output element no store wrote.
[[nodiscard]] inline Expected<std::vector<std::vector<float>>> interpret(const LoopNest& nest,
                                                                         std::span<const std::span<const float>> inputs) {
  auto bad = [](const std::string& what) { return unexpected(Error(ErrorKind::invalid_argument, "codegen::interpret: " + what)); };
  std::vector<std::vector<float>> memory(nest.buffers.size());
  std::vector<std::vector<char>> written(nest.buffers.size());
  std::size_t next = 0;
  for (std::int32_t p : nest.params) {
    const Buffer& b = nest.buffers[static_cast<std::size_t>(p)];
    const auto n = static_cast<std::size_t>(b.elements());
    if (b.kind == BufferKind::input) {
      if (next >= inputs.size()) return bad("the nest has more inputs than the " + std::to_string(inputs.size()) + " given");
      if (inputs[next].size() != n) return bad("input '" + b.name + "' holds " + std::to_string(inputs[next].size()) + " values, its shape " + std::to_string(n));
      memory[static_cast<std::size_t>(p)].assign(inputs[next].begin(), inputs[next].end());
      written[static_cast<std::size_t>(p)].assign(n, 1);
      ++next;
    } else {
      memory[static_cast<std::size_t>(p)].assign(n, std::numeric_limits<float>::quiet_NaN());
      written[static_cast<std::size_t>(p)].assign(n, 0);
    }
  }
  if (next != inputs.size()) return bad(std::to_string(inputs.size()) + " inputs given for " + std::to_string(next));
  interpret_detail::Machine machine(nest, memory, written);
  if (!machine.run(nest.body)) return bad(machine.error);
  std::vector<std::vector<float>> outputs;
  for (std::int32_t p : nest.params) {
    const Buffer& b = nest.buffers[static_cast<std::size_t>(p)];
    if (b.kind != BufferKind::output) continue;
    for (char w : written[static_cast<std::size_t>(p)])
      if (w == 0) return bad("output '" + b.name + "' has elements no store wrote");
    outputs.push_back(std::move(memory[static_cast<std::size_t>(p)]));
  }
  return outputs;
}

/// The same with the inputs as vectors.
[[nodiscard]] inline Expected<std::vector<std::vector<float>>> interpret(const LoopNest& nest, const std::vector<std::vector<float>>& inputs) {
  std::vector<std::span<const float>> spans(inputs.begin(), inputs.end());
  return interpret(nest, std::span<const std::span<const float>>(spans));
}

}  // namespace crosstune::codegen
