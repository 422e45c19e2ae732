// Fetching a release pinned by an upstream commit, step by step, with a fake host that runs the
// transfer and hashing steps when the test says so, a real git repository (file://) for the
// pin and a real store in a temp dir. The hub's HTTP side is
// tests/integration/pinned_fetch_test.sh's.
#include "daemon/engine/pinned_fetch.hpp"

#include <deque>
#include <functional>
#include <map>
#include <vector>

#include <catch2/catch.hpp>

#include "core/upstream/git_bundle.hpp"
#include "core/util/crypto.hpp"
#include "daemon/engine/pin_announcer.hpp"
#include "daemon/engine/pin_search.hpp"
#include "daemon/engine/release_registry.hpp"
#include "support/fake_backend.hpp"
#include "support/git_repo.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::daemon;
using weights::testing::SourceRepo;
using weights::testing::TempDir;

namespace {

// A request that accepts the licence (the licence step has its own tests below).
FetchRequest named(const std::string& name, std::optional<std::string> revision = {}) {
  FetchRequest r;
  r.name = name;
  r.revision = std::move(revision);
  r.accept_license = true;
  return r;
}

const std::string commit_a(40, 'a');

// The hub-gone search's seams: lookups recorded, each ask answered by `answer` when the queue
// runs, the clock still.
struct FakeSearchHost final : PinSearchHost {
  explicit FakeSearchHost(std::deque<std::function<void()>>& q) : queue(q) {}
  std::chrono::steady_clock::time_point now() override { return {}; }
  void after(std::chrono::milliseconds, std::function<void()> fn) override {
    timers.push_back(std::move(fn));
  }
  bool lookup(const std::string& key_hex) override {
    lookups.push_back(key_hex);
    return true;
  }
  void ask(const units::Endpoint& peer, const weights::UpstreamPin&,
           std::shared_ptr<const std::atomic<bool>>,
           std::function<void(Result<upstream::VerifiedPin>)> done) override {
    ++asks;
    queue.emplace_back([this, peer, done = std::move(done)] { done(answer(peer)); });
  }
  std::deque<std::function<void()>>& queue;
  std::vector<std::string> lookups;
  std::vector<std::function<void()>> timers;  // after(): run when the test says
  int asks = 0;
  std::function<Result<upstream::VerifiedPin>(const units::Endpoint&)> answer =
      [](const units::Endpoint& peer) -> Result<upstream::VerifiedPin> {
    return fail(Errc::unavailable,
                fmt::format("peer {}: connection refused", units::format_endpoint(peer)));
  };
};

struct FakeHost final : PinnedFetchHost {
  explicit FakeHost(Store& s, ReleaseRegistry& reg) : store_(s), registry(reg) {}
  bool shutting_down() override { return false; }
  Status not_loading(const Release&) override { return {}; }
  std::unique_ptr<Release> make_release(ReleaseRecord rec, const ReleaseManifest& m) override {
    return registry.make(std::move(rec), m);
  }
  void on_transfer(std::function<Status()> work, std::function<void(Status)> then) override {
    queue.emplace_back([work = std::move(work), then = std::move(then)] { then(work()); });
    ++transfers;
  }
  void on_pool(std::function<Status()> work, std::function<void(Status)> then) override {
    queue.emplace_back([work = std::move(work), then = std::move(then)] { then(work()); });
  }
  void post(std::function<void()> fn) override { queue.push_back(std::move(fn)); }
  void after(std::chrono::milliseconds, std::function<void()> fn) override {
    timers.push_back(std::move(fn));
  }
  const Store& store() override { return store_; }
  Status make_room(const Release&) override {
    if (room) return tl::unexpected(*room);
    return {};
  }
  Status add_seed(Release&) override {
    ++seeds;
    return {};
  }
  void check_complete(Release&) override {}
  std::int64_t now_ticks() override { return 1; }
  TorrentBackend& backend() override { return torrents; }
  void hub_answered(const std::string& id, const HubCheck& c) override {
    answers.emplace_back(id, c);
  }
  bool dht_enabled() override { return dht; }
  PinSearchHost& pin_search_host() override { return search; }
  std::vector<units::Endpoint> known_pin_peers() override { return pin_peers; }
  RecheckBudget& rechecks() override { return budget; }
  RecheckBudget budget;
  bool dht = false;
  std::vector<units::Endpoint> pin_peers;
  // Runs queued steps (and what they queue) until none is left.
  void drain() {
    while (!queue.empty()) {
      auto fn = std::move(queue.front());
      queue.pop_front();
      fn();
    }
  }
  Store& store_;
  ReleaseRegistry& registry;
  std::deque<std::function<void()>> queue;
  std::vector<std::function<void()>> timers;  // after(): run when the test says
  int transfers = 0;
  int seeds = 0;
  std::optional<Error> room;  // make_room's refusal, if set
  weights::testing::FakeBackend torrents;
  std::vector<std::pair<std::string, HubCheck>> answers;
  FakeSearchHost search{queue};
};

struct Fixture {
  TempDir tmp;
  Store store{tmp / "state"};
  ReleaseRegistry registry{RecordStore{[](const ReleaseRecord&) { return Status{}; },
                                       [](const std::string&) { return Status{}; }}};
  FakeHost host{store, registry};
  std::map<std::pair<std::string, std::string>, std::int64_t> accepted;  // (repo, licence)
  LicenseGate licenses{AcceptanceStore{
      [this](const std::string& repo, const std::string& license) {
        const auto it = accepted.find({repo, license});
        return Result<std::optional<std::int64_t>>(
            it == accepted.end() ? std::nullopt : std::optional<std::int64_t>(it->second));
      },
      [this](const std::string& repo, const std::string& license, std::int64_t when) {
        accepted.emplace(std::pair{repo, license}, when);
        return Status{};
      }}};
  std::unique_ptr<PinnedFetch> pinned;

  explicit Fixture(const std::string& endpoint) {
    REQUIRE(store.ensure_layout());
    hf::HubOptions env;
    env.endpoint = "https://hub.invalid";
    pinned = std::make_unique<PinnedFetch>(
        registry, host, licenses, upstream_settings(endpoint, env), tmp / "state/upstream");
  }
};

}  // namespace

TEST_CASE("an org/name with a full commit, or with none, names the upstream", "[pinned_fetch]") {
  auto t = pin_target(named("Org/Model", commit_a));
  REQUIRE(t);
  REQUIRE(*t);
  CHECK(**t == PinTarget{"Org/Model", commit_a, std::nullopt, std::nullopt, std::nullopt});
  auto in_name = pin_target(named("org/m@" + std::string(40, 'B')));
  REQUIRE(in_name);
  CHECK(**in_name ==
        PinTarget{"org/m", std::string(40, 'b'), std::nullopt, std::nullopt, std::nullopt});
  auto branch = pin_target(named("org/m"));
  REQUIRE(branch);
  CHECK(**branch == PinTarget{"org/m", std::nullopt, std::nullopt, std::nullopt, std::nullopt});
}

TEST_CASE("an alias is not an upstream name, and a short or non-hex commit is refused with a hint",
          "[pinned_fetch]") {
  auto alias = pin_target(named("gemma-4"));
  REQUIRE(alias);
  CHECK_FALSE(*alias);
  for (const std::string& rev :
       std::vector<std::string>{"abc123", "main", std::string(39, 'a') + "g"}) {
    auto bad = pin_target(named("org/m", rev));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::invalid_argument);
    CHECK(bad.error().message.find(rev) != std::string::npos);
    CHECK(bad.error().hint.find("40-hex") != std::string::npos);
  }
}

TEST_CASE("the configured endpoint wins over HF_ENDPOINT; the token goes to git for it only",
          "[pinned_fetch]") {
  hf::HubOptions env;
  env.endpoint = "https://mirror.example";
  env.token = "hf_x";
  auto s = upstream_settings("http://127.0.0.1:8080/", env);
  CHECK(s.hub.endpoint == "http://127.0.0.1:8080");
  CHECK(s.git.token == "hf_x");
  CHECK(git_url(s, "org/m") == "http://127.0.0.1:8080/org/m");
  CHECK(web_seed_base(s, "org/m") == "http://127.0.0.1:8080/org/m/resolve/");
  CHECK(upstream_settings("", env).hub.endpoint == "https://mirror.example");
}

TEST_CASE("the interim manifest names small files by their git blob and LFS files by SHA-256",
          "[pinned_fetch]") {
  upstream::PinnedTree tree;
  tree.commit = commit_a;
  tree.files = {
      {"config.json", 2, std::string(64, '1'), std::string(40, 'c'), upstream::FileKind::blob},
      {"model.safetensors", 9, std::string(64, '2'), std::string(40, 'd'),
       upstream::FileKind::lfs}};
  const auto m = interim_manifest("org/m", tree);
  CHECK(m.model == "org/m");
  CHECK(m.revision == commit_a);
  CHECK(m.total_length == 11);
  CHECK(m.upstream == ReleaseUpstream{"huggingface", "org/m"});
  REQUIRE(m.files.size() == 2);
  CHECK(m.files[0].git_oid == std::string(40, 'c'));
  CHECK_FALSE(m.files[1].git_oid);
  CHECK(m.files[1].sha256 == std::string(64, '2'));
}

TEST_CASE(
    "a pinned commit whose files cannot be downloaded fails naming the step, with nothing "
    "staged and nothing complete",
    "[pinned_fetch]") {
  TempDir src_tmp;
  SourceRepo repo(src_tmp / "org/m");
  const std::string commit = weights::testing::make_model(repo);
  // git reads file://<endpoint>/org/m; the hub's downloads need http(s) and fail.
  Fixture f("file://" + src_tmp.path().string());
  auto r = f.pinned->fetch(PinTarget{"org/m", commit, std::nullopt, std::nullopt, std::nullopt},
                           named("org/m", commit));
  REQUIRE(r);
  const std::string id = "org/m@" + commit;
  CHECK((*r)->rec.id == id);
  CHECK((*r)->rec.feed == upstream_feed);
  CHECK((*r)->rec.origin == Origin::upstream);
  CHECK(state_of(**r) == ReleaseState::resolving);

  // The git step: the tree is pinned and its files listed for progress.
  auto step = std::move(f.host.queue.front());
  f.host.queue.pop_front();
  step();
  Release* rel = f.registry.find(id);
  REQUIRE(rel);
  CHECK(state_of(*rel) == ReleaseState::downloading);
  CHECK(rel->manifest.files.size() == 4);

  f.host.drain();
  rel = f.registry.find(id);
  REQUIRE(rel);
  CHECK(state_of(*rel) == ReleaseState::failed);
  REQUIRE(rel->error);
  CHECK(f.host.seeds == 0);
  CHECK_FALSE(std::filesystem::exists(f.tmp / "state/upstream" / commit));

  // A failed fetch is replaced by the next request.
  auto again = f.pinned->fetch(PinTarget{"org/m", commit, std::nullopt, std::nullopt, std::nullopt},
                               named("org/m", commit));
  REQUIRE(again);
  CHECK_FALSE((*again)->error);
  CHECK(state_of(**again) == ReleaseState::resolving);
}

TEST_CASE("a release already coming from the upstream is answered as it is", "[pinned_fetch]") {
  Fixture f("http://127.0.0.1:1");
  auto first =
      f.pinned->fetch(PinTarget{"org/m", commit_a, std::nullopt, std::nullopt, std::nullopt},
                      named("org/m", commit_a));
  REQUIRE(first);
  const int transfers = f.host.transfers;
  auto second =
      f.pinned->fetch(PinTarget{"org/m", commit_a, std::nullopt, std::nullopt, std::nullopt},
                      named("org/m", commit_a));
  REQUIRE(second);
  CHECK(*second == *first);
  CHECK(f.host.transfers == transfers);
}

TEST_CASE("include globs are refused: a pinned release is fetched whole", "[pinned_fetch]") {
  Fixture f("http://127.0.0.1:1");
  auto req = named("org/m", commit_a);
  req.include = {"*.json"};
  auto r =
      f.pinned->fetch(PinTarget{"org/m", commit_a, std::nullopt, std::nullopt, std::nullopt}, req);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::invalid_argument);
  CHECK(f.registry.size() == 0);
}

TEST_CASE("a commit the git endpoint does not serve fails the release naming the commit",
          "[pinned_fetch]") {
  TempDir src_tmp;
  SourceRepo repo(src_tmp / "org/m");
  weights::testing::make_model(repo);
  Fixture f("file://" + src_tmp.path().string());
  auto r = f.pinned->fetch(PinTarget{"org/m", commit_a, std::nullopt, std::nullopt, std::nullopt},
                           named("org/m", commit_a));
  REQUIRE(r);
  f.host.drain();
  Release* rel = f.registry.find("org/m@" + commit_a);
  REQUIRE(rel);
  CHECK(state_of(*rel) == ReleaseState::failed);
  REQUIRE(rel->error);
  CHECK(rel->error->message.find(commit_a) != std::string::npos);
}

namespace {

catalog::Catalog test_catalog() {
  const std::string text = R"(schema = 1
family = "tiny"
default = "base"

[[model]]
id = "test-org/Tiny"
variant = "base"
upstream = "huggingface"
repo = "test-org/Tiny"
commit = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
license = "unknown"

[[model.source]]
url = "https://example.invalid/pins.md"
confidence = "high"
)";
  auto file = catalog::parse_catalog(text, "tiny.toml");
  REQUIRE(file);
  return catalog::Catalog::from_parsed({*file}, "explicit");
}

}  // namespace

TEST_CASE("a catalog alias names the entry's repository and commit", "[pinned_fetch]") {
  const auto cat = test_catalog();
  for (const std::string name : {"tiny", "tiny:base", "TINY"}) {
    auto t = catalog_target(cat, named(name));
    REQUIRE(t);
    CHECK(t->repo == "test-org/Tiny");
    CHECK(t->commit == commit_a);
    CHECK(t->alias == name);
    // The entry's terms: licence "unknown", gating not given (so gated).
    REQUIRE(t->license);
    CHECK(t->license->id == "unknown");
    CHECK(t->license->gated);
    CHECK(t->license->source == upstream::LicenseSource::catalog);
  }
  auto with_commit = catalog_target(cat, named("tiny@" + commit_a));
  REQUIRE(with_commit);
  CHECK(with_commit->commit == commit_a);
}

TEST_CASE("an unknown alias says to search the catalog; another commit than the entry's is refused",
          "[pinned_fetch]") {
  const auto cat = test_catalog();
  auto unknown = catalog_target(cat, named("gemma-99"));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == Errc::not_found);
  CHECK(unknown.error().hint.find("weightsctl catalog search") != std::string::npos);
  auto other = catalog_target(cat, named("tiny", std::string(40, 'b')));
  REQUIRE_FALSE(other);
  CHECK(other.error().code == Errc::invalid_argument);
  CHECK(other.error().message.find("tiny.toml") != std::string::npos);
}

TEST_CASE("a pinned release with no room fails before any file is downloaded", "[pinned_fetch]") {
  TempDir src_tmp;
  SourceRepo repo(src_tmp / "org/m");
  const std::string commit = weights::testing::make_model(repo);
  Fixture f("file://" + src_tmp.path().string());
  f.host.room = Error{Errc::no_space, "not enough room", ""};
  auto r = f.pinned->fetch(PinTarget{"org/m", commit, std::nullopt, std::nullopt, std::nullopt},
                           named("org/m", commit));
  REQUIRE(r);
  const int before = f.host.transfers;
  f.host.drain();
  Release* rel = f.registry.find("org/m@" + commit);
  REQUIRE(rel);
  CHECK(state_of(*rel) == ReleaseState::failed);
  REQUIRE(rel->error);
  CHECK(rel->error->code == Errc::no_space);
  CHECK(f.host.transfers == before);  // the git step only: no download was started
}

TEST_CASE("the catalog's info_hash_v2 is carried to the fetch", "[pinned_fetch]") {
  const std::string v2(64, 'e');
  auto text = std::string(R"(schema = 1
family = "tiny"
default = "base"

[[model]]
id = "test-org/Tiny"
variant = "base"
upstream = "huggingface"
repo = "test-org/Tiny"
commit = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
license = "unknown"
info_hash_v2 = ")") +
              v2 + R"("

[[model.source]]
url = "https://example.invalid/pins.md"
confidence = "high"
)";
  auto file = catalog::parse_catalog(text, "tiny.toml");
  REQUIRE(file);
  const auto cat = catalog::Catalog::from_parsed({*file}, "explicit");
  auto t = catalog_target(cat, named("tiny"));
  REQUIRE(t);
  CHECK(t->info_hash_v2 == v2);
  CHECK_FALSE(test_catalog().lookup("tiny").value()->info_hash_v2.size());
}

namespace {

// The pinned torrent's shape for `tree` as libtorrent would report it (pads take indices).
TorrentShape shape_of(const upstream::PinnedTree& tree) {
  TorrentShape s;
  s.name = tree.commit;
  std::uint64_t total = 0;
  int index = 0;
  for (const auto& f : tree.files) {
    s.files.push_back({f.path, static_cast<std::int64_t>(f.size), index});
    index += 2;
    total += f.size;
  }
  s.piece_length = static_cast<std::int64_t>(pinned_piece_length(total));
  return s;
}

// A repository whose model card says `license: llama3.1` and carries a gating form.
std::string make_gated_model(const SourceRepo& repo) {
  weights::testing::make_model(repo);
  repo.write("README.md",
             "---\nlicense: llama3.1\nextra_gated_prompt: \"You agree to the terms\"\n"
             "extra_gated_fields:\n  Name: text\n---\n# A model\n");
  repo.write("LICENSE", "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\n");
  return repo.commit_all("card");
}

FetchRequest without_acceptance(const std::string& name, const std::string& commit) {
  auto r = named(name, commit);
  r.accept_license = false;
  return r;
}

}  // namespace

TEST_CASE("a swarm fetch joins by info-hash in upload mode and checks the metadata first",
          "[pinned_fetch][swarm]") {
  TempDir src_tmp;
  SourceRepo repo(src_tmp / "org/m");
  const std::string commit = weights::testing::make_model(repo);
  Fixture f("file://" + src_tmp.path().string());
  const std::string v2(64, 'e');
  auto req = named("org/m", commit);
  req.peers = {"127.0.0.2:6881", "127.0.0.3:6882"};
  PinTarget target{"org/m", commit, "m", v2, std::nullopt};
  auto r = f.pinned->fetch(target, req);
  REQUIRE(r);
  f.host.drain();  // the git pin, then the swarm is joined (no transfer from the hub)
  const std::string id = "org/m@" + commit;
  Release* rel = f.registry.find(id);
  REQUIRE(rel);
  CHECK(state_of(*rel) == ReleaseState::downloading);
  REQUIRE(f.host.torrents.magnets.size() == 1);
  const auto& add = f.host.torrents.magnets.front();
  CHECK(add.v2_infohash == v2);
  CHECK(add.save_path == f.tmp / "state/upstream");
  CHECK(add.web_seeds ==
        std::vector<std::string>{"file://" + src_tmp.path().string() + "/org/m/resolve/"});
  CHECK(add.peers.size() == 2);
  const TorrentId t = 100;

  SECTION("metadata of the pinned shape: the download starts, progress and sources follow") {
    upstream::PinnedTree tree;
    tree.commit = commit;
    for (const auto& mf : rel->manifest.files) tree.files.push_back({mf.path, mf.length, "", ""});
    CHECK(f.pinned->on_torrent_event(MetadataReceived{t, shape_of(tree)}));
    CHECK(f.host.torrents.calls.back() == "leave_upload_mode 100");
    TorrentUpdate u;
    u.torrent = t;
    u.status.state = TorrentPhase::downloading;
    u.status.download_payload_rate = 1000;
    u.file_done.assign(2 * tree.files.size(), 0);
    u.file_done[2] = 7;  // the second pinned file
    u.connections = {{SourceKind::peer, "127.0.0.2", "127.0.0.2:6881", 5},
                     {SourceKind::web_seed, "127.0.0.1:80", "127.0.0.1:80", 2}};
    CHECK_FALSE(f.pinned->on_torrent_event(StatusBatch{{u}}));  // the engine sees it too
    CHECK(rel->files[1].done == 7);
    CHECK(rel->upstream_rate == 1000);
    CHECK(rel->sources.from(SourceKind::peer) == 5);
    CHECK(rel->sources.from(SourceKind::web_seed) == 2);
    // Finished: flushed first, then the transient torrent goes and the files are hashed.
    CHECK(f.pinned->on_torrent_event(TorrentFinished{t}));
    CHECK(f.host.torrents.calls.back() == "flush_cache 100");
    CHECK(f.pinned->on_torrent_event(CacheFlushed{t}));
    CHECK(f.host.torrents.calls.back() == "remove 100");
    CHECK_FALSE(f.pinned->on_torrent_event(CacheFlushed{t}));  // no longer its torrent
    f.host.drain();  // nothing was downloaded into staging: hashing fails naming a file
    rel = f.registry.find(id);
    REQUIRE(rel);
    CHECK(state_of(*rel) == ReleaseState::failed);
    CHECK(f.host.seeds == 0);
  }
  SECTION("inconsistent hashes are rechecked three times, then fail the release") {
    upstream::PinnedTree tree;
    tree.commit = commit;
    for (const auto& mf : rel->manifest.files) tree.files.push_back({mf.path, mf.length, "", ""});
    CHECK(f.pinned->on_torrent_event(MetadataReceived{t, shape_of(tree)}));
    const TorrentError inconsistent{t, TorrentErrorKind::inconsistent_hashes,
                                    "v1 and v2 hashes do not describe the same data"};
    for (int i = 1; i <= max_inconsistent_rechecks; ++i) {
      f.host.torrents.take();
      CHECK(f.pinned->on_torrent_event(inconsistent));
      CHECK(f.host.torrents.take() ==
            std::vector<std::string>{"clear_error 100", "force_recheck 100", "resume 100"});
      CHECK(state_of(*rel) == ReleaseState::downloading);
      CHECK(rel->hash_failures == i);  // shown by `show`
    }
    CHECK(f.pinned->on_torrent_event(inconsistent));
    CHECK(f.host.torrents.calls.back() == "remove 100");
    rel = f.registry.find(id);
    REQUIRE(rel);
    CHECK(state_of(*rel) == ReleaseState::failed);
    REQUIRE(rel->error);
    CHECK(rel->error->code == Errc::io_error);
    CHECK(rel->error->message.find("v1 and v2 hashes") != std::string::npos);
  }
  SECTION("a disk error of the swarm fails the release at once") {
    CHECK(f.pinned->on_torrent_event(TorrentError{t, TorrentErrorKind::no_space, "disk full"}));
    rel = f.registry.find(id);
    REQUIRE(rel);
    REQUIRE(rel->error);
    CHECK(rel->error->code == Errc::no_space);
    CHECK(f.host.torrents.calls.back() == "remove 100");
  }
  SECTION("no metadata in time: the swarm is left and the files come from the hub alone") {
    REQUIRE(f.host.timers.size() == 1);
    const int before = f.host.transfers;
    f.host.timers.front()();
    CHECK(f.host.torrents.calls.back() == "remove 100");
    CHECK(f.host.transfers == before + 1);  // the hub's downloads
    CHECK_FALSE(f.pinned->on_torrent_event(MetadataReceived{t, {}}));
  }
  SECTION("metadata of another shape: refused naming the file, the torrent removed") {
    upstream::PinnedTree tree;
    tree.commit = commit;
    for (const auto& mf : rel->manifest.files) tree.files.push_back({mf.path, mf.length, "", ""});
    auto shape = shape_of(tree);
    shape.files[1].size += 1;
    CHECK(f.pinned->on_torrent_event(MetadataReceived{t, shape}));
    rel = f.registry.find(id);
    REQUIRE(rel);
    CHECK(state_of(*rel) == ReleaseState::failed);
    REQUIRE(rel->error);
    CHECK(rel->error->code == Errc::wrong_target);
    CHECK(rel->error->message.find(tree.files[1].path) != std::string::npos);
    CHECK(f.host.torrents.calls.back() == "remove 100");
    f.host.drain();
    CHECK_FALSE(std::filesystem::exists(f.tmp / "state/upstream" / commit));
  }
}

TEST_CASE("a model card's gated licence fails the release after the pin, before any download",
          "[pinned_fetch][license]") {
  TempDir src_tmp;
  SourceRepo repo(src_tmp / "org/m");
  const std::string commit = make_gated_model(repo);
  Fixture f("file://" + src_tmp.path().string());
  const PinTarget target{"org/m", commit, std::nullopt, std::nullopt, std::nullopt};
  REQUIRE(f.pinned->fetch(target, without_acceptance("org/m", commit)));
  f.host.drain();
  Release* rel = f.registry.find("org/m@" + commit);
  REQUIRE(rel);
  CHECK(state_of(*rel) == ReleaseState::failed);
  REQUIRE(rel->error);
  CHECK(rel->error->code == Errc::license_not_accepted);
  CHECK(rel->error->message.find("llama3.1") != std::string::npos);
  CHECK(rel->error->message.find("LICENSE") != std::string::npos);
  CHECK(rel->error->message.find("gated") != std::string::npos);
  CHECK(rel->error->hint.find("--accept-license") != std::string::npos);
  CHECK(f.host.transfers == 1);  // the git step only
  CHECK(f.accepted.empty());
  REQUIRE(rel->license);
  CHECK(rel->license->source == upstream::LicenseSource::model_card);
  CHECK_FALSE(rel->license_accepted_at);

  // Accepted: recorded, and the fetch goes on to the download (here: refused for room).
  f.host.room = Error{Errc::no_space, "not enough room", ""};
  REQUIRE(f.pinned->fetch(target, named("org/m", commit)));
  f.host.drain();
  rel = f.registry.find("org/m@" + commit);
  REQUIRE(rel);
  REQUIRE(rel->error);
  CHECK(rel->error->code == Errc::no_space);
  CHECK(f.accepted.count({"org/m", "llama3.1"}) == 1);
  CHECK(rel->license_accepted_at == 1);

  // Another commit of the same repository under the same licence: not asked again.
  repo.write("config.json", "{\"model_type\": \"tiny\", \"v\": 2}\n");
  const std::string second = repo.commit_all("second");
  REQUIRE(f.pinned->fetch(PinTarget{"org/m", second, std::nullopt, std::nullopt, std::nullopt},
                          without_acceptance("org/m", second)));
  f.host.drain();
  rel = f.registry.find("org/m@" + second);
  REQUIRE(rel);
  REQUIRE(rel->error);
  CHECK(rel->error->code == Errc::no_space);
}

TEST_CASE("a permissive model card needs no acceptance; a commit without a card does",
          "[pinned_fetch][license]") {
  TempDir src_tmp;
  SourceRepo repo(src_tmp / "org/m");
  weights::testing::make_model(repo);
  const std::string bare = repo.git("rev-parse HEAD");
  repo.write("README.md", "---\nlicense: apache-2.0\n---\n");
  const std::string apache = repo.commit_all("card");
  Fixture f("file://" + src_tmp.path().string());
  f.host.room = Error{Errc::no_space, "not enough room", ""};
  REQUIRE(f.pinned->fetch(PinTarget{"org/m", apache, std::nullopt, std::nullopt, std::nullopt},
                          without_acceptance("org/m", apache)));
  REQUIRE(f.pinned->fetch(PinTarget{"org/m", bare, std::nullopt, std::nullopt, std::nullopt},
                          without_acceptance("org/m", bare)));
  f.host.drain();
  Release* a = f.registry.find("org/m@" + apache);
  REQUIRE(a);
  REQUIRE(a->error);
  CHECK(a->error->code == Errc::no_space);
  REQUIRE(a->license);
  CHECK(a->license->id == "apache-2.0");
  Release* b = f.registry.find("org/m@" + bare);
  REQUIRE(b);
  REQUIRE(b->error);
  CHECK(b->error->code == Errc::license_not_accepted);
  CHECK(b->error->message.find("no licence is known") != std::string::npos);
  CHECK(f.accepted.empty());
}

TEST_CASE("the catalog's gated terms refuse the request itself; nothing is started",
          "[pinned_fetch][license]") {
  Fixture f("http://127.0.0.1:1");
  upstream::LicenseTerms terms;
  terms.source = upstream::LicenseSource::catalog;
  terms.id = "apache-2.0";
  terms.name = "Apache-2.0";
  terms.gated = true;
  terms.where = "t.toml:3";
  const PinTarget target{"org/m", commit_a, std::string("m"), std::nullopt, terms};
  auto r = f.pinned->fetch(target, without_acceptance("m", commit_a));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::license_not_accepted);
  CHECK(r.error().message.rfind("m: licence Apache-2.0", 0) == 0);
  CHECK(f.registry.size() == 0);
  CHECK(f.host.transfers == 0);
  auto ok = f.pinned->fetch(target, named("m", commit_a));
  REQUIRE(ok);
  CHECK((*ok)->license_accepted_at == 1);
  CHECK(f.accepted.count({"org/m", "apache-2.0"}) == 1);
}

TEST_CASE("a pinned fetch writes its commit's git object bundle with its torrents",
          "[pinned_fetch][swarm]") {
  TempDir src_tmp;
  SourceRepo repo(src_tmp / "org/m");
  const std::map<std::string, std::string> content = {
      {"config.json", "{\"model_type\": \"tiny\"}\n"}, {"weights.bin", std::string(5000, 'w')}};
  for (const auto& [path, bytes] : content) repo.write(path, bytes);
  const std::string commit = repo.commit_all("small model");
  // The canonical torrent's v2 info-hash, as the catalog would name it.
  std::vector<PinnedFileRef> refs;
  for (const auto& [path, bytes] : content) {
    refs.push_back({path, bytes.size(), weights::crypto::sha256_hex(bytes)});
  }
  auto hashed = hash_pinned_files(repo.dir(), refs);
  REQUIRE(hashed);
  auto pin = canonical_pin("huggingface", "org/m", commit);
  REQUIRE(pin);
  auto canonical = build_pinned_torrent({*pin, *hashed, repo.dir(), {}});
  REQUIRE(canonical);
  const std::string v2 = canonical->torrents.v2_infohash;

  Fixture f("file://" + src_tmp.path().string());
  REQUIRE(
      f.pinned->fetch(PinTarget{"org/m", commit, "m", v2, std::nullopt}, named("org/m", commit)));
  f.host.drain();  // the git pin, then the swarm is joined
  const std::string id = "org/m@" + commit;
  Release* rel = f.registry.find(id);
  REQUIRE(rel);
  REQUIRE(state_of(*rel) == ReleaseState::downloading);
  upstream::PinnedTree tree;
  tree.commit = commit;
  for (const auto& mf : rel->manifest.files) tree.files.push_back({mf.path, mf.length, "", ""});
  const TorrentId t = 100;
  CHECK(f.pinned->on_torrent_event(MetadataReceived{t, shape_of(tree)}));
  // The peers' bytes land in the staging directory; the torrent finishes.
  for (const auto& [path, bytes] : content) {
    weights::testing::write_text(f.tmp / "state/upstream" / commit / path, bytes);
  }
  CHECK(f.pinned->on_torrent_event(TorrentFinished{t}));
  CHECK(f.pinned->on_torrent_event(CacheFlushed{t}));
  // Hashed against the pin, the torrent built and written with the bundle. (This fixture's hub
  // is a file:// URL, which a manifest's web seed cannot be, so the intake after that step is
  // tests/integration/pinned_fetch_test.sh's.)
  f.host.drain();
  CHECK(f.host.torrents.magnets.size() == 1);
  CHECK(std::filesystem::exists(f.store.torrent_file(v2)));
  weights::testing::LibGit2Repo git(repo.dir());
  auto bundle = upstream::write_git_bundle(git.get(), commit);
  REQUIRE(bundle);
  CHECK(weights::testing::slurp(f.store.git_objects_file(v2)) == *bundle);
}

TEST_CASE(
    "with the hub refusing and the DHT on, the pin's key is looked up and each peer whose "
    "answer fails is named",
    "[pinned_fetch]") {
  TempDir src_tmp;
  SourceRepo repo(src_tmp / "org/m");
  weights::testing::make_model(repo);
  Fixture f("file://" + src_tmp.path().string());
  f.host.dht = true;
  // The first pin exchange asked is refused.
  const auto loopback = boost::asio::ip::make_address("127.0.0.1");
  f.host.pin_peers = {units::Endpoint{loopback, 1}};
  auto r = f.pinned->fetch(PinTarget{"org/m", commit_a, std::nullopt, std::nullopt, std::nullopt},
                           named("org/m", commit_a));
  REQUIRE(r);
  f.host.drain();
  Release* rel = f.registry.find("org/m@" + commit_a);
  REQUIRE(rel);
  CHECK_FALSE(rel->error);  // still searching
  auto pin = canonical_pin("huggingface", "org/m", commit_a);
  REQUIRE(pin);
  const auto key = rendezvous_key_hex(*pin);
  // The configured pin exchange was asked first; the DHT at the search's first tick.
  CHECK(f.host.search.lookups.empty());
  REQUIRE(f.host.search.timers.size() == 1);
  f.host.search.timers.front()();
  REQUIRE_FALSE(f.host.search.lookups.empty());
  CHECK(f.host.search.lookups.front() == key);
  REQUIRE(rel->upstream_rejected.size() == 1);
  CHECK_THAT(rel->upstream_rejected.front(), Catch::StartsWith("peer 127.0.0.1:1: "));
  // The DHT names the same endpoint again and one for another key: neither is asked.
  const int asked = f.host.search.asks;
  f.pinned->on_dht_peers(DhtPeers{key, {boost::asio::ip::tcp::endpoint(loopback, 1)}});
  f.pinned->on_dht_peers(
      DhtPeers{std::string(40, '0'), {boost::asio::ip::tcp::endpoint(loopback, 2)}});
  f.host.drain();
  CHECK(f.host.search.asks == asked);
  // A new endpoint under the key is asked (and fails the same way, named too).
  f.pinned->on_dht_peers(DhtPeers{key, {boost::asio::ip::tcp::endpoint(loopback, 3)}});
  f.host.drain();
  CHECK(f.host.search.asks == asked + 1);
  REQUIRE(rel->upstream_rejected.size() == 2);
  CHECK_THAT(rel->upstream_rejected.back(), Catch::StartsWith("peer 127.0.0.1:3: "));
}

TEST_CASE(
    "with the hub gone the verified peer's swarm is joined with no web seed; metadata of another "
    "shape names that peer and the search goes on",
    "[pinned_fetch][swarm]") {
  TempDir src_tmp;
  SourceRepo repo(src_tmp / "org/m");
  weights::testing::make_model(repo);
  Fixture f("file://" + src_tmp.path().string());
  f.host.dht = true;
  const auto loopback = boost::asio::ip::make_address("127.0.0.1");
  f.host.pin_peers = {units::Endpoint{loopback, 1}, units::Endpoint{loopback, 2}};
  upstream::PinnedTree tree;
  tree.commit = commit_a;
  tree.files = {{"config.json", 10, std::string(64, 'c'), std::string(40, 'c')},
                {"model.safetensors", 100, std::string(64, 'd'), std::string(40, 'd')}};
  const std::string v2(64, 'e');
  // Port 1's objects do not match its offer; every other peer's verify and offer swarm v2.
  f.host.search.answer = [&](const units::Endpoint& p) -> Result<upstream::VerifiedPin> {
    if (p.port == 1) return fail(Errc::hash_mismatch, "git objects: SHA-256 1, the offer says 2");
    upstream::VerifiedPin v;
    v.offer.info_hash_v2 = v2;
    v.offer.bt_port = 6881;
    v.tree = tree;
    v.objects = "bundle";
    return v;
  };
  auto r = f.pinned->fetch(PinTarget{"org/m", commit_a, std::nullopt, std::nullopt, std::nullopt},
                           named("org/m", commit_a));
  REQUIRE(r);
  f.host.drain();
  Release* rel = f.registry.find("org/m@" + commit_a);
  REQUIRE(rel);
  CHECK(f.host.search.asks == 2);  // both at once
  REQUIRE(rel->upstream_rejected.size() == 1);
  CHECK(rel->upstream_rejected.front() ==
        "peer 127.0.0.1:1: git objects: SHA-256 1, the offer says 2");
  REQUIRE(f.host.torrents.magnets.size() == 1);
  const auto& add = f.host.torrents.magnets.front();
  CHECK(add.v2_infohash == v2);
  CHECK(add.web_seeds.empty());
  REQUIRE(add.peers.size() == 1);
  CHECK(add.peers.front() == PeerEndpoint(loopback, 6881));
  CHECK(state_of(*rel) == ReleaseState::downloading);

  auto shape = shape_of(tree);
  shape.files[1].size += 1;
  CHECK(f.pinned->on_torrent_event(MetadataReceived{100, shape}));
  CHECK(f.host.torrents.calls.back() == "remove 100");
  rel = f.registry.find("org/m@" + commit_a);
  REQUIRE(rel);
  CHECK_FALSE(rel->error);  // still searching
  REQUIRE(rel->upstream_rejected.size() == 2);
  CHECK_THAT(rel->upstream_rejected.back(),
             Catch::StartsWith("peer 127.0.0.1:2: the metadata of its info-hash " + v2));
  // Another peer offering the swarm that failed is rejected at once: no second join.
  auto pin = canonical_pin("huggingface", "org/m", commit_a);
  REQUIRE(pin);
  f.pinned->on_dht_peers(
      DhtPeers{rendezvous_key_hex(*pin), {boost::asio::ip::tcp::endpoint(loopback, 3)}});
  f.host.drain();
  CHECK(f.host.torrents.magnets.size() == 1);
  REQUIRE(rel->upstream_rejected.size() == 3);
  CHECK_THAT(rel->upstream_rejected.back(), Catch::Contains("which failed this fetch already"));
}

TEST_CASE("with the DHT off a refusing hub fails the fetch as before", "[pinned_fetch]") {
  TempDir src_tmp;
  SourceRepo repo(src_tmp / "org/m");
  weights::testing::make_model(repo);
  Fixture f("file://" + src_tmp.path().string());
  auto r = f.pinned->fetch(PinTarget{"org/m", commit_a, std::nullopt, std::nullopt, std::nullopt},
                           named("org/m", commit_a));
  REQUIRE(r);
  f.host.drain();
  CHECK(f.host.search.lookups.empty());
  CHECK(state_of(*f.registry.find("org/m@" + commit_a)) == ReleaseState::failed);
}
