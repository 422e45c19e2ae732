#include "daemon/store.hpp"

#include <cerrno>
#include <cstring>
#include <random>
#include <set>
#include <system_error>

#include <fcntl.h>
#include <fmt/format.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.hpp"
#include "core/hf_hub.hpp"

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

Status link_or_copy(const fs::path& src, const fs::path& dst) {
  if (auto st = mkdirs(dst.parent_path()); !st) return st;
  if (::link(src.c_str(), dst.c_str()) == 0) return {};
  const int err = errno;
  if (err != EXDEV && err != EPERM && err != EMLINK) {
    return fail(Errc::io_error, fmt::format("cannot link {} to {}: {}", src.string(), dst.string(),
                                            std::strerror(err)));
  }
  // Another filesystem (or links not allowed): copy to a temp name, then rename into place.
  const fs::path tmp =
      dst.parent_path() / fmt::format(".{}.tmp-{}", dst.filename().string(), random_suffix());
  std::error_code ec;
  fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(tmp, dst, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    return fail(Errc::io_error,
                fmt::format("cannot copy {} to {}: {}", src.string(), dst.string(), ec.message()));
  }
  return {};
}

Status Store::adopt(const fs::path& file, std::string_view sha256) const {
  const fs::path target = store_file(sha256);
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

Result<fs::path> Store::materialise_hf_cache(const fs::path& cache_dir, std::string_view repo,
                                             std::string_view revision,
                                             std::span<const HfCacheFile> files) const {
  const fs::path repo_dir = cache_dir / hf::cache_repo_folder(repo);
  const fs::path blobs = repo_dir / "blobs";
  const fs::path snapshot = repo_dir / "snapshots" / std::string(revision);
  for (const auto& d : {blobs, snapshot, repo_dir / "refs"}) {
    if (auto st = mkdirs(d); !st) return tl::unexpected(st.error());
  }
  std::error_code ec;
  std::set<fs::path> dirs{snapshot};
  for (const auto& f : files) {
    const fs::path src = store_file(f.sha256);
    const fs::path blob = blobs / f.blob_name;
    const auto want = fs::file_size(src, ec);
    if (ec) {
      return fail(Errc::io_error,
                  fmt::format("store entry of {} missing: {}", f.path, ec.message()));
    }
    const auto have = fs::file_size(blob, ec);
    if (ec || have != want) {
      // Absent or not this content (a torn copy): link the store's inode under a temp name and
      // rename it over, so the blob name never shows other bytes.
      const fs::path tmp = blobs / fmt::format(".{}.tmp-{}", f.blob_name, random_suffix());
      if (auto st = link_or_copy(src, tmp); !st) return tl::unexpected(st.error());
      fs::rename(tmp, blob, ec);
      if (ec) {
        std::error_code ignored;
        fs::remove(tmp, ignored);
        return fail(Errc::io_error,
                    fmt::format("cannot create {}: {}", blob.string(), ec.message()));
      }
    }
    const fs::path link = snapshot / f.path;
    if (auto st = mkdirs(link.parent_path()); !st) return tl::unexpected(st.error());
    dirs.insert(link.parent_path());
    // ../../blobs/X for a top-level file, one more ".." per subdirectory (as huggingface_hub).
    fs::path rel = "../..";
    const fs::path p(f.path);
    for (auto it = p.begin(); std::next(it) != p.end(); ++it) rel /= "..";
    rel /= fs::path("blobs") / f.blob_name;
    std::error_code read_ec;
    if (fs::read_symlink(link, read_ec) == rel) continue;
    const fs::path tmp =
        link.parent_path() / fmt::format(".{}.link-{}", link.filename().string(), random_suffix());
    fs::create_symlink(rel, tmp, ec);
    if (!ec) fs::rename(tmp, link, ec);
    if (ec) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      return fail(Errc::io_error, fmt::format("cannot link {}: {}", link.string(), ec.message()));
    }
  }
  (void)fsync_dir(blobs);
  for (const auto& d : dirs) (void)fsync_dir(d);
  // refs/main last: a loader that resolves "main" finds a complete snapshot.
  if (auto st = write_file_atomic(repo_dir / "refs" / "main", revision); !st) {
    return tl::unexpected(st.error());
  }
  return snapshot;
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
