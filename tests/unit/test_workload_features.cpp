#include "crosstune/features/workload_features.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cmath>

using namespace crosstune;
using namespace crosstune::features;

TEST_CASE("a named workload gives its op, FLOPs, dimensions, bytes and intensity") {
  const auto key = parse_workload_key(R"(["matmul_layer", 128, 4032, 1000])");
  REQUIRE(key);
  const auto info = data::describe_workload(*key);
  std::array<float, workload_dims> row{};
  encode_workload(info, &*key, row.data());
  namespace c = workload_column;
  CHECK(row[c::op + static_cast<std::size_t>(data::OpKind::dense)] == 1.0f);
  const double flops = 2.0 * 128 * 4032 * 1000;
  const double bytes = 4.0 * (128.0 * 1000 + 1000.0 * 4032 + 128.0 * 4032);
  CHECK(row[c::flops] == doctest::Approx(std::log2(1 + flops) / 48));
  CHECK(row[c::flops_known] == 1.0f);
  CHECK(row[c::dims + 0] == doctest::Approx(std::log2(129.0) / 20));
  CHECK(row[c::dims + 1] == doctest::Approx(std::log2(4033.0) / 20));
  CHECK(row[c::dims + 3] == 0.0f);
  CHECK(row[c::dim_count] == doctest::Approx(std::log2(4.0) / 8));
  CHECK(row[c::hashed] == 0.0f);
  CHECK(row[c::bytes] == doctest::Approx(std::log2(1 + bytes) / 48));
  CHECK(row[c::intensity] == doctest::Approx(std::log2(1 + flops / bytes) / 12));
  // From the key's text: the same row; a text that does not parse is described as unknown.
  std::array<float, workload_dims> from_text{};
  encode_workload(R"(["matmul_layer", 128, 4032, 1000])", from_text.data());
  CHECK(from_text == row);
  std::array<float, workload_dims> unparsed{}, expected{};
  encode_workload("not a key", unparsed.data());
  encode_workload(data::describe_workload("not a key"), nullptr, expected.data());
  CHECK(unparsed == expected);
}

TEST_CASE("a hashed key gives its tensor shapes and bytes, FLOPs unknown") {
  const auto key =
      parse_workload_key(R"(["f3351bf9aef587a2fb1bf57b0fc78601", [128, 512], [512, 256], [128, 256]])");
  REQUIRE(key);
  std::array<float, workload_dims> row{};
  encode_workload(data::describe_workload(*key), &*key, row.data());
  namespace c = workload_column;
  CHECK(row[c::op + static_cast<std::size_t>(data::OpKind::other)] == 1.0f);
  CHECK(row[c::flops_known] == 0.0f);
  CHECK(row[c::hashed] == 1.0f);
  CHECK(row[c::dims + 0] == doctest::Approx(std::log2(129.0) / 20));
  CHECK(row[c::dims + 5] == doctest::Approx(std::log2(257.0) / 20));
  CHECK(row[c::bytes] == doctest::Approx(std::log2(1 + 4.0 * (128 * 512 + 512 * 256 + 128 * 256)) / 48));
  CHECK(row[c::intensity] == 0.0f);
  for (float v : row) {
    CHECK(v >= 0.0f);
    CHECK(v <= 1.0f);
  }
}
