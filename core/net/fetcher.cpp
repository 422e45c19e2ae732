#include "core/net/fetcher.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/net/http_fetcher.hpp"
#include "core/util/path_policy.hpp"

#if __has_include(<linux/openat2.h>) && defined(SYS_openat2)
#include <linux/openat2.h>
#define WEIGHTS_HAVE_OPENAT2 1
#else
#define WEIGHTS_HAVE_OPENAT2 0
#endif

namespace weights {

namespace {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

constexpr int file_flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

std::string errno_text(int err) {
  return std::strerror(err);
}

tl::unexpected<Error> open_error(int err, std::string_view name, const std::string& root) {
  const std::string shown = escape_path_for_message(name);
  switch (err) {
    case ENOENT:
      return fail(Errc::not_found, fmt::format("{}: no such file in feed {}", shown, root));
    case ELOOP:
    case EXDEV:
      return fail(Errc::path_policy,
                  fmt::format("{}: refusing a symlink or a path outside feed {}", shown, root));
    default:
      return fail(Errc::io_error, fmt::format("{}: {} (feed {})", shown, errno_text(err), root));
  }
}

// Opens `name` under `dirfd` refusing every symlink: O_NOFOLLOW on each component.
Result<Fd> open_component_walk(int dirfd, std::string_view name, const std::string& root) {
  Fd current;
  int at = dirfd;
  std::size_t start = 0;
  while (true) {
    const auto slash = name.find('/', start);
    const std::string comp(
        name.substr(start, slash == std::string_view::npos ? name.npos : slash - start));
    const bool last = slash == std::string_view::npos;
    const int flags =
        last ? file_flags | O_NOFOLLOW : O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW;
    const int fd = ::openat(at, comp.c_str(), flags);
    if (fd < 0) {
      int err = errno;
      // O_NOFOLLOW|O_DIRECTORY on a symlink may report ENOTDIR: say what it really is.
      struct stat st {};
      if (err == ENOTDIR && ::fstatat(at, comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode)) {
        err = ELOOP;
      } else if (err == ENOTDIR) {
        err = ENOENT;
      }
      return open_error(err, name, root);
    }
    current = Fd(fd);
    at = current.get();
    if (last) return current;
    start = slash + 1;
  }
}

#if WEIGHTS_HAVE_OPENAT2
// Some sandboxes (seccomp filters, old kernels) reject openat2; the caller falls back.
bool openat2_unavailable(int err) {
  return err == ENOSYS || err == EPERM || err == E2BIG;
}
#endif

Result<std::string> read_bounded(int fd, std::string_view name, std::uint64_t max_bytes) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return fail(Errc::io_error, fmt::format("{}: fstat: {}", name, errno_text(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(Errc::io_error, fmt::format("{}: not a regular file", name));
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return fail(Errc::too_large,
                fmt::format("{}: {} bytes exceeds the limit of {}", name, st.st_size, max_bytes));
  }
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size) + 1);
  std::size_t used = 0;
  while (true) {
    if (used == out.size()) {
      // The file grew after fstat: keep reading, but never past max_bytes + 1.
      if (used > max_bytes) break;
      out.resize(std::min<std::uint64_t>(out.size() * 2 + 4096, max_bytes + 1));
    }
    const ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(Errc::io_error, fmt::format("{}: read: {}", name, errno_text(errno)));
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (used > max_bytes) {
    return fail(Errc::too_large, fmt::format("{}: exceeds the limit of {} bytes", name, max_bytes));
  }
  out.resize(used);
  return out;
}

// Minimal file:// URL to path: "file:///p" and "file://localhost/p", with %XX decoded.
Result<std::string> file_url_path(std::string_view url) {
  std::string_view rest = url.substr(7);
  if (rest.starts_with("localhost/")) rest.remove_prefix(9);
  if (!rest.starts_with('/')) {
    return fail(Errc::unsupported,
                fmt::format("{}: only local file:// URLs (file:///path) are supported", url));
  }
  std::string path;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] != '%') {
      path += rest[i];
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (i + 2 >= rest.size() || hex(rest[i + 1]) < 0 || hex(rest[i + 2]) < 0) {
      return fail(Errc::parse_error, fmt::format("{}: bad percent-encoding", url));
    }
    const char c = static_cast<char>(hex(rest[i + 1]) * 16 + hex(rest[i + 2]));
    if (c == '\0') return fail(Errc::parse_error, fmt::format("{}: NUL in path", url));
    path += c;
    i += 2;
  }
  return path;
}

}  // namespace

LocalDirFetcher::LocalDirFetcher(std::filesystem::path root, ResolveMode mode)
    : root_(std::move(root)), mode_(mode) {}

Result<std::string> LocalDirFetcher::fetch(std::string_view relative_name,
                                           std::uint64_t max_bytes) {
  if (auto ok = check_path(relative_name); !ok) {
    return tl::unexpected(with_context(ok.error(), "fetch"));
  }
  const std::string root = root_.string();
  Fd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    // The feed directory itself missing is an I/O problem, never "no such file": a not_found
    // here would silently end the root chain.
    return fail(Errc::io_error, fmt::format("feed directory {}: {}", root, errno_text(errno)));
  }
  const std::string name(relative_name);
  Fd file;
#if WEIGHTS_HAVE_OPENAT2
  if (mode_ == ResolveMode::automatic) {
    open_how how{};
    how.flags = static_cast<std::uint64_t>(file_flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const long fd = ::syscall(SYS_openat2, dir.get(), name.c_str(), &how, sizeof how);
    if (fd >= 0) {
      file = Fd(static_cast<int>(fd));
    } else if (!openat2_unavailable(errno)) {
      return open_error(errno == ENOTDIR ? ENOENT : errno, relative_name, root);
    }
  }
#endif
  if (!file.valid()) {
    auto walked = open_component_walk(dir.get(), relative_name, root);
    if (!walked) return tl::unexpected(walked.error());
    file = std::move(*walked);
  }
  return read_bounded(file.get(), escape_path_for_message(relative_name), max_bytes);
}

Result<std::unique_ptr<Fetcher>> make_fetcher(std::string_view location) {
  if (location.starts_with("http://") || location.starts_with("https://")) {
    auto proxy = ProxySettings::from_env();
    if (!proxy) return tl::unexpected(proxy.error());
    HttpOptions options;
    options.proxy = std::move(*proxy);
    return make_fetcher(location, options);
  }
  return make_fetcher(location, HttpOptions{});
}

Result<std::unique_ptr<Fetcher>> make_fetcher(std::string_view location, const HttpOptions& http) {
  if (location.empty()) return fail(Errc::invalid_argument, "empty feed location");
  if (location.starts_with("http://") || location.starts_with("https://")) {
    auto f = HttpFetcher::create(location, http);
    if (!f) return tl::unexpected(f.error());
    return std::unique_ptr<Fetcher>(std::move(*f));
  }
  std::string path;
  if (location.starts_with("file://")) {
    auto p = file_url_path(location);
    if (!p) return tl::unexpected(p.error());
    path = std::move(*p);
  } else if (location.find("://") != std::string_view::npos) {
    return fail(Errc::unsupported, fmt::format("{}: unsupported feed URL scheme", location));
  } else {
    path = std::string(location);
  }
  return std::make_unique<LocalDirFetcher>(std::filesystem::path(path));
}

Result<std::optional<std::filesystem::path>> local_feed_dir(std::string_view location) {
  if (location.empty()) return fail(Errc::invalid_argument, "empty feed location");
  if (location.starts_with("http://") || location.starts_with("https://")) {
    return std::optional<std::filesystem::path>();
  }
  if (location.starts_with("file://")) {
    auto p = file_url_path(location);
    if (!p) return tl::unexpected(p.error());
    return std::optional<std::filesystem::path>(std::move(*p));
  }
  if (location.find("://") != std::string_view::npos) {
    return fail(Errc::unsupported, fmt::format("{}: unsupported feed URL scheme", location));
  }
  return std::optional<std::filesystem::path>(std::string(location));
}

}  // namespace weights
