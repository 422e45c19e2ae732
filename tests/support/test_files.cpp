#include "support/test_files.hpp"

#include <fstream>
#include <random>

#include <catch2/catch.hpp>
#include <sys/stat.h>

#include "core/util/atomic_file.hpp"
#include "core/util/crypto.hpp"

namespace weights::testing {

ReleaseFile release_file(const std::string& path, const std::string& content) {
  ReleaseFile f;
  f.path = path;
  f.length = content.size();
  f.sha256 = crypto::sha256_hex(content);
  return f;
}

void write_text(const std::filesystem::path& p, const std::string& data) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

std::string slurp(const std::filesystem::path& p, std::size_t max_bytes) {
  auto r = read_file(p, max_bytes);
  REQUIRE(r);
  return *r;
}

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

ino_t inode_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_ino;
}

}  // namespace weights::testing
