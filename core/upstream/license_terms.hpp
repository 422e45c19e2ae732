#pragma once
// Under which terms a release from the upstream comes, and whether its user must accept them
// before any file is downloaded (docs/threat-model.md "Licences and gated repositories"). The
// terms come from the catalog entry that names the release, else from the pinned commit's own
// model card (core/upstream/model_card.hpp). Acceptance is needed unless the licence is on the
// permissive list below and the repository is not gated; an unknown licence (none given, or a
// card that could not be read) and an unknown gating both need it. Pure functions over plain
// data: the decision is tested without a hub.
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/upstream/model_card.hpp"
#include "core/util/error.hpp"

namespace weights::upstream {

// Licences that grant use, modification and redistribution without use restrictions or terms
// to accept (the hub's ids, which are SPDX ids lowercased). Anything else needs acceptance.
inline constexpr std::array<std::string_view, 8> permissive_licenses = {
    "apache-2.0", "mit",       "bsd-2-clause", "bsd-3-clause",
    "cc0-1.0",    "cc-by-4.0", "isc",          "unlicense"};

// The id of a licence nobody named.
inline constexpr std::string_view unknown_license = "unknown";

enum class LicenseSource { catalog, model_card };
std::string_view license_source_name(LicenseSource source) noexcept;  // "catalog", "model_card"

struct LicenseTerms {
  // What an acceptance is recorded under, with the repository: the licence id lowercased
  // ("apache-2.0", "llama3.1"); `other:<license_name>` for the hub's `other`; "unknown".
  std::string id;
  std::string name;  // as the source spells it, for people
  std::string url;   // where its text is (a URL or a file of the repository); may be empty
  bool gated = true;
  std::vector<std::string> files;  // licence and use-policy files of the release, sorted
  LicenseSource source = LicenseSource::model_card;
  std::string where;    // "catalog/llama.toml:12", "README.md of <commit>"
  std::string layer;    // the catalog entry's layer ("shipped", "feed:acme", ...); else empty
  std::string problem;  // why the licence is unknown (an unreadable card); may be empty
  friend bool operator==(const LicenseTerms&, const LicenseTerms&) = default;
};

// ASCII case-insensitive membership in permissive_licenses.
bool is_permissive(std::string_view license_id);
// Gated, or a licence that is not permissive.
bool needs_acceptance(const LicenseTerms& terms);

// The release's licence and use-policy files among `paths` (manifest paths): every file whose
// name, ASCII case-insensitively, starts with LICENSE, LICENCE or COPYING or contains
// USE_POLICY, at any depth; sorted.
std::vector<std::string> license_files(const std::vector<std::string>& paths);

// The licence id an acceptance is recorded under, from a licence's spelling: lowercased and
// trimmed; empty is unknown_license.
std::string license_id(std::string_view license);

// The terms a pinned commit's model card states. `card`: the parse of README.md, or nullopt
// when the commit has none (or only as an LFS file). A card without `license`, or one that did
// not parse, is an unknown licence (the parse error in `problem`); gated when an
// `extra_gated_*` key is present.
LicenseTerms terms_from_card(const std::optional<Result<ModelCard>>& card,
                             const std::vector<std::string>& paths, std::string_view commit);

// One line for people: "llama3.1 (https://...), files LICENSE, USE_POLICY.md, gated upstream".
std::string describe_terms(const LicenseTerms& terms);

// Errc::license_not_accepted for `release` (as the user named it): the licence's name, URL,
// files and gating in the message, the way to accept in the hint.
Error not_accepted_error(std::string_view release, const LicenseTerms& terms);

}  // namespace weights::upstream
