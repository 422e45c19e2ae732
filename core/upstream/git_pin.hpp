#pragma once
// A release pinned by an upstream git commit (docs/manifest-format.md, "Commit-pinned
// releases"): `URL + 40-hex commit` becomes the list of the commit's files, each with its size
// and SHA-256, derived from git objects alone. A Hugging Face model repo is a git repo: the
// commit id authenticates the root tree, each tree its entries, each small file's blob its
// bytes, and each LFS pointer blob (core/upstream/lfs_pointer.hpp) the SHA-256 and size of a
// large file. Nothing the server says besides those objects is trusted.
//
// The split: the git program does the transfer, libgit2 does the check.
//  - Transfer: `git fetch --depth=1 --end-of-options URL <commit>` (protocol v2: a want by id
//    works even for a commit that is no branch tip; libgit2 1.5 can neither fetch shallowly
//    nor speak v2) into a fresh temporary bare repository, spawned with posix_spawn (no shell)
//    in its own process group, in a sanitized environment (no user or system git config, HOME
//    the temp dir, no prompts, only the http, https and file transports), with
//    transfer.fsckObjects and without HTTP redirects. The token travels in the environment
//    (GIT_CONFIG_COUNT: an `http.<scheme>://<host:port>/.extraHeader`, so only to the URL's own
//    origin), never on the command line; proxies come from GitFetchOptions::proxy, nothing from
//    the process environment. A wall-clock deadline, a stall timeout (no byte added to the
//    repository for `stall`) and a byte cap (the repository's size on disk, polled, plus
//    RLIMIT_FSIZE on the process) kill the process group.
//  - If the server refuses a want by id (protocol v0 servers without allow*SHA1InWant), the
//    fallback fetches the default branch (HEAD) shallowly and deepens it (depth 1, then +64
//    commits per round, at most max_deepen_commits in all, within the same caps and deadline)
//    until the commit is present or the history is complete. A mirror must therefore either
//    serve wants by id (any protocol v2 server does) or keep the pin within the newest
//    max_deepen_commits commits of its default branch.
//  - Check: read_pinned_tree through libgit2, whose object reads re-hash every object
//    (GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, on by default and never turned off here).
//
// Non-LFS blobs are capped at max_small_blob_bytes (10 MiB: the hub refuses pushes of larger
// non-LFS files, so a bigger blob is not something the hub made).
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/net/proxy.hpp"
#include "core/util/error.hpp"

struct git_repository;  // libgit2

namespace weights::upstream {

inline constexpr std::uint64_t max_small_blob_bytes = 10ull << 20;
inline constexpr int max_deepen_commits = 1024;
inline constexpr std::size_t max_tree_files = 100'000;

enum class FileKind { blob, lfs };

struct PinnedFile {
  std::string path;  // passes the path policy (core/util/path_policy.hpp)
  std::uint64_t size = 0;
  std::string sha256;   // 64 lowercase hex: of the file's content
  std::string git_oid;  // 40 lowercase hex: the blob (the pointer, for lfs)
  FileKind kind = FileKind::blob;
  friend bool operator==(const PinnedFile&, const PinnedFile&) = default;
};

struct PinnedTree {
  std::string commit;             // 40 lowercase hex
  std::vector<PinnedFile> files;  // sorted by path bytes; the path set passes check_path_set
  friend bool operator==(const PinnedTree&, const PinnedTree&) = default;
};

struct GitFetchOptions {
  std::string token;                  // sent as "Authorization: Bearer" to the URL's origin only
  std::chrono::seconds timeout{300};  // wall clock for the whole fetch, fallback included
  std::chrono::seconds stall{60};     // no byte received for this long: abort
  std::uint64_t max_bytes = 512ull << 20;  // the temporary repository's size on disk
  ProxySettings proxy;                     // for http(s) URLs; the environment is never read
};

// Whether `commit` is exactly 40 lowercase hex characters (a full SHA-1 commit id).
bool is_commit_id(std::string_view commit);

// Fetches `commit` (exactly 40 lowercase hex) from the git smart-HTTP repo at `url` into a fresh
// temporary bare repo (removed on return), then reads the tree from git objects alone.
// `url`: http://, https://, file:// or an absolute local path. Errors: invalid_argument (a bad
// pin or URL, before any git call), not_found (the server does not have the commit),
// too_large (byte cap), unavailable (transfer failed, deadline, stall), parse_error (git's
// fsck refused the objects sent), and those of read_pinned_tree.
Result<PinnedTree> fetch_pinned_tree(std::string_view url, std::string_view commit,
                                     const GitFetchOptions& options);

// The transfer of fetch_pinned_tree alone: fetches `commit` into a fresh temporary bare repo,
// calls `use` with it (opened with libgit2; nothing is checked yet) and removes it. Errors as
// fetch_pinned_tree's transfer, or `use`'s prefixed with the URL.
Status fetch_commit_objects(std::string_view url, std::string_view commit,
                            const GitFetchOptions& options,
                            const std::function<Status(git_repository*)>& use);

// Reads the pinned tree of `commit` from an already populated repository (libgit2, strict hash
// verification): checks the commit id, every tree entry's name (path policy) and mode (regular
// files only: refuse symlinks, gitlinks/submodules, '..', '.git'), detects LFS pointers by
// .gitattributes `filter=lfs` (libgit2 attr lookup on the commit's tree) and parses them, hashes
// small blobs with SHA-256. Errors name the file.
Result<PinnedTree> read_pinned_tree(git_repository* repo, std::string_view commit);

// The bytes of blob `oid` (40 lowercase hex, e.g. a small file's PinnedFile::git_oid) in `repo`,
// re-hashed by libgit2 as it is read (strict hash verification), so they are what the id names.
// Errors: invalid_argument (not an id), not_found, parse_error (not a blob), too_large (more
// than `max_bytes`), hash_mismatch.
Result<std::string> read_blob(git_repository* repo, std::string_view oid, std::uint64_t max_bytes);

}  // namespace weights::upstream
