// The engine's record of one release: what it is (manifest, per-file entries), where its torrents
// are, and the state the engine's rules keep for it. Owned by the engine; only the io thread
// touches it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/trust/release_manifest.hpp"
#include "core/upstream/license_terms.hpp"
#include "core/util/error.hpp"
#include "daemon/engine/peer_dialer.hpp"
#include "daemon/engine/release_state.hpp"
#include "daemon/engine/resume_policy.hpp"
#include "daemon/engine/source_counters.hpp"
#include "daemon/engine/torrent_backend.hpp"
#include "daemon/engine/v1_companion.hpp"
#include "daemon/release_db.hpp"
#include "daemon/store.hpp"

namespace weights::daemon {

// Where a release is in being taken in (added at start-up, or seeded from a publisher's files).
enum class Intake {
  ready,
  loading,    // start-up: queued, or its torrent is being added
  preparing,  // seed: hashing the publisher's files
};

// One release known to the engine. Owned by Impl::releases_; only the io thread touches it.
struct Release {
  ReleaseRecord rec;
  ReleaseManifest manifest;
  std::uint64_t generation = 0;   // distinguishes worker results for a removed + re-added id
  std::vector<FileEntry> files;   // per manifest file, in manifest order
  TorrentId handle = no_torrent;  // hybrid
  // The hybrid's metadata, kept from its add (the companion's layout is compared against it
  // without a round trip to libtorrent's thread).
  std::shared_ptr<const TorrentMeta> ti;
  // Start-up (Intake::loading): the release is queued or its torrent is being added (add_async);
  // `handle` arrives with TorrentAdded. Seed (Intake::preparing): hashing the publisher's files.
  Intake intake = Intake::ready;
  // Origin upstream: the phase of its intake from the upstream, and the branch the hub resolved
  // to its commit when the request named none, or the catalog alias that named it (both kept in
  // memory only).
  UpstreamPhase upstream_phase = UpstreamPhase::none;
  std::optional<std::string> upstream_branch;
  std::optional<std::string> upstream_alias;  // the catalog alias a fetch named it by
  // Peers found under the pin's DHT key whose answer failed a check while the hub was gone
  // ("peer 127.0.3.1:7000: objects do not hash to commit ..."), the first few (PinSearch's
  // RejectedPeers), and how many more were rejected; shown by `show`.
  std::vector<std::string> upstream_rejected;
  std::size_t upstream_rejected_more = 0;
  std::int64_t upstream_rate = 0;  // bytes/s from the upstream while UpstreamPhase::downloading
  // What the hub last said about the release's upstream commit (upstream_watch.hpp); absent:
  // never asked, or no upstream to ask.
  std::optional<HubStatus> hub;
  // The torrents given SeedPriority::high for it (no_torrent: none); a torrent added again gets
  // it again.
  TorrentId priority_hybrid = no_torrent;
  TorrentId priority_v1 = no_torrent;
  // Origin upstream: the terms it comes under (license_gate.hpp; the catalog's at once, the
  // model card's once pinned) and when the acceptance that admitted it was given (TimePoint
  // ticks; absent when none was needed). In memory only, like the branch and alias.
  std::optional<upstream::LicenseTerms> license;
  std::optional<std::int64_t> license_accepted_at;
  bool v1_adding = false;  // the companion's async add is in flight
  // The hybrid was added from valid resume data (its pieces are what libtorrent saved).
  bool resumed = false;
  // The resume file's policy state (resume_policy.hpp). `resume.current`: the file says the
  // torrent is complete; neither the torrent_finished_alert libtorrent posts after checking that
  // resume data nor the shutdown (unless payload moved) writes it again.
  ResumeRecord resume;
  // v1 companion. While fetching it is a standby download source (CompanionMode::standby): v1-only
  // clients (Transmission 3, aria2 1.36) cannot read the hybrid and form their own swarm under
  // the companion's info-hash. It joins that swarm in upload mode (announces, connects, requests
  // nothing) and starts requesting pieces only when the hybrid has made no progress for a while
  // and the companion has peers (maybe_activate_v1), so a normal swarm (weightsd seeders seed
  // both torrents) is not downloaded twice. Its SHA-1 pieces are never trusted on their own: a
  // file it completes is SHA-256-checked against the manifest like any other, and once every
  // wanted file is verified, every file is hashed once more before the release is complete
  // (check_complete, finish_v1_download).
  TorrentId v1_handle = no_torrent;
  // What the companion is doing (v1_companion.hpp); none also before it is added.
  CompanionMode v1_mode = CompanionMode::none;
  bool staging_pass = false;  // the final pass after a two-source download is running
  V1Watch v1_watch;           // the companion rule's memory (maybe_activate_v1)
  std::optional<TorrentStatus> status;
  std::optional<TorrentStatus> v1_status;
  // The hybrid's pieces from its resume data (at add time): the companion starts from them on a
  // restart instead of re-reading every existing file (same layout, so the same pieces).
  std::vector<bool> resume_have;  // per piece
  std::optional<Error> error;
  bool degraded = false;   // a scrub/verify found damage; repairing from the swarm
  bool disk_full = false;  // paused by ENOSPC; resumed by the policy timer once space returns
  int verify_outstanding = 0;
  std::vector<std::string> verify_failures;
  int hash_failures = 0;
  int banned_peers = 0;
  // Payload counters of earlier sessions (from resume data); this session's are exact and
  // immediate in torrent_status::total_payload_*, while all_time_* lag by up to a second.
  std::int64_t downloaded_base = 0, uploaded_base = 0;
  PeerDialer peers;        // --peer / add_peers endpoints still to dial, and redials
  SourceCounters sources;  // this session's downloaded bytes by peer and web seed
  // Files to hash once libtorrent has flushed its write queue: a file can be reported complete
  // (pieces hash-checked in memory) before all of its blocks are written to disk.
  std::set<std::size_t> flush_pending;
  int flush_outstanding = 0;  // cache_flushed_alerts still expected (hybrid and v1 download)
  // Requested Hugging Face cache layout (fetch's hf_cache; kept until restart) and its outcome.
  std::optional<HfCacheTarget> hf_cache;
  std::string hf_snapshot;
  std::optional<Error> hf_cache_error;

  // The companion is a download source (standby or requesting pieces).
  bool v1_downloading() const {
    return v1_mode == CompanionMode::standby || v1_mode == CompanionMode::active;
  }
  // The companion requests pieces (left upload mode).
  bool v1_active() const { return v1_mode == CompanionMode::active; }
};

}  // namespace weights::daemon
