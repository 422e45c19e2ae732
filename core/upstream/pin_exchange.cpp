#include "core/upstream/pin_exchange.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "core/util/atomic_file.hpp"
#include "core/util/crypto.hpp"
#include "core/util/encoding.hpp"
#include "core/util/json.hpp"
#include "core/util/path_policy.hpp"

namespace weights::upstream {

namespace {

constexpr std::string_view objects_segment = "objects";
// Targets under this are the pin exchange's (a bad one is a 400); any other is a 404.
constexpr std::string_view exchange_root = "/weightsd-pin/";
constexpr std::string_view json_type = "application/json";
constexpr std::string_view bytes_type = "application/octet-stream";
constexpr std::string_view text_type = "text/plain; charset=utf-8";
constexpr std::array<std::string_view, 8> offer_keys = {
    "bt_port",      "commit", "info_hash_v2", "objects_sha256",
    "objects_size", "repo",   "rule",         "upstream"};

// A peer's string in an error message, escaped so that it cannot forge a log line.
std::string quote(std::string_view s) {
  return "\"" + escape_path_for_message(s) + "\"";
}

bool is_lower_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

PinResponse text(unsigned status, std::string reason) {
  return {status, std::string(text_type), std::move(reason) + "\n"};
}

Result<std::string> hex_field(const json::Json& obj, std::string_view key, std::size_t bytes) {
  auto value = json::get_string(obj, key, "offer");
  if (!value) return value;
  if (!is_lower_hex(*value, bytes)) {
    return fail(Errc::schema_error,
                fmt::format("offer.{}: expected {} lowercase hex digits", key, bytes * 2));
  }
  return value;
}

// The bundle a held pin serves: its bytes, read from disk when not in memory.
Result<std::string> held_objects(const HeldPin& held) {
  if (held.objects) {
    if (held.objects->size() > max_git_bundle_bytes) {
      return fail(Errc::too_large, "the held git object bundle is over the limit");
    }
    return *held.objects;
  }
  return read_file(held.objects_path, max_git_bundle_bytes);
}

// A peer answers for itself: no redirect (to a third party), no retry (a busy peer is skipped).
HttpOptions peer_options(const HttpOptions& options) {
  HttpOptions o = options;
  o.max_redirects = 0;
  o.max_attempts = 1;
  o.default_retry_after.reset();
  return o;
}

Result<std::string> get_body(const units::Endpoint& peer, const RendezvousKey& key,
                             PinResource resource, std::uint64_t max_bytes,
                             const HttpOptions& options) {
  const std::string url = pin_url(peer, key, resource);
  auto parsed = parse_url(url);
  if (!parsed) return tl::unexpected(parsed.error());
  std::string body;
  HttpRequest request;
  request.url = *parsed;
  request.max_bytes = max_bytes;
  request.sink = [&body](std::string_view chunk) -> Status {
    body.append(chunk);
    return {};
  };
  auto got = http_request(request, peer_options(options));
  if (!got) return tl::unexpected(got.error());
  if (got->head.status != 200) return tl::unexpected(status_error(got->url, got->head));
  return body;
}

}  // namespace

std::string render_offer(const PinOffer& offer) {
  json::Json j = json::Json::object();
  j["rule"] = std::string(pin_rendezvous_rule);
  j["upstream"] = offer.pin.upstream;
  j["repo"] = offer.pin.repo;
  j["commit"] = offer.pin.commit;
  j["info_hash_v2"] = offer.info_hash_v2;
  j["objects_sha256"] = offer.objects_sha256;
  j["objects_size"] = offer.objects_size;
  j["bt_port"] = offer.bt_port;
  return json::dump_compact(j);
}

Result<PinOffer> parse_offer(std::string_view body) {
  if (body.size() > max_pin_offer_bytes) {
    return fail(Errc::too_large,
                fmt::format("offer: {} bytes, more than {}", body.size(), max_pin_offer_bytes));
  }
  auto parsed = json::parse_strict(body, {.max_bytes = max_pin_offer_bytes, .max_depth = 2});
  if (!parsed) return tl::unexpected(with_context(parsed.error(), "offer"));
  const json::Json& j = *parsed;
  if (!j.is_object()) return fail(Errc::schema_error, "offer: expected a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (std::find(offer_keys.begin(), offer_keys.end(), key) == offer_keys.end()) {
      return fail(Errc::schema_error, fmt::format("offer: unknown field {}", quote(key)));
    }
  }
  for (std::string_view key : offer_keys) {
    if (!json::has_field(j, key)) {
      return fail(Errc::schema_error, fmt::format("offer.{}: missing", key));
    }
  }
  auto rule = json::get_string(j, "rule", "offer");
  if (!rule) return tl::unexpected(rule.error());
  if (*rule != pin_rendezvous_rule) {
    return fail(Errc::schema_error, fmt::format("offer.rule: {}, expected {}", quote(*rule),
                                                quote(pin_rendezvous_rule)));
  }
  auto upstream = json::get_string(j, "upstream", "offer");
  if (!upstream) return tl::unexpected(upstream.error());
  auto repo = json::get_string(j, "repo", "offer");
  if (!repo) return tl::unexpected(repo.error());
  auto commit = json::get_string(j, "commit", "offer");
  if (!commit) return tl::unexpected(commit.error());
  auto pin = canonical_pin(*upstream, *repo, *commit);
  if (!pin) {
    return fail(Errc::schema_error, fmt::format("offer: {}", pin.error().message));
  }
  // One spelling per pin: a holder renders its canonical pin, so anything else is not a holder.
  if (pin->repo != *repo || pin->commit != *commit) {
    return fail(Errc::schema_error,
                fmt::format("offer: pin {}@{} is not in canonical form (lowercase repo and commit)",
                            *repo, *commit));
  }
  PinOffer offer;
  offer.pin = std::move(*pin);
  auto info_hash = hex_field(j, "info_hash_v2", 32);
  if (!info_hash) return tl::unexpected(info_hash.error());
  offer.info_hash_v2 = std::move(*info_hash);
  auto sha = hex_field(j, "objects_sha256", 32);
  if (!sha) return tl::unexpected(sha.error());
  offer.objects_sha256 = std::move(*sha);
  auto size = json::get_uint(j, "objects_size", "offer");
  if (!size) return tl::unexpected(size.error());
  if (*size == 0 || *size > max_git_bundle_bytes) {
    return fail(Errc::schema_error,
                fmt::format("offer.objects_size: {}, expected 1..{}", *size, max_git_bundle_bytes));
  }
  offer.objects_size = *size;
  auto port = json::get_uint(j, "bt_port", "offer");
  if (!port) return tl::unexpected(port.error());
  if (*port == 0 || *port > 65535) {
    return fail(Errc::schema_error, fmt::format("offer.bt_port: {}, expected 1..65535", *port));
  }
  offer.bt_port = static_cast<std::uint16_t>(*port);
  return offer;
}

std::string key_hex(const RendezvousKey& key) {
  return to_hex(key);
}

std::string pin_target(const RendezvousKey& key, PinResource resource) {
  std::string out = fmt::format("{}{}", pin_exchange_prefix, key_hex(key));
  if (resource == PinResource::objects) out += fmt::format("/{}", objects_segment);
  return out;
}

Result<PinPath> parse_pin_path(std::string_view target) {
  if (target.size() > max_pin_target_bytes) {
    return fail(Errc::parse_error,
                fmt::format("pin exchange target: longer than {} bytes", max_pin_target_bytes));
  }
  if (target.find_first_of("?#") != std::string_view::npos) {
    return fail(Errc::parse_error, "pin exchange target: a query or fragment is not accepted");
  }
  if (target.find('%') != std::string_view::npos) {
    return fail(Errc::parse_error, "pin exchange target: percent-encoding is not accepted");
  }
  if (!target.starts_with(pin_exchange_prefix)) {
    return fail(Errc::parse_error,
                fmt::format("pin exchange target: expected {}<key>", pin_exchange_prefix));
  }
  std::string_view rest = target.substr(pin_exchange_prefix.size());
  const std::string_view key_text = rest.substr(0, std::min(rest.find('/'), rest.size()));
  if (key_text.size() != 40) {
    return fail(Errc::parse_error, "pin exchange target: the key must be 40 lowercase hex digits");
  }
  if (!std::all_of(key_text.begin(), key_text.end(), is_lower_hex_digit)) {
    return fail(Errc::parse_error,
                "pin exchange target: the key must be 40 lowercase hex digits (upper case is "
                "not accepted)");
  }
  PinPath out;
  auto bytes = from_hex_exact(key_text, out.key.size());
  if (!bytes) return tl::unexpected(bytes.error());
  std::copy(bytes->begin(), bytes->end(), out.key.begin());
  rest.remove_prefix(key_text.size());
  if (rest.empty()) {
    out.resource = PinResource::offer;
  } else if (rest == "/objects") {
    out.resource = PinResource::objects;
  } else {
    return fail(Errc::parse_error,
                "pin exchange target: expected nothing or \"/objects\" after the key");
  }
  return out;
}

PinResponse handle_pin_request(std::string_view method, std::string_view target,
                               const PinSource& source) {
  if (method != "GET") return text(405, "only GET is served");
  if (!target.starts_with(exchange_root)) {
    return text(404, "not a pin exchange path");
  }
  auto path = parse_pin_path(target);
  if (!path) return text(400, path.error().message);
  auto held = source.find(path->key);
  if (!held) return text(404, "no release of this pin is held here");
  if (pin_rendezvous_key(held->pin) != path->key) {
    return text(500, "the held release is another pin's");
  }
  if (path->resource == PinResource::offer && held->objects_digest) {
    const auto& d = *held->objects_digest;
    if (d.size == 0) return text(404, "the git objects of this pin are not held here");
    if (d.size > max_git_bundle_bytes) return text(500, "git object bundle too large");
    PinOffer offer;
    offer.pin = held->pin;
    offer.info_hash_v2 = held->info_hash_v2;
    offer.objects_sha256 = d.sha256;
    offer.objects_size = d.size;
    offer.bt_port = held->bt_port;
    return {200, std::string(json_type), render_offer(offer)};
  }
  auto objects = held_objects(*held);
  if (!objects) {
    if (objects.error().code == Errc::too_large) return text(500, "git object bundle too large");
    return text(404, "the git objects of this pin are not held here");
  }
  if (objects->empty()) return text(404, "the git objects of this pin are not held here");
  if (path->resource == PinResource::objects) {
    return {200, std::string(bytes_type), std::move(*objects)};
  }
  PinOffer offer;
  offer.pin = held->pin;
  offer.info_hash_v2 = held->info_hash_v2;
  offer.objects_sha256 = crypto::sha256_hex(*objects);
  offer.objects_size = objects->size();
  offer.bt_port = held->bt_port;
  return {200, std::string(json_type), render_offer(offer)};
}

Result<BundleDigest> BundleDigestCache::get(const std::filesystem::path& path) const {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  const auto mtime =
      ec ? std::filesystem::file_time_type{} : std::filesystem::last_write_time(path, ec);
  if (!ec) {
    std::lock_guard lock(mutex_);
    if (const auto it = entries_.find(path);
        it != entries_.end() && it->second.size == size && it->second.mtime == mtime) {
      return it->second.digest;
    }
  }
  auto bytes = read_file(path, max_git_bundle_bytes);
  if (!bytes) return tl::unexpected(bytes.error());
  BundleDigest d{bytes->size(), crypto::sha256_hex(*bytes)};
  if (!ec && d.size == size) {
    std::lock_guard lock(mutex_);
    entries_[path] = Entry{size, mtime, d};
  }
  return d;
}

std::string pin_url(const units::Endpoint& peer, const RendezvousKey& key, PinResource resource) {
  return fmt::format("http://{}{}", units::format_endpoint(peer), pin_target(key, resource));
}

Result<PinOffer> fetch_pin_offer(const units::Endpoint& peer, const RendezvousKey& key,
                                 const HttpOptions& options) {
  auto body = get_body(peer, key, PinResource::offer, max_pin_offer_bytes, options);
  if (!body) return tl::unexpected(body.error());
  auto offer = parse_offer(*body);
  if (!offer) {
    return tl::unexpected(with_context(offer.error(), pin_url(peer, key, PinResource::offer)));
  }
  return offer;
}

Result<std::string> fetch_pin_objects(const units::Endpoint& peer, const RendezvousKey& key,
                                      std::uint64_t max_bytes, const HttpOptions& options) {
  return get_body(peer, key, PinResource::objects, std::min(max_bytes, max_git_bundle_bytes),
                  options);
}

namespace {

// Step 1 of verify_pin_offer: the offer names the pin asked for.
Status check_offer_pin(const UpstreamPin& pin, const PinOffer& offer) {
  if (offer.pin.commit != pin.commit) {
    return fail(Errc::wrong_target, fmt::format("offer is for commit {}, not the pinned {}",
                                                offer.pin.commit, pin.commit));
  }
  const RendezvousKey want = pin_rendezvous_key(pin);
  const RendezvousKey got = pin_rendezvous_key(offer.pin);
  if (got != want) {
    return fail(Errc::wrong_target,
                fmt::format("offer is for {} {}@{} (key {}), not {} {}@{} (key {})",
                            offer.pin.upstream, offer.pin.repo, offer.pin.commit, key_hex(got),
                            pin.upstream, pin.repo, pin.commit, key_hex(want)));
  }
  return {};
}

}  // namespace

Result<PinnedTree> verify_pin_offer(const UpstreamPin& pin, const PinOffer& offer,
                                    std::string_view objects) {
  if (auto named = check_offer_pin(pin, offer); !named) return tl::unexpected(named.error());
  if (objects.size() != offer.objects_size) {
    return fail(Errc::length_mismatch, fmt::format("git objects: {} bytes, the offer says {}",
                                                   objects.size(), offer.objects_size));
  }
  if (const std::string sha = crypto::sha256_hex(objects); sha != offer.objects_sha256) {
    return fail(Errc::hash_mismatch, fmt::format("git objects: SHA-256 {}, the offer says {}", sha,
                                                 offer.objects_sha256));
  }
  auto tree = read_git_bundle(objects, pin.commit);
  if (!tree) {
    return tl::unexpected(
        with_context(tree.error(), fmt::format("objects are not commit {}'s", pin.commit)));
  }
  return tree;
}

std::chrono::milliseconds pin_objects_deadline(const PinFetchOptions& options,
                                               std::uint64_t objects_size) {
  const std::uint64_t rate = std::max<std::uint64_t>(options.objects_rate, 1);
  // objects_size <= max_git_bundle_bytes (parse_offer), so the product cannot overflow.
  const std::uint64_t ms = (std::min(objects_size, max_git_bundle_bytes) * 1000 + rate - 1) / rate;
  return options.objects_base + std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

Result<VerifiedPin> fetch_verified_pin(const units::Endpoint& peer, const UpstreamPin& pin,
                                       const PinFetchOptions& options) {
  const RendezvousKey key = pin_rendezvous_key(pin);
  const std::string where = fmt::format("peer {}", units::format_endpoint(peer));
  auto offer = fetch_pin_offer(peer, key, options.offer);
  if (!offer) return tl::unexpected(with_context(offer.error(), where));
  // The offer names the pin before anything is downloaded: verify_pin_offer's first step alone.
  if (auto named = check_offer_pin(pin, *offer); !named) {
    return tl::unexpected(with_context(named.error(), where));
  }
  HttpOptions objects_options = options.objects;
  objects_options.deadline = pin_objects_deadline(options, offer->objects_size);
  auto objects = fetch_pin_objects(peer, key, offer->objects_size, objects_options);
  if (!objects) return tl::unexpected(with_context(objects.error(), where));
  auto tree = verify_pin_offer(pin, *offer, *objects);
  if (!tree) return tl::unexpected(with_context(tree.error(), where));
  return VerifiedPin{std::move(*offer), std::move(*tree), std::move(*objects)};
}

}  // namespace weights::upstream
