// Operator cases for the schedule and code-generation tests: a DAG from ir/operators.hpp, random inputs,
// and the output ir/reference.hpp computes for them (the independent check of every generated kernel).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crosstune/core/rng.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/ir/reference.hpp"

namespace crosstune::test {

struct OperatorCase {
  std::string name;
  std::shared_ptr<const ir::ComputeDag> dag;
  std::vector<std::vector<float>> inputs;
  std::vector<float> expected;  ///< the single output, from ir::reference
};

inline std::vector<float> random_values(std::int64_t n, Rng& rng) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<float>(rng.uniform_real(-1.0, 1.0));
  return v;
}

/// The DAG's stage names, in order.
inline std::vector<std::string> stage_names(const ir::ComputeDag& dag) {
  std::vector<std::string> names;
  for (const auto& op : dag.ops()) names.push_back(op->name);
  return names;
}

/// |got − want| ≤ 1e-4 · max(1, |want|) everywhere; the first mismatch in the message.
inline void check_close(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double a = got[i], b = want[i];
    if (!(std::abs(a - b) <= 1e-4 * std::max(1.0, std::abs(b)))) {
      FAIL_CHECK("element " << i << ": DAG " << a << ", reference " << b);
      return;
    }
  }
}

/// |got − want| ≤ 1e-4 · max(1, |want|) everywhere; returns the worst relative error.
inline double worst_relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return INFINITY;
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double e = std::abs(static_cast<double>(got[i]) - want[i]) / std::max(1.0, std::abs(static_cast<double>(want[i])));
    if (!(e <= worst)) worst = e;  // NaN counts as the worst
  }
  return worst;
}

/// A built DAG, shared as the schedule state and the sketches hold it (fails the test on a build error).
inline std::shared_ptr<const ir::ComputeDag> share(Expected<ir::ComputeDag> dag) {
  return std::make_shared<const ir::ComputeDag>(std::move(dag).value());
}

/// The operator families at small shapes with odd sizes (7, 13, 255) and sizes of 1; `large` adds a
/// second, larger shape per family.
inline std::vector<OperatorCase> operator_cases(Rng& rng, bool large = false) {
  using namespace ir;
  std::vector<OperatorCase> out;
  auto add = [&](std::string name, Expected<ComputeDag> dag, const std::function<std::vector<float>(const std::vector<std::vector<float>>&)>& want) {
    OperatorCase c;
    c.name = std::move(name);
    c.dag = share(std::move(dag));
    for (const auto& op : c.dag->ops())
      if (op->placeholder) c.inputs.push_back(random_values(op->element_count(), rng));
    c.expected = want(c.inputs);
    out.push_back(std::move(c));
  };
  auto matmul_case = [&](std::int64_t m, std::int64_t k, std::int64_t n) {
    add("matmul " + std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n), matmul(m, k, n), [=](const auto& in) {
      std::vector<float> o(static_cast<std::size_t>(m * n));
      reference::matmul(in[0], in[1], o, m, n, k).value();
      return o;
    });
  };
  matmul_case(7, 13, 255);
  matmul_case(1, 13, 7);
  if (large) matmul_case(64, 48, 96);
  for (Activation act : {Activation::relu, Activation::gelu}) {
    add("dense+bias+" + std::string(to_string(act)), dense(13, 7, 255, true, act), [=](const auto& in) {
      std::vector<float> o(13 * 255);
      reference::dense(in[0], in[1], in[2], o, 13, 255, 7, act).value();
      return o;
    });
  }
  add("batch_matmul", batch_matmul(3, 1, 7, 13, 5, true), [](const auto& in) {
    std::vector<float> o(3 * 7 * 5);
    reference::batch_matmul(in[0], in[1], o, 3, 1, 7, 5, 13, true).value();
    return o;
  });
  auto conv_case = [&](std::string name, Conv2dParams p) {
    add(std::move(name), conv2d(p), [=](const auto& in) {
      std::vector<float> o(static_cast<std::size_t>(p.output_size()));
      reference::conv2d(in[0], in[1], o, p).value();
      return o;
    });
  };
  Conv2dParams c{};
  c.batch = 1, c.in_channels = 3, c.in_height = 13, c.in_width = 7, c.out_channels = 8, c.kernel_h = 3, c.kernel_w = 3;
  c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 1;
  conv_case("conv2d NCHW 3x3 pad 1", c);
  Conv2dParams s = c;
  s.stride_h = s.stride_w = 2, s.pad_bottom = 0, s.dilation_w = 2, s.groups = 1, s.in_channels = 4, s.out_channels = 6;
  s.groups = 2;
  conv_case("conv2d NCHW strided dilated grouped", s);
  Conv2dParams h = c;
  h.layout = Layout::nhwc;
  conv_case("conv2d NHWC", h);
  if (large) {
    Conv2dParams r{};
    r.batch = 1, r.in_channels = 16, r.in_height = 14, r.in_width = 14, r.out_channels = 16, r.kernel_h = 3, r.kernel_w = 3;
    r.pad_top = r.pad_left = r.pad_bottom = r.pad_right = 1;
    conv_case("conv2d 16x14x14", r);
  }
  Conv2dParams d = c;
  add("depthwise_conv2d x2", depthwise_conv2d(d, 2), [=](const auto& in) {
    Conv2dParams q = d;
    q.groups = q.in_channels, q.out_channels = q.in_channels * 2;
    std::vector<float> o(static_cast<std::size_t>(q.output_size()));
    reference::depthwise_conv2d(in[0], in[1], o, d, 2).value();
    return o;
  });
  for (PoolKind kind : {PoolKind::max, PoolKind::avg}) {
    Pool2dParams p{};
    p.kind = kind, p.batch = 1, p.channels = 3, p.in_height = 13, p.in_width = 7, p.kernel_h = 3, p.kernel_w = 3;
    p.stride_h = p.stride_w = 2, p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    add("pool2d " + std::string(to_string(kind)), pool2d(p), [=](const auto& in) {
      std::vector<float> o(static_cast<std::size_t>(p.output_size()));
      reference::pool2d(in[0], o, p).value();
      return o;
    });
  }
  add("gelu 7x13", unary({7, 13}, UnaryOp::gelu), [](const auto& in) {
    std::vector<float> o(7 * 13);
    reference::unary(in[0], o, UnaryOp::gelu).value();
    return o;
  });
  add("add broadcast", binary({7, 1, 13}, {5, 1}, BinaryOp::add), [](const auto& in) {
    std::vector<float> o(7 * 5 * 13);
    reference::binary(in[0], {7, 1, 13}, in[1], {5, 1}, o, BinaryOp::add).value();
    return o;
  });
  add("softmax 7x13 axis 1", softmax({7, 13}, 1), [](const auto& in) {
    std::vector<float> o(7 * 13);
    reference::softmax(in[0], {7, 13}, 1, o).value();
    return o;
  });
  add("reduce mean", reduce({7, 13, 5}, {1}, false, ReduceOp::mean), [](const auto& in) {
    std::vector<float> o(7 * 5);
    reference::reduce(in[0], {7, 13, 5}, {1}, false, o, ReduceOp::mean).value();
    return o;
  });
  add("reduce max to scalar", reduce({7, 13}, {0, 1}, false, ReduceOp::max), [](const auto& in) {
    std::vector<float> o(1);
    reference::reduce(in[0], {7, 13}, {0, 1}, false, o, ReduceOp::max).value();
    return o;
  });
  return out;
}

}  // namespace crosstune::test
