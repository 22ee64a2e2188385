// crosstune/codegen/cpu.hpp — prints a lowered loop nest as one readable C++ kernel.
//
// The kernel is an `extern "C"` function taking the DAG's inputs (const, restrict) and then its outputs.
// Loops keep the schedule's iterator names; parallel loops become OpenMP `parallel for`, vectorised loops
// `omp simd`, unrolled loops an unroll pragma that both GCC and Clang understand; local tiles live on the
// stack when small. g++ and clang++ compile it at -O3 with -fopenmp (without -fopenmp the pragmas are
// ignored and the kernel runs serially, still correct).
//
//   auto nest = crosstune::codegen::lower(state).value();
//   std::string source = crosstune::codegen::emit_cpp(nest, {.function_name = "matmul_512"});
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crosstune/codegen/lower.hpp"
#include "crosstune/measure/kernel.hpp"

namespace crosstune::codegen {

struct CpuCodegenOptions {
  std::string function_name = "crosstune_kernel";
  bool openmp = true;                        ///< emit OpenMP pragmas for parallel and vectorised loops
  std::int64_t stack_tile_bytes = 64 * 1024; ///< local tiles up to this size live on the stack
  bool preamble = true;                      ///< the helper definitions; leave out for all but the first
                                             ///< kernel of a translation unit holding several
  std::string comment{};                     ///< a line or more for the comment above the function
  bool packed_entry = true;                  ///< also emit `<name>_packed(float* const* args)`, which
                                             ///< calls the kernel with args[0..] in parameter order
  bool promote_register_tiles = true;        ///< accumulate a register tile in a small local array around
                                             ///< the reduction loops over it (see register_tile)
  bool restrict_parallel_bodies = true;      ///< pass the buffers to each parallel loop's body again as
                                             ///< __restrict lambda parameters (false: the printing of
                                             ///< before 2026-12, kept for comparisons; see shared_buffers)
  bool wide_indices = true;                  ///< loop variables and indices as `long` (false: `int` when
                                             ///< every buffer and loop is below 2^30 elements, as before
                                             ///< 2026-12-03; see Printer's constructor)
};

/// The helpers every kernel uses: floor division for indices that can be negative, min/max, and a
/// heap buffer for tiles too large for the stack.
inline std::string cpu_preamble() {
  return R"(#include <cmath>
#include <cstdint>
#include <cstdlib>

#if defined(__clang__)
#define CROSSTUNE_UNROLL(n) _Pragma(CROSSTUNE_STRINGIFY(unroll n))
#else
#define CROSSTUNE_UNROLL(n) _Pragma(CROSSTUNE_STRINGIFY(GCC unroll n))
#endif
#define CROSSTUNE_STRINGIFY(x) #x

namespace {
inline float ct_max(float a, float b) { return a > b ? a : b; }
inline float ct_min(float a, float b) { return a < b ? a : b; }
inline long ct_imax(long a, long b) { return a > b ? a : b; }
inline long ct_imin(long a, long b) { return a < b ? a : b; }
inline long ct_floordiv(long a, long b) { long q = a / b; return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q; }
inline long ct_floormod(long a, long b) { return a - ct_floordiv(a, b) * b; }
struct ct_heap_buffer {
  explicit ct_heap_buffer(std::size_t n) : data(static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64))) {
    if (data == nullptr) std::abort();  // out of memory: a kernel has no way to report it
  }
  ~ct_heap_buffer() { std::free(data); }
  ct_heap_buffer(const ct_heap_buffer&) = delete;
  ct_heap_buffer& operator=(const ct_heap_buffer&) = delete;
  float* data;
};
}  // namespace
)";
}

namespace cpu_detail {

class Printer {
 public:
  Printer(const LoopNest& nest, const CpuCodegenOptions& options) : nest_(nest), options_(options), pool_(nest.pool) {
    std::int64_t largest = 1;
    for (const auto& b : nest.buffers) largest = std::max(largest, b.elements());
    for (const auto& l : nest.loops) largest = std::max(largest, l.extent);
    // `long` whatever the sizes: with `int` indices GCC 12 sign-extends each row's offset and keeps it in
    // a register or on the stack, where a 64-bit index folds the constant row strides into the addresses'
    // displacements. GEMM 1024^3 with an 8x64 register tile: 8 loads of row offsets from the stack per
    // step of k with `int`, none with `long`, 1.05x in alternation (docs/codegen.md).
    index_type_ = options.wide_indices || largest >= (std::int64_t{1} << 30) ? "long" : "int";
  }

  std::string run() {
    std::string out;
    if (options_.preamble) out += cpu_preamble() + "\n";
    if (!options_.comment.empty()) {
      std::size_t start = 0;
      while (start < options_.comment.size()) {
        const auto end = options_.comment.find('\n', start);
        out += "// " + options_.comment.substr(start, end == std::string::npos ? std::string::npos : end - start) + "\n";
        if (end == std::string::npos) break;
        start = end + 1;
      }
    }
    out += "extern \"C\" void " + options_.function_name + "(";
    for (std::size_t i = 0; i < nest_.params.size(); ++i) {
      const Buffer& b = nest_.buffers[static_cast<std::size_t>(nest_.params[i])];
      out += (i ? ", " : "") + std::string(b.kind == BufferKind::input ? "const float* __restrict " : "float* __restrict ") + b.name;
    }
    out += ") {\n";
    body_ = &out;
    for (const Stmt& s : nest_.body) stmt(s, 1, false, false);
    out += "}\n";
    if (options_.packed_entry) {
      out += "\nextern \"C\" void " + options_.function_name + "_packed(float* const* args) {\n  " + options_.function_name + "(";
      for (std::size_t i = 0; i < nest_.params.size(); ++i) out += (i ? ", args[" : "args[") + std::to_string(i) + "]";
      out += ");\n}\n";
    }
    return out;
  }

 private:
  void line(int depth, const std::string& text) {
    body_->append(static_cast<std::size_t>(depth) * 2, ' ');
    *body_ += text;
    *body_ += '\n';
  }

  /// Prints `s`. OpenMP allows no parallel or simd construct inside a simd loop, and the kernel needs
  /// no nested parallel region: those annotations are left out (the loop still runs, serially).
  void stmt(const Stmt& s, int depth, bool in_parallel, bool in_simd) {
    switch (s.kind) {
      case StmtKind::allocate: {
        const Buffer& b = nest_.buffers[static_cast<std::size_t>(s.buffer)];
        const std::int64_t n = b.elements();
        if (b.kind == BufferKind::local && n * 4 <= options_.stack_tile_bytes) {
          line(depth, "alignas(64) float " + b.name + "[" + std::to_string(n) + "];");
        } else {
          line(depth, "ct_heap_buffer " + b.name + "_storage(" + std::to_string(n) + ");");
          line(depth, "float* __restrict " + b.name + " = " + b.name + "_storage.data;");
        }
        return;
      }
      case StmtKind::loop: {
        const Loop& loop = nest_.loops[static_cast<std::size_t>(s.loop)];
        // A loop takes one of parallel, simd or unroll: each pragma must come right before its loop.
        const bool parallel = options_.openmp && loop.annotation == IteratorAnnotation::parallel && !in_parallel && !in_simd;
        const bool simd = !parallel && options_.openmp && loop.annotation == IteratorAnnotation::vectorize &&
                          loop.kind == schedule::IteratorKind::spatial && !in_simd;
        const bool unrolled = !parallel && !simd && (unrolls(loop) || (!in_simd && rows_of_vector_tile(s)));
        const bool serial = !parallel && !simd && !unrolled && options_.openmp && !in_simd && serial_reduction(s);
        if (!parallel && !simd && !in_simd && options_.promote_register_tiles && loop.kind == schedule::IteratorKind::reduction)
          if (const auto tile = register_tile(s)) {
            promoted_tile(*tile, depth);
            return;
          }
        if (parallel)
          line(depth, "#pragma omp parallel for");
        else if (simd)
          line(depth, "#pragma omp simd");
        else if (unrolled)
          line(depth, "CROSSTUNE_UNROLL(" + std::to_string(loop.extent) + ")");
        else if (serial)
          line(depth, "#pragma omp simd safelen(1) simdlen(1)  // a register tile's reduction: kept scalar");
        line(depth, loop_header(loop));
        const std::vector<std::int32_t> shared = parallel && options_.restrict_parallel_bodies ? shared_buffers(s.body) : std::vector<std::int32_t>{};
        if (shared.empty()) {
          for (const Stmt& inner : s.body) stmt(inner, depth + 1, in_parallel || parallel, in_simd || simd || serial);
        } else {
          // The buffers again as __restrict parameters (the comment on shared_buffers says why).
          std::string params, args;
          for (std::int32_t id : shared) {
            const Buffer& b = nest_.buffers[static_cast<std::size_t>(id)];
            params += (params.empty() ? "" : ", ") + std::string(b.kind == BufferKind::input ? "const float* __restrict " : "float* __restrict ") + b.name;
            args += (args.empty() ? "" : ", ") + b.name;
          }
          line(depth + 1, "[&](" + params + ") {  // __restrict again inside the parallel region");
          for (const Stmt& inner : s.body) stmt(inner, depth + 2, true, in_simd || simd || serial);
          line(depth + 1, "}(" + args + ");");
        }
        line(depth, "}");
        return;
      }
      case StmtKind::store: {
        const Buffer& b = nest_.buffers[static_cast<std::size_t>(s.buffer)];
        const std::string target = b.name + "[" + flat_index(b, s.index) + "]";
        // buffer[i] = buffer[i] + x  →  buffer[i] += x
        std::string text = accumulates(s) ? accumulation(target, s) : target + " = " + expr(s.value, 0) + ";";
        if (s.condition != ir::no_expr) text = "if (" + expr(s.condition, 0) + ") " + text;
        line(depth, text);
        return;
      }
    }
  }

  /// A register tile under reduction loops: the loops inside them (spatial, each unrolled or vectorised,
  /// at most `tile_elements_max` elements in all) and the one statement at their bottom, which accumulates
  /// (+=, max or min) into one element of a buffer that the reduction variables do not index.
  struct RegisterTile {
    std::vector<const Stmt*> reductions;  ///< the reduction loops around the tile, perfectly nested, outermost first
    std::vector<const Stmt*> loops;  ///< the tile's loops, outermost first
    const Stmt* store = nullptr;
    std::int64_t elements = 1;
  };

  /// `s`'s register tile, when `s` is a reduction loop whose whole body is one, under more reduction
  /// loops perhaps (each the only statement of the one around it). GCC 12 keeps such a tile
  /// in memory, loaded and stored at every step of the reduction loop, when the tile is a slice of a larger
  /// buffer (a cache_write tile, or the output): on GEMM 1024^3 with an 8x32 tile under k, 16 FMAs came
  /// with 16 loads and 16 stores of the tile and a load of B per row. Accumulated in a small local array
  /// loaded before the loop and stored after it (promoted_tile), the same tile stays in 16 registers and
  /// the loop is 2 loads of B, 8 broadcasts of A and 16 FMAs (docs/codegen.md). LLVM promotes such a tile
  /// by itself (TVM's kernels get this from LLVM's LICM). Random GEMM and convolution candidates: 1.21x
  /// and 1.25x in the geometric mean; one 16x16 tile left to SLP (no loop vectorised) ran at half speed.
  [[nodiscard]] std::optional<RegisterTile> register_tile(const Stmt& s) const {
    RegisterTile tile;
    const Stmt* at = &s;
    // the reduction loops, each the only statement of the one around it
    while (at->kind == StmtKind::loop && nest_.loops[static_cast<std::size_t>(at->loop)].kind == schedule::IteratorKind::reduction) {
      tile.reductions.push_back(at);
      if (at->body.size() != 1) return std::nullopt;
      at = &at->body.front();
    }
    if (tile.reductions.empty()) return std::nullopt;
    at = tile.reductions.back();
    while (true) {
      if (at->body.size() != 1) return std::nullopt;
      const Stmt& inner = at->body.front();
      if (inner.kind == StmtKind::store) {
        tile.store = &inner;
        break;
      }
      if (inner.kind != StmtKind::loop) return std::nullopt;
      const Loop& l = nest_.loops[static_cast<std::size_t>(inner.loop)];
      const bool vector = l.annotation == IteratorAnnotation::vectorize;
      if (l.kind != schedule::IteratorKind::spatial || l.annotation == IteratorAnnotation::parallel ||
          !(vector || unrolls(l) || rows_of_vector_tile(inner)))
        return std::nullopt;
      tile.loops.push_back(&inner);
      tile.elements *= l.extent;
      if (tile.elements > tile_elements_max) return std::nullopt;
      at = &inner;
    }
    if (tile.loops.empty()) return std::nullopt;
    const Stmt& store = *tile.store;
    if (store.condition != ir::no_expr) return std::nullopt;
    if (!accumulates(store)) return std::nullopt;
    // The reduction variables must not index the tile and every tile loop must (so that no two elements
    // of ct_tile stand for one of the buffer), and the rest of the value must not read the buffer.
    bool ok = true;
    std::vector<bool> indexes(tile.loops.size(), false);
    for (ir::ExprId i : store.index)
      nest_.pool.post_order(i, [&](ir::ExprId id) {
        const ir::ExprNode& n = nest_.pool[id];
        if (n.op != ir::ExprOp::var) return;
        for (const Stmt* r : tile.reductions)
          if (n.integer == r->loop) ok = false;
        for (std::size_t t = 0; t < tile.loops.size(); ++t)
          if (n.integer == tile.loops[t]->loop) indexes[t] = true;
      });
    ok = ok && std::all_of(indexes.begin(), indexes.end(), [](bool b) { return b; });
    nest_.pool.post_order(nest_.pool[store.value].b, [&](ir::ExprId id) {
      const ir::ExprNode& n = nest_.pool[id];
      if (n.op == ir::ExprOp::load && n.integer == store.buffer) ok = false;
    });
    if (!ok) return std::nullopt;
    return tile;
  }

  /// Prints the reduction loops around a register tile: the tile loaded into `ct_tile`, the loops
  /// accumulating there, the tile stored back; each part in the loops and pragmas stmt() would print.
  void promoted_tile(const RegisterTile& tile, int depth) {
    const Stmt& store = *tile.store;
    const Buffer& b = nest_.buffers[static_cast<std::size_t>(store.buffer)];
    std::string flat;  // the tile's own row-major index
    std::int64_t stride = 1;
    for (std::size_t i = tile.loops.size(); i-- > 0;) {
      const Loop& l = nest_.loops[static_cast<std::size_t>(tile.loops[i]->loop)];
      const std::string term = stride == 1 ? l.name : l.name + " * " + std::to_string(stride);
      flat = flat.empty() ? term : term + " + " + flat;
      stride *= l.extent;
    }
    const std::string element = "ct_tile[" + flat + "]";
    const std::string target = b.name + "[" + flat_index(b, store.index) + "]";
    auto tile_loops = [&](int at, bool inside_serial, const std::string& body) {
      for (const Stmt* t : tile.loops) {
        const Loop& l = nest_.loops[static_cast<std::size_t>(t->loop)];
        // as stmt() prints them: a vector loop gets simd (outside a kept-scalar loop), the rest unroll
        if (l.annotation != IteratorAnnotation::vectorize || (!(options_.openmp && !inside_serial) && unrolls(l)))
          line(at, "CROSSTUNE_UNROLL(" + std::to_string(l.extent) + ")");
        else if (options_.openmp && !inside_serial)
          line(at, "#pragma omp simd");
        line(at, loop_header(l));
        ++at;
      }
      line(at, body);
      for (std::size_t i = 0; i < tile.loops.size(); ++i) line(--at, "}");
    };
    line(depth, "{  // a register tile of " + b.name + ", accumulated in ct_tile around " +
                    nest_.loops[static_cast<std::size_t>(tile.reductions.front()->loop)].name + (tile.reductions.size() > 1 ? " and the loops in it" : ""));
    line(depth + 1, "alignas(64) float ct_tile[" + std::to_string(tile.elements) + "];");
    tile_loops(depth + 1, false, element + " = " + target + ";");
    int at = depth + 1;
    bool in_serial = false;
    for (const Stmt* r : tile.reductions) {
      const Loop& l = nest_.loops[static_cast<std::size_t>(r->loop)];
      const bool unrolled = unrolls(l) || (!in_serial && rows_of_vector_tile(*r));
      const bool serial = !unrolled && options_.openmp && !in_serial && serial_reduction(*r);
      if (unrolled)
        line(at, "CROSSTUNE_UNROLL(" + std::to_string(l.extent) + ")");
      else if (serial)
        line(at, "#pragma omp simd safelen(1) simdlen(1)  // a register tile's reduction: kept scalar");
      line(at, loop_header(l));
      in_serial = in_serial || serial;
      ++at;
    }
    tile_loops(at, in_serial, accumulation(element, store));
    for (std::size_t i = 0; i < tile.reductions.size(); ++i) line(--at, "}");
    tile_loops(depth + 1, false, target + " = " + element + ";");
    line(depth, "}");
  }

  /// The buffers that the statements of a parallel loop's `body` read or write and that live outside it,
  /// in buffer order. OpenMP outlines a parallel loop's body into a function of its own that reaches these
  /// pointers through a structure, and `__restrict` does not survive that: GCC 12 then assumes that an
  /// output may alias the inputs, so a register tile accumulating in place in the output is neither kept
  /// in registers nor vectorised. The printer passes them again, as `__restrict` parameters of a lambda the
  /// loop body calls (compilers keep a parameter's restrict when they inline the call). A 3x3 convolution
  /// (NHWC, 56x56, 64->64, 2 threads, Zen 5) accumulating into its output in a 28x2x64 unrolled tile ran at
  /// 9 GFLOP/s as printed before and 56 with the lambda; declaring restrict locals in the loop body instead
  /// changed nothing (docs/codegen.md).
  [[nodiscard]] std::vector<std::int32_t> shared_buffers(const std::vector<Stmt>& body) const {
    std::vector<bool> used(nest_.buffers.size(), false), inside(nest_.buffers.size(), false);
    bool accumulating = false;
    auto mark_expr = [&](ir::ExprId root) {
      if (root == ir::no_expr) return;
      nest_.pool.post_order(root, [&](ir::ExprId id) {
        const ir::ExprNode& n = nest_.pool[id];
        if (n.op == ir::ExprOp::load) used[static_cast<std::size_t>(n.integer)] = true;
      });
    };
    auto walk = [&](const auto& self, const std::vector<Stmt>& stmts) -> void {
      for (const Stmt& s : stmts) {
        if (s.kind == StmtKind::allocate) inside[static_cast<std::size_t>(s.buffer)] = true;
        if (s.kind == StmtKind::store) {
          used[static_cast<std::size_t>(s.buffer)] = true;
          accumulating = accumulating || (accumulates(s) && !inside[static_cast<std::size_t>(s.buffer)]);
          mark_expr(s.value);
          mark_expr(s.condition);
          for (ir::ExprId i : s.index) mark_expr(i);
        }
        self(self, s.body);
      }
    };
    walk(walk, body);
    if (!accumulating) return {};
    std::vector<std::int32_t> out;
    for (std::size_t b = 0; b < used.size(); ++b)
      if (used[b] && !inside[b]) out.push_back(static_cast<std::int32_t>(b));
    return out;
  }

  /// Whether store `s` accumulates: buffer[i] = buffer[i] + x (or max, min).
  [[nodiscard]] bool accumulates(const Stmt& s) const {
    const ir::ExprNode& v = pool_[s.value];
    return (v.op == ir::ExprOp::add || v.op == ir::ExprOp::max || v.op == ir::ExprOp::min) && is_same_load(v.a, s.buffer, s.index);
  }

  /// An accumulating store `s` printed as an update of `target`: `target += x;` or `target = ct_max(target, x);`.
  std::string accumulation(const std::string& target, const Stmt& s) {
    const ir::ExprNode v = pool_[s.value];  // a copy: printing grows pool_
    if (v.op == ir::ExprOp::add) return target + " += " + expr(v.b, 0) + ";";
    return target + " = " + std::string(v.op == ir::ExprOp::max ? "ct_max(" : "ct_min(") + target + ", " + expr(v.b, 0) + ");";
  }

  /// `for (long name = 0; name < extent; ++name) {`
  [[nodiscard]] std::string loop_header(const Loop& l) const {
    return "for (" + index_type_ + " " + l.name + " = 0; " + l.name + " < " + std::to_string(l.extent) + "; ++" + l.name + ") {";
  }

  [[nodiscard]] bool is_same_load(ir::ExprId id, std::int32_t buffer, const std::vector<ir::ExprId>& index) const {
    const ir::ExprNode& n = pool_[id];
    if (n.op != ir::ExprOp::load || n.integer != buffer) return false;
    const auto args = pool_.args(id);
    return std::equal(args.begin(), args.end(), index.begin(), index.end());
  }

  /// The flat offset of `index` into `b` (row-major), simplified over the loops' extents: the pieces of a
  /// fused loop variable fold back into it, so a loop over fused contiguous axes indexes its tensors
  /// affinely (and vectorises) instead of dividing and taking remainders in the innermost loop.
  std::string flat_index(const Buffer& b, std::span<const ir::ExprId> index_span) {
    const std::vector<ir::ExprId> index(index_span.begin(), index_span.end());  // pool_ grows below
    if (index.empty()) return "0";
    ir::ExprId flat = ir::no_expr;
    std::int64_t stride = 1;
    for (std::size_t d = index.size(); d-- > 0;) {
      const ir::ExprId term = stride == 1 ? index[d] : pool_.binary(ir::ExprOp::mul, index[d], pool_.index(stride).id);
      flat = flat == ir::no_expr ? term : pool_.binary(ir::ExprOp::add, term, flat);
      stride *= b.shape[d];
    }
    flat = ir::simplify_index(pool_, flat, [this](std::int64_t var) {
      return var >= 0 && static_cast<std::size_t>(var) < nest_.loops.size() ? nest_.loops[static_cast<std::size_t>(var)].extent : 0;
    }, /*largest_first=*/true);
    return expr(flat, 0);
  }

  /// True when the index expression cannot be negative (loop variables, non-negative constants, and
  /// sums, products and divisions of those).
  [[nodiscard]] bool non_negative(ir::ExprId id) const {
    const ir::ExprNode& n = pool_[id];
    switch (n.op) {
      case ir::ExprOp::int_const: return n.integer >= 0;
      case ir::ExprOp::var: return true;
      case ir::ExprOp::add:
      case ir::ExprOp::mul:
      case ir::ExprOp::min:
      case ir::ExprOp::max: return non_negative(n.a) && non_negative(n.b);
      case ir::ExprOp::floordiv:
      case ir::ExprOp::floormod: return non_negative(n.a) && pool_[n.b].op == ir::ExprOp::int_const && pool_[n.b].integer > 0;
      default: return false;
    }
  }

  /// Loops longer than this are not unrolled whatever the schedule asks (GCC refuses counts from 65535).
  static constexpr std::int64_t max_unroll = 1024;

  /// Whether `loop` gets the unroll pragma (when no parallel or simd pragma comes first).
  [[nodiscard]] static bool unrolls(const Loop& loop) noexcept {
    return (loop.annotation == IteratorAnnotation::unroll || loop.unroll) && loop.extent > 1 && loop.extent <= max_unroll;
  }

  /// The rows of a vector tile: a loop of at most `tile_rows_max` iterations whose only statement is a
  /// vectorised loop of stores, with at most `tile_elements_max` elements in all — the accumulators of a
  /// GEMM's or convolution's register tile, one row per iteration. Such a loop is unrolled whatever the
  /// schedule's auto_unroll_max_step: kept as a loop, its rows are indexed by the loop variable and GCC
  /// leaves the accumulators in memory once the vector row is wider than about two registers (GEMM 1024^3,
  /// tile 8x64 on Zen 5: 165-177 GFLOP/s as a loop, 403-439 unrolled; GCC unrolls an 8x32 tile itself). An
  /// LLVM backend unrolls such small loops on its own, so this only gives the C++ path the same code.
  [[nodiscard]] bool rows_of_vector_tile(const Stmt& s) const {
    const Loop& loop = nest_.loops[static_cast<std::size_t>(s.loop)];
    if (loop.extent < 2 || loop.extent > tile_rows_max || s.body.size() != 1) return false;
    const Stmt& row = s.body.front();
    if (row.kind != StmtKind::loop) return false;
    const Loop& lanes = nest_.loops[static_cast<std::size_t>(row.loop)];
    if (lanes.annotation != IteratorAnnotation::vectorize || lanes.kind != schedule::IteratorKind::spatial ||
        loop.extent * lanes.extent > tile_elements_max)
      return false;
    return std::all_of(row.body.begin(), row.body.end(), [](const Stmt& inner) { return inner.kind == StmtKind::store; });
  }

  /// Limits of `rows_of_vector_tile`: 512 floats are the 32 registers of AVX-512.
  static constexpr std::int64_t tile_rows_max = 16;
  static constexpr std::int64_t tile_elements_max = 512;

  /// Statement copies in `body` once its unroll pragmas are applied (counted up to 2^20); 0 when a loop
  /// would remain (one that is neither unrolled nor of extent 1) or the body holds anything but stores.
  /// A loop marked both to unroll and to vectorise or parallelise counts as remaining: inside the
  /// kept-scalar loop its simd or parallel pragma would be lost (a 3x3 convolution whose 14-wide simd
  /// loop was unrolled instead ran 8x slower).
  [[nodiscard]] std::int64_t unrolled_copies(const std::vector<Stmt>& body) const {
    constexpr std::int64_t enough = std::int64_t{1} << 20;
    std::int64_t copies = 0;
    for (const Stmt& s : body) {
      if (s.kind == StmtKind::store) {
        ++copies;
        continue;
      }
      if (s.kind != StmtKind::loop) return 0;
      const Loop& loop = nest_.loops[static_cast<std::size_t>(s.loop)];
      const bool other_pragma = loop.annotation == IteratorAnnotation::vectorize || loop.annotation == IteratorAnnotation::parallel;
      if (loop.extent != 1 && (!unrolls(loop) || other_pragma)) return 0;
      const std::int64_t inner = unrolled_copies(s.body);
      if (inner == 0) return 0;
      copies = std::min(enough, copies + loop.extent * inner);
    }
    return copies;
  }

  /// A reduction loop whose whole body is a fully unrolled register tile of `serial_reduction_copies` or
  /// more statements. GCC's loop vectoriser takes such a loop (innermost once the tile is unrolled) as a
  /// reduction and keeps each statement of the tile in a vector accumulator of its own: far more than the
  /// registers hold, so the kernel spills and runs 1.7-29x slower, and register allocation over the huge
  /// body can take a minute (a 32x16 tile of a 32^3 GEMM: 17 us and 51 s to compile, against 0.75 us and
  /// 0.8 s with the loop kept scalar; GCC 12, Zen 5). `omp simd safelen(1) simdlen(1)` asks for one lane:
  /// GCC and Clang leave the loop scalar and SLP still vectorises the unrolled tile; `safelen(1)` keeps the
  /// iterations in order, so the loop-carried accumulation is exact.
  [[nodiscard]] bool serial_reduction(const Stmt& s) const {
    const Loop& loop = nest_.loops[static_cast<std::size_t>(s.loop)];
    return loop.kind == schedule::IteratorKind::reduction && loop.extent > 1 &&
           unrolled_copies(s.body) >= serial_reduction_copies;
  }

  /// Below this many accumulators GCC's vectorised reduction is no slower (a 4-statement tile: equal).
  static constexpr std::int64_t serial_reduction_copies = 8;

  static std::string float_literal(double v) {
    if (std::isnan(v)) return "NAN";
    if (std::isinf(v)) return v > 0 ? "INFINITY" : "-INFINITY";
    char text[40];
    std::snprintf(text, sizeof text, "%.9g", v);
    std::string s = text;
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s + "f";
  }

  /// Prints `id`; `outer` is the precedence of the context (0 none, 1 condition, 2 additive, 3 multiplicative).
  std::string expr(ir::ExprId id, int outer) {
    const ir::ExprNode n = pool_[id];  // a copy: printing grows pool_
    auto wrap = [&](int own, std::string text) { return own < outer ? "(" + text + ")" : text; };
    switch (n.op) {
      case ir::ExprOp::int_const: return n.integer < 0 ? wrap(2, std::to_string(n.integer)) : std::to_string(n.integer);
      case ir::ExprOp::float_const: return float_literal(n.real);
      case ir::ExprOp::var: return nest_.loops[static_cast<std::size_t>(n.integer)].name;
      case ir::ExprOp::load: {
        const Buffer& b = nest_.buffers[static_cast<std::size_t>(n.integer)];
        return b.name + "[" + flat_index(b, pool_.args(id)) + "]";
      }
      case ir::ExprOp::add: return wrap(2, expr(n.a, 2) + " + " + expr(n.b, 3));
      case ir::ExprOp::sub: return wrap(2, expr(n.a, 2) + " - " + expr(n.b, 3));
      case ir::ExprOp::mul: return wrap(3, expr(n.a, 3) + " * " + expr(n.b, 4));
      case ir::ExprOp::div: return wrap(3, expr(n.a, 3) + " / " + expr(n.b, 4));
      case ir::ExprOp::floordiv:
        if (non_negative(id)) return wrap(3, expr(n.a, 3) + " / " + expr(n.b, 4));
        return "ct_floordiv(" + expr(n.a, 0) + ", " + expr(n.b, 0) + ")";
      case ir::ExprOp::floormod:
        if (non_negative(id)) return wrap(3, expr(n.a, 3) + " % " + expr(n.b, 4));
        return "ct_floormod(" + expr(n.a, 0) + ", " + expr(n.b, 0) + ")";
      case ir::ExprOp::min:
      case ir::ExprOp::max: {
        const bool index = n.type == ir::ExprType::index;
        const char* name = n.op == ir::ExprOp::max ? (index ? "ct_imax(" : "ct_max(") : (index ? "ct_imin(" : "ct_min(");
        return name + expr(n.a, 0) + ", " + expr(n.b, 0) + ")";
      }
      case ir::ExprOp::lt: return wrap(1, expr(n.a, 2) + " < " + expr(n.b, 2));
      case ir::ExprOp::ge: return wrap(1, expr(n.a, 2) + " >= " + expr(n.b, 2));
      case ir::ExprOp::logical_and: return wrap(1, expr(n.a, 1) + " && " + expr(n.b, 1));
      case ir::ExprOp::select: return "(" + expr(n.a, 1) + " ? " + expr(n.b, 1) + " : " + expr(n.c, 1) + ")";
      case ir::ExprOp::to_float: return "static_cast<float>(" + expr(n.a, 0) + ")";
      case ir::ExprOp::exp: return "std::exp(" + expr(n.a, 0) + ")";
      case ir::ExprOp::tanh: return "std::tanh(" + expr(n.a, 0) + ")";
      case ir::ExprOp::erf: return "std::erf(" + expr(n.a, 0) + ")";
    }
    return "0";
  }

  const LoopNest& nest_;
  const CpuCodegenOptions& options_;
  ir::ExprPool pool_;  ///< the nest's, and the flat indices built while printing
  std::string index_type_;
  std::string* body_ = nullptr;
};

}  // namespace cpu_detail

/// The C++ source of one kernel for `nest`.
[[nodiscard]] inline std::string emit_cpp(const LoopNest& nest, const CpuCodegenOptions& options = {}) {
  return cpu_detail::Printer(nest, options).run();
}

/// The buffers of the kernel's packed entry, in argument order (inputs, then outputs), for the
/// measurers of measure/.
[[nodiscard]] inline measure::KernelSignature kernel_signature(const LoopNest& nest) {
  measure::KernelSignature signature;
  for (std::int32_t p : nest.params) {
    const Buffer& b = nest.buffers[static_cast<std::size_t>(p)];
    signature.buffers.push_back({b.name, b.elements(), b.kind == BufferKind::output});
  }
  return signature;
}

/// The kernel as the measurers take it: the preamble apart (so kernels can share a translation unit),
/// the function named `options.function_name`, the entry its packed form.
[[nodiscard]] inline measure::KernelSource kernel_source(const LoopNest& nest, CpuCodegenOptions options = {}) {
  options.preamble = false;
  options.packed_entry = true;
  return {cpu_preamble(), emit_cpp(nest, options), options.function_name + "_packed"};
}

}  // namespace crosstune::codegen
