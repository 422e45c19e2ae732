// `weightsctl feed ...`: offline publisher tools (init, publish, rotate-root), the client check
// (verify), and the feeds a running weightsd follows (add, list, status, refresh, remove).
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <fmt/format.h>

#include "cli/client.hpp"
#include "cli/command.hpp"
#include "cli/common.hpp"
#include "core/db/state_store.hpp"
#include "core/feed/tuf_client.hpp"
#include "core/net/fetcher.hpp"
#include "core/publish/catalog_targets.hpp"
#include "core/publish/tuf_repo.hpp"
#include "core/trust/release_target.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/units.hpp"

namespace weights::cli {
namespace {

struct RoleOptions {
  std::vector<std::string> keys;
  std::uint64_t threshold = 0;  // 0: default
  std::string expiry;           // empty: default
};

struct InitArgs {
  std::string dir;
  RoleOptions root, targets, snapshot, timestamp;
  std::uint32_t bins = 0;
  RoleOptions bins_role;
  std::string now;
};

void add_role_options(CLI::App* cmd, const std::string& role, RoleOptions& o,
                      const std::string& default_expiry) {
  cmd->add_option("--" + role + "-key", o.keys,
                  "Private key file (PEM) of a " + role + " key; repeat for several");
  cmd->add_option("--" + role + "-threshold", o.threshold,
                  "Distinct " + role + " keys that must sign")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--" + role + "-expiry", o.expiry,
                  "How long " + role + " metadata stays valid (default " + default_expiry + ")");
}

Status apply_role(tuf::RoleSpec& spec, const RoleOptions& o, const char* role) {
  if (!o.keys.empty()) {
    auto keys = public_keys_of(o.keys);
    if (!keys) return tl::unexpected(keys.error());
    spec.keys = std::move(*keys);
  }
  if (o.threshold != 0) spec.threshold = o.threshold;
  if (!o.expiry.empty()) {
    auto d = units::parse_duration(o.expiry);
    if (d && d->count() == 0) {
      d = fail(Errc::invalid_argument, fmt::format("'{}' would expire at once", o.expiry),
               "use a positive duration: 90d, 12h, 30m or 45s");
    }
    if (!d) return tl::unexpected(with_context(d.error(), fmt::format("--{}-expiry", role)));
    spec.expiry = *d;
  }
  return {};
}

std::string describe_roles(const tuf::RolesSpec& spec) {
  std::string out;
  for (tuf::Role r :
       {tuf::Role::root, tuf::Role::targets, tuf::Role::snapshot, tuf::Role::timestamp}) {
    const auto& s = spec[r];
    out += fmt::format("  {:<9} threshold {} of {} key(s), expiry {}d\n", tuf::role_name(r),
                       s.threshold, s.keys.size(),
                       std::chrono::duration_cast<tuf::Days>(s.expiry).count());
    for (const auto& k : s.keys) out += fmt::format("            {}\n", k.keyid());
  }
  return out;
}

nlohmann::json roles_json(const tuf::RolesSpec& spec) {
  nlohmann::json j = nlohmann::json::object();
  for (tuf::Role r :
       {tuf::Role::root, tuf::Role::targets, tuf::Role::snapshot, tuf::Role::timestamp}) {
    const auto& s = spec[r];
    nlohmann::json keyids = nlohmann::json::array();
    for (const auto& k : s.keys) keyids.push_back(k.keyid());
    j[std::string(tuf::role_name(r))] = {
        {"threshold", s.threshold}, {"keyids", keyids}, {"expiry_seconds", s.expiry.count()}};
  }
  return j;
}

Status run_init(const Context& ctx, const InitArgs& a) {
  auto now = resolve_now(a.now);
  if (!now) return tl::unexpected(now.error());
  const bool any_keys = !a.root.keys.empty() || !a.targets.keys.empty() ||
                        !a.snapshot.keys.empty() || !a.timestamp.keys.empty();
  Result<tuf::Repo> repo = fail(Errc::internal, "unreachable");
  if (!any_keys) {
    tuf::InitOptions opt;
    if (auto st = apply_role(opt.spec.root, a.root, "root"); !st) return st;
    if (auto st = apply_role(opt.spec.targets, a.targets, "targets"); !st) return st;
    if (auto st = apply_role(opt.spec.snapshot, a.snapshot, "snapshot"); !st) return st;
    if (auto st = apply_role(opt.spec.timestamp, a.timestamp, "timestamp"); !st) return st;
    opt.root_keys = std::max<std::size_t>(3, opt.spec.root.threshold);
    if (auto st = tuf::check_bin_count(a.bins); !st) return st;
    opt.bins.count = a.bins;
    if (auto st = apply_role(opt.bins.role, a.bins_role, "bins"); !st) return st;
    opt.bins_keys = std::max<std::size_t>(1, opt.bins.role.threshold);
    repo = tuf::Repo::init(a.dir, opt, *now);
  } else {
    if (a.root.keys.empty() || a.targets.keys.empty() || a.snapshot.keys.empty() ||
        a.timestamp.keys.empty()) {
      return fail(Errc::invalid_argument,
                  "give keys for all four roles (--root-key, --targets-key, --snapshot-key, "
                  "--timestamp-key), or none to generate them");
    }
    tuf::RolesSpec spec;
    if (auto st = apply_role(spec.root, a.root, "root"); !st) return st;
    if (auto st = apply_role(spec.targets, a.targets, "targets"); !st) return st;
    if (auto st = apply_role(spec.snapshot, a.snapshot, "snapshot"); !st) return st;
    if (auto st = apply_role(spec.timestamp, a.timestamp, "timestamp"); !st) return st;
    tuf::BinsSpec bins;
    bins.count = a.bins;
    if (auto st = tuf::check_bin_count(a.bins); !st) return st;
    if (a.bins > 0) {
      if (a.bins_role.keys.empty()) {
        return fail(Errc::invalid_argument, "--bins needs --bins-key when keys are given");
      }
      if (auto st = apply_role(bins.role, a.bins_role, "bins"); !st) return st;
    }
    tuf::KeyRing ring;
    if (auto st = add_key_files(ring, a.root.keys); !st) return st;
    repo = tuf::Repo::create(a.dir, spec, ring, *now, bins);
  }
  if (!repo) return tl::unexpected(repo.error());
  const auto root_path = repo->public_dir() / "metadata" / "1.root.json";
  const auto& bins = repo->bins();
  emit(ctx,
       {{"dir", repo->dir().string()},
        {"public_dir", repo->public_dir().string()},
        {"root", root_path.string()},
        {"roles", roles_json(repo->spec())},
        {"bins", bins.count}},
       fmt::format("created feed in {}\n{}{}serve {} over any transport;\nclients subscribe "
                   "with the trust root {}\n",
                   repo->dir().string(), describe_roles(repo->spec()),
                   bins.count == 0
                       ? std::string()
                       : fmt::format("  bins      {} hashed bins, threshold {} of {} key(s)\n",
                                     bins.count, bins.role.threshold, bins.role.keys.size()),
                   repo->public_dir().string(), root_path.string()));
  return {};
}

struct PublishArgs {
  std::string dir;
  std::vector<std::string> keys;
  bool timestamp_only = false;
  std::uint32_t bins = 0;  // convert a flat feed to this many hashed bins first
  RoleOptions bins_role;
  std::string now;
};

Status run_publish(const Context& ctx, const PublishArgs& a) {
  auto now = resolve_now(a.now);
  if (!now) return tl::unexpected(now.error());
  auto repo = tuf::Repo::open(a.dir);
  if (!repo) return tl::unexpected(repo.error());
  std::vector<std::string> key_files = a.keys;
  key_files.insert(key_files.end(), a.bins_role.keys.begin(), a.bins_role.keys.end());
  auto ring = publisher_ring(*repo, key_files);
  if (!ring) return tl::unexpected(ring.error());
  if (a.bins > 0) {
    if (a.timestamp_only) {
      return fail(Errc::invalid_argument, "--bins needs a full publish, not --timestamp-only");
    }
    if (auto st = tuf::check_bin_count(a.bins); !st) return st;
    tuf::BinsSpec bins;
    bins.count = a.bins;
    if (a.bins_role.keys.empty()) {
      return fail(Errc::invalid_argument, "--bins needs --bins-key (the bins' signing key)",
                  "make one with `weightsctl key generate`");
    }
    if (auto st = apply_role(bins.role, a.bins_role, "bins"); !st) return st;
    // Saved at once: if the publish below fails, a plain `feed publish` finishes the change.
    if (auto st = repo->use_bins(bins); !st) return st;
  }
  Status st = a.timestamp_only ? repo->publish_timestamp(*ring, *now) : repo->publish(*ring, *now);
  if (!st) return st;
  nlohmann::json versions = {{"root", repo->version(tuf::Role::root)},
                             {"targets", repo->version(tuf::Role::targets)},
                             {"snapshot", repo->version(tuf::Role::snapshot)},
                             {"timestamp", repo->version(tuf::Role::timestamp)}};
  emit(ctx,
       {{"dir", repo->dir().string()}, {"versions", versions}, {"targets", repo->targets().size()}},
       fmt::format("published {}: root v{}, targets v{}, snapshot v{}, timestamp v{} "
                   "({} target(s))\n",
                   repo->public_dir().string(), repo->version(tuf::Role::root),
                   repo->version(tuf::Role::targets), repo->version(tuf::Role::snapshot),
                   repo->version(tuf::Role::timestamp), repo->targets().size()));
  return {};
}

struct CatalogArgs {
  std::string dir;
  std::vector<std::string> items;  // add: files; remove: families
  bool publish = false;
  std::vector<std::string> keys;
  std::string now;
};

// `feed catalog add|remove|list`: stages catalog files as targets; --publish signs at once.
Status run_catalog(const Context& ctx, const std::string& verb, const CatalogArgs& a) {
  auto repo = tuf::Repo::open(a.dir);
  if (!repo) return tl::unexpected(repo.error());
  nlohmann::json changed = nlohmann::json::array();
  std::string human;
  if (verb == "add") {
    for (const auto& file : a.items) {
      auto bytes = read_file(file, catalog::max_file_bytes);
      if (!bytes) return tl::unexpected(with_context(bytes.error(), file));
      auto t = add_catalog_target(*repo, *bytes, file);
      if (!t) return tl::unexpected(t.error());
      changed.push_back({{"path", t->path}, {"length", t->length}, {"sha256", t->sha256}});
      human += fmt::format("staged {} ({} bytes, sha256 {})\n", t->path, t->length, t->sha256);
    }
  } else if (verb == "remove") {
    for (const auto& family : a.items) {
      if (auto st = remove_catalog_target(*repo, family); !st) return st;
      changed.push_back({{"path", tuf::catalog_target_path(family)}});
      human += fmt::format("unlisted {}\n", tuf::catalog_target_path(family));
    }
  }
  if (a.publish && verb != "list") {
    auto now = resolve_now(a.now);
    if (!now) return tl::unexpected(now.error());
    auto ring = publisher_ring(*repo, a.keys);
    if (!ring) return tl::unexpected(ring.error());
    if (auto st = repo->publish(*ring, *now); !st) return st;
    human += fmt::format("published: targets v{}, snapshot v{}, timestamp v{}\n",
                         repo->version(tuf::Role::targets), repo->version(tuf::Role::snapshot),
                         repo->version(tuf::Role::timestamp));
  } else if (verb != "list") {
    human += "run `weightsctl feed publish` to sign it\n";
  }
  nlohmann::json listed = nlohmann::json::array();
  if (verb == "list") {
    for (const auto& t : listed_catalog_targets(*repo)) {
      listed.push_back({{"path", t.path}, {"length", t.length}, {"sha256", t.sha256}});
      human += fmt::format("{}  {} bytes  sha256 {}\n", t.path, t.length, t.sha256);
    }
    if (listed.empty()) human = "no catalog targets\n";
    emit(ctx, {{"dir", repo->dir().string()}, {"catalog", listed}}, human);
    return {};
  }
  emit(ctx,
       {{"dir", repo->dir().string()},
        {verb == "add" ? "added" : "removed", changed},
        {"published", a.publish}},
       human);
  return {};
}

struct RotateArgs {
  std::string dir;
  RoleOptions root, targets, snapshot, timestamp;
  std::vector<std::string> sign_with;
  bool no_publish = false;
  std::string now;
};

Status run_rotate(const Context& ctx, const RotateArgs& a) {
  auto now = resolve_now(a.now);
  if (!now) return tl::unexpected(now.error());
  auto repo = tuf::Repo::open(a.dir);
  if (!repo) return tl::unexpected(repo.error());
  tuf::RolesSpec spec = repo->spec();
  if (auto st = apply_role(spec.root, a.root, "root"); !st) return st;
  if (auto st = apply_role(spec.targets, a.targets, "targets"); !st) return st;
  if (auto st = apply_role(spec.snapshot, a.snapshot, "snapshot"); !st) return st;
  if (auto st = apply_role(spec.timestamp, a.timestamp, "timestamp"); !st) return st;
  // Signers: the publisher's key folder, the new keys themselves and any --sign-with files.
  std::vector<std::string> extra = a.sign_with;
  for (const auto* o : {&a.root, &a.targets, &a.snapshot, &a.timestamp}) {
    extra.insert(extra.end(), o->keys.begin(), o->keys.end());
  }
  auto ring = publisher_ring(*repo, extra);
  if (!ring) return tl::unexpected(ring.error());
  if (auto st = repo->rotate_root(spec, *ring, *now); !st) return st;
  const bool publish = !a.no_publish;
  if (publish) {
    if (auto st = repo->publish(*ring, *now); !st) {
      return tl::unexpected(with_context(st.error(), "root rotated, but publishing failed"));
    }
  }
  emit(ctx,
       {{"dir", repo->dir().string()},
        {"root_version", repo->version(tuf::Role::root)},
        {"published", publish},
        {"roles", roles_json(repo->spec())}},
       fmt::format("wrote root v{}\n{}{}", repo->version(tuf::Role::root),
                   describe_roles(repo->spec()),
                   publish ? "published targets, snapshot and timestamp\n" : ""));
  return {};
}

struct VerifyArgs {
  std::string root;
  std::string state;
  std::string location;
  std::string name = "feed";
  std::string now;
  std::string path_policy = "standard";
};

std::string role_line(const char* role, const tuf::RoleSummary& s) {
  return fmt::format("  {:<9} v{:<5} expires {}\n", role, s.version, format_utc(s.expires));
}

// Plain paths are stored absolute so later runs from another directory find the same feed.
std::string normalize_location(const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  std::error_code ec;
  auto abs = std::filesystem::weakly_canonical(std::filesystem::absolute(location, ec), ec);
  return ec ? location : abs.string();
}

Status run_verify(const Context& ctx, VerifyArgs a) {
  auto policy = parse_path_policy(a.path_policy);
  if (!policy) return tl::unexpected(policy.error());
  a.location = normalize_location(a.location);
  auto now = resolve_now(a.now);
  if (!now) return tl::unexpected(now.error());
  auto store = StateStore::open(a.state);
  if (!store) return tl::unexpected(store.error());
  auto existing = store->load_feed(a.name);
  if (!existing) {
    if (existing.error().code != Errc::not_found) return tl::unexpected(existing.error());
    if (a.root.empty()) {
      return fail(Errc::invalid_argument,
                  fmt::format("state {} does not track feed '{}' yet", a.state, a.name),
                  "pass --root with the feed's trust root (e.g. metadata/1.root.json)");
    }
    auto root_bytes = read_file(a.root, tuf::max_root_bytes);
    if (!root_bytes) return tl::unexpected(with_context(root_bytes.error(), a.root));
    if (auto st = tuf::add_feed(*store, a.name, a.location, *root_bytes, *now); !st) {
      return tl::unexpected(with_context(st.error(), a.root));
    }
  } else if (existing->location != a.location) {
    return fail(
        Errc::invalid_argument,
        fmt::format("state {} already tracks feed '{}' at {}", a.state, a.name, existing->location),
        "use --name to track another feed, or another --state directory");
  }
  auto fetcher = make_fetcher(a.location);
  if (!fetcher) return tl::unexpected(fetcher.error());

  std::vector<ReleaseManifest> manifests;
  tuf::TargetValidator validator = [&manifests, policy = *policy](
                                       const tuf::TargetInfo& t, std::string_view bytes) -> Status {
    auto m = validate_release_target(t, bytes, policy);
    if (!m) return tl::unexpected(m.error());
    manifests.push_back(std::move(*m));
    return {};
  };
  auto outcome = tuf::refresh(*store, a.name, **fetcher, *now, validator);
  if (!outcome) {
    return tl::unexpected(with_context(outcome.error(), fmt::format("refused {}", a.location)));
  }

  nlohmann::json releases = nlohmann::json::array();
  std::string human = fmt::format("feed '{}' at {}: {}\n", a.name, a.location,
                                  refresh_result_name(outcome->result));
  human += role_line("root", outcome->root) + role_line("timestamp", outcome->timestamp) +
           role_line("snapshot", outcome->snapshot) + role_line("targets", outcome->targets);
  std::size_t n_releases = 0;
  for (const auto& t : outcome->trusted_targets) {
    if (t.kind == tuf::TargetKind::release) ++n_releases;
  }
  human += fmt::format("trusted releases: {}\n", n_releases);
  for (const auto& t : outcome->trusted_targets) {
    if (t.kind != tuf::TargetKind::release) continue;
    nlohmann::json r = {{"model", t.model},
                        {"revision", t.revision},
                        {"release_seq", t.release_seq},
                        {"path", t.path},
                        {"sha256", t.sha256}};
    std::string detail;
    for (const auto& m : manifests) {
      if (m.model == t.model && m.revision == t.revision) {
        r["files"] = m.files.size();
        r["total_length"] = m.total_length;
        r["aliases"] = m.aliases;
        r["v2_infohash"] = m.torrent.v2_infohash;
        detail = fmt::format(", {} files, {}", m.files.size(), human_bytes(m.total_length));
      }
    }
    releases.push_back(std::move(r));
    human +=
        fmt::format("  {}@{} (release_seq {}{})\n", t.model, t.revision, t.release_seq, detail);
  }
  auto role_json = [](const tuf::RoleSummary& s) {
    return nlohmann::json{{"version", s.version}, {"expires", format_utc(s.expires)}};
  };
  emit(ctx,
       {{"feed", a.name},
        {"location", a.location},
        {"result", std::string(refresh_result_name(outcome->result))},
        {"roles",
         {{"root", role_json(outcome->root)},
          {"timestamp", role_json(outcome->timestamp)},
          {"snapshot", role_json(outcome->snapshot)},
          {"targets", role_json(outcome->targets)}}},
        {"releases", releases}},
       human);
  return {};
}

// --- feeds held by the daemon ------------------------------------------------------------

std::string feed_line(const api::Feed& f) {
  std::string status = f.result;
  if (f.stale_since) status = fmt::format("STALE since {}", *f.stale_since);
  return fmt::format("{:<20} {:<8} releases {:<4} {}", f.name, status, f.releases, f.location);
}

std::string feed_details(const api::Feed& f) {
  std::string out = feed_line(f) + "\n";
  for (const auto& m : f.mirrors) out += fmt::format("  mirror:       {}\n", m);
  out += fmt::format("  last success: {}\n", f.last_success.value_or("never"));
  if (f.last_refusal) {
    out += fmt::format("  last refusal: {} {}: {}\n", f.last_refusal->time, f.last_refusal->code,
                       f.last_refusal->message);
  }
  if (f.refresh.running) out += "  refreshing now\n";
  if (f.refresh.consecutive_failures > 0) {
    out += fmt::format("  failed refreshes in a row: {}\n", f.refresh.consecutive_failures);
  }
  if (f.refresh.next) out += fmt::format("  next refresh: {}\n", *f.refresh.next);
  // In the order the JSON object lists them (by name).
  for (const auto& [role, v] :
       {std::pair{"root", &f.roles.root}, std::pair{"snapshot", &f.roles.snapshot},
        std::pair{"targets", &f.roles.targets}, std::pair{"timestamp", &f.roles.timestamp}}) {
    out += fmt::format("  {:<9} v{:<5} expires {}\n", role, v->version, v->expires.value_or("?"));
  }
  if (const auto& c = f.catalog; c && (c->snapshot_version || c->error)) {
    out += c->snapshot_version ? fmt::format("  catalog:      {} from snapshot v{}: {}\n", c->layer,
                                             *c->snapshot_version, fmt::join(c->files, ", "))
                               : fmt::format("  catalog:      {} none installed\n", c->layer);
    if (c->error) {
      out += fmt::format("  catalog error: {}: {} (the installed layer stays)\n", c->error->code,
                         c->error->message);
    }
  }
  return out;
}

struct FeedAddArgs {
  std::string name, location, root;
  std::vector<std::string> mirrors;
  bool no_wait = false;
};

std::string absolute_location(const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  std::error_code ec;
  auto abs = std::filesystem::absolute(location, ec);
  return ec ? location : abs.lexically_normal().string();
}

Status run_feed_add(const Context& ctx, const FeedAddArgs& a) {
  auto root = read_file(a.root, tuf::max_root_bytes);
  if (!root) return tl::unexpected(with_context(root.error(), a.root));
  api::AddFeedRequest req{a.name, absolute_location(a.location), *root, {}};
  for (const auto& m : a.mirrors) req.mirrors.push_back(absolute_location(m));
  const auto client = client_for(ctx);
  auto r = client.add_feed(req);
  if (!r) return tl::unexpected(r.error());
  if (!a.no_wait) {
    // The first refresh runs in weightsd; show its outcome. A refusal is not an add failure:
    // the feed stays subscribed and is retried.
    r = wait_for_refresh(client, a.name, r->ticket.value_or(0));
    if (!r) return tl::unexpected(r.error());
  }
  emit(ctx, *r, feed_details(*r));
  return {};
}

Status run_feed_refresh(const Context& ctx, const std::string& name, bool no_wait) {
  const auto client = client_for(ctx);
  auto r = client.refresh_feed(name);
  if (!r) return tl::unexpected(r.error());
  const auto ticket = r->ticket.value_or(0);
  if (!no_wait) {
    r = wait_for_refresh(client, name, ticket);
    if (!r) return tl::unexpected(r.error());
    if (auto refused = refusal_of(*r, ticket)) return tl::unexpected(*refused);
  }
  emit(ctx, *r, feed_details(*r));
  return {};
}

Status run_feed_list(const Context& ctx) {
  auto r = client_for(ctx).feeds();
  if (!r) return tl::unexpected(r.error());
  std::string human;
  for (const auto& x : r->feeds) human += feed_line(x) + "\n";
  emit(ctx, *r, human.empty() ? "no feeds (add one with `weightsctl feed add`)\n" : human);
  return {};
}

Status run_feed_verb(const Context& ctx, const std::string& verb, const std::string& name,
                     bool no_wait) {
  if (verb == "refresh") return run_feed_refresh(ctx, name, no_wait);
  const auto client = client_for(ctx);
  if (verb == "remove") {
    auto r = client.remove_feed(name);
    if (!r) return tl::unexpected(r.error());
    emit(ctx, *r, fmt::format("removed feed {}\n", name));
    return {};
  }
  auto r = client.feed(name);
  if (!r) return tl::unexpected(r.error());
  emit(ctx, *r, feed_details(*r));
  return {};
}

}  // namespace

void register_feed_commands(CLI::App& app, Context& ctx) {
  auto* feed = app.add_subcommand("feed", "Create, publish and verify signed feeds");
  feed->require_subcommand(1);
  feed->footer(
      "Publisher: init, publish, rotate-root. Client check: verify. Daemon subscriptions:\n"
      "add, list, status, refresh, remove.\nExamples:\n  weightsctl feed init pub/\n"
      "  weightsctl feed add demo /srv/feed --root demo-root.json");

  auto init = std::make_shared<InitArgs>();
  auto* ci = feed->add_subcommand("init", "Create a publisher directory and sign root v1");
  ci->add_option("dir", init->dir, "Publisher directory (created; must not hold a feed)")
      ->required();
  add_role_options(ci, "root", init->root, "365d");
  add_role_options(ci, "targets", init->targets, "90d");
  add_role_options(ci, "snapshot", init->snapshot, "7d");
  add_role_options(ci, "timestamp", init->timestamp, "1d");
  ci->add_option("--bins", init->bins,
                 "Delegate targets to this many hashed bins (a power of two, 2-4096; default: "
                 "none, one flat targets.json). Adding a release then re-signs one bin");
  add_role_options(ci, "bins", init->bins_role, "90d");
  ci->add_option("--now", init->now, "Use this time instead of the clock (YYYY-MM-DDTHH:MM:SSZ)");
  ci->footer(
      "With no keys given, generates 3 root keys (threshold 2) and one key per other role into\n"
      "DIR/keys (mode 0600). Keep the root and targets keys offline.\n"
      "Examples:\n"
      "  weightsctl feed init pub/\n"
      "  weightsctl feed init pub/ --root-key r1.pem --root-key r2.pem --root-key r3.pem \\\n"
      "      --root-threshold 2 --targets-key t.pem --snapshot-key s.pem --timestamp-key ts.pem");
  ci->callback([&ctx, init] { ctx.action = [&ctx, init] { return run_init(ctx, *init); }; });

  auto pub = std::make_shared<PublishArgs>();
  auto* cp = feed->add_subcommand(
      "publish", "Sign new targets, snapshot and timestamp versions for the staged targets");
  cp->add_option("dir", pub->dir, "Publisher directory")->required();
  cp->add_option("--key", pub->keys, "Extra private key file to sign with (besides DIR/keys)");
  cp->add_flag("--timestamp-only", pub->timestamp_only,
               "Only re-sign timestamp.json (run by a timer with the online key)");
  cp->add_option("--bins", pub->bins,
                 "Convert a flat feed to this many hashed bins (a power of two, 2-4096), signed "
                 "by --bins-key");
  add_role_options(cp, "bins", pub->bins_role, "90d");
  cp->add_option("--now", pub->now, "Use this time instead of the clock");
  cp->footer("Example:\n  weightsctl feed publish pub/ --key /media/offline/targets.pem");
  cp->callback([&ctx, pub] { ctx.action = [&ctx, pub] { return run_publish(ctx, *pub); }; });

  auto rot = std::make_shared<RotateArgs>();
  auto* cr = feed->add_subcommand(
      "rotate-root", "Sign root N+1 with new keys or thresholds (old and new root must agree)");
  cr->add_option("dir", rot->dir, "Publisher directory")->required();
  add_role_options(cr, "root", rot->root, "unchanged");
  add_role_options(cr, "targets", rot->targets, "unchanged");
  add_role_options(cr, "snapshot", rot->snapshot, "unchanged");
  add_role_options(cr, "timestamp", rot->timestamp, "unchanged");
  cr->add_option("--sign-with", rot->sign_with,
                 "Private key file of a current root key that signs the new root");
  cr->add_flag("--no-publish", rot->no_publish, "Do not re-sign the other roles afterwards");
  cr->add_option("--now", rot->now, "Use this time instead of the clock");
  cr->footer(
      "A role given keys gets exactly those keys; roles not mentioned keep theirs.\n"
      "Example (replace the timestamp key):\n"
      "  weightsctl feed rotate-root pub/ --timestamp-key new-ts.pem \\\n"
      "      --sign-with /media/offline/root-1.pem --sign-with /media/offline/root-2.pem");
  cr->callback([&ctx, rot] { ctx.action = [&ctx, rot] { return run_rotate(ctx, *rot); }; });

  auto ver = std::make_shared<VerifyArgs>();
  auto* cv = feed->add_subcommand(
      "verify", "Run the client refresh against a feed and print what it now trusts");
  cv->add_option("location", ver->location, "Feed location: a directory or file:// URL")
      ->required();
  cv->add_option("--root", ver->root,
                 "Trust root (N.root.json) for first use; later runs use the state's root");
  cv->add_option("--state", ver->state, "Client state directory (created if missing)")->required();
  cv->add_option("--name", ver->name, "Name of the feed in the state (default: feed)");
  cv->add_option("--now", ver->now, "Use this time instead of the clock");
  cv->add_option("--path-policy", ver->path_policy,
                 "standard, or portable: also refuse release file paths that are not NFC or "
                 "not creatable on Windows (docs/manifest-format.md 7.2)")
      ->check(CLI::IsMember({"standard", "portable"}));
  cv->footer(
      "Exits 75 and says why when the feed fails verification (65 for a malformed manifest or\n"
      "a path the policy refuses); the state keeps what it trusted before. Example:\n"
      "  weightsctl feed verify --root root.json --state ~/.local/state/weights pub/public");
  cv->callback([&ctx, ver] { ctx.action = [&ctx, ver] { return run_verify(ctx, *ver); }; });

  auto* cat = feed->add_subcommand(
      "catalog", "Publish catalog files (model names pinned to commits) through a feed");
  cat->require_subcommand(1);
  cat->footer(
      "Catalog files become targets catalog/<family>.toml; followers install them as the\n"
      "catalog layer feed:<name> (docs/catalog.md).\nExamples:\n"
      "  weightsctl feed catalog add pub/ acme.toml --publish\n"
      "  weightsctl feed catalog list pub/");
  for (const char* verb : {"add", "remove", "list"}) {
    const std::string v = verb;
    auto args = std::make_shared<CatalogArgs>();
    auto* c = cat->add_subcommand(verb, v == "add"
                                            ? "Stage catalog files as targets catalog/<family>.toml"
                                        : v == "remove" ? "Unlist the catalog file of a family"
                                                        : "List the catalog files the feed lists");
    c->add_option("dir", args->dir, "Publisher directory")->required();
    if (v == "add") {
      c->add_option("file", args->items, "Catalog file (docs/catalog.md); repeatable")->required();
    } else if (v == "remove") {
      c->add_option("family", args->items, "Family whose file to unlist; repeatable")->required();
    }
    if (v != "list") {
      c->add_flag("--publish", args->publish, "Sign and publish right away (`feed publish`)");
      c->add_option("--key", args->keys, "Extra private key file for --publish");
      c->add_option("--now", args->now, "Use this time instead of the clock");
    }
    c->footer(v == "add"
                  ? "Each file is checked strictly (`weightsctl catalog validate`), and with the "
                    "feed's other\ncatalog files as one layer, before it is staged.\n"
                    "Example:\n  weightsctl feed catalog add pub/ acme.toml --publish"
              : v == "remove" ? "Example:\n  weightsctl feed catalog remove pub/ acme --publish"
                              : "Example:\n  weightsctl feed catalog list pub/");
    c->callback(
        [&ctx, v, args] { ctx.action = [&ctx, v, args] { return run_catalog(ctx, v, *args); }; });
  }

  register_feed_daemon_commands(feed, ctx);
}

void register_feed_daemon_commands(CLI::App* feed, Context& ctx) {
  auto add = std::make_shared<FeedAddArgs>();
  auto* ca =
      feed->add_subcommand("add", "Subscribe weightsd to a feed with an explicit trust root");
  ca->add_option("name", add->name, "Local name for the feed")->required();
  ca->add_option("location", add->location, "Feed location: a directory or file:// URL")
      ->required();
  ca->add_option("--root", add->root, "Trust root file (N.root.json), obtained out of band")
      ->required();
  ca->add_option("--mirror", add->mirrors,
                 "Another location of the same feed, tried in order when one fails; repeatable");
  ca->add_flag("--no-wait", add->no_wait, "Do not wait for the first refresh");
  ca->footer(
      "Locations: a directory, file:///path, http://host/path or https://host/path.\n"
      "Example:\n  weightsctl feed add demo https://feeds.example/demo --root demo-root.json "
      "\\\n      --mirror https://mirror.example/demo");
  ca->callback([&ctx, add] { ctx.action = [&ctx, add] { return run_feed_add(ctx, *add); }; });

  auto* cl = feed->add_subcommand("list", "List the feeds weightsd follows");
  cl->footer(
      "Examples:\n  weightsctl feed list\n  weightsctl --json feed list | jq -r '.feeds[].name'");
  cl->callback([&ctx] { ctx.action = [&ctx] { return run_feed_list(ctx); }; });

  for (const char* verb : {"status", "refresh", "remove"}) {
    auto name = std::make_shared<std::string>();
    auto no_wait = std::make_shared<bool>(false);
    const std::string v = verb;
    auto* c =
        feed->add_subcommand(verb, v == "status"    ? "Show a feed's freshness and last refusal"
                                   : v == "refresh" ? "Refresh a feed now (full TUF verification)"
                                                    : "Unsubscribe from a feed");
    c->add_option("name", *name, "Feed name")->required();
    if (v == "refresh") {
      c->add_flag("--no-wait", *no_wait, "Start the refresh and return at once");
      c->footer(
          "Waits for the refresh and exits with its refusal, if any; the feed keeps what "
          "it trusted before.\nExample:\n  weightsctl feed refresh demo");
    } else {
      c->footer(fmt::format("Example:\n  weightsctl feed {} demo", v));
    }
    c->callback([&ctx, name, v, no_wait] {
      ctx.action = [&ctx, name, v, no_wait] { return run_feed_verb(ctx, v, *name, *no_wait); };
    });
  }
}

}  // namespace weights::cli
