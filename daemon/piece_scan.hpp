#pragma once
// Which pieces of a partial download are on disk, for a restart whose resume data is missing or
// older than the files: libtorrent 2.0.8 can only re-check a whole torrent, from its first piece,
// and a kill during that check loses all of it. This scan looks only at pieces the caller does
// not already have and skips those with a hole in their byte range (never written), so its cost
// is proportional to the bytes written since the last resume save, and the caller can persist
// what it found so far (progress callback) so an interrupted scan is not repeated.

#include <cstdint>
#include <filesystem>
#include <functional>

#include <libtorrent/bitfield.hpp>
#include <libtorrent/torrent_info.hpp>

namespace weights::daemon {

namespace lt = libtorrent;

struct PieceScanResult {
  lt::typed_bitfield<lt::piece_index_t> found;  // pieces whose bytes match their SHA-1 hash
  int pieces_hashed = 0;
  std::int64_t bytes_hashed = 0;
};

// Scans `ti`'s pieces under `save_path` (files at save_path / file_path). A piece is a candidate
// if `candidate(piece)` is true; a candidate with a hole or missing bytes in its range is not
// hashed (it is not complete). Requires v1 piece hashes (hybrid or v1 torrent); returns nothing
// found otherwise. `progress(found_so_far)` is called after each `progress_bytes` hashed.
PieceScanResult scan_pieces(
    const lt::torrent_info& ti, const std::filesystem::path& save_path,
    const std::function<bool(lt::piece_index_t)>& candidate, std::int64_t progress_bytes = 0,
    const std::function<void(const lt::typed_bitfield<lt::piece_index_t>&)>& progress = {});

// Clears the pieces of `have` whose bytes are not all within their files' sizes under
// `save_path` (a file deleted or truncated since the bitfield was saved). Returns how many.
int drop_pieces_past_eof(const lt::torrent_info& ti, const std::filesystem::path& save_path,
                         lt::typed_bitfield<lt::piece_index_t>& have);

}  // namespace weights::daemon
