#pragma once
// The registry of Release records: the one map of the releases the engine knows (by id), the
// generation counter that tells a release taken in again from its predecessor (a worker's result
// for the old one is dropped), look-ups by id or by model, the record's durable part written
// through a RecordStore (ReleaseDb in the daemon), and what the disk budget sees of them. It adds
// no torrent and runs no check: the engine does, and asks the registry. Io thread only.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/util/error.hpp"
#include "daemon/engine/release.hpp"
#include "daemon/policy.hpp"

namespace weights::daemon {

class Store;

// Where records are kept: ReleaseDb::put/remove in the daemon, a map in tests.
struct RecordStore {
  std::function<Status(const ReleaseRecord&)> put;
  std::function<Status(const std::string&)> remove;
};

// The release's state now, from its record (release_state.hpp's pure rule).
ReleaseState state_of(const Release& r);

// The Errc named `name` (code_name's inverse); Errc::internal if none is.
Errc errc_from(const std::string& name);

// The disk budget's view of a release: the content of the files `wanted` selects, its pin,
// whether a follow holds it, when it was last requested.
StoredRelease stored_of(const Release& r, const std::vector<bool>& wanted, bool held);

// What a refusal for lack of room depends on, but free space: releases whose fetch is in
// progress, and pinned releases.
struct RoomCounts {
  std::size_t active = 0;
  std::size_t pinned = 0;
};

class ReleaseRegistry {
 public:
  using Map = std::map<std::string, std::unique_ptr<Release>>;

  explicit ReleaseRegistry(RecordStore store) : store_(std::move(store)) {}

  Release* find(const std::string& id);
  const Release* find(const std::string& id) const;
  // `id`, or for "org/name" without a revision the newest release of that model (release_seq).
  // Errors: not_found, with a hint.
  Result<Release*> require(const std::string& id);

  // A record for `rec` and `manifest`, not taken in yet: a file entry per manifest file (wanted
  // by rec.include, verified as rec.verified says), the stored error, a new generation.
  std::unique_ptr<Release> make(ReleaseRecord rec, ReleaseManifest manifest);
  // Takes `r` in under its id with a new generation, replacing any record of that id.
  Release& add(std::unique_ptr<Release> r);
  // Forgets the record (not its row).
  void erase(const std::string& id);
  // Forgets the record and removes its row; on an error the record stays.
  Status remove(const std::string& id);
  // Writes the record's durable part: its state (unless it is still loading: `loading` is not a
  // state to restart in), verified paths, error. A failed write is logged: the record in
  // memory stays right, and the next persist writes it again. A record without manifest bytes
  // (an upstream fetch before its torrent is built) is not written.
  void persist(Release& r);

  std::size_t size() const { return releases_.size(); }
  Map::iterator begin() { return releases_.begin(); }
  Map::iterator end() { return releases_.end(); }
  Map::const_iterator begin() const { return releases_.begin(); }
  Map::const_iterator end() const { return releases_.end(); }

  // Removal with files: the content (SHA-256) of `id`'s verified files that no other release
  // has verified, and whether another release shares its torrent (its staging, resume and
  // torrent files then stay).
  std::vector<std::string> unshared_content(const std::string& id) const;
  bool torrent_shared(const std::string& id) const;
  // Removes from `store` the files of `id` that no other release needs: its unshared content
  // and, unless its torrent is shared, its staging dir, resume file and torrents. Best effort
  // (what cannot be removed stays). Before remove(id).
  void remove_files(const std::string& id, const Store& store) const;

  // The disk budget: every release with the content it wants; `protect` set for fetches in
  // progress a user asked for, or a follow still holds (policy.hpp fetch_protected).
  std::vector<StoredRelease> stored_releases(const std::set<std::string>& held) const;
  // Bytes every release's wanted content reserves (shared content once).
  std::uint64_t reserved() const;
  RoomCounts room_counts() const;

  // The complete releases a scrub takes: `id` (which must be complete: invalid_argument
  // otherwise) or all of them.
  Result<std::vector<std::string>> scrub_ids(const std::optional<std::string>& id);

 private:
  RecordStore store_;
  Map releases_;
  std::uint64_t next_generation_ = 1;
};

}  // namespace weights::daemon
