#include "core/net/http_client.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <thread>

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

#include "core/util/encoding.hpp"

namespace weights {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using Tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// The options of one request plus its absolute deadline.
struct Limits : HttpOptions {
  explicit Limits(const HttpOptions& o) : HttpOptions(o) {
    if (o.deadline) until = Clock::now() + *o.deadline;
  }
  std::optional<Clock::time_point> until;
};

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

std::string ms(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
  return fmt::format("{}ms", d.count());
}

bool is_redirect(unsigned s) {
  return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

tl::unexpected<Error> cancelled(const std::string& url) {
  return fail(Errc::unavailable, fmt::format("{}: cancelled (weightsd is stopping)", url));
}

tl::unexpected<Error> past_deadline(const std::string& url, const Limits& o) {
  return fail(Errc::unavailable,
              fmt::format("{}: not done within the deadline of {}", url, ms(*o.deadline)));
}

// A response body that goes to a BodySink as it is parsed; the parser's body limit applies.
struct SinkBody {
  struct value_type {
    const BodySink* sink = nullptr;  // unset while the header is read and for dropped bodies
    std::uint64_t size = 0;
    std::optional<Error> error;  // what the sink refused, if it did
  };
  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& v) : v_(v) {}
    void init(const boost::optional<std::uint64_t>&, beast::error_code& ec) { ec = {}; }
    template <class Buffers>
    std::size_t put(const Buffers& buffers, beast::error_code& ec) {
      ec = {};
      std::size_t n = 0;
      for (const auto b : beast::buffers_range_ref(buffers)) {
        const std::string_view chunk(static_cast<const char*>(b.data()), b.size());
        if (v_.sink && *v_.sink) {
          if (auto st = (*v_.sink)(chunk); !st) {
            v_.error = st.error();
            ec = asio::error::operation_aborted;
            return n;
          }
        }
        v_.size += chunk.size();
        n += chunk.size();
      }
      return n;
    }
    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& v_;
  };
};

using Parser = http::response_parser<SinkBody>;

// ---- one exchange ------------------------------------------------------------------------------

// Runs `ioc` until the single outstanding operation (and the stream's timer) completes; an
// error if the caller cancelled or the deadline passed first (the handler then never runs).
Status run(asio::io_context& ioc, const Limits& o, const std::string& url) {
  ioc.restart();
  if (!o.cancel && !o.until) {
    ioc.run();
    return {};
  }
  while (!ioc.stopped()) {
    if (o.cancel && o.cancel->load()) {
      ioc.stop();
      return cancelled(url);
    }
    std::chrono::milliseconds step(100);
    if (o.until) {
      const auto now = Clock::now();
      if (now >= *o.until) {
        ioc.stop();
        return past_deadline(url, o);
      }
      step = std::min(step, std::chrono::ceil<std::chrono::milliseconds>(*o.until - now));
    }
    ioc.run_for(step);
  }
  return {};
}

// Waits `d` (a Retry-After), still honouring cancellation and the deadline.
Status pause(std::chrono::seconds d, const Limits& o, const std::string& url) {
  const auto end = Clock::now() + d;
  if (o.until && end > *o.until) return past_deadline(url, o);
  while (Clock::now() < end) {
    if (o.cancel && o.cancel->load()) return cancelled(url);
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(100), end - Clock::now()));
  }
  return {};
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
                 std::uint64_t max_bytes, const Parser& p) {
  if (p.get().body().error) return *p.get().body().error;
  const bool header_done = p.is_header_done();
  std::optional<std::uint64_t> content_length;
  if (header_done && p.content_length()) content_length = *p.content_length();
  const std::uint64_t body_bytes = p.get().body().size;
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

// A parser with the header limit; the body limit is set once the header says what the body is
// (Beast 1.74 compares a Content-Length with an unset limit as if it were zero).
void limit_header(Parser& p, const HttpOptions& o) {
  p.header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
  p.body_limit(std::numeric_limits<std::uint64_t>::max());
}

// After the header of a response whose body is wanted: nothing past max_bytes is accepted, and
// a declared length above it fails before any of the body is read.
Status limit_body(Parser& p, std::uint64_t max_bytes, const std::string& url,
                  const BodySink* sink) {
  if (p.content_length() && *p.content_length() > max_bytes) {
    return fail(Errc::too_large, fmt::format("{}: {} bytes exceeds the limit of {}", url,
                                             *p.content_length(), max_bytes));
  }
  p.body_limit(max_bytes);
  p.get().body().sink = sink;
  return {};
}

// Status line and the headers the client and its callers act on.
ResponseHead head_of(const Parser& p, const HttpOptions& o) {
  const auto& m = p.get();
  auto field = [&](http::field f) {
    const auto v = m[f];
    return std::string(v.data(), v.size());
  };
  ResponseHead res;
  res.status = m.result_int();
  res.reason = std::string(m.reason());
  if (res.status >= 300 && res.status < 400) res.location = field(http::field::location);
  res.content_range = field(http::field::content_range);
  res.retry_after = field(http::field::retry_after);
  res.link = field(http::field::link);
  if (p.content_length()) res.content_length = *p.content_length();
  for (const auto& name : o.keep_headers) {
    if (const auto it = m.find(name); it != m.end()) {
      res.kept.emplace_back(name, std::string(it->value()));
    }
  }
  return res;
}

// Reads into `p` until its header (or whole message) is parsed, with the per-read deadline and
// the rate guard. The body limit is the parser's, so nothing past it is ever stored.
template <class Stream>
Status read_until(asio::io_context& ioc, Stream& stream, beast::tcp_stream& tcp,
                  beast::flat_buffer& buf, Parser& p, bool header_only, const Limits& o,
                  RateGuard& rate, const std::string& url, std::uint64_t max_bytes) {
  while (!(header_only ? p.is_header_done() : p.is_done())) {
    tcp.expires_after(o.read_timeout);
    beast::error_code ec;
    std::size_t n = 0;
    http::async_read_some(stream, buf, p, [&](beast::error_code e, std::size_t k) {
      ec = e;
      n = k;
    });
    if (auto st = run(ioc, o, url); !st) return st;
    if (ec) return tl::unexpected(read_error(ec, url, o, max_bytes, p));
    if (auto st = rate.add(n); !st) return st;
  }
  tcp.expires_never();
  return {};
}

template <class Stream, class Message>
Status write_all(asio::io_context& ioc, Stream& stream, beast::tcp_stream& tcp, Message& m,
                 const Limits& o, const std::string& url) {
  tcp.expires_after(o.read_timeout);
  beast::error_code ec;
  http::async_write(stream, m, [&](beast::error_code e, std::size_t) { ec = e; });
  if (auto st = run(ioc, o, url); !st) return st;
  if (ec == beast::error::timeout) {
    return fail(Errc::unavailable, fmt::format("{}: timed out sending the request", url));
  }
  if (ec)
    return fail(Errc::unavailable, fmt::format("{}: sending the request: {}", url, ec.message()));
  return {};
}

Status connect_tcp(asio::io_context& ioc, beast::tcp_stream& s, const Url& to, const Limits& o,
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
  if (auto st = run(ioc, o, url); !st) return st;
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
                      const Url& origin, const Limits& o, const std::string& url) {
  http::request<http::empty_body> req{http::verb::connect, origin.host_port(), 11};
  req.set(http::field::host, origin.host_port());
  req.set(http::field::user_agent, o.user_agent);
  if (!proxy.userinfo.empty())
    req.set(http::field::proxy_authorization, basic_auth(proxy.userinfo));
  if (auto st = write_all(ioc, tcp, tcp, req, o, url); !st) return st;
  beast::flat_buffer buf;
  Parser p;
  limit_header(p, o);
  p.skip(true);  // a CONNECT answer has no body we want; the tunnel starts after the header
  RateGuard rate(o, url);
  if (auto st = read_until(ioc, tcp, tcp, buf, p, true, o, rate, url, 0); !st) {
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

struct Exchanged {
  ResponseHead head;
  std::uint64_t body_bytes = 0;
};

template <class Stream>
Result<Exchanged> request_over(asio::io_context& ioc, Stream& stream, beast::tcp_stream& tcp,
                               const Url& url, const Url* plain_proxy, const HttpRequest& r,
                               bool send_authorization, const Limits& o) {
  const std::string shown = url.str();
  http::request<http::empty_body> req{http::verb::get, plain_proxy ? shown : url.target, 11};
  req.set(http::field::host, url.host_header());
  req.set(http::field::user_agent, o.user_agent);
  req.set(http::field::accept_encoding, "identity");
  req.set(http::field::connection, "close");
  if (r.range_from && *r.range_from > 0) {
    req.set(http::field::range, fmt::format("bytes={}-", *r.range_from));
  }
  if (send_authorization && !r.authorization.empty()) {
    req.set(http::field::authorization, r.authorization);
  }
  if (plain_proxy && !plain_proxy->userinfo.empty()) {
    req.set(http::field::proxy_authorization, basic_auth(plain_proxy->userinfo));
  }
  if (auto st = write_all(ioc, stream, tcp, req, o, shown); !st) return tl::unexpected(st.error());

  beast::flat_buffer buf;
  Parser p;
  limit_header(p, o);
  RateGuard rate(o, shown);
  if (auto st = read_until(ioc, stream, tcp, buf, p, true, o, rate, shown, r.max_bytes); !st) {
    return tl::unexpected(st.error());
  }
  Exchanged ex{head_of(p, o), 0};
  const unsigned s = ex.head.status;
  // Only a 2xx body is wanted; any other is left unread (the connection closes).
  if (s < 200 || s >= 300) return ex;
  if (r.range_from && *r.range_from > 0 && s == 206) {
    const std::string expect = fmt::format("bytes {}-", *r.range_from);
    if (!ex.head.content_range.starts_with(expect)) {
      return fail(Errc::unavailable,
                  fmt::format("{}: Content-Range '{}' does not continue at byte {}", shown,
                              ex.head.content_range, *r.range_from));
    }
  }
  if (r.on_head) {
    if (auto st = r.on_head(ex.head); !st) return tl::unexpected(st.error());
  }
  if (auto st = limit_body(p, r.max_bytes, shown, &r.sink); !st) {
    return tl::unexpected(st.error());
  }
  if (auto st = read_until(ioc, stream, tcp, buf, p, false, o, rate, shown, r.max_bytes); !st) {
    return tl::unexpected(st.error());
  }
  ex.body_bytes = p.get().body().size;
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

Result<Exchanged> exchange(const Url& url, const HttpRequest& r, bool send_authorization,
                           const Limits& o) {
  asio::io_context ioc(1);
  const std::string shown = url.str();
  const auto proxy = o.proxy.proxy_for(url);
  if (url.scheme == UrlScheme::http) {
    beast::tcp_stream tcp(ioc);
    if (auto st = connect_tcp(ioc, tcp, proxy ? *proxy : url, o, shown, proxy.has_value()); !st) {
      return tl::unexpected(st.error());
    }
    return request_over(ioc, tcp, tcp, url, proxy ? &*proxy : nullptr, r, send_authorization, o);
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
  if (auto st = run(ioc, o, shown); !st) return tl::unexpected(st.error());
  if (ec) {
    const long verify = SSL_get_verify_result(handle);
    if (verify != X509_V_OK) {
      return fail(Errc::io_error,
                  fmt::format("{}: TLS certificate verification failed for {}: {}", shown, url.host,
                              X509_verify_cert_error_string(verify)),
                  "check the URL; for a private CA set ca_file or SSL_CERT_FILE");
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
  return request_over(ioc, stream, tcp, url, nullptr, r, send_authorization, o);
}

}  // namespace

// ---- public entry points -----------------------------------------------------------------------

std::optional<std::string_view> ResponseHead::header(std::string_view name) const {
  for (const auto& [n, v] : kept) {
    if (beast::iequals(n, beast::string_view(name.data(), name.size()))) {
      return std::string_view(v);
    }
  }
  return std::nullopt;
}

std::optional<std::chrono::seconds> retry_after(const ResponseHead& head,
                                                std::optional<std::chrono::seconds> fallback) {
  const std::string& v = head.retry_after;
  if (v.empty()) return fallback;
  unsigned long secs = 0;
  const auto [p, e] = std::from_chars(v.data(), v.data() + v.size(), secs);
  if (e != std::errc() || p != v.data() + v.size()) return std::nullopt;  // HTTP-date, junk
  return std::chrono::seconds(std::min<unsigned long>(secs, 1UL << 31));
}

Error status_error(const Url& url, const ResponseHead& head) {
  const std::string shown = url.str();
  if (head.status == 404 || head.status == 410) {
    return Error{
        Errc::not_found, fmt::format("{}: HTTP {} {}", shown, head.status, head.reason), {}};
  }
  const bool transient = head.status >= 500 || head.status == 429 || head.status == 408;
  std::string msg = fmt::format("{}: HTTP {} {}", shown, head.status, head.reason);
  if (!head.retry_after.empty() && (head.status == 429 || head.status == 503)) {
    msg += fmt::format(" (Retry-After: {})", head.retry_after.substr(0, 64));
  }
  return Error{transient ? Errc::unavailable : Errc::io_error, std::move(msg), {}};
}

Result<HttpResult> http_request(const HttpRequest& r, const HttpOptions& options) {
  const Limits o(options);
  if (!r.url.userinfo.empty()) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: credentials in URLs are not supported", r.url.str()));
  }
  Url url = r.url;
  std::vector<std::string> chain{url.str()};
  int attempts = 0;
  for (;;) {
    auto ex = exchange(url, r, url.same_origin(r.url), o);
    if (!ex) return tl::unexpected(ex.error());
    const unsigned s = ex->head.status;
    if (s >= 200 && s < 300) return HttpResult{std::move(ex->head), url, ex->body_bytes};
    if ((s == 429 || s == 503) && ++attempts < o.max_attempts) {
      const auto wait = retry_after(ex->head, o.default_retry_after);
      if (wait && *wait <= o.max_retry_after) {
        if (auto st = pause(*wait, o, url.str()); !st) return tl::unexpected(st.error());
        continue;
      }
    }
    if (!is_redirect(s)) return HttpResult{std::move(ex->head), url, 0};
    auto next = next_hop(url, ex->head, chain, o);
    if (!next) return tl::unexpected(next.error());
    url = std::move(*next);
  }
}

Result<std::string> http_get(std::string_view url, std::uint64_t max_bytes,
                             const HttpOptions& options) {
  auto u = parse_url(url);
  if (!u) return tl::unexpected(u.error());
  std::string body;
  HttpRequest r;
  r.url = std::move(*u);
  r.max_bytes = max_bytes;
  r.sink = [&body](std::string_view chunk) -> Status {
    body.append(chunk);
    return {};
  };
  auto res = http_request(r, options);
  if (!res) return tl::unexpected(res.error());
  if (res->head.status != 200) return tl::unexpected(status_error(res->url, res->head));
  return body;
}

// ---- one response ---------------------------------------------------------------------------

Result<HttpResponse> parse_http_response(std::string_view bytes, std::uint64_t max_bytes,
                                         const HttpOptions& options, const std::string& url) {
  Parser p;
  limit_header(p, options);
  beast::error_code ec;
  auto failed = [&]() -> tl::unexpected<Error> {
    return tl::unexpected(read_error(ec, url, options, max_bytes, p));
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
  HttpResponse res;
  static_cast<ResponseHead&>(res) = head_of(p, options);
  if (res.status != 200) return res;
  const BodySink sink = [&res](std::string_view chunk) -> Status {
    res.body.append(chunk);
    return {};
  };
  if (auto st = limit_body(p, max_bytes, url, &sink); !st) return tl::unexpected(st.error());
  if (auto st = feed(false); !st) return tl::unexpected(st.error());
  return res;
}

Result<Url> next_hop(const Url& url, const ResponseHead& ex, std::vector<std::string>& chain,
                     const HttpOptions& o) {
  const std::string shown = url.str();
  if (!is_redirect(ex.status)) return tl::unexpected(status_error(url, ex));
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
