// ReleaseTorrents over a fake TorrentBackend: what a release's hybrid and companion adds ask of
// the session, which TorrentId belongs to which release, async adds answered late, removal; the
// add path from the store's files (resume data, a stand-in disk scan on a real hashing pool).
#include "daemon/engine/release_torrents.hpp"

#include <atomic>
#include <fstream>

#include <boost/asio/executor_work_guard.hpp>
#include <catch2/catch.hpp>

#include "daemon/store.hpp"
#include "support/fake_backend.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::daemon;
using weights::testing::FakeBackend;
using weights::testing::TempDir;
using Strings = std::vector<std::string>;

namespace {

// Two files under "r1/" with a pad file between them (libtorrent indices 0, 2).
TorrentMeta hybrid_meta() {
  TorrentMeta t;
  t.files = 3;
  t.pieces = 4;
  t.has_v1 = true;
  t.layout = "L";
  t.file_index = {{"r1/a.bin", 0}, {"r1/b.bin", 2}};
  return t;
}

struct Fixture {
  TempDir dir;
  boost::asio::io_context io;
  WorkPool pool{io, 1};
  Store store{dir / "state"};
  FakeBackend backend;
  std::map<std::string, std::unique_ptr<Release>> releases;
  bool shutting_down = false;
  Strings failed;                                     // AddPath::failed: "<id>: <message>"
  std::atomic<int> scans{0};                          // disk scans run (on the pool)
  std::vector<bool> found{true, false, true, false};  // what a disk scan finds
  ReleaseTorrents rt;
  std::filesystem::path hybrid_file = store.torrent_file("v2");
  std::filesystem::path v1_file = store.torrent_v1_file("v2");
  std::filesystem::path save = store.staging_dir("v2");

  explicit Fixture(SuperSeeding super_seeding = SuperSeeding::off)
      : rt(
            backend,
            [this](const std::string& id) -> Release* {
              const auto it = releases.find(id);
              return it == releases.end() ? nullptr : it->second.get();
            },
            AddPath{store, pool, [this] { return shutting_down; }, super_seeding,
                    [this](Release& r, const Error& e) {
                      failed.push_back(r.rec.id + ": " + e.message);
                    },
                    DiskScanFns{[](const TorrentMeta&, const std::optional<ResumeData>&,
                                   const std::filesystem::path&,
                                   const std::filesystem::path&) { return DiskScan{}; },
                                [this](DiskScan&) { ++scans; },
                                [this](const DiskScan&) {
                                  return ResumeData{found, 0, 0, nullptr};
                                }}}) {
    REQUIRE(store.ensure_layout());
    backend.torrents[hybrid_file] = hybrid_meta();
    backend.torrents[v1_file] = hybrid_meta();
    std::ofstream(v1_file) << "d";
  }

  // Runs the io_context until one handler (a disk scan's result) ran, or 10 s passed.
  void run_one() {
    auto guard = boost::asio::make_work_guard(io);
    io.restart();
    io.run_one_for(std::chrono::seconds(10));
  }

  void write_resume(const std::string& bytes) {
    std::ofstream(store.resume_file("v2"), std::ios::binary) << bytes;
  }

  Release& release(const std::string& id = "org/m@r1", std::uint64_t generation = 1) {
    auto r = std::make_unique<Release>();
    r->rec.id = id;
    r->rec.revision = "r1";
    r->rec.v2_infohash = "v2";
    r->rec.peers = {"127.0.0.2:6881", "not a peer"};
    r->generation = generation;
    r->manifest.files = {ReleaseFile{"a.bin", 10, "", "", {}},
                         ReleaseFile{"b.bin", 20, "", "", {}}};
    r->manifest.torrent.trackers = {"http://127.0.0.1:1/announce"};
    r->manifest.torrent.web_seeds = {"http://127.0.0.1:2/"};
    r->files.assign(2, FileEntry{});
    for (auto& f : r->files) f.wanted = true;
    auto& out = *r;
    releases[id] = std::move(r);
    return out;
  }

  // A release downloading through its hybrid and its companion (standing by), both added.
  Release& download_with_companion() {
    auto& r = release();
    REQUIRE(add_hybrid(r, AddHow::sync));
    rt.add_v1(r, V1Mode::download, AddHow::sync, v1_file, save);
    return r;
  }

  // Loads and adds the hybrid.
  Status add_hybrid(Release& r, AddHow how, AddAs as = AddAs::download) {
    auto t = rt.load_hybrid(r, hybrid_file);
    REQUIRE(t);
    HybridAdd add;
    add.save_path = save;
    add.as = as;
    return rt.add_hybrid(r, *t, std::move(add), how);
  }
};

}  // namespace

TEST_CASE("a hybrid add maps the manifest's files and registers the torrent for the release",
          "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  REQUIRE(f.add_hybrid(r, AddHow::sync));
  CHECK(r.files[0].lt_index == 0);
  CHECK(r.files[1].lt_index == 2);
  REQUIRE(valid(r.handle));
  REQUIRE(r.ti);
  CHECK(r.ti->layout == "L");
  CHECK(f.backend.take() == Strings{"add 100 download"});
  const auto& req = f.backend.adds.at(0);
  CHECK(req.save_path == f.save);
  CHECK(req.trackers == r.manifest.torrent.trackers);
  CHECK(req.web_seeds == r.manifest.torrent.web_seeds);
  REQUIRE(req.peers.size() == 1);  // the bad one is skipped
  CHECK(req.peers[0].port() == 6881);
  CHECK(req.priorities.empty());  // everything wanted: none set (a seed would leave seed mode)

  bool v1 = true;
  CHECK(f.rt.by_torrent(r.handle, &v1) == &r);
  CHECK_FALSE(v1);
  CHECK(f.rt.by_torrent(r.handle + 1) == nullptr);
  REQUIRE(f.rt.registered().size() == 1);
  CHECK(f.rt.registered().at(r.handle).id == r.rec.id);
}

TEST_CASE("a partial selection is added with priorities per libtorrent file",
          "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  r.files[1].wanted = false;
  REQUIRE(f.add_hybrid(r, AddHow::sync));
  const auto& p = f.backend.adds.at(0).priorities;
  REQUIRE(p.size() == 3);
  CHECK(p[0] == FilePriority::normal);
  CHECK(p[2] == FilePriority::skip);
}

TEST_CASE("a refused hybrid add registers nothing", "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  f.backend.refuse_adds = true;
  const auto st = f.add_hybrid(r, AddHow::sync);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::internal);
  CHECK_FALSE(valid(r.handle));
  CHECK(f.rt.registered().empty());
}

TEST_CASE("a missing .torrent is an error and adds nothing", "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  CHECK_FALSE(f.rt.load_hybrid(r, f.dir / "missing.torrent"));
  CHECK(f.backend.adds.empty());
}

TEST_CASE("an async hybrid add registers the torrent when it is answered", "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  r.resumed = true;
  for (auto& file : r.files) file.verified = true;
  REQUIRE(f.add_hybrid(r, AddHow::async));
  CHECK(f.backend.take() == Strings{"add_async 1 download"});
  CHECK_FALSE(valid(r.handle));
  CHECK(f.rt.adds_in_flight() == 1);

  const auto a = f.rt.on_added(TorrentAdded{1, 7, ""});
  CHECK(a.outcome == AddOutcome::hybrid_added);
  CHECK(a.release == &r);
  CHECK(r.handle == 7);
  CHECK(r.resume.current);  // resumed and complete: the resume file says so already
  CHECK(f.rt.by_torrent(7) == &r);
  CHECK(f.rt.adds_in_flight() == 0);
  // Answered once: the same cookie again is nobody's.
  CHECK(f.rt.on_added(TorrentAdded{1, 7, ""}).outcome == AddOutcome::none);
}

TEST_CASE("an async add answered with an error leaves nothing registered", "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  REQUIRE(f.add_hybrid(r, AddHow::async));
  const auto a = f.rt.on_added(TorrentAdded{1, no_torrent, "duplicate torrent"});
  CHECK(a.outcome == AddOutcome::hybrid_refused);
  CHECK(a.release == &r);
  CHECK(a.error == "duplicate torrent");
  CHECK_FALSE(valid(r.handle));
  CHECK(f.rt.registered().empty());
  CHECK(f.rt.adds_in_flight() == 0);
}

TEST_CASE("an async add answered for a release removed or fetched again is removed, not adopted",
          "[release_torrents]") {
  Fixture f;
  SECTION("fetched again: a newer generation") {
    auto& r = f.release("org/m@r1", 1);
    REQUIRE(f.add_hybrid(r, AddHow::async));
    auto& again = f.release("org/m@r1", 2);
    f.backend.take();
    const auto a = f.rt.on_added(TorrentAdded{1, 7, ""});
    CHECK(a.outcome == AddOutcome::stale);
    CHECK_FALSE(valid(again.handle));
  }
  SECTION("removed") {
    auto& r = f.release();
    REQUIRE(f.add_hybrid(r, AddHow::async));
    f.releases.clear();
    f.backend.take();
    CHECK(f.rt.on_added(TorrentAdded{1, 7, ""}).outcome == AddOutcome::stale);
  }
  CHECK(f.backend.take() == Strings{"remove 7"});
  CHECK(f.rt.registered().empty());
}

TEST_CASE(
    "the companion of a fetch is added in upload mode with the hybrid's selection, peers "
    "and restart pieces",
    "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  r.files[1].wanted = false;
  REQUIRE(f.add_hybrid(r, AddHow::sync));
  r.resume_have = {true, false, true, false};
  f.backend.take();
  f.rt.add_v1(r, V1Mode::download, AddHow::sync, f.v1_file, f.save);
  CHECK(f.backend.take() == Strings{"add 101 upload_mode"});
  const auto& req = f.backend.adds.at(1);
  CHECK(req.priorities.size() == 3);
  REQUIRE(req.resume);
  CHECK(req.resume->have == std::vector<bool>{true, false, true, false});
  CHECK(r.resume_have.empty());
  CHECK(req.peers.size() == 1);
  CHECK_FALSE(req.web_seeds);  // the .torrent's own
  CHECK(r.v1_handle == 101);
  CHECK(r.v1_mode == CompanionMode::standby);
  bool v1 = false;
  CHECK(f.rt.by_torrent(101, &v1) == &r);
  CHECK(v1);
}

TEST_CASE("the companion of a complete release is added in seed mode, without peers",
          "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  REQUIRE(f.add_hybrid(r, AddHow::sync));
  f.backend.take();
  f.rt.add_v1(r, V1Mode::seed, AddHow::sync, f.v1_file, f.save);
  CHECK(f.backend.take() == Strings{"add 101 seed_mode"});
  const auto& req = f.backend.adds.at(1);
  CHECK(req.priorities.empty());
  CHECK(req.peers.empty());
  CHECK_FALSE(req.resume);
  CHECK(r.v1_mode == CompanionMode::seeding);
  // Added once.
  f.rt.add_v1(r, V1Mode::seed, AddHow::sync, f.v1_file, f.save);
  CHECK(f.backend.take().empty());
}

TEST_CASE("no companion without the hybrid, for a partial seed, or with another piece layout",
          "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  f.rt.add_v1(r, V1Mode::download, AddHow::sync, f.v1_file, f.save);  // hybrid not added
  REQUIRE(f.add_hybrid(r, AddHow::sync));
  f.backend.take();
  SECTION("partial selection: nothing to seed as a whole") {
    r.files[1].wanted = false;
    f.rt.add_v1(r, V1Mode::seed, AddHow::sync, f.v1_file, f.save);
  }
  SECTION("another layout") {
    f.backend.torrents[f.v1_file].layout = "other";
    f.rt.add_v1(r, V1Mode::download, AddHow::sync, f.v1_file, f.save);
  }
  SECTION("no .torrent") {
    f.rt.add_v1(r, V1Mode::download, AddHow::sync, f.dir / "none.torrent", f.save);
  }
  CHECK(f.backend.take().empty());
  CHECK_FALSE(valid(r.v1_handle));
  CHECK(f.rt.registered().size() == 1);
}

TEST_CASE("an async companion add is adopted when answered, or forgotten when refused",
          "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  REQUIRE(f.add_hybrid(r, AddHow::sync));
  f.rt.add_v1(r, V1Mode::download, AddHow::async, f.v1_file, f.save);
  CHECK(r.v1_adding);
  f.rt.add_v1(r, V1Mode::download, AddHow::async, f.v1_file, f.save);  // one at a time
  CHECK(f.rt.adds_in_flight() == 1);
  SECTION("added") {
    CHECK(f.rt.on_added(TorrentAdded{1, 9, ""}).outcome == AddOutcome::v1_added);
    CHECK(r.v1_handle == 9);
    CHECK(r.v1_mode == CompanionMode::standby);
    CHECK(f.rt.registered().size() == 2);
  }
  SECTION("refused") {
    CHECK(f.rt.on_added(TorrentAdded{1, no_torrent, "no"}).outcome == AddOutcome::v1_refused);
    CHECK_FALSE(valid(r.v1_handle));
    CHECK(f.rt.registered().size() == 1);
  }
  CHECK_FALSE(r.v1_adding);
}

TEST_CASE("remove takes the torrent out of the session and the registry", "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  REQUIRE(f.add_hybrid(r, AddHow::sync));
  const auto h = r.handle;
  f.backend.take();
  f.rt.remove(r.handle);
  CHECK(f.backend.take() == Strings{"remove 100"});
  CHECK_FALSE(valid(r.handle));
  CHECK(f.rt.registered().empty());
  CHECK(f.rt.by_torrent(h) == nullptr);
  f.rt.remove(r.handle);  // nothing left to remove
  CHECK(f.backend.take().empty());
}

TEST_CASE("hybrids are told from companions", "[release_torrents]") {
  Fixture f;
  auto& r = f.download_with_companion();
  REQUIRE(valid(r.v1_handle));
  CHECK(f.rt.hybrid_of(r.handle) == &r);
  CHECK(f.rt.hybrid_of(r.v1_handle) == nullptr);
  CHECK(f.rt.hybrid_of(TorrentId{999}) == nullptr);
  const auto all = f.rt.hybrids();
  REQUIRE(all.size() == 1);
  CHECK(all[0].first == r.handle);
  CHECK(all[0].second == &r);
}

TEST_CASE("an active companion's download ends with the hybrid removed for a seed re-add",
          "[release_torrents]") {
  Fixture f;
  auto& r = f.download_with_companion();
  r.v1_mode = CompanionMode::active;
  TorrentStatus st;
  st.total_payload_download = 5;
  r.status = st;
  st.total_payload_download = 7;
  r.v1_status = st;
  f.backend.take();
  for (auto& file : r.files) file.verified = true;
  const auto plan = f.rt.finish_v1_download(r);
  CHECK(plan.action == V1Finish::readd_as_seed);
  CHECK(f.backend.take() == Strings{"remove 101", "remove 100", "add 102 seed_mode"});
  CHECK(r.downloaded_base == 12);
  CHECK(r.v1_mode == CompanionMode::none);
  CHECK(r.handle == 102);
  CHECK(f.rt.registered().size() == 1);
  CHECK_FALSE(f.backend.adds.back().resume);
}

TEST_CASE("a standing-by companion activates when the hybrid stalls and it knows peers",
          "[release_torrents]") {
  Fixture f;
  auto& r = f.download_with_companion();
  TorrentStatus companion;
  companion.list_peers = 2;
  r.v1_status = companion;
  TorrentStatus hybrid;
  hybrid.state = TorrentPhase::downloading;
  f.backend.take();
  const auto t0 = std::chrono::steady_clock::now();
  f.rt.maybe_activate_v1(r, hybrid, t0);
  CHECK(f.backend.take().empty());
  f.rt.maybe_activate_v1(r, hybrid, t0 + v1_stall + std::chrono::seconds(1));
  CHECK(f.backend.take() == Strings{"leave_upload_mode 101"});
  CHECK(r.v1_mode == CompanionMode::active);
}

TEST_CASE("a status update is recorded in its release; the companion's while it downloads",
          "[release_torrents]") {
  Fixture f;
  auto& r = f.download_with_companion();
  TorrentStatus st;
  st.state = TorrentPhase::downloading;
  // libtorrent file 0 is a.bin, file 2 is b.bin (hybrid_meta).
  auto seen = f.rt.record_status(TorrentUpdate{
      r.handle, st, {4, 0, 20}, {{SourceKind::peer, "127.0.0.2", "127.0.0.2:6881", 7}}});
  CHECK(seen.release == &r);
  CHECK(seen.source == DownloadSource::hybrid);
  CHECK_FALSE(seen.finished);
  REQUIRE(r.status);
  CHECK(r.files[0].done == 4);
  CHECK(r.files[1].done == 20);

  st.state = TorrentPhase::finished;
  seen = f.rt.record_status(TorrentUpdate{
      r.v1_handle, st, {10, 0, 0}, {{SourceKind::peer, "127.0.0.2", "127.0.0.2:6881", 3}}});
  CHECK(seen.release == &r);
  CHECK(seen.source == DownloadSource::v1);
  CHECK(seen.finished);
  CHECK(r.files[0].v1_done == 10);
  // Both torrents' connections count for the release's sources.
  CHECK(r.sources.totals() == std::vector<SourceTotal>{{SourceKind::peer, "127.0.0.2", 10}});

  r.v1_mode = CompanionMode::seeding;  // a companion that seeds: its status only
  seen = f.rt.record_status(TorrentUpdate{r.v1_handle, st, {5, 0, 5}, {}});
  CHECK_FALSE(seen.release);
  CHECK(r.v1_status);
  CHECK(r.files[0].v1_done == 10);
  CHECK_FALSE(f.rt.record_status(TorrentUpdate{TorrentId{999}, st, {}, {}}).release);
}

TEST_CASE("merged peers are all valid or none is taken", "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  REQUIRE(f.add_hybrid(r, AddHow::sync));
  f.backend.take();
  CHECK_FALSE(f.rt.merge_peers(r, {"127.0.0.3:7000", "garbage"}));
  CHECK(r.rec.peers.size() == 2);
  REQUIRE(f.rt.merge_peers(r, {"127.0.0.3:7000"}));
  CHECK(r.rec.peers.back() == "127.0.0.3:7000");
  CHECK(f.backend.take() == Strings{"connect_peer 100 127.0.0.3:7000"});
}

TEST_CASE("an add reads the release's resume file; one the backend refuses is not used",
          "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  for (auto& file : r.files) file.verified = true;
  SECTION("readable: the counters and pieces carry on, no disk scan") {
    f.backend.resumes["mine"] = ResumeData{{true, true, true, true}, 5, 7, nullptr};
    f.write_resume("mine");
    REQUIRE(f.rt.add(r, AddMode::normal));
    CHECK(f.backend.take() == Strings{"add 100 download"});
    REQUIRE(f.backend.adds.back().resume);
    CHECK(r.resumed);
    CHECK(r.downloaded_base == 5);
    CHECK(r.uploaded_base == 7);
  }
  SECTION("refused (e.g. another torrent's): every file verified, so it is added as a seed") {
    f.write_resume("another torrent's");
    REQUIRE(f.rt.add(r, AddMode::normal));
    CHECK(f.backend.take() == Strings{"add 100 seed_mode"});
    CHECK_FALSE(f.backend.adds.back().resume);
    CHECK_FALSE(r.resumed);
    CHECK(r.downloaded_base == 0);
  }
  CHECK(f.scans == 0);
  CHECK(f.backend.adds.back().save_path == f.save);
}

TEST_CASE("a partial download is scanned first: here when sync, on the hashing pool when async",
          "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  SECTION("sync") {
    REQUIRE(f.rt.add(r, AddMode::normal));
    CHECK(f.scans == 1);
    CHECK(f.backend.take() == Strings{"add 100 download"});
  }
  SECTION("async: added with what the scan found once it is done") {
    REQUIRE(f.rt.add(r, AddMode::normal, AddHow::async));
    CHECK(f.backend.adds.empty());
    f.run_one();
    CHECK(f.scans == 1);
    CHECK(f.backend.take() == Strings{"add_async 1 download"});
    CHECK(f.rt.adds_in_flight() == 1);
  }
  REQUIRE(f.backend.adds.back().resume);
  CHECK(f.backend.adds.back().resume->have == f.found);
  CHECK(r.resumed);
  CHECK(f.failed.empty());
}

TEST_CASE(
    "a start-up add whose release went away or is taken in again while its disk scan ran "
    "is dropped; so is one during shutdown",
    "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  REQUIRE(f.rt.add(r, AddMode::normal, AddHow::async));
  SECTION("removed") {
    f.releases.clear();
  }
  SECTION("taken in again") {
    f.release("org/m@r1", 2);
  }
  SECTION("shutting down") {
    f.shutting_down = true;
  }
  f.run_one();
  CHECK(f.scans == 1);
  CHECK(f.backend.adds.empty());
  CHECK(f.rt.adds_in_flight() == 0);
  CHECK(f.failed.empty());
}

TEST_CASE("a release this node published super-seeds from its add when configured",
          "[release_torrents]") {
  const auto mode = GENERATE(SuperSeeding::off, SuperSeeding::published);
  Fixture f(mode);
  auto& r = f.release();
  for (auto& file : r.files) file.verified = true;
  r.rec.origin = GENERATE(Origin::seeded, Origin::fetched);
  REQUIRE(f.rt.add(r, AddMode::seed));
  const bool on = mode == SuperSeeding::published && r.rec.origin == Origin::seeded;
  CHECK(f.backend.adds.back().super_seed == (on ? SuperSeed::on : SuperSeed::off));
  CHECK(f.backend.adds.back().as == AddAs::seed_mode);
}

TEST_CASE("a changed selection reprioritises both torrents; a fetch gets its companion",
          "[release_torrents]") {
  Fixture f;
  auto& r = f.release();
  r.rec.origin = Origin::fetched;
  REQUIRE(f.add_hybrid(r, AddHow::sync));
  f.backend.take();
  r.files[1].wanted = false;
  f.rt.selection_changed(r);
  CHECK(f.backend.priorities.count(r.handle) == 1);
  CHECK(valid(r.v1_handle));
  CHECK(r.v1_mode == CompanionMode::standby);
}
