#pragma once
// The four TUF roles of a feed (docs/manifest-format.md): typed structs parsed from *verified*
// payload bytes, serialisation for the signing side, and DSSE envelope signing/verification with
// thresholds counted over distinct raw public keys.
//
// Parsing is strict: strict JSON, `_type` must match the role, `spec_version` present, `version`
// >= 1, `expires` in the one accepted UTC spelling. Unknown fields are ignored.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/crypto.hpp"
#include "core/util/error.hpp"
#include "core/util/json.hpp"
#include "core/util/time.hpp"

namespace weights::tuf {

inline constexpr std::string_view spec_version = "1.0.31";

enum class Role { root, targets, snapshot, timestamp };
std::string_view role_name(Role role);

// The member named after `r` of a per-role record (one with members root, targets, snapshot
// and timestamp).
template <class Record>
auto& role_member(Record& record, Role r) {
  switch (r) {
    case Role::targets:
      return record.targets;
    case Role::snapshot:
      return record.snapshot;
    case Role::timestamp:
      return record.timestamp;
    case Role::root:
      break;
  }
  return record.root;
}

// Size limits for metadata a client fetches before anything pins its length.
inline constexpr std::uint64_t max_root_bytes = 512 * 1024;
inline constexpr std::uint64_t max_timestamp_bytes = 16 * 1024;
// Upper bound for snapshot/targets even when a referrer pins a larger length.
inline constexpr std::uint64_t max_pinned_metadata_bytes = 64 * 1024 * 1024;

// The keys and threshold a root assigns to one role.
struct RoleKeys {
  std::vector<std::string> keyids;  // each exists in RootMetadata::keys
  std::uint64_t threshold = 1;      // 1 <= threshold <= number of distinct keys listed
};

struct RootMetadata {
  std::uint64_t version = 1;
  TimePoint expires{};
  std::map<std::string, crypto::PublicKey> keys;  // keyid -> key; keyid == key.keyid()
  RoleKeys root, targets, snapshot, timestamp;

  const RoleKeys& role(Role r) const;
  // The distinct public keys authorised for `r`.
  std::vector<crypto::PublicKey> keys_for(Role r) const;
};

// A metadata file pinned by its referrer (timestamp -> snapshot, snapshot -> targets).
struct MetaFile {
  std::uint64_t version = 1;
  std::uint64_t length = 0;
  std::string sha256;  // lowercase hex
  friend bool operator==(const MetaFile&, const MetaFile&) = default;
};

struct TimestampMetadata {
  std::uint64_t version = 1;
  TimePoint expires{};
  MetaFile snapshot;  // meta["snapshot.json"]
};

struct SnapshotMetadata {
  std::uint64_t version = 1;
  TimePoint expires{};
  MetaFile targets;                           // meta["targets.json"]
  std::map<std::string, MetaFile> delegated;  // meta["<role>.json"]: every delegated role
};

enum class TargetKind { release, torrent, torrent_v1, catalog };
std::string_view kind_name(TargetKind kind);
Result<TargetKind> parse_kind(std::string_view name);

// A catalog target (docs/manifest-format.md §1) sits at exactly "catalog/<family>.toml", the
// family 1-64 bytes of [a-z0-9._-] starting with a letter or digit (the catalog's rule).
std::string catalog_target_path(std::string_view family);
// The family of a catalog target path; nullopt for any other path.
std::optional<std::string> catalog_target_family(std::string_view path);

// One entry of targets.json: `path` -> {length, hashes{sha256}, custom{kind, model, revision,
// release_seq}}; a catalog target's custom is exactly {kind: "catalog"} (model and revision
// empty, release_seq 0 here).
struct TargetInfo {
  std::string path;  // passes the path policy
  std::uint64_t length = 0;
  std::string sha256;  // lowercase hex
  TargetKind kind = TargetKind::release;
  std::string model;  // "org/name"
  std::string revision;
  std::uint64_t release_seq = 0;
  friend bool operator==(const TargetInfo&, const TargetInfo&) = default;
};

// Delegations (tuf-spec "DELEGATIONS", docs/manifest-format.md §4.5). A role name is 1-64
// bytes of [a-z0-9._-], starting with a letter or digit, and none of the four top-level names,
// so "metadata/<N>.<name>.json" is always a plain file name.
inline constexpr std::size_t max_role_name_bytes = 64;
// At most this many roles and keys in one delegations object, and path_hash_prefixes/paths
// per role; checked before anything else in it is parsed.
inline constexpr std::size_t max_delegated_roles_listed = 4096;
inline constexpr std::size_t max_delegation_keys = 1024;
inline constexpr std::size_t max_patterns_per_role = 4096;

struct DelegatedRole {
  std::string name;
  std::vector<std::string> keyids;  // distinct, each in Delegations::keys
  std::uint64_t threshold = 1;      // 1 <= threshold <= keyids.size()
  // Exactly one of the two is non-empty.
  std::vector<std::string> path_hash_prefixes;  // lowercase hex, 1-64 digits each
  std::vector<std::string> paths;               // patterns: '*' and '?' never match '/'
  bool terminating = false;

  // Whether the role is trusted for `path` (whose SHA-256 is `path_sha256_hex`) by this
  // delegation alone.
  bool matches(std::string_view path, std::string_view path_sha256_hex) const;
  friend bool operator==(const DelegatedRole&, const DelegatedRole&) = default;
};

struct Delegations {
  std::map<std::string, crypto::PublicKey> keys;  // keyid -> key; keyid == key.keyid()
  std::vector<DelegatedRole> roles;               // in priority order; names unique
  // The distinct public keys authorised for `role`.
  std::vector<crypto::PublicKey> keys_for(const DelegatedRole& role) const;
  friend bool operator==(const Delegations&, const Delegations&) = default;
};

struct TargetsMetadata {
  std::uint64_t version = 1;
  TimePoint expires{};
  std::vector<TargetInfo> targets;  // sorted by path, paths unique
  std::optional<Delegations> delegations;
};

// Role names of delegations (see Delegations). Errors: schema_error.
Status check_role_name(std::string_view name);
// SHA-256 of a target path as lowercase hex: what path_hash_prefixes match against.
std::string target_path_hash(std::string_view path);
// Whether `pattern` (a delegation's `paths` entry) matches `path`: '*' matches any run of
// characters other than '/', '?' one character other than '/', everything else itself.
bool path_pattern_matches(std::string_view pattern, std::string_view path);

// Parse verified payload bytes. Errors: parse_error (JSON), schema_error (fields), path_policy.
Result<RootMetadata> parse_root(std::string_view payload);
Result<TimestampMetadata> parse_timestamp(std::string_view payload);
Result<SnapshotMetadata> parse_snapshot(std::string_view payload);
Result<TargetsMetadata> parse_targets(std::string_view payload);

// One targets entry (`path` -> entry object), as inside targets.json; also used by the
// publisher's working state.
Result<TargetInfo> parse_target_entry(const std::string& path, const json::Json& entry);
json::Json target_entry_json(const TargetInfo& target);

// Payload bytes for the signing side (pretty JSON, sorted keys). Serialize never validates:
// tests use it to build invalid metadata on purpose.
json::Json to_json(const RootMetadata& root);
json::Json to_json(const TimestampMetadata& timestamp);
json::Json to_json(const SnapshotMetadata& snapshot);
json::Json to_json(const TargetsMetadata& targets);
template <class M>
std::string serialize(const M& metadata) {
  return json::dump_pretty(to_json(metadata));
}

// Where a target is served in a consistent-snapshot feed: "targets/<dir>/<sha256>.<basename>".
std::string consistent_target_name(const TargetInfo& target);
// Metadata names: "metadata/<N>.root.json", "metadata/timestamp.json", ...
std::string root_file_name(std::uint64_t version);
std::string snapshot_file_name(std::uint64_t version);
std::string targets_file_name(std::uint64_t version);
// "metadata/<N>.<role>.json" for a delegated targets role.
std::string delegated_file_name(std::string_view role, std::uint64_t version);
inline constexpr std::string_view timestamp_file_name = "metadata/timestamp.json";

// DSSE envelope (payloadType application/vnd.tuf+json) over `payload`, signed by each key.
Result<std::string> sign_metadata(std::string_view payload,
                                  const std::vector<const crypto::PrivateKey*>& keys);

// Verifies an envelope for `role` against explicit keys: the envelope parses, payloadType is
// TUF's (else bad_signature), and at least `threshold` distinct raw keys among `keys` signed
// (else threshold_not_met, naming the role and the counts). Returns the verified payload bytes.
// `label` names the metadata in messages ("root v3", "timestamp").
Result<std::string> verify_envelope(std::string_view envelope_bytes,
                                    const std::vector<crypto::PublicKey>& keys,
                                    std::uint64_t threshold, std::string_view label);
// Same, with the keys and threshold that `root` assigns to `role`.
Result<std::string> verify_role(std::string_view envelope_bytes, const RootMetadata& root,
                                Role role);

}  // namespace weights::tuf
