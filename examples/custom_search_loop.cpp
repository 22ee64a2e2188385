// custom_search_loop [N=128] [rounds=4] — an embedder's own loop over crosstune's parts, without search::Tuner:
// sketches → search policy guided by a cost model → C++ → measurer → the model learns; an N³ matmul here.
#include <cmath>
#include <cstdio>
#include <limits>
#include <unordered_set>
#include <vector>

#include "crosstune/codegen/cpu.hpp"
#include "crosstune/codegen/lower.hpp"
#include "crosstune/features/step_sequence_extractor.hpp"
#include "crosstune/hw/host_probe.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/measure/local_measurer.hpp"
#include "crosstune/model/mlp.hpp"
#include "crosstune/search/evolutionary_search.hpp"

int main(int argc, char** argv) {
  using namespace crosstune;
  const std::int64_t n = argc > 1 ? std::stoll(argv[1]) : 128;
  const int rounds = argc > 2 ? std::stoi(argv[2]) : 4;
  const hw::HardwareParams host = hw::probe_host().params;
  auto dag = std::make_shared<const ir::ComputeDag>(ir::matmul(n, n, n).value());
  const auto space = schedule::CpuSketchSpace::make(dag, schedule::CpuSketchOptions::from(host)).value();

  // Every candidate runs on the same inputs and is checked against the unscheduled loop nest.
  const auto plain = codegen::lower(schedule::State(dag)).value();
  auto measurer = measure::LocalMeasurer::make({}).value();
  measurer.set_task({codegen::kernel_signature(plain), 1, codegen::kernel_source(plain, {.function_name = "reference"}), {}}).value();

  auto task = std::make_shared<Task>();  // what the records say was tuned, and on what
  task->workload_key = dag->workload_key();
  task->target = Target("llvm -keys=cpu -num-cores=" + std::to_string(host.num_cores));
  auto record_of = [&](const schedule::CpuCandidate& c) { return Record{task, space.apply(c).value().steps(), {}, {}}; };

  features::StepSequenceExtractor extractor;
  model::MlpModel model(extractor.layout(), 64);
  search::EvolutionarySearch policy({.population = 256, .iterations = 2});
  std::vector<Record> history;
  std::unordered_set<std::uint64_t> seen;
  features::FeatureBatch batch;
  double best = std::numeric_limits<double>::infinity();
  Rng rng(0);
  search::SearchContext context{.space = &space, .measured = [&](const schedule::CpuCandidate& c) { return seen.contains(c.hash()); }};
  for (int round = 1; round <= rounds; ++round) {
    const auto asked = policy.ask(context, 16, rng);
    std::vector<measure::Candidate> kernels;
    for (const auto& c : asked) {
      const auto nest = codegen::lower(space.apply(c).value()).value();
      kernels.push_back({codegen::kernel_source(nest, {.function_name = "k" + std::to_string(kernels.size())}), record_of(c)});
    }
    const auto measured = measurer.measure(kernels);
    std::vector<double> seconds;
    for (const auto& m : measured.measurements) {
      seconds.push_back(m.ok() ? m.record.result.mean_cost_seconds() : std::numeric_limits<double>::infinity());
      if (m.ok()) history.push_back(m.record);
      best = std::min(best, seconds.back());
    }
    for (const auto& c : asked) seen.insert(c.hash());
    policy.tell(context, std::span(asked).first(seconds.size()), seconds);

    // The model learns the measurements so far (label: best cost / cost) and guides the next round.
    std::vector<float> labels;
    for (const auto& r : history) labels.push_back(static_cast<float>(best / r.result.mean_cost_seconds()));
    const std::vector<std::uint32_t> tasks(history.size(), 0);
    extractor.extract(history, host, batch).value();
    if (!model.fit({&batch, labels, tasks}, nullptr, {.epochs = 10, .patience = 0}, rng)) return 1;
    context.score = [&](std::span<const schedule::CpuCandidate> candidates, std::span<float> scores) {
      std::vector<Record> records;
      for (const auto& c : candidates) records.push_back(record_of(c));
      features::FeatureBatch features;
      extractor.extract(records, host, features).value();
      model.predict(features, scores).value();
    };
    std::printf("round %d: %zu measured, best %.1f GFLOP/s\n", round, measured.measurements.size(),
                static_cast<double>(dag->flops()) / best * 1e-9);
  }
  return std::isfinite(best) ? 0 : 1;
}
