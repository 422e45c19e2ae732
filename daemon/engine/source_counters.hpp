#pragma once
// A release's downloaded bytes by source: each peer (by address) and each web seed (by server),
// accumulated from the per-connection payload libtorrent reports on every status update
// (ConnectionBytes). libtorrent keeps no per-source totals and forgets a connection when it
// closes, so a connection's last seen total is banked when it is gone, or when its endpoint
// shows a smaller total (a new connection). Bytes after the last update before a connection
// closes are not counted (at most one update interval's worth). Kept in memory only: the
// counters start again with the daemon.
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "daemon/engine/torrent_backend.hpp"

namespace weights::daemon {

struct SourceTotal {
  SourceKind kind = SourceKind::peer;
  std::string address;  // peer: IP address; web seed: "ip:port"
  std::int64_t downloaded = 0;
  friend bool operator==(const SourceTotal&, const SourceTotal&) = default;
};

class SourceCounters {
 public:
  // One status update's connections of one torrent (all of them: a connection of `torrent` not
  // listed is gone). A release's torrents (hybrid, v1 companion) are counted apart, as
  // torrent 0, 1, ..., and summed.
  void observe(const std::vector<ConnectionBytes>& connections, int torrent = 0);
  // Per source with at least one byte, web seeds after peers, each by address.
  std::vector<SourceTotal> totals() const;
  std::int64_t from(SourceKind kind) const;
  bool empty() const { return live_.empty() && banked_.empty(); }

 private:
  using Key = std::pair<SourceKind, std::string>;
  struct Live {
    Key source;
    std::int64_t downloaded = 0;
  };
  using ConnKey = std::tuple<int, SourceKind, std::string>;  // torrent, kind, endpoint
  std::map<ConnKey, Live> live_;
  std::map<Key, std::int64_t> banked_;  // by (kind, address)
};

}  // namespace weights::daemon
