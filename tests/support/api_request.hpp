#pragma once
// Building control-API requests and reading JSON responses in handler-level tests.
#include <string>
#include <utility>

#include <catch2/catch.hpp>

#include "core/api/api.hpp"
#include "core/api/caller_access.hpp"
#include "core/util/json.hpp"

namespace weights::testing {

inline api::Request request(std::string method, std::string target, std::string body = {}) {
  api::Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  return r;
}

// A caller with the daemon's privileges (tests run as root): paths are not checked.
inline const Caller root_caller{0, 0, 1, {}};

// The response body parsed strictly; fails the test if it is not JSON.
inline json::Json body_of(const api::Response& res) {
  auto j = json::parse_strict(res.body);
  REQUIRE(j);
  return *j;
}

}  // namespace weights::testing
