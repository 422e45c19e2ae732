// The release registry alone: records in memory, rows in a map standing in for the ReleaseDb.
#include "daemon/engine/release_registry.hpp"

#include <catch2/catch.hpp>

#include "daemon/store.hpp"
#include "support/record_rows.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::daemon;

namespace {

using Rows = weights::testing::RecordRows;

// A release of `model`@`rev` with one file per (sha, length), each wanted.
std::unique_ptr<Release> release(const std::string& model, const std::string& rev,
                                 std::vector<std::pair<std::string, std::uint64_t>> files,
                                 std::uint64_t seq = 1) {
  auto r = std::make_unique<Release>();
  r->rec.id = model + "@" + rev;
  r->rec.model = model;
  r->rec.revision = rev;
  r->rec.release_seq = seq;
  r->rec.v2_infohash = model + "@" + rev;
  for (const auto& [sha, len] : files) {
    ReleaseFile f;
    f.path = sha + ".bin";
    f.sha256 = sha;
    f.length = len;
    r->manifest.files.push_back(f);
    FileEntry e;
    e.length = len;
    e.wanted = true;
    r->files.push_back(e);
  }
  return r;
}

}  // namespace

TEST_CASE("the registry gives a release taken in again a new generation", "[release_registry]") {
  Rows rows;
  ReleaseRegistry reg(rows.store());
  const auto first = reg.add(release("org/m", "r1", {{"x", 1}})).generation;
  const auto other = reg.add(release("org/m", "r2", {{"y", 1}})).generation;
  const auto again = reg.add(release("org/m", "r1", {{"x", 1}})).generation;
  CHECK(other != first);
  CHECK(again > first);
  CHECK(again > other);
  CHECK(reg.size() == 2);
  REQUIRE(reg.find("org/m@r1") != nullptr);
  CHECK(reg.find("org/m@r1")->generation == again);
}

TEST_CASE("require finds an id, or the newest release of a model, or says not_found",
          "[release_registry]") {
  Rows rows;
  ReleaseRegistry reg(rows.store());
  reg.add(release("org/m", "old", {{"x", 1}}, 1));
  reg.add(release("org/m", "new", {{"y", 1}}, 2));
  auto exact = reg.require("org/m@old");
  REQUIRE(exact);
  CHECK((*exact)->rec.revision == "old");
  auto newest = reg.require("org/m");
  REQUIRE(newest);
  CHECK((*newest)->rec.revision == "new");
  auto missing = reg.require("org/other@r1");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
  CHECK(missing.error().message.find("org/other@r1") != std::string::npos);
}

TEST_CASE("persist writes the state, verified paths and error of the record",
          "[release_registry]") {
  Rows rows;
  ReleaseRegistry reg(rows.store());
  Release& r = reg.add(release("org/m", "r1", {{"x", 1}, {"y", 2}}));
  r.files[1].verified = true;
  r.error = Error{Errc::hash_mismatch, "y.bin differs", "fetch it again"};
  reg.persist(r);
  REQUIRE(rows.rows.count("org/m@r1"));
  const auto& row = rows.rows.at("org/m@r1");
  CHECK(row.state == "failed");
  CHECK(row.verified == std::vector<std::string>{"y.bin"});
  CHECK(row.error_code == code_name(Errc::hash_mismatch));
  CHECK(row.error_message == "y.bin differs");
  CHECK(row.error_hint == "fetch it again");

  SECTION("a release still loading keeps its stored state") {
    r.intake = Intake::loading;
    r.rec.state = "complete";
    reg.persist(r);
    CHECK(rows.rows.at("org/m@r1").state == "complete");
  }
}

TEST_CASE("remove forgets the record only once its row is gone", "[release_registry]") {
  Rows rows;
  ReleaseRegistry reg(rows.store());
  reg.persist(reg.add(release("org/m", "r1", {{"x", 1}})));
  rows.refuse = Error{Errc::io_error, "disk gone", ""};
  REQUIRE_FALSE(reg.remove("org/m@r1"));
  CHECK(reg.find("org/m@r1") != nullptr);
  rows.refuse.reset();
  REQUIRE(reg.remove("org/m@r1"));
  CHECK(reg.find("org/m@r1") == nullptr);
  CHECK(rows.rows.empty());
}

TEST_CASE("removal keeps content and torrents another release shares", "[release_registry]") {
  Rows rows;
  ReleaseRegistry reg(rows.store());
  Release& a = reg.add(release("org/m", "r1", {{"shared", 1}, {"own", 2}, {"unverified", 3}}));
  a.files[0].verified = a.files[1].verified = true;
  Release& b = reg.add(release("org/n", "r1", {{"shared", 1}}));
  b.files[0].verified = true;
  CHECK(reg.unshared_content("org/m@r1") == std::vector<std::string>{"own"});
  CHECK_FALSE(reg.torrent_shared("org/m@r1"));
  b.rec.v2_infohash = a.rec.v2_infohash;
  CHECK(reg.torrent_shared("org/m@r1"));
  CHECK(reg.unshared_content("org/none@r1").empty());
}

TEST_CASE("removing a release's files spares what another release needs", "[release_registry]") {
  weights::testing::TempDir tmp;
  Store store(tmp / "state");
  REQUIRE(store.ensure_layout());
  const std::string shared(64, 'a'), own(64, 'b');
  Rows rows;
  ReleaseRegistry reg(rows.store());
  Release& a = reg.add(release("org/m", "r1", {{shared, 1}, {own, 2}}));
  a.rec.v2_infohash = std::string(64, 'c');
  a.files[0].verified = a.files[1].verified = true;
  Release& b = reg.add(release("org/n", "r1", {{shared, 1}}));
  b.files[0].verified = true;
  const auto v2 = a.rec.v2_infohash;
  const std::vector<std::filesystem::path> files{
      store.store_file(shared),  store.store_file(own),  store.staging_file(v2, "r1", "x.bin"),
      store.resume_file(v2),     store.torrent_file(v2), store.torrent_v1_file(v2),
      store.git_objects_file(v2)};
  for (const auto& f : files) weights::testing::write_text(f, "x");

  SECTION("a torrent of its own goes with its unshared content") {
    reg.remove_files("org/m@r1", store);
    CHECK(std::filesystem::exists(store.store_file(shared)));
    for (std::size_t i = 1; i < files.size(); ++i) {
      CAPTURE(files[i]);
      CHECK_FALSE(std::filesystem::exists(files[i]));
    }
    CHECK_FALSE(std::filesystem::exists(store.staging_dir(v2)));
  }
  SECTION("a shared torrent stays, with its staging, resume file and torrents") {
    b.rec.v2_infohash = v2;
    reg.remove_files("org/m@r1", store);
    CHECK_FALSE(std::filesystem::exists(store.store_file(own)));
    for (std::size_t i = 2; i < files.size(); ++i) CHECK(std::filesystem::exists(files[i]));
  }
  CHECK(reg.find("org/m@r1"));  // the record is remove()'s
}

TEST_CASE("the disk budget sees wanted content, holds, and protects fetches in progress",
          "[release_registry]") {
  Rows rows;
  ReleaseRegistry reg(rows.store());
  Release& user = reg.add(release("org/u", "r1", {{"x", 10}, {"y", 20}}));
  user.rec.last_requested = 5;
  user.files[1].wanted = false;
  Release& follow = reg.add(release("org/f", "r1", {{"x", 10}, {"z", 30}}));
  follow.rec.added_at = 7;
  const auto stored = reg.stored_releases({"org/f@r1"});
  REQUIRE(stored.size() == 2);
  const auto& f = stored[0];  // by id: org/f before org/u
  const auto& u = stored[1];
  CHECK(u.id == "org/u@r1");
  CHECK(u.content.size() == 1);
  CHECK(u.protect);  // a user's fetch in progress
  CHECK(u.last_requested == 5);
  CHECK(f.held);
  CHECK(f.protect);  // a follow's, while the follow holds it
  CHECK(f.last_requested == 7);
  CHECK_FALSE(reg.stored_releases({})[0].protect);                   // no longer held: evictable
  CHECK(reg.reserved() == 10 + 30);                                  // shared content once
  CHECK(reg.reserved() == reserved_bytes(reg.stored_releases({})));  // the budget's rule
  const auto counts = reg.room_counts();
  CHECK(counts.active == 2);
  CHECK(counts.pinned == 0);
}

TEST_CASE("a scrub takes complete releases only", "[release_registry]") {
  Rows rows;
  ReleaseRegistry reg(rows.store());
  Release& done = reg.add(release("org/m", "r1", {{"x", 1}}));
  done.handle = TorrentId{1};
  done.files[0].verified = true;
  reg.add(release("org/m", "r0", {{"y", 1}}, 0));
  auto all = reg.scrub_ids(std::nullopt);
  REQUIRE(all);
  CHECK(*all == std::vector<std::string>{"org/m@r1"});
  auto one = reg.scrub_ids(std::string("org/m@r0"));
  REQUIRE_FALSE(one);
  CHECK(one.error().code == Errc::invalid_argument);
  auto missing = reg.scrub_ids(std::string("org/x@r1"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
}

TEST_CASE("errc_from reads back every code name", "[release_registry]") {
  for (int c = 0; c <= static_cast<int>(errc_last); ++c) {
    CHECK(errc_from(std::string(code_name(static_cast<Errc>(c)))) == static_cast<Errc>(c));
  }
  CHECK(errc_from("no such code") == Errc::internal);
}

TEST_CASE("a release still coming from its upstream, with no manifest yet, gets no row",
          "[release_registry]") {
  Rows rows;
  ReleaseRegistry reg(rows.store());
  auto pending = release("org/m", std::string(40, 'a'), {});
  pending->rec.origin = Origin::upstream;
  Release& r = reg.add(std::move(pending));
  r.error = Error{Errc::unavailable, "the hub did not answer", ""};
  reg.persist(r);
  CHECK(rows.rows.empty());
  r.rec.manifest = "{}";
  reg.persist(r);
  CHECK(rows.rows.count(r.rec.id) == 1);
}

TEST_CASE("removing the files of a release with no torrent yet leaves every staging dir alone",
          "[release_registry]") {
  weights::testing::TempDir tmp;
  Store store(tmp / "state");
  REQUIRE(store.ensure_layout());
  const auto other = store.staging_file(std::string(64, 'c'), "r1", "x.bin");
  weights::testing::write_text(other, "x");
  Rows rows;
  ReleaseRegistry reg(rows.store());
  auto pending = release("org/m", std::string(40, 'a'), {});
  pending->rec.origin = Origin::upstream;
  pending->rec.v2_infohash.clear();
  reg.add(std::move(pending));
  reg.remove_files("org/m@" + std::string(40, 'a'), store);
  CHECK(std::filesystem::exists(other));
}
