// crosstune — the command-line tool. Subcommands:
//   crosstune logs stats [--json] [--skip-bad] FILE...   what a set of tuning logs holds
//   crosstune hw [--preset NAME | --target STRING | --cuda | --list-presets] [--json]   hardware descriptors
//   crosstune data stats|split|sample|export ... LOGS...   datasets, train/test splits, sampling
//   crosstune features --out X.npy [--mask-out M.npy] LOGS...   model input of every record
//   crosstune train | eval | finetune ... LOGS...   the cost models
//   crosstune codegen --op NAME --shape N,... | --key KEY [--random N] [--out F.cpp]   schedules, C++
//   crosstune codegen --replay LOGS... [--json]   which records replay onto their DAGs, and why not
//   crosstune measure --op NAME --shape N,... --random N --log OUT.json   build, check and time candidates
//   crosstune measure --replay LOG [--top K] --log OUT.json   re-measure a log's candidates
//
// Exit codes (common.hpp): 0 success, 1 a refused input or a failed operation, 2 a usage error, 130 an
// interrupted `measure`. No input
// ends the process with a signal: whatever escapes a command is reported here as exit 1. (A reader that
// closes the pipe early, as `crosstune ... | head` does, still ends it with SIGPIPE, as for any tool.)
#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "codegen_command.hpp"
#include "common.hpp"
#include "crosstune/version.hpp"
#include "data_command.hpp"
#include "features_command.hpp"
#include "hw_command.hpp"
#include "logs_command.hpp"
#include "measure_command.hpp"
#include "model_command.hpp"
#include "calibrate_command.hpp"
#include "tune_command.hpp"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"crosstune: learned cost models of tensor programs that transfer across hardware"};
  app.set_version_flag("--version", crosstune::version_string);
  app.add_flag("-q,--quiet", crosstune::cli::quiet,
               "No progress bars or notes on stderr (results, warnings "
               "and errors are still printed)");
  app.footer("Exit codes: 0 success, 1 refused input or failed operation, 2 usage error, 130 interrupted.");
  app.require_subcommand(1);
  crosstune::cli::add_logs_command(app);
  crosstune::cli::add_hw_command(app);
  crosstune::cli::add_data_command(app);
  crosstune::cli::add_features_command(app);
  crosstune::cli::add_model_commands(app);
  crosstune::cli::add_codegen_command(app);
  crosstune::cli::add_measure_command(app);
  crosstune::cli::add_tune_command(app);
  crosstune::cli::add_calibrate_command(app);
  // CLI11 reports a mistyped command as "A subcommand is required"; name it instead.
  if (argc > 1 && argv[1][0] != '-') {
    const auto commands = app.get_subcommands({});
    const std::string typed = argv[1];
    if (std::none_of(commands.begin(), commands.end(),
                     [&](const CLI::App* c) { return c->get_name() == typed; })) {
      std::vector<std::string> names;
      for (const CLI::App* c : commands)
        names.push_back(c->get_name());
      std::cerr << "crosstune: usage error: unknown command \"" << typed
                << "\" (commands: " << crosstune::cli::joined(names) << "; see `crosstune --help`)\n";
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::RuntimeError& e) {
    // The command has printed its error; 130 is an interrupted `measure` (as a shell reports SIGINT).
    return e.get_exit_code() == 0 || e.get_exit_code() == 130 ? e.get_exit_code() : 1;
  } catch (const CLI::ParseError& e) {
    // Usage errors: CLI11's message and where the options are listed; exit 2 whatever CLI11's code is.
    std::string command = "crosstune";
    for (const CLI::App* at = &app; !at->get_subcommands().empty();) {
      at = at->get_subcommands().front();
      command += " " + at->get_name();
    }
    std::cerr << "crosstune: usage error: " << e.what() << " (see `" << command << " --help`)\n";
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Past `ulimit -f` a write fails with EFBIG, which the writers report, instead of ending the process.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    const int rc = run(argc, argv);
    // Results go to stdout: a full disk or a closed pipe behind it is a failed command, not a success.
    std::cout.flush();
    if (rc == 0 && (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout))) {
      std::cerr << "crosstune: error: writing the results to standard output failed (is the disk full?)\n";
      return 1;
    }
    return rc;
  } catch (const std::bad_alloc&) {
    std::cerr << "crosstune: error: out of memory (use fewer logs, a smaller --batch or --max-steps; no "
                 "output file was changed)\n";
  } catch (const std::exception& e) {
    std::cerr << "crosstune: error: " << e.what() << '\n';
  } catch (...) {
    std::cerr << "crosstune: error: unexpected failure\n";
  }
  return 1;
}
