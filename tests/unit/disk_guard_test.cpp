// Full-disk rules: when a disk error pauses a fetch instead of failing it, when the periodic
// check pauses one, and when it resumes; then DiskGuard applying them over a fake backend.
#include "daemon/engine/disk_guard.hpp"

#include <catch2/catch.hpp>

#include "support/fake_backend.hpp"
#include "support/record_rows.hpp"
#include "support/temp_dir.hpp"

using namespace weights::daemon;

namespace {
constexpr std::uint64_t MiB = 1u << 20;
}

TEST_CASE("ENOSPC, or too little room for the rest, pauses; other errors fail", "[disk]") {
  CHECK(disk_error_verdict(true, 100 * MiB, MiB) == DiskErrorVerdict::pause_disk_full);
  CHECK(disk_error_verdict(true, std::nullopt, MiB) == DiskErrorVerdict::pause_disk_full);
  // The mmap backend's SIGBUS: another error, but the disk is full for what is left.
  CHECK(disk_error_verdict(false, 10 * MiB, 10 * MiB) == DiskErrorVerdict::pause_disk_full);
  CHECK(disk_error_verdict(false, 11 * MiB - 1, 10 * MiB) == DiskErrorVerdict::pause_disk_full);
  CHECK(disk_error_verdict(false, 11 * MiB, 10 * MiB) == DiskErrorVerdict::fail);
  CHECK(disk_error_verdict(false, std::nullopt, 10 * MiB) == DiskErrorVerdict::fail);
}

TEST_CASE("the periodic check pauses a download that cannot write its next MiB", "[disk]") {
  CHECK(cannot_write(MiB - 1, 100 * MiB));
  CHECK_FALSE(cannot_write(MiB, 100 * MiB));
  CHECK(cannot_write(99, 100));  // the last bytes do not fit
  CHECK_FALSE(cannot_write(100, 100));
  CHECK_FALSE(cannot_write(0, 0));  // nothing left to download
  CHECK_FALSE(cannot_write(std::nullopt, 100 * MiB));
}

TEST_CASE("a paused download resumes once the rest fits with a margin", "[disk]") {
  const std::uint64_t min_free = 160 * MiB;  // margin: 10 MiB
  CHECK(room_to_resume(60 * MiB, 50 * MiB, min_free));
  CHECK_FALSE(room_to_resume(60 * MiB - 1, 50 * MiB, min_free));
  CHECK_FALSE(room_to_resume(std::nullopt, 0, min_free));
  CHECK(room_to_resume(0, 0, 0));
}

TEST_CASE("free space of an existing directory is known, of a missing one not", "[disk]") {
  weights::testing::TempDir tmp;
  CHECK(free_disk_bytes(tmp.path()));
  CHECK_FALSE(free_disk_bytes(tmp / "missing"));
}

// ---- DiskGuard: the rules applied to releases over a fake backend -------------------------------

namespace {

// The backend, the free space and the registry a DiskGuard works on.
struct Rig {
  weights::testing::FakeBackend torrents;
  std::optional<std::uint64_t> free;
  weights::testing::RecordRows db;
  std::vector<std::string>& persisted = db.written;
  ReleaseRegistry registry{db.store()};

  DiskGuard guard(std::uint64_t min_free_disk) {
    return DiskGuard(
        torrents, registry, [this] { return free; }, min_free_disk);
  }

  // A download with its hybrid torrent `t` in the session and `left` bytes still to fetch.
  Release& download(TorrentId t, std::uint64_t left) {
    auto r = std::make_unique<Release>();
    r->rec.id = "org/m@" + std::to_string(t);
    r->handle = t;
    FileEntry f;
    f.length = left + 100;
    f.wanted = true;
    f.done = 100;
    r->files.push_back(f);
    return registry.add(std::move(r));
  }
};

}  // namespace

TEST_CASE("ENOSPC pauses the release and it resumes only when its rest fits", "[disk]") {
  Rig host;
  DiskGuard guard = host.guard(160 * MiB);  // margin: 10 MiB
  Release& r = host.download(1, 50 * MiB);
  host.free = 0;
  guard.on_disk_error(r, true, "No space left on device");
  CHECK(r.disk_full);
  REQUIRE(r.error);
  CHECK(r.error->code == weights::Errc::no_space);
  CHECK(host.torrents.take() == std::vector<std::string>{"pause 1"});
  CHECK(host.persisted == std::vector<std::string>{"org/m@1"});

  // A second error while paused changes nothing.
  guard.on_disk_error(r, true, "again");
  CHECK(host.torrents.take().empty());

  host.free = 60 * MiB - 1;  // the rest fits, but not with the margin
  guard.resume_where_room();
  CHECK(r.disk_full);
  CHECK(host.torrents.take().empty());
  host.free = 60 * MiB;
  guard.resume_where_room();
  CHECK_FALSE(r.disk_full);
  CHECK_FALSE(r.error);
  CHECK(host.torrents.take() ==
        std::vector<std::string>{"clear_error 1", "leave_upload_mode 1", "resume 1"});
  CHECK(host.persisted.size() == 2);
}

TEST_CASE("another disk error with room to spare fails the release", "[disk]") {
  Rig host;
  DiskGuard guard = host.guard(0);
  Release& r = host.download(1, MiB);
  host.free = 100 * MiB;
  guard.on_disk_error(r, false, "Permission denied");
  CHECK_FALSE(r.disk_full);
  REQUIRE(r.error);
  CHECK(r.error->code == weights::Errc::io_error);
  CHECK(host.torrents.take().empty());
  guard.resume_where_room();  // not paused by the guard: not resumed by it
  CHECK(host.torrents.take().empty());
}

TEST_CASE("the periodic check pauses downloads that cannot write, not seeds", "[disk]") {
  Rig host;
  DiskGuard guard = host.guard(0);
  Release& big = host.download(1, 100 * MiB);
  Release& done = host.download(2, 0);  // nothing left: seeding
  Release& preparing = host.download(3, 100 * MiB);
  preparing.intake = Intake::preparing;
  Release& not_added = host.download(4, 100 * MiB);
  not_added.handle = no_torrent;
  host.free = MiB - 1;
  guard.check();
  CHECK(big.disk_full);
  CHECK_FALSE(done.disk_full);
  CHECK_FALSE(preparing.disk_full);
  CHECK_FALSE(not_added.disk_full);
  CHECK(host.torrents.take() == std::vector<std::string>{"pause 1"});
  host.free.reset();  // unknown free space: nothing is paused or resumed
  guard.check();
  guard.resume_where_room();
  CHECK(host.torrents.take().empty());
}
