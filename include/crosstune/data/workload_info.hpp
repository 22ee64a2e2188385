// crosstune/data/workload_info.hpp — operator kind and FLOP count of a workload, read off its key.
//
// Named workload keys carry the operator and its sizes, so the FLOPs of the operators found in public
// Ansor logs can be computed without the compute DAG: conv2d, depthwise conv2d, matmul/dense, pooling,
// reduction, relu and the TVM tutorial's matmul_add. Keys that are DAG hashes (workloads extracted from
// networks) carry only tensor shapes; their FLOPs come from crosstune's own IR once a task is rebuilt
// there, and are reported unknown here rather than guessed.
//
// A multiply-add counts as two FLOPs, as in TVM's FLOP counter.
//
//   auto info = crosstune::data::describe_workload(record.task->workload_key);
//   if (info.flops) gflops = *info.flops / cost_seconds / 1e9;
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crosstune/core/workload_key.hpp"

namespace crosstune::data {

enum class OpKind : std::uint8_t {
  conv2d,
  depthwise_conv2d,
  dense,  ///< matmul / dense
  batch_matmul,
  pooling,
  elementwise,
  reduction,
  softmax,
  other,  ///< recognised as none of the above, or a hashed key
};

[[nodiscard]] constexpr std::string_view to_string(OpKind kind) noexcept {
  switch (kind) {
    case OpKind::conv2d: return "conv2d";
    case OpKind::depthwise_conv2d: return "depthwise_conv2d";
    case OpKind::dense: return "dense";
    case OpKind::batch_matmul: return "batch_matmul";
    case OpKind::pooling: return "pooling";
    case OpKind::elementwise: return "elementwise";
    case OpKind::reduction: return "reduction";
    case OpKind::softmax: return "softmax";
    case OpKind::other: return "other";
  }
  return "other";
}

struct WorkloadInfo {
  std::string name;  ///< function name, or "<hash>" for DAG-hash keys, or "<unparsable>"
  OpKind op = OpKind::other;
  std::optional<double> flops;  ///< floating-point operations of one run, when known
};

namespace detail {
inline std::optional<std::int64_t> arg_int(const WorkloadKey& key, std::size_t i) {
  if (i >= key.args.size() || !key.args[i].is_integer()) return std::nullopt;
  return key.args[i].integer;
}
inline std::optional<std::string_view> arg_string(const WorkloadKey& key, std::size_t i) {
  if (i >= key.args.size() || !key.args[i].is_string()) return std::nullopt;
  return key.args[i].text;
}
/// Output extent of a sliding window with "SAME"/"VALID" padding (TensorFlow's convention).
inline std::optional<double> window_out(double in, double kernel, double stride, std::string_view padding) {
  if (stride <= 0 || in <= 0 || kernel <= 0) return std::nullopt;
  if (padding == "SAME") return std::ceil(in / stride);
  if (padding == "VALID") {
    if (in < kernel) return std::nullopt;
    return std::floor((in - kernel) / stride) + 1.0;
  }
  return std::nullopt;
}
/// Output pixels (H_out * W_out) of a square-strided window over an h x w image.
inline std::optional<double> window_pixels(double h, double w, double kh, double kw, double stride,
                                           std::string_view padding) {
  const auto ho = window_out(h, kh, stride, padding);
  const auto wo = window_out(w, kw, stride, padding);
  if (!ho || !wo) return std::nullopt;
  return *ho * *wo;
}
/// All `count` integer args starting at `first`, or nullopt.
template <std::size_t N>
inline std::optional<std::array<double, N>> ints(const WorkloadKey& key, std::size_t first) {
  std::array<double, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    const auto v = arg_int(key, first + i);
    if (!v || *v <= 0) return std::nullopt;
    out[i] = static_cast<double>(*v);
  }
  return out;
}
}  // namespace detail

/// Operator kind and FLOPs of a parsed workload key (FLOPs left empty when the layout is not known).
[[nodiscard]] inline WorkloadInfo describe_workload(const WorkloadKey& key) {
  using detail::arg_int;
  using detail::arg_string;
  using detail::ints;
  WorkloadInfo info;
  if (key.hashed()) {
    info.name = "<hash>";
    return info;
  }
  info.name = key.name;
  const std::string_view name = key.name;
  if (name == "conv2d_layer") {
    info.op = OpKind::conv2d;
    if (auto pad = arg_string(key, 8)) {
      // (N, CI, H, W, CO, KH, KW, stride, "SAME"|"VALID")
      const auto v = ints<8>(key, 0);
      if (!v) return info;
      const auto [n, ci, h, w, co, kh, kw, s] = *v;
      const auto pixels = detail::window_pixels(h, w, kh, kw, s, *pad);
      if (pixels) info.flops = 2.0 * n * co * *pixels * ci * kh * kw;
    } else if (key.args.size() >= 9 && key.args[7].is_list() && key.args[8].is_list()) {
      // (N, H, W, CI, CO, KH, KW, [stride_h, stride_w], [pad_h, pad_w]) — TVM tutorial layout
      const auto v = ints<7>(key, 0);
      const auto& stride = key.args[7].items;
      const auto& pad = key.args[8].items;
      if (!v || stride.size() != 2 || pad.size() != 2) return info;
      const auto [n, h, w, ci, co, kh, kw] = *v;
      const double sh = static_cast<double>(stride[0].integer), sw = static_cast<double>(stride[1].integer);
      if (sh <= 0 || sw <= 0) return info;
      const double ho = std::floor((h + 2.0 * static_cast<double>(pad[0].integer) - kh) / sh) + 1.0;
      const double wo = std::floor((w + 2.0 * static_cast<double>(pad[1].integer) - kw) / sw) + 1.0;
      if (ho > 0 && wo > 0) info.flops = 2.0 * n * co * ho * wo * ci * kh * kw;
    }
  } else if (name == "depthwise_conv2d_layer") {
    // (N, C, H, W, KH, KW, stride, "SAME"|"VALID")
    info.op = OpKind::depthwise_conv2d;
    const auto v = ints<7>(key, 0);
    const auto pad = arg_string(key, 7);
    if (!v || !pad) return info;
    const auto [n, c, h, w, kh, kw, s] = *v;
    const auto pixels = detail::window_pixels(h, w, kh, kw, s, *pad);
    if (pixels) info.flops = 2.0 * n * c * *pixels * kh * kw;
  } else if (name == "matmul_layer" || name == "dense_layer") {
    // (M, N, K) in some order: the product is the same.
    info.op = OpKind::dense;
    if (const auto v = ints<3>(key, 0)) info.flops = 2.0 * (*v)[0] * (*v)[1] * (*v)[2];
  } else if (name == "matmul_add") {
    // (N, L, M, dtype): C[N, M] = A[N, L] B[L, M] + D[N, M]
    info.op = OpKind::dense;
    if (const auto v = ints<3>(key, 0)) info.flops = 2.0 * (*v)[0] * (*v)[1] * (*v)[2] + (*v)[0] * (*v)[2];
  } else if (name == "relu_layer") {
    info.op = OpKind::elementwise;
    double elements = 1.0;
    for (std::size_t i = 0; i < key.args.size(); ++i) {
      const auto v = arg_int(key, i);
      if (!v || *v <= 0) return info;
      elements *= static_cast<double>(*v);
    }
    if (!key.args.empty()) info.flops = elements;
  } else if (name == "pool_layer") {
    // ("avg"|"max", N, C, H, W, KH, KW, stride, "SAME"|"VALID")
    info.op = OpKind::pooling;
    const auto v = ints<7>(key, 1);
    const auto pad = arg_string(key, 8);
    if (!v || !pad) return info;
    const auto [n, c, h, w, kh, kw, s] = *v;
    const auto pixels = detail::window_pixels(h, w, kh, kw, s, *pad);
    if (pixels) info.flops = n * c * *pixels * kh * kw;
  } else if (name == "reduction_layer") {
    // ([shape...], [axes...], keepdims): one add per input element
    info.op = OpKind::reduction;
    if (key.args.empty() || !key.args[0].is_list()) return info;
    double elements = 1.0;
    for (const auto& d : key.args[0].items) {
      if (!d.is_integer() || d.integer <= 0) return info;
      elements *= static_cast<double>(d.integer);
    }
    info.flops = elements;
  } else if (name.find("batch_matmul") != std::string_view::npos ||
             (name == "get_expr" && arg_string(key, 0) &&
              arg_string(key, 0)->find("batch_matmul") != std::string_view::npos)) {
    info.op = OpKind::batch_matmul;
  } else if (name.find("conv") != std::string_view::npos ||
             (name == "get_expr" && arg_string(key, 0) &&
              arg_string(key, 0)->find("conv") != std::string_view::npos)) {
    info.op = OpKind::conv2d;
  } else if (name.find("softmax") != std::string_view::npos) {
    info.op = OpKind::softmax;
  } else if (name.find("dense") != std::string_view::npos || name.find("matmul") != std::string_view::npos) {
    info.op = OpKind::dense;
  }
  return info;
}

/// As above, from the key string; an unparsable key is described as name "<unparsable>", kind other.
[[nodiscard]] inline WorkloadInfo describe_workload(std::string_view workload_key) {
  auto key = parse_workload_key(workload_key);
  if (!key) return WorkloadInfo{"<unparsable>", OpKind::other, std::nullopt};
  return describe_workload(*key);
}

}  // namespace crosstune::data
