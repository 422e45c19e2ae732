#include "daemon/engine/pinned_fetch.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <system_error>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "core/api/release_ref.hpp"
#include "core/upstream/git_bundle.hpp"
#include "core/upstream/hf_pin.hpp"
#include "core/upstream/model_card.hpp"
#include "core/upstream/pin_exchange.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/time.hpp"
#include "core/util/units.hpp"
#include "daemon/engine/peer_dialer.hpp"
#include "daemon/engine/pin_announcer.hpp"
#include "daemon/engine/pin_search.hpp"
#include "daemon/engine/pinned_swarm.hpp"
#include "daemon/engine/seed_intake.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {

namespace fs = std::filesystem;

// The license of a pinned release: the pin names none (the model card does).
constexpr std::string_view pinned_license = "unspecified: see the repository's model card";
// A swarm fetch whose metadata has not come from a peer by then goes to the hub alone.
constexpr std::chrono::seconds swarm_metadata_timeout{30};
// Progress from a transfer reaches the io thread at most this often per job.
constexpr auto progress_interval = std::chrono::milliseconds(250);

struct PinnedFetch::Job {
  std::string id;  // the release's id now ("org/name" until a branch is resolved)
  std::uint64_t generation = 0;
  std::string repo;
  std::optional<std::string> branch;  // set: the hub resolves it to `commit`
  std::optional<std::string> alias;   // the catalog alias the request named
  std::string commit;
  fs::path dir;  // staging: work_dir / commit
  // The swarm path: the swarm's v2 info-hash, the request's peers, the transient torrent and
  // each pinned file's index in it (once its metadata passed the check).
  std::optional<std::string> swarm_v2;
  std::vector<PeerEndpoint> peers;
  TorrentId swarm = no_torrent;
  std::vector<int> lt_index;
  bool finishing = false;  // finished: its files are being flushed, then hashed
  Acceptance acceptance = Acceptance::not_given;
  // The catalog's terms; else the model card's, once pinned.
  std::optional<upstream::LicenseTerms> license;
  std::optional<std::int64_t> license_accepted_at;
  // Filled by the steps, each on its thread, read by the next on the io thread.
  upstream::PinnedTree tree;
  // The commit's git object bundle (core/upstream/git_bundle.hpp), written with the torrent so
  // that the pin exchange can serve it (docs/pinned-releases.md §4b).
  std::string objects;
  // README.md of the commit, parsed (read from its git objects while they are here); nullopt:
  // the commit has none in git.
  std::optional<Result<upstream::ModelCard>> card;
  std::vector<ReleaseFile> files;  // hashed against the pin
  std::optional<PinnedTorrent> built;
  std::optional<HubCheck> refused;  // the hub refused a download (set on the transfer thread)
  // Hub gone: the hub's error, the search for the pin's peers (docs/pinned-releases.md §4c),
  // its key, and the peer whose answer verified (its swarm is joined).
  std::optional<Error> hub_error;
  std::unique_ptr<PinSearch> search;
  std::string dht_key;
  std::optional<units::Endpoint> pin_peer;
};

namespace {

// A fetch from the upstream that failed before it was taken in: the next request replaces it.
bool failed_before(const Release& r) {
  return r.error && !valid(r.handle) && r.upstream_phase == UpstreamPhase::none;
}

}  // namespace

Result<std::optional<PinTarget>> pin_target(const FetchRequest& request) {
  std::string name = request.name;
  std::optional<std::string> revision = request.revision;
  if (!revision) {
    auto ref = api::ReleaseRef::parse(name);
    if (!ref) return tl::unexpected(ref.error());
    name = ref->name;
    revision = ref->revision;
  }
  if (!is_valid_model_id(name)) return std::optional<PinTarget>{};
  if (!revision) {
    return std::optional<PinTarget>{
        PinTarget{name, std::nullopt, std::nullopt, std::nullopt, std::nullopt}};
  }
  std::string commit = *revision;
  std::transform(commit.begin(), commit.end(), commit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!upstream::is_commit_id(commit)) {
    return fail(Errc::invalid_argument,
                fmt::format("{}@{}: no feed has this release, and '{}' is not a full commit id "
                            "(40 hex digits) to fetch from the upstream",
                            name, *revision, *revision),
                fmt::format("name the full commit (weightsctl fetch {}@<40-hex commit>), or "
                            "fetch {} alone to pin its default branch",
                            name, name));
  }
  return std::optional<PinTarget>{
      PinTarget{name, std::move(commit), std::nullopt, std::nullopt, std::nullopt}};
}

Result<PinTarget> catalog_target(const catalog::Catalog& catalog, const FetchRequest& request) {
  std::string name = request.name;
  std::optional<std::string> revision = request.revision;
  if (!revision) {
    auto ref = api::ReleaseRef::parse(name);
    if (!ref) return tl::unexpected(ref.error());
    name = ref->name;
    revision = ref->revision;
  }
  auto entry = catalog.lookup(name);
  if (!entry) return tl::unexpected(entry.error());
  const catalog::Entry& e = **entry;
  if (e.upstream != upstream_kind) {
    return fail(Errc::unsupported,
                fmt::format("{} ({}): upstream '{}' is not one weightsd fetches from", name,
                            e.where.to_string(), e.upstream),
                "only huggingface entries are fetched from their upstream");
  }
  if (revision && *revision != e.commit) {
    return fail(
        Errc::invalid_argument,
        fmt::format("{}@{}: the catalog pins {} to commit {} ({})", name, *revision, e.id, e.commit,
                    e.where.to_string()),
        fmt::format("fetch {} for the catalog's commit, or {}@<commit> for another", name, e.repo));
  }
  PinTarget target{e.repo, e.commit, name, std::nullopt, catalog_terms(e)};
  if (!e.info_hash_v2.empty()) target.info_hash_v2 = e.info_hash_v2;
  return target;
}

UpstreamSettings upstream_settings(const std::string& configured_endpoint, hf::HubOptions from_env,
                                   std::shared_ptr<const std::atomic<bool>> cancel) {
  UpstreamSettings s;
  s.hub = std::move(from_env);
  if (cancel) s.hub.cancel = std::move(cancel);
  if (!configured_endpoint.empty()) s.hub.endpoint = configured_endpoint;
  while (!s.hub.endpoint.empty() && s.hub.endpoint.back() == '/') s.hub.endpoint.pop_back();
  s.git.token = s.hub.token;  // git_pin sends it to the URL's own origin only
  s.git.proxy = s.hub.proxy;
  return s;
}

std::string git_url(const UpstreamSettings& s, std::string_view repo) {
  return fmt::format("{}/{}", s.hub.endpoint, repo);
}

std::string web_seed_base(const UpstreamSettings& s, std::string_view repo) {
  return fmt::format("{}/{}/resolve/", s.hub.endpoint, repo);
}

ReleaseManifest interim_manifest(std::string_view repo, const upstream::PinnedTree& tree) {
  ReleaseManifest m;
  m.model = std::string(repo);
  m.revision = tree.commit;
  m.license = std::string(pinned_license);
  m.upstream = {std::string(upstream_kind), std::string(repo)};
  for (const auto& f : tree.files) {
    ReleaseFile rf;
    rf.path = f.path;
    rf.length = f.size;
    rf.sha256 = f.sha256;
    if (f.kind == upstream::FileKind::blob) rf.git_oid = f.git_oid;
    m.total_length += f.size;
    m.files.push_back(std::move(rf));
  }
  return m;
}

Result<ReleaseManifest> pinned_manifest(std::string_view repo, const upstream::PinnedTree& tree,
                                        std::vector<ReleaseFile> files, const PinnedTorrent& built,
                                        std::string web_seed, std::string published) {
  ReleaseManifest m = interim_manifest(repo, tree);
  m.files = std::move(files);
  m.published = std::move(published);
  m.torrent.v2_infohash = built.torrents.v2_infohash;
  m.torrent.v1_infohash = built.torrents.v1_infohash;
  m.torrent.piece_length = built.torrents.piece_length;
  m.torrent.web_seeds = {std::move(web_seed)};
  if (auto st = validate_release_manifest(m); !st) return tl::unexpected(st.error());
  return m;
}

PinnedFetch::PinnedFetch(ReleaseRegistry& registry, PinnedFetchHost& host, LicenseGate& licenses,
                         UpstreamSettings settings, fs::path work_dir)
    : registry_(registry),
      host_(host),
      licenses_(licenses),
      settings_(std::move(settings)),
      work_dir_(std::move(work_dir)) {}

Result<Release*> PinnedFetch::fetch(const PinTarget& target, const FetchRequest& request) {
  if (host_.shutting_down()) return fail(Errc::unavailable, "weightsd is shutting down");
  if (!request.include.empty()) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: --include selects files of a feed's release; a release pinned "
                            "by an upstream commit is fetched whole",
                            target.repo),
                "fetch it without --include");
  }
  std::vector<PeerEndpoint> peers;
  for (const auto& p : request.peers) {
    auto ep = parse_peer(p);
    if (!ep) return tl::unexpected(ep.error());
    peers.push_back(*ep);
  }
  const std::string id =
      target.commit ? fmt::format("{}@{}", target.repo, *target.commit) : target.repo;
  if (target.commit) {
    if (auto pin = canonical_pin(upstream_kind, target.repo, *target.commit); !pin) {
      return tl::unexpected(pin.error());
    }
  }
  if (Release* known = registry_.find(id)) {
    if (auto st = host_.not_loading(*known); !st) return tl::unexpected(st.error());
    if (!failed_before(*known)) {
      if (request.hf_cache && !known->hf_cache) {
        known->hf_cache = request.hf_cache;
        if (state_of(*known) == ReleaseState::complete) host_.check_complete(*known);
      }
      return known;
    }
    registry_.erase(id);
  }
  // The catalog's terms are known now: a refusal is this request's answer, before anything starts.
  const Acceptance acceptance = request.accept_license ? Acceptance::given : Acceptance::not_given;
  std::optional<std::int64_t> accepted_at;
  if (target.license) {
    auto admitted = licenses_.admit(target.alias.value_or(id), target.repo, *target.license,
                                    acceptance, host_.now_ticks());
    if (!admitted) return tl::unexpected(admitted.error());
    accepted_at = admitted->accepted_at;
  }

  ReleaseRecord rec;
  rec.id = id;
  rec.feed = std::string(upstream_feed);
  rec.model = target.repo;
  rec.revision = target.commit.value_or("");
  rec.origin = Origin::upstream;
  rec.added_at = host_.now_ticks();
  rec.last_requested = rec.added_at;
  ReleaseManifest m;
  m.model = target.repo;
  m.revision = rec.revision;
  m.upstream = {std::string(upstream_kind), target.repo};
  Release& r = registry_.add(host_.make_release(std::move(rec), m));
  r.upstream_phase = UpstreamPhase::pinning;
  r.hf_cache = request.hf_cache;
  r.upstream_alias = target.alias;
  r.license = target.license;
  r.license_accepted_at = accepted_at;
  // The catalog's commit is not necessarily what the upstream's main names: the cache's refs
  // stay where they are (only refs the request named move).
  if (r.hf_cache && target.alias && !r.hf_cache->requested_revision) {
    r.hf_cache->requested_revision = target.commit;
  }
  auto job = std::make_shared<Job>();
  job->id = id;
  job->generation = r.generation;
  job->repo = target.repo;
  job->alias = target.alias;
  job->peers = std::move(peers);
  // The swarm is named for the catalog's commit: a branch could be another commit.
  if (target.commit) job->swarm_v2 = target.info_hash_v2;
  job->acceptance = acceptance;
  job->license = target.license;
  job->license_accepted_at = accepted_at;
  if (target.alias) {
    log::info("{}: the catalog names {}", *target.alias, id);
  }
  if (target.commit) {
    job->commit = *target.commit;
    start_pin(job);
    return &r;
  }
  // The default branch: the one step that trusts the hub.
  job->branch = std::string(default_branch);
  r.upstream_branch = job->branch;
  log::info("{}: asking {} which commit branch {} is", id, settings_.hub.endpoint, *job->branch);
  host_.on_transfer(
      [job, hub = settings_.hub]() -> Status {
        auto got = hf::Hub(hub).get_json(
            fmt::format("{}/api/models/{}/revision/{}", hub.endpoint, job->repo, *job->branch));
        if (!got) return tl::unexpected(got.error());
        auto info = hf::parse_revision_info(got->body);
        if (!info) return tl::unexpected(info.error());
        if (!upstream::is_commit_id(info->sha)) {
          return fail(Errc::schema_error,
                      fmt::format("{}@{}: the hub answered with '{}', not a commit id", job->repo,
                                  *job->branch, info->sha));
        }
        job->commit = info->sha;
        return {};
      },
      [this, job](Status got) { branch_resolved(job, std::move(got)); });
  return &r;
}

Release* PinnedFetch::current(const Job& job) {
  Release* r = registry_.find(job.id);
  if (!r || r->generation != job.generation) return nullptr;
  return r;
}

// The hub named the branch's commit: the release becomes `org/name@<commit>` (a request waiting
// on `org/name` follows it: look-ups by model find it).
void PinnedFetch::branch_resolved(const std::shared_ptr<Job>& job, Status got) {
  Release* r = current(*job);
  if (!r || host_.shutting_down()) return;
  if (!got) return failed(job, got.error());
  const std::string id = fmt::format("{}@{}", job->repo, job->commit);
  log::warning(
      "{}: branch {} is commit {}: the hub said so, and this one step trusted it "
      "(fetch {} to trust nothing but the commit id)",
      job->repo, *job->branch, job->commit, id);
  auto hf_cache = r->hf_cache;
  registry_.erase(job->id);
  if (Release* known = registry_.find(id)) {
    if (!failed_before(*known)) {
      if (hf_cache && !known->hf_cache) known->hf_cache = hf_cache;
      return;  // already here or on its way
    }
    registry_.erase(id);  // failed (a licence not accepted then, say): this request retries it
  }
  ReleaseRecord rec;
  rec.id = id;
  rec.feed = std::string(upstream_feed);
  rec.model = job->repo;
  rec.revision = job->commit;
  rec.origin = Origin::upstream;
  rec.added_at = host_.now_ticks();
  rec.last_requested = rec.added_at;
  ReleaseManifest m;
  m.model = job->repo;
  m.revision = job->commit;
  m.upstream = {std::string(upstream_kind), job->repo};
  Release& nr = registry_.add(host_.make_release(std::move(rec), m));
  nr.upstream_phase = UpstreamPhase::pinning;
  nr.upstream_branch = job->branch;
  nr.hf_cache = std::move(hf_cache);
  job->id = id;
  job->generation = nr.generation;
  start_pin(job);
}

void PinnedFetch::start_pin(const std::shared_ptr<Job>& job) {
  job->dir = work_dir_ / job->commit;
  log::info("{}: fetching commit {} from {} (git)", job->id, job->commit,
            git_url(settings_, job->repo));
  host_.on_transfer(
      [job, url = git_url(settings_, job->repo), git = settings_.git]() -> Status {
        return upstream::fetch_commit_objects(
            url, job->commit, git, [&job](git_repository* repo) -> Status {
              auto tree = upstream::read_pinned_tree(repo, job->commit);
              if (!tree) return tl::unexpected(tree.error());
              job->tree = std::move(*tree);
              auto objects = upstream::write_git_bundle(repo, job->commit);
              if (!objects) return tl::unexpected(objects.error());
              job->objects = std::move(*objects);
              // The model card, while its blob is here (before any file is downloaded).
              if (job->license) return {};
              for (const auto& f : job->tree.files) {
                if (f.path != upstream::model_card_path || f.kind != upstream::FileKind::blob) {
                  continue;
                }
                auto text = upstream::read_blob(repo, f.git_oid, upstream::max_small_blob_bytes);
                if (!text) {
                  job->card = tl::unexpected(text.error());
                } else {
                  job->card = upstream::parse_model_card(*text);
                }
              }
              return {};
            });
      },
      [this, job](Status got) { pinned(job, std::move(got)); });
}

// The tree is pinned from git objects alone: its files, then the downloads.
void PinnedFetch::pinned(const std::shared_ptr<Job>& job, Status got) {
  Release* r = current(*job);
  if (!r || host_.shutting_down()) return;
  if (!got) {
    if (hub_gone(job, got.error())) return;
    return failed(job, got.error());
  }
  r->manifest = interim_manifest(job->repo, job->tree);
  r->files.assign(r->manifest.files.size(), FileEntry{});
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < r->files.size(); ++i) {
    r->files[i].length = r->manifest.files[i].length;
    r->files[i].wanted = true;
    paths.push_back(r->manifest.files[i].path);
  }
  // The licence before any file is requested: the catalog's was admitted with the request (its
  // files are known now); the model card's is admitted here.
  if (job->license) {
    if (job->license->files.empty()) job->license->files = upstream::license_files(paths);
    r->license = job->license;
  } else {
    job->license = upstream::terms_from_card(job->card, paths, job->commit);
    r->license = job->license;
    auto admitted =
        licenses_.admit(job->id, job->repo, *job->license, job->acceptance, host_.now_ticks());
    if (!admitted) return failed(job, admitted.error());
    job->license_accepted_at = admitted->accepted_at;
    r->license_accepted_at = admitted->accepted_at;
  }
  // Room under the disk budget and on the filesystem before any file is requested.
  if (auto st = host_.make_room(*r); !st) return failed(job, st.error());
  r->upstream_phase = UpstreamPhase::downloading;
  if (job->swarm_v2) return join_swarm(job);
  log::info("{}: {} files, {}, pinned by the commit's git objects; downloading from {}", job->id,
            job->tree.files.size(), units::format_size(r->manifest.total_length),
            settings_.hub.endpoint);
  download_from_hub(job);
}

// Every file from the hub's resolve URLs, each hashed against the pin as soon as it is here.
void PinnedFetch::download_from_hub(const std::shared_ptr<Job>& job) {
  host_.on_transfer(
      [this, job, hub = settings_.hub, &host = host_]() -> Status {
        const hf::HubRevision rev =
            upstream::pinned_revision(job->repo, job->tree, std::string(pinned_license));
        hf::Hub client(hub);
        job->files.clear();
        std::error_code ec;
        fs::create_directories(job->dir, ec);
        if (ec) {
          return fail(Errc::io_error,
                      fmt::format("cannot create {}: {}", job->dir.string(), ec.message()));
        }
        // Progress and the rate (bytes received per second since the last report) reach the
        // release at most every progress_interval, and at each file's end.
        auto last = std::chrono::steady_clock::now();
        std::uint64_t received = 0, reported = 0;
        for (std::size_t i = 0; i < rev.files.size(); ++i) {
          std::uint64_t file_done = 0;
          auto progress = [&, i](const hf::HubFile& f, std::uint64_t done) {
            received += done > file_done ? done - file_done : 0;
            file_done = done;
            const auto now = std::chrono::steady_clock::now();
            if (done != f.size && now - last < progress_interval) return;
            const double secs = std::chrono::duration<double>(now - last).count();
            const auto rate =
                secs > 0
                    ? static_cast<std::int64_t>(static_cast<double>(received - reported) / secs)
                    : 0;
            last = now;
            reported = received;
            host.post([this, job, i, done, rate] {
              if (Release* rr = current(*job); rr && i < rr->files.size()) {
                rr->files[i].done = static_cast<std::int64_t>(done);
                rr->upstream_rate = rate;
              }
            });
          };
          const auto dest = job->dir / rev.files[i].path;
          if (auto st = client.download(rev, rev.files[i], dest, progress); !st) {
            auto check = check_of_failure(st.error(), client.last_refusal(),
                                          client.last_refusal_status(), client.last_error_code());
            if (check.outcome == HubCheck::Outcome::refused) job->refused = std::move(check);
            return st;
          }
          // Checked against the pin as soon as it is here: a hub that lies about one file is
          // refused before the next is downloaded, and the bad copy goes.
          const auto& pin = job->tree.files[i];
          HashOptions one;
          one.threads = 1;
          auto hashed = hash_pinned_files(job->dir, {{pin.path, pin.size, pin.sha256}}, one);
          if (!hashed) {
            fs::remove(dest, ec);
            return tl::unexpected(hashed.error());
          }
          job->files.push_back(std::move(hashed->front()));
        }
        return {};
      },
      [this, job](Status done) { downloaded(job, std::move(done)); });
}

// Every file is here: hashed against the pin and the torrent built, on the hashing pool.
void PinnedFetch::downloaded(const std::shared_ptr<Job>& job, Status got) {
  Release* r = current(*job);
  if (!r || host_.shutting_down()) return;
  r->upstream_rate = 0;
  if (job->refused) host_.hub_answered(job->id, *job->refused);
  if (!got) return failed(job, got.error());
  r->upstream_phase = UpstreamPhase::building;
  host_.on_pool(
      [job, store = host_.store(), seed = web_seed_base(settings_, job->repo)]() -> Status {
        // Each file was hashed against the pin as it arrived; the set and the git blob ids once
        // more here, then the torrent (libtorrent reads every file and checks its bt_root).
        if (auto st = upstream::check_against_pin(job->tree, job->files); !st) return st;
        auto pin = canonical_pin(upstream_kind, job->repo, job->commit);
        if (!pin) return tl::unexpected(pin.error());
        auto built = build_pinned_torrent({*pin, job->files, job->dir, {seed}});
        if (!built) return tl::unexpected(built.error());
        const auto& t = built->torrents;
        if (job->swarm_v2 && t.v2_infohash != *job->swarm_v2) {
          return fail(Errc::wrong_target,
                      fmt::format("the swarm's torrent is not the canonical torrent of commit {} "
                                  "(swarm {}, canonical {})",
                                  job->commit, *job->swarm_v2, t.v2_infohash),
                      "the catalog's info_hash_v2 is wrong: weightsctl catalog check");
        }
        for (const auto& [path, bytes] :
             {std::pair{store.torrent_file(t.v2_infohash), &t.hybrid},
              std::pair{store.torrent_v1_file(t.v2_infohash), &t.v1_companion}}) {
          if (auto st = write_file_atomic(path, *bytes); !st) return st;
        }
        if (!job->objects.empty()) {
          auto st = write_file_atomic(store.git_objects_file(t.v2_infohash), job->objects);
          if (!st) return st;
        }
        job->built = std::move(*built);
        return {};
      },
      [this, job](Status done) { built(job, std::move(done)); });
}

// The files match the pin and the torrent is built: the release is taken in like a seeded one.
void PinnedFetch::built(const std::shared_ptr<Job>& job, Status got) {
  Release* r = current(*job);
  if (!r || host_.shutting_down()) return;
  if (!got) return failed(job, got.error());
  end_search(job);
  const auto& t = job->built->torrents;
  auto m = pinned_manifest(job->repo, job->tree, job->files, *job->built,
                           web_seed_base(settings_, job->repo),
                           format_utc(TimePoint(TimePoint::duration(host_.now_ticks()))));
  if (!m) return failed(job, m.error());
  auto bytes = serialize_release_manifest(*m);
  if (!bytes) return failed(job, bytes.error());
  // One rename moves the staged files where the store keeps a release's files (its torrent's
  // name is the commit, so this is the torrent's layout).
  const fs::path staged = host_.store().staging_dir(t.v2_infohash) / job->commit;
  std::error_code ec;
  fs::create_directories(staged.parent_path(), ec);
  fs::remove_all(staged, ec);
  fs::rename(job->dir, staged, ec);
  if (ec) {
    return failed(job, Error{Errc::io_error,
                             fmt::format("cannot move {} to {}: {}", job->dir.string(),
                                         staged.string(), ec.message()),
                             ""});
  }
  ReleaseRecord rec = r->rec;
  rec.v2_infohash = t.v2_infohash;
  rec.manifest = std::move(*bytes);
  auto hf_cache = r->hf_cache;
  auto sources = r->sources;
  auto rejected = r->upstream_rejected;
  const auto rejected_more = r->upstream_rejected_more;
  Release& nr = registry_.add(host_.make_release(std::move(rec), *m));  // replaces *r
  nr.hf_cache = std::move(hf_cache);
  nr.sources = std::move(sources);
  nr.upstream_branch = job->branch;
  nr.upstream_alias = job->alias;
  nr.upstream_rejected = std::move(rejected);
  nr.upstream_rejected_more = rejected_more;
  nr.license = job->license;
  nr.license_accepted_at = job->license_accepted_at;
  if (auto st = adopt_taken(nr, host_.store()); !st) {
    nr.error = st.error();
    registry_.persist(nr);
    return;
  }
  if (auto added = host_.add_seed(nr); !added) {
    nr.error = added.error();
    registry_.persist(nr);
    return;
  }
  log::info("{}: every file matches commit {}; seeding (v2 info-hash {})", nr.rec.id, job->commit,
            t.v2_infohash);
  registry_.persist(nr);
  host_.check_complete(nr);
}

void PinnedFetch::failed(const std::shared_ptr<Job>& job, const Error& e) {
  leave_swarm(*job);
  end_search(job);
  if (Release* r = current(*job)) {
    r->upstream_phase = UpstreamPhase::none;
    r->upstream_rate = 0;
    r->error = e;
    for (auto& f : r->files) f.done = 0;
  }
  log::error("fetch {}: {}", job->id, e.message);
  // Nothing that failed a check stays: the next attempt downloads afresh. After a transfer that
  // could not complete (unavailable) the files stay for the next attempt to resume; they are
  // hashed against the pin before anything uses them.
  if (!job->dir.empty() && e.code != Errc::unavailable) {
    host_.on_pool(
        [dir = job->dir]() -> Status {
          std::error_code ec;
          fs::remove_all(dir, ec);
          return {};
        },
        [](Status) {});
  }
}

// ---- the swarm path
// ------------------------------------------------------------------------------

void PinnedFetch::join_swarm(const std::shared_ptr<Job>& job) {
  std::error_code ec;
  fs::create_directories(job->dir, ec);
  if (ec) {
    return failed(job,
                  Error{Errc::io_error,
                        fmt::format("cannot create {}: {}", job->dir.string(), ec.message()), ""});
  }
  MagnetAdd add;
  add.v2_infohash = *job->swarm_v2;
  add.save_path = work_dir_;  // the torrent's name is the commit: its files land in job->dir
  // The hub gone: no web seed (it would only fail).
  if (!job->hub_error) add.web_seeds = {web_seed_base(settings_, job->repo)};
  add.peers = job->peers;
  auto t = host_.backend().add_magnet(add);
  if (!t) {
    return failed(job, with_context(t.error(), fmt::format("swarm {}", *job->swarm_v2)));
  }
  job->swarm = *t;
  swarms_[*t] = job;
  // No peer may have the metadata (no holder is up, or none is known): then the hub alone.
  host_.after(swarm_metadata_timeout, [this, job, t = *t] {
    if (job->swarm != t || !job->lt_index.empty() || !swarm_job(t)) return;
    if (job->hub_error) {
      return swarm_rejected(job, fmt::format("no peer gave the metadata of its info-hash {} within "
                                             "{} s",
                                             *job->swarm_v2, swarm_metadata_timeout.count()));
    }
    log::warning("{}: no peer gave the metadata of swarm {} within {} s; downloading from {} alone",
                 job->id, *job->swarm_v2, swarm_metadata_timeout.count(), settings_.hub.endpoint);
    leave_swarm(*job);
    job->swarm_v2.reset();
    download_from_hub(job);
  });
  log::info(
      "{}: {} files, {}, pinned by the commit's git objects; joining swarm {} ({} peers given, "
      "web seed {})",
      job->id, job->tree.files.size(),
      units::format_size(interim_manifest(job->repo, job->tree).total_length), *job->swarm_v2,
      job->peers.size(), add.web_seeds.empty() ? std::string("none") : add.web_seeds.front());
}

// The job of transient torrent `t`; one whose release is gone (removed, failed) leaves the
// swarm here.
std::shared_ptr<PinnedFetch::Job> PinnedFetch::swarm_job(TorrentId t) {
  const auto it = swarms_.find(t);
  if (it == swarms_.end()) return nullptr;
  auto job = it->second;
  if (!current(*job) || host_.shutting_down()) {
    leave_swarm(*job);
    end_search(job);
    return nullptr;
  }
  return job;
}

void PinnedFetch::leave_swarm(Job& job) {
  if (!valid(job.swarm)) return;
  swarms_.erase(job.swarm);
  host_.backend().remove(job.swarm);
  job.swarm = no_torrent;
}

bool PinnedFetch::on_torrent_event(const TorrentEvent& e) {
  if (swarms_.empty()) return false;
  if (const auto* b = std::get_if<StatusBatch>(&e)) {
    for (const auto& u : b->updates) {
      if (auto job = swarm_job(u.torrent)) swarm_status(job, u);
    }
    return false;
  }
  const TorrentId t = std::visit(
      [](const auto& ev) -> TorrentId {
        if constexpr (requires { ev.torrent; }) {
          return ev.torrent;
        } else {
          return no_torrent;
        }
      },
      e);
  if (!valid(t) || !swarms_.count(t)) return false;
  auto job = swarm_job(t);
  if (!job) return true;
  if (const auto* m = std::get_if<MetadataReceived>(&e)) {
    swarm_metadata(job, m->shape);
  } else if (std::holds_alternative<TorrentFinished>(e)) {
    swarm_finished(job);
  } else if (std::holds_alternative<CacheFlushed>(e)) {
    swarm_flushed(job);
  } else if (const auto* err = std::get_if<TorrentError>(&e)) {
    swarm_error(job, *err);
  }
  return true;
}

// The transient torrent stopped in error. Inconsistent hashes (libtorrent 2.0.8 raises them for
// honest data on a hybrid added by info-hash: hash_recheck.hpp) are rechecked within the
// budget; anything else, or past the budget, fails the fetch.
void PinnedFetch::swarm_error(const std::shared_ptr<Job>& job, const TorrentError& e) {
  const auto what = fmt::format("swarm {}: {}", *job->swarm_v2, e.message);
  Release* r = current(*job);
  if (r && e.kind == TorrentErrorKind::inconsistent_hashes && !job->finishing &&
      recheck_inconsistent(host_.backend(), job->swarm, *r, host_.rechecks(), what) ==
          RecheckOutcome::rechecking) {
    return;
  }
  failed(job, Error{e.kind == TorrentErrorKind::no_space ? Errc::no_space : Errc::io_error,
                    fmt::format("{}: {}", job->id, what), ""});
}

// The metadata came from a peer: only the pinned torrent's shape is downloaded.
void PinnedFetch::swarm_metadata(const std::shared_ptr<Job>& job, const TorrentShape& shape) {
  auto index = match_pinned_shape(shape, job->tree);
  if (!index && job->hub_error) {
    return swarm_rejected(job, fmt::format("the metadata of its info-hash {} is not commit {}'s "
                                           "torrent: {}",
                                           *job->swarm_v2, job->commit, index.error().message));
  }
  if (!index) return failed(job, index.error());
  job->lt_index = std::move(*index);
  host_.backend().leave_upload_mode(job->swarm);
  log::info(
      "{}: the swarm's metadata has the pinned torrent's shape; downloading from peers and "
      "{}",
      job->id, settings_.hub.endpoint);
}

void PinnedFetch::swarm_status(const std::shared_ptr<Job>& job, const TorrentUpdate& u) {
  Release* r = current(*job);
  if (!r) return;
  r->sources.observe(u.connections);
  r->upstream_rate = u.status.download_payload_rate;
  for (std::size_t i = 0; i < job->lt_index.size() && i < r->files.size(); ++i) {
    const auto k = static_cast<std::size_t>(job->lt_index[i]);
    if (k < u.file_done.size()) r->files[i].done = u.file_done[k];
  }
  // Every piece is there (also right after a check found the files of an earlier attempt).
  if (!job->lt_index.empty() &&
      (u.status.state == TorrentPhase::finished || u.status.state == TorrentPhase::seeding)) {
    swarm_finished(job);
  }
}

// Every piece passed libtorrent's check: its write queue is flushed before the files are read.
void PinnedFetch::swarm_finished(const std::shared_ptr<Job>& job) {
  if (job->finishing || job->lt_index.empty()) return;
  job->finishing = true;
  host_.backend().flush_cache(job->swarm);
}

// The files are on disk: the transient torrent goes, and the HTTP path's tail takes over (each
// file hashed against the pin, the canonical torrent built and compared with the swarm's).
void PinnedFetch::swarm_flushed(const std::shared_ptr<Job>& job) {
  if (!job->finishing) return;
  leave_swarm(*job);
  if (Release* r = current(*job)) r->upstream_rate = 0;
  log::info("{}: downloaded from the swarm; checking every file against commit {}", job->id,
            job->commit);
  host_.on_pool(
      [job]() -> Status {
        std::vector<PinnedFileRef> refs;
        for (const auto& f : job->tree.files) refs.push_back({f.path, f.size, f.sha256});
        auto hashed = hash_pinned_files(job->dir, std::move(refs));
        if (!hashed) return tl::unexpected(hashed.error());
        job->files = std::move(*hashed);
        return {};
      },
      [this, job](Status got) { downloaded(job, std::move(got)); });
}

// ---- the hub gone: the pin's peers in the DHT --------------------------------------------------

namespace {

// Errors of the hub's git endpoint that leave the DHT to try: it cannot be reached, or it no
// longer has (or serves) the commit.
bool hub_unusable(const Error& e) {
  return e.code == Errc::unavailable || e.code == Errc::not_found;
}

}  // namespace

bool PinnedFetch::hub_gone(const std::shared_ptr<Job>& job, const Error& hub_error) {
  if (!hub_unusable(hub_error) || job->commit.empty() || !host_.dht_enabled()) return false;
  auto pin = canonical_pin(upstream_kind, job->repo, job->commit);
  if (!pin) return false;
  job->hub_error = hub_error;
  // The search holds its job weakly; dht_searches_ holds the job while it searches.
  const std::weak_ptr<Job> weak = job;
  PinSearchEvents events;
  events.verified = [this, weak](const units::Endpoint& peer, upstream::VerifiedPin answer) {
    if (auto j = weak.lock()) pin_peer_verified(j, peer, std::move(answer));
  };
  events.rejected = [this, weak](const std::string& text) {
    if (auto j = weak.lock()) pin_peer_rejected(*j, text);
  };
  events.failed = [this, weak](const Error& e) {
    if (auto j = weak.lock()) {
      failed(j, Error{e.code,
                      fmt::format("the hub's git endpoint failed ({}) and {}",
                                  j->hub_error->message, e.message),
                      e.hint});
    }
  };
  job->search = std::make_unique<PinSearch>(host_.pin_search_host(), *pin, host_.known_pin_peers(),
                                            std::move(events));
  job->dht_key = job->search->key_hex();
  dht_searches_.emplace(job->dht_key, job);
  log::warning("{}: the hub's git endpoint failed ({}); looking commit {} up in the DHT (key {})",
               job->id, hub_error.message, job->commit, job->dht_key);
  job->search->start();
  return true;
}

void PinnedFetch::end_search(const std::shared_ptr<Job>& job) {
  if (!job->search) return;
  job->search->stop();
  const auto [first, last] = dht_searches_.equal_range(job->dht_key);
  for (auto it = first; it != last; ++it) {
    if (it->second != job) continue;
    // Dropped on the next turn: this may run inside one of the search's events.
    host_.post([keep = std::move(it->second)] {});
    dht_searches_.erase(it);
    break;
  }
}

void PinnedFetch::stop_searches() {
  for (auto& [key, job] : dht_searches_) job->search->stop();
}

void PinnedFetch::on_dht_peers(const DhtPeers& e) {
  const auto [first, last] = dht_searches_.equal_range(e.key_hex);
  std::vector<std::shared_ptr<Job>> jobs;
  for (auto it = first; it != last; ++it) jobs.push_back(it->second);
  if (jobs.empty()) return;
  std::vector<units::Endpoint> peers;
  peers.reserve(e.peers.size());
  for (const auto& p : e.peers) peers.push_back(units::Endpoint{p.address(), p.port()});
  for (const auto& job : jobs) {
    if (!current(*job) || host_.shutting_down()) {
      end_search(job);
      continue;
    }
    job->search->on_peers(peers);
  }
}

void PinnedFetch::pin_peer_verified(const std::shared_ptr<Job>& job, const units::Endpoint& peer,
                                    upstream::VerifiedPin v) {
  if (!current(*job) || host_.shutting_down()) return end_search(job);
  job->pin_peer = peer;
  job->tree = std::move(v.tree);
  job->objects = std::move(v.objects);  // kept with the torrent: this node serves them in turn
  job->swarm_v2 = v.offer.info_hash_v2;
  job->peers = {PeerEndpoint(peer.address, v.offer.bt_port)};
  log::info("{}: peer {} answered with commit {}'s objects (verified) and swarm {}; joining it",
            job->id, units::format_endpoint(peer), job->commit, *job->swarm_v2);
  pinned(job, {});
}

void PinnedFetch::pin_peer_rejected(const Job& job, const std::string& text) {
  log::warning("{}: {}", job.id, text);
  if (Release* r = current(job)) {
    r->upstream_rejected = job.search->rejected().shown;
    r->upstream_rejected_more = job.search->rejected().more;
  }
}

void PinnedFetch::swarm_rejected(const std::shared_ptr<Job>& job, const std::string& why) {
  leave_swarm(*job);
  job->lt_index.clear();
  job->swarm_v2.reset();
  job->peers.clear();
  job->pin_peer.reset();
  if (Release* r = current(*job)) r->upstream_phase = UpstreamPhase::pinning;
  job->search->reject_winner(why);
}

}  // namespace weights::daemon
