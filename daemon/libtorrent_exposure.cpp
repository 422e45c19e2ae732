#include "daemon/libtorrent_exposure.hpp"

#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace weights::daemon {
namespace {

// One decimal number of 1-4 digits at the front of `s`, consumed.
std::optional<int> take_number(std::string_view& s) {
  int value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  const auto used = static_cast<std::size_t>(end - s.data());
  if (ec != std::errc{} || used == 0 || used > 4) return std::nullopt;
  s.remove_prefix(used);
  return value;
}

// The host part of a libtorrent listen_interfaces entry: "127.0.0.1:6881", "[::1]:6881s",
// "eth0:6881", "0.0.0.0". The port and its flags (s, l) follow the last ':' outside brackets.
std::string_view listen_host(std::string_view entry) {
  if (entry.starts_with('[')) {
    const auto close = entry.find(']');
    return close == std::string_view::npos ? entry.substr(1) : entry.substr(1, close - 1);
  }
  const auto colon = entry.rfind(':');
  return colon == std::string_view::npos ? entry : entry.substr(0, colon);
}

bool is_loopback_host(std::string_view host) {
  if (host == "::1" || host == "lo" || host == "localhost") return true;
  if (!host.starts_with("127.")) return false;
  // A dotted IPv4 address in 127.0.0.0/8.
  std::string_view rest = host;
  for (int i = 0; i < 4; ++i) {
    auto n = take_number(rest);
    if (!n || *n > 255) return false;
    if (i < 3) {
      if (!rest.starts_with('.')) return false;
      rest.remove_prefix(1);
    }
  }
  return rest.empty();
}

}  // namespace

std::optional<LibtorrentVersion> parse_libtorrent_version(std::string_view text) {
  LibtorrentVersion v;
  int* parts[] = {&v.major, &v.minor, &v.tiny};
  for (std::size_t i = 0; i < 3; ++i) {
    auto n = take_number(text);
    if (!n) return std::nullopt;
    *parts[i] = *n;
    if (i < 2) {
      if (!text.starts_with('.')) return std::nullopt;
      text.remove_prefix(1);
    }
  }
  // An optional fourth component (libtorrent's "2.0.8.0").
  if (text.starts_with('.')) {
    text.remove_prefix(1);
    if (!take_number(text)) return std::nullopt;
  }
  if (!text.empty()) return std::nullopt;
  return v;
}

bool listens_publicly(const std::vector<std::string>& listen_interfaces) {
  for (const auto& entry : listen_interfaces) {
    if (!is_loopback_host(listen_host(entry))) return true;
  }
  return false;
}

std::optional<std::string> libtorrent_exposure_warning(
    std::string_view running, const std::vector<std::string>& listen_interfaces) {
  if (!listens_publicly(listen_interfaces)) return std::nullopt;
  const auto version = parse_libtorrent_version(running);
  if (version && *version >= recommended_libtorrent) return std::nullopt;
  const auto& r = recommended_libtorrent;
  return fmt::format(
      "libtorrent {} is older than {}.{}.{}, the oldest release with the fixes for remotely "
      "triggerable bugs (v2 hash requests, merkle proofs, uTP) listed in docs/threat-model.md, "
      "and this node is reachable by remote peers (it listens on a non-loopback address); "
      "upgrade libtorrent-rasterbar on an internet-facing node, or give a node that needs no "
      "remote peers [network] profile = \"private\" and loopback listen_interfaces",
      running, r.major, r.minor, r.tiny);
}

api::NetworkExposure network_exposure(const Config& config) {
  api::NetworkExposure e;
  e.profile = std::string(network_profile_name(config.network_profile));
  e.listen_interfaces = config.listen_interfaces;
  e.dht = config.dht == Toggle::on;
  if (e.dht) {
    e.dht_bootstrap_nodes = config.dht_bootstrap_nodes;
    e.dht_nodes = config.dht_nodes;
  }
  // As session_settings applies it.
  e.dht_restrict_ips =
      config.dht_restrict_ips == Toggle::on || listens_publicly(config.listen_interfaces);
  e.lsd = config.lsd == Toggle::on;
  e.upnp = config.upnp == Toggle::on;
  e.natpmp = config.natpmp == Toggle::on;
  return e;
}

std::string describe_network_exposure(const api::NetworkExposure& e) {
  const auto on_off = [](bool b) { return b ? "on" : "off"; };
  std::string dht = on_off(e.dht);
  if (e.dht) {
    dht += e.dht_bootstrap_nodes.empty()
               ? std::string(" (no bootstrap nodes)")
               : fmt::format(" (bootstrap {})", fmt::join(e.dht_bootstrap_nodes, ", "));
    if (!e.dht_nodes.empty()) dht += fmt::format(" (nodes {})", fmt::join(e.dht_nodes, ", "));
    if (!e.dht_restrict_ips) dht += " (several nodes per IP: loopback test DHT)";
  }
  return fmt::format("profile {}; listen {}; DHT {}; LSD {}; UPnP {}; NAT-PMP {}", e.profile,
                     e.listen_interfaces.empty()
                         ? std::string("nowhere")
                         : fmt::format("{}", fmt::join(e.listen_interfaces, ", ")),
                     dht, on_off(e.lsd), on_off(e.upnp), on_off(e.natpmp));
}

}  // namespace weights::daemon
