#pragma once
// The one HTTP(S) client of weights_core (feeds, torrents, web downloads, the Hugging Face hub).
//
// Contract (what a hostile server or network can and cannot do to the caller):
//  - at most `max_bytes` of body are ever accepted: a Content-Length above it fails before the
//    body is read; chunked or close-delimited bodies fail as soon as they pass it. The body goes
//    to a sink in chunks (a string, a file), so memory stays bounded whatever the server sends;
//  - every connect and every read has a deadline, and a transfer slower than `min_rate` over a
//    window of `rate_window` is abandoned: a stalled transfer fails, a slow one that keeps
//    moving does not die at a fixed timeout. An optional overall `deadline` bounds the whole
//    request, redirects and retries included;
//  - redirects are followed at most `max_redirects` times, never from https to http, never to
//    a URL with credentials, and a loop is reported as such; an Authorization header goes to
//    the origin of the requested URL only;
//  - a 429 or 503 with a Retry-After of at most `max_retry_after` seconds is retried after that
//    wait, at most `max_attempts` times in all; a longer or unusable Retry-After is the answer;
//  - https uses the system CA store (OpenSSL's default paths, so SSL_CERT_FILE/SSL_CERT_DIR
//    apply) or `ca_file`, requires TLS >= 1.2 and verifies the host name (or IP) of the URL;
//  - proxies come from ProxySettings (core/net/proxy.hpp); https goes through CONNECT;
//  - a Range request's 206 must continue exactly at the byte asked for.
// Errors: not_found for 404/410, too_large, unavailable for connection failures, timeouts, slow
// transfers, truncated bodies, cancellation and 5xx/429/408, io_error for other statuses,
// redirect problems and TLS failures. Messages name the URL and the cause.
// A request runs its own io_context on the calling thread (blocking); call it from a worker.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/net/proxy.hpp"
#include "core/net/url.hpp"
#include "core/util/error.hpp"

namespace weights {

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{15000};  // resolve + TCP connect + TLS handshake
  std::chrono::milliseconds read_timeout{30000};     // longest silence while reading
  std::uint64_t min_rate = 1024;                     // bytes per second, averaged over a window
  std::chrono::milliseconds rate_window{10000};
  // The whole request (redirects, retries and waits included); unset: only the rules above.
  std::optional<std::chrono::milliseconds> deadline;
  int max_redirects = 5;
  int max_attempts = 2;                      // requests in all while 429/503 say Retry-After
  std::chrono::seconds max_retry_after{10};  // longer waits are not waited for
  // The wait for a 429/503 without Retry-After; unset: such a response is the answer.
  std::optional<std::chrono::seconds> default_retry_after;
  std::uint64_t max_header_bytes = 16 * 1024;
  // Response headers a caller acts on beyond ResponseHead's own fields (names match
  // case-insensitively): the first value of each is kept for ResponseHead::header. Only these
  // are copied, and they count against max_header_bytes like every header.
  std::vector<std::string> keep_headers;
  ProxySettings proxy;
  std::string ca_file;  // empty: OpenSSL's default verify paths
  std::string user_agent = "weightsd";
  // When set and true, a request in progress stops within ~100 ms (Errc::unavailable,
  // "cancelled"): lets a daemon shut down without waiting for the deadlines.
  std::shared_ptr<const std::atomic<bool>> cancel;
};

// The head of a response as the client saw it.
struct ResponseHead {
  unsigned status = 0;
  std::string reason;
  std::string location;       // for 3xx
  std::string content_range;  // for 206
  std::string retry_after;
  std::string link;
  std::optional<std::uint64_t> content_length;
  // Name (as HttpOptions::keep_headers spells it) and first value of each kept header present.
  std::vector<std::pair<std::string, std::string>> kept;

  // The value of a header named in HttpOptions::keep_headers (case-insensitive), or nullopt
  // when the response had none or it was not asked for.
  std::optional<std::string_view> header(std::string_view name) const;
};

// Receives a body in order, chunk by chunk; an error stops the transfer and is returned.
using BodySink = std::function<Status(std::string_view chunk)>;

struct HttpRequest {
  Url url;
  std::uint64_t max_bytes = 0;              // body limit of the final 2xx response
  std::optional<std::uint64_t> range_from;  // sends "Range: bytes=N-" when N > 0
  std::string authorization;                // sent to url's origin only (never after a redirect
                                            // to another origin)
  // Called with the head of the final 2xx response before its body (e.g. to restart a resumed
  // file on a 200); an error stops the transfer.
  std::function<Status(const ResponseHead&)> on_head;
  BodySink sink;  // the final 2xx body; unset: the body is read and dropped
};

struct HttpResult {
  ResponseHead head;  // of the final response (not a redirect)
  Url url;            // the URL it came from
  std::uint64_t body_bytes = 0;
};

// One GET with the rules above. Redirects are followed; a final status outside 2xx is returned
// as a head (its body unread) for the caller to map, e.g. with status_error.
Result<HttpResult> http_request(const HttpRequest& request, const HttpOptions& options);

// The default meaning of a final status outside 2xx: not_found for 404/410, unavailable for
// 5xx/429/408, io_error otherwise; the message names the URL, the status and a Retry-After.
Error status_error(const Url& url, const ResponseHead& head);

// One GET; returns the body of a 200 response, any other final status is status_error.
Result<std::string> http_get(std::string_view url, std::uint64_t max_bytes,
                             const HttpOptions& options);

// One response as a fetch sees it. The body is read only for a 200.
struct HttpResponse : ResponseHead {
  std::string body;  // for 200
};

// Parses the bytes a server sent on one connection (until it closed) with the same limits and
// error mapping as a live request of `url` (exposed for tests and the fuzz target).
Result<HttpResponse> parse_http_response(std::string_view bytes, std::uint64_t max_bytes,
                                         const HttpOptions& options, const std::string& url);
// What a request of `url` does with a response that is not 2xx: not_found (404/410), an error
// naming the status, or the URL a redirect leads to, by the redirect rules above. `chain` holds
// the URLs visited so far (first the one requested); the next one is appended.
Result<Url> next_hop(const Url& url, const ResponseHead& response, std::vector<std::string>& chain,
                     const HttpOptions& options);

// The wait a 429/503 asks for: Retry-After in delta-seconds, or `fallback` when absent;
// nullopt when it is unusable (an HTTP-date, junk).
std::optional<std::chrono::seconds> retry_after(const ResponseHead& head,
                                                std::optional<std::chrono::seconds> fallback);

}  // namespace weights
