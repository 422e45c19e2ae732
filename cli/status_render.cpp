#include "cli/status_render.hpp"

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

namespace weights::cli {
namespace {

// Whether a listen interface "HOST:PORT" ("[v6]:PORT") is a loopback address, the only kind
// other hosts cannot reach (docs/protocol.md, status `network`).
bool loopback(std::string_view iface) {
  std::string_view host = iface;
  if (host.starts_with('[')) {
    host =
        host.substr(1, host.find(']') == std::string_view::npos ? host.npos : host.find(']') - 1);
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return host.starts_with("127.") || host == "::1";
}

std::string joined(const std::vector<std::string>& items, std::size_t shown) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < shown; ++i) {
    out += (i ? ", " : "") + items[i];
  }
  if (items.size() > shown) out += fmt::format(", +{} more", items.size() - shown);
  return out;
}

std::string_view on_off(bool on) {
  return on ? "on" : "off";
}

}  // namespace

std::string render_network(const api::NetworkExposure& n) {
  const auto& ifaces = n.listen_interfaces;
  std::string where;
  if (ifaces.empty()) {
    where = "no listen interface";
  } else {
    const bool local =
        std::all_of(ifaces.begin(), ifaces.end(), [](const std::string& i) { return loopback(i); });
    where = fmt::format("listens on {} ({})", joined(ifaces, 4),
                        local ? "loopback only" : "reachable from other hosts");
  }
  std::string dht = "DHT off";
  if (n.dht) {
    dht = n.dht_bootstrap_nodes.empty()
              ? "DHT on (no bootstrap routers)"
              : fmt::format("DHT on (bootstrap {})", joined(n.dht_bootstrap_nodes, 2));
  }
  return fmt::format(
      "  network:   {} profile, {}\n"
      "             {}, LSD {}, UPnP {}, NAT-PMP {}\n",
      n.profile.empty() ? "unknown" : n.profile, where, dht, on_off(n.lsd), on_off(n.upnp),
      on_off(n.natpmp));
}

}  // namespace weights::cli
