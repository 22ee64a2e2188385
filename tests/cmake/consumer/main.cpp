// Reads the log given on the command line with the umbrella header and prints its record count.
#include <crosstune/crosstune.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto records = crosstune::io::read_log_file(argv[1]);
  if (!records) {
    std::fprintf(stderr, "%s\n", records.error().describe().c_str());
    return 1;
  }
  std::printf("consumer read %zu records with crosstune %s\n", records->size(), crosstune::version_string);
  return 0;
}
