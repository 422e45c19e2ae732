// Fuzzes the git object bundle reader (read_git_bundle, core/upstream/git_bundle.cpp): the
// bytes a peer sends so that a node can verify a commit-pinned release without the hub. Input:
// a 40-hex commit id, then the bundle (seeds from tests/unit/git_bundle_test.cpp with
// WEIGHTS_FUZZ_GIT_BUNDLE_SEEDS=<dir>). Checks: a refusal has a documented code; an accepted
// bundle is the one encoding of that commit (loading it and writing it again gives the same
// bytes), and its tree keeps read_pinned_tree's promises (sorted policy-checked paths, 64-hex
// SHA-256 and 40-hex blob ids, LFS sizes within 2^53).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"
#include <git2.h>
#include <git2/sys/mempack.h>

#include "core/upstream/git_bundle.hpp"
#include "core/upstream/lfs_pointer.hpp"
#include "core/util/encoding.hpp"
#include "core/util/path_policy.hpp"

using weights::fuzz::check;

namespace {

// The accepted bundle loaded again, by the fuzz target's own loop, into a repository.
git_repository* load(std::string_view bundle) {
  git_odb* odb = nullptr;
  git_odb_backend* mempack = nullptr;
  check(git_odb_new(&odb) == 0 && git_mempack_new(&mempack) == 0 &&
        git_odb_add_backend(odb, mempack, 1) == 0);
  std::size_t pos = weights::upstream::git_bundle_header.size();
  while (pos < bundle.size()) {
    const std::size_t space = bundle.find(' ', pos);
    const std::size_t nul = bundle.find('\0', space);
    const std::string type(bundle.substr(pos, space - pos));
    const std::size_t size = std::stoul(std::string(bundle.substr(space + 1, nul - space - 1)));
    git_oid oid;
    check(git_odb_write(&oid, odb, bundle.data() + nul + 1, size,
                        git_object_string2type(type.c_str())) == 0);
    pos = nul + 1 + size;
  }
  git_repository* repo = nullptr;
  check(git_repository_wrap_odb(&repo, odb) == 0);
  git_odb_free(odb);
  return repo;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weights;
  using namespace weights::upstream;
  static const int init = git_libgit2_init();
  (void)init;
  const std::string_view text = weights::fuzz::text_of(data, size);
  if (text.size() < 40) return 0;
  const std::string commit(text.substr(0, 40));
  const std::string_view bundle = text.substr(40);
  auto tree = read_git_bundle(bundle, commit, 1 << 20);
  if (!tree) {
    const auto code = tree.error().code;
    check(code == Errc::invalid_argument || code == Errc::parse_error || code == Errc::too_large ||
          code == Errc::not_found || code == Errc::wrong_target || code == Errc::hash_mismatch ||
          code == Errc::path_policy || code == Errc::unsupported);
    return 0;
  }
  check(tree->commit == commit);
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < tree->files.size(); ++i) {
    const auto& f = tree->files[i];
    check(check_path(f.path).has_value());
    check(i == 0 || tree->files[i - 1].path < f.path);
    check(is_lower_hex(f.sha256, 32) && is_lower_hex(f.git_oid, 20));
    check(f.kind == FileKind::blob ? f.size <= max_small_blob_bytes : f.size <= max_lfs_size);
    paths.push_back(f.path);
  }
  check(check_path_set(paths).has_value());
  git_repository* repo = load(bundle);
  auto again = write_git_bundle(repo, commit);
  check(again && *again == bundle);
  git_repository_free(repo);
  return 0;
}
