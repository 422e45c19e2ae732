#include "daemon/engine/lt_backend.hpp"

#include <fstream>
#include <random>
#include <string>

#include <catch2/catch.hpp>
#include <libtorrent/create_torrent.hpp>

#include "support/temp_dir.hpp"

using namespace weights::daemon;
using weights::testing::TempDir;

namespace {

constexpr int piece = 64 * 1024;

void write_random(const std::filesystem::path& p, std::size_t n, unsigned seed) {
  std::filesystem::create_directories(p.parent_path());
  std::mt19937 g(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(g());
  std::ofstream(p, std::ios::binary) << s;
}

// A hybrid .torrent of src/rel written to `out`.
void make_torrent(const std::filesystem::path& src, const std::filesystem::path& out) {
  lt::file_storage fs;
  lt::add_files(fs, (src / "rel").string(), lt::create_torrent::no_attributes);
  lt::create_torrent ct(fs, piece, lt::create_torrent::no_attributes);
  lt::set_piece_hashes(ct, src.string());
  const auto buf = ct.generate_buf();
  std::ofstream(out, std::ios::binary).write(buf.data(), static_cast<std::streamsize>(buf.size()));
}

}  // namespace

TEST_CASE("an add from a .torrent hands libtorrent the piece layer of every multi-piece file",
          "[lt_backend]") {
  TempDir dir;
  write_random(dir / "src/rel/big.bin", 5 * piece + 100, 1);  // 6 pieces: has a layer
  write_random(dir / "src/rel/small.bin", piece / 2, 2);      // 1 piece: its root is the hash
  make_torrent(dir / "src", dir / "t.torrent");

  auto meta = LtBackend::read_torrent(dir / "t.torrent");
  REQUIRE(meta);
  AddRequest req;
  req.torrent = *meta;
  req.save_path = dir / "dst";
  const auto atp = LtBackend::params_of(req);

  const auto& files = atp.ti->files();
  REQUIRE(atp.merkle_trees.end_index() == files.end_file());
  REQUIRE(atp.merkle_tree_mask.end_index() == files.end_file());
  bool saw_big = false;
  for (const auto f : files.file_range()) {
    if (files.file_path(f) != "rel/big.bin") continue;
    saw_big = true;
    CHECK(atp.merkle_trees[f].size() == 6);  // one SHA-256 per piece
    CHECK(std::count(atp.merkle_tree_mask[f].begin(), atp.merkle_tree_mask[f].end(), true) == 6);
  }
  CHECK(saw_big);

  // A second add of the same release (a restart, a re-add after removal) gets them too.
  CHECK(LtBackend::params_of(req).merkle_trees[lt::file_index_t(0)] ==
        atp.merkle_trees[lt::file_index_t(0)]);
}

TEST_CASE("a torrent error says whether the disk is full or the v1 and v2 hashes disagreed",
          "[lt_backend]") {
  using weights::daemon::LtBackend;
  using weights::daemon::TorrentErrorKind;
  CHECK(LtBackend::error_kind(boost::system::errc::make_error_code(
            boost::system::errc::no_space_on_device)) == TorrentErrorKind::no_space);
  CHECK(LtBackend::error_kind(lt::errors::torrent_inconsistent_hashes) ==
        TorrentErrorKind::inconsistent_hashes);
  CHECK(LtBackend::error_kind(lt::errors::failed_hash_check) == TorrentErrorKind::other);
  CHECK(LtBackend::error_kind(boost::system::errc::make_error_code(
            boost::system::errc::permission_denied)) == TorrentErrorKind::other);
}
