#pragma once
// Recovering a partial download's pieces from disk before its torrent is added. The scan works
// on libtorrent's metadata (the TorrentMeta and ResumeData LtBackend made); its users see only
// its counts and, at the end, a ResumeData to add the torrent with.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/torrent_info.hpp>

#include "daemon/engine/torrent_backend.hpp"

namespace weights::daemon {

namespace lt = libtorrent;

// A partial download being added: the resume file (if any) says which pieces libtorrent had
// when it was written, but a kill -9 loses what arrived since, and with no resume file
// libtorrent would re-check every file from the first piece (a kill during that check loses
// all of it; 2.0.8 cannot check part of a torrent). So the pieces the resume file does not
// claim and whose bytes are all on disk are hashed here (SHA-1 against the hybrid's v1
// hashes; holes are skipped, so the cost is the bytes written since the last save), and the
// torrent is added with the union as its have bitfield: libtorrent then checks nothing. Found
// pieces are written to the resume file as the scan goes (every scan_checkpoint_bytes) and at its
// end, so a kill during the scan loses little. Pieces the resume file claims but whose bytes are
// gone (a file shorter than them) are dropped. A piece wrongly claimed is still caught: every
// file is SHA-256-checked against the manifest before it counts as verified.
inline constexpr std::int64_t scan_checkpoint_bytes = 64ll << 20;

// What run_disk_scan works on: plain data, so the scan can run on the hashing pool
// (it touches neither the Release nor libtorrent's session).
struct DiskScan {
  std::string id;
  std::shared_ptr<const lt::torrent_info> ti;
  std::filesystem::path save_path, resume_file;
  lt::add_torrent_params resume;    // have_pieces (claimed), unfinished pieces, counters, times
  std::optional<ResumeData> given;  // the resume state the scan started from
  std::vector<bool> wanted_lt;      // per libtorrent file
  bool had_resume = false;
  // Results.
  std::int64_t claimed = 0;
  int dropped = 0, found = 0, hashed = 0;
  std::int64_t ms = 0;
  std::vector<std::string> warnings;
};

// A scan of torrent `t` (loaded by LtBackend) under save_path, starting from the pieces and
// counters of its resume file (`resume`, read by LtBackend, if any); resume_file is where found
// pieces are written. The caller fills `id`, `wanted_lt` and `had_resume`.
DiskScan make_disk_scan(const TorrentMeta& t, const std::optional<ResumeData>& resume,
                        const std::filesystem::path& save_path,
                        const std::filesystem::path& resume_file);

// The scan itself (any thread): on return d.resume.have_pieces is the union of what the resume
// file claimed (minus pieces past a file's end) and what was found; the resume file has been
// rewritten with it if that changed anything (and every scan_checkpoint_bytes meanwhile).
void run_disk_scan(DiskScan& d);

// What to add the torrent with after the scan: its have bitfield and unfinished pieces, the
// rest (counters, times) as given.
ResumeData disk_scan_result(const DiskScan& d);

}  // namespace weights::daemon
