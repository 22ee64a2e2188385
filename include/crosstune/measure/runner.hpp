// crosstune/measure/runner.hpp — runs built kernels in a worker process that a bad kernel cannot take
// down with it, checks their outputs and times them.
//
// The worker is forked once and reused: for each task (a KernelSignature and an input seed) it
// allocates the buffers once, fills the inputs (fill_input) and computes the reference outputs (with a
// reference kernel, or from the caller's values); for each candidate it loads the library, runs the
// kernel once on outputs filled with NaN (so an element the kernel never writes is caught), compares
// them with the reference, then times it (time_function: warm-up, `number` grown to min_repeat_ms,
// optional cache flush). The parent watches with a time limit that counts the run only — loading and
// the reference are not counted:
//
//   kernel crashes (signal)      → runtime_device, "the worker died of SIGSEGV (segmentation fault)"
//   kernel calls exit/abort      → runtime_device, with the exit status or SIGABRT
//   kernel runs past the limit   → run_timeout; the worker is killed (SIGKILL)
//   outputs differ               → wrong_answer, with the worst element, its value and error
//   library does not load        → runtime_device, with the loader's message
//
// and the next candidate gets a fresh worker (whose task is set up again from the saved reference).
// A worker is also replaced every `runs_per_worker` candidates, which frees the libraries it loaded.
// The worker never returns into the caller's code: it ends with _exit, ignores SIGINT (the parent
// decides when to stop) and dies with its parent.
//
//   auto runner = measure::Runner::make({.timing = {.repeat = 5, .flush_cache = true}}, dir).value();
//   runner.set_task({.signature = sig, .seed = 1, .reference_library = ref.library, .reference_entry = ref.entry}).value();
//   measure::RunResult r = runner.run(built.library, built.entry);
#pragma once

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crosstune/core/error_code.hpp"
#include "crosstune/core/expected.hpp"
#include "crosstune/measure/compiler.hpp"
#include "crosstune/measure/kernel.hpp"
#include "crosstune/measure/timing.hpp"
#include "crosstune/measure/verify.hpp"

namespace crosstune::measure {

struct RunOptions {
  TimingOptions timing{};
  double timeout_s = 10;        ///< one candidate's check run and timing; loading is not counted
  int threads = 0;              ///< OpenMP threads in the worker; 0: the runtime's default
  std::vector<int> pin_cpus{};  ///< pin the worker (and its threads) to these CPUs; empty: no pinning
  /// Bind each of the worker's threads, OpenMP's pool included, to a logical CPU of its own (of the CPUs
  /// the worker may use, `pin_cpus` when given; round robin past their count), as OMP_PROC_BIND=true with
  /// OMP_PLACES=threads would. Done by the worker itself, so it holds also where this process started
  /// OpenMP before forking (its runtime read OMP_PROC_BIND then). Unbound, libgomp's threads made a tuned
  /// 2-thread convolution bimodal on a 2-core VM (about 185 or 215 GFLOP/s, switching between timings);
  /// bound, it held 204-219 (docs/measure.md). Off by default: measurers sharing the CPUs (several at
  /// once, each with fewer threads than CPUs) could stack their threads on the same CPUs.
  bool bind_threads = false;
  bool check = true;            ///< compare the outputs with the reference (when the task has one)
  Tolerance tolerance{};
  std::size_t runs_per_worker = 500;  ///< a fresh worker after this many candidates
  double reference_timeout_s = 600;   ///< the reference kernel's one run

  [[nodiscard]] Expected<void> validate() const {
    if (auto ok = timing.validate(); !ok) return ok;
    auto bad = [](const std::string& what) { return unexpected(Error(ErrorKind::invalid_argument, "measure::RunOptions: " + what)); };
    if (!(timeout_s > 0) || timeout_s > 1e6) return bad("timeout_s must be a positive time of at most 10^6 s");
    if (!(reference_timeout_s > 0) || reference_timeout_s > 1e6) return bad("reference_timeout_s must be a positive time of at most 10^6 s");
    if (threads < 0) return bad("threads must not be negative");
    if (runs_per_worker < 1) return bad("runs_per_worker must be at least 1");
    for (int cpu : pin_cpus)
      if (cpu < 0 || cpu >= CPU_SETSIZE) return bad("pin_cpus holds " + std::to_string(cpu) + ", not a CPU number");
    return {};
  }
};

/// What every candidate of a task is run on.
struct RunTask {
  KernelSignature signature{};
  std::uint64_t seed = 0;  ///< inputs: fill_input(buffer, seed, position in the signature)
  /// The reference: a built kernel run once on the same inputs, or the outputs' values (one vector per
  /// output buffer, in signature order), or neither (outputs are then not checked).
  std::filesystem::path reference_library{};
  std::string reference_entry{};
  std::vector<std::vector<float>> reference_values{};
};

/// The outcome of running one candidate.
struct RunResult {
  ErrorCode error = ErrorCode::no_error;  ///< no_error, runtime_device, wrong_answer, run_timeout, unknown_error
  std::string message{};
  Timing timing{};     ///< the costs (empty unless no_error)
  double seconds = 0;  ///< wall time of the run (check and timing), as the time limit counts it
  bool stopped = false;  ///< the stop flag was raised while it ran; the candidate was not judged

  [[nodiscard]] bool ok() const noexcept { return error == ErrorCode::no_error; }
};

/// "SIGSEGV (segmentation fault)" for signal numbers; "signal N" otherwise.
[[nodiscard]] inline std::string signal_description(int signal) {
  const char* name = nullptr;
  switch (signal) {
    case SIGSEGV: name = "SIGSEGV"; break;
    case SIGBUS: name = "SIGBUS"; break;
    case SIGFPE: name = "SIGFPE"; break;
    case SIGILL: name = "SIGILL"; break;
    case SIGABRT: name = "SIGABRT"; break;
    case SIGKILL: name = "SIGKILL"; break;
    case SIGTERM: name = "SIGTERM"; break;
    case SIGTRAP: name = "SIGTRAP"; break;
    case SIGSYS: name = "SIGSYS"; break;
    default: break;
  }
  const char* what = ::strsignal(signal);
  std::string out = name != nullptr ? name : "signal " + std::to_string(signal);
  if (what != nullptr) {
    std::string text = what;
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out += " (" + text + ")";
  }
  return out;
}

namespace detail {

/// Length-prefixed messages over a pipe: a message is a list of fields written and read in order.
class MessageOut {
 public:
  MessageOut& i64(std::int64_t v) { return raw(&v, sizeof v); }
  MessageOut& f64(double v) { return raw(&v, sizeof v); }
  MessageOut& str(const std::string& s) {
    i64(static_cast<std::int64_t>(s.size()));
    data_.append(s);
    return *this;
  }
  [[nodiscard]] const std::string& data() const noexcept { return data_; }

 private:
  MessageOut& raw(const void* p, std::size_t n) {
    data_.append(static_cast<const char*>(p), n);
    return *this;
  }
  std::string data_;
};

class MessageIn {
 public:
  explicit MessageIn(std::string data) : data_(std::move(data)) {}
  std::int64_t i64() { return raw<std::int64_t>(); }
  double f64() { return raw<double>(); }
  std::string str() {
    const auto n = i64();
    if (n < 0 || static_cast<std::size_t>(n) > data_.size() - at_) throw std::runtime_error("bad message");
    std::string s = data_.substr(at_, static_cast<std::size_t>(n));
    at_ += static_cast<std::size_t>(n);
    return s;
  }

 private:
  template <class T>
  T raw() {
    if (data_.size() - at_ < sizeof(T)) throw std::runtime_error("bad message");
    T v;
    std::memcpy(&v, data_.data() + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  std::string data_;
  std::size_t at_ = 0;
};

/// Writes all of `p` to a socket; false when the other end is gone (MSG_NOSIGNAL: never SIGPIPE).
inline bool write_all(int fd, const void* p, std::size_t n) noexcept {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

inline bool send_message(int fd, const MessageOut& m) noexcept {
  const std::uint64_t n = m.data().size();
  return write_all(fd, &n, sizeof n) && write_all(fd, m.data().data(), m.data().size());
}

/// How reading a message ended.
enum class ReadStatus { ok, closed, timed_out, stopped };

/// Reads exactly `n` bytes, waiting until `deadline` (none when nullopt) and checking `stop` every
/// 50 ms.
inline ReadStatus read_exactly(int fd, char* out, std::size_t n, std::optional<std::chrono::steady_clock::time_point> deadline,
                               const std::atomic<bool>* stop) {
  while (n > 0) {
    int wait_ms = 50;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return ReadStatus::timed_out;
      wait_ms = static_cast<int>(std::min<long long>(left, 50));
    }
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) return ReadStatus::stopped;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, wait_ms);
    if (ready < 0 && errno != EINTR) return ReadStatus::closed;
    if (ready <= 0) continue;
    const ssize_t r = ::read(fd, out, n);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r <= 0) return ReadStatus::closed;
    out += r;
    n -= static_cast<std::size_t>(r);
  }
  return ReadStatus::ok;
}

inline ReadStatus receive_message(int fd, std::string& out, std::optional<std::chrono::steady_clock::time_point> deadline,
                                  const std::atomic<bool>* stop) {
  std::uint64_t n = 0;
  if (auto s = read_exactly(fd, reinterpret_cast<char*>(&n), sizeof n, deadline, stop); s != ReadStatus::ok) return s;
  if (n > (std::uint64_t{1} << 30)) return ReadStatus::closed;
  out.assign(static_cast<std::size_t>(n), '\0');
  return read_exactly(fd, out.data(), out.size(), deadline, stop);
}

/// A buffer of floats in pages of its own (page-aligned, so every vector width is aligned), which can be
/// made read-only: a kernel that writes its inputs then crashes instead of corrupting the inputs of every
/// later candidate.
class MappedBuffer {
 public:
  MappedBuffer() = default;
  explicit MappedBuffer(std::size_t floats) : size_(floats) {
    bytes_ = std::max<std::size_t>(floats * sizeof(float), 1);
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("cannot map " + std::to_string(bytes_) + " bytes for a buffer");
    data_ = static_cast<float*>(p);
  }
  MappedBuffer(MappedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), bytes_(std::exchange(o.bytes_, 0)) {}
  MappedBuffer& operator=(MappedBuffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  MappedBuffer(const MappedBuffer&) = delete;
  MappedBuffer& operator=(const MappedBuffer&) = delete;
  ~MappedBuffer() { release(); }

  [[nodiscard]] float* data() noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::span<float> span() noexcept { return {data_, size_}; }
  void read_only() noexcept { ::mprotect(data_, bytes_, PROT_READ); }

 private:
  void release() noexcept {
    if (data_ != nullptr) ::munmap(data_, bytes_);
    data_ = nullptr;
  }
  float* data_ = nullptr;
  std::size_t size_ = 0, bytes_ = 0;
};

enum Command : std::int64_t { task_command = 1, run_command = 2 };
enum Reply : std::int64_t { reply_ok = 1, reply_error = 2, reply_loaded = 3, reply_result = 4 };

/// Closes every descriptor of the (just forked) worker but its two sockets and the standard streams: the
/// parent's log, other workers' sockets and the like are not the worker's to hold open.
inline void close_other_descriptors(int keep_a, int keep_b) noexcept {
  int found[4096];
  int count = 0;
  bool more = true;
  while (more) {
    more = false;
    count = 0;
    if (DIR* dir = ::opendir("/proc/self/fd")) {
      const int own = ::dirfd(dir);
      while (dirent* e = ::readdir(dir)) {
        const int fd = std::atoi(e->d_name);
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd <= 2 || fd == own || fd == keep_a || fd == keep_b) continue;
        if (count == 4096) {
          more = true;
          break;
        }
        found[count++] = fd;
      }
      ::closedir(dir);
    }
    for (int i = 0; i < count; ++i) ::close(found[i]);
  }
}

/// The CPUs the worker may use, read at its first call: the worker calls it before loading any kernel
/// (after pinning to RunOptions::pin_cpus), so that no binding has narrowed them yet.
[[nodiscard]] inline const cpu_set_t& worker_cpus() noexcept {
  static const cpu_set_t allowed = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) CPU_ZERO(&set);
    return set;
  }();
  return allowed;
}

/// RunOptions::bind_threads, in the worker: starts the OpenMP runtime's thread pool that `handle`'s kernel
/// brought (an empty parallel region through GOMP_parallel, the entry point GCC's parallel loops call and
/// LLVM's runtime also provides), so that the threads exist before the kernel's first run, then binds
/// each thread the worker has then to one logical CPU of worker_cpus(): the calling thread to the CPU it
/// runs on, the others to the remaining ones in order, round robin past their count. A thread created
/// later inherits its creator's CPU. Bound again for each kernel (the pool persists across kernels; a new
/// kernel may have grown it).
inline void bind_threads(void* handle) noexcept {
  if (void* parallel = ::dlsym(handle, "GOMP_parallel"))
    reinterpret_cast<void (*)(void (*)(void*), void*, unsigned, unsigned)>(parallel)([](void*) {}, nullptr, 0, 0);
  const cpu_set_t& allowed = worker_cpus();
  std::vector<int> cpus;
  const int here = ::sched_getcpu();
  if (here >= 0 && CPU_ISSET(here, &allowed)) cpus.push_back(here);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &allowed) && cpu != here) cpus.push_back(cpu);
  if (cpus.empty()) return;
  // The calling thread first (its id is the process id: the worker is forked from one thread), then the
  // others in the order the kernel's runtime created them (ascending ids).
  std::vector<pid_t> threads{::getpid()};
  if (DIR* dir = ::opendir("/proc/self/task")) {
    std::vector<pid_t> others;
    while (const dirent* e = ::readdir(dir))
      if (e->d_name[0] != '.' && std::atoi(e->d_name) != ::getpid()) others.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
    ::closedir(dir);
    std::sort(others.begin(), others.end());
    threads.insert(threads.end(), others.begin(), others.end());
  }
  for (std::size_t i = 0; i < threads.size(); ++i) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[i % cpus.size()], &one);
    ::sched_setaffinity(threads[i], sizeof one, &one);
  }
}

/// The entry `entry` of `library`, loaded for good (RTLD_NODELETE: OpenMP threads outlive a call); nullptr
/// when either cannot be found (load_failure() then says why). `handle` receives the library's handle.
inline void* load_entry(const std::string& library, const std::string& entry, void** handle) noexcept {
  void* h = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle != nullptr) *handle = h;
  return h != nullptr ? ::dlsym(h, entry.c_str()) : nullptr;
}
/// "'entry' from library: the loader's words", right after load_entry() failed.
inline std::string load_failure(const std::string& library, const std::string& entry) {
  const char* why = ::dlerror();
  return "'" + entry + "' from " + library + ": " + (why != nullptr ? why : "unknown");
}

/// The worker process: reads commands until its parent closes the pipe. Never returns.
[[noreturn]] inline void worker_main(int in, int out, const RunOptions& options) noexcept {
  std::vector<MappedBuffer> buffers;
  std::vector<std::vector<float>> reference;
  KernelSignature signature;
  CacheFlusher flusher;
  auto fail = [&](const std::string& message) { send_message(out, MessageOut().i64(reply_error).str(message)); };
  try {
    for (;;) {
      std::string raw;
      if (receive_message(in, raw, std::nullopt, nullptr) != ReadStatus::ok) ::_exit(0);
      MessageIn m(std::move(raw));
      const auto command = m.i64();
      if (command == task_command) {
        signature.buffers.clear();
        const auto count = m.i64();
        for (std::int64_t i = 0; i < count; ++i) {
          BufferSpec b;
          b.name = m.str();
          b.elements = m.i64();
          b.output = m.i64() != 0;
          signature.buffers.push_back(std::move(b));
        }
        const auto seed = static_cast<std::uint64_t>(m.i64());
        const std::string reference_file = m.str(), reference_library = m.str(), reference_entry = m.str();
        buffers.clear();
        reference.clear();
        for (std::size_t i = 0; i < signature.buffers.size(); ++i) {
          buffers.emplace_back(static_cast<std::size_t>(signature.buffers[i].elements));
          if (signature.buffers[i].output) {
            std::fill_n(buffers[i].data(), buffers[i].size(), std::numeric_limits<float>::quiet_NaN());
          } else {
            fill_input(buffers[i].span(), seed, i);
            buffers[i].read_only();  // the reference and the candidates may only read their inputs
          }
        }
        if (!reference_file.empty() && !reference_library.empty() && !std::filesystem::exists(reference_file)) {
          void* symbol = load_entry(reference_library, reference_entry, nullptr);
          if (symbol == nullptr) {
            fail("cannot load the reference kernel " + load_failure(reference_library, reference_entry));
            continue;
          }
          std::vector<float*> args;
          for (auto& b : buffers) args.push_back(b.data());
          reinterpret_cast<void (*)(float* const*)>(symbol)(args.data());
          std::FILE* f = std::fopen((reference_file + ".part").c_str(), "wb");
          bool written = f != nullptr;
          for (std::size_t i = 0; written && i < buffers.size(); ++i)
            if (signature.buffers[i].output) written = std::fwrite(buffers[i].data(), sizeof(float), buffers[i].size(), f) == buffers[i].size();
          if (f != nullptr) written = std::fclose(f) == 0 && written;
          if (!written || std::rename((reference_file + ".part").c_str(), reference_file.c_str()) != 0) {
            fail("cannot write the reference outputs to " + reference_file);
            continue;
          }
        }
        if (!reference_file.empty()) {
          std::FILE* f = std::fopen(reference_file.c_str(), "rb");
          bool read = f != nullptr;
          for (std::size_t i = 0; read && i < buffers.size(); ++i) {
            if (!signature.buffers[i].output) continue;
            reference.emplace_back(buffers[i].size());
            read = std::fread(reference.back().data(), sizeof(float), buffers[i].size(), f) == buffers[i].size();
          }
          if (f != nullptr) std::fclose(f);
          if (!read) {
            reference.clear();
            fail("cannot read the reference outputs from " + reference_file);
            continue;
          }
        }
        send_message(out, MessageOut().i64(reply_ok));
      } else if (command == run_command) {
        const std::string library = m.str(), entry = m.str();
        const double slow_cutoff = m.f64();  // 0: off
        void* handle = nullptr;
        void* symbol = load_entry(library, entry, &handle);
        if (symbol == nullptr) {
          fail("cannot load " + load_failure(library, entry));
          continue;
        }
        if (options.threads > 0) {  // the runtime the kernel brought: tell it how many threads to use
          if (void* set = ::dlsym(handle, "omp_set_num_threads")) reinterpret_cast<void (*)(int)>(set)(options.threads);
        }
        if (options.bind_threads) bind_threads(handle);
        send_message(out, MessageOut().i64(reply_loaded));
        auto kernel = reinterpret_cast<void (*)(float* const*)>(symbol);
        std::vector<float*> args;
        for (auto& b : buffers) args.push_back(b.data());
        using clock = std::chrono::steady_clock;
        const auto run_start = clock::now();
        double first = -1;  // seconds of the first run (the check, or a warm-up run)
        std::string wrong;
        if (options.check && !reference.empty()) {
          for (std::size_t i = 0; i < buffers.size(); ++i)
            if (signature.buffers[i].output) std::fill_n(buffers[i].data(), buffers[i].size(), std::numeric_limits<float>::quiet_NaN());
          kernel(args.data());
          first = std::chrono::duration<double>(clock::now() - run_start).count();
          std::size_t r = 0;
          for (std::size_t i = 0; i < buffers.size() && wrong.empty(); ++i) {
            if (!signature.buffers[i].output) continue;
            if (auto off = check_close(buffers[i].span(), reference[r++], options.tolerance))
              wrong = "output '" + signature.buffers[i].name + "': " + *off;
          }
        }
        if (!wrong.empty()) {
          send_message(out, MessageOut().i64(reply_result).i64(static_cast<std::int64_t>(ErrorCode::wrong_answer)).str(wrong).i64(0).i64(0));
          continue;
        }
        TimingOptions timing = options.timing;
        if (first < 0 && timing.warmup > 0) {  // no check: the first warm-up run tells how long a run takes
          const auto start = clock::now();
          kernel(args.data());
          first = std::chrono::duration<double>(clock::now() - start).count();
        }
        if (first >= 0) timing.warmup = std::max<std::int64_t>(0, timing.warmup - 1);  // that run warmed it
        // A candidate far slower than the best known is timed by its first run alone: it will not be chosen,
        // and its repeats would cost more than the whole timing of a good one.
        if (first > 0 && slow_cutoff > 0 && first > slow_cutoff) {
          MessageOut result;
          result.i64(reply_result).i64(0).str("").i64(1).i64(1).f64(first);
          send_message(out, result);
          continue;
        }
        // A candidate whose timing cannot finish within the limit is judged now, not after burning it.
        if (first >= 0) {
          const double repeat = std::max(first * static_cast<double>(timing.number), timing.min_repeat_ms * 1e-3);
          const double projected = static_cast<double>(timing.warmup) * first + static_cast<double>(timing.repeat) * repeat;
          const double spent = std::chrono::duration<double>(clock::now() - run_start).count();
          if (spent + projected > options.timeout_s) {
            char text[320];
            std::snprintf(text, sizeof text,
                          "one run takes %.3g s, so the warm-up and %lld repeats would take about %.3g s more: past the %g s "
                          "time limit (stopped before timing)",
                          first, static_cast<long long>(timing.repeat), projected, options.timeout_s);
            send_message(out, MessageOut().i64(reply_result).i64(static_cast<std::int64_t>(ErrorCode::run_timeout)).str(text).i64(0).i64(0));
            continue;
          }
        }
        const Timing t = time_function([&] { kernel(args.data()); }, timing, &flusher);
        MessageOut result;
        result.i64(reply_result).i64(0).str("").i64(t.number).i64(static_cast<std::int64_t>(t.costs_seconds.size()));
        for (double c : t.costs_seconds) result.f64(c);
        send_message(out, result);
      } else {
        ::_exit(3);
      }
    }
  } catch (const std::exception& e) {
    fail(std::string("the worker failed: ") + e.what());
  } catch (...) {
  }
  ::_exit(4);
}

}  // namespace detail

class Runner {
 public:
  /// `work_dir` holds the reference outputs the worker saves (so a replacement worker need not run the
  /// reference again).
  [[nodiscard]] static Expected<Runner> make(RunOptions options, std::filesystem::path work_dir) {
    if (auto ok = options.validate(); !ok) return unexpected(std::move(ok).error());
    if (!options.pin_cpus.empty()) {
      cpu_set_t allowed;
      CPU_ZERO(&allowed);
      if (::sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
        std::string list;
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
          if (CPU_ISSET(cpu, &allowed)) (list += list.empty() ? "" : ",") += std::to_string(cpu);
        for (int cpu : options.pin_cpus)
          if (!CPU_ISSET(cpu, &allowed))
            return unexpected(Error(ErrorKind::invalid_argument,
                                    "measure::RunOptions: CPU " + std::to_string(cpu) + " of pin_cpus is not available to this process",
                                    {}, 0, 0, "pin to CPUs among " + list));
      }
    }
    std::error_code ec;
    std::filesystem::create_directories(work_dir, ec);
    if (ec || !std::filesystem::is_directory(work_dir))
      return unexpected(Error(ErrorKind::io, "cannot create the runner's folder" + (ec ? ": " + ec.message() : std::string(": not a folder")),
                              work_dir.string(), 0, 0, "give a writable folder"));
    return Runner(std::move(options), std::move(work_dir));
  }

  Runner(Runner&& other) noexcept { *this = std::move(other); }
  Runner& operator=(Runner&& other) noexcept {
    if (this != &other) {
      stop_worker();
      options_ = std::move(other.options_);
      work_dir_ = std::move(other.work_dir_);
      task_ = std::move(other.task_);
      remove_reference();
      reference_file_ = std::exchange(other.reference_file_, {});
      has_task_ = std::exchange(other.has_task_, false);
      worker_has_task_ = std::exchange(other.worker_has_task_, false);
      pid_ = std::exchange(other.pid_, -1);
      to_worker_ = std::exchange(other.to_worker_, -1);
      from_worker_ = std::exchange(other.from_worker_, -1);
      runs_ = other.runs_;
      tasks_ = other.tasks_;
      workers_started_ = other.workers_started_;
      stop_ = other.stop_;
      slow_cutoff_s_ = other.slow_cutoff_s_;
    }
    return *this;
  }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;
  ~Runner() {
    stop_worker();
    remove_reference();
  }

  [[nodiscard]] const RunOptions& options() const noexcept { return options_; }
  /// While `*stop` is true, run() returns at once (and a run in progress is abandoned, its worker killed).
  void set_stop_flag(const std::atomic<bool>* stop) noexcept { stop_ = stop; }

  /// Candidates whose first run (the check run, or the first warm-up run) takes longer than `seconds`
  /// are timed by that run alone: one cost, `number` 1, no repeats. A tuner sets it to a multiple of the
  /// best cost it knows, so hopeless candidates cost one run instead of the full timing (0: off).
  void set_slow_cutoff(double seconds) noexcept { slow_cutoff_s_ = seconds > 0 && std::isfinite(seconds) ? seconds : 0; }
  [[nodiscard]] double slow_cutoff() const noexcept { return slow_cutoff_s_; }
  /// Workers started so far (the first one, and one after each crash, time-out or recycling).
  [[nodiscard]] std::size_t workers_started() const noexcept { return workers_started_; }

  /// Sets the task the next candidates run on: allocates and fills the buffers in the worker and
  /// computes the reference. Errors: an invalid signature, reference values that do not match the
  /// outputs, a reference kernel that fails to load, crashes or runs past reference_timeout_s.
  [[nodiscard]] Expected<void> set_task(RunTask task) {
    if (auto ok = task.signature.validate(); !ok) return ok;
    std::size_t outputs = 0;
    for (const auto& b : task.signature.buffers) outputs += b.output ? 1 : 0;
    if (!task.reference_values.empty()) {
      if (!task.reference_library.empty())
        return unexpected(Error(ErrorKind::invalid_argument, "measure::RunTask: give a reference kernel or reference values, not both"));
      if (task.reference_values.size() != outputs)
        return unexpected(Error(ErrorKind::invalid_argument, "measure::RunTask: " + std::to_string(task.reference_values.size()) +
                                                                  " reference vectors for " + std::to_string(outputs) + " outputs"));
    }
    remove_reference();
    if (!task.reference_library.empty() || !task.reference_values.empty()) {
      std::string name = "reference_";
      name += std::to_string(::getpid());
      name += '_';
      name += std::to_string(unique_file_number());
      name += ".bin";
      reference_file_ = work_dir_ / name;
      ++tasks_;
    }
    if (!task.reference_values.empty()) {
      std::FILE* f = std::fopen(reference_file_.c_str(), "wb");
      bool written = f != nullptr;
      std::size_t r = 0;
      for (const auto& b : task.signature.buffers) {
        if (!b.output || !written) continue;
        const auto& values = task.reference_values[r++];
        if (static_cast<std::int64_t>(values.size()) != b.elements) {
          if (f != nullptr) std::fclose(f);
          return unexpected(Error(ErrorKind::invalid_argument, "measure::RunTask: the reference for '" + b.name + "' holds " +
                                                                    std::to_string(values.size()) + " values, the buffer " +
                                                                    std::to_string(b.elements)));
        }
        written = std::fwrite(values.data(), sizeof(float), values.size(), f) == values.size();
      }
      if (f != nullptr) written = std::fclose(f) == 0 && written;
      if (!written) return unexpected(Error(ErrorKind::io, "cannot write the reference outputs", reference_file_.string()));
      task.reference_values.clear();  // the worker reads them from the file
    }
    task_ = std::move(task);
    has_task_ = true;
    worker_has_task_ = false;
    auto sent = send_task();
    if (!sent) has_task_ = false;  // no run() on a task whose setup failed (it would fail again, each time)
    return sent;
  }

  /// Runs the kernel `entry` of `library` on the current task: check, then timing.
  RunResult run(const std::filesystem::path& library, const std::string& entry) {
    RunResult result;
    if (stopping()) return stopped(result);
    if (!has_task_) {
      result.error = ErrorCode::unknown_error;
      result.message = "no task is set: call set_task first";
      return result;
    }
    if (runs_ >= options_.runs_per_worker) stop_worker();
    if (pid_ > 0) {  // a worker that died since its last reply (killed, out of memory) is replaced, not blamed
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        ::close(std::exchange(to_worker_, -1));
        ::close(std::exchange(from_worker_, -1));
        pid_ = -1;
        worker_has_task_ = false;
      }
    }
    if (auto ok = send_task(); !ok) {
      result.error = ErrorCode::unknown_error;
      result.message = "the worker could not set up the task again: " + ok.error().describe();
      return result;
    }
    ++runs_;
    if (!detail::send_message(to_worker_, detail::MessageOut().i64(detail::run_command).str(library.string()).str(entry).f64(slow_cutoff_s_)))
      return died(result, "sending the candidate");
    // Loading: not counted, but bounded (a library whose constructors hang).
    std::string raw;
    const auto load_deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(std::max(30.0, options_.timeout_s));
    switch (detail::receive_message(from_worker_, raw, std::chrono::time_point_cast<std::chrono::steady_clock::duration>(load_deadline), stop_)) {
      case detail::ReadStatus::ok: break;
      case detail::ReadStatus::stopped: return stopped(result);
      case detail::ReadStatus::timed_out:
        return timed_out(result, "loading the library took longer than " + seconds_text(std::max(30.0, options_.timeout_s)) + " s");
      case detail::ReadStatus::closed: return died(result, "loading the library");
    }
    try {
      detail::MessageIn m(std::move(raw));
      if (m.i64() == detail::reply_error) {
        result.error = ErrorCode::runtime_device;
        result.message = m.str();
        return result;
      }
    } catch (const std::exception&) {
      return died(result, "reading its answer");
    }
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(options_.timeout_s));
    const auto status = detail::receive_message(from_worker_, raw, deadline, stop_);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    switch (status) {
      case detail::ReadStatus::ok: break;
      case detail::ReadStatus::stopped: return stopped(result);
      case detail::ReadStatus::timed_out:
        return timed_out(result, "the kernel ran past the " + seconds_text(options_.timeout_s) + " s time limit (check run, warm-up and " +
                                     "timing) and its worker was killed");
      case detail::ReadStatus::closed: return died(result, "running the kernel");
    }
    try {
      detail::MessageIn m(std::move(raw));
      const auto reply = m.i64();
      if (reply == detail::reply_error) {  // the worker's own failure (out of memory), not the kernel's
        result.error = ErrorCode::unknown_error;
        result.message = m.str();
        stop_worker();
        return result;
      }
      if (reply != detail::reply_result) return died(result, "reading the result");
      result.error = error_code_from_number(m.i64()).value_or(ErrorCode::unknown_error);
      result.message = m.str();
      result.timing.number = m.i64();
      const auto repeats = m.i64();
      for (std::int64_t i = 0; i < repeats; ++i) result.timing.costs_seconds.push_back(m.f64());
    } catch (const std::exception&) {
      return died(result, "reading the result");
    }
    return result;
  }

 private:
  Runner() = default;
  Runner(RunOptions options, std::filesystem::path work_dir) : options_(std::move(options)), work_dir_(std::move(work_dir)) {}

  [[nodiscard]] bool stopping() const noexcept { return stop_ != nullptr && stop_->load(std::memory_order_relaxed); }

  RunResult& stopped(RunResult& result) {
    stop_worker();
    result.error = ErrorCode::unknown_error;
    result.message = "stopped before the candidate was judged";
    result.stopped = true;
    return result;
  }
  RunResult& timed_out(RunResult& result, const std::string& why) {
    stop_worker();
    result.error = ErrorCode::run_timeout;
    result.message = why;
    return result;
  }
  /// The worker's pipe closed: collect how it ended.
  RunResult& died(RunResult& result, const char* during) {
    const int status = reap_worker();
    result.error = ErrorCode::runtime_device;
    if (WIFSIGNALED(status)) {
      result.message = std::string("the worker died of ") + signal_description(WTERMSIG(status)) + " while " + during;
      if (WTERMSIG(status) == SIGSEGV)
        result.message += " (an access out of bounds, a write to a read-only input, or a stack overflow)";
    } else if (WIFEXITED(status)) {
      result.message = std::string("the kernel ended the worker with exit status ") + std::to_string(WEXITSTATUS(status)) + " while " + during;
    } else {
      result.message = std::string("the worker stopped answering while ") + during;
    }
    return result;
  }

  [[nodiscard]] Expected<void> start_worker() {
    // Sockets, not pipes: a message to a worker that has died is an error (send with MSG_NOSIGNAL),
    // never a SIGPIPE that would end the tuner.
    int down[2], up[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, down) != 0)
      return unexpected(Error(ErrorKind::backend, std::string("socketpair: ") + std::strerror(errno)));
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, up) != 0) {
      const int err = errno;
      ::close(down[0]);
      ::close(down[1]);
      return unexpected(Error(ErrorKind::backend, std::string("socketpair: ") + std::strerror(err)));
    }
    // A kernel that calls exit() flushes the worker's copy of the stdio buffers: empty them first, so
    // nothing the parent printed is printed twice.
    std::fflush(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      const int err = errno;
      for (int fd : {down[0], down[1], up[0], up[1]}) ::close(fd);
      return unexpected(Error(ErrorKind::backend, std::string("cannot start the measuring worker (fork): ") + std::strerror(err), {}, 0, 0,
                              "free memory or raise the process limit"));
    }
    if (pid == 0) {  // the worker
#if defined(__linux__)
      // Dies with the thread that forked it (when that thread ends, the next run() starts a new worker).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
      if (::getppid() != parent) ::_exit(0);
      ::setpgid(0, 0);  // a group of its own: a time-out kills whatever the kernel started, too
#if defined(__GLIBC__)
      // A kernel that calls exit() must not run the host program's atexit handlers and static
      // destructors (a copy of the parent's state: temporary folders, loggers, buffered files). Handlers
      // run last-registered first, so this one ends the process before any of them.
      ::on_exit([](int status, void*) { ::_exit(status); }, nullptr);
#endif
      detail::close_other_descriptors(down[0], up[1]);
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      ::sigaction(SIGINT, &ignore, nullptr);
      struct sigaction plain {};
      plain.sa_handler = SIG_DFL;
      for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGTERM, SIGPIPE}) ::sigaction(s, &plain, nullptr);
      if (options_.threads > 0) ::setenv("OMP_NUM_THREADS", std::to_string(options_.threads).c_str(), 1);
      if (!options_.pin_cpus.empty()) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int cpu : options_.pin_cpus) CPU_SET(cpu, &set);
        ::sched_setaffinity(0, sizeof set, &set);
        // bind_threads binds the threads itself; the runtime's own binding would first put the worker's
        // thread on the first CPU alone.
        if (!options_.bind_threads) ::setenv("OMP_PROC_BIND", "true", 1);
      }
      // The CPUs the worker may use, read now: once a kernel has started OpenMP's runtime, binding (its
      // own, under OMP_PROC_BIND, or bind_threads') narrows the worker's thread to one.
      if (options_.bind_threads) (void)detail::worker_cpus();
      detail::worker_main(down[0], up[1], options_);
    }
    ::setpgid(pid, pid);  // also here: whichever runs first, the group exists before any kill(-pid)
    ::close(down[0]);
    ::close(up[1]);
    pid_ = pid;
    to_worker_ = down[1];
    from_worker_ = up[0];
    runs_ = 0;
    worker_has_task_ = false;
    ++workers_started_;
    return {};
  }

  /// Starts a worker when none runs, and hands it the task when it does not have it.
  [[nodiscard]] Expected<void> send_task() {
    if (pid_ < 0)
      if (auto ok = start_worker(); !ok) return ok;
    if (worker_has_task_ || !has_task_) return {};
    detail::MessageOut m;
    m.i64(detail::task_command).i64(static_cast<std::int64_t>(task_.signature.buffers.size()));
    for (const auto& b : task_.signature.buffers) m.str(b.name).i64(b.elements).i64(b.output ? 1 : 0);
    m.i64(static_cast<std::int64_t>(task_.seed)).str(reference_file_.string()).str(task_.reference_library.string()).str(task_.reference_entry);
    if (!detail::send_message(to_worker_, m)) {
      RunResult r;
      died(r, "receiving the task");
      return unexpected(Error(ErrorKind::backend, r.message));
    }
    std::string raw;
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(options_.reference_timeout_s));
    const auto status = detail::receive_message(from_worker_, raw, deadline, stop_);
    if (status != detail::ReadStatus::ok) {
      RunResult r;
      if (status == detail::ReadStatus::closed) {
        died(r, "setting up the task (filling the inputs, running the reference kernel)");
      } else {
        stop_worker();
        r.message = status == detail::ReadStatus::stopped ? "stopped while setting up the task"
                                                          : "setting up the task (the reference kernel) took longer than " +
                                                                seconds_text(options_.reference_timeout_s) + " s";
      }
      return unexpected(Error(ErrorKind::backend, r.message, {}, 0, 0, "check the reference kernel, or raise reference_timeout_s"));
    }
    detail::MessageIn reply(std::move(raw));
    if (reply.i64() != detail::reply_ok) {
      const std::string why = reply.str();
      stop_worker();
      return unexpected(Error(ErrorKind::backend, why));
    }
    worker_has_task_ = true;
    return {};
  }

  /// Closes the pipes and waits for the worker; returns its wait status.
  int reap_worker() {
    int status = 0;
    if (pid_ > 0) {
      ::close(std::exchange(to_worker_, -1));
      // The worker exits when its pipe closes; one that is stuck in a kernel is killed.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
      pid_t done = 0;
      while ((done = ::waitpid(pid_, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
        const timespec pause{0, 1'000'000};
        ::nanosleep(&pause, nullptr);
      }
      if (done == 0) {
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
      }
      ::close(std::exchange(from_worker_, -1));
      pid_ = -1;
    }
    worker_has_task_ = false;
    return status;
  }
  void stop_worker() noexcept {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      ::close(std::exchange(to_worker_, -1));
      ::close(std::exchange(from_worker_, -1));
      pid_ = -1;
    }
    worker_has_task_ = false;
  }

  void remove_reference() noexcept {
    if (reference_file_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove(reference_file_, ignored);
    reference_file_.clear();
  }

  RunOptions options_;
  std::filesystem::path work_dir_;
  RunTask task_;
  std::filesystem::path reference_file_;
  bool has_task_ = false, worker_has_task_ = false;
  pid_t pid_ = -1;
  int to_worker_ = -1, from_worker_ = -1;
  std::size_t runs_ = 0, tasks_ = 0, workers_started_ = 0;
  const std::atomic<bool>* stop_ = nullptr;
  double slow_cutoff_s_ = 0;
};

}  // namespace crosstune::measure
