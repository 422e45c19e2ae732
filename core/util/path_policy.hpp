#pragma once
// Path policy for every relative path that comes from a manifest or torrent metadata, or that we
// write to disk (trust.md "Path policy"). A path that passes check_path can be joined under a
// store directory without escaping it and without depending on how the filesystem normalises
// names; a set that passes check_path_set can be materialised on case-insensitive and
// normalising filesystems (APFS, NTFS, ext4 casefold) without two entries landing on one file.
#include <span>
#include <string>
#include <string_view>

#include "core/util/error.hpp"

namespace weights {

// windows: additionally reject names Windows cannot create (CON, NUL.txt, COM1, "name.", "a?b").
enum class Portability { posix, windows };

inline constexpr std::size_t max_path_component_bytes = 255;
inline constexpr std::size_t max_path_bytes = 4096;

// One path: non-empty, relative, '/'-separated, canonical (no empty, "." or ".." component, no
// leading or trailing '/'), valid UTF-8 (shortest form, no surrogates, <= U+10FFFF), no C0/DEL/C1
// control characters, no '\\' or ':', no bidi controls or invisible characters (U+00AD, U+061C,
// U+180E, U+200B-U+200F, U+202A-U+202E, U+2060-U+206F, U+FEFF, U+FFF9-U+FFFB) and no
// noncharacters U+FFFE/U+FFFF; components <= 255 bytes, whole path <= 4096 bytes.
// Fails with Errc::path_policy: "path \"<escaped path>\": <rule>".
Status check_path(std::string_view path, Portability portability = Portability::posix);

// A set of file paths: every path passes check_path, and no two paths collide: exact
// duplicates, case-fold or canonical-equivalence collisions (see collision_key), or a file that
// is also a directory of another file ("a" and "a/b"), also compared by collision_key.
Status check_path_set(std::span<const std::string> paths,
                      Portability portability = Portability::posix);

// Whether `existing` plus `added` passes check_path_set (posix), for a set `existing` that
// passed it before: checks `added` as a set and every added path against every existing one,
// without building keys for the existing ASCII paths (linear in existing, no allocation each).
Status check_path_set_growth(std::span<const std::string_view> existing,
                             std::span<const std::string> added);

// Key under which two paths are considered the same file. It is the path with ASCII letters
// lowercased, and Latin-1, Latin Extended-A/B and Additional, Greek and Cyrillic letters
// lowercased and canonically decomposed (so "é" U+00E9, "e"+U+0301 and "É" share a key), with
// runs of combining marks U+0300-U+036F put in canonical order. Scripts outside those blocks
// are compared byte-for-byte (no full Unicode case folding or normalisation). Requires valid
// UTF-8 (check_path first).
std::string collision_key(std::string_view path);

// Strict UTF-8 (RFC 3629): shortest form, no surrogates, at most U+10FFFF.
bool is_valid_utf8(std::string_view text);

inline constexpr std::size_t max_feed_name_bytes = 64;
// A feed name, wherever it comes from (POST /v1/feeds, weights-export.json, --feed): 1..64 bytes
// of [A-Za-z0-9._-] starting with a letter or digit, so it can never be a path ("..", "a/b"),
// an option ("-x") or carry a control character into a log or terminal. Fails with
// Errc::invalid_argument naming the escaped name.
Status check_feed_name(std::string_view name);

// What a consumer asks of file paths beyond the base rules above (docs/manifest-format.md §7.2):
//  standard: check_path/check_path_set with Portability::posix (the default);
//  portable: additionally Portability::windows, every path in Unicode Normalization Form C
//            (check_path_nfc), and no two paths equal after full Unicode case folding
//            (portable_collision_key).
enum class PathPolicy { standard, portable };
std::string_view path_policy_name(PathPolicy policy);
// "standard" or "portable"; anything else is Errc::invalid_argument naming both.
Result<PathPolicy> parse_path_policy(std::string_view name);

// The path is in NFC under the Unicode version of the linked utf8proc (15.0 with Debian 12's
// 2.8.0) and contains no code point unassigned in that version (an unassigned code point may
// later gain a decomposition, so its NFC status is unknown). Requires valid UTF-8 (check_path
// first). Errc::path_policy naming the path.
Status check_path_nfc(std::string_view path);

// NFD(full case fold(NFD(path))), Unicode full case folding (CaseFolding.txt C+F) of every
// script: "Straße"/"STRASSE", "ǅ"/"ǆ" and Cherokee "Ꭰ"/"ꭰ" share a key. Requires valid
// UTF-8.
std::string portable_collision_key(std::string_view path);

// check_path_set under `policy`; portable adds the rules above to every path and the set.
Status check_path_set(std::span<const std::string> paths, PathPolicy policy);

// The Unicode version the NFC and case-folding rules use ("15.0.0").
std::string_view path_policy_unicode_version();

// Renders a path for error messages: printable ASCII kept, everything else as \xNN, quotes and
// backslashes escaped, cut at 200 bytes. Never lets a hostile path inject terminal controls.
std::string escape_path_for_message(std::string_view path);

}  // namespace weights
