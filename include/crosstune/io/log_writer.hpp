// crosstune/io/log_writer.hpp — append Records to an Ansor / TVM auto_scheduler log (.json or .json.gz).
//
// Appends, as TVM's own record writer does, so a tuning run that is stopped and restarted keeps every
// earlier measurement. A path ending in ".gz" gets a gzip member appended (concatenated gzip members are
// one valid stream to zlib, gzip and crosstune's reader). A record that cannot be written (no task,
// invalid UTF-8, a non-finite number) is refused with an Error and nothing of it is written.
//
//   auto writer = crosstune::io::LogWriter::open("tuning.json");
//   if (!writer) return fail(writer.error());
//   for (const auto& r : new_records)
//     if (auto ok = writer->write(r); !ok) return fail(ok.error());
//   if (auto ok = writer->close(); !ok) return fail(ok.error());  // or let the destructor flush
#pragma once

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/io/record_format.hpp"

namespace crosstune::io {

enum class WriteMode {
  append,    ///< keep what the file holds (TVM's behaviour)
  truncate,  ///< start the file anew
};

class LogWriter {
 public:
  /// Opens `path` for writing; gzip when it ends in ".gz". Errors: the file cannot be opened.
  [[nodiscard]] static Expected<LogWriter> open(const std::filesystem::path& path,
                                                WriteMode mode = WriteMode::append) {
    LogWriter writer;
    writer.name_ = path.string();
    const bool gzip = path.extension() == ".gz";
    const char* flags = mode == WriteMode::append ? "ab" : "wb";
    if (gzip) {
      writer.gz_ = gzopen(path.c_str(), flags);
      if (!writer.gz_) return open_error(path);
    } else {
      writer.file_ = std::fopen(path.c_str(), flags);
      if (!writer.file_) return open_error(path);
    }
    return writer;
  }

  LogWriter(LogWriter&& other) noexcept { *this = std::move(other); }
  LogWriter& operator=(LogWriter&& other) noexcept {
    if (this != &other) {
      (void)close();
      name_ = std::move(other.name_);
      buffer_ = std::move(other.buffer_);
      file_ = std::exchange(other.file_, nullptr);
      gz_ = std::exchange(other.gz_, nullptr);
      records_ = other.records_;
    }
    return *this;
  }
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;
  ~LogWriter() { (void)close(); }

  /// Buffers one record line; written out when the buffer fills, on flush() and on close().
  [[nodiscard]] Expected<void> write(const Record& record) {
    if (!is_open()) return closed_error();
    if (auto ok = append_record_line(buffer_, record); !ok) {
      Error error = std::move(ok).error();
      error.file = name_;
      return unexpected(std::move(error));
    }
    buffer_.push_back('\n');
    ++records_;
    if (buffer_.size() >= (std::size_t{1} << 20)) return flush();
    return {};
  }

  [[nodiscard]] Expected<void> write(std::span<const Record> records) {
    for (const auto& r : records)
      if (auto ok = write(r); !ok) return ok;
    return {};
  }

  /// Writes buffered lines to the file (a gzip file gets a sync point, so a crash loses nothing
  /// flushed).
  [[nodiscard]] Expected<void> flush() {
    if (!is_open()) return closed_error();
    if (!buffer_.empty()) {
      bool ok = true;
      if (gz_) {
        ok = gzwrite(gz_, buffer_.data(), static_cast<unsigned>(buffer_.size())) ==
                 static_cast<int>(buffer_.size()) &&
             gzflush(gz_, Z_SYNC_FLUSH) == Z_OK;
      } else {
        ok = std::fwrite(buffer_.data(), 1, buffer_.size(), file_) == buffer_.size() &&
             std::fflush(file_) == 0;
      }
      if (!ok) {
        return unexpected(Error{ErrorKind::io, std::string("write failed: ") + std::strerror(errno), name_, 0,
                                0, "check free disk space; the unwritten records are still buffered"});
      }
      buffer_.clear();
    }
    return {};
  }

  /// Flushes and closes. Safe to call twice.
  [[nodiscard]] Expected<void> close() {
    if (!is_open()) return {};
    auto flushed = flush();
    if (gz_) {
      if (gzclose(gz_) != Z_OK && flushed)
        flushed = unexpected(Error{ErrorKind::io, "closing the gzip stream failed", name_});
      gz_ = nullptr;
    }
    if (file_) {
      if (std::fclose(file_) != 0 && flushed)
        flushed = unexpected(Error{ErrorKind::io, "closing the file failed", name_});
      file_ = nullptr;
    }
    return flushed;
  }

  [[nodiscard]] bool is_open() const noexcept { return file_ != nullptr || gz_ != nullptr; }
  [[nodiscard]] std::size_t records_written() const noexcept { return records_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  LogWriter() = default;

  static Unexpected open_error(const std::filesystem::path& path) {
    return unexpected(Error{ErrorKind::io, std::string("cannot open for writing: ") + std::strerror(errno),
                            path.string(), 0, 0, "check that the folder exists and is writable"});
  }
  Unexpected closed_error() const {
    return unexpected(Error{ErrorKind::io, "log writer is closed", name_, 0, 0, "open a new LogWriter"});
  }

  std::string name_;
  std::string buffer_;
  std::FILE* file_ = nullptr;
  gzFile gz_ = nullptr;
  std::size_t records_ = 0;
};

}  // namespace crosstune::io
