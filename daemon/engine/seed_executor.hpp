#pragma once
// The seed-node executor: applies the follow policies (daemon/policy.hpp's pure plan_follows)
// to the node. It owns the follows' outcome (what each mirrors, skips and was refused) and
// decides when to apply again; the engine is reached only through SeedHost: the follows in
// the database, the trusted feeds and their manifests, whether a release still needs a fetch,
// the fetch itself, and the set of releases the follows hold (reported on every application,
// so eviction and the API see it). Follows of the model catalog are carried out by a
// CatalogFollower (catalog_follow.hpp) through a CatalogHost, and their releases held with the
// feeds'. Runs on the io thread.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/db/state_store.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/trust/tuf_metadata.hpp"
#include "core/util/error.hpp"
#include "core/util/time.hpp"
#include "daemon/engine.hpp"
#include "daemon/engine/catalog_follow.hpp"
#include "daemon/policy.hpp"
#include "daemon/release_db.hpp"

namespace weights::daemon {

class SeedHost {
 public:
  // What a refusal for lack of room depends on (bytes reserved, fetches in progress, pins,
  // free MiB): when it changes, refused follows are tried again at once.
  using RoomKey = std::tuple<std::uint64_t, std::size_t, std::size_t, std::uint64_t>;
  virtual ~SeedHost() = default;
  virtual Result<std::vector<Follow>> follows() = 0;
  virtual Result<std::int64_t> add_follow(const Follow& follow) = 0;
  virtual Result<bool> remove_follow(std::int64_t id) = 0;  // false: no such follow
  virtual bool has_feed(const std::string& feed) = 0;
  virtual Result<FeedState> feed(const std::string& feed) = 0;
  // The verified manifest of a trusted release target (normally from the cache).
  virtual Result<ReleaseManifest> manifest(const FeedState& feed,
                                           const tuf::TargetInfo& target) = 0;
  // The release is absent, or failed before anything was added: a fetch would start it.
  virtual bool needs_fetch(const std::string& release_id) = 0;
  virtual Status fetch(const FetchRequest& request) = 0;
  // The releases the follows hold now (not evicted).
  virtual void hold(const std::set<std::string>& held) = 0;
  virtual RoomKey room_key() = 0;
  virtual TimePoint now() = 0;

  // Disk budget. Every release as the budget sees it (wanted content, pins, holds, whether a
  // fetch in progress protects it: policy.hpp fetch_protected).
  virtual std::vector<StoredRelease> stored_releases() = 0;
  // Bytes `incoming` would write: its content not in the store already.
  virtual std::uint64_t bytes_to_write(const StoredRelease& incoming) = 0;
  // Free bytes on the state dir's filesystem, if known.
  virtual std::optional<std::uint64_t> free_disk() = 0;
  // Removes a release with its files (eviction).
  virtual Status evict(const std::string& id) = 0;
};

// The disk budget's running totals since start (for /metrics).
struct RoomTotals {
  std::uint64_t evictions = 0;          // releases evicted to make room
  std::uint64_t no_space_refusals = 0;  // fetches refused for lack of room
};

struct DiskLimits {
  std::uint64_t max_disk = 0;       // bytes releases may reserve; 0 = no budget
  std::uint64_t min_free_disk = 0;  // bytes kept free on the filesystem
  std::string where;                // the state dir, for messages
};

// One follow with what its last application did.
struct FollowView {
  Follow follow;
  std::optional<TimePoint> last_applied;
  std::vector<std::string> mirroring;
  std::vector<std::pair<std::string, std::string>> skipped;  // id, reason
  std::vector<std::pair<std::string, std::string>> refused;  // id, reason (e.g. no_space)
};

class SeedExecutor {
 public:
  // `catalog`: where catalog follows reach the engine; none: a catalog follow is refused.
  explicit SeedExecutor(SeedHost& host, CatalogHost* catalog = nullptr);

  // Validates and stores a follow, then applies every follow. Errors: not_found (feed),
  // invalid_argument (e.g. --accept-license on a feed follow), unsupported (a catalog follow
  // without a CatalogHost).
  Result<FollowView> add(const FollowSpec& spec);
  Result<std::vector<FollowView>> list();
  // Its releases stay (and keep seeding) but are no longer held: eviction may take them.
  Status remove(std::int64_t id);

  // Applies every follow now: fetches what they select and is missing, reports what they hold.
  void apply();
  // Makes room for `incoming` (its wanted content) before anything is downloaded: evicts
  // unpinned, unheld, idle releases least recently requested first under max_disk, and checks
  // the filesystem's free space. All or nothing; the error (no_space) says what does not fit.
  Status make_room(const StoredRelease& incoming, const DiskLimits& limits);

  // The policy timer's tick: follows refused for lack of room are tried again when room may
  // have changed (a release removed, evicted or finished, free space back), else every 30th.
  // Catalog follows are applied on every tick (starting what is due: a free fetch slot, a retry's
  // time), and the catalog files read again every 30th.
  void tick();

  const RoomTotals& room_totals() const { return totals_; }

 private:
  struct Outcome {
    std::optional<TimePoint> last_applied;
    std::vector<std::string> mirroring;
    std::vector<std::pair<std::string, std::string>> skipped;
    std::vector<std::pair<std::string, std::string>> refused;
  };
  std::vector<FollowCandidate> candidates(const std::vector<Follow>& follows);
  // Applies the catalog follows among `follows` and reports the held set.
  void apply_catalog(const std::vector<Follow>& follows);
  void report_held();

  SeedHost& host_;
  CatalogHost* catalog_host_ = nullptr;
  std::optional<CatalogFollower> catalog_;
  std::vector<Follow> catalog_follows_;                 // as of the last apply()
  std::set<std::string> feed_held_;                     // what the feed follows hold
  std::set<std::string> catalog_held_;                  // what the catalog follows hold
  std::optional<std::set<std::string>> reported_held_;  // their union, as last reported
  RoomTotals totals_;
  std::map<std::int64_t, Outcome> outcome_;
  SeedHost::RoomKey refused_room_key_{};
  std::uint64_t ticks_ = 0;
};

}  // namespace weights::daemon
