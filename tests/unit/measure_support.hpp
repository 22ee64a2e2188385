// Helpers shared by the tests of measure/: kernels with the packed entry signature (good ones and bad
// ones of every kind), a FIFO that makes a real compiler hang, and a look at /proc for processes left
// behind.
#pragma once

#include <dirent.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "crosstune/core/record.hpp"
#include "crosstune/core/task.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/measure/kernel.hpp"

namespace crosstune::test {

/// Elements of the test kernels' buffers: small, so every run is quick.
inline constexpr int kernel_elements = 256;

/// The signature of every test kernel: input A, output B (B = 2·A when the kernel is right).
inline measure::KernelSignature doubling_signature() {
  return measure::KernelSignature{{{"A", kernel_elements}, {"B", kernel_elements, true}}};
}

/// B = 2·A for the inputs of `seed`, computed here (the reference by values).
inline std::vector<float> doubled_inputs(std::uint64_t seed) {
  std::vector<float> out(kernel_elements);
  for (int i = 0; i < kernel_elements; ++i) out[static_cast<std::size_t>(i)] = 2 * measure::input_value(seed, 0, static_cast<std::uint64_t>(i));
  return out;
}

/// What the test kernels include (one preamble, so they can share translation units).
inline const std::string kernel_preamble = [] {
  // OpenMP's one function is declared rather than included: the kernels need no omp.h, only the runtime
  // that -fopenmp links.
  std::string text = "#include <cstdlib>\n#include <unistd.h>\n#include <chrono>\n#include <sched.h>\n";
  text += "extern \"C\" int omp_get_max_threads();\n";
  text += "static constexpr int N = ";
  text += std::to_string(kernel_elements);
  text += ";\n";
  return text;
}();

/// `extern "C" void name(float* const* a) { body }` with the shared preamble.
inline measure::KernelSource kernel(const std::string& name, const std::string& body) {
  std::string text = "extern \"C\" void ";
  text += name;
  text += "(float* const* a) {\n";
  text += body;
  text += "\n}\n";
  return measure::KernelSource{kernel_preamble, text, name};
}

// Kernel bodies over a[0] = A (input) and a[1] = B (output).
inline const std::string right_body = "for (int i = 0; i < N; ++i) a[1][i] = 2 * a[0][i];";
inline const std::string also_right_body = "for (int i = 0; i < N; ++i) a[1][i] = a[0][i] + a[0][i];";
inline const std::string segfault_body = "volatile int* p = nullptr; *p = 1;";
inline const std::string endless_body = "for (;;) { asm volatile(\"\"); }";
inline const std::string abort_body = "std::abort();";
inline const std::string exit_body = "_exit(3);";  // not exit(): that would run the test's destructors in the worker
inline const std::string wrong_body = "for (int i = 0; i < N; ++i) a[1][i] = a[0][i];";
inline const std::string unwritten_body = "for (int i = 0; i < N - 1; ++i) a[1][i] = 2 * a[0][i];";  // B[N-1] stays NaN
inline const std::string not_cpp_body = "this is not C++";
inline const std::string huge_stack_body =  // 256 MiB on the stack: past any usual stack limit
    "volatile float big[1 << 26]; big[0] = 1; big[(1 << 26) - 1] = 2;\n"
    "for (int i = 0; i < N; ++i) a[1][i] = 2 * a[0][i] + big[0] + big[(1 << 26) - 1] - 3;";
/// Right, and takes at least a millisecond (busy-waiting, so also on a loaded machine).
inline const std::string millisecond_body =
    "const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(1000);\n"
    "while (std::chrono::steady_clock::now() < until) {}\n"
    "for (int i = 0; i < N; ++i) a[1][i] = 2 * a[0][i];";
/// Right only when OpenMP runs one thread; aborts otherwise.
inline const std::string one_thread_body = "if (omp_get_max_threads() != 1) std::abort();\n" + right_body;
/// Right only when every thread of an OpenMP parallel region (the calling one included) may run on one
/// CPU only, on a CPU no other thread of the region has, and the region has $CROSSTUNE_TEST_THREADS
/// threads (when set); aborts otherwise.
inline const std::string bound_body =
    "static int cpus[CPU_SETSIZE]; int bad = 0, threads = 0;\n"
    "for (int c = 0; c < CPU_SETSIZE; ++c) cpus[c] = 0;\n"
    "#pragma omp parallel reduction(+ : bad, threads)\n"
    "{ cpu_set_t set; CPU_ZERO(&set); sched_getaffinity(0, sizeof set, &set); threads += 1;\n"
    "  if (CPU_COUNT(&set) != 1) bad += 1;\n"
    "  for (int c = 0; c < CPU_SETSIZE; ++c) if (CPU_ISSET(c, &set)) {\n"
    "    int seen; _Pragma(\"omp atomic capture\") { seen = cpus[c]; cpus[c] = 1; } bad += seen; } }\n"
    "const char* want = std::getenv(\"CROSSTUNE_TEST_THREADS\");\n"
    "if (bad != 0 || (want != nullptr && threads != std::atoi(want))) std::abort();\n" +
    right_body;
/// Right only when the calling thread may run on more than one CPU; aborts otherwise.
inline const std::string unbound_body =
    "cpu_set_t set; CPU_ZERO(&set); sched_getaffinity(0, sizeof set, &set);\n"
    "if (CPU_COUNT(&set) < 2) std::abort();\n" +
    right_body;
/// Right only when the process may run on exactly one CPU, the one $CROSSTUNE_TEST_CPU names; aborts
/// otherwise.
inline const std::string one_cpu_body =
    "cpu_set_t set; CPU_ZERO(&set); sched_getaffinity(0, sizeof set, &set);\n"
    "const char* want = std::getenv(\"CROSSTUNE_TEST_CPU\");\n"
    "if (want == nullptr || CPU_COUNT(&set) != 1 || !CPU_ISSET(std::atoi(want), &set)) std::abort();\n" +
    right_body;

/// True when a 256 MiB stack frame is past this process's stack limit (it is, unless unlimited).
inline bool huge_stack_overflows() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_STACK, &limit) != 0) return true;
  return limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < (rlim_t{256} << 20);
}

/// A body that makes the compiler hang: it includes `fifo`, a FIFO nobody writes, so the preprocessor
/// blocks opening it.
inline std::string hanging_include(const std::filesystem::path& fifo) {
  std::string text = "#include \"";
  text += fifo.string();
  text += "\"\n";
  return text;
}

/// Makes a FIFO at `path`; false when it cannot.
inline bool make_fifo(const std::filesystem::path& path) { return ::mkfifo(path.c_str(), 0600) == 0; }

/// Processes (other than zombies) whose command line mentions `needle`.
inline std::vector<pid_t> processes_mentioning(const std::string& needle) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return found;
  while (const dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
    std::ifstream in(std::string("/proc/") + entry->d_name + "/cmdline", std::ios::binary);
    const std::string cmdline{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (cmdline.find(needle) != std::string::npos) found.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return found;
}

/// True when, within `seconds`, no process mentions `needle` (a process sent SIGKILL takes a moment to go).
inline bool no_process_mentions(const std::string& needle, double seconds = 2) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    if (processes_mentioning(needle).empty()) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

/// This process's child processes (from /proc/self/task/*/children); nullopt when the kernel does not
/// list them.
inline std::optional<std::vector<pid_t>> child_processes() {
  std::vector<pid_t> children;
  bool listed = false;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream in(task.path() / "children");
    if (!in) continue;
    listed = true;
    for (pid_t pid; in >> pid;) children.push_back(pid);
  }
  if (!listed) return std::nullopt;
  return children;
}

/// The last CPU this process may run on (not the first: OpenMP's binding alone would pin to that one).
inline int last_allowed_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  for (int cpu = CPU_SETSIZE - 1; cpu >= 0; --cpu)
    if (CPU_ISSET(cpu, &set)) return cpu;
  return 0;
}

/// The CPUs this process may run on, ascending.
inline std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

/// A task for the records the measurer logs.
inline std::shared_ptr<const Task> record_task(const std::string& name = "measure_test") {
  auto task = std::make_shared<Task>();
  std::string key = "[\"";
  key += name;
  key += "\", 256]";
  task->workload_key = key;
  task->target = Target("llvm -keys=cpu");
  return task;
}

/// Seconds since `start`.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Every record of a log, in order; a log that cannot be read fails the test.
inline std::vector<Record> read_log(const std::filesystem::path& path) {
  auto reader = io::LogReader::open(path);
  REQUIRE_MESSAGE(reader.has_value(), reader.error().describe());
  std::vector<Record> records;
  Record r;
  for (;;) {
    auto more = reader->next(r);
    REQUIRE_MESSAGE(more.has_value(), more.error().describe());
    if (!*more) break;
    records.push_back(r);
  }
  CHECK(reader->stats().skipped_lines == 0);
  return records;
}

}  // namespace crosstune::test
