// Delegated targets roles and hashed bins (docs/manifest-format.md §4.5, §5.3): the publisher's
// bins, incremental refreshes, and attacks on delegated metadata. Every refusal checks the
// reason and that the trusted state is exactly what it was before.
#include <catch2/catch.hpp>

#include "core/feed/tuf_client.hpp"
#include "core/net/fetcher.hpp"
#include "core/trust/dsse.hpp"
#include "support/feed_builder.hpp"

using namespace weights;
using namespace weights::tuf;
using namespace weights::testing;
using namespace std::chrono_literals;

namespace {

using Signers = std::vector<const crypto::PrivateKey*>;

void expect_refused(TestClient& client, TimePoint now, Errc code, std::string_view needle,
                    const ClientLimits& limits = {}) {
  const FeedState before = client.state();
  auto r = client.refresh(now, limits);
  REQUIRE_REFUSED(r, code, std::string(needle));
  CHECK(client.state() == before);
}

// Counts what a refresh reads.
class CountingFetcher : public Fetcher {
 public:
  explicit CountingFetcher(const std::filesystem::path& root) : inner_(root) {}
  Result<std::string> fetch(std::string_view name, std::uint64_t max_bytes) override {
    auto r = inner_.fetch(name, max_bytes);
    if (r) {
      ++files;
      bytes += r->size();
      names.emplace_back(name);
    }
    return r;
  }
  std::string describe() const override { return inner_.describe(); }
  std::size_t files = 0, bytes = 0;
  std::vector<std::string> names;

 private:
  LocalDirFetcher inner_;
};

// A feed with `bins` hashed bins and `releases` releases of org/m (rev1..revN), and a client
// that refreshed it.
struct BinsFixture {
  TempDir tmp;
  TestFeed feed;
  std::optional<TestClient> client;
  TimePoint now = t0() + 1h;

  explicit BinsFixture(std::uint32_t bins = 16, int releases = 8)
      : feed(tmp.path(), TestFeed::Options{.bins = bins}) {
    for (int i = 1; i <= releases; ++i) {
      REQUIRE(feed.repo().add_target(
          release_path("org/m", rev(i)), release_manifest("org/m", rev(i), i),
          TargetCustom{TargetKind::release, "org/m", rev(i), static_cast<std::uint64_t>(i)}));
    }
    feed.publish(t0());
    client.emplace(tmp / "state", feed);
    auto first = client->refresh(now);
    if (!first) FAIL("initial refresh: " << first.error().message);
  }
  static std::string rev(int i) { return "rev" + std::to_string(i); }

  // Name of the bin `path` falls in, and of its current metadata file.
  std::string bin_of(const std::string& path) const {
    const auto count = feed.repo().bins().count;
    return bin_name(count, bin_index(count, path));
  }
  std::string bin_file(const std::string& bin) const {
    return delegated_file_name(bin, feed.repo().bin_version(bin));
  }
  // A bin other than `bin`.
  std::string other_bin(const std::string& bin) const {
    const auto count = feed.repo().bins().count;
    for (std::uint32_t i = 0; i < count; ++i) {
      if (bin_name(count, i) != bin) return bin_name(count, i);
    }
    return {};
  }

  // Publishes a snapshot (next version) that pins `files` (role -> metadata file) over the
  // current snapshot's pins, and a timestamp for it.
  void repin(const std::map<std::string, std::string>& files, TimePoint at) {
    json::Json snap =
        feed.payload(last_snapshot.empty() ? feed.current_snapshot_name() : last_snapshot);
    for (const auto& [role, file] : files) {
      const std::string bytes = feed.read(file);
      const auto version = feed.payload(file).at("version").get<std::uint64_t>();
      snap["meta"][role + ".json"] =
          json::Json{{"version", version},
                     {"length", bytes.size()},
                     {"hashes", {{"sha256", crypto::sha256_hex(bytes)}}}};
    }
    const auto version = ++snapshot_version_bump + feed.repo().version(Role::snapshot);
    snap["version"] = version;
    snap["expires"] = format_utc(at + 24h);
    const std::string name = snapshot_file_name(version);
    feed.write_signed_json(name, snap, feed.keys(Role::snapshot));
    feed.repin_timestamp(name, feed.repo().version(Role::timestamp) + snapshot_version_bump,
                         at + 24h);
    last_snapshot = name;
  }
  std::uint64_t snapshot_version_bump = 0;
  std::string last_snapshot;  // the last one repin() wrote

  // Writes bin metadata at `version` with `targets`, signed by `signers`.
  std::string write_bin(const std::string& bin, std::uint64_t version,
                        const std::vector<TargetInfo>& targets, const Signers& signers,
                        TimePoint expires) {
    TargetsMetadata m{version, expires, targets, std::nullopt};
    const std::string file = delegated_file_name(bin, version);
    feed.write_signed(file, serialize(m), signers);
    return file;
  }
  // The trusted targets of one bin.
  std::vector<TargetInfo> bin_targets(const std::string& bin) {
    const FeedState s = client->state();
    std::vector<TargetInfo> out;
    for (std::size_t i = 0; i < s.trusted_targets.size(); ++i) {
      if (s.target_roles[i] == bin) out.push_back(s.trusted_targets[i]);
    }
    return out;
  }
};

TargetInfo release_target(std::string model, std::string revision, std::uint64_t seq) {
  TargetInfo t;
  t.path = release_path(model, revision);
  const std::string bytes = release_manifest(model, revision, seq);
  t.length = bytes.size();
  t.sha256 = crypto::sha256_hex(bytes);
  t.kind = TargetKind::release;
  t.model = std::move(model);
  t.revision = std::move(revision);
  t.release_seq = seq;
  return t;
}

}  // namespace

// ---- the publisher's bins ---------------------------------------------------------------------

TEST_CASE("bin names, prefixes and indices agree for every supported bin count", "[tuf][bins]") {
  for (std::uint32_t count : {2u, 16u, 256u, 1024u, 4096u}) {
    CHECK(check_bin_count(count));
    std::set<std::string> all;
    for (std::uint32_t i = 0; i < count; ++i) {
      for (const auto& p : bin_prefixes(count, i)) CHECK(all.insert(p).second);
    }
    // Every prefix of the digit count is in exactly one bin.
    CHECK(all.size() == (std::size_t{1} << (4 * bin_prefix_digits(count))));
    for (const std::string path : {"models/a/b/c.release.json", "x", "models/org/m/rev9.torrent"}) {
      const auto i = bin_index(count, path);
      REQUIRE(i < count);
      DelegatedRole r;
      r.path_hash_prefixes = bin_prefixes(count, i);
      CHECK(r.matches(path, target_path_hash(path)));
    }
  }
  CHECK(bin_name(1024, 0x3ff) == "bins-3ff");
  CHECK(bin_name(16, 3) == "bins-3");
  CHECK(bin_prefixes(1024, 1) == std::vector<std::string>{"004", "005", "006", "007"});
  CHECK_FALSE(check_bin_count(1));
  CHECK_FALSE(check_bin_count(24));
  CHECK_FALSE(check_bin_count(8192));
}

TEST_CASE("a feed with bins resolves every target through its bin", "[tuf][bins]") {
  BinsFixture f(16, 8);
  const FeedState s = f.client->state();
  REQUIRE(s.trusted_targets.size() == 8);
  REQUIRE(s.target_roles.size() == 8);
  for (std::size_t i = 0; i < 8; ++i) {
    CHECK(s.target_roles[i] == f.bin_of(s.trusted_targets[i].path));
  }
  CHECK(s.delegated.size() == 16);  // every bin, the empty ones too
  CHECK(s.release_seq.at("org/m") == 8);
  // The top-level targets lists nothing itself.
  CHECK(f.feed.payload(f.feed.current_targets_name()).at("targets").empty());
}

TEST_CASE("adding a release re-signs one bin and a client fetches only that bin", "[tuf][bins]") {
  BinsFixture f(16, 8);
  const auto targets_version = f.feed.repo().version(Role::targets);
  const std::string path = release_path("org/m", "rev9");
  const std::string bin = f.bin_of(path);
  const auto bin_version = f.feed.repo().bin_version(bin);
  f.feed.add_release("org/m", "rev9", 9, f.now);
  // Publisher: the top-level targets is untouched, one bin moved on.
  CHECK(f.feed.repo().version(Role::targets) == targets_version);
  CHECK(f.feed.repo().bin_version(bin) == bin_version + 1);
  CHECK(f.feed.repo().bin_version(f.other_bin(bin)) == 1);

  const FeedState before = f.client->state();
  CountingFetcher fetcher(f.feed.public_dir());
  auto v = verify_update(before, fetcher, f.now + 1h, &check_release_matches, {},
                         [](const TargetInfo&) { return true; });
  REQUIRE(v);
  CHECK(v->roles_fetched == 1);
  CHECK(v->roles_kept == 15);
  // timestamp, snapshot, the bin and the new manifest; the targets.json is not fetched again.
  CHECK(fetcher.names ==
        std::vector<std::string>{std::string(timestamp_file_name), f.feed.current_snapshot_name(),
                                 f.bin_file(bin),
                                 consistent_target_name(release_target("org/m", "rev9", 9))});
  auto r = f.client->refresh(f.now + 1h);
  REQUIRE(r);
  CHECK(r->roles_fetched == 1);
  CHECK(r->trusted_targets.size() == 9);
  // Kept across a restart: the stored bins are used again.
  f.client->reopen();
  f.feed.add_release("org/m", "rev10", 10, f.now + 2h);
  auto again = f.client->refresh(f.now + 3h);
  REQUIRE(again);
  CHECK(again->roles_fetched == 1);
  CHECK(again->roles_kept == 15);
  CHECK(again->trusted_targets.size() == 10);
}

TEST_CASE("a flat feed converted to bins keeps its targets", "[tuf][bins]") {
  TempDir tmp;
  TestFeed feed(tmp.path());
  feed.add_release("org/m", "rev1", 1, t0());
  feed.add_release("org/m", "rev2", 2, t0());
  TestClient client(tmp / "state", feed);
  REQUIRE(client.refresh(t0() + 1h));
  const auto bins_key = make_key();
  BinsSpec bins;
  bins.count = 4;
  bins.role.keys = {bins_key->public_key()};
  REQUIRE(feed.repo().use_bins(bins));
  CHECK_FALSE(feed.repo().use_bins(bins));  // once
  auto ring = feed.ring();
  ring.add_borrowed(*bins_key);
  REQUIRE(feed.repo().publish(ring, t0() + 2h));
  auto r = client.refresh(t0() + 3h);
  REQUIRE(r);
  CHECK(r->roles_fetched == 4);
  REQUIRE(r->trusted_targets.size() == 2);
  const FeedState s = client.state();
  CHECK(s.target_roles[0] == bin_name(4, bin_index(4, s.trusted_targets[0].path)));
}

// ---- attacks on bins --------------------------------------------------------------------------

TEST_CASE("a bin signed by a key the top-level targets does not delegate to is refused",
          "[tuf][bins][attack]") {
  BinsFixture f;
  const std::string bin = f.bin_of(release_path("org/m", "rev1"));
  const auto targets = f.bin_targets(bin);
  // The snapshot key (online, trusted for snapshots only) signs a bin.
  const auto file = f.write_bin(bin, f.feed.repo().bin_version(bin) + 1, targets,
                                f.feed.keys(Role::snapshot), f.now + 24h);
  f.repin({{bin, file}}, f.now);
  expect_refused(*f.client, f.now + 1h, Errc::threshold_not_met, "delegated by targets");
  // The top-level targets key is not a bins key either.
  const auto file2 = f.write_bin(bin, f.feed.repo().bin_version(bin) + 1, targets,
                                 f.feed.keys(Role::targets), f.now + 24h);
  f.repin({{bin, file2}}, f.now);
  expect_refused(*f.client, f.now + 1h, Errc::threshold_not_met, "role " + bin);
}

TEST_CASE("a bin rolled back to an older version is refused", "[tuf][bins][attack]") {
  BinsFixture f;
  const std::string path = release_path("org/m", "rev9");
  const std::string bin = f.bin_of(path);
  const std::string old_file = f.bin_file(bin);
  f.feed.add_release("org/m", "rev9", 9, f.now);
  REQUIRE(f.client->refresh(f.now + 1h));
  // A snapshot pinning the bin's previous version (still served, correctly signed).
  f.repin({{bin, old_file}}, f.now + 1h);
  expect_refused(*f.client, f.now + 2h, Errc::rollback, "older than the trusted");
}

TEST_CASE("a bin rewritten under its trusted version is refused", "[tuf][bins][attack]") {
  BinsFixture f;
  const std::string bin = f.bin_of(release_path("org/m", "rev1"));
  const auto version = f.feed.repo().bin_version(bin);
  // Same version, other content (the bin minus a release), signed by the real bins key.
  auto targets = f.bin_targets(bin);
  targets.clear();
  const auto file = f.write_bin(bin, version, targets, f.feed.bins_keys(), f.now + 24h);
  f.repin({{bin, file}}, f.now);
  expect_refused(*f.client, f.now + 1h, Errc::rollback, "differs from the trusted");
}

TEST_CASE("a target listed in the wrong bin is refused", "[tuf][bins][attack]") {
  BinsFixture f;
  const std::string path = release_path("org/evil", "x");
  const std::string right = f.bin_of(path);
  const std::string wrong = f.other_bin(right);
  auto targets = f.bin_targets(wrong);
  targets.push_back(release_target("org/evil", "x", 1));
  std::sort(targets.begin(), targets.end(),
            [](const TargetInfo& a, const TargetInfo& b) { return a.path < b.path; });
  const auto file = f.write_bin(wrong, f.feed.repo().bin_version(wrong) + 1, targets,
                                f.feed.bins_keys(), f.now + 24h);
  // The release file exists, so only the bin check can refuse it.
  f.feed.write(consistent_target_name(release_target("org/evil", "x", 1)),
               release_manifest("org/evil", "x", 1));
  f.repin({{wrong, file}}, f.now);
  expect_refused(*f.client, f.now + 1h, Errc::wrong_target,
                 "which its delegation does not trust it for");
  // In its own bin it is accepted.
  auto own = f.bin_targets(right);
  own.push_back(release_target("org/evil", "x", 1));
  std::sort(own.begin(), own.end(),
            [](const TargetInfo& a, const TargetInfo& b) { return a.path < b.path; });
  const auto good = f.write_bin(right, f.feed.repo().bin_version(right) + 1, own,
                                f.feed.bins_keys(), f.now + 24h);
  f.repin({{right, good}, {wrong, f.bin_file(wrong)}}, f.now);
  auto r = f.client->refresh(f.now + 1h);
  REQUIRE(r);
  CHECK(r->trusted_targets.size() == 9);
}

TEST_CASE("a bin whose version disagrees with the snapshot is refused", "[tuf][bins][attack]") {
  BinsFixture f;
  const std::string bin = f.bin_of(release_path("org/m", "rev1"));
  const auto next = f.feed.repo().bin_version(bin) + 1;
  // Content says next+1, file name and snapshot say next.
  TargetsMetadata m{next + 1, f.now + 24h, f.bin_targets(bin), std::nullopt};
  const std::string file = delegated_file_name(bin, next);
  f.feed.write_signed(file, serialize(m), f.feed.bins_keys());
  json::Json snap = f.feed.payload(f.feed.current_snapshot_name());
  const std::string bytes = f.feed.read(file);
  snap["meta"][bin + ".json"] = json::Json{{"version", next},
                                           {"length", bytes.size()},
                                           {"hashes", {{"sha256", crypto::sha256_hex(bytes)}}}};
  const auto sv = f.feed.repo().version(Role::snapshot) + 1;
  snap["version"] = sv;
  f.feed.write_signed_json(snapshot_file_name(sv), snap, f.feed.keys(Role::snapshot));
  f.feed.repin_timestamp(snapshot_file_name(sv), f.feed.repo().version(Role::timestamp) + 1,
                         f.now + 24h);
  expect_refused(*f.client, f.now + 1h, Errc::version_mismatch, "snapshot v");
}

TEST_CASE("a snapshot that drops a trusted bin is refused", "[tuf][bins][attack]") {
  BinsFixture f;
  json::Json snap = f.feed.payload(f.feed.current_snapshot_name());
  snap["meta"].erase(f.other_bin("") + ".json");
  const auto sv = f.feed.repo().version(Role::snapshot) + 1;
  snap["version"] = sv;
  f.feed.write_signed_json(snapshot_file_name(sv), snap, f.feed.keys(Role::snapshot));
  f.feed.repin_timestamp(snapshot_file_name(sv), f.feed.repo().version(Role::timestamp) + 1,
                         f.now + 24h);
  expect_refused(*f.client, f.now + 1h, Errc::rollback, "no longer lists role");
}

TEST_CASE("an expired bin freezes the feed even when it did not change", "[tuf][bins][attack]") {
  BinsFixture f(4, 2);
  const std::string bin = f.bin_of(release_path("org/m", "rev1"));
  const auto file = f.write_bin(bin, f.feed.repo().bin_version(bin) + 1, f.bin_targets(bin),
                                f.feed.bins_keys(), f.now + 48h);
  f.repin({{bin, file}}, f.now);
  REQUIRE(f.client->refresh(f.now + 1h));
  // Fresh snapshot and timestamp with the same pins: the bin is kept, its expiry still checked.
  f.repin({}, f.now + 72h);
  expect_refused(*f.client, f.now + 73h, Errc::expired, "role " + bin);
}

// ---- general delegations ------------------------------------------------------------------------

namespace {

// Hand-made delegation trees over a TestFeed's root: every role at version `v`, signed by
// per-role keys the delegations name.
struct Tree {
  TempDir tmp;
  TestFeed feed{tmp.path()};
  std::optional<TestClient> client;
  std::map<std::string, KeyPtr> keys;
  std::uint64_t v = 0;
  TimePoint now = t0() + 1h;

  Tree() { client.emplace(tmp / "state", feed); }

  const crypto::PrivateKey& key(const std::string& role) {
    auto& k = keys[role];
    if (!k) k = make_key();
    return *k;
  }
  DelegatedRole delegate(const std::string& name, std::vector<std::string> paths,
                         bool terminating = false) {
    DelegatedRole r;
    r.name = name;
    r.keyids = {key(name).public_key().keyid()};
    r.threshold = 1;
    r.paths = std::move(paths);
    r.terminating = terminating;
    return r;
  }
  Delegations delegations(std::vector<DelegatedRole> roles) {
    Delegations d;
    for (const auto& r : roles)
      d.keys.emplace(key(r.name).public_key().keyid(), key(r.name).public_key());
    d.roles = std::move(roles);
    return d;
  }
  // Publishes the top-level targets (`top`) and every role in `roles` (name -> metadata), all
  // at the next version, with a snapshot and timestamp; every release file is written.
  void publish(
      std::vector<TargetInfo> top, std::optional<Delegations> top_delegations,
      const std::map<std::string, std::pair<std::vector<TargetInfo>, std::optional<Delegations>>>&
          roles) {
    ++v;
    const TimePoint expires = now + Days(30);
    auto write_targets = [&](const std::vector<TargetInfo>& ts) {
      for (const auto& t : ts) {
        feed.write(consistent_target_name(t), release_manifest(t.model, t.revision, t.release_seq));
      }
    };
    write_targets(top);
    TargetsMetadata tm{v, expires, top, std::move(top_delegations)};
    feed.write_signed(targets_file_name(v), serialize(tm), feed.keys(Role::targets));
    auto pin = [&](const std::string& file) {
      const std::string bytes = feed.read(file);
      return MetaFile{v, bytes.size(), crypto::sha256_hex(bytes)};
    };
    SnapshotMetadata snap{v, expires, pin(targets_file_name(v)), {}};
    for (const auto& [name, content] : roles) {
      write_targets(content.first);
      TargetsMetadata m{v, expires, content.first, content.second};
      feed.write_signed(delegated_file_name(name, v), serialize(m), {&key(name)});
      snap.delegated.emplace(name, pin(delegated_file_name(name, v)));
    }
    feed.write_signed(snapshot_file_name(v), serialize(snap), feed.keys(Role::snapshot));
    feed.repin_timestamp(snapshot_file_name(v), v, expires);
  }
};

}  // namespace

TEST_CASE("a delegation loop is walked once and terminates", "[tuf][delegation][attack]") {
  Tree t;
  const auto a1 = release_target("org/a", "r1", 1);
  const auto b1 = release_target("org/b", "r1", 1);
  // targets -> a -> b -> a (loop) and b -> b (self).
  auto da = t.delegate("a", {"models/*/*/*"});
  auto db = t.delegate("b", {"models/*/*/*"});
  t.publish({}, t.delegations({da}),
            {{"a", {{a1}, t.delegations({db})}}, {"b", {{b1}, t.delegations({da, db})}}});
  auto r = t.client->refresh(t.now);
  REQUIRE(r);
  CHECK(r->roles_fetched == 2);
  CHECK(r->trusted_targets.size() == 2);
}

TEST_CASE("too many delegated roles or too deep a chain is refused", "[tuf][delegation][attack]") {
  SECTION("fan-out") {
    Tree t;
    std::vector<DelegatedRole> roles;
    std::map<std::string, std::pair<std::vector<TargetInfo>, std::optional<Delegations>>> files;
    for (int i = 0; i < 6; ++i) {
      roles.push_back(t.delegate("r" + std::to_string(i), {"models/*"}));
      files["r" + std::to_string(i)] = {{}, std::nullopt};
    }
    t.publish({}, t.delegations(roles), files);
    ClientLimits limits;
    limits.max_delegated_roles = 5;
    expect_refused(*t.client, t.now, Errc::too_large, "more than 5 delegated roles", limits);
    limits.max_delegated_roles = 6;
    REQUIRE(t.client->refresh(t.now, limits));
  }
  SECTION("depth") {
    Tree t;
    // targets -> d0 -> d1 -> d2 -> d3
    std::map<std::string, std::pair<std::vector<TargetInfo>, std::optional<Delegations>>> files;
    for (int i = 0; i < 4; ++i) {
      const std::string name = "d" + std::to_string(i);
      std::optional<Delegations> next;
      if (i < 3) next = t.delegations({t.delegate("d" + std::to_string(i + 1), {"models/*"})});
      files[name] = {{}, next};
    }
    t.publish({}, t.delegations({t.delegate("d0", {"models/*"})}), files);
    ClientLimits limits;
    limits.max_delegation_depth = 3;
    expect_refused(*t.client, t.now, Errc::too_large, "4 delegations deep", limits);
    limits.max_delegation_depth = 4;
    REQUIRE(t.client->refresh(t.now, limits));
  }
}

TEST_CASE("a terminating delegation claims its paths from later roles", "[tuf][delegation]") {
  const auto p = release_target("org/a", "r1", 1);
  for (const bool terminating : {true, false}) {
    Tree t;
    // "first" is trusted for org/a but does not list p; "second" lists it.
    auto first = t.delegate("first", {"models/org/a/*"}, terminating);
    auto second = t.delegate("second", {"models/*/*/*"});
    t.publish({}, t.delegations({first, second}),
              {{"first", {{}, std::nullopt}}, {"second", {{p}, std::nullopt}}});
    if (terminating) {
      expect_refused(*t.client, t.now, Errc::wrong_target, "role second");
    } else {
      auto r = t.client->refresh(t.now);
      REQUIRE(r);
      CHECK(r->trusted_targets.size() == 1);
    }
  }
}

TEST_CASE("a path listed by two roles is refused", "[tuf][delegation][attack]") {
  Tree t;
  const auto p = release_target("org/a", "r1", 1);
  t.publish({},
            t.delegations({t.delegate("x", {"models/*/*/*"}), t.delegate("y", {"models/*/*/*"})}),
            {{"x", {{p}, std::nullopt}}, {"y", {{p}, std::nullopt}}});
  expect_refused(*t.client, t.now, Errc::wrong_target, "is listed by both x and y");
}

TEST_CASE("a delegated role missing from the snapshot is refused", "[tuf][delegation][attack]") {
  Tree t;
  t.publish({}, t.delegations({t.delegate("x", {"models/*"}), t.delegate("ghost", {"models/*"})}),
            {{"x", {{}, std::nullopt}}});
  expect_refused(*t.client, t.now, Errc::schema_error,
                 "ghost (delegated by targets) is not listed");
}

TEST_CASE("a terminating hash-prefix delegation claims its prefixes from later roles",
          "[tuf][delegation]") {
  const auto p = release_target("org/a", "r1", 1);
  const std::string prefix = target_path_hash(p.path).substr(0, 2);
  for (const bool same_prefix : {true, false}) {
    Tree t;
    auto first = t.delegate("first", {});
    first.paths.clear();
    first.path_hash_prefixes = {same_prefix ? prefix : (prefix[0] == '0' ? "1" : "0")};
    first.terminating = true;
    auto second = t.delegate("second", {"models/*/*/*"});
    t.publish({}, t.delegations({first, second}),
              {{"first", {{}, std::nullopt}}, {"second", {{p}, std::nullopt}}});
    if (same_prefix) {
      expect_refused(*t.client, t.now, Errc::wrong_target, "role second");
    } else {
      REQUIRE(t.client->refresh(t.now));
    }
  }
}
