// bench_cost_model — the BiLSTM-attention cost model's inference and training step, at the shape the
// peers run (bench/peers/torch_bilstm_attention.py builds the same network in PyTorch): 32 steps of 64
// features per candidate, every step real (PyTorch runs padded steps too), workload 8 and hardware 8
// features, embedding 64, hidden 128, 3 BiLSTM layers, 2 attention heads, head 64. Both read the same
// kind of uniform random inputs; candidates/s is what to compare.
#include <benchmark/benchmark.h>

#include <vector>

#include "crosstune/core/rng.hpp"
#include "crosstune/model/bilstm_attention.hpp"
#include "crosstune/model/parallel.hpp"

namespace {

using crosstune::model::BiLstmAttentionConfig;
using crosstune::model::BiLstmAttentionNet;

constexpr std::size_t steps = 32, step_dims = 64, workload_dims = 8, hardware_dims = 8;

BiLstmAttentionConfig shape() {
  BiLstmAttentionConfig c;
  c.step_dims = step_dims;
  c.workload_dims = workload_dims;
  c.hardware_dims = hardware_dims;
  c.embedding = 64;
  c.hidden = 128;
  c.layers = 3;
  c.heads = 2;
  c.head_hidden = 64;
  return c;
}

crosstune::features::FeatureBatch inputs(std::size_t n, crosstune::Rng& rng) {
  crosstune::features::FeatureBatch batch;
  batch.reshape(n, {"bench", 1, step_dims, steps, workload_dims, hardware_dims});
  auto fill = [&](auto& tensor) {
    for (auto& v : tensor)
      v = static_cast<float>(rng.uniform01());
  };
  fill(batch.steps);
  fill(batch.workload);
  fill(batch.hardware);
  batch.mask.fill(1.0f);
  for (auto& l : batch.lengths)
    l = steps;
  for (auto& t : batch.truncated)
    t = 0;
  return batch;
}

// Args: candidates per call, threads, candidates per forward pass (Predictor's chunk).
void BM_crosstune_predict(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  crosstune::Rng rng(1);
  BiLstmAttentionNet<float> net(shape(), rng);
  const auto batch = inputs(n, rng);
  std::vector<float> scores(n);
  crosstune::model::Predictor<BiLstmAttentionNet<float>> predictor(static_cast<std::size_t>(state.range(1)),
                                                                   static_cast<std::size_t>(state.range(2)));
  predictor.predict(net, batch, scores);  // warm-up
  for (auto _ : state) {
    predictor.predict(net, batch, scores);
    benchmark::DoNotOptimize(scores.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(BM_crosstune_predict)
    ->ArgsProduct({{1, 64, 512, 4096}, {1, 2}, {64, 256}})
    ->ArgNames({"batch", "threads", "chunk"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One optimisation step (forward, MSE + pairwise rank loss, backward, clipping, Adam). Args: batch, threads.
void BM_crosstune_train_step(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  crosstune::Rng rng(2);
  BiLstmAttentionNet<float> net(shape(), rng);
  const auto batch = inputs(n, rng);
  std::vector<float> labels(n);
  for (auto& l : labels)
    l = static_cast<float>(rng.uniform01());
  const std::vector<std::uint32_t> tasks(n, 0);
  crosstune::model::TrainStep step(net, {}, static_cast<std::size_t>(state.range(1)));
  (void)step.run(batch, labels, tasks);  // warm-up
  for (auto _ : state)
    benchmark::DoNotOptimize(step.run(batch, labels, tasks));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(BM_crosstune_train_step)
    ->ArgsProduct({{16, 256}, {1, 2}})
    ->ArgNames({"batch", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
