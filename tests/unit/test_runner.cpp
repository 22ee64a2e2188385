// The forked Runner: a reused worker that a bad kernel cannot take down with it. Crashes, exits and
// stack overflows are runtime_device with the signal; hangs are run_timeout with the worker killed;
// wrong or unwritten outputs are wrong_answer naming the element; the next kernel gets a fresh worker
// and is measured correctly.
#include "crosstune/measure/runner.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "crosstune/measure/compiler.hpp"
#include "measure_support.hpp"
#include "test_support.hpp"

using namespace crosstune;
using measure::RunOptions;
using measure::RunResult;
using measure::Runner;
using measure::RunTask;

namespace {
/// Every test kernel in one library, built once for the whole file.
const std::filesystem::path& kernels() {
  static const test::TempDir dir;
  static const std::filesystem::path library = [] {
    const std::vector<std::pair<std::string, std::string>> bodies = {
        {"t_right", test::right_body},           {"t_also_right", test::also_right_body},
        {"t_segfault", test::segfault_body},     {"t_endless", test::endless_body},
        {"t_abort", test::abort_body},           {"t_exit", test::exit_body},
        {"t_wrong", test::wrong_body},           {"t_unwritten", test::unwritten_body},
        {"t_huge_stack", test::huge_stack_body}, {"t_millisecond", test::millisecond_body},
        {"t_one_thread", test::one_thread_body}, {"t_one_cpu", test::one_cpu_body},
        {"t_bound", test::bound_body}, {"t_unbound", test::unbound_body}};
    std::string source = test::kernel_preamble;
    for (const auto& [entry, body] : bodies) source += test::kernel(entry, body).body;
    const auto path = dir / "kernels.so";
    auto built = measure::compile_shared_library(source, path, {}, 120);
    REQUIRE_MESSAGE(built.has_value(), built.error().describe());
    return path;
  }();
  return library;
}

/// The task of the test kernels, with the reference kernel t_right.
RunTask reference_kernel_task(std::uint64_t seed = 1) {
  return RunTask{.signature = test::doubling_signature(), .seed = seed, .reference_library = kernels(), .reference_entry = "t_right"};
}
/// The same task with the reference's values computed here.
RunTask reference_values_task(std::uint64_t seed = 1) {
  return RunTask{.signature = test::doubling_signature(), .seed = seed, .reference_values = {test::doubled_inputs(seed)}};
}

/// A runner with the reference kernel's task set.
Runner runner_for(const test::TempDir& dir, RunOptions options = {}) {
  auto runner = Runner::make(std::move(options), dir.path());
  REQUIRE_MESSAGE(runner.has_value(), runner.error().describe());
  auto set = runner->set_task(reference_kernel_task());
  REQUIRE_MESSAGE(set.has_value(), set.error().describe());
  return std::move(*runner);
}

/// A right kernel's result: no error, one positive cost per repeat.
void check_measured(const RunResult& r, std::size_t repeats = 3) {
  CHECK_MESSAGE(r.error == ErrorCode::no_error, r.message);
  CHECK(r.message.empty());
  CHECK_FALSE(r.stopped);
  REQUIRE(r.timing.costs_seconds.size() == repeats);
  for (double c : r.timing.costs_seconds) CHECK(c > 0);
  CHECK(r.timing.number >= 1);
  CHECK(r.seconds > 0);
}

std::string run_refusal(const RunOptions& options) {
  auto ok = options.validate();
  REQUIRE_FALSE(ok.has_value());
  CHECK(ok.error().kind == ErrorKind::invalid_argument);
  const test::TempDir dir;
  auto made = Runner::make(options, dir.path());
  REQUIRE_FALSE(made.has_value());
  CHECK(made.error().message == ok.error().message);
  return ok.error().message;
}

std::string task_refusal(RunTask task) {
  const test::TempDir dir;
  auto runner = Runner::make({.timeout_s = 2, .reference_timeout_s = 2}, dir.path()).value();
  auto set = runner.set_task(std::move(task));
  REQUIRE_FALSE(set.has_value());
  return set.error().message;
}
}  // namespace

TEST_CASE("signals are described by name and by the system's words") {
  CHECK(measure::signal_description(SIGSEGV) == "SIGSEGV (segmentation fault)");
  CHECK(measure::signal_description(SIGABRT) == "SIGABRT (aborted)");
  CHECK(measure::signal_description(SIGFPE) == "SIGFPE (floating point exception)");
  CHECK(measure::signal_description(SIGKILL) == "SIGKILL (killed)");
  CHECK(measure::signal_description(SIGBUS).rfind("SIGBUS (bus error", 0) == 0);
  std::string realtime = "signal ";
  realtime += std::to_string(SIGRTMIN + 1);
  realtime += " (";
  CHECK(measure::signal_description(SIGRTMIN + 1).rfind(realtime, 0) == 0);
}

TEST_CASE("run options are refused when a time is not positive, a count too small or a CPU not a CPU") {
  CHECK(run_refusal({.timeout_s = 0}) == "measure::RunOptions: timeout_s must be a positive time of at most 10^6 s");
  CHECK(run_refusal({.timeout_s = NAN}) == "measure::RunOptions: timeout_s must be a positive time of at most 10^6 s");
  CHECK(run_refusal({.timeout_s = INFINITY}) == "measure::RunOptions: timeout_s must be a positive time of at most 10^6 s");
  CHECK(run_refusal({.reference_timeout_s = -1}) == "measure::RunOptions: reference_timeout_s must be a positive time of at most 10^6 s");
  CHECK(run_refusal({.threads = -1}) == "measure::RunOptions: threads must not be negative");
  CHECK(run_refusal({.pin_cpus = {0, -1}}) == "measure::RunOptions: pin_cpus holds -1, not a CPU number");
  CHECK(run_refusal({.pin_cpus = {CPU_SETSIZE}}).find("not a CPU number") != std::string::npos);
  CHECK(run_refusal({.runs_per_worker = 0}) == "measure::RunOptions: runs_per_worker must be at least 1");
  CHECK(run_refusal({.timing = {.repeat = 0}}).find("measure::TimingOptions") != std::string::npos);
  const RunOptions defaults;
  CHECK(defaults.validate().has_value());
  CHECK(defaults.timeout_s == 10);
  CHECK(defaults.runs_per_worker == 500);
  CHECK(defaults.check);
}

TEST_CASE("make refuses a folder it cannot create; run without a task says so") {
  const test::TempDir dir;
  test::write_file(dir / "file", "");
  auto refused = Runner::make({}, dir / "file" / "sub");
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == ErrorKind::io);
  auto runner = Runner::make({}, dir / "new").value();
  CHECK(std::filesystem::is_directory(dir / "new"));
  const RunResult r = runner.run(kernels(), "t_right");
  CHECK(r.error == ErrorCode::unknown_error);
  CHECK(r.message == "no task is set: call set_task first");
  CHECK(runner.workers_started() == 0);
}

TEST_CASE("a right kernel is checked and timed: one cost per repeat, the number asked for, in one worker") {
  const test::TempDir dir;
  auto runner = runner_for(dir, {.timing = {.number = 2, .repeat = 4}});
  CHECK(runner.workers_started() == 1);
  const RunResult r = runner.run(kernels(), "t_right");
  check_measured(r, 4);
  CHECK(r.timing.number == 2);
  check_measured(runner.run(kernels(), "t_also_right"), 4);
  CHECK(runner.workers_started() == 1);
  CHECK(runner.options().timing.repeat == 4);
}

TEST_CASE("the worker is reused over many runs, and replaced every runs_per_worker candidates") {
  const test::TempDir dir;
  {
    auto runner = runner_for(dir);
    for (int i = 0; i < 25; ++i) {
      const RunResult r = runner.run(kernels(), i % 2 == 0 ? "t_right" : "t_also_right");
      REQUIRE_MESSAGE(r.ok(), r.message);
    }
    CHECK(runner.workers_started() == 1);
    if (auto children = test::child_processes()) CHECK(children->size() == 1);
  }
  if (auto children = test::child_processes()) CHECK(children->empty());  // the runner took its worker with it
  auto runner = runner_for(dir, {.runs_per_worker = 3});
  for (int i = 0; i < 6; ++i) REQUIRE(runner.run(kernels(), "t_right").ok());
  CHECK(runner.workers_started() == 2);  // runs 1-3, 4-6
  // The replacement worker has the task again, reference included: a wrong kernel is still caught.
  CHECK(runner.run(kernels(), "t_wrong").error == ErrorCode::wrong_answer);
  CHECK(runner.workers_started() == 3);
}

TEST_CASE("a kernel that crashes, aborts, exits or overflows its stack is runtime_device; the next one is measured") {
  struct Case {
    const char* entry;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"t_segfault", "the worker died of SIGSEGV (segmentation fault) while running the kernel (an access out of bounds, a write to a read-only input, or a stack overflow)"},
      {"t_abort", "the worker died of SIGABRT (aborted) while running the kernel"},
      {"t_exit", "the kernel ended the worker with exit status 3 while running the kernel"},
      {"t_huge_stack", test::huge_stack_overflows() ? "the worker died of SIGSEGV (segmentation fault) while running the kernel (an access out of bounds, a write to a read-only input, or a stack overflow)" : ""},
  };
  const test::TempDir dir;
  auto runner = runner_for(dir);
  check_measured(runner.run(kernels(), "t_right"));
  std::size_t workers = runner.workers_started();
  CHECK(workers == 1);
  for (const auto& c : cases) {
    CAPTURE(c.entry);
    const RunResult bad = runner.run(kernels(), c.entry);
    if (c.message.empty()) {  // an unlimited stack: the kernel runs, and is right
      MESSAGE("the stack is unlimited: the huge frame does not overflow");
      CHECK(bad.ok());
    } else {
      CHECK(bad.error == ErrorCode::runtime_device);
      CHECK(bad.message == c.message);
      CHECK(bad.timing.costs_seconds.empty());
      check_measured(runner.run(kernels(), "t_right"));
      CHECK(runner.workers_started() == ++workers);  // a fresh worker, with the task set up again
    }
  }
}

TEST_CASE("a kernel that never returns is run_timeout at the limit; its worker is killed and the next kernel measured") {
  const test::TempDir dir;
  auto runner = runner_for(dir, {.timeout_s = 0.5});
  const auto start = std::chrono::steady_clock::now();
  const RunResult r = runner.run(kernels(), "t_endless");
  CHECK(test::seconds_since(start) < 3);
  CHECK(r.error == ErrorCode::run_timeout);
  CHECK(r.message == "the kernel ran past the 0.5 s time limit (check run, warm-up and timing) and its worker was killed");
  CHECK(r.seconds >= 0.5);
  CHECK(r.seconds < 3);
  if (auto children = test::child_processes()) CHECK(children->empty());  // killed and reaped
  check_measured(runner.run(kernels(), "t_right"));
  CHECK(runner.workers_started() == 2);
  // Twice more: each time-out costs one worker, never more.
  CHECK(runner.run(kernels(), "t_endless").error == ErrorCode::run_timeout);
  CHECK(runner.run(kernels(), "t_endless").error == ErrorCode::run_timeout);
  check_measured(runner.run(kernels(), "t_also_right"));
  CHECK(runner.workers_started() == 4);
  if (auto children = test::child_processes()) CHECK(children->size() == 1);
}

TEST_CASE("wrong outputs, and an output element left unwritten, are wrong_answer naming the output and the element") {
  const test::TempDir dir;
  auto runner = runner_for(dir);
  const RunResult wrong = runner.run(kernels(), "t_wrong");
  CHECK(wrong.error == ErrorCode::wrong_answer);
  CHECK(wrong.message.rfind("output 'B': element ", 0) == 0);
  CHECK(wrong.message.find("of 256 elements are off") != std::string::npos);
  CHECK(wrong.timing.costs_seconds.empty());
  const RunResult unwritten = runner.run(kernels(), "t_unwritten");
  CHECK(unwritten.error == ErrorCode::wrong_answer);
  CHECK(unwritten.message.rfind("output 'B': element 255 is nan where ", 0) == 0);
  CHECK(unwritten.message.find("1 of 256 elements are off") != std::string::npos);
  // The NaN fill is redone before every check: a right kernel after the two is right.
  check_measured(runner.run(kernels(), "t_right"));
  CHECK(runner.workers_started() == 1);  // wrong answers do not cost a worker
}

TEST_CASE("a reference given by values judges as the reference kernel does") {
  const test::TempDir dir;
  for (const bool by_values : {false, true}) {
    CAPTURE(by_values);
    auto runner = Runner::make({}, dir.path()).value();
    REQUIRE(runner.set_task(by_values ? reference_values_task() : reference_kernel_task()).has_value());
    CHECK(runner.run(kernels(), "t_right").ok());
    CHECK(runner.run(kernels(), "t_also_right").ok());
    CHECK(runner.run(kernels(), "t_wrong").error == ErrorCode::wrong_answer);
    CHECK(runner.run(kernels(), "t_unwritten").error == ErrorCode::wrong_answer);
  }
}

TEST_CASE("the task's seed picks the inputs: values for another seed are wrong; a new task replaces the old") {
  const test::TempDir dir;
  auto runner = Runner::make({}, dir.path()).value();
  RunTask mismatched = reference_values_task(1);
  mismatched.seed = 2;
  REQUIRE(runner.set_task(mismatched).has_value());
  CHECK(runner.run(kernels(), "t_right").error == ErrorCode::wrong_answer);
  REQUIRE(runner.set_task(reference_values_task(2)).has_value());
  CHECK(runner.run(kernels(), "t_right").ok());
  REQUIRE(runner.set_task(reference_kernel_task(3)).has_value());
  CHECK(runner.run(kernels(), "t_right").ok());
  CHECK(runner.run(kernels(), "t_wrong").error == ErrorCode::wrong_answer);
  CHECK(runner.workers_started() == 1);
}

TEST_CASE("without a reference, or with check off, outputs are not compared; the tolerance decides what is close") {
  const test::TempDir dir;
  auto unchecked = Runner::make({}, dir.path()).value();
  REQUIRE(unchecked.set_task({.signature = test::doubling_signature(), .seed = 1}).has_value());
  check_measured(unchecked.run(kernels(), "t_wrong"));
  auto check_off = runner_for(dir, {.check = false});
  check_measured(check_off.run(kernels(), "t_unwritten"));
  // Reference values 1e-3 off (relative): wrong at the default rtol 1e-4, right at 1e-2.
  RunTask off = reference_values_task();
  for (float& v : off.reference_values[0]) v *= 1.001f;
  for (const double rtol : {1e-4, 1e-2}) {
    CAPTURE(rtol);
    auto runner = Runner::make({.tolerance = {.rtol = rtol}}, dir.path()).value();
    REQUIRE(runner.set_task(off).has_value());
    CHECK(runner.run(kernels(), "t_right").ok() == (rtol > 1e-3));
  }
}

TEST_CASE("set_task refuses an invalid signature and reference values that do not fit the outputs") {
  CHECK(task_refusal({}) == "measure::KernelSignature: no buffers");
  RunTask two_outputs{.signature = {{{"A", 4}, {"B", 4, true}, {"C", 4, true}}}, .reference_values = {std::vector<float>(4)}};
  CHECK(task_refusal(two_outputs) == "measure::RunTask: 1 reference vectors for 2 outputs");
  RunTask short_values = reference_values_task();
  short_values.reference_values[0].resize(3);
  CHECK(task_refusal(short_values) == "measure::RunTask: the reference for 'B' holds 3 values, the buffer 256");
  RunTask both = reference_values_task();
  both.reference_library = kernels();
  both.reference_entry = "t_right";
  CHECK(task_refusal(both) == "measure::RunTask: give a reference kernel or reference values, not both");
}

TEST_CASE("set_task fails when the reference kernel does not load, crashes or hangs; the runner recovers") {
  RunTask missing = reference_kernel_task();
  missing.reference_entry = "t_missing";
  CHECK(task_refusal(missing).find("cannot load the reference kernel 't_missing' from ") != std::string::npos);
  RunTask crashing = reference_kernel_task();
  crashing.reference_entry = "t_segfault";
  const std::string crashed = task_refusal(crashing);
  CHECK(crashed.find("SIGSEGV") != std::string::npos);
  CHECK(crashed.find("setting up the task") != std::string::npos);
  RunTask hanging = reference_kernel_task();
  hanging.reference_entry = "t_endless";
  const test::TempDir dir;
  auto runner = Runner::make({.reference_timeout_s = 0.5}, dir.path()).value();
  const auto start = std::chrono::steady_clock::now();
  auto set = runner.set_task(hanging);
  CHECK(test::seconds_since(start) < 3);
  REQUIRE_FALSE(set.has_value());
  CHECK(set.error().message == "setting up the task (the reference kernel) took longer than 0.5 s");
  CHECK(set.error().hint.find("reference_timeout_s") != std::string::npos);
  // A good task afterwards works, in a fresh worker.
  REQUIRE(runner.set_task(reference_kernel_task()).has_value());
  check_measured(runner.run(kernels(), "t_right"));
  CHECK(runner.workers_started() == 2);
}

TEST_CASE("a library or entry that does not load is runtime_device with the loader's words, and costs no worker") {
  const test::TempDir dir;
  auto runner = runner_for(dir);
  const RunResult no_library = runner.run(dir / "absent.so", "t_right");
  CHECK(no_library.error == ErrorCode::runtime_device);
  std::string loader = "cannot load 't_right' from ";
  loader += (dir / "absent.so").string();
  loader += ": ";
  CHECK(no_library.message.rfind(loader, 0) == 0);
  const RunResult no_entry = runner.run(kernels(), "t_nope");
  CHECK(no_entry.error == ErrorCode::runtime_device);
  CHECK(no_entry.message.find("t_nope") != std::string::npos);
  check_measured(runner.run(kernels(), "t_right"));
  CHECK(runner.workers_started() == 1);
}

TEST_CASE("a kernel of about a millisecond: number grows to fill min_repeat_ms, each cost is at least the millisecond") {
  const test::TempDir dir;
  auto runner = runner_for(dir, {.timing = {.repeat = 2, .min_repeat_ms = 50}});
  const RunResult r = runner.run(kernels(), "t_millisecond");
  check_measured(r, 2);
  CHECK(r.timing.number >= 5);  // about 55 at 1 ms a run
  for (double c : r.timing.costs_seconds) CHECK(c >= 1e-3);
  CHECK(static_cast<double>(r.timing.number) * r.timing.mean_seconds() >= 0.025);
  auto plain = runner_for(dir, {.timing = {.repeat = 2}});
  const RunResult once = plain.run(kernels(), "t_millisecond");
  check_measured(once, 2);
  CHECK(once.timing.number == 1);
}

TEST_CASE("threads sets OpenMP's thread count in the worker; pin_cpus its CPUs") {
  const test::TempDir dir;
  auto one_thread = runner_for(dir, {.threads = 1});
  check_measured(one_thread.run(kernels(), "t_one_thread"));  // aborts unless OpenMP runs one thread
  const int cpu = test::last_allowed_cpu();
  ::setenv("CROSSTUNE_TEST_CPU", std::to_string(cpu).c_str(), 1);  // the worker inherits it
  auto pinned = runner_for(dir, {.pin_cpus = {cpu}});
  check_measured(pinned.run(kernels(), "t_one_cpu"));  // aborts unless the worker may use that CPU only
  ::unsetenv("CROSSTUNE_TEST_CPU");
}

TEST_CASE("bind_threads binds each thread of the worker, OpenMP's pool included, to a CPU of its own") {
  // Also where this program has started OpenMP before forking (XGBoost links it, when found): the worker
  // binds its threads itself rather than through OMP_PROC_BIND, which the runtime reads at its start.
  const test::TempDir dir;
  const std::vector<int> cpus = test::allowed_cpus();
  const int threads = std::clamp(static_cast<int>(cpus.size()), 1, 2);
  ::setenv("CROSSTUNE_TEST_THREADS", std::to_string(threads).c_str(), 1);  // the workers inherit it
  auto bound = runner_for(dir, {.threads = threads, .bind_threads = true});
  check_measured(bound.run(kernels(), "t_bound"));  // aborts unless each thread may use one CPU, none shared
  check_measured(bound.run(kernels(), "t_right"));
  check_measured(bound.run(kernels(), "t_bound"));  // bound again: the threads stay apart
  if (cpus.size() >= 2) {
    CHECK(bound.run(kernels(), "t_unbound").error == ErrorCode::runtime_device);
    // With pin_cpus, within those CPUs (the runtime's own binding would have put the worker on the first).
    auto pinned = runner_for(dir, {.threads = 2, .pin_cpus = {cpus[cpus.size() - 2], cpus.back()}, .bind_threads = true});
    check_measured(pinned.run(kernels(), "t_bound"));
    auto plain = runner_for(dir, {.threads = 2});
    check_measured(plain.run(kernels(), "t_unbound"));  // aborts if the worker's thread is bound
    CHECK(plain.run(kernels(), "t_bound").error == ErrorCode::runtime_device);
  }
  ::unsetenv("CROSSTUNE_TEST_THREADS");
}

TEST_CASE("the stop flag: a run does not start, and a run in progress is abandoned at once") {
  const test::TempDir dir;
  std::atomic<bool> stop{true};
  auto runner = runner_for(dir, {.timeout_s = 20});
  runner.set_stop_flag(&stop);
  const RunResult before = runner.run(kernels(), "t_right");
  CHECK(before.stopped);
  CHECK(before.error == ErrorCode::unknown_error);
  CHECK(before.message == "stopped before the candidate was judged");
  stop = false;
  check_measured(runner.run(kernels(), "t_right"));
  std::thread raiser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
  });
  const auto start = std::chrono::steady_clock::now();
  const RunResult during = runner.run(kernels(), "t_endless");
  const double seconds = test::seconds_since(start);
  raiser.join();
  CHECK(during.stopped);
  CHECK(seconds < 3);  // not the 20 s limit
  stop = false;
  check_measured(runner.run(kernels(), "t_right"));  // a fresh worker
  runner.set_stop_flag(nullptr);
  check_measured(runner.run(kernels(), "t_right"));
}

TEST_CASE("a runner moves with its worker and its task") {
  const test::TempDir dir;
  auto first = runner_for(dir);
  check_measured(first.run(kernels(), "t_right"));
  Runner moved = std::move(first);
  CHECK(moved.workers_started() == 1);
  CHECK(moved.run(kernels(), "t_wrong").error == ErrorCode::wrong_answer);
  check_measured(moved.run(kernels(), "t_right"));
  CHECK(moved.workers_started() == 1);
  if (auto children = test::child_processes()) CHECK(children->size() == 1);
}

namespace {
/// Kernels of the review's cases, in a library of their own.
const std::filesystem::path& more_kernels() {
  static const test::TempDir dir;
  static const std::filesystem::path library = [] {
    std::string source = test::kernel_preamble;
    source += "#include <cstdio>\n";
    // Right, but asks for SIGALRM a little later: the worker dies between candidates.
    source += test::kernel("t_alarm", "alarm(1);\n" + test::right_body).body;
    // Writes its input, then computes the right answer from what it changed.
    source += test::kernel("t_writes_input", "a[0][3] = 42;\n" + test::right_body).body;
    // exit(), the library function: runs atexit handlers, unless the worker stops them.
    source += test::kernel("t_real_exit", "std::exit(3);").body;
    // Right, and takes 300 ms a run (busy-waiting).
    source += test::kernel("t_slow", "const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);\n"
                                     "while (std::chrono::steady_clock::now() < until) {}\n" + test::right_body).body;
    const auto path = dir / "more.so";
    auto built = measure::compile_shared_library(source, path, {}, 120);
    REQUIRE_MESSAGE(built.has_value(), built.error().describe());
    return path;
  }();
  return library;
}

std::string marker_folder;  // where the atexit handler below leaves a file named after its process
void leave_marker() {
  if (marker_folder.empty()) return;
  std::ofstream((std::filesystem::path(marker_folder) / std::to_string(::getpid())).string()) << "ran\n";
}
}  // namespace

TEST_CASE("a worker that dies between candidates is replaced: the next candidate is measured, not blamed, and nothing raises SIGPIPE") {
  const test::TempDir dir;
  auto runner = runner_for(dir, {.timing = {.repeat = 1}});
  const RunResult first = runner.run(more_kernels(), "t_alarm");
  REQUIRE_MESSAGE(first.ok(), first.message);
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));  // SIGALRM has killed the idle worker
  const RunResult next = runner.run(kernels(), "t_right");
  CHECK_MESSAGE(next.ok(), next.message);
  CHECK(runner.workers_started() == 2);
}

TEST_CASE("inputs are read-only: a kernel that writes them crashes, and later kernels still see the right inputs") {
  const test::TempDir dir;
  auto runner = runner_for(dir);
  const RunResult bad = runner.run(more_kernels(), "t_writes_input");
  CHECK(bad.error == ErrorCode::runtime_device);
  CHECK(bad.message.find("SIGSEGV") != std::string::npos);
  CHECK(bad.message.find("read-only input") != std::string::npos);
  check_measured(runner.run(kernels(), "t_right"));
  // The same with the reference by values (no reference kernel run in the worker).
  auto by_values = Runner::make({}, dir.path()).value();
  REQUIRE(by_values.set_task(reference_values_task(5)));
  CHECK(by_values.run(more_kernels(), "t_writes_input").error == ErrorCode::runtime_device);
  check_measured(by_values.run(kernels(), "t_right"));
}

TEST_CASE("a kernel that calls exit() ends only its worker: the host program's atexit handlers do not run there") {
  const test::TempDir dir;
  const test::TempDir markers;
  marker_folder = markers.path().string();
  static bool registered = false;
  if (!registered) registered = std::atexit(leave_marker) == 0;
  REQUIRE(registered);
  auto runner = runner_for(dir);
  const RunResult r = runner.run(more_kernels(), "t_real_exit");
  CHECK(r.error == ErrorCode::runtime_device);
  CHECK(r.message == "the kernel ended the worker with exit status 3 while running the kernel");
  CHECK(std::filesystem::is_empty(markers.path()));  // the worker ran none of this process's handlers
  check_measured(runner.run(kernels(), "t_right"));
  marker_folder.clear();  // this process's own exit leaves no file in a folder that is gone
}

TEST_CASE("loading time is not counted against the run's time limit") {
  const test::TempDir dir;
  // Loading takes 1.5 s (a constructor), running no time.
  std::string source = test::kernel_preamble;
  source += "__attribute__((constructor)) static void slow_load() { usleep(1500000); }\n";
  source += test::kernel("t_slow_load", test::right_body).body;
  auto built = measure::compile_shared_library(source, dir / "slow.so", {}, 120);
  REQUIRE_MESSAGE(built.has_value(), built.error().describe());
  auto runner = runner_for(dir, {.timing = {.repeat = 1}, .timeout_s = 0.5});
  const RunResult r = runner.run(dir / "slow.so", "t_slow_load");  // 1.5 s to load, microseconds to run
  CHECK_MESSAGE(r.ok(), r.message);
  CHECK(r.seconds < 0.5);
}

TEST_CASE("pinning to a CPU this process may not use is refused when the runner is made") {
  const test::TempDir dir;
  auto runner = Runner::make({.pin_cpus = {CPU_SETSIZE - 1}}, dir.path());
  REQUIRE_FALSE(runner.has_value());
  CHECK(runner.error().message.find("CPU " + std::to_string(CPU_SETSIZE - 1) + " of pin_cpus is not available") != std::string::npos);
  CHECK(runner.error().hint.rfind("pin to CPUs among ", 0) == 0);
}

TEST_CASE("a candidate whose first run shows its timing cannot finish in the limit is run_timeout at once, in the same worker") {
  const test::TempDir dir;
  auto runner = runner_for(dir, {.timing = {.repeat = 3}, .timeout_s = 0.8});
  check_measured(runner.run(kernels(), "t_right"));
  const auto start = std::chrono::steady_clock::now();
  const RunResult r = runner.run(more_kernels(), "t_slow");  // 0.3 s check + 3 × 0.3 s > 0.8 s
  CHECK(test::seconds_since(start) < 0.8);
  CHECK(r.error == ErrorCode::run_timeout);
  CHECK(r.message.find("past the 0.8 s time limit (stopped before timing)") != std::string::npos);
  CHECK(runner.workers_started() == 1);  // judged by the worker, which lives on
  check_measured(runner.run(kernels(), "t_right"));
  // With a limit it fits in, the same kernel is measured.
  auto roomy = runner_for(dir, {.timing = {.repeat = 1}, .timeout_s = 5});
  check_measured(roomy.run(more_kernels(), "t_slow"), 1);
}

TEST_CASE("a candidate slower than the slow cutoff is timed by its first run alone; faster ones get the full timing") {
  const test::TempDir dir;
  auto runner = runner_for(dir, {.timing = {.repeat = 3}, .timeout_s = 10});
  runner.set_slow_cutoff(0.1);
  CHECK(runner.slow_cutoff() == 0.1);
  const auto start = std::chrono::steady_clock::now();
  const RunResult slow = runner.run(more_kernels(), "t_slow");  // 0.3 s a run: past the cutoff
  CHECK(test::seconds_since(start) < 0.3 * 3);                   // not the check run and 3 repeats
  check_measured(slow, 1);
  CHECK(slow.timing.number == 1);
  CHECK(slow.timing.costs_seconds[0] >= 0.3);
  check_measured(runner.run(kernels(), "t_millisecond"), 3);  // under the cutoff: every repeat
  runner.set_slow_cutoff(0);                                   // off
  check_measured(runner.run(more_kernels(), "t_slow"), 3);
  runner.set_slow_cutoff(-1);  // nonsense is off, not a cutoff
  CHECK(runner.slow_cutoff() == 0);
}
