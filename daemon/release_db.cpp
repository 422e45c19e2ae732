#include "daemon/release_db.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace weights::daemon {
namespace {

using db::Blob;
using db::Connection;
using db::Statement;

tl::unexpected<Error> in(const Error& e, std::string_view what) {
  return tl::unexpected(with_context(e, fmt::format("release db: {}", what)));
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

ReleaseRecord read_row(const Statement& s) {
  ReleaseRecord r;
  r.id = s.text(0);
  r.feed = s.text(1);
  r.model = s.text(2);
  r.revision = s.text(3);
  r.release_seq = s.uint64(4);
  r.v2_infohash = s.text(5);
  r.manifest = s.blob(6);
  r.origin = origin_from_name(s.text(7));
  r.include = from_json_list(s.text(8));
  r.peers = from_json_list(s.text(9));
  r.verified = from_json_list(s.text(10));
  r.pinned = s.int64(11) != 0;
  r.state = s.text(12);
  r.error_code = s.text(13);
  r.error_message = s.text(14);
  r.error_hint = s.text(15);
  r.view_path = s.text(16);
  r.added_at = s.int64(17);
  r.last_requested = s.int64(18);
  r.last_scrubbed = s.int64(19);
  return r;
}

// Every row of `stmt` through `read`.
template <typename T, typename F>
Result<std::vector<T>> rows(Statement& stmt, F&& read) {
  std::vector<T> out;
  while (true) {
    auto more = stmt.step();
    if (!more) return tl::unexpected(more.error());
    if (!*more) return out;
    out.push_back(read(stmt));
  }
}

}  // namespace

ReleaseDb::ReleaseDb(std::shared_ptr<db::StateDb> db) : db_(std::move(db)) {}
ReleaseDb::ReleaseDb(ReleaseDb&&) noexcept = default;
ReleaseDb& ReleaseDb::operator=(ReleaseDb&&) noexcept = default;
ReleaseDb::~ReleaseDb() = default;

Result<std::vector<ReleaseRecord>> ReleaseDb::list() {
  auto st = db_->connection().prepare(fmt::format("SELECT {} FROM releases ORDER BY id", columns));
  if (!st) return in(st.error(), "list releases");
  auto out = rows<ReleaseRecord>(*st, read_row);
  if (!out) return in(out.error(), "list releases");
  return out;
}

Result<std::optional<ReleaseRecord>> ReleaseDb::get(std::string_view id) {
  auto st =
      db_->connection().prepare(fmt::format("SELECT {} FROM releases WHERE id = ?1", columns));
  if (!st) return in(st.error(), "get release");
  if (auto ok = st->bind(1, id); !ok) return in(ok.error(), "get release");
  auto row = st->step();
  if (!row) return in(row.error(), "get release");
  if (!*row) return std::optional<ReleaseRecord>{};
  return std::optional<ReleaseRecord>(read_row(*st));
}

Status ReleaseDb::put(const ReleaseRecord& r) {
  auto st = db_->connection().prepare(
      fmt::format("INSERT OR REPLACE INTO releases ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                  "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
                  columns));
  if (!st) return in(st.error(), "put release");
  auto ok = st->bind_all(r.id, r.feed, r.model, r.revision, r.release_seq, r.v2_infohash,
                         Blob{r.manifest}, std::string(origin_name(r.origin)),
                         to_json_list(r.include), to_json_list(r.peers), to_json_list(r.verified),
                         r.pinned ? 1 : 0, r.state, r.error_code, r.error_message, r.error_hint,
                         r.view_path, r.added_at, r.last_requested, r.last_scrubbed);
  if (ok) ok = st->run();
  if (!ok) return in(ok.error(), "put release");
  return {};
}

Status ReleaseDb::remove(std::string_view id) {
  for (const char* sql : {"DELETE FROM releases WHERE id = ?1",
                          "DELETE FROM upstream_status WHERE release_id = ?1"}) {
    auto st = db_->connection().prepare(sql);
    if (!st) return in(st.error(), "remove release");
    auto ok = st->bind(1, id);
    if (ok) ok = st->run();
    if (!ok) return in(ok.error(), "remove release");
  }
  return {};
}

Status ReleaseDb::cache_manifest(std::string_view sha256, std::string_view bytes) {
  // Replaces: a reader that found a row whose bytes do not hash to its key repairs it this way.
  auto st = db_->connection().prepare(
      "INSERT OR REPLACE INTO manifest_cache (sha256, bytes) VALUES (?1, ?2)");
  if (!st) return in(st.error(), "cache manifest");
  auto ok = st->bind_all(sha256, Blob{bytes});
  if (ok) ok = st->run();
  if (!ok) return in(ok.error(), "cache manifest");
  return {};
}

Status ReleaseDb::cache_manifests(
    const std::vector<std::pair<std::string, std::string>>& manifests) {
  if (manifests.empty()) return {};
  Connection& db = db_->connection();
  // The key is the SHA-256 of the bytes, so an existing row already holds these bytes: keep it
  // (no page rewritten). The cache is an optimisation: readers check the hash again.
  auto st = db.prepare(
      "INSERT INTO manifest_cache (sha256, bytes) VALUES (?1, ?2) "
      "ON CONFLICT (sha256) DO NOTHING");
  if (!st) return in(st.error(), "cache manifests");
  auto txn = db::Transaction::begin(db);
  if (!txn) return in(txn.error(), "cache manifests");
  for (const auto& [sha256, bytes] : manifests) {
    st->reset();
    auto ok = st->bind_all(sha256, Blob{bytes});
    if (ok) ok = st->run();
    if (!ok) return in(ok.error(), "cache manifests");
  }
  if (auto ok = txn->commit(); !ok) return in(ok.error(), "cache manifests");
  return {};
}

Result<std::vector<std::string>> ReleaseDb::cached_manifest_hashes() {
  auto st = db_->connection().prepare("SELECT sha256 FROM manifest_cache ORDER BY sha256");
  if (!st) return in(st.error(), "cached manifest hashes");
  auto out = rows<std::string>(*st, [](const Statement& s) { return s.text(0); });
  if (!out) return in(out.error(), "cached manifest hashes");
  return out;
}

Result<std::optional<std::string>> ReleaseDb::cached_manifest(std::string_view sha256) {
  auto st = db_->connection().prepare("SELECT bytes FROM manifest_cache WHERE sha256 = ?1");
  if (!st) return in(st.error(), "cached manifest");
  if (auto ok = st->bind(1, sha256); !ok) return in(ok.error(), "cached manifest");
  auto row = st->step();
  if (!row) return in(row.error(), "cached manifest");
  if (!*row) return std::optional<std::string>{};
  return std::optional<std::string>(st->blob(0));
}

namespace {

std::string_view answer_name(HubAnswer a) {
  switch (a) {
    case HubAnswer::none:
      return "";
    case HubAnswer::serving:
      return "serving";
    case HubAnswer::refused:
      return "refused";
  }
  return "";
}

HubAnswer answer_from(std::string_view name) {
  if (name == "serving") return HubAnswer::serving;
  if (name == "refused") return HubAnswer::refused;
  return HubAnswer::none;
}

}  // namespace

Result<std::vector<std::pair<std::string, HubStatus>>> ReleaseDb::hub_statuses() {
  auto st = db_->connection().prepare(
      "SELECT release_id, answer, http_status, error_code, answer_since, answer_checked, "
      "unreachable_since, error, checked FROM upstream_status ORDER BY release_id");
  if (!st) return in(st.error(), "hub statuses");
  auto out = rows<std::pair<std::string, HubStatus>>(*st, [](const Statement& s) {
    HubStatus h;
    h.answer = answer_from(s.text(1));
    h.http_status = static_cast<unsigned>(s.int64(2));
    h.error_code = s.text(3);
    h.answer_since = s.int64(4);
    h.answer_checked = s.int64(5);
    h.unreachable_since = s.int64(6);
    h.error = s.text(7);
    h.checked = s.int64(8);
    return std::pair{s.text(0), std::move(h)};
  });
  if (!out) return in(out.error(), "hub statuses");
  return out;
}

Status ReleaseDb::put_hub_status(std::string_view id, const HubStatus& h) {
  auto st = db_->connection().prepare(
      "INSERT OR REPLACE INTO upstream_status (release_id, answer, http_status, error_code, "
      "answer_since, answer_checked, unreachable_since, error, checked) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!st) return in(st.error(), "put hub status");
  auto ok = st->bind_all(id, std::string(answer_name(h.answer)), h.http_status, h.error_code,
                         h.answer_since, h.answer_checked, h.unreachable_since, h.error, h.checked);
  if (ok) ok = st->run();
  if (!ok) return in(ok.error(), "put hub status");
  return {};
}

Result<std::optional<std::int64_t>> ReleaseDb::license_accepted(std::string_view upstream,
                                                                std::string_view repo,
                                                                std::string_view license) {
  auto st = db_->connection().prepare(
      "SELECT accepted_at FROM license_acceptances WHERE upstream = ?1 AND repo = ?2 AND "
      "license = ?3");
  if (!st) return in(st.error(), "licence acceptance");
  if (auto ok = st->bind_all(upstream, repo, license); !ok) {
    return in(ok.error(), "licence acceptance");
  }
  auto row = st->step();
  if (!row) return in(row.error(), "licence acceptance");
  if (!*row) return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>(st->int64(0));
}

Status ReleaseDb::accept_license(std::string_view upstream, std::string_view repo,
                                 std::string_view license, std::int64_t when) {
  auto st = db_->connection().prepare(
      "INSERT INTO license_acceptances (upstream, repo, license, accepted_at) "
      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (upstream, repo, license) DO NOTHING");
  if (!st) return in(st.error(), "accept licence");
  auto ok = st->bind_all(upstream, repo, license, when);
  if (ok) ok = st->run();
  if (!ok) return in(ok.error(), "accept licence");
  return {};
}

Result<std::vector<Follow>> ReleaseDb::follows() {
  auto st = db_->connection().prepare(
      "SELECT id, feed, model_glob, alias, latest, max_size, created_at, source, accept_license "
      "FROM follows ORDER BY id");
  if (!st) return in(st.error(), "list follows");
  auto out = rows<Follow>(*st, [](const Statement& s) {
    Follow f;
    f.id = s.int64(0);
    f.feed = s.text(1);
    f.model_glob = s.text(2);
    f.alias = s.text(3);
    f.latest = static_cast<std::uint32_t>(s.int64(4));
    f.max_size = s.uint64(5);
    f.created_at = s.int64(6);
    f.source = s.text(7) == "catalog" ? FollowSource::catalog : FollowSource::feed;
    f.accept_license = s.int64(8) != 0;
    return f;
  });
  if (!out) return in(out.error(), "list follows");
  return out;
}

Result<std::int64_t> ReleaseDb::add_follow(const Follow& f) {
  Connection& db = db_->connection();
  auto st = db.prepare(
      "INSERT INTO follows (feed, model_glob, alias, latest, max_size, created_at, source, "
      "accept_license) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!st) return in(st.error(), "add follow");
  const std::string source = f.source == FollowSource::catalog ? "catalog" : "feed";
  auto ok = st->bind_all(f.feed, f.model_glob, f.alias, f.latest, f.max_size, f.created_at, source,
                         f.accept_license ? 1 : 0);
  if (ok) ok = st->run();
  if (!ok) return in(ok.error(), "add follow");
  return db.last_insert_rowid();
}

Result<bool> ReleaseDb::remove_follow(std::int64_t id) {
  Connection& db = db_->connection();
  auto st = db.prepare("DELETE FROM follows WHERE id = ?1");
  if (!st) return in(st.error(), "remove follow");
  auto ok = st->bind(1, id);
  if (ok) ok = st->run();
  if (!ok) return in(ok.error(), "remove follow");
  return db.changes() > 0;
}

std::string_view origin_name(Origin origin) {
  switch (origin) {
    case Origin::fetched:
      return "fetched";
    case Origin::seeded:
      return "seeded";
    case Origin::upstream:
      return "upstream";
  }
  return "fetched";
}

Origin origin_from_name(std::string_view name) {
  if (name == "seeded") return Origin::seeded;
  if (name == "upstream") return Origin::upstream;
  return Origin::fetched;
}

}  // namespace weights::daemon
