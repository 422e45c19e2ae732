#include "core/util/crypto.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <sys/stat.h>

#include "core/util/atomic_file.hpp"
#include "support/temp_dir.hpp"

using weights::as_bytes;
using weights::Errc;
using weights::from_hex;
using weights::to_hex;
using namespace weights::crypto;

namespace {

// RFC 8032 section 7.1, TEST 1 and TEST 2, as PKCS#8 PEM (seed wrapped in the Ed25519 prefix
// 302e020100300506032b657004220420).
constexpr const char* kPem1 =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
constexpr const char* kPub1 = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr const char* kSig1 =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

constexpr const char* kPem2 =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIEzNCJso/5banbbDRuwRTg9bijGfNaumJNqM9u1PuKb7\n"
    "-----END PRIVATE KEY-----\n";
constexpr const char* kPub2 = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
constexpr const char* kSig2 =
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

weights::Bytes hex(std::string_view h) {
  return from_hex(h).value();
}

}  // namespace

TEST_CASE("sha256 matches the FIPS 180-2 vectors", "[crypto]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(to_hex(sha256(std::string_view("abc"))) == sha256_hex("abc"));
}

TEST_CASE("incremental hashing equals one-shot hashing", "[crypto]") {
  const std::string data(100000, 'x');
  Sha256Hasher h;
  h.update(as_bytes(std::string_view(data).substr(0, 1)));
  h.update({});
  h.update(as_bytes(std::string_view(data).substr(1, 4095)));
  h.update(as_bytes(std::string_view(data).substr(4096)));
  CHECK(h.finish() == sha256(data));
  Sha256Hasher empty;
  CHECK(to_hex(empty.finish()) == sha256_hex(""));
}

TEST_CASE("RFC 8032 test vectors sign and verify", "[crypto]") {
  struct Vector {
    const char* pem;
    const char* pub;
    std::string msg;
    const char* sig;
  };
  for (const Vector& v : {Vector{kPem1, kPub1, "", kSig1}, Vector{kPem2, kPub2, "\x72", kSig2}}) {
    INFO(v.pub);
    auto key = PrivateKey::from_pem(v.pem);
    REQUIRE(key);
    CHECK(key->public_key().hex() == v.pub);
    auto sig = key->sign(as_bytes(v.msg));
    REQUIRE(sig);
    CHECK(to_hex(*sig) == v.sig);  // Ed25519 is deterministic

    auto pub = public_key_from_hex(v.pub);
    REQUIRE(pub);
    CHECK(*pub == key->public_key());
    CHECK(verify(*pub, as_bytes(v.msg), hex(v.sig)));
    CHECK_FALSE(verify(*pub, as_bytes(v.msg + "x"), hex(v.sig)));
  }
}

TEST_CASE("verify rejects altered signatures, messages and keys", "[crypto]") {
  auto pub = public_key_from_hex(kPub2).value();
  const auto msg = as_bytes("\x72");
  const auto sig = hex(kSig2);
  for (std::size_t bit = 0; bit < sig.size() * 8; bit += 7) {
    auto bad = sig;
    bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    CHECK_FALSE(verify(pub, msg, bad));
  }
  CHECK_FALSE(verify(pub, as_bytes("\x73"), sig));
  CHECK_FALSE(verify(public_key_from_hex(kPub1).value(), msg, sig));
  // Wrong lengths never reach OpenSSL.
  CHECK_FALSE(verify(pub, msg, std::span(sig).first(63)));
  auto longer = sig;
  longer.push_back(0);
  CHECK_FALSE(verify(pub, msg, longer));
  CHECK_FALSE(verify(pub, msg, {}));
}

TEST_CASE("verify rejects non-canonical S (signature malleability)", "[crypto]") {
  // S + L, where L is the group order, verifies in lax implementations.
  auto pub = public_key_from_hex(kPub2).value();
  auto sig = hex(kSig2);
  const auto l = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  unsigned carry = 0;
  for (std::size_t i = 0; i < 32; ++i) {
    const unsigned sum = sig[32 + i] + l[i] + carry;
    sig[32 + i] = static_cast<std::uint8_t>(sum);
    carry = sum >> 8;
  }
  REQUIRE(carry == 0);
  CHECK_FALSE(verify(pub, as_bytes("\x72"), sig));
}

TEST_CASE("keyid is the SHA-256 of the fixed key JSON", "[crypto]") {
  // printf '%s' '{"keytype":"ed25519","keyval":{"public":"<hex>"},"scheme":"ed25519"}' | sha256sum
  CHECK(public_key_from_hex(kPub1).value().keyid() ==
        "74c181c7ad8a0855d4b55e44d2ba87aabdddb196832571f15f92fece332e4916");
  CHECK(public_key_from_hex(kPub2).value().keyid() ==
        "eaf1e23f6c823132f437a2eaa299a7950f7386631deff273db195bbd26209e2b");
}

TEST_CASE("public_key_from_hex is strict", "[crypto]") {
  for (std::string bad :
       {std::string(kPub1).substr(2), std::string(kPub1) + "00",
        std::string("D75A980182B10AB7D54BFED3C964073A0EE172F3DAA62325AF021A68F707511A"),
        std::string(kPub1).replace(0, 1, "g"), std::string()}) {
    INFO(bad);
    auto r = public_key_from_hex(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::parse_error);
  }
}

TEST_CASE("small-order and non-canonical public keys are refused", "[crypto]") {
  const std::string identity = "01" + std::string(62, '0');
  for (const std::string& bad : std::vector<std::string>{
           std::string(64, '0'),                                                // order 4
           identity,                                                            // order 1
           "0100000000000000000000000000000000000000000000000000000000000080",  // -0 sign bit
           "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  // order 8
           "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  // order 8
           "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  // order 8
           "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // order 2
           "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // y = p
           "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // y = p + 1
           "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  // y >= p
       }) {
    INFO(bad);
    auto r = public_key_from_hex(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::bad_signature);
  }
  // The identity key would accept R = identity, S = 0 for any message; verify refuses the key
  // even when a PublicKey is built from raw bytes.
  PublicKey weak;
  weak.raw[0] = 1;
  weights::Bytes forged(64, 0);
  forged[0] = 1;
  CHECK_FALSE(verify(weak, as_bytes("anything"), forged));
}

TEST_CASE("generated keys sign, and each generation is a new key", "[crypto]") {
  auto a = PrivateKey::generate();
  auto b = PrivateKey::generate();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->public_key() != b->public_key());
  auto sig = a->sign(as_bytes("payload"));
  REQUIRE(sig);
  CHECK(verify(a->public_key(), as_bytes("payload"), *sig));
  CHECK_FALSE(verify(b->public_key(), as_bytes("payload"), *sig));
  CHECK(public_key_from_hex(a->public_key().hex()).value() == a->public_key());

  PrivateKey moved = std::move(*a);
  CHECK(verify(moved.public_key(), as_bytes("x"), moved.sign(as_bytes("x")).value()));
}

TEST_CASE("save writes PKCS#8 PEM with mode 0600 and load reads it back", "[crypto]") {
  weights::testing::TempDir dir;
  auto key = PrivateKey::generate().value();
  const auto path = dir / "root.key";
  REQUIRE(key.save(path));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string pem = weights::read_file(path, 4096).value();
  CHECK(pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0) == 0);

  auto loaded = PrivateKey::load(path);
  REQUIRE(loaded);
  CHECK(loaded->public_key() == key.public_key());

  // Never overwrites an existing key.
  auto other = PrivateKey::generate().value();
  auto again = other.save(path);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == Errc::already_exists);
  CHECK(PrivateKey::load(path).value().public_key() == key.public_key());
}

TEST_CASE("load refuses non-Ed25519, encrypted and malformed keys without echoing them",
          "[crypto]") {
  const std::string p256 =
      "-----BEGIN PRIVATE KEY-----\n"
      "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHa8exS0YM4M+J22d\n"
      "9km+lOvfPj4G0pd3w+fQnm1twR+hRANCAARy9Fs/Hkf3o8dL/8yfwLB8wj7O4m6E\n"
      "Ztf19p0srJYV8BAa3HWBaY/cNrZtcQe/oBAkfWUtiMTJiwMimZYyD80Y\n"
      "-----END PRIVATE KEY-----\n";
  const std::string ed448 =
      "-----BEGIN PRIVATE KEY-----\n"
      "MEcCAQAwBQYDK2VxBDsEOUgnZuCixlsYXXxV5NGVL/uj9l7gST/6RcOjPXcqqIVn\n"
      "eWvr7gfLh811hOfyyNcWvHnreizUsZIZ4Q==\n"
      "-----END PRIVATE KEY-----\n";
  const std::string x25519 =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VuBCIEICA5j2T93lguRIGiIxMcthm4YTnVpQvCRJHbKZI/0e9s\n"
      "-----END PRIVATE KEY-----\n";
  for (const std::string& pem : {p256, ed448, x25519}) {
    auto r = PrivateKey::from_pem(pem);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::unsupported);
    CHECK(r.error().message.find("not Ed25519") != std::string::npos);
    CHECK(r.error().message.find("MC4C") == std::string::npos);
    CHECK(r.error().message.find("MEcC") == std::string::npos);
    CHECK(r.error().message.find("MIGH") == std::string::npos);
  }

  // Encrypted: must fail, not prompt for a passphrase on the terminal.
  const std::string encrypted =
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
      "MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAh7yQN/H6rJUgICCAAw\n"
      "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEAQIEEH24oP3dPXLXkJJY9+FPrYwEQJor\n"
      "dcsXhxyM/nbZHZVTGf0xlptdDtu5gxPZobSQvg8jS/ShiR8QmI15o08eimkinu3C\n"
      "rzOPbtrLnwWSt01HSe0=\n"
      "-----END ENCRYPTED PRIVATE KEY-----\n";
  for (const std::string& pem : {encrypted, std::string(), std::string("garbage"),
                                 std::string(kPub1), std::string(kPem1).substr(0, 40)}) {
    auto r = PrivateKey::from_pem(pem);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::parse_error);
    CHECK(r.error().message.find("MIGb") == std::string::npos);
  }

  weights::testing::TempDir dir;
  auto missing = PrivateKey::load(dir / "absent.key");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
  REQUIRE(weights::write_file_atomic(dir / "p256.key", p256, 0600));
  auto wrong = PrivateKey::load(dir / "p256.key");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code == Errc::unsupported);
  CHECK(wrong.error().message.find("p256.key") != std::string::npos);
}
