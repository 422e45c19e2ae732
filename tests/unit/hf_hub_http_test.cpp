// The hub import over the one HTTP client: proxies from the environment (plain requests in
// absolute form, https through CONNECT), Range resume and Retry-After, against loopback servers.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <openssl/evp.h>

#include "core/net/hf_hub.hpp"
#include "core/util/encoding.hpp"
#include "support/http_test_server.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::testing;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view sha = "0123456789abcdef0123456789abcdef01234567";
const std::string content = "{\"architectures\": [\"Tiny\"], \"hidden_size\": 8}\n";

std::string git_oid(std::string_view data) {
  const std::string blob = fmt::format("blob {}", data.size()) + '\0' + std::string(data);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  REQUIRE(EVP_Digest(blob.data(), blob.size(), md, &len, EVP_sha1(), nullptr) == 1);
  return to_hex(std::span<const std::uint8_t>(md, len));
}

// A hub replica with one repository, org/name@main holding config.json. Through a plain proxy
// the request target arrives in absolute form. `busy` answers that many resolve requests with a
// 429 first.
void hub(Conn& c, std::string path, const std::string& req, std::atomic<int>& busy) {
  if (path.starts_with("http://")) path = path.substr(path.find('/', 7));
  if (path == "/api/models/org/name/revision/main") {
    c.send(response(200, "OK",
                    fmt::format(R"({{"sha": "{}", "cardData": {{"license": "mit"}}}})", sha)));
  } else if (path == fmt::format("/api/models/org/name/tree/{}?recursive=true", sha)) {
    c.send(response(200, "OK",
                    fmt::format(R"([{{"type": "file", "path": "config.json", "size": {},
                                     "oid": "{}"}}])",
                                content.size(), git_oid(content))));
  } else if (path == fmt::format("/org/name/resolve/{}/config.json", sha)) {
    if (busy > 0) {
      --busy;
      c.send(response(429, "Too Many Requests", "", "Retry-After: 1\r\n"));
      return;
    }
    const auto at = req.find("\r\nRange: bytes=");
    if (at == std::string::npos) {
      c.send(response(200, "OK", content));
      return;
    }
    const std::size_t from = std::stoul(req.substr(at + 15));
    c.send(response(206, "Partial Content", content.substr(from),
                    fmt::format("Content-Range: bytes {}-{}/{}\r\n", from, content.size() - 1,
                                content.size())));
  } else {
    c.send(response(404, "Not Found", ""));
  }
}

// A forward proxy: CONNECT opens a tunnel to the loopback port asked for; a plain request in
// absolute form is passed on as it is to `plain_to` (the test's only origin).
void forward(Conn& c, const std::string& req, std::uint16_t plain_to) {
  std::uint16_t port = plain_to;
  const bool tunnel = req.starts_with("CONNECT 127.0.0.1:");
  if (tunnel) port = static_cast<std::uint16_t>(std::stoi(req.substr(18)));
  const int up = connect_loopback(port);
  if (up < 0) {
    c.send(response(502, "Bad Gateway", ""));
    return;
  }
  if (tunnel) {
    c.send("HTTP/1.1 200 Connection established\r\n\r\n");
  } else {
    (void)::send(up, req.data(), req.size(), MSG_NOSIGNAL);
  }
  relay(c.fd(), up);
  ::close(up);
}

// Sets (or with nullptr clears) an environment variable for one test case.
void env(const char* name, const char* value) {
  if (value) {
    ::setenv(name, value, 1);
  } else {
    ::unsetenv(name);
  }
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void clear_proxy_env() {
  for (const char* n : {"http_proxy", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"}) {
    env(n, nullptr);
  }
}

}  // namespace

TEST_CASE("hub import honours http_proxy", "[hf_hub][proxy]") {
  TempDir tmp;
  std::atomic<int> busy{0};
  Server origin(
      [&](Conn& c, const std::string& p, const std::string& req) { hub(c, p, req, busy); });
  Server proxy(
      [&](Conn& c, const std::string&, const std::string& req) { forward(c, req, origin.port()); });
  clear_proxy_env();
  env("http_proxy", fmt::format("http://127.0.0.1:{}", proxy.port()).c_str());
  hf::HubOptions o = hf::hub_options_from_env();
  o.endpoint = origin.url("");
  o.timeout = std::chrono::seconds(5);
  hf::Hub h(o);
  auto rev = h.revision("org/name", "main");
  REQUIRE(rev);
  CHECK(rev->sha == sha);
  CHECK(rev->license == "mit");
  REQUIRE(rev->files.size() == 1);
  REQUIRE(h.download(*rev, rev->files[0], tmp / "out" / "config.json"));
  CHECK(read(tmp / "out" / "config.json") == content);

  const auto through = proxy.requests();
  const std::string base = origin.url("");
  for (const std::string& want :
       {fmt::format("GET {}/api/models/org/name/revision/main HTTP/1.1", base),
        fmt::format("GET {}/api/models/org/name/tree/{}?recursive=true HTTP/1.1", base, sha),
        fmt::format("GET {}/org/name/resolve/{}/config.json HTTP/1.1", base, sha)}) {
    INFO(want);
    CHECK(std::find(through.begin(), through.end(), want) != through.end());
  }
  CHECK(origin.requests().size() == through.size());

  // no_proxy still wins.
  env("no_proxy", "127.0.0.1");
  hf::HubOptions direct = hf::hub_options_from_env();
  direct.endpoint = origin.url("");
  REQUIRE(hf::Hub(direct).revision("org/name", "main"));
  CHECK(proxy.requests().size() == through.size());
  clear_proxy_env();
}

TEST_CASE("hub import over https goes through https_proxy with CONNECT", "[hf_hub][proxy]") {
  TempDir tmp;
  TestCert cert(tmp / "ca.pem", "IP:127.0.0.1");
  std::atomic<int> busy{0};
  Server origin(
      [&](Conn& c, const std::string& p, const std::string& req) { hub(c, p, req, busy); }, &cert);
  Server proxy(
      [&](Conn& c, const std::string&, const std::string& req) { forward(c, req, origin.port()); });
  clear_proxy_env();
  env("https_proxy", fmt::format("127.0.0.1:{}", proxy.port()).c_str());
  env("SSL_CERT_FILE", cert.pem_path.c_str());
  hf::HubOptions o = hf::hub_options_from_env();
  o.endpoint = origin.url("", true);
  o.timeout = std::chrono::seconds(5);
  hf::Hub h(o);
  auto rev = h.revision("org/name", "main");
  REQUIRE(rev);
  REQUIRE(h.download(*rev, rev->files[0], tmp / "out" / "config.json"));
  CHECK(read(tmp / "out" / "config.json") == content);
  const auto through = proxy.requests();
  REQUIRE(through.size() == 3);
  for (const auto& line : through) {
    CHECK(line == fmt::format("CONNECT 127.0.0.1:{} HTTP/1.1", origin.port()));
  }
  env("SSL_CERT_FILE", nullptr);
  clear_proxy_env();
}

TEST_CASE("hub: a malformed proxy variable fails the import instead of going direct",
          "[hf_hub][proxy]") {
  clear_proxy_env();
  env("https_proxy", "http://bad host:1");
  hf::HubOptions o = hf::hub_options_from_env();
  clear_proxy_env();
  o.endpoint = "https://hub.invalid";
  auto r = hf::Hub(o).revision("org/name", "main");
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("https_proxy"));
}

TEST_CASE("hub download resumes with Range and waits out a 429", "[hf_hub]") {
  TempDir tmp;
  std::atomic<int> busy{1};
  std::mutex m;
  std::vector<std::string> resolve_requests;
  Server origin([&](Conn& c, const std::string& p, const std::string& req) {
    if (p.find("/resolve/") != std::string::npos) {
      std::lock_guard lock(m);
      resolve_requests.push_back(req);
    }
    hub(c, p, req, busy);
  });
  clear_proxy_env();
  hf::HubOptions o = hf::hub_options_from_env();
  o.endpoint = origin.url("");
  o.token = "hf_secret";
  hf::Hub h(o);
  auto rev = h.revision("org/name", "main");
  REQUIRE(rev);
  const fs::path dest = tmp / "out" / "config.json";
  fs::create_directories(dest.parent_path());
  std::ofstream(dest.string() + ".part", std::ios::binary) << content.substr(0, 10);
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(h.download(*rev, rev->files[0], dest));
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(900));
  CHECK(read(dest) == content);
  CHECK_FALSE(fs::exists(dest.string() + ".part"));
  std::lock_guard lock(m);
  REQUIRE(resolve_requests.size() == 2);  // the 429, then the resumed transfer
  for (const auto& req : resolve_requests) {
    CHECK_THAT(req, Catch::Contains("\r\nRange: bytes=10-\r\n"));
    CHECK_THAT(req, Catch::Contains("\r\nAuthorization: Bearer hf_secret\r\n"));
  }
}

namespace {

// An LFS file served through a CDN on another origin: the hub's resolve answers 302 to a fresh
// signed URL ("?sig=N") each time; the CDN refuses URL 1 as expired, cuts the transfer on URL
// 2 halfway, and accepts each later URL once (a reused URL is refused).
struct ExpiringCdn {
  std::string body = std::string(200000, 'w');
  std::atomic<int> minted{0};
  std::mutex m;
  std::vector<std::string> cdn_requests;
  std::vector<int> used;
  std::unique_ptr<Server> cdn;
  std::unique_ptr<Server> hub;
  int refuse_all_from = 1000;  // sig numbers from here on are refused too

  ExpiringCdn() {
    cdn = std::make_unique<Server>([this](Conn& c, const std::string& p, const std::string& req) {
      const int sig = std::stoi(p.substr(p.find("sig=") + 4));
      bool reused = false;
      {
        std::lock_guard lock(m);
        cdn_requests.push_back(req);
        reused = std::find(used.begin(), used.end(), sig) != used.end();
        used.push_back(sig);
      }
      if (sig == 1 || reused || sig >= refuse_all_from) {
        c.send(response(403, "Forbidden", "<Error><Code>AccessDenied</Code></Error>"));
        return;
      }
      const auto at = req.find("\r\nRange: bytes=");
      if (at == std::string::npos) {
        const std::string head =
            fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.size());
        c.send(head + body.substr(0, sig == 2 ? body.size() / 2 : body.size()));
        return;
      }
      const std::size_t from = std::stoul(req.substr(at + 15));
      c.send(response(
          206, "Partial Content", body.substr(from),
          fmt::format("Content-Range: bytes {}-{}/{}\r\n", from, body.size() - 1, body.size())));
    });
    hub = std::make_unique<Server>([this](Conn& c, const std::string&, const std::string&) {
      c.send(response(
          302, "Found", "",
          fmt::format("Location: {}\r\n", cdn->url(fmt::format("/obj?sig={}", ++minted)))));
    });
  }
  hf::HubRevision revision() const {
    hf::HubRevision r;
    r.repo = "org/name";
    r.sha = std::string(sha);
    r.files.push_back(
        hf::HubFile{"model.safetensors", body.size(), std::string(40, 'a'), std::string(64, 'b')});
    return r;
  }
};

}  // namespace

TEST_CASE("an expired or cut CDN transfer resumes with Range on a fresh URL from the hub",
          "[hf_hub]") {
  TempDir tmp;
  ExpiringCdn s;
  clear_proxy_env();
  hf::HubOptions o = hf::hub_options_from_env();
  o.endpoint = s.hub->url("");
  o.token = "hf_secret";
  hf::Hub h(o);
  const auto rev = s.revision();
  const fs::path dest = tmp / "model.safetensors";
  REQUIRE(h.download(rev, rev.files[0], dest));
  CHECK(read(dest) == s.body);
  std::lock_guard lock(s.m);
  REQUIRE(s.used == std::vector<int>{1, 2, 3});  // expired, cut, resumed: never one URL twice
  CHECK(s.minted == 3);
  CHECK_THAT(s.cdn_requests[2],
             Catch::Contains(fmt::format("\r\nRange: bytes={}-\r\n", s.body.size() / 2)));
  for (const auto& req : s.cdn_requests) {
    CHECK_THAT(req, !Catch::Contains("Authorization"));
  }
}

TEST_CASE("a CDN that refuses every fresh URL fails after max_attempts, naming the clock",
          "[hf_hub]") {
  TempDir tmp;
  ExpiringCdn s;
  s.refuse_all_from = 1;
  clear_proxy_env();
  hf::HubOptions o = hf::hub_options_from_env();
  o.endpoint = s.hub->url("");
  o.max_attempts = 3;
  hf::Hub h(o);
  const auto rev = s.revision();
  auto st = h.download(rev, rev.files[0], tmp / "model.safetensors");
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::unavailable);
  CHECK_THAT(st.error().message, Catch::Contains("refused a fresh signed URL"));
  CHECK_THAT(st.error().hint, Catch::Contains("clock"));
  CHECK(s.minted == 3);
}

TEST_CASE("a 451 from the hub is final and points to peers and mirrors, not to waiting",
          "[hf_hub]") {
  TempDir tmp;
  std::atomic<int> asked{0};
  Server hub([&](Conn& c, const std::string&, const std::string&) {
    ++asked;
    c.send(response(451, "Unavailable For Legal Reasons", R"({"error":"blocked"})"));
  });
  clear_proxy_env();
  hf::HubOptions o = hf::hub_options_from_env();
  o.endpoint = hub.url("");
  hf::Hub h(o);
  hf::HubRevision rev;
  rev.repo = "org/name";
  rev.sha = std::string(sha);
  const hf::HubFile f{"config.json", 10, std::string(40, 'a'), std::nullopt};
  auto st = h.download(rev, f, tmp / "config.json");
  REQUIRE_FALSE(st);
  CHECK(asked == 1);
  CHECK_THAT(st.error().message, Catch::Contains("HTTP 451: the hub is legally barred"));
  CHECK_THAT(st.error().hint, Catch::Contains("peers") && Catch::Contains("HF_ENDPOINT") &&
                                  !Catch::Contains("try again later"));
  auto info = h.revision("org/name", "main");
  REQUIRE_FALSE(info);
  CHECK_THAT(info.error().message, Catch::Contains("legally barred"));
}

TEST_CASE(
    "the Hub reads the hub's X-Error-Code: a missing repository is not called gated, and "
    "each refusal is typed",
    "[hf_hub]") {
  TempDir tmp;
  std::atomic<int> limited{0};
  std::vector<std::string> auth;
  std::mutex m;
  Server hub([&](Conn& c, const std::string& p, const std::string& req) {
    {
      const std::lock_guard<std::mutex> lock(m);
      auth.push_back(req.find("\r\nAuthorization: Bearer ") != std::string::npos ? "yes" : "no");
    }
    auto refuse = [&](int status, std::string_view reason, std::string_view code,
                      std::string extra = {}) {
      c.send(response(status, reason, R"({"error":"refused"})",
                      fmt::format("X-Error-Code: {}\r\n{}", code, extra)));
    };
    if (p.starts_with("/api/models/missing-org/none/")) {
      refuse(401, "Unauthorized", "RepoNotFound");
    } else if (p == "/api/models/org/name/revision/nope") {
      refuse(404, "Not Found", "RevisionNotFound");
    } else if (p.starts_with("/api/models/org/gated/")) {
      refuse(403, "Forbidden", "GatedRepo");
    } else if (p == fmt::format("/org/name/resolve/{}/missing.json", sha)) {
      refuse(404, "Not Found", "EntryNotFound", fmt::format("X-Repo-Commit: {}\r\n", sha));
    } else if (p == fmt::format("/org/name/resolve/{}/busy.json", sha)) {
      ++limited;
      c.send(response(429, "Too Many Requests", "", "Retry-After: 0\r\n"));
    } else if (p == "/api/ok") {
      c.send(response(200, "OK", "{}"));
    } else {
      c.send(response(404, "Not Found", ""));
    }
  });
  clear_proxy_env();
  hf::HubOptions o = hf::hub_options_from_env();
  o.endpoint = hub.url("");
  o.token = "hf_secret_token_value";
  o.max_attempts = 3;
  hf::Hub h(o);

  auto missing = h.revision("missing-org/none", "main");
  REQUIRE_FALSE(missing);
  INFO(missing.error().to_string());
  CHECK(missing.error().code == Errc::not_found);
  CHECK_THAT(missing.error().message,
             Catch::Contains("missing-org/none@main") &&
                 Catch::Contains("repository missing-org/none not found") &&
                 Catch::Contains("the account of HF_TOKEN cannot see it"));
  CHECK_THAT(missing.error().to_string(), !Catch::Contains("gated"));
  CHECK(h.last_refusal() == hf::HubRefusal::repo_not_found);

  auto revision = h.revision("org/name", "nope");
  REQUIRE_FALSE(revision);
  CHECK(revision.error().code == Errc::not_found);
  CHECK_THAT(revision.error().message, Catch::Contains("no revision 'nope'"));
  CHECK(h.last_refusal() == hf::HubRefusal::revision_not_found);

  auto gated = h.revision("org/gated", "main");
  REQUIRE_FALSE(gated);
  CHECK(gated.error().code == Errc::permission_denied);
  CHECK_THAT(gated.error().hint,
             Catch::Contains(fmt::format("accept the licence at {}/org/gated", o.endpoint)) &&
                 Catch::Contains("never accepts"));
  CHECK(h.last_refusal() == hf::HubRefusal::gated);

  hf::HubRevision rev;
  rev.repo = "org/name";
  rev.sha = std::string(sha);
  const hf::HubFile absent{"missing.json", 10, std::string(40, 'a'), std::nullopt};
  auto entry = h.download(rev, absent, tmp / "missing.json");
  REQUIRE_FALSE(entry);
  CHECK(entry.error().code == Errc::not_found);
  CHECK_THAT(
      entry.error().message,
      Catch::Contains(fmt::format("no file 'missing.json' in org/name@{}, commit {}", sha, sha)));
  CHECK(h.last_refusal() == hf::HubRefusal::entry_not_found);
  CHECK_FALSE(fs::exists(tmp / "missing.json"));

  const hf::HubFile busy{"busy.json", 10, std::string(40, 'a'), std::nullopt};
  auto limited_error = h.download(rev, busy, tmp / "busy.json");
  REQUIRE_FALSE(limited_error);
  CHECK(limited == o.max_attempts);  // the client's retries came first
  CHECK(limited_error.error().code == Errc::unavailable);
  CHECK_THAT(limited_error.error().message,
             Catch::Contains("busy.json") && Catch::Contains("rate limited"));
  CHECK(h.last_refusal() == hf::HubRefusal::rate_limited);

  // The token went to the hub with every request, and no message or hint repeats it.
  CHECK(std::all_of(auth.begin(), auth.end(), [](const auto& a) { return a == "yes"; }));
  for (const auto* e : {&missing.error(), &revision.error(), &gated.error(), &entry.error(),
                        &limited_error.error()}) {
    CHECK_THAT(e->to_string(), !Catch::Contains(o.token));
  }

  // A success clears the last refusal.
  REQUIRE(h.last_refusal());
  CHECK(h.get_json(hub.url("/api/ok")));
  CHECK_FALSE(h.last_refusal());
}
