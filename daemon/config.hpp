#pragma once
// weightsd configuration: defaults (system or user mode) < TOML file < WEIGHTSD_* environment <
// command-line flags. The file is strict: unknown keys and wrong types are errors naming the key
// and line, so a typo never silently falls back to a default.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/api.hpp"
#include "core/util/error.hpp"
#include "core/util/path_policy.hpp"
#include "daemon/log.hpp"
#include "daemon/policy.hpp"

namespace weights::daemon {

using api::Mode;

enum class Toggle { off, on };
std::string_view toggle_name(Toggle t) noexcept;

// libtorrent disk backend (libtorrent notes §0.8): mmap is multi-threaded but inflates RSS with
// the page cache; posix keeps RSS small but does all disk I/O on the network thread in 2.0.8.
enum class DiskIo { mmap, posix };
std::string_view disk_io_name(DiskIo d) noexcept;

// BEP 16 super-seeding of releases this node seeds from its own files (`weightsctl seed`), set
// when their torrents are added (engine.cpp: super_seed_at_add).
enum class SuperSeeding { off, published };
std::string_view super_seeding_name(SuperSeeding s) noexcept;

// [network] profile: which discovery the node uses unless the file sets a key itself.
//   public   DHT (bootstrapping from public_dht_routers) and LSD on: a node that joins the
//            public swarms of the releases it holds, found without a tracker.
//   private  DHT, LSD, UPnP and NAT-PMP off, no bootstrap routers: peers come only from feeds,
//            trackers, web seeds and --peer (a closed cluster, tests, the demo).
// UPnP and NAT-PMP are off in both: a node never opens router ports unless asked.
enum class NetworkProfile { public_network, private_network };
std::string_view network_profile_name(NetworkProfile p) noexcept;  // "public", "private"
Result<NetworkProfile> parse_network_profile(std::string_view name);

// libtorrent 2.0.8's default router plus two long-running public ones (redundancy); each is a
// DNS name, looked up when the DHT starts.
inline const std::vector<std::string> public_dht_routers{
    "dht.libtorrent.org:25401", "router.bittorrent.com:6881", "dht.transmissionbt.com:6881"};

struct Config {
  Mode mode = Mode::system;
  std::filesystem::path config_file;  // file that was read; empty when none existed
  std::filesystem::path state_dir;
  std::filesystem::path control_socket;
  // libtorrent listen_interfaces entries ("0.0.0.0:6881", "[::]:6881", "127.0.0.2:0").
  std::vector<std::string> listen_interfaces{"0.0.0.0:6881", "[::]:6881"};
  // Local addresses for outgoing peer connections ("127.0.0.2"); empty = the OS picks.
  std::vector<std::string> outgoing_interfaces;
  // Needed when several peers share one IP (daemons on one host without distinct 127.0.0.x).
  Toggle allow_multiple_connections_per_ip = Toggle::off;
  // Discovery: the public profile's defaults (apply_network_profile sets the private ones).
  NetworkProfile network_profile = NetworkProfile::public_network;
  Toggle dht = Toggle::on;
  // HOST:PORT (units host port grammar); empty = the DHT starts without a DNS query and knows
  // only the nodes it is told about.
  std::vector<std::string> dht_bootstrap_nodes = public_dht_routers;
  // HOST:PORT of DHT nodes added to the routing table once the session is up (libtorrent's
  // add_dht_node): a private DHT's members. Bootstrap routers never enter a routing table.
  std::vector<std::string> dht_nodes;
  // off: libtorrent's dht_restrict_routing_ips / dht_restrict_search_ips are cleared, so several
  // nodes of one /24 or one IP fill a routing table (a DHT of daemons on 127.0.0.x). Accepted only
  // when every listen interface is loopback (load_config): a public node keeps the restriction.
  Toggle dht_restrict_ips = Toggle::on;
  // The pin exchange (daemon/pin_exchange_server.hpp): "ADDR:PORT" (port 0 = ephemeral), "auto"
  // (the first listen interface's address, ephemeral port, only while the DHT is on) or "off".
  std::string pin_exchange = "auto";
  // Pin exchanges ("ADDR:PORT") asked for a pin before those the DHT names, when the hub is gone
  // (known community seeds; tests put a hostile one first). Their answers are checked alike.
  std::vector<std::string> pin_exchange_peers;
  Toggle lsd = Toggle::on;
  Toggle upnp = Toggle::off;    // never open router ports unless asked
  Toggle natpmp = Toggle::off;  // same
  Toggle utp = Toggle::off;     // TCP is faster for local/datacenter peers
  // bytes/s, 0 = unlimited; when set, also applies to loopback/LAN peers (torrent_session.cpp)
  std::uint64_t download_rate = 0;
  std::uint64_t upload_rate = 0;
  std::uint64_t max_disk = 0;  // bytes reserved by releases (shared content once), 0 = no quota
  // Fetches need this much free space on the state dir's filesystem beyond what they write.
  std::uint64_t min_free_disk = 1ull << 30;
  std::uint32_t max_connections = 500;  // peer connections, all torrents together
  // Control-socket connections one non-root uid may hold (of api::max_connections).
  std::uint32_t control_connections_per_user = 16;
  std::vector<RateWindow> rate_windows;  // time-of-day overrides of download/upload_rate
  Toggle scrub = Toggle::on;
  std::chrono::seconds scrub_interval{30 * 86400};  // each release re-hashed this often
  std::uint64_t scrub_rate = 64ull << 20;           // bytes/s read by the scrubber
  // Prometheus /metrics on TCP; empty = off. A port that is taken is logged, not fatal.
  std::string metrics_listen = "127.0.0.1:9750";
  LogLevel log_level = LogLevel::info;
  std::chrono::seconds feed_refresh_interval{3600};
  // First retry after a failed refresh; doubles per consecutive failure up to the interval.
  std::chrono::seconds feed_retry_interval{60};
  // HTTP(S) feeds: connect and read deadline, and the slowest acceptable transfer (bytes/s).
  std::chrono::seconds feed_http_timeout{30};
  std::uint64_t feed_http_min_rate = 1024;
  DiskIo disk_io = DiskIo::mmap;
  SuperSeeding super_seeding = SuperSeeding::off;
  unsigned hashing_threads = 2;                   // SHA-256 worker pool (file verification)
  std::chrono::seconds resume_save_interval{30};  // periodic resume data (only if modified)
  // [trust] path_policy: "portable" also refuses release file paths that are not NFC or not
  // creatable on Windows (docs/manifest-format.md §7.2); read at start.
  PathPolicy path_policy = PathPolicy::standard;
  // [upstream] endpoint: the Hugging Face Hub (or a mirror) that upstream fetches
  // (daemon/engine/pinned_fetch.hpp) use for git, the API and resolve URLs. Empty: HF_ENDPOINT
  // from the daemon's environment, else https://huggingface.co. The token is HF_TOKEN from the
  // environment only, sent to this endpoint's host only.
  std::string upstream_endpoint;
  // [upstream] check_interval: how often the hub is asked whether it still serves the commit of
  // each held release with an upstream (daemon/engine/upstream_watch.hpp); 0 = never.
  std::chrono::seconds upstream_check_interval{24 * 3600};
  // [catalog] dirs: catalog directories (docs/catalog.md) layered above the shipped, system and
  // user ones, in this order (later overrides earlier). Absolute paths.
  std::vector<std::filesystem::path> catalog_dirs;

  bool operator==(const Config&) const = default;
};

// Values given on the command line (highest precedence). Relative paths are made absolute.
struct Overrides {
  std::optional<std::filesystem::path> config_file;
  std::optional<std::filesystem::path> state_dir;
  std::optional<std::filesystem::path> control_socket;
  std::optional<Mode> mode;
  std::optional<LogLevel> log_level;
  // --listen ADDR:PORT (repeatable). Unless --outgoing is given too, the addresses of specific
  // (non-wildcard) listen interfaces also become the outgoing interfaces, so a daemon bound to
  // 127.0.0.2 is seen by its peers as 127.0.0.2.
  std::optional<std::vector<std::string>> listen_interfaces;
  std::optional<std::vector<std::string>> outgoing_interfaces;
};

// Environment variables read by load_config.
inline constexpr const char* env_config = "WEIGHTSD_CONFIG";
inline constexpr const char* env_state_dir = "WEIGHTSD_STATE_DIR";
inline constexpr const char* env_socket = "WEIGHTSD_SOCKET";
inline constexpr const char* env_log_level = "WEIGHTSD_LOG_LEVEL";
// The network profile a config file starts from ("public" or "private"); the file's own
// [network] profile replaces it, and its explicit discovery keys win over either. Tests and the
// demo set "private" so no daemon they start can reach the public DHT.
inline constexpr const char* env_network_profile = "WEIGHTSD_NETWORK_PROFILE";

// system when running as root, user otherwise.
Mode default_mode() noexcept;

// System: /var/lib/weightsd, /run/weightsd/control.sock, /etc/weightsd/weightsd.toml.
// User: $XDG_STATE_HOME/weightsd, $XDG_RUNTIME_DIR/weightsd/control.sock (see
// api::default_socket_path), $XDG_CONFIG_HOME/weightsd/weightsd.toml.
Config default_config(Mode mode, const api::GetEnv& env = api::process_env);
std::filesystem::path default_config_file(Mode mode, const api::GetEnv& env = api::process_env);

// Sets `profile` and the discovery settings it implies (dht, dht_bootstrap_nodes, lsd, upnp,
// natpmp); other settings are untouched.
void apply_network_profile(Config& config, NetworkProfile profile);

// Applies a TOML document onto `base`. A [network] profile applies first, so the file's explicit
// discovery keys win over it wherever they appear. `source_name` prefixes messages
// ("weightsd.toml:7: ..."). Syntax errors are parse_error; unknown keys, wrong types and bad values
// are schema_error.
Result<Config> apply_toml(Config base, std::string_view text, std::string_view source_name);

// The whole chain. An explicit config file (--config or WEIGHTSD_CONFIG) must exist; the default
// one is optional.
Result<Config> load_config(const Overrides& flags, const api::GetEnv& env = api::process_env);

// Effective configuration as a TOML document that apply_toml accepts (for --check-config).
std::string render_toml(const Config& config);

// One "key: old -> new" line per setting that differs (for SIGHUP reload logs).
std::vector<std::string> describe_changes(const Config& before, const Config& after);

}  // namespace weights::daemon
