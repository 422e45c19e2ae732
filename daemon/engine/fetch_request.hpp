#pragma once
// A fetch request: whether it is valid (its peers, its include globs against the resolved
// manifest), which way it goes for the release of that id (new, started over, a second request
// for one in the session or one whose torrents are being fetched), and what it changes in the
// release's record (its selection, peers, last request) — as plain decisions, and FetchIntake,
// which carries them out on the ReleaseRegistry and reaches the rest of the engine (resolver,
// session, disk budget) only through FetchHost. Io thread only.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/trust/release_manifest.hpp"
#include "core/util/error.hpp"
#include "daemon/engine.hpp"
#include "daemon/engine/release.hpp"
#include "daemon/engine/release_registry.hpp"
#include "daemon/engine/resolver.hpp"

namespace weights::daemon {

// "org/name@revision" of a manifest.
std::string release_id(const ReleaseManifest& m);
std::vector<std::string> manifest_paths(const ReleaseManifest& m);

// Every peer must be "ip:port" or "[v6]:port" (peer_dialer.hpp parse_peer). Errors:
// invalid_argument naming the peer.
Status check_peers(const std::vector<std::string>& peers);
// Every include pattern must select a file of `m`: a typo must not silently fetch nothing.
// Errors: invalid_argument naming the pattern and the release.
Status check_includes(const ReleaseManifest& m, const std::vector<std::string>& include);

// Which way a fetch goes for the release of its id.
enum class FetchPath {
  start,    // none known: create it (resolving) and fetch its torrents
  restart,  // a failed earlier attempt (no torrent added, none being fetched): start over
  widen,    // its torrent is in the session: widen the selection, add peers (complete: answer)
  join,     // its torrents are being fetched for an earlier request: this one joins it
};
// `acquiring`: the resolver has the release's torrents in flight.
FetchPath fetch_path(const Release* existing, bool acquiring);

// A fetch (a follow's) would start the release: absent, or failed before anything was added.
bool fetch_would_start(const Release* existing);
// Start-up: a fetched release recorded before its torrents arrived goes on resolving.
bool awaiting_torrents(const Release& r);

// The include list after a second request: every file (empty) if the request asks for every
// file, else the current patterns and the request's new ones, in order. Only for a release
// with a selection (an empty current include already means every file).
std::vector<std::string> widened_include(const std::vector<std::string>& current,
                                         const std::vector<std::string>& requested);

// A second request's new selection: nullopt when the release already wants every file.
struct Selection {
  std::vector<std::string> include;
  std::vector<bool> wanted;  // per manifest file
};
std::optional<Selection> widen_selection(const Release& r, const FetchRequest& request);
// Applies a selection to the record and its files' `wanted`.
void apply_selection(Release& r, Selection selection);

// Appends the entries of `more` not in `into` yet, in order.
void merge_unique(std::vector<std::string>& into, const std::vector<std::string>& more);

// A user's request counts as a request for eviction's LRU order; a follow's does not.
void note_request(ReleaseRecord& rec, Requester by, std::int64_t now_ticks);

// The record of a release a fetch creates (origin fetched, its selection and peers).
ReleaseRecord fetch_record(const ReleaseManifest& m, const std::string& manifest_bytes,
                           const std::string& feed, const FetchRequest& request,
                           std::int64_t now_ticks);

// What a fetch needs of the rest of the engine.
class FetchHost {
 public:
  virtual ~FetchHost() = default;
  virtual bool shutting_down() = 0;
  // Name (or alias, or name@rev) -> the newest trusted release target and its manifest.
  virtual Result<Resolved> resolve(const FetchRequest& request) = 0;
  // Its torrents are being fetched (for an earlier request).
  virtual bool acquiring(const Release& r) = 0;
  // Room for the content `wanted` selects under the disk budget and on the filesystem (evicting
  // idle releases if it must). Errors: no_space.
  virtual Status make_room(const Release& r, const std::vector<bool>& wanted) = 0;
  // The selection of a release in the session changed: priorities, empty files, the companion.
  virtual void selection_changed(Release& r) = 0;
  // Validated "ip:port" peers into the record and the dialer.
  virtual Status add_peers(Release& r, const std::vector<std::string>& peers) = 0;
  virtual void check_complete(Release& r) = 0;
  // Fetches the release's torrents on a worker; the outcome goes to
  // FetchIntake::torrents_arrived.
  virtual Status acquire(Release& r, const FeedState& feed, const ReleaseManifest& manifest) = 0;
  // The trusted state of a feed (start-up resolutions).
  virtual Result<FeedState> feed(const std::string& name) = 0;
  // The release's torrents are here: its hybrid joins the session (and its companion, for a
  // download).
  virtual Status add(Release& r) = 0;
  // Torrents a worker wrote for no release: removed from the store.
  virtual void discard_torrents(const std::string& v2_infohash) = 0;
  virtual std::int64_t now_ticks() = 0;
};

// Carries out fetch requests on the registry.
class FetchIntake {
 public:
  FetchIntake(ReleaseRegistry& registry, FetchHost& host) : registry_(registry), host_(host) {}

  // A new release is recorded `resolving` while its torrents are fetched (persisted only when
  // they are here, or could not be had); a second request widens the selection of the release it
  // names and adds its peers, and one for a complete release answers at once. Invalid peers or
  // globs, or no room, change nothing. Errors: unavailable (shutting down, still loading),
  // invalid_argument, not_found, no_space, and the resolver's.
  Result<Release*> fetch(const FetchRequest& request);
  // The outcome of acquire for the release `id` of `generation`: it joins the session (then is
  // persisted and checked for completion), or fails with `got`'s error. Dropped if the release
  // was removed or taken in again meanwhile, or the daemon is shutting down: the torrents then
  // go unless another release shares them.
  void torrents_arrived(const std::string& id, std::uint64_t generation,
                        const std::string& v2_infohash, Status got);
  // Start-up: a fetched release recorded before its torrents arrived (its record was written
  // meanwhile, e.g. pinned) goes on resolving from the feed it was resolved from.
  void resume_resolutions();

 private:
  Status again(Release& r, const FetchRequest& request);
  Status join(Release& r, const FetchRequest& request);

  ReleaseRegistry& registry_;
  FetchHost& host_;
};

}  // namespace weights::daemon
