#pragma once
// Test scaffolding for feeds: a publisher (tuf::Repo) with keys held in memory, helpers to write
// arbitrary or tampered metadata into its public/ directory, and a client (StateStore + refresh)
// whose trusted state tests compare before and after an attack.
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/db/state_store.hpp"
#include "core/feed/tuf_client.hpp"
#include "core/publish/tuf_repo.hpp"
#include "core/util/crypto.hpp"
#include "core/util/json.hpp"
#include "core/util/time.hpp"
#include "support/temp_dir.hpp"

namespace weights::testing {

// 2026-01-01T00:00:00Z: tests pass explicit times, never the wall clock.
TimePoint t0();
inline TimePoint days_after_t0(int days) {
  return t0() + tuf::Days(days);
}

// A generated key that tests can hand to any role or sign anything with.
using KeyPtr = std::shared_ptr<crypto::PrivateKey>;
KeyPtr make_key();

// The bytes of a tiny release manifest naming `model`/`revision` (what the test validator reads).
std::string release_manifest(std::string_view model, std::string_view revision, std::uint64_t seq);
// "models/<model>/<revision>.release.json"
std::string release_path(std::string_view model, std::string_view revision);

// Validator used by most tests: the manifest's model/revision must equal the target entry's.
Status check_release_matches(const tuf::TargetInfo& target, std::string_view bytes);

class TestFeed {
 public:
  struct Options {
    std::size_t root_keys = 3;
    std::uint64_t root_threshold = 2;
    std::size_t targets_keys = 1;
    std::uint64_t targets_threshold = 1;
    std::uint32_t bins = 0;  // > 0: hashed bins signed by one bins key (bins_keys())
  };
  // A publisher dir under `dir` with fresh keys (root: 3 keys, threshold 2 by default) and
  // root v1 written; nothing else published yet.
  explicit TestFeed(const std::filesystem::path& dir) : TestFeed(dir, Options{}) {}
  TestFeed(const std::filesystem::path& dir, Options options);

  tuf::Repo& repo() { return *repo_; }
  const tuf::Repo& repo() const { return *repo_; }
  const std::filesystem::path& public_dir() const { return public_dir_; }
  std::string root_v1() const { return read("metadata/1.root.json"); }

  // Keys by role (index into the role's key list).
  const crypto::PrivateKey& key(tuf::Role role, std::size_t i = 0) const;
  std::vector<const crypto::PrivateKey*> keys(tuf::Role role) const;
  // The keys that sign the bins (empty for a flat feed).
  std::vector<const crypto::PrivateKey*> bins_keys() const;
  // A ring with every key of every role.
  tuf::KeyRing ring() const;
  // A ring with exactly these keys.
  static tuf::KeyRing ring_of(const std::vector<const crypto::PrivateKey*>& keys);

  // Adds a release manifest target for model/revision/seq (and publishes, with `now`).
  void add_release(std::string_view model, std::string_view revision, std::uint64_t seq,
                   TimePoint now);
  void publish(TimePoint now);

  // Generates new keys for `role`, rotates root (signed with old and new root keys), then
  // publishes again. Returns the retired keys.
  std::vector<KeyPtr> rotate_role_keys(tuf::Role role, TimePoint now);

  // Raw access to the served files.
  std::string read(std::string_view name) const;
  void write(std::string_view name, std::string_view bytes) const;
  void remove(std::string_view name) const;
  bool exists(std::string_view name) const;
  // The (unverified) payload of a metadata envelope, as JSON.
  json::Json payload(std::string_view name) const;
  // Writes `payload` to `name` as an envelope signed by `signers` (any keys, any count).
  void write_signed(std::string_view name, std::string_view payload,
                    const std::vector<const crypto::PrivateKey*>& signers) const;
  void write_signed_json(std::string_view name, const json::Json& payload,
                         const std::vector<const crypto::PrivateKey*>& signers) const;
  // Re-signs `name` after `edit` changed its payload, with the role's own keys by default.
  void edit(std::string_view name, const std::function<void(json::Json&)>& edit,
            const std::vector<const crypto::PrivateKey*>& signers) const;

  // Re-pins `snapshot_name` in a fresh timestamp (version bumped), signed with the timestamp
  // key, and likewise targets in a fresh snapshot: lets tests craft consistent chains around a
  // tampered file.
  void repin_timestamp(std::string_view snapshot_name, std::uint64_t timestamp_version,
                       TimePoint expires) const;
  void repin_snapshot(std::string_view snapshot_name, std::string_view targets_name,
                      std::uint64_t snapshot_version, TimePoint expires) const;

  // Names of the currently published metadata.
  std::string current_snapshot_name() const;
  std::string current_targets_name() const;

 private:
  std::filesystem::path dir_;
  std::filesystem::path public_dir_;
  std::map<tuf::Role, std::vector<KeyPtr>> keys_;
  std::vector<KeyPtr> bins_keys_;
  std::vector<KeyPtr> retired_;  // keys rotated away, kept alive for tests that still use them
  std::optional<tuf::Repo> repo_;
};

// A client of a TestFeed: its own state dir, the feed added from root v1.
class TestClient {
 public:
  TestClient(const std::filesystem::path& state_dir, const TestFeed& feed,
             std::string name = "test");
  Result<tuf::RefreshOutcome> refresh(TimePoint now, const tuf::ClientLimits& limits = {});
  Result<tuf::RefreshOutcome> refresh(TimePoint now, const tuf::TargetValidator& validator,
                                      const tuf::ClientLimits& limits = {});
  FeedState state();
  StateStore& store() { return *store_; }
  const std::string& name() const { return name_; }
  // Closes the database (releases the lock) and reopens it.
  void reopen();
  void close();

 private:
  std::filesystem::path state_dir_;
  std::filesystem::path public_dir_;
  std::string name_;
  std::optional<StateStore> store_;
};

// Requires `r` to have failed with `code` and a message containing `needle`.
#define REQUIRE_REFUSED(result_expr, expected_code, needle_expr)                               \
  do {                                                                                         \
    const auto& refused_ = (result_expr);                                                      \
    REQUIRE_FALSE(refused_.has_value());                                                       \
    INFO("error: " << refused_.error().message);                                               \
    CHECK(::weights::code_name(refused_.error().code) == ::weights::code_name(expected_code)); \
    CHECK_THAT(refused_.error().message, Catch::Contains(std::string(needle_expr)));           \
  } while (false)

}  // namespace weights::testing
