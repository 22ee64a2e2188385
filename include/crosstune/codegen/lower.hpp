// crosstune/codegen/lower.hpp — lowers a schedule state to a loop nest with buffers and accesses.
//
// The loop nest is what code generators print and what loop-statistics features read: loops (extent,
// annotation, the stage they belong to), buffers (inputs, outputs, whole temporaries, and local tiles of
// stages computed inside another stage's loops), and stores whose values and indices are expressions
// over loop variables and buffer loads. Lowering follows TVM's schedule-to-loops pass in the parts a
// state can express:
//   * root stages run in stage order; a stage computed at a loop of another runs at the top of that
//     loop's body, over the region its consumer reads in the loops inside (bound inference on affine
//     indices), into a local buffer of that region's size;
//   * inlined stages are substituted into their readers;
//   * a reduction initialises its accumulator just outside its outermost reduction loop, over the
//     spatial loops inside it;
//   * split pieces shrink to what is left of the loop they split; a split that leaves a remainder gets
//     a guard, and so does a tile whose origin can leave its tensor; loops that run once are dropped;
//   * auto_unroll_max_step marks inner loops whose total trip count is within the limit.
//
//   auto nest = crosstune::codegen::lower(state);
//   if (!nest) std::cerr << nest.error().describe() << '\n';
//   for (const auto& loop : nest->loops) std::cout << loop.name << ' ' << loop.extent << '\n';
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/ir/dag.hpp"
#include "crosstune/schedule/state.hpp"

namespace crosstune::codegen {

enum class BufferKind : std::uint8_t {
  input,      ///< a placeholder, passed to the kernel
  output,     ///< an output of the DAG, passed to the kernel
  temporary,  ///< a whole intermediate tensor, allocated once per call
  local,      ///< the tile of a stage computed inside another stage's loop, allocated at that loop
};

struct Buffer {
  std::string name;  ///< a C identifier, unique in the nest
  std::int32_t tensor = -1;
  std::int32_t stage = -1;  ///< the stage writing it; -1 for inputs
  std::vector<std::int64_t> shape;
  BufferKind kind = BufferKind::temporary;
  [[nodiscard]] std::int64_t elements() const noexcept {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

struct Loop {
  std::string name;  ///< a C identifier, unique in the nest
  std::int64_t extent = 1;
  IteratorAnnotation annotation = IteratorAnnotation::none;
  bool unroll = false;  ///< marked by the stage's auto_unroll_max_step
  schedule::IteratorKind kind = schedule::IteratorKind::spatial;
  std::int32_t stage = -1;
  bool init = false;  ///< a loop of a reduction's initialisation
};

enum class StmtKind : std::uint8_t {
  loop,      ///< `loop` runs `body`
  allocate,  ///< `buffer` (a local tile) comes into scope
  store,     ///< buffer[index] = value, when `condition` holds (if set)
};

struct Stmt {
  StmtKind kind = StmtKind::store;
  std::int32_t loop = -1;
  std::int32_t buffer = -1;
  std::vector<ir::ExprId> index;
  ir::ExprId value = ir::no_expr;
  ir::ExprId condition = ir::no_expr;
  std::vector<Stmt> body;
};

/// The lowered program. In `pool`, variable i is loop i and a load's tensor number is a buffer index.
struct LoopNest {
  ir::ExprPool pool;
  std::vector<Buffer> buffers;
  std::vector<Loop> loops;
  std::vector<Stmt> body;
  std::vector<std::int32_t> params;  ///< kernel arguments: inputs in stage order, then outputs
};

namespace lower_detail {

/// `name` as a C++ identifier that cannot clash with a keyword, the emitted helpers (ct_*, CROSSTUNE_*)
/// or a standard name the kernel uses.
inline std::string c_identifier(std::string_view name) {
  static const std::set<std::string, std::less<>> reserved = {
      "alignas", "auto", "bool", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
      "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "namespace", "register", "return",
      "short", "signed", "sizeof", "static", "std", "struct", "switch", "template", "this", "typedef", "union",
      "unsigned", "using", "void", "volatile", "while", "args", "INFINITY", "NAN"};
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_') ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0])) != 0 || reserved.contains(out) ||
      out.starts_with("ct_") || out.starts_with("CROSSTUNE") || out.starts_with("__"))
    out = "v_" + out;
  return out;
}

/// An affine form over "atoms": fixed values (expressions of enclosing loops) or ranges [0, extent).
struct Atom {
  bool ranging = false;
  std::int64_t extent = 1;        ///< ranging: [0, extent)
  ir::ExprId fixed = ir::no_expr;  ///< fixed: its value, somewhere in [low, high]
  std::int64_t low = 0, high = 0;
};
struct Affine {
  std::vector<std::pair<std::int32_t, std::int64_t>> terms;  // atom, coefficient
  std::int64_t constant = 0;
  void add(const Affine& other, std::int64_t scale) {
    constant += other.constant * scale;
    for (const auto& term : other.terms) {
      const std::int32_t atom = term.first;
      auto it = std::find_if(terms.begin(), terms.end(), [atom](const auto& t) { return t.first == atom; });
      if (it == terms.end()) terms.emplace_back(atom, term.second * scale);
      else it->second += term.second * scale;
    }
  }
};

class Lowerer {
 public:
  explicit Lowerer(const schedule::State& state) : st_(state) {}

  Expected<LoopNest> run() {
    const std::size_t n = st_.size();
    // Buffers: inputs first (kernel arguments), then outputs, then whole temporaries.
    for (std::size_t s = 0; s < n; ++s) {
      const schedule::Stage& stage = st_.stage(s);
      if (!stage.placeholder()) continue;
      const auto b = add_buffer(stage, static_cast<std::int32_t>(s), BufferKind::input, stage.op->shape());
      nest_.params.push_back(b);
      placed_[stage.op->id] = {b, {}};
    }
    for (std::size_t s = 0; s < n; ++s) {
      const schedule::Stage& stage = st_.stage(s);
      if (stage.placeholder() || !st_.is_output(s)) continue;
      if (stage.compute_at != schedule::ComputeAtKind::root)
        return fail("output " + stage_text(s) + " must be computed at the root");
      const auto b = add_buffer(stage, static_cast<std::int32_t>(s), BufferKind::output, stage.op->shape());
      nest_.params.push_back(b);
      placed_[stage.op->id] = {b, {}};
    }
    for (std::size_t s = 0; s < n; ++s) {
      const schedule::Stage& stage = st_.stage(s);
      if (stage.placeholder() || st_.is_output(s) || stage.compute_at != schedule::ComputeAtKind::root) continue;
      const auto b = add_buffer(stage, static_cast<std::int32_t>(s), BufferKind::temporary, stage.op->shape());
      nest_.body.push_back(Stmt{StmtKind::allocate, -1, b, {}, ir::no_expr, ir::no_expr, {}});
      placed_[stage.op->id] = {b, {}};
    }
    if (auto ok = check_attachments(); !ok) return unexpected(ok.error());
    for (std::size_t s = 0; s < n; ++s) {
      const schedule::Stage& stage = st_.stage(s);
      if (stage.placeholder() || stage.compute_at != schedule::ComputeAtKind::root) continue;
      Region whole;
      whole.extents = stage.op->shape();
      if (auto ok = emit_stage(s, whole, nest_.body, false); !ok) return unexpected(ok.error());
    }
    return std::move(nest_);
  }

 private:
  struct Placement {
    std::int32_t buffer = -1;
    std::vector<ir::ExprId> base;  // per dimension: the tile's origin (empty: 0)
  };
  struct Region {
    std::vector<ir::ExprId> base;       // origin per dimension (empty: all 0)
    std::vector<std::int64_t> extents;  // size per dimension
    std::vector<std::pair<std::int64_t, std::int64_t>> base_range;  // least and greatest origin per dimension
    std::vector<char> guard_low, guard_high;  // the tile can start below 0 / end past the tensor
  };

  Unexpected fail(const std::string& why) const {
    return unexpected(Error(ErrorKind::unsupported, "codegen::lower: " + why));
  }
  [[nodiscard]] std::string stage_text(std::size_t s) const {
    return "stage " + std::to_string(s) + " '" + st_.stage(s).name() + "'";
  }

  std::int32_t add_buffer(const schedule::Stage& stage, std::int32_t s, BufferKind kind, std::vector<std::int64_t> shape) {
    Buffer b;
    b.name = unique(names_, c_identifier(stage.name()));
    b.tensor = stage.op->id;
    b.stage = s;
    b.kind = kind;
    b.shape = std::move(shape);
    nest_.buffers.push_back(std::move(b));
    return static_cast<std::int32_t>(nest_.buffers.size() - 1);
  }
  static std::string unique(std::set<std::string>& taken, std::string name) {
    if (taken.insert(name).second) return name;
    for (int i = 1;; ++i) {
      std::string candidate = name + "_" + std::to_string(i);
      if (taken.insert(candidate).second) return candidate;
    }
  }

  // ---- which stages read which, after inlining ------------------------------------------------------

  /// Tensors stage `s` loads once inlined stages are substituted.
  void effective_inputs(std::size_t s, std::vector<std::int32_t>& out) const {
    for (std::int32_t t : st_.stage(s).op->inputs) {
      const auto p = st_.stage_of(t);
      if (p >= 0 && st_.stage(static_cast<std::size_t>(p)).compute_at == schedule::ComputeAtKind::inlined) {
        effective_inputs(static_cast<std::size_t>(p), out);
      } else if (std::find(out.begin(), out.end(), t) == out.end()) {
        out.push_back(t);
      }
    }
  }

  Expected<void> check_attachments() {
    for (std::size_t s = 0; s < st_.size(); ++s) {
      const schedule::Stage& stage = st_.stage(s);
      if (stage.compute_at != schedule::ComputeAtKind::iter) continue;
      for (std::size_t c = 0; c < st_.size(); ++c) {
        const schedule::Stage& consumer = st_.stage(c);
        if (consumer.placeholder() || consumer.compute_at == schedule::ComputeAtKind::inlined || c == s) continue;
        std::vector<std::int32_t> in;
        effective_inputs(c, in);
        if (std::find(in.begin(), in.end(), stage.op->id) != in.end() && static_cast<std::int32_t>(c) != stage.attach_stage)
          return fail(stage_text(s) + " is computed at " + stage_text(static_cast<std::size_t>(stage.attach_stage)) +
                      " but also read by " + stage_text(c));
      }
    }
    for (std::size_t s = 0; s < st_.size(); ++s) {
      const schedule::Stage& stage = st_.stage(s);
      if (stage.placeholder() || stage.compute_at == schedule::ComputeAtKind::inlined || stage.op->reduce == ir::ReduceKind::none) continue;
      for (std::size_t i = 0; i < stage.iters.size(); ++i)
        if (stage.kind(i) == schedule::IteratorKind::mixed)
          return fail(stage_text(s) + " fuses spatial and reduction loops, which leaves no place for its initialisation");
    }
    return {};
  }

  // ---- loop extents through the stage's splits and fusions -------------------------------------------

  /// Extents of every loop variable of stage `s` when its axes have `root` extents; false in `exact`
  /// when some split leaves a remainder.
  static std::vector<std::int64_t> var_extents(const schedule::Stage& stage, const std::vector<std::int64_t>& root, bool& exact,
                                               std::vector<char>* inexact_split = nullptr) {
    std::vector<std::int64_t> ext(stage.vars.size(), 1);
    if (inexact_split != nullptr) inexact_split->assign(stage.vars.size(), 0);
    for (std::size_t v = 0; v < root.size() && v < ext.size(); ++v) ext[v] = root[v];
    for (std::size_t v = 0; v < stage.vars.size(); ++v) {
      const schedule::LoopVar& lv = stage.vars[v];
      if (lv.parts_count > 0) {
        std::int64_t e = 1;
        for (std::uint32_t p = 0; p < lv.parts_count; ++p) e *= ext[static_cast<std::size_t>(stage.fused_parts[lv.parts_offset + p])];
        ext[v] = e;
      }
      if (lv.fate == schedule::LoopVar::Fate::split) {
        // Each fixed piece is at most its length and at most what is left to split (TVM's bound
        // inference), working outward from the innermost piece (or inward, when the remainder is last).
        const auto first = static_cast<std::size_t>(lv.link);
        const auto count = static_cast<std::size_t>(lv.count);
        const bool remainder_first = stage.vars[first].factor == 0;
        std::int64_t left = ext[v];
        for (std::size_t i = 0; i + 1 < count; ++i) {
          const std::size_t piece = remainder_first ? first + count - 1 - i : first + i;
          const std::int64_t f = stage.vars[piece].factor;
          ext[piece] = std::min(f, left);
          left = left / f + (left % f != 0 ? 1 : 0);
        }
        ext[remainder_first ? first : first + count - 1] = left;
        std::int64_t product = 1;
        for (std::size_t i = 0; i < count; ++i) product = std::min<std::int64_t>(product * ext[first + i], std::int64_t{1} << 62);
        if (product != ext[v]) {
          exact = false;
          if (inexact_split != nullptr) (*inexact_split)[v] = 1;
        }
      }
    }
    return ext;
  }

  /// The value of loop variable `var` of `stage` as an expression of its leaf loops (`leaf(var)`).
  ir::ExprId var_value(const schedule::Stage& stage, std::int32_t var, const std::vector<std::int64_t>& ext,
                       const std::function<ir::ExprId(std::int32_t)>& leaf, std::vector<ir::ExprId>& memo) {
    auto& cached = memo[static_cast<std::size_t>(var)];
    if (cached != ir::no_expr) return cached;
    ir::ExprPool& pool = nest_.pool;
    const schedule::LoopVar& lv = stage.vars[static_cast<std::size_t>(var)];
    ir::ExprId e = ir::no_expr;
    if (lv.fate == schedule::LoopVar::Fate::leaf) {
      e = leaf(var);
    } else if (lv.fate == schedule::LoopVar::Fate::split) {
      std::int64_t stride = 1;
      e = pool.index(0).id;
      for (std::int32_t c = lv.count - 1; c >= 0; --c) {
        const std::int32_t child = lv.link + c;
        e = pool.binary(ir::ExprOp::add, pool.binary(ir::ExprOp::mul, var_value(stage, child, ext, leaf, memo), pool.index(stride).id), e);
        stride *= ext[static_cast<std::size_t>(child)];
      }
    } else {  // a part of a fusion: (fused / stride) % extent
      const auto at = schedule::fused_part_position(stage, var, [&](std::int32_t part) { return ext[static_cast<std::size_t>(part)]; });
      e = pool.binary(ir::ExprOp::floordiv, var_value(stage, lv.link, ext, leaf, memo), pool.index(at.stride).id);
      if (!at.outermost) e = pool.binary(ir::ExprOp::floormod, e, pool.index(ext[static_cast<std::size_t>(var)]).id);
    }
    return cached = e;
  }

  // ---- values: a stage's body with inlined stages substituted and loads placed ----------------------

  /// For ir::inline_body: the operation of an inlined stage, by tensor id.
  [[nodiscard]] auto inlined_op() const {
    return [this](std::int32_t tensor) -> const ir::Operation* {
      const auto p = st_.stage_of(tensor);
      if (p < 0) return nullptr;
      const schedule::Stage& stage = st_.stage(static_cast<std::size_t>(p));
      return stage.compute_at == schedule::ComputeAtKind::inlined ? stage.op.get() : nullptr;
    };
  }

  ir::ExprId value_of(std::size_t s, std::span<const ir::ExprId> axis_values) {
    ir::ExprPool& pool = nest_.pool;
    return ir::inline_body(pool, *st_.stage(s).op, axis_values, inlined_op(), [&](std::int32_t tensor, std::span<const ir::ExprId> index) {
      const auto it = placed_.find(tensor);
      if (it == placed_.end()) {
        missing_ = tensor;
        return pool.value(0.0).id;
      }
      const Placement& place = it->second;
      std::vector<ir::ExprId> local(index.begin(), index.end());
      for (std::size_t d = 0; d < local.size(); ++d) {
        if (!place.base.empty()) local[d] = pool.binary(ir::ExprOp::sub, local[d], place.base[d]);
        local[d] = ir::simplify_index(pool, local[d]);
      }
      return pool.load_ids(place.buffer, local);
    });
  }

  // ---- bound inference --------------------------------------------------------------------------------

  /// The affine form of index `id` (in `pool`, over the consumer's axis variables), or nullopt.
  static std::optional<Affine> affine_index(const ir::ExprPool& pool, ir::ExprId id, const std::vector<Affine>& axis) {
    const ir::ExprNode& n = pool[id];
    switch (n.op) {
      case ir::ExprOp::int_const: {
        Affine a;
        a.constant = n.integer;
        return a;
      }
      case ir::ExprOp::var: return axis[static_cast<std::size_t>(n.integer)];
      case ir::ExprOp::add:
      case ir::ExprOp::sub: {
        auto x = affine_index(pool, n.a, axis), y = affine_index(pool, n.b, axis);
        if (!x || !y) return std::nullopt;
        x->add(*y, n.op == ir::ExprOp::add ? 1 : -1);
        return x;
      }
      case ir::ExprOp::mul: {
        const ir::ExprNode& l = pool[n.a];
        const ir::ExprNode& r = pool[n.b];
        if (r.op == ir::ExprOp::int_const || l.op == ir::ExprOp::int_const) {
          auto x = affine_index(pool, r.op == ir::ExprOp::int_const ? n.a : n.b, axis);
          if (!x) return std::nullopt;
          Affine out;
          out.add(*x, r.op == ir::ExprOp::int_const ? r.integer : l.integer);
          return out;
        }
        return std::nullopt;
      }
      default: return std::nullopt;
    }
  }

  /// The region of `producer` that stage `consumer` reads in its loops after position `attach_pos`.
  Region infer_region(std::size_t producer, std::size_t consumer, const std::vector<std::int64_t>& ext,
                      const std::vector<ir::ExprId>& loop_of_var, std::size_t attach_pos, const Region& consumer_region) {
    const std::vector<ir::ExprId>& consumer_base = consumer_region.base;
    const schedule::Stage& cs = st_.stage(consumer);
    const ir::Operation& pop = *st_.stage(producer).op;
    Region region;
    region.extents = pop.shape();
    region.base.assign(region.extents.size(), ir::no_expr);
    region.base_range.assign(region.extents.size(), {0, 0});
    region.guard_low.assign(region.extents.size(), 0);
    region.guard_high.assign(region.extents.size(), 0);
    // Atoms: fixed loops (at or outside the attach point) and ranging loops (inside).
    std::vector<Atom> atoms;
    std::vector<std::optional<Affine>> var_affine(cs.vars.size());
    std::function<Affine(std::int32_t)> of_var = [&](std::int32_t v) -> Affine {
      auto& memo = var_affine[static_cast<std::size_t>(v)];
      if (memo) return *memo;
      const schedule::LoopVar& lv = cs.vars[static_cast<std::size_t>(v)];
      Affine a;
      if (lv.fate == schedule::LoopVar::Fate::leaf) {
        const auto pos = static_cast<std::size_t>(cs.position(v));
        Atom atom;
        if (pos <= attach_pos) {
          atom.fixed = loop_of_var[static_cast<std::size_t>(v)];
          atom.high = ext[static_cast<std::size_t>(v)] - 1;
        } else {
          atom.ranging = true;
          atom.extent = ext[static_cast<std::size_t>(v)];
        }
        atoms.push_back(atom);
        a.terms.emplace_back(static_cast<std::int32_t>(atoms.size() - 1), 1);
      } else if (lv.fate == schedule::LoopVar::Fate::split) {
        std::int64_t stride = 1;
        for (std::int32_t c = lv.count - 1; c >= 0; --c) {
          a.add(of_var(lv.link + c), stride);
          stride *= ext[static_cast<std::size_t>(lv.link + c)];
        }
      } else {  // part of a fusion: fixed when the whole fusion is fixed, else its full range
        const Affine f = of_var(lv.link);
        bool fixed = true;
        for (auto [atom, coef] : f.terms) fixed = fixed && !atoms[static_cast<std::size_t>(atom)].ranging;
        Atom atom;
        if (fixed) {
          std::vector<ir::ExprId> memo_values(cs.vars.size(), ir::no_expr);
          atom.fixed = var_value(cs, v, ext, [&](std::int32_t leaf) { return loop_of_var[static_cast<std::size_t>(leaf)]; }, memo_values);
          atom.high = ext[static_cast<std::size_t>(v)] - 1;
          // The outermost part is the fusion divided by the inner parts, with no modulo: when the fusion's
          // split overruns, it overruns too.
          const auto position = schedule::fused_part_position(cs, v, [&](std::int32_t part) { return ext[static_cast<std::size_t>(part)]; });
          if (position.outermost) {
            std::int64_t greatest = f.constant;
            for (const auto& term : f.terms) {
              const Atom& at = atoms[static_cast<std::size_t>(term.first)];
              greatest += term.second * (term.second < 0 ? at.low : at.high);
            }
            atom.high = std::max<std::int64_t>(atom.high, greatest / std::max<std::int64_t>(position.stride, 1));
          }
        } else {
          atom.ranging = true;
          atom.extent = ext[static_cast<std::size_t>(v)];
        }
        atoms.push_back(atom);
        a.terms.emplace_back(static_cast<std::int32_t>(atoms.size() - 1), 1);
      }
      memo = a;
      return a;
    };
    const std::size_t n_axes = cs.op->axes.size() + cs.op->reduce_axes.size();
    std::vector<Affine> axis(n_axes);
    for (std::size_t i = 0; i < n_axes; ++i) {
      axis[i] = of_var(static_cast<std::int32_t>(i));
      if (i < consumer_base.size()) {  // an attached consumer's axes are offset by its own tile's origin
        Atom origin;
        origin.fixed = consumer_base[i];
        origin.low = consumer_region.base_range[i].first;
        origin.high = consumer_region.base_range[i].second;
        atoms.push_back(origin);
        axis[i].terms.emplace_back(static_cast<std::int32_t>(atoms.size() - 1), 1);
      }
    }
    // The consumer's loads of the producer, with inlined stages substituted, over its axis variables.
    ir::ExprPool scratch;
    std::vector<std::vector<ir::ExprId>> accesses;
    const std::int32_t producer_tensor = pop.id;
    (void)ir::inline_body(scratch, *cs.op, {}, inlined_op(), [&](std::int32_t tensor, std::span<const ir::ExprId> index) {
      if (tensor == producer_tensor) accesses.emplace_back(index.begin(), index.end());
      return scratch.load_ids(tensor, index);
    });
    for (std::size_t d = 0; d < region.extents.size(); ++d) {
      std::optional<Affine> first;
      std::int64_t lo = 0, hi = 0;
      bool ok = !accesses.empty();
      for (const auto& access : accesses) {
        auto form = affine_index(scratch, access[d], axis);
        if (!form) {
          ok = false;
          break;
        }
        // Split into the fixed part and the range of the ranging part.
        Affine fixed;
        fixed.constant = 0;
        std::int64_t a_lo = form->constant, a_hi = form->constant;
        for (auto [atom, coef] : form->terms) {
          const Atom& at = atoms[static_cast<std::size_t>(atom)];
          if (coef == 0) continue;
          if (at.ranging) {
            const std::int64_t span = coef * (at.extent - 1);
            (span < 0 ? a_lo : a_hi) += span;
          } else {
            fixed.terms.emplace_back(atom, coef);
          }
        }
        if (!first) {
          first = fixed;
          lo = a_lo, hi = a_hi;
        } else if (first->terms != fixed.terms) {
          ok = false;  // different fixed parts: take the whole dimension
          break;
        } else {
          lo = std::min(lo, a_lo), hi = std::max(hi, a_hi);
        }
      }
      const std::int64_t full = region.extents[d];
      if (!ok || hi - lo + 1 >= full) {
        region.base[d] = nest_.pool.index(0).id;  // the whole dimension
        continue;
      }
      ir::ExprPool& pool = nest_.pool;
      ir::ExprId base = pool.index(lo).id;
      std::int64_t least = lo, greatest = lo;  // the origin's range over the fixed loops' values
      for (auto [atom, coef] : first->terms) {
        const Atom& at = atoms[static_cast<std::size_t>(atom)];
        base = pool.binary(ir::ExprOp::add, base, pool.binary(ir::ExprOp::mul, at.fixed, pool.index(coef).id));
        least += coef * (coef < 0 ? at.high : at.low);
        greatest += coef * (coef < 0 ? at.low : at.high);
      }
      region.base[d] = ir::simplify_index(pool, base);
      region.extents[d] = hi - lo + 1;
      region.base_range[d] = {least, greatest};
      // Reads under a condition (padding) or loops that overrun can ask for points outside the tensor.
      region.guard_low[d] = least < 0 ? 1 : 0;
      region.guard_high[d] = greatest + region.extents[d] > full ? 1 : 0;
    }
    return region;
  }

  // ---- emission ----------------------------------------------------------------------------------

  /// Emits stage `s` over `region` (its whole shape at the root) into `out`.
  Expected<void> emit_stage(std::size_t s, const Region& region, std::vector<Stmt>& out, bool parallel_outside) {
    const schedule::Stage& stage = st_.stage(s);
    const ir::Operation& op = *stage.op;
    const std::size_t n_spatial = op.axes.size();
    std::vector<std::int64_t> root = region.extents;
    for (const auto& a : op.reduce_axes) root.push_back(a.extent);
    bool exact = true;
    std::vector<char> inexact_split;
    const std::vector<std::int64_t> ext = var_extents(stage, root, exact, &inexact_split);
    bool tile_guarded = false;
    for (std::size_t d = 0; d < region.guard_low.size(); ++d) tile_guarded = tile_guarded || region.guard_low[d] || region.guard_high[d];
    const bool overruns = !exact || tile_guarded;
    // Loops of the stage, outermost first. A loop that runs once is no loop: its variable is 0 (TVM
    // drops such loops too), which keeps the nest and the emitted code to the loops that iterate.
    std::vector<std::int32_t> loop_ids(stage.iters.size(), -1);
    std::vector<ir::ExprId> loop_of_var(stage.vars.size(), ir::no_expr);
    for (std::size_t i = 0; i < stage.iters.size(); ++i) {
      if (stage.iters[i].annotation == IteratorAnnotation::parallel && stage.kind(i) != schedule::IteratorKind::spatial)
        return fail("loop '" + stage.iters[i].name + "' of " + stage_text(s) + " is a reduction and cannot run in parallel");
      if (ext[static_cast<std::size_t>(stage.iters[i].var)] == 1) {
        loop_of_var[static_cast<std::size_t>(stage.iters[i].var)] = nest_.pool.index(0).id;
        continue;
      }
      Loop loop;
      loop.name = unique(names_, c_identifier(stage.iters[i].name));
      loop.extent = ext[static_cast<std::size_t>(stage.iters[i].var)];
      loop.annotation = stage.iters[i].annotation;
      loop.kind = stage.kind(i);
      loop.stage = static_cast<std::int32_t>(s);
      nest_.loops.push_back(std::move(loop));
      loop_ids[i] = static_cast<std::int32_t>(nest_.loops.size() - 1);
      loop_of_var[static_cast<std::size_t>(stage.iters[i].var)] = nest_.pool.var(loop_ids[i]).id;
    }
    mark_unrolled(stage, loop_ids);
    // Axis values (within the region) from the leaf loops.
    std::vector<ir::ExprId> memo(stage.vars.size(), ir::no_expr);
    auto leaf_main = [&](std::int32_t v) { return loop_of_var[static_cast<std::size_t>(v)]; };
    std::vector<ir::ExprId> local(root.size()), global(root.size());
    for (std::size_t a = 0; a < root.size(); ++a) {
      local[a] = var_value(stage, static_cast<std::int32_t>(a), ext, leaf_main, memo);
      const bool has_base = a < n_spatial && !region.base.empty();
      global[a] = has_base ? nest_.pool.binary(ir::ExprOp::add, region.base[a], local[a]) : local[a];
    }
    // The buffer written: the stage's own (root) or a new local tile (attached).
    std::int32_t buffer = -1;
    std::vector<Stmt>* where = &out;
    if (stage.compute_at == schedule::ComputeAtKind::iter) {
      buffer = add_buffer(stage, static_cast<std::int32_t>(s), BufferKind::local, region.extents);
      out.push_back(Stmt{StmtKind::allocate, -1, buffer, {}, ir::no_expr, ir::no_expr, {}});
      placed_[op.id] = {buffer, region.base};
    } else {
      buffer = placed_.at(op.id).buffer;
    }
    // Guards: every split that leaves a remainder keeps its loop within the extent it split (checking
    // only the axes would let an inner remainder alias a valid point and count it twice), and a tile
    // stays within its tensor where its origin can leave it.
    auto guard = [&](bool spatial_only, const std::function<ir::ExprId(std::int32_t)>& leaf, std::vector<ir::ExprId>& memo_values) {
      ir::ExprPool& pool = nest_.pool;
      ir::ExprId condition = ir::no_expr;
      auto also = [&](ir::ExprId c) { condition = condition == ir::no_expr ? c : pool.binary(ir::ExprOp::logical_and, condition, c); };
      if (!overruns) return condition;
      for (std::size_t v = 0; v < stage.vars.size(); ++v) {
        if (inexact_split[v] == 0 || (spatial_only && stage.vars[v].kind != schedule::IteratorKind::spatial)) continue;
        const ir::ExprId value = var_value(stage, static_cast<std::int32_t>(v), ext, leaf, memo_values);
        also(pool.binary(ir::ExprOp::lt, ir::simplify_index(pool, value), pool.index(ext[v]).id));
      }
      const std::size_t n = spatial_only ? n_spatial : root.size();
      for (std::size_t a = 0; a < n; ++a) {
        if (a < region.guard_low.size() && region.guard_low[a])
          also(pool.binary(ir::ExprOp::ge, ir::simplify_index(pool, global[a]), pool.index(0).id));
        if (a < region.guard_high.size() && region.guard_high[a])
          also(pool.binary(ir::ExprOp::lt, ir::simplify_index(pool, global[a]), pool.index(op.axes[a].extent).id));
      }
      return condition;
    };
    // The first reduction loop: the initialisation goes just outside it.
    std::size_t first_reduce = stage.iters.size();
    for (std::size_t i = 0; i < stage.iters.size(); ++i)
      if (stage.kind(i) != schedule::IteratorKind::spatial) {
        first_reduce = i;
        break;
      }
    const bool reduction = op.reduce != ir::ReduceKind::none;
    bool parallel_open = parallel_outside;
    for (std::size_t i = 0; i <= stage.iters.size(); ++i) {
      if (reduction && i == first_reduce) {
        // init: the spatial loops inside the first reduction loop, then buffer[index] = identity
        std::vector<Stmt>* at = where;
        std::vector<ir::ExprId> init_loop_of_var = loop_of_var;
        for (std::size_t j = i; j < stage.iters.size(); ++j) {
          if (stage.kind(j) != schedule::IteratorKind::spatial || loop_ids[j] < 0) continue;
          Loop copy = nest_.loops[static_cast<std::size_t>(loop_ids[j])];
          copy.name = unique(names_, copy.name + "_init");
          copy.init = true;
          if (copy.annotation == IteratorAnnotation::parallel) copy.annotation = IteratorAnnotation::none;
          nest_.loops.push_back(std::move(copy));
          const auto id = static_cast<std::int32_t>(nest_.loops.size() - 1);
          init_loop_of_var[static_cast<std::size_t>(stage.iters[j].var)] = nest_.pool.var(id).id;
          at->push_back(Stmt{StmtKind::loop, id, -1, {}, ir::no_expr, ir::no_expr, {}});
          at = &at->back().body;
        }
        std::vector<ir::ExprId> init_memo(stage.vars.size(), ir::no_expr);
        auto leaf_init = [&](std::int32_t v) { return init_loop_of_var[static_cast<std::size_t>(v)]; };
        std::vector<ir::ExprId> saved_local = local;
        for (std::size_t a = 0; a < n_spatial; ++a) local[a] = var_value(stage, static_cast<std::int32_t>(a), ext, leaf_init, init_memo);
        if (!region.base.empty())
          for (std::size_t a = 0; a < n_spatial; ++a) global[a] = nest_.pool.binary(ir::ExprOp::add, region.base[a], local[a]);
        Stmt init{StmtKind::store, -1, buffer, {}, nest_.pool.value(ir::reduce_identity(op.reduce)).id, guard(true, leaf_init, init_memo), {}};
        for (std::size_t a = 0; a < n_spatial; ++a) init.index.push_back(ir::simplify_index(nest_.pool, local[a]));
        at->push_back(std::move(init));
        local = saved_local;
        if (!region.base.empty())
          for (std::size_t a = 0; a < n_spatial; ++a) global[a] = nest_.pool.binary(ir::ExprOp::add, region.base[a], local[a]);
      }
      if (i == stage.iters.size()) break;
      if (loop_ids[i] >= 0) {
        where->push_back(Stmt{StmtKind::loop, loop_ids[i], -1, {}, ir::no_expr, ir::no_expr, {}});
        Loop& loop = nest_.loops[static_cast<std::size_t>(loop_ids[i])];
        if (loop.annotation == IteratorAnnotation::parallel) {
          if (parallel_open) loop.annotation = IteratorAnnotation::none;  // nested parallelism: the outer loop has it
          parallel_open = true;
        }
        where = &where->back().body;
      }
      // Stages computed at this loop run first in its body.
      for (std::size_t p = 0; p < st_.size(); ++p) {
        const schedule::Stage& ps = st_.stage(p);
        if (ps.compute_at != schedule::ComputeAtKind::iter || ps.attach_stage != static_cast<std::int32_t>(s) ||
            ps.attach_var != stage.iters[i].var)
          continue;
        Region tile = infer_region(p, s, ext, loop_of_var, i, region);
        if (auto ok = emit_stage(p, tile, *where, parallel_open); !ok) return ok;
      }
    }
    // The statement: buffer[local] = value(global), or the reduction's update.
    ir::ExprPool& pool = nest_.pool;
    missing_ = -1;
    ir::ExprId value = value_of(s, global);
    if (missing_ >= 0) return fail(stage_text(s) + " reads tensor " + std::to_string(missing_) + " before it is computed");
    std::vector<ir::ExprId> index;
    for (std::size_t a = 0; a < n_spatial; ++a) index.push_back(ir::simplify_index(pool, local[a]));
    if (reduction) {
      const ir::ExprId current = pool.load_ids(buffer, index);
      const ir::ExprOp combine = op.reduce == ir::ReduceKind::sum ? ir::ExprOp::add : op.reduce == ir::ReduceKind::max ? ir::ExprOp::max : ir::ExprOp::min;
      value = pool.binary(combine, current, value);
    }
    where->push_back(Stmt{StmtKind::store, -1, buffer, std::move(index), value, guard(false, leaf_main, memo), {}});
    return {};
  }

  /// auto_unroll_max_step N: the innermost loops whose product of extents is at most N are unrolled.
  void mark_unrolled(const schedule::Stage& stage, const std::vector<std::int32_t>& loop_ids) {
    if (stage.auto_unroll_max_step <= 0) return;
    std::int64_t product = 1;
    for (std::size_t i = loop_ids.size(); i-- > 0;) {
      if (loop_ids[i] < 0) continue;  // a loop that runs once
      Loop& loop = nest_.loops[static_cast<std::size_t>(loop_ids[i])];
      product = std::min<std::int64_t>(product * loop.extent, std::int64_t{1} << 62);
      if (product > stage.auto_unroll_max_step) break;
      loop.unroll = true;
    }
  }

  const schedule::State& st_;
  LoopNest nest_;
  std::unordered_map<std::int32_t, Placement> placed_;
  std::set<std::string> names_;  // loops and buffers share one C++ scope
  std::int64_t missing_ = -1;
};

}  // namespace lower_detail

/// Lowers `state`; errors (ErrorKind::unsupported) say what the lowering cannot express.
[[nodiscard]] inline Expected<LoopNest> lower(const schedule::State& state) {
  return lower_detail::Lowerer(state).run();
}

}  // namespace crosstune::codegen
