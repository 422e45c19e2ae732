#pragma once
// Hugging Face Hub import for publishers, and the Hugging Face cache layout.
//
// Hub side: the three hub endpoints an import needs, over the one HTTP client
// (core/net/http_client.hpp: proxies from the environment, redirects without downgrade, TLS
// host checks, timeouts and minimum rate, size caps, Range resume, Retry-After):
//   GET {endpoint}/api/models/{repo}/revision/{rev}           -> {"sha", "cardData": {...}}
//   GET {endpoint}/api/models/{repo}/tree/{sha}?recursive=true -> [{"type","path","size","oid",
//                                                                  "lfs": {"oid","size",...}}]
//       (paginated with a `Link: <url>; rel="next"` header)
//   GET {endpoint}/{repo}/resolve/{sha}/{path}                 -> the bytes (often a redirect)
// What the API says is a hint: the importer trusts only the commit's git objects, and checks the
// listing and every downloaded byte against them (core/upstream/hf_pin.hpp).
//
// Cache side: `models--org--name/{blobs,snapshots/<rev>,refs}` as huggingface_hub writes it;
// blob names are the same hashes (SHA-256 for LFS files, git blob SHA-1 otherwise), so a cached
// file is verified against its blob's name.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/net/http_client.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/util/error.hpp"

namespace weights::hf {

namespace fs = std::filesystem;

struct HubOptions {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT for mirrors
  std::string token;                                // HF_TOKEN; sent to the endpoint's host only
  std::chrono::seconds timeout{60};                 // per connect / read / write step
  int max_redirects = 5;
  std::size_t max_json_bytes = 64 * 1024 * 1024;
  int max_attempts = 4;  // per request: 429/503 with Retry-After, dropped transfers
  std::chrono::seconds max_retry_after{60};  // longer Retry-After values are an error
  ProxySettings proxy;                       // http_proxy, https_proxy, no_proxy
  std::optional<Error> config_error;         // a malformed proxy variable: every call fails
  // Set to true by another thread: a download stops at its next chunk (Errc::unavailable, not
  // retried), its .part file kept for a later resume.
  std::shared_ptr<const std::atomic<bool>> cancel;
};

// HubOptions with HF_ENDPOINT, HF_TOKEN (or HUGGING_FACE_HUB_TOKEN) and the proxy variables
// (ProxySettings::from_env) from the environment.
HubOptions hub_options_from_env();

struct HubFile {
  std::string path;  // policy-checked relative path
  std::uint64_t size = 0;
  std::string git_oid;  // 40 hex: git blob id of the stored object (the pointer, for LFS files)
  std::optional<std::string> lfs_sha256;  // 64 hex: the content's SHA-256, for LFS files
};

struct HubRevision {
  std::string repo;            // "org/name"
  std::string sha;             // 40 hex commit id the revision resolved to
  std::string license;         // cardData.license when a plain string, else empty
  std::vector<HubFile> files;  // sorted by path
};

// Parsers of the hub's JSON (exposed for tests). parse_revision_info fills sha and license;
// parse_tree appends the "file" entries of one tree page (directories are skipped).
Result<HubRevision> parse_revision_info(std::string_view body);
Status parse_tree(std::string_view body, std::vector<HubFile>& files);
// The rel="next" URL of a Link header, or empty.
std::string next_link(std::string_view link_header);

using Progress = std::function<void(const HubFile& file, std::uint64_t done)>;

// Why the hub, or the download server a resolve redirect led to, refused a request. The hub
// names most reasons in an `X-Error-Code` header (a missing or private repository answers 401
// with RepoNotFound when no token is sent); without one the status decides.
enum class HubRefusal {
  repo_not_found,      // RepoNotFound: no such repository, or a private one this request cannot see
  revision_not_found,  // RevisionNotFound: no such branch, tag or commit
  entry_not_found,     // EntryNotFound: the revision has no such file
  gated,               // GatedRepo: the licence must be accepted on the hub by the user's account
  unauthorized,        // 401 without an error code: no token, or a token the hub refused
  forbidden,           // 403 from the hub without an error code
  not_found,           // 404 without an error code
  gone,                // 410 from the hub
  rate_limited,        // 429, still after the client's Retry-After waits
  legally_blocked,     // 451
  signed_url_refused,  // 403/410 from the download server: its signed URL expired or was used
  xet_only,            // 400 from the download server: a file it serves only over the Xet protocol
  server_error,        // 5xx
  other,               // any other status outside 2xx
};

// A stable lower-case name ("repo_not_found", ...) for logs and JSON.
std::string_view refusal_name(HubRefusal refusal) noexcept;

// The response headers the hub's refusals are read from (HttpOptions::keep_headers).
inline constexpr std::string_view error_code_header = "X-Error-Code";
inline constexpr std::string_view repo_commit_header = "X-Repo-Commit";

// The refusal a final status outside 2xx from `answered_by` (reached from `endpoint`) means.
// `head` must carry the kept X-Error-Code header for the hub's codes to count.
HubRefusal classify_refusal(const Url& endpoint, const Url& answered_by, const ResponseHead& head);

// What a request asked the hub for, named in its errors; empty fields are not named.
struct HubSubject {
  std::string repo;         // ORG/NAME
  std::string revision;     // as asked for: a branch, tag or commit
  std::string file;         // a path in the repository
  bool token_sent = false;  // whether the request carried HF_TOKEN (changes the hint)
};

class Hub {
 public:
  explicit Hub(HubOptions options);

  // Resolves `rev` (branch, tag or commit) to a commit and lists its files.
  Result<HubRevision> revision(std::string_view repo, std::string_view rev);

  // Downloads one file of the revision (by commit sha) to `dest`: bytes go to dest + ".part"
  // (resumed with a Range request when present) and are renamed to `dest` once exactly
  // file.size bytes arrived. An existing `dest` of the right size is kept (the caller verifies
  // hashes afterwards). Every attempt, a resumed one too, starts at the hub's resolve URL, so a
  // signed CDN URL is never reused: a dropped transfer, or a CDN that refuses its URL as expired
  // (signed_url_expired), is resumed on a fresh one (max_attempts in all). More bytes than
  // file.size is length_mismatch; other statuses are errors as hub_status_error says.
  Status download(const HubRevision& revision, const HubFile& file, const fs::path& dest,
                  const Progress& progress = {});

  // One GET of a JSON document (following redirects), for the API endpoints.
  struct Json {
    std::string body;
    std::string link;  // Link header
  };
  Result<Json> get_json(const std::string& url);

  // Why the hub refused the last call of revision, download or get_json that failed with a hub
  // answer (nullopt after a success, or a failure that was no answer: network, checks, disk).
  std::optional<HubRefusal> last_refusal() const { return last_refusal_; }
  // That refusal's final HTTP status and the X-Error-Code it carried (empty: none); meaningful
  // while last_refusal() is set.
  unsigned last_refusal_status() const { return last_status_; }
  const std::string& last_error_code() const { return last_error_code_; }

 private:
  HttpOptions http_options() const;
  HttpRequest request(const Url& url) const;
  Result<Json> get_json(const std::string& url, std::string_view what, HubSubject subject);
  // hub_status_error for a request of `asked` answered by `got`, noted as the last refusal.
  Error refused(const Url& asked, const HttpResult& got, std::string_view what, HubSubject subject);

  HubOptions options_;
  Url endpoint_;
  bool endpoint_ok_ = false;
  Error endpoint_error_;
  std::optional<HubRefusal> last_refusal_;
  unsigned last_status_ = 0;
  std::string last_error_code_;
};

// Whether a final answer means that a signed download URL expired or was used up: 403 or 410
// from another origin than the endpoint (the CDN a resolve redirect led to). The hub itself
// answers 403 for gated repositories.
bool signed_url_expired(const Url& endpoint, const Url& answered_by, unsigned status);

// A final status outside 2xx from `url` (reached from `endpoint`) as an error whose message
// says what was refused and why (classify_refusal), naming the subject, and whose hint says what
// to do. Codes: not_found (missing repository, revision or file; 404, 410), permission_denied
// (gated, 401, 403), unavailable (429, 451, 5xx, a refused signed URL, anything else). The
// token is never part of the message: only the hub's error code is read, never echoed.
Error hub_status_error(const Url& endpoint, const Url& url, const ResponseHead& head,
                       std::string_view what, const HubSubject& subject);
// The same without a subject: the message names `what` (a URL, say).
Error hub_status_error(const Url& endpoint, const Url& url, const ResponseHead& head,
                       std::string_view what);

// Whether the hub stores `path` with LFS in a new repository: its default .gitattributes
// patterns (*.safetensors, *.bin, *.gguf, ...). Used when a release comes from a plain
// directory, so that only files the hub would keep in git get a git blob oid (cache name).
bool lfs_by_default(std::string_view path);

// ---- Hugging Face cache -----------------------------------------------------------------------

// $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub.
fs::path default_cache_dir();
// "org/name" -> "models--org--name".
std::string cache_repo_folder(std::string_view repo);
// The name a file's blob has in the cache: its git oid when it has one, else its SHA-256.
std::string cache_blob_name(const ReleaseFile& file);

struct CacheFile {
  std::string path;       // relative to the snapshot
  std::string blob_name;  // 40 hex (git blob sha1) or 64 hex (sha256)
};

struct CacheSnapshot {
  fs::path snapshot_dir;  // .../models--org--name/snapshots/<revision>
  std::string repo;       // org/name, from the folder name
  std::string revision;   // the snapshot folder's name (a commit sha)
  std::vector<CacheFile> files;
};

// `path` is a snapshot dir (models--org--name/snapshots/<rev>) or a repo folder
// (models--org--name, revision from `revision` or refs/main). Every file must be a symlink into
// the repo's blobs/ with a hash name; anything else is refused with the path named.
Result<CacheSnapshot> open_cache_snapshot(const fs::path& path,
                                          const std::optional<std::string>& revision);

// Checks hashed release files against their blob names (the add_release hook); sets git_oid
// for files named by a git oid and clears it for files named by a SHA-256.
Status check_against_cache(const CacheSnapshot& snapshot, std::vector<ReleaseFile>& files);

}  // namespace weights::hf
