// Fuzzes the model card's licence fields (parse_model_card, core/upstream/model_card.cpp), read
// from README.md of a commit-pinned release. Checks the contract of model_card.hpp: a refusal
// is parse_error or too_large with a printable one-line message; an accepted card without front
// matter has no field; every value read is non-empty UTF-8 without control characters, at most
// max_card_value_bytes; and a card written back as double-quoted values parses to the same card.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/upstream/model_card.hpp"
#include "core/util/encoding.hpp"

using weights::fuzz::check;

namespace {

void check_value(const std::optional<std::string>& v) {
  if (!v) return;
  check(!v->empty() && v->size() <= weights::upstream::max_card_value_bytes);
  for (std::size_t i = 0; i < v->size();) {
    char32_t cp = 0;
    const std::size_t n = weights::utf8_sequence(std::string_view(*v).substr(i), cp);
    check(n > 0 && cp >= 0x20 && cp != 0x7f);
    i += n;
  }
}

std::string quoted(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weights;
  using namespace weights::upstream;
  auto card = parse_model_card(weights::fuzz::text_of(data, size));
  if (!card) {
    const auto& e = card.error();
    check(e.code == Errc::parse_error || e.code == Errc::too_large);
    check(e.message.rfind("model card", 0) == 0);
    for (unsigned char c : e.message) check(c >= 0x20 && c < 0x7f);
    return 0;
  }
  if (!card->has_front_matter) {
    check(!card->license && !card->license_name && !card->license_link && !card->gated);
    return 0;
  }
  check_value(card->license);
  check_value(card->license_name);
  check_value(card->license_link);
  std::string again = "---\n";
  if (card->license) again += "license: " + quoted(*card->license) + "\n";
  if (card->license_name) again += "license_name: " + quoted(*card->license_name) + "\n";
  if (card->license_link) again += "license_link: " + quoted(*card->license_link) + "\n";
  if (card->gated) again += "extra_gated_prompt: x\n";
  again += "---\n";
  auto reparsed = parse_model_card(again);
  check(reparsed && *reparsed == *card);
  return 0;
}
