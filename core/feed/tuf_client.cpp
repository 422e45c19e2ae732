#include "core/feed/tuf_client.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "core/trust/dsse.hpp"
#include "core/util/encoding.hpp"
#include "core/util/path_policy.hpp"

namespace weights::tuf {

namespace {

// Payload of metadata we verified before storing it. Signatures are not re-checked: the keys
// that signed it may since have been rotated away, which is fine for data already trusted.
Result<std::string> stored_payload(const TrustedRole& role, std::string_view what) {
  auto env = dsse::parse(role.bytes);
  if (!env) {
    return fail(Errc::database_error,
                fmt::format("stored {} metadata is unreadable: {}", what, env.error().message));
  }
  return std::move(env->payload);
}

template <class T>
Result<T> stored(const TrustedRole& role, std::string_view what,
                 Result<T> (*parse)(std::string_view)) {
  auto payload = stored_payload(role, what);
  if (!payload) return tl::unexpected(payload.error());
  auto parsed = parse(*payload);
  if (!parsed) {
    return fail(Errc::database_error,
                fmt::format("stored {} metadata is invalid: {}", what, parsed.error().message));
  }
  return parsed;
}

Status check_not_expired(TimePoint expires, TimePoint now, std::string_view label) {
  // TUF: the expiry must be strictly later than the fixed start time.
  if (expires <= now) {
    return fail(Errc::expired, fmt::format("{} expired at {} (now {})", label, format_utc(expires),
                                           format_utc(now)));
  }
  return {};
}

// Fetch a file whose length and sha256 a verified referrer pinned; the bytes are checked before
// anything parses them.
Result<std::string> fetch_pinned(Fetcher& fetcher, const std::string& name, std::uint64_t length,
                                 std::string_view sha256, std::uint64_t cap,
                                 std::string_view referrer) {
  if (length > cap) {
    return fail(Errc::too_large, fmt::format("{}: {} pins {} bytes, above the limit of {}", name,
                                             referrer, length, cap));
  }
  auto bytes = fetcher.fetch(name, length);
  if (!bytes) {
    if (bytes.error().code == Errc::too_large) {
      return fail(Errc::length_mismatch,
                  fmt::format("{}: longer than the {} bytes pinned by {}", name, length, referrer));
    }
    return tl::unexpected(bytes.error());
  }
  if (bytes->size() != length) {
    return fail(Errc::length_mismatch,
                fmt::format("{}: {} bytes, {} pinned {}", name, bytes->size(), referrer, length));
  }
  const auto actual = crypto::sha256_hex(*bytes);
  if (actual != sha256) {
    return fail(Errc::hash_mismatch,
                fmt::format("{}: sha256 {} differs from {} pinned by {}", name,
                            actual.substr(0, 16), std::string(sha256.substr(0, 16)), referrer));
  }
  return bytes;
}

// All state of one refresh. Each step reads what the previous ones verified.
struct Session {
  Session(const FeedState& t, Fetcher& f, TimePoint n, const ClientLimits& l)
      : trusted(t), fetcher(f), now(n), limits(l) {}
  const FeedState& trusted;
  Fetcher& fetcher;
  TimePoint now;
  const ClientLimits& limits;

  RootMetadata root;
  TrustedRole root_role;
  bool root_changed = false;
  std::optional<TimestampMetadata> trusted_timestamp;
  std::optional<SnapshotMetadata> trusted_snapshot;
  bool forget_timestamp_snapshot = false;

  TimestampMetadata timestamp;
  TrustedRole timestamp_role;
  SnapshotMetadata snapshot;
  TrustedRole snapshot_role;
  TargetsMetadata targets;
  TrustedRole targets_role;
  std::map<std::string, std::uint64_t> release_seq;

  // Delegations (resolve_delegations). Set once the top-level targets or any delegating role
  // was fetched in this refresh: from then on no stored role is kept, since the keys and
  // patterns that vouched for it may have changed.
  bool delegations_changed = false;
  std::set<std::string> visited;
  std::map<std::string, TrustedDelegatedRole> delegated;
  std::vector<std::string> target_roles;  // parallel to targets.targets once resolved
  std::size_t roles_fetched = 0, roles_kept = 0;
};

Status load_trusted(Session& s) {
  auto root = stored(s.trusted.root, "root", &parse_root);
  if (!root) return tl::unexpected(root.error());
  s.root = std::move(*root);
  s.root_role = s.trusted.root;
  if (s.trusted.timestamp) {
    auto ts = stored(*s.trusted.timestamp, "timestamp", &parse_timestamp);
    if (!ts) return tl::unexpected(ts.error());
    s.trusted_timestamp = std::move(*ts);
  }
  if (s.trusted.snapshot) {
    auto snap = stored(*s.trusted.snapshot, "snapshot", &parse_snapshot);
    if (!snap) return tl::unexpected(snap.error());
    s.trusted_snapshot = std::move(*snap);
  }
  return {};
}

// tuf-spec 5.3: follow N+1.root.json until absent. Each new root must be signed by a threshold
// of the previous root's root keys and of its own, and carry exactly version N+1.
Status update_root(Session& s) {
  const RootMetadata original = s.root;
  for (std::uint64_t i = 0; i < s.limits.max_root_rotations; ++i) {
    const std::uint64_t next = s.root.version + 1;
    const std::string name = root_file_name(next);
    auto bytes = s.fetcher.fetch(name, s.limits.max_root_bytes);
    if (!bytes) {
      if (bytes.error().code == Errc::not_found) break;
      return tl::unexpected(with_context(bytes.error(), fmt::format("root v{}", next)));
    }
    auto payload =
        verify_envelope(*bytes, s.root.keys_for(Role::root), s.root.root.threshold,
                        fmt::format("root v{} (by the keys of root v{})", next, s.root.version));
    if (!payload) return tl::unexpected(payload.error());
    auto candidate = parse_root(*payload);
    if (!candidate) return tl::unexpected(with_context(candidate.error(), name));
    if (candidate->version != next) {
      return fail(candidate->version < next ? Errc::rollback : Errc::version_mismatch,
                  fmt::format("{} contains version {}, expected exactly {}", name,
                              candidate->version, next));
    }
    auto self = verify_envelope(*bytes, candidate->keys_for(Role::root), candidate->root.threshold,
                                fmt::format("root v{} (by its own keys)", next));
    if (!self) return tl::unexpected(self.error());
    s.root = std::move(*candidate);
    s.root_role = TrustedRole{next, std::move(*bytes), s.root.expires};
    s.root_changed = true;
  }
  // Only the final root's expiry matters (5.3.10).
  if (auto ok = check_not_expired(s.root.expires, s.now, fmt::format("root v{}", s.root.version));
      !ok) {
    return ok;
  }
  // 5.3.11: after a rotation of the online keys, forget timestamp/snapshot versions so the
  // repository can recover from a fast-forward attack with the old keys.
  if (s.root_changed && (original.keys_for(Role::timestamp) != s.root.keys_for(Role::timestamp) ||
                         original.keys_for(Role::snapshot) != s.root.keys_for(Role::snapshot))) {
    s.forget_timestamp_snapshot = true;
    s.trusted_timestamp.reset();
    s.trusted_snapshot.reset();
  }
  return {};
}

enum class TimestampChange { newer, same };

// tuf-spec 5.4.
Result<TimestampChange> update_timestamp(Session& s) {
  auto bytes = s.fetcher.fetch(timestamp_file_name, s.limits.max_timestamp_bytes);
  if (!bytes) return tl::unexpected(with_context(bytes.error(), "timestamp"));
  auto payload = verify_role(*bytes, s.root, Role::timestamp);
  if (!payload) return tl::unexpected(payload.error());
  auto ts = parse_timestamp(*payload);
  if (!ts) return tl::unexpected(ts.error());
  if (s.trusted_timestamp) {
    const auto& old = *s.trusted_timestamp;
    if (ts->version < old.version) {
      return fail(Errc::rollback, fmt::format("timestamp v{} is older than the trusted v{}",
                                              ts->version, old.version));
    }
    if (ts->version == old.version) {
      // Nothing new. A repository that keeps serving the same expired timestamp is a freeze
      // attack or an abandoned feed: say so instead of reporting "up to date".
      if (old.expires <= s.now) {
        return fail(Errc::expired,
                    fmt::format("feed is stale since {}: timestamp v{} expired and nothing fresher "
                                "is served",
                                format_utc(old.expires), old.version));
      }
      return TimestampChange::same;
    }
    if (ts->snapshot.version < old.snapshot.version) {
      return fail(Errc::rollback,
                  fmt::format("timestamp v{} lists snapshot v{}, older than the trusted v{}",
                              ts->version, ts->snapshot.version, old.snapshot.version));
    }
  }
  if (auto ok = check_not_expired(ts->expires, s.now, fmt::format("timestamp v{}", ts->version));
      !ok) {
    return tl::unexpected(ok.error());
  }
  s.timestamp = std::move(*ts);
  s.timestamp_role = TrustedRole{s.timestamp.version, std::move(*bytes), s.timestamp.expires};
  return TimestampChange::newer;
}

// tuf-spec 5.5.
Status update_snapshot(Session& s) {
  const MetaFile& pin = s.timestamp.snapshot;
  const std::string name = snapshot_file_name(pin.version);
  auto bytes = fetch_pinned(s.fetcher, name, pin.length, pin.sha256, s.limits.max_pinned_bytes,
                            fmt::format("timestamp v{}", s.timestamp.version));
  if (!bytes) return tl::unexpected(with_context(bytes.error(), "snapshot"));
  auto payload = verify_role(*bytes, s.root, Role::snapshot);
  if (!payload) return tl::unexpected(payload.error());
  auto snap = parse_snapshot(*payload);
  if (!snap) return tl::unexpected(snap.error());
  if (snap->version != pin.version) {
    return fail(Errc::version_mismatch,
                fmt::format("snapshot: {} contains version {}, timestamp v{} pins {}", name,
                            snap->version, s.timestamp.version, pin.version));
  }
  if (s.trusted_snapshot && snap->targets.version < s.trusted_snapshot->targets.version) {
    return fail(
        Errc::rollback,
        fmt::format("snapshot v{} lists targets v{}, older than the trusted v{}", snap->version,
                    snap->targets.version, s.trusted_snapshot->targets.version));
  }
  // tuf-spec 5.5.5 for delegated roles: every role the trusted snapshot lists stays listed,
  // with a version that does not decrease.
  if (s.trusted_snapshot) {
    for (const auto& [role, old] : s.trusted_snapshot->delegated) {
      const auto now_listed = snap->delegated.find(role);
      if (now_listed == snap->delegated.end()) {
        return fail(Errc::rollback,
                    fmt::format("snapshot v{} no longer lists role {} (trusted v{})", snap->version,
                                role, old.version));
      }
      if (now_listed->second.version < old.version) {
        return fail(Errc::rollback,
                    fmt::format("snapshot v{} lists role {} v{}, older than the trusted v{}",
                                snap->version, role, now_listed->second.version, old.version));
      }
    }
  }
  if (auto ok = check_not_expired(snap->expires, s.now, fmt::format("snapshot v{}", snap->version));
      !ok) {
    return ok;
  }
  s.snapshot = std::move(*snap);
  s.snapshot_role = TrustedRole{s.snapshot.version, std::move(*bytes), s.snapshot.expires};
  return {};
}

// tuf-spec 5.6.
Status update_targets(Session& s) {
  const MetaFile& pin = s.snapshot.targets;
  const std::string name = targets_file_name(pin.version);
  // The trusted targets, verified under the same root's keys, when the new snapshot pins
  // exactly them (a feed with delegations changes its top-level targets rarely).
  if (!s.root_changed && s.trusted.targets && s.trusted.targets->version == pin.version &&
      s.trusted.targets->bytes.size() == pin.length &&
      crypto::sha256_hex(s.trusted.targets->bytes) == pin.sha256) {
    auto kept = stored(*s.trusted.targets, "targets", &parse_targets);
    if (!kept) return tl::unexpected(kept.error());
    if (auto ok =
            check_not_expired(kept->expires, s.now, fmt::format("targets v{}", kept->version));
        !ok) {
      return ok;
    }
    s.targets = std::move(*kept);
    s.targets_role = *s.trusted.targets;
    return {};
  }
  s.delegations_changed = true;
  auto bytes = fetch_pinned(s.fetcher, name, pin.length, pin.sha256, s.limits.max_pinned_bytes,
                            fmt::format("snapshot v{}", s.snapshot.version));
  if (!bytes) return tl::unexpected(with_context(bytes.error(), "targets"));
  auto payload = verify_role(*bytes, s.root, Role::targets);
  if (!payload) return tl::unexpected(payload.error());
  auto targets = parse_targets(*payload);
  if (!targets) return tl::unexpected(targets.error());
  if (targets->version != pin.version) {
    return fail(Errc::version_mismatch,
                fmt::format("targets: {} contains version {}, snapshot v{} pins {}", name,
                            targets->version, s.snapshot.version, pin.version));
  }
  if (auto ok =
          check_not_expired(targets->expires, s.now, fmt::format("targets v{}", targets->version));
      !ok) {
    return ok;
  }
  s.targets = std::move(*targets);
  s.targets_role = TrustedRole{s.targets.version, std::move(*bytes), s.targets.expires};
  return {};
}

// One delegated role in the pre-order walk: the delegations from the top-level targets down
// to it (each must trust the role for a target it lists), and how many terminating
// delegations had been passed when it was entered.
struct RoleVisit {
  std::vector<const DelegatedRole*> chain;
  std::size_t blocked_before = 0;
};

// Resolution state of one refresh.
struct Resolver {
  Session& s;
  // Roles kept from the trusted state: their trusted targets are resolved again as they are.
  std::set<std::string, std::less<>> kept_roles;
  // Finished terminating delegations: a path they match is not resolved by any later role.
  std::vector<std::vector<const DelegatedRole*>> blocked;
  // Indices into `blocked` by the hash prefixes of their last delegation, and those whose last
  // delegation has path patterns: a path is compared with the few that can match it, not with
  // every bin before it (hashed bins are all terminating).
  std::map<std::string, std::vector<std::size_t>, std::less<>> blocked_by_prefix;
  std::set<std::size_t> prefix_lengths;
  std::vector<std::size_t> blocked_by_pattern;
  void block(std::vector<const DelegatedRole*> chain) {
    const std::size_t index = blocked.size();
    const DelegatedRole& last = *chain.back();
    for (const auto& prefix : last.path_hash_prefixes) {
      blocked_by_prefix[prefix].push_back(index);
      prefix_lengths.insert(prefix.size());
    }
    if (!last.paths.empty()) blocked_by_pattern.push_back(index);
    blocked.push_back(std::move(chain));
  }
  // Parsed metadata of every role visited (keeps the DelegatedRole objects alive).
  std::vector<std::unique_ptr<TargetsMetadata>> parsed;
  std::vector<std::pair<const TargetInfo*, std::string_view>> resolved;
};

bool chain_matches(const std::vector<const DelegatedRole*>& chain, std::string_view path,
                   std::string_view hash) {
  return std::all_of(chain.begin(), chain.end(),
                     [&](const DelegatedRole* d) { return d->matches(path, hash); });
}

// The TUF lookup of `path` reaches the role at `visit` and stops there: every delegation on the
// way trusts the role for it, and no terminating delegation passed before claims it.
bool resolves_to(const Resolver& r, const RoleVisit& visit, const std::string& path) {
  const std::string hash = target_path_hash(path);
  if (!chain_matches(visit.chain, path, hash)) return false;
  const auto claims = [&](std::size_t i) {
    return i < visit.blocked_before && chain_matches(r.blocked[i], path, hash);
  };
  for (const std::size_t length : r.prefix_lengths) {
    const auto it = r.blocked_by_prefix.find(std::string_view(hash).substr(0, length));
    if (it == r.blocked_by_prefix.end()) continue;
    if (std::any_of(it->second.begin(), it->second.end(), claims)) return false;
  }
  return std::none_of(r.blocked_by_pattern.begin(), r.blocked_by_pattern.end(), claims);
}

Status visit_role(Resolver& r, const Delegations& parent_delegations, const DelegatedRole& role,
                  std::string_view parent, RoleVisit visit);

// The roles `delegations` names, in order (pre-order depth-first). A role already visited
// (a loop, or a role delegated from two places) is not visited again (tuf-spec 5.6.7.2.1).
Status visit_delegations(Resolver& r, const Delegations& delegations, std::string_view parent,
                         const RoleVisit& parent_visit) {
  for (const auto& role : delegations.roles) {
    if (r.s.visited.contains(role.name)) continue;
    RoleVisit child;
    child.chain = parent_visit.chain;
    child.chain.push_back(&role);
    if (child.chain.size() > r.s.limits.max_delegation_depth) {
      return fail(
          Errc::too_large,
          fmt::format("role {} (delegated by {}) is {} delegations deep, above the limit "
                      "of {}",
                      role.name, parent, child.chain.size(), r.s.limits.max_delegation_depth));
    }
    if (r.s.visited.size() >= r.s.limits.max_delegated_roles) {
      return fail(Errc::too_large,
                  fmt::format("role {} (delegated by {}): more than {} delegated roles", role.name,
                              parent, r.s.limits.max_delegated_roles));
    }
    child.blocked_before = r.blocked.size();
    if (auto ok = visit_role(r, delegations, role, parent, std::move(child)); !ok) return ok;
    if (role.terminating) {
      auto chain = parent_visit.chain;
      chain.push_back(&role);
      r.block(std::move(chain));
    }
  }
  return {};
}

Status visit_role(Resolver& r, const Delegations& parent_delegations, const DelegatedRole& role,
                  std::string_view parent, RoleVisit visit) {
  Session& s = r.s;
  s.visited.insert(role.name);
  const auto pin_it = s.snapshot.delegated.find(role.name);
  if (pin_it == s.snapshot.delegated.end()) {
    return fail(Errc::schema_error,
                fmt::format("role {} (delegated by {}) is not listed in snapshot v{}", role.name,
                            parent, s.snapshot.version));
  }
  const MetaFile& pin = pin_it->second;
  const auto trusted = s.trusted.delegated.find(role.name);
  const std::string label = fmt::format("role {} v{}", role.name, pin.version);

  const bool keep = !s.delegations_changed && trusted != s.trusted.delegated.end() &&
                    trusted->second.version == pin.version &&
                    trusted->second.length == pin.length && trusted->second.sha256 == pin.sha256;
  if (keep) {
    // Verified under the same delegation by an earlier refresh: not fetched, not re-verified.
    const TrustedDelegatedRole& t = trusted->second;
    if (auto ok = check_not_expired(t.expires, s.now, label); !ok) return ok;
    ++s.roles_kept;
    s.delegated.emplace(role.name, t);
    r.kept_roles.insert(role.name);
    if (!t.delegates) return {};
    auto meta = stored(TrustedRole{t.version, t.bytes, t.expires}, label, &parse_targets);
    if (!meta) return tl::unexpected(meta.error());
    if (!meta->delegations) {
      return fail(Errc::database_error, label + ": stored metadata lost its delegations");
    }
    r.parsed.push_back(std::make_unique<TargetsMetadata>(std::move(*meta)));
    return visit_delegations(r, *r.parsed.back()->delegations, role.name, visit);
  }

  auto bytes =
      fetch_pinned(s.fetcher, delegated_file_name(role.name, pin.version), pin.length, pin.sha256,
                   s.limits.max_pinned_bytes, fmt::format("snapshot v{}", s.snapshot.version));
  if (!bytes) return tl::unexpected(with_context(bytes.error(), label));
  // Threshold of the keys the delegating role assigns (tuf-spec 5.6.7.2.1), never root's.
  auto payload = verify_envelope(*bytes, parent_delegations.keys_for(role), role.threshold,
                                 fmt::format("{} (delegated by {})", label, parent));
  if (!payload) return tl::unexpected(payload.error());
  auto meta = parse_targets(*payload);
  if (!meta) return tl::unexpected(with_context(meta.error(), label));
  if (meta->version != pin.version) {
    return fail(Errc::version_mismatch,
                fmt::format("role {}: {} contains version {}, snapshot v{} pins {}", role.name,
                            delegated_file_name(role.name, pin.version), meta->version,
                            s.snapshot.version, pin.version));
  }
  if (trusted != s.trusted.delegated.end()) {
    const auto& t = trusted->second;
    if (meta->version < t.version || (meta->version == t.version && pin.sha256 != t.sha256)) {
      return fail(
          Errc::rollback,
          fmt::format("role {} v{} {} the trusted v{}", role.name, meta->version,
                      meta->version < t.version ? "is older than" : "differs from", t.version));
    }
  }
  if (auto ok = check_not_expired(meta->expires, s.now, label); !ok) return ok;
  ++s.roles_fetched;
  // Every target a role lists must be one the TUF lookup resolves to it: a target outside its
  // delegated paths or hash prefixes (a target in the wrong bin) or claimed by an earlier
  // terminating delegation is refused, not silently dropped.
  for (const auto& t : meta->targets) {
    if (!resolves_to(r, visit, t.path)) {
      return fail(Errc::wrong_target,
                  fmt::format("{} lists {}, which its delegation does not trust it for", label,
                              escape_path_for_message(t.path)));
    }
  }
  TrustedDelegatedRole out{
      meta->version,    pin.length, pin.sha256, meta->expires, meta->delegations.has_value(),
      std::move(*bytes)};
  s.delegated.emplace(role.name, std::move(out));
  r.parsed.push_back(std::make_unique<TargetsMetadata>(std::move(*meta)));
  const TargetsMetadata& m = *r.parsed.back();
  for (const auto& t : m.targets) r.resolved.emplace_back(&t, role.name);
  if (!m.delegations) return {};
  s.delegations_changed = true;
  return visit_delegations(r, *m.delegations, role.name, visit);
}

// Every target of the feed: the top-level role's own, then each delegated role's in pre-order
// (docs/manifest-format.md §5.3). Replaces s.targets.targets with the sorted union and fills
// s.target_roles; a path listed by two roles is refused.
Status resolve_delegations(Session& s) {
  if (!s.targets.delegations) {
    s.target_roles.clear();
    return {};
  }
  Resolver r{s, {}, {}, {}, {}, {}, {}, {}};
  for (const auto& t : s.targets.targets) r.resolved.emplace_back(&t, "targets");
  if (auto ok = visit_delegations(r, *s.targets.delegations, "targets", RoleVisit{}); !ok) {
    return ok;
  }
  // The kept roles' trusted targets, in the trusted (path) order, merged with the few listed
  // by roles fetched now: no sort over the whole feed.
  std::vector<std::pair<const TargetInfo*, std::string_view>> kept;
  const auto& old = s.trusted.trusted_targets;
  if (!r.kept_roles.empty()) {
    kept.reserve(old.size());
    for (std::size_t i = 0; i < old.size() && i < s.trusted.target_roles.size(); ++i) {
      const auto role = r.kept_roles.find(s.trusted.target_roles[i]);
      if (role != r.kept_roles.end()) kept.emplace_back(&old[i], *role);
    }
  }
  const auto by_path = [](const auto& a, const auto& b) { return a.first->path < b.first->path; };
  std::sort(r.resolved.begin(), r.resolved.end(), by_path);
  std::vector<std::pair<const TargetInfo*, std::string_view>> merged;
  merged.reserve(kept.size() + r.resolved.size());
  std::merge(kept.begin(), kept.end(), r.resolved.begin(), r.resolved.end(),
             std::back_inserter(merged), by_path);
  const auto fetched = std::move(r.resolved);
  r.resolved = std::move(merged);
  for (std::size_t i = 1; i < r.resolved.size(); ++i) {
    if (r.resolved[i - 1].first->path == r.resolved[i].first->path) {
      return fail(Errc::wrong_target,
                  fmt::format("target {} is listed by both {} and {}",
                              escape_path_for_message(r.resolved[i].first->path),
                              r.resolved[i - 1].second, r.resolved[i].second));
    }
  }
  // The whole feed's paths, as for one flat targets file. The kept ones passed together
  // before, so only the paths listed by roles fetched now are checked against them.
  std::vector<std::string_view> kept_paths;
  kept_paths.reserve(kept.size());
  for (const auto& [t, role] : kept) kept_paths.push_back(t->path);
  std::vector<std::string> fetched_paths;
  for (const auto& [t, role] : fetched) fetched_paths.push_back(t->path);
  if (auto ok = check_path_set_growth(kept_paths, fetched_paths); !ok) {
    return tl::unexpected(with_context(ok.error(), "targets"));
  }
  std::vector<TargetInfo> targets;
  std::vector<std::string> roles;
  targets.reserve(r.resolved.size());
  roles.reserve(r.resolved.size());
  for (const auto& [t, role] : r.resolved) {
    targets.push_back(*t);
    roles.emplace_back(role);
  }
  s.targets.targets = std::move(targets);
  s.target_roles = std::move(roles);
  return {};
}

// release_seq rules, per model, over targets of kind "release", checked in this order so the
// reported error never depends on the order of the entries:
//  1. two releases of one model never share a release_seq (schema_error: the signed targets
//     contradict themselves, whatever the client trusted before);
//  2. a release already trusted (same path) keeps its release_seq (rollback if it changes in
//     either direction: moving an old revision up would make it "latest" again);
//  3. a release not trusted before must have a release_seq above the highest ever trusted for
//     its model (rollback), so "latest" only moves forward and a replayed release cannot
//     reappear.
// The per-model maximum is kept even when a model's releases are removed.
Status check_release_seq(Session& s) {
  std::map<std::string, std::set<std::uint64_t>> seen;
  for (const auto& t : s.targets.targets) {
    if (t.kind != TargetKind::release) continue;
    if (!seen[t.model].insert(t.release_seq).second) {
      return fail(Errc::schema_error,
                  fmt::format("targets v{}: two releases of {} share release_seq {}",
                              s.targets.version, t.model, t.release_seq));
    }
  }
  std::map<std::string, const TargetInfo*> old_releases;
  for (const auto& t : s.trusted.trusted_targets) {
    if (t.kind == TargetKind::release) old_releases.emplace(t.path, &t);
  }
  s.release_seq = {};
  for (const auto& t : s.targets.targets) {
    if (t.kind != TargetKind::release) continue;
    const auto trusted_max = s.trusted.release_seq.find(t.model);
    if (auto old = old_releases.find(t.path); old != old_releases.end()) {
      if (old->second->release_seq != t.release_seq) {
        return fail(
            Errc::rollback,
            fmt::format("targets v{}: release {} changed release_seq from {} to {}",
                        s.targets.version, t.path, old->second->release_seq, t.release_seq));
      }
    } else if (trusted_max != s.trusted.release_seq.end() && t.release_seq <= trusted_max->second) {
      return fail(
          Errc::rollback,
          fmt::format("targets v{}: new release {} of {} has release_seq {}, not above "
                      "the trusted maximum {}",
                      s.targets.version, t.path, t.model, t.release_seq, trusted_max->second));
    }
    auto& best = s.release_seq[t.model];
    best = std::max(best, t.release_seq);
  }
  return {};
}

Result<std::string> fetch_target(Fetcher& fetcher, const TargetInfo& t, std::uint64_t cap) {
  return fetch_pinned(fetcher, consistent_target_name(t), t.length, t.sha256, cap, "targets");
}

// The trusted entry with t's path, if it equals t in every field.
bool trusted_unchanged(const FeedState& trusted, const TargetInfo& t) {
  const auto& old = trusted.trusted_targets;  // sorted by path
  const auto it =
      std::lower_bound(old.begin(), old.end(), t.path,
                       [](const TargetInfo& a, const std::string& p) { return a.path < p; });
  return it != old.end() && *it == t;
}

// trust.md step 7: every release manifest is fetched, hash-checked and validated now, so a
// committed targets list never names a manifest we could not verify. A target whose entry is
// unchanged from the trusted targets was verified under that same pinned (length, sha256) by
// the refresh that committed it, and the validator's verdict depends only on the entry and the
// bytes: it is skipped when the caller confirms it still holds the result (already_verified).
Status verify_release_targets(Session& s, const TargetValidator& validator,
                              const AlreadyVerified& already_verified, VerifiedUpdate& out) {
  for (const auto& t : s.targets.targets) {
    if (t.kind != TargetKind::release) continue;
    if (already_verified && trusted_unchanged(s.trusted, t) && already_verified(t)) {
      ++out.releases_kept;
      continue;
    }
    ++out.releases_validated;
    const std::string label = "target " + t.path;
    auto bytes = fetch_target(s.fetcher, t, s.limits.max_pinned_bytes);
    if (!bytes) return tl::unexpected(with_context(bytes.error(), label));
    if (!validator) return fail(Errc::internal, "refresh without a release validator");
    if (auto ok = validator(t, *bytes); !ok) return tl::unexpected(with_context(ok.error(), label));
  }
  return {};
}

RoleSummary summary_of(const std::optional<TrustedRole>& r) {
  return r ? RoleSummary{r->version, r->expires} : RoleSummary{};
}

}  // namespace

Result<TrustedRole> verify_initial_root(std::string_view root_bytes) {
  if (root_bytes.size() > max_root_bytes) {
    return fail(Errc::too_large, fmt::format("root: {} bytes exceeds the limit of {}",
                                             root_bytes.size(), max_root_bytes));
  }
  // The payload is parsed only to learn which keys must have signed it; nothing from it is
  // trusted unless the self-signature check below passes.
  auto env = dsse::parse(root_bytes);
  if (!env) return tl::unexpected(with_context(env.error(), "root"));
  auto root = parse_root(env->payload);
  if (!root) return tl::unexpected(root.error());
  auto payload = verify_role(root_bytes, *root, Role::root);
  if (!payload) return tl::unexpected(payload.error());
  return TrustedRole{root->version, std::string(root_bytes), root->expires};
}

Status add_feed(StateStore& store, std::string_view name, std::string_view location,
                std::string_view root_bytes, TimePoint now,
                const std::vector<std::string>& mirrors) {
  if (name.empty()) return fail(Errc::invalid_argument, "feed name is empty");
  auto root = verify_initial_root(root_bytes);
  if (!root) return tl::unexpected(root.error());
  return store.add_feed(name, location, *root, now, mirrors);
}

Result<VerifiedUpdate> verify_update(const FeedState& trusted, Fetcher& fetcher, TimePoint now,
                                     const TargetValidator& validator, const ClientLimits& limits,
                                     const AlreadyVerified& already_verified) {
  Session s(trusted, fetcher, now, limits);
  if (auto ok = load_trusted(s); !ok) return tl::unexpected(ok.error());
  if (auto ok = update_root(s); !ok) return tl::unexpected(ok.error());

  VerifiedUpdate out;
  out.update.root = s.root_role;
  auto change = update_timestamp(s);
  if (!change) return tl::unexpected(change.error());
  if (*change == TimestampChange::same) {
    // Equal timestamp: nothing else can have changed (tuf-spec 5.4.3.1); keep a rotated root.
    out.result = s.root_changed ? RefreshResult::updated : RefreshResult::up_to_date;
    out.update.timestamp = trusted.timestamp;
    out.update.snapshot = trusted.snapshot;
    out.update.targets = trusted.targets;
    out.update.trusted_targets = trusted.trusted_targets;
    out.update.target_roles = trusted.target_roles;
    out.update.delegated = trusted.delegated;
    return out;
  }
  if (auto ok = update_snapshot(s); !ok) return tl::unexpected(ok.error());
  if (auto ok = update_targets(s); !ok) return tl::unexpected(ok.error());
  if (auto ok = resolve_delegations(s); !ok) return tl::unexpected(ok.error());
  if (auto ok = check_release_seq(s); !ok) return tl::unexpected(ok.error());
  if (auto ok = verify_release_targets(s, validator, already_verified, out); !ok) {
    return tl::unexpected(ok.error());
  }

  out.result = RefreshResult::updated;
  out.update.timestamp = std::move(s.timestamp_role);
  out.update.snapshot = std::move(s.snapshot_role);
  out.update.targets = std::move(s.targets_role);
  out.update.trusted_targets = std::move(s.targets.targets);
  out.update.target_roles = std::move(s.target_roles);
  out.update.delegated = std::move(s.delegated);
  out.update.release_seq = std::move(s.release_seq);
  out.roles_fetched = s.roles_fetched;
  out.roles_kept = s.roles_kept;
  return out;
}

Result<RefreshOutcome> refresh(StateStore& store, std::string_view feed, Fetcher& fetcher,
                               TimePoint now, const TargetValidator& validator,
                               const ClientLimits& limits,
                               const AlreadyVerified& already_verified) {
  auto trusted = store.load_feed(feed);
  if (!trusted) return tl::unexpected(trusted.error());
  auto refuse = [&](Error e) -> tl::unexpected<Error> {
    // The refusal is logged in its own transaction; if even that fails, the original error is
    // still what the caller needs to see.
    (void)store.record_refusal(feed, now, e);
    return tl::unexpected(std::move(e));
  };
  auto verified = verify_update(*trusted, fetcher, now, validator, limits, already_verified);
  if (!verified) return refuse(with_context(verified.error(), fmt::format("feed {}", feed)));

  if (verified->result == RefreshResult::up_to_date) {
    if (auto ok = store.record_refresh(feed, {now, RefreshResult::up_to_date, "", "up to date"});
        !ok) {
      return tl::unexpected(ok.error());
    }
    return summarize(*trusted);
  }
  if (auto ok = store.commit_refresh(feed, verified->update, now); !ok) {
    return refuse(with_context(ok.error(), fmt::format("feed {}: commit", feed)));
  }
  auto committed = store.load_feed(feed);
  if (!committed) return tl::unexpected(committed.error());
  RefreshOutcome outcome = summarize(*committed);
  outcome.result = RefreshResult::updated;
  outcome.roles_fetched = verified->roles_fetched;
  outcome.roles_kept = verified->roles_kept;
  return outcome;
}

Result<RefreshOutcome> refresh(StateStore& store, std::string_view feed, TimePoint now,
                               const TargetValidator& validator, const ClientLimits& limits) {
  auto trusted = store.load_feed(feed);
  if (!trusted) return tl::unexpected(trusted.error());
  auto fetcher = make_fetcher(trusted->location);
  if (!fetcher) {
    Error e = with_context(fetcher.error(), fmt::format("feed {}", feed));
    (void)store.record_refusal(feed, now, e);
    return tl::unexpected(std::move(e));
  }
  return refresh(store, feed, **fetcher, now, validator, limits);
}

RefreshOutcome summarize(const FeedState& state) {
  RefreshOutcome o;
  o.result = RefreshResult::up_to_date;
  o.root = RoleSummary{state.root.version, state.root.expires};
  o.timestamp = summary_of(state.timestamp);
  o.snapshot = summary_of(state.snapshot);
  o.targets = summary_of(state.targets);
  o.trusted_targets = state.trusted_targets;
  return o;
}

std::optional<TimePoint> stale_since(const FeedState& state, TimePoint now) {
  std::optional<TimePoint> earliest;
  auto consider = [&](const std::optional<TrustedRole>& r) {
    if (r && r->expires <= now && (!earliest || r->expires < *earliest)) earliest = r->expires;
  };
  consider(std::optional<TrustedRole>(state.root));
  consider(state.timestamp);
  consider(state.snapshot);
  consider(state.targets);
  return earliest;
}

bool is_stale(const FeedState& state, TimePoint now) {
  return !state.timestamp || stale_since(state, now).has_value();
}

Result<std::string> fetch_verified_target(Fetcher& fetcher, const FeedState& state,
                                          std::string_view path) {
  const auto it = std::find_if(state.trusted_targets.begin(), state.trusted_targets.end(),
                               [&](const TargetInfo& t) { return t.path == path; });
  if (it == state.trusted_targets.end()) {
    return fail(Errc::not_found,
                fmt::format("target {} is not listed in the trusted targets of feed {}",
                            escape_path_for_message(path), state.name));
  }
  // Every target file is held in memory whole; none may pin more than the metadata cap.
  auto bytes = fetch_target(fetcher, *it, max_pinned_metadata_bytes);
  if (!bytes) return tl::unexpected(with_context(bytes.error(), "target " + it->path));
  return bytes;
}

}  // namespace weights::tuf
