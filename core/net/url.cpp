#include "core/net/url.hpp"

#include <algorithm>
#include <cctype>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>

#include "core/util/path_policy.hpp"

namespace weights {

namespace {

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && ascii_lower(s.substr(0, prefix.size())) == prefix;
}

// Bytes that may appear in a request target as sent: printable ASCII without space. Anything
// else (CR/LF above all) would let a Location header or feed URL inject header lines.
bool valid_target(std::string_view t) {
  return std::all_of(t.begin(), t.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

std::string strip_fragment(std::string_view s) {
  return std::string(s.substr(0, s.find('#')));
}

}  // namespace

std::string Url::host_port() const {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}{}{}:{}", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

std::string Url::str() const {
  return fmt::format("{}://{}{}", scheme == UrlScheme::https ? "https" : "http", host_port(),
                     target);
}

std::string Url::host_header() const {
  const bool default_port =
      (scheme == UrlScheme::http && port == 80) || (scheme == UrlScheme::https && port == 443);
  if (!default_port) return host_port();
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

bool Url::same_origin(const Url& other) const {
  return scheme == other.scheme && host == other.host && port == other.port;
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
      return fail(Errc::invalid_argument,
                  fmt::format("{}: unclosed '[' in host", escape_path_for_message(text)));
    }
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return fail(Errc::invalid_argument,
                    fmt::format("{}: junk after IPv6 host", escape_path_for_message(text)));
      }
      port = after.substr(1);
    }
    // make_address_v6 reads a C string: a NUL would hide whatever follows it (CR, LF, ...).
    const bool v6_chars = std::all_of(host.begin(), host.end(), [](unsigned char c) {
      return std::isxdigit(c) || c == ':' || c == '.';
    });
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec || !v6_chars) {
      return fail(Errc::invalid_argument,
                  fmt::format("{}: bad IPv6 address", escape_path_for_message(text)));
    }
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    const bool ok = !host.empty() && std::all_of(host.begin(), host.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '-' || c == '.' || c == '_';
    });
    if (!ok) {
      return fail(Errc::invalid_argument,
                  fmt::format("{}: bad host name", escape_path_for_message(text)));
    }
  }
  if (host.empty()) {
    return fail(Errc::invalid_argument, fmt::format("{}: no host", escape_path_for_message(text)));
  }
  if (!port.empty()) {
    unsigned p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535) {
        return fail(Errc::invalid_argument,
                    fmt::format("{}: bad port", escape_path_for_message(text)));
      }
      p = p * 10 + static_cast<unsigned>(c - '0');
    }
    if (p == 0 || p > 65535) {
      return fail(Errc::invalid_argument,
                  fmt::format("{}: bad port", escape_path_for_message(text)));
    }
    u.port = static_cast<std::uint16_t>(p);
  }
  if (!valid_target(target) || !valid_target(u.userinfo)) {
    return fail(Errc::invalid_argument, fmt::format("{}: spaces or control characters in URL",
                                                    escape_path_for_message(text)));
  }
  u.host = ascii_lower(host);
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

std::string percent_encode_path(std::string_view s, bool keep_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (c == '/' && keep_slash)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace weights
