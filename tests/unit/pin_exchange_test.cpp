#include "core/upstream/pin_exchange.hpp"

#include <atomic>
#include <cctype>
#include <map>
#include <string>
#include <utility>

#include <boost/asio/ip/address.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/util/crypto.hpp"
#include "core/util/encoding.hpp"
#include "core/util/json.hpp"
#include "support/git_repo.hpp"
#include "support/http_test_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::upstream;
using weights::testing::LibGit2Repo;
using weights::testing::make_model;
using weights::testing::SourceRepo;
using weights::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string hash_a(64, 'a');

UpstreamPin pin_of(const std::string& repo, const std::string& commit) {
  auto pin = canonical_pin("huggingface", repo, commit);
  REQUIRE(pin);
  return *pin;
}

PinOffer sample_offer() {
  PinOffer o;
  o.pin = pin_of("org/model", "0123456789abcdef0123456789abcdef01234567");
  o.info_hash_v2 = hash_a;
  o.objects_sha256 = std::string(64, 'b');
  o.objects_size = 1234;
  o.bt_port = 6881;
  return o;
}

// The sample offer as JSON with field `key` replaced by `value` (raw JSON), or removed when
// `value` is empty.
std::string offer_with(const std::string& key, const std::string& value) {
  auto j = json::parse_strict(render_offer(sample_offer()));
  REQUIRE(j);
  if (value.empty()) {
    j->erase(key);
  } else {
    (*j)[key] = json::Json::parse(value);
  }
  return json::dump_compact(*j);
}

// A node's held pins by key.
class MapSource : public PinSource {
 public:
  void add(const RendezvousKey& key, HeldPin held) { pins_[key] = std::move(held); }
  std::optional<HeldPin> find(const RendezvousKey& key) const override {
    const auto it = pins_.find(key);
    if (it == pins_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<RendezvousKey, HeldPin> pins_;
};

// A repository with the standard model and a later commit; their bundles.
struct Model {
  TempDir tmp;
  SourceRepo src{tmp / "repo"};
  std::string commit;
  std::string bundle;
  std::string other_commit;
  std::string other_bundle;
  UpstreamPin pin;
  Model() {
    commit = make_model(src);
    src.write("config.json", "{\"model_type\": \"later\"}\n");
    other_commit = src.commit_all("later");
    LibGit2Repo repo(src.dir());
    auto b = write_git_bundle(repo.get(), commit);
    REQUIRE(b);
    bundle = *b;
    auto o = write_git_bundle(repo.get(), other_commit);
    REQUIRE(o);
    other_bundle = *o;
    pin = pin_of("org/model", commit);
  }
  PinOffer offer() const { return {pin, hash_a, crypto::sha256_hex(bundle), bundle.size(), 6881}; }
  HeldPin held() const { return {pin, hash_a, 6881, {}, bundle, std::nullopt}; }
};

units::Endpoint loopback(std::uint16_t port) {
  return {boost::asio::ip::make_address("127.0.0.1"), port};
}

HttpOptions quick() {
  HttpOptions o;
  o.connect_timeout = std::chrono::milliseconds(5000);
  o.read_timeout = std::chrono::milliseconds(5000);
  o.deadline = std::chrono::milliseconds(20000);
  return o;
}

PinFetchOptions quick_pin() {
  return PinFetchOptions{quick(), quick()};
}

// The response as bytes; a 3xx redirects to the URL in its body.
std::string http_answer(const PinResponse& r) {
  if (r.status / 100 == 3) {
    return fmt::format(
        "HTTP/1.1 {} X\r\nLocation: {}\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n",
        r.status, r.body);
  }
  return fmt::format(
      "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
      "Connection: close\r\n\r\n{}",
      r.status, r.content_type, r.body.size(), r.body);
}

// A pin exchange server on loopback: handle_pin_request over `source`, with `tamper` given the
// chance to change each answer (a hostile holder).
struct ExchangeServer {
  using Tamper = std::function<void(const PinPath&, PinResponse&)>;
  ExchangeServer(const PinSource& source, Tamper tamper = {})
      : server([&source, tamper](testing::Conn& conn, const std::string& path,
                                 const std::string& request) {
          PinResponse r = handle_pin_request(request.substr(0, request.find(' ')), path, source);
          if (auto p = parse_pin_path(path); p && tamper) tamper(*p, r);
          conn.send(http_answer(r));
        }) {}
  units::Endpoint endpoint() const { return loopback(server.port()); }
  testing::Server server;
};

}  // namespace

TEST_CASE("an offer renders to sorted compact JSON and reads back to the same offer",
          "[pin_exchange]") {
  const PinOffer o = sample_offer();
  const std::string text = render_offer(o);
  CHECK(text == fmt::format(R"({{"bt_port":6881,"commit":"{}","info_hash_v2":"{}",)"
                            R"("objects_sha256":"{}","objects_size":1234,"repo":"org/model",)"
                            R"("rule":"weightsd-pin/1","upstream":"huggingface"}})",
                            o.pin.commit, o.info_hash_v2, o.objects_sha256));
  auto back = parse_offer(text);
  REQUIRE(back);
  CHECK(*back == o);
}

TEST_CASE("an offer that is not exactly the documented object is refused, naming the field",
          "[pin_exchange]") {
  struct Case {
    std::string body;
    Errc code;
    std::string says;
  };
  const std::vector<Case> cases = {
      {std::string(max_pin_offer_bytes + 1, ' '), Errc::too_large, "offer"},
      {"not json", Errc::parse_error, "offer"},
      {"[1]", Errc::schema_error, "expected a JSON object"},
      {offer_with("extra", "1"), Errc::schema_error, "unknown field \"extra\""},
      {offer_with("bt_port", ""), Errc::schema_error, "offer.bt_port: missing"},
      {offer_with("objects_sha256", ""), Errc::schema_error, "offer.objects_sha256: missing"},
      {offer_with("rule", "\"weightsd-pin/2\""), Errc::schema_error, "offer.rule"},
      {offer_with("rule", "1"), Errc::schema_error, "offer.rule"},
      {offer_with("upstream", "\"Hugging Face\""), Errc::schema_error, "upstream"},
      {offer_with("repo", "\"Org/Model\""), Errc::schema_error, "canonical"},
      {offer_with("repo", "\"org\""), Errc::schema_error, "repo"},
      {offer_with("repo", "\"org/../x\""), Errc::schema_error, "repo"},
      {offer_with("commit", "\"0123456789ABCDEF0123456789abcdef01234567\""), Errc::schema_error,
       "canonical"},
      {offer_with("commit", "\"0123456\""), Errc::schema_error, "commit"},
      {offer_with("info_hash_v2", "\"" + std::string(64, 'A') + "\""), Errc::schema_error,
       "offer.info_hash_v2"},
      {offer_with("info_hash_v2", "\"" + std::string(40, 'a') + "\""), Errc::schema_error,
       "offer.info_hash_v2"},
      {offer_with("objects_sha256", "\"" + std::string(63, 'a') + "g\""), Errc::schema_error,
       "offer.objects_sha256"},
      {offer_with("objects_size", "0"), Errc::schema_error, "offer.objects_size"},
      {offer_with("objects_size", std::to_string(max_git_bundle_bytes + 1)), Errc::schema_error,
       "offer.objects_size"},
      {offer_with("objects_size", "12.0"), Errc::schema_error, "offer.objects_size"},
      {offer_with("objects_size", "\"12\""), Errc::schema_error, "offer.objects_size"},
      {offer_with("bt_port", "0"), Errc::schema_error, "offer.bt_port"},
      {offer_with("bt_port", "65536"), Errc::schema_error, "offer.bt_port"},
      {offer_with("bt_port", "-1"), Errc::schema_error, "offer.bt_port"},
      {R"({"rule":"weightsd-pin/1","rule":"weightsd-pin/1"})", Errc::parse_error, "offer"},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    auto got = parse_offer(c.body);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == c.code);
    CHECK_THAT(got.error().message, Catch::Contains(c.says));
  }
}

TEST_CASE("a pin exchange target parses to its key and resource, and only its one spelling",
          "[pin_exchange]") {
  const RendezvousKey key = pin_rendezvous_key(sample_offer().pin);
  const std::string hex = key_hex(key);
  CHECK(hex.size() == 40);
  CHECK(pin_target(key, PinResource::offer) == "/weightsd-pin/1/" + hex);
  CHECK(pin_target(key, PinResource::objects) == "/weightsd-pin/1/" + hex + "/objects");
  for (auto resource : {PinResource::offer, PinResource::objects}) {
    auto back = parse_pin_path(pin_target(key, resource));
    REQUIRE(back);
    CHECK(*back == PinPath{key, resource});
  }
  std::string upper = hex;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const std::string base = "/weightsd-pin/1/" + hex;
  const std::vector<std::string> refused = {
      "",
      "/",
      "/weightsd-pin/1/",
      "/weightsd-pin/2/" + hex,
      "/weightsd-pin/1/" + hex.substr(1),
      "/weightsd-pin/1/" + hex + "0",
      "/weightsd-pin/1/" + upper,
      "/weightsd-pin/1/" + hex.substr(0, 39) + "g",
      base + "/",
      base + "?x=1",
      base + "#f",
      base + "/objects/",
      base + "/objects?x",
      base + "/objectsx",
      base + "/Objects",
      base + "/../" + hex,
      base + "/./objects",
      base + "//objects",
      "/weightsd-pin/1/%30" + hex.substr(1),
      "/weightsd-pin//1/" + hex,
      "weightsd-pin/1/" + hex,
      "http://host/weightsd-pin/1/" + hex,
      base + "/objects" + std::string(300, 'x'),
  };
  for (const auto& t : refused) {
    INFO(t);
    auto got = parse_pin_path(t);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Errc::parse_error);
  }
}

TEST_CASE("the handler serves a held pin's offer and objects, and says why it serves nothing",
          "[pin_exchange]") {
  Model m;
  const RendezvousKey key = pin_rendezvous_key(m.pin);
  MapSource source;
  source.add(key, m.held());

  SECTION("the offer describes the bundle /objects sends") {
    auto r = handle_pin_request("GET", pin_target(key, PinResource::offer), source);
    CHECK(r.status == 200);
    CHECK(r.content_type == "application/json");
    auto offer = parse_offer(r.body);
    REQUIRE(offer);
    CHECK(*offer == m.offer());
    auto objects = handle_pin_request("GET", pin_target(key, PinResource::objects), source);
    CHECK(objects.status == 200);
    CHECK(objects.content_type == "application/octet-stream");
    CHECK(objects.body == m.bundle);
    auto tree = verify_pin_offer(m.pin, *offer, objects.body);
    REQUIRE(tree);
    CHECK(tree->commit == m.commit);
  }
  SECTION("the bundle is read from its file") {
    const fs::path file = m.tmp / "objects" / m.commit;
    weights::testing::write_text(file, m.bundle);
    HeldPin held = m.held();
    held.objects.reset();
    held.objects_path = file;
    source.add(key, held);
    auto r = handle_pin_request("GET", pin_target(key, PinResource::offer), source);
    CHECK(r.status == 200);
    CHECK(parse_offer(r.body).value() == m.offer());
    CHECK(handle_pin_request("GET", pin_target(key, PinResource::objects), source).body ==
          m.bundle);
    fs::remove(file);
    for (auto res : {PinResource::offer, PinResource::objects}) {
      auto gone = handle_pin_request("GET", pin_target(key, res), source);
      CHECK(gone.status == 404);
      CHECK_THAT(gone.body, Catch::Contains("git objects"));
    }
  }
  SECTION("a known digest answers the offer without reading the bundle") {
    HeldPin held = m.held();
    held.objects.reset();
    held.objects_path = m.tmp / "no-such-bundle";
    held.objects_digest = BundleDigest{m.bundle.size(), crypto::sha256_hex(m.bundle)};
    source.add(key, held);
    auto r = handle_pin_request("GET", pin_target(key, PinResource::offer), source);
    CHECK(r.status == 200);
    CHECK(parse_offer(r.body).value() == m.offer());
    CHECK(handle_pin_request("GET", pin_target(key, PinResource::objects), source).status == 404);
  }
  SECTION("another key, another path, a bad target, another method") {
    const RendezvousKey other = pin_rendezvous_key(pin_of("org/other", m.commit));
    CHECK(handle_pin_request("GET", pin_target(other, PinResource::offer), source).status == 404);
    CHECK(handle_pin_request("GET", "/metrics", source).status == 404);
    auto bad = handle_pin_request("GET", pin_target(key, PinResource::offer) + "?a", source);
    CHECK(bad.status == 400);
    CHECK(bad.content_type.starts_with("text/plain"));
    CHECK(handle_pin_request("POST", pin_target(key, PinResource::offer), source).status == 405);
    CHECK(handle_pin_request("HEAD", pin_target(key, PinResource::offer), source).status == 405);
  }
  SECTION("a source that answers with another key's pin is not believed") {
    const RendezvousKey other = pin_rendezvous_key(pin_of("org/other", m.commit));
    source.add(other, m.held());
    CHECK(handle_pin_request("GET", pin_target(other, PinResource::offer), source).status == 500);
  }
}

TEST_CASE("the bundle digest cache hashes a file once while its size and time are unchanged",
          "[pin_exchange]") {
  TempDir tmp;
  const fs::path file = tmp.path() / "bundle";
  weights::testing::write_text(file, "first bundle");
  const BundleDigestCache cache;
  const auto first = cache.get(file);
  REQUIRE(first);
  CHECK(*first == BundleDigest{12, crypto::sha256_hex("first bundle")});
  // Same size, same time: the cached digest, so the file was not read again.
  const auto time = fs::last_write_time(file);
  weights::testing::write_text(file, "other bundle");
  fs::last_write_time(file, time);
  CHECK(cache.get(file).value() == *first);
  // Another size (or time): hashed again.
  weights::testing::write_text(file, "a longer bundle");
  CHECK(cache.get(file).value() == BundleDigest{15, crypto::sha256_hex("a longer bundle")});
  fs::remove(file);
  auto gone = cache.get(file);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == Errc::not_found);
}

TEST_CASE("verify_pin_offer names exactly what is wrong with a peer's answer", "[pin_exchange]") {
  Model m;
  SECTION("an honest answer yields the commit's tree") {
    auto tree = verify_pin_offer(m.pin, m.offer(), m.bundle);
    REQUIRE(tree);
    LibGit2Repo repo(m.src.dir());
    CHECK(*tree == read_pinned_tree(repo.get(), m.commit).value());
  }
  SECTION("an offer for another commit") {
    PinOffer o = m.offer();
    o.pin = pin_of("org/model", m.other_commit);
    auto got = verify_pin_offer(m.pin, o, m.bundle);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Errc::wrong_target);
    CHECK_THAT(got.error().message, Catch::Contains("offer is for commit " + m.other_commit));
  }
  SECTION("an offer for another repository (another key)") {
    PinOffer o = m.offer();
    o.pin = pin_of("evil/model", m.commit);
    auto got = verify_pin_offer(m.pin, o, m.bundle);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Errc::wrong_target);
    CHECK_THAT(got.error().message, Catch::Contains("evil/model"));
    CHECK_THAT(got.error().message, Catch::Contains(key_hex(pin_rendezvous_key(m.pin))));
  }
  SECTION("objects of another size or SHA-256 than offered") {
    auto shorter = verify_pin_offer(m.pin, m.offer(), m.bundle.substr(1));
    REQUIRE_FALSE(shorter);
    CHECK(shorter.error().code == Errc::length_mismatch);
    std::string changed = m.bundle;
    changed.back() ^= 1;
    auto sha = verify_pin_offer(m.pin, m.offer(), changed);
    REQUIRE_FALSE(sha);
    CHECK(sha.error().code == Errc::hash_mismatch);
  }
  SECTION("a consistent offer whose objects are another commit's") {
    PinOffer o = m.offer();
    o.objects_sha256 = crypto::sha256_hex(m.other_bundle);
    o.objects_size = m.other_bundle.size();
    auto got = verify_pin_offer(m.pin, o, m.other_bundle);
    REQUIRE_FALSE(got);
    CHECK_THAT(got.error().message, Catch::Contains("objects are not commit " + m.commit));
  }
}

TEST_CASE("a fetcher gets a verified pin from an honest holder over loopback", "[pin_exchange]") {
  Model m;
  MapSource source;
  source.add(pin_rendezvous_key(m.pin), m.held());
  ExchangeServer holder(source);
  auto got = fetch_verified_pin(holder.endpoint(), m.pin, quick_pin());
  REQUIRE(got);
  CHECK(got->offer == m.offer());
  CHECK(got->objects == m.bundle);
  CHECK(got->tree.commit == m.commit);
  CHECK(got->tree.files.size() == 4);
  CHECK(pin_url(holder.endpoint(), pin_rendezvous_key(m.pin), PinResource::objects) ==
        fmt::format("http://127.0.0.1:{}/weightsd-pin/1/{}/objects", holder.server.port(),
                    key_hex(pin_rendezvous_key(m.pin))));
  CHECK(pin_url({boost::asio::ip::make_address("::1"), 7000}, pin_rendezvous_key(m.pin),
                PinResource::offer) ==
        "http://[::1]:7000/weightsd-pin/1/" + key_hex(pin_rendezvous_key(m.pin)));
}

TEST_CASE("a hostile holder is refused with the reason, naming the peer", "[pin_exchange]") {
  Model m;
  const RendezvousKey key = pin_rendezvous_key(m.pin);
  MapSource source;
  source.add(key, m.held());
  const std::string peer_prefix = "peer 127.0.0.1:";

  auto fetch_from = [&](ExchangeServer::Tamper tamper) {
    ExchangeServer holder(source, std::move(tamper));
    return fetch_verified_pin(holder.endpoint(), m.pin, quick_pin());
  };

  SECTION("holds nothing") {
    MapSource empty;
    ExchangeServer holder(empty);
    auto got = fetch_verified_pin(holder.endpoint(), m.pin, quick_pin());
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Errc::not_found);
    CHECK_THAT(got.error().message, Catch::StartsWith(peer_prefix));
  }
  SECTION("an offer larger than 4 KiB") {
    auto got = fetch_from([](const PinPath& p, PinResponse& r) {
      if (p.resource == PinResource::offer) r.body += std::string(max_pin_offer_bytes, ' ');
    });
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Errc::too_large);
  }
  SECTION("an offer for another key: the objects are never asked for") {
    std::atomic<int> object_requests{0};
    auto got = fetch_from([&](const PinPath& p, PinResponse& r) {
      if (p.resource == PinResource::objects) ++object_requests;
      if (p.resource != PinResource::offer) return;
      PinOffer o = m.offer();
      o.pin = pin_of("evil/model", m.commit);
      r.body = render_offer(o);
    });
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Errc::wrong_target);
    CHECK_THAT(got.error().message, Catch::Contains("evil/model"));
    CHECK(object_requests == 0);
  }
  SECTION("more objects than offered: refused as they arrive") {
    auto got = fetch_from([](const PinPath& p, PinResponse& r) {
      if (p.resource == PinResource::objects) r.body += std::string(1 << 20, 'x');
    });
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Errc::too_large);
    CHECK_THAT(got.error().message, Catch::StartsWith(peer_prefix));
  }
  SECTION("objects with another SHA-256 than offered") {
    auto got = fetch_from([](const PinPath& p, PinResponse& r) {
      if (p.resource == PinResource::objects) r.body.back() ^= 1;
    });
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Errc::hash_mismatch);
  }
  SECTION("the bundle of another commit, offered consistently") {
    auto got = fetch_from([&](const PinPath& p, PinResponse& r) {
      if (p.resource == PinResource::objects) {
        r.body = m.other_bundle;
      } else {
        PinOffer o = m.offer();
        o.objects_sha256 = crypto::sha256_hex(m.other_bundle);
        o.objects_size = m.other_bundle.size();
        r.body = render_offer(o);
      }
    });
    REQUIRE_FALSE(got);
    CHECK_THAT(got.error().message, Catch::Contains("objects are not commit " + m.commit));
  }
  SECTION("a redirect, even to an honest holder, is not followed") {
    ExchangeServer honest(source);
    auto got = fetch_from([&](const PinPath& p, PinResponse& r) {
      r.status = 302;
      r.body = pin_url(honest.endpoint(), key, p.resource);
    });
    REQUIRE_FALSE(got);
    CHECK_THAT(got.error().message, Catch::StartsWith(peer_prefix));
  }
}

TEST_CASE("the objects' deadline grows with the size the offer names, from a fixed base",
          "[pin_exchange]") {
  PinFetchOptions o;
  o.objects_base = std::chrono::seconds(10);
  o.objects_rate = 64 * 1024;
  CHECK(pin_objects_deadline(o, 1) == std::chrono::milliseconds(10001));
  CHECK(pin_objects_deadline(o, 64 * 1024) == std::chrono::seconds(11));
  CHECK(pin_objects_deadline(o, 64ull << 20) == std::chrono::seconds(10 + 1024));
  // A size over the bundle limit (parse_offer refuses it) counts as the limit.
  CHECK(pin_objects_deadline(o, ~0ull) == pin_objects_deadline(o, max_git_bundle_bytes));
}
