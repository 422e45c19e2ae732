#include "daemon/engine/v1_companion.hpp"

namespace weights::daemon {

V1Step v1_watch(const V1Watch& watch, const HybridSample& hybrid, const CompanionSample& companion,
                SteadyTime now) {
  V1Step out{watch, V1Action::wait};
  auto& w = out.watch;
  if (hybrid.total_wanted_done > w.last_wanted_done) {
    w.last_wanted_done = hybrid.total_wanted_done;
    w.last_progress = now;
  }
  // A seed seen in the hybrid's swarm speaks the hybrid: v1-only clients never complete its
  // handshake, whether a tracker or --peer names them.
  if (hybrid.num_seeds > 0 || hybrid.list_seeds > 0) w.hybrid_saw_seed = true;
  if (companion.mode != CompanionMode::standby) return out;
  // In upload mode libtorrent drops connections to seeds ("upload to upload"), so the peers
  // the companion knows of count, not the connected ones.
  if (!hybrid.downloading || companion.list_peers == 0) return out;
  const bool swarm_worked = (hybrid.total_payload_download > 0 || w.hybrid_saw_seed) &&
                            companion.list_peers <= hybrid.list_peers;
  const bool wait_long = hybrid.num_peers > 0 || swarm_worked;
  if (now - w.last_progress < (wait_long ? v1_stall_with_peers : v1_stall)) return out;
  out.action = V1Action::activate;
  return out;
}

bool v1_download_wanted(ReleaseOrigin origin, bool all_wanted_verified) {
  return origin == ReleaseOrigin::fetched && !all_wanted_verified;
}

bool v1_seed_allowed(bool everything_wanted) {
  return everything_wanted;
}

V1FinishPlan v1_finish_plan(CompanionMode mode, bool everything_wanted) {
  switch (mode) {
    case CompanionMode::none:
    case CompanionMode::seeding:
      return {};
    case CompanionMode::standby:
      return {V1Finish::drop_standby, false, false};
    case CompanionMode::active:
      return {everything_wanted ? V1Finish::readd_as_seed : V1Finish::recheck_hybrid, true, true};
  }
  return {};
}

}  // namespace weights::daemon
