// crosstune/features/kernel_features.hpp — a GPU schedule's launch configuration and its fit to a device,
// read from the lowered loop nest (one vector per record).
//
// The step sequence says how a schedule was built; what decides its speed on a GPU is what the steps add
// up to: the grid and block sizes, virtual threads, the work and registers of one thread, the reduction's
// tiling, the shared memory of a block and the loads that fill it, the vector width of those loads, the
// unrolling. The same quantities divided by a device's limits (threads per block, shared memory, warp size,
// SMs, resident threads, peak FLOP/s and bandwidth) say how well the schedule fits that device, so a model
// can carry what it learned on one GPU to another instead of learning each device's limits from its records
// (the heterogeneous join of Verma et al.; issue 22's directions 1 and 2).
//
// What is read from the nest (codegen/lower.hpp), for the kernel holding the store with the most work:
//   * grid, threads and virtual threads: the products of the blockIdx, threadIdx and vthread loops around
//     that store;
//   * shared memory: the stages whose own loops are bound to threadIdx (cooperative fetching); a block's
//     tile of such a stage is the footprint of its read over its own loops and the thread-bound loops of
//     the block, as TVM's bound inference relaxes them for shared scope (the nest's local buffer holds one
//     thread's part only);
//   * registers: the local buffers allocated inside the thread loops and not shared;
//   * global traffic: each shared tile once per block and outer iteration, plus the outputs, or without
//     shared stages the main store's reads over the whole kernel.
// A nest without blockIdx or threadIdx loops (a CPU schedule) gives zeros but for `gpu` = 0:
// features/loop_features.hpp describes those.
//
// Residency per SM follows the CUDA occupancy rules with the descriptor's numbers: resident threads
// (`hardware_threads`), shared memory per SM (`l1_bytes`, else `max_shared_memory_per_block`), 64K
// registers of 4 bytes (a thread's estimate: its register tile + 16), at most 32 blocks.
//
//   auto nest = crosstune::codegen::lower(state).value();
//   auto row = crosstune::features::kernel_features(nest, crosstune::hw::presets::v100);
//   row[crosstune::features::kernel_column::threads];  // log2(1 + threads per block)
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "crosstune/codegen/lower.hpp"
#include "crosstune/features/loop_analysis.hpp"
#include "crosstune/hw/hardware_params.hpp"

namespace crosstune::features {

/// Bumped whenever a column of the kernel vector changes meaning.
inline constexpr int kernel_features_version = 1;

/// Columns of the kernel vector. Magnitudes are log2(1 + x); ratios and flags are plain.
namespace kernel_column {
enum : std::size_t {
  gpu,               ///< 1: the nest binds loops to blockIdx or threadIdx
  grid,              ///< blocks
  threads,           ///< threads per block
  vthreads,          ///< virtual threads per thread
  work_per_thread,   ///< iterations of the main store per thread
  flops_per_thread,  ///< floating-point operations of the main store per thread
  shared_bytes,      ///< shared memory per block
  register_bytes,    ///< local (register) tile bytes per thread
  reduction_outer,   ///< iterations of the reduction loops that refill shared memory
  reduction_inner,   ///< iterations of the reduction loops within one shared tile
  fetch_per_thread,  ///< shared-memory elements each thread loads per refill
  fetch_vector,      ///< widest vectorised extent of the loads into shared memory
  global_bytes,      ///< bytes read from and written to global memory by the kernel
  intensity,         ///< the kernel's operations per global byte
  unroll,            ///< unrolled iterations around the main store
  // Against the device:
  threads_fill,       ///< threads / max_threads_per_block
  warps,              ///< log2(1 + warps per block)
  warp_fill,          ///< threads / (warps × warp_size): 1 when the last warp is full
  shared_fill,        ///< shared bytes / max_shared_memory_per_block
  vthread_fill,       ///< virtual threads / max_vthread_extent
  fetch_vector_fill,  ///< fetch_vector's bytes / vector_unit_bytes
  resident_blocks,    ///< log2(1 + blocks resident on one SM)
  occupancy,          ///< resident threads / hardware_threads
  blocks_per_unit,    ///< log2(1 + grid / compute_units)
  waves,              ///< log2(1 + rounds of resident blocks over all SMs)
  wave_efficiency,    ///< grid / (waves × resident slots): 1 when the last wave is full
  register_fill,      ///< estimated registers per thread / 255
  compute_time,       ///< log2(1 + µs at peak_fp32_gflops)
  memory_time,        ///< log2(1 + µs at memory_bandwidth_gbps)
  compute_share,      ///< compute time / (compute + memory time)
  count
};
}  // namespace kernel_column

inline constexpr std::size_t kernel_dims = kernel_column::count;

/// How the extractors scale each column before a model reads it (as loop_input_scale): the log2 magnitudes
/// / 32 and flags as they are, so that they lie in about [0, 1] as the encoded steps and the workload
/// vector do and a network's first layer weighs them alike; ratios that can pass 1 (a schedule asking for
/// more threads, shared memory or vector width than the device has) become log2(1 + ratio) / 4, so
/// that one outlier cannot dominate a batch. Trees do not depend on either.
inline constexpr std::array<float, kernel_dims> kernel_input_scale = [] {
  using namespace kernel_column;
  std::array<float, kernel_dims> scale{};
  scale.fill(1.0f / 32);
  for (std::size_t plain : {gpu, warp_fill, occupancy, wave_efficiency, register_fill, compute_share}) scale[plain] = 1.0f;
  for (std::size_t unbounded : {threads_fill, shared_fill, vthread_fill, fetch_vector_fill}) scale[unbounded] = 0.0f;
  return scale;
}();

/// `value` as the extractors write it: value × scale, or log2(1 + value) / 4 where the scale is 0.
[[nodiscard]] inline float scaled_input(float value, float scale) {
  return scale != 0.0f ? value * scale : static_cast<float>(std::log2(1.0 + std::max(0.0f, value)) / 4.0);
}

namespace kernel_features_detail {

using namespace loop_analysis;

[[nodiscard]] inline bool is_block(IteratorAnnotation a) noexcept {
  return a == IteratorAnnotation::block_x || a == IteratorAnnotation::block_y || a == IteratorAnnotation::block_z;
}
[[nodiscard]] inline bool is_thread(IteratorAnnotation a) noexcept {
  return a == IteratorAnnotation::thread_x || a == IteratorAnnotation::thread_y || a == IteratorAnnotation::thread_z;
}

/// A store and the loops around it (ids, outer to inner).
struct PlacedStore {
  const codegen::Stmt* store = nullptr;
  std::vector<std::int32_t> loops;
};

struct Walk {
  const codegen::LoopNest& nest;
  std::vector<PlacedStore> stores;
  struct Allocation {
    std::int32_t buffer = -1;
    std::int32_t root = -1;  ///< the outermost loop around it, -1 at the top level
    bool in_threads = false;  ///< inside a threadIdx loop
  };
  std::vector<Allocation> allocations;
  std::vector<std::int32_t> path;
  int thread_depth = 0;

  void visit(std::span<const codegen::Stmt> body) {
    for (const auto& s : body) {
      switch (s.kind) {
        case codegen::StmtKind::loop: {
          const bool thread = is_thread(nest.loops[static_cast<std::size_t>(s.loop)].annotation);
          path.push_back(s.loop);
          thread_depth += thread ? 1 : 0;
          visit(s.body);
          thread_depth -= thread ? 1 : 0;
          path.pop_back();
          break;
        }
        case codegen::StmtKind::store: stores.push_back({&s, path}); break;
        case codegen::StmtKind::allocate:
          allocations.push_back({s.buffer, path.empty() ? -1 : path.front(), thread_depth > 0});
          break;
      }
    }
  }
};

}  // namespace kernel_features_detail

/// The kernel vector of a lowered nest on `hardware` (kernel_column).
[[nodiscard]] inline std::array<float, kernel_dims> kernel_features(const codegen::LoopNest& nest,
                                                                   const hw::HardwareParams& hardware) {
  using namespace kernel_column;
  using namespace kernel_features_detail;
  std::array<float, kernel_dims> f{};
  auto extent = [&](std::int32_t loop) { return static_cast<double>(nest.loops[static_cast<std::size_t>(loop)].extent); };
  auto annotation = [&](std::int32_t loop) { return nest.loops[static_cast<std::size_t>(loop)].annotation; };

  bool bound = false;
  for (const auto& loop : nest.loops) bound |= is_block(loop.annotation) || is_thread(loop.annotation);
  if (!bound) return f;
  f[gpu] = 1.0f;

  // The stages with loops of their own bound to threadIdx: the cooperative fetches into shared memory.
  std::vector<std::uint8_t> fetching;
  for (const auto& loop : nest.loops) {
    if (loop.stage < 0 || !is_thread(loop.annotation)) continue;
    if (fetching.size() <= static_cast<std::size_t>(loop.stage)) fetching.resize(static_cast<std::size_t>(loop.stage) + 1, 0);
    fetching[static_cast<std::size_t>(loop.stage)] = 1;
  }
  auto shared = [&](std::int32_t buffer) {
    const auto& b = nest.buffers[static_cast<std::size_t>(buffer)];
    return b.kind == codegen::BufferKind::local && b.stage >= 0 && static_cast<std::size_t>(b.stage) < fetching.size() &&
           fetching[static_cast<std::size_t>(b.stage)] != 0;
  };

  Walk walk{nest, {}, {}, {}, 0};
  walk.visit(nest.body);
  if (walk.stores.empty()) return f;

  // The main store: the most operations, then the most iterations.
  auto trip_of = [&](const PlacedStore& p) {
    double t = 1;
    for (auto l : p.loops) t *= extent(l);
    return t;
  };
  const PlacedStore* main = nullptr;
  double main_trip = 0, main_ops = 0;
  for (const auto& p : walk.stores) {
    const double trip = trip_of(p), ops = static_cast<double>(count_ops(nest.pool, p.store->value));
    if (main == nullptr || trip * ops > main_trip * main_ops || (trip * ops == main_trip * main_ops && trip > main_trip)) {
      main = &p;
      main_trip = trip;
      main_ops = ops;
    }
  }
  // The kernel: the stores under the same outermost loop as the main store.
  const std::int32_t root = main->loops.empty() ? -1 : main->loops.front();
  auto in_kernel = [&](const PlacedStore& p) { return root < 0 ? p.loops.empty() : !p.loops.empty() && p.loops.front() == root; };

  double grid_size = 1, block = 1, virtual_threads = 1, unrolled = 1;
  for (auto l : main->loops) {
    const auto a = annotation(l);
    if (is_block(a)) grid_size *= extent(l);
    if (is_thread(a)) block *= extent(l);
    if (a == IteratorAnnotation::vthread) virtual_threads *= extent(l);
    if (nest.loops[static_cast<std::size_t>(l)].unroll || a == IteratorAnnotation::unroll) unrolled *= extent(l);
  }
  const double per_thread = main_trip / (grid_size * block);
  f[grid] = log2p(grid_size);
  f[threads] = log2p(block);
  f[vthreads] = log2p(virtual_threads);
  f[work_per_thread] = log2p(per_thread);
  f[flops_per_thread] = log2p(per_thread * main_ops);
  f[unroll] = log2p(unrolled);

  // Shared tiles: each fetch store's read over its own loops and the block's thread-bound loops.
  std::vector<std::int64_t> vars(nest.loops.size(), 0);
  std::vector<std::int32_t> refill_loops;  // loops around a fetch store
  double shared_elements = 0, fetched_elements = 0, fetch_iterations = 0, vector_extent = 0;
  bool any_fetch = false;
  for (const auto& p : walk.stores) {
    if (!in_kernel(p) || !shared(p.store->buffer)) continue;
    any_fetch = true;
    const std::int32_t stage = nest.buffers[static_cast<std::size_t>(p.store->buffer)].stage;
    std::vector<std::int32_t> tile_loops;
    double repeats = 1, own = 1;
    for (auto l : p.loops) {
      const auto& loop = nest.loops[static_cast<std::size_t>(l)];
      if (loop.stage == stage) {
        tile_loops.push_back(l);
        own *= extent(l);
        if (loop.annotation == IteratorAnnotation::vectorize) vector_extent = std::max(vector_extent, extent(l));
      } else if (is_thread(loop.annotation) || loop.annotation == IteratorAnnotation::vthread) {
        tile_loops.push_back(l);
      } else {
        repeats *= extent(l);
        refill_loops.push_back(l);
      }
    }
    std::vector<std::pair<std::int32_t, ir::ExprId>> loads;
    collect_loads(nest.pool, p.store->value, loads);
    double tile = own;  // without a read (a constant fill), the stage's own iterations
    if (!loads.empty()) {
      Access a;
      a.buffer = loads.front().first;
      a.index = nest.pool.args(loads.front().second);
      analyse_access(nest, tile_loops, a, vars);
      tile = a.footprint[0];
    }
    shared_elements += tile;
    fetched_elements += tile * repeats;
    fetch_iterations += own;
  }
  double register_elements = 0;
  for (const auto& a : walk.allocations)
    if (a.root == root && a.in_threads && !shared(a.buffer))
      register_elements += static_cast<double>(nest.buffers[static_cast<std::size_t>(a.buffer)].elements());

  // Reduction loops of the main store: those around a refill, and those within one tile.
  double outer = 1, inner = 1;
  for (auto l : main->loops) {
    if (nest.loops[static_cast<std::size_t>(l)].kind != schedule::IteratorKind::reduction) continue;
    if (std::find(refill_loops.begin(), refill_loops.end(), l) != refill_loops.end())
      outer *= extent(l);
    else
      inner *= extent(l);
  }
  f[reduction_outer] = log2p(outer);
  f[reduction_inner] = log2p(inner);

  // Global traffic: the shared tiles as fetched, or the main store's reads; and the outputs written.
  double global_elements = fetched_elements;
  if (!any_fetch) {
    std::vector<std::pair<std::int32_t, ir::ExprId>> loads;
    collect_loads(nest.pool, main->store->value, loads);
    for (const auto& [buffer, id] : loads) {
      const auto kind = nest.buffers[static_cast<std::size_t>(buffer)].kind;
      if (kind == codegen::BufferKind::local || buffer == main->store->buffer) continue;
      Access a;
      a.buffer = buffer;
      a.index = nest.pool.args(id);
      analyse_access(nest, main->loops, a, vars);
      global_elements += a.footprint[0];
    }
  }
  std::vector<std::int32_t> outputs;  // each written once, however many stores write it (an init and an update)
  for (const auto& p : walk.stores) {
    const auto& b = nest.buffers[static_cast<std::size_t>(p.store->buffer)];
    if (!in_kernel(p) || b.kind != codegen::BufferKind::output) continue;
    if (std::find(outputs.begin(), outputs.end(), p.store->buffer) != outputs.end()) continue;
    outputs.push_back(p.store->buffer);
    global_elements += static_cast<double>(b.elements());
  }
  const double kernel_flops = main_trip * main_ops, global = 4.0 * global_elements;
  f[shared_bytes] = log2p(4.0 * shared_elements);
  f[register_bytes] = log2p(4.0 * register_elements);
  f[fetch_per_thread] = log2p(fetch_iterations / block);
  f[fetch_vector] = log2p(vector_extent);
  f[global_bytes] = log2p(global);
  f[intensity] = log2p(kernel_flops / std::max(4.0, global));

  // Against the device.
  auto positive = [](auto v) { return static_cast<double>(v > 0 ? v : 0); };
  const double max_threads = positive(hardware.max_threads_per_block), warp = positive(hardware.warp_size);
  const double max_shared = positive(hardware.max_shared_memory_per_block), max_vthreads = positive(hardware.max_vthread_extent);
  if (max_threads > 0) f[threads_fill] = static_cast<float>(block / max_threads);
  if (warp > 0) {
    const double warp_count = std::ceil(block / warp);
    f[warps] = log2p(warp_count);
    f[warp_fill] = static_cast<float>(block / (warp_count * warp));
  }
  if (max_shared > 0) f[shared_fill] = static_cast<float>(4.0 * shared_elements / max_shared);
  if (max_vthreads > 0) f[vthread_fill] = static_cast<float>(virtual_threads / max_vthreads);
  if (hardware.vector_unit_bytes > 0) f[fetch_vector_fill] = static_cast<float>(4.0 * vector_extent / positive(hardware.vector_unit_bytes));
  const double registers = std::min(255.0, register_elements + 16.0);
  f[register_fill] = static_cast<float>(registers / 255.0);
  const double resident_threads = positive(hardware.hardware_threads), units = positive(hardware.compute_units);
  if (resident_threads > 0 && units > 0) {
    const double shared_per_unit = hardware.l1_bytes > 0 ? positive(hardware.l1_bytes) : max_shared;
    double resident = std::min(32.0, std::floor(resident_threads / block));
    if (shared_elements > 0 && shared_per_unit > 0) resident = std::min(resident, std::floor(shared_per_unit / (4.0 * shared_elements)));
    resident = std::min(resident, std::floor(65536.0 / (block * registers)));
    resident = std::max(1.0, resident);  // a block that fits no limit still runs (or fails to launch) alone
    const double slots = resident * units, rounds = std::ceil(grid_size / slots);
    f[resident_blocks] = log2p(resident);
    f[occupancy] = static_cast<float>(std::min(1.0, resident * block / resident_threads));
    f[blocks_per_unit] = log2p(grid_size / units);
    f[waves] = log2p(rounds);
    f[wave_efficiency] = static_cast<float>(grid_size / (rounds * slots));
  }
  const double compute_us = hardware.peak_fp32_gflops > 0 ? kernel_flops / (hardware.peak_fp32_gflops * 1e3) : 0.0;
  const double memory_us = hardware.memory_bandwidth_gbps > 0 ? global / (hardware.memory_bandwidth_gbps * 1e3) : 0.0;
  f[compute_time] = log2p(compute_us);
  f[memory_time] = log2p(memory_us);
  if (compute_us + memory_us > 0) f[compute_share] = static_cast<float>(compute_us / (compute_us + memory_us));
  return f;
}

}  // namespace crosstune::features
