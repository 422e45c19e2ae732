#include "core/upstream/git_bundle.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <git2.h>

#include "core/util/encoding.hpp"
#include "support/git_repo.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::upstream;
using weights::testing::LibGit2Repo;
using weights::testing::make_model;
using weights::testing::SourceRepo;
using weights::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// The records of a well-formed bundle, in order (each "<type> <size>\0<content>").
std::vector<std::string> records_of(const std::string& bundle) {
  std::vector<std::string> out;
  std::size_t pos = git_bundle_header.size();
  while (pos < bundle.size()) {
    const std::size_t nul = bundle.find('\0', pos);
    REQUIRE(nul != std::string::npos);
    const std::size_t space = bundle.find(' ', pos);
    const std::size_t size = std::stoul(bundle.substr(space + 1, nul - space - 1));
    out.push_back(bundle.substr(pos, nul + 1 + size - pos));
    pos = nul + 1 + size;
  }
  return out;
}

// A record's object id: SHA-1 of the record itself (git's loose-object form).
std::string record_id(const std::string& record) {
  git_oid oid;
  git_libgit2_init();
  const std::size_t nul = record.find('\0');
  const std::string type = record.substr(0, record.find(' '));
  REQUIRE(git_odb_hash(&oid, record.data() + nul + 1, record.size() - nul - 1,
                       git_object_string2type(type.c_str())) == 0);
  git_libgit2_shutdown();
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &oid);
  return hex;
}

std::string bundle_of(std::vector<std::string> records) {
  std::string out(git_bundle_header);
  for (const auto& r : records) out += r;
  return out;
}

std::string write_bundle(const fs::path& repo_dir, const std::string& commit) {
  LibGit2Repo repo(repo_dir);
  auto bundle = write_git_bundle(repo.get(), commit);
  REQUIRE(bundle);
  return *bundle;
}

}  // namespace

TEST_CASE("a commit's bundle reads back, from memory alone, to the same pinned tree",
          "[git_bundle]") {
  TempDir tmp;
  SourceRepo src(tmp / "repo");
  const std::string c = make_model(src);
  LibGit2Repo repo(src.dir());
  auto direct = read_pinned_tree(repo.get(), c);
  REQUIRE(direct);
  auto bundle = write_git_bundle(repo.get(), c);
  REQUIRE(bundle);
  CHECK(bundle->starts_with(git_bundle_header));
  // commit, root tree, tokenizer/ tree and four blobs, sorted by id, each once
  const auto records = records_of(*bundle);
  REQUIRE(records.size() == 7);
  std::vector<std::string> ids;
  for (const auto& r : records) ids.push_back(record_id(r));
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  CHECK(std::find(ids.begin(), ids.end(), c) != ids.end());

  auto back = read_git_bundle(*bundle, c);
  REQUIRE(back);
  CHECK(*back == *direct);

  if (const char* seeds = std::getenv("WEIGHTS_FUZZ_GIT_BUNDLE_SEEDS")) {
    // The fuzz target's input: the commit id, then the bundle.
    weights::testing::write_text(fs::path(seeds) / "model", c + *bundle);
  }
}

TEST_CASE(
    "independent repositories with the same commit, and a shallow fetch of it, give "
    "byte-identical bundles",
    "[git_bundle]") {
  TempDir tmp;
  SourceRepo a(tmp / "a");
  SourceRepo b(tmp / "b");
  const std::string ca = make_model(a);
  const std::string cb = make_model(b);
  REQUIRE(ca == cb);  // fixed author, committer and dates
  a.write("config.json", "{\"model_type\": \"later\"}\n");
  a.commit_all("later");  // the pin is no longer the tip of a
  const std::string from_a = write_bundle(a.dir(), ca);
  CHECK(from_a == write_bundle(b.dir(), cb));

  GitFetchOptions o;
  o.timeout = std::chrono::seconds(60);
  auto fetched = fetch_pinned_bundle(a.url(), ca, o);
  REQUIRE(fetched);
  CHECK(fetched->objects == from_a);
  CHECK(fetched->tree.commit == ca);
  CHECK(fetched->tree.files.size() == 4);
}

TEST_CASE("a bundle with an extra, missing, changed, repeated or misordered object is refused",
          "[git_bundle]") {
  TempDir tmp;
  SourceRepo src(tmp / "repo");
  const std::string c = make_model(src);
  const std::string bundle = write_bundle(src.dir(), c);
  const auto records = records_of(bundle);
  const std::string config_blob = src.git("rev-parse HEAD:config.json");

  SECTION("an object the commit does not contain, in its sorted place") {
    auto more = records;
    const std::string extra = std::string("blob 6") + '\0' + "extra\n";
    more.push_back(extra);
    std::sort(more.begin(), more.end(), [](const std::string& x, const std::string& y) {
      return record_id(x) < record_id(y);
    });
    auto r = read_git_bundle(bundle_of(more), c);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::wrong_target);
    CHECK_THAT(r.error().message, Catch::Contains(record_id(extra)));
  }
  SECTION("a file's blob left out") {
    auto fewer = records;
    fewer.erase(std::remove_if(fewer.begin(), fewer.end(),
                               [&](const std::string& x) { return record_id(x) == config_blob; }),
                fewer.end());
    REQUIRE(fewer.size() == records.size() - 1);
    auto r = read_git_bundle(bundle_of(fewer), c);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::not_found);
    CHECK_THAT(r.error().message, Catch::Contains("\"config.json\""));
  }
  SECTION("a blob's content changed") {
    auto changed = records;
    for (auto& x : changed) {
      if (record_id(x) == config_blob) x.back() = ' ';
    }
    CHECK_FALSE(read_git_bundle(bundle_of(changed), c));
  }
  SECTION("an object twice, or two objects swapped") {
    auto twice = records;
    twice.insert(twice.begin() + 1, records[1]);
    auto r = read_git_bundle(bundle_of(twice), c);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::parse_error);
    CHECK_THAT(r.error().message, Catch::Contains("sorted by id"));
    auto swapped = records;
    std::swap(swapped[0], swapped[1]);
    CHECK(read_git_bundle(bundle_of(swapped), c).error().code == Errc::parse_error);
  }
}

TEST_CASE("a bundle with another header, a malformed record or over the cap is refused",
          "[git_bundle]") {
  TempDir tmp;
  SourceRepo src(tmp / "repo");
  const std::string c = make_model(src);
  const std::string bundle = write_bundle(src.dir(), c);
  const std::string body = bundle.substr(git_bundle_header.size());

  CHECK(read_git_bundle("weightsd-git-objects 2\n" + body, c).error().code == Errc::parse_error);
  CHECK(read_git_bundle(bundle, c, bundle.size() - 1).error().code == Errc::too_large);
  CHECK(read_git_bundle(bundle.substr(0, bundle.size() - 1), c).error().code ==
        Errc::parse_error);  // the last object cut short
  for (const std::string& record :
       {std::string("tag 1") + '\0' + "x", std::string("blob 01") + '\0' + "x",
        std::string("blob 1"), std::string("blob 99999999999") + '\0'}) {
    INFO(printable_excerpt(record));
    auto r = read_git_bundle(std::string(git_bundle_header) + record, c);
    REQUIRE_FALSE(r);
    CHECK((r.error().code == Errc::parse_error || r.error().code == Errc::too_large));
    CHECK_THAT(r.error().message, Catch::StartsWith("git object bundle: at byte 23"));
  }
  CHECK(read_git_bundle(bundle, "abc").error().code == Errc::invalid_argument);
  // The header alone holds no commit.
  CHECK(read_git_bundle(std::string(git_bundle_header), c).error().code == Errc::not_found);
}
