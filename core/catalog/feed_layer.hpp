#pragma once
// Catalog files carried by a feed (docs/catalog.md "Catalog files from feeds", docs/
// manifest-format.md §1): the checks a publisher and a follower apply to them, and the layer a
// follower installs per feed. A layer is a directory of the feed's catalog files that becomes
// current in one step (a symbolic link renamed over `current`), so a reader sees the files of
// one feed metadata version, never a mix; it changes only when every file of the new set
// verified and checked.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/catalog/catalog.hpp"
#include "core/trust/tuf_metadata.hpp"
#include "core/util/error.hpp"

namespace weights::catalog {

// The layer name of a feed's catalog files: "feed:<name>".
std::string feed_layer_name(std::string_view feed);

// The targets of kind catalog among `targets`, in their order.
std::vector<tuf::TargetInfo> catalog_targets(const std::vector<tuf::TargetInfo>& targets);

// Checks the bytes of one catalog target (length and SHA-256 already verified): a strict parse
// (parse_catalog, errors named "<source>:LINE"), and the file's `family` equal to the family
// its path names (wrong_target).
Result<CatalogFile> check_catalog_target(const tuf::TargetInfo& target, std::string_view bytes,
                                         std::string_view source);

// Checks files as one catalog layer (docs/catalog.md): an id two files define, or an alias two
// files give different ids, is a schema_error naming both places. What a publisher must not
// sign and a follower does not install.
Status check_layer(std::vector<CatalogFile> files);

// A feed's installed layer: the catalog targets it holds and the snapshot version they were
// trusted at.
struct InstalledLayer {
  std::filesystem::path dir;           // the directory `current` names
  std::uint64_t snapshot_version = 0;  // of the feed metadata the files came with
  std::vector<tuf::TargetInfo> files;  // path, length, sha256; sorted by path
};

// The installed layers under one root (the daemon's <state_dir>/feed-catalog): for each feed
// <root>/<feed>/current -> <dir> holding <family>.toml files and index.json. Not thread-safe:
// one owner changes a feed's layer (the daemon's io thread); stage() may run elsewhere for a
// feed whose layer nobody activates meanwhile.
class FeedLayers {
 public:
  explicit FeedLayers(std::filesystem::path root);

  // The current layer of `feed`; nullopt when it has none. A layer whose index does not
  // parse is an io_error (it is replaced by the next install).
  Result<std::optional<InstalledLayer>> installed(std::string_view feed) const;
  // Whether the current layer holds exactly `wanted` (path, length and sha256 of each).
  bool holds(std::string_view feed, const std::vector<tuf::TargetInfo>& wanted) const;

  // Writes a new layer directory for `feed` (each file and the index fsynced, the directory
  // too) without making it current. `files` are verified targets with their bytes.
  Result<std::filesystem::path> stage(
      std::string_view feed, std::uint64_t snapshot_version,
      const std::vector<std::pair<tuf::TargetInfo, std::string>>& files) const;
  // Makes a staged directory current in one step (rename of a new link over `current`, then an
  // fsync of the feed's directory) and removes the feed's other directories.
  Status activate(std::string_view feed, const std::filesystem::path& staged) const;
  // Removes the feed's layer (its `current` link first, so no reader finds half a layer).
  Status remove(std::string_view feed) const;

  // The current layers as catalog directories ("feed:<name>", the resolved directory), by feed
  // name. Feeds without a readable layer are left out.
  std::vector<CatalogDir> dirs() const;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

}  // namespace weights::catalog
