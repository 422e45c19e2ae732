#pragma once
// Who may ask weightsd to read or write which path (docs/threat-model.md, "Local users: who may
// ask the daemon to read or write what"). The daemon runs with its own privileges; before it acts
// on a path a control-API caller named, it checks that the caller could have done the same
// itself: search permission on every directory the kernel would traverse, read on what is read,
// write and search on the directory written into. Root and the daemon's own uid are not checked
// (they already hold those privileges).
#include <filesystem>
#include <vector>

#include <sys/stat.h>
#include <sys/types.h>

#include "core/util/error.hpp"

namespace weights {

// The process at the other end of a control connection: effective uid and gid and pid from
// SO_PEERCRED, supplementary groups from SO_PEERGROUPS, all as they were at connect(2).
struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  std::vector<gid_t> groups;  // supplementary groups (may include gid)
};

// Root, or the daemon's own effective uid: such a caller can already do whatever it asks.
bool is_privileged(const Caller& caller, uid_t daemon_euid) noexcept;

// Bits of R_OK, W_OK, X_OK.
using AccessBits = int;

// Whether `st` grants every bit of `want` to `caller` through its mode bits, classed as the
// kernel does: owner bits if the caller's uid owns it, else group bits if its group is the
// caller's gid or a supplementary group, else other bits. No root override, no capabilities.
// With `has_acl`, only the owner class is trusted (the group bits are then the ACL mask, and
// named entries may deny what the other bits allow): a non-owner is denied.
enum class HasAcl { no, yes };
bool mode_grants(const struct stat& st, const Caller& caller, AccessBits want,
                 HasAcl has_acl = HasAcl::no) noexcept;

enum class Access {
  read_file,  // a regular file the daemon reads: r on it
  read_dir,   // a directory the daemon reads files from: r and x on it
  // A directory the daemon creates or writes into: w and x on it when it exists, else on the
  // nearest existing ancestor (the daemon creates the rest).
  write_dir,
};

struct AccessPolicy {
  uid_t daemon_euid = 0;
  // The daemon's own directories (state dir, store): no unprivileged caller may name a path
  // inside them, whatever their modes.
  std::vector<std::filesystem::path> private_dirs;
};

// Checks that `caller` may have the daemon perform `access` on the absolute `path`, resolving it
// component by component as the kernel would for the caller (openat with O_NOFOLLOW, symlinks
// followed by hand, at most 40; a symlink in a sticky world-writable directory is followed only
// when the caller or the directory's owner owns it). Returns the resolved path (no symlinks, "."
// or "..") for the daemon to act on; privileged callers get `path` back, lexically normalised,
// unchecked.
// Errors: invalid_argument (relative path), permission_denied ("<path>: permission denied", the
// same whether or not the path exists when the caller could not search up to it, and never
// naming the resolved path), not_found (only when the caller could search up to the missing
// component), invalid_argument for a read_file that is not a regular file or a directory access
// on a non-directory, io_error for other system failures.
Result<std::filesystem::path> check_caller_access(const AccessPolicy& policy, const Caller& caller,
                                                  const std::filesystem::path& path, Access access);

}  // namespace weights
