// bench_features — step-sequence features of every record of the corpus ($CROSSTUNE_BENCH_LOGS, default
// the shipped sample), crosstune's batched extractor against a straightforward per-record version in the
// same binary (a std::vector<std::vector<float>> per record, then copied into the padded batch).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "bench_corpus.hpp"
#include "crosstune/features/step_sequence_extractor.hpp"
#include "crosstune/hw/presets.hpp"
#include "crosstune/io/log_reader.hpp"

namespace {

const std::vector<crosstune::Record>& corpus() {
  static const std::vector<crosstune::Record> records = [] {
    const auto files = crosstune::bench::corpus_files();
    std::vector<crosstune::Record> out;
    for (const auto& f : files) {
      auto r = crosstune::io::read_log_file(f, {.allow_empty = true});
      out.insert(out.end(), r->begin(), r->end());
    }
    return out;
  }();
  return records;
}

void BM_crosstune_extract(benchmark::State& state) {
  const auto& records = corpus();
  crosstune::features::StepSequenceExtractor extractor({.max_steps = 64, .parallel = state.range(0) != 0});
  crosstune::features::FeatureBatch batch;
  constexpr std::size_t chunk = 4096;  // batches as a training loop or the CLI uses them
  for (auto _ : state) {
    for (std::size_t i = 0; i < records.size(); i += chunk) {
      const std::span<const crosstune::Record> part(records.data() + i, std::min(chunk, records.size() - i));
      if (!extractor.extract(part, crosstune::hw::presets::v100, batch))
        state.SkipWithError("extract failed");
      benchmark::DoNotOptimize(batch.steps.data());
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records.size()));
}
BENCHMARK(BM_crosstune_extract)
    ->Arg(0)
    ->Arg(1)
    ->ArgName("parallel")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The straightforward version: per record, a vector of step vectors (one heap allocation per step), the
// workload key parsed again for every record, then copied into the padded batch.
void BM_naive_per_record_vectors(benchmark::State& state) {
  const auto& records = corpus();
  constexpr std::size_t S = 64, D = crosstune::features::step_dims, W = crosstune::features::workload_dims;
  std::vector<float> steps, workload;
  for (auto _ : state) {
    steps.assign(records.size() * S * D, 0.0f);
    workload.assign(records.size() * W, 0.0f);
    for (std::size_t i = 0; i < records.size(); ++i) {
      const auto& r = records[i];
      std::vector<std::vector<float>> rows;
      for (std::size_t s = 0; s < r.steps.size(); ++s) {
        std::vector<float> row(D);
        crosstune::features::encode_step(r.steps[s], s, r.steps.size(), row.data());
        rows.push_back(std::move(row));
      }
      for (std::size_t s = 0; s < std::min(rows.size(), S); ++s)
        std::copy(rows[s].begin(), rows[s].end(),
                  steps.begin() + static_cast<std::ptrdiff_t>((i * S + s) * D));
      const auto key = crosstune::parse_workload_key(r.task->workload_key);
      std::vector<float> w(W);
      crosstune::features::encode_workload(crosstune::data::describe_workload(r.task->workload_key),
                                           key ? &*key : nullptr, w.data());
      std::copy(w.begin(), w.end(), workload.begin() + static_cast<std::ptrdiff_t>(i * W));
    }
    benchmark::DoNotOptimize(steps.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records.size()));
}
BENCHMARK(BM_naive_per_record_vectors)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
