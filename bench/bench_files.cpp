// bench_files — what crash-safe writing costs: model files and tuning logs.
//
// A model file is written three ways: in place (std::ofstream truncating the file, what crosstune did
// before io::AtomicFile, kept as the peer), and through io::write_file_atomically without and with the
// syncs (temporary, rename; with Durability::sync an fsync of the data and of the folder too). The size is
// the shipped models/pretrained-gpu.bin. A log of tuning records is appended with each FlushPolicy:
// buffered, each record handed to the OS, each record synced (what a measurer appending results uses).
// Files go to $CROSSTUNE_BENCH_DIR, default build/bench-files, on the disk the build lives on: the sync
// figures are the device's, not the library's. Times are wall-clock (UseRealTime): waiting for the device is
// the cost.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_corpus.hpp"
#include "crosstune/io/atomic_file.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/io/log_writer.hpp"

namespace {

std::filesystem::path bench_dir() {
  const char* env = std::getenv("CROSSTUNE_BENCH_DIR");
  std::filesystem::path dir = env ? env : "build/bench-files";
  std::filesystem::create_directories(dir);
  return dir;
}

const std::string& model_bytes() {
  static const std::string bytes(980509, '\x5a');  // the size of models/pretrained-gpu.bin
  return bytes;
}

const std::vector<crosstune::Record>& records() {
  static const std::vector<crosstune::Record> all = [] {
    auto r = crosstune::io::read_log_file(crosstune::bench::corpus_files().front());
    return r ? *r : std::vector<crosstune::Record>{};
  }();
  return all;
}

void BM_model_file_in_place(benchmark::State& state) {
  const auto path = bench_dir() / "in_place.bin";
  for (auto _ : state) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(model_bytes().data(), static_cast<std::streamsize>(model_bytes().size()));
    out.close();
    if (!out) state.SkipWithError("write failed");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * model_bytes().size()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_model_file_in_place)->Unit(benchmark::kMillisecond)->UseRealTime();

/// io::write_file_atomically with the given durability (sync: fsync of the data and of the folder).
void BM_crosstune_model_file_atomic(benchmark::State& state, crosstune::io::Durability durability) {
  const auto path = bench_dir() / "atomic.bin";
  for (auto _ : state)
    if (!crosstune::io::write_file_atomically(path, model_bytes(), durability))
      state.SkipWithError("write failed");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * model_bytes().size()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_crosstune_model_file_atomic, synced, crosstune::io::Durability::sync)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_crosstune_model_file_atomic, no_sync, crosstune::io::Durability::no_sync)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

/// Appends the corpus' first log, 256 records, with the given policy; items are records.
void BM_log_append(benchmark::State& state, crosstune::io::FlushPolicy policy) {
  const auto path = bench_dir() / "append.json";
  const auto& all = records();
  const std::size_t n = std::min<std::size_t>(all.size(), 256);
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove(path);
    state.ResumeTiming();
    auto writer = crosstune::io::LogWriter::open(path, crosstune::io::WriteMode::append, policy);
    if (!writer) {
      state.SkipWithError("open failed");
      break;
    }
    for (std::size_t i = 0; i < n; ++i)
      if (!writer->write(all[i])) state.SkipWithError("write failed");
    if (!writer->close()) state.SkipWithError("close failed");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK_CAPTURE(BM_log_append, buffered, crosstune::io::FlushPolicy::buffered)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_log_append, each_record, crosstune::io::FlushPolicy::each_record)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_log_append, each_record_synced, crosstune::io::FlushPolicy::each_record_synced)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
