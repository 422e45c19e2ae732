#include "core/upstream/hf_pin.hpp"

#include <map>

#include <fmt/format.h>

namespace weights::upstream {
namespace {

std::string short_id(std::string_view commit) {
  return std::string(commit.substr(0, 12));
}

const char* kind_name(bool lfs) {
  return lfs ? "an LFS file" : "a file stored in git";
}

constexpr std::string_view disagree_hint =
    "the hub's API and its git repository disagree: nothing was downloaded or signed; this hub "
    "or mirror (HF_ENDPOINT / --endpoint) does not serve the commit faithfully";

}  // namespace

Status check_listing(const hf::HubRevision& listed, const PinnedTree& pinned) {
  const std::string at = short_id(pinned.commit);
  if (listed.sha != pinned.commit) {
    return fail(
        Errc::wrong_target,
        fmt::format("the hub's API lists commit {}, git pinned {}", listed.sha, pinned.commit),
        std::string(disagree_hint));
  }
  std::map<std::string_view, const hf::HubFile*> api;
  for (const auto& f : listed.files) api.emplace(f.path, &f);
  std::map<std::string_view, const PinnedFile*> git;
  for (const auto& f : pinned.files) git.emplace(f.path, &f);
  auto a = api.begin();
  auto g = git.begin();
  while (a != api.end() || g != git.end()) {
    if (g == git.end() || (a != api.end() && a->first < g->first)) {
      return fail(
          Errc::wrong_target,
          fmt::format("{}: listed by the hub's API but not a file of commit {}", a->first, at),
          std::string(disagree_hint));
    }
    if (a == api.end() || g->first < a->first) {
      return fail(
          Errc::wrong_target,
          fmt::format("{}: a file of commit {} that the hub's API does not list", g->first, at),
          std::string(disagree_hint));
    }
    const hf::HubFile& h = *a->second;
    const PinnedFile& p = *g->second;
    const bool lfs = p.kind == FileKind::lfs;
    if (h.lfs_sha256.has_value() != lfs) {
      return fail(Errc::hash_mismatch,
                  fmt::format("{}: the hub's API lists {}, commit {} holds {}", h.path,
                              kind_name(h.lfs_sha256.has_value()), at, kind_name(lfs)),
                  std::string(disagree_hint));
    }
    if (h.size != p.size) {
      return fail(Errc::length_mismatch,
                  fmt::format("{}: the hub's API lists {} bytes, commit {} pins {}", h.path, h.size,
                              at, p.size),
                  std::string(disagree_hint));
    }
    if (lfs && *h.lfs_sha256 != p.sha256) {
      return fail(Errc::hash_mismatch,
                  fmt::format("{}: the hub's API lists LFS oid {}, the pointer in commit {} "
                              "pins SHA-256 {}",
                              h.path, *h.lfs_sha256, at, p.sha256),
                  std::string(disagree_hint));
    }
    if (h.git_oid != p.git_oid) {
      return fail(Errc::hash_mismatch,
                  fmt::format("{}: the hub's API lists git oid {}, commit {} holds blob {}", h.path,
                              h.git_oid, at, p.git_oid),
                  std::string(disagree_hint));
    }
    ++a;
    ++g;
  }
  return {};
}

hf::HubRevision pinned_revision(std::string_view repo, const PinnedTree& pinned,
                                std::string license) {
  hf::HubRevision r;
  r.repo = std::string(repo);
  r.sha = pinned.commit;
  r.license = std::move(license);
  r.files.reserve(pinned.files.size());
  for (const auto& p : pinned.files) {
    hf::HubFile f;
    f.path = p.path;
    f.size = p.size;
    f.git_oid = p.git_oid;
    if (p.kind == FileKind::lfs) f.lfs_sha256 = p.sha256;
    r.files.push_back(std::move(f));
  }
  return r;
}

Status check_against_pin(const PinnedTree& pinned, std::vector<ReleaseFile>& files,
                         std::string* bad_path) {
  const std::string at = short_id(pinned.commit);
  std::map<std::string_view, const PinnedFile*> pin;
  for (const auto& p : pinned.files) pin.emplace(p.path, &p);
  if (bad_path) bad_path->clear();
  for (auto& f : files) {
    const auto it = pin.find(f.path);
    if (it == pin.end()) {
      return fail(Errc::wrong_target, fmt::format("{}: not a file of commit {}", f.path, at),
                  "import into an empty directory");
    }
  }
  if (files.size() != pinned.files.size()) {
    std::map<std::string_view, bool> have;
    for (const auto& f : files) have.emplace(f.path, true);
    for (const auto& p : pinned.files) {
      if (!have.count(p.path)) {
        return fail(Errc::not_found, fmt::format("{}: a file of commit {} is missing", p.path, at));
      }
    }
  }
  for (auto& f : files) {
    const PinnedFile& p = *pin.at(f.path);
    if (bad_path) *bad_path = f.path;
    if (f.length != p.size) {
      return fail(Errc::length_mismatch,
                  fmt::format("{}: {} bytes, commit {} pins {}", f.path, f.length, at, p.size),
                  "the download or the mirror is corrupt; nothing was signed");
    }
    if (f.sha256 != p.sha256) {
      return fail(Errc::hash_mismatch,
                  fmt::format("{}: SHA-256 {} differs from {} pinned by commit {}", f.path,
                              f.sha256, p.sha256, at),
                  "the download or the mirror is corrupt; nothing was signed");
    }
    if (p.kind == FileKind::lfs) {
      f.git_oid.reset();
    } else {
      if (f.git_oid && *f.git_oid != p.git_oid) {
        return fail(Errc::hash_mismatch,
                    fmt::format("{}: git blob id {} differs from {} in commit {}", f.path,
                                *f.git_oid, p.git_oid, at),
                    "the download or the mirror is corrupt; nothing was signed");
      }
      f.git_oid = p.git_oid;
    }
  }
  if (bad_path) bad_path->clear();
  return {};
}

}  // namespace weights::upstream
