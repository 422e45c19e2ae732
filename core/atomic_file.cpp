#include "core/atomic_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace weights {
namespace {

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

Error io_failure(std::string_view what, const std::filesystem::path& path, int err) {
  return Error{err == ENOENT ? Errc::not_found : Errc::io_error,
               fmt::format("{} {}: {}", what, path.string(), errno_text(err)),
               {}};
}

// Closes an fd on scope exit unless released.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports close()'s error: on NFS a write error may only surface here.
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// Temp name in the target's directory (so rename stays on one filesystem), hidden, with the
// target's name cut short enough that the whole name stays under NAME_MAX.
std::filesystem::path temp_path_for(const std::filesystem::path& path, std::mt19937_64& rng) {
  std::string base = path.filename().string();
  if (base.size() > 200) base.resize(200);
  return path.parent_path() / fmt::format(".{}.tmp-{:016x}", base, rng());
}

Status write_all(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(io_failure("cannot write", path, errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// Moves tmp to path without ever replacing an existing file. renameat2(RENAME_NOREPLACE) is
// atomic; filesystems without it get link()+unlink(), which is equally race-free because
// link() fails with EEXIST if anything appeared at `path` meanwhile.
Status publish_no_replace(const std::filesystem::path& tmp, const std::filesystem::path& path) {
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) return {};
  int err = errno;
  if (err == EINVAL || err == ENOSYS || err == ENOTSUP) {
    if (::link(tmp.c_str(), path.c_str()) == 0) {
      ::unlink(tmp.c_str());
      return {};
    }
    err = errno;
  }
  if (err == EEXIST) {
    return fail(Errc::already_exists, fmt::format("refusing to overwrite {}", path.string()));
  }
  return tl::unexpected(io_failure("cannot create", path, err));
}

}  // namespace

Status write_file_atomic(const std::filesystem::path& path, std::string_view data, unsigned mode,
                         Overwrite overwrite) {
  if (path.empty() || !path.has_filename()) {
    return fail(Errc::invalid_argument, fmt::format("not a file path: \"{}\"", path.string()));
  }
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";

  std::random_device seed;
  std::mt19937_64 rng((std::uint64_t{seed()} << 32) | seed());
  std::filesystem::path tmp;
  int fd = -1;
  // O_EXCL|O_NOFOLLOW: never open something an attacker pre-created or symlinked at the temp
  // name; 0600 until fchmod so a key file is never briefly readable by others.
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    tmp = temp_path_for(path, rng);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno != EEXIST) {
      return tl::unexpected(io_failure("cannot create temporary file in", dir, errno));
    }
  }
  if (fd < 0) {
    return fail(Errc::io_error,
                fmt::format("cannot create a unique temporary file in {}", dir.string()));
  }

  Fd file(fd);
  auto cleanup_fail = [&](Error e) -> Status {
    ::unlink(tmp.c_str());
    return tl::unexpected(std::move(e));
  };
  if (auto st = write_all(file.get(), data, tmp); !st) return cleanup_fail(st.error());
  if (::fchmod(file.get(), static_cast<mode_t>(mode & 07777)) != 0) {
    return cleanup_fail(io_failure("cannot chmod", tmp, errno));
  }
  if (::fsync(file.get()) != 0) return cleanup_fail(io_failure("cannot fsync", tmp, errno));
  if (file.close() != 0) return cleanup_fail(io_failure("cannot close", tmp, errno));

  if (overwrite == Overwrite::refuse) {
    if (auto st = publish_no_replace(tmp, path); !st) return cleanup_fail(st.error());
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return cleanup_fail(io_failure("cannot rename into place", path, errno));
  }
  return fsync_dir(dir);
}

Result<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not hang; it is then refused as not a regular file.
  // Symlinks are followed on purpose: this reads user-provided files.
  const int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (raw < 0) return tl::unexpected(io_failure("cannot open", path, errno));
  Fd fd(raw);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return tl::unexpected(io_failure("cannot stat", path, errno));
  if (!S_ISREG(st.st_mode)) {
    return fail(Errc::io_error, fmt::format("{} is not a regular file", path.string()));
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return fail(Errc::too_large,
                fmt::format("{} is {} bytes, limit is {}", path.string(), st.st_size, max_bytes));
  }
  // The size can change under us: read until EOF but never more than max_bytes + 1.
  const std::size_t cap = max_bytes == SIZE_MAX ? SIZE_MAX : max_bytes + 1;
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size) + 1);
  std::size_t used = 0;
  for (;;) {
    if (used == out.size()) {
      if (out.size() >= cap) break;
      out.resize(std::min(cap, out.size() * 2 + 4096));
    }
    const ssize_t n = ::read(fd.get(), out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(io_failure("cannot read", path, errno));
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (used > max_bytes) {
    return fail(Errc::too_large,
                fmt::format("{} is larger than the limit of {} bytes", path.string(), max_bytes));
  }
  out.resize(used);
  return out;
}

Status fsync_dir(const std::filesystem::path& dir) {
  const int raw = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (raw < 0) return tl::unexpected(io_failure("cannot open directory", dir, errno));
  Fd fd(raw);
  // EINVAL: the filesystem does not support syncing directories; nothing more we can do.
  if (::fsync(fd.get()) != 0 && errno != EINVAL) {
    return tl::unexpected(io_failure("cannot fsync directory", dir, errno));
  }
  return {};
}

}  // namespace weights
