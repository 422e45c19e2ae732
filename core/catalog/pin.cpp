#include "core/catalog/pin.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <sys/stat.h>
#include <toml++/toml.h>

#include "core/util/atomic_file.hpp"
#include "core/util/encoding.hpp"
#include "core/util/json.hpp"

namespace weights::catalog {
namespace {

std::string short_id(std::string_view commit) {
  return std::string(commit.substr(0, 12));
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_commit_hex(std::string_view s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

}  // namespace

std::string toml_string(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        // Other control characters as \uXXXX; UTF-8 sequences pass as they are.
        out += u < 0x20 || u == 0x7f ? fmt::format("\\u{:04X}", u) : std::string(1, c);
    }
  }
  return out + "\"";
}

std::vector<Difference> compare_with_pin(const Entry& entry, const PinnedFields& pinned) {
  std::vector<Difference> out;
  const std::string at = short_id(pinned.commit);
  if (entry.commit != pinned.commit) {
    out.push_back({"commit",
                   fmt::format("commit: the entry pins {}, the files were read from {}",
                               entry.commit, pinned.commit),
                   Errc::wrong_target});
  }
  std::map<std::string_view, const File*> pin;
  for (const auto& p : pinned.files) pin.emplace(p.path, &p);
  std::map<std::string_view, bool> recorded;
  for (const auto& f : entry.files) {
    recorded.emplace(f.path, true);
    const auto it = pin.find(f.path);
    if (it == pin.end()) {
      out.push_back({f.path,
                     fmt::format("{}: recorded by the entry, not a file of commit {}", f.path, at),
                     Errc::wrong_target});
      continue;
    }
    const File& p = *it->second;
    if (f.size && p.size && *f.size != *p.size) {
      out.push_back({f.path,
                     fmt::format("{}: the entry records {} bytes, commit {} pins {}", f.path,
                                 *f.size, at, *p.size),
                     Errc::length_mismatch});
    }
    if (!f.sha256.empty() && f.sha256 != p.sha256) {
      out.push_back({f.path,
                     fmt::format("{}: the entry records SHA-256 {}, commit {} pins {}", f.path,
                                 f.sha256, at, p.sha256),
                     Errc::hash_mismatch});
    }
    if (!f.git_sha1.empty() && p.git_sha1.empty()) {
      out.push_back({f.path,
                     fmt::format("{}: the entry records git blob {}, commit {} stores the file "
                                 "with LFS",
                                 f.path, f.git_sha1, at),
                     Errc::hash_mismatch});
    } else if (!f.git_sha1.empty() && f.git_sha1 != p.git_sha1) {
      out.push_back({f.path,
                     fmt::format("{}: the entry records git blob {}, commit {} holds {}", f.path,
                                 f.git_sha1, at, p.git_sha1),
                     Errc::hash_mismatch});
    }
  }
  if (entry.files_complete) {
    for (const auto& p : pinned.files) {
      if (recorded.count(p.path) == 0) {
        out.push_back({p.path,
                       fmt::format("{}: a file of commit {} missing from the entry's complete "
                                   "file list",
                                   p.path, at),
                       Errc::wrong_target});
      }
    }
  }
  if (!entry.info_hash_v2.empty() && !pinned.info_hash_v2.empty() &&
      entry.info_hash_v2 != pinned.info_hash_v2) {
    out.push_back({"info_hash_v2",
                   fmt::format("info_hash_v2: the entry records {}, the pinned torrent of commit "
                               "{} has {}",
                               entry.info_hash_v2, at, pinned.info_hash_v2),
                   Errc::wrong_target});
  }
  return out;
}

Entry with_pinned_fields(const Entry& entry, const PinnedFields& pinned) {
  Entry out = entry;
  std::map<std::string_view, const File*> pin;
  for (const auto& p : pinned.files) pin.emplace(p.path, &p);
  std::map<std::string, bool> recorded;
  for (auto& f : out.files) {
    recorded.emplace(f.path, true);
    const auto it = pin.find(f.path);
    if (it == pin.end()) continue;
    if (!f.size) f.size = it->second->size;
    if (f.sha256.empty()) f.sha256 = it->second->sha256;
    if (f.git_sha1.empty()) f.git_sha1 = it->second->git_sha1;
  }
  for (const auto& p : pinned.files) {
    if (recorded.count(p.path) == 0) out.files.push_back(p);
  }
  out.files_complete = true;
  if (out.info_hash_v2.empty()) out.info_hash_v2 = pinned.info_hash_v2;
  return out;
}

namespace {

std::vector<std::string> file_keys(const File& f) {
  std::vector<std::string> out;
  out.push_back("path = " + toml_string(f.path));
  if (f.size) out.push_back(fmt::format("size = {}", *f.size));
  if (!f.sha256.empty()) out.push_back("sha256 = " + toml_string(f.sha256));
  if (!f.git_sha1.empty()) out.push_back("git_sha1 = " + toml_string(f.git_sha1));
  return out;
}

}  // namespace

std::string pinned_fields_toml(const Entry& entry, const PinnedFields& pinned) {
  const Entry full = with_pinned_fields(entry, pinned);
  std::string out =
      fmt::format("# {} at {}: {} files, pinned by the commit's git objects ({})\n", entry.id,
                  pinned.commit, full.files.size(), entry.where.to_string());
  out += "# Into the entry's [[model]] table, before its first [[model.source]]:\n";
  out += "files_complete = true\n";
  if (!full.info_hash_v2.empty()) out += "info_hash_v2 = " + toml_string(full.info_hash_v2) + "\n";
  out += "# Replacing the entry's [[model.files]] tables, after its last [[model.source]]:\n";
  for (const auto& f : full.files) {
    out += "\n[[model.files]]\n";
    for (const auto& k : file_keys(f)) out += k + "\n";
  }
  return out;
}

// ---- the hub's API ------------------------------------------------------------------------------

Result<HubHints> parse_hub_hints(std::string_view body) {
  auto doc = json::parse_strict(body, {64 * 1024 * 1024, 64});
  if (!doc) return tl::unexpected(with_context(doc.error(), "model info"));
  if (!doc->is_object()) return fail(Errc::schema_error, "model info: expected an object");
  HubHints h;
  auto sha = json::get_string(*doc, "sha", "model info");
  if (!sha) return tl::unexpected(sha.error());
  if (!is_commit_hex(*sha)) {
    return fail(Errc::schema_error,
                fmt::format("model info: sha '{}' is not a commit id", printable_excerpt(*sha)));
  }
  h.sha = ascii_lower(*sha);
  if (auto id = doc->find("id"); id != doc->end()) {
    if (!id->is_string()) return fail(Errc::schema_error, "model info: id: expected a string");
    h.id = id->get<std::string>();
  }
  if (auto g = doc->find("gated"); g != doc->end()) {
    if (g->is_boolean()) {
      h.gated = g->get<bool>();
    } else if (g->is_string()) {
      h.gated = true;  // "auto" or "manual": how access requests are approved
    } else if (!g->is_null()) {
      return fail(Errc::schema_error, "model info: gated: expected a boolean or a string");
    }
  }
  if (auto card = doc->find("cardData"); card != doc->end() && card->is_object()) {
    if (auto lic = card->find("license"); lic != card->end() && lic->is_string()) {
      h.license = lic->get<std::string>();
    }
  }
  return h;
}

std::vector<Difference> compare_hints(const Entry& entry, const HubHints& hints) {
  std::vector<Difference> out;
  if (!hints.id.empty() && hints.id != entry.repo) {
    out.push_back({"repo",
                   fmt::format("repo: the entry says {}, the hub's API spells it {}", entry.repo,
                               printable_excerpt(hints.id, 200)),
                   Errc::wrong_target});
  }
  if (hints.sha != entry.commit) {
    out.push_back({"commit",
                   fmt::format("commit: the hub's API resolves {} to {}", entry.commit, hints.sha),
                   Errc::wrong_target});
  }
  if (hints.gated != entry.gated) {
    const auto name = [](const std::optional<bool>& g) -> std::string {
      return g ? (*g ? "true" : "false") : "not known";
    };
    out.push_back({"gated",
                   fmt::format("gated: the entry says {}, the hub's API says {}", name(entry.gated),
                               name(hints.gated)),
                   Errc::wrong_target});
  }
  if (!hints.license.empty() && ascii_lower(hints.license) != ascii_lower(entry.license)) {
    out.push_back({"license",
                   fmt::format("license: the entry says {}, the hub's API says {}", entry.license,
                               printable_excerpt(hints.license, 200)),
                   Errc::wrong_target});
  }
  return out;
}

// ---- the textual edit ---------------------------------------------------------------------------

namespace {

struct Lines {
  std::vector<std::string_view> content;  // without the terminator
  std::vector<std::string_view> eol;      // "\n", "\r\n" or "" (the last line, unterminated)
  std::string style = "\n";               // what inserted lines end with
};

Lines split_lines(std::string_view text) {
  Lines l;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      l.content.push_back(text.substr(pos));
      l.eol.push_back("");
      break;
    }
    std::size_t end = nl;
    if (end > pos && text[end - 1] == '\r') --end;
    l.content.push_back(text.substr(pos, end - pos));
    l.eol.push_back(text.substr(end, nl + 1 - end));
    pos = nl + 1;
  }
  if (!l.eol.empty() && l.eol.front() == "\r\n") l.style = "\r\n";
  return l;
}

bool is_blank_or_comment(std::string_view line) {
  const auto first = line.find_first_not_of(" \t");
  return first == std::string_view::npos || line[first] == '#';
}

std::string indent_of(std::string_view line) {
  return std::string(line.substr(0, line.find_first_not_of(" \t")));
}

// Whether `line` is `files_complete = false` (with an optional comment); sets `rewritten` to
// the line with `true`, keeping everything else.
bool flip_files_complete(std::string_view line, std::string& rewritten) {
  std::size_t i = line.find_first_not_of(" \t");
  if (i == std::string_view::npos || line.substr(i, 14) != "files_complete") return false;
  i = line.find_first_not_of(" \t", i + 14);
  if (i == std::string_view::npos || line[i] != '=') return false;
  i = line.find_first_not_of(" \t", i + 1);
  if (i == std::string_view::npos || line.substr(i, 5) != "false") return false;
  const std::size_t rest = i + 5;
  const auto after = line.find_first_not_of(" \t", rest);
  if (after != std::string_view::npos && line[after] != '#') return false;
  rewritten = std::string(line.substr(0, i)) + "true" + std::string(line.substr(rest));
  return true;
}

struct Insertion {
  int after_line;  // 1-based; the new lines follow this line
  int order;       // at one line: the entry's keys, then file keys, then new file tables
  std::vector<std::string> lines;
};

tl::unexpected<Error> cannot_edit(std::string_view source, const Entry& e, std::string why) {
  return fail(Errc::unsupported,
              fmt::format("{}: {}: {}; nothing was written", e.where.to_string(), e.id, why),
              fmt::format("paste the output of `weightsctl catalog pin {}` (without --write) into "
                          "{} by hand",
                          e.id, source));
}

// Compares entries as parsed, ignoring line numbers (an edit moves later entries down).
bool same_entry(Entry a, Entry b) {
  a.where.line = 0;
  b.where.line = 0;
  return a == b;
}

}  // namespace

Result<Rewrite> rewrite_entry(std::string_view text, std::string_view source_name,
                              std::string_view id, const PinnedFields& pinned) {
  auto parsed = parse_catalog(text, source_name);
  if (!parsed) return tl::unexpected(parsed.error());
  const auto found = std::find_if(parsed->entries.begin(), parsed->entries.end(),
                                  [&](const Entry& e) { return e.id == id; });
  if (found == parsed->entries.end()) {
    return fail(Errc::not_found, fmt::format("{}: no entry with id '{}'", source_name, id));
  }
  const std::size_t index = static_cast<std::size_t>(found - parsed->entries.begin());
  const Entry& old = *found;
  if (auto diffs = compare_with_pin(old, pinned); !diffs.empty()) {
    std::string more =
        diffs.size() > 1 ? fmt::format(" (and {} more difference(s))", diffs.size() - 1) : "";
    return fail(
        diffs.front().code,
        fmt::format("{}: {}: {}{}", old.where.to_string(), old.id, diffs.front().message, more),
        "the commit's git objects contradict the entry: nothing was written; correct the "
        "entry (or its commit) first");
  }
  const Entry want = with_pinned_fields(old, pinned);

  // The same text parsed by toml++ again, for the lines of tables and keys.
  toml::table doc;
  try {
    doc = toml::parse(text, source_name);
  } catch (const toml::parse_error&) {
    return fail(Errc::internal, fmt::format("{}: parsed once, not twice", source_name));
  }
  const toml::array* models = doc.get_as<toml::array>("model");
  if (models == nullptr || index >= models->size() || !(*models)[index].is_table()) {
    return fail(Errc::internal, fmt::format("{}: entry {} not found again", source_name, id));
  }
  // Every table header of the file, and those of this entry's tables.
  std::vector<int> headers;
  std::vector<int> model_headers;
  for (const auto& m : *models) {
    const auto& t = *m.as_table();
    if (t.is_inline()) return cannot_edit(source_name, old, "the entries are inline tables");
    headers.push_back(static_cast<int>(t.source().begin.line));
    model_headers.push_back(headers.back());
    for (const char* sub : {"source", "files"}) {
      const toml::array* arr = t.get_as<toml::array>(sub);
      if (arr == nullptr) continue;
      for (const auto& s : *arr) {
        if (s.is_table() && !s.as_table()->is_inline()) {
          headers.push_back(static_cast<int>(s.source().begin.line));
        }
      }
    }
  }
  std::sort(headers.begin(), headers.end());
  const toml::table& table = *(*models)[index].as_table();
  const Lines lines = split_lines(text);
  const int n_lines = static_cast<int>(lines.content.size());
  const int header = model_headers[index];
  if (header < 1 || header > n_lines || header != old.where.line) {
    return cannot_edit(source_name, old, "its [[model]] header was not found");
  }
  const int span_end = index + 1 < model_headers.size() ? model_headers[index + 1] - 1 : n_lines;
  // The last line of the section a header starts: before the next header, or the entry's end.
  const auto section_end = [&](int from) {
    const auto next = std::upper_bound(headers.begin(), headers.end(), from);
    return next == headers.end() ? span_end : std::min(span_end, *next - 1);
  };
  // Where keys of a section go: after its last line that is not blank or a comment (comments
  // and blank lines at its end lead into what follows), else right after its header.
  const auto insert_point = [&](int from, int to) {
    for (int l = to; l > from; --l) {
      if (!is_blank_or_comment(lines.content[static_cast<std::size_t>(l - 1)])) return l;
    }
    return from;
  };
  const std::string indent = indent_of(lines.content[static_cast<std::size_t>(header - 1)]);

  std::vector<Insertion> inserts;
  std::map<int, std::string> replaced;
  std::vector<std::string> entry_keys;
  if (!old.files_complete) {
    if (table.contains("files_complete")) {
      const int l = static_cast<int>(table.find("files_complete")->first.source().begin.line);
      std::string line;
      if (l < 1 || l > n_lines ||
          !flip_files_complete(lines.content[static_cast<std::size_t>(l - 1)], line)) {
        return cannot_edit(source_name, old, "its files_complete line is not a plain `false`");
      }
      replaced.emplace(l, std::move(line));
    } else {
      entry_keys.push_back(indent + "files_complete = true");
    }
  }
  if (old.info_hash_v2.empty() && !want.info_hash_v2.empty()) {
    entry_keys.push_back(indent + "info_hash_v2 = " + toml_string(want.info_hash_v2));
  }
  if (!entry_keys.empty()) {
    inserts.push_back({insert_point(header, section_end(header)), 0, std::move(entry_keys)});
  }
  if (!old.files.empty()) {
    const toml::array* files = table.get_as<toml::array>("files");
    if (files == nullptr || files->size() != old.files.size()) {
      return cannot_edit(source_name, old, "its files were not found again");
    }
    for (std::size_t k = 0; k < old.files.size(); ++k) {
      const auto* ft = (*files)[k].as_table();
      if (ft == nullptr || ft->is_inline()) {
        return cannot_edit(source_name, old, "its files are inline tables");
      }
      const int fh = static_cast<int>(ft->source().begin.line);
      const File& have = old.files[k];
      const File& full = want.files[k];
      const std::string fi = indent_of(lines.content[static_cast<std::size_t>(fh - 1)]);
      std::vector<std::string> keys;
      if (!have.size && full.size) keys.push_back(fmt::format("{}size = {}", fi, *full.size));
      if (have.sha256.empty() && !full.sha256.empty()) {
        keys.push_back(fi + "sha256 = " + toml_string(full.sha256));
      }
      if (have.git_sha1.empty() && !full.git_sha1.empty()) {
        keys.push_back(fi + "git_sha1 = " + toml_string(full.git_sha1));
      }
      if (!keys.empty()) inserts.push_back({insert_point(fh, section_end(fh)), 1, std::move(keys)});
    }
  }
  std::vector<std::string> added;
  for (std::size_t k = old.files.size(); k < want.files.size(); ++k) {
    added.push_back("");
    added.push_back(indent + "[[model.files]]");
    for (const auto& key : file_keys(want.files[k])) added.push_back(indent + key);
  }
  if (!added.empty()) inserts.push_back({insert_point(header, span_end), 2, std::move(added)});

  if (inserts.empty() && replaced.empty()) return Rewrite{std::string(text), false};
  std::stable_sort(inserts.begin(), inserts.end(), [](const Insertion& a, const Insertion& b) {
    return std::tie(a.after_line, a.order) < std::tie(b.after_line, b.order);
  });
  std::string out;
  out.reserve(text.size() + 256 * want.files.size());
  auto next = inserts.begin();
  for (int l = 1; l <= n_lines; ++l) {
    const auto i = static_cast<std::size_t>(l - 1);
    const auto r = replaced.find(l);
    out += r != replaced.end() ? std::string_view(r->second) : lines.content[i];
    std::string_view eol = lines.eol[i];
    for (; next != inserts.end() && next->after_line == l; ++next) {
      if (eol.empty()) eol = lines.style;  // the last line had no terminator
      out += eol;
      for (std::size_t k = 0; k < next->lines.size(); ++k) {
        out += next->lines[k];
        if (k + 1 < next->lines.size()) out += lines.style;
      }
      eol = lines.style;
    }
    out += eol;
  }

  // The edit must be exactly the pinned fields: the same file with only this entry changed.
  auto again = parse_catalog(out, source_name);
  bool same = again.has_value() && again->family == parsed->family &&
              again->default_variant == parsed->default_variant &&
              again->description == parsed->description &&
              again->entries.size() == parsed->entries.size();
  for (std::size_t k = 0; same && k < parsed->entries.size(); ++k) {
    same = same_entry(again->entries[k], k == index ? want : parsed->entries[k]);
  }
  if (!same) {
    return cannot_edit(
        source_name, old,
        again ? std::string("the edited file does not read back as the entry plus "
                            "the pinned fields")
              : fmt::format("the edited file does not parse ({})", again.error().message));
  }
  return Rewrite{std::move(out), true};
}

Result<bool> write_pinned_entry(const std::filesystem::path& file, std::string_view id,
                                const PinnedFields& pinned) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // A symlinked catalog file is edited where it lives.
  const fs::path target = fs::canonical(file, ec);
  if (ec) {
    return fail(Errc::io_error, fmt::format("{}: {}", file.string(), ec.message()));
  }
  auto text = read_file(target, max_file_bytes);
  if (!text) return tl::unexpected(with_context(text.error(), file.string()));
  auto r = rewrite_entry(*text, file.string(), id, pinned);
  if (!r) return tl::unexpected(r.error());
  if (!r->changed) return false;
  struct stat st {};
  const unsigned mode = ::stat(target.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  if (auto w = write_file_atomic(target, r->text, mode); !w) return tl::unexpected(w.error());
  return true;
}

}  // namespace weights::catalog
