#include "daemon/engine/source_counters.hpp"

#include <set>

namespace weights::daemon {

void SourceCounters::observe(const std::vector<ConnectionBytes>& connections, int torrent) {
  std::set<ConnKey> seen;
  for (const auto& c : connections) {
    ConnKey conn{torrent, c.kind, c.endpoint};
    seen.insert(conn);
    auto it = live_.find(conn);
    if (it == live_.end()) {
      live_.emplace(std::move(conn), Live{{c.kind, c.address}, c.downloaded});
      continue;
    }
    // A smaller total on the same endpoint: the old connection closed and a new one opened
    // between two updates.
    if (c.downloaded < it->second.downloaded) banked_[it->second.source] += it->second.downloaded;
    it->second.downloaded = c.downloaded;
  }
  for (auto it = live_.begin(); it != live_.end();) {
    if (std::get<0>(it->first) != torrent || seen.count(it->first)) {
      ++it;
      continue;
    }
    banked_[it->second.source] += it->second.downloaded;
    it = live_.erase(it);
  }
}

std::vector<SourceTotal> SourceCounters::totals() const {
  std::map<Key, std::int64_t> sum = banked_;
  for (const auto& [conn, live] : live_) sum[live.source] += live.downloaded;
  std::vector<SourceTotal> out;
  for (const auto& [key, bytes] : sum) {
    if (bytes > 0) out.push_back({key.first, key.second, bytes});
  }
  return out;  // map order: SourceKind::peer before web_seed, then by address
}

std::int64_t SourceCounters::from(SourceKind kind) const {
  std::int64_t n = 0;
  for (const auto& t : totals()) {
    if (t.kind == kind) n += t.downloaded;
  }
  return n;
}

}  // namespace weights::daemon
