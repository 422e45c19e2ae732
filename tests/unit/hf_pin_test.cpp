// The hub's API listing and the downloaded files checked against a commit's pinned tree.
#include "core/upstream/hf_pin.hpp"

#include <catch2/catch.hpp>

using namespace weights;
using namespace weights::upstream;

namespace {

const std::string commit = "0123456789abcdef0123456789abcdef01234567";

PinnedTree pin() {
  PinnedTree t;
  t.commit = commit;
  t.files = {
      PinnedFile{".gitattributes", 52, std::string(64, '1'), std::string(40, 'a'), FileKind::blob},
      PinnedFile{"config.json", 9, std::string(64, '2'), std::string(40, 'b'), FileKind::blob},
      PinnedFile{"model.safetensors", 5000, std::string(64, '3'), std::string(40, 'c'),
                 FileKind::lfs}};
  return t;
}

// What an honest hub's API lists for the pin.
hf::HubRevision api() {
  hf::HubRevision r;
  r.repo = "org/name";
  r.sha = commit;
  r.license = "mit";
  r.files = {hf::HubFile{".gitattributes", 52, std::string(40, 'a'), std::nullopt},
             hf::HubFile{"config.json", 9, std::string(40, 'b'), std::nullopt},
             hf::HubFile{"model.safetensors", 5000, std::string(40, 'c'), std::string(64, '3')}};
  return r;
}

// The pinned files as hashed on disk.
std::vector<ReleaseFile> on_disk() {
  std::vector<ReleaseFile> out;
  for (const auto& p : pin().files) {
    ReleaseFile f;
    f.path = p.path;
    f.length = p.size;
    f.sha256 = p.sha256;
    f.git_oid = p.kind == FileKind::blob ? std::optional(p.git_oid) : std::nullopt;
    out.push_back(f);
  }
  return out;
}

}  // namespace

TEST_CASE("an API listing of exactly the pinned files passes", "[hf_pin]") {
  CHECK(check_listing(api(), pin()));
}

TEST_CASE("a file the API lists but the commit does not hold is refused, naming it", "[hf_pin]") {
  auto listed = api();
  listed.files.push_back(hf::HubFile{"extra/notes.txt", 3, std::string(40, 'd'), std::nullopt});
  auto st = check_listing(listed, pin());
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::wrong_target);
  CHECK_THAT(st.error().message,
             Catch::StartsWith("extra/notes.txt: listed by the hub's API but not a file of "
                               "commit 0123456789ab"));
}

TEST_CASE("a file of the commit that the API does not list is refused, naming it", "[hf_pin]") {
  auto listed = api();
  listed.files.erase(listed.files.begin() + 1);
  auto st = check_listing(listed, pin());
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::wrong_target);
  CHECK_THAT(st.error().message, Catch::StartsWith("config.json: a file of commit"));
}

TEST_CASE("a size, LFS oid, git oid or kind the pin does not have is refused, naming the file",
          "[hf_pin]") {
  auto size = api();
  size.files[1].size = 10;
  auto st = check_listing(size, pin());
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::length_mismatch);
  CHECK_THAT(st.error().message, Catch::StartsWith("config.json: the hub's API lists 10 bytes"));

  auto lfs_oid = api();
  lfs_oid.files[2].lfs_sha256 = std::string(64, 'f');
  st = check_listing(lfs_oid, pin());
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::hash_mismatch);
  CHECK_THAT(st.error().message,
             Catch::StartsWith("model.safetensors: the hub's API lists LFS oid ffff") &&
                 Catch::Contains("pins SHA-256 3333"));

  auto git_oid = api();
  git_oid.files[0].git_oid = std::string(40, 'e');
  st = check_listing(git_oid, pin());
  REQUIRE_FALSE(st);
  CHECK_THAT(st.error().message, Catch::StartsWith(".gitattributes: the hub's API lists git oid"));

  auto kind = api();
  kind.files[2].lfs_sha256.reset();
  st = check_listing(kind, pin());
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::hash_mismatch);
  CHECK_THAT(st.error().message,
             Catch::StartsWith("model.safetensors: the hub's API lists a file stored in git"));
}

TEST_CASE("an API listing of another commit is refused", "[hf_pin]") {
  auto other = api();
  other.sha = std::string(40, '9');
  auto st = check_listing(other, pin());
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::wrong_target);
  CHECK_THAT(st.error().hint, Catch::Contains("nothing was downloaded"));
}

TEST_CASE("pinned_revision downloads the pin's files with their LFS SHA-256s", "[hf_pin]") {
  const auto r = pinned_revision("org/name", pin(), "mit");
  CHECK(r.repo == "org/name");
  CHECK(r.sha == commit);
  CHECK(r.license == "mit");
  REQUIRE(r.files.size() == 3);
  CHECK_FALSE(r.files[1].lfs_sha256);
  CHECK(r.files[2].lfs_sha256 == std::string(64, '3'));
  CHECK(r.files[2].git_oid == std::string(40, 'c'));
}

TEST_CASE("downloaded files must have the pin's SHA-256; git_oid is set for small files only",
          "[hf_pin]") {
  auto files = on_disk();
  files[0].git_oid.reset();  // not computed: the pin's blob id is taken
  files[2].git_oid = std::string(40, '7');
  std::string bad = "stale";
  REQUIRE(check_against_pin(pin(), files, &bad));
  CHECK(bad.empty());
  CHECK(files[0].git_oid == std::string(40, 'a'));
  CHECK(files[1].git_oid == std::string(40, 'b'));
  CHECK_FALSE(files[2].git_oid);  // LFS: named by its SHA-256 only
}

TEST_CASE("a downloaded file that differs from the pin is refused, naming it", "[hf_pin]") {
  std::string bad;
  auto lfs = on_disk();
  lfs[2].sha256 = std::string(64, 'f');
  auto st = check_against_pin(pin(), lfs, &bad);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::hash_mismatch);
  CHECK_THAT(st.error().message, Catch::StartsWith("model.safetensors: SHA-256 ffff"));
  CHECK(bad == "model.safetensors");

  auto small = on_disk();
  small[1].sha256 = std::string(64, 'f');
  st = check_against_pin(pin(), small, &bad);
  REQUIRE_FALSE(st);
  CHECK(bad == "config.json");

  auto blob = on_disk();
  blob[1].git_oid = std::string(40, 'f');
  st = check_against_pin(pin(), blob, &bad);
  REQUIRE_FALSE(st);
  CHECK_THAT(st.error().message, Catch::StartsWith("config.json: git blob id ffff"));

  auto length = on_disk();
  length[0].length = 1;
  st = check_against_pin(pin(), length, &bad);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::length_mismatch);
  CHECK(bad == ".gitattributes");
}

TEST_CASE("a file on disk that the commit does not hold, or a missing one, is refused",
          "[hf_pin]") {
  auto extra = on_disk();
  extra.push_back(ReleaseFile{"leftover.bin", 1, std::string(64, '4'), std::string(64, '5'), {}});
  auto st = check_against_pin(pin(), extra);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::wrong_target);
  CHECK_THAT(st.error().message, Catch::StartsWith("leftover.bin: not a file of commit"));

  auto missing = on_disk();
  missing.pop_back();
  st = check_against_pin(pin(), missing);
  REQUIRE_FALSE(st);
  CHECK_THAT(st.error().message, Catch::StartsWith("model.safetensors: a file of commit"));
}
