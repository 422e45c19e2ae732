#include "core/upstream/git_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace weights::upstream {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::size_t output_tail_bytes = 8192;
constexpr auto poll_interval = std::chrono::milliseconds(50);

// The program's path from the PATH in `env` (posix_spawnp would search the caller's PATH).
std::string find_program(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string_view path = "/usr/bin:/bin";
  for (const auto& e : env) {
    if (std::string_view(e).starts_with("PATH=")) path = std::string_view(e).substr(5);
  }
  while (!path.empty()) {
    const auto colon = path.find(':');
    const std::string_view dir = path.substr(0, colon);
    path = colon == std::string_view::npos ? std::string_view() : path.substr(colon + 1);
    if (dir.empty() || dir[0] != '/') continue;
    std::string candidate = fmt::format("{}/{}", dir, name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;
}

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() {
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
  }
};

struct SpawnAttr {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnAttr() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnAttr() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

std::uint64_t tree_bytes(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const auto n = it->file_size(size_ec);
      if (!size_ec) total += n;
    }
  }
  return total;
}

Result<GitRunResult> run_git(const std::vector<std::string>& argv,
                             const std::vector<std::string>& env, const GitRunLimits& limits) {
  if (argv.empty()) return fail(Errc::internal, "run_git: no program");
  Pipe out;
  if (::pipe2(out.fd, O_CLOEXEC) != 0) {
    return fail(Errc::io_error, fmt::format("pipe: {}", std::strerror(errno)));
  }
  SpawnAttr sa;
  // Own process group (killed as a whole), default signal dispositions and an empty mask, so
  // a caller that ignores SIGPIPE or blocks signals does not pass that on to git.
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setflags(&sa.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&sa.attr, 0);
  posix_spawnattr_setsigmask(&sa.attr, &none);
  posix_spawnattr_setsigdefault(&sa.attr, &all);
  posix_spawn_file_actions_addopen(&sa.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&sa.actions, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&sa.actions, out.fd[1], 2);

  const std::string program = find_program(argv[0], env);
  auto c_argv = c_strings(argv);
  auto c_env = c_strings(env);
  pid_t pid = -1;
  const int rc =
      ::posix_spawn(&pid, program.c_str(), &sa.actions, &sa.attr, c_argv.data(), c_env.data());
  if (rc != 0) {
    return fail(Errc::io_error, fmt::format("cannot run {}: {}", program, std::strerror(rc)),
                "install git (Debian: apt-get install git)");
  }
  ::close(out.fd[1]);
  out.fd[1] = -1;
  // Files git writes are capped too (SIGXFSZ ends it); the polled cap below is the one that
  // counts, this one only narrows the window between two polls.
  if (limits.max_bytes > 0) {
    const rlimit cap{limits.max_bytes, limits.max_bytes};
    ::prlimit(pid, RLIMIT_FSIZE, &cap, nullptr);
  }

  GitRunResult result;
  auto last_progress = Clock::now();
  std::uint64_t last_bytes = 0;
  bool pipe_open = true;
  bool exited = false;
  bool status_known = false;
  int status = 0;
  char buf[4096];
  while (true) {
    if (pipe_open) {
      pollfd p{out.fd[0], POLLIN, 0};
      const int n = ::poll(&p, 1, static_cast<int>(poll_interval.count()));
      if (n > 0) {
        const ssize_t got = ::read(out.fd[0], buf, sizeof buf);
        if (got > 0) {
          result.output.append(buf, static_cast<std::size_t>(got));
          if (result.output.size() > output_tail_bytes) {
            result.output.erase(0, result.output.size() - output_tail_bytes);
          }
          last_progress = Clock::now();
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          pipe_open = false;
        }
      }
    } else {
      std::this_thread::sleep_for(poll_interval);
    }
    if (!exited) {
      const pid_t w = ::waitpid(pid, &status, WNOHANG);
      // w < 0 (ECHILD: the caller set SIGCHLD to SIG_IGN, so children are reaped unseen):
      // gone, with no status; that counts as a failure below, never as success.
      status_known = w == pid;
      if (w == pid || (w < 0 && errno != EINTR)) {
        exited = true;
        // A helper git started (git-remote-https, upload-pack for file://) that outlives git
        // would hold the pipe open; the group is git's own, so nothing else is hit.
        ::kill(-pid, SIGKILL);
      }
    }
    if (exited && !pipe_open) break;
    const auto now = Clock::now();
    const std::uint64_t bytes = limits.watch_dir.empty() ? 0 : tree_bytes(limits.watch_dir);
    result.bytes = bytes;
    if (bytes != last_bytes) {
      last_bytes = bytes;
      last_progress = now;
    }
    std::optional<GitRunEnd> stop;
    if (limits.max_bytes > 0 && bytes > limits.max_bytes) {
      stop = GitRunEnd::too_large;
    } else if (now >= limits.deadline) {
      stop = GitRunEnd::deadline;
    } else if (now - last_progress >= limits.stall) {
      stop = GitRunEnd::stalled;
    }
    if (exited && pipe_open && !stop) continue;  // drain what is left of the output
    if (stop) {
      ::kill(-pid, SIGKILL);
      if (!exited) ::waitpid(pid, &status, 0);
      result.end = *stop;
      return result;
    }
  }
  // What git wrote in its last 50 ms counts too.
  result.bytes = limits.watch_dir.empty() ? 0 : tree_bytes(limits.watch_dir);
  if (limits.max_bytes > 0 && result.bytes > limits.max_bytes) {
    result.end = GitRunEnd::too_large;
    return result;
  }
  if (!status_known) return result;  // exit_code stays -1
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
    // SIGXFSZ: a file git wrote reached RLIMIT_FSIZE, i.e. the byte cap.
    if (WTERMSIG(status) == SIGXFSZ) result.end = GitRunEnd::too_large;
  }
  return result;
}

}  // namespace weights::upstream
