#include "daemon/engine/feed_catalog.hpp"

#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "core/db/state_store.hpp"
#include "core/feed/tuf_client.hpp"

namespace weights::daemon {

namespace {

// The first location whose bytes match the trusted entry; else the first location's error (a
// tampered mirror must not hide a good primary, nor the reverse).
Result<std::string> fetch_from_any(const std::vector<Fetcher*>& fetchers, const FeedState& state,
                                   const std::string& path) {
  std::optional<Error> first;
  for (Fetcher* f : fetchers) {
    auto bytes = tuf::fetch_verified_target(*f, state, path);
    if (bytes) return bytes;
    if (!first) first = bytes.error();
  }
  if (!first) return fail(Errc::internal, "no location to fetch from");
  return tl::unexpected(*first);
}

}  // namespace

CatalogStep prepare_catalog(const catalog::FeedLayers& layers, const std::string& feed,
                            const std::vector<tuf::TargetInfo>& targets,
                            std::uint64_t snapshot_version, const std::vector<Fetcher*>& fetchers) {
  CatalogStep step;
  const auto wanted = catalog::catalog_targets(targets);
  if (layers.holds(feed, wanted)) return step;
  if (wanted.empty()) {
    step.action = CatalogStep::Action::remove;
    return step;
  }
  FeedState state;  // only what fetch_verified_target reads
  state.name = feed;
  state.trusted_targets = wanted;
  std::vector<std::pair<tuf::TargetInfo, std::string>> files;
  std::vector<catalog::CatalogFile> parsed;
  for (const auto& t : wanted) {
    auto bytes = fetch_from_any(fetchers, state, t.path);
    if (!bytes) {
      step.error = with_context(bytes.error(), fmt::format("catalog {}", t.path));
      return step;
    }
    const std::string source = fmt::format("feed {}: {}", feed, t.path);
    auto file = catalog::check_catalog_target(t, *bytes, source);
    if (!file) {
      step.error = with_context(file.error(), "catalog refused");
      return step;
    }
    parsed.push_back(std::move(*file));
    files.emplace_back(t, std::move(*bytes));
  }
  if (auto ok = catalog::check_layer(std::move(parsed)); !ok) {
    step.error = with_context(ok.error(), "catalog refused");
    return step;
  }
  auto staged = layers.stage(feed, snapshot_version, files);
  if (!staged) {
    step.error = with_context(staged.error(), "catalog");
    return step;
  }
  step.action = CatalogStep::Action::install;
  step.staged = std::move(*staged);
  step.snapshot_version = snapshot_version;
  return step;
}

Status apply_catalog(const catalog::FeedLayers& layers, const std::string& feed,
                     const CatalogStep& step) {
  switch (step.action) {
    case CatalogStep::Action::none:
      return {};
    case CatalogStep::Action::install:
      return layers.activate(feed, step.staged);
    case CatalogStep::Action::remove:
      return layers.remove(feed);
  }
  return {};
}

}  // namespace weights::daemon
