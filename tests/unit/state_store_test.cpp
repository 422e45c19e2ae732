#include "core/db/state_store.hpp"

#include <algorithm>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include "support/feed_builder.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using weights::testing::t0;
using weights::testing::TempDir;
using namespace std::chrono_literals;

namespace {

TrustedRole role(std::uint64_t version, std::string bytes) {
  return TrustedRole{version, std::move(bytes), t0() + std::chrono::hours(24 * version)};
}

tuf::TargetInfo target(std::string path, std::string model, std::uint64_t seq) {
  tuf::TargetInfo t;
  t.path = std::move(path);
  t.length = 10;
  t.sha256 = std::string(64, 'a');
  t.kind = tuf::TargetKind::release;
  t.model = std::move(model);
  t.revision = "r" + std::to_string(seq);
  t.release_seq = seq;
  return t;
}

TrustedUpdate update_v(std::uint64_t v) {
  TrustedUpdate u;
  u.root = role(1, "root-1");
  u.timestamp = role(v, "ts-" + std::to_string(v));
  u.snapshot = role(v, "snap-" + std::to_string(v));
  u.targets = role(v, "targets-" + std::to_string(v));
  u.trusted_targets = {target("models/o/m/r" + std::to_string(v) + ".release.json", "o/m", v)};
  u.release_seq = {{"o/m", v}};
  return u;
}

StateStore open_store(const std::filesystem::path& dir) {
  auto s = StateStore::open(dir);
  if (!s) FAIL("open: " << s.error().message);
  return std::move(*s);
}

}  // namespace

TEST_CASE("a new state database is migrated to the current schema", "[state]") {
  TempDir tmp;
  auto store = open_store(tmp / "state");
  CHECK(std::filesystem::exists(tmp / "state" / "state.sqlite"));
  auto v = store.user_version();
  REQUIRE(v);
  CHECK(*v == StateStore::schema_version);
  CHECK(store.list_feeds()->empty());
}

TEST_CASE("reopening keeps feeds and does not re-run migrations", "[state]") {
  TempDir tmp;
  {
    auto store = open_store(tmp.path());
    REQUIRE(store.add_feed("f", "/srv/feed", role(1, "root-1"), t0()));
  }
  auto store = open_store(tmp.path());
  auto feeds = store.list_feeds();
  REQUIRE(feeds);
  CHECK(*feeds == std::vector<std::string>{"f"});
  CHECK(*store.user_version() == StateStore::schema_version);
}

TEST_CASE("a schema 2 database is migrated with its trusted metadata intact", "[state]") {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "state");
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((tmp / "state" / "state.sqlite").c_str(), &db) == SQLITE_OK);
  // The tables of schema 2 as shipped (trusted_metadata with `bytes` before `expires`).
  const std::string bytes(100000, 'x');  // overflow pages
  REQUIRE(sqlite3_exec(db, R"sql(
CREATE TABLE feeds (name TEXT PRIMARY KEY NOT NULL, location TEXT NOT NULL,
  added_at INTEGER NOT NULL) STRICT;
CREATE TABLE trusted_metadata (
  feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('root', 'timestamp', 'snapshot', 'targets')),
  version INTEGER NOT NULL CHECK (version >= 1), bytes BLOB NOT NULL, expires INTEGER NOT NULL,
  PRIMARY KEY (feed, role)) STRICT;
CREATE TABLE trusted_targets (
  feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE, path TEXT NOT NULL,
  length INTEGER NOT NULL CHECK (length >= 0), sha256 TEXT NOT NULL, kind TEXT NOT NULL,
  model TEXT NOT NULL, revision TEXT NOT NULL,
  release_seq INTEGER NOT NULL CHECK (release_seq >= 0), PRIMARY KEY (feed, path)) STRICT;
CREATE INDEX trusted_targets_by_model ON trusted_targets (feed, model);
CREATE TABLE model_release_seq (feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
  model TEXT NOT NULL, max_seq INTEGER NOT NULL CHECK (max_seq >= 0),
  PRIMARY KEY (feed, model)) STRICT;
CREATE TABLE refresh_log (id INTEGER PRIMARY KEY AUTOINCREMENT,
  feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE, time INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('updated', 'up_to_date', 'refused')),
  error_code TEXT NOT NULL, message TEXT NOT NULL) STRICT;
CREATE INDEX refresh_log_by_feed ON refresh_log (feed, id);
CREATE TABLE feed_mirrors (feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
  position INTEGER NOT NULL CHECK (position >= 1), location TEXT NOT NULL,
  PRIMARY KEY (feed, position)) STRICT;
INSERT INTO feeds VALUES ('f', '/x', 1);
INSERT INTO trusted_metadata VALUES ('f', 'root', 1, CAST('root-1' AS BLOB), 86400);
INSERT INTO trusted_metadata VALUES ('f', 'targets', 7, zeroblob(0), 172800);
INSERT INTO trusted_targets VALUES ('f', 'models/o/m/r1.release.json', 10, 'aa', 'release',
  'o/m', 'r1', 1);
PRAGMA user_version = 2;
)sql",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "UPDATE trusted_metadata SET bytes = ?1 WHERE role = 'targets'",
                             -1, &st, nullptr) == SQLITE_OK);
  sqlite3_bind_blob(st, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
  REQUIRE(sqlite3_step(st) == SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);

  auto store = open_store(tmp / "state");
  CHECK(*store.user_version() == StateStore::schema_version);
  auto s = store.load_feed("f");
  REQUIRE(s);
  CHECK(s->root == TrustedRole{1, "root-1", TimePoint(std::chrono::seconds(86400))});
  REQUIRE(s->targets);
  CHECK(*s->targets == TrustedRole{7, bytes, TimePoint(std::chrono::seconds(172800))});
  REQUIRE(s->trusted_targets.size() == 1);
  CHECK(*store.count_targets("f", tuf::TargetKind::release) == 1);
}

TEST_CASE("a database from a newer build is refused", "[state]") {
  TempDir tmp;
  { auto store = open_store(tmp.path()); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((tmp / "state.sqlite").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto s = StateStore::open(tmp.path());
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::unsupported);
  CHECK_THAT(s.error().message, Catch::Contains("newer"));
}

TEST_CASE("the state dir lock refuses a second opener and names the holder", "[state][lock]") {
  TempDir tmp;
  auto first = open_store(tmp.path());
  auto second = StateStore::open(tmp.path());
  REQUIRE_FALSE(second);
  CHECK(second.error().code == Errc::io_error);
  CHECK_THAT(second.error().message,
             Catch::Contains("in use by pid " + std::to_string(::getpid())));
  { auto moved = std::move(first); }  // closing releases the lock
  CHECK(StateStore::open(tmp.path()));
}

TEST_CASE("a feed is added once with its root and loads back", "[state]") {
  TempDir tmp;
  auto store = open_store(tmp.path());
  REQUIRE(store.add_feed("f", "file:///srv/feed", role(1, "root-bytes"), t0()));
  auto again = store.add_feed("f", "elsewhere", role(1, "x"), t0());
  REQUIRE_FALSE(again);
  CHECK(again.error().code == Errc::already_exists);
  auto s = store.load_feed("f");
  REQUIRE(s);
  CHECK(s->location == "file:///srv/feed");
  CHECK(s->root.version == 1);
  CHECK_FALSE(s->timestamp);
  CHECK(s->trusted_targets.empty());
  auto missing = store.load_feed("nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
}

TEST_CASE("metadata bytes are stored exactly, including NUL bytes", "[state]") {
  TempDir tmp;
  auto store = open_store(tmp.path());
  const std::string bytes("a\0b\xff", 4);
  REQUIRE(store.add_feed("f", "/x", role(1, bytes), t0()));
  CHECK(store.load_feed("f")->root.bytes == bytes);
}

TEST_CASE("commit_refresh replaces roles and targets and merges release_seq by max", "[state]") {
  TempDir tmp;
  auto store = open_store(tmp.path());
  REQUIRE(store.add_feed("f", "/x", role(1, "root-1"), t0()));
  REQUIRE(store.commit_refresh("f", update_v(3), t0()));
  auto s = store.load_feed("f");
  REQUIRE(s);
  CHECK(s->timestamp == role(3, "ts-3"));
  CHECK(s->targets == role(3, "targets-3"));
  CHECK(s->trusted_targets == update_v(3).trusted_targets);
  CHECK(s->release_seq.at("o/m") == 3);

  TrustedUpdate lower = update_v(4);
  lower.release_seq = {{"o/m", 2}, {"o/other", 1}};
  REQUIRE(store.commit_refresh("f", lower, t0() + 1h));
  s = store.load_feed("f");
  CHECK(s->release_seq.at("o/m") == 3);  // never lowered
  CHECK(s->release_seq.at("o/other") == 1);
  CHECK(s->trusted_targets == lower.trusted_targets);

  auto success = store.last_success("f");
  REQUIRE(success);
  REQUIRE(success->has_value());
  CHECK((*success)->result == RefreshResult::updated);
  CHECK((*success)->time == t0() + 1h);
}

TEST_CASE("commit_refresh keeps unchanged targets, rewrites changed ones and drops removed ones",
          "[state]") {
  TempDir tmp;
  auto store = open_store(tmp.path());
  REQUIRE(store.add_feed("f", "/x", role(1, "root-1"), t0()));
  TrustedUpdate u = update_v(2);
  u.trusted_targets = {target("models/o/a/r1.release.json", "o/a", 1),
                       target("models/o/b/r1.release.json", "o/b", 1),
                       target("models/o/c/r1.release.json", "o/c", 1)};
  u.release_seq = {{"o/a", 1}, {"o/b", 1}, {"o/c", 1}};
  REQUIRE(store.commit_refresh("f", u, t0()));
  TrustedUpdate next = update_v(3);
  next.trusted_targets = u.trusted_targets;
  next.trusted_targets[1].sha256 = std::string(64, 'b');  // o/b: other bytes, same path
  next.trusted_targets[1].length = 11;
  next.trusted_targets.erase(next.trusted_targets.begin() + 2);  // o/c removed
  next.trusted_targets.push_back(target("models/o/d/r4.release.json", "o/d", 4));
  next.release_seq = {{"o/a", 1}, {"o/b", 1}, {"o/d", 4}};
  REQUIRE(store.commit_refresh("f", next, t0() + 1h));
  auto s = store.load_feed("f");
  REQUIRE(s);
  CHECK(s->trusted_targets == next.trusted_targets);
  CHECK(s->release_seq ==
        std::map<std::string, std::uint64_t>{{"o/a", 1}, {"o/b", 1}, {"o/c", 1}, {"o/d", 4}});
}

TEST_CASE("a summary load reads versions and expiries but neither metadata bytes nor targets",
          "[state]") {
  TempDir tmp;
  auto store = open_store(tmp.path());
  REQUIRE(store.add_feed("f", "/x", role(1, "root-1"), t0(), {"/mirror"}));
  TrustedUpdate u = update_v(3);
  u.trusted_targets.push_back(target("models/o/m/r9.release.json", "o/m", 9));
  auto torrent = target("models/o/m/r9.torrent", "o/m", 9);
  torrent.kind = tuf::TargetKind::torrent;
  u.trusted_targets.push_back(torrent);
  REQUIRE(store.commit_refresh("f", u, t0()));
  auto s = store.load_feed("f", FeedDetail::summary);
  REQUIRE(s);
  CHECK(s->location == "/x");
  CHECK(s->mirrors == std::vector<std::string>{"/mirror"});
  CHECK(s->root == TrustedRole{1, "", role(1, "").expires});
  REQUIRE(s->targets);
  CHECK(s->targets->version == 3);
  CHECK(s->targets->expires == role(3, "").expires);
  CHECK(s->targets->bytes.empty());
  CHECK(s->trusted_targets.empty());
  CHECK(s->release_seq.empty());
  CHECK(*store.count_targets("f", tuf::TargetKind::release) == 2);
  CHECK(*store.count_targets("f", tuf::TargetKind::torrent) == 1);
  CHECK(*store.count_targets("nope", tuf::TargetKind::release) == 0);
  CHECK(store.load_feed("nope", FeedDetail::summary).error().code == Errc::not_found);

  // The release targets' hashes alone (start-up checks them against the manifest cache).
  auto hashes = store.target_hashes("f", tuf::TargetKind::release);
  REQUIRE(hashes);
  std::vector<std::string> want;
  for (const auto& t : u.trusted_targets) {
    if (t.kind == tuf::TargetKind::release) want.push_back(t.sha256);
  }
  std::sort(hashes->begin(), hashes->end());
  std::sort(want.begin(), want.end());
  CHECK(*hashes == want);
  CHECK(store.target_hashes("nope", tuf::TargetKind::release)->empty());
}

TEST_CASE("a commit without timestamp and snapshot forgets them", "[state]") {
  TempDir tmp;
  auto store = open_store(tmp.path());
  REQUIRE(store.add_feed("f", "/x", role(1, "root-1"), t0()));
  REQUIRE(store.commit_refresh("f", update_v(3), t0()));
  TrustedUpdate u = update_v(3);
  u.root = role(2, "root-2");
  u.timestamp.reset();
  u.snapshot.reset();
  REQUIRE(store.commit_refresh("f", u, t0()));
  auto s = store.load_feed("f");
  CHECK(s->root == role(2, "root-2"));
  CHECK_FALSE(s->timestamp);
  CHECK_FALSE(s->snapshot);
  CHECK(s->targets);
}

TEST_CASE("a refusal is logged without touching the trusted state", "[state]") {
  TempDir tmp;
  auto store = open_store(tmp.path());
  REQUIRE(store.add_feed("f", "/x", role(1, "root-1"), t0()));
  REQUIRE(store.commit_refresh("f", update_v(2), t0()));
  const FeedState before = *store.load_feed("f");
  REQUIRE(store.record_refusal("f", t0() + 2h, Error{Errc::rollback, "timestamp v1 is older", ""}));
  CHECK(*store.load_feed("f") == before);
  auto refusal = store.last_refusal("f");
  REQUIRE(refusal);
  REQUIRE(refusal->has_value());
  CHECK((*refusal)->error_code == "rollback");
  CHECK((*refusal)->message == "timestamp v1 is older");
  CHECK((*refusal)->time == t0() + 2h);
  // The last success is still the commit.
  CHECK((*store.last_success("f"))->result == RefreshResult::updated);
  CHECK_FALSE(store.record_refusal("nope", t0(), Error{}));
}

TEST_CASE("the refresh log is pruned per feed", "[state]") {
  TempDir tmp;
  auto store = open_store(tmp.path());
  REQUIRE(store.add_feed("f", "/x", role(1, "root-1"), t0()));
  for (int i = 0; i < StateStore::log_entries_kept + 20; ++i) {
    REQUIRE(store.record_refresh(
        "f", RefreshLogEntry{t0() + std::chrono::seconds(i), RefreshResult::up_to_date, "", ""}));
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(store.database_path().c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM refresh_log", -1, &st, nullptr) ==
          SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) == StateStore::log_entries_kept);
  sqlite3_finalize(st);
  sqlite3_close(db);
  CHECK((*store.last_success("f"))->time ==
        t0() + std::chrono::seconds(StateStore::log_entries_kept + 19));
}

TEST_CASE("a failing commit rolls back every table", "[state][crash]") {
  TempDir tmp;
  auto store = open_store(tmp.path());
  REQUIRE(store.add_feed("f", "/x", role(1, "root-1"), t0()));
  REQUIRE(store.commit_refresh("f", update_v(2), t0()));
  const FeedState before = *store.load_feed("f");
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(store.database_path().c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "CREATE TRIGGER boom BEFORE INSERT ON model_release_seq BEGIN "
                       "SELECT RAISE(ABORT, 'boom'); END;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  TrustedUpdate u = update_v(3);
  u.release_seq = {{"o/new", 1}};
  auto r = store.commit_refresh("f", u, t0());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::database_error);
  CHECK_THAT(r.error().message, Catch::Contains("boom"));
  CHECK(*store.load_feed("f") == before);
}

TEST_CASE("removing a feed removes its state", "[state]") {
  TempDir tmp;
  auto store = open_store(tmp.path());
  REQUIRE(store.add_feed("f", "/x", role(1, "root-1"), t0()));
  REQUIRE(store.commit_refresh("f", update_v(2), t0()));
  REQUIRE(store.remove_feed("f"));
  CHECK(store.load_feed("f").error().code == Errc::not_found);
  CHECK(store.remove_feed("f").error().code == Errc::not_found);
  REQUIRE(store.add_feed("f", "/y", role(1, "root-1"), t0()));
  CHECK(store.load_feed("f")->trusted_targets.empty());
  CHECK(store.load_feed("f")->release_seq.empty());
}
