// The TOML helpers the strict readers (config, catalog) share.
#include "core/toml/toml_read.hpp"

#include <catch2/catch.hpp>

using weights::toml_read::type_name;

TEST_CASE("every TOML value type has its name for schema errors", "[toml_read]") {
  const auto doc = toml::parse(R"(
s = "x"
i = 1
f = 1.5
b = true
a = [1]
t = { k = 1 }
d = 2026-01-01
)");
  CHECK(type_name(*doc.get("s")) == "a string");
  CHECK(type_name(*doc.get("i")) == "an integer");
  CHECK(type_name(*doc.get("f")) == "a float");
  CHECK(type_name(*doc.get("b")) == "a boolean");
  CHECK(type_name(*doc.get("a")) == "an array");
  CHECK(type_name(*doc.get("t")) == "a table");
  CHECK(type_name(*doc.get("d")) == "a date or time");
}

TEST_CASE("a TOML syntax error names the file and line", "[toml_read]") {
  auto doc = weights::toml_read::parse("a = 1\nb = = 2\n", "/etc/x.toml");
  REQUIRE_FALSE(doc);
  CHECK(doc.error().code == weights::Errc::parse_error);
  CHECK_THAT(doc.error().message, Catch::StartsWith("/etc/x.toml:2: "));
  auto ok = weights::toml_read::parse("a = 1\n", "/etc/x.toml");
  REQUIRE(ok);
  CHECK(ok->get("a")->value<std::int64_t>() == 1);
}
