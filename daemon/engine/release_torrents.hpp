#pragma once
// A release's torrents in the session: which TorrentId is which release's hybrid or v1
// companion, the adds in flight, and the adds, removals, peers and companion steps themselves,
// over a TorrentBackend. The engine decides when a release's torrent is added or removed (and
// fails or persists the release); this decides how (flags, selection, trackers, peers, resume
// state) and keeps the registry true. Only the io thread calls it.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/util/error.hpp"
#include "daemon/config.hpp"
#include "daemon/engine/disk_scan.hpp"
#include "daemon/engine/file_progress.hpp"
#include "daemon/engine/release.hpp"
#include "daemon/engine/torrent_backend.hpp"
#include "daemon/engine/torrent_events.hpp"
#include "daemon/engine/v1_companion.hpp"
#include "daemon/engine/work_pool.hpp"

namespace weights::daemon {

class Store;

// sync: the TorrentId is known on return (requests that act on the torrent right away).
// async (start-up): queued, no round trip to the session's thread; on_added takes the answer.
enum class AddHow { sync, async };

// normal: from the resume file (and a disk scan of a partial download); seed: every wanted
// file is verified, the hybrid starts in seed mode.
enum class AddMode { normal, seed };

// The companion as a seed (every wanted file verified, the whole release wanted) or as a
// second download source for a fetch.
enum class V1Mode { seed, download };

// What a registered TorrentId is.
struct TorrentRef {
  std::string id;   // the release
  bool v1 = false;  // its v1 companion; else its hybrid
};

// How the engine wants a release's hybrid added.
struct HybridAdd {
  std::filesystem::path save_path;
  AddAs as = AddAs::download;  // download or seed_mode
  SuperSeed super_seed = SuperSeed::off;
  std::optional<ResumeData> resume;
};

// An add_async answered, as far as the engine has to act on it.
enum class AddOutcome {
  none,            // not an add of ours
  stale,           // its release is gone or was fetched again: the torrent was removed
  hybrid_added,    // release->handle is set and registered
  hybrid_refused,  // `error` says why
  v1_added,        // release->v1_handle is set and registered
  v1_refused,      // `error` says why
};
struct Added {
  AddOutcome outcome = AddOutcome::none;
  Release* release = nullptr;  // set unless none or stale
  std::string error;
};

// The disk scan of a partial download: disk_scan.hpp's (over libtorrent), or a test's.
struct DiskScanFns {
  std::function<DiskScan(const TorrentMeta&, const std::optional<ResumeData>&,
                         const std::filesystem::path& save_path,
                         const std::filesystem::path& resume_file)>
      make = make_disk_scan;
  std::function<void(DiskScan&)> run = run_disk_scan;  // on the hashing pool (sync: here)
  std::function<ResumeData(const DiskScan&)> result = disk_scan_result;
};

// What adding a release's torrents needs besides the session.
struct AddPath {
  const Store& store;  // .torrent, resume and staging paths
  WorkPool& pool;      // start-up disk scans run on the hashing pool
  std::function<bool()> shutting_down;
  SuperSeeding super_seeding = SuperSeeding::off;
  // A start-up add carried on after its disk scan and failed: `r` is loaded with that error.
  std::function<void(Release& r, const Error& error)> failed;
  DiskScanFns scan{};
};

class ReleaseTorrents {
 public:
  // The engine's release of an id, or null.
  using Lookup = std::function<Release*(const std::string& id)>;

  ReleaseTorrents(TorrentBackend& backend, Lookup find, AddPath add);

  // Adds the release's hybrid from the store's torrents/<v2>.torrent into its staging dir.
  // AddMode::normal reads the resume file (one the backend refuses, e.g. another torrent's, is
  // ignored); without one and with every file verified the hybrid is added as a seed. This is
  // the "slim restart" (libtorrent notes §2.4): the piece layers come from the .torrent, only
  // the have bitfield and counters from the resume file. A partial download recovers its
  // pieces on disk first (disk_scan.hpp): AddHow::sync scans here; AddHow::async (start-up)
  // scans on the hashing pool and adds when done, unless the release was removed or taken in
  // again meanwhile or the daemon is shutting down (AddPath::failed on an error then).
  // Super-seeding (BEP 16) is set at the add for a release this node published, when
  // configured.
  Status add(Release& r, AddMode mode, AddHow how = AddHow::sync);
  // The companion from torrents/<v2>.v1.torrent on the hybrid's staging dir (add_v1 below).
  void add_v1(Release& r, V1Mode mode = V1Mode::seed, AddHow when = AddHow::sync);
  // A fetch that is not complete also joins the companion's (v1-only) swarm.
  void add_v1_download(Release& r, AddHow how = AddHow::sync);
  // The release's selection changed: both torrents get its priorities, and the companion joins
  // if the release is now a download.
  void selection_changed(Release& r);

  // Reads the release's hybrid .torrent and sets each manifest file's lt_index (-1: not in it).
  Result<std::shared_ptr<const TorrentMeta>> load_hybrid(Release& r,
                                                         const std::filesystem::path& file);
  // Adds the hybrid `t` with the release's trackers, web seeds, peers and (for a partial
  // selection) file priorities; r.ti is `t` from now on. sync: r.handle is set and registered
  // on return; async: on_added does that.
  Status add_hybrid(Release& r, std::shared_ptr<const TorrentMeta> t, HybridAdd how, AddHow when);
  // Adds the v1 companion from `file` (checked against the manifest when it came from the feed)
  // on the hybrid's `save_path`. V1Mode::seed: seed_mode, only when the whole release is
  // wanted. V1Mode::download: upload mode (standby until maybe_activate_v1), the hybrid's
  // selection and, after a restart, the pieces the hybrid had. Nothing happens if the
  // companion is there or being added, the hybrid is not added, the file is missing, or its
  // piece layout is not the hybrid's (logged).
  void add_v1(Release& r, V1Mode mode, AddHow when, const std::filesystem::path& file,
              const std::filesystem::path& save_path);
  // The companion `t` is in the session.
  void adopt_v1(Release& r, TorrentId t, V1Mode mode);

  // An add_async answered (TorrentAdded).
  Added on_added(const TorrentAdded& e);

  // The release `t` belongs to (and whether it is the companion), or null.
  Release* by_torrent(TorrentId t, bool* is_v1 = nullptr) const;
  const std::unordered_map<TorrentId, TorrentRef>& registered() const { return refs_; }
  // The release whose hybrid `t` is (null for a companion or an unknown id), and every
  // registered hybrid with its release.
  Release* hybrid_of(TorrentId t) const;
  std::vector<std::pair<TorrentId, const Release*>> hybrids() const;
  std::size_t adds_in_flight() const { return pending_.size(); }

  // Removes torrent `t` from the session and the registry; `t` becomes no_torrent.
  void remove(TorrentId& t);

  // Every wanted file is verified while the companion was a download source
  // (v1_finish_plan): the companion is removed and its counters kept; a partial selection has
  // the hybrid re-check its files; for V1Finish::readd_as_seed the hybrid is removed and added
  // again in seed mode (an error is the release's).
  V1FinishPlan finish_v1_download(Release& r);
  // A torrent's status update (StatusBatch) recorded in its release: the status, and each
  // file's bytes done while the hybrid is added (the companion's only while it downloads).
  struct StatusSeen {
    Release* release = nullptr;  // null: no release's torrent, or a companion not downloading
    DownloadSource source = DownloadSource::hybrid;
    bool finished = false;  // the torrent has every wanted piece: its files are due for a hash
  };
  StatusSeen record_status(const TorrentUpdate& u);
  // After the hybrid's status was recorded: maybe_redial, maybe_activate_v1, connect_pending.
  void follow_status(Release& r, SteadyTime now);
  // On every status update of a fetch: the companion leaves upload mode when the companion
  // rule says so (v1_watch).
  void maybe_activate_v1(Release& r, const TorrentStatus& hybrid, SteadyTime now);
  // A download with no peer connected dials its known peers again (PeerDialer::maybe_redial).
  void maybe_redial(Release& r, const TorrentStatus& st, SteadyTime now);
  // Dials the release's pending peers (PeerDialer::connect_pending).
  void connect_pending(Release& r);
  // Adds `peers` to the release's (all or none: a bad one is an error) and dials them.
  Status merge_peers(Release& r, const std::vector<std::string>& peers);

  // Per libtorrent file (num_files of the torrent, pad files included).
  static std::vector<FilePriority> priorities(const Release& r, int num_files);
  static CompanionMode companion_mode(const Release& r);

 private:
  enum class Role { hybrid, v1_seed, v1_download };
  struct PendingAdd {
    std::string id;
    std::uint64_t generation = 0;  // Release::generation when the add was queued
    Role role = Role::hybrid;
  };
  std::vector<boost::asio::ip::tcp::endpoint> peers_of(const Release& r) const;
  Status submit(Release& r, AddMode mode, AddHow how, std::shared_ptr<const TorrentMeta> t,
                std::optional<ResumeData> resume);
  DiskScan disk_scan_of(const Release& r, const TorrentMeta& t,
                        const std::optional<ResumeData>& resume) const;
  ResumeData apply_disk_scan(Release& r, const DiskScan& d);

  TorrentBackend& backend_;
  Lookup find_;
  AddPath add_;
  std::unordered_map<TorrentId, TorrentRef> refs_;
  std::map<std::uint64_t, PendingAdd> pending_;  // by add_async cookie
};

}  // namespace weights::daemon
