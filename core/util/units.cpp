#include "core/util/units.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace weights::units {
namespace {

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

constexpr std::uint64_t k = 1000;
constexpr std::uint64_t ki = 1024;
constexpr Unit size_units[] = {{"", 1},
                               {"B", 1},
                               {"KB", k},
                               {"MB", k* k},
                               {"GB", k* k* k},
                               {"TB", k* k* k* k},
                               {"KiB", ki},
                               {"MiB", ki* ki},
                               {"GiB", ki* ki* ki},
                               {"TiB", ki* ki* ki* ki}};
constexpr Unit duration_units[] = {{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// DIGITS [" "] UNIT with UNIT from `units`, the product at most `max`. `what` and `example`
// name the kind in errors.
template <std::size_t N>
Result<std::uint64_t> parse_quantity(std::string_view text, const Unit (&units)[N],
                                     std::uint64_t max, std::string_view what,
                                     std::string_view examples) {
  std::size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits])) ++digits;
  if (digits == 0) {
    return fail(Errc::invalid_argument,
                fmt::format("'{}' is not a {}: expected a whole number and a unit", text, what),
                fmt::format("e.g. {}", examples));
  }
  std::string_view unit = text.substr(digits);
  if (!unit.empty() && (unit.front() == '.' || unit.front() == ',')) {
    return fail(Errc::invalid_argument,
                fmt::format("'{}' is not a {}: fractions are not accepted", text, what),
                fmt::format("use a whole number of a smaller unit (e.g. {})", examples));
  }
  if (unit.size() > 1 && unit.front() == ' ') unit.remove_prefix(1);
  const Unit* found = nullptr;
  for (const auto& u : units) {
    if (u.name == unit) found = &u;
  }
  if (found == nullptr) {
    std::string names;
    for (const auto& u : units) {
      if (u.name.empty()) continue;
      if (!names.empty()) names += ", ";
      names += u.name;
    }
    return fail(Errc::invalid_argument,
                unit.empty() ? fmt::format("'{}' is not a {}: the unit is missing", text, what)
                             : fmt::format("'{}': unknown unit '{}' in a {}", text, unit, what),
                fmt::format("use a whole number and one of {} (e.g. {})", names, examples));
  }
  std::uint64_t number = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc() || ptr != text.data() + digits || number > max / found->factor) {
    return fail(Errc::invalid_argument, fmt::format("'{}' is too large for a {}", text, what),
                fmt::format("at most {}{}", max / found->factor, found->name));
  }
  return number * found->factor;
}

}  // namespace

Result<std::uint64_t> parse_size(std::string_view text) {
  return parse_quantity(text, size_units, max_size, "size", "512, 64MiB or 2TB");
}

std::string format_size(std::uint64_t bytes) {
  static constexpr const char* names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  std::size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(names)) {
    v /= 1024.0;
    ++u;
  }
  if (u == 0) return fmt::format("{} B", bytes);
  return fmt::format("{:.1f} {}", v, names[u]);
}

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  auto s = parse_quantity(text, duration_units, static_cast<std::uint64_t>(max_duration.count()),
                          "duration", "45s, 30m, 12h or 90d");
  if (!s) return tl::unexpected(s.error());
  return std::chrono::seconds(static_cast<std::chrono::seconds::rep>(*s));
}

Result<Endpoint> parse_endpoint(std::string_view text, PortZero port_zero) {
  const auto bad = [&](std::string_view why) {
    return fail(Errc::invalid_argument, fmt::format("'{}' is not ADDRESS:PORT: {}", text, why),
                "an IP address and a port, e.g. 127.0.0.1:6881 or [::1]:6881");
  };
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return bad("no ':PORT' after ']'");
    port = rest.substr(1);
  } else {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return bad("no ':PORT'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (port.find(':') != std::string_view::npos) return bad("an IPv6 address needs brackets");
  }
  // No IPv6 zone ("fe80::1%eth0"): asio reads an unknown zone as a number, so the text would
  // not name one endpoint.
  if (host.find('%') != std::string_view::npos) return bad("an IPv6 zone (%...) is not accepted");
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) return bad(fmt::format("'{}' is not an IP address", host));
  // Brackets are for IPv6 only, so each endpoint has one spelling.
  if (address.is_v6() != (text.front() == '[')) {
    return bad(address.is_v6() ? "an IPv6 address needs brackets" : "brackets are for IPv6");
  }
  unsigned value = 0;
  const auto [ptr, perr] = std::from_chars(port.data(), port.data() + port.size(), value);
  const bool digits_only = !port.empty() && std::all_of(port.begin(), port.end(), is_digit);
  if (!digits_only || perr != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return bad(fmt::format("port '{}' is not a number from {} to 65535", port,
                           port_zero == PortZero::allowed ? 0 : 1));
  }
  if (value == 0 && port_zero == PortZero::refused) {
    return bad("port 0 is not allowed here (1-65535)");
  }
  return Endpoint{address, static_cast<std::uint16_t>(value)};
}

Result<HostPort> parse_host_port(std::string_view text) {
  const auto colon = text.rfind(':');
  // Brackets or a second ':' make it an IP literal: the endpoint grammar decides.
  if (text.starts_with('[') || colon == std::string_view::npos ||
      text.substr(0, colon).find(':') != std::string_view::npos) {
    auto ep = parse_endpoint(text, PortZero::refused);
    if (!ep) return tl::unexpected(ep.error());
    return HostPort{ep->address.to_string(), ep->port, ep->address};
  }
  const std::string_view host = text.substr(0, colon);
  boost::system::error_code ec;
  if (boost::asio::ip::make_address_v4(std::string(host), ec); !ec) {
    auto ep = parse_endpoint(text, PortZero::refused);
    if (!ep) return tl::unexpected(ep.error());
    return HostPort{std::string(host), ep->port, ep->address};
  }
  const auto bad = [&](std::string_view why) {
    return fail(Errc::invalid_argument, fmt::format("'{}' is not HOST:PORT: {}", text, why),
                "a host name or IP address and a port, e.g. router.bittorrent.com:6881 or "
                "127.0.0.2:6881");
  };
  if (host.empty() || host.size() > 253) return bad("the host name must have 1-253 characters");
  std::string_view last_label;
  for (std::string_view rest = host; !rest.empty();) {
    const auto dot = rest.find('.');
    const std::string_view label = rest.substr(0, dot);
    const bool ok_chars = std::all_of(label.begin(), label.end(), [](char c) {
      return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
    });
    if (label.empty() || label.size() > 63 || !ok_chars || label.front() == '-' ||
        label.back() == '-') {
      return bad(fmt::format("'{}' is not a host name label (letters, digits, inner '-')", label));
    }
    last_label = label;
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
    if (rest.empty()) return bad("a host name does not end with '.'");
  }
  if (std::all_of(last_label.begin(), last_label.end(), is_digit)) {
    return bad(fmt::format("'{}' is neither an IPv4 address nor a host name", host));
  }
  const std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  const auto [ptr, perr] = std::from_chars(port.data(), port.data() + port.size(), value);
  const bool digits_only = !port.empty() && std::all_of(port.begin(), port.end(), is_digit);
  if (!digits_only || perr != std::errc() || ptr != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return bad(fmt::format("port '{}' is not a number from 1 to 65535", port));
  }
  return HostPort{std::string(host), static_cast<std::uint16_t>(value), std::nullopt};
}

std::string format_endpoint(const Endpoint& endpoint) {
  const std::string host = endpoint.address.to_string();
  return endpoint.address.is_v6() ? fmt::format("[{}]:{}", host, endpoint.port)
                                  : fmt::format("{}:{}", host, endpoint.port);
}

}  // namespace weights::units
