#pragma once
// Seed-node policy as plain functions over plain data (no libtorrent, no I/O), so every rule is
// unit-tested on its own: which releases a follow mirrors and holds, which unpinned releases a
// disk budget evicts (or why a release cannot fit), and which rate limits a time-of-day window
// puts in force.
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/error.hpp"
#include "daemon/release_db.hpp"

namespace weights::daemon {

// ---- follows
// -------------------------------------------------------------------------------------

// A release a follow may select: one in a feed's trusted targets, with what its verified
// manifest says, or a catalog entry's commit-pinned release (catalog_follow.hpp).
struct FollowCandidate {
  std::string feed;      // empty for the catalog's
  std::string model;     // "org/name" (a catalog entry's upstream repository)
  std::string revision;  // a catalog entry's commit
  // Newer releases of a model have a higher number (a feed's release_seq; the catalog's order
  // of definition).
  std::uint64_t release_seq = 0;
  std::vector<std::string> aliases;  // a catalog entry's in lowercase
  std::uint64_t total_length = 0;
  FollowSource source = FollowSource::feed;
  bool size_known = true;  // false: a catalog entry that does not list every file's size
  std::string id() const { return model + "@" + revision; }
};

// Whether `f` selects this release's model at all (source and feed, model glob, alias: exact for
// a feed follow, an ASCII case-insensitive glob over the aliases for a catalog follow).
bool follow_matches(const Follow& f, const FollowCandidate& c);

struct FollowPlan {
  // Releases to mirror: within `latest` of a matching follow and within its max_size; newest
  // first per model, in a deterministic order.
  std::vector<std::string> mirror;
  // The same set, for lookups: these are held (not evictable) while they stay within `latest`.
  std::set<std::string> held;
  // Releases a follow selected but refused, with the reason (larger than --max-size, or a size
  // not known to a follow with --max-size).
  std::vector<std::pair<std::string, std::string>> skipped;
};

FollowPlan plan_follows(std::span<const Follow> follows,
                        std::span<const FollowCandidate> candidates);

// ---- disk budget
// ---------------------------------------------------------------------------------

struct Content {
  std::string sha256;
  std::uint64_t length = 0;
};

// A release the node stores (or is fetching): the content of its wanted files.
struct StoredRelease {
  std::string id;
  bool pinned = false;
  bool held = false;     // by a follow
  bool protect = false;  // never evicted by this plan (e.g. still fetching on request)
  // Its upstream refused it (401/403/404/410/451, upstream_watch.hpp): peers may be the only
  // source left, so it goes only after every release the hub still serves.
  bool upstream_refused = false;
  std::int64_t last_requested = 0;
  std::vector<Content> content;
};

// A fetch in progress: who asked for it, and whether a follow still holds it.
enum class FetchRequester { user, follow_only };
struct FetchInProgress {
  FetchRequester requester = FetchRequester::user;
  bool held = false;  // within a follow's `latest` now
};

// Whether a fetch in progress is protected from eviction (StoredRelease::protect). A fetch a
// user asked for is, until it ends. One only a follow started is protected while the follow
// holds it: once it falls out of `latest` nobody wants it any more, and it must not keep the
// follow's newer releases out (it becomes evictable, which cancels it).
bool fetch_protected(const FetchInProgress& f);

struct EvictionPlan {
  std::vector<std::string> evict;  // least recently requested first
  std::uint64_t used_before = 0;   // bytes the current releases reserve (shared content once)
  std::uint64_t used_after = 0;    // after evicting and adding the new release
};

// Bytes reserved by `releases`: every distinct content counted once.
std::uint64_t reserved_bytes(std::span<const StoredRelease> releases);

// Plans room for `incoming` under `budget` bytes (0 = no budget: never evicts). Evicts unpinned,
// unheld, unprotected releases least recently requested first, those whose upstream refused them
// only after all others, and only as many as needed. All
// or nothing: if evicting every candidate would still not make room, returns Errc::no_space
// naming the sizes, and nothing is to be evicted.
Result<EvictionPlan> plan_eviction(std::span<const StoredRelease> existing,
                                   const StoredRelease& incoming, std::uint64_t budget);

// ---- bandwidth windows
// ---------------------------------------------------------------------------

// From `start` (inclusive) to `end` (exclusive), minutes after local midnight; end < start
// wraps past midnight. Rates in bytes/s, 0 = unlimited; nullopt keeps the base limit.
struct RateWindow {
  int start_minute = 0;
  int end_minute = 0;
  std::optional<std::uint64_t> download_rate;
  std::optional<std::uint64_t> upload_rate;
  bool operator==(const RateWindow&) const = default;
};

// "HH:MM" (00:00-23:59; 24:00 allowed as an end) to minutes after midnight.
Result<int> parse_clock_time(std::string_view text, bool allow_24 = false);

struct Rates {
  std::uint64_t download = 0;
  std::uint64_t upload = 0;
  bool operator==(const Rates&) const = default;
};

// The first window containing `minute_of_day` overrides the base rates it names.
Rates rates_at(Rates base, std::span<const RateWindow> windows, int minute_of_day);

}  // namespace weights::daemon
