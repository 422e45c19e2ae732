#pragma once
// A feed's catalog layer on the follower (docs/catalog.md "Catalog files from feeds"): after a
// refresh, on a worker, prepare() compares the installed layer with the catalog targets the
// feed now trusts and, if they differ, fetches every file of the new set (length and SHA-256
// against the trusted targets, each location in turn), checks each strictly and all as one
// layer, and stages them. The io thread then activates the staged layer in one step, after the
// refresh's commit. A failure changes nothing: the previous layer stays, the error is reported
// in the feed's status, and the next refresh tries again.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/catalog/feed_layer.hpp"
#include "core/net/fetcher.hpp"
#include "core/trust/tuf_metadata.hpp"
#include "core/util/error.hpp"

namespace weights::daemon {

struct CatalogStep {
  enum class Action { none, install, remove };
  Action action = Action::none;
  std::filesystem::path staged;        // install: the staged directory
  std::uint64_t snapshot_version = 0;  // install: the metadata version the files come with
  std::optional<Error> error;          // the new set was not staged (action none)
};

// `targets`: the feed's trusted targets after the refresh; `fetchers`: its locations, the one
// that just served the metadata first.
CatalogStep prepare_catalog(const catalog::FeedLayers& layers, const std::string& feed,
                            const std::vector<tuf::TargetInfo>& targets,
                            std::uint64_t snapshot_version, const std::vector<Fetcher*>& fetchers);

// On the io thread, after the refresh committed: carries out the step. Errors leave the
// previous layer in place.
Status apply_catalog(const catalog::FeedLayers& layers, const std::string& feed,
                     const CatalogStep& step);

}  // namespace weights::daemon
