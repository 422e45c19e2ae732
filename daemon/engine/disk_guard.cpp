#include "daemon/engine/disk_guard.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <sys/statvfs.h>

#include "daemon/engine/release_state.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {

namespace {
constexpr std::uint64_t mib = 1u << 20;
}  // namespace

std::optional<std::uint64_t> free_disk_bytes(const std::filesystem::path& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
}

DiskErrorVerdict disk_error_verdict(bool no_space_error, std::optional<std::uint64_t> free,
                                    std::uint64_t remaining) {
  if (no_space_error || (free && *free < remaining + mib)) return DiskErrorVerdict::pause_disk_full;
  return DiskErrorVerdict::fail;
}

bool cannot_write(std::optional<std::uint64_t> free, std::uint64_t remaining) {
  return free && remaining > 0 && *free < std::min<std::uint64_t>(remaining, mib);
}

bool room_to_resume(std::optional<std::uint64_t> free, std::uint64_t remaining,
                    std::uint64_t min_free_disk) {
  return free && *free >= remaining + min_free_disk / 16;
}

void DiskGuard::on_torrent_error(Release& r, const TorrentError& e, RecheckBudget& budget) {
  if (e.kind == TorrentErrorKind::inconsistent_hashes && state_of(r) != ReleaseState::complete &&
      recheck_inconsistent(torrents_, e.torrent, r, budget, e.message) ==
          RecheckOutcome::rechecking) {
    return;
  }
  on_disk_error(r, e.kind == TorrentErrorKind::no_space, e.message);
}

// ENOSPC comes from the posix backend; the mmap backend reports a SIGBUS (a write into a sparse
// mapping on a full filesystem) as another error, so the filesystem is asked too.
void DiskGuard::on_disk_error(Release& r, bool no_space, const std::string& what) {
  if (disk_error_verdict(no_space, free_disk_(), remaining_bytes(r.files)) ==
      DiskErrorVerdict::pause_disk_full) {
    pause(r, what);
    return;
  }
  r.error = Error{Errc::io_error, fmt::format("{}: {}", r.rec.id, what),
                  "check disk space and permissions under the state dir"};
  registry_.persist(r);
}

void DiskGuard::pause(Release& r, const std::string& what) {
  if (r.disk_full) return;
  r.disk_full = true;
  if (valid(r.handle)) torrents_.pause(r.handle);
  const auto free = free_disk_();
  r.error = Error{Errc::no_space,
                  fmt::format("{}: the disk is full ({} bytes free, {} still to download: {}); "
                              "fetching paused",
                              r.rec.id, free.value_or(0), remaining_bytes(r.files), what),
                  "free space on the state dir's filesystem: the fetch resumes by itself"};
  log::error("{}", r.error->message);
  registry_.persist(r);
}

void DiskGuard::check() {
  const auto free = free_disk_();
  if (!free) return;
  for (auto& [id, r] : registry_) {
    if (r->disk_full || !valid(r->handle) || r->intake == Intake::preparing) continue;
    if (cannot_write(free, remaining_bytes(r->files))) pause(*r, "seen by the free-space check");
  }
}

void DiskGuard::resume_where_room() {
  for (auto& [id, r] : registry_) {
    if (!r->disk_full || !valid(r->handle)) continue;
    const auto free = free_disk_();
    if (!room_to_resume(free, remaining_bytes(r->files), min_free_disk_)) continue;
    log::info("{}: disk space is back ({} bytes free), resuming", r->rec.id, *free);
    r->disk_full = false;
    r->error.reset();
    torrents_.clear_error(r->handle);
    torrents_.leave_upload_mode(r->handle);
    torrents_.resume(r->handle);
    registry_.persist(*r);
  }
}

}  // namespace weights::daemon
