// crosstune/codegen/eigen_reference.hpp — the Eigen peer of a tuned kernel: the same operator written as
// Eigen GEMMs, in the form the measurers take, so that a tuner can report its best kernel next to what a
// hand-written library call achieves on the same machine, threads and timer.
//
// A fair comparison needs the same conditions, so the Eigen reference is not timed apart: it is one more
// measure::KernelSource with the packed entry `extern "C" void ENTRY(float* const* args)` and exactly the
// buffers of crosstune's generated kernels for the DAG (inputs in stage order, then the output), built by
// the same Builder and run by the same Runner, which checks its outputs against the reference and sets
// its OpenMP threads. Its preamble includes <Eigen/Core> (the GEMM lives there; Dense would only add build
// time), so the compiler needs `-I` eigen_include_dir(); Eigen runs its GEMM on OpenMP threads because
// the Builder compiles with -fopenmp.
//
// The operator is recognised from the DAG's workload key, and the DAG's input and output shapes must be
// the ones the key implies:
//   * matmul_layer (ir::matmul): C[M, N] = A[M, K] · B[K, N], one GEMM;
//   * matmul_add: A[N, L] · B[L, M] + C[N, M];
//   * crosstune.dense: data[M, K] · weight[N, K]ᵀ, then + bias[N] and ReLU or GELU as the DAG computes them;
//   * crosstune.batch_matmul: one GEMM per batch (B transposed or not, a batch of 1 broadcast), the batches
//     spread over the threads when there are at least as many as threads, else each GEMM threaded;
//   * crosstune.conv2d and conv2d_layer with groups = 1, NCHW or NHWC, any stride, padding and dilation:
//     per image, im2col into a per-thread scratch buffer that grows once and is reused, then one GEMM
//     (a 1×1, stride-1, unpadded convolution multiplies the image in place); conv2d_layer's tutorial form
//     adds its bias per channel and its ReLU.
// Everything else (depthwise and grouped convolutions, pooling, element-wise operators, hashed keys) is
// refused with ErrorKind::unsupported naming the family.
//
//   auto nest = codegen::lower(schedule::State(dag)).value();
//   const measure::KernelSignature signature = codegen::kernel_signature(nest);
//   auto eigen = codegen::eigen_reference_kernel(*dag, signature);           // or why there is none
//   options.build.compile.extra_flags.push_back("-I" + codegen::eigen_include_dir().value().string());
//   auto measurer = measure::LocalMeasurer::make(options).value();
//   measurer.set_task({.signature = signature, .seed = 1, .reference = reference}).value();
//   auto batch = measurer.measure(std::vector<measure::Candidate>{{.kernel = *eigen, .record = record}});
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/workload_key.hpp"
#include "crosstune/ir/dag.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/ir/workloads.hpp"
#include "crosstune/measure/kernel.hpp"

namespace crosstune::codegen {

struct EigenReferenceOptions {
  std::string function_name = "crosstune_eigen";  ///< the packed entry's name (a C identifier)
};

namespace eigen_detail {

/// Text from pieces: strings and integers (never "literal" + std::string, which GCC 12 warns about
/// falsely under -Wrestrict).
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string text;
  auto append = [&text](const auto& part) {
    if constexpr (std::is_integral_v<std::decay_t<decltype(part)>>)
      text += std::to_string(part);
    else
      text += std::string_view(part);
  };
  (append(parts), ...);
  return text;
}

inline std::string shape_text(std::span<const std::int64_t> shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

inline Unexpected invalid(const std::string& what, const std::string& hint = {}) {
  return unexpected(
      Error(ErrorKind::invalid_argument, cat("codegen::eigen_reference_kernel: ", what), {}, 0, 0, hint));
}

inline Unexpected unsupported(const std::string& family, const std::string& why = {}) {
  return unexpected(
      Error(ErrorKind::unsupported,
            cat("codegen::eigen_reference_kernel: no Eigen implementation of '", family, "'", why), {}, 0, 0,
            "the Eigen reference covers matmul_layer, matmul_add, crosstune.dense, crosstune.batch_matmul, "
            "crosstune.conv2d and conv2d_layer (groups = 1)"));
}

/// The preamble every Eigen reference shares (so several of them can share a translation unit): Eigen's
/// matrices over the kernel's row-major buffers, the epilogue, im2col and the scratch buffer.
inline std::string preamble() {
  return R"(// Eigen in release form, as a user's -DNDEBUG build would have it.
#ifndef EIGEN_NO_DEBUG
#define EIGEN_NO_DEBUG
#endif
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace ct_eigen {
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const Matrix>;
using Map = Eigen::Map<Matrix>;

inline int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// A buffer of at least `elements` floats for the calling thread: it grows to the largest size asked for
// and is reused by every later call (the timer calls a kernel many times).
inline float* scratch(long elements) {
  static thread_local std::vector<float> buffer;
  if (static_cast<long>(buffer.size()) < elements) buffer.resize(static_cast<std::size_t>(elements));
  return buffer.data();
}

enum class Activation { none, relu, gelu };

// The activations exactly as crosstune's generated kernels compute them.
template <Activation A>
inline float activate(float x) {
  if (A == Activation::relu) return x > 0.0f ? x : 0.0f;
  if (A == Activation::gelu) return x * 0.5f * (std::erf(x * 0.707106781f) + 1.0f);
  return x;
}

// out[r, c] = activate(out[r, c] + column_bias[c] + row_bias[r]); a null bias is left out.
template <Activation A>
inline void epilogue(float* out, long rows, long cols, const float* column_bias, const float* row_bias) {
#pragma omp parallel for if (rows * cols >= 32768)
  for (long r = 0; r < rows; ++r) {
    float* row = out + r * cols;
    const float add = row_bias != nullptr ? row_bias[r] : 0.0f;
    for (long c = 0; c < cols; ++c) {
      float v = row[c];
      if (column_bias != nullptr) v = v + column_bias[c];
      if (row_bias != nullptr) v = v + add;
      row[c] = activate<A>(v);
    }
  }
}

// One image's convolution window: its channels and size, the kernel, strides, leading pads, dilations and
// the output size.
struct Window {
  long channels, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left, dilation_h,
      dilation_w, out_height, out_width;
};

// NCHW: col[(c·KH + ky)·KW + kx, oy·OW + ox] = image[c, oy·SH + ky·DH − PT, ox·SW + kx·DW − PL], 0 in the
// padding.
inline void im2col_nchw(const float* image, float* col, const Window& w) {
  const long rows = w.channels * w.kernel_h * w.kernel_w, cols = w.out_height * w.out_width;
#pragma omp parallel for if (rows * cols >= 32768)
  for (long r = 0; r < rows; ++r) {
    const long kx = r % w.kernel_w, ky = (r / w.kernel_w) % w.kernel_h, c = r / (w.kernel_w * w.kernel_h);
    float* out = col + r * cols;
    for (long oy = 0; oy < w.out_height; ++oy) {
      const long iy = oy * w.stride_h + ky * w.dilation_h - w.pad_top;
      float* line = out + oy * w.out_width;
      if (iy < 0 || iy >= w.height) {
        std::fill(line, line + w.out_width, 0.0f);
        continue;
      }
      const float* in = image + (c * w.height + iy) * w.width;
      for (long ox = 0; ox < w.out_width; ++ox) {
        const long ix = ox * w.stride_w + kx * w.dilation_w - w.pad_left;
        line[ox] = ix >= 0 && ix < w.width ? in[ix] : 0.0f;
      }
    }
  }
}

// NHWC: col[oy·OW + ox, (ky·KW + kx)·C + c] = image[oy·SH + ky·DH − PT, ox·SW + kx·DW − PL, c], 0 in
// the padding.
inline void im2col_nhwc(const float* image, float* col, const Window& w) {
  const long depth = w.kernel_h * w.kernel_w * w.channels;
#pragma omp parallel for if (w.out_height * w.out_width * depth >= 32768)
  for (long oy = 0; oy < w.out_height; ++oy)
    for (long ox = 0; ox < w.out_width; ++ox) {
      float* out = col + (oy * w.out_width + ox) * depth;
      for (long ky = 0; ky < w.kernel_h; ++ky) {
        const long iy = oy * w.stride_h + ky * w.dilation_h - w.pad_top;
        for (long kx = 0; kx < w.kernel_w; ++kx) {
          const long ix = ox * w.stride_w + kx * w.dilation_w - w.pad_left;
          float* taps = out + (ky * w.kernel_w + kx) * w.channels;
          if (iy < 0 || iy >= w.height || ix < 0 || ix >= w.width) {
            std::fill(taps, taps + w.channels, 0.0f);
          } else {
            const float* in = image + (iy * w.width + ix) * w.channels;
            std::copy(in, in + w.channels, taps);
          }
        }
      }
    }
}
}  // namespace ct_eigen
)";
}

enum class Family { matmul, matmul_add, dense, batch_matmul, conv2d };

/// What the kernel computes, read from the workload key, and the shapes the DAG must have for it.
struct Plan {
  Family family = Family::matmul;
  std::int64_t m = 0, k = 0, n = 0;       ///< the GEMM's sizes (all but conv2d)
  std::int64_t a_batch = 1, b_batch = 1;  ///< batch_matmul
  bool b_transposed = true;               ///< batch_matmul: B is [batch, N, K]
  bool bias = false;                      ///< dense: bias[N]; conv2d: bias[1, CO, 1, 1]
  ir::Activation activation = ir::Activation::none;
  ir::Conv2dParams conv{};
  std::vector<ir::Shape> inputs{};  ///< the placeholders' shapes, in stage order
  ir::Shape output{};
};

inline Expected<Plan> plan_of(const ir::ComputeDag& dag) {
  using ir::workload_detail::Args;
  const std::string& key_text = dag.workload_key();
  auto key = parse_workload_key(key_text);
  if (!key)
    return unsupported(key_text, cat(": the workload key does not parse (", key.error().message, ")"));
  if (key->hashed())
    return unsupported(key_text.substr(0, 40), "...: the key is the hash of a network subgraph");
  const std::string& name = key->name;
  const Args args(*key, key_text);
  std::string why;
  std::vector<std::int64_t> v;
  Plan plan;

  if (name == "matmul_layer") {
    if (auto ok = args.count(3); !ok) return unexpected(ok.error());
    if (!args.integers(0, 3, v, why)) return args.fail(why);
    plan.family = Family::matmul;
    plan.m = v[0], plan.k = v[1], plan.n = v[2];
    plan.inputs = {{plan.m, plan.k}, {plan.k, plan.n}};
    plan.output = {plan.m, plan.n};
  } else if (name == "matmul_add") {  // A[N, L] · B[L, M] + C[N, M]
    if (args.size() != 3 && args.size() != 4) return args.fail("takes 3 or 4 arguments");
    if (!args.integers(0, 3, v, why)) return args.fail(why);
    std::string dtype = "float32";
    if (args.size() == 4 && !args.text(3, dtype, why)) return args.fail(why);
    if (dtype != "float32") return unsupported(name, cat(" in ", dtype));
    plan.family = Family::matmul_add;
    plan.m = v[0], plan.k = v[1], plan.n = v[2];
    plan.inputs = {{plan.m, plan.k}, {plan.k, plan.n}, {plan.m, plan.n}};
    plan.output = {plan.m, plan.n};
  } else if (name == "crosstune.dense") {
    if (auto ok = args.count(5); !ok) return unexpected(ok.error());
    std::string activation;
    if (!args.integers(0, 4, v, why) || !args.text(4, activation, why)) return args.fail(why);
    if (activation == "relu")
      plan.activation = ir::Activation::relu;
    else if (activation == "gelu")
      plan.activation = ir::Activation::gelu;
    else if (activation != "none")
      return unsupported(name, cat(" with the activation '", activation, "'"));
    plan.family = Family::dense;
    plan.m = v[0], plan.k = v[1], plan.n = v[2], plan.bias = v[3] != 0;
    plan.inputs = {{plan.m, plan.k}, {plan.n, plan.k}};
    if (plan.bias) plan.inputs.push_back({plan.n});
    plan.output = {plan.m, plan.n};
  } else if (name == "crosstune.batch_matmul") {
    if (auto ok = args.count(6); !ok) return unexpected(ok.error());
    if (!args.integers(0, 6, v, why)) return args.fail(why);
    plan.family = Family::batch_matmul;
    plan.a_batch = v[0], plan.b_batch = v[1], plan.m = v[2], plan.k = v[3], plan.n = v[4];
    plan.b_transposed = v[5] != 0;
    if (plan.a_batch != plan.b_batch && plan.a_batch != 1 && plan.b_batch != 1)
      return args.fail("has batches that do not broadcast");
    plan.inputs = {{plan.a_batch, plan.m, plan.k},
                   plan.b_transposed ? ir::Shape{plan.b_batch, plan.n, plan.k}
                                     : ir::Shape{plan.b_batch, plan.k, plan.n}};
    plan.output = {std::max(plan.a_batch, plan.b_batch), plan.m, plan.n};
  } else if (name == "crosstune.conv2d") {
    if (auto ok = args.count(17); !ok) return unexpected(ok.error());
    std::string layout;
    if (!args.text(0, layout, why) || !args.integers(1, 16, v, why)) return args.fail(why);
    if (layout != "NCHW" && layout != "NHWC") return unsupported(name, cat(" in the layout ", layout));
    ir::Conv2dParams& p = plan.conv;
    p.layout = layout == "NCHW" ? ir::Layout::nchw : ir::Layout::nhwc;
    p.batch = v[0], p.in_channels = v[1], p.in_height = v[2], p.in_width = v[3], p.out_channels = v[4];
    p.kernel_h = v[5], p.kernel_w = v[6], p.stride_h = v[7], p.stride_w = v[8];
    p.pad_top = v[9], p.pad_left = v[10], p.pad_bottom = v[11], p.pad_right = v[12];
    p.dilation_h = v[13], p.dilation_w = v[14], p.groups = v[15];
    plan.family = Family::conv2d;
  } else if (name == "conv2d_layer") {  // the two forms ir/workloads.hpp rebuilds, both NCHW
    if (auto ok = args.count(9); !ok) return unexpected(ok.error());
    if (!args.integers(0, 7, v, why)) return args.fail(why);
    ir::Conv2dParams& p = plan.conv;
    const bool tutorial = args[7].is_list() && args[8].is_list();  // N, H, W, CO, CI, ... with bias and ReLU
    if (tutorial) {
      p.batch = v[0], p.in_height = v[1], p.in_width = v[2], p.out_channels = v[3], p.in_channels = v[4];
      plan.bias = true;
      plan.activation = ir::Activation::relu;
    } else {
      p.batch = v[0], p.in_channels = v[1], p.in_height = v[2], p.in_width = v[3], p.out_channels = v[4];
    }
    p.kernel_h = v[5], p.kernel_w = v[6];
    if (!ir::workload_detail::stride_of(args[7], p, why) ||
        !ir::workload_detail::pad_tuple(args[8], p.kernel_h, p.kernel_w, p, why))
      return args.fail(why);
    plan.family = Family::conv2d;
  } else {
    return unsupported(name);
  }

  if (plan.family == Family::conv2d) {
    const ir::Conv2dParams& p = plan.conv;
    if (auto ok = p.validate(name); !ok) return args.fail(ok.error().message);
    if (p.groups != 1) return unsupported(name, cat(" with ", p.groups, " groups (only groups = 1)"));
    const bool nchw = p.layout == ir::Layout::nchw;
    plan.inputs = {ir::operator_detail::shape4(p.layout, p.batch, p.in_channels, p.in_height, p.in_width),
                   nchw ? ir::Shape{p.out_channels, p.in_channels, p.kernel_h, p.kernel_w}
                        : ir::Shape{p.kernel_h, p.kernel_w, p.in_channels, p.out_channels}};
    if (plan.bias) plan.inputs.push_back({1, p.out_channels, 1, 1});
    plan.output =
        ir::operator_detail::shape4(p.layout, p.batch, p.out_channels, p.out_height(), p.out_width());
  } else if (plan.m < 1 || plan.k < 1 || plan.n < 1 || plan.a_batch < 1 || plan.b_batch < 1) {
    return args.fail("has a size below 1");
  }

  // The DAG must compute what its key names: the same inputs and output (a hand-built DAG may carry a
  // key it does not compute).
  const std::vector<std::int32_t> inputs = dag.inputs();
  auto mismatch = [&](const std::string& what) {
    return invalid(cat("the DAG does not have the buffers its workload key ", key_text, " implies: ", what),
                   "build the DAG with ir/operators.hpp or ir::dag_from_workload_key");
  };
  if (inputs.size() != plan.inputs.size())
    return mismatch(cat(inputs.size(), " inputs, the key implies ", plan.inputs.size()));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const ir::Operation& op = dag.op(static_cast<std::size_t>(dag.find(inputs[i])));
    if (op.shape() != plan.inputs[i])
      return mismatch(cat("input '", op.name, "' is ", shape_text(op.shape()), ", the key implies ",
                          shape_text(plan.inputs[i])));
  }
  if (dag.outputs().size() != 1) return mismatch(cat(dag.outputs().size(), " outputs, the key implies 1"));
  const ir::Operation& out = dag.op(static_cast<std::size_t>(dag.find(dag.outputs()[0])));
  if (out.shape() != plan.output)
    return mismatch(cat("output '", out.name, "' is ", shape_text(out.shape()), ", the key implies ",
                        shape_text(plan.output)));
  return plan;
}

/// The signature must be the one crosstune's kernels for the DAG take: its inputs in stage order, then
/// its output, with their element counts.
inline Expected<void> check_signature(const ir::ComputeDag& dag, const measure::KernelSignature& signature) {
  const std::string hint = "pass codegen::kernel_signature(codegen::lower(schedule::State(dag)).value())";
  if (auto ok = signature.validate(); !ok) return invalid(ok.error().message, hint);
  std::vector<std::int32_t> ids = dag.inputs();
  ids.insert(ids.end(), dag.outputs().begin(), dag.outputs().end());
  if (signature.buffers.size() != ids.size())
    return invalid(
        cat("the signature has ", signature.buffers.size(), " buffers, the DAG's kernel takes ", ids.size()),
        hint);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const measure::BufferSpec& b = signature.buffers[i];
    const ir::Operation& op = dag.op(static_cast<std::size_t>(dag.find(ids[i])));
    const bool output = i >= ids.size() - dag.outputs().size();
    if (b.elements != op.element_count())
      return invalid(
          cat("buffer ", i, " ('", b.name, "') of the signature holds ", b.elements, " elements, the DAG's '",
              op.name, "' ", shape_text(op.shape()), " has ", op.element_count()),
          hint);
    if (b.output != output)
      return invalid(cat("buffer ", i, " ('", b.name, "') of the signature is marked as ",
                         b.output ? "an output" : "an input", ", but the DAG's '", op.name, "' is ",
                         output ? "its output" : "an input"),
                     hint);
  }
  return {};
}

inline bool is_identifier(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

inline std::string_view activation_name(ir::Activation a) {
  switch (a) {
    case ir::Activation::relu: return "ct_eigen::Activation::relu";
    case ir::Activation::gelu: return "ct_eigen::Activation::gelu";
    case ir::Activation::none: break;
  }
  return "ct_eigen::Activation::none";
}

/// The entry's body for `plan`; args[0..] are the inputs in stage order, args[output] the output.
inline std::string body_of(const Plan& plan) {
  const std::string m = std::to_string(plan.m), k = std::to_string(plan.k), n = std::to_string(plan.n);
  const std::size_t output = plan.inputs.size();
  const std::string out = cat("args[", output, "]");
  const std::string_view act = activation_name(plan.activation);
  switch (plan.family) {
    case Family::matmul:
      return cat("  const ConstMap a(args[0], ", m, ", ", k, ");\n",  //
                 "  const ConstMap b(args[1], ", k, ", ", n, ");\n",  //
                 "  Map c(", out, ", ", m, ", ", n, ");\n",           //
                 "  c.noalias() = a * b;\n");
    case Family::matmul_add:
      return cat("  const ConstMap a(args[0], ", m, ", ", k, ");\n",  //
                 "  const ConstMap b(args[1], ", k, ", ", n, ");\n",  //
                 "  Map out(", out, ", ", m, ", ", n, ");\n",         //
                 "  out = ConstMap(args[2], ", m, ", ", n, ");\n",    //
                 "  out.noalias() += a * b;\n");
    case Family::dense: {
      std::string text = cat("  const ConstMap data(args[0], ", m, ", ", k, ");\n",    //
                             "  const ConstMap weight(args[1], ", n, ", ", k, ");\n",  //
                             "  Map out(", out, ", ", m, ", ", n, ");\n",              //
                             "  out.noalias() = data * weight.transpose();\n");
      if (plan.bias || plan.activation != ir::Activation::none)
        text += cat("  ct_eigen::epilogue<", act, ">(", out, ", ", m, ", ", n, ", ",
                    plan.bias ? "args[2]" : "nullptr", ", nullptr);\n");
      return text;
    }
    case Family::batch_matmul: {
      const std::int64_t batch = std::max(plan.a_batch, plan.b_batch);
      // A batch of 1 is broadcast: every GEMM reads the same matrix.
      const std::string a_at = plan.a_batch == 1 ? "args[0]" : cat("args[0] + b * ", plan.m * plan.k);
      const std::string b_at = plan.b_batch == 1 ? "args[1]" : cat("args[1] + b * ", plan.n * plan.k);
      const std::string b_map = plan.b_transposed ? cat("ConstMap(", b_at, ", ", n, ", ", k, ").transpose()")
                                                  : cat("ConstMap(", b_at, ", ", k, ", ", n, ")");
      std::string text = cat("  auto one = [&](long b) {\n",                                             //
                             "    const ConstMap a(", a_at, ", ", m, ", ", k, ");\n",                    //
                             "    Map out(", out, " + b * ", plan.m * plan.n, ", ", m, ", ", n, ");\n",  //
                             "    out.noalias() = a * ", b_map, ";\n",                                   //
                             "  };\n");
      if (batch == 1) return text + "  one(0);\n";
      // At least one batch per thread: the batches in parallel (Eigen then runs each GEMM on its thread
      // alone); fewer: one after the other, each GEMM on all threads.
      return text + cat("  if (", batch, " >= ct_eigen::max_threads()) {\n",     //
                        "#pragma omp parallel for\n",                            //
                        "    for (long b = 0; b < ", batch, "; ++b) one(b);\n",  //
                        "  } else {\n",                                          //
                        "    for (long b = 0; b < ", batch, "; ++b) one(b);\n",  //
                        "  }\n");
    }
    case Family::conv2d: {
      const ir::Conv2dParams& p = plan.conv;
      const bool nchw = p.layout == ir::Layout::nchw;
      const std::int64_t pixels = p.out_height() * p.out_width(),
                         depth = p.in_channels * p.kernel_h * p.kernel_w;
      const std::int64_t image = p.in_channels * p.in_height * p.in_width, result = p.out_channels * pixels;
      // A 1×1 window with stride 1 and no padding reads the image as it lies: no im2col.
      const bool direct = p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                          p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0;
      std::string text;
      if (!direct) {
        text += cat("  const ct_eigen::Window window{", p.in_channels, ", ", p.in_height, ", ", p.in_width,
                    ", ", p.kernel_h, ", ", p.kernel_w, ", ", p.stride_h, ", ", p.stride_w, ", ", p.pad_top,
                    ", ", p.pad_left, ", ", p.dilation_h, ", ", p.dilation_w, ", ", p.out_height(), ", ",
                    p.out_width(), "};\n");
        text += cat("  float* col = ct_eigen::scratch(", depth * pixels, ");\n");
      }
      text += nchw ? cat("  const ConstMap weights(args[1], ", p.out_channels, ", ", depth, ");\n")
                   : cat("  const ConstMap weights(args[1], ", depth, ", ", p.out_channels, ");\n");
      text += cat("  for (long n = 0; n < ", p.batch, "; ++n) {\n");
      text += cat("    const float* image = args[0] + n * ", image, ";\n");
      text += cat("    float* result = ", out, " + n * ", result, ";\n");
      if (!direct) text += cat("    ct_eigen::im2col_", nchw ? "nchw" : "nhwc", "(image, col, window);\n");
      const std::string_view source = direct ? "image" : "col";
      text += nchw
                  ? cat("    Map out(result, ", p.out_channels, ", ", pixels, ");\n",  //
                        "    out.noalias() = weights * ConstMap(", source, ", ", depth, ", ", pixels, ");\n")
                  : cat("    Map out(result, ", pixels, ", ", p.out_channels, ");\n",  //
                        "    out.noalias() = ConstMap(", source, ", ", pixels, ", ", depth, ") * weights;\n");
      // conv2d_layer's tutorial form (NCHW): a bias per channel, then ReLU.
      if (plan.bias || plan.activation != ir::Activation::none)
        text += cat("    ct_eigen::epilogue<", act, ">(result, ", p.out_channels, ", ", pixels, ", nullptr, ",
                    plan.bias ? "args[2]" : "nullptr", ");\n");
      text += "  }\n";
      return text;
    }
  }
  return {};
}

/// The Eigen headers' folder: `configured` when given (it must hold Eigen/Core), else the first of
/// `candidates` that holds Eigen/Core.
inline Expected<std::filesystem::path> find_include_dir(const std::filesystem::path& configured,
                                                        std::span<const std::filesystem::path> candidates) {
  std::error_code ec;
  auto has_eigen = [&ec](const std::filesystem::path& dir) {
    return std::filesystem::is_regular_file(dir / "Eigen" / "Core", ec);
  };
  if (!configured.empty()) {
    if (has_eigen(configured)) return configured;
    return unexpected(Error(
        ErrorKind::io,
        cat("CROSSTUNE_EIGEN_INCLUDE_DIR names ", configured.string(), ", which holds no Eigen/Core"),
        configured.string(), 0, 0, "define it as the folder that holds Eigen/ (e.g. /usr/include/eigen3)"));
  }
  std::string tried;
  for (const auto& dir : candidates) {
    if (has_eigen(dir)) return dir;
    if (!tried.empty()) tried += ", ";
    tried += dir.string();
  }
  return unexpected(
      Error(ErrorKind::io, cat("Eigen's headers are not in ", tried), {}, 0, 0,
            "install Eigen 3.4 (apt install libeigen3-dev), or compile with "
            "-DCROSSTUNE_EIGEN_INCLUDE_DIR='\"/path/to/eigen3\"', the folder that holds Eigen/"));
}

}  // namespace eigen_detail

/// The Eigen implementation of `dag` as a kernel for the measurers, with exactly the buffers of
/// `signature` (crosstune's kernel_signature of the DAG's loop nest). Errors: ErrorKind::unsupported
/// naming the family when there is no Eigen implementation of it; ErrorKind::invalid_argument naming the
/// buffer when `signature` is not the DAG's, or the DAG lacks the buffers its key implies, or the
/// function name is not a C identifier; ErrorKind::schema for a key with malformed arguments.
[[nodiscard]] inline Expected<measure::KernelSource> eigen_reference_kernel(
    const ir::ComputeDag& dag, const measure::KernelSignature& signature,
    EigenReferenceOptions options = {}) {
  using namespace eigen_detail;
  if (!is_identifier(options.function_name) || options.function_name == "ct_eigen")
    return invalid(
        cat("the function name '", options.function_name, "' is not a C identifier other than ct_eigen"));
  auto plan = plan_of(dag);
  if (!plan) return unexpected(std::move(plan).error());
  if (auto ok = check_signature(dag, signature); !ok) return unexpected(std::move(ok).error());
  std::string key = dag.workload_key();  // one comment line, whatever the key holds
  for (char& c : key)
    if (c == '\n' || c == '\r') c = ' ';
  std::string body = cat("// Eigen reference of ", key, "\n",                                      //
                         "extern \"C\" void ", options.function_name, "(float* const* args) {\n",  //
                         "  using ct_eigen::ConstMap;\n  using ct_eigen::Map;\n", body_of(*plan), "}\n");
  return measure::KernelSource{preamble(), std::move(body), options.function_name};
}

/// The folder holding Eigen's headers, for the compiler's -I: the CROSSTUNE_EIGEN_INCLUDE_DIR macro (a
/// string literal) when it is defined, else the first of /usr/include/eigen3 and /usr/local/include/eigen3
/// that holds Eigen/Core. The Error says what to install or define.
[[nodiscard]] inline Expected<std::filesystem::path> eigen_include_dir() {
#ifdef CROSSTUNE_EIGEN_INCLUDE_DIR
  const std::filesystem::path configured = CROSSTUNE_EIGEN_INCLUDE_DIR;
#else
  const std::filesystem::path configured{};
#endif
  const std::filesystem::path candidates[] = {"/usr/include/eigen3", "/usr/local/include/eigen3"};
  return eigen_detail::find_include_dir(configured, candidates);
}

}  // namespace crosstune::codegen
