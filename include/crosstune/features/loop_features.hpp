// crosstune/features/loop_features.hpp — loop-statistics features: what the lowered loop nest of a
// schedule does to each buffer, per store statement (a FeatureExtractor).
//
// The step sequence says what a schedule did; the loop nest says what the program does. For every store
// statement of the lowered nest (codegen/lower.hpp) this extractor measures, in the manner of Ansor's
// per-statement features (Zheng et al., OSDI'20, section 5.2): the work (trip count, floating-point
// operations), the loop structure (parallel extent and its balance over the cores, the vectorised loop and
// its width against the vector unit, the unrolled volume, the accumulator tile inside the innermost
// reduction loop against the register file) and, for the stored buffer and its three largest reads, the
// stride of the innermost and of the vectorised loop, the bytes touched, the reuse and the reuse distance.
// Joined with the hardware: the largest sub-nest whose working set fits the L1 and the L2 cache, with its
// arithmetic intensity there. Every magnitude is log2(1 + x); ratios to the hardware are plain.
//
// Strides and footprints come from evaluating each index at the loop bounds (exact for affine indices, an
// average slope for the floordiv/floormod ones that fused loops produce); footprints are bounding boxes
// clipped to the buffer.
//
// A record becomes a sequence of store vectors, largest work first (the FeatureBatch's steps, at most
// `max_stores`), its workload vector (features/workload_features.hpp) followed by the vector of its largest
// store again (so that models pooling the sequence still see that one whole) and by the kernel vector of a
// GPU schedule (features/kernel_features.hpp: launch configuration and its fit to the device; zeros for a
// CPU schedule), and the hardware vector. The extractor scales the store and kernel columns for the models
// (loop_input_scale, kernel_input_scale: log2 magnitudes / 32); loop_features() and kernel_features()
// return them unscaled. Records whose DAG cannot be rebuilt from the workload key, or
// whose steps do not replay or lower, get one zero store vector (and kernel vector) and are counted
// (`unreplayed()`).
//
//   crosstune::features::LoopFeatureExtractor extractor;
//   crosstune::features::FeatureBatch batch;
//   extractor.extract(records, crosstune::hw::probe_host().params, batch).value();
//
// One extractor per thread: it keeps the rebuilt DAGs.
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crosstune/codegen/lower.hpp"
#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/features/kernel_features.hpp"
#include "crosstune/features/loop_analysis.hpp"
#include "crosstune/features/step_encoding.hpp"
#include "crosstune/features/step_sequence_extractor.hpp"
#include "crosstune/features/workload_features.hpp"
#include "crosstune/hw/hardware_params.hpp"
#include "crosstune/schedule/replay.hpp"

namespace crosstune::features {

/// Bumped whenever a column of the store vector changes meaning.
inline constexpr int loop_features_version = 2;  // 2: the kernel vector joined in the workload vector

/// Accesses described per store: the stored buffer and its three largest reads.
inline constexpr std::size_t loop_access_slots = 4;

/// Columns of one store vector.
namespace loop_column {
enum : std::size_t {
  trip,             ///< log2(1 + iterations of the statement)
  ops,              ///< floating-point operations per iteration
  flops,            ///< log2(1 + trip × ops)
  reduction,        ///< 1: an update inside reduction loops (the stored buffer is also read)
  init,             ///< 1: a store of a value without reads (a reduction's initialisation)
  guarded,          ///< 1: the store has a condition (a remainder or padding guard)
  loops,            ///< enclosing loops
  parallel,         ///< log2(1 + product of the parallel loops' extents)
  parallel_balance, ///< parallel extent / (rounds over the cores × cores): 1 when the cores share it evenly
  vector,           ///< log2(1 + the vectorised loop's extent), 0 without one
  vector_fill,      ///< vectorised bytes / vector unit bytes
  vector_tail,      ///< 1: the vectorised extent is not a multiple of the vector lanes
  unroll,           ///< log2(1 + product of the unrolled loops' extents)
  inner,            ///< log2(1 + the innermost loop's extent)
  inner_reduction,  ///< 1: the innermost loop is a reduction loop
  tile,             ///< log2(1 + elements of the spatial loops inside the innermost reduction loop)
  tile_registers,   ///< those elements' bytes / the vector register file (32 or 16 registers)
  l1_trip,          ///< log2(1 + iterations of the largest sub-nest whose working set fits the L1)
  l1_intensity,     ///< log2(1 + its operations per byte touched)
  l2_trip,          ///< the same for the L2
  l2_intensity,
  footprint,        ///< log2(1 + bytes the statement touches over all its loops)
  access,           ///< first column of the access slots, `per_access` columns each
  count = access + loop_access_slots * 8,
};
}  // namespace loop_column

/// Columns of one access slot, from loop_column::access + slot × per_access.
namespace access_column {
enum : std::size_t {
  present,          ///< 1: the slot holds an access
  inner_stride,     ///< log2(1 + |elements between the innermost loop's iterations|)
  vector_stride,    ///< the same for the vectorised loop (the innermost when none)
  contiguous,       ///< 1: the vectorised (or innermost) loop walks it with stride 1
  invariant,        ///< 1: the vectorised (or innermost) loop does not move it
  bytes,            ///< log2(1 + bytes of it touched over all loops)
  reuse,            ///< log2(1 + iterations / elements touched): how often each element is used
  reuse_distance,   ///< log2(1 + bytes of it touched between two uses of an element), 0 without reuse
  per_access,
};
}  // namespace access_column

inline constexpr std::size_t loop_store_dims = loop_column::count;
/// How LoopFeatureExtractor scales each store column (scaled_input in features/kernel_features.hpp): the log2
/// magnitudes / 32, operations per iteration / 8, enclosing loops / 16, flags and bounded ratios as they
/// are, and log2(1 + ratio) / 4 for the ratios that can pass 1 (vector and register-file fill).
inline constexpr std::array<float, loop_store_dims> loop_input_scale = [] {
  using namespace loop_column;
  std::array<float, loop_store_dims> scale{};
  scale.fill(1.0f / 32);
  for (std::size_t plain : {reduction, init, guarded, parallel_balance, vector_tail, inner_reduction}) scale[plain] = 1.0f;
  for (std::size_t unbounded : {vector_fill, tile_registers}) scale[unbounded] = 0.0f;
  scale[ops] = 1.0f / 8;
  scale[loops] = 1.0f / 16;
  for (std::size_t slot = 0; slot < loop_access_slots; ++slot) {
    const std::size_t base = access + slot * access_column::per_access;
    for (std::size_t plain : {access_column::present, access_column::contiguous, access_column::invariant}) scale[base + plain] = 1.0f;
  }
  return scale;
}();

/// The joined workload vector of the "loops" and "steps+loops" layouts: the workload vector, the largest
/// store's vector, the kernel vector (features/kernel_features.hpp).
inline constexpr std::size_t loop_workload_dims = workload_dims + loop_store_dims + kernel_dims;
static_assert(access_column::per_access == 8, "loop_column::count assumes 8 columns per access");

namespace loop_features_detail {

using namespace loop_analysis;

/// The store vector of `store` inside `loops`.
inline std::array<float, loop_store_dims> store_features(const codegen::LoopNest& nest, const codegen::Stmt& store,
                                                         std::span<const std::int32_t> loops, const hw::HardwareParams& hardware,
                                                         std::vector<std::int64_t>& vars) {
  using namespace loop_column;
  std::array<float, loop_store_dims> f{};
  const std::size_t n = loops.size();
  auto loop_at = [&](std::size_t j) -> const codegen::Loop& { return nest.loops[static_cast<std::size_t>(loops[j])]; };
  auto extent = [&](std::size_t j) { return static_cast<double>(loop_at(j).extent); };
  std::vector<double> inside(n + 1, 1.0);  // iterations of the loops from level k inward
  for (std::size_t k = n; k-- > 0;) inside[k] = inside[k + 1] * extent(k);
  const double trip = inside[0];
  const auto ops = static_cast<double>(count_ops(nest.pool, store.value));

  std::vector<std::pair<std::int32_t, ir::ExprId>> loads;
  collect_loads(nest.pool, store.value, loads);
  std::vector<Access> accesses(1);
  accesses[0].buffer = store.buffer;
  accesses[0].index = store.index;
  bool updates = false;
  for (const auto& [buffer, id] : loads) {
    if (buffer == store.buffer) {
      updates = true;
      continue;
    }
    Access a;
    a.buffer = buffer;
    a.index = nest.pool.args(id);
    accesses.push_back(a);
  }
  for (auto& a : accesses) analyse_access(nest, loops, a, vars);
  // The reads, largest first (ties by buffer, so the order does not depend on the expression's shape).
  std::stable_sort(accesses.begin() + 1, accesses.end(), [](const Access& x, const Access& y) {
    return x.footprint[0] != y.footprint[0] ? x.footprint[0] > y.footprint[0] : x.buffer < y.buffer;
  });

  f[loop_column::trip] = log2p(trip);
  f[loop_column::ops] = static_cast<float>(ops);
  f[flops] = log2p(trip * ops);
  bool in_reduction = false;
  for (std::size_t j = 0; j < n; ++j) in_reduction |= loop_at(j).kind == schedule::IteratorKind::reduction;
  f[reduction] = updates && in_reduction ? 1.0f : 0.0f;
  f[init] = loads.empty() ? 1.0f : 0.0f;
  f[guarded] = store.condition != ir::no_expr ? 1.0f : 0.0f;
  f[loop_column::loops] = static_cast<float>(n);

  const double cores = static_cast<double>(std::max<std::int64_t>(1, hardware.num_cores));
  const double vector_bytes = static_cast<double>(hardware.vector_unit_bytes > 0 ? hardware.vector_unit_bytes : 32);
  const double lanes = std::max(1.0, vector_bytes / 4.0);
  double parallel_extent = 1, unrolled = 1;
  std::ptrdiff_t vectorised = -1, innermost_reduction = -1;
  for (std::size_t j = 0; j < n; ++j) {
    const auto& loop = loop_at(j);
    if (loop.annotation == IteratorAnnotation::parallel) parallel_extent *= extent(j);
    if (loop.unroll || loop.annotation == IteratorAnnotation::unroll) unrolled *= extent(j);
    if (loop.annotation == IteratorAnnotation::vectorize) vectorised = static_cast<std::ptrdiff_t>(j);
    if (loop.kind == schedule::IteratorKind::reduction) innermost_reduction = static_cast<std::ptrdiff_t>(j);
  }
  f[parallel] = log2p(parallel_extent);
  f[parallel_balance] = static_cast<float>(parallel_extent / (std::ceil(parallel_extent / cores) * cores));
  if (vectorised >= 0) {
    const double v = extent(static_cast<std::size_t>(vectorised));
    f[vector] = log2p(v);
    f[vector_fill] = static_cast<float>(v * 4.0 / vector_bytes);
    f[vector_tail] = std::fmod(v, lanes) != 0.0 ? 1.0f : 0.0f;
  }
  f[unroll] = log2p(unrolled);
  if (n > 0) {
    f[inner] = log2p(extent(n - 1));
    f[inner_reduction] = loop_at(n - 1).kind == schedule::IteratorKind::reduction ? 1.0f : 0.0f;
  }
  if (innermost_reduction >= 0) {
    double tile_elements = 1;
    for (std::size_t j = static_cast<std::size_t>(innermost_reduction) + 1; j < n; ++j)
      if (loop_at(j).kind != schedule::IteratorKind::reduction) tile_elements *= extent(j);
    const double registers = vector_bytes >= 64 ? 32 : 16;  // AVX-512 has 32 vector registers, SSE/AVX2 16
    f[tile] = log2p(tile_elements);
    f[tile_registers] = static_cast<float>(tile_elements * 4.0 / (registers * vector_bytes));
  }

  // Working sets: the bytes the statement touches from each level inward, against the caches.
  auto working_set = [&](std::size_t k) {
    double bytes = 0;
    for (const auto& a : accesses) bytes += a.footprint[k] * 4.0;
    return bytes;
  };
  auto fit = [&](double cache_bytes, std::size_t trip_column, std::size_t intensity_column) {
    for (std::size_t k = 0; k <= n; ++k) {
      const double bytes = working_set(k);
      if (bytes <= cache_bytes || k == n) {
        f[trip_column] = log2p(inside[k]);
        f[intensity_column] = log2p(ops * inside[k] / std::max(4.0, bytes));
        return;
      }
    }
  };
  fit(static_cast<double>(hardware.l1_bytes > 0 ? hardware.l1_bytes : 32 * 1024), l1_trip, l1_intensity);
  fit(static_cast<double>(hardware.l2_bytes > 0 ? hardware.l2_bytes : 1024 * 1024), l2_trip, l2_intensity);
  f[footprint] = log2p(working_set(0));

  const auto vector_level = vectorised >= 0 ? static_cast<std::size_t>(vectorised) : (n > 0 ? n - 1 : 0);
  for (std::size_t slot = 0; slot < loop_access_slots && slot < accesses.size(); ++slot) {
    const Access& a = accesses[slot];
    float* c = f.data() + access + slot * access_column::per_access;
    c[access_column::present] = 1.0f;
    if (n > 0) {
      c[access_column::inner_stride] = log2p(std::abs(a.stride[n - 1]));
      const double v = std::abs(a.stride[vector_level]);
      c[access_column::vector_stride] = log2p(v);
      c[access_column::contiguous] = v == 1.0 ? 1.0f : 0.0f;
      c[access_column::invariant] = v == 0.0 ? 1.0f : 0.0f;
    }
    c[access_column::bytes] = log2p(a.footprint[0] * 4.0);
    c[access_column::reuse] = log2p(trip / a.footprint[0]);
    // Reuse distance: the innermost loop that does not move the access; between two uses of an element
    // the loops inside it run once over their footprint.
    for (std::size_t k = n; k-- > 0;) {
      bool moves = false;
      for (std::size_t d = 0; d < a.index.size(); ++d) moves |= a.slope[d * n + k] != 0.0;
      if (!moves && extent(k) > 1) {
        c[access_column::reuse_distance] = log2p(a.footprint[k + 1] * 4.0);
        break;
      }
    }
  }
  return f;
}

/// Walks the nest: the vector of every store with the loops around it.
inline void collect_stores(const codegen::LoopNest& nest, std::span<const codegen::Stmt> body, std::vector<std::int32_t>& loops,
                           const hw::HardwareParams& hardware, std::vector<std::int64_t>& vars,
                           std::vector<std::array<float, loop_store_dims>>& out) {
  for (const auto& s : body) {
    switch (s.kind) {
      case codegen::StmtKind::loop:
        loops.push_back(s.loop);
        collect_stores(nest, s.body, loops, hardware, vars, out);
        loops.pop_back();
        break;
      case codegen::StmtKind::store: out.push_back(store_features(nest, s, loops, hardware, vars)); break;
      case codegen::StmtKind::allocate: break;
    }
  }
}

}  // namespace loop_features_detail

/// The store vectors of a lowered nest on `hardware`, largest work (loop_column::flops, then trip) first.
[[nodiscard]] inline std::vector<std::array<float, loop_store_dims>> loop_features(const codegen::LoopNest& nest,
                                                                                   const hw::HardwareParams& hardware) {
  std::vector<std::array<float, loop_store_dims>> out;
  std::vector<std::int32_t> loops;
  std::vector<std::int64_t> vars(nest.loops.size(), 0);
  loop_features_detail::collect_stores(nest, nest.body, loops, hardware, vars, out);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a[loop_column::flops] != b[loop_column::flops] ? a[loop_column::flops] > b[loop_column::flops]
                                                          : a[loop_column::trip] > b[loop_column::trip];
  });
  return out;
}

struct LoopFeatureOptions {
  std::size_t max_stores = 8;  ///< store vectors kept per record, largest work first
  /// The sequence is the schedule's steps (features/step_encoding.hpp, the first `max_steps`) instead of
  /// the stores: layout "steps+loops", the loop statistics of the largest store joined in the workload vector.
  bool with_steps = false;
  std::size_t max_steps = 64;
  bool parallel = true;  ///< TBB over records; the result is bit-identical to a serial run
};

class LoopFeatureExtractor {
 public:
  static constexpr int version = loop_features_version * 100 + workload_encoding_version * 10 + hw::hardware_feature_version;

  explicit LoopFeatureExtractor(LoopFeatureOptions options = {}) : options_(options) {
    options_.max_stores = std::max<std::size_t>(1, options_.max_stores);
    options_.max_steps = std::clamp<std::size_t>(options_.max_steps, 1, max_steps_limit);
  }

  [[nodiscard]] const LoopFeatureOptions& options() const noexcept { return options_; }

  [[nodiscard]] FeatureLayout layout() const {
    if (options_.with_steps)
      return {"steps+loops", version, step_dims, options_.max_steps, loop_workload_dims, hw::HardwareParams::feature_count};
    return {"loops", version, loop_store_dims, options_.max_stores, loop_workload_dims, hw::HardwareParams::feature_count};
  }

  /// Records measured on one hardware.
  [[nodiscard]] Expected<void> extract(std::span<const Record> records, const hw::HardwareParams& hardware, FeatureBatch& out) {
    return extract_impl(records, [&](std::size_t) -> const hw::HardwareParams& { return hardware; }, out);
  }

  /// Records of mixed hardware: hardware[i] describes records[i].
  [[nodiscard]] Expected<void> extract(std::span<const Record> records, std::span<const hw::HardwareParams> hardware, FeatureBatch& out) {
    if (hardware.size() != records.size())
      return unexpected(Error(ErrorKind::invalid_argument, "extract: " + std::to_string(hardware.size()) + " hardware descriptors for " +
                                                               std::to_string(records.size()) + " records"));
    return extract_impl(records, [&](std::size_t i) -> const hw::HardwareParams& { return hardware[i]; }, out);
  }

  /// Records of the last extract() that got a zero vector: no DAG for their key, or steps that do not
  /// replay or lower.
  [[nodiscard]] std::size_t unreplayed() const noexcept { return unreplayed_; }

 private:
  struct TaskEntry {
    std::shared_ptr<const ir::ComputeDag> dag;  ///< null when the key does not rebuild
    std::vector<float> workload;
  };

  template <class HardwareOf>
  Expected<void> extract_impl(std::span<const Record> records, HardwareOf hardware_of, FeatureBatch& out) {
    // DAGs and workload vectors once per task, serially, so the parallel part only reads.
    entries_.resize(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      const Task* task = records[i].task.get();
      if (task == nullptr) return unexpected(Error(ErrorKind::invalid_argument, "record " + std::to_string(i) + " has no task"));
      auto [it, inserted] = tasks_.try_emplace(task);
      if (inserted) {
        owners_.push_back(records[i].task);
        auto dag = replayer_.dag(task->workload_key);
        if (dag) it->second.dag = *dag;
        it->second.workload.resize(workload_dims);
        encode_workload(task->workload_key, it->second.workload.data());
      }
      entries_[i] = &it->second;
    }

    const FeatureLayout shape = layout();
    out.reshape(records.size(), shape);
    const std::size_t S = shape.max_steps, D = shape.step_dims, W = shape.workload_dims, H = hw::HardwareParams::feature_count;
    std::vector<std::uint8_t> failed(records.size(), 0);
    auto fill = [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) {
        const hw::HardwareParams& hardware = hardware_of(i);
        std::vector<std::array<float, loop_store_dims>> stores;
        std::array<float, kernel_dims> kernel{};
        if (const TaskEntry* e = entries_[i]; e->dag) {
          schedule::State state(e->dag);
          if (state.apply(records[i].steps)) {
            if (auto nest = codegen::lower(state)) {
              stores = loop_features(*nest, hardware);
              kernel = kernel_features(*nest, hardware);
            }
          }
        }
        if (stores.empty()) {
          failed[i] = 1;
          stores.emplace_back();
        }
        const std::size_t length = options_.with_steps ? records[i].steps.size() : stores.size();
        const std::size_t kept = std::min(length, S);
        float* steps = out.steps.data() + i * S * D;
        float* mask = out.mask.data() + i * S;
        for (std::size_t s = 0; s < kept; ++s) {
          if (options_.with_steps)
            encode_step(records[i].steps[s], s, length, steps + s * D);
          else
            for (std::size_t d = 0; d < loop_store_dims; ++d) steps[s * D + d] = scaled_input(stores[s][d], loop_input_scale[d]);
          mask[s] = 1.0f;
        }
        std::fill(steps + kept * D, steps + S * D, 0.0f);
        std::fill(mask + kept, mask + S, 0.0f);
        float* workload = out.workload.data() + i * W;
        std::copy(entries_[i]->workload.begin(), entries_[i]->workload.end(), workload);
        for (std::size_t d = 0; d < loop_store_dims; ++d) workload[workload_dims + d] = scaled_input(stores[0][d], loop_input_scale[d]);
        for (std::size_t d = 0; d < kernel_dims; ++d) workload[workload_dims + loop_store_dims + d] = scaled_input(kernel[d], kernel_input_scale[d]);
        const auto hw_features = hardware.to_features();
        std::copy(hw_features.begin(), hw_features.end(), out.hardware.data() + i * H);
        out.lengths[i] = static_cast<std::uint32_t>(kept);
        out.truncated[i] = static_cast<std::uint32_t>(length - kept);
      }
    };
    if (options_.parallel && records.size() > 64) {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, records.size(), 32),
                        [&](const tbb::blocked_range<std::size_t>& range) { fill(range.begin(), range.end()); });
    } else {
      fill(0, records.size());
    }
    unreplayed_ = static_cast<std::size_t>(std::count(failed.begin(), failed.end(), std::uint8_t{1}));
    return {};
  }

  LoopFeatureOptions options_;
  schedule::Replayer replayer_;
  std::unordered_map<const Task*, TaskEntry> tasks_;
  std::vector<std::shared_ptr<const Task>> owners_;
  std::vector<const TaskEntry*> entries_;
  std::size_t unreplayed_ = 0;
};

}  // namespace crosstune::features
