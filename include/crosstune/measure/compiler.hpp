// crosstune/measure/compiler.hpp — compiling C++ kernels into shared libraries with the system compiler,
// with a time limit, and loading their functions.
//
// The compiler runs as a child process (no shell) in a process group of its own, so a build that runs
// past its time limit is killed with everything it started (cc1plus, as, ld). Its messages go to a log
// file next to the library and come back in the error when the build fails. CompileJob is the
// non-blocking form the parallel Builder (measure/builder.hpp) drives; compile_shared_library waits.
//
// Loading with dlopen does not protect the caller from a kernel that crashes or hangs: the forked
// Runner (measure/runner.hpp) does.
//
//   measure::CompileOptions options;          // c++ -O3 -march=native -fopenmp
//   auto built = measure::compile_shared_library(source, dir / "k0.so", options);   // a new name per build
//   auto library = measure::SharedLibrary::open(dir / "k0.so").value();
//   auto* kernel = library.function<void(const float*, const float*, float*)>("crosstune_kernel").value();
#pragma once

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/target.hpp"

extern char** environ;

namespace crosstune::measure {

struct CompileOptions {
  std::string compiler = "c++";  ///< found on PATH
  std::string optimization = "-O3";
  std::string march = "native";  ///< -march value: "native", or the target's (e.g. "znver4", "icelake-server")
  bool openmp = true;  ///< link the OpenMP runtime (parallel loops); off: -fopenmp-simd only
  /// -mprefer-vector-width: the widest vectors the target has (0: the compiler's choice). GCC's tuning
  /// for Intel's AVX-512 server cores (skylake-avx512 to sapphirerapids) prefers 256-bit vectors, so a
  /// vectorised loop of 32 floats became four ymm operations where the schedule meant two zmm ones; on a
  /// Sapphire Rapids VM, a conv2d kernel with a 7x32 register tile ran at 119 GFLOP/s in ymm registers,
  /// one accumulator spilled, and at 223 in zmm ones (docs/codegen.md). Without AVX-512 in -march the
  /// compiler keeps its widest.
  int prefer_vector_width = 512;
  std::vector<std::string> extra_flags{};

  /// Options for a TVM target string: -march from its -mcpu ("llvm -mcpu=znver4" → -march=znver4),
  /// the host's ("native") when it names none.
  [[nodiscard]] static CompileOptions for_target(const Target& target) {
    CompileOptions o;
    if (auto mcpu = target.option("mcpu"); mcpu && !mcpu->empty()) o.march = std::string(*mcpu);
    return o;
  }
};

/// The compiler's command line for `source_file` → `library`.
[[nodiscard]] inline std::vector<std::string> compile_command(const CompileOptions& options, const std::filesystem::path& source_file,
                                                             const std::filesystem::path& library) {
  std::vector<std::string> args = {options.compiler, "-std=c++17", options.optimization, "-shared", "-fPIC", "-w"};
  if (!options.march.empty()) args.push_back("-march=" + options.march);
  // Without the OpenMP runtime, `omp simd` still vectorises (-fopenmp-simd) and parallel loops run serially.
  args.push_back(options.openmp ? "-fopenmp" : "-fopenmp-simd");
  if (options.prefer_vector_width > 0) args.push_back("-mprefer-vector-width=" + std::to_string(options.prefer_vector_width));
  args.insert(args.end(), options.extra_flags.begin(), options.extra_flags.end());
  args.push_back(source_file.string());
  args.push_back("-o");
  args.push_back(library.string());
  return args;
}

/// A number no other call in this process returns: with the process id, file names that builders and
/// runners sharing a folder never reuse.
[[nodiscard]] inline std::uint64_t unique_file_number() noexcept {
  static std::atomic<std::uint64_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed);
}

/// A time in seconds as short text ("10", "0.5").
[[nodiscard]] inline std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", seconds);
  return text;
}

/// The command line as one line of text (for logs and provenance).
[[nodiscard]] inline std::string join_command(const std::vector<std::string>& args) {
  std::string line;
  for (const auto& a : args) {
    if (!line.empty()) line += ' ';
    line += a;
  }
  return line;
}

/// One compiler run in progress. Start it, poll() until it is no longer running (or kill() it), then
/// read messages() when it failed.
class CompileJob {
 public:
  enum class Status {
    running,
    succeeded,
    failed,     ///< the compiler exited with an error, or was killed by a signal it did not expect
    timed_out,  ///< killed by kill() or by poll() after the time limit
  };

  /// Writes `source` to `library` with the extension .cpp and starts the compiler. `timeout_s` ≤ 0: no
  /// limit. Errors: the source or log file cannot be written, the compiler cannot be started.
  [[nodiscard]] static Expected<CompileJob> start(std::string_view source, const std::filesystem::path& library,
                                                  const CompileOptions& options, double timeout_s = 0) {
    namespace fs = std::filesystem;
    CompileJob job;
    job.source_file_ = fs::path(library).replace_extension(".cpp");
    job.log_file_ = fs::path(library).replace_extension(".log");
    job.timeout_s_ = timeout_s;
    {
      std::ofstream out(job.source_file_, std::ios::binary);
      out << source;
      if (!out.flush())
        return unexpected(Error(ErrorKind::io, "cannot write " + job.source_file_.string(), {}, 0, 0, "is the folder writable?"));
    }
    const auto args = compile_command(options, job.source_file_, library);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // The compiler's output goes to the log file, opened here so that a folder we cannot write is
    // reported as such rather than as a compiler that does not run.
    const int log_fd = ::open(job.log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0)
      return unexpected(Error(ErrorKind::io, "cannot create " + job.log_file_.string() + ": " + std::strerror(errno), {}, 0, 0,
                              "is the folder writable?"));
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int spawned = posix_spawn_file_actions_init(&actions);
    const bool actions_ready = spawned == 0;
    if (spawned == 0) spawned = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (spawned == 0) spawned = posix_spawn_file_actions_adddup2(&actions, log_fd, STDOUT_FILENO);
    if (spawned == 0) spawned = posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
    const bool attributes_ready = spawned == 0 && posix_spawnattr_init(&attributes) == 0;
    // A process group of its own: a timed-out build is killed with the programs the driver started.
    if (attributes_ready) spawned = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    if (attributes_ready && spawned == 0) spawned = posix_spawnattr_setpgroup(&attributes, 0);
    const bool ready = attributes_ready && spawned == 0;
    if (ready) spawned = posix_spawnp(&job.pid_, argv[0], &actions, &attributes, argv.data(), environ);
    if (attributes_ready) posix_spawnattr_destroy(&attributes);
    if (actions_ready) posix_spawn_file_actions_destroy(&actions);
    ::close(log_fd);
    if (!ready) return unexpected(Error(ErrorKind::backend, std::string("cannot prepare the compiler's process: ") + std::strerror(spawned)));
    if (spawned != 0) {
      job.pid_ = -1;
      return unexpected(Error(ErrorKind::backend, "cannot run the compiler '" + options.compiler + "': " + std::strerror(spawned),
                              {}, 0, 0, "install a C++ compiler or set CompileOptions::compiler"));
    }
    job.started_ = std::chrono::steady_clock::now();
    return job;
  }

  CompileJob(CompileJob&& other) noexcept { *this = std::move(other); }
  CompileJob& operator=(CompileJob&& other) noexcept {
    if (this != &other) {
      reap();
      source_file_ = std::move(other.source_file_);
      log_file_ = std::move(other.log_file_);
      pid_ = std::exchange(other.pid_, -1);
      status_ = std::exchange(other.status_, Status::failed);  // the moved-from job runs nothing
      signal_ = other.signal_;
      started_ = other.started_;
      seconds_ = other.seconds_;
      timeout_s_ = other.timeout_s_;
    }
    return *this;
  }
  CompileJob(const CompileJob&) = delete;
  CompileJob& operator=(const CompileJob&) = delete;
  /// A job still running is killed: nothing outlives its CompileJob.
  ~CompileJob() { reap(); }

  /// The status now; kills the compiler when it has run past the time limit.
  Status poll() {
    if (status_ != Status::running || pid_ <= 0) return status_;
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      finish(status);
      return status_;
    }
    if (done < 0 && errno != EINTR) {  // not our child any more (someone else reaped it): report it failed
      pid_ = -1;
      status_ = Status::failed;
      seconds_ = elapsed();
      return status_;
    }
    if (timeout_s_ > 0 && elapsed() > timeout_s_) kill();
    return status_;
  }

  /// Waits until the compiler is done (or killed at the time limit).
  Status wait() {
    while (poll() == Status::running) {
      const timespec pause{0, 1'000'000};  // 1 ms: builds take hundreds
      ::nanosleep(&pause, nullptr);
    }
    return status_;
  }

  /// Kills the compiler and everything it started; the job is then timed_out.
  void kill() {
    if (status_ != Status::running || pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    status_ = Status::timed_out;
    seconds_ = elapsed();
  }

  [[nodiscard]] Status status() const noexcept { return status_; }
  /// Wall time from start to the end of the build (so far, while running).
  [[nodiscard]] double seconds() const { return status_ == Status::running ? elapsed() : seconds_; }
  [[nodiscard]] const std::filesystem::path& source_file() const noexcept { return source_file_; }

  /// The compiler's messages (the first `limit` bytes), and how it ended when it was killed.
  [[nodiscard]] std::string messages(std::size_t limit = 4096) const {
    std::ifstream log(log_file_);
    std::stringstream text;
    text << log.rdbuf();
    std::string out = text.str().substr(0, limit);
    if (status_ == Status::failed && signal_ != 0)
      out = "(the compiler was killed by signal " + std::to_string(signal_) + ")\n" + out;
    return out;
  }

 private:
  CompileJob() = default;
  [[nodiscard]] double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }
  void finish(int status) {
    pid_ = -1;
    seconds_ = elapsed();
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      status_ = Status::succeeded;
    } else {
      status_ = Status::failed;
      if (WIFSIGNALED(status)) signal_ = WTERMSIG(status);
    }
  }
  void reap() noexcept {
    if (status_ == Status::running && pid_ > 0) kill();
  }

  std::filesystem::path source_file_, log_file_;
  pid_t pid_ = -1;
  Status status_ = Status::running;
  int signal_ = 0;
  std::chrono::steady_clock::time_point started_{};
  double seconds_ = 0;
  double timeout_s_ = 0;
};

/// Writes `source` next to `library` (same name, .cpp) and compiles it, waiting for the compiler.
/// `timeout_s` ≤ 0: no time limit. The error carries the compiler's messages (the first 4 KiB), or says
/// the build ran past the time limit.
[[nodiscard]] inline Expected<void> compile_shared_library(std::string_view source, const std::filesystem::path& library,
                                                           const CompileOptions& options = {}, double timeout_s = 0) {
  auto job = CompileJob::start(source, library, options, timeout_s);
  if (!job) return unexpected(std::move(job).error());
  switch (job->wait()) {
    case CompileJob::Status::succeeded:
      return {};
    case CompileJob::Status::timed_out:
      return unexpected(Error(ErrorKind::backend,
                              "compiling " + job->source_file().string() + " took longer than the " + seconds_text(timeout_s) +
                                  " s time limit; the compiler was stopped",
                              {}, 0, 0, "raise the build timeout, or build fewer kernels per translation unit"));
    default:
      return unexpected(Error(ErrorKind::backend, "compiling " + job->source_file().string() + " failed:\n" + job->messages()));
  }
}

/// A loaded shared library; closed when destroyed. Its code stays mapped until the process ends
/// (RTLD_NODELETE, below), and opening a path that is already loaded gives the library loaded first:
/// build each kernel to a new file name, as the Builder, the tests and the benchmarks do.
class SharedLibrary {
 public:
  [[nodiscard]] static Expected<SharedLibrary> open(const std::filesystem::path& path) {
    // RTLD_NODELETE: OpenMP worker threads started by a kernel outlive the call, so the code they run
    // (the kernel and its OpenMP runtime) must stay mapped after the library is closed.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      return unexpected(Error(ErrorKind::backend, "cannot load " + path.string() + ": " + (why ? why : "unknown error")));
    }
    return SharedLibrary(handle);
  }
  SharedLibrary(SharedLibrary&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  SharedLibrary& operator=(SharedLibrary&& other) noexcept {
    if (this != &other) {
      close();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;
  ~SharedLibrary() { close(); }

  /// The function `name` with signature `F` (the caller vouches for the signature).
  template <class F>
  [[nodiscard]] Expected<F*> function(const std::string& name) const {
    void* symbol = ::dlsym(handle_, name.c_str());
    if (symbol == nullptr) return unexpected(Error(ErrorKind::backend, "the library has no function '" + name + "'"));
    return reinterpret_cast<F*>(symbol);
  }
  /// A symbol of the library or of the libraries it loaded (nullptr when there is none).
  [[nodiscard]] void* symbol(const char* name) const noexcept { return ::dlsym(handle_, name); }

 private:
  explicit SharedLibrary(void* handle) : handle_(handle) {}
  void close() noexcept {
    if (handle_ != nullptr) ::dlclose(handle_);
    handle_ = nullptr;
  }
  void* handle_ = nullptr;
};

}  // namespace crosstune::measure
