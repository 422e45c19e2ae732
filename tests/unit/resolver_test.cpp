// The resolver alone: trusted feeds and the manifest cache as small fakes, a real publisher feed
// on disk (tuf::Repo + add_release) read through a fetcher the test can hold, no session.
#include "daemon/engine/resolver.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/publish/publisher.hpp"
#include "core/trust/release_target.hpp"
#include "support/feed_builder.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::daemon;
using namespace std::chrono_literals;

namespace {

namespace asio = boost::asio;

class FakeFeeds final : public TrustedFeeds {
 public:
  std::map<std::string, FeedState> feeds;
  int full_reads = 0;  // feed(): what resolve() must not need
  Result<std::vector<std::string>> feed_names() override {
    std::vector<std::string> out;
    for (const auto& [name, fs] : feeds) out.push_back(name);
    return out;
  }
  Result<FeedState> feed(const std::string& name) override {
    ++full_reads;
    const auto it = feeds.find(name);
    if (it == feeds.end()) return fail(Errc::not_found, "no feed " + name);
    return it->second;
  }
  Result<FeedState> feed_summary(const std::string& name) override {
    const auto it = feeds.find(name);
    if (it == feeds.end()) return fail(Errc::not_found, "no feed " + name);
    FeedState s = it->second;
    s.trusted_targets.clear();
    s.release_seq.clear();
    return s;
  }
  Result<std::vector<std::string>> release_hashes(const std::string& name) override {
    std::vector<std::string> out;
    if (const auto it = feeds.find(name); it != feeds.end()) {
      for (const auto& t : it->second.trusted_targets) {
        if (t.kind == tuf::TargetKind::release) out.push_back(t.sha256);
      }
    }
    return out;
  }
  Result<std::vector<tuf::TargetInfo>> model_targets(const std::string& name,
                                                     const std::string& model) override {
    std::vector<tuf::TargetInfo> out;
    if (const auto it = feeds.find(name); it != feeds.end()) {
      for (const auto& t : it->second.trusted_targets) {
        if (t.model == model) out.push_back(t);
      }
    }
    return out;
  }
};

class FakeCache final : public ManifestCache {
 public:
  std::map<std::string, std::string, std::less<>> bytes;
  Result<std::optional<std::string>> get(std::string_view sha256) override {
    const auto it = bytes.find(sha256);
    if (it == bytes.end()) return std::optional<std::string>{};
    return std::optional<std::string>{it->second};
  }
  void put(std::string_view sha256, std::string_view b) override {
    bytes[std::string(sha256)] = std::string(b);
  }
  Result<std::vector<std::string>> hashes() override {
    std::vector<std::string> out;
    for (const auto& [h, b] : bytes) out.push_back(h);
    return out;
  }
};

// Reads the publisher's public dir; reads of .torrent files wait until the gate opens, like a
// stalled mirror. Counts reads.
struct Gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = true;
  std::atomic<int> reads{0};
  std::atomic<int> waiting{0};
  void close() {
    std::lock_guard lock(m);
    open = false;
  }
  void release() {
    {
      std::lock_guard lock(m);
      open = true;
    }
    cv.notify_all();
  }
};

class GatedFetcher final : public Fetcher {
 public:
  GatedFetcher(std::filesystem::path root, std::shared_ptr<Gate> gate)
      : inner_(std::move(root)), gate_(std::move(gate)) {}
  Result<std::string> fetch(std::string_view name, std::uint64_t max_bytes) override {
    ++gate_->reads;
    if (name.ends_with(".torrent")) {
      ++gate_->waiting;
      std::unique_lock lock(gate_->m);
      gate_->cv.wait(lock, [this] { return gate_->open; });
      --gate_->waiting;
    }
    return inner_.fetch(name, max_bytes);
  }
  std::string describe() const override { return inner_.describe(); }

 private:
  LocalDirFetcher inner_;
  std::shared_ptr<Gate> gate_;
};

// Runs the loop until `pred` holds (false after `limit`).
template <class F>
bool run_until(asio::io_context& ioc, F pred, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    ioc.restart();
    ioc.run_for(10ms);
    if (pred()) return true;
  }
  return false;
}

struct World {
  testing::TempDir tmp;
  testing::TestFeed feed{tmp.path() / "feed"};
  std::filesystem::path files = tmp.path() / "files";
  FakeFeeds feeds;
  FakeCache cache;
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  asio::io_context ioc;
  asio::thread_pool workers{1};
  std::unique_ptr<Resolver> resolver;
  std::optional<ReleaseManifest> published;
  int refreshes = 0;

  World() {
    testing::write_text(files / "config.json", "{\"hidden_size\": 64}\n");
    testing::write_text(files / "model.safetensors", std::string(300000, 'w'));
    publish("org/tiny", "r1", {"tiny"});
    std::filesystem::create_directories(tmp.path() / "torrents");
    resolver = std::make_unique<Resolver>(
        ioc, workers.get_executor(), feeds, cache,
        [this](const FeedState&) -> Result<std::unique_ptr<Fetcher>> {
          return std::unique_ptr<Fetcher>(std::make_unique<GatedFetcher>(feed.public_dir(), gate));
        },
        PathPolicy::standard);
  }
  ~World() {
    gate->release();
    workers.join();
  }

  void publish(const std::string& model, const std::string& rev, std::vector<std::string> aliases,
               testing::TestFeed* into = nullptr, const std::string& feed_name = "demo") {
    testing::TestFeed& f = into ? *into : feed;
    ReleaseOptions o;
    o.model = model;
    o.revision = rev;
    o.aliases = std::move(aliases);
    o.license = "mit";
    auto added = add_release(f.repo(), files, o, now_utc());
    REQUIRE(added);
    published = added->manifest;
    f.publish(now_utc());
    // The trusted state a refresh leaves, with every release manifest cached.
    testing::TestClient client(tmp.path() / fmt::format("client-{}", ++refreshes), f, feed_name);
    FakeCache* c = &cache;
    std::vector<std::pair<std::string, std::string>> fetched;
    auto refreshed = client.refresh(
        now_utc(), [c, &fetched](const tuf::TargetInfo& t, std::string_view bytes) -> Status {
          auto m = validate_release_target(t, bytes);
          if (!m) return tl::unexpected(m.error());
          c->put(t.sha256, bytes);
          fetched.emplace_back(t.sha256, std::string(bytes));
          return {};
        });
    REQUIRE(refreshed);
    feeds.feeds[feed_name] = client.state();
    // As the daemon's refresh callback does.
    if (resolver) resolver->cached(fetched);
  }

  TorrentPaths paths() const {
    return {tmp.path() / "torrents" / "hybrid.torrent", tmp.path() / "torrents" / "v1.torrent"};
  }
};

}  // namespace

TEST_CASE("a release resolves by model id, alias and name@rev from the cached manifests",
          "[resolver]") {
  World w;
  w.gate->reads = 0;
  auto by_id = w.resolver->resolve("org/tiny", std::nullopt);
  REQUIRE(by_id);
  CHECK(by_id->manifest.model == "org/tiny");
  CHECK(by_id->feed.name == "demo");
  CHECK(by_id->target.revision == "r1");
  auto by_alias = w.resolver->resolve("tiny@r1", std::nullopt);
  REQUIRE(by_alias);
  CHECK(by_alias->bytes == by_id->bytes);
  CHECK(w.gate->reads == 0);  // every manifest came from the cache

  w.publish("org/tiny", "r2", {"tiny"});
  auto newest = w.resolver->resolve("tiny", std::nullopt);
  REQUIRE(newest);
  CHECK(newest->manifest.revision == "r2");
  auto pinned = w.resolver->resolve("tiny", std::string("r1"));
  REQUIRE(pinned);
  CHECK(pinned->manifest.revision == "r1");

  REQUIRE_REFUSED(w.resolver->resolve("nope", std::nullopt), Errc::not_found,
                  "no release 'nope' in the trusted feeds");
  REQUIRE_REFUSED(w.resolver->resolve("tiny", std::nullopt, std::string("other")), Errc::not_found,
                  "no release 'tiny'");
}

TEST_CASE("a name matching releases of two feeds is ambiguous", "[resolver]") {
  World w;
  testing::TestFeed other(w.tmp.path() / "other");
  w.publish("other/tiny", "r1", {"tiny"}, &other, "second");
  REQUIRE_REFUSED(w.resolver->resolve("tiny", std::nullopt), Errc::invalid_argument,
                  "is ambiguous");
  auto only = w.resolver->resolve("tiny", std::nullopt, std::string("second"));
  REQUIRE(only);
  CHECK(only->manifest.model == "other/tiny");
}

TEST_CASE("a manifest missing from the cache is fetched on a worker, verified and cached",
          "[resolver]") {
  World w;
  const auto cached = w.cache.bytes;
  w.cache.bytes.clear();
  w.gate->reads = 0;
  int filled = 0;
  w.resolver->on_filled([&] { ++filled; });
  // The io thread never waits for it: unavailable until it is in.
  REQUIRE_REFUSED(w.resolver->resolve("org/tiny", std::nullopt), Errc::unavailable,
                  "not cached yet");
  CHECK(w.resolver->filling() == 1);
  REQUIRE(run_until(w.ioc, [&] { return filled == 1; }));
  CHECK(w.gate->reads == 1);
  CHECK(w.cache.bytes == cached);
  auto r = w.resolver->resolve("org/tiny", std::nullopt);
  REQUIRE(r);

  // A cached entry whose bytes do not match its pinned hash is not trusted: fetched again.
  w.cache.bytes[r->target.sha256] = "tampered";
  REQUIRE_REFUSED(w.resolver->resolve("tiny", std::nullopt), Errc::unavailable, "not cached");
  REQUIRE(run_until(w.ioc, [&] { return filled == 2; }));
  auto again = w.resolver->resolve("tiny", std::nullopt);
  REQUIRE(again);
  CHECK(again->bytes == r->bytes);
}

TEST_CASE("a manifest the feed cannot serve fails once, then its release is left out",
          "[resolver]") {
  World w;
  w.publish("org/other", "r1", {});
  const auto state = w.feeds.feeds.at("demo");
  for (const auto& t : state.trusted_targets) {
    if (t.kind == tuf::TargetKind::release && t.model == "org/other") {
      w.cache.bytes.erase(t.sha256);
      w.feed.remove("targets/models/org/other/" + t.sha256 + ".r1.release.json");
    }
  }
  // Start-up fills what the cache lacks; meanwhile any name may be among the missing manifests.
  w.resolver->fill_missing();
  CHECK(w.resolver->filling() == 1);
  REQUIRE_REFUSED(w.resolver->resolve("org/tiny", std::nullopt), Errc::unavailable,
                  "being fetched");
  REQUIRE(run_until(w.ioc, [&] { return w.resolver->filling() == 0; }));
  // The failure is known: org/tiny resolves without it; org/other says why it cannot.
  auto r = w.resolver->resolve("org/tiny", std::nullopt);
  REQUIRE(r);
  CHECK(r->manifest.model == "org/tiny");
  REQUIRE_REFUSED(w.resolver->resolve("org/other", std::nullopt), Errc::not_found,
                  "no release 'org/other'");
}

TEST_CASE("fill_missing fetches every trusted manifest the cache lacks", "[resolver]") {
  World w;
  w.publish("org/tiny", "r2", {});
  const auto cached = w.cache.bytes;
  w.cache.bytes.clear();
  w.resolver->fill_missing();
  CHECK(w.resolver->filling() == 2);
  REQUIRE(run_until(w.ioc, [&] { return w.resolver->filling() == 0; }));
  CHECK(w.cache.bytes == cached);
}

TEST_CASE("fill_missing reads no feed whole when the cache holds every manifest", "[resolver]") {
  World w;
  w.publish("org/tiny", "r2", {});
  w.feeds.full_reads = 0;
  w.resolver->fill_missing();
  CHECK(w.resolver->filling() == 0);
  CHECK(w.feeds.full_reads == 0);
  // One missing: that feed is read whole, and only its missing manifest fetched.
  const auto& targets = w.feeds.feeds.at("demo").trusted_targets;
  const auto missing = std::find_if(targets.begin(), targets.end(), [](const auto& t) {
    return t.kind == tuf::TargetKind::release && t.revision == "r2";
  });
  REQUIRE(missing != targets.end());
  w.cache.bytes.erase(missing->sha256);
  w.resolver->fill_missing();
  CHECK(w.feeds.full_reads == 1);
  CHECK(w.resolver->filling() == 1);
  REQUIRE(run_until(w.ioc, [&] { return w.resolver->filling() == 0; }));
  CHECK(w.cache.bytes.count(missing->sha256) == 1);
}

TEST_CASE("torrents are acquired on a worker while the io thread keeps running", "[resolver]") {
  World w;
  auto r = w.resolver->resolve("org/tiny", std::nullopt);
  REQUIRE(r);
  w.gate->close();  // the mirror stalls on .torrent reads
  std::optional<Result<V1Companion>> outcome;
  REQUIRE(w.resolver->acquire("org/tiny@r1#1", r->feed, r->manifest, w.paths(),
                              [&](Result<V1Companion> got) { outcome = std::move(got); }));
  CHECK(w.resolver->in_flight("org/tiny@r1#1"));
  // A second acquisition of the same key is refused while the first runs.
  REQUIRE_REFUSED(w.resolver->acquire("org/tiny@r1#1", r->feed, r->manifest, w.paths(),
                                      [](Result<V1Companion>) {}),
                  Errc::already_exists, "being fetched already");

  // The io thread runs timers while the worker waits on the stalled read.
  int ticks = 0;
  asio::steady_timer timer(w.ioc);
  std::function<void()> tick = [&] {
    ++ticks;
    timer.expires_after(5ms);
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  };
  tick();
  REQUIRE(run_until(w.ioc, [&] { return w.gate->waiting > 0 && ticks > 20; }));
  CHECK_FALSE(outcome);
  timer.cancel();

  w.gate->release();
  REQUIRE(run_until(w.ioc, [&] { return outcome.has_value(); }));
  INFO((*outcome ? std::string() : outcome->error().message));
  REQUIRE(*outcome);
  CHECK(**outcome == V1Companion::written);
  CHECK_FALSE(w.resolver->in_flight("org/tiny@r1#1"));
  CHECK(std::filesystem::file_size(w.paths().hybrid) > 0);
  CHECK(std::filesystem::file_size(w.paths().v1) > 0);
}

TEST_CASE("a cancelled acquisition or a destroyed resolver delivers nothing", "[resolver]") {
  World w;
  auto r = w.resolver->resolve("org/tiny", std::nullopt);
  REQUIRE(r);
  w.gate->close();
  int delivered = 0;
  REQUIRE(w.resolver->acquire("a", r->feed, r->manifest, w.paths(),
                              [&](Result<V1Companion>) { ++delivered; }));
  REQUIRE(run_until(w.ioc, [&] { return w.gate->waiting > 0; }));
  w.resolver->cancel("a");
  CHECK_FALSE(w.resolver->in_flight("a"));
  // The key is free again: a new acquisition (e.g. the release fetched again) is accepted, and
  // only its outcome arrives.
  REQUIRE(w.resolver->acquire("a", r->feed, r->manifest, w.paths(),
                              [&](Result<V1Companion> got) { delivered += got ? 10 : 100; }));
  w.gate->release();
  REQUIRE(run_until(w.ioc, [&] { return delivered != 0 && !w.resolver->in_flight("a"); }));
  // One worker thread: the cancelled job finished first and its outcome was posted first.
  CHECK(delivered == 10);

  w.gate->close();
  REQUIRE(w.resolver->acquire("b", r->feed, r->manifest, w.paths(),
                              [&](Result<V1Companion>) { ++delivered; }));
  REQUIRE(run_until(w.ioc, [&] { return w.gate->waiting > 0; }));
  w.resolver.reset();  // shutdown while the download hangs
  w.gate->release();
  w.workers.join();
  run_until(
      w.ioc, [] { return false; }, 50ms);
  CHECK(delivered == 10);
}

TEST_CASE("a feed changing meanwhile does not change an acquisition in flight", "[resolver]") {
  World w;
  auto r = w.resolver->resolve("org/tiny", std::nullopt);
  REQUIRE(r);
  w.gate->close();
  std::optional<Result<V1Companion>> outcome;
  REQUIRE(w.resolver->acquire("k", r->feed, r->manifest, w.paths(),
                              [&](Result<V1Companion> got) { outcome = std::move(got); }));
  REQUIRE(run_until(w.ioc, [&] { return w.gate->waiting > 0; }));
  // A refresh commits a newer release, then the feed is removed: the acquisition completes
  // against the state it was resolved from.
  w.publish("org/tiny", "r2", {"tiny"});
  w.feeds.feeds.clear();
  w.gate->release();
  REQUIRE(run_until(w.ioc, [&] { return outcome.has_value(); }));
  REQUIRE(*outcome);
}

TEST_CASE("a torrent that differs from the manifest is refused before anything is written",
          "[resolver]") {
  World w;
  auto r = w.resolver->resolve("org/tiny", std::nullopt);
  REQUIRE(r);
  ReleaseManifest other = r->manifest;
  other.files[0].length += 1;
  LocalDirFetcher fetcher(w.feed.public_dir());
  auto refused = Resolver::acquire_now(fetcher, r->feed, other, w.paths());
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("torrent refused before download"));
  CHECK_FALSE(std::filesystem::exists(w.paths().hybrid));

  // A feed without the release's torrent: the error names the torrent.
  FeedState gone = r->feed;
  std::erase_if(gone.trusted_targets,
                [](const tuf::TargetInfo& t) { return t.kind != tuf::TargetKind::release; });
  auto missing = Resolver::acquire_now(fetcher, gone, r->manifest, w.paths());
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message, Catch::Contains("torrent"));
}

TEST_CASE("a lookup reads only the named models' targets, whatever the feed's size", "[resolver]") {
  World w;
  for (int i = 0; i < 20; ++i) w.publish(fmt::format("org/m{}", i), "r1", {fmt::format("m{}", i)});
  w.publish("org/late", "r1", {"late-alias"});
  REQUIRE(w.resolver->resolve("m7", std::nullopt));  // builds the names index from the cache
  w.feeds.full_reads = 0;
  auto by_alias = w.resolver->resolve("m13", std::nullopt);
  REQUIRE(by_alias);
  CHECK(by_alias->manifest.model == "org/m13");
  // The resolved feed carries that model's targets only (its release and torrents).
  for (const auto& t : by_alias->feed.trusted_targets) CHECK(t.model == "org/m13");
  CHECK_FALSE(by_alias->feed.trusted_targets.empty());
  REQUIRE(w.resolver->resolve("org/m12@r1", std::nullopt));
  CHECK(w.feeds.full_reads == 0);

  // A manifest cached by a refresh after the index was built names its aliases at once.
  w.publish("org/newer", "r1", {"fresh-alias"});
  auto fresh = w.resolver->resolve("fresh-alias", std::nullopt);
  REQUIRE(fresh);
  CHECK(fresh->manifest.model == "org/newer");
  auto late = w.resolver->resolve("late-alias", std::nullopt);
  REQUIRE(late);
  CHECK(late->manifest.model == "org/late");
  CHECK(w.feeds.full_reads == 0);
}
