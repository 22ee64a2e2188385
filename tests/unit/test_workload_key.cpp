#include "crosstune/core/workload_key.hpp"

#include <doctest/doctest.h>

using namespace crosstune;

TEST_CASE("a named workload key parses into its name and typed arguments") {
  auto key = parse_workload_key(R"(["conv2d_layer", 1, 7, 7, 512, 512, 3, 3, [1, 1], [1, 1]])");
  REQUIRE(key);
  CHECK(key->name == "conv2d_layer");
  CHECK_FALSE(key->hashed());
  REQUIRE(key->args.size() == 9);
  CHECK(key->args[0].is_integer());
  CHECK(key->args[3].integer == 512);
  CHECK(key->args[7].is_list());
  CHECK(key->args[7].items.size() == 2);
}

TEST_CASE("strings, reals, booleans and nested lists are kept with their types") {
  auto key =
      parse_workload_key(R"(["reduction_layer", [128, 4032, 11, 11], [2, 3], false, 0.6, "SAME", null])");
  REQUIRE(key);
  CHECK(key->args[2].type == WorkloadArg::Type::boolean);
  CHECK(key->args[2].integer == 0);
  CHECK(key->args[3].type == WorkloadArg::Type::real);
  CHECK(key->args[3].real == 0.6);
  CHECK(key->args[4].text == "SAME");
  CHECK(key->args[5].type == WorkloadArg::Type::null);
}

TEST_CASE("a DAG-hash key is recognised") {
  auto key =
      parse_workload_key(R"(["f3351bf9aef587a2fb1bf57b0fc78601", [128, 512], [512, 256], [128, 256]])");
  REQUIRE(key);
  CHECK(key->hashed());
  CHECK(key->args.size() == 3);
}

TEST_CASE("malformed keys give an error with a column") {
  auto not_array = parse_workload_key("conv2d");
  REQUIRE_FALSE(not_array);
  CHECK(not_array.error().column == 1);
  CHECK_FALSE(parse_workload_key(R"(["a", 1)"));
  CHECK_FALSE(parse_workload_key(R"([1, 2])"));
  CHECK_FALSE(parse_workload_key(R"(["a"] x)"));
}

TEST_CASE("a real argument beyond the int64 range keeps its value and a zero integer view") {
  // Found by fuzzing: converting 8.8e42 to int64 was undefined behaviour.
  auto key = parse_workload_key(R"(["k", 8.805e42, -1e300, 2.5])");
  REQUIRE(key);
  CHECK(key->args[0].real == 8.805e42);
  CHECK(key->args[0].integer == 0);
  CHECK(key->args[1].integer == 0);
  CHECK(key->args[2].integer == 2);
}
