// libFuzzer target: any bytes fed to the log reader (as one file, in both bad-line modes) and to the
// workload-key parser must give records or clear errors — never a crash, a hang or undefined behaviour.
// Whatever parses must also write back and parse again to an equal record.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "crosstune/core/workload_key.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/io/record_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (auto mode : {crosstune::io::OnBadLine::stop, crosstune::io::OnBadLine::skip}) {
    crosstune::io::ReadOptions options;
    options.on_bad_line = mode;
    options.max_line_bytes = 1 << 16;
    auto reader = crosstune::io::LogReader::from_string(text, "fuzz.json", options);
    crosstune::Record record;
    crosstune::io::RecordParser check;
    for (int i = 0; i < 10000; ++i) {
      auto more = reader.next(record);
      if (!more) {
        const auto& e = more.error();
        if (e.message.empty() || (e.line == 0 && e.kind != crosstune::ErrorKind::empty_input))
          std::abort();  // every error must say what and where
        break;
      }
      if (!*more) break;
      std::string line;
      if (crosstune::io::append_record_line(line, record)) {
        crosstune::Record back;
        if (!check.parse(line, back) || !(back == record)) std::abort();
      }
      (void)crosstune::parse_workload_key(record.task->workload_key);
    }
  }
  (void)crosstune::parse_workload_key(text);
  return 0;
}
