// Must NOT compile: the type predicts, fits and saves, but does not say which options its fit() takes
// (the member type train_options), so it is not a CostModel.
#include "crosstune/concepts.hpp"

struct NoOptionsType {
  crosstune::features::FeatureLayout layout() const { return {}; }
  crosstune::Expected<void> predict(const crosstune::features::FeatureBatch&, std::span<float>) { return {}; }
  crosstune::Expected<crosstune::model::TrainReport> fit(const crosstune::model::LabelledBatch&, const crosstune::model::LabelledBatch*,
                                                         const crosstune::model::TrainOptions&, crosstune::Rng&) {
    return crosstune::model::TrainReport{};
  }
  crosstune::Expected<void> save(const std::filesystem::path&) { return {}; }
};

int main() { return crosstune::require_cost_model<NoOptionsType>() ? 0 : 1; }
