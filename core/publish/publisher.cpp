#include "core/publish/publisher.hpp"

#include <algorithm>
#include <system_error>

#include <fmt/core.h>

#include "core/trust/release_target.hpp"

namespace weights {
namespace fs = std::filesystem;

Result<std::vector<std::string>> list_release_files(const fs::path& dir,
                                                    std::vector<std::string>* skipped) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return fail(Errc::not_found, fmt::format("{}: not a directory", dir.string()));
  }
  std::vector<std::string> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) return fail(Errc::io_error, fmt::format("{}: {}", dir.string(), ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) return fail(Errc::io_error, fmt::format("{}: {}", dir.string(), ec.message()));
    const fs::path rel = it->path().lexically_relative(dir);
    const std::string rel_s = rel.generic_string();
    if (it.depth() == 0 && it->is_directory(ec) && rel_s == ".git") {
      if (skipped) skipped->push_back(rel_s + "/");
      it.disable_recursion_pending();
      continue;
    }
    if (rel_s == ".cache/huggingface") {
      if (skipped) skipped->push_back(rel_s + "/");
      it.disable_recursion_pending();
      continue;
    }
    const fs::file_status link_status = it->symlink_status(ec);
    if (fs::is_directory(link_status)) continue;
    const fs::file_status target_status = it->status(ec);
    if (fs::is_regular_file(target_status)) {
      files.push_back(rel_s);
      continue;
    }
    if (fs::is_symlink(link_status)) {
      return fail(Errc::invalid_argument,
                  fmt::format("{}: a symbolic link to something that is not a regular file",
                              it->path().string()),
                  "a release contains regular files only; remove or resolve the link");
    }
    return fail(Errc::invalid_argument, fmt::format("{}: not a regular file", it->path().string()));
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    return fail(Errc::invalid_argument, fmt::format("{}: no files to release", dir.string()));
  }
  return files;
}

namespace {

std::uint64_t newest_seq(const tuf::Repo& repo, std::string_view model) {
  std::uint64_t seq = 0;
  for (const auto& t : repo.targets()) {
    if (t.kind == tuf::TargetKind::release && t.model == model) seq = std::max(seq, t.release_seq);
  }
  return seq;
}

}  // namespace

Result<AddedRelease> add_release(tuf::Repo& repo, const fs::path& files_dir,
                                 const ReleaseOptions& o, TimePoint now) {
  if (!is_valid_model_id(o.model)) {
    return fail(Errc::invalid_argument, fmt::format("invalid model id '{}'", o.model),
                "use ORG/NAME with letters, digits, '.', '_' and '-'");
  }
  if (!is_valid_revision(o.revision)) {
    return fail(Errc::invalid_argument, fmt::format("invalid revision '{}'", o.revision),
                "use a commit id or tag: letters, digits, '.', '_' and '-'");
  }
  AddedRelease out;
  out.manifest_path = release_target_path(o.model, o.revision);
  out.torrent_path = torrent_target_path(o.model, o.revision);
  out.torrent_v1_path = torrent_v1_target_path(o.model, o.revision);

  const auto& targets = repo.targets();
  const bool listed = std::any_of(targets.begin(), targets.end(), [&](const tuf::TargetInfo& t) {
    return t.path == out.manifest_path;
  });
  if (listed && o.existing == ExistingRelease::refuse) {
    return fail(Errc::already_exists,
                fmt::format("{}@{} is already in the feed", o.model, o.revision),
                "pass --replace to re-release it with a new release_seq");
  }
  const std::uint64_t newest = newest_seq(repo, o.model);
  const std::uint64_t seq = o.release_seq.value_or(newest + 1);
  if (seq <= newest) {
    return fail(
        Errc::rollback,
        fmt::format("release_seq {} is not above {}'s newest release_seq {}", seq, o.model, newest),
        "omit --release-seq to take the next one");
  }

  auto paths = list_release_files(files_dir, &out.skipped);
  if (!paths) return tl::unexpected(paths.error());
  auto files = describe_release_files(files_dir, std::move(*paths), o.hash);
  if (!files) return tl::unexpected(files.error());
  if (o.check_files) {
    if (auto st = o.check_files(*files); !st) return tl::unexpected(st.error());
  }

  ReleaseManifest& m = out.manifest;
  m.model = o.model;
  m.aliases = o.aliases;
  m.revision = o.revision;
  m.release_seq = seq;
  m.license = o.license;
  m.published = format_utc(now);
  m.files = std::move(*files);
  for (const auto& f : m.files) m.total_length += f.length;
  m.upstream.kind = o.upstream_kind;
  m.upstream.repo = o.upstream_repo.empty() ? o.model : o.upstream_repo;

  TorrentBuildInput in;
  in.source_dir = files_dir;
  in.revision = o.revision;
  in.files = m.files;
  in.piece_length = o.piece_length;
  in.web_seeds = o.web_seeds;
  in.trackers = o.trackers;
  auto built = build_torrents(in);
  if (!built) return tl::unexpected(built.error());
  m.torrent.v2_infohash = built->v2_infohash;
  m.torrent.v1_infohash = built->v1_infohash;
  m.torrent.piece_length = built->piece_length;
  m.torrent.web_seeds = o.web_seeds;
  m.torrent.trackers = o.trackers;

  auto bytes = serialize_release_manifest(m);
  if (!bytes) return tl::unexpected(bytes.error());
  // One listing for the three targets (one check of the path set, one save of repo.json): the
  // files are written first, so a manifest is only listed once everything it refers to is
  // staged.
  using K = tuf::TargetKind;
  const tuf::Repo::NewTarget added[] = {
      {out.torrent_path, built->hybrid, {K::torrent, o.model, o.revision, seq}},
      {out.torrent_v1_path, built->v1_companion, {K::torrent_v1, o.model, o.revision, seq}},
      {out.manifest_path, *bytes, {K::release, o.model, o.revision, seq}},
  };
  if (auto st = repo.add_targets(added); !st) return tl::unexpected(st.error());
  return out;
}

}  // namespace weights
