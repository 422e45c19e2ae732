#include "core/publish/pinned_torrent.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <libtorrent/bdecode.hpp>
#include <libtorrent/torrent_info.hpp>
#include <openssl/evp.h>
#include <sys/stat.h>

#include "core/util/crypto.hpp"
#include "core/util/encoding.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using weights::Errc;
using weights::PinnedFileRef;
using weights::PinnedTorrent;
using weights::PinnedTorrentInput;
using weights::UpstreamPin;
using weights::testing::random_bytes;
using weights::testing::TempDir;
using weights::testing::write_text;

namespace {

const std::string kCommit = "6cee5e81ee83917806bbde320786a8fb61efebee";
constexpr std::uint64_t MiB = 1 << 20;

// A commit's files: names that sort differently per whole path and per component ("a-b.txt",
// "a.txt", "a/c.bin"), an empty file, a file of several pieces, a nested directory.
std::vector<std::pair<std::string, std::string>> repo_files() {
  return {
      {".gitattributes", "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"},
      {"README.md", "# test model\n"},
      {"a-b.txt", random_bytes(3, 1)},
      {"a.txt", random_bytes(16384, 2)},
      {"a/c.bin", random_bytes(16385, 3)},
      {"config.json", "{\"hidden_size\": 8}\n"},
      {"empty.txt", ""},
      {"model.safetensors", random_bytes(2 * MiB + 5, 4)},
      {"original/params.json", random_bytes(100, 5)},
  };
}

std::vector<PinnedFileRef> refs_of(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<PinnedFileRef> out;
  for (const auto& [path, content] : files) {
    out.push_back({path, content.size(), weights::crypto::sha256_hex(content)});
  }
  return out;
}

class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : old_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(old_); }
  UmaskGuard(const UmaskGuard&) = delete;
  UmaskGuard& operator=(const UmaskGuard&) = delete;

 private:
  mode_t old_;
};

UpstreamPin pin_for(const std::string& repo = "openai/gpt-oss-20b",
                    const std::string& commit = kCommit) {
  auto pin = weights::canonical_pin("huggingface", repo, commit);
  REQUIRE(pin);
  return *pin;
}

PinnedTorrent build(const std::filesystem::path& dir,
                    const std::vector<std::pair<std::string, std::string>>& files,
                    const UpstreamPin& pin = pin_for()) {
  auto digests = weights::hash_pinned_files(dir, refs_of(files));
  if (!digests) FAIL(digests.error().to_string());
  PinnedTorrentInput in;
  in.pin = pin;
  in.files = *digests;
  in.source_dir = dir;
  auto built = weights::build_pinned_torrent(in);
  if (!built) FAIL(built.error().to_string());
  return *built;
}

void write_all(const std::filesystem::path& dir,
               const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& [path, content] : files) write_text(dir / path, content);
}

// The bencoded top-level dict of a .torrent, or one of its values' raw bytes.
lt::bdecode_node decode(const std::string& torrent) {
  lt::error_code ec;
  auto node = lt::bdecode({torrent.data(), static_cast<std::ptrdiff_t>(torrent.size())}, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(node.type() == lt::bdecode_node::dict_t);
  return node;
}

std::string info_dict(const std::string& torrent) {
  const auto node = decode(torrent);
  const auto info = node.dict_find_dict("info");
  REQUIRE(info);
  const auto raw = info.data_section();
  return {raw.data(), static_cast<std::size_t>(raw.size())};
}

std::vector<std::string> keys_of(const lt::bdecode_node& dict) {
  std::vector<std::string> keys;
  for (int i = 0; i < dict.dict_size(); ++i) keys.emplace_back(dict.dict_at(i).first);
  return keys;
}

std::string hex(const weights::RendezvousKey& key) {
  return weights::to_hex(key);
}

// ---- An independent model of the rule (docs/pinned-releases.md §3), bencoded by hand. ----

struct Bencode {
  enum class Kind { integer, string, list, dict } kind = Kind::dict;
  std::int64_t integer = 0;
  std::string string;
  std::vector<std::string> keys;  // dict: keys[i] names items[i]
  std::vector<Bencode> items;

  static Bencode of(std::int64_t v) { return {Kind::integer, v, {}, {}, {}}; }
  static Bencode of(std::string s) { return {Kind::string, 0, std::move(s), {}, {}}; }
  static Bencode list() { return {Kind::list, 0, {}, {}, {}}; }
  static Bencode dict() { return {}; }
  Bencode& at(const std::string& key) {
    const auto it = std::find(keys.begin(), keys.end(), key);
    if (it != keys.end()) return items[static_cast<std::size_t>(it - keys.begin())];
    keys.push_back(key);
    items.push_back(dict());
    return items.back();
  }
  std::string encode() const {
    switch (kind) {
      case Kind::integer:
        return "i" + std::to_string(integer) + "e";
      case Kind::string:
        return std::to_string(string.size()) + ":" + string;
      case Kind::list: {
        std::string out = "l";
        for (const auto& item : items) out += item.encode();
        return out + "e";
      }
      case Kind::dict:
        break;
    }
    std::vector<std::size_t> order(keys.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return keys[a] < keys[b]; });
    std::string out = "d";
    for (const auto i : order) out += of(keys[i]).encode() + items[i].encode();
    return out + "e";
  }
};

std::string digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  REQUIRE(EVP_Digest(data.data(), data.size(), out, &n, md, nullptr) == 1);
  return {reinterpret_cast<const char*>(out), n};
}

// Root of a SHA-256 merkle tree over `leaves`, padded with zero leaves to `width` (a power of
// two at least leaves.size()).
std::string merkle(std::vector<std::string> layer, std::size_t width) {
  layer.resize(width, std::string(32, '\0'));
  while (layer.size() > 1) {
    std::vector<std::string> up;
    for (std::size_t i = 0; i < layer.size(); i += 2) {
      up.push_back(digest(EVP_sha256(), layer[i] + layer[i + 1]));
    }
    layer = std::move(up);
  }
  return layer[0];
}

std::size_t pow2_at_least(std::size_t n) {
  std::size_t w = 1;
  while (w < n) w *= 2;
  return w;
}

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t slash; (slash = path.find('/', start)) != std::string::npos; start = slash + 1) {
    parts.push_back(path.substr(start, slash - start));
  }
  parts.push_back(path.substr(start));
  return parts;
}

// The hybrid .torrent the rule prescribes (without url-list), from the files alone.
std::string expected_torrent(std::vector<std::pair<std::string, std::string>> files,
                             const std::string& commit) {
  std::uint64_t total = 0;
  for (const auto& f : files) total += f.second.size();
  const std::uint64_t piece = weights::pinned_piece_length(total);
  const std::size_t blocks_per_piece = piece / 16384;

  Bencode info = Bencode::dict();
  Bencode layers = Bencode::dict();
  Bencode v1_files = Bencode::list();
  std::string v1_stream;
  // Files in order of their path components, each compared bytewise.
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return split(a.first) < split(b.first); });
  for (const auto& [path, content] : files) {
    Bencode* node = &info.at("file tree");
    for (const auto& part : split(path)) node = &node->at(part);
    Bencode& leaf = node->at("");
    leaf.at("length") = Bencode::of(static_cast<std::int64_t>(content.size()));

    Bencode entry = Bencode::dict();
    entry.at("length") = Bencode::of(static_cast<std::int64_t>(content.size()));
    entry.at("path") = Bencode::list();
    for (const auto& part : split(path)) entry.at("path").items.push_back(Bencode::of(part));
    v1_files.items.push_back(entry);
    v1_stream += content;
    if (content.empty()) continue;

    std::vector<std::string> blocks;
    for (std::size_t off = 0; off < content.size(); off += 16384) {
      blocks.push_back(digest(EVP_sha256(), std::string_view(content).substr(off, 16384)));
    }
    const std::string root = merkle(blocks, pow2_at_least(blocks.size()));
    leaf.at("pieces root") = Bencode::of(root);
    if (content.size() > piece) {
      std::string layer;
      for (std::size_t b = 0; b < blocks.size(); b += blocks_per_piece) {
        const auto end = std::min(blocks.size(), b + blocks_per_piece);
        layer += merkle({blocks.begin() + static_cast<std::ptrdiff_t>(b),
                         blocks.begin() + static_cast<std::ptrdiff_t>(end)},
                        blocks_per_piece);
      }
      layers.at(root) = Bencode::of(layer);
    }
    // Every non-empty file, the last one too, is padded to a piece boundary.
    if (const auto tail = v1_stream.size() % piece; tail != 0) {
      const auto pad = piece - tail;
      Bencode pad_entry = Bencode::dict();
      pad_entry.at("attr") = Bencode::of("p");
      pad_entry.at("length") = Bencode::of(static_cast<std::int64_t>(pad));
      pad_entry.at("path") = Bencode::list();
      pad_entry.at("path").items = {Bencode::of(".pad"), Bencode::of(std::to_string(pad))};
      v1_files.items.push_back(pad_entry);
      v1_stream.append(pad, '\0');
    }
  }
  std::string pieces;
  for (std::size_t off = 0; off < v1_stream.size(); off += piece) {
    pieces += digest(EVP_sha1(), std::string_view(v1_stream).substr(off, piece));
  }
  info.at("files") = v1_files;
  info.at("meta version") = Bencode::of(2);
  info.at("name") = Bencode::of(commit);
  info.at("piece length") = Bencode::of(static_cast<std::int64_t>(piece));
  info.at("pieces") = Bencode::of(pieces);

  Bencode torrent = Bencode::dict();
  torrent.at("info") = info;
  torrent.at("piece layers") = layers;
  return torrent.encode();
}

}  // namespace

TEST_CASE("two independent builds of one pin give byte-identical torrents", "[pinned_torrent]") {
  const auto files = repo_files();
  TempDir one;
  TempDir two;
  // One node keeps the files in a directory named after the commit, created in tree order
  // under umask 022; the other in "src", in reverse order under umask 077, with other
  // mtimes and an executable bit, and lists the pin's files in reverse.
  const auto dir_one = one / kCommit;
  {
    UmaskGuard mask(022);
    write_all(dir_one, files);
  }
  const auto dir_two = two / "src";
  {
    UmaskGuard mask(077);
    auto reversed = files;
    std::reverse(reversed.begin(), reversed.end());
    write_all(dir_two, reversed);
    for (const auto& [path, content] : files) {
      std::filesystem::last_write_time(
          dir_two / path, std::filesystem::file_time_type::clock::now() - std::chrono::hours(1000));
    }
    std::filesystem::permissions(dir_two / "config.json", std::filesystem::perms::owner_exec,
                                 std::filesystem::perm_options::add);
  }
  const PinnedTorrent a = build(dir_one, files);
  auto refs = refs_of(files);
  std::reverse(refs.begin(), refs.end());
  auto digests = weights::hash_pinned_files(dir_two, refs);
  REQUIRE(digests);
  CHECK(*digests == weights::hash_pinned_files(dir_one, refs_of(files)).value());
  PinnedTorrentInput in;
  in.pin = pin_for();
  in.files = *digests;
  std::reverse(in.files.begin(), in.files.end());
  in.source_dir = dir_two;
  auto b = weights::build_pinned_torrent(in);
  REQUIRE(b);

  CHECK(info_dict(a.torrents.hybrid) == info_dict(b->torrents.hybrid));
  CHECK(a.torrents.v2_infohash == b->torrents.v2_infohash);
  CHECK(a.torrents.v1_infohash == b->torrents.v1_infohash);
  CHECK(a.torrents.companion_v1_infohash == b->torrents.companion_v1_infohash);
  CHECK(a.torrents.hybrid == b->torrents.hybrid);
  CHECK(a.torrents.v1_companion == b->torrents.v1_companion);
  CHECK(a.rendezvous_key == b->rendezvous_key);
}

TEST_CASE("a pinned torrent holds only the files: no date, creator, comment, trackers or seeds",
          "[pinned_torrent]") {
  TempDir tmp;
  write_all(tmp / "src", repo_files());
  const PinnedTorrent built = build(tmp / "src", repo_files());

  const auto top = decode(built.torrents.hybrid);
  CHECK(keys_of(top) == std::vector<std::string>{"info", "piece layers"});
  const auto info = top.dict_find_dict("info");
  CHECK(keys_of(info) == std::vector<std::string>{"file tree", "files", "meta version", "name",
                                                  "piece length", "pieces"});
  CHECK(info.dict_find_string_value("name") == kCommit);
  CHECK(info.dict_find_int_value("piece length") == 1 << 20);
  const auto companion = decode(built.torrents.v1_companion);
  CHECK(keys_of(companion) == std::vector<std::string>{"info"});
  CHECK(keys_of(companion.dict_find_dict("info")) ==
        std::vector<std::string>{"files", "name", "piece length", "pieces"});
}

TEST_CASE("the hybrid torrent is exactly the one the written rule describes", "[pinned_torrent]") {
  TempDir tmp;
  const auto files = repo_files();
  write_all(tmp / "src", files);
  const PinnedTorrent built = build(tmp / "src", files);
  // Byte for byte, so every key, the file order, the pads and both hash layers are covered.
  CHECK(built.torrents.hybrid == expected_torrent(files, kCommit));
}

TEST_CASE("web seeds change the .torrent but never the info dict", "[pinned_torrent]") {
  TempDir tmp;
  const auto files = repo_files();
  write_all(tmp / "src", files);
  const PinnedTorrent plain = build(tmp / "src", files);
  PinnedTorrentInput in;
  in.pin = pin_for();
  in.files = weights::hash_pinned_files(tmp / "src", refs_of(files)).value();
  in.source_dir = tmp / "src";
  in.web_seeds = {"https://huggingface.co/openai/gpt-oss-20b/resolve/"};
  auto seeded = weights::build_pinned_torrent(in);
  REQUIRE(seeded);
  CHECK(seeded->torrents.hybrid != plain.torrents.hybrid);
  CHECK(info_dict(seeded->torrents.hybrid) == info_dict(plain.torrents.hybrid));
  CHECK(seeded->torrents.v2_infohash == plain.torrents.v2_infohash);
}

TEST_CASE("one changed byte or one renamed file gives another torrent", "[pinned_torrent]") {
  const auto files = repo_files();
  TempDir base_dir;
  write_all(base_dir / "src", files);
  const PinnedTorrent base = build(base_dir / "src", files);

  SECTION("a byte") {
    auto changed = files;
    changed[7].second[MiB + 3] ^= 1;  // model.safetensors, in its second piece
    TempDir tmp;
    write_all(tmp / "src", changed);
    const PinnedTorrent other = build(tmp / "src", changed);
    CHECK(other.torrents.v2_infohash != base.torrents.v2_infohash);
    CHECK(other.torrents.v1_infohash != base.torrents.v1_infohash);
  }
  SECTION("a name") {
    auto renamed = files;
    renamed[1].first = "README.txt";
    TempDir tmp;
    write_all(tmp / "src", renamed);
    const PinnedTorrent other = build(tmp / "src", renamed);
    CHECK(other.torrents.v2_infohash != base.torrents.v2_infohash);
    CHECK(other.torrents.v1_infohash != base.torrents.v1_infohash);
  }
  SECTION("the commit names the torrent; the repository does not enter it") {
    const PinnedTorrent other_commit =
        build(base_dir / "src", files, pin_for("openai/gpt-oss-20b", std::string(40, 'a')));
    CHECK(other_commit.torrents.v2_infohash != base.torrents.v2_infohash);
    CHECK(decode(other_commit.torrents.hybrid)
              .dict_find_dict("info")
              .dict_find_string_value("name") == std::string(40, 'a'));
    // A renamed or transferred repository keeps its commits, and so its swarm.
    const PinnedTorrent moved = build(base_dir / "src", files, pin_for("someone/gpt-oss-20b"));
    CHECK(moved.torrents.v2_infohash == base.torrents.v2_infohash);
    CHECK(moved.rendezvous_key != base.rendezvous_key);
  }
}

TEST_CASE("a file on disk that is not the pinned content is refused, naming it",
          "[pinned_torrent]") {
  const auto files = repo_files();
  TempDir tmp;
  const auto dir = tmp / "src";
  write_all(dir, files);
  auto refs = refs_of(files);
  const auto expect = [&](Errc code, const std::string& needle) {
    const auto got = weights::hash_pinned_files(dir, refs);
    REQUIRE_FALSE(got);
    INFO(got.error().message);
    CHECK(got.error().code == code);
    CHECK_THAT(got.error().message, Catch::Contains(needle));
  };

  SECTION("other bytes of the same size") {
    write_text(dir / "config.json", "{\"hidden_size\": 9}\n");
    expect(Errc::hash_mismatch, "\"config.json\"");
  }
  SECTION("another size") {
    write_text(dir / "a.txt", "short");
    expect(Errc::length_mismatch, "\"a.txt\"");
  }
  SECTION("missing") {
    std::filesystem::remove(dir / "original" / "params.json");
    expect(Errc::not_found, "params.json");
  }
  SECTION("a path the path policy refuses") {
    refs.push_back({"../escape", 0, weights::crypto::sha256_hex("")});
    expect(Errc::path_policy, "../escape");
  }
  SECTION("two paths that differ only in case") {
    write_text(dir / "readme.md", "# test model\n");
    refs.push_back({"readme.md", 13, weights::crypto::sha256_hex("# test model\n")});
    expect(Errc::path_policy, "readme.md");
  }
  SECTION("a sha256 that is not lowercase hex") {
    refs[0].sha256 = std::string(64, 'A');
    expect(Errc::invalid_argument, ".gitattributes");
  }
}

TEST_CASE("a file changed between hashing and building is caught while building",
          "[pinned_torrent]") {
  const auto files = repo_files();
  TempDir tmp;
  write_all(tmp / "src", files);
  PinnedTorrentInput in;
  in.pin = pin_for();
  in.files = weights::hash_pinned_files(tmp / "src", refs_of(files)).value();
  in.source_dir = tmp / "src";
  write_text(tmp / "src" / "a" / "c.bin", random_bytes(16385, 99));
  const auto built = weights::build_pinned_torrent(in);
  REQUIRE_FALSE(built);
  CHECK(built.error().code == Errc::hash_mismatch);
  CHECK_THAT(built.error().message, Catch::Contains("a/c.bin"));
}

TEST_CASE("building refuses a pin that is not canonical", "[pinned_torrent]") {
  const auto files = repo_files();
  TempDir tmp;
  write_all(tmp / "src", files);
  PinnedTorrentInput in;
  in.pin = pin_for();
  in.files = weights::hash_pinned_files(tmp / "src", refs_of(files)).value();
  in.source_dir = tmp / "src";
  in.pin.repo = "OpenAI/gpt-oss-20b";
  const auto built = weights::build_pinned_torrent(in);
  REQUIRE_FALSE(built);
  CHECK(built.error().code == Errc::invalid_argument);
  CHECK_THAT(built.error().message, Catch::Contains("canonical"));
}

TEST_CASE("a pin is canonicalised: repository and commit lowercased, anything else refused",
          "[pinned_torrent]") {
  const auto pin = weights::canonical_pin("huggingface", "Google/Gemma-4-E2B-it",
                                          "3E22461F65E89153144F8ADB70E3B8C2CC9845A7");
  REQUIRE(pin);
  CHECK(pin->upstream == "huggingface");
  CHECK(pin->repo == "google/gemma-4-e2b-it");
  CHECK(pin->commit == "3e22461f65e89153144f8adb70e3b8c2cc9845a7");

  const std::string commit = kCommit;
  for (const auto& [upstream, repo, sha] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"HuggingFace", "org/name", commit},
           {"", "org/name", commit},
           {"huggingface", "name", commit},
           {"huggingface", "org/name/extra", commit},
           {"huggingface", "org/na me", commit},
           {"huggingface", "org/name", commit.substr(0, 12)},
           {"huggingface", "org/name", commit + "0"},
           {"huggingface", "org/name", "g" + commit.substr(1)},
       }) {
    INFO(upstream << " " << repo << " " << sha);
    const auto bad = weights::canonical_pin(upstream, repo, sha);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::invalid_argument);
  }
}

TEST_CASE("the rendezvous key matches the published test vectors", "[pinned_torrent]") {
  // The same vectors are listed in docs/pinned-releases.md §4 (computed with Python's hashlib).
  const auto gpt = pin_for("openai/gpt-oss-20b", "6cee5e81ee83917806bbde320786a8fb61efebee");
  CHECK(weights::pin_rendezvous_preimage(gpt) ==
        "weightsd-pin/1\nhuggingface\nopenai/gpt-oss-20b\n"
        "6cee5e81ee83917806bbde320786a8fb61efebee\n");
  CHECK(hex(weights::pin_rendezvous_key(gpt)) == "490dbfe22da6d0a449e6f4cd06afc4d28e23d4c7");
  CHECK(hex(weights::pin_rendezvous_key(
            pin_for("google/gemma-4-E2B-it", "3e22461f65e89153144f8adb70e3b8c2cc9845a7"))) ==
        "073ef5743dd692c185706d8c368847c1b7d92b4a");
  CHECK(hex(weights::pin_rendezvous_key(
            pin_for("allenai/OLMo-2-0425-1B", "A1847DFF35000B4271FA70AFC5DB10FD29FEDBDF"))) ==
        "c9f045a9a69c12320ad08adb6e148da893ea72f1");
  // Case never splits a swarm's rendezvous.
  CHECK(weights::pin_rendezvous_key(pin_for("OpenAI/GPT-OSS-20B", kCommit)) ==
        weights::pin_rendezvous_key(gpt));
}

TEST_CASE("pinned piece length follows the table at its boundaries", "[pinned_torrent]") {
  constexpr std::uint64_t GiB = 1ULL << 30;
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> table = {
      {0, 1 * MiB},
      {1 * GiB, 1 * MiB},
      {1 * GiB + 1, 4 * MiB},
      {96 * GiB, 4 * MiB},
      {96 * GiB + 1, 16 * MiB},
      {1024 * GiB, 16 * MiB},
      {1024 * GiB + 1, 32 * MiB},
      {4096 * GiB, 32 * MiB},
      {4096 * GiB + 1, 64 * MiB},
      {~std::uint64_t{0}, 64 * MiB},
  };
  for (const auto& [total, piece] : table) {
    INFO(total);
    CHECK(weights::pinned_piece_length(total) == piece);
  }
}

TEST_CASE("the published torrent test vector still holds", "[pinned_torrent]") {
  // docs/pinned-releases.md §3.5: another implementation checks itself against these values,
  // and a libtorrent upgrade that changes any byte of the torrent fails here.
  const std::vector<std::pair<std::string, std::string>> files = {
      {"README.md", "hello\n"},
      {"a-b.txt", "x"},
      {"a.txt", std::string(16385, 'a')},
      {"a/c.bin", ""},
  };
  TempDir tmp;
  write_all(tmp / "src", files);
  const PinnedTorrent built =
      build(tmp / "src", files, pin_for("org/name", "0123456789abcdef0123456789abcdef01234567"));
  CHECK(built.torrents.v2_infohash ==
        "08edbc1caa6efa30de2604ecd4fefe10eb51679c5ac0d90a6186d43fe4b3023f");
  CHECK(built.torrents.v1_infohash == "5d496bec15adce56e6a13ec4d7f97dcba3b65d97");
  CHECK(built.torrents.companion_v1_infohash == "fcd48afdeea6a88c218458881398f6e456a521b5");
  CHECK(weights::crypto::sha256_hex(built.torrents.hybrid) ==
        "cfdae50a6f709094809c576072f3d72f1a9353b8c6607dd04e1043875e705a3e");
}
