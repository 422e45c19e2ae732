#pragma once
// Release checks: one release's way from "libtorrent completed a file" to "complete". A
// completed file is hashed once libtorrent has flushed its writes; a match stores it (and, with
// two download sources, deselects it in both), a mismatch fails it and has libtorrent re-check
// and download it again; once every wanted file is verified the release is complete (after a
// final pass over the staging copies when the v1 companion was a download source); a damaged
// stored file found by verify or the scrub is quarantined and the release degraded until the
// swarm repaired it. The hashing itself is the Verifier's (verifier.hpp); this component decides
// what its reports mean for the release. It finds and persists releases in the ReleaseRegistry
// and keeps the scrub's totals; the rest of the engine (the v1 companion's plumbing, resume
// saves, the clock) it reaches through ChecksHost. Runs on the io thread.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/util/error.hpp"
#include "daemon/engine/file_progress.hpp"
#include "daemon/engine/release.hpp"
#include "daemon/engine/release_registry.hpp"
#include "daemon/engine/release_state.hpp"
#include "daemon/engine/torrent_backend.hpp"
#include "daemon/engine/v1_companion.hpp"
#include "daemon/engine/verifier.hpp"

namespace weights::daemon {

class Store;

// How the v1 companion's seed add runs when a release completes: sync (the handle is there on
// return), or async (start-up: queued, answered later).
enum class CompanionAdd { sync, async };

class ChecksHost {
 public:
  virtual ~ChecksHost() = default;
  // WallClock ticks (ReleaseRecord's timestamps).
  virtual std::int64_t now_ticks() = 0;
  virtual bool shutting_down() = 0;
  // The v1 companion's plumbing: ends its download (v1_companion.hpp), and adds it as a seed of
  // a complete release.
  virtual V1FinishPlan finish_v1_download(Release& r) = 0;
  virtual void add_v1_seed(Release& r, CompanionAdd how) = 0;
  // Resume data: status updates of every torrent, and a save of the release's progress.
  virtual void request_updates() = 0;
  virtual void request_progress_save(Release& r) = 0;
};

struct ChecksConfig {
  bool scrub = true;                                // the periodic scrub runs
  std::chrono::seconds scrub_interval{30 * 86400};  // each complete release re-hashed this often
  std::filesystem::path quarantine_dir;             // damaged content is kept here
  // Delay before hashing again a file that was not readable yet (or differed early on).
  std::chrono::milliseconds retry_delay{500};
};

// Where a verify pass reads: the store's copy, or (after a download through two torrents) the
// staging copy, which is adopted into the store when it matches.
enum class VerifySource { store, staging };

class ReleaseChecks {
 public:
  ReleaseChecks(ReleaseRegistry& registry, ChecksHost& host, TorrentBackend& torrents,
                Verifier& verifier, const Store& store, boost::asio::io_context& ioc,
                ChecksConfig config);
  ~ReleaseChecks();
  ReleaseChecks(const ReleaseChecks&) = delete;
  ReleaseChecks& operator=(const ReleaseChecks&) = delete;

  // What the scrub asks (Verifier's ScrubSource): complete releases, their verified non-empty
  // files in the store. Needs no ReleaseChecks, so the Verifier can be built first.
  static ScrubSource scrub_source(const ReleaseRegistry& registry, const Store& store);

  const ScrubTotals& scrub_totals() const { return totals_; }

  // ---- events, routed by the engine (the release found by its torrent) ----
  // Every piece of libtorrent file `lt_index` passed in `source`: its files are hashed once
  // flushed.
  void file_completed(Release& r, DownloadSource source, int lt_index);
  // One flush_cache answered (for the hybrid's TorrentId).
  void cache_flushed(Release& r);
  // The hybrid `t` has every wanted piece.
  void torrent_finished(Release& r, TorrentId t);
  // A check of the hybrid `t` (force_recheck, or its resume data at add) is over.
  void torrent_checked(Release& r, TorrentId t);
  // The verifier's reports.
  void on_checked(const FileChecked& c);
  void on_scrub_finished(const ScrubFinished& f);

  // ---- requests ----
  // Hashes file i once both download sources have flushed their writes (unless it is being
  // hashed or verified already).
  void request_hash(Release& r, std::size_t i);
  // Files a source has completely (files_to_hash) are requested for a hash; none while seeding
  // from a publisher's files.
  void hash_completed_files(Release& r);
  // If every wanted file is verified: ends a two-source download (its final pass first), then
  // publishes the view, persists, saves resume data and adds the companion as a seed.
  void check_complete(Release& r, CompanionAdd how = CompanionAdd::sync);
  // Hashes every verified file again from `source`; a mismatch in the store quarantines the
  // file (degraded) and re-checks the torrent; all good: check_complete. One pass at a time.
  void verify_all(Release& r, VerifySource source = VerifySource::store);
  // libtorrent re-checks what is on disk (both sources) so bad pieces are downloaded again,
  // and the known peers are dialled and trackers asked anew.
  void recheck(Release& r);
  // Empty files have no pieces: verified (the store's empty file) as soon as they are wanted.
  void verify_empty_files(Release& r);
  // Queues the complete release most overdue for a scrub, if scrubbing is on and idle.
  void queue_due_scrubs();

 private:
  void on_flushed(Release& r);
  void hash_file_async(Release& r, std::size_t i);
  void on_hashed(const FileChecked& c);
  void on_reverified(const FileChecked& c);
  void on_scrubbed(const FileChecked& c);
  void deselect_verified(Release& r, std::size_t i);
  void materialise_hf_cache(Release& r);
  enum class Recheck { now, later };
  void quarantine(Release& r, std::size_t i, const std::string& found, std::string_view by,
                  Recheck when = Recheck::now);

  ReleaseRegistry& registry_;
  ChecksHost& host_;
  TorrentBackend& torrents_;
  Verifier& verifier_;
  const Store& store_;
  boost::asio::io_context& ioc_;
  ChecksConfig config_;
  ScrubTotals totals_;
  std::shared_ptr<bool> alive_;  // retry timers outliving this are ignored
};

// What the manifest says file i is.
ExpectedFile expected_of(const Release& r, std::size_t i);

}  // namespace weights::daemon
