#pragma once
// Catalog files as targets of a feed the publisher signs (docs/manifest-format.md §1,
// docs/catalog.md "Catalog files from feeds"): `weightsctl feed catalog add|remove|list`.
#include <string>
#include <string_view>
#include <vector>

#include "core/catalog/catalog.hpp"
#include "core/publish/tuf_repo.hpp"
#include "core/util/error.hpp"

namespace weights {

// Stages a catalog file (its bytes; `source` names it in messages) as the target
// catalog/<family>.toml of `repo`, replacing a staged one of that family. Refused unless it
// passes the catalog's strict checks (parse_catalog) and, together with the feed's other catalog
// targets, forms one valid layer (catalog::check_layer): a follower would refuse anything else.
Result<tuf::TargetInfo> add_catalog_target(tuf::Repo& repo, std::string_view bytes,
                                           std::string_view source);
// Unlists catalog/<family>.toml (not_found if it is not listed).
Status remove_catalog_target(tuf::Repo& repo, std::string_view family);
// The staged catalog targets of `repo`, by path.
std::vector<tuf::TargetInfo> listed_catalog_targets(const tuf::Repo& repo);

}  // namespace weights
