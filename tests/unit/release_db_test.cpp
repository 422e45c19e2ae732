#include "daemon/release_db.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::daemon;

TEST_CASE("release records round-trip and survive reopening", "[release_db]") {
  testing::TempDir tmp;
  ReleaseRecord rec;
  rec.id = "org/name@r1";
  rec.feed = "demo";
  rec.model = "org/name";
  rec.revision = "r1";
  rec.release_seq = 3;
  rec.v2_infohash = std::string(64, 'a');
  rec.manifest = "{\"manifest\":true}";
  rec.origin = Origin::seeded;
  rec.include = {"*.json"};
  rec.peers = {"127.0.0.2:6881"};
  rec.verified = {"config.json"};
  rec.pinned = true;
  rec.state = "complete";
  rec.view_path = "/x/views/org/name/r1";
  {
    auto state = db::StateDb::open(tmp.path());
    REQUIRE(state);
    std::optional<ReleaseDb> db(*state);
    REQUIRE(db->put(rec));
    REQUIRE(db->cache_manifest("abc", "bytes"));
  }
  auto state = db::StateDb::open(tmp.path());
  REQUIRE(state);
  std::optional<ReleaseDb> db(*state);
  auto got = db->get(rec.id);
  REQUIRE(got);
  REQUIRE(got->has_value());
  const auto& r = **got;
  CHECK(r.feed == "demo");
  CHECK(r.release_seq == 3);
  CHECK(r.origin == Origin::seeded);
  CHECK(r.include == rec.include);
  CHECK(r.peers == rec.peers);
  CHECK(r.verified == rec.verified);
  CHECK(r.pinned);
  CHECK(r.manifest == rec.manifest);
  CHECK(**db->cached_manifest("abc") == "bytes");
  CHECK_FALSE(db->cached_manifest("nope")->has_value());
  REQUIRE(db->list()->size() == 1);
  REQUIRE(db->remove(rec.id));
  CHECK(db->list()->empty());
  CHECK_FALSE(db->get(rec.id)->has_value());
}

TEST_CASE("every origin round-trips, a release pinned by an upstream commit too", "[release_db]") {
  testing::TempDir tmp;
  auto state = db::StateDb::open(tmp.path());
  REQUIRE(state);
  ReleaseDb db(*state);
  for (const Origin o : {Origin::fetched, Origin::seeded, Origin::upstream}) {
    ReleaseRecord rec;
    rec.id = fmt::format("org/name@{}", origin_name(o));
    rec.feed = "upstream:huggingface";
    rec.model = "org/name";
    rec.revision = std::string(origin_name(o));
    rec.manifest = "{}";
    rec.origin = o;
    REQUIRE(db.put(rec));
    auto got = db.get(rec.id);
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->origin == o);
    CHECK(origin_from_name(origin_name(o)) == o);
  }
}

TEST_CASE("the hub's answers survive reopening and go with their release", "[release_db]") {
  testing::TempDir tmp;
  HubStatus s;
  s.answer = HubAnswer::refused;
  s.http_status = 451;
  s.error_code = "UnavailableForLegalReasons";
  s.answer_since = 100;
  s.answer_checked = 200;
  s.unreachable_since = 300;
  s.error = "connection refused";
  s.checked = 300;
  {
    auto state = db::StateDb::open(tmp.path());
    REQUIRE(state);
    ReleaseDb db(*state);
    REQUIRE(db.put_hub_status("org/a@c", s));
    REQUIRE(db.put_hub_status("org/b@c", HubStatus{}));
  }
  auto state = db::StateDb::open(tmp.path());
  REQUIRE(state);
  ReleaseDb db(*state);
  auto got = db.hub_statuses();
  REQUIRE(got);
  REQUIRE(got->size() == 2);
  CHECK(got->at(0).first == "org/a@c");
  CHECK(got->at(0).second == s);
  CHECK(got->at(1).second == HubStatus{});
  s.answer = HubAnswer::serving;
  REQUIRE(db.put_hub_status("org/a@c", s));
  CHECK(db.hub_statuses()->at(0).second.answer == HubAnswer::serving);
  REQUIRE(db.remove("org/a@c"));
  REQUIRE(db.hub_statuses()->size() == 1);
  CHECK(db.hub_statuses()->at(0).first == "org/b@c");
}

TEST_CASE("a licence acceptance is kept per upstream, repository and licence, with its first time",
          "[release_db][license]") {
  testing::TempDir tmp;
  {
    auto state = db::StateDb::open(tmp.path());
    REQUIRE(state);
    ReleaseDb db(*state);
    CHECK_FALSE(db.license_accepted("huggingface", "org/m", "llama3.1")->has_value());
    REQUIRE(db.accept_license("huggingface", "org/m", "llama3.1", 100));
    REQUIRE(db.accept_license("huggingface", "org/m", "llama3.1", 200));  // keeps the first
  }
  auto state = db::StateDb::open(tmp.path());
  REQUIRE(state);
  ReleaseDb db(*state);
  CHECK(**db.license_accepted("huggingface", "org/m", "llama3.1") == 100);
  CHECK_FALSE(db.license_accepted("huggingface", "org/m", "gemma")->has_value());
  CHECK_FALSE(db.license_accepted("huggingface", "org/other", "llama3.1")->has_value());
  CHECK_FALSE(db.license_accepted("elsewhere", "org/m", "llama3.1")->has_value());
}
