// A fetch request's validation and what it does to a known release, as plain decisions (no
// session, no resolver: releases are plain records).
#include "daemon/engine/fetch_request.hpp"

#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "daemon/store.hpp"
#include "support/record_rows.hpp"

using namespace weights;
using namespace weights::daemon;

namespace {

ReleaseManifest manifest() {
  ReleaseManifest m;
  m.model = "org/m";
  m.revision = "r1";
  m.release_seq = 4;
  m.torrent.v2_infohash = std::string(64, 'b');
  for (const auto& p : {"config.json", "tokenizer.json", "w/model-1.bin", "w/model-2.bin"}) {
    ReleaseFile f;
    f.path = p;
    f.length = 10;
    f.sha256 = std::string(64, 'c');
    m.files.push_back(f);
  }
  return m;
}

// A release of manifest() with `include` selected.
Release release(std::vector<std::string> include) {
  Release r;
  r.manifest = manifest();
  r.rec = fetch_record(r.manifest, "{}", "main", FetchRequest{}, 1);
  r.rec.include = std::move(include);
  const auto wanted = select_files(manifest_paths(r.manifest), r.rec.include);
  for (bool w : wanted) {
    FileEntry e;
    e.length = 10;
    e.wanted = w;
    r.files.push_back(e);
  }
  return r;
}

FetchRequest request(std::vector<std::string> include, std::vector<std::string> peers = {}) {
  FetchRequest q;
  q.name = "org/m";
  q.include = std::move(include);
  q.peers = std::move(peers);
  return q;
}

}  // namespace

TEST_CASE("a peer that is not ip:port is an invalid_argument naming it", "[fetch_request]") {
  CHECK(check_peers({}));
  CHECK(check_peers({"127.0.0.1:6881", "[::1]:6881"}));
  for (const auto& bad : {"127.0.0.1", "127.0.0.1:0", "host:6881", "1.2.3.4:70000"}) {
    CAPTURE(bad);
    auto st = check_peers({"127.0.0.1:6881", bad});
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::invalid_argument);
  }
}

TEST_CASE("an include glob that selects no file is an invalid_argument naming it",
          "[fetch_request]") {
  const auto m = manifest();
  CHECK(check_includes(m, {}));
  CHECK(check_includes(m, {"*.json", "w/*"}));
  auto st = check_includes(m, {"*.json", "*.safetensors"});
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::invalid_argument);
  CHECK(st.error().message.find("'*.safetensors'") != std::string::npos);
  CHECK(st.error().message.find("org/m@r1") != std::string::npos);
  CHECK_FALSE(st.error().hint.empty());
}

TEST_CASE("a fetch starts, widens, joins or starts over by what is known of the release",
          "[fetch_request]") {
  CHECK(fetch_path(nullptr, false) == FetchPath::start);
  Release r = release({});
  CHECK(fetch_path(&r, true) == FetchPath::join);      // its torrents are being fetched
  CHECK(fetch_path(&r, false) == FetchPath::restart);  // failed before a torrent was added
  r.handle = TorrentId{7};
  CHECK(fetch_path(&r, false) == FetchPath::widen);
  CHECK(fetch_path(&r, true) == FetchPath::widen);
}

TEST_CASE("a second fetch of a release in progress merges includes and peers", "[fetch_request]") {
  Release r = release({"*.json"});
  r.rec.peers = {"127.0.0.1:1"};
  auto sel = widen_selection(r, request({"w/model-1.bin", "*.json"}));
  REQUIRE(sel);
  CHECK(sel->include == std::vector<std::string>{"*.json", "w/model-1.bin"});
  CHECK(sel->wanted == std::vector<bool>{true, true, true, false});
  apply_selection(r, std::move(*sel));
  CHECK(r.rec.include == std::vector<std::string>{"*.json", "w/model-1.bin"});
  CHECK(r.files[2].wanted);
  CHECK_FALSE(r.files[3].wanted);
  merge_unique(r.rec.peers, {"127.0.0.1:2", "127.0.0.1:1"});
  CHECK(r.rec.peers == std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2"});

  SECTION("a request for every file widens to every file") {
    auto all = widen_selection(r, request({}));
    REQUIRE(all);
    CHECK(all->include.empty());
    CHECK(all->wanted == std::vector<bool>(4, true));
  }
}

TEST_CASE("a fetch of a release that wants every file changes no selection: it answers at once",
          "[fetch_request]") {
  Release r = release({});
  r.handle = TorrentId{7};
  for (auto& f : r.files) f.verified = true;
  CHECK(fetch_path(&r, false) == FetchPath::widen);
  CHECK_FALSE(widen_selection(r, request({"*.json"})));
  CHECK_FALSE(widen_selection(r, request({})));
}

TEST_CASE("the record of a new fetch carries its selection, peers and requester",
          "[fetch_request]") {
  const auto m = manifest();
  auto user = fetch_record(m, "bytes", "main", request({"*.json"}, {"127.0.0.1:1"}), 42);
  CHECK(user.id == "org/m@r1");
  CHECK(user.feed == "main");
  CHECK(user.release_seq == 4);
  CHECK(user.v2_infohash == m.torrent.v2_infohash);
  CHECK(user.manifest == "bytes");
  CHECK(user.origin == Origin::fetched);
  CHECK(user.include == std::vector<std::string>{"*.json"});
  CHECK(user.peers == std::vector<std::string>{"127.0.0.1:1"});
  CHECK(user.added_at == 42);
  CHECK(user.last_requested == 42);
  auto q = request({});
  q.requested_by = Requester::follow;
  CHECK(fetch_record(m, "bytes", "main", q, 42).last_requested == 0);  // a follow's: not LRU
}

TEST_CASE(
    "a follow's fetch starts only an absent or failed release, and start-up resumes resolving",
    "[fetch_request]") {
  CHECK(fetch_would_start(nullptr));
  Release r = release({});
  CHECK(fetch_would_start(&r));
  CHECK(awaiting_torrents(r));
  r.error = Error{Errc::unavailable, "mirror down", ""};
  CHECK_FALSE(awaiting_torrents(r));
  r.error.reset();
  r.rec.origin = Origin::seeded;
  CHECK_FALSE(awaiting_torrents(r));
  r.intake = Intake::preparing;
  CHECK_FALSE(fetch_would_start(&r));
  r.intake = Intake::ready;
  r.handle = TorrentId{3};
  CHECK_FALSE(fetch_would_start(&r));
}

namespace {

// The engine behind FetchHost: resolves to manifest(), records what the intake asks of it.
struct FakeHost final : FetchHost {
  ReleaseManifest m = manifest();
  bool stopping = false;
  std::optional<Error> no_room;  // make_room fails with this
  std::set<std::string> in_flight;
  int resolves = 0, rooms = 0, selections = 0, completes = 0;
  std::vector<std::string> acquired;  // ids whose torrents were asked for
  std::vector<std::string> peers_added;

  bool shutting_down() override { return stopping; }
  Result<Resolved> resolve(const FetchRequest&) override {
    ++resolves;
    Resolved r;
    r.feed.name = "main";
    r.manifest = m;
    r.bytes = "{}";
    return r;
  }
  bool acquiring(const Release& r) override { return in_flight.count(r.rec.id) > 0; }
  Status make_room(const Release&, const std::vector<bool>&) override {
    ++rooms;
    if (no_room) return tl::unexpected(*no_room);
    return {};
  }
  void selection_changed(Release&) override { ++selections; }
  Status add_peers(Release& r, const std::vector<std::string>& peers) override {
    merge_unique(r.rec.peers, peers);
    peers_added.insert(peers_added.end(), peers.begin(), peers.end());
    return {};
  }
  void check_complete(Release&) override { ++completes; }
  Status acquire(Release& r, const FeedState&, const ReleaseManifest&) override {
    acquired.push_back(r.rec.id);
    in_flight.insert(r.rec.id);
    return {};
  }
  std::int64_t now_ticks() override { return 100; }
  Result<FeedState> feed(const std::string& name) override {
    if (name != "main") return fail(Errc::not_found, "no feed " + name);
    FeedState fs;
    fs.name = name;
    return fs;
  }
  std::optional<Error> refuse_add;  // add fails with this
  std::vector<std::string> added, discarded;
  Status add(Release& r) override {
    if (refuse_add) return tl::unexpected(*refuse_add);
    added.push_back(r.rec.id);
    return {};
  }
  void discard_torrents(const std::string& v2) override { discarded.push_back(v2); }
};

struct Rig {
  weights::testing::RecordRows db;
  std::map<std::string, ReleaseRecord>& rows = db.rows;
  ReleaseRegistry registry{db.store()};
  FakeHost host;
  FetchIntake intake{registry, host};
};

}  // namespace

TEST_CASE("a new fetch records the release resolving and asks for its torrents, persisting nothing",
          "[fetch_request]") {
  Rig t;
  auto r = t.intake.fetch(request({"*.json"}, {"127.0.0.1:9"}));
  REQUIRE(r);
  CHECK((*r)->rec.id == "org/m@r1");
  CHECK(state_of(**r) == ReleaseState::resolving);
  CHECK((*r)->rec.peers == std::vector<std::string>{"127.0.0.1:9"});
  CHECK(t.host.rooms == 1);
  CHECK(t.host.acquired == std::vector<std::string>{"org/m@r1"});
  CHECK(t.rows.empty());
}

TEST_CASE("a second fetch of a release whose torrents are fetched joins it instead of re-adding",
          "[fetch_request]") {
  Rig t;
  REQUIRE(t.intake.fetch(request({"*.json"}, {"127.0.0.1:1"})));
  const auto gen = t.registry.find("org/m@r1")->generation;
  auto again = t.intake.fetch(request({"w/model-1.bin"}, {"127.0.0.1:2", "127.0.0.1:1"}));
  REQUIRE(again);
  CHECK((*again)->generation == gen);  // the same record
  CHECK(t.host.acquired.size() == 1);  // its torrents are not asked for twice
  CHECK((*again)->rec.include == std::vector<std::string>{"*.json", "w/model-1.bin"});
  CHECK((*again)->rec.peers == std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2"});
  CHECK((*again)->files[2].wanted);
  CHECK_FALSE((*again)->files[3].wanted);
  CHECK(t.rows.empty());
}

TEST_CASE("a second fetch of a release in the session widens it and adds its peers",
          "[fetch_request]") {
  Rig t;
  Release& r = t.registry.add(std::make_unique<Release>(release({"*.json"})));
  r.handle = TorrentId{5};
  auto again = t.intake.fetch(request({}, {"127.0.0.1:2"}));
  REQUIRE(again);
  CHECK(*again == &r);
  CHECK(r.rec.include.empty());  // every file now
  CHECK(wanted_mask(r.files) == std::vector<bool>(4, true));
  CHECK(t.host.selections == 1);
  CHECK(t.host.peers_added == std::vector<std::string>{"127.0.0.1:2"});
  CHECK(t.host.acquired.empty());
  CHECK(t.rows.count("org/m@r1"));
  CHECK(t.host.completes == 1);
}

TEST_CASE("a fetch of a complete release answers at once", "[fetch_request]") {
  Rig t;
  Release& r = t.registry.add(std::make_unique<Release>(release({})));
  r.handle = TorrentId{5};
  for (auto& f : r.files) f.verified = true;
  auto again = t.intake.fetch(request({"*.json"}));
  REQUIRE(again);
  CHECK(*again == &r);
  CHECK(state_of(r) == ReleaseState::complete);
  CHECK(t.host.rooms == 0);
  CHECK(t.host.selections == 0);
  CHECK(t.host.acquired.empty());
  CHECK(r.rec.last_requested == 100);  // a user's request still counts for eviction
}

TEST_CASE("a failed earlier fetch is started over under a new generation", "[fetch_request]") {
  Rig t;
  Release& failed = t.registry.add(std::make_unique<Release>(release({})));
  failed.error = Error{Errc::unavailable, "mirror down", ""};
  const auto gen = failed.generation;
  auto r = t.intake.fetch(request({}));
  REQUIRE(r);
  CHECK((*r)->generation > gen);
  CHECK_FALSE((*r)->error);
  CHECK(t.host.acquired == std::vector<std::string>{"org/m@r1"});
}

TEST_CASE("an invalid fetch, one refused for room, or one while shutting down changes nothing",
          "[fetch_request]") {
  Rig t;
  SECTION("a bad peer is refused before anything is resolved") {
    auto r = t.intake.fetch(request({}, {"not-a-peer"}));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_argument);
    CHECK(t.host.resolves == 0);
  }
  SECTION("a glob that selects nothing") {
    auto r = t.intake.fetch(request({"*.gguf"}));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_argument);
    CHECK(r.error().message.find("*.gguf") != std::string::npos);
  }
  SECTION("no room") {
    t.host.no_room = Error{Errc::no_space, "no room", ""};
    auto r = t.intake.fetch(request({}));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::no_space);
  }
  SECTION("shutting down") {
    t.host.stopping = true;
    auto r = t.intake.fetch(request({}));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::unavailable);
  }
  SECTION("a release still loading") {
    Release& loading = t.registry.add(std::make_unique<Release>(release({"*.json"})));
    loading.intake = Intake::loading;
    auto r = t.intake.fetch(request({}, {"127.0.0.1:1"}));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::unavailable);
    CHECK(loading.rec.include == std::vector<std::string>{"*.json"});
    CHECK(loading.rec.peers.empty());
    CHECK(t.registry.size() == 1);
    return;
  }
  CHECK(t.registry.size() == 0);
  CHECK(t.host.acquired.empty());
  CHECK(t.rows.empty());
}

TEST_CASE("torrents that arrive join the session; the release is persisted and checked",
          "[fetch_request]") {
  Rig t;
  auto r = t.intake.fetch(request({}, {}));
  REQUIRE(r);
  Release& rel = **r;
  SECTION("here") {
    t.intake.torrents_arrived(rel.rec.id, rel.generation, "v2", {});
    CHECK(t.host.added == std::vector<std::string>{"org/m@r1"});
    CHECK(t.host.completes == 1);
    CHECK_FALSE(rel.error);
  }
  SECTION("could not be had: the release fails") {
    t.intake.torrents_arrived(rel.rec.id, rel.generation, "v2", fail(Errc::io_error, "gone"));
    CHECK(t.host.added.empty());
    REQUIRE(rel.error);
    CHECK(rel.error->code == Errc::io_error);
  }
  SECTION("refused by the session: the release fails") {
    t.host.refuse_add = Error{Errc::internal, "refused", ""};
    t.intake.torrents_arrived(rel.rec.id, rel.generation, "v2", {});
    REQUIRE(rel.error);
    CHECK(t.host.completes == 0);
  }
  CHECK(t.rows.count("org/m@r1") == 1);
  CHECK(t.host.discarded.empty());
}

TEST_CASE("torrents for a release removed, taken in again or during shutdown are dropped",
          "[fetch_request]") {
  Rig t;
  auto r = t.intake.fetch(request({}, {}));
  REQUIRE(r);
  const auto id = (*r)->rec.id;
  const auto gen = (*r)->generation;
  (*r)->rec.v2_infohash = "v2";
  SECTION("removed: its torrents go") {
    t.registry.erase(id);
    t.intake.torrents_arrived(id, gen, "v2", {});
    CHECK(t.host.discarded == std::vector<std::string>{"v2"});
  }
  SECTION("taken in again: the new one shares the torrents, they stay") {
    t.intake.torrents_arrived(id, gen + 1, "v2", {});
    CHECK(t.host.discarded.empty());
  }
  SECTION("shutting down") {
    t.host.stopping = true;
    t.intake.torrents_arrived(id, gen, "other", {});
    CHECK(t.host.discarded == std::vector<std::string>{"other"});
  }
  SECTION("nothing was written") {
    t.registry.erase(id);
    t.intake.torrents_arrived(id, gen, "v2", fail(Errc::io_error, "gone"));
    CHECK(t.host.discarded.empty());
  }
  CHECK(t.host.added.empty());
  CHECK(t.host.completes == 0);
}
