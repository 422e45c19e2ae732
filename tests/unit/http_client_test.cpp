#include "core/net/http_client.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/net/http_fetcher.hpp"
#include "support/http_test_server.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::testing;
using namespace std::chrono_literals;

namespace {

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

ResponseHead head(unsigned status, std::string reason, std::string location = {}) {
  ResponseHead h;
  h.status = status;
  h.reason = std::move(reason);
  h.location = std::move(location);
  return h;
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
    const int up = connect_loopback(origin.port());
    if (up >= 0) {
      c.send("HTTP/1.1 200 Connection established\r\n\r\n");
      relay(c.fd(), up);
      ::close(up);
    }
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

TEST_CASE("urls: nothing that could split a request line passes (hub fuzz regression)", "[http]") {
  auto base = parse_url("https://huggingface.co/api/models/x/y");
  REQUIRE(base);
  for (const char* bad : {"https://h/a b", "https://h/a\r\nX-Injected: 1", "https://h\n/x",
                          "https://h/\x7f", "https://h/caf\xc3\xa9"}) {
    INFO(bad);
    CHECK_FALSE(parse_url(bad));
    CHECK_FALSE(resolve_reference(*base, bad));
  }
  CHECK_FALSE(resolve_reference(*base, "/api/x y"));
  CHECK_FALSE(resolve_reference(*base, std::string_view("/api/x\0y", 7)));
  CHECK_FALSE(resolve_reference(*base, "//[::1]:8080/a\nb"));
  // A host that would read back as another one once written out ("[...]" around a colon).
  CHECK_FALSE(parse_url(R"(https://a","b":{"c[::1]:8080/x)"));
  CHECK_FALSE(parse_url("https://[::1\"]/x"));
  CHECK(parse_url("https://[2001:db8::1]:8443/x")->host == "2001:db8::1");
  // A fragment is never part of the request target, whichever form the Location takes.
  CHECK(resolve_reference(*base, "/api/x?cursor=a#frag")->target == "/api/x?cursor=a");
  CHECK(resolve_reference(*base, "https://h/y#frag")->target == "/y");
  CHECK(resolve_reference(*base, "/api/x%20y?cursor=a%0Ab"));
  CHECK(resolve_reference(*base, "//cdn.example/p")->str() == "https://cdn.example:443/p");
  CHECK(parse_url("https://huggingface.co/x")->host_header() == "huggingface.co");
  CHECK(parse_url("http://[::1]:81/x")->host_header() == "[::1]:81");
  CHECK(parse_url("https://a.example/x")->same_origin(*parse_url("https://A.example:443/y")));
  CHECK_FALSE(parse_url("https://a.example/x")->same_origin(*parse_url("http://a.example/x")));
  CHECK(percent_encode_path("refs/pr/1", false) == "refs%2Fpr%2F1");
  CHECK(percent_encode_path("a b/c.json") == "a%20b/c.json");
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
  CHECK(next_hop(*next, head(302, "Found", from.str()), chain, o)
            .error()
            .message.find("redirect loop") != std::string::npos);
  std::vector<std::string> fresh{from.str()};
  CHECK(next_hop(from, head(404, "Not Found"), fresh, o).error().code == Errc::not_found);
  CHECK(next_hop(from, head(503, "Busy"), fresh, o).error().code == Errc::unavailable);
  auto https = parse_url("https://feed.example/t.json").value();
  CHECK(next_hop(https, head(301, "Moved", "http://feed.example/t.json"), fresh, o)
            .error()
            .message.find("downgrade") != std::string::npos);
}

// ---- the one client's request API --------------------------------------------------------------

namespace {

// What a sink received.
struct Collected {
  std::string body;
  BodySink sink() {
    return [this](std::string_view chunk) -> Status {
      body.append(chunk);
      return {};
    };
  }
};

HttpRequest get(const std::string& url, std::uint64_t max_bytes, Collected& into) {
  HttpRequest r;
  r.url = parse_url(url).value();
  r.max_bytes = max_bytes;
  r.sink = into.sink();
  return r;
}

}  // namespace

TEST_CASE("http: Retry-After on 429/503 is waited out, within bounds", "[http]") {
  std::atomic<int> hits{0};
  Server s([&](Conn& c, const std::string& p, const std::string&) {
    const int n = hits++;
    if (p == "/busy-once") {
      c.send(n == 0 ? response(503, "Service Unavailable", "", "Retry-After: 1\r\n")
                    : response(200, "OK", "at last"));
    } else if (p == "/busy-long") {
      c.send(response(429, "Too Many Requests", "", "Retry-After: 3600\r\n"));
    } else if (p == "/busy-date") {
      c.send(response(503, "Busy", "", "Retry-After: Wed, 21 Oct 2026 07:28:00 GMT\r\n"));
    } else {
      c.send(response(429, "Too Many Requests", "", "Retry-After: 0\r\n"));
    }
  });
  auto o = fast_options();

  SECTION("a short Retry-After is honoured, then the answer counts") {
    const auto start = std::chrono::steady_clock::now();
    auto r = http_get(s.url("/busy-once"), 100, o);
    REQUIRE(r);
    CHECK(*r == "at last");
    CHECK(hits == 2);
    CHECK(std::chrono::steady_clock::now() - start >= 900ms);
  }
  SECTION("a Retry-After above the bound is not waited for") {
    const auto start = std::chrono::steady_clock::now();
    const auto e = get_error(s.url("/busy-long"), 100, o);
    CHECK(e.code == Errc::unavailable);
    CHECK_THAT(e.message, Catch::Contains("HTTP 429") && Catch::Contains("Retry-After: 3600"));
    CHECK(hits == 1);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
  }
  SECTION("an HTTP-date is not a usable wait") {
    CHECK(get_error(s.url("/busy-date"), 100, o).code == Errc::unavailable);
    CHECK(hits == 1);
  }
  SECTION("retries stop after max_attempts") {
    o.max_attempts = 3;
    CHECK(get_error(s.url("/busy-always"), 100, o).code == Errc::unavailable);
    CHECK(hits == 3);
  }
  SECTION("without Retry-After a default wait applies only when configured") {
    ResponseHead h = head(503, "Busy");
    CHECK_FALSE(retry_after(h, std::nullopt));
    CHECK(retry_after(h, 1s) == 1s);
    h.retry_after = "7";
    CHECK(retry_after(h, std::nullopt) == 7s);
    h.retry_after = "7s";
    CHECK_FALSE(retry_after(h, 1s));
  }
}

TEST_CASE("http: a Range request must be answered where it asked", "[http]") {
  Server s([](Conn& c, const std::string& p, const std::string& req) {
    const bool ranged = req.find("\r\nRange: bytes=5-\r\n") != std::string::npos;
    if (p == "/range" && ranged) {
      c.send(response(206, "Partial Content", "56789", "Content-Range: bytes 5-9/10\r\n"));
    } else if (p == "/wrong-range" && ranged) {
      c.send(response(206, "Partial Content", "01234", "Content-Range: bytes 0-4/10\r\n"));
    } else if (p == "/no-range") {
      c.send(response(200, "OK", "0123456789"));
    } else {
      c.send(response(400, "Bad Request", ""));
    }
  });
  const auto o = fast_options();
  Collected got;
  auto r = get(s.url("/range"), 10, got);
  r.range_from = 5;
  auto ok = http_request(r, o);
  REQUIRE(ok);
  CHECK(ok->head.status == 206);
  CHECK(ok->head.content_range == "bytes 5-9/10");
  CHECK(got.body == "56789");

  Collected wrong;
  r = get(s.url("/wrong-range"), 10, wrong);
  r.range_from = 5;
  auto bad = http_request(r, o);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::unavailable);
  CHECK_THAT(bad.error().message, Catch::Contains("does not continue at byte 5"));
  CHECK(wrong.body.empty());

  // A server that ignores Range sends the whole body: the caller's on_head sees the 200.
  Collected whole;
  r = get(s.url("/no-range"), 10, whole);
  r.range_from = 5;
  unsigned seen = 0;
  r.on_head = [&seen](const ResponseHead& h) -> Status {
    seen = h.status;
    return {};
  };
  auto full = http_request(r, o);
  REQUIRE(full);
  CHECK(seen == 200);
  CHECK(whole.body == "0123456789");
}

TEST_CASE("http: a stalled transfer fails, a slow one that keeps moving does not", "[http]") {
  Server* self = nullptr;
  Server s([&](Conn& c, const std::string& p, const std::string&) {
    if (p == "/slow-moving") {
      // 24 chunks of 400 bytes every 50 ms: ~1.2 s in all, longer than the read timeout, at
      // ~8000 bytes/s, four times the minimum rate.
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 9600\r\n\r\n");
      for (int i = 0; i < 24 && !self->stopping(); ++i) {
        if (!c.send(std::string(400, 'm'))) return;
        std::this_thread::sleep_for(50ms);
      }
    } else {
      hostile(self, c, p);
    }
  });
  self = &s;
  auto o = fast_options();
  auto moving = http_get(s.url("/slow-moving"), 10000, o);
  REQUIRE(moving);
  CHECK(moving->size() == 9600);

  auto e = get_error(s.url("/silent"), 100, o);
  CHECK_THAT(e.message, Catch::Contains("timed out: no data"));
  e = get_error(s.url("/trickle"), 1000000, o);
  CHECK_THAT(e.message, Catch::Contains("transfer too slow"));

  // The overall deadline bounds even a transfer that keeps moving.
  o.deadline = 300ms;
  const auto start = std::chrono::steady_clock::now();
  e = get_error(s.url("/slow-moving"), 10000, o);
  CHECK(e.code == Errc::unavailable);
  CHECK_THAT(e.message, Catch::Contains("not done within the deadline of 300ms"));
  CHECK(std::chrono::steady_clock::now() - start < 1s);
}

TEST_CASE("http: the body sink gets at most max_bytes and can stop the transfer", "[http]") {
  Server* self = nullptr;
  Server s([&](Conn& c, const std::string& p, const std::string&) { hostile(self, c, p); });
  self = &s;
  const auto o = fast_options();
  for (const char* p : {"/endless", "/endless-chunked"}) {
    Collected got;
    auto r = http_request(get(s.url(p), 100000, got), o);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::too_large);
    CHECK(got.body.size() <= 100000);
  }
  Collected none;
  auto big = http_request(get(s.url("/big"), 1000, none), o);
  REQUIRE_FALSE(big);
  CHECK(big.error().code == Errc::too_large);
  CHECK(none.body.empty());  // refused on its Content-Length, before any byte

  HttpRequest r = get(s.url("/endless"), 1 << 30, none);
  std::uint64_t total = 0;
  r.sink = [&total](std::string_view chunk) -> Status {
    total += chunk.size();
    if (total > 200000) return fail(Errc::no_space, "sink full");
    return {};
  };
  auto stopped = http_request(r, o);
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error().code == Errc::no_space);
  CHECK(stopped.error().message == "sink full");
}

TEST_CASE("http: Authorization goes to the requested origin only", "[http]") {
  std::mutex m;
  std::vector<std::string> at_origin, at_other;
  Server other([&](Conn& c, const std::string&, const std::string& req) {
    {
      std::lock_guard lock(m);
      at_other.push_back(req);
    }
    c.send(response(200, "OK", "cdn"));
  });
  Server origin([&](Conn& c, const std::string&, const std::string& req) {
    {
      std::lock_guard lock(m);
      at_origin.push_back(req);
    }
    c.send(response(302, "Found", "", fmt::format("Location: {}\r\n", other.url("/blob"))));
  });
  Collected got;
  HttpRequest r = get(origin.url("/file"), 100, got);
  r.authorization = "Bearer secret";
  auto ok = http_request(r, fast_options());
  REQUIRE(ok);
  CHECK(got.body == "cdn");
  CHECK(ok->url.str() == other.url("/blob"));
  std::lock_guard lock(m);
  REQUIRE(at_origin.size() == 1);
  REQUIRE(at_other.size() == 1);
  CHECK_THAT(at_origin[0], Catch::Contains("\r\nAuthorization: Bearer secret\r\n"));
  CHECK_THAT(at_other[0], !Catch::Contains("Authorization"));
}

TEST_CASE("http: a caller gets the response headers it asked for, by any case, and no others",
          "[http]") {
  HttpOptions o;
  o.keep_headers = {"X-Error-Code", "x-repo-commit", "X-Absent"};
  const std::string url = "https://hub.example/api/models/org/name/revision/main";
  auto refused = parse_http_response(
      "HTTP/1.1 401 Unauthorized\r\nx-error-code: RepoNotFound\r\nX-Error-Message: Repository "
      "Not Found\r\nX-REPO-COMMIT: 0123\r\nX-Error-Code: Second\r\nContent-Length: 2\r\n\r\n{}",
      100, o, url);
  REQUIRE(refused);
  CHECK(refused->status == 401);
  CHECK(refused->header("X-Error-Code") == "RepoNotFound");  // the first of two
  CHECK(refused->header("x-error-code") == "RepoNotFound");
  CHECK(refused->header("X-Repo-Commit") == "0123");
  CHECK_FALSE(refused->header("X-Error-Message"));  // present, not asked for
  CHECK_FALSE(refused->header("X-Absent"));         // asked for, not present
  CHECK(refused->kept.size() == 2);

  // Not asked for: nothing is kept.
  auto plain = parse_http_response("HTTP/1.1 404 Not Found\r\nX-Error-Code: EntryNotFound\r\n\r\n",
                                   100, HttpOptions{}, url);
  REQUIRE(plain);
  CHECK(plain->kept.empty());
  CHECK_FALSE(plain->header("X-Error-Code"));

  // A kept header counts against the header cap like any other.
  HttpOptions small = o;
  small.max_header_bytes = 256;
  CHECK(parse_http_response(
            "HTTP/1.1 401 Unauthorized\r\nX-Error-Code: " + std::string(300, 'a') + "\r\n\r\n", 100,
            small, url)
            .error()
            .code == Errc::too_large);

  // A live request: the head of the final answer carries them, after a redirect too.
  Server s([&](Conn& c, const std::string& p, const std::string&) {
    if (p == "/moved") {
      c.send(response(302, "Found", "", "Location: /gone\r\nX-Error-Code: NotThisOne\r\n"));
    } else {
      c.send(response(404, "Not Found", R"({"error":"Entry not found"})",
                      "X-Error-Code: EntryNotFound\r\nX-Repo-Commit: abc\r\n"));
    }
  });
  Collected got;
  auto live = http_request(get(s.url("/moved"), 100, got), o);
  REQUIRE(live);
  CHECK(live->head.status == 404);
  CHECK(live->head.header("X-ERROR-CODE") == "EntryNotFound");
  CHECK(live->head.header("X-Repo-Commit") == "abc");
  CHECK(got.body.empty());  // an error body is never read
}
