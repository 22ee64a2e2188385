// crosstune — the command-line tool. Subcommands:
//   crosstune logs stats [--json] [--skip-bad] FILE...   what a set of tuning logs holds
//   crosstune hw [--preset NAME | --target STRING | --cuda | --list-presets] [--json]   hardware descriptors
//   crosstune data stats|split|sample|export ... LOGS...   datasets, train/test splits, sampling
//   crosstune features --out X.npy [--mask-out M.npy] LOGS...   model input of every record
//   crosstune train | eval | finetune ... LOGS...   the BiLSTM-attention cost model
#include <CLI/CLI.hpp>

#include "crosstune/version.hpp"
#include "data_command.hpp"
#include "features_command.hpp"
#include "hw_command.hpp"
#include "logs_command.hpp"
#include "model_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"crosstune: learned cost models of tensor programs that transfer across hardware"};
  app.set_version_flag("--version", crosstune::version_string);
  app.require_subcommand(1);
  crosstune::cli::add_logs_command(app);
  crosstune::cli::add_hw_command(app);
  crosstune::cli::add_data_command(app);
  crosstune::cli::add_features_command(app);
  crosstune::cli::add_model_commands(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
