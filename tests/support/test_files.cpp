#include "support/test_files.hpp"

#include <fstream>

#include <catch2/catch.hpp>

#include "core/atomic_file.hpp"

namespace weights::testing {

void write_text(const std::filesystem::path& p, const std::string& data) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

std::string slurp(const std::filesystem::path& p, std::size_t max_bytes) {
  auto r = read_file(p, max_bytes);
  REQUIRE(r);
  return *r;
}

}  // namespace weights::testing
