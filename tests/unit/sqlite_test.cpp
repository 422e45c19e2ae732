#include "core/db/sqlite.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/db/state_db.hpp"
#include "core/db/state_store.hpp"
#include "daemon/release_db.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::db;
using weights::testing::TempDir;

namespace {

// 1 .. state_schema_version: what a fully migrated state database has applied.
std::vector<int> every_migration() {
  std::vector<int> out;
  for (int v = 1; v <= state_schema_version; ++v) out.push_back(v);
  return out;
}

Connection open_db(const std::filesystem::path& path,
                   std::chrono::milliseconds busy = Connection::default_busy_timeout) {
  auto c = Connection::open(path, OpenMode::read_write_create, busy);
  if (!c) FAIL("open: " << c.error().message);
  return std::move(*c);
}

void must(const Status& st) {
  if (!st) FAIL(st.error().message);
}

std::int64_t count(Connection& db, const std::string& table) {
  auto n = db.query_int64("SELECT count(*) FROM " + table);
  if (!n) FAIL(n.error().message);
  return *n;
}

constexpr Migration test_migrations[] = {
    {1, "a", "CREATE TABLE a (x INTEGER NOT NULL);"},
    {2, "b", "CREATE TABLE b (y TEXT NOT NULL);"},
    {3, "c", "CREATE TABLE c (z INTEGER NOT NULL); INSERT INTO c VALUES (7);"},
};

// A state dir as today's weightsd leaves it before this layer: the trust tables migrated to
// PRAGMA user_version `trust` and the release tables to `daemon_schema.version` `release`
// (absent when 0), through the shipped migration statements and the old bookkeeping of each
// store, with one row of data in each table that exists.
void write_legacy_state(const std::filesystem::path& dir, int trust, int release) {
  std::filesystem::create_directories(dir);
  auto db = open_db(dir / "state.sqlite");
  must(db.exec("PRAGMA journal_mode = WAL"));
  const auto m = state_migrations();
  for (int v = 1; v <= trust; ++v) {
    must(db.exec("BEGIN IMMEDIATE"));
    must(db.exec(m[static_cast<std::size_t>(v - 1)].sql));
    must(db.exec("PRAGMA user_version = " + std::to_string(v)));
    must(db.exec("COMMIT"));
  }
  if (trust >= 1) {
    must(db.exec(R"sql(
INSERT INTO feeds VALUES ('demo', '/srv/feed', 1);
INSERT INTO trusted_metadata (feed, role, version, bytes, expires)
  VALUES ('demo', 'root', 1, CAST('root-1' AS BLOB), 86400);
INSERT INTO trusted_targets VALUES ('demo', 'models/o/m/r1.release.json', 10, 'aa', 'release',
  'o/m', 'r1', 1);
INSERT INTO model_release_seq VALUES ('demo', 'o/m', 1);
INSERT INTO refresh_log (feed, time, outcome, error_code, message)
  VALUES ('demo', 5, 'updated', '', 'root v1');
)sql"));
  }
  if (trust >= 2) must(db.exec("INSERT INTO feed_mirrors VALUES ('demo', 1, '/srv/mirror');"));
  if (release >= 1) must(db.exec("CREATE TABLE daemon_schema (version INTEGER NOT NULL)"));
  for (int v = 1; v <= release; ++v) {
    must(db.exec("BEGIN IMMEDIATE"));
    must(db.exec(m[static_cast<std::size_t>(v + 2)].sql));
    must(db.exec("DELETE FROM daemon_schema"));
    must(db.exec("INSERT INTO daemon_schema VALUES (" + std::to_string(v) + ")"));
    must(db.exec("COMMIT"));
    if (v == 1) {  // a row written at release schema 1, carried through schema 2
      must(db.exec(R"sql(
INSERT INTO releases VALUES ('o/m@r1', 'demo', 'o/m', 'r1', 1, 'ab', CAST('{}' AS BLOB),
  'fetched', '[]', '["127.0.0.2:6881"]', '["config.json"]', 1, 'complete', '', '', '', '', 9);
INSERT INTO manifest_cache VALUES ('aa', CAST('manifest' AS BLOB));
)sql"));
    }
  }
  if (release >= 2) {
    must(db.exec("UPDATE releases SET last_requested = 11, last_scrubbed = 12"));
    must(
        db.exec("INSERT INTO follows (feed, model_glob, alias, latest, max_size, created_at) "
                "VALUES ('demo', 'o/*', 'stable', 2, 0, 13)"));
  }
}

}  // namespace

TEST_CASE("typed binds read back as the same values", "[sqlite]") {
  TempDir tmp;
  auto db = open_db(tmp / "t.sqlite");
  must(db.exec("CREATE TABLE t (i INTEGER, u INTEGER, s TEXT, b BLOB, n TEXT)"));
  auto ins = db.prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)");
  REQUIRE(ins);
  const std::string bytes("a\0b\xff", 4);
  must(ins->bind_all(std::int64_t{-5}, std::uint64_t{1} << 62, std::string("text"), Blob{bytes},
                     nullptr));
  must(ins->run());
  auto sel = db.prepare("SELECT i, u, s, b, n, typeof(b), typeof(s) FROM t");
  REQUIRE(sel);
  REQUIRE(*sel->step());
  CHECK(sel->int64(0) == -5);
  CHECK(sel->uint64(1) == std::uint64_t{1} << 62);
  CHECK(sel->text(2) == "text");
  CHECK(sel->blob(3) == bytes);
  CHECK(sel->is_null(4));
  CHECK(sel->text(4).empty());
  CHECK(sel->text(5) == "blob");
  CHECK(sel->text(6) == "text");
  CHECK_FALSE(*sel->step());
}

TEST_CASE("an unsigned value above 2^63-1 is refused, not wrapped", "[sqlite]") {
  TempDir tmp;
  auto db = open_db(tmp / "t.sqlite");
  auto st = db.prepare("SELECT ?1");
  REQUIRE(st);
  auto r = st->bind(1, std::numeric_limits<std::uint64_t>::max());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::database_error);
  CHECK_THAT(r.error().message, Catch::Contains("?1"));
}

TEST_CASE("a prepared statement is reused after reset", "[sqlite]") {
  TempDir tmp;
  auto db = open_db(tmp / "t.sqlite");
  must(db.exec("CREATE TABLE t (x INTEGER)"));
  auto ins = db.prepare("INSERT INTO t VALUES (?1)");
  REQUIRE(ins);
  for (int i = 0; i < 3; ++i) {
    ins->reset();
    must(ins->bind(1, i));
    must(ins->run());
  }
  CHECK(count(db, "t") == 3);
  CHECK(db.last_insert_rowid() == 3);
}

TEST_CASE("a bad statement fails with its text and SQLite's message", "[sqlite]") {
  TempDir tmp;
  auto db = open_db(tmp / "t.sqlite");
  auto st = db.prepare("SELEC 1");
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::database_error);
  CHECK_THAT(st.error().message, Catch::Contains("SELEC 1") && Catch::Contains("syntax error"));
}

TEST_CASE("a transaction commits, or rolls back when dropped", "[sqlite]") {
  TempDir tmp;
  auto db = open_db(tmp / "t.sqlite");
  must(db.exec("CREATE TABLE t (x INTEGER)"));
  {
    auto txn = Transaction::begin(db);
    REQUIRE(txn);
    CHECK(db.in_transaction());
    must(db.exec("INSERT INTO t VALUES (1)"));
  }
  CHECK_FALSE(db.in_transaction());
  CHECK(count(db, "t") == 0);
  {
    auto txn = Transaction::begin(db);
    REQUIRE(txn);
    must(db.exec("INSERT INTO t VALUES (1)"));
    CHECK_FALSE(Transaction::begin(db));  // not nestable
    must(txn->commit());
  }
  CHECK(count(db, "t") == 1);
}

TEST_CASE("a writer blocked past the busy timeout gets a clear unavailable error", "[sqlite]") {
  TempDir tmp;
  auto holder = open_db(tmp / "t.sqlite");
  must(holder.exec("PRAGMA journal_mode = WAL"));
  must(holder.exec("CREATE TABLE t (x INTEGER)"));
  auto held = Transaction::begin(holder);
  REQUIRE(held);
  auto other = open_db(tmp / "t.sqlite", std::chrono::milliseconds(50));
  auto blocked = Transaction::begin(other);
  REQUIRE_FALSE(blocked);
  CHECK(blocked.error().code == Errc::unavailable);
  CHECK_THAT(blocked.error().message, Catch::Contains("t.sqlite"));
  held->rollback();
  CHECK(Transaction::begin(other));
}

TEST_CASE("migrations apply in order once and are recorded in one table", "[sqlite][migrate]") {
  TempDir tmp;
  auto db = open_db(tmp / "t.sqlite");
  const Schema schema{test_migrations, {}};
  must(migrate(db, schema));
  CHECK(*applied_migrations(db) == std::vector<int>{1, 2, 3});
  CHECK(*db.query_int64("PRAGMA user_version") == 3);
  CHECK(count(db, "c") == 1);
  must(migrate(db, schema));  // nothing left to do: migration 3's insert does not run again
  CHECK(count(db, "c") == 1);
  CHECK(count(db, "schema_migrations") == 3);
}

TEST_CASE("a failing migration leaves the earlier ones applied and the database usable",
          "[sqlite][migrate]") {
  TempDir tmp;
  auto db = open_db(tmp / "t.sqlite");
  must(migrate(db, Schema{std::span<const Migration>(test_migrations).first(2), {}}));
  const Migration broken[] = {
      test_migrations[0],
      test_migrations[1],
      {3, "c", "CREATE TABLE c (z INTEGER); INSERT INTO nowhere VALUES (1);"}};
  auto r = migrate(db, Schema{broken, {}});
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("migration 3 (c)") && Catch::Contains("nowhere"));
  CHECK_FALSE(db.in_transaction());
  CHECK(*applied_migrations(db) == std::vector<int>{1, 2});
  CHECK_FALSE(*db.table_exists("c"));  // its CREATE was rolled back with the failed INSERT
  CHECK(*db.query_int64("PRAGMA user_version") == 2);
  must(migrate(db, Schema{test_migrations, {}}));
  CHECK(*applied_migrations(db) == std::vector<int>{1, 2, 3});
}

TEST_CASE("the first migration of a new database is all or nothing", "[sqlite][migrate]") {
  TempDir tmp;
  auto db = open_db(tmp / "t.sqlite");
  const Migration broken[] = {
      test_migrations[0], test_migrations[1], {3, "c", "INSERT INTO nowhere VALUES (1);"}};
  REQUIRE_FALSE(migrate(db, Schema{broken, {}}));
  CHECK_FALSE(*db.table_exists("schema_migrations"));
  CHECK_FALSE(*db.table_exists("a"));
  CHECK(*db.query_int64("PRAGMA user_version") == 0);
}

TEST_CASE("a database with a migration this build does not know is refused", "[sqlite][migrate]") {
  TempDir tmp;
  auto db = open_db(tmp / "t.sqlite");
  must(migrate(db, Schema{test_migrations, {}}));
  auto older = std::span<const Migration>(test_migrations).first(2);
  auto r = migrate(db, Schema{older, {}});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::unsupported);
  CHECK_THAT(r.error().message, Catch::Contains("newer"));
}

TEST_CASE("a migration list out of order is a bug, reported before touching the database",
          "[sqlite][migrate]") {
  TempDir tmp;
  auto db = open_db(tmp / "t.sqlite");
  const Migration gap[] = {test_migrations[0], test_migrations[2]};
  auto r = migrate(db, Schema{gap, {}});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::internal);
  CHECK_FALSE(*db.table_exists("schema_migrations"));
}

// ---- state.sqlite written before the single migrations table ---------------------------------

TEST_CASE("a state dir from before the single migrations table opens with its data intact",
          "[sqlite][state_db][upgrade]") {
  TempDir tmp;
  write_legacy_state(tmp.path(), 3, 2);
  auto sdb = StateDb::open(tmp.path());
  REQUIRE(sdb);
  auto& conn = (*sdb)->connection();
  CHECK(*applied_migrations(conn) == every_migration());
  CHECK_FALSE(*conn.table_exists("daemon_schema"));
  // Builds that predate the table read user_version 5 > 3 and refuse instead of migrating.
  CHECK(*(*sdb)->schema_version() == state_schema_version);

  StateStore store(*sdb);
  auto feed = store.load_feed("demo");
  REQUIRE(feed);
  CHECK(feed->location == "/srv/feed");
  CHECK(feed->mirrors == std::vector<std::string>{"/srv/mirror"});
  CHECK(feed->root.bytes == "root-1");
  REQUIRE(feed->trusted_targets.size() == 1);
  CHECK(feed->release_seq.at("o/m") == 1);
  CHECK(store.last_success("demo")->value().message == "root v1");

  weights::daemon::ReleaseDb releases(*sdb);  // the same connection
  auto rec = releases.get("o/m@r1");
  REQUIRE(rec);
  REQUIRE(rec->has_value());
  CHECK((*rec)->peers == std::vector<std::string>{"127.0.0.2:6881"});
  CHECK((*rec)->verified == std::vector<std::string>{"config.json"});
  CHECK((*rec)->pinned);
  CHECK((*rec)->last_requested == 11);
  CHECK((*rec)->last_scrubbed == 12);
  CHECK(**releases.cached_manifest("aa") == "manifest");
  auto follows = releases.follows();
  REQUIRE(follows);
  REQUIRE(follows->size() == 1);
  CHECK(follows->front().alias == "stable");
  CHECK(follows->front().latest == 2);
  // Migration 10: a follow from before is a feed's, accepting no licence.
  CHECK(follows->front().source == weights::daemon::FollowSource::feed);
  CHECK_FALSE(follows->front().accept_license);
  weights::daemon::Follow cf;
  cf.source = weights::daemon::FollowSource::catalog;
  cf.alias = "qwen*";
  cf.accept_license = true;
  auto cid = releases.add_follow(cf);
  REQUIRE(cid);
  follows = releases.follows();
  REQUIRE(follows);
  REQUIRE(follows->size() == 2);
  CHECK(follows->back().source == weights::daemon::FollowSource::catalog);
  CHECK(follows->back().accept_license);
  CHECK(follows->back().feed.empty());
  REQUIRE(releases.remove_follow(*cid));

  // Both stores write through the one connection and the result survives reopening.
  CHECK(releases.cache_manifest("bb", "more"));
  CHECK(store.record_refresh(
      "demo", {TimePoint(std::chrono::seconds(6)), RefreshResult::up_to_date, "", "same"}));
  weights::daemon::ReleaseDb moved = std::move(releases);
  StateStore moved_store = std::move(store);
  sdb->reset();
  CHECK(**moved.cached_manifest("bb") == "more");  // the stores keep the connection alive
}

TEST_CASE("a partly migrated legacy state dir gets the migrations it lacks",
          "[sqlite][state_db][upgrade]") {
  TempDir tmp;
  write_legacy_state(tmp.path(), 2, 1);
  auto store = StateStore::open(tmp.path());
  REQUIRE(store);
  auto feed = store->load_feed("demo");
  REQUIRE(feed);
  CHECK(feed->root.bytes == "root-1");
  CHECK(feed->mirrors == std::vector<std::string>{"/srv/mirror"});
  auto conn = open_db(tmp / "state.sqlite");
  CHECK(*applied_migrations(conn) == every_migration());
  CHECK(*conn.query_int64("SELECT last_requested FROM releases") == 0);  // added by 5
  CHECK(count(conn, "follows") == 0);
}

TEST_CASE("a feed-only state dir (weightsctl, never a daemon) upgrades too",
          "[sqlite][state_db][upgrade]") {
  TempDir tmp;
  write_legacy_state(tmp.path(), 3, 0);
  auto sdb = StateDb::open(tmp.path());
  REQUIRE(sdb);
  CHECK(*applied_migrations((*sdb)->connection()) == every_migration());
  CHECK(StateStore(*sdb).load_feed("demo"));
  CHECK(weights::daemon::ReleaseDb(*sdb).list()->empty());
}

TEST_CASE("a legacy state dir newer than this build is refused and left as it was",
          "[sqlite][state_db][upgrade]") {
  TempDir tmp;
  write_legacy_state(tmp.path(), 3, 2);
  {
    auto conn = open_db(tmp / "state.sqlite");
    must(conn.exec("UPDATE daemon_schema SET version = 9"));
  }
  auto sdb = StateDb::open(tmp.path());
  REQUIRE_FALSE(sdb);
  CHECK(sdb.error().code == Errc::unsupported);
  auto conn = open_db(tmp / "state.sqlite");
  CHECK_FALSE(*conn.table_exists("schema_migrations"));
  CHECK(*conn.query_int64("SELECT version FROM daemon_schema") == 9);
  CHECK(*conn.query_int64("PRAGMA user_version") == 3);
}

TEST_CASE("a migration failing during the upgrade leaves the old database as it was",
          "[sqlite][state_db][upgrade]") {
  TempDir tmp;
  write_legacy_state(tmp.path(), 3, 0);  // weightsctl only: migrations 4 to 7 still to apply
  std::vector<Migration> with_broken(state_migrations().begin(), state_migrations().end());
  const int broken = state_schema_version + 1;
  with_broken.push_back(
      {broken, "broken", "CREATE TABLE t_broken (x INTEGER); INSERT INTO nowhere VALUES (1);"});
  auto sdb =
      StateDb::open(tmp.path(), StateDb::Lock::take, Schema{with_broken, state_schema().legacy});
  REQUIRE_FALSE(sdb);
  CHECK_THAT(sdb.error().message, Catch::Contains(fmt::format("migration {} (broken)", broken)));
  {
    auto conn = open_db(tmp / "state.sqlite");
    CHECK_FALSE(*conn.table_exists("schema_migrations"));
    CHECK_FALSE(*conn.table_exists("releases"));  // migration 4 rolled back with the broken one
    CHECK(*conn.query_int64("PRAGMA user_version") == 3);
    CHECK(count(conn, "feeds") == 1);
  }
  auto store = StateStore::open(tmp.path());
  REQUIRE(store);
  CHECK(store->load_feed("demo"));
}

TEST_CASE("a crash in the middle of the upgrade leaves the old database as it was",
          "[sqlite][state_db][upgrade]") {
  TempDir tmp;
  write_legacy_state(tmp.path(), 3, 2);
  // The child adopts the legacy database (records 1..5, drops daemon_schema) and dies before
  // the transaction commits: no destructor, no rollback, no clean close.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    Schema dying = state_schema();
    dying.legacy = [real = state_schema().legacy](Connection& db) -> Result<std::vector<int>> {
      auto have = real(db);
      if (have && have->size() == 5) ::_exit(42);
      ::_exit(1);
    };
    (void)StateDb::open(tmp.path(), StateDb::Lock::take, dying);
    ::_exit(2);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 42);

  {  // Still the old format, readable the old way.
    auto conn = open_db(tmp / "state.sqlite");
    CHECK_FALSE(*conn.table_exists("schema_migrations"));
    CHECK(*conn.query_int64("SELECT version FROM daemon_schema") == 2);
    CHECK(*conn.query_int64("PRAGMA user_version") == 3);
    CHECK(count(conn, "releases") == 1);
    CHECK(count(conn, "feeds") == 1);
  }
  auto store = StateStore::open(tmp.path());  // and the next start upgrades it
  REQUIRE(store);
  CHECK(store->load_feed("demo"));
  CHECK(*store->user_version() == state_schema_version);
}
