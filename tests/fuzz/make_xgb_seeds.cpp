// Writes the seed corpus of the XGBoost loader's fuzz target: a few small valid model files (trees of
// depth 1-3 over layouts of 2-3 step features, the regressor and the ranker, an untrained model, a model
// without trees), each a few KB at most, and the UBJSON ensemble of one of them on its own (a seed for the
// reader the target also feeds the raw input).
//
//   cmake --build build/release --target make_xgb_seeds
//   build/release/tests/fuzz/make_xgb_seeds tests/fuzz/corpus-xgb
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "crosstune/core/rng.hpp"
#include "crosstune/model/xgboost.hpp"
#include "model_fuzz_support.hpp"

namespace {

/// 48 candidates of `layout` in 3 tasks, the label a fixed function of the first step feature.
struct Data {
  crosstune::features::FeatureBatch batch;
  std::vector<float> labels;
  std::vector<std::uint32_t> tasks;
};
Data make_data(const crosstune::features::FeatureLayout& layout) {
  Data data;
  constexpr std::size_t n = 48;
  data.batch.reset(n, layout);
  crosstune::Rng rng(7);
  for (std::size_t b = 0; b < n; ++b) {
    const std::size_t length = 1 + b % layout.max_steps;
    data.batch.lengths[b] = static_cast<std::uint32_t>(length);
    double sum = 0;
    for (std::size_t t = 0; t < length; ++t) {
      data.batch.mask(b, t) = 1.0f;
      for (std::size_t k = 0; k < layout.step_dims; ++k)
        data.batch.steps(b, t, k) = static_cast<float>(rng.uniform01());
      sum += data.batch.steps(b, t, 0);
    }
    for (std::size_t k = 0; k < layout.workload_dims; ++k)
      data.batch.workload(b, k) = static_cast<float>(b % 3);
    for (std::size_t k = 0; k < layout.hardware_dims; ++k)
      data.batch.hardware(b, k) = 0.5f;
    data.labels.push_back(static_cast<float>(sum / static_cast<double>(length)));
    data.tasks.push_back(static_cast<std::uint32_t>(b % 3));
  }
  return data;
}
}  // namespace

int main(int argc, char** argv) {
  namespace model = crosstune::model;
  using crosstune::features::FeatureLayout;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s XGB_CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  struct Seed {
    const char* name;
    FeatureLayout layout;
    int max_depth;
    std::size_t rounds_per_epoch, epochs;
    model::Loss loss;
  };
  bool ok = true;
  std::string ensemble_of_first;
  for (const auto& s : {Seed{"ranker-depth2.bin", {"steps", 1, 2, 3, 1, 1}, 2, 2, 1, model::Loss::rank},
                        Seed{"regressor-depth3.bin", {"steps", 1, 3, 2, 1, 0}, 3, 1, 1, model::Loss::mse},
                        Seed{"stumps-3rounds.bin", {"s", 2, 2, 1, 0, 1}, 1, 3, 1, model::Loss::mse},
                        Seed{"no-trees.bin", {"steps", 1, 2, 2, 1, 1}, 2, 2, 0, model::Loss::rank}}) {
    const Data data = make_data(s.layout);
    const model::LabelledBatch train{&data.batch, data.labels, data.tasks};
    model::XgbModel xgb(s.layout, {.max_depth = s.max_depth, .rounds_per_epoch = s.rounds_per_epoch});
    crosstune::Rng rng(1);
    if (!xgb.fit(train, nullptr, {.epochs = s.epochs, .loss = s.loss, .threads = 1}, rng)) return 1;
    const std::string bytes = xgb.serialize();
    ok = crosstune::fuzz::write_seed(dir / s.name, bytes) && ok;
    if (ensemble_of_first.empty()) {
      // The file's tail: the ensemble, then the 8-byte checksum; its size is the u64 just before it.
      std::uint64_t size = 0;
      for (std::size_t at = 8; at + 16 <= bytes.size() && ensemble_of_first.empty(); ++at) {
        std::memcpy(&size, bytes.data() + at, 8);
        if (size > 0 && size == bytes.size() - 16 - at) ensemble_of_first = bytes.substr(at + 8, size);
      }
    }
  }
  ok = crosstune::fuzz::write_seed(dir / "untrained.bin",
                                   model::XgbModel({"steps", 1, 2, 2, 1, 1}).serialize()) &&
       ok;
  ok = crosstune::fuzz::write_seed(dir / "ensemble-ranker-depth2.ubj", ensemble_of_first) && ok;
  return ok ? 0 : 1;
}
