// crosstune/ir/networks.hpp — a workload zoo: the operator tasks of ResNet-50, MobileNet-V2, Inception-V3
// and BERT-base, each task a crosstune workload key with its number of occurrences in the network.
//
// A tuner tunes each task once and estimates the network's latency as Σ weight × best task latency, as
// Ansor and TenSet do after partitioning a network into subgraphs. Here a task is one distinct operator
// shape after the usual graph-level fusion, built with the builders of ir/operators.hpp, so every key
// rebuilds through dag_from_workload_key and its FLOPs are ComputeDag::flops() (a multiply-add is 2).
// The three CNNs are those of the end-to-end evaluation of Verma et al. (../shared/papers, Table 8, which
// lists a MobileNet-V3; crosstune has no hard-swish or squeeze-excitation builder, so the zoo has V2).
//
//   auto net = crosstune::ir::network("resnet50");          // ErrorKind::invalid_argument for an unknown name
//   auto nhwc = crosstune::ir::network("resnet50", crosstune::ir::Layout::nhwc);  // channels last
//   if (!net) throw crosstune::ErrorException(net.error());
//   double latency_ms = 0;
//   for (const auto& task : net->tasks) {                    // tune_ms: the caller's tuner, best latency
//     auto dag = crosstune::ir::dag_from_workload_key(task.workload_key).value();
//     latency_ms += static_cast<double>(task.weight) * tune_ms(dag);
//   }
//
// All networks are batch 1, float32. The CNNs come in NCHW (the default: TOPI's layout, that of the public
// conv2d_layer logs) or NHWC (channels last: every convolution, depthwise convolution, pool and residual add
// takes the layout; the tasks, weights and FLOPs are the same). On a CPU the layout decides what a schedule
// can vectorise: in NHWC the output channels (multiples of 8 in all three CNNs) are the innermost axis of
// the output and of the filter (HWIO in crosstune.conv2d), so the innermost tile fills whole vectors even
// where the feature map is 7×7 or 14×14 (docs/results.md measures both).
// Layer shapes are facts of the published architectures:
//   * resnet50 — He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016, Table 1
//     (50-layer column), 3×224×224. The downsampling stride sits in the 3×3 convolution of the first
//     bottleneck of conv3_x..conv5_x ("ResNet v1.5", the form torchvision, MLPerf and TVM's
//     relay.testing.resnet build): 4.09 GMACs. The authors' Caffe release strides the first 1×1 instead
//     (3.86 GMACs, the paper's "3.8 × 10^9 FLOPs"), which gives 20 distinct convolutions rather than 23.
//     Projection shortcuts (option B) on the first block of each stage.
//   * mobilenet_v2 — Sandler, Howard, Zhu, Zhmoginov, Chen, "MobileNetV2: Inverted Residuals and Linear
//     Bottlenecks", CVPR 2018, Table 2 (width 1.0, 3×224×224): no expansion convolution in the t = 1
//     block, a residual add where stride is 1 and channels match, the classifier's 1×1 convolution on the
//     1×1×1280 pooled map as a dense layer (the same FLOPs). 300.8 MMACs, the paper's "300M".
//   * inception_v3 — Szegedy, Vanhoucke, Ioffe, Shlens, Wojna, "Rethinking the Inception Architecture for
//     Computer Vision", CVPR 2016, Table 1, the modules of Figures 5–7 and the grid reductions of Figure 10,
//     3×299×299, with the filter counts of the model released with the paper, which Table 1 states only
//     loosely (its stem after 73×73 is, in the released model, a 1×1 to 80, a valid 3×3 to 192 and a 3×3/2
//     max pool; the 35×35 modules keep a 5×5 branch beside the factorised double 3×3): 94 convolutions,
//     5.71 GMACs. The auxiliary classifier is a training-time head and is left out. TensorFlow's SAME
//     average pooling: the 3×3 pools of the branch towers divide by the window's part inside the input
//     (count_include_pad = false).
//   * bert_base — Devlin, Chang, Lee, Toutanova, "BERT: Pre-training of Deep Bidirectional Transformers
//     for Language Understanding", NAACL 2019 (L = 12, H = 768, A = 12 heads of 64, FFN 4H = 3072, GELU),
//     the encoder at sequence length 128: per layer the Q, K, V and output projections (dense with bias,
//     one key, 4 occurrences), Q·Kᵀ and probabilities·V as batch_matmul over the 12 heads, the softmax, the
//     two FFN dense layers (GELU fused into the first), two residual adds and two LayerNorms. 11.17 GMACs.
//
// Fusion, and what is left out. conv2d has no bias/activation epilogue in ir/operators.hpp, so a
// convolution task is the plain conv2d (depthwise_conv2d for MobileNet's depthwise layers); the folded
// batch-norm bias and the ReLU/ReLU6 a compiler fuses into it are left out, as is the ReLU after each
// ResNet residual add: ResNet-50 0.25 %, MobileNet-V2 3.0 % (ReLU6 is a min and a max), Inception-V3 0.16 %
// of the FLOPs the network would have with them. Residual adds are binary add tasks. Inception's
// concatenations (no builder; no arithmetic, only copies) and flatten/dropout (identities at inference)
// are left out. LayerNorm has no builder: each is represented by its two row reductions (mean and mean
// square, reduce-mean tasks); its centring, scaling and γ/β arithmetic, and the attention's 1/√64 scale
// and mask add (fused into the Q·Kᵀ batch_matmul by a compiler), are left out, 0.08 % of BERT's FLOPs.
// BERT's embeddings (a gather, no builder) and pooler lie outside the encoder and are not included.
// The CNNs end in their classifier: dense with bias and a softmax over the 1000 classes.
//
// Tasks are listed in order of first appearance; identical keys are merged and their weights summed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/ir/dag.hpp"
#include "crosstune/ir/operators.hpp"

namespace crosstune::ir {

/// One distinct operator of a network and how often it occurs.
struct NetworkTask {
  std::string name;          ///< short, human-readable, unique within the network ("conv2d 56x56 64->64 3x3 s1")
  std::string workload_key;  ///< a crosstune key: dag_from_workload_key(workload_key) rebuilds the DAG
  std::int64_t weight = 1;   ///< occurrences in the network
  std::int64_t flops = 0;    ///< of one occurrence (ComputeDag::flops())
};

/// A network as the tasks a tuner tunes.
struct Network {
  std::string name;         ///< the name network() takes ("resnet50")
  std::string description;  ///< architecture, input and what is left out, in one line
  std::vector<NetworkTask> tasks;

  /// Σ weight × flops over the tasks: the FLOPs of one inference.
  [[nodiscard]] std::int64_t flops() const noexcept {
    std::int64_t total = 0;
    for (const NetworkTask& t : tasks) total += t.weight * t.flops;
    return total;
  }
};

namespace network_detail {

inline constexpr std::array<std::string_view, 4> names{"resnet50", "mobilenet_v2", "inception_v3", "bert_base"};

inline std::string dims(const Shape& shape) {
  std::string s;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

/// " valid" for no padding, nothing for the half-kernel ("same") padding, " p<h>x<w>" otherwise.
inline std::string padding_suffix(std::int64_t kh, std::int64_t kw, std::int64_t ph, std::int64_t pw) {
  if (ph == (kh - 1) / 2 && pw == (kw - 1) / 2) return {};
  if (ph == 0 && pw == 0) return " valid";
  std::string s = " p";
  s += std::to_string(ph);
  s += 'x';
  s += std::to_string(pw);
  return s;
}

/// Collects a network's tasks, merging identical keys. A builder's refusal is a bug in the tables below;
/// the first one is kept and returned by finish().
class TaskList {
 public:
  TaskList(std::string network, Layout layout) : network_(std::move(network)), layout_(layout) {}

  /// A square conv2d (batch 1, the list's layout) with symmetric padding; returns the output height/width.
  std::int64_t conv(std::int64_t c_in, std::int64_t size, std::int64_t c_out, std::int64_t kh, std::int64_t kw,
                    std::int64_t stride, std::int64_t pad_h, std::int64_t pad_w) {
    const Conv2dParams p{.batch = 1, .in_channels = c_in, .in_height = size, .in_width = size, .out_channels = c_out,
                         .kernel_h = kh, .kernel_w = kw, .stride_h = stride, .stride_w = stride, .pad_top = pad_h,
                         .pad_left = pad_w, .pad_bottom = pad_h, .pad_right = pad_w, .layout = layout_};
    std::string name = "conv2d ";
    name += dims({size, size});
    name += ' ';
    name += std::to_string(c_in);
    name += "->";
    name += std::to_string(c_out);
    name += ' ';
    name += dims({kh, kw});
    name += " s";
    name += std::to_string(stride);
    name += padding_suffix(kh, kw, pad_h, pad_w);
    add(conv2d(p), std::move(name), 1);
    return p.out_height();
  }
  /// conv() with the half-kernel padding ("same" for stride 1).
  std::int64_t conv(std::int64_t c_in, std::int64_t size, std::int64_t c_out, std::int64_t kh, std::int64_t kw,
                    std::int64_t stride = 1) {
    return conv(c_in, size, c_out, kh, kw, stride, (kh - 1) / 2, (kw - 1) / 2);
  }
  /// A square k×k depthwise conv2d with multiplier 1 and half-kernel padding; returns the output size.
  std::int64_t depthwise(std::int64_t channels, std::int64_t size, std::int64_t k, std::int64_t stride) {
    const std::int64_t pad = (k - 1) / 2;
    const Conv2dParams p{.batch = 1, .in_channels = channels, .in_height = size, .in_width = size,
                         .out_channels = channels, .kernel_h = k, .kernel_w = k, .stride_h = stride,
                         .stride_w = stride, .pad_top = pad, .pad_left = pad, .pad_bottom = pad, .pad_right = pad,
                         .layout = layout_};
    std::string name = "depthwise_conv2d ";
    name += dims({size, size});
    name += ' ';
    name += std::to_string(channels);
    name += ' ';
    name += dims({k, k});
    name += " s";
    name += std::to_string(stride);
    add(depthwise_conv2d(p), std::move(name), 1);
    return p.out_height();
  }
  /// A square k×k pool with symmetric padding; returns the output size.
  std::int64_t pool(PoolKind kind, std::int64_t channels, std::int64_t size, std::int64_t k, std::int64_t stride,
                    std::int64_t pad, bool count_include_pad = true) {
    const Pool2dParams p{.kind = kind, .batch = 1, .channels = channels, .in_height = size, .in_width = size,
                         .kernel_h = k, .kernel_w = k, .stride_h = stride, .stride_w = stride, .pad_top = pad,
                         .pad_left = pad, .pad_bottom = pad, .pad_right = pad, .count_include_pad = count_include_pad,
                         .layout = layout_};
    std::string name = kind == PoolKind::max ? "max_pool2d " : "avg_pool2d ";
    name += dims({size, size});
    name += ' ';
    name += std::to_string(channels);
    name += ' ';
    name += dims({k, k});
    name += " s";
    name += std::to_string(stride);
    name += padding_suffix(k, k, pad, pad);
    add(pool2d(p), std::move(name), 1);
    return p.window().out_height();
  }
  /// Global average pooling: an average pool whose window is the whole size×size map.
  void global_avg_pool(std::int64_t channels, std::int64_t size) {
    const Pool2dParams p{.kind = PoolKind::avg, .batch = 1, .channels = channels, .in_height = size,
                         .in_width = size, .kernel_h = size, .kernel_w = size, .layout = layout_};
    std::string name = "global_avg_pool2d ";
    name += dims({size, size});
    name += ' ';
    name += std::to_string(channels);
    add(pool2d(p), std::move(name), 1);
  }
  /// dense with bias: [m, k] · [n, k]ᵀ + bias[n], then `activation`.
  void dense_layer(std::int64_t m, std::int64_t k, std::int64_t n, Activation activation = Activation::none) {
    std::string name = "dense ";
    name += dims({m, k});
    name += "->";
    name += std::to_string(n);
    if (activation != Activation::none) {
      name += ' ';
      name += to_string(activation);
    }
    add(dense(m, k, n, true, activation), std::move(name), 1);
  }
  /// batch_matmul of `batch` [m, k] · [k, n] products, B given as [n, k] when `b_transposed`.
  void batch_matmul_layer(std::int64_t batch, std::int64_t m, std::int64_t k, std::int64_t n, bool b_transposed) {
    std::string name = "batch_matmul ";
    name += dims({batch, m, n});
    name += " k";
    name += std::to_string(k);
    name += b_transposed ? " NT" : " NN";
    add(batch_matmul(batch, batch, m, k, n, b_transposed), std::move(name), 1);
  }
  void softmax_layer(const Shape& shape, std::int64_t axis) {
    std::string name = "softmax ";
    name += dims(shape);
    name += " axis ";
    name += std::to_string(axis);
    add(softmax(shape, axis), std::move(name), 1);
  }
  /// The residual add of two channels×size×size feature maps, in the list's layout.
  void residual_add(std::int64_t channels, std::int64_t size) {
    residual_add(operator_detail::shape4(layout_, 1, channels, size, size));
  }
  /// An element-wise add of two tensors of `shape` (a residual connection).
  void residual_add(const Shape& shape) {
    std::string name = "add ";
    name += dims(shape);
    add(binary(shape, shape, BinaryOp::add), std::move(name), 1);
  }
  /// A mean over one axis, keeping it (a LayerNorm statistic).
  void mean(const Shape& shape, std::int64_t axis) {
    std::string name = "mean ";
    name += dims(shape);
    name += " axis ";
    name += std::to_string(axis);
    add(reduce(shape, {axis}, true, ReduceOp::mean), std::move(name), 1);
  }

  [[nodiscard]] Expected<std::vector<NetworkTask>> finish() && {
    if (error_) return unexpected(std::move(*error_));
    return std::move(tasks_);
  }

 private:
  void add(Expected<ComputeDag> dag, std::string name, std::int64_t weight) {
    if (error_) return;
    if (!dag) {
      Error e = dag.error();
      e.message = "ir::network: " + network_ + " (" + name + "): " + e.message;
      error_ = std::move(e);
      return;
    }
    for (NetworkTask& t : tasks_)
      if (t.workload_key == dag->workload_key()) {
        t.weight += weight;
        return;
      }
    tasks_.push_back({std::move(name), dag->workload_key(), weight, dag->flops()});
  }

  std::string network_;
  Layout layout_ = Layout::nchw;
  std::vector<NetworkTask> tasks_;
  std::optional<Error> error_;
};

inline std::string layout_text(Layout layout) { return std::string(operator_detail::layout_name(layout)); }

inline Expected<Network> make(std::string name, std::string description, TaskList&& list) {
  auto tasks = std::move(list).finish();
  if (!tasks) return unexpected(std::move(tasks).error());
  return Network{std::move(name), std::move(description), std::move(tasks).value()};
}

// He et al. 2016, Table 1, 50 layers; stride in the 3×3 convolution (v1.5), projection shortcuts.
inline Expected<Network> resnet50(Layout layout) {
  TaskList t("resnet50", layout);
  std::int64_t size = t.conv(3, 224, 64, 7, 7, 2);  // conv1: 7×7, 64, stride 2 → 112
  size = t.pool(PoolKind::max, 64, size, 3, 2, 1);    // 3×3 max pool, stride 2 → 56
  std::int64_t channels = 64;
  struct Stage {
    std::int64_t width, blocks, stride;
  };
  // conv2_x .. conv5_x: [1×1 w, 3×3 w, 1×1 4w] × blocks
  for (const Stage& stage : {Stage{64, 3, 1}, Stage{128, 4, 2}, Stage{256, 6, 2}, Stage{512, 3, 2}}) {
    for (std::int64_t b = 0; b < stage.blocks; ++b) {
      const std::int64_t stride = b == 0 ? stage.stride : 1;
      t.conv(channels, size, stage.width, 1, 1);
      const std::int64_t out = t.conv(stage.width, size, stage.width, 3, 3, stride);
      t.conv(stage.width, out, 4 * stage.width, 1, 1);
      if (b == 0) t.conv(channels, size, 4 * stage.width, 1, 1, stride);  // projection shortcut
      t.residual_add(4 * stage.width, out);
      channels = 4 * stage.width;
      size = out;
    }
  }
  t.global_avg_pool(2048, size);
  t.dense_layer(1, 2048, 1000);
  t.softmax_layer({1, 1000}, 1);
  return make("resnet50",
              "ResNet-50 v1.5 (He et al. 2016; stride in the 3x3 convolutions), batch 1, 3x224x224, " +
                  layout_text(layout) + " float32; conv2d without its bias/ReLU epilogue",
              std::move(t));
}

// Sandler et al. 2018, Table 2, width multiplier 1.0.
inline Expected<Network> mobilenet_v2(Layout layout) {
  TaskList t("mobilenet_v2", layout);
  std::int64_t size = t.conv(3, 224, 32, 3, 3, 2);  // → 112
  std::int64_t channels = 32;
  struct Bottleneck {
    std::int64_t expansion, out, repeat, stride;  // t, c, n, s of Table 2
  };
  for (const Bottleneck& row : {Bottleneck{1, 16, 1, 1}, Bottleneck{6, 24, 2, 2}, Bottleneck{6, 32, 3, 2},
                                Bottleneck{6, 64, 4, 2}, Bottleneck{6, 96, 3, 1}, Bottleneck{6, 160, 3, 2},
                                Bottleneck{6, 320, 1, 1}}) {
    for (std::int64_t i = 0; i < row.repeat; ++i) {
      const std::int64_t stride = i == 0 ? row.stride : 1;
      const std::int64_t hidden = channels * row.expansion;
      if (row.expansion != 1) t.conv(channels, size, hidden, 1, 1);  // expansion, ReLU6
      const std::int64_t out = t.depthwise(hidden, size, 3, stride);   // depthwise 3×3, ReLU6
      t.conv(hidden, out, row.out, 1, 1);                              // linear projection
      if (stride == 1 && channels == row.out) t.residual_add(row.out, out);
      channels = row.out;
      size = out;
    }
  }
  t.conv(320, size, 1280, 1, 1);
  t.global_avg_pool(1280, size);
  t.dense_layer(1, 1280, 1000);  // the 1×1 convolution on the pooled 1×1×1280 map
  t.softmax_layer({1, 1000}, 1);
  return make("mobilenet_v2",
              "MobileNet-V2 1.0 (Sandler et al. 2018), batch 1, 3x224x224, " + layout_text(layout) +
                  " float32; conv2d and depthwise_conv2d without their bias/ReLU6 epilogue",
              std::move(t));
}

// Szegedy et al. 2016: the 35×35 modules (Figure 5, with the released model's 5×5 branch), grid reduction
// to 17×17, the 17×17 modules with 1×7/7×1 factorisation (Figure 6), reduction to 8×8, the 8×8 modules with
// expanded 1×3/3×1 outputs (Figure 7).
inline void inception_a(TaskList& t, std::int64_t in, std::int64_t pool_features) {
  t.conv(in, 35, 64, 1, 1);  // 1×1
  t.conv(in, 35, 48, 1, 1);  // 1×1 → 5×5
  t.conv(48, 35, 64, 5, 5);
  t.conv(in, 35, 64, 1, 1);  // 1×1 → 3×3 → 3×3
  t.conv(64, 35, 96, 3, 3);
  t.conv(96, 35, 96, 3, 3);
  t.pool(PoolKind::avg, in, 35, 3, 1, 1, false);  // 3×3 average pool → 1×1
  t.conv(in, 35, pool_features, 1, 1);
}
inline void inception_c(TaskList& t, std::int64_t c7) {
  t.conv(768, 17, 192, 1, 1);  // 1×1
  t.conv(768, 17, c7, 1, 1);   // 1×1 → 1×7 → 7×1
  t.conv(c7, 17, c7, 1, 7);
  t.conv(c7, 17, 192, 7, 1);
  t.conv(768, 17, c7, 1, 1);  // 1×1 → 7×1 → 1×7 → 7×1 → 1×7
  t.conv(c7, 17, c7, 7, 1);
  t.conv(c7, 17, c7, 1, 7);
  t.conv(c7, 17, c7, 7, 1);
  t.conv(c7, 17, 192, 1, 7);
  t.pool(PoolKind::avg, 768, 17, 3, 1, 1, false);
  t.conv(768, 17, 192, 1, 1);
}
inline void inception_e(TaskList& t, std::int64_t in) {
  t.conv(in, 8, 320, 1, 1);  // 1×1
  t.conv(in, 8, 384, 1, 1);  // 1×1 → (1×3, 3×1)
  t.conv(384, 8, 384, 1, 3);
  t.conv(384, 8, 384, 3, 1);
  t.conv(in, 8, 448, 1, 1);  // 1×1 → 3×3 → (1×3, 3×1)
  t.conv(448, 8, 384, 3, 3);
  t.conv(384, 8, 384, 1, 3);
  t.conv(384, 8, 384, 3, 1);
  t.pool(PoolKind::avg, in, 8, 3, 1, 1, false);
  t.conv(in, 8, 192, 1, 1);
}

inline Expected<Network> inception_v3(Layout layout) {
  TaskList t("inception_v3", layout);
  // stem: 299 → 149 → 147 → 147 → max pool 73 → 1×1 → 71 → max pool 35
  std::int64_t size = t.conv(3, 299, 32, 3, 3, 2, 0, 0);
  size = t.conv(32, size, 32, 3, 3, 1, 0, 0);
  size = t.conv(32, size, 64, 3, 3);
  size = t.pool(PoolKind::max, 64, size, 3, 2, 0);
  size = t.conv(64, size, 80, 1, 1);
  size = t.conv(80, size, 192, 3, 3, 1, 0, 0);
  t.pool(PoolKind::max, 192, size, 3, 2, 0);
  inception_a(t, 192, 32);  // 35×35: 256 channels out
  inception_a(t, 256, 64);  // 288
  inception_a(t, 288, 64);  // 288
  // grid reduction 35 → 17: 3×3/2 (384) ‖ 1×1 → 3×3 → 3×3/2 (96) ‖ max pool (288) = 768
  t.conv(288, 35, 384, 3, 3, 2, 0, 0);
  t.conv(288, 35, 64, 1, 1);
  t.conv(64, 35, 96, 3, 3);
  t.conv(96, 35, 96, 3, 3, 2, 0, 0);
  t.pool(PoolKind::max, 288, 35, 3, 2, 0);
  inception_c(t, 128);  // 17×17, 768 channels
  inception_c(t, 160);
  inception_c(t, 160);
  inception_c(t, 192);
  // grid reduction 17 → 8: 1×1 → 3×3/2 (320) ‖ 1×1 → 1×7 → 7×1 → 3×3/2 (192) ‖ max pool (768) = 1280
  t.conv(768, 17, 192, 1, 1);
  t.conv(192, 17, 320, 3, 3, 2, 0, 0);
  t.conv(768, 17, 192, 1, 1);
  t.conv(192, 17, 192, 1, 7);
  t.conv(192, 17, 192, 7, 1);
  t.conv(192, 17, 192, 3, 3, 2, 0, 0);
  t.pool(PoolKind::max, 768, 17, 3, 2, 0);
  inception_e(t, 1280);  // 8×8: 2048 channels out
  inception_e(t, 2048);
  t.global_avg_pool(2048, 8);
  t.dense_layer(1, 2048, 1000);
  t.softmax_layer({1, 1000}, 1);
  return make("inception_v3",
              "Inception-V3 (Szegedy et al. 2016), batch 1, 3x299x299, " + layout_text(layout) +
                  " float32, without the auxiliary classifier; conv2d without its bias/ReLU epilogue, concatenations "
                  "left out",
              std::move(t));
}

// Devlin et al. 2019, BERT-base: L = 12, H = 768, A = 12, feed-forward 3072; sequence length 128.
inline Expected<Network> bert_base() {
  constexpr std::int64_t layers = 12, seq = 128, hidden = 768, heads = 12, head_size = 64, ffn = 3072;
  TaskList t("bert_base", Layout::nchw);  // no 4-d tensors: the layout does not apply
  for (std::int64_t layer = 0; layer < layers; ++layer) {
    for (int projection = 0; projection < 3; ++projection) t.dense_layer(seq, hidden, hidden);  // Q, K, V
    t.batch_matmul_layer(heads, seq, head_size, seq, true);   // Q·Kᵀ per head
    t.softmax_layer({heads, seq, seq}, 2);                    // over the keys
    t.batch_matmul_layer(heads, seq, seq, head_size, false);  // probabilities · V per head
    t.dense_layer(seq, hidden, hidden);                       // attention output projection
    t.residual_add({seq, hidden});
    t.mean({seq, hidden}, 1);  // LayerNorm: mean
    t.mean({seq, hidden}, 1);  // LayerNorm: mean square of the centred input
    t.dense_layer(seq, hidden, ffn, Activation::gelu);
    t.dense_layer(seq, ffn, hidden);
    t.residual_add({seq, hidden});
    t.mean({seq, hidden}, 1);
    t.mean({seq, hidden}, 1);
  }
  return make("bert_base",
              "BERT-base encoder (Devlin et al. 2019): 12 layers, hidden 768, 12 heads of 64, FFN 3072, batch 1, "
              "sequence 128, float32; LayerNorm as its two mean reductions, no embeddings or pooler",
              std::move(t));
}

}  // namespace network_detail

/// The names network() knows: "resnet50", "mobilenet_v2", "inception_v3", "bert_base".
[[nodiscard]] inline std::span<const std::string_view> network_names() noexcept { return network_detail::names; }

/// The tasks of a network of the zoo, its convolutions, pools and residual adds in `layout` (BERT has none:
/// its tasks are the same in both); an unknown name gives ErrorKind::invalid_argument listing the names.
[[nodiscard]] inline Expected<Network> network(std::string_view name, Layout layout = Layout::nchw) {
  if (name == "resnet50") return network_detail::resnet50(layout);
  if (name == "mobilenet_v2") return network_detail::mobilenet_v2(layout);
  if (name == "inception_v3") return network_detail::inception_v3(layout);
  if (name == "bert_base") return network_detail::bert_base();
  std::string known;
  for (std::string_view n : network_names()) {
    if (!known.empty()) known += ", ";
    known += n;
  }
  std::string message = "ir::network: unknown network '";
  message += name;
  message += "' (known: ";
  message += known;
  message += ')';
  std::string hint = "use one of ";
  hint += known;
  return unexpected(Error(ErrorKind::invalid_argument, std::move(message), {}, 0, 0, std::move(hint)));
}

}  // namespace crosstune::ir
