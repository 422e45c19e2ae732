#pragma once
// The publisher side of a feed: builds, signs and writes the files a client verifies.
//
// Publisher directory (owned by one publisher; only public/ is ever served):
//   <dir>/repo.json   unsigned working state: role keys, thresholds, expiry durations, current
//                     versions, and the target list of the next publish
//   <dir>/keys/       private keys, PKCS#8 PEM, mode 0600, named <role>-<keyid[:16]>.pem;
//                     never served (keep the offline root/targets keys elsewhere if you can)
//   <dir>/public/     the feed (docs/manifest-format.md §1): metadata/ and targets/
//
// CLI mapping: `feed init` -> Repo::init; `release add` -> Repo::open + add_targets (its three
// files at once) + publish; `feed publish` -> publish; `feed rotate-root` -> rotate_root then
// publish; `feed verify` -> verify.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/feed/tuf_client.hpp"
#include "core/trust/tuf_metadata.hpp"
#include "core/util/crypto.hpp"
#include "core/util/error.hpp"
#include "core/util/time.hpp"

namespace weights::tuf {

using Days = std::chrono::duration<std::int64_t, std::ratio<86400>>;

struct RoleSpec {
  std::vector<crypto::PublicKey> keys;
  std::uint64_t threshold = 1;
  std::chrono::seconds expiry{Days(1)};  // how long metadata of this role stays valid
};

// Keys, thresholds and expiry durations of the four roles (what a root says, plus expiries).
struct RolesSpec {
  RoleSpec root{{}, 1, Days(365)};
  RoleSpec targets{{}, 1, Days(90)};
  RoleSpec snapshot{{}, 1, Days(7)};
  RoleSpec timestamp{{}, 1, Days(1)};
  RoleSpec& operator[](Role r);
  const RoleSpec& operator[](Role r) const;
};

// Private keys available to one signing operation. Each role is signed with every key in the
// ring that the role authorises; too few such keys is Errc::threshold_not_met before anything
// is written.
class KeyRing {
 public:
  KeyRing() = default;
  // Every *.pem in `dir`.
  static Result<KeyRing> load_dir(const std::filesystem::path& dir);
  void add(crypto::PrivateKey key);
  // A key the caller keeps alive for as long as the ring is used.
  void add_borrowed(const crypto::PrivateKey& key) { keys_.push_back(&key); }
  std::vector<const crypto::PrivateKey*> signers_for(
      const std::vector<crypto::PublicKey>& authorised) const;
  std::size_t size() const { return keys_.size(); }

 private:
  std::vector<std::unique_ptr<crypto::PrivateKey>> owned_;
  std::vector<const crypto::PrivateKey*> keys_;
};

// Hashed bins (docs/manifest-format.md §4.5): the top-level targets role delegates each
// target to one of `count` bins by the leading bits of the SHA-256 of its path; `role.keys`
// sign the bins. Adding a target then re-signs one bin, the snapshot and the timestamp.
inline constexpr std::uint32_t max_bins = 4096;
struct BinsSpec {
  std::uint32_t count = 0;         // 0: flat, targets.json lists every target
  RoleSpec role{{}, 1, Days(90)};  // the bins' keys, threshold and expiry
};
// count is 0 or a power of two from 2 to max_bins (invalid_argument otherwise).
Status check_bin_count(std::uint32_t count);
// Hex digits of each bin's path_hash_prefixes: ceil(log2(count) / 4).
std::size_t bin_prefix_digits(std::uint32_t count);
// The bin of `path`: the first log2(count) bits of SHA-256(path).
std::uint32_t bin_index(std::uint32_t count, std::string_view path);
// "bins-<index as bin_prefix_digits(count) lowercase hex digits>".
std::string bin_name(std::uint32_t count, std::uint32_t index);
// The path_hash_prefixes of bin `index`: 16^digits / count consecutive hex prefixes.
std::vector<std::string> bin_prefixes(std::uint32_t count, std::uint32_t index);

// What `feed init` generates: key counts and thresholds per role, and expiry durations.
struct InitOptions {
  std::size_t root_keys = 3, targets_keys = 1, snapshot_keys = 1, timestamp_keys = 1;
  RolesSpec spec;  // keys are ignored (generated); thresholds and expiries are used
  BinsSpec bins;   // count > 0: hashed bins, with bins_keys generated keys
  std::size_t bins_keys = 1;
  InitOptions() { spec.root.threshold = 2; }
};

// Custom fields of a target (see TargetInfo).
struct TargetCustom {
  TargetKind kind = TargetKind::release;
  std::string model;
  std::string revision;
  std::uint64_t release_seq = 0;
};

class Repo {
 public:
  // `feed init`: generates keys into <dir>/keys, then create(). already_exists if <dir> holds a
  // repo.json.
  static Result<Repo> init(const std::filesystem::path& dir, const InitOptions& options,
                           TimePoint now);
  // Creates the layout with the given role keys and writes public/metadata/1.root.json signed
  // by `ring` (a threshold of spec.root keys). Nothing is published for the other roles yet.
  static Result<Repo> create(const std::filesystem::path& dir, const RolesSpec& spec,
                             const KeyRing& ring, TimePoint now, const BinsSpec& bins = {});
  static Result<Repo> open(const std::filesystem::path& dir);

  // Copies `bytes` to public/targets/<dir>/<sha256>.<basename> and lists it for the next
  // publish (replacing an entry with the same path). Path policy applies.
  Status add_target(std::string_view path, std::string_view bytes, const TargetCustom& custom);
  // Several at once: every file is written, then all are listed and repo.json saved once (the
  // path set is checked once, not once per target). Nothing is listed if any of them fails.
  struct NewTarget {
    std::string path;
    std::string_view bytes;
    TargetCustom custom;
  };
  Status add_targets(std::span<const NewTarget> targets);
  // Unlists a target for the next publish (its file stays: caches may still serve it).
  Status remove_target(std::string_view path);

  // Signs and writes N.targets.json, N.snapshot.json, then timestamp.json last (atomic
  // rename), each with a bumped version and expiry now + the role's duration. With bins: only
  // the bins whose targets changed and the roles less than half of whose validity remains
  // are re-signed (targets.json then rarely), then the snapshot listing every bin.
  Status publish(const KeyRing& ring, TimePoint now);
  // Turns a flat feed into one with hashed bins (invalid_argument if it has bins already):
  // the next publish writes a targets.json that delegates to every bin, and every bin.
  Status use_bins(const BinsSpec& bins);
  // Re-signs only timestamp.json (new version and expiry, same snapshot): the online cron job.
  Status publish_timestamp(const KeyRing& ring, TimePoint now);
  // Writes public/metadata/<N+1>.root.json for `new_spec`, signed by the keys in `ring` that
  // the current or the new root authorises; refuses unless the signatures meet both the old
  // and the new root threshold. Publish afterwards when online keys changed.
  Status rotate_root(const RolesSpec& new_spec, const KeyRing& ring, TimePoint now);

  // `feed verify`: runs the client workflow against public/ from 1.root.json at `now`.
  Result<RefreshOutcome> verify(TimePoint now, const TargetValidator& validator) const;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path public_dir() const { return dir_ / "public"; }
  std::filesystem::path keys_dir() const { return dir_ / "keys"; }
  const RolesSpec& spec() const { return spec_; }
  const std::vector<TargetInfo>& targets() const { return targets_; }
  const BinsSpec& bins() const { return bins_; }
  std::uint64_t version(Role r) const;
  // Version of a published bin (0: not published yet).
  std::uint64_t bin_version(std::string_view name) const;

 private:
  // A delegated or top-level targets role as last published with bins.
  struct Published {
    MetaFile pin;
    TimePoint expires{};
  };
  Repo() = default;
  Status save() const;
  Status publish_bins(const KeyRing& ring, TimePoint now);
  Delegations bin_delegations() const;
  RootMetadata root_metadata(const RolesSpec& spec, std::uint64_t version, TimePoint now) const;

  std::filesystem::path dir_;
  RolesSpec spec_;
  std::uint64_t root_version_ = 1, targets_version_ = 0, snapshot_version_ = 0,
                timestamp_version_ = 0;
  std::vector<TargetInfo> targets_;  // sorted by path
  BinsSpec bins_;
  std::optional<Published> targets_published_;  // with bins: absent = sign at next publish
  std::map<std::string, Published> bins_published_;
  std::set<std::string> pending_bins_;  // bins whose targets changed since their last publish
};

}  // namespace weights::tuf
