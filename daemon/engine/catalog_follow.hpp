#pragma once
// Following the model catalog (`weightsctl follow catalog`, docs/operator-guide.md "Keep the
// catalog alive"): a seed node mirrors the commit-pinned releases of the catalog it loaded
// (upstream_names.hpp: shipped, system and user layers, then [catalog] dirs) within its disk
// budget, like a feed's follows. Which entries a follow selects is policy.hpp's plan_follows over
// the candidates below; this unit carries the plan out:
//
// - each selected release is fetched the way `weightsctl fetch ID` would fetch that catalog
//   entry (pinned_fetch.hpp, started through CatalogHost::fetch_pinned), at most
//   `max_in_flight` at a time (fetches a person started count too), in the plan's order;
// - a fetch that failed is tried again after `first_retry`, doubled after each further failure
//   up to `max_retry`, so a hub that is down is not asked in a loop; a release that completes
//   forgets its failures;
// - a licence is never accepted silently: an entry whose terms need an acceptance
//   (license_gate.hpp) that was not recorded before is fetched only by a follow made with
//   --accept-license (the fetch then records it, as `fetch --accept-license` does); otherwise it
//   is listed as refused, "licence X not accepted", and nothing is started.
//
// Runs on the io thread; the engine is reached only through CatalogHost.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/catalog/catalog.hpp"
#include "core/util/error.hpp"
#include "core/util/time.hpp"
#include "daemon/engine.hpp"
#include "daemon/engine/pinned_fetch.hpp"
#include "daemon/engine/release_registry.hpp"
#include "daemon/policy.hpp"
#include "daemon/release_db.hpp"

namespace weights::daemon {

// A catalog entry as a follow candidate, with what `weightsctl fetch ID` would fetch for it.
struct CatalogCandidate {
  FollowCandidate follow;
  PinTarget target;
};

// The huggingface entries of `catalog` as candidates: model = the entry's repository, revision =
// its commit, aliases = every alias of the entry (lowercase), size = the sum of its files' sizes
// when the entry lists every file with a size (files_complete), else not known. Newer means
// defined later: in a later layer, a later file of a layer (name order), further down a file
// (the catalog has no dates; release_seq encodes that order). Two entries pinning the same commit
// of the same repository are one candidate (the later one's target, both entries' aliases).
std::vector<CatalogCandidate> catalog_candidates(const catalog::Catalog& catalog);

// A release a catalog follow selected, as this node has it.
enum class MirrorState { absent, fetching, complete, failed };
struct MirrorStatus {
  MirrorState state = MirrorState::absent;
  std::string error;  // failed: why
};

struct MirrorSettings {
  std::size_t max_in_flight = 2;
  std::chrono::seconds first_retry{30};
  std::chrono::seconds max_retry{3600};
};

// The wait before trying a release again after its `failures`-th failure (>= 1).
std::chrono::seconds retry_delay(const MirrorSettings& settings, unsigned failures);

// What the catalog follows need of the engine.
class CatalogHost {
 public:
  virtual ~CatalogHost() = default;
  virtual const catalog::Catalog& catalog() = 0;
  // Reads the catalog files again (new entries since start).
  virtual void reload_catalog() = 0;
  virtual MirrorStatus mirror_status(const std::string& release_id) = 0;
  // Whether the user accepted `license` (a licence id) for the upstream repository before.
  virtual Result<bool> license_accepted(const std::string& repo, const std::string& license) = 0;
  // Starts the pinned fetch of `target` (PinnedFetch::fetch). Errors: its own.
  virtual Status fetch_pinned(const PinTarget& target, const FetchRequest& request) = 0;
  virtual TimePoint now() = 0;
};

// What the catalog follows did, per follow.
struct CatalogFollowOutcome {
  std::vector<std::string> mirroring;  // fetching, complete, or waiting for a fetch slot
  std::vector<std::pair<std::string, std::string>> skipped;  // id, reason (--max-size)
  std::vector<std::pair<std::string, std::string>> refused;  // id, reason (licence, failure)
};
struct CatalogOutcome {
  std::set<std::string> held;  // within a catalog follow's `latest` (policy.hpp FollowPlan)
  std::map<std::int64_t, CatalogFollowOutcome> follows;
};

class UpstreamNames;

// The engine's host: the catalog of `names`, releases in `registry`, fetches by `pinned`,
// acceptances in the ReleaseDb `db` returns (the engine opens its database after building its
// components).
class EngineCatalogHost final : public CatalogHost {
 public:
  EngineCatalogHost(UpstreamNames& names, ReleaseRegistry& registry, PinnedFetch& pinned,
                    std::function<ReleaseDb&()> db, std::function<TimePoint()> clock)
      : names_(names),
        registry_(registry),
        pinned_(pinned),
        db_(std::move(db)),
        clock_(std::move(clock)) {}
  const catalog::Catalog& catalog() override;
  void reload_catalog() override;
  MirrorStatus mirror_status(const std::string& release_id) override;
  Result<bool> license_accepted(const std::string& repo, const std::string& license) override;
  Status fetch_pinned(const PinTarget& target, const FetchRequest& request) override;
  TimePoint now() override { return clock_(); }

 private:
  UpstreamNames& names_;
  ReleaseRegistry& registry_;
  PinnedFetch& pinned_;
  std::function<ReleaseDb&()> db_;
  std::function<TimePoint()> clock_;
};

class CatalogFollower {
 public:
  explicit CatalogFollower(CatalogHost& host, MirrorSettings settings = {})
      : host_(host), settings_(settings) {}

  // Applies the catalog follows among `follows` (the others are ignored): plans, starts what is
  // due within the bound, reports. Cheap when nothing is due (no I/O but the host's look-ups).
  CatalogOutcome apply(std::span<const Follow> follows);

 private:
  struct Retry {
    unsigned failures = 0;
    TimePoint next{};
    std::string error;
  };
  void failed(const std::string& id, const std::string& error, TimePoint now);

  CatalogHost& host_;
  MirrorSettings settings_;
  std::map<std::string, Retry> retries_;     // releases whose last fetch failed
  std::set<std::string> started_;            // started by a catalog follow, outcome not seen yet
  std::map<std::string, std::string> said_;  // the refusal last logged per release (no repeats)
};

}  // namespace weights::daemon
