#include "core/upstream/model_card.hpp"

#include <array>

#include <fmt/format.h>

#include "core/util/encoding.hpp"

namespace weights::upstream {

namespace {

constexpr std::string_view bom = "\xEF\xBB\xBF";
constexpr std::array<std::string_view, 3> licence_keys = {"license", "license_name",
                                                          "license_link"};

tl::unexpected<Error> bad(std::size_t line, std::string message) {
  return fail(Errc::parse_error, fmt::format("model card line {}: {}", line, message),
              "the licence is shown as unknown; read the repository's model card");
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// The value's text checked: UTF-8, no control characters, not too long.
Status check_text(std::size_t line, std::string_view key, std::string_view v) {
  if (v.size() > max_card_value_bytes) {
    return bad(line, fmt::format("{}: longer than {} bytes", key, max_card_value_bytes));
  }
  for (std::size_t i = 0; i < v.size();) {
    char32_t cp = 0;
    const std::size_t n = utf8_sequence(v.substr(i), cp);
    if (n == 0) return bad(line, fmt::format("{}: not UTF-8", key));
    if (cp < 0x20 || cp == 0x7f) return bad(line, fmt::format("{}: a control character", key));
    i += n;
  }
  return {};
}

// What follows a closing quote: nothing, or a comment.
bool only_comment(std::string_view rest) {
  rest = trim_left(rest);
  return rest.empty() || rest.front() == '#';
}

// One scalar value of a licence key: `v` is the line after "key:", trimmed.
Result<std::string> scalar(std::size_t line, std::string_view key, std::string_view v) {
  if (v.empty() || v.front() == '#') {
    return bad(line, fmt::format("{}: no value on its line (a list or mapping is not one "
                                 "licence)",
                                 key));
  }
  std::string out;
  if (v.front() == '"') {
    std::size_t i = 1;
    for (; i < v.size() && v[i] != '"'; ++i) {
      if (v[i] != '\\') {
        out += v[i];
        continue;
      }
      if (++i == v.size()) break;
      if (v[i] != '"' && v[i] != '\\' && v[i] != '/') {
        return bad(line, fmt::format("{}: escape \\{} is not supported", key,
                                     printable_excerpt(v.substr(i, 1), 1)));
      }
      out += v[i];
    }
    if (i >= v.size()) return bad(line, fmt::format("{}: the quoted value does not end", key));
    if (!only_comment(v.substr(i + 1))) {
      return bad(line, fmt::format("{}: text after the quoted value", key));
    }
  } else if (v.front() == '\'') {
    std::size_t i = 1;
    for (;; ++i) {
      if (i >= v.size()) return bad(line, fmt::format("{}: the quoted value does not end", key));
      if (v[i] != '\'') {
        out += v[i];
      } else if (i + 1 < v.size() && v[i + 1] == '\'') {
        out += '\'';
        ++i;
      } else {
        break;
      }
    }
    if (!only_comment(v.substr(i + 1))) {
      return bad(line, fmt::format("{}: text after the quoted value", key));
    }
  } else {
    const bool indicator =
        std::string_view("[]{},|>&*!%@`").find(v.front()) != std::string_view::npos ||
        (std::string_view("-?:").find(v.front()) != std::string_view::npos &&
         (v.size() == 1 || v[1] == ' ' || v[1] == '\t'));
    if (indicator) {
      return bad(line, fmt::format("{}: '{}' starts a list, mapping, block or reference, not "
                                   "one value",
                                   key, printable_excerpt(v.substr(0, 1), 1)));
    }
    if (const auto hash = v.find(" #"); hash != std::string_view::npos) v = v.substr(0, hash);
    v = trim_right(v);
    if (v.find(": ") != std::string_view::npos || v.back() == ':') {
      return bad(line, fmt::format("{}: a mapping, not one value", key));
    }
    out = std::string(v);
  }
  if (out.empty()) return bad(line, fmt::format("{}: empty", key));
  if (auto st = check_text(line, key, out); !st) return tl::unexpected(st.error());
  return out;
}

}  // namespace

Result<ModelCard> parse_model_card(std::string_view text) {
  if (text.starts_with(bom)) text.remove_prefix(bom.size());
  ModelCard card;
  const auto first_end = text.find('\n');
  if (first_end == std::string_view::npos || trim_right(text.substr(0, first_end)) != "---") {
    return card;  // no front matter
  }
  card.has_front_matter = true;
  std::size_t pos = first_end + 1;
  std::size_t line_no = 1;
  // A licence key's line: the next line must not continue its value (empty: not one).
  std::string_view last_licence_key;
  bool seen[licence_keys.size()] = {};
  while (true) {
    if (pos >= text.size()) return bad(line_no, "the front matter does not end (no '---' line)");
    if (pos > max_front_matter_bytes) {
      return fail(
          Errc::too_large,
          fmt::format("model card: front matter longer than {} bytes", max_front_matter_bytes),
          "the licence is shown as unknown; read the repository's model card");
    }
    const auto end = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line_no;
    const std::string_view trimmed = trim_right(line);
    if (trimmed == "---" || trimmed == "...") break;
    if (trim_left(trimmed).empty()) continue;
    const char c = line.front();
    if (c == ' ' || c == '\t' || c == '-') {
      // A nested value or a list item of the key above.
      if (!last_licence_key.empty()) {
        return bad(line_no, fmt::format("{}: continues on the next line (a list, mapping or "
                                        "long text is not one licence)",
                                        last_licence_key));
      }
      continue;
    }
    if (c == '#') continue;
    last_licence_key = {};
    // A top-level key: plain, or quoted.
    std::string key;
    std::size_t after = 0;
    if (c == '"' || c == '\'') {
      const auto close = line.find(c, 1);
      if (close == std::string_view::npos) return bad(line_no, "a quoted key does not end");
      key = std::string(line.substr(1, close - 1));
      after = close + 1;
      if (after >= line.size() || line[after] != ':') {
        return bad(line_no, "a quoted key without ':'");
      }
    } else {
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) {
        return bad(line_no,
                   fmt::format("not a 'key: value' line ({})", printable_excerpt(trimmed, 40)));
      }
      key = std::string(trim_right(line.substr(0, colon)));
      after = colon;
    }
    const std::string_view rest = line.substr(after + 1);
    if (!rest.empty() && rest.front() != ' ' && rest.front() != '\t' && rest.front() != '\r') {
      return bad(line_no,
                 fmt::format("not a 'key: value' line ({})", printable_excerpt(trimmed, 40)));
    }
    if (key.starts_with("extra_gated_")) {
      card.gated = true;
      continue;
    }
    std::size_t k = 0;
    while (k < licence_keys.size() && licence_keys[k] != key) ++k;
    if (k == licence_keys.size()) continue;
    if (seen[k]) return bad(line_no, fmt::format("{}: given twice", key));
    seen[k] = true;
    auto value = scalar(line_no, licence_keys[k], trim_right(trim_left(rest)));
    if (!value) return tl::unexpected(value.error());
    last_licence_key = licence_keys[k];
    auto& slot = k == 0 ? card.license : k == 1 ? card.license_name : card.license_link;
    slot = std::move(*value);
  }
  return card;
}

}  // namespace weights::upstream
