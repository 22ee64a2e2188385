// Must NOT compile: the type has extract() but no layout(), so it is not a FeatureExtractor.
#include "crosstune/concepts.hpp"

struct NotAnExtractor {
  crosstune::Expected<void> extract(std::span<const crosstune::Record>, const crosstune::hw::HardwareParams&,
                                    crosstune::features::FeatureBatch&) {
    return {};
  }
};

int main() {
  NotAnExtractor e;
  crosstune::features::FeatureBatch batch;
  return crosstune::extract_features(e, {}, crosstune::hw::HardwareParams{}, batch) ? 0 : 1;
}
