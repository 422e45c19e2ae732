#include "daemon/pin_exchange_server.hpp"

#include <atomic>
#include <map>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "core/util/units.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::uint32_t max_request_head = 8192;

struct PinExchangeServer::Context {
  asio::io_context ioc;
};

struct PinExchangeServer::Impl : std::enable_shared_from_this<PinExchangeServer::Impl> {
  Impl(asio::io_context& c, Handler h, PinServerLimits l)
      : ioc(c), acceptor(c), handle(std::move(h)), limits(l) {}
  asio::io_context& ioc;
  tcp::acceptor acceptor;
  Handler handle;
  PinServerLimits limits;
  // Connections being served, in all and per remote address (server thread only).
  int open = 0;
  std::map<asio::ip::address, int> open_from;
  std::thread thread;

  void accept() {
    acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
      if (!ec) {
        beast::error_code rec;
        const auto remote = s.remote_endpoint(rec).address();
        if (rec) {
          s.close(rec);
        } else if (self->open >= self->limits.max_connections ||
                   self->open_from[remote] >= self->limits.max_per_address) {
          self->refuse(std::move(s));
        } else {
          self->serve(std::move(s), remote);
        }
      }
      self->accept();
    });
  }

  // Over the limits: 503 at once (the client moves on to its next peer).
  void refuse(tcp::socket socket) {
    static const std::string busy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    auto s = std::make_shared<tcp::socket>(std::move(socket));
    asio::async_write(*s, asio::buffer(busy), [s](beast::error_code, std::size_t) {
      beast::error_code ignored;
      s->shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  void serve(tcp::socket socket, const asio::ip::address& remote) {
    struct Conn {
      std::shared_ptr<Impl> server;
      asio::ip::address remote;
      beast::tcp_stream stream;
      beast::flat_buffer buffer{max_request_head};
      http::request_parser<http::empty_body> parser;
      http::response<http::string_body> res;
      Conn(std::shared_ptr<Impl> s, asio::ip::address from, tcp::socket sock)
          : server(std::move(s)), remote(from), stream(std::move(sock)) {
        ++server->open;
        ++server->open_from[remote];
      }
      ~Conn() {
        --server->open;
        if (--server->open_from[remote] <= 0) server->open_from.erase(remote);
      }
    };
    auto c = std::make_shared<Conn>(shared_from_this(), remote, std::move(socket));
    c->parser.header_limit(max_request_head);
    c->parser.body_limit(0);
    c->stream.expires_after(limits.read_timeout);
    http::async_read(c->stream, c->buffer, c->parser, [c](beast::error_code ec, std::size_t) {
      if (ec) return;
      const auto& req = c->parser.get();
      PinHttpAnswer a;
      try {
        a = c->server->handle(std::string(req.method_string()), std::string(req.target()));
      } catch (const std::exception& e) {
        a = {500, "text/plain; charset=utf-8", "internal error\n"};
        log::error("pin exchange: {}", e.what());
      }
      auto& res = c->res;
      res.version(11);
      res.keep_alive(false);
      res.result(static_cast<unsigned>(a.status));
      res.set(http::field::server, "weightsd");
      res.set(http::field::content_type, a.content_type);
      res.body() = std::move(a.body);
      const bool head = req.method() == http::verb::head;
      res.prepare_payload();
      if (head) res.body().clear();
      c->stream.expires_after(c->server->limits.write_timeout);
      http::async_write(c->stream, res, [c](beast::error_code, std::size_t) {
        beast::error_code ignored;
        c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      });
    });
  }
};

PinExchangeServer::~PinExchangeServer() {
  if (!impl_) return;
  asio::post(impl_->ioc, [impl = impl_] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    impl->ioc.stop();
  });
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_.reset();
  ctx_.reset();  // destroys the handlers still queued, and with them the last owners of Impl
}

Result<std::unique_ptr<PinExchangeServer>> PinExchangeServer::start(const std::string& endpoint,
                                                                    Handler handle,
                                                                    PinServerLimits limits) {
  auto parsed = units::parse_endpoint(endpoint, units::PortZero::allowed);
  if (!parsed) return tl::unexpected(with_context(parsed.error(), "pin exchange"));
  auto ctx = std::make_unique<Context>();
  auto impl = std::make_shared<Impl>(ctx->ioc, std::move(handle), limits);
  beast::error_code ec;
  const tcp::endpoint ep(parsed->address, parsed->port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  tcp::endpoint bound;
  if (!ec) bound = impl->acceptor.local_endpoint(ec);
  if (ec) {
    return fail(Errc::unavailable,
                fmt::format("pin exchange: cannot listen on {}: {}", endpoint, ec.message()),
                "pick another [network] pin_exchange address, or \"off\"");
  }
  auto server = std::unique_ptr<PinExchangeServer>(new PinExchangeServer());
  server->ctx_ = std::move(ctx);
  server->port_ = bound.port();
  const auto addr = bound.address().to_string();
  server->local_ = bound.address().is_v6() ? fmt::format("[{}]:{}", addr, bound.port())
                                           : fmt::format("{}:{}", addr, bound.port());
  impl->accept();
  impl->thread = std::thread([raw = impl.get()] {
    try {
      raw->ioc.run();
    } catch (const std::exception& e) {
      log::error("pin exchange stopped: {}", e.what());
    }
  });
  server->impl_ = std::move(impl);
  return server;
}

std::string pin_exchange_endpoint(const std::string& configured,
                                  const std::vector<std::string>& listen_interfaces, bool dht) {
  if (configured == "off" || configured.empty()) return "";
  if (configured != "auto") return configured;
  if (!dht) return "";
  for (const auto& li : listen_interfaces) {
    auto ep = units::parse_endpoint(li, units::PortZero::allowed);
    if (!ep) continue;  // a device name: no address to bind to
    const auto addr = ep->address.to_string();
    return ep->address.is_v6() ? fmt::format("[{}]:0", addr) : fmt::format("{}:0", addr);
  }
  return "";
}

}  // namespace weights::daemon
