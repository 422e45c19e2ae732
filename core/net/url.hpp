#pragma once
// The one URL parser of weights_core: absolute http(s) URLs as the HTTP client sends them, and
// redirect references resolved against the URL they came from.
//
// Contract: a parsed URL never carries a byte that could split a request line or inject a
// header (controls, space, non-ASCII) in its host, userinfo or target; a host is a DNS name or
// an IP literal (IPv6 in brackets, hex digits, ':' and '.' only); str() parses back to the
// same URL. Fragments are dropped (they are never sent).
#include <cstdint>
#include <string>
#include <string_view>

#include "core/util/error.hpp"

namespace weights {

enum class UrlScheme { http, https };

struct Url {
  UrlScheme scheme = UrlScheme::http;
  std::string host;  // lower-case; IPv6 without brackets
  std::uint16_t port = 80;
  std::string target = "/";  // path and query, always starting with '/'
  std::string userinfo;      // proxies only ("user:password"); callers refuse it elsewhere

  std::string host_port() const;  // "host:port" with IPv6 in brackets
  std::string str() const;        // without userinfo
  // The Host header: "host" on the scheme's default port, else "host:port".
  std::string host_header() const;
  // Same scheme, host and port (credentials are sent to one origin only).
  bool same_origin(const Url& other) const;
};

// Parses an absolute http(s) URL. Userinfo is kept for the caller to accept or refuse.
Result<Url> parse_url(std::string_view text);
// Resolves a Location header value against the URL it came from (absolute, scheme-relative,
// absolute-path or relative reference). The result never carries the base's userinfo.
Result<Url> resolve_reference(const Url& base, std::string_view reference);

// Percent-encodes `s` for a URL path: unreserved characters stay, '/' stays unless
// `keep_slash` is false (one path segment, e.g. a revision "refs/pr/1").
std::string percent_encode_path(std::string_view s, bool keep_slash = true);

// `s` with ASCII letters lower-cased (scheme and host names; independent of the C locale).
std::string ascii_lower(std::string_view s);

}  // namespace weights
