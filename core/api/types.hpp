#pragma once
// The control API's request and response bodies as typed structs (docs/protocol.md documents
// each one; tests/unit/api_protocol_test.cpp parses the document's examples with these). The
// daemon fills them and serialises with to_json; weightsctl reads them with from_json
// (core/api/json_io.hpp) and never names a field by string. Adding a field: add the member, its
// line in read() and to_json() (core/api/types.cpp), and its line in docs/protocol.md.
//
// Optional members serialise as null when empty unless marked "absent when empty".
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/api/json_io.hpp"
#include "core/util/error.hpp"

namespace weights::api {

// {"code","message","hint"} inside a release or feed (not the top-level error body).
struct ErrorInfo {
  std::string code;
  std::string message;
  std::string hint;
  Error to_error() const;  // unknown codes map to Errc::internal
  static ErrorInfo from(const Error& e);
};

// The body of every non-2xx response: {"error": {...}} (core/api/api.hpp error_body()).
struct ErrorBody {
  ErrorInfo error;
};

// --- releases ---------------------------------------------------------------------------------

struct ReleaseFile {
  std::string path;
  std::uint64_t length = 0;
  bool wanted = true;
  std::string state;  // pending, downloading, verifying, verified, failed
  std::int64_t done_bytes = 0;
};

struct HfCacheInfo {
  std::string dir;
  std::optional<std::string> snapshot;
  std::optional<ErrorInfo> error;
};

// A release pinned by an upstream commit (origin "upstream"): which repository and commit, and
// how the commit was chosen: "commit" (the request named it; nothing but the pin is trusted),
// "branch" (the hub resolved `branch` to it: that one step trusted the hub) or "catalog" (the
// installed catalog's entry for `alias` named it).
// The terms an upstream release comes under (core/upstream/license_terms.hpp).
struct LicenseInfo {
  std::string id;                  // what an acceptance is recorded under ("llama3.1", "unknown")
  std::string name;                // as the source spells it
  std::string url;                 // may be empty
  std::vector<std::string> files;  // licence and use-policy files of the release
  bool gated = false;
  std::string source;   // catalog, model_card
  std::string where;    // the catalog file and line, or README.md of the commit
  std::string problem;  // why the licence is unknown; may be empty
  bool needs_acceptance = false;
  std::optional<std::string> accepted_at;  // UTC; null: not accepted (or not needed)
};

struct UpstreamInfo {
  std::string kind;  // "huggingface"
  std::string repo;
  std::string commit;
  std::string pinned_by;              // commit, branch, catalog
  std::optional<std::string> branch;  // with pinned_by "branch"
  std::optional<std::string> alias;   // with pinned_by "catalog"
  // The catalog layer of the entry whose terms (and, with pinned_by "catalog", commit) apply:
  // "shipped", "feed:<name>", "system", "user", "config"; absent without a catalog entry.
  std::optional<std::string> catalog_layer;
  std::optional<LicenseInfo> license;  // once known (the catalog's at once, a card's once pinned)
  // With the hub gone: the first peers under the pin's DHT key whose answer failed a check
  // ("peer 127.0.3.1:7000: ..."), at most 16, and how many more were rejected; each absent
  // when none.
  std::vector<std::string> rejected_peers;
  std::uint64_t rejected_peers_more = 0;
};

// Bytes a release downloaded from one source this daemon session: a BitTorrent peer (by IP
// address) or a web seed (BEP 19, e.g. the hub's resolve URLs and the CDN they redirect to; by
// server "ip:port").
struct DownloadSource {
  std::string kind;  // "peer" or "web_seed"
  std::string address;
  std::int64_t downloaded_bytes = 0;
};

// What the hub last said about the release's upstream commit (docs/protocol.md "Upstream
// status"): `state` is the last check's outcome, serving, refused or unreachable (no answer:
// network, 429, 5xx; not the hub's word on the commit). A refusal's status and X-Error-Code stay
// while later checks get no answer (it stays in force: `answer` says so).
struct HubStatusInfo {
  std::string state;
  std::string since;    // the first check of the unbroken run of `state` (and status)
  std::string checked;  // the last check
  std::optional<std::uint64_t> http_status;  // refused: 401, 403, 404, 410 or 451
  std::optional<std::string> error_code;     // the hub's X-Error-Code with it
  std::optional<std::string> answer;        // unreachable: the hub's last answer (serving, refused)
  std::optional<std::string> answer_since;  // unreachable: since when that answer held
  std::optional<std::string> error;         // unreachable: what failed
  bool seeding_priority = false;            // refused: seeded first, evicted last
};

struct Release {
  std::string id;
  std::string feed;
  std::string model;
  std::string revision;
  std::vector<std::string> aliases;
  std::uint64_t release_seq = 0;
  std::string origin;  // fetched, seeded, upstream
  std::string state;   // loading, resolving, downloading, verifying, complete, degraded, ...
  bool seeding = false;
  bool pinned = false;
  bool held = false;
  std::optional<std::string> last_requested;
  std::optional<std::string> last_scrubbed;
  std::uint64_t total_length = 0;
  std::uint64_t wanted_length = 0;
  std::uint64_t verified_length = 0;
  std::int64_t downloaded_bytes = 0;
  std::int64_t uploaded_bytes = 0;
  std::int64_t download_rate = 0;
  std::int64_t upload_rate = 0;
  std::int64_t peers = 0;
  std::int64_t seeds = 0;
  std::int64_t hash_failures = 0;
  std::int64_t banned_peers = 0;
  std::optional<ErrorInfo> error;
  std::optional<std::string> path;
  std::string v2_infohash;
  std::vector<std::string> include;
  bool v1_seeding = false;
  bool v1_downloading = false;
  std::vector<ReleaseFile> files;
  std::optional<HfCacheInfo> hf_cache;   // absent when empty
  std::optional<UpstreamInfo> upstream;  // origin "upstream" only
  // Downloaded bytes by source (this daemon session; absent when nothing came from a source).
  std::vector<DownloadSource> sources;                    // absent when empty
  std::optional<std::int64_t> downloaded_from_peers;      // absent with `sources`
  std::optional<std::int64_t> downloaded_from_web_seeds;  // absent with `sources`
  std::optional<HubStatusInfo> hub_status;  // once the hub was asked about the upstream commit

  bool finished() const { return state == "complete" || state == "failed"; }
};

struct ReleaseList {
  std::vector<Release> releases;
};

// {"removed": "<id or feed name>"}
struct Removed {
  std::string removed;
};

// --- feeds ------------------------------------------------------------------------------------

struct RefreshOutcome {
  std::uint64_t ticket = 0;
  std::string result;  // updated, up_to_date, refused
  std::optional<std::string> code;
  std::optional<std::string> message;
};

struct FeedRefresh {
  bool running = false;
  std::uint64_t requested = 0;
  std::uint64_t completed = 0;
  std::uint64_t consecutive_failures = 0;
  std::optional<std::string> next;
  std::optional<std::string> location;
  std::optional<RefreshOutcome> last;
};

struct RoleInfo {
  std::uint64_t version = 0;
  std::optional<std::string> expires;
};

struct FeedRoles {
  RoleInfo root, timestamp, snapshot, targets;
};

struct FeedRefusal {
  std::string time;
  std::string code;
  std::string message;
};

struct FeedCatalogError {
  std::string code;
  std::string message;
};

// The feed's catalog layer (docs/catalog.md "Catalog files from feeds"): what is installed, and
// the last check of the trusted catalog targets that failed (the installed layer is then the
// previous one).
struct FeedCatalog {
  std::string layer;                              // "feed:<name>"
  std::optional<std::uint64_t> snapshot_version;  // of the installed layer; absent: none
  std::vector<std::string> files;                 // installed target paths
  std::optional<FeedCatalogError> error;
};

struct Feed {
  std::string name;
  std::string location;
  std::vector<std::string> mirrors;
  std::string result;  // updated, up_to_date, refused, never
  std::optional<std::string> last_success;
  std::optional<FeedRefusal> last_refusal;
  bool stale = false;
  std::optional<std::string> stale_since;
  FeedRefresh refresh;
  FeedRoles roles;
  std::uint64_t releases = 0;
  std::optional<FeedCatalog> catalog;   // absent from older daemons
  std::optional<std::uint64_t> ticket;  // absent when empty: only add and refresh answers
};

struct FeedList {
  std::vector<Feed> feeds;
};

// --- follows, scrub, export -------------------------------------------------------------------

struct FollowReason {
  std::string id;
  std::string reason;
};

// The name that means the model catalog where a feed is named in a follow (`weightsctl follow
// catalog`); no feed may be added under it.
inline constexpr std::string_view catalog_source = "catalog";

struct Follow {
  std::int64_t id = 0;
  std::string feed;    // the feed's name; "catalog" for a catalog follow
  std::string source;  // "feed" or "catalog" (absent from older daemons: "feed")
  bool accept_license = false;
  std::optional<std::string> model;
  std::optional<std::string> alias;
  std::uint64_t latest = 1;
  std::uint64_t max_size = 0;
  std::string created;
  std::optional<std::string> last_applied;
  std::vector<std::string> mirroring;
  std::vector<FollowReason> skipped;
  std::vector<FollowReason> refused;
};

struct FollowList {
  std::vector<Follow> follows;
};

// {"removed": <follow id>}
struct FollowRemoved {
  std::int64_t removed = 0;
};

struct ScrubResult {
  std::vector<std::string> queued;
  std::uint64_t rate = 0;
};

struct ExportResult {
  std::string id;
  std::string dir;
  std::string format;  // weights-export/v1
  std::string feed;
  std::string model;
  std::string revision;
  std::uint64_t release_seq = 0;
  std::uint64_t files = 0;
  std::uint64_t total_length = 0;
};

// --- daemon -----------------------------------------------------------------------------------

struct VersionInfo {
  std::int64_t protocol_version = 0;
  std::string version;
};

struct DiskStatus {
  std::uint64_t reserved = 0;
  std::uint64_t budget = 0;
  std::optional<std::uint64_t> free;
};

struct RateLimits {
  std::uint64_t download = 0;
  std::uint64_t upload = 0;
};

// What the BitTorrent session lets the network see and do, as it runs (config [network]).
struct NetworkExposure {
  std::string profile;  // public, private
  std::vector<std::string> listen_interfaces;
  bool dht = false;
  std::vector<std::string> dht_bootstrap_nodes;  // HOST:PORT; empty when DHT is off
  std::vector<std::string> dht_nodes;            // HOST:PORT added to the routing table; same
  bool dht_restrict_ips = true;  // false: several DHT nodes per /24 and IP (loopback nodes only)
  bool lsd = false;
  bool upnp = false;
  bool natpmp = false;
};

// The BitTorrent side of GET /v1/status (present when the engine runs).
struct EngineStatus {
  std::int64_t listen_port = 0;
  // The pin exchange's TCP port (docs/pinned-releases.md §4b); 0 when it does not run.
  std::int64_t pin_exchange_port = 0;
  // Nodes in the DHT routing table (libtorrent's dht.dht_nodes); 0 with the DHT off.
  std::int64_t dht_nodes = 0;
  std::vector<std::string> listen_interfaces;
  std::vector<std::string> outgoing_interfaces;
  std::uint64_t releases = 0;
  std::uint64_t releases_loading = 0;
  std::uint64_t feeds = 0;
  std::int64_t download_rate = 0;
  std::int64_t upload_rate = 0;
  DiskStatus disk;
  RateLimits rate_limits;
  NetworkExposure network;
};

struct DaemonStatus {
  std::string control_socket;
  std::string mode;  // system, user
  std::int64_t pid = 0;
  std::int64_t protocol_version = 0;
  std::string state_dir;
  std::int64_t uptime_s = 0;
  std::string version;
  std::optional<EngineStatus> engine;  // its fields sit at the top level, absent without one
};

struct LogLevelRequest {
  std::string log_level;
};

struct LogLevelResult {
  std::string log_level;
  std::string previous;
};

// --- requests ---------------------------------------------------------------------------------

struct AddFeedRequest {
  std::string name;
  std::string location;
  std::string root;  // contents of N.root.json
  std::vector<std::string> mirrors;
};

struct FetchRequest {
  std::string name;  // model id or alias (a "name@rev" is split by ReleaseRef first)
  std::optional<std::string> revision;
  std::vector<std::string> include;
  std::vector<std::string> peers;
  std::optional<std::string> hf_cache;  // absolute directory
  // The user accepts the release's licence (and a gated repository's terms): recorded by the
  // daemon for the repository and licence, so later fetches of it need not say so again.
  bool accept_license = false;
};

struct SeedRequest {
  std::string feed;
  std::string model;
  std::string revision;
  std::string dir;
};

struct PeersRequest {
  std::vector<std::string> peers;
};

struct FollowRequest {
  std::string feed;             // a feed's name, or catalog_source
  bool accept_license = false;  // catalog follows only
  std::optional<std::string> model;
  std::optional<std::string> alias;
  std::optional<std::uint64_t> latest;
  std::optional<std::uint64_t> max_size;
};

struct ScrubRequest {
  std::optional<std::string> release;
};

struct ExportRequest {
  std::string dir;
};

// One reader and one writer per struct. read() is found by ADL from io::Fields and from_json.
#define WEIGHTS_API_TYPE(T)                                                              \
  Status read(const nlohmann::json& j, T& out, const std::string& where, UnknownFields); \
  void to_json(nlohmann::json& j, const T& v);
WEIGHTS_API_TYPE(ErrorInfo)
WEIGHTS_API_TYPE(ErrorBody)
WEIGHTS_API_TYPE(ReleaseFile)
WEIGHTS_API_TYPE(HfCacheInfo)
WEIGHTS_API_TYPE(LicenseInfo)
WEIGHTS_API_TYPE(UpstreamInfo)
WEIGHTS_API_TYPE(DownloadSource)
WEIGHTS_API_TYPE(HubStatusInfo)
WEIGHTS_API_TYPE(Release)
WEIGHTS_API_TYPE(ReleaseList)
WEIGHTS_API_TYPE(Removed)
WEIGHTS_API_TYPE(RefreshOutcome)
WEIGHTS_API_TYPE(FeedRefresh)
WEIGHTS_API_TYPE(RoleInfo)
WEIGHTS_API_TYPE(FeedRoles)
WEIGHTS_API_TYPE(FeedRefusal)
WEIGHTS_API_TYPE(FeedCatalogError)
WEIGHTS_API_TYPE(FeedCatalog)
WEIGHTS_API_TYPE(Feed)
WEIGHTS_API_TYPE(FeedList)
WEIGHTS_API_TYPE(FollowReason)
WEIGHTS_API_TYPE(Follow)
WEIGHTS_API_TYPE(FollowList)
WEIGHTS_API_TYPE(FollowRemoved)
WEIGHTS_API_TYPE(ScrubResult)
WEIGHTS_API_TYPE(ExportResult)
WEIGHTS_API_TYPE(VersionInfo)
WEIGHTS_API_TYPE(DiskStatus)
WEIGHTS_API_TYPE(RateLimits)
WEIGHTS_API_TYPE(NetworkExposure)
WEIGHTS_API_TYPE(EngineStatus)
WEIGHTS_API_TYPE(DaemonStatus)
WEIGHTS_API_TYPE(LogLevelRequest)
WEIGHTS_API_TYPE(LogLevelResult)
WEIGHTS_API_TYPE(AddFeedRequest)
WEIGHTS_API_TYPE(FetchRequest)
WEIGHTS_API_TYPE(SeedRequest)
WEIGHTS_API_TYPE(PeersRequest)
WEIGHTS_API_TYPE(FollowRequest)
WEIGHTS_API_TYPE(ScrubRequest)
WEIGHTS_API_TYPE(ExportRequest)
#undef WEIGHTS_API_TYPE

}  // namespace weights::api
