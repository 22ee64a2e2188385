// crosstune/io/atomic_file.hpp — files that appear whole at their path, or not at all.
//
// Every file crosstune produces (models, logs it writes anew, splits, .npy arrays, exports) goes through
// here. The bytes go to a temporary file beside the target (same folder, so the same filesystem), every
// write and the close are checked, the data is synced to the device, and only then is the temporary
// renamed over the target and the folder synced. A full disk, a write error, a kill or a power cut at
// any moment leaves either the old file or the complete new one; an AtomicFile dropped without commit()
// removes its temporary and leaves the target as it was.
//
//   auto file = crosstune::io::AtomicFile::create("model.bin");
//   if (!file) return fail(file.error());
//   if (auto ok = file->write(bytes); !ok) return fail(ok.error());
//   if (auto ok = file->commit(); !ok) return fail(ok.error());   // the old model.bin until here
//
//   crosstune::io::write_file_atomically("small.bin", bytes);     // the same, in one call
//
// POSIX only (Linux, macOS): it needs rename(2) over an existing file and fsync(2) on folders.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "crosstune/core/expected.hpp"

namespace crosstune::io {

/// Whether commit() waits for the data to reach the device. `sync` survives a power cut; `no_sync` only
/// a crash of the process (the rename is still atomic), for scratch files that are cheap to rebuild.
enum class Durability { sync, no_sync };

/// An io Error for `path` from an errno value (0: none to add), with what to do for the usual causes.
[[nodiscard]] inline Error file_error(const std::string& what, const std::filesystem::path& path, int err,
                                      const std::string& hint = {}) {
  std::string message = what;
  if (err != 0) message += std::string(": ") + std::strerror(err);
  std::string advice = hint;
  if (advice.empty() && (err == ENOSPC || err == EDQUOT || err == EFBIG))
    advice = "free disk space (or choose another folder) and run again; the old file is unchanged";
  if (advice.empty() && (err == EACCES || err == EPERM || err == EROFS))
    advice = "choose a folder you can write to";
  return Error(ErrorKind::io, std::move(message), path.string(), 0, 0, std::move(advice));
}

/// How far a write to a descriptor got: the bytes written, and the errno that stopped it (0: all of them).
struct DescriptorWrite {
  std::size_t written = 0;
  int error = 0;
};

/// Writes `bytes` to `fd`, retrying short writes and EINTR. On a failure the bytes before it were
/// written: a caller that keeps a buffer drops them, so a retry does not write them twice.
[[nodiscard]] inline DescriptorWrite write_to_descriptor(int fd, std::string_view bytes) noexcept {
  DescriptorWrite result;
  while (result.written < bytes.size()) {
    const ::ssize_t n = ::write(fd, bytes.data() + result.written, bytes.size() - result.written);
    if (n < 0) {
      if (errno == EINTR) continue;
      result.error = errno;
      return result;
    }
    if (n == 0) {
      result.error = EIO;
      return result;
    }
    result.written += static_cast<std::size_t>(n);
  }
  return result;
}

/// Syncs a folder's entries (a file created or renamed in it) to the device; an errno, or 0.
[[nodiscard]] inline int sync_folder(const std::filesystem::path& folder) noexcept {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int err = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  // Some filesystems cannot sync a folder (EINVAL); what was renamed or created is there either way.
  return err == EINVAL ? 0 : err;
}

/// Where `path` really points: symlinks are followed, so that writing "model.bin" -> "v3/model.bin"
/// replaces v3/model.bin and keeps the link. A path that does not exist yet is returned as it is, and so
/// is a link that leads nowhere (dangling, or a loop): writing it replaces the link with the file.
[[nodiscard]] inline std::filesystem::path resolve_output_path(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_symlink(std::filesystem::symlink_status(path, ec))) {
    auto resolved = std::filesystem::weakly_canonical(path, ec);
    if (!ec) return resolved;
  }
  return path;
}

/// Checks, before any long work, that `path` can be written as a file: its folder exists and is
/// writable, and the path is not a folder itself. Creates nothing.
[[nodiscard]] inline Expected<void> check_writable(const std::filesystem::path& path) {
  const auto target = resolve_output_path(path);
  std::error_code ec;
  if (target.empty() || target.filename().empty())
    return unexpected(Error(ErrorKind::invalid_argument, "not a file name", path.string(), 0, 0,
                            "give a file path, e.g. out/model.bin"));
  if (std::filesystem::is_directory(target, ec))
    return unexpected(Error(ErrorKind::invalid_argument, "is a folder, not a file", path.string(), 0, 0,
                            "give a file path inside it, e.g. " + (target / "out.bin").string()));
  const auto folder = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(folder, ec))
    return unexpected(Error(ErrorKind::io, "the folder " + folder.string() + " does not exist", path.string(),
                            0, 0, "create it first: mkdir -p " + folder.string()));
  if (::access(folder.c_str(), W_OK | X_OK) != 0) {
    const int err = errno;
    return unexpected(file_error("cannot write into the folder " + folder.string(), path, err));
  }
  return {};
}

/// A file being written to a temporary beside its target; commit() puts it in place.
class AtomicFile {
 public:
  /// Opens a new temporary file in the target's folder, with the permissions of the file it will replace,
  /// or those a new file gets (0666 less the umask). Errors: the folder is missing or not writable, the
  /// target is a folder.
  [[nodiscard]] static Expected<AtomicFile> create(const std::filesystem::path& path,
                                                   Durability durability = Durability::sync) {
    if (auto ok = check_writable(path); !ok) return unexpected(std::move(ok).error());
    AtomicFile file;
    file.name_ = path.string();
    file.target_ = resolve_output_path(path);
    file.durability_ = durability;
    static std::atomic<unsigned> counter{0};
    const auto folder = file.target_.has_parent_path() ? file.target_.parent_path() : std::filesystem::path();
    for (int attempt = 0; attempt < 100; ++attempt) {
      // Appended piece by piece: GCC 12 reports a false -Wrestrict on a chain of string operator+.
      std::string temp_name = ".";
      temp_name += file.target_.filename().string();
      temp_name += ".tmp-";
      temp_name += std::to_string(::getpid());
      temp_name += '-';
      temp_name += std::to_string(counter++);
      file.temp_ = folder / temp_name;
      file.fd_ = ::open(file.temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (file.fd_ >= 0) {
        // A file that is replaced keeps its permissions (a model made read-only for others stays so).
        struct stat old {};
        if (::stat(file.target_.c_str(), &old) == 0 && S_ISREG(old.st_mode) &&
            ::fchmod(file.fd_, old.st_mode & 0777) != 0) {
          const int err = errno;
          file.discard();
          return unexpected(file_error("cannot give the new file the old one's permissions", path, err));
        }
        return file;
      }
      const int err = errno;
      file.temp_.clear();  // not ours: nothing to remove
      if (err != EEXIST) return unexpected(file_error("cannot create a temporary file beside it", path, err));
    }
    return unexpected(file_error("cannot create a temporary file beside it", path, EEXIST));
  }

  AtomicFile(AtomicFile&& other) noexcept { *this = std::move(other); }
  AtomicFile& operator=(AtomicFile&& other) noexcept {
    if (this != &other) {
      discard();
      name_ = std::move(other.name_);
      target_ = std::move(other.target_);
      temp_ = std::move(other.temp_);
      durability_ = other.durability_;
      fd_ = std::exchange(other.fd_, -1);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  /// Without commit(), the temporary is removed and the target is left as it was.
  ~AtomicFile() { discard(); }

  /// Appends bytes to the temporary. Errors: the device is full, an I/O error, already committed.
  [[nodiscard]] Expected<void> write(std::string_view bytes) {
    if (fd_ < 0) return unexpected(Error(ErrorKind::io, "file already committed or discarded", name_));
    if (const auto done = write_to_descriptor(fd_, bytes); done.error != 0) {
      discard();
      return unexpected(file_error("write failed", name_, done.error));
    }
    bytes_ += bytes.size();
    return {};
  }

  /// The temporary's descriptor, for writers that need one (gzip); it stays owned by this object.
  [[nodiscard]] int descriptor() const noexcept { return fd_; }
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
  [[nodiscard]] std::size_t bytes_written() const noexcept { return bytes_; }
  /// The path the file will have after commit() (symlinks followed).
  [[nodiscard]] const std::filesystem::path& target() const noexcept { return target_; }

  /// Syncs the data (Durability::sync), closes, renames the temporary over the target and syncs the
  /// folder. On any error the temporary is removed and the target is left as it was.
  [[nodiscard]] Expected<void> commit() {
    if (fd_ < 0) return unexpected(Error(ErrorKind::io, "file already committed or discarded", name_));
    if (durability_ == Durability::sync && ::fsync(fd_) != 0) {
      const int err = errno;
      discard();
      return unexpected(file_error("syncing the data to disk failed", name_, err));
    }
    // close() can report a deferred write error (NFS, quotas): it counts as a failed write.
    if (::close(std::exchange(fd_, -1)) != 0) {
      const int err = errno;
      remove_temp();
      return unexpected(file_error("closing the file failed", name_, err));
    }
    if (::rename(temp_.c_str(), target_.c_str()) != 0) {
      const int err = errno;
      remove_temp();
      return unexpected(file_error("cannot replace the file", name_, err));
    }
    temp_.clear();
    if (durability_ == Durability::sync) {
      if (const int err = sync_folder(target_.parent_path()); err != 0)
        return unexpected(file_error("syncing the folder failed (the file is in place)", name_, err));
    }
    return {};
  }

  /// Drops the temporary; the target is left as it was. Safe to call more than once.
  void discard() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    remove_temp();
  }

 private:
  AtomicFile() = default;

  void remove_temp() noexcept {
    if (!temp_.empty()) {
      ::unlink(temp_.c_str());
      temp_.clear();
    }
  }

  std::string name_;  // the path as the caller gave it, for messages
  std::filesystem::path target_, temp_;
  Durability durability_ = Durability::sync;
  int fd_ = -1;
  std::size_t bytes_ = 0;
};

/// Replaces the file at `path` by `bytes`, atomically (see AtomicFile).
[[nodiscard]] inline Expected<void> write_file_atomically(const std::filesystem::path& path,
                                                          std::string_view bytes,
                                                          Durability durability = Durability::sync) {
  auto file = AtomicFile::create(path, durability);
  if (!file) return unexpected(std::move(file).error());
  if (auto ok = file->write(bytes); !ok) return ok;
  return file->commit();
}

}  // namespace crosstune::io
