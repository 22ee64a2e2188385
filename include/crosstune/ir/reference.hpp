// crosstune/ir/reference.hpp — plain-loop reference implementations of the operators crosstune tunes.
//
// Every kernel the generator produces is checked against these: dense/matmul (with bias and a ReLU or
// GELU epilogue), batch_matmul, conv2d (NCHW or NHWC; stride, padding, dilation, groups), depthwise
// conv2d, pooling, elementwise and broadcast operations, softmax and reductions. They are written for
// clarity, not speed: straight loops over the output, accumulating in double, with the index arithmetic
// of TVM's TOPI definitions (the compute DAGs the IR builds). Tensors are dense, row-major float32 spans;
// every function checks the spans against the shape and returns an Error instead of reading out of
// bounds.
//
//   crosstune::ir::reference::Conv2dParams p{.batch = 1, .in_channels = 64, .in_height = 56,
//                                            .in_width = 56, .out_channels = 64, .kernel_h = 3,
//                                            .kernel_w = 3, .pad_top = 1, .pad_left = 1,
//                                            .pad_bottom = 1, .pad_right = 1};
//   std::vector<float> out(p.output_size());
//   crosstune::ir::reference::conv2d(data, kernel, out, p).value();
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "crosstune/core/expected.hpp"

namespace crosstune::ir::reference {

using Shape = std::vector<std::int64_t>;

/// Elements of a shape (1 for a scalar's empty shape); 0 when a dimension is not positive.
[[nodiscard]] inline std::int64_t element_count(const Shape& shape) noexcept {
  std::int64_t n = 1;
  for (auto d : shape) {
    if (d <= 0) return 0;
    n *= d;
  }
  return n;
}

namespace detail {
inline Unexpected bad(const std::string& op, const std::string& what) {
  return unexpected(Error(ErrorKind::invalid_argument, "reference::" + op + ": " + what));
}
/// An Error unless `span` holds exactly `count` values.
template <class T>
Expected<void> check_size(const std::string& op, const char* name, std::span<T> span, std::int64_t count) {
  if (count <= 0) return bad(op, std::string("the shape of ") + name + " has a dimension below 1");
  if (span.size() != static_cast<std::size_t>(count)) {
    return bad(op, std::string(name) + " holds " + std::to_string(span.size()) + " values, its shape " +
                       std::to_string(count));
  }
  return {};
}
inline double gelu(double x) noexcept {
  return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
}
}  // namespace detail

/// The function applied to each output element after the bias.
enum class Activation { none, relu, gelu };

[[nodiscard]] inline double activate(Activation a, double x) noexcept {
  switch (a) {
    case Activation::none: return x;
    case Activation::relu: return std::max(x, 0.0);
    case Activation::gelu: return detail::gelu(x);
  }
  return x;
}

/// out[M, N] = a[M, K] · b[K, N].
[[nodiscard]] inline Expected<void> matmul(std::span<const float> a, std::span<const float> b,
                                           std::span<float> out, std::int64_t m, std::int64_t n,
                                           std::int64_t k) {
  if (auto ok = detail::check_size("matmul", "a", a, m * k); !ok) return ok;
  if (auto ok = detail::check_size("matmul", "b", b, k * n); !ok) return ok;
  if (auto ok = detail::check_size("matmul", "out", out, m * n); !ok) return ok;
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (std::int64_t p = 0; p < k; ++p)
        sum += static_cast<double>(a[i * k + p]) * b[p * n + j];
      out[i * n + j] = static_cast<float>(sum);
    }
  return {};
}

/// TOPI's dense: out[M, N] = activation(data[M, K] · weight[N, K]ᵀ + bias[N]); `bias` may be empty.
[[nodiscard]] inline Expected<void> dense(std::span<const float> data, std::span<const float> weight,
                                          std::span<const float> bias, std::span<float> out, std::int64_t m,
                                          std::int64_t n, std::int64_t k,
                                          Activation activation = Activation::none) {
  if (auto ok = detail::check_size("dense", "data", data, m * k); !ok) return ok;
  if (auto ok = detail::check_size("dense", "weight", weight, n * k); !ok) return ok;
  if (auto ok = detail::check_size("dense", "out", out, m * n); !ok) return ok;
  if (!bias.empty()) {
    if (auto ok = detail::check_size("dense", "bias", bias, n); !ok) return ok;
  }
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double sum = bias.empty() ? 0.0 : bias[j];
      for (std::int64_t p = 0; p < k; ++p)
        sum += static_cast<double>(data[i * k + p]) * weight[j * k + p];
      out[i * n + j] = static_cast<float>(activate(activation, sum));
    }
  return {};
}

/// TOPI's batch_matmul: out[B, M, N] = a[Ba, M, K] · b[Bb, N, K]ᵀ (TVM's default layout of b) or, with
/// `b_transposed = false`, a · b[Bb, K, N]. A batch of 1 broadcasts: B = max(Ba, Bb).
[[nodiscard]] inline Expected<void> batch_matmul(std::span<const float> a, std::span<const float> b,
                                                 std::span<float> out, std::int64_t a_batch,
                                                 std::int64_t b_batch, std::int64_t m, std::int64_t n,
                                                 std::int64_t k, bool b_transposed = true) {
  if (a_batch != b_batch && a_batch != 1 && b_batch != 1) {
    return detail::bad("batch_matmul", "batches " + std::to_string(a_batch) + " and " +
                                           std::to_string(b_batch) + " do not broadcast");
  }
  const std::int64_t batch = std::max(a_batch, b_batch);
  if (auto ok = detail::check_size("batch_matmul", "a", a, a_batch * m * k); !ok) return ok;
  if (auto ok = detail::check_size("batch_matmul", "b", b, b_batch * n * k); !ok) return ok;
  if (auto ok = detail::check_size("batch_matmul", "out", out, batch * m * n); !ok) return ok;
  for (std::int64_t z = 0; z < batch; ++z) {
    const float* pa = a.data() + (a_batch == 1 ? 0 : z) * m * k;
    const float* pb = b.data() + (b_batch == 1 ? 0 : z) * n * k;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (std::int64_t p = 0; p < k; ++p)
          sum += static_cast<double>(pa[i * k + p]) * (b_transposed ? pb[j * k + p] : pb[p * n + j]);
        out[(z * m + i) * n + j] = static_cast<float>(sum);
      }
  }
  return {};
}

/// Where the channels are: NCHW (kernel [O, I/groups, KH, KW]) or NHWC (kernel [KH, KW, I/groups, O]),
/// as in TOPI's conv2d_nchw and conv2d_nhwc.
enum class Layout { nchw, nhwc };

struct Conv2dParams {
  std::int64_t batch = 1, in_channels = 1, in_height = 1, in_width = 1, out_channels = 1;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;  ///< zeros around the input
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;  ///< in and out channels split into this many independent groups
  Layout layout = Layout::nchw;

  [[nodiscard]] std::int64_t out_height() const noexcept {
    return (in_height + pad_top + pad_bottom - dilation_h * (kernel_h - 1) - 1) / stride_h + 1;
  }
  [[nodiscard]] std::int64_t out_width() const noexcept {
    return (in_width + pad_left + pad_right - dilation_w * (kernel_w - 1) - 1) / stride_w + 1;
  }
  [[nodiscard]] std::int64_t input_size() const noexcept {
    return batch * in_channels * in_height * in_width;
  }
  [[nodiscard]] std::int64_t kernel_size() const noexcept {
    return out_channels * (in_channels / std::max<std::int64_t>(groups, 1)) * kernel_h * kernel_w;
  }
  [[nodiscard]] std::int64_t output_size() const noexcept {
    return batch * out_channels * out_height() * out_width();
  }
  /// Sizes at least 1, pads at least 0, groups dividing both channel counts, an output of at least 1x1.
  [[nodiscard]] Expected<void> validate(const std::string& op = "conv2d") const {
    for (auto v : {batch, in_channels, in_height, in_width, out_channels, kernel_h, kernel_w, stride_h,
                   stride_w, dilation_h, dilation_w, groups})
      if (v < 1) return detail::bad(op, "sizes, strides, dilations and groups must be at least 1");
    for (auto v : {pad_top, pad_left, pad_bottom, pad_right})
      if (v < 0) return detail::bad(op, "padding must be at least 0");
    if (in_channels % groups != 0 || out_channels % groups != 0) {
      return detail::bad(op, std::to_string(groups) + " groups do not divide " + std::to_string(in_channels) +
                                 " input and " + std::to_string(out_channels) + " output channels");
    }
    if (in_height + pad_top + pad_bottom < dilation_h * (kernel_h - 1) + 1 ||
        in_width + pad_left + pad_right < dilation_w * (kernel_w - 1) + 1)
      return detail::bad(op, "the (dilated) kernel is larger than the padded input");
    return {};
  }
};

/// out = conv2d(data, kernel): out[n, o, y, x] = Σ_{i in o's group, ky, kx}
/// data[n, i, y·sh + ky·dh − pad_top, x·sw + kx·dw − pad_left] · kernel[o, i mod group size, ky, kx], with
/// zeros outside the input (NHWC: the same with the channel last and the kernel [ky, kx, i, o]).
[[nodiscard]] inline Expected<void> conv2d(std::span<const float> data, std::span<const float> kernel,
                                           std::span<float> out, const Conv2dParams& p) {
  if (auto ok = p.validate(); !ok) return ok;
  if (auto ok = detail::check_size("conv2d", "data", data, p.input_size()); !ok) return ok;
  if (auto ok = detail::check_size("conv2d", "kernel", kernel, p.kernel_size()); !ok) return ok;
  if (auto ok = detail::check_size("conv2d", "out", out, p.output_size()); !ok) return ok;
  const std::int64_t oh = p.out_height(), ow = p.out_width();
  const std::int64_t group_in = p.in_channels / p.groups, group_out = p.out_channels / p.groups;
  const bool nchw = p.layout == Layout::nchw;
  auto in_at = [&](std::int64_t n, std::int64_t c, std::int64_t y, std::int64_t x) -> double {
    if (y < 0 || y >= p.in_height || x < 0 || x >= p.in_width) return 0.0;
    return nchw ? data[((n * p.in_channels + c) * p.in_height + y) * p.in_width + x]
                : data[((n * p.in_height + y) * p.in_width + x) * p.in_channels + c];
  };
  auto kernel_at = [&](std::int64_t o, std::int64_t i, std::int64_t ky, std::int64_t kx) -> double {
    return nchw ? kernel[((o * group_in + i) * p.kernel_h + ky) * p.kernel_w + kx]
                : kernel[((ky * p.kernel_w + kx) * group_in + i) * p.out_channels + o];
  };
  for (std::int64_t n = 0; n < p.batch; ++n)
    for (std::int64_t o = 0; o < p.out_channels; ++o) {
      const std::int64_t first_in = (o / group_out) * group_in;
      for (std::int64_t y = 0; y < oh; ++y)
        for (std::int64_t x = 0; x < ow; ++x) {
          double sum = 0;
          for (std::int64_t i = 0; i < group_in; ++i)
            for (std::int64_t ky = 0; ky < p.kernel_h; ++ky)
              for (std::int64_t kx = 0; kx < p.kernel_w; ++kx)
                sum += in_at(n, first_in + i, y * p.stride_h + ky * p.dilation_h - p.pad_top,
                             x * p.stride_w + kx * p.dilation_w - p.pad_left) *
                       kernel_at(o, i, ky, kx);
          const std::int64_t at = nchw ? ((n * p.out_channels + o) * oh + y) * ow + x
                                       : ((n * oh + y) * ow + x) * p.out_channels + o;
          out[at] = static_cast<float>(sum);
        }
    }
  return {};
}

/// TOPI's depthwise conv2d: every input channel c convolved with its own `multiplier` filters, giving output
/// channels c·multiplier + m. Kernel [C, multiplier, KH, KW] (NCHW) or [KH, KW, C, multiplier] (NHWC) —
/// the same memory as a grouped conv2d kernel with groups = C. `p.out_channels` and `p.groups` are set
/// from `p.in_channels` and `multiplier`.
[[nodiscard]] inline Expected<void> depthwise_conv2d(std::span<const float> data,
                                                     std::span<const float> kernel, std::span<float> out,
                                                     Conv2dParams p, std::int64_t multiplier = 1) {
  if (multiplier < 1) return detail::bad("depthwise_conv2d", "the channel multiplier must be at least 1");
  p.groups = p.in_channels;
  p.out_channels = p.in_channels * multiplier;
  return conv2d(data, kernel, out, p);
}

enum class PoolKind { max, avg };

struct Pool2dParams {
  PoolKind kind = PoolKind::max;
  std::int64_t batch = 1, channels = 1, in_height = 1, in_width = 1;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
  /// avg: divide by the whole window (TOPI's default, pads count as zeros) or by its part inside the input.
  bool count_include_pad = true;
  Layout layout = Layout::nchw;

  [[nodiscard]] Conv2dParams window() const noexcept {
    return {batch,   channels, in_height,  in_width,  channels,   kernel_h,   kernel_w, stride_h, stride_w,
            pad_top, pad_left, pad_bottom, pad_right, dilation_h, dilation_w, channels, layout};
  }
  [[nodiscard]] std::int64_t output_size() const noexcept { return window().output_size(); }
};

/// max or average over each window; max ignores the padding, avg counts it as zeros when
/// count_include_pad.
[[nodiscard]] inline Expected<void> pool2d(std::span<const float> data, std::span<float> out,
                                           const Pool2dParams& p) {
  const Conv2dParams w = p.window();
  if (auto ok = w.validate("pool2d"); !ok) return ok;
  if (auto ok = detail::check_size("pool2d", "data", data, w.input_size()); !ok) return ok;
  if (auto ok = detail::check_size("pool2d", "out", out, w.output_size()); !ok) return ok;
  const std::int64_t oh = w.out_height(), ow = w.out_width();
  const bool nchw = p.layout == Layout::nchw;
  for (std::int64_t n = 0; n < p.batch; ++n)
    for (std::int64_t c = 0; c < p.channels; ++c)
      for (std::int64_t y = 0; y < oh; ++y)
        for (std::int64_t x = 0; x < ow; ++x) {
          double acc = p.kind == PoolKind::max ? -std::numeric_limits<double>::infinity() : 0.0;
          std::int64_t inside = 0;
          for (std::int64_t ky = 0; ky < p.kernel_h; ++ky)
            for (std::int64_t kx = 0; kx < p.kernel_w; ++kx) {
              const std::int64_t iy = y * p.stride_h + ky * p.dilation_h - p.pad_top;
              const std::int64_t ix = x * p.stride_w + kx * p.dilation_w - p.pad_left;
              if (iy < 0 || iy >= p.in_height || ix < 0 || ix >= p.in_width) continue;
              ++inside;
              const double v = nchw ? data[((n * p.channels + c) * p.in_height + iy) * p.in_width + ix]
                                    : data[((n * p.in_height + iy) * p.in_width + ix) * p.channels + c];
              acc = p.kind == PoolKind::max ? std::max(acc, v) : acc + v;
            }
          if (p.kind == PoolKind::avg) {
            const std::int64_t divisor = p.count_include_pad ? p.kernel_h * p.kernel_w : inside;
            acc = divisor > 0 ? acc / static_cast<double>(divisor) : 0.0;
          } else if (inside == 0) {
            acc = 0.0;  // a window wholly in the padding
          }
          const std::int64_t at =
              nchw ? ((n * p.channels + c) * oh + y) * ow + x : ((n * oh + y) * ow + x) * p.channels + c;
          out[at] = static_cast<float>(acc);
        }
  return {};
}

enum class UnaryOp { relu, gelu, tanh, sigmoid, exp, negate };

[[nodiscard]] inline Expected<void> unary(std::span<const float> in, std::span<float> out, UnaryOp op) {
  if (in.size() != out.size())
    return detail::bad("unary",
                       "in and out hold " + std::to_string(in.size()) + " and " + std::to_string(out.size()));
  for (std::size_t i = 0; i < in.size(); ++i) {
    const double x = in[i];
    double y = x;
    switch (op) {
      case UnaryOp::relu: y = std::max(x, 0.0); break;
      case UnaryOp::gelu: y = detail::gelu(x); break;
      case UnaryOp::tanh: y = std::tanh(x); break;
      case UnaryOp::sigmoid: y = 1.0 / (1.0 + std::exp(-x)); break;
      case UnaryOp::exp: y = std::exp(x); break;
      case UnaryOp::negate: y = -x; break;
    }
    out[i] = static_cast<float>(y);
  }
  return {};
}

/// NumPy's broadcast of two shapes (aligned at the last dimension; a dimension of 1 stretches).
[[nodiscard]] inline Expected<Shape> broadcast_shape(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const std::int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (da != db && da != 1 && db != 1) {
      return detail::bad("broadcast", "dimension " + std::to_string(i) + " is " + std::to_string(da) +
                                          " and " + std::to_string(db));
    }
    out[i] = std::max(da, db);
  }
  return out;
}

enum class BinaryOp { add, subtract, multiply, divide, maximum, minimum };

/// out = a op b with broadcasting; `out` holds broadcast_shape(a_shape, b_shape).
[[nodiscard]] inline Expected<void> binary(std::span<const float> a, const Shape& a_shape,
                                           std::span<const float> b, const Shape& b_shape,
                                           std::span<float> out, BinaryOp op) {
  auto shape = broadcast_shape(a_shape, b_shape);
  if (!shape) return unexpected(std::move(shape).error());
  if (auto ok = detail::check_size("binary", "a", a, element_count(a_shape)); !ok) return ok;
  if (auto ok = detail::check_size("binary", "b", b, element_count(b_shape)); !ok) return ok;
  if (auto ok = detail::check_size("binary", "out", out, element_count(*shape)); !ok) return ok;
  const std::size_t rank = shape->size();
  // Strides of a and b in the output's index space: 0 where a dimension is broadcast.
  auto strides = [&](const Shape& s) {
    std::vector<std::int64_t> st(rank, 0);
    std::int64_t stride = 1;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const std::size_t d = s.size() - 1 - i;
      st[rank - 1 - i] = s[d] == 1 ? 0 : stride;
      stride *= s[d];
    }
    return st;
  };
  const auto sa = strides(a_shape), sb = strides(b_shape);
  std::vector<std::int64_t> index(rank, 0);
  for (std::size_t flat = 0; flat < out.size(); ++flat) {
    std::int64_t ia = 0, ib = 0;
    for (std::size_t d = 0; d < rank; ++d) {
      ia += index[d] * sa[d];
      ib += index[d] * sb[d];
    }
    const double x = a[static_cast<std::size_t>(ia)], y = b[static_cast<std::size_t>(ib)];
    double r = 0;
    switch (op) {
      case BinaryOp::add: r = x + y; break;
      case BinaryOp::subtract: r = x - y; break;
      case BinaryOp::multiply: r = x * y; break;
      case BinaryOp::divide: r = x / y; break;
      case BinaryOp::maximum: r = std::max(x, y); break;
      case BinaryOp::minimum: r = std::min(x, y); break;
    }
    out[flat] = static_cast<float>(r);
    for (std::size_t d = rank; d-- > 0;) {  // next index, last dimension fastest
      if (++index[d] < (*shape)[d]) break;
      index[d] = 0;
    }
  }
  return {};
}

enum class ReduceOp { sum, max, min, mean };

/// The shape `reduce` writes: `shape` without `axes` (or with them as 1 when keepdims).
[[nodiscard]] inline Expected<Shape> reduce_shape(const Shape& shape, const std::vector<std::int64_t>& axes,
                                                  bool keepdims) {
  std::vector<bool> reduced(shape.size(), false);
  for (auto axis : axes) {
    if (axis < 0 || axis >= static_cast<std::int64_t>(shape.size()) ||
        reduced[static_cast<std::size_t>(axis)])
      return detail::bad("reduce", "axis " + std::to_string(axis) + " is out of range or repeated");
    reduced[static_cast<std::size_t>(axis)] = true;
  }
  Shape out;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (!reduced[d])
      out.push_back(shape[d]);
    else if (keepdims)
      out.push_back(1);
  }
  return out;
}

/// Reduces `in` (of `shape`) over `axes`; `out` holds reduce_shape(shape, axes, keepdims).
[[nodiscard]] inline Expected<void> reduce(std::span<const float> in, const Shape& shape,
                                           const std::vector<std::int64_t>& axes, bool keepdims,
                                           std::span<float> out, ReduceOp op) {
  auto out_shape = reduce_shape(shape, axes, keepdims);
  if (!out_shape) return unexpected(std::move(out_shape).error());
  if (auto ok = detail::check_size("reduce", "in", in, element_count(shape)); !ok) return ok;
  if (auto ok = detail::check_size("reduce", "out", out, element_count(*out_shape)); !ok) return ok;
  std::vector<bool> reduced(shape.size(), false);
  for (auto axis : axes)
    reduced[static_cast<std::size_t>(axis)] = true;
  const double start = op == ReduceOp::max   ? -std::numeric_limits<double>::infinity()
                       : op == ReduceOp::min ? std::numeric_limits<double>::infinity()
                                             : 0.0;
  std::vector<double> acc(out.size(), start);
  std::int64_t per_output = 1;
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (reduced[d]) per_output *= shape[d];
  std::vector<std::int64_t> index(shape.size(), 0);
  for (std::size_t flat = 0; flat < in.size(); ++flat) {
    std::int64_t target = 0;  // row-major index of the output, skipping the reduced dimensions
    for (std::size_t d = 0; d < shape.size(); ++d)
      if (!reduced[d]) target = target * shape[d] + index[d];
    double& a = acc[static_cast<std::size_t>(target)];
    const double v = in[flat];
    a = op == ReduceOp::max ? std::max(a, v) : op == ReduceOp::min ? std::min(a, v) : a + v;
    for (std::size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<float>(op == ReduceOp::mean ? acc[i] / static_cast<double>(per_output) : acc[i]);
  return {};
}

/// Softmax along `axis`: exp(x − max) / Σ exp(x − max), stable for large inputs.
[[nodiscard]] inline Expected<void> softmax(std::span<const float> in, const Shape& shape, std::int64_t axis,
                                            std::span<float> out) {
  if (axis < 0 || axis >= static_cast<std::int64_t>(shape.size()))
    return detail::bad("softmax", "axis " + std::to_string(axis) + " is out of range");
  if (auto ok = detail::check_size("softmax", "in", in, element_count(shape)); !ok) return ok;
  if (auto ok = detail::check_size("softmax", "out", out, element_count(shape)); !ok) return ok;
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t d = 0; d < axis; ++d)
    outer *= shape[static_cast<std::size_t>(d)];
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < shape.size(); ++d)
    inner *= shape[d];
  const std::int64_t extent = shape[static_cast<std::size_t>(axis)];
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t i = 0; i < inner; ++i) {
      auto at = [&](std::int64_t j) { return static_cast<std::size_t>((o * extent + j) * inner + i); };
      double top = -std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j < extent; ++j)
        top = std::max(top, static_cast<double>(in[at(j)]));
      double total = 0;
      for (std::int64_t j = 0; j < extent; ++j)
        total += std::exp(in[at(j)] - top);
      for (std::int64_t j = 0; j < extent; ++j)
        out[at(j)] = static_cast<float>(std::exp(in[at(j)] - top) / total);
    }
  return {};
}

}  // namespace crosstune::ir::reference
