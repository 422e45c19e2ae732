// The v1 companion rule without a session: when the standby companion starts downloading,
// when a fetch joins its swarm, and what ends its download.
#include "daemon/engine/v1_companion.hpp"

#include <catch2/catch.hpp>

using namespace weights::daemon;
using namespace std::chrono_literals;

namespace {

const SteadyTime t0 = SteadyTime(std::chrono::hours(1));

HybridSample downloading(std::int64_t done) {
  HybridSample h;
  h.downloading = true;
  h.total_wanted_done = done;
  return h;
}

CompanionSample standby(int list_peers) {
  return CompanionSample{CompanionMode::standby, list_peers};
}

// The watch after a first update at t0 with `done` bytes.
V1Watch started(std::int64_t done = 0) {
  return v1_watch(V1Watch{}, downloading(done), standby(0), t0).watch;
}

}  // namespace

TEST_CASE("a hybrid without peers that stalls hands over to a companion with peers after 3 s",
          "[v1]") {
  const auto w = started();
  CHECK(v1_watch(w, downloading(0), standby(2), t0 + 2s).action == V1Action::wait);
  CHECK(v1_watch(w, downloading(0), standby(2), t0 + 3s).action == V1Action::activate);
  // No peer known to the companion: nothing to download from, keep waiting.
  CHECK(v1_watch(w, downloading(0), standby(0), t0 + 60s).action == V1Action::wait);
}

TEST_CASE("progress in the hybrid restarts the stall clock", "[v1]") {
  auto w = started(0);
  auto step = v1_watch(w, downloading(100), standby(2), t0 + 2s);
  CHECK(step.action == V1Action::wait);
  CHECK(step.watch.last_wanted_done == 100);
  CHECK(step.watch.last_progress == t0 + 2s);
  CHECK(v1_watch(step.watch, downloading(100), standby(2), t0 + 4s).action == V1Action::wait);
  CHECK(v1_watch(step.watch, downloading(100), standby(2), t0 + 5s).action == V1Action::activate);
}

TEST_CASE("a hybrid with a connected peer waits 30 s before the companion downloads", "[v1]") {
  const auto w = started();
  auto h = downloading(0);
  h.num_peers = 1;
  h.list_peers = 1;
  CHECK(v1_watch(w, h, standby(3), t0 + 29s).action == V1Action::wait);
  CHECK(v1_watch(w, h, standby(3), t0 + 30s).action == V1Action::activate);
}

TEST_CASE("a swarm that worked waits long unless the companion knows more peers", "[v1]") {
  auto w = started();
  auto h = downloading(0);
  h.num_seeds = 1;  // a seed seen this session, then its connection dropped
  h.list_peers = 2;
  w = v1_watch(w, h, standby(0), t0).watch;
  CHECK(w.hybrid_saw_seed);
  h.num_seeds = 0;
  h.num_peers = 0;
  // The companion knows the same peers: a restarting seeder, not a v1-only swarm.
  CHECK(v1_watch(w, h, standby(2), t0 + 10s).action == V1Action::wait);
  CHECK(v1_watch(w, h, standby(2), t0 + 30s).action == V1Action::activate);
  // It knows more peers than the hybrid: v1-only clients, the short stall applies.
  CHECK(v1_watch(w, h, standby(3), t0 + 3s).action == V1Action::activate);
  // Payload received this session counts like a seed seen.
  V1Watch fresh = started();
  auto paid = downloading(0);
  paid.total_payload_download = 1;
  paid.list_peers = 2;
  CHECK(v1_watch(fresh, paid, standby(2), t0 + 10s).action == V1Action::wait);
}

TEST_CASE("only a standby companion of a downloading hybrid is activated", "[v1]") {
  const auto w = started();
  for (auto mode : {CompanionMode::none, CompanionMode::seeding, CompanionMode::active}) {
    CHECK(v1_watch(w, downloading(0), CompanionSample{mode, 5}, t0 + 60s).action == V1Action::wait);
  }
  auto checking = downloading(0);
  checking.downloading = false;  // checking files, or finished
  CHECK(v1_watch(w, checking, standby(5), t0 + 60s).action == V1Action::wait);
  // The watch still follows progress and seeds while nothing is activated.
  auto seen = checking;
  seen.list_seeds = 1;
  seen.total_wanted_done = 7;
  const auto step = v1_watch(w, seen, CompanionSample{}, t0 + 1s);
  CHECK(step.watch.hybrid_saw_seed);
  CHECK(step.watch.last_wanted_done == 7);
}

TEST_CASE("a fetch with unverified wanted files joins the companion swarm; a seed does not",
          "[v1]") {
  CHECK(v1_download_wanted(ReleaseOrigin::fetched, false));
  CHECK_FALSE(v1_download_wanted(ReleaseOrigin::fetched, true));
  CHECK_FALSE(v1_download_wanted(ReleaseOrigin::seeded, false));
  CHECK(v1_seed_allowed(true));
  CHECK_FALSE(v1_seed_allowed(false));
}

TEST_CASE("the end of a companion download depends on whether it downloaded and the selection",
          "[v1]") {
  CHECK(v1_finish_plan(CompanionMode::none, true).action == V1Finish::none);
  CHECK(v1_finish_plan(CompanionMode::seeding, true).action == V1Finish::none);
  const auto stood_by = v1_finish_plan(CompanionMode::standby, true);
  CHECK(stood_by.action == V1Finish::drop_standby);
  CHECK_FALSE(stood_by.staging_pass);
  CHECK_FALSE(stood_by.keep_hybrid_counters);
  const auto whole = v1_finish_plan(CompanionMode::active, true);
  CHECK(whole.action == V1Finish::readd_as_seed);
  CHECK(whole.staging_pass);
  CHECK(whole.keep_hybrid_counters);
  const auto part = v1_finish_plan(CompanionMode::active, false);
  CHECK(part.action == V1Finish::recheck_hybrid);
  CHECK(part.staging_pass);
}
