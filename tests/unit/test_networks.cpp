// The workload zoo of ir/networks.hpp: every task's key rebuilds with the stored FLOPs, the totals match the
// published figures and a closed-form recount of each architecture's multiply-adds, and the numbers of
// distinct tasks and occurrences match counts made by hand from the papers' layer tables.
#include "crosstune/ir/networks.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "crosstune/ir/workloads.hpp"

using namespace crosstune;
using namespace crosstune::ir;

namespace {

Network load(std::string_view name) {
  auto net = network(name);
  REQUIRE_MESSAGE(net, (net ? std::string() : net.error().describe()));
  return std::move(net).value();
}

const NetworkTask* find_task(const Network& net, std::string_view name) {
  for (const NetworkTask& t : net.tasks)
    if (t.name == name) return &t;
  return nullptr;
}

std::int64_t weight_of(const Network& net, std::string_view name) {
  const NetworkTask* t = find_task(net, name);
  CHECK_MESSAGE(t != nullptr, name << " is not a task of " << net.name);
  return t ? t->weight : 0;
}

struct FamilyCount {
  std::int64_t tasks = 0, occurrences = 0;
};
/// Distinct tasks and occurrences per operator family ("conv2d", "depthwise_conv2d", ...).
std::map<std::string, FamilyCount> families(const Network& net) {
  std::map<std::string, FamilyCount> out;
  for (const NetworkTask& t : net.tasks) {
    std::string family = workload_family(t.workload_key);
    REQUIRE(family.starts_with("crosstune."));
    FamilyCount& c = out[family.substr(10)];
    c.tasks += 1;
    c.occurrences += t.weight;
  }
  return out;
}

/// The multiply-adds of the network's products (convolutions, dense layers, batch matmuls): for each task,
/// the iteration count of its reducing stage, which is one multiply-add per step.
std::int64_t product_macs(const Network& net) {
  std::int64_t macs = 0;
  for (const NetworkTask& t : net.tasks) {
    auto dag = dag_from_workload_key(t.workload_key);
    REQUIRE(dag);
    for (const auto& op : dag->ops()) {
      if (op->tag == "conv2d_nchw" || op->tag == "depthwise_conv2d_nchw" || op->tag == "dense" ||
          op->tag == "batch_matmul")
        macs += t.weight * op->element_count() * op->reduce_count();
    }
  }
  return macs;
}

/// |flops / 2 − published MACs| within `tolerance` of the published figure.
void check_published(const Network& net, double published_macs, double tolerance) {
  const double macs = static_cast<double>(net.flops()) / 2.0;
  const double error = std::abs(macs - published_macs) / published_macs;
  CHECK_MESSAGE(error <= tolerance, net.name << ": " << macs / 1e9 << " GMACs against " << published_macs / 1e9
                                             << " published, " << error * 100 << " % off");
}

}  // namespace

TEST_CASE("network_names lists the four networks, and each loads under its name") {
  const auto names = network_names();
  REQUIRE(names.size() == 4);
  CHECK(names[0] == "resnet50");
  CHECK(names[1] == "mobilenet_v2");
  CHECK(names[2] == "inception_v3");
  CHECK(names[3] == "bert_base");
  for (std::string_view name : names) {
    const Network net = load(name);
    CHECK(net.name == name);
    CHECK_FALSE(net.description.empty());
    CHECK_FALSE(net.tasks.empty());
  }
}

TEST_CASE("every task rebuilds from its key with its FLOPs; names and keys are unique") {
  for (std::string_view name : network_names()) {
    const Network net = load(name);
    std::set<std::string> names, keys;
    std::int64_t total = 0;
    for (const NetworkTask& t : net.tasks) {
      INFO(net.name << ": " << t.name << " " << t.workload_key);
      auto dag = dag_from_workload_key(t.workload_key);
      REQUIRE_MESSAGE(dag, (dag ? std::string() : dag.error().describe()));
      CHECK(dag->workload_key() == t.workload_key);
      CHECK(dag->flops() == t.flops);
      CHECK(t.flops > 0);
      CHECK(t.weight >= 1);
      CHECK_FALSE(t.name.empty());
      CHECK(t.name.size() <= 48);
      CHECK(names.insert(t.name).second);
      CHECK(keys.insert(t.workload_key).second);
      total += t.weight * t.flops;
    }
    CHECK(net.flops() == total);
  }
}

TEST_CASE("ComputeDag::flops counts a multiply-add as 2: convolution tasks are 2 x their multiply-adds") {
  const Network net = load("resnet50");
  int convolutions = 0;
  for (const NetworkTask& t : net.tasks) {
    if (workload_family(t.workload_key) != "crosstune.conv2d") continue;
    auto dag = dag_from_workload_key(t.workload_key);
    REQUIRE(dag);
    const Operation& conv = dag->op(dag->size() - 1);
    REQUIRE(conv.tag == "conv2d_nchw");
    CHECK(t.flops == 2 * conv.element_count() * conv.reduce_count());  // the padding stage costs nothing
    ++convolutions;
  }
  CHECK(convolutions == 23);
  // the 3×3 64→64 convolution at 56×56: 64·64·9·56·56 multiply-adds
  const NetworkTask* t = find_task(net, "conv2d 56x56 64->64 3x3 s1");
  REQUIRE(t != nullptr);
  CHECK(t->flops == 2 * 64 * 64 * 9 * 56 * 56);
}

// Published totals count the multiply-adds of the convolution and fully connected layers; ComputeDag::flops
// counts 2 per multiply-add, plus the few FLOPs of pooling, residual adds, biases, GELU and softmax. The
// tolerance of each check is half a unit in the last digit of the published figure (the figure's own
// rounding) plus 0.5 % for those extra operations (they are 0.1–0.3 % here; the left-out epilogues are not
// counted on either side).
TEST_CASE("total FLOPs against the published figures") {
  // He et al. 2016 count 3.8 G for the 1×1-strided original; the stride-in-3×3 form is 4.1 G (torchvision).
  check_published(load("resnet50"), 4.1e9, 0.05 / 4.1 + 0.005);
  // Sandler et al. 2018, Table 4: 300 M multiply-adds for MobileNetV2 (1.0) at 224.
  check_published(load("mobilenet_v2"), 300e6, 0.5 / 300 + 0.005);
  // Inception-V3 at 299×299: 5.7 G multiply-adds (torchvision's 5.71 GFLOPS, which counts multiply-adds).
  check_published(load("inception_v3"), 5.7e9, 0.05 / 5.7 + 0.005);
  // BERT-base encoder at sequence 128: 11 G multiply-adds.
  check_published(load("bert_base"), 11e9, 0.5 / 11 + 0.005);
}

// The products' multiply-adds recounted in closed form from the papers' tables, without the builders: a
// single mis-shaped layer (a 1×1 convolution is < 1 % of a network) shows here though it hides in the
// tolerance above.
TEST_CASE("multiply-adds of the products equal a closed-form recount of each architecture") {
  SUBCASE("ResNet-50 v1.5: 4 089 184 256") {
    std::int64_t macs = 3 * 64 * 7 * 7 * 112 * 112;  // conv1
    std::int64_t in = 64, size = 56;
    const std::int64_t widths[] = {64, 128, 256, 512}, blocks[] = {3, 4, 6, 3};
    for (int s = 0; s < 4; ++s) {
      const std::int64_t w = widths[s];
      for (std::int64_t b = 0; b < blocks[s]; ++b) {
        const std::int64_t out = (b == 0 && s > 0) ? size / 2 : size;
        macs += in * w * size * size + w * w * 9 * out * out + w * 4 * w * out * out;
        if (b == 0) macs += in * 4 * w * out * out;  // projection shortcut
        in = 4 * w;
        size = out;
      }
    }
    macs += 2048 * 1000;
    CHECK(macs == 4089184256);
    CHECK(product_macs(load("resnet50")) == macs);
  }
  SUBCASE("MobileNet-V2: 300 774 272") {
    std::int64_t macs = 3 * 32 * 9 * 112 * 112;
    std::int64_t in = 32, size = 112;
    const std::int64_t t[] = {1, 6, 6, 6, 6, 6, 6}, c[] = {16, 24, 32, 64, 96, 160, 320}, n[] = {1, 2, 3, 4, 3, 3, 1},
                       s[] = {1, 2, 2, 2, 1, 2, 1};
    for (int row = 0; row < 7; ++row)
      for (std::int64_t i = 0; i < n[row]; ++i) {
        const std::int64_t hidden = in * t[row], out = i == 0 ? size / s[row] : size;
        if (t[row] != 1) macs += in * hidden * size * size;
        macs += hidden * 9 * out * out + hidden * c[row] * out * out;
        in = c[row];
        size = out;
      }
    macs += 320 * 1280 * 7 * 7 + 1280 * 1000;
    CHECK(macs == 300774272);
    CHECK(product_macs(load("mobilenet_v2")) == macs);
  }
  SUBCASE("Inception-V3: 5 713 216 096") {
    auto conv = [](std::int64_t in, std::int64_t out, std::int64_t size, std::int64_t kh, std::int64_t kw) {
      return in * out * kh * kw * size * size;  // size: the output's
    };
    std::int64_t macs = conv(3, 32, 149, 3, 3) + conv(32, 32, 147, 3, 3) + conv(32, 64, 147, 3, 3) +
                        conv(64, 80, 73, 1, 1) + conv(80, 192, 71, 3, 3);
    for (std::int64_t in : {192, 256, 288}) {
      const std::int64_t pool_features = in == 192 ? 32 : 64;
      macs += conv(in, 64, 35, 1, 1) + conv(in, 48, 35, 1, 1) + conv(48, 64, 35, 5, 5) + conv(in, 64, 35, 1, 1) +
              conv(64, 96, 35, 3, 3) + conv(96, 96, 35, 3, 3) + conv(in, pool_features, 35, 1, 1);
    }
    macs += conv(288, 384, 17, 3, 3) + conv(288, 64, 35, 1, 1) + conv(64, 96, 35, 3, 3) + conv(96, 96, 17, 3, 3);
    for (std::int64_t c7 : {128, 160, 160, 192})
      macs += 2 * conv(768, 192, 17, 1, 1) + 2 * conv(768, c7, 17, 1, 1) + 4 * conv(c7, c7, 17, 1, 7) +
              2 * conv(c7, 192, 17, 1, 7);
    macs += 2 * conv(768, 192, 17, 1, 1) + conv(192, 320, 8, 3, 3) + 2 * conv(192, 192, 17, 1, 7) +
            conv(192, 192, 8, 3, 3);
    for (std::int64_t in : {1280, 2048})
      macs += conv(in, 320, 8, 1, 1) + conv(in, 384, 8, 1, 1) + 4 * conv(384, 384, 8, 1, 3) + conv(in, 448, 8, 1, 1) +
              conv(448, 384, 8, 3, 3) + conv(in, 192, 8, 1, 1);
    macs += 2048 * 1000;
    CHECK(macs == 5713216096);
    CHECK(product_macs(load("inception_v3")) == macs);
  }
  SUBCASE("BERT-base encoder, sequence 128: 11 173 625 856") {
    const std::int64_t per_layer = 4 * 128 * 768 * 768   // Q, K, V, output projections
                                   + 2 * 128 * 768 * 3072  // feed-forward
                                   + 2 * 12 * 128 * 128 * 64;  // Q·Kᵀ and probabilities·V
    CHECK(12 * per_layer == 11173625856);
    CHECK(product_macs(load("bert_base")) == 12 * per_layer);
  }
}

// Counted by hand from the tables (not from the code):
//  ResNet-50 v1.5: conv1; conv2_x 1×1 64→64, 3×3 64→64, 1×1 64→256 (also the shortcut), 1×1 256→64 = 4;
//  conv3_x..conv5_x each 6: 1×1 in→w at the input size, 3×3/2 w→w, 1×1 w→4w, shortcut 1×1/2 in→4w,
//  1×1 4w→w, 3×3/1 w→w. 1 + 4 + 3·6 = 23 shapes over 53 convolutions; max pool, 4 residual-add shapes
//  (16 adds), global pool, dense, softmax: 31 tasks.
TEST_CASE("ResNet-50: 23 convolution shapes over 53 layers, 31 tasks") {
  const Network net = load("resnet50");
  auto f = families(net);
  CHECK(f["conv2d"].tasks == 23);
  CHECK(f["conv2d"].occurrences == 53);
  CHECK(f["pool2d"].tasks == 2);
  CHECK(f["binary"].tasks == 4);
  CHECK(f["binary"].occurrences == 16);
  CHECK(f["dense"].tasks == 1);
  CHECK(f["softmax"].tasks == 1);
  CHECK(f.count("depthwise_conv2d") == 0);
  CHECK(net.tasks.size() == 31);
  CHECK(weight_of(net, "conv2d 224x224 3->64 7x7 s2") == 1);
  CHECK(weight_of(net, "max_pool2d 112x112 64 3x3 s2") == 1);
  CHECK(weight_of(net, "conv2d 56x56 64->256 1x1 s1") == 4);  // three expansions and the first shortcut
  CHECK(weight_of(net, "conv2d 56x56 256->64 1x1 s1") == 2);
  CHECK(weight_of(net, "conv2d 56x56 128->128 3x3 s2") == 1);  // v1.5: the stride is in the 3×3
  CHECK(weight_of(net, "conv2d 14x14 256->256 3x3 s1") == 5);
  CHECK(weight_of(net, "conv2d 28x28 512->1024 1x1 s2") == 1);
  CHECK(weight_of(net, "add 1x1024x14x14") == 6);
  CHECK(weight_of(net, "global_avg_pool2d 7x7 2048") == 1);
  CHECK(weight_of(net, "dense 1x2048->1000") == 1);
  CHECK(find_task(net, "conv2d 56x56 256->128 1x1 s2") == nullptr);  // that is v1's placement
}

//  MobileNet-V2: stem, then per Table 2 row the 1×1 expansion (none for t = 1), the depthwise 3×3 and the
//  1×1 projection. Expansions shared between rows: 24→144 at 56 (2), 32→192 at 28 (3), 64→384 at 14 (4),
//  96→576 at 14 (3), 160→960 at 7 (3); with the other 1×1s and the final 320→1280: 20 conv2d shapes over
//  35 layers, 10 depthwise shapes over 17, residual adds at 24, 32, 64, 96, 160 channels (1+2+3+2+2 = 10).
TEST_CASE("MobileNet-V2: 20 convolution and 10 depthwise shapes, 38 tasks") {
  const Network net = load("mobilenet_v2");
  auto f = families(net);
  CHECK(f["conv2d"].tasks == 20);
  CHECK(f["conv2d"].occurrences == 35);
  CHECK(f["depthwise_conv2d"].tasks == 10);
  CHECK(f["depthwise_conv2d"].occurrences == 17);
  CHECK(f["binary"].tasks == 5);
  CHECK(f["binary"].occurrences == 10);
  CHECK(f["pool2d"].tasks == 1);
  CHECK(f["dense"].tasks == 1);
  CHECK(f["softmax"].tasks == 1);
  CHECK(net.tasks.size() == 38);
  CHECK(weight_of(net, "conv2d 224x224 3->32 3x3 s2") == 1);
  CHECK(weight_of(net, "depthwise_conv2d 112x112 32 3x3 s1") == 1);
  CHECK(weight_of(net, "conv2d 112x112 32->16 1x1 s1") == 1);
  CHECK(find_task(net, "conv2d 112x112 32->32 1x1 s1") == nullptr);  // t = 1: no expansion
  CHECK(weight_of(net, "depthwise_conv2d 112x112 96 3x3 s2") == 1);
  CHECK(weight_of(net, "conv2d 56x56 24->144 1x1 s1") == 2);
  CHECK(weight_of(net, "conv2d 14x14 64->384 1x1 s1") == 4);
  CHECK(weight_of(net, "depthwise_conv2d 14x14 384 3x3 s1") == 4);
  CHECK(weight_of(net, "depthwise_conv2d 7x7 960 3x3 s1") == 3);
  CHECK(weight_of(net, "add 1x64x14x14") == 3);
  CHECK(weight_of(net, "conv2d 7x7 320->1280 1x1 s1") == 1);
  CHECK(weight_of(net, "dense 1x1280->1000") == 1);
}

//  Inception-V3: stem 5. The 35×35 modules: 192→{64, 48, 32} 1×1, 48→64 5×5, 64→96 3×3, 96→96 3×3 (6),
//  then 256→{64, 48} and 288→{64, 48} (2 + 2). Reduction to 17×17: 288→384 3×3/2 and 96→96 3×3/2 (its
//  288→64 and 64→96 are the 35×35 ones): 2. The 17×17 modules: for c7 = 128, 768→192, 768→128,
//  128→128 1×7 and 7×1, 128→192 7×1 and 1×7 (6); for 160 the same without 768→192 (5); for 192 only
//  192→192 1×7 and 7×1 are new (2). Reduction to 8×8: 192→320 3×3/2 and 192→192 3×3/2: 2. The 8×8
//  modules: 1280→{320, 384, 448, 192}, 384→384 1×3 and 3×1, 448→384 3×3 (7), then 2048→{320, 384, 448,
//  192} (4). 5 + 10 + 2 + 13 + 2 + 11 = 43 shapes over 5 + 3·7 + 4 + 4·10 + 6 + 2·9 = 94 convolutions.
//  Pools: max at 147 and 71; average 3×3 at 35 (192, 256, 288 channels), 17 (768, four times) and 8
//  (1280, 2048); max in both reductions; global: 11 shapes over 14 pools. Dense, softmax: 56 tasks.
TEST_CASE("Inception-V3: 43 convolution shapes over 94 layers, 56 tasks") {
  const Network net = load("inception_v3");
  auto f = families(net);
  CHECK(f["conv2d"].tasks == 43);
  CHECK(f["conv2d"].occurrences == 94);
  CHECK(f["pool2d"].tasks == 11);
  CHECK(f["pool2d"].occurrences == 14);
  CHECK(f["dense"].tasks == 1);
  CHECK(f["softmax"].tasks == 1);
  CHECK(net.tasks.size() == 56);
  CHECK(weight_of(net, "conv2d 299x299 3->32 3x3 s2 valid") == 1);
  CHECK(weight_of(net, "conv2d 147x147 32->64 3x3 s1") == 1);
  CHECK(weight_of(net, "conv2d 35x35 288->64 1x1 s1") == 4);  // Mixed_5d's three and the reduction's
  CHECK(weight_of(net, "conv2d 35x35 64->96 3x3 s1") == 4);
  CHECK(weight_of(net, "conv2d 35x35 48->64 5x5 s1") == 3);
  CHECK(weight_of(net, "conv2d 35x35 96->96 3x3 s2 valid") == 1);
  CHECK(weight_of(net, "conv2d 17x17 768->192 1x1 s1") == 12);
  CHECK(weight_of(net, "conv2d 17x17 192->192 1x7 s1") == 4);
  CHECK(weight_of(net, "conv2d 17x17 192->192 7x1 s1") == 4);
  CHECK(weight_of(net, "conv2d 8x8 384->384 1x3 s1") == 4);
  CHECK(weight_of(net, "avg_pool2d 17x17 768 3x3 s1") == 4);
  CHECK(weight_of(net, "max_pool2d 147x147 64 3x3 s2 valid") == 1);
  CHECK(weight_of(net, "global_avg_pool2d 8x8 2048") == 1);
}

//  BERT-base: per layer Q, K, V and output projections (one shape), FFN up with GELU, FFN down, Q·Kᵀ,
//  probabilities·V, softmax, 2 residual adds, 2 LayerNorms of 2 means: 8 tasks.
TEST_CASE("BERT-base: 8 tasks, 12 layers") {
  const Network net = load("bert_base");
  auto f = families(net);
  CHECK(f["dense"].tasks == 3);
  CHECK(f["dense"].occurrences == 72);
  CHECK(f["batch_matmul"].tasks == 2);
  CHECK(f["batch_matmul"].occurrences == 24);
  CHECK(net.tasks.size() == 8);
  CHECK(weight_of(net, "dense 128x768->768") == 48);
  CHECK(weight_of(net, "dense 128x768->3072 gelu") == 12);
  CHECK(weight_of(net, "dense 128x3072->768") == 12);
  CHECK(weight_of(net, "batch_matmul 12x128x128 k64 NT") == 12);
  CHECK(weight_of(net, "batch_matmul 12x128x64 k128 NN") == 12);
  CHECK(weight_of(net, "softmax 12x128x128 axis 2") == 12);
  CHECK(weight_of(net, "add 128x768") == 24);
  CHECK(weight_of(net, "mean 128x768 axis 1") == 48);
}

TEST_CASE("NHWC networks: the same tasks, weights and FLOPs, every 4-d task in channels-last layout") {
  for (std::string_view name : network_names()) {
    const Network nchw = load(name);
    auto loaded = network(name, Layout::nhwc);
    REQUIRE_MESSAGE(loaded, (loaded ? std::string() : loaded.error().describe()));
    const Network& nhwc = *loaded;
    INFO(name);
    CHECK(nhwc.flops() == nchw.flops());
    REQUIRE(nhwc.tasks.size() == nchw.tasks.size());
    const bool cnn = name != "bert_base";
    CHECK((nhwc.description.find("NHWC") != std::string::npos) == cnn);
    for (std::size_t i = 0; i < nhwc.tasks.size(); ++i) {
      const NetworkTask& a = nchw.tasks[i];
      const NetworkTask& b = nhwc.tasks[i];
      INFO(b.name << " " << b.workload_key);
      if (!cnn || !b.name.starts_with("add ")) CHECK(a.name == b.name);  // an add is named by its shape
      CHECK(a.weight == b.weight);
      CHECK(a.flops == b.flops);
      auto dag = dag_from_workload_key(b.workload_key);
      REQUIRE(dag);
      CHECK(dag->flops() == b.flops);
      const std::string family = workload_family(b.workload_key);
      if (family == "crosstune.conv2d" || family == "crosstune.depthwise_conv2d" || family == "crosstune.pool2d") {
        CHECK(b.workload_key.find("\"NHWC\"") != std::string::npos);
        CHECK(a.workload_key.find("\"NCHW\"") != std::string::npos);
        const std::string tag = dag->op(dag->size() - 1).tag;
        if (family != "crosstune.pool2d") CHECK(tag.ends_with("_nhwc"));
      } else if (cnn && b.name.starts_with("add ")) {
        // the residual add of C×S×S maps: [1, S, S, C] against [1, C, S, S]
        const Shape out = dag->op(dag->size() - 1).shape();
        const Shape in = dag_from_workload_key(a.workload_key)->op(dag->size() - 1).shape();
        REQUIRE(out.size() == 4);
        REQUIRE(in.size() == 4);
        CHECK(out == Shape{1, in[2], in[3], in[1]});
        CHECK(b.name == "add 1x" + std::to_string(in[2]) + "x" + std::to_string(in[3]) + "x" + std::to_string(in[1]));
      } else {
        CHECK(a.workload_key == b.workload_key);  // dense, softmax, BERT's tasks: no layout
      }
    }
  }
}

TEST_CASE("an unknown network is refused with the known names") {
  for (std::string_view name : {"resnet", "", "ResNet50", "bert"}) {
    auto net = network(name);
    REQUIRE_FALSE(net);
    CHECK(net.error().kind == ErrorKind::invalid_argument);
    for (std::string_view known : network_names()) CHECK(net.error().message.find(known) != std::string::npos);
  }
}

TEST_CASE("Network::flops sums weight x flops") {
  Network net;
  CHECK(net.flops() == 0);
  net.tasks.push_back({"a", "[\"x\"]", 3, 10});
  net.tasks.push_back({"b", "[\"y\"]", 2, 7});
  CHECK(net.flops() == 44);
}
