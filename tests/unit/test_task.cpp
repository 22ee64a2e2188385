#include "crosstune/core/task.hpp"

#include <doctest/doctest.h>

using namespace crosstune;

TEST_CASE("recorded hardware parameters convert to and from Ansor's field order") {
  const std::array<std::int64_t, 8> log_order{-1, 16, 64, 49152, 2147483647, 1024, 8, 32};
  const auto hw = RecordedHardwareParams::from_array(log_order);
  CHECK(hw.num_cores == -1);
  CHECK(hw.vector_unit_bytes == 16);
  CHECK(hw.cache_line_bytes == 64);
  CHECK(hw.max_shared_memory_per_block == 49152);
  CHECK(hw.max_local_memory_per_block == 2147483647);
  CHECK(hw.max_threads_per_block == 1024);
  CHECK(hw.max_vthread_extent == 8);
  CHECK(hw.warp_size == 32);
  CHECK(hw.to_array() == log_order);
}

TEST_CASE("tasks compare by value and know which fields their log version had") {
  Task a;
  a.workload_key = "[\"relu_layer\", 4]";
  a.target = Target("llvm");
  Task b = a;
  CHECK(a == b);
  b.fields_in_log = 2;
  CHECK_FALSE(a == b);
  CHECK_FALSE(b.has_hardware_params());
  CHECK(a.has_hardware_params());
}
