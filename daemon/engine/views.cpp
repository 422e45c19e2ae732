#include "daemon/engine/views.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/api/export_info.hpp"
#include "core/net/fetcher.hpp"
#include "core/net/hf_hub.hpp"
#include "core/trust/tuf_metadata.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/crypto.hpp"
#include "core/util/safe_fs.hpp"
#include "daemon/engine/torrent_backend.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {

std::optional<std::vector<ViewFile>> complete_view(const ReleaseManifest& manifest,
                                                   const std::vector<FileEntry>& files) {
  std::vector<ViewFile> view;
  for (std::size_t i = 0; i < manifest.files.size(); ++i) {
    if (!files[i].wanted) continue;
    if (!files[i].verified) return std::nullopt;
    view.push_back(ViewFile{manifest.files[i].path, manifest.files[i].sha256});
  }
  return view;
}

bool view_intact(const Store& store, const ReleaseRecord& rec, const std::vector<ViewFile>& view) {
  return release_state_from_string(rec.state) == ReleaseState::complete &&
         rec.view_path == store.view_dir(rec.model, rec.revision).string() &&
         store.view_is_current(rec.model, rec.revision, view);
}

Result<bool> publish_view(const Store& store, ReleaseRecord& rec,
                          const std::vector<ViewFile>& view) {
  auto dir = store.build_view(rec.model, rec.revision, view);
  if (!dir) return tl::unexpected(dir.error());
  const bool changed = rec.view_path != dir->string();
  rec.view_path = dir->string();
  return changed;
}

Result<std::filesystem::path> make_hf_snapshot(const Store& store, const HfCacheTarget& target,
                                               const ReleaseManifest& manifest,
                                               std::string_view revision,
                                               const std::vector<FileEntry>& files) {
  const bool all = std::all_of(files.begin(), files.end(), [](const auto& f) { return f.wanted; });
  const auto refs = hf_cache_refs(revision, target.requested_revision,
                                  all ? SnapshotScope::complete : SnapshotScope::partial);
  return store.materialise_hf_cache(target.dir, hf_cache_repo(manifest), revision,
                                    hf_cache_files(manifest, files), refs);
}

std::string hf_cache_repo(const ReleaseManifest& manifest) {
  const auto& up = manifest.upstream;
  return up.kind == "huggingface" && is_valid_model_id(up.repo) ? up.repo : manifest.model;
}

std::vector<HfCacheFile> hf_cache_files(const ReleaseManifest& manifest,
                                        const std::vector<FileEntry>& files) {
  std::vector<HfCacheFile> out;
  for (std::size_t i = 0; i < manifest.files.size(); ++i) {
    if (!files[i].wanted) continue;
    const auto& f = manifest.files[i];
    out.push_back(HfCacheFile{f.path, f.sha256, hf::cache_blob_name(f)});
  }
  return out;
}

Status check_exportable(const ReleaseRecord& rec, const ReleaseManifest& manifest,
                        const std::vector<FileEntry>& files) {
  for (std::size_t i = 0; i < manifest.files.size(); ++i) {
    if (!files[i].verified) {
      return fail(
          Errc::invalid_argument,
          fmt::format("{} is not complete: {} is not verified", rec.id, manifest.files[i].path),
          "fetch every file of the release first (no --include), then export");
    }
  }
  return {};
}

Result<api::ExportResult> export_bundle(const FeedState& feed, const ReleaseRecord& rec,
                                        const ReleaseManifest& manifest, const Store& store,
                                        const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (!feed.timestamp || !feed.snapshot || !feed.targets) {
    return fail(Errc::unavailable,
                fmt::format("feed {} has no trusted timestamp/snapshot/targets", feed.name),
                "refresh the feed (weightsctl feed refresh)");
  }
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return fail(Errc::already_exists, fmt::format("{} is not empty", dir.string()),
                "export into a new or empty directory");
  }
  // Metadata exactly as verified, so the offline side runs the same TUF checks on the same
  // bytes. Only the newest root is stored; older ones are taken from the feed when reachable so
  // a client holding an older root can walk the chain.
  std::vector<std::pair<std::string, std::string>> meta;
  if (feed.root.version > 1) {
    if (auto fetcher = make_fetcher(feed.location)) {
      for (std::uint64_t v = 1; v < feed.root.version; ++v) {
        auto b = (*fetcher)->fetch(tuf::root_file_name(v), 1024 * 1024);
        if (b) meta.emplace_back(tuf::root_file_name(v), std::move(*b));
      }
    }
  }
  meta.emplace_back(tuf::root_file_name(feed.root.version), feed.root.bytes);
  meta.emplace_back(std::string(tuf::timestamp_file_name), feed.timestamp->bytes);
  meta.emplace_back(tuf::snapshot_file_name(feed.snapshot->version), feed.snapshot->bytes);
  meta.emplace_back(tuf::targets_file_name(feed.targets->version), feed.targets->bytes);
  // Everything below `dir` is created and walked by descriptor: a link planted in the export
  // directory (a shared one, say) is refused, not followed.
  auto base = safe_fs::open_base_dir(dir, safe_fs::Create::yes);
  if (!base) return tl::unexpected(base.error());
  auto write_in = [&dir, &base](const std::string& name, std::string_view bytes) -> Status {
    const fs::path p(name);
    auto sub =
        safe_fs::open_dir_beneath(base->get(), p.parent_path().string(), safe_fs::Create::yes, dir);
    if (!sub) return tl::unexpected(sub.error());
    return safe_fs::write_file_at(sub->get(), p.filename().string(), bytes, 0644,
                                  (dir / p).parent_path());
  };
  for (const auto& [name, bytes] : meta) {
    if (auto st = write_in(name, bytes); !st) return tl::unexpected(st.error());
  }
  // The release's targets (manifest, torrents), each checked against its pinned hash.
  int targets = 0;
  for (const auto& t : feed.trusted_targets) {
    if (t.model != rec.model || t.revision != rec.revision) continue;
    std::string bytes;
    if (t.kind == tuf::TargetKind::release) {
      bytes = rec.manifest;
    } else {
      const auto file = t.kind == tuf::TargetKind::torrent ? store.torrent_file(rec.v2_infohash)
                                                           : store.torrent_v1_file(rec.v2_infohash);
      auto b = read_file(file, max_torrent_bytes);
      if (!b) continue;  // a v1 companion the node never fetched: optional
      bytes = std::move(*b);
    }
    if (bytes.size() != t.length || crypto::sha256_hex(bytes) != t.sha256) continue;
    if (auto st = write_in(tuf::consistent_target_name(t), bytes); !st) {
      return tl::unexpected(st.error());
    }
    ++targets;
  }
  if (targets < 2) {
    return fail(Errc::not_found,
                fmt::format("{}: the manifest or torrent no longer matches feed {}'s trusted "
                            "targets",
                            rec.id, feed.name),
                "refresh the feed and fetch the release again");
  }
  for (const auto& f : manifest.files) {
    if (f.length == 0) (void)store.adopt_empty();
    const fs::path p = fs::path("files") / f.path;
    auto src = safe_fs::open_regular(store.store_file(f.sha256));
    if (!src) return tl::unexpected(src.error());
    auto sub =
        safe_fs::open_dir_beneath(base->get(), p.parent_path().string(), safe_fs::Create::yes, dir);
    if (!sub) return tl::unexpected(sub.error());
    if (auto st = safe_fs::place_file(*src, sub->get(), p.filename().string(), safe_fs::Share::link,
                                      (dir / p).parent_path());
        !st) {
      return tl::unexpected(st.error());
    }
  }
  const api::ExportResult out{rec.id,
                              dir.string(),
                              std::string(export_format),
                              feed.name,
                              rec.model,
                              rec.revision,
                              rec.release_seq,
                              manifest.files.size(),
                              manifest.total_length};
  if (auto st = write_in("weights-export.json", export_info_json(out)); !st) {
    return tl::unexpected(st.error());
  }
  (void)fsync_dir(dir);
  log::info("{}: exported to {}", rec.id, dir.string());
  return out;
}

}  // namespace weights::daemon
