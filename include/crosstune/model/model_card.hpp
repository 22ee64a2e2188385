// crosstune/model/model_card.hpp — the card every shipped or calibrated model carries beside its weights:
// what it was trained on, how, how well it ranks tasks it never saw, and the command that rebuilds it.
//
// A model is only as trustworthy as what is known about it. `crosstune calibrate` writes MODEL.bin and
// MODEL.card.md together; the shipped models have one each (models/*.card.md). The card is Markdown for
// people, with one fenced JSON block holding the same facts for programs (read_model_card_json returns
// it).
//
//   model::ModelCard card;
//   card.name = "calibrated-cpu";
//   card.training.records = 2400; ...
//   io::write_file_atomically("model.card.md", card.to_markdown()).value();
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "crosstune/detail/json.hpp"
#include "crosstune/features/feature_batch.hpp"

namespace crosstune::model {

struct ModelCard {
  std::string name;            ///< e.g. "pretrained-cpu", "calibrated-cpu"
  std::string model_kind;      ///< "bilstm-attention", "mlp", ...
  std::string created;         ///< UTC date and time, ISO 8601
  std::string crosstune_version;
  std::string hardware;        ///< what measured the training records (CPU model, cores, ISA)
  std::string base_model;      ///< the model it was fine-tuned from ("" = trained from scratch)

  struct Data {
    std::vector<std::string> sources;  ///< logs, with how they were made
    std::size_t records = 0;           ///< successful records trained on
    std::size_t tasks = 0;
    std::vector<std::string> task_keys;  ///< the workload keys trained on
    std::string license;                 ///< of the records
  } training;

  features::FeatureLayout features{};  ///< the extractor's name, version and dimensions
  std::vector<std::pair<std::string, std::string>> hyperparameters;  ///< name → value, in order

  struct Metrics {
    std::size_t heldout_tasks = 0, heldout_records = 0;
    double pca = -1;          ///< pairwise comparison accuracy on held-out tasks (-1: not measured)
    double top1 = -1;         ///< best predicted / best measured throughput, mean over held-out tasks
    double base_pca = -1;     ///< the base model's PCA on the same tasks, before training (-1: none)
    std::vector<std::string> heldout_keys;
  } metrics;

  std::string reproduce;  ///< the command that rebuilds the model
  std::vector<std::string> notes;

  /// The facts as one JSON object.
  [[nodiscard]] std::string to_json() const {
    std::string out = "{";
    auto key = [&](const char* k) {
      if (out.size() > 1) out += ", ";
      crosstune::detail::append_json_string(out, k);
      out += ": ";
    };
    auto text = [&](const char* k, const std::string& v) {
      key(k);
      crosstune::detail::append_json_string(out, v);
    };
    auto number = [&](const char* k, double v) {
      key(k);
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.6g", v);
      out += buf;
    };
    auto list = [&](const char* k, const std::vector<std::string>& v) {
      key(k);
      out += '[';
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ", ";
        crosstune::detail::append_json_string(out, v[i]);
      }
      out += ']';
    };
    text("name", name);
    text("model_kind", model_kind);
    text("created", created);
    text("crosstune_version", crosstune_version);
    text("hardware", hardware);
    text("base_model", base_model);
    list("training_sources", training.sources);
    number("training_records", static_cast<double>(training.records));
    number("training_tasks", static_cast<double>(training.tasks));
    list("training_task_keys", training.task_keys);
    text("training_license", training.license);
    text("features", features.name);
    number("features_version", features.version);
    number("step_dims", static_cast<double>(features.step_dims));
    number("max_steps", static_cast<double>(features.max_steps));
    number("workload_dims", static_cast<double>(features.workload_dims));
    number("hardware_dims", static_cast<double>(features.hardware_dims));
    key("hyperparameters");
    out += '{';
    for (std::size_t i = 0; i < hyperparameters.size(); ++i) {
      if (i) out += ", ";
      crosstune::detail::append_json_string(out, hyperparameters[i].first);
      out += ": ";
      crosstune::detail::append_json_string(out, hyperparameters[i].second);
    }
    out += '}';
    number("heldout_tasks", static_cast<double>(metrics.heldout_tasks));
    number("heldout_records", static_cast<double>(metrics.heldout_records));
    number("heldout_pca", metrics.pca);
    number("heldout_top1", metrics.top1);
    number("base_model_heldout_pca", metrics.base_pca);
    list("heldout_task_keys", metrics.heldout_keys);
    text("reproduce", reproduce);
    out += '}';
    return out;
  }

  /// The card: headed sections for people, then the JSON block.
  [[nodiscard]] std::string to_markdown() const {
    auto metric = [](double v) {
      if (v < 0) return std::string("not measured");
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", v);
      return std::string(buf);
    };
    std::string md = "# Model card: " + name + "\n\n";
    md += "- model: " + model_kind + (base_model.empty() ? ", trained from scratch" : ", fine-tuned from " + base_model) + "\n";
    md += "- created: " + created + " with crosstune " + crosstune_version + "\n";
    md += "- measured on: " + hardware + "\n\n";
    md += "## Training data\n\n";
    md += std::to_string(training.records) + " successful records of " + std::to_string(training.tasks) + " tasks";
    md += training.license.empty() ? ".\n" : " (" + training.license + ").\n";
    for (const auto& s : training.sources) md += "- " + s + "\n";
    md += "\n## Features\n\n";
    md += "`" + features.name + "` version " + std::to_string(features.version) + ": " + std::to_string(features.max_steps) +
          " steps of " + std::to_string(features.step_dims) + " values, " + std::to_string(features.workload_dims) +
          " workload values, " + std::to_string(features.hardware_dims) +
          " hardware values. A model refuses features of another layout (features::check_compatible).\n";
    md += "\n## Hyper-parameters\n\n";
    for (const auto& [k, v] : hyperparameters) md += "- " + k + ": " + v + "\n";
    md += "\n## Held-out metrics\n\n";
    md += "On " + std::to_string(metrics.heldout_tasks) + " tasks (" + std::to_string(metrics.heldout_records) +
          " records) kept out of training: pairwise comparison accuracy " + metric(metrics.pca) + ", top-1 " + metric(metrics.top1);
    md += metrics.base_pca >= 0 ? "; the base model before training: " + metric(metrics.base_pca) + ".\n" : ".\n";
    for (const auto& n : notes) md += "\n" + n + "\n";
    md += "\n## Reproduce\n\n```sh\n" + reproduce + "\n```\n";
    md += "\n## Facts, for programs\n\n```json\n" + to_json() + "\n```\n";
    return md;
  }
};

/// The JSON block of a card written by ModelCard::to_markdown ("" when there is none).
[[nodiscard]] inline std::string read_model_card_json(const std::string& markdown) {
  const std::string open = "```json\n";
  const auto start = markdown.rfind(open);
  if (start == std::string::npos) return {};
  const auto end = markdown.find("\n```", start + open.size());
  if (end == std::string::npos) return {};
  return markdown.substr(start + open.size(), end - start - open.size());
}

}  // namespace crosstune::model
