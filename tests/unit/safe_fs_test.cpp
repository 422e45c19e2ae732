#include "core/util/safe_fs.hpp"

#include <chrono>
#include <fstream>

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/util/atomic_file.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::safe_fs;
namespace fs = std::filesystem;

using weights::testing::slurp;
using weights::testing::write_text;

namespace {

Fd base(const fs::path& p) {
  auto d = open_base_dir(p);
  REQUIRE(d);
  return std::move(*d);
}

}  // namespace

TEST_CASE("a regular file below a directory is opened by descriptor", "[safe_fs]") {
  testing::TempDir tmp;
  write_text(tmp / "src/sub/deeper/w.bin", "weights");
  const Fd dir = base(tmp / "src");
  auto f = open_regular_beneath(dir.get(), "sub/deeper/w.bin", tmp / "src");
  REQUIRE(f);
  CHECK(f->st.st_size == 7);
  char buf[16] = {};
  CHECK(::read(f->fd.get(), buf, sizeof buf) == 7);
  CHECK(std::string(buf) == "weights");
}

TEST_CASE("links are refused in every component, absolute, relative or dangling", "[safe_fs]") {
  testing::TempDir tmp;
  write_text(tmp / "outside/secret", "secret");
  write_text(tmp / "src/real/x", "x");
  fs::create_symlink(tmp / "outside/secret", tmp / "src/abs");
  fs::create_symlink("real/x", tmp / "src/rel");
  fs::create_symlink("nowhere", tmp / "src/dangling");
  fs::create_symlink(tmp / "outside", tmp / "src/linkdir");
  const Fd dir = base(tmp / "src");
  for (const char* name : {"abs", "rel", "dangling"}) {
    auto f = open_regular_beneath(dir.get(), name, tmp / "src");
    REQUIRE_FALSE(f);
    CHECK(f.error().code == Errc::path_policy);
    CHECK_THAT(f.error().message, Catch::Contains(name) && Catch::Contains("symbolic link"));
  }
  auto through = open_regular_beneath(dir.get(), "linkdir/secret", tmp / "src");
  REQUIRE_FALSE(through);
  CHECK(through.error().code == Errc::path_policy);
  CHECK_THAT(through.error().message, Catch::Contains("linkdir"));
  auto sub = open_dir_beneath(dir.get(), "linkdir", Create::yes, tmp / "src");
  REQUIRE_FALSE(sub);
  CHECK(sub.error().code == Errc::path_policy);
  for (const char* bad : {"../outside/secret", "/etc/passwd", "a//b", "./x"}) {
    auto f = open_regular_beneath(dir.get(), bad, tmp / "src");
    REQUIRE_FALSE(f);
    CHECK(f.error().code == Errc::path_policy);
  }
}

TEST_CASE("a FIFO is refused at once, without waiting for a writer", "[safe_fs]") {
  testing::TempDir tmp;
  fs::create_directories(tmp / "src");
  REQUIRE(::mkfifo((tmp / "src/fifo").c_str(), 0644) == 0);
  const Fd dir = base(tmp / "src");
  const auto start = std::chrono::steady_clock::now();
  auto f = open_regular_beneath(dir.get(), "fifo", tmp / "src");
  REQUIRE_FALSE(f);
  CHECK(f.error().code == Errc::path_policy);
  CHECK_THAT(f.error().message, Catch::Contains("FIFO"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  auto d = open_regular_beneath(dir.get(), ".", tmp / "src");
  CHECK_FALSE(d);
}

TEST_CASE("missing directories are created below the base, existing ones are reused", "[safe_fs]") {
  testing::TempDir tmp;
  auto b = open_base_dir(tmp / "new/base", Create::yes);
  REQUIRE(b);
  auto sub = open_dir_beneath(b->get(), "a/b/c", Create::yes, tmp / "new/base");
  REQUIRE(sub);
  CHECK(fs::is_directory(tmp / "new/base/a/b/c"));
  auto again = open_dir_beneath(b->get(), "a/b", Create::no, tmp / "new/base");
  CHECK(again);
  auto missing = open_dir_beneath(b->get(), "zzz", Create::no, tmp / "new/base");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
}

TEST_CASE("placing a file replaces a planted link instead of writing through it", "[safe_fs]") {
  testing::TempDir tmp;
  write_text(tmp / "victim", "victim bytes");
  write_text(tmp / "src/w.bin", "new content");
  fs::create_directories(tmp / "dst");
  fs::create_symlink(tmp / "victim", tmp / "dst/w.bin");
  const Fd src_dir = base(tmp / "src");
  const Fd dst_dir = base(tmp / "dst");
  auto src = open_regular_beneath(src_dir.get(), "w.bin", tmp / "src");
  REQUIRE(src);
  SECTION("link") {
    REQUIRE(place_file(*src, dst_dir.get(), "w.bin", Share::link_if_shareable, tmp / "dst"));
    struct stat a {
    }, b{};
    REQUIRE(::lstat((tmp / "dst/w.bin").c_str(), &a) == 0);
    REQUIRE(::stat((tmp / "src/w.bin").c_str(), &b) == 0);
    CHECK(S_ISREG(a.st_mode));
    CHECK(a.st_ino == b.st_ino);  // the daemon's own file, no other writer: shared
  }
  SECTION("copy") {
    REQUIRE(place_file(*src, dst_dir.get(), "w.bin", Share::copy, tmp / "dst"));
    struct stat a {
    }, b{};
    REQUIRE(::lstat((tmp / "dst/w.bin").c_str(), &a) == 0);
    REQUIRE(::stat((tmp / "src/w.bin").c_str(), &b) == 0);
    CHECK(S_ISREG(a.st_mode));
    CHECK(a.st_ino != b.st_ino);
  }
  CHECK(slurp(tmp / "dst/w.bin") == "new content");
  CHECK(slurp(tmp / "victim") == "victim bytes");
  CHECK(fs::is_symlink(fs::symlink_status(tmp / "dst/w.bin")) == false);
}

TEST_CASE("a file others may write, or owned by someone else, is copied, not linked", "[safe_fs]") {
  testing::TempDir tmp;
  write_text(tmp / "src/w.bin", "bytes");
  fs::create_directories(tmp / "dst");
  REQUIRE(::chmod((tmp / "src/w.bin").c_str(), 0664) == 0);
  const Fd src_dir = base(tmp / "src");
  const Fd dst_dir = base(tmp / "dst");
  auto src = open_regular_beneath(src_dir.get(), "w.bin", tmp / "src");
  REQUIRE(src);
  CHECK_FALSE(shareable(src->st));
  REQUIRE(place_file(*src, dst_dir.get(), "w.bin", Share::link_if_shareable, tmp / "dst"));
  struct stat a {
  }, b{};
  REQUIRE(::stat((tmp / "dst/w.bin").c_str(), &a) == 0);
  REQUIRE(::stat((tmp / "src/w.bin").c_str(), &b) == 0);
  CHECK(a.st_ino != b.st_ino);
  CHECK(slurp(tmp / "dst/w.bin") == "bytes");

  struct stat foreign = b;
  foreign.st_mode = S_IFREG | 0644;
  foreign.st_uid = ::geteuid() + 1;
  CHECK_FALSE(shareable(foreign));
  foreign.st_uid = ::geteuid();
  CHECK(shareable(foreign));
}

TEST_CASE("files and links are written by temp name and rename inside the directory", "[safe_fs]") {
  testing::TempDir tmp;
  write_text(tmp / "victim", "victim bytes");
  fs::create_directories(tmp / "refs");
  fs::create_symlink(tmp / "victim", tmp / "refs/main");
  fs::create_symlink(tmp / "victim", tmp / "refs/link");
  const Fd dir = base(tmp / "refs");
  REQUIRE(write_file_at(dir.get(), "main", "abc123", 0644, tmp / "refs"));
  CHECK(slurp(tmp / "refs/main") == "abc123");
  REQUIRE(symlink_at(dir.get(), "link", "../../blobs/x", tmp / "refs"));
  CHECK(fs::read_symlink(tmp / "refs/link") == "../../blobs/x");
  CHECK(slurp(tmp / "victim") == "victim bytes");
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp / "refs")) ++entries;
  CHECK(entries == 2);  // no temp names left
}

TEST_CASE("open_regular refuses a link as the last component of a daemon path", "[safe_fs]") {
  testing::TempDir tmp;
  write_text(tmp / "store/aa", "stored");
  write_text(tmp / "elsewhere", "other");
  fs::create_symlink(tmp / "elsewhere", tmp / "store/bb");
  CHECK(open_regular(tmp / "store/aa"));
  auto l = open_regular(tmp / "store/bb");
  REQUIRE_FALSE(l);
  CHECK(l.error().code == Errc::path_policy);
}
