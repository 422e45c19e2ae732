#include "core/db/state_db.hpp"

#include <cerrno>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

namespace weights::db {

namespace {

// Append only; never edit or renumber a shipped one. 1-3 are the trust tables (StateStore),
// 4-5 the release tables (daemon::ReleaseDb): numbered as they were before the single table,
// so a legacy database maps onto them one to one.
constexpr Migration migrations[] = {
    {1, "trust tables", R"sql(
CREATE TABLE feeds (
  name TEXT PRIMARY KEY NOT NULL,
  location TEXT NOT NULL,
  added_at INTEGER NOT NULL
) STRICT;
CREATE TABLE trusted_metadata (
  feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('root', 'timestamp', 'snapshot', 'targets')),
  version INTEGER NOT NULL CHECK (version >= 1),
  bytes BLOB NOT NULL,
  expires INTEGER NOT NULL,
  PRIMARY KEY (feed, role)
) STRICT;
CREATE TABLE trusted_targets (
  feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
  path TEXT NOT NULL,
  length INTEGER NOT NULL CHECK (length >= 0),
  sha256 TEXT NOT NULL,
  kind TEXT NOT NULL,
  model TEXT NOT NULL,
  revision TEXT NOT NULL,
  release_seq INTEGER NOT NULL CHECK (release_seq >= 0),
  PRIMARY KEY (feed, path)
) STRICT;
CREATE INDEX trusted_targets_by_model ON trusted_targets (feed, model);
CREATE TABLE model_release_seq (
  feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
  model TEXT NOT NULL,
  max_seq INTEGER NOT NULL CHECK (max_seq >= 0),
  PRIMARY KEY (feed, model)
) STRICT;
CREATE TABLE refresh_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
  time INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('updated', 'up_to_date', 'refused')),
  error_code TEXT NOT NULL,
  message TEXT NOT NULL
) STRICT;
CREATE INDEX refresh_log_by_feed ON refresh_log (feed, id);
)sql"},
    // Further locations of a feed, tried in position order after feeds.location.
    {2, "feed mirrors", R"sql(
CREATE TABLE feed_mirrors (
  feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
  position INTEGER NOT NULL CHECK (position >= 1),
  location TEXT NOT NULL,
  PRIMARY KEY (feed, position)
) STRICT;
)sql"},
    // A role's version and expiry before its (possibly multi-megabyte) bytes, so reading them
    // does not walk the blob's overflow pages; release counts from an index.
    {3, "role bytes last", R"sql(
CREATE TABLE trusted_metadata_v3 (
  feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('root', 'timestamp', 'snapshot', 'targets')),
  version INTEGER NOT NULL CHECK (version >= 1),
  expires INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  PRIMARY KEY (feed, role)
) STRICT;
INSERT INTO trusted_metadata_v3 (feed, role, version, expires, bytes)
  SELECT feed, role, version, expires, bytes FROM trusted_metadata;
DROP TABLE trusted_metadata;
ALTER TABLE trusted_metadata_v3 RENAME TO trusted_metadata;
CREATE INDEX trusted_targets_by_kind ON trusted_targets (feed, kind);
)sql"},
    {4, "releases and manifest cache", R"sql(
CREATE TABLE releases (
  id TEXT PRIMARY KEY NOT NULL,
  feed TEXT NOT NULL,
  model TEXT NOT NULL,
  revision TEXT NOT NULL,
  release_seq INTEGER NOT NULL,
  v2_infohash TEXT NOT NULL,
  manifest BLOB NOT NULL,
  origin TEXT NOT NULL CHECK (origin IN ('fetched', 'seeded')),
  include_json TEXT NOT NULL,
  peers_json TEXT NOT NULL,
  verified_json TEXT NOT NULL,
  pinned INTEGER NOT NULL,
  state TEXT NOT NULL,
  error_code TEXT NOT NULL,
  error_message TEXT NOT NULL,
  error_hint TEXT NOT NULL,
  view_path TEXT NOT NULL,
  added_at INTEGER NOT NULL
);
CREATE TABLE manifest_cache (
  sha256 TEXT PRIMARY KEY NOT NULL,
  bytes BLOB NOT NULL
);
)sql"},
    // LRU and scrub times of a release; follow policies.
    {5, "release times and follows", R"sql(
ALTER TABLE releases ADD COLUMN last_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE releases ADD COLUMN last_scrubbed INTEGER NOT NULL DEFAULT 0;
CREATE TABLE follows (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  feed TEXT NOT NULL,
  model_glob TEXT NOT NULL,
  alias TEXT NOT NULL,
  latest INTEGER NOT NULL CHECK (latest >= 0),
  max_size INTEGER NOT NULL CHECK (max_size >= 0),
  created_at INTEGER NOT NULL
);
)sql"},
    // Delegated targets roles (hashed bins): which role listed each trusted target, and the
    // verified metadata of every delegated role, so an unchanged one is neither fetched nor
    // verified again.
    {6, "delegated targets roles", R"sql(
ALTER TABLE trusted_targets ADD COLUMN role TEXT NOT NULL DEFAULT 'targets';
CREATE TABLE trusted_delegated (
  feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
  role TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version >= 1),
  length INTEGER NOT NULL CHECK (length >= 0),
  sha256 TEXT NOT NULL,
  expires INTEGER NOT NULL,
  delegates INTEGER NOT NULL CHECK (delegates IN (0, 1)),
  bytes BLOB NOT NULL,
  PRIMARY KEY (feed, role)
) STRICT;
)sql"},
    // Releases pinned by an upstream commit (daemon/engine/pinned_fetch.hpp): origin
    // 'upstream'. SQLite cannot change a CHECK constraint in place: the table is rebuilt.
    {7, "upstream origin", R"sql(
CREATE TABLE releases_v7 (
  id TEXT PRIMARY KEY NOT NULL,
  feed TEXT NOT NULL,
  model TEXT NOT NULL,
  revision TEXT NOT NULL,
  release_seq INTEGER NOT NULL,
  v2_infohash TEXT NOT NULL,
  manifest BLOB NOT NULL,
  origin TEXT NOT NULL CHECK (origin IN ('fetched', 'seeded', 'upstream')),
  include_json TEXT NOT NULL,
  peers_json TEXT NOT NULL,
  verified_json TEXT NOT NULL,
  pinned INTEGER NOT NULL,
  state TEXT NOT NULL,
  error_code TEXT NOT NULL,
  error_message TEXT NOT NULL,
  error_hint TEXT NOT NULL,
  view_path TEXT NOT NULL,
  added_at INTEGER NOT NULL,
  last_requested INTEGER NOT NULL DEFAULT 0,
  last_scrubbed INTEGER NOT NULL DEFAULT 0
);
INSERT INTO releases_v7 SELECT id, feed, model, revision, release_seq, v2_infohash, manifest,
  origin, include_json, peers_json, verified_json, pinned, state, error_code, error_message,
  error_hint, view_path, added_at, last_requested, last_scrubbed FROM releases;
DROP TABLE releases;
ALTER TABLE releases_v7 RENAME TO releases;
)sql"},
    // What the hub last answered for a held release's upstream commit
    // (daemon/engine/upstream_watch.hpp). No foreign key: a release row is replaced whole
    // (INSERT OR REPLACE), which must not take its status with it.
    {8, "upstream status", R"sql(
CREATE TABLE upstream_status (
  release_id TEXT PRIMARY KEY NOT NULL,
  answer TEXT NOT NULL CHECK (answer IN ('', 'serving', 'refused')),
  http_status INTEGER NOT NULL,
  error_code TEXT NOT NULL,
  answer_since INTEGER NOT NULL,
  answer_checked INTEGER NOT NULL,
  unreachable_since INTEGER NOT NULL,
  error TEXT NOT NULL,
  checked INTEGER NOT NULL
) STRICT;
)sql"},
    // The user's acceptance of a licence (or a gated repository's terms) for an upstream
    // repository (core/upstream/license_terms.hpp): asked once per repository and licence id.
    // Local only: nothing of it is sent anywhere.
    {9, "licence acceptances", R"sql(
CREATE TABLE license_acceptances (
  upstream TEXT NOT NULL,
  repo TEXT NOT NULL,
  license TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  PRIMARY KEY (upstream, repo, license)
) STRICT;
)sql"},
    // Follows of the model catalog (daemon/engine/catalog_follow.hpp) beside follows of a feed,
    // and whether a follow accepts the licences of what it mirrors. Existing follows are of feeds
    // (even of a feed named "catalog", which the name now reserves for new feeds and follows).
    {10, "catalog follows", R"sql(
ALTER TABLE follows ADD COLUMN source TEXT NOT NULL DEFAULT 'feed'
  CHECK (source IN ('feed', 'catalog'));
ALTER TABLE follows ADD COLUMN accept_license INTEGER NOT NULL DEFAULT 0
  CHECK (accept_license IN (0, 1));
)sql"},
};

static_assert(std::size(migrations) == state_schema_version);

// Before the single table: the trust tables were at PRAGMA user_version 0..3 and the release
// tables at `daemon_schema.version` 0..2 (the table absent when weightsd never ran).
constexpr int legacy_trust_versions = 3;
constexpr int legacy_release_versions = 2;
constexpr int first_release_migration = 4;

Result<std::vector<int>> adopt_legacy(Connection& db) {
  auto trust = db.query_int64("PRAGMA user_version");
  if (!trust) return tl::unexpected(trust.error());
  std::int64_t release = 0;
  auto has_daemon_schema = db.table_exists("daemon_schema");
  if (!has_daemon_schema) return tl::unexpected(has_daemon_schema.error());
  if (*has_daemon_schema) {
    auto v = db.query_int64("SELECT max(version) FROM daemon_schema");
    if (!v) return tl::unexpected(v.error());
    release = *v;
  }
  if (*trust < 0 || *trust > legacy_trust_versions || release < 0 ||
      release > legacy_release_versions) {
    return fail(Errc::unsupported,
                fmt::format("state database schema {} (release tables {}) is newer than this "
                            "build supports ({})",
                            *trust, release, std::size(migrations)),
                "upgrade weightsd");
  }
  std::vector<int> have;
  for (int v = 1; v <= *trust; ++v) have.push_back(v);
  for (int v = 1; v <= release; ++v) have.push_back(first_release_migration - 1 + v);
  if (*has_daemon_schema) {
    if (auto ok = db.exec("DROP TABLE daemon_schema"); !ok) return tl::unexpected(ok.error());
  }
  return have;
}

Result<int> take_lock(const std::filesystem::path& dir) {
  const auto path = dir / "lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    return fail(Errc::io_error, fmt::format("{}: {}", path.string(), std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      return fail(Errc::io_error, fmt::format("state dir {} in use by pid {}", dir.string(), pid),
                  "stop the other weightsd/weightsctl or use a different --state-dir");
    }
    return fail(Errc::io_error, fmt::format("{}: flock: {}", path.string(), std::strerror(err)));
  }
  const std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    const int err = errno;
    ::close(fd);
    return fail(Errc::io_error, fmt::format("{}: {}", path.string(), std::strerror(err)));
  }
  return fd;
}

}  // namespace

std::span<const Migration> state_migrations() {
  return migrations;
}

Schema state_schema() {
  return Schema{migrations, adopt_legacy};
}

StateDb::LockFile::~LockFile() {
  if (fd >= 0) ::close(fd);  // releases the flock
}

Result<std::shared_ptr<StateDb>> StateDb::open(const std::filesystem::path& state_dir, Lock lock) {
  return open(state_dir, lock, state_schema());
}

Result<std::shared_ptr<StateDb>> StateDb::open(const std::filesystem::path& state_dir,
                                               Lock lock_mode, const Schema& schema) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) {
    return fail(Errc::io_error, fmt::format("state dir {}: {}", state_dir.string(), ec.message()));
  }
  int lock_fd = -1;
  if (lock_mode == Lock::take) {
    auto lock = take_lock(state_dir);
    if (!lock) return tl::unexpected(lock.error());
    lock_fd = *lock;
  }
  auto conn = Connection::open(state_dir / "state.sqlite");
  if (!conn) {
    if (lock_fd >= 0) ::close(lock_fd);
    return tl::unexpected(conn.error());
  }
  std::shared_ptr<StateDb> db(new StateDb(lock_fd, std::move(*conn)));
  // synchronous=FULL: a committed refresh or release must survive power loss, not only a
  // crash. mmap_size: a large feed's targets metadata is a multi-megabyte blob stored in
  // overflow pages, and every read of a column after it walks that chain; through a mapping
  // that is memory reads, not one pread() per 4 KiB page. Address space only: pages stay in
  // the page cache, and writes still go through the WAL.
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                             "PRAGMA foreign_keys = ON", "PRAGMA mmap_size = 268435456"}) {
    if (auto ok = db->conn_.exec(pragma); !ok) return tl::unexpected(ok.error());
  }
  if (auto ok = migrate(db->conn_, schema); !ok) return tl::unexpected(ok.error());
  return db;
}

Result<int> StateDb::schema_version() {
  auto v = conn_.query_int64("PRAGMA user_version");
  if (!v) return tl::unexpected(v.error());
  return static_cast<int>(*v);
}

}  // namespace weights::db
