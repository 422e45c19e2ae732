#include "core/catalog/feed_layer.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <system_error>

#include <fmt/format.h>
#include <unistd.h>

#include "core/util/atomic_file.hpp"
#include "core/util/json.hpp"
#include "core/util/path_policy.hpp"

namespace weights::catalog {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view index_name = "index.json";
constexpr std::string_view current_name = "current";
constexpr std::size_t max_index_bytes = 4 * 1024 * 1024;

Status io_fail(const fs::path& p, std::string_view what, const std::error_code& ec) {
  return fail(Errc::io_error, fmt::format("{}: {}: {}", p.string(), what, ec.message()));
}

// A name no other staging of this process or another one takes: the time and a counter.
std::string fresh_name(std::uint64_t snapshot_version) {
  static std::atomic<std::uint64_t> counter{0};
  const auto ns = std::chrono::steady_clock::now().time_since_epoch().count();
  return fmt::format("s{}-{}-{}-{}", snapshot_version, ::getpid(), ns, ++counter);
}

}  // namespace

std::string feed_layer_name(std::string_view feed) {
  return fmt::format("feed:{}", feed);
}

std::vector<tuf::TargetInfo> catalog_targets(const std::vector<tuf::TargetInfo>& targets) {
  std::vector<tuf::TargetInfo> out;
  for (const auto& t : targets) {
    if (t.kind == tuf::TargetKind::catalog) out.push_back(t);
  }
  return out;
}

Result<CatalogFile> check_catalog_target(const tuf::TargetInfo& target, std::string_view bytes,
                                         std::string_view source) {
  const auto family = tuf::catalog_target_family(target.path);
  if (target.kind != tuf::TargetKind::catalog || !family) {
    return fail(Errc::wrong_target, fmt::format("{}: not a catalog target", source));
  }
  auto file = parse_catalog(bytes, source);
  if (!file) return tl::unexpected(file.error());
  if (file->family != *family) {
    return fail(Errc::wrong_target,
                fmt::format("{}: family '{}' is not the one the target path names ('{}')", source,
                            file->family, *family),
                "a catalog file is published as catalog/<its family>.toml");
  }
  file->path = std::string(source);
  return file;
}

Status check_layer(std::vector<CatalogFile> files) {
  const Catalog cat = Catalog::from_parsed(std::move(files), "check");
  if (cat.problems().empty()) return {};
  Error e = cat.problems().front();
  for (std::size_t i = 1; i < cat.problems().size(); ++i) {
    e.message += "; " + cat.problems()[i].message;
  }
  return tl::unexpected(e);
}

FeedLayers::FeedLayers(fs::path root) : root_(std::move(root)) {}

Result<std::optional<InstalledLayer>> FeedLayers::installed(std::string_view feed) const {
  if (auto ok = check_feed_name(feed); !ok) return tl::unexpected(ok.error());
  const fs::path link = root_ / feed / current_name;
  std::error_code ec;
  const fs::path target = fs::read_symlink(link, ec);
  if (ec == std::errc::no_such_file_or_directory) return std::optional<InstalledLayer>{};
  if (ec) return tl::unexpected(io_fail(link, "cannot read the link", ec).error());
  InstalledLayer layer;
  // The link names a sibling directory; anything else is not ours.
  if (target.has_parent_path() || target.empty() || target.string().front() == '.') {
    return fail(Errc::io_error, fmt::format("{}: unexpected link target", link.string()));
  }
  layer.dir = root_ / feed / target;
  auto text = read_file(layer.dir / index_name, max_index_bytes);
  if (!text) return tl::unexpected(text.error());
  const std::string where = (layer.dir / index_name).string();
  auto doc = json::parse_strict(*text);
  if (!doc) return tl::unexpected(with_context(doc.error(), where));
  auto version = json::get_uint(*doc, "snapshot_version", where);
  if (!version) return tl::unexpected(version.error());
  layer.snapshot_version = *version;
  auto targets = json::get_object(*doc, "targets", where);
  if (!targets) return tl::unexpected(targets.error());
  for (const auto& [path, entry] : (*targets)->items()) {
    auto t = tuf::parse_target_entry(path, entry);
    if (!t) return tl::unexpected(with_context(t.error(), where));
    if (t->kind != tuf::TargetKind::catalog) {
      return fail(Errc::io_error, fmt::format("{}: {} is not a catalog target", where, path));
    }
    layer.files.push_back(std::move(*t));
  }
  std::sort(layer.files.begin(), layer.files.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  return std::optional<InstalledLayer>(std::move(layer));
}

bool FeedLayers::holds(std::string_view feed, const std::vector<tuf::TargetInfo>& wanted) const {
  auto layer = installed(feed);
  if (!layer) return false;
  if (!*layer) return wanted.empty();
  std::vector<tuf::TargetInfo> sorted = wanted;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  return (*layer)->files == sorted;
}

Result<fs::path> FeedLayers::stage(
    std::string_view feed, std::uint64_t snapshot_version,
    const std::vector<std::pair<tuf::TargetInfo, std::string>>& files) const {
  if (auto ok = check_feed_name(feed); !ok) return tl::unexpected(ok.error());
  const fs::path feed_dir = root_ / feed;
  std::error_code ec;
  fs::create_directories(feed_dir, ec);
  if (ec) return tl::unexpected(io_fail(feed_dir, "cannot create", ec).error());
  // Written under a hidden name and renamed when complete: a crash leaves a hidden directory
  // that the next activate() removes, never a visible half layer.
  const std::string name = fresh_name(snapshot_version);
  const fs::path tmp = feed_dir / ("." + name);
  fs::create_directory(tmp, ec);
  if (ec) return tl::unexpected(io_fail(tmp, "cannot create", ec).error());
  json::Json targets = json::Json::object();
  for (const auto& [t, bytes] : files) {
    const auto family = tuf::catalog_target_family(t.path);
    if (!family || t.kind != tuf::TargetKind::catalog) {
      return fail(Errc::wrong_target, fmt::format("{}: not a catalog target", t.path));
    }
    if (auto ok = write_file_atomic(tmp / (*family + ".toml"), bytes); !ok) {
      return tl::unexpected(ok.error());
    }
    targets[t.path] = tuf::target_entry_json(t);
  }
  const json::Json index = {{"feed", std::string(feed)},
                            {"snapshot_version", snapshot_version},
                            {"targets", std::move(targets)}};
  if (auto ok = write_file_atomic(tmp / index_name, json::dump_pretty(index)); !ok) {
    return tl::unexpected(ok.error());
  }
  const fs::path staged = feed_dir / name;
  fs::rename(tmp, staged, ec);
  if (ec) return tl::unexpected(io_fail(tmp, "cannot rename", ec).error());
  if (auto ok = fsync_dir(feed_dir); !ok) return tl::unexpected(ok.error());
  return staged;
}

Status FeedLayers::activate(std::string_view feed, const fs::path& staged) const {
  if (auto ok = check_feed_name(feed); !ok) return ok;
  const fs::path feed_dir = root_ / feed;
  if (staged.parent_path() != feed_dir) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: not a layer of feed {}", staged.string(), feed));
  }
  const fs::path link = feed_dir / current_name;
  const fs::path tmp_link = feed_dir / ".current.tmp";
  std::error_code ec;
  fs::remove(tmp_link, ec);
  fs::create_symlink(staged.filename(), tmp_link, ec);
  if (ec) return io_fail(tmp_link, "cannot create the link", ec);
  fs::rename(tmp_link, link, ec);
  if (ec) return io_fail(link, "cannot replace", ec);
  if (auto ok = fsync_dir(feed_dir); !ok) return ok;
  // Every other directory (earlier layers, stagings a crash left) goes.
  for (fs::directory_iterator it(feed_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path p = it->path();
    if (p.filename() == current_name || p.filename() == staged.filename()) continue;
    std::error_code rm;
    fs::remove_all(p, rm);
  }
  return {};
}

Status FeedLayers::remove(std::string_view feed) const {
  if (auto ok = check_feed_name(feed); !ok) return ok;
  const fs::path feed_dir = root_ / feed;
  std::error_code ec;
  fs::remove(feed_dir / current_name, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return io_fail(feed_dir / current_name, "cannot remove", ec);
  }
  fs::remove_all(feed_dir, ec);
  if (ec) return io_fail(feed_dir, "cannot remove", ec);
  return {};
}

std::vector<CatalogDir> FeedLayers::dirs() const {
  std::vector<CatalogDir> out;
  std::error_code ec;
  std::vector<std::string> feeds;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (check_feed_name(name)) feeds.push_back(name);
  }
  std::sort(feeds.begin(), feeds.end());
  for (const auto& f : feeds) {
    auto layer = installed(f);
    if (!layer || !*layer) continue;
    out.push_back({feed_layer_name(f), (*layer)->dir});
  }
  return out;
}

}  // namespace weights::catalog
