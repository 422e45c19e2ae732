#pragma once
// The one SQLite layer: a connection (RAII), prepared statements with typed bind and column
// access, RAII transactions, busy handling, and numbered migrations recorded in one table.
//
// Errors are Errc::database_error (Errc::unavailable when another connection held the write
// lock longer than the busy timeout) with SQLite's message and the statement's first words.
// A Connection, and every Statement and Transaction made from it, is used by one thread at a
// time (opened SQLITE_OPEN_NOMUTEX).
#include <chrono>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace weights::db {

// Bytes bound as a BLOB (a plain string_view binds as TEXT).
struct Blob {
  std::string_view bytes;
};

class Statement {
 public:
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  ~Statement();

  // Parameters are numbered from 1 (?1, ?2, ...).
  Status bind(int index, std::string_view text);
  Status bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Status bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Status bind(int index, Blob blob);
  Status bind(int index, std::nullptr_t);
  // Any integer but bool; an unsigned value above INT64_MAX is refused (SQLite has no uint64).
  template <std::integral T>
  requires(!std::same_as<T, bool>) Status bind(int index, T value) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
      if (value > static_cast<T>(std::numeric_limits<std::int64_t>::max())) {
        return out_of_range(index);
      }
    }
    return bind_int64(index, static_cast<std::int64_t>(value));
  }
  // Binds the arguments to ?1, ?2, ... in order.
  template <typename... Args>
  Status bind_all(const Args&... args) {
    int index = 0;
    Status st;
    ((st ? (void)(st = bind(++index, args)) : (void)0), ...);
    return st;
  }

  // true: a row is available through the column accessors; false: the statement is done.
  Result<bool> step();
  // Steps to completion, for statements that return no rows.
  Status run();
  // Makes the statement runnable again and clears its bindings.
  void reset();

  // Columns are numbered from 0. A NULL reads as 0 or an empty string.
  std::int64_t int64(int column) const;
  std::uint64_t uint64(int column) const { return static_cast<std::uint64_t>(int64(column)); }
  std::string text(int column) const;  // also reads a BLOB's bytes
  std::string blob(int column) const { return text(column); }
  bool is_null(int column) const;

 private:
  friend class Connection;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Status bind_int64(int index, std::int64_t value);
  Status check_bind(int rc, int index);
  tl::unexpected<Error> out_of_range(int index) const;
  std::string sql_prefix() const;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

enum class OpenMode { read_write_create, read_only };

class Connection {
 public:
  // How long a statement waits for another connection's write lock before failing with
  // Errc::unavailable.
  inline static constexpr std::chrono::milliseconds default_busy_timeout{5000};

  // Opens (or creates) the database at `path`; refuses a symlink at `path`.
  static Result<Connection> open(const std::filesystem::path& path,
                                 OpenMode mode = OpenMode::read_write_create,
                                 std::chrono::milliseconds busy_timeout = default_busy_timeout);
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  // Runs one or more statements that return no rows (schema, pragmas).
  Status exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  // One integer result (`PRAGMA user_version`, `SELECT count(*) ...`); 0 when there is no row.
  Result<std::int64_t> query_int64(std::string_view sql);
  Result<bool> table_exists(std::string_view name);

  std::int64_t last_insert_rowid() const;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  std::int64_t changes() const;
  bool in_transaction() const;
  const std::filesystem::path& path() const { return path_; }

 private:
  Connection(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

enum class TxMode {
  deferred,   // takes the write lock at the first write (read-only transactions)
  immediate,  // takes the write lock up front, so a writer cannot fail half way on busy
};

// A transaction rolled back on destruction unless commit() succeeded. Not nestable: begin
// fails while the connection is in a transaction.
class Transaction {
 public:
  static Result<Transaction> begin(Connection& db, TxMode mode = TxMode::immediate);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status commit();
  void rollback();

 private:
  explicit Transaction(Connection* db) : db_(db) {}
  Connection* db_;
};

// ---- migrations -----------------------------------------------------------------------------

// One schema step. Versions are 1, 2, 3, ... in order; a shipped migration is never edited or
// renumbered, only new ones appended.
struct Migration {
  int version = 0;
  std::string_view name;
  std::string_view sql;
};

// Adopts a database written before the migrations table existed: called inside the
// transaction that creates the table, it returns the versions that database already has
// (and may drop the old bookkeeping). Nothing is recorded if it fails.
using LegacyImport = std::function<Result<std::vector<int>>(Connection&)>;

struct Schema {
  std::span<const Migration> migrations;
  LegacyImport legacy;  // empty: every database without the table is new
};

inline constexpr std::string_view migrations_table = "schema_migrations";

// Brings the database to the newest migration of `schema`. The first time (no
// `schema_migrations` table: a new or a legacy database) one transaction creates the table
// (version, name, applied_at), adopts what the legacy database has and applies the rest, so a
// failure leaves the database as it was. Afterwards each migration not yet recorded is
// applied in ascending order, one transaction each (its SQL and its row commit together). PRAGMA
// user_version follows the highest applied version, so builds that predate the table refuse the
// database instead of running their own migrations on it. Errc::unsupported if the database has a
// version this build does not know (a newer build wrote it).
Status migrate(Connection& db, const Schema& schema);

// The versions recorded in `schema_migrations`, ascending (empty if the table is absent).
Result<std::vector<int>> applied_migrations(Connection& db);

}  // namespace weights::db
