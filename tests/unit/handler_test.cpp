#include "daemon/handler.hpp"

#include <catch2/catch.hpp>

#include "core/util/json.hpp"
#include "daemon/log.hpp"
#include "support/api_request.hpp"

using namespace weights;
using namespace weights::daemon;
using weights::testing::body_of;
using weights::testing::request;

namespace {

std::string error_code(const api::Response& res) {
  return body_of(res)["error"]["code"].get<std::string>();
}

struct Fixture {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point now = t0 + std::chrono::seconds(42);
  Handler handler{DaemonInfo{"9.9.9", 1234, api::Mode::user, "/tmp/state", "/tmp/state/c.sock", t0},
                  [this] { return now; }};
};

}  // namespace

TEST_CASE("GET /v1/version reports the daemon and protocol versions", "[handler]") {
  Fixture f;
  const auto res = f.handler.handle(request("GET", "/v1/version"), testing::root_caller);
  CHECK(res.status == 200);
  CHECK(res.content_type == "application/json");
  const auto j = body_of(res);
  CHECK(j["version"] == "9.9.9");
  CHECK(j["protocol_version"] == api::protocol_version);
}

TEST_CASE("GET /v1/status summarises the daemon with its uptime", "[handler]") {
  Fixture f;
  const auto j = body_of(f.handler.handle(request("GET", "/v1/status"), testing::root_caller));
  CHECK(j["uptime_s"] == 42);
  CHECK(j["pid"] == 1234);
  CHECK(j["mode"] == "user");
  CHECK(j["state_dir"] == "/tmp/state");
  CHECK(j["control_socket"] == "/tmp/state/c.sock");
  CHECK(j["protocol_version"] == 1);
}

TEST_CASE("a query string does not change which route matches", "[handler]") {
  Fixture f;
  CHECK(f.handler.handle(request("GET", "/v1/status?verbose=1"), testing::root_caller).status ==
        200);
}

TEST_CASE("unknown routes are 404 with a JSON error naming the path", "[handler]") {
  Fixture f;
  for (const char* target :
       {"/v1/nope", "/v2/status", "/", "/v1/status/", "/v1//status", "/v1/status/extra", "/v1"}) {
    INFO(target);
    const auto res = f.handler.handle(request("GET", target), testing::root_caller);
    CHECK(res.status == 404);
    CHECK(error_code(res) == "not_found");
  }
  const auto j = body_of(f.handler.handle(request("GET", "/v1/nope"), testing::root_caller));
  CHECK(j["error"]["message"] == "no such endpoint: GET /v1/nope");
  CHECK(j["error"]["hint"].get<std::string>().find("protocol_version 1") != std::string::npos);
}

TEST_CASE("a method or path that is not UTF-8 gets a JSON error, not an exception", "[handler]") {
  // Fuzz regression (tests/fuzz/regressions/api_request/): the 404 message echoes the request.
  Fixture f;
  for (const auto& [method, target] : {std::pair<std::string, std::string>{"P\xcfST", "/v1/x"},
                                       {"GET", "/v1/\xff\xfe"},
                                       {"DELETE", "/v1/follows/\xff"}}) {
    api::Response res;
    REQUIRE_NOTHROW(res = f.handler.handle(request(method, target), testing::root_caller));
    CHECK(res.status >= 400);
    CHECK(res.status < 500);
    CHECK(body_of(res)["error"].contains("code"));
  }
}

TEST_CASE("a known path with the wrong method is 405 with an Allow header", "[handler]") {
  Fixture f;
  const auto res = f.handler.handle(request("DELETE", "/v1/status"), testing::root_caller);
  CHECK(res.status == 405);
  REQUIRE(res.headers.size() == 1);
  CHECK(res.headers[0].first == "allow");
  CHECK(res.headers[0].second == "GET");
  CHECK(error_code(res) == "invalid_argument");
}

TEST_CASE("a body on a route that takes none is refused", "[handler]") {
  Fixture f;
  const auto res = f.handler.handle(request("GET", "/v1/status", "{}"), testing::root_caller);
  CHECK(res.status == 400);
}

TEST_CASE("without an engine a malformed request is refused before the 503", "[handler]") {
  Fixture f;
  // The request decoders run first (the fuzz target relies on it to reach them).
  CHECK(f.handler.handle(request("POST", "/v1/fetch", R"({"nope":1})"), testing::root_caller)
            .status == 422);
  CHECK(f.handler
            .handle(request("POST", "/v1/seed",
                            R"({"feed":"d","model":"o/n",)"
                            R"("revision":"r","dir":"rel"})"),
                    testing::root_caller)
            .status == 422);
  CHECK(f.handler.handle(request("DELETE", "/v1/follows/x"), testing::root_caller).status == 400);
  // "catalog" is the model catalog's name in a follow: no feed may take it.
  const auto reserved = f.handler.handle(
      request("POST", "/v1/feeds", R"({"name":"catalog","location":"/srv/f","root":"{}"})"),
      testing::root_caller);
  CHECK(reserved.status == 400);
  CHECK(error_code(reserved) == "invalid_argument");
  const auto res =
      f.handler.handle(request("POST", "/v1/fetch", R"({"name":"o/n"})"), testing::root_caller);
  CHECK(res.status == 503);
  CHECK(error_code(res) == "unavailable");
}

TEST_CASE("router: JSON routes get the parsed body and path parameters", "[handler][router]") {
  Router router;
  router.add("POST", "/v1/feeds/{name}/refresh", BodyKind::json,
             [](const Call& c) -> Result<api::Response> {
               return api::json_response(
                   200, {{"name", std::string(c.params.get("name"))}, {"got", c.body["x"]}});
             });
  router.add("GET", "/v1/feeds/{name}/refresh", BodyKind::none,
             [](const Call&) -> Result<api::Response> { return api::json_response(200, {}); });

  auto ok = router.dispatch(request("POST", "/v1/feeds/my%20feed/refresh", R"({"x":7})"),
                            testing::root_caller);
  CHECK(ok.status == 200);
  const auto j = body_of(ok);
  CHECK(j["name"] == "my feed");
  CHECK(j["got"] == 7);

  SECTION("malformed JSON is 400 with a precise message") {
    const auto res =
        router.dispatch(request("POST", "/v1/feeds/a/refresh", R"({"x":)"), testing::root_caller);
    CHECK(res.status == 400);
    const auto e = body_of(res)["error"];
    CHECK(e["code"] == "parse_error");
    CHECK(e["message"].get<std::string>().rfind("request body: ", 0) == 0);
  }
  SECTION("duplicate keys are malformed too") {
    const auto res = router.dispatch(request("POST", "/v1/feeds/a/refresh", R"({"x":1,"x":2})"),
                                     testing::root_caller);
    CHECK(res.status == 400);
  }
  SECTION("a missing body on a JSON route is 400") {
    CHECK(router.dispatch(request("POST", "/v1/feeds/a/refresh"), testing::root_caller).status ==
          400);
  }
  SECTION("a body over the limit is 413 even if the transport let it through") {
    const auto res = router.dispatch(
        request("POST", "/v1/feeds/a/refresh", std::string(api::max_body_bytes + 1, ' ')),
        testing::root_caller);
    CHECK(res.status == 413);
    CHECK(error_code(res) == "too_large");
  }
  SECTION("a non-JSON content type is 415") {
    auto req = request("POST", "/v1/feeds/a/refresh", R"({"x":1})");
    req.headers.emplace_back("content-type", "text/plain");
    CHECK(router.dispatch(req, testing::root_caller).status == 415);
    req.headers[0].second = "application/json; charset=utf-8";
    CHECK(router.dispatch(req, testing::root_caller).status == 200);
  }
  SECTION("405 lists every method registered for the path") {
    const auto res = router.dispatch(request("PUT", "/v1/feeds/a/refresh"), testing::root_caller);
    CHECK(res.status == 405);
    REQUIRE(res.headers.size() == 1);
    CHECK(res.headers[0].second == "GET, POST");
  }
  SECTION("an empty path parameter does not match") {
    CHECK(
        router.dispatch(request("POST", "/v1/feeds//refresh", "{}"), testing::root_caller).status ==
        404);
  }
}

TEST_CASE("router: route errors become error bodies with their status", "[handler][router]") {
  Router router;
  router.add("GET", "/v1/thing", BodyKind::none, [](const Call&) -> Result<api::Response> {
    return fail(Errc::already_exists, "thing exists", "remove it first");
  });
  router.add("GET", "/v1/boom", BodyKind::none,
             [](const Call&) -> Result<api::Response> { throw std::runtime_error("bug"); });
  const auto res = router.dispatch(request("GET", "/v1/thing"), testing::root_caller);
  CHECK(res.status == 409);
  CHECK(body_of(res)["error"]["hint"] == "remove it first");
  const auto boom = router.dispatch(request("GET", "/v1/boom"), testing::root_caller);
  CHECK(boom.status == 500);
  CHECK(error_code(boom) == "internal");
}

TEST_CASE("PUT /v1/log_level changes the runtime log level", "[handler]") {
  Fixture f;
  const auto before = log::level();
  auto req = request("PUT", "/v1/log_level", R"({"log_level":"debug"})");
  const auto res = f.handler.handle(req, testing::root_caller);
  CHECK(res.status == 200);
  CHECK(body_of(res)["log_level"] == "debug");
  CHECK(log::level() == LogLevel::debug);
  log::set_level(before);

  SECTION("malformed JSON is 400") {
    req.body = R"({"log_level":)";
    CHECK(f.handler.handle(req, testing::root_caller).status == 400);
  }
  SECTION("an unknown level or field is 422 naming it") {
    req.body = R"({"log_level":"loud"})";
    auto bad = f.handler.handle(req, testing::root_caller);
    CHECK(bad.status == 422);
    CHECK(body_of(bad)["error"]["message"].get<std::string>().find("loud") != std::string::npos);
    req.body = R"({"log_level":"info","x":1})";
    CHECK(f.handler.handle(req, testing::root_caller).status == 422);
    req.body = R"([1])";
    CHECK(f.handler.handle(req, testing::root_caller).status == 422);
  }
  CHECK(log::level() == before);
}

TEST_CASE("router: a path segment that is not percent-encoded UTF-8 text is 400 before routing",
          "[handler][router]") {
  Router router;
  int calls = 0;
  router.add("GET", "/v1/feeds/{name}", BodyKind::none,
             [&calls](const Call& c) -> Result<api::Response> {
               ++calls;
               return api::json_response(200, {{"name", std::string(c.params.get("name"))}});
             });
  for (const char* target : {"/v1/feeds/%FF", "/v1/feeds/%C0%AF", "/v1/feeds/%E2%82",
                             "/v1/feeds/a%0Ab", "/v1/feeds/a%7F", "/v1/feeds/%G1", "/v1/feeds/%"}) {
    INFO(target);
    const auto res = router.dispatch(request("GET", target), testing::root_caller);
    CHECK(res.status == 400);
    CHECK(error_code(res) == "invalid_argument");
  }
  CHECK(calls == 0);
  const auto ok = router.dispatch(request("GET", "/v1/feeds/caf%C3%A9"), testing::root_caller);
  CHECK(ok.status == 200);
  CHECK(body_of(ok)["name"] == "caf\xc3\xa9");
}

TEST_CASE("release events: a snapshot when it changes, the last one when it is finished",
          "[handler]") {
  std::vector<Result<api::Release>> snapshots;
  api::Release r;
  r.id = "org/name@rev";
  r.state = "downloading";
  snapshots.emplace_back(r);
  snapshots.emplace_back(r);  // unchanged: nothing sent
  r.verified_length = 10;
  snapshots.emplace_back(r);
  r.state = "complete";
  snapshots.emplace_back(r);
  std::size_t i = 0;
  auto t = std::chrono::steady_clock::time_point{};
  auto next = release_event_source([&] { return snapshots.at(i++); }, [&] { return t; });
  auto s1 = next();
  CHECK(s1.data.starts_with("event: release\ndata: {"));
  CHECK(s1.data.find("\"state\":\"downloading\"") != std::string::npos);
  CHECK_FALSE(s1.done);
  CHECK(next().data.empty());
  auto s3 = next();
  CHECK(s3.data.find("\"verified_length\":10") != std::string::npos);
  CHECK_FALSE(s3.done);
  auto s4 = next();
  CHECK(s4.data.find("\"state\":\"complete\"") != std::string::npos);
  CHECK(s4.done);
}

TEST_CASE(
    "release events: unchanged snapshots are repeated as keep-alives, a removed release "
    "ends the stream with an error event",
    "[handler]") {
  api::Release r;
  r.id = "org/name@rev";
  r.state = "downloading";
  bool gone = false;
  auto t = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  auto next = release_event_source(
      [&]() -> Result<api::Release> {
        if (gone) return fail(Errc::not_found, "no release org/name@rev");
        return r;
      },
      [&] { return t; }, std::chrono::seconds(15));
  CHECK_FALSE(next().data.empty());
  t += std::chrono::seconds(14);
  CHECK(next().data.empty());
  t += std::chrono::seconds(2);
  CHECK_FALSE(next().data.empty());
  gone = true;
  auto end = next();
  CHECK(end.done);
  CHECK(end.data ==
        "event: error\ndata: {\"error\":{\"code\":\"not_found\",\"message\":\"no release "
        "org/name@rev\"}}\n\n");
}

TEST_CASE(
    "request bodies are read as their typed struct: unknown, missing or ill-typed fields "
    "are 422 naming the field",
    "[handler]") {
  Fixture f;
  auto error_of = [&](const char* target, const char* body) {
    const auto res = f.handler.handle(request("POST", target, body), testing::root_caller);
    INFO(res.body);
    CHECK(res.status == 422);
    const auto e = body_of(res)["error"];
    CHECK(e["code"] == "schema_error");
    return e["message"].get<std::string>();
  };
  CHECK(error_of("/v1/fetch", R"({"name":3})") ==
        "request body.name: expected a string, got unsigned integer");
  CHECK(error_of("/v1/fetch", R"({"name":"x","incl":[]})") == "request body: unknown field 'incl'");
  CHECK(error_of("/v1/fetch", R"({"name":"x","include":[""]})") ==
        "request body.include: expected non-empty strings");
  CHECK(error_of("/v1/seed", R"({"feed":"f","model":"m","revision":"r"})") ==
        "request body: missing field 'dir'");
  CHECK(error_of("/v1/seed", R"({"feed":"f","model":"m","revision":"r","dir":"rel"})") ==
        "request body.dir: must be an absolute path");
  CHECK(error_of("/v1/follows", R"({"feed":"f","latest":-1})") ==
        "request body.latest: expected an unsigned integer, got integer");
  CHECK(error_of("/v1/releases/x/export", R"([])") ==
        "request body: expected an object, got array");
  // A well-formed request gets past its body to the (absent) engine.
  CHECK(f.handler.handle(request("POST", "/v1/fetch", R"({"name":"x"})"), testing::root_caller)
            .status == 503);
}
