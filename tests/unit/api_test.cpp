#include "core/api/api.hpp"

#include <map>

#include <catch2/catch.hpp>

#include "core/util/json.hpp"

using namespace weights;

TEST_CASE("error bodies carry code, message and hint with a matching HTTP status", "[api]") {
  const auto res = api::error_response(Error{Errc::not_found, "no feed 'x'", "try feed list"});
  CHECK(res.status == 404);
  CHECK(res.content_type == "application/json");
  auto j = json::parse_strict(res.body);
  REQUIRE(j);
  CHECK((*j)["error"]["code"] == "not_found");
  CHECK((*j)["error"]["message"] == "no feed 'x'");
  CHECK((*j)["error"]["hint"] == "try feed list");
}

TEST_CASE("an empty hint is omitted from the error body", "[api]") {
  const auto body = api::error_body(Error{Errc::internal, "boom", ""});
  CHECK_FALSE(body["error"].contains("hint"));
}

TEST_CASE("every error code maps to a 4xx or 5xx status", "[api]") {
  CHECK(api::http_status_for(Errc::invalid_argument) == 400);
  CHECK(api::http_status_for(Errc::parse_error) == 400);
  CHECK(api::http_status_for(Errc::already_exists) == 409);
  CHECK(api::http_status_for(Errc::too_large) == 413);
  CHECK(api::http_status_for(Errc::schema_error) == 422);
  CHECK(api::http_status_for(Errc::bad_signature) == 422);
  CHECK(api::http_status_for(Errc::unsupported) == 501);
  CHECK(api::http_status_for(Errc::unavailable) == 503);
  CHECK(api::http_status_for(Errc::io_error) == 500);
  CHECK(api::http_status_for(Errc::permission_denied) == 403);
  for (int i = 0; i <= static_cast<int>(errc_last); ++i) {
    const int s = api::http_status_for(static_cast<Errc>(i));
    CHECK(s >= 400);
    CHECK(s <= 599);
  }
}

TEST_CASE("code names round-trip through errc_from_name", "[api]") {
  for (int i = 0; i <= static_cast<int>(errc_last); ++i) {
    const auto code = static_cast<Errc>(i);
    CHECK(api::errc_from_name(code_name(code)) == code);
  }
  CHECK_FALSE(api::errc_from_name("no_such_code").has_value());
}

TEST_CASE("a client turns an error response back into the same Error", "[api]") {
  const Error original{Errc::rollback, "timestamp v3 < v4", "the feed was rolled back"};
  const auto err = api::error_from_response(api::error_response(original));
  CHECK(err.code == Errc::rollback);
  CHECK(err.message == original.message);
  CHECK(err.hint == original.hint);
}

TEST_CASE("error responses without a JSON body are still described", "[api]") {
  api::Response res;
  res.status = 503;
  res.body = "<html>busy</html>";
  const auto err = api::error_from_response(res);
  CHECK(err.code == Errc::unavailable);
  CHECK(err.message.find("503") != std::string::npos);
}

TEST_CASE("an unknown error code from a newer daemon is kept in the message", "[api]") {
  api::Response res;
  res.status = 409;
  res.body = R"({"error":{"code":"brand_new","message":"m"}})";
  const auto err = api::error_from_response(res);
  CHECK(err.code == Errc::internal);
  CHECK(err.message.find("brand_new") != std::string::npos);
}

TEST_CASE("request target splits into path and query", "[api]") {
  api::Request req;
  req.target = "/v1/releases?feed=demo&q=a%20b+c";
  CHECK(req.path() == "/v1/releases");
  CHECK(req.query() == "feed=demo&q=a%20b+c");
  auto q = api::parse_query(req.query());
  REQUIRE(q);
  REQUIRE(q->size() == 2);
  CHECK((*q)[0] == std::pair<std::string, std::string>{"feed", "demo"});
  CHECK((*q)[1] == std::pair<std::string, std::string>{"q", "a b c"});
  req.target = "/v1/status";
  CHECK(req.path() == "/v1/status");
  CHECK(req.query().empty());
}

TEST_CASE("malformed percent escapes are rejected", "[api]") {
  CHECK_FALSE(api::parse_query("a=%zz"));
  CHECK_FALSE(api::parse_query("a=%4"));
  CHECK(api::percent_decode("a%2Fb").value() == "a/b");
  CHECK(api::percent_decode("a+b").value() == "a+b");
}

TEST_CASE("JSON request bodies are parsed strictly", "[api]") {
  api::Request req;
  req.body = R"({"a":1})";
  CHECK(api::parse_json_body(req));
  req.body = R"({"a":1,"a":2})";
  auto dup = api::parse_json_body(req);
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code == Errc::parse_error);
  CHECK(dup.error().message.rfind("request body: ", 0) == 0);
  req.body = "{";
  CHECK_FALSE(api::parse_json_body(req));
  req.body = "";
  CHECK_FALSE(api::parse_json_body(req));
  req.body = std::string(api::max_body_bytes + 1, ' ');
  auto big = api::parse_json_body(req);
  REQUIRE_FALSE(big);
  CHECK(big.error().code == Errc::too_large);
}

TEST_CASE("socket defaults follow system and XDG conventions", "[api]") {
  auto env = [](std::map<std::string, std::string> vars) -> api::GetEnv {
    return [vars](const char* name) -> std::optional<std::string> {
      auto it = vars.find(name);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  };
  CHECK(api::default_socket_path(api::Mode::system, env({})) == "/run/weightsd/control.sock");
  CHECK(api::default_socket_path(api::Mode::user, env({{"XDG_RUNTIME_DIR", "/run/user/7"}})) ==
        "/run/user/7/weightsd/control.sock");
  CHECK(api::default_socket_path(api::Mode::user, env({{"HOME", "/home/u"}})) ==
        "/home/u/.local/state/weightsd/control.sock");
  // Relative XDG values are ignored, as the spec says.
  CHECK(api::xdg_state_home(env({{"HOME", "/h"}, {"XDG_STATE_HOME", "rel"}})) == "/h/.local/state");
  CHECK(api::xdg_config_home(env({{"XDG_CONFIG_HOME", "/cfg"}})) == "/cfg");
}

TEST_CASE("an error quoting bytes that are not UTF-8 still makes a JSON response", "[api]") {
  const auto res =
      api::error_response(Error{Errc::not_found, "feed \"\xff\xfe\" not found", "hint \xc0"});
  CHECK(res.status == 404);
  auto body = json::parse_strict(res.body);
  REQUIRE(body);
  CHECK((*body)["error"]["code"] == "not_found");
}
