#pragma once
// The v1 companion rule, as pure functions over plain data.
//
// A fetch also joins the swarm of the release's v1-only companion torrent, in upload mode
// (announces, connects, requests nothing): v1-only clients (Transmission 3, aria2 1.36) cannot
// read the hybrid and form their own swarm there. The companion starts requesting pieces only
// when the hybrid makes no progress and the companion knows peers (v1_watch), so a normal swarm
// is not downloaded twice. Once every wanted file is verified the companion download ends
// (v1_finish_plan); a complete release with every file wanted seeds the companion as well.
#include <chrono>
#include <cstdint>

namespace weights::daemon {

using SteadyTime = std::chrono::steady_clock::time_point;

// How long the hybrid may make no progress before the companion starts downloading: short
// when the hybrid has no peer connected (a v1-only swarm cannot join it), longer when it has
// one (a seed about to unchoke us, or a BEP 16 super-seeding origin that looks like a peer with
// few pieces, is not worth downloading everything twice; one that never sends must not block
// us). A hybrid that has received payload or seen a seed this session has a working swarm:
// when its peers drop (a seeder restarting) the companion's swarm is the same peers, so it
// waits as if the hybrid had peers, unless the companion knows more peers (v1-only clients).
constexpr auto v1_stall = std::chrono::seconds(3);
constexpr auto v1_stall_with_peers = std::chrono::seconds(30);

// What the rule remembers between status updates (per release, this session).
struct V1Watch {
  std::int64_t last_wanted_done = -1;  // the hybrid's total_wanted_done at last_progress
  SteadyTime last_progress{};
  bool hybrid_saw_seed = false;
};

// The hybrid's latest status, as far as the rule needs it.
struct HybridSample {
  bool downloading = false;  // libtorrent state `downloading` (not checking, not finished)
  std::int64_t total_wanted_done = 0;
  std::int64_t total_payload_download = 0;  // this session
  int num_peers = 0;
  int num_seeds = 0;
  int list_peers = 0;
  int list_seeds = 0;
};

// The companion, as far as the rule needs it.
enum class CompanionMode {
  none,     // not added (or its status not known yet)
  seeding,  // complete release: seeds v1-only peers
  standby,  // a download source in upload mode
  active,   // a download source requesting pieces
};
struct CompanionSample {
  CompanionMode mode = CompanionMode::none;
  int list_peers = 0;  // peers it knows of (tracker, connections so far)
};

enum class V1Action { wait, activate };

struct V1Step {
  V1Watch watch;
  V1Action action = V1Action::wait;
};

// One status update of a release being fetched: the updated watch, and whether the companion
// leaves upload mode now.
V1Step v1_watch(const V1Watch& watch, const HybridSample& hybrid, const CompanionSample& companion,
                SteadyTime now);

// Whether a release being added or widened also joins the companion's swarm as a download
// source: a fetch (not a published release) with wanted files still unverified.
enum class ReleaseOrigin { fetched, seeded };
bool v1_download_wanted(ReleaseOrigin origin, bool all_wanted_verified);

// Whether a complete release seeds the companion: only the whole release can be seeded.
bool v1_seed_allowed(bool everything_wanted);

// Every wanted file is verified while the companion was a download source. The hybrid's
// bitfield lacks what the companion fetched and vice versa.
enum class V1Finish {
  none,            // the companion was not a download source
  drop_standby,    // it stood by: remove it; the hybrid fetched everything and seeds as it is
  recheck_hybrid,  // partial selection: remove it, restore the hybrid's priorities, re-check
  readd_as_seed,   // whole release: remove both, re-add the hybrid in seed mode
};
struct V1FinishPlan {
  V1Finish action = V1Finish::none;
  // Keep the sources' payload counters across the removal (the hybrid's only when it is
  // removed or its status reset, i.e. when the companion was active).
  bool keep_hybrid_counters = false;
  // Both torrents wrote into the same files: hash every verified file once more (from
  // staging) before the release is complete.
  bool staging_pass = false;
};
V1FinishPlan v1_finish_plan(CompanionMode mode, bool everything_wanted);

}  // namespace weights::daemon
