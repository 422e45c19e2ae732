#pragma once
// Seeding a publisher's release (POST /v1/seed) as plain steps: which trusted target it is, what
// a seed does to a release already known, the record it creates, then — once its torrents are
// here — the publisher's files taken into staging on the hashing pool (every byte checked
// against the manifest; nothing is seeded otherwise) and, back on the io thread, adopted into
// the store. The engine sequences the steps (resolver, pool, session add); nothing here touches
// the session or the database.
#include <cstdint>
#include <filesystem>
#include <string>

#include "core/db/state_store.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/trust/tuf_metadata.hpp"
#include "core/util/error.hpp"
#include "daemon/engine.hpp"
#include "daemon/engine/release.hpp"
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

}  // namespace weights::daemon
