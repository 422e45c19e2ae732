#include "core/api/caller_access.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <deque>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/util/path_policy.hpp"

namespace weights {
namespace fs = std::filesystem;

namespace {

constexpr int max_symlinks = 40;  // the kernel's limit (MAXSYMLINKS)

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// An O_PATH descriptor cannot be used with fgetxattr; /proc/self/fd names the same inode.
HasAcl acl_of(int fd) {
  const std::string p = fmt::format("/proc/self/fd/{}", fd);
  const ssize_t n = ::getxattr(p.c_str(), "system.posix_acl_access", nullptr, 0);
  if (n >= 0) return HasAcl::yes;
  // ENODATA: no ACL; ENOTSUP: the filesystem has none. Anything else (no /proc): assume one,
  // which only makes the check stricter.
  return errno == ENODATA || errno == ENOTSUP ? HasAcl::no : HasAcl::yes;
}

struct Node {
  Fd fd;
  struct stat st {};
  std::string name;  // component name; empty for "/"
};

// 0, or the errno of the failed openat/fstat.
int open_node(int dirfd, const std::string& name, Node& out) {
  out.fd = Fd(::openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (out.fd.get() < 0 || ::fstat(out.fd.get(), &out.st) != 0) return errno;
  out.name = name;
  return 0;
}

std::deque<std::string> components(const std::string& text) {
  std::deque<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto slash = text.find('/', i);
    const auto end = slash == std::string::npos ? text.size() : slash;
    if (end > i) out.emplace_back(text.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

bool within(const fs::path& p, const fs::path& dir) {
  auto [d, q] = std::mismatch(dir.begin(), dir.end(), p.begin(), p.end());
  // A trailing "" component of "dir/" matches anything.
  return d == dir.end() || (std::next(d) == dir.end() && d->empty());
}

}  // namespace

bool is_privileged(const Caller& caller, uid_t daemon_euid) noexcept {
  return caller.uid == 0 || caller.uid == daemon_euid;
}

bool mode_grants(const struct stat& st, const Caller& caller, AccessBits want,
                 HasAcl has_acl) noexcept {
  int shift = 0;  // other
  if (st.st_uid == caller.uid) {
    shift = 6;
  } else if (has_acl == HasAcl::yes) {
    return false;
  } else if (st.st_gid == caller.gid || std::find(caller.groups.begin(), caller.groups.end(),
                                                  st.st_gid) != caller.groups.end()) {
    shift = 3;
  }
  const auto bits = static_cast<int>((st.st_mode >> shift) & 7);
  return (bits & want) == want;
}

Result<fs::path> check_caller_access(const AccessPolicy& policy, const Caller& caller,
                                     const fs::path& path, Access access) {
  const std::string shown = escape_path_for_message(path.string());
  if (!path.is_absolute()) {
    return fail(Errc::invalid_argument, fmt::format("{}: must be an absolute path", shown));
  }
  if (is_privileged(caller, policy.daemon_euid)) return path.lexically_normal();

  auto denied = [&]() {
    return fail(Errc::permission_denied, fmt::format("{}: permission denied", shown),
                fmt::format("weightsd acts on a path only when uid {} could do the same itself "
                            "(docs/threat-model.md)",
                            caller.uid));
  };
  auto sys_error = [&](int err) {
    return fail(Errc::io_error, fmt::format("{}: {}", shown, std::generic_category().message(err)));
  };
  auto grants = [&](const Node& n, AccessBits want) {
    return mode_grants(n.st, caller, want, acl_of(n.fd.get()));
  };

  // The resolved path as a stack of open directories, root first.
  std::vector<Node> stack;
  {
    Node root;
    root.fd = Fd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root.fd.get() < 0 || ::fstat(root.fd.get(), &root.st) != 0) return sys_error(errno);
    stack.push_back(std::move(root));
  }
  auto todo = components(path.string());
  std::deque<std::string> missing;  // components after the first that does not exist
  int links = 0;
  std::optional<Node> leaf;  // the last component, when it is not a directory

  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == ".") continue;
    const Node& dir = stack.back();
    // Looking up any name in a directory, ".." included, takes search permission on it.
    if (!grants(dir, X_OK)) return denied();
    if (c == "..") {
      if (stack.size() > 1) stack.pop_back();
      continue;
    }
    auto next = std::make_optional<Node>();
    if (const int err = open_node(dir.fd.get(), c, *next); err != 0) {
      if (err == ENOENT) {
        missing.push_back(std::move(c));
        std::copy_if(todo.begin(), todo.end(), std::back_inserter(missing),
                     [](const std::string& m) { return m != "."; });
        // The daemon would create these; ".." after a missing directory is not a path to make.
        if (std::find(missing.begin(), missing.end(), "..") != missing.end()) {
          return fail(Errc::not_found, fmt::format("{}: not found", shown));
        }
        break;
      }
      if (err == EACCES) return denied();
      return sys_error(err);
    }
    if (S_ISLNK(next->st.st_mode)) {
      if (++links > max_symlinks) return sys_error(ELOOP);
      // fs.protected_symlinks, applied whatever the sysctl says: in a sticky world-writable
      // directory, only the caller's own links and the directory owner's are followed.
      const bool sticky_shared = (dir.st.st_mode & S_ISVTX) && (dir.st.st_mode & S_IWOTH);
      if (sticky_shared && next->st.st_uid != caller.uid && next->st.st_uid != dir.st.st_uid) {
        return denied();
      }
      std::string target(PATH_MAX, '\0');
      const ssize_t n = ::readlinkat(next->fd.get(), "", target.data(), target.size());
      if (n < 0) return sys_error(errno);
      target.resize(static_cast<std::size_t>(n));
      auto more = components(target);
      todo.insert(todo.begin(), more.begin(), more.end());
      if (!target.empty() && target.front() == '/') stack.resize(1);
      continue;
    }
    if (S_ISDIR(next->st.st_mode)) {
      stack.push_back(std::move(*next));
      continue;
    }
    if (!todo.empty()) {
      // A file in the middle of the path: the kernel answers ENOTDIR.
      return sys_error(ENOTDIR);
    }
    leaf = std::move(*next);
  }

  fs::path resolved = "/";
  for (std::size_t i = 1; i < stack.size(); ++i) resolved /= stack[i].name;
  if (leaf) resolved /= leaf->name;
  for (const auto& m : missing) resolved /= m;
  for (const auto& p : policy.private_dirs) {
    std::error_code ec;
    const fs::path canonical = fs::weakly_canonical(p, ec);
    if (within(resolved, ec ? p.lexically_normal() : canonical)) {
      return fail(Errc::permission_denied,
                  fmt::format("{}: inside weightsd's own state directory", shown),
                  "name a directory outside the daemon's state");
    }
  }

  const Node& last = leaf ? *leaf : stack.back();
  switch (access) {
    case Access::read_file:
      if (!missing.empty()) return fail(Errc::not_found, fmt::format("{}: not found", shown));
      if (!S_ISREG(last.st.st_mode)) {
        return fail(Errc::invalid_argument, fmt::format("{}: not a regular file", shown));
      }
      if (!grants(last, R_OK)) return denied();
      break;
    case Access::read_dir:
      if (!missing.empty()) return fail(Errc::not_found, fmt::format("{}: not found", shown));
      if (!S_ISDIR(last.st.st_mode)) {
        return fail(Errc::invalid_argument, fmt::format("{}: not a directory", shown));
      }
      if (!grants(last, R_OK | X_OK)) return denied();
      break;
    case Access::write_dir:
      if (!S_ISDIR(last.st.st_mode)) {
        return fail(Errc::invalid_argument, fmt::format("{}: not a directory", shown));
      }
      if (!grants(last, W_OK | X_OK)) return denied();
      break;
  }
  return resolved;
}

}  // namespace weights
