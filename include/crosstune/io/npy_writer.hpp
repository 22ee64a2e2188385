// crosstune/io/npy_writer.hpp — stream a large array to a NumPy .npy file, chunk by chunk.
//
// Feature tensors of a whole corpus can exceed memory ([276 630, 64, 44] float32 is 3 GB), so the shape is
// written first and rows are appended as they are produced. The file is NumPy format 1.0 (little-endian,
// C order); np.load reads it, and so does xt::load_npy. close() checks that exactly the promised number
// of elements was written. The file is written through io::AtomicFile: it appears at its path, whole,
// when close() succeeds; an error or a writer dropped without close() leaves any old file as it was.
//
//   auto npy = crosstune::io::NpyWriter<float>::open("x.npy", {n, 64, 44});
//   npy->append(std::span<const float>(batch.steps.data(), batch.steps.size()));
//   npy->close().value();
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/io/atomic_file.hpp"

namespace crosstune::io {

template <class T>
class NpyWriter {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t> ||
                    std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::uint32_t>,
                "NpyWriter supports float, double, int32, uint32 and int64");

 public:
  [[nodiscard]] static Expected<NpyWriter> open(const std::filesystem::path& path,
                                                std::vector<std::size_t> shape) {
    NpyWriter w;
    w.name_ = path.string();
    w.expected_ = 1;
    std::string dims;
    for (std::size_t d : shape) {
      if (d != 0 && w.expected_ > std::numeric_limits<std::size_t>::max() / sizeof(T) / d) {
        return unexpected(Error(ErrorKind::invalid_argument, "the array shape is too large to address",
                                w.name_, 0, 0, "write it in parts"));
      }
      w.expected_ *= d;
      dims += std::to_string(d) + ", ";
    }
    if (shape.size() > 32)
      return unexpected(Error(ErrorKind::invalid_argument, "more than 32 dimensions", w.name_));
    auto file = AtomicFile::create(path);
    if (!file) return unexpected(std::move(file).error());
    w.file_ = std::move(*file);
    if (shape.size() > 1) dims.erase(dims.size() - 1);  // "(3, 4)" but "(3,)" for one dimension
    std::string header =
        "{'descr': '" + std::string(descr()) + "', 'fortran_order': False, 'shape': (" + dims + "), }";
    // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in
    // '\n'.
    const std::size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header.push_back('\n');
    const auto length = static_cast<std::uint16_t>(header.size());
    const unsigned char preamble[10] = {0x93,
                                        'N',
                                        'U',
                                        'M',
                                        'P',
                                        'Y',
                                        1,
                                        0,
                                        static_cast<unsigned char>(length & 0xff),
                                        static_cast<unsigned char>(length >> 8)};
    if (auto ok = w.file_->write({reinterpret_cast<const char*>(preamble), sizeof preamble}); !ok)
      return unexpected(std::move(ok).error());
    if (auto ok = w.file_->write(header); !ok) return unexpected(std::move(ok).error());
    return w;
  }

  NpyWriter(NpyWriter&& o) noexcept
      : name_(std::move(o.name_)),
        file_(std::exchange(o.file_, std::nullopt)),
        expected_(o.expected_),
        written_(o.written_) {}
  NpyWriter& operator=(NpyWriter&&) = delete;
  NpyWriter(const NpyWriter&) = delete;
  /// Without close(), the partial file is removed and any old file at the path stays.
  ~NpyWriter() = default;

  /// Appends elements in C order. Errors: writing past the promised shape, or an I/O failure.
  [[nodiscard]] Expected<void> append(std::span<const T> values) {
    if (!file_ || !file_->is_open()) return unexpected(Error(ErrorKind::io, "npy writer is closed", name_));
    if (written_ + values.size() > expected_) {
      return unexpected(Error(ErrorKind::invalid_argument,
                              "more elements than the shape holds (" + std::to_string(expected_) + ")",
                              name_));
    }
    if (auto ok = file_->write({reinterpret_cast<const char*>(values.data()), values.size_bytes()}); !ok)
      return ok;
    written_ += values.size();
    return {};
  }

  /// Puts the file in place; an error (and no file) if fewer elements than the shape holds were written.
  [[nodiscard]] Expected<void> close() {
    if (!file_) return {};
    auto file = std::exchange(file_, std::nullopt);
    if (written_ != expected_) {
      return unexpected(Error(ErrorKind::invalid_argument,
                              "only " + std::to_string(written_) + " of " + std::to_string(expected_) +
                                  " elements were written; nothing was written to the file",
                              name_));
    }
    return file->commit();
  }

 private:
  NpyWriter() = default;
  static constexpr const char* descr() {
    if constexpr (std::is_same_v<T, float>) return "<f4";
    if constexpr (std::is_same_v<T, double>) return "<f8";
    if constexpr (std::is_same_v<T, std::int64_t>) return "<i8";
    if constexpr (std::is_same_v<T, std::int32_t>) return "<i4";
    return "<u4";
  }
  std::string name_;
  std::optional<AtomicFile> file_;
  std::size_t expected_ = 0;
  std::size_t written_ = 0;
};

}  // namespace crosstune::io
