#pragma once
// The client side of a feed: TUF's detailed client workflow (tuf-spec §5, trust.md "Client
// refresh") over DSSE-enveloped metadata, committed to the StateStore in one transaction.
//
// A refresh either commits a fully verified new state (every role checked against a fixed `now`,
// every release manifest fetched, hash-checked and accepted by the caller's validator) or
// changes nothing but the refresh log. There is no partial progress: a failure at any step,
// including the database commit, leaves the previously trusted state exactly as it was.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/db/state_store.hpp"
#include "core/net/fetcher.hpp"
#include "core/trust/tuf_metadata.hpp"
#include "core/util/error.hpp"
#include "core/util/time.hpp"

namespace weights::tuf {

struct ClientLimits {
  std::uint64_t max_root_bytes = tuf::max_root_bytes;  // each N.root.json (no referrer pins it)
  std::uint64_t max_root_rotations = 256;              // N+1 roots fetched per refresh
  std::uint64_t max_timestamp_bytes = tuf::max_timestamp_bytes;
  // Snapshot/targets/target files are fetched with exactly their pinned length as the limit;
  // this caps what a referrer may pin.
  std::uint64_t max_pinned_bytes = tuf::max_pinned_metadata_bytes;
  // Delegated targets roles (docs/manifest-format.md §5.3): at most this many visited per
  // refresh, and at most this deep (the top-level targets role is depth 0). Exceeding either
  // refuses the refresh (too_large).
  std::uint64_t max_delegated_roles = 4096;
  std::uint64_t max_delegation_depth = 8;
};

// Called with the verified bytes (length and sha256 already match the targets entry) of every
// target of kind "release". The caller checks the manifest schema, its path policy, and that
// `model`/`revision` inside equal the entry's custom fields (else Errc::wrong_target). Any error
// fails the whole refresh.
using TargetValidator = std::function<Status(const TargetInfo& target, std::string_view bytes)>;

// Asked only about a release target whose entry equals, field for field (path, length, sha256,
// kind, model, revision, release_seq), one in the trusted targets, i.e. bytes that an earlier
// refresh fetched, hash-checked and validated under exactly that entry. Returns true if the
// caller still holds what that validation gave it (e.g. the manifest in its cache), so the
// client neither fetches nor validates the target again. Unset: every release target is fetched
// and validated (trust.md step 7).
using AlreadyVerified = std::function<bool(const TargetInfo& target)>;

struct RoleSummary {
  std::uint64_t version = 0;  // 0: not trusted yet
  TimePoint expires{};
};

struct RefreshOutcome {
  RefreshResult result = RefreshResult::up_to_date;  // updated or up_to_date
  RoleSummary root, timestamp, snapshot, targets;
  std::vector<TargetInfo> trusted_targets;  // sorted by path
  std::size_t roles_fetched = 0;            // delegated roles fetched and verified by it
  std::size_t roles_kept = 0;               // delegated roles it kept unchanged
};

// Verifies a root obtained out of band for first use: a DSSE envelope signed by a threshold of
// its own root keys. Its expiry does not matter here (the first refresh updates or rejects it).
Result<TrustedRole> verify_initial_root(std::string_view root_bytes);

// `weightsctl feed add`: verifies `root_bytes` and adds the feed (no network access).
Status add_feed(StateStore& store, std::string_view name, std::string_view location,
                std::string_view root_bytes, TimePoint now,
                const std::vector<std::string>& mirrors = {});

// The verification workflow without the database: from `trusted`, fetch and verify everything
// at `now`. Returns what to commit and whether anything changed.
struct VerifiedUpdate {
  RefreshResult result = RefreshResult::up_to_date;
  TrustedUpdate update;
  std::size_t releases_validated = 0;  // release targets fetched and validated
  std::size_t releases_kept = 0;       // unchanged ones `already_verified` let us skip
  std::size_t roles_fetched = 0;       // delegated roles fetched and verified
  std::size_t roles_kept = 0;          // delegated roles unchanged since the trusted state
};
Result<VerifiedUpdate> verify_update(const FeedState& trusted, Fetcher& fetcher, TimePoint now,
                                     const TargetValidator& validator,
                                     const ClientLimits& limits = {},
                                     const AlreadyVerified& already_verified = {});

// `weightsctl feed refresh` / the daemon's periodic refresh: load, verify_update, commit in one
// transaction; on any failure records the refusal (code and message) and returns the error.
Result<RefreshOutcome> refresh(StateStore& store, std::string_view feed, Fetcher& fetcher,
                               TimePoint now, const TargetValidator& validator,
                               const ClientLimits& limits = {},
                               const AlreadyVerified& already_verified = {});
// Same, with a fetcher made from the feed's configured location (make_fetcher).
Result<RefreshOutcome> refresh(StateStore& store, std::string_view feed, TimePoint now,
                               const TargetValidator& validator, const ClientLimits& limits = {});

// What the trusted state says, for `feed status`.
RefreshOutcome summarize(const FeedState& state);

// A feed is stale when it has never been refreshed or any trusted role has expired at `now`:
// keep serving what was verified, accept nothing new. stale_since is the earliest such expiry
// (nullopt if not stale or never refreshed).
bool is_stale(const FeedState& state, TimePoint now);
std::optional<TimePoint> stale_since(const FeedState& state, TimePoint now);

// Fetches a target listed in the trusted targets (e.g. a torrent file) by its consistent name,
// reading at most its length, and checks length and sha256. not_found if it is not listed.
Result<std::string> fetch_verified_target(Fetcher& fetcher, const FeedState& state,
                                          std::string_view path);

}  // namespace weights::tuf
