// crosstune/hw/target_string.hpp — TVM target strings to and from hardware descriptors.
//
// Records name their target as a TVM target string ("cuda -keys=cuda,gpu -arch=sm_70 -max_num_threads=1024
// -thread_warp_size=32", "llvm -mcpu=skylake-avx512 -num-cores 24"). parse_target() turns one into a
// HardwareParams: `-model=` picks a preset ("-model=2080ti"), `-arch=sm_XY` sets the compute capability,
// `-mcpu=` the CPU's vector ISA, and the numeric options set their TenSet fields. to_target_string()
// writes a descriptor back so that parsing it again gives the same descriptor. Unknown target kinds,
// options or CPU names are errors naming the token.
//
//   auto gpu = crosstune::hw::parse_target("cuda -arch=sm_80 -max_num_threads=1024");
//   if (!gpu) std::cerr << gpu.error().describe();  // e.g. unknown option "-arhc=sm_80"
//   std::string text = crosstune::hw::to_target_string(crosstune::hw::presets::v100);
#pragma once

#include <array>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/task.hpp"
#include "crosstune/hw/hardware_params.hpp"
#include "crosstune/hw/presets.hpp"

namespace crosstune::hw {

namespace detail {

struct CpuName {
  std::string_view mcpu;
  IsaLevel isa;
};
// LLVM -mcpu names and the widest vector ISA they imply.
inline constexpr CpuName known_cpus[] = {
    {"x86-64-v2", IsaLevel::sse4_2},
    {"nehalem", IsaLevel::sse4_2},
    {"westmere", IsaLevel::sse4_2},
    {"corei7", IsaLevel::sse4_2},
    {"x86-64-v3", IsaLevel::avx2},
    {"core-avx2", IsaLevel::avx2},
    {"haswell", IsaLevel::avx2},
    {"broadwell", IsaLevel::avx2},
    {"skylake", IsaLevel::avx2},
    {"alderlake", IsaLevel::avx2},
    {"znver1", IsaLevel::avx2},
    {"znver2", IsaLevel::avx2},
    {"znver3", IsaLevel::avx2},
    {"x86-64-v4", IsaLevel::avx512},
    {"skylake-avx512", IsaLevel::avx512},
    {"cascadelake", IsaLevel::avx512},
    {"cooperlake", IsaLevel::avx512},
    {"icelake-server", IsaLevel::avx512},
    {"icelake-client", IsaLevel::avx512},
    {"tigerlake", IsaLevel::avx512},
    {"sapphirerapids", IsaLevel::avx512},
    {"znver4", IsaLevel::avx512},
    {"neoverse-n1", IsaLevel::neon},
    {"cortex-a72", IsaLevel::neon},
    {"cortex-a76", IsaLevel::neon},
    {"apple-m1", IsaLevel::neon},
    {"neoverse-v1", IsaLevel::sve},
    {"neoverse-n2", IsaLevel::sve},
    {"a64fx", IsaLevel::sve},
};

/// The -mcpu name crosstune writes for an ISA level (the most generic one of that level).
constexpr std::string_view mcpu_for(IsaLevel isa) noexcept {
  switch (isa) {
    case IsaLevel::sse4_2: return "x86-64-v2";
    case IsaLevel::avx2: return "x86-64-v3";
    case IsaLevel::avx512: return "x86-64-v4";
    case IsaLevel::neon: return "neoverse-n1";
    case IsaLevel::sve: return "neoverse-v1";
    case IsaLevel::unknown: return {};
  }
  return {};
}

// Options TVM target strings carry that do not change the descriptor.
inline constexpr std::string_view ignored_options[] = {"keys",
                                                       "libs",
                                                       "device",
                                                       "tag",
                                                       "host",
                                                       "mtriple",
                                                       "mattr",
                                                       "mabi",
                                                       "mfloat-abi",
                                                       "system-lib",
                                                       "link-params",
                                                       "opt-level",
                                                       "fast-math",
                                                       "fast-math-nnan",
                                                       "fast-math-ninf",
                                                       "fast-math-nsz",
                                                       "fast-math-arcp",
                                                       "fast-math-contract",
                                                       "fast-math-reassoc",
                                                       "runtime",
                                                       "from_device",
                                                       "max_function_args",
                                                       "registers_per_block",
                                                       "l2_cache_size_bytes",
                                                       "max_threads_per_block",
                                                       "vector-width"};

inline Unexpected target_error(std::string_view target, std::string_view token, std::string message,
                               std::string hint = {}) {
  const auto column = token.data() >= target.data() && token.data() <= target.data() + target.size()
                          ? static_cast<std::size_t>(token.data() - target.data()) + 1
                          : 0;
  return unexpected(Error(ErrorKind::invalid_argument, "target \"" + std::string(target) + "\": " + message,
                          {}, 0, column, std::move(hint)));
}

inline bool parse_int(std::string_view text, std::int64_t& out) {
  if (text.empty()) return false;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc{} && r.ptr == text.data() + text.size();
}

}  // namespace detail

/// The descriptor a TVM target string stands for. Errors (ErrorKind::invalid_argument) name the bad token
/// and its 1-based column: an unknown kind, an unknown option, a non-numeric value, an unknown -mcpu or
/// -model, a malformed -arch.
[[nodiscard]] inline Expected<HardwareParams> parse_target(std::string_view target) {
  using detail::target_error;
  // Tokens are separated by blanks; "-name=value" or "-name value".
  std::size_t pos = 0;
  auto next_token = [&]() -> std::string_view {
    while (pos < target.size() && (target[pos] == ' ' || target[pos] == '\t'))
      ++pos;
    const std::size_t start = pos;
    while (pos < target.size() && target[pos] != ' ' && target[pos] != '\t')
      ++pos;
    return target.substr(start, pos - start);
  };
  const std::string_view kind = next_token();
  HardwareParams p;
  if (kind == "llvm" || kind == "c") {
    p.kind = DeviceKind::cpu;
    p.cache_line_bytes = 64;  // Ansor's CPU default
  } else if (kind == "cuda" || kind == "nvptx") {
    p = make_cuda_gpu({});
  } else if (kind == "rocm") {
    p = make_cuda_gpu({});
    p.kind = DeviceKind::rocm;
    p.max_shared_memory_per_block = 65536;
    p.warp_size = 64;
    p.max_vthread_extent = 16;
  } else if (kind == "opencl") {
    p = make_cuda_gpu({});
    p.kind = DeviceKind::opencl;
  } else {
    return target_error(
        target, kind,
        kind.empty() ? "empty target string" : "unknown target kind \"" + std::string(kind) + "\"",
        "crosstune knows llvm, c, cuda, nvptx, rocm and opencl targets");
  }

  // Options are applied after the whole string is read, so "-model=" takes effect before the numbers
  // that refine it, whatever their order.
  struct Numeric {
    std::string_view name;
    std::int64_t HardwareParams::*field;
    std::optional<std::int64_t> value;
    std::string_view token;
  };
  std::array<Numeric, 5> numeric = {
      {{"num-cores", &HardwareParams::num_cores, {}, {}},
       {"max_num_threads", &HardwareParams::max_threads_per_block, {}, {}},
       {"thread_warp_size", &HardwareParams::warp_size, {}, {}},
       {"max_shared_memory_per_block", &HardwareParams::max_shared_memory_per_block, {}, {}},
       {"max_vthread_extent", &HardwareParams::max_vthread_extent, {}, {}}}};
  std::string_view model, arch, mcpu, arch_token, mcpu_token, model_token;
  for (std::string_view token = next_token(); !token.empty(); token = next_token()) {
    if (token.size() < 2 || token[0] != '-') {
      return target_error(target, token, "unexpected token \"" + std::string(token) + "\"",
                          "options are written -name=value or -name value");
    }
    std::string_view name = token.substr(token[1] == '-' ? 2 : 1);
    std::string_view value;
    if (const auto eq = name.find('='); eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      if (value.empty()) {  // "-keys=" or "-mtriple=": a value was meant and left out
        return target_error(target, token, "option -" + std::string(name) + " has no value",
                            "write -" + std::string(name) + "=VALUE, or leave the option out");
      }
    } else {
      const std::size_t save = pos;
      const std::string_view peek = next_token();
      if (!peek.empty() && peek[0] != '-') {
        value = peek;
      } else {
        pos = save;
      }
    }
    bool known = false;
    for (auto& n : numeric) {
      if (n.name != name) continue;
      std::int64_t v = 0;
      if (!detail::parse_int(value, v) || v < -1) {
        return target_error(
            target, token,
            "option -" + std::string(name) + " needs an integer, got \"" + std::string(value) + "\"");
      }
      n.value = v;
      n.token = token;
      known = true;
    }
    if ((name == "model" || name == "arch" || name == "mcpu") && value.empty()) {
      return target_error(target, token, "option -" + std::string(name) + " has no value",
                          "write -" + std::string(name) + "=VALUE, e.g. " +
                              (name == "arch"   ? "-arch=sm_80"
                               : name == "mcpu" ? "-mcpu=znver4"
                                                : "-model=v100"));
    }
    if (name == "model") {
      model = value;
      model_token = token;
      known = true;
    } else if (name == "arch") {
      arch = value;
      arch_token = token;
      known = true;
    } else if (name == "mcpu") {
      mcpu = value;
      mcpu_token = token;
      known = true;
    }
    for (std::string_view ignored : detail::ignored_options)
      known = known || ignored == name;
    if (!known) {
      return target_error(
          target, token, "unknown option \"" + std::string(token) + "\"",
          "crosstune reads -model, -arch, -mcpu, -num-cores, -max_num_threads, -thread_warp_size, "
          "-max_shared_memory_per_block, -max_vthread_extent and ignores the usual TVM flags");
    }
  }

  if (!model.empty()) {
    const HardwareParams* preset = find_preset(model);
    if (preset == nullptr) {
      return target_error(target, model_token, "unknown -model \"" + std::string(model) + "\"",
                          "run `crosstune hw --list-presets` for the known names");
    }
    if (preset->is_gpu() != p.is_gpu()) {
      return target_error(target, model_token,
                          "-model=" + std::string(model) + " is not a " + std::string(kind) + " device");
    }
    p = *preset;
  }
  if (!arch.empty()) {
    std::int64_t cc = 0;
    const bool sm = arch.starts_with("sm_") && detail::parse_int(arch.substr(3), cc);
    const bool gfx = arch.starts_with("gfx") && detail::parse_int(arch.substr(3), cc);
    if (!sm && !gfx) {
      return target_error(target, arch_token, "malformed -arch \"" + std::string(arch) + "\"",
                          "write sm_<major><minor> (CUDA) or gfx<number> (ROCm)");
    }
    if (p.compute_capability != 0 && p.compute_capability != cc) {
      return target_error(target, arch_token,
                          "-arch=" + std::string(arch) + " contradicts -model=" + std::string(model));
    }
    p.compute_capability = static_cast<int>(cc);
  }
  if (!mcpu.empty()) {
    if (p.is_gpu()) return target_error(target, mcpu_token, "-mcpu is for CPU targets");
    IsaLevel isa = IsaLevel::unknown;
    for (const auto& cpu : detail::known_cpus)
      if (cpu.mcpu == mcpu) isa = cpu.isa;
    if (isa == IsaLevel::unknown) {
      return target_error(target, mcpu_token, "unknown -mcpu \"" + std::string(mcpu) + "\"",
                          "use an LLVM CPU name such as skylake-avx512, znver3, x86-64-v3 or neoverse-n1");
    }
    if (p.isa != IsaLevel::unknown && p.isa != isa) {
      return target_error(target, mcpu_token,
                          "-mcpu=" + std::string(mcpu) + " contradicts -model=" + std::string(model));
    }
    p.isa = isa;
    p.vector_unit_bytes = vector_bytes(isa);
  }
  for (const auto& n : numeric) {
    if (!n.value) continue;
    if (p.is_gpu() == (n.name == "num-cores")) {
      return target_error(
          target, n.token,
          "-" + std::string(n.name) + " does not apply to a " + std::string(kind) + " target");
    }
    p.*(n.field) = *n.value;
  }
  return p;
}

/// A TVM target string for `p`: parsing it again gives a descriptor with the same TenSet fields, kind,
/// ISA and compute capability (and, for a preset, the preset itself through -model).
[[nodiscard]] inline std::string to_target_string(const HardwareParams& p) {
  std::string out;
  const bool preset =
      !p.name.empty() && find_preset(p.name) != nullptr && find_preset(p.name)->same_hardware(p);
  auto option = [&](std::string_view name, const auto& value) {
    out += " -";
    out += name;
    out += '=';
    if constexpr (std::is_arithmetic_v<std::decay_t<decltype(value)>>) {
      out += std::to_string(value);
    } else {
      out += value;
    }
  };
  switch (p.kind) {
    case DeviceKind::cpu:
    case DeviceKind::unknown:
      out = "llvm -keys=cpu";
      if (preset) option("model", p.name);
      if (p.isa != IsaLevel::unknown) option("mcpu", detail::mcpu_for(p.isa));
      if (p.num_cores > 0) option("num-cores", p.num_cores);
      return out;
    case DeviceKind::cuda: out = "cuda -keys=cuda,gpu"; break;
    case DeviceKind::rocm: out = "rocm -keys=rocm,gpu"; break;
    case DeviceKind::opencl: out = "opencl -keys=opencl,gpu"; break;
  }
  if (preset) option("model", p.name);
  if (p.compute_capability > 0)
    option("arch",
           std::string(p.kind == DeviceKind::rocm ? "gfx" : "sm_") + std::to_string(p.compute_capability));
  option("max_num_threads", p.max_threads_per_block);
  option("thread_warp_size", p.warp_size);
  option("max_shared_memory_per_block", p.max_shared_memory_per_block);
  option("max_vthread_extent", p.max_vthread_extent);
  return out;
}

/// The descriptor of the hardware a record's task was tuned for: its target string, with the eight
/// TenSet fields the record stores (when it stores them) taking precedence.
[[nodiscard]] inline Expected<HardwareParams> hardware_of(const Task& task) {
  auto parsed = parse_target(task.target.str());
  if (!parsed) return parsed;
  if (!task.has_hardware_params()) return parsed;
  HardwareParams p = *parsed;
  p.assign_recorded(task.hardware_params);
  return p;
}

}  // namespace crosstune::hw
