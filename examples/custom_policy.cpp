// custom_policy [N=96] [trials=32] — a user's own hardware descriptor (with a field crosstune does not
// know: the DRAM bandwidth) and a user's own feature extractor (that reads it), dropped into search::Tuner
// next to crosstune's sampler, model, measurer and search policy. Nothing in crosstune's headers changes:
// the Tuner checks each policy against its concept and hands the descriptor itself to the extractor.
#include <cstdio>
#include <string>

#include "crosstune/data/samplers.hpp"
#include "crosstune/features/step_sequence_extractor.hpp"
#include "crosstune/hw/host_probe.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/measure/local_measurer.hpp"
#include "crosstune/model/mlp.hpp"
#include "crosstune/search/evolutionary_search.hpp"
#include "crosstune/search/tuner.hpp"

/// This machine, plus its memory bandwidth (a HardwareDescriptor: params() is all the concept asks).
struct MyCpu {
  crosstune::hw::HardwareParams base;
  double dram_gbps = 0;
  [[nodiscard]] crosstune::hw::HardwareParams params() const { return base; }
};

/// crosstune's step features, with the bandwidth as one more hardware column (a FeatureExtractorFor<MyCpu>).
class StepsAndBandwidth {
 public:
  [[nodiscard]] crosstune::features::FeatureLayout layout() const {
    auto layout = steps_.layout();
    layout.name = "steps+bandwidth";
    layout.hardware_dims += 1;
    return layout;
  }
  crosstune::Expected<void> extract(std::span<const crosstune::Record> records, const MyCpu& cpu,
                                    crosstune::features::FeatureBatch& batch) {
    if (auto ok = steps_.extract(records, cpu.params(), inner_); !ok) return ok;
    batch.reshape(records.size(), layout());
    batch.steps = inner_.steps;
    batch.mask = inner_.mask;
    batch.workload = inner_.workload;
    batch.lengths = inner_.lengths;
    batch.truncated = inner_.truncated;
    const std::size_t h = inner_.hardware.shape()[1];
    for (std::size_t i = 0; i < records.size(); ++i) {
      for (std::size_t j = 0; j < h; ++j) batch.hardware(i, j) = inner_.hardware(i, j);
      batch.hardware(i, h) = static_cast<float>(cpu.dram_gbps / 100.0);
    }
    return {};
  }

 private:
  crosstune::features::StepSequenceExtractor steps_;
  crosstune::features::FeatureBatch inner_;
};

int main(int argc, char** argv) {
  using namespace crosstune;
  const std::int64_t n = argc > 1 ? std::stoll(argv[1]) : 96;
  const std::size_t trials = argc > 2 ? std::stoul(argv[2]) : 32;
  const MyCpu cpu{hw::probe_host().params, 80.0};
  StepsAndBandwidth extractor;
  model::MlpModel model(extractor.layout(), 64);
  measure::LocalMeasurerOptions measuring;
  measuring.run.timing.repeat = 2;
  auto measurer = measure::LocalMeasurer::make(measuring);
  if (!measurer) {
    std::fprintf(stderr, "%s\n", measurer.error().describe().c_str());
    return 1;
  }
  search::Tuner tuner(std::move(extractor), cpu, data::UniformSampler{1.0}, std::move(model), std::move(*measurer),
                      search::EvolutionarySearch({.population = 256, .iterations = 2}), {.measures_per_round = 16});
  const std::vector<search::TuneTask> tasks = {{std::make_shared<const ir::ComputeDag>(ir::matmul(n, n, n).value()), 1, "matmul"}};
  auto result = tuner.tune(tasks, {.trials = trials});
  if (!result) {
    std::fprintf(stderr, "%s\n", result.error().describe().c_str());
    return 1;
  }
  const auto& t = result->tasks.front();
  std::printf("%zu trials in %.1f s: best %.4f ms, %.1f GFLOP/s; the model %s the search\n", result->trials, result->seconds,
              t.best_seconds * 1e3, t.gflops(), tuner.model_ready() ? "guided" : "did not yet guide");
  return t.best ? 0 : 1;
}
