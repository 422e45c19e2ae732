#include "core/net/hf_hub.hpp"

#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/util/crypto.hpp"
#include "core/util/file_hash.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::hf;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, std::string_view data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

// Git blob id of `data`, computed the way git does ("blob <len>\0" + content), through the
// same hashing path the publisher uses.
std::string git_oid_of(const fs::path& p) {
  auto d = hash_file(p);
  REQUIRE(d);
  REQUIRE(d->git_oid);
  return to_hex(*d->git_oid);
}

}  // namespace

TEST_CASE("parse_revision_info reads sha and the card's license") {
  auto r = parse_revision_info(
      R"({"id":"o/n","sha":"0123456789abcdef0123456789abcdef01234567",)"
      R"("cardData":{"license":"apache-2.0"},"siblings":[{"rfilename":"config.json"}]})");
  REQUIRE(r);
  CHECK(r->sha == "0123456789abcdef0123456789abcdef01234567");
  CHECK(r->license == "apache-2.0");
  auto no_card = parse_revision_info(R"({"sha":"0123456789abcdef0123456789abcdef01234567"})");
  REQUIRE(no_card);
  CHECK(no_card->license.empty());
  CHECK(parse_revision_info(R"({"sha":"main"})").error().code == Errc::schema_error);
  CHECK(parse_revision_info(R"({"id":"o/n"})").error().code == Errc::schema_error);
  CHECK_FALSE(parse_revision_info("[1]"));
  CHECK_FALSE(parse_revision_info("{"));
}

TEST_CASE("parse_tree keeps files, skips directories, checks every field") {
  const std::string sha256(64, 'a');
  std::vector<HubFile> files;
  REQUIRE(parse_tree(
      R"([{"type":"directory","oid":"1111111111111111111111111111111111111111","size":0,"path":"sub"},)"
      R"({"type":"file","oid":"2222222222222222222222222222222222222222","size":12,"path":"sub/config.json"},)"
      R"({"type":"file","oid":"3333333333333333333333333333333333333333","size":1048576,)"
      R"("path":"model.safetensors","lfs":{"oid":")" +
          sha256 + R"(","size":1048576,"pointerSize":134}}])",
      files));
  REQUIRE(files.size() == 2);
  CHECK(files[0].path == "sub/config.json");
  CHECK(files[0].size == 12);
  CHECK(files[0].git_oid == std::string(40, '2'));
  CHECK_FALSE(files[0].lfs_sha256);
  CHECK(files[1].lfs_sha256 == sha256);

  auto bad = [](const std::string& entry) {
    std::vector<HubFile> f;
    return parse_tree("[" + entry + "]", f);
  };
  // Path traversal, a bad oid, a negative/float size, lfs size disagreeing, unknown types.
  CHECK(
      bad(R"({"type":"file","oid":"2222222222222222222222222222222222222222","size":1,"path":"../x"})")
          .error()
          .code == Errc::path_policy);
  CHECK(bad(R"({"type":"file","oid":"22","size":1,"path":"x"})").error().code ==
        Errc::schema_error);
  CHECK_FALSE(bad(
      R"({"type":"file","oid":"2222222222222222222222222222222222222222","size":1.5,"path":"x"})"));
  CHECK(
      bad(R"({"type":"file","oid":"2222222222222222222222222222222222222222","size":2,"path":"x",)"
          R"("lfs":{"oid":")" +
          sha256 + R"(","size":3}})")
          .error()
          .code == Errc::schema_error);
  CHECK(
      bad(R"({"type":"submodule","oid":"2222222222222222222222222222222222222222","size":0,"path":"x"})")
          .error()
          .code == Errc::unsupported);
  CHECK_FALSE(bad("1"));
}

TEST_CASE("next_link finds rel=next among several links") {
  CHECK(next_link(R"(<https://h/api/models/o/n/tree/s?recursive=true&cursor=abc>; rel="next")") ==
        "https://h/api/models/o/n/tree/s?recursive=true&cursor=abc");
  CHECK(next_link(R"(<https://h/a>; rel="prev", <https://h/b>; rel="next")") == "https://h/b");
  CHECK(next_link(R"(<https://h/a>; rel="prev")").empty());
  CHECK(next_link("").empty());
  CHECK(next_link("<unterminated").empty());
}

TEST_CASE("cache folder names and default cache dir") {
  CHECK(cache_repo_folder("google/gemma-4") == "models--google--gemma-4");
  ReleaseFile f;
  f.sha256 = std::string(64, 'a');
  CHECK(cache_blob_name(f) == f.sha256);
  f.git_oid = std::string(40, 'b');
  CHECK(cache_blob_name(f) == *f.git_oid);

  ::setenv("HF_HUB_CACHE", "/x/hub", 1);
  CHECK(default_cache_dir() == "/x/hub");
  ::unsetenv("HF_HUB_CACHE");
  ::setenv("HF_HOME", "/y", 1);
  CHECK(default_cache_dir() == "/y/hub");
  ::unsetenv("HF_HOME");
}

TEST_CASE("open_cache_snapshot verifies blob links and names") {
  testing::TempDir t;
  const std::string sha(40, 'e');
  const fs::path repo = t / "models--org--m";
  write(repo / "blobs" / "tmp-config", "{\"x\": 2}\n");
  const std::string cfg_oid = git_oid_of(repo / "blobs" / "tmp-config");
  fs::rename(repo / "blobs" / "tmp-config", repo / "blobs" / cfg_oid);
  write(repo / "blobs" / "tmp-w", std::string(3000, 'q'));
  const std::string w_sha = to_hex(hash_file(repo / "blobs" / "tmp-w")->sha256);
  fs::rename(repo / "blobs" / "tmp-w", repo / "blobs" / w_sha);
  const fs::path snap = repo / "snapshots" / sha;
  fs::create_directories(snap / "sub");
  fs::create_symlink("../../blobs/" + cfg_oid, snap / "config.json");
  fs::create_symlink("../../../blobs/" + w_sha, snap / "sub" / "w.safetensors");
  write(repo / "refs" / "main", sha);

  auto s = open_cache_snapshot(repo, std::nullopt);
  REQUIRE(s);
  CHECK(s->repo == "org/m");
  CHECK(s->revision == sha);
  REQUIRE(s->files.size() == 2);
  CHECK(s->files[0].path == "config.json");
  CHECK(s->files[0].blob_name == cfg_oid);
  CHECK(s->files[1].path == "sub/w.safetensors");
  auto direct = open_cache_snapshot(snap, std::nullopt);
  REQUIRE(direct);
  CHECK(direct->files.size() == 2);

  std::vector<ReleaseFile> files(2);
  files[0].path = "config.json";
  files[0].sha256 = to_hex(hash_file(snap / "config.json")->sha256);
  files[0].git_oid = cfg_oid;
  files[1].path = "sub/w.safetensors";
  files[1].sha256 = w_sha;
  files[1].git_oid = std::string(40, '7');  // computed for a small file, but it is LFS here
  REQUIRE(check_against_cache(*s, files));
  CHECK_FALSE(files[1].git_oid);
  files[1].sha256 = std::string(64, '0');
  CHECK(check_against_cache(*s, files).error().code == Errc::hash_mismatch);

  // A plain file in the snapshot cannot be checked against a name: refused.
  write(snap / "plain.txt", "x");
  CHECK(open_cache_snapshot(snap, std::nullopt).error().code == Errc::invalid_argument);
  fs::remove(snap / "plain.txt");
  // A link out of blobs/ is refused.
  fs::create_symlink("/etc/hostname", snap / "escape");
  CHECK(open_cache_snapshot(snap, std::nullopt).error().code == Errc::invalid_argument);
  fs::remove(snap / "escape");
  CHECK_FALSE(open_cache_snapshot(t / "not-a-cache", std::nullopt));
}

TEST_CASE("lfs_by_default follows the hub's default .gitattributes") {
  CHECK(lfs_by_default("model-00001-of-00002.safetensors"));
  CHECK(lfs_by_default("sub/pytorch_model.bin"));
  CHECK(lfs_by_default("tokenizer.model"));
  CHECK(lfs_by_default("q4.gguf"));
  CHECK(lfs_by_default("data.tar.gz"));
  CHECK(lfs_by_default("saved_model/variables/x"));
  CHECK_FALSE(lfs_by_default("config.json"));
  CHECK_FALSE(lfs_by_default("README.md"));
  CHECK_FALSE(lfs_by_default("safetensors"));
  CHECK_FALSE(lfs_by_default("model.safetensors.index.json"));
}

TEST_CASE("signed_url_expired: a 403 or 410 from the CDN, never one from the hub itself",
          "[hf_hub]") {
  const auto hub = parse_url("https://huggingface.co");
  const auto cdn = parse_url("https://cas-bridge.xethub.hf.co/x/abc?X-Amz-Expires=3600");
  const auto hub_page = parse_url("https://huggingface.co/org/name/resolve/main/f");
  REQUIRE((hub && cdn && hub_page));
  CHECK(hf::signed_url_expired(*hub, *cdn, 403));
  CHECK(hf::signed_url_expired(*hub, *cdn, 410));
  CHECK_FALSE(hf::signed_url_expired(*hub, *cdn, 404));
  CHECK_FALSE(hf::signed_url_expired(*hub, *cdn, 500));
  CHECK_FALSE(hf::signed_url_expired(*hub, *hub_page, 403));  // gated: a token is needed
}

TEST_CASE("hub_status_error: 451 says legally barred and names peers and mirrors", "[hf_hub]") {
  const auto hub = parse_url("https://huggingface.co");
  REQUIRE(hub);
  ResponseHead head;
  head.status = 451;
  const Error e = hf::hub_status_error(*hub, *hub, head, "org/name: config.json");
  CHECK_THAT(e.message, Catch::Contains("org/name: config.json") &&
                            Catch::Contains("HTTP 451: the hub is legally barred"));
  CHECK_THAT(e.hint,
             Catch::Contains("peers") && Catch::Contains("mirror") && !Catch::Contains("later"));
  head.status = 403;
  const Error forbidden = hf::hub_status_error(*hub, *hub, head, "x");
  CHECK(forbidden.code == Errc::permission_denied);
  CHECK_THAT(forbidden.hint, Catch::Contains("gated") && Catch::Contains("repository's page"));
}

namespace {

// A hub answer as the client parses it, with the headers the Hub keeps.
ResponseHead answer(std::string_view status_line, std::string_view headers = {}) {
  HttpOptions o;
  o.keep_headers = {std::string(error_code_header), std::string(repo_commit_header)};
  auto r = parse_http_response(
      fmt::format("HTTP/1.1 {}\r\n{}Content-Length: 2\r\n\r\n{{}}", status_line, headers), 1024, o,
      "https://huggingface.co/x");
  REQUIRE(r);
  return *r;
}

}  // namespace

TEST_CASE("each hub refusal is a distinct error that names what was refused and never the token",
          "[hf_hub]") {
  const Url hub = parse_url("https://huggingface.co").value();
  const Url api = parse_url("https://huggingface.co/api/models/org/name/revision/v2").value();
  const Url cdn = parse_url("https://cas-bridge.xethub.hf.co/obj?X-Amz-Signature=s").value();
  const std::string commit = "0123456789abcdef0123456789abcdef01234567";
  const HubSubject anon{"org/name", "v2", "model.safetensors", false};
  HubSubject with_token = anon;
  with_token.token_sent = true;
  struct Case {
    std::string status_line;
    std::string headers;
    Url from;
    HubRefusal refusal;
    Errc code;
    std::vector<std::string> message;  // each must appear
    std::vector<std::string> hint;
  };
  const std::vector<Case> cases{
      {"401 Unauthorized",
       "X-Error-Code: RepoNotFound\r\n",
       api,
       HubRefusal::repo_not_found,
       Errc::not_found,
       {"repository org/name not found", "private", "RepoNotFound"},
       {"check ORG/NAME", "HF_TOKEN"}},
      {"404 Not Found",
       "X-Error-Code: RevisionNotFound\r\n",
       api,
       HubRefusal::revision_not_found,
       Errc::not_found,
       {"no revision 'v2'", "RevisionNotFound"},
       {"40-hex commit"}},
      {"404 Not Found",
       "x-error-code: EntryNotFound\r\nX-Repo-Commit: " + commit + "\r\n",
       api,
       HubRefusal::entry_not_found,
       Errc::not_found,
       {"no file 'model.safetensors' in org/name@v2, commit " + commit, "EntryNotFound"},
       {"mirror"}},
      {"403 Forbidden",
       "X-Error-Code: GatedRepo\r\n",
       api,
       HubRefusal::gated,
       Errc::permission_denied,
       {"gated repository", "accepted its licence"},
       {"accept the licence at https://huggingface.co/org/name with", "then set HF_TOKEN",
        "never accepts"}},
      {"401 Unauthorized",
       "",
       api,
       HubRefusal::unauthorized,
       Errc::permission_denied,
       {"HTTP 401", "wants authentication"},
       {"set HF_TOKEN"}},
      {"403 Forbidden",
       "",
       api,
       HubRefusal::forbidden,
       Errc::permission_denied,
       {"HTTP 403", "refuses access"},
       {"gated", "never accepts"}},
      {"404 Not Found",
       "",
       api,
       HubRefusal::not_found,
       Errc::not_found,
       {"HTTP 404", "no such repository, revision or file"},
       {"ORG/NAME@REVISION"}},
      {"410 Gone",
       "",
       api,
       HubRefusal::gone,
       Errc::not_found,
       {"HTTP 410", "no longer serves"},
       {"peers", "mirror"}},
      {"429 Too Many Requests",
       "Retry-After: 300\r\n",
       api,
       HubRefusal::rate_limited,
       Errc::unavailable,
       {"HTTP 429", "rate limited", "still after retrying", "wait 300 s"},
       {"HF_TOKEN", "resume"}},
      {"451 Unavailable For Legal Reasons",
       "",
       api,
       HubRefusal::legally_blocked,
       Errc::unavailable,
       {"HTTP 451", "legally barred"},
       {"peers", "HF_ENDPOINT"}},
      {"403 Forbidden",
       "",
       cdn,
       HubRefusal::signed_url_refused,
       Errc::unavailable,
       {"refused a fresh signed URL"},
       {"clock"}},
      {"400 Bad Request",
       "",
       cdn,
       HubRefusal::xet_only,
       Errc::unsupported,
       {"HTTP 400", "only over the Xet protocol", "400 GB"},
       {"from peers only", "mirror"}},
      {"502 Bad Gateway",
       "",
       api,
       HubRefusal::server_error,
       Errc::unavailable,
       {"HTTP 502", "failed"},
       {"mirror"}},
      {"418 I'm a teapot",
       "X-Error-Code: Teapot\r\n",
       api,
       HubRefusal::other,
       Errc::unavailable,
       {"HTTP 418"},
       {"mirror"}},
  };
  for (const auto& c : cases) {
    for (const HubSubject* subject : {&anon, static_cast<const HubSubject*>(&with_token)}) {
      const ResponseHead head = answer(c.status_line, c.headers);
      INFO(c.status_line << " " << c.headers << " token: " << subject->token_sent);
      CHECK(classify_refusal(hub, c.from, head) == c.refusal);
      const Error e = hub_status_error(hub, c.from, head, "org/name@v2", *subject);
      INFO(e.to_string());
      CHECK(e.code == c.code);
      CHECK_THAT(e.message, Catch::StartsWith("org/name@v2 (" + c.from.str() + "): "));
      for (const auto& m : c.message) CHECK_THAT(e.message, Catch::Contains(m));
      for (const auto& h : c.hint) {
        // A hint about setting a token differs once a token was sent; the rest is the same.
        if (subject->token_sent && (h == "then set HF_TOKEN" || h == "set HF_TOKEN")) continue;
        CHECK_THAT(e.hint, Catch::Contains(h));
      }
      CHECK_THAT(e.to_string(), !Catch::Contains("hf_") && !Catch::Contains("Bearer"));
      if (c.refusal == HubRefusal::repo_not_found) {
        // A missing repository is not reported as a gated one (the real hub answers 401 for
        // both without a token).
        CHECK_THAT(e.to_string(), !Catch::Contains("gated"));
      }
    }
    CHECK(refusal_name(c.refusal) != "");
  }
  // The differences a token makes to the advice.
  const ResponseHead gated = answer("401 Unauthorized", "X-Error-Code: GatedRepo\r\n");
  CHECK_THAT(hub_status_error(hub, api, gated, "x", with_token).hint,
             Catch::Contains("the account of HF_TOKEN has no access yet"));
  const ResponseHead bare401 = answer("401 Unauthorized");
  CHECK_THAT(hub_status_error(hub, api, bare401, "x", with_token).message,
             Catch::Contains("refused HF_TOKEN"));
  CHECK_THAT(hub_status_error(hub, api, bare401, "x", with_token).hint,
             Catch::Contains("expired or revoked"));
  // A code the hub did not send is not made up: without X-Error-Code a 401 is just a 401.
  CHECK_THAT(hub_status_error(hub, api, bare401, "x", anon).message,
             !Catch::Contains("not found") && !Catch::Contains("gated"));
}

TEST_CASE("a hub refusal names a hostile revision or path escaped, on one line", "[hf_hub]") {
  const Url hub = parse_url("https://huggingface.co").value();
  const ResponseHead head = answer("404 Not Found",
                                   "X-Error-Code: EntryNotFound\r\n"
                                   "X-Repo-Commit: not-a-commit\r\n");
  const Error e = hub_status_error(hub, hub, head, "x", {"org/name", "main", "a\nb\x1b[2J", false});
  CHECK(e.message.find('\n') == std::string::npos);
  CHECK(e.message.find('\x1b') == std::string::npos);
  CHECK_THAT(e.message, !Catch::Contains("not-a-commit"));  // only a commit id is repeated
}
