// Piece size and metadata policy for very large releases (docs/manifest-format.md §7.4), and
// one read of the data per torrent build.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/load_torrent.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_info.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include "core/publish/torrent_builder.hpp"
#include "support/temp_dir.hpp"

using weights::piece_length_for_total;
using weights::testing::TempDir;

namespace {

constexpr std::uint64_t MiB = 1024ULL * 1024;
constexpr std::uint64_t GiB = 1024 * MiB;
constexpr std::uint64_t TiB = 1024 * GiB;
constexpr int kLtDefaultMaxBuffer = 10000000;  // lt::load_torrent_limits::max_buffer_size

// Builds the hybrid and the v1 companion .torrent of `sizes` (one file each, under `name`/) the
// way torrent_builder does (no attributes, canonical layout, piece length from the policy),
// with placeholder hashes instead of reading data: the metadata size depends only on the
// file list and the piece count.
struct Metadata {
  std::vector<char> hybrid, companion;
  int pieces = 0;
  std::uint64_t piece_length = 0;
};

Metadata simulate(const std::vector<std::uint64_t>& sizes) {
  std::uint64_t total = 0;
  for (auto s : sizes) total += s;
  Metadata m;
  m.piece_length = piece_length_for_total(total);
  lt::file_storage fs;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    fs.add_file("0123abcd/model-" + std::to_string(100000 + i) + ".safetensors",
                static_cast<std::int64_t>(sizes[i]));
  }
  // Distinct placeholders: identical files would share one pieces root, and the "piece layers"
  // dictionary (keyed by root) would then hold one layer for all of them.
  auto h1 = [](int piece) {
    lt::sha1_hash h;
    std::memcpy(h.data(), &piece, sizeof piece);
    h[19] = 1;  // an all-zero hash means "missing" to libtorrent
    return h;
  };
  auto h2 = [](int file, int piece) {
    lt::sha256_hash h;
    std::memcpy(h.data(), &file, sizeof file);
    std::memcpy(h.data() + 8, &piece, sizeof piece);
    h[31] = 1;
    return h;
  };
  {
    lt::create_torrent ct(fs, static_cast<int>(m.piece_length), lt::create_torrent::no_attributes);
    ct.set_creation_date(0);
    for (const auto p : ct.piece_range()) ct.set_hash(p, h1(static_cast<int>(p)));
    for (const auto f : ct.file_range()) {
      if (ct.files().pad_file_at(f) || ct.files().file_size(f) == 0) continue;
      for (const auto p : ct.file_piece_range(f)) ct.set_hash2(f, p, h2(static_cast<int>(f), p));
    }
    m.hybrid = ct.generate_buf();
    m.pieces = ct.num_pieces();
  }
  lt::create_torrent c1(fs, static_cast<int>(m.piece_length),
                        lt::create_torrent::v1_only | lt::create_torrent::canonical_files |
                            lt::create_torrent::no_attributes);
  c1.set_creation_date(0);
  for (const auto p : c1.piece_range()) c1.set_hash(p, h1(static_cast<int>(p)));
  m.companion = c1.generate_buf();
  return m;
}

std::uint64_t disk_bytes(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

}  // namespace

TEST_CASE("piece length policy keeps metadata under libtorrent's default limits up to 4 TiB") {
  // 20 B (v1) + 32 B (v2 piece layer) per piece, plus the per-file padding piece.
  for (const std::uint64_t total : {GiB, 96 * GiB, TiB, 4 * TiB}) {
    const auto pl = piece_length_for_total(total);
    const std::uint64_t pieces = total / pl;
    INFO("total " << total << " piece length " << pl);
    CHECK(pieces * 52 < static_cast<std::uint64_t>(kLtDefaultMaxBuffer));
    CHECK(pieces <= static_cast<std::uint64_t>(
                        lt::settings_pack().get_int(lt::settings_pack::max_piece_count)));
    CHECK(pl <= 64 * MiB);
  }
}

TEST_CASE("the file list of a 1 TB release gives loadable metadata within limits") {
  // 1 TB (10^12 bytes): 200 shards of 5 GB (not piece-aligned, so every shard gets a pad file)
  // plus the usual small files.
  std::vector<std::uint64_t> sizes(200, 5'000'000'000ULL);
  sizes.push_back(826);
  sizes.push_back(9'085'657);
  sizes.push_back(0);
  const Metadata m = simulate(sizes);
  CHECK(m.piece_length == 16 * MiB);
  CHECK(m.pieces == 200 * 299 + 2);  // ceil(5e9 / 16 MiB) = 299 per shard, one per small file
  INFO("hybrid " << m.hybrid.size() << " B, companion " << m.companion.size() << " B");
  // v1 pieces (20 B each) plus every shard's piece layer (32 B per piece): ~3.1 MB.
  CHECK(m.hybrid.size() > static_cast<std::size_t>(m.pieces) * 52);
  CHECK(m.hybrid.size() < static_cast<std::size_t>(kLtDefaultMaxBuffer) / 2);
  CHECK(m.companion.size() < m.hybrid.size());
  // Other clients use libtorrent's default limits: both must load with them.
  lt::add_torrent_params atp;
  REQUIRE_NOTHROW(atp = lt::load_torrent_buffer(
                      {m.hybrid.data(), static_cast<std::ptrdiff_t>(m.hybrid.size())}));
  CHECK(atp.ti->num_pieces() == m.pieces);
  CHECK(atp.ti->info_hashes().has_v1());
  CHECK(atp.ti->info_hashes().has_v2());
  REQUIRE_NOTHROW(atp = lt::load_torrent_buffer(
                      {m.companion.data(), static_cast<std::ptrdiff_t>(m.companion.size())}));
  CHECK(atp.ti->num_pieces() == m.pieces);
}

TEST_CASE("building the torrents of a sparse release reads each byte once") {
  // ~224 MiB in sparse files (holes, with a little data at both ends of each), so the test
  // costs almost no disk. Hashing still has to read every byte, holes included; the companion must
  // reuse the hybrid's SHA-1 pieces instead of reading the files a second time.
  TempDir tmp;
  const auto dir = tmp / "0123abcd";
  std::filesystem::create_directories(dir);
  const std::vector<std::uint64_t> sizes = {128 * MiB + 12345, 96 * MiB - 7, 4097};
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    paths.push_back("shard-" + std::to_string(i) + ".bin");
    const auto p = dir / paths.back();
    { std::ofstream(p, std::ios::binary) << "head" << i; }
    std::filesystem::resize_file(p, sizes[i]);
    std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(sizes[i] - 4));
    f << "tail";
  }
  std::uint64_t on_disk = 0, total = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    on_disk += disk_bytes(dir / paths[i]);
    total += sizes[i];
  }
  REQUIRE(on_disk < 8 * MiB);  // really sparse

  weights::TorrentBuildInput in;
  in.source_dir = dir;
  in.revision = "0123abcd";
  auto files = weights::describe_release_files(dir, paths);
  REQUIRE(files);
  in.files = *files;
  in.piece_length = 4 * MiB;
  auto built = weights::build_torrents(in);
  REQUIRE(built);

  auto ti = std::make_shared<lt::torrent_info>(
      lt::span<const char>(built->hybrid.data(), static_cast<std::ptrdiff_t>(built->hybrid.size())),
      lt::from_span);
  // One pass: libtorrent hashed exactly the hybrid's pieces, not them and the companion's.
  CHECK(built->pieces_hashed == static_cast<std::uint64_t>(ti->num_pieces()));
  CHECK(static_cast<std::uint64_t>(ti->num_pieces()) * 4 * MiB >= total);

  // The companion built from the hybrid's pieces is the one libtorrent makes by hashing.
  lt::file_storage fs;
  for (const auto& f : in.files) {
    fs.add_file("0123abcd/" + f.path, static_cast<std::int64_t>(f.length));
  }
  lt::create_torrent c1(fs, static_cast<int>(4 * MiB),
                        lt::create_torrent::v1_only | lt::create_torrent::canonical_files |
                            lt::create_torrent::no_attributes);
  lt::set_piece_hashes(c1, tmp.path().string());
  const auto buf = c1.generate_buf();
  const lt::torrent_info independent(buf, lt::from_span);
  const lt::torrent_info companion(
      lt::span<const char>(built->v1_companion.data(),
                           static_cast<std::ptrdiff_t>(built->v1_companion.size())),
      lt::from_span);
  CHECK(companion.info_hashes().v1 == independent.info_hashes().v1);
  std::ostringstream hex;
  hex << companion.info_hashes().v1;
  CHECK(hex.str() == built->companion_v1_infohash);
}
