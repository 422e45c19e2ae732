#pragma once
// How a torrent's progress reports move a release's per-file record (pure): the bytes each
// download source has, which files it completed, and which files are due for a SHA-256 check.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "daemon/engine/release_state.hpp"
#include "daemon/engine/torrent_backend.hpp"

namespace weights::daemon {

// The hybrid torrent, or the v1 companion while it downloads (same layout, same file indices).
enum class DownloadSource { hybrid, v1 };

// Full-file hash mismatches after which a file is given up.
inline constexpr int max_hash_attempts = 3;

// Sets each file's bytes done for `source` from `lt_done` (bytes per libtorrent file index, as
// in TorrentUpdate::file_done). Empty `lt_done`: nothing known, nothing changes.
void apply_file_done(std::vector<FileEntry>& files, const std::vector<std::int64_t>& lt_done,
                     DownloadSource source);

// Libtorrent file `lt_index` completed in `source`: the wanted files there count as fully
// downloaded by it. Returns their indices (to be hashed once flushed).
std::vector<std::size_t> mark_file_completed(std::vector<FileEntry>& files, int lt_index,
                                             DownloadSource source);

// Whether a torrent still downloads files already verified. Two download sources (the v1
// companion active): verified files are not downloaded again by either.
enum class VerifiedFiles { download, skip };

// Priorities per libtorrent file (`num_files` of the torrent, pad files included): unwanted
// files skipped, and verified ones with VerifiedFiles::skip. Pad files keep the default.
std::vector<FilePriority> file_priorities(const std::vector<FileEntry>& files, int num_files,
                                          VerifiedFiles verified);

// Wanted files not verified and not being hashed that one source has completely (empty files
// aside: they have no pieces), except those given up after max_hash_attempts.
std::vector<std::size_t> files_to_hash(const std::vector<FileEntry>& files);

}  // namespace weights::daemon
