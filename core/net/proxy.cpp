#include "core/net/proxy.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>

namespace weights {

namespace {

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
  if (ascii_lower(value).starts_with("https://")) {
    return fail(Errc::unsupported,
                fmt::format("{}={}: HTTPS proxies are not supported; use http://", name, value));
  }
  auto u = parse_url(value);
  if (!u) return tl::unexpected(with_context(u.error(), name));
  return u;
}

}  // namespace

Result<ProxySettings> ProxySettings::from_env(
    const std::function<const char*(const char*)>& getenv) {
  auto get = [&](const char* name) -> std::string {
    const char* v = getenv ? getenv(name) : std::getenv(name);
    return v ? std::string(v) : std::string();
  };
  ProxySettings s;
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
      if (!cur.empty()) s.no_proxy.push_back(ascii_lower(cur));
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

}  // namespace weights
