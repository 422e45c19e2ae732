#include "daemon/engine/peer_dialer.hpp"

#include "core/util/units.hpp"

namespace weights::daemon {

Result<PeerEndpoint> parse_peer(const std::string& text) {
  auto ep = units::parse_endpoint(text, units::PortZero::refused);
  if (!ep) return tl::unexpected(with_context(ep.error(), "peer"));
  return PeerEndpoint(ep->address, ep->port);
}

void PeerDialer::queue_known(const std::vector<std::string>& known) {
  for (const auto& p : known) {
    if (auto ep = parse_peer(p)) pending_.push_back(*ep);
  }
}

void PeerDialer::connect_pending(TorrentBackend& backend, TorrentId hybrid, TorrentId companion,
                                 const TorrentStatus* status) {
  if (!valid(hybrid) || pending_.empty()) return;
  if (status && status->checking()) return;  // 2.0.8 refuses connect_peer while checking
  std::vector<PeerEndpoint> left;
  for (const auto& ep : pending_) {
    if (!backend.connect_peer(hybrid, ep)) {
      left.push_back(ep);
      continue;
    }
    // (Refused while it checks its files: the peer is in its add_torrent_params or the
    // tracker's list.)
    if (valid(companion)) (void)backend.connect_peer(companion, ep);
  }
  pending_ = std::move(left);
}

void PeerDialer::maybe_redial(TorrentBackend& backend, TorrentId hybrid,
                              const TorrentStatus& status, const std::vector<std::string>& known,
                              bool has_trackers, Clock::time_point now) {
  if (status.num_peers > 0) last_peer_seen_ = now;
  if (status.state != TorrentPhase::downloading || status.num_peers > 0 || known.empty() ||
      !pending_.empty()) {
    return;
  }
  const auto interval =
      now - last_peer_seen_ < redial_fast_for ? redial_interval : 10 * redial_interval;
  if (now - last_redial_ < interval) return;
  last_redial_ = now;
  backend.clear_peers(hybrid);
  queue_known(known);
  if (has_trackers) backend.force_reannounce(hybrid);
}

}  // namespace weights::daemon
