// bench_feed_gen: adds many tiny releases to a publisher feed in one process (the benchmarks'
// fast path). For i in [first, last]: writes <rel_dir>/<i>/config.json (unique) and, with
// file_kib > 0, a sparse weights.bin whose first bytes are unique, then add_release()s it as
// bench/m<i>@r<i>. With `publish`, signs and publishes once at the end.
//
// Repo::add_target re-checks the whole path set (collision keys of every path) and rewrites the
// whole repo.json on every target (3 per release), so adding to a feed of N releases costs O(N)
// per release. With CHUNK > 0 the releases are added to scratch
// copies of the feed, CHUNK at a time, and each chunk's target entries and files are then
// merged into the feed's repo.json in one write; Repo::open re-validates the merged list and
// publish() signs it exactly as after `release add`. Only for generating benchmark feeds.
// Prints one line per release, "<i> <seconds>", the wall time of its add_release() call.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/core.h>

#include "core/publish/publisher.hpp"
#include "core/publish/tuf_repo.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/json.hpp"

namespace fs = std::filesystem;
using namespace weights;
using weights::json::Json;

namespace {

int die(const std::string& what) {
  std::fprintf(stderr, "bench_feed_gen: %s\n", what.c_str());
  return 1;
}

Result<Json> load_json(const fs::path& file) {
  auto text = read_file(file, std::size_t{1} << 32);
  if (!text) return tl::unexpected(text.error());
  return Json::parse(*text);
}

// Adds releases first..last to the repo at `dir`; prints their timings.
Status add_range(const fs::path& dir, const fs::path& rel, unsigned long first, unsigned long last,
                 unsigned long kib, TimePoint now) {
  auto repo = tuf::Repo::open(dir);
  if (!repo) return tl::unexpected(repo.error());
  for (unsigned long i = first; i <= last; ++i) {
    const fs::path d = rel / std::to_string(i);
    fs::create_directories(d);
    std::ofstream(d / "config.json") << fmt::format("{{\"bench_release\": {}}}\n", i);
    if (kib > 0) {
      {
        std::ofstream w(d / "weights.bin", std::ios::binary);
        w << fmt::format("weights-bench-{:08}", i);
      }
      fs::resize_file(d / "weights.bin", kib * 1024);
    }
    ReleaseOptions o;
    o.model = fmt::format("bench/m{}", i);
    o.revision = fmt::format("r{}", i);
    o.license = "apache-2.0";
    o.hash.threads = 1;
    const auto t0 = std::chrono::steady_clock::now();
    auto added = add_release(*repo, d, o, now);
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    if (!added) return tl::unexpected(with_context(added.error(), fmt::format("release {}", i)));
    std::printf("%lu %.6f\n", i, dt.count());
  }
  return {};
}

// Moves every file under scratch/public/targets into pub/public/targets.
void move_targets(const fs::path& scratch, const fs::path& pub) {
  const fs::path from = scratch / "public" / "targets";
  if (!fs::exists(from)) return;
  for (const auto& e : fs::recursive_directory_iterator(from)) {
    if (!e.is_regular_file()) continue;
    const fs::path to = pub / "public" / "targets" / fs::relative(e.path(), from);
    fs::create_directories(to.parent_path());
    fs::rename(e.path(), to);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7 && argc != 8) {
    std::fprintf(stderr, "usage: %s PUBDIR RELDIR FIRST LAST FILE_KIB publish|stage [CHUNK]\n",
                 argv[0]);
    return 2;
  }
  const fs::path pub = argv[1], rel = argv[2];
  const unsigned long first = std::strtoul(argv[3], nullptr, 10);
  const unsigned long last = std::strtoul(argv[4], nullptr, 10);
  const unsigned long kib = std::strtoul(argv[5], nullptr, 10);
  const bool publish = std::string(argv[6]) == "publish";
  const unsigned long chunk = argc == 8 ? std::strtoul(argv[7], nullptr, 10) : 0;
  const TimePoint now = now_utc();
  try {
    if (chunk == 0) {
      if (auto st = add_range(pub, rel, first, last, kib, now); !st) return die(st.error().message);
    } else {
      auto doc = load_json(pub / "repo.json");
      if (!doc) return die(doc.error().message);
      const fs::path scratch = pub.string() + ".chunk";
      Json empty = *doc;  // the feed's repo.json without targets: each scratch repo starts so
      empty["targets"] = Json::object();
      const std::string empty_text = empty.dump();
      for (unsigned long a = first; a <= last; a += chunk) {
        const unsigned long b = std::min(last, a + chunk - 1);
        fs::remove_all(scratch);
        fs::create_directories(scratch / "public" / "metadata");
        fs::copy(pub / "keys", scratch / "keys", fs::copy_options::recursive);
        fs::copy(pub / "public" / "metadata", scratch / "public" / "metadata",
                 fs::copy_options::recursive);
        std::ofstream(scratch / "repo.json") << empty_text;
        if (auto st = add_range(scratch, rel, a, b, kib, now); !st) return die(st.error().message);
        auto part = load_json(scratch / "repo.json");
        if (!part) return die(part.error().message);
        for (const auto& [path, entry] : (*part)["targets"].items())
          (*doc)["targets"][path] = entry;
        move_targets(scratch, pub);
      }
      fs::remove_all(scratch);
      if (auto st = write_file_atomic(pub / "repo.json", doc->dump(2), 0600); !st) {
        return die(st.error().message);
      }
    }
    if (publish) {
      auto repo = tuf::Repo::open(pub);  // validates every target entry again
      if (!repo) return die(repo.error().message);
      auto ring = tuf::KeyRing::load_dir(repo->keys_dir());
      if (!ring) return die(ring.error().message);
      if (auto st = repo->publish(*ring, now_utc()); !st) return die(st.error().message);
    }
  } catch (const std::exception& e) {
    return die(e.what());
  }
  return 0;
}
