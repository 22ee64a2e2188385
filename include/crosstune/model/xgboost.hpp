// crosstune/model/xgboost.hpp — gradient-boosted trees over pooled features, through XGBoost's C API.
//
// The tree baseline behind the CostModel concept: each candidate is one row of pooled features
// (model/pooling.hpp: mean and max of its step features, its workload and hardware features), scored by
// an XGBoost ensemble. `Loss::mse` trains a regressor on the normalised throughput
// (reg:squarederror); `Loss::rank` and `Loss::mse_and_rank` train XGBoost's pairwise ranker
// (rank:pairwise) with one query group per task, the tree counterpart of the neural models' rank loss.
// `XgbParams::throughput_weighted` trains the regressor with each record weighted by its label, Ansor's
// objective for its online trees, whatever the loss says.
// An "epoch" is `XgbParams::rounds_per_epoch` boosting rounds, after which the validation PCA is taken;
// the best epoch's trees are kept and `patience` stops early, as in the neural trainer. Calling fit() on
// a trained model adds trees fitted to the new records: fine-tuning for trees.
//
// A model file holds the ensemble as XGBoost saved it (UBJSON). XGBoost's own reader trusts every length
// and index it reads, so a crafted file (a child index out of range, a child pointing back to the root)
// would crash or hang the process inside XGBoost, and a checksum does not stop a crafted file. So
// deserialize() first reads the ensemble with a bounded reader (detail/ubjson.hpp) and checks it against
// the schema XGBoost 1.7 writes and XgbModel trains: every tree a proper binary tree over the layout's
// features, finite values, the objective XgbModel trains, counts that agree with the file's header. A
// file that fails is refused with an Error naming it and saying what is wrong; XGBoost never sees it.
//
// Needs libxgboost-dev; link the `crosstune::xgboost` target (defined when CMake finds XGBoost), which
// also defines CROSSTUNE_WITH_XGBOOST.
//
//   crosstune::model::XgbModel xgb(extractor.layout());
//   xgb.fit(train, &validation, {.epochs = 30, .loss = crosstune::model::Loss::rank}, rng).value();
//   xgb.predict(candidates, scores).value();
#pragma once

#if !__has_include(<xgboost/c_api.h>)
#error "crosstune/model/xgboost.hpp needs XGBoost's C API (Debian: libxgboost-dev); link crosstune::xgboost"
#endif
#include <xgboost/c_api.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/detail/ubjson.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/model/parallel.hpp"
#include "crosstune/model/pooling.hpp"
#include "crosstune/model/serialization.hpp"
#include "crosstune/model/trainer.hpp"

namespace crosstune::model {

/// Tree hyper-parameters (XGBoost's names); the defaults are TenSet's for its XGBoost cost model
/// (Zheng et al., NeurIPS 2021 datasets track: depth 10, eta 0.2, gamma 0.001, min_child_weight 0).
struct XgbParams {
  int max_depth = 10;
  double eta = 0.2;
  double gamma = 0.001;
  double min_child_weight = 0;
  double subsample = 1.0;
  double colsample_bytree = 1.0;
  std::size_t rounds_per_epoch = 10;  ///< boosting rounds between validation checks
  /// Train a regressor whose squared errors are weighted by the labels (the normalised throughputs),
  /// whatever TrainOptions::loss says: Ansor's objective for its online trees (Zheng et al., OSDI'20,
  /// section 5.2), which fits the fast candidates more closely than the slow ones. A training choice,
  /// not saved in the model file.
  bool throughput_weighted = false;
};

inline constexpr std::uint32_t xgb_file_version = 1;  // xgb_file_magic is in serialization.hpp

/// Bounds on what an XGBoost model file may declare, checked before XGBoost sees it. They sit far above
/// anything XgbModel trains (TenSet's 10-deep trees, hundreds of rounds, layouts of tens of features).
inline constexpr std::uint64_t xgb_max_step_features = 1u << 20;  ///< max steps x step dims
inline constexpr int xgb_max_tree_depth = 64;                     ///< XgbParams::max_depth
inline constexpr std::uint64_t xgb_max_rounds = 1u << 20;         ///< boosting rounds (= trees)
inline constexpr std::uint64_t xgb_max_tree_nodes = 1u << 22;     ///< nodes of one tree

namespace detail {
struct XgbBoosterDeleter {
  void operator()(void* handle) const noexcept { XGBoosterFree(handle); }
};
struct XgbMatrixDeleter {
  void operator()(void* handle) const noexcept { XGDMatrixFree(handle); }
};
using XgbBooster = std::unique_ptr<void, XgbBoosterDeleter>;
using XgbMatrix = std::unique_ptr<void, XgbMatrixDeleter>;

/// An XGBoost call's status as an Expected: the library's own message on failure.
inline Expected<void> xgb_check(int status, const char* what) {
  if (status == 0) return {};
  return unexpected(
      Error(ErrorKind::backend, std::string("XGBoost: ") + what + " failed: " + XGBGetLastError()));
}

/// A number as XGBoost's parameter parser reads it, whatever the C locale's decimal separator.
inline std::string xgb_number(double value) {
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  return ec == std::errc{} ? std::string(text, end) : std::string("0");
}

/// A dense float DMatrix of `table` (one column per row of the matrix, see pooling.hpp).
inline Expected<XgbMatrix> xgb_matrix(const Matrix<float>& table, int threads) {
  DMatrixHandle handle = nullptr;
  if (auto ok =
          xgb_check(XGDMatrixCreateFromMat_omp(table.data(), static_cast<bst_ulong>(table.cols()),
                                               static_cast<bst_ulong>(table.rows()),
                                               std::numeric_limits<float>::quiet_NaN(), &handle, threads),
                    "creating a DMatrix");
      !ok) {
    return unexpected(std::move(ok).error());
  }
  return XgbMatrix(handle);
}

/// Empty when the header fields of an XGBoost model file are in range; otherwise what is wrong.
[[nodiscard]] inline std::string check_xgb_header(const features::FeatureLayout& layout,
                                                  const XgbParams& params, std::uint64_t rounds) {
  auto outside = [](const std::string& what, auto value, const std::string& range) {
    if constexpr (std::is_floating_point_v<decltype(value)>) {
      return what + " is " + xgb_number(value) + ", outside " + range;
    } else {
      return what + " is " + std::to_string(value) + ", outside " + range;
    }
  };
  // The bounds every model file's layout is held to (serialization.hpp), then the trees' own.
  if (auto wrong = check_layout(layout); !wrong.empty()) return wrong;
  if (layout.max_steps * layout.step_dims > xgb_max_step_features) {
    return "the feature layout's " + std::to_string(layout.max_steps) + " steps of " +
           std::to_string(layout.step_dims) + " features exceed the " +
           std::to_string(xgb_max_step_features) + " step features allowed";
  }
  if (params.max_depth < 0 || params.max_depth > xgb_max_tree_depth)
    return outside("max_depth", params.max_depth, "[0, " + std::to_string(xgb_max_tree_depth) + "]");
  const std::pair<const char*, double> at_least_zero[] = {
      {"eta", params.eta}, {"gamma", params.gamma}, {"min_child_weight", params.min_child_weight}};
  for (const auto& [what, value] : at_least_zero) {
    if (!std::isfinite(value) || value < 0) return outside(what, value, "[0, inf) (finite)");
  }
  const std::pair<const char*, double> fractions[] = {{"subsample", params.subsample},
                                                      {"colsample_bytree", params.colsample_bytree}};
  for (const auto& [what, value] : fractions) {
    if (!(value > 0 && value <= 1)) return outside(what, value, "(0, 1]");
  }
  if (params.rounds_per_epoch > xgb_max_rounds)
    return outside("rounds_per_epoch", params.rounds_per_epoch,
                   "[0, " + std::to_string(xgb_max_rounds) + "]");
  if (rounds > xgb_max_rounds)
    return outside("the number of boosting rounds", rounds, "[0, " + std::to_string(xgb_max_rounds) + "]");
  return {};
}

/// What an ensemble must agree with: the layout's pooled features and the header's rounds and depth.
struct XgbEnsembleExpectations {
  std::size_t num_feature = 0;
  std::uint64_t rounds = 0;
  int max_depth = 0;  ///< 0: no limit
};

/// Checks an XGBoost model saved as UBJSON against the schema XGBoost 1.7 writes, before XGBoost reads
/// it (see the header comment). A refusal is an Error (parse: not UBJSON; schema: not a model XgbModel
/// could have saved) without a file name: deserialize() adds it.
class XgbEnsembleChecker {
 public:
  explicit XgbEnsembleChecker(const XgbEnsembleExpectations& expected) : expected_(expected) {}

  [[nodiscard]] Expected<void> check(std::string_view ensemble) {
    crosstune::detail::UbjMarkersSeen seen;
    auto doc = crosstune::detail::parse_ubjson(ensemble, {}, &seen);
    if (!doc) {
      return unexpected(Error(ErrorKind::parse, "the XGBoost ensemble: " + doc.error().message));
    }
    if (const auto form = unreadable_by_xgboost(seen); !form.empty())
      return schema("it holds " + form + ", which XGBoost's reader does not read as this reader does");
    // XGBoost reads a buffer that opens with '{' and a letter as UBJSON (and anything else by other
    // readers), so the document must be an object whose first key has an integer length marker.
    if (!doc->is(Kind::object) || ensemble.size() < 2 || ensemble[1] == '#' || ensemble[1] == '$') {
      return schema("the ensemble is not an XGBoost model (a plain UBJSON object expected)");
    }
    if (!check_model(*doc)) return unexpected(std::move(*error_));
    return {};
  }

 private:
  using UbjValue = crosstune::detail::UbjValue;
  using Kind = UbjValue::Kind;

  /// XGBoost's reader reads a subset of UBJSON: int64 lengths and counts, typed arrays of d U l L, no
  /// counted objects, no float64 values; it reads F as true. Its models hold no booleans. Empty when
  /// the document keeps to that subset; otherwise the first form outside it.
  static std::string unreadable_by_xgboost(const crosstune::detail::UbjMarkersSeen& seen) {
    for (std::size_t m = 0; m < seen.values.size(); ++m) {
      const char marker = static_cast<char>(m);
      if (seen.lengths[m] && marker != 'L') return std::string("a length or count of type '") + marker + "'";
      if (seen.typed_arrays[m] && std::string_view("dUlL").find(marker) == std::string_view::npos)
        return std::string("a typed array of '") + marker + "'";
      if (seen.values[m] && std::string_view("ZiUIlLdS[{").find(marker) == std::string_view::npos)
        return std::string("a value of type '") + marker + "'";
    }
    if (seen.counted_objects) return "an object with a count";
    return {};
  }

  Unexpected schema(const std::string& what) {
    return unexpected(Error(ErrorKind::schema, "the XGBoost ensemble: " + what));
  }
  bool fail(const std::string& what) {
    if (!error_) error_ = Error(ErrorKind::schema, "the XGBoost ensemble: " + what);
    return false;
  }
  static std::string article(Kind kind) {
    return (kind == Kind::integer || kind == Kind::array || kind == Kind::object ? "an " : "a ") +
           std::string(crosstune::detail::to_string(kind));
  }

  /// The member `key` of `object` (named `path`), of the given kind; nullptr after fail() otherwise.
  const UbjValue* member(const UbjValue& object, std::string_view key, Kind kind, const std::string& path) {
    const UbjValue* value = object.find(key);
    if (!value) {
      fail(path + " has no \"" + std::string(key) + "\"");
      return nullptr;
    }
    if (!value->is(kind)) {
      fail(path + "." + std::string(key) + " is " + article(value->kind) + ", not " + article(kind));
      return nullptr;
    }
    return value;
  }
  /// A string member; nullopt after fail() when absent or not a string.
  std::optional<std::string_view> text(const UbjValue& object, std::string_view key,
                                       const std::string& path) {
    const UbjValue* value = member(object, key, Kind::string, path);
    if (!value) return std::nullopt;
    return value->text;
  }
  /// A string member holding a decimal count in [low, high] (XGBoost writes its parameters as strings).
  std::optional<std::uint64_t> count(const UbjValue& object, std::string_view key, const std::string& path,
                                     std::uint64_t low, std::uint64_t high) {
    const auto value = text(object, key, path);
    if (!value) return std::nullopt;
    std::uint64_t n = 0;
    const char* end = value->data() + value->size();
    const auto [stop, ec] = std::from_chars(value->data(), end, n);
    if (value->empty() || ec != std::errc{} || stop != end) {
      fail(path + "." + std::string(key) + " is \"" + std::string(value->substr(0, 32)) +
           "\", not a decimal count");
      return std::nullopt;
    }
    if (n < low || n > high) {
      fail(path + "." + std::string(key) + " is " + std::to_string(n) + ", outside [" + std::to_string(low) +
           ", " + std::to_string(high) + "]");
      return std::nullopt;
    }
    return n;
  }
  /// An optional string member that must read `expected` when present.
  bool optional_equal(const UbjValue& object, std::string_view key, std::string_view expected,
                      const std::string& path) {
    if (!object.find(key)) return true;
    const auto value = text(object, key, path);
    if (!value) return false;
    if (*value != expected) {
      return fail(path + "." + std::string(key) + " is \"" + std::string(value->substr(0, 32)) +
                  "\", XgbModel's models have \"" + std::string(expected) + "\"");
    }
    return true;
  }
  /// An optional string member that must be a finite number, at least 0, when present (XGBoost's bound).
  bool optional_non_negative(const UbjValue& object, std::string_view key, const std::string& path) {
    if (!object.find(key)) return true;
    const auto value = text(object, key, path);
    return value && finite_number(*value, path + "." + std::string(key), 0.0);
  }
  bool finite_number(std::string_view value, const std::string& what,
                     double at_least = -std::numeric_limits<double>::infinity()) {
    double number = 0;
    const char* end = value.data() + value.size();
    const auto [stop, ec] = std::from_chars(value.data(), end, number);
    // XGBoost reads these as float: a finite double can still overflow it.
    if (value.empty() || ec != std::errc{} || stop != end || !std::isfinite(static_cast<float>(number))) {
      return fail(what + " is \"" + std::string(value.substr(0, 32)) + "\", not a finite number");
    }
    if (number < at_least) {
      return fail(what + " is " + std::string(value.substr(0, 32)) + ", less than " + xgb_number(at_least));
    }
    return true;
  }
  /// Every member of an object is a string (XGBoost reads parameter objects so).
  bool strings_only(const UbjValue& object, const std::string& path) {
    for (std::size_t i = 0; i < object.keys.size(); ++i) {
      if (!object.items[i].is(Kind::string)) {
        return fail(path + "." + std::string(object.keys[i].substr(0, 64)) + " is " +
                    article(object.items[i].kind) + ", not a string");
      }
    }
    return true;
  }

  bool check_model(const UbjValue& root) {
    const UbjValue* version = member(root, "version", Kind::array, "the model");
    if (!version) return false;
    if (version->size() != 3) return fail("version has " + std::to_string(version->size()) + " parts, not 3");
    for (const auto& part : version->items) {
      if (!part.is(Kind::integer) || part.integer < 0 || part.integer > 1000)
        return fail("version is not three small integers");
    }
    // XGBoost writes UBJSON since 1.6, and reads no model of a later version than its own.
    int major = 0, minor = 0, patch = 0;
    XGBoostVersion(&major, &minor, &patch);
    const std::int64_t saved[3] = {version->items[0].integer, version->items[1].integer,
                                   version->items[2].integer};
    const std::int64_t oldest[3] = {1, 6, 0}, newest[3] = {major, minor, patch};
    auto dotted = [](const std::int64_t(&v)[3]) {
      return std::to_string(v[0]) + "." + std::to_string(v[1]) + "." + std::to_string(v[2]);
    };
    if (std::lexicographical_compare(saved, saved + 3, oldest, oldest + 3) ||
        std::lexicographical_compare(newest, newest + 3, saved, saved + 3)) {
      return fail("saved by XGBoost " + dotted(saved) + "; this program reads the UBJSON models of XGBoost " +
                  dotted(oldest) + " to " + dotted(newest));
    }
    const UbjValue* learner = member(root, "learner", Kind::object, "the model");
    if (!learner) return false;
    return check_learner_param(*learner) && check_objective(*learner) && check_extras(*learner) &&
           check_booster(*learner);
  }

  bool check_learner_param(const UbjValue& learner) {
    const std::string path = "learner.learner_model_param";
    const UbjValue* param = member(learner, "learner_model_param", Kind::object, "learner");
    if (!param || !strings_only(*param, path)) return false;
    const auto num_feature = count(*param, "num_feature", path, 0, std::numeric_limits<std::uint32_t>::max());
    if (!num_feature) return false;
    if (*num_feature != expected_.num_feature) {
      return fail(path + ".num_feature is " + std::to_string(*num_feature) +
                  ", the file's feature layout pools to " + std::to_string(expected_.num_feature) +
                  " features");
    }
    const auto num_class = count(*param, "num_class", path, 0, 0);
    const auto base_score = text(*param, "base_score", path);
    return num_class && base_score && finite_number(*base_score, path + ".base_score") &&
           optional_equal(*param, "num_target", "1", path) &&
           (!param->find("boost_from_average") || count(*param, "boost_from_average", path, 0, 1));
  }

  bool check_objective(const UbjValue& learner) {
    const std::string path = "learner.objective";
    const UbjValue* objective = member(learner, "objective", Kind::object, "learner");
    if (!objective) return false;
    const auto name = text(*objective, "name", path);
    if (!name) return false;
    const char* param_key = nullptr;
    if (*name == "reg:squarederror") {
      param_key = "reg_loss_param";
    } else if (*name == "rank:pairwise") {
      param_key = "lambda_rank_param";
    } else {
      return fail("objective \"" + std::string(name->substr(0, 64)) +
                  "\" is not one XgbModel trains (reg:squarederror, rank:pairwise)");
    }
    const UbjValue* param = member(*objective, param_key, Kind::object, path);
    const std::string param_path = path + "." + param_key;
    // A huge num_pairsample would make fine-tuning the loaded model run for ever.
    return param && strings_only(*param, param_path) &&
           optional_non_negative(*param, "scale_pos_weight", param_path) &&
           optional_non_negative(*param, "fix_list_weight", param_path) &&
           (!param->find("num_pairsample") || count(*param, "num_pairsample", param_path, 1, 64));
  }

  /// Attributes, feature names and types: XgbModel sets none of them.
  bool check_extras(const UbjValue& learner) {
    const UbjValue* attributes = member(learner, "attributes", Kind::object, "learner");
    if (!attributes || !strings_only(*attributes, "learner.attributes")) return false;
    for (const char* key : {"feature_names", "feature_types"}) {
      if (!learner.find(key)) continue;
      const UbjValue* list = member(learner, key, Kind::array, "learner");
      if (!list) return false;
      if (list->size() != 0) {
        return fail("learner." + std::string(key) + " has " + std::to_string(list->size()) +
                    " entries; XgbModel trains without feature names or types");
      }
    }
    return true;
  }

  bool check_booster(const UbjValue& learner) {
    const UbjValue* booster = member(learner, "gradient_booster", Kind::object, "learner");
    if (!booster) return false;
    const auto name = text(*booster, "name", "learner.gradient_booster");
    if (!name) return false;
    if (*name != "gbtree") {
      return fail("the booster is \"" + std::string(name->substr(0, 64)) + "\", XgbModel trains \"gbtree\"");
    }
    const std::string path = "learner.gradient_booster.model";
    const UbjValue* model = member(*booster, "model", Kind::object, "learner.gradient_booster");
    if (!model) return false;
    const UbjValue* param = member(*model, "gbtree_model_param", Kind::object, path);
    const std::string param_path = path + ".gbtree_model_param";
    if (!param || !strings_only(*param, param_path)) return false;
    const auto num_trees = count(*param, "num_trees", param_path, 0, xgb_max_rounds);
    if (!num_trees || !count(*param, "num_parallel_tree", param_path, 1, 1) ||
        !optional_equal(*param, "size_leaf_vector", "0", param_path)) {
      return false;
    }
    const UbjValue* trees = member(*model, "trees", Kind::array, path);
    const UbjValue* tree_info = trees ? member(*model, "tree_info", Kind::array, path) : nullptr;
    if (!tree_info) return false;
    if (trees->size() != *num_trees) {
      return fail(param_path + ".num_trees is " + std::to_string(*num_trees) + ", the trees array holds " +
                  std::to_string(trees->size()) + " trees");
    }
    if (tree_info->size() != *num_trees) {
      return fail(path + ".tree_info has " + std::to_string(tree_info->size()) + " entries for " +
                  std::to_string(*num_trees) + " trees");
    }
    for (std::size_t t = 0; t < tree_info->size(); ++t) {
      const auto& group = tree_info->items[t];
      if (!group.is(Kind::integer) || group.integer != 0) {
        return fail(path + ".tree_info[" + std::to_string(t) +
                    "] is not 0: XgbModel's models have one output group");
      }
    }
    // One tree per round: XgbModel boosts one output and no parallel trees.
    if (*num_trees != expected_.rounds) {
      return fail("the file's header says " + std::to_string(expected_.rounds) +
                  " boosting rounds, the ensemble holds " + std::to_string(*num_trees) + " trees");
    }
    for (std::size_t t = 0; t < trees->size(); ++t)
      if (!check_tree(trees->items[t], t)) return false;
    return true;
  }

  /// A per-node array of tree `where`: a typed array of one of `markers`, with `nodes` entries.
  const UbjValue* node_array(const UbjValue& tree, std::string_view key, std::string_view markers,
                             std::uint64_t nodes, const std::string& where) {
    const UbjValue* array = tree.find(key);
    if (!array) {
      fail(where + " has no " + std::string(key));
      return nullptr;
    }
    if (!array->is(Kind::typed_array) || markers.find(array->marker) == std::string_view::npos) {
      fail(where + ": " + std::string(key) + " is " + article(array->kind) +
           (array->is(Kind::typed_array) ? std::string(" of '") + array->marker + "'" : std::string()) +
           ", not a typed array of '" + std::string(markers.substr(0, 1)) + "' as XGBoost writes it");
      return nullptr;
    }
    if (array->count != nodes) {
      fail(where + ": " + std::string(key) + " has " + std::to_string(array->count) +
           " entries, tree_param.num_nodes says " + std::to_string(nodes));
      return nullptr;
    }
    return array;
  }

  bool check_tree(const UbjValue& tree, std::size_t index) {
    const std::string where = "tree " + std::to_string(index);
    if (!tree.is(Kind::object)) return fail(where + " is " + article(tree.kind) + ", not an object");
    const UbjValue* id = member(tree, "id", Kind::integer, where);
    if (!id) return false;
    if (id->integer < 0 || static_cast<std::uint64_t>(id->integer) != index)
      return fail(where + " has id " + std::to_string(id->integer));
    const UbjValue* param = member(tree, "tree_param", Kind::object, where);
    const std::string param_path = where + ".tree_param";
    if (!param || !strings_only(*param, param_path)) return false;
    const auto nodes = count(*param, "num_nodes", param_path, 1, xgb_max_tree_nodes);
    const auto num_feature =
        nodes ? count(*param, "num_feature", param_path, expected_.num_feature, expected_.num_feature)
              : std::nullopt;
    if (!num_feature || !count(*param, "num_deleted", param_path, 0, 0) ||
        !optional_equal(*param, "size_leaf_vector", "0", param_path)) {
      return false;
    }
    const std::uint64_t n = *nodes;
    const UbjValue* lefts = node_array(tree, "left_children", "l", n, where);
    const UbjValue* rights = lefts ? node_array(tree, "right_children", "l", n, where) : nullptr;
    const UbjValue* parents = rights ? node_array(tree, "parents", "l", n, where) : nullptr;
    const UbjValue* features = parents ? node_array(tree, "split_indices", "lL", n, where) : nullptr;
    const UbjValue* conditions = features ? node_array(tree, "split_conditions", "d", n, where) : nullptr;
    const UbjValue* defaults = conditions ? node_array(tree, "default_left", "U", n, where) : nullptr;
    if (!defaults) return false;
    for (const char* key : {"base_weights", "loss_changes", "sum_hessian"}) {
      const UbjValue* values = node_array(tree, key, "d", n, where);
      if (!values) return false;
      for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(values->number_at(i))) {
          return fail(where + ", node " + std::to_string(i) + ": " + key + " is " +
                      std::to_string(values->number_at(i)));
        }
      }
    }
    // XGBoost reads categorical splits when split_type is present: XgbModel trains numerical ones only.
    if (tree.find("split_type")) {
      const UbjValue* types = node_array(tree, "split_type", "U", n, where);
      if (!types) return false;
      for (std::size_t i = 0; i < n; ++i) {
        if (types->integer_at(i) != 0) {
          return fail(where + ", node " + std::to_string(i) +
                      ": a categorical split, which XgbModel does not train");
        }
      }
      const std::pair<const char*, const char*> categories[] = {{"categories", "l"},
                                                                {"categories_nodes", "l"},
                                                                {"categories_segments", "L"},
                                                                {"categories_sizes", "L"}};
      for (const auto& [key, marker] : categories)
        if (!node_array(tree, key, marker, 0, where)) return false;
    }
    return check_structure(where, n, *lefts, *rights, *parents, *features, *conditions, *defaults);
  }

  /// Every node reached exactly once from the root 0, by its parent, as a node with two children or a
  /// leaf; splits on the layout's features; finite conditions and leaf values; no deeper than max_depth.
  bool check_structure(const std::string& where, std::uint64_t nodes, const UbjValue& lefts,
                       const UbjValue& rights, const UbjValue& parents, const UbjValue& features,
                       const UbjValue& conditions, const UbjValue& defaults) {
    const auto n = static_cast<std::int64_t>(nodes);
    constexpr std::int64_t unreached = -2, root = -1;
    std::vector<std::int64_t> reached_from(static_cast<std::size_t>(n), unreached);
    std::vector<std::pair<std::int64_t, int>> pending{{0, 0}};  // node, depth
    reached_from[0] = root;
    auto node = [&](std::int64_t i) { return where + ", node " + std::to_string(i); };
    // XGBoost writes the root's parent as -1 with the sign bit cleared.
    if (const auto p = parents.integer_at(0); p != -1 && p != 0x7fffffff)
      return fail(node(0) + " (the root): parent is " + std::to_string(p) + ", not none");
    while (!pending.empty()) {
      const auto [i, depth] = pending.back();
      pending.pop_back();
      const auto at = static_cast<std::size_t>(i);
      const std::int64_t children[2] = {lefts.integer_at(at), rights.integer_at(at)};
      const double condition = conditions.number_at(at);
      if (defaults.integer_at(at) > 1)
        return fail(node(i) + ": default_left is " + std::to_string(defaults.integer_at(at)) +
                    ", not 0 or 1");
      // Leaves too: XGBoost takes a leaf whose feature reads 2^32 - 1 for a deleted node (and writes 0).
      if (const auto feature = features.integer_at(at);
          feature < 0 || static_cast<std::uint64_t>(feature) >= expected_.num_feature) {
        return fail(node(i) + ": split feature " + std::to_string(feature) + " is out of range (" +
                    std::to_string(expected_.num_feature) + " features)");
      }
      if (children[0] == -1 && children[1] == -1) {
        if (!std::isfinite(condition)) return fail(node(i) + ": leaf value is " + std::to_string(condition));
        continue;
      }
      if (children[0] == -1 || children[1] == -1) {
        return fail(node(i) + ": one child only (left " + std::to_string(children[0]) + ", right " +
                    std::to_string(children[1]) + "); a node has two children or none");
      }
      if (!std::isfinite(condition))
        return fail(node(i) + ": split condition is " + std::to_string(condition));
      if (expected_.max_depth > 0 && depth + 1 > expected_.max_depth) {
        return fail(node(i) + " splits at depth " + std::to_string(depth) + ", but max_depth is " +
                    std::to_string(expected_.max_depth));
      }
      for (int side = 0; side < 2; ++side) {
        const std::int64_t child = children[side];
        const std::string which = side == 0 ? "left child " : "right child ";
        if (child == 0) return fail(node(i) + ": " + which + "0 points back to the root");
        if (child < 1 || child >= n) {
          return fail(node(i) + ": " + which + std::to_string(child) + " is out of range (" +
                      std::to_string(n) + " nodes)");
        }
        const auto c = static_cast<std::size_t>(child);
        if (reached_from[c] != unreached) {
          bool ancestor = false;
          for (std::int64_t up = i; up >= 0 && !ancestor; up = reached_from[static_cast<std::size_t>(up)])
            ancestor = up == child;
          return fail(node(i) + ": " + which + std::to_string(child) +
                      (ancestor ? " is an ancestor of node " + std::to_string(i) + " (a cycle)"
                                : " is also a child of node " + std::to_string(reached_from[c]) +
                                      " (a shared child)"));
        }
        reached_from[c] = i;
        pending.emplace_back(child, depth + 1);
      }
    }
    // Parents last, so that a shared child is reported as one rather than as a wrong parent.
    for (std::int64_t i = 1; i < n; ++i) {
      const auto from = reached_from[static_cast<std::size_t>(i)];
      if (from == unreached) return fail(node(i) + " is not reachable from the root");
      if (const auto parent = parents.integer_at(static_cast<std::size_t>(i)); parent != from) {
        return fail(node(i) + ": parent is " + std::to_string(parent) + ", but node " + std::to_string(from) +
                    " points to it");
      }
    }
    return true;
  }

  XgbEnsembleExpectations expected_;
  std::optional<Error> error_;
};
}  // namespace detail

/// The XGBoost baseline as a CostModel.
class XgbModel {
 public:
  using train_options = TrainOptions;  ///< what fit() and fine_tune() take (the CostModel concept)

  /// An untrained model for features of `layout`. Throws ErrorException when the layout or a parameter is
  /// out of range (the bounds a model file is checked against); make() returns that Error instead.
  explicit XgbModel(const features::FeatureLayout& layout, XgbParams params = {})
      : layout_(layout), params_(params) {
    if (const auto wrong = detail::check_xgb_header(layout, params, 0); !wrong.empty())
      throw ErrorException(Error(ErrorKind::invalid_argument, "XgbModel: " + wrong));
  }

  /// An untrained model, or an Error naming the parameter out of range (a negative eta, a subsample of 0,
  /// a depth over 64, ...), for parameters that come from a user.
  [[nodiscard]] static Expected<XgbModel> make(const features::FeatureLayout& layout, XgbParams params = {}) {
    if (const auto wrong = detail::check_xgb_header(layout, params, 0); !wrong.empty())
      return unexpected(Error(ErrorKind::invalid_argument, "XgbModel: " + wrong));
    return XgbModel(layout, params);
  }

  [[nodiscard]] const features::FeatureLayout& layout() const noexcept { return layout_; }
  [[nodiscard]] const XgbParams& params() const noexcept { return params_; }
  /// Boosting rounds in the model (0 before fit).
  [[nodiscard]] std::size_t rounds() const noexcept { return rounds_; }
  /// Threads for prediction (0: every core).
  [[nodiscard]] Expected<void> set_threads(std::size_t threads) {
    threads_ = resolve_threads(threads);
    if (!booster_) return {};
    return detail::xgb_check(XGBoosterSetParam(booster_.get(), "nthread", std::to_string(threads_).c_str()),
                             "setting threads");
  }

  [[nodiscard]] Expected<void> predict(const features::FeatureBatch& batch, std::span<float> scores) {
    if (auto ok = check_predict_args(layout_, batch, scores); !ok) return ok;
    if (batch.size() == 0) return {};
    if (!booster_) {
      return unexpected(Error(ErrorKind::invalid_argument, "predict: the XGBoost model is not trained", {}, 0,
                              0, "call fit() or load a trained model first"));
    }
    pool_candidates(batch, 0, batch.size(), table_);
    return on_own_thread([&] { return predict_table(table_, scores); });
  }

  /// Trains (or, on a trained model, adds trees to) the ensemble. options: epochs (of rounds_per_epoch
  /// rounds each), loss (mse: regression; rank or both: pairwise ranking per task), patience, threads;
  /// the rest are the neural trainer's and are ignored. Deterministic for the Rng's seed and thread count.
  /// Runs on a thread of its own (see on_own_thread).
  [[nodiscard]] Expected<TrainReport> fit(const LabelledBatch& train_set, const LabelledBatch* validation,
                                          const TrainOptions& options, Rng& rng) {
    return on_own_thread([&] { return fit_here(train_set, validation, options, rng); });
  }

 private:
  /// Runs `f` on a new thread and returns its result. XGBoost parallelises with OpenMP, and GCC's OpenMP
  /// runtime keeps a pool of threads per thread that opened a parallel region, which fork() does not copy:
  /// a measurer's worker forked later from that thread would wait for them at its kernel's first parallel
  /// loop until killed (docs/measure.md). The pool of a thread that ends goes with it, so after each call
  /// no OpenMP thread is left in the process. Costs a thread start (tens of microseconds) per call.
  template <class F>
  static auto on_own_thread(F&& f) -> decltype(f()) {
    std::optional<decltype(f())> result;
    std::thread worker([&] { result.emplace(f()); });
    worker.join();
    return std::move(*result);
  }

  [[nodiscard]] Expected<TrainReport> fit_here(const LabelledBatch& train_set, const LabelledBatch* validation,
                                               const TrainOptions& options, Rng& rng) {
    if (auto ok = check_labelled(train_set); !ok) return unexpected(std::move(ok).error());
    if (auto ok = validate(options); !ok) return unexpected(std::move(ok).error());
    const std::size_t n = train_set.features->size();
    if (auto ok = features::check_batch(layout_, *train_set.features); !ok) return unexpected(ok.error());
    if (validation) {
      if (auto ok = features::check_batch(layout_, *validation->features); !ok) return unexpected(ok.error());
    }
    if (params_.rounds_per_epoch == 0)
      return unexpected(Error(ErrorKind::invalid_argument, "train: rounds_per_epoch must be at least 1"));
    const int threads = static_cast<int>(resolve_threads(options.threads));
    threads_ = static_cast<std::size_t>(threads);

    // Rows grouped by task (stable), as the ranker's query groups need them.
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return train_set.tasks[a] < train_set.tasks[b]; });
    Matrix<float> pooled, table;
    pool_candidates(*train_set.features, 0, n, pooled);
    table.resize(pooled.rows(), pooled.cols());
    std::vector<float> labels(n);
    std::vector<unsigned> groups;
    for (std::size_t i = 0; i < n; ++i) {
      table.col(static_cast<Eigen::Index>(i)) = pooled.col(static_cast<Eigen::Index>(order[i]));
      labels[i] = train_set.labels[order[i]];
      if (i == 0 || train_set.tasks[order[i]] != train_set.tasks[order[i - 1]]) groups.push_back(0);
      ++groups.back();
    }
    pooled.resize(0, 0);
    auto dtrain = detail::xgb_matrix(table, threads);
    if (!dtrain) return unexpected(std::move(dtrain).error());
    if (auto ok = detail::xgb_check(XGDMatrixSetFloatInfo(dtrain->get(), "label", labels.data(), n),
                                    "setting labels");
        !ok) {
      return unexpected(std::move(ok).error());
    }
    const bool rank = options.loss != Loss::mse && !params_.throughput_weighted;
    if (params_.throughput_weighted) {
      if (auto ok = detail::xgb_check(XGDMatrixSetFloatInfo(dtrain->get(), "weight", labels.data(), n),
                                      "setting weights");
          !ok) {
        return unexpected(std::move(ok).error());
      }
    }
    if (rank) {
      if (auto ok =
              detail::xgb_check(XGDMatrixSetUIntInfo(dtrain->get(), "group", groups.data(), groups.size()),
                                "setting query groups");
          !ok) {
        return unexpected(std::move(ok).error());
      }
    }

    DMatrixHandle train_handle = dtrain->get();
    BoosterHandle raw = nullptr;
    if (auto ok = detail::xgb_check(XGBoosterCreate(&train_handle, 1, &raw), "creating a booster"); !ok)
      return unexpected(std::move(ok).error());
    detail::XgbBooster booster(raw);
    const std::size_t base_rounds = rounds_;
    if (!bytes_.empty()) {  // continue from the trained ensemble
      if (auto ok = detail::xgb_check(XGBoosterLoadModelFromBuffer(raw, bytes_.data(), bytes_.size()),
                                      "loading the trained ensemble");
          !ok) {
        return unexpected(std::move(ok).error());
      }
    }
    const std::string seed = std::to_string(rng() & 0x7fffffffU);
    const std::pair<const char*, std::string> settings[] = {
        {"objective", rank ? "rank:pairwise" : "reg:squarederror"},
        {"eval_metric", rank ? "ndcg" : "rmse"},
        {"tree_method", "hist"},
        {"max_depth", std::to_string(params_.max_depth)},
        {"eta", detail::xgb_number(params_.eta)},
        {"gamma", detail::xgb_number(params_.gamma)},
        {"min_child_weight", detail::xgb_number(params_.min_child_weight)},
        {"subsample", detail::xgb_number(params_.subsample)},
        {"colsample_bytree", detail::xgb_number(params_.colsample_bytree)},
        {"nthread", std::to_string(threads)},
        {"seed", seed},
        {"verbosity", "0"}};
    for (const auto& [name, value] : settings) {
      if (auto ok = detail::xgb_check(XGBoosterSetParam(raw, name, value.c_str()), name); !ok)
        return unexpected(std::move(ok).error());
    }

    TrainReport report;
    double best = -1;
    std::size_t best_rounds = base_rounds, since_best = 0;
    std::size_t rounds = base_rounds;
    std::vector<float> scores;
    Matrix<float> validation_table;
    if (validation) pool_candidates(*validation->features, 0, validation->features->size(), validation_table);
    std::swap(booster_, booster);  // predict_table() scores with the booster being trained
    auto restore = [&] { std::swap(booster_, booster); };
    for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
      for (std::size_t r = 0; r < params_.rounds_per_epoch; ++r, ++rounds) {
        if (auto ok = detail::xgb_check(XGBoosterUpdateOneIter(raw, static_cast<int>(rounds), train_handle),
                                        "a boosting round");
            !ok) {
          restore();
          return unexpected(std::move(ok).error());
        }
      }
      const char* name = "train";
      const char* metrics = nullptr;
      if (auto ok = detail::xgb_check(
              XGBoosterEvalOneIter(raw, static_cast<int>(rounds), &train_handle, &name, 1, &metrics),
              "evaluation");
          !ok) {
        restore();
        return unexpected(std::move(ok).error());
      }
      // "[r]\ttrain-rmse:0.123" or "[r]\ttrain-ndcg:0.9": the loss is the RMSE, or 1 - NDCG.
      const char* colon = std::strrchr(metrics, ':');
      const double metric = colon ? std::strtod(colon + 1, nullptr) : 0.0;
      report.train_loss.push_back(rank ? 1.0 - metric : metric);
      if (!validation) {
        report.best_epoch = epoch;
        best_rounds = rounds;
        if (options.on_epoch) options.on_epoch(epoch, report.train_loss.back(), -1.0);
        continue;
      }
      scores.resize(validation->features->size());
      if (auto ok = predict_table(validation_table, scores); !ok) {
        restore();
        return unexpected(std::move(ok).error());
      }
      auto pca = task_pca(scores, validation->labels, validation->tasks);
      if (!pca) {
        restore();
        return unexpected(std::move(pca).error());
      }
      report.validation_pca.push_back(*pca);
      if (options.on_epoch) options.on_epoch(epoch, report.train_loss.back(), *pca);
      if (*pca > best) {
        best = *pca;
        report.best_epoch = epoch;
        best_rounds = rounds;
        since_best = 0;
      } else if (options.patience > 0 && ++since_best >= options.patience) {
        report.stopped_early = true;
        break;
      }
    }
    restore();
    if (best_rounds < rounds) {  // keep the best epoch's trees
      BoosterHandle sliced = nullptr;
      if (auto ok = detail::xgb_check(XGBoosterSlice(raw, 0, static_cast<int>(best_rounds), 1, &sliced),
                                      "keeping the best epoch's trees");
          !ok) {
        return unexpected(std::move(ok).error());
      }
      booster.reset(sliced);
    }
    auto bytes = save_booster(booster.get());
    if (!bytes) return unexpected(std::move(bytes).error());
    booster_ = std::move(booster);
    bytes_ = std::move(*bytes);
    rounds_ = best_rounds;
    return report;
  }

 public:
  /// The model file: magic, version, layout, tree parameters, rounds, XGBoost's UBJSON model, checksum.
  /// A loaded model saves to the same bytes (the ensemble's bytes are kept as loaded).
  [[nodiscard]] std::string serialize() const {
    using detail::put;
    std::string out(xgb_file_magic, sizeof xgb_file_magic);
    put(out, xgb_file_version);
    detail::put_layout(out, layout_);
    put(out, static_cast<std::int32_t>(params_.max_depth));
    for (double v :
         {params_.eta, params_.gamma, params_.min_child_weight, params_.subsample, params_.colsample_bytree})
      put(out, v);
    put(out, static_cast<std::uint64_t>(params_.rounds_per_epoch));
    put(out, static_cast<std::uint64_t>(rounds_));
    put(out, static_cast<std::uint64_t>(bytes_.size()));
    out += bytes_;
    put(out, detail::fnv1a(out));
    return out;
  }
  [[nodiscard]] Expected<void> save(const std::filesystem::path& path) const {
    return detail::write_file(path, serialize());
  }

  /// Parses a model file's bytes (`name` stands for the file in errors). The header and the ensemble are
  /// checked before XGBoost reads anything (see the header comment); a refusal says what is wrong.
  [[nodiscard]] static Expected<XgbModel> deserialize(const std::string& bytes, const std::string& name) {
    auto fail = [&](const std::string& what, ErrorKind kind = ErrorKind::parse) {
      return unexpected(Error(kind, what, name, 0, 0, detail::bad_model_file_hint));
    };
    auto opened = detail::open_model_bytes(bytes, xgb_file_magic, xgb_file_version, "XGBoost model", name);
    if (!opened) return unexpected(std::move(opened).error());
    auto& in = *opened;
    const auto layout = detail::get_layout(in);
    XgbParams params;
    params.max_depth = in.get<std::int32_t>();
    for (double* v :
         {&params.eta, &params.gamma, &params.min_child_weight, &params.subsample, &params.colsample_bytree})
      *v = in.get<double>();
    params.rounds_per_epoch = static_cast<std::size_t>(in.get<std::uint64_t>());
    const auto rounds = in.get<std::uint64_t>();
    const auto size = in.get<std::uint64_t>();
    // open_model_bytes checked that the 8 checksum bytes are there.
    if (!in.ok || in.pos > bytes.size() - 8 || size != bytes.size() - 8 - in.pos)
      return fail("truncated header or ensemble");
    if (const auto wrong = detail::check_xgb_header(layout, params, rounds); !wrong.empty())
      return fail(wrong, ErrorKind::schema);
    XgbModel model(layout, params);
    model.rounds_ = static_cast<std::size_t>(rounds);
    model.bytes_ = bytes.substr(in.pos, static_cast<std::size_t>(size));
    if (model.bytes_.empty()) {
      if (rounds != 0) {
        return fail("the header says " + std::to_string(rounds) + " boosting rounds, the file holds no trees",
                    ErrorKind::schema);
      }
      return model;
    }
    detail::XgbEnsembleChecker checker(
        {pooled_dims(layout.step_dims, layout.workload_dims, layout.hardware_dims), rounds,
         params.max_depth});
    if (auto ok = checker.check(model.bytes_); !ok) {
      Error error = std::move(ok).error();
      return fail(error.message, error.kind);
    }
    BoosterHandle raw = nullptr;
    if (auto ok = detail::xgb_check(XGBoosterCreate(nullptr, 0, &raw), "creating a booster"); !ok)
      return unexpected(std::move(ok).error());
    model.booster_.reset(raw);
    if (auto ok =
            detail::xgb_check(XGBoosterLoadModelFromBuffer(raw, model.bytes_.data(), model.bytes_.size()),
                              "loading the ensemble");
        !ok) {
      // The checks above passed what XGBoost refuses: a backend error, not a refusal of ours.
      return fail(ok.error().message, ErrorKind::backend);
    }
    if (auto ok = model.set_threads(0); !ok) return unexpected(std::move(ok).error());
    return model;
  }
  [[nodiscard]] static Expected<XgbModel> load(const std::filesystem::path& path) {
    return detail::load_file<XgbModel>(path);
  }

 private:
  static Expected<std::string> save_booster(BoosterHandle booster) {
    bst_ulong length = 0;
    const char* data = nullptr;
    if (auto ok =
            detail::xgb_check(XGBoosterSaveModelToBuffer(booster, R"({"format": "ubj"})", &length, &data),
                              "saving the ensemble");
        !ok) {
      return unexpected(std::move(ok).error());
    }
    return std::string(data, static_cast<std::size_t>(length));
  }

  /// Scores the pooled table (one column per candidate) with XGBoost's in-place dense prediction.
  Expected<void> predict_table(const Matrix<float>& table, std::span<float> scores) {
    const std::string array = R"({"data": [)" +
                              std::to_string(reinterpret_cast<std::uintptr_t>(table.data())) +
                              R"(, true], "shape": [)" + std::to_string(table.cols()) + ", " +
                              std::to_string(table.rows()) + R"(], "typestr": "<f4", "version": 3})";
    const char* config =
        R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, )"
        R"("cache_id": 0, "missing": NaN})";
    const bst_ulong* shape = nullptr;
    bst_ulong dims = 0;
    const float* result = nullptr;
    if (auto ok = detail::xgb_check(
            XGBoosterPredictFromDense(booster_.get(), array.c_str(), config, nullptr, &shape, &dims, &result),
            "prediction");
        !ok) {
      return ok;
    }
    bst_ulong outputs = 1;
    for (bst_ulong d = 0; d < dims; ++d)
      outputs *= shape[d];
    if (outputs != scores.size()) {  // one score per candidate, as XgbModel's models give
      return unexpected(Error(ErrorKind::backend, "XGBoost: prediction gave " + std::to_string(outputs) +
                                                      " outputs for " + std::to_string(scores.size()) +
                                                      " candidates"));
    }
    std::copy_n(result, scores.size(), scores.begin());
    return {};
  }

  features::FeatureLayout layout_;
  XgbParams params_;
  std::size_t threads_ = resolve_threads(0);
  std::size_t rounds_ = 0;
  std::string bytes_;  // the ensemble as XGBoost saved (or the file held) it
  detail::XgbBooster booster_;
  Matrix<float> table_;
};

}  // namespace crosstune::model
