#pragma once
// Taking files by descriptor, never by path twice. The daemon reads files a caller names (seed,
// import) and writes into directories a caller names (HF cache, export); a link or FIFO planted
// there must not make it read, share or overwrite anything else. The rules (threat-model.md,
// "Local files"):
//   - a base directory the caller names is opened once (links in the base path itself are the
//     caller's choice and followed); everything below is walked one component at a time with
//     openat(O_NOFOLLOW|O_DIRECTORY): a symlinked component is refused, never followed;
//   - a file is opened O_PATH|O_NOFOLLOW and fstat'ed first, so links, FIFOs, devices and
//     sockets are refused before any open that could block or have side effects; it is then
//     reopened for reading and must be the same inode;
//   - a file is shared (hard-linked) only if the daemon owns it and nobody else may write it
//     (shareable()); otherwise it is copied from the same descriptor;
//   - files are created under a temp name (O_EXCL|O_NOFOLLOW), fsynced, and renamed over the
//     final name inside the directory descriptor, which replaces a planted link instead of
//     writing through it.
#include <filesystem>
#include <string>
#include <string_view>

#include <sys/stat.h>

#include "core/util/atomic_file.hpp"
#include "core/util/error.hpp"

namespace weights::safe_fs {

// An owned file descriptor (closed on destruction).
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

enum class Create { no, yes };

// Opens a directory the caller named (links in `dir` itself are followed: the caller chose the
// path). Create::yes creates it and missing parents (0755) first.
Result<Fd> open_base_dir(const std::filesystem::path& dir, Create create = Create::no);

// Opens `rel` ('/'-separated; no empty, "." or ".." component; "" is dirfd itself) below dirfd
// one component at a time, never following a link: a symlinked or non-directory component is
// refused (path_policy). Create::yes makes missing components (0755). `shown` is dirfd's path,
// for messages.
Result<Fd> open_dir_beneath(int dirfd, std::string_view rel, Create create,
                            const std::filesystem::path& shown);

struct RegularFile {
  Fd fd;              // open for reading (blocking mode)
  struct stat st {};  // from fstat of that descriptor
};

// Opens the regular file `rel` below dirfd for reading: intermediate components as
// open_dir_beneath, the last one O_PATH|O_NOFOLLOW and fstat'ed before it is opened for reading,
// so a symlink, FIFO, device, socket or directory is refused (path_policy) without blocking.
Result<RegularFile> open_regular_beneath(int dirfd, std::string_view rel,
                                         const std::filesystem::path& shown);

// open_regular_beneath for a daemon-owned absolute path: the parent is opened as given, only
// the last component must not be a link.
Result<RegularFile> open_regular(const std::filesystem::path& path);

// True if an inode may be shared by hard link: it is owned by the daemon's effective uid and
// neither group nor others may write it (the group bits are also the ACL mask), so no other
// user can change its bytes through any of its names.
bool shareable(const struct stat& st);

// link: src is the daemon's own (a store entry); link_if_shareable: src is a caller's file,
// linked only if shareable(src.st); copy: never linked.
enum class Share { link, link_if_shareable, copy };

// Makes dirfd/name a file with src's content: a hard link to src's inode when `share` allows it
// (linkat(AT_EMPTY_PATH), else via /proc/self/fd), otherwise — or when
// linking fails (other filesystem, no permission, too many links) — a copy read from src.fd,
// fsynced. Either way it appears under a temp name first and is renamed over `name`, so an
// existing entry (file or planted link) is replaced, never written through.
Status place_file(const RegularFile& src, int dirfd, std::string_view name, Share share,
                  const std::filesystem::path& shown);

// Writes `data` to dirfd/name: temp file (0600 until written), fsync, renameat over `name`,
// fsync of the directory. Overwrite::refuse never replaces an existing entry, a link included
// (already_exists). The implementation of write_file_atomic.
Status write_file_at(int dirfd, std::string_view name, std::string_view data, unsigned mode,
                     const std::filesystem::path& shown, Overwrite overwrite = Overwrite::allow);

// Makes dirfd/name a symbolic link to `target` (temp link renamed over `name`).
Status symlink_at(int dirfd, std::string_view name, std::string_view target,
                  const std::filesystem::path& shown);

// Copies src (from offset 0 to EOF) to dst (at its current offset; copy_file_range, falling
// back to read/write).
Status copy_fd(int src, int dst, const std::filesystem::path& shown);

// fsync of a directory descriptor (EINVAL, "not supported", is ignored).
Status fsync_dir_fd(int dirfd, const std::filesystem::path& shown);

// A temp name in a directory for `name`: hidden, unique, short enough for NAME_MAX.
std::string temp_name(std::string_view name);

}  // namespace weights::safe_fs
