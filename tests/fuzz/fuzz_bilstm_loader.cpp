// libFuzzer target: any bytes, made to pass the checksum, given to the BiLSTM-attention model's loader
// (deserialize_model) must load or be refused with an Error naming the file — never a crash, an
// allocation the file does not pay for, or undefined behaviour. Whatever loads must score a small batch
// of its feature layout (inference and training passes) and save to the very bytes it came from.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "crosstune/model/bilstm_attention.hpp"
#include "crosstune/model/trainer.hpp"
#include "model_fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace model = crosstune::model;
  namespace fuzz = crosstune::fuzz;
  const std::string bytes = fuzz::with_valid_checksum(data, size);
  auto loaded = model::deserialize_model(bytes, fuzz::model_file_name);
  if (!loaded) {
    fuzz::require_refusal(loaded.error());
    return 0;
  }
  if (model::serialize_model(*loaded->net, loaded->layout) != bytes) std::abort();
  if (!model::deserialize_model(bytes, fuzz::model_file_name)) std::abort();
  if (fuzz::small_enough(loaded->layout)) {
    const auto batch = fuzz::small_batch(loaded->layout);
    if (!crosstune::features::check_batch(loaded->layout, batch)) std::abort();
    std::vector<float> scores(batch.size());
    model::predict(*loaded->net, batch, scores);
    (void)loaded->net->forward(batch);
  }
  return 0;
}
