#include "core/upstream/git_bundle.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <git2.h>
#include <git2/sys/mempack.h>

#include "core/upstream/libgit2_util.hpp"
#include "core/util/encoding.hpp"

namespace weights::upstream {
namespace {

using namespace detail;

constexpr std::uint64_t max_object_bytes = max_small_blob_bytes;

bool oid_less(const git_oid& a, const git_oid& b) {
  return git_oid_cmp(&a, &b) < 0;
}

// The ids of the commit, every tree below it and every blob, sorted and unique. Only called on
// a commit read_pinned_tree accepted (regular files and directories only).
Status collect_tree(git_repository* repo, const git_oid& tree_id, int depth,
                    std::vector<git_oid>& out) {
  if (depth > 64) return fail(Errc::too_large, "trees nested too deep");
  out.push_back(tree_id);
  git_tree* raw = nullptr;
  if (git_tree_lookup(&raw, repo, &tree_id) != 0) {
    return fail(Errc::hash_mismatch, fmt::format("tree {}: {}", oid_hex(&tree_id), git_message()));
  }
  TreePtr tree(raw);
  const std::size_t n = git_tree_entrycount(tree.get());
  for (std::size_t i = 0; i < n; ++i) {
    const git_tree_entry* e = git_tree_entry_byindex(tree.get(), i);
    if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
      if (auto ok = collect_tree(repo, *git_tree_entry_id(e), depth + 1, out); !ok) return ok;
    } else {
      out.push_back(*git_tree_entry_id(e));
    }
  }
  return {};
}

Result<std::vector<git_oid>> commit_objects(git_repository* repo, const git_oid& commit) {
  git_commit* raw = nullptr;
  if (git_commit_lookup(&raw, repo, &commit) != 0) {
    return fail(Errc::not_found, fmt::format("commit {}: {}", oid_hex(&commit), git_message()));
  }
  CommitPtr c(raw);
  std::vector<git_oid> out{commit};
  if (auto ok = collect_tree(repo, *git_commit_tree_id(c.get()), 0, out); !ok) {
    return tl::unexpected(ok.error());
  }
  std::sort(out.begin(), out.end(), oid_less);
  out.erase(std::unique(out.begin(), out.end(),
                        [](const git_oid& a, const git_oid& b) { return git_oid_equal(&a, &b); }),
            out.end());
  return out;
}

Error bundle_error(Errc code, std::uint64_t offset, std::string_view what) {
  return Error{code, fmt::format("git object bundle: at byte {}: {}", offset, what), {}};
}

// One record's "<type> <size>\0" header at `pos`.
Result<std::pair<git_object_t, std::uint64_t>> parse_record_header(std::string_view bytes,
                                                                   std::size_t& pos) {
  const std::size_t start = pos;
  const std::size_t space = bytes.find(' ', pos);
  if (space == std::string_view::npos || space - pos > 6) {
    return tl::unexpected(bundle_error(Errc::parse_error, start, "no object type"));
  }
  const std::string_view type_name = bytes.substr(pos, space - pos);
  git_object_t type = GIT_OBJECT_INVALID;
  if (type_name == "commit") {
    type = GIT_OBJECT_COMMIT;
  } else if (type_name == "tree") {
    type = GIT_OBJECT_TREE;
  } else if (type_name == "blob") {
    type = GIT_OBJECT_BLOB;
  } else {
    return tl::unexpected(bundle_error(
        Errc::parse_error, start,
        fmt::format("object type \"{}\" (commit, tree or blob)", printable_excerpt(type_name))));
  }
  pos = space + 1;
  const std::size_t nul = bytes.find('\0', pos);
  const std::string_view digits =
      nul == std::string_view::npos ? std::string_view() : bytes.substr(pos, nul - pos);
  std::uint64_t size = 0;
  bool ok = !digits.empty() && digits.size() <= 9 && (digits.size() == 1 || digits[0] != '0');
  for (char c : digits) {
    ok = ok && c >= '0' && c <= '9';
    size = size * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (!ok) {
    return tl::unexpected(bundle_error(Errc::parse_error, start,
                                       "object size is not a decimal without leading zeros"));
  }
  if (size > max_object_bytes) {
    return tl::unexpected(
        bundle_error(Errc::too_large, start,
                     fmt::format("a {}-byte object (at most {})", size, max_object_bytes)));
  }
  pos = nul + 1;
  if (bytes.size() - pos < size) {
    return tl::unexpected(bundle_error(Errc::parse_error, start, "object cut short"));
  }
  return std::pair{type, size};
}

}  // namespace

Result<std::string> write_git_bundle(git_repository* repo, std::string_view commit) {
  auto tree = read_pinned_tree(repo, commit);
  if (!tree) return tl::unexpected(tree.error());
  LibGit2 lib;
  git_oid oid;
  git_oid_fromstrn(&oid, commit.data(), commit.size());
  auto ids = commit_objects(repo, oid);
  if (!ids) return tl::unexpected(ids.error());
  git_odb* odb_raw = nullptr;
  if (git_repository_odb(&odb_raw, repo) != 0) {
    return fail(Errc::internal, fmt::format("libgit2: {}", git_message()));
  }
  OdbPtr odb(odb_raw);
  std::string out(git_bundle_header);
  for (const auto& id : *ids) {
    git_odb_object* obj_raw = nullptr;
    if (git_odb_read(&obj_raw, odb.get(), &id) != 0) {
      return fail(Errc::hash_mismatch, fmt::format("object {}: {}", oid_hex(&id), git_message()));
    }
    OdbObjectPtr obj(obj_raw);
    const std::size_t size = git_odb_object_size(obj.get());
    out += fmt::format("{} {}", git_object_type2string(git_odb_object_type(obj.get())), size);
    out += '\0';
    out.append(static_cast<const char*>(git_odb_object_data(obj.get())), size);
    if (out.size() > max_git_bundle_bytes) {
      return fail(Errc::too_large, fmt::format("commit {}: git objects over {} bytes", commit,
                                               max_git_bundle_bytes));
    }
  }
  return out;
}

Result<PinnedTree> read_git_bundle(std::string_view bytes, std::string_view commit,
                                   std::uint64_t max_bytes) {
  if (!is_commit_id(commit)) {
    return fail(Errc::invalid_argument,
                fmt::format("commit \"{}\": not 40 lowercase hex characters",
                            printable_excerpt(commit, 60)));
  }
  if (bytes.size() > max_bytes) {
    return fail(Errc::too_large,
                fmt::format("git object bundle: {} bytes, at most {}", bytes.size(), max_bytes));
  }
  if (!bytes.starts_with(git_bundle_header)) {
    return fail(Errc::parse_error,
                fmt::format("git object bundle: does not start with \"weightsd-git-objects 1\""));
  }
  LibGit2 lib;
  git_odb* odb_raw = nullptr;
  if (git_odb_new(&odb_raw) != 0) {
    return fail(Errc::internal, fmt::format("libgit2: {}", git_message()));
  }
  OdbPtr odb(odb_raw);
  git_odb_backend* mempack = nullptr;
  if (git_mempack_new(&mempack) != 0 || git_odb_add_backend(odb.get(), mempack, 1) != 0) {
    return fail(Errc::internal, fmt::format("libgit2: {}", git_message()));
  }
  std::vector<git_oid> loaded;
  std::size_t pos = git_bundle_header.size();
  while (pos < bytes.size()) {
    const std::size_t start = pos;
    auto header = parse_record_header(bytes, pos);
    if (!header) return tl::unexpected(header.error());
    const auto [type, size] = *header;
    const std::string_view content = bytes.substr(pos, size);
    pos += size;
    git_oid id;
    if (git_odb_hash(&id, content.data(), content.size(), type) != 0) {
      return fail(Errc::internal, fmt::format("libgit2: {}", git_message()));
    }
    if (!loaded.empty() && !oid_less(loaded.back(), id)) {
      return tl::unexpected(
          bundle_error(Errc::parse_error, start,
                       fmt::format("object {} not after {} (objects are sorted by id, each once)",
                                   oid_hex(&id), oid_hex(&loaded.back()))));
    }
    git_oid written;
    if (git_odb_write(&written, odb.get(), content.data(), content.size(), type) != 0) {
      return fail(Errc::internal, fmt::format("libgit2: {}", git_message()));
    }
    loaded.push_back(id);
  }
  git_repository* repo_raw = nullptr;
  if (git_repository_wrap_odb(&repo_raw, odb.get()) != 0) {
    return fail(Errc::internal, fmt::format("libgit2: {}", git_message()));
  }
  RepoPtr repo(repo_raw);
  auto tree = read_pinned_tree(repo.get(), commit);
  if (!tree) return tl::unexpected(with_context(tree.error(), "git object bundle"));
  git_oid oid;
  git_oid_fromstrn(&oid, commit.data(), commit.size());
  auto wanted = commit_objects(repo.get(), oid);
  if (!wanted) return tl::unexpected(with_context(wanted.error(), "git object bundle"));
  // Everything the commit needs is present (read_pinned_tree read it); anything more is
  // refused, so one commit has one bundle.
  for (const auto& id : loaded) {
    if (!std::binary_search(wanted->begin(), wanted->end(), id, oid_less)) {
      return fail(Errc::wrong_target,
                  fmt::format("git object bundle: object {} is not part of commit {}", oid_hex(&id),
                              commit));
    }
  }
  return tree;
}

Result<PinnedBundle> fetch_pinned_bundle(std::string_view url, std::string_view commit,
                                         const GitFetchOptions& options) {
  PinnedBundle out;
  auto ok = fetch_commit_objects(url, commit, options, [&](git_repository* repo) -> Status {
    auto tree = read_pinned_tree(repo, commit);
    if (!tree) return tl::unexpected(tree.error());
    auto objects = write_git_bundle(repo, commit);
    if (!objects) return tl::unexpected(objects.error());
    out.tree = std::move(*tree);
    out.objects = std::move(*objects);
    return {};
  });
  if (!ok) return tl::unexpected(ok.error());
  return out;
}

}  // namespace weights::upstream
