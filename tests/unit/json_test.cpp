#include "core/util/json.hpp"

#include <string>

#include <catch2/catch.hpp>

using weights::Errc;
using weights::json::Json;
using weights::json::Limits;
using weights::json::parse_strict;

namespace {

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::string nested_objects(std::size_t depth) {
  std::string s;
  for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  s += std::string(depth, '}');
  return s;
}

}  // namespace

TEST_CASE("well-formed JSON parses to the expected values", "[json]") {
  auto r = parse_strict(R"({"a":[1,"x",true,null,{"b":-2}],"c":1.5,"é":"ü"})");
  REQUIRE(r);
  CHECK((*r)["a"][0] == 1);
  CHECK((*r)["a"][1] == "x");
  CHECK((*r)["a"][4]["b"] == -2);
  CHECK((*r)["c"] == 1.5);
  CHECK((*r)["é"] == "ü");
  CHECK(parse_strict("  \t\r\n{}\n "));
  CHECK(parse_strict("0"));
  CHECK(parse_strict("\"\""));
}

TEST_CASE("malformed JSON is a parse_error naming the byte offset", "[json]") {
  for (const char* bad : {"", " ", "{", "[1,]", "{\"a\":1,}", "{'a':1}", "01", "1.", ".5", "+1",
                          "NaN", "Infinity", "[1 2]", "\"a\tb\"", "\"\\x41\"", "/*c*/{}", "tru"}) {
    INFO(bad);
    auto r = parse_strict(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::parse_error);
    CHECK(r.error().message.find("at byte") != std::string::npos);
  }
}

TEST_CASE("trailing data after the value is rejected", "[json]") {
  auto r = parse_strict("{} x");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::parse_error);
  CHECK(r.error().message.find("at byte 4") != std::string::npos);
  CHECK_FALSE(parse_strict("{}{}"));
  CHECK_FALSE(parse_strict("1 2"));
  // nlohmann's lexer reads NUL as end of input; the parser must not stop there.
  for (const std::string& nul : {std::string("{}\0", 3), std::string("{}\0{\"a\":1}", 10),
                                 std::string("[1\0]", 4), std::string("\0", 1)}) {
    auto rn = parse_strict(nul);
    REQUIRE_FALSE(rn);
    CHECK(rn.error().code == Errc::parse_error);
  }
  CHECK(parse_strict("{}\n"));
}

TEST_CASE("invalid UTF-8 is rejected", "[json]") {
  for (const char* bad : {
           "\"\xff\"",              // never valid
           "\"\xc0\x80\"",          // overlong NUL
           "\"\xe0\x80\xaf\"",      // overlong '/'
           "\"\xed\xa0\x80\"",      // UTF-8 encoded surrogate U+D800
           "\"\xf4\x90\x80\x80\"",  // above U+10FFFF
           "\"\xc3\"",              // truncated sequence
           "\"\x80\"",              // lone continuation byte
           "\xff",                  // outside a string
       }) {
    INFO(bad);
    auto r = parse_strict(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::parse_error);
  }
  CHECK(parse_strict("\"\xc3\xa9\xf0\x9f\x98\x80\""));  // é and U+1F600
}

TEST_CASE("lone surrogate escapes are rejected, valid pairs accepted", "[json]") {
  for (const char* bad :
       {R"("\ud800")", R"("\udc00")", R"("\ud800x")", R"("\ud800\u0041")", R"("\udc00\ud800")"}) {
    INFO(bad);
    auto r = parse_strict(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::parse_error);
  }
  auto ok = parse_strict(R"("\ud83d\ude00")");
  REQUIRE(ok);
  CHECK(ok->get<std::string>() == "\xf0\x9f\x98\x80");
}

TEST_CASE("a byte order mark is rejected", "[json]") {
  auto r = parse_strict("\xEF\xBB\xBF{}");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::parse_error);
}

TEST_CASE("duplicate keys are rejected at any depth", "[json]") {
  for (const char* bad : {
           R"({"a":1,"a":2})", R"({"a":1,"b":2,"a":1})", R"({"x":{"a":1,"a":2}})",
           R"([{"ok":1},{"a":{"b":[{"c":1,"c":1}]}}])",
           R"({"a":1,"\u0061":2})",  // same key after unescaping
       }) {
    INFO(bad);
    auto r = parse_strict(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::parse_error);
    CHECK(r.error().message.find("duplicate") != std::string::npos);
    CHECK(r.error().message.find("at byte") != std::string::npos);
  }
  // Same key in sibling objects is fine.
  CHECK(parse_strict(R"([{"a":1},{"a":2}])"));
  CHECK(parse_strict(R"({"a":{"a":1}})"));
}

TEST_CASE("nesting deeper than max_depth is too_large", "[json]") {
  CHECK(parse_strict(nested_arrays(32)));
  CHECK(parse_strict(nested_objects(32)));
  for (const std::string& deep : {nested_arrays(33), nested_objects(33)}) {
    auto r = parse_strict(deep);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::too_large);
  }
  // Far deeper input fails fast, without recursion trouble.
  auto r = parse_strict(std::string(100000, '['));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::too_large);
  // Every object or array is one level; the outermost is level 1; scalars add none
  // (manifest-format.md section 4).
  CHECK(parse_strict("{}", Limits{.max_depth = 1}));
  CHECK(parse_strict(R"({"a":[{}],"b":1})", Limits{.max_depth = 3}));
  CHECK_FALSE(parse_strict(R"({"a":[{}],"b":1})", Limits{.max_depth = 2}));
  CHECK(parse_strict("[[1]]", Limits{.max_depth = 2}));
  CHECK_FALSE(parse_strict("[[1]]", Limits{.max_depth = 1}));
  CHECK(parse_strict("1", Limits{.max_depth = 0}));
}

TEST_CASE("input larger than max_bytes is too_large before parsing", "[json]") {
  Limits limits{.max_bytes = 10};
  CHECK(parse_strict("[1,2,3,4]", limits));   // 9 bytes
  CHECK(parse_strict("[1,2,3,45]", limits));  // 10 bytes
  auto r = parse_strict("[1,2,3,456]", limits);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::too_large);
  // The size check wins even for garbage.
  auto g = parse_strict("xxxxxxxxxxxx", limits);
  REQUIRE_FALSE(g);
  CHECK(g.error().code == Errc::too_large);
}

TEST_CASE("numbers out of double range are rejected", "[json]") {
  CHECK_FALSE(parse_strict("1e400"));
  CHECK_FALSE(parse_strict("-1e400"));
}

TEST_CASE("get_uint accepts only non-negative integers up to 2^53", "[json]") {
  auto doc = parse_strict(R"({"zero":0,"v":7,"max":9007199254740992,"over":9007199254740993,
    "huge":18446744073709551616,"f":1.0,"e":1e3,"neg":-1,"negzero":-0,"s":"1","b":true,
    "n":null,"o":{},"a":[]})");
  REQUIRE(doc);
  CHECK(weights::json::get_uint(*doc, "zero", "signed").value() == 0);
  CHECK(weights::json::get_uint(*doc, "v", "signed").value() == 7);
  CHECK(weights::json::get_uint(*doc, "max", "signed").value() == weights::json::max_safe_integer);
  for (const char* key : {"over", "huge", "f", "e", "neg", "negzero", "s", "b", "n", "o", "a"}) {
    INFO(key);
    auto r = weights::json::get_uint(*doc, key, "signed");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::schema_error);
    CHECK(r.error().message.find(std::string("signed.") + key) != std::string::npos);
  }
  auto missing = weights::json::get_uint(*doc, "version", "signed");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::schema_error);
  CHECK(missing.error().message == "signed.version: missing");
  // Values built in code are signed integers internally; non-negative ones are fine.
  Json built = {{"v", 5}, {"n", -5}};
  CHECK(weights::json::get_uint(built, "v", "").value() == 5);
  CHECK_FALSE(weights::json::get_uint(built, "n", ""));
}

TEST_CASE("typed accessors reject the wrong type and name the field", "[json]") {
  auto doc = parse_strict(R"({"s":"x","i":1,"o":{"k":"v"},"a":[1]})");
  REQUIRE(doc);
  CHECK(weights::json::get_string(*doc, "s", "m").value() == "x");
  auto bad = weights::json::get_string(*doc, "i", "m");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::schema_error);
  CHECK(bad.error().message.find("m.i") != std::string::npos);
  CHECK_FALSE(weights::json::get_string(*doc, "o", "m"));
  CHECK_FALSE(weights::json::get_string(*doc, "a", "m"));

  CHECK(weights::json::get_object(*doc, "o", "m").value()->at("k") == "v");
  CHECK_FALSE(weights::json::get_object(*doc, "a", "m"));
  CHECK(weights::json::get_array(*doc, "a", "m").value()->size() == 1);
  CHECK_FALSE(weights::json::get_array(*doc, "o", "m"));

  CHECK(weights::json::has_field(*doc, "s"));
  CHECK_FALSE(weights::json::has_field(*doc, "missing"));
  CHECK_FALSE(weights::json::has_field(Json::array(), "s"));

  auto not_obj = weights::json::get_field(Json::array(), "s", "m.a");
  REQUIRE_FALSE(not_obj);
  CHECK(not_obj.error().code == Errc::schema_error);
  CHECK(not_obj.error().message == "m.a: expected an object");
}

TEST_CASE("dump_compact sorts keys, has no whitespace and keeps UTF-8", "[json]") {
  Json v = {{"b", 1}, {"a", {{"z", "é"}, {"y", Json::array({1, 2})}}}, {"c", nullptr}};
  CHECK(weights::json::dump_compact(v) == R"({"a":{"y":[1,2],"z":"é"},"b":1,"c":null})");
  const std::string text = R"({"a":{"y":[1,2],"z":"é"},"b":1,"c":null})";
  CHECK(weights::json::dump_compact(parse_strict(text).value()) == text);
  const std::string pretty = weights::json::dump_pretty(Json{{"b", 1}, {"a", 2}});
  CHECK(pretty == "{\n  \"a\": 2,\n  \"b\": 1\n}\n");
}

TEST_CASE("error messages do not echo raw control or non-ASCII bytes", "[json]") {
  auto r = parse_strict("{\"a\x01\":1}");
  REQUIRE_FALSE(r);
  for (char c : r.error().message) {
    CHECK(static_cast<unsigned char>(c) >= 0x20);
    CHECK(static_cast<unsigned char>(c) < 0x7f);
  }
  auto d = parse_strict("{\"\xc3\xa9\":1,\"\xc3\xa9\":2}");
  REQUIRE_FALSE(d);
  for (char c : d.error().message) CHECK(static_cast<unsigned char>(c) < 0x7f);
}
