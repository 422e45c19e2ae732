// Seeding a publisher's release, step by step, with a real store in a temp dir and plain
// records (no session, no resolver, no database).
#include "daemon/engine/seed_intake.hpp"

#include <functional>
#include <map>

#include <catch2/catch.hpp>

#include "daemon/engine/release_registry.hpp"
#include "support/record_rows.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::daemon;
using weights::testing::release_file;
using weights::testing::TempDir;
using weights::testing::write_text;

namespace {

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
    manifest.files = {release_file("config.json", "{}"), release_file("empty", ""),
                      release_file("w/model.bin", "the weights")};
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

namespace {

// The engine behind SeedIntakeHost: one feed whose trusted targets hold the fixture's release,
// torrents that arrive at once (or fail), the hashing pool run inline, session adds recorded.
struct FakeHost final : SeedIntakeHost {
  Fixture& fx;
  FeedState fs;
  std::optional<Error> torrents_fail;
  bool defer_pool = false;  // keep the pool's work for the test to run
  std::function<void()> pooled;
  std::vector<std::string> seeded;  // ids added to the session as seeds
  int completes = 0;

  explicit FakeHost(Fixture& f) : fx(f) {
    fs.name = "main";
    tuf::TargetInfo t;
    t.kind = tuf::TargetKind::release;
    t.model = "org/m";
    t.revision = "r1";
    t.path = "org/m/r1/release.json";
    fs.trusted_targets = {t};
  }
  bool shutting_down() override { return false; }
  Result<FeedState> feed(const std::string& name, const std::string&) override {
    if (name != "main") return fail(Errc::not_found, "no feed " + name);
    return fs;
  }
  Result<std::pair<ReleaseManifest, std::string>> manifest(const FeedState&,
                                                           const tuf::TargetInfo&) override {
    return std::pair{fx.manifest, std::string("{}")};
  }
  Status acquire(Release&, const FeedState&, const ReleaseManifest&,
                 std::function<void(Status)> done) override {
    done(torrents_fail ? Status(tl::unexpected(*torrents_fail)) : Status{});
    return {};
  }
  void on_pool(std::function<Status()> work, std::function<void(Status)> then) override {
    pooled = [work, then] { then(work()); };
    if (!defer_pool) pooled();
  }
  Status add_seed(Release& r) override {
    seeded.push_back(r.rec.id);
    r.handle = TorrentId{1};
    return {};
  }
  void check_complete(Release&) override { ++completes; }
  std::int64_t now_ticks() override { return 50; }
};

struct Rig {
  Fixture fx;
  weights::testing::RecordRows db;
  std::map<std::string, ReleaseRecord>& rows = db.rows;
  ReleaseRegistry registry{db.store()};
  FakeHost host{fx};
  SeedIntake intake{registry, host, fx.store, 2};
};

}  // namespace

TEST_CASE("a seed takes the publisher's files in, adopts them and seeds the release",
          "[seed_intake]") {
  Rig t;
  t.host.defer_pool = true;
  auto r = t.intake.seed(request(t.fx.tmp / "pub"));
  REQUIRE(r);
  CHECK(state_of(**r) == ReleaseState::verifying);  // preparing: the files are being taken in
  CHECK(t.rows.at("org/m@r1").state == "verifying");
  auto again = t.intake.seed(request(t.fx.tmp / "pub"));  // meanwhile: answered as it is
  REQUIRE(again);
  CHECK(*again == *r);
  REQUIRE(t.host.pooled);
  t.host.pooled();
  CHECK(t.host.seeded == std::vector<std::string>{"org/m@r1"});
  CHECK(state_of(**r) == ReleaseState::complete);
  CHECK(t.rows.at("org/m@r1").state == "complete");
  CHECK(t.rows.at("org/m@r1").verified.size() == 3);
  CHECK(t.host.completes == 1);
}

TEST_CASE(
    "a seed of a directory whose file differs from the manifest fails naming the file and "
    "seeds nothing",
    "[seed_intake]") {
  Rig t;
  write_text(t.fx.tmp / "pub/w/model.bin", "not the weights");
  auto r = t.intake.seed(request(t.fx.tmp / "pub"));
  REQUIRE(r);  // accepted: the files are checked on the pool
  const Release& rel = **r;
  CHECK(state_of(rel) == ReleaseState::failed);
  REQUIRE(rel.error);
  CHECK(rel.error->message.find("w/model.bin") != std::string::npos);
  CHECK(t.rows.at("org/m@r1").error_message.find("w/model.bin") != std::string::npos);
  CHECK(t.host.seeded.empty());
  for (const auto& f : rel.files) CHECK_FALSE(f.verified);
  CHECK_FALSE(std::filesystem::exists(t.fx.store.store_file(t.fx.manifest.files[0].sha256)));

  SECTION("seeding it again from the right files replaces the failed attempt") {
    write_text(t.fx.tmp / "pub/w/model.bin", "the weights");
    const auto gen = rel.generation;
    auto again = t.intake.seed(request(t.fx.tmp / "pub"));
    REQUIRE(again);
    CHECK((*again)->generation > gen);
    CHECK(state_of(**again) == ReleaseState::complete);
  }
}

TEST_CASE("a seed refused up front registers nothing", "[seed_intake]") {
  Rig t;
  SECTION("not a directory") {
    auto r = t.intake.seed(request(t.fx.tmp / "nowhere"));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::not_found);
  }
  SECTION("not a trusted target") {
    auto r = t.intake.seed(SeedRequest{"main", "org/m", "r9", t.fx.tmp / "pub"});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::not_found);
  }
  SECTION("an unknown feed") {
    auto r = t.intake.seed(SeedRequest{"other", "org/m", "r1", t.fx.tmp / "pub"});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::not_found);
  }
  CHECK(t.registry.size() == 0);
  CHECK(t.rows.empty());
}

TEST_CASE("a seed whose torrents cannot be had fails the release and takes no file",
          "[seed_intake]") {
  Rig t;
  t.host.torrents_fail = Error{Errc::unavailable, "feed mirror down", ""};
  auto r = t.intake.seed(request(t.fx.tmp / "pub"));
  REQUIRE(r);
  CHECK(state_of(**r) == ReleaseState::failed);
  CHECK_FALSE(t.host.pooled);
  CHECK(t.rows.at("org/m@r1").error_message == "feed mirror down");
}

TEST_CASE("a seed's paths are its manifest's, or the error seed would give", "[seed_intake]") {
  Rig t;
  auto paths = t.intake.paths(request(t.fx.tmp / "pub"));
  REQUIRE(paths);
  CHECK(*paths == std::vector<std::string>{"config.json", "empty", "w/model.bin"});
  auto missing = t.intake.paths(SeedRequest{"main", "org/m", "r9", t.fx.tmp / "pub"});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
  CHECK(t.registry.size() == 0);  // nothing recorded
}
