// crosstune/codegen/build.hpp — a minimal in-process build of generated kernels: compile C++ into a
// shared library and load its functions.
//
// This is the quick path that tests and benchmarks use to check and time generated code. It runs the
// compiler as a child process (no shell), reports the compiler's own messages when the build fails, and
// loads the result with dlopen. It does not protect the caller from a kernel that crashes or hangs;
// that is the measurer's job (measure/).
//
//   codegen::CompileOptions options;          // c++ -O3 -march=native -fopenmp
//   auto built = codegen::compile_shared_library(source, dir / "k0.so", options);   // a new name per build
//   auto library = codegen::SharedLibrary::open(dir / "k0.so").value();
//   auto* kernel = library.function<void(const float*, const float*, float*)>("crosstune_kernel").value();
#pragma once

#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/target.hpp"

extern char** environ;

namespace crosstune::codegen {

struct CompileOptions {
  std::string compiler = "c++";  ///< found on PATH
  std::string optimization = "-O3";
  std::string march = "native";  ///< -march value: "native", or the target's (e.g. "znver4", "icelake-server")
  bool openmp = true;  ///< link the OpenMP runtime (parallel loops); off: -fopenmp-simd only
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
  args.insert(args.end(), options.extra_flags.begin(), options.extra_flags.end());
  args.push_back(source_file.string());
  args.push_back("-o");
  args.push_back(library.string());
  return args;
}

/// Writes `source` next to `library` (same name, .cpp) and compiles it. The error carries the
/// compiler's messages (the first 4 KiB).
[[nodiscard]] inline Expected<void> compile_shared_library(std::string_view source, const std::filesystem::path& library,
                                                           const CompileOptions& options = {}) {
  namespace fs = std::filesystem;
  const fs::path source_file = fs::path(library).replace_extension(".cpp");
  const fs::path log_file = fs::path(library).replace_extension(".log");
  {
    std::ofstream out(source_file, std::ios::binary);
    out << source;
    if (!out.flush())
      return unexpected(Error(ErrorKind::io, "cannot write " + source_file.string(), {}, 0, 0, "is the folder writable?"));
  }
  const auto args = compile_command(options, source_file, library);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The compiler's output goes to the log file, opened here so that a folder we cannot write is
  // reported as such rather than as a compiler that does not run.
  const int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0)
    return unexpected(Error(ErrorKind::io, "cannot create " + log_file.string() + ": " + std::strerror(errno), {}, 0, 0,
                            "is the folder writable?"));
  posix_spawn_file_actions_t actions;
  int spawned = posix_spawn_file_actions_init(&actions);
  if (spawned == 0) spawned = posix_spawn_file_actions_adddup2(&actions, log_fd, STDOUT_FILENO);
  if (spawned == 0) spawned = posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
  pid_t pid = 0;
  const bool actions_ready = spawned == 0;
  if (actions_ready) spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(log_fd);
  if (!actions_ready) return unexpected(Error(ErrorKind::backend, std::string("cannot prepare the compiler's process: ") + std::strerror(spawned)));
  if (spawned != 0)
    return unexpected(Error(ErrorKind::backend, "cannot run the compiler '" + options.compiler + "': " + std::strerror(spawned),
                            {}, 0, 0, "install a C++ compiler or set CompileOptions::compiler"));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return unexpected(Error(ErrorKind::backend, std::string("waitpid: ") + std::strerror(errno)));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  std::ifstream log(log_file);
  std::stringstream text;
  text << log.rdbuf();
  std::string messages = text.str().substr(0, 4096);
  return unexpected(Error(ErrorKind::backend, "compiling " + source_file.string() + " failed" +
                                                  (WIFSIGNALED(status) ? " (compiler killed by signal " + std::to_string(WTERMSIG(status)) + ")" : "") +
                                                  ":\n" + messages));
}

/// A loaded shared library; closed when destroyed. Its code stays mapped until the process ends
/// (RTLD_NODELETE, below), and opening a path that is already loaded gives the library loaded first:
/// build each kernel to a new file name, as the tests and benchmarks do.
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

 private:
  explicit SharedLibrary(void* handle) : handle_(handle) {}
  void close() noexcept {
    if (handle_ != nullptr) ::dlclose(handle_);
    handle_ = nullptr;
  }
  void* handle_ = nullptr;
};

}  // namespace crosstune::codegen
