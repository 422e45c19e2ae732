#pragma once
// Feeds over HTTP(S): a Fetcher that GETs `<base URL>/<relative name>` with Boost.Beast.
//
// Contract (what a hostile server or network can and cannot do to the caller):
//  - at most `max_bytes` of body are ever buffered: the limit is enforced by the parser while
//    reading (Content-Length above it fails before the body is read; chunked or close-delimited
//    bodies fail as soon as they pass it), so memory stays bounded whatever the server sends;
//  - every connect and every read has a deadline, and a transfer slower than `min_rate` over a
//    window of `rate_window` is abandoned (a trickle cannot hold a refresh forever);
//  - redirects are followed at most `max_redirects` times, never from https to http, and a
//    loop is reported as such;
//  - https uses the system CA store (OpenSSL's default paths, so SSL_CERT_FILE/SSL_CERT_DIR
//    apply) or `ca_file`, requires TLS >= 1.2 and verifies the host name (or IP) of the URL;
//  - proxies come from http_proxy / https_proxy / no_proxy (curl's rules: the upper-case
//    HTTP_PROXY is ignored, as CGI environments let clients set it); https goes through CONNECT.
// Errors: not_found for 404/410 (the TUF root chain stops on it), too_large, unavailable for
// connection failures, timeouts, slow transfers, truncated bodies and 5xx/429, io_error for
// other statuses, redirect problems and TLS failures. Messages name the URL and the cause.
// One HttpFetcher is used by one thread at a time; each fetch runs its own io_context.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/fetcher.hpp"

namespace weights {

enum class UrlScheme { http, https };

struct Url {
  UrlScheme scheme = UrlScheme::http;
  std::string host;  // lower-case; IPv6 without brackets
  std::uint16_t port = 80;
  std::string target = "/";  // path and query, always starting with '/'
  std::string userinfo;      // proxies only ("user:password"); refused in feed URLs

  std::string host_port() const;  // "host:port" with IPv6 in brackets
  std::string str() const;        // without userinfo
};

// Parses an absolute http(s) URL. Fragments are dropped; userinfo is kept for the caller to
// accept or refuse.
Result<Url> parse_url(std::string_view text);
// Resolves a Location header value against the URL it came from (absolute, scheme-relative,
// absolute-path or relative reference).
Result<Url> resolve_reference(const Url& base, std::string_view reference);

struct ProxySettings {
  std::optional<Url> http;            // for http:// URLs
  std::optional<Url> https;           // for https:// URLs (tunnelled with CONNECT)
  std::vector<std::string> no_proxy;  // host suffixes, "host:port" or "*"

  // Reads http_proxy, https_proxy/HTTPS_PROXY, no_proxy/NO_PROXY through `getenv` (tests pass
  // their own). A malformed proxy URL is an error rather than a silent direct connection.
  static Result<ProxySettings> from_env(
      const std::function<const char*(const char*)>& getenv = nullptr);
  // The proxy to use for `url`, if any.
  std::optional<Url> proxy_for(const Url& url) const;
};

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{15000};  // resolve + TCP connect + TLS handshake
  std::chrono::milliseconds read_timeout{30000};     // longest silence while reading
  std::uint64_t min_rate = 1024;                     // bytes per second, averaged over a window
  std::chrono::milliseconds rate_window{10000};
  int max_redirects = 5;
  std::uint64_t max_header_bytes = 16 * 1024;
  ProxySettings proxy;
  std::string ca_file;  // empty: OpenSSL's default verify paths
  std::string user_agent = "weightsd";
  // When set and true, a fetch in progress stops within ~100 ms (Errc::unavailable,
  // "cancelled"): lets a daemon shut down without waiting for the deadlines.
  std::shared_ptr<const std::atomic<bool>> cancel;
};

// One GET with the rules above; returns the body of a 200 response.
Result<std::string> http_get(std::string_view url, std::uint64_t max_bytes,
                             const HttpOptions& options);

// One response as a fetch sees it. The body is read only for a 200.
struct HttpResponse {
  unsigned status = 0;
  std::string reason;
  std::string location;  // for 3xx
  std::string body;      // for 200
};

// Parses the bytes a server sent on one connection (until it closed) with the same limits and
// error mapping as a live fetch of `url` (exposed for tests and the fuzz target).
Result<HttpResponse> parse_http_response(std::string_view bytes, std::uint64_t max_bytes,
                                         const HttpOptions& options, const std::string& url);
// What a fetch of `url` does with a response other than 200: not_found (404/410), an error
// naming the status, or the URL a redirect leads to, by the redirect rules above. `chain` holds
// the URLs visited so far (first the one requested); the next one is appended.
Result<Url> next_hop(const Url& url, const HttpResponse& response, std::vector<std::string>& chain,
                     const HttpOptions& options);

class HttpFetcher final : public Fetcher {
 public:
  // `base` is the feed's URL; relative names are appended to its path (percent-encoded).
  static Result<std::unique_ptr<HttpFetcher>> create(std::string_view base, HttpOptions options);
  Result<std::string> fetch(std::string_view relative_name, std::uint64_t max_bytes) override;
  std::string describe() const override { return base_.str(); }

 private:
  HttpFetcher(Url base, HttpOptions options)
      : base_(std::move(base)), options_(std::move(options)) {}
  Url base_;
  HttpOptions options_;
};

}  // namespace weights
