#include "core/catalog/catalog.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/toml/toml_read.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/encoding.hpp"
#include "core/util/path_policy.hpp"

namespace weights::catalog {

std::string_view confidence_name(Confidence c) noexcept {
  switch (c) {
    case Confidence::high:
      return "high";
    case Confidence::medium_high:
      return "medium-high";
    case Confidence::medium:
      return "medium";
  }
  return "medium";
}

std::string Location::to_string() const {
  return fmt::format("{}:{}", file, line);
}

std::vector<std::string> Entry::all_aliases() const {
  std::vector<std::string> out;
  if (is_default) out.push_back(family);
  out.push_back(fmt::format("{}:{}", family, variant));
  out.insert(out.end(), aliases.begin(), aliases.end());
  return out;
}

namespace {

bool is_name_part(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  const auto ok = [](char c, bool first) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
    return !first && (c == '.' || c == '_' || c == '-');
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!ok(s[i], i == 0)) return false;
  }
  return true;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_https_url(std::string_view s) {
  if (s.size() <= 8 || s.size() > 2048 || s.substr(0, 8) != "https://") return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// ---- strict TOML reading ------------------------------------------------------------------------

struct Ctx {
  std::string_view source;
};

int line_of(const toml::node& n) {
  return static_cast<int>(n.source().begin.line);
}

tl::unexpected<Error> schema_at(const Ctx& c, int line, std::string_view key, std::string message,
                                std::string hint = {}) {
  return fail(Errc::schema_error,
              key.empty() ? fmt::format("{}:{}: {}", c.source, line, message)
                          : fmt::format("{}:{}: {}: {}", c.source, line, key, message),
              std::move(hint));
}

using toml_read::type_name;

// The keys of one table, checked against the allowed set; each value is found by name later.
Status check_keys(const Ctx& c, const toml::table& t, std::string_view where,
                  std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, node] : t) {
    const std::string_view k = key.str();
    if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
    std::string valid;
    for (auto a : allowed) valid += fmt::format("{}{}", valid.empty() ? "" : ", ", a);
    int line = static_cast<int>(key.source().begin.line);
    if (line == 0) line = line_of(node);
    return schema_at(c, line, where.empty() ? std::string(k) : fmt::format("{}.{}", where, k),
                     "unknown key", fmt::format("valid keys here: {}", valid));
  }
  return {};
}

int key_line(const toml::table& t, std::string_view key, int fallback) {
  const auto it = t.find(key);
  if (it == t.end()) return fallback;
  const int line = static_cast<int>(it->first.source().begin.line);
  return line != 0 ? line : line_of(it->second);
}

Result<std::optional<std::string>> opt_string(const Ctx& c, const toml::table& t,
                                              std::string_view key, std::string_view where,
                                              int fallback_line) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return std::optional<std::string>{};
  const auto* s = n->as_string();
  const std::string name = where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
  if (s == nullptr) {
    return schema_at(c, key_line(t, key, fallback_line), name,
                     fmt::format("expected a string, found {}", type_name(*n)));
  }
  if (!is_valid_utf8(s->get()) || s->get().size() > 4096) {
    return schema_at(c, key_line(t, key, fallback_line), name,
                     "not valid UTF-8 or longer than 4096 bytes");
  }
  return std::optional<std::string>(s->get());
}

Result<std::string> req_string(const Ctx& c, const toml::table& t, std::string_view key,
                               std::string_view where, int table_line) {
  auto v = opt_string(c, t, key, where, table_line);
  if (!v) return tl::unexpected(v.error());
  if (!*v) {
    return schema_at(c, table_line, where.empty() ? std::string(key) : std::string(where),
                     fmt::format("missing required key '{}'", key));
  }
  return std::move(**v);
}

// A key's value checked by `ok`; `what` says what was expected.
template <class Pred>
Status check_value(const Ctx& c, const toml::table& t, std::string_view key, std::string_view where,
                   int fallback_line, const std::string& value, Pred ok, std::string_view what,
                   std::string hint = {}) {
  if (ok(value)) return {};
  return schema_at(c, key_line(t, key, fallback_line),
                   where.empty() ? std::string(key) : fmt::format("{}.{}", where, key),
                   fmt::format("'{}' is not {}", value, what), std::move(hint));
}

bool is_commit(std::string_view s) {
  return is_lower_hex(s, 20);
}

Result<Source> read_source(const Ctx& c, const toml::table& t, std::string_view where) {
  const int line = line_of(t);
  if (auto st = check_keys(c, t, where, {"url", "repo", "path", "quote", "confidence"}); !st) {
    return tl::unexpected(st.error());
  }
  Source s;
  auto url = opt_string(c, t, "url", where, line);
  auto repo = opt_string(c, t, "repo", where, line);
  auto path = opt_string(c, t, "path", where, line);
  auto quote = opt_string(c, t, "quote", where, line);
  for (auto* r : {&url, &repo, &path, &quote}) {
    if (!*r) return tl::unexpected(r->error());
  }
  s.url = url->value_or("");
  s.repo = repo->value_or("");
  s.path = path->value_or("");
  s.quote = quote->value_or("");
  if (!s.url.empty()) {
    if (auto st = check_value(c, t, "url", where, line, s.url, is_https_url, "an https:// URL");
        !st) {
      return tl::unexpected(st.error());
    }
  }
  if (!s.repo.empty()) {
    if (auto st = check_value(c, t, "repo", where, line, s.repo, is_valid_model_id,
                              "a repository (\"owner/name\")");
        !st) {
      return tl::unexpected(st.error());
    }
  }
  if (s.repo.empty() != s.path.empty()) {
    return schema_at(c, line, where, "'repo' and 'path' go together");
  }
  if (s.url.empty() && s.repo.empty() && s.quote.empty()) {
    return schema_at(c, line, where, "names no evidence",
                     "give a url, a repo and path, or a quote of the public text");
  }
  auto conf = req_string(c, t, "confidence", where, line);
  if (!conf) return tl::unexpected(conf.error());
  if (*conf == "high") {
    s.confidence = Confidence::high;
  } else if (*conf == "medium-high") {
    s.confidence = Confidence::medium_high;
  } else if (*conf == "medium") {
    s.confidence = Confidence::medium;
  } else {
    return schema_at(c, key_line(t, "confidence", line), fmt::format("{}.confidence", where),
                     fmt::format("'{}' is not high, medium-high or medium", *conf));
  }
  return s;
}

Result<File> read_file_entry(const Ctx& c, const toml::table& t, std::string_view where) {
  const int line = line_of(t);
  if (auto st = check_keys(c, t, where, {"path", "size", "sha256", "git_sha1"}); !st) {
    return tl::unexpected(st.error());
  }
  File f;
  auto path = req_string(c, t, "path", where, line);
  if (!path) return tl::unexpected(path.error());
  f.path = std::move(*path);
  if (auto st = check_path(f.path); !st) {
    return schema_at(c, key_line(t, "path", line), fmt::format("{}.path", where),
                     st.error().message);
  }
  if (const toml::node* n = t.get("size")) {
    const auto* i = n->as_integer();
    if (i == nullptr || i->get() < 0) {
      return schema_at(c, key_line(t, "size", line), fmt::format("{}.size", where),
                       i == nullptr ? fmt::format("expected an integer, found {}", type_name(*n))
                                    : "must not be negative");
    }
    f.size = static_cast<std::uint64_t>(i->get());
  }
  auto sha = opt_string(c, t, "sha256", where, line);
  if (!sha) return tl::unexpected(sha.error());
  auto sha1 = opt_string(c, t, "git_sha1", where, line);
  if (!sha1) return tl::unexpected(sha1.error());
  f.sha256 = sha->value_or("");
  f.git_sha1 = sha1->value_or("");
  if (!f.sha256.empty()) {
    if (auto st = check_value(
            c, t, "sha256", where, line, f.sha256,
            [](const std::string& v) { return is_lower_hex(v, 32); }, "64 lowercase hex digits");
        !st) {
      return tl::unexpected(st.error());
    }
  }
  if (!f.git_sha1.empty()) {
    if (auto st = check_value(c, t, "git_sha1", where, line, f.git_sha1, is_commit,
                              "40 lowercase hex digits");
        !st) {
      return tl::unexpected(st.error());
    }
  }
  if (!f.size && f.sha256.empty() && f.git_sha1.empty()) {
    return schema_at(c, line, where, "says nothing about the file",
                     "give its size, sha256 or git_sha1");
  }
  return f;
}

// An array of tables (`[[model.source]]`): each element checked by `read`.
template <class T, class Read>
Result<std::vector<T>> read_table_array(const Ctx& c, const toml::table& t, std::string_view key,
                                        std::string_view where, int fallback_line, Read read) {
  std::vector<T> out;
  const toml::node* n = t.get(key);
  if (n == nullptr) return out;
  const std::string name = where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
  const auto* arr = n->as_array();
  if (arr == nullptr) {
    return schema_at(
        c, key_line(t, key, fallback_line), name,
        fmt::format("expected an array of tables ([[{}]]), found {}", name, type_name(*n)));
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const auto* sub = (*arr)[i].as_table();
    const std::string at = fmt::format("{}[{}]", name, i);
    if (sub == nullptr) {
      return schema_at(c, line_of((*arr)[i]), at,
                       fmt::format("expected a table, found {}", type_name((*arr)[i])));
    }
    auto v = read(c, *sub, at);
    if (!v) return tl::unexpected(v.error());
    out.push_back(std::move(*v));
  }
  return out;
}

Result<Entry> read_entry(const Ctx& c, const toml::table& t, std::string_view where) {
  const int line = line_of(t);
  if (auto st = check_keys(
          c, t, where,
          {"id", "variant", "aliases", "upstream", "repo", "commit", "license", "license_url",
           "gated", "note", "source", "files", "files_complete", "info_hash_v2"});
      !st) {
    return tl::unexpected(st.error());
  }
  Entry e;
  e.where = Location{std::string(c.source), line};
  auto take = [&](std::string_view key, std::string& out, bool required) -> Status {
    if (required) {
      auto v = req_string(c, t, key, where, line);
      if (!v) return tl::unexpected(v.error());
      out = std::move(*v);
    } else {
      auto v = opt_string(c, t, key, where, line);
      if (!v) return tl::unexpected(v.error());
      out = v->value_or("");
    }
    return {};
  };
  for (auto [key, out, required] :
       {std::tuple<std::string_view, std::string*, bool>{"id", &e.id, true},
        {"variant", &e.variant, true},
        {"upstream", &e.upstream, true},
        {"repo", &e.repo, true},
        {"commit", &e.commit, true},
        {"license", &e.license, true},
        {"license_url", &e.license_url, false},
        {"note", &e.note, false},
        {"info_hash_v2", &e.info_hash_v2, false}}) {
    if (auto st = take(key, *out, required); !st) return tl::unexpected(st.error());
  }
  const auto id_ok = [](const std::string& v) { return is_valid_model_id(v); };
  if (auto st = check_value(c, t, "id", where, line, e.id, id_ok, "a model id (\"ORG/NAME\")",
                            "each part: letters, digits, '.', '_' or '-'");
      !st) {
    return tl::unexpected(st.error());
  }
  if (auto st = check_value(c, t, "variant", where, line, e.variant, is_name_part,
                            "a variant name ([a-z0-9][a-z0-9._-]*, at most 64 bytes)");
      !st) {
    return tl::unexpected(st.error());
  }
  if (auto st = check_value(
          c, t, "upstream", where, line, e.upstream,
          [](const std::string& v) { return v == "huggingface"; }, "a known upstream",
          "the one upstream is \"huggingface\"");
      !st) {
    return tl::unexpected(st.error());
  }
  if (auto st =
          check_value(c, t, "repo", where, line, e.repo, id_ok, "a repository id (\"ORG/NAME\")");
      !st) {
    return tl::unexpected(st.error());
  }
  if (auto st = check_value(c, t, "commit", where, line, e.commit, is_commit,
                            "a full commit id (40 lowercase hex digits)",
                            "copy the whole commit id; short or branch names are not pins");
      !st) {
    return tl::unexpected(st.error());
  }
  if (auto st = check_value(
          c, t, "license", where, line, e.license,
          [](const std::string& v) { return !v.empty() && v.size() <= 128; },
          "a licence (an SPDX id, a licence name or \"unknown\")");
      !st) {
    return tl::unexpected(st.error());
  }
  if (!e.license_url.empty()) {
    if (auto st = check_value(c, t, "license_url", where, line, e.license_url, is_https_url,
                              "an https:// URL");
        !st) {
      return tl::unexpected(st.error());
    }
  }
  if (!e.info_hash_v2.empty()) {
    if (auto st = check_value(
            c, t, "info_hash_v2", where, line, e.info_hash_v2,
            [](const std::string& v) { return is_lower_hex(v, 32); }, "64 lowercase hex digits");
        !st) {
      return tl::unexpected(st.error());
    }
  }
  for (auto [key, out] : {std::pair<std::string_view, bool*>{"files_complete", &e.files_complete},
                          {"gated", nullptr}}) {
    const toml::node* n = t.get(key);
    if (n == nullptr) continue;
    const auto* b = n->as_boolean();
    if (b == nullptr) {
      return schema_at(c, key_line(t, key, line), fmt::format("{}.{}", where, key),
                       fmt::format("expected true or false, found {}", type_name(*n)));
    }
    if (out != nullptr) {
      *out = b->get();
    } else {
      e.gated = b->get();
    }
  }
  if (const toml::node* n = t.get("aliases")) {
    const auto* arr = n->as_array();
    if (arr == nullptr) {
      return schema_at(c, key_line(t, "aliases", line), fmt::format("{}.aliases", where),
                       fmt::format("expected an array of strings, found {}", type_name(*n)));
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto* s = (*arr)[i].as_string();
      const int at_line =
          line_of((*arr)[i]) != 0 ? line_of((*arr)[i]) : key_line(t, "aliases", line);
      const std::string at = fmt::format("{}.aliases[{}]", where, i);
      if (s == nullptr) {
        return schema_at(c, at_line, at,
                         fmt::format("expected a string, found {}", type_name((*arr)[i])));
      }
      if (!is_valid_alias(s->get())) {
        return schema_at(c, at_line, at, fmt::format("'{}' is not an alias", s->get()),
                         "an alias is NAME or NAME:VARIANT, each [a-z0-9][a-z0-9._-]*");
      }
      e.aliases.push_back(s->get());
    }
  }
  auto sources = read_table_array<Source>(c, t, "source", where, line, read_source);
  if (!sources) return tl::unexpected(sources.error());
  e.sources = std::move(*sources);
  if (e.sources.empty()) {
    return schema_at(c, line, where, "no [[model.source]]",
                     "every entry cites the public evidence for its commit id");
  }
  auto files = read_table_array<File>(c, t, "files", where, line, read_file_entry);
  if (!files) return tl::unexpected(files.error());
  e.files = std::move(*files);
  std::set<std::string> keys;
  for (std::size_t i = 0; i < e.files.size(); ++i) {
    if (!keys.insert(collision_key(e.files[i].path)).second) {
      return schema_at(c, line, fmt::format("{}.files[{}]", where, i),
                       fmt::format("'{}' is listed twice", e.files[i].path));
    }
  }
  return e;
}

}  // namespace

bool is_valid_family(std::string_view family) {
  return is_name_part(family);
}

bool is_valid_alias(std::string_view alias) {
  const auto colon = alias.find(':');
  if (colon == std::string_view::npos) return is_name_part(alias);
  return is_name_part(alias.substr(0, colon)) && is_name_part(alias.substr(colon + 1));
}

Result<CatalogFile> parse_catalog(std::string_view text, std::string_view source_name) {
  if (text.size() > max_file_bytes) {
    return fail(Errc::too_large,
                fmt::format("{}: larger than {} bytes", source_name, max_file_bytes));
  }
  const Ctx c{source_name};
  auto parsed = toml_read::parse(text, source_name);
  if (!parsed) return tl::unexpected(parsed.error());
  const toml::table& doc = *parsed;
  if (auto st = check_keys(c, doc, "", {"schema", "family", "default", "description", "model"});
      !st) {
    return tl::unexpected(st.error());
  }
  const toml::node* schema = doc.get("schema");
  if (schema == nullptr) {
    return schema_at(c, 1, "", "missing required key 'schema'",
                     fmt::format("start the file with: schema = {}", schema_version));
  }
  if (schema->as_integer() == nullptr || schema->as_integer()->get() != schema_version) {
    return schema_at(
        c, key_line(doc, "schema", 1), "schema",
        fmt::format("unsupported schema (this weightsctl reads schema {})", schema_version));
  }
  CatalogFile f;
  f.path = std::string(source_name);
  auto family = req_string(c, doc, "family", "", 1);
  if (!family) return tl::unexpected(family.error());
  f.family = std::move(*family);
  if (auto st = check_value(c, doc, "family", "", 1, f.family, is_name_part,
                            "a family alias ([a-z0-9][a-z0-9._-]*, at most 64 bytes)");
      !st) {
    return tl::unexpected(st.error());
  }
  auto def = req_string(c, doc, "default", "", 1);
  if (!def) return tl::unexpected(def.error());
  f.default_variant = std::move(*def);
  auto desc = opt_string(c, doc, "description", "", 1);
  if (!desc) return tl::unexpected(desc.error());
  f.description = desc->value_or("");

  auto entries = read_table_array<Entry>(c, doc, "model", "", 1, read_entry);
  if (!entries) return tl::unexpected(entries.error());
  f.entries = std::move(*entries);
  if (f.entries.empty()) {
    return schema_at(c, 1, "", "no [[model]] entries");
  }

  // Within one file: ids, variants and aliases are unique.
  std::map<std::string, const Entry*> ids, variants;
  std::map<std::string, const Entry*> aliases;
  bool default_found = false;
  for (auto& e : f.entries) {
    e.family = f.family;
    e.is_default = e.variant == f.default_variant;
    default_found = default_found || e.is_default;
  }
  for (const auto& e : f.entries) {
    if (auto [it, fresh] = ids.emplace(e.id, &e); !fresh) {
      return schema_at(
          c, e.where.line, "id",
          fmt::format("'{}' is already defined at line {}", e.id, it->second->where.line));
    }
    if (auto [it, fresh] = variants.emplace(e.variant, &e); !fresh) {
      return schema_at(c, e.where.line, "variant",
                       fmt::format("'{}' is already the variant of {} (line {})", e.variant,
                                   it->second->id, it->second->where.line));
    }
    for (const auto& a : e.all_aliases()) {
      if (auto [it, fresh] = aliases.emplace(a, &e); !fresh) {
        return schema_at(c, e.where.line, "aliases",
                         fmt::format("alias '{}' is defined twice in this file (line {} and "
                                     "line {})",
                                     a, it->second->where.line, e.where.line));
      }
    }
  }
  if (!default_found) {
    return schema_at(c, key_line(doc, "default", 1), "default",
                     fmt::format("no [[model]] has variant '{}'", f.default_variant),
                     "the family alias needs a default variant defined in this file");
  }
  return f;
}

Result<CatalogFile> read_catalog_file(const std::filesystem::path& file) {
  auto text = read_file(file, max_file_bytes);
  if (!text) return tl::unexpected(with_context(text.error(), file.string()));
  return parse_catalog(*text, file.string());
}

CatalogPaths default_catalog_paths(const std::filesystem::path& exe, const GetEnv& env) {
  namespace fs = std::filesystem;
  CatalogPaths p;
  std::error_code ec;
  const auto is_dir = [&ec](const fs::path& d) { return fs::is_directory(d, ec); };
  if (!exe.empty()) {
    const fs::path bin = exe.parent_path();
    const fs::path installed = (bin.parent_path() / "share" / "weightsd" / "catalog");
    if (is_dir(installed)) {
      p.dirs.push_back({"shipped", installed.lexically_normal()});
    }
#if defined(WEIGHTS_BUILD_DIR) && defined(WEIGHTS_SOURCE_DIR)
    else {
      // A binary run from the build tree it was built in reads the source tree's catalog.
      const fs::path build = fs::weakly_canonical(WEIGHTS_BUILD_DIR, ec);
      const fs::path here = fs::weakly_canonical(bin, ec);
      const auto rel = here.lexically_relative(build);
      const fs::path source_catalog = fs::path(WEIGHTS_SOURCE_DIR) / "manifests" / "catalog";
      if (!build.empty() && !rel.empty() && *rel.begin() != ".." && is_dir(source_catalog)) {
        p.dirs.push_back({"shipped", source_catalog});
      }
    }
#endif
  }
  if (is_dir("/etc/weightsd/catalog.d")) p.dirs.push_back({"system", "/etc/weightsd/catalog.d"});
  fs::path config;
  if (auto v = env("XDG_CONFIG_HOME"); v && !v->empty() && fs::path(*v).is_absolute()) {
    config = *v;
  } else if (auto h = env("HOME"); h && !h->empty()) {
    config = fs::path(*h) / ".config";
  }
  if (!config.empty() && is_dir(config / "weightsd" / "catalog.d")) {
    p.dirs.push_back({"user", config / "weightsd" / "catalog.d"});
  }
  return p;
}

Catalog::LayerDefs Catalog::build_layer(const std::string& layer, std::vector<CatalogFile> files) {
  LayerDefs d;
  for (auto& f : files) {
    // A file whose ids another file of this layer already defines is refused whole: which of
    // the two is meant cannot be known.
    const Entry* clash = nullptr;
    const Entry* first = nullptr;
    for (const auto& e : f.entries) {
      if (auto it = d.ids.find(e.id); it != d.ids.end()) {
        clash = &e;
        first = &it->second;
        break;
      }
    }
    if (clash != nullptr) {
      problems_.push_back(
          Error{Errc::schema_error,
                fmt::format("{}: id: '{}' is already defined at {}; file skipped",
                            clash->where.to_string(), clash->id, first->where.to_string()),
                "define each id once per catalog directory"});
      continue;
    }
    files_.push_back(f.path);
    for (auto& e : f.entries) {
      e.layer = layer;
      for (const auto& a : e.all_aliases()) {
        auto [it, fresh] = d.aliases.emplace(a, AliasDef{e.id, e.where, layer, {}, {}});
        if (fresh || it->second.id == e.id) continue;
        it->second.conflicts.push_back(e.where);
        it->second.conflict_ids.push_back(e.id);
        problems_.push_back(Error{
            Errc::schema_error,
            fmt::format("{}: alias '{}' names {} but {} defines it as {}; the alias is ambiguous",
                        e.where.to_string(), a, e.id, it->second.where.to_string(), it->second.id),
            "define each alias once per catalog directory, or override it in a later one"});
      }
      std::string id = e.id;
      d.ids.emplace(std::move(id), std::move(e));
    }
  }
  return d;
}

void Catalog::apply(LayerDefs defs) {
  // Later layers replace earlier ones: entries by id, aliases by name.
  for (auto& [id, e] : defs.ids) {
    ambiguous_ids_.erase(id);
    by_id_.insert_or_assign(id, std::move(e));
  }
  for (auto& [a, def] : defs.aliases) aliases_.insert_or_assign(a, std::move(def));
}

void Catalog::add_layer(const std::string& layer, std::vector<CatalogFile> files) {
  apply(build_layer(layer, std::move(files)));
}

namespace {

// Two feeds name "the same release" for an id when everything a fetch takes from the entry
// agrees; then which feed's entry is used does not matter.
bool same_release(const Entry& a, const Entry& b) {
  return a.upstream == b.upstream && a.repo == b.repo && a.commit == b.commit &&
         a.license == b.license && a.license_url == b.license_url && a.gated == b.gated &&
         a.info_hash_v2 == b.info_hash_v2;
}

}  // namespace

void Catalog::add_feed_tier(std::vector<std::pair<std::string, std::vector<CatalogFile>>> feeds) {
  LayerDefs tier;
  std::map<std::string, std::string> conflicts;  // id -> what the feeds say
  for (auto& [layer, files] : feeds) {
    LayerDefs d = build_layer(layer, std::move(files));
    for (auto& [id, e] : d.ids) {
      if (auto c = conflicts.find(id); c != conflicts.end()) {
        c->second += fmt::format(", {} ({} commit {})", e.where.to_string(), e.layer, e.commit);
        continue;
      }
      auto it = tier.ids.find(id);
      if (it == tier.ids.end()) {
        tier.ids.emplace(id, std::move(e));
        continue;
      }
      if (same_release(it->second, e)) continue;  // the first feed's entry stays
      std::string says =
          fmt::format("{} ({} commit {}), {} ({} commit {})", it->second.where.to_string(),
                      it->second.layer, it->second.commit, e.where.to_string(), e.layer, e.commit);
      problems_.push_back(
          Error{Errc::schema_error,
                fmt::format("id '{}' is defined differently by two feeds: {}; the id is ambiguous",
                            id, says),
                "pin it in /etc/weightsd/catalog.d, or stop following one of the feeds"});
      conflicts.emplace(id, std::move(says));
      tier.ids.erase(it);
    }
    for (auto& [a, def] : d.aliases) {
      auto [it, fresh] = tier.aliases.emplace(a, def);
      if (fresh || it->second.id == def.id) continue;
      it->second.conflicts.push_back(def.where);
      it->second.conflict_ids.push_back(def.id);
      problems_.push_back(Error{
          Errc::schema_error,
          fmt::format("{}: alias '{}' names {} but {} defines it as {}; the alias is ambiguous",
                      def.where.to_string(), a, def.id, it->second.where.to_string(),
                      it->second.id),
          "pin the alias in /etc/weightsd/catalog.d, or stop following one of the feeds"});
    }
  }
  apply(std::move(tier));
  // An id the feeds disagree on resolves to nothing, not to an earlier layer's entry: which
  // commit is meant is not known. A later layer that defines it settles it (apply()).
  for (auto& [id, says] : conflicts) {
    by_id_.erase(id);
    ambiguous_ids_.insert_or_assign(id, std::move(says));
  }
}

Result<std::vector<std::filesystem::path>> catalog_files(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::vector<fs::path> names;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec == std::errc::no_such_file_or_directory) return names;
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const auto& p = it->path();
    const std::string name = p.filename().string();
    if (p.extension() == ".toml" && name.front() != '.') names.push_back(p);
  }
  if (ec) {
    return fail(Errc::io_error, fmt::format("{}: cannot read the catalog directory: {}",
                                            dir.string(), ec.message()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool is_feed_layer(std::string_view layer) {
  return layer.starts_with("feed:");
}

Catalog Catalog::load(const CatalogPaths& paths) {
  Catalog cat;
  const auto read_dir = [&cat](const CatalogDir& d) {
    std::vector<CatalogFile> files;
    auto names = catalog_files(d.dir);
    if (!names) {
      cat.problems_.push_back(std::move(names.error()));
      return files;
    }
    for (const auto& p : *names) {
      auto f = read_catalog_file(p);
      if (!f) {
        Error e = std::move(f.error());
        e.message += "; file skipped";
        cat.problems_.push_back(std::move(e));
        continue;
      }
      files.push_back(std::move(*f));
    }
    return files;
  };
  for (std::size_t i = 0; i < paths.dirs.size();) {
    const CatalogDir& d = paths.dirs[i];
    if (!is_feed_layer(d.layer)) {
      cat.add_layer(d.layer, read_dir(d));
      ++i;
      continue;
    }
    std::vector<std::pair<std::string, std::vector<CatalogFile>>> tier;
    for (; i < paths.dirs.size() && is_feed_layer(paths.dirs[i].layer); ++i) {
      tier.emplace_back(paths.dirs[i].layer, read_dir(paths.dirs[i]));
    }
    cat.add_feed_tier(std::move(tier));
  }
  return cat;
}

Catalog Catalog::load_files(const std::vector<std::filesystem::path>& files,
                            std::string_view layer) {
  Catalog cat;
  std::vector<CatalogFile> parsed;
  for (const auto& p : files) {
    auto f = read_catalog_file(p);
    if (!f) {
      cat.problems_.push_back(std::move(f.error()));
      continue;
    }
    parsed.push_back(std::move(*f));
  }
  cat.add_layer(std::string(layer), std::move(parsed));
  return cat;
}

Catalog Catalog::from_parsed(std::vector<CatalogFile> files, std::string_view layer) {
  Catalog cat;
  cat.add_layer(std::string(layer), std::move(files));
  return cat;
}

Result<const Entry*> Catalog::lookup(std::string_view name) const {
  if (auto it = by_id_.find(std::string(name)); it != by_id_.end()) return &it->second;
  const auto ambiguous_id = [this](const std::string& id) -> tl::unexpected<Error> {
    return fail(Errc::schema_error,
                fmt::format("id '{}' is ambiguous: {}", id, ambiguous_ids_.at(id)),
                "pin it in /etc/weightsd/catalog.d, or stop following one of the feeds");
  };
  if (ambiguous_ids_.contains(std::string(name))) return ambiguous_id(std::string(name));
  const std::string key = ascii_lower(name);
  if (auto it = aliases_.find(key); it != aliases_.end()) {
    const AliasDef& def = it->second;
    if (!def.conflicts.empty()) {
      std::string others;
      for (std::size_t i = 0; i < def.conflicts.size(); ++i) {
        others += fmt::format(", {} ({})", def.conflicts[i].to_string(), def.conflict_ids[i]);
      }
      return fail(Errc::schema_error,
                  fmt::format("alias '{}' is ambiguous: {} ({}){}", key, def.where.to_string(),
                              def.id, others),
                  "name the model by its id (ORG/NAME), or fix the catalog files");
    }
    if (auto e = by_id_.find(def.id); e != by_id_.end()) return &e->second;
    if (ambiguous_ids_.contains(def.id)) return ambiguous_id(def.id);
  }
  return fail(Errc::not_found, fmt::format("no catalog entry named '{}'", name),
              fmt::format("try `weightsctl catalog search {}`", name));
}

std::vector<const Entry*> Catalog::search(std::string_view text) const {
  const std::string needle = ascii_lower(text);
  std::vector<const Entry*> out;
  for (const auto& [id, e] : by_id_) {
    bool hit = ascii_lower(e.id).find(needle) != std::string::npos ||
               ascii_lower(e.repo).find(needle) != std::string::npos ||
               e.family.find(needle) != std::string::npos;
    for (const auto& a : e.all_aliases()) hit = hit || a.find(needle) != std::string::npos;
    if (hit) out.push_back(&e);
  }
  return out;
}

std::vector<const Entry*> Catalog::entries() const {
  std::vector<const Entry*> out;
  out.reserve(by_id_.size());
  for (const auto& [id, e] : by_id_) out.push_back(&e);
  return out;
}

}  // namespace weights::catalog
