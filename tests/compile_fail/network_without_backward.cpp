// Must NOT compile: the network scores but cannot be trained (no backward()), so model::train refuses it.
#include "crosstune/model/trainer.hpp"

struct ScoresOnly {
  using scalar_type = float;
  crosstune::model::Matrix<float> out = crosstune::model::Matrix<float>::Zero(1, 1);
  const crosstune::model::Matrix<float>& forward(const crosstune::features::FeatureBatch&, std::size_t, std::size_t) { return out; }
  const crosstune::model::Matrix<float>& score(const crosstune::features::FeatureBatch&, std::size_t, std::size_t) { return out; }
  void zero_grad() {}
  std::vector<int> parameters() { return {}; }
};

int main() {
  ScoresOnly net;
  crosstune::features::FeatureBatch batch;
  std::vector<float> scores;
  crosstune::model::predict(net, batch, scores);
}
