// crosstune/schedule/cpu_sketch.hpp — Ansor's CPU sketches for a compute DAG, and the random candidates
// the search draws from them.
//
// A sketch fixes the structure of a schedule; a candidate fills in its knobs. The rules follow Ansor's
// CPU policy (Zheng et al., OSDI'20, section 4):
//   * cheap element-wise stages that are not outputs are inlined into their readers, except a padding
//     stage (a bounds test) read by a multi-level tiled stage, which runs before it as its own stage;
//   * a reduction with data reuse (some input does not depend on some output axis: matmul, conv2d,
//     depthwise conv2d) gets multi-level tiling "SSRSRS" (four spatial levels, two reduction levels);
//     its element-wise reader, or a cache_write stage added for the purpose, follows the outer tile
//     levels and the tiled stage is computed at the first or second level (a knob);
//   * outer spatial loops are fused and run in parallel (how many: a knob), the innermost spatial loop is
//     vectorised (a knob), and an auto_unroll_max_step pragma of 0, 16, 64 or 512 goes on tiled stages;
//   * other element-wise stages are fused, split for vectors and run in parallel (a knob: all loops fused,
//     or the innermost loop split and the loops outside it fused), reductions without reuse
//     run in parallel over their spatial loops, or are computed inside their element-wise reader.
// Knobs are tile factorizations (perfect: the factors multiply to the loop extent) and small choices.
// Sampling, mutation (move a factor between tile levels, change a choice) and crossover (take each knob
// from either parent) work on the knob values alone; apply() turns a candidate into its steps and State,
// so every candidate is a valid Ansor step sequence.
//
//   auto space = schedule::CpuSketchSpace::make(dag, {.cores = 16}).value();
//   Rng rng(7);
//   auto candidate = space.sample(rng);
//   State state = space.apply(candidate).value();
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/hw/hardware_params.hpp"
#include "crosstune/ir/dag.hpp"
#include "crosstune/schedule/state.hpp"

namespace crosstune::schedule {

struct CpuSketchOptions {
  std::int64_t cores = 1;                  ///< parallel loops are fused until they can feed these
  std::int64_t max_innermost_factor = 64;  ///< the innermost tile factor stays at or below this
  std::array<std::int64_t, 4> unroll_steps = {0, 16, 64, 512};  ///< auto_unroll_max_step choices
  /// fp32 lanes of the widest vector register (0: unknown). The sampling prior below prefers tiles whose
  /// innermost factor along a tiled stage's contiguous output axis fills at least one vector.
  std::int64_t vector_lanes = 0;
  /// How often a random draw follows the sampling prior (see sample()); 0 samples every knob uniformly.
  double prior = 0.9;

  /// Options for a CPU described by its hardware parameters (cores, and fp32 vector lanes).
  [[nodiscard]] static CpuSketchOptions from(const hw::HardwareParams& hardware) {
    CpuSketchOptions o;
    o.cores = std::max<std::int64_t>(1, hardware.num_cores);
    o.vector_lanes = std::max<std::int64_t>(0, hardware.vector_unit_bytes / 4);
    return o;
  }
};

/// One decision of a sketch: a perfect tiling of a loop, or a choice among `options`.
struct Knob {
  enum class Kind : std::uint8_t { tile, choice };
  Kind kind = Kind::choice;
  std::int64_t extent = 1;         ///< tile: the loop extent the factors multiply to
  std::int32_t parts = 1;          ///< tile: factors, outermost first
  std::int64_t innermost_max = 0;  ///< tile: the innermost factor's limit (0: none)
  std::int64_t vector_lanes = 0;   ///< tile: along a contiguous output axis, the lanes the prior fills (0: none)
  std::int64_t options = 1;        ///< choice: values 0..options-1
  std::uint32_t offset = 0;        ///< first value in CpuCandidate::values
  std::string what;                ///< "tile x", "unroll", "parallel", "vectorize", "fusion level", "location"
};

/// A sketch and values for its knobs.
struct CpuCandidate {
  std::int32_t sketch = 0;
  std::vector<std::int64_t> values;

  /// FNV-1a over the sketch and the values: equal candidates give equal schedules and equal hashes.
  [[nodiscard]] std::uint64_t hash() const noexcept {
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&](std::uint64_t v) {
      for (int i = 0; i < 8; ++i) {
        h ^= (v >> (8 * i)) & 0xffu;
        h *= 1099511628211ull;
      }
    };
    mix(static_cast<std::uint64_t>(sketch));
    for (auto v : values) mix(static_cast<std::uint64_t>(v));
    return h;
  }
  friend bool operator==(const CpuCandidate&, const CpuCandidate&) = default;
};

class CpuSketchSpace {
 public:
  /// What a stage does in a sketch.
  struct StagePlan {
    enum class Kind : std::uint8_t { inline_stage, tiled, elementwise, reduction, reader_with_producer };
    Kind kind = Kind::elementwise;
    std::int32_t tensor = -1;           ///< the stage (by tensor id, stable across inserted stages)
    std::int32_t partner = -1;          ///< tiled: the fused reader (-1: none); reader_with_producer: the producer
    bool cache_write = false;           ///< tiled: add a "local" cache_write stage as the fused reader
    std::int32_t spatial = 0, reduce = 0;  ///< axis counts
    std::uint32_t first_tile = 0;       ///< tiled: spatial tile knobs, then reduction tile knobs; elementwise: the fused tile
    std::uint32_t fusion_level = 0, parallel = 0, vectorize = 0, unroll = 0, location = 0;  ///< knob indices
    std::uint32_t rows = 0, row_tile = 0;  ///< elementwise with two or more axes: fused or by rows, and the row split
  };
  struct Sketch {
    std::string name;
    std::vector<StagePlan> plans;  ///< in the order apply() runs them
    std::vector<Knob> knobs;
    std::uint32_t value_count = 0;
    bool in_place = false;  ///< some tiled stage accumulates into its output in memory (the prior avoids it)
  };

  /// The sketches of `dag`; an error when the DAG has nothing to schedule.
  [[nodiscard]] static Expected<CpuSketchSpace> make(std::shared_ptr<const ir::ComputeDag> dag, CpuSketchOptions options = {}) {
    if (!dag || dag->size() == 0) return unexpected(Error(ErrorKind::invalid_argument, "CpuSketchSpace: an empty DAG"));
    if (options.cores < 1 || options.max_innermost_factor < 1)
      return unexpected(Error(ErrorKind::invalid_argument, "CpuSketchSpace: cores and the innermost factor limit must be at least 1"));
    if (!(options.prior >= 0.0 && options.prior <= 1.0) || options.vector_lanes < 0)
      return unexpected(Error(ErrorKind::invalid_argument, "CpuSketchSpace: the sampling prior must lie in [0, 1] and vector_lanes be 0 or more"));
    CpuSketchSpace space(std::move(dag), options);
    space.build();
    return space;
  }

  [[nodiscard]] const ir::ComputeDag& dag() const noexcept { return *dag_; }
  [[nodiscard]] std::span<const Sketch> sketches() const noexcept { return sketches_; }
  [[nodiscard]] const CpuSketchOptions& options() const noexcept { return options_; }

  /// A random candidate: a random sketch and random knob values. Uniform, except that with probability
  /// `options().prior` for each of these two draws (every candidate stays reachable):
  ///   * the sketch is drawn among those where no tiled stage accumulates in place, when there are any;
  ///   * the innermost factor of a tiled stage's contiguous output axis is drawn among the divisors that
  ///     fill a vector (at least `vector_lanes`, or the largest allowed when the axis is shorter).
  /// Both are the hardware's, not the task's: of the first 64 random conv2d candidates (3x3, 56x56,
  /// 64->64, NHWC) on an AVX-512 machine, those with that factor below 16 ran at a median 3-18 GFLOP/s
  /// against 67-76 at 32 and 64, and in-place sketches at a median 13 against 72 (docs/search.md).
  [[nodiscard]] CpuCandidate sample(Rng& rng) const {
    CpuCandidate c;
    c.sketch = static_cast<std::int32_t>(rng.uniform_index(sketches_.size()));
    if (sketches_[static_cast<std::size_t>(c.sketch)].in_place && !preferred_sketches_.empty() && rng.bernoulli(options_.prior))
      c.sketch = preferred_sketches_[rng.uniform_index(preferred_sketches_.size())];
    const Sketch& sk = sketches_[static_cast<std::size_t>(c.sketch)];
    c.values.resize(sk.value_count);
    for (std::size_t k = 0; k < sk.knobs.size(); ++k) sample_knob(sk.knobs[k], c.values, rng, k);
    normalize(c);
    return c;
  }

  /// Gives knobs that a candidate's other knobs make irrelevant one fixed value (the fused tile of a
  /// reduction computed inside its reader, vectorisation of a loop of length 1), so that candidates
  /// with the same schedule compare and hash equal.
  void normalize(CpuCandidate& c) const {
    if (c.sketch < 0 || static_cast<std::size_t>(c.sketch) >= sketches_.size()) return;
    const Sketch& sk = sketches_[static_cast<std::size_t>(c.sketch)];
    if (c.values.size() != sk.value_count) return;
    auto at = [&](std::uint32_t knob) -> std::int64_t& { return c.values[sk.knobs[knob].offset]; };
    auto inner = [&](std::uint32_t knob) -> std::int64_t& { return c.values[sk.knobs[knob].offset + 1]; };
    for (const StagePlan& p : sk.plans) {
      switch (p.kind) {
        case StagePlan::Kind::elementwise: {
          std::uint32_t active = p.first_tile;
          if (p.spatial > 1) {  // the split not taken is irrelevant
            const std::uint32_t unused = at(p.rows) != 0 ? p.first_tile : p.row_tile;
            active = at(p.rows) != 0 ? p.row_tile : p.first_tile;
            at(unused) = sk.knobs[unused].extent;
            inner(unused) = 1;
          }
          if (inner(active) == 1) at(p.vectorize) = 0;
          break;
        }
        case StagePlan::Kind::reduction:
          if (p.spatial > 0 && inner(p.first_tile) == 1) at(p.vectorize) = 0;
          break;
        case StagePlan::Kind::reader_with_producer:
          if (at(p.location) > 0) {
            at(p.first_tile) = sk.knobs[p.first_tile].extent;
            inner(p.first_tile) = 1;
            if (at(p.location) == p.spatial) at(p.vectorize) = 0;  // computed in the innermost loop
          } else if (inner(p.first_tile) == 1) {
            at(p.vectorize) = 0;
          }
          break;
        default: break;
      }
    }
  }

  /// `parent` with one knob changed: a tile factor moved between two levels, or another choice.
  [[nodiscard]] CpuCandidate mutate(const CpuCandidate& parent, Rng& rng) const {
    CpuCandidate c = parent;
    const Sketch& sk = sketches_[static_cast<std::size_t>(c.sketch)];
    if (sk.knobs.empty()) return c;
    for (int attempt = 0; attempt < 8; ++attempt) {
      const std::size_t k = rng.uniform_index(sk.knobs.size());
      if (!mutate_knob(sk.knobs[k], c.values, rng, k)) continue;
      normalize(c);
      if (c != parent) return c;
      c = parent;  // the change was to a knob that does not matter here
    }
    return c;
  }

  /// A child taking each knob from one parent or the other (parents of different sketches: a copy of `a`).
  [[nodiscard]] CpuCandidate crossover(const CpuCandidate& a, const CpuCandidate& b, Rng& rng) const {
    CpuCandidate c = a;
    if (a.sketch != b.sketch) return c;
    const Sketch& sk = sketches_[static_cast<std::size_t>(c.sketch)];
    for (const Knob& knob : sk.knobs) {
      if (rng.uniform_index(2) == 0) continue;
      const std::size_t n = knob.kind == Knob::Kind::tile ? static_cast<std::size_t>(knob.parts) : 1;
      for (std::size_t i = 0; i < n; ++i) c.values[knob.offset + i] = b.values[knob.offset + i];
    }
    normalize(c);
    return c;
  }

  /// How many distinct (normalised) candidates the space holds, saturating at 2^62: per sketch, the
  /// product over its stage plans of their knob combinations, a tile counting its ordered factorizations
  /// within the innermost limit. (A few candidates can still give the same steps, where growing the
  /// parallel fusion to feed the cores makes two parallel choices meet.)
  [[nodiscard]] std::uint64_t size() const {
    constexpr std::uint64_t cap = std::uint64_t{1} << 62;
    auto mul = [&](std::uint64_t a, std::uint64_t b) { return (b != 0 && a > cap / b) ? cap : a * b; };
    auto add = [&](std::uint64_t a, std::uint64_t b) { return std::min(cap, a + b); };
    std::uint64_t total = 0;
    for (const Sketch& sk : sketches_) {
      auto options = [&](std::uint32_t knob) {
        const Knob& k = sk.knobs[knob];
        return k.kind == Knob::Kind::choice ? static_cast<std::uint64_t>(k.options) : tilings(k);
      };
      // a fused split [outer, inner] and a vectorise choice that matters only when inner > 1
      auto split_and_vectorize = [&](std::uint32_t tile_knob) { return add(mul(options(tile_knob) - 1, 2), 1); };
      std::uint64_t n = 1;
      for (const StagePlan& p : sk.plans) {
        switch (p.kind) {
          case StagePlan::Kind::inline_stage: break;
          case StagePlan::Kind::tiled:
            for (std::uint32_t k = p.first_tile; k < p.first_tile + static_cast<std::uint32_t>(p.spatial + p.reduce); ++k) n = mul(n, options(k));
            n = mul(mul(mul(mul(n, options(p.fusion_level)), options(p.parallel)), options(p.vectorize)), options(p.unroll));
            break;
          case StagePlan::Kind::elementwise:
            n = mul(n, p.spatial > 1 ? add(split_and_vectorize(p.first_tile), split_and_vectorize(p.row_tile)) : split_and_vectorize(p.first_tile));
            break;
          case StagePlan::Kind::reduction:
            if (p.spatial > 0) n = mul(n, split_and_vectorize(p.first_tile));
            n = mul(mul(n, options(p.parallel)), options(p.unroll));
            break;
          case StagePlan::Kind::reader_with_producer: {
            // at the root: the reader's split and vectorise; at loop j < n-1: vectorise or not; at the innermost: nothing
            std::uint64_t places = split_and_vectorize(p.first_tile);
            if (p.spatial > 0) places = add(places, add(mul(static_cast<std::uint64_t>(p.spatial - 1), 2), 1));
            n = mul(mul(n, places), options(p.parallel));
            break;
          }
        }
      }
      total = add(total, n);
    }
    return total;
  }

  /// True when the candidate's sketch exists and every knob value is in range (tiles multiply to their
  /// extent, the innermost factor within its limit).
  [[nodiscard]] bool valid(const CpuCandidate& c) const noexcept {
    if (c.sketch < 0 || static_cast<std::size_t>(c.sketch) >= sketches_.size()) return false;
    const Sketch& sk = sketches_[static_cast<std::size_t>(c.sketch)];
    if (c.values.size() != sk.value_count) return false;
    for (const Knob& knob : sk.knobs) {
      if (knob.kind == Knob::Kind::choice) {
        if (c.values[knob.offset] < 0 || c.values[knob.offset] >= knob.options) return false;
        continue;
      }
      std::int64_t product = 1;
      for (std::int32_t i = 0; i < knob.parts; ++i) {
        const std::int64_t f = c.values[knob.offset + static_cast<std::size_t>(i)];
        if (f < 1 || f > knob.extent) return false;
        product *= f;
      }
      if (product != knob.extent) return false;
      if (knob.innermost_max > 0 && c.values[knob.offset + static_cast<std::size_t>(knob.parts) - 1] > knob.innermost_max) return false;
    }
    return true;
  }

  /// The schedule: the candidate's steps applied to the DAG. An error names the refused step (which
  /// would be a bug in the sketch rules) or says the candidate does not fit the space.
  [[nodiscard]] Expected<State> apply(const CpuCandidate& c) const {
    if (!valid(c)) return unexpected(Error(ErrorKind::invalid_argument, "CpuSketchSpace::apply: the candidate does not fit this sketch space"));
    State state(dag_);
    const Sketch& sk = sketches_[static_cast<std::size_t>(c.sketch)];
    for (const StagePlan& plan : sk.plans)
      if (auto ok = apply_plan(state, sk, plan, c.values); !ok) return unexpected(std::move(ok).error());
    return state;
  }

 private:
  CpuSketchSpace(std::shared_ptr<const ir::ComputeDag> dag, CpuSketchOptions options) : dag_(std::move(dag)), options_(options) {}

  // ---- analysis of the DAG ------------------------------------------------------------------------

  /// A load of `tensor` with its indices over the reader's axis variables, after inlining.
  struct Access {
    std::int32_t tensor;
    std::vector<ir::ExprId> index;
  };
  struct Analysis {
    std::vector<bool> inlined;                  // by stage
    std::vector<ir::ExprPool> pools;            // by stage: scratch for accesses
    std::vector<std::vector<Access>> accesses;  // by stage, effective loads (inlined stages substituted)
  };

  static bool expensive(const ir::Operation& op) {
    bool found = false;
    op.pool.post_order(op.body, [&](ir::ExprId id) {
      const auto k = op.pool[id].op;
      found = found || k == ir::ExprOp::exp || k == ir::ExprOp::tanh || k == ir::ExprOp::erf;
    });
    return found;
  }

  /// A body with a condition (a padding stage's bounds test, TVM's if_then_else).
  static bool conditional(const ir::Operation& op) {
    bool found = false;
    op.pool.post_order(op.body, [&](ir::ExprId id) { found = found || op.pool[id].op == ir::ExprOp::select; });
    return found;
  }

  Analysis analyse() const {
    const ir::ComputeDag& dag = *dag_;
    Analysis a;
    a.inlined.assign(dag.size(), false);
    for (std::size_t s = 0; s < dag.size(); ++s) {
      const ir::Operation& op = dag.op(s);
      a.inlined[s] = !op.placeholder && op.reduce == ir::ReduceKind::none && !dag.is_output(op.id) && !expensive(op);
    }
    collect_accesses(a);
    // A conditional stage (padding) read by a multi-level tiled stage stays a stage of its own, computed
    // before it: inlined, its bounds test sits in the innermost loop and turns the vector loads of the
    // input into masked gathers (MetaSchedule's CPU rule, AutoInline with disallow_if_then_else). Measured
    // on conv2d 3x3 56x56 64->64 (2 threads, AVX-512): 26 GFLOP/s inlined, 117 with the padding apart,
    // for the same tiles.
    bool changed = false;
    for (std::size_t s = 0; s < dag.size(); ++s) {
      if (dag.op(s).placeholder || a.inlined[s] || !has_reuse(a, s)) continue;
      for (std::int32_t input : dag.op(s).inputs) {
        const auto p = dag.find(input);
        if (p < 0 || !a.inlined[static_cast<std::size_t>(p)] || !conditional(dag.op(static_cast<std::size_t>(p)))) continue;
        a.inlined[static_cast<std::size_t>(p)] = false;
        changed = true;
      }
    }
    if (changed) collect_accesses(a);
    return a;
  }

  /// The effective loads of every stage, with the stages `a.inlined` marks substituted.
  void collect_accesses(Analysis& a) const {
    const ir::ComputeDag& dag = *dag_;
    a.pools.assign(dag.size(), ir::ExprPool{});
    a.accesses.assign(dag.size(), {});
    for (std::size_t s = 0; s < dag.size(); ++s) {
      const ir::Operation& op = dag.op(s);
      if (op.placeholder) continue;
      ir::ExprPool& pool = a.pools[s];
      auto inlined = [&](std::int32_t tensor) -> const ir::Operation* {
        const auto p = dag.find(tensor);
        return p >= 0 && a.inlined[static_cast<std::size_t>(p)] ? &dag.op(static_cast<std::size_t>(p)) : nullptr;
      };
      (void)ir::inline_body(pool, op, {}, inlined, [&](std::int32_t tensor, std::span<const ir::ExprId> index) {
        a.accesses[s].push_back({tensor, {index.begin(), index.end()}});
        return pool.load_ids(tensor, index);
      });
    }
  }

  /// Stages (not inlined) whose effective loads read `tensor`.
  std::vector<std::size_t> readers(const Analysis& a, std::int32_t tensor) const {
    std::vector<std::size_t> out;
    for (std::size_t s = 0; s < dag_->size(); ++s) {
      if (a.inlined[s]) continue;
      for (const Access& acc : a.accesses[s])
        if (acc.tensor == tensor) {
          out.push_back(s);
          break;
        }
    }
    return out;
  }

  /// Data reuse (Ansor's NeedsMultiLevelTiling): a reduction where some input ignores some output axis.
  bool has_reuse(const Analysis& a, std::size_t s) const {
    const ir::Operation& op = dag_->op(s);
    if (op.reduce == ir::ReduceKind::none || op.axes.empty()) return false;
    for (const Access& acc : a.accesses[s]) {
      std::vector<bool> used(op.axes.size(), false);
      for (ir::ExprId id : acc.index)
        a.pools[s].post_order(id, [&](ir::ExprId e) {
          const ir::ExprNode& n = a.pools[s][e];
          if (n.op == ir::ExprOp::var && n.integer < static_cast<std::int64_t>(op.axes.size())) used[static_cast<std::size_t>(n.integer)] = true;
        });
      for (bool u : used)
        if (!u) return true;
    }
    return false;
  }

  /// The single element-wise reader of stage `s` that reads it at exactly its own indices, or -1.
  std::int64_t fusible_reader(const Analysis& a, std::size_t s) const {
    const ir::Operation& op = dag_->op(s);
    const auto rs = readers(a, op.id);
    if (rs.size() != 1) return -1;
    const std::size_t r = rs[0];
    const ir::Operation& reader = dag_->op(r);
    if (reader.reduce != ir::ReduceKind::none || reader.axes.size() != op.axes.size()) return -1;
    for (std::size_t d = 0; d < op.axes.size(); ++d)
      if (reader.axes[d].extent != op.axes[d].extent) return -1;
    for (const Access& acc : a.accesses[r]) {
      if (acc.tensor != op.id) continue;
      for (std::size_t d = 0; d < acc.index.size(); ++d) {
        const ir::ExprNode& n = a.pools[r][acc.index[d]];
        if (n.op != ir::ExprOp::var || n.integer != static_cast<std::int64_t>(d)) return -1;
      }
    }
    return static_cast<std::int64_t>(r);
  }

  // ---- building the sketches ---------------------------------------------------------------------

  static std::uint32_t add_knob(Sketch& sk, Knob knob) {
    knob.offset = sk.value_count;
    sk.value_count += knob.kind == Knob::Kind::tile ? static_cast<std::uint32_t>(knob.parts) : 1u;
    sk.knobs.push_back(std::move(knob));
    return static_cast<std::uint32_t>(sk.knobs.size() - 1);
  }
  static Knob tile(std::int64_t extent, std::int32_t parts, std::int64_t innermost_max, std::string what) {
    Knob k;
    k.kind = Knob::Kind::tile;
    k.extent = extent;
    k.parts = parts;
    k.innermost_max = innermost_max;
    k.what = std::move(what);
    return k;
  }
  static Knob choice(std::int64_t options, std::string what) {
    Knob k;
    k.options = std::max<std::int64_t>(1, options);
    k.what = std::move(what);
    return k;
  }

  void build() {
    const ir::ComputeDag& dag = *dag_;
    const Analysis a = analyse();
    // Per stage, the variants it can take (a tiled output: cache_write or in place).
    std::vector<std::int32_t> tiled;
    for (std::size_t s = dag.size(); s-- > 0;)
      if (!dag.op(s).placeholder && !a.inlined[s] && has_reuse(a, s)) tiled.push_back(static_cast<std::int32_t>(s));
    // The reader each tiled stage fuses with: an element-wise reader no other tiled stage has taken, and
    // only when the tiled stage is not itself an output (an output stays at the root).
    std::vector<std::int64_t> partner(dag.size(), -1);
    std::vector<bool> claimed(dag.size(), false);
    for (auto ts : tiled) {
      const auto s = static_cast<std::size_t>(ts);
      const std::int64_t reader = fusible_reader(a, s);
      if (reader < 0 || claimed[static_cast<std::size_t>(reader)] || dag.is_output(dag.op(s).id)) continue;
      partner[s] = reader;
      claimed[static_cast<std::size_t>(reader)] = true;
    }
    std::size_t variants = 1;  // each tiled stage without a reader: cache_write or in place
    for (auto s : tiled)
      if (partner[static_cast<std::size_t>(s)] < 0 && variants < 8) variants *= 2;
    for (std::size_t v = 0; v < variants; ++v) {
      Sketch sk;
      std::vector<bool> handled(dag.size(), false);
      std::size_t bit = 0;
      for (std::size_t s = 0; s < dag.size(); ++s)
        if (a.inlined[s]) {
          StagePlan p;
          p.kind = StagePlan::Kind::inline_stage;
          p.tensor = dag.op(s).id;
          sk.plans.push_back(p);
          handled[s] = true;
        }
      for (auto ts : tiled) {
        const auto s = static_cast<std::size_t>(ts);
        const ir::Operation& op = dag.op(s);
        StagePlan p;
        p.kind = StagePlan::Kind::tiled;
        p.tensor = op.id;
        p.spatial = static_cast<std::int32_t>(op.axes.size());
        p.reduce = static_cast<std::int32_t>(op.reduce_axes.size());
        const std::int64_t reader = partner[s];
        std::string variant;
        if (reader >= 0) {
          p.partner = dag.op(static_cast<std::size_t>(reader)).id;
          handled[static_cast<std::size_t>(reader)] = true;
          variant = "fused with " + dag.op(static_cast<std::size_t>(reader)).name;
        } else if (bit >= 3 || ((v >> bit++) & 1u) == 0) {  // past three such stages: cache_write only
          p.cache_write = true;
          variant = "cache_write";
        } else {
          variant = "in place";
          sk.in_place = true;
        }
        p.first_tile = static_cast<std::uint32_t>(sk.knobs.size());
        for (const auto& axis : op.axes) add_knob(sk, tile(axis.extent, 4, options_.max_innermost_factor, "tile " + axis.name));
        if (!op.axes.empty()) sk.knobs.back().vector_lanes = options_.vector_lanes;  // the output's contiguous axis
        for (const auto& axis : op.reduce_axes) add_knob(sk, tile(axis.extent, 2, 0, "tile " + axis.name));
        const bool fused = p.partner >= 0 || p.cache_write;
        p.fusion_level = add_knob(sk, choice(fused ? 2 : 1, "fusion level"));
        // The loops the parallel fusion can take: the first level's, or with the stage in place (nothing
        // computed inside it) the first two levels', which run before the first reduction loop.
        p.parallel = add_knob(sk, choice(std::max<std::int32_t>(1, fused ? p.spatial : 2 * p.spatial), "parallel"));
        p.vectorize = add_knob(sk, choice(2, "vectorize"));
        p.unroll = add_knob(sk, choice(static_cast<std::int64_t>(options_.unroll_steps.size()), "unroll"));
        sk.plans.push_back(p);
        handled[s] = true;
        sk.name += (sk.name.empty() ? "" : ", ") + op.name + ": SSRSRS, " + variant;
      }
      // Reductions without reuse that one element-wise reader can hold.
      for (std::size_t s = 0; s < dag.size(); ++s) {
        const ir::Operation& op = dag.op(s);
        if (handled[s] || op.placeholder || op.reduce == ir::ReduceKind::none) continue;
        const std::int64_t reader = fusible_reader(a, s);
        if (reader < 0 || handled[static_cast<std::size_t>(reader)]) continue;
        StagePlan p;
        p.kind = StagePlan::Kind::reader_with_producer;
        p.tensor = dag.op(static_cast<std::size_t>(reader)).id;
        p.partner = op.id;
        p.spatial = static_cast<std::int32_t>(op.axes.size());
        p.location = add_knob(sk, choice(p.spatial + 1, "location"));
        p.parallel = add_knob(sk, choice(std::max<std::int32_t>(1, p.spatial), "parallel"));
        p.vectorize = add_knob(sk, choice(2, "vectorize"));
        p.first_tile = add_knob(sk, tile(std::max<std::int64_t>(1, op.element_count()), 2, options_.max_innermost_factor, "tile fused"));
        sk.plans.push_back(p);
        handled[s] = handled[static_cast<std::size_t>(reader)] = true;
        sk.name += (sk.name.empty() ? "" : ", ") + op.name + ": inside " + dag.op(static_cast<std::size_t>(reader)).name;
      }
      for (std::size_t s = 0; s < dag.size(); ++s) {
        const ir::Operation& op = dag.op(s);
        if (handled[s] || op.placeholder) continue;
        StagePlan p;
        p.tensor = op.id;
        p.spatial = static_cast<std::int32_t>(op.axes.size());
        if (op.reduce != ir::ReduceKind::none) {
          p.kind = StagePlan::Kind::reduction;
          p.reduce = static_cast<std::int32_t>(op.reduce_axes.size());
          if (p.spatial > 0) {  // the innermost output axis split, its inner piece inside the reduction, in vector lanes
            p.first_tile = add_knob(sk, tile(op.axes.back().extent, 2, options_.max_innermost_factor, "tile " + op.axes.back().name));
            p.vectorize = add_knob(sk, choice(2, "vectorize"));
          }
          p.parallel = add_knob(sk, choice(std::max<std::int32_t>(1, p.spatial), "parallel"));
          p.unroll = add_knob(sk, choice(static_cast<std::int64_t>(options_.unroll_steps.size()), "unroll"));
        } else {
          p.kind = StagePlan::Kind::elementwise;
          p.first_tile = add_knob(sk, tile(std::max<std::int64_t>(1, op.element_count()), 2, options_.max_innermost_factor, "tile fused"));
          p.vectorize = add_knob(sk, choice(2, "vectorize"));
          if (p.spatial > 1) {
            p.rows = add_knob(sk, choice(2, "rows"));
            p.row_tile = add_knob(sk, tile(op.axes.back().extent, 2, options_.max_innermost_factor, "tile " + op.axes.back().name));
          }
        }
        sk.plans.push_back(p);
        handled[s] = true;
      }
      if (sk.name.empty()) sk.name = "element-wise";
      if (!sk.in_place) preferred_sketches_.push_back(static_cast<std::int32_t>(sketches_.size()));
      sketches_.push_back(std::move(sk));
    }
    // Divisors of every tile extent, for sampling and mutation.
    for (const Sketch& sk : sketches_)
      for (const Knob& k : sk.knobs)
        if (k.kind == Knob::Kind::tile && std::find_if(divisors_.begin(), divisors_.end(), [&](const auto& d) { return d.first == k.extent; }) == divisors_.end()) {
          std::vector<std::int64_t> d;
          for (std::int64_t i = 1; i * i <= k.extent; ++i)
            if (k.extent % i == 0) {
              d.push_back(i);
              if (i * i != k.extent) d.push_back(k.extent / i);
            }
          std::sort(d.begin(), d.end());
          divisors_.emplace_back(k.extent, std::move(d));
        }
  }

  /// Ordered factorizations of a tile knob's extent into its parts, the innermost within its limit.
  [[nodiscard]] std::uint64_t tilings(const Knob& k) const {
    const auto& divs = divisors(k.extent);
    // ways[i] = factorizations of divs[i] into the remaining parts; built up one part at a time
    std::vector<std::uint64_t> ways(divs.size(), 1);  // one part: the rest itself
    for (std::int32_t part = 1; part < k.parts; ++part) {
      const bool innermost = part == k.parts - 1;
      std::vector<std::uint64_t> next(divs.size(), 0);
      for (std::size_t i = 0; i < divs.size(); ++i)
        for (std::size_t j = 0; j <= i; ++j) {  // divs[j] is this part's factor, divs[i] / divs[j] the rest
          if (divs[i] % divs[j] != 0 || (innermost && k.innermost_max > 0 && divs[j] > k.innermost_max)) continue;
          const auto rest = static_cast<std::size_t>(std::lower_bound(divs.begin(), divs.end(), divs[i] / divs[j]) - divs.begin());
          next[i] = std::min<std::uint64_t>(std::uint64_t{1} << 62, next[i] + ways[rest]);
        }
      ways = std::move(next);
    }
    return ways.empty() ? 1 : ways.back();
  }

  [[nodiscard]] const std::vector<std::int64_t>& divisors(std::int64_t extent) const {
    for (const auto& [e, d] : divisors_)
      if (e == extent) return d;
    static const std::vector<std::int64_t> one = {1};
    return one;
  }
  /// The largest divisor of `extent` that is at most `limit` (1 at least).
  std::int64_t largest_divisor(std::int64_t extent, std::int64_t limit) const {
    std::int64_t best = 1;
    for (std::int64_t d : divisors(extent))
      if (d <= limit) best = d;
    return best;
  }
  /// A random divisor of `of` (which divides the knob's extent) in [at_least, limit]; 1 when there is none.
  std::int64_t random_divisor(std::int64_t extent, std::int64_t of, std::int64_t limit, Rng& rng, std::int64_t at_least = 1) const {
    const auto& all = divisors(extent);
    std::int64_t pick = 1;
    std::uint64_t seen = 0;
    for (std::int64_t d : all) {  // reservoir sampling over the divisors of `of` within the limits
      if (d > limit) break;
      if (d < at_least || of % d != 0) continue;
      if (rng.uniform_index(++seen) == 0) pick = d;
    }
    return pick;
  }

  void sample_knob(const Knob& k, std::vector<std::int64_t>& values, Rng& rng, std::size_t) const {
    if (k.kind == Knob::Kind::choice) {
      values[k.offset] = static_cast<std::int64_t>(rng.uniform_index(static_cast<std::uint64_t>(k.options)));
      return;
    }
    std::int64_t rest = k.extent;
    for (std::int32_t i = k.parts - 1; i >= 1; --i) {
      const bool innermost = i == k.parts - 1;
      const std::int64_t limit = (innermost && k.innermost_max > 0) ? k.innermost_max : rest;
      std::int64_t at_least = 1;
      if (innermost && k.vector_lanes > 1 && rng.bernoulli(options_.prior)) at_least = std::min(k.vector_lanes, largest_divisor(k.extent, limit));
      const std::int64_t f = random_divisor(k.extent, rest, limit, rng, at_least);
      values[k.offset + static_cast<std::size_t>(i)] = f;
      rest /= f;
    }
    values[k.offset] = rest;
  }

  bool mutate_knob(const Knob& k, std::vector<std::int64_t>& values, Rng& rng, std::size_t) const {
    if (k.kind == Knob::Kind::choice) {
      if (k.options < 2) return false;
      auto& v = values[k.offset];
      v = (v + 1 + static_cast<std::int64_t>(rng.uniform_index(static_cast<std::uint64_t>(k.options - 1)))) % k.options;
      return true;
    }
    if (k.parts < 2) return false;
    const auto from = static_cast<std::size_t>(rng.uniform_index(static_cast<std::uint64_t>(k.parts)));
    auto to = static_cast<std::size_t>(rng.uniform_index(static_cast<std::uint64_t>(k.parts - 1)));
    if (to >= from) ++to;
    std::int64_t& src = values[k.offset + from];
    std::int64_t& dst = values[k.offset + to];
    if (src == 1) return false;
    // Move a divisor d > 1 of the source factor to the destination.
    std::int64_t d = 1;
    std::uint64_t seen = 0;
    for (std::int64_t x : divisors(k.extent)) {
      if (x == 1 || src % x != 0) continue;
      if (rng.uniform_index(++seen) == 0) d = x;
    }
    const bool innermost = to == static_cast<std::size_t>(k.parts - 1);
    if (d == 1 || (innermost && k.innermost_max > 0 && dst * d > k.innermost_max)) return false;
    src /= d;
    dst *= d;
    return true;
  }

  // ---- applying a candidate -----------------------------------------------------------------------

  Expected<void> apply_plan(State& st, const Sketch& sk, const StagePlan& p, const std::vector<std::int64_t>& values) const {
    auto value = [&](std::uint32_t knob) { return values[sk.knobs[knob].offset]; };
    auto factors = [&](std::uint32_t knob) {
      const Knob& k = sk.knobs[knob];
      return std::span<const std::int64_t>(values.data() + k.offset, static_cast<std::size_t>(k.parts));
    };
    auto stage_of = [&](std::int32_t tensor) { return st.stage_of(tensor); };
    switch (p.kind) {
      case StagePlan::Kind::inline_stage: return st.compute_inline(stage_of(p.tensor));
      case StagePlan::Kind::tiled: return apply_tiled(st, sk, p, values);
      case StagePlan::Kind::elementwise: {
        const std::int64_t s = stage_of(p.tensor);
        if (p.spatial > 1 && value(p.rows) != 0) return rows_elementwise(st, s, factors(p.row_tile)[1], value(p.vectorize) != 0);
        return fused_elementwise(st, s, factors(p.first_tile), value(p.vectorize) != 0);
      }
      case StagePlan::Kind::reduction: return apply_reduction(st, sk, p, values);
      case StagePlan::Kind::reader_with_producer: {
        const std::int64_t reader = stage_of(p.tensor), producer = stage_of(p.partner);
        const std::int64_t location = value(p.location);
        if (location == 0) {  // both at the root
          if (auto ok = parallel_outer(st, producer, value(p.parallel) + 1, p.spatial); !ok) return unexpected(std::move(ok).error());
          return fused_elementwise(st, reader, factors(p.first_tile), value(p.vectorize) != 0);
        }
        const std::int64_t at = location - 1;  // the reader's loop the producer runs in
        if (auto ok = st.compute_at(producer, reader, at); !ok) return ok;
        auto parallel = parallel_outer(st, reader, value(p.parallel) + 1, at + 1);
        if (!parallel) return unexpected(std::move(parallel).error());
        const std::int64_t fused = *parallel;
        const auto& loops = st.stage(static_cast<std::size_t>(reader)).iters;
        const std::int64_t innermost = static_cast<std::int64_t>(loops.size()) - 1;
        if (value(p.vectorize) != 0 && innermost > at - (fused - 1)) return st.annotate(reader, innermost, IteratorAnnotation::vectorize);
        return {};
      }
    }
    return {};
  }

  /// A reduction without reuse: its innermost output axis split in two, the inner piece moved inside the
  /// reduction loops (and vectorised), the outer output loops fused and run in parallel, auto-unroll.
  Expected<void> apply_reduction(State& st, const Sketch& sk, const StagePlan& p, const std::vector<std::int64_t>& values) const {
    auto value = [&](std::uint32_t knob) { return values[sk.knobs[knob].offset]; };
    const std::int64_t s = st.stage_of(p.tensor);
    const std::int64_t unroll = options_.unroll_steps[static_cast<std::size_t>(value(p.unroll))];
    if (unroll > 0)
      if (auto ok = st.pragma(s, 0, "auto_unroll_max_step$" + std::to_string(unroll)); !ok) return ok;
    if (p.spatial == 0) return {};
    const Knob& k = sk.knobs[p.first_tile];
    const std::int64_t inner = values[k.offset + 1];
    const std::int64_t n = p.spatial, m = p.reduce;
    if (inner > 1) {
      if (auto ok = st.split(s, n - 1, std::span<const std::int64_t>(values.data() + k.offset + 1, 1), true); !ok) return ok;
      std::vector<std::int64_t> order;  // s0 .. s(n-1).0, reductions, s(n-1).1
      for (std::int64_t i = 0; i < n; ++i) order.push_back(i);
      for (std::int64_t j = 0; j < m; ++j) order.push_back(n + 1 + j);
      order.push_back(n);
      if (auto ok = st.reorder(s, order); !ok) return ok;
      if (value(p.vectorize) != 0)
        if (auto ok = st.annotate(s, n + m, IteratorAnnotation::vectorize); !ok) return ok;
    }
    if (auto ok = parallel_outer(st, s, value(p.parallel) + 1, n); !ok) return unexpected(std::move(ok).error());
    return {};
  }

  /// Fuses the first `count` loops of stage `s` (more, up to `limit`, while they hold fewer iterations
  /// than there are cores: Ansor's rule) and runs the fusion in parallel. Gives the loops fused.
  Expected<std::int64_t> parallel_outer(State& st, std::int64_t s, std::int64_t count, std::int64_t limit) const {
    const Stage& stage = st.stage(static_cast<std::size_t>(s));
    limit = std::min<std::int64_t>({limit, static_cast<std::int64_t>(stage.iters.size()), 64});
    if (limit < 1) return std::int64_t{0};
    count = std::clamp<std::int64_t>(count, 1, limit);
    std::int64_t iterations = 1;
    for (std::int64_t i = 0; i < count; ++i) iterations *= std::max<std::int64_t>(1, stage.extent(static_cast<std::size_t>(i)));
    while (count < limit && iterations < options_.cores) iterations *= std::max<std::int64_t>(1, stage.extent(static_cast<std::size_t>(count++)));
    std::int64_t ids[64];
    for (std::int64_t i = 0; i < count; ++i) ids[i] = i;
    if (count > 1)
      if (auto ok = st.fuse(s, std::span<const std::int64_t>(ids, static_cast<std::size_t>(count))); !ok) return unexpected(std::move(ok).error());
    if (auto ok = st.annotate(s, 0, IteratorAnnotation::parallel); !ok) return unexpected(std::move(ok).error());
    return count;
  }

  /// Fuses every loop of stage `s`, splits the fusion into [outer, inner] by `factors`, runs the outer
  /// loop in parallel and (when `vectorize`) the inner one in vector lanes.
  static Expected<void> fused_elementwise(State& st, std::int64_t s, std::span<const std::int64_t> factors, bool vectorize) {
    const std::size_t n = st.stage(static_cast<std::size_t>(s)).iters.size();
    if (n == 0) return {};
    std::int64_t ids[64];
    if (n > 64) return unexpected(Error(ErrorKind::unsupported, "more than 64 loops"));
    for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<std::int64_t>(i);
    if (n > 1)
      if (auto ok = st.fuse(s, std::span<const std::int64_t>(ids, n)); !ok) return ok;
    if (factors[1] > 1)
      if (auto ok = st.split(s, 0, factors.subspan(1), true); !ok) return ok;
    if (auto ok = st.annotate(s, 0, IteratorAnnotation::parallel); !ok) return ok;
    if (vectorize && st.stage(static_cast<std::size_t>(s)).iters.size() == 2) return st.annotate(s, 1, IteratorAnnotation::vectorize);
    return {};
  }

  /// Splits the innermost loop of stage `s` by `inner`, fuses the loops outside it and runs them in
  /// parallel, and (when `vectorize`) runs the inner piece in vector lanes. Unlike fused_elementwise, the
  /// indices of the inner loop stay affine (no division by the extents of a fused loop in every lane).
  static Expected<void> rows_elementwise(State& st, std::int64_t s, std::int64_t inner, bool vectorize) {
    const auto n = static_cast<std::int64_t>(st.stage(static_cast<std::size_t>(s)).iters.size());
    if (n > 64) return unexpected(Error(ErrorKind::unsupported, "more than 64 loops"));
    if (inner > 1) {
      const std::int64_t factor[1] = {inner};
      if (auto ok = st.split(s, n - 1, factor, true); !ok) return ok;
    }
    std::int64_t ids[64];
    for (std::int64_t i = 0; i < n - 1; ++i) ids[i] = i;
    if (n > 2)
      if (auto ok = st.fuse(s, std::span<const std::int64_t>(ids, static_cast<std::size_t>(n - 1))); !ok) return ok;
    if (auto ok = st.annotate(s, 0, IteratorAnnotation::parallel); !ok) return ok;
    const auto loops = static_cast<std::int64_t>(st.stage(static_cast<std::size_t>(s)).iters.size());
    if (vectorize && inner > 1) return st.annotate(s, loops - 1, IteratorAnnotation::vectorize);
    return {};
  }

  Expected<void> apply_tiled(State& st, const Sketch& sk, const StagePlan& p, const std::vector<std::int64_t>& values) const {
    auto value = [&](std::uint32_t knob) { return values[sk.knobs[knob].offset]; };
    std::int64_t local = st.stage_of(p.tensor), reader = -1;
    if (p.cache_write) {
      if (auto ok = st.cache_write(local, "local"); !ok) return ok;
      reader = local + 1;
    } else if (p.partner >= 0) {
      reader = st.stage_of(p.partner);
    }
    const auto n = static_cast<std::size_t>(p.spatial), m = static_cast<std::size_t>(p.reduce);
    // SSRSRS: each spatial axis into 4 levels, each reduction axis into 2.
    std::vector<std::int64_t> split_steps(n);
    for (std::size_t i = 0; i < n; ++i) {
      const Knob& k = sk.knobs[p.first_tile + i];
      split_steps[i] = static_cast<std::int64_t>(st.steps().size());
      if (auto ok = st.split(local, static_cast<std::int64_t>(4 * i), std::span<const std::int64_t>(values.data() + k.offset + 1, 3), true); !ok)
        return ok;
    }
    for (std::size_t j = 0; j < m; ++j) {
      const Knob& k = sk.knobs[p.first_tile + n + j];
      if (auto ok = st.split(local, static_cast<std::int64_t>(4 * n + 2 * j), std::span<const std::int64_t>(values.data() + k.offset + 1, 1), true); !ok)
        return ok;
    }
    std::vector<std::int64_t> order;
    auto spatial_level = [&](std::size_t level) {
      for (std::size_t i = 0; i < n; ++i) order.push_back(static_cast<std::int64_t>(4 * i + level));
    };
    auto reduce_level = [&](std::size_t level) {
      for (std::size_t j = 0; j < m; ++j) order.push_back(static_cast<std::int64_t>(4 * n + 2 * j + level));
    };
    spatial_level(0);
    spatial_level(1);
    reduce_level(0);
    spatial_level(2);
    reduce_level(1);
    spatial_level(3);
    if (auto ok = st.reorder(local, order); !ok) return ok;
    const std::int64_t local_loops = static_cast<std::int64_t>(4 * n + 2 * m);
    if (value(p.vectorize) != 0 && n > 0)
      if (auto ok = st.annotate(local, local_loops - 1, IteratorAnnotation::vectorize); !ok) return ok;
    const std::int64_t unroll = options_.unroll_steps[static_cast<std::size_t>(value(p.unroll))];
    if (unroll > 0)
      if (auto ok = st.pragma(local, 0, "auto_unroll_max_step$" + std::to_string(unroll)); !ok) return ok;
    if (reader < 0) {  // tiled in place: the parallel fusion can reach into the second level
      if (auto ok = parallel_outer(st, local, value(p.parallel) + 1, static_cast<std::int64_t>(2 * n)); !ok) return unexpected(std::move(ok).error());
      return {};
    }
    // The reader follows the first `level` spatial levels; the tiled stage runs inside the last of them.
    const std::int64_t level = value(p.fusion_level) + 1;
    for (std::size_t i = 0; i < n; ++i)
      if (auto ok = st.follow_split(reader, static_cast<std::int64_t>(i) * (level + 1), split_steps[i], level); !ok) return ok;
    order.clear();
    for (std::int64_t l = 0; l <= level; ++l)
      for (std::size_t i = 0; i < n; ++i) order.push_back(static_cast<std::int64_t>(i) * (level + 1) + l);
    if (auto ok = st.reorder(reader, order); !ok) return ok;
    const std::int64_t attach = level * static_cast<std::int64_t>(n) - 1;
    if (auto ok = st.compute_at(local, reader, attach); !ok) return ok;
    auto fused = parallel_outer(st, reader, value(p.parallel) + 1, attach + 1);
    if (!fused) return unexpected(std::move(fused).error());
    const std::int64_t parallel = *fused;
    const std::int64_t reader_loops = static_cast<std::int64_t>(st.stage(static_cast<std::size_t>(reader)).iters.size());
    if (value(p.vectorize) != 0 && reader_loops - 1 > attach - (parallel - 1))
      return st.annotate(reader, reader_loops - 1, IteratorAnnotation::vectorize);
    return {};
  }

  std::shared_ptr<const ir::ComputeDag> dag_;
  CpuSketchOptions options_;
  std::vector<std::int32_t> preferred_sketches_;  ///< sketches without an in-place tiled stage
  std::vector<Sketch> sketches_;
  std::vector<std::pair<std::int64_t, std::vector<std::int64_t>>> divisors_;
};

}  // namespace crosstune::schedule
