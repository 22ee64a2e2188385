#include "crosstune/core/target.hpp"

#include <doctest/doctest.h>

using crosstune::Target;

TEST_CASE("a target keeps its string verbatim and exposes its kind") {
  const Target t("llvm -keys=cpu ");
  CHECK(t.str() == "llvm -keys=cpu ");
  CHECK(t.kind() == "llvm");
  CHECK_FALSE(t.is_gpu());
  CHECK(Target("cuda -keys=cuda,gpu").is_gpu());
  CHECK(Target().kind().empty());
}

TEST_CASE("options are read in -name=value, -name value and bare-flag forms") {
  const Target t("cuda -keys=cuda,gpu -arch=sm_70 -max_num_threads=1024 -thread_warp_size=32");
  CHECK(t.option("arch") == "sm_70");
  CHECK(t.option("keys") == "cuda,gpu");
  CHECK(t.option("thread_warp_size") == "32");
  CHECK_FALSE(t.option("mcpu").has_value());
  const Target cpu("llvm -mcpu=skylake-avx512 -num-cores 24 -fast");
  CHECK(cpu.option("num-cores") == "24");
  CHECK(cpu.option("mcpu") == "skylake-avx512");
  CHECK(cpu.option("fast") == "");
}

TEST_CASE("targets compare by their exact string") {
  CHECK(Target("llvm") == Target("llvm"));
  CHECK_FALSE(Target("llvm -keys=cpu") == Target("llvm -keys=cpu "));
}
