// crosstune/measure/provenance.hpp — where and how a measurement was taken, carried by every record a
// crosstune measurer writes, so records never silently apply to another machine or another setting.
//
// TVM's log reader refuses keys other than "i", "r" and "v", and reads "v" as a plain string it does not
// interpret; so the provenance follows the format version inside "v", as `;`-separated key=value pairs:
//
//   "v": "v0.6;by=crosstune 0.4.0;cc=g++ (Debian 12.2.0-14) 12.2.0;flags=-O3 -march=native -fopenmp;
//         threads=2;pin=none;bind=0;flush=1;number=1;repeat=3;min_repeat_ms=100;warmup=1;governor=performance;
//         cpu=AMD EPYC 9R45;cpus=2;host=4f1c9a0b2e6d7c13"          (one line in the log)
//
// format_version() gives the "v0.6" part back; parse_provenance() the pairs.
//
//   measure::Provenance p = measure::Provenance::of_host();
//   p.set("flags", "-O3"); record.version = p.version_string();
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "crosstune/core/record.hpp"
#include "crosstune/version.hpp"

extern char** environ;

namespace crosstune::measure {

/// The log format version of a "v" string: what comes before the first ';'.
[[nodiscard]] inline std::string_view format_version(std::string_view v) noexcept { return v.substr(0, v.find(';')); }

/// The key=value pairs after the format version (empty when there are none).
[[nodiscard]] inline std::vector<std::pair<std::string, std::string>> parse_provenance(std::string_view v) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t at = v.find(';');
  while (at != std::string_view::npos) {
    const std::size_t end = v.find(';', at + 1);
    const std::string_view pair = v.substr(at + 1, end == std::string_view::npos ? std::string_view::npos : end - at - 1);
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos) out.emplace_back(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
    at = end;
  }
  return out;
}

class Provenance {
 public:
  /// This machine: the CPU's model name, logical CPUs, the frequency governor of CPU 0, and a
  /// fingerprint (a hash of the model, CPU count and instruction-set flags).
  [[nodiscard]] static Provenance of_host() {
    Provenance p;
    p.set("by", std::string("crosstune ") + crosstune::version_string);
    std::string model, flags;
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
      auto value = [&] {
        const auto colon = line.find(':');
        return colon == std::string::npos ? std::string() : trim(line.substr(colon + 1));
      };
      if (model.empty() && line.rfind("model name", 0) == 0) model = value();
      if (flags.empty() && (line.rfind("flags", 0) == 0 || line.rfind("Features", 0) == 0)) flags = value();
    }
    const unsigned cpus = std::thread::hardware_concurrency();
    std::string governor = "unknown";
    std::ifstream g("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
    if (std::getline(g, governor)) governor = trim(governor);
    if (governor.empty()) governor = "unknown";
    p.set("governor", governor);
    p.set("cpu", model.empty() ? "unknown" : model);
    p.set("cpus", std::to_string(cpus));
    std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
    for (const std::string& part : {model, std::to_string(cpus), flags})
      for (char c : part + '\n') h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    p.set("host", hex);
    return p;
  }

  /// Sets `key` (a later set replaces it). ';' and line breaks in the value become spaces.
  Provenance& set(const std::string& key, std::string value) {
    for (auto& c : value)
      if (c == ';' || c == '\n' || c == '\r') c = ' ';
    for (auto& [k, v] : pairs_)
      if (k == key) {
        v = std::move(value);
        return *this;
      }
    pairs_.emplace_back(key, std::move(value));
    return *this;
  }
  [[nodiscard]] std::string get(std::string_view key) const {
    for (const auto& [k, v] : pairs_)
      if (k == key) return v;
    return {};
  }
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& pairs() const noexcept { return pairs_; }

  /// The "v" string: the current log format version, then the pairs.
  [[nodiscard]] std::string version_string() const {
    std::string out = current_log_version;
    for (const auto& [k, v] : pairs_) {
      out += ';';
      out += k;
      out += '=';
      out += v;
    }
    return out;
  }

 private:
  static std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  }
  std::vector<std::pair<std::string, std::string>> pairs_;
};

/// The first line `compiler --version` prints ("g++ (Debian 12.2.0-14) 12.2.0"), or "unknown".
[[nodiscard]] inline std::string compiler_version(const std::string& compiler) {
  int fds[2];
  if (::pipe(fds) != 0) return "unknown";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::string arg0 = compiler, arg1 = "--version";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, arg0.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  std::string text;
  if (spawned == 0) {
    // At most 10 s: a wrapper that hangs, or leaves a daemon holding the pipe, must not hang the caller.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    char buffer[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      pollfd p{fds[0], POLLIN, 0};
      const int ready = left > 0 ? ::poll(&p, 1, static_cast<int>(left)) : 0;
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) {
        ::kill(pid, SIGKILL);
        break;
      }
      const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  ::close(fds[0]);
  const std::string line = text.substr(0, text.find('\n'));
  return line.empty() ? "unknown" : line;
}

}  // namespace crosstune::measure
