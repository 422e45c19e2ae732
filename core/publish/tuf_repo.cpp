#include "core/publish/tuf_repo.hpp"

#include <algorithm>
#include <set>
#include <system_error>

#include <fmt/format.h>

#include "core/util/atomic_file.hpp"
#include "core/util/json.hpp"
#include "core/util/path_policy.hpp"

namespace weights::tuf {

namespace {

using json::Json;

constexpr std::string_view repo_type = "weights-publisher/v1";
constexpr std::size_t max_repo_json_bytes = 64 * 1024 * 1024;
constexpr Role all_roles[] = {Role::root, Role::targets, Role::snapshot, Role::timestamp};

// Signs `payload` for a role with every authorised key in the ring, refusing up front if the
// ring cannot reach the threshold (so a publish never writes metadata clients would reject).
Result<std::string> sign_for(std::string_view payload, const RoleSpec& role, const KeyRing& ring,
                             std::string_view label) {
  const auto signers = ring.signers_for(role.keys);
  if (signers.size() < role.threshold) {
    return fail(Errc::threshold_not_met,
                fmt::format("cannot sign {}: {} of the {} required key(s) are available", label,
                            signers.size(), role.threshold),
                "load the role's private keys (see the publisher's keys/ directory)");
  }
  return sign_metadata(payload, signers);
}

Status make_dirs(const std::filesystem::path& p) {
  std::error_code ec;
  std::filesystem::create_directories(p, ec);
  if (ec) return fail(Errc::io_error, fmt::format("{}: {}", p.string(), ec.message()));
  return {};
}

Result<MetaFile> pin_of(std::uint64_t version, std::string_view bytes) {
  return MetaFile{version, bytes.size(), crypto::sha256_hex(bytes)};
}

Json role_spec_json(const RoleSpec& r) {
  Json keys = Json::array();
  for (const auto& k : r.keys) keys.push_back(k.hex());
  return Json{{"keys", keys}, {"threshold", r.threshold}, {"expiry_seconds", r.expiry.count()}};
}

Result<RoleSpec> parse_role_spec(const Json& roles, std::string_view name) {
  const std::string where = fmt::format("repo.json roles.{}", name);
  auto obj = json::get_object(roles, name, "repo.json roles");
  if (!obj) return tl::unexpected(obj.error());
  RoleSpec r;
  auto keys = json::get_array(**obj, "keys", where);
  if (!keys) return tl::unexpected(keys.error());
  for (const auto& k : **keys) {
    if (!k.is_string()) return fail(Errc::schema_error, where + ".keys: expected hex strings");
    auto key = crypto::public_key_from_hex(k.get<std::string>());
    if (!key) return tl::unexpected(with_context(key.error(), where));
    r.keys.push_back(*key);
  }
  auto threshold = json::get_uint(**obj, "threshold", where);
  if (!threshold) return tl::unexpected(threshold.error());
  r.threshold = *threshold;
  auto expiry = json::get_uint(**obj, "expiry_seconds", where);
  if (!expiry) return tl::unexpected(expiry.error());
  r.expiry = std::chrono::seconds(static_cast<std::int64_t>(*expiry));
  return r;
}

Json published_json(const MetaFile& pin, TimePoint expires) {
  return Json{{"version", pin.version},
              {"length", pin.length},
              {"sha256", pin.sha256},
              {"expires", format_utc(expires)}};
}

unsigned log2_of(std::uint32_t count) {
  unsigned b = 0;
  while ((std::uint32_t{1} << b) < count) ++b;
  return b;
}

}  // namespace

Status check_bin_count(std::uint32_t count) {
  if (count == 0) return {};
  if (count < 2 || count > max_bins || (count & (count - 1)) != 0) {
    return fail(Errc::invalid_argument,
                fmt::format("{} bins: expected a power of two from 2 to {}", count, max_bins),
                "e.g. 256 (up to ~50,000 targets) or 1024");
  }
  return {};
}

std::size_t bin_prefix_digits(std::uint32_t count) {
  return (log2_of(count) + 3) / 4;
}

std::uint32_t bin_index(std::uint32_t count, std::string_view path) {
  const std::string hex = target_path_hash(path);
  const auto top = static_cast<std::uint32_t>(std::stoul(hex.substr(0, 8), nullptr, 16));
  return top >> (32 - log2_of(count));
}

std::string bin_name(std::uint32_t count, std::uint32_t index) {
  return fmt::format("bins-{:0{}x}", index, bin_prefix_digits(count));
}

std::vector<std::string> bin_prefixes(std::uint32_t count, std::uint32_t index) {
  const std::size_t digits = bin_prefix_digits(count);
  const std::uint32_t span = (std::uint32_t{1} << (4 * digits)) / count;
  std::vector<std::string> out;
  for (std::uint32_t p = index * span; p < (index + 1) * span; ++p) {
    out.push_back(fmt::format("{:0{}x}", p, digits));
  }
  return out;
}

RoleSpec& RolesSpec::operator[](Role r) {
  return role_member(*this, r);
}

const RoleSpec& RolesSpec::operator[](Role r) const {
  return role_member(*this, r);
}

Result<KeyRing> KeyRing::load_dir(const std::filesystem::path& dir) {
  KeyRing ring;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".pem") files.push_back(entry.path());
  }
  if (ec) return fail(Errc::io_error, fmt::format("{}: {}", dir.string(), ec.message()));
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto key = crypto::PrivateKey::load(f);
    if (!key) return tl::unexpected(with_context(key.error(), f.string()));
    ring.add(std::move(*key));
  }
  return ring;
}

void KeyRing::add(crypto::PrivateKey key) {
  owned_.push_back(std::make_unique<crypto::PrivateKey>(std::move(key)));
  keys_.push_back(owned_.back().get());
}

std::vector<const crypto::PrivateKey*> KeyRing::signers_for(
    const std::vector<crypto::PublicKey>& authorised) const {
  std::vector<const crypto::PrivateKey*> out;
  std::set<crypto::PublicKey> used;
  for (const auto* k : keys_) {
    const auto& pub = k->public_key();
    if (std::find(authorised.begin(), authorised.end(), pub) == authorised.end()) continue;
    if (used.insert(pub).second) out.push_back(k);
  }
  return out;
}

std::uint64_t Repo::version(Role r) const {
  switch (r) {
    case Role::root:
      return root_version_;
    case Role::targets:
      return targets_version_;
    case Role::snapshot:
      return snapshot_version_;
    case Role::timestamp:
      return timestamp_version_;
  }
  return 0;
}

RootMetadata Repo::root_metadata(const RolesSpec& spec, std::uint64_t version,
                                 TimePoint now) const {
  RootMetadata root;
  root.version = version;
  root.expires = now + spec.root.expiry;
  for (Role r : all_roles) {
    RoleKeys rk;
    rk.threshold = spec[r].threshold;
    for (const auto& key : spec[r].keys) {
      const auto id = key.keyid();
      root.keys.emplace(id, key);
      if (std::find(rk.keyids.begin(), rk.keyids.end(), id) == rk.keyids.end()) {
        rk.keyids.push_back(id);
      }
    }
    std::sort(rk.keyids.begin(), rk.keyids.end());
    switch (r) {
      case Role::root:
        root.root = rk;
        break;
      case Role::targets:
        root.targets = rk;
        break;
      case Role::snapshot:
        root.snapshot = rk;
        break;
      case Role::timestamp:
        root.timestamp = rk;
        break;
    }
  }
  return root;
}

Status Repo::save() const {
  Json roles = Json::object();
  for (Role r : all_roles) roles[std::string(role_name(r))] = role_spec_json(spec_[r]);
  Json targets = Json::object();
  for (const auto& t : targets_) targets[t.path] = target_entry_json(t);
  Json doc{{"_type", repo_type},
           {"roles", roles},
           {"versions",
            {{"root", root_version_},
             {"targets", targets_version_},
             {"snapshot", snapshot_version_},
             {"timestamp", timestamp_version_}}},
           {"targets", targets}};
  if (bins_.count > 0) {
    Json bins = role_spec_json(bins_.role);
    bins["count"] = bins_.count;
    Json published = Json::object();
    for (const auto& [name, p] : bins_published_)
      published[name] = published_json(p.pin, p.expires);
    bins["published"] = std::move(published);
    if (targets_published_) {
      bins["targets_published"] =
          published_json(targets_published_->pin, targets_published_->expires);
    }
    bins["pending"] = Json(std::vector<std::string>(pending_bins_.begin(), pending_bins_.end()));
    doc["bins"] = std::move(bins);
  }
  return write_file_atomic(dir_ / "repo.json", json::dump_pretty(doc), 0600);
}

Result<Repo> Repo::init(const std::filesystem::path& dir, const InitOptions& options,
                        TimePoint now) {
  if (std::filesystem::exists(dir / "repo.json")) {
    return fail(Errc::already_exists, fmt::format("{} already holds a feed", dir.string()));
  }
  const auto keys_dir = dir / "keys";
  if (auto ok = make_dirs(keys_dir); !ok) return tl::unexpected(ok.error());
  KeyRing ring;
  RolesSpec spec = options.spec;
  const std::pair<Role, std::size_t> counts[] = {{Role::root, options.root_keys},
                                                 {Role::targets, options.targets_keys},
                                                 {Role::snapshot, options.snapshot_keys},
                                                 {Role::timestamp, options.timestamp_keys}};
  BinsSpec bins = options.bins;
  bins.role.keys.clear();
  for (std::size_t i = 0; bins.count > 0 && i < options.bins_keys; ++i) {
    auto key = crypto::PrivateKey::generate();
    if (!key) return tl::unexpected(key.error());
    const auto file =
        keys_dir / fmt::format("bins-{}.pem", key->public_key().keyid().substr(0, 16));
    if (auto ok = key->save(file); !ok) return tl::unexpected(ok.error());
    bins.role.keys.push_back(key->public_key());
  }
  for (const auto& [role, count] : counts) {
    spec[role].keys.clear();
    for (std::size_t i = 0; i < count; ++i) {
      auto key = crypto::PrivateKey::generate();
      if (!key) return tl::unexpected(key.error());
      const auto file = keys_dir / fmt::format("{}-{}.pem", role_name(role),
                                               key->public_key().keyid().substr(0, 16));
      if (auto ok = key->save(file); !ok) return tl::unexpected(ok.error());
      spec[role].keys.push_back(key->public_key());
      ring.add(std::move(*key));
    }
  }
  return create(dir, spec, ring, now, bins);
}

Result<Repo> Repo::create(const std::filesystem::path& dir, const RolesSpec& spec,
                          const KeyRing& ring, TimePoint now, const BinsSpec& bins) {
  if (std::filesystem::exists(dir / "repo.json")) {
    return fail(Errc::already_exists, fmt::format("{} already holds a feed", dir.string()));
  }
  Repo repo;
  repo.dir_ = dir;
  repo.spec_ = spec;
  if (bins.count > 0) {
    if (auto ok = repo.use_bins(bins); !ok) return tl::unexpected(ok.error());
  }
  const RootMetadata root = repo.root_metadata(spec, 1, now);
  const std::string payload = serialize(root);
  // Round-trip through the client's parser: catches thresholds above the key count, etc.
  if (auto ok = parse_root(payload); !ok) {
    return fail(Errc::invalid_argument, "invalid role configuration: " + ok.error().message);
  }
  auto envelope = sign_for(payload, spec.root, ring, "root v1");
  if (!envelope) return tl::unexpected(envelope.error());
  for (const auto& sub : {dir / "public" / "metadata", dir / "public" / "targets"}) {
    if (auto ok = make_dirs(sub); !ok) return tl::unexpected(ok.error());
  }
  if (auto ok = write_file_atomic(repo.public_dir() / root_file_name(1), *envelope, 0644,
                                  Overwrite::refuse);
      !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok = repo.save(); !ok) return tl::unexpected(ok.error());
  return repo;
}

Result<Repo> Repo::open(const std::filesystem::path& dir) {
  auto text = read_file(dir / "repo.json", max_repo_json_bytes);
  if (!text) return tl::unexpected(text.error());
  auto doc = json::parse_strict(*text, json::Limits{max_repo_json_bytes, 32});
  if (!doc) return tl::unexpected(with_context(doc.error(), "repo.json"));
  auto type = json::get_string(*doc, "_type", "repo.json");
  if (!type) return tl::unexpected(type.error());
  if (*type != repo_type) {
    return fail(Errc::schema_error, fmt::format("repo.json: _type is not {}", repo_type));
  }
  Repo repo;
  repo.dir_ = dir;
  auto roles = json::get_object(*doc, "roles", "repo.json");
  if (!roles) return tl::unexpected(roles.error());
  for (Role r : all_roles) {
    auto rs = parse_role_spec(**roles, role_name(r));
    if (!rs) return tl::unexpected(rs.error());
    repo.spec_[r] = std::move(*rs);
  }
  auto versions = json::get_object(*doc, "versions", "repo.json");
  if (!versions) return tl::unexpected(versions.error());
  std::uint64_t* slots[] = {&repo.root_version_, &repo.targets_version_, &repo.snapshot_version_,
                            &repo.timestamp_version_};
  for (Role r : all_roles) {
    auto v = json::get_uint(**versions, role_name(r), "repo.json versions");
    if (!v) return tl::unexpected(v.error());
    *slots[static_cast<int>(r)] = *v;
  }
  if (doc->contains("bins")) {
    const std::string where = "repo.json bins";
    const Json wrapper{{"bins", doc->at("bins")}};
    auto spec = parse_role_spec(wrapper, "bins");
    if (!spec) return tl::unexpected(spec.error());
    repo.bins_.role = std::move(*spec);
    const Json& bins = doc->at("bins");
    auto count = json::get_uint(bins, "count", where);
    if (!count) return tl::unexpected(count.error());
    if (*count == 0 || *count > max_bins)
      return fail(Errc::schema_error, where + ".count: out of range");
    repo.bins_.count = static_cast<std::uint32_t>(*count);
    if (auto ok = check_bin_count(repo.bins_.count); !ok) return tl::unexpected(ok.error());
    auto read_published = [&](const Json& e, const std::string& w) -> Result<Published> {
      Published p;
      auto v = json::get_uint(e, "version", w);
      if (!v) return tl::unexpected(v.error());
      auto l = json::get_uint(e, "length", w);
      if (!l) return tl::unexpected(l.error());
      auto h = json::get_string(e, "sha256", w);
      if (!h) return tl::unexpected(h.error());
      auto x = json::get_string(e, "expires", w);
      if (!x) return tl::unexpected(x.error());
      auto when = parse_utc(*x);
      if (!when) return tl::unexpected(with_context(when.error(), w));
      p.pin = MetaFile{*v, *l, *h};
      p.expires = *when;
      return p;
    };
    auto published = json::get_object(bins, "published", where);
    if (!published) return tl::unexpected(published.error());
    for (const auto& [name, e] : (*published)->items()) {
      auto p = read_published(e, where + ".published." + name);
      if (!p) return tl::unexpected(p.error());
      repo.bins_published_.emplace(name, std::move(*p));
    }
    if (bins.contains("targets_published")) {
      auto p = read_published(bins.at("targets_published"), where + ".targets_published");
      if (!p) return tl::unexpected(p.error());
      repo.targets_published_ = std::move(*p);
    }
    auto pending = json::get_array(bins, "pending", where);
    if (!pending) return tl::unexpected(pending.error());
    for (const auto& n : **pending) {
      if (!n.is_string()) return fail(Errc::schema_error, where + ".pending: expected strings");
      repo.pending_bins_.insert(n.get<std::string>());
    }
  }
  auto targets = json::get_object(*doc, "targets", "repo.json");
  if (!targets) return tl::unexpected(targets.error());
  for (const auto& [path, entry] : (*targets)->items()) {
    auto t = parse_target_entry(path, entry);
    if (!t) return tl::unexpected(with_context(t.error(), "repo.json"));
    repo.targets_.push_back(std::move(*t));
  }
  std::sort(repo.targets_.begin(), repo.targets_.end(),
            [](const TargetInfo& a, const TargetInfo& b) { return a.path < b.path; });
  return repo;
}

Status Repo::add_target(std::string_view path, std::string_view bytes, const TargetCustom& custom) {
  const NewTarget one{std::string(path), bytes, custom};
  return add_targets(std::span<const NewTarget>(&one, 1));
}

Status Repo::add_targets(std::span<const NewTarget> added) {
  std::vector<TargetInfo> infos;
  std::set<std::string> new_paths;
  for (const auto& a : added) {
    TargetInfo t;
    t.path = a.path;
    t.length = a.bytes.size();
    t.sha256 = crypto::sha256_hex(a.bytes);
    t.kind = a.custom.kind;
    t.model = a.custom.model;
    t.revision = a.custom.revision;
    t.release_seq = a.custom.release_seq;
    // Validate exactly as a client will (path policy, model/revision syntax).
    if (auto ok = parse_target_entry(t.path, target_entry_json(t)); !ok) {
      return tl::unexpected(ok.error());
    }
    new_paths.insert(t.path);
    infos.push_back(std::move(t));
  }
  // The whole set once (collision keys of every path): O(N) per call, not per target.
  std::vector<std::string> paths;
  paths.reserve(targets_.size() + infos.size());
  for (const auto& t : infos) paths.push_back(t.path);
  for (const auto& other : targets_) {
    if (!new_paths.count(other.path)) paths.push_back(other.path);
  }
  if (auto ok = check_path_set(paths); !ok) return ok;

  for (std::size_t i = 0; i < infos.size(); ++i) {
    const auto file = public_dir() / consistent_target_name(infos[i]);
    if (auto ok = make_dirs(file.parent_path()); !ok) return ok;
    if (auto ok = write_file_atomic(file, added[i].bytes, 0644); !ok) return ok;
  }
  std::erase_if(targets_, [&](const TargetInfo& o) { return new_paths.count(o.path) > 0; });
  if (bins_.count > 0) {
    for (const auto& t : infos)
      pending_bins_.insert(bin_name(bins_.count, bin_index(bins_.count, t.path)));
  }
  for (auto& t : infos) targets_.push_back(std::move(t));
  std::sort(targets_.begin(), targets_.end(),
            [](const TargetInfo& a, const TargetInfo& b) { return a.path < b.path; });
  return save();
}

Status Repo::remove_target(std::string_view path) {
  const auto removed = std::erase_if(targets_, [&](const TargetInfo& o) { return o.path == path; });
  if (removed == 0) {
    return fail(Errc::not_found,
                fmt::format("target {} is not listed", escape_path_for_message(path)));
  }
  if (bins_.count > 0) pending_bins_.insert(bin_name(bins_.count, bin_index(bins_.count, path)));
  return save();
}

std::uint64_t Repo::bin_version(std::string_view name) const {
  const auto it = bins_published_.find(std::string(name));
  return it == bins_published_.end() ? 0 : it->second.pin.version;
}

Status Repo::use_bins(const BinsSpec& bins) {
  if (bins_.count > 0) {
    return fail(Errc::invalid_argument,
                fmt::format("{} already has {} bins", dir_.string(), bins_.count));
  }
  if (auto ok = check_bin_count(bins.count); !ok) return ok;
  if (bins.count == 0) return fail(Errc::invalid_argument, "0 bins: expected a power of two");
  if (bins.role.keys.empty() || bins.role.threshold < 1 ||
      bins.role.threshold > bins.role.keys.size()) {
    return fail(Errc::invalid_argument, fmt::format("bins: threshold {} of {} key(s)",
                                                    bins.role.threshold, bins.role.keys.size()));
  }
  bins_ = bins;
  targets_published_.reset();
  bins_published_.clear();
  pending_bins_.clear();
  for (std::uint32_t i = 0; i < bins_.count; ++i) pending_bins_.insert(bin_name(bins_.count, i));
  // repo.json is written by create() for a new feed; an existing one is saved here.
  if (std::filesystem::exists(dir_ / "repo.json")) return save();
  return {};
}

Delegations Repo::bin_delegations() const {
  Delegations d;
  std::vector<std::string> keyids;
  for (const auto& k : bins_.role.keys) {
    d.keys.emplace(k.keyid(), k);
    if (std::find(keyids.begin(), keyids.end(), k.keyid()) == keyids.end()) {
      keyids.push_back(k.keyid());
    }
  }
  std::sort(keyids.begin(), keyids.end());
  for (std::uint32_t i = 0; i < bins_.count; ++i) {
    DelegatedRole r;
    r.name = bin_name(bins_.count, i);
    r.keyids = keyids;
    r.threshold = bins_.role.threshold;
    r.path_hash_prefixes = bin_prefixes(bins_.count, i);
    r.terminating = true;
    d.roles.push_back(std::move(r));
  }
  return d;
}

// Re-signs what changed or is due: a role is due when less than half of its validity is left,
// so a feed published at least that often never serves expired metadata.
Status Repo::publish_bins(const KeyRing& ring, TimePoint now) {
  const auto due = [&](const Published* p, std::chrono::seconds validity) {
    return p == nullptr || p->expires < now + validity / 2;
  };
  struct Pending {
    std::string file;
    std::string envelope;
  };
  std::vector<Pending> files;
  std::map<std::uint32_t, std::vector<TargetInfo>> contents;
  std::set<std::uint32_t> to_sign;
  for (std::uint32_t i = 0; i < bins_.count; ++i) {
    const auto name = bin_name(bins_.count, i);
    const auto it = bins_published_.find(name);
    if (pending_bins_.contains(name) ||
        due(it == bins_published_.end() ? nullptr : &it->second, bins_.role.expiry)) {
      to_sign.insert(i);
      contents[i];
    }
  }
  if (!to_sign.empty()) {
    for (const auto& t : targets_) {  // sorted by path, so each bin's list is too
      const auto i = bin_index(bins_.count, t.path);
      if (to_sign.contains(i)) contents[i].push_back(t);
    }
  }
  // Sign everything in memory first: a missing key must not leave a half-published feed.
  auto published = bins_published_;
  for (auto& [i, list] : contents) {
    const auto name = bin_name(bins_.count, i);
    const auto version = bin_version(name) + 1;
    TargetsMetadata bin{version, now + bins_.role.expiry, std::move(list), std::nullopt};
    auto env = sign_for(serialize(bin), bins_.role, ring, name);
    if (!env) return tl::unexpected(env.error());
    auto pin = pin_of(version, *env);
    published[name] = Published{*pin, bin.expires};
    files.push_back({delegated_file_name(name, version), std::move(*env)});
  }
  auto top = targets_published_;
  std::uint64_t targets_version = targets_version_;
  if (due(top ? &*top : nullptr, spec_.targets.expiry)) {
    targets_version = targets_version_ + 1;
    TargetsMetadata targets{targets_version, now + spec_.targets.expiry, {}, bin_delegations()};
    auto env = sign_for(serialize(targets), spec_.targets, ring, "targets");
    if (!env) return tl::unexpected(env.error());
    top = Published{*pin_of(targets_version, *env), targets.expires};
    files.push_back({targets_file_name(targets_version), std::move(*env)});
  }
  SnapshotMetadata snapshot{snapshot_version_ + 1, now + spec_.snapshot.expiry, top->pin, {}};
  for (const auto& [name, p] : published) snapshot.delegated.emplace(name, p.pin);
  auto snapshot_env = sign_for(serialize(snapshot), spec_.snapshot, ring, "snapshot");
  if (!snapshot_env) return tl::unexpected(snapshot_env.error());
  auto snapshot_pin = pin_of(snapshot.version, *snapshot_env);
  TimestampMetadata timestamp{timestamp_version_ + 1, now + spec_.timestamp.expiry, *snapshot_pin};
  auto timestamp_env = sign_for(serialize(timestamp), spec_.timestamp, ring, "timestamp");
  if (!timestamp_env) return tl::unexpected(timestamp_env.error());
  files.push_back({snapshot_file_name(snapshot.version), std::move(*snapshot_env)});

  // As in publish(): versions first, then the versioned files, the timestamp last.
  targets_version_ = targets_version;
  snapshot_version_ = snapshot.version;
  timestamp_version_ = timestamp.version;
  targets_published_ = top;
  bins_published_ = std::move(published);
  pending_bins_.clear();
  if (auto ok = save(); !ok) return ok;
  const auto pub = public_dir();
  for (const auto& f : files) {
    if (auto ok = write_file_atomic(pub / f.file, f.envelope, 0644, Overwrite::refuse); !ok) {
      return ok;
    }
  }
  return write_file_atomic(pub / std::string(timestamp_file_name), *timestamp_env, 0644);
}

Status Repo::publish(const KeyRing& ring, TimePoint now) {
  if (bins_.count > 0) return publish_bins(ring, now);
  // Sign everything in memory first: a missing key must not leave a half-published feed.
  TargetsMetadata targets{targets_version_ + 1, now + spec_.targets.expiry, targets_, std::nullopt};
  auto targets_env = sign_for(serialize(targets), spec_.targets, ring, "targets");
  if (!targets_env) return tl::unexpected(targets_env.error());
  auto targets_pin = pin_of(targets.version, *targets_env);

  SnapshotMetadata snapshot{snapshot_version_ + 1, now + spec_.snapshot.expiry, *targets_pin, {}};
  auto snapshot_env = sign_for(serialize(snapshot), spec_.snapshot, ring, "snapshot");
  if (!snapshot_env) return tl::unexpected(snapshot_env.error());
  auto snapshot_pin = pin_of(snapshot.version, *snapshot_env);

  TimestampMetadata timestamp{timestamp_version_ + 1, now + spec_.timestamp.expiry, *snapshot_pin};
  auto timestamp_env = sign_for(serialize(timestamp), spec_.timestamp, ring, "timestamp");
  if (!timestamp_env) return tl::unexpected(timestamp_env.error());

  // Versions are saved before any file is written, so a crash mid-publish never leads a later
  // publish to rewrite a versioned file that a timestamp may already reference.
  targets_version_ = targets.version;
  snapshot_version_ = snapshot.version;
  timestamp_version_ = timestamp.version;
  if (auto ok = save(); !ok) return ok;
  const auto pub = public_dir();
  if (auto ok = write_file_atomic(pub / targets_file_name(targets.version), *targets_env, 0644,
                                  Overwrite::refuse);
      !ok) {
    return ok;
  }
  if (auto ok = write_file_atomic(pub / snapshot_file_name(snapshot.version), *snapshot_env, 0644,
                                  Overwrite::refuse);
      !ok) {
    return ok;
  }
  // Last: the one mutable name, switching clients to the new set in one rename.
  return write_file_atomic(pub / std::string(timestamp_file_name), *timestamp_env, 0644);
}

Status Repo::publish_timestamp(const KeyRing& ring, TimePoint now) {
  if (snapshot_version_ == 0) {
    return fail(Errc::invalid_argument, "nothing published yet", "run a full publish first");
  }
  auto snapshot_env =
      read_file(public_dir() / snapshot_file_name(snapshot_version_), max_pinned_metadata_bytes);
  if (!snapshot_env) return tl::unexpected(snapshot_env.error());
  auto pin = pin_of(snapshot_version_, *snapshot_env);
  TimestampMetadata timestamp{timestamp_version_ + 1, now + spec_.timestamp.expiry, *pin};
  auto env = sign_for(serialize(timestamp), spec_.timestamp, ring, "timestamp");
  if (!env) return tl::unexpected(env.error());
  timestamp_version_ = timestamp.version;
  if (auto ok = save(); !ok) return ok;
  return write_file_atomic(public_dir() / std::string(timestamp_file_name), *env, 0644);
}

Status Repo::rotate_root(const RolesSpec& new_spec, const KeyRing& ring, TimePoint now) {
  const RootMetadata old_root = root_metadata(spec_, root_version_, now);
  const RootMetadata new_root = root_metadata(new_spec, root_version_ + 1, now);
  const std::string payload = serialize(new_root);
  if (auto ok = parse_root(payload); !ok) {
    return fail(Errc::invalid_argument, "invalid role configuration: " + ok.error().message);
  }
  std::vector<crypto::PublicKey> either = old_root.keys_for(Role::root);
  for (const auto& k : new_root.keys_for(Role::root)) either.push_back(k);
  auto envelope = sign_metadata(payload, ring.signers_for(either));
  if (!envelope) return tl::unexpected(envelope.error());
  // Exactly the client's two checks (tuf-spec 5.3.4), so we never publish a dead end.
  const std::string label = fmt::format("root v{}", new_root.version);
  if (auto ok = verify_envelope(*envelope, old_root.keys_for(Role::root), old_root.root.threshold,
                                label + " (by the current root keys)");
      !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok = verify_envelope(*envelope, new_root.keys_for(Role::root), new_root.root.threshold,
                                label + " (by its own keys)");
      !ok) {
    return tl::unexpected(ok.error());
  }
  // The root file first: if we crash before save(), a retry fails loudly (already_exists)
  // instead of leaving a gap in the root chain.
  if (auto ok = write_file_atomic(public_dir() / root_file_name(new_root.version), *envelope, 0644,
                                  Overwrite::refuse);
      !ok) {
    return ok;
  }
  spec_ = new_spec;
  root_version_ = new_root.version;
  // A client re-verifies targets.json under the new root: sign it again at the next publish.
  targets_published_.reset();
  return save();
}

Result<RefreshOutcome> Repo::verify(TimePoint now, const TargetValidator& validator) const {
  auto root_bytes = read_file(public_dir() / root_file_name(1), max_root_bytes);
  if (!root_bytes) return tl::unexpected(root_bytes.error());
  auto root = verify_initial_root(*root_bytes);
  if (!root) return tl::unexpected(root.error());
  FeedState state;
  state.name = dir_.filename().string();
  state.location = public_dir().string();
  state.root = std::move(*root);
  LocalDirFetcher fetcher(public_dir());
  auto verified = verify_update(state, fetcher, now, validator);
  if (!verified) return tl::unexpected(verified.error());
  state.root = verified->update.root;
  state.timestamp = verified->update.timestamp;
  state.snapshot = verified->update.snapshot;
  state.targets = verified->update.targets;
  state.trusted_targets = verified->update.trusted_targets;
  RefreshOutcome outcome = summarize(state);
  outcome.result = verified->result;
  return outcome;
}

}  // namespace weights::tuf
