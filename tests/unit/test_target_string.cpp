#include "crosstune/hw/target_string.hpp"

#include <doctest/doctest.h>

#include <string>

#include "crosstune/io/log_reader.hpp"
#include "test_support.hpp"

using namespace crosstune;
using namespace crosstune::hw;

namespace {
// parse -> print -> parse gives the same hardware.
void check_round_trip(const std::string& target) {
  CAPTURE(target);
  auto first = parse_target(target);
  REQUIRE(first);
  const std::string printed = to_target_string(*first);
  CAPTURE(printed);
  auto second = parse_target(printed);
  REQUIRE(second);
  CHECK(second->same_hardware(*first));
}
}  // namespace

TEST_CASE("CUDA target strings set the TenSet fields and the compute capability") {
  auto p = parse_target("cuda -keys=cuda,gpu -arch=sm_70 -max_num_threads=1024 -thread_warp_size=32");
  REQUIRE(p);
  CHECK(p->kind == DeviceKind::cuda);
  CHECK(p->compute_capability == 70);
  CHECK(p->max_threads_per_block == 1024);
  CHECK(p->warp_size == 32);
  CHECK(p->recorded() == RecordedHardwareParams{-1, 16, 64, 49152, 2147483647, 1024, 8, 32});
  auto small =
      parse_target("cuda -max_num_threads=512 -thread_warp_size 32 -max_shared_memory_per_block=16384");
  REQUIRE(small);
  CHECK(small->max_threads_per_block == 512);
  CHECK(small->max_shared_memory_per_block == 16384);
}

TEST_CASE("-model picks a preset, whatever the order of the options") {
  auto p = parse_target(
      "cuda -keys=cuda,gpu -arch=sm_75 -max_num_threads=1024 -model=2080ti -thread_warp_size=32");
  REQUIRE(p);
  CHECK(p->same_hardware(presets::rtx2080ti));
  auto cpu = parse_target("llvm -keys=cpu -mcpu=icelake-server -model=platinum-8358");
  REQUIRE(cpu);
  CHECK(cpu->same_hardware(presets::platinum_8358));
}

TEST_CASE("CPU target strings set the ISA, vector width and cores") {
  auto p = parse_target("llvm -mcpu=skylake-avx512 -num-cores 24");
  REQUIRE(p);
  CHECK(p->kind == DeviceKind::cpu);
  CHECK(p->isa == IsaLevel::avx512);
  CHECK(p->vector_unit_bytes == 64);
  CHECK(p->num_cores == 24);
  auto avx2 = parse_target("llvm -keys=cpu -mcpu=core-avx2");
  REQUIRE(avx2);
  CHECK(avx2->vector_unit_bytes == 32);
  auto bare = parse_target("llvm -keys=cpu ");
  REQUIRE(bare);
  CHECK(bare->isa == IsaLevel::unknown);
  auto arm = parse_target("llvm -mtriple=aarch64-linux-gnu -mcpu=neoverse-n1 -mattr=+neon");
  REQUIRE(arm);
  CHECK(arm->isa == IsaLevel::neon);
}

TEST_CASE("ROCm and OpenCL targets") {
  auto rocm = parse_target("rocm -keys=rocm,gpu -arch=gfx906 -model=mi50");
  REQUIRE(rocm);
  CHECK(rocm->same_hardware(presets::mi50));
  auto ocl = parse_target("opencl -max_num_threads=256");
  REQUIRE(ocl);
  CHECK(ocl->kind == DeviceKind::opencl);
  CHECK(ocl->max_threads_per_block == 256);
}

TEST_CASE("every preset, and every target string of the shipped logs, round-trips") {
  for (const HardwareParams* p : presets::all) {
    const std::string text = to_target_string(*p);
    CAPTURE(text);
    auto back = parse_target(text);
    REQUIRE(back);
    CHECK(back->same_hardware(*p));
    CHECK(back->name == p->name);
  }
  for (const auto& file : test::log_files_under(test::sample_logs())) {
    auto records = io::read_log_file(file);
    REQUIRE(records);
    check_round_trip(records->front().task->target.str());
  }
  check_round_trip("llvm -mcpu=skylake-avx512 -num-cores 24");
  check_round_trip("rocm -arch=gfx908");
}

TEST_CASE("hardware_of a task: the target string refined by the recorded parameters") {
  Task task;
  task.target = Target("llvm -keys=cpu -mcpu=core-avx2");
  task.hardware_params = {18, 64, 64, 0, 0, 0, 0, 0};
  auto p = hardware_of(task);
  REQUIRE(p);
  CHECK(p->num_cores == 18);
  CHECK(p->vector_unit_bytes == 64);  // what the search assumed wins over the -mcpu default
  CHECK(p->isa == IsaLevel::avx2);
  task.fields_in_log = 2;
  CHECK(hardware_of(task)->vector_unit_bytes == 32);
}

TEST_CASE("malformed or unknown targets are errors naming the bad token and its column") {
  struct Bad {
    const char* target;
    const char* message_part;
    std::size_t column;
  };
  const Bad cases[] = {
      {"", "empty target string", 1},
      {"tpu -keys=tpu", "unknown target kind \"tpu\"", 1},
      {"cuda -arhc=sm_80", "unknown option \"-arhc=sm_80\"", 6},
      {"cuda -arch=sm80", "malformed -arch \"sm80\"", 6},
      {"cuda -max_num_threads=many", "needs an integer, got \"many\"", 6},
      {"llvm -mcpu=pentium2", "unknown -mcpu \"pentium2\"", 6},
      {"llvm -model=v100", "is not a llvm device", 6},
      {"cuda -model=h1000", "unknown -model \"h1000\"", 6},
      {"cuda -num-cores=4", "does not apply to a cuda target", 6},
      {"llvm -max_num_threads=4", "does not apply to a llvm target", 6},
      {"cuda sm_80", "unexpected token \"sm_80\"", 6},
      {"cuda -model=v100 -arch=sm_80", "contradicts -model=v100", 18},
      {"cuda -mcpu=znver3", "-mcpu is for CPU targets", 6},
      {"llvm -mcpu=", "option -mcpu has no value", 6},
      {"cuda -keys= -arch=sm_80", "option -keys has no value", 6},
      {"llvm -mtriple=", "option -mtriple has no value", 6},
      {"llvm -mcpu", "option -mcpu has no value", 6},
      {"cuda -arch= -max_num_threads=1024", "option -arch has no value", 6},
      {"cuda -model", "option -model has no value", 6},
      {"   ", "empty target string", 4},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.target));
    auto p = parse_target(c.target);
    REQUIRE_FALSE(p);
    CHECK(p.error().kind == ErrorKind::invalid_argument);
    const std::string message = p.error().message;
    CAPTURE(message);
    CHECK(message.find(c.message_part) != std::string::npos);
    CHECK(p.error().column == c.column);
  }
}
