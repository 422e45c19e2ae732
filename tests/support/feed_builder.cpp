#include "support/feed_builder.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/net/fetcher.hpp"
#include "core/trust/dsse.hpp"

namespace weights::testing {

namespace {

template <class T>
T must(Result<T> r, std::string_view what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().message);
  return std::move(*r);
}

void must(const Status& s, std::string_view what) {
  if (!s) throw std::runtime_error(std::string(what) + ": " + s.error().message);
}

}  // namespace

TimePoint t0() {
  return must(parse_utc("2026-01-01T00:00:00Z"), "t0");
}

KeyPtr make_key() {
  return std::make_shared<crypto::PrivateKey>(must(crypto::PrivateKey::generate(), "keygen"));
}

std::string release_manifest(std::string_view model, std::string_view revision, std::uint64_t seq) {
  return json::dump_pretty(json::Json{{"_type", "weights-release/v1"},
                                      {"model", model},
                                      {"revision", revision},
                                      {"release_seq", seq}});
}

std::string release_path(std::string_view model, std::string_view revision) {
  return "models/" + std::string(model) + "/" + std::string(revision) + ".release.json";
}

Status check_release_matches(const tuf::TargetInfo& target, std::string_view bytes) {
  auto doc = json::parse_strict(bytes);
  if (!doc) return tl::unexpected(doc.error());
  auto model = json::get_string(*doc, "model", "manifest");
  if (!model) return tl::unexpected(model.error());
  auto revision = json::get_string(*doc, "revision", "manifest");
  if (!revision) return tl::unexpected(revision.error());
  if (*model != target.model || *revision != target.revision) {
    return fail(Errc::wrong_target, "manifest names " + *model + "@" + *revision +
                                        " but the target entry is " + target.model + "@" +
                                        target.revision);
  }
  return {};
}

TestFeed::TestFeed(const std::filesystem::path& dir, Options options)
    : dir_(dir / "publisher"), public_dir_(dir / "publisher" / "public") {
  const std::pair<tuf::Role, std::size_t> counts[] = {{tuf::Role::root, options.root_keys},
                                                      {tuf::Role::targets, options.targets_keys},
                                                      {tuf::Role::snapshot, 1},
                                                      {tuf::Role::timestamp, 1}};
  tuf::RolesSpec spec;
  for (const auto& [role, n] : counts) {
    for (std::size_t i = 0; i < n; ++i) {
      keys_[role].push_back(make_key());
      spec[role].keys.push_back(keys_[role].back()->public_key());
    }
  }
  spec.root.threshold = options.root_threshold;
  spec.targets.threshold = options.targets_threshold;
  tuf::BinsSpec bins;
  bins.count = options.bins;
  if (options.bins > 0) {
    bins_keys_.push_back(make_key());
    bins.role.keys.push_back(bins_keys_.back()->public_key());
  }
  repo_.emplace(must(tuf::Repo::create(dir_, spec, ring(), t0(), bins), "create feed"));
}

std::vector<const crypto::PrivateKey*> TestFeed::bins_keys() const {
  std::vector<const crypto::PrivateKey*> out;
  for (const auto& k : bins_keys_) out.push_back(k.get());
  return out;
}

const crypto::PrivateKey& TestFeed::key(tuf::Role role, std::size_t i) const {
  return *keys_.at(role).at(i);
}

std::vector<const crypto::PrivateKey*> TestFeed::keys(tuf::Role role) const {
  std::vector<const crypto::PrivateKey*> out;
  for (const auto& k : keys_.at(role)) out.push_back(k.get());
  return out;
}

tuf::KeyRing TestFeed::ring() const {
  tuf::KeyRing r;
  for (const auto& [role, list] : keys_) {
    for (const auto& k : list) r.add_borrowed(*k);
  }
  for (const auto& k : bins_keys_) r.add_borrowed(*k);
  return r;
}

tuf::KeyRing TestFeed::ring_of(const std::vector<const crypto::PrivateKey*>& keys) {
  tuf::KeyRing r;
  for (const auto* k : keys) r.add_borrowed(*k);
  return r;
}

void TestFeed::add_release(std::string_view model, std::string_view revision, std::uint64_t seq,
                           TimePoint now) {
  must(repo_->add_target(release_path(model, revision), release_manifest(model, revision, seq),
                         tuf::TargetCustom{tuf::TargetKind::release, std::string(model),
                                           std::string(revision), seq}),
       "add_target");
  publish(now);
}

void TestFeed::publish(TimePoint now) {
  must(repo_->publish(ring(), now), "publish");
}

std::vector<KeyPtr> TestFeed::rotate_role_keys(tuf::Role role, TimePoint now) {
  tuf::RolesSpec spec = repo_->spec();
  std::vector<KeyPtr> fresh;
  spec[role].keys.clear();
  for (std::size_t i = 0; i < keys_.at(role).size(); ++i) {
    fresh.push_back(make_key());
    spec[role].keys.push_back(fresh.back()->public_key());
  }
  tuf::KeyRing signers = ring();
  for (const auto& k : fresh) signers.add_borrowed(*k);
  must(repo_->rotate_root(spec, signers, now), "rotate_root");
  std::vector<KeyPtr> old = std::move(keys_[role]);
  keys_[role] = std::move(fresh);
  for (const auto& k : old) retired_.push_back(k);
  publish(now);
  return old;
}

std::string TestFeed::read(std::string_view name) const {
  std::ifstream in(public_dir_ / std::string(name), std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + std::string(name));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void TestFeed::write(std::string_view name, std::string_view bytes) const {
  const auto path = public_dir_ / std::string(name);
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + std::string(name));
}

void TestFeed::remove(std::string_view name) const {
  std::filesystem::remove(public_dir_ / std::string(name));
}

bool TestFeed::exists(std::string_view name) const {
  return std::filesystem::exists(public_dir_ / std::string(name));
}

json::Json TestFeed::payload(std::string_view name) const {
  auto env = must(dsse::parse(read(name)), "parse envelope");
  return must(json::parse_strict(env.payload), "parse payload");
}

void TestFeed::write_signed(std::string_view name, std::string_view payload,
                            const std::vector<const crypto::PrivateKey*>& signers) const {
  write(name, must(tuf::sign_metadata(payload, signers), "sign"));
}

void TestFeed::write_signed_json(std::string_view name, const json::Json& payload,
                                 const std::vector<const crypto::PrivateKey*>& signers) const {
  write_signed(name, json::dump_pretty(payload), signers);
}

void TestFeed::edit(std::string_view name, const std::function<void(json::Json&)>& edit,
                    const std::vector<const crypto::PrivateKey*>& signers) const {
  json::Json doc = payload(name);
  edit(doc);
  write_signed_json(name, doc, signers);
}

void TestFeed::repin_timestamp(std::string_view snapshot_name, std::uint64_t timestamp_version,
                               TimePoint expires) const {
  const std::string bytes = read(snapshot_name);
  const auto version = payload(snapshot_name).at("version").get<std::uint64_t>();
  tuf::TimestampMetadata ts{timestamp_version, expires,
                            tuf::MetaFile{version, bytes.size(), crypto::sha256_hex(bytes)}};
  write_signed(tuf::timestamp_file_name, tuf::serialize(ts), keys(tuf::Role::timestamp));
}

void TestFeed::repin_snapshot(std::string_view snapshot_name, std::string_view targets_name,
                              std::uint64_t snapshot_version, TimePoint expires) const {
  const std::string bytes = read(targets_name);
  const auto version = payload(targets_name).at("version").get<std::uint64_t>();
  tuf::SnapshotMetadata snap{snapshot_version,
                             expires,
                             tuf::MetaFile{version, bytes.size(), crypto::sha256_hex(bytes)},
                             {}};
  write_signed(snapshot_name, tuf::serialize(snap), keys(tuf::Role::snapshot));
}

std::string TestFeed::current_snapshot_name() const {
  return tuf::snapshot_file_name(repo_->version(tuf::Role::snapshot));
}

std::string TestFeed::current_targets_name() const {
  return tuf::targets_file_name(repo_->version(tuf::Role::targets));
}

TestClient::TestClient(const std::filesystem::path& state_dir, const TestFeed& feed,
                       std::string name)
    : state_dir_(state_dir), public_dir_(feed.public_dir()), name_(std::move(name)) {
  store_.emplace(must(StateStore::open(state_dir_), "open state"));
  must(tuf::add_feed(*store_, name_, public_dir_.string(), feed.root_v1(), t0()), "add feed");
}

Result<tuf::RefreshOutcome> TestClient::refresh(TimePoint now, const tuf::ClientLimits& limits) {
  return refresh(now, &check_release_matches, limits);
}

Result<tuf::RefreshOutcome> TestClient::refresh(TimePoint now,
                                                const tuf::TargetValidator& validator,
                                                const tuf::ClientLimits& limits) {
  LocalDirFetcher fetcher(public_dir_);
  return tuf::refresh(*store_, name_, fetcher, now, validator, limits);
}

FeedState TestClient::state() {
  return must(store_->load_feed(name_), "load feed");
}

void TestClient::close() {
  store_.reset();
}

void TestClient::reopen() {
  store_.reset();
  store_.emplace(must(StateStore::open(state_dir_), "reopen state"));
}

}  // namespace weights::testing
