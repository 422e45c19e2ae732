#pragma once
// The licence gate of releases from the upstream: before any file of such a release is
// downloaded, its terms (core/upstream/license_terms.hpp: the catalog entry's, else the pinned
// commit's model card's) either need no acceptance (a permissive licence, not gated), or were
// accepted earlier for the same repository and licence id, or are accepted by this request —
// then the acceptance is recorded (the state database's license_acceptances, through an
// AcceptanceStore) so the user is asked once. Otherwise the fetch is refused with
// Errc::license_not_accepted, naming the licence, its URL and files. Acceptance stays on this
// node: nothing is sent to the hub or anywhere else. Io thread only.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/catalog/catalog.hpp"
#include "core/upstream/license_terms.hpp"
#include "core/util/error.hpp"
#include "daemon/release_db.hpp"

namespace weights::daemon {

// Where acceptances are kept: ReleaseDb::license_accepted/accept_license in the daemon (upstream
// "huggingface"), a map in tests. `find` answers when (TimePoint ticks) or nullopt.
struct AcceptanceStore {
  std::function<Result<std::optional<std::int64_t>>(const std::string& repo,
                                                    const std::string& license)>
      find;
  std::function<Status(const std::string& repo, const std::string& license, std::int64_t when)>
      record;
};

// The acceptances of `upstream`'s repositories in the ReleaseDb `db` returns (the engine opens
// its database after building its components).
AcceptanceStore acceptances_in(std::function<ReleaseDb&()> db, std::string_view upstream);

// Whether the request carries the user's acceptance (FetchRequest::accept_license).
enum class Acceptance { not_given, given };

struct Admission {
  bool needed = false;
  std::optional<std::int64_t> accepted_at;  // when the acceptance that admits it was given
};

class LicenseGate {
 public:
  explicit LicenseGate(AcceptanceStore store) : store_(std::move(store)) {}

  // Whether `release` (as the user named it) of `repo` may be downloaded under `terms`. Records
  // an acceptance `given` at `now` when one is needed and none is recorded yet. Errors:
  // license_not_accepted (upstream::not_accepted_error), the store's (database_error).
  Result<Admission> admit(std::string_view release, const std::string& repo,
                          const upstream::LicenseTerms& terms, Acceptance acceptance,
                          std::int64_t now);

 private:
  AcceptanceStore store_;
};

// The terms a catalog entry states: its licence (empty or "unknown": unknown), URL, gating (not
// known: gated) and, when the entry lists its files, their licence files.
upstream::LicenseTerms catalog_terms(const catalog::Entry& entry);

}  // namespace weights::daemon
