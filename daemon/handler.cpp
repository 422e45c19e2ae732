#include "daemon/handler.hpp"

#include <algorithm>
#include <charconv>
#include <exception>

#include <fmt/format.h>

#include "core/api/events.hpp"
#include "core/api/release_ref.hpp"
#include "core/net/fetcher.hpp"
#include "core/util/json.hpp"
#include "core/util/path_policy.hpp"
#include "daemon/engine.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {

using Json = nlohmann::json;
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return out;
}

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

constexpr std::string_view protocol_hint =
    "this daemon speaks control API protocol_version 1 (paths under /v1); see docs/protocol.md";

}  // namespace

std::string_view RouteParams::get(std::string_view name) const {
  for (const auto& [k, v] : values) {
    if (k == name) return v;
  }
  return {};
}

void Router::add(std::string_view method, std::string_view pattern, BodyKind body, RouteFn fn) {
  Route r;
  r.method = std::string(method);
  r.pattern = std::string(pattern);
  for (auto s : split_path(pattern)) r.segments.emplace_back(s);
  r.body = body;
  r.fn = std::move(fn);
  routes_.push_back(std::move(r));
}

api::Response Router::dispatch(const api::Request& req, const Caller& caller) const {
  const std::string_view path = req.path();
  // Trailing slashes and empty segments are not the same resource: match the exact path.
  const bool canonical =
      path.size() > 1 && path.front() == '/' && path.back() != '/' && path.find("//") == path.npos;
  const auto segments = split_path(path);
  // Every segment must decode to text: bytes that are not UTF-8 or control characters would
  // reach names, messages and logs (and JSON cannot carry invalid UTF-8 back).
  for (const auto segment : segments) {
    auto decoded = api::percent_decode(segment);
    if (!decoded || !is_valid_utf8(*decoded) ||
        std::any_of(decoded->begin(), decoded->end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      return api::error_response(
          400, Error{Errc::invalid_argument,
                     fmt::format("path segment \"{}\" is not a valid percent-encoded UTF-8 name",
                                 escape_path_for_message(segment)),
                     "percent-encode names as UTF-8 (see docs/protocol.md)"});
    }
  }

  std::vector<std::string> allowed;
  const Route* match = nullptr;
  RouteParams params;
  for (const auto& route : routes_) {
    if (!canonical || route.segments.size() != segments.size()) continue;
    RouteParams p;
    bool ok = true;
    for (std::size_t i = 0; i < segments.size() && ok; ++i) {
      if (is_param(route.segments[i])) {
        auto decoded = api::percent_decode(segments[i]);
        if (!decoded || decoded->empty()) {
          ok = false;
        } else {
          const auto& s = route.segments[i];
          p.values.emplace_back(s.substr(1, s.size() - 2), std::move(*decoded));
        }
      } else {
        ok = route.segments[i] == segments[i];
      }
    }
    if (!ok) continue;
    if (route.method == req.method) {
      match = &route;
      params = std::move(p);
      break;
    }
    if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
      allowed.push_back(route.method);
    }
  }

  if (match == nullptr && allowed.empty()) {
    return api::error_response(
        404, Error{Errc::not_found,
                   fmt::format("no such endpoint: {} {}", req.method, std::string(path)),
                   std::string(protocol_hint)});
  }
  if (match == nullptr) {
    std::sort(allowed.begin(), allowed.end());
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    auto res = api::error_response(
        405, Error{Errc::invalid_argument,
                   fmt::format("method {} is not allowed on {}", req.method, std::string(path)),
                   fmt::format("allowed: {}", allow)});
    res.headers.emplace_back("allow", allow);
    return res;
  }

  if (req.body.size() > api::max_body_bytes) {
    return api::error_response(
        413, Error{Errc::too_large,
                   fmt::format("request body of {} bytes exceeds the limit of {} bytes",
                               req.body.size(), api::max_body_bytes),
                   ""});
  }
  nlohmann::json body;
  if (match->body == BodyKind::none && !req.body.empty()) {
    return api::error_response(
        400, Error{Errc::invalid_argument,
                   fmt::format("{} {} takes no request body", req.method, match->pattern), ""});
  }
  if (match->body == BodyKind::json ||
      (match->body == BodyKind::optional_json && !req.body.empty())) {
    const std::string_view type = req.header("content-type");
    if (!type.empty() && type.substr(0, type.find(';')) != api::content_type::json) {
      return api::error_response(415, Error{Errc::invalid_argument,
                                            fmt::format("request body must be {}, got '{}'",
                                                        api::content_type::json, std::string(type)),
                                            ""});
    }
    auto parsed = api::parse_json_body(req);
    if (!parsed) return api::error_response(parsed.error());
    body = std::move(*parsed);
  }

  try {
    auto res = match->fn(Call{req, params, body, caller});
    if (!res) return api::error_response(res.error());
    return std::move(*res);
  } catch (const std::exception& e) {
    // A bug in one route must not take the daemon down; the log keeps the detail.
    log::error("internal error in {} {}: {}", req.method, match->pattern, e.what());
    return api::error_response(Error{
        Errc::internal, fmt::format("internal error handling {} {}", req.method, match->pattern),
        "see the weightsd log"});
  }
}

Handler::Handler(DaemonInfo info, SteadyNow now, Engine* engine_ptr)
    : info_(std::move(info)), now_(std::move(now)), engine_(engine_ptr) {
  access_.daemon_euid = info_.euid;
  if (!info_.state_dir.empty()) access_.private_dirs.push_back(info_.state_dir);
  router_.add(api::method::get, api::path::version, BodyKind::none,
              [this](const Call& c) { return version(c); });
  router_.add(api::method::get, api::path::status, BodyKind::none,
              [this](const Call& c) { return status(c); });
  router_.add(api::method::put, api::path::log_level, BodyKind::json,
              [this](const Call& c) { return set_log_level(c); });

  // A route whose engine call returns the JSON body as is, with `status` on success.
  auto forward = [this](int status, auto fn) {
    return [this, status, fn](const Call& c) -> Result<api::Response> {
      auto e = engine();
      if (!e) return tl::unexpected(e.error());
      auto body = fn(**e, c);
      if (!body) return tl::unexpected(body.error());
      return api::json_response(status, *body);
    };
  };
  auto param = [](const Call& c, std::string_view name) { return std::string(c.params.get(name)); };
  using api::method::del;
  using api::method::get;
  using api::method::post;
  namespace p = api::path;
  router_.add(post, p::feeds, BodyKind::json, [this](const Call& c) { return add_feed(c); });
  router_.add(get, p::feeds, BodyKind::none,
              forward(200, [](Engine& e, const Call&) { return e.list_feeds(); }));
  router_.add(get, p::feed, BodyKind::none, forward(200, [param](Engine& e, const Call& c) {
                return e.get_feed(param(c, "name"));
              }));
  router_.add(del, p::feed, BodyKind::none, forward(200, [param](Engine& e, const Call& c) {
                return e.remove_feed(param(c, "name"));
              }));
  router_.add(
      post, p::feed_refresh, BodyKind::optional_json,
      forward(202, [param](Engine& e, const Call& c) { return e.refresh_feed(param(c, "name")); }));
  router_.add(post, p::fetch, BodyKind::json, [this](const Call& c) { return fetch(c); });
  router_.add(post, p::seed, BodyKind::json, [this](const Call& c) { return seed(c); });
  router_.add(get, p::releases, BodyKind::none,
              forward(200, [](Engine& e, const Call&) { return e.list_releases(); }));
  router_.add(get, p::release, BodyKind::none, forward(200, [param](Engine& e, const Call& c) {
                return e.get_release(param(c, "id"));
              }));
  router_.add(del, p::release, BodyKind::none, [this](const Call& c) { return remove_release(c); });
  router_.add(post, p::release_pin, BodyKind::optional_json,
              forward(200, [param](Engine& e, const Call& c) {
                return e.set_pinned(param(c, "id"), true);
              }));
  router_.add(post, p::release_unpin, BodyKind::optional_json,
              forward(200, [param](Engine& e, const Call& c) {
                return e.set_pinned(param(c, "id"), false);
              }));
  router_.add(post, p::release_verify, BodyKind::optional_json,
              forward(202, [param](Engine& e, const Call& c) { return e.verify(param(c, "id")); }));
  router_.add(get, p::release_events, BodyKind::none,
              [this](const Call& c) { return release_events(c); });
  router_.add(post, p::release_peers, BodyKind::json,
              [this](const Call& c) { return add_peers(c); });
  router_.add(post, p::follows, BodyKind::json, [this](const Call& c) { return add_follow(c); });
  router_.add(get, p::follows, BodyKind::none,
              forward(200, [](Engine& e, const Call&) { return e.list_follows(); }));
  router_.add(del, p::follow, BodyKind::none, [this](const Call& c) { return remove_follow(c); });
  router_.add(post, p::scrub, BodyKind::optional_json, [this](const Call& c) { return scrub(c); });
  router_.add(post, p::release_export, BodyKind::json,
              [this](const Call& c) { return export_release(c); });
}

namespace {

// The request body as its struct (core/api/types.hpp), strictly: unknown, missing or
// wrong-typed fields are 422 schema_error naming the field, with an example as the hint.
template <class T>
Result<T> typed_body(const Json& body, std::string_view example) {
  auto v = api::from_json<T>(body, api::UnknownFields::reject, "request body");
  if (!v) {
    Error e = v.error();
    if (e.hint.empty()) e.hint = fmt::format("e.g. {}", example);
    return tl::unexpected(std::move(e));
  }
  return v;
}

Status non_empty(const std::string& value, const char* field) {
  if (value.empty())
    return fail(Errc::schema_error, fmt::format("request body.{}: is empty", field));
  return {};
}

Status non_empty(const std::vector<std::string>& values, const char* field) {
  for (const auto& v : values) {
    if (v.empty()) {
      return fail(Errc::schema_error,
                  fmt::format("request body.{}: expected non-empty strings", field));
    }
  }
  return {};
}

Status absolute(const std::string& path, const char* field) {
  if (path.empty() || path.front() != '/') {
    return fail(Errc::schema_error,
                fmt::format("request body.{}: must be an absolute path", field));
  }
  return {};
}

}  // namespace

std::function<api::EventSource::Step()> release_event_source(
    std::function<Result<api::Release>()> snapshot, SteadyNow now,
    std::chrono::milliseconds keep_alive) {
  struct State {
    std::string last;
    std::chrono::steady_clock::time_point sent{};
  };
  auto state = std::make_shared<State>();
  return [snapshot = std::move(snapshot), now = std::move(now), keep_alive,
          state]() -> api::EventSource::Step {
    auto r = snapshot();
    if (!r) {
      return {api::format_event("error", api::error_body(r.error()).dump(
                                             -1, ' ', false, Json::error_handler_t::replace)),
              true};
    }
    const bool done = r->finished();
    std::string data = Json(*r).dump(-1, ' ', false, Json::error_handler_t::replace);
    const auto t = now();
    if (data == state->last && !done && t - state->sent < keep_alive) return {"", false};
    state->sent = t;
    state->last = data;
    return {api::format_event("release", data), done};
  };
}

Result<std::filesystem::path> Handler::allowed(const Caller& caller,
                                               const std::filesystem::path& path,
                                               Access access) const {
  return check_caller_access(access_, caller, path, access);
}

Status Handler::check_hf_cache(const Call& call, Engine& e, const std::filesystem::path& cache,
                               const FetchRequest& req) const {
  // The cache layout is written when the release completes; check now every directory it will
  // write into that already exists (and the nearest existing ancestor of the others).
  auto target = e.fetch_target(req);
  if (!target) return tl::unexpected(target.error());
  std::string repo = "models--" + target->first;
  if (const auto slash = repo.find('/'); slash != std::string::npos) repo.replace(slash, 1, "--");
  const auto base = cache / repo;
  for (const auto& dir : {base, base / "blobs", base / "snapshots",
                          base / "snapshots" / target->second, base / "refs"}) {
    if (auto ok = allowed(call.caller, dir, Access::write_dir); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  return {};
}

Result<Engine*> Handler::engine() const {
  if (engine_ == nullptr) {
    return fail(Errc::unavailable, "the fetch/seed engine is not running", "see the weightsd log");
  }
  return engine_;
}

Result<api::Response> Handler::add_feed(const Call& call) const {
  auto body = typed_body<api::AddFeedRequest>(
      call.body, R"({"name":"demo","location":"/srv/feed","root":"<root.json>"})");
  if (!body) return tl::unexpected(body.error());
  for (auto st : {non_empty(body->name, "name"), non_empty(body->location, "location"),
                  non_empty(body->root, "root"), non_empty(body->mirrors, "mirrors")}) {
    if (!st) return tl::unexpected(st.error());
  }
  if (body->name == api::catalog_source) {
    return fail(Errc::invalid_argument,
                fmt::format("the feed name \"{}\" is reserved: `follow {}` means the model catalog",
                            api::catalog_source, api::catalog_source),
                "add the feed under another name");
  }
  auto e = engine();
  if (!e) return tl::unexpected(e.error());
  if (auto st = check_feed_name(body->name); !st) return tl::unexpected(st.error());
  // A local feed is read by the daemon from now on: the caller must be able to read it.
  std::vector<std::string> locations{body->location};
  locations.insert(locations.end(), body->mirrors.begin(), body->mirrors.end());
  for (const auto& loc : locations) {
    auto dir = local_feed_dir(loc);
    if (!dir) return tl::unexpected(dir.error());
    if (!*dir || is_privileged(call.caller, access_.daemon_euid)) continue;
    auto base = allowed(call.caller, **dir, Access::read_dir);
    if (!base) return tl::unexpected(base.error());
    // The directory transport reads metadata/ and targets/ (tuf_metadata.cpp): those too.
    for (const char* sub : {"metadata", "targets"}) {
      auto ok = allowed(call.caller, *base / sub, Access::read_dir);
      if (!ok && ok.error().code != Errc::not_found) return tl::unexpected(ok.error());
    }
  }
  auto feed = (*e)->add_feed(body->name, body->location, body->root, body->mirrors);
  if (!feed) return tl::unexpected(feed.error());
  return api::json_response(201, *feed);
}

Result<api::Response> Handler::fetch(const Call& call) const {
  auto body =
      typed_body<api::FetchRequest>(call.body, R"({"name":"gemma-4","include":["*.json"]})");
  if (!body) return tl::unexpected(body.error());
  for (auto st :
       {non_empty(body->name, "name"), non_empty(body->revision.value_or("-"), "revision"),
        non_empty(body->include, "include"), non_empty(body->peers, "peers")}) {
    if (!st) return tl::unexpected(st.error());
  }
  FetchRequest req;
  req.name = body->name;
  req.revision = body->revision;
  req.include = body->include;
  req.peers = body->peers;
  req.accept_license = body->accept_license;
  if (body->hf_cache) {
    if (auto st = absolute(*body->hf_cache, "hf_cache"); !st) return tl::unexpected(st.error());
    auto checked = allowed(call.caller, *body->hf_cache, Access::write_dir);
    if (!checked) return tl::unexpected(checked.error());
    if (!is_privileged(call.caller, access_.daemon_euid)) {
      auto eng = engine();
      if (!eng) return tl::unexpected(eng.error());
      if (auto st = check_hf_cache(call, **eng, *checked, req); !st) {
        return tl::unexpected(st.error());
      }
    }
    // Whether the request named a revision decides which refs the layout may move
    // (hf_cache_refs): "org/name@rev" in the name counts as naming one.
    std::optional<std::string> requested = body->revision;
    if (!requested) {
      if (auto ref = api::ReleaseRef::parse(body->name)) requested = ref->revision;
    }
    req.hf_cache = HfCacheTarget{*checked, std::move(requested)};
  }
  auto e = engine();
  if (!e) return tl::unexpected(e.error());
  auto release = (*e)->fetch(req);
  if (!release) return tl::unexpected(release.error());
  return api::json_response(202, *release);
}

Result<api::Response> Handler::seed(const Call& call) const {
  auto body = typed_body<api::SeedRequest>(
      call.body, R"({"feed":"demo","model":"org/name","revision":"r1","dir":"/data"})");
  if (!body) return tl::unexpected(body.error());
  for (auto st : {non_empty(body->feed, "feed"), non_empty(body->model, "model"),
                  non_empty(body->revision, "revision"), non_empty(body->dir, "dir"),
                  absolute(body->dir, "dir")}) {
    if (!st) return tl::unexpected(st.error());
  }
  SeedRequest req;
  req.feed = body->feed;
  req.model = body->model;
  req.revision = body->revision;
  req.dir = body->dir;
  auto e = engine();
  if (!e) return tl::unexpected(e.error());
  if (!is_privileged(call.caller, access_.daemon_euid)) {
    // Every file the seed reads, checked before the daemon opens any of them: a caller must not
    // learn the digest, length or existence of a file it could not read itself.
    auto checked = allowed(call.caller, req.dir, Access::read_dir);
    if (!checked) return tl::unexpected(checked.error());
    req.dir = *checked;
    auto paths = (*e)->seed_paths(req);
    if (!paths) return tl::unexpected(paths.error());
    for (const auto& p : *paths) {
      auto file = allowed(call.caller, req.dir / p, Access::read_file);
      // A missing file fails the seed as it always did; anything else is refused here.
      if (!file && file.error().code != Errc::not_found) return tl::unexpected(file.error());
    }
  }
  auto release = (*e)->seed(req);
  if (!release) return tl::unexpected(release.error());
  return api::json_response(202, *release);
}

Result<api::Response> Handler::remove_release(const Call& call) const {
  auto query = api::parse_query(call.request.query());
  if (!query) return tl::unexpected(query.error());
  DeleteFiles files = DeleteFiles::no;
  for (const auto& [k, v] : *query) {
    if (k != "delete_files") {
      return fail(Errc::invalid_argument, fmt::format("unknown query parameter '{}'", k),
                  "the only parameter is delete_files=true|false");
    }
    if (v == "true" || v == "1") {
      files = DeleteFiles::yes;
    } else if (v != "false" && v != "0") {
      return fail(Errc::invalid_argument, fmt::format("delete_files='{}' is not true or false", v));
    }
  }
  auto e = engine();
  if (!e) return tl::unexpected(e.error());
  auto body = (*e)->remove_release(std::string(call.params.get("id")), files);
  if (!body) return tl::unexpected(body.error());
  return api::json_response(200, *body);
}

Result<api::Response> Handler::release_events(const Call& call) const {
  auto e = engine();
  if (!e) return tl::unexpected(e.error());
  Engine* engine_ptr = *e;
  const std::string id(call.params.get("id"));
  // An unknown release is a plain 404 before the stream starts.
  auto first = engine_ptr->get_release(id);
  if (!first) return tl::unexpected(first.error());
  api::Response res;
  res.content_type = std::string(api::content_type::event_stream);
  res.stream = std::make_shared<api::EventSource>();
  res.stream->next =
      release_event_source([engine_ptr, id] { return engine_ptr->get_release(id); }, now_);
  return res;
}

Result<api::Response> Handler::add_peers(const Call& call) const {
  auto body = typed_body<api::PeersRequest>(call.body, R"({"peers":["127.0.0.2:6881"]})");
  if (!body) return tl::unexpected(body.error());
  if (auto st = non_empty(body->peers, "peers"); !st) return tl::unexpected(st.error());
  auto e = engine();
  if (!e) return tl::unexpected(e.error());
  auto release = (*e)->add_peers(std::string(call.params.get("id")), body->peers);
  if (!release) return tl::unexpected(release.error());
  return api::json_response(200, *release);
}

Result<api::Response> Handler::version(const Call& /*call*/) const {
  return api::json_response(200, api::VersionInfo{api::protocol_version, info_.version});
}

Result<api::Response> Handler::status(const Call& /*call*/) const {
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(now_() - info_.started).count();
  api::DaemonStatus body;
  body.control_socket = info_.control_socket.string();
  body.mode = std::string(api::mode_name(info_.mode));
  body.pid = info_.pid;
  body.protocol_version = api::protocol_version;
  body.state_dir = info_.state_dir.string();
  body.uptime_s = std::max<std::int64_t>(uptime, 0);
  body.version = info_.version;
  if (engine_ != nullptr) body.engine = engine_->status_fields();
  return api::json_response(200, body);
}

Result<api::Response> Handler::set_log_level(const Call& call) const {
  if (!call.body.is_object()) {
    return fail(Errc::schema_error,
                "request body: expected an object like {\"log_level\":\"debug\"}");
  }
  for (const auto& [key, value] : call.body.items()) {
    if (key != api::field::log_level) {
      return fail(Errc::schema_error, fmt::format("request body: unknown field '{}'", key));
    }
  }
  auto name = json::get_string(call.body, api::field::log_level, "request body");
  if (!name) return tl::unexpected(name.error());
  const auto level = parse_log_level(*name);
  if (!level) {
    return fail(
        Errc::schema_error,
        fmt::format("request body: log_level '{}' is not one of error, warning, info, debug",
                    *name));
  }
  const LogLevel previous = log::level();
  log::set_level(*level);
  log::info("log level set to {} over the control API (was {})", log_level_name(*level),
            log_level_name(previous));
  return api::json_response(200, api::LogLevelResult{std::string(log_level_name(*level)),
                                                     std::string(log_level_name(previous))});
}

Result<api::Response> Handler::add_follow(const Call& call) const {
  auto body = typed_body<api::FollowRequest>(
      call.body, R"({"feed":"demo","model":"google/gemma-*","latest":2})");
  if (!body) return tl::unexpected(body.error());
  for (auto st : {non_empty(body->feed, "feed"), non_empty(body->model.value_or("-"), "model"),
                  non_empty(body->alias.value_or("-"), "alias")}) {
    if (!st) return tl::unexpected(st.error());
  }
  FollowSpec spec;
  if (body->feed == api::catalog_source) {
    spec.source = FollowSource::catalog;
  } else {
    spec.feed = body->feed;
  }
  spec.accept_license = body->accept_license;
  spec.model_glob = body->model.value_or("");
  spec.alias = body->alias.value_or("");
  if (body->latest) {
    if (*body->latest > 10000) {
      return fail(Errc::schema_error, "request body.latest: at most 10000 (0 = every release)");
    }
    spec.latest = static_cast<std::uint32_t>(*body->latest);
  }
  if (body->max_size) spec.max_size = *body->max_size;
  auto e = engine();
  if (!e) return tl::unexpected(e.error());
  auto out = (*e)->add_follow(spec);
  if (!out) return tl::unexpected(out.error());
  return api::json_response(201, *out);
}

Result<api::Response> Handler::remove_follow(const Call& call) const {
  const std::string text(call.params.get("id"));
  std::int64_t id = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || ptr != text.data() + text.size() || id <= 0) {
    return fail(Errc::invalid_argument, fmt::format("'{}' is not a follow id", text),
                "ids are the numbers weightsctl follows shows");
  }
  auto e = engine();
  if (!e) return tl::unexpected(e.error());
  auto out = (*e)->remove_follow(id);
  if (!out) return tl::unexpected(out.error());
  return api::json_response(200, *out);
}

Result<api::Response> Handler::export_release(const Call& call) const {
  auto body = typed_body<api::ExportRequest>(call.body, R"({"dir":"/media/usb/export"})");
  if (!body) return tl::unexpected(body.error());
  if (auto st = absolute(body->dir, "dir"); !st) return tl::unexpected(st.error());
  auto e = engine();
  if (!e) return tl::unexpected(e.error());
  auto checked = allowed(call.caller, body->dir, Access::write_dir);
  if (!checked) return tl::unexpected(checked.error());
  auto out = (*e)->export_release(std::string(call.params.get("id")), *checked);
  if (!out) return tl::unexpected(out.error());
  return api::json_response(200, *out);
}

Result<api::Response> Handler::scrub(const Call& call) const {
  std::optional<std::string> id;
  if (!call.body.is_null()) {
    auto body = typed_body<api::ScrubRequest>(call.body, R"({"release":"org/name@rev"})");
    if (!body) return tl::unexpected(body.error());
    if (auto st = non_empty(body->release.value_or("-"), "release"); !st) {
      return tl::unexpected(st.error());
    }
    id = body->release;
  }
  auto e = engine();
  if (!e) return tl::unexpected(e.error());
  auto out = (*e)->scrub(id);
  if (!out) return tl::unexpected(out.error());
  return api::json_response(202, *out);
}

}  // namespace weights::daemon
