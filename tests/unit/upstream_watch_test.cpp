// The upstream watch at its seams: a fake hub (answers set by the test), a fake host (transfers
// queued and run when the test says, a clock the test moves, statuses and priorities recorded),
// and releases in a registry.
#include "daemon/engine/upstream_watch.hpp"

#include <deque>
#include <map>

#include <catch2/catch.hpp>

#include "support/record_rows.hpp"

using namespace weights;
using namespace weights::daemon;

namespace {

constexpr std::int64_t hour = 3600;
const std::string commit_a(40, 'a');
const std::string commit_b(40, 'b');

struct FakeHub final : UpstreamHub {
  HubCheck ask(const UpstreamPin& pin) override {
    asked.push_back(pin);
    return answer;
  }
  HubCheck answer{HubCheck::Outcome::serving, 200, {}, {}};
  std::vector<UpstreamPin> asked;
};

struct FakeHost final : UpstreamWatchHost {
  void on_transfer(std::function<HubCheck()> work, std::function<void(HubCheck)> then) override {
    queue.emplace_back([work = std::move(work), then = std::move(then)] { then(work()); });
  }
  std::int64_t now_ticks() override { return now; }
  void persist(const std::string& id, const HubStatus& s) override { rows[id] = s; }
  void seed_priority(TorrentId t, SeedPriority p) override { priorities.emplace_back(t, p); }
  void drain() {
    while (!queue.empty()) {
      auto fn = std::move(queue.front());
      queue.pop_front();
      fn();
    }
  }
  std::int64_t now = 1'000'000;
  std::deque<std::function<void()>> queue;
  std::map<std::string, HubStatus> rows;
  std::vector<std::pair<TorrentId, SeedPriority>> priorities;
};

// A held release of `repo`@`commit` (manifest bytes set: taken in), its upstream as given.
std::unique_ptr<Release> held(const std::string& repo, const std::string& commit,
                              const std::string& kind = "huggingface") {
  auto r = std::make_unique<Release>();
  r->rec.id = repo + "@" + commit;
  r->rec.model = repo;
  r->rec.revision = commit;
  r->rec.manifest = "{}";
  r->manifest.model = repo;
  r->manifest.revision = commit;
  r->manifest.upstream = {kind, repo};
  return r;
}

HubCheck refused(unsigned status, std::string code = {}) {
  return HubCheck{HubCheck::Outcome::refused, status, std::move(code), {}};
}
HubCheck unreachable(std::string why = "connection refused") {
  return HubCheck{HubCheck::Outcome::unreachable, 0, {}, std::move(why)};
}
const HubCheck serving{HubCheck::Outcome::serving, 200, {}, {}};

struct Fixture {
  weights::testing::RecordRows rows;
  ReleaseRegistry registry{rows.store()};
  FakeHost host;
  std::shared_ptr<FakeHub> hub = std::make_shared<FakeHub>();
  UpstreamWatch watch{registry, host, hub, WatchSettings{std::chrono::hours(24), 1}};
};

}  // namespace

TEST_CASE("only 401, 403, 404, 410 and 451 are refusals", "[upstream_watch]") {
  for (unsigned s : {401u, 403u, 404u, 410u, 451u}) CHECK(is_refusal_status(s));
  for (unsigned s : {200u, 400u, 429u, 500u, 503u}) CHECK_FALSE(is_refusal_status(s));
}

TEST_CASE("a hub refusal is recorded with its status and code; no answer is unreachable",
          "[upstream_watch]") {
  const Error e{Errc::unavailable, "the hub said no", ""};
  auto legal = check_of_failure(e, hf::HubRefusal::legally_blocked, 451, "");
  CHECK(legal.outcome == HubCheck::Outcome::refused);
  CHECK(legal.http_status == 451);
  auto gone = check_of_failure(e, hf::HubRefusal::repo_not_found, 401, "RepoNotFound");
  CHECK(gone.outcome == HubCheck::Outcome::refused);
  CHECK(gone.error_code == "RepoNotFound");
  // No answer at all, a busy hub, and a CDN refusing its signed URL are not the hub's word.
  CHECK(check_of_failure(e, std::nullopt, 0, "").outcome == HubCheck::Outcome::unreachable);
  CHECK(check_of_failure(e, hf::HubRefusal::rate_limited, 429, "").outcome ==
        HubCheck::Outcome::unreachable);
  CHECK(check_of_failure(e, hf::HubRefusal::server_error, 503, "").outcome ==
        HubCheck::Outcome::unreachable);
  auto cdn = check_of_failure(e, hf::HubRefusal::signed_url_refused, 403, "");
  CHECK(cdn.outcome == HubCheck::Outcome::unreachable);
  CHECK(cdn.error == "the hub said no");
}

TEST_CASE("a refusal's run starts at its first check and another status starts a new one",
          "[upstream_watch]") {
  auto s = record_check(std::nullopt, serving, 10);
  CHECK(hub_state_name(s) == "serving");
  CHECK(s.answer_since == 10);
  s = record_check(s, serving, 20);
  CHECK(s.answer_since == 10);
  CHECK(s.answer_checked == 20);
  s = record_check(s, refused(451, "Blocked"), 30);
  CHECK(hub_state_name(s) == "refused");
  CHECK(s.http_status == 451);
  CHECK(s.error_code == "Blocked");
  CHECK(s.answer_since == 30);
  s = record_check(s, refused(451), 40);
  CHECK(s.answer_since == 30);
  CHECK(s.checked == 40);
  s = record_check(s, refused(404), 50);
  CHECK(s.http_status == 404);
  CHECK(s.answer_since == 50);
  s = record_check(s, serving, 60);
  CHECK(s.http_status == 0);
  CHECK(s.error_code.empty());
  CHECK(s.answer_since == 60);
}

TEST_CASE("an unreachable hub leaves its last answer in force", "[upstream_watch]") {
  auto s = record_check(std::nullopt, refused(451), 10);
  s = record_check(s, unreachable(), 20);
  CHECK(hub_state_name(s) == "unreachable");
  CHECK(s.unreachable_since == 20);
  CHECK(s.answer == HubAnswer::refused);
  CHECK(s.http_status == 451);
  CHECK(upstream_refused(s));  // the priority stays
  s = record_check(s, unreachable("timeout"), 30);
  CHECK(s.unreachable_since == 20);
  CHECK(s.checked == 30);
  CHECK(s.error == "timeout");
  s = record_check(s, serving, 40);
  CHECK(s.unreachable_since == 0);
  CHECK(s.error.empty());
  CHECK_FALSE(upstream_refused(s));
  // Unreachable from the start is no refusal either.
  auto never = record_check(std::nullopt, unreachable(), 5);
  CHECK(never.answer == HubAnswer::none);
  CHECK_FALSE(upstream_refused(never));
}

TEST_CASE("due checks: never checked first, then the oldest, at most max", "[upstream_watch]") {
  const std::vector<WatchCandidate> c{{"b", 100}, {"a", 0}, {"c", 50}, {"d", 9000}};
  CHECK(due_checks(c, 3700, std::chrono::hours(1), 10) == std::vector<std::string>{"a", "c", "b"});
  CHECK(due_checks(c, 3700, std::chrono::hours(1), 1) == std::vector<std::string>{"a"});
  CHECK(due_checks(c, 10, std::chrono::hours(1), 10) == std::vector<std::string>{"a"});
}

TEST_CASE("only a held release with a huggingface upstream and a full commit is watched",
          "[upstream_watch]") {
  auto r = held("org/m", commit_a);
  CHECK(watched_pin(*r) == UpstreamPin{"org/m", commit_a});
  auto upper = held("org/m", std::string(40, 'A'));
  CHECK(watched_pin(*upper) == UpstreamPin{"org/m", commit_a});
  CHECK_FALSE(watched_pin(*held("org/m", "v1.0")));
  CHECK_FALSE(watched_pin(*held("org/m", commit_a, "")));
  CHECK_FALSE(watched_pin(*held("org/m", commit_a, "gitlab")));
  auto fetching = held("org/m", commit_a);
  fetching->upstream_phase = UpstreamPhase::downloading;
  CHECK_FALSE(watched_pin(*fetching));
  auto failed = held("org/m", commit_a);
  failed->rec.manifest.clear();
  CHECK_FALSE(watched_pin(*failed));
}

TEST_CASE("the watch asks once per interval, one release per tick, oldest first",
          "[upstream_watch]") {
  Fixture f;
  f.registry.add(held("org/a", commit_a));
  f.registry.add(held("org/b", commit_b));
  f.watch.tick();
  CHECK(f.watch.in_flight() == 1);
  f.watch.tick();  // nothing more while one is in flight
  CHECK(f.host.queue.size() == 1);
  f.host.drain();
  CHECK(f.watch.in_flight() == 0);
  f.watch.tick();
  f.host.drain();
  REQUIRE(f.hub->asked.size() == 2);
  CHECK(f.hub->asked[0].repo == "org/a");
  CHECK(f.hub->asked[1].repo == "org/b");
  CHECK(f.host.rows.size() == 2);
  // Nothing is due until the interval has passed since each one's check.
  f.host.now += 23 * hour;
  f.watch.tick();
  CHECK(f.host.queue.empty());
  f.host.now += hour;
  f.watch.tick();
  f.host.drain();
  CHECK(f.hub->asked.size() == 3);
}

TEST_CASE(
    "a refusal raises the release's seeding priority; serving lowers it; unreachable "
    "changes nothing",
    "[upstream_watch]") {
  Fixture f;
  Release& r = f.registry.add(held("org/a", commit_a));
  r.handle = 7;
  r.v1_handle = 8;
  f.hub->answer = refused(451, "UnavailableForLegalReasons");
  f.watch.tick();
  f.host.drain();
  REQUIRE(r.hub);
  CHECK(r.hub->answer == HubAnswer::refused);
  CHECK(f.host.rows.at(r.rec.id).http_status == 451);
  CHECK(f.host.priorities == std::vector<std::pair<TorrentId, SeedPriority>>{
                                 {7, SeedPriority::high}, {8, SeedPriority::high}});
  // The disk budget sees it.
  CHECK(stored_of(r, {}, false).upstream_refused);

  f.host.priorities.clear();
  f.hub->answer = unreachable();
  f.host.now += 24 * hour;
  f.watch.tick();
  f.host.drain();
  CHECK(hub_state_name(*r.hub) == "unreachable");
  CHECK(f.host.priorities.empty());
  CHECK(stored_of(r, {}, false).upstream_refused);

  // A torrent added again (a new handle) gets the priority again.
  r.handle = 9;
  f.watch.tick();
  CHECK(f.host.priorities ==
        std::vector<std::pair<TorrentId, SeedPriority>>{{9, SeedPriority::high}});

  f.host.priorities.clear();
  f.hub->answer = serving;
  f.host.now += 24 * hour;
  f.watch.tick();
  f.host.drain();
  CHECK(f.host.priorities == std::vector<std::pair<TorrentId, SeedPriority>>{
                                 {9, SeedPriority::normal}, {8, SeedPriority::normal}});
  CHECK_FALSE(stored_of(r, {}, false).upstream_refused);
}

TEST_CASE("statuses from the database attach to their releases, a fetch's refusal is recorded",
          "[upstream_watch]") {
  Fixture f;
  HubStatus before = record_check(std::nullopt, refused(410), 500);
  f.watch.restore({{"org/a@" + commit_a, before}});
  Release& r = f.registry.add(held("org/a", commit_a));
  f.host.now = 600;  // not due: checked at 500
  f.watch.tick();
  REQUIRE(r.hub);
  CHECK(*r.hub == before);
  // A fetch met a refusal (no tick needed): recorded and persisted at once.
  Release& other = f.registry.add(held("org/b", commit_b));
  other.upstream_phase = UpstreamPhase::downloading;
  f.watch.record(other.rec.id, refused(403, "GatedRepo"));
  REQUIRE(other.hub);
  CHECK(other.hub->error_code == "GatedRepo");
  CHECK(f.host.rows.at(other.rec.id).http_status == 403);
}

TEST_CASE("an interval of 0 asks nothing", "[upstream_watch]") {
  weights::testing::RecordRows rows;
  ReleaseRegistry registry{rows.store()};
  FakeHost host;
  auto hub = std::make_shared<FakeHub>();
  UpstreamWatch watch{registry, host, hub, WatchSettings{std::chrono::seconds(0), 1}};
  registry.add(held("org/a", commit_a));
  watch.tick();
  CHECK(host.queue.empty());
}

TEST_CASE("a release removed while its check runs keeps no status", "[upstream_watch]") {
  Fixture f;
  f.registry.add(held("org/a", commit_a));
  f.watch.tick();
  f.registry.erase("org/a@" + commit_a);
  f.host.drain();
  CHECK(f.host.rows.empty());
  CHECK(f.watch.in_flight() == 0);
}
