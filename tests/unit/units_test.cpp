#include "core/util/units.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using weights::Errc;
using weights::units::format_endpoint;
using weights::units::format_size;
using weights::units::parse_duration;
using weights::units::parse_endpoint;
using weights::units::parse_size;
using weights::units::PortZero;

TEST_CASE("sizes take a whole number and an optional decimal or binary unit", "[units]") {
  CHECK(parse_size("0").value() == 0);
  CHECK(parse_size("512").value() == 512);
  CHECK(parse_size("262144").value() == 262144);
  CHECK(parse_size("7B").value() == 7);
  CHECK(parse_size("1KB").value() == 1000);
  CHECK(parse_size("1 KB").value() == 1000);
  CHECK(parse_size("2 TB").value() == 2'000'000'000'000ULL);
  CHECK(parse_size("3MB").value() == 3'000'000);
  CHECK(parse_size("1KiB").value() == 1024);
  CHECK(parse_size("64MiB").value() == 64ULL << 20);
  CHECK(parse_size("3GiB").value() == 3ULL << 30);
  CHECK(parse_size("200GiB").value() == 200ULL << 30);
  CHECK(parse_size("2TiB").value() == 2ULL << 40);
}

TEST_CASE("sizes refuse anything outside the one grammar", "[units]") {
  for (const char* bad : {"",    " ",    "GB",       "-1",    "+1",    "1.5GB", "1,000", " 1",
                          "1 ",  "\t1",  "1\n",      "1  KB", "1\tKB", "1 K",   "1M",    "1kb",
                          "1kB", "1mib", "1 parsec", "0x10",  "1e6",   "1KiBB"}) {
    CAPTURE(bad);
    auto r = parse_size(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_argument);
    CHECK_FALSE(r.error().hint.empty());
  }
  CHECK_THAT(parse_size("10 parsecs").error().message, Catch::Contains("unknown unit 'parsecs'"));
  CHECK_THAT(parse_size("1.5TB").error().message, Catch::Contains("fractions are not accepted"));
}

TEST_CASE("sizes are overflow-checked against 2^63-1 bytes", "[units]") {
  CHECK(parse_size("9223372036854775807").value() == 9223372036854775807ULL);
  CHECK(parse_size("8388607TiB").value() == 8388607ULL << 40);
  CHECK_THAT(parse_size("9223372036854775808").error().message, Catch::Contains("too large"));
  CHECK_THAT(parse_size("8388608TiB").error().message, Catch::Contains("too large"));
  CHECK_THAT(parse_size("99999999999TiB").error().message, Catch::Contains("too large"));
  CHECK_THAT(parse_size("18446744073709551616").error().message, Catch::Contains("too large"));
  CHECK_FALSE(parse_size("99999999999999999999999999999"));
}

TEST_CASE("durations take a whole number and a required unit s, m, h or d", "[units]") {
  CHECK(parse_duration("0s").value() == 0s);
  CHECK(parse_duration("45s").value() == 45s);
  CHECK(parse_duration("90s").value() == 90s);
  CHECK(parse_duration("30m").value() == 30min);
  CHECK(parse_duration("2h").value() == 2h);
  CHECK(parse_duration("1d").value() == 24h);
  CHECK(parse_duration("30 d").value() == 30 * 24h);
  for (const char* bad : {"", "s", "120", "1w", "1 ", " 1s", "1s ", "1S", "-1s", "+1s", "1.5h",
                          "1  s", "1\ts", "1sec", "1ms", "1h30m"}) {
    CAPTURE(bad);
    auto r = parse_duration(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_argument);
  }
  CHECK_THAT(parse_duration("120").error().message, Catch::Contains("unit is missing"));
}

TEST_CASE("durations are at most 100 years", "[units]") {
  CHECK(parse_duration("36600d").value() == std::chrono::hours(24 * 36600));
  CHECK(parse_duration("3162240000s").value() == weights::units::max_duration);
  CHECK_THAT(parse_duration("36601d").error().message, Catch::Contains("too large"));
  CHECK_THAT(parse_duration("3162240001s").error().message, Catch::Contains("too large"));
  CHECK_FALSE(parse_duration("99999999999999999999d"));
}

TEST_CASE("endpoints are an IP literal and a port, IPv6 in brackets", "[units]") {
  auto v4 = parse_endpoint("127.0.0.2:6881", PortZero::refused);
  REQUIRE(v4);
  CHECK(v4->address.to_string() == "127.0.0.2");
  CHECK(v4->port == 6881);
  auto v6 = parse_endpoint("[::1]:9750", PortZero::refused);
  REQUIRE(v6);
  CHECK(v6->address.is_v6());
  CHECK(v6->address.to_string() == "::1");
  CHECK(v6->port == 9750);
  CHECK(parse_endpoint("[::]:6881", PortZero::allowed).value().address.is_unspecified());
  CHECK(parse_endpoint("0.0.0.0:65535", PortZero::refused).value().port == 65535);
  CHECK(format_endpoint(*v4) == "127.0.0.2:6881");
  CHECK(format_endpoint(*v6) == "[::1]:9750");
}

TEST_CASE("port 0 only where the caller allows an ephemeral port", "[units]") {
  CHECK(parse_endpoint("127.0.0.1:0", PortZero::allowed).value().port == 0);
  CHECK(parse_endpoint("[::1]:0", PortZero::allowed).value().port == 0);
  CHECK_THAT(parse_endpoint("127.0.0.1:0", PortZero::refused).error().message,
             Catch::Contains("port 0"));
  CHECK_FALSE(parse_endpoint("[::1]:0", PortZero::refused));
}

TEST_CASE("endpoints refuse anything outside the one grammar", "[units]") {
  for (const char* bad : {"",
                          ":",
                          ":6881",
                          "127.0.0.1",
                          "127.0.0.1:",
                          "127.0.0.1:65536",
                          "127.0.0.1:99999999999",
                          "127.0.0.1:-1",
                          "127.0.0.1:+1",
                          "127.0.0.1: 1",
                          "127.0.0.1:1 ",
                          " 127.0.0.1:1",
                          "127.0.0.1:0x10",
                          "127.0.0.1:6881s",
                          "::1:6881",
                          "::1",
                          "[::1]",
                          "[::1]6881",
                          "[::1:6881",
                          "[::1]:",
                          "[::1]:65536",
                          "[127.0.0.1]:6881",
                          "localhost:6881",
                          "eth0:6881",
                          "nope",
                          "256.0.0.1:1",
                          "1.2.3:1"}) {
    for (auto zero : {PortZero::allowed, PortZero::refused}) {
      CAPTURE(bad);
      auto r = parse_endpoint(bad, zero);
      REQUIRE_FALSE(r);
      CHECK(r.error().code == Errc::invalid_argument);
      CHECK_THAT(r.error().message, Catch::Contains("ADDRESS:PORT"));
    }
  }
}

TEST_CASE("sizes are shown to people in binary units with one decimal", "[units]") {
  CHECK(format_size(0) == "0 B");
  CHECK(format_size(1023) == "1023 B");
  CHECK(format_size(1024) == "1.0 KiB");
  CHECK(format_size(1536ULL << 20) == "1.5 GiB");
  CHECK(format_size(3ULL << 50) == "3.0 PiB");
  CHECK(format_size(4096ULL << 50) == "4096.0 PiB");
}

TEST_CASE("host ports take a DNS name or an endpoint and a port from 1", "[units]") {
  using weights::units::parse_host_port;
  auto name = parse_host_port("router.bittorrent.com:6881");
  REQUIRE(name);
  CHECK(name->host == "router.bittorrent.com");
  CHECK(name->port == 6881);
  CHECK_FALSE(name->address);
  CHECK(parse_host_port("localhost:1").value().host == "localhost");
  CHECK(parse_host_port("a-1.b2.example:65535").value().port == 65535);
  auto v4 = parse_host_port("127.0.0.2:6881");
  REQUIRE(v4);
  REQUIRE(v4->address);
  CHECK(v4->address->is_loopback());
  auto v6 = parse_host_port("[::1]:6881");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->address);
  for (const char* bad :
       {"", ":6881", "example.org", "example.org:", "example.org:0", "example.org:65536",
        "example.org:6881s", "-a.example:1", "a-.example:1", "a..example:1", "example.org.:1",
        "exa_mple.org:1", "ex ample.org:1", "1.2.3.999:1", "1.2.3:1", "::1:6881", "[::1]:0",
        "127.0.0.1:0", "caf\xc3\xa9.example:1"}) {
    INFO(bad);
    CHECK_FALSE(parse_host_port(bad));
  }
  CHECK_FALSE(parse_host_port(std::string(64, 'a') + ".example:1"));
  CHECK(parse_host_port(std::string(63, 'a') + ".example:1"));
}
