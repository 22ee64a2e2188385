// bench_dataset — building a Dataset from logs, and computing the ranking metrics.
//
// Corpus: $CROSSTUNE_BENCH_LOGS (default: the shipped sample tests/data/ansor-logs; use
// ../shared/data/ansor-logs for all public logs). Timed separately:
//  * load: read (in parallel over files), group into (workload, hardware) tasks and label;
//  * group: grouping and labelling alone, from records already parsed (the Dataset's own work);
//  * metrics: PCA, top-1/5/10, RMSE and Kendall's tau for a random model over 100 000 records
//    (in tasks of the corpus' sizes).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "bench_corpus.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/data/dataset.hpp"
#include "crosstune/io/log_writer.hpp"
#include "crosstune/metrics/ranking.hpp"

namespace {

using crosstune::bench::corpus_files;

void BM_dataset_load(benchmark::State& state) {
  const auto files = corpus_files();
  std::size_t records = 0;
  for (auto _ : state) {
    auto ds = crosstune::data::Dataset::load(files);
    if (!ds) state.SkipWithError("load failed");
    records = ds->stats().records_read;
    benchmark::DoNotOptimize(ds->tasks().data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records));
}
BENCHMARK(BM_dataset_load)->Unit(benchmark::kMillisecond)->UseRealTime();

// Grouping and labelling alone, from records parsed beforehand (Dataset::from_records copies them in).
void BM_dataset_group_and_label(benchmark::State& state) {
  const auto files = corpus_files();
  std::vector<crosstune::data::LogSource> sources;
  for (const auto& f : files)
    sources.push_back({f, {}});
  // Parse once; the benchmark loop regroups the parsed records.
  std::vector<std::vector<crosstune::Record>> parsed;
  for (const auto& f : files) {
    auto r = crosstune::io::read_log_file(f, {.allow_empty = true});
    parsed.push_back(std::move(*r));
  }
  std::size_t records = 0;
  for (const auto& p : parsed)
    records += p.size();
  for (auto _ : state) {
    auto ds = crosstune::data::Dataset::from_records(parsed, sources);
    if (!ds) state.SkipWithError("grouping failed");
    benchmark::DoNotOptimize(ds->tasks().data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records));
}
BENCHMARK(BM_dataset_group_and_label)->Unit(benchmark::kMillisecond);

// A random model's scores for 100 000 records in tasks of 1 000 (the median task of the public logs
// has 576 records, the K80/V100 ones about 1 000).
struct RandomScores {
  std::vector<float> predictions, labels;
  std::vector<std::size_t> offsets;
  explicit RandomScores(std::uint64_t seed, std::size_t n = 100000, std::size_t task_size = 1000)
      : predictions(n), labels(n) {
    crosstune::Rng rng(seed);
    for (std::size_t i = 0; i < n; ++i) {
      predictions[i] = static_cast<float>(rng.uniform01());
      labels[i] = static_cast<float>(rng.uniform01());
    }
    for (std::size_t o = 0; o <= n; o += task_size)
      offsets.push_back(o);
  }
};

void BM_metrics_random_model_100k(benchmark::State& state) {
  const RandomScores scores(0);
  const auto& [predictions, labels, offsets] = scores;
  const std::size_t n = predictions.size();
  for (auto _ : state) {
    auto report = crosstune::metrics::evaluate_ranking(predictions, labels, offsets);
    benchmark::DoNotOptimize(report->pairwise_comparison_accuracy);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(BM_metrics_random_model_100k)->Unit(benchmark::kMillisecond);

void BM_pca_only_100k(benchmark::State& state) {
  const RandomScores scores(1);
  const auto& [predictions, labels, offsets] = scores;
  const std::size_t n = predictions.size();
  for (auto _ : state)
    benchmark::DoNotOptimize(*crosstune::metrics::pairwise_comparison_accuracy(predictions, labels, offsets));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(BM_pca_only_100k)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
