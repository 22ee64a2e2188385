#include "crosstune/model/xgboost.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "crosstune/concepts.hpp"
#include "crosstune/detail/ubjson.hpp"
#include "crosstune/model/mlp.hpp"
#include "synthetic_ranking.hpp"
#include "test_support.hpp"

using namespace crosstune;
using namespace crosstune::model;

static_assert(CostModel<XgbModel>);

namespace {
struct Split {
  test::Synthetic train = test::make_synthetic(960, 1);
  test::Synthetic test = test::make_synthetic(160, 2);
  LabelledBatch train_set{&train.batch, train.labels, train.tasks};
  LabelledBatch test_set{&test.batch, test.labels, test.tasks};
};
}  // namespace

TEST_CASE("the XGBoost baseline learns the synthetic ranking as a regressor and as a ranker") {
  const Split data;
  for (const Loss loss : {Loss::mse, Loss::rank}) {
    XgbModel model(test::synthetic_layout, {.max_depth = 4, .rounds_per_epoch = 5});
    Rng rng(0);
    auto report = model.fit(data.train_set, &data.test_set,
                            {.epochs = 12, .loss = loss, .patience = 0, .threads = 2}, rng);
    REQUIRE(report);
    REQUIRE(report->validation_pca.size() == 12);
    REQUIRE(report->train_loss.size() == 12);
    const double pca = report->validation_pca[report->best_epoch];
    MESSAGE("XGBoost (" << std::string(loss == Loss::mse ? "regression" : "pairwise") << ") held-out PCA "
                        << pca);
    CHECK(pca > 0.8);
    CHECK(report->train_loss.back() < report->train_loss.front());  // RMSE, or 1 - NDCG, falls
    // The kept ensemble is the best epoch's, and predict() reproduces its validation PCA.
    CHECK(model.rounds() == (report->best_epoch + 1) * 5);
    std::vector<float> scores(data.test.batch.size());
    REQUIRE(model.predict(data.test.batch, scores));
    CHECK(*task_pca(scores, data.test.labels, data.test.tasks) == doctest::Approx(pca).epsilon(1e-12));
  }
}

TEST_CASE("XGBoost training is deterministic, and a saved model loads to the same bytes and scores") {
  const Split data;
  auto fit = [&] {
    XgbModel model(test::synthetic_layout, {.max_depth = 4, .rounds_per_epoch = 4});
    Rng rng(5);
    REQUIRE(model.fit(data.train_set, nullptr, {.epochs = 3, .threads = 2}, rng));
    return model;
  };
  XgbModel model = fit();
  CHECK(model.rounds() == 12);
  CHECK(fit().serialize() == model.serialize());
  test::TempDir dir;
  REQUIRE(model.save(dir / "xgb.bin"));
  auto loaded = XgbModel::load(dir / "xgb.bin");
  REQUIRE(loaded);
  CHECK(loaded->serialize() == model.serialize());
  CHECK(loaded->rounds() == 12);
  std::vector<float> a(data.test.batch.size()), b(data.test.batch.size());
  REQUIRE(model.predict(data.test.batch, a));
  REQUIRE(loaded->predict(data.test.batch, b));
  CHECK(a == b);
  REQUIRE(loaded->set_threads(1));
  REQUIRE(loaded->predict(data.test.batch, b));
  CHECK(a == b);
}

TEST_CASE("fit on a trained XGBoost model adds trees (fine-tuning)") {
  const Split data;
  XgbModel model(test::synthetic_layout, {.max_depth = 3, .rounds_per_epoch = 2});
  Rng rng(1);
  REQUIRE(model.fit(data.train_set, nullptr, {.epochs = 2, .threads = 1}, rng));
  std::vector<float> before(data.test.batch.size()), after(data.test.batch.size());
  REQUIRE(model.predict(data.test.batch, before));
  REQUIRE(model.fit(data.test_set, nullptr, {.epochs = 3, .threads = 1}, rng));
  CHECK(model.rounds() == 4 + 6);
  REQUIRE(model.predict(data.test.batch, after));
  CHECK(before != after);
}

TEST_CASE("throughput-weighted trees fit the label-weighted mean where records cannot be told apart") {
  // Forty records with one feature vector, half labelled 0.9 and half 0.1: a squared-error fit can only
  // predict a constant, the mean 0.5; weighted by the labels, the weighted mean
  // (0.9 * 0.9 + 0.1 * 0.1) / (0.9 + 0.1) = 0.82. Both are the closed-form minimisers, reached here to
  // within 1e-3 after 100 rounds at eta 0.2, whatever loss TrainOptions names.
  test::Synthetic s = test::make_synthetic(40, 3);
  for (std::size_t b = 1; b < s.batch.size(); ++b) {
    s.batch.lengths[b] = s.batch.lengths[0];
    for (std::size_t t = 0; t < 8; ++t) {
      s.batch.mask(b, t) = s.batch.mask(0, t);
      for (std::size_t k = 0; k < 6; ++k) s.batch.steps(b, t, k) = s.batch.steps(0, t, k);
    }
    for (std::size_t k = 0; k < 2; ++k) s.batch.workload(b, k) = s.batch.workload(0, k);
  }
  for (std::size_t b = 0; b < s.batch.size(); ++b) {
    s.labels[b] = b % 2 == 0 ? 0.9f : 0.1f;
    s.tasks[b] = 0;
  }
  const LabelledBatch train{&s.batch, s.labels, s.tasks};
  for (const bool weighted : {false, true}) {
    XgbModel model(test::synthetic_layout, {.max_depth = 3, .rounds_per_epoch = 10, .throughput_weighted = weighted});
    Rng rng(0);
    REQUIRE(model.fit(train, nullptr, {.epochs = 10, .loss = weighted ? Loss::rank : Loss::mse, .threads = 1}, rng));
    std::vector<float> scores(s.batch.size());
    REQUIRE(model.predict(s.batch, scores));
    const double expected = weighted ? 0.82 : 0.5;
    for (float v : scores) CHECK(v == doctest::Approx(expected).epsilon(1e-3));
  }
}

TEST_CASE("XGBoost refuses untrained prediction, foreign layouts and mismatched sizes with a reason") {
  const Split data;
  XgbModel model(test::synthetic_layout);
  std::vector<float> scores(data.test.batch.size());
  auto untrained = model.predict(data.test.batch, scores);
  REQUIRE_FALSE(untrained);
  CHECK(untrained.error().message.find("not trained") != std::string::npos);
  features::FeatureLayout other = test::synthetic_layout;
  other.step_dims = 5;
  XgbModel foreign(other);
  Rng rng(0);
  CHECK_FALSE(foreign.fit(data.train_set, nullptr, {.epochs = 1}, rng));
  REQUIRE(model.fit(data.train_set, nullptr, {.epochs = 1, .threads = 1}, rng));
  std::vector<float> too_few(3);
  auto short_scores = model.predict(data.test.batch, too_few);
  REQUIRE_FALSE(short_scores);
  CHECK(short_scores.error().message.find("score slots") != std::string::npos);
  const std::vector<float> no_labels;
  const LabelledBatch unlabelled{&data.train.batch, no_labels, data.train.tasks};
  CHECK_FALSE(model.fit(unlabelled, nullptr, {.epochs = 1}, rng));
}

TEST_CASE("corrupted, truncated and foreign XGBoost files are refused with a reason") {
  const Split data;
  XgbModel model(test::synthetic_layout, {.max_depth = 3, .rounds_per_epoch = 2});
  Rng rng(0);
  REQUIRE(model.fit(data.train_set, nullptr, {.epochs = 1, .threads = 1}, rng));
  const std::string bytes = model.serialize();
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x5a;
  auto refused = XgbModel::deserialize(flipped, "x.bin");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("checksum") != std::string::npos);
  CHECK_FALSE(XgbModel::deserialize(bytes.substr(0, bytes.size() / 2), "x.bin"));
  MlpModel mlp(test::synthetic_layout, 8);
  auto foreign = XgbModel::deserialize(mlp.serialize(), "mlp.bin");
  REQUIRE_FALSE(foreign);
  CHECK(foreign.error().message.find("not a crosstune XGBoost model file") != std::string::npos);
}

// ---- crafted files: every lie in a model file with a valid checksum is refused before XGBoost reads it

namespace {
using crosstune::detail::UbjValue;
using Kind = UbjValue::Kind;

std::string big_endian(std::uint64_t value, int bytes) {
  std::string out;
  for (int b = bytes - 1; b >= 0; --b)
    out += static_cast<char>((value >> (8 * b)) & 0xff);
  return out;
}
void append_length(std::string& out, std::uint64_t length) {
  out += 'L';
  out += big_endian(length, 8);
}
/// Writes a parsed document back in the forms XGBoost writes, so an unedited document gives its bytes
/// back. A plain array's `count`, when set, is written instead of its size (to craft lying counts).
void write_ubjson(const UbjValue& value, std::string& out) {
  switch (value.kind) {
    case Kind::null: out += 'Z'; return;
    case Kind::boolean: out += value.boolean ? 'T' : 'F'; return;
    case Kind::integer:
      out += value.marker;
      out += big_endian(static_cast<std::uint64_t>(value.integer),
                        static_cast<int>(crosstune::detail::ubjson_internal::number_bytes(value.marker)));
      return;
    case Kind::number:
      out += value.marker;
      out += value.marker == 'd'
                 ? big_endian(std::bit_cast<std::uint32_t>(static_cast<float>(value.number)), 4)
                 : big_endian(std::bit_cast<std::uint64_t>(value.number), 8);
      return;
    case Kind::string:
      out += 'S';
      append_length(out, value.text.size());
      out += value.text;
      return;
    case Kind::typed_array:
      out += "[$";
      out += value.marker;
      out += '#';
      append_length(out, value.count);
      out += value.text;
      return;
    case Kind::array:
      out += "[#";
      append_length(out, value.count != 0 ? value.count : value.items.size());
      for (const auto& item : value.items)
        write_ubjson(item, out);
      return;
    case Kind::object:
      out += '{';
      for (std::size_t i = 0; i < value.keys.size(); ++i) {
        append_length(out, value.keys[i].size());
        out += value.keys[i];
        write_ubjson(value.items[i], out);
      }
      out += '}';
      return;
  }
}

/// A trained model's file opened for editing: its ensemble as a document, edits, and the file again
/// with a valid checksum.
class Craft {
 public:
  explicit Craft(std::string file) : file_(std::move(file)) {
    ensemble_size_ = find_ensemble_size();
    ensemble_at_ = file_.size() - 8 - ensemble_size_;
    ensemble_ = file_.substr(ensemble_at_, ensemble_size_);
    auto doc = crosstune::detail::parse_ubjson(ensemble_);
    REQUIRE(doc);
    doc_ = std::move(*doc);
  }
  Craft(const Craft&) = delete;
  Craft& operator=(const Craft&) = delete;

  UbjValue& doc() { return doc_; }
  /// Member `key` of `object`.
  static UbjValue& at(UbjValue& object, std::string_view key) {
    for (std::size_t i = 0; i < object.keys.size(); ++i)
      if (object.keys[i] == key) return object.items[i];
    FAIL("no member " << key);
    return object;
  }
  UbjValue& learner() { return at(doc_, "learner"); }
  UbjValue& model() { return at(at(learner(), "gradient_booster"), "model"); }
  UbjValue& tree(std::size_t t) { return at(model(), "trees").items.at(t); }
  /// Bytes kept for the views an edit points at.
  std::string_view keep(std::string bytes) { return kept_.emplace_back(std::move(bytes)); }
  void set_string(UbjValue& value, std::string text) {
    value.kind = Kind::string;
    value.marker = 'S';
    value.text = keep(std::move(text));
  }
  void set_typed(UbjValue& value, char marker, std::size_t count, std::string payload) {
    value.kind = Kind::typed_array;
    value.marker = marker;
    value.count = count;
    value.text = keep(std::move(payload));
  }
  /// Element i of a typed array of 'l' (int32) or 'd' (float32) set to `value`.
  void set_element(UbjValue& array, std::size_t i, double value) {
    std::string payload(array.text);
    const std::string bytes =
        array.marker == 'd' ? big_endian(std::bit_cast<std::uint32_t>(static_cast<float>(value)), 4)
                            : big_endian(static_cast<std::uint32_t>(static_cast<std::int32_t>(value)), 4);
    payload.replace(4 * i, 4, bytes);
    array.text = keep(std::move(payload));
  }
  /// Tree t replaced by one of the given shape: every per-node array written anew, num_nodes to match.
  void set_tree(std::size_t t, const std::vector<std::int32_t>& lefts,
                const std::vector<std::int32_t>& rights, const std::vector<std::int32_t>& parents,
                const std::vector<std::int32_t>& features, const std::vector<float>& values) {
    UbjValue& tree = this->tree(t);
    const std::size_t n = lefts.size();
    auto ints = [](const std::vector<std::int32_t>& v) {
      std::string out;
      for (auto x : v)
        out += big_endian(static_cast<std::uint32_t>(x), 4);
      return out;
    };
    auto floats = [](const std::vector<float>& v) {
      std::string out;
      for (auto x : v)
        out += big_endian(std::bit_cast<std::uint32_t>(x), 4);
      return out;
    };
    set_typed(at(tree, "left_children"), 'l', n, ints(lefts));
    set_typed(at(tree, "right_children"), 'l', n, ints(rights));
    set_typed(at(tree, "parents"), 'l', n, ints(parents));
    set_typed(at(tree, "split_indices"), 'l', n, ints(features));
    set_typed(at(tree, "split_conditions"), 'd', n, floats(values));
    set_typed(at(tree, "base_weights"), 'd', n, floats(values));
    set_typed(at(tree, "loss_changes"), 'd', n, floats(std::vector<float>(n, 0.0f)));
    set_typed(at(tree, "sum_hessian"), 'd', n, floats(std::vector<float>(n, 1.0f)));
    set_typed(at(tree, "default_left"), 'U', n, std::string(n, '\0'));
    set_typed(at(tree, "split_type"), 'U', n, std::string(n, '\0'));
    set_string(at(at(tree, "tree_param"), "num_nodes"), std::to_string(n));
  }
  /// The ensemble as written now.
  [[nodiscard]] std::string ensemble() const {
    std::string out;
    write_ubjson(doc_, out);
    return out;
  }
  /// The model file holding `ensemble` (the edited one by default), with its size and checksum made right.
  [[nodiscard]] std::string file() const { return file_with(ensemble()); }
  [[nodiscard]] std::string file_with(const std::string& ensemble) const {
    std::string out = file_.substr(0, ensemble_at_ - 8);
    model::detail::put(out, static_cast<std::uint64_t>(ensemble.size()));
    out += ensemble;
    model::detail::put(out, model::detail::fnv1a(out));
    return out;
  }
  [[nodiscard]] const std::string& original_ensemble() const { return ensemble_; }
  [[nodiscard]] std::size_t ensemble_at() const { return ensemble_at_; }

 private:
  /// The ensemble is the file's tail before the checksum; its size is the u64 before it. Find the
  /// split where the stored size equals the bytes that follow.
  std::size_t find_ensemble_size() const {
    for (std::size_t at = 8; at + 16 <= file_.size(); ++at) {
      std::uint64_t size = 0;
      std::memcpy(&size, file_.data() + at, 8);
      if (size == file_.size() - 8 - (at + 8) && size > 0 && file_[at + 8] == '{') return size;
    }
    FAIL("no ensemble in the file");
    return 0;
  }

  std::string file_;
  std::size_t ensemble_at_ = 0, ensemble_size_ = 0;
  std::string ensemble_;
  UbjValue doc_;
  std::deque<std::string> kept_;
};

/// A small trained model's file: 4 trees of depth <= 3 on the synthetic layout (16 pooled features).
const std::string& trained_file() {
  static const std::string file = [] {
    const Split data;
    XgbModel model(test::synthetic_layout, {.max_depth = 3, .rounds_per_epoch = 2});
    Rng rng(3);
    REQUIRE(model.fit(data.train_set, nullptr, {.epochs = 2, .threads = 1}, rng));
    return model.serialize();
  }();
  return file;
}

/// Tree 0 as a known full tree of depth 2: 0 -> (1, 2), 1 -> (3, 4), 2 -> (5, 6), leaves 3 to 6.
void set_known_tree(Craft& craft) {
  craft.set_tree(0, {1, 3, 5, -1, -1, -1, -1}, {2, 4, 6, -1, -1, -1, -1}, {0x7fffffff, 0, 0, 1, 1, 2, 2},
                 {0, 1, 2, 0, 0, 0, 0}, {0.5f, 0.25f, 0.75f, 1.0f, -1.0f, 2.0f, -2.0f});
}

/// The refusal of `file`: an Error naming the file, with the message containing `expected` and a hint.
void check_refused(const std::string& file, const std::string& expected) {
  CAPTURE(expected);
  auto loaded = XgbModel::deserialize(file, "crafted.bin");
  REQUIRE_FALSE(loaded);
  const auto& error = loaded.error();
  INFO(error.describe());
  CHECK(error.file == "crafted.bin");
  CHECK(error.message.find(expected) != std::string::npos);
  CHECK(error.hint == model::detail::bad_model_file_hint);
  CHECK((error.kind == ErrorKind::parse || error.kind == ErrorKind::schema));
}
}  // namespace

TEST_CASE("an unedited ensemble writes back to its bytes, and the known test tree loads and predicts") {
  Craft craft(trained_file());
  CHECK(craft.ensemble() == craft.original_ensemble());
  CHECK(craft.file() == trained_file());
  set_known_tree(craft);
  const test::Synthetic data = test::make_synthetic(16, 9);
  for (const bool wide_features : {false, true}) {
    CAPTURE(wide_features);
    if (wide_features) {  // split indices as int64, which XGBoost also reads
      auto& features = Craft::at(craft.tree(0), "split_indices");
      std::string wide;
      for (std::size_t i = 0; i < features.count; ++i)
        wide += big_endian(static_cast<std::uint64_t>(features.integer_at(i)), 8);
      craft.set_typed(features, 'L', features.count, wide);
    }
    auto loaded = XgbModel::deserialize(craft.file(), "crafted.bin");
    REQUIRE(loaded);
    CHECK(loaded->serialize() == craft.file());
    std::vector<float> scores(data.batch.size());
    REQUIRE(loaded->predict(data.batch, scores));
    for (float s : scores)
      CHECK(std::isfinite(s));
  }
}

TEST_CASE("files of both objectives, untrained and tree-less models load and save to the same bytes") {
  const Split data;
  for (const Loss loss : {Loss::mse, Loss::rank}) {
    for (const std::size_t epochs : {1, 2}) {
      CAPTURE(epochs);
      XgbModel model(test::synthetic_layout, {.max_depth = 2, .rounds_per_epoch = 3});
      Rng rng(4);
      REQUIRE(model.fit(data.train_set, nullptr, {.epochs = epochs, .loss = loss, .threads = 1}, rng));
      const std::string bytes = model.serialize();
      auto loaded = XgbModel::deserialize(bytes, "model.bin");
      REQUIRE(loaded);
      CHECK(loaded->serialize() == bytes);
      CHECK(loaded->rounds() == 3 * epochs);
    }
  }
  const std::string untrained = XgbModel(test::synthetic_layout).serialize();
  auto loaded = XgbModel::deserialize(untrained, "untrained.bin");
  REQUIRE(loaded);
  CHECK(loaded->serialize() == untrained);
  // Training for no epoch is refused like any option out of range, and leaves the model untrained.
  XgbModel model(test::synthetic_layout);
  Rng rng(4);
  auto none = model.fit(data.train_set, nullptr, {.epochs = 0, .threads = 1}, rng);
  REQUIRE_FALSE(none);
  CHECK(none.error().message.find("epochs must be at least 1") != std::string::npos);
  CHECK(model.rounds() == 0);
}

TEST_CASE("crafted trees with a valid checksum are refused with the tree, the node and what is wrong") {
  struct Lie {
    const char* what;
    std::function<void(Craft&)> edit;
    std::string expected;
  };
  auto element = [](const char* key, std::size_t i, double value) {
    return [=](Craft& c) { c.set_element(Craft::at(c.tree(0), key), i, value); };
  };
  const Lie lies[] = {
      {"a child index out of range", element("left_children", 1, 9),
       "tree 0, node 1: left child 9 is out of range (7 nodes)"},
      {"a negative child index", element("right_children", 2, -7),
       "tree 0, node 2: right child -7 is out of range (7 nodes)"},
      {"a child pointing back to the root", element("right_children", 2, 0),
       "tree 0, node 2: right child 0 points back to the root"},
      {"a cycle between two nodes",
       [](Craft& c) {
         c.set_element(Craft::at(c.tree(0), "left_children"), 3, 1);
         c.set_element(Craft::at(c.tree(0), "right_children"), 3, 4);
       },
       "tree 0, node 3: left child 1 is an ancestor of node 3 (a cycle)"},
      {"a node that is its own child", element("left_children", 1, 1),
       "tree 0, node 1: left child 1 is an ancestor of node 1 (a cycle)"},
      {"a shared child", element("right_children", 2, 4),
       "tree 0, node 1: right child 4 is also a child of node 2 (a shared child)"},
      {"an unreachable node",
       [](Craft& c) {
         c.set_tree(0, {1, 3, 5, -1, -1, -1, -1, -1}, {2, 4, 6, -1, -1, -1, -1, -1},
                    {0x7fffffff, 0, 0, 1, 1, 2, 2, 2}, {0, 1, 2, 0, 0, 0, 0, 0},
                    {0.5f, 0.25f, 0.75f, 1, -1, 2, -2, 3});
       },
       "tree 0, node 7 is not reachable from the root"},
      {"a node with one child", element("right_children", 1, -1),
       "tree 0, node 1: one child only (left 3, right -1)"},
      {"a wrong parent", element("parents", 5, 1), "tree 0, node 5: parent is 1, but node 2 points to it"},
      {"a root with a parent", element("parents", 0, 3), "tree 0, node 0 (the root): parent is 3, not none"},
      {"a split feature out of range", element("split_indices", 2, 16),
       "tree 0, node 2: split feature 16 is out of range (16 features)"},
      {"a negative split feature", element("split_indices", 0, -1),
       "tree 0, node 0: split feature -1 is out of range (16 features)"},
      {"a leaf whose split feature XGBoost reads as a deleted node", element("split_indices", 5, -1),
       "tree 0, node 5: split feature -1 is out of range (16 features)"},
      {"a NaN leaf", element("split_conditions", 4, std::nan("")), "tree 0, node 4: leaf value is nan"},
      {"an infinite split condition", element("split_conditions", 1, INFINITY),
       "tree 0, node 1: split condition is inf"},
      {"a NaN base weight", element("base_weights", 6, std::nan("")), "tree 0, node 6: base_weights is nan"},
      {"num_nodes disagreeing with the arrays",
       [](Craft& c) { c.set_string(Craft::at(Craft::at(c.tree(0), "tree_param"), "num_nodes"), "8"); },
       "tree 0: left_children has 7 entries, tree_param.num_nodes says 8"},
      {"one array shorter than the others",
       [](Craft& c) {
         auto& parents = Craft::at(c.tree(0), "parents");
         c.set_typed(parents, 'l', 6, std::string(parents.text.substr(0, 24)));
       },
       "tree 0: parents has 6 entries, tree_param.num_nodes says 7"},
      {"a default_left that is not 0 or 1",
       [](Craft& c) { c.set_typed(Craft::at(c.tree(0), "default_left"), 'U', 7, std::string(7, '\2')); },
       "tree 0, node 0: default_left is 2, not 0 or 1"},
      {"a categorical split",
       [](Craft& c) {
         c.set_typed(Craft::at(c.tree(0), "split_type"), 'U', 7, std::string("\0\1\0\0\0\0\0", 7));
       },
       "tree 0, node 1: a categorical split, which XgbModel does not train"},
      {"a tree deeper than max_depth",
       [](Craft& c) {
         // 0 -> (1, 2), 1 -> (3, 4), 3 -> (5, 6), 5 -> (7, 8): depth 4 under max_depth 3.
         c.set_tree(0, {1, 3, -1, 5, -1, 7, -1, -1, -1}, {2, 4, -1, 6, -1, 8, -1, -1, -1},
                    {0x7fffffff, 0, 0, 1, 1, 3, 3, 5, 5}, {0, 0, 0, 0, 0, 0, 0, 0, 0},
                    {0.5f, 0.5f, 1, 0.5f, 1, 0.5f, 1, 1, 1});
       },
       "tree 0, node 5 splits at depth 3, but max_depth is 3"},
      {"a wrong tree id", [](Craft& c) { Craft::at(c.tree(1), "id").integer = 0; }, "tree 1 has id 0"},
  };
  for (const auto& lie : lies) {
    CAPTURE(lie.what);
    Craft craft(trained_file());
    set_known_tree(craft);
    lie.edit(craft);
    check_refused(craft.file(), lie.expected);
  }
}

TEST_CASE("crafted ensembles with lying counts, types, objectives or nesting are refused with a reason") {
  struct Lie {
    const char* what;
    std::function<void(Craft&)> edit;
    std::string expected;
  };
  auto param = [](const char* object, const char* key, const char* value) {
    return [=](Craft& c) {
      UbjValue& parent = std::string_view(object) == "learner_model_param" ? Craft::at(c.learner(), object)
                                                                           : Craft::at(c.model(), object);
      c.set_string(Craft::at(parent, key), value);
    };
  };
  const Lie lies[] = {
      {"num_feature disagreeing with the layout", param("learner_model_param", "num_feature", "17"),
       "learner.learner_model_param.num_feature is 17, the file's feature layout pools to 16 features"},
      {"num_feature that is not a number", param("learner_model_param", "num_feature", "16 "),
       "learner.learner_model_param.num_feature is \"16 \", not a decimal count"},
      {"a tree's num_feature disagreeing",
       [](Craft& c) { c.set_string(Craft::at(Craft::at(c.tree(2), "tree_param"), "num_feature"), "15"); },
       "tree 2.tree_param.num_feature is 15, outside [16, 16]"},
      {"num_trees disagreeing with the trees array", param("gbtree_model_param", "num_trees", "5"),
       "gbtree_model_param.num_trees is 5, the trees array holds 4 trees"},
      {"tree_info disagreeing with num_trees",
       [](Craft& c) { Craft::at(c.model(), "tree_info").items.pop_back(); },
       "tree_info has 3 entries for 4 trees"},
      {"a second output group", [](Craft& c) { Craft::at(c.model(), "tree_info").items[1].integer = 1; },
       "tree_info[1] is not 0"},
      {"parallel trees", param("gbtree_model_param", "num_parallel_tree", "2"),
       "num_parallel_tree is 2, outside [1, 1]"},
      {"an unknown objective",
       [](Craft& c) { c.set_string(Craft::at(Craft::at(c.learner(), "objective"), "name"), "reg:logistic"); },
       "objective \"reg:logistic\" is not one XgbModel trains"},
      {"a num_pairsample that would make fine-tuning run for ever",
       [](Craft& c) {
         auto& params = Craft::at(Craft::at(c.learner(), "objective"), "lambda_rank_param");
         c.set_string(Craft::at(params, "num_pairsample"), "2147483647");
       },
       "lambda_rank_param.num_pairsample is 2147483647, outside [1, 64]"},
      {"a negative fix_list_weight",
       [](Craft& c) {
         auto& params = Craft::at(Craft::at(c.learner(), "objective"), "lambda_rank_param");
         c.set_string(Craft::at(params, "fix_list_weight"), "-1");
       },
       "lambda_rank_param.fix_list_weight is -1, less than 0"},
      {"the regression objective's parameters under the ranker's name",
       [](Craft& c) {
         c.set_string(Craft::at(Craft::at(c.learner(), "objective"), "name"), "reg:squarederror");
       },
       "learner.objective has no \"reg_loss_param\""},
      {"a NaN base_score", param("learner_model_param", "base_score", "nan"),
       "learner.learner_model_param.base_score is \"nan\", not a finite number"},
      {"a base_score that overflows a float", param("learner_model_param", "base_score", "1E39"),
       "base_score is \"1E39\", not a finite number"},
      {"several classes", param("learner_model_param", "num_class", "3"),
       "learner_model_param.num_class is 3, outside [0, 0]"},
      {"another booster",
       [](Craft& c) { c.set_string(Craft::at(Craft::at(c.learner(), "gradient_booster"), "name"), "dart"); },
       "the booster is \"dart\", XgbModel trains \"gbtree\""},
      {"feature names",
       [](Craft& c) {
         auto& names = Craft::at(c.learner(), "feature_names");
         names.items.emplace_back();
         c.set_string(names.items.back(), "f0");
       },
       "learner.feature_names has 1 entries"},
      {"num_nodes as an integer, not a string",
       [](Craft& c) {
         auto& nodes = Craft::at(Craft::at(c.tree(0), "tree_param"), "num_nodes");
         nodes = UbjValue{};
         nodes.kind = Kind::integer;
         nodes.marker = 'i';
         nodes.integer = 7;
       },
       "tree 0.tree_param.num_nodes is an integer, not a string"},
      {"left_children as a plain array",
       [](Craft& c) {
         auto& lefts = Craft::at(c.tree(0), "left_children");
         UbjValue plain;
         plain.kind = Kind::array;
         for (std::size_t i = 0; i < lefts.count; ++i) {
           auto& item = plain.items.emplace_back();
           item.kind = Kind::integer;
           item.marker = 'l';
           item.integer = lefts.integer_at(i);
         }
         lefts = std::move(plain);
       },
       "tree 0: left_children is an array, not a typed array of 'l' as XGBoost writes it"},
      {"split_conditions as float64",
       [](Craft& c) { c.set_typed(Craft::at(c.tree(0), "split_conditions"), 'D', 7, std::string(56, '\0')); },
       "it holds a typed array of 'D', which XGBoost's reader does not read as this reader does"},
      {"a float64 value",
       [](Craft& c) {
         auto& id = Craft::at(c.tree(0), "id");
         id = UbjValue{};
         id.kind = Kind::number;
         id.marker = 'D';
       },
       "it holds a value of type 'D'"},
      {"a boolean, which XGBoost reads as true whatever it says",
       [](Craft& c) {
         auto& attributes = Craft::at(c.learner(), "attributes");
         attributes.keys.push_back("flag");
         attributes.items.emplace_back().kind = Kind::boolean;
       },
       "it holds a value of type 'F'"},
      {"the learner as an array",
       [](Craft& c) {
         c.learner() = UbjValue{};
         c.learner().kind = Kind::array;
       },
       "the model.learner is an array, not an object"},
      {"no trees",
       [](Craft& c) {
         auto& model = c.model();
         model.keys[2] = "forest";  // gbtree_model_param, tree_info, trees
       },
       "learner.gradient_booster.model has no \"trees\""},
      {"a trees array of 2^31 trees",
       [](Craft& c) { Craft::at(c.model(), "trees").count = std::uint64_t{1} << 31; },
       "UBJSON: an array of 2147483648 elements cannot fit in the"},
      {"a typed array of 2^31 entries",
       [](Craft& c) { Craft::at(c.tree(0), "left_children").count = std::size_t{1} << 31; },
       "UBJSON: a typed array of 2147483648 elements of 4 bytes, only"},
      {"a typed array of 2^62 entries",
       [](Craft& c) { Craft::at(c.tree(3), "split_conditions").count = std::size_t{1} << 62; },
       "UBJSON: a typed array of 4611686018427387904 elements of 4 bytes, only"},
      {"deep nesting",
       [](Craft& c) {
         UbjValue deep;
         deep.kind = Kind::array;
         for (int i = 0; i < 200; ++i) {
           UbjValue outer;
           outer.kind = Kind::array;
           outer.items.push_back(std::move(deep));
           deep = std::move(outer);
         }
         Craft::at(c.learner(), "attributes").keys.push_back("deep");
         Craft::at(c.learner(), "attributes").items.push_back(std::move(deep));
       },
       "UBJSON: nesting deeper than 64 levels"},
      {"an attribute that is not a string",
       [](Craft& c) {
         auto& attributes = Craft::at(c.learner(), "attributes");
         attributes.keys.push_back("best_iteration");
         auto& value = attributes.items.emplace_back();
         value.kind = Kind::integer;
         value.marker = 'i';
       },
       "learner.attributes.best_iteration is an integer, not a string"},
      {"a version before UBJSON models", [](Craft& c) { Craft::at(c.doc(), "version").items[1].integer = 5; },
       "saved by XGBoost 1.5."},
      {"a version after the installed XGBoost",
       [](Craft& c) { Craft::at(c.doc(), "version").items[0].integer = 9; }, "saved by XGBoost 9."},
      {"a repeated key", [](Craft& c) { c.tree(0).keys[0] = c.tree(0).keys[1]; },
       "appears twice in an object"},
  };
  for (const auto& lie : lies) {
    CAPTURE(lie.what);
    Craft craft(trained_file());
    lie.edit(craft);
    check_refused(craft.file(), lie.expected);
  }
}

TEST_CASE("every truncation of the ensemble and stray bytes after it are refused, never crash") {
  Craft craft(trained_file());
  const std::string& ensemble = craft.original_ensemble();
  for (std::size_t n = 0; n < ensemble.size(); n += 1 + n / 64) {
    CAPTURE(n);
    auto loaded = XgbModel::deserialize(craft.file_with(ensemble.substr(0, n)), "cut.bin");
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().file == "cut.bin");
    if (n == 0) {
      CHECK(loaded.error().message.find("holds no trees") != std::string::npos);
    } else {
      CHECK(loaded.error().kind == ErrorKind::parse);
      CHECK(loaded.error().message.find("the XGBoost ensemble: UBJSON: ") != std::string::npos);
    }
  }
  check_refused(craft.file_with(ensemble + "Z"), "UBJSON: 1 unexpected bytes after the end of the document");
  check_refused(craft.file_with("[" + ensemble.substr(1)), "UBJSON: ");
  check_refused(craft.file_with(std::string("{}")), "the model has no \"version\"");
  // Forms this reader reads and XGBoost's does not (or reads otherwise): the first key's length as int8,
  // the whole model as a counted object.
  REQUIRE(ensemble.substr(0, 17) == std::string("{L\0\0\0\0\0\0\0\x07learner", 17));
  check_refused(craft.file_with("{i\x07" + ensemble.substr(10)),
                "it holds a length or count of type 'i', which XGBoost's reader does not read");
  const std::string counted =
      std::string("{#L\0\0\0\0\0\0\0\x02", 11) + ensemble.substr(1, ensemble.size() - 2);
  check_refused(craft.file_with(counted), "it holds an object with a count");
  check_refused(craft.file_with("binf" + ensemble), "UBJSON: unknown type marker 'b' at byte 0");
}

namespace {
/// The file XgbModel::serialize() writes for an untrained model, for a layout and parameters the
/// constructor would refuse: what a crafted header holds.
std::string untrained_file(const features::FeatureLayout& layout, const XgbParams& params) {
  using model::detail::put;
  std::string out(xgb_file_magic, sizeof xgb_file_magic);
  put(out, xgb_file_version);
  model::detail::put_layout(out, layout);
  put(out, static_cast<std::int32_t>(params.max_depth));
  for (double v :
       {params.eta, params.gamma, params.min_child_weight, params.subsample, params.colsample_bytree})
    put(out, v);
  put(out, static_cast<std::uint64_t>(params.rounds_per_epoch));
  put(out, std::uint64_t{0});  // rounds
  put(out, std::uint64_t{0});  // ensemble bytes
  put(out, model::detail::fnv1a(out));
  return out;
}
}  // namespace

TEST_CASE("untrained_file() writes what serialize() writes") {
  CHECK(untrained_file(test::synthetic_layout, {}) == XgbModel(test::synthetic_layout).serialize());
}

TEST_CASE("out-of-range tree parameters, rounds and layouts in the header are refused") {
  auto refused_params = [](XgbParams params, const std::string& expected) {
    check_refused(untrained_file(test::synthetic_layout, params), expected);
  };
  refused_params({.max_depth = -1}, "max_depth is -1, outside [0, 64]");
  refused_params({.max_depth = 65}, "max_depth is 65, outside [0, 64]");
  refused_params({.eta = std::nan("")}, "eta is nan, outside [0, inf) (finite)");
  refused_params({.eta = -0.1}, "eta is -0.1");
  refused_params({.gamma = INFINITY}, "gamma is inf, outside [0, inf) (finite)");
  refused_params({.min_child_weight = -1}, "min_child_weight is -1");
  refused_params({.subsample = 0}, "subsample is 0, outside (0, 1]");
  refused_params({.subsample = 1.5}, "subsample is 1.5");
  refused_params({.colsample_bytree = std::nan("")}, "colsample_bytree is nan, outside (0, 1]");
  refused_params({.rounds_per_epoch = std::size_t{1} << 40}, "rounds_per_epoch is 1099511627776, outside");

  auto refused_layout = [](features::FeatureLayout layout, const std::string& expected) {
    check_refused(untrained_file(layout, {}), expected);
  };
  refused_layout({"steps", 1, 0, 8, 2, 2}, "the feature layout's step dims is 0, outside [1, 65536]");
  refused_layout({"steps", 1, 6, 1u << 17, 2, 2},
                 "the feature layout's max steps is 131072, outside [1, 65536]");
  refused_layout({"steps", 1, 6, 8, std::size_t{1} << 40, 2}, "workload dims is 1099511627776");
  refused_layout({"steps", 1, 2048, 1024, 2, 2}, "1024 steps of 2048 features exceed the 1048576");

  // The header's rounds, patched in a trained file and an untrained one (the u64 before the size).
  auto with_rounds = [](std::string file, std::size_t ensemble_size, std::uint64_t rounds) {
    std::memcpy(file.data() + file.size() - 8 - ensemble_size - 16, &rounds, 8);
    std::uint64_t sum = model::detail::fnv1a(file.substr(0, file.size() - 8));
    std::memcpy(file.data() + file.size() - 8, &sum, 8);
    return file;
  };
  Craft craft(trained_file());
  const std::size_t size = craft.original_ensemble().size();
  REQUIRE(XgbModel::deserialize(with_rounds(trained_file(), size, 4), "same.bin"));
  check_refused(with_rounds(trained_file(), size, 3),
                "the file's header says 3 boosting rounds, the ensemble holds 4 trees");
  check_refused(with_rounds(trained_file(), size, std::uint64_t{1} << 62),
                "the number of boosting rounds is 4611686018427387904, outside");
  check_refused(with_rounds(XgbModel(test::synthetic_layout).serialize(), 0, 5),
                "the header says 5 boosting rounds, the file holds no trees");
  // A size field that points past the checksum.
  std::string file = trained_file();
  const std::uint64_t huge = ~std::uint64_t{0} - 3;
  std::memcpy(file.data() + file.size() - 8 - size - 8, &huge, 8);
  std::uint64_t sum = model::detail::fnv1a(file.substr(0, file.size() - 8));
  std::memcpy(file.data() + file.size() - 8, &sum, 8);
  check_refused(file, "truncated header or ensemble");
}

TEST_CASE("the fuzz target's seeds are model files that load, so its mutations start from valid files") {
  const std::filesystem::path seeds =
      std::filesystem::path(CROSSTUNE_TEST_DATA) / ".." / "fuzz" / "corpus-xgb";
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(seeds)) {
    if (entry.path().extension() != ".bin") continue;
    CAPTURE(entry.path().string());
    auto loaded = XgbModel::load(entry.path());
    REQUIRE(loaded);
    CHECK(loaded->serialize() == test::read_file(entry.path()));
    ++files;
  }
  CHECK(files >= 4);
}

TEST_CASE("parameters out of range are refused by make() and throw from the constructor") {
  auto with = [](auto edit) {
    XgbParams p;
    edit(p);
    return p;
  };
  const std::pair<const char*, XgbParams> cases[] = {
      {"eta is -0.1", with([](XgbParams& p) { p.eta = -0.1; })},
      {"subsample is 0", with([](XgbParams& p) { p.subsample = 0; })},
      {"max_depth is 65", with([](XgbParams& p) { p.max_depth = 65; })},
      {"gamma is nan", with([](XgbParams& p) { p.gamma = std::numeric_limits<double>::quiet_NaN(); })},
  };
  for (const auto& c : cases) {
    const std::string what = c.first;
    const XgbParams& params = c.second;
    CAPTURE(what);
    auto made = XgbModel::make(test::synthetic_layout, params);
    REQUIRE_FALSE(made);
    CHECK(made.error().kind == ErrorKind::invalid_argument);
    CHECK(made.error().message.find(what) != std::string::npos);
    CHECK_THROWS_AS(XgbModel(test::synthetic_layout, params), ErrorException);
  }
  REQUIRE(XgbModel::make(test::synthetic_layout));
}
