#include "core/util/atomic_file.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using weights::Errc;
using weights::Overwrite;
using weights::read_file;
using weights::write_file_atomic;
using weights::testing::TempDir;

namespace {

unsigned file_mode(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::size_t entries(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("write_file_atomic creates and replaces files and leaves no temp file", "[atomic_file]") {
  TempDir dir;
  const fs::path p = dir / "state.json";
  REQUIRE(write_file_atomic(p, "one"));
  CHECK(read_file(p, 100).value() == "one");
  REQUIRE(write_file_atomic(p, "two, longer"));
  CHECK(read_file(p, 100).value() == "two, longer");
  REQUIRE(write_file_atomic(p, ""));
  CHECK(read_file(p, 100).value().empty());
  CHECK(entries(dir.path()) == 1);
}

TEST_CASE("write_file_atomic applies the requested mode", "[atomic_file]") {
  TempDir dir;
  const mode_t old_umask = ::umask(022);
  REQUIRE(write_file_atomic(dir / "key.pem", "secret", 0600));
  CHECK(file_mode(dir / "key.pem") == 0600);
  REQUIRE(write_file_atomic(dir / "pub", "x"));
  CHECK(file_mode(dir / "pub") == 0644);
  // Replacing a file takes the new mode, not the old one.
  REQUIRE(write_file_atomic(dir / "pub", "y", 0640));
  CHECK(file_mode(dir / "pub") == 0640);
  ::umask(old_umask);
}

TEST_CASE("Overwrite::refuse never replaces an existing file", "[atomic_file]") {
  TempDir dir;
  const fs::path p = dir / "key.pem";
  REQUIRE(write_file_atomic(p, "first", 0600, Overwrite::refuse));
  auto again = write_file_atomic(p, "second", 0600, Overwrite::refuse);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == Errc::already_exists);
  CHECK(read_file(p, 100).value() == "first");
  CHECK(entries(dir.path()) == 1);

  // A dangling symlink also counts as existing: it is neither followed nor replaced.
  fs::create_symlink(dir / "elsewhere", dir / "link");
  auto via_link = write_file_atomic(dir / "link", "x", 0600, Overwrite::refuse);
  REQUIRE_FALSE(via_link);
  CHECK(via_link.error().code == Errc::already_exists);
  CHECK_FALSE(fs::exists(dir / "elsewhere"));
}

TEST_CASE("write_file_atomic replaces a symlink instead of writing through it", "[atomic_file]") {
  TempDir dir;
  REQUIRE(write_file_atomic(dir / "target", "original"));
  fs::create_symlink(dir / "target", dir / "link");
  REQUIRE(write_file_atomic(dir / "link", "new"));
  CHECK(read_file(dir / "target", 100).value() == "original");
  CHECK_FALSE(fs::is_symlink(dir / "link"));
  CHECK(read_file(dir / "link", 100).value() == "new");
}

TEST_CASE("write_file_atomic failures report errors and leave nothing behind", "[atomic_file]") {
  TempDir dir;
  auto missing = write_file_atomic(dir / "no-such-dir" / "f", "x");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);

  fs::create_directory(dir / "sub");
  auto onto_dir = write_file_atomic(dir / "sub", "x");
  REQUIRE_FALSE(onto_dir);
  CHECK(onto_dir.error().code == Errc::io_error);
  CHECK(entries(dir.path()) == 1);

  CHECK(write_file_atomic("", "x").error().code == Errc::invalid_argument);
  CHECK(write_file_atomic(dir / "sub/", "x").error().code == Errc::invalid_argument);

  if (::geteuid() != 0) {  // root ignores directory permissions
    fs::create_directory(dir / "ro");
    fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    auto ro = write_file_atomic(dir / "ro" / "f", "x");
    REQUIRE_FALSE(ro);
    CHECK(ro.error().code == Errc::io_error);
  }
}

TEST_CASE("write_file_atomic handles long file names", "[atomic_file]") {
  TempDir dir;
  const std::string name(255, 'n');
  REQUIRE(write_file_atomic(dir / name, "x"));
  CHECK(read_file(dir / name, 10).value() == "x");
  CHECK(entries(dir.path()) == 1);
}

TEST_CASE("read_file enforces the size limit", "[atomic_file]") {
  TempDir dir;
  REQUIRE(write_file_atomic(dir / "f", "0123456789"));
  CHECK(read_file(dir / "f", 10).value() == "0123456789");
  auto big = read_file(dir / "f", 9);
  REQUIRE_FALSE(big);
  CHECK(big.error().code == Errc::too_large);
  CHECK(read_file(dir / "f", 0).error().code == Errc::too_large);
  CHECK(read_file(dir / "f", SIZE_MAX).value() == "0123456789");
}

TEST_CASE("read_file refuses what is not a regular file", "[atomic_file]") {
  TempDir dir;
  auto missing = read_file(dir / "absent", 10);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);

  auto d = read_file(dir.path(), 10);
  REQUIRE_FALSE(d);
  CHECK(d.error().code == Errc::io_error);

  // A FIFO would block a naive reader forever.
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  auto fifo = read_file(dir / "fifo", 10);
  REQUIRE_FALSE(fifo);
  CHECK(fifo.error().code == Errc::io_error);

  // Symlinks to regular files are followed (user-provided paths).
  REQUIRE(write_file_atomic(dir / "real", "data"));
  fs::create_symlink(dir / "real", dir / "alias");
  CHECK(read_file(dir / "alias", 10).value() == "data");
}

TEST_CASE("read_file reads files whose stat size is zero", "[atomic_file]") {
  // procfs reports size 0 for files with content.
  auto r = read_file("/proc/self/status", 1 << 20);
  REQUIRE(r);
  CHECK(r->find("Name:") != std::string::npos);
  CHECK(read_file("/proc/self/status", 4).error().code == weights::Errc::too_large);
}

TEST_CASE("fsync_dir works on directories and reports missing ones", "[atomic_file]") {
  TempDir dir;
  CHECK(weights::fsync_dir(dir.path()));
  CHECK_FALSE(weights::fsync_dir(dir / "absent"));
}
