#include "core/upstream/lfs_pointer.hpp"

#include <string>

#include <catch2/catch.hpp>

using namespace weights;
using namespace weights::upstream;

namespace {

const std::string oid = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";

std::string pointer(std::string_view middle = "", std::string_view size = "12345") {
  return "version https://git-lfs.github.com/spec/v1\n" + std::string(middle) +
         "oid sha256:" + oid + "\nsize " + std::string(size) + "\n";
}

}  // namespace

TEST_CASE("the spec's example pointer gives its oid and size", "[lfs]") {
  auto p = parse_lfs_pointer(pointer());
  REQUIRE(p);
  CHECK(p->sha256 == oid);
  CHECK(p->size == 12345);
  CHECK(format_lfs_pointer(*p) == pointer());
}

TEST_CASE("sizes: zero and 2^53 are accepted, leading zeros, signs and 2^53+1 are not", "[lfs]") {
  CHECK(parse_lfs_pointer(pointer("", "0"))->size == 0);
  CHECK(parse_lfs_pointer(pointer("", "9007199254740992"))->size == (1ull << 53));
  for (const char* bad :
       {"9007199254740993", "012", "+1", "-1", "1.5", "1e3", "", " 1", "99999999999999999999"}) {
    INFO(bad);
    auto p = parse_lfs_pointer(pointer("", bad));
    REQUIRE_FALSE(p);
    CHECK(p.error().code == Errc::parse_error);
  }
  CHECK_THAT(parse_lfs_pointer(pointer("", "012")).error().message,
             Catch::Contains("line 3") && Catch::Contains("size"));
}

TEST_CASE("an oid that is not sha256:<64 lowercase hex> is refused naming the line", "[lfs]") {
  const std::string upper =
      "version https://git-lfs.github.com/spec/v1\noid sha256:" + std::string(64, 'A') +
      "\nsize 1\n";
  const std::string short_oid =
      "version https://git-lfs.github.com/spec/v1\noid sha256:abcd\nsize 1\n";
  const std::string other_algo =
      "version https://git-lfs.github.com/spec/v1\noid sha1:" + std::string(40, 'a') + "\nsize 1\n";
  for (const auto& text : {upper, short_oid, other_algo}) {
    auto p = parse_lfs_pointer(text);
    REQUIRE_FALSE(p);
    CHECK(p.error().code == Errc::parse_error);
    CHECK_THAT(p.error().message, Catch::Contains("line 2: oid"));
  }
}

TEST_CASE("the version line must come first with exactly the v1 spec URL", "[lfs]") {
  const std::string no_version = "oid sha256:" + oid + "\nsize 1\n";
  const std::string hawser =
      "version https://hawser.github.com/spec/v1\noid sha256:" + oid + "\nsize 1\n";
  const std::string later =
      "oid sha256:" + oid + "\nversion https://git-lfs.github.com/spec/v1\nsize 1\n";
  for (const auto& text : {no_version, hawser, later}) {
    auto p = parse_lfs_pointer(text);
    REQUIRE_FALSE(p);
    CHECK_THAT(p.error().message, Catch::Contains("line 1"));
  }
}

TEST_CASE("CR line ends, a missing final newline, missing keys and bad lines are refused",
          "[lfs]") {
  std::string crlf = pointer();
  crlf.replace(crlf.find('\n'), 1, "\r\n");
  CHECK_THAT(parse_lfs_pointer(crlf).error().message, Catch::Contains("carriage return"));
  std::string unterminated = pointer();
  unterminated.pop_back();
  CHECK_THAT(parse_lfs_pointer(unterminated).error().message, Catch::Contains("newline"));
  CHECK_THAT(
      parse_lfs_pointer("version https://git-lfs.github.com/spec/v1\nsize 1\n").error().message,
      Catch::Contains("no oid"));
  CHECK_THAT(
      parse_lfs_pointer("version https://git-lfs.github.com/spec/v1\noid sha256:" + oid + "\n")
          .error()
          .message,
      Catch::Contains("no size"));
  CHECK_FALSE(parse_lfs_pointer(pointer("\n")));                  // empty line
  CHECK_FALSE(parse_lfs_pointer(pointer("Key x\n")));             // upper-case key
  CHECK_FALSE(parse_lfs_pointer(pointer("novalue\n")));           // no space
  CHECK_FALSE(parse_lfs_pointer(std::string("version \xff\n")));  // not UTF-8
  CHECK(parse_lfs_pointer("").error().code == Errc::parse_error);
}

TEST_CASE("keys must be strictly ascending; unknown keys are ignored, extensions unsupported",
          "[lfs]") {
  // "abc" < "oid" < "size" < "zzz": accepted, and the values are those of oid and size.
  auto known = parse_lfs_pointer(pointer("abc.def some value\n") + "zzz 1\n");
  REQUIRE(known);
  CHECK(known->size == 12345);
  auto duplicate = parse_lfs_pointer(pointer() + "size 1\n");
  REQUIRE_FALSE(duplicate);
  CHECK_THAT(duplicate.error().message, Catch::Contains("ascending"));
  auto unsorted = parse_lfs_pointer(
      "version https://git-lfs.github.com/spec/v1\nsize 1\noid sha256:" + oid + "\n");
  REQUIRE_FALSE(unsorted);
  CHECK_THAT(unsorted.error().message, Catch::Contains("line 3") && Catch::Contains("ascending"));
  auto ext = parse_lfs_pointer(pointer("ext-0-foo sha256:" + oid + "\n"));
  REQUIRE_FALSE(ext);
  CHECK(ext.error().code == Errc::unsupported);
}

TEST_CASE("a pointer of 1024 bytes or more is too large", "[lfs]") {
  std::string big = pointer() + "zzz " + std::string(1024, 'x') + "\n";
  auto p = parse_lfs_pointer(big);
  REQUIRE_FALSE(p);
  CHECK(p.error().code == Errc::too_large);
  CHECK_FALSE(looks_like_lfs_pointer(big));
}

TEST_CASE("only small blobs starting with \"version \" claim to be pointers", "[lfs]") {
  CHECK(looks_like_lfs_pointer(pointer()));
  CHECK(looks_like_lfs_pointer("version 2\n"));
  CHECK_FALSE(looks_like_lfs_pointer("{\"model_type\": \"llama\"}\n"));
  CHECK_FALSE(looks_like_lfs_pointer(""));
}
