// Must NOT compile: the type can fit and save but not predict, so it is not a CostModel.
#include "crosstune/concepts.hpp"

struct NotAModel {
  using train_options = crosstune::model::TrainOptions;
  crosstune::features::FeatureLayout layout() const { return {}; }
  crosstune::Expected<crosstune::model::TrainReport> fit(const crosstune::model::LabelledBatch&,
                                                         const crosstune::model::LabelledBatch*,
                                                         const crosstune::model::TrainOptions&,
                                                         crosstune::Rng&) {
    return crosstune::model::TrainReport{};
  }
  crosstune::Expected<void> save(const std::filesystem::path&) { return {}; }
};

int main() {
  return crosstune::require_cost_model<NotAModel>() ? 0 : 1;
}
