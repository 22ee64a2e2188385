// Must NOT compile: the Tuner is given a feature extractor whose extract() takes neither the hardware
// descriptor's type nor hw::HardwareParams; the Tuner names the broken policy.
#include "crosstune/data/samplers.hpp"
#include "crosstune/measure/local_measurer.hpp"
#include "crosstune/model/mlp.hpp"
#include "crosstune/search/tuner.hpp"

struct Board {
  crosstune::hw::HardwareParams params() const { return {}; }
};
struct OtherBoard {};
struct ExtractorForOtherBoard {
  crosstune::features::FeatureLayout layout() const { return {}; }
  crosstune::Expected<void> extract(std::span<const crosstune::Record>, const OtherBoard&, crosstune::features::FeatureBatch&) {
    return {};
  }
};

int main() {
  auto model = crosstune::model::MlpModel::make({}).value();
  auto measurer = crosstune::measure::LocalMeasurer::make({}).value();
  crosstune::search::Tuner tuner(ExtractorForOtherBoard{}, Board{}, crosstune::data::UniformSampler{}, std::move(model),
                                 std::move(measurer), crosstune::search::RandomSearch{});
  (void)tuner;
}
