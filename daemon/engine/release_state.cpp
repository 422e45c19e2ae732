#include "daemon/engine/release_state.hpp"

#include <algorithm>
#include <array>

namespace weights::daemon {

namespace {
constexpr std::array<std::pair<ReleaseState, std::string_view>, 8> names{{
    {ReleaseState::loading, "loading"},
    {ReleaseState::resolving, "resolving"},
    {ReleaseState::downloading, "downloading"},
    {ReleaseState::verifying, "verifying"},
    {ReleaseState::paused, "paused"},
    {ReleaseState::degraded, "degraded"},
    {ReleaseState::complete, "complete"},
    {ReleaseState::failed, "failed"},
}};
}  // namespace

std::string_view to_string(ReleaseState s) {
  for (const auto& [state, name] : names) {
    if (state == s) return name;
  }
  return "failed";
}

std::optional<ReleaseState> release_state_from_string(std::string_view s) {
  for (const auto& [state, name] : names) {
    if (name == s) return state;
  }
  return std::nullopt;
}

// The order of the checks is the contract: loading hides everything; a release that never got
// a torrent and has an error failed; work in progress on its files shows before completeness;
// an upstream intake shows its phase; completeness needs the torrent; a full disk, damage and
// errors show before the torrent's own paused/checking flags.
ReleaseState release_state(const ReleaseStateInput& in) {
  if (in.loading) return ReleaseState::loading;
  if (in.has_error && !in.has_torrent && !in.preparing) return ReleaseState::failed;
  switch (in.upstream) {
    case UpstreamPhase::pinning:
      return ReleaseState::resolving;
    case UpstreamPhase::downloading:
      return ReleaseState::downloading;
    case UpstreamPhase::building:
      return ReleaseState::verifying;
    case UpstreamPhase::none:
      break;
  }
  if (in.preparing || in.verifying) return ReleaseState::verifying;
  if (in.all_wanted_verified && in.has_torrent) return ReleaseState::complete;
  if (in.disk_full) return ReleaseState::paused;
  if (in.degraded) return ReleaseState::degraded;
  if (in.has_error) return ReleaseState::failed;
  if (!in.has_torrent) return ReleaseState::resolving;
  if (in.torrent_paused) return ReleaseState::paused;
  if (in.torrent_checking) return ReleaseState::verifying;
  if (in.any_hashing) return ReleaseState::verifying;
  return ReleaseState::downloading;
}

bool all_wanted_verified(const std::vector<FileEntry>& files) {
  return std::all_of(files.begin(), files.end(),
                     [](const FileEntry& f) { return !f.wanted || f.verified; });
}

bool any_hashing(const std::vector<FileEntry>& files) {
  return std::any_of(files.begin(), files.end(), [](const FileEntry& f) { return f.hashing; });
}

bool everything_wanted(const std::vector<FileEntry>& files) {
  return std::all_of(files.begin(), files.end(), [](const FileEntry& f) { return f.wanted; });
}

std::vector<bool> wanted_mask(const std::vector<FileEntry>& files) {
  std::vector<bool> out;
  out.reserve(files.size());
  for (const auto& f : files) out.push_back(f.wanted);
  return out;
}

std::uint64_t remaining_bytes(const std::vector<FileEntry>& files) {
  std::uint64_t left = 0;
  for (const auto& f : files) {
    if (!f.wanted || f.verified) continue;
    const auto done =
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, std::max(f.done, f.v1_done)));
    left += f.length > done ? f.length - done : 0;
  }
  return left;
}

}  // namespace weights::daemon
