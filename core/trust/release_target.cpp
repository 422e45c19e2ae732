#include "core/trust/release_target.hpp"

#include <vector>

#include <fmt/core.h>

namespace weights {

std::string release_target_path(std::string_view model, std::string_view revision) {
  return fmt::format("models/{}/{}.release.json", model, revision);
}
std::string torrent_target_path(std::string_view model, std::string_view revision) {
  return fmt::format("models/{}/{}.torrent", model, revision);
}
std::string torrent_v1_target_path(std::string_view model, std::string_view revision) {
  return fmt::format("models/{}/{}.v1.torrent", model, revision);
}

Status check_release_paths(const ReleaseManifest& manifest, PathPolicy policy) {
  if (policy == PathPolicy::standard) return {};
  std::vector<std::string> paths;
  paths.reserve(manifest.files.size());
  for (const auto& f : manifest.files) paths.push_back(f.path);
  if (auto st = check_path_set(paths, policy); !st) {
    return tl::unexpected(
        with_context(st.error(), fmt::format("{}@{} (path policy {})", manifest.model,
                                             manifest.revision, path_policy_name(policy))));
  }
  return {};
}

Result<ReleaseManifest> validate_release_target(const tuf::TargetInfo& target,
                                                std::string_view bytes, PathPolicy policy) {
  auto manifest = parse_release_manifest(bytes);
  if (!manifest) return tl::unexpected(with_context(manifest.error(), target.path));
  if (manifest->model != target.model) {
    return fail(Errc::wrong_target,
                fmt::format("{}: manifest is for model '{}' but is listed as model '{}'",
                            target.path, manifest->model, target.model));
  }
  if (manifest->revision != target.revision) {
    return fail(Errc::wrong_target,
                fmt::format("{}: manifest is for revision '{}' but is listed as revision '{}'",
                            target.path, manifest->revision, target.revision));
  }
  if (manifest->release_seq != target.release_seq) {
    return fail(Errc::wrong_target,
                fmt::format("{}: manifest has release_seq {} but is listed with release_seq {}",
                            target.path, manifest->release_seq, target.release_seq));
  }
  const std::string expected_path = release_target_path(target.model, target.revision);
  if (target.path != expected_path) {
    return fail(Errc::wrong_target,
                fmt::format("{}: a release of {}@{} must be listed as {}", target.path,
                            target.model, target.revision, expected_path));
  }
  if (auto st = check_release_paths(*manifest, policy); !st) return tl::unexpected(st.error());
  return manifest;
}

}  // namespace weights
