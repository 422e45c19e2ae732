// The release state rule, exhaustively over its inputs (2^11 combinations), against the rule
// written out once more in the order docs/protocol.md describes, and the named cases that matter.
#include "daemon/engine/release_state.hpp"

#include <utility>

#include <catch2/catch.hpp>

using namespace weights::daemon;

namespace {

ReleaseStateInput from_bits(unsigned bits) {
  ReleaseStateInput in;
  bool* fields[] = {&in.loading,        &in.has_torrent,         &in.has_error,  &in.preparing,
                    &in.verifying,      &in.all_wanted_verified, &in.disk_full,  &in.degraded,
                    &in.torrent_paused, &in.torrent_checking,    &in.any_hashing};
  for (unsigned i = 0; i < 11; ++i) *fields[i] = (bits >> i) & 1u;
  return in;
}

}  // namespace

TEST_CASE("every state has a wire name that parses back", "[release_state]") {
  for (auto s : {ReleaseState::loading, ReleaseState::resolving, ReleaseState::downloading,
                 ReleaseState::verifying, ReleaseState::paused, ReleaseState::degraded,
                 ReleaseState::complete, ReleaseState::failed}) {
    CHECK(release_state_from_string(to_string(s)) == s);
  }
  CHECK(to_string(ReleaseState::complete) == "complete");
  CHECK(to_string(ReleaseState::downloading) == "downloading");
  CHECK_FALSE(release_state_from_string("seeding"));
  CHECK_FALSE(release_state_from_string(""));
}

TEST_CASE("the state over every combination of its inputs follows the precedence rule",
          "[release_state]") {
  for (unsigned bits = 0; bits < (1u << 11); ++bits) {
    const auto in = from_bits(bits);
    const auto got = release_state(in);
    INFO("input bits " << bits);
    if (in.loading) {
      CHECK(got == ReleaseState::loading);
      continue;
    }
    // A release whose torrent never got added and that has an error failed, unless the
    // publisher's files are still being taken in.
    if (in.has_error && !in.has_torrent && !in.preparing) {
      CHECK(got == ReleaseState::failed);
      continue;
    }
    if (in.preparing || in.verifying) {
      CHECK(got == ReleaseState::verifying);
      continue;
    }
    if (in.all_wanted_verified && in.has_torrent) {
      CHECK(got == ReleaseState::complete);
      continue;
    }
    if (in.disk_full) {
      CHECK(got == ReleaseState::paused);
    } else if (in.degraded) {
      CHECK(got == ReleaseState::degraded);
    } else if (in.has_error) {
      CHECK(got == ReleaseState::failed);
    } else if (!in.has_torrent) {
      CHECK(got == ReleaseState::resolving);
    } else if (in.torrent_paused) {
      CHECK(got == ReleaseState::paused);
    } else if (in.torrent_checking || in.any_hashing) {
      CHECK(got == ReleaseState::verifying);
    } else {
      CHECK(got == ReleaseState::downloading);
    }
  }
}

TEST_CASE("an upstream intake shows its phase unless loading or failed", "[release_state]") {
  const std::pair<UpstreamPhase, ReleaseState> phases[] = {
      {UpstreamPhase::pinning, ReleaseState::resolving},
      {UpstreamPhase::downloading, ReleaseState::downloading},
      {UpstreamPhase::building, ReleaseState::verifying}};
  for (unsigned bits = 0; bits < (1u << 11); ++bits) {
    for (const auto& [phase, shown] : phases) {
      auto in = from_bits(bits);
      in.upstream = phase;
      INFO("input bits " << bits);
      if (in.loading) {
        CHECK(release_state(in) == ReleaseState::loading);
      } else if (in.has_error && !in.has_torrent && !in.preparing) {
        CHECK(release_state(in) == ReleaseState::failed);
      } else {
        CHECK(release_state(in) == shown);
      }
    }
  }
}

TEST_CASE("named release situations map to the states users see", "[release_state]") {
  ReleaseStateInput fetching;
  fetching.has_torrent = true;
  CHECK(release_state(fetching) == ReleaseState::downloading);

  auto done = fetching;
  done.all_wanted_verified = true;
  CHECK(release_state(done) == ReleaseState::complete);
  // A complete release stays complete while libtorrent re-checks or is paused.
  done.torrent_checking = true;
  done.torrent_paused = true;
  CHECK(release_state(done) == ReleaseState::complete);

  // Complete but the re-verify is running: verifying.
  auto reverify = done;
  reverify.verifying = true;
  CHECK(release_state(reverify) == ReleaseState::verifying);

  // A full disk shows as paused even with an error set (the no_space error).
  auto full = fetching;
  full.disk_full = true;
  full.has_error = true;
  CHECK(release_state(full) == ReleaseState::paused);

  // Damage found by a scrub: degraded, although the error is set.
  auto damaged = fetching;
  damaged.degraded = true;
  damaged.has_error = true;
  CHECK(release_state(damaged) == ReleaseState::degraded);

  // Torrent acquisition failed: failed, not resolving.
  ReleaseStateInput refused;
  refused.has_error = true;
  CHECK(release_state(refused) == ReleaseState::failed);
  CHECK(release_state(ReleaseStateInput{}) == ReleaseState::resolving);

  // Seeding a publisher's files: verifying while they are taken in, even with no torrent.
  ReleaseStateInput seeding;
  seeding.preparing = true;
  seeding.has_error = true;
  CHECK(release_state(seeding) == ReleaseState::verifying);

  // A file being hashed while the torrent downloads.
  auto hashing = fetching;
  hashing.any_hashing = true;
  CHECK(release_state(hashing) == ReleaseState::verifying);
}

TEST_CASE("file helpers: completeness, selection and bytes still to download", "[release_state]") {
  std::vector<FileEntry> files(3);
  files[0].length = 100;
  files[0].wanted = true;
  files[1].length = 50;
  files[1].wanted = true;
  files[2].length = 1000;  // not wanted
  CHECK_FALSE(all_wanted_verified(files));
  CHECK_FALSE(everything_wanted(files));
  CHECK(wanted_mask(files) == std::vector<bool>{true, true, false});
  CHECK(remaining_bytes(files) == 150);
  files[0].done = 40;
  files[0].v1_done = 60;  // the larger of the two sources counts
  CHECK(remaining_bytes(files) == 90);
  files[1].verified = true;
  CHECK(remaining_bytes(files) == 40);
  files[0].verified = true;
  CHECK(all_wanted_verified(files));
  CHECK(remaining_bytes(files) == 0);
  files[1].hashing = true;
  CHECK(any_hashing(files));
  CHECK(all_wanted_verified(std::vector<FileEntry>{}));
}
