#include "core/trust/release_manifest.hpp"

#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using weights::Errc;
using weights::parse_release_manifest;
using weights::ReleaseManifest;
using Json = nlohmann::json;

namespace {

const std::string kHash64a(64, 'a');
const std::string kHash64b(64, 'b');
const std::string kHash40(40, 'c');

Json valid_doc() {
  return Json{
      {"_type", "weights-release/v1"},
      {"model", "google/gemma-4-12b-it"},
      {"aliases", {"gemma-4", "google/gemma-latest"}},
      {"revision", "0123456789abcdef0123456789abcdef01234567"},
      {"release_seq", 3},
      {"license", "gemma"},
      {"published", "2026-04-02T00:00:00Z"},
      {"files",
       {{{"path", ".gitattributes"}, {"length", 0}, {"sha256", kHash64a}, {"git_oid", kHash40}},
        {{"path", "config.json"}, {"length", 826}, {"sha256", kHash64a}, {"bt_root", kHash64a}},
        {{"path", "model/weights.safetensors"},
         {"length", 5000000000},
         {"sha256", kHash64b},
         {"bt_root", kHash64b}}}},
      {"total_length", 5000000826},
      {"torrent",
       {{"v2_infohash", kHash64a},
        {"v1_infohash", kHash40},
        {"piece_length", 4194304},
        {"web_seeds", {"https://huggingface.co/google/gemma-4-12b-it/resolve/"}},
        {"trackers", {"udp://tracker.example:6969/announce"}}}},
      {"upstream", {{"kind", "huggingface"}, {"repo", "google/gemma-4-12b-it"}}},
  };
}

// Parses `doc` and expects a rejection with `code` whose message contains `needle`.
void expect_rejected(const std::string& text, Errc code, const std::string& needle) {
  auto m = parse_release_manifest(text);
  REQUIRE_FALSE(m);
  INFO(m.error().message);
  CHECK(m.error().code == code);
  CHECK_THAT(m.error().message, Catch::Contains(needle));
}
void expect_rejected(const Json& doc, Errc code, const std::string& needle) {
  expect_rejected(doc.dump(), code, needle);
}

}  // namespace

TEST_CASE("a valid manifest parses into every field", "[release_manifest]") {
  auto m = parse_release_manifest(valid_doc().dump());
  REQUIRE(m);
  CHECK(m->model == "google/gemma-4-12b-it");
  CHECK(m->aliases.size() == 2);
  CHECK(m->release_seq == 3);
  REQUIRE(m->files.size() == 3);
  CHECK(m->files[0].bt_root.empty());
  CHECK(m->files[0].git_oid == kHash40);
  CHECK(m->files[2].length == 5000000000ULL);
  CHECK_FALSE(m->files[2].git_oid);
  CHECK(m->total_length == 5000000826ULL);
  CHECK(m->torrent.piece_length == 4194304);
  CHECK(m->torrent.web_seeds.size() == 1);
  CHECK(m->upstream.kind == "huggingface");
}

TEST_CASE("serialising is deterministic and round-trips", "[release_manifest]") {
  auto m = parse_release_manifest(valid_doc().dump());
  REQUIRE(m);
  auto pretty = weights::serialize_release_manifest(*m);
  auto compact = weights::serialize_release_manifest(*m, weights::JsonStyle::compact);
  REQUIRE(pretty);
  REQUIRE(compact);
  CHECK(*pretty == *weights::serialize_release_manifest(*m));
  CHECK(compact->find('\n') == std::string::npos);
  auto again = parse_release_manifest(*pretty);
  REQUIRE(again);
  CHECK(*again == *m);
  CHECK(*parse_release_manifest(*compact) == *m);
  // Optional fields are omitted, not written as empty.
  CHECK(compact->find("\"bt_root\":\"\"") == std::string::npos);
}

TEST_CASE("unknown fields are ignored", "[release_manifest]") {
  Json doc = valid_doc();
  doc["comment"] = "hello";
  doc["files"][1]["x-extra"] = 1;
  CHECK(parse_release_manifest(doc.dump()));
}

TEST_CASE("serialising an invalid manifest is refused", "[release_manifest]") {
  auto m = parse_release_manifest(valid_doc().dump());
  REQUIRE(m);
  m->total_length += 1;
  auto bytes = weights::serialize_release_manifest(*m);
  REQUIRE_FALSE(bytes);
  CHECK(bytes.error().code == Errc::schema_error);
}

TEST_CASE("hostile file paths are rejected by the path policy", "[release_manifest]") {
  for (const char* path : {"../../etc/passwd", "/abs", "a\\b", "a/./b", "C:x", "a\nb"}) {
    Json doc = valid_doc();
    doc["files"][1]["path"] = path;
    INFO(path);
    expect_rejected(doc, Errc::path_policy, "files[1].path");
  }
}

TEST_CASE("duplicate, unsorted and colliding paths are rejected", "[release_manifest]") {
  Json dup = valid_doc();
  dup["files"][2]["path"] = "config.json";
  expect_rejected(dup, Errc::schema_error, "files[2].path: duplicate path");

  Json unsorted = valid_doc();
  std::swap(unsorted["files"][1], unsorted["files"][2]);
  expect_rejected(unsorted, Errc::schema_error, "not sorted");

  Json collide = valid_doc();
  collide["files"][1]["path"] = "MODEL/weights.safetensors";
  expect_rejected(collide, Errc::path_policy, "collides");

  Json file_and_dir = valid_doc();
  file_and_dir["files"][1]["path"] = "model";
  expect_rejected(file_and_dir, Errc::path_policy, "also a directory");
}

TEST_CASE("total_length must equal the sum of file lengths", "[release_manifest]") {
  Json doc = valid_doc();
  doc["total_length"] = 5000000825;
  expect_rejected(doc, Errc::schema_error, "total_length: is 5000000825 but the files add up to");
}

TEST_CASE("lengths that are floats, negative or beyond 2^53 are rejected", "[release_manifest]") {
  const std::string base = valid_doc().dump();
  const std::string needle = "\"length\":826";
  REQUIRE(base.find(needle) != std::string::npos);
  for (const char* bad : {"826.0", "8.26e2", "-826", "18446744073709551616", "9007199254740993",
                          "\"826\"", "null", "true"}) {
    std::string text = base;
    text.replace(text.find(needle), needle.size(), std::string("\"length\":") + bad);
    INFO(bad);
    auto m = parse_release_manifest(text);
    REQUIRE_FALSE(m);
    CHECK(m.error().code == Errc::schema_error);
    CHECK_THAT(m.error().message, Catch::Contains("files[1].length"));
  }
}

TEST_CASE("lengths near 2^53 cannot overflow the total", "[release_manifest]") {
  Json doc = valid_doc();
  doc["files"][1]["length"] = 9007199254740992ULL;
  doc["files"][2]["length"] = 9007199254740992ULL;
  doc["total_length"] = 0;
  expect_rejected(doc, Errc::schema_error, "exceeds 2^53");
}

TEST_CASE("bt_root is required exactly for non-empty files", "[release_manifest]") {
  Json missing = valid_doc();
  missing["files"][1].erase("bt_root");
  expect_rejected(missing, Errc::schema_error, "files[1].bt_root: missing");

  Json on_empty = valid_doc();
  on_empty["files"][0]["bt_root"] = kHash64a;
  expect_rejected(on_empty, Errc::schema_error, "files[0].bt_root: must be absent");

  Json empty_string = valid_doc();
  empty_string["files"][1]["bt_root"] = "";
  expect_rejected(empty_string, Errc::schema_error, "files[1].bt_root");
}

TEST_CASE("hashes must be exact-length lowercase hex", "[release_manifest]") {
  Json upper = valid_doc();
  upper["files"][1]["sha256"] = std::string(64, 'A');
  expect_rejected(upper, Errc::schema_error, "files[1].sha256: expected 64 lowercase hex");
  Json short_hash = valid_doc();
  short_hash["files"][1]["bt_root"] = std::string(62, 'a');
  expect_rejected(short_hash, Errc::schema_error, "files[1].bt_root");
  Json git = valid_doc();
  git["files"][0]["git_oid"] = std::string(64, 'a');
  expect_rejected(git, Errc::schema_error, "files[0].git_oid: expected 40");
  Json v2 = valid_doc();
  v2["torrent"]["v2_infohash"] = kHash40;
  expect_rejected(v2, Errc::schema_error, "torrent.v2_infohash");
  Json nonhex = valid_doc();
  nonhex["torrent"]["v1_infohash"] = std::string(40, 'g');
  expect_rejected(nonhex, Errc::schema_error, "torrent.v1_infohash");
}

TEST_CASE("model, revision and aliases must be safe identifiers", "[release_manifest]") {
  for (const char* model : {"gemma", "a/b/c", "../x", "org/..", "org/.hidden", "org/-x", "",
                            "org/na me", "org/n\xC3\xA9"}) {
    Json doc = valid_doc();
    doc["model"] = model;
    INFO(model);
    expect_rejected(doc, Errc::schema_error, "model:");
  }
  for (const char* rev : {"", ".", "..", "a/b", "-rf", ".git", "a b", "rev:1"}) {
    Json doc = valid_doc();
    doc["revision"] = rev;
    INFO(rev);
    expect_rejected(doc, Errc::schema_error, "revision:");
  }
  CHECK(weights::is_valid_revision("v1.0"));
  CHECK(weights::is_valid_revision("main"));
  Json alias = valid_doc();
  alias["aliases"] = {"ok", "../bad"};
  expect_rejected(alias, Errc::schema_error, "aliases[1]");
  Json dup_alias = valid_doc();
  dup_alias["aliases"] = {"x", "x"};
  expect_rejected(dup_alias, Errc::schema_error, "aliases[1]: duplicate");
}

TEST_CASE("piece length must be a power of two from 16 KiB to 64 MiB", "[release_manifest]") {
  for (std::uint64_t bad : {0ULL, 8192ULL, 3000000ULL, 128ULL << 20, 4194305ULL}) {
    Json doc = valid_doc();
    doc["torrent"]["piece_length"] = bad;
    INFO(bad);
    expect_rejected(doc, Errc::schema_error, "torrent.piece_length");
  }
  for (std::uint64_t good : {16384ULL, 64ULL << 20}) {
    Json doc = valid_doc();
    doc["torrent"]["piece_length"] = good;
    CHECK(parse_release_manifest(doc.dump()));
  }
}

TEST_CASE("web seeds must be http(s) URLs", "[release_manifest]") {
  for (const char* url : {"file:///etc/passwd", "ftp://x/", "javascript:alert(1)", "https://",
                          "https:///path", "http://a b/", "//host/"}) {
    Json doc = valid_doc();
    doc["torrent"]["web_seeds"] = {url};
    INFO(url);
    expect_rejected(doc, Errc::schema_error, "torrent.web_seeds[0]");
  }
  Json tracker = valid_doc();
  tracker["torrent"]["trackers"] = {"wss://x/"};
  expect_rejected(tracker, Errc::schema_error, "torrent.trackers[0]");
}

TEST_CASE("wrong type, missing fields and malformed JSON are rejected", "[release_manifest]") {
  Json type = valid_doc();
  type["_type"] = "weights-release/v2";
  expect_rejected(type, Errc::schema_error, "_type");
  Json missing = valid_doc();
  missing.erase("published");
  expect_rejected(missing, Errc::schema_error, "published");
  Json bad_time = valid_doc();
  bad_time["published"] = "2026-04-02 00:00:00";
  expect_rejected(bad_time, Errc::schema_error, "published");
  Json no_files = valid_doc();
  no_files["files"] = Json::array();
  expect_rejected(no_files, Errc::schema_error, "files");
  Json not_object = valid_doc();
  not_object["files"][1] = "config.json";
  expect_rejected(not_object, Errc::schema_error, "files[1]");

  const std::string text = valid_doc().dump();
  auto dup_key = parse_release_manifest(R"({"_type":"weights-release/v1","_type":"x"})");
  REQUIRE_FALSE(dup_key);
  CHECK(dup_key.error().code == Errc::parse_error);
  CHECK_FALSE(parse_release_manifest(text + "x"));
  CHECK_FALSE(parse_release_manifest("[]"));
  CHECK_FALSE(parse_release_manifest(""));
}
