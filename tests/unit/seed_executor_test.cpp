// The seed-node executor alone: the engine behind SeedHost is a small fake (follows in memory,
// a feed's trusted targets and manifests as plain data, fetches recorded or refused).
#include "daemon/engine/seed_executor.hpp"

#include <catch2/catch.hpp>

using namespace weights;
using namespace weights::daemon;

namespace {

struct FakeHost final : SeedHost {
  std::vector<Follow> follow_rows;
  std::int64_t next_id = 1;
  std::map<std::string, FeedState> feeds;
  std::map<std::string, ReleaseManifest> manifests;  // by target path
  std::set<std::string> present;                     // releases that need no fetch
  std::vector<FetchRequest> fetched;
  std::optional<Error> refuse;  // every fetch fails with this
  std::set<std::string> held;
  int hold_calls = 0;
  RoomKey room{};
  TimePoint clock = TimePoint(TimePoint::duration(1000));

  Result<std::vector<Follow>> follows() override { return follow_rows; }
  Result<std::int64_t> add_follow(const Follow& f) override {
    follow_rows.push_back(f);
    follow_rows.back().id = next_id;
    return next_id++;
  }
  Result<bool> remove_follow(std::int64_t id) override {
    return std::erase_if(follow_rows, [id](const Follow& f) { return f.id == id; }) > 0;
  }
  bool has_feed(const std::string& feed) override { return feeds.count(feed) > 0; }
  Result<FeedState> feed(const std::string& feed) override {
    if (!feeds.count(feed)) return fail(Errc::not_found, "no feed");
    return feeds.at(feed);
  }
  Result<ReleaseManifest> manifest(const FeedState&, const tuf::TargetInfo& t) override {
    if (!manifests.count(t.path)) return fail(Errc::not_found, "no manifest " + t.path);
    return manifests.at(t.path);
  }
  bool needs_fetch(const std::string& id) override { return !present.count(id); }
  Status fetch(const FetchRequest& r) override {
    if (refuse) return tl::unexpected(*refuse);
    fetched.push_back(r);
    present.insert(r.name + "@" + *r.revision);
    return {};
  }
  void hold(const std::set<std::string>& h) override {
    held = h;
    ++hold_calls;
  }
  RoomKey room_key() override { return room; }
  TimePoint now() override { return clock; }

  std::vector<StoredRelease> stored;  // the disk budget's view
  std::set<std::string> in_store;     // content hashes already stored
  std::optional<std::uint64_t> free;
  std::vector<std::string> evictions;
  std::vector<StoredRelease> stored_releases() override { return stored; }
  std::uint64_t bytes_to_write(const StoredRelease& incoming) override {
    std::uint64_t n = 0;
    for (const auto& c : incoming.content) n += in_store.count(c.sha256) ? 0 : c.length;
    return n;
  }
  std::optional<std::uint64_t> free_disk() override { return free; }
  Status evict(const std::string& id) override {
    evictions.push_back(id);
    std::erase_if(stored, [&](const StoredRelease& r) { return r.id == id; });
    return {};
  }

  void release(const std::string& feed, const std::string& model, const std::string& rev,
               std::uint64_t seq, std::uint64_t size, std::vector<std::string> aliases = {}) {
    auto& fs = feeds[feed];
    fs.name = feed;
    tuf::TargetInfo t;
    t.kind = tuf::TargetKind::release;
    t.model = model;
    t.revision = rev;
    t.release_seq = seq;
    t.path = "models/" + model + "/" + rev + ".release.json";
    fs.trusted_targets.push_back(t);
    ReleaseManifest m;
    m.model = model;
    m.revision = rev;
    m.aliases = std::move(aliases);
    m.total_length = size;
    manifests[t.path] = m;
  }
};

FollowSpec spec(std::string feed, std::string glob = "", std::uint32_t latest = 1,
                std::uint64_t max_size = 0) {
  FollowSpec s;
  s.feed = std::move(feed);
  s.model_glob = std::move(glob);
  s.latest = latest;
  s.max_size = max_size;
  return s;
}

}  // namespace

TEST_CASE("a follow mirrors the newest release of each matching model and holds it",
          "[seed_executor]") {
  FakeHost host;
  host.release("demo", "org/a", "r1", 1, 100);
  host.release("demo", "org/a", "r2", 2, 100);
  host.release("demo", "org/b", "r1", 3, 100);
  host.release("demo", "other/c", "r1", 4, 100);
  SeedExecutor seeds(host);
  auto v = seeds.add(spec("demo", "org/*"));
  REQUIRE(v);
  CHECK(v->follow.id == 1);
  CHECK(v->last_applied == host.clock);
  CHECK(host.held == std::set<std::string>{"org/a@r2", "org/b@r1"});
  REQUIRE(host.fetched.size() == 2);
  for (const auto& r : host.fetched) {
    CHECK(r.requested_by == Requester::follow);
    CHECK(r.feed == std::optional<std::string>("demo"));
  }
  std::vector<std::string> mirroring = v->mirroring;
  std::sort(mirroring.begin(), mirroring.end());
  CHECK(mirroring == std::vector<std::string>{"org/a@r2", "org/b@r1"});

  // Applying again fetches nothing present already; the outcome stays.
  seeds.apply();
  CHECK(host.fetched.size() == 2);
  auto all = seeds.list();
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK((*all)[0].mirroring.size() == 2);

  // Removing the follow releases its hold; the releases stay (nothing is removed here).
  REQUIRE(seeds.remove(1));
  CHECK(host.held.empty());
  CHECK(seeds.list()->empty());
  auto missing = seeds.remove(1);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
}

TEST_CASE("a follow of an unknown feed or with an oversized glob is refused and nothing stored",
          "[seed_executor]") {
  FakeHost host;
  host.release("demo", "org/a", "r1", 1, 100);
  SeedExecutor seeds(host);
  auto unknown = seeds.add(spec("nope"));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == Errc::not_found);
  auto big = seeds.add(spec("demo", std::string(257, 'x')));
  REQUIRE_FALSE(big);
  CHECK(big.error().code == Errc::invalid_argument);
  CHECK(host.follow_rows.empty());
  CHECK(host.fetched.empty());
}

TEST_CASE("releases over max_size are skipped with a reason", "[seed_executor]") {
  FakeHost host;
  host.release("demo", "org/small", "r1", 1, 100);
  host.release("demo", "org/big", "r1", 2, 5000);
  SeedExecutor seeds(host);
  auto v = seeds.add(spec("demo", "", 1, 1000));
  REQUIRE(v);
  CHECK(v->mirroring == std::vector<std::string>{"org/small@r1"});
  REQUIRE(v->skipped.size() == 1);
  CHECK(v->skipped[0].first == "org/big@r1");
  CHECK_FALSE(v->skipped[0].second.empty());
  CHECK(host.held == std::set<std::string>{"org/small@r1"});
}

TEST_CASE("a follow refused for lack of room is retried when room may have changed",
          "[seed_executor]") {
  FakeHost host;
  host.release("demo", "org/a", "r1", 1, 100);
  host.refuse = Error{Errc::no_space, "no room for org/a@r1", ""};
  SeedExecutor seeds(host);
  auto v = seeds.add(spec("demo"));
  REQUIRE(v);
  REQUIRE(v->refused.size() == 1);
  CHECK(v->refused[0] == std::pair<std::string, std::string>{"org/a@r1", "no room for org/a@r1"});
  CHECK(v->mirroring.empty());
  CHECK(host.held == std::set<std::string>{"org/a@r1"});

  host.refuse.reset();
  // Nothing changed: ticks do not apply again (until every 30th).
  const int calls = host.hold_calls;
  for (int i = 0; i < 5; ++i) seeds.tick();
  CHECK(host.hold_calls == calls);
  CHECK(host.fetched.empty());
  // Room changed (a release removed, free space back): the next tick applies.
  std::get<0>(host.room) = 1;
  seeds.tick();
  CHECK(host.fetched.size() == 1);
  auto all = seeds.list();
  REQUIRE(all);
  CHECK((*all)[0].refused.empty());
  CHECK((*all)[0].mirroring == std::vector<std::string>{"org/a@r1"});
  // No refusal left: ticks do nothing.
  const int after = host.hold_calls;
  for (int i = 0; i < 60; ++i) seeds.tick();
  CHECK(host.hold_calls == after);
}

TEST_CASE("a refused follow is retried every 30th tick even if room looks unchanged",
          "[seed_executor]") {
  FakeHost host;
  host.release("demo", "org/a", "r1", 1, 100);
  host.refuse = Error{Errc::no_space, "full", ""};
  SeedExecutor seeds(host);
  REQUIRE(seeds.add(spec("demo")));
  host.refuse.reset();
  for (int i = 0; i < 29; ++i) seeds.tick();
  CHECK(host.fetched.empty());
  seeds.tick();
  CHECK(host.fetched.size() == 1);
}

TEST_CASE("a manifest that cannot be read leaves its release out", "[seed_executor]") {
  FakeHost host;
  host.release("demo", "org/a", "r1", 1, 100);
  host.release("demo", "org/b", "r1", 2, 100);
  host.manifests.erase("models/org/b/r1.release.json");
  SeedExecutor seeds(host);
  auto v = seeds.add(spec("demo"));
  REQUIRE(v);
  CHECK(v->mirroring == std::vector<std::string>{"org/a@r1"});
  CHECK(host.held == std::set<std::string>{"org/a@r1"});
}

namespace {
StoredRelease stored(std::string id, std::int64_t last_requested, std::uint64_t length,
                     bool pinned = false, bool held = false, bool protect = false) {
  StoredRelease r;
  r.id = id;
  r.last_requested = last_requested;
  r.pinned = pinned;
  r.held = held;
  r.protect = protect;
  r.content.push_back({"sha-" + id, length});
  return r;
}
}  // namespace

TEST_CASE("room under the disk budget evicts the least recently requested idle release first",
          "[seed_executor]") {
  FakeHost host;
  host.stored = {stored("old@r1", 10, 400), stored("pinned@r1", 1, 400, true),
                 stored("held@r1", 2, 400, false, true),
                 stored("busy@r1", 3, 400, false, false, true), stored("newer@r1", 20, 400)};
  SeedExecutor seeds(host);
  const DiskLimits limits{2200, 0, "/state"};
  // 2000 reserved + 300 incoming > 2200: one eviction, the oldest evictable.
  REQUIRE(seeds.make_room(stored("new@r1", 30, 300), limits));
  CHECK(host.evictions == std::vector<std::string>{"old@r1"});
  CHECK(seeds.room_totals().evictions == 1);
  // Under the budget now: nothing more.
  REQUIRE(seeds.make_room(stored("small@r1", 30, 100), {2200, 0, "/state"}));
  CHECK(host.evictions.size() == 1);
}

TEST_CASE("room that eviction cannot make is refused and nothing is evicted", "[seed_executor]") {
  FakeHost host;
  host.stored = {stored("a@r1", 1, 500), stored("pinned@r1", 2, 500, true)};
  SeedExecutor seeds(host);
  auto st = seeds.make_room(stored("big@r1", 3, 800), {1000, 0, "/state"});
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::no_space);
  CHECK(host.evictions.empty());
  CHECK(seeds.room_totals().no_space_refusals == 1);
}

TEST_CASE("a full filesystem refuses the fetch naming the bytes, budget or not",
          "[seed_executor]") {
  FakeHost host;
  host.free = 1000;
  host.in_store = {"sha-shared@r1"};
  SeedExecutor seeds(host);
  // Content already stored costs nothing.
  REQUIRE(seeds.make_room(stored("shared@r1", 1, 5000), {0, 500, "/state"}));
  auto st = seeds.make_room(stored("big@r1", 1, 600), {0, 500, "/state"});
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::no_space);
  CHECK_THAT(st.error().message,
             Catch::Contains("big@r1 needs 600 more bytes on /state but only 1000 are free"));
  CHECK(seeds.room_totals().no_space_refusals == 1);
  CHECK(host.evictions.empty());
}

namespace {

// The catalog side: one entry per repository ("org/NAME", commit of 40 `c`), every release absent
// until fetched, then fetching.
struct FakeCatalogHost final : CatalogHost {
  catalog::Catalog cat;
  std::vector<std::string> fetched;
  int reloads = 0;
  TimePoint clock = TimePoint(TimePoint::duration(1000));
  std::set<std::string> started;

  explicit FakeCatalogHost(const std::vector<std::string>& names) {
    std::string text = "schema = 1\nfamily = \"fam\"\ndefault = \"" + names.front() + "\"\n";
    for (const auto& n : names) {
      text += "\n[[model]]\nid = \"org/" + n + "\"\nvariant = \"" + n +
              "\"\nupstream = \"huggingface\"\nrepo = \"org/" + n + "\"\ncommit = \"" +
              std::string(40, 'c') +
              "\"\nlicense = \"mit\"\ngated = false\n[[model.source]]\nquote = \"x\"\n"
              "confidence = \"high\"\n";
    }
    auto parsed = catalog::parse_catalog(text, "fam.toml");
    REQUIRE(parsed);
    cat = catalog::Catalog::from_parsed({*parsed}, "explicit");
  }
  const catalog::Catalog& catalog() override { return cat; }
  void reload_catalog() override { ++reloads; }
  MirrorStatus mirror_status(const std::string& id) override {
    return {started.count(id) ? MirrorState::fetching : MirrorState::absent, ""};
  }
  Result<bool> license_accepted(const std::string&, const std::string&) override { return false; }
  Status fetch_pinned(const PinTarget& t, const FetchRequest&) override {
    fetched.push_back(t.repo);
    started.insert(t.repo + "@" + *t.commit);
    return {};
  }
  TimePoint now() override { return clock; }
};

}  // namespace

TEST_CASE("catalog follows are held with the feeds' and their fetches go to the catalog host",
          "[seed_executor][catalog]") {
  FakeHost host;
  host.release("demo", "org/a", "r1", 1, 100);
  FakeCatalogHost cat({"x", "y"});
  SeedExecutor seeds(host, &cat);
  REQUIRE(seeds.add(spec("demo")));
  FollowSpec c;
  c.source = FollowSource::catalog;
  c.alias = "fam:x";
  auto v = seeds.add(c);
  REQUIRE(v);
  CHECK(cat.reloads == 1);  // entries added since start count at once
  CHECK(v->follow.source == FollowSource::catalog);
  CHECK(v->follow.feed.empty());
  const std::string x = "org/x@" + std::string(40, 'c');
  CHECK(v->mirroring == std::vector<std::string>{x});
  CHECK(cat.fetched == std::vector<std::string>{"org/x"});
  CHECK(host.fetched.size() == 1);  // the feed's release only
  CHECK(host.held == std::set<std::string>{"org/a@r1", x});

  // Ticks apply the catalog follows (nothing new here) and read the catalog every 30th.
  for (int i = 0; i < 30; ++i) seeds.tick();
  CHECK(cat.fetched.size() == 1);
  CHECK(cat.reloads == 2);
  CHECK(host.held == std::set<std::string>{"org/a@r1", x});

  // Without a catalog host, or with --accept-license on a feed follow: refused.
  SeedExecutor plain(host);
  auto no = plain.add(c);
  REQUIRE_FALSE(no);
  CHECK(no.error().code == Errc::unsupported);
  auto f = spec("demo");
  f.accept_license = true;
  auto bad = seeds.add(f);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::invalid_argument);
}
