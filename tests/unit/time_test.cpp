#include "core/util/time.hpp"

#include <string>

#include <catch2/catch.hpp>

using namespace std::chrono;
using weights::Errc;
using weights::format_utc;
using weights::parse_utc;
using weights::TimePoint;

TEST_CASE("parse_utc reads the canonical form", "[time]") {
  CHECK(parse_utc("1970-01-01T00:00:00Z").value().time_since_epoch().count() == 0);
  CHECK(parse_utc("2026-04-02T00:00:00Z").value().time_since_epoch().count() == 1775088000);
  CHECK(parse_utc("2038-01-19T03:14:08Z").value().time_since_epoch().count() == 2147483648LL);
  CHECK(parse_utc("1969-12-31T23:59:59Z").value().time_since_epoch().count() == -1);
  CHECK(parse_utc("2024-02-29T12:00:00Z"));  // leap year
  CHECK(parse_utc("2000-02-29T00:00:00Z"));  // divisible by 400
  CHECK(parse_utc("9999-12-31T23:59:59Z"));
}

TEST_CASE("parse_utc rejects impossible dates and times", "[time]") {
  for (const char* bad : {
           "2026-02-29T00:00:00Z",  // not a leap year
           "1900-02-29T00:00:00Z",  // divisible by 100, not 400
           "2026-04-31T00:00:00Z", "2026-00-10T00:00:00Z", "2026-13-01T00:00:00Z",
           "2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z", "2026-01-01T24:00:00Z",
           "2026-01-01T23:60:00Z", "2026-12-31T23:59:60Z",  // leap second
       }) {
    INFO(bad);
    auto r = parse_utc(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::parse_error);
  }
}

TEST_CASE("parse_utc accepts only one spelling", "[time]") {
  for (const char* bad : {
           "2026-04-02T00:00:00z",       // lowercase z
           "2026-04-02t00:00:00Z",       // lowercase t
           "2026-04-02 00:00:00Z",       // space separator
           "2026-04-02T00:00:00",        // no zone
           "2026-04-02T00:00:00+00:00",  // offset
           "2026-04-02T00:00:00-00:00",  // offset
           "2026-04-02T02:00:00+02:00",  // offset
           "2026-04-02T00:00:00.000Z",   // fraction
           "2026-04-02T00:00:00.5Z",     // fraction
           "2026-4-02T00:00:00Z",        // short month
           "+2026-04-02T00:00:00Z",      // sign
           "02026-04-02T00:00:00Z",      // 5-digit year
           "2026-04-02T00:00Z",          // no seconds
           "2026-04-02",                 // date only
           " 2026-04-02T00:00:00Z",      // whitespace
           "2026-04-02T00:00:00Z ",      // whitespace
           "2026-04-02T0a:00:00Z",       // letter
           "2026-04-02T-1:00:00Z",       // sign inside
           "",
       }) {
    INFO(bad);
    auto r = parse_utc(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::parse_error);
  }
  CHECK_FALSE(parse_utc(std::string("2026-04-02T00:00:00Z\0", 21)));
}

TEST_CASE("format_utc is the inverse of parse_utc", "[time]") {
  for (const char* s : {"1970-01-01T00:00:00Z", "2024-02-29T23:59:59Z", "2026-04-02T13:45:07Z",
                        "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1969-07-20T20:17:40Z"}) {
    INFO(s);
    CHECK(format_utc(parse_utc(s).value()) == s);
  }
  const TimePoint t{seconds{1775133907}};
  CHECK(parse_utc(format_utc(t)).value() == t);
}

TEST_CASE("now_utc is whole seconds near the system clock", "[time]") {
  const TimePoint now = weights::now_utc();
  const auto sys = system_clock::now();
  CHECK(now <= sys);
  CHECK(sys - now < seconds{5});
  CHECK(parse_utc(format_utc(now)).value() == now);
}
