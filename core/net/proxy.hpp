#pragma once
// Proxies from the environment, by curl's rules: http_proxy for http:// URLs, https_proxy (or
// HTTPS_PROXY) for https:// URLs (tunnelled with CONNECT), no_proxy/NO_PROXY exceptions. The
// upper-case HTTP_PROXY is ignored on purpose (httpoxy: CGI maps a "Proxy:" request header to
// it). Only http:// proxies are supported; a malformed value is an error, never a silent
// direct connection.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/net/url.hpp"
#include "core/util/error.hpp"

namespace weights {

struct ProxySettings {
  std::optional<Url> http;            // for http:// URLs
  std::optional<Url> https;           // for https:// URLs (tunnelled with CONNECT)
  std::vector<std::string> no_proxy;  // host suffixes, "host:port" or "*"

  // Reads the variables through `getenv` (tests pass their own; nullptr: the process's).
  static Result<ProxySettings> from_env(
      const std::function<const char*(const char*)>& getenv = nullptr);
  // The proxy to use for `url`, if any.
  std::optional<Url> proxy_for(const Url& url) const;
};

}  // namespace weights
