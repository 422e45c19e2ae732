#pragma once
// The pin exchange (docs/pinned-releases.md §4b): how a node found under a pin's rendezvous key
// (core/publish/pinned_torrent.hpp) hands over what a fetcher needs to join the pin's swarm
// without the hub. A small HTTP/1.1 endpoint every node serves:
//
//   GET /weightsd-pin/1/<key: 40 lowercase hex>          -> application/json offer
//   GET /weightsd-pin/1/<key: 40 lowercase hex>/objects  -> the commit's git object bundle
//
// Nothing a peer says is trusted: the offer must name the pin that was asked for, the objects
// must have the offer's size and SHA-256 and then hash to the pinned commit (read_git_bundle),
// which yields the file list; the offer's info-hash is only a lead that the swarm's metadata
// check and the final hashing prove or refute.
//
// This file is the protocol without sockets: the offer's JSON, the request target, a handler
// over plain data (the daemon's server frames bytes and applies the connection limits) and the
// client's requests over the one HTTP client (core/net/http_client.hpp).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/net/http_client.hpp"
#include "core/publish/pinned_torrent.hpp"
#include "core/upstream/git_bundle.hpp"
#include "core/util/error.hpp"
#include "core/util/units.hpp"

namespace weights::upstream {

// The path prefix; its version is the rendezvous rule's (pin_rendezvous_rule).
inline constexpr std::string_view pin_exchange_prefix = "/weightsd-pin/1/";
// Largest offer body a client reads and parse_offer accepts.
inline constexpr std::size_t max_pin_offer_bytes = 4096;
// Largest request target the handler looks at (a valid one has 64 bytes).
inline constexpr std::size_t max_pin_target_bytes = 256;

// What a holder says about the pin it holds. Every field is checked by parse_offer's syntax
// rules; none of it is believed before verify_pin_offer.
struct PinOffer {
  UpstreamPin pin;                 // canonical (canonical_pin)
  std::string info_hash_v2;        // 64 lowercase hex: the pinned torrent's v2 info-hash
  std::string objects_sha256;      // 64 lowercase hex: SHA-256 of the git object bundle
  std::uint64_t objects_size = 0;  // bytes of the bundle, 1..max_git_bundle_bytes
  std::uint16_t bt_port = 0;       // the holder's BitTorrent listen port, same address, 1..65535
  friend bool operator==(const PinOffer&, const PinOffer&) = default;
};

// The offer as JSON (compact, keys sorted):
//   {"bt_port":N,"commit":"..","info_hash_v2":"..","objects_sha256":"..","objects_size":N,
//    "repo":"..","rule":"weightsd-pin/1","upstream":".."}
std::string render_offer(const PinOffer& offer);

// Strict reader of an offer body: at most max_pin_offer_bytes, strict JSON (core/util/json), an
// object with exactly the keys above, "rule" = pin_rendezvous_rule, upstream/repo/commit already
// canonical, lowercase hex of the right lengths, sizes and ports in range. Errors: too_large,
// parse_error (not JSON), schema_error naming the field.
Result<PinOffer> parse_offer(std::string_view body);

enum class PinResource { offer, objects };

struct PinPath {
  RendezvousKey key{};
  PinResource resource = PinResource::offer;
  friend bool operator==(const PinPath&, const PinPath&) = default;
};

// 40 lowercase hex of a key, as in the path.
std::string key_hex(const RendezvousKey& key);

// The request target of a resource: pin_exchange_prefix + key_hex(key) [+ "/objects"].
std::string pin_target(const RendezvousKey& key, PinResource resource);

// Parses a request target: exactly one of the two targets pin_target makes. Refused (parse_error,
// naming the cause): another prefix, a key that is not 40 hex digits, upper-case hex (one
// resource has one spelling, so caches and logs never see two), a query string or fragment,
// percent-encoding, dot segments, empty segments, a trailing slash, anything after "objects",
// targets longer than max_pin_target_bytes.
Result<PinPath> parse_pin_path(std::string_view target);

// The size and SHA-256 (64 lowercase hex) of a bundle, as an offer states them.
struct BundleDigest {
  std::uint64_t size = 0;
  std::string sha256;
  friend bool operator==(const BundleDigest&, const BundleDigest&) = default;
};

// A pin this node can serve: the offer's fields it knows and the bundle. Without
// `objects_digest` the bundle's size and SHA-256 are computed from its bytes for each offer;
// with it, the digest must describe the bytes /objects sends (BundleDigestCache).
struct HeldPin {
  UpstreamPin pin;                             // canonical; its key is the one asked for
  std::string info_hash_v2;                    // 64 lowercase hex
  std::uint16_t bt_port = 0;                   // this node's BitTorrent listen port
  std::filesystem::path objects_path;          // the bundle file; used when `objects` is unset
  std::optional<std::string> objects;          // the bundle in memory (tests, caches)
  std::optional<BundleDigest> objects_digest;  // known digest: an offer reads no bundle
};

// Bundle digests by file, so an offer costs no read of the bundle (up to max_git_bundle_bytes)
// once its file has been hashed. An entry is reused while the file's size and modification time
// are unchanged (bundles are written once, by rename). Thread-safe.
class BundleDigestCache {
 public:
  // The digest of the file at `path`; errors as read_file (not_found, too_large, io_error).
  Result<BundleDigest> get(const std::filesystem::path& path) const;

 private:
  struct Entry {
    std::uintmax_t size = 0;
    std::filesystem::file_time_type mtime;
    BundleDigest digest;
  };
  mutable std::mutex mutex_;
  mutable std::map<std::filesystem::path, Entry> entries_;
};

// What the handler asks of the node: the held pin with this key, if any. Called on the server's
// thread (not the daemon's event loop); an implementation must be safe to call from there.
class PinSource {
 public:
  virtual ~PinSource() = default;
  // nullopt when no release of the key is held, or its bundle is not on disk.
  virtual std::optional<HeldPin> find(const RendezvousKey& key) const = 0;
};

struct PinResponse {
  unsigned status = 200;
  std::string content_type;  // application/json, application/octet-stream or text/plain
  std::string body;          // an offer, a bundle, or a one-line reason
};

// One request, as plain data (the server reads the method and target, writes the response with
// Content-Type and Content-Length, and closes). 200: the offer or the bundle; 400: a target
// under the prefix that parse_pin_path refuses; 404: another path, no held pin with that key, or
// its bundle missing or unreadable; 405: a method other than GET; 500: the held bundle is larger
// than max_git_bundle_bytes or the source's answer is inconsistent (another key's pin). Reads the
// bundle (at most max_git_bundle_bytes) and hashes it for either resource.
PinResponse handle_pin_request(std::string_view method, std::string_view target,
                               const PinSource& source);

// The URL of a resource at a peer's pin exchange endpoint ("http://127.0.0.1:7000/weightsd-pin/
// 1/<key>", IPv6 in brackets).
std::string pin_url(const units::Endpoint& peer, const RendezvousKey& key, PinResource resource);

// GET the offer of `key` from `peer` with the one HTTP client: body at most max_pin_offer_bytes,
// no redirects (a peer answers itself or not at all) and no retries, whatever `options` says;
// the caller's deadline and timeouts apply. Errors: not_found (404: the peer holds no such
// release), the client's errors (unavailable, too_large, io_error), parse_offer's, prefixed
// with the URL.
Result<PinOffer> fetch_pin_offer(const units::Endpoint& peer, const RendezvousKey& key,
                                 const HttpOptions& options);

// GET the bundle of `key` from `peer`: a body of more than `max_bytes` (the offer's size, capped
// at max_git_bundle_bytes by the caller or here) is refused as it arrives. The bytes are
// unchecked: pass them to verify_pin_offer. Errors as fetch_pin_offer's.
Result<std::string> fetch_pin_objects(const units::Endpoint& peer, const RendezvousKey& key,
                                      std::uint64_t max_bytes, const HttpOptions& options);

// Checks a peer's answer against the pin asked for, in this order, and yields the pinned tree:
//  1. the offer names the pin: its commit is the pin's (else wrong_target "offer is for commit
//     X"), and its upstream and repo give the pin's key (else wrong_target naming both);
//  2. the objects have the offer's size (length_mismatch) and SHA-256 (hash_mismatch);
//  3. read_git_bundle(objects, pin.commit): the objects hash to the pinned commit and are
//     exactly its objects (its errors, prefixed "objects are not commit <c>'s").
// `pin` must be canonical. The offer's info_hash_v2 and bt_port are not checked here: the swarm's
// metadata check (daemon/engine/pinned_swarm) and the final hashing do that.
Result<PinnedTree> verify_pin_offer(const UpstreamPin& pin, const PinOffer& offer,
                                    std::string_view objects);

// A peer's answer that verified: the offer (its info-hash a lead), the tree the objects prove,
// and the objects (to keep, so this node can serve them in turn).
struct VerifiedPin {
  PinOffer offer;
  PinnedTree tree;
  std::string objects;
};

// The two requests of one peer's answer. `offer` bounds the offer step (its `deadline`: connect
// and answer); the objects' request runs with `objects`, its `deadline` replaced by
// pin_objects_deadline of the size the offer names, so a peer cannot hold a fetcher longer than
// the bundle it claims to have needs at `objects_rate`.
struct PinFetchOptions {
  HttpOptions offer;
  HttpOptions objects;
  std::chrono::milliseconds objects_base{10000};
  std::uint64_t objects_rate = 64 * 1024;  // bytes per second, > 0
};

// objects_base + objects_size / objects_rate (rounded up to a millisecond).
std::chrono::milliseconds pin_objects_deadline(const PinFetchOptions& options,
                                               std::uint64_t objects_size);

// fetch_pin_offer with `options.offer`, then fetch_pin_objects capped at the offer's size (after
// checking that the offer names `pin`, so a wrong offer costs no download) within
// pin_objects_deadline, then verify_pin_offer. Errors are theirs, each naming the peer.
Result<VerifiedPin> fetch_verified_pin(const units::Endpoint& peer, const UpstreamPin& pin,
                                       const PinFetchOptions& options);

}  // namespace weights::upstream
