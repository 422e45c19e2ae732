#include "daemon/engine/upstream_names.hpp"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

#include "daemon/log.hpp"

namespace weights::daemon {

namespace {

catalog::CatalogPaths paths_with(const std::vector<std::filesystem::path>& config_dirs) {
  std::error_code ec;  // unknown: no shipped layer
  auto paths = catalog::default_catalog_paths(
      std::filesystem::read_symlink("/proc/self/exe", ec), [](const char* name) {
        const char* v = std::getenv(name);
        return v ? std::optional<std::string>(v) : std::nullopt;
      });
  for (const auto& d : config_dirs) paths.dirs.push_back({"config", d});
  return paths;
}

}  // namespace

UpstreamNames::UpstreamNames(const std::vector<std::filesystem::path>& config_dirs,
                             const catalog::FeedLayers* feeds)
    : UpstreamNames(paths_with(config_dirs), feeds) {}

UpstreamNames::UpstreamNames(catalog::CatalogPaths paths, const catalog::FeedLayers* feeds)
    : paths_(std::move(paths)), feeds_(feeds) {
  reload();
}

void UpstreamNames::reload() {
  catalog::CatalogPaths paths = paths_;
  if (feeds_ != nullptr) {
    // Right after the shipped layer: the operator's and the user's files override a feed.
    auto at = std::find_if(paths.dirs.begin(), paths.dirs.end(),
                           [](const catalog::CatalogDir& d) { return d.layer != "shipped"; });
    const auto feed_dirs = feeds_->dirs();
    paths.dirs.insert(at, feed_dirs.begin(), feed_dirs.end());
  }
  catalog_ = catalog::Catalog::load(paths);
  std::vector<std::string> problems;
  for (const auto& p : catalog_.problems()) problems.push_back(p.to_string());
  // Read again every minute while the catalog is followed: a broken file is logged once.
  if (problems != logged_problems_) {
    for (const auto& p : problems) log::warning("catalog: {}", p);
  }
  logged_problems_ = std::move(problems);
}

Result<PinTarget> UpstreamNames::target(const FetchRequest& request) {
  auto pin = pin_target(request);
  if (!pin) return tl::unexpected(pin.error());
  if (*pin && (*pin)->commit) {
    // A commit the catalog names comes under the entry's terms.
    PinTarget t = **pin;
    for (const catalog::Entry* e : catalog_.entries()) {
      if (e->upstream == upstream_kind && e->repo == t.repo && e->commit == *t.commit) {
        t.license = catalog_terms(*e);
        break;
      }
    }
    return t;
  }
  // An alias, or an id without a commit: the catalog's pin comes before the hub's branch.
  auto entry = catalog_target(catalog_, request);
  if (!entry && entry.error().code == Errc::not_found) {
    reload();
    entry = catalog_target(catalog_, request);
  }
  if (!entry && entry.error().code == Errc::not_found && *pin) return **pin;
  return entry;
}

}  // namespace weights::daemon
