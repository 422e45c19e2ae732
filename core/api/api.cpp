#include "core/api/api.hpp"

#include <cstdlib>

#include <fmt/format.h>
#include <sys/un.h>

#include "core/util/json.hpp"

namespace weights::api {

std::string_view Request::path() const {
  const auto q = target.find('?');
  return std::string_view(target).substr(0, q);
}

std::string_view Request::query() const {
  const auto q = target.find('?');
  if (q == std::string::npos) return {};
  return std::string_view(target).substr(q + 1);
}

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

Response json_response(int status, const nlohmann::json& body) {
  Response res;
  res.status = status;
  res.content_type = std::string(content_type::json);
  // Messages echo what the client sent (a path, a method, a field): bytes that are not UTF-8
  // become U+FFFD instead of an exception from dump().
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return res;
}

bool is_verification_error(Errc code) noexcept {
  // No default: a new code is classified here before anything builds.
  switch (code) {
    case Errc::bad_signature:
    case Errc::threshold_not_met:
    case Errc::expired:
    case Errc::rollback:
    case Errc::version_mismatch:
    case Errc::hash_mismatch:
    case Errc::length_mismatch:
    case Errc::wrong_target:
      return true;
    case Errc::invalid_argument:
    case Errc::parse_error:
    case Errc::schema_error:
    case Errc::io_error:
    case Errc::not_found:
    case Errc::already_exists:
    case Errc::too_large:
    case Errc::path_policy:
    case Errc::unsupported:
    case Errc::database_error:
    case Errc::internal:
    case Errc::unavailable:
    case Errc::no_space:
    case Errc::permission_denied:
    case Errc::license_not_accepted:
      return false;
  }
  return false;
}

int http_status_for(Errc code) noexcept {
  if (is_verification_error(code)) return 422;
  switch (code) {
    case Errc::invalid_argument:
    case Errc::parse_error:
      return 400;
    case Errc::not_found:
      return 404;
    case Errc::already_exists:
      return 409;
    case Errc::too_large:
      return 413;
    case Errc::schema_error:
    case Errc::path_policy:
      return 422;
    case Errc::unsupported:
      return 501;
    case Errc::permission_denied:
    case Errc::license_not_accepted:
      return 403;
    case Errc::unavailable:
      return 503;
    case Errc::no_space:
      return 507;
    case Errc::io_error:
    case Errc::database_error:
    case Errc::internal:
      return 500;
    default:  // is_verification_error, above
      break;
  }
  return 500;
}

nlohmann::json error_body(const Error& err) {
  nlohmann::json inner = {{field::code, std::string(code_name(err.code))},
                          {field::message, err.message}};
  if (!err.hint.empty()) inner[field::hint] = err.hint;
  return {{field::error, std::move(inner)}};
}

Response error_response(const Error& err) {
  return error_response(http_status_for(err.code), err);
}

Response error_response(int status, const Error& err) {
  return json_response(status, error_body(err));
}

std::optional<Errc> errc_from_name(std::string_view name) noexcept {
  // Walk the enum through code_name so the two can never disagree.
  for (int i = 0; i <= static_cast<int>(errc_last); ++i) {
    const auto code = static_cast<Errc>(i);
    if (code_name(code) == name) return code;
  }
  return std::nullopt;
}

Error error_from_response(const Response& res) {
  auto parsed = json::parse_strict(res.body, json::Limits{max_body_bytes, 16});
  if (parsed && parsed->is_object()) {
    const auto it = parsed->find(field::error);
    if (it != parsed->end() && it->is_object()) {
      const auto& e = *it;
      Error err;
      const auto code = e.find(field::code);
      const auto message = e.find(field::message);
      const auto hint = e.find(field::hint);
      std::optional<Errc> errc;
      if (code != e.end() && code->is_string()) errc = errc_from_name(code->get<std::string>());
      err.code = errc.value_or(Errc::internal);
      if (message != e.end() && message->is_string()) err.message = message->get<std::string>();
      if (err.message.empty()) err.message = fmt::format("weightsd answered HTTP {}", res.status);
      if (!errc && code != e.end() && code->is_string()) {
        err.message += fmt::format(" (unknown error code '{}')", code->get<std::string>());
      }
      if (hint != e.end() && hint->is_string()) err.hint = hint->get<std::string>();
      return err;
    }
  }
  Errc code = Errc::internal;
  if (res.status == 404) code = Errc::not_found;
  if (res.status == 413) code = Errc::too_large;
  if (res.status == 503) code = Errc::unavailable;
  if (res.status >= 400 && res.status < 500 && code == Errc::internal) {
    code = Errc::invalid_argument;
  }
  return Error{code, fmt::format("weightsd answered HTTP {} without an error body", res.status),
               ""};
}

Result<nlohmann::json> parse_json_body(const Request& req) {
  if (req.body.size() > max_body_bytes) {
    return fail(Errc::too_large, fmt::format("request body: {} bytes exceeds the limit of {} bytes",
                                             req.body.size(), max_body_bytes));
  }
  if (req.body.empty()) return fail(Errc::parse_error, "request body: expected a JSON value");
  auto parsed = json::parse_strict(req.body, json::Limits{max_body_bytes, 32});
  if (!parsed) {
    Error e = with_context(std::move(parsed.error()), "request body");
    if (e.code != Errc::too_large) e.code = Errc::parse_error;
    return tl::unexpected(std::move(e));
  }
  return std::move(*parsed);
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> percent_decode(std::string_view s, PlusIsSpace plus) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus == PlusIsSpace::yes) {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) {
        return fail(Errc::invalid_argument, fmt::format("truncated %-escape in '{}'", s));
      }
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) {
        return fail(Errc::invalid_argument, fmt::format("bad %-escape in '{}'", s));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    auto key = percent_decode(part.substr(0, eq), PlusIsSpace::yes);
    if (!key) return tl::unexpected(key.error());
    std::string value;
    if (eq != std::string_view::npos) {
      auto v = percent_decode(part.substr(eq + 1), PlusIsSpace::yes);
      if (!v) return tl::unexpected(v.error());
      value = std::move(*v);
    }
    out.emplace_back(std::move(*key), std::move(value));
  }
  return out;
}

std::string_view mode_name(Mode mode) noexcept {
  return mode == Mode::system ? "system" : "user";
}

std::optional<std::string> process_env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

namespace {

// XDG variables count only when set to an absolute path (the spec says to ignore relative ones).
std::optional<std::filesystem::path> absolute_env(const GetEnv& env, const char* name) {
  auto v = env(name);
  if (!v || v->empty() || (*v)[0] != '/') return std::nullopt;
  return std::filesystem::path(*v);
}

std::filesystem::path home_dir(const GetEnv& env) {
  if (auto home = absolute_env(env, "HOME")) return *home;
  return std::filesystem::path("/");
}

}  // namespace

std::filesystem::path xdg_state_home(const GetEnv& env) {
  if (auto v = absolute_env(env, "XDG_STATE_HOME")) return *v;
  return home_dir(env) / ".local" / "state";
}

std::filesystem::path xdg_config_home(const GetEnv& env) {
  if (auto v = absolute_env(env, "XDG_CONFIG_HOME")) return *v;
  return home_dir(env) / ".config";
}

std::filesystem::path default_socket_path(Mode mode, const GetEnv& env) {
  if (mode == Mode::system) return std::filesystem::path(system_socket_path);
  if (auto runtime = absolute_env(env, "XDG_RUNTIME_DIR")) {
    return *runtime / "weightsd" / "control.sock";
  }
  return xdg_state_home(env) / "weightsd" / "control.sock";
}

std::size_t max_socket_path_length() noexcept {
  return sizeof(sockaddr_un{}.sun_path) - 1;
}

}  // namespace weights::api
