#pragma once
// Upstream names: what a fetch that no feed could answer names upstream. Owns the model catalog
// (core/catalog: the shipped layer, the followed feeds' layers, the system and user layers, then
// the config's [catalog] dirs) and turns
// a request into a PinTarget: "org/name@<commit>" as given (under the terms of a catalog entry
// that names that commit, if one does); an alias or id through the catalog's pinned commit;
// "org/name" alone through the hub's default branch. Feeds take precedence: the
// engine asks here only after the resolver said not_found. Runs on the io thread; reading the
// catalog is a few small local files.
#include <filesystem>
#include <string>
#include <vector>

#include "core/catalog/catalog.hpp"
#include "core/catalog/feed_layer.hpp"
#include "daemon/engine/pinned_fetch.hpp"

namespace weights::daemon {

class UpstreamNames {
 public:
  // The default catalog layers (the shipped one found from this program's path, /etc, the XDG
  // user directory) followed by `config_dirs` as layer "config". Loads them at once.
  // `feeds`: the followed feeds' catalog layers, read on every reload as layers "feed:<name>"
  // right after the shipped one (docs/catalog.md); none: no feed layers.
  explicit UpstreamNames(const std::vector<std::filesystem::path>& config_dirs,
                         const catalog::FeedLayers* feeds = nullptr);
  explicit UpstreamNames(catalog::CatalogPaths paths, const catalog::FeedLayers* feeds = nullptr);

  // Reads every catalog file again. A broken file is logged as a warning (when the problems
  // differ from the last read's) and skipped; the rest still loads, so a bad file never stops the
  // daemon from serving what it holds.
  void reload();

  // The upstream release the request names (see the header comment). A name the catalog does not
  // know makes it read the catalog again once, so an entry added since start is found. Errors as
  // pin_target and catalog_target.
  Result<PinTarget> target(const FetchRequest& request);

  const catalog::Catalog& catalog() const { return catalog_; }

 private:
  catalog::CatalogPaths paths_;
  const catalog::FeedLayers* feeds_ = nullptr;
  catalog::Catalog catalog_;
  std::vector<std::string> logged_problems_;
};

}  // namespace weights::daemon
