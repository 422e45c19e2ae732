#include "daemon/log.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <unistd.h>

#include "support/temp_dir.hpp"

using namespace weights::daemon;

TEST_CASE("log text escapes every control character and keeps printable UTF-8", "[log]") {
  CHECK(log::escape("feed demo refreshed") == "feed demo refreshed");
  CHECK(log::escape("a\nb\rc\td") == "a\\nb\\rc\\td");
  CHECK(log::escape("evil\n2026-01-01T00:00:00Z weightsd[1] error: forged") ==
        "evil\\n2026-01-01T00:00:00Z weightsd[1] error: forged");
  CHECK(log::escape("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m");
  CHECK(log::escape(std::string("nul\0x", 5)) == "nul\\x00x");
  CHECK(log::escape("del\x7f") == "del\\x7f");
  // C1 controls, encoded (U+009B CSI) and as a lone byte (invalid UTF-8).
  CHECK(log::escape("csi\xc2\x9b"
                    "2J") == "csi\\u009b2J");
  CHECK(log::escape("raw\x9b"
                    "2J") == "raw\\x9b2J");
  CHECK(log::escape("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80") ==
        "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80");
  // Overlong, surrogate and truncated sequences are bytes, not characters.
  CHECK(log::escape("\xc0\x8a") == "\\xc0\\x8a");
  CHECK(log::escape("\xed\xa0\x80") == "\\xed\\xa0\\x80");
  CHECK(log::escape("\xe2\x9c") == "\\xe2\\x9c");
  CHECK(log::escape("back\\slash") == "back\\slash");
}

TEST_CASE("every log call writes exactly one line, whatever its arguments", "[log]") {
  weights::testing::TempDir tmp;
  const auto file = tmp / "stderr.txt";
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  REQUIRE(saved >= 0);
  REQUIRE(std::freopen(file.c_str(), "w", stderr) != nullptr);
  log::warning("feed {}: refused", "../../evil\nweightsd[1] error: forged\x1b]0;title\x07");
  std::fflush(stderr);
  REQUIRE(::dup2(saved, STDERR_FILENO) >= 0);
  ::close(saved);
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  REQUIRE(!text.empty());
  CHECK(text.find('\n') == text.size() - 1);
  for (char c : text.substr(0, text.size() - 1)) {
    CHECK((static_cast<unsigned char>(c) >= 0x20 && c != 0x7f));
  }
  CHECK(text.find("../../evil\\nweightsd[1] error: forged\\x1b]0;title\\x07") != std::string::npos);
}
