#include "core/util/atomic_file.hpp"

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

#include "core/util/safe_fs.hpp"

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

using safe_fs::Fd;

}  // namespace

// By descriptor (core/util/safe_fs.hpp): the directory is opened once, the temp file is created in
// it with O_EXCL|O_NOFOLLOW and renamed over the name, so a link there is replaced, not written
// through.
Status write_file_atomic(const std::filesystem::path& path, std::string_view data, unsigned mode,
                         Overwrite overwrite) {
  if (path.empty() || !path.has_filename()) {
    return fail(Errc::invalid_argument, fmt::format("not a file path: \"{}\"", path.string()));
  }
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  auto dirfd = safe_fs::open_base_dir(dir);
  if (!dirfd) return tl::unexpected(dirfd.error());
  return safe_fs::write_file_at(dirfd->get(), path.filename().string(), data, mode, dir, overwrite);
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
