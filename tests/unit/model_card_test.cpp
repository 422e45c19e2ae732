// The model card's licence fields (core/upstream/model_card.hpp): the keys read, the structures
// refused for them, the rest skipped.
#include "core/upstream/model_card.hpp"

#include <string>

#include <catch2/catch.hpp>

using namespace weights;
using namespace weights::upstream;

namespace {

ModelCard parsed(const std::string& text) {
  auto c = parse_model_card(text);
  INFO(text);
  REQUIRE(c);
  return *c;
}

Error refused(const std::string& text) {
  auto c = parse_model_card(text);
  INFO(text);
  REQUIRE_FALSE(c);
  return c.error();
}

}  // namespace

TEST_CASE("a card's licence, name, link and gating are read from its front matter",
          "[model_card]") {
  const auto c = parsed(
      "---\n"
      "language:\n- en\n"
      "license: other\n"
      "license_name: llama3.1\n"
      "license_link: https://huggingface.co/meta-llama/Llama-3.1-8B/blob/main/LICENSE\n"
      "tags: [a, b]\n"
      "extra_gated_prompt: >-\n  ### LLAMA 3.1 COMMUNITY LICENSE\n  text: more: colons\n"
      "extra_gated_fields:\n  First Name: text\n  geo: ip_location\n"
      "---\n# Model\nlicense: not-front-matter\n");
  CHECK(c.has_front_matter);
  CHECK(c.license == "other");
  CHECK(c.license_name == "llama3.1");
  CHECK(c.license_link == "https://huggingface.co/meta-llama/Llama-3.1-8B/blob/main/LICENSE");
  CHECK(c.gated);
}

TEST_CASE("quoted values, comments, CRLF, a BOM and '...' as the end are accepted",
          "[model_card]") {
  CHECK(parsed("\xEF\xBB\xBF---\r\nlicense: \"apache-2.0\" # SPDX\r\n---\r\n").license ==
        "apache-2.0");
  CHECK(parsed("---\nlicense: 'it''s mine'\n...\n").license == "it's mine");
  CHECK(parsed("---\n# comment\nlicense: mit # the id\n\n---\n").license == "mit");
  CHECK(parsed("---\nlicense: \"a\\\"b\\\\c\\/d\"\n---\n").license == "a\"b\\c/d");
  CHECK(parsed("---\n\"license\": mit\n---\n").license == "mit");
  const auto none = parsed("---\ntags: [x]\n---\n");
  CHECK(none.has_front_matter);
  CHECK_FALSE(none.license);
  CHECK_FALSE(none.gated);
}

TEST_CASE("a card without front matter has no licence fields", "[model_card]") {
  for (const std::string text : {"", "# Model\nlicense: mit\n", "----\nlicense: x\n"}) {
    const auto c = parsed(text);
    CHECK_FALSE(c.has_front_matter);
    CHECK_FALSE(c.license);
  }
}

TEST_CASE("a licence key that is not one value on its line is refused, naming line and key",
          "[model_card]") {
  const auto list = refused("---\nlicense:\n- mit\n- apache-2.0\n---\n");
  CHECK(list.code == Errc::parse_error);
  CHECK(list.message.rfind("model card line 2: license:", 0) == 0);
  CHECK(refused("---\nlicense: [mit]\n---\n").message.find("'['") != std::string::npos);
  CHECK(refused("---\nlicense: |\n  mit\n---\n").code == Errc::parse_error);
  CHECK(refused("---\nlicense: &a mit\n---\n").code == Errc::parse_error);
  CHECK(refused("---\nlicense: !!str mit\n---\n").code == Errc::parse_error);
  CHECK(refused("---\nlicense: mit\n  and more\n---\n").message.find("continues") !=
        std::string::npos);
  CHECK(refused("---\nlicense: a: b\n---\n").message.find("mapping") != std::string::npos);
  CHECK(refused("---\nlicense: mit\nlicense: apache-2.0\n---\n").message.find("twice") !=
        std::string::npos);
  CHECK(refused("---\nlicense_link: \"https://x\n---\n").message.find("does not end") !=
        std::string::npos);
  CHECK(refused("---\nlicense: \"\\u0041\"\n---\n").message.find("escape") != std::string::npos);
  CHECK(refused("---\nlicense: \"\"\n---\n").message.find("empty") != std::string::npos);
  CHECK(refused("---\nlicense: a\x01"
                "b\n---\n")
            .message.find("control") != std::string::npos);
  CHECK(refused("---\nlicense: \xff\n---\n").message.find("UTF-8") != std::string::npos);
  CHECK(refused("---\nlicense: " + std::string(max_card_value_bytes + 1, 'a') + "\n---\n")
            .message.find("longer") != std::string::npos);
}

TEST_CASE("front matter that is not understood, does not end or is too long is refused",
          "[model_card]") {
  CHECK(refused("---\nlicense: mit\n").message.find("does not end") != std::string::npos);
  CHECK(refused("---\njust text\n---\n").message.find("key: value") != std::string::npos);
  CHECK(refused("---\nkey:value\n---\n").message.find("key: value") != std::string::npos);
  std::string big = "---\n";
  while (big.size() <= max_front_matter_bytes) big += "tags: " + std::string(100, 'x') + "\n";
  big += "---\n";
  CHECK(refused(big).code == Errc::too_large);
  // Messages are one printable line.
  for (unsigned char ch : refused("---\n\x01\xfe: x\n\x02 junk\n---\n").message) {
    CHECK((ch >= 0x20 && ch < 0x7f));
  }
}
