#include "daemon/engine/disk_guard.hpp"

#include <algorithm>

#include <sys/statvfs.h>

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

}  // namespace weights::daemon
