#pragma once
// The peers a release was told about (fetch --peer, POST .../peers) and when to dial them,
// over TorrentBackend. Peers given before the torrent can take them (it is checking) stay
// pending and are dialled with the next status update.
#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "core/util/error.hpp"
#include "daemon/engine/torrent_backend.hpp"

namespace weights::daemon {

using PeerEndpoint = boost::asio::ip::tcp::endpoint;

// "ip:port" or "[v6]:port"; port 0 is refused.
Result<PeerEndpoint> parse_peer(const std::string& text);

// A download with no peer connected dials its known peers again every redial_interval: a
// seeder that restarts is back within a second, and libtorrent's own reconnect back-off
// (min_reconnect_time x failures, max_failcount) would wait up to a minute: each attempt during
// the outage (refused, or a handshake before the restarted seeder has added the torrent)
// counts as a failure, and connect_peer keeps the failure count of a peer already in the list.
// So the (unconnected) peer list is cleared first; trackers are asked again for theirs.
constexpr auto redial_interval = std::chrono::milliseconds(500);
// After redial_fast_for without a peer (the peer is gone, not restarting), every 10 intervals.
constexpr auto redial_fast_for = std::chrono::seconds(30);

class PeerDialer {
 public:
  using Clock = std::chrono::steady_clock;

  void queue(const PeerEndpoint& peer) { pending_.push_back(peer); }
  // Queues every parseable peer of `known` (the release's persisted list).
  void queue_known(const std::vector<std::string>& known);
  bool has_pending() const { return !pending_.empty(); }
  const std::vector<PeerEndpoint>& pending() const { return pending_; }

  // Dials the pending peers on `hybrid` (and on `companion`, a v1 companion downloading, if
  // valid: the peer may be a v1-only client). Nothing while `status` says the torrent checks;
  // a peer the hybrid refuses stays pending.
  void connect_pending(TorrentBackend& backend, TorrentId hybrid, TorrentId companion,
                       const TorrentStatus* status);

  // Every status update of the hybrid: redials `known` when it downloads with no peer.
  void maybe_redial(TorrentBackend& backend, TorrentId hybrid, const TorrentStatus& status,
                    const std::vector<std::string>& known, bool has_trackers,
                    Clock::time_point now);

 private:
  std::vector<PeerEndpoint> pending_;
  Clock::time_point last_redial_{};
  Clock::time_point last_peer_seen_{};
};

}  // namespace weights::daemon
