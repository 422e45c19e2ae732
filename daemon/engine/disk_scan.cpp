#include "daemon/engine/disk_scan.hpp"

#include <chrono>

#include <libtorrent/write_resume_data.hpp>

#include "core/util/atomic_file.hpp"
#include "daemon/engine/lt_backend.hpp"
#include "daemon/piece_scan.hpp"

namespace weights::daemon {

DiskScan make_disk_scan(const TorrentMeta& t, const std::optional<ResumeData>& resume,
                        const std::filesystem::path& save_path,
                        const std::filesystem::path& resume_file) {
  const auto& atp = LtBackend::loaded(t);
  DiskScan d;
  d.ti = atp.ti;
  d.save_path = save_path;
  d.resume_file = resume_file;
  d.given = resume;
  d.resume.info_hashes = atp.ti->info_hashes();
  d.resume.name = atp.ti->name();
  d.resume.save_path = d.save_path.string();
  if (resume) {
    d.resume.have_pieces = LtBackend::to_bitfield(resume->have);
    if (const auto* rd = LtBackend::resume_params(*resume)) {
      d.resume.unfinished_pieces = rd->unfinished_pieces;
      d.resume.total_uploaded = rd->total_uploaded;
      d.resume.total_downloaded = rd->total_downloaded;
      d.resume.active_time = rd->active_time;
      d.resume.finished_time = rd->finished_time;
      d.resume.seeding_time = rd->seeding_time;
      d.resume.added_time = rd->added_time;
      d.resume.completed_time = rd->completed_time;
    }
  }
  return d;
}

ResumeData disk_scan_result(const DiskScan& d) {
  const auto* given = d.given ? LtBackend::resume_params(*d.given) : nullptr;
  lt::add_torrent_params p = given ? *given : d.resume;
  p.have_pieces = d.resume.have_pieces;
  p.unfinished_pieces = d.resume.unfinished_pieces;
  return LtBackend::to_resume(std::move(p));
}

void run_disk_scan(DiskScan& d) {
  const auto& ti = *d.ti;
  const auto t0 = std::chrono::steady_clock::now();
  auto& have = d.resume.have_pieces;
  if (have.size() != ti.num_pieces()) have.resize(ti.num_pieces(), false);
  d.claimed = have.count();
  d.dropped = drop_pieces_past_eof(ti, d.save_path, have);
  const auto& fs = ti.files();
  const auto base = have;
  auto candidate = [&](lt::piece_index_t p) {
    if (base.get_bit(p)) return false;
    for (const auto& sl : fs.map_block(p, 0, fs.piece_size(p))) {
      if (d.wanted_lt[static_cast<std::size_t>(static_cast<int>(sl.file_index))]) return true;
    }
    return false;
  };
  auto write = [&](const lt::typed_bitfield<lt::piece_index_t>& found) {
    auto p = d.resume;
    for (const auto i : found.range()) {
      if (found.get_bit(i)) {
        p.have_pieces.set_bit(i);
        p.unfinished_pieces.erase(i);
      }
    }
    const auto buf = lt::write_resume_data_buf(p);
    if (auto st = write_file_atomic(d.resume_file, std::string_view(buf.data(), buf.size())); !st) {
      d.warnings.push_back(st.error().message);
    }
    return p;
  };
  const auto scan = scan_pieces(ti, d.save_path, candidate, scan_checkpoint_bytes,
                                [&](const auto& found) { write(found); });
  d.found = scan.found.count();
  d.hashed = scan.pieces_hashed;
  if (d.found > 0 || d.dropped > 0) d.resume = write(scan.found);
  d.ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
}

}  // namespace weights::daemon
