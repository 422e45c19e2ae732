#pragma once
// What `weightsctl catalog pin` and `catalog check` learn about a catalog entry on a connected
// machine, as plain data (docs/catalog.md, "Pinning and checking entries"): the fields its
// commit's git objects pin, how they compare with what the entry records, the hub's API metadata
// (a hint, never trusted), and the textual edit that writes pinned fields into a catalog file.
// The network (git fetch, the hub's API) stays with the caller; everything here is pure except
// write_pinned_entry.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/catalog/catalog.hpp"
#include "core/util/error.hpp"

namespace weights::catalog {

// The fields an entry gets from its pinned commit: every file of the commit (sorted by path
// bytes) with size and SHA-256, and git_sha1 for files stored in git itself (not for LFS
// files); the pinned torrent's v2 info-hash when the files were at hand to build it.
struct PinnedFields {
  std::string commit;  // the commit the files were read from
  std::vector<File> files;
  std::string info_hash_v2;  // empty: not computed
};

// One way an entry disagrees with what was pinned or what the hub says. `subject` is the file's
// path, or the field's name ("commit", "info_hash_v2", "gated", "license", "repo").
struct Difference {
  std::string subject;
  std::string message;  // one line naming the subject and both values
  Errc code = Errc::hash_mismatch;
};

// The entry's recorded fields against its pinned commit: a recorded file the commit does not
// hold (wrong_target), a size (length_mismatch), sha256 or git_sha1 (hash_mismatch) that
// differs, a git_sha1 recorded for a file the commit keeps in LFS (hash_mismatch), a file the
// commit holds that a files_complete entry does not list (wrong_target), another commit or, when
// both are known, another info_hash_v2 (wrong_target). Empty: the entry agrees with the pin.
std::vector<Difference> compare_with_pin(const Entry& entry, const PinnedFields& pinned);

// The entry with the pinned fields added: recorded files keep their order and get the fields
// they lacked, the commit's other files follow in path order, files_complete becomes true and
// info_hash_v2 is set when computed. Only meaningful when compare_with_pin found nothing.
Entry with_pinned_fields(const Entry& entry, const PinnedFields& pinned);

// The pinned fields as TOML to paste into the entry (what `catalog pin` prints without
// --write): the keys for the [[model]] table, then the complete [[model.files]] list that
// replaces the entry's own.
std::string pinned_fields_toml(const Entry& entry, const PinnedFields& pinned);

// `value` as a TOML basic string: "..." with `"`, `\` and control characters escaped.
std::string toml_string(std::string_view value);

// ---- the hub's API (untrusted: a hint) ---------------------------------------------------------

// What the hub's model API (GET {endpoint}/api/models/{repo}/revision/{commit}) says beside the
// git objects. Only metadata that git cannot authenticate.
struct HubHints {
  std::string id;             // the hub's spelling of the repository id; empty if absent
  std::string sha;            // the commit the revision resolved to
  std::string license;        // cardData.license when a string; empty if absent
  std::optional<bool> gated;  // "gated": false -> false, "auto"/"manual"/true -> true
};

// Parses the model API's JSON. Errors: parse_error (not JSON), schema_error (not an object, a
// field of the wrong type, a sha that is not 40 lowercase hex), too_large (over 64 MiB).
Result<HubHints> parse_hub_hints(std::string_view body);

// The entry's gated flag, licence and repository spelling against the API's (licences and ids
// compare ASCII case-insensitively; an entry's "unknown" licence or absent gated flag differs
// from any answer the hub gives). Each is a hint: the hub's metadata is not authenticated.
std::vector<Difference> compare_hints(const Entry& entry, const HubHints& hints);

// ---- writing pinned fields into a catalog file
// ---------------------------------------------------

struct Rewrite {
  std::string text;
  bool changed = false;  // false: the entry already had every pinned field (text == input)
};

// Adds the pinned fields to the entry `id` of the catalog file `text` by a textual edit that
// keeps every other byte: missing keys are inserted into the entry's own [[model]] table and
// into its existing [[model.files]] tables (after their last key line), `files_complete = false`
// becomes `true`, files the entry does not list are appended as [[model.files]] tables after the
// entry's last table (before the comments that lead into the next entry). Line endings follow
// the file's. The result is parsed again and must be the same file with exactly that entry
// replaced by with_pinned_fields (only later line numbers may move); anything else refuses.
// Errors: those of parse_catalog for the input; not_found (no such id in the file);
// the differences of compare_with_pin (the pin contradicts the entry: nothing is changed);
// unsupported (the entry's layout cannot be edited as text, e.g. inline tables, or the edited
// text does not parse back as required): each says to paste `catalog pin`'s output by hand.
Result<Rewrite> rewrite_entry(std::string_view text, std::string_view source_name,
                              std::string_view id, const PinnedFields& pinned);

// Reads `file`, rewrites the entry `id` and, when something changed, replaces the file
// atomically (temp + fsync + rename, keeping its permission bits). Returns whether it changed.
Result<bool> write_pinned_entry(const std::filesystem::path& file, std::string_view id,
                                const PinnedFields& pinned);

}  // namespace weights::catalog
