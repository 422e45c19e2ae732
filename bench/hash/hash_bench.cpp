// hash_bench: hashes the given files with weights::hash_files and prints one JSON line of
// timings. Driven by bench/hash/run.sh.
//   hash_bench [--threads N] [--no-git-oid] [--one-shot-blocks] FILE...
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/util/file_hash.hpp"

int main(int argc, char** argv) {
  weights::HashOptions opts;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) {
      opts.threads = static_cast<unsigned>(std::stoul(argv[++i]));
    } else if (arg == "--buffer" && i + 1 < argc) {
      opts.buffer_bytes = std::stoull(argv[++i]);
    } else if (arg == "--no-git-oid") {
      opts.git_oid = weights::GitOid::skip;
    } else {
      files.emplace_back(arg);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: hash_bench [--threads N] [--buffer BYTES] FILE...\n");
    return 64;
  }
  const auto start = std::chrono::steady_clock::now();
  auto result = weights::hash_files(files, opts);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result) {
    std::fprintf(stderr, "hash_bench: %s\n", result.error().message.c_str());
    return 1;
  }
  std::uint64_t bytes = 0;
  for (const auto& d : *result) bytes += d.length;
  std::printf("{\"files\":%zu,\"bytes\":%llu,\"threads\":%u,\"seconds\":%.4f,\"mib_per_s\":%.1f}\n",
              files.size(), static_cast<unsigned long long>(bytes), opts.threads, seconds,
              static_cast<double>(bytes) / (1024.0 * 1024.0) / seconds);
  return 0;
}
