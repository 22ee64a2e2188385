// crosstune/io/log_writer.hpp — append Records to an Ansor / TVM auto_scheduler log (.json or .json.gz).
//
// Appends, as TVM's own record writer does, so a tuning run that is stopped and restarted keeps every
// earlier measurement; appending never truncates. A path ending in ".gz" gets a gzip member appended
// (concatenated gzip members are one valid stream to zlib, gzip and crosstune's reader). A record that
// cannot be written (no task, invalid UTF-8, a non-finite number) is refused with an Error and nothing of
// it is written.
//
// Appended lines are written under an exclusive file lock (flock), so two processes appending to one
// plain log never interleave their lines. A gzip member spans all of one writer's flushes, so only one
// process at a time may append to a .gz log (measure::LocalMeasurer refuses .gz logs for that reason).
//
// When appended records are safe is the FlushPolicy: `buffered` (the default, for bulk writes) writes
// every megabyte and on flush()/close(); `each_record` hands every record to the OS as it is written, so
// a killed process loses none; `each_record_synced` also syncs it (and a log it creates, its folder entry)
// to the device, so a power cut loses none: what a measurer appending its results wants. A live log is
// best kept plain (.json): every flushed record is a whole line on disk, and a line torn by a crash is one
// bad line that `--skip-bad` passes over, while a gzip member cut by a crash stops the reader there.
//
// WriteMode::truncate writes a new log through io::AtomicFile: nothing is visible until close() syncs the
// new file and puts it in place of the old one, and a writer dropped without close() (or a killed
// process) leaves the old file as it was. The FlushPolicy does not apply to it.
//
//   auto writer = crosstune::io::LogWriter::open("tuning.json", crosstune::io::WriteMode::append,
//                                                crosstune::io::FlushPolicy::each_record_synced);
//   if (!writer) return fail(writer.error());
//   for (const auto& r : new_records)
//     if (auto ok = writer->write(r); !ok) return fail(ok.error());
//   if (auto ok = writer->close(); !ok) return fail(ok.error());
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

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

/// When appended records reach the file (see the header comment).
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
      auto file = AtomicFile::create(path, Durability::sync);
      if (!file) return unexpected(std::move(file).error());
      writer.atomic_ = std::move(*file);
      writer.fd_ = writer.atomic_->descriptor();  // owned by the AtomicFile
    } else {
      if (auto ok = check_writable(path); !ok) return unexpected(std::move(ok).error());
      const auto target = resolve_output_path(path);
      struct stat before {};
      const bool created = ::stat(target.c_str(), &before) != 0;
      writer.fd_ = ::open(target.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
      if (writer.fd_ < 0) {
        const int err = errno;
        return unexpected(file_error("cannot open for writing", path, err));
      }
      writer.owns_fd_ = true;
      if (created && policy == FlushPolicy::each_record_synced) {
        if (const int err = sync_folder(target.parent_path()); err != 0)
          return unexpected(file_error("syncing the new log's folder failed", path, err));
      }
      // A plain log whose last line was cut short (a crash mid-write) gets a line break first, so the
      // torn line stays one bad line that `--skip-bad` passes over instead of swallowing the next record.
      // Looked at in every flush, under the lock: here, another process's write in progress would look
      // like a torn line, and another appender may crash mid-line later.
      writer.check_last_line_ = !gzip;
    }
    if (gzip) {
      // zlib owns a duplicate of the descriptor; ours stays open to sync (and, truncating, to rename).
      const int gz_fd = ::fcntl(writer.fd_, F_DUPFD_CLOEXEC, 0);
      if (gz_fd < 0 || (writer.gz_ = gzdopen(gz_fd, mode == WriteMode::append ? "ab" : "wb")) == nullptr) {
        const int err = errno;
        if (gz_fd >= 0) ::close(gz_fd);
        return unexpected(file_error("cannot start a gzip stream", path, err));
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
      fd_ = std::exchange(other.fd_, -1);
      owns_fd_ = std::exchange(other.owns_fd_, false);
      gz_ = std::exchange(other.gz_, nullptr);
      atomic_ = std::exchange(other.atomic_, std::nullopt);
      policy_ = other.policy_;
      records_ = other.records_;
      check_last_line_ = std::exchange(other.check_last_line_, false);
      own_line_cut_ = std::exchange(other.own_line_cut_, false);
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
  /// flushed); with FlushPolicy::each_record_synced an appended log is also synced to the device. After
  /// a failed write the lines not yet written stay buffered, and a later flush() writes only those.
  [[nodiscard]] Expected<void> flush() {
    if (!is_open()) return closed_error();
    if (buffer_.empty()) return {};
    // Appending: whole lines under an exclusive lock, so writers in other processes (a second tuner on
    // the same log) never interleave with ours. Released when this scope ends.
    const FileLock lock(atomic_ ? -1 : fd_);
    if (gz_) {
      if (gzwrite(gz_, buffer_.data(), static_cast<unsigned>(buffer_.size())) !=
              static_cast<int>(buffer_.size()) ||
          gzflush(gz_, Z_SYNC_FLUSH) != Z_OK) {
        return unexpected(gzip_error("writing the gzip stream failed"));
      }
      buffer_.clear();  // zlib holds what it could not write: a gzip stream cannot be resumed part-way
    } else if (atomic_) {
      if (auto ok = atomic_->write(buffer_); !ok) return ok;
      buffer_.clear();
    } else {
      // At every flush (another appender may have crashed mid-line since), unless our own last write
      // was cut short: then the line is ours, and its rest is what we write now.
      if (check_last_line_ && !own_line_cut_) {
        struct stat now {};
        char last = '\n';
        if (::fstat(fd_, &now) == 0 && now.st_size > 0 && ::pread(fd_, &last, 1, now.st_size - 1) == 1 && last != '\n')
          buffer_.insert(buffer_.begin(), '\n');
      }
      const auto done = write_to_descriptor(fd_, buffer_);
      own_line_cut_ = done.written < buffer_.size() && (done.written > 0 ? buffer_[done.written - 1] != '\n' : own_line_cut_);
      buffer_.erase(0, done.written);
      if (done.error != 0) {
        return unexpected(file_error("write failed", name_, done.error,
                                     "free disk space and flush or close again; the records not yet written "
                                     "are kept"));
      }
    }
    if (!atomic_ && policy_ == FlushPolicy::each_record_synced && ::fsync(fd_) != 0) {
      const int err = errno;
      return unexpected(file_error("syncing the log failed", name_, err));
    }
    return {};
  }

  /// Flushes and closes; a truncating writer then puts the new file in place. Safe to call twice.
  [[nodiscard]] Expected<void> close() {
    if (!is_open()) return {};
    auto done = flush();
    if (gz_) {
      // gzclose writes the member's trailer through zlib's own descriptor.
      if (gzclose(std::exchange(gz_, nullptr)) != Z_OK && done)
        done = unexpected(file_error("finishing the gzip stream failed", name_, errno));
      if (done && !atomic_ && policy_ == FlushPolicy::each_record_synced && ::fsync(fd_) != 0)
        done = unexpected(file_error("syncing the log failed", name_, errno));
    }
    if (owns_fd_) {
      if (::close(std::exchange(fd_, -1)) != 0 && done)
        done = unexpected(file_error("closing the file failed", name_, errno));
      owns_fd_ = false;
    }
    fd_ = -1;
    if (atomic_) {
      if (done) done = atomic_->commit();
      atomic_.reset();  // discards the temporary when anything failed
    }
    return done;
  }

  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
  [[nodiscard]] std::size_t records_written() const noexcept { return records_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  LogWriter() = default;

  /// flock(LOCK_EX) for a scope; a descriptor of -1 (or a file system without locks) locks nothing.
  class FileLock {
   public:
    explicit FileLock(int fd) noexcept : fd_(fd) {
      if (fd_ < 0) return;
      while (::flock(fd_, LOCK_EX) != 0) {
        if (errno != EINTR) {
          fd_ = -1;
          return;
        }
      }
    }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    ~FileLock() {
      if (fd_ >= 0) ::flock(fd_, LOCK_UN);
    }

   private:
    int fd_;
  };

  /// What the destructor does: an appending writer keeps what it was given, a truncating one that was
  /// not closed leaves the old file alone. Errors cannot be reported here; close() reports them.
  void abandon() noexcept {
    try {
      if (atomic_) {
        if (gz_) gzclose(std::exchange(gz_, nullptr));
        fd_ = -1;
        atomic_.reset();
        return;
      }
      (void)close();
    } catch (...) {  // an allocation failure while describing an error: nothing more can be done
    }
  }
  Error gzip_error(const std::string& what) const {
    int code = Z_OK;
    const char* message = gzerror(gz_, &code);
    if (code == Z_ERRNO) return file_error(what, name_, errno);
    return Error(ErrorKind::io, what + " (zlib: " + (message ? message : "unknown") + ")", name_);
  }
  Unexpected closed_error() const {
    return unexpected(Error{ErrorKind::io, "log writer is closed", name_, 0, 0, "open a new LogWriter"});
  }

  std::string name_;
  std::string buffer_;
  int fd_ = -1;                       // the log (appending), or the AtomicFile's temporary (truncating)
  bool owns_fd_ = false;              // appending: this writer closes fd_
  gzFile gz_ = nullptr;               // over a duplicate of fd_
  std::optional<AtomicFile> atomic_;  // WriteMode::truncate: the temporary that close() puts in place
  FlushPolicy policy_ = FlushPolicy::buffered;
  std::size_t records_ = 0;
  bool check_last_line_ = false;  ///< appending to a plain log: see whether its last line is whole, at every flush
  bool own_line_cut_ = false;     ///< our last write stopped inside a line (the rest is still buffered)
};

}  // namespace crosstune::io
