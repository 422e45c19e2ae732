#include "daemon/store.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>
#include <set>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <fmt/format.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/net/hf_hub.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/crypto.hpp"
#include "core/util/encoding.hpp"
#include "core/util/file_hash.hpp"
#include "core/util/safe_fs.hpp"

namespace weights::daemon {
namespace {

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

Status mkdirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return fail(Errc::io_error, fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  return {};
}

bool same_inode(const fs::path& a, const fs::path& b) {
  struct stat sa {
  }, sb{};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

Store::Store(fs::path state_dir) : root_(std::move(state_dir)) {}

Status Store::ensure_layout() const {
  for (const char* d : {"staging", "store/sha256", "views", "resume", "torrents"}) {
    if (auto st = mkdirs(root_ / d); !st) return st;
  }
  return {};
}

fs::path Store::staging_dir(std::string_view v2hex) const {
  return root_ / "staging" / std::string(v2hex);
}
fs::path Store::staging_file(std::string_view v2hex, std::string_view revision,
                             std::string_view path) const {
  return staging_dir(v2hex) / std::string(revision) / std::string(path);
}
fs::path Store::store_file(std::string_view sha256) const {
  return root_ / "store" / "sha256" / std::string(sha256.substr(0, 2)) / std::string(sha256);
}
fs::path Store::view_dir(std::string_view model, std::string_view revision) const {
  return root_ / "views" / std::string(model) / std::string(revision);
}
fs::path Store::resume_file(std::string_view v2hex) const {
  return root_ / "resume" / fmt::format("{}.resume", v2hex);
}
fs::path Store::torrent_file(std::string_view v2hex) const {
  return root_ / "torrents" / fmt::format("{}.torrent", v2hex);
}
fs::path Store::torrent_v1_file(std::string_view v2hex) const {
  return root_ / "torrents" / fmt::format("{}.v1.torrent", v2hex);
}
fs::path Store::git_objects_file(std::string_view v2hex) const {
  return root_ / "torrents" / fmt::format("{}.git-objects", v2hex);
}

Status link_or_copy(const fs::path& src, const fs::path& dst) {
  auto from = safe_fs::open_regular(src);
  if (!from) return tl::unexpected(from.error());
  auto dir = safe_fs::open_base_dir(dst.parent_path(), safe_fs::Create::yes);
  if (!dir) return tl::unexpected(dir.error());
  return safe_fs::place_file(*from, dir->get(), dst.filename().string(), safe_fs::Share::link,
                             dst.parent_path());
}

Status Store::adopt(const fs::path& file, std::string_view sha256) const {
  const fs::path target = store_file(sha256);
  // Only a regular file is adopted: link(2) would store a symlink itself, not its target.
  auto src = safe_fs::open_regular(file);
  if (!src) return tl::unexpected(src.error());
  std::error_code ec;
  if (!fs::exists(target, ec)) {
    if (auto st = mkdirs(target.parent_path()); !st) return st;
    if (::link(file.c_str(), target.c_str()) == 0 || errno == EEXIST) return {};
    return link_or_copy(file, target);
  }
  if (same_inode(file, target)) return {};
  // Same content already stored: make `file` another name of the stored inode.
  const fs::path tmp =
      file.parent_path() / fmt::format(".{}.dedupe-{}", file.filename().string(), random_suffix());
  if (::link(target.c_str(), tmp.c_str()) != 0) return {};  // other fs: keep both copies
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return fail(Errc::io_error, fmt::format("cannot replace {} by a store link: {}", file.string(),
                                            std::strerror(err)));
  }
  return {};
}

Status Store::adopt_empty() const {
  const fs::path target = store_file(empty_sha256);
  std::error_code ec;
  if (fs::exists(target, ec)) return {};
  // Its fan-out directory (store/sha256/e3) exists only once a file hashing to it was stored.
  if (auto st = mkdirs(target.parent_path()); !st) return st;
  return write_file_atomic(target, "", 0644);
}

bool Store::view_is_current(std::string_view model, std::string_view revision,
                            std::span<const ViewFile> files) const {
  const fs::path dir = view_dir(model, revision);
  std::error_code ec;
  std::size_t entries = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_directory(ec)) ++entries;
  }
  if (ec || entries != files.size()) return false;
  for (const auto& f : files) {
    struct stat a {};
    struct stat b {};
    if (::lstat((dir / f.path).c_str(), &a) != 0 || ::stat(store_file(f.sha256).c_str(), &b) != 0 ||
        !S_ISREG(a.st_mode) || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
      return false;
    }
  }
  return true;
}

Result<fs::path> Store::build_view(std::string_view model, std::string_view revision,
                                   std::span<const ViewFile> files) const {
  const fs::path final_dir = view_dir(model, revision);
  const fs::path parent = final_dir.parent_path();
  if (auto st = mkdirs(parent); !st) return tl::unexpected(st.error());
  const fs::path tmp = parent / fmt::format(".{}.building-{}", revision, random_suffix());
  std::error_code ec;
  auto cleanup = [&] {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
  };
  if (auto st = mkdirs(tmp); !st) return tl::unexpected(st.error());
  for (const auto& f : files) {
    const fs::path dst = tmp / f.path;
    if (auto st = mkdirs(dst.parent_path()); !st) {
      cleanup();
      return tl::unexpected(st.error());
    }
    if (auto st = link_or_copy(store_file(f.sha256), dst); !st) {
      cleanup();
      return tl::unexpected(st.error());
    }
  }
  if (auto st = fsync_dir(tmp); !st) {
    cleanup();
    return tl::unexpected(st.error());
  }
  // An older view (e.g. fewer --include files) moves aside first; rename(2) cannot replace a
  // non-empty directory.
  fs::path old;
  if (fs::exists(final_dir, ec)) {
    old = parent / fmt::format(".{}.old-{}", revision, random_suffix());
    fs::rename(final_dir, old, ec);
    if (ec) {
      cleanup();
      return fail(Errc::io_error,
                  fmt::format("cannot replace view {}: {}", final_dir.string(), ec.message()));
    }
  }
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    cleanup();
    return fail(Errc::io_error,
                fmt::format("cannot create view {}: {}", final_dir.string(), ec.message()));
  }
  if (!old.empty()) fs::remove_all(old, ec);
  (void)fsync_dir(parent);
  return final_dir;
}

Status Store::remove_view(std::string_view model, std::string_view revision) const {
  const fs::path dir = view_dir(model, revision);
  std::error_code ec;
  if (!fs::exists(dir, ec)) return {};
  // Rename first so a reader never sees a partly deleted view under the final name.
  const fs::path gone =
      dir.parent_path() / fmt::format(".{}.removing-{}", revision, random_suffix());
  fs::rename(dir, gone, ec);
  if (ec)
    return fail(Errc::io_error,
                fmt::format("cannot remove view {}: {}", dir.string(), ec.message()));
  fs::remove_all(gone, ec);
  return {};
}

Status Store::remove_store_entry(std::string_view sha256) const {
  std::error_code ec;
  fs::remove(store_file(sha256), ec);
  if (ec)
    return fail(Errc::io_error,
                fmt::format("cannot remove store entry {}: {}", sha256, ec.message()));
  return {};
}

namespace {

// True if dirfd/name already holds `src`'s content: the same inode, or a regular file the
// daemon owns with the same length and SHA-256 (a copy on another filesystem). A link, someone
// else's file or one merely of the right size is not trusted.
bool holds_content(int dirfd, const std::string& name, const safe_fs::RegularFile& src,
                   std::string_view sha256, const fs::path& shown) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  if (st.st_dev == src.st.st_dev && st.st_ino == src.st.st_ino) return true;
  if (!safe_fs::shareable(st) || st.st_size != src.st.st_size) return false;
  auto have = safe_fs::open_regular_beneath(dirfd, name, shown);
  if (!have) return false;
  HashOptions o;
  o.git_oid = GitOid::skip;
  auto d = hash_fd(have->fd.get(), shown / name, o);
  return d && to_hex(d->sha256) == sha256;
}

}  // namespace

std::vector<std::string> hf_cache_refs(std::string_view revision,
                                       const std::optional<std::string>& requested_revision,
                                       SnapshotScope scope) {
  std::vector<std::string> refs;
  if (scope == SnapshotScope::partial) return refs;
  const auto is_commit = [](std::string_view r) { return is_lower_hex(r, 20); };
  if (!requested_revision) {
    refs.emplace_back("main");
  } else if (!is_commit(*requested_revision)) {
    refs.push_back(*requested_revision);
  }
  if (!is_commit(revision)) refs.emplace_back(revision);
  std::sort(refs.begin(), refs.end());
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  std::erase_if(refs, [](const std::string& r) { return !is_valid_revision(r); });
  return refs;
}

Result<fs::path> Store::materialise_hf_cache(const fs::path& cache_dir, std::string_view repo,
                                             std::string_view revision,
                                             std::span<const HfCacheFile> files,
                                             std::span<const std::string> refs) const {
  using safe_fs::Create;
  // Each ref and the snapshot become one directory entry: nothing else may reach the layout.
  if (!is_valid_revision(revision)) {
    return fail(Errc::invalid_argument,
                fmt::format("Hugging Face cache: '{}' cannot name a snapshot", revision));
  }
  for (const auto& name : refs) {
    if (!is_valid_revision(name)) {
      return fail(Errc::invalid_argument,
                  fmt::format("Hugging Face cache: '{}' cannot name a ref", name));
    }
  }
  const std::string folder = hf::cache_repo_folder(repo);
  const fs::path repo_dir = cache_dir / folder;
  const fs::path blobs = repo_dir / "blobs";
  const fs::path snapshot = repo_dir / "snapshots" / std::string(revision);
  // cache_dir is the caller's choice; nothing below it is followed if it is a link.
  auto base = safe_fs::open_base_dir(cache_dir, Create::yes);
  if (!base) return tl::unexpected(base.error());
  auto repo_fd = safe_fs::open_dir_beneath(base->get(), folder, Create::yes, cache_dir);
  if (!repo_fd) return tl::unexpected(repo_fd.error());
  auto blobs_fd = safe_fs::open_dir_beneath(repo_fd->get(), "blobs", Create::yes, repo_dir);
  if (!blobs_fd) return tl::unexpected(blobs_fd.error());
  auto snaps_fd = safe_fs::open_dir_beneath(repo_fd->get(), "snapshots", Create::yes, repo_dir);
  if (!snaps_fd) return tl::unexpected(snaps_fd.error());
  auto snap_fd =
      safe_fs::open_dir_beneath(snaps_fd->get(), revision, Create::yes, repo_dir / "snapshots");
  if (!snap_fd) return tl::unexpected(snap_fd.error());
  // refs/ exists even when no ref moves: @huggingface/hub's scanCacheDir refuses a repo without.
  auto refs_fd = safe_fs::open_dir_beneath(repo_fd->get(), "refs", Create::yes, repo_dir);
  if (!refs_fd) return tl::unexpected(refs_fd.error());

  for (const auto& f : files) {
    auto src = safe_fs::open_regular(store_file(f.sha256));
    if (!src) {
      return fail(Errc::io_error,
                  fmt::format("store entry of {} missing: {}", f.path, src.error().message));
    }
    if (!holds_content(blobs_fd->get(), f.blob_name, *src, f.sha256, blobs)) {
      if (auto st =
              safe_fs::place_file(*src, blobs_fd->get(), f.blob_name, safe_fs::Share::link, blobs);
          !st) {
        return tl::unexpected(st.error());
      }
    }
    const fs::path p(f.path);
    const std::string leaf = p.filename().string();
    const std::string parent = p.parent_path().string();
    auto dir = safe_fs::open_dir_beneath(snap_fd->get(), parent, Create::yes, snapshot);
    if (!dir) return tl::unexpected(dir.error());
    // ../../blobs/X for a top-level file, one more ".." per subdirectory (as huggingface_hub).
    fs::path rel = "../..";
    for (auto it = p.begin(); std::next(it) != p.end(); ++it) rel /= "..";
    rel /= fs::path("blobs") / f.blob_name;
    std::string have(4096, '\0');
    const ssize_t n = ::readlinkat(dir->get(), leaf.c_str(), have.data(), have.size());
    if (n >= 0 && static_cast<std::size_t>(n) < have.size()) {
      have.resize(static_cast<std::size_t>(n));
      if (have == rel.string()) continue;
    }
    if (auto st = safe_fs::symlink_at(dir->get(), leaf, rel.string(), (snapshot / p).parent_path());
        !st) {
      return tl::unexpected(st.error());
    }
    (void)safe_fs::fsync_dir_fd(dir->get(), snapshot);
  }
  (void)safe_fs::fsync_dir_fd(blobs_fd->get(), blobs);
  (void)safe_fs::fsync_dir_fd(snap_fd->get(), snapshot);
  // Refs last: a loader that resolves one finds every file of the snapshot in place.
  for (const auto& name : refs) {
    if (auto st = safe_fs::write_file_at(refs_fd->get(), name, revision, 0644, repo_dir / "refs");
        !st) {
      return tl::unexpected(st.error());
    }
  }
  return snapshot;
}

namespace {

// One file of take_files: see there. `placed` is set once dst exists (to be removed on failure).
Status take_file(int src_dir, const fs::path& dir, const SourceFile& f, int staging_root,
                 const fs::path& staging, bool& placed, Pipeline pipeline) {
  auto src = safe_fs::open_regular_beneath(src_dir, f.path, dir);
  if (!src) return tl::unexpected(src.error());
  const fs::path shown = dir / f.path;
  if (static_cast<std::uint64_t>(src->st.st_size) != f.length) {
    return fail(Errc::length_mismatch,
                fmt::format("{} is {} bytes, the manifest's is {}", shown.string(), src->st.st_size,
                            f.length),
                "seed the exact files that were published");
  }
  const fs::path p(f.path);
  const std::string leaf = p.filename().string();
  auto dst_dir = safe_fs::open_dir_beneath(staging_root, p.parent_path().string(),
                                           safe_fs::Create::yes, staging);
  if (!dst_dir) return tl::unexpected(dst_dir.error());
  HashOptions o;
  o.git_oid = GitOid::skip;
  o.pipeline = pipeline;
  const bool share = safe_fs::shareable(src->st);
  Result<FileDigest> d = fail(Errc::internal, "not hashed");
  if (share) {
    // Only the daemon's uid can change these bytes: hash, then link the same inode.
    d = hash_fd(src->fd.get(), shown, o);
    if (!d) return tl::unexpected(d.error());
    if (d->length == f.length && to_hex(d->sha256) == f.sha256) {
      if (auto st = safe_fs::place_file(*src, dst_dir->get(), leaf,
                                        safe_fs::Share::link_if_shareable, staging);
          !st) {
        return st;
      }
      placed = true;
    }
  } else {
    // Someone else may rewrite the source at any time: copy it, and hash the daemon's copy.
    if (auto st = safe_fs::place_file(*src, dst_dir->get(), leaf, safe_fs::Share::copy, staging);
        !st) {
      return st;
    }
    placed = true;
    auto copy = safe_fs::open_regular_beneath(dst_dir->get(), leaf, staging / p.parent_path());
    if (!copy) return tl::unexpected(copy.error());
    d = hash_fd(copy->fd.get(), staging / f.path, o);
    if (!d) return tl::unexpected(d.error());
  }
  if (d->length != f.length || to_hex(d->sha256) != f.sha256) {
    return fail(Errc::hash_mismatch,
                fmt::format("{}: content differs from the manifest's (SHA-256 {}, length {})",
                            shown.string(), f.sha256, f.length),
                "seed the exact files that were published");
  }
  return {};
}

}  // namespace

Status take_files(const fs::path& dir, std::span<const SourceFile> files, const fs::path& staging,
                  unsigned threads) {
  auto src_dir = safe_fs::open_base_dir(dir);
  if (!src_dir) return tl::unexpected(src_dir.error());
  auto staging_root = safe_fs::open_base_dir(staging, safe_fs::Create::yes);
  if (!staging_root) return tl::unexpected(staging_root.error());
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const Pipeline pipeline = threads >= 2 * std::max<std::size_t>(1, files.size())
                                ? Pipeline::two_threads
                                : Pipeline::one_thread;
  threads = static_cast<unsigned>(
      std::clamp<std::size_t>(threads, 1, std::max<std::size_t>(1, files.size())));
  std::vector<Status> results(files.size());
  std::vector<char> placed(files.size(), 0);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  const auto work = [&] {
    for (std::size_t i = next++; i < files.size(); i = next++) {
      if (failed) return;  // stop early: nothing is kept anyway
      bool p = false;
      results[i] =
          take_file(src_dir->get(), dir, files[i], staging_root->get(), staging, p, pipeline);
      placed[i] = p;
      if (!results[i]) failed = true;
    }
  };
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
  }
  for (const auto& r : results) {
    if (r) continue;
    for (std::size_t i = 0; i < files.size(); ++i) {
      std::error_code ec;
      if (placed[i]) fs::remove(staging / files[i].path, ec);
    }
    return r;
  }
  return {};
}

bool glob_match(std::string_view pattern, std::string_view path) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(path).c_str(), 0) == 0;
}

std::vector<bool> select_files(std::span<const std::string> paths,
                               std::span<const std::string> include) {
  std::vector<bool> out(paths.size(), include.empty());
  if (include.empty()) return out;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    for (const auto& g : include) {
      if (glob_match(g, paths[i])) {
        out[i] = true;
        break;
      }
    }
  }
  return out;
}

}  // namespace weights::daemon
