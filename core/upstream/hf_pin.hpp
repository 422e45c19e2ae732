#pragma once
// A Hugging Face Hub import checked against git: the hub's API listing of a revision
// (core/net/hf_hub.hpp) against the commit's pinned tree (core/upstream/git_pin.hpp), and the
// downloaded files against the pin. The pinned tree is the truth; the API listing is a hint
// that must agree with it file by file, so that a hub or mirror whose API and git repository
// disagree is caught before anything is downloaded.
#include <string>
#include <string_view>
#include <vector>

#include "core/net/hf_hub.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/upstream/git_pin.hpp"
#include "core/util/error.hpp"

namespace weights::upstream {

// The listing must name the pinned commit and exactly its files, each with the pin's size, git
// blob id (the pointer's, for LFS files) and kind; an LFS file's lfs.oid must be the pointer's
// SHA-256. The first disagreement in path order is the error, naming the file: wrong_target for
// a file only one side has or another commit, length_mismatch for a size, hash_mismatch for an
// oid or kind.
Status check_listing(const hf::HubRevision& listed, const PinnedTree& pinned);

// What to download for the pin: the pinned tree's files (LFS files with their pointer's
// SHA-256) as a revision of `repo` at the pinned commit.
hf::HubRevision pinned_revision(std::string_view repo, const PinnedTree& pinned,
                                std::string license);

// Checks hashed release files against the pin (the add_release hook): the same set of paths,
// each file's length and SHA-256 those of the pin, and a small file's git blob id, when
// computed, the pin's. Sets git_oid exactly for the pin's small files (the names the hub's cache
// gives them). On a mismatch `bad_path` (if given) receives the offending file's path.
Status check_against_pin(const PinnedTree& pinned, std::vector<ReleaseFile>& files,
                         std::string* bad_path = nullptr);

}  // namespace weights::upstream
