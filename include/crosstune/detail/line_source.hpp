// crosstune/detail/line_source.hpp — internal: lines from a plain or gzip file, or from memory.
//
// Not API. Files are opened through zlib, which reads gzip (also concatenated members) and plain
// files alike, so .json and .json.gz need no flag. Lines are handed out as string_views into one
// reusable buffer, without their "\n" or "\r\n"; the last line needs no newline.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crosstune/core/expected.hpp"

namespace crosstune::detail {

class LineSource {
 public:
  /// Opens `path` (plain or gzip). Errors: the file cannot be opened.
  [[nodiscard]] static Expected<LineSource> open_file(const std::filesystem::path& path,
                                                      std::size_t max_line_bytes) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      return unexpected(Error{ErrorKind::io, "is a directory, not a log file", path.string(), 0, 0,
                              "pass the .json or .json.gz files inside it"});
    }
    gzFile file = gzopen(path.c_str(), "rb");
    if (file == nullptr) {
      return unexpected(Error{ErrorKind::io, std::string("cannot open: ") + std::strerror(errno),
                              path.string(), 0, 0, "check the path and its permissions"});
    }
    gzbuffer(file, 1 << 18);
    LineSource source(path.string(), max_line_bytes);
    source.file_ = std::unique_ptr<gzFile_s, GzCloser>(file);
    return source;
  }

  /// Lines of `text`, reported as coming from `name`.
  [[nodiscard]] static LineSource from_memory(std::string text, std::string name,
                                              std::size_t max_line_bytes) {
    LineSource source(std::move(name), max_line_bytes);
    source.buffer_.assign(text.begin(), text.end());
    source.end_ = source.buffer_.size();
    source.eof_ = true;
    return source;
  }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// 1-based number of the line last returned by next().
  [[nodiscard]] std::size_t line_number() const noexcept { return line_number_; }
  /// Uncompressed bytes consumed so far.
  [[nodiscard]] std::size_t bytes_read() const noexcept { return bytes_consumed_; }
  /// True when the file was gzip-compressed (known after the first read).
  [[nodiscard]] bool compressed() const noexcept { return file_ && gzdirect(file_.get()) == 0; }

  /// The next line, or false at the end of input. Errors: read failure, corrupt or truncated gzip
  /// stream, a line longer than max_line_bytes.
  [[nodiscard]] Expected<bool> next(std::string_view& line) {
    while (true) {
      const char* base = buffer_.data();
      const void* newline = begin_ < end_ ? std::memchr(base + begin_, '\n', end_ - begin_) : nullptr;
      if (newline != nullptr || (eof_ && begin_ < end_)) {
        const std::size_t stop =
            newline ? static_cast<std::size_t>(static_cast<const char*>(newline) - base) : end_;
        std::size_t len = stop - begin_;
        if (len > max_line_bytes_) return unexpected(line_too_long(line_number_ + 1));
        if (len > 0 && base[begin_ + len - 1] == '\r') --len;
        line = std::string_view(base + begin_, len);
        bytes_consumed_ += stop - begin_ + (newline ? 1 : 0);
        begin_ = newline ? stop + 1 : end_;
        ++line_number_;
        return true;
      }
      if (eof_) return false;
      if (auto filled = fill(); !filled) return unexpected(std::move(filled).error());
    }
  }

 private:
  struct GzCloser {
    void operator()(gzFile_s* f) const noexcept { gzclose(f); }
  };

  LineSource(std::string name, std::size_t max_line_bytes)
      : name_(std::move(name)), max_line_bytes_(max_line_bytes) {}

  Expected<void> fill() {
    // Move the partial line to the front, grow if one line fills the buffer, then read more.
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == buffer_.size()) {
      if (end_ > max_line_bytes_) return unexpected(line_too_long(line_number_ + 1));
      buffer_.resize(std::max<std::size_t>(buffer_.size() * 2, 1 << 20));
    }
    const auto want = static_cast<unsigned>(std::min<std::size_t>(buffer_.size() - end_, 1u << 30));
    const int got = gzread(file_.get(), buffer_.data() + end_, want);
    if (got < 0 || (got == 0 && !gzeof(file_.get()))) return stream_error();
    if (got == 0) {
      int code = Z_OK;
      gzerror(file_.get(), &code);
      if (code != Z_OK) return stream_error();
      eof_ = true;
    }
    end_ += static_cast<std::size_t>(got);
    return {};
  }

  Expected<void> stream_error() {
    int code = Z_OK;
    const char* message = gzerror(file_.get(), &code);
    std::string what = code == Z_ERRNO ? std::string("read failed: ") + std::strerror(errno)
                                       : std::string("gzip stream is corrupt or truncated (zlib: ") +
                                             (message ? message : "unknown") + ")";
    return unexpected(Error{ErrorKind::io, what + " after line " + std::to_string(line_number_), name_,
                            line_number_ + 1, 0,
                            "the file was cut short or damaged; records before this line were read"});
  }

  Error line_too_long(std::size_t line) const {
    return Error{ErrorKind::parse,
                 "line longer than " + std::to_string(max_line_bytes_) + " bytes (is this a log file?)",
                 name_,
                 line,
                 0,
                 "raise ReadOptions::max_line_bytes if such lines are expected"};
  }

  std::string name_;
  std::size_t max_line_bytes_;
  std::unique_ptr<gzFile_s, GzCloser> file_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0, end_ = 0;
  std::size_t line_number_ = 0;
  std::size_t bytes_consumed_ = 0;
  bool eof_ = false;
};

}  // namespace crosstune::detail
