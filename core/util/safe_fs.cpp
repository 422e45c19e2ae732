#include "core/util/safe_fs.hpp"

#include <cerrno>
#include <random>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

namespace weights::safe_fs {
namespace {

namespace fs = std::filesystem;

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

Error io_failure(std::string_view what, const fs::path& path, int err) {
  return Error{err == ENOENT ? Errc::not_found : Errc::io_error,
               fmt::format("{} {}: {}", what, path.string(), errno_text(err)),
               {}};
}

// Splits a relative path into components, refusing absolute paths and "", ".", "..".
Result<std::vector<std::string>> components(std::string_view rel, const fs::path& shown) {
  std::vector<std::string> out;
  if (rel.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = rel.find('/', start);
    const std::string_view part =
        rel.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == ".." || part.find('\0') != std::string_view::npos) {
      return fail(Errc::path_policy,
                  fmt::format("{}: \"{}\" is not a plain relative path", shown.string(), rel));
    }
    out.emplace_back(part);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

std::string file_type(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

// One component below dirfd, as a directory, never following a link.
Result<Fd> open_component(int dirfd, const std::string& name, Create create, const fs::path& at) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) return Fd(fd);
    const int err = errno;
    if (err == ENOENT && create == Create::yes && attempt == 0) {
      if (::mkdirat(dirfd, name.c_str(), 0755) == 0 || errno == EEXIST) continue;
      return tl::unexpected(io_failure("cannot create directory", at, errno));
    }
    if (err == ELOOP || err == ENOTDIR) {
      struct stat st {};
      const bool known = ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
      return fail(Errc::path_policy,
                  fmt::format("{} is {}; refusing to follow it", at.string(),
                              known ? file_type(st.st_mode) : "not a directory"),
                  "replace it by a real directory");
    }
    return tl::unexpected(io_failure("cannot open directory", at, err));
  }
  return fail(Errc::io_error, fmt::format("cannot open directory {}", at.string()));
}

}  // namespace

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

std::string temp_name(std::string_view name) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string base(name);
  if (base.size() > 200) base.resize(200);
  return fmt::format(".{}.tmp-{:016x}", base, rng());
}

Result<Fd> open_base_dir(const fs::path& dir, Create create) {
  if (create == Create::yes) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      return fail(Errc::io_error, fmt::format("cannot create {}: {}", dir.string(), ec.message()));
    }
  }
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return tl::unexpected(io_failure("cannot open directory", dir, errno));
  return Fd(fd);
}

Result<Fd> open_dir_beneath(int dirfd, std::string_view rel, Create create, const fs::path& shown) {
  auto parts = components(rel, shown);
  if (!parts) return tl::unexpected(parts.error());
  const int self = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (self < 0) return tl::unexpected(io_failure("cannot open directory", shown, errno));
  Fd cur(self);
  fs::path at = shown;
  for (const auto& part : *parts) {
    at /= part;
    auto next = open_component(cur.get(), part, create, at);
    if (!next) return tl::unexpected(next.error());
    cur = std::move(*next);
  }
  return cur;
}

Result<RegularFile> open_regular_beneath(int dirfd, std::string_view rel, const fs::path& shown) {
  auto parts = components(rel, shown);
  if (!parts) return tl::unexpected(parts.error());
  if (parts->empty()) {
    return fail(Errc::path_policy, fmt::format("{}: empty file name", shown.string()));
  }
  const std::string name = parts->back();
  parts->pop_back();
  Fd parent;
  fs::path at = shown;
  int at_fd = dirfd;
  for (const auto& part : *parts) {
    at /= part;
    auto next = open_component(at_fd, part, Create::no, at);
    if (!next) return tl::unexpected(next.error());
    parent = std::move(*next);
    at_fd = parent.get();
  }
  at /= name;
  // O_PATH opens nothing (no FIFO handshake, no device side effect); with O_NOFOLLOW it
  // yields the link itself, so fstat tells what is there.
  const int probe = ::openat(at_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (probe < 0) return tl::unexpected(io_failure("cannot open", at, errno));
  Fd probe_fd(probe);
  struct stat first {};
  if (::fstat(probe, &first) != 0) return tl::unexpected(io_failure("cannot stat", at, errno));
  if (!S_ISREG(first.st_mode)) {
    return fail(Errc::path_policy,
                fmt::format("{} is {}; refused", at.string(), file_type(first.st_mode)),
                S_ISLNK(first.st_mode) ? "links are never followed: copy the file itself there"
                                       : "only regular files can be taken");
  }
  // O_NONBLOCK in case it was swapped for a FIFO meanwhile (then refused as another inode).
  const int fd =
      ::openat(at_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return tl::unexpected(io_failure("cannot open", at, errno));
  RegularFile out{Fd(fd), {}};
  if (::fstat(fd, &out.st) != 0) return tl::unexpected(io_failure("cannot stat", at, errno));
  if (out.st.st_dev != first.st_dev || out.st.st_ino != first.st_ino) {
    return fail(Errc::io_error, fmt::format("{} changed while being opened", at.string()));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return out;
}

Result<RegularFile> open_regular(const fs::path& path) {
  auto dir = open_base_dir(path.parent_path().empty() ? fs::path(".") : path.parent_path());
  if (!dir) return tl::unexpected(dir.error());
  return open_regular_beneath(dir->get(), path.filename().string(), path.parent_path());
}

bool shareable(const struct stat& st) {
  return S_ISREG(st.st_mode) && st.st_uid == ::geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

Status copy_fd(int src, int dst, const fs::path& shown) {
  loff_t in = 0;
  bool plain = false;
  for (;;) {
    if (!plain) {
      const ssize_t n = ::copy_file_range(src, &in, dst, nullptr, 1 << 30, 0);
      if (n > 0) continue;
      if (n == 0) return {};
      if (errno == EINTR) continue;
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP &&
          errno != EPERM) {
        return tl::unexpected(io_failure("cannot copy", shown, errno));
      }
      plain = true;  // continue at `in` with read/write
    }
    std::vector<char> buf(256 * 1024);
    for (;;) {
      const ssize_t n = ::pread(src, buf.data(), buf.size(), in);
      if (n < 0) {
        if (errno == EINTR) continue;
        return tl::unexpected(io_failure("cannot read", shown, errno));
      }
      if (n == 0) return {};
      in += n;
      for (ssize_t off = 0; off < n;) {
        const ssize_t w = ::write(dst, buf.data() + off, static_cast<std::size_t>(n - off));
        if (w < 0) {
          if (errno == EINTR) continue;
          return tl::unexpected(io_failure("cannot write a copy of", shown, errno));
        }
        off += w;
      }
    }
  }
}

Status fsync_dir_fd(int dirfd, const fs::path& shown) {
  if (::fsync(dirfd) != 0 && errno != EINVAL) {
    return tl::unexpected(io_failure("cannot fsync directory", shown, errno));
  }
  return {};
}

namespace {

// Renames dirfd/tmp over dirfd/name (rename never follows a link at `name`: it replaces it).
Status publish(int dirfd, const std::string& tmp, std::string_view name, const fs::path& at) {
  if (::renameat(dirfd, tmp.c_str(), dirfd, std::string(name).c_str()) != 0) {
    const int err = errno;
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return tl::unexpected(io_failure("cannot rename into place", at, err));
  }
  return {};
}

// Moves dirfd/tmp to dirfd/name without ever replacing an existing entry. renameat2
// (RENAME_NOREPLACE) is atomic; filesystems without it get linkat + unlinkat, equally race-free
// because linkat fails with EEXIST if anything appeared at `name` meanwhile.
Status publish_no_replace(int dirfd, const std::string& tmp, std::string_view name,
                          const fs::path& at) {
  const std::string dst(name);
  int err = 0;
  if (::renameat2(dirfd, tmp.c_str(), dirfd, dst.c_str(), RENAME_NOREPLACE) == 0) return {};
  err = errno;
  if (err == EINVAL || err == ENOSYS || err == ENOTSUP) {
    if (::linkat(dirfd, tmp.c_str(), dirfd, dst.c_str(), 0) == 0) {
      ::unlinkat(dirfd, tmp.c_str(), 0);
      return {};
    }
    err = errno;
  }
  ::unlinkat(dirfd, tmp.c_str(), 0);
  if (err == EEXIST) {
    return fail(Errc::already_exists, fmt::format("refusing to overwrite {}", at.string()));
  }
  return tl::unexpected(io_failure("cannot create", at, err));
}

// A new empty file dirfd/<temp name for name>, 0600, never a pre-existing file or link.
Result<std::pair<Fd, std::string>> create_temp(int dirfd, std::string_view name,
                                               const fs::path& at) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string tmp = temp_name(name);
    const int fd =
        ::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) return std::pair{Fd(fd), std::move(tmp)};
    if (errno != EEXIST) {
      return tl::unexpected(io_failure("cannot create a temporary file for", at, errno));
    }
  }
  return fail(Errc::io_error, fmt::format("cannot create a temporary file for {}", at.string()));
}

// Closes a written temp file after fchmod + fsync, removing it on failure.
Status finish_temp(Fd fd, int dirfd, const std::string& tmp, unsigned mode, const fs::path& at) {
  Status st;
  if (::fchmod(fd.get(), static_cast<mode_t>(mode & 07777)) != 0) {
    st = tl::unexpected(io_failure("cannot chmod", at, errno));
  } else if (::fsync(fd.get()) != 0) {
    st = tl::unexpected(io_failure("cannot fsync", at, errno));
  } else if (::close(fd.release()) != 0) {
    st = tl::unexpected(io_failure("cannot close", at, errno));
  }
  if (!st) ::unlinkat(dirfd, tmp.c_str(), 0);
  return st;
}

// Hard-links src's inode as dirfd/tmp; false if that is not possible here.
bool link_fd(int src, int dirfd, const std::string& tmp) {
  // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd/N with AT_SYMLINK_FOLLOW links the
  // open inode itself (not whatever the path names now) without it.
  if (::linkat(src, "", dirfd, tmp.c_str(), AT_EMPTY_PATH) == 0) return true;
  const std::string proc = fmt::format("/proc/self/fd/{}", src);
  return ::linkat(AT_FDCWD, proc.c_str(), dirfd, tmp.c_str(), AT_SYMLINK_FOLLOW) == 0;
}

}  // namespace

Status place_file(const RegularFile& src, int dirfd, std::string_view name, Share share,
                  const fs::path& shown) {
  const fs::path at = shown / std::string(name);
  if (share == Share::link || (share == Share::link_if_shareable && shareable(src.st))) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      const std::string tmp = temp_name(name);
      if (link_fd(src.fd.get(), dirfd, tmp)) return publish(dirfd, tmp, name, at);
      if (errno != EEXIST) break;  // other filesystem, no permission, EMLINK: copy
    }
  }
  auto temp = create_temp(dirfd, name, at);
  if (!temp) return tl::unexpected(temp.error());
  auto& [fd, tmp] = *temp;
  if (auto st = copy_fd(src.fd.get(), fd.get(), at); !st) {
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return st;
  }
  if (auto st = finish_temp(std::move(fd), dirfd, tmp, 0644, at); !st) return st;
  return publish(dirfd, tmp, name, at);
}

Status write_file_at(int dirfd, std::string_view name, std::string_view data, unsigned mode,
                     const fs::path& shown, Overwrite overwrite) {
  const fs::path at = shown / std::string(name);
  auto temp = create_temp(dirfd, name, at);
  if (!temp) return tl::unexpected(temp.error());
  auto& [fd, tmp] = *temp;
  while (!data.empty()) {
    const ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::unlinkat(dirfd, tmp.c_str(), 0);
      return tl::unexpected(io_failure("cannot write", at, err));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (auto st = finish_temp(std::move(fd), dirfd, tmp, mode, at); !st) return st;
  if (auto st = overwrite == Overwrite::refuse ? publish_no_replace(dirfd, tmp, name, at)
                                               : publish(dirfd, tmp, name, at);
      !st) {
    return st;
  }
  return fsync_dir_fd(dirfd, shown);
}

Status symlink_at(int dirfd, std::string_view name, std::string_view target,
                  const fs::path& shown) {
  const fs::path at = shown / std::string(name);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::string tmp = temp_name(name);
    if (::symlinkat(std::string(target).c_str(), dirfd, tmp.c_str()) == 0) {
      return publish(dirfd, tmp, name, at);
    }
    if (errno != EEXIST) return tl::unexpected(io_failure("cannot create link", at, errno));
  }
  return fail(Errc::io_error, fmt::format("cannot create link {}", at.string()));
}

}  // namespace weights::safe_fs
