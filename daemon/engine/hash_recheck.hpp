#pragma once
// What the engine does when libtorrent stops a downloading hybrid torrent with
// torrent_inconsistent_hashes ("v1 and v2 hashes do not describe the same data"). libtorrent
// 2.0.8 raises it for honest data too: a piece layer that arrives from a peer after a piece
// passed its SHA-1 check but before its last block is on disk is taken as a contradiction
// (torrent::add_hashes), and the torrent is paused in error with its pieces dropped. The answer
// is a recheck (clear_error + force_recheck + resume), a bounded number of times per release and
// daemon run; after that the error stands.
//
// A recheck cannot let bad data in: libtorrent keeps only the pieces that pass its hash checks,
// and every file is still hashed end to end against the manifest (or the commit pin) before the
// release is complete.
#include <map>
#include <string>

#include "daemon/engine/release.hpp"
#include "daemon/engine/torrent_backend.hpp"

namespace weights::daemon {

// Rechecks per release (by id) and daemon run.
inline constexpr int max_inconsistent_rechecks = 3;

// How many rechecks each release has had this daemon run. Io thread only.
class RecheckBudget {
 public:
  // Counts one more recheck of release `id`; false (nothing counted) once it had
  // max_inconsistent_rechecks.
  bool take(const std::string& id);
  int used(const std::string& id) const;

 private:
  std::map<std::string, int> used_;
};

enum class RecheckOutcome { rechecking, gave_up };

// Answers an inconsistent-hashes error of torrent `t`, which downloads release `r`: within the
// budget, clears the error, rechecks the files and resumes the torrent, counts it in
// r.hash_failures (shown by `show`) and logs it; otherwise does nothing (the caller shows the
// error).
RecheckOutcome recheck_inconsistent(TorrentBackend& backend, TorrentId t, Release& r,
                                    RecheckBudget& budget, const std::string& message);

}  // namespace weights::daemon
