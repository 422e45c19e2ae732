#pragma once
// The verifier: SHA-256 checks of a release's files on the hashing pool, the throttled scrub
// of stored files, and quarantine of damaged ones. It never touches a release: it is told which
// file to check (a key, a path and what the manifest says) and reports what it found as events
// on the io_context thread; the engine decides what a mismatch means for the release.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/util/error.hpp"
#include "daemon/engine/work_pool.hpp"

namespace weights::daemon {

class Store;

// Which file of which release (generation: a removed and re-added release is another one).
struct FileKey {
  std::string release;
  std::uint64_t generation = 0;
  std::size_t index = 0;
};

struct ExpectedFile {
  std::uint64_t length = 0;
  std::string sha256;  // hex
};

// Why a file is checked (the engine's reaction differs; the check does not).
enum class CheckPurpose {
  downloaded,        // libtorrent finished it: staging copy, first check
  reverify_store,    // verify: the store's copy
  reverify_staging,  // final pass after a two-source download: the staging copy
  scrub,             // the throttled scrub of the store's copy
};

enum class CheckOutcome { match, mismatch, unreadable };

struct FileChecked {
  FileKey key;
  CheckPurpose purpose = CheckPurpose::downloaded;
  CheckOutcome outcome = CheckOutcome::unreadable;
  std::uint64_t length = 0;    // as read (match, mismatch)
  std::string sha256;          // as read (match, mismatch)
  std::optional<Error> error;  // unreadable

  // "SHA-256 <hex> (length <n>)", or the error's message.
  std::string found() const;
};

struct ScrubFinished {
  std::string release;
  std::uint64_t generation = 0;
  int mismatches = 0;
};

// What the scrub asks the coordinator, one file at a time (so a file unverified or a release
// removed meanwhile is skipped).
// The scrub's running totals since start (ReleaseChecks counts them, for /metrics).
struct ScrubTotals {
  std::uint64_t files = 0;       // files hashed
  std::uint64_t bytes = 0;       // bytes read (an unreadable file counts none)
  std::uint64_t mismatches = 0;  // damaged or unreadable files
  std::uint64_t passes = 0;      // releases scrubbed to the end
  std::int64_t last_pass = 0;    // WallClock ticks when the last pass ended, 0 = none yet
};

struct ScrubSource {
  // The release's generation if it is to be scrubbed now (complete), else nothing (skipped).
  std::function<std::optional<std::uint64_t>(const std::string& id)> start;
  struct Next {
    enum class Kind { file, done, gone } kind = Kind::gone;
    std::size_t index = 0;
    std::filesystem::path path;
    ExpectedFile expected;
  };
  // The first file to scrub at or after `from`; done when there is none; gone when the release
  // (this generation) no longer exists.
  std::function<Next(const std::string& id, std::uint64_t generation, std::size_t from)> next;
};

struct VerifierEvents {
  std::function<void(const FileChecked&)> checked;
  std::function<void(const ScrubFinished&)> scrub_finished;
};

class Verifier {
 public:
  // scrub_rate: bytes/s the scrub reads at most (it must not starve seeding).
  Verifier(WorkPool& pool, VerifierEvents events, ScrubSource source, std::uint64_t scrub_rate);

  // Hashes `path` on the pool and reports FileChecked. A link is not followed but reported as
  // unreadable (damage to replace).
  void check(FileKey key, std::filesystem::path path, ExpectedFile expected, CheckPurpose purpose);

  // Queues a release for scrubbing (once); releases are scrubbed one at a time, file by file.
  void queue_scrub(const std::string& id);
  // No scrub running or queued.
  bool scrub_idle() const { return !scrub_running_ && scrub_queue_.empty(); }
  // Shutdown: no further scrub step starts.
  void stop() { stopped_ = true; }

 private:
  void run_scrub();
  void scrub_file(const std::string& id, std::uint64_t generation, std::size_t from,
                  int mismatches);

  WorkPool& pool_;
  VerifierEvents events_;
  ScrubSource source_;
  std::uint64_t scrub_rate_;
  std::vector<std::string> scrub_queue_;
  bool scrub_running_ = false;
  bool stopped_ = false;
};

// Hashes a staging or store file of the daemon's: (length, hex SHA-256). A link is not
// followed but reported as an error.
Result<std::pair<std::uint64_t, std::string>> sha256_stored(const std::filesystem::path& path);
// The same, read at most at `rate` bytes/s.
Result<std::pair<std::uint64_t, std::string>> sha256_stored_throttled(
    const std::filesystem::path& path, std::uint64_t rate);

// Takes a damaged file out of the store: one copy of its bytes is kept in `quarantine_dir`
// (as <sha256>.<stamp>, read by descriptor from the store's own regular file; a link there is
// not followed and nothing is kept), the store entry goes, and the staging name `staged` is
// removed unless it is the daemon's own regular file (so that a re-download lands in a new file
// instead of being written through a link). The view is the caller's.
void quarantine_stored_file(const Store& store, const std::filesystem::path& quarantine_dir,
                            const std::string& sha256, const std::filesystem::path& staged,
                            std::int64_t stamp);

}  // namespace weights::daemon
