// crosstune/ir/dag.hpp — the compute DAG: tensors defined by operations over iteration domains.
//
// An Operation is either a placeholder (an input tensor: a name and a shape) or a compute operation: one
// output element per point of its spatial axes, given by a body expression over its axis variables, and
// optionally reduced (sum, max, min) over reduction axes. This is TVM's tensor-expression model, and the
// DAG orders its operations exactly as Ansor's ComputeDAG does (post-order depth-first from the outputs,
// inputs in order of first load), so the stage ids of public tuning logs refer to the same operations.
//
//   DagBuilder b;
//   Tensor a = b.placeholder("A", {512, 256});
//   Tensor w = b.placeholder("B", {256, 128});
//   Tensor c = b.compute("compute", {{"x", 512}, {"y", 128}}, {{"k", 256}}, ReduceKind::sum,
//                        [&](ExprPool&, std::span<const Expr> v) { return a(v[0], v[2]) * w(v[2], v[1]); });
//   ComputeDag dag = b.build({c}, R"(["matmul_layer", 512, 256, 128])").value();
//   dag.flops();  // 2·512·128·256
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/ir/expr.hpp"

namespace crosstune::ir {

/// How a compute operation combines its body over the reduction axes.
enum class ReduceKind : std::uint8_t { none, sum, max, min };

[[nodiscard]] constexpr std::string_view to_string(ReduceKind kind) noexcept {
  switch (kind) {
    case ReduceKind::none: return "none";
    case ReduceKind::sum: return "sum";
    case ReduceKind::max: return "max";
    case ReduceKind::min: return "min";
  }
  return "invalid";
}

/// The identity of a reduction: 0 for sum, the lowest float for max, the highest for min.
[[nodiscard]] constexpr double reduce_identity(ReduceKind kind) noexcept {
  switch (kind) {
    case ReduceKind::max: return -std::numeric_limits<float>::infinity();
    case ReduceKind::min: return std::numeric_limits<float>::infinity();
    default: return 0.0;
  }
}

/// One axis of an iteration domain: [0, extent).
struct Axis {
  std::string name;
  std::int64_t extent = 1;
  friend bool operator==(const Axis&, const Axis&) = default;
};

/// A placeholder or a compute operation; its output tensor has the same id.
struct Operation {
  std::int32_t id = 0;  ///< tensor id, unique in a DAG (and in every schedule state made from it)
  std::string name;
  std::string tag;  ///< the kind of computation ("conv2d_nchw", "elemwise", ...), informative
  bool placeholder = false;
  DType dtype = DType::float32;
  std::vector<Axis> axes;         ///< output dimensions (a placeholder's shape), outermost first
  std::vector<Axis> reduce_axes;  ///< empty unless `reduce` is set
  ReduceKind reduce = ReduceKind::none;
  ExprPool pool;                  ///< the body's nodes; variables 0.. are axes, then reduce_axes
  ExprId body = no_expr;          ///< the value of one output element (of one reduction step)
  std::vector<std::int32_t> inputs;  ///< tensors loaded by the body, in order of first load

  [[nodiscard]] std::size_t rank() const noexcept { return axes.size(); }
  [[nodiscard]] std::vector<std::int64_t> shape() const {
    std::vector<std::int64_t> s;
    s.reserve(axes.size());
    for (const Axis& a : axes) s.push_back(a.extent);
    return s;
  }
  [[nodiscard]] std::int64_t element_count() const noexcept {
    std::int64_t n = 1;
    for (const Axis& a : axes) n *= a.extent;
    return n;
  }
  [[nodiscard]] std::int64_t reduce_count() const noexcept {
    std::int64_t n = 1;
    for (const Axis& a : reduce_axes) n *= a.extent;
    return n;
  }
  /// TVM's FlopEstimator on this operation: body flops per reduction step plus one combine per step.
  [[nodiscard]] std::int64_t flops() const {
    if (placeholder || body == no_expr) return 0;
    const std::int64_t per_step = count_flops(pool, body) + (reduce != ReduceKind::none ? 1 : 0);
    return element_count() * reduce_count() * per_step;
  }
};

using OperationPtr = std::shared_ptr<const Operation>;

/// Recomputes `op.inputs` from the body: tensor ids in order of first load, operands left to right.
inline void collect_inputs(Operation& op) {
  op.inputs.clear();
  if (op.body == no_expr) return;
  op.pool.post_order(op.body, [&](ExprId id) {
    const ExprNode& n = op.pool[id];
    if (n.op != ExprOp::load) return;
    const auto tensor = static_cast<std::int32_t>(n.integer);
    if (std::find(op.inputs.begin(), op.inputs.end(), tensor) == op.inputs.end()) op.inputs.push_back(tensor);
  });
}

/// Copies `op`'s body into `pool` with variable i becoming `vars[i]` (each variable stays itself when
/// `vars` is empty), and substitutes the body of every inlined producer for its loads, recursively:
/// `inlined(tensor)` gives that producer's Operation, or nullptr when the tensor is not inlined;
/// `on_load(tensor, index)` builds every other load. Lowering and the sketch analysis both read a
/// stage's body this way.
template <class Inlined, class OnLoad>
ExprId inline_body(ExprPool& pool, const Operation& op, std::span<const ExprId> vars, Inlined&& inlined, OnLoad&& on_load) {
  return pool.import(
      op.pool, op.body, [&](std::int64_t v) { return vars.empty() ? pool.var(v).id : vars[static_cast<std::size_t>(v)]; },
      [&](std::int64_t tensor, std::span<const ExprId> index) -> ExprId {
        if (const Operation* producer = inlined(static_cast<std::int32_t>(tensor)))
          return inline_body(pool, *producer, index, inlined, on_load);
        return on_load(static_cast<std::int32_t>(tensor), index);
      });
}

/// The operations of a tensor program in Ansor's stage order, with its outputs and workload key.
class ComputeDag {
 public:
  ComputeDag() = default;
  ComputeDag(std::vector<OperationPtr> ops, std::vector<std::int32_t> outputs, std::string workload_key)
      : ops_(std::move(ops)), outputs_(std::move(outputs)), workload_key_(std::move(workload_key)) {
    for (const auto& op : ops_) {
      flops_ += op->flops();
      next_id_ = std::max(next_id_, op->id + 1);
      const bool is_output = std::find(outputs_.begin(), outputs_.end(), op->id) != outputs_.end();
      if (op->placeholder || is_output) bytes_ += op->element_count() * size_bytes(op->dtype);
    }
  }

  [[nodiscard]] std::span<const OperationPtr> ops() const noexcept { return ops_; }
  [[nodiscard]] std::size_t size() const noexcept { return ops_.size(); }
  [[nodiscard]] const Operation& op(std::size_t stage) const { return *ops_.at(stage); }
  [[nodiscard]] std::span<const std::int32_t> outputs() const noexcept { return outputs_; }
  [[nodiscard]] const std::string& workload_key() const noexcept { return workload_key_; }
  /// Floating-point operations of one run (TVM's FlopEstimator).
  [[nodiscard]] std::int64_t flops() const noexcept { return flops_; }
  /// Bytes of the inputs read and the outputs written once each: the least memory traffic of one run.
  [[nodiscard]] std::int64_t bytes() const noexcept { return bytes_; }
  /// A tensor id no operation of this DAG uses.
  [[nodiscard]] std::int32_t next_tensor_id() const noexcept { return next_id_; }
  /// The stage index of tensor `id`, or -1.
  [[nodiscard]] std::int64_t find(std::int32_t id) const noexcept {
    for (std::size_t i = 0; i < ops_.size(); ++i)
      if (ops_[i]->id == id) return static_cast<std::int64_t>(i);
    return -1;
  }
  [[nodiscard]] bool is_output(std::int32_t id) const noexcept {
    return std::find(outputs_.begin(), outputs_.end(), id) != outputs_.end();
  }
  /// Placeholders in stage order: the kernel's input arguments.
  [[nodiscard]] std::vector<std::int32_t> inputs() const {
    std::vector<std::int32_t> ids;
    for (const auto& op : ops_)
      if (op->placeholder) ids.push_back(op->id);
    return ids;
  }

 private:
  std::vector<OperationPtr> ops_;
  std::vector<std::int32_t> outputs_;
  std::string workload_key_;
  std::int64_t flops_ = 0;
  std::int64_t bytes_ = 0;
  std::int32_t next_id_ = 0;
};

/// A tensor while a DAG is built: its id and rank; calling it with indices makes a load.
struct Tensor {
  std::int32_t id = -1;
  std::vector<std::int64_t> shape;

  template <class... Index>
  [[nodiscard]] Expr operator()(Expr first, Index... rest) const {
    const Expr indices[] = {first, rest...};
    return at(indices);
  }
  /// A load at `indices`; a rank-0 tensor needs the pool to build in.
  [[nodiscard]] Expr at(std::span<const Expr> indices, ExprPool* pool = nullptr) const {
    if (indices.size() != shape.size())
      throw std::invalid_argument("ir::Tensor: " + std::to_string(indices.size()) + " indices for a tensor of rank " +
                                  std::to_string(shape.size()));
    if (pool == nullptr) {
      if (indices.empty()) throw std::invalid_argument("ir::Tensor: a rank-0 load needs its pool");
      pool = indices[0].pool;
    }
    return pool->load(id, indices);
  }
};

/// Builds a ComputeDag the way TVM's te.compute does; see the example at the top of this file.
class DagBuilder {
 public:
  using Body = std::function<Expr(ExprPool&, std::span<const Expr>)>;

  Tensor placeholder(std::string name, std::vector<std::int64_t> shape, DType dtype = DType::float32) {
    auto op = std::make_shared<Operation>();
    op->id = next_id_++;
    op->name = std::move(name);
    op->placeholder = true;
    op->dtype = dtype;
    for (std::size_t i = 0; i < shape.size(); ++i) op->axes.push_back({"ax" + std::to_string(i), shape[i]});
    ops_.push_back(op);
    return {op->id, std::move(shape)};
  }

  /// A compute operation over `axes` (its output shape), reduced over `reduce_axes` with `reduce`.
  /// `body(pool, vars)` gets one variable per axis, spatial first, and returns one element's value.
  Tensor compute(std::string name, std::vector<Axis> axes, std::vector<Axis> reduce_axes, ReduceKind reduce,
                 const Body& body, std::string tag = {}) {
    auto op = std::make_shared<Operation>();
    op->id = next_id_;  // taken only once the body is built: a body that throws must not leave a gap in ops_
    op->name = std::move(name);
    op->tag = std::move(tag);
    op->axes = std::move(axes);
    op->reduce_axes = std::move(reduce_axes);
    op->reduce = op->reduce_axes.empty() ? ReduceKind::none : reduce;
    std::vector<Expr> vars;
    const std::size_t n = op->axes.size() + op->reduce_axes.size();
    op->pool.reserve(16 + 4 * n);
    for (std::size_t i = 0; i < n; ++i) vars.push_back(op->pool.var(static_cast<std::int64_t>(i)));
    const Expr value = body(op->pool, vars);
    if (value.pool != &op->pool) throw std::invalid_argument("ir::DagBuilder: body of '" + op->name + "' built in another pool");
    if (op->pool[value.id].type != ExprType::value)
      throw std::invalid_argument("ir::DagBuilder: body of '" + op->name + "' is not a float value");
    op->body = value.id;
    collect_inputs(*op);
    ops_.push_back(op);
    ++next_id_;
    return {op->id, op->shape()};
  }
  /// An element-wise operation: no reduction.
  Tensor compute(std::string name, std::vector<Axis> axes, const Body& body, std::string tag = {}) {
    return compute(std::move(name), std::move(axes), {}, ReduceKind::none, body, std::move(tag));
  }

  /// The DAG of everything `outputs` depends on, in Ansor's stage order. Errors name the operation.
  [[nodiscard]] Expected<ComputeDag> build(const std::vector<Tensor>& outputs, std::string workload_key) const {
    if (outputs.empty()) return bad("a DAG needs at least one output");
    for (const auto& op : ops_) {
      if (op->name.empty()) return bad("an operation has an empty name");
      for (const Axis& a : op->axes)
        if (a.extent < 1) return bad("'" + op->name + "' has axis '" + a.name + "' of extent " + std::to_string(a.extent) + " (extents must be at least 1)");
      for (const Axis& a : op->reduce_axes)
        if (a.extent < 1) return bad("'" + op->name + "' has reduction axis '" + a.name + "' of extent " + std::to_string(a.extent));
      if (!op->reduce_axes.empty() && op->reduce == ReduceKind::none)
        return bad("'" + op->name + "' has reduction axes but no reduction (sum, max or min)");
      {  // FLOPs and byte counts are int64: refuse operations whose iteration count cannot be counted
        constexpr std::int64_t limit = std::int64_t{1} << 60;
        std::int64_t iterations = 1;
        bool too_large = false;
        for (const Axis& a : op->axes) too_large = too_large || __builtin_mul_overflow(iterations, a.extent, &iterations) || iterations > limit;
        for (const Axis& a : op->reduce_axes) too_large = too_large || __builtin_mul_overflow(iterations, a.extent, &iterations) || iterations > limit;
        if (too_large) return bad("'" + op->name + "' has more than 2^60 iterations");
      }
      if (op->dtype != DType::float32)
        return unexpected(Error(ErrorKind::unsupported, "ir::DagBuilder: '" + op->name + "' is " + std::string(to_string(op->dtype)) +
                                                            ", which the generator does not support yet",
                                {}, 0, 0, "use float32"));
      for (std::int32_t in : op->inputs) {
        const Operation* producer = find(in);
        if (producer == nullptr || producer->id >= op->id) return bad("'" + op->name + "' reads a tensor defined after it");
      }
      if (!op->placeholder) {
        std::string why;
        op->pool.post_order(op->body, [&](ExprId id) {
          const ExprNode& node = op->pool[id];
          if (node.op == ExprOp::var && (node.integer < 0 || node.integer >= static_cast<std::int64_t>(op->axes.size() + op->reduce_axes.size())))
            why = "uses variable " + std::to_string(node.integer) + ", which is not one of its axes";
          if (node.op == ExprOp::load) {
            const Operation* producer = find(static_cast<std::int32_t>(node.integer));
            if (producer != nullptr && node.args_count != producer->rank())
              why = "loads '" + producer->name + "' (rank " + std::to_string(producer->rank()) + ") with " + std::to_string(node.args_count) + " indices";
          }
        });
        if (!why.empty()) return bad("'" + op->name + "' " + why);
      }
    }
    std::vector<OperationPtr> order;
    std::vector<char> seen(static_cast<std::size_t>(next_id_), 0);
    // Post-order depth-first from the outputs, inputs in order of first load (TVM's PostDFSOrder).
    std::function<void(std::int32_t)> visit = [&](std::int32_t id) {
      if (seen[static_cast<std::size_t>(id)]) return;
      seen[static_cast<std::size_t>(id)] = 1;
      const auto& op = ops_[static_cast<std::size_t>(id)];
      for (std::int32_t in : op->inputs) visit(in);
      order.push_back(op);
    };
    std::vector<std::int32_t> output_ids;
    for (const Tensor& t : outputs) {
      if (t.id < 0 || t.id >= next_id_) return bad("an output is not a tensor of this builder");
      if (ops_[static_cast<std::size_t>(t.id)]->placeholder) return bad("output '" + ops_[static_cast<std::size_t>(t.id)]->name + "' is a placeholder");
      visit(t.id);
      output_ids.push_back(t.id);
    }
    return ComputeDag(std::move(order), std::move(output_ids), std::move(workload_key));
  }

 private:
  static Unexpected bad(const std::string& what) {
    return unexpected(Error(ErrorKind::invalid_argument, "ir::DagBuilder: " + what));
  }
  [[nodiscard]] const Operation* find(std::int32_t id) const noexcept {
    return id >= 0 && id < next_id_ ? ops_[static_cast<std::size_t>(id)].get() : nullptr;
  }

  std::vector<std::shared_ptr<Operation>> ops_;  // indexed by tensor id
  std::int32_t next_id_ = 0;
};

}  // namespace crosstune::ir
