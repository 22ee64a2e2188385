// crosstune/io/npy_writer.hpp — stream a large array to a NumPy .npy file, chunk by chunk.
//
// Feature tensors of a whole corpus can exceed memory ([276 630, 64, 44] float32 is 3 GB), so the shape is
// written first and rows are appended as they are produced. The file is NumPy format 1.0 (little-endian,
// C order); np.load reads it, and so does xt::load_npy. close() checks that exactly the promised number
// of elements was written.
//
//   auto npy = crosstune::io::NpyWriter<float>::open("x.npy", {n, 64, 44});
//   npy->append(std::span<const float>(batch.steps.data(), batch.steps.size()));
//   npy->close().value();
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"

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
    w.file_ = std::fopen(path.c_str(), "wb");
    if (!w.file_) {
      return unexpected(
          Error(ErrorKind::io, std::string("cannot open for writing: ") + std::strerror(errno), w.name_));
    }
    w.expected_ = 1;
    std::string dims;
    for (std::size_t d : shape) {
      w.expected_ *= d;
      dims += std::to_string(d) + ", ";
    }
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
    if (std::fwrite(preamble, 1, 10, w.file_) != 10 ||
        std::fwrite(header.data(), 1, header.size(), w.file_) != header.size()) {
      return unexpected(w.write_error());
    }
    return w;
  }

  NpyWriter(NpyWriter&& o) noexcept
      : name_(std::move(o.name_)),
        file_(std::exchange(o.file_, nullptr)),
        expected_(o.expected_),
        written_(o.written_) {}
  NpyWriter& operator=(NpyWriter&&) = delete;
  NpyWriter(const NpyWriter&) = delete;
  ~NpyWriter() {
    if (file_) std::fclose(file_);
  }

  /// Appends elements in C order. Errors: writing past the promised shape, or an I/O failure.
  [[nodiscard]] Expected<void> append(std::span<const T> values) {
    if (!file_) return unexpected(Error(ErrorKind::io, "npy writer is closed", name_));
    if (written_ + values.size() > expected_) {
      return unexpected(Error(ErrorKind::invalid_argument,
                              "more elements than the shape holds (" + std::to_string(expected_) + ")",
                              name_));
    }
    if (std::fwrite(values.data(), sizeof(T), values.size(), file_) != values.size())
      return unexpected(write_error());
    written_ += values.size();
    return {};
  }

  /// Closes the file; an error if fewer elements than the shape holds were written.
  [[nodiscard]] Expected<void> close() {
    if (!file_) return {};
    const bool ok = std::fclose(std::exchange(file_, nullptr)) == 0;
    if (!ok) return unexpected(write_error());
    if (written_ != expected_) {
      return unexpected(Error(ErrorKind::invalid_argument,
                              "only " + std::to_string(written_) + " of " + std::to_string(expected_) +
                                  " elements were written; the file is incomplete",
                              name_));
    }
    return {};
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
  Error write_error() const {
    return Error(ErrorKind::io, std::string("write failed: ") + std::strerror(errno), name_, 0, 0,
                 "check free disk space");
  }

  std::string name_;
  std::FILE* file_ = nullptr;
  std::size_t expected_ = 0;
  std::size_t written_ = 0;
};

}  // namespace crosstune::io
