// Full-disk rules: when a disk error pauses a fetch instead of failing it, when the periodic
// check pauses one, and when it resumes.
#include "daemon/engine/disk_guard.hpp"

#include <catch2/catch.hpp>

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
