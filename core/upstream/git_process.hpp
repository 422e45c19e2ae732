#pragma once
// Runs the git program for core/upstream/git_pin.cpp: posix_spawn (no shell) in its own
// process group, stdin from /dev/null, stdout and stderr captured (the last few KiB), an
// environment the caller gives in full (nothing is inherited), and three limits that kill the
// whole process group: a wall-clock deadline, a stall timeout (neither output nor growth of
// `watch_dir` for that long) and a byte cap on `watch_dir`'s size on disk (polled every 50 ms,
// and RLIMIT_FSIZE set on the process right after the spawn).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/util/error.hpp"

namespace weights::upstream {

struct GitRunLimits {
  std::chrono::steady_clock::time_point deadline;
  std::chrono::milliseconds stall{60'000};
  std::uint64_t max_bytes = 0;
  std::filesystem::path watch_dir;  // its total file size is capped and watched for progress
};

enum class GitRunEnd { exited, deadline, stalled, too_large };

struct GitRunResult {
  GitRunEnd end = GitRunEnd::exited;
  int exit_code = -1;       // when exited: the exit status, or 128 + signal
  std::string output;       // the last bytes of stdout + stderr
  std::uint64_t bytes = 0;  // watch_dir's size when the run ended
};

// `argv[0]` is looked up in the PATH of `env` ("NAME=value" strings). io_error if the process
// cannot be started.
Result<GitRunResult> run_git(const std::vector<std::string>& argv,
                             const std::vector<std::string>& env, const GitRunLimits& limits);

// Total size of the regular files below `dir` (files vanishing meanwhile are skipped).
std::uint64_t tree_bytes(const std::filesystem::path& dir);

}  // namespace weights::upstream
