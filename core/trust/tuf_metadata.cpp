#include "core/trust/tuf_metadata.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/trust/dsse.hpp"
#include "core/util/encoding.hpp"
#include "core/util/path_policy.hpp"

namespace weights::tuf {

namespace {

using json::Json;

constexpr Role all_roles[] = {Role::root, Role::targets, Role::snapshot, Role::timestamp};

// spec_version is "MAJOR.MINOR.PATCH" (semver core only): three decimal numbers without
// leading zeros, at most 9 digits each, separated by '.'. Major 1 is required; another major
// is `unsupported`, any other shape a `schema_error`.
Status check_spec_version(std::string_view spec) {
  const auto bad = [&] {
    return fail(Errc::schema_error,
                fmt::format("signed.spec_version \"{}\": expected MAJOR.MINOR.PATCH (e.g. \"{}\")",
                            printable_excerpt(spec), spec_version));
  };
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= spec.size(); ++i) {
    if (i == spec.size() || spec[i] == '.') {
      parts.push_back(spec.substr(start, i - start));
      start = i + 1;
    }
  }
  if (parts.size() != 3) return bad();
  for (const auto part : parts) {
    if (part.empty() || part.size() > 9 || (part.size() > 1 && part[0] == '0')) return bad();
    for (const char c : part) {
      if (c < '0' || c > '9') return bad();
    }
  }
  if (parts[0] != "1") {
    return fail(Errc::unsupported,
                fmt::format("signed.spec_version \"{}\": only TUF 1.x is supported", spec));
  }
  return {};
}

// Common header of every role: _type, spec_version (major 1), version >= 1, expires.
struct Common {
  std::uint64_t version = 0;
  TimePoint expires{};
};

Result<Common> parse_common(const Json& doc, std::string_view type) {
  if (!doc.is_object()) return fail(Errc::schema_error, "metadata: expected a JSON object");
  auto got_type = json::get_string(doc, "_type", "signed");
  if (!got_type) return tl::unexpected(got_type.error());
  if (*got_type != type) {
    return fail(Errc::schema_error,
                fmt::format("signed._type: expected \"{}\", got \"{}\"", type, *got_type));
  }
  auto spec = json::get_string(doc, "spec_version", "signed");
  if (!spec) return tl::unexpected(spec.error());
  if (auto ok = check_spec_version(*spec); !ok) return tl::unexpected(ok.error());
  Common c;
  auto version = json::get_uint(doc, "version", "signed");
  if (!version) return tl::unexpected(version.error());
  if (*version < 1) return fail(Errc::schema_error, "signed.version: must be >= 1");
  c.version = *version;
  auto expires = json::get_string(doc, "expires", "signed");
  if (!expires) return tl::unexpected(expires.error());
  auto when = parse_utc(*expires);
  if (!when) return tl::unexpected(with_context(when.error(), "signed.expires"));
  c.expires = *when;
  return c;
}

Result<std::string> get_sha256(const Json& entry, const std::string& where) {
  auto hashes = json::get_object(entry, "hashes", where);
  if (!hashes) return tl::unexpected(hashes.error());
  auto hex = json::get_string(**hashes, "sha256", where + ".hashes");
  if (!hex) return tl::unexpected(hex.error());
  if (!is_lower_hex(*hex, 32)) {
    return fail(Errc::schema_error,
                fmt::format("{}.hashes.sha256: expected 64 lowercase hex characters", where));
  }
  return *hex;
}

Result<MetaFile> parse_meta_file(const Json& doc, std::string_view name) {
  auto meta = json::get_object(doc, "meta", "signed");
  if (!meta) return tl::unexpected(meta.error());
  const std::string where = fmt::format("signed.meta.{}", name);
  auto entry = json::get_object(**meta, name, "signed.meta");
  if (!entry) return tl::unexpected(entry.error());
  MetaFile mf;
  auto version = json::get_uint(**entry, "version", where);
  if (!version) return tl::unexpected(version.error());
  if (*version < 1) return fail(Errc::schema_error, where + ".version: must be >= 1");
  mf.version = *version;
  auto length = json::get_uint(**entry, "length", where);
  if (!length) return tl::unexpected(length.error());
  mf.length = *length;
  auto hash = get_sha256(**entry, where);
  if (!hash) return tl::unexpected(hash.error());
  mf.sha256 = std::move(*hash);
  return mf;
}

Json meta_file_json(const MetaFile& mf) {
  return Json{{"version", mf.version}, {"length", mf.length}, {"hashes", {{"sha256", mf.sha256}}}};
}

Json common_json(std::string_view type, std::uint64_t version, TimePoint expires) {
  return Json{{"_type", type},
              {"spec_version", spec_version},
              {"version", version},
              {"expires", format_utc(expires)}};
}

Result<crypto::PublicKey> parse_key(const Json& entry, const std::string& where) {
  if (!entry.is_object()) return fail(Errc::schema_error, where + ": expected an object");
  auto keytype = json::get_string(entry, "keytype", where);
  if (!keytype) return tl::unexpected(keytype.error());
  auto scheme = json::get_string(entry, "scheme", where);
  if (!scheme) return tl::unexpected(scheme.error());
  if (*keytype != "ed25519" || *scheme != "ed25519") {
    return fail(Errc::unsupported,
                fmt::format("{}: keytype \"{}\" / scheme \"{}\" (only ed25519 is supported)", where,
                            *keytype, *scheme));
  }
  auto keyval = json::get_object(entry, "keyval", where);
  if (!keyval) return tl::unexpected(keyval.error());
  auto pub = json::get_string(**keyval, "public", where + ".keyval");
  if (!pub) return tl::unexpected(pub.error());
  if (!is_lower_hex(*pub, 32)) {
    return fail(Errc::schema_error,
                where + ".keyval.public: expected 64 lowercase hex characters (Ed25519 key)");
  }
  auto key = crypto::public_key_from_hex(*pub);
  if (!key) return tl::unexpected(with_context(key.error(), where));
  return *key;
}

Result<RoleKeys> parse_role_keys(const Json& roles, Role role,
                                 const std::map<std::string, crypto::PublicKey>& keys) {
  const std::string where = fmt::format("signed.roles.{}", role_name(role));
  auto entry = json::get_object(roles, role_name(role), "signed.roles");
  if (!entry) return tl::unexpected(entry.error());
  auto keyids = json::get_array(**entry, "keyids", where);
  if (!keyids) return tl::unexpected(keyids.error());
  auto threshold = json::get_uint(**entry, "threshold", where);
  if (!threshold) return tl::unexpected(threshold.error());
  RoleKeys rk;
  std::set<std::string> distinct;
  for (const auto& id : **keyids) {
    if (!id.is_string()) return fail(Errc::schema_error, where + ".keyids: expected strings");
    const auto& s = id.get_ref<const std::string&>();
    if (!keys.contains(s)) {
      return fail(Errc::schema_error,
                  fmt::format("{}.keyids: keyid {} is not in signed.keys", where, s.substr(0, 16)));
    }
    // A keyid listed twice is one key: keep it once so it cannot inflate the key count.
    if (distinct.insert(s).second) rk.keyids.push_back(s);
  }
  if (*threshold < 1) return fail(Errc::schema_error, where + ".threshold: must be >= 1");
  if (*threshold > rk.keyids.size()) {
    return fail(Errc::schema_error,
                fmt::format("{}.threshold: {} exceeds the {} distinct key(s) listed", where,
                            *threshold, rk.keyids.size()));
  }
  rk.threshold = *threshold;
  return rk;
}

Result<bool> get_bool(const Json& obj, std::string_view key, const std::string& where) {
  auto field = json::get_field(obj, key, where);
  if (!field) return tl::unexpected(field.error());
  if (!(*field)->is_boolean()) {
    return fail(Errc::schema_error, fmt::format("{}.{}: expected true or false", where, key));
  }
  return (*field)->get<bool>();
}

// A list of strings, 1..max entries, each checked by `check`.
template <class Check>
Result<std::vector<std::string>> get_string_list(const Json& obj, std::string_view key,
                                                 const std::string& where, Check&& check) {
  auto arr = json::get_array(obj, key, where);
  if (!arr) return tl::unexpected(arr.error());
  if ((*arr)->empty() || (*arr)->size() > max_patterns_per_role) {
    return fail(Errc::too_large, fmt::format("{}.{}: expected 1 to {} entries, got {}", where, key,
                                             max_patterns_per_role, (*arr)->size()));
  }
  std::vector<std::string> out;
  for (const auto& v : **arr) {
    if (!v.is_string())
      return fail(Errc::schema_error, fmt::format("{}.{}: expected strings", where, key));
    const auto& str = v.get_ref<const std::string&>();
    if (!check(str)) {
      return fail(Errc::schema_error,
                  fmt::format("{}.{}: invalid entry \"{}\"", where, key, printable_excerpt(str)));
    }
    out.push_back(str);
  }
  return out;
}

bool valid_hash_prefix(const std::string& p) {
  if (p.empty() || p.size() > 64) return false;
  return std::all_of(p.begin(), p.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A pattern is a path (policy-checked once its wildcards are replaced by a plain character)
// whose only special characters are '*' and '?'.
bool valid_path_pattern(const std::string& p) {
  if (p.empty() || p.size() > 4096 || p.find('[') != std::string::npos) return false;
  std::string probe = p;
  std::replace(probe.begin(), probe.end(), '*', 'x');
  std::replace(probe.begin(), probe.end(), '?', 'x');
  return static_cast<bool>(check_path(probe));
}

// tuf-spec "DELEGATIONS": keys and an ordered list of roles. Strict: every role has name,
// keyids, threshold, terminating and exactly one of path_hash_prefixes and paths.
Result<Delegations> parse_delegations(const Json& node) {
  const std::string where = "signed.delegations";
  if (!node.is_object()) return fail(Errc::schema_error, where + ": expected an object");
  Delegations d;
  auto keys = json::get_object(node, "keys", where);
  if (!keys) return tl::unexpected(keys.error());
  if ((*keys)->size() > max_delegation_keys) {
    return fail(Errc::too_large, fmt::format("{}.keys: {} keys, at most {}", where, (*keys)->size(),
                                             max_delegation_keys));
  }
  for (const auto& [keyid, entry] : (*keys)->items()) {
    auto key = parse_key(entry, where + ".keys." + keyid.substr(0, 16));
    if (!key) return tl::unexpected(key.error());
    if (key->keyid() != keyid) {
      return fail(Errc::schema_error,
                  fmt::format("{}.keys: keyid {} does not match its key (expected {})", where,
                              keyid.substr(0, 16), key->keyid().substr(0, 16)));
    }
    d.keys.emplace(keyid, *key);
  }
  auto roles = json::get_array(node, "roles", where);
  if (!roles) return tl::unexpected(roles.error());
  if ((*roles)->size() > max_delegated_roles_listed) {
    return fail(Errc::too_large, fmt::format("{}.roles: {} roles, at most {}", where,
                                             (*roles)->size(), max_delegated_roles_listed));
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < (*roles)->size(); ++i) {
    const Json& entry = (**roles)[i];
    std::string rwhere = fmt::format("{}.roles[{}]", where, i);
    if (!entry.is_object()) return fail(Errc::schema_error, rwhere + ": expected an object");
    DelegatedRole r;
    auto name = json::get_string(entry, "name", rwhere);
    if (!name) return tl::unexpected(name.error());
    if (auto ok = check_role_name(*name); !ok)
      return tl::unexpected(with_context(ok.error(), rwhere));
    if (!names.insert(*name).second) {
      return fail(Errc::schema_error, fmt::format("{}: role {} is delegated twice", rwhere, *name));
    }
    r.name = std::move(*name);
    rwhere = fmt::format("{}.roles[{}] ({})", where, i, r.name);
    auto keyids = json::get_array(entry, "keyids", rwhere);
    if (!keyids) return tl::unexpected(keyids.error());
    std::set<std::string> distinct;
    for (const auto& id : **keyids) {
      if (!id.is_string()) return fail(Errc::schema_error, rwhere + ".keyids: expected strings");
      const auto& kid = id.get_ref<const std::string&>();
      if (!d.keys.contains(kid)) {
        return fail(Errc::schema_error, fmt::format("{}.keyids: keyid {} is not in {}.keys", rwhere,
                                                    kid.substr(0, 16), where));
      }
      if (distinct.insert(kid).second) r.keyids.push_back(kid);
    }
    auto threshold = json::get_uint(entry, "threshold", rwhere);
    if (!threshold) return tl::unexpected(threshold.error());
    if (*threshold < 1) return fail(Errc::schema_error, rwhere + ".threshold: must be >= 1");
    if (*threshold > r.keyids.size()) {
      return fail(Errc::schema_error,
                  fmt::format("{}.threshold: {} exceeds the {} distinct key(s) listed", rwhere,
                              *threshold, r.keyids.size()));
    }
    r.threshold = *threshold;
    auto terminating = get_bool(entry, "terminating", rwhere);
    if (!terminating) return tl::unexpected(terminating.error());
    r.terminating = *terminating;
    const bool has_prefixes = entry.contains("path_hash_prefixes");
    const bool has_paths = entry.contains("paths");
    if (has_prefixes == has_paths) {
      return fail(Errc::schema_error,
                  rwhere + ": expected exactly one of path_hash_prefixes and paths");
    }
    if (has_prefixes) {
      auto prefixes = get_string_list(entry, "path_hash_prefixes", rwhere, valid_hash_prefix);
      if (!prefixes) return tl::unexpected(prefixes.error());
      r.path_hash_prefixes = std::move(*prefixes);
    } else {
      auto paths = get_string_list(entry, "paths", rwhere, valid_path_pattern);
      if (!paths) return tl::unexpected(paths.error());
      r.paths = std::move(*paths);
    }
    d.roles.push_back(std::move(r));
  }
  return d;
}

Json key_json(const crypto::PublicKey& key) {
  return Json{{"keytype", "ed25519"}, {"scheme", "ed25519"}, {"keyval", {{"public", key.hex()}}}};
}

}  // namespace

Result<TargetInfo> parse_target_entry(const std::string& path, const Json& entry) {
  const std::string where = "signed.targets[" + escape_path_for_message(path) + "]";
  if (!entry.is_object()) return fail(Errc::schema_error, where + ": expected an object");
  if (auto ok = check_path(path); !ok) return tl::unexpected(with_context(ok.error(), "target"));
  TargetInfo t;
  t.path = path;
  auto length = json::get_uint(entry, "length", where);
  if (!length) return tl::unexpected(length.error());
  t.length = *length;
  auto hash = get_sha256(entry, where);
  if (!hash) return tl::unexpected(hash.error());
  t.sha256 = std::move(*hash);
  auto custom = json::get_object(entry, "custom", where);
  if (!custom) return tl::unexpected(custom.error());
  const std::string cwhere = where + ".custom";
  auto kind = json::get_string(**custom, "kind", cwhere);
  if (!kind) return tl::unexpected(kind.error());
  auto parsed_kind = parse_kind(*kind);
  if (!parsed_kind) return tl::unexpected(with_context(parsed_kind.error(), cwhere + ".kind"));
  t.kind = *parsed_kind;
  if (t.kind == TargetKind::catalog) {
    // The path names the file; release fields would give one target two meanings.
    if (!catalog_target_family(path)) {
      return fail(Errc::schema_error,
                  where + ": a catalog target's path must be catalog/<family>.toml");
    }
    if ((*custom)->size() != 1) {
      return fail(Errc::schema_error, cwhere + ": a catalog target has only \"kind\"");
    }
    return t;
  }
  auto model = json::get_string(**custom, "model", cwhere);
  if (!model) return tl::unexpected(model.error());
  // "org/name": two components, each a valid path component.
  if (std::count(model->begin(), model->end(), '/') != 1 || !check_path(*model)) {
    return fail(Errc::schema_error, cwhere + ".model: expected \"org/name\"");
  }
  t.model = std::move(*model);
  auto revision = json::get_string(**custom, "revision", cwhere);
  if (!revision) return tl::unexpected(revision.error());
  if (!check_path(*revision)) {
    return fail(Errc::schema_error, cwhere + ".revision: empty or not a valid path component");
  }
  t.revision = std::move(*revision);
  auto seq = json::get_uint(**custom, "release_seq", cwhere);
  if (!seq) return tl::unexpected(seq.error());
  t.release_seq = *seq;
  return t;
}

Json target_entry_json(const TargetInfo& t) {
  if (t.kind == TargetKind::catalog) {
    return Json{{"length", t.length},
                {"hashes", {{"sha256", t.sha256}}},
                {"custom", {{"kind", kind_name(t.kind)}}}};
  }
  return Json{{"length", t.length},
              {"hashes", {{"sha256", t.sha256}}},
              {"custom",
               {{"kind", kind_name(t.kind)},
                {"model", t.model},
                {"revision", t.revision},
                {"release_seq", t.release_seq}}}};
}

std::string catalog_target_path(std::string_view family) {
  return fmt::format("catalog/{}.toml", family);
}

std::optional<std::string> catalog_target_family(std::string_view path) {
  constexpr std::string_view prefix = "catalog/", suffix = ".toml";
  if (!path.starts_with(prefix) || !path.ends_with(suffix)) return std::nullopt;
  const std::string_view family =
      path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  if (family.empty() || family.size() > 64) return std::nullopt;
  const auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  };
  if (!std::all_of(family.begin(), family.end(), ok) || !ok(family.front()) ||
      family.front() == '.' || family.front() == '_' || family.front() == '-') {
    return std::nullopt;
  }
  return std::string(family);
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::root:
      return "root";
    case Role::targets:
      return "targets";
    case Role::snapshot:
      return "snapshot";
    case Role::timestamp:
      return "timestamp";
  }
  return "unknown";
}

std::string_view kind_name(TargetKind kind) {
  switch (kind) {
    case TargetKind::release:
      return "release";
    case TargetKind::torrent:
      return "torrent";
    case TargetKind::torrent_v1:
      return "torrent_v1";
    case TargetKind::catalog:
      return "catalog";
  }
  return "unknown";
}

Result<TargetKind> parse_kind(std::string_view name) {
  for (auto k :
       {TargetKind::release, TargetKind::torrent, TargetKind::torrent_v1, TargetKind::catalog}) {
    if (kind_name(k) == name) return k;
  }
  return fail(Errc::schema_error, fmt::format("unknown target kind \"{}\"", name));
}

const RoleKeys& RootMetadata::role(Role r) const {
  return role_member(*this, r);
}

std::vector<crypto::PublicKey> RootMetadata::keys_for(Role r) const {
  std::set<crypto::PublicKey> distinct;
  for (const auto& id : role(r).keyids) {
    if (auto it = keys.find(id); it != keys.end()) distinct.insert(it->second);
  }
  return {distinct.begin(), distinct.end()};
}

Result<RootMetadata> parse_root(std::string_view payload) {
  auto doc = json::parse_strict(payload);
  if (!doc) return tl::unexpected(with_context(doc.error(), "root"));
  auto common = parse_common(*doc, "root");
  if (!common) return tl::unexpected(with_context(common.error(), "root"));
  RootMetadata root;
  root.version = common->version;
  root.expires = common->expires;
  auto in_root = [&](auto r) -> decltype(r) {
    if (!r) return tl::unexpected(with_context(r.error(), fmt::format("root v{}", root.version)));
    return r;
  };

  auto consistent = in_root(json::get_field(*doc, "consistent_snapshot", "signed"));
  if (!consistent) return tl::unexpected(consistent.error());
  if (!(*consistent)->is_boolean() || !(*consistent)->get<bool>()) {
    return fail(Errc::schema_error,
                fmt::format("root v{}: signed.consistent_snapshot must be true", root.version));
  }

  auto keys = in_root(json::get_object(*doc, "keys", "signed"));
  if (!keys) return tl::unexpected(keys.error());
  for (const auto& [keyid, entry] : (*keys)->items()) {
    auto key = in_root(parse_key(entry, "signed.keys." + keyid.substr(0, 16)));
    if (!key) return tl::unexpected(key.error());
    // A keyid is the hash of its key: a mismatch would let one key appear under many names.
    if (key->keyid() != keyid) {
      return fail(
          Errc::schema_error,
          fmt::format("root v{}: signed.keys: keyid {} does not match its key (expected {})",
                      root.version, keyid.substr(0, 16), key->keyid().substr(0, 16)));
    }
    root.keys.emplace(keyid, *key);
  }

  auto roles = in_root(json::get_object(*doc, "roles", "signed"));
  if (!roles) return tl::unexpected(roles.error());
  for (Role r : all_roles) {
    auto rk = in_root(parse_role_keys(**roles, r, root.keys));
    if (!rk) return tl::unexpected(rk.error());
    switch (r) {
      case Role::root:
        root.root = std::move(*rk);
        break;
      case Role::targets:
        root.targets = std::move(*rk);
        break;
      case Role::snapshot:
        root.snapshot = std::move(*rk);
        break;
      case Role::timestamp:
        root.timestamp = std::move(*rk);
        break;
    }
  }
  return root;
}

Result<TimestampMetadata> parse_timestamp(std::string_view payload) {
  auto doc = json::parse_strict(payload);
  if (!doc) return tl::unexpected(with_context(doc.error(), "timestamp"));
  auto common = parse_common(*doc, "timestamp");
  if (!common) return tl::unexpected(with_context(common.error(), "timestamp"));
  auto snap = parse_meta_file(*doc, "snapshot.json");
  if (!snap) return tl::unexpected(with_context(snap.error(), "timestamp"));
  return TimestampMetadata{common->version, common->expires, std::move(*snap)};
}

Result<SnapshotMetadata> parse_snapshot(std::string_view payload) {
  auto doc = json::parse_strict(payload);
  if (!doc) return tl::unexpected(with_context(doc.error(), "snapshot"));
  auto common = parse_common(*doc, "snapshot");
  if (!common) return tl::unexpected(with_context(common.error(), "snapshot"));
  auto targets = parse_meta_file(*doc, "targets.json");
  if (!targets) return tl::unexpected(with_context(targets.error(), "snapshot"));
  SnapshotMetadata snap{common->version, common->expires, std::move(*targets), {}};
  // Every other entry names a delegated targets role: "<role>.json".
  const Json& meta = doc->at("meta");
  for (const auto& [name, entry] : meta.items()) {
    if (name == "targets.json") continue;
    constexpr std::string_view suffix = ".json";
    const std::string_view n = name;
    if (n.size() <= suffix.size() || n.substr(n.size() - suffix.size()) != suffix) {
      return fail(Errc::schema_error,
                  fmt::format("snapshot: signed.meta.{}: expected \"<role>.json\"",
                              printable_excerpt(name)));
    }
    const auto role = n.substr(0, n.size() - suffix.size());
    if (auto ok = check_role_name(role); !ok) {
      return tl::unexpected(with_context(ok.error(), "snapshot: signed.meta"));
    }
    auto mf = parse_meta_file(*doc, name);
    if (!mf) return tl::unexpected(with_context(mf.error(), "snapshot"));
    snap.delegated.emplace(std::string(role), std::move(*mf));
  }
  return snap;
}

Result<TargetsMetadata> parse_targets(std::string_view payload) {
  // Targets grow with the feed; their size is capped where they are fetched (pinned length).
  auto doc = json::parse_strict(payload, json::Limits{.max_bytes = max_pinned_metadata_bytes});
  if (!doc) return tl::unexpected(with_context(doc.error(), "targets"));
  auto common = parse_common(*doc, "targets");
  if (!common) return tl::unexpected(with_context(common.error(), "targets"));
  TargetsMetadata t;
  t.version = common->version;
  t.expires = common->expires;
  auto targets = json::get_object(*doc, "targets", "signed");
  if (!targets) return tl::unexpected(with_context(targets.error(), "targets"));
  std::vector<std::string> paths;
  for (const auto& [path, entry] : (*targets)->items()) {
    auto info = parse_target_entry(path, entry);
    if (!info) return tl::unexpected(with_context(info.error(), "targets"));
    paths.push_back(path);
    t.targets.push_back(std::move(*info));
  }
  // Two targets that land on one file on a case-insensitive disk are ambiguous.
  if (auto ok = check_path_set(paths); !ok) {
    return tl::unexpected(with_context(ok.error(), "targets"));
  }
  std::sort(t.targets.begin(), t.targets.end(),
            [](const TargetInfo& a, const TargetInfo& b) { return a.path < b.path; });
  if (doc->contains("delegations")) {
    auto delegations = parse_delegations(doc->at("delegations"));
    if (!delegations) return tl::unexpected(with_context(delegations.error(), "targets"));
    t.delegations = std::move(*delegations);
  }
  return t;
}

Json to_json(const RootMetadata& root) {
  Json doc = common_json("root", root.version, root.expires);
  doc["consistent_snapshot"] = true;
  Json keys = Json::object();
  for (const auto& [keyid, key] : root.keys) keys[keyid] = key_json(key);
  doc["keys"] = std::move(keys);
  Json roles = Json::object();
  for (Role r : all_roles) {
    const auto& rk = root.role(r);
    roles[std::string(role_name(r))] = Json{{"keyids", rk.keyids}, {"threshold", rk.threshold}};
  }
  doc["roles"] = std::move(roles);
  return doc;
}

Json to_json(const TimestampMetadata& timestamp) {
  Json doc = common_json("timestamp", timestamp.version, timestamp.expires);
  doc["meta"] = Json{{"snapshot.json", meta_file_json(timestamp.snapshot)}};
  return doc;
}

Json to_json(const SnapshotMetadata& snapshot) {
  Json doc = common_json("snapshot", snapshot.version, snapshot.expires);
  doc["meta"] = Json{{"targets.json", meta_file_json(snapshot.targets)}};
  for (const auto& [role, mf] : snapshot.delegated)
    doc["meta"][role + ".json"] = meta_file_json(mf);
  return doc;
}

Json to_json(const TargetsMetadata& targets) {
  Json doc = common_json("targets", targets.version, targets.expires);
  Json entries = Json::object();
  for (const auto& t : targets.targets) entries[t.path] = target_entry_json(t);
  doc["targets"] = std::move(entries);
  if (targets.delegations) {
    Json keys = Json::object();
    for (const auto& [keyid, key] : targets.delegations->keys) keys[keyid] = key_json(key);
    Json roles = Json::array();
    for (const auto& r : targets.delegations->roles) {
      Json role{{"name", r.name},
                {"keyids", r.keyids},
                {"threshold", r.threshold},
                {"terminating", r.terminating}};
      if (!r.path_hash_prefixes.empty()) role["path_hash_prefixes"] = r.path_hash_prefixes;
      if (!r.paths.empty()) role["paths"] = r.paths;
      roles.push_back(std::move(role));
    }
    doc["delegations"] = Json{{"keys", std::move(keys)}, {"roles", std::move(roles)}};
  }
  return doc;
}

std::string consistent_target_name(const TargetInfo& target) {
  const auto slash = target.path.rfind('/');
  if (slash == std::string::npos) return "targets/" + target.sha256 + "." + target.path;
  return "targets/" + target.path.substr(0, slash + 1) + target.sha256 + "." +
         target.path.substr(slash + 1);
}

std::string root_file_name(std::uint64_t version) {
  return fmt::format("metadata/{}.root.json", version);
}
std::string snapshot_file_name(std::uint64_t version) {
  return fmt::format("metadata/{}.snapshot.json", version);
}
std::string targets_file_name(std::uint64_t version) {
  return fmt::format("metadata/{}.targets.json", version);
}
std::string delegated_file_name(std::string_view role, std::uint64_t version) {
  return fmt::format("metadata/{}.{}.json", version, role);
}

Status check_role_name(std::string_view name) {
  const auto bad = [&](std::string_view why) {
    return fail(Errc::schema_error,
                fmt::format("role name \"{}\": {}", printable_excerpt(name), why));
  };
  if (name.empty() || name.size() > max_role_name_bytes) return bad("must be 1-64 bytes");
  for (const char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    if (!ok) return bad("only a-z, 0-9, '.', '-' and '_' are allowed");
  }
  const char first = name.front();
  if (!((first >= 'a' && first <= 'z') || (first >= '0' && first <= '9'))) {
    return bad("must start with a letter or digit");
  }
  for (Role r : all_roles) {
    if (name == role_name(r)) return bad("is a top-level role");
  }
  return {};
}

std::string target_path_hash(std::string_view path) {
  return crypto::sha256_hex(path);
}

bool path_pattern_matches(std::string_view pattern, std::string_view path) {
  // Iterative glob with one backtrack point per '*' (linear-ish, no recursion).
  std::size_t p = 0, s = 0, star = std::string_view::npos, mark = 0;
  while (s < path.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = s;
    } else if (p < pattern.size() && path[s] != '/' &&
               (pattern[p] == '?' || pattern[p] == path[s])) {
      ++p;
      ++s;
    } else if (p < pattern.size() && pattern[p] == '/' && path[s] == '/') {
      ++p;
      ++s;
    } else if (star != std::string_view::npos && path[mark] != '/') {
      // The last '*' absorbs one more character (never a '/').
      p = star + 1;
      s = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool DelegatedRole::matches(std::string_view path, std::string_view path_sha256_hex) const {
  for (const auto& prefix : path_hash_prefixes) {
    if (path_sha256_hex.substr(0, prefix.size()) == prefix) return true;
  }
  for (const auto& pattern : paths) {
    if (path_pattern_matches(pattern, path)) return true;
  }
  return false;
}

std::vector<crypto::PublicKey> Delegations::keys_for(const DelegatedRole& role) const {
  std::set<crypto::PublicKey> distinct;
  for (const auto& id : role.keyids) {
    if (auto it = keys.find(id); it != keys.end()) distinct.insert(it->second);
  }
  return {distinct.begin(), distinct.end()};
}

Result<std::string> sign_metadata(std::string_view payload,
                                  const std::vector<const crypto::PrivateKey*>& keys) {
  auto env = dsse::sign(std::string(dsse::tuf_payload_type), std::string(payload), keys);
  if (!env) return tl::unexpected(env.error());
  return dsse::serialize(*env);
}

Result<std::string> verify_envelope(std::string_view envelope_bytes,
                                    const std::vector<crypto::PublicKey>& keys,
                                    std::uint64_t threshold, std::string_view label) {
  auto env = dsse::parse(envelope_bytes);
  if (!env) return tl::unexpected(with_context(env.error(), label));
  if (env->payload_type != dsse::tuf_payload_type) {
    return fail(Errc::bad_signature,
                fmt::format("{}: payloadType \"{}\" is not \"{}\"", label,
                            env->payload_type.substr(0, 64), dsse::tuf_payload_type));
  }
  // A threshold of 0 would accept unsigned metadata; parse_root already refuses it.
  if (threshold == 0) {
    return fail(Errc::threshold_not_met, fmt::format("{}: threshold 0 is never met", label));
  }
  const auto signers = dsse::verified_keys(*env, keys);
  if (signers.size() < threshold) {
    return fail(Errc::threshold_not_met,
                fmt::format("{}: signed by {} of the required {} distinct authorised key(s) "
                            "({} signature(s) present, {} key(s) authorised)",
                            label, signers.size(), threshold, env->signatures.size(), keys.size()));
  }
  return std::move(env->payload);
}

Result<std::string> verify_role(std::string_view envelope_bytes, const RootMetadata& root,
                                Role role) {
  return verify_envelope(envelope_bytes, root.keys_for(role), root.role(role).threshold,
                         role_name(role));
}

}  // namespace weights::tuf
