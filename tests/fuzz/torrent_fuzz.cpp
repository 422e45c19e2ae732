// Fuzzes the check of a .torrent file against the trusted release manifest (what the client does
// with the hybrid and v1 torrents a feed or mirror serves, and the daemon with metadata from
// peers): check_torrent_against_manifest(input, manifest, kind, layers) for both kinds and both
// piece-layer modes, plus the overload taking an already loaded torrent_info.
//
// Input: the .torrent bytes (seeds in corpus/torrent/: the fixture's real hybrid and v1
// torrents and mutations of them). The manifest is fixed: at start-up the project's own
// builder (build_torrents) makes the hybrid and v1 torrents of a small release written to a
// temp dir (deterministic contents, 16 KiB pieces, an empty file, a one-piece file and a file
// with a piece layer), and the manifest is filled from what it built.
//
// Checks, beyond no crash, no sanitizer report and no exception:
// - the real torrents are accepted as their own kind and refused as the other kind;
// - errors carry only the documented codes;
// - accepted as hybrid => libtorrent, re-reading the input, sees the manifest's info-hashes, an
//   info dictionary byte-identical to the real hybrid's, exactly the manifest's non-pad files
//   (path, length, pieces root, in canonical order) and, with PieceLayers::required, the real
//   piece layers;
// - accepted as v1 companion => v1 only, named after the revision, exactly the manifest's set of
//   non-pad files (path, length), no symlink or executable attributes;
// - accepted with PieceLayers::required => accepted with PieceLayers::if_present;
// - the bytes overload and the torrent_info overload agree.
//
// Set WEIGHTS_FUZZ_TORRENT_SEEDS=<dir> to write the fixture's two torrents there (how the
// checked-in seeds were made; the fixture is deterministic, so they stay valid).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_check.hpp"
#include <libtorrent/bdecode.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/torrent_info.hpp>

#include "core/publish/torrent_builder.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/util/encoding.hpp"

using weights::fuzz::check;

namespace {

using namespace weights;

const std::string kRevision = "0123456789abcdef0123456789abcdef01234567";
constexpr std::uint64_t kPieceLength = 16 * 1024;

// The decode limits load_torrent uses (core/publish/torrent_builder.cpp).
constexpr int kMaxDecodeDepth = 100;
constexpr int kMaxDecodeTokens = 4000000;

struct Fixture {
  ReleaseManifest manifest;
  BuiltTorrents built;
  std::string hybrid_info;                    // the hybrid's info dictionary bytes
  std::map<std::string, std::string> layers;  // full path -> the hybrid's piece layer
};

std::string bytes_of(std::uint64_t n, std::uint32_t seed) {
  std::string out(n, '\0');
  std::uint32_t x = seed * 2654435761U + 1;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return out;
}

std::shared_ptr<lt::torrent_info> load(std::string_view bytes) {
  lt::error_code ec;
  int pos = 0;
  const lt::bdecode_node node =
      lt::bdecode({bytes.data(), static_cast<std::ptrdiff_t>(bytes.size())}, ec, &pos,
                  kMaxDecodeDepth, kMaxDecodeTokens);
  if (ec) return nullptr;
  auto ti = std::make_shared<lt::torrent_info>(node, ec);
  if (ec) return nullptr;
  return ti;
}

template <class Digest>
std::string hex_of(const Digest& h) {
  return to_hex(
      {reinterpret_cast<const std::uint8_t*>(h.data()), static_cast<std::size_t>(h.size())});
}

// A fixture that cannot be built is a broken target, not a finding: say which step failed.
void need(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "torrent fuzz fixture: failed: %s\n", what);
  std::abort();
}

Fixture make_fixture() {
  const std::vector<std::pair<std::string, std::uint64_t>> files = {
      {"config.json", 20},
      {"empty.txt", 0},
      {"model/a.bin", kPieceLength},          // exactly one piece: no piece layer
      {"model/b.bin", 3 * kPieceLength + 5},  // four pieces: a piece layer
      {"tokenizer.json", 300},
  };
  std::error_code ec;
  const auto tmp = std::filesystem::temp_directory_path(ec);
  need(!ec, "no temp dir");
  std::string pattern = (tmp / "weightsd-torrent-fuzz-XXXXXX").string();
  need(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
  const std::filesystem::path dir = pattern;
  std::vector<std::string> paths;
  std::uint32_t seed = 1;
  for (const auto& [path, length] : files) {
    std::filesystem::create_directories((dir / path).parent_path());
    std::ofstream(dir / path, std::ios::binary) << bytes_of(length, seed++);
    paths.push_back(path);
  }
  auto described = describe_release_files(dir, paths);
  need(described.has_value(), "describe_release_files");

  TorrentBuildInput in;
  in.source_dir = dir;
  in.revision = kRevision;
  in.files = *described;
  in.piece_length = kPieceLength;
  in.web_seeds = {"https://huggingface.co/org/model/resolve/"};
  in.trackers = {"udp://tracker.example:6969/announce"};
  auto built = build_torrents(in);
  std::filesystem::remove_all(dir, ec);
  need(built.has_value(), built ? "" : built.error().to_string().c_str());

  Fixture f;
  f.built = *built;
  ReleaseManifest& m = f.manifest;
  m.model = "org/model";
  m.revision = kRevision;
  m.release_seq = 1;
  m.license = "apache-2.0";
  m.published = "2026-04-02T00:00:00Z";
  m.files = in.files;
  for (const auto& file : m.files) m.total_length += file.length;
  m.torrent.v2_infohash = f.built.v2_infohash;
  m.torrent.v1_infohash = f.built.v1_infohash;
  m.torrent.piece_length = f.built.piece_length;
  m.torrent.web_seeds = in.web_seeds;
  m.torrent.trackers = in.trackers;
  m.upstream = {"huggingface", "org/model"};
  const auto valid = validate_release_manifest(m);
  need(valid.has_value(), valid ? "" : valid.error().to_string().c_str());

  const auto ti = load(f.built.hybrid);
  need(ti != nullptr, "libtorrent cannot load the built hybrid");
  const auto info = ti->info_section();
  f.hybrid_info.assign(info.data(), static_cast<std::size_t>(info.size()));
  const lt::file_storage& fs = ti->files();
  for (const lt::file_index_t idx : fs.file_range()) {
    if (fs.pad_file_at(idx)) continue;
    const auto layer = ti->piece_layer(idx);
    if (!layer.empty()) {
      f.layers[fs.file_path(idx)] =
          std::string(layer.data(), static_cast<std::size_t>(layer.size()));
    }
  }
  // libtorrent gives a file of one piece its root as a one-hash "layer".
  const auto b = f.layers.find(kRevision + "/model/b.bin");
  need(b != f.layers.end() && b->second.size() == 4 * 32, "a piece layer for model/b.bin");

  // The real torrents pass as their own kind and only as that.
  for (const auto layers : {PieceLayers::required, PieceLayers::if_present}) {
    need(check_torrent_against_manifest(f.built.hybrid, m, TorrentKind::hybrid, layers).has_value(),
         "hybrid accepted as hybrid");
    need(check_torrent_against_manifest(f.built.v1_companion, m, TorrentKind::v1_companion, layers)
             .has_value(),
         "v1 accepted as v1 companion");
    need(!check_torrent_against_manifest(f.built.hybrid, m, TorrentKind::v1_companion, layers),
         "hybrid refused as v1 companion");
    need(!check_torrent_against_manifest(f.built.v1_companion, m, TorrentKind::hybrid, layers),
         "v1 refused as hybrid");
  }
  return f;
}

const Fixture& fixture() {
  static const Fixture f = make_fixture();
  return f;
}

bool documented(Errc code) {
  return code == Errc::parse_error || code == Errc::too_large || code == Errc::wrong_target ||
         code == Errc::length_mismatch || code == Errc::hash_mismatch;
}

enum class Order { manifest, any };

// The non-pad files of `ti` are exactly the manifest's, by path and length, without attributes;
// Order::manifest: in manifest order (the canonical v2 order for this fixture's paths). The v1
// check compares the file set only, so a v1 torrent is held to the set.
void check_files(const lt::torrent_info& ti, const ReleaseManifest& m, Order order) {
  check(ti.name() == m.revision);
  std::map<std::string, std::uint64_t> want;
  for (const auto& file : m.files) want.emplace(m.revision + "/" + file.path, file.length);
  const lt::file_storage& fs = ti.files();
  std::size_t i = 0;
  for (const lt::file_index_t idx : fs.file_range()) {
    if (fs.pad_file_at(idx)) continue;
    check(i < m.files.size());
    const std::string path = fs.file_path(idx);
    if (order == Order::manifest) check(path == m.revision + "/" + m.files[i].path);
    const auto it = want.find(path);
    check(it != want.end());
    check(static_cast<std::uint64_t>(fs.file_size(idx)) == it->second);
    want.erase(it);
    check(!(fs.file_flags(idx) &
            (lt::file_storage::flag_symlink | lt::file_storage::flag_executable)));
    ++i;
  }
  check(want.empty());
}

void check_accepted_hybrid(const lt::torrent_info& ti, const Fixture& f, PieceLayers layers) {
  const ReleaseManifest& m = f.manifest;
  check(ti.info_hashes().has_v1() && ti.info_hashes().has_v2());
  check(hex_of(ti.info_hashes().v2) == m.torrent.v2_infohash);
  check(hex_of(ti.info_hashes().v1) == m.torrent.v1_infohash);
  check(static_cast<std::uint64_t>(ti.piece_length()) == m.torrent.piece_length);
  const auto info = ti.info_section();
  check(std::string_view(info.data(), static_cast<std::size_t>(info.size())) == f.hybrid_info);
  check_files(ti, m, Order::manifest);
  const lt::file_storage& fs = ti.files();
  std::size_t i = 0;
  for (const lt::file_index_t idx : fs.file_range()) {
    if (fs.pad_file_at(idx)) continue;
    const ReleaseFile& want = m.files[i++];
    if (want.length == 0) {
      check(fs.root(idx).is_all_zeros());
      continue;
    }
    check(hex_of(fs.root(idx)) == want.bt_root);
    const auto layer = ti.piece_layer(idx);
    const auto real = f.layers.find(fs.file_path(idx));
    check(real != f.layers.end());
    if (layer.empty()) {
      check(layers == PieceLayers::if_present);
      continue;
    }
    check(std::string_view(layer.data(), static_cast<std::size_t>(layer.size())) == real->second);
  }
}

void check_accepted_v1(const lt::torrent_info& ti, const Fixture& f) {
  check(ti.info_hashes().has_v1() && !ti.info_hashes().has_v2());
  check_files(ti, f.manifest, Order::any);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const Fixture& f = fixture();
  if (const char* out = std::getenv("WEIGHTS_FUZZ_TORRENT_SEEDS")) {
    const std::filesystem::path dir = out;
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "hybrid.torrent", std::ios::binary) << f.built.hybrid;
    std::ofstream(dir / "v1.torrent", std::ios::binary) << f.built.v1_companion;
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Fixture& f = fixture();
  const std::string_view input = weights::fuzz::text_of(data, size);
  const auto ti = load(input);
  for (const auto kind : {TorrentKind::hybrid, TorrentKind::v1_companion}) {
    bool accepted_required = false;
    for (const auto layers : {PieceLayers::required, PieceLayers::if_present}) {
      const auto st = check_torrent_against_manifest(input, f.manifest, kind, layers);
      if (!st) {
        check(documented(st.error().code));
        check(!accepted_required);
      }
      if (ti) {
        // The loaded-torrent overload decides the same (the decode limits are the same).
        const auto loaded = check_torrent_against_manifest(*ti, f.manifest, kind, layers);
        check(loaded.has_value() == st.has_value());
      } else {
        check(!st);
      }
      if (!st) continue;
      if (layers == PieceLayers::required) accepted_required = true;
      check(ti != nullptr);
      if (kind == TorrentKind::hybrid) {
        check_accepted_hybrid(*ti, f, layers);
      } else {
        check_accepted_v1(*ti, f);
      }
    }
  }
  return 0;
}
