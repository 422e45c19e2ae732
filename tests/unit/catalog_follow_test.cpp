// Catalog follows alone: the candidates a loaded catalog gives (catalog files in a temp dir), and
// the CatalogFollower over a fake host (releases' states, acceptances and fetches as plain data).
#include "daemon/engine/catalog_follow.hpp"

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "tests/support/temp_dir.hpp"
#include "tests/support/test_files.hpp"
#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace weights;
using namespace weights::daemon;
using weights::testing::TempDir;
using weights::testing::write_text;
using namespace std::chrono_literals;

namespace {

const std::string c1(40, '1'), c2(40, '2'), c3(40, '3');

// One family file with one entry per (variant, repo, commit, extra TOML lines).
std::string family(
    const std::string& name,
    const std::vector<std::tuple<std::string, std::string, std::string, std::string>>& entries) {
  std::string out = fmt::format("schema = 1\nfamily = \"{}\"\ndefault = \"{}\"\n", name,
                                std::get<0>(entries.front()));
  for (const auto& [variant, repo, commit, extra] : entries) {
    out += fmt::format(
        "\n[[model]]\nid = \"{}\"\nvariant = \"{}\"\nupstream = \"huggingface\"\n"
        "repo = \"{}\"\ncommit = \"{}\"\n{}\n[[model.source]]\nurl = "
        "\"https://example.invalid/pin\"\nconfidence = \"high\"\n",
        repo, variant, repo, commit, extra);
  }
  return out;
}

const std::string mit = "license = \"mit\"\ngated = false\n";

const FollowCandidate& candidate(const std::vector<CatalogCandidate>& cs, const std::string& id) {
  for (const auto& c : cs) {
    if (c.follow.id() == id) return c.follow;
  }
  FAIL("no candidate " << id);
  return cs.front().follow;
}

struct FakeCatalog final : CatalogHost {
  catalog::Catalog cat;
  std::map<std::string, MirrorStatus> releases;
  std::set<std::pair<std::string, std::string>> accepted;  // repo, licence
  std::vector<FetchRequest> fetched;
  std::map<std::string, Error> refuse;  // by repo
  TimePoint clock = TimePoint(TimePoint::duration(0));
  int reloads = 0;

  const catalog::Catalog& catalog() override { return cat; }
  void reload_catalog() override { ++reloads; }
  MirrorStatus mirror_status(const std::string& id) override {
    auto it = releases.find(id);
    return it == releases.end() ? MirrorStatus{} : it->second;
  }
  Result<bool> license_accepted(const std::string& repo, const std::string& license) override {
    return accepted.count({repo, license}) > 0;
  }
  Status fetch_pinned(const PinTarget& t, const FetchRequest& r) override {
    if (auto it = refuse.find(t.repo); it != refuse.end()) return tl::unexpected(it->second);
    fetched.push_back(r);
    if (r.accept_license && t.license) accepted.insert({t.repo, t.license->id});
    releases[fmt::format("{}@{}", t.repo, *t.commit)] = {MirrorState::fetching, ""};
    return {};
  }
  TimePoint now() override { return clock; }
};

catalog::Catalog load(const TempDir& dir, const std::map<std::string, std::string>& files) {
  for (const auto& [name, text] : files) write_text(dir / "a" / name, text);
  return catalog::Catalog::load(catalog::CatalogPaths{{{"explicit", dir / "a"}}});
}

Follow catalog_follow(std::int64_t id, bool accept = false, std::uint32_t latest = 1) {
  Follow f;
  f.id = id;
  f.source = FollowSource::catalog;
  f.latest = latest;
  f.accept_license = accept;
  return f;
}

std::vector<std::string> names(const std::vector<FetchRequest>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.name);
  return out;
}

}  // namespace

TEST_CASE("catalog candidates: repository and commit, lowercase aliases, size only when complete",
          "[catalog_follow]") {
  TempDir dir;
  const auto cat = load(
      dir,
      {{"a.toml", family("tiny", {{"one", "Org/Tiny", c1,
                                   mit + "aliases = [\"tiny-latest\"]\nfiles_complete = "
                                         "true\n[[model.files]]\npath = \"a.bin\"\nsize "
                                         "= 10\n[[model.files]]\npath = \"b.json\"\nsize "
                                         "= 5\n"},
                                  {"two", "Org/Other", c2,
                                   mit + "[[model.files]]\npath = \"a.bin\"\nsize = 10\n"}})}});
  REQUIRE(cat.problems().empty());
  const auto cs = catalog_candidates(cat);
  REQUIRE(cs.size() == 2);
  const auto& tiny = candidate(cs, "Org/Tiny@" + c1);
  CHECK(tiny.source == FollowSource::catalog);
  CHECK(tiny.feed.empty());
  CHECK(tiny.size_known);
  CHECK(tiny.total_length == 15);
  CHECK(tiny.aliases == std::vector<std::string>{"tiny", "tiny:one", "tiny-latest"});
  // Files listed but not every one: the size is not known.
  CHECK_FALSE(candidate(cs, "Org/Other@" + c2).size_known);
  for (const auto& c : cs) {
    CHECK(c.target.repo == c.follow.model);
    CHECK(c.target.commit == c.follow.revision);
    REQUIRE(c.target.license);
    CHECK(c.target.license->id == "mit");
  }
}

TEST_CASE("catalog candidates: an entry defined later is newer (later file, further down)",
          "[catalog_follow]") {
  TempDir dir;
  // The same repository at three commits under three ids (the catalog has no dates).
  auto entry = [](const std::string& variant, const std::string& commit) {
    return std::tuple{variant, std::string("org/m"), commit, mit};
  };
  std::string b = family("mb", {entry("x", c2), entry("y", c3)});
  // Distinct ids: an id is unique per layer.
  auto rename = [&b](const std::string& variant) {
    const std::string from = "id = \"org/m\"\nvariant = \"" + variant + "\"";
    const auto at = b.find(from);
    REQUIRE(at != std::string::npos);
    b.replace(at, from.size(), "id = \"org/m-" + variant + "\"\nvariant = \"" + variant + "\"");
  };
  rename("x");
  rename("y");
  const auto cat = load(dir, {{"a.toml", family("ma", {entry("z", c1)})}, {"b.toml", b}});
  REQUIRE(cat.problems().empty());
  const auto cs = catalog_candidates(cat);
  REQUIRE(cs.size() == 3);
  const auto s1 = candidate(cs, "org/m@" + c1).release_seq;
  const auto s2 = candidate(cs, "org/m@" + c2).release_seq;
  const auto s3 = candidate(cs, "org/m@" + c3).release_seq;
  CHECK(s1 < s2);  // a.toml before b.toml
  CHECK(s2 < s3);  // further down b.toml
}

TEST_CASE("catalog follower: at most two fetches at a time, in the plan's order",
          "[catalog_follow]") {
  TempDir dir;
  FakeCatalog host;
  host.cat = load(
      dir,
      {{"f.toml",
        family("f", {{"a", "org/a", c1, mit}, {"b", "org/b", c2, mit}, {"c", "org/c", c3, mit}})}});
  CatalogFollower follower(host);
  const std::vector<Follow> follows{catalog_follow(1)};
  auto out = follower.apply(follows);
  CHECK(names(host.fetched) == std::vector<std::string>{"org/a", "org/b"});
  CHECK(host.fetched[0].revision == c1);
  CHECK(host.fetched[0].requested_by == Requester::follow);
  CHECK_FALSE(host.fetched[0].accept_license);
  CHECK(out.held.size() == 3);
  CHECK(out.follows.at(1).mirroring.size() == 3);  // the third waits for a slot
  CHECK(out.follows.at(1).refused.empty());
  // Nothing new while both run.
  follower.apply(follows);
  CHECK(host.fetched.size() == 2);
  // One completes: the third starts.
  host.releases["org/a@" + c1] = {MirrorState::complete, ""};
  follower.apply(follows);
  CHECK(names(host.fetched) == std::vector<std::string>{"org/a", "org/b", "org/c"});
}

TEST_CASE("catalog follower: a failed fetch is tried again later, each time later still",
          "[catalog_follow]") {
  TempDir dir;
  FakeCatalog host;
  host.cat = load(dir, {{"f.toml", family("f", {{"a", "org/a", c1, mit}})}});
  CatalogFollower follower(host, MirrorSettings{2, 30s, 100s});
  const std::vector<Follow> follows{catalog_follow(1)};
  const std::string id = "org/a@" + c1;
  follower.apply(follows);
  REQUIRE(host.fetched.size() == 1);
  host.releases[id] = {MirrorState::failed, "hub unreachable"};
  auto out = follower.apply(follows);
  CHECK(host.fetched.size() == 1);  // not at once: an unreachable hub must not spin
  REQUIRE(out.follows.at(1).refused.size() == 1);
  CHECK_THAT(out.follows.at(1).refused[0].second, Catch::Contains("hub unreachable"));
  CHECK_THAT(out.follows.at(1).refused[0].second, Catch::Contains("trying again in 30 s"));
  host.clock += 29s;
  follower.apply(follows);
  CHECK(host.fetched.size() == 1);
  host.clock += 1s;
  follower.apply(follows);
  CHECK(host.fetched.size() == 2);
  // Fails again: twice the wait.
  host.releases[id] = {MirrorState::failed, "hub unreachable"};
  follower.apply(follows);
  host.clock += 59s;
  follower.apply(follows);
  CHECK(host.fetched.size() == 2);
  host.clock += 1s;
  follower.apply(follows);
  CHECK(host.fetched.size() == 3);
  CHECK(retry_delay(MirrorSettings{2, 30s, 100s}, 3) == 100s);  // capped
  // Complete: the failures are forgotten.
  host.releases[id] = {MirrorState::complete, ""};
  out = follower.apply(follows);
  CHECK(out.follows.at(1).mirroring == std::vector<std::string>{id});
  host.releases[id] = {MirrorState::failed, "gone"};
  out = follower.apply(follows);
  CHECK_THAT(out.follows.at(1).refused.at(0).second, Catch::Contains("in 30 s"));
}

TEST_CASE("catalog follower: a licence is accepted only by a follow that says so",
          "[catalog_follow]") {
  TempDir dir;
  FakeCatalog host;
  const std::string gated = "license = \"llama3.1\"\ngated = true\n";
  host.cat = load(dir, {{"f.toml", family("f", {{"free", "org/free", c1, mit},
                                                {"llama", "org/llama", c2, gated},
                                                {"known", "org/known", c3, gated}})}});
  host.accepted.insert({"org/known", "llama3.1"});  // accepted before, by a person's fetch
  CatalogFollower follower(host, MirrorSettings{5, 30s, 100s});
  auto out = follower.apply(std::vector<Follow>{catalog_follow(1)});
  CHECK(names(host.fetched) == std::vector<std::string>{"org/free", "org/known"});
  REQUIRE(out.follows.at(1).refused.size() == 1);
  CHECK(out.follows.at(1).refused[0].first == "org/llama@" + c2);
  CHECK_THAT(out.follows.at(1).refused[0].second, Catch::Contains("licence llama3.1 not accepted"));
  CHECK(host.accepted.count({"org/llama", "llama3.1"}) == 0);

  // A follow made with --accept-license fetches it and the acceptance is recorded.
  out = follower.apply(std::vector<Follow>{catalog_follow(1), catalog_follow(2, true)});
  REQUIRE(host.fetched.size() == 3);
  CHECK(host.fetched[2].name == "org/llama");
  CHECK(host.fetched[2].accept_license);
  CHECK(host.accepted.count({"org/llama", "llama3.1"}) == 1);
  CHECK(out.follows.at(1).refused.empty());
}

TEST_CASE("catalog follower: no catalog follow, nothing held or fetched", "[catalog_follow]") {
  TempDir dir;
  FakeCatalog host;
  host.cat = load(dir, {{"f.toml", family("f", {{"a", "org/a", c1, mit}})}});
  CatalogFollower follower(host);
  Follow feed;
  feed.id = 3;
  feed.feed = "community";
  const auto out = follower.apply(std::vector<Follow>{feed});
  CHECK(out.held.empty());
  CHECK(out.follows.empty());
  CHECK(host.fetched.empty());
}
