#include "core/trust/release_manifest.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/util/encoding.hpp"
#include "core/util/json.hpp"
#include "core/util/time.hpp"

namespace weights {
namespace {

using json::Json;

tl::unexpected<Error> schema(std::string_view where, std::string_view what) {
  return fail(Errc::schema_error, fmt::format("{}: {}", where, what));
}

bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool is_model_part(std::string_view s) {
  if (s.empty() || s.size() > 96) return false;
  if (!std::all_of(s.begin(), s.end(), is_id_char)) return false;
  if (s.front() == '.' || s.front() == '-' || s.back() == '.' || s.back() == '-') return false;
  return s.find("..") == std::string_view::npos;
}

bool is_printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
}

bool is_valid_alias(std::string_view alias) {
  const auto slash = alias.find('/');
  if (slash == std::string_view::npos) return is_model_part(alias);
  return is_valid_model_id(alias);
}

// http(s)://host... with no whitespace or control characters; the rest is the URL's business.
bool is_url_with_scheme(std::string_view url, std::initializer_list<std::string_view> schemes) {
  if (url.size() > 2048 || !is_printable_ascii(url) || url.find(' ') != std::string_view::npos) {
    return false;
  }
  for (const auto scheme : schemes) {
    if (url.starts_with(scheme) && url.size() > scheme.size() && url[scheme.size()] != '/') {
      return true;
    }
  }
  return false;
}

bool is_power_of_two(std::uint64_t n) {
  return n != 0 && (n & (n - 1)) == 0;
}

Status check_hex(std::string_view value, std::size_t bytes, std::string_view where) {
  if (!is_lower_hex(value, bytes)) {
    return schema(where, fmt::format("expected {} lowercase hex characters", bytes * 2));
  }
  return {};
}

Status check_url_list(const std::vector<std::string>& urls, std::string_view where,
                      std::initializer_list<std::string_view> schemes, std::string_view what) {
  if (urls.size() > 64) return schema(where, "more than 64 entries");
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < urls.size(); ++i) {
    const std::string at = fmt::format("{}[{}]", where, i);
    if (!is_url_with_scheme(urls[i], schemes)) return schema(at, fmt::format("expected {}", what));
    if (!seen.insert(urls[i]).second) return schema(at, "duplicate entry");
  }
  return {};
}

Result<std::vector<std::string>> get_string_array(const Json& obj, std::string_view key,
                                                  std::string_view where) {
  std::vector<std::string> out;
  if (!json::has_field(obj, key)) return out;  // optional lists default to empty
  auto arr = json::get_array(obj, key, where);
  if (!arr) return tl::unexpected(arr.error());
  for (std::size_t i = 0; i < (*arr)->size(); ++i) {
    const Json& item = (**arr)[i];
    if (!item.is_string()) {
      return schema(fmt::format("{}.{}[{}]", where, key, i), "expected a string");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

// Unwraps a Result into `out`, returning the error from the enclosing function otherwise.
#define WEIGHTS_TRY_ASSIGN(out, expr)                                            \
  do {                                                                           \
    auto weights_try_r = (expr);                                                 \
    if (!weights_try_r) return tl::unexpected(std::move(weights_try_r.error())); \
    (out) = std::move(*weights_try_r);                                           \
  } while (false)

Result<ReleaseFile> parse_file(const Json& item, const std::string& where) {
  if (!item.is_object()) return schema(where, "expected an object");
  ReleaseFile f;
  WEIGHTS_TRY_ASSIGN(f.path, json::get_string(item, "path", where));
  WEIGHTS_TRY_ASSIGN(f.length, json::get_uint(item, "length", where));
  WEIGHTS_TRY_ASSIGN(f.sha256, json::get_string(item, "sha256", where));
  if (json::has_field(item, "bt_root")) {
    WEIGHTS_TRY_ASSIGN(f.bt_root, json::get_string(item, "bt_root", where));
    if (f.bt_root.empty()) return schema(where + ".bt_root", "must be absent, not empty");
  }
  if (json::has_field(item, "git_oid")) {
    std::string oid;
    WEIGHTS_TRY_ASSIGN(oid, json::get_string(item, "git_oid", where));
    f.git_oid = std::move(oid);
  }
  return f;
}

Result<ReleaseManifest> from_json(const Json& doc) {
  if (!doc.is_object()) return schema("(root)", "expected an object");
  ReleaseManifest m;
  std::string type;
  WEIGHTS_TRY_ASSIGN(type, json::get_string(doc, "_type", ""));
  if (type != release_manifest_type) {
    return schema("_type", fmt::format("expected \"{}\"", release_manifest_type));
  }
  WEIGHTS_TRY_ASSIGN(m.model, json::get_string(doc, "model", ""));
  WEIGHTS_TRY_ASSIGN(m.aliases, get_string_array(doc, "aliases", ""));
  WEIGHTS_TRY_ASSIGN(m.revision, json::get_string(doc, "revision", ""));
  WEIGHTS_TRY_ASSIGN(m.release_seq, json::get_uint(doc, "release_seq", ""));
  WEIGHTS_TRY_ASSIGN(m.license, json::get_string(doc, "license", ""));
  WEIGHTS_TRY_ASSIGN(m.published, json::get_string(doc, "published", ""));
  const Json* files = nullptr;
  WEIGHTS_TRY_ASSIGN(files, json::get_array(doc, "files", ""));
  if (files->size() > max_release_files) {
    return fail(Errc::too_large, fmt::format("files: more than {} entries", max_release_files));
  }
  m.files.reserve(files->size());
  for (std::size_t i = 0; i < files->size(); ++i) {
    ReleaseFile f;
    WEIGHTS_TRY_ASSIGN(f, parse_file((*files)[i], fmt::format("files[{}]", i)));
    m.files.push_back(std::move(f));
  }
  WEIGHTS_TRY_ASSIGN(m.total_length, json::get_uint(doc, "total_length", ""));
  const Json* torrent = nullptr;
  WEIGHTS_TRY_ASSIGN(torrent, json::get_object(doc, "torrent", ""));
  WEIGHTS_TRY_ASSIGN(m.torrent.v2_infohash, json::get_string(*torrent, "v2_infohash", "torrent"));
  WEIGHTS_TRY_ASSIGN(m.torrent.v1_infohash, json::get_string(*torrent, "v1_infohash", "torrent"));
  WEIGHTS_TRY_ASSIGN(m.torrent.piece_length, json::get_uint(*torrent, "piece_length", "torrent"));
  WEIGHTS_TRY_ASSIGN(m.torrent.web_seeds, get_string_array(*torrent, "web_seeds", "torrent"));
  WEIGHTS_TRY_ASSIGN(m.torrent.trackers, get_string_array(*torrent, "trackers", "torrent"));
  const Json* upstream = nullptr;
  WEIGHTS_TRY_ASSIGN(upstream, json::get_object(doc, "upstream", ""));
  WEIGHTS_TRY_ASSIGN(m.upstream.kind, json::get_string(*upstream, "kind", "upstream"));
  WEIGHTS_TRY_ASSIGN(m.upstream.repo, json::get_string(*upstream, "repo", "upstream"));
  return m;
}

#undef WEIGHTS_TRY_ASSIGN

}  // namespace

bool is_valid_model_id(std::string_view model) {
  const auto slash = model.find('/');
  if (slash == std::string_view::npos) return false;
  return is_model_part(model.substr(0, slash)) && is_model_part(model.substr(slash + 1));
}

bool is_valid_revision(std::string_view revision) {
  if (revision.empty() || revision.size() > 128) return false;
  if (revision.front() == '.' || revision.front() == '-') return false;  // ".", "..", "-flag"
  return std::all_of(revision.begin(), revision.end(), is_id_char);
}

Status validate_release_manifest(const ReleaseManifest& m) {
  if (!is_valid_model_id(m.model)) {
    return schema("model", "expected \"org/name\" of [A-Za-z0-9._-] (1..96 each)");
  }
  std::set<std::string_view> aliases;
  for (std::size_t i = 0; i < m.aliases.size(); ++i) {
    const std::string at = fmt::format("aliases[{}]", i);
    if (!is_valid_alias(m.aliases[i])) {
      return schema(at, "expected \"name\" or \"org/name\" of [A-Za-z0-9._-]");
    }
    if (!aliases.insert(m.aliases[i]).second) return schema(at, "duplicate alias");
  }
  if (m.aliases.size() > 64) return schema("aliases", "more than 64 entries");
  if (!is_valid_revision(m.revision)) {
    return schema("revision",
                  "expected 1..128 bytes of [A-Za-z0-9._-], not starting with '.' or '-'");
  }
  if (m.release_seq > json::max_safe_integer) return schema("release_seq", "exceeds 2^53");
  if (m.license.empty() || m.license.size() > 128 || !is_printable_ascii(m.license)) {
    return schema("license", "expected 1..128 printable ASCII characters");
  }
  if (!parse_utc(m.published)) return schema("published", "expected YYYY-MM-DDTHH:MM:SSZ");

  if (m.files.empty()) return schema("files", "a release has at least one file");
  if (m.files.size() > max_release_files) {
    return fail(Errc::too_large, fmt::format("files: more than {} entries", max_release_files));
  }
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    const ReleaseFile& f = m.files[i];
    const std::string at = fmt::format("files[{}]", i);
    if (auto st = check_path(f.path); !st)
      return tl::unexpected(with_context(st.error(), at + ".path"));
    if (i > 0 && !(m.files[i - 1].path < f.path)) {
      return schema(at + ".path", m.files[i - 1].path == f.path
                                      ? "duplicate path"
                                      : "files are not sorted by path (bytewise)");
    }
    if (f.length > json::max_safe_integer) return schema(at + ".length", "exceeds 2^53");
    if (auto st = check_hex(f.sha256, 32, at + ".sha256"); !st) return st;
    if (f.length == 0) {
      if (!f.bt_root.empty()) return schema(at + ".bt_root", "must be absent for an empty file");
    } else {
      if (f.bt_root.empty()) return schema(at + ".bt_root", "missing (required when length > 0)");
      if (auto st = check_hex(f.bt_root, 32, at + ".bt_root"); !st) return st;
    }
    if (f.git_oid) {
      if (auto st = check_hex(*f.git_oid, 20, at + ".git_oid"); !st) return st;
    }
    total += f.length;  // both <= 2^53 and checked below, so this cannot wrap
    if (total > json::max_safe_integer)
      return schema("total_length", "sum of lengths exceeds 2^53");
  }
  std::vector<std::string> paths;
  paths.reserve(m.files.size());
  for (const auto& f : m.files) paths.push_back(f.path);
  if (auto st = check_path_set(paths); !st)
    return tl::unexpected(with_context(st.error(), "files"));
  if (total != m.total_length) {
    return schema("total_length",
                  fmt::format("is {} but the files add up to {}", m.total_length, total));
  }

  if (auto st = check_hex(m.torrent.v2_infohash, 32, "torrent.v2_infohash"); !st) return st;
  if (auto st = check_hex(m.torrent.v1_infohash, 20, "torrent.v1_infohash"); !st) return st;
  if (!is_power_of_two(m.torrent.piece_length) || m.torrent.piece_length < min_piece_length ||
      m.torrent.piece_length > max_piece_length) {
    return schema("torrent.piece_length", "expected a power of two from 16 KiB to 64 MiB");
  }
  if (auto st = check_url_list(m.torrent.web_seeds, "torrent.web_seeds", {"https://", "http://"},
                               "an http(s) URL");
      !st) {
    return st;
  }
  if (auto st = check_url_list(m.torrent.trackers, "torrent.trackers",
                               {"https://", "http://", "udp://"}, "an http(s) or udp URL");
      !st) {
    return st;
  }

  const auto& kind = m.upstream.kind;
  if (kind.empty() || kind.size() > 32 || !std::all_of(kind.begin(), kind.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      })) {
    return schema("upstream.kind", "expected 1..32 characters of [a-z0-9_-]");
  }
  if (m.upstream.repo.empty() || m.upstream.repo.size() > 256 ||
      !is_printable_ascii(m.upstream.repo)) {
    return schema("upstream.repo", "expected 1..256 printable ASCII characters");
  }
  return {};
}

Result<ReleaseManifest> parse_release_manifest(std::string_view bytes) {
  json::Limits limits;
  limits.max_bytes = max_release_manifest_bytes;
  limits.max_depth = 8;
  auto doc = json::parse_strict(bytes, limits);
  if (!doc) return tl::unexpected(with_context(std::move(doc.error()), "release manifest"));
  auto manifest = from_json(*doc);
  if (!manifest)
    return tl::unexpected(with_context(std::move(manifest.error()), "release manifest"));
  if (auto st = validate_release_manifest(*manifest); !st) {
    return tl::unexpected(with_context(std::move(st.error()), "release manifest"));
  }
  return manifest;
}

Result<std::string> serialize_release_manifest(const ReleaseManifest& m, JsonStyle style) {
  if (auto st = validate_release_manifest(m); !st) {
    return tl::unexpected(with_context(std::move(st.error()), "release manifest"));
  }
  Json files = Json::array();
  for (const auto& f : m.files) {
    Json entry = {{"path", f.path}, {"length", f.length}, {"sha256", f.sha256}};
    if (!f.bt_root.empty()) entry["bt_root"] = f.bt_root;
    if (f.git_oid) entry["git_oid"] = *f.git_oid;
    files.push_back(std::move(entry));
  }
  const Json doc = {
      {"_type", release_manifest_type},
      {"model", m.model},
      {"aliases", m.aliases},
      {"revision", m.revision},
      {"release_seq", m.release_seq},
      {"license", m.license},
      {"published", m.published},
      {"files", std::move(files)},
      {"total_length", m.total_length},
      {"torrent",
       {{"v2_infohash", m.torrent.v2_infohash},
        {"v1_infohash", m.torrent.v1_infohash},
        {"piece_length", m.torrent.piece_length},
        {"web_seeds", m.torrent.web_seeds},
        {"trackers", m.torrent.trackers}}},
      {"upstream", {{"kind", m.upstream.kind}, {"repo", m.upstream.repo}}},
  };
  return style == JsonStyle::pretty ? json::dump_pretty(doc) : json::dump_compact(doc);
}

}  // namespace weights
