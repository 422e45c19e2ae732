#include "daemon/piece_scan.hpp"

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/torrent_info.hpp>
#include <unistd.h>

#include "support/temp_dir.hpp"

using namespace weights::daemon;
using weights::testing::TempDir;

namespace {

constexpr int piece = 64 * 1024;

std::string bytes(std::size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(g());
  return s;
}

void write(const std::filesystem::path& p, const std::string& data) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

// A hybrid torrent of `files` (name -> bytes) under src/rel.
std::shared_ptr<lt::torrent_info> make_torrent(const std::filesystem::path& src) {
  lt::file_storage fs;
  lt::add_files(fs, (src / "rel").string(), lt::create_torrent::no_attributes);
  lt::create_torrent ct(fs, piece, lt::create_torrent::no_attributes);
  lt::set_piece_hashes(ct, src.string());
  const auto buf = ct.generate_buf();
  return std::make_shared<lt::torrent_info>(buf, lt::from_span);
}

// Copies [offset, offset+len) of `data` into `p` at the same offset (a sparse file of `size`).
void write_range(const std::filesystem::path& p, const std::string& data, std::int64_t offset,
                 std::int64_t len) {
  std::filesystem::create_directories(p.parent_path());
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(data.size())) == 0);
  REQUIRE(::pwrite(fd, data.data() + offset, static_cast<std::size_t>(len),
                   static_cast<off_t>(offset)) == len);
  ::close(fd);
}

}  // namespace

TEST_CASE("the scan finds the whole pieces on disk and skips holes and claimed pieces",
          "[piece_scan]") {
  TempDir src, dst;
  const auto a = bytes(5 * piece + 1000, 1);  // pieces 0-5 (a pad follows in a hybrid)
  const auto b = bytes(3 * piece, 2);
  write(src / "rel/a.bin", a);
  write(src / "rel/b.bin", b);
  const auto ti = make_torrent(src.path());
  const auto& fs = ti->files();
  // Piece 1 and 3 of a.bin written, piece 2 half written; b.bin: its second piece, corrupted
  // in its last byte, and its third piece intact.
  write_range(dst / "rel/a.bin", a, piece, piece);
  write_range(dst / "rel/a.bin", a, 2 * piece, piece / 2);
  write_range(dst / "rel/a.bin", a, 3 * piece, piece);
  auto bad = b;
  bad[2 * piece - 1] ^= 1;
  write_range(dst / "rel/b.bin", bad, piece, piece);
  write_range(dst / "rel/b.bin", b, 2 * piece, piece);
  lt::file_index_t b_index{};
  for (const auto fi : fs.file_range()) {
    if (fs.file_path(fi) == "rel/b.bin") b_index = fi;
  }
  REQUIRE(fs.file_path(b_index) == "rel/b.bin");
  const auto first_b = fs.map_file(b_index, 0, 0).piece;

  int progress_calls = 0;
  auto all = [](lt::piece_index_t) { return true; };
  const auto r =
      scan_pieces(*ti, dst.path(), all, piece,
                  [&](const lt::typed_bitfield<lt::piece_index_t>&) { ++progress_calls; });
  std::vector<int> found;
  for (const auto p : r.found.range()) {
    if (r.found.get_bit(p)) found.push_back(static_cast<int>(p));
  }
  const int fb = static_cast<int>(first_b);
  CHECK(found == std::vector<int>{1, 3, fb + 2});
  // Where the filesystem reports holes (SEEK_HOLE) only the 4 pieces without one are read;
  // elsewhere every piece is read, and only whole correct ones are found either way.
  CHECK(r.pieces_hashed >= 4);
  CHECK(progress_calls == r.pieces_hashed);

  // Pieces the caller already has are not looked at.
  const auto r2 = scan_pieces(*ti, dst.path(), [](lt::piece_index_t p) { return p != 1; });
  CHECK_FALSE(r2.found.get_bit(lt::piece_index_t(1)));
  CHECK(r2.found.get_bit(lt::piece_index_t(3)));
}

TEST_CASE("claimed pieces beyond a file's end are dropped", "[piece_scan]") {
  TempDir src, dst;
  const auto a = bytes(4 * piece, 3);
  write(src / "rel/a.bin", a);
  write(src / "rel/b.bin", bytes(100, 4));
  const auto ti = make_torrent(src.path());
  write(dst / "rel/a.bin", a.substr(0, 2 * piece + 10));  // truncated after piece 1
  lt::typed_bitfield<lt::piece_index_t> have(ti->num_pieces(), true);
  const auto dropped = drop_pieces_past_eof(*ti, dst.path(), have);
  CHECK(have.get_bit(lt::piece_index_t(0)));
  CHECK(have.get_bit(lt::piece_index_t(1)));
  CHECK_FALSE(have.get_bit(lt::piece_index_t(2)));
  CHECK_FALSE(have.get_bit(lt::piece_index_t(3)));
  CHECK(dropped == ti->num_pieces() - 2);  // b.bin is missing too
}
