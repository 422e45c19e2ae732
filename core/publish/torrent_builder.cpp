#include "core/publish/torrent_builder.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <map>
#include <system_error>

#include <fmt/format.h>
#include <libtorrent/bdecode.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/torrent_info.hpp>

#include "core/util/encoding.hpp"
#include "core/util/path_policy.hpp"

namespace weights {
namespace {

// Decoding limits for torrents we check. A 4 TiB release at 32 MiB pieces needs ~7 MB.
constexpr int kMaxTorrentBytes = 64 * 1024 * 1024;
constexpr int kMaxDecodeDepth = 100;
constexpr int kMaxDecodeTokens = 4000000;

template <class Digest>
std::string digest_hex(const Digest& d) {
  return to_hex(
      {reinterpret_cast<const std::uint8_t*>(d.data()), static_cast<std::size_t>(d.size())});
}

std::string quote_path(std::string_view path) {
  return "\"" + escape_path_for_message(path) + "\"";
}

bool is_valid_piece_length(std::uint64_t n) {
  return std::has_single_bit(n) && n >= min_piece_length && n <= max_piece_length;
}

// Compares libtorrent's view of a torrent with the expected file set. Shared by the builder
// (checking its own output) and by check_torrent_against_manifest.
Status check_layout(const lt::torrent_info& ti, std::string_view revision,
                    const std::vector<ReleaseFile>& files, TorrentKind kind, PieceLayers layers) {
  const auto& hashes = ti.info_hashes();
  if (kind == TorrentKind::hybrid && !(hashes.has_v1() && hashes.has_v2())) {
    return fail(Errc::wrong_target, "torrent is not a hybrid v1+v2 torrent");
  }
  if (kind == TorrentKind::v1_companion && !(hashes.has_v1() && !hashes.has_v2())) {
    return fail(Errc::wrong_target, "torrent is not a v1-only torrent");
  }
  if (ti.name() != revision) {
    return fail(Errc::wrong_target, fmt::format("torrent name {} is not the revision {}",
                                                quote_path(ti.name()), quote_path(revision)));
  }
  std::map<std::string_view, std::size_t> expected;
  for (std::size_t i = 0; i < files.size(); ++i) expected.emplace(files[i].path, i);
  std::vector<bool> seen(files.size(), false);

  const lt::file_storage& fs = ti.files();
  const auto piece_length = static_cast<std::uint64_t>(ti.piece_length());
  const std::string prefix = std::string(revision) + "/";
  for (const lt::file_index_t idx : fs.file_range()) {
    if (fs.pad_file_at(idx)) continue;
    const std::string full = fs.file_path(idx);
    // Single-file torrents have no root directory: their one path is the name itself.
    if (!full.starts_with(prefix)) {
      return fail(Errc::wrong_target,
                  fmt::format("torrent file {} is outside the root directory {}", quote_path(full),
                              quote_path(prefix)));
    }
    const std::string_view path = std::string_view(full).substr(prefix.size());
    const auto it = expected.find(path);
    if (it == expected.end()) {
      return fail(Errc::wrong_target,
                  fmt::format("torrent has file {} which is not in the release", quote_path(path)));
    }
    if (seen[it->second]) {
      return fail(Errc::wrong_target, fmt::format("torrent lists {} twice", quote_path(path)));
    }
    seen[it->second] = true;
    // Our torrents carry no attributes; a symlink entry would make libtorrent create a link
    // instead of a file, and an executable bit would make downloaded weights executable.
    if (fs.file_flags(idx) & (lt::file_storage::flag_symlink | lt::file_storage::flag_executable)) {
      return fail(Errc::wrong_target,
                  fmt::format("torrent marks {} as a symlink or executable", quote_path(path)));
    }
    const ReleaseFile& want = files[it->second];
    const auto size = static_cast<std::uint64_t>(fs.file_size(idx));
    if (size != want.length) {
      return fail(Errc::length_mismatch,
                  fmt::format("torrent file {} is {} bytes, the release says {}", quote_path(path),
                              size, want.length));
    }
    if (kind != TorrentKind::hybrid) continue;

    const lt::sha256_hash root = fs.root(idx);
    if (want.length == 0) {
      if (!root.is_all_zeros()) {
        return fail(Errc::hash_mismatch,
                    fmt::format("torrent gives empty file {} a pieces root", quote_path(path)));
      }
      continue;
    }
    if (digest_hex(root) != want.bt_root) {
      return fail(Errc::hash_mismatch,
                  fmt::format("torrent file {} has pieces root {}, the release says {}",
                              quote_path(path), digest_hex(root), want.bt_root));
    }
    // Files up to one piece have no piece layer: the root is the piece hash.
    if (want.length <= piece_length) continue;
    const lt::span<const char> layer = ti.piece_layer(idx);
    if (layer.empty()) {
      if (layers == PieceLayers::if_present) continue;
      return fail(Errc::hash_mismatch,
                  fmt::format("torrent has no piece layer for {}", quote_path(path)));
    }
    const std::uint64_t pieces = (want.length + piece_length - 1) / piece_length;
    if (static_cast<std::uint64_t>(layer.size()) != pieces * 32) {
      return fail(Errc::hash_mismatch, fmt::format("piece layer of {} has {} bytes, expected {}",
                                                   quote_path(path), layer.size(), pieces * 32));
    }
    MerkleTreeBuilder tree(static_cast<unsigned>(std::countr_zero(piece_length / bt_block_size)));
    for (std::size_t off = 0; off < static_cast<std::size_t>(layer.size()); off += 32) {
      crypto::Sha256 leaf;
      std::copy_n(reinterpret_cast<const std::uint8_t*>(layer.data()) + off, 32, leaf.begin());
      tree.add_leaf(leaf);
    }
    const auto layer_root = tree.finish();
    if (!layer_root || to_hex(*layer_root) != want.bt_root) {
      return fail(
          Errc::hash_mismatch,
          fmt::format("piece layer of {} does not hash to its pieces root", quote_path(path)));
    }
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (!seen[i]) {
      return fail(Errc::wrong_target,
                  fmt::format("torrent lacks release file {}", quote_path(files[i].path)));
    }
  }
  return {};
}

Result<std::shared_ptr<lt::torrent_info>> load_torrent(std::string_view bytes) {
  if (bytes.size() > static_cast<std::size_t>(kMaxTorrentBytes)) {
    return fail(Errc::too_large, fmt::format("torrent is {} bytes, the limit is {}", bytes.size(),
                                             kMaxTorrentBytes));
  }
  lt::error_code ec;
  int error_pos = 0;
  const lt::bdecode_node node =
      lt::bdecode({bytes.data(), static_cast<std::ptrdiff_t>(bytes.size())}, ec, &error_pos,
                  kMaxDecodeDepth, kMaxDecodeTokens);
  if (ec) {
    return fail(Errc::parse_error,
                fmt::format("torrent: bencoding error at byte {}: {}", error_pos, ec.message()));
  }
  auto ti = std::make_shared<lt::torrent_info>(node, ec);
  if (ec) return fail(Errc::parse_error, fmt::format("torrent: {}", ec.message()));
  return ti;
}

// set_piece_hashes() reads <parent>/<file_storage path> = <parent>/<revision>/<path>. When the
// source directory is not named after the revision, a private temp dir holding a symlink
// <revision> -> source_dir provides that layout without copying or renaming anything.
class SourceRoot {
 public:
  static Result<SourceRoot> make(const std::filesystem::path& source_dir,
                                 const std::string& revision) {
    SourceRoot root;
    std::error_code ec;
    const auto abs = std::filesystem::absolute(source_dir, ec);
    if (ec) return fail(Errc::io_error, fmt::format("{}: {}", source_dir.string(), ec.message()));
    const auto normal = abs.lexically_normal();
    const auto dir = normal.has_filename() ? normal : normal.parent_path();
    if (dir.filename() == revision) {
      root.parent_ = dir.parent_path();
      return root;
    }
    std::string pattern =
        (std::filesystem::temp_directory_path(ec) / "weightsd-torrent-XXXXXX").string();
    if (ec || ::mkdtemp(pattern.data()) == nullptr) {
      return fail(Errc::io_error, "cannot create a temporary directory for torrent creation");
    }
    root.temp_ = pattern;
    root.parent_ = pattern;
    std::filesystem::create_directory_symlink(dir, root.parent_ / revision, ec);
    if (ec) return fail(Errc::io_error, fmt::format("symlink in {}: {}", pattern, ec.message()));
    return root;
  }
  SourceRoot(SourceRoot&& other) noexcept
      : parent_(std::move(other.parent_)), temp_(std::move(other.temp_)) {
    other.temp_.clear();
  }
  SourceRoot& operator=(SourceRoot&&) = delete;
  ~SourceRoot() {
    std::error_code ec;
    if (!temp_.empty()) std::filesystem::remove_all(temp_, ec);  // removes the link, not the target
  }
  const std::filesystem::path& parent() const { return parent_; }

 private:
  SourceRoot() = default;
  std::filesystem::path parent_;
  std::filesystem::path temp_;
};

// True if `a` (being created) and `b` lay out the same bytes in the same pieces: same piece
// count and length, same files (pads included) at the same offsets.
bool same_piece_space(const lt::file_storage& a, const lt::file_storage& b) {
  if (a.piece_length() != b.piece_length() || a.num_pieces() != b.num_pieces() ||
      a.num_files() != b.num_files() || a.total_size() != b.total_size()) {
    return false;
  }
  for (const auto fi : a.file_range()) {
    if (a.file_path(fi) != b.file_path(fi) || a.file_size(fi) != b.file_size(fi) ||
        a.file_offset(fi) != b.file_offset(fi) || a.pad_file_at(fi) != b.pad_file_at(fi)) {
      return false;
    }
  }
  return true;
}

// `v1_from`: a torrent with the same piece space whose v1 piece hashes are reused instead of
// reading the files again (the v1 companion takes the hybrid's: with canonical_files both have
// the same files, pads and pieces, so every SHA-1 covers the same bytes). Without it, or if the
// layouts differ, the files are hashed.
Result<std::string> create_one(const TorrentBuildInput& input, std::uint64_t piece_length,
                               lt::create_flags_t flags, const std::filesystem::path& parent,
                               const lt::torrent_info* v1_from = nullptr,
                               std::uint64_t* pieces_hashed = nullptr) {
  lt::file_storage fs;
  lt::error_code ec;
  for (const auto& f : input.files) {
    fs.add_file(ec, input.revision + "/" + f.path, static_cast<std::int64_t>(f.length));
    if (ec) {
      return fail(Errc::path_policy,
                  fmt::format("libtorrent rejected {}: {}", quote_path(f.path), ec.message()));
    }
  }
  // The constructor canonicalises v2 layouts (sorted file tree, pad files, tail padding).
  lt::create_torrent ct(fs, static_cast<int>(piece_length), flags);
  if (!input.creator.empty()) ct.set_creator(input.creator.c_str());
  ct.set_creation_date(0);  // omitted: the date would make every build's bytes differ
  for (const auto& url : input.web_seeds) ct.add_url_seed(url);
  for (std::size_t i = 0; i < input.trackers.size(); ++i) {
    ct.add_tracker(input.trackers[i], static_cast<int>(i));
  }
  if (v1_from && v1_from->info_hashes().has_v1() &&
      same_piece_space(ct.files(), v1_from->files())) {
    for (const lt::piece_index_t p : ct.piece_range()) ct.set_hash(p, v1_from->hash_for_piece(p));
  } else {
    std::uint64_t hashed = 0;
    lt::set_piece_hashes(
        ct, parent.string(), [&hashed](lt::piece_index_t) { ++hashed; }, ec);
    if (ec) return fail(Errc::io_error, fmt::format("hashing release files: {}", ec.message()));
    if (pieces_hashed) *pieces_hashed += hashed;
  }
  const std::vector<char> buf = ct.generate_buf();
  return std::string(buf.begin(), buf.end());
}

}  // namespace

std::uint64_t piece_length_for_total(std::uint64_t total_length) {
  constexpr std::uint64_t GiB = 1024ULL * 1024 * 1024;
  constexpr std::uint64_t MiB = 1024ULL * 1024;
  if (total_length <= 1 * GiB) return 1 * MiB;
  if (total_length <= 96 * GiB) return 4 * MiB;
  if (total_length <= 1024 * GiB) return 16 * MiB;
  if (total_length <= 4096 * GiB) return 32 * MiB;
  return 64 * MiB;
}

Result<std::vector<ReleaseFile>> describe_release_files(const std::filesystem::path& dir,
                                                        std::vector<std::string> paths,
                                                        const HashOptions& options) {
  std::sort(paths.begin(), paths.end());
  if (auto st = check_path_set(paths); !st) return tl::unexpected(st.error());
  std::vector<std::filesystem::path> full;
  full.reserve(paths.size());
  for (const auto& p : paths) full.push_back(dir / p);
  auto digests = hash_files(full, options);
  if (!digests) return tl::unexpected(digests.error());
  std::vector<ReleaseFile> out;
  out.reserve(paths.size());
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const FileDigest& d = (*digests)[i];
    ReleaseFile f;
    f.path = paths[i];
    f.length = d.length;
    f.sha256 = to_hex(d.sha256);
    if (d.bt_root) f.bt_root = to_hex(*d.bt_root);
    if (d.git_oid) f.git_oid = to_hex(*d.git_oid);
    out.push_back(std::move(f));
  }
  return out;
}

Result<BuiltTorrents> build_torrents(const TorrentBuildInput& input) {
  if (!is_valid_revision(input.revision)) {
    return fail(Errc::schema_error, fmt::format("revision {} is not a safe directory name",
                                                quote_path(input.revision)));
  }
  if (input.files.empty()) return fail(Errc::invalid_argument, "a torrent needs at least one file");
  std::vector<std::string> paths;
  std::uint64_t total = 0;
  for (const auto& f : input.files) {
    paths.push_back(f.path);
    total += f.length;
    if ((f.length == 0) != f.bt_root.empty()) {
      return fail(
          Errc::invalid_argument,
          fmt::format("{}: bt_root must be set exactly for non-empty files", quote_path(f.path)));
    }
  }
  if (auto st = check_path_set(paths); !st) return tl::unexpected(st.error());
  const std::uint64_t piece_length =
      input.piece_length != 0 ? input.piece_length : piece_length_for_total(total);
  if (!is_valid_piece_length(piece_length)) {
    return fail(Errc::invalid_argument,
                "piece length must be a power of two from 16 KiB to 64 MiB");
  }
  // Sizes first: a clear error beats libtorrent's hashing failure halfway through.
  for (const auto& f : input.files) {
    std::error_code ec;
    const auto p = input.source_dir / f.path;
    const auto status = std::filesystem::status(p, ec);
    if (ec || !std::filesystem::is_regular_file(status)) {
      return fail(std::filesystem::exists(status) ? Errc::io_error : Errc::not_found,
                  fmt::format("{} is not a readable regular file", p.string()));
    }
    const auto size = std::filesystem::file_size(p, ec);
    if (ec) return fail(Errc::io_error, fmt::format("{}: {}", p.string(), ec.message()));
    if (size != f.length) {
      return fail(Errc::length_mismatch,
                  fmt::format("{} is {} bytes, expected {}", p.string(), size, f.length));
    }
  }
  auto root = SourceRoot::make(input.source_dir, input.revision);
  if (!root) return tl::unexpected(root.error());

  BuiltTorrents out;
  out.piece_length = piece_length;
  try {
    // One read of the files: the hybrid hashes them (SHA-1 pieces and SHA-256 Merkle trees),
    // the companion reuses the hybrid's SHA-1 pieces.
    auto hybrid = create_one(input, piece_length, lt::create_torrent::no_attributes, root->parent(),
                             nullptr, &out.pieces_hashed);
    if (!hybrid) return tl::unexpected(hybrid.error());
    // Re-read what libtorrent wrote: it may have reordered, padded or sanitised names.
    auto ti = load_torrent(*hybrid);
    if (!ti) return tl::unexpected(ti.error());
    if (auto st = check_layout(**ti, input.revision, input.files, TorrentKind::hybrid,
                               PieceLayers::required);
        !st) {
      return tl::unexpected(with_context(st.error(), "created hybrid torrent"));
    }
    auto companion = create_one(input, piece_length,
                                lt::create_torrent::v1_only | lt::create_torrent::canonical_files |
                                    lt::create_torrent::no_attributes,
                                root->parent(), ti->get(), &out.pieces_hashed);
    if (!companion) return tl::unexpected(companion.error());
    auto ti1 = load_torrent(*companion);
    if (!ti1) return tl::unexpected(ti1.error());
    if (auto st = check_layout(**ti1, input.revision, input.files, TorrentKind::v1_companion,
                               PieceLayers::if_present);
        !st) {
      return tl::unexpected(with_context(st.error(), "created v1 torrent"));
    }
    out.v1_infohash = digest_hex((*ti)->info_hashes().v1);
    out.v2_infohash = digest_hex((*ti)->info_hashes().v2);
    out.companion_v1_infohash = digest_hex((*ti1)->info_hashes().v1);
    out.hybrid = std::move(*hybrid);
    out.v1_companion = std::move(*companion);
  } catch (const std::system_error& e) {
    return fail(Errc::io_error, fmt::format("creating torrent: {}", e.what()));
  } catch (const std::exception& e) {
    return fail(Errc::internal, fmt::format("creating torrent: {}", e.what()));
  }
  return out;
}

Status check_torrent_against_manifest(const lt::torrent_info& ti, const ReleaseManifest& manifest,
                                      TorrentKind kind, PieceLayers layers) {
  if (kind == TorrentKind::hybrid) {
    if (!ti.info_hashes().has_v2() ||
        digest_hex(ti.info_hashes().v2) != manifest.torrent.v2_infohash) {
      return fail(Errc::wrong_target,
                  fmt::format("torrent v2 info-hash {} is not the manifest's {}",
                              ti.info_hashes().has_v2() ? digest_hex(ti.info_hashes().v2) : "none",
                              manifest.torrent.v2_infohash));
    }
    // Implied by the v2 match (both hash the same info dict), so a mismatch means the
    // manifest itself is inconsistent: refused rather than joining a v1 swarm it did not name.
    if (!ti.info_hashes().has_v1() ||
        digest_hex(ti.info_hashes().v1) != manifest.torrent.v1_infohash) {
      return fail(Errc::wrong_target,
                  fmt::format("torrent v1 info-hash {} is not the manifest's {}",
                              ti.info_hashes().has_v1() ? digest_hex(ti.info_hashes().v1) : "none",
                              manifest.torrent.v1_infohash));
    }
    if (static_cast<std::uint64_t>(ti.piece_length()) != manifest.torrent.piece_length) {
      return fail(Errc::wrong_target,
                  fmt::format("torrent piece length {} is not the manifest's {}", ti.piece_length(),
                              manifest.torrent.piece_length));
    }
  }
  return check_layout(ti, manifest.revision, manifest.files, kind, layers);
}

Status check_torrent_against_manifest(std::string_view torrent, const ReleaseManifest& manifest,
                                      TorrentKind kind, PieceLayers layers) {
  auto ti = load_torrent(torrent);
  if (!ti) return tl::unexpected(ti.error());
  return check_torrent_against_manifest(**ti, manifest, kind, layers);
}

}  // namespace weights
