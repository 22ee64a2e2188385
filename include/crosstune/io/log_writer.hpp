// crosstune/io/log_writer.hpp — append Records to an Ansor / TVM auto_scheduler log (.json or .json.gz).
//
// Appends, as TVM's own record writer does, so a tuning run that is stopped and restarted keeps every
// earlier measurement; appending never truncates. A path ending in ".gz" gets a gzip member appended
// (concatenated gzip members are one valid stream to zlib, gzip and crosstune's reader). A record that
// cannot be written (no task, invalid UTF-8, a non-finite number) is refused with an Error and nothing of
// it is written.
//
// How soon appended records are safe is the FlushPolicy: `buffered` (the default, for bulk writes)
// writes every megabyte and on flush()/close(); `each_record` hands every record to the OS as it is
// written, so a killed process loses none; `each_record_synced` also syncs it to the device, so a power
// cut loses none (what a measurer appending its results wants). A live log is best kept plain (.json):
// every flushed record is then a whole line on disk, and a line torn by a crash is one bad line that
// `--skip-bad` passes over; a gzip log's stream is complete only once it is closed. WriteMode::truncate
// writes a new log through io::AtomicFile: the old file stays whole until close() puts the new one in its
// place, and a writer dropped without close() leaves the old file as it was.
//
//   auto writer = crosstune::io::LogWriter::open("tuning.json", crosstune::io::WriteMode::append,
//                                                crosstune::io::FlushPolicy::each_record_synced);
//   if (!writer) return fail(writer.error());
//   for (const auto& r : new_records)
//     if (auto ok = writer->write(r); !ok) return fail(ok.error());
//   if (auto ok = writer->close(); !ok) return fail(ok.error());
#pragma once

#include <zlib.h>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/io/atomic_file.hpp"
#include "crosstune/io/record_format.hpp"

namespace crosstune::io {

enum class WriteMode {
  append,    ///< keep what the file holds (TVM's behaviour)
  truncate,  ///< write a new file that replaces the old one at close()
};

/// When written records reach the file (see the header comment).
enum class FlushPolicy {
  buffered,            ///< every megabyte, and on flush() and close()
  each_record,         ///< every record as it is written: a killed process loses nothing written
  each_record_synced,  ///< every record, synced to the device: a power cut loses nothing written
};

class LogWriter {
 public:
  /// Opens `path` for writing; gzip when it ends in ".gz". Errors: the file cannot be opened, the folder
  /// is missing, the path is a folder.
  [[nodiscard]] static Expected<LogWriter> open(const std::filesystem::path& path,
                                                WriteMode mode = WriteMode::append,
                                                FlushPolicy policy = FlushPolicy::buffered) {
    LogWriter writer;
    writer.name_ = path.string();
    writer.policy_ = policy;
    const bool gzip = path.extension() == ".gz";
    if (mode == WriteMode::truncate) {
      auto file =
          AtomicFile::create(path, policy == FlushPolicy::buffered ? Durability::no_sync : Durability::sync);
      if (!file) return unexpected(std::move(file).error());
      writer.atomic_ = std::move(*file);
      if (gzip) {
        // zlib owns a duplicate of the descriptor; the AtomicFile keeps its own to sync and rename.
        const int fd = ::dup(writer.atomic_->descriptor());
        if (fd < 0 || (writer.gz_ = gzdopen(fd, "wb")) == nullptr) {
          if (fd >= 0) ::close(fd);
          return unexpected(file_error("cannot start a gzip stream", path, errno));
        }
      }
      return writer;
    }
    if (auto ok = check_writable(path); !ok) return unexpected(std::move(ok).error());
    if (gzip) {
      writer.gz_ = gzopen(path.c_str(), "ab");
      if (!writer.gz_) return open_error(path);
    } else {
      writer.file_ = std::fopen(path.c_str(), "ab");
      if (!writer.file_) return open_error(path);
      // A log whose last line was cut short (a crash mid-write) gets a line break first, so the torn
      // line stays one bad line that `--skip-bad` passes over instead of swallowing the next record.
      if (std::FILE* in = std::fopen(path.c_str(), "rb")) {
        if (std::fseek(in, -1, SEEK_END) == 0 && std::fgetc(in) != '\n') writer.buffer_.push_back('\n');
        std::fclose(in);
      }
    }
    return writer;
  }

  LogWriter(LogWriter&& other) noexcept { *this = std::move(other); }
  LogWriter& operator=(LogWriter&& other) noexcept {
    if (this != &other) {
      abandon();
      name_ = std::move(other.name_);
      buffer_ = std::move(other.buffer_);
      file_ = std::exchange(other.file_, nullptr);
      gz_ = std::exchange(other.gz_, nullptr);
      atomic_ = std::exchange(other.atomic_, std::nullopt);
      policy_ = other.policy_;
      records_ = other.records_;
    }
    return *this;
  }
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;
  /// Appending: flushes and closes. Truncating without close(): the old file is left as it was.
  ~LogWriter() { abandon(); }

  /// Buffers one record line; written out as the FlushPolicy says, on flush() and on close().
  [[nodiscard]] Expected<void> write(const Record& record) {
    if (!is_open()) return closed_error();
    const std::size_t before = buffer_.size();
    if (auto ok = append_record_line(buffer_, record); !ok) {
      buffer_.resize(before);
      Error error = std::move(ok).error();
      error.file = name_;
      return unexpected(std::move(error));
    }
    buffer_.push_back('\n');
    ++records_;
    if (policy_ != FlushPolicy::buffered || buffer_.size() >= (std::size_t{1} << 20)) return flush();
    return {};
  }

  [[nodiscard]] Expected<void> write(std::span<const Record> records) {
    for (const auto& r : records)
      if (auto ok = write(r); !ok) return ok;
    return {};
  }

  /// Writes buffered lines to the file (a gzip file gets a sync point, so a crash loses nothing
  /// flushed); with FlushPolicy::each_record_synced an appended log is also synced to the device.
  [[nodiscard]] Expected<void> flush() {
    if (!is_open()) return closed_error();
    if (buffer_.empty()) return {};
    bool ok = true;
    if (gz_) {
      ok = gzwrite(gz_, buffer_.data(), static_cast<unsigned>(buffer_.size())) ==
               static_cast<int>(buffer_.size()) &&
           gzflush(gz_, Z_SYNC_FLUSH) == Z_OK;
    } else if (file_) {
      ok = std::fwrite(buffer_.data(), 1, buffer_.size(), file_) == buffer_.size() && std::fflush(file_) == 0;
    } else if (auto written = atomic_->write(buffer_); !written) {
      return written;
    }
    if (ok && policy_ == FlushPolicy::each_record_synced && !atomic_) {
      if (file_) ok = ::fsync(fileno(file_)) == 0;
      // zlib gives no descriptor to sync: a gzip log is synced when it is closed.
    }
    if (!ok) {
      return unexpected(
          file_error("write failed", name_, errno,
                     "free disk space and run again; the unwritten records are still buffered"));
    }
    buffer_.clear();
    return {};
  }

  /// Flushes and closes; a truncating writer then puts the new file in place. Safe to call twice.
  [[nodiscard]] Expected<void> close() {
    if (!is_open()) return {};
    auto done = flush();
    if (gz_) {
      if (gzclose(gz_) != Z_OK && done)
        done = unexpected(file_error("closing the gzip stream failed", name_, errno));
      gz_ = nullptr;
    }
    if (file_) {
      if (policy_ == FlushPolicy::each_record_synced && done && ::fsync(fileno(file_)) != 0)
        done = unexpected(file_error("syncing the log failed", name_, errno));
      if (std::fclose(file_) != 0 && done)
        done = unexpected(file_error("closing the file failed", name_, errno));
      file_ = nullptr;
    }
    if (atomic_) {
      if (done) done = atomic_->commit();
      atomic_.reset();  // discards the temporary when anything failed
    }
    return done;
  }

  [[nodiscard]] bool is_open() const noexcept {
    return file_ != nullptr || gz_ != nullptr || atomic_.has_value();
  }
  [[nodiscard]] std::size_t records_written() const noexcept { return records_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  LogWriter() = default;

  /// What the destructor does: an appending writer keeps what it was given, a truncating one that was
  /// not closed leaves the old file alone.
  void abandon() noexcept {
    if (atomic_) {
      if (gz_) gzclose(std::exchange(gz_, nullptr));
      atomic_.reset();
      return;
    }
    (void)close();
  }
  static Unexpected open_error(const std::filesystem::path& path) {
    return unexpected(
        file_error("cannot open for writing", path, errno, "check that the folder exists and is writable"));
  }
  Unexpected closed_error() const {
    return unexpected(Error{ErrorKind::io, "log writer is closed", name_, 0, 0, "open a new LogWriter"});
  }

  std::string name_;
  std::string buffer_;
  std::FILE* file_ = nullptr;
  gzFile gz_ = nullptr;
  std::optional<AtomicFile> atomic_;  // WriteMode::truncate: the temporary that close() puts in place
  FlushPolicy policy_ = FlushPolicy::buffered;
  std::size_t records_ = 0;
};

}  // namespace crosstune::io
