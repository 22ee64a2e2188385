// Shared by the benchmarks: the log files of the corpus they measure — $CROSSTUNE_BENCH_LOGS if set (e.g.
// ../shared/data/ansor-logs for all public logs), else the shipped sample tests/data/ansor-logs.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace crosstune::bench {

inline std::filesystem::path corpus_root() {
  const char* env = std::getenv("CROSSTUNE_BENCH_LOGS");
  return env ? std::filesystem::path(env) : std::filesystem::path(CROSSTUNE_TEST_DATA "/ansor-logs");
}

/// Every .json / .json.gz file under the corpus root, sorted.
inline std::vector<std::filesystem::path> corpus_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(corpus_root())) {
    const auto name = e.path().filename().string();
    if (e.is_regular_file() && (name.ends_with(".json") || name.ends_with(".json.gz")))
      files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace crosstune::bench
