#pragma once
// <state_dir>/state.sqlite: the one database of a state dir, its one connection, and the one
// ordered list of migrations for every table in it (the trust tables of StateStore and the
// daemon's release tables of daemon::ReleaseDb). Guarded by an exclusive flock on
// <state_dir>/lock.
//
// The daemon opens it once and hands the same StateDb to StateStore and ReleaseDb; both run on
// the io_context thread. weightsctl's offline feed commands open it the same way through
// StateStore::open.
//
// A state.sqlite written before the single migrations table (trust tables versioned by
// PRAGMA user_version 1..3, release tables by a `daemon_schema` table 1..2) is adopted on open:
// its versions are recorded as migrations 1..3 and 4..5, `daemon_schema` is dropped and the
// migrations it lacks are applied, all in one transaction. Its data is not rewritten.
#include <filesystem>
#include <memory>
#include <span>

#include "core/db/sqlite.hpp"
#include "core/util/error.hpp"

namespace weights::db {

// The newest migration of state.sqlite.
inline constexpr int state_schema_version = 10;
// Every migration of state.sqlite, in order (append only).
std::span<const Migration> state_migrations();
// state_migrations() with the adoption of pre-table databases.
Schema state_schema();

class StateDb {
 public:
  // Who holds <state_dir>/lock: weightsd takes it itself for its whole lifetime (flock is per
  // open file, so a second flock from the same process would fail).
  enum class Lock { take, held_by_caller };

  // Creates state_dir if needed, takes the lock (Errc::io_error "state dir ... in use by pid N"
  // if another process holds it), opens state.sqlite (WAL, synchronous=FULL, foreign keys) and
  // migrates it to the newest schema.
  static Result<std::shared_ptr<StateDb>> open(const std::filesystem::path& state_dir,
                                               Lock lock = Lock::take);
  // The same over a schema of the caller's (tests of the upgrade path).
  static Result<std::shared_ptr<StateDb>> open(const std::filesystem::path& state_dir, Lock lock,
                                               const Schema& schema);

  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;
  ~StateDb() = default;

  Connection& connection() { return conn_; }
  const std::filesystem::path& database_path() const { return conn_.path(); }
  // The highest applied migration.
  Result<int> schema_version();

 private:
  // Closed after the connection (declared first): the lock outlives every write.
  struct LockFile {
    int fd = -1;
    explicit LockFile(int f) : fd(f) {}
    LockFile(const LockFile&) = delete;
    LockFile& operator=(const LockFile&) = delete;
    ~LockFile();
  };
  StateDb(int lock_fd, Connection conn) : lock_(lock_fd), conn_(std::move(conn)) {}
  LockFile lock_;
  Connection conn_;
};

}  // namespace weights::db
