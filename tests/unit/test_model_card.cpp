// model::ModelCard: the Markdown a person reads and the JSON block a program reads say the same things.
#include "crosstune/model/model_card.hpp"

#include <doctest/doctest.h>

#include <string>

#include "crosstune/detail/json.hpp"

using namespace crosstune;

namespace {
model::ModelCard sample_card() {
  model::ModelCard card;
  card.name = "calibrated-cpu";
  card.model_kind = "bilstm-attention";
  card.created = "2026-11-30T12:00:00Z";
  card.crosstune_version = "0.1.0";
  card.hardware = "AMD EPYC (x86_64), 2 cores";
  card.base_model = "models/pretrained-cpu.bin";
  card.training.sources = {"cal.json: measured here"};
  card.training.records = 1200;
  card.training.tasks = 12;
  card.training.task_keys = {"[\"matmul_layer\", 64, 64, 64]"};  // quotes inside keys must stay JSON
  card.features = {"steps", 111, 44, 64, 27, 20};
  card.hyperparameters = {{"hidden", "32"}, {"epochs", "30"}};
  card.metrics.heldout_tasks = 3;
  card.metrics.heldout_records = 300;
  card.metrics.pca = 0.8125;
  card.metrics.top1 = 0.75;
  card.metrics.base_pca = 0.6;
  card.reproduce = "crosstune calibrate --budget 30 --out calibrated-cpu.bin";
  return card;
}
}  // namespace

TEST_CASE("the Markdown names the data, the features, the hyper-parameters, the held-out metrics and the command") {
  const std::string md = sample_card().to_markdown();
  CHECK(md.starts_with("# Model card: calibrated-cpu\n"));
  CHECK(md.find("fine-tuned from models/pretrained-cpu.bin") != std::string::npos);
  CHECK(md.find("1200 successful records of 12 tasks") != std::string::npos);
  CHECK(md.find("`steps` version 111: 64 steps of 44 values, 27 workload values, 20 hardware values") != std::string::npos);
  CHECK(md.find("- hidden: 32\n- epochs: 30\n") != std::string::npos);
  CHECK(md.find("On 3 tasks (300 records) kept out of training: pairwise comparison accuracy 0.812, top-1 0.750; the base model "
                "before training: 0.600.") != std::string::npos);
  CHECK(md.find("```sh\ncrosstune calibrate --budget 30 --out calibrated-cpu.bin\n```") != std::string::npos);
}

TEST_CASE("the JSON block is valid JSON holding the same facts, found again in the Markdown") {
  const auto card = sample_card();
  const std::string json = model::read_model_card_json(card.to_markdown());
  CHECK(json == card.to_json());
  // Valid JSON: the project's scanner walks it to the end without an error.
  crosstune::detail::JsonScanner scanner(json);
  CHECK(scanner.skip_value("the card"));
  CHECK(scanner.at_end());
  CHECK(json.find("\"heldout_pca\": 0.8125") != std::string::npos);
  CHECK(json.find("\"training_task_keys\": [\"[\\\"matmul_layer\\\", 64, 64, 64]\"]") != std::string::npos);
  CHECK(json.find("\"hyperparameters\": {\"hidden\": \"32\", \"epochs\": \"30\"}") != std::string::npos);
  CHECK(model::read_model_card_json("# no block here\n").empty());
}

TEST_CASE("metrics not measured say so instead of printing -1") {
  auto card = sample_card();
  card.metrics.pca = -1;
  card.metrics.base_pca = -1;
  card.base_model.clear();
  const std::string md = card.to_markdown();
  CHECK(md.find("pairwise comparison accuracy not measured") != std::string::npos);
  CHECK(md.find("trained from scratch") != std::string::npos);
  CHECK(md.find("the base model before training") == std::string::npos);
}
