#include "core/upstream/git_pin.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <git2.h>

#include "core/net/url.hpp"
#include "core/upstream/lfs_pointer.hpp"
#include "core/util/crypto.hpp"
#include "core/util/encoding.hpp"
#include "core/util/path_policy.hpp"
#include "support/git_repo.hpp"
#include "support/http_test_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::upstream;
using weights::testing::big_sha;
using weights::testing::make_model;
using weights::testing::random_bytes;
using weights::testing::SourceRepo;
using weights::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// Every request a test server saw, headers included.
struct Recorded {
  std::mutex m;
  std::vector<std::string> requests;
  void add(const std::string& r) {
    std::lock_guard lock(m);
    requests.push_back(r);
  }
  std::vector<std::string> all() {
    std::lock_guard lock(m);
    return requests;
  }
};

// `git http-backend` (the real smart-HTTP server) behind the in-process test server, one CGI
// run per request. `protocol_v2`: whether the client's Git-Protocol header is passed on; without
// it the server speaks protocol v0 and, as configured by default, refuses wants by id.
struct GitHttpBackend {
  fs::path root;
  fs::path scratch;
  bool protocol_v2 = true;
  Recorded seen;

  void serve(weights::testing::Conn& c, const std::string& request) {
    seen.add(request.substr(0, request.find("\r\n")));
    const auto header_end = request.find("\r\n\r\n");
    REQUIRE(header_end != std::string::npos);
    const std::string head = request.substr(0, header_end);
    std::string body = request.substr(header_end + 4);
    auto header = [&](const std::string& name) -> std::string {
      const auto at = ascii_lower(head).find("\r\n" + ascii_lower(name) + ": ");
      if (at == std::string::npos) return "";
      const auto start = at + name.size() + 4;
      return head.substr(start, head.find("\r\n", start) - start);
    };
    const std::string length = header("Content-Length");
    const std::size_t want = length.empty() ? 0 : std::stoul(length);
    char buf[16384];
    while (body.size() < want) {
      const long n = ::recv(c.fd(), buf, sizeof buf, 0);
      if (n <= 0) break;
      body.append(buf, static_cast<std::size_t>(n));
    }
    const std::string line = head.substr(0, head.find("\r\n"));
    const std::string method = line.substr(0, line.find(' '));
    const std::string target =
        line.substr(line.find(' ') + 1, line.rfind(' ') - line.find(' ') - 1);
    const auto q = target.find('?');
    weights::testing::write_text(scratch / "body", body);
    std::string env = fmt::format(
        "env -i PATH=/usr/bin:/bin GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null "
        "GIT_PROJECT_ROOT={} GIT_HTTP_EXPORT_ALL=1 REQUEST_METHOD={} PATH_INFO={} "
        "QUERY_STRING={} CONTENT_TYPE={} CONTENT_LENGTH={} HTTP_CONTENT_ENCODING={} "
        "REMOTE_ADDR=127.0.0.1",
        weights::testing::shell_quote(root.string()), method,
        weights::testing::shell_quote(target.substr(0, q)),
        weights::testing::shell_quote(q == std::string::npos ? "" : target.substr(q + 1)),
        weights::testing::shell_quote(header("Content-Type")), body.size(),
        weights::testing::shell_quote(header("Content-Encoding")));
    if (protocol_v2 && !header("Git-Protocol").empty()) {
      env += " GIT_PROTOCOL=" + weights::testing::shell_quote(header("Git-Protocol"));
    }
    const std::string cmd = fmt::format("{} git http-backend < {} > {}", env,
                                        weights::testing::shell_quote((scratch / "body").string()),
                                        weights::testing::shell_quote((scratch / "out").string()));
    REQUIRE(std::system(cmd.c_str()) == 0);
    const std::string out = weights::testing::slurp(scratch / "out");
    // CGI output: headers (a "Status:" one optional), an empty line, the body.
    auto split = out.find("\r\n\r\n");
    std::size_t skip = 4;
    if (split == std::string::npos) {
      split = out.find("\n\n");
      skip = 2;
    }
    REQUIRE(split != std::string::npos);
    std::string cgi_head = out.substr(0, split);
    const std::string cgi_body = out.substr(split + skip);
    std::string status = "200 OK";
    std::string extra;
    std::size_t pos = 0;
    while (pos < cgi_head.size()) {
      auto eol = cgi_head.find('\n', pos);
      if (eol == std::string::npos) eol = cgi_head.size();
      std::string h = cgi_head.substr(pos, eol - pos);
      if (!h.empty() && h.back() == '\r') h.pop_back();
      if (h.rfind("Status: ", 0) == 0) {
        status = h.substr(8);
      } else if (!h.empty()) {
        extra += h + "\r\n";
      }
      pos = eol + 1;
    }
    c.send(fmt::format("HTTP/1.1 {}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}", status,
                       cgi_body.size(), extra, cgi_body));
  }
};

GitFetchOptions quick_options() {
  GitFetchOptions o;
  o.timeout = std::chrono::seconds(60);
  o.stall = std::chrono::seconds(30);
  return o;
}

// Points TMPDIR (where fetch_pinned_tree makes its temporary repository) at a directory of
// the test's own while alive.
class TmpdirScope {
 public:
  explicit TmpdirScope(const fs::path& dir) {
    if (const char* old = std::getenv("TMPDIR")) old_ = old;
    fs::create_directories(dir);
    ::setenv("TMPDIR", dir.c_str(), 1);
  }
  ~TmpdirScope() {
    if (old_.empty()) {
      ::unsetenv("TMPDIR");
    } else {
      ::setenv("TMPDIR", old_.c_str(), 1);
    }
  }

 private:
  std::string old_;
};

bool empty_dir(const fs::path& dir) {
  return fs::is_directory(dir) && fs::directory_iterator(dir) == fs::directory_iterator();
}

// read_pinned_tree on a repository opened with libgit2.
Result<PinnedTree> read_local(const fs::path& dir, const std::string& commit) {
  weights::testing::LibGit2Repo repo(dir);
  return read_pinned_tree(repo.get(), commit);
}

}  // namespace

TEST_CASE("a pinned commit that is not the branch tip is fetched and listed from git objects",
          "[git_pin]") {
  TempDir tmp;
  SourceRepo src(tmp / "hub/org/model");
  const std::string pinned = make_model(src);
  const std::string config_oid = src.git("rev-parse HEAD:config.json");
  const std::string pointer_oid = src.git("rev-parse HEAD:model.safetensors");
  src.write("config.json", "{\"model_type\": \"changed later\"}\n");
  const std::string tip = src.commit_all("later");
  REQUIRE(tip != pinned);

  for (const std::string& url : {src.url(), src.dir().string()}) {
    INFO(url);
    auto tree = fetch_pinned_tree(url, pinned, quick_options());
    REQUIRE(tree);
    CHECK(tree->commit == pinned);
    REQUIRE(tree->files.size() == 4);
    CHECK(tree->files[0].path == ".gitattributes");
    const auto& config = tree->files[1];
    CHECK(config.path == "config.json");
    CHECK(config.kind == FileKind::blob);
    CHECK(config.size == std::string("{\"model_type\": \"tiny\"}\n").size());
    CHECK(config.sha256 == crypto::sha256_hex("{\"model_type\": \"tiny\"}\n"));
    CHECK(config.git_oid == config_oid);
    const auto& model = tree->files[2];
    CHECK(model.path == "model.safetensors");
    CHECK(model.kind == FileKind::lfs);
    CHECK(model.size == 123456789);
    CHECK(model.sha256 == big_sha);
    CHECK(model.git_oid == pointer_oid);
    CHECK(tree->files[3].path == "tokenizer/tokenizer.json");
    CHECK(tree->files[3].kind == FileKind::blob);
  }
}

TEST_CASE("a short, upper-case or non-hex pin is refused before any git call", "[git_pin]") {
  TempDir tmp;
  TmpdirScope scope(tmp / "t");
  for (const std::string& pin : {std::string("abc123"), std::string(40, 'A'),
                                 std::string(39, 'a') + "g", std::string(41, 'a'), std::string()}) {
    auto tree = fetch_pinned_tree("/nonexistent/repo", pin, quick_options());
    REQUIRE_FALSE(tree);
    CHECK(tree.error().code == Errc::invalid_argument);
    CHECK_THAT(tree.error().message, Catch::Contains("40 lowercase hex"));
  }
  CHECK(empty_dir(tmp / "t"));  // not even a temporary repository was made
}

TEST_CASE("URLs other than http(s), file:// and absolute paths never reach git", "[git_pin]") {
  const std::string pin(40, 'a');
  for (const char* url :
       {"ext::sh -c touch% /tmp/pwned", "ssh://host/repo", "-uhack", "relative/path",
        "https://user:pw@example.invalid/repo", "file:///tmp/a\nb"}) {
    INFO(url);
    auto tree = fetch_pinned_tree(url, pin, quick_options());
    REQUIRE_FALSE(tree);
    CHECK(tree.error().code == Errc::invalid_argument);
  }
}

TEST_CASE("a commit the server does not have is a clear not_found naming it", "[git_pin]") {
  TempDir tmp;
  TmpdirScope scope(tmp / "t");
  SourceRepo src(tmp / "hub/org/model");
  make_model(src);
  const std::string unknown = "0123456789abcdef0123456789abcdef01234567";
  auto tree = fetch_pinned_tree(src.url(), unknown, quick_options());
  REQUIRE_FALSE(tree);
  CHECK(tree.error().code == Errc::not_found);
  CHECK_THAT(tree.error().message, Catch::Contains(unknown) && Catch::Contains("not found"));
  CHECK(empty_dir(tmp / "t"));
}

TEST_CASE(
    "a pin naming another existing object, or a commit absent from the repository, is "
    "refused",
    "[git_pin]") {
  TempDir tmp;
  SourceRepo src(tmp / "hub/org/model");
  const std::string first = make_model(src);
  const std::string tree_id = src.git("rev-parse HEAD^{tree}");

  SECTION("a tree id given as the commit") {
    auto tree = fetch_pinned_tree(src.url(), tree_id, quick_options());
    REQUIRE_FALSE(tree);
    CHECK(tree.error().code == Errc::wrong_target);
    CHECK_THAT(tree.error().message, Catch::Contains(tree_id + " is a tree, not a commit"));
  }
  SECTION("another repository's commit, read from this one") {
    SourceRepo other(tmp / "other");
    other.write("README.md", "other\n");
    const std::string other_commit = other.commit_all("other");
    auto tree = read_local(src.dir(), other_commit);
    REQUIRE_FALSE(tree);
    CHECK(tree.error().code == Errc::not_found);
    CHECK_THAT(tree.error().message, Catch::Contains(other_commit + " is not in the repository"));
    // And the right one reads fine from the same repository.
    CHECK(read_local(src.dir(), first));
  }
}

TEST_CASE("symlinks, submodules and '..' or '.git' entries are refused naming the entry",
          "[git_pin]") {
  TempDir tmp;
  SourceRepo src(tmp / "hub/org/model");
  make_model(src);

  SECTION("a symbolic link, over the fetch") {
    fs::create_symlink("/etc/passwd", src.dir() / "tokenizer/vocab.txt");
    const std::string c = src.commit_all("link");
    auto tree = fetch_pinned_tree(src.url(), c, quick_options());
    REQUIRE_FALSE(tree);
    CHECK(tree.error().code == Errc::path_policy);
    CHECK_THAT(tree.error().message,
               Catch::Contains("\"tokenizer/vocab.txt\"") && Catch::Contains("symbolic link"));
  }
  SECTION("a submodule (gitlink), over the fetch") {
    const std::string head = src.git("rev-parse HEAD");
    src.git("update-index --add --cacheinfo 160000," + head + ",vendor/sub");
    src.git("commit -q -m submodule");
    const std::string c = src.git("rev-parse HEAD");
    auto tree = fetch_pinned_tree(src.url(), c, quick_options());
    REQUIRE_FALSE(tree);
    CHECK(tree.error().code == Errc::path_policy);
    CHECK_THAT(tree.error().message,
               Catch::Contains("\"vendor/sub\"") && Catch::Contains("submodule"));
  }
  SECTION("names git builds only by hand, read from the repository") {
    for (const std::string& name :
         {std::string(".."), std::string("."), std::string(".GIT"), std::string(".git")}) {
      INFO(name);
      const std::string c =
          src.commit_raw_tree({{"100644", "config.json"}, {"100644", name}}, "x\n");
      auto tree = read_local(src.dir(), c);
      REQUIRE_FALSE(tree);
      CHECK(tree.error().code == Errc::path_policy);
      CHECK_THAT(tree.error().message, Catch::Contains("\"" + name + "\""));
    }
  }
  SECTION("a '..' entry over the fetch: git's fsck refuses it first, and says why") {
    const std::string c = src.commit_raw_tree({{"100644", "config.json"}, {"100644", ".."}}, "x\n");
    auto tree = fetch_pinned_tree(src.url(), c, quick_options());
    REQUIRE_FALSE(tree);
    CHECK(tree.error().code == Errc::parse_error);
    CHECK_THAT(tree.error().message, Catch::Contains("fsck") && Catch::Contains("'..'"));
  }
  SECTION("a name the path policy refuses") {
    const std::string c = src.commit_raw_tree({{"100644", "a:b"}}, "x\n");
    auto tree = read_local(src.dir(), c);
    REQUIRE_FALSE(tree);
    CHECK(tree.error().code == Errc::path_policy);
    CHECK_THAT(tree.error().message, Catch::Contains("a:b"));
  }
}

TEST_CASE("an LFS pointer with a bad field is refused naming the file", "[git_pin]") {
  TempDir tmp;
  SourceRepo src(tmp / "hub/org/model");
  make_model(src);
  src.write("model.safetensors",
            "version https://git-lfs.github.com/spec/v1\noid sha256:" + big_sha + "\nsize 0123\n");
  const std::string c = src.commit_all("bad pointer");
  auto tree = fetch_pinned_tree(src.url(), c, quick_options());
  REQUIRE_FALSE(tree);
  CHECK(tree.error().code == Errc::parse_error);
  CHECK_THAT(tree.error().message,
             Catch::Contains("\"model.safetensors\"") && Catch::Contains("size"));
}

TEST_CASE(
    "filter=lfs decides by .gitattributes of the commit: other files are plain blobs, "
    "and a non-pointer under filter=lfs is a plain file",
    "[git_pin]") {
  TempDir tmp;
  SourceRepo src(tmp / "hub/org/model");
  make_model(src);
  // A pointer-looking file that no filter=lfs line covers, and an LFS-tracked file that is not
  // a pointer (git-lfs passes such blobs through unchanged).
  const std::string fake_pointer = format_lfs_pointer({big_sha, 5});
  src.write("notes/pointer.txt", fake_pointer);
  src.write("raw.safetensors", "not a pointer\n");
  // A .gitattributes in a sub-directory applies below it only.
  src.write("sub/.gitattributes", "*.bin filter=lfs diff=lfs merge=lfs -text\n");
  src.write("sub/w.bin", format_lfs_pointer({big_sha, 7}));
  src.write("w.bin", format_lfs_pointer({big_sha, 7}));
  const std::string c = src.commit_all("more");
  auto tree = read_local(src.dir(), c);
  REQUIRE(tree);
  REQUIRE(tree->files.size() == 9);
  for (const auto& f : tree->files) {
    if (f.path == "notes/pointer.txt") {
      CHECK(f.kind == FileKind::blob);
      CHECK(f.sha256 == crypto::sha256_hex(fake_pointer));
    }
    if (f.path == "raw.safetensors") {
      CHECK(f.kind == FileKind::blob);
      CHECK(f.size == 14);
    }
    if (f.path == "sub/w.bin") {
      CHECK(f.kind == FileKind::lfs);
      CHECK(f.size == 7);
    }
    if (f.path == "w.bin") CHECK(f.kind == FileKind::blob);
  }
}

TEST_CASE("a blob in git over the 10 MiB cap is refused naming the file", "[git_pin]") {
  TempDir tmp;
  SourceRepo src(tmp / "hub/org/model");
  make_model(src);
  src.write("big.bin", random_bytes(max_small_blob_bytes + 1, 7));
  const std::string c = src.commit_all("big");
  auto tree = read_local(src.dir(), c);
  REQUIRE_FALSE(tree);
  CHECK(tree.error().code == Errc::too_large);
  CHECK_THAT(tree.error().message, Catch::Contains("\"big.bin\""));
}

TEST_CASE("trees that name each other many times are cut off, not walked exponentially",
          "[git_pin]") {
  TempDir tmp;
  SourceRepo src(tmp / "hub/org/model");
  make_model(src);
  // Level 0 is an empty tree; each level names the one below 1000 times: 10^9 paths at level
  // 3, no file at all.
  std::string level = src.write_raw_tree({});
  for (int depth = 0; depth < 3; ++depth) {
    std::vector<std::array<std::string, 3>> entries;
    for (int i = 0; i < 1000; ++i) entries.push_back({"40000", fmt::format("d{:04}", i), level});
    level = src.write_raw_tree(entries);
  }
  const std::string c = src.git("commit-tree -m dag " + level);
  const auto start = std::chrono::steady_clock::now();
  auto tree = read_local(src.dir(), c);
  REQUIRE_FALSE(tree);
  CHECK(tree.error().code == Errc::too_large);
  CHECK_THAT(tree.error().message, Catch::Contains("entries"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
}

TEST_CASE("a fetch over the byte cap is aborted and leaves no temporary repository", "[git_pin]") {
  TempDir tmp;
  TmpdirScope scope(tmp / "t");
  SourceRepo src(tmp / "hub/org/model");
  make_model(src);
  src.write("weights.bin", random_bytes(4 << 20, 1));  // random: the pack cannot shrink it
  const std::string c = src.commit_all("big");
  GitFetchOptions o = quick_options();
  o.max_bytes = 512 << 10;
  auto tree = fetch_pinned_tree(src.url(), c, o);
  REQUIRE_FALSE(tree);
  CHECK(tree.error().code == Errc::too_large);
  CHECK(empty_dir(tmp / "t"));
}

TEST_CASE("the temporary repository is removed after a successful fetch", "[git_pin]") {
  TempDir tmp;
  TmpdirScope scope(tmp / "t");
  SourceRepo src(tmp / "hub/org/model");
  const std::string c = make_model(src);
  REQUIRE(fetch_pinned_tree(src.url(), c, quick_options()));
  CHECK(empty_dir(tmp / "t"));
}

TEST_CASE("a tampered object in the repository is a hash mismatch, not a listing", "[git_pin]") {
  TempDir tmp;
  SourceRepo src(tmp / "hub/org/model");
  const std::string c = make_model(src);
  // Replace the loose config.json blob by another zlib stream under the same name.
  const std::string oid = src.git("rev-parse HEAD:config.json");
  const fs::path loose = src.dir() / ".git/objects" / oid.substr(0, 2) / oid.substr(2);
  REQUIRE(fs::exists(loose));
  src.write("other.txt", "{\"model_type\": \"evil\"}\n");
  const std::string other = src.git("hash-object -w other.txt");
  const fs::path other_loose = src.dir() / ".git/objects" / other.substr(0, 2) / other.substr(2);
  fs::permissions(loose, fs::perms::owner_write, fs::perm_options::add);
  fs::copy_file(other_loose, loose, fs::copy_options::overwrite_existing);
  auto tree = read_local(src.dir(), c);
  REQUIRE_FALSE(tree);
  CHECK(tree.error().code == Errc::hash_mismatch);
  CHECK_THAT(tree.error().message, Catch::Contains("config.json"));
}

TEST_CASE("the token goes to the URL's origin as a header, through the configured proxy",
          "[git_pin]") {
  TempDir tmp;
  TmpdirScope scope(tmp / "t");
  Recorded seen;
  weights::testing::Server proxy(
      [&](weights::testing::Conn& c, const std::string&, const std::string& request) {
        seen.add(request);
        c.send(weights::testing::response(404, "Not Found", "no"));
      });
  GitFetchOptions o = quick_options();
  o.token = "hf_secret_token";
  o.proxy.http = *parse_url(proxy.url("/"));
  // hub.test is never resolved: git hands the whole URL to the proxy.
  auto tree = fetch_pinned_tree("http://hub.test/org/model", std::string(40, 'a'), o);
  REQUIRE_FALSE(tree);
  CHECK(tree.error().code == Errc::unavailable);
  const auto requests = seen.all();
  REQUIRE_FALSE(requests.empty());
  CHECK_THAT(requests[0],
             Catch::StartsWith("GET http://hub.test/org/model/info/refs?service=git-upload-pack"));
  CHECK_THAT(requests[0], Catch::Contains("Authorization: Bearer hf_secret_token\r\n"));
  CHECK(empty_dir(tmp / "t"));
}

TEST_CASE("a redirect is not followed, so the token never reaches another host", "[git_pin]") {
  Recorded elsewhere;
  weights::testing::Server other(
      [&](weights::testing::Conn& c, const std::string&, const std::string& request) {
        elsewhere.add(request);
        c.send(weights::testing::response(404, "Not Found", "no"));
      });
  weights::testing::Server hub([&](weights::testing::Conn& c, const std::string& path,
                                   const std::string&) {
    c.send(weights::testing::response(302, "Found", "", "Location: " + other.url(path) + "\r\n"));
  });
  GitFetchOptions o = quick_options();
  o.token = "hf_secret_token";
  auto tree = fetch_pinned_tree(hub.url("/org/model"), std::string(40, 'a'), o);
  REQUIRE_FALSE(tree);
  CHECK(tree.error().code == Errc::unavailable);
  CHECK(elsewhere.all().empty());
}

TEST_CASE("a server that stops sending is abandoned after the stall timeout", "[git_pin]") {
  TempDir tmp;
  TmpdirScope scope(tmp / "t");
  weights::testing::Server silent(
      [](weights::testing::Conn& c, const std::string&, const std::string&) {
        // Holds the connection until the client goes away (git killed).
        char byte = 0;
        while (::recv(c.fd(), &byte, 1, 0) > 0) {
        }
      });
  GitFetchOptions o = quick_options();
  o.stall = std::chrono::seconds(1);
  const auto start = std::chrono::steady_clock::now();
  auto tree = fetch_pinned_tree(silent.url("/org/model"), std::string(40, 'a'), o);
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(tree);
  CHECK(tree.error().code == Errc::unavailable);
  CHECK_THAT(tree.error().message, Catch::Contains("no data for 1 s"));
  CHECK(took < std::chrono::seconds(20));
  CHECK(empty_dir(tmp / "t"));
}

TEST_CASE(
    "over smart HTTP, a commit is fetched by id (protocol v2), or from the deepened "
    "default branch when the server refuses wants by id (protocol v0)",
    "[git_pin]") {
  TempDir tmp;
  TmpdirScope scope(tmp / "t");
  SourceRepo src(tmp / "hub/org/model");
  const std::string pinned = make_model(src);
  for (int i = 0; i < 3; ++i) {
    src.write("config.json", fmt::format("{{\"step\": {}}}\n", i));
    src.commit_all(fmt::format("step {}", i));
  }
  fs::create_directories(tmp / "cgi");
  GitHttpBackend backend;
  backend.root = tmp / "hub";
  backend.scratch = tmp / "cgi";
  weights::testing::Server server([&](weights::testing::Conn& c, const std::string&,
                                      const std::string& request) { backend.serve(c, request); });
  for (const bool v2 : {true, false}) {
    INFO("protocol v2: " << v2);
    backend.protocol_v2 = v2;
    auto tree = fetch_pinned_tree(server.url("/org/model"), pinned, quick_options());
    REQUIRE(tree);
    CHECK(tree->commit == pinned);
    REQUIRE(tree->files.size() == 4);
    CHECK(tree->files[1].sha256 == crypto::sha256_hex("{\"model_type\": \"tiny\"}\n"));
    CHECK(tree->files[2].sha256 == big_sha);
    CHECK(empty_dir(tmp / "t"));
  }
  // v0: the refused want by id, then the branch at depth 1, then one deepening: three
  // ref advertisements.
  std::size_t adverts = 0;
  for (const auto& r : backend.seen.all()) {
    if (r.find("/info/refs?service=git-upload-pack") != std::string::npos) ++adverts;
  }
  CHECK(adverts == 1 + 3);
}
