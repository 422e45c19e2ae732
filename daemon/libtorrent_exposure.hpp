#pragma once
// What the session exposes to the network (reported by GET /v1/status and logged at start-up),
// and whether this daemon runs a libtorrent older than the one recommended for a node that
// remote peers can reach (docs/threat-model.md "libtorrent"). Pure functions over plain data,
// so the start-up decisions are unit-tested without a session.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/types.hpp"
#include "daemon/config.hpp"

namespace weights::daemon {

struct LibtorrentVersion {
  int major = 0, minor = 0, tiny = 0;
  auto operator<=>(const LibtorrentVersion&) const = default;
};

// The oldest libtorrent 2.0.x with the remotely triggerable fixes listed in
// docs/threat-model.md (v2 hash-request and merkle-proof validation, uTP use-after-free).
inline constexpr LibtorrentVersion recommended_libtorrent{2, 0, 14};

// "2.0.8.0" or "2.0.8" (lt::version()) -> {2, 0, 8}; nullopt for anything else.
std::optional<LibtorrentVersion> parse_libtorrent_version(std::string_view text);

// True when a peer beyond this host can reach the session: a listen interface that is not a
// loopback address (127.0.0.0/8, ::1, or the device "lo"), e.g. 0.0.0.0, [::], a LAN address
// or a device name. The DHT runs on the listen sockets, so on loopback-only interfaces it
// reaches only nodes on this host whether it is on or off.
bool listens_publicly(const std::vector<std::string>& listen_interfaces);

// The warning to log at start-up, or nullopt: only when `running` (lt::version()) is older
// than recommended_libtorrent, or unparseable, and the session listens publicly.
std::optional<std::string> libtorrent_exposure_warning(
    std::string_view running, const std::vector<std::string>& listen_interfaces);

// The exposure a session started with `config` has (session_settings applies the same rules:
// no bootstrap nodes while DHT is off).
api::NetworkExposure network_exposure(const Config& config);

// One line for the start-up log: "profile public; listen 0.0.0.0:6881; DHT on (bootstrap
// dht.libtorrent.org:25401); LSD on; UPnP off; NAT-PMP off".
std::string describe_network_exposure(const api::NetworkExposure& exposure);

}  // namespace weights::daemon
