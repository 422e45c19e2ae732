#include "daemon/engine/pin_announcer.hpp"

#include "core/util/encoding.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {

std::string rendezvous_key_hex(const weights::UpstreamPin& pin) {
  const auto key = pin_rendezvous_key(pin);
  return to_hex(key);
}

std::map<std::string, HeldRelease> held_pins(const ReleaseRegistry& registry) {
  std::map<std::string, HeldRelease> out;
  for (const auto& [id, r] : registry) {
    // Only a release pinned from git (an upstream fetch, from the hub or from peers) has the
    // commit's bundle to serve (Store::git_objects_file); a feed's release names no bundle.
    if (state_of(*r) != ReleaseState::complete || r->rec.origin != Origin::upstream) continue;
    const auto& up = r->manifest.upstream;
    if (up.kind.empty() || up.repo.empty()) continue;
    auto pin = canonical_pin(up.kind, up.repo, r->manifest.revision);
    if (!pin) continue;  // a feed's release named by a branch or tag: no commit to pin
    auto key = rendezvous_key_hex(*pin);
    out.try_emplace(key, HeldRelease{key, std::move(*pin), id, r->rec.v2_infohash});
  }
  return out;
}

PinAnnouncer::PinAnnouncer(TorrentBackend& backend, AnnounceSettings settings,
                           std::function<std::vector<std::string>()> keys,
                           std::function<int()> port)
    : backend_(backend),
      settings_(std::move(settings)),
      keys_(std::move(keys)),
      port_(std::move(port)),
      rng_(std::random_device{}()) {}

void PinAnnouncer::tick(Clock::time_point now) {
  const int nodes = backend_.dht_node_count();
  if (!settings_.nodes.empty() && now >= next_add_ &&
      (!nodes_added_ || nodes < static_cast<int>(settings_.nodes.size()))) {
    for (const auto& n : settings_.nodes) backend_.dht_add_node(n.host, n.port);
    nodes_added_ = true;
    next_add_ = now + settings_.node_retry;
  }
  if (nodes == 0) return;
  if (!had_nodes_ || now >= next_announce_) {
    if (!had_nodes_) log::info("DHT: {} nodes in the routing table; announcing held pins", nodes);
    had_nodes_ = true;
    for (const auto& key : keys_()) announce(key);
    schedule(now);
  }
}

void PinAnnouncer::adopted(const std::string& key_hex, Clock::time_point) {
  if (had_nodes_) announce(key_hex);  // else with the first nodes, with every other key
}

bool PinAnnouncer::lookup(const std::string& key_hex, Clock::time_point now) {
  // Forget lookups long past (the map stays as small as the keys looked up lately).
  for (auto it = last_lookup_.begin(); it != last_lookup_.end();) {
    it = now - it->second > std::chrono::minutes(10) ? last_lookup_.erase(it) : std::next(it);
  }
  const auto it = last_lookup_.find(key_hex);
  if (it != last_lookup_.end() && now - it->second < settings_.lookup_spacing) return false;
  last_lookup_[key_hex] = now;
  backend_.dht_lookup(key_hex);
  return true;
}

void PinAnnouncer::announce(const std::string& key_hex) {
  const int port = port_();
  if (port <= 0) return;
  log::debug("DHT: announcing {} with port {}", key_hex, port);
  backend_.dht_announce(key_hex, port);
}

void PinAnnouncer::schedule(Clock::time_point now) {
  const auto jitter_ms = static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(settings_.jitter).count());
  std::uniform_int_distribution<long> d(0, std::max(0L, jitter_ms));
  next_announce_ = now + settings_.interval + std::chrono::milliseconds(d(rng_));
}

}  // namespace weights::daemon
