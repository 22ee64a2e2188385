#include "crosstune/io/atomic_file.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "test_support.hpp"

using namespace crosstune;
namespace fs = std::filesystem;

namespace {
/// Names in `folder` that look like AtomicFile temporaries.
std::size_t temporaries_in(const fs::path& folder) {
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) ++n;
  return n;
}

}  // namespace

TEST_CASE("a committed file replaces the old one whole, with the permissions of a new file") {
  test::TempDir dir;
  REQUIRE(io::write_file_atomically(dir / "f.bin", "first"));
  CHECK(test::read_file(dir / "f.bin") == "first");
  REQUIRE(io::write_file_atomically(dir / "f.bin", "second, longer"));
  CHECK(test::read_file(dir / "f.bin") == "second, longer");
  CHECK(temporaries_in(dir.path()) == 0);
  const mode_t mask = umask(0);
  umask(mask);
  struct stat info {};
  REQUIRE(stat((dir / "f.bin").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == (0666 & ~mask));
}

TEST_CASE("a file dropped without commit leaves the old one and no temporary") {
  test::TempDir dir;
  test::write_file(dir / "f.bin", "old");
  {
    auto file = io::AtomicFile::create(dir / "f.bin");
    REQUIRE(file);
    REQUIRE(file->write("new content that is never committed"));
    CHECK(temporaries_in(dir.path()) == 1);
  }
  CHECK(test::read_file(dir / "f.bin") == "old");
  CHECK(temporaries_in(dir.path()) == 0);
  auto file = io::AtomicFile::create(dir / "g.bin", io::Durability::no_sync);
  REQUIRE(file);
  REQUIRE(file->write("g"));
  REQUIRE(file->commit());
  CHECK_FALSE(file->commit());  // committing twice is an error, not a second rename
  CHECK_FALSE(file->write("more"));
  CHECK(test::read_file(dir / "g.bin") == "g");
}

TEST_CASE("a missing folder, a folder as target and an unwritable folder are refused with a hint") {
  test::TempDir dir;
  auto missing = io::AtomicFile::create(dir / "no" / "such" / "f.bin");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == ErrorKind::io);
  CHECK(missing.error().message.find("does not exist") != std::string::npos);
  CHECK(missing.error().hint.find("mkdir -p") != std::string::npos);
  auto folder = io::write_file_atomically(dir.path(), "x");
  REQUIRE_FALSE(folder);
  CHECK(folder.error().message.find("is a folder") != std::string::npos);
  CHECK_FALSE(io::check_writable(""));
  if (geteuid() != 0) {  // root writes anywhere
    fs::create_directory(dir / "locked");
    fs::permissions(dir / "locked", fs::perms::owner_read | fs::perms::owner_exec);
    auto locked = io::write_file_atomically(dir / "locked" / "f.bin", "x");
    REQUIRE_FALSE(locked);
    CHECK(locked.error().message.find("cannot write into the folder") != std::string::npos);
    fs::permissions(dir / "locked", fs::perms::owner_all);
  }
}

TEST_CASE("writing through a symlink replaces the file it points to and keeps the link") {
  test::TempDir dir;
  fs::create_directory(dir / "v3");
  test::write_file(dir / "v3" / "model.bin", "old");
  fs::create_symlink("v3/model.bin", dir / "model.bin");
  REQUIRE(io::write_file_atomically(dir / "model.bin", "new"));
  CHECK(fs::is_symlink(fs::symlink_status(dir / "model.bin")));
  CHECK(test::read_file(dir / "v3" / "model.bin") == "new");
}

TEST_CASE("a write that the device refuses leaves the old file whole and no temporary") {
  test::TempDir dir;
  const std::string old_content(4096, 'o');
  test::write_file(dir / "f.bin", old_content);
  const std::string big(1 << 20, 'n');
  {
    test::FileSizeLimit limit(64 * 1024);
    auto refused = io::write_file_atomically(dir / "f.bin", big);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == ErrorKind::io);
    CHECK(refused.error().message.find("write failed") != std::string::npos);
    CHECK(refused.error().hint.find("free disk space") != std::string::npos);
  }
  CHECK(test::read_file(dir / "f.bin") == old_content);
  CHECK(temporaries_in(dir.path()) == 0);
}

TEST_CASE("a full filesystem (a small tmpfs, when the test may mount one) leaves the old file whole") {
  test::TempDir dir;
  const auto mount_point = dir / "small";
  fs::create_directory(mount_point);
  if (mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=64k") != 0) {
    MESSAGE("skipped: cannot mount a tmpfs here (" << std::strerror(errno) << "; needs root)");
    return;
  }
  struct Unmount {  // also when a REQUIRE below ends the test early
    const fs::path& at;
    ~Unmount() { umount2(at.c_str(), MNT_DETACH); }
  } unmount{mount_point};
  const std::string old_content(16 * 1024, 'o');
  REQUIRE(io::write_file_atomically(mount_point / "f.bin", old_content));
  auto refused = io::write_file_atomically(mount_point / "f.bin", std::string(256 * 1024, 'n'));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("No space left on device") != std::string::npos);
  CHECK(refused.error().hint.find("free disk space") != std::string::npos);
  CHECK(test::read_file(mount_point / "f.bin") == old_content);
  CHECK(temporaries_in(mount_point) == 0);
}

TEST_CASE("a process killed while saving leaves either the old file or the new one, never a mix") {
  test::TempDir dir;
  const auto target = dir / "model.bin";
  const std::size_t size = 2 << 20;
  const auto version = [](std::size_t v) { return static_cast<char>('a' + v % 26); };
  for (int round = 0; round < 8; ++round) {
    REQUIRE(io::write_file_atomically(target, std::string(size, version(0))));
    int pipe_fds[2];
    REQUIRE(pipe(pipe_fds) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Saves versions 1, 2, ... until killed and reports each one once it is in place. no_sync keeps the
      // loop fast; the rename is atomic either way (sync adds survival of a power cut).
      close(pipe_fds[0]);
      for (std::size_t v = 1;; ++v) {
        if (io::write_file_atomically(target, std::string(size, version(v)), io::Durability::no_sync))
          (void)!write(pipe_fds[1], "x", 1);
      }
    }
    close(pipe_fds[1]);
    // Wait for 1 to 3 saves, so the kill lands in the middle of a later one.
    char byte = 0;
    std::size_t saved = 0;
    for (int wanted = 1 + round % 3; wanted > 0; --wanted)
      saved += static_cast<std::size_t>(read(pipe_fds[0], &byte, 1) == 1);
    std::this_thread::sleep_for(std::chrono::microseconds(300 * round));
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    while (read(pipe_fds[0], &byte, 1) == 1)
      ++saved;
    close(pipe_fds[0]);
    REQUIRE(saved >= 1);
    // The file is the last version reported, or the one renamed just before the kill, whole.
    const std::string content = test::read_file(target);
    CAPTURE(saved);
    REQUIRE(content.size() == size);
    CHECK((content[0] == version(saved) || content[0] == version(saved + 1)));
    CHECK(content.find_first_not_of(content[0]) == std::string::npos);
    // A killed writer cannot remove its temporary; clear it for the next round.
    for (const auto& entry : fs::directory_iterator(dir.path()))
      if (entry.path() != target) fs::remove(entry.path());
  }
}

TEST_CASE("a replaced file keeps its permissions") {
  test::TempDir dir;
  REQUIRE(io::write_file_atomically(dir / "f.bin", "first"));
  REQUIRE(chmod((dir / "f.bin").c_str(), 0640) == 0);
  REQUIRE(io::write_file_atomically(dir / "f.bin", "second"));
  struct stat info {};
  REQUIRE(stat((dir / "f.bin").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0640);
  CHECK(test::read_file(dir / "f.bin") == "second");
}
