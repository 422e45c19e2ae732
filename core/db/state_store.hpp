#pragma once
// Durable client state: the trust tables of <state_dir>/state.sqlite (core/db/state_db.hpp:
// the one connection, lock and migration list of the state dir).
//
// Holds, per feed, the verified metadata bytes and versions of each role, the trusted targets,
// the highest release_seq ever trusted per model, and a log of refresh outcomes. A refresh is
// committed in one transaction (commit_refresh); a refusal is logged in its own transaction and
// never touches trusted state. A StateStore is used by one thread at a time (its owner).
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/db/state_db.hpp"
#include "core/trust/tuf_metadata.hpp"
#include "core/util/error.hpp"
#include "core/util/time.hpp"

namespace weights {

// Verified bytes of one role's metadata (the whole DSSE envelope) and what we parsed from it.
struct TrustedRole {
  std::uint64_t version = 0;
  std::string bytes;
  TimePoint expires{};
  friend bool operator==(const TrustedRole&, const TrustedRole&) = default;
};

// A delegated targets role as verified (docs/manifest-format.md §4.5). `length` and `sha256`
// are those of the envelope bytes: a snapshot pinning exactly (version, length, sha256) names
// this metadata, which then needs no fetch and no verification.
struct TrustedDelegatedRole {
  std::uint64_t version = 0;
  std::uint64_t length = 0;
  std::string sha256;
  TimePoint expires{};
  bool delegates = false;  // its metadata has a delegations object
  // The envelope. load_feed reads it only for roles that delegate (a refresh needs their
  // delegations again); a leaf's stays in the database.
  std::string bytes;
  friend bool operator==(const TrustedDelegatedRole&, const TrustedDelegatedRole&) = default;
};

struct FeedState {
  std::string name;
  std::string location;
  std::vector<std::string> mirrors;      // further locations, tried in order after `location`
  TrustedRole root;                      // always present
  std::optional<TrustedRole> timestamp;  // absent before the first refresh, or after a
  std::optional<TrustedRole> snapshot;   // timestamp/snapshot key rotation
  std::optional<TrustedRole> targets;
  std::vector<tuf::TargetInfo> trusted_targets;  // sorted by path
  // Parallel to trusted_targets: the role that lists each ("targets" for the top-level role).
  // Empty when load_feed did not read it (FeedDetail::summary).
  std::vector<std::string> target_roles;
  std::map<std::string, std::uint64_t> release_seq;       // model -> highest release_seq trusted
  std::map<std::string, TrustedDelegatedRole> delegated;  // every delegated role trusted
  friend bool operator==(const FeedState&, const FeedState&) = default;
};

// Everything one successful refresh commits. Roles left empty are deleted (fast-forward
// recovery forgets timestamp/snapshot); `targets` replaces the feed's trusted targets and
// `release_seq` is merged by max into the per-model table.
struct TrustedUpdate {
  TrustedRole root;
  std::optional<TrustedRole> timestamp, snapshot, targets;
  std::vector<tuf::TargetInfo> trusted_targets;
  // Parallel to trusted_targets, or empty: every target is listed by the top-level role.
  std::vector<std::string> target_roles;
  std::map<std::string, std::uint64_t> release_seq;
  // Replaces the trusted delegated roles. A role whose version and sha256 equal the stored
  // one is not rewritten (its `bytes` may be empty).
  std::map<std::string, TrustedDelegatedRole> delegated;
};

// How much of a feed load_feed reads. `summary` leaves every role's `bytes`, the
// trusted_targets and release_seq empty (locations, role versions and expiries only): what
// status listings need, without reading a large feed's targets.
enum class FeedDetail { full, summary };

enum class RefreshResult { updated, up_to_date, refused };
std::string_view refresh_result_name(RefreshResult r);

struct RefreshLogEntry {
  TimePoint time{};
  RefreshResult result = RefreshResult::refused;
  std::string error_code;  // code_name(Errc) for refusals, empty otherwise
  std::string message;
};

class StateStore {
 public:
  // The schema of the whole state.sqlite (every store's tables).
  inline static constexpr int schema_version = db::state_schema_version;
  // Refresh log entries kept per feed (older ones are pruned on insert).
  inline static constexpr int log_entries_kept = 200;

  using Lock = db::StateDb::Lock;

  // Opens the state dir (db::StateDb::open: lock, migrations) for this store alone.
  static Result<StateStore> open(const std::filesystem::path& state_dir, Lock lock = Lock::take);
  // A store over an open state database, shared with the other stores of the process.
  explicit StateStore(std::shared_ptr<db::StateDb> db);

  StateStore(StateStore&&) noexcept;
  StateStore& operator=(StateStore&&) noexcept;
  ~StateStore();

  // Adds a feed trusting `root` (already verified by the caller), with its mirrors, in one
  // transaction. already_exists if present.
  Status add_feed(std::string_view name, std::string_view location, const TrustedRole& root,
                  TimePoint now, const std::vector<std::string>& mirrors = {});
  Status remove_feed(std::string_view name);
  Result<std::vector<std::string>> list_feeds();
  // not_found if there is no such feed.
  Result<FeedState> load_feed(std::string_view name, FeedDetail detail = FeedDetail::full);
  // The feed's trusted targets of one model (every kind), sorted by path: an index lookup,
  // independent of the feed's size. Empty for an unknown feed or model.
  Result<std::vector<tuf::TargetInfo>> model_targets(std::string_view feed, std::string_view model);
  // How many trusted targets of `kind` the feed lists (0 for an unknown feed).
  Result<std::size_t> count_targets(std::string_view name, tuf::TargetKind kind);
  // The SHA-256 of every trusted target of `kind` in the feed, in no particular order (empty for
  // an unknown feed): one indexed column, without the role bytes and target rows load_feed
  // reads.
  Result<std::vector<std::string>> target_hashes(std::string_view name, tuf::TargetKind kind);

  // Replaces the feed's trusted state with `update` and logs `updated`, in one transaction.
  Status commit_refresh(std::string_view feed, const TrustedUpdate& update, TimePoint now);
  // Logs an outcome (up_to_date or refused) in its own transaction; trusted state untouched.
  Status record_refresh(std::string_view feed, const RefreshLogEntry& entry);
  Status record_refusal(std::string_view feed, TimePoint now, const Error& error);

  Result<std::optional<RefreshLogEntry>> last_success(std::string_view feed);
  Result<std::optional<RefreshLogEntry>> last_refusal(std::string_view feed);

  // For tests and diagnostics.
  const std::filesystem::path& database_path() const { return db_->database_path(); }
  Result<int> user_version() { return db_->schema_version(); }

 private:
  std::shared_ptr<db::StateDb> db_;
};

}  // namespace weights
