#include "core/trust/tuf_metadata.hpp"

#include <functional>

#include <catch2/catch.hpp>

#include "core/trust/dsse.hpp"
#include "core/util/encoding.hpp"
#include "support/feed_builder.hpp"

using namespace weights;
using namespace weights::tuf;
using weights::testing::KeyPtr;
using weights::testing::make_key;
using weights::testing::t0;

namespace {

struct Keys {
  KeyPtr root1 = make_key(), root2 = make_key(), targets = make_key(), snapshot = make_key(),
         timestamp = make_key();
};

RootMetadata make_root(const Keys& k) {
  RootMetadata r;
  r.version = 1;
  r.expires = t0() + Days(365);
  for (const auto* key :
       {k.root1.get(), k.root2.get(), k.targets.get(), k.snapshot.get(), k.timestamp.get()}) {
    r.keys.emplace(key->public_key().keyid(), key->public_key());
  }
  r.root = RoleKeys{{k.root1->public_key().keyid(), k.root2->public_key().keyid()}, 2};
  r.targets = RoleKeys{{k.targets->public_key().keyid()}, 1};
  r.snapshot = RoleKeys{{k.snapshot->public_key().keyid()}, 1};
  r.timestamp = RoleKeys{{k.timestamp->public_key().keyid()}, 1};
  return r;
}

json::Json root_json(const Keys& k) {
  return to_json(make_root(k));
}

std::string dump(const json::Json& j) {
  return json::dump_pretty(j);
}

TargetsMetadata one_target() {
  TargetsMetadata t;
  t.version = 3;
  t.expires = t0() + Days(90);
  TargetInfo info;
  info.path = "models/org/name/rev1.release.json";
  info.length = 12;
  info.sha256 = crypto::sha256_hex("hello world!");
  info.kind = TargetKind::release;
  info.model = "org/name";
  info.revision = "rev1";
  info.release_seq = 4;
  t.targets.push_back(info);
  return t;
}

json::Json targets_with_path(const std::string& path) {
  json::Json j = to_json(one_target());
  json::Json entry = j["targets"].begin().value();
  j["targets"] = json::Json::object();
  j["targets"][path] = entry;
  return j;
}

}  // namespace

TEST_CASE("root metadata round-trips through serialize and parse", "[tuf][metadata]") {
  Keys k;
  const RootMetadata root = make_root(k);
  auto parsed = parse_root(serialize(root));
  REQUIRE(parsed);
  CHECK(parsed->version == 1);
  CHECK(parsed->expires == root.expires);
  CHECK(parsed->keys == root.keys);
  CHECK(parsed->root.threshold == 2);
  CHECK(parsed->keys_for(Role::root).size() == 2);
  CHECK(parsed->keys_for(Role::timestamp) ==
        std::vector<crypto::PublicKey>{k.timestamp->public_key()});
}

TEST_CASE("root metadata whose keyid is not the hash of its key is rejected", "[tuf][metadata]") {
  Keys k;
  json::Json j = root_json(k);
  const std::string real = k.timestamp->public_key().keyid();
  const std::string fake(64, 'a');
  j["keys"][fake] = j["keys"][real];
  j["keys"].erase(real);
  j["roles"]["timestamp"]["keyids"] = {fake};
  auto r = parse_root(dump(j));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::schema_error);
  CHECK_THAT(r.error().message, Catch::Contains("does not match its key"));
}

TEST_CASE("root metadata with a threshold of 0 is rejected", "[tuf][metadata][threshold]") {
  Keys k;
  json::Json j = root_json(k);
  j["roles"]["snapshot"]["threshold"] = 0;
  auto r = parse_root(dump(j));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::schema_error);
  CHECK_THAT(r.error().message, Catch::Contains("roles.snapshot.threshold"));
}

TEST_CASE("root metadata with a threshold above its distinct key count is rejected",
          "[tuf][metadata][threshold]") {
  Keys k;
  SECTION("more than the keys listed") {
    json::Json j = root_json(k);
    j["roles"]["root"]["threshold"] = 3;
    auto r = parse_root(dump(j));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::schema_error);
    CHECK_THAT(r.error().message, Catch::Contains("exceeds the 2 distinct key(s)"));
  }
  SECTION("a keyid listed twice counts once") {
    json::Json j = root_json(k);
    const std::string id = k.targets->public_key().keyid();
    j["roles"]["targets"]["keyids"] = {id, id};
    j["roles"]["targets"]["threshold"] = 2;
    auto r = parse_root(dump(j));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("exceeds the 1 distinct key(s)"));
  }
}

TEST_CASE("root metadata naming a keyid missing from keys is rejected", "[tuf][metadata]") {
  Keys k;
  json::Json j = root_json(k);
  j["roles"]["targets"]["keyids"] = {std::string(64, 'b')};
  auto r = parse_root(dump(j));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::schema_error);
  CHECK_THAT(r.error().message, Catch::Contains("is not in signed.keys"));
}

TEST_CASE("root metadata without consistent snapshots or a role is rejected", "[tuf][metadata]") {
  Keys k;
  SECTION("consistent_snapshot false") {
    json::Json j = root_json(k);
    j["consistent_snapshot"] = false;
    auto r = parse_root(dump(j));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("consistent_snapshot must be true"));
  }
  SECTION("missing timestamp role") {
    json::Json j = root_json(k);
    j["roles"].erase("timestamp");
    auto r = parse_root(dump(j));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::schema_error);
  }
  SECTION("non-ed25519 key") {
    json::Json j = root_json(k);
    j["keys"][k.targets->public_key().keyid()]["keytype"] = "rsa";
    auto r = parse_root(dump(j));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::unsupported);
  }
}

TEST_CASE("metadata headers are checked strictly", "[tuf][metadata]") {
  Keys k;
  SECTION("_type of another role") {
    json::Json j = root_json(k);
    j["_type"] = "targets";
    auto r = parse_root(dump(j));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("_type"));
  }
  SECTION("version 0") {
    json::Json j = root_json(k);
    j["version"] = 0;
    REQUIRE_FALSE(parse_root(dump(j)));
  }
  SECTION("version written as a float") {
    std::string text = dump(root_json(k));
    const auto pos = text.find("\"version\": 1");
    REQUIRE(pos != std::string::npos);
    text.replace(pos, 12, "\"version\": 1.0");
    REQUIRE_FALSE(parse_root(text));
  }
  SECTION("missing spec_version") {
    json::Json j = root_json(k);
    j.erase("spec_version");
    REQUIRE_FALSE(parse_root(dump(j)));
  }
  SECTION("expires with fractional seconds") {
    json::Json j = root_json(k);
    j["expires"] = "2027-01-01T00:00:00.5Z";
    REQUIRE_FALSE(parse_root(dump(j)));
  }
  SECTION("duplicate keys in the JSON") {
    std::string text = dump(root_json(k));
    text.insert(1, "\"version\": 7, ");
    auto r = parse_root(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::parse_error);
  }
}

TEST_CASE("spec_version is MAJOR.MINOR.PATCH with major 1", "[tuf][metadata]") {
  Keys k;
  auto with = [&](const std::string& v) {
    json::Json j = root_json(k);
    j["spec_version"] = v;
    return parse_root(dump(j));
  };
  for (const char* ok : {"1.0.0", "1.0.31", "1.2.3", "1.999999999.0"}) {
    INFO(ok);
    CHECK(with(ok));
  }
  for (const char* bad : {"1", "1.", "1.0", "1.0.", "1.0.31.1", "1.x.0", "1.0.31-rc1", "01.0.0",
                          "1.00.1", "1.0.+1", " 1.0.0", "1.1000000000.0", ""}) {
    INFO(bad);
    auto r = with(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::schema_error);
    CHECK_THAT(r.error().message, Catch::Contains("MAJOR.MINOR.PATCH"));
  }
  for (const char* other : {"0.9.0", "2.0.0"}) {
    INFO(other);
    auto r = with(other);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::unsupported);
  }
}

TEST_CASE("unknown metadata fields are ignored", "[tuf][metadata]") {
  Keys k;
  json::Json j = root_json(k);
  j["x-extension"] = {{"anything", 1}};
  j["roles"]["mirrors"] = {{"keyids", json::Json::array()}, {"threshold", 9}};
  auto r = parse_root(dump(j));
  REQUIRE(r);
  CHECK(r->root.threshold == 2);
}

TEST_CASE("timestamp and snapshot pins need version, length and a lowercase sha256",
          "[tuf][metadata]") {
  TimestampMetadata ts{5, t0(), MetaFile{7, 100, crypto::sha256_hex("x")}};
  auto parsed = parse_timestamp(serialize(ts));
  REQUIRE(parsed);
  CHECK(parsed->snapshot == ts.snapshot);

  json::Json j = to_json(ts);
  SECTION("missing snapshot.json") {
    j["meta"].erase("snapshot.json");
    REQUIRE_FALSE(parse_timestamp(dump(j)));
  }
  SECTION("uppercase hash") {
    std::string upper = ts.snapshot.sha256;
    for (auto& c : upper) c = static_cast<char>(std::toupper(c));
    j["meta"]["snapshot.json"]["hashes"]["sha256"] = upper;
    REQUIRE_FALSE(parse_timestamp(dump(j)));
  }
  SECTION("missing length") {
    j["meta"]["snapshot.json"].erase("length");
    REQUIRE_FALSE(parse_timestamp(dump(j)));
  }
  SECTION("snapshot pins targets.json") {
    SnapshotMetadata snap{2, t0(), MetaFile{3, 10, crypto::sha256_hex("y")}, {}};
    auto s = parse_snapshot(serialize(snap));
    REQUIRE(s);
    CHECK(s->targets == snap.targets);
    REQUIRE_FALSE(parse_snapshot(dump(j)));  // a timestamp is not a snapshot
  }
}

TEST_CASE("targets metadata round-trips with custom fields", "[tuf][metadata]") {
  const TargetsMetadata t = one_target();
  auto parsed = parse_targets(serialize(t));
  REQUIRE(parsed);
  REQUIRE(parsed->targets.size() == 1);
  CHECK(parsed->targets[0] == t.targets[0]);
  CHECK(consistent_target_name(t.targets[0]) ==
        "targets/models/org/name/" + t.targets[0].sha256 + ".rev1.release.json");
}

TEST_CASE("target paths that could escape the store are rejected", "[tuf][metadata][paths]") {
  for (const std::string path : {"../evil.release.json", "/etc/passwd", "models/a\\b.json",
                                 "models/./x.json", "models//x.json", "models/x/", ""}) {
    INFO("path: " << path);
    auto r = parse_targets(dump(targets_with_path(path)));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::path_policy);
  }
}

TEST_CASE("targets with colliding paths are rejected", "[tuf][metadata][paths]") {
  json::Json j = targets_with_path("models/org/name/rev1.release.json");
  j["targets"]["models/org/name/REV1.release.json"] =
      j["targets"]["models/org/name/rev1.release.json"];
  auto r = parse_targets(dump(j));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::path_policy);
}

TEST_CASE("targets custom fields are validated", "[tuf][metadata]") {
  json::Json j = to_json(one_target());
  auto& custom = j["targets"].begin().value()["custom"];
  SECTION("unknown kind") {
    custom["kind"] = "executable";
  }
  SECTION("model without org") {
    custom["model"] = "name";
  }
  SECTION("model with traversal") {
    custom["model"] = "../x";
  }
  SECTION("negative release_seq") {
    custom["release_seq"] = -1;
  }
  SECTION("missing custom") {
    j["targets"].begin().value().erase("custom");
  }
  REQUIRE_FALSE(parse_targets(dump(j)));
}

TEST_CASE("metadata names follow the feed layout", "[tuf][metadata]") {
  CHECK(root_file_name(3) == "metadata/3.root.json");
  CHECK(snapshot_file_name(12) == "metadata/12.snapshot.json");
  CHECK(targets_file_name(1) == "metadata/1.targets.json");
  CHECK(timestamp_file_name == "metadata/timestamp.json");
  TargetInfo top;
  top.path = "file.json";
  top.sha256 = std::string(64, 'a');
  CHECK(consistent_target_name(top) == "targets/" + top.sha256 + ".file.json");
}

// ---- envelopes and thresholds ----------------------------------------------------------------

TEST_CASE("an envelope signed by a threshold of authorised keys verifies", "[tuf][signature]") {
  auto a = make_key(), b = make_key();
  auto env = sign_metadata("{\"x\":1}", {a.get(), b.get()});
  REQUIRE(env);
  auto payload = verify_envelope(*env, {a->public_key(), b->public_key()}, 2, "test");
  REQUIRE(payload);
  CHECK(*payload == "{\"x\":1}");
}

TEST_CASE("an unsigned envelope does not meet any threshold", "[tuf][signature]") {
  auto a = make_key();
  auto env = sign_metadata("{}", {});
  REQUIRE(env);
  auto r = verify_envelope(*env, {a->public_key()}, 1, "timestamp");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::threshold_not_met);
  CHECK_THAT(r.error().message, Catch::Contains("timestamp: signed by 0 of the required 1"));
}

TEST_CASE("a signature by a key of another role does not count", "[tuf][signature]") {
  auto role_key = make_key(), other = make_key();
  auto env = sign_metadata("{}", {other.get()});
  REQUIRE(env);
  auto r = verify_envelope(*env, {role_key->public_key()}, 1, "snapshot");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::threshold_not_met);
}

TEST_CASE("a duplicated signature is counted once", "[tuf][signature][threshold]") {
  auto a = make_key(), b = make_key();
  auto env = dsse::sign(std::string(dsse::tuf_payload_type), "{}", {a.get(), a.get()});
  REQUIRE(env);
  REQUIRE(env->signatures.size() == 2);
  auto r = verify_envelope(dsse::serialize(*env), {a->public_key(), b->public_key()}, 2, "root");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::threshold_not_met);
  CHECK_THAT(r.error().message, Catch::Contains("signed by 1 of the required 2"));
}

TEST_CASE("one key's signature under two keyids is counted once", "[tuf][signature][threshold]") {
  auto a = make_key(), b = make_key();
  auto env = dsse::sign(std::string(dsse::tuf_payload_type), "{}", {a.get()});
  REQUIRE(env);
  env->signatures.push_back({b->public_key().keyid(), env->signatures[0].sig});
  env->signatures.push_back({"not-a-keyid", env->signatures[0].sig});
  auto r = verify_envelope(dsse::serialize(*env), {a->public_key(), b->public_key()}, 2, "root");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::threshold_not_met);
  CHECK_THAT(r.error().message, Catch::Contains("3 signature(s) present"));
}

TEST_CASE("an envelope with another payloadType is refused even if validly signed",
          "[tuf][signature]") {
  auto a = make_key();
  auto env = dsse::sign("application/vnd.in-toto+json", "{}", {a.get()});
  REQUIRE(env);
  auto r = verify_envelope(dsse::serialize(*env), {a->public_key()}, 1, "targets");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::bad_signature);
  CHECK_THAT(r.error().message, Catch::Contains("payloadType"));

  SECTION("swapping the type of a TUF envelope breaks its signature") {
    auto tuf_env = dsse::sign(std::string(dsse::tuf_payload_type), "{}", {a.get()});
    REQUIRE(tuf_env);
    tuf_env->payload_type = "application/vnd.in-toto+json";
    auto swapped = dsse::serialize(*tuf_env);
    auto s = verify_envelope(swapped, {a->public_key()}, 1, "targets");
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::bad_signature);
  }
}

TEST_CASE("a bit flip in the payload invalidates the signature", "[tuf][signature]") {
  auto a = make_key();
  auto env = dsse::sign(std::string(dsse::tuf_payload_type), "{\"version\":1}", {a.get()});
  REQUIRE(env);
  env->payload[11] = static_cast<char>(env->payload[11] ^ 0x01);
  auto r = verify_envelope(dsse::serialize(*env), {a->public_key()}, 1, "timestamp");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::threshold_not_met);
}

TEST_CASE("a threshold of 0 never verifies", "[tuf][signature][threshold]") {
  auto env = sign_metadata("{}", {});
  REQUIRE(env);
  auto r = verify_envelope(*env, {}, 0, "root");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::threshold_not_met);
}

TEST_CASE("verify_role uses the keys and threshold the root assigns", "[tuf][signature]") {
  Keys k;
  const RootMetadata root = make_root(k);
  auto by_one = sign_metadata("{}", {k.root1.get()});
  auto by_two = sign_metadata("{}", {k.root1.get(), k.root2.get()});
  REQUIRE(by_one);
  REQUIRE(by_two);
  CHECK_FALSE(verify_role(*by_one, root, Role::root));
  CHECK(verify_role(*by_two, root, Role::root));
  CHECK_FALSE(verify_role(*by_two, root, Role::timestamp));
}

// ---- delegations (docs/manifest-format.md §4.5) ------------------------------------------------

namespace {

TargetsMetadata with_delegation(const KeyPtr& key) {
  TargetsMetadata t = one_target();
  Delegations d;
  d.keys.emplace(key->public_key().keyid(), key->public_key());
  DelegatedRole r;
  r.name = "bins-0";
  r.keyids = {key->public_key().keyid()};
  r.threshold = 1;
  r.path_hash_prefixes = {"0", "1"};
  r.terminating = true;
  d.roles.push_back(r);
  t.delegations = d;
  return t;
}

// Parses `t` serialised and edited by `edit` on its delegations object.
Result<TargetsMetadata> parse_edited(const TargetsMetadata& t,
                                     const std::function<void(json::Json&)>& edit) {
  json::Json doc = to_json(t);
  edit(doc["delegations"]);
  return parse_targets(dump(doc));
}

}  // namespace

TEST_CASE("targets metadata with delegations round-trips", "[tuf][metadata][delegation]") {
  const auto key = make_key();
  const TargetsMetadata t = with_delegation(key);
  auto parsed = parse_targets(serialize(t));
  REQUIRE(parsed);
  REQUIRE(parsed->delegations);
  CHECK(*parsed->delegations == *t.delegations);
  CHECK(parsed->delegations->keys_for(parsed->delegations->roles[0]) ==
        std::vector<crypto::PublicKey>{key->public_key()});
  // Without delegations there is none.
  auto plain = parse_targets(serialize(one_target()));
  REQUIRE(plain);
  CHECK_FALSE(plain->delegations);
}

TEST_CASE("delegations are parsed strictly", "[tuf][metadata][delegation]") {
  const auto key = make_key();
  const TargetsMetadata t = with_delegation(key);
  const auto refused = [&](const std::function<void(json::Json&)>& edit, Errc code,
                           std::string_view needle) {
    auto r = parse_edited(t, edit);
    REQUIRE_FALSE(r);
    INFO(r.error().message);
    CHECK(code_name(r.error().code) == code_name(code));
    CHECK_THAT(r.error().message, Catch::Contains(std::string(needle)));
  };
  auto role = [](json::Json& d) -> json::Json& { return d["roles"][0]; };
  refused([&](json::Json& d) { role(d).erase("terminating"); }, Errc::schema_error, "terminating");
  refused([&](json::Json& d) { role(d)["terminating"] = 1; }, Errc::schema_error,
          "expected true or false");
  refused([&](json::Json& d) { role(d).erase("threshold"); }, Errc::schema_error, "threshold");
  refused([&](json::Json& d) { role(d)["threshold"] = 2; }, Errc::schema_error,
          "exceeds the 1 distinct key(s)");
  refused([&](json::Json& d) { role(d)["threshold"] = 0; }, Errc::schema_error, "must be >= 1");
  refused([&](json::Json& d) { role(d)["keyids"] = json::Json::array({std::string(64, 'a')}); },
          Errc::schema_error, "is not in signed.delegations.keys");
  refused([&](json::Json& d) { role(d)["paths"] = json::Json::array({"models/*"}); },
          Errc::schema_error, "exactly one of path_hash_prefixes and paths");
  refused([&](json::Json& d) { role(d).erase("path_hash_prefixes"); }, Errc::schema_error,
          "exactly one of path_hash_prefixes and paths");
  refused([&](json::Json& d) { role(d)["path_hash_prefixes"] = json::Json::array({"0A"}); },
          Errc::schema_error, "invalid entry");
  refused([&](json::Json& d) { role(d)["path_hash_prefixes"] = json::Json::array(); },
          Errc::too_large, "expected 1 to 4096 entries");
  refused(
      [&](json::Json& d) {
        role(d).erase("path_hash_prefixes");
        role(d)["paths"] = json::Json::array({"../*"});
      },
      Errc::schema_error, "invalid entry");
  for (const std::string& name :
       std::vector<std::string>{"targets", "root", "", "Bins", "a/b", "-x", std::string(65, 'a')}) {
    refused([&](json::Json& d) { role(d)["name"] = name; }, Errc::schema_error, "role name");
  }
  refused([&](json::Json& d) { d["roles"].push_back(d["roles"][0]); }, Errc::schema_error,
          "delegated twice");
  refused(
      [&](json::Json& d) {
        const auto other = make_key();
        d["keys"][key->public_key().keyid()]["keyval"]["public"] = other->public_key().hex();
      },
      Errc::schema_error, "does not match its key");
  refused(
      [&](json::Json& d) {
        json::Json many = json::Json::array();
        for (std::size_t i = 0; i <= max_delegated_roles_listed; ++i) many.push_back(d["roles"][0]);
        d["roles"] = many;
      },
      Errc::too_large, "roles, at most 4096");
}

TEST_CASE("snapshot meta names delegated roles by <role>.json", "[tuf][metadata][delegation]") {
  SnapshotMetadata s{2, t0(), MetaFile{3, 10, crypto::sha256_hex("y")}, {}};
  s.delegated.emplace("bins-00", MetaFile{4, 20, crypto::sha256_hex("z")});
  auto parsed = parse_snapshot(serialize(s));
  REQUIRE(parsed);
  CHECK(parsed->delegated == s.delegated);
  json::Json doc = to_json(s);
  doc["meta"]["Bad Name.json"] = doc["meta"]["bins-00.json"];
  CHECK_FALSE(parse_snapshot(dump(doc)));
  doc = to_json(s);
  doc["meta"]["bins-01"] = doc["meta"]["bins-00.json"];
  CHECK_FALSE(parse_snapshot(dump(doc)));
}

TEST_CASE("delegation path patterns: '*' and '?' never cross a '/'",
          "[tuf][metadata][delegation]") {
  CHECK(path_pattern_matches("models/*", "models/x"));
  CHECK_FALSE(path_pattern_matches("models/*", "models/org/x"));
  CHECK(path_pattern_matches("models/*/*/*.release.json", "models/org/m/r1.release.json"));
  CHECK_FALSE(path_pattern_matches("models/*/*/*.release.json", "models/org/m/r1.torrent"));
  CHECK(path_pattern_matches("models/org/m?/*", "models/org/m2/x"));
  CHECK_FALSE(path_pattern_matches("models/org/m?/*", "models/org/m/x"));
  CHECK_FALSE(path_pattern_matches("a?b", "a/b"));
  CHECK(path_pattern_matches("*", "anything"));
  CHECK_FALSE(path_pattern_matches("*", "a/b"));
  CHECK(path_pattern_matches("a*b*c", "aXbYbZc"));
  CHECK_FALSE(path_pattern_matches("a*/c", "ab/x/c"));
}

TEST_CASE("a catalog target is catalog/<family>.toml with custom {kind} only", "[tuf][catalog]") {
  const json::Json entry = {{"length", 10},
                            {"hashes", {{"sha256", std::string(64, 'a')}}},
                            {"custom", {{"kind", "catalog"}}}};
  auto t = parse_target_entry("catalog/gemma-4.toml", entry);
  REQUIRE(t);
  CHECK(t->kind == TargetKind::catalog);
  CHECK(t->model.empty());
  CHECK(target_entry_json(*t) == entry);
  CHECK(catalog_target_family("catalog/gemma-4.toml") == "gemma-4");
  CHECK(catalog_target_path("qwen") == "catalog/qwen.toml");
  for (const char* path : {"catalog/Gemma.toml", "catalog/.x.toml", "catalog/a/b.toml",
                           "catalog/x.json", "models/x.toml", "catalog/.toml"}) {
    INFO(path);
    CHECK_FALSE(catalog_target_family(path));
    CHECK_FALSE(parse_target_entry(path, entry));
  }
  json::Json with_model = entry;
  with_model["custom"]["model"] = "org/name";
  auto refused = parse_target_entry("catalog/x.toml", with_model);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("only \"kind\"") != std::string::npos);
}
