// The refresh workflow against crafted feeds on disk. Every refusal test checks both the reason
// (Errc + message) and that the trusted state in SQLite is exactly what it was before.
#include "core/feed/tuf_client.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/trust/dsse.hpp"
#include "core/util/encoding.hpp"
#include "support/feed_builder.hpp"

using namespace weights;
using namespace weights::tuf;
using namespace weights::testing;
using namespace std::chrono_literals;

namespace {

const std::string model_a = "org/model-a";

// A feed with one release, a client that refreshed it once at t0 + 1h.
struct Fixture {
  TempDir tmp;
  TestFeed feed{tmp.path()};
  std::optional<TestClient> client;
  TimePoint now = t0() + 1h;

  explicit Fixture(TestFeed::Options options = {}) : feed(tmp.path(), options) {
    feed.add_release(model_a, "rev1", 1, t0());
    client.emplace(tmp / "state", feed);
    auto first = client->refresh(now);
    if (!first) FAIL("initial refresh: " << first.error().message);
  }
  Fixture(const Fixture&) = delete;

  // Publishes a new release at `at` (so there is something newer to fetch).
  void publish_next(std::uint64_t seq, TimePoint at) {
    feed.add_release(model_a, "rev" + std::to_string(seq), seq, at);
  }
};

// Refresh must fail with `code` / `needle`, leave the trusted state untouched and log the
// refusal with the same code.
void expect_refused(TestClient& client, TimePoint now, Errc code, std::string_view needle,
                    const ClientLimits& limits = {}) {
  const FeedState before = client.state();
  auto r = client.refresh(now, limits);
  REQUIRE_REFUSED(r, code, std::string(needle));
  CHECK(client.state() == before);
  auto refusal = client.store().last_refusal(client.name());
  REQUIRE(refusal);
  REQUIRE(refusal->has_value());
  CHECK((*refusal)->error_code == code_name(code));
  CHECK((*refusal)->time == now);
}

std::string flip_sig_char(std::string envelope) {
  const auto pos = envelope.find("\"sig\":\"");
  REQUIRE(pos != std::string::npos);
  char& c = envelope[pos + 7];
  c = c == 'A' ? 'B' : 'A';
  return envelope;
}

// Rewrites timestamp.json with `payload` edits, signed by the timestamp key.
void edit_timestamp(TestFeed& feed, const std::function<void(json::Json&)>& fn) {
  feed.edit(timestamp_file_name, fn, feed.keys(Role::timestamp));
}

}  // namespace

// ---- happy paths -----------------------------------------------------------------------------

TEST_CASE("a first refresh commits every role and the release targets", "[tuf][refresh]") {
  Fixture f;
  const FeedState s = f.client->state();
  CHECK(s.root.version == 1);
  REQUIRE(s.timestamp);
  REQUIRE(s.snapshot);
  REQUIRE(s.targets);
  CHECK(s.timestamp->version == 1);
  CHECK(s.targets->bytes == f.feed.read(f.feed.current_targets_name()));
  REQUIRE(s.trusted_targets.size() == 1);
  CHECK(s.trusted_targets[0].path == release_path(model_a, "rev1"));
  CHECK(s.release_seq.at(model_a) == 1);
  auto success = f.client->store().last_success(f.client->name());
  REQUIRE(success);
  REQUIRE(success->has_value());
  CHECK((*success)->result == RefreshResult::updated);
}

TEST_CASE("a refresh with an unchanged timestamp reports up to date and changes nothing",
          "[tuf][refresh]") {
  Fixture f;
  const FeedState before = f.client->state();
  auto r = f.client->refresh(f.now + 1h);
  REQUIRE(r);
  CHECK(r->result == RefreshResult::up_to_date);
  CHECK(r->timestamp.version == 1);
  CHECK(f.client->state() == before);
}

TEST_CASE("a newly published release is picked up", "[tuf][refresh]") {
  Fixture f;
  f.publish_next(2, f.now);
  auto r = f.client->refresh(f.now + 1h);
  REQUIRE(r);
  CHECK(r->result == RefreshResult::updated);
  CHECK(r->timestamp.version == 2);
  CHECK(r->trusted_targets.size() == 2);
  CHECK(f.client->state().release_seq.at(model_a) == 2);
}

TEST_CASE("the validator sees every release manifest with its verified bytes", "[tuf][refresh]") {
  Fixture f;
  f.feed.add_release("org/model-b", "main", 7, f.now);
  std::vector<std::string> seen;
  auto r = f.client->refresh(f.now + 1h, [&](const TargetInfo& t, std::string_view bytes) {
    seen.push_back(t.path);
    CHECK(crypto::sha256_hex(bytes) == t.sha256);
    return check_release_matches(t, bytes);
  });
  REQUIRE(r);
  CHECK(seen == std::vector<std::string>{release_path(model_a, "rev1"),
                                         release_path("org/model-b", "main")});
}

TEST_CASE("a feed whose location has an unsupported scheme is refused", "[tuf][refresh]") {
  TempDir tmp;
  TestFeed feed(tmp.path());
  auto store = StateStore::open(tmp / "state");
  REQUIRE(store);
  REQUIRE(add_feed(*store, "web", "ftp://example.org/feed", feed.root_v1(), t0()));
  auto r = refresh(*store, "web", t0(), &check_release_matches);
  REQUIRE_REFUSED(r, Errc::unsupported, "unsupported feed URL scheme");
}

TEST_CASE("a feed's mirrors are stored in order with it and go away with it", "[tuf][mirrors]") {
  TempDir tmp;
  TestFeed feed(tmp.path());
  auto store = StateStore::open(tmp / "state");
  REQUIRE(store);
  const std::vector<std::string> mirrors{"https://b.example/feed", "http://a.example/feed"};
  REQUIRE(add_feed(*store, "web", "https://example.org/feed", feed.root_v1(), t0(), mirrors));
  auto fs = store->load_feed("web");
  REQUIRE(fs);
  CHECK(fs->mirrors == mirrors);
  REQUIRE(store->remove_feed("web"));
  REQUIRE(add_feed(*store, "web", "https://example.org/feed", feed.root_v1(), t0()));
  CHECK(store->load_feed("web")->mirrors.empty());
  // Duplicate mirror positions cannot happen; a duplicate feed add keeps the first mirrors.
  CHECK_FALSE(add_feed(*store, "web", "x", feed.root_v1(), t0(), mirrors));
  CHECK(store->load_feed("web")->mirrors.empty());
}

TEST_CASE("adding a feed requires a root signed by a threshold of its own keys", "[tuf][root]") {
  TempDir tmp;
  TestFeed feed(tmp.path());
  auto store = StateStore::open(tmp / "state");
  REQUIRE(store);
  const json::Json root = feed.payload("metadata/1.root.json");
  auto one_key = sign_metadata(json::dump_pretty(root), {&feed.key(Role::root, 0)});
  REQUIRE(one_key);
  auto r = add_feed(*store, "x", feed.public_dir().string(), *one_key, t0());
  REQUIRE_REFUSED(r, Errc::threshold_not_met, "root: signed by 1 of the required 2");
  CHECK(store->list_feeds()->empty());
}

// ---- signatures and thresholds ---------------------------------------------------------------

TEST_CASE("an unsigned timestamp is rejected and the trusted state is unchanged",
          "[tuf][signature]") {
  Fixture f;
  f.feed.publish(f.now);
  f.feed.write_signed(timestamp_file_name, json::dump_pretty(f.feed.payload(timestamp_file_name)),
                      {});
  expect_refused(*f.client, f.now + 1h, Errc::threshold_not_met,
                 "timestamp: signed by 0 of the required 1");
}

TEST_CASE("a timestamp signed by the snapshot key is rejected and the trusted state is unchanged",
          "[tuf][signature]") {
  Fixture f;
  f.feed.publish(f.now);
  f.feed.edit(
      timestamp_file_name, [](json::Json&) {}, f.feed.keys(Role::snapshot));
  expect_refused(*f.client, f.now + 1h, Errc::threshold_not_met, "timestamp: signed by 0");
}

TEST_CASE("a snapshot signed by the timestamp key is rejected and the trusted state is unchanged",
          "[tuf][signature]") {
  Fixture f;
  f.feed.publish(f.now);
  const auto snap = f.feed.current_snapshot_name();
  f.feed.edit(
      snap, [](json::Json&) {}, f.feed.keys(Role::timestamp));
  f.feed.repin_timestamp(snap, 50, f.now + 24h);
  expect_refused(*f.client, f.now + 1h, Errc::threshold_not_met, "snapshot: signed by 0");
}

TEST_CASE("targets signed by a root key instead of the targets key are rejected",
          "[tuf][signature]") {
  Fixture f;
  f.feed.publish(f.now);
  const auto targets = f.feed.current_targets_name();
  f.feed.edit(targets, [](json::Json&) {},
              {&f.feed.key(Role::root, 0), &f.feed.key(Role::root, 1)});
  f.feed.repin_snapshot(f.feed.current_snapshot_name(), targets, 2, f.now + 24h);
  f.feed.repin_timestamp(f.feed.current_snapshot_name(), 50, f.now + 24h);
  expect_refused(*f.client, f.now + 1h, Errc::threshold_not_met, "targets: signed by 0");
}

TEST_CASE("a duplicated signature does not reach a threshold of two", "[tuf][signature]") {
  Fixture f(TestFeed::Options{3, 2, 2, 2});
  f.publish_next(2, f.now);
  const auto targets = f.feed.current_targets_name();
  const auto* k = &f.feed.key(Role::targets, 0);
  f.feed.edit(targets, [](json::Json&) {}, {k, k});
  f.feed.repin_snapshot(f.feed.current_snapshot_name(), targets, 2, f.now + 24h);
  f.feed.repin_timestamp(f.feed.current_snapshot_name(), 50, f.now + 24h);
  expect_refused(*f.client, f.now + 1h, Errc::threshold_not_met,
                 "targets: signed by 1 of the required 2 distinct authorised key(s) (2 signature");
}

TEST_CASE("one key's signature listed under both targets keyids counts once", "[tuf][signature]") {
  Fixture f(TestFeed::Options{3, 2, 2, 2});
  f.publish_next(2, f.now);
  const auto targets = f.feed.current_targets_name();
  auto env = dsse::parse(f.feed.read(targets));
  REQUIRE(env);
  // Keep only key 0's signature, and list it a second time under key 1's keyid.
  const auto k0 = f.feed.key(Role::targets, 0).public_key();
  const auto k1 = f.feed.key(Role::targets, 1).public_key();
  std::erase_if(env->signatures, [&](const dsse::Signature& s) { return s.keyid != k0.keyid(); });
  REQUIRE(env->signatures.size() == 1);
  env->signatures.push_back({k1.keyid(), env->signatures[0].sig});
  f.feed.write(targets, dsse::serialize(*env));
  f.feed.repin_snapshot(f.feed.current_snapshot_name(), targets, 2, f.now + 24h);
  f.feed.repin_timestamp(f.feed.current_snapshot_name(), 50, f.now + 24h);
  expect_refused(*f.client, f.now + 1h, Errc::threshold_not_met, "signed by 1 of the required 2");
}

TEST_CASE("a timestamp with its payloadType swapped is rejected", "[tuf][signature]") {
  Fixture f;
  f.feed.publish(f.now);
  SECTION("re-signed under another type") {
    auto env =
        dsse::sign("application/json", json::dump_pretty(f.feed.payload(timestamp_file_name)),
                   f.feed.keys(Role::timestamp));
    REQUIRE(env);
    f.feed.write(timestamp_file_name, dsse::serialize(*env));
    expect_refused(*f.client, f.now + 1h, Errc::bad_signature, "payloadType");
  }
  SECTION("type swapped after signing") {
    auto env = dsse::parse(f.feed.read(timestamp_file_name));
    REQUIRE(env);
    env->payload_type = "application/vnd.tuf+jsoN";
    f.feed.write(timestamp_file_name, dsse::serialize(*env));
    expect_refused(*f.client, f.now + 1h, Errc::bad_signature, "payloadType");
  }
}

TEST_CASE("a bit flip in a signed payload is rejected", "[tuf][signature]") {
  Fixture f;
  f.feed.publish(f.now);
  auto env = dsse::parse(f.feed.read(timestamp_file_name));
  REQUIRE(env);
  const auto pos = env->payload.find("\"version\": 2");
  REQUIRE(pos != std::string::npos);
  env->payload[pos + 11] = '9';  // version 2 -> 9
  f.feed.write(timestamp_file_name, dsse::serialize(*env));
  expect_refused(*f.client, f.now + 1h, Errc::threshold_not_met, "timestamp: signed by 0");
}

TEST_CASE("a new root with a threshold of 0 is rejected", "[tuf][signature][root]") {
  Fixture f;
  json::Json root = f.feed.payload("metadata/1.root.json");
  root["version"] = 2;
  root["roles"]["timestamp"]["threshold"] = 0;
  f.feed.write_signed_json("metadata/2.root.json", root, f.feed.keys(Role::root));
  expect_refused(*f.client, f.now + 1h, Errc::schema_error, "roles.timestamp.threshold");
}

TEST_CASE("a new root with a threshold above its key count is rejected", "[tuf][signature][root]") {
  Fixture f;
  json::Json root = f.feed.payload("metadata/1.root.json");
  root["version"] = 2;
  root["roles"]["root"]["threshold"] = 4;
  f.feed.write_signed_json("metadata/2.root.json", root, f.feed.keys(Role::root));
  expect_refused(*f.client, f.now + 1h, Errc::schema_error, "exceeds the 3 distinct key(s)");
}

TEST_CASE("timestamp metadata parked under the snapshot name is rejected",
          "[tuf][signature][mix]") {
  Fixture f;
  f.feed.publish(f.now);
  // Signed by the timestamp key, valid DSSE, but the wrong role's document.
  const auto snap = f.feed.current_snapshot_name();
  f.feed.write(snap, f.feed.read(timestamp_file_name));
  f.feed.repin_timestamp(snap, 50, f.now + 24h);
  expect_refused(*f.client, f.now + 1h, Errc::threshold_not_met, "snapshot");
}

// ---- root rotation ---------------------------------------------------------------------------

TEST_CASE("root rotation signed by old and new keys is followed", "[tuf][root]") {
  Fixture f;
  f.feed.rotate_role_keys(Role::root, f.now);
  f.feed.rotate_role_keys(Role::root, f.now);
  auto r = f.client->refresh(f.now + 1h);
  REQUIRE(r);
  CHECK(r->root.version == 3);
  CHECK(f.client->state().root.bytes == f.feed.read("metadata/3.root.json"));
}

TEST_CASE("a new root signed only by the new keys is rejected", "[tuf][root]") {
  Fixture f;
  json::Json root = f.feed.payload("metadata/1.root.json");
  root["version"] = 2;
  std::vector<KeyPtr> fresh{make_key(), make_key()};
  root["roles"]["root"]["keyids"] = json::Json::array();
  for (const auto& k : fresh) {
    root["keys"][k->public_key().keyid()] = {{"keytype", "ed25519"},
                                             {"scheme", "ed25519"},
                                             {"keyval", {{"public", k->public_key().hex()}}}};
    root["roles"]["root"]["keyids"].push_back(k->public_key().keyid());
  }
  root["roles"]["root"]["threshold"] = 2;
  SECTION("only new keys") {
    f.feed.write_signed_json("metadata/2.root.json", root, {fresh[0].get(), fresh[1].get()});
    expect_refused(*f.client, f.now + 1h, Errc::threshold_not_met,
                   "root v2 (by the keys of root v1): signed by 0 of the required 2");
  }
  SECTION("only one old key plus the new keys") {
    f.feed.write_signed_json("metadata/2.root.json", root,
                             {&f.feed.key(Role::root, 0), fresh[0].get(), fresh[1].get()});
    expect_refused(*f.client, f.now + 1h, Errc::threshold_not_met,
                   "root v2 (by the keys of root v1): signed by 1 of the required 2");
  }
  SECTION("only old keys") {
    f.feed.write_signed_json("metadata/2.root.json", root, f.feed.keys(Role::root));
    expect_refused(*f.client, f.now + 1h, Errc::threshold_not_met,
                   "root v2 (by its own keys): signed by 0 of the required 2");
  }
}

TEST_CASE("a root chain that skips a version is rejected", "[tuf][root]") {
  Fixture f;
  json::Json root = f.feed.payload("metadata/1.root.json");
  SECTION("file 2.root.json holding version 3") {
    root["version"] = 3;
    f.feed.write_signed_json("metadata/2.root.json", root, f.feed.keys(Role::root));
    expect_refused(*f.client, f.now + 1h, Errc::version_mismatch, "expected exactly 2");
  }
  SECTION("file 2.root.json holding version 1 again") {
    root["version"] = 1;
    root["expires"] = "2027-06-01T00:00:00Z";
    f.feed.write_signed_json("metadata/2.root.json", root, f.feed.keys(Role::root));
    expect_refused(*f.client, f.now + 1h, Errc::rollback, "expected exactly 2");
  }
  SECTION("a gap in the file names stops the chain") {
    root["version"] = 3;
    f.feed.write_signed_json("metadata/3.root.json", root, f.feed.keys(Role::root));
    f.feed.publish(f.now);
    auto r = f.client->refresh(f.now + 1h);
    REQUIRE(r);
    CHECK(r->root.version == 1);
  }
}

TEST_CASE("an expired final root is rejected but expired intermediate roots are fine",
          "[tuf][root][freeze]") {
  Fixture f;
  json::Json root = f.feed.payload("metadata/1.root.json");
  root["version"] = 2;
  root["expires"] = format_utc(f.now - 1h);
  f.feed.write_signed_json("metadata/2.root.json", root, f.feed.keys(Role::root));
  SECTION("v2 expired and final") {
    expect_refused(*f.client, f.now + 1h, Errc::expired, "root v2 expired at");
  }
  SECTION("v2 expired, v3 valid") {
    root["version"] = 3;
    root["expires"] = format_utc(f.now + 24h * 300);
    f.feed.write_signed_json("metadata/3.root.json", root, f.feed.keys(Role::root));
    auto r = f.client->refresh(f.now + 1h);
    REQUIRE(r);
    CHECK(r->root.version == 3);
  }
}

TEST_CASE("a trusted root that expired is replaced by a fresh one", "[tuf][root][freeze]") {
  Fixture f;
  const TimePoint later = t0() + Days(400);  // root v1 expired at t0 + 365d
  f.feed.rotate_role_keys(Role::root, later);
  auto r = f.client->refresh(later + 1h);
  REQUIRE(r);
  CHECK(r->root.version == 2);
  SECTION("without a new root the refresh fails as expired") {
    Fixture g;
    g.feed.publish(later);
    expect_refused(*g.client, later + 1h, Errc::expired, "root v1 expired");
  }
}

TEST_CASE("the root rotation cap bounds one refresh and the next one continues",
          "[tuf][root][endless]") {
  Fixture f;
  for (int i = 0; i < 4; ++i) f.feed.rotate_role_keys(Role::root, f.now);  // roots v2..v5
  ClientLimits limits;
  limits.max_root_rotations = 2;
  auto r = f.client->refresh(f.now + 1h, limits);
  REQUIRE(r);
  CHECK(r->root.version == 3);
  auto again = f.client->refresh(f.now + 2h, limits);
  REQUIRE(again);
  CHECK(again->root.version == 5);
}

TEST_CASE("fast-forward recovery: rotating the timestamp key forgets the attacker's version",
          "[tuf][root][rollback]") {
  Fixture f;
  // An attacker with the timestamp key pushes a huge timestamp version; the client accepts it.
  f.feed.publish(f.now);
  edit_timestamp(f.feed, [](json::Json& j) { j["version"] = 1000000; });
  REQUIRE(f.client->refresh(f.now + 1h));
  CHECK(f.client->state().timestamp->version == 1000000);

  SECTION("without a key rotation, the honest timestamp is a rollback") {
    f.feed.publish(f.now + 2h);
    expect_refused(*f.client, f.now + 3h, Errc::rollback, "older than the trusted v1000000");
  }
  SECTION("after the repository rotates the timestamp key, the client recovers") {
    auto retired = f.feed.rotate_role_keys(Role::timestamp, f.now + 2h);
    auto r = f.client->refresh(f.now + 3h);
    REQUIRE(r);
    CHECK(r->root.version == 2);
    CHECK(r->timestamp.version < 1000000);
    CHECK(f.client->state().timestamp->bytes == f.feed.read(timestamp_file_name));
    // ...and the compromised key no longer signs anything the client accepts.
    f.feed.edit(timestamp_file_name, [](json::Json& j) { j["version"] = 2000000; },
                {retired[0].get()});
    expect_refused(*f.client, f.now + 4h, Errc::threshold_not_met, "timestamp: signed by 0");
  }
}

TEST_CASE("a root rotation that keeps the online keys keeps rollback protection",
          "[tuf][root][rollback]") {
  Fixture f;
  const std::string old_timestamp = f.feed.read(timestamp_file_name);
  f.publish_next(2, f.now);
  REQUIRE(f.client->refresh(f.now + 1h));
  f.feed.rotate_role_keys(Role::root, f.now + 1h);
  f.feed.write(timestamp_file_name, old_timestamp);
  expect_refused(*f.client, f.now + 2h, Errc::rollback, "timestamp v1 is older than the trusted");
}

// ---- rollback, freeze, mix-and-match ---------------------------------------------------------

TEST_CASE("timestamp with a lower version is rejected and the trusted state is unchanged",
          "[tuf][rollback]") {
  Fixture f;
  const std::string v1 = f.feed.read(timestamp_file_name);
  f.publish_next(2, f.now);
  f.publish_next(3, f.now);
  REQUIRE(f.client->refresh(f.now + 1h));
  SECTION("replayed old timestamp file") {
    f.feed.write(timestamp_file_name, v1);
    expect_refused(*f.client, f.now + 2h, Errc::rollback,
                   "timestamp v1 is older than the trusted v3");
  }
  SECTION("freshly signed lower version") {
    edit_timestamp(f.feed, [](json::Json& j) { j["version"] = 2; });
    expect_refused(*f.client, f.now + 2h, Errc::rollback, "timestamp v2 is older");
  }
}

TEST_CASE("a newer timestamp listing an older snapshot is rejected", "[tuf][rollback]") {
  Fixture f;
  f.publish_next(2, f.now);
  REQUIRE(f.client->refresh(f.now + 1h));
  f.feed.repin_timestamp("metadata/1.snapshot.json", 10, f.now + 24h);
  expect_refused(*f.client, f.now + 2h, Errc::rollback,
                 "lists snapshot v1, older than the trusted v2");
}

TEST_CASE("a snapshot listing an older targets version is rejected", "[tuf][rollback]") {
  Fixture f;
  f.publish_next(2, f.now);
  REQUIRE(f.client->refresh(f.now + 1h));
  // Snapshot v3 pinning targets v1 (the honest, signed, older targets).
  f.feed.repin_snapshot("metadata/3.snapshot.json", "metadata/1.targets.json", 3, f.now + 48h);
  f.feed.repin_timestamp("metadata/3.snapshot.json", 10, f.now + 24h);
  expect_refused(*f.client, f.now + 2h, Errc::rollback,
                 "lists targets v1, older than the trusted v2");
}

TEST_CASE("a replayed old targets file is rejected by the snapshot's pin", "[tuf][rollback][mix]") {
  Fixture f;
  f.publish_next(2, f.now);
  // Serve targets v1's bytes under targets v2's name.
  f.feed.write("metadata/2.targets.json", f.feed.read("metadata/1.targets.json"));
  const FeedState before = f.client->state();
  auto r = f.client->refresh(f.now + 1h);
  REQUIRE_FALSE(r);
  CHECK((r.error().code == Errc::hash_mismatch || r.error().code == Errc::length_mismatch));
  CHECK_THAT(r.error().message, Catch::Contains("pinned"));
  CHECK(f.client->state() == before);
}

TEST_CASE("expired metadata at each role is rejected as a freeze attack", "[tuf][freeze]") {
  Fixture f;
  f.publish_next(2, f.now);
  SECTION("timestamp") {
    edit_timestamp(f.feed, [&](json::Json& j) { j["expires"] = format_utc(f.now + 30min); });
    expect_refused(*f.client, f.now + 1h, Errc::expired, "timestamp v2 expired at");
  }
  SECTION("snapshot") {
    const auto snap = f.feed.current_snapshot_name();
    f.feed.edit(
        snap, [&](json::Json& j) { j["expires"] = format_utc(f.now + 30min); },
        f.feed.keys(Role::snapshot));
    f.feed.repin_timestamp(snap, 10, f.now + 24h);
    expect_refused(*f.client, f.now + 1h, Errc::expired, "snapshot v2 expired at");
  }
  SECTION("targets") {
    const auto targets = f.feed.current_targets_name();
    f.feed.edit(
        targets, [&](json::Json& j) { j["expires"] = format_utc(f.now + 30min); },
        f.feed.keys(Role::targets));
    f.feed.repin_snapshot(f.feed.current_snapshot_name(), targets, 2, f.now + 24h);
    f.feed.repin_timestamp(f.feed.current_snapshot_name(), 10, f.now + 24h);
    expect_refused(*f.client, f.now + 1h, Errc::expired, "targets v2 expired at");
  }
  SECTION("expiry equal to now counts as expired") {
    edit_timestamp(f.feed, [&](json::Json& j) { j["expires"] = format_utc(f.now + 1h); });
    expect_refused(*f.client, f.now + 1h, Errc::expired, "timestamp v2 expired");
  }
}

TEST_CASE("a frozen feed is reported as stale instead of up to date", "[tuf][freeze]") {
  Fixture f;
  const TimePoint later = t0() + Days(3);  // timestamp v1 expired at t0 + 1d
  expect_refused(*f.client, later, Errc::expired, "feed is stale since 2026-01-02T00:00:00Z");
  const FeedState s = f.client->state();
  CHECK(is_stale(s, later));
  REQUIRE(stale_since(s, later));
  CHECK(format_utc(*stale_since(s, later)) == "2026-01-02T00:00:00Z");
  CHECK_FALSE(is_stale(s, f.now));
  CHECK_FALSE(stale_since(s, f.now));
  // The verified targets are still there to serve.
  CHECK(s.trusted_targets.size() == 1);
}

TEST_CASE("a snapshot not matching the timestamp's pin is rejected before its signature",
          "[tuf][mix]") {
  Fixture f;
  f.feed.publish(f.now);
  const auto snap = f.feed.current_snapshot_name();
  const std::string good = f.feed.read(snap);
  SECTION("same length, different bytes") {
    f.feed.write(snap, flip_sig_char(good));
    expect_refused(*f.client, f.now + 1h, Errc::hash_mismatch, "pinned by timestamp v2");
  }
  SECTION("one byte longer") {
    f.feed.write(snap, good + " ");
    expect_refused(*f.client, f.now + 1h, Errc::length_mismatch,
                   "longer than the " + std::to_string(good.size()) + " bytes pinned");
  }
  SECTION("one byte shorter") {
    f.feed.write(snap, good.substr(0, good.size() - 1));
    expect_refused(*f.client, f.now + 1h, Errc::length_mismatch, "pinned");
  }
  SECTION("missing") {
    f.feed.remove(snap);
    expect_refused(*f.client, f.now + 1h, Errc::not_found, "snapshot");
  }
}

TEST_CASE("targets not matching the snapshot's pin are rejected", "[tuf][mix]") {
  Fixture f;
  f.feed.publish(f.now);
  const auto targets = f.feed.current_targets_name();
  const std::string good = f.feed.read(targets);
  SECTION("same length, different bytes") {
    f.feed.write(targets, flip_sig_char(good));
    expect_refused(*f.client, f.now + 1h, Errc::hash_mismatch, "pinned by snapshot v2");
  }
  SECTION("validly signed but different") {
    f.feed.edit(
        targets, [](json::Json& j) { j["targets"] = json::Json::object(); },
        f.feed.keys(Role::targets));
    const auto r = f.client->refresh(f.now + 1h);
    REQUIRE_FALSE(r);
    CHECK((r.error().code == Errc::hash_mismatch || r.error().code == Errc::length_mismatch));
  }
}

TEST_CASE("a snapshot whose version differs from the timestamp's pin is rejected", "[tuf][mix]") {
  Fixture f;
  f.feed.publish(f.now);
  // Serve snapshot v1 (validly signed) under the name and pin of snapshot v2.
  const std::string v1 = f.feed.read("metadata/1.snapshot.json");
  f.feed.write("metadata/2.snapshot.json", v1);
  TimestampMetadata ts{10, f.now + 24h, MetaFile{2, v1.size(), crypto::sha256_hex(v1)}};
  f.feed.write_signed(timestamp_file_name, serialize(ts), f.feed.keys(Role::timestamp));
  expect_refused(*f.client, f.now + 1h, Errc::version_mismatch,
                 "contains version 1, timestamp v10 pins 2");
}

TEST_CASE("targets whose version differs from the snapshot's pin are rejected", "[tuf][mix]") {
  Fixture f;
  f.feed.publish(f.now);
  const std::string v1 = f.feed.read("metadata/1.targets.json");
  f.feed.write("metadata/2.targets.json", v1);
  SnapshotMetadata snap{2, f.now + 24h, MetaFile{2, v1.size(), crypto::sha256_hex(v1)}, {}};
  f.feed.write_signed("metadata/2.snapshot.json", serialize(snap), f.feed.keys(Role::snapshot));
  f.feed.repin_timestamp("metadata/2.snapshot.json", 10, f.now + 24h);
  expect_refused(*f.client, f.now + 1h, Errc::version_mismatch,
                 "contains version 1, snapshot v2 pins 2");
}

// ---- endless data ----------------------------------------------------------------------------

TEST_CASE("oversized metadata is refused at each role", "[tuf][endless]") {
  Fixture f;
  f.feed.publish(f.now);
  SECTION("timestamp over 16 KiB") {
    f.feed.write(timestamp_file_name, std::string(16 * 1024 + 1, ' '));
    expect_refused(*f.client, f.now + 1h, Errc::too_large, "timestamp");
  }
  SECTION("root over its limit") {
    f.feed.write("metadata/2.root.json", std::string(600 * 1024, '{'));
    expect_refused(*f.client, f.now + 1h, Errc::too_large, "root v2");
  }
  SECTION("root over a configured limit") {
    f.feed.rotate_role_keys(Role::root, f.now);
    ClientLimits limits;
    limits.max_root_bytes = 100;
    expect_refused(*f.client, f.now + 1h, Errc::too_large, "exceeds the limit of 100", limits);
  }
  SECTION("a snapshot pin above the cap") {
    edit_timestamp(f.feed, [](json::Json& j) {
      j["meta"]["snapshot.json"]["length"] = std::uint64_t{1} << 40;
    });
    expect_refused(*f.client, f.now + 1h, Errc::too_large, "above the limit");
  }
  SECTION("a targets pin above a configured cap") {
    ClientLimits limits;
    limits.max_pinned_bytes = 64;
    expect_refused(*f.client, f.now + 1h, Errc::too_large, "above the limit of 64", limits);
  }
  SECTION("a snapshot served longer than pinned") {
    const auto snap = f.feed.current_snapshot_name();
    f.feed.write(snap, f.feed.read(snap) + std::string(1 << 20, ' '));
    expect_refused(*f.client, f.now + 1h, Errc::length_mismatch, "longer than");
  }
}

TEST_CASE("a release file longer than its targets length is refused", "[tuf][endless]") {
  Fixture f;
  f.publish_next(2, f.now);
  const auto& targets = f.feed.repo().targets();
  const auto it = std::find_if(targets.begin(), targets.end(),
                               [](const TargetInfo& t) { return t.revision == "rev2"; });
  REQUIRE(it != targets.end());
  const auto name = consistent_target_name(*it);
  f.feed.write(name, f.feed.read(name) + std::string(4096, 'x'));
  expect_refused(*f.client, f.now + 1h, Errc::length_mismatch,
                 "target " + it->path + ": " + name + ": longer than the");
}

TEST_CASE("a release file with the right length but other bytes is refused", "[tuf][mix]") {
  Fixture f;
  f.publish_next(2, f.now);
  const auto& t = f.feed.repo().targets().back();
  const auto name = consistent_target_name(t);
  std::string bytes = f.feed.read(name);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x20);
  f.feed.write(name, bytes);
  expect_refused(*f.client, f.now + 1h, Errc::hash_mismatch, "target " + t.path);
}

TEST_CASE("a missing release file fails the whole refresh", "[tuf][crash]") {
  Fixture f;
  f.publish_next(2, f.now);
  f.feed.remove(consistent_target_name(f.feed.repo().targets().back()));
  expect_refused(*f.client, f.now + 1h, Errc::not_found, "target ");
}

TEST_CASE("deeply nested JSON is refused before and after signature checks", "[tuf][endless]") {
  Fixture f;
  f.feed.publish(f.now);
  SECTION("as the envelope") {
    f.feed.write(timestamp_file_name, std::string(5000, '[') + std::string(5000, ']'));
    expect_refused(*f.client, f.now + 1h, Errc::too_large, "nested deeper");
  }
  SECTION("as a validly signed payload") {
    std::string deep =
        "{\"_type\":\"timestamp\",\"x\":" + std::string(5000, '[') + std::string(5000, ']') + "}";
    f.feed.write_signed(timestamp_file_name, deep, f.feed.keys(Role::timestamp));
    expect_refused(*f.client, f.now + 1h, Errc::too_large, "nested deeper");
  }
}

// ---- wrong software --------------------------------------------------------------------------

TEST_CASE("model A's manifest served as model B's target is rejected", "[tuf][wrong-software]") {
  Fixture f;
  // The targets entry says org/model-b@main, the signed file inside says org/model-a@rev1.
  REQUIRE(f.feed.repo().add_target(release_path("org/model-b", "main"),
                                   release_manifest(model_a, "rev1", 1),
                                   TargetCustom{TargetKind::release, "org/model-b", "main", 1}));
  f.feed.publish(f.now);
  expect_refused(*f.client, f.now + 1h, Errc::wrong_target,
                 "manifest names org/model-a@rev1 but the target entry is org/model-b@main");
}

TEST_CASE("release_seq never decreases", "[tuf][wrong-software][rollback]") {
  Fixture f;
  f.publish_next(5, f.now);
  REQUIRE(f.client->refresh(f.now + 1h));
  CHECK(f.client->state().release_seq.at(model_a) == 5);
  SECTION("a new release with a lower sequence") {
    f.feed.add_release(model_a, "old-fork", 3, f.now + 1h);
    expect_refused(*f.client, f.now + 2h, Errc::rollback,
                   "has release_seq 3, not above the trusted maximum 5");
  }
  SECTION("a new release reusing the current maximum while the release holding it is listed") {
    // A duplicate within the signed targets is reported as such, before any history check.
    f.feed.add_release(model_a, "again", 5, f.now + 1h);
    expect_refused(*f.client, f.now + 2h, Errc::schema_error,
                   "two releases of org/model-a share release_seq 5");
  }
  SECTION("two new releases sharing a sequence not above the maximum") {
    // Whatever their path order, the duplicate is reported, not the rollback of either one.
    f.feed.add_release(model_a, "a-old", 4, f.now + 1h);
    f.feed.add_release(model_a, "z-old", 4, f.now + 1h);
    expect_refused(*f.client, f.now + 2h, Errc::schema_error,
                   "two releases of org/model-a share release_seq 4");
  }
  SECTION("an existing release whose sequence is raised") {
    // Moving an old revision up would make it the latest again: refused like a decrease.
    REQUIRE(f.feed.repo().add_target(release_path(model_a, "rev5"),
                                     release_manifest(model_a, "rev5", 9),
                                     TargetCustom{TargetKind::release, model_a, "rev5", 9}));
    f.feed.publish(f.now + 1h);
    expect_refused(*f.client, f.now + 2h, Errc::rollback, "changed release_seq from 5 to 9");
    CHECK(f.client->state().release_seq.at(model_a) == 5);
  }
  SECTION("an existing release whose sequence is rewritten") {
    REQUIRE(f.feed.repo().add_target(release_path(model_a, "rev5"),
                                     release_manifest(model_a, "rev5", 4),
                                     TargetCustom{TargetKind::release, model_a, "rev5", 4}));
    f.feed.publish(f.now + 1h);
    expect_refused(*f.client, f.now + 2h, Errc::rollback, "changed release_seq from 5 to 4");
  }
  SECTION("all releases removed and an old one re-added") {
    REQUIRE(f.feed.repo().remove_target(release_path(model_a, "rev5")));
    f.feed.publish(f.now + 1h);
    REQUIRE(f.client->refresh(f.now + 2h));
    CHECK(f.client->state().release_seq.at(model_a) == 5);
    f.feed.add_release(model_a, "rev5b", 2, f.now + 2h);
    expect_refused(*f.client, f.now + 3h, Errc::rollback, "not above the trusted maximum 5");
  }
  SECTION("a higher sequence is accepted") {
    f.feed.add_release(model_a, "rev6", 6, f.now + 1h);
    REQUIRE(f.client->refresh(f.now + 2h));
    CHECK(f.client->state().release_seq.at(model_a) == 6);
  }
}

TEST_CASE("two releases of one model with the same sequence are rejected",
          "[tuf][wrong-software]") {
  TempDir tmp;
  TestFeed feed(tmp.path());
  feed.add_release(model_a, "x", 1, t0());
  feed.add_release(model_a, "y", 1, t0());
  TestClient client(tmp / "state", feed);
  expect_refused(client, t0() + 1h, Errc::schema_error,
                 "two releases of org/model-a share release_seq 1");
}

// ---- unchanged release targets (AlreadyVerified) ---------------------------------------------

namespace {

// A refresh whose validator records what it saw, with `already_verified` as the caller's
// "I still hold what validating this gave me" answer.
struct Recorded {
  Result<RefreshOutcome> result;
  std::vector<std::string> validated;
};
Recorded refresh_recording(Fixture& f, TimePoint now, const AlreadyVerified& already_verified) {
  std::vector<std::string> seen;
  LocalDirFetcher fetcher(f.feed.public_dir());
  auto r = tuf::refresh(
      f.client->store(), f.client->name(), fetcher, now,
      [&seen](const TargetInfo& t, std::string_view bytes) {
        seen.push_back(t.path);
        return check_release_matches(t, bytes);
      },
      {}, already_verified);
  return {std::move(r), std::move(seen)};
}

const AlreadyVerified all_held = [](const TargetInfo&) { return true; };

}  // namespace

TEST_CASE(
    "an unchanged release target that the caller still holds is neither fetched nor "
    "validated again",
    "[tuf][refresh][unchanged]") {
  Fixture f;
  f.publish_next(2, f.now);
  // rev1 is gone from the feed's files: a fetch of it would fail the refresh.
  const auto rev1 = f.feed.repo().targets().front();
  REQUIRE(rev1.revision == "rev1");
  f.feed.remove(consistent_target_name(rev1));
  std::vector<std::string> asked;
  auto rec = refresh_recording(f, f.now + 1h, [&asked](const TargetInfo& t) {
    asked.push_back(t.path);
    return true;
  });
  REQUIRE(rec.result);
  CHECK(rec.result->result == RefreshResult::updated);
  CHECK(rec.validated == std::vector<std::string>{release_path(model_a, "rev2")});
  // Only the target whose entry is identical to a trusted one is offered to the predicate.
  CHECK(asked == std::vector<std::string>{release_path(model_a, "rev1")});
  CHECK(f.client->state().trusted_targets.size() == 2);
}

TEST_CASE("an unchanged release target missing from the caller's cache is fetched and validated",
          "[tuf][refresh][unchanged]") {
  Fixture f;
  f.publish_next(2, f.now);
  const auto rev1 = f.feed.repo().targets().front();
  const AlreadyVerified none_held = [](const TargetInfo&) { return false; };
  SECTION("and accepted when it is served") {
    auto rec = refresh_recording(f, f.now + 1h, none_held);
    REQUIRE(rec.result);
    CHECK(rec.validated ==
          std::vector<std::string>{release_path(model_a, "rev1"), release_path(model_a, "rev2")});
  }
  SECTION("and the refresh refused when it is not") {
    f.feed.remove(consistent_target_name(rev1));
    const FeedState before = f.client->state();
    auto rec = refresh_recording(f, f.now + 1h, none_held);
    REQUIRE_REFUSED(rec.result, Errc::not_found, "target " + rev1.path);
    CHECK(f.client->state() == before);
  }
  SECTION("only for the targets the cache lacks") {
    auto rec =
        refresh_recording(f, f.now + 1h, [](const TargetInfo& t) { return t.revision != "rev1"; });
    REQUIRE(rec.result);
    CHECK(rec.validated ==
          std::vector<std::string>{release_path(model_a, "rev1"), release_path(model_a, "rev2")});
  }
}

TEST_CASE("a release target changed under the same path is fetched and validated again",
          "[tuf][refresh][unchanged]") {
  Fixture f;
  const std::string path = release_path(model_a, "rev1");
  const FeedState before = f.client->state();
  SECTION("other bytes (sha256 and length) that validate") {
    REQUIRE(f.feed.repo().add_target(path, release_manifest(model_a, "rev1", 1) + "\n",
                                     TargetCustom{TargetKind::release, model_a, "rev1", 1}));
    f.feed.publish(f.now);
    auto rec = refresh_recording(f, f.now + 1h, all_held);
    REQUIRE(rec.result);
    CHECK(rec.validated == std::vector<std::string>{path});
    const auto& now_trusted = f.client->state().trusted_targets;
    REQUIRE(now_trusted.size() == 1);
    CHECK(now_trusted[0].sha256 != before.trusted_targets[0].sha256);
    CHECK(now_trusted[0].length == before.trusted_targets[0].length + 1);
  }
  SECTION("other bytes that do not validate") {
    REQUIRE(f.feed.repo().add_target(path, release_manifest("org/model-b", "rev1", 1),
                                     TargetCustom{TargetKind::release, model_a, "rev1", 1}));
    f.feed.publish(f.now);
    auto rec = refresh_recording(f, f.now + 1h, all_held);
    REQUIRE_REFUSED(rec.result, Errc::wrong_target, "manifest names org/model-b@rev1");
    CHECK(f.client->state() == before);
  }
  SECTION("the same bytes listed under another model") {
    REQUIRE(f.feed.repo().add_target(path, release_manifest(model_a, "rev1", 1),
                                     TargetCustom{TargetKind::release, "org/model-b", "rev1", 1}));
    f.feed.publish(f.now);
    auto rec = refresh_recording(f, f.now + 1h, all_held);
    REQUIRE_REFUSED(rec.result, Errc::wrong_target, "the target entry is org/model-b@rev1");
    CHECK(rec.validated == std::vector<std::string>{path});
    CHECK(f.client->state() == before);
  }
  SECTION("the same bytes listed under another revision") {
    REQUIRE(f.feed.repo().add_target(path, release_manifest(model_a, "rev1", 1),
                                     TargetCustom{TargetKind::release, model_a, "rev9", 1}));
    f.feed.publish(f.now);
    auto rec = refresh_recording(f, f.now + 1h, all_held);
    REQUIRE_REFUSED(rec.result, Errc::wrong_target, "the target entry is org/model-a@rev9");
    CHECK(f.client->state() == before);
  }
  SECTION("the same bytes listed with another release_seq") {
    REQUIRE(f.feed.repo().add_target(path, release_manifest(model_a, "rev1", 1),
                                     TargetCustom{TargetKind::release, model_a, "rev1", 2}));
    f.feed.publish(f.now);
    auto rec = refresh_recording(f, f.now + 1h, all_held);
    REQUIRE_REFUSED(rec.result, Errc::rollback, "changed release_seq from 1 to 2");
    CHECK(f.client->state() == before);
  }
}

// ---- crash safety ----------------------------------------------------------------------------

TEST_CASE("a validator failure after all metadata verified leaves the old state intact",
          "[tuf][crash]") {
  Fixture f;
  f.publish_next(2, f.now);
  const FeedState before = f.client->state();
  auto r = f.client->refresh(f.now + 1h, [](const TargetInfo& t, std::string_view) -> Status {
    if (t.revision == "rev2") return fail(Errc::schema_error, "manifest: files missing");
    return {};
  });
  REQUIRE_REFUSED(r, Errc::schema_error, "manifest: files missing");
  CHECK(f.client->state() == before);
  auto refusal = f.client->store().last_refusal(f.client->name());
  REQUIRE(refusal);
  REQUIRE(refusal->has_value());
  CHECK_THAT((*refusal)->message, Catch::Contains("manifest: files missing"));
  // The next refresh with a good validator succeeds: a refusal never wedges the client.
  REQUIRE(f.client->refresh(f.now + 2h));
  CHECK(f.client->state().timestamp->version == 2);
}

TEST_CASE("a failing database commit leaves the old state intact", "[tuf][crash]") {
  Fixture f;
  f.publish_next(2, f.now);
  const FeedState before = f.client->state();
  {
    // A trigger makes the commit fail half way through (after the metadata rows were written).
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(f.client->store().database_path().c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db,
                         "CREATE TRIGGER inject_failure BEFORE INSERT ON trusted_targets BEGIN "
                         "SELECT RAISE(ABORT, 'injected failure'); END;",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto r = f.client->refresh(f.now + 1h);
  REQUIRE_REFUSED(r, Errc::database_error, "injected failure");
  CHECK(f.client->state() == before);
  auto refusal = f.client->store().last_refusal(f.client->name());
  REQUIRE(refusal);
  REQUIRE(refusal->has_value());
  CHECK((*refusal)->error_code == "database_error");
}

TEST_CASE("a process killed in the middle of a refresh leaves the old state intact",
          "[tuf][crash]") {
  Fixture f;
  f.publish_next(2, f.now);
  const FeedState before = f.client->state();
  f.client->close();  // the child takes the state-dir lock
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: die abruptly once all metadata is verified and the first release is fetched.
    auto store = StateStore::open(f.tmp / "state");
    if (!store) ::_exit(3);
    LocalDirFetcher fetcher(f.feed.public_dir());
    (void)refresh(*store, "test", fetcher, f.now + 1h,
                  [](const TargetInfo&, std::string_view) -> Status { ::_exit(9); });
    ::_exit(4);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 9);
  f.client->reopen();
  CHECK(f.client->state() == before);
  REQUIRE(f.client->refresh(f.now + 2h));
  CHECK(f.client->state().timestamp->version == 2);
}

// ---- targets after refresh -------------------------------------------------------------------

TEST_CASE("fetch_verified_target returns only listed, hash-checked targets", "[tuf][targets]") {
  Fixture f;
  REQUIRE(f.feed.repo().add_target("models/org/model-a/rev1.torrent", "d8:announce0:e",
                                   TargetCustom{TargetKind::torrent, model_a, "rev1", 1}));
  f.feed.publish(f.now);
  REQUIRE(f.client->refresh(f.now + 1h));
  const FeedState s = f.client->state();
  LocalDirFetcher fetcher(f.feed.public_dir());
  auto bytes = fetch_verified_target(fetcher, s, "models/org/model-a/rev1.torrent");
  REQUIRE(bytes);
  CHECK(*bytes == "d8:announce0:e");

  auto missing = fetch_verified_target(fetcher, s, "models/org/model-a/rev9.torrent");
  REQUIRE_REFUSED(missing, Errc::not_found, "not listed");

  const auto& t = *std::find_if(s.trusted_targets.begin(), s.trusted_targets.end(),
                                [](const TargetInfo& x) { return x.kind == TargetKind::torrent; });
  f.feed.write(consistent_target_name(t), "d8:announce1:Xe");
  auto tampered = fetch_verified_target(fetcher, s, t.path);
  REQUIRE_REFUSED(tampered, Errc::length_mismatch, "longer than");
}

TEST_CASE("summarize reports versions and expiries of the trusted state", "[tuf][status]") {
  Fixture f;
  const RefreshOutcome o = summarize(f.client->state());
  CHECK(o.root.version == 1);
  CHECK(o.timestamp.version == 1);
  CHECK(o.timestamp.expires == t0() + Days(1));
  CHECK(o.snapshot.expires == t0() + Days(7));
  CHECK(o.targets.expires == t0() + Days(90));
  CHECK(o.trusted_targets.size() == 1);
}

TEST_CASE("a target pinned above 64 MiB is refused before anything is fetched",
          "[tuf][targets][limits]") {
  struct CountingFetcher final : Fetcher {
    int calls = 0;
    Result<std::string> fetch(std::string_view, std::uint64_t) override {
      ++calls;
      return std::string();
    }
    std::string describe() const override { return "counting"; }
  };
  FeedState s;
  s.name = "feed";
  TargetInfo t;
  t.path = "models/org/model-a/rev1.torrent";
  t.length = 64ull * 1024 * 1024 + 1;
  t.sha256 = std::string(64, 'a');
  t.kind = TargetKind::torrent;
  t.model = model_a;
  t.revision = "rev1";
  s.trusted_targets.push_back(t);
  CountingFetcher fetcher;
  auto r = fetch_verified_target(fetcher, s, t.path);
  REQUIRE_REFUSED(r, Errc::too_large, "above the limit of 67108864");
  CHECK(fetcher.calls == 0);
}
