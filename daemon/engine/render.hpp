#pragma once
// What the API and /metrics show: the release, feed and follow objects of docs/protocol.md and
// the Prometheus text, as pure functions of a Release (or a feed's stored facts) and the few
// things the engine decides about it (its state, whether a follow holds it). No session, no
// database, no clock of their own: the engine gathers, these render.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/api/types.hpp"
#include "core/db/state_store.hpp"
#include "core/util/time.hpp"
#include "daemon/engine/release.hpp"
#include "daemon/engine/release_registry.hpp"
#include "daemon/engine/release_state.hpp"
#include "daemon/engine/seed_executor.hpp"
#include "daemon/engine/verifier.hpp"
#include "daemon/policy.hpp"

namespace weights::daemon {

// What rendering a release reads besides the record itself.
struct ReleaseContext {
  ReleaseState state = ReleaseState::resolving;  // the engine's state of the release
  bool held = false;                             // a follow holds it (not evicted)
};

// The context of a release of the registry: its state now, whether one of `held` (the releases
// a follow holds).
ReleaseContext context_of(const Release& r, const std::set<std::string>& held);

// Complete, its torrent added and not paused.
bool is_seeding(const Release& r, ReleaseState state);

// The API's release object (docs/protocol.md "Releases"). Payload counters and rates are the
// hybrid's plus the v1 companion's.
api::Release render_release(const Release& r, const ReleaseContext& ctx);

// The API's hub_status object (docs/protocol.md "Upstream status") of a release's HubStatus.
api::HubStatusInfo render_hub_status(const HubStatus& h);

// The API's follow object (docs/protocol.md "Follows").
api::Follow render_follow(const FollowView& v);

// What the state database and the poller know about a feed.
struct FeedFacts {
  std::optional<RefreshLogEntry> last_success;
  std::optional<RefreshLogEntry> last_refusal;
  std::size_t releases = 0;  // release targets in its trusted targets
  api::FeedRefresh refresh;  // the poller's status
};

// The API's feed object (docs/protocol.md "Feeds"); `feed` as loaded with FeedDetail::summary,
// staleness at `now`.
api::Feed render_feed(const FeedState& feed, const FeedFacts& facts, TimePoint now);

// One release's samples in /metrics. Payload counters and peers are the hybrid's only.
struct ReleaseMetrics {
  std::string id;
  std::uint64_t size_bytes = 0;      // wanted files
  std::uint64_t verified_bytes = 0;  // verified files
  std::int64_t downloaded_bytes = 0;
  std::int64_t uploaded_bytes = 0;
  std::int64_t from_peers = 0;      // this session, SourceCounters
  std::int64_t from_web_seeds = 0;  // this session, SourceCounters
  int peers = 0;
  bool seeding = false;
  bool pinned = false;
  bool held = false;
  ReleaseState state = ReleaseState::resolving;
  std::string hub_state;            // serving, refused, unreachable; empty: never asked
  unsigned hub_refused_status = 0;  // the hub's last answer refused with this status
};
ReleaseMetrics release_metrics(const Release& r, const ReleaseContext& ctx);
// Every release of the registry, in id order.
std::vector<ReleaseMetrics> release_metrics(const ReleaseRegistry& registry,
                                            const std::set<std::string>& held);

// The hybrid torrents' payload rates (bytes/s) summed over the registry (the daemon's status).
struct PayloadRates {
  std::int64_t download = 0;
  std::int64_t upload = 0;
};
PayloadRates payload_rates(const ReleaseRegistry& registry);

// Everything /metrics shows, gathered by the engine at scrape time.
struct MetricsSnapshot {
  std::vector<ReleaseMetrics> releases;  // in id order
  std::vector<api::Feed> feeds;          // those that rendered
  std::uint64_t disk_reserved = 0;
  std::uint64_t disk_budget = 0;  // max_disk, 0 = none
  std::optional<std::uint64_t> disk_free;
  RoomTotals room;    // the disk budget's (SeedExecutor)
  ScrubTotals scrub;  // the scrub's (ReleaseChecks)
  Rates rates;        // limits in force now
  std::size_t follows = 0;
};

// Prometheus text exposition format 0.0.4 (HELP and TYPE before each family's samples).
std::string render_metrics(const MetricsSnapshot& s);

}  // namespace weights::daemon
