#include <filesystem>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sys/stat.h>

#include "core/catalog/pin.hpp"
#include "core/util/atomic_file.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::catalog;
using weights::testing::TempDir;

namespace {

constexpr const char* commit_a = "842da3794eaa0b77d5f08bae87a17459d91ff475";
constexpr const char* sha_config =
    "1111111111111111111111111111111111111111111111111111111111111111";
constexpr const char* sha_model =
    "2222222222222222222222222222222222222222222222222222222222222222";
constexpr const char* git_config = "3333333333333333333333333333333333333333";
constexpr const char* info_hash =
    "4444444444444444444444444444444444444444444444444444444444444444";

// Entry A (pinned in these tests) between comments, and entry B, which must never change.
constexpr const char* head = R"(# The tiny family: a test file.
schema = 1
family = "tiny"
default = "a"

# Entry A, pinned below.
[[model]]
id = "test-org/tiny-a"
variant = "a"
upstream = "huggingface"
repo = "test-org/tiny-a"
commit = "842da3794eaa0b77d5f08bae87a17459d91ff475"
license = "mit"  # the card says so
)";
constexpr const char* source_a = R"(
# Where the commit id was seen.
[[model.source]]
url = "https://example.org/pins/a"
confidence = "high"
)";
constexpr const char* entry_b = R"(
# Entry B stays as it is.
[[model]]
id = "test-org/tiny-b"
variant = "b"
upstream = "huggingface"
repo = "test-org/tiny-b"
commit = "ee0ef6023621cff504d758262d4e04895a5af4a2"
license = "unknown"

[[model.source]]
quote = "b's commit"
confidence = "medium"
)";

PinnedFields pinned(bool with_info_hash = true) {
  PinnedFields p;
  p.commit = commit_a;
  p.files.push_back({"config.json", 40, sha_config, git_config});
  p.files.push_back({"model.safetensors", 1048576, sha_model, ""});
  if (with_info_hash) p.info_hash_v2 = info_hash;
  return p;
}

std::string file_text(std::string_view a_keys = "", std::string_view a_tables = "") {
  return std::string(head) + std::string(a_keys) + source_a + std::string(a_tables) + entry_b;
}

const Entry& entry(const CatalogFile& f, std::string_view id) {
  for (const auto& e : f.entries) {
    if (e.id == id) return e;
  }
  FAIL("no entry " << id);
  return f.entries.front();
}

}  // namespace

TEST_CASE(
    "pinning adds the keys to the entry's table and its files after its last table, keeping "
    "every comment and the other entries byte for byte",
    "[catalog][pin]") {
  const std::string in = file_text();
  auto r = rewrite_entry(in, "tiny.toml", "test-org/tiny-a", pinned());
  REQUIRE(r);
  CHECK(r->changed);
  const std::string want = std::string(head) +
                           "files_complete = true\n"
                           "info_hash_v2 = \"" +
                           info_hash + "\"\n" + source_a +
                           "\n[[model.files]]\n"
                           "path = \"config.json\"\n"
                           "size = 40\n"
                           "sha256 = \"" +
                           sha_config + "\"\ngit_sha1 = \"" + git_config +
                           "\"\n"
                           "\n[[model.files]]\n"
                           "path = \"model.safetensors\"\n"
                           "size = 1048576\n"
                           "sha256 = \"" +
                           sha_model + "\"\n" + entry_b;
  CHECK(r->text == want);
  auto f = parse_catalog(r->text, "tiny.toml");
  REQUIRE(f);
  const Entry& a = entry(*f, "test-org/tiny-a");
  CHECK(a.files_complete);
  CHECK(a.info_hash_v2 == info_hash);
  REQUIRE(a.files.size() == 2);
  CHECK(a.files[1].git_sha1.empty());
}

TEST_CASE("pinning an entry that already has every pinned field changes nothing",
          "[catalog][pin]") {
  auto once = rewrite_entry(file_text(), "tiny.toml", "test-org/tiny-a", pinned());
  REQUIRE(once);
  auto twice = rewrite_entry(once->text, "tiny.toml", "test-org/tiny-a", pinned());
  REQUIRE(twice);
  CHECK_FALSE(twice->changed);
  CHECK(twice->text == once->text);
}

TEST_CASE(
    "recorded files get the fields they lack in place, under their own comments, and "
    "files_complete = false becomes true with its comment kept",
    "[catalog][pin]") {
  const std::string in =
      file_text("files_complete = false  # partial, from a public listing\n",
                fmt::format("\n# the shard, as a blog post listed it\n[[model.files]]\n"
                            "path = \"model.safetensors\"\nsha256 = \"{}\"\n",
                            sha_model));
  auto r = rewrite_entry(in, "tiny.toml", "test-org/tiny-a", pinned(false));
  REQUIRE(r);
  const std::string want =
      file_text("files_complete = true  # partial, from a public listing\n",
                fmt::format("\n# the shard, as a blog post listed it\n[[model.files]]\n"
                            "path = \"model.safetensors\"\nsha256 = \"{}\"\nsize = 1048576\n"
                            "\n[[model.files]]\npath = \"config.json\"\nsize = 40\n"
                            "sha256 = \"{}\"\ngit_sha1 = \"{}\"\n",
                            sha_model, sha_config, git_config));
  CHECK(r->text == want);
}

TEST_CASE("CRLF line endings and a missing final newline are kept", "[catalog][pin]") {
  std::string in;
  for (char c : file_text()) {
    if (c == '\n') in += '\r';
    in += c;
  }
  in.resize(in.size() - 2);  // no final line break
  auto r = rewrite_entry(in, "tiny.toml", "test-org/tiny-a", pinned());
  REQUIRE(r);
  CHECK(r->text.find("files_complete = true\r\ninfo_hash_v2") != std::string::npos);
  CHECK(r->text.find("\n[[model.files]]\r\npath = \"config.json\"\r\n") != std::string::npos);
  // Every line break is still CRLF.
  for (std::size_t i = 0; i < r->text.size(); ++i) {
    if (r->text[i] == '\n') REQUIRE((i > 0 && r->text[i - 1] == '\r'));
  }
  CHECK(r->text.back() != '\n');
  CHECK(parse_catalog(r->text, "tiny.toml"));
  // The last entry, the one at the unterminated end, is pinned as well.
  PinnedFields b;
  b.commit = "ee0ef6023621cff504d758262d4e04895a5af4a2";
  b.files.push_back({"README.md", 3, sha_config, git_config});
  auto rb = rewrite_entry(in, "tiny.toml", "test-org/tiny-b", b);
  REQUIRE(rb);
  auto f = parse_catalog(rb->text, "tiny.toml");
  REQUIRE(f);
  CHECK(entry(*f, "test-org/tiny-b").files.size() == 1);
  CHECK(entry(*f, "test-org/tiny-a").files.empty());
}

TEST_CASE("a pin that contradicts the entry is refused naming the file and changes nothing",
          "[catalog][pin]") {
  const std::string in =
      file_text("", fmt::format("\n[[model.files]]\npath = \"config.json\"\nsize = 41\n"));
  auto r = rewrite_entry(in, "tiny.toml", "test-org/tiny-a", pinned());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::length_mismatch);
  CHECK_THAT(r.error().message,
             Catch::Contains("tiny.toml:7: test-org/tiny-a: config.json: the entry records 41 "
                             "bytes, commit 842da3794eaa pins 40"));
  PinnedFields other = pinned();
  other.commit = "ee0ef6023621cff504d758262d4e04895a5af4a2";
  auto c = rewrite_entry(file_text(), "tiny.toml", "test-org/tiny-a", other);
  REQUIRE_FALSE(c);
  CHECK(c.error().code == Errc::wrong_target);
}

TEST_CASE("an entry whose files are inline tables is not edited as text", "[catalog][pin]") {
  const std::string in = file_text("files = [{ path = \"config.json\", size = 40 }]\n");
  auto r = rewrite_entry(in, "tiny.toml", "test-org/tiny-a", pinned());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::unsupported);
  CHECK_THAT(r.error().message, Catch::Contains("inline tables"));
  CHECK_THAT(r.error().hint, Catch::Contains("by hand"));
}

TEST_CASE("an edit that would land inside a multi-line string is refused by the read-back check",
          "[catalog][pin]") {
  // The string's last line looks like a comment, so the keys would go into the string.
  const std::string in = file_text("note = \"\"\"\nsee below\n# not a comment\"\"\"\n");
  auto r = rewrite_entry(in, "tiny.toml", "test-org/tiny-a", pinned());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::unsupported);
  CHECK_THAT(r.error().message, Catch::Contains("does not read back"));
}

TEST_CASE("an id the file does not define is not_found", "[catalog][pin]") {
  auto r = rewrite_entry(file_text(), "tiny.toml", "test-org/nothing", pinned());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::not_found);
}

TEST_CASE("write_pinned_entry replaces the file keeping its mode, and leaves a pinned file alone",
          "[catalog][pin]") {
  TempDir dir;
  const auto path = dir / "tiny.toml";
  REQUIRE(write_file_atomic(path, file_text(), 0600));
  auto w = write_pinned_entry(path, "test-org/tiny-a", pinned());
  REQUIRE(w);
  CHECK(*w);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  auto f = read_catalog_file(path);
  REQUIRE(f);
  CHECK(entry(*f, "test-org/tiny-a").files_complete);
  const auto inode = st.st_ino;
  auto again = write_pinned_entry(path, "test-org/tiny-a", pinned());
  REQUIRE(again);
  CHECK_FALSE(*again);
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(st.st_ino == inode);  // not replaced
}

TEST_CASE("compare_with_pin names each recorded file the commit contradicts", "[catalog][pin]") {
  auto f = parse_catalog(file_text("files_complete = true\n",
                                   fmt::format("\n[[model.files]]\npath = \"model.safetensors\"\n"
                                               "sha256 = \"{}\"\ngit_sha1 = \"{}\"\n"
                                               "\n[[model.files]]\npath = \"extra.bin\"\n"
                                               "size = 1\n",
                                               sha_config, git_config)),
                         "tiny.toml");
  REQUIRE(f);
  const auto diffs = compare_with_pin(entry(*f, "test-org/tiny-a"), pinned());
  REQUIRE(diffs.size() == 4);
  CHECK(diffs[0].subject == "model.safetensors");
  CHECK(diffs[0].code == Errc::hash_mismatch);
  CHECK_THAT(diffs[1].message, Catch::Contains("stores the file with LFS"));
  CHECK(diffs[2].subject == "extra.bin");
  CHECK(diffs[2].code == Errc::wrong_target);
  CHECK(diffs[3].subject == "config.json");
  CHECK_THAT(diffs[3].message, Catch::Contains("missing from the entry's complete file list"));
}

TEST_CASE("the pasteable TOML lists the keys and every file, with paths escaped",
          "[catalog][pin]") {
  auto f = parse_catalog(file_text(), "tiny.toml");
  REQUIRE(f);
  PinnedFields p = pinned();
  p.files.push_back({"odd \"name\"\\.txt", 1, sha_config, git_config});
  const std::string out = pinned_fields_toml(entry(*f, "test-org/tiny-a"), p);
  CHECK_THAT(out, Catch::Contains("files_complete = true\ninfo_hash_v2 = \""));
  CHECK_THAT(out, Catch::Contains("path = \"odd \\\"name\\\"\\\\.txt\""));
  CHECK(toml_string("a\"b") == "\"a\\\"b\"");
}

TEST_CASE("the hub's model API gives the hints git cannot: gating, licence and the id's spelling",
          "[catalog][pin]") {
  auto h = parse_hub_hints(
      R"({"id": "Test-Org/Tiny-A", "sha": "842DA3794EAA0B77D5F08BAE87A17459D91FF475",
          "gated": "manual", "cardData": {"license": "Apache-2.0"}})");
  REQUIRE(h);
  CHECK(h->sha == commit_a);
  CHECK(h->gated == std::optional<bool>(true));
  CHECK(h->license == "Apache-2.0");
  auto f = parse_catalog(file_text(), "tiny.toml");
  REQUIRE(f);
  const auto hints = compare_hints(entry(*f, "test-org/tiny-a"), *h);
  REQUIRE(hints.size() == 3);
  CHECK(hints[0].subject == "repo");
  CHECK(hints[1].subject == "gated");
  CHECK_THAT(hints[1].message,
             Catch::Contains("the entry says not known, the hub's API says true"));
  CHECK(hints[2].subject == "license");

  auto open = parse_hub_hints(R"({"sha": "842da3794eaa0b77d5f08bae87a17459d91ff475",
                                  "gated": false, "cardData": {"license": "MIT"}})");
  REQUIRE(open);
  CHECK(open->gated == std::optional<bool>(false));
  Entry e = entry(*f, "test-org/tiny-a");
  e.gated = false;
  CHECK(compare_hints(e, *open).empty());  // licences compare case-insensitively

  CHECK(parse_hub_hints("[]").error().code == Errc::schema_error);
  CHECK(parse_hub_hints(R"({"sha": "main"})").error().code == Errc::schema_error);
  CHECK(parse_hub_hints(R"({"sha": "842da3794eaa0b77d5f08bae87a17459d91ff475", "gated": 1})")
            .error()
            .code == Errc::schema_error);
  CHECK(parse_hub_hints("{").error().code == Errc::parse_error);
}

TEST_CASE("every shipped entry can be pinned with --write, and the edit only adds lines",
          "[catalog][pin]") {
  auto files = catalog_files(std::filesystem::path(WEIGHTS_SOURCE_DIR) / "manifests" / "catalog");
  REQUIRE(files);
  REQUIRE_FALSE(files->empty());
  int pinned_entries = 0;
  for (const auto& path : *files) {
    auto text = read_file(path, max_file_bytes);
    REQUIRE(text);
    auto f = parse_catalog(*text, path.string());
    REQUIRE(f);
    for (const auto& e : f->entries) {
      INFO(e.id);
      // Fields that agree with what the entry records, plus a file it does not list.
      PinnedFields p;
      p.commit = e.commit;
      for (const auto& r : e.files) {
        p.files.push_back(
            {r.path, r.size.value_or(1), r.sha256.empty() ? sha_model : r.sha256, r.git_sha1});
      }
      if (!e.files_complete) p.files.push_back({"added-by-pin.json", 2, sha_config, git_config});
      auto r = rewrite_entry(*text, path.string(), e.id, p);
      REQUIRE(r);
      // Every original line is still there, in order.
      std::istringstream before(*text), after(r->text);
      std::string want, got;
      while (std::getline(before, want)) {
        bool found = false;
        while (!found && std::getline(after, got)) found = got == want;
        REQUIRE(found);
      }
      ++pinned_entries;
    }
  }
  CHECK(pinned_entries >= 9);
}
