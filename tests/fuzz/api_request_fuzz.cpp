// Fuzzes the control API's request handling as the socket hands it over: method, target
// (path, percent-escapes, query) and body go through Handler::handle without an engine, so the
// router, the strict JSON body parser and every route's request decoder run; routes that need
// the engine answer 503 only after their request decoded. Also fuzzes api::parse_query and
// api::error_from_response (the client reading a daemon's error body).
//
// Input: an HTTP-like text, "METHOD TARGET\n", then header lines "name: value\n" up to an empty
// line, then the body (seeds in corpus/api_request/).
//
// Checks: handle() never throws; the status is a real HTTP status; every response body is one
// strict JSON value followed by a newline; an error response carries {"error":{code,message}}
// and the client side reads back the same code; without an engine nothing answers 2xx but the
// engine-free routes (version, status, log_level).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/api/api.hpp"
#include "core/util/json.hpp"
#include "daemon/handler.hpp"
#include "daemon/log.hpp"

namespace {

using namespace weights;

void check(bool ok) {
  if (!ok) std::abort();
}

std::string_view take_line(std::string_view& in) {
  const auto nl = in.find('\n');
  const std::string_view line = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  return line;
}

daemon::DaemonInfo daemon_info() {
  daemon::DaemonInfo info;
  info.version = "fuzz";
  info.pid = 1;
  info.state_dir = "/var/lib/weightsd";
  info.control_socket = "/run/weightsd/control.sock";
  return info;
}

const daemon::Handler& handler() {
  static const daemon::Handler h(daemon_info());
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  api::Request req;
  const std::string_view first = take_line(in);
  const auto space = first.find(' ');
  req.method = std::string(first.substr(0, space));
  req.target = space == std::string_view::npos ? "" : std::string(first.substr(space + 1));
  while (!in.empty()) {
    const std::string_view line = take_line(in);
    if (line.empty()) break;
    const auto colon = line.find(':');
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    req.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  req.body = std::string(in);

  (void)api::parse_query(req.query());

  // PUT /v1/log_level may raise the level; keep the fuzzer's output to real errors.
  daemon::log::set_level(daemon::LogLevel::error);

  // A root caller: the caller checks are unit-tested; here every decoder is reached.
  const api::Response res = handler().handle(req, Caller{});
  daemon::log::set_level(daemon::LogLevel::error);
  check(res.status >= 200 && res.status <= 599);
  check(!res.body.empty() && res.body.back() == '\n');
  auto body = json::parse_strict(std::string_view(res.body).substr(0, res.body.size() - 1));
  check(body.has_value());
  if (res.status >= 300) {
    const auto err = body->find("error");
    check(err != body->end() && err->is_object());
    check(err->contains("code") && err->contains("message"));
    const Error back = api::error_from_response(res);
    check(api::errc_from_name(code_name(back.code)) == back.code);
  } else {
    const std::string_view path = req.path();
    check(path == api::path::version || path == api::path::status || path == api::path::log_level);
  }

  // The client reading an arbitrary error body from a daemon.
  api::Response foreign;
  foreign.status = 400;
  foreign.body = req.body;
  (void)api::error_from_response(foreign);
  return 0;
}
