// crosstune/features/launch_features.hpp — a schedule's launch configuration, read from its steps alone.
//
// kernel_features() derives a GPU kernel's grid, block and tiles from the lowered loop nest, which needs
// the compute DAG: records of workloads crosstune cannot rebuild (the fused, hash-keyed tasks that
// network tuning logs are made of) get zeros there. The steps carry most of the same facts on their own:
// every split step records the extent it split, the annotation steps name the iterators bound to blocks,
// threads, virtual threads, vector lanes and cores. launch_features() replays the steps over iterators
// whose extents are only known once a split names them (an abstract replay: no DAG, unknown iterators
// are placeholders that grow as steps refer to them) and reads the bound extents off the result:
//
//   grid (blocks), threads per block and virtual threads, GPU: the products of the extents bound to
//     blockIdx.*, threadIdx.* and vthread on the kernel's stage (the one carrying the unroll pragma, which
//     Ansor puts on reduction stages, else the one with the largest grid);
//   parallel extent, CPU: the product of the extents annotated parallel on one stage (the largest);
//   vector lanes: the largest vectorised extent; unroll: the largest auto_unroll_max_step pragma;
//   register tile and reduction tiling: from the multi-level tiling splits (Ansor's GPU sketch splits a
//     spatial loop in five levels, four lengths, and a reduction loop in three, two lengths; the CPU
//     sketch in four and three): the product over spatial splits of the innermost two lengths, and over
//     reduction splits the outer count and the product of the lengths;
//   and against the device: threads / max threads per block, warp fill of the last warp, blocks per
//     compute unit, the efficiency of the last wave, vthreads / max, parallel extent / cores and the
//     balance of its last round, vector bytes / vector unit.
// Unknown extents (a split of an iterator the log did not size) leave their products unknown: the
// column is 0 and its *_known flag says so. Magnitudes are log2(1 + x) / scale, ratios as they are (in
// [0, 1]) or log2(1 + r) / 4 when unbounded. tests/unit/test_launch_features.cpp checks a K80 matmul
// schedule's values against the lowered nest's kernel vector and hand-derived figures.
//
//   std::array<float, crosstune::features::launch_dims> row{};
//   crosstune::features::launch_features(record.steps, hardware, row);
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <tuple>
#include <vector>

#include "crosstune/core/step.hpp"
#include "crosstune/hw/hardware_params.hpp"

namespace crosstune::features {

inline constexpr int launch_features_version = 1;

namespace launch_column {
inline constexpr std::size_t gpu = 0;               ///< 1 when a block or thread binding was found
inline constexpr std::size_t grid = 1;              ///< log2(1 + blocks) / 24
inline constexpr std::size_t threads = 2;           ///< log2(1 + threads per block) / 11
inline constexpr std::size_t vthreads = 3;          ///< log2(1 + virtual threads) / 6
inline constexpr std::size_t launch_known = 4;      ///< 1 when grid and threads are both known
inline constexpr std::size_t threads_fill = 5;      ///< threads / max_threads_per_block
inline constexpr std::size_t warp_fill = 6;         ///< threads / (warps * warp size)
inline constexpr std::size_t blocks_per_unit = 7;   ///< log2(1 + blocks / compute units) / 4
inline constexpr std::size_t wave_efficiency = 8;   ///< blocks / (waves * blocks one wave holds)
inline constexpr std::size_t vthread_fill = 9;      ///< vthreads / max_vthread_extent
inline constexpr std::size_t parallel = 10;         ///< CPU: log2(1 + parallel extent) / 16
inline constexpr std::size_t parallel_per_core = 11;  ///< log2(1 + parallel extent / cores) / 4
inline constexpr std::size_t parallel_balance = 12;   ///< extent / (rounds * cores)
inline constexpr std::size_t vector = 13;             ///< log2(1 + vector lanes) / 6
inline constexpr std::size_t vector_fill = 14;        ///< 4 bytes * lanes / vector_unit_bytes, log2(1 + r) / 4
inline constexpr std::size_t unroll = 15;             ///< log2(1 + auto_unroll_max_step) / 11
inline constexpr std::size_t register_tile = 16;      ///< log2(1 + spatial tile per thread) / 10
inline constexpr std::size_t reduction_outer = 17;    ///< log2(1 + outer reduction iterations) / 16
inline constexpr std::size_t reduction_inner = 18;    ///< log2(1 + reduction tile) / 10
inline constexpr std::size_t tiling_known = 19;       ///< 1 when a multi-level tiling was found and sized
inline constexpr std::size_t count = 20;
}  // namespace launch_column

inline constexpr std::size_t launch_dims = launch_column::count;

/// The raw figures behind the columns (extents as numbers, 0 when unknown), for tests and tools.
struct LaunchSummary {
  bool gpu = false;
  double grid = 0, threads = 0, vthreads = 0;  ///< GPU; 0: unknown (vthreads: 1 when none is bound)
  double parallel = 0;                         ///< CPU parallel extent; 0: none or unknown
  double vector_lanes = 0, unroll = 0;
  double register_tile = 0, reduction_outer = 0, reduction_inner = 0;  ///< 0: no sized tiling
};

namespace detail {

/// One iterator of the abstract replay: its extent, 0 when unknown.
struct LaunchIter {
  double extent = 0;
};

class LaunchReplay {
 public:
  explicit LaunchReplay(const StepSequence& steps) : steps_(steps) {
    for (std::size_t i = 0; i < steps.size(); ++i)
      apply(steps[i]);
  }

  [[nodiscard]] LaunchSummary summary() const {
    LaunchSummary s;
    // The kernel's stage (before()) gives grid, threads and vthreads.
    const Binding* main = nullptr;
    for (const auto& b : bindings_) {
      if (b.blocks_bound || b.threads_bound) s.gpu = true;
      if (!b.blocks_bound && !b.threads_bound) continue;
      if (main == nullptr || before(*main, b)) main = &b;
    }
    if (main != nullptr) {
      s.grid = main->blocks_bound ? main->blocks : 1;
      s.threads = main->threads_bound ? main->threads : 1;
      s.vthreads = main->vthreads_bound ? main->vthreads : 1;
    }
    for (const auto& b : bindings_)
      if (b.parallel_bound) s.parallel = std::max(s.parallel, b.parallel);
    s.vector_lanes = vector_lanes_;
    s.unroll = unroll_;
    // Multi-level tiling: the stage with the most spatial splits of four (GPU) or three (CPU) lengths.
    const std::size_t spatial_lengths = s.gpu ? 4 : 3, reduction_lengths = 2;
    std::size_t best_stage = 0, best_count = 0;
    for (std::size_t st = 0; st < tilings_.size(); ++st) {
      std::size_t n = 0;
      for (const auto& t : tilings_[st])
        n += t.lengths.size() == spatial_lengths;
      if (n > best_count) best_count = n, best_stage = st;
    }
    if (best_count > 0) {
      double tile = 1, outer = 1, inner = 1;
      bool known = true;
      for (const auto& t : tilings_[best_stage]) {
        double product = 1;
        for (auto l : t.lengths)
          product *= l;
        if (product <= 0) known = false;
        if (t.lengths.size() == spatial_lengths) {
          tile *= t.lengths[spatial_lengths - 2] * t.lengths[spatial_lengths - 1];
        } else if (t.lengths.size() == reduction_lengths) {
          inner *= product;
          if (t.extent <= 0 || product <= 0) known = false;
          else outer *= std::ceil(t.extent / product);
        }
      }
      if (known && tile > 0) {
        s.register_tile = tile;
        s.reduction_outer = outer;
        s.reduction_inner = inner;
      }
    }
    return s;
  }

 private:
  struct Binding {
    double blocks = 1, threads = 1, vthreads = 1, parallel = 1;
    bool blocks_bound = false, threads_bound = false, vthreads_bound = false, parallel_bound = false;
    bool blocks_known = true, threads_known = true, vthreads_known = true, parallel_known = true;
    bool unrolled = false;  ///< an auto_unroll_max_step pragma is on the stage
  };
  struct Tiling {
    double extent = 0;
    std::vector<double> lengths;
  };
  /// The kernel's stage: the one Ansor gave the unroll pragma (its reduction stage, where a workload
  /// has several kernels) first, then one with blocks bound, the larger grid, more threads.
  static bool before(const Binding& a, const Binding& b) {
    return std::tuple(a.unrolled, a.blocks_bound, a.blocks_bound ? a.blocks : 0.0, a.threads_bound ? a.threads : 0.0) <
           std::tuple(b.unrolled, b.blocks_bound, b.blocks_bound ? b.blocks : 0.0, b.threads_bound ? b.threads : 0.0);
  }

  std::vector<LaunchIter>& stage(std::int64_t id) {
    const auto i = static_cast<std::size_t>(std::max<std::int64_t>(id, 0));
    if (i >= stages_.size()) stages_.resize(i + 1), bindings_.resize(i + 1), tilings_.resize(i + 1);
    return stages_[i];
  }
  LaunchIter& iter(std::int64_t stage_id, std::int64_t id) {
    auto& its = stage(stage_id);
    const auto i = static_cast<std::size_t>(std::max<std::int64_t>(id, 0));
    if (i >= its.size()) its.resize(i + 1);
    return its[i];
  }
  void insert_stage(std::int64_t at) {
    const auto i = static_cast<std::size_t>(std::max<std::int64_t>(at, 0));
    stage(at);  // grows the three tables to hold `at`
    stages_.insert(stages_.begin() + static_cast<std::ptrdiff_t>(i), std::vector<LaunchIter>{});
    bindings_.insert(bindings_.begin() + static_cast<std::ptrdiff_t>(i), Binding{});
    tilings_.insert(tilings_.begin() + static_cast<std::ptrdiff_t>(i), std::vector<Tiling>{});
  }
  /// Replaces iterator `id` of the stage by the parts of splitting `extent` by `lengths`.
  void split(std::int64_t stage_id, std::int64_t id, double extent, const std::vector<double>& lengths,
             bool inner_to_outer) {
    iter(stage_id, id);
    auto& its = stages_[static_cast<std::size_t>(std::max<std::int64_t>(stage_id, 0))];
    double product = 1;
    for (double l : lengths)
      product = l > 0 && product > 0 ? product * l : 0;
    const double rest = extent > 0 && product > 0 ? std::ceil(extent / product) : 0;
    std::vector<LaunchIter> parts;
    if (inner_to_outer) parts.push_back({rest});
    for (double l : lengths)
      parts.push_back({std::max(l, 0.0)});
    if (!inner_to_outer) parts.push_back({rest});
    const auto at = its.begin() + std::max<std::int64_t>(id, 0);
    its.insert(its.erase(at), parts.begin(), parts.end());
  }
  static std::vector<double> as_doubles(std::span<const std::int64_t> v) {
    std::vector<double> out;
    for (auto x : v)
      out.push_back(x > 0 ? static_cast<double>(x) : 0.0);
    return out;
  }

  /// Stage and iterator ids beyond this are malformed (Ansor's largest have a few dozen): such a step is
  /// skipped rather than growing the tables to its size.
  static constexpr std::int64_t max_id = 4096;

  [[nodiscard]] static bool ids_in_range(const StepView& step) {
    const auto& d = step.data();
    if (d.stage_id > max_id || d.iter_id > max_id) return false;
    if (d.kind == StepKind::fuse || d.kind == StepKind::reorder)
      for (auto id : step.list())
        if (id > max_id) return false;
    return true;
  }

  void apply(const StepView& step) {
    const auto& d = step.data();
    if (!ids_in_range(step)) return;
    switch (d.kind) {
      case StepKind::split: {
        const auto lengths = as_doubles(step.lengths());
        const double extent = d.first > 0 ? static_cast<double>(d.first) : iter(d.stage_id, d.iter_id).extent;
        split(d.stage_id, d.iter_id, extent, lengths, d.flag);
        tilings_[static_cast<std::size_t>(std::max<std::int64_t>(d.stage_id, 0))].push_back({extent, lengths});
        break;
      }
      case StepKind::follow_split: {
        // n_split lengths: the first n_split - 1 of the followed split's, then the product of the rest;
        // the followed split's extent when this iterator's is unknown (the same loop in another stage).
        const auto src = step.src_step_id(), n = std::max<std::int64_t>(step.n_split(), 1);
        if (src < 0 || static_cast<std::size_t>(src) >= steps_.size() || steps_[static_cast<std::size_t>(src)].kind() != StepKind::split) {
          split(d.stage_id, d.iter_id, 0, std::vector<double>(static_cast<std::size_t>(n), 0.0), true);
          break;
        }
        const auto followed = steps_[static_cast<std::size_t>(src)];
        const auto all = as_doubles(followed.lengths());
        std::vector<double> lengths;
        std::size_t j = 0;
        for (; j + 1 < static_cast<std::size_t>(n) && j < all.size(); ++j)
          lengths.push_back(all[j]);
        double last = 1;
        for (; j < all.size(); ++j)
          last = last > 0 && all[j] > 0 ? last * all[j] : 0;
        lengths.push_back(last);
        double extent = iter(d.stage_id, d.iter_id).extent;
        if (extent <= 0 && followed.extent() > 0) extent = static_cast<double>(followed.extent());
        split(d.stage_id, d.iter_id, extent, lengths, true);
        break;
      }
      case StepKind::follow_fused_split: {
        // Split in two by the product of the followed splits' lengths at `level`.
        double factor = 1;
        for (auto src : step.src_step_ids()) {
          if (src < 0 || static_cast<std::size_t>(src) >= steps_.size() || steps_[static_cast<std::size_t>(src)].kind() != StepKind::split) {
            factor = 0;
            continue;
          }
          const auto l = steps_[static_cast<std::size_t>(src)].lengths();
          const auto level = static_cast<std::size_t>(std::max<std::int64_t>(step.level(), 0));
          factor = level < l.size() && l[level] > 0 && factor > 0 ? factor * static_cast<double>(l[level]) : 0;
        }
        const double extent = iter(d.stage_id, d.iter_id).extent;
        split(d.stage_id, d.iter_id, extent, {factor}, step.factor_or_nparts());
        break;
      }
      case StepKind::fuse: {
        const auto ids = step.fused_ids();
        if (ids.empty()) break;
        double extent = 1;
        for (auto id : ids) {
          const double e = iter(d.stage_id, id).extent;  // every id, so the list holds them all
          extent = extent > 0 && e > 0 ? extent * e : 0;
        }
        auto& its = stages_[static_cast<std::size_t>(std::max<std::int64_t>(d.stage_id, 0))];
        const auto [lo, hi] = std::minmax_element(ids.begin(), ids.end());
        const auto first = static_cast<std::size_t>(std::max<std::int64_t>(*lo, 0));
        const auto last = static_cast<std::size_t>(std::max<std::int64_t>(*hi, 0));
        its.erase(its.begin() + static_cast<std::ptrdiff_t>(first) + 1, its.begin() + static_cast<std::ptrdiff_t>(last) + 1);
        its[first].extent = extent;
        break;
      }
      case StepKind::reorder: {
        const auto order = step.after_ids();
        std::vector<LaunchIter> reordered;
        for (auto id : order)
          reordered.push_back(iter(d.stage_id, id));
        auto& its = stages_[static_cast<std::size_t>(std::max<std::int64_t>(d.stage_id, 0))];
        if (reordered.size() <= its.size()) std::copy(reordered.begin(), reordered.end(), its.begin());
        break;
      }
      case StepKind::annotation: annotate(d.stage_id, iter(d.stage_id, d.iter_id).extent, d.annotation); break;
      case StepKind::pragma: {
        constexpr std::string_view prefix = "auto_unroll_max_step$";
        const std::string_view text = step.text();
        std::int64_t value = 0;
        if (text.starts_with(prefix) &&
            std::from_chars(text.data() + prefix.size(), text.data() + text.size(), value).ec == std::errc{} && value > 0)
          unroll_ = std::max(unroll_, static_cast<double>(value));
        if (text.starts_with(prefix)) {
          stage(d.stage_id);
          bindings_[static_cast<std::size_t>(std::max<std::int64_t>(d.stage_id, 0))].unrolled = true;
        }
        break;
      }
      case StepKind::cache_read: insert_stage(d.stage_id + 1); break;
      case StepKind::cache_write: {
        // The cache stage takes the stage's place with a copy of its iterators; the stage moves up one.
        const auto copy = stage(d.stage_id);
        insert_stage(d.stage_id);
        stages_[static_cast<std::size_t>(std::max<std::int64_t>(d.stage_id, 0))] = copy;
        break;
      }
      case StepKind::rfactor: insert_stage(d.stage_id); break;
      case StepKind::storage_align:
      case StepKind::compute_at:
      case StepKind::compute_inline:
      case StepKind::compute_root: break;
    }
  }

  void annotate(std::int64_t stage_id, double extent, IteratorAnnotation a) {
    stage(stage_id);
    auto& b = bindings_[static_cast<std::size_t>(std::max<std::int64_t>(stage_id, 0))];
    auto bind = [&](double& product, bool& bound, bool& known) {
      bound = true;
      if (extent > 0 && known) product *= extent;
      else known = false, product = 0;
    };
    switch (a) {
      case IteratorAnnotation::block_x:
      case IteratorAnnotation::block_y:
      case IteratorAnnotation::block_z: bind(b.blocks, b.blocks_bound, b.blocks_known); break;
      case IteratorAnnotation::thread_x:
      case IteratorAnnotation::thread_y:
      case IteratorAnnotation::thread_z: bind(b.threads, b.threads_bound, b.threads_known); break;
      case IteratorAnnotation::vthread: bind(b.vthreads, b.vthreads_bound, b.vthreads_known); break;
      case IteratorAnnotation::parallel: bind(b.parallel, b.parallel_bound, b.parallel_known); break;
      case IteratorAnnotation::vectorize: vector_lanes_ = std::max(vector_lanes_, extent); break;
      default: break;
    }
  }

  const StepSequence& steps_;
  std::vector<std::vector<LaunchIter>> stages_;
  std::vector<Binding> bindings_;
  std::vector<std::vector<Tiling>> tilings_;
  double vector_lanes_ = 0, unroll_ = 0;
};

}  // namespace detail

/// The launch figures of a schedule, from its steps alone.
[[nodiscard]] inline LaunchSummary launch_summary(const StepSequence& steps) {
  return detail::LaunchReplay(steps).summary();
}

/// Writes the launch columns of `steps` on `hardware` into `out` (launch_dims floats).
inline void launch_features(const StepSequence& steps, const hw::HardwareParams& hardware, std::span<float, launch_dims> out) {
  namespace c = launch_column;
  std::fill(out.begin(), out.end(), 0.0f);
  const LaunchSummary s = launch_summary(steps);
  auto lg = [](double v, double scale) { return v > 0 ? static_cast<float>(std::log2(1.0 + v) / scale) : 0.0f; };
  auto positive = [](std::int64_t v) { return v > 0 ? static_cast<double>(v) : 0.0; };
  out[c::gpu] = s.gpu ? 1.0f : 0.0f;
  if (s.gpu) {
    out[c::grid] = lg(s.grid, 24);
    out[c::threads] = lg(s.threads, 11);
    out[c::vthreads] = lg(s.vthreads, 6);
    const bool known = s.grid > 0 && s.threads > 0;
    out[c::launch_known] = known ? 1.0f : 0.0f;
    const double max_threads = positive(hardware.max_threads_per_block), warp = positive(hardware.warp_size);
    const double units = positive(hardware.compute_units), resident = positive(hardware.hardware_threads);
    if (s.threads > 0 && max_threads > 0) out[c::threads_fill] = static_cast<float>(std::min(s.threads / max_threads, 4.0));
    if (s.threads > 0 && warp > 0) out[c::warp_fill] = static_cast<float>(s.threads / (std::ceil(s.threads / warp) * warp));
    if (s.grid > 0 && units > 0) out[c::blocks_per_unit] = lg(s.grid / units, 4);
    if (known && units > 0) {
      // Blocks one compute unit holds at once, by threads (at most 32, as on every CUDA device since sm_50).
      const double per_unit = resident > 0 ? std::clamp(std::floor(resident / s.threads), 1.0, 32.0) : 1.0;
      const double wave = per_unit * units;
      out[c::wave_efficiency] = static_cast<float>(s.grid / (std::ceil(s.grid / wave) * wave));
    }
    if (s.vthreads > 0 && hardware.max_vthread_extent > 0)
      out[c::vthread_fill] = static_cast<float>(std::min(s.vthreads / positive(hardware.max_vthread_extent), 4.0));
  }
  if (s.parallel > 0) {
    out[c::parallel] = lg(s.parallel, 16);
    const double cores = positive(hardware.num_cores);
    if (cores > 0) {
      out[c::parallel_per_core] = lg(s.parallel / cores, 4);
      out[c::parallel_balance] = static_cast<float>(s.parallel / (std::ceil(s.parallel / cores) * cores));
    }
  }
  out[c::vector] = lg(s.vector_lanes, 6);
  if (s.vector_lanes > 0 && hardware.vector_unit_bytes > 0)
    out[c::vector_fill] = lg(4.0 * s.vector_lanes / positive(hardware.vector_unit_bytes), 4);
  out[c::unroll] = lg(s.unroll, 11);
  if (s.register_tile > 0) {
    out[c::register_tile] = lg(s.register_tile, 10);
    out[c::reduction_outer] = lg(s.reduction_outer, 16);
    out[c::reduction_inner] = lg(s.reduction_inner, 10);
    out[c::tiling_known] = 1.0f;
  }
}

}  // namespace crosstune::features
