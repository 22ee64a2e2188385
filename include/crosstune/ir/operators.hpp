// crosstune/ir/operators.hpp — compute DAGs of the operators crosstune tunes, built as TVM's TOPI builds
// them, and the workload keys that name them.
//
// Each builder checks its parameters and returns the DAG or an Error naming the bad parameter. Stage order,
// operation names and axis names follow TOPI, so the DAG of a family that appears in public Ansor logs is
// the DAG those logs' step ids refer to (docs/notes/tenset-workloads.md): `matmul` is `matmul_layer`,
// `conv2d` on NCHW without groups or dilation is the computation of `conv2d_layer`, and so on.
//
//   auto dag = crosstune::ir::conv2d({.batch = 1, .in_channels = 64, .in_height = 56, .in_width = 56,
//                                     .out_channels = 64, .kernel_h = 3, .kernel_w = 3, .pad_top = 1,
//                                     .pad_left = 1, .pad_bottom = 1, .pad_right = 1});
//   std::cout << dag->workload_key() << ' ' << dag->flops() << '\n';
//
// Every builder's semantics equal the same-named function of ir/reference.hpp; tests check each DAG,
// evaluated by ir/evaluate.hpp, against it.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/ir/dag.hpp"
#include "crosstune/ir/reference.hpp"

namespace crosstune::ir {

using reference::Activation;
using reference::BinaryOp;
using reference::Conv2dParams;
using reference::Layout;
using reference::Pool2dParams;
using reference::PoolKind;
using reference::ReduceOp;
using reference::Shape;
using reference::UnaryOp;

[[nodiscard]] constexpr std::string_view to_string(Activation a) noexcept {
  switch (a) {
    case Activation::none: return "none";
    case Activation::relu: return "relu";
    case Activation::gelu: return "gelu";
  }
  return "invalid";
}
[[nodiscard]] constexpr std::string_view to_string(UnaryOp op) noexcept {
  switch (op) {
    case UnaryOp::relu: return "relu";
    case UnaryOp::gelu: return "gelu";
    case UnaryOp::tanh: return "tanh";
    case UnaryOp::sigmoid: return "sigmoid";
    case UnaryOp::exp: return "exp";
    case UnaryOp::negate: return "negate";
  }
  return "invalid";
}
[[nodiscard]] constexpr std::string_view to_string(BinaryOp op) noexcept {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::subtract: return "subtract";
    case BinaryOp::multiply: return "multiply";
    case BinaryOp::divide: return "divide";
    case BinaryOp::maximum: return "maximum";
    case BinaryOp::minimum: return "minimum";
  }
  return "invalid";
}
[[nodiscard]] constexpr std::string_view to_string(ReduceOp op) noexcept {
  switch (op) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::max: return "max";
    case ReduceOp::min: return "min";
    case ReduceOp::mean: return "mean";
  }
  return "invalid";
}
[[nodiscard]] constexpr std::string_view to_string(PoolKind kind) noexcept {
  return kind == PoolKind::max ? "max" : "avg";
}

namespace operator_detail {

inline Unexpected bad(const std::string& op, const std::string& what, const std::string& hint = {}) {
  return unexpected(Error(ErrorKind::invalid_argument, "ir::" + op + ": " + what, {}, 0, 0, hint));
}
/// A parameter check of ir/reference.hpp, reported as this builder's ("ir::conv2d: ...").
inline Unexpected as_builder_error(Error e) {
  constexpr std::string_view prefix = "reference::";
  if (e.message.starts_with(prefix)) e.message = "ir::" + e.message.substr(prefix.size());
  return unexpected(std::move(e));
}

/// Writes a workload key: a JSON array of the name and the arguments.
class KeyWriter {
 public:
  explicit KeyWriter(std::string_view name) { text_ = "[\"" + std::string(name) + "\""; }
  KeyWriter& operator<<(std::int64_t v) {
    text_ += ", " + std::to_string(v);
    return *this;
  }
  KeyWriter& operator<<(std::string_view s) {
    text_ += ", \"" + std::string(s) + "\"";
    return *this;
  }
  KeyWriter& boolean(bool b) {
    text_ += b ? ", true" : ", false";
    return *this;
  }
  KeyWriter& list(const std::vector<std::int64_t>& values) {
    text_ += ", [";
    for (std::size_t i = 0; i < values.size(); ++i) text_ += (i ? ", " : "") + std::to_string(values[i]);
    text_ += "]";
    return *this;
  }
  [[nodiscard]] std::string str() const { return text_ + "]"; }

 private:
  std::string text_;
};

inline Expected<void> check_positive(const std::string& op, const Shape& shape, const char* what) {
  if (shape.empty()) return bad(op, std::string(what) + " has no dimensions");
  for (auto d : shape)
    if (d < 1) return bad(op, std::string(what) + " has a dimension of " + std::to_string(d) + " (at least 1)");
  return {};
}

inline std::vector<Axis> named_axes(const Shape& shape, const std::string& prefix) {
  std::vector<Axis> axes;
  for (std::size_t i = 0; i < shape.size(); ++i) axes.push_back({prefix + std::to_string(i), shape[i]});
  return axes;
}

/// TOPI's pad: a stage that reads `data` shifted by `before`, and `pad_value` outside [before, before+size).
/// Dimensions without padding get no condition; without any padding the body is a plain load.
inline Tensor pad(DagBuilder& b, const Tensor& data, const Shape& before, const Shape& after, double pad_value,
                  const std::string& name, const std::string& axis_prefix) {
  Shape out = data.shape;
  for (std::size_t d = 0; d < out.size(); ++d) out[d] += before[d] + after[d];
  return b.compute(
      name, named_axes(out, axis_prefix),
      [&](ExprPool& pool, std::span<const Expr> v) {
        std::vector<Expr> index;
        Expr condition{};
        for (std::size_t d = 0; d < v.size(); ++d) {
          index.push_back(v[d] - static_cast<double>(before[d]));
          if (before[d] == 0 && after[d] == 0) continue;
          Expr inside = (v[d] >= before[d]) && (v[d] < before[d] + data.shape[d]);
          condition = condition.pool == nullptr ? inside : (condition && inside);
        }
        Expr value = data.at(index);
        if (condition.pool == nullptr) return value;
        return select(condition, value, pool.value(pad_value));
      },
      "injective,pad");
}

inline Expr activate(ExprPool& pool, Activation a, Expr x) {
  switch (a) {
    case Activation::none: return x;
    case Activation::relu: return max(x, 0.0);
    case Activation::gelu: return x * 0.5 * (erf(x * 0.7071067811865476) + pool.value(1.0));
  }
  return x;
}

/// Names the (H, W, C) positions of a 4-d tensor in a layout.
struct LayoutDims {
  std::size_t n, c, h, w;
};
inline LayoutDims dims_of(Layout layout) {
  return layout == Layout::nchw ? LayoutDims{0, 1, 2, 3} : LayoutDims{0, 3, 1, 2};
}
inline Shape shape4(Layout layout, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  return layout == Layout::nchw ? Shape{n, c, h, w} : Shape{n, h, w, c};
}

}  // namespace operator_detail

/// out[M, N] = A[M, K] · B[K, N]: stages A, B, compute(x, y; k), key ["matmul_layer", M, K, N].
[[nodiscard]] inline Expected<ComputeDag> matmul(std::int64_t m, std::int64_t k, std::int64_t n) {
  using namespace operator_detail;
  if (m < 1 || k < 1 || n < 1) return bad("matmul", "M, K and N must be at least 1");
  DagBuilder b;
  const Tensor a = b.placeholder("A", {m, k});
  const Tensor w = b.placeholder("B", {k, n});
  const Tensor c = b.compute("compute", {{"x", m}, {"y", n}}, {{"k", k}}, ReduceKind::sum,
                             [&](ExprPool&, std::span<const Expr> v) { return a(v[0], v[2]) * w(v[2], v[1]); });
  return b.build({c}, (KeyWriter("matmul_layer") << m << k << n).str());
}

/// TOPI's dense: out[M, N] = activation(data[M, K] · weight[N, K]ᵀ (+ bias[N])). Stages data, weight,
/// T_matmul_NT(i, j; k), then bias and T_add when `bias`, then the activation ("compute") unless none.
[[nodiscard]] inline Expected<ComputeDag> dense(std::int64_t m, std::int64_t k, std::int64_t n, bool bias,
                                                Activation activation = Activation::none) {
  using namespace operator_detail;
  if (m < 1 || k < 1 || n < 1) return bad("dense", "M, K and N must be at least 1");
  DagBuilder b;
  const Tensor data = b.placeholder("data", {m, k});
  const Tensor weight = b.placeholder("weight", {n, k});
  Tensor out = b.compute(
      "T_matmul_NT", {{"i", m}, {"j", n}}, {{"k", k}}, ReduceKind::sum,
      [&](ExprPool&, std::span<const Expr> v) { return data(v[0], v[2]) * weight(v[1], v[2]); }, "dense");
  if (bias) {
    const Tensor bias_tensor = b.placeholder("bias", {n});
    const Tensor product = out;
    out = b.compute("T_add", {{"ax0", m}, {"ax1", n}},
                    [&](ExprPool&, std::span<const Expr> v) { return product(v[0], v[1]) + bias_tensor(v[1]); },
                    "broadcast");
  }
  if (activation != Activation::none) {
    const Tensor in = out;
    out = b.compute("compute", {{"i0", m}, {"i1", n}},
                    [&](ExprPool& pool, std::span<const Expr> v) { return activate(pool, activation, in(v[0], v[1])); },
                    "elemwise");
  }
  KeyWriter key("crosstune.dense");
  key << m << k << n;
  key.boolean(bias) << to_string(activation);
  return b.build({out}, key.str());
}

/// TOPI's batch_matmul: out[B, M, N] = A[Ba, M, K] · B[Bb, N, K]ᵀ (or B[Bb, K, N] when !b_transposed);
/// a batch of 1 broadcasts.
[[nodiscard]] inline Expected<ComputeDag> batch_matmul(std::int64_t a_batch, std::int64_t b_batch, std::int64_t m,
                                                       std::int64_t k, std::int64_t n, bool b_transposed = true) {
  using namespace operator_detail;
  if (a_batch < 1 || b_batch < 1 || m < 1 || k < 1 || n < 1) return bad("batch_matmul", "sizes must be at least 1");
  if (a_batch != b_batch && a_batch != 1 && b_batch != 1)
    return bad("batch_matmul", "batches " + std::to_string(a_batch) + " and " + std::to_string(b_batch) + " do not broadcast",
               "make them equal or one of them 1");
  const std::int64_t batch = std::max(a_batch, b_batch);
  DagBuilder b;
  const Tensor x = b.placeholder("A", {a_batch, m, k});
  const Tensor y = b.placeholder("B", b_transposed ? Shape{b_batch, n, k} : Shape{b_batch, k, n});
  const Tensor out = b.compute(
      b_transposed ? "T_batch_matmul_NT" : "T_batch_matmul_NN", {{"b", batch}, {"i", m}, {"j", n}}, {{"k", k}},
      ReduceKind::sum,
      [&](ExprPool& pool, std::span<const Expr> v) {
        const Expr xb = a_batch == 1 ? pool.index(0) : v[0];
        const Expr yb = b_batch == 1 ? pool.index(0) : v[0];
        return x(xb, v[1], v[3]) * (b_transposed ? y(yb, v[2], v[3]) : y(yb, v[3], v[2]));
      },
      "batch_matmul");
  KeyWriter key("crosstune.batch_matmul");
  key << a_batch << b_batch << m << k << n;
  return b.build({out}, key.boolean(b_transposed).str());
}

namespace operator_detail {
/// conv2d and depthwise conv2d share the padding stage and the window indexing. Adds the data, padding,
/// kernel and convolution stages to `b` and returns the convolution; `p` must be valid.
inline Tensor convolution(DagBuilder& b, const Conv2dParams& p, bool depthwise, std::int64_t multiplier) {
  const LayoutDims L = dims_of(p.layout);
  const std::int64_t oh = p.out_height(), ow = p.out_width();
  const Tensor data = b.placeholder("data", shape4(p.layout, p.batch, p.in_channels, p.in_height, p.in_width));
  Shape before(4, 0), after(4, 0);
  before[L.h] = p.pad_top;
  before[L.w] = p.pad_left;
  after[L.h] = p.pad_bottom;
  after[L.w] = p.pad_right;
  const bool nchw = p.layout == Layout::nchw;
  const Tensor padded = pad(b, data, before, after, 0.0, depthwise || !nchw ? "PaddedInput" : "pad_temp", "i");
  const std::int64_t group_in = p.in_channels / p.groups, group_out = p.out_channels / p.groups;
  if (depthwise) {
    const Tensor kernel = b.placeholder(
        "kernel", nchw ? Shape{p.in_channels, multiplier, p.kernel_h, p.kernel_w} : Shape{p.kernel_h, p.kernel_w, p.in_channels, multiplier});
    std::vector<Axis> axes = nchw ? std::vector<Axis>{{"b", p.batch}, {"c", p.out_channels}, {"i", oh}, {"j", ow}}
                                  : std::vector<Axis>{{"b", p.batch}, {"i", oh}, {"j", ow}, {"c", p.out_channels}};
    return b.compute(
        "DepthwiseConv2d", std::move(axes), {{"di", p.kernel_h}, {"dj", p.kernel_w}}, ReduceKind::sum,
        [&](ExprPool&, std::span<const Expr> v) {
          const Expr n = v[0], c = v[L.c], y = v[L.h], x = v[L.w], ky = v[4], kx = v[5];
          const Expr iy = y * static_cast<double>(p.stride_h) + ky * static_cast<double>(p.dilation_h);
          const Expr ix = x * static_cast<double>(p.stride_w) + kx * static_cast<double>(p.dilation_w);
          const Expr ci = floordiv(c, multiplier), m = floormod(c, multiplier);
          return nchw ? padded(n, ci, iy, ix) * kernel(ci, m, ky, kx) : padded(n, iy, ix, ci) * kernel(ky, kx, ci, m);
        },
        nchw ? "depthwise_conv2d_nchw" : "depthwise_conv2d_nhwc");
  }
  const Tensor kernel = b.placeholder(
      "kernel", nchw ? Shape{p.out_channels, group_in, p.kernel_h, p.kernel_w} : Shape{p.kernel_h, p.kernel_w, group_in, p.out_channels});
  std::vector<Axis> axes = nchw ? std::vector<Axis>{{"nn", p.batch}, {"ff", p.out_channels}, {"yy", oh}, {"xx", ow}}
                                : std::vector<Axis>{{"nn", p.batch}, {"yy", oh}, {"xx", ow}, {"ff", p.out_channels}};
  // NCHW reduces (rc, ry, rx) as conv2d_nchw does; NHWC reduces (ry, rx, rc) as conv2d_nhwc does.
  std::vector<Axis> reduce = nchw ? std::vector<Axis>{{"rc", group_in}, {"ry", p.kernel_h}, {"rx", p.kernel_w}}
                                  : std::vector<Axis>{{"ry", p.kernel_h}, {"rx", p.kernel_w}, {"rc", group_in}};
  return b.compute(
      nchw ? "compute" : "Conv2dOutput", std::move(axes), std::move(reduce), ReduceKind::sum,
      [&](ExprPool&, std::span<const Expr> v) {
        const Expr n = v[0], f = v[L.c], y = v[L.h], x = v[L.w];
        const Expr rc = nchw ? v[4] : v[6], ry = nchw ? v[5] : v[4], rx = nchw ? v[6] : v[5];
        const Expr iy = y * static_cast<double>(p.stride_h) + ry * static_cast<double>(p.dilation_h);
        const Expr ix = x * static_cast<double>(p.stride_w) + rx * static_cast<double>(p.dilation_w);
        const Expr c = p.groups == 1 ? rc : floordiv(f, group_out) * static_cast<double>(group_in) + rc;
        return nchw ? padded(n, c, iy, ix) * kernel(f, rc, ry, rx) : padded(n, iy, ix, c) * kernel(ry, rx, rc, f);
      },
      nchw ? "conv2d_nchw" : "conv2d_nhwc");
}

inline Expected<ComputeDag> convolution(const Conv2dParams& p, bool depthwise, std::int64_t multiplier,
                                        std::string key, const std::string& op) {
  if (auto ok = p.validate(op); !ok) return as_builder_error(std::move(ok).error());
  DagBuilder b;
  const Tensor out = convolution(b, p, depthwise, multiplier);
  return b.build({out}, std::move(key));
}

inline KeyWriter& window_args(KeyWriter& key, const Conv2dParams& p) {
  return key << p.kernel_h << p.kernel_w << p.stride_h << p.stride_w << p.pad_top << p.pad_left << p.pad_bottom
             << p.pad_right << p.dilation_h << p.dilation_w;
}
inline std::string_view layout_name(Layout layout) { return layout == Layout::nchw ? "NCHW" : "NHWC"; }
}  // namespace operator_detail

/// TOPI's conv2d_nchw / conv2d_nhwc (grouped when p.groups > 1): stages data, pad_temp (PaddedInput for
/// NHWC), kernel, then the convolution. NCHW reduces over (rc, ry, rx), NHWC over (ry, rx, rc).
[[nodiscard]] inline Expected<ComputeDag> conv2d(const Conv2dParams& p) {
  using namespace operator_detail;
  KeyWriter key("crosstune.conv2d");
  key << layout_name(p.layout) << p.batch << p.in_channels << p.in_height << p.in_width << p.out_channels;
  window_args(key, p) << p.groups;
  return convolution(p, false, 1, key.str(), "conv2d");
}

/// TOPI's depthwise_conv2d_nchw / _nhwc with `multiplier` filters per channel: stages data, PaddedInput,
/// kernel, DepthwiseConv2d(b, c, i, j; di, dj). p.out_channels and p.groups are set from the channels.
[[nodiscard]] inline Expected<ComputeDag> depthwise_conv2d(Conv2dParams p, std::int64_t multiplier = 1) {
  using namespace operator_detail;
  if (multiplier < 1) return bad("depthwise_conv2d", "the channel multiplier must be at least 1");
  p.groups = p.in_channels;
  p.out_channels = p.in_channels * multiplier;
  KeyWriter key("crosstune.depthwise_conv2d");
  key << layout_name(p.layout) << p.batch << p.in_channels << p.in_height << p.in_width << multiplier;
  window_args(key, p);
  return convolution(p, true, multiplier, key.str(), "depthwise_conv2d");
}

namespace operator_detail {
inline Expected<ComputeDag> pooling(const Pool2dParams& p, std::string key) {
  const Conv2dParams w = p.window();
  if (auto ok = w.validate("pool2d"); !ok) return as_builder_error(std::move(ok).error());
  if (p.pad_top >= p.kernel_h || p.pad_bottom >= p.kernel_h || p.pad_left >= p.kernel_w || p.pad_right >= p.kernel_w)
    return bad("pool2d", "padding must be smaller than the window", "a window wholly in the padding has no value");
  // With dilation a window can also fall wholly in the padding, between its taps, though smaller than it.
  auto misses_input = [](std::int64_t size, std::int64_t pad, std::int64_t kernel, std::int64_t stride,
                         std::int64_t dilation, std::int64_t out) {
    for (std::int64_t o = 0; o < out; ++o) {
      bool inside = false;
      for (std::int64_t k = 0; k < kernel && !inside; ++k) {
        const std::int64_t at = o * stride + k * dilation - pad;
        inside = at >= 0 && at < size;
      }
      if (!inside) return true;
    }
    return false;
  };
  if (misses_input(p.in_height, p.pad_top, p.kernel_h, p.stride_h, p.dilation_h, w.out_height()) ||
      misses_input(p.in_width, p.pad_left, p.kernel_w, p.stride_w, p.dilation_w, w.out_width()))
    return bad("pool2d", "a dilated window falls wholly in the padding", "a window wholly in the padding has no value");
  if (!p.count_include_pad && (p.dilation_h != 1 || p.dilation_w != 1))
    return bad("pool2d", "count_include_pad = false needs dilation 1");
  const LayoutDims L = dims_of(p.layout);
  const std::int64_t oh = w.out_height(), ow = w.out_width();
  DagBuilder b;
  const Tensor data = b.placeholder("data", shape4(p.layout, p.batch, p.channels, p.in_height, p.in_width));
  Tensor source = data;
  if (p.pad_top + p.pad_left + p.pad_bottom + p.pad_right > 0) {
    Shape before(4, 0), after(4, 0);
    before[L.h] = p.pad_top;
    before[L.w] = p.pad_left;
    after[L.h] = p.pad_bottom;
    after[L.w] = p.pad_right;
    const double pad_value = p.kind == PoolKind::max ? reduce_identity(ReduceKind::max) : 0.0;
    source = pad(b, data, before, after, pad_value, "pad_temp", "ax");
  }
  const Shape out_shape = shape4(p.layout, p.batch, p.channels, oh, ow);
  const Tensor pooled = b.compute(
      "tensor", named_axes(out_shape, "ax"), {{"rv0", p.kernel_h}, {"rv1", p.kernel_w}},
      p.kind == PoolKind::max ? ReduceKind::max : ReduceKind::sum,
      [&](ExprPool&, std::span<const Expr> v) {
        std::vector<Expr> index(v.begin(), v.begin() + 4);
        index[L.h] = v[L.h] * static_cast<double>(p.stride_h) + v[4] * static_cast<double>(p.dilation_h);
        index[L.w] = v[L.w] * static_cast<double>(p.stride_w) + v[5] * static_cast<double>(p.dilation_w);
        return source.at(index);
      },
      p.kind == PoolKind::max ? "pool_max" : "pool_sum");
  Tensor out = pooled;
  if (p.kind == PoolKind::avg) {
    out = b.compute(
        "tensor", named_axes(out_shape, "ax"),
        [&](ExprPool& pool, std::span<const Expr> v) {
          if (p.count_include_pad) return pooled.at(v) / to_float(pool.index(p.kernel_h * p.kernel_w));
          const Expr h0 = v[L.h] * static_cast<double>(p.stride_h) - static_cast<double>(p.pad_top);
          const Expr w0 = v[L.w] * static_cast<double>(p.stride_w) - static_cast<double>(p.pad_left);
          const Expr rows = min(h0 + static_cast<double>(p.kernel_h), pool.index(p.in_height)) - max(h0, pool.index(0));
          const Expr cols = min(w0 + static_cast<double>(p.kernel_w), pool.index(p.in_width)) - max(w0, pool.index(0));
          return pooled.at(v) / to_float(rows * cols);
        },
        "elemwise");
  }
  return b.build({out}, std::move(key));
}
}  // namespace operator_detail

/// TOPI's pool2d: pad_temp (only when padded), then "tensor" reducing each window (pool_max or pool_sum),
/// then for avg a second "tensor" dividing by the window size.
[[nodiscard]] inline Expected<ComputeDag> pool2d(const Pool2dParams& p) {
  using namespace operator_detail;
  KeyWriter key("crosstune.pool2d");
  key << to_string(p.kind) << layout_name(p.layout) << p.batch << p.channels << p.in_height << p.in_width;
  window_args(key, p.window()).boolean(p.count_include_pad);
  return pooling(p, key.str());
}

/// An element-wise function of one tensor: data, compute(i0, i1, ...). relu is TOPI's nn.relu.
[[nodiscard]] inline Expected<ComputeDag> unary(const Shape& shape, UnaryOp op) {
  using namespace operator_detail;
  if (auto ok = check_positive("unary", shape, "the shape"); !ok) return unexpected(std::move(ok).error());
  DagBuilder b;
  const Tensor data = b.placeholder("data", shape);
  const Tensor out = b.compute(
      "compute", named_axes(shape, "i"),
      [&](ExprPool& pool, std::span<const Expr> v) {
        const Expr x = data.at(v);
        switch (op) {
          case UnaryOp::relu: return max(x, 0.0);
          case UnaryOp::gelu: return activate(pool, Activation::gelu, x);
          case UnaryOp::tanh: return tanh(x);
          case UnaryOp::sigmoid: return pool.value(1.0) / (exp(pool.value(0.0) - x) + pool.value(1.0));
          case UnaryOp::exp: return exp(x);
          case UnaryOp::negate: return pool.value(0.0) - x;
        }
        return x;
      },
      "elemwise");
  KeyWriter key("crosstune.unary");
  key << to_string(op);
  return b.build({out}, key.list(shape).str());
}

/// A broadcasting binary operation (NumPy rules): A, B, T_<op>(ax0, ...).
[[nodiscard]] inline Expected<ComputeDag> binary(const Shape& a_shape, const Shape& b_shape, BinaryOp op) {
  using namespace operator_detail;
  if (auto ok = check_positive("binary", a_shape, "A's shape"); !ok) return unexpected(std::move(ok).error());
  if (auto ok = check_positive("binary", b_shape, "B's shape"); !ok) return unexpected(std::move(ok).error());
  auto shape = reference::broadcast_shape(a_shape, b_shape);
  if (!shape) return bad("binary", "A's and B's shapes do not broadcast: " + shape.error().message);
  DagBuilder b;
  const Tensor x = b.placeholder("A", a_shape);
  const Tensor y = b.placeholder("B", b_shape);
  auto operand = [&](const Tensor& t, ExprPool& pool, std::span<const Expr> v) {
    std::vector<Expr> index;
    const std::size_t skip = v.size() - t.shape.size();
    for (std::size_t d = 0; d < t.shape.size(); ++d) index.push_back(t.shape[d] == 1 ? pool.index(0) : v[skip + d]);
    return t.at(index);
  };
  const Tensor out = b.compute(
      "T_" + std::string(to_string(op)), named_axes(*shape, "ax"),
      [&](ExprPool& pool, std::span<const Expr> v) {
        const Expr p = operand(x, pool, v), q = operand(y, pool, v);
        switch (op) {
          case BinaryOp::add: return p + q;
          case BinaryOp::subtract: return p - q;
          case BinaryOp::multiply: return p * q;
          case BinaryOp::divide: return p / q;
          case BinaryOp::maximum: return max(p, q);
          case BinaryOp::minimum: return min(p, q);
        }
        return p;
      },
      "broadcast");
  KeyWriter key("crosstune.binary");
  key << to_string(op);
  return b.build({out}, key.list(a_shape).list(b_shape).str());
}

namespace operator_detail {
inline Expected<ComputeDag> reduction(const Shape& shape, std::vector<std::int64_t> axes, bool keepdims, ReduceOp op,
                                      std::string key) {
  if (auto ok = check_positive("reduce", shape, "the shape"); !ok) return unexpected(std::move(ok).error());
  const auto rank = static_cast<std::int64_t>(shape.size());
  for (auto& a : axes) {
    if (a < -rank || a >= rank) return bad("reduce", "axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
    if (a < 0) a += rank;
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  if (axes.empty()) return bad("reduce", "no axis to reduce");
  std::vector<bool> reduced(shape.size(), false);
  for (auto a : axes) reduced[static_cast<std::size_t>(a)] = true;
  std::vector<Axis> spatial, reduce;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (!reduced[d] || keepdims)
      spatial.push_back({"ax" + std::to_string(spatial.size()), reduced[d] ? 1 : shape[d]});
    if (reduced[d]) reduce.push_back({"k" + std::to_string(d), shape[d]});
  }
  DagBuilder b;
  const Tensor data = b.placeholder("data", shape);
  const ReduceKind kind = op == ReduceOp::max ? ReduceKind::max : op == ReduceOp::min ? ReduceKind::min : ReduceKind::sum;
  const std::size_t n_spatial = spatial.size();
  const Tensor red = b.compute(
      "data_red", spatial, reduce, kind,
      [&](ExprPool&, std::span<const Expr> v) {
        std::vector<Expr> index;
        std::size_t s = 0, r = 0;
        for (std::size_t d = 0; d < shape.size(); ++d) {
          if (reduced[d]) {
            index.push_back(v[n_spatial + r++]);
            if (keepdims) ++s;
          } else {
            index.push_back(v[s++]);
          }
        }
        return data.at(index);
      },
      "comm_reduce");
  Tensor out = red;
  if (op == ReduceOp::mean) {
    std::int64_t count = 1;
    for (auto a : axes) count *= shape[static_cast<std::size_t>(a)];
    Shape out_shape;
    for (const Axis& a : spatial) out_shape.push_back(a.extent);
    out = b.compute("T_divide", named_axes(out_shape, "ax"),
                    [&](ExprPool& pool, std::span<const Expr> v) { return red.at(v, &pool) / to_float(pool.index(count)); },
                    "elemwise");
  }
  return b.build({out}, std::move(key));
}
}  // namespace operator_detail

/// topi.sum/max/min/mean over `axes` (negative counts from the end): data, data_red(ax...; k<dim>...),
/// then T_divide for mean. A reduction to a scalar has no spatial axis unless keepdims.
[[nodiscard]] inline Expected<ComputeDag> reduce(const Shape& shape, const std::vector<std::int64_t>& axes, bool keepdims,
                                                 ReduceOp op) {
  using namespace operator_detail;
  KeyWriter key("crosstune.reduce");
  key << to_string(op);
  key.list(shape).list(axes).boolean(keepdims);
  return reduction(shape, axes, keepdims, op, key.str());
}

/// TOPI's softmax along `axis`: T_softmax_maxelem, T_softmax_exp, T_softmax_expsum, T_softmax_norm.
[[nodiscard]] inline Expected<ComputeDag> softmax(const Shape& shape, std::int64_t axis) {
  using namespace operator_detail;
  if (auto ok = check_positive("softmax", shape, "the shape"); !ok) return unexpected(std::move(ok).error());
  const auto rank = static_cast<std::int64_t>(shape.size());
  if (axis < -rank || axis >= rank) return bad("softmax", "axis " + std::to_string(axis) + " is out of range");
  if (axis < 0) axis += rank;
  const auto ax = static_cast<std::size_t>(axis);
  Shape outer;
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (d != ax) outer.push_back(shape[d]);
  DagBuilder b;
  const Tensor data = b.placeholder("data", shape);
  // index of the full tensor from the outer variables (no axis dimension) and the axis variable
  auto full_index = [&](std::span<const Expr> outer_vars, Expr k) {
    std::vector<Expr> index;
    for (std::size_t d = 0, o = 0; d < shape.size(); ++d) index.push_back(d == ax ? k : outer_vars[o++]);
    return index;
  };
  auto outer_index = [&](std::span<const Expr> v) {
    std::vector<Expr> index;
    for (std::size_t d = 0; d < v.size(); ++d)
      if (d != ax) index.push_back(v[d]);
    return index;
  };
  auto outer_axes = named_axes(outer, "i");
  const Tensor maxelem = b.compute(
      "T_softmax_maxelem", outer_axes, {{"k", shape[ax]}}, ReduceKind::max,
      [&](ExprPool&, std::span<const Expr> v) { return data.at(full_index(v.first(outer.size()), v[outer.size()])); },
      "softmax");
  const Tensor expo = b.compute(
      "T_softmax_exp", named_axes(shape, "i"),
      [&](ExprPool&, std::span<const Expr> v) {
        const auto o = outer_index(v);
        return exp(data.at(v) - maxelem.at(o, v[0].pool));
      },
      "softmax");
  const Tensor expsum = b.compute(
      "T_softmax_expsum", outer_axes, {{"k", shape[ax]}}, ReduceKind::sum,
      [&](ExprPool&, std::span<const Expr> v) { return expo.at(full_index(v.first(outer.size()), v[outer.size()])); },
      "softmax");
  const Tensor norm = b.compute(
      "T_softmax_norm", named_axes(shape, "i"),
      [&](ExprPool& pool, std::span<const Expr> v) { return expo.at(v) / expsum.at(outer_index(v), &pool); }, "softmax");
  KeyWriter key("crosstune.softmax");
  key.list(shape) << axis;
  return b.build({norm}, key.str());
}

}  // namespace crosstune::ir
