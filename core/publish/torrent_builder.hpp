#pragma once
// Builds the two torrents of a release from files on disk, and checks a torrent (ours, or one
// that arrived from the feed or the swarm) against a release manifest. This is the only module
// that touches libtorrent's torrent creation; the header keeps libtorrent types out.
//
// Known libtorrent 2.0.8 limitation (not worked around here): a release with exactly ONE file is
// still a multi-file torrent (root directory <revision>/), and 2.0.8 builds wrong web-seed URLs
// for that shape (".../resolve/<rev>" then ".../<rev>/<rev>/<file>"; fixed upstream in 2.0.14,
// commit 5498efd3f). Peers are unaffected; only web seeding of single-file releases is.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/trust/release_manifest.hpp"
#include "core/util/error.hpp"
#include "core/util/file_hash.hpp"

namespace libtorrent {
class torrent_info;
}

namespace weights {

// Piece length from a release's total size (docs/manifest-format.md §7):
//   <= 1 GiB: 1 MiB; <= 96 GiB: 4 MiB; <= 1 TiB: 16 MiB; <= 4 TiB: 32 MiB; above: 64 MiB.
// Keeps the .torrent (20 B v1 + 32 B v2 per piece) below ~4 MB and pieces <= 64 MiB.
std::uint64_t piece_length_for_total(std::uint64_t total_length);

// Hashes `paths` (relative, any order) under `dir` into manifest entries sorted by path.
Result<std::vector<ReleaseFile>> describe_release_files(const std::filesystem::path& dir,
                                                        std::vector<std::string> paths,
                                                        const HashOptions& options = {});

struct TorrentBuildInput {
  std::filesystem::path source_dir;  // file f is read from source_dir / f.path (any dir name)
  std::string revision;              // the torrent's root directory name
  std::vector<ReleaseFile> files;    // the exact file set, with length/sha256/bt_root filled in
  std::uint64_t piece_length = 0;    // 0: piece_length_for_total(sum of lengths)
  std::vector<std::string> web_seeds;
  std::vector<std::string> trackers;  // one tier each, in order
  std::string creator = "weightsd";   // outer "created by"; empty: omitted
};

struct BuiltTorrents {
  std::string hybrid;                 // v1+v2 .torrent with piece layers
  std::string v1_companion;           // v1-only .torrent, canonical (v2) file order and padding
  std::string v2_infohash;            // hybrid, 64 hex
  std::string v1_infohash;            // hybrid, 40 hex
  std::string companion_v1_infohash;  // 40 hex
  std::uint64_t piece_length = 0;
  // Pieces read from disk and hashed while building: the hybrid's piece count, since the
  // companion reuses the hybrid's SHA-1 pieces (each byte is read once).
  std::uint64_t pieces_hashed = 0;
};

// Creates both torrents deterministically (no creation date, creator `input.creator`, no file
// attributes, so chmod/mtime never change an info-hash), then re-reads them and checks
// libtorrent's file list, sizes and pieces roots against `input.files`: any difference (a file
// changed on disk, libtorrent renamed a path) is an error, never a silently different torrent.
// Errors: path_policy/schema_error for bad input, not_found/io_error/length_mismatch for files
// on disk, hash_mismatch if a pieces root differs from input.files[i].bt_root.
Result<BuiltTorrents> build_torrents(const TorrentBuildInput& input);

enum class TorrentKind { hybrid, v1_companion };
// Torrents from a .torrent file carry piece layers; metadata received from peers does not.
enum class PieceLayers { required, if_present };

// Checks torrent bytes against a (valid) manifest: size limits while decoding; for a hybrid,
// v2 info-hash == manifest.torrent.v2_infohash and piece length equal; name == revision; the
// non-pad files are exactly the manifest's (path, length) without symlink or executable
// attributes; each pieces root equals bt_root, and each piece layer hashes up to its root
// (libtorrent 2.0.8 does not check this). Errors: parse_error/too_large (undecodable),
// wrong_target (info-hash, name, extra/missing file, attributes, kind), length_mismatch (size),
// hash_mismatch (root or piece layer).
Status check_torrent_against_manifest(std::string_view torrent, const ReleaseManifest& manifest,
                                      TorrentKind kind = TorrentKind::hybrid,
                                      PieceLayers layers = PieceLayers::required);
// The same for an already loaded torrent (e.g. on metadata arrival in the daemon).
Status check_torrent_against_manifest(const libtorrent::torrent_info& torrent,
                                      const ReleaseManifest& manifest,
                                      TorrentKind kind = TorrentKind::hybrid,
                                      PieceLayers layers = PieceLayers::if_present);

}  // namespace weights
