#include "core/util/file_hash.hpp"

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/torrent_info.hpp>
#include <openssl/evp.h>

#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using weights::FileDigest;
using weights::HashOptions;
using weights::crypto::Sha256;
using weights::testing::TempDir;

using weights::testing::random_bytes;
using weights::testing::write_text;

namespace {

std::string hex(std::span<const std::uint8_t> d) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (auto b : d) s += {kDigits[b >> 4], kDigits[b & 15]};
  return s;
}

Sha256 sha256_of(std::string_view data) {
  Sha256 out{};
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

// Textbook BEP 52, independent of the streaming builder: hash every 16 KiB block, pad the leaf
// layer with zero hashes to a power of two, hash pairs until one node is left.
std::optional<Sha256> naive_bt_root(const std::string& data) {
  std::vector<Sha256> layer;
  for (std::size_t off = 0; off < data.size(); off += 16384) {
    layer.push_back(sha256_of(std::string_view(data).substr(off, 16384)));
  }
  if (layer.empty()) return std::nullopt;
  std::size_t width = 1;
  while (width < layer.size()) width *= 2;
  layer.resize(width, Sha256{});
  while (layer.size() > 1) {
    std::vector<Sha256> up;
    for (std::size_t i = 0; i < layer.size(); i += 2) {
      std::string pair(reinterpret_cast<const char*>(layer[i].data()), 32);
      pair.append(reinterpret_cast<const char*>(layer[i + 1].data()), 32);
      up.push_back(sha256_of(pair));
    }
    layer.swap(up);
  }
  return layer[0];
}

const std::vector<std::size_t> kEdgeSizes = {0,     1,         16383,         16384,
                                             16385, 3 * 16384, 3 * 16384 + 5, 1024 * 1024 + 1};

}  // namespace

TEST_CASE("pieces root matches a naive BEP 52 implementation at block-boundary sizes",
          "[file_hash]") {
  TempDir dir;
  for (std::size_t size : kEdgeSizes) {
    const std::string data = random_bytes(size, static_cast<std::uint32_t>(size));
    write_text(dir / "f", data);
    // A small buffer makes the reader cross several chunks even for these sizes.
    for (std::size_t buffer : {std::size_t{16384}, std::size_t{65536}, std::size_t{4 << 20}}) {
      INFO("size " << size << " buffer " << buffer);
      HashOptions opts;
      opts.buffer_bytes = buffer;
      auto d = weights::hash_file(dir / "f", opts);
      REQUIRE(d);
      CHECK(d->length == size);
      CHECK(hex(d->sha256) == hex(sha256_of(data)));
      const auto naive = naive_bt_root(data);
      REQUIRE(d->bt_root.has_value() == naive.has_value());
      if (naive) CHECK(hex(*d->bt_root) == hex(*naive));
    }
  }
}

TEST_CASE("an empty file has no pieces root and the empty SHA-256", "[file_hash]") {
  TempDir dir;
  write_text(dir / "empty", "");
  auto d = weights::hash_file(dir / "empty");
  REQUIRE(d);
  CHECK(d->length == 0);
  CHECK_FALSE(d->bt_root);
  CHECK(hex(d->sha256) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  REQUIRE(d->git_oid);
  CHECK(hex(*d->git_oid) == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
}

TEST_CASE("a file up to 16 KiB has pieces root equal to its SHA-256", "[file_hash]") {
  TempDir dir;
  write_text(dir / "f", random_bytes(10000, 7));
  auto d = weights::hash_file(dir / "f");
  REQUIRE(d);
  REQUIRE(d->bt_root);
  CHECK(*d->bt_root == d->sha256);
}

TEST_CASE("git blob oid matches git hash-object and is skipped above the threshold",
          "[file_hash]") {
  TempDir dir;
  write_text(dir / "hello", "hello\n");
  auto d = weights::hash_file(dir / "hello");
  REQUIRE(d);
  REQUIRE(d->git_oid);
  CHECK(hex(*d->git_oid) == "ce013625030ba8dba906f756967f9e9ca394464a");

  HashOptions small;
  small.git_oid_max_bytes = 5;
  auto big = weights::hash_file(dir / "hello", small);
  REQUIRE(big);
  CHECK_FALSE(big->git_oid);
  small.git_oid_max_bytes = 6;  // inclusive
  CHECK(weights::hash_file(dir / "hello", small)->git_oid);

  HashOptions none;
  none.git_oid = weights::GitOid::skip;
  CHECK_FALSE(weights::hash_file(dir / "hello", none)->git_oid);
}

TEST_CASE("pieces roots equal libtorrent's files().root()", "[file_hash][libtorrent]") {
  TempDir dir;
  lt::file_storage fs;
  std::vector<std::string> names;
  for (std::size_t size : kEdgeSizes) {
    const std::string name = "file" + std::to_string(size);
    write_text(dir / "root" / name, random_bytes(size, static_cast<std::uint32_t>(size) + 1));
    fs.add_file("root/" + name, static_cast<std::int64_t>(size));
    names.push_back(name);
  }
  lt::create_torrent ct(fs, 64 * 1024, lt::create_torrent::no_attributes);
  lt::error_code ec;
  lt::set_piece_hashes(ct, dir.path().string(), ec);
  REQUIRE_FALSE(ec);
  const std::vector<char> buf = ct.generate_buf();
  lt::torrent_info ti(buf, ec, lt::from_span);
  REQUIRE_FALSE(ec);
  int checked = 0;
  for (const lt::file_index_t i : ti.files().file_range()) {
    if (ti.files().pad_file_at(i)) continue;
    const std::string path = ti.files().file_path(i);
    INFO(path);
    auto d = weights::hash_file(dir / path);
    REQUIRE(d);
    const lt::sha256_hash lt_root = ti.files().root(i);
    if (d->length == 0) {
      CHECK(lt_root.is_all_zeros());
      CHECK_FALSE(d->bt_root);
    } else {
      REQUIRE(d->bt_root);
      CHECK(hex(*d->bt_root) == hex({reinterpret_cast<const std::uint8_t*>(lt_root.data()), 32}));
    }
    ++checked;
  }
  CHECK(checked == static_cast<int>(kEdgeSizes.size()));
}

TEST_CASE("hashing many files in parallel gives the same results in input order", "[file_hash]") {
  TempDir dir;
  std::vector<std::filesystem::path> files;
  for (std::uint32_t i = 0; i < 9; ++i) {
    files.push_back(dir / ("f" + std::to_string(i)));
    write_text(files.back(), random_bytes(i * 40000 + 3, i));
  }
  for (unsigned threads : {1u, 2u, 4u, 32u}) {
    HashOptions opts;
    opts.threads = threads;
    auto all = weights::hash_files(files, opts);
    REQUIRE(all);
    REQUIRE(all->size() == files.size());
    for (std::size_t i = 0; i < files.size(); ++i) {
      auto one = weights::hash_file(files[i]);
      REQUIRE(one);
      CHECK((*all)[i].sha256 == one->sha256);
      CHECK((*all)[i].bt_root == one->bt_root);
      CHECK((*all)[i].length == i * 40000 + 3);
    }
  }
  CHECK(weights::hash_files({})->empty());
}

TEST_CASE("a missing file or a directory is an error naming the path", "[file_hash]") {
  TempDir dir;
  auto missing = weights::hash_file(dir / "nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == weights::Errc::not_found);
  CHECK_THAT(missing.error().message, Catch::Contains("nope"));
  auto directory = weights::hash_file(dir.path());
  REQUIRE_FALSE(directory);
  CHECK(directory.error().code == weights::Errc::io_error);

  write_text(dir / "ok", "x");
  const std::vector<std::filesystem::path> files = {dir / "ok", dir / "nope"};
  auto batch = weights::hash_files(files);
  REQUIRE_FALSE(batch);
  CHECK_THAT(batch.error().message, Catch::Contains("nope"));
}

TEST_CASE("piece-layer style roots: leaves at a higher level pad with zero subtrees",
          "[file_hash]") {
  // A 5-block file with 2-block "pieces": the root over piece hashes (leaf_height 1, padded with
  // merkle_pad_hash(1)) must equal the root over the block hashes.
  const std::string data = random_bytes(4 * 16384 + 100, 99);
  std::vector<Sha256> blocks;
  for (std::size_t off = 0; off < data.size(); off += 16384) {
    blocks.push_back(sha256_of(std::string_view(data).substr(off, 16384)));
  }
  blocks.resize(6, Sha256{});  // pad the last piece to whole blocks
  std::vector<Sha256> pieces;
  for (std::size_t i = 0; i < blocks.size(); i += 2) {
    pieces.push_back(*weights::merkle_root(std::span(blocks).subspan(i, 2)));
  }
  CHECK(*weights::merkle_root(pieces, 1) == *naive_bt_root(data));
  CHECK(weights::merkle_pad_hash(0) == Sha256{});
  CHECK_FALSE(weights::merkle_root({}));
}

TEST_CASE("the two-thread pipeline gives the same digests as one thread across slab boundaries",
          "[file_hash]") {
  TempDir dir;
  // Slabs are >= 1 MiB: these sizes end exactly on, just before and just after slab boundaries
  // and span several slabs, so slab reuse (4 slabs) is exercised too.
  for (std::size_t size :
       {std::size_t{0}, std::size_t{1}, std::size_t{16384}, std::size_t{1 << 20},
        std::size_t{(1 << 20) - 1}, std::size_t{(1 << 20) + 1}, std::size_t{(9 << 20) + 12345}}) {
    const std::string data = random_bytes(size, static_cast<std::uint32_t>(size + 7));
    write_text(dir / "f", data);
    for (std::size_t buffer : {std::size_t{16384}, std::size_t{65536}}) {
      INFO("size " << size << " buffer " << buffer);
      HashOptions one;
      one.buffer_bytes = buffer;
      HashOptions two = one;
      two.pipeline = weights::Pipeline::two_threads;
      auto a = weights::hash_file(dir / "f", one);
      auto b = weights::hash_file(dir / "f", two);
      REQUIRE(a);
      REQUIRE(b);
      CHECK(b->length == size);
      CHECK(hex(b->sha256) == hex(a->sha256));
      CHECK(hex(b->sha256) == hex(sha256_of(data)));
      REQUIRE(b->bt_root.has_value() == a->bt_root.has_value());
      if (a->bt_root) CHECK(hex(*b->bt_root) == hex(*a->bt_root));
      REQUIRE(b->git_oid.has_value() == a->git_oid.has_value());
      if (a->git_oid) CHECK(hex(*b->git_oid) == hex(*a->git_oid));
    }
  }
}
