#include "daemon/policy.hpp"

#include <map>
#include <optional>
#include <set>

#include <catch2/catch.hpp>

using namespace weights;
using namespace weights::daemon;

namespace {

FollowCandidate cand(std::string model, std::string rev, std::uint64_t seq, std::uint64_t len = 100,
                     std::vector<std::string> aliases = {}, std::string feed = "f") {
  return FollowCandidate{std::move(feed),    std::move(model),
                         std::move(rev),     seq,
                         std::move(aliases), len,
                         FollowSource::feed, true};
}

Follow follow(std::string glob, std::uint32_t latest, std::uint64_t max_size = 0,
              std::string alias = "") {
  // Aggregate init: GCC 12 warns (-Wrestrict, a false positive) on assigning "f" to a member.
  return Follow{1,
                std::string("f"),
                std::move(glob),
                std::move(alias),
                latest,
                max_size,
                0,
                FollowSource::feed,
                false};
}

// A catalog entry's release (catalog_follow.hpp): no feed, aliases in lowercase.
FollowCandidate entry(std::string repo, std::string commit, std::uint64_t seq,
                      std::vector<std::string> aliases, std::optional<std::uint64_t> size) {
  FollowCandidate c;
  c.source = FollowSource::catalog;
  c.model = std::move(repo);
  c.revision = std::move(commit);
  c.release_seq = seq;
  c.aliases = std::move(aliases);
  c.size_known = size.has_value();
  c.total_length = size.value_or(0);
  return c;
}

Follow catalog_follow(std::int64_t id, std::string alias, std::uint32_t latest,
                      std::uint64_t max_size = 0) {
  Follow f;
  f.id = id;
  f.source = FollowSource::catalog;
  f.alias = std::move(alias);
  f.latest = latest;
  f.max_size = max_size;
  return f;
}

StoredRelease stored(std::string id, std::int64_t last, std::vector<Content> content,
                     bool pinned = false) {
  StoredRelease r;
  r.id = std::move(id);
  r.last_requested = last;
  r.content = std::move(content);
  r.pinned = pinned;
  return r;
}

}  // namespace

TEST_CASE("a follow mirrors the newest N releases of each matching model", "[policy]") {
  const std::vector<FollowCandidate> cs = {
      cand("google/gemma", "r1", 1), cand("google/gemma", "r3", 3), cand("google/gemma", "r2", 2),
      cand("meta/llama", "a", 7),    cand("google/other", "x", 1),
  };
  const std::vector<Follow> fs = {follow("google/gemma*", 2)};
  const auto plan = plan_follows(fs, cs);
  CHECK(plan.mirror == std::vector<std::string>{"google/gemma@r3", "google/gemma@r2"});
  CHECK(plan.held.count("google/gemma@r1") == 0);
  CHECK(plan.skipped.empty());
}

TEST_CASE("latest 0 follows every release and an empty glob every model", "[policy]") {
  const std::vector<FollowCandidate> cs = {cand("a/x", "1", 1), cand("a/x", "2", 2),
                                           cand("b/y", "1", 1)};
  const auto plan = plan_follows(std::vector<Follow>{follow("", 0)}, cs);
  CHECK(plan.mirror.size() == 3);
}

TEST_CASE("a follow only sees its own feed and its alias", "[policy]") {
  const std::vector<FollowCandidate> cs = {
      cand("google/gemma-4-9b", "r1", 1, 100, {"gemma-4"}),
      cand("google/gemma-3", "r1", 1, 100, {"gemma-3"}),
      cand("google/gemma-4-9b", "r1", 1, 100, {"gemma-4"}, "other-feed"),
  };
  const auto plan = plan_follows(std::vector<Follow>{follow("", 1, 0, "gemma-4")}, cs);
  REQUIRE(plan.mirror.size() == 1);
  CHECK(plan.mirror[0] == "google/gemma-4-9b@r1");
}

TEST_CASE("a release above max size is skipped with a reason, not mirrored", "[policy]") {
  const std::vector<FollowCandidate> cs = {cand("a/x", "big", 2, 5000),
                                           cand("a/x", "small", 1, 10)};
  const auto plan = plan_follows(std::vector<Follow>{follow("a/*", 2, 1000)}, cs);
  CHECK(plan.mirror == std::vector<std::string>{"a/x@small"});
  REQUIRE(plan.skipped.size() == 1);
  CHECK(plan.skipped[0].first == "a/x@big");
  CHECK_THAT(plan.skipped[0].second, Catch::Contains("max size"));
}

TEST_CASE("a release skipped by one follow but accepted by another is mirrored", "[policy]") {
  const std::vector<FollowCandidate> cs = {cand("a/x", "big", 1, 5000)};
  const std::vector<Follow> fs = {follow("a/*", 1, 1000), follow("a/x", 1)};
  const auto plan = plan_follows(fs, cs);
  CHECK(plan.mirror == std::vector<std::string>{"a/x@big"});
  CHECK(plan.skipped.empty());
}

TEST_CASE("shared content is reserved once", "[policy]") {
  const std::vector<StoredRelease> rs = {stored("a", 1, {{"s1", 10}, {"s2", 20}}),
                                         stored("b", 2, {{"s2", 20}, {"s3", 5}})};
  CHECK(reserved_bytes(rs) == 35);
}

TEST_CASE("no budget or enough room evicts nothing", "[policy]") {
  const std::vector<StoredRelease> rs = {stored("a", 1, {{"s1", 10}})};
  const auto in = stored("new", 9, {{"n", 1000}});
  auto p = plan_eviction(rs, in, 0);
  REQUIRE(p);
  CHECK(p->evict.empty());
  p = plan_eviction(rs, in, 1010);
  REQUIRE(p);
  CHECK(p->evict.empty());
  CHECK(p->used_after == 1010);
}

TEST_CASE("eviction takes the least recently requested unpinned releases, only as needed",
          "[policy]") {
  std::vector<StoredRelease> rs = {
      stored("old-pinned", 1, {{"p", 100}}, true),
      stored("older", 2, {{"o", 100}}),
      stored("newer", 5, {{"w", 100}}),
      stored("mid", 3, {{"m", 100}}),
  };
  rs.push_back(stored("held", 0, {{"h", 100}}));
  rs.back().held = true;
  const auto in = stored("new", 9, {{"n", 150}});
  auto p = plan_eviction(rs, in, 500);
  REQUIRE(p);
  CHECK(p->evict == std::vector<std::string>{"older", "mid"});
  CHECK(p->used_before == 500);
  CHECK(p->used_after == 450);
}

TEST_CASE("a release its upstream refused is evicted only after every release the hub serves",
          "[policy]") {
  std::vector<StoredRelease> rs = {
      stored("refused-oldest", 1, {{"r", 100}}),
      stored("served", 5, {{"s", 100}}),
      stored("served-newer", 7, {{"t", 100}}),
  };
  rs[0].upstream_refused = true;
  // Room for one: the least recently requested release the hub serves goes, not the refused one.
  auto one = plan_eviction(rs, stored("new", 9, {{"n", 100}}), 300);
  REQUIRE(one);
  CHECK(one->evict == std::vector<std::string>{"served"});
  // Room for three: every served release first, the refused one last.
  auto all = plan_eviction(rs, stored("new", 9, {{"n", 300}}), 300);
  REQUIRE(all);
  CHECK(all->evict == std::vector<std::string>{"served", "served-newer", "refused-oldest"});
}

TEST_CASE("evicting a release whose content another release shares frees nothing", "[policy]") {
  const std::vector<StoredRelease> rs = {stored("a", 1, {{"shared", 100}}),
                                         stored("b", 2, {{"shared", 100}}),
                                         stored("c", 3, {{"c", 100}})};
  const auto in = stored("new", 9, {{"n", 100}});
  auto p = plan_eviction(rs, in, 200);
  REQUIRE(p);
  CHECK(p->evict == std::vector<std::string>{"a", "b"});
  CHECK(p->used_after == 200);
}

TEST_CASE("a follow's fetch that fell out of latest stops being protected", "[policy]") {
  CHECK(fetch_protected({FetchRequester::user, false}));
  CHECK(fetch_protected({FetchRequester::user, true}));
  CHECK(fetch_protected({FetchRequester::follow_only, true}));
  CHECK_FALSE(fetch_protected({FetchRequester::follow_only, false}));
}

TEST_CASE("the newest followed release evicts a fetch the follow no longer holds", "[policy]") {
  // latest 1: r2 replaced r1 in the follow while r1 was still downloading.
  auto r1 = stored("org/m@r1", 1, {{"a", 600}});
  r1.protect = fetch_protected({FetchRequester::follow_only, false});
  auto mine = stored("org/mine@x", 2, {{"u", 300}});
  mine.protect = fetch_protected({FetchRequester::user, false});
  auto in = stored("org/m@r2", 3, {{"b", 600}});
  in.held = true;
  const std::vector<StoredRelease> rs = {r1, mine};
  auto p = plan_eviction(rs, in, 1000);
  REQUIRE(p);
  CHECK(p->evict == std::vector<std::string>{"org/m@r1"});
  // While the follow still held r1 it would have been refused.
  r1.protect = fetch_protected({FetchRequester::follow_only, true});
  CHECK_FALSE(plan_eviction(std::vector<StoredRelease>{r1, mine}, in, 1000));
}

TEST_CASE("a release that cannot fit is refused and nothing is evicted", "[policy]") {
  const std::vector<StoredRelease> rs = {stored("pinned", 1, {{"p", 800}}, true),
                                         stored("free", 2, {{"f", 100}})};
  const auto in = stored("org/big@r1", 9, {{"n", 300}});
  auto p = plan_eviction(rs, in, 1000);
  REQUIRE_FALSE(p);
  CHECK(p.error().code == Errc::no_space);
  CHECK_THAT(p.error().message, Catch::Contains("org/big@r1 needs 300 B"));
  CHECK_THAT(p.error().message, Catch::Contains("800 B"));
  CHECK_FALSE(p.error().hint.empty());
}

TEST_CASE("content the incoming release already has is not counted twice", "[policy]") {
  const std::vector<StoredRelease> rs = {stored("a", 1, {{"s", 100}}),
                                         stored("org/x@r1", 2, {{"x", 50}})};
  auto in = stored("org/x@r1", 9, {{"x", 50}, {"s", 100}});
  auto p = plan_eviction(rs, in, 150);
  REQUIRE(p);
  CHECK(p->evict.empty());
  CHECK(p->used_after == 150);
}

TEST_CASE("clock times parse strictly", "[policy]") {
  CHECK(parse_clock_time("00:00") == 0);
  CHECK(parse_clock_time("23:59") == 23 * 60 + 59);
  CHECK(parse_clock_time("24:00", true) == 24 * 60);
  CHECK_FALSE(parse_clock_time("24:00"));
  CHECK_FALSE(parse_clock_time("7:00"));
  CHECK_FALSE(parse_clock_time("07:60"));
  CHECK_FALSE(parse_clock_time("0a:00"));
  CHECK_FALSE(parse_clock_time("07:00 "));
  CHECK_FALSE(parse_clock_time("-1:00"));
}

TEST_CASE("rate windows override the base limits inside their hours, also across midnight",
          "[policy]") {
  const std::vector<RateWindow> ws = {
      RateWindow{8 * 60, 18 * 60, std::nullopt, 1000},
      RateWindow{22 * 60, 6 * 60, 0, 0},
  };
  const Rates base{500, 700};
  CHECK(rates_at(base, ws, 7 * 60 + 59) == base);
  CHECK(rates_at(base, ws, 8 * 60) == Rates{500, 1000});
  CHECK(rates_at(base, ws, 18 * 60) == base);
  CHECK(rates_at(base, ws, 23 * 60) == Rates{0, 0});
  CHECK(rates_at(base, ws, 3 * 60) == Rates{0, 0});
  CHECK(rates_at(base, ws, 6 * 60) == base);
}

TEST_CASE("a catalog follow matches an alias glob case-insensitively and never a feed's release",
          "[policy][catalog]") {
  const std::vector<FollowCandidate> cs = {
      entry("google/gemma-4-31B-it", "c1", 1, {"gemma-4", "gemma-4:31b-it"}, 100),
      entry("Qwen/Qwen3-0.6B", "c2", 2, {"qwen", "qwen:3-0.6b"}, 100),
      cand("google/gemma-4-31B-it", "r1", 1, 100, {"gemma-4"}),  // feed "f"
  };
  auto plan = plan_follows(std::vector<Follow>{catalog_follow(1, "GEMMA-*", 1)}, cs);
  CHECK(plan.mirror == std::vector<std::string>{"google/gemma-4-31B-it@c1"});
  // No alias: every entry; the feed's release is not the catalog's.
  plan = plan_follows(std::vector<Follow>{catalog_follow(1, "", 0)}, cs);
  CHECK(plan.mirror == std::vector<std::string>{"Qwen/Qwen3-0.6B@c2", "google/gemma-4-31B-it@c1"});
  // A feed follow does not see catalog entries.
  plan = plan_follows(std::vector<Follow>{follow("", 0)}, cs);
  CHECK(plan.mirror == std::vector<std::string>{"google/gemma-4-31B-it@r1"});
}

TEST_CASE("a catalog follow's --latest keeps the entries of a repository defined last",
          "[policy][catalog]") {
  const std::vector<FollowCandidate> cs = {
      entry("org/m", "old", (1ULL << 32) | 10, {"m"}, 100),
      entry("org/m", "newer", (1ULL << 32) | 40, {"m:b"}, 100),
      entry("org/m", "newest", (2ULL << 32) | 5, {"m:c"}, 100),  // a later file
  };
  const auto plan = plan_follows(std::vector<Follow>{catalog_follow(1, "", 2)}, cs);
  CHECK(plan.mirror == std::vector<std::string>{"org/m@newest", "org/m@newer"});
  CHECK(plan.held.count("org/m@old") == 0);
}

TEST_CASE("with --max-size a catalog entry of unknown size is skipped, naming why",
          "[policy][catalog]") {
  const std::vector<FollowCandidate> cs = {
      entry("org/small", "a", 1, {"s"}, 100),
      entry("org/big", "b", 1, {"b"}, 5000),
      entry("org/unknown", "c", 1, {"u"}, std::nullopt),
  };
  auto plan = plan_follows(std::vector<Follow>{catalog_follow(4, "", 1, 1000)}, cs);
  CHECK(plan.mirror == std::vector<std::string>{"org/small@a"});
  REQUIRE(plan.skipped.size() == 2);
  std::map<std::string, std::string> why(plan.skipped.begin(), plan.skipped.end());
  CHECK_THAT(why.at("org/big@b"), Catch::Contains("larger than follow 4's max size"));
  CHECK_THAT(why.at("org/unknown@c"), Catch::Contains("size not known"));
  // Without --max-size an unknown size is no obstacle.
  plan = plan_follows(std::vector<Follow>{catalog_follow(4, "", 1)}, cs);
  CHECK(plan.mirror.size() == 3);
}

TEST_CASE("catalog-followed releases the hub refuses are evicted after every release it serves",
          "[policy][catalog]") {
  // Two entries of one repository; the follow keeps only the newest, so the older one is
  // evictable like any unheld release.
  const std::vector<FollowCandidate> cs = {
      entry("org/gone", "old", 1, {"gone"}, 100),
      entry("org/gone", "new", 2, {"gone"}, 100),
  };
  const auto plan = plan_follows(std::vector<Follow>{catalog_follow(1, "", 1)}, cs);
  REQUIRE(plan.held == std::set<std::string>{"org/gone@new"});
  std::vector<StoredRelease> rs = {
      stored("org/gone@old", 1, {{"g-old", 100}}),  // least recently requested, hub refuses
      stored("org/gone@new", 2, {{"g-new", 100}}),  // held by the follow, hub refuses
      stored("feed/served@r1", 5, {{"s1", 100}}),
      stored("feed/served@r2", 6, {{"s2", 100}}),
  };
  for (auto& r : rs) {
    r.held = plan.held.count(r.id) > 0;
    r.upstream_refused = r.id.rfind("org/gone", 0) == 0;
  }
  // Room for one: a served release goes, not the refused one the hub no longer gives out.
  auto one = plan_eviction(rs, stored("in@1", 9, {{"n", 100}}), 400);
  REQUIRE(one);
  CHECK(one->evict == std::vector<std::string>{"feed/served@r1"});
  // Room for three: every served release first, then the refused unheld one; the held one never.
  auto three = plan_eviction(rs, stored("in@1", 9, {{"n", 300}}), 400);
  REQUIRE(three);
  CHECK(three->evict ==
        std::vector<std::string>{"feed/served@r1", "feed/served@r2", "org/gone@old"});
  CHECK_FALSE(plan_eviction(rs, stored("in@1", 9, {{"n", 400}}), 400));
}
