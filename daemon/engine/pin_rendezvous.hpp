#pragma once
// The node's side of "fetching with the hub gone" (docs/pinned-releases.md §4b, §4c), wired
// into the engine with a few calls: the pin exchange server (daemon/pin_exchange_server.hpp)
// answering with core/upstream/pin_exchange's handler over the complete commit-pinned releases,
// and the DHT announcer (pin_announcer.hpp) announcing their keys with the server's port.
//
// Io thread, except the server's handler: it runs on the server's thread and reads only a
// snapshot of the held pins, replaced on the io thread at each tick (under a mutex).
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/upstream/pin_exchange.hpp"
#include "daemon/config.hpp"
#include "daemon/engine/pin_announcer.hpp"
#include "daemon/engine/release_registry.hpp"
#include "daemon/engine/torrent_backend.hpp"
#include "daemon/pin_exchange_server.hpp"

namespace weights::daemon {

// [network] pin_exchange_peers, parsed (load_config checked them).
std::vector<units::Endpoint> pin_exchange_peers(const Config& config);

class PinRendezvous {
 public:
  // `bt_port`: the session's BitTorrent listen port (offered to fetchers); `objects_file`: where
  // the git object bundle of a release's torrent is kept.
  PinRendezvous(TorrentBackend& backend, const ReleaseRegistry& registry, const Config& config,
                std::function<int()> bt_port,
                std::function<std::filesystem::path(const std::string& v2_infohash)> objects_file);
  ~PinRendezvous();

  // Starts the pin exchange server as configured; a failure to listen is logged, not fatal (the
  // node then announces nothing).
  void start();
  // Every couple of seconds: the held pins' snapshot, announces due (new keys at once).
  void tick(std::chrono::steady_clock::time_point now);
  // A rate-limited DHT lookup (PinAnnouncer::lookup).
  bool lookup(const std::string& key_hex);

  int port() const { return server_ ? server_->port() : 0; }
  int dht_nodes() const { return backend_.dht_node_count(); }

 private:
  TorrentBackend& backend_;
  const ReleaseRegistry& registry_;
  const Config& config_;
  std::function<int()> bt_port_;
  std::function<std::filesystem::path(const std::string&)> objects_file_;
  std::unique_ptr<PinExchangeServer> server_;
  std::optional<PinAnnouncer> announcer_;
  std::map<std::string, HeldRelease> announced_;  // keys of the last tick
  mutable std::mutex mutex_;                      // guards held_ (read by the server's thread)
  std::shared_ptr<const std::map<std::string, HeldRelease>> held_;
  std::atomic<int> bt_port_cache_{0};    // bt_port_() as of the last tick (read by the server)
  upstream::BundleDigestCache digests_;  // the held bundles' digests (server thread)

 public:
  // The handler's view (server thread).
  std::shared_ptr<const std::map<std::string, HeldRelease>> held() const;
};

}  // namespace weights::daemon
