#include "core/util/path_policy.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using weights::check_feed_name;
using weights::check_path;
using weights::check_path_set;
using weights::collision_key;
using weights::Errc;
using weights::is_valid_utf8;
using weights::parse_path_policy;
using weights::path_policy_name;
using weights::path_policy_unicode_version;
using weights::PathPolicy;
using weights::Portability;

namespace {

// The error message must name the rule; returns it for matching ("" when the path passed).
std::string rejection(std::string_view path, Portability p = Portability::posix) {
  auto st = check_path(path, p);
  if (st) return "";
  CHECK(st.error().code == Errc::path_policy);
  return st.error().message;
}

std::string set_rejection(std::vector<std::string> paths, Portability p = Portability::posix) {
  auto st = check_path_set(paths, p);
  if (st) return "";
  CHECK(st.error().code == Errc::path_policy);
  return st.error().message;
}

}  // namespace

TEST_CASE("ordinary model file paths are accepted", "[path_policy]") {
  for (const char* p :
       {"config.json", "model-00001-of-00002.safetensors", "tokenizer/vocab.txt", "a/b/c/d.bin",
        ".gitattributes", "dir/.hidden", "caf\xC3\xA9.txt", "\xE6\xA8\xA1\xE5\x9E\x8B/weights.bin",
        "emoji\xF0\x9F\x98\x80", "name with spaces.md", "trailing.dot."}) {
    INFO(p);
    CHECK(check_path(p));
  }
}

TEST_CASE("traversal, absolute and non-canonical paths are rejected", "[path_policy]") {
  CHECK_THAT(rejection(""), Catch::Contains("empty path"));
  CHECK_THAT(rejection("/etc/passwd"), Catch::Contains("absolute"));
  CHECK_THAT(rejection("../x"), Catch::Contains("\"..\""));
  CHECK_THAT(rejection("a/../../x"), Catch::Contains("\"..\""));
  CHECK_THAT(rejection("a/./b"), Catch::Contains("\".\""));
  CHECK_THAT(rejection("."), Catch::Contains("\".\""));
  CHECK_THAT(rejection("a//b"), Catch::Contains("empty path component"));
  CHECK_THAT(rejection("a/"), Catch::Contains("empty path component"));
  CHECK_THAT(rejection("a/b/"), Catch::Contains("empty path component"));
}

TEST_CASE("backslash, colon and control characters are rejected", "[path_policy]") {
  CHECK_THAT(rejection("a\\b"), Catch::Contains("backslash"));
  CHECK_THAT(rejection("..\\..\\x"), Catch::Contains("backslash"));
  CHECK_THAT(rejection("C:x"), Catch::Contains("':'"));
  CHECK_THAT(rejection("file.txt:stream"), Catch::Contains("':'"));
  CHECK_THAT(rejection(std::string("a\0b", 3)), Catch::Contains("NUL"));
  CHECK_THAT(rejection("a\nb"), Catch::Contains("control"));
  CHECK_THAT(rejection("a\x1b[31mred"), Catch::Contains("control"));
  CHECK_THAT(rejection("a\x7f"), Catch::Contains("control"));
  CHECK_THAT(rejection("a\xC2\x85"), Catch::Contains("control"));  // U+0085 NEL (C1)
  CHECK_THAT(rejection("a\xC2\x9B"), Catch::Contains("control"));  // U+009B CSI (C1)
}

TEST_CASE("bidi controls and zero-width characters are rejected", "[path_policy]") {
  for (const char* p : {"a\xE2\x80\x8B", "a\xE2\x80\x8D", "a\xE2\x80\x8F", "a\xE2\x80\xAE.txt",
                        "\xE2\x81\xA6x\xE2\x81\xA9",
                        "\xEF\xBB\xBF"
                        "config.json",
                        "soft\xC2\xADhyphen", "a\xE2\x81\xA0"}) {
    INFO(weights::escape_path_for_message(p));
    CHECK_THAT(rejection(p), Catch::Contains("bidi"));
  }
}

TEST_CASE("invalid UTF-8 is rejected, including overlong forms and surrogates", "[path_policy]") {
  for (const char* p : {"\xFF", "a\xC3", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80",
                        "\xF4\x90\x80\x80", "\x80", "\xF8\x88\x80\x80\x80"}) {
    INFO(weights::escape_path_for_message(p));
    CHECK_THAT(rejection(p), Catch::Contains("UTF-8"));
  }
}

TEST_CASE("component and path length limits are enforced in bytes", "[path_policy]") {
  CHECK(check_path(std::string(255, 'a')));
  CHECK_THAT(rejection(std::string(256, 'a')), Catch::Contains("255"));
  // 2-byte characters: 128 of them are 256 bytes.
  std::string two_byte;
  for (int i = 0; i < 128; ++i) two_byte += "\xC3\xA9";
  CHECK_THAT(rejection(two_byte), Catch::Contains("255"));
  std::string long_path;
  while (long_path.size() + 101 <= 4096) long_path += std::string(100, 'x') + "/";
  long_path += std::string(4096 - long_path.size(), 'y');
  REQUIRE(long_path.size() == 4096);
  CHECK(check_path(long_path));
  CHECK_THAT(rejection(long_path + "z"), Catch::Contains("4096"));
}

TEST_CASE("Windows-reserved names are rejected only when Windows portability is requested",
          "[path_policy]") {
  const auto win = Portability::windows;
  for (const char* p : {"CON", "con", "nul.txt", "dir/AUX.tar.gz", "COM1", "lpt9.bin", "PRN",
                        "COM\xC2\xB9", "con .txt", "CONIN$"}) {
    INFO(p);
    CHECK(check_path(p));
    CHECK_THAT(rejection(p, win), Catch::Contains("Windows-reserved"));
  }
  CHECK_THAT(rejection("name.", win), Catch::Contains("ends in '.'"));
  CHECK_THAT(rejection("dir /x", win), Catch::Contains("ends in '.' or ' '"));
  CHECK_THAT(rejection("what?.txt", win), Catch::Contains("not portable"));
  CHECK(check_path("CONSOLE.txt", win));
  CHECK(check_path("COM10", win));
  CHECK(check_path("nullable/x", win));
}

TEST_CASE("error messages escape hostile bytes", "[path_policy]") {
  const std::string msg = rejection("a\x1b]0;pwned\x07");
  CHECK(msg.find('\x1b') == std::string::npos);
  CHECK_THAT(msg, Catch::Contains("\\x1b"));
}

TEST_CASE("a path set with duplicates is rejected", "[path_policy]") {
  CHECK(check_path_set(std::vector<std::string>{"a", "b/c", "b/d"}));
  CHECK_THAT(set_rejection({"a", "b", "a"}), Catch::Contains("duplicate"));
}

TEST_CASE("paths that differ only in case collide", "[path_policy]") {
  CHECK_THAT(set_rejection({"Config.json", "config.json"}), Catch::Contains("collides"));
  CHECK_THAT(set_rejection({"Dir/a", "dir/A"}), Catch::Contains("collides"));
  CHECK_THAT(set_rejection({"\xC3\x89t\xC3\xA9", "\xC3\xA9t\xC3\xA9"}),  // "Été" vs "été"
             Catch::Contains("collides"));
  CHECK_THAT(set_rejection({"\xD0\x9C\xD0\xBE\xD0\xB4", "\xD0\xBC\xD0\xBE\xD0\xB4"}),  // Мод/мод
             Catch::Contains("collides"));
}

TEST_CASE("precomposed and decomposed spellings collide", "[path_policy]") {
  // U+00E9 vs "e" + U+0301 COMBINING ACUTE ACCENT.
  CHECK_THAT(set_rejection({"caf\xC3\xA9", "cafe\xCC\x81"}), Catch::Contains("normalisation"));
  // U+212B ANGSTROM SIGN vs U+00C5.
  CHECK_THAT(set_rejection({"\xE2\x84\xAB", "\xC3\x85"}), Catch::Contains("collides"));
  // Combining marks in a different order (dot below U+0323 ccc 220, dot above U+0307 ccc 230).
  CHECK_THAT(set_rejection({"a\xCC\xA3\xCC\x87", "a\xCC\x87\xCC\xA3"}),
             Catch::Contains("collides"));
  CHECK(collision_key("caf\xC3\x89") == "cafe\xCC\x81");
  // Different letters stay different.
  CHECK(check_path_set(std::vector<std::string>{"cafe", "caf\xC3\xA9", "caf\xC3\xA8"}));
}

TEST_CASE("a file that is also a directory of another file is rejected", "[path_policy]") {
  CHECK_THAT(set_rejection({"a", "a/b"}), Catch::Contains("also a directory"));
  CHECK_THAT(set_rejection({"x/y/z", "x/y"}), Catch::Contains("also a directory"));
  CHECK_THAT(set_rejection({"A", "a/b"}), Catch::Contains("also a directory"));
  CHECK(check_path_set(std::vector<std::string>{"a.txt", "a/b", "ab"}));
}

TEST_CASE("a set check applies the single-path rules to every member", "[path_policy]") {
  CHECK_THAT(set_rejection({"ok", "../evil"}), Catch::Contains("\"..\""));
  CHECK_THAT(set_rejection({"ok", "NUL"}, Portability::windows), Catch::Contains("Windows"));
}

TEST_CASE("feed names are short plain words: never a path, an option or a control character",
          "[path_policy]") {
  for (const char* ok : {"demo", "a", "Feed_2.mirror-1", "0day"}) {
    INFO(ok);
    CHECK(check_feed_name(ok));
  }
  for (const std::string& bad :
       {std::string(), std::string("../../evil"), std::string("two\nlines"), std::string("a/b"),
        std::string(".hidden"), std::string("-x"), std::string("_x"), std::string("sp ace"),
        std::string("caf\xc3\xa9"), std::string("nul\0x", 5), std::string(65, 'a')}) {
    INFO(bad);
    auto r = check_feed_name(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_argument);
    // The name is quoted escaped: the message stays one printable line.
    for (char c : r.error().message) CHECK(static_cast<unsigned char>(c) >= 0x20);
  }
  CHECK(check_feed_name(std::string(64, 'a')));
}

TEST_CASE("is_valid_utf8 accepts strict UTF-8 only", "[path_policy]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("caf\xc3\xa9 \xf0\x9f\x98\x80"));
  CHECK_FALSE(is_valid_utf8("\xff"));
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
}

// ---- the portable policy (docs/manifest-format.md §7.2) ---------------------------------------

namespace {
std::string portable_rejection(std::vector<std::string> paths) {
  auto st = check_path_set(paths, PathPolicy::portable);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::path_policy);
  return st.error().message;
}
}  // namespace

TEST_CASE("path policies are named standard and portable", "[path_policy]") {
  CHECK(parse_path_policy("standard") == PathPolicy::standard);
  CHECK(parse_path_policy("portable") == PathPolicy::portable);
  CHECK(path_policy_name(PathPolicy::portable) == "portable");
  const auto bad = parse_path_policy("windows");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::invalid_argument);
  CHECK(path_policy_unicode_version() == "15.0.0");
}

TEST_CASE("the portable policy refuses paths that are not NFC", "[path_policy]") {
  // "e" + U+0301 decomposes what NFC composes to U+00E9: fine by default, refused as portable.
  const std::string decomposed = "cafe\xCC\x81.txt";
  CHECK(check_path_set(std::vector<std::string>{decomposed}, PathPolicy::standard));
  CHECK_THAT(portable_rejection({"ok", decomposed}), Catch::Contains("Normalization Form C"));
  CHECK_THAT(portable_rejection({decomposed}), Catch::Contains("caf\\xc3\\xa9.txt"));
  // Singletons and composition exclusions: U+212B ANGSTROM SIGN (NFC: U+00C5), U+0958 DEVANAGARI
  // QA (excluded from composition; NFC keeps it decomposed as U+0915 U+093C).
  CHECK_THAT(portable_rejection({"\xE2\x84\xAB"}), Catch::Contains("Normalization Form C"));
  CHECK_THAT(portable_rejection({"\xE0\xA5\x98"}), Catch::Contains("Normalization Form C"));
  // Misordered combining marks (ccc 230 before ccc 220) are not NFC either.
  CHECK_THAT(portable_rejection({"a\xCC\x87\xCC\xA3"}), Catch::Contains("Normalization Form C"));
  // NFC text of several scripts passes: "café", "Мод", Hangul "한", "क़" as U+0915 U+093C.
  CHECK(check_path_set(std::vector<std::string>{"caf\xC3\xA9", "\xD0\x9C\xD0\xBE\xD0\xB4",
                                                "\xED\x95\x9C", "\xE0\xA4\x95\xE0\xA4\xBC"},
                       PathPolicy::portable));
}

TEST_CASE("the portable policy refuses code points unassigned in its Unicode version",
          "[path_policy]") {
  // U+0378 is unassigned in Unicode 15.0; U+FDD0 is a noncharacter (category Cn).
  CHECK(check_path_set(std::vector<std::string>{"x\xCD\xB8"}, PathPolicy::standard));
  CHECK_THAT(portable_rejection({"x\xCD\xB8"}), Catch::Contains("unassigned in Unicode 15.0.0"));
  CHECK_THAT(portable_rejection({"\xEF\xB7\x90"}), Catch::Contains("unassigned"));
}

TEST_CASE("the portable policy refuses names Windows cannot create", "[path_policy]") {
  for (const char* p : {"CON", "dir/nul.txt", "LPT1.bin", "com9", "name.", "name ", "a<b", "a>b",
                        "a\"b", "a|b", "a?b", "a*b"}) {
    INFO(p);
    CHECK(check_path_set(std::vector<std::string>{p}, PathPolicy::standard));
    CHECK_THAT(portable_rejection({"ok", p}), Catch::Contains("Windows"));
  }
  // ':', '\' and control characters are refused under every policy.
  CHECK_FALSE(check_path_set(std::vector<std::string>{"a:b"}, PathPolicy::standard));
  CHECK_FALSE(check_path_set(std::vector<std::string>{"a\\b"}, PathPolicy::standard));
}

TEST_CASE("the portable policy folds case in every script", "[path_policy]") {
  // Cherokee U+13A0 and its lowercase U+AB70: outside the standard key's blocks.
  const std::vector<std::string> cherokee{"\xE1\x8E\xA0", "\xEA\xAD\xB0"};
  CHECK(check_path_set(cherokee, PathPolicy::standard));
  CHECK_THAT(portable_rejection(cherokee), Catch::Contains("Unicode case folding"));
  // Full folding: "Straße" and "STRASSE".
  const std::vector<std::string> strasse{
      "Stra\xC3\x9F"
      "e",
      "STRASSE"};
  CHECK(check_path_set(strasse, PathPolicy::standard));
  CHECK_THAT(portable_rejection(strasse), Catch::Contains("Unicode case folding"));
  // A file and a directory that fold together.
  const std::vector<std::string> dir{"\xE1\x8E\xA0", "\xEA\xAD\xB0/x"};
  CHECK(check_path_set(dir, PathPolicy::standard));
  CHECK_THAT(portable_rejection(dir), Catch::Contains("also a directory"));
  // ASCII case collisions are refused by both policies.
  CHECK_FALSE(check_path_set(std::vector<std::string>{"A", "a"}, PathPolicy::portable));
  CHECK(check_path_set(std::vector<std::string>{"model.safetensors", "config.json", "a/b"},
                       PathPolicy::portable));
}

TEST_CASE("a set grown by a few paths is checked like the whole set", "[path_policy][set]") {
  const std::vector<std::string_view> existing = {"models/a/x.json", "models/b/\xc3\xa9.txt",
                                                  "models/c"};
  const auto grow = [&](std::vector<std::string> added) {
    auto r = weights::check_path_set_growth(existing, added);
    std::vector<std::string> all(existing.begin(), existing.end());
    all.insert(all.end(), added.begin(), added.end());
    CHECK(r.has_value() == weights::check_path_set(all).has_value());
    return r;
  };
  CHECK(grow({"models/a/y.json", "models/d/x.json"}));
  CHECK(grow({}));
  auto dup = grow({"models/a/x.json"});
  REQUIRE_FALSE(dup);
  CHECK_THAT(dup.error().message, Catch::Contains("duplicate path"));
  auto upper = grow({"models/A/X.json"});
  REQUIRE_FALSE(upper);
  CHECK_THAT(upper.error().message, Catch::Contains("collides with"));
  CHECK_FALSE(grow({"models/b/e\xcc\x81.txt"}));  // e + U+0301 against U+00E9
  CHECK_FALSE(grow({"models/B/\xc3\x89.txt"}));   // U+00C9
  auto dir = grow({"models/a"});
  REQUIRE_FALSE(dir);
  CHECK_THAT(dir.error().message, Catch::Contains("is a file but also a directory"));
  CHECK_FALSE(grow({"models/C/x"}));
  CHECK_FALSE(grow({"models/new/x", "models/NEW/x"}));  // within the added paths
}
