// The start-up disk scan alone: a real .torrent loaded as LtBackend loads it (no session), real
// files in a temp dir, the resume file it writes read back with libtorrent.
#include "daemon/engine/disk_scan.hpp"

#include <fstream>
#include <string>

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/read_resume_data.hpp>
#include <unistd.h>

#include "core/util/atomic_file.hpp"
#include "daemon/engine/lt_backend.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::daemon;
using weights::testing::TempDir;

namespace {

constexpr int piece = 64 * 1024;

// Copies [offset, offset+len) of `data` into `p` at the same offset (a sparse file of `size`).
void write_range(const std::filesystem::path& p, const std::string& data, std::int64_t offset,
                 std::int64_t len, std::int64_t size) {
  std::filesystem::create_directories(p.parent_path());
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  REQUIRE(::pwrite(fd, data.data() + offset, static_cast<std::size_t>(len),
                   static_cast<off_t>(offset)) == len);
  ::close(fd);
}

// rel/a.bin (4 pieces) and rel/b.bin (2 pieces) as a hybrid .torrent file, loaded by LtBackend.
struct Fixture {
  TempDir src, dst;
  std::string a = testing::random_bytes(4 * piece, 1), b = testing::random_bytes(2 * piece, 2);
  std::shared_ptr<const TorrentMeta> meta;
  std::filesystem::path resume_file = dst.path() / "r.resume";

  Fixture() {
    testing::write_text(src / "rel/a.bin", a);
    testing::write_text(src / "rel/b.bin", b);
    lt::file_storage fs;
    lt::add_files(fs, (src / "rel").string(), lt::create_torrent::no_attributes);
    lt::create_torrent ct(fs, piece, lt::create_torrent::no_attributes);
    lt::set_piece_hashes(ct, src.path().string());
    const auto buf = ct.generate_buf();
    REQUIRE(write_file_atomic(src / "t.torrent", std::string_view(buf.data(), buf.size())));
    auto loaded = LtBackend::read_torrent(src / "t.torrent");
    REQUIRE(loaded);
    meta = *loaded;
  }

  DiskScan scan(const std::optional<ResumeData>& resume) {
    DiskScan d = make_disk_scan(*meta, resume, dst.path(), resume_file);
    d.id = "org/m@r1";
    d.wanted_lt.assign(static_cast<std::size_t>(meta->num_files()), true);
    d.had_resume = resume.has_value();
    run_disk_scan(d);
    return d;
  }

  // Piece index of byte `offset` of file `path`.
  int piece_of(const std::string& path, std::int64_t offset) const {
    const auto& ti = *LtBackend::loaded(*meta).ti;
    const auto& fs = ti.files();
    for (const auto fi : fs.file_range()) {
      if (fs.file_path(fi) == path) {
        return static_cast<int>(ti.map_file(fi, offset, 1).piece);
      }
    }
    FAIL("no file " << path);
    return -1;
  }
};

std::vector<bool> have_in_resume_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), {});
  lt::error_code ec;
  auto rd = lt::read_resume_data({data.data(), static_cast<std::ptrdiff_t>(data.size())}, ec);
  REQUIRE_FALSE(ec);
  return LtBackend::to_bools(rd.have_pieces);
}

}  // namespace

TEST_CASE("with no resume file the scan finds the whole pieces on disk and writes them down",
          "[disk_scan]") {
  Fixture f;
  // a.bin: pieces 1 and 3 arrived; b.bin: its first piece, damaged in its last byte.
  write_range(f.dst / "rel/a.bin", f.a, piece, piece, 4 * piece);
  write_range(f.dst / "rel/a.bin", f.a, 3 * piece, piece, 4 * piece);
  auto bad = f.b;
  bad[piece - 1] ^= 1;
  write_range(f.dst / "rel/b.bin", bad, 0, piece, 2 * piece);

  const DiskScan d = f.scan(std::nullopt);
  CHECK(d.claimed == 0);
  CHECK(d.found == 2);
  CHECK(d.dropped == 0);
  CHECK(d.warnings.empty());
  const ResumeData result = disk_scan_result(d);
  const int n = f.meta->num_pieces();
  REQUIRE(static_cast<int>(result.have.size()) == n);
  for (int p = 0; p < n; ++p) {
    const bool want =
        p == f.piece_of("rel/a.bin", piece) || p == f.piece_of("rel/a.bin", 3 * piece);
    CHECK(result.have[static_cast<std::size_t>(p)] == want);
  }
  // What it found is in the resume file already: a kill now loses nothing.
  CHECK(have_in_resume_file(f.resume_file) == result.have);
}

TEST_CASE("pieces the resume file claims stay had; claims past a file's end are dropped",
          "[disk_scan]") {
  Fixture f;
  // a.bin complete on disk; b.bin truncated to half of its first piece.
  testing::write_text(f.dst / "rel/a.bin", f.a);
  write_range(f.dst / "rel/b.bin", f.b, 0, piece / 2, piece / 2);
  ResumeData claimed;
  claimed.have.assign(static_cast<std::size_t>(f.meta->num_pieces()), false);
  const auto a0 = static_cast<std::size_t>(f.piece_of("rel/a.bin", 0));
  const auto b1 = static_cast<std::size_t>(f.piece_of("rel/b.bin", piece));
  claimed.have[a0] = true;  // on disk
  claimed.have[b1] = true;  // its bytes are gone
  claimed.downloaded = 12345;

  const DiskScan d = f.scan(claimed);
  CHECK(d.claimed == 2);
  CHECK(d.dropped == 1);
  CHECK(d.found == 3);  // a.bin's other pieces, not hashed again for piece 0
  const ResumeData result = disk_scan_result(d);
  CHECK(result.have[a0]);
  CHECK_FALSE(result.have[b1]);
  CHECK(result.have[static_cast<std::size_t>(f.piece_of("rel/a.bin", 3 * piece))]);
  CHECK(result.downloaded == 12345);  // the counters go on from the resume state given
  CHECK(have_in_resume_file(f.resume_file) == result.have);
}

TEST_CASE("files not wanted are not scanned", "[disk_scan]") {
  Fixture f;
  testing::write_text(f.dst / "rel/a.bin", f.a);
  testing::write_text(f.dst / "rel/b.bin", f.b);
  DiskScan d = make_disk_scan(*f.meta, std::nullopt, f.dst.path(), f.resume_file);
  d.wanted_lt.assign(static_cast<std::size_t>(f.meta->num_files()), false);
  const auto& fs = LtBackend::loaded(*f.meta).ti->files();
  for (const auto fi : fs.file_range()) {
    if (fs.file_path(fi) == "rel/b.bin")
      d.wanted_lt[static_cast<std::size_t>(static_cast<int>(fi))] = true;
  }
  run_disk_scan(d);
  CHECK(d.found == 2);  // b.bin's two pieces only
  const ResumeData result = disk_scan_result(d);
  CHECK_FALSE(result.have[static_cast<std::size_t>(f.piece_of("rel/a.bin", 0))]);
  CHECK(result.have[static_cast<std::size_t>(f.piece_of("rel/b.bin", 0))]);
}
