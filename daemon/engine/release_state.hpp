#pragma once
// A release's per-file record and its state. The state is a pure function of a few facts about
// the release and its torrent (release_state); the engine gathers them (no libtorrent types
// here) and every caller compares the enum, never a string. to_string gives the wire and
// database name (docs/protocol.md, releases.state).
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace weights::daemon {

// One manifest file of a release, in manifest order.
struct FileEntry {
  std::uint64_t length = 0;  // the manifest's
  bool wanted = false;       // selected by the release's include globs
  bool verified = false;     // SHA-256-checked against the manifest (and in the store)
  bool hashing = false;      // a hash of the staging copy is running
  bool failed = false;       // the last hash did not match (or the file was quarantined)
  int attempts = 0;          // full-hash mismatches (re-downloads)
  int io_retries = 0;        // unreadable-file / early-mismatch retries
  std::int64_t done = 0;     // bytes the hybrid has (from its piece bitfield)
  std::int64_t v1_done = 0;  // bytes the v1 companion has, while it downloads
  int lt_index = -1;         // libtorrent file index (-1: not in the torrent)
};

enum class ReleaseState {
  loading,      // start-up: its torrent is queued or being added
  resolving,    // no torrent yet
  downloading,  //
  verifying,    // hashing files, or libtorrent checking them
  paused,       // the disk is full, or the torrent was paused
  degraded,     // a scrub/verify found damage; repairing from the swarm
  complete,     // every wanted file verified
  failed,
};

std::string_view to_string(ReleaseState s);
std::optional<ReleaseState> release_state_from_string(std::string_view s);

// A release pinned by an upstream commit while the daemon takes it from the upstream
// (daemon/engine/pinned_fetch.hpp): the commit's git objects are fetched and checked, then its
// files downloaded, then hashed and the torrent built. none: any other release, or afterwards.
enum class UpstreamPhase { none, pinning, downloading, building };

// What the state depends on. The torrent facts are those of the hybrid torrent's latest
// status (no status yet: neither paused nor checking).
struct ReleaseStateInput {
  bool loading = false;
  bool has_torrent = false;  // the hybrid torrent is in the session
  bool has_error = false;
  bool preparing = false;  // seed: taking in the publisher's files
  UpstreamPhase upstream = UpstreamPhase::none;
  bool verifying = false;  // a verify/staging pass over the release's files is running
  bool all_wanted_verified = false;
  bool disk_full = false;
  bool degraded = false;
  bool torrent_paused = false;
  bool torrent_checking = false;  // checking files or resume data
  bool any_hashing = false;       // some file's staging copy is being hashed
};

ReleaseState release_state(const ReleaseStateInput& in);

// Helpers over a release's files.
bool all_wanted_verified(const std::vector<FileEntry>& files);
bool any_hashing(const std::vector<FileEntry>& files);
bool everything_wanted(const std::vector<FileEntry>& files);
std::vector<bool> wanted_mask(const std::vector<FileEntry>& files);
// Bytes of wanted, unverified files that neither download source has yet.
std::uint64_t remaining_bytes(const std::vector<FileEntry>& files);

}  // namespace weights::daemon
