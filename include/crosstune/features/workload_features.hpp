// crosstune/features/workload_features.hpp — what is being computed, as a fixed-length vector.
//
// From the workload key (later also from crosstune's IR): operator kind one-hot, FLOPs (log-scaled, with a
// "known" flag), the first integer arguments or tensor dimensions (log-scaled), an estimate of bytes
// touched and of arithmetic intensity. Columns: docs/features.md (version workload_encoding_version).
//
//   std::array<float, crosstune::features::workload_dims> row{};
//   crosstune::features::encode_workload(crosstune::data::describe_workload(key), parsed_key, row.data());
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string_view>

#include "crosstune/core/workload_key.hpp"
#include "crosstune/data/workload_info.hpp"

namespace crosstune::features {

inline constexpr int workload_encoding_version = 1;

namespace workload_column {
inline constexpr std::size_t op = 0;            ///< 9: one-hot data::OpKind
inline constexpr std::size_t flops = 9;         ///< log2(1 + FLOPs) / 48
inline constexpr std::size_t flops_known = 10;  ///< 1 when FLOPs are known
inline constexpr std::size_t dims =
    11;  ///< 12: the first 12 integers of the key's arguments, flattened, log2(1 + x) / 20
inline constexpr std::size_t dim_count = 23;  ///< number of integers in the arguments: log2(1 + n) / 8
inline constexpr std::size_t hashed = 24;     ///< 1 for a compute-DAG hash key (arguments are tensor shapes)
inline constexpr std::size_t bytes = 25;      ///< log2(1 + estimated bytes touched) / 48 (0 when unknown)
inline constexpr std::size_t intensity = 26;  ///< log2(1 + FLOPs / bytes) / 12 (0 when either is unknown)
inline constexpr std::size_t count = 27;
}  // namespace workload_column

inline constexpr std::size_t workload_dims = workload_column::count;

namespace detail {
inline void flatten_ints(const std::vector<WorkloadArg>& args, std::vector<double>& out) {
  for (const auto& a : args) {
    if (a.is_integer()) out.push_back(static_cast<double>(a.integer));
    if (a.is_list()) flatten_ints(a.items, out);
  }
}

/// Bytes the operator must read and write at least (fp32), from the key where the layout is known:
/// hashed keys list their tensors' shapes; named keys are matched as in data::describe_workload.
inline std::optional<double> estimate_bytes(const WorkloadKey& key) {
  auto product = [](const WorkloadArg& list) {
    double p = 1;
    for (const auto& d : list.items)
      p *= static_cast<double>(std::max<std::int64_t>(d.integer, 0));
    return p;
  };
  if (key.hashed()) {
    double elements = 0;
    for (const auto& a : key.args)
      if (a.is_list()) elements += product(a);
    return elements > 0 ? std::optional<double>(4.0 * elements) : std::nullopt;
  }
  auto arg = [&](std::size_t i) {
    return i < key.args.size() ? static_cast<double>(key.args[i].integer) : 0.0;
  };
  if (key.name == "matmul_layer" || key.name == "dense_layer" || key.name == "matmul_add") {
    const double m = arg(0), n = arg(1), k = arg(2);  // the three extents; each operand is a product of two
    if (m > 0 && n > 0 && k > 0) return 4.0 * (m * k + k * n + m * n);
  }
  if (key.name == "relu_layer") {
    double e = 1;
    for (std::size_t i = 0; i < key.args.size(); ++i)
      e *= arg(i);
    if (e > 0) return 8.0 * e;
  }
  if (key.name == "conv2d_layer" && key.args.size() >= 9 && key.args[8].is_string()) {
    // (N, CI, H, W, CO, KH, KW, stride, padding): input + weights + output (output ~ input / stride^2 x
    // CO/CI)
    const double n = arg(0), ci = arg(1), h = arg(2), w = arg(3), co = arg(4), kh = arg(5), kw = arg(6),
                 s = arg(7);
    if (n > 0 && ci > 0 && h > 0 && w > 0 && co > 0 && s > 0)
      return 4.0 * (n * ci * h * w + co * ci * kh * kw + n * co * (h / s) * (w / s));
  }
  if (key.name == "depthwise_conv2d_layer") {
    const double n = arg(0), c = arg(1), h = arg(2), w = arg(3), kh = arg(4), kw = arg(5), s = arg(6);
    if (n > 0 && c > 0 && h > 0 && w > 0 && s > 0)
      return 4.0 * (n * c * h * w + c * kh * kw + n * c * (h / s) * (w / s));
  }
  return std::nullopt;
}
}  // namespace detail

/// Writes the workload encoding into `row[0, workload_dims)`.
inline void encode_workload(const data::WorkloadInfo& info, const WorkloadKey* key, float* row) {
  namespace c = workload_column;
  std::fill(row, row + workload_dims, 0.0f);
  row[c::op + static_cast<std::size_t>(info.op)] = 1.0f;
  if (info.flops) {
    row[c::flops] = static_cast<float>(std::log2(1.0 + *info.flops) / 48.0);
    row[c::flops_known] = 1.0f;
  }
  if (key == nullptr) return;
  std::vector<double> ints;
  detail::flatten_ints(key->args, ints);
  for (std::size_t i = 0; i < std::min<std::size_t>(ints.size(), 12); ++i)
    row[c::dims + i] = ints[i] > 0 ? static_cast<float>(std::log2(1.0 + ints[i]) / 20.0) : 0.0f;
  row[c::dim_count] = static_cast<float>(std::log2(1.0 + static_cast<double>(ints.size())) / 8.0);
  row[c::hashed] = key->hashed() ? 1.0f : 0.0f;
  if (const auto bytes = detail::estimate_bytes(*key)) {
    row[c::bytes] = static_cast<float>(std::log2(1.0 + *bytes) / 48.0);
    if (info.flops) row[c::intensity] = static_cast<float>(std::log2(1.0 + *info.flops / *bytes) / 12.0);
  }
}

/// Writes the workload encoding of a task's workload key (parsed when it parses, described from its text
/// when it does not) into `row[0, workload_dims)`.
inline void encode_workload(std::string_view workload_key, float* row) {
  const auto key = parse_workload_key(workload_key);
  encode_workload(key ? data::describe_workload(*key) : data::describe_workload(workload_key), key ? &*key : nullptr, row);
}

}  // namespace crosstune::features
