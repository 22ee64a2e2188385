// crosstune/data/export.hpp — a Dataset's labels and task structure as NumPy .npy files (via xtensor),
// for people who analyse in Python.
//
//   crosstune::data::export_npy(dataset, "out/");   // labels.npy, costs.npy, task_index.npy, task_offsets.npy
//
//   >>> labels = np.load("out/labels.npy")          # float32 [records], normalised throughput
//   >>> offsets = np.load("out/task_offsets.npy")   # int64 [tasks + 1]: task t is labels[offsets[t]:offsets[t+1]]
#pragma once

#include <xtensor/xadapt.hpp>
#include <xtensor/xnpy.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/data/dataset.hpp"

namespace crosstune::data {

/// Writes labels.npy (float32), costs.npy (float64 mean cost, seconds), task_index.npy (int64 task of
/// each record), task_offsets.npy (int64, tasks + 1) and tasks.tsv (task, hardware, op, FLOPs, workload key)
/// into `folder` (created if missing). Records are in dataset order: task by task, file order within.
[[nodiscard]] inline Expected<void> export_npy(const Dataset& ds, const std::filesystem::path& folder) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) {
    return unexpected(Error(ErrorKind::io, "cannot create the folder: " + ec.message(), folder.string()));
  }
  std::vector<float> labels;
  std::vector<double> costs;
  std::vector<std::int64_t> task_index, offsets{0};
  labels.reserve(ds.records());
  for (std::size_t t = 0; t < ds.tasks().size(); ++t) {
    const auto& task = ds.tasks()[t];
    labels.insert(labels.end(), task.labels.begin(), task.labels.end());
    costs.insert(costs.end(), task.mean_costs_seconds.begin(), task.mean_costs_seconds.end());
    task_index.insert(task_index.end(), task.size(), static_cast<std::int64_t>(t));
    offsets.push_back(static_cast<std::int64_t>(labels.size()));
  }
  try {
    xt::dump_npy((folder / "labels.npy").string(), xt::adapt(labels));
    xt::dump_npy((folder / "costs.npy").string(), xt::adapt(costs));
    xt::dump_npy((folder / "task_index.npy").string(), xt::adapt(task_index));
    xt::dump_npy((folder / "task_offsets.npy").string(), xt::adapt(offsets));
  } catch (const std::exception& e) {
    return unexpected(Error(ErrorKind::io, std::string("writing .npy failed: ") + e.what(), folder.string()));
  }
  std::ofstream tsv(folder / "tasks.tsv");
  tsv << "task\thardware\top\tflops\tworkload_key\n";
  for (std::size_t t = 0; t < ds.tasks().size(); ++t) {
    const auto& task = ds.tasks()[t];
    tsv << t << '\t' << task.hardware << '\t' << to_string(task.workload.op) << '\t'
        << (task.workload.flops ? std::to_string(*task.workload.flops) : std::string("")) << '\t' << task.workload_key
        << '\n';
  }
  if (!tsv) return unexpected(Error(ErrorKind::io, "writing tasks.tsv failed", (folder / "tasks.tsv").string()));
  return {};
}

}  // namespace crosstune::data
