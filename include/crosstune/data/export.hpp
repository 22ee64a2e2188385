// crosstune/data/export.hpp — a Dataset's labels and task structure as NumPy .npy files, for people who
// analyse in Python.
//
//   crosstune::data::export_npy(dataset, "out/");   // labels.npy, costs.npy, task_index.npy,
//   task_offsets.npy
//
//   >>> labels = np.load("out/labels.npy")          # float32 [records], normalised throughput
//   >>> offsets = np.load("out/task_offsets.npy")   # int64 [tasks + 1]: task t is
//   labels[offsets[t]:offsets[t+1]]
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/data/dataset.hpp"
#include "crosstune/io/atomic_file.hpp"
#include "crosstune/io/npy_writer.hpp"

namespace crosstune::data {

/// Writes labels.npy (float32), costs.npy (float64 mean cost, seconds), task_index.npy (int64 task of
/// each record), task_offsets.npy (int64, tasks + 1) and tasks.tsv (task, hardware, op, FLOPs, workload key)
/// into `folder` (created if missing). Records are in dataset order: task by task, file order within.
/// All five are written to temporaries first and renamed into place one after another only once all are
/// complete, so a failure while writing (a full disk) leaves the files of an earlier export as they were.
/// (A crash between those renames can leave some files new and some old; each file is whole.)
[[nodiscard]] inline Expected<void> export_npy(const Dataset& ds, const std::filesystem::path& folder) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) {
    return unexpected(Error(ErrorKind::io, "cannot create the folder: " + ec.message(), folder.string(), 0, 0,
                            "choose a folder you can write to"));
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
  std::string tsv = "task\thardware\top\tflops\tworkload_key\n";
  for (std::size_t t = 0; t < ds.tasks().size(); ++t) {
    const auto& task = ds.tasks()[t];
    tsv += std::to_string(t) + '\t' + task.hardware + '\t' + std::string(to_string(task.workload.op)) + '\t' +
           (task.workload.flops ? std::to_string(*task.workload.flops) : std::string()) + '\t' +
           task.workload_key + '\n';
  }
  // Each writer holds its temporary until close(); the first failure drops the ones not yet closed.
  auto open = [&]<class T>(const char* name, const std::vector<T>& values) -> Expected<io::NpyWriter<T>> {
    auto npy = io::NpyWriter<T>::open(folder / name, {values.size()});
    if (!npy) return npy;
    if (auto ok = npy->append(std::span<const T>(values)); !ok) return unexpected(std::move(ok).error());
    return npy;
  };
  auto labels_npy = open("labels.npy", labels);
  if (!labels_npy) return unexpected(std::move(labels_npy).error());
  auto costs_npy = open("costs.npy", costs);
  if (!costs_npy) return unexpected(std::move(costs_npy).error());
  auto index_npy = open("task_index.npy", task_index);
  if (!index_npy) return unexpected(std::move(index_npy).error());
  auto offsets_npy = open("task_offsets.npy", offsets);
  if (!offsets_npy) return unexpected(std::move(offsets_npy).error());
  auto tasks_tsv = io::AtomicFile::create(folder / "tasks.tsv");
  if (!tasks_tsv) return unexpected(std::move(tasks_tsv).error());
  if (auto ok = tasks_tsv->write(tsv); !ok) return ok;
  if (auto ok = labels_npy->close(); !ok) return ok;
  if (auto ok = costs_npy->close(); !ok) return ok;
  if (auto ok = index_npy->close(); !ok) return ok;
  if (auto ok = offsets_npy->close(); !ok) return ok;
  return tasks_tsv->commit();
}

}  // namespace crosstune::data
