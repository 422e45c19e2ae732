#pragma once
// Publisher workflow on top of tuf::Repo: turns a directory of model files into a signed-feed
// release (manifest + hybrid torrent + v1 companion, all TUF targets). Shared by `weightsctl
// release add` and, later, the daemon's seeding of a freshly published release.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/publish/torrent_builder.hpp"
#include "core/publish/tuf_repo.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/util/error.hpp"
#include "core/util/time.hpp"

namespace weights {

enum class ExistingRelease { refuse, replace };

struct ReleaseOptions {
  std::string model;     // org/name
  std::string revision;  // upstream commit or tag; names the torrent root directory
  std::vector<std::string> aliases;
  std::string license;
  std::string upstream_kind = "huggingface";
  std::string upstream_repo;                 // empty: the model id
  std::optional<std::uint64_t> release_seq;  // empty: one more than the model's newest
  std::vector<std::string> web_seeds;
  std::vector<std::string> trackers;
  std::uint64_t piece_length = 0;  // 0: from total size
  ExistingRelease existing = ExistingRelease::refuse;
  HashOptions hash;
  // Called with the hashed files before anything is built or staged (e.g. to check them against
  // the hashes an upstream hub published); may adjust git_oid. An error aborts with nothing
  // staged.
  std::function<Status(std::vector<ReleaseFile>&)> check_files;
};

struct AddedRelease {
  ReleaseManifest manifest;
  std::string manifest_path;  // target paths (docs/manifest-format.md §1)
  std::string torrent_path;
  std::string torrent_v1_path;
  std::vector<std::string> skipped;  // entries under files_dir that are not part of the release
};

// Lists the release files under `dir`: regular files (symlinks to regular files are followed,
// as in a Hugging Face snapshot directory), relative '/'-separated paths, sorted. VCS and tool
// metadata (.git/, .cache/huggingface/) are reported in `skipped`; anything else that is not a
// regular file (sockets, dangling links, links to directories) is an error naming it.
Result<std::vector<std::string>> list_release_files(const std::filesystem::path& dir,
                                                    std::vector<std::string>* skipped);

// Hashes the files, builds both torrents, writes the manifest and torrents as staged targets of
// `repo` (published by the next Repo::publish). Refuses a model@revision that is already listed
// unless options.existing == replace; release_seq never goes below the model's newest.
Result<AddedRelease> add_release(tuf::Repo& repo, const std::filesystem::path& files_dir,
                                 const ReleaseOptions& options, TimePoint now);

}  // namespace weights
