#pragma once
// When a full disk pauses a download and when it resumes, as pure rules over byte counts. A
// full disk pauses a fetch (nothing verified is lost) until there is room for what it still
// has to download; any other disk error fails the release.
#include <cstdint>
#include <filesystem>
#include <optional>

namespace weights::daemon {

// Free bytes on the filesystem of `dir` for an unprivileged writer; nothing if unknown.
std::optional<std::uint64_t> free_disk_bytes(const std::filesystem::path& dir);

enum class DiskErrorVerdict { pause_disk_full, fail };

// A disk error of a download with `remaining` bytes to fetch. ENOSPC comes from the posix
// backend; the mmap backend reports a SIGBUS (a write into a sparse mapping on a full
// filesystem) as another error, so the free space decides too (less than remaining + 1 MiB).
DiskErrorVerdict disk_error_verdict(bool no_space_error, std::optional<std::uint64_t> free,
                                    std::uint64_t remaining);

// libtorrent does not always report a full disk (a write can block or be retried): the periodic
// check pauses a download that cannot write its next MiB (or its last bytes).
bool cannot_write(std::optional<std::uint64_t> free, std::uint64_t remaining);

// A download paused by a full disk resumes once its remaining bytes fit, keeping a sixteenth
// of min_free_disk free.
bool room_to_resume(std::optional<std::uint64_t> free, std::uint64_t remaining,
                    std::uint64_t min_free_disk);

}  // namespace weights::daemon
