#include "core/trust/dsse.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using weights::base64_encode;
using weights::Errc;
using weights::crypto::PrivateKey;
using weights::crypto::PublicKey;
using namespace weights::dsse;

namespace {

const std::string kPayload = R"({"_type":"timestamp","version":1})";

struct Keys {
  PrivateKey a = PrivateKey::generate().value();
  PrivateKey b = PrivateKey::generate().value();
  PrivateKey outsider = PrivateKey::generate().value();
};

std::string b64(std::string_view s) {
  return base64_encode(weights::as_bytes(s));
}

std::string sig64() {
  return base64_encode(std::vector<std::uint8_t>(64, 7));
}

}  // namespace

TEST_CASE("PAE matches the DSSE specification", "[dsse]") {
  CHECK(pae("http://example.com/HelloWorld", "hello world") ==
        "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  CHECK(pae("", "") == "DSSEv1 0  0 ");
  // Lengths are bytes, not characters.
  CHECK(pae("t", "\xc3\xa9") == "DSSEv1 1 t 2 \xc3\xa9");
}

TEST_CASE("sign, serialize, parse and verify round-trip", "[dsse]") {
  Keys k;
  auto env = sign(std::string(tuf_payload_type), kPayload, {&k.a, &k.b});
  REQUIRE(env);
  REQUIRE(env->signatures.size() == 2);
  CHECK(env->signatures[0].keyid == k.a.public_key().keyid());

  const std::string wire = serialize(*env);
  CHECK(wire.find(' ') == std::string::npos);
  auto parsed = parse(wire);
  REQUIRE(parsed);
  CHECK(parsed->payload_type == tuf_payload_type);
  CHECK(parsed->payload == kPayload);
  CHECK(serialize(*parsed) == wire);

  auto keys = verified_keys(*parsed, {k.a.public_key(), k.b.public_key()});
  CHECK(keys == std::set<PublicKey>{k.a.public_key(), k.b.public_key()});
  CHECK(verified_keys(*parsed, {k.b.public_key()}) == std::set<PublicKey>{k.b.public_key()});
  CHECK(verified_keys(*parsed, {}).empty());
  CHECK(verified_keys(*parsed, {k.outsider.public_key()}).empty());
}

TEST_CASE("a duplicated signature counts once", "[dsse]") {
  Keys k;
  auto env = sign("t", kPayload, {&k.a, &k.a, &k.a}).value();
  env.signatures.push_back(env.signatures[0]);
  auto keys = verified_keys(env, {k.a.public_key(), k.b.public_key()});
  CHECK(keys.size() == 1);
  // Listing the same allowed key twice does not help either.
  CHECK(verified_keys(env, {k.a.public_key(), k.a.public_key()}).size() == 1);
}

TEST_CASE("the same key under two keyids counts once", "[dsse]") {
  Keys k;
  auto env = sign("t", kPayload, {&k.a, &k.a}).value();
  env.signatures[0].keyid = "";
  env.signatures[1].keyid = "ffff";
  auto parsed = parse(serialize(env)).value();
  CHECK(verified_keys(parsed, {k.a.public_key(), k.b.public_key()}).size() == 1);
}

TEST_CASE("keyids are hints only: wrong or missing hints still verify", "[dsse]") {
  Keys k;
  auto env = sign("t", kPayload, {&k.a}).value();
  const std::vector<PublicKey> allowed{k.a.public_key(), k.b.public_key()};
  env.signatures[0].keyid = "not-a-keyid";
  CHECK(verified_keys(env, allowed).size() == 1);
  env.signatures[0].keyid.clear();
  CHECK(verified_keys(env, allowed).size() == 1);
  // A hint naming another allowed key restricts the attempt to that key.
  env.signatures[0].keyid = k.b.public_key().keyid();
  CHECK(verified_keys(env, allowed).empty());
  // An outsider's signature under an allowed key's keyid is not counted.
  auto forged = sign("t", kPayload, {&k.outsider}).value();
  forged.signatures[0].keyid = k.a.public_key().keyid();
  CHECK(verified_keys(forged, allowed).empty());
}

TEST_CASE("a signature from a key that is not allowed is ignored", "[dsse]") {
  Keys k;
  auto env = sign("t", kPayload, {&k.outsider, &k.a}).value();
  CHECK(verified_keys(env, {k.a.public_key()}) == std::set<PublicKey>{k.a.public_key()});
  CHECK(verified_keys(env, {k.b.public_key()}).empty());
}

TEST_CASE("changing payloadType or any payload bit invalidates signatures", "[dsse]") {
  Keys k;
  const std::vector<PublicKey> allowed{k.a.public_key()};
  auto env = sign(std::string(tuf_payload_type), kPayload, {&k.a}).value();
  REQUIRE(verified_keys(env, allowed).size() == 1);

  auto swapped = env;
  swapped.payload_type = "application/vnd.in-toto+json";
  CHECK(verified_keys(swapped, allowed).empty());

  for (std::size_t bit = 0; bit < env.payload.size() * 8; bit += 5) {
    auto flipped = env;
    flipped.payload[bit / 8] = static_cast<char>(flipped.payload[bit / 8] ^ (1 << (bit % 8)));
    CHECK(verified_keys(flipped, allowed).empty());
  }
  auto truncated = env;
  truncated.payload.pop_back();
  CHECK(verified_keys(truncated, allowed).empty());
  auto extended = env;
  extended.payload += " ";
  CHECK(verified_keys(extended, allowed).empty());
  auto sig_flip = env;
  sig_flip.signatures[0].sig[10] ^= 1;
  CHECK(verified_keys(sig_flip, allowed).empty());
}

TEST_CASE("parse accepts well-formed envelopes and ignores unknown fields", "[dsse]") {
  const std::string sig = sig64();
  auto env = parse(R"({"payloadType":"t","payload":")" + b64("hi") +
                   R"(","signatures":[{"keyid":"k","sig":")" + sig + R"(","extra":1},{"sig":")" +
                   sig + R"("}],"unknown":{"x":[1]}})");
  REQUIRE(env);
  CHECK(env->payload == "hi");
  REQUIRE(env->signatures.size() == 2);
  CHECK(env->signatures[0].keyid == "k");
  CHECK(env->signatures[1].keyid.empty());

  auto empty = parse(R"({"payloadType":"t","payload":"","signatures":[]})");
  REQUIRE(empty);
  CHECK(empty->signatures.empty());
  CHECK(verified_keys(*empty, {PrivateKey::generate().value().public_key()}).empty());
}

TEST_CASE("parse rejects malformed envelopes", "[dsse]") {
  const std::string sig = sig64();
  const std::string p = b64("hi");
  struct Case {
    std::string text;
    Errc code;
  };
  const std::vector<Case> cases = {
      {"[]", Errc::schema_error},
      {"", Errc::parse_error},
      {R"({"payload":")" + p + R"(","signatures":[]})", Errc::schema_error},
      {R"({"payloadType":"t","signatures":[]})", Errc::schema_error},
      {R"({"payloadType":"t","payload":")" + p + R"("})", Errc::schema_error},
      {R"({"payloadType":1,"payload":")" + p + R"(","signatures":[]})", Errc::schema_error},
      {R"({"payloadType":"t","payload":null,"signatures":[]})", Errc::schema_error},
      {R"({"payloadType":"t","payload":")" + p + R"(","signatures":{}})", Errc::schema_error},
      {R"({"payloadType":"t","payload":"aGk","signatures":[]})", Errc::parse_error},
      {R"({"payloadType":"t","payload":"aGk=\n","signatures":[]})", Errc::parse_error},
      {R"({"payloadType":"t","payload":")" + p + R"(","signatures":["x"]})", Errc::schema_error},
      {R"({"payloadType":"t","payload":")" + p + R"(","signatures":[{"keyid":"k"}]})",
       Errc::schema_error},
      {R"({"payloadType":"t","payload":")" + p + R"(","signatures":[{"keyid":1,"sig":")" + sig +
           R"("}]})",
       Errc::schema_error},
      {R"({"payloadType":"t","payload":")" + p + R"(","signatures":[{"sig":")" +
           base64_encode(std::vector<std::uint8_t>(63, 1)) + R"("}]})",
       Errc::schema_error},
      {R"({"payloadType":"t","payload":")" + p + R"(","signatures":[{"sig":")" +
           base64_encode(std::vector<std::uint8_t>(65, 1)) + R"("}]})",
       Errc::schema_error},
      {R"({"payloadType":"t","payload":")" + p + R"(","signatures":[{"sig":"!!"}]})",
       Errc::parse_error},
      // Duplicate fields: which payload would be meant?
      {R"({"payloadType":"t","payload":")" + p + R"(","payload":"","signatures":[]})",
       Errc::parse_error},
      {R"({"payloadType":"t","payload":")" + p + R"(","signatures":[]} )" + "x", Errc::parse_error},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto r = parse(c.text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == c.code);
  }
}

TEST_CASE("parse caps the number of signatures", "[dsse]") {
  std::string sigs;
  for (int i = 0; i < 5; ++i) sigs += std::string(i ? "," : "") + R"({"sig":")" + sig64() + "\"}";
  const std::string text = R"({"payloadType":"t","payload":"","signatures":[)" + sigs + "]}";
  CHECK(parse(text, 5));
  auto r = parse(text, 4);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::too_large);
}

TEST_CASE("an envelope holds at most 64 signatures (manifest-format.md section 2)", "[dsse]") {
  auto with = [](int n) {
    std::string sigs;
    for (int i = 0; i < n; ++i) sigs += std::string(i ? "," : "") + R"({"sig":")" + sig64() + "\"}";
    return R"({"payloadType":"t","payload":"","signatures":[)" + sigs + "]}";
  };
  CHECK(parse(with(64)));
  auto r = parse(with(65));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::too_large);
  CHECK_THAT(r.error().message, Catch::Contains("65 entries, limit is 64"));
}

TEST_CASE("sign refuses a null key", "[dsse]") {
  auto r = sign("t", "p", {nullptr});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::invalid_argument);
}

TEST_CASE("an envelope above the generic 16 MiB JSON limit parses (large targets)", "[dsse]") {
  Keys k;
  const std::string big(13u << 20, 'x');  // base64 makes the envelope ~17.3 MiB
  auto env = sign(std::string(tuf_payload_type), big, {&k.a});
  REQUIRE(env);
  const std::string wire = serialize(*env);
  REQUIRE(wire.size() > (16u << 20));
  auto parsed = parse(wire);
  REQUIRE(parsed);
  CHECK(parsed->payload.size() == big.size());
  CHECK(verified_keys(*parsed, {k.a.public_key()}) == std::set<PublicKey>{k.a.public_key()});
}
