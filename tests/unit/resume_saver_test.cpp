// The resume saver alone: releases are plain Release records, the session is FakeBackend, and
// the engine behind ResumeHost is a map of hybrid torrents. Answers to save_resume are events
// the test makes by hand; the shutdown's "done" is a flag.
#include "daemon/engine/resume_saver.hpp"

#include <map>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "core/util/atomic_file.hpp"
#include "support/fake_backend.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::daemon;
using weights::testing::FakeBackend;
using weights::testing::TempDir;

namespace {

struct FakeHost final : ResumeHost {
  FakeBackend torrents;
  std::map<TorrentId, Release*> hybrids;  // by torrent
  std::set<const Release*> complete_ones;
  std::filesystem::path dir;

  TorrentBackend& backend() override { return torrents; }
  Release* hybrid_release(TorrentId t) override {
    const auto it = hybrids.find(t);
    return it == hybrids.end() ? nullptr : it->second;
  }
  std::vector<std::pair<TorrentId, const Release*>> hybrid_torrents() override {
    std::vector<std::pair<TorrentId, const Release*>> out;
    for (const auto& [t, r] : hybrids) out.emplace_back(t, r);
    return out;
  }
  bool complete(const Release& r) override { return complete_ones.count(&r) > 0; }
  std::filesystem::path resume_file(const Release& r) override {
    return dir / (std::to_string(r.handle) + ".resume");
  }
};

TorrentStatus status_of(TorrentPhase phase, int pieces, std::int64_t down = 0) {
  TorrentStatus st;
  st.state = phase;
  st.num_pieces = pieces;
  st.total_payload_download = down;
  return st;
}

// A release whose hybrid torrent `t` is in the session and has answered a status.
std::unique_ptr<Release> release(FakeHost& host, TorrentId t, TorrentStatus st) {
  auto r = std::make_unique<Release>();
  r->rec.id = "org/m@" + std::to_string(t);
  r->handle = t;
  r->status = st;
  resume_added(r->resume, st.num_pieces);
  host.hybrids[t] = r.get();
  return r;
}

// A complete release whose resume file already says so, no payload moved: unchanged.
std::unique_ptr<Release> unchanged_release(FakeHost& host, TorrentId t) {
  auto r = release(host, t, status_of(TorrentPhase::seeding, 10));
  r->resume.current = true;
  host.complete_ones.insert(r.get());
  return r;
}

ResumeSaved saved(TorrentId t, int pieces, bool all = false) {
  ResumeSaved e;
  e.torrent = t;
  e.have_pieces = pieces;
  e.all_pieces = all;
  e.encode = [pieces](std::int64_t down, std::int64_t up) {
    return "pieces " + std::to_string(pieces) + " down " + std::to_string(down) + " up " +
           std::to_string(up);
  };
  return e;
}

std::size_t count(const std::vector<std::string>& calls, const std::string& what) {
  return static_cast<std::size_t>(std::count(calls.begin(), calls.end(), what));
}

}  // namespace

TEST_CASE("shutdown saves only the torrents that changed, then waits for every answer",
          "[resume]") {
  boost::asio::io_context io;
  TempDir tmp;
  FakeHost host;
  host.dir = tmp.path();
  ResumeSaver saver(io, host);
  auto done_a = unchanged_release(host, 1);
  auto moved = release(host, 2, status_of(TorrentPhase::downloading, 5, 4096));
  auto done_b = unchanged_release(host, 3);
  auto partial = release(host, 4, status_of(TorrentPhase::downloading, 2));

  bool done = false;
  REQUIRE(saver.begin_shutdown([&] { done = true; }));
  CHECK(saver.gate().shutting_down());
  CHECK_FALSE(saver.begin_shutdown([] { FAIL("a second shutdown's done must not run"); }));
  saver.request_updates();
  CHECK(host.torrents.take() == std::vector<std::string>{"post_updates"});

  // Nothing is saved before the shutdown's status update is answered (its payload counters).
  saver.updates_answered();
  const auto calls = host.torrents.take();
  CHECK(calls == std::vector<std::string>{"save_resume 2 1", "save_resume 4 1"});  // flushed
  CHECK(saver.gate().saves_outstanding() == 2);

  saver.on_saved(saved(2, 5));
  CHECK_FALSE(done);
  saver.on_saved(saved(4, 2));
  CHECK(done);
  // Written atomically with at least this session's counters.
  auto written = read_file(tmp.path() / "2.resume", 1024);
  REQUIRE(written);
  CHECK(*written == "pieces 5 down 4096 up 0");
}

TEST_CASE("a failed save counts as an answer: it does not wedge the shutdown", "[resume]") {
  boost::asio::io_context io;
  TempDir tmp;
  FakeHost host;
  host.dir = tmp.path();
  ResumeSaver saver(io, host);
  auto a = release(host, 1, status_of(TorrentPhase::downloading, 3));
  auto b = release(host, 2, status_of(TorrentPhase::downloading, 3));
  bool done = false;
  saver.begin_shutdown([&] { done = true; });
  saver.request_updates();
  saver.updates_answered();
  CHECK(saver.gate().saves_outstanding() == 2);
  saver.on_save_failed(ResumeSaveFailed{1, false, "disk I/O error"});
  CHECK_FALSE(done);
  saver.on_save_failed(ResumeSaveFailed{2, true, ""});  // not modified
  CHECK(done);
}

TEST_CASE("a save refused by the policy still answers the shutdown, and writes nothing",
          "[resume]") {
  boost::asio::io_context io;
  TempDir tmp;
  FakeHost host;
  host.dir = tmp.path();
  ResumeSaver saver(io, host);
  auto r = release(host, 1, status_of(TorrentPhase::downloading, 8));  // floor: 8 pieces
  bool done = false;
  saver.begin_shutdown([&] { done = true; });
  saver.request_updates();
  saver.updates_answered();
  saver.on_saved(saved(1, 7));  // fewer pieces than the file holds
  CHECK(done);
  CHECK_FALSE(std::filesystem::exists(tmp.path() / "1.resume"));
}

TEST_CASE("with nothing changed the shutdown is done on the next turn of the loop", "[resume]") {
  boost::asio::io_context io;
  FakeHost host;
  ResumeSaver saver(io, host);
  auto a = unchanged_release(host, 1);
  bool done = false;
  saver.begin_shutdown([&] { done = true; });
  saver.request_updates();
  saver.updates_answered();
  CHECK(host.torrents.take() == std::vector<std::string>{"post_updates"});
  CHECK_FALSE(done);  // not inside the handler that got there
  io.run();
  CHECK(done);
}

TEST_CASE("dropped status updates do not hold the shutdown and the deadline ends it", "[resume]") {
  boost::asio::io_context io;
  FakeHost host;
  ResumeSaver saver(io, host);
  auto a = release(host, 1, status_of(TorrentPhase::downloading, 3));
  int done = 0;
  saver.begin_shutdown([&] { ++done; });
  saver.request_updates();
  saver.updates_lost();  // the final update will not come: save now
  CHECK(count(host.torrents.take(), "save_resume 1 1") == 1);
  CHECK(done == 0);
  saver.deadline_passed();  // the save never answered
  CHECK(done == 1);
  saver.on_save_failed(ResumeSaveFailed{1, false, "late"});
  saver.deadline_passed();
  CHECK(done == 1);  // once
}

TEST_CASE("status updates before the shutdown's own do not start the saves", "[resume]") {
  boost::asio::io_context io;
  FakeHost host;
  ResumeSaver saver(io, host);
  auto a = release(host, 1, status_of(TorrentPhase::downloading, 3));
  saver.request_updates();  // the periodic one, in flight when the shutdown begins
  saver.begin_shutdown([] {});
  saver.request_updates();
  host.torrents.take();
  saver.updates_answered();
  CHECK(host.torrents.take().empty());
  saver.updates_answered();
  CHECK(host.torrents.take() == std::vector<std::string>{"save_resume 1 1"});
}

TEST_CASE("progress saves: once per interval, and only when pieces arrived", "[resume]") {
  boost::asio::io_context io;
  FakeHost host;
  auto now = SteadyClock::time_point(std::chrono::hours(1));
  ResumeSaver saver(io, host, [&] { return now; });
  auto r = release(host, 1, status_of(TorrentPhase::downloading, 4));

  saver.maybe_save_progress(*r);  // no new piece since the add
  CHECK(host.torrents.take().empty());
  r->status->num_pieces = 6;
  saver.maybe_save_progress(*r);
  CHECK(host.torrents.take() == std::vector<std::string>{"save_resume 1 0"});  // no flush

  // Requested: the next waits for the interval, even with more pieces.
  r->status->num_pieces = 9;
  now += progress_save_interval - std::chrono::milliseconds(1);
  saver.maybe_save_progress(*r);
  CHECK(host.torrents.take().empty());
  now += std::chrono::milliseconds(1);
  saver.maybe_save_progress(*r);
  CHECK(host.torrents.take() == std::vector<std::string>{"save_resume 1 0"});

  // Not while checking, nor once finished.
  now += progress_save_interval;
  r->status = status_of(TorrentPhase::checking_files, 12);
  saver.maybe_save_progress(*r);
  r->status = status_of(TorrentPhase::seeding, 12);
  saver.maybe_save_progress(*r);
  CHECK(host.torrents.take().empty());
}

TEST_CASE("the periodic save skips torrents whose file still says everything", "[resume]") {
  boost::asio::io_context io;
  FakeHost host;
  ResumeSaver saver(io, host);
  auto a = unchanged_release(host, 1);
  auto b = release(host, 2, status_of(TorrentPhase::downloading, 3));
  auto c = unchanged_release(host, 3);
  c->status->total_payload_upload = 1;  // uploaded this session: counters changed
  saver.save_changed();
  CHECK(host.torrents.take() == std::vector<std::string>{"save_resume 2 2", "save_resume 3 2"});
}

TEST_CASE("a written file that says complete makes the torrent unchanged", "[resume]") {
  boost::asio::io_context io;
  TempDir tmp;
  FakeHost host;
  host.dir = tmp.path();
  ResumeSaver saver(io, host);
  auto r = release(host, 1, status_of(TorrentPhase::seeding, 10));
  host.complete_ones.insert(r.get());
  CHECK_FALSE(saver.unchanged(*r));
  saver.on_saved(saved(1, 10, /*all=*/true));
  CHECK(r->resume.current);
  CHECK(saver.unchanged(*r));
  // A v1 companion's (or unknown) torrent's answer writes nothing.
  saver.on_saved(saved(99, 10, true));
  CHECK(std::distance(std::filesystem::directory_iterator(tmp.path()),
                      std::filesystem::directory_iterator()) == 1);
}
