#include "crosstune/data/workload_info.hpp"

#include <doctest/doctest.h>

using namespace crosstune::data;

TEST_CASE("conv2d FLOPs follow the layout of the key") {
  // Roller layout (N, CI, H, W, CO, KH, KW, stride, padding); SAME keeps 28x28 at stride 1.
  auto roller = describe_workload(R"(["conv2d_layer", 128, 128, 28, 28, 128, 3, 3, 1, "SAME"])");
  CHECK(roller.op == OpKind::conv2d);
  REQUIRE(roller.flops);
  CHECK(*roller.flops == doctest::Approx(2.0 * 128 * 128 * 28 * 28 * 128 * 3 * 3));
  // VALID with stride 2: (58 - 3) / 2 + 1 = 28.
  auto valid = describe_workload(R"(["conv2d_layer", 128, 128, 58, 58, 128, 3, 3, 2, "VALID"])");
  REQUIRE(valid.flops);
  CHECK(*valid.flops == doctest::Approx(2.0 * 128 * 128 * 28 * 28 * 128 * 9));
  // TVM tutorial layout (N, H, W, CI, CO, KH, KW, stride, padding): 7x7, pad 1, 3x3 -> 7x7.
  auto tutorial = describe_workload(R"(["conv2d_layer", 1, 7, 7, 512, 512, 3, 3, [1, 1], [1, 1]])");
  REQUIRE(tutorial.flops);
  CHECK(*tutorial.flops == doctest::Approx(2.0 * 512 * 49 * 512 * 9));
}

TEST_CASE("depthwise, dense, pooling, reduction and relu FLOPs") {
  auto dw = describe_workload(R"(["depthwise_conv2d_layer", 128, 168, 42, 42, 3, 3, 1, "SAME"])");
  CHECK(dw.op == OpKind::depthwise_conv2d);
  CHECK(*dw.flops == doctest::Approx(2.0 * 128 * 168 * 42 * 42 * 9));
  auto mm = describe_workload(R"(["matmul_layer", 128, 4032, 1000])");
  CHECK(mm.op == OpKind::dense);
  CHECK(*mm.flops == doctest::Approx(2.0 * 128 * 4032 * 1000));
  auto mma = describe_workload(R"(["matmul_add", 1024, 1024, 1024, "float32"])");
  CHECK(*mma.flops == doctest::Approx(2.0 * 1024 * 1024 * 1024 + 1024.0 * 1024));
  auto pool = describe_workload(R"(["pool_layer", "avg", 128, 336, 42, 42, 3, 3, 2, "SAME"])");
  CHECK(pool.op == OpKind::pooling);
  CHECK(*pool.flops == doctest::Approx(128.0 * 336 * 21 * 21 * 9));
  auto red = describe_workload(R"(["reduction_layer", [128, 4032, 11, 11], [2, 3], false])");
  CHECK(red.op == OpKind::reduction);
  CHECK(*red.flops == doctest::Approx(128.0 * 4032 * 121));
  auto relu = describe_workload(R"(["relu_layer", 128, 128, 28, 28])");
  CHECK(relu.op == OpKind::elementwise);
  CHECK(*relu.flops == doctest::Approx(128.0 * 128 * 28 * 28));
}

TEST_CASE("unknown layouts and hashed keys have no FLOPs, and are never guessed") {
  auto hashed = describe_workload(R"(["f3351bf9aef587a2fb1bf57b0fc78601", [128, 512], [512, 256]])");
  CHECK(hashed.name == "<hash>");
  CHECK_FALSE(hashed.flops);
  auto expr = describe_workload(R"(["get_expr", "batch_matmul_4d_4d_expr", [1, 12, 64, 1, 64]])");
  CHECK(expr.op == OpKind::batch_matmul);
  CHECK_FALSE(expr.flops);
  auto broken = describe_workload("not json");
  CHECK(broken.name == "<unparsable>");
  auto negative = describe_workload(R"(["matmul_layer", -1, 4, 4])");
  CHECK_FALSE(negative.flops);
  CHECK(to_string(OpKind::depthwise_conv2d) == "depthwise_conv2d");
}
