// DAGs rebuilt from workload keys: the named families of the public logs, with the stages, iterators and
// FLOPs docs/notes/tenset-workloads.md section 2 gives, crosstune's own keys round-tripped through every
// builder, the errors, and rebuilt DAGs evaluated against ir/reference.hpp.
#include "crosstune/ir/workloads.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "crosstune/core/rng.hpp"
#include "crosstune/ir/evaluate.hpp"
#include "crosstune/ir/reference.hpp"
#include "test_support.hpp"
#include "operator_cases.hpp"

using namespace crosstune;
using namespace crosstune::ir;

namespace {
using crosstune::test::stage_names;
std::vector<Axis> axes(std::initializer_list<Axis> list) {
  return list;
}
using crosstune::test::contains;

ComputeDag from_key(const std::string& key) {
  auto dag = dag_from_workload_key(key);
  REQUIRE_MESSAGE(dag, (dag ? std::string() : dag.error().message));
  CHECK(dag->workload_key() == key);
  return std::move(dag).value();
}
void check_refused(const std::string& key, ErrorKind kind) {
  auto dag = dag_from_workload_key(key);
  REQUIRE_FALSE(dag);
  CHECK_MESSAGE(dag.error().kind == kind, std::string(key).append(" -> ").append(dag.error().message));
}

using crosstune::test::random_values;
/// Random values for every placeholder, in stage order.
std::vector<std::vector<float>> random_inputs(const ComputeDag& dag, Rng& rng) {
  std::vector<std::vector<float>> inputs;
  for (std::int32_t id : dag.inputs())
    inputs.push_back(random_values(dag.op(static_cast<std::size_t>(dag.find(id))).element_count(), rng));
  return inputs;
}
std::vector<float> evaluated(const ComputeDag& dag, const std::vector<std::vector<float>>& inputs) {
  auto out = evaluate(dag, inputs);
  REQUIRE_MESSAGE(out, (out ? std::string() : out.error().message));
  return (*out)[0];
}
using crosstune::test::check_close;
}  // namespace

TEST_CASE("conv2d_layer: data, pad_temp, kernel, compute with TVM's SAME padding, as the logs show") {
  const ComputeDag dag = from_key(R"(["conv2d_layer", 128, 128, 28, 28, 128, 3, 3, 1, "SAME"])");
  CHECK(stage_names(dag) == std::vector<std::string>{"data", "pad_temp", "kernel", "compute"});
  CHECK(dag.op(0).placeholder);
  CHECK(dag.op(0).shape() == std::vector<std::int64_t>{128, 128, 28, 28});
  CHECK(dag.op(1).axes == axes({{"i0", 128}, {"i1", 128}, {"i2", 30}, {"i3", 30}}));
  CHECK(dag.op(2).shape() == std::vector<std::int64_t>{128, 128, 3, 3});
  CHECK(dag.op(3).axes == axes({{"nn", 128}, {"ff", 128}, {"yy", 28}, {"xx", 28}}));
  CHECK(dag.op(3).reduce_axes == axes({{"rc", 128}, {"ry", 3}, {"rx", 3}}));
  CHECK(dag.op(3).reduce == ReduceKind::sum);
  CHECK(dag.op(1).flops() == 0);  // the padding select counts nothing
  CHECK(dag.flops() == 29595009024);
  CHECK(dag.outputs().size() == 1);
  CHECK(dag.outputs()[0] == dag.op(3).id);
  // VALID still has a pad_temp stage (topi.nn.pad always makes one), with stride 2: OH = (28 - 3) / 2 + 1
  // = 13.
  const ComputeDag valid = from_key(R"(["conv2d_layer", 1, 16, 28, 28, 32, 3, 3, 2, "VALID"])");
  CHECK(stage_names(valid) == std::vector<std::string>{"data", "pad_temp", "kernel", "compute"});
  CHECK(valid.op(1).axes == axes({{"i0", 1}, {"i1", 16}, {"i2", 28}, {"i3", 28}}));
  CHECK(valid.op(3).axes == axes({{"nn", 1}, {"ff", 32}, {"yy", 13}, {"xx", 13}}));
  CHECK(valid.flops() == 2LL * 32 * 13 * 13 * 16 * 9);
  // SAME pads K-1 whatever the stride, the top (left) getting the larger half: K = 4 pads 2 above, 1 below.
  const ComputeDag even = from_key(R"(["conv2d_layer", 1, 2, 9, 9, 2, 4, 2, 2, "SAME"])");
  CHECK(even.op(1).axes == axes({{"i0", 1}, {"i1", 2}, {"i2", 12}, {"i3", 10}}));
  CHECK(even.op(3).axes == axes({{"nn", 1}, {"ff", 2}, {"yy", 5}, {"xx", 5}}));
  // An integer padding pads that much on every side.
  const ComputeDag two = from_key(R"(["conv2d_layer", 1, 2, 9, 9, 2, 3, 3, 1, 2])");
  CHECK(two.op(1).axes == axes({{"i0", 1}, {"i1", 2}, {"i2", 13}, {"i3", 13}}));
  CHECK(two.op(3).axes == axes({{"nn", 1}, {"ff", 2}, {"yy", 11}, {"xx", 11}}));
}

TEST_CASE("conv2d_layer in the TVM tutorial form adds a bias and a ReLU: 7 stages") {
  const ComputeDag dag = from_key(R"(["conv2d_layer", 1, 7, 7, 512, 512, 3, 3, [1, 1], [1, 1]])");
  CHECK(stage_names(dag) ==
        std::vector<std::string>{"data", "pad_temp", "kernel", "compute", "bias", "T_add", "compute"});
  CHECK(dag.op(0).shape() == std::vector<std::int64_t>{1, 512, 7, 7});
  CHECK(dag.op(1).axes == axes({{"i0", 1}, {"i1", 512}, {"i2", 9}, {"i3", 9}}));
  CHECK(dag.op(2).shape() == std::vector<std::int64_t>{512, 512, 3, 3});
  CHECK(dag.op(3).axes == axes({{"nn", 1}, {"ff", 512}, {"yy", 7}, {"xx", 7}}));
  CHECK(dag.op(3).reduce_axes == axes({{"rc", 512}, {"ry", 3}, {"rx", 3}}));
  CHECK(dag.op(4).shape() == std::vector<std::int64_t>{1, 512, 1, 1});
  CHECK(dag.op(5).axes == axes({{"ax0", 1}, {"ax1", 512}, {"ax2", 7}, {"ax3", 7}}));
  CHECK(dag.op(6).axes == axes({{"i0", 1}, {"i1", 512}, {"i2", 7}, {"i3", 7}}));
  const std::int64_t outputs = 512 * 7 * 7;
  CHECK(dag.flops() == 2 * outputs * 512 * 9 + outputs + outputs);
  CHECK(dag.outputs()[0] == dag.op(6).id);
}

TEST_CASE("matmul_layer: A, B, compute(x, y; k) with 2·M·N·K FLOPs") {
  const ComputeDag dag = from_key(R"(["matmul_layer", 128, 4032, 1000])");
  CHECK(stage_names(dag) == std::vector<std::string>{"A", "B", "compute"});
  CHECK(dag.op(0).shape() == std::vector<std::int64_t>{128, 4032});
  CHECK(dag.op(1).shape() == std::vector<std::int64_t>{4032, 1000});
  CHECK(dag.op(2).axes == axes({{"x", 128}, {"y", 1000}}));
  CHECK(dag.op(2).reduce_axes == axes({{"k", 4032}}));
  CHECK(dag.flops() == 1032192000);
  CHECK(dag.bytes() == (128 * 4032 + 4032 * 1000 + 128 * 1000) * 4);
}

TEST_CASE("depthwise_conv2d_layer: data, PaddedInput, kernel, DepthwiseConv2d") {
  const ComputeDag dag = from_key(R"(["depthwise_conv2d_layer", 128, 168, 42, 42, 3, 3, 1, "SAME"])");
  CHECK(stage_names(dag) == std::vector<std::string>{"data", "PaddedInput", "kernel", "DepthwiseConv2d"});
  CHECK(dag.op(1).axes == axes({{"i0", 128}, {"i1", 168}, {"i2", 44}, {"i3", 44}}));
  CHECK(dag.op(2).shape() == std::vector<std::int64_t>{168, 1, 3, 3});
  CHECK(dag.op(3).axes == axes({{"b", 128}, {"c", 168}, {"i", 42}, {"j", 42}}));
  CHECK(dag.op(3).reduce_axes == axes({{"di", 3}, {"dj", 3}}));
  CHECK(dag.flops() == 682795008);
  // Stride 2 with a 5x5 kernel: SAME pads 4 (2 and 2), OH = (83 + 4 - 5) / 2 + 1 = 42.
  const ComputeDag strided = from_key(R"(["depthwise_conv2d_layer", 128, 84, 83, 83, 5, 5, 2, "SAME"])");
  CHECK(strided.op(1).axes == axes({{"i0", 128}, {"i1", 84}, {"i2", 87}, {"i3", 87}}));
  CHECK(strided.op(3).axes == axes({{"b", 128}, {"c", 84}, {"i", 42}, {"j", 42}}));
  CHECK(strided.op(3).reduce_axes == axes({{"di", 5}, {"dj", 5}}));
  CHECK(strided.flops() == 2LL * 128 * 84 * 42 * 42 * 25);
}

TEST_CASE("relu_layer: data and compute over any rank, one FLOP per element") {
  const ComputeDag dag = from_key(R"(["relu_layer", 128, 128, 28, 28])");
  CHECK(stage_names(dag) == std::vector<std::string>{"data", "compute"});
  CHECK(dag.op(1).axes == axes({{"i0", 128}, {"i1", 128}, {"i2", 28}, {"i3", 28}}));
  CHECK(dag.flops() == 128 * 128 * 28 * 28);
  const ComputeDag flat = from_key(R"(["relu_layer", 1024, 1024])");
  CHECK(flat.op(1).axes == axes({{"i0", 1024}, {"i1", 1024}}));
  CHECK(flat.flops() == 1024 * 1024);
}

TEST_CASE("pool_layer: avg with SAME has data, pad_temp and two stages named tensor") {
  const ComputeDag dag = from_key(R"(["pool_layer", "avg", 128, 336, 42, 42, 3, 3, 2, "SAME"])");
  CHECK(stage_names(dag) == std::vector<std::string>{"data", "pad_temp", "tensor", "tensor"});
  CHECK(dag.op(1).axes == axes({{"ax0", 128}, {"ax1", 336}, {"ax2", 44}, {"ax3", 44}}));
  CHECK(dag.op(2).axes == axes({{"ax0", 128}, {"ax1", 336}, {"ax2", 21}, {"ax3", 21}}));
  CHECK(dag.op(2).reduce_axes == axes({{"rv0", 3}, {"rv1", 3}}));
  CHECK(dag.op(2).reduce == ReduceKind::sum);
  CHECK(dag.op(3).axes == axes({{"ax0", 128}, {"ax1", 336}, {"ax2", 21}, {"ax3", 21}}));
  CHECK(dag.op(3).reduce_axes.empty());
  CHECK(dag.op(2).element_count() == 18966528);
  CHECK(dag.flops() == 189665280);
  // Max pooling: one stage "tensor", and no pad_temp without padding.
  const ComputeDag max_valid = from_key(R"(["pool_layer", "max", 2, 3, 9, 9, 3, 3, 2, "VALID"])");
  CHECK(stage_names(max_valid) == std::vector<std::string>{"data", "tensor"});
  CHECK(max_valid.op(1).reduce == ReduceKind::max);
  CHECK(max_valid.flops() == 2 * 3 * 4 * 4 * 9);
  const ComputeDag max_same = from_key(R"(["pool_layer", "max", 2, 3, 9, 9, 3, 3, 2, "SAME"])");
  CHECK(stage_names(max_same) == std::vector<std::string>{"data", "pad_temp", "tensor"});
  const ComputeDag avg_valid = from_key(R"(["pool_layer", "avg", 2, 3, 9, 9, 3, 3, 2, "VALID"])");
  CHECK(stage_names(avg_valid) == std::vector<std::string>{"data", "tensor", "tensor"});
}

TEST_CASE("reduction_layer: data and data_red, reduce axes named after their dimension") {
  const ComputeDag dag = from_key(R"(["reduction_layer", [128, 4032, 11, 11], [2, 3], false])");
  CHECK(stage_names(dag) == std::vector<std::string>{"data", "data_red"});
  CHECK(dag.op(1).axes == axes({{"ax0", 128}, {"ax1", 4032}}));
  CHECK(dag.op(1).reduce_axes == axes({{"k2", 11}, {"k3", 11}}));
  CHECK(dag.flops() == 62447616);
  const ComputeDag kept = from_key(R"(["reduction_layer", [128, 4032, 11, 11], [2, 3], true])");
  CHECK(kept.op(1).axes == axes({{"ax0", 128}, {"ax1", 4032}, {"ax2", 1}, {"ax3", 1}}));
  CHECK(kept.op(1).reduce_axes == axes({{"k2", 11}, {"k3", 11}}));
  CHECK(kept.flops() == 62447616);
  // A single integer axis, negative.
  const ComputeDag last = from_key(R"(["reduction_layer", [4, 6], -1, false])");
  CHECK(last.op(1).axes == axes({{"ax0", 4}}));
  CHECK(last.op(1).reduce_axes == axes({{"k1", 6}}));
}

TEST_CASE("matmul_add: A, B, matmul, C, out, with 2·N·L·M + N·M FLOPs") {
  const ComputeDag dag = from_key(R"(["matmul_add", 1024, 1024, 1024, "float32"])");
  CHECK(stage_names(dag) == std::vector<std::string>{"A", "B", "matmul", "C", "out"});
  CHECK(dag.op(2).axes == axes({{"i", 1024}, {"j", 1024}}));
  CHECK(dag.op(2).reduce_axes == axes({{"k", 1024}}));
  CHECK(dag.op(3).placeholder);
  CHECK(dag.op(4).axes == axes({{"i", 1024}, {"j", 1024}}));
  CHECK(dag.flops() == 2LL * 1024 * 1024 * 1024 + 1024 * 1024);
  const ComputeDag small = from_key(R"(["matmul_add", 3, 5, 7])");
  CHECK(small.op(0).shape() == std::vector<std::int64_t>{3, 5});
  CHECK(small.op(1).shape() == std::vector<std::int64_t>{5, 7});
  CHECK(small.op(3).shape() == std::vector<std::int64_t>{3, 7});
  check_refused(R"(["matmul_add", 4, 4, 4, "float16"])", ErrorKind::unsupported);
}

TEST_CASE("every crosstune builder's key rebuilds a DAG with the same key, stages and FLOPs") {
  std::vector<ComputeDag> dags;
  auto add = [&](Expected<ComputeDag> dag) {
    REQUIRE(dag);
    dags.push_back(std::move(dag).value());
  };
  add(matmul(7, 13, 5));
  for (bool bias : {false, true})
    for (Activation act : {Activation::none, Activation::relu, Activation::gelu})
      add(dense(3, 5, 7, bias, act));
  add(batch_matmul(3, 1, 5, 7, 2, true));
  add(batch_matmul(1, 4, 5, 7, 2, false));
  for (Layout layout : {Layout::nchw, Layout::nhwc}) {
    add(conv2d({.batch = 2,
                .in_channels = 4,
                .in_height = 13,
                .in_width = 7,
                .out_channels = 6,
                .kernel_h = 3,
                .kernel_w = 2,
                .stride_h = 2,
                .stride_w = 1,
                .pad_top = 1,
                .pad_left = 0,
                .pad_bottom = 2,
                .pad_right = 1,
                .dilation_h = 2,
                .dilation_w = 1,
                .groups = 2,
                .layout = layout}));
    add(depthwise_conv2d({.batch = 1,
                          .in_channels = 3,
                          .in_height = 7,
                          .in_width = 7,
                          .kernel_h = 3,
                          .kernel_w = 3,
                          .stride_h = 2,
                          .stride_w = 2,
                          .pad_top = 1,
                          .pad_left = 1,
                          .pad_bottom = 1,
                          .pad_right = 1,
                          .layout = layout},
                         2));
    for (PoolKind kind : {PoolKind::max, PoolKind::avg})
      for (bool include_pad : {true, false})
        add(pool2d({.kind = kind,
                    .batch = 1,
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
                    .pad_right = 1,
                    .count_include_pad = include_pad,
                    .layout = layout}));
  }
  for (UnaryOp op :
       {UnaryOp::relu, UnaryOp::gelu, UnaryOp::tanh, UnaryOp::sigmoid, UnaryOp::exp, UnaryOp::negate})
    add(unary({2, 7}, op));
  for (BinaryOp op : {BinaryOp::add, BinaryOp::subtract, BinaryOp::multiply, BinaryOp::divide,
                      BinaryOp::maximum, BinaryOp::minimum})
    add(binary({2, 1, 3}, {4, 3}, op));
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::max, ReduceOp::min, ReduceOp::mean}) {
    add(reduce({2, 7, 3}, {-1, 0}, false, op));
    add(reduce({13}, {0}, true, op));
  }
  add(softmax({2, 13, 3}, -2));
  add(softmax({7}, 0));
  for (const ComputeDag& dag : dags) {
    const std::string key = dag.workload_key();
    CAPTURE(key);
    auto again = dag_from_workload_key(key);
    REQUIRE_MESSAGE(again, (again ? std::string() : again.error().message));
    CHECK(again->workload_key() == key);
    CHECK(stage_names(*again) == stage_names(dag));
    CHECK(again->flops() == dag.flops());
    CHECK(again->bytes() == dag.bytes());
    for (std::size_t s = 0; s < dag.size(); ++s) {
      CHECK(again->op(s).axes == dag.op(s).axes);
      CHECK(again->op(s).reduce_axes == dag.op(s).reduce_axes);
    }
    const std::string family = workload_family(key);
    CHECK((family == "matmul_layer" || family.starts_with("crosstune.")));
  }
}

TEST_CASE("hashed keys and unknown names are unsupported") {
  check_refused(R"(["f3351bf9aef587a2fb1bf57b0fc78601", [128, 512], [512, 256], [128, 256]])",
                ErrorKind::unsupported);
  check_refused(R"(["winograd_layer", 1, 2, 3])", ErrorKind::unsupported);
  check_refused(R"(["crosstune.winograd", 1, 2, 3])", ErrorKind::unsupported);
  check_refused(R"(["crosstune.", 1])", ErrorKind::unsupported);
  auto hashed = dag_from_workload_key(R"(["f3351bf9aef587a2fb1bf57b0fc78601", [128, 512]])");
  REQUIRE_FALSE(hashed);
  CHECK(contains(hashed.error().message, "hash"));
  CHECK_FALSE(hashed.error().hint.empty());
}

TEST_CASE("wrong argument counts and types are schema errors") {
  check_refused(R"(["matmul_layer", 128, 4032])", ErrorKind::schema);
  check_refused(R"(["matmul_layer", 128, "4032", 1000])", ErrorKind::schema);
  check_refused(R"(["matmul_layer", 128, 4032, 1000, 1])", ErrorKind::schema);
  check_refused(R"(["matmul_add", 4, 4])", ErrorKind::schema);
  check_refused(R"(["matmul_add", 4, 4, 4, 32])", ErrorKind::schema);
  check_refused(R"(["conv2d_layer", 128, 128, 28, 28, 128, 3, 3, 1])", ErrorKind::schema);
  check_refused(R"(["conv2d_layer", 128, 128, 28, 28, 128, 3, 3, 1, "FULL"])", ErrorKind::schema);
  check_refused(R"(["conv2d_layer", 128, 128, 28, 28, 128, 3, 3, "1", "SAME"])", ErrorKind::schema);
  check_refused(R"(["conv2d_layer", 1, 4, 5, 5, 4, 7, 7, 1, "VALID"])",
                ErrorKind::schema);  // kernel too large
  check_refused(R"(["conv2d_layer", 1, 7, 7, 512, 512, 3, 3, [1, 1], [1, 1, 1]])", ErrorKind::schema);
  check_refused(R"(["conv2d_layer", 1, 7, 7, 512, 512, 3, 3, [1, 1], ["a", "b"]])", ErrorKind::schema);
  check_refused(R"(["conv2d_layer", 1, 7, 7, 512, 512, 3, 3, [1, "x"], [1, 1]])", ErrorKind::schema);
  check_refused(R"(["depthwise_conv2d_layer", 128, 168, 42, 42, 3, 3, 1])", ErrorKind::schema);
  check_refused(R"(["relu_layer"])", ErrorKind::schema);
  check_refused(R"(["relu_layer", 4, "x"])", ErrorKind::schema);
  check_refused(R"(["pool_layer", "sum", 128, 336, 42, 42, 3, 3, 2, "SAME"])", ErrorKind::schema);
  check_refused(R"(["pool_layer", 1, 128, 336, 42, 42, 3, 3, 2, "SAME"])", ErrorKind::schema);
  check_refused(R"(["pool_layer", "avg", 128, 336, 42, 42, 3, 3, 2])", ErrorKind::schema);
  check_refused(R"(["reduction_layer", [128, 4032, 11, 11], [2, 3]])", ErrorKind::schema);
  check_refused(R"(["reduction_layer", [128, "a"], [1], false])", ErrorKind::schema);
  check_refused(R"(["reduction_layer", [128, 4], "1", false])", ErrorKind::schema);
  check_refused(R"(["crosstune.dense", 3, 5, 7, true])", ErrorKind::schema);
  check_refused(R"(["crosstune.dense", 3, 5, 7, true, "swish"])", ErrorKind::schema);
  check_refused(R"(["crosstune.conv2d", "NCWH", 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1])",
                ErrorKind::schema);
  check_refused(R"(["crosstune.unary", "cube", [4]])", ErrorKind::schema);
  check_refused(R"(["crosstune.binary", "add", [4], "x"])", ErrorKind::schema);
  check_refused(R"(["crosstune.reduce", "prod", [4], [0], false])", ErrorKind::schema);
  check_refused(R"(["crosstune.softmax", [4]])", ErrorKind::schema);
}

TEST_CASE("a crosstune key written differently from the way its builder writes it is refused") {
  const std::string canonical = R"(["crosstune.softmax", [2, 3], 1])";
  CHECK(dag_from_workload_key(canonical));
  check_refused(R"(["crosstune.softmax",  [2, 3], 1])", ErrorKind::schema);
  check_refused(R"(["crosstune.softmax", [2,3], 1])", ErrorKind::schema);
  check_refused(R"(["crosstune.softmax", [2, 3], -1])",
                ErrorKind::schema);                                       // the builder writes the axis as 1
  check_refused(R"(["crosstune.unary", "relu", 4])", ErrorKind::schema);  // a shape is always a list
  check_refused(R"(["crosstune.dense", 3, 5, 7, 1, "none"])", ErrorKind::schema);
  auto spaced = dag_from_workload_key(R"(["crosstune.dense", 3, 5, 7,  true, "none"])");
  REQUIRE_FALSE(spaced);
  CHECK(contains(spaced.error().message, R"(["crosstune.dense", 3, 5, 7, true, "none"])"));
}

TEST_CASE("bad sizes in a key are schema errors naming the key, and malformed JSON is a parse error") {
  check_refused(R"(["matmul_layer", 0, 4, 4])", ErrorKind::schema);
  check_refused(R"(["relu_layer", 4, 0])", ErrorKind::schema);
  check_refused(R"(["reduction_layer", [4, 6], [2], false])", ErrorKind::schema);
  check_refused(R"(["pool_layer", "avg", 1, 1, 4, 4, 5, 5, 1, "VALID"])", ErrorKind::schema);
  check_refused(R"(["crosstune.dense", 0, 5, 7, true, "none"])", ErrorKind::schema);
  check_refused(R"(["crosstune.batch_matmul", 3, 2, 4, 4, 4, true])", ErrorKind::schema);
  check_refused(R"(["crosstune.softmax", [2, 3], 5])", ErrorKind::schema);
  check_refused(R"(["matmul_add", 0, 4, 4])", ErrorKind::schema);
  auto zero = dag_from_workload_key(R"(["matmul_layer", 0, 4, 4])");
  REQUIRE_FALSE(zero);
  CHECK(contains(zero.error().message, R"(["matmul_layer", 0, 4, 4])"));
  CHECK(contains(zero.error().message, "matmul"));
  check_refused(R"(["matmul_layer", 128, 4032)", ErrorKind::parse);
  CHECK_FALSE(dag_from_workload_key("matmul_layer"));
  CHECK_FALSE(dag_from_workload_key(""));
}

TEST_CASE("workload_family names the family, or nothing for a hash or a malformed key") {
  CHECK(workload_family(R"(["matmul_layer", 128, 4032, 1000])") == "matmul_layer");
  CHECK(workload_family(R"(["conv2d_layer", 1, 7, 7, 512, 512, 3, 3, [1, 1], [1, 1]])") == "conv2d_layer");
  CHECK(workload_family(R"(["crosstune.conv2d", "NCHW"])") == "crosstune.conv2d");
  CHECK(workload_family(R"(["anything_else"])") == "anything_else");
  CHECK(workload_family(R"(["f3351bf9aef587a2fb1bf57b0fc78601", [128, 512]])").empty());
  CHECK(workload_family("not a key").empty());
  CHECK(workload_family("").empty());
}

TEST_CASE("a conv2d_layer rebuilt from a SAME, stride-2 key equals the reference with TVM's pads") {
  Rng rng(31);
  // KH = 4: total 3, top 2, bottom 1; KW = 3: total 2, 1 and 1.
  const ComputeDag dag = from_key(R"(["conv2d_layer", 2, 3, 9, 7, 4, 4, 3, 2, "SAME"])");
  const auto inputs = random_inputs(dag, rng);  // data, kernel
  reference::Conv2dParams p{.batch = 2,
                            .in_channels = 3,
                            .in_height = 9,
                            .in_width = 7,
                            .out_channels = 4,
                            .kernel_h = 4,
                            .kernel_w = 3,
                            .stride_h = 2,
                            .stride_w = 2,
                            .pad_top = 2,
                            .pad_left = 1,
                            .pad_bottom = 1,
                            .pad_right = 1};
  CHECK(dag.op(3).shape() == std::vector<std::int64_t>{2, 4, p.out_height(), p.out_width()});
  std::vector<float> want(static_cast<std::size_t>(p.output_size()));
  REQUIRE(reference::conv2d(inputs[0], inputs[1], want, p));
  check_close(evaluated(dag, inputs), want);
}

TEST_CASE("the tutorial conv2d_layer rebuilt from its key is relu(conv2d + bias)") {
  Rng rng(32);
  const ComputeDag dag = from_key(R"(["conv2d_layer", 1, 5, 6, 4, 3, 3, 3, [2, 1], [1, 0]])");
  const auto inputs = random_inputs(dag, rng);  // data, kernel, bias
  reference::Conv2dParams p{.batch = 1,
                            .in_channels = 3,
                            .in_height = 5,
                            .in_width = 6,
                            .out_channels = 4,
                            .kernel_h = 3,
                            .kernel_w = 3,
                            .stride_h = 2,
                            .stride_w = 1,
                            .pad_top = 1,
                            .pad_left = 0,
                            .pad_bottom = 1,
                            .pad_right = 0};
  std::vector<float> want(static_cast<std::size_t>(p.output_size()));
  REQUIRE(reference::conv2d(inputs[0], inputs[1], want, p));
  const std::int64_t plane = p.out_height() * p.out_width();
  for (std::size_t i = 0; i < want.size(); ++i)
    want[i] = std::max(0.0f, want[i] + inputs[2][i / static_cast<std::size_t>(plane)]);
  check_close(evaluated(dag, inputs), want);
}

TEST_CASE("depthwise, pool, reduction and matmul_add keys evaluate like the reference") {
  Rng rng(33);
  {
    const ComputeDag dag = from_key(R"(["depthwise_conv2d_layer", 1, 3, 8, 7, 4, 3, 2, "SAME"])");
    const auto inputs = random_inputs(dag, rng);
    reference::Conv2dParams p{.batch = 1,
                              .in_channels = 3,
                              .in_height = 8,
                              .in_width = 7,
                              .kernel_h = 4,
                              .kernel_w = 3,
                              .stride_h = 2,
                              .stride_w = 2,
                              .pad_top = 2,
                              .pad_left = 1,
                              .pad_bottom = 1,
                              .pad_right = 1};
    std::vector<float> want(
        static_cast<std::size_t>(p.batch * p.in_channels * p.out_height() * p.out_width()));
    REQUIRE(reference::depthwise_conv2d(inputs[0], inputs[1], want, p));
    check_close(evaluated(dag, inputs), want);
  }
  for (const char* kind : {"avg", "max"}) {
    CAPTURE(kind);
    const ComputeDag dag =
        from_key(std::string(R"(["pool_layer", ")") + kind + R"(", 2, 3, 9, 8, 3, 3, 2, "SAME"])");
    const auto inputs = random_inputs(dag, rng);
    reference::Pool2dParams p{.kind = std::string(kind) == "avg" ? PoolKind::avg : PoolKind::max,
                              .batch = 2,
                              .channels = 3,
                              .in_height = 9,
                              .in_width = 8,
                              .kernel_h = 3,
                              .kernel_w = 3,
                              .stride_h = 2,
                              .stride_w = 2,
                              .pad_top = 1,
                              .pad_left = 1,
                              .pad_bottom = 1,
                              .pad_right = 1};
    std::vector<float> want(static_cast<std::size_t>(p.output_size()));
    REQUIRE(reference::pool2d(inputs[0], want, p));
    check_close(evaluated(dag, inputs), want);
  }
  {
    const ComputeDag dag = from_key(R"(["reduction_layer", [3, 4, 5], [0, -1], true])");
    const auto inputs = random_inputs(dag, rng);
    std::vector<float> want(4);
    REQUIRE(reference::reduce(inputs[0], {3, 4, 5}, {0, 2}, true, want, ReduceOp::sum));
    check_close(evaluated(dag, inputs), want);
  }
  {
    const ComputeDag dag = from_key(R"(["matmul_add", 3, 5, 7, "float32"])");
    const auto inputs = random_inputs(dag, rng);  // A, B, C
    std::vector<float> want(21);
    REQUIRE(reference::matmul(inputs[0], inputs[1], want, 3, 7, 5));
    for (std::size_t i = 0; i < want.size(); ++i)
      want[i] += inputs[2][i];
    check_close(evaluated(dag, inputs), want);
  }
  {
    const ComputeDag dag = from_key(R"(["relu_layer", 3, 7])");
    const auto inputs = random_inputs(dag, rng);
    std::vector<float> want(21);
    REQUIRE(reference::unary(inputs[0], want, UnaryOp::relu));
    check_close(evaluated(dag, inputs), want);
  }
}
