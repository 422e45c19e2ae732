#include "core/util/encoding.hpp"

#include <string>

#include <catch2/catch.hpp>

using weights::as_bytes;
using weights::base64_decode;
using weights::base64_encode;
using weights::Bytes;
using weights::Errc;

namespace {

std::string to_string(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

}  // namespace

TEST_CASE("hex round-trips and decodes either case", "[encoding]") {
  const Bytes data = {0x00, 0x01, 0xab, 0xff};
  CHECK(weights::to_hex(data) == "0001abff");
  CHECK(weights::from_hex("0001abff").value() == data);
  CHECK(weights::from_hex("0001ABFF").value() == data);
  CHECK(weights::from_hex("").value().empty());
}

TEST_CASE("from_hex rejects odd length and non-hex characters", "[encoding]") {
  for (const char* bad : {"0", "abc", "0g", "zz", " 00", "00 ", "0x00", "+1", "-1"}) {
    INFO(bad);
    auto r = weights::from_hex(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::parse_error);
  }
  CHECK_FALSE(
      weights::from_hex(std::string("00\0"
                                    "0",
                                    4)));
}

TEST_CASE("from_hex_exact requires lowercase and the exact length", "[encoding]") {
  const std::string h32(64, 'a');
  CHECK(weights::from_hex_exact(h32, 32).value().size() == 32);
  CHECK_FALSE(weights::from_hex_exact(std::string(64, 'A'), 32));
  CHECK_FALSE(weights::from_hex_exact(std::string(62, 'a'), 32));
  CHECK_FALSE(weights::from_hex_exact(std::string(66, 'a'), 32));
  CHECK_FALSE(weights::from_hex_exact(std::string(63, 'a') + "g", 32));
  CHECK(weights::from_hex_exact("", 0).value().empty());
  CHECK(weights::is_lower_hex("00ff", 2));
  CHECK_FALSE(weights::is_lower_hex("00FF", 2));
  CHECK_FALSE(weights::is_lower_hex("00ff", 3));
}

TEST_CASE("base64 matches the RFC 4648 section 10 test vectors", "[encoding]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    INFO(plain);
    CHECK(base64_encode(as_bytes(plain)) == encoded);
    auto decoded = base64_decode(encoded);
    REQUIRE(decoded);
    CHECK(to_string(*decoded) == plain);
  }
}

TEST_CASE("base64 round-trips every byte value", "[encoding]") {
  Bytes all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::uint8_t>(i));
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    Bytes part(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK(base64_decode(base64_encode(part)).value() == part);
  }
  CHECK(base64_encode(Bytes{0xfb, 0xff}) == "+/8=");
}

TEST_CASE("base64 decoding is strict", "[encoding]") {
  for (const char* bad : {
           "Zg",        // missing padding
           "Zg=",       // short padding
           "Zm8",       // missing padding
           "Zg===",     // too much padding
           "====",      // only padding
           "A===",      // one data char
           "Zg==Zg==",  // padding in the middle
           "Zm=v",      // '=' inside a quantum
           "Zm9v\n",    // whitespace
           "Zm 9v",     // whitespace
           " Zm9v",     // whitespace
           "Zm9v-_==",  // URL-safe alphabet
           "Zh==",      // non-zero trailing bits ("f" is Zg==)
           "Zm9=",      // non-zero trailing bits ("fo" is Zm8=)
       }) {
    INFO(bad);
    auto r = base64_decode(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::parse_error);
  }
  CHECK_FALSE(base64_decode(std::string("Zm8=\0\0\0\0", 8)));
  CHECK_FALSE(base64_decode(std::string("Zm\0v", 4)));
  CHECK_FALSE(base64_decode("Zm9v\xc3\xa9=="));
}

TEST_CASE("printable_excerpt escapes and truncates untrusted bytes", "[encoding]") {
  CHECK(weights::printable_excerpt("abc") == "abc");
  CHECK(weights::printable_excerpt("a\nb\\\xff") == "a\\x0ab\\x5c\\xff");
  CHECK(weights::printable_excerpt("abcdef", 3) == "abc...");
}
