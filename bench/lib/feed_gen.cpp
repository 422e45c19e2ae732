// bench_feed_gen: adds many tiny releases to a publisher feed in one process (the benchmarks'
// fast path; `weightsctl release add` does the same work per release plus a process start and
// a load of repo.json). For i in [first, last]: writes <rel_dir>/<i>/config.json (unique) and,
// with file_kib > 0, a sparse weights.bin whose first bytes are unique, then add_release()s it
// as bench/m<i>@r<i>. With `publish`, signs and publishes once at the end.
// Prints one line per release, "<i> <seconds>", the wall time of its add_release() call.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/core.h>

#include "core/publisher.hpp"
#include "core/tuf_repo.hpp"

namespace fs = std::filesystem;
using namespace weights;

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s PUBDIR RELDIR FIRST LAST FILE_KIB publish|stage\n", argv[0]);
    return 2;
  }
  const fs::path pub = argv[1], rel = argv[2];
  const unsigned long first = std::strtoul(argv[3], nullptr, 10);
  const unsigned long last = std::strtoul(argv[4], nullptr, 10);
  const unsigned long kib = std::strtoul(argv[5], nullptr, 10);
  const bool publish = std::string(argv[6]) == "publish";
  auto repo = tuf::Repo::open(pub);
  if (!repo) {
    std::fprintf(stderr, "%s\n", repo.error().message.c_str());
    return 1;
  }
  const TimePoint now = now_utc();
  for (unsigned long i = first; i <= last; ++i) {
    const fs::path dir = rel / std::to_string(i);
    fs::create_directories(dir);
    std::ofstream(dir / "config.json") << fmt::format("{{\"bench_release\": {}}}\n", i);
    if (kib > 0) {
      {
        std::ofstream w(dir / "weights.bin", std::ios::binary);
        w << fmt::format("weights-bench-{:08}", i);
      }
      fs::resize_file(dir / "weights.bin", kib * 1024);
    }
    ReleaseOptions o;
    o.model = fmt::format("bench/m{}", i);
    o.revision = fmt::format("r{}", i);
    o.license = "apache-2.0";
    o.hash.threads = 1;
    const auto t0 = std::chrono::steady_clock::now();
    auto added = add_release(*repo, dir, o, now);
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    if (!added) {
      std::fprintf(stderr, "release %lu: %s\n", i, added.error().message.c_str());
      return 1;
    }
    std::printf("%lu %.6f\n", i, dt.count());
  }
  if (publish) {
    auto ring = tuf::KeyRing::load_dir(repo->keys_dir());
    if (!ring) {
      std::fprintf(stderr, "%s\n", ring.error().message.c_str());
      return 1;
    }
    if (auto st = repo->publish(*ring, now_utc()); !st) {
      std::fprintf(stderr, "publish: %s\n", st.error().message.c_str());
      return 1;
    }
  }
  return 0;
}
