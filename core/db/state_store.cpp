#include "core/db/state_store.hpp"

#include <fmt/format.h>

namespace weights {

namespace {

using db::Blob;
using db::Connection;
using db::Statement;
using db::Transaction;

// A row of `SELECT <target_columns> FROM trusted_targets`.
constexpr std::string_view target_columns =
    "path, length, sha256, kind, model, revision, release_seq";
Result<tuf::TargetInfo> target_from_row(const Statement& stmt) {
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

std::int64_t to_unix(TimePoint t) {
  return t.time_since_epoch().count();
}
TimePoint from_unix(std::int64_t s) {
  return TimePoint(std::chrono::seconds(s));
}

constexpr tuf::Role stored_roles[] = {tuf::Role::root, tuf::Role::timestamp, tuf::Role::snapshot,
                                      tuf::Role::targets};

// Runs `stmt` to the end, calling `row(stmt)` for each row; stops at the first error `row`
// returns.
template <typename F>
Status each_row(Statement& stmt, F&& row) {
  while (true) {
    auto more = stmt.step();
    if (!more) return tl::unexpected(more.error());
    if (!*more) return {};
    if constexpr (std::is_same_v<std::invoke_result_t<F, Statement&>, Status>) {
      if (auto ok = row(stmt); !ok) return ok;
    } else {
      row(stmt);
    }
  }
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

StateStore::StateStore(std::shared_ptr<db::StateDb> db) : db_(std::move(db)) {}
StateStore::StateStore(StateStore&&) noexcept = default;
StateStore& StateStore::operator=(StateStore&&) noexcept = default;
StateStore::~StateStore() = default;

Result<StateStore> StateStore::open(const std::filesystem::path& state_dir, Lock lock) {
  auto db = db::StateDb::open(state_dir, lock);
  if (!db) return tl::unexpected(db.error());
  return StateStore(std::move(*db));
}

namespace {

Status put_role(Connection& db, std::string_view feed, tuf::Role role, const TrustedRole& r) {
  auto stmt = db.prepare(
      "INSERT OR REPLACE INTO trusted_metadata (feed, role, version, bytes, expires) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok =
          stmt->bind_all(feed, tuf::role_name(role), r.version, Blob{r.bytes}, to_unix(r.expires));
      !ok) {
    return ok;
  }
  return stmt->run();
}

Status delete_role(Connection& db, std::string_view feed, tuf::Role role) {
  auto stmt = db.prepare("DELETE FROM trusted_metadata WHERE feed = ?1 AND role = ?2");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind_all(feed, tuf::role_name(role)); !ok) return ok;
  return stmt->run();
}

Status insert_log(Connection& db, std::string_view feed, const RefreshLogEntry& e) {
  auto stmt = db.prepare(
      "INSERT INTO refresh_log (feed, time, outcome, error_code, message) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind_all(feed, to_unix(e.time), refresh_result_name(e.result), e.error_code,
                               e.message);
      !ok) {
    return ok;
  }
  if (auto ok = stmt->run(); !ok) return ok;
  auto prune = db.prepare(
      "DELETE FROM refresh_log WHERE feed = ?1 AND id NOT IN (SELECT id FROM "
      "refresh_log WHERE feed = ?1 ORDER BY id DESC LIMIT ?2)");
  if (!prune) return tl::unexpected(prune.error());
  if (auto ok = prune->bind_all(feed, StateStore::log_entries_kept); !ok) return ok;
  return prune->run();
}

Result<bool> feed_exists(Connection& db, std::string_view feed) {
  auto stmt = db.prepare("SELECT 1 FROM feeds WHERE name = ?1");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind(1, feed); !ok) return tl::unexpected(ok.error());
  return stmt->step();
}

tl::unexpected<Error> no_feed(std::string_view feed) {
  return fail(Errc::not_found, fmt::format("feed \"{}\" is not configured", feed),
              "list feeds with `weightsctl feed list`");
}

// A write transaction in which `feed` is configured (not_found otherwise).
Result<Transaction> begin_on_feed(Connection& db, std::string_view feed) {
  auto txn = Transaction::begin(db);
  if (!txn) return tl::unexpected(txn.error());
  auto exists = feed_exists(db, feed);
  if (!exists) return tl::unexpected(exists.error());
  if (!*exists) return no_feed(feed);
  return txn;
}

Result<std::optional<RefreshLogEntry>> last_log(Connection& db, std::string_view feed,
                                                std::string_view where) {
  auto stmt = db.prepare(fmt::format(
      "SELECT time, outcome, error_code, message FROM refresh_log WHERE feed = ?1 AND {} "
      "ORDER BY id DESC LIMIT 1",
      where));
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
  Connection& db = db_->connection();
  auto txn = Transaction::begin(db);
  if (!txn) return tl::unexpected(txn.error());
  auto exists = feed_exists(db, name);
  if (!exists) return tl::unexpected(exists.error());
  if (*exists) {
    return fail(Errc::already_exists, fmt::format("feed \"{}\" already exists", name));
  }
  auto stmt = db.prepare("INSERT INTO feeds (name, location, added_at) VALUES (?1, ?2, ?3)");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind_all(name, location, to_unix(now)); !ok) return ok;
  if (auto ok = stmt->run(); !ok) return ok;
  auto ins = db.prepare("INSERT INTO feed_mirrors (feed, position, location) VALUES (?1, ?2, ?3)");
  if (!ins) return tl::unexpected(ins.error());
  std::int64_t position = 0;
  for (const auto& m : mirrors) {
    ins->reset();
    if (auto ok = ins->bind_all(name, ++position, m); !ok) return ok;
    if (auto ok = ins->run(); !ok) return ok;
  }
  if (auto ok = put_role(db, name, tuf::Role::root, root); !ok) return ok;
  return txn->commit();
}

Status StateStore::remove_feed(std::string_view name) {
  Connection& db = db_->connection();
  auto txn = begin_on_feed(db, name);
  if (!txn) return tl::unexpected(txn.error());
  auto stmt = db.prepare("DELETE FROM feeds WHERE name = ?1");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind(1, name); !ok) return ok;
  if (auto ok = stmt->run(); !ok) return ok;
  return txn->commit();
}

Result<std::vector<std::string>> StateStore::list_feeds() {
  auto stmt = db_->connection().prepare("SELECT name FROM feeds ORDER BY name");
  if (!stmt) return tl::unexpected(stmt.error());
  std::vector<std::string> names;
  auto ok = each_row(*stmt, [&](Statement& row) { names.push_back(row.text(0)); });
  if (!ok) return tl::unexpected(ok.error());
  return names;
}

Result<std::size_t> StateStore::count_targets(std::string_view name, tuf::TargetKind kind) {
  auto stmt = db_->connection().prepare(
      "SELECT count(*) FROM trusted_targets WHERE feed = ?1 AND kind = ?2");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind_all(name, tuf::kind_name(kind)); !ok) return tl::unexpected(ok.error());
  auto row = stmt->step();
  if (!row) return tl::unexpected(row.error());
  return static_cast<std::size_t>(stmt->uint64(0));
}

Result<std::vector<tuf::TargetInfo>> StateStore::model_targets(std::string_view feed,
                                                               std::string_view model) {
  auto stmt = db_->connection().prepare(
      fmt::format("SELECT {} FROM trusted_targets WHERE feed = ?1 AND model = ?2 ORDER BY path",
                  target_columns));
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind_all(feed, model); !ok) return tl::unexpected(ok.error());
  std::vector<tuf::TargetInfo> out;
  auto ok = each_row(*stmt, [&](Statement& row) -> Status {
    auto t = target_from_row(row);
    if (!t) {
      return fail(Errc::database_error,
                  fmt::format("feed \"{}\": stored target has {}", feed, t.error().message));
    }
    out.push_back(std::move(*t));
    return {};
  });
  if (!ok) return tl::unexpected(ok.error());
  return out;
}

Result<std::vector<std::string>> StateStore::target_hashes(std::string_view name,
                                                           tuf::TargetKind kind) {
  auto stmt =
      db_->connection().prepare("SELECT sha256 FROM trusted_targets WHERE feed = ?1 AND kind = ?2");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind_all(name, tuf::kind_name(kind)); !ok) return tl::unexpected(ok.error());
  std::vector<std::string> out;
  auto ok = each_row(*stmt, [&](Statement& row) { out.push_back(row.text(0)); });
  if (!ok) return tl::unexpected(ok.error());
  return out;
}

Result<FeedState> StateStore::load_feed(std::string_view name, FeedDetail detail) {
  Connection& db = db_->connection();
  // One read transaction so the queries see the same commit (rolled back at the end: it wrote
  // nothing).
  auto read = Transaction::begin(db, db::TxMode::deferred);
  if (!read) return tl::unexpected(read.error());

  FeedState state;
  state.name = std::string(name);
  {
    auto stmt = db.prepare("SELECT location FROM feeds WHERE name = ?1");
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, name); !ok) return tl::unexpected(ok.error());
    auto row = stmt->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return no_feed(name);
    state.location = stmt->text(0);
  }
  {
    auto stmt = db.prepare("SELECT location FROM feed_mirrors WHERE feed = ?1 ORDER BY position");
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, name); !ok) return tl::unexpected(ok.error());
    auto ok = each_row(*stmt, [&](Statement& row) { state.mirrors.push_back(row.text(0)); });
    if (!ok) return tl::unexpected(ok.error());
  }
  {
    auto stmt = db.prepare(detail == FeedDetail::full
                               ? "SELECT role, version, bytes, expires FROM trusted_metadata "
                                 "WHERE feed = ?1"
                               : "SELECT role, version, x'', expires FROM trusted_metadata "
                                 "WHERE feed = ?1");
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, name); !ok) return tl::unexpected(ok.error());
    bool have_root = false;
    auto ok = each_row(*stmt, [&](Statement& row) {
      TrustedRole r{row.uint64(1), row.blob(2), from_unix(row.int64(3))};
      const auto role = row.text(0);
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
    });
    if (!ok) return tl::unexpected(ok.error());
    if (!have_root) {
      return fail(Errc::database_error, fmt::format("feed \"{}\" has no trusted root", name));
    }
  }
  if (detail == FeedDetail::full) {
    auto stmt = db.prepare(fmt::format(
        "SELECT {}, role FROM trusted_targets WHERE feed = ?1 ORDER BY path", target_columns));
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, name); !ok) return tl::unexpected(ok.error());
    auto ok = each_row(*stmt, [&](Statement& row) -> Status {
      auto t = target_from_row(row);
      if (!t) {
        return fail(Errc::database_error,
                    fmt::format("feed \"{}\": stored target has {}", name, t.error().message));
      }
      state.trusted_targets.push_back(std::move(*t));
      state.target_roles.push_back(row.text(7));
      return {};
    });
    if (!ok) return tl::unexpected(ok.error());
  }
  if (detail == FeedDetail::full) {
    // A leaf role's envelope is never needed again once verified: only delegating roles'.
    auto stmt = db.prepare(
        "SELECT role, version, length, sha256, expires, delegates, "
        "CASE WHEN delegates = 1 THEN bytes ELSE x'' END FROM trusted_delegated WHERE feed = ?1");
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, name); !ok) return tl::unexpected(ok.error());
    auto ok = each_row(*stmt, [&](Statement& row) {
      TrustedDelegatedRole r;
      r.version = row.uint64(1);
      r.length = row.uint64(2);
      r.sha256 = row.text(3);
      r.expires = from_unix(row.int64(4));
      r.delegates = row.int64(5) != 0;
      r.bytes = row.blob(6);
      state.delegated.emplace(row.text(0), std::move(r));
    });
    if (!ok) return tl::unexpected(ok.error());
  }
  if (detail == FeedDetail::full) {
    auto stmt = db.prepare("SELECT model, max_seq FROM model_release_seq WHERE feed = ?1");
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, name); !ok) return tl::unexpected(ok.error());
    auto ok =
        each_row(*stmt, [&](Statement& row) { state.release_seq[row.text(0)] = row.uint64(1); });
    if (!ok) return tl::unexpected(ok.error());
  }
  return state;
}

namespace {

// Only what changed is written: a new targets version of a large feed usually adds or changes
// a few entries, and rewriting every row (and every model's release_seq) would make each
// commit O(feed size) in pages written and fsynced.
Status write_targets(Connection& db, std::string_view feed,
                     const std::vector<tuf::TargetInfo>& targets,
                     const std::vector<std::string>& roles) {
  if (!roles.empty() && roles.size() != targets.size()) {
    return fail(Errc::internal, "trusted targets and their roles differ in number");
  }
  std::map<std::string, std::pair<tuf::TargetInfo, std::string>> old_targets;
  {
    auto stmt = db.prepare(
        fmt::format("SELECT {}, role FROM trusted_targets WHERE feed = ?1", target_columns));
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, feed); !ok) return ok;
    auto ok = each_row(*stmt, [&](Statement& row) {
      // An unreadable kind compares unequal to every valid one: the row is rewritten.
      auto t = target_from_row(row);
      if (!t) return;
      std::string path = t->path;
      old_targets.emplace(std::move(path), std::pair{std::move(*t), row.text(7)});
    });
    if (!ok) return ok;
  }
  auto ins = db.prepare(
      "INSERT OR REPLACE INTO trusted_targets (feed, path, length, sha256, kind, model, "
      "revision, release_seq, role) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!ins) return tl::unexpected(ins.error());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    const std::string_view role = roles.empty() ? std::string_view("targets") : roles[i];
    if (auto old = old_targets.find(t.path); old != old_targets.end()) {
      const bool same = old->second.first == t && old->second.second == role;
      old_targets.erase(old);
      if (same) continue;
    }
    ins->reset();
    if (auto ok = ins->bind_all(feed, t.path, t.length, t.sha256, tuf::kind_name(t.kind), t.model,
                                t.revision, t.release_seq, role);
        !ok) {
      return ok;
    }
    if (auto ok = ins->run(); !ok) return ok;
  }
  // Rows still in old_targets are gone from the new targets (or were unreadable).
  auto del = db.prepare("DELETE FROM trusted_targets WHERE feed = ?1 AND path = ?2");
  if (!del) return tl::unexpected(del.error());
  for (const auto& [path, t] : old_targets) {
    del->reset();
    if (auto ok = del->bind_all(feed, path); !ok) return ok;
    if (auto ok = del->run(); !ok) return ok;
  }
  return {};
}

// Like write_targets: a role stored with the same version and sha256 is the same metadata.
Status write_delegated(Connection& db, std::string_view feed,
                       const std::map<std::string, TrustedDelegatedRole>& roles) {
  std::map<std::string, std::pair<std::uint64_t, std::string>> old_roles;
  {
    auto stmt = db.prepare("SELECT role, version, sha256 FROM trusted_delegated WHERE feed = ?1");
    if (!stmt) return tl::unexpected(stmt.error());
    if (auto ok = stmt->bind(1, feed); !ok) return ok;
    auto ok = each_row(*stmt, [&](Statement& row) {
      old_roles.emplace(row.text(0), std::pair{row.uint64(1), row.text(2)});
    });
    if (!ok) return ok;
  }
  auto ins = db.prepare(
      "INSERT OR REPLACE INTO trusted_delegated (feed, role, version, length, sha256, expires, "
      "delegates, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!ins) return tl::unexpected(ins.error());
  for (const auto& [name, r] : roles) {
    if (auto old = old_roles.find(name); old != old_roles.end()) {
      const bool same = old->second.first == r.version && old->second.second == r.sha256;
      old_roles.erase(old);
      if (same) continue;
    }
    if (r.bytes.size() != r.length) {
      return fail(Errc::internal,
                  fmt::format("delegated role {} to store without its bytes", name));
    }
    ins->reset();
    if (auto ok = ins->bind_all(feed, name, r.version, r.length, r.sha256, to_unix(r.expires),
                                std::int64_t{r.delegates ? 1 : 0}, Blob{r.bytes});
        !ok) {
      return ok;
    }
    if (auto ok = ins->run(); !ok) return ok;
  }
  auto del = db.prepare("DELETE FROM trusted_delegated WHERE feed = ?1 AND role = ?2");
  if (!del) return tl::unexpected(del.error());
  for (const auto& [name, r] : old_roles) {
    del->reset();
    if (auto ok = del->bind_all(feed, name); !ok) return ok;
    if (auto ok = del->run(); !ok) return ok;
  }
  return {};
}

Status merge_release_seq(Connection& db, std::string_view feed,
                         const std::map<std::string, std::uint64_t>& release_seq) {
  std::map<std::string, std::uint64_t> old_max;
  auto stmt = db.prepare("SELECT model, max_seq FROM model_release_seq WHERE feed = ?1");
  if (!stmt) return tl::unexpected(stmt.error());
  if (auto ok = stmt->bind(1, feed); !ok) return ok;
  if (auto ok =
          each_row(*stmt, [&](Statement& row) { old_max.emplace(row.text(0), row.uint64(1)); });
      !ok) {
    return ok;
  }
  // max() keeps the highest sequence ever trusted even if a caller passes a lower one.
  auto up = db.prepare(
      "INSERT INTO model_release_seq (feed, model, max_seq) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (feed, model) DO UPDATE SET max_seq = max(max_seq, excluded.max_seq)");
  if (!up) return tl::unexpected(up.error());
  for (const auto& [model, seq] : release_seq) {
    if (auto old = old_max.find(model); old != old_max.end() && old->second >= seq) continue;
    up->reset();
    if (auto ok = up->bind_all(feed, model, seq); !ok) return ok;
    if (auto ok = up->run(); !ok) return ok;
  }
  return {};
}

}  // namespace

Status StateStore::commit_refresh(std::string_view feed, const TrustedUpdate& update,
                                  TimePoint now) {
  Connection& db = db_->connection();
  auto txn = begin_on_feed(db, feed);
  if (!txn) return tl::unexpected(txn.error());

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
  if (auto ok = write_targets(db, feed, update.trusted_targets, update.target_roles); !ok) {
    return ok;
  }
  if (auto ok = write_delegated(db, feed, update.delegated); !ok) return ok;
  if (auto ok = merge_release_seq(db, feed, update.release_seq); !ok) return ok;
  RefreshLogEntry entry{now, RefreshResult::updated, "",
                        fmt::format("root v{}, timestamp v{}", update.root.version,
                                    update.timestamp ? update.timestamp->version : 0)};
  if (auto ok = insert_log(db, feed, entry); !ok) return ok;
  return txn->commit();
}

Status StateStore::record_refresh(std::string_view feed, const RefreshLogEntry& entry) {
  Connection& db = db_->connection();
  auto txn = begin_on_feed(db, feed);
  if (!txn) return tl::unexpected(txn.error());
  if (auto ok = insert_log(db, feed, entry); !ok) return ok;
  return txn->commit();
}

Status StateStore::record_refusal(std::string_view feed, TimePoint now, const Error& error) {
  return record_refresh(feed, RefreshLogEntry{now, RefreshResult::refused,
                                              std::string(code_name(error.code)), error.message});
}

Result<std::optional<RefreshLogEntry>> StateStore::last_success(std::string_view feed) {
  return last_log(db_->connection(), feed, "outcome IN ('updated', 'up_to_date')");
}

Result<std::optional<RefreshLogEntry>> StateStore::last_refusal(std::string_view feed) {
  return last_log(db_->connection(), feed, "outcome = 'refused'");
}

}  // namespace weights
