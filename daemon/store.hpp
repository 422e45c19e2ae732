#pragma once
// The on-disk payload layout under the state dir (architecture §3), and the filesystem steps
// that move verified files from staging to the content-addressed store and into views.
//
//   staging/<v2hex>/<revision>/<path>   libtorrent's save_path is staging/<v2hex>
//   store/sha256/<aa>/<sha256hex>       one inode per verified content (hard links)
//   views/<org>/<name>/<revision>/...   plain directory of hard links, complete or absent
//   resume/<v2hex>.resume               libtorrent resume data (atomic writes)
//   torrents/<v2hex>.torrent            the verified hybrid .torrent (a TUF target)
//   torrents/<v2hex>.v1.torrent         the verified v1 companion, when the feed has one
//   torrents/<v2hex>.git-objects        a commit-pinned release's git object bundle (the
//                                       pinned torrent's name is the commit, so one per commit),
//                                       served by the pin exchange (core/upstream/pin_exchange)
//
// No libtorrent here: plain files, so it is unit-tested without a session.
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/error.hpp"

namespace weights::daemon {

namespace fs = std::filesystem;

struct ViewFile {
  std::string path;    // manifest path (policy-checked)
  std::string sha256;  // 64 hex, present in the store
};

struct HfCacheFile {
  std::string path;       // manifest path (policy-checked)
  std::string sha256;     // 64 hex, present in the store
  std::string blob_name;  // the hub's name: git blob oid (40 hex) or SHA-256 (64 hex)
};

// A fetch's request for a Hugging Face cache layout: where, and how the fetch named the release
// (huggingface_hub's `revision` argument), which decides the refs it may move.
struct HfCacheTarget {
  fs::path dir;  // absolute cache dir (e.g. $HF_HOME/hub)
  // The revision as the request named it ("org/name@REV" or the revision field); none when it
  // named only the model or an alias, i.e. the model's current release.
  std::optional<std::string> requested_revision;
  friend bool operator==(const HfCacheTarget&, const HfCacheTarget&) = default;
};

// Whether a snapshot holds every file of its release or an --include subset.
enum class SnapshotScope { complete, partial };

// The refs/<name> files a snapshot of `revision` moves to itself (docs/huggingface.md, "Refs"),
// following huggingface_hub, which records a ref only for a revision asked for by name:
//   - a partial snapshot moves none (a loader resolving a ref would find files missing);
//   - a request that named no revision moves "main", the revision a loader asks for by default
//     (from_pretrained("org/name")): the model's current release stands for upstream's main;
//   - a requested revision that is not a commit id (40 lowercase hex) is upstream's ref name:
//     refs/<requested>; so is a release revision that is not a commit id: refs/<revision>;
//   - a commit id asked for explicitly moves nothing (an older commit never takes over main).
// Sorted, unique; every name is a valid revision (one safe path component).
std::vector<std::string> hf_cache_refs(std::string_view revision,
                                       const std::optional<std::string>& requested_revision,
                                       SnapshotScope scope);

class Store {
 public:
  explicit Store(fs::path state_dir);

  // Creates the directories above (idempotent).
  Status ensure_layout() const;

  fs::path staging_dir(std::string_view v2hex) const;
  fs::path staging_file(std::string_view v2hex, std::string_view revision,
                        std::string_view path) const;
  fs::path store_file(std::string_view sha256) const;
  fs::path view_dir(std::string_view model, std::string_view revision) const;
  fs::path resume_file(std::string_view v2hex) const;
  fs::path torrent_file(std::string_view v2hex) const;
  fs::path torrent_v1_file(std::string_view v2hex) const;
  fs::path git_objects_file(std::string_view v2hex) const;

  // `file` has been verified to have content `sha256`. If the store has no such content yet,
  // hard-links `file` there; if it has (another inode, e.g. the same file in another release),
  // replaces `file` by a hard link to the store's inode, so identical content costs disk once.
  Status adopt(const fs::path& file, std::string_view sha256) const;
  // Ensures the store holds the empty file (empty files are never written by libtorrent).
  Status adopt_empty() const;

  // Builds views/<model>/<revision> from store entries in a temp dir and renames it into place
  // (replacing an older view) only once every file is linked: a view is complete or absent.
  Result<fs::path> build_view(std::string_view model, std::string_view revision,
                              std::span<const ViewFile> files) const;
  Status remove_view(std::string_view model, std::string_view revision) const;
  // True if views/<model>/<revision> holds exactly `files`, each the store entry itself (same
  // inode; hard links) — then build_view would produce the same view. Copies across
  // filesystems are not recognised (false: rebuild).
  bool view_is_current(std::string_view model, std::string_view revision,
                       std::span<const ViewFile> files) const;
  Status remove_store_entry(std::string_view sha256) const;

  // Lays out a release the way huggingface_hub caches it, so loaders find it offline:
  //   <cache_dir>/models--<org>--<name>/blobs/<blob_name>        hard link to the store entry
  //   <cache_dir>/models--<org>--<name>/snapshots/<revision>/<path> -> ../../blobs/<blob_name>
  //   <cache_dir>/models--<org>--<name>/refs/<ref>                "<revision>", for each of
  //                                                               `refs`, written last
  // `revision` names the snapshot folder: the commit id, or the revision's name when no commit
  // is known (then refs/<name> holds that name, so a loader resolves it either way).
  // Every directory below cache_dir is walked without following links (a symlinked component
  // is refused). An existing blob is kept only if it is the store's inode or a regular file the
  // daemon owns whose content hashes to the store entry's SHA-256; anything else is replaced.
  // Links and refs are replaced atomically (temp + fsync + rename), never written through. A
  // ref name that is not one safe path component (is_valid_revision) is refused before
  // anything is written. Returns the snapshot directory.
  Result<fs::path> materialise_hf_cache(const fs::path& cache_dir, std::string_view repo,
                                        std::string_view revision,
                                        std::span<const HfCacheFile> files,
                                        std::span<const std::string> refs) const;

 private:
  fs::path root_;
};

// Hard link of the daemon-owned regular file src (a link at src is refused, not followed), or a
// copy when src and dst are on different filesystems; either appears under a temp name and is
// renamed over dst. dst's parent directories are created.
Status link_or_copy(const fs::path& src, const fs::path& dst);

struct SourceFile {
  std::string path;  // manifest path (policy-checked), relative to the source directory
  std::uint64_t length = 0;
  std::string sha256;  // 64 hex
};

// Takes a caller's files (seed, import) into `staging` (staging/<v2hex>/<revision>), each by
// descriptor (core/util/safe_fs.hpp): opened below `dir` without following any link, a non-regular
// file refused before it is opened for reading, its length checked before it is hashed, then
// hard-linked if the daemon owns it and nobody else may write it (safe_fs::shareable) and
// hashed from the descriptor, or else copied from the descriptor and the copy hashed. Nothing
// is left in staging unless every file matches. Errors name the file, never its digest.
Status take_files(const fs::path& dir, std::span<const SourceFile> files, const fs::path& staging,
                  unsigned threads);

inline constexpr std::string_view empty_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// --include selection: fnmatch(3) without FNM_PATHNAME, so '*' also matches '/' ("*.json"
// selects "config.json" and "sub/x.json"). No patterns select every file.
bool glob_match(std::string_view pattern, std::string_view path);
std::vector<bool> select_files(std::span<const std::string> paths,
                               std::span<const std::string> include);

}  // namespace weights::daemon
