// crosstune/model/serialization.hpp — versioned binary weights files for the BiLSTM-attention model.
//
// Layout (all integers little-endian):
//   "CRTNMDL\0" | format version u32 | architecture: 8 x u64 (step, workload, hardware dims, embedding,
//   hidden, layers, heads, head_hidden) | feature layout: name (u32 length + bytes), version i32, 4 x u64
//   (step dims, max steps, workload dims, hardware dims) | parameter count u64 | per parameter: rows u64,
//   cols u64, rows*cols f32 (column-major) | FNV-1a 64 checksum of everything before it, u64.
//
// A truncated file, a wrong magic or version, a checksum mismatch or sizes that disagree with the
// architecture are refused with an Error saying which. Saving a loaded model gives the same bytes. The
// CUDA implementation will read the same file.
//
//   crosstune::model::save_model("model.bin", net, extractor.layout()).value();
//   auto loaded = crosstune::model::load_model("model.bin");   // net + the layout it was trained on
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/model/bilstm_attention.hpp"

namespace crosstune::model {

inline constexpr char model_file_magic[8] = {'C', 'R', 'T', 'N', 'M', 'D', 'L', '\0'};
inline constexpr std::uint32_t model_file_version = 2;  // 2: the attention key projection has no bias
/// The XGBoost baseline's files (model/xgboost.hpp), here so that builds without XGBoost recognise them.
inline constexpr char xgb_file_magic[8] = {'C', 'R', 'T', 'N', 'X', 'G', 'B', '\0'};

namespace detail {
inline std::uint64_t fnv1a(const std::string& bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}
template <class T>
void put(std::string& out, T value) {
  static_assert(std::is_trivially_copyable_v<T>);
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // the project targets little-endian hosts (x86-64, AArch64)
  out.append(bytes, sizeof(T));
}
struct Reader {
  const std::string& data;
  std::size_t pos = 0;
  bool ok = true;
  template <class T>
  T get() {
    T value{};
    if (pos + sizeof(T) > data.size()) {
      ok = false;
      return value;
    }
    std::memcpy(&value, data.data() + pos, sizeof(T));
    pos += sizeof(T);
    return value;
  }
  std::string get_string() {
    const auto n = get<std::uint32_t>();
    if (!ok || pos + n > data.size()) {
      ok = false;
      return {};
    }
    std::string s = data.substr(pos, n);
    pos += n;
    return s;
  }
};

inline void put_layout(std::string& out, const features::FeatureLayout& layout) {
  put(out, static_cast<std::uint32_t>(layout.name.size()));
  out += layout.name;
  put(out, static_cast<std::int32_t>(layout.version));
  for (std::size_t v : {layout.step_dims, layout.max_steps, layout.workload_dims, layout.hardware_dims})
    put(out, static_cast<std::uint64_t>(v));
}
inline features::FeatureLayout get_layout(Reader& in) {
  features::FeatureLayout layout;
  layout.name = in.get_string();
  layout.version = in.get<std::int32_t>();
  for (std::size_t* v : {&layout.step_dims, &layout.max_steps, &layout.workload_dims, &layout.hardware_dims})
    *v = static_cast<std::size_t>(in.get<std::uint64_t>());
  return layout;
}
/// Parameter count, then per parameter rows, cols and the float32 values (column-major).
inline void put_parameters(std::string& out, const std::vector<Parameter<float>>& params) {
  put(out, static_cast<std::uint64_t>(params.size()));
  for (const auto& p : params) {
    put(out, static_cast<std::uint64_t>(p.value->rows()));
    put(out, static_cast<std::uint64_t>(p.value->cols()));
    out.append(reinterpret_cast<const char*>(p.value->data()),
               static_cast<std::size_t>(p.value->size()) * sizeof(float));
  }
}
/// Reads put_parameters' bytes into parameters of the expected shapes; the checksum's 8 bytes follow.
/// Returns what was wrong, or an empty string.
inline std::string get_parameters(Reader& in, const std::vector<Parameter<float>>& params) {
  if (in.get<std::uint64_t>() != params.size() || !in.ok)
    return "parameter count does not match the architecture";
  for (const auto& p : params) {
    const auto rows = in.get<std::uint64_t>(), cols = in.get<std::uint64_t>();
    if (!in.ok || rows != static_cast<std::uint64_t>(p.value->rows()) ||
        cols != static_cast<std::uint64_t>(p.value->cols())) {
      return std::string("shape of parameter '") + p.name + "' does not match the architecture";
    }
    const std::size_t n = static_cast<std::size_t>(rows * cols) * sizeof(float);
    if (in.pos + n > in.data.size() - 8) return "truncated weights";
    std::memcpy(p.value->data(), in.data.data() + in.pos, n);
    in.pos += n;
  }
  if (in.pos != in.data.size() - 8) return "unexpected bytes after the weights";
  return {};
}
/// Checks magic and checksum; returns what was wrong, or an empty string.
inline std::string check_envelope(const std::string& bytes, const char (&magic)[8]) {
  if (bytes.size() < sizeof magic + 4 + 8 || std::memcmp(bytes.data(), magic, sizeof magic) != 0)
    return "bad magic";
  std::uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (fnv1a(bytes.substr(0, bytes.size() - 8)) != stored) return "checksum";
  return {};
}
/// Opens a model file's bytes: checks magic, checksum and format version (errors name the file as `name`
/// and the format as `kind`, e.g. "MLP model"); returns a Reader placed after the version.
inline Expected<Reader> open_model_bytes(const std::string& bytes, const char (&magic)[8],
                                         std::uint32_t version, const std::string& kind,
                                         const std::string& name) {
  auto fail = [&](const std::string& what, const std::string& hint = {}) {
    return unexpected(Error(ErrorKind::parse, what, name, 0, 0, hint));
  };
  if (const auto wrong = check_envelope(bytes, magic); wrong == "bad magic") {
    return fail("not a crosstune " + kind + " file (bad magic)");
  } else if (!wrong.empty()) {
    return fail("checksum mismatch: the file is truncated or corrupted", "retrain or copy the file again");
  }
  Reader in{bytes, sizeof magic};
  if (const auto found = in.get<std::uint32_t>(); found != version) {
    return fail(kind + " file version " + std::to_string(found) + ", this crosstune reads version " +
                std::to_string(version));
  }
  return in;
}
inline Expected<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return unexpected(Error(ErrorKind::io, "cannot open the model file", path.string()));
  return std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
/// Reads the file at `path` and hands its bytes to Model::deserialize, which names the file in its errors.
template <class Model>
[[nodiscard]] Expected<Model> load_file(const std::filesystem::path& path) {
  auto bytes = read_file(path);
  if (!bytes) return unexpected(std::move(bytes).error());
  return Model::deserialize(*bytes, path.string());
}
inline Expected<void> write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return unexpected(Error(ErrorKind::io, "cannot open for writing", path.string()));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out)
    return unexpected(Error(ErrorKind::io, "write failed", path.string(), 0, 0, "check free disk space"));
  return {};
}
}  // namespace detail

/// The bytes of a weights file for `net`, trained on features of `layout`.
[[nodiscard]] inline std::string serialize_model(BiLstmAttentionNet<float>& net,
                                                 const features::FeatureLayout& layout) {
  using detail::put;
  std::string out(model_file_magic, sizeof model_file_magic);
  put(out, model_file_version);
  const auto& c = net.config();
  for (std::size_t v : {c.step_dims, c.workload_dims, c.hardware_dims, c.embedding, c.hidden, c.layers,
                        c.heads, c.head_hidden})
    put(out, static_cast<std::uint64_t>(v));
  detail::put_layout(out, layout);
  detail::put_parameters(out, net.parameters());
  put(out, detail::fnv1a(out));
  return out;
}

[[nodiscard]] inline Expected<void> save_model(const std::filesystem::path& path,
                                               BiLstmAttentionNet<float>& net,
                                               const features::FeatureLayout& layout) {
  return detail::write_file(path, serialize_model(net, layout));
}

struct LoadedModel {
  std::unique_ptr<BiLstmAttentionNet<float>> net;
  features::FeatureLayout layout;  ///< what the model was trained on; check it against the extractor
};

/// Parses a weights file's bytes; `name` stands for the file in errors.
[[nodiscard]] inline Expected<LoadedModel> deserialize_model(const std::string& bytes,
                                                             const std::string& name = "<memory>") {
  auto fail = [&](const std::string& what, const std::string& hint = {}) {
    return unexpected(Error(ErrorKind::parse, what, name, 0, 0, hint));
  };
  auto opened =
      detail::open_model_bytes(bytes, model_file_magic, model_file_version, "BiLSTM-attention model", name);
  if (!opened) return unexpected(std::move(opened).error());
  auto& in = *opened;
  BiLstmAttentionConfig c;
  for (std::size_t* v : {&c.step_dims, &c.workload_dims, &c.hardware_dims, &c.embedding, &c.hidden, &c.layers,
                         &c.heads, &c.head_hidden})
    *v = static_cast<std::size_t>(in.get<std::uint64_t>());
  LoadedModel loaded;
  loaded.layout = detail::get_layout(in);
  if (!in.ok) return fail("truncated header");
  if (auto valid = c.validate(); !valid) return fail("invalid architecture: " + valid.error().message);
  if (c.layers > 64 || c.hidden > (1u << 16) || c.embedding > (1u << 16) || c.step_dims > (1u << 16)) {
    return fail("implausible architecture sizes");
  }
  Rng rng(0);
  loaded.net = std::make_unique<BiLstmAttentionNet<float>>(c, rng);
  if (const auto wrong = detail::get_parameters(in, loaded.net->parameters()); !wrong.empty())
    return fail(wrong);
  return loaded;
}

[[nodiscard]] inline Expected<LoadedModel> load_model(const std::filesystem::path& path) {
  auto bytes = detail::read_file(path);
  if (!bytes) return unexpected(std::move(bytes).error());
  return deserialize_model(*bytes, path.string());
}

}  // namespace crosstune::model
