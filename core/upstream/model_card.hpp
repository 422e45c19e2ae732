#pragma once
// The licence fields of a Hugging Face model card: README.md's YAML front matter (the block
// between a first line `---` and the next `---` or `...` line). Only the top-level keys that say
// under which terms the weights come are read: `license`, `license_name`, `license_link`, and
// whether any `extra_gated_*` key is present (the hub shows those as the access form of a gated
// repository). The card of a pinned commit is authenticated by the pin (its blob id is in the
// commit's tree), so what it says is what the repository's owner wrote at that commit.
//
// Strict for those keys, tolerant of the rest: each of the three must be one scalar on its own
// line (plain, 'single' or "double" quoted with the escapes \" \\ \/ only), at most
// max_card_value_bytes of UTF-8 without control characters, given once; a list, a mapping, a
// block scalar (| >), an anchor, alias or tag, or a value continued on the next line is an
// error. Other keys' values (nested mappings, lists, long strings) are skipped by indentation;
// a top-level line that is not `key: ...`, a comment or a continuation is an error, since a
// structure that is not understood could hide a licence key. Never throws.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/util/error.hpp"

namespace weights::upstream {

// The model card's file in a Hugging Face repository.
inline constexpr std::string_view model_card_path = "README.md";
// The front matter read (a card's prose after it is not).
inline constexpr std::size_t max_front_matter_bytes = 256 * 1024;
inline constexpr std::size_t max_card_value_bytes = 1024;

struct ModelCard {
  bool has_front_matter = false;
  std::optional<std::string> license;       // an id from the hub's list ("apache-2.0", "other")
  std::optional<std::string> license_name;  // with `license: other`: the licence's own id
  std::optional<std::string> license_link;  // where its text is (a URL or a file of the repo)
  bool gated = false;                       // an `extra_gated_*` key is present
  friend bool operator==(const ModelCard&, const ModelCard&) = default;
};

// The card's licence fields; a text without front matter is a card without them. Errors:
// parse_error ("model card line N: ...", naming the key and rule, never echoing more than a
// short printable excerpt), too_large (front matter longer than max_front_matter_bytes).
Result<ModelCard> parse_model_card(std::string_view text);

}  // namespace weights::upstream
