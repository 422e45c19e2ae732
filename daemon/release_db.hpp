#pragma once
// The daemon's durable release records: the release tables of <state_dir>/state.sqlite, over
// the same connection as the StateStore's feed tables (core/db/state_db.hpp holds the
// connection and the one migration list). Only the io_context thread uses it.
//
// A release row is what survives a restart: which release we fetch or seed, from which feed,
// with which file selection and peers, which files were verified (SHA-256 against the
// manifest), whether it is pinned, and its last state and error.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/db/state_db.hpp"
#include "core/util/error.hpp"

namespace weights::daemon {

// fetched: from a feed's swarm; seeded: a publisher's files; upstream: pinned by an upstream
// commit and downloaded from the upstream (daemon/engine/pinned_fetch.hpp).
enum class Origin { fetched, seeded, upstream };
std::string_view origin_name(Origin origin);
Origin origin_from_name(std::string_view name);  // unknown names: fetched

struct ReleaseRecord {
  std::string id;  // "org/name@revision"
  std::string feed;
  std::string model;
  std::string revision;
  std::uint64_t release_seq = 0;
  std::string v2_infohash;  // 64 hex
  std::string manifest;     // verified manifest bytes
  Origin origin = Origin::fetched;
  std::vector<std::string> include;   // globs; empty = every file
  std::vector<std::string> peers;     // "ip:port" given by requests
  std::vector<std::string> verified;  // manifest paths whose SHA-256 matched
  bool pinned = false;
  std::string state;  // last persisted state name ("downloading", "complete", ...)
  std::string error_code, error_message, error_hint;  // empty code: no error
  std::string view_path;                              // empty: no view
  std::int64_t added_at = 0;
  std::int64_t last_requested = 0;  // TimePoint ticks of the last fetch/seed request (LRU)
  std::int64_t last_scrubbed = 0;   // TimePoint ticks of the last completed scrub, 0 = never
};

// What the hub last said about a release's upstream commit (daemon/engine/upstream_watch.hpp):
// its last answer, which stays in force while later checks get none, and whether the last check
// got one. Times are TimePoint ticks.
enum class HubAnswer { none, serving, refused };
struct HubStatus {
  HubAnswer answer = HubAnswer::none;
  unsigned http_status = 0;         // refused: 401, 403, 404, 410 or 451
  std::string error_code;           // refused: the hub's X-Error-Code, when it sent one
  std::int64_t answer_since = 0;    // the first check of the unbroken run of this answer
  std::int64_t answer_checked = 0;  // the last check that got it
  // The last check got no answer from the hub (network, 429, 5xx): since when, and why. 0: it
  // got one.
  std::int64_t unreachable_since = 0;
  std::string error;
  std::int64_t checked = 0;  // the last check, whatever came of it
  friend bool operator==(const HubStatus&, const HubStatus&) = default;
};

// What a follow mirrors: a trusted feed's releases, or the model catalog's commit-pinned
// entries (daemon/engine/catalog_follow.hpp).
enum class FollowSource { feed, catalog };

// A follow policy: mirror the newest `latest` releases of the source's models that match
// `model_glob` (fnmatch over "org/name"; empty = any) and, when set, carry `alias` (a feed
// follow: that alias exactly; a catalog follow: an alias matching it as a glob).
struct Follow {
  std::int64_t id = 0;
  std::string feed;  // the feed's name; empty for a catalog follow
  std::string model_glob;
  std::string alias;
  std::uint32_t latest = 1;    // per model; 0 = every release
  std::uint64_t max_size = 0;  // bytes; 0 = no limit
  std::int64_t created_at = 0;
  FollowSource source = FollowSource::feed;
  // A catalog follow accepts the licence terms of the entries it mirrors (license_gate.hpp).
  bool accept_license = false;
};

class ReleaseDb {
 public:
  // Over an open (migrated) state database, shared with the process's StateStore.
  explicit ReleaseDb(std::shared_ptr<db::StateDb> db);
  ReleaseDb(ReleaseDb&&) noexcept;
  ReleaseDb& operator=(ReleaseDb&&) noexcept;
  ~ReleaseDb();

  Result<std::vector<ReleaseRecord>> list();
  Result<std::optional<ReleaseRecord>> get(std::string_view id);
  // Inserts or replaces the whole row.
  Status put(const ReleaseRecord& record);
  Status remove(std::string_view id);

  // The hub's answers by release id (every row), and one written or replaced. remove(id)
  // removes its row too.
  Result<std::vector<std::pair<std::string, HubStatus>>> hub_statuses();
  Status put_hub_status(std::string_view id, const HubStatus& status);

  Result<std::vector<Follow>> follows();
  Result<std::int64_t> add_follow(const Follow& follow);  // returns the new id
  Result<bool> remove_follow(std::int64_t id);            // false: no such follow

  // Verified manifest bytes by their SHA-256 (the TUF target hash): lets resolution read
  // aliases without fetching every manifest again.
  Status cache_manifest(std::string_view sha256, std::string_view bytes);
  // Many at once (sha256, bytes), in one transaction: one fsync for a whole refresh.
  Status cache_manifests(const std::vector<std::pair<std::string, std::string>>& manifests);
  Result<std::optional<std::string>> cached_manifest(std::string_view sha256);
  // Hashes of every cached manifest, sorted.
  Result<std::vector<std::string>> cached_manifest_hashes();

  // The user's acceptance of `license` (a licence id, core/upstream/license_terms.hpp) for the
  // upstream repository: when it was given (TimePoint ticks), nullopt when never. Recording it
  // again keeps the first time.
  Result<std::optional<std::int64_t>> license_accepted(std::string_view upstream,
                                                       std::string_view repo,
                                                       std::string_view license);
  Status accept_license(std::string_view upstream, std::string_view repo, std::string_view license,
                        std::int64_t when);

 private:
  std::shared_ptr<db::StateDb> db_;
};

}  // namespace weights::daemon
