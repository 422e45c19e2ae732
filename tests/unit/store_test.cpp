#include "daemon/store.hpp"

#include <fstream>

#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util/atomic_file.hpp"
#include "core/util/crypto.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::daemon;

using weights::testing::slurp;
using weights::testing::write_text;

using weights::testing::inode_of;

TEST_CASE("include globs select manifest paths; no pattern selects everything", "[store]") {
  const std::vector<std::string> paths{"config.json", "model-00001.safetensors",
                                       "sub/tokenizer.json", "README.md"};
  CHECK(select_files(paths, {}) == std::vector<bool>{true, true, true, true});
  const std::vector<std::string> json_only{"*.json"};
  CHECK(select_files(paths, json_only) == std::vector<bool>{true, false, true, false});
  const std::vector<std::string> two{"README.md", "model-*"};
  CHECK(select_files(paths, two) == std::vector<bool>{false, true, false, true});
  CHECK_FALSE(glob_match("*.bin", "config.json"));
  CHECK(glob_match("sub/*", "sub/tokenizer.json"));
}

TEST_CASE("an empty file is stored in a fresh store", "[store]") {
  weights::testing::TempDir tmp;
  Store store(tmp / "state");
  REQUIRE(store.ensure_layout());
  auto st = store.adopt_empty();
  INFO((st ? std::string() : st.error().message));
  REQUIRE(st);
  CHECK(std::filesystem::file_size(store.store_file(empty_sha256)) == 0);
  CHECK(store.adopt_empty());  // again: already there
}

TEST_CASE("identical content from two releases is stored once", "[store]") {
  testing::TempDir tmp;
  Store store(tmp.path());
  REQUIRE(store.ensure_layout());
  const std::string data = "same bytes in two releases";
  const std::string sha = crypto::sha256_hex(data);
  const auto a = store.staging_file("aa", "r1", "w.bin");
  const auto b = store.staging_file("bb", "r2", "copy/w.bin");
  write_text(a, data);
  write_text(b, data);
  CHECK(inode_of(a) != inode_of(b));
  REQUIRE(store.adopt(a, sha));
  REQUIRE(store.adopt(b, sha));
  CHECK(inode_of(a) == inode_of(store.store_file(sha)));
  CHECK(inode_of(b) == inode_of(store.store_file(sha)));
  CHECK(slurp(b) == data);
  CHECK(store.store_file(sha) == tmp.path() / "store/sha256" / sha.substr(0, 2) / sha);
  REQUIRE(store.adopt(a, sha));  // idempotent
}

TEST_CASE("a view appears only when every file is linked", "[store]") {
  testing::TempDir tmp;
  Store store(tmp.path());
  REQUIRE(store.ensure_layout());
  const std::string one = "one", two = "two";
  write_text(store.store_file(crypto::sha256_hex(one)), one);
  const std::vector<ViewFile> files{{"a.txt", crypto::sha256_hex(one)},
                                    {"dir/b.txt", crypto::sha256_hex(two)}};
  // b's content is not in the store: no view at all, and no temp dir left behind.
  auto failed = store.build_view("org/name", "rev", files);
  REQUIRE_FALSE(failed);
  CHECK_FALSE(fs::exists(store.view_dir("org/name", "rev")));
  CHECK(fs::is_empty(tmp.path() / "views/org/name"));

  write_text(store.store_file(crypto::sha256_hex(two)), two);
  auto dir = store.build_view("org/name", "rev", files);
  REQUIRE(dir);
  CHECK(*dir == tmp.path() / "views/org/name/rev");
  CHECK(slurp(*dir / "a.txt") == one);
  CHECK(slurp(*dir / "dir/b.txt") == two);

  // Rebuilding with fewer files replaces the view as a whole.
  const std::vector<ViewFile> fewer{files[0]};
  REQUIRE(store.build_view("org/name", "rev", fewer));
  CHECK(fs::exists(*dir / "a.txt"));
  CHECK_FALSE(fs::exists(*dir / "dir/b.txt"));
  REQUIRE(store.remove_view("org/name", "rev"));
  CHECK_FALSE(fs::exists(*dir));
  CHECK(fs::is_empty(tmp.path() / "views/org/name"));
}

TEST_CASE("seeded files are linked only when the daemon owns them, else copied; links refused",
          "[store]") {
  testing::TempDir tmp;
  const std::string own = "own bytes";
  const std::string other = "someone else's bytes";
  write_text(tmp / "seed/own.bin", own);
  write_text(tmp / "seed/sub/other.bin", other);
  // Group-writable stands in for "someone else may write it" (a foreign uid needs root).
  REQUIRE(::chmod((tmp / "seed/sub/other.bin").c_str(), 0664) == 0);
  if (::geteuid() == 0) REQUIRE(::chown((tmp / "seed/sub/other.bin").c_str(), 65534, 65534) == 0);
  const std::vector<SourceFile> files{{"own.bin", own.size(), crypto::sha256_hex(own)},
                                      {"sub/other.bin", other.size(), crypto::sha256_hex(other)}};
  const auto staging = tmp / "state/staging/aa/r1";
  REQUIRE(take_files(tmp / "seed", files, staging, 2));
  CHECK(inode_of(staging / "own.bin") == inode_of(tmp / "seed/own.bin"));
  CHECK(inode_of(staging / "sub/other.bin") != inode_of(tmp / "seed/sub/other.bin"));
  CHECK(slurp(staging / "sub/other.bin") == other);

  SECTION("a link anywhere in the path is refused and nothing is left in staging") {
    fs::remove_all(staging);
    fs::remove(tmp / "seed/own.bin");
    fs::create_symlink(tmp / "elsewhere", tmp / "seed/own.bin");
    write_text(tmp / "elsewhere", own);
    auto st = take_files(tmp / "seed", files, staging, 1);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::path_policy);
    CHECK_THAT(st.error().message, Catch::Contains("own.bin"));
    CHECK_FALSE(fs::exists(staging / "sub/other.bin"));
  }
  SECTION("a wrong length is refused without the file's digest in the message") {
    fs::remove_all(staging);
    write_text(tmp / "seed/own.bin", own + "x");
    auto st = take_files(tmp / "seed", files, staging, 1);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::length_mismatch);
    CHECK_THAT(st.error().message, !Catch::Contains(crypto::sha256_hex(own + "x")));
  }
  SECTION("other bytes of the right length are a hash mismatch") {
    fs::remove_all(staging);
    write_text(tmp / "seed/own.bin", "OWN bytes");
    auto st = take_files(tmp / "seed", files, staging, 1);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::hash_mismatch);
    CHECK_THAT(st.error().message, !Catch::Contains(crypto::sha256_hex("OWN bytes")));
    CHECK_FALSE(fs::exists(staging / "own.bin"));
  }
}

TEST_CASE("the empty file is adopted into a fresh store", "[store]") {
  weights::testing::TempDir tmp;
  Store store(tmp.path());
  REQUIRE(store.ensure_layout());
  const auto empty = store.store_file(crypto::sha256_hex(""));
  REQUIRE(store.adopt_empty());
  CHECK(std::filesystem::is_regular_file(empty));
  CHECK(std::filesystem::file_size(empty) == 0);
  CHECK(store.adopt_empty());  // again: kept
}
