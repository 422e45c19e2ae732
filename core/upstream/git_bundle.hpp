#pragma once
// The git objects of one pinned commit as a deterministic byte string, so a node can verify a
// commit-pinned release from peers alone, without the hub (docs/manifest-format.md §8.3):
//
//   "weightsd-git-objects 1\n"
//   then, for each object of the commit sorted by object id (ascending, no duplicates):
//   "<type> <size>\0<raw content>"        type: commit, tree or blob; size: decimal bytes
//
// Each record is exactly git's loose-object form, so its SHA-1 is the object id. The objects
// are exactly the commit, every tree below it and every blob of its files (small files and LFS
// pointers); parents are not included. The bytes are a pure function of the commit id: the
// reader accepts nothing but this one encoding.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/upstream/git_pin.hpp"
#include "core/util/error.hpp"

namespace weights::upstream {

inline constexpr std::string_view git_bundle_header = "weightsd-git-objects 1\n";
inline constexpr std::uint64_t max_git_bundle_bytes = 256ull << 20;

// The bundle of `commit` from a repository holding its objects. Checks the commit as
// read_pinned_tree does first, so only a valid pinned release is ever written.
Result<std::string> write_git_bundle(git_repository* repo, std::string_view commit);

// Loads `bytes` into an in-memory object database (libgit2 mempack: each object hashed as it is
// added) and reads the pinned tree of `commit` from it (read_pinned_tree). Refused: another
// header, a malformed record, objects out of order or repeated (parse_error), more than
// `max_bytes` or an object over 10 MiB (too_large), an object the commit does not contain
// (wrong_target, naming it) or one it lacks (read_pinned_tree's error, naming the file).
Result<PinnedTree> read_git_bundle(std::string_view bytes, std::string_view commit,
                                   std::uint64_t max_bytes = max_git_bundle_bytes);

struct PinnedBundle {
  PinnedTree tree;
  std::string objects;  // the bundle of tree.commit
};

// fetch_pinned_tree, also returning the commit's bundle.
Result<PinnedBundle> fetch_pinned_bundle(std::string_view url, std::string_view commit,
                                         const GitFetchOptions& options);

}  // namespace weights::upstream
