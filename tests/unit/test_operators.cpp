// Every operator builder, its DAG evaluated by ir/evaluate.hpp on random inputs, against the same-named
// function of ir/reference.hpp; stage names, FLOPs against closed forms, keys and parameter errors.
#include "crosstune/ir/operators.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "crosstune/core/rng.hpp"
#include "crosstune/ir/evaluate.hpp"
#include "crosstune/ir/reference.hpp"
#include "test_support.hpp"
#include "operator_cases.hpp"

using namespace crosstune;
using namespace crosstune::ir;

namespace {
using crosstune::test::random_values;
using crosstune::test::stage_names;
using crosstune::test::contains;

/// Random inputs for every placeholder of `dag`, by name, and the DAG's output evaluated on them.
struct Run {
  std::map<std::string, std::vector<float>> inputs;
  std::vector<float> output;
};
Run run(const ComputeDag& dag, Rng& rng) {
  Run r;
  std::vector<std::vector<float>> ordered;
  for (std::int32_t id : dag.inputs()) {
    const Operation& op = dag.op(static_cast<std::size_t>(dag.find(id)));
    ordered.push_back(random_values(op.element_count(), rng));
    r.inputs[op.name] = ordered.back();
  }
  auto out = evaluate(dag, ordered);
  REQUIRE_MESSAGE(out, (out ? std::string() : out.error().message));
  REQUIRE(out->size() == 1);
  r.output = std::move((*out)[0]);
  return r;
}

using crosstune::test::check_close;
std::vector<float> zeros(std::int64_t n) {
  return std::vector<float>(static_cast<std::size_t>(n), 0.0f);
}

void check_error(const Expected<ComputeDag>& dag, const std::string& op) {
  REQUIRE_FALSE(dag);
  CHECK(dag.error().kind == ErrorKind::invalid_argument);
  CHECK_MESSAGE(contains(dag.error().message, op), dag.error().message);
}
}  // namespace

TEST_CASE("matmul equals the reference and counts 2·M·N·K FLOPs") {
  Rng rng(11);
  for (const auto& [m, k, n] :
       std::vector<std::array<std::int64_t, 3>>{{1, 1, 1}, {7, 13, 5}, {13, 7, 1}, {3, 1, 7}}) {
    const std::int64_t mm = m, kk = k, nn = n;
    CAPTURE(mm);
    CAPTURE(kk);
    CAPTURE(nn);
    const ComputeDag dag = matmul(m, k, n).value();
    CHECK(stage_names(dag) == std::vector<std::string>{"A", "B", "compute"});
    CHECK(dag.flops() == 2 * m * n * k);
    CHECK(dag.workload_key() == "[\"matmul_layer\", " + std::to_string(m) + ", " + std::to_string(k) + ", " +
                                    std::to_string(n) + "]");
    const Run r = run(dag, rng);
    auto want = zeros(m * n);
    REQUIRE(reference::matmul(r.inputs.at("A"), r.inputs.at("B"), want, m, n, k));
    check_close(r.output, want);
  }
}

TEST_CASE("dense with and without bias, for every activation, equals the reference") {
  Rng rng(12);
  for (const auto& [m, k, n] : std::vector<std::array<std::int64_t, 3>>{{7, 13, 5}, {1, 7, 13}, {2, 1, 1}}) {
    const std::int64_t mm = m, kk = k, nn = n;
    for (bool bias : {false, true})
      for (Activation act : {Activation::none, Activation::relu, Activation::gelu}) {
        CAPTURE(mm);
        CAPTURE(kk);
        CAPTURE(nn);
        CAPTURE(bias);
        CAPTURE(to_string(act));
        const ComputeDag dag = dense(m, k, n, bias, act).value();
        std::vector<std::string> names = {"data", "weight", "T_matmul_NT"};
        if (bias) names.insert(names.end(), {"bias", "T_add"});
        if (act != Activation::none) names.push_back("compute");
        CHECK(stage_names(dag) == names);
        const std::int64_t epilogue = (bias ? 1 : 0) + (act == Activation::relu   ? 1
                                                        : act == Activation::gelu ? 5
                                                                                  : 0);
        CHECK(dag.flops() == 2 * m * n * k + epilogue * m * n);
        const Run r = run(dag, rng);
        auto want = zeros(m * n);
        const std::vector<float> no_bias;
        REQUIRE(reference::dense(r.inputs.at("data"), r.inputs.at("weight"),
                                 bias ? r.inputs.at("bias") : no_bias, want, m, n, k, act));
        check_close(r.output, want);
      }
  }
  CHECK(dense(4, 5, 6, true, Activation::relu)->workload_key() ==
        R"(["crosstune.dense", 4, 5, 6, true, "relu"])");
}

TEST_CASE("batch_matmul equals the reference for equal and broadcast batches, in both layouts of B") {
  Rng rng(13);
  const std::int64_t m = 5, k = 7, n = 3;
  for (const auto& [ab, bb] : std::vector<std::array<std::int64_t, 2>>{{3, 3}, {3, 1}, {1, 3}, {1, 1}})
    for (bool transposed : {true, false}) {
      const std::int64_t a_batch = ab, b_batch = bb;
      CAPTURE(a_batch);
      CAPTURE(b_batch);
      CAPTURE(transposed);
      const ComputeDag dag = batch_matmul(a_batch, b_batch, m, k, n, transposed).value();
      CHECK(stage_names(dag) ==
            std::vector<std::string>{"A", "B", transposed ? "T_batch_matmul_NT" : "T_batch_matmul_NN"});
      const std::int64_t batch = std::max(a_batch, b_batch);
      CHECK(dag.op(2).shape() == std::vector<std::int64_t>{batch, m, n});
      CHECK(dag.flops() == 2 * batch * m * n * k);
      const Run r = run(dag, rng);
      auto want = zeros(batch * m * n);
      REQUIRE(reference::batch_matmul(r.inputs.at("A"), r.inputs.at("B"), want, a_batch, b_batch, m, n, k,
                                      transposed));
      check_close(r.output, want);
    }
}

namespace {
std::vector<Conv2dParams> conv_cases() {
  return {
      {.batch = 1, .in_channels = 1, .in_height = 1, .in_width = 1, .out_channels = 1},
      {.batch = 2,
       .in_channels = 3,
       .in_height = 7,
       .in_width = 13,
       .out_channels = 4,
       .kernel_h = 3,
       .kernel_w = 3,
       .pad_top = 1,
       .pad_left = 1,
       .pad_bottom = 1,
       .pad_right = 1},
      // stride, asymmetric padding, a rectangular kernel
      {.batch = 1,
       .in_channels = 2,
       .in_height = 13,
       .in_width = 7,
       .out_channels = 3,
       .kernel_h = 3,
       .kernel_w = 2,
       .stride_h = 2,
       .stride_w = 3,
       .pad_top = 2,
       .pad_left = 0,
       .pad_bottom = 1,
       .pad_right = 3},
      // dilation
      {.batch = 1,
       .in_channels = 2,
       .in_height = 7,
       .in_width = 7,
       .out_channels = 2,
       .kernel_h = 3,
       .kernel_w = 2,
       .pad_top = 2,
       .pad_left = 1,
       .pad_bottom = 2,
       .pad_right = 1,
       .dilation_h = 2,
       .dilation_w = 3},
      // groups, with a stride
      {.batch = 1,
       .in_channels = 4,
       .in_height = 7,
       .in_width = 5,
       .out_channels = 6,
       .kernel_h = 3,
       .kernel_w = 3,
       .stride_h = 2,
       .stride_w = 2,
       .pad_top = 1,
       .pad_left = 1,
       .pad_bottom = 1,
       .pad_right = 1,
       .groups = 2},
      // depthwise-like groups, no padding
      {.batch = 2,
       .in_channels = 3,
       .in_height = 5,
       .in_width = 4,
       .out_channels = 6,
       .kernel_h = 2,
       .kernel_w = 2,
       .groups = 3},
  };
}
}  // namespace

TEST_CASE(
    "conv2d equals the reference in NCHW and NHWC with strides, asymmetric padding, dilation and groups") {
  Rng rng(14);
  for (Conv2dParams p : conv_cases())
    for (Layout layout : {Layout::nchw, Layout::nhwc}) {
      p.layout = layout;
      const bool nchw = layout == Layout::nchw;
      CAPTURE(nchw);
      CAPTURE(p.in_channels);
      CAPTURE(p.groups);
      CAPTURE(p.stride_h);
      CAPTURE(p.dilation_h);
      const ComputeDag dag = conv2d(p).value();
      CHECK(stage_names(dag) ==
            (nchw ? std::vector<std::string>{"data", "pad_temp", "kernel", "compute"}
                  : std::vector<std::string>{"data", "PaddedInput", "kernel", "Conv2dOutput"}));
      const std::int64_t oh = p.out_height(), ow = p.out_width();
      CHECK(dag.flops() ==
            2 * p.batch * p.out_channels * oh * ow * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w);
      const Operation& conv = dag.op(3);
      CHECK(conv.shape() == (nchw ? std::vector<std::int64_t>{p.batch, p.out_channels, oh, ow}
                                  : std::vector<std::int64_t>{p.batch, oh, ow, p.out_channels}));
      std::vector<std::string> reduce_names;
      for (const Axis& a : conv.reduce_axes)
        reduce_names.push_back(a.name);
      CHECK(reduce_names ==
            (nchw ? std::vector<std::string>{"rc", "ry", "rx"} : std::vector<std::string>{"ry", "rx", "rc"}));
      const Run r = run(dag, rng);
      auto want = zeros(p.output_size());
      REQUIRE(reference::conv2d(r.inputs.at("data"), r.inputs.at("kernel"), want, p));
      check_close(r.output, want);
    }
}

TEST_CASE("depthwise_conv2d equals the reference with multipliers 1 and 2 in both layouts") {
  Rng rng(15);
  const std::vector<Conv2dParams> cases = {
      {.batch = 1,
       .in_channels = 3,
       .in_height = 7,
       .in_width = 7,
       .kernel_h = 3,
       .kernel_w = 3,
       .pad_top = 1,
       .pad_left = 1,
       .pad_bottom = 1,
       .pad_right = 1},
      {.batch = 2,
       .in_channels = 2,
       .in_height = 13,
       .in_width = 7,
       .kernel_h = 3,
       .kernel_w = 2,
       .stride_h = 2,
       .stride_w = 3,
       .pad_top = 2,
       .pad_left = 0,
       .pad_bottom = 0,
       .pad_right = 1},
      {.batch = 1,
       .in_channels = 1,
       .in_height = 7,
       .in_width = 5,
       .kernel_h = 2,
       .kernel_w = 3,
       .pad_top = 1,
       .pad_left = 2,
       .pad_bottom = 1,
       .pad_right = 2,
       .dilation_h = 3,
       .dilation_w = 2},
  };
  for (Conv2dParams p : cases)
    for (std::int64_t multiplier : {1, 2})
      for (Layout layout : {Layout::nchw, Layout::nhwc}) {
        p.layout = layout;
        const bool nchw = layout == Layout::nchw;
        CAPTURE(nchw);
        CAPTURE(multiplier);
        CAPTURE(p.in_channels);
        const ComputeDag dag = depthwise_conv2d(p, multiplier).value();
        CHECK(stage_names(dag) ==
              std::vector<std::string>{"data", "PaddedInput", "kernel", "DepthwiseConv2d"});
        Conv2dParams q = p;
        q.groups = p.in_channels;
        q.out_channels = p.in_channels * multiplier;
        const std::int64_t oh = q.out_height(), ow = q.out_width();
        CHECK(dag.flops() == 2 * p.batch * q.out_channels * oh * ow * p.kernel_h * p.kernel_w);
        CHECK(dag.op(2).shape() ==
              (nchw ? std::vector<std::int64_t>{p.in_channels, multiplier, p.kernel_h, p.kernel_w}
                    : std::vector<std::int64_t>{p.kernel_h, p.kernel_w, p.in_channels, multiplier}));
        const Run r = run(dag, rng);
        auto want = zeros(q.output_size());
        REQUIRE(reference::depthwise_conv2d(r.inputs.at("data"), r.inputs.at("kernel"), want, p, multiplier));
        check_close(r.output, want);
      }
}

TEST_CASE(
    "pool2d equals the reference: max and avg, with and without padding, count_include_pad, both layouts") {
  Rng rng(16);
  std::vector<Pool2dParams> cases = {
      {.batch = 1, .channels = 1, .in_height = 1, .in_width = 1},
      {.batch = 2,
       .channels = 3,
       .in_height = 7,
       .in_width = 13,
       .kernel_h = 3,
       .kernel_w = 3,
       .stride_h = 2,
       .stride_w = 2},
      {.batch = 1,
       .channels = 2,
       .in_height = 7,
       .in_width = 13,
       .kernel_h = 3,
       .kernel_w = 3,
       .stride_h = 2,
       .stride_w = 2,
       .pad_top = 1,
       .pad_left = 1,
       .pad_bottom = 1,
       .pad_right = 1},
      {.batch = 1,
       .channels = 2,
       .in_height = 13,
       .in_width = 7,
       .kernel_h = 3,
       .kernel_w = 2,
       .stride_h = 1,
       .stride_w = 3,
       .pad_top = 2,
       .pad_left = 0,
       .pad_bottom = 0,
       .pad_right = 1},
      {.batch = 1,
       .channels = 2,
       .in_height = 7,
       .in_width = 7,
       .kernel_h = 2,
       .kernel_w = 3,
       .pad_top = 1,
       .pad_left = 1,
       .pad_bottom = 1,
       .pad_right = 0,
       .dilation_h = 2,
       .dilation_w = 2},
  };
  for (Pool2dParams p : cases)
    for (PoolKind kind : {PoolKind::max, PoolKind::avg})
      for (bool include_pad : {true, false})
        for (Layout layout : {Layout::nchw, Layout::nhwc}) {
          if (kind == PoolKind::max && !include_pad) continue;  // count_include_pad only matters for avg
          if (!include_pad && (p.dilation_h != 1 || p.dilation_w != 1)) continue;
          p.kind = kind;
          p.count_include_pad = include_pad;
          p.layout = layout;
          const bool nchw = layout == Layout::nchw, avg = kind == PoolKind::avg;
          CAPTURE(nchw);
          CAPTURE(avg);
          CAPTURE(include_pad);
          CAPTURE(p.in_height);
          CAPTURE(p.pad_top);
          const ComputeDag dag = pool2d(p).value();
          const bool padded = p.pad_top + p.pad_left + p.pad_bottom + p.pad_right > 0;
          std::vector<std::string> names = {"data"};
          if (padded) names.push_back("pad_temp");
          names.push_back("tensor");
          if (avg) names.push_back("tensor");
          CHECK(stage_names(dag) == names);
          const Conv2dParams w = p.window();
          const std::int64_t outputs = p.batch * p.channels * w.out_height() * w.out_width();
          CHECK(dag.flops() == outputs * (p.kernel_h * p.kernel_w + (avg ? 1 : 0)));
          const Run r = run(dag, rng);
          auto want = zeros(p.output_size());
          REQUIRE(reference::pool2d(r.inputs.at("data"), want, p));
          check_close(r.output, want);
        }
}

TEST_CASE("unary equals the reference for all six operations") {
  Rng rng(17);
  for (const Shape& shape : std::vector<Shape>{{1}, {7}, {2, 13}, {1, 3, 1}})
    for (UnaryOp op :
         {UnaryOp::relu, UnaryOp::gelu, UnaryOp::tanh, UnaryOp::sigmoid, UnaryOp::exp, UnaryOp::negate}) {
      CAPTURE(to_string(op));
      CAPTURE(shape.size());
      const ComputeDag dag = unary(shape, op).value();
      CHECK(stage_names(dag) == std::vector<std::string>{"data", "compute"});
      CHECK(dag.op(1).shape() == shape);
      const Run r = run(dag, rng);
      auto want = zeros(reference::element_count(shape));
      REQUIRE(reference::unary(r.inputs.at("data"), want, op));
      check_close(r.output, want);
    }
  CHECK(unary({4, 5}, UnaryOp::relu)->flops() == 20);
  CHECK(unary({4, 5}, UnaryOp::negate)->flops() == 20);
  CHECK(unary({4, 5}, UnaryOp::sigmoid)->flops() == 4 * 20);  // 1 / (exp(0 - x) + 1)
  CHECK(unary({4, 5}, UnaryOp::exp)->workload_key() == R"(["crosstune.unary", "exp", [4, 5]])");
}

TEST_CASE("binary equals the reference for all six operations with NumPy broadcasting") {
  Rng rng(18);
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 1, 3}, {4, 3}}, {{4, 3}, {2, 1, 3}}, {{7}, {7}}, {{1}, {13}},
      {{2, 13, 1}, {1}},   {{3, 1}, {1, 5}},    {{1}, {1}},
  };
  for (const auto& shape_pair : shapes)
    for (BinaryOp op : {BinaryOp::add, BinaryOp::subtract, BinaryOp::multiply, BinaryOp::divide,
                        BinaryOp::maximum, BinaryOp::minimum}) {
      const Shape& a = shape_pair.first;
      const Shape& b = shape_pair.second;
      CAPTURE(to_string(op));
      CAPTURE(a.size());
      CAPTURE(b.size());
      const ComputeDag dag = binary(a, b, op).value();
      const Shape out_shape = reference::broadcast_shape(a, b).value();
      CHECK(stage_names(dag) == std::vector<std::string>{"A", "B", "T_" + std::string(to_string(op))});
      CHECK(dag.op(2).shape() == out_shape);
      CHECK(dag.flops() == reference::element_count(out_shape));
      Run r = run(dag, rng);
      if (op == BinaryOp::divide) {  // keep divisors away from 0: evaluate again on |B| + 0.5
        for (auto& x : r.inputs.at("B"))
          x = std::abs(x) + 0.5f;
        auto out = evaluate(dag, std::vector<std::vector<float>>{r.inputs.at("A"), r.inputs.at("B")});
        REQUIRE(out);
        r.output = (*out)[0];
      }
      auto want = zeros(reference::element_count(out_shape));
      REQUIRE(reference::binary(r.inputs.at("A"), a, r.inputs.at("B"), b, want, op));
      check_close(r.output, want);
    }
}

TEST_CASE("reduce equals the reference for sum, max, min and mean, negative axes, keepdims and scalars") {
  Rng rng(19);
  struct Case {
    Shape shape;
    std::vector<std::int64_t> axes;
  };
  const std::vector<Case> cases = {
      {{2, 7, 3}, {-1}},    {{2, 7, 3}, {0, 2}},
      {{2, 7, 3}, {-2, 0}}, {{2, 7, 3}, {1, -2}},  // 1 and -2 are one axis
      {{13}, {0}},          {{2, 3}, {0, 1}},
      {{1, 5, 1}, {2}},     {{7, 1}, {-2}},
  };
  for (const Case& c : cases)
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::max, ReduceOp::min, ReduceOp::mean})
      for (bool keepdims : {false, true}) {
        CAPTURE(to_string(op));
        CAPTURE(keepdims);
        CAPTURE(c.shape.size());
        CAPTURE(c.axes.size());
        const ComputeDag dag = reduce(c.shape, c.axes, keepdims, op).value();
        // The reference takes sorted, non-negative, distinct axes.
        std::vector<std::int64_t> axes;
        for (auto a : c.axes)
          axes.push_back(a < 0 ? a + static_cast<std::int64_t>(c.shape.size()) : a);
        std::sort(axes.begin(), axes.end());
        axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
        const Shape out_shape = reference::reduce_shape(c.shape, axes, keepdims).value();
        std::vector<std::string> names = {"data", "data_red"};
        if (op == ReduceOp::mean) names.push_back("T_divide");
        CHECK(stage_names(dag) == names);
        CHECK(dag.op(dag.size() - 1).shape() == out_shape);
        std::vector<std::string> reduce_names;
        for (const Axis& a : dag.op(1).reduce_axes)
          reduce_names.push_back(a.name);
        std::vector<std::string> want_names;
        for (auto a : axes)
          want_names.push_back(
              std::string("k").append(std::to_string(a)));  // not "k" + ...: GCC 12 -Wrestrict
        CHECK(reduce_names == want_names);
        const std::int64_t outputs = reference::element_count(out_shape);
        CHECK(dag.flops() == reference::element_count(c.shape) + (op == ReduceOp::mean ? outputs : 0));
        const Run r = run(dag, rng);
        auto want = zeros(outputs);
        REQUIRE(reference::reduce(r.inputs.at("data"), c.shape, axes, keepdims, want, op));
        check_close(r.output, want);
      }
  // Reducing every axis without keepdims leaves a rank-0 tensor.
  const ComputeDag scalar = reduce({2, 3}, {0, 1}, false, ReduceOp::sum).value();
  CHECK(scalar.op(1).rank() == 0);
  CHECK(reduce({2, 3}, {0, 1}, true, ReduceOp::sum)->op(1).shape() == Shape{1, 1});
}

TEST_CASE("softmax equals the reference along the last, the first and a middle axis") {
  Rng rng(20);
  struct Case {
    Shape shape;
    std::int64_t axis;
  };
  for (const Case& c : std::vector<Case>{{{7}, 0},
                                         {{7}, -1},
                                         {{1}, 0},
                                         {{2, 13, 3}, 1},
                                         {{2, 13, 3}, -1},
                                         {{2, 13, 3}, 0},
                                         {{3, 1, 5}, -2}}) {
    CAPTURE(c.shape.size());
    CAPTURE(c.axis);
    const ComputeDag dag = softmax(c.shape, c.axis).value();
    CHECK(stage_names(dag) == std::vector<std::string>{"data", "T_softmax_maxelem", "T_softmax_exp",
                                                       "T_softmax_expsum", "T_softmax_norm"});
    const std::int64_t axis = c.axis < 0 ? c.axis + static_cast<std::int64_t>(c.shape.size()) : c.axis;
    const std::int64_t n = reference::element_count(c.shape);
    // max: one combine per element; exp: a subtract and an exp; expsum: one add; norm: one divide.
    CHECK(dag.flops() == n * 5);
    const Run r = run(dag, rng);
    auto want = zeros(n);
    REQUIRE(reference::softmax(r.inputs.at("data"), c.shape, axis, want));
    check_close(r.output, want);
  }
  CHECK(softmax({2, 3}, -1)->workload_key() == R"(["crosstune.softmax", [2, 3], 1])");
}

TEST_CASE("bad parameters are invalid_argument errors that name the operator") {
  check_error(matmul(0, 1, 1), "matmul");
  check_error(matmul(1, 1, -3), "matmul");
  check_error(dense(1, 0, 1, false), "dense");
  check_error(batch_matmul(3, 2, 1, 1, 1), "batch_matmul");
  check_error(batch_matmul(1, 1, 0, 1, 1), "batch_matmul");
  Conv2dParams p{.batch = 1, .in_channels = 4, .in_height = 5, .in_width = 5, .out_channels = 6, .groups = 4};
  check_error(conv2d(p), "conv2d");  // 4 groups do not divide 6 output channels
  p.groups = 1;
  p.kernel_h = 7;
  check_error(conv2d(p), "conv2d");  // larger than the input
  p.kernel_h = 1;
  p.pad_top = -1;
  check_error(conv2d(p), "conv2d");
  p.pad_top = 0;
  p.stride_w = 0;
  check_error(conv2d(p), "conv2d");
  p.stride_w = 1;
  check_error(depthwise_conv2d(p, 0), "depthwise_conv2d");
  p.in_height = 0;
  check_error(depthwise_conv2d(p, 1), "depthwise_conv2d");
  Pool2dParams q{
      .batch = 1, .channels = 2, .in_height = 5, .in_width = 5, .kernel_h = 2, .kernel_w = 2, .pad_top = 2};
  check_error(pool2d(q), "pool2d");  // padding as large as the window
  q.pad_top = 1;
  q.count_include_pad = false;
  q.dilation_w = 2;
  check_error(pool2d(q), "pool2d");
  q.dilation_w = 1;
  q.kernel_w = 9;
  check_error(pool2d(q), "pool2d");
  // A dilated window can miss the input altogether even with padding smaller than it.
  const Pool2dParams hole{.kind = PoolKind::max,
                          .in_height = 1,
                          .in_width = 3,
                          .kernel_h = 2,
                          .kernel_w = 1,
                          .pad_top = 1,
                          .pad_bottom = 1,
                          .dilation_h = 2};
  check_error(pool2d(hole), "pool2d");
  check_error(unary({}, UnaryOp::relu), "unary");
  check_error(unary({3, 0}, UnaryOp::exp), "unary");
  check_error(binary({2, 3}, {4}, BinaryOp::add), "binary");
  check_error(binary({2, 3}, {}, BinaryOp::add), "binary");
  check_error(reduce({2, 3}, {2}, false, ReduceOp::sum), "reduce");
  check_error(reduce({2, 3}, {-3}, false, ReduceOp::sum), "reduce");
  check_error(reduce({2, 3}, {}, false, ReduceOp::sum), "reduce");
  check_error(reduce({}, {0}, false, ReduceOp::sum), "reduce");
  check_error(softmax({2, 3}, 2), "softmax");
  check_error(softmax({2, 3}, -3), "softmax");
  check_error(softmax({0}, 0), "softmax");
}

TEST_CASE("the enumerations have the names keys use") {
  CHECK(to_string(Activation::none) == "none");
  CHECK(to_string(Activation::relu) == "relu");
  CHECK(to_string(Activation::gelu) == "gelu");
  CHECK(to_string(UnaryOp::sigmoid) == "sigmoid");
  CHECK(to_string(UnaryOp::negate) == "negate");
  CHECK(to_string(BinaryOp::subtract) == "subtract");
  CHECK(to_string(BinaryOp::minimum) == "minimum");
  CHECK(to_string(ReduceOp::mean) == "mean");
  CHECK(to_string(PoolKind::max) == "max");
  CHECK(to_string(PoolKind::avg) == "avg");
}

TEST_CASE("an operation too large for int64 counts is refused") {
  auto huge = matmul(2147483647, 2147483647, 2147483647);
  REQUIRE_FALSE(huge.has_value());
  CHECK(huge.error().message.find("more than 2^60 iterations") != std::string::npos);
  CHECK(matmul(1 << 20, 1 << 10, 1 << 20).has_value());  // 2^50: fine
}
