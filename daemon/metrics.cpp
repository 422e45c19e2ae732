#include "daemon/metrics.hpp"

#include <cmath>
#include <stdexcept>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "core/util/units.hpp"

namespace weights::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

bool valid_name(std::string_view n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void MetricsWriter::family(std::string_view name, std::string_view help, MetricType type) {
  if (!valid_name(name)) throw std::logic_error(fmt::format("bad metric name '{}'", name));
  name_ = std::string(name);
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name,
                      type == MetricType::counter ? "counter" : "gauge");
}

void MetricsWriter::sample(const Labels& labels, double value) {
  out_ += name_;
  if (!labels.empty()) {
    out_ += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (!valid_name(labels[i].first) || labels[i].first.find(':') != std::string::npos) {
        throw std::logic_error(fmt::format("bad label name '{}'", labels[i].first));
      }
      out_ += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first,
                          escape_label_value(labels[i].second));
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

struct MetricsServer::Impl : std::enable_shared_from_this<MetricsServer::Impl> {
  Impl(asio::io_context& io, std::function<std::string()> r)
      : ioc(io), acceptor(io), render(std::move(r)) {}
  asio::io_context& ioc;
  tcp::acceptor acceptor;
  std::function<std::string()> render;
  bool stopped = false;

  void accept() {
    acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (self->stopped) return;
      if (!ec) self->serve(std::move(s));
      self->accept();
    });
  }

  void serve(tcp::socket socket) {
    struct Conn {
      beast::tcp_stream stream;
      beast::flat_buffer buffer{8192};
      http::request_parser<http::empty_body> parser;
      http::response<http::string_body> res;
      explicit Conn(tcp::socket s) : stream(std::move(s)) {}
    };
    auto c = std::make_shared<Conn>(std::move(socket));
    c->parser.header_limit(8192);
    c->stream.expires_after(std::chrono::seconds(10));
    http::async_read(
        c->stream, c->buffer, c->parser,
        [self = shared_from_this(), c](beast::error_code ec, std::size_t) {
          if (ec || self->stopped) return;
          const auto& req = c->parser.get();
          auto& res = c->res;
          res.version(11);
          res.keep_alive(false);
          res.set(http::field::server, "weightsd");
          const auto target = req.target();
          if (target != "/metrics" && target != "/") {
            res.result(http::status::not_found);
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            res.body() = "not found: metrics are at /metrics\n";
          } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
            res.result(http::status::method_not_allowed);
            res.set(http::field::allow, "GET, HEAD");
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            res.body() = "only GET\n";
          } else if (target == "/") {
            res.result(http::status::ok);
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            res.body() = "weightsd: Prometheus metrics at /metrics\n";
          } else {
            res.result(http::status::ok);
            res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
            res.body() = self->render();
          }
          const bool head = req.method() == http::verb::head;
          res.prepare_payload();
          if (head) res.body().clear();
          http::async_write(c->stream, res, [c](beast::error_code, std::size_t) {
            beast::error_code ignored;
            c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
          });
        });
  }
};

MetricsServer::MetricsServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  stop();
}

void MetricsServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(asio::io_context& ioc,
                                                            const std::string& endpoint,
                                                            std::function<std::string()> render) {
  auto parsed = units::parse_endpoint(endpoint, units::PortZero::allowed);
  if (!parsed) return tl::unexpected(with_context(parsed.error(), "metrics listen"));
  beast::error_code ec;
  auto impl = std::make_shared<Impl>(ioc, std::move(render));
  const tcp::endpoint ep(parsed->address, parsed->port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail(Errc::unavailable,
                fmt::format("metrics: cannot listen on {}: {}", endpoint, ec.message()),
                "pick another [metrics] listen address, or \"off\"");
  }
  impl->accept();
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

std::string MetricsServer::local_endpoint() const {
  beast::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return "";
  return ep.address().is_v6() ? fmt::format("[{}]:{}", ep.address().to_string(), ep.port())
                              : fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

}  // namespace weights::daemon
