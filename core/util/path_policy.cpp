#include "core/util/path_policy.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <utf8proc.h>

#include "core/util/encoding.hpp"

namespace weights {
namespace {

struct FoldEntry {
  char32_t cp;
  std::array<char32_t, 4> to;  // zero-terminated unless all four are used
};

#include "core/util/path_policy_table.inc"  // kFoldTable, kCombiningClass (generated)

// Decodes strict UTF-8 (RFC 3629: shortest form only, no surrogates, max U+10FFFF).
std::optional<std::u32string> decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const std::size_t len = utf8_sequence(s.substr(i), cp);
    if (len == 0) return std::nullopt;
    out.push_back(cp);
    i += len;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_control(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

// Characters that render as nothing or reorder text: they let two different paths look
// identical in a listing or a review (Trojan Source style).
bool is_invisible_or_bidi(char32_t cp) {
  return cp == 0x00AD || cp == 0x061C || cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF ||
         (cp >= 0xFFF9 && cp <= 0xFFFB) || cp == 0xFFFE || cp == 0xFFFF;
}

char ascii_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
}

bool is_windows_reserved_name(std::string_view component) {
  // Windows maps "CON", "con.txt", "CON .tar.gz" and "COM1" to devices: strip everything from
  // the first '.', then trailing spaces, and compare case-insensitively.
  std::string base(component.substr(0, component.find('.')));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  std::transform(base.begin(), base.end(), base.begin(), ascii_upper);
  static constexpr std::string_view kFixed[] = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"};
  if (std::find(std::begin(kFixed), std::end(kFixed), base) != std::end(kFixed)) return true;
  if (base.size() >= 4 && (base.starts_with("COM") || base.starts_with("LPT"))) {
    const std::string_view digit = std::string_view(base).substr(3);
    // COM0-9, LPT0-9 and the superscript digits ¹ ² ³ that Windows also treats as devices.
    if (digit.size() == 1 && digit[0] >= '0' && digit[0] <= '9') return true;
    if (digit == "\xC2\xB9" || digit == "\xC2\xB2" || digit == "\xC2\xB3") return true;
  }
  return false;
}

tl::unexpected<Error> violation(std::string_view path, std::string_view rule) {
  return fail(Errc::path_policy,
              fmt::format("path \"{}\": {}", escape_path_for_message(path), rule));
}

Status check_component(std::string_view path, std::string_view component, Portability portability) {
  if (component.empty())
    return violation(path, "empty path component (\"//\", leading or trailing '/')");
  if (component == "." || component == "..") {
    return violation(path, "\".\" and \"..\" components are not allowed");
  }
  if (component.size() > max_path_component_bytes) {
    return violation(path, fmt::format("component longer than {} bytes", max_path_component_bytes));
  }
  if (portability == Portability::windows) {
    if (component.back() == '.' || component.back() == ' ') {
      return violation(path, "component ends in '.' or ' ' (not portable to Windows)");
    }
    if (component.find_first_of("<>\"|?*") != std::string_view::npos) {
      return violation(path, "contains one of <>\"|?* (not portable to Windows)");
    }
    if (is_windows_reserved_name(component)) {
      return violation(path, "Windows-reserved device name (CON, PRN, AUX, NUL, COMn, LPTn)");
    }
  }
  return {};
}

}  // namespace

std::string escape_path_for_message(std::string_view path) {
  constexpr std::size_t kMax = 200;
  std::string out;
  for (std::size_t i = 0; i < path.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(path[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (path.size() > kMax) out += "...";
  return out;
}

Status check_path(std::string_view path, Portability portability) {
  if (path.empty()) return violation(path, "empty path");
  if (path.size() > max_path_bytes) {
    return violation(path, fmt::format("longer than {} bytes", max_path_bytes));
  }
  if (path.front() == '/') return violation(path, "absolute path (leading '/')");
  const auto cps = decode_utf8(path);
  if (!cps) return violation(path, "invalid UTF-8");
  for (const char32_t cp : *cps) {
    if (cp == 0) return violation(path, "contains NUL");
    if (is_control(cp)) return violation(path, "contains a control character");
    if (cp == '\\') return violation(path, "contains a backslash");
    if (cp == ':') return violation(path, "contains ':' (drive letters, NTFS streams)");
    if (is_invisible_or_bidi(cp)) {
      return violation(path, "contains a bidi control or invisible character");
    }
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    const std::string_view component = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (auto st = check_component(path, component, portability); !st) return st;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

std::string collision_key(std::string_view path) {
  // ASCII only (every target path of a typical feed): only A-Z change, nothing combines.
  if (std::all_of(path.begin(), path.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
    std::string out(path);
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    return out;
  }
  const auto cps = decode_utf8(path);
  if (!cps) return std::string(path);  // contract: callers validate first; keep it total anyway
  std::u32string folded;
  folded.reserve(cps->size());
  for (const char32_t cp : *cps) {
    if (cp >= 'A' && cp <= 'Z') {
      folded.push_back(cp + 32);
      continue;
    }
    if (cp < 0xC0) {
      folded.push_back(cp);
      continue;
    }
    const auto it = std::lower_bound(std::begin(kFoldTable), std::end(kFoldTable), cp,
                                     [](const FoldEntry& e, char32_t c) { return e.cp < c; });
    if (it != std::end(kFoldTable) && it->cp == cp) {
      for (const char32_t t : it->to) {
        if (t == 0) break;
        folded.push_back(t);
      }
    } else {
      folded.push_back(cp);
    }
  }
  // Canonical ordering: a run of combining marks is stably sorted by combining class, so
  // "a"+U+0323+U+0307 and "a"+U+0307+U+0323 get the same key.
  const auto ccc = [](char32_t cp) -> int {
    return (cp >= 0x300 && cp < 0x370) ? kCombiningClass[cp - 0x300] : 0;
  };
  for (std::size_t i = 0; i < folded.size();) {
    if (ccc(folded[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < folded.size() && ccc(folded[j]) != 0) ++j;
    std::stable_sort(folded.begin() + static_cast<std::ptrdiff_t>(i),
                     folded.begin() + static_cast<std::ptrdiff_t>(j),
                     [&](char32_t a, char32_t b) { return ccc(a) < ccc(b); });
    i = j;
  }
  std::string out;
  out.reserve(path.size());
  for (const char32_t cp : folded) append_utf8(out, cp);
  return out;
}

Status check_path_set(std::span<const std::string> paths, Portability portability) {
  std::unordered_map<std::string, std::size_t> files;  // collision key -> index in paths
  std::unordered_map<std::string, std::size_t> dirs;   // key of every parent directory
  files.reserve(paths.size());
  std::vector<std::string> keys;
  keys.reserve(paths.size());
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    if (auto st = check_path(path, portability); !st) return st;
    const std::string& key = keys.emplace_back(collision_key(path));
    if (auto [it, inserted] = files.emplace(key, i); !inserted) {
      const std::string& other = paths[it->second];
      if (other == path) return violation(path, "duplicate path");
      return violation(path, fmt::format("collides with \"{}\" (case or Unicode normalisation)",
                                         escape_path_for_message(other)));
    }
    for (std::size_t slash = key.find('/'); slash != std::string::npos;
         slash = key.find('/', slash + 1)) {
      dirs.emplace(key.substr(0, slash), i);
    }
  }
  // A file whose key is also a directory key: "a" next to "a/b" (or "A/b").
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const auto it = dirs.find(keys[i]);
    if (it != dirs.end()) {
      return violation(paths[i], fmt::format("is a file but also a directory of \"{}\"",
                                             escape_path_for_message(paths[it->second])));
    }
  }
  return {};
}

Status check_path_set_growth(std::span<const std::string_view> existing,
                             std::span<const std::string> added) {
  if (added.empty()) return {};
  if (auto st = check_path_set(added); !st) return st;
  std::vector<std::string> keys;
  keys.reserve(added.size());
  for (const auto& a : added) keys.push_back(collision_key(a));
  const auto is_ascii = [](std::string_view p) {
    return std::all_of(p.begin(), p.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  };
  std::string non_ascii_key;
  for (const std::string_view e : existing) {
    // key(e) is e with A-Z lowered when e is ASCII: compare without building it.
    const bool ascii = is_ascii(e);
    if (!ascii) non_ascii_key = collision_key(e);
    const std::string_view ke = ascii ? e : std::string_view(non_ascii_key);
    const auto lower = [&](char c) {
      return ascii && c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
    };
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::string& ka = keys[i];
      const std::size_t n = std::min(ke.size(), ka.size());
      std::size_t j = 0;
      while (j < n && lower(ke[j]) == ka[j]) ++j;
      if (j < n) continue;
      if (ke.size() == ka.size()) {
        if (e == added[i]) return violation(added[i], "duplicate path");
        return violation(added[i], fmt::format("collides with \"{}\" (case or Unicode "
                                               "normalisation)",
                                               escape_path_for_message(e)));
      }
      if (ke.size() > ka.size() && ke[ka.size()] == '/') {
        return violation(added[i], fmt::format("is a file but also a directory of \"{}\"",
                                               escape_path_for_message(e)));
      }
      if (ka.size() > ke.size() && ka[ke.size()] == '/') {
        return violation(e, fmt::format("is a file but also a directory of \"{}\"",
                                        escape_path_for_message(added[i])));
      }
    }
  }
  return {};
}

bool is_valid_utf8(std::string_view text) {
  return decode_utf8(text).has_value();
}

Status check_feed_name(std::string_view name) {
  auto ok_char = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  };
  const bool ok = !name.empty() && name.size() <= max_feed_name_bytes &&
                  std::all_of(name.begin(), name.end(), ok_char) && name.front() != '.' &&
                  name.front() != '-' && name.front() != '_';
  if (ok) return {};
  return fail(Errc::invalid_argument,
              fmt::format("feed name \"{}\" is not valid: expected 1 to {} characters of "
                          "A-Z a-z 0-9 . _ - starting with a letter or digit",
                          escape_path_for_message(name), max_feed_name_bytes));
}

std::string_view path_policy_name(PathPolicy policy) {
  return policy == PathPolicy::portable ? "portable" : "standard";
}

Result<PathPolicy> parse_path_policy(std::string_view name) {
  if (name == "standard") return PathPolicy::standard;
  if (name == "portable") return PathPolicy::portable;
  return fail(Errc::invalid_argument,
              fmt::format("unknown path policy \"{}\"", printable_excerpt(name)),
              "use \"standard\" or \"portable\"");
}

std::string_view path_policy_unicode_version() {
  return utf8proc_unicode_version();
}

namespace {

// utf8proc_map over `path` with `options`; nullopt if utf8proc refuses it (invalid UTF-8 or,
// with UTF8PROC_REJECTNA, an unassigned code point).
std::optional<std::string> utf8proc_transform(std::string_view path, int options) {
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(path.data()),
                                          static_cast<utf8proc_ssize_t>(path.size()), &out,
                                          static_cast<utf8proc_option_t>(options));
  if (n < 0) {
    std::free(out);
    return std::nullopt;
  }
  std::string result(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
  std::free(out);
  return result;
}

}  // namespace

Status check_path_nfc(std::string_view path) {
  const auto nfc = utf8proc_transform(path, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_REJECTNA);
  if (!nfc) {
    return violation(path, fmt::format("contains a code point unassigned in Unicode {}",
                                       path_policy_unicode_version()));
  }
  if (*nfc != path) {
    return violation(path, fmt::format("not in Unicode Normalization Form C (NFC is \"{}\")",
                                       escape_path_for_message(*nfc)));
  }
  return {};
}

std::string portable_collision_key(std::string_view path) {
  const auto key =
      utf8proc_transform(path, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD);
  return key ? *key : std::string(path);  // contract: valid UTF-8; keep it total anyway
}

Status check_path_set(std::span<const std::string> paths, PathPolicy policy) {
  if (policy == PathPolicy::standard) return check_path_set(paths, Portability::posix);
  if (auto st = check_path_set(paths, Portability::windows); !st) return st;
  std::unordered_map<std::string, std::size_t> keys;  // portable key -> index in paths
  keys.reserve(paths.size());
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (auto st = check_path_nfc(paths[i]); !st) return st;
    if (auto [it, inserted] = keys.emplace(portable_collision_key(paths[i]), i); !inserted) {
      return violation(paths[i],
                       fmt::format("collides with \"{}\" under Unicode case folding (not portable)",
                                   escape_path_for_message(paths[it->second])));
    }
  }
  // A file whose folded path is a directory of another: "ß" next to "SS/x". The base check
  // covered the narrower collision key; this one folds every script.
  std::unordered_map<std::string, std::size_t> dirs;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const std::string key = portable_collision_key(paths[i]);
    for (std::size_t slash = key.find('/'); slash != std::string::npos;
         slash = key.find('/', slash + 1)) {
      dirs.emplace(key.substr(0, slash), i);
    }
  }
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const auto it = dirs.find(portable_collision_key(paths[i]));
    if (it != dirs.end()) {
      return violation(paths[i], fmt::format("is a file but also a directory of \"{}\" under "
                                             "Unicode case folding (not portable)",
                                             escape_path_for_message(paths[it->second])));
    }
  }
  return {};
}

}  // namespace weights
