#include "daemon/release_db.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

namespace weights::daemon {
namespace {

// migrations[i] takes the daemon tables from version i to i + 1. Append only.
constexpr const char* migrations[] = {
    R"sql(
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
)sql",
    R"sql(
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
)sql",
};
static_assert(std::size(migrations) == ReleaseDb::schema_version);

tl::unexpected<Error> db_error(sqlite3* db, std::string_view what) {
  return fail(Errc::database_error, fmt::format("release db: {}: {}", what, sqlite3_errmsg(db)));
}

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

Result<StmtPtr> prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK) {
    return db_error(db, fmt::format("prepare \"{}\"", sql.substr(0, 40)));
  }
  return StmtPtr(s);
}

Status exec(sqlite3* db, const std::string& sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string text = msg ? msg : sqlite3_errmsg(db);
    sqlite3_free(msg);
    return fail(Errc::database_error,
                fmt::format("release db: \"{}\": {}", sql.substr(0, 40), text));
  }
  return {};
}

void bind_text(sqlite3_stmt* s, int i, std::string_view text) {
  sqlite3_bind_text(s, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}
void bind_int(sqlite3_stmt* s, int i, std::int64_t v) {
  sqlite3_bind_int64(s, i, v);
}
std::string text(sqlite3_stmt* s, int col) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s, col));
  const int n = sqlite3_column_bytes(s, col);
  return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

std::string to_json_list(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump();
}
std::vector<std::string> from_json_list(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

constexpr const char* columns =
    "id, feed, model, revision, release_seq, v2_infohash, manifest, origin, include_json, "
    "peers_json, verified_json, pinned, state, error_code, error_message, error_hint, view_path, "
    "added_at, last_requested, last_scrubbed";

ReleaseRecord read_row(sqlite3_stmt* s) {
  ReleaseRecord r;
  r.id = text(s, 0);
  r.feed = text(s, 1);
  r.model = text(s, 2);
  r.revision = text(s, 3);
  r.release_seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 4));
  r.v2_infohash = text(s, 5);
  r.manifest = text(s, 6);
  r.origin = text(s, 7) == "seeded" ? Origin::seeded : Origin::fetched;
  r.include = from_json_list(text(s, 8));
  r.peers = from_json_list(text(s, 9));
  r.verified = from_json_list(text(s, 10));
  r.pinned = sqlite3_column_int64(s, 11) != 0;
  r.state = text(s, 12);
  r.error_code = text(s, 13);
  r.error_message = text(s, 14);
  r.error_hint = text(s, 15);
  r.view_path = text(s, 16);
  r.added_at = sqlite3_column_int64(s, 17);
  r.last_requested = sqlite3_column_int64(s, 18);
  r.last_scrubbed = sqlite3_column_int64(s, 19);
  return r;
}

}  // namespace

struct ReleaseDb::Handle {
  sqlite3* db = nullptr;
  ~Handle() {
    if (db) sqlite3_close_v2(db);
  }
};

ReleaseDb::ReleaseDb(std::unique_ptr<Handle> h) : h_(std::move(h)) {}
ReleaseDb::ReleaseDb(ReleaseDb&&) noexcept = default;
ReleaseDb& ReleaseDb::operator=(ReleaseDb&&) noexcept = default;
ReleaseDb::~ReleaseDb() = default;

Result<ReleaseDb> ReleaseDb::open(const std::filesystem::path& db_path) {
  auto h = std::make_unique<Handle>();
  const int rc = sqlite3_open_v2(
      db_path.c_str(), &h->db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
      nullptr);
  if (rc != SQLITE_OK) {
    return fail(Errc::database_error,
                fmt::format("{}: {}", db_path.string(),
                            h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc)));
  }
  sqlite3* db = h->db;
  sqlite3_busy_timeout(db, 5000);
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL"}) {
    if (auto ok = exec(db, pragma); !ok) return tl::unexpected(ok.error());
  }
  if (auto ok = exec(db, "CREATE TABLE IF NOT EXISTS daemon_schema (version INTEGER NOT NULL)");
      !ok) {
    return tl::unexpected(ok.error());
  }
  auto st = prepare(db, "SELECT version FROM daemon_schema");
  if (!st) return tl::unexpected(st.error());
  int version = 0;
  if (sqlite3_step(st->get()) == SQLITE_ROW) version = sqlite3_column_int(st->get(), 0);
  st->reset();
  if (version > schema_version) {
    return fail(Errc::database_error,
                fmt::format("release tables are at version {}, newer than this weightsd ({})",
                            version, schema_version),
                "run a newer weightsd");
  }
  for (int v = version; v < schema_version; ++v) {
    if (auto ok = exec(db, "BEGIN IMMEDIATE"); !ok) return tl::unexpected(ok.error());
    auto ok = exec(db, migrations[v]);
    if (ok) ok = exec(db, "DELETE FROM daemon_schema");
    if (ok) ok = exec(db, fmt::format("INSERT INTO daemon_schema VALUES ({})", v + 1));
    if (ok) ok = exec(db, "COMMIT");
    if (!ok) {
      exec(db, "ROLLBACK");
      return tl::unexpected(with_context(ok.error(), fmt::format("daemon migration {}", v + 1)));
    }
  }
  return ReleaseDb(std::move(h));
}

Result<std::vector<ReleaseRecord>> ReleaseDb::list() {
  auto st = prepare(h_->db, fmt::format("SELECT {} FROM releases ORDER BY id", columns));
  if (!st) return tl::unexpected(st.error());
  std::vector<ReleaseRecord> out;
  for (;;) {
    const int rc = sqlite3_step(st->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return db_error(h_->db, "list releases");
    out.push_back(read_row(st->get()));
  }
  return out;
}

Result<std::optional<ReleaseRecord>> ReleaseDb::get(std::string_view id) {
  auto st = prepare(h_->db, fmt::format("SELECT {} FROM releases WHERE id = ?1", columns));
  if (!st) return tl::unexpected(st.error());
  bind_text(st->get(), 1, id);
  const int rc = sqlite3_step(st->get());
  if (rc == SQLITE_DONE) return std::optional<ReleaseRecord>{};
  if (rc != SQLITE_ROW) return db_error(h_->db, "get release");
  return std::optional<ReleaseRecord>(read_row(st->get()));
}

Status ReleaseDb::put(const ReleaseRecord& r) {
  auto st = prepare(h_->db, fmt::format("INSERT OR REPLACE INTO releases ({}) VALUES (?1, ?2, ?3, "
                                        "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                                        "?16, ?17, ?18, ?19, ?20)",
                                        columns));
  if (!st) return tl::unexpected(st.error());
  sqlite3_stmt* s = st->get();
  bind_text(s, 1, r.id);
  bind_text(s, 2, r.feed);
  bind_text(s, 3, r.model);
  bind_text(s, 4, r.revision);
  bind_int(s, 5, static_cast<std::int64_t>(r.release_seq));
  bind_text(s, 6, r.v2_infohash);
  sqlite3_bind_blob(s, 7, r.manifest.data(), static_cast<int>(r.manifest.size()), SQLITE_TRANSIENT);
  bind_text(s, 8, r.origin == Origin::seeded ? "seeded" : "fetched");
  bind_text(s, 9, to_json_list(r.include));
  bind_text(s, 10, to_json_list(r.peers));
  bind_text(s, 11, to_json_list(r.verified));
  bind_int(s, 12, std::int64_t{r.pinned ? 1 : 0});
  bind_text(s, 13, r.state);
  bind_text(s, 14, r.error_code);
  bind_text(s, 15, r.error_message);
  bind_text(s, 16, r.error_hint);
  bind_text(s, 17, r.view_path);
  bind_int(s, 18, r.added_at);
  bind_int(s, 19, r.last_requested);
  bind_int(s, 20, r.last_scrubbed);
  if (sqlite3_step(s) != SQLITE_DONE) return db_error(h_->db, "put release");
  return {};
}

Status ReleaseDb::remove(std::string_view id) {
  auto st = prepare(h_->db, "DELETE FROM releases WHERE id = ?1");
  if (!st) return tl::unexpected(st.error());
  bind_text(st->get(), 1, id);
  if (sqlite3_step(st->get()) != SQLITE_DONE) return db_error(h_->db, "remove release");
  return {};
}

Status ReleaseDb::cache_manifest(std::string_view sha256, std::string_view bytes) {
  // Replaces: a reader that found a row whose bytes do not hash to its key repairs it this way.
  auto st =
      prepare(h_->db, "INSERT OR REPLACE INTO manifest_cache (sha256, bytes) VALUES (?1, ?2)");
  if (!st) return tl::unexpected(st.error());
  bind_text(st->get(), 1, sha256);
  sqlite3_bind_blob(st->get(), 2, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st->get()) != SQLITE_DONE) return db_error(h_->db, "cache manifest");
  return {};
}

Status ReleaseDb::cache_manifests(
    const std::vector<std::pair<std::string, std::string>>& manifests) {
  if (manifests.empty()) return {};
  // The key is the SHA-256 of the bytes, so an existing row already holds these bytes: keep it
  // (no page rewritten). The cache is an optimisation: readers check the hash again.
  auto st = prepare(h_->db,
                    "INSERT INTO manifest_cache (sha256, bytes) VALUES (?1, ?2) "
                    "ON CONFLICT (sha256) DO NOTHING");
  if (!st) return tl::unexpected(st.error());
  if (auto ok = exec(h_->db, "BEGIN IMMEDIATE"); !ok) return ok;
  for (const auto& [sha256, bytes] : manifests) {
    sqlite3_reset(st->get());
    bind_text(st->get(), 1, sha256);
    sqlite3_bind_blob(st->get(), 2, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(st->get()) != SQLITE_DONE) {
      auto err = db_error(h_->db, "cache manifest");
      (void)exec(h_->db, "ROLLBACK");
      return err;
    }
  }
  if (auto ok = exec(h_->db, "COMMIT"); !ok) {
    (void)exec(h_->db, "ROLLBACK");
    return ok;
  }
  return {};
}

Result<std::vector<std::string>> ReleaseDb::cached_manifest_hashes() {
  auto st = prepare(h_->db, "SELECT sha256 FROM manifest_cache ORDER BY sha256");
  if (!st) return tl::unexpected(st.error());
  std::vector<std::string> out;
  for (;;) {
    const int rc = sqlite3_step(st->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return db_error(h_->db, "cached manifest hashes");
    out.push_back(text(st->get(), 0));
  }
  return out;
}

Result<std::optional<std::string>> ReleaseDb::cached_manifest(std::string_view sha256) {
  auto st = prepare(h_->db, "SELECT bytes FROM manifest_cache WHERE sha256 = ?1");
  if (!st) return tl::unexpected(st.error());
  bind_text(st->get(), 1, sha256);
  const int rc = sqlite3_step(st->get());
  if (rc == SQLITE_DONE) return std::optional<std::string>{};
  if (rc != SQLITE_ROW) return db_error(h_->db, "cached manifest");
  return std::optional<std::string>(text(st->get(), 0));
}

}  // namespace weights::daemon

namespace weights::daemon {

Result<std::vector<Follow>> ReleaseDb::follows() {
  auto st = prepare(h_->db,
                    "SELECT id, feed, model_glob, alias, latest, max_size, created_at FROM follows "
                    "ORDER BY id");
  if (!st) return tl::unexpected(st.error());
  std::vector<Follow> out;
  for (;;) {
    const int rc = sqlite3_step(st->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return db_error(h_->db, "list follows");
    Follow f;
    f.id = sqlite3_column_int64(st->get(), 0);
    f.feed = text(st->get(), 1);
    f.model_glob = text(st->get(), 2);
    f.alias = text(st->get(), 3);
    f.latest = static_cast<std::uint32_t>(sqlite3_column_int64(st->get(), 4));
    f.max_size = static_cast<std::uint64_t>(sqlite3_column_int64(st->get(), 5));
    f.created_at = sqlite3_column_int64(st->get(), 6);
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::int64_t> ReleaseDb::add_follow(const Follow& f) {
  auto st = prepare(h_->db,
                    "INSERT INTO follows (feed, model_glob, alias, latest, max_size, created_at) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!st) return tl::unexpected(st.error());
  sqlite3_stmt* s = st->get();
  bind_text(s, 1, f.feed);
  bind_text(s, 2, f.model_glob);
  bind_text(s, 3, f.alias);
  bind_int(s, 4, f.latest);
  bind_int(s, 5, static_cast<std::int64_t>(f.max_size));
  bind_int(s, 6, f.created_at);
  if (sqlite3_step(s) != SQLITE_DONE) return db_error(h_->db, "add follow");
  return sqlite3_last_insert_rowid(h_->db);
}

Result<bool> ReleaseDb::remove_follow(std::int64_t id) {
  auto st = prepare(h_->db, "DELETE FROM follows WHERE id = ?1");
  if (!st) return tl::unexpected(st.error());
  bind_int(st->get(), 1, id);
  if (sqlite3_step(st->get()) != SQLITE_DONE) return db_error(h_->db, "remove follow");
  return sqlite3_changes(h_->db) > 0;
}

}  // namespace weights::daemon
