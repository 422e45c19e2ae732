#pragma once
// The release manifest (`weights-release/v1`, a TUF target file): which files make up one
// release of a model, with their lengths and hashes, and the torrent that carries them. Parsing
// checks every invariant (docs/manifest-format.md §7), so a parsed manifest can be trusted to be
// internally consistent; whether it is *authorised* is the TUF client's job.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/error.hpp"
#include "core/util/path_policy.hpp"

namespace weights {

inline constexpr std::string_view release_manifest_type = "weights-release/v1";
inline constexpr std::size_t max_release_manifest_bytes = 32 * 1024 * 1024;
inline constexpr std::size_t max_release_files = 100000;
inline constexpr std::uint64_t min_piece_length = 16 * 1024;
inline constexpr std::uint64_t max_piece_length = 64 * 1024 * 1024;

struct ReleaseFile {
  std::string path;  // passes the path policy (posix); relative to the torrent root directory
  std::uint64_t length = 0;
  std::string sha256;                  // 64 lowercase hex
  std::string bt_root;                 // 64 lowercase hex; empty exactly when length == 0
  std::optional<std::string> git_oid;  // 40 lowercase hex (SHA-1 git blob id), optional
  friend bool operator==(const ReleaseFile&, const ReleaseFile&) = default;
};

struct ReleaseTorrent {
  std::string v2_infohash;         // 64 lowercase hex: the hybrid torrent's v2 info-hash (binding)
  std::string v1_infohash;         // 40 lowercase hex: the hybrid's v1 info-hash (informational)
  std::uint64_t piece_length = 0;  // power of two in [16 KiB, 64 MiB]
  std::vector<std::string> web_seeds;  // http(s) URLs (BEP 19), unique
  std::vector<std::string> trackers;   // http(s)/udp announce URLs, unique
  friend bool operator==(const ReleaseTorrent&, const ReleaseTorrent&) = default;
};

struct ReleaseUpstream {
  std::string kind;  // e.g. "huggingface": [a-z0-9_-], 1..32 bytes
  std::string repo;  // upstream repository id, printable ASCII, 1..256 bytes
  friend bool operator==(const ReleaseUpstream&, const ReleaseUpstream&) = default;
};

struct ReleaseManifest {
  std::string model;                 // "org/name" (see is_valid_model_id)
  std::vector<std::string> aliases;  // unique; "name" or "org/name" with model-id charset
  std::string revision;              // one safe path component (see is_valid_revision)
  std::uint64_t release_seq = 0;     // per-model, never decreases (enforced by the client)
  std::string license;               // printable ASCII, 1..128 bytes
  std::string published;             // "YYYY-MM-DDTHH:MM:SSZ"
  std::vector<ReleaseFile> files;    // non-empty, sorted by path (bytewise), unique
  std::uint64_t total_length = 0;    // sum of files[].length
  ReleaseTorrent torrent;
  ReleaseUpstream upstream;
  friend bool operator==(const ReleaseManifest&, const ReleaseManifest&) = default;
};

// "org/name": each part 1..96 bytes of [A-Za-z0-9._-], not starting or ending with '.' or '-',
// without "..". It becomes two directory levels of target paths (models/<org>/<name>/...).
bool is_valid_model_id(std::string_view model);
// 1..128 bytes of [A-Za-z0-9._-], not starting with '.' or '-': a commit sha or a tag. It names
// the torrent's root directory and appears in web-seed URLs and target file names.
bool is_valid_revision(std::string_view revision);

// Bytes -> manifest via json::parse_strict, then validate(). Errors: parse_error/too_large for
// bad JSON, schema_error naming the field ("files[2].length: ..."), path_policy for paths.
// Unknown fields are ignored.
Result<ReleaseManifest> parse_release_manifest(std::string_view bytes);

// Every invariant of the format; parse and serialize both call it.
Status validate_release_manifest(const ReleaseManifest& manifest);

enum class JsonStyle { pretty, compact };

// Deterministic bytes (sorted keys; optional fields omitted when absent). Refuses to serialise
// an invalid manifest.
Result<std::string> serialize_release_manifest(const ReleaseManifest& manifest,
                                               JsonStyle style = JsonStyle::pretty);

}  // namespace weights
