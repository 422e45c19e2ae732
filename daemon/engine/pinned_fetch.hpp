#pragma once
// Fetching a release pinned by an upstream commit, with no feed (`weightsctl fetch
// ORG/NAME@<40-hex>`; docs/pinned-releases.md): the commit's git objects are fetched from the
// hub's git endpoint and checked (core/upstream/git_pin.hpp: the file list, sizes and SHA-256s
// from git alone), every file is downloaded from the hub's resolve URLs (core/net/hf_hub.hpp:
// redirects, Range resume, Retry-After, fresh signed URLs) into a staging directory under the
// state dir, each hashed against the pin as soon as it is here (a lying hub is refused before the
// next file is downloaded), and the deterministic pinned torrent built
// (core/publish/pinned_torrent.hpp, the hub's resolve base as BEP 19 web seed). Then the release
// enters the engine the way a seeded one does: its files adopted into the store and seeded, so
// the view, the Hugging Face cache and resume across restarts are the seed path's. Its id is
// `ORG/NAME@<commit>`, its feed the pseudo-feed `upstream_feed`, its origin `upstream`.
//
// With the v2 info-hash of the commit's pinned torrent (a catalog entry's `info_hash_v2`) the
// files come from the swarm instead: after the git pin the node adds the torrent by that
// info-hash (pinned_swarm.hpp: its metadata is checked against the pin before a byte is
// requested) with the hub's resolve base as BEP 19 web seed and the request's peers, so bytes
// come from peers and the hub at once. When it is done the transient torrent is removed and the
// files go the same way as the HTTP path's: hashed against the pin, the canonical torrent built
// (its v2 info-hash must be the swarm's), adopted and seeded. The transient torrent lives in the
// upstream staging directory, where a failed attempt left its files for the next (libtorrent
// checks them when the metadata is back); when no peer gives the metadata within 30 s the files
// come from the hub alone, as without an info-hash; the release's own torrent is added by the same
// path as every seeded release's, so resume, the v1 companion and views need no second case.
//
// `ORG/NAME` without a revision: the hub's API resolves the default branch (`main`) to a
// commit first; that one step trusts the hub, and the log and the release object say so.
//
// Licences (daemon/engine/license_gate.hpp): a release the catalog names is admitted under the
// entry's terms when it is requested (a refusal is the request's error, nothing started); any
// other under its pinned commit's model card (README.md, read from the fetched git objects),
// right after the pin and before any file is requested (a refusal fails the release).
//
// Transfers and each file's hash run on the upstream transfer thread, the torrent build on the
// hashing pool; this class runs on the io thread and reaches the engine only through
// PinnedFetchHost. A failure at any step (a file the pin does not name, a tampered byte, a dead
// endpoint) fails the release with the error naming the file, removes the staging directory (kept
// after an `unavailable` transfer, for the next attempt to resume), and makes nothing visible as
// complete. Nothing is persisted before the release is taken in: a fetch cut by a restart is
// started again by the next request (the hub's downloads resume from the staging directory when it
// is still there).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/catalog/catalog.hpp"
#include "core/net/hf_hub.hpp"
#include "core/publish/pinned_torrent.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/upstream/git_pin.hpp"
#include "core/upstream/license_terms.hpp"
#include "core/util/error.hpp"
#include "core/util/units.hpp"
#include "daemon/engine.hpp"
#include "daemon/engine/hash_recheck.hpp"
#include "daemon/engine/license_gate.hpp"
#include "daemon/engine/pin_search.hpp"
#include "daemon/engine/release.hpp"
#include "daemon/engine/release_registry.hpp"
#include "daemon/engine/torrent_events.hpp"
#include "daemon/engine/upstream_watch.hpp"
#include "daemon/store.hpp"

namespace weights::daemon {

// The pseudo-feed of releases pinned by a Hugging Face commit. ':' is never in a feed name
// (check_feed_name), so no feed can be mistaken for it.
inline constexpr std::string_view upstream_feed = "upstream:huggingface";
inline constexpr std::string_view upstream_kind = "huggingface";
// The branch a request without a revision pins (the hub's default for new repositories).
inline constexpr std::string_view default_branch = "main";

// What a fetch request names upstream.
struct PinTarget {
  std::string repo;                   // "org/name" as the request spelled it
  std::optional<std::string> commit;  // 40 lowercase hex; absent: the default branch
  std::optional<std::string> alias;   // the catalog alias that named repo and commit
  // The v2 info-hash of the commit's pinned torrent (the catalog's): fetch from its swarm.
  std::optional<std::string> info_hash_v2;
  // The terms of the catalog entry that names repo and commit; absent: the model card's.
  std::optional<upstream::LicenseTerms> license;
  friend bool operator==(const PinTarget&, const PinTarget&) = default;
};

// The upstream a fetch names, for a request no feed could answer: "org/name" alone or with a
// full commit id (in `revision` or as "org/name@rev"). nullopt: not an "org/name" (an alias).
// Errors: invalid_argument for a revision that is not a full 40-hex commit id, with a hint.
Result<std::optional<PinTarget>> pin_target(const FetchRequest& request);

// The upstream release the catalog names for the request's alias (or id), for a request no feed
// could answer, with the entry's licence terms. A revision given with the alias must be the
// entry's commit. Errors: not_found
// with the hint `weightsctl catalog search` (Catalog::lookup), schema_error for an alias defined
// twice, unsupported for an upstream other than huggingface, invalid_argument for another
// revision.
Result<PinTarget> catalog_target(const catalog::Catalog& catalog, const FetchRequest& request);

// Where upstream fetches go: the endpoint (config [upstream] endpoint, else HF_ENDPOINT, else
// the hub), HF_TOKEN for it only, proxies from the environment.
struct UpstreamSettings {
  hf::HubOptions hub;
  upstream::GitFetchOptions git;
};
// `cancel`, when set, aborts the hub's transfers (at shutdown).
UpstreamSettings upstream_settings(const std::string& configured_endpoint, hf::HubOptions from_env,
                                   std::shared_ptr<const std::atomic<bool>> cancel = nullptr);

// "{endpoint}/{repo}": the repository's git smart-HTTP URL.
std::string git_url(const UpstreamSettings& s, std::string_view repo);
// "{endpoint}/{repo}/resolve/": the BEP 19 web-seed base of a pinned torrent (its name is the
// commit, so a file's URL is the hub's resolve URL of that commit).
std::string web_seed_base(const UpstreamSettings& s, std::string_view repo);

// The manifest of a pinned release while its files are fetched: names, sizes and SHA-256s from
// the pin (small files with their git blob id, the name the hub's cache gives them).
ReleaseManifest interim_manifest(std::string_view repo, const upstream::PinnedTree& tree);

// The release's manifest once its torrent is built: `files` hashed against the pin (with
// bt_root), the torrent's hashes and piece length, the web seed, `published` (UTC, the node's
// clock: the manifest stays on this node). Errors: the format's invariants
// (validate_release_manifest).
Result<ReleaseManifest> pinned_manifest(std::string_view repo, const upstream::PinnedTree& tree,
                                        std::vector<ReleaseFile> files, const PinnedTorrent& built,
                                        std::string web_seed, std::string published);

// What the pinned fetch needs of the rest of the engine.
class PinnedFetchHost {
 public:
  virtual ~PinnedFetchHost() = default;
  virtual bool shutting_down() = 0;
  // unavailable while the release is still being loaded at start-up.
  virtual Status not_loading(const Release& r) = 0;
  virtual std::unique_ptr<Release> make_release(ReleaseRecord rec,
                                                const ReleaseManifest& manifest) = 0;
  // Runs `work` on the upstream transfer thread (git, HTTP) and `then` with its outcome on the
  // io thread.
  virtual void on_transfer(std::function<Status()> work, std::function<void(Status)> then) = 0;
  // Runs `work` on the hashing pool and `then` with its outcome on the io thread.
  virtual void on_pool(std::function<Status()> work, std::function<void(Status)> then) = 0;
  // Runs `fn` on the io thread (progress from a transfer).
  virtual void post(std::function<void()> fn) = 0;
  // Runs `fn` on the io thread after `delay` (never after the engine is gone).
  virtual void after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  virtual const Store& store() = 0;
  // Room for the release's files under the disk budget and on the filesystem (evicting what the
  // policy allows). Errors: no_space.
  virtual Status make_room(const Release& r) = 0;
  // Adds the release to the session as a seed (every file verified).
  virtual Status add_seed(Release& r) = 0;
  virtual void check_complete(Release& r) = 0;
  virtual std::int64_t now_ticks() = 0;
  // The session, for the transient torrent of a swarm fetch.
  virtual TorrentBackend& backend() = 0;
  // The hub refused a download of release `id`'s commit (401/403/404/410/451): recorded like
  // the upstream watch's answers (upstream_watch.hpp).
  virtual void hub_answered(const std::string& id, const HubCheck& check) = 0;
  // Whether the DHT runs (a pin can be looked up when the hub is gone).
  virtual bool dht_enabled() = 0;
  // The DHT lookups, timers and worker threads of the hub-gone search (pin_search.hpp).
  virtual PinSearchHost& pin_search_host() = 0;
  // Pin exchange endpoints tried before those the DHT names ([network] pin_exchange_peers).
  virtual std::vector<units::Endpoint> known_pin_peers() = 0;
  // Rechecks after libtorrent's inconsistent-hashes error, per release and daemon run (shared
  // with the engine's hybrid torrents; hash_recheck.hpp).
  virtual RecheckBudget& rechecks() = 0;
};

// Carries out upstream fetches on the registry. Io thread only.
class PinnedFetch {
 public:
  // `work_dir`: where files are staged while they download (<state_dir>/upstream).
  PinnedFetch(ReleaseRegistry& registry, PinnedFetchHost& host, LicenseGate& licenses,
              UpstreamSettings settings, std::filesystem::path work_dir);

  // Starts (or answers with) the release `target` names. A release of that id already complete
  // or being fetched is answered as it is (a requested Hugging Face cache is added to it); a
  // failed one is replaced. Errors now: unavailable (shutting down, still loading),
  // invalid_argument (include globs: an upstream fetch takes every file; a bad pin),
  // license_not_accepted (the catalog's terms need an acceptance the request does not give).
  Result<Release*> fetch(const PinTarget& target, const FetchRequest& request);

  // An event of the session: true when it was about a swarm fetch's transient torrent and is
  // handled. A StatusBatch is read (progress, rate, sources) and left to the engine too.
  bool on_torrent_event(const TorrentEvent& e);
  // Peers under a pin's DHT key (docs/pinned-releases.md §4c): leads for the fetches of that pin
  // whose hub is gone.
  void on_dht_peers(const DhtPeers& e);
  // Cancels every hub-gone search's asks in flight (before the engine stops their threads).
  void stop_searches();

  // The work of one fetch, shared by its steps (plain data; see pinned_fetch.cpp).
  struct Job;

 private:
  void start_pin(const std::shared_ptr<Job>& job);
  void branch_resolved(const std::shared_ptr<Job>& job, Status got);
  void pinned(const std::shared_ptr<Job>& job, Status got);
  void download_from_hub(const std::shared_ptr<Job>& job);
  void downloaded(const std::shared_ptr<Job>& job, Status got);
  // The swarm path (see the header comment).
  void join_swarm(const std::shared_ptr<Job>& job);
  std::shared_ptr<Job> swarm_job(TorrentId t);
  void swarm_metadata(const std::shared_ptr<Job>& job, const TorrentShape& shape);
  void swarm_status(const std::shared_ptr<Job>& job, const TorrentUpdate& u);
  void swarm_finished(const std::shared_ptr<Job>& job);
  void swarm_flushed(const std::shared_ptr<Job>& job);
  void swarm_error(const std::shared_ptr<Job>& job, const TorrentError& e);
  void leave_swarm(Job& job);
  void built(const std::shared_ptr<Job>& job, Status got);
  // Hub gone (docs/pinned-releases.md §4c): a PinSearch for the pin's peers; false: the error
  // is not one the DHT can help with (or the DHT is off), the fetch fails with it.
  bool hub_gone(const std::shared_ptr<Job>& job, const Error& hub_error);
  void pin_peer_verified(const std::shared_ptr<Job>& job, const units::Endpoint& peer,
                         upstream::VerifiedPin answer);
  // The search named another rejected peer: the log, and the release's list for `show`.
  void pin_peer_rejected(const Job& job, const std::string& text);
  // The verified peer's swarm let the fetch down (`why`): named in `show`, the search goes on.
  void swarm_rejected(const std::shared_ptr<Job>& job, const std::string& why);
  // The job's search (if any) stops; the job is no longer held for it.
  void end_search(const std::shared_ptr<Job>& job);
  // The job's release if it is still the one the job started for.
  Release* current(const Job& job);
  void failed(const std::shared_ptr<Job>& job, const Error& e);

  ReleaseRegistry& registry_;
  PinnedFetchHost& host_;
  LicenseGate& licenses_;
  UpstreamSettings settings_;
  std::filesystem::path work_dir_;
  std::map<TorrentId, std::shared_ptr<Job>> swarms_;  // transient torrents of swarm fetches
  // Fetches searching for their pin's peers, by the pin's DHT key (held until the search ends).
  std::multimap<std::string, std::shared_ptr<Job>> dht_searches_;
};

}  // namespace weights::daemon
