#pragma once
// When a full disk pauses a download and when it resumes, as pure rules over byte counts. A
// full disk pauses a fetch (nothing verified is lost) until there is room for what it still
// has to download; any other disk error fails the release. DiskGuard applies the rules to the
// registry's releases and their torrents in the backend.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/engine/hash_recheck.hpp"
#include "daemon/engine/release.hpp"
#include "daemon/engine/release_registry.hpp"
#include "daemon/engine/torrent_backend.hpp"
#include "daemon/engine/torrent_events.hpp"

namespace weights::daemon {

// Free bytes on the filesystem of `dir` for an unprivileged writer; nothing if unknown.
std::optional<std::uint64_t> free_disk_bytes(const std::filesystem::path& dir);

enum class DiskErrorVerdict { pause_disk_full, fail };

// A disk error of a download with `remaining` bytes to fetch. ENOSPC comes from the posix
// backend; the mmap backend reports a SIGBUS (a write into a sparse mapping on a full
// filesystem) as another error, so the free space decides too (less than remaining + 1 MiB).
DiskErrorVerdict disk_error_verdict(bool no_space_error, std::optional<std::uint64_t> free,
                                    std::uint64_t remaining);

// libtorrent does not always report a full disk (a write can block or be retried): the periodic
// check pauses a download that cannot write its next MiB (or its last bytes).
bool cannot_write(std::optional<std::uint64_t> free, std::uint64_t remaining);

// A download paused by a full disk resumes once its remaining bytes fit, keeping a sixteenth
// of min_free_disk free.
bool room_to_resume(std::optional<std::uint64_t> free, std::uint64_t remaining,
                    std::uint64_t min_free_disk);

// Pauses downloads at a full disk and resumes them when their rest fits. Runs on the io thread.
class DiskGuard {
 public:
  // Free bytes on the state dir's filesystem, if known.
  using FreeDisk = std::function<std::optional<std::uint64_t>()>;

  DiskGuard(TorrentBackend& torrents, ReleaseRegistry& registry, FreeDisk free_disk,
            std::uint64_t min_free_disk)
      : torrents_(torrents),
        registry_(registry),
        free_disk_(std::move(free_disk)),
        min_free_disk_(min_free_disk) {}

  // An error of the release's hybrid torrent `e.torrent`: inconsistent hashes while the release
  // still downloads are rechecked within `budget` (hash_recheck.hpp); otherwise as
  // on_disk_error.
  void on_torrent_error(Release& r, const TorrentError& e, RecheckBudget& budget);
  // A disk error of the release's hybrid torrent (TorrentError): a full disk pauses the fetch
  // (release error no_space) until resume_where_room() sees room; anything else fails it.
  void on_disk_error(Release& r, bool no_space, const std::string& what);
  // Pauses the release's torrent for lack of space (once).
  void pause(Release& r, const std::string& what);
  // The periodic check (libtorrent does not always report a full disk): pauses downloads that
  // cannot write anymore.
  void check();
  // The periodic check: a download paused by a full disk resumes once its rest fits again.
  void resume_where_room();

 private:
  TorrentBackend& torrents_;
  ReleaseRegistry& registry_;
  FreeDisk free_disk_;
  std::uint64_t min_free_disk_;
};

}  // namespace weights::daemon
