// Release checks alone: a real Verifier on a real hashing pool over real files in a temp dir
// (a Store there), a fake backend that records what libtorrent is asked, and a small fake host
// for the engine (the release registry, persistence, the v1 companion's plumbing). No session.
#include "daemon/engine/release_checks.hpp"

#include <algorithm>
#include <map>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "core/util/crypto.hpp"
#include "daemon/engine/release_registry.hpp"
#include "daemon/store.hpp"
#include "support/fake_backend.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::daemon;
using weights::testing::FakeBackend;
using weights::testing::slurp;
using weights::testing::TempDir;
using weights::testing::write_text;
using namespace std::chrono_literals;

namespace {

constexpr TorrentId hybrid = 1;
constexpr TorrentId companion = 2;

// The files in `dir` (none if it does not exist).
std::vector<std::filesystem::path> tmp_listing(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) out.push_back(e.path());
  return out;
}

struct FakeHost final : ChecksHost {
  std::vector<ReleaseState> persisted;  // the state each row written says
  int completions = 0;                  // rows written that made the release complete
  std::int64_t now = 1'000'000;
  int finish_v1_calls = 0;
  std::vector<CompanionAdd> v1_seeds;
  int updates = 0;
  int progress_saves = 0;

  // The registry's RecordStore::put.
  Status put(const ReleaseRecord& rec) {
    const auto st = release_state_from_string(rec.state).value();
    if (st == ReleaseState::complete && (persisted.empty() || persisted.back() != st)) {
      ++completions;
    }
    persisted.push_back(st);
    return {};
  }
  std::int64_t now_ticks() override { return now; }
  bool shutting_down() override { return false; }
  // The companion goes; the hybrid stays (as after V1Finish::recheck_hybrid).
  V1FinishPlan finish_v1_download(Release& r) override {
    ++finish_v1_calls;
    if (!r.v1_downloading()) return {};
    const auto plan = v1_finish_plan(r.v1_mode, everything_wanted(r.files));
    r.v1_mode = CompanionMode::none;
    r.v1_handle = no_torrent;
    return plan;
  }
  void add_v1_seed(Release&, CompanionAdd how) override { v1_seeds.push_back(how); }
  void request_updates() override { ++updates; }
  void request_progress_save(Release&) override { ++progress_saves; }
};

// The release under test, before its files: org/m@r1, its hybrid added.
std::unique_ptr<Release> base_release() {
  auto rel = std::make_unique<Release>();
  rel->rec.id = "org/m@r1";
  rel->rec.model = "org/m";
  rel->rec.revision = "r1";
  rel->rec.v2_infohash = std::string(64, 'a');
  rel->rec.state = "downloading";
  rel->rec.added_at = 0;
  rel->handle = hybrid;
  return rel;
}

struct Harness {
  TempDir tmp;
  boost::asio::io_context ioc;
  WorkPool pool{ioc, 2};
  Store store{tmp.path()};
  FakeBackend backend;
  FakeHost host;
  ReleaseRegistry registry{RecordStore{[this](const ReleaseRecord& rec) { return host.put(rec); },
                                       [](const std::string&) -> Status { return {}; }}};
  std::unique_ptr<Verifier> verifier;
  std::unique_ptr<ReleaseChecks> checks;
  Release& rel;
  std::vector<std::string> contents;  // file i's content as the manifest says

  // A release of `files` (path, content), every file wanted, file i at libtorrent index i.
  explicit Harness(std::initializer_list<std::pair<std::string, std::string>> list)
      : rel(registry.add(base_release())) {
    const std::vector<std::pair<std::string, std::string>> files(list);
    REQUIRE(store.ensure_layout());
    VerifierEvents ev;
    ev.checked = [this](const FileChecked& c) { checks->on_checked(c); };
    ev.scrub_finished = [this](const ScrubFinished& f) { checks->on_scrub_finished(f); };
    verifier = std::make_unique<Verifier>(pool, std::move(ev),
                                          ReleaseChecks::scrub_source(registry, store), 1ull << 30);
    ChecksConfig cc;
    cc.scrub_interval = 3600s;
    cc.quarantine_dir = tmp / "quarantine";
    cc.retry_delay = 1ms;
    checks = std::make_unique<ReleaseChecks>(registry, host, backend, *verifier, store, ioc, cc);

    for (std::size_t i = 0; i < files.size(); ++i) {
      const auto& [path, content] = files[i];
      contents.push_back(content);
      rel.manifest.files.push_back(weights::testing::release_file(path, content));
      FileEntry f;
      f.length = content.size();
      f.wanted = true;
      f.lt_index = static_cast<int>(i);
      rel.files.push_back(f);
    }
    rel.manifest.model = rel.rec.model;
    rel.manifest.revision = rel.rec.revision;
  }

  std::filesystem::path staging(std::size_t i) const {
    return store.staging_file(rel.rec.v2_infohash, rel.rec.revision, rel.manifest.files[i].path);
  }
  std::filesystem::path stored(std::size_t i) const {
    return store.store_file(rel.manifest.files[i].sha256);
  }
  std::filesystem::path view() const { return store.view_dir(rel.rec.model, rel.rec.revision); }
  ReleaseState state() { return state_of(rel); }

  // Every file downloaded (staging holds the manifest's content) and stored: the release is
  // complete, the backend's calls so far taken.
  void download_all() {
    for (std::size_t i = 0; i < contents.size(); ++i) {
      write_text(staging(i), contents[i]);
      complete_file(i);
    }
    REQUIRE(run_until([&] { return host.completions == 1; }));
    backend.take();
  }

  // libtorrent completed file i and answered every flush asked for.
  void complete_file(std::size_t i) {
    checks->file_completed(rel, DownloadSource::hybrid, static_cast<int>(i));
    while (rel.flush_outstanding > 0) checks->cache_flushed(rel);
  }

  template <class Pred>
  bool run_until(Pred pred) {
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (!pred() && std::chrono::steady_clock::now() < end) {
      ioc.restart();
      ioc.run_for(5ms);
    }
    return pred();
  }
  // Lets the pool and timers run a while (for "nothing happens" checks).
  void settle() {
    ioc.restart();
    ioc.run_for(50ms);
  }
  bool called(const std::string& call) const {
    return std::find(backend.calls.begin(), backend.calls.end(), call) != backend.calls.end();
  }
};

}  // namespace

TEST_CASE("a completed file is hashed only after libtorrent's flush answer", "[release_checks]") {
  Harness h({{"a.bin", "alpha"}, {"b.bin", "bravo"}});
  write_text(h.staging(0), "alpha");
  h.checks->file_completed(h.rel, DownloadSource::hybrid, 0);
  CHECK(h.backend.take() == std::vector<std::string>{"flush_cache 1"});
  h.settle();
  CHECK_FALSE(h.rel.files[0].hashing);
  CHECK_FALSE(h.rel.files[0].verified);

  // A second completion while the flush is out asks nothing more.
  write_text(h.staging(1), "bravo");
  h.checks->file_completed(h.rel, DownloadSource::hybrid, 1);
  CHECK(h.backend.take().empty());

  h.checks->cache_flushed(h.rel);
  CHECK(h.rel.files[0].hashing);
  CHECK(h.rel.files[1].hashing);
  REQUIRE(h.run_until([&] { return h.rel.files[0].verified && h.rel.files[1].verified; }));
  CHECK(slurp(h.stored(0)) == "alpha");
  CHECK(slurp(h.stored(1)) == "bravo");
  CHECK(h.state() == ReleaseState::complete);
}

TEST_CASE("a file that differs from the manifest fails and is downloaded again",
          "[release_checks]") {
  Harness h({{"a.bin", "alpha"}});
  h.rel.rec.peers = {"127.0.0.2:6881"};
  write_text(h.staging(0), "alphX");
  h.complete_file(0);
  // (Two early retries first: libtorrent may report a file before all of it is on disk.)
  REQUIRE(h.run_until([&] { return h.rel.files[0].failed; }));
  CHECK(h.rel.files[0].attempts == 1);
  CHECK_FALSE(h.rel.files[0].verified);
  REQUIRE(h.rel.error);
  CHECK(h.rel.error->code == Errc::hash_mismatch);
  CHECK(h.rel.error->hint == "the file is being downloaded again");
  CHECK_FALSE(std::filesystem::exists(h.stored(0)));
  CHECK(h.called("force_recheck 1"));
  CHECK(h.called("clear_peers 1"));
  CHECK(h.called("force_reannounce 1"));
  CHECK(h.rel.resume.checking);
  CHECK(h.state() == ReleaseState::failed);

  // The re-download lands: verified, stored, complete, the error gone.
  h.backend.take();
  write_text(h.staging(0), "alpha");
  h.complete_file(0);
  REQUIRE(h.run_until([&] { return h.rel.files[0].verified; }));
  CHECK(slurp(h.stored(0)) == "alpha");
  CHECK_FALSE(h.rel.error);
  CHECK(h.state() == ReleaseState::complete);
}

TEST_CASE("a file given up after max_hash_attempts is not downloaded again", "[release_checks]") {
  Harness h({{"a.bin", "alpha"}});
  h.rel.files[0].attempts = max_hash_attempts - 1;
  h.rel.files[0].io_retries = 2;  // past the early retries
  write_text(h.staging(0), "alphX");
  h.complete_file(0);
  REQUIRE(h.run_until([&] { return h.rel.files[0].failed; }));
  CHECK(h.rel.files[0].attempts == max_hash_attempts);
  REQUIRE(h.rel.error);
  CHECK(h.rel.error->hint == "giving up on this file; remove the release and fetch it again");
  CHECK_FALSE(h.called("force_recheck 1"));
  CHECK(files_to_hash(h.rel.files).empty());
}

TEST_CASE("every wanted file verified completes the release once, not twice", "[release_checks]") {
  Harness h({{"a.bin", "alpha"}, {"b.bin", "bravo"}, {"skipped.bin", "charlie"}});
  h.rel.files[2].wanted = false;
  write_text(h.staging(0), "alpha");
  write_text(h.staging(1), "bravo");
  h.complete_file(0);
  REQUIRE(h.run_until([&] { return h.rel.files[0].verified; }));
  CHECK(h.host.completions == 0);
  CHECK(h.host.v1_seeds.empty());

  h.complete_file(1);
  REQUIRE(h.run_until([&] { return h.host.completions == 1; }));
  CHECK(h.host.v1_seeds == std::vector<CompanionAdd>{CompanionAdd::sync});
  CHECK(h.rel.rec.view_path == h.view().string());
  CHECK(slurp(h.view() / "b.bin") == "bravo");
  CHECK_FALSE(std::filesystem::exists(h.view() / "skipped.bin"));
  const auto saves = std::count_if(h.backend.calls.begin(), h.backend.calls.end(),
                                   [](const auto& c) { return c.rfind("save_resume 1", 0) == 0; });
  CHECK(saves == 1);

  // A late completion report, the finished torrent's status batch, or a start-up pass over the
  // complete release: no second completion (the intact view is kept).
  h.backend.take();
  h.checks->file_completed(h.rel, DownloadSource::hybrid, 1);
  h.checks->hash_completed_files(h.rel);
  h.checks->check_complete(h.rel, CompanionAdd::async);
  h.settle();
  CHECK(h.host.completions == 1);
  CHECK(h.backend.take().empty());                       // no flush, no save
  CHECK(h.host.v1_seeds.back() == CompanionAdd::async);  // the companion may seed after a restart
}

TEST_CASE("a two-source download is complete only after the final pass over staging",
          "[release_checks]") {
  Harness h({{"a.bin", "alpha"}, {"b.bin", "bravo"}});
  h.rel.v1_mode = CompanionMode::active;
  h.rel.v1_handle = companion;
  write_text(h.staging(0), "alpha");
  write_text(h.staging(1), "bravo");

  // Both sources write the files: both are flushed before a hash.
  h.checks->file_completed(h.rel, DownloadSource::v1, 0);
  CHECK(h.backend.take() == std::vector<std::string>{"flush_cache 1", "flush_cache 2"});
  h.checks->cache_flushed(h.rel);
  CHECK_FALSE(h.rel.files[0].hashing);
  h.checks->cache_flushed(h.rel);
  REQUIRE(h.run_until([&] { return h.rel.files[0].verified; }));
  // Verified from one source: deselected in both, not stored yet (it may still be written).
  CHECK(h.backend.take() == std::vector<std::string>{"file_priority 1 0", "file_priority 2 0"});
  CHECK_FALSE(std::filesystem::exists(h.stored(0)));

  SECTION("the pass matches: stored, complete once") {
    h.complete_file(1);
    // (Complete: the view is published and the companion added as a seed.)
    REQUIRE(h.run_until([&] { return !h.host.v1_seeds.empty(); }));
    CHECK(h.state() == ReleaseState::complete);
    CHECK(h.host.finish_v1_calls == 1);
    CHECK_FALSE(h.rel.staging_pass);
    CHECK(slurp(h.stored(0)) == "alpha");
    CHECK(slurp(h.stored(1)) == "bravo");
    CHECK(slurp(h.view() / "a.bin") == "alpha");
    CHECK(h.host.v1_seeds.size() == 1);
  }
  SECTION("a block of the other source damaged a verified file: it is downloaded again") {
    // A block in flight when a.bin was deselected lands after its hash.
    write_text(h.staging(0), "alpXa");
    h.checks->file_completed(h.rel, DownloadSource::v1, 1);
    while (h.rel.flush_outstanding > 0) h.checks->cache_flushed(h.rel);
    // The last file verified starts the final pass, which finds a.bin changed.
    REQUIRE(h.run_until([&] { return h.rel.files[0].failed; }));
    REQUIRE(h.run_until([&] { return h.rel.verify_outstanding == 0; }));
    CHECK(h.host.finish_v1_calls == 1);
    CHECK_FALSE(h.rel.staging_pass);
    CHECK_FALSE(h.rel.files[0].verified);
    CHECK(h.rel.files[1].verified);
    CHECK(slurp(h.stored(1)) == "bravo");
    CHECK_FALSE(std::filesystem::exists(h.stored(0)));
    CHECK_FALSE(std::filesystem::exists(h.view()));
    CHECK(h.called("force_recheck 1"));
    CHECK(h.host.v1_seeds.empty());
    CHECK(h.state() == ReleaseState::failed);
  }
}

TEST_CASE("a scrub mismatch quarantines the file, degrades the release, and it is repaired",
          "[release_checks]") {
  Harness h({{"a.bin", "alpha"}, {"b.bin", "bravo"}});
  h.download_all();

  // Not due yet: nothing queued.
  h.host.now = 10;
  h.checks->queue_due_scrubs();
  h.settle();
  CHECK(h.checks->scrub_totals().passes == 0);

  write_text(h.stored(1), "brXvo");  // the stored inode is damaged (the staging name too)
  h.host.now = 3600 + 10;
  h.checks->queue_due_scrubs();
  REQUIRE(h.run_until([&] { return h.checks->scrub_totals().passes == 1; }));
  CHECK(h.checks->scrub_totals().files == 2);
  CHECK(h.checks->scrub_totals().mismatches == 1);
  CHECK(h.checks->scrub_totals().bytes == 10);
  CHECK(h.rel.rec.last_scrubbed == 3600 + 10);
  CHECK(h.checks->scrub_totals().last_pass == 3600 + 10);
  CHECK(h.rel.degraded);
  CHECK(h.state() == ReleaseState::degraded);
  CHECK_FALSE(h.rel.files[1].verified);
  CHECK(h.rel.files[0].verified);
  REQUIRE(h.rel.error);
  CHECK(h.rel.error->code == Errc::hash_mismatch);
  CHECK_FALSE(std::filesystem::exists(h.stored(1)));
  CHECK_FALSE(std::filesystem::exists(h.view()));
  CHECK(h.rel.rec.view_path.empty());
  const auto kept = tmp_listing(h.tmp / "quarantine");
  REQUIRE(kept.size() == 1);
  CHECK(slurp(kept[0]) == "brXvo");
  CHECK(h.called("force_recheck 1"));
  CHECK(h.called("force_reannounce 1"));

  // libtorrent re-downloads the bad pieces: the file is verified, the release complete again.
  write_text(h.staging(1), "bravo");
  h.complete_file(1);
  REQUIRE(h.run_until([&] { return h.rel.files[1].verified; }));
  CHECK_FALSE(h.rel.degraded);
  CHECK_FALSE(h.rel.error);
  CHECK(h.state() == ReleaseState::complete);
  CHECK(slurp(h.view() / "b.bin") == "bravo");
}

TEST_CASE("verify quarantines damaged stored files and re-checks once after the pass",
          "[release_checks]") {
  Harness h({{"a.bin", "alpha"}, {"b.bin", "bravo"}});
  h.download_all();

  SECTION("intact: still complete") {
    h.checks->verify_all(h.rel);
    CHECK(h.state() == ReleaseState::verifying);
    REQUIRE(h.run_until([&] { return h.rel.verify_outstanding == 0; }));
    CHECK(h.state() == ReleaseState::complete);
    CHECK_FALSE(h.called("force_recheck 1"));
  }
  SECTION("damaged") {
    write_text(h.stored(0), "Xlpha");
    write_text(h.stored(1), "Xravo");
    h.checks->verify_all(h.rel);
    REQUIRE(h.run_until([&] { return h.rel.verify_outstanding == 0; }));
    CHECK(h.rel.degraded);
    REQUIRE(h.rel.error);
    CHECK(h.rel.error->message.find("2 file(s) differ") != std::string::npos);
    const auto rechecks =
        std::count(h.backend.calls.begin(), h.backend.calls.end(), std::string("force_recheck 1"));
    CHECK(rechecks == 1);
    CHECK(tmp_listing(h.tmp / "quarantine").size() == 2);
  }
}

TEST_CASE("empty files are verified without a hash", "[release_checks]") {
  Harness h({{"empty.txt", ""}, {"a.bin", "alpha"}});
  h.checks->verify_empty_files(h.rel);
  CHECK(h.rel.files[0].verified);
  CHECK_FALSE(h.rel.files[0].hashing);
  CHECK(std::filesystem::exists(h.stored(0)));
  CHECK(std::filesystem::file_size(h.stored(0)) == 0);
  CHECK(files_to_hash(h.rel.files).empty());
  CHECK(h.backend.calls.empty());

  // Only the non-empty file goes through the verifier; the release completes with both.
  write_text(h.staging(1), "alpha");
  h.complete_file(1);
  REQUIRE(h.run_until([&] { return h.host.completions == 1; }));
  CHECK(std::filesystem::exists(h.view() / "empty.txt"));

  SECTION("an unwanted empty file is left alone") {
    Harness u({{"empty.txt", ""}});
    u.rel.files[0].wanted = false;
    u.checks->verify_empty_files(u.rel);
    CHECK_FALSE(u.rel.files[0].verified);
  }
}

TEST_CASE("a check started by the engine is saved when it ends; a finished torrent is saved",
          "[release_checks]") {
  Harness h({{"a.bin", "alpha"}});
  h.checks->recheck(h.rel);
  CHECK(h.rel.resume.checking);
  h.checks->torrent_checked(h.rel, hybrid);
  CHECK(h.host.progress_saves == 1);
  CHECK(h.called("status 1"));

  h.backend.take();
  h.checks->torrent_finished(h.rel, hybrid);
  CHECK(h.backend.take() == std::vector<std::string>{"save_resume 1 1"});
  CHECK(h.host.updates == 1);
  h.rel.resume.current = true;  // the resume file already says complete
  h.checks->torrent_finished(h.rel, hybrid);
  CHECK(h.backend.take().empty());
  CHECK(h.host.updates == 2);
}
