// Fuzzes what an HTTP server controls in the one HTTP client (core/net/http_client.cpp): the
// response bytes (status line, headers, Content-Length, chunked and close-delimited bodies) through
// parse_http_response, the redirect rules (next_hop: Location resolved against the URL, loops,
// downgrades, credentials), Retry-After and the status mapping, URL parsing, and the proxy
// environment (http_proxy, no_proxy).
//
// Input: the response bytes, then optionally "\n\0\n" and the URL fetched, then "\n\0\n" and a
// proxy environment, one NAME=value per line (seeds in corpus/http_response/).
//
// Checks: a body is never longer than the limit, and only a 200 has one; a redirect never leads to
// a URL with credentials, a downgrade, a target with spaces or control characters, or a URL already
// in the chain; parsed URLs round-trip through str().
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/net/http_client.hpp"

namespace {

using namespace weights;
using weights::fuzz::check;
using weights::fuzz::text_of;

constexpr std::uint64_t max_body = 4096;

std::vector<std::string_view> split(std::string_view text) {
  constexpr std::string_view separator("\n\0\n", 3);
  std::vector<std::string_view> parts;
  while (parts.size() < 2) {
    const auto at = text.find(separator);
    if (at == std::string_view::npos) break;
    parts.push_back(text.substr(0, at));
    text.remove_prefix(at + separator.size());
  }
  parts.push_back(text);
  parts.resize(3);
  return parts;
}

bool request_safe(std::string_view s) {
  for (const unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

void check_url(const Url& u) {
  check(!u.host.empty() && u.port != 0 && !u.target.empty() && u.target.front() == '/');
  check(request_safe(u.target) && request_safe(u.host));
  auto again = parse_url(u.str());
  check(again.has_value());
  check(again->scheme == u.scheme && again->host == u.host && again->port == u.port &&
        again->target == u.target);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = split(text_of(data, size));

  Url url = parse_url("https://feed.example/demo/metadata/timestamp.json").value();
  if (!parts[1].empty()) {
    auto u = parse_url(parts[1]);
    if (!u) return 0;
    check_url(*u);
    url = std::move(*u);
  }

  HttpOptions options;
  options.max_header_bytes = 1024;
  auto res = parse_http_response(parts[0], max_body, options, url.str());
  if (res) {
    check(res->body.size() <= max_body);
    // Retry-After is delta-seconds or unusable; the default mapping of a status is total.
    if (auto wait = retry_after(*res, std::nullopt)) check(wait->count() >= 0);
    if (res->status < 200 || res->status >= 300) {
      const Error e = status_error(url, *res);
      check(!e.message.empty() && e.code != Errc::internal);
    }
    if (res->status == 200) {
      check(res->location.empty());
    } else {
      check(res->body.empty());
      std::vector<std::string> chain{url.str()};
      auto next = next_hop(url, *res, chain, options);
      if (next) {
        check_url(*next);
        check(next->userinfo.empty());
        check(!(url.scheme == UrlScheme::https && next->scheme == UrlScheme::http));
        check(chain.size() == 2 && chain.back() == next->str() && chain.front() != chain.back());
        // The same redirect again from where it leads is a loop or goes on to a new URL.
        auto again = next_hop(*next, *res, chain, options);
        if (again) check(again->str() != chain.front());
      }
    }
  }

  // Proxy environment.
  std::map<std::string, std::string> env;
  std::string_view rest = parts[2];
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    const auto eq = line.find('=');
    if (eq != std::string_view::npos) {
      env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
  }
  if (!env.empty()) {
    auto proxy = ProxySettings::from_env([&env](const char* name) -> const char* {
      const auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    });
    if (proxy) {
      if (proxy->http) check_url(*proxy->http);
      if (proxy->https) check_url(*proxy->https);
      (void)proxy->proxy_for(url);
    }
  }
  return 0;
}
