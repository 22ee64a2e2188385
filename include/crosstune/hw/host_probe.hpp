// crosstune/hw/host_probe.hpp — describe the CPU this process runs on, and CPU targets simulated on it.
//
// probe_host() reads the vector ISA with cpuid (x86: SSE4.2, AVX2, AVX-512, AMX, checked against what the
// OS enables), core counts, cache sizes and cache line from sysfs, the clock and model name, and
// estimates peak fp32 FLOP/s from them. It fails soft: a field it cannot read stays 0 ("unknown") and is
// listed in HostProbe::unknown_fields, never an exception.
//
// simulate_cpu() restricts the host to an ISA level and a core count, so that cross-hardware transfer
// can be measured on one machine: the CPU measurer compiles for march_flag(isa) and runs on that many
// threads.
//
//   auto host = crosstune::hw::probe_host();
//   std::cout << host.model << ": " << to_string(host.params.isa) << '\n';
//   auto one_core_avx2 = crosstune::hw::simulate_cpu(host.params, crosstune::hw::IsaLevel::avx2, 1);
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "crosstune/core/expected.hpp"
#include "crosstune/hw/hardware_params.hpp"

namespace crosstune::hw {

/// x86 instruction-set extensions the probe reports (false on other architectures).
struct X86Features {
  bool amd_double_pumped_avx512 = false;  ///< AMD Zen 4: 512-bit FMAs run as two 256-bit halves
  bool sse4_2 = false, avx = false, avx2 = false, fma = false, avx512f = false, avx512bw = false,
       avx512vl = false, avx512_vnni = false, avx512_bf16 = false, amx_tile = false, amx_int8 = false,
       amx_bf16 = false;
};

struct HostProbe {
  HardwareParams params;     ///< name "host"; unknown fields are 0
  std::string model;         ///< e.g. "AMD EPYC 9R14 96-Core Processor"
  std::string architecture;  ///< "x86_64", "aarch64", ...
  std::int64_t physical_cores = 0;
  std::int64_t logical_cores = 0;
  X86Features x86;
  std::vector<std::string> unknown_fields;  ///< fields the probe could not read
  bool peak_is_estimate = true;             ///< peak FLOP/s is cores × clock × SIMD width × 2 FMA units
};

namespace detail {

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

/// "32K", "1024K", "36608K", "32M" as in sysfs cache sizes.
inline std::int64_t parse_size(const std::string& s) {
  if (s.empty()) return 0;
  std::int64_t value = 0;
  std::size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9')
    value = value * 10 + (s[i++] - '0');
  if (i < s.size() && (s[i] == 'K' || s[i] == 'k')) value *= 1024;
  if (i < s.size() && (s[i] == 'M' || s[i] == 'm')) value *= 1024 * 1024;
  return value;
}

inline std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    return value;
  }
  return {};
}

inline X86Features probe_x86() {
  X86Features f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return f;
  const bool amd = ebx == 0x68747541u && edx == 0x69746e65u && ecx == 0x444d4163u;  // "AuthenticAMD"
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const unsigned family = ((eax >> 8) & 0xf) + (((eax >> 8) & 0xf) == 0xf ? ((eax >> 20) & 0xff) : 0);
  f.sse4_2 = ecx & bit_SSE4_2;
  f.fma = ecx & bit_FMA;
  const bool osxsave = ecx & bit_OSXSAVE;
  const bool avx_hw = ecx & bit_AVX;
  // The OS must save the wide registers (XCR0) for the instructions to be usable.
  std::uint64_t xcr0 = 0;
  if (osxsave) {
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<std::uint64_t>(hi) << 32) | lo;
  }
  const bool os_avx = (xcr0 & 0x6) == 0x6;
  const bool os_avx512 = (xcr0 & 0xe6) == 0xe6;
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;
  f.avx = avx_hw && os_avx;
  f.fma = f.fma && os_avx;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    f.avx2 = os_avx && (ebx & bit_AVX2);
    f.avx512f = os_avx512 && (ebx & bit_AVX512F);
    f.avx512bw = os_avx512 && (ebx & bit_AVX512BW);
    f.avx512vl = os_avx512 && (ebx & bit_AVX512VL);
    f.avx512_vnni = os_avx512 && (ecx & (1u << 11));
    f.amx_bf16 = os_amx && (edx & (1u << 22));
    f.amx_tile = os_amx && (edx & (1u << 24));
    f.amx_int8 = os_amx && (edx & (1u << 25));
    unsigned eax1 = 0, ebx1 = 0, ecx1 = 0, edx1 = 0;
    __cpuid_count(7, 1, eax1, ebx1, ecx1, edx1);
    f.avx512_bf16 = os_avx512 && (eax1 & (1u << 5));
  }
  f.amd_double_pumped_avx512 = amd && family == 0x19 && f.avx512f;
#endif
  return f;
}

/// Cache sizes and line size from cpuid (leaf 4 on Intel, 0x8000001D on AMD), for when sysfs is absent
/// (containers, chroots).
struct CpuidCaches {
  std::int64_t line = 0, l1d = 0, l2 = 0, l3 = 0;
};
inline CpuidCaches probe_x86_caches() {
  CpuidCaches c;
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) c.line = ((ebx >> 8) & 0xff) * 8;
  unsigned leaf = 4;
  if (__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 22)) &&
      static_cast<unsigned>(__get_cpuid_max(0x80000000, nullptr)) >= 0x8000001Du) {
    leaf = 0x8000001D;  // AMD topology extensions
  } else if (__get_cpuid_max(0, nullptr) < 4) {
    return c;
  }
  for (unsigned sub = 0; sub < 16; ++sub) {
    __cpuid_count(leaf, sub, eax, ebx, ecx, edx);
    const unsigned type = eax & 0x1f;
    if (type == 0) break;
    const unsigned level = (eax >> 5) & 0x7;
    const std::int64_t size = static_cast<std::int64_t>(((ebx >> 22) & 0x3ff) + 1) *
                              (((ebx >> 12) & 0x3ff) + 1) * ((ebx & 0xfff) + 1) *
                              (static_cast<std::int64_t>(ecx) + 1);
    if (level == 1 && (type == 1 || type == 3)) c.l1d = size;
    if (level == 2) c.l2 = size;
    if (level == 3) c.l3 = size;
  }
#endif
  return c;
}

}  // namespace detail

/// Probes the CPU this process runs on. Never throws; unreadable fields stay 0 and are listed.
[[nodiscard]] inline HostProbe probe_host() {
  HostProbe h;
  HardwareParams& p = h.params;
  p.name = "host";
  p.kind = DeviceKind::cpu;
#if defined(__x86_64__)
  h.architecture = "x86_64";
#elif defined(__aarch64__)
  h.architecture = "aarch64";
#else
  h.architecture = "unknown";
#endif

  // Cores: logical from the scheduler, physical from the (package, core) pairs of the topology.
  h.logical_cores = static_cast<std::int64_t>(std::thread::hardware_concurrency());
  std::set<std::pair<std::string, std::string>> cores;
  for (std::int64_t cpu = 0; cpu < std::max<std::int64_t>(h.logical_cores, 1); ++cpu) {
    const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    const auto core = detail::read_text(base + "core_id");
    const auto package = detail::read_text(base + "physical_package_id");
    if (!core.empty()) cores.emplace(package, core);
  }
  h.physical_cores = static_cast<std::int64_t>(cores.size());
  if (cores.empty()) {  // no sysfs: /proc/cpuinfo's cores per package, else the logical count
    const auto per_package = detail::cpuinfo_field("cpu cores");
    h.physical_cores = per_package.empty() ? h.logical_cores
                                           : std::min<std::int64_t>(std::stoll(per_package), h.logical_cores);
  }
  p.num_cores = h.physical_cores;
  p.compute_units = h.physical_cores;
  p.hardware_threads = h.logical_cores;

  // ISA.
  h.x86 = detail::probe_x86();
  if (h.x86.avx512f) {
    p.isa = IsaLevel::avx512;
  } else if (h.x86.avx2 && h.x86.fma) {
    p.isa = IsaLevel::avx2;
  } else if (h.x86.sse4_2) {
    p.isa = IsaLevel::sse4_2;
  }
#if defined(__aarch64__)
  p.isa = IsaLevel::neon;
#endif
  p.vector_unit_bytes = vector_bytes(p.isa);

  // Caches: sysfs lists each cache of cpu0 with its level, type, size and line size.
  for (int index = 0; index < 8; ++index) {
    const std::string base = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    const auto level = detail::read_text(base + "level");
    if (level.empty()) break;
    const auto type = detail::read_text(base + "type");
    const auto size = detail::parse_size(detail::read_text(base + "size"));
    const auto line = detail::parse_size(detail::read_text(base + "coherency_line_size"));
    if (line > 0) p.cache_line_bytes = line;
    if (level == "1" && (type == "Data" || type == "Unified")) p.l1_bytes = size;
    if (level == "2") p.l2_bytes = size;
    if (level == "3") p.l3_bytes = size;
  }

  // Without sysfs (containers, chroots) cpuid still tells the caches on x86.
  if (p.cache_line_bytes == 0 || p.l1_bytes == 0 || p.l2_bytes == 0) {
    const auto c = detail::probe_x86_caches();
    if (p.cache_line_bytes == 0) p.cache_line_bytes = c.line;
    if (p.l1_bytes == 0) p.l1_bytes = c.l1d;
    if (p.l2_bytes == 0) p.l2_bytes = c.l2;
    if (p.l3_bytes == 0) p.l3_bytes = c.l3;
  }

  // Clock: the cpufreq maximum, else what /proc/cpuinfo reports now.
  if (const auto khz =
          detail::parse_size(detail::read_text("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"));
      khz > 0) {
    p.clock_ghz = static_cast<double>(khz) / 1e6;
  } else if (const auto mhz = detail::cpuinfo_field("cpu MHz"); !mhz.empty()) {
    p.clock_ghz = std::stod(mhz) / 1000.0;
  }
  h.model = detail::cpuinfo_field("model name");
  if (h.model.empty()) h.model = detail::cpuinfo_field("Model");

  // Installed memory.
  {
    std::ifstream meminfo("/proc/meminfo");
    std::string key, unit;
    std::int64_t kb = 0;
    while (meminfo >> key >> kb >> unit) {
      if (key == "MemTotal:") {
        p.memory_bytes = kb * 1024;
        break;
      }
    }
  }

  // Peak: physical cores × clock × SIMD lanes × 2 (FMA) × 2 FMA units (all ISAs probed here have two);
  // Zen 4 runs a 512-bit FMA as two 256-bit halves, so its datapath is 32 bytes wide.
  const std::int64_t datapath_bytes = h.x86.amd_double_pumped_avx512 ? 32 : p.vector_unit_bytes;
  if (p.clock_ghz > 0 && datapath_bytes > 0) {
    p.peak_fp32_gflops =
        static_cast<double>(p.num_cores) * p.clock_ghz * static_cast<double>(datapath_bytes / 4) * 2 * 2;
  }

  auto note = [&](bool unknown, const char* field) {
    if (unknown) h.unknown_fields.emplace_back(field);
  };
  note(p.isa == IsaLevel::unknown, "isa");
  note(p.cache_line_bytes == 0, "cache_line_bytes");
  note(p.l1_bytes == 0, "l1_bytes");
  note(p.l2_bytes == 0, "l2_bytes");
  note(p.l3_bytes == 0, "l3_bytes");
  note(p.clock_ghz == 0, "clock_ghz");
  note(p.peak_fp32_gflops == 0, "peak_fp32_gflops");
  note(true, "memory_bandwidth_gbps");  // not readable without measuring; the CPU measurer will
  note(h.model.empty(), "model");
  return h;
}

/// The GCC/Clang -march flag that restricts generated code to an ISA level (x86; empty elsewhere).
[[nodiscard]] constexpr std::string_view march_flag(IsaLevel isa) noexcept {
  switch (isa) {
    case IsaLevel::sse4_2: return "-march=x86-64-v2";
    case IsaLevel::avx2: return "-march=x86-64-v3";
    case IsaLevel::avx512: return "-march=x86-64-v4";
    case IsaLevel::neon: return "-march=armv8-a";
    case IsaLevel::sve: return "-march=armv8-a+sve";
    case IsaLevel::unknown: return {};
  }
  return {};
}

/// The host restricted to `isa` and `cores` cores: a simulated target for measuring transfer on one
/// machine. Errors: an ISA the host does not have, or more cores than it has.
[[nodiscard]] inline Expected<HardwareParams> simulate_cpu(const HardwareParams& host, IsaLevel isa,
                                                           std::int64_t cores) {
  const auto rank = [](IsaLevel i) {
    switch (i) {
      case IsaLevel::sse4_2: return 1;
      case IsaLevel::avx2: return 2;
      case IsaLevel::avx512: return 3;
      default: return 0;
    }
  };
  if (host.kind != DeviceKind::cpu) {
    return unexpected(Error(ErrorKind::invalid_argument, "simulate_cpu needs a CPU descriptor"));
  }
  if (rank(isa) == 0 || rank(isa) > rank(host.isa)) {
    return unexpected(Error(ErrorKind::invalid_argument,
                            "the host (" + std::string(to_string(host.isa)) + ") cannot run " +
                                std::string(to_string(isa)) + " code",
                            {}, 0, 0, "choose sse4.2, avx2 or avx512, up to the host's own level"));
  }
  if (cores < 1 || (host.num_cores > 0 && cores > host.num_cores)) {
    return unexpected(Error(ErrorKind::invalid_argument, "cannot simulate " + std::to_string(cores) +
                                                             " cores on a host with " +
                                                             std::to_string(host.num_cores)));
  }
  HardwareParams p = host;
  p.name = isa == IsaLevel::sse4_2 ? "host-sse4.2" : isa == IsaLevel::avx2 ? "host-avx2" : "host-avx512";
  p.isa = isa;
  p.vector_unit_bytes = vector_bytes(isa);
  p.num_cores = cores;
  p.compute_units = cores;
  p.hardware_threads = cores;
  // Peak from the host's: its datapath width (bytes of fp32 FMAs per cycle per unit, narrower than the
  // vector registers on double-pumping cores) is capped by the simulated ISA's vector width.
  if (host.peak_fp32_gflops > 0 && host.num_cores > 0 && host.clock_ghz > 0) {
    const double host_datapath_bytes =
        host.peak_fp32_gflops / (static_cast<double>(host.num_cores) * host.clock_ghz * 4.0) * 4.0;
    const double datapath_bytes = std::min(host_datapath_bytes, static_cast<double>(p.vector_unit_bytes));
    p.peak_fp32_gflops = static_cast<double>(cores) * host.clock_ghz * datapath_bytes / 4.0 * 4.0;
  }
  return p;
}

}  // namespace crosstune::hw
