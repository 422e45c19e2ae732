#include "core/http_fetcher.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/temp_dir.hpp"

using namespace weights;
using weights::testing::TempDir;
using namespace std::chrono_literals;

namespace {

// A self-signed certificate (also its own CA) for 127.0.0.1, written as PEM.
struct TestCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  std::string pem_path;
  TestCert(const std::filesystem::path& pem, const char* san) : pem_path(pem.string()) {
    key = EVP_EC_gen("P-256");
    REQUIRE(key);
    cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("weights test"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, san},
                              std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      REQUIRE(ext);
      X509_add_ext(cert, ext, -1);
      X509_EXTENSION_free(ext);
    }
    REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
    FILE* f = std::fopen(pem_path.c_str(), "w");
    REQUIRE(f);
    PEM_write_X509(f, cert);
    std::fclose(f);
  }
  ~TestCert() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

// One accepted connection, plain or TLS.
class Conn {
 public:
  Conn(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  bool send(std::string_view data) {
    while (!data.empty()) {
      const long n = ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                          : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
      sent += static_cast<std::uint64_t>(n);
    }
    return true;
  }
  std::string read_request() {
    std::string req;
    char buf[1024];
    while (req.find("\r\n\r\n") == std::string::npos && req.size() < 16384) {
      const long n = ssl_ ? SSL_read(ssl_, buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      req.append(buf, static_cast<std::size_t>(n));
    }
    return req;
  }
  int fd() const { return fd_; }
  std::uint64_t sent = 0;

 private:
  int fd_;
  SSL* ssl_;
};

using Handler = std::function<void(Conn&, const std::string& path, const std::string& request)>;

// An in-process HTTP(S) server on 127.0.0.1 with an ephemeral port that does whatever the
// test's handler says, including misbehaving. One thread per connection.
class Server {
 public:
  explicit Server(Handler h, const TestCert* tls = nullptr) : handler_(std::move(h)) {
    if (tls) {
      ctx_ = SSL_CTX_new(TLS_server_method());
      SSL_CTX_use_certificate(ctx_, tls->cert);
      SSL_CTX_use_PrivateKey(ctx_, tls->key);
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~Server() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    accept_thread_.join();
    for (auto& t : conns_) t.join();
    ::close(fd_);
    if (ctx_) SSL_CTX_free(ctx_);
  }
  std::string url(std::string_view path, bool https = false) const {
    return fmt::format("{}://127.0.0.1:{}{}", https ? "https" : "http", port_, path);
  }
  std::uint16_t port() const { return port_; }
  bool stopping() const { return stop_; }
  std::uint64_t max_sent() const { return max_sent_; }
  std::vector<std::string> requests() {
    std::lock_guard lock(m_);
    return requests_;
  }

 private:
  void accept_loop() {
    while (!stop_) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::lock_guard lock(m_);
      conns_.emplace_back([this, c] { serve(c); });
    }
  }
  void serve(int c) {
    SSL* ssl = nullptr;
    if (ctx_) {
      ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        ::close(c);
        return;
      }
    }
    Conn conn(c, ssl);
    const std::string req = conn.read_request();
    const auto sp1 = req.find(' ');
    const auto sp2 = req.find(' ', sp1 + 1);
    const std::string path = sp1 == std::string::npos ? "" : req.substr(sp1 + 1, sp2 - sp1 - 1);
    {
      std::lock_guard lock(m_);
      requests_.push_back(req.substr(0, req.find("\r\n")));
    }
    handler_(conn, path, req);
    std::uint64_t prev = max_sent_;
    while (conn.sent > prev && !max_sent_.compare_exchange_weak(prev, conn.sent)) {
    }
    if (ssl) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    ::close(c);
  }

  Handler handler_;
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> max_sent_{0};
  std::thread accept_thread_;
  std::mutex m_;
  std::vector<std::thread> conns_;
  std::vector<std::string> requests_;
};

std::string response(int status, std::string_view reason, std::string_view body,
                     std::string_view extra = "") {
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}",
                     status, reason, body.size(), extra, body);
}

// The hostile behaviours, by path.
void hostile(Server* self, Conn& c, const std::string& path) {
  if (path == "/feed/metadata/timestamp.json" || path == "/ok") {
    c.send(response(200, "OK", "hello"));
  } else if (path == "/feed/metadata/a%20b.json") {
    c.send(response(200, "OK", "spaced"));
  } else if (path == "/endless") {
    // No length, close-delimited, never ends.
    c.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    const std::string chunk(64 * 1024, 'x');
    while (!self->stopping() && c.send(chunk)) {
    }
  } else if (path == "/endless-chunked") {
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    const std::string chunk = fmt::format("10000\r\n{}\r\n", std::string(0x10000, 'y'));
    while (!self->stopping() && c.send(chunk)) {
    }
  } else if (path == "/trickle") {
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
    while (!self->stopping() && c.send("z")) std::this_thread::sleep_for(20ms);
  } else if (path == "/silent") {
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    while (!self->stopping()) std::this_thread::sleep_for(20ms);
  } else if (path == "/loop-a") {
    c.send(response(302, "Found", "", "Location: /loop-b\r\n"));
  } else if (path == "/loop-b") {
    c.send(response(301, "Moved", "", "Location: loop-a\r\n"));
  } else if (path.starts_with("/hop/")) {
    const int n = std::stoi(path.substr(5));
    c.send(response(307, "Temporary Redirect", "", fmt::format("Location: /hop/{}\r\n", n + 1)));
  } else if (path == "/to-ok") {
    c.send(response(302, "Found", "", "Location: /ok\r\n"));
  } else if (path == "/500") {
    c.send(response(500, "Internal Server Error", "oops"));
  } else if (path == "/403") {
    c.send(response(403, "Forbidden", "no"));
  } else if (path == "/truncated") {
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
  } else if (path == "/big") {
    c.send(response(200, "OK", std::string(5000, 'b')));
  } else if (path == "/exact") {
    c.send(response(200, "OK", std::string(1000, 'e')));
  } else if (path == "/big-chunked") {
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(fmt::format("7d0\r\n{}\r\n0\r\n\r\n", std::string(2000, 'c')));
  } else if (path == "/crlf-location") {
    c.send(response(302, "Found", "", "Location: /ok\rX-Injected: 1\r\n"));
  } else {
    c.send(response(404, "Not Found", "missing"));
  }
}

// Copies bytes both ways between two sockets until one side closes.
void relay(int a, int b) {
  char buf[16384];
  while (true) {
    pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    if (::poll(p, 2, 5000) <= 0) return;
    for (int i = 0; i < 2; ++i) {
      if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const long n = ::recv(p[i].fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      if (::send(p[1 - i].fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return;
    }
  }
}

HttpOptions fast_options() {
  HttpOptions o;
  o.connect_timeout = 2s;
  o.read_timeout = 500ms;
  o.rate_window = 300ms;
  o.min_rate = 2000;
  return o;
}

Error get_error(const std::string& url, std::uint64_t cap, const HttpOptions& o) {
  auto r = http_get(url, cap, o);
  REQUIRE_FALSE(r);
  INFO(r.error().message);
  return r.error();
}

}  // namespace

TEST_CASE("http: happy paths, percent-encoding and a followed redirect", "[http]") {
  Server s([&](Conn& c, const std::string& p, const std::string&) { hostile(nullptr, c, p); });
  auto f = HttpFetcher::create(s.url("/feed"), fast_options());
  REQUIRE(f);
  auto r = (*f)->fetch("metadata/timestamp.json", 100);
  REQUIRE(r);
  CHECK(*r == "hello");
  auto spaced = (*f)->fetch("metadata/a b.json", 100);
  REQUIRE(spaced);
  CHECK(*spaced == "spaced");
  auto missing = (*f)->fetch("metadata/2.root.json", 100);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
  CHECK_THAT(missing.error().message, Catch::Contains("HTTP 404"));
  CHECK((*f)->fetch("../etc/passwd", 100).error().code == Errc::path_policy);
  auto moved = http_get(s.url("/to-ok"), 100, fast_options());
  REQUIRE(moved);
  CHECK(*moved == "hello");
  auto exact = http_get(s.url("/exact"), 1000, fast_options());
  REQUIRE(exact);
  CHECK(exact->size() == 1000);
  const auto reqs = s.requests();
  CHECK(std::find(reqs.begin(), reqs.end(), "GET /feed/metadata/a%20b.json HTTP/1.1") !=
        reqs.end());
}

TEST_CASE("http: each hostile behaviour gives a precise error", "[http]") {
  Server* self = nullptr;
  Server s([&](Conn& c, const std::string& p, const std::string&) { hostile(self, c, p); });
  self = &s;
  const auto o = fast_options();

  SECTION("an endless body stops at the cap while reading") {
    for (const char* p : {"/endless", "/endless-chunked"}) {
      const auto e = get_error(s.url(p), 4096, o);
      CHECK(e.code == Errc::too_large);
      CHECK_THAT(e.message, Catch::Contains("exceeds the limit of 4096 bytes"));
    }
  }
  SECTION("a Content-Length above the cap fails before the body is read") {
    const auto e = get_error(s.url("/big"), 1000, o);
    CHECK(e.code == Errc::too_large);
    CHECK_THAT(e.message, Catch::Contains("5000 bytes exceeds the limit of 1000"));
    CHECK(get_error(s.url("/exact"), 999, o).code == Errc::too_large);
    CHECK(get_error(s.url("/big-chunked"), 1000, o).code == Errc::too_large);
  }
  SECTION("a slow trickle below the minimum rate") {
    const auto start = std::chrono::steady_clock::now();
    const auto e = get_error(s.url("/trickle"), 1000000, o);
    CHECK(e.code == Errc::unavailable);
    CHECK_THAT(e.message, Catch::Contains("transfer too slow"));
    CHECK(std::chrono::steady_clock::now() - start < 3s);
  }
  SECTION("silence after the header hits the read timeout") {
    const auto e = get_error(s.url("/silent"), 100, o);
    CHECK(e.code == Errc::unavailable);
    CHECK_THAT(e.message, Catch::Contains("timed out: no data for 500ms"));
  }
  SECTION("a redirect loop") {
    const auto e = get_error(s.url("/loop-a"), 100, o);
    CHECK(e.code == Errc::io_error);
    CHECK_THAT(e.message, Catch::Contains("redirect loop") && Catch::Contains("/loop-b ->"));
  }
  SECTION("too many redirects") {
    const auto e = get_error(s.url("/hop/0"), 100, o);
    CHECK(e.code == Errc::io_error);
    CHECK_THAT(e.message, Catch::Contains("too many redirects (more than 5)"));
  }
  SECTION("a 500 and a 403") {
    auto e = get_error(s.url("/500"), 100, o);
    CHECK(e.code == Errc::unavailable);
    CHECK_THAT(e.message, Catch::EndsWith("/500: HTTP 500 Internal Server Error"));
    e = get_error(s.url("/403"), 100, o);
    CHECK(e.code == Errc::io_error);
    CHECK_THAT(e.message, Catch::Contains("HTTP 403 Forbidden"));
  }
  SECTION("a body shorter than its Content-Length") {
    const auto e = get_error(s.url("/truncated"), 5000, o);
    CHECK(e.code == Errc::unavailable);
    CHECK_THAT(e.message, Catch::Contains("truncated: connection closed after 10 of 1000 bytes"));
  }
  SECTION("a header line injected through a Location is refused") {
    CHECK(!http_get(s.url("/crlf-location"), 100, o));
  }
  SECTION("nothing listening") {
    // Port 1 on loopback: nothing listens there in the test environment.
    const auto e = get_error("http://127.0.0.1:1/x", 100, o);
    CHECK(e.code == Errc::unavailable);
    CHECK_THAT(e.message, Catch::Contains("cannot connect to 127.0.0.1:1"));
  }
}

TEST_CASE("https: verification, host names and no downgrade on redirect", "[http]") {
  TempDir tmp;
  TestCert cert(tmp / "ca.pem", "IP:127.0.0.1");
  TestCert stranger(tmp / "other.pem", "IP:127.0.0.1");
  Server plain([](Conn& c, const std::string& p, const std::string&) { hostile(nullptr, c, p); });
  const std::string plain_ok = plain.url("/ok");
  Server tls(
      [&](Conn& c, const std::string& p, const std::string&) {
        if (p == "/down") {
          c.send(response(302, "Found", "", fmt::format("Location: {}\r\n", plain_ok)));
        } else {
          hostile(nullptr, c, p);
        }
      },
      &cert);
  auto o = fast_options();
  o.ca_file = cert.pem_path;

  auto ok = http_get(tls.url("/ok", true), 100, o);
  REQUIRE(ok);
  CHECK(*ok == "hello");

  auto e = get_error(tls.url("/down", true), 100, o);
  CHECK(e.code == Errc::io_error);
  CHECK_THAT(e.message, Catch::Contains("redirect from https to http://127.0.0.1") &&
                            Catch::Contains("refused (downgrade)"));

  e = get_error(tls.url("/truncated", true), 5000, o);
  CHECK_THAT(e.message, Catch::Contains("truncated"));

  // The certificate names 127.0.0.1 only.
  e = get_error(fmt::format("https://localhost:{}/ok", tls.port()), 100, o);
  CHECK(e.code == Errc::io_error);
  CHECK_THAT(e.message, Catch::Contains("TLS certificate verification failed for localhost"));

  o.ca_file = stranger.pem_path;
  e = get_error(tls.url("/ok", true), 100, o);
  CHECK(e.code == Errc::io_error);
  CHECK_THAT(e.message, Catch::Contains("TLS certificate verification failed for 127.0.0.1"));

  // SSL_CERT_FILE is how OpenSSL's default paths are pointed at a private CA.
  o.ca_file.clear();
  ::setenv("SSL_CERT_FILE", cert.pem_path.c_str(), 1);
  auto via_env = http_get(tls.url("/ok", true), 100, o);
  ::unsetenv("SSL_CERT_FILE");
  REQUIRE(via_env);
  CHECK(*via_env == "hello");
}

TEST_CASE("http: proxies from the environment", "[http]") {
  std::map<std::string, std::string> env;
  auto getenv = [&env](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto parse = [&] { return ProxySettings::from_env(getenv); };

  auto none = parse();
  REQUIRE(none);
  CHECK_FALSE(none->proxy_for(*parse_url("http://a.example/x")));

  env = {{"HTTP_PROXY", "http://evil:1"},
         {"https_proxy", "proxy.lan:3128"},
         {"NO_PROXY", "internal.example, .corp,10.0.0.1,[::1]:8443,mirror.lan:8080"}};
  auto s = parse();
  REQUIRE(s);
  CHECK_FALSE(s->http);  // upper-case HTTP_PROXY is ignored (httpoxy)
  REQUIRE(s->https);
  CHECK(s->https->host_port() == "proxy.lan:3128");
  CHECK(s->proxy_for(*parse_url("https://feeds.example/f"))->host == "proxy.lan");
  CHECK_FALSE(s->proxy_for(*parse_url("https://internal.example/f")));
  CHECK_FALSE(s->proxy_for(*parse_url("https://a.b.internal.example/f")));
  CHECK(s->proxy_for(*parse_url("https://notinternal.example/f")));
  CHECK_FALSE(s->proxy_for(*parse_url("https://x.corp/f")));
  CHECK_FALSE(s->proxy_for(*parse_url("https://10.0.0.1/f")));
  CHECK_FALSE(s->proxy_for(*parse_url("https://[::1]:8443/f")));
  CHECK(s->proxy_for(*parse_url("https://[::1]:443/f")));
  CHECK_FALSE(s->proxy_for(*parse_url("https://mirror.lan:8080/f")));
  CHECK(s->proxy_for(*parse_url("https://mirror.lan/f")));
  CHECK_FALSE(s->proxy_for(*parse_url("http://feeds.example/f")));  // no http proxy set

  env = {{"http_proxy", "http://u:p@127.0.0.1:3128/"}, {"no_proxy", "*"}};
  s = parse();
  REQUIRE(s);
  CHECK(s->http->userinfo == "u:p");
  CHECK_FALSE(s->proxy_for(*parse_url("http://feeds.example/f")));

  env = {{"https_proxy", "https://proxy:443"}};
  CHECK(parse().error().code == Errc::unsupported);
  env = {{"http_proxy", "http://bad host:1"}};
  CHECK_FALSE(parse());
}

TEST_CASE("http: plain requests go through the proxy in absolute form, https with CONNECT",
          "[http]") {
  Server proxy([](Conn& c, const std::string& p, const std::string& req) {
    if (req.starts_with("CONNECT ")) {
      c.send("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n");
    } else if (p == "http://feeds.example:8000/feed/metadata/timestamp.json" &&
               req.find("\r\nProxy-Authorization: Basic dTpw\r\n") != std::string::npos) {
      c.send(response(200, "OK", "via proxy"));
    } else {
      c.send(response(400, "Bad Request", ""));
    }
  });
  auto o = fast_options();
  o.proxy.http = *parse_url(fmt::format("http://u:p@127.0.0.1:{}", proxy.port()));
  o.proxy.https = *parse_url(fmt::format("http://127.0.0.1:{}", proxy.port()));
  auto f = HttpFetcher::create("http://feeds.example:8000/feed/", o);
  REQUIRE(f);
  auto r = (*f)->fetch("metadata/timestamp.json", 100);
  REQUIRE(r);
  CHECK(*r == "via proxy");
  const auto e = get_error("https://feeds.example/x", 100, o);
  CHECK(e.code == Errc::unavailable);
  CHECK_THAT(e.message, Catch::Contains("refused CONNECT to feeds.example:443: HTTP 407"));
  const auto reqs = proxy.requests();
  CHECK(std::find(reqs.begin(), reqs.end(), "CONNECT feeds.example:443 HTTP/1.1") != reqs.end());
}

TEST_CASE("https through a CONNECT proxy reaches the origin and verifies it", "[http]") {
  TempDir tmp;
  TestCert cert(tmp / "ca.pem", "IP:127.0.0.1");
  Server origin([](Conn& c, const std::string& p, const std::string&) { hostile(nullptr, c, p); },
                &cert);
  Server proxy([&](Conn& c, const std::string&, const std::string& req) {
    if (!req.starts_with(fmt::format("CONNECT 127.0.0.1:{} ", origin.port()))) {
      c.send(response(403, "Forbidden", ""));
      return;
    }
    const int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(origin.port());
    if (::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      c.send("HTTP/1.1 200 Connection established\r\n\r\n");
      relay(c.fd(), up);
    }
    ::close(up);
  });
  auto o = fast_options();
  o.ca_file = cert.pem_path;
  o.proxy.https = *parse_url(fmt::format("http://127.0.0.1:{}", proxy.port()));
  auto r = http_get(origin.url("/ok", true), 100, o);
  REQUIRE(r);
  CHECK(*r == "hello");
  const auto reqs = proxy.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0] == fmt::format("CONNECT 127.0.0.1:{} HTTP/1.1", origin.port()));
}

TEST_CASE("http: a cancelled fetch stops at once instead of waiting for its deadline", "[http]") {
  Server* self = nullptr;
  Server s([&](Conn& c, const std::string& p, const std::string&) { hostile(self, c, p); });
  self = &s;
  auto o = fast_options();
  o.read_timeout = 30s;
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  o.cancel = cancel;
  std::thread canceller([cancel] {
    std::this_thread::sleep_for(200ms);
    *cancel = true;
  });
  const auto start = std::chrono::steady_clock::now();
  const auto e = get_error(s.url("/silent"), 100, o);
  canceller.join();
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(e.code == Errc::unavailable);
  CHECK_THAT(e.message, Catch::Contains("cancelled"));
}

TEST_CASE("urls: parsing and redirect resolution", "[http]") {
  auto u = parse_url("HTTP://Feeds.Example:8080/a/b?q=1#frag");
  REQUIRE(u);
  CHECK(u->host == "feeds.example");
  CHECK(u->port == 8080);
  CHECK(u->target == "/a/b?q=1");
  CHECK(parse_url("https://[::1]/x")->host_port() == "[::1]:443");
  CHECK(parse_url("http://h:0/").error().code == Errc::invalid_argument);
  CHECK(parse_url("http://h:65536/").error().code == Errc::invalid_argument);
  CHECK_FALSE(parse_url("http:///x"));
  CHECK_FALSE(parse_url("http://h/a b"));
  CHECK_FALSE(parse_url("ftp://h/"));
  CHECK(resolve_reference(*u, "c")->target == "/a/c");
  CHECK(resolve_reference(*u, "/z")->target == "/z");
  CHECK(resolve_reference(*u, "//other/y")->str() == "http://other:80/y");
  CHECK(resolve_reference(*u, "https://s/")->scheme == UrlScheme::https);
  CHECK_FALSE(resolve_reference(*u, "gopher://x/"));
}

TEST_CASE("urls: an IPv6 host is only an address (fuzz regression)", "[http]") {
  // make_address_v6 stops at a NUL: "[::1\0\r\nX: y]" must not pass as ::1 and keep the rest.
  using namespace std::string_view_literals;
  CHECK_FALSE(parse_url("https://[::1\0\0\x7f]/n"sv));
  CHECK_FALSE(parse_url("http://[::1\0\r\nX-Injected: 1]/"sv));
  CHECK_FALSE(parse_url("http://[::1%eth0]/"));
  CHECK(parse_url("http://[::ffff:127.0.0.1]:8080/")->host == "::ffff:127.0.0.1");
}

TEST_CASE("http: responses parsed from bytes follow the live fetch's rules", "[http]") {
  HttpOptions o;
  o.max_header_bytes = 1024;
  const std::string url = "http://feed.example/m/timestamp.json";
  auto ok = parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 100, o, url);
  REQUIRE(ok);
  CHECK(ok->body == "hello");
  auto chunked = parse_http_response(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 100, o, url);
  REQUIRE(chunked);
  CHECK(chunked->body == "abc");
  CHECK(parse_http_response("HTTP/1.0 200 OK\r\n\r\nuntil close", 100, o, url)->body ==
        "until close");
  CHECK(parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", 100, o, url)
            .error()
            .code == Errc::unavailable);
  CHECK(parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", 100, o, url)
            .error()
            .code == Errc::too_large);
  CHECK(parse_http_response("HTTP/1.1 200 OK\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", 100, o,
                            url)
            .error()
            .code == Errc::too_large);
  CHECK(parse_http_response("HTTP/1.1 200", 100, o, url).error().code == Errc::unavailable);

  auto moved =
      parse_http_response("HTTP/1.1 302 Found\r\nLocation: ../x.json\r\n\r\n", 100, o, url);
  REQUIRE(moved);
  CHECK(moved->location == "../x.json");
  const Url from = parse_url(url).value();
  std::vector<std::string> chain{from.str()};
  auto next = next_hop(from, *moved, chain, o);
  REQUIRE(next);
  CHECK(next->target == "/m/../x.json");
  CHECK(chain.size() == 2);
  CHECK(next_hop(*next, HttpResponse{302, "Found", from.str(), ""}, chain, o)
            .error()
            .message.find("redirect loop") != std::string::npos);
  std::vector<std::string> fresh{from.str()};
  CHECK(next_hop(from, HttpResponse{404, "Not Found", "", ""}, fresh, o).error().code ==
        Errc::not_found);
  CHECK(next_hop(from, HttpResponse{503, "Busy", "", ""}, fresh, o).error().code ==
        Errc::unavailable);
  auto https = parse_url("https://feed.example/t.json").value();
  CHECK(next_hop(https, HttpResponse{301, "Moved", "http://feed.example/t.json", ""}, fresh, o)
            .error()
            .message.find("downgrade") != std::string::npos);
}
