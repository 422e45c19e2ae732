#include "core/http_fetcher.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/encoding.hpp"
#include "core/path_policy.hpp"

namespace weights {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using Tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

// Bytes that may appear in a request target as sent: printable ASCII without space. Anything
// else (CR/LF above all) would let a Location header or feed URL inject header lines.
bool valid_target(std::string_view t) {
  return std::all_of(t.begin(), t.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

std::string strip_fragment(std::string_view s) {
  return std::string(s.substr(0, s.find('#')));
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

std::string percent_encode_path(std::string_view name) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

// ---- one exchange ------------------------------------------------------------------------------

// Runs `ioc` until the single outstanding operation (and the stream's timer) completes; false
// if the caller cancelled first (the operation's handler then never runs).
[[nodiscard]] bool run(asio::io_context& ioc, const HttpOptions& o) {
  ioc.restart();
  if (!o.cancel) {
    ioc.run();
    return true;
  }
  while (!ioc.stopped()) {
    if (o.cancel->load()) {
      ioc.stop();
      return false;
    }
    ioc.run_for(std::chrono::milliseconds(100));
  }
  return true;
}

tl::unexpected<Error> cancelled(const std::string& url) {
  return fail(Errc::unavailable, fmt::format("{}: cancelled (weightsd is stopping)", url));
}

std::string ms(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
  return fmt::format("{}ms", d.count());
}

// Abandons transfers that stay below options.min_rate over a whole rate window.
class RateGuard {
 public:
  RateGuard(const HttpOptions& o, std::string url) : o_(o), url_(std::move(url)) {}
  Status add(std::size_t n) {
    bytes_ += n;
    const auto now = Clock::now();
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - start_);
    if (o_.min_rate == 0 || elapsed < o_.rate_window) return {};
    const double rate = static_cast<double>(bytes_) * 1000.0 / static_cast<double>(elapsed.count());
    if (rate < static_cast<double>(o_.min_rate)) {
      return fail(Errc::unavailable,
                  fmt::format("{}: transfer too slow: {} bytes in {}, below the minimum of {} "
                              "bytes/s",
                              url_, bytes_, ms(elapsed), o_.min_rate));
    }
    start_ = now;
    bytes_ = 0;
    return {};
  }

 private:
  const HttpOptions& o_;
  std::string url_;
  Clock::time_point start_ = Clock::now();
  std::uint64_t bytes_ = 0;
};

Error read_error(const beast::error_code& ec, const std::string& url, const HttpOptions& o,
                 std::uint64_t max_bytes, std::optional<std::uint64_t> content_length,
                 std::uint64_t body_bytes, bool header_done) {
  if (ec == beast::error::timeout) {
    return Error{Errc::unavailable,
                 fmt::format("{}: timed out: no data for {}", url, ms(o.read_timeout)),
                 {}};
  }
  if (ec == http::error::body_limit) {
    return Error{
        Errc::too_large,
        content_length
            ? fmt::format("{}: {} bytes exceeds the limit of {}", url, *content_length, max_bytes)
            : fmt::format("{}: body exceeds the limit of {} bytes", url, max_bytes),
        {}};
  }
  if (ec == http::error::header_limit) {
    return Error{Errc::too_large,
                 fmt::format("{}: response header exceeds {} bytes", url, o.max_header_bytes),
                 {}};
  }
  const bool closed = ec == http::error::partial_message || ec == http::error::end_of_stream ||
                      ec == asio::error::eof || ec == ssl::error::stream_truncated ||
                      ec == asio::error::connection_reset;
  if (closed) {
    if (!header_done) {
      return Error{Errc::unavailable,
                   fmt::format("{}: connection closed before a complete response header", url),
                   {}};
    }
    return Error{Errc::unavailable,
                 content_length ? fmt::format("{}: truncated: connection closed after {} of {} "
                                              "bytes",
                                              url, body_bytes, *content_length)
                                : fmt::format("{}: truncated: connection closed after {} bytes "
                                              "without a proper end of body",
                                              url, body_bytes),
                 {}};
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    return Error{
        Errc::unavailable, fmt::format("{}: malformed HTTP response: {}", url, ec.message()), {}};
  }
  return Error{Errc::unavailable, fmt::format("{}: read: {}", url, ec.message()), {}};
}

// The limits of every response parser: nothing past them is ever stored.
template <class Parser>
void limit(Parser& p, const HttpOptions& o, std::uint64_t max_bytes) {
  p.header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
  p.body_limit(max_bytes);
}

// Status line and Location of a parsed header.
template <class Parser>
HttpResponse head_of(const Parser& p) {
  HttpResponse res;
  res.status = p.get().result_int();
  res.reason = std::string(p.get().reason());
  if (res.status >= 300 && res.status < 400) {
    res.location = std::string(p.get()[http::field::location]);
  }
  return res;
}

// Reads into `p` until its header (or whole message) is parsed, with the per-read deadline and
// the rate guard. The body limit is the parser's, so nothing past it is ever stored.
template <class Stream, class Parser>
Status read_until(asio::io_context& ioc, Stream& stream, beast::tcp_stream& tcp,
                  beast::flat_buffer& buf, Parser& p, bool header_only, const HttpOptions& o,
                  RateGuard& rate, const std::string& url, std::uint64_t max_bytes,
                  const std::function<std::uint64_t()>& body_bytes) {
  while (!(header_only ? p.is_header_done() : p.is_done())) {
    tcp.expires_after(o.read_timeout);
    beast::error_code ec;
    std::size_t n = 0;
    http::async_read_some(stream, buf, p, [&](beast::error_code e, std::size_t k) {
      ec = e;
      n = k;
    });
    if (!run(ioc, o)) return cancelled(url);
    if (ec) {
      std::optional<std::uint64_t> len;
      if (p.is_header_done() && p.content_length()) len = *p.content_length();
      return tl::unexpected(
          read_error(ec, url, o, max_bytes, len, body_bytes(), p.is_header_done()));
    }
    if (auto st = rate.add(n); !st) return st;
  }
  tcp.expires_never();
  return {};
}

template <class Stream, class Message>
Status write_all(asio::io_context& ioc, Stream& stream, beast::tcp_stream& tcp, Message& m,
                 const HttpOptions& o, const std::string& url) {
  tcp.expires_after(o.read_timeout);
  beast::error_code ec;
  http::async_write(stream, m, [&](beast::error_code e, std::size_t) { ec = e; });
  if (!run(ioc, o)) return cancelled(url);
  if (ec == beast::error::timeout) {
    return fail(Errc::unavailable, fmt::format("{}: timed out sending the request", url));
  }
  if (ec)
    return fail(Errc::unavailable, fmt::format("{}: sending the request: {}", url, ec.message()));
  return {};
}

Status connect_tcp(asio::io_context& ioc, beast::tcp_stream& s, const Url& to, const HttpOptions& o,
                   const std::string& url, bool via_proxy) {
  Tcp::resolver resolver(ioc);
  beast::error_code ec;
  const auto endpoints = resolver.resolve(to.host, std::to_string(to.port), ec);
  const std::string what = via_proxy ? fmt::format("proxy {}", to.host_port()) : to.host_port();
  if (ec) {
    return fail(Errc::unavailable,
                fmt::format("{}: cannot resolve {}: {}", url, what, ec.message()));
  }
  s.expires_after(o.connect_timeout);
  s.async_connect(endpoints, [&](beast::error_code e, const Tcp::endpoint&) { ec = e; });
  if (!run(ioc, o)) return cancelled(url);
  if (ec == beast::error::timeout) {
    return fail(Errc::unavailable, fmt::format("{}: connecting to {} timed out after {}", url, what,
                                               ms(o.connect_timeout)));
  }
  if (ec) {
    return fail(Errc::unavailable,
                fmt::format("{}: cannot connect to {}: {}", url, what, ec.message()));
  }
  return {};
}

std::string basic_auth(const std::string& userinfo) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(userinfo.data());
  return "Basic " + base64_encode(std::span<const std::uint8_t>(p, userinfo.size()));
}

// CONNECT host:port through an HTTP proxy; afterwards `tcp` is a tunnel to the origin.
Status connect_tunnel(asio::io_context& ioc, beast::tcp_stream& tcp, const Url& proxy,
                      const Url& origin, const HttpOptions& o, const std::string& url) {
  http::request<http::empty_body> req{http::verb::connect, origin.host_port(), 11};
  req.set(http::field::host, origin.host_port());
  req.set(http::field::user_agent, o.user_agent);
  if (!proxy.userinfo.empty())
    req.set(http::field::proxy_authorization, basic_auth(proxy.userinfo));
  if (auto st = write_all(ioc, tcp, tcp, req, o, url); !st) return st;
  beast::flat_buffer buf;
  http::response_parser<http::empty_body> p;
  p.header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
  p.skip(true);  // a CONNECT answer has no body we want; the tunnel starts after the header
  RateGuard rate(o, url);
  if (auto st = read_until(ioc, tcp, tcp, buf, p, true, o, rate, url, 0, [] { return 0u; }); !st) {
    return tl::unexpected(with_context(st.error(), fmt::format("proxy {}", proxy.host_port())));
  }
  const unsigned status = p.get().result_int();
  if (status / 100 != 2) {
    return fail(Errc::unavailable, fmt::format("{}: proxy {} refused CONNECT to {}: HTTP {} {}",
                                               url, proxy.host_port(), origin.host_port(), status,
                                               std::string(p.get().reason())));
  }
  if (buf.size() != 0) {
    return fail(Errc::unavailable, fmt::format("{}: proxy {} sent data before the TLS handshake",
                                               url, proxy.host_port()));
  }
  return {};
}

template <class Stream>
Result<HttpResponse> request_over(asio::io_context& ioc, Stream& stream, beast::tcp_stream& tcp,
                                  const Url& url, const Url* plain_proxy, std::uint64_t max_bytes,
                                  const HttpOptions& o) {
  const std::string shown = url.str();
  const bool default_port = (url.scheme == UrlScheme::http && url.port == 80) ||
                            (url.scheme == UrlScheme::https && url.port == 443);
  http::request<http::empty_body> req{http::verb::get, plain_proxy ? shown : url.target, 11};
  const std::string host_header =
      default_port ? (url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host)
                   : url.host_port();
  req.set(http::field::host, host_header);
  req.set(http::field::user_agent, o.user_agent);
  req.set(http::field::accept_encoding, "identity");
  req.set(http::field::connection, "close");
  if (plain_proxy && !plain_proxy->userinfo.empty()) {
    req.set(http::field::proxy_authorization, basic_auth(plain_proxy->userinfo));
  }
  if (auto st = write_all(ioc, stream, tcp, req, o, shown); !st) return tl::unexpected(st.error());

  beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  limit(p, o, max_bytes);
  RateGuard rate(o, shown);
  auto body_bytes = [&p]() -> std::uint64_t { return p.get().body().size(); };
  if (auto st = read_until(ioc, stream, tcp, buf, p, true, o, rate, shown, max_bytes, body_bytes);
      !st) {
    return tl::unexpected(st.error());
  }
  HttpResponse ex = head_of(p);
  if (ex.status != 200) return ex;
  if (auto st = read_until(ioc, stream, tcp, buf, p, false, o, rate, shown, max_bytes, body_bytes);
      !st) {
    return tl::unexpected(st.error());
  }
  ex.body = p.release().body();
  return ex;
}

std::string tls_error_text() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

Result<HttpResponse> exchange(const Url& url, std::uint64_t max_bytes, const HttpOptions& o) {
  asio::io_context ioc(1);
  const std::string shown = url.str();
  const auto proxy = o.proxy.proxy_for(url);
  if (url.scheme == UrlScheme::http) {
    beast::tcp_stream tcp(ioc);
    if (auto st = connect_tcp(ioc, tcp, proxy ? *proxy : url, o, shown, proxy.has_value()); !st) {
      return tl::unexpected(st.error());
    }
    return request_over(ioc, tcp, tcp, url, proxy ? &*proxy : nullptr, max_bytes, o);
  }

  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  if (o.ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
  } else {
    ctx.load_verify_file(o.ca_file, ec);
  }
  if (ec) {
    return fail(Errc::io_error,
                fmt::format("{}: cannot load CA certificates{}: {}", shown,
                            o.ca_file.empty() ? "" : " from " + o.ca_file, ec.message()));
  }
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  SSL* handle = stream.native_handle();
  X509_VERIFY_PARAM* param = SSL_get0_param(handle);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const bool ip = is_ip_literal(url.host);
  const int set_ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str())
                        : X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), url.host.size());
  if (set_ok != 1 || (!ip && SSL_set_tlsext_host_name(handle, url.host.c_str()) != 1)) {
    return fail(Errc::io_error, fmt::format("{}: cannot set up TLS host verification", shown));
  }
  auto& tcp = stream.next_layer();
  if (auto st = connect_tcp(ioc, tcp, proxy ? *proxy : url, o, shown, proxy.has_value()); !st) {
    return tl::unexpected(st.error());
  }
  if (proxy) {
    if (auto st = connect_tunnel(ioc, tcp, *proxy, url, o, shown); !st) {
      return tl::unexpected(st.error());
    }
  }
  ERR_clear_error();
  tcp.expires_after(o.connect_timeout);
  stream.async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
  if (!run(ioc, o)) return cancelled(shown);
  if (ec) {
    const long verify = SSL_get_verify_result(handle);
    if (verify != X509_V_OK) {
      return fail(Errc::io_error,
                  fmt::format("{}: TLS certificate verification failed for {}: {}", shown, url.host,
                              X509_verify_cert_error_string(verify)),
                  "check the feed URL; for a private CA set ca_file or SSL_CERT_FILE");
    }
    if (ec == beast::error::timeout) {
      return fail(Errc::unavailable, fmt::format("{}: TLS handshake timed out after {}", shown,
                                                 ms(o.connect_timeout)));
    }
    const std::string detail = tls_error_text();
    return fail(Errc::io_error, fmt::format("{}: TLS handshake with {} failed: {}", shown, url.host,
                                            detail.empty() ? ec.message() : detail));
  }
  // No TLS close_notify exchange: the request says Connection: close and a body is accepted
  // only when its length is known and complete, so a truncation cannot pass as an end.
  return request_over(ioc, stream, tcp, url, nullptr, max_bytes, o);
}

Result<std::string> get_url(Url url, std::uint64_t max_bytes, const HttpOptions& o) {
  std::vector<std::string> chain{url.str()};
  for (;;) {
    auto ex = exchange(url, max_bytes, o);
    if (!ex) return tl::unexpected(ex.error());
    if (ex->status == 200) return std::move(ex->body);
    auto next = next_hop(url, *ex, chain, o);
    if (!next) return tl::unexpected(next.error());
    url = std::move(*next);
  }
}

bool no_proxy_matches(const std::vector<std::string>& list, const Url& url) {
  for (std::string entry : list) {
    if (entry == "*") return true;
    if (entry.starts_with("*.")) entry.erase(0, 1);
    std::optional<std::uint16_t> port;
    if (!entry.empty() && entry.front() == '[') {
      const auto close = entry.find(']');
      if (close == std::string::npos) continue;
      if (close + 1 < entry.size() && entry[close + 1] == ':') {
        port = static_cast<std::uint16_t>(std::atoi(entry.c_str() + close + 2));
      }
      entry = entry.substr(1, close - 1);
    } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
      const auto colon = entry.find(':');
      port = static_cast<std::uint16_t>(std::atoi(entry.c_str() + colon + 1));
      entry.resize(colon);
    }
    if (port && *port != url.port) continue;
    if (entry.starts_with('.')) entry.erase(0, 1);
    if (entry.empty()) continue;
    if (url.host == entry) return true;
    if (url.host.size() > entry.size() && url.host.ends_with(entry) &&
        url.host[url.host.size() - entry.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

Result<Url> parse_proxy(std::string_view name, std::string value) {
  if (value.find("://") == std::string::npos) value = "http://" + value;
  if (istarts_with(value, "https://")) {
    return fail(Errc::unsupported,
                fmt::format("{}={}: HTTPS proxies are not supported; use http://", name, value));
  }
  auto u = parse_url(value);
  if (!u) return tl::unexpected(with_context(u.error(), name));
  return u;
}

}  // namespace

// ---- Url ---------------------------------------------------------------------------------------

std::string Url::host_port() const {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}{}{}:{}", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

std::string Url::str() const {
  return fmt::format("{}://{}{}", scheme == UrlScheme::https ? "https" : "http", host_port(),
                     target);
}

Result<Url> parse_url(std::string_view text) {
  Url u;
  std::string_view rest;
  if (istarts_with(text, "http://")) {
    u.scheme = UrlScheme::http;
    u.port = 80;
    rest = text.substr(7);
  } else if (istarts_with(text, "https://")) {
    u.scheme = UrlScheme::https;
    u.port = 443;
    rest = text.substr(8);
  } else {
    return fail(Errc::invalid_argument, fmt::format("'{}' is not an http:// or https:// URL",
                                                    escape_path_for_message(text)));
  }
  const auto auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string target =
      auth_end == std::string_view::npos ? "/" : strip_fragment(rest.substr(auth_end));
  if (target.empty() || target.front() == '?') target = "/" + target;
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    u.userinfo = std::string(authority.substr(0, at));
    authority.remove_prefix(at + 1);
  }
  std::string_view host, port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail(Errc::invalid_argument, fmt::format("{}: unclosed '[' in host", text));
    }
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return fail(Errc::invalid_argument, fmt::format("{}: junk after IPv6 host", text));
      }
      port = after.substr(1);
    }
    // make_address_v6 reads a C string: a NUL would hide whatever follows it (CR, LF, ...).
    const bool v6_chars = std::all_of(host.begin(), host.end(), [](unsigned char c) {
      return std::isxdigit(c) || c == ':' || c == '.';
    });
    boost::system::error_code ec;
    (void)asio::ip::make_address_v6(std::string(host), ec);
    if (ec || !v6_chars) {
      return fail(Errc::invalid_argument, fmt::format("{}: bad IPv6 address", text));
    }
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    const bool ok = !host.empty() && std::all_of(host.begin(), host.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '-' || c == '.' || c == '_';
    });
    if (!ok) return fail(Errc::invalid_argument, fmt::format("{}: bad host name", text));
  }
  if (host.empty()) return fail(Errc::invalid_argument, fmt::format("{}: no host", text));
  if (!port.empty()) {
    unsigned p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535) {
        return fail(Errc::invalid_argument, fmt::format("{}: bad port", text));
      }
      p = p * 10 + static_cast<unsigned>(c - '0');
    }
    if (p == 0 || p > 65535) return fail(Errc::invalid_argument, fmt::format("{}: bad port", text));
    u.port = static_cast<std::uint16_t>(p);
  }
  if (!valid_target(target) || !valid_target(u.userinfo)) {
    return fail(Errc::invalid_argument, fmt::format("{}: spaces or control characters in URL",
                                                    escape_path_for_message(text)));
  }
  u.host = lower(host);
  u.target = std::move(target);
  return u;
}

Result<Url> resolve_reference(const Url& base, std::string_view ref) {
  if (istarts_with(ref, "http://") || istarts_with(ref, "https://")) return parse_url(ref);
  if (ref.find("://") != std::string_view::npos && ref.find("://") < ref.find('/')) {
    return fail(Errc::io_error,
                fmt::format("redirect to unsupported URL '{}'", escape_path_for_message(ref)));
  }
  if (ref.starts_with("//")) {
    return parse_url(fmt::format("{}:{}", base.scheme == UrlScheme::https ? "https" : "http", ref));
  }
  Url out = base;
  out.userinfo.clear();
  std::string target;
  if (ref.starts_with('/')) {
    target = strip_fragment(ref);
  } else {
    std::string dir = base.target.substr(0, base.target.find('?'));
    dir.resize(dir.rfind('/') + 1);
    target = dir + strip_fragment(ref);
  }
  if (!valid_target(target)) {
    return fail(Errc::io_error,
                fmt::format("redirect to an invalid URL '{}'", escape_path_for_message(ref)));
  }
  out.target = std::move(target);
  return out;
}

// ---- proxies ----------------------------------------------------------------------------------

Result<ProxySettings> ProxySettings::from_env(
    const std::function<const char*(const char*)>& getenv) {
  auto get = [&](const char* name) -> std::string {
    const char* v = getenv ? getenv(name) : std::getenv(name);
    return v ? std::string(v) : std::string();
  };
  ProxySettings s;
  // Upper-case HTTP_PROXY is ignored on purpose (httpoxy: CGI maps a "Proxy:" request header
  // to it).
  if (auto v = get("http_proxy"); !v.empty()) {
    auto u = parse_proxy("http_proxy", v);
    if (!u) return tl::unexpected(u.error());
    s.http = std::move(*u);
  }
  std::string https = get("https_proxy");
  if (https.empty()) https = get("HTTPS_PROXY");
  if (!https.empty()) {
    auto u = parse_proxy("https_proxy", https);
    if (!u) return tl::unexpected(u.error());
    s.https = std::move(*u);
  }
  std::string no = get("no_proxy");
  if (no.empty()) no = get("NO_PROXY");
  std::string cur;
  for (char c : no + ",") {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty()) s.no_proxy.push_back(lower(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  return s;
}

std::optional<Url> ProxySettings::proxy_for(const Url& url) const {
  if (no_proxy_matches(no_proxy, url)) return std::nullopt;
  return url.scheme == UrlScheme::https ? https : http;
}

// ---- public entry points
// -------------------------------------------------------------------------

Result<std::string> http_get(std::string_view url, std::uint64_t max_bytes,
                             const HttpOptions& options) {
  auto u = parse_url(url);
  if (!u) return tl::unexpected(u.error());
  if (!u->userinfo.empty()) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: credentials in URLs are not supported", u->str()));
  }
  return get_url(std::move(*u), max_bytes, options);
}

Result<std::unique_ptr<HttpFetcher>> HttpFetcher::create(std::string_view base,
                                                         HttpOptions options) {
  auto u = parse_url(base);
  if (!u) return tl::unexpected(u.error());
  if (!u->userinfo.empty()) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: credentials in feed URLs are not supported", u->str()));
  }
  if (u->target.find('?') != std::string::npos) {
    return fail(Errc::invalid_argument, fmt::format("{}: a feed URL has no query", u->str()));
  }
  if (!u->target.ends_with('/')) u->target += '/';
  return std::unique_ptr<HttpFetcher>(new HttpFetcher(std::move(*u), std::move(options)));
}

Result<std::string> HttpFetcher::fetch(std::string_view relative_name, std::uint64_t max_bytes) {
  if (auto ok = check_path(relative_name); !ok) {
    return tl::unexpected(with_context(ok.error(), "fetch"));
  }
  Url url = base_;
  url.target += percent_encode_path(relative_name);
  return get_url(std::move(url), max_bytes, options_);
}

// ---- one response ---------------------------------------------------------------------------

Result<HttpResponse> parse_http_response(std::string_view bytes, std::uint64_t max_bytes,
                                         const HttpOptions& options, const std::string& url) {
  http::response_parser<http::string_body> p;
  limit(p, options, max_bytes);
  beast::error_code ec;
  auto failed = [&]() -> tl::unexpected<Error> {
    std::optional<std::uint64_t> len;
    if (p.is_header_done() && p.content_length()) len = *p.content_length();
    return tl::unexpected(
        read_error(ec, url, options, max_bytes, len, p.get().body().size(), p.is_header_done()));
  };
  // As on a socket: the header first, the body only for a 200, then the end of the stream.
  auto feed = [&](bool header_only) -> Status {
    while (!(header_only ? p.is_header_done() : p.is_done())) {
      if (bytes.empty()) {
        p.put_eof(ec);
        if (!ec && !(header_only ? p.is_header_done() : p.is_done()))
          ec = http::error::end_of_stream;
        if (ec) return failed();
        continue;
      }
      const std::size_t n = p.put(asio::buffer(bytes.data(), bytes.size()), ec);
      bytes.remove_prefix(n);
      if (ec == http::error::need_more) ec = {};
      if (ec) return failed();
      // put() keeps nothing: what it did not consume would have to come again with more bytes,
      // and there are none.
      if (n == 0) bytes = {};
    }
    return {};
  };
  if (auto st = feed(true); !st) return tl::unexpected(st.error());
  HttpResponse res = head_of(p);
  if (res.status != 200) return res;
  if (auto st = feed(false); !st) return tl::unexpected(st.error());
  res.body = p.release().body();
  return res;
}

Result<Url> next_hop(const Url& url, const HttpResponse& ex, std::vector<std::string>& chain,
                     const HttpOptions& o) {
  const std::string shown = url.str();
  if (ex.status == 404 || ex.status == 410) {
    return fail(Errc::not_found, fmt::format("{}: HTTP {} {}", shown, ex.status, ex.reason));
  }
  const bool redirect = ex.status == 301 || ex.status == 302 || ex.status == 303 ||
                        ex.status == 307 || ex.status == 308;
  if (!redirect) {
    const bool transient = ex.status >= 500 || ex.status == 429 || ex.status == 408;
    return fail(transient ? Errc::unavailable : Errc::io_error,
                fmt::format("{}: HTTP {} {}", shown, ex.status, ex.reason));
  }
  if (ex.location.empty()) {
    return fail(Errc::io_error,
                fmt::format("{}: HTTP {} redirect without a Location", shown, ex.status));
  }
  auto next = resolve_reference(url, ex.location);
  if (!next) return tl::unexpected(with_context(next.error(), shown + ": redirect"));
  if (!next->userinfo.empty()) {
    return fail(Errc::io_error,
                fmt::format("{}: redirect to a URL with credentials refused", shown));
  }
  if (url.scheme == UrlScheme::https && next->scheme == UrlScheme::http) {
    return fail(Errc::io_error, fmt::format("{}: redirect from https to {} refused (downgrade)",
                                            shown, next->str()));
  }
  const std::string to = next->str();
  if (std::find(chain.begin(), chain.end(), to) != chain.end()) {
    chain.push_back(to);
    std::string path;
    for (const auto& c : chain) path += (path.empty() ? "" : " -> ") + c;
    return fail(Errc::io_error, fmt::format("redirect loop: {}", path));
  }
  if (chain.size() > static_cast<std::size_t>(o.max_redirects)) {
    return fail(Errc::io_error, fmt::format("{}: too many redirects (more than {}) from {}", to,
                                            o.max_redirects, chain.front()));
  }
  chain.push_back(to);
  return next;
}

}  // namespace weights
