#pragma once
// The DHT rendezvous of commit-pinned releases (docs/pinned-releases.md §4, §4c): every held
// release pinned by an upstream commit is announced under its rendezvous key with the port of
// the node's pin exchange, and lookups of a key are rate-limited. Rules over plain data and the
// TorrentBackend seam, driven by tick() from the engine's timer (io thread only).
//
// libtorrent 2.0.8 loses an announce made while its routing table is empty and never repeats a
// session-level announce (docs: /work/shared/design/upstream-pins.md §4), so: the first
// announce of every key waits until the table has a node, then each key is announced again
// every `interval` (+ up to `jitter`, so nodes started together spread out), and at once when
// a release is adopted. Configured DHT nodes ([network] dht_nodes) are asked to join at start
// and again every `node_retry` while the table holds fewer nodes than configured (a node
// started after this one did not answer the first ping).
#include <chrono>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/publish/pinned_torrent.hpp"
#include "core/util/units.hpp"
#include "daemon/engine/release_registry.hpp"
#include "daemon/engine/torrent_backend.hpp"

namespace weights::daemon {

// A complete release pinned by an upstream commit, as the rendezvous and the pin exchange see it.
struct HeldRelease {
  std::string key_hex;       // pin_rendezvous_key, 40 lowercase hex
  weights::UpstreamPin pin;  // canonical
  std::string id;            // the release's id
  std::string v2_infohash;
};

// Every complete release of `registry` fetched from its upstream (origin upstream: pinned from
// git, so its bundle is kept) with a commit revision, by key (one release per key: the first by
// id).
std::map<std::string, HeldRelease> held_pins(const ReleaseRegistry& registry);

std::string rendezvous_key_hex(const weights::UpstreamPin& pin);

struct AnnounceSettings {
  std::vector<units::HostPort> nodes;  // [network] dht_nodes
  std::chrono::seconds interval{15 * 60};
  std::chrono::seconds jitter{60};
  std::chrono::seconds node_retry{10};
  std::chrono::milliseconds lookup_spacing{1000};  // per key
};

class PinAnnouncer {
 public:
  using Clock = std::chrono::steady_clock;
  // `keys`: the keys to announce now; `port`: the pin exchange's port (0: it does not run, and
  // nothing is announced).
  PinAnnouncer(TorrentBackend& backend, AnnounceSettings settings,
               std::function<std::vector<std::string>()> keys, std::function<int()> port);

  // Called every few seconds.
  void tick(Clock::time_point now);
  // A release was adopted: its key is announced now (or with the first nodes).
  void adopted(const std::string& key_hex, Clock::time_point now);
  // Looks `key_hex` up unless it was looked up less than lookup_spacing ago; false: not now.
  bool lookup(const std::string& key_hex, Clock::time_point now);

  // When every key is announced next (Clock::time_point::max() before the first nodes).
  Clock::time_point next_announce() const { return next_announce_; }

 private:
  void announce(const std::string& key_hex);
  void schedule(Clock::time_point now);

  TorrentBackend& backend_;
  AnnounceSettings settings_;
  std::function<std::vector<std::string>()> keys_;
  std::function<int()> port_;
  std::minstd_rand rng_;
  bool had_nodes_ = false;
  bool nodes_added_ = false;
  Clock::time_point next_add_{};
  Clock::time_point next_announce_ = Clock::time_point::max();
  std::map<std::string, Clock::time_point> last_lookup_;
};

}  // namespace weights::daemon
