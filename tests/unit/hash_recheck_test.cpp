// libtorrent's inconsistent-hashes error on a downloading release: a recheck (clear_error,
// force_recheck, resume) at most max_inconsistent_rechecks times per release, counted in
// hash_failures; after that, or on a complete release, the error fails the release as any other
// torrent error. The engine's hybrid torrents go through DiskGuard::on_torrent_error; a pinned
// fetch's swarm torrent is in pinned_fetch_test.
#include "daemon/engine/hash_recheck.hpp"

#include <catch2/catch.hpp>

#include "daemon/engine/disk_guard.hpp"
#include "daemon/engine/release_registry.hpp"
#include "support/fake_backend.hpp"
#include "support/record_rows.hpp"

using namespace weights::daemon;

namespace {

constexpr std::uint64_t MiB = 1u << 20;
const std::string inconsistent_message = "v1 and v2 hashes do not describe the same data";

struct Rig {
  weights::testing::FakeBackend torrents;
  weights::testing::RecordRows db;
  ReleaseRegistry registry{db.store()};
  RecheckBudget budget;
  DiskGuard guard{torrents, registry, [] { return std::optional<std::uint64_t>(100 * MiB); }, 0};

  // A release downloading with its hybrid torrent `t`; `verified`: every file is (complete).
  Release& release(TorrentId t, bool verified = false) {
    auto r = std::make_unique<Release>();
    r->rec.id = "org/m@" + std::to_string(t);
    r->handle = t;
    FileEntry f;
    f.length = MiB;
    f.wanted = true;
    f.done = verified ? static_cast<std::int64_t>(MiB) : 100;
    f.verified = verified;
    r->files.push_back(f);
    return registry.add(std::move(r));
  }

  TorrentError inconsistent(TorrentId t) const {
    return {t, TorrentErrorKind::inconsistent_hashes, inconsistent_message};
  }
};

const std::vector<std::string> recheck_of_7 = {"clear_error 7", "force_recheck 7", "resume 7"};

}  // namespace

TEST_CASE("the budget allows three rechecks per release and counts each release apart",
          "[recheck]") {
  RecheckBudget b;
  CHECK(b.used("a") == 0);
  for (int i = 0; i < max_inconsistent_rechecks; ++i) CHECK(b.take("a"));
  CHECK_FALSE(b.take("a"));
  CHECK(b.used("a") == max_inconsistent_rechecks);  // a refusal counts nothing
  CHECK(b.take("b"));
  CHECK(b.used("b") == 1);
}

TEST_CASE("inconsistent hashes on a download are rechecked three times, then fail the release",
          "[recheck]") {
  Rig rig;
  Release& r = rig.release(7);
  for (int i = 1; i <= max_inconsistent_rechecks; ++i) {
    rig.guard.on_torrent_error(r, rig.inconsistent(7), rig.budget);
    CHECK(rig.torrents.take() == recheck_of_7);
    CHECK_FALSE(r.error);
    CHECK(r.hash_failures == i);  // what `show` reports
    CHECK(state_of(r) == ReleaseState::downloading);
  }
  rig.guard.on_torrent_error(r, rig.inconsistent(7), rig.budget);
  CHECK(rig.torrents.take().empty());  // no fourth recheck
  REQUIRE(r.error);
  CHECK(r.error->code == weights::Errc::io_error);
  CHECK(r.error->message.find(inconsistent_message) != std::string::npos);
  CHECK(r.hash_failures == max_inconsistent_rechecks);
  CHECK(state_of(r) == ReleaseState::failed);
  CHECK(rig.db.written == std::vector<std::string>{"org/m@7"});
}

TEST_CASE("the budget is per release: another release still gets its rechecks", "[recheck]") {
  Rig rig;
  Release& a = rig.release(7);
  Release& b = rig.release(8);
  for (int i = 0; i < max_inconsistent_rechecks; ++i) {
    rig.guard.on_torrent_error(a, rig.inconsistent(7), rig.budget);
  }
  rig.torrents.take();
  rig.guard.on_torrent_error(b, rig.inconsistent(8), rig.budget);
  CHECK(rig.torrents.take() ==
        std::vector<std::string>{"clear_error 8", "force_recheck 8", "resume 8"});
  CHECK_FALSE(b.error);
}

TEST_CASE("inconsistent hashes on a complete release, or another error, are not rechecked",
          "[recheck]") {
  Rig rig;
  SECTION("complete: every file was verified, nothing is downloading") {
    Release& r = rig.release(7, true);
    REQUIRE(state_of(r) == ReleaseState::complete);
    rig.guard.on_torrent_error(r, rig.inconsistent(7), rig.budget);
    CHECK(rig.torrents.take().empty());
    REQUIRE(r.error);
    CHECK(r.error->code == weights::Errc::io_error);
    CHECK(rig.budget.used(r.rec.id) == 0);
  }
  SECTION("any other torrent error fails the download at once") {
    Release& r = rig.release(7);
    rig.guard.on_torrent_error(r, {7, TorrentErrorKind::other, "Permission denied"}, rig.budget);
    CHECK(rig.torrents.take().empty());
    REQUIRE(r.error);
    CHECK(r.error->code == weights::Errc::io_error);
    CHECK(r.hash_failures == 0);
  }
}
