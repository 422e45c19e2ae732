// Resume-file policy, the shutdown gate and the start-up queue, without a session.
#include "daemon/engine/resume_policy.hpp"

#include <catch2/catch.hpp>

using namespace weights::daemon;
using namespace std::chrono_literals;

namespace {

const SteadyClock::time_point t0 = SteadyClock::time_point(std::chrono::hours(1));

ResumeStatus downloading(int pieces) {
  ResumeStatus st;
  st.known = true;
  st.downloading = true;
  st.num_pieces = pieces;
  return st;
}

}  // namespace

TEST_CASE("no resume file is written while a check runs or before the first status", "[resume]") {
  ResumeRecord r;
  resume_added(r, 10);
  CHECK_FALSE(resume_save_allowed(r, ResumeStatus{}, 50));  // no status since the add
  auto st = downloading(50);
  CHECK(resume_save_allowed(r, st, 50));
  st.checking = true;  // libtorrent checking files or resume data
  CHECK_FALSE(resume_save_allowed(r, st, 50));
  st.checking = false;
  resume_check_started(r);  // our force_recheck
  CHECK_FALSE(resume_save_allowed(r, st, 50));
  CHECK(resume_checked(r));
  CHECK_FALSE(resume_checked(r));  // a check libtorrent ran by itself
  CHECK(resume_save_allowed(r, st, 50));
}

TEST_CASE("a resume file never loses pieces, except to a finished check", "[resume]") {
  ResumeRecord r;
  resume_added(r, 100);  // loaded with 100 pieces on disk
  const auto st = downloading(100);
  CHECK_FALSE(resume_save_allowed(r, st, 99));
  CHECK(resume_save_allowed(r, st, 100));
  resume_written(r, 120, false);
  CHECK(r.floor == 120);
  CHECK_FALSE(resume_save_allowed(r, st, 110));
  resume_written(r, 90, false);  // the floor never goes down
  CHECK(r.floor == 120);
  // A check's result stands even below the floor.
  resume_check_started(r);
  resume_checked(r);
  CHECK(resume_save_allowed(r, st, 3));
}

TEST_CASE("progress saves: every 2 s while pieces arrive, not while checking or idle", "[resume]") {
  ResumeRecord r;
  resume_added(r, 10);
  CHECK_FALSE(progress_save_due(r, downloading(10), t0));  // nothing new
  CHECK(progress_save_due(r, downloading(11), t0));
  resume_save_requested(r, downloading(11), t0);
  CHECK(r.save_requested_pieces == 11);
  CHECK_FALSE(progress_save_due(r, downloading(20), t0 + 1s));  // too soon
  CHECK(progress_save_due(r, downloading(20), t0 + 2s));
  CHECK_FALSE(progress_save_due(r, downloading(11), t0 + 10s));  // no new piece
  auto seeding = downloading(30);
  seeding.downloading = false;
  CHECK_FALSE(progress_save_due(r, seeding, t0 + 10s));
  resume_check_started(r);
  CHECK_FALSE(progress_save_due(r, downloading(30), t0 + 10s));
}

TEST_CASE("a complete resume file is kept while nothing moved", "[resume]") {
  ResumeRecord r;
  ResumeStatus idle;
  idle.known = true;
  CHECK_FALSE(resume_unchanged(r, idle, true));  // the file does not say complete
  resume_written(r, 64, true);
  CHECK(r.current);
  CHECK(resume_unchanged(r, idle, true));
  CHECK(resume_unchanged(r, ResumeStatus{}, true));  // no status yet: nothing moved
  CHECK_FALSE(resume_unchanged(r, idle, false));     // the release is not complete (now)
  auto moved = idle;
  moved.payload_moved = true;
  CHECK_FALSE(resume_unchanged(r, moved, true));
}

TEST_CASE("the shutdown waits for the final status update, then for every save",
          "[resume][shutdown]") {
  ShutdownGate g;
  g.update_requested();  // a periodic one, still unanswered
  CHECK_FALSE(g.shutting_down());
  g.begin();
  g.update_requested();  // the shutdown's
  CHECK(g.shutting_down());
  CHECK_FALSE(g.update_answered());  // the periodic one
  CHECK(g.update_answered());        // the final one: save now
  CHECK_FALSE(g.update_answered());  // only once
  CHECK_FALSE(g.saves_requested(2));
  CHECK(g.saves_outstanding() == 2);
  CHECK_FALSE(g.save_answered());
  CHECK(g.save_answered());
  CHECK_FALSE(g.save_answered());  // an answer after the last one changes nothing
}

TEST_CASE("the shutdown does not wait for dropped status updates or for no saves",
          "[resume][shutdown]") {
  ShutdownGate g;
  CHECK_FALSE(g.updates_dropped());  // not shutting down: nothing to start
  g.begin();
  g.update_requested();
  g.update_requested();
  CHECK(g.updates_dropped());
  CHECK(g.saves_requested(0));
  // Saves answered outside a shutdown are not counted.
  ShutdownGate running;
  CHECK_FALSE(running.save_answered());
}

TEST_CASE("start-up loading hands out releases in batches and reports the last one loaded",
          "[resume][loading]") {
  LoadQueue q;
  CHECK(q.exhausted());
  CHECK(q.next_batch().empty());
  for (int i = 0; i < 130; ++i) q.push("r" + std::to_string(i));
  CHECK(q.loading() == 130);
  auto first = q.next_batch();
  REQUIRE(first.size() == LoadQueue::batch_size);
  CHECK(first.front() == "r0");
  CHECK_FALSE(q.exhausted());
  CHECK(q.next_batch().size() == LoadQueue::batch_size);
  auto last = q.next_batch();
  CHECK(last.size() == 2);
  CHECK(last.back() == "r129");
  CHECK(q.exhausted());
  for (int i = 0; i < 129; ++i) CHECK_FALSE(q.loaded());
  CHECK(q.loaded());
  CHECK(q.loading() == 0);
  CHECK_FALSE(q.loaded());  // never below zero
}
