#pragma once
// The upstream watch: whether the hub still serves the commit of each held release that has an
// upstream (origin upstream, or a feed manifest naming a huggingface repository and a 40-hex
// revision). Every `interval` it asks the hub's API for the commit
// (GET {endpoint}/api/models/{repo}/revision/{commit}) and records the answer on the release and
// in the state database: `serving` (2xx), `refused` with the status (401, 403, 404, 410, 451) and
// the hub's X-Error-Code, or no answer at all (`unreachable`: the network, 429, 5xx), which is
// not the hub's word on the commit and leaves its last answer in force. A refusal a fetch from
// the hub met is recorded the same way (record()).
//
// Why the API's revision call and not a HEAD of a resolve URL: it asks about the commit itself
// (a rewritten or deleted commit answers RevisionNotFound; a missing file cannot be mistaken for
// it), it needs no file of the release, and it is answered by the hub's own origin: a resolve
// URL of an LFS file redirects to a CDN, whose refusal of a signed URL is not the hub's answer.
// What it does not see: a repository gated after the release was fetched (the API describes a
// gated repository to anyone); a fetch that meets the gate records that refusal.
//
// A release whose upstream refused it gets seeding priority (SeedPriority::high on its
// torrents, re-applied whenever a torrent is added again) and is evicted only after every
// release the hub still serves (policy.hpp plan_eviction).
//
// Checks are spread out: one is started per tick (the engine's 2 s policy tick), the oldest
// due first, and no new one while `max_in_flight` are under way. The ask runs on the upstream
// transfer thread (UpstreamWatchHost::on_transfer), never on the io thread; this class runs on
// the io thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/net/hf_hub.hpp"
#include "core/util/error.hpp"
#include "daemon/engine/release.hpp"
#include "daemon/engine/release_registry.hpp"
#include "daemon/engine/torrent_backend.hpp"
#include "daemon/engine/work_pool.hpp"
#include "daemon/release_db.hpp"

namespace weights::daemon {

// What one question to the hub came to.
struct HubCheck {
  enum class Outcome { serving, refused, unreachable };
  Outcome outcome = Outcome::unreachable;
  unsigned http_status = 0;  // refused: the status; unreachable: the status if there was one
  std::string error_code;    // refused: the hub's X-Error-Code (may be empty)
  std::string error;         // unreachable: what failed
};

// Whether `status` is one by which a hub refuses a commit (401, 403, 404, 410, 451).
bool is_refusal_status(unsigned status);

// The check a failed hub call means: `refusal` and its status and code from hf::Hub (absent:
// no answer came, e.g. a network error). A refusal status from the download server a resolve
// redirect led to (signed_url_refused), 429 and 5xx are no answer about the commit.
HubCheck check_of_failure(const Error& e, std::optional<hf::HubRefusal> refusal, unsigned status,
                          const std::string& error_code);

// The status after `check` at `now` (ticks), from `before` (nullopt: never asked). A refusal
// with another status starts a new run (answer_since = now); an unreachable check keeps the
// last answer and sets unreachable_since at its first one.
HubStatus record_check(const std::optional<HubStatus>& before, const HubCheck& check,
                       std::int64_t now);

// Whether the hub's last answer refused the commit (an unreachable check since changes nothing).
bool upstream_refused(const std::optional<HubStatus>& s);

// "refused", "serving", "unreachable" (the last check's outcome), or "" when never asked.
std::string hub_state_name(const HubStatus& s);

// The upstream commit a release's hub is asked about.
struct UpstreamPin {
  std::string repo;    // org/name
  std::string commit;  // 40 lowercase hex
  friend bool operator==(const UpstreamPin&, const UpstreamPin&) = default;
};
// The release's pin if it has a huggingface upstream and a 40-hex revision and is held (its
// manifest known: not an upstream fetch still pinning or downloading); nullopt otherwise.
std::optional<UpstreamPin> watched_pin(const Release& r);

// One release the schedule looks at.
struct WatchCandidate {
  std::string id;
  std::int64_t last_checked = 0;  // ticks; 0: never
};
// The releases due for a check at `now`: never checked, or last checked `interval` ago or more;
// oldest first (ties by id), at most `max`.
std::vector<std::string> due_checks(std::span<const WatchCandidate> candidates, std::int64_t now,
                                    std::chrono::seconds interval, std::size_t max);

// Asks the hub about a commit (the seam tests replace). Called on the transfer thread.
class UpstreamHub {
 public:
  virtual ~UpstreamHub() = default;
  virtual HubCheck ask(const UpstreamPin& pin) = 0;
};

// The real one: the API's revision call over hf::Hub (endpoint, token and proxies as upstream
// fetches use them).
std::shared_ptr<UpstreamHub> make_upstream_hub(hf::HubOptions options);

// What the watch needs of the engine.
class UpstreamWatchHost {
 public:
  virtual ~UpstreamWatchHost() = default;
  // Runs `work` on the upstream transfer thread and `then` with its outcome on the io thread.
  virtual void on_transfer(std::function<HubCheck()> work, std::function<void(HubCheck)> then) = 0;
  virtual std::int64_t now_ticks() = 0;
  // Writes a release's status to the state database (a failure is logged there).
  virtual void persist(const std::string& id, const HubStatus& s) = 0;
  virtual void seed_priority(TorrentId t, SeedPriority p) = 0;
};

// The engine's host: checks on `transfers` (the upstream transfer thread), statuses to `db`,
// priorities to `torrents`.
class EngineWatchHost final : public UpstreamWatchHost {
 public:
  EngineWatchHost(WorkPool& transfers, TorrentBackend& torrents, ReleaseDb& db,
                  std::function<std::int64_t()> now)
      : transfers_(transfers), torrents_(torrents), db_(db), now_(std::move(now)) {}
  void on_transfer(std::function<HubCheck()> work, std::function<void(HubCheck)> then) override;
  std::int64_t now_ticks() override { return now_(); }
  void persist(const std::string& id, const HubStatus& s) override;
  void seed_priority(TorrentId t, SeedPriority p) override { torrents_.seed_priority(t, p); }

 private:
  WorkPool& transfers_;
  TorrentBackend& torrents_;
  ReleaseDb& db_;
  std::function<std::int64_t()> now_;
};

struct WatchSettings {
  std::chrono::seconds interval{24 * 3600};  // 0: no checks (fetch refusals still recorded)
  std::size_t max_in_flight = 1;
};

class UpstreamWatch {
 public:
  UpstreamWatch(ReleaseRegistry& registry, UpstreamWatchHost& host,
                std::shared_ptr<UpstreamHub> hub, WatchSettings settings);

  // Statuses read from the state database at start-up: attached to their releases now and to
  // releases taken in later (a fetch of the same id).
  void restore(std::vector<std::pair<std::string, HubStatus>> statuses);
  // Records what the hub answered for release `id` (a check, or a fetch that met a refusal).
  void record(const std::string& id, const HubCheck& check);
  // One step: seeding priorities brought in line, and a due check started if there is room.
  void tick();

  std::size_t in_flight() const { return in_flight_; }

 private:
  void apply_priority(Release& r);

  ReleaseRegistry& registry_;
  UpstreamWatchHost& host_;
  std::shared_ptr<UpstreamHub> hub_;
  WatchSettings settings_;
  std::map<std::string, HubStatus> restored_;  // by id, for releases not (yet) in the registry
  std::set<std::string> asked_;                // releases with a check in flight
  std::size_t in_flight_ = 0;
};

}  // namespace weights::daemon
