// crosstune/model/serialization.hpp — the envelope and parts shared by crosstune's weights files.
//
// Every model file (the BiLSTM-attention model in model/bilstm_attention.hpp, the MLP baseline in
// model/mlp.hpp, the XGBoost baseline in model/xgboost.hpp) has the same envelope, all integers
// little-endian:
//   magic (8 bytes, one per model kind) | format version u32 | the model's own fields | FNV-1a 64 checksum
//   of everything before it, u64.
// The model fields are built from the parts here: a feature layout (name as u32 length + bytes, version
// i32, 4 x u64: step dims, max steps, workload dims, hardware dims) and parameters (count u64, then per
// parameter rows u64, cols u64 and rows*cols f32, column-major).
//
// A checksum only tells a damaged file from an intact one; a crafted file has a valid one. So a loader
// trusts no field: read_file refuses anything but a regular file of a known magic and a sane size before
// reading it whole, every size a file declares is bounded before anything is allocated from it, and the
// weights' byte count is checked against the architecture before a network is built. Every refusal is an
// Error naming the file, what is wrong and what to do.
//
//   std::string out(model_file_magic, sizeof model_file_magic);           // a writer
//   detail::put(out, version); /* model fields */ detail::put(out, detail::fnv1a(out));
//   auto in = detail::open_model_bytes(bytes, model_file_magic, version, "BiLSTM-attention model", name);
//   auto model = detail::load_file<MlpModel>("mlp.bin");                   // a loader, by model kind
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/io/atomic_file.hpp"
#include "crosstune/model/parameter.hpp"

namespace crosstune::model {

/// The magic of each model kind's file. All are here, so that any build recognises every crosstune model
/// file, including the XGBoost baseline's in builds without XGBoost.
inline constexpr char model_file_magic[8] = {'C', 'R', 'T', 'N', 'M', 'D', 'L', '\0'};  // BiLSTM-attention
inline constexpr char mlp_file_magic[8] = {'C', 'R', 'T', 'N', 'M', 'L', 'P', '\0'};
inline constexpr char xgb_file_magic[8] = {'C', 'R', 'T', 'N', 'X', 'G', 'B', '\0'};

/// Bounds on what a model file may declare, checked before anything is allocated from it. They sit far
/// above any model crosstune trains (widths of a few hundred, 64 steps, a few MB of weights) and keep
/// every size computed from them well inside 64 bits.
inline constexpr std::uint64_t max_model_file_bytes = std::uint64_t{2} << 30;  // 2 GiB
inline constexpr std::uint64_t max_layout_name_bytes = 256;
/// Any width of a network or a feature layout, and a layout's max steps.
inline constexpr std::uint64_t max_model_dimension = std::uint64_t{1} << 16;

namespace detail {
inline std::uint64_t fnv1a(std::string_view bytes) {
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
/// Reads a model file's fields in order, never into its checksum (the last 8 bytes). At the checksum, or
/// on a field that breaks a bound, it stops: `ok` turns false, `problem` says why, and every later read
/// gives zero.
struct Reader {
  const std::string& data;
  std::size_t pos = 0;
  bool ok = true;
  std::string problem{};

  /// Bytes left before the checksum.
  [[nodiscard]] std::size_t remaining() const noexcept {
    const std::size_t end = data.size() >= 8 ? data.size() - 8 : 0;
    return pos < end ? end - pos : 0;
  }
  void fail(std::string what) {
    if (ok) problem = std::move(what);
    ok = false;
  }
  template <class T>
  T get() {
    T value{};
    if (!ok) return value;
    if (sizeof(T) > remaining()) {
      fail("truncated header");
      return value;
    }
    std::memcpy(&value, data.data() + pos, sizeof(T));
    pos += sizeof(T);
    return value;
  }
  /// A u32 length, then that many bytes; `what` names the field if the length is over `max_bytes`.
  std::string get_string(std::size_t max_bytes, const std::string& what) {
    const auto n = get<std::uint32_t>();
    if (!ok) return {};
    if (n > max_bytes) {
      fail(what + " is " + std::to_string(n) + " bytes long, more than the " + std::to_string(max_bytes) +
           " allowed");
      return {};
    }
    if (n > remaining()) {
      fail("truncated header");
      return {};
    }
    std::string s = data.substr(pos, n);
    pos += n;
    return s;
  }
};

/// Empty when `value` lies in [low, high]; otherwise what is wrong with the field named `what`.
[[nodiscard]] inline std::string check_range(const std::string& what, std::uint64_t value, std::uint64_t low,
                                             std::uint64_t high) {
  if (value >= low && value <= high) return {};
  return what + " is " + std::to_string(value) + ", outside [" + std::to_string(low) + ", " +
         std::to_string(high) + "]";
}

inline void put_layout(std::string& out, const features::FeatureLayout& layout) {
  put(out, static_cast<std::uint32_t>(layout.name.size()));
  out += layout.name;
  put(out, static_cast<std::int32_t>(layout.version));
  for (std::size_t v : {layout.step_dims, layout.max_steps, layout.workload_dims, layout.hardware_dims})
    put(out, static_cast<std::uint64_t>(v));
}
/// put_layout's fields; a name longer than max_layout_name_bytes stops the Reader.
inline features::FeatureLayout get_layout(Reader& in) {
  features::FeatureLayout layout;
  layout.name = in.get_string(max_layout_name_bytes, "the feature layout's name");
  layout.version = in.get<std::int32_t>();
  for (std::size_t* v : {&layout.step_dims, &layout.max_steps, &layout.workload_dims, &layout.hardware_dims})
    *v = static_cast<std::size_t>(in.get<std::uint64_t>());
  return layout;
}
/// Empty when `layout` could come from an extractor: at least one feature per step and one step, and
/// no dimension over max_model_dimension. Otherwise what is wrong.
[[nodiscard]] inline std::string check_layout(const features::FeatureLayout& layout) {
  for (const auto& wrong :
       {check_range("the feature layout's step dims", layout.step_dims, 1, max_model_dimension),
        check_range("the feature layout's max steps", layout.max_steps, 1, max_model_dimension),
        check_range("the feature layout's workload dims", layout.workload_dims, 0, max_model_dimension),
        check_range("the feature layout's hardware dims", layout.hardware_dims, 0, max_model_dimension)}) {
    if (!wrong.empty()) return wrong;
  }
  return {};
}

/// Empty when a network reading `step_dims` features per step, `workload_dims` and `hardware_dims` reads
/// exactly what `layout` produces; otherwise what is wrong. A layout with hardware joined per step has
/// hardware dims 0 and counts the hardware features among its step dims: so must the network.
[[nodiscard]] inline std::string check_feature_dims(std::uint64_t step_dims, std::uint64_t workload_dims,
                                                    std::uint64_t hardware_dims,
                                                    const features::FeatureLayout& layout) {
  if (step_dims == layout.step_dims && workload_dims == layout.workload_dims &&
      hardware_dims == layout.hardware_dims) {
    return {};
  }
  auto dims = [](std::uint64_t d, std::uint64_t w, std::uint64_t h) {
    return std::to_string(d) + " / " + std::to_string(w) + " / " + std::to_string(h);
  };
  return "the architecture reads " + dims(step_dims, workload_dims, hardware_dims) +
         " step / workload / hardware features, its feature layout \"" + layout.name + "\" produces " +
         dims(layout.step_dims, layout.workload_dims, layout.hardware_dims) +
         (layout.hardware_dims == 0 ? " (hardware joined per step)" : "");
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
/// Bytes put_parameters writes for `tensors` parameters holding `scalars` values in all.
[[nodiscard]] constexpr std::uint64_t parameter_bytes(std::uint64_t tensors, std::uint64_t scalars) noexcept {
  return 8 + tensors * 16 + scalars * sizeof(float);
}
/// Empty when the bytes between the Reader and the checksum are exactly the parameters of an
/// architecture with `tensors` parameters of `scalars` values in all; otherwise what is wrong. Called
/// before a network is built, so that no network is allocated for weights the file does not hold.
[[nodiscard]] inline std::string check_parameter_bytes(const Reader& in, std::uint64_t tensors,
                                                       std::uint64_t scalars) {
  const std::uint64_t expected = parameter_bytes(tensors, scalars), present = in.remaining();
  if (present == expected) return {};
  return "the architecture has " + std::to_string(scalars) + " weights in " + std::to_string(tensors) +
         " parameters (" + std::to_string(expected) + " bytes), the file holds " + std::to_string(present) +
         " bytes of weights: " +
         (present < expected ? "truncated weights" : "unexpected bytes after the weights");
}
/// Reads put_parameters' bytes into parameters of the expected shapes; the checksum follows them.
/// Refuses a count or shape other than the architecture's and a non-finite value (NaN or Inf), naming
/// the parameter. Returns what was wrong, or an empty string.
inline std::string get_parameters(Reader& in, const std::vector<Parameter<float>>& params) {
  const auto count = in.get<std::uint64_t>();
  if (!in.ok) return "truncated weights";
  if (count != params.size()) {
    return "parameter count " + std::to_string(count) + " does not match the architecture's " +
           std::to_string(params.size());
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i];
    const std::string name = "parameter " + std::to_string(i) + " ('" + p.name + "')";
    const auto rows = in.get<std::uint64_t>(), cols = in.get<std::uint64_t>();
    if (!in.ok) return "truncated weights";
    if (rows != static_cast<std::uint64_t>(p.value->rows()) ||
        cols != static_cast<std::uint64_t>(p.value->cols())) {
      return "shape of " + name + " is " + std::to_string(rows) + " x " + std::to_string(cols) +
             ", the architecture's is " + std::to_string(p.value->rows()) + " x " +
             std::to_string(p.value->cols());
    }
    // rows and cols equal a built tensor's, so the byte count cannot overflow.
    const std::size_t n = static_cast<std::size_t>(p.value->size()) * sizeof(float);
    if (n > in.remaining()) return "truncated weights";
    std::memcpy(p.value->data(), in.data.data() + in.pos, n);
    in.pos += n;
    const float* values = p.value->data();
    for (Eigen::Index k = 0; k < p.value->size(); ++k) {
      if (!std::isfinite(values[k])) {
        return name + " holds a non-finite value (NaN or Inf) at index " + std::to_string(k) +
               ": the model diverged in training or the file was edited";
      }
    }
  }
  if (in.remaining() != 0) return "unexpected bytes after the weights";
  return {};
}
/// Checks magic and checksum; returns what was wrong, or an empty string.
inline std::string check_envelope(const std::string& bytes, const char (&magic)[8]) {
  if (bytes.size() < sizeof magic + 4 + 8 || std::memcmp(bytes.data(), magic, sizeof magic) != 0)
    return "bad magic";
  std::uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (fnv1a(std::string_view(bytes).substr(0, bytes.size() - 8)) != stored) return "checksum";
  return {};
}
/// Opens a model file's bytes: checks magic, checksum and format version (errors name the file as `name`
/// and the format as `kind`, e.g. "MLP model"); returns a Reader placed after the version.
inline Expected<Reader> open_model_bytes(const std::string& bytes, const char (&magic)[8],
                                         std::uint32_t version, const std::string& kind,
                                         const std::string& name) {
  auto fail = [&](const std::string& what, const std::string& hint) {
    return unexpected(Error(ErrorKind::parse, what, name, 0, 0, hint));
  };
  if (const auto wrong = check_envelope(bytes, magic); wrong == "bad magic") {
    return fail("not a crosstune " + kind + " file (bad magic)",
                "pass a " + kind + " file, or load the file as the kind of model it is");
  } else if (!wrong.empty()) {
    return fail("checksum mismatch: the file is truncated or corrupted", "retrain or copy the file again");
  }
  Reader in{bytes, sizeof magic};
  if (const auto found = in.get<std::uint32_t>(); found != version) {
    return fail(kind + " file version " + std::to_string(found) + ", this crosstune reads version " +
                    std::to_string(version),
                "retrain the model with this crosstune, or load it with the crosstune that wrote it");
  }
  return in;
}

/// The hint of a refused model file: what to do about a file that is not what it claims to be.
inline constexpr const char* bad_model_file_hint =
    "retrain the model, or copy the file again if it was damaged on the way";

/// Closes a file descriptor when it goes out of scope.
struct FileDescriptor {
  int fd = -1;
  explicit FileDescriptor(int descriptor) noexcept : fd(descriptor) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};
/// Reads `size` bytes at the file position into `out`, retrying EINTR and partial reads; the errno of a
/// failure, -1 when the file ends first, else 0.
inline int read_exactly(int fd, char* out, std::size_t size) {
  while (size > 0) {
    const ::ssize_t n = ::read(fd, out, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return -1;
    out += n;
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}
/// The bytes of the model file at `path`. Refuses, before reading it whole, anything but a regular file
/// (a folder, a device such as /dev/zero, a FIFO), a file over max_model_file_bytes and one that does
/// not start with a crosstune model magic; reports read errors and a file that shrinks while read.
inline Expected<std::string> read_file(const std::filesystem::path& path) {
  auto io_failure = [&](std::string what, int err, std::string hint) {
    if (err > 0) what += std::string(": ") + std::strerror(err);
    return unexpected(Error(ErrorKind::io, std::move(what), path.string(), 0, 0, std::move(hint)));
  };
  auto not_a_file = [&](mode_t mode) {
    const char* kind = S_ISDIR(mode)                    ? "a folder"
                       : S_ISCHR(mode) || S_ISBLK(mode) ? "a device"
                       : S_ISFIFO(mode)                 ? "a FIFO (named pipe)"
                                                        : "not a regular file";
    return io_failure(std::string("the model path is ") + kind + ", not a model file", 0,
                      "pass the path of a model file written by `crosstune train` or save()");
  };
  // Looked at before it is opened: opening some devices does something (a tape rewinds).
  struct ::stat status {};
  if (::stat(path.c_str(), &status) == 0 && !S_ISREG(status.st_mode)) return not_a_file(status.st_mode);
  // O_NONBLOCK: should the path turn into a FIFO meanwhile, opening it must not wait for a writer.
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (file.fd < 0) {
    const int err = errno;
    return io_failure("cannot open the model file", err,
                      "check the path; a model file is written by `crosstune train` or save()");
  }
  if (::fstat(file.fd, &status) != 0) {
    const int err = errno;
    return io_failure("cannot read the model file's status", err, "check the path and its permissions");
  }
  if (!S_ISREG(status.st_mode)) return not_a_file(status.st_mode);
  const auto size = static_cast<std::uint64_t>(status.st_size);
  if (size > max_model_file_bytes) {
    return io_failure("the file is " + std::to_string(size) + " bytes, more than the " +
                          std::to_string(max_model_file_bytes) + " a crosstune model file may have",
                      0, "pass a model file written by `crosstune train` or save()");
  }
  std::string bytes(static_cast<std::size_t>(std::min<std::uint64_t>(size, sizeof model_file_magic)), '\0');
  auto read_into = [&](std::size_t offset, std::size_t count) -> Expected<void> {
    if (const int err = read_exactly(file.fd, bytes.data() + offset, count); err > 0) {
      return io_failure("read failed", err, "check the disk and copy the file again");
    } else if (err < 0) {
      return io_failure("the file shrank while it was read (" + std::to_string(offset) + " of " +
                            std::to_string(size) + " bytes read)",
                        0, "read it again once nothing writes to it");
    }
    return {};
  };
  if (size == 0) {
    return unexpected(
        Error(ErrorKind::parse, "the model file is empty", path.string(), 0, 0, bad_model_file_hint));
  }
  if (auto ok = read_into(0, bytes.size()); !ok) return unexpected(std::move(ok).error());
  auto starts_with = [&](const char(&magic)[8]) {
    return std::memcmp(bytes.data(), magic, sizeof magic) == 0;
  };
  if (bytes.size() < sizeof model_file_magic ||
      !(starts_with(model_file_magic) || starts_with(mlp_file_magic) || starts_with(xgb_file_magic))) {
    return unexpected(Error(ErrorKind::parse,
                            "not a crosstune model file (bad magic: it does not start with the 8 bytes of a "
                            "BiLSTM-attention, MLP or XGBoost model file)",
                            path.string(), 0, 0, "pass a model file written by `crosstune train` or save()"));
  }
  const std::size_t head = bytes.size();
  bytes.resize(static_cast<std::size_t>(size));
  if (auto ok = read_into(head, bytes.size() - head); !ok) return unexpected(std::move(ok).error());
  return bytes;
}
/// Reads the file at `path` (read_file) and hands its bytes and path to `deserialize(bytes, name)`, which
/// names the file in its errors. The one way every model kind loads from a file.
template <class Deserialize>
[[nodiscard]] auto load_file(const std::filesystem::path& path, Deserialize&& deserialize)
    -> decltype(deserialize(std::string{}, std::string{})) {
  auto bytes = read_file(path);
  if (!bytes) return unexpected(std::move(bytes).error());
  return deserialize(*bytes, path.string());
}
/// load_file with Model::deserialize.
template <class Model>
[[nodiscard]] Expected<Model> load_file(const std::filesystem::path& path) {
  return load_file(path, [](const std::string& bytes, const std::string& name) {
    return Model::deserialize(bytes, name);
  });
}
/// Writes a model file whole or not at all (io::AtomicFile): a full disk or a kill leaves the old file.
inline Expected<void> write_file(const std::filesystem::path& path, const std::string& bytes) {
  return io::write_file_atomically(path, bytes);
}
}  // namespace detail

}  // namespace crosstune::model
