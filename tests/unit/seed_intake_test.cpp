// Seeding a publisher's release, step by step, with a real store in a temp dir and plain
// records (no session, no resolver, no database).
#include "daemon/engine/seed_intake.hpp"

#include <catch2/catch.hpp>

#include "core/util/crypto.hpp"
#include "daemon/engine/release_registry.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::daemon;
using weights::testing::TempDir;
using weights::testing::write_text;

namespace {

ReleaseFile file(const std::string& path, const std::string& content) {
  ReleaseFile f;
  f.path = path;
  f.length = content.size();
  f.sha256 = crypto::sha256_hex(content);
  return f;
}

SeedRequest request(const std::filesystem::path& dir) {
  return SeedRequest{"main", "org/m", "r1", dir};
}

// A publisher's directory with the release's files, a store, and the seeded release's record.
struct Fixture {
  TempDir tmp;
  Store store{tmp / "state"};
  ReleaseManifest manifest;
  Release release;

  Fixture() {
    REQUIRE(store.ensure_layout());
    manifest.model = "org/m";
    manifest.revision = "r1";
    manifest.release_seq = 2;
    manifest.torrent.v2_infohash = std::string(64, 'd');
    manifest.files = {file("config.json", "{}"), file("empty", ""),
                      file("w/model.bin", "the weights")};
    write_text(tmp / "pub/config.json", "{}");
    write_text(tmp / "pub/empty", "");
    write_text(tmp / "pub/w/model.bin", "the weights");
    release.manifest = manifest;
    release.rec = seed_record(request(tmp / "pub"), manifest, "{}", 9);
    release.files.assign(manifest.files.size(), FileEntry{});
    for (auto& f : release.files) f.wanted = true;
  }
  std::filesystem::path staging() const {
    return store.staging_dir(manifest.torrent.v2_infohash) / manifest.revision;
  }
};

}  // namespace

TEST_CASE("a seed names its trusted target, or says how to publish it", "[seed_intake]") {
  FeedState feed;
  feed.name = "main";
  tuf::TargetInfo t;
  t.kind = tuf::TargetKind::release;
  t.model = "org/m";
  t.revision = "r1";
  t.path = "org/m/r1/release.json";
  tuf::TargetInfo torrent = t;
  torrent.kind = tuf::TargetKind::torrent;
  torrent.path = "org/m/r1/release.torrent";
  feed.trusted_targets = {torrent, t};
  auto found = seed_target(feed, request("/x"));
  REQUIRE(found);
  CHECK(found->path == "org/m/r1/release.json");
  auto missing = seed_target(feed, SeedRequest{"main", "org/m", "r2", "/x"});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
  CHECK(missing.error().message.find("org/m@r2") != std::string::npos);
  CHECK_FALSE(missing.error().hint.empty());
}

TEST_CASE("a seed of a known release answers, is refused, or replaces a failed one",
          "[seed_intake]") {
  Fixture fx;
  Release& r = fx.release;
  CHECK(seed_path(nullptr) == SeedPath::start);
  r.intake = Intake::preparing;
  CHECK(seed_path(&r) == SeedPath::answer);  // its files are being taken in
  r.intake = Intake::ready;
  r.error = Error{Errc::hash_mismatch, "w/model.bin differs", ""};
  CHECK(seed_path(&r) == SeedPath::start);  // failed: taken in again
  r.error.reset();
  r.handle = TorrentId{2};
  CHECK(seed_path(&r) == SeedPath::refused);  // being fetched
  CHECK(seed_refused(r.rec.id).code == Errc::already_exists);
  for (auto& f : r.files) f.verified = true;
  CHECK(seed_path(&r) == SeedPath::answer);  // complete
}

TEST_CASE("the record of a seed is the publisher's, every file, requested now", "[seed_intake]") {
  Fixture fx;
  const auto& rec = fx.release.rec;
  CHECK(rec.id == "org/m@r1");
  CHECK(rec.feed == "main");
  CHECK(rec.origin == Origin::seeded);
  CHECK(rec.release_seq == 2);
  CHECK(rec.v2_infohash == fx.manifest.torrent.v2_infohash);
  CHECK(rec.include.empty());
  CHECK(rec.added_at == 9);
  CHECK(rec.last_requested == 9);
}

TEST_CASE("the publisher's files are taken into staging, then adopted into the store verified",
          "[seed_intake]") {
  Fixture fx;
  REQUIRE(take_publisher_files(fx.tmp / "pub", fx.manifest, fx.staging(), 2));
  auto adopted = adopt_taken(fx.release, fx.store);
  INFO((adopted ? std::string() : adopted.error().message));
  REQUIRE(adopted);
  for (std::size_t i = 0; i < fx.manifest.files.size(); ++i) {
    CAPTURE(fx.manifest.files[i].path);
    CHECK(fx.release.files[i].verified);
    CHECK(std::filesystem::exists(fx.store.store_file(fx.manifest.files[i].sha256)));
  }
}

TEST_CASE(
    "a publisher's file that differs from the manifest fails the seed, named, and nothing "
    "is taken in",
    "[seed_intake]") {
  Fixture fx;
  write_text(fx.tmp / "pub/w/model.bin", "other bytes");
  auto st = take_publisher_files(fx.tmp / "pub", fx.manifest, fx.staging(), 2);
  REQUIRE_FALSE(st);
  CHECK(st.error().message.find("w/model.bin") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(fx.staging() / "config.json"));
  CHECK_FALSE(std::filesystem::exists(fx.staging() / "w/model.bin"));
  CHECK_FALSE(std::filesystem::exists(fx.store.store_file(fx.manifest.files[0].sha256)));
  for (const auto& f : fx.release.files) CHECK_FALSE(f.verified);

  SECTION("a missing file is named too") {
    std::filesystem::remove(fx.tmp / "pub/w/model.bin");
    auto gone = take_publisher_files(fx.tmp / "pub", fx.manifest, fx.staging(), 2);
    REQUIRE_FALSE(gone);
    CHECK(gone.error().message.find("w/model.bin") != std::string::npos);
  }
}
