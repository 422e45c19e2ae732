// The seed-node executor alone: the engine behind SeedHost is a small fake (follows in memory,
// a feed's trusted targets and manifests as plain data, fetches recorded or refused).
#include "daemon/engine/seed_executor.hpp"

#include <catch2/catch.hpp>

using namespace weights;
using namespace weights::daemon;

namespace {

struct FakeHost final : SeedHost {
  std::vector<Follow> stored;
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

  Result<std::vector<Follow>> follows() override { return stored; }
  Result<std::int64_t> add_follow(const Follow& f) override {
    stored.push_back(f);
    stored.back().id = next_id;
    return next_id++;
  }
  Result<bool> remove_follow(std::int64_t id) override {
    return std::erase_if(stored, [id](const Follow& f) { return f.id == id; }) > 0;
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
  CHECK(host.stored.empty());
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
