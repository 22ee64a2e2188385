// crosstune/model/xgboost.hpp — gradient-boosted trees over pooled features, through XGBoost's C API.
//
// The tree baseline behind the CostModel concept: each candidate is one row of pooled features
// (model/pooling.hpp: mean and max of its step features, its workload and hardware features), scored by
// an XGBoost ensemble. `Loss::mse` trains a regressor on the normalised throughput
// (reg:squarederror); `Loss::rank` and `Loss::mse_and_rank` train XGBoost's pairwise ranker
// (rank:pairwise) with one query group per task, the tree counterpart of the neural models' rank loss.
// An "epoch" is `XgbParams::rounds_per_epoch` boosting rounds, after which the validation PCA is taken;
// the best epoch's trees are kept and `patience` stops early, as in the neural trainer. Calling fit() on
// a trained model adds trees fitted to the new records: fine-tuning for trees.
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
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
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
};

inline constexpr std::uint32_t xgb_file_version = 1;  // xgb_file_magic is in serialization.hpp

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
}  // namespace detail

/// The XGBoost baseline as a CostModel.
class XgbModel {
 public:
  explicit XgbModel(const features::FeatureLayout& layout, XgbParams params = {})
      : layout_(layout), params_(params) {}

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
    return predict_table(table_, scores);
  }

  /// Trains (or, on a trained model, adds trees to) the ensemble. options: epochs (of rounds_per_epoch
  /// rounds each), loss (mse: regression; rank or both: pairwise ranking per task), patience, threads;
  /// the rest are the neural trainer's and are ignored. Deterministic for the Rng's seed and thread count.
  [[nodiscard]] Expected<TrainReport> fit(const LabelledBatch& train_set, const LabelledBatch* validation,
                                          const TrainOptions& options, Rng& rng) {
    if (auto ok = check_labelled(train_set); !ok) return unexpected(std::move(ok).error());
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
    const bool rank = options.loss != Loss::mse;
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

  [[nodiscard]] static Expected<XgbModel> deserialize(const std::string& bytes, const std::string& name) {
    auto fail = [&](const std::string& what, const std::string& hint = {}) {
      return unexpected(Error(ErrorKind::parse, what, name, 0, 0, hint));
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
    if (!in.ok || size != bytes.size() - 8 - in.pos) return fail("truncated header or ensemble");
    XgbModel model(layout, params);
    model.rounds_ = static_cast<std::size_t>(rounds);
    model.bytes_ = bytes.substr(in.pos, static_cast<std::size_t>(size));
    if (!model.bytes_.empty()) {
      BoosterHandle raw = nullptr;
      if (auto ok = detail::xgb_check(XGBoosterCreate(nullptr, 0, &raw), "creating a booster"); !ok)
        return unexpected(std::move(ok).error());
      model.booster_.reset(raw);
      if (auto ok =
              detail::xgb_check(XGBoosterLoadModelFromBuffer(raw, model.bytes_.data(), model.bytes_.size()),
                                "loading the ensemble");
          !ok) {
        return fail(ok.error().message);
      }
      if (auto ok = model.set_threads(0); !ok) return unexpected(std::move(ok).error());
    }
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
