// crosstune/ir/workloads.hpp — rebuilds the compute DAG a workload key names.
//
// Two kinds of keys are understood:
//   * crosstune's own keys ("crosstune.dense", "crosstune.conv2d", ...), which every builder of
//     ir/operators.hpp writes, so a record crosstune measured can be re-tuned from its key alone;
//   * the named families of the public Ansor logs: matmul_layer, conv2d_layer (both the 9-argument
//     benchmark form and the TVM-tutorial form with bias and ReLU), depthwise_conv2d_layer, relu_layer,
//     pool_layer, reduction_layer and matmul_add, with TVM's padding rules ("SAME" pads K−1 whatever the
//     stride). docs/notes/tenset-workloads.md gives each family's stages and how they were checked
//     against the logs.
// Keys of subgraphs extracted from networks are hashes of the DAG and cannot be rebuilt; they, and
// unknown names, are refused with ErrorKind::unsupported.
//
//   auto dag = crosstune::ir::dag_from_workload_key(R"(["matmul_layer", 128, 4032, 1000])");
//   if (dag) replay(*dag, steps);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/workload_key.hpp"
#include "crosstune/ir/operators.hpp"

namespace crosstune::ir {

/// The operator family a workload key names ("matmul_layer", "crosstune.conv2d", ...), or "" for a
/// hashed key or one that does not parse.
[[nodiscard]] inline std::string workload_family(std::string_view key) {
  auto parsed = parse_workload_key(key);
  if (!parsed || parsed->hashed()) return {};
  return parsed->name;
}

namespace workload_detail {

class Args {
 public:
  Args(const WorkloadKey& key, std::string_view text) : key_(key), text_(text) {}

  [[nodiscard]] std::size_t size() const noexcept { return key_.args.size(); }
  [[nodiscard]] const WorkloadArg& operator[](std::size_t i) const { return key_.args[i]; }
  [[nodiscard]] Expected<void> count(std::size_t n) const {
    if (size() == n) return {};
    return fail("takes " + std::to_string(n) + " arguments, the key has " + std::to_string(size()));
  }
  [[nodiscard]] bool integer(std::size_t i, std::int64_t& out, std::string& why) const {
    if (i < size() && (key_.args[i].type == WorkloadArg::Type::integer || key_.args[i].type == WorkloadArg::Type::boolean)) {
      out = key_.args[i].integer;
      return true;
    }
    why = "argument " + std::to_string(i + 1) + " is not an integer";
    return false;
  }
  [[nodiscard]] bool integers(std::size_t first, std::size_t n, std::vector<std::int64_t>& out, std::string& why) const {
    out.resize(n);
    for (std::size_t i = 0; i < n; ++i)
      if (!integer(first + i, out[i], why)) return false;
    return true;
  }
  [[nodiscard]] bool int_list(std::size_t i, std::vector<std::int64_t>& out, std::string& why) const {
    out.clear();
    if (i >= size()) {
      why = "argument " + std::to_string(i + 1) + " is missing";
      return false;
    }
    const WorkloadArg& a = key_.args[i];
    if (a.type == WorkloadArg::Type::integer) {
      out.push_back(a.integer);
      return true;
    }
    if (a.type != WorkloadArg::Type::list) {
      why = "argument " + std::to_string(i + 1) + " is not a list of integers";
      return false;
    }
    for (const WorkloadArg& item : a.items) {
      if (item.type != WorkloadArg::Type::integer) {
        why = "argument " + std::to_string(i + 1) + " is not a list of integers";
        return false;
      }
      out.push_back(item.integer);
    }
    return true;
  }
  [[nodiscard]] bool text(std::size_t i, std::string& out, std::string& why) const {
    if (i < size() && key_.args[i].type == WorkloadArg::Type::string) {
      out = key_.args[i].text;
      return true;
    }
    why = "argument " + std::to_string(i + 1) + " is not a string";
    return false;
  }
  [[nodiscard]] Unexpected fail(const std::string& why) const {
    return unexpected(Error(ErrorKind::schema, "workload key " + std::string(text_) + ": " + key_.name + " " + why));
  }

 private:
  const WorkloadKey& key_;
  std::string_view text_;
};

/// True when every item of a list argument is an integer.
inline bool all_integers(const WorkloadArg& list) {
  for (const WorkloadArg& item : list.items)
    if (item.type != WorkloadArg::Type::integer) return false;
  return true;
}

/// TVM's get_pad_tuple for a kernel of kh×kw: "SAME" pads K−1 in all (top gets the larger half), "VALID"
/// nothing, an integer p pads p on every side, [ph, pw] likewise, [t, l, b, r] as given.
inline bool pad_tuple(const WorkloadArg& padding, std::int64_t kh, std::int64_t kw, Conv2dParams& p, std::string& why) {
  std::int64_t total_h = 0, total_w = 0;
  if (padding.type == WorkloadArg::Type::list && !all_integers(padding)) {
    why = "padding is a list with an item that is not an integer";
    return false;
  }
  if (padding.type == WorkloadArg::Type::string) {
    if (padding.text == "SAME") {
      total_h = kh - 1;
      total_w = kw - 1;
    } else if (padding.text != "VALID") {
      why = "padding '" + padding.text + "' is not SAME, VALID or a number";
      return false;
    }
  } else if (padding.type == WorkloadArg::Type::integer) {
    total_h = total_w = 2 * padding.integer;
  } else if (padding.type == WorkloadArg::Type::list && padding.items.size() == 2) {
    total_h = 2 * padding.items[0].integer;
    total_w = 2 * padding.items[1].integer;
  } else if (padding.type == WorkloadArg::Type::list && padding.items.size() == 4) {
    p.pad_top = padding.items[0].integer;
    p.pad_left = padding.items[1].integer;
    p.pad_bottom = padding.items[2].integer;
    p.pad_right = padding.items[3].integer;
    return true;
  } else {
    why = "padding is neither a string, an integer nor a list of 2 or 4 integers";
    return false;
  }
  p.pad_top = (total_h + 1) / 2;
  p.pad_bottom = total_h - p.pad_top;
  p.pad_left = (total_w + 1) / 2;
  p.pad_right = total_w - p.pad_left;
  return true;
}

inline bool stride_of(const WorkloadArg& stride, Conv2dParams& p, std::string& why) {
  if (stride.type == WorkloadArg::Type::integer) {
    p.stride_h = p.stride_w = stride.integer;
    return true;
  }
  if (stride.type == WorkloadArg::Type::list && stride.items.size() == 2 && all_integers(stride)) {
    p.stride_h = stride.items[0].integer;
    p.stride_w = stride.items[1].integer;
    return true;
  }
  why = "stride is neither an integer nor a list of two integers";
  return false;
}

/// The same DAG under the key it was asked for (a named family's key rather than crosstune's own).
inline Expected<ComputeDag> rekey(Expected<ComputeDag> built, std::string_view key) {
  if (!built) return built;
  const ComputeDag& dag = *built;
  return ComputeDag(std::vector<OperationPtr>(dag.ops().begin(), dag.ops().end()),
                    std::vector<std::int32_t>(dag.outputs().begin(), dag.outputs().end()), std::string(key));
}

inline Expected<ComputeDag> named_family(const WorkloadKey& k, std::string_view text) {
  using namespace operator_detail;
  const Args args(k, text);
  std::string why;
  std::vector<std::int64_t> v;
  const std::string& name = k.name;

  if (name == "matmul_layer") {
    if (auto ok = args.count(3); !ok) return unexpected(ok.error());
    if (!args.integers(0, 3, v, why)) return args.fail(why);
    return rekey(matmul(v[0], v[1], v[2]), text);
  }
  if (name == "matmul_add") {  // TVM tutorial: A[N, L] · B[L, M] + C[N, M]
    if (args.size() != 3 && args.size() != 4) return args.fail("takes 3 or 4 arguments");
    if (!args.integers(0, 3, v, why)) return args.fail(why);
    std::string dtype = "float32";
    if (args.size() == 4 && !args.text(3, dtype, why)) return args.fail(why);
    if (dtype != "float32") return unexpected(Error(ErrorKind::unsupported, "workload key " + std::string(text) + ": dtype " + dtype + " is not supported yet", {}, 0, 0, "use float32"));
    const std::int64_t n = v[0], l = v[1], m = v[2];
    if (n < 1 || l < 1 || m < 1) return args.fail("sizes must be at least 1");
    DagBuilder b;
    const Tensor a = b.placeholder("A", {n, l});
    const Tensor w = b.placeholder("B", {l, m});
    const Tensor mm = b.compute("matmul", {{"i", n}, {"j", m}}, {{"k", l}}, ReduceKind::sum,
                                [&](ExprPool&, std::span<const Expr> x) { return a(x[0], x[2]) * w(x[2], x[1]); });
    const Tensor c = b.placeholder("C", {n, m});
    const Tensor out = b.compute("out", {{"i", n}, {"j", m}}, [&](ExprPool&, std::span<const Expr> x) { return mm(x[0], x[1]) + c(x[0], x[1]); });
    return b.build({out}, std::string(text));
  }
  if (name == "conv2d_layer" || name == "depthwise_conv2d_layer") {
    const bool depthwise = name == "depthwise_conv2d_layer";
    const std::size_t n_args = depthwise ? 8 : 9;
    if (auto ok = args.count(n_args); !ok) return unexpected(ok.error());
    const std::size_t n_ints = n_args - 2;
    if (!args.integers(0, n_ints, v, why)) return args.fail(why);
    Conv2dParams p;
    // The TVM tutorial form passes stride and padding as lists and orders N, H, W, CO, CI.
    const bool tutorial = !depthwise && args[7].is_list() && args[8].is_list();
    if (tutorial) {
      p.batch = v[0], p.in_height = v[1], p.in_width = v[2], p.out_channels = v[3], p.in_channels = v[4];
      p.kernel_h = v[5], p.kernel_w = v[6];
    } else if (depthwise) {
      p.batch = v[0], p.in_channels = v[1], p.in_height = v[2], p.in_width = v[3];
      p.kernel_h = v[4], p.kernel_w = v[5];
      p.out_channels = p.in_channels, p.groups = p.in_channels;
    } else {
      p.batch = v[0], p.in_channels = v[1], p.in_height = v[2], p.in_width = v[3], p.out_channels = v[4];
      p.kernel_h = v[5], p.kernel_w = v[6];
    }
    if (!stride_of(args[n_ints], p, why) || !pad_tuple(args[n_ints + 1], p.kernel_h, p.kernel_w, p, why)) return args.fail(why);
    if (auto ok = p.validate(name); !ok) return args.fail(ok.error().message);
    if (!tutorial) return convolution(p, depthwise, 1, std::string(text), name);
    DagBuilder b;  // conv + bias[1, CO, 1, 1] + ReLU, as tune_conv2d_layer_cuda.py defines it
    const Tensor conv = convolution(b, p, false, 1);
    const Tensor bias = b.placeholder("bias", {1, p.out_channels, 1, 1});
    const Tensor add = b.compute("T_add", named_axes(conv.shape, "ax"), [&](ExprPool& pool, std::span<const Expr> x) {
      return conv(x[0], x[1], x[2], x[3]) + bias(pool.index(0), x[1], pool.index(0), pool.index(0));
    }, "broadcast");
    const Tensor relu = b.compute("compute", named_axes(conv.shape, "i"), [&](ExprPool&, std::span<const Expr> x) {
      return max(add(x[0], x[1], x[2], x[3]), 0.0);
    }, "elemwise");
    return b.build({relu}, std::string(text));
  }
  if (name == "relu_layer") {
    if (args.size() == 0) return args.fail("needs a shape");
    if (!args.integers(0, args.size(), v, why)) return args.fail(why);
    return rekey(unary(v, UnaryOp::relu), text);
  }
  if (name == "pool_layer") {
    if (auto ok = args.count(9); !ok) return unexpected(ok.error());
    std::string kind;
    if (!args.text(0, kind, why) || !args.integers(1, 6, v, why)) return args.fail(why);
    if (kind != "avg" && kind != "max") return args.fail("pool type '" + kind + "' is not avg or max");
    Pool2dParams p;
    p.kind = kind == "avg" ? PoolKind::avg : PoolKind::max;
    p.batch = v[0], p.channels = v[1], p.in_height = v[2], p.in_width = v[3], p.kernel_h = v[4], p.kernel_w = v[5];
    Conv2dParams w = p.window();
    if (!stride_of(args[7], w, why) || !pad_tuple(args[8], p.kernel_h, p.kernel_w, w, why)) return args.fail(why);
    p.stride_h = w.stride_h, p.stride_w = w.stride_w;
    p.pad_top = w.pad_top, p.pad_left = w.pad_left, p.pad_bottom = w.pad_bottom, p.pad_right = w.pad_right;
    return pooling(p, std::string(text));
  }
  if (name == "reduction_layer") {
    if (auto ok = args.count(3); !ok) return unexpected(ok.error());
    std::vector<std::int64_t> shape, axes, keep;
    if (!args.int_list(0, shape, why) || !args.int_list(1, axes, why) || !args.integers(2, 1, keep, why)) return args.fail(why);
    return reduction(shape, axes, keep[0] != 0, ReduceOp::sum, std::string(text));
  }
  return unexpected(Error(ErrorKind::unsupported, "workload key " + std::string(text) + ": unknown workload '" + name + "'",
                          {}, 0, 0, "crosstune rebuilds its own keys and the named families of the public logs"));
}

inline Expected<ComputeDag> own_family(const WorkloadKey& k, std::string_view text) {
  const Args args(k, text);
  std::string why;
  std::vector<std::int64_t> v;
  const std::string name = k.name.substr(std::string_view("crosstune.").size());
  auto layout_of = [&](std::size_t i, Layout& layout) {
    std::string s;
    if (!args.text(i, s, why)) return false;
    if (s == "NCHW") layout = Layout::nchw;
    else if (s == "NHWC") layout = Layout::nhwc;
    else {
      why = "layout '" + s + "' is not NCHW or NHWC";
      return false;
    }
    return true;
  };
  auto check = [&](Expected<ComputeDag> dag) -> Expected<ComputeDag> {
    if (dag && dag->workload_key() != text)  // the key must be the one the builder writes, so records match
      return args.fail("is not written the way crosstune writes it (expected " + dag->workload_key() + ")");
    return dag;
  };
  if (name == "dense") {
    if (auto ok = args.count(5); !ok) return unexpected(ok.error());
    std::string act;
    if (!args.integers(0, 4, v, why) || !args.text(4, act, why)) return args.fail(why);
    Activation a = Activation::none;
    if (act == "relu") a = Activation::relu;
    else if (act == "gelu") a = Activation::gelu;
    else if (act != "none") return args.fail("activation '" + act + "' is not none, relu or gelu");
    return check(dense(v[0], v[1], v[2], v[3] != 0, a));
  }
  if (name == "batch_matmul") {
    if (auto ok = args.count(6); !ok) return unexpected(ok.error());
    if (!args.integers(0, 6, v, why)) return args.fail(why);
    return check(batch_matmul(v[0], v[1], v[2], v[3], v[4], v[5] != 0));
  }
  if (name == "conv2d" || name == "depthwise_conv2d") {
    const bool depthwise = name == "depthwise_conv2d";
    const std::size_t n = depthwise ? 16 : 17;
    if (auto ok = args.count(n); !ok) return unexpected(ok.error());
    Conv2dParams p;
    if (!layout_of(0, p.layout) || !args.integers(1, n - 1, v, why)) return args.fail(why);
    p.batch = v[0], p.in_channels = v[1], p.in_height = v[2], p.in_width = v[3];
    std::int64_t multiplier = 1;
    if (depthwise) multiplier = v[4];
    else p.out_channels = v[4];
    p.kernel_h = v[5], p.kernel_w = v[6], p.stride_h = v[7], p.stride_w = v[8];
    p.pad_top = v[9], p.pad_left = v[10], p.pad_bottom = v[11], p.pad_right = v[12];
    p.dilation_h = v[13], p.dilation_w = v[14];
    if (!depthwise) p.groups = v[15];
    return check(depthwise ? depthwise_conv2d(p, multiplier) : conv2d(p));
  }
  if (name == "pool2d") {
    if (auto ok = args.count(17); !ok) return unexpected(ok.error());
    std::string kind;
    Pool2dParams p;
    if (!args.text(0, kind, why) || !args.integers(2, 15, v, why)) return args.fail(why);
    if (kind != "avg" && kind != "max") return args.fail("pool type '" + kind + "' is not avg or max");
    p.kind = kind == "avg" ? PoolKind::avg : PoolKind::max;
    if (!layout_of(1, p.layout)) return args.fail(why);
    p.batch = v[0], p.channels = v[1], p.in_height = v[2], p.in_width = v[3];
    p.kernel_h = v[4], p.kernel_w = v[5], p.stride_h = v[6], p.stride_w = v[7];
    p.pad_top = v[8], p.pad_left = v[9], p.pad_bottom = v[10], p.pad_right = v[11];
    p.dilation_h = v[12], p.dilation_w = v[13], p.count_include_pad = v[14] != 0;
    return check(pool2d(p));
  }
  auto op_of = [&](auto& op, auto names_of) {
    std::string s;
    if (!args.text(0, s, why)) return false;
    for (int i = 0; i < 6; ++i)
      if (names_of(i) == s) {
        op = static_cast<std::remove_reference_t<decltype(op)>>(i);
        return true;
      }
    why = "operation '" + s + "' is unknown";
    return false;
  };
  if (name == "unary") {
    UnaryOp op{};
    std::vector<std::int64_t> shape;
    if (auto ok = args.count(2); !ok) return unexpected(ok.error());
    if (!op_of(op, [](int i) { return to_string(static_cast<UnaryOp>(i)); }) || !args.int_list(1, shape, why)) return args.fail(why);
    return check(unary(shape, op));
  }
  if (name == "binary") {
    BinaryOp op{};
    std::vector<std::int64_t> a, b;
    if (auto ok = args.count(3); !ok) return unexpected(ok.error());
    if (!op_of(op, [](int i) { return to_string(static_cast<BinaryOp>(i)); }) || !args.int_list(1, a, why) || !args.int_list(2, b, why))
      return args.fail(why);
    return check(binary(a, b, op));
  }
  if (name == "reduce") {
    ReduceOp op{};
    std::vector<std::int64_t> shape, axes, keep;
    if (auto ok = args.count(4); !ok) return unexpected(ok.error());
    std::string s;
    if (!args.text(0, s, why)) return args.fail(why);
    bool known = false;
    for (int i = 0; i < 4; ++i)
      if (to_string(static_cast<ReduceOp>(i)) == s) op = static_cast<ReduceOp>(i), known = true;
    if (!known) return args.fail("reduction '" + s + "' is unknown");
    if (!args.int_list(1, shape, why) || !args.int_list(2, axes, why) || !args.integers(3, 1, keep, why)) return args.fail(why);
    return check(reduce(shape, axes, keep[0] != 0, op));
  }
  if (name == "softmax") {
    std::vector<std::int64_t> shape;
    if (auto ok = args.count(2); !ok) return unexpected(ok.error());
    if (!args.int_list(0, shape, why) || !args.integers(1, 1, v, why)) return args.fail(why);
    return check(softmax(shape, v[0]));
  }
  return unexpected(Error(ErrorKind::unsupported, "workload key " + std::string(text) + ": unknown crosstune workload '" + k.name + "'"));
}

}  // namespace workload_detail

/// The compute DAG named by `key`, with `key` as its workload key. Hash keys and unknown names give
/// ErrorKind::unsupported, malformed arguments ErrorKind::schema.
[[nodiscard]] inline Expected<ComputeDag> dag_from_workload_key(std::string_view key) {
  auto parsed = parse_workload_key(key);
  if (!parsed) return unexpected(parsed.error());
  if (parsed->hashed())
    return unexpected(Error(ErrorKind::unsupported,
                            "workload key " + std::string(key.substr(0, 40)) + "...: the hash of a network subgraph",
                            {}, 0, 0, "such a DAG cannot be rebuilt from its key alone"));
  auto dag = parsed->name.starts_with("crosstune.") ? workload_detail::own_family(*parsed, key)
                                                    : workload_detail::named_family(*parsed, key);
  if (!dag && dag.error().kind == ErrorKind::invalid_argument) {  // a builder refused a value of the key
    Error error = dag.error();
    error.kind = ErrorKind::schema;
    error.message = "workload key " + std::string(key) + ": " + error.message;
    return unexpected(std::move(error));
  }
  return dag;
}

}  // namespace crosstune::ir
