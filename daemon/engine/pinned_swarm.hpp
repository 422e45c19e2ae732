#pragma once
// The swarm path of a pinned fetch (pinned_fetch.hpp): when the catalog names the v2 info-hash
// of a commit's pinned torrent, the node joins that swarm by info-hash alone and takes bytes from
// peers and the hub's resolve URLs (BEP 19 web seeds) at once. The metadata comes from peers and
// is untrusted: before any byte is requested it must have the pinned torrent's shape
// (docs/pinned-releases.md §3): name = the commit, exactly the pinned tree's paths and sizes,
// piece length = pinned_piece_length(total). Its v2 info-hash proves it is the info dict peers
// were asked for, not that it is the commit's torrent: the node checks every file against the
// pin and rebuilds the canonical torrent once the download is over, and requires the same v2
// info-hash (PinnedFetch::built).
#include <string>
#include <vector>

#include "core/upstream/git_pin.hpp"
#include "core/util/error.hpp"
#include "daemon/engine/torrent_backend.hpp"

namespace weights::daemon {

// The libtorrent file index of each of `tree`'s files (in the tree's order) when `shape` is the
// pinned torrent's shape. Errors: wrong_target naming the first differing file (in the pinned
// tree's order, then files the pin does not name), "name" or "piece length".
Result<std::vector<int>> match_pinned_shape(const TorrentShape& shape,
                                            const upstream::PinnedTree& tree);

}  // namespace weights::daemon
