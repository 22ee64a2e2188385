// `crosstune hw`: hardware descriptors — this machine (probed), a preset, or a parsed target string.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "crosstune/detail/json.hpp"
#include "crosstune/hw/cuda_probe.hpp"
#include "crosstune/hw/host_probe.hpp"
#include "crosstune/hw/presets.hpp"
#include "crosstune/hw/target_string.hpp"

namespace crosstune::cli {

struct HwOptions {
  std::string preset;
  std::string target;
  bool json = false;
  bool list_presets = false;
  bool cuda = false;
  bool given_preset = false, given_target = false;  // given, even as "" (which is then refused)
};

struct HwField {
  const char* name;
  std::string value;  // already JSON-formatted
};

inline std::vector<HwField> hw_fields(const hw::HardwareParams& p) {
  auto num = [](double v) {
    std::string s;
    detail::append_double(s, v);
    return s;
  };
  auto str = [](std::string_view v) {
    std::string s;
    detail::append_json_string(s, v);
    return s;
  };
  auto i = [](std::int64_t v) { return std::to_string(v); };
  return {{"name", str(p.name)},
          {"kind", str(hw::to_string(p.kind))},
          {"num_cores", i(p.num_cores)},
          {"vector_unit_bytes", i(p.vector_unit_bytes)},
          {"cache_line_bytes", i(p.cache_line_bytes)},
          {"max_shared_memory_per_block", i(p.max_shared_memory_per_block)},
          {"max_local_memory_per_block", i(p.max_local_memory_per_block)},
          {"max_threads_per_block", i(p.max_threads_per_block)},
          {"max_vthread_extent", i(p.max_vthread_extent)},
          {"warp_size", i(p.warp_size)},
          {"compute_units", i(p.compute_units)},
          {"hardware_threads", i(p.hardware_threads)},
          {"clock_ghz", num(p.clock_ghz)},
          {"l1_bytes", i(p.l1_bytes)},
          {"l2_bytes", i(p.l2_bytes)},
          {"l3_bytes", i(p.l3_bytes)},
          {"memory_bytes", i(p.memory_bytes)},
          {"peak_fp32_gflops", num(p.peak_fp32_gflops)},
          {"memory_bandwidth_gbps", num(p.memory_bandwidth_gbps)},
          {"compute_capability", i(p.compute_capability)},
          {"isa", str(hw::to_string(p.isa))},
          {"target", str(hw::to_target_string(p))}};
}

inline std::string hw_json(const hw::HardwareParams& p, const std::vector<HwField>& extra = {}) {
  std::string out = "{";
  bool first = true;
  for (const auto& list : {hw_fields(p), extra}) {
    for (const auto& f : list) {
      out += first ? "" : ", ";
      first = false;
      detail::append_json_string(out, f.name);
      out += ": " + f.value;
    }
  }
  return out + "}";
}

inline void print_hw_table(const hw::HardwareParams& p, const std::vector<HwField>& extra = {}) {
  for (const auto& list : {hw_fields(p), extra})
    for (const auto& f : list)
      std::printf("%-28s %s\n", f.name, f.value.c_str());
}

inline int run_hw(const HwOptions& o) {
  if (o.list_presets) {
    for (const hw::HardwareParams* p : hw::presets::all) {
      std::printf("%-14s %-5s %s\n", std::string(p->name).c_str(),
                  std::string(hw::to_string(p->kind)).c_str(), hw::to_target_string(*p).c_str());
    }
    return 0;
  }
  auto emit = [&](const hw::HardwareParams& p, const std::vector<HwField>& extra = {}) {
    if (o.json) {
      std::cout << hw_json(p, extra) << '\n';
    } else {
      print_hw_table(p, extra);
    }
  };
  if (o.given_preset) {
    const hw::HardwareParams* p = hw::find_preset(o.preset);
    if (p == nullptr) {
      fail(Error(ErrorKind::invalid_argument, "unknown preset \"" + o.preset + "\"", {}, 0, 0,
                 "crosstune hw --list-presets lists them"));
    }
    emit(*p);
    return 0;
  }
  if (o.given_target) {
    auto p = hw::parse_target(o.target);
    if (!p) fail(p.error());
    emit(*p);
    return 0;
  }
  if (o.cuda) {
    auto gpus = hw::probe_cuda_devices();
    if (!gpus) fail(gpus.error());
    for (const auto& gpu : *gpus) {
      std::string model;
      detail::append_json_string(model, gpu.model);
      emit(gpu.params,
           {{"device", std::to_string(gpu.ordinal)},
            {"model", model},
            {"max_shared_memory_per_block_optin", std::to_string(gpu.max_shared_memory_per_block_optin)}});
    }
    return 0;
  }
  const auto host = hw::probe_host();
  std::string model, unknown = "[", flags = "[";
  detail::append_json_string(model, host.model);
  for (std::size_t i = 0; i < host.unknown_fields.size(); ++i) {
    unknown += i ? ", " : "";
    detail::append_json_string(unknown, host.unknown_fields[i]);
  }
  const std::pair<const char*, bool> x86[] = {{"sse4.2", host.x86.sse4_2},
                                              {"avx", host.x86.avx},
                                              {"avx2", host.x86.avx2},
                                              {"fma", host.x86.fma},
                                              {"avx512f", host.x86.avx512f},
                                              {"avx512bw", host.x86.avx512bw},
                                              {"avx512vl", host.x86.avx512vl},
                                              {"avx512_vnni", host.x86.avx512_vnni},
                                              {"avx512_bf16", host.x86.avx512_bf16},
                                              {"amx_tile", host.x86.amx_tile},
                                              {"amx_int8", host.x86.amx_int8},
                                              {"amx_bf16", host.x86.amx_bf16}};
  bool first = true;
  for (const auto& [name, present] : x86) {
    if (!present) continue;
    flags += first ? "" : ", ";
    first = false;
    detail::append_json_string(flags, name);
  }
  emit(host.params, {{"model", model},
                     {"architecture", "\"" + host.architecture + "\""},
                     {"physical_cores", std::to_string(host.physical_cores)},
                     {"logical_cores", std::to_string(host.logical_cores)},
                     {"x86_features", flags + "]"},
                     {"unknown_fields", unknown + "]"}});
  return 0;
}

inline void add_hw_command(CLI::App& app) {
  auto options = std::make_shared<HwOptions>();
  auto* hw = app.add_subcommand(
      "hw", "Hardware descriptors: this machine (default), a preset, or a TVM target string");
  auto* preset = hw->add_option("--preset", options->preset,
                                "A preset by name (v100, k80, a100, h100, platinum-8272, ...)");
  auto* target =
      hw->add_option("--target", options->target, "A TVM target string, e.g. \"cuda -arch=sm_80\"");
  auto* cuda = hw->add_flag("--cuda", options->cuda, "Probe the CUDA devices of this machine");
  auto* list =
      hw->add_flag("--list-presets", options->list_presets, "List the preset names and their target strings");
  preset->excludes(target)->excludes(cuda)->excludes(list);
  target->excludes(cuda)->excludes(list);
  cuda->excludes(list);
  hw->add_flag("--json", options->json, "Print JSON with the TenSet field names");
  preset->check(preset_name());
  target->check(target_string());
  hw->callback([options, preset, target] {
    options->given_preset = preset->count() > 0;
    options->given_target = target->count() > 0;
    if (const int rc = run_hw(*options); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace crosstune::cli
