// bench_log_io — how fast Ansor / TVM auto_scheduler logs are read into Records and written back.
//
// Corpus: the logs under $CROSSTUNE_BENCH_LOGS, default the shipped sample tests/data/ansor-logs
// (set CROSSTUNE_BENCH_LOGS=../shared/data/ansor-logs for all public logs). Lines are decompressed into
// memory first, so MB/s is of uncompressed JSON and measures parsing alone, on one core.
//
// Peers, in the same binary when installed (bench/install-peers.sh): nlohmann::json DOM parse of each
// line (alone, and followed by conversion into a Record) and simdjson's DOM parse of each line.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_corpus.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/io/record_format.hpp"
#include "crosstune/io/record_parser.hpp"

#ifdef CROSSTUNE_BENCH_NLOHMANN
#include <nlohmann/json.hpp>
#endif
#ifdef CROSSTUNE_BENCH_SIMDJSON
#include <simdjson.h>
#endif

namespace {

struct Corpus {
  std::vector<std::filesystem::path> files;
  std::vector<std::string> lines;
  std::size_t bytes = 0;  // uncompressed, newlines included
};

const Corpus& corpus() {
  static const Corpus c = [] {
    Corpus out;
    const std::filesystem::path root = crosstune::bench::corpus_root();
    out.files = crosstune::bench::corpus_files();
    for (const auto& f : out.files) {
      auto source = crosstune::detail::LineSource::open_file(f, std::size_t{64} << 20);
      if (!source) continue;
      std::string_view line;
      while (true) {
        auto more = source->next(line);
        if (!more || !*more) break;
        if (line.empty()) continue;
        out.lines.emplace_back(line);
        out.bytes += line.size() + 1;
      }
    }
    std::fprintf(stderr, "corpus: %s: %zu files, %zu records, %.1f MB uncompressed\n", root.c_str(),
                 out.files.size(), out.lines.size(), static_cast<double>(out.bytes) / 1e6);
    return out;
  }();
  return c;
}

void report(benchmark::State& state, std::size_t bytes, std::size_t records) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records));
  state.counters["MB/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * bytes) / 1e6, benchmark::Counter::kIsRate);
}

// Full parse of every line into a Record (task, all steps, result), reusing one Record.
void BM_crosstune_parse_lines(benchmark::State& state) {
  const auto& c = corpus();
  crosstune::Record record;
  for (auto _ : state) {
    crosstune::io::RecordParser parser;  // fresh task cache each pass, as for a new file
    for (const auto& line : c.lines) {
      if (!parser.parse(line, record)) state.SkipWithError("parse failed");
      benchmark::DoNotOptimize(record.steps.size());
    }
  }
  report(state, c.bytes, c.lines.size());
}
BENCHMARK(BM_crosstune_parse_lines)->Unit(benchmark::kMillisecond);

// The reader over the same text in memory: line splitting, blank/comment handling, counting, and every
// Record kept in a vector, as read_log_file does (parsed into a reused Record, then copied to its exact
// size: four allocations per record instead of a dozen vector regrowths).
void BM_crosstune_reader_into_vector(benchmark::State& state) {
  const auto& c = corpus();
  std::string text;
  for (const auto& line : c.lines)
    (text += line) += '\n';
  for (auto _ : state) {
    auto reader = crosstune::io::LogReader::from_string(text);
    std::vector<crosstune::Record> records;
    records.reserve(c.lines.size());
    crosstune::Record record;
    while (*reader.next(record))
      records.push_back(record);
    benchmark::DoNotOptimize(records.data());
  }
  report(state, c.bytes, c.lines.size());
}
BENCHMARK(BM_crosstune_reader_into_vector)->Unit(benchmark::kMillisecond);

// Reading the .json.gz files from disk, decompression included (MB/s of uncompressed JSON).
void BM_crosstune_read_gzip_files(benchmark::State& state) {
  const auto& c = corpus();
  for (auto _ : state) {
    crosstune::Record record;
    for (const auto& f : c.files) {
      auto reader = crosstune::io::LogReader::open(f, {.allow_empty = true});
      while (*reader->next(record))
        benchmark::DoNotOptimize(record.steps.size());
    }
  }
  report(state, c.bytes, c.lines.size());
}
BENCHMARK(BM_crosstune_read_gzip_files)->Unit(benchmark::kMillisecond);

// Writing every record back as a log line.
void BM_crosstune_write_lines(benchmark::State& state) {
  const auto& c = corpus();
  std::vector<crosstune::Record> records(c.lines.size());
  crosstune::io::RecordParser parser;
  for (std::size_t i = 0; i < c.lines.size(); ++i)
    parser.parse(c.lines[i], records[i]).value();
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (const auto& r : records) {
      if (!crosstune::io::append_record_line(out, r)) state.SkipWithError("write failed");
      out.push_back('\n');
    }
    benchmark::DoNotOptimize(out.data());
  }
  report(state, c.bytes, c.lines.size());
}
BENCHMARK(BM_crosstune_write_lines)->Unit(benchmark::kMillisecond);

#ifdef CROSSTUNE_BENCH_NLOHMANN
// Peer: nlohmann::json DOM parse of each line (tokenising and building the DOM only).
void BM_nlohmann_dom_parse(benchmark::State& state) {
  const auto& c = corpus();
  for (auto _ : state) {
    for (const auto& line : c.lines) {
      auto doc = nlohmann::json::parse(line);
      benchmark::DoNotOptimize(doc.size());
    }
  }
  report(state, c.bytes, c.lines.size());
}
BENCHMARK(BM_nlohmann_dom_parse)->Unit(benchmark::kMillisecond);

// Peer: the straightforward way to get Records with nlohmann: DOM parse, then convert.
void BM_nlohmann_dom_to_record(benchmark::State& state) {
  using crosstune::StepKind;
  const auto& c = corpus();
  crosstune::Record record;
  std::vector<std::int64_t> list;
  for (auto _ : state) {
    for (const auto& line : c.lines) {
      const auto doc = nlohmann::json::parse(line);
      const auto& input = doc.at("i");
      const auto& t = input.at(0);
      auto task = std::make_shared<crosstune::Task>();
      task->workload_key = t.at(0).get<std::string>();
      task->target = crosstune::Target(t.at(1).get<std::string>());
      task->fields_in_log = static_cast<int>(t.size());
      if (t.size() > 2) {
        std::array<std::int64_t, 8> hw{};
        for (std::size_t i = 0; i < 8; ++i)
          hw[i] = t.at(2).at(i).get<std::int64_t>();
        task->hardware_params = crosstune::RecordedHardwareParams::from_array(hw);
      }
      if (t.size() > 3) task->target_host = t.at(3).get<std::string>();
      record.task = std::move(task);
      record.steps.clear();
      for (const auto& s : input.at(1).at(1)) {
        const auto kind = *crosstune::step_kind_from_prefix(s.at(0).get<std::string>());
        const auto stage = s.at(1).get<std::int64_t>();
        auto ints = [&](std::size_t i) { return s.at(i).get<std::int64_t>(); };
        auto ids = [&](std::size_t i) -> std::span<const std::int64_t> {
          list.clear();
          for (const auto& v : s.at(i))
            list.push_back(v.get<std::int64_t>());
          return list;
        };
        switch (kind) {
          case StepKind::annotation:
            record.steps.add_annotation(stage, ints(2), static_cast<crosstune::IteratorAnnotation>(ints(3)));
            break;
          case StepKind::fuse: record.steps.add_fuse(stage, ids(2)); break;
          case StepKind::pragma: record.steps.add_pragma(stage, ints(2), s.at(3).get<std::string>()); break;
          case StepKind::reorder: record.steps.add_reorder(stage, ids(2)); break;
          case StepKind::split: record.steps.add_split(stage, ints(2), ints(3), ids(4), ints(5) != 0); break;
          case StepKind::follow_split: record.steps.add_follow_split(stage, ints(2), ints(3), ints(4)); break;
          case StepKind::follow_fused_split:
            record.steps.add_follow_fused_split(stage, ints(2), ids(3), ints(4), ints(5) != 0);
            break;
          case StepKind::storage_align:
            record.steps.add_storage_align(stage, ints(2), ints(3), ints(4));
            break;
          case StepKind::compute_at: record.steps.add_compute_at(stage, ints(2), ints(3)); break;
          case StepKind::compute_inline: record.steps.add_compute_inline(stage); break;
          case StepKind::compute_root: record.steps.add_compute_root(stage); break;
          case StepKind::cache_read:
            record.steps.add_cache_read(stage, s.at(2).get<std::string>(), ids(3));
            break;
          case StepKind::cache_write: record.steps.add_cache_write(stage, s.at(2).get<std::string>()); break;
          case StepKind::rfactor: record.steps.add_rfactor(stage, ints(2), ints(3)); break;
        }
      }
      const auto& r = doc.at("r");
      record.result.costs_seconds = r.at(0).get<std::vector<double>>();
      record.result.error = static_cast<crosstune::ErrorCode>(r.at(1).get<int>());
      record.result.all_cost_seconds = r.at(2).get<double>();
      record.result.timestamp = r.at(3).get<double>();
      record.version = doc.value("v", std::string{});
      benchmark::DoNotOptimize(record.steps.size());
    }
  }
  report(state, c.bytes, c.lines.size());
}
BENCHMARK(BM_nlohmann_dom_to_record)->Unit(benchmark::kMillisecond);
#endif

#ifdef CROSSTUNE_BENCH_SIMDJSON
// Peer: simdjson's DOM parse of each line (tokenising and tape building only, no Record).
void BM_simdjson_dom_parse(benchmark::State& state) {
  const auto& c = corpus();
  std::vector<simdjson::padded_string> padded;
  padded.reserve(c.lines.size());
  for (const auto& line : c.lines)
    padded.emplace_back(line);
  simdjson::dom::parser parser;
  for (auto _ : state) {
    for (const auto& line : padded) {
      simdjson::dom::element doc;
      if (parser.parse(line).get(doc) != simdjson::SUCCESS) state.SkipWithError("simdjson failed");
      benchmark::DoNotOptimize(doc);
    }
  }
  report(state, c.bytes, c.lines.size());
}
BENCHMARK(BM_simdjson_dom_parse)->Unit(benchmark::kMillisecond);
#endif

}  // namespace

BENCHMARK_MAIN();
