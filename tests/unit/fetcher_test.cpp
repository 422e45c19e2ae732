#include "core/net/fetcher.hpp"

#include <fstream>

#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include "support/temp_dir.hpp"

using namespace weights;
using weights::testing::TempDir;

namespace {

void write(const std::filesystem::path& p, const std::string& bytes) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

}  // namespace

TEST_CASE("a local fetcher returns whole files under its root", "[fetcher]") {
  TempDir tmp;
  write(tmp / "metadata" / "timestamp.json", "hello");
  for (auto mode : {ResolveMode::automatic, ResolveMode::component_walk}) {
    LocalDirFetcher f(tmp.path(), mode);
    auto r = f.fetch("metadata/timestamp.json", 5);
    REQUIRE(r);
    CHECK(*r == "hello");
    auto empty_ok = f.fetch("metadata/timestamp.json", 1000);
    REQUIRE(empty_ok);
  }
}

TEST_CASE("a missing file is not_found, distinguishable from other errors", "[fetcher]") {
  TempDir tmp;
  write(tmp / "metadata" / "1.root.json", "x");
  for (auto mode : {ResolveMode::automatic, ResolveMode::component_walk}) {
    LocalDirFetcher f(tmp.path(), mode);
    CHECK(f.fetch("metadata/2.root.json", 10).error().code == Errc::not_found);
    CHECK(f.fetch("nodir/2.root.json", 10).error().code == Errc::not_found);
    CHECK(f.fetch("metadata/1.root.json/x", 10).error().code == Errc::not_found);
  }
  LocalDirFetcher gone(tmp / "does-not-exist");
  CHECK(gone.fetch("metadata/1.root.json", 10).error().code == Errc::io_error);
}

TEST_CASE("a file over max_bytes is too_large", "[fetcher][endless]") {
  TempDir tmp;
  write(tmp / "big", std::string(1000, 'x'));
  LocalDirFetcher f(tmp.path());
  auto r = f.fetch("big", 999);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::too_large);
  CHECK(f.fetch("big", 1000));
  CHECK(f.fetch("big", 0).error().code == Errc::too_large);
}

TEST_CASE("a fifo is refused without blocking", "[fetcher][endless]") {
  TempDir tmp;
  REQUIRE(::mkfifo((tmp / "fifo").c_str(), 0644) == 0);
  LocalDirFetcher f(tmp.path());
  auto r = f.fetch("fifo", 10);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::io_error);
}

TEST_CASE("names that are not plain relative paths are refused", "[fetcher][paths]") {
  TempDir tmp;
  write(tmp / "inside" / "f", "x");
  LocalDirFetcher f(tmp / "inside");
  for (const std::string name :
       {"../inside/f", "/etc/passwd", "a/../f", "./f", "a//f", "a\\f", "", "f/"}) {
    INFO("name: " << name);
    auto r = f.fetch(name, 10);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::path_policy);
  }
}

TEST_CASE("symlinks leading out of the feed root are not followed", "[fetcher][paths]") {
  TempDir tmp;
  write(tmp / "secret", "top secret");
  write(tmp / "feed" / "metadata" / "ok", "fine");
  std::filesystem::create_symlink(tmp / "secret", tmp / "feed" / "metadata" / "timestamp.json");
  std::filesystem::create_directory_symlink(tmp.path(), tmp / "feed" / "up");
  for (auto mode : {ResolveMode::automatic, ResolveMode::component_walk}) {
    LocalDirFetcher f(tmp / "feed", mode);
    auto r = f.fetch("metadata/timestamp.json", 100);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::path_policy);
    auto through_dir = f.fetch("up/secret", 100);
    REQUIRE_FALSE(through_dir);
    CHECK(through_dir.error().code == Errc::path_policy);
  }
}

TEST_CASE("the component walk refuses even symlinks that stay inside the root",
          "[fetcher][paths]") {
  TempDir tmp;
  write(tmp / "metadata" / "real.json", "x");
  std::filesystem::create_symlink("real.json", tmp / "metadata" / "link.json");
  LocalDirFetcher strict(tmp.path(), ResolveMode::component_walk);
  CHECK(strict.fetch("metadata/link.json", 10).error().code == Errc::path_policy);
}

TEST_CASE("make_fetcher accepts paths, file URLs and http(s) URLs", "[fetcher]") {
  TempDir tmp;
  write(tmp / "a b" / "metadata" / "timestamp.json", "ts");
  for (const auto& loc : {(tmp / "a b").string(), "file://" + (tmp / "a%20b").string(),
                          "file://localhost" + (tmp / "a b").string()}) {
    INFO("location: " << loc);
    auto f = make_fetcher(loc);
    REQUIRE(f);
    auto r = (*f)->fetch("metadata/timestamp.json", 10);
    REQUIRE(r);
    CHECK(*r == "ts");
  }
  auto http = make_fetcher("https://example.org/feed");
  REQUIRE(http);
  CHECK((*http)->describe() == "https://example.org:443/feed/");
  CHECK(make_fetcher("http://user:pw@example.org/feed").error().code == Errc::invalid_argument);
  CHECK(make_fetcher("ftp://x/y").error().code == Errc::unsupported);
  CHECK(make_fetcher("file://otherhost/x").error().code == Errc::unsupported);
  CHECK(make_fetcher("file:///bad%2").error().code == Errc::parse_error);
  CHECK(make_fetcher("").error().code == Errc::invalid_argument);
}
