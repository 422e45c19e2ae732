#include "core/db/sqlite.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <sqlite3.h>

namespace weights::db {

namespace {

std::string_view prefix(std::string_view sql) {
  while (!sql.empty() && (sql.front() == '\n' || sql.front() == ' ')) sql.remove_prefix(1);
  return sql.substr(0, 40);
}

// SQLITE_BUSY/LOCKED after the busy timeout: another connection (another process) held the
// lock too long. Everything else is a database error.
tl::unexpected<Error> db_error(sqlite3* db, int rc, std::string_view what,
                               std::string_view detail = {}) {
  if (detail.empty()) detail = sqlite3_errmsg(db);
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return fail(Errc::unavailable,
                fmt::format("{}: {}: {}", sqlite3_db_filename(db, "main"), what, detail),
                "another process is using the state database; retry when it is done");
  }
  return fail(Errc::database_error, fmt::format("{}: {}", what, detail));
}

}  // namespace

// ---- Statement ------------------------------------------------------------------------------

Statement::Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) {
  o.stmt_ = nullptr;
}
Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    db_ = o.db_;
    stmt_ = o.stmt_;
    o.stmt_ = nullptr;
  }
  return *this;
}
Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

std::string Statement::sql_prefix() const {
  const char* sql = sqlite3_sql(stmt_);
  return sql ? std::string(prefix(sql)) : std::string();
}

Status Statement::check_bind(int rc, int index) {
  if (rc != SQLITE_OK) {
    return db_error(db_, rc, fmt::format("sqlite bind ?{} of \"{}\"", index, sql_prefix()));
  }
  return {};
}

tl::unexpected<Error> Statement::out_of_range(int index) const {
  return fail(Errc::database_error,
              fmt::format("sqlite bind ?{} of \"{}\": value above 2^63-1", index, sql_prefix()));
}

Status Statement::bind(int index, std::string_view text) {
  return check_bind(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
}
Status Statement::bind(int index, Blob blob) {
  return check_bind(
      sqlite3_bind_blob64(stmt_, index, blob.bytes.data(), blob.bytes.size(), SQLITE_TRANSIENT),
      index);
}
Status Statement::bind(int index, std::nullptr_t) {
  return check_bind(sqlite3_bind_null(stmt_, index), index);
}
Status Statement::bind_int64(int index, std::int64_t value) {
  return check_bind(sqlite3_bind_int64(stmt_, index, value), index);
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_error(db_, rc, fmt::format("sqlite step \"{}\"", sql_prefix()));
}

Status Statement::run() {
  while (true) {
    auto row = step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return {};
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}
std::string Statement::text(int column) const {
  // blob() first, then bytes(): the documented order that reads the value without conversion.
  const void* p = sqlite3_column_blob(stmt_, column);
  const int n = sqlite3_column_bytes(stmt_, column);
  return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
}
bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

// ---- Connection -----------------------------------------------------------------------------

Result<Connection> Connection::open(const std::filesystem::path& path, OpenMode mode,
                                    std::chrono::milliseconds busy_timeout) {
  const int flags = (mode == OpenMode::read_only ? SQLITE_OPEN_READONLY
                                                 : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Connection conn(raw, path);  // closes `raw` on every path out
  if (rc != SQLITE_OK) {
    return fail(Errc::database_error, fmt::format("{}: {}", path.string(),
                                                  raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(busy_timeout.count()));
  return conn;
}

Connection::Connection(Connection&& o) noexcept : db_(o.db_), path_(std::move(o.path_)) {
  o.db_ = nullptr;
}
Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    sqlite3_close_v2(db_);
    db_ = o.db_;
    path_ = std::move(o.path_);
    o.db_ = nullptr;
  }
  return *this;
}
Connection::~Connection() {
  sqlite3_close_v2(db_);
}

Status Connection::exec(std::string_view sql) {
  const std::string text(sql);  // sqlite3_exec wants a terminated string
  char* msg = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    const std::string detail = msg ? msg : sqlite3_errmsg(db_);
    sqlite3_free(msg);
    return db_error(db_, rc, fmt::format("sqlite \"{}\"", prefix(sql)), detail);
  }
  return {};
}

Result<Statement> Connection::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(s);
    return db_error(db_, rc, fmt::format("sqlite prepare \"{}\"", prefix(sql)));
  }
  return Statement(db_, s);
}

Result<std::int64_t> Connection::query_int64(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) return tl::unexpected(stmt.error());
  auto row = stmt->step();
  if (!row) return tl::unexpected(row.error());
  return *row ? stmt->int64(0) : 0;
}

Result<bool> Connection::table_exists(std::string_view name) {
  auto stmt = prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind(1, name); !ok) return tl::unexpected(ok.error());
  return stmt->step();
}

std::int64_t Connection::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}
std::int64_t Connection::changes() const {
  return sqlite3_changes64(db_);
}
bool Connection::in_transaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

// ---- Transaction ----------------------------------------------------------------------------

Result<Transaction> Transaction::begin(Connection& db, TxMode mode) {
  if (auto ok = db.exec(mode == TxMode::immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"); !ok) {
    return tl::unexpected(ok.error());
  }
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& o) noexcept : db_(o.db_) {
  o.db_ = nullptr;
}
Transaction::~Transaction() {
  rollback();
}

Status Transaction::commit() {
  if (db_ == nullptr) return fail(Errc::internal, "sqlite: commit of a finished transaction");
  auto ok = db_->exec("COMMIT");
  if (ok) db_ = nullptr;  // on failure the destructor rolls back
  return ok;
}

void Transaction::rollback() {
  // A failed statement may already have rolled the transaction back (SQLITE_FULL, IOERR).
  if (db_ != nullptr && db_->in_transaction()) (void)db_->exec("ROLLBACK");
  db_ = nullptr;
}

// ---- migrations -----------------------------------------------------------------------------

namespace {

Status check_schema(const Schema& schema) {
  for (std::size_t i = 0; i < schema.migrations.size(); ++i) {
    if (schema.migrations[i].version != static_cast<int>(i) + 1) {
      return fail(Errc::internal, fmt::format("migration list: entry {} has version {}", i + 1,
                                              schema.migrations[i].version));
    }
  }
  return {};
}

Status record(Connection& db, const Migration& m) {
  auto stmt = db.prepare(
      "INSERT INTO schema_migrations (version, name, applied_at) "
      "VALUES (?1, ?2, CAST(strftime('%s', 'now') AS INTEGER))");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind_all(m.version, m.name); !ok) return ok;
  return stmt->run();
}

Status set_user_version(Connection& db, int version) {
  return db.exec(fmt::format("PRAGMA user_version = {}", version));
}

tl::unexpected<Error> newer(std::int64_t version, int known) {
  return fail(Errc::unsupported,
              fmt::format("state database schema {} is newer than this build supports ({})",
                          version, known),
              "upgrade weightsd");
}

// Runs `m` and records it, inside the caller's transaction.
Status apply(Connection& db, const Migration& m, int& highest) {
  if (auto ok = db.exec(m.sql); !ok) {
    return tl::unexpected(
        with_context(ok.error(), fmt::format("migration {} ({})", m.version, m.name)));
  }
  if (auto ok = record(db, m); !ok) return ok;
  highest = std::max(highest, m.version);
  return set_user_version(db, highest);
}

// The first open since the table exists: creates it, adopts what a legacy database already
// has and applies every migration it lacks, all in one transaction, so a failure (or a crash)
// leaves the database exactly as the earlier build left it.
Status first_migration(Connection& db, const Schema& schema) {
  auto txn = Transaction::begin(db);
  if (!txn) return tl::unexpected(txn.error());
  auto exists = db.table_exists(migrations_table);
  if (!exists) return tl::unexpected(exists.error());
  if (*exists) return {};  // another opener created it first
  if (auto ok = db.exec(R"sql(
CREATE TABLE schema_migrations (
  version INTEGER PRIMARY KEY NOT NULL CHECK (version >= 1),
  name TEXT NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT;
)sql");
      !ok) {
    return ok;
  }
  const int known = static_cast<int>(schema.migrations.size());
  std::set<int> done;
  int highest = 0;
  if (schema.legacy) {
    auto have = schema.legacy(db);
    if (!have) return tl::unexpected(with_context(have.error(), "adopting a legacy database"));
    for (int v : *have) {
      if (v < 1 || v > known) return newer(v, known);
      if (auto ok = record(db, schema.migrations[static_cast<std::size_t>(v - 1)]); !ok) {
        return ok;
      }
      done.insert(v);
      highest = std::max(highest, v);
    }
    if (auto ok = set_user_version(db, highest); !ok) return ok;
  }
  for (const auto& m : schema.migrations) {
    if (done.contains(m.version)) continue;
    if (auto ok = apply(db, m, highest); !ok) return ok;
  }
  return txn->commit();
}

}  // namespace

Result<std::vector<int>> applied_migrations(Connection& db) {
  std::vector<int> out;
  auto exists = db.table_exists(migrations_table);
  if (!exists) return tl::unexpected(exists.error());
  if (!*exists) return out;
  auto stmt = db.prepare("SELECT version FROM schema_migrations ORDER BY version");
  if (!stmt) return tl::unexpected(stmt.error());
  while (true) {
    auto row = stmt->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    out.push_back(static_cast<int>(stmt->int64(0)));
  }
  return out;
}

Status migrate(Connection& db, const Schema& schema) {
  if (auto ok = check_schema(schema); !ok) return ok;
  const int known = static_cast<int>(schema.migrations.size());
  auto user_version = db.query_int64("PRAGMA user_version");
  if (!user_version) return tl::unexpected(user_version.error());
  if (*user_version > known) return newer(*user_version, known);
  auto exists = db.table_exists(migrations_table);
  if (!exists) return tl::unexpected(exists.error());
  if (!*exists) {
    if (auto ok = first_migration(db, schema); !ok) return ok;
  }
  auto applied = applied_migrations(db);
  if (!applied) return tl::unexpected(applied.error());
  if (!applied->empty() && applied->back() > known) return newer(applied->back(), known);

  const std::set<int> done(applied->begin(), applied->end());
  int highest = done.empty() ? 0 : *done.rbegin();
  for (const auto& m : schema.migrations) {
    if (done.contains(m.version)) continue;
    auto txn = Transaction::begin(db);
    if (!txn) return tl::unexpected(txn.error());
    if (auto ok = apply(db, m, highest); !ok) return ok;
    if (auto ok = txn->commit(); !ok) return ok;
  }
  return {};
}

}  // namespace weights::db
