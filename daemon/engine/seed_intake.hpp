#pragma once
// Seeding a publisher's release (POST /v1/seed) as plain steps: which trusted target it is, what
// a seed does to a release already known, the record it creates, then — once its torrents are
// here — the publisher's files taken into staging on the hashing pool (every byte checked
// against the manifest; nothing is seeded otherwise) and, back on the io thread, adopted into
// the store. SeedIntake carries the steps out on the ReleaseRegistry and the Store and reaches
// the rest of the engine (feeds, resolver, hashing pool, session) only through SeedIntakeHost.
// Io thread only.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/db/state_store.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/trust/tuf_metadata.hpp"
#include "core/util/error.hpp"
#include "daemon/engine.hpp"
#include "daemon/engine/release.hpp"
#include "daemon/engine/release_registry.hpp"
#include "daemon/store.hpp"

namespace weights::daemon {

// The feed's trusted release target for the request's model and revision. Errors: not_found,
// with a hint to publish and refresh.
Result<tuf::TargetInfo> seed_target(const FeedState& feed, const SeedRequest& request);

// What a seed does to the release of its id.
enum class SeedPath {
  start,    // none known (or a failed attempt, which is replaced): take it in
  answer,   // complete, or its files are being taken in already: answer with it as it is
  refused,  // being fetched from the swarm: already_exists (remove it first)
};
SeedPath seed_path(const Release* existing);
// The already_exists error for SeedPath::refused.
Error seed_refused(const std::string& id);

// The record of a seeded release (origin seeded, every file).
ReleaseRecord seed_record(const SeedRequest& request, const ReleaseManifest& m,
                          const std::string& manifest_bytes, std::int64_t now_ticks);

// On the hashing pool: the publisher's files under `dir` into `staging` (store.hpp take_files:
// by descriptor, no link followed). Errors name the file that is missing or differs.
Status take_publisher_files(const std::filesystem::path& dir, const ReleaseManifest& m,
                            const std::filesystem::path& staging, unsigned threads);

// On the io thread, after take_publisher_files: each staged file into the store, marked
// verified. Stops at the first failure (the files adopted so far stay verified).
Status adopt_taken(Release& r, const Store& store);

// What a seed needs of the rest of the engine.
class SeedIntakeHost {
 public:
  virtual ~SeedIntakeHost() = default;
  virtual bool shutting_down() = 0;
  // The feed's summary with `model`'s trusted targets only: what a seed reads of a feed,
  // whatever its size.
  virtual Result<FeedState> feed(const std::string& name, const std::string& model) = 0;
  // The verified manifest of a trusted release target and its bytes.
  virtual Result<std::pair<ReleaseManifest, std::string>> manifest(
      const FeedState& feed, const tuf::TargetInfo& target) = 0;
  // Fetches the release's torrents on a worker; `done` gets the outcome on the io thread.
  virtual Status acquire(Release& r, const FeedState& feed, const ReleaseManifest& manifest,
                         std::function<void(Status)> done) = 0;
  // Runs `work` on the hashing pool and `then` with its outcome on the io thread.
  virtual void on_pool(std::function<Status()> work, std::function<void(Status)> then) = 0;
  // Adds the release to the session as a seed (every file verified).
  virtual Status add_seed(Release& r) = 0;
  virtual void check_complete(Release& r) = 0;
  virtual std::int64_t now_ticks() = 0;
};

// Carries out seed requests on the registry.
class SeedIntake {
 public:
  // The publisher's files are taken in with `hashing_threads` readers.
  SeedIntake(ReleaseRegistry& registry, SeedIntakeHost& host, const Store& store,
             unsigned hashing_threads)
      : registry_(registry), host_(host), store_(store), hashing_threads_(hashing_threads) {}

  // Records the release `verifying` (Intake::preparing) and persists it; its torrents are then
  // fetched, the publisher's files taken in on the hashing pool and adopted, and the release
  // added to the session as a seed. A failure of any step fails the release (kept, with the
  // error naming the file, until it is seeded again or removed) and seeds nothing. Errors now:
  // unavailable (shutting down, still loading), not_found (feed, target, directory),
  // already_exists (being fetched), and the resolver's.
  Result<Release*> seed(const SeedRequest& request);
  // The paths of the files the seed's release lists (in manifest order), which the caller
  // checks before it asks to seed. Errors: those of seed() before it records anything.
  Result<std::vector<std::string>> paths(const SeedRequest& request);

 private:
  struct Target {
    FeedState feed;
    ReleaseManifest manifest;
    std::string bytes;  // the manifest as published
  };
  // The request's feed, trusted release target and its verified manifest.
  Result<Target> target(const SeedRequest& request);
  void torrents_here(const std::string& id, std::uint64_t gen, const std::filesystem::path& dir,
                     Status got);
  void files_taken(const std::string& id, std::uint64_t gen, Status taken);
  void failed(Release& r, const Error& e);

  ReleaseRegistry& registry_;
  SeedIntakeHost& host_;
  const Store& store_;
  unsigned hashing_threads_;
};

}  // namespace weights::daemon
