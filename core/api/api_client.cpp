#include "core/api/api_client.hpp"

#include <functional>
#include <limits>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>
#include <sys/stat.h>

#include "core/util/json.hpp"

namespace weights::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = asio::local::stream_protocol;
using Stream = beast::basic_stream<local, asio::any_io_executor, beast::unlimited_rate_policy>;

// Beast in Boost 1.74 uses boost::string_view.
beast::string_view bsv(std::string_view s) {
  return {s.data(), s.size()};
}

constexpr const char* unreachable_hint =
    "is weightsd running? try `systemctl status weightsd` (or start `weightsd --user`)";

bool is_unix_socket(const std::filesystem::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

Error unreachable(const std::filesystem::path& path, const beast::error_code& ec) {
  std::string hint = unreachable_hint;
  if (ec == asio::error::access_denied) {
    hint = "ask an administrator to add you to the weightsd group, or run `weightsd --user`";
  }
  return Error{Errc::unavailable,
               fmt::format("cannot reach weightsd at {}: {}", path.string(), ec.message()),
               std::move(hint)};
}

}  // namespace

Endpoint discover_socket(std::string_view socket_flag, const GetEnv& env) {
  if (!socket_flag.empty()) return {std::filesystem::path(socket_flag), "--socket"};
  if (auto v = env(std::string(socket_env).c_str()); v && !v->empty()) {
    return {std::filesystem::path(*v), std::string(socket_env)};
  }
  auto user = default_socket_path(Mode::user, env);
  if (is_unix_socket(user)) return {std::move(user), "user default"};
  return {default_socket_path(Mode::system, env), "system default"};
}

namespace {

// A Unix socket path must fit sockaddr_un.
Status check_socket_path(const std::filesystem::path& socket_path) {
  if (socket_path.native().size() > max_socket_path_length()) {
    return fail(Errc::invalid_argument,
                fmt::format("socket path {} is longer than {} bytes", socket_path.string(),
                            max_socket_path_length()));
  }
  return {};
}

}  // namespace

Result<Response> call(const std::filesystem::path& socket_path, std::string_view method,
                      std::string_view target, std::string_view body,
                      std::chrono::milliseconds timeout) {
  if (auto st = check_socket_path(socket_path); !st) return tl::unexpected(st.error());
  asio::io_context ioc;
  Stream stream(ioc);
  beast::flat_buffer buffer;
  http::request<http::string_body> req{http::string_to_verb(bsv(method)), std::string(target), 11};
  if (req.method() == http::verb::unknown) req.method_string(bsv(method));
  req.set(http::field::host, "weightsd");
  req.set(http::field::user_agent, "weightsctl/" WEIGHTS_VERSION);
  req.set(http::field::accept, bsv(content_type::json));
  if (!body.empty()) req.set(http::field::content_type, bsv(content_type::json));
  req.body() = std::string(body);
  req.prepare_payload();

  http::response_parser<http::string_body> parser;
  parser.body_limit(max_response_bytes);

  // Async operations on a private io_context: the only portable way to put one deadline on
  // connect + write + read (basic_stream's expiry applies to async operations only).
  std::optional<Error> failure;
  const auto path = socket_path;
  stream.expires_after(timeout);
  stream.async_connect(local::endpoint(socket_path.string()), [&](beast::error_code ec) {
    if (ec) {
      failure = ec == beast::error::timeout
                    ? Error{Errc::unavailable,
                            fmt::format("timed out connecting to weightsd at {}", path.string()),
                            unreachable_hint}
                    : unreachable(path, ec);
      return;
    }
    http::async_write(stream, req, [&](beast::error_code wec, std::size_t) {
      if (wec) {
        failure =
            Error{Errc::unavailable,
                  fmt::format("sending to weightsd at {} failed: {}", path.string(), wec.message()),
                  unreachable_hint};
        return;
      }
      http::async_read(stream, buffer, parser, [&](beast::error_code rec, std::size_t) {
        if (rec == beast::error::timeout) {
          failure = Error{Errc::unavailable,
                          fmt::format("weightsd at {} did not answer within {} ms", path.string(),
                                      timeout.count()),
                          "the daemon may be overloaded; check its log"};
        } else if (rec) {
          failure = Error{Errc::unavailable,
                          fmt::format("reading the answer of weightsd at {} failed: {}",
                                      path.string(), rec.message()),
                          unreachable_hint};
        }
      });
    });
  });
  ioc.run();
  if (failure) return tl::unexpected(std::move(*failure));

  auto& msg = parser.get();
  Response res;
  res.status = static_cast<int>(msg.result_int());
  res.content_type = std::string(msg[http::field::content_type]);
  for (const auto& h : msg) {
    if (h.name() == http::field::allow) res.headers.emplace_back("allow", std::string(h.value()));
  }
  res.body = std::move(msg.body());
  beast::error_code ignored;
  stream.socket().shutdown(local::socket::shutdown_both, ignored);
  return res;
}

Result<Response> call(const Endpoint& endpoint, std::string_view method, std::string_view target,
                      std::string_view body, std::chrono::milliseconds timeout) {
  auto res = call(endpoint.path, method, target, body, timeout);
  if (!res && res.error().code == Errc::unavailable) {
    res.error().message += fmt::format(" (socket chosen by {})", endpoint.source);
  }
  return res;
}

Result<nlohmann::json> call_json(const Endpoint& endpoint, std::string_view method,
                                 std::string_view target, std::string_view body,
                                 std::chrono::milliseconds timeout) {
  auto res = call(endpoint, method, target, body, timeout);
  if (!res) return tl::unexpected(std::move(res.error()));
  if (res->status < 200 || res->status > 299) return tl::unexpected(error_from_response(*res));
  auto parsed = json::parse_strict(res->body, json::Limits{max_response_bytes, 64});
  if (!parsed) return tl::unexpected(with_context(std::move(parsed.error()), "weightsd response"));
  return std::move(*parsed);
}

Status call_stream(const Endpoint& endpoint, std::string_view target, const OnData& on_data,
                   const KeepGoing& keep_going, std::chrono::milliseconds idle) {
  const auto& socket_path = endpoint.path;
  if (auto st = check_socket_path(socket_path); !st) return tl::unexpected(st.error());
  asio::io_context ioc;
  Stream stream(ioc);
  asio::steady_timer tick(ioc);
  beast::flat_buffer buffer;
  http::request<http::string_body> req{http::verb::get, std::string(target), 11};
  req.set(http::field::host, "weightsd");
  req.set(http::field::user_agent, "weightsctl/" WEIGHTS_VERSION);
  req.set(http::field::accept, bsv(content_type::event_stream));
  req.prepare_payload();

  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  std::optional<Error> failure;
  bool ok_status = false;
  bool consumer_done = false;
  std::string error_text;  // body of a non-2xx answer
  // Beast keeps a reference to the callback: it must outlive the reads.
  auto on_chunk = [&](std::uint64_t, beast::string_view body, beast::error_code&) {
    if (!ok_status) {
      if (error_text.size() < max_response_bytes) error_text.append(body.data(), body.size());
    } else if (!consumer_done && !on_data(std::string_view(body.data(), body.size()))) {
      consumer_done = true;
    }
    return body.size();
  };
  parser.on_chunk_body(on_chunk);
  const std::string where = socket_path.string();
  auto broken = [&](const beast::error_code& ec) {
    if (failure) return;
    failure =
        ec == beast::error::timeout
            ? Error{Errc::unavailable,
                    fmt::format("weightsd at {} sent nothing for {} s", where, idle.count() / 1000),
                    "the daemon may be overloaded; check its log"}
            : Error{Errc::unavailable,
                    fmt::format("the connection to weightsd at {} broke: {}", where, ec.message()),
                    unreachable_hint};
  };

  std::function<void()> poll = [&] {
    tick.expires_after(std::chrono::milliseconds(100));
    tick.async_wait([&](beast::error_code ec) {
      if (ec) return;
      if (!keep_going()) {
        failure = Error{Errc::unavailable, "stopped", ""};
        beast::error_code ignored;
        stream.socket().close(ignored);
        return;
      }
      poll();
    });
  };
  std::function<void()> read_more = [&] {
    stream.expires_after(idle);
    http::async_read_some(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
      if (consumer_done || (!ec && parser.is_done())) {
        tick.cancel();
        return;
      }
      if (ec) {
        broken(ec);
        tick.cancel();
        return;
      }
      read_more();
    });
  };

  stream.expires_after(default_call_timeout);
  stream.async_connect(local::endpoint(socket_path.string()), [&](beast::error_code ec) {
    if (ec) {
      failure = unreachable(socket_path, ec);
      tick.cancel();
      return;
    }
    http::async_write(stream, req, [&](beast::error_code wec, std::size_t) {
      if (wec) {
        broken(wec);
        tick.cancel();
        return;
      }
      http::async_read_header(stream, buffer, parser, [&](beast::error_code rec, std::size_t) {
        if (rec) {
          broken(rec);
          tick.cancel();
          return;
        }
        const int status = static_cast<int>(parser.get().result_int());
        ok_status = status >= 200 && status <= 299;
        if (ok_status) return read_more();
        http::async_read(stream, buffer, parser, [&, status](beast::error_code bec, std::size_t) {
          Response res;
          res.status = status;
          res.body = error_text + parser.get().body();
          failure =
              bec ? Error{Errc::unavailable, fmt::format("weightsd answered HTTP {}", status), ""}
                  : error_from_response(res);
          tick.cancel();
        });
      });
    });
  });
  poll();
  ioc.run();
  beast::error_code ignored;
  stream.socket().shutdown(local::socket::shutdown_both, ignored);
  if (failure) {
    if (failure->code == Errc::unavailable && failure->message != "stopped") {
      failure->message += fmt::format(" (socket chosen by {})", endpoint.source);
    }
    return tl::unexpected(std::move(*failure));
  }
  return {};
}

}  // namespace weights::api
