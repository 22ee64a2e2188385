// crosstune/schedule/replay.hpp — replays tuning records onto the compute DAG their workload key names.
//
// A Replayer rebuilds each workload's DAG once (ir/workloads.hpp) and applies every record's steps to a
// fresh State. Records whose DAG cannot be rebuilt (keys hashed from network subgraphs, unknown names)
// and records with a refused step are counted by cause, so a run over a whole log reports what it could
// not replay and why; ReplayReport gathers those counts by operator family.
//
//   schedule::Replayer replayer;
//   schedule::ReplayReport report;
//   for (const Record& r : records) {
//     auto state = replayer.replay(r);
//     report.add(replayer.last_family(), replayer.last_cause(), state ? nullptr : &state.error());
//   }
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/ir/workloads.hpp"
#include "crosstune/schedule/state.hpp"

namespace crosstune::schedule {

/// Why a record did or did not replay.
enum class ReplayCause : std::uint8_t {
  replayed,          ///< every step applied
  hashed_key,        ///< the key is the hash of a network subgraph: no DAG to replay on
  unknown_workload,  ///< a named workload crosstune does not define
  bad_key,           ///< the key does not parse, or its arguments do not make a valid operator
  step_refused,      ///< the DAG was rebuilt but a step was refused
};

inline constexpr std::size_t replay_cause_count = 5;

[[nodiscard]] constexpr std::string_view to_string(ReplayCause cause) noexcept {
  switch (cause) {
    case ReplayCause::replayed: return "replayed";
    case ReplayCause::hashed_key: return "hashed_key";
    case ReplayCause::unknown_workload: return "unknown_workload";
    case ReplayCause::bad_key: return "bad_key";
    case ReplayCause::step_refused: return "step_refused";
  }
  return "invalid";
}

/// Rebuilds DAGs (once per workload key) and replays records onto them.
class Replayer {
 public:
  /// The DAG of `workload_key`, built on first use; the error says why it cannot be built.
  [[nodiscard]] Expected<std::shared_ptr<const ir::ComputeDag>> dag(std::string_view workload_key) {
    auto it = dags_.find(workload_key);
    if (it == dags_.end()) {
      Entry entry;
      entry.family = ir::workload_family(workload_key);
      if (entry.family.empty()) {
        auto parsed = parse_workload_key(workload_key);
        entry.family = parsed && parsed->hashed() ? "(hashed)" : "(unparsed)";
      }
      auto built = ir::dag_from_workload_key(workload_key);
      if (built) {
        entry.dag = std::make_shared<const ir::ComputeDag>(std::move(*built));
      } else {
        entry.error = built.error();
        auto parsed = parse_workload_key(workload_key);
        entry.cause = !parsed                                       ? ReplayCause::bad_key
                      : parsed->hashed()                            ? ReplayCause::hashed_key
                      : built.error().kind == ErrorKind::unsupported ? ReplayCause::unknown_workload
                                                                    : ReplayCause::bad_key;
      }
      it = dags_.emplace(std::string(workload_key), std::move(entry)).first;
    }
    last_cause_ = it->second.cause;
    last_family_ = &it->second.family;
    if (!it->second.dag) return unexpected(it->second.error);
    return it->second.dag;
  }

  /// The state after all of `steps` on the DAG of `workload_key`; the error names the refused step.
  [[nodiscard]] Expected<State> replay(std::string_view workload_key, const StepSequence& steps) {
    auto d = dag(workload_key);
    if (!d) return unexpected(std::move(d).error());
    State state(*d);
    if (auto ok = state.apply(steps); !ok) {
      last_cause_ = ReplayCause::step_refused;
      return unexpected(std::move(ok).error());
    }
    last_cause_ = ReplayCause::replayed;
    return state;
  }
  [[nodiscard]] Expected<State> replay(const Record& record) { return replay(record.task->workload_key, record.steps); }

  /// The cause of the last dag() or replay() call's outcome.
  [[nodiscard]] ReplayCause last_cause() const noexcept { return last_cause_; }
  /// The operator family of the last key asked for: its name, "(hashed)" for a hash key, "(unparsed)"
  /// for a key that does not parse.
  [[nodiscard]] const std::string& last_family() const noexcept { return last_family_ ? *last_family_ : empty_; }

 private:
  struct Entry {
    std::shared_ptr<const ir::ComputeDag> dag;
    Error error;
    ReplayCause cause = ReplayCause::replayed;
    std::string family;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> dags_;
  ReplayCause last_cause_ = ReplayCause::replayed;
  const std::string* last_family_ = nullptr;
  std::string empty_;
};

/// Counts of replay outcomes, in total and by operator family (as Replayer::last_family names it), plus the
/// first error seen for each family and cause.
struct ReplayReport {
  struct Counts {
    std::int64_t records = 0;
    std::array<std::int64_t, replay_cause_count> by_cause{};
    [[nodiscard]] std::int64_t replayed() const noexcept { return by_cause[0]; }
  };
  Counts total;
  std::map<std::string, Counts> by_family;
  std::map<std::string, std::string> first_error;  ///< "family/cause" → the error's text

  void add(const std::string& family, ReplayCause cause, const Error* error = nullptr) {
    auto& f = by_family[family];
    ++f.records;
    ++f.by_cause[static_cast<std::size_t>(cause)];
    ++total.records;
    ++total.by_cause[static_cast<std::size_t>(cause)];
    if (error != nullptr) first_error.try_emplace(family + "/" + std::string(to_string(cause)), error->describe());
  }
};

}  // namespace crosstune::schedule
