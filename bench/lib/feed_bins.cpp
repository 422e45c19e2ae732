// bench_feed_bins: flat feed vs hashed bins, same process, same run (bench/feed-scale/bins.sh).
// For each variant (flat, then each bin count given): a publisher feed of N synthetic releases
// (three targets each: a tiny manifest and two tiny "torrents", as `release add` lists), a
// client that runs the first full refresh through the real StateStore, then ROUNDS times: one
// more release (add_targets + publish, timed) and the client's incremental refresh (timed),
// counting the files and bytes it fetched. The feed is read from a local directory.
// Usage: bench_feed_bins DIR N ROUNDS BINS...   (BINS: 0 = flat, else a power of two)
// Prints one line per variant and round: variant round publish_s refresh_s files bytes
// roles_fetched roles_kept targets.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "core/db/state_store.hpp"
#include "core/feed/tuf_client.hpp"
#include "core/net/fetcher.hpp"
#include "core/publish/tuf_repo.hpp"
#include "core/util/atomic_file.hpp"

namespace fs = std::filesystem;
using namespace weights;
using namespace weights::tuf;

namespace {

int die(const std::string& what) {
  std::fprintf(stderr, "bench_feed_bins: %s\n", what.c_str());
  return 1;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

class CountingFetcher : public Fetcher {
 public:
  explicit CountingFetcher(const fs::path& root) : inner_(root) {}
  Result<std::string> fetch(std::string_view name, std::uint64_t max_bytes) override {
    auto r = inner_.fetch(name, max_bytes);
    if (r) {
      ++files;
      bytes += r->size();
    }
    return r;
  }
  std::string describe() const override { return inner_.describe(); }
  std::size_t files = 0, bytes = 0;

 private:
  LocalDirFetcher inner_;
};

// The three targets of release i, with their bytes kept alive in `store`.
void release_targets(std::uint64_t i, std::vector<std::string>& store,
                     std::vector<Repo::NewTarget>& out) {
  const std::string model = fmt::format("bench/m{}", i);
  const std::string rev = fmt::format("r{}", i);
  const std::string base = fmt::format("models/{}/{}", model, rev);
  const std::pair<TargetKind, std::string> files[] = {{TargetKind::release, ".release.json"},
                                                      {TargetKind::torrent, ".torrent"},
                                                      {TargetKind::torrent_v1, ".v1.torrent"}};
  for (const auto& [kind, suffix] : files) {
    store.push_back(fmt::format("{{\"model\": \"{}\", \"revision\": \"{}\", \"kind\": \"{}\"}}\n",
                                model, rev, kind_name(kind)));
  }
  for (std::size_t k = 0; k < 3; ++k) {
    out.push_back(Repo::NewTarget{base + files[k].second, store[store.size() - 3 + k],
                                  TargetCustom{files[k].first, model, rev, 1}});
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return die("usage: bench_feed_bins DIR N ROUNDS BINS...");
  const fs::path dir = argv[1];
  const std::uint64_t n = std::strtoull(argv[2], nullptr, 10);
  const int rounds = std::atoi(argv[3]);
  const TimePoint now = TimePoint(std::chrono::seconds(1767225600));  // 2026-01-01
  for (int a = 4; a < argc; ++a) {
    const auto bins = static_cast<std::uint32_t>(std::strtoul(argv[a], nullptr, 10));
    const std::string variant = bins == 0 ? "flat" : fmt::format("bins-{}", bins);
    const fs::path vdir = dir / variant;
    fs::remove_all(vdir);
    InitOptions opt;
    opt.root_keys = 1;
    opt.spec.root.threshold = 1;
    opt.bins.count = bins;
    auto t = std::chrono::steady_clock::now();
    auto repo = Repo::init(vdir / "pub", opt, now);
    if (!repo) return die(repo.error().message);
    {
      std::vector<std::string> bytes;
      std::vector<Repo::NewTarget> targets;
      bytes.reserve(3 * n);
      for (std::uint64_t i = 1; i <= n; ++i) release_targets(i, bytes, targets);
      if (auto ok = repo->add_targets(targets); !ok) return die(ok.error().message);
    }
    auto ring = KeyRing::load_dir(repo->keys_dir());
    if (!ring) return die(ring.error().message);
    if (auto ok = repo->publish(*ring, now); !ok) return die(ok.error().message);
    std::fprintf(stderr, "%s: generated %llu releases in %.1f s\n", variant.c_str(),
                 static_cast<unsigned long long>(n), seconds_since(t));

    auto store = StateStore::open(vdir / "state");
    if (!store) return die(store.error().message);
    auto root = read_file(repo->public_dir() / root_file_name(1), max_root_bytes);
    if (!root) return die(root.error().message);
    if (auto ok = add_feed(*store, "bench", repo->public_dir().string(), *root, now); !ok) {
      return die(ok.error().message);
    }
    // Like weightsd: a manifest validated once is kept (its manifest_cache).
    std::set<std::string> validated;
    const TargetValidator validator = [&](const TargetInfo& target, std::string_view) -> Status {
      validated.insert(target.sha256);
      return {};
    };
    const AlreadyVerified kept = [&](const TargetInfo& target) {
      return validated.contains(target.sha256);
    };
    // What tuf::refresh does (load, verify, commit, load the committed state), each step timed.
    const auto refresh_once = [&](TimePoint at, int round, double publish_s) -> int {
      CountingFetcher fetcher(repo->public_dir());
      const auto start = std::chrono::steady_clock::now();
      auto trusted = store->load_feed("bench");
      if (!trusted) return die(trusted.error().message);
      const double load_s = seconds_since(start);
      auto v = verify_update(*trusted, fetcher, at, validator, {}, kept);
      if (!v) return die(v.error().message);
      const double verify_s = seconds_since(start) - load_s;
      if (auto ok = store->commit_refresh("bench", v->update, at); !ok) {
        return die(ok.error().message);
      }
      const double commit_s = seconds_since(start) - load_s - verify_s;
      auto committed = store->load_feed("bench");
      if (!committed) return die(committed.error().message);
      const double s = seconds_since(start);
      std::printf(
          "%s %d %.4f %.4f %zu %zu %zu %zu %zu  (load %.3f verify %.3f commit %.3f "
          "reload %.3f)\n",
          variant.c_str(), round, publish_s, s, fetcher.files, fetcher.bytes, v->roles_fetched,
          v->roles_kept, committed->trusted_targets.size(), load_s, verify_s, commit_s,
          s - load_s - verify_s - commit_s);
      std::fflush(stdout);
      return 0;
    };
    if (refresh_once(now + std::chrono::minutes(1), 0, 0) != 0) return 1;
    for (int k = 1; k <= rounds; ++k) {
      const TimePoint at = now + std::chrono::minutes(2 * k);
      std::vector<std::string> bytes;
      std::vector<Repo::NewTarget> targets;
      release_targets(n + static_cast<std::uint64_t>(k), bytes, targets);
      const auto start = std::chrono::steady_clock::now();
      if (auto ok = repo->add_targets(targets); !ok) return die(ok.error().message);
      if (auto ok = repo->publish(*ring, at); !ok) return die(ok.error().message);
      const double publish_s = seconds_since(start);
      if (refresh_once(at + std::chrono::seconds(30), k, publish_s) != 0) return 1;
    }
    // BENCH_VERIFY_LOOP=K: K more verifications of the last release (nothing committed), for
    // profiling the client's own work.
    if (const char* loops = std::getenv("BENCH_VERIFY_LOOP")) {
      std::vector<std::string> bytes;
      std::vector<Repo::NewTarget> targets;
      release_targets(n + 1000, bytes, targets);
      const TimePoint at = now + std::chrono::hours(1);
      if (auto ok = repo->add_targets(targets); !ok) return die(ok.error().message);
      if (auto ok = repo->publish(*ring, at); !ok) return die(ok.error().message);
      auto trusted = store->load_feed("bench");
      if (!trusted) return die(trusted.error().message);
      const auto start = std::chrono::steady_clock::now();
      const int count = std::atoi(loops);
      for (int k = 0; k < count; ++k) {
        CountingFetcher fetcher(repo->public_dir());
        auto v = verify_update(*trusted, fetcher, at, validator, {}, kept);
        if (!v) return die(v.error().message);
      }
      std::printf("%s verify only: %.4f s each\n", variant.c_str(),
                  seconds_since(start) / std::max(count, 1));
    }
  }
  return 0;
}
