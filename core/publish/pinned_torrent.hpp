#pragma once
// The rules that let independent nodes agree on one swarm for an upstream revision without a
// publisher (docs/pinned-releases.md): the torrent of `upstream/repo@commit` is a pure function
// of the commit's files (rule "weightsd-pinned-torrent/1"), and the DHT rendezvous key a pure
// function of the pin (rule "weightsd-pin/1"). Changing either rule changes every info-hash or
// key in the network: a change gets a new version string, never an edit of these.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/publish/torrent_builder.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/util/error.hpp"
#include "core/util/file_hash.hpp"

namespace weights {

inline constexpr std::string_view pinned_torrent_rule = "weightsd-pinned-torrent/1";
inline constexpr std::string_view pin_rendezvous_rule = "weightsd-pin/1";

// An upstream revision in canonical form, as made by canonical_pin: upstream kind, repository
// id and commit id, spelled one way so that every node derives the same bytes from it.
struct UpstreamPin {
  std::string upstream;  // [a-z0-9_-], 1..32 bytes, e.g. "huggingface" (a model repository)
  std::string repo;      // "org/name" (is_valid_model_id), ASCII letters lowercased
  std::string commit;    // 40 lowercase hex: a git SHA-1 commit id
  friend bool operator==(const UpstreamPin&, const UpstreamPin&) = default;
};

// Checks and canonicalises a pin. The Hub matches repository ids case-insensitively, so
// `Org/Name` and `org/name` are one repository and get one key; hex case carries no meaning.
// Errors: invalid_argument naming the field (an upstream outside [a-z0-9_-]{1,32}, a repo that
// is not "org/name", a commit that is not 40 hex digits: short ids are ambiguous, never pins).
Result<UpstreamPin> canonical_pin(std::string_view upstream, std::string_view repo,
                                  std::string_view commit);

// The DHT rendezvous key for BEP 5 get_peers/announce: SHA-1 of pin_rendezvous_preimage.
// Anyone can announce under it; whatever is found there is a lead, checked against the pin.
using RendezvousKey = std::array<std::uint8_t, 20>;
// "weightsd-pin/1\n<upstream>\n<repo>\n<commit>\n" for a canonical pin.
std::string pin_rendezvous_preimage(const UpstreamPin& pin);
RendezvousKey pin_rendezvous_key(const UpstreamPin& pin);

// Piece length of a pinned torrent from the total size of its files. Frozen with the rule
// (a feed's manifest records its piece length, a pinned torrent's is recomputed by every node):
//   <= 1 GiB: 1 MiB; <= 96 GiB: 4 MiB; <= 1 TiB: 16 MiB; <= 4 TiB: 32 MiB; above: 64 MiB.
std::uint64_t pinned_piece_length(std::uint64_t total_length);

// One file of the pinned commit's tree. Maps 1:1 from upstream::PinnedFile (core/upstream/
// git_pin.hpp): path, size and sha256 are taken as they are; git_oid and kind are not needed,
// since a blob's sha256 and an LFS pointer's oid both name the content.
struct PinnedFileRef {
  std::string path;  // relative, '/'-separated, as in the git tree
  std::uint64_t size = 0;
  std::string sha256;  // 64 lowercase hex of the content
};

// Reads each pinned file from `source_dir / path` once and checks it against the pin: the
// digests a pinned torrent needs, sorted by path bytes. Sizes are checked before any content
// is read. Errors: invalid_argument (bad sha256 syntax), path_policy (a path or the set, e.g.
// a case-fold collision), not_found/io_error, length_mismatch/hash_mismatch naming the file.
Result<std::vector<ReleaseFile>> hash_pinned_files(const std::filesystem::path& source_dir,
                                                   std::vector<PinnedFileRef> files,
                                                   const HashOptions& options = {});

struct PinnedTorrentInput {
  UpstreamPin pin;  // canonical (canonical_pin)
  // Every file of the commit's tree with its digests, from hash_pinned_files or hashed while
  // downloading; any order. bt_root is checked against the bytes on disk while building.
  std::vector<ReleaseFile> files;
  std::filesystem::path source_dir;    // file f is read from source_dir / f.path
  std::vector<std::string> web_seeds;  // outer dict (url-list): never part of the info-hash
};

struct PinnedTorrent {
  UpstreamPin pin;
  BuiltTorrents torrents;  // hybrid (the swarm: its v2 info-hash) and v1 companion
  RendezvousKey rendezvous_key{};
};

// Builds the pinned torrents of `input.pin` from the files on disk: name = the commit, piece
// length = pinned_piece_length(total), libtorrent's canonical file order and padding, no file
// attributes, no creation date, creator or comment, nothing but the files in the info dict; so
// the info dict, both info-hashes and (without web seeds) the whole .torrent are the same on
// every node, whatever the directory, file modes, mtimes or creation order. Reads every file
// once (libtorrent's hashing). Errors: invalid_argument (pin not canonical, no files), and
// build_torrents' errors (path_policy, not_found/io_error, length_mismatch, hash_mismatch when
// a file on disk does not have its bt_root).
Result<PinnedTorrent> build_pinned_torrent(const PinnedTorrentInput& input);

}  // namespace weights
