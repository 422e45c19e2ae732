#include "cli/cmd_hf.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <system_error>

#include <fmt/core.h>

#include "cli/common.hpp"
#include "core/net/hf_hub.hpp"
#include "core/upstream/git_pin.hpp"
#include "core/upstream/hf_pin.hpp"

namespace weights::cli {
namespace fs = std::filesystem;

namespace {

Status from_hub(const HfImportArgs& a, std::string& files_dir, ReleaseOptions& o,
                std::optional<HubTrust>& trusted) {
  if (files_dir.empty()) {
    return fail(Errc::invalid_argument, "--from-hf needs a directory to download into",
                "weightsctl release add ./DIR --from-hf ORG/NAME@REV --feed pub/");
  }
  std::string repo = a.from_hf;
  std::string rev = "main";
  if (const auto at = repo.find('@'); at != std::string::npos) {
    rev = repo.substr(at + 1);
    repo.resize(at);
  }
  hf::HubOptions ho = hf::hub_options_from_env();
  if (!a.endpoint.empty()) ho.endpoint = a.endpoint;
  while (!ho.endpoint.empty() && ho.endpoint.back() == '/') ho.endpoint.pop_back();
  hf::Hub hub(ho);
  // The API resolves REV and lists the files; only the resolution of a branch or tag is
  // trusted, the listing must agree with the commit's git objects.
  auto listed = hub.revision(repo, rev);
  if (!listed) return tl::unexpected(listed.error());
  if (upstream::is_commit_id(rev)) {
    if (listed->sha != rev) {
      return fail(
          Errc::wrong_target,
          fmt::format("{}@{}: the hub's API answers with commit {}", repo, rev, listed->sha),
          "this hub or mirror does not serve the pinned commit; nothing was downloaded");
    }
  } else {
    trusted = HubTrust{repo, rev, listed->sha,
                       fmt::format("{}@{} is commit {}: the hub said so, and this one step "
                                   "trusted it (import {}@{} to trust nothing but the commit id)",
                                   repo, rev, listed->sha, repo, listed->sha)};
    if (!a.quiet) fmt::print(stderr, "{}\n", trusted->note);
  }
  upstream::GitFetchOptions go;
  go.token = ho.token;  // to the endpoint's origin only
  go.proxy = ho.proxy;
  const std::string git_url = fmt::format("{}/{}", ho.endpoint, repo);
  auto pinned = upstream::fetch_pinned_tree(git_url, listed->sha, go);
  if (!pinned) {
    Error e = with_context(pinned.error(), fmt::format("{}@{}", repo, listed->sha.substr(0, 12)));
    if (e.hint.empty()) {
      e.hint =
          "the file list comes from the hub's git repository, never from its API alone: check "
          "the endpoint's git service, or use a mirror that serves it (HF_ENDPOINT / "
          "--endpoint)";
    }
    return tl::unexpected(e);
  }
  if (auto st = upstream::check_listing(*listed, *pinned); !st) {
    return tl::unexpected(with_context(st.error(), "refused before downloading"));
  }
  auto shared = std::make_shared<upstream::PinnedTree>(std::move(*pinned));
  const hf::HubRevision r = upstream::pinned_revision(repo, *shared, listed->license);
  std::uint64_t total = 0;
  std::uint64_t largest_git = 0;
  for (const auto& f : r.files) {
    total += f.size;
    if (!f.lfs_sha256) largest_git = std::max(largest_git, f.size);
  }
  if (!a.quiet) {
    fmt::print(stderr, "{}@{}: {} files, {}, pinned by the commit's git objects\n", repo, r.sha,
               r.files.size(), human_bytes(total));
  }
  std::error_code ec;
  fs::create_directories(files_dir, ec);
  if (ec) {
    return fail(Errc::io_error, fmt::format("cannot create {}: {}", files_dir, ec.message()));
  }
  for (const auto& f : r.files) {
    if (!a.quiet) fmt::print(stderr, "  {:>10}  {}\n", human_bytes(f.size), f.path);
    if (auto st = hub.download(r, f, fs::path(files_dir) / f.path); !st) return st;
  }
  if (o.model.empty()) o.model = repo;
  if (o.revision.empty()) o.revision = r.sha;
  if (o.upstream_repo.empty()) o.upstream_repo = repo;
  o.upstream_kind = "huggingface";
  if (o.license.empty()) o.license = r.license;
  o.hash.git_oid = GitOid::for_small_files;
  o.hash.git_oid_max_bytes = std::max(o.hash.git_oid_max_bytes, largest_git);
  const std::string dir = files_dir;
  // Files already in the directory that the commit does not hold are refused here too.
  o.check_files = [shared, dir](std::vector<ReleaseFile>& files) -> Status {
    std::string bad;
    auto st = upstream::check_against_pin(*shared, files, &bad);
    if (!st && !bad.empty() &&
        (st.error().code == Errc::hash_mismatch || st.error().code == Errc::length_mismatch)) {
      // The bad download goes, so running the command again fetches it anew.
      std::error_code e;
      fs::remove(fs::path(dir) / bad, e);
      return tl::unexpected(with_context(st.error(), "refused before signing (file removed)"));
    }
    return st;
  };
  return {};
}

Status from_cache(const HfImportArgs& a, std::string& files_dir, ReleaseOptions& o) {
  std::optional<std::string> rev;
  if (!o.revision.empty()) rev = o.revision;
  auto snap = hf::open_cache_snapshot(a.from_hf_cache, rev);
  if (!snap) return tl::unexpected(snap.error());
  auto shared = std::make_shared<hf::CacheSnapshot>(std::move(*snap));
  if (!files_dir.empty() && fs::path(files_dir) != shared->snapshot_dir) {
    return fail(Errc::invalid_argument, "give either a directory or --from-hf-cache, not both");
  }
  files_dir = shared->snapshot_dir.string();
  if (o.model.empty()) o.model = shared->repo;
  if (o.revision.empty()) o.revision = shared->revision;
  if (o.upstream_repo.empty()) o.upstream_repo = shared->repo;
  o.upstream_kind = "huggingface";
  // Every blob named by a git oid must get one, whatever its size.
  o.hash.git_oid = GitOid::for_small_files;
  std::error_code ec;
  for (const auto& f : shared->files) {
    if (f.blob_name.size() == 40) {
      const auto size = fs::file_size(shared->snapshot_dir / f.path, ec);
      if (!ec) o.hash.git_oid_max_bytes = std::max(o.hash.git_oid_max_bytes, size);
    }
  }
  if (!a.quiet) {
    fmt::print(stderr, "{}: {}@{}, {} files\n", shared->snapshot_dir.string(), shared->repo,
               shared->revision, shared->files.size());
  }
  o.check_files = [shared](std::vector<ReleaseFile>& files) -> Status {
    return hf::check_against_cache(*shared, files);
  };
  return {};
}

}  // namespace

Result<std::optional<HubTrust>> prepare_hf_import(const HfImportArgs& a, std::string& files_dir,
                                                  ReleaseOptions& o) {
  if (!a.from_hf.empty() && !a.from_hf_cache.empty()) {
    return fail(Errc::invalid_argument, "--from-hf and --from-hf-cache exclude each other");
  }
  std::optional<HubTrust> trusted;
  Status st = a.from_hf.empty() ? from_cache(a, files_dir, o) : from_hub(a, files_dir, o, trusted);
  if (!st) return tl::unexpected(st.error());
  if (o.license.empty()) {
    return fail(Errc::invalid_argument, "no license given and the hub lists none",
                "pass --license, e.g. --license apache-2.0");
  }
  return trusted;
}

}  // namespace weights::cli
