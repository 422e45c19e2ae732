#include "core/state_store.hpp"

#include <cerrno>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

namespace weights {

namespace {

// ---- RAII wrappers ---------------------------------------------------------------------------

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

tl::unexpected<Error> db_error(sqlite3* db, std::string_view what) {
  return fail(Errc::database_error, fmt::format("{}: {}", what, sqlite3_errmsg(db)));
}

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  Status bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(s_.get(), i, v)); }
  Status bind(int i, std::uint64_t v) { return bind(i, static_cast<std::int64_t>(v)); }
  Status bind(int i, std::string_view text) {
    return check(sqlite3_bind_text(s_.get(), i, text.data(), static_cast<int>(text.size()),
                                   SQLITE_TRANSIENT));
  }
  Status bind_blob(int i, std::string_view bytes) {
    return check(sqlite3_bind_blob(s_.get(), i, bytes.data(), static_cast<int>(bytes.size()),
                                   SQLITE_TRANSIENT));
  }
  Status bind_null(int i) { return check(sqlite3_bind_null(s_.get(), i)); }
  // true: a row is available; false: done.
  Result<bool> step() {
    const int rc = sqlite3_step(s_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return db_error(db_, fmt::format("sqlite step \"{}\"", sql_prefix()));
  }
  Status run() {
    auto r = step();
    if (!r) return tl::unexpected(r.error());
    return {};
  }
  void reset() {
    sqlite3_reset(s_.get());
    sqlite3_clear_bindings(s_.get());
  }
  std::int64_t int64(int col) const { return sqlite3_column_int64(s_.get(), col); }
  std::uint64_t uint64(int col) const { return static_cast<std::uint64_t>(int64(col)); }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(s_.get(), col);
    const int n = sqlite3_column_bytes(s_.get(), col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
             : std::string();
  }
  std::string blob(int col) const {
    const void* p = sqlite3_column_blob(s_.get(), col);
    const int n = sqlite3_column_bytes(s_.get(), col);
    return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n))
             : std::string();
  }

 private:
  Status check(int rc) {
    if (rc != SQLITE_OK) return db_error(db_, "sqlite bind");
    return {};
  }
  std::string sql_prefix() const {
    const char* sql = sqlite3_sql(s_.get());
    return sql ? std::string(sql).substr(0, 40) : std::string();
  }
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> s_;
};

Result<Stmt> prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK) {
    return db_error(db, fmt::format("sqlite prepare \"{}\"", sql.substr(0, 40)));
  }
  return Stmt(db, s);
}

// A row of `SELECT <target_columns> FROM trusted_targets`.
constexpr std::string_view target_columns =
    "path, length, sha256, kind, model, revision, release_seq";
Result<tuf::TargetInfo> target_from_row(Stmt& stmt) {
  tuf::TargetInfo t;
  t.path = stmt.text(0);
  t.length = stmt.uint64(1);
  t.sha256 = stmt.text(2);
  auto kind = tuf::parse_kind(stmt.text(3));
  if (!kind) return tl::unexpected(kind.error());
  t.kind = *kind;
  t.model = stmt.text(4);
  t.revision = stmt.text(5);
  t.release_seq = stmt.uint64(6);
  return t;
}

Status exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string text = msg ? msg : sqlite3_errmsg(db);
    sqlite3_free(msg);
    return fail(Errc::database_error,
                fmt::format("sqlite \"{}\": {}", std::string_view(sql).substr(0, 40), text));
  }
  return {};
}

// An IMMEDIATE transaction (takes the write lock up front so it cannot fail half way on
// SQLITE_BUSY); rolled back unless commit() succeeds.
class Transaction {
 public:
  static Result<Transaction> begin(sqlite3* db) {
    if (auto ok = exec(db, "BEGIN IMMEDIATE"); !ok) return tl::unexpected(ok.error());
    return Transaction(db);
  }
  Transaction(Transaction&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction() {
    if (db_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Status commit() {
    auto ok = exec(db_, "COMMIT");
    if (ok) db_ = nullptr;
    return ok;
  }

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// ---- schema ----------------------------------------------------------------------------------

// migrations[i] takes the schema from version i to i + 1. Append only; never edit a shipped one.
constexpr const char* migrations[] = {
    R"sql(
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
)sql",
    // 2: further locations of a feed, tried in position order after feeds.location.
    R"sql(
CREATE TABLE feed_mirrors (
  feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
  position INTEGER NOT NULL CHECK (position >= 1),
  location TEXT NOT NULL,
  PRIMARY KEY (feed, position)
) STRICT;
)sql",
    // 3: a role's version and expiry before its (possibly multi-megabyte) bytes, so reading
    // them does not walk the blob's overflow pages; release counts from an index.
    R"sql(
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
)sql",
};
static_assert(std::size(migrations) == StateStore::schema_version);

std::int64_t to_unix(TimePoint t) {
  return t.time_since_epoch().count();
}
TimePoint from_unix(std::int64_t s) {
  return TimePoint(std::chrono::seconds(s));
}

constexpr tuf::Role stored_roles[] = {tuf::Role::root, tuf::Role::timestamp, tuf::Role::snapshot,
                                      tuf::Role::targets};

}  // namespace

// ---- lock ------------------------------------------------------------------------------------

struct StateStore::Handles {
  int lock_fd = -1;
  DbPtr db;
  ~Handles() {
    db.reset();
    if (lock_fd >= 0) ::close(lock_fd);  // releases the flock
  }
};

namespace {

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

Status migrate(sqlite3* db) {
  auto stmt = prepare(db, "PRAGMA user_version");
  if (!stmt) return tl::unexpected(stmt.error());
  auto row = stmt->step();
  if (!row) return tl::unexpected(row.error());
  const auto current = stmt->int64(0);
  stmt->reset();  // no statement may be active while a migration drops a table
  if (current > StateStore::schema_version) {
    return fail(Errc::unsupported,
                fmt::format("state database schema {} is newer than this build supports ({})",
                            current, StateStore::schema_version),
                "upgrade weightsd");
  }
  for (auto v = current; v < StateStore::schema_version; ++v) {
    auto txn = Transaction::begin(db);
    if (!txn) return tl::unexpected(txn.error());
    if (auto ok = exec(db, migrations[v]); !ok) {
      return tl::unexpected(with_context(ok.error(), fmt::format("migration {}", v + 1)));
    }
    const std::string set = fmt::format("PRAGMA user_version = {}", v + 1);
    if (auto ok = exec(db, set.c_str()); !ok) return ok;
    if (auto ok = txn->commit(); !ok) return ok;
  }
  return {};
}

}  // namespace

std::string_view refresh_result_name(RefreshResult r) {
  switch (r) {
    case RefreshResult::updated:
      return "updated";
    case RefreshResult::up_to_date:
      return "up_to_date";
    case RefreshResult::refused:
      return "refused";
  }
  return "refused";
}

StateStore::StateStore(std::unique_ptr<Handles> handles, std::filesystem::path db_path)
    : h_(std::move(handles)), db_path_(std::move(db_path)) {}
StateStore::StateStore(StateStore&&) noexcept = default;
StateStore& StateStore::operator=(StateStore&&) noexcept = default;
StateStore::~StateStore() = default;

Result<StateStore> StateStore::open(const std::filesystem::path& state_dir, Lock lock_mode) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) {
    return fail(Errc::io_error, fmt::format("state dir {}: {}", state_dir.string(), ec.message()));
  }
  auto handles = std::make_unique<Handles>();
  if (lock_mode == Lock::take) {
    auto lock = take_lock(state_dir);
    if (!lock) return tl::unexpected(lock.error());
    handles->lock_fd = *lock;
  }

  const auto db_path = state_dir / "state.sqlite";
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(
      db_path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
      nullptr);
  handles->db.reset(raw);
  if (rc != SQLITE_OK) {
    return fail(Errc::database_error, fmt::format("{}: {}", db_path.string(),
                                                  raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3* db = handles->db.get();
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  // synchronous=FULL: a committed refresh must survive power loss, not only a crash.
  // mmap_size: a large feed's targets metadata is a multi-megabyte blob stored in overflow
  // pages, and every read of a column after it walks that chain; through a mapping that is
  // memory reads, not one pread() per 4 KiB page. Address space only: pages stay in the page
  // cache, and writes still go through the WAL.
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                             "PRAGMA foreign_keys = ON", "PRAGMA mmap_size = 268435456"}) {
    if (auto ok = exec(db, pragma); !ok) return tl::unexpected(ok.error());
  }
  if (auto ok = migrate(db); !ok) return tl::unexpected(ok.error());
  return StateStore(std::move(handles), db_path);
}

Result<int> StateStore::user_version() {
  auto stmt = prepare(h_->db.get(), "PRAGMA user_version");
  if (!stmt) return tl::unexpected(stmt.error());
  auto row = stmt->step();
  if (!row) return tl::unexpected(row.error());
  return static_cast<int>(stmt->int64(0));
}

namespace {

Status put_role(sqlite3* db, std::string_view feed, tuf::Role role, const TrustedRole& r) {
  auto stmt = prepare(db,
                      "INSERT OR REPLACE INTO trusted_metadata (feed, role, version, bytes, "
                      "expires) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!stmt) return tl::unexpected(stmt.error());
  for (auto ok :
       {stmt->bind(1, feed), stmt->bind(2, tuf::role_name(role)), stmt->bind(3, r.version),
        stmt->bind_blob(4, r.bytes), stmt->bind(5, to_unix(r.expires))}) {
    if (!ok) return ok;
  }
  return stmt->run();
}

Status delete_role(sqlite3* db, std::string_view feed, tuf::Role role) {
  auto stmt = prepare(db, "DELETE FROM trusted_metadata WHERE feed = ?1 AND role = ?2");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind(1, feed); !ok) return ok;
  if (auto ok = stmt->bind(2, tuf::role_name(role)); !ok) return ok;
  return stmt->run();
}

Status insert_log(sqlite3* db, std::string_view feed, const RefreshLogEntry& e) {
  auto stmt = prepare(db,
                      "INSERT INTO refresh_log (feed, time, outcome, error_code, message) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!stmt) return tl::unexpected(stmt.error());
  for (auto ok :
       {stmt->bind(1, feed), stmt->bind(2, to_unix(e.time)),
        stmt->bind(3, refresh_result_name(e.result)), stmt->bind(4, std::string_view(e.error_code)),
        stmt->bind(5, std::string_view(e.message))}) {
    if (!ok) return ok;
  }
  if (auto ok = stmt->run(); !ok) return ok;
  auto prune = prepare(db,
                       "DELETE FROM refresh_log WHERE feed = ?1 AND id NOT IN (SELECT id FROM "
                       "refresh_log WHERE feed = ?1 ORDER BY id DESC LIMIT ?2)");
  if (!prune) return tl::unexpected(prune.error());
  if (auto ok = prune->bind(1, feed); !ok) return ok;
  if (auto ok = prune->bind(2, std::int64_t{StateStore::log_entries_kept}); !ok) return ok;
  return prune->run();
}

Result<bool> feed_exists(sqlite3* db, std::string_view feed) {
  auto stmt = prepare(db, "SELECT 1 FROM feeds WHERE name = ?1");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind(1, feed); !ok) return tl::unexpected(ok.error());
  return stmt->step();
}

tl::unexpected<Error> no_feed(std::string_view feed) {
  return fail(Errc::not_found, fmt::format("feed \"{}\" is not configured", feed),
              "list feeds with `weightsctl feed list`");
}

Result<std::optional<RefreshLogEntry>> last_log(sqlite3* db, std::string_view feed,
                                                const char* where) {
  const std::string sql = fmt::format(
      "SELECT time, outcome, error_code, message FROM refresh_log WHERE feed = ?1 AND {} "
      "ORDER BY id DESC LIMIT 1",
      where);
  auto stmt = prepare(db, sql);
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind(1, feed); !ok) return tl::unexpected(ok.error());
  auto row = stmt->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::optional<RefreshLogEntry>();
  RefreshLogEntry e;
  e.time = from_unix(stmt->int64(0));
  const auto outcome = stmt->text(1);
  e.result = outcome == "updated"      ? RefreshResult::updated
             : outcome == "up_to_date" ? RefreshResult::up_to_date
                                       : RefreshResult::refused;
  e.error_code = stmt->text(2);
  e.message = stmt->text(3);
  return std::optional<RefreshLogEntry>(std::move(e));
}

}  // namespace

Status StateStore::add_feed(std::string_view name, std::string_view location,
                            const TrustedRole& root, TimePoint now,
                            const std::vector<std::string>& mirrors) {
  sqlite3* db = h_->db.get();
  auto txn = Transaction::begin(db);
  if (!txn) return tl::unexpected(txn.error());
  auto exists = feed_exists(db, name);
  if (!exists) return tl::unexpected(exists.error());
  if (*exists) {
    return fail(Errc::already_exists, fmt::format("feed \"{}\" already exists", name));
  }
  auto stmt = prepare(db, "INSERT INTO feeds (name, location, added_at) VALUES (?1, ?2, ?3)");
  if (!stmt) return tl::unexpected(stmt.error());
  for (auto ok : {stmt->bind(1, name), stmt->bind(2, location), stmt->bind(3, to_unix(now))}) {
    if (!ok) return ok;
  }
  if (auto ok = stmt->run(); !ok) return ok;
  std::int64_t position = 0;
  for (const auto& m : mirrors) {
    auto ins =
        prepare(db, "INSERT INTO feed_mirrors (feed, position, location) VALUES (?1, ?2, ?3)");
    if (!ins) return tl::unexpected(ins.error());
    for (auto ok :
         {ins->bind(1, name), ins->bind(2, ++position), ins->bind(3, std::string_view(m))}) {
      if (!ok) return ok;
    }
    if (auto ok = ins->run(); !ok) return ok;
  }
  if (auto ok = put_role(db, name, tuf::Role::root, root); !ok) return ok;
  return txn->commit();
}

Status StateStore::remove_feed(std::string_view name) {
  sqlite3* db = h_->db.get();
  auto txn = Transaction::begin(db);
  if (!txn) return tl::unexpected(txn.error());
  auto exists = feed_exists(db, name);
  if (!exists) return tl::unexpected(exists.error());
  if (!*exists) return no_feed(name);
  auto stmt = prepare(db, "DELETE FROM feeds WHERE name = ?1");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind(1, name); !ok) return ok;
  if (auto ok = stmt->run(); !ok) return ok;
  return txn->commit();
}

Result<std::vector<std::string>> StateStore::list_feeds() {
  auto stmt = prepare(h_->db.get(), "SELECT name FROM feeds ORDER BY name");
  if (!stmt) return tl::unexpected(stmt.error());
  std::vector<std::string> names;
  while (true) {
    auto row = stmt->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    names.push_back(stmt->text(0));
  }
  return names;
}

Result<std::size_t> StateStore::count_targets(std::string_view name, tuf::TargetKind kind) {
  auto stmt =
      prepare(h_->db.get(), "SELECT count(*) FROM trusted_targets WHERE feed = ?1 AND kind = ?2");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind(1, name); !ok) return tl::unexpected(ok.error());
  if (auto ok = stmt->bind(2, tuf::kind_name(kind)); !ok) return tl::unexpected(ok.error());
  auto row = stmt->step();
  if (!row) return tl::unexpected(row.error());
  return static_cast<std::size_t>(stmt->uint64(0));
}

Result<FeedState> StateStore::load_feed(std::string_view name, FeedDetail detail) {
  sqlite3* db = h_->db.get();
  // One read transaction so the four queries see the same commit.
  if (auto ok = exec(db, "BEGIN"); !ok) return tl::unexpected(ok.error());
  struct EndRead {
    sqlite3* db;
    ~EndRead() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
  } end_read{db};

  FeedState state;
  state.name = std::string(name);
  {
    auto stmt = prepare(db, "SELECT location FROM feeds WHERE name = ?1");
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, name); !ok) return tl::unexpected(ok.error());
    auto row = stmt->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return no_feed(name);
    state.location = stmt->text(0);
  }
  {
    auto stmt = prepare(db, "SELECT location FROM feed_mirrors WHERE feed = ?1 ORDER BY position");
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, name); !ok) return tl::unexpected(ok.error());
    while (true) {
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      state.mirrors.push_back(stmt->text(0));
    }
  }
  {
    auto stmt = prepare(db, detail == FeedDetail::full
                                ? "SELECT role, version, bytes, expires FROM trusted_metadata "
                                  "WHERE feed = ?1"
                                : "SELECT role, version, x'', expires FROM trusted_metadata "
                                  "WHERE feed = ?1");
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, name); !ok) return tl::unexpected(ok.error());
    bool have_root = false;
    while (true) {
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      TrustedRole r{stmt->uint64(1), stmt->blob(2), from_unix(stmt->int64(3))};
      const auto role = stmt->text(0);
      if (role == "root") {
        state.root = std::move(r);
        have_root = true;
      } else if (role == "timestamp") {
        state.timestamp = std::move(r);
      } else if (role == "snapshot") {
        state.snapshot = std::move(r);
      } else if (role == "targets") {
        state.targets = std::move(r);
      }
    }
    if (!have_root) {
      return fail(Errc::database_error, fmt::format("feed \"{}\" has no trusted root", name));
    }
  }
  if (detail == FeedDetail::full) {
    auto stmt =
        prepare(db, fmt::format("SELECT {} FROM trusted_targets WHERE feed = ?1 ORDER BY path",
                                target_columns));
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, name); !ok) return tl::unexpected(ok.error());
    while (true) {
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      auto t = target_from_row(*stmt);
      if (!t) {
        return fail(Errc::database_error,
                    fmt::format("feed \"{}\": stored target has {}", name, t.error().message));
      }
      state.trusted_targets.push_back(std::move(*t));
    }
  }
  if (detail == FeedDetail::full) {
    auto stmt = prepare(db, "SELECT model, max_seq FROM model_release_seq WHERE feed = ?1");
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, name); !ok) return tl::unexpected(ok.error());
    while (true) {
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      state.release_seq[stmt->text(0)] = stmt->uint64(1);
    }
  }
  return state;
}

Status StateStore::commit_refresh(std::string_view feed, const TrustedUpdate& update,
                                  TimePoint now) {
  sqlite3* db = h_->db.get();
  auto txn = Transaction::begin(db);
  if (!txn) return tl::unexpected(txn.error());
  auto exists = feed_exists(db, feed);
  if (!exists) return tl::unexpected(exists.error());
  if (!*exists) return no_feed(feed);

  for (tuf::Role role : stored_roles) {
    const std::optional<TrustedRole>* opt = nullptr;
    switch (role) {
      case tuf::Role::root:
        break;
      case tuf::Role::timestamp:
        opt = &update.timestamp;
        break;
      case tuf::Role::snapshot:
        opt = &update.snapshot;
        break;
      case tuf::Role::targets:
        opt = &update.targets;
        break;
    }
    Status ok = opt == nullptr     ? put_role(db, feed, role, update.root)
                : opt->has_value() ? put_role(db, feed, role, **opt)
                                   : delete_role(db, feed, role);
    if (!ok) return ok;
  }

  // Only what changed is written: a new targets version of a large feed usually adds or
  // changes a few entries, and rewriting every row (and every model's release_seq) would make
  // each commit O(feed size) in pages written and fsynced.
  std::map<std::string, tuf::TargetInfo> old_targets;
  {
    auto stmt =
        prepare(db, fmt::format("SELECT {} FROM trusted_targets WHERE feed = ?1", target_columns));
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, feed); !ok) return ok;
    while (true) {
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      // An unreadable kind compares unequal to every valid one: the row is rewritten.
      auto t = target_from_row(*stmt);
      if (!t) continue;
      std::string path = t->path;
      old_targets.emplace(std::move(path), std::move(*t));
    }
  }
  {
    auto ins = prepare(db,
                       "INSERT OR REPLACE INTO trusted_targets (feed, path, length, sha256, kind, "
                       "model, revision, release_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!ins) return tl::unexpected(ins.error());
    for (const auto& t : update.trusted_targets) {
      if (auto old = old_targets.find(t.path); old != old_targets.end()) {
        const bool same = old->second == t;
        old_targets.erase(old);
        if (same) continue;
      }
      ins->reset();
      for (auto ok : {ins->bind(1, feed), ins->bind(2, std::string_view(t.path)),
                      ins->bind(3, t.length), ins->bind(4, std::string_view(t.sha256)),
                      ins->bind(5, tuf::kind_name(t.kind)), ins->bind(6, std::string_view(t.model)),
                      ins->bind(7, std::string_view(t.revision)), ins->bind(8, t.release_seq)}) {
        if (!ok) return ok;
      }
      if (auto ok = ins->run(); !ok) return ok;
    }
    // Rows still in old_targets are gone from the new targets (or were unreadable).
    auto del = prepare(db, "DELETE FROM trusted_targets WHERE feed = ?1 AND path = ?2");
    if (!del) return tl::unexpected(del.error());
    for (const auto& [path, t] : old_targets) {
      del->reset();
      if (auto ok = del->bind(1, feed); !ok) return ok;
      if (auto ok = del->bind(2, std::string_view(path)); !ok) return ok;
      if (auto ok = del->run(); !ok) return ok;
    }
  }
  {
    std::map<std::string, std::uint64_t> old_max;
    auto stmt = prepare(db, "SELECT model, max_seq FROM model_release_seq WHERE feed = ?1");
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, feed); !ok) return ok;
    while (true) {
      auto row = stmt->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      old_max.emplace(stmt->text(0), stmt->uint64(1));
    }
    // max() keeps the highest sequence ever trusted even if a caller passes a lower one.
    auto up = prepare(db,
                      "INSERT INTO model_release_seq (feed, model, max_seq) VALUES (?1, ?2, ?3) "
                      "ON CONFLICT (feed, model) DO UPDATE SET max_seq = max(max_seq, "
                      "excluded.max_seq)");
    if (!up) return tl::unexpected(up.error());
    for (const auto& [model, seq] : update.release_seq) {
      if (auto old = old_max.find(model); old != old_max.end() && old->second >= seq) continue;
      up->reset();
      for (auto ok : {up->bind(1, feed), up->bind(2, std::string_view(model)), up->bind(3, seq)}) {
        if (!ok) return ok;
      }
      if (auto ok = up->run(); !ok) return ok;
    }
  }
  RefreshLogEntry entry{now, RefreshResult::updated, "",
                        fmt::format("root v{}, timestamp v{}", update.root.version,
                                    update.timestamp ? update.timestamp->version : 0)};
  if (auto ok = insert_log(db, feed, entry); !ok) return ok;
  return txn->commit();
}

Status StateStore::record_refresh(std::string_view feed, const RefreshLogEntry& entry) {
  sqlite3* db = h_->db.get();
  auto txn = Transaction::begin(db);
  if (!txn) return tl::unexpected(txn.error());
  auto exists = feed_exists(db, feed);
  if (!exists) return tl::unexpected(exists.error());
  if (!*exists) return no_feed(feed);
  if (auto ok = insert_log(db, feed, entry); !ok) return ok;
  return txn->commit();
}

Status StateStore::record_refusal(std::string_view feed, TimePoint now, const Error& error) {
  return record_refresh(feed, RefreshLogEntry{now, RefreshResult::refused,
                                              std::string(code_name(error.code)), error.message});
}

Result<std::optional<RefreshLogEntry>> StateStore::last_success(std::string_view feed) {
  return last_log(h_->db.get(), feed, "outcome IN ('updated', 'up_to_date')");
}

Result<std::optional<RefreshLogEntry>> StateStore::last_refusal(std::string_view feed) {
  return last_log(h_->db.get(), feed, "outcome = 'refused'");
}

}  // namespace weights
