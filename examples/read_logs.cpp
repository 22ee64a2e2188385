// Example: read a tuning log, print the best schedule of each task, and write those best records to a
// new log (the "apply history best" step of a tuner).
//
//   example_read_logs tests/data/ansor-logs/k80/ansor_matmul_128_4032_1000.json.gz best.json
#include <cstdio>
#include <map>
#include <string>

#include "crosstune/io/log_reader.hpp"
#include "crosstune/io/log_writer.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s LOG OUT.json\n", argv[0]);
    return 2;
  }
  auto records = crosstune::io::read_log_file(argv[1]);
  if (!records) {
    std::fprintf(stderr, "%s\n", records.error().describe().c_str());
    return 1;
  }
  // Best valid record per task; the Task pointers are shared, so they identify tasks.
  std::map<const crosstune::Task*, const crosstune::Record*> best;
  for (const auto& r : *records) {
    if (!r.result.ok()) continue;
    auto& slot = best[r.task.get()];
    if (slot == nullptr || r.result.mean_cost_seconds() < slot->result.mean_cost_seconds()) slot = &r;
  }
  auto writer = crosstune::io::LogWriter::open(argv[2], crosstune::io::WriteMode::truncate);
  if (!writer) {
    std::fprintf(stderr, "%s\n", writer.error().describe().c_str());
    return 1;
  }
  for (const auto& [task, record] : best) {
    std::printf("%-70s %10.3f us  (%zu steps)\n", task->workload_key.c_str(),
                record->result.mean_cost_seconds() * 1e6, record->steps.size());
    if (auto ok = writer->write(*record); !ok) {
      std::fprintf(stderr, "%s\n", ok.error().describe().c_str());
      return 1;
    }
  }
  if (auto ok = writer->close(); !ok) {
    std::fprintf(stderr, "%s\n", ok.error().describe().c_str());
    return 1;
  }
  std::printf("%zu records read, best of %zu tasks written to %s\n", records->size(), best.size(), argv[2]);
  return 0;
}
