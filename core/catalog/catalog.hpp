#pragma once
// The model catalog (docs/catalog.md): human-readable TOML files, one per model family, that name
// real upstream releases by their pinned commit. Parsing is strict (unknown keys, bad ids, short
// commits and duplicate aliases are errors naming file and line); loading layers directories
// (shipped, operator, user; later overrides earlier by id) and never fails as a whole: a broken
// file is reported and skipped, the rest still loads.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/util/error.hpp"

namespace weights::catalog {

inline constexpr std::int64_t schema_version = 1;

enum class Confidence { high, medium_high, medium };
std::string_view confidence_name(Confidence c) noexcept;

// Public evidence that `commit` is what the entry says it is: a URL, or a repository and a path
// in it, or only a quote of public text whose repository was not identified.
struct Source {
  std::string url;
  std::string repo;  // "owner/name" on a public git host (GitHub unless the URL says otherwise)
  std::string path;  // a file in `repo`
  std::string quote;
  Confidence confidence = Confidence::medium;
  friend bool operator==(const Source&, const Source&) = default;
};

// A file of the pinned commit, as far as known (`weightsctl catalog pin` fills all of them).
struct File {
  std::string path;
  std::optional<std::uint64_t> size;
  std::string sha256;    // lowercase hex of the content's SHA-256 (the LFS oid of large files)
  std::string git_sha1;  // lowercase hex of the git blob id (small files stored in git)
  friend bool operator==(const File&, const File&) = default;
};

// Where something was defined: "file:line" in messages.
struct Location {
  std::string file;
  int line = 0;
  std::string to_string() const;
  friend bool operator==(const Location&, const Location&) = default;
};

struct Entry {
  std::string id;                    // "ORG/NAME" as upstream names it
  std::string family;                // the file's family alias
  std::string variant;               // alias "family:variant"
  std::vector<std::string> aliases;  // further aliases given in the file
  std::string upstream;              // "huggingface"
  std::string repo;                  // "ORG/NAME" on the upstream
  std::string commit;                // 40 lowercase hex
  std::string license;               // SPDX id, licence name, or "unknown"
  std::string license_url;           // optional
  std::optional<bool> gated;         // nullopt: not known (treated as gated)
  std::string note;
  std::vector<Source> sources;  // at least one
  std::vector<File> files;      // optional; complete only when files_complete
  bool files_complete = false;
  std::string info_hash_v2;  // optional: 64 lowercase hex
  bool is_default = false;   // the family alias names this entry
  Location where;            // the entry's [[model]] header
  std::string layer;         // which catalog directory it came from ("shipped", "user", ...)

  // Every name that resolves to this entry in its own file: the aliases above, "family:variant"
  // and, for the default variant, "family".
  std::vector<std::string> all_aliases() const;
  friend bool operator==(const Entry&, const Entry&) = default;
};

struct CatalogFile {
  std::string path;
  std::string family;
  std::string default_variant;
  std::string description;
  std::vector<Entry> entries;
};

// Parses one catalog file's text; `source_name` prefixes every error ("NAME:LINE: message").
// Errors: parse_error (TOML syntax), schema_error (everything else), too_large.
Result<CatalogFile> parse_catalog(std::string_view text, std::string_view source_name);
// Reads and parses one file (at most max_file_bytes).
Result<CatalogFile> read_catalog_file(const std::filesystem::path& file);
inline constexpr std::size_t max_file_bytes = 4 * 1024 * 1024;

bool is_valid_alias(std::string_view alias);
bool is_valid_family(std::string_view family);

// One directory of *.toml files and the name of its layer.
struct CatalogDir {
  std::string layer;  // "shipped", "feed:<name>", "system", "user", "config", "explicit"
  std::filesystem::path dir;
};

// Whether a layer is a feed's ("feed:<name>", docs/catalog.md "Catalog files from feeds").
bool is_feed_layer(std::string_view layer);

// Catalog directories in precedence order (later overrides earlier). Tests pass temp dirs.
// Consecutive feed layers form one tier: none overrides another; an id two of them define with
// different releases is ambiguous (resolves to nothing until a later layer defines it) and an
// alias they give different ids is ambiguous, as within one layer.
struct CatalogPaths {
  std::vector<CatalogDir> dirs;
};

// The catalog files of one directory: its *.toml files (not hidden ones), in name order. A
// directory that does not exist has none; one that cannot be read is an io_error.
Result<std::vector<std::filesystem::path>> catalog_files(const std::filesystem::path& dir);

using GetEnv = std::function<std::optional<std::string>(const char* name)>;

// The default layers: shipped (`<exe>/../share/weightsd/catalog`, else the source tree's
// manifests/catalog when `exe` lives in the build tree it was built in), system
// (/etc/weightsd/catalog.d), user ($XDG_CONFIG_HOME/weightsd/catalog.d, else
// $HOME/.config/weightsd/catalog.d). Directories that do not exist are left out.
CatalogPaths default_catalog_paths(const std::filesystem::path& exe, const GetEnv& env);

class Catalog {
 public:
  // Loads every *.toml file of every directory (in name order within one). Never fails: the
  // problems (a broken file, which is skipped whole; an alias two files of one layer define
  // differently) are listed in problems().
  static Catalog load(const CatalogPaths& paths);
  // Loads exactly these files, as one layer named `layer`.
  static Catalog load_files(const std::vector<std::filesystem::path>& files,
                            std::string_view layer = "explicit");

  // Files already parsed (parse_catalog), as one layer named `layer`.
  static Catalog from_parsed(std::vector<CatalogFile> files, std::string_view layer);

  // An id ("ORG/NAME", exact) or an alias (ASCII case-insensitive). not_found with a hint to
  // `weightsctl catalog search`; schema_error for an alias the same layer (or tier) defines
  // twice with different targets, or an id two feeds define differently (the message names
  // both places).
  Result<const Entry*> lookup(std::string_view name) const;
  // Entries whose id, repo, family or an alias contains `text` (ASCII case-insensitive), by id.
  std::vector<const Entry*> search(std::string_view text) const;
  // Every entry, by id.
  std::vector<const Entry*> entries() const;
  // Files loaded (good ones) and the problems found, in load order.
  const std::vector<std::string>& files() const { return files_; }
  const std::vector<Error>& problems() const { return problems_; }

 private:
  struct AliasDef {
    std::string id;
    Location where;
    std::string layer;
    std::vector<Location> conflicts;  // other targets in the same layer: the alias is ambiguous
    std::vector<std::string> conflict_ids;
  };
  struct LayerDefs {
    std::map<std::string, Entry> ids;
    std::map<std::string, AliasDef> aliases;
  };
  LayerDefs build_layer(const std::string& layer, std::vector<CatalogFile> files);
  void apply(LayerDefs defs);
  void add_layer(const std::string& layer, std::vector<CatalogFile> files);
  void add_feed_tier(std::vector<std::pair<std::string, std::vector<CatalogFile>>> feeds);

  std::map<std::string, Entry> by_id_;
  std::map<std::string, std::string> ambiguous_ids_;  // id -> the feeds' definitions
  std::map<std::string, AliasDef> aliases_;           // lowercase alias -> definition
  std::vector<std::string> files_;
  std::vector<Error> problems_;
};

}  // namespace weights::catalog
