#include "daemon/handler.hpp"

#include <algorithm>
#include <exception>

#include <fmt/format.h>

#include "core/json.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {
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

api::Response Router::dispatch(const api::Request& req) const {
  const std::string_view path = req.path();
  // Trailing slashes and empty segments are not the same resource: match the exact path.
  const bool canonical =
      path.size() > 1 && path.front() == '/' && path.back() != '/' && path.find("//") == path.npos;
  const auto segments = split_path(path);

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
  if (match->body == BodyKind::json) {
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
    auto res = match->fn(Call{req, params, body});
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

Handler::Handler(DaemonInfo info, SteadyNow now) : info_(std::move(info)), now_(std::move(now)) {
  router_.add(api::method::get, api::path::version, BodyKind::none,
              [this](const Call& c) { return version(c); });
  router_.add(api::method::get, api::path::status, BodyKind::none,
              [this](const Call& c) { return status(c); });
  router_.add(api::method::put, api::path::log_level, BodyKind::json,
              [this](const Call& c) { return set_log_level(c); });
}

Result<api::Response> Handler::version(const Call& /*call*/) const {
  return api::json_response(200, {{api::field::version, info_.version},
                                  {api::field::protocol_version, api::protocol_version}});
}

Result<api::Response> Handler::status(const Call& /*call*/) const {
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(now_() - info_.started).count();
  return api::json_response(200, {{api::field::version, info_.version},
                                  {api::field::protocol_version, api::protocol_version},
                                  {api::field::pid, info_.pid},
                                  {api::field::mode, std::string(api::mode_name(info_.mode))},
                                  {api::field::uptime_s, std::max<long long>(uptime, 0)},
                                  {api::field::state_dir, info_.state_dir.string()},
                                  {api::field::control_socket, info_.control_socket.string()}});
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
  return api::json_response(200, {{api::field::log_level, std::string(log_level_name(*level))},
                                  {api::field::previous, std::string(log_level_name(previous))}});
}

}  // namespace weights::daemon
