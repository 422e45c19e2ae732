#include "daemon/control_server.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/log.hpp"

namespace weights::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = asio::local::stream_protocol;
using Stream = beast::basic_stream<local, asio::any_io_executor, beast::unlimited_rate_policy>;

namespace {

beast::string_view bsv(std::string_view s) {
  return {s.data(), s.size()};
}
std::string_view ssv(beast::string_view s) {
  return {s.data(), s.size()};
}

// After a final error response the peer may still be sending (a body we refused). Closing with
// unread data makes the kernel report ECONNRESET to the peer, which can hide our response, so
// drain for at most this long / this much before closing.
constexpr std::chrono::milliseconds linger_timeout{1000};
constexpr std::size_t linger_bytes = 4 * 1024 * 1024;

enum class After { keep_alive, close };

class Session;

// The connecting process as the kernel recorded it at connect(2): SO_PEERCRED for uid, gid and
// pid, SO_PEERGROUPS (Linux >= 4.13) for the supplementary groups. Both come from the socket, so
// they cannot be raced by the peer exiting and its pid being reused (unlike /proc/<pid>/status)
// and they are the groups the process really had, not what the group database says now
// (getgrouplist: a process that dropped groups must not get them back here).
std::optional<Caller> peer_of(int fd) {
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
  Caller c{cred.uid, cred.gid, cred.pid, {}};
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 3; ++attempt) {
    len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      c.groups = std::move(groups);
      return c;
    }
    if (errno != ERANGE) break;
    groups.resize(len / sizeof(gid_t) + 1);
  }
  // Without the supplementary groups the checks only see uid and gid: stricter, never looser.
  log::debug("control: SO_PEERGROUPS failed ({}); checking uid {} without its groups",
             std::generic_category().message(errno), c.uid);
  return c;
}

}  // namespace

struct ControlServer::Impl : std::enable_shared_from_this<ControlServer::Impl> {
  Impl(asio::io_context& ioc, std::filesystem::path p, RequestHandler h, ServerLimits l)
      : acceptor(ioc), path(std::move(p)), handler(std::move(h)), limits(l) {}

  void accept();
  void prune();

  local::acceptor acceptor;
  std::filesystem::path path;
  RequestHandler handler;
  ServerLimits limits;
  ino_t inode = 0;  // of the socket file we created, so stop() never removes someone else's
  dev_t device = 0;
  bool stopped = false;
  std::size_t active = 0;
  std::map<uid_t, std::size_t> active_by_uid;  // counted connections per peer uid
  bool saturated = false;                      // at the connection limit since the last warning
  std::vector<std::weak_ptr<Session>> sessions;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(local::socket socket, std::shared_ptr<ControlServer::Impl> server, Caller caller)
      : stream_(std::move(socket)),
        server_(std::move(server)),
        caller_(std::move(caller)),
        timer_(stream_.get_executor()) {}

  void start() { read_header(); }

  // Rejects the connection because the server is at a connection limit.
  void reject_busy(Error why) { respond(api::error_response(503, why), After::close); }

  const Caller& caller() const { return caller_; }

  // Server shutdown: idle or half-read connections close now; a response being written
  // finishes first (write_done sees `stopped` and closes).
  void stop() {
    if (!writing_) close();
  }

  bool counted = false;

 private:
  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->limits.max_header_bytes));
    parser_->body_limit(server_->limits.max_body_bytes);
    stream_.expires_after(server_->limits.read_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    const auto& req = parser_->get();
    if (req.version() != 11) {
      return respond(
          api::error_response(
              400, Error{Errc::unsupported,
                         fmt::format("HTTP/{}.{} is not supported; the control API speaks HTTP/1.1",
                                     req.version() / 10, req.version() % 10),
                         ""}),
          After::close);
    }
    // curl and others wait for this before sending a large body.
    if (beast::iequals(req[http::field::expect], "100-continue") && !parser_->is_done()) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      writing_ = true;
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code wec, std::size_t) {
                          self->writing_ = false;
                          if (wec || self->server_->stopped) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(server_->limits.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->on_read_error(ec);
                       self->on_request();
                     });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == asio::error::bad_descriptor) {
      // Peer went away, idle timeout, or shutdown: nothing to answer.
      if (ec == beast::error::timeout) log::debug("control: connection timed out");
      return close();
    }
    if (ec == http::error::body_limit) {
      return respond(
          api::error_response(413, Error{Errc::too_large,
                                         fmt::format("request body exceeds the limit of {} bytes",
                                                     server_->limits.max_body_bytes),
                                         ""}),
          After::close);
    }
    if (ec == http::error::header_limit) {
      return respond(
          api::error_response(431, Error{Errc::too_large,
                                         fmt::format("request header exceeds the limit of {} bytes",
                                                     server_->limits.max_header_bytes),
                                         ""}),
          After::close);
    }
    log::debug("control: malformed request: {}", ec.message());
    respond(
        api::error_response(
            400, Error{Errc::parse_error, fmt::format("malformed HTTP request: {}", ec.message()),
                       "the control socket only speaks HTTP/1.1 (see docs/protocol.md)"}),
        After::close);
  }

  void on_request() {
    auto msg = parser_->release();
    api::Request req;
    req.method = std::string(ssv(msg.method_string()));
    req.target = std::string(ssv(msg.target()));
    for (const auto& h : msg) {
      if (h.name() == http::field::content_type || h.name() == http::field::accept) {
        std::string name(ssv(h.name_string()));
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        req.headers.emplace_back(std::move(name), std::string(ssv(h.value())));
      }
    }
    req.body = std::move(msg.body());
    const After after = msg.keep_alive() ? After::keep_alive : After::close;

    const std::string_view path = req.path();
    const bool under_prefix =
        path == api::prefix ||
        (path.size() > api::prefix.size() && path.substr(0, api::prefix.size()) == api::prefix &&
         path[api::prefix.size()] == '/');
    api::Response res;
    if (!under_prefix) {
      res = api::error_response(
          404, Error{Errc::not_found,
                     fmt::format("no such endpoint: {} {}", req.method, std::string(path)),
                     "the control API lives under /v1 (see docs/protocol.md)"});
    } else {
      try {
        res = server_->handler(req, caller_);
      } catch (const std::exception& e) {
        // The handler contract is "never throws"; keep the daemon alive if it does.
        log::error("control: handler threw on {} {}: {}", req.method, req.target, e.what());
        res = api::error_response(
            Error{Errc::internal, "internal error handling the request", "see the weightsd log"});
      }
    }
    log::debug("control: {} {} -> {}", req.method, req.target, res.status);
    respond(std::move(res), after);
  }

  void respond(api::Response res, After after) {
    if (res.stream) return start_stream(std::move(res));
    if (server_->stopped) after = After::close;
    auto msg = std::make_shared<http::response<http::string_body>>();
    msg->version(11);
    msg->result(static_cast<unsigned>(res.status));
    msg->set(http::field::server, "weightsd/" WEIGHTS_VERSION);
    msg->set(http::field::content_type, bsv(res.content_type));
    for (const auto& [k, v] : res.headers) msg->set(bsv(k), bsv(v));
    msg->keep_alive(after == After::keep_alive);
    msg->body() = std::move(res.body);
    msg->prepare_payload();
    writing_ = true;
    stream_.expires_after(server_->limits.read_timeout);
    http::async_write(stream_, *msg,
                      [self = shared_from_this(), msg, after](beast::error_code ec, std::size_t) {
                        self->write_done(ec, after);
                      });
  }

  void write_done(beast::error_code ec, After after) {
    writing_ = false;
    if (ec) return close();
    if (after == After::close || server_->stopped) return linger();
    read_header();
  }

  // A streamed response (api::EventSource): chunked, then the connection closes. The read
  // timeout does not apply between steps; a write that stalls that long ends the stream.
  void start_stream(api::Response res) {
    source_ = std::move(res.stream);
    std::string head =
        fmt::format("HTTP/1.1 {} {}\r\nServer: weightsd/" WEIGHTS_VERSION
                    "\r\nContent-Type: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n",
                    res.status, ssv(http::obsolete_reason(static_cast<http::status>(res.status))),
                    res.content_type);
    if (!res.body.empty()) head += chunk(res.body);
    // The first step goes out with the headers.
    auto step = source_->next();
    if (!step.data.empty()) head += chunk(step.data);
    if (step.done) head += "0\r\n\r\n";
    write_stream(std::move(head), step.done);
  }

  static std::string chunk(std::string_view data) {
    return fmt::format("{:x}\r\n{}\r\n", data.size(), data);
  }

  void write_stream(std::string bytes, bool last) {
    auto buf = std::make_shared<std::string>(std::move(bytes));
    writing_ = true;
    stream_.expires_after(server_->limits.read_timeout);
    asio::async_write(stream_, asio::buffer(*buf),
                      [self = shared_from_this(), buf, last](beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (ec || self->closed_) return self->close();
                        if (last) return self->linger();
                        if (self->server_->stopped) return self->close();
                        self->wait_stream();
                      });
  }

  void wait_stream() {
    timer_.expires_after(source_->interval);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_ || self->server_->stopped) return self->close();
      self->step_stream();
    });
  }

  void step_stream() {
    auto step = source_->next();
    std::string out;
    if (!step.data.empty()) out = chunk(step.data);
    if (step.done) out += "0\r\n\r\n";
    if (out.empty()) return wait_stream();
    write_stream(std::move(out), step.done);
  }

  // Half-close, then discard whatever the peer still sends until EOF, a limit or a deadline.
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(local::socket::shutdown_send, ignored);
    stream_.expires_after(linger_timeout);
    drain();
  }

  void drain() {
    if (drained_ > linger_bytes) return close();
    scratch_.resize(16 * 1024);
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec) return self->close();
                              self->drain();
                            });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    source_.reset();
    stream_.close();
    if (counted) {
      counted = false;
      --server_->active;
      if (auto it = server_->active_by_uid.find(caller_.uid); it != server_->active_by_uid.end()) {
        if (--it->second == 0) server_->active_by_uid.erase(it);
      }
      server_->saturated = false;
    }
  }

  Stream stream_;
  std::shared_ptr<ControlServer::Impl> server_;
  Caller caller_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::vector<char> scratch_;
  std::size_t drained_ = 0;
  bool writing_ = false;
  bool closed_ = false;
  asio::steady_timer timer_;
  std::shared_ptr<api::EventSource> source_;
};

}  // namespace

void ControlServer::Impl::prune() {
  std::erase_if(sessions, [](const std::weak_ptr<Session>& s) { return s.expired(); });
}

void ControlServer::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, local::socket socket) {
    if (self->stopped) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // EMFILE and friends: log and keep accepting rather than going deaf.
      log::warning("control: accept failed: {}", ec.message());
      return self->accept();
    }
    self->prune();
    auto peer = peer_of(socket.native_handle());
    if (!peer) {
      // Not a Unix socket peer we can identify: nobody to check paths against.
      log::warning("control: cannot read the peer's credentials: {}",
                   std::generic_category().message(errno));
      beast::error_code ignored;
      socket.close(ignored);
      return self->accept();
    }
    auto session = std::make_shared<Session>(std::move(socket), self, std::move(*peer));
    self->sessions.push_back(session);
    const uid_t uid = session->caller().uid;
    const std::size_t mine = self->active_by_uid.count(uid) ? self->active_by_uid[uid] : 0;
    if (self->active >= self->limits.max_connections) {
      // Warn once per saturation episode: a flood of refusals must not flood the log.
      if (!self->saturated) {
        log::warning("control: connection limit ({}) reached, refusing new connections",
                     self->limits.max_connections);
        self->saturated = true;
      }
      session->reject_busy(Error{
          Errc::unavailable,
          fmt::format("too many concurrent connections (limit {})", self->limits.max_connections),
          "retry shortly"});
    } else if (uid != 0 && mine >= self->limits.max_connections_per_uid) {
      log::debug("control: uid {} holds {} connections, refusing another", uid, mine);
      session->reject_busy(
          Error{Errc::unavailable,
                fmt::format("too many concurrent connections from uid {} (limit {} per user)", uid,
                            self->limits.max_connections_per_uid),
                "close idle connections, or retry shortly"});
    } else {
      ++self->active;
      ++self->active_by_uid[uid];
      session->counted = true;
      session->start();
    }
    self->accept();
  });
}

ControlServer::ControlServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

ControlServer::~ControlServer() {
  stop();
}

const std::filesystem::path& ControlServer::socket_path() const {
  return impl_->path;
}
std::size_t ControlServer::active_connections() const {
  return impl_->active;
}

void ControlServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  struct stat st {};
  if (::lstat(impl_->path.c_str(), &st) == 0 && st.st_ino == impl_->inode &&
      st.st_dev == impl_->device) {
    ::unlink(impl_->path.c_str());
  }
  for (auto& weak : impl_->sessions) {
    if (auto s = weak.lock()) s->stop();
  }
  impl_->prune();
}

Result<std::unique_ptr<ControlServer>> ControlServer::start(asio::io_context& ioc,
                                                            const std::filesystem::path& path,
                                                            RequestHandler handler,
                                                            ServerLimits limits) {
  const std::string where = path.string();
  if (path.native().size() > api::max_socket_path_length()) {
    return fail(Errc::invalid_argument,
                fmt::format("control socket path {} is longer than {} bytes", where,
                            api::max_socket_path_length()));
  }
  std::error_code fec;
  const auto parent = path.parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent, fec)) {
    std::filesystem::create_directories(parent, fec);
    if (fec) {
      return fail(Errc::io_error, fmt::format("cannot create {} for the control socket: {}",
                                              parent.string(), fec.message()));
    }
    std::filesystem::permissions(parent, static_cast<std::filesystem::perms>(0750), fec);
  }

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail(Errc::already_exists,
                  fmt::format("{} exists and is not a socket; refusing to replace it", where),
                  "remove it or choose another path with --socket");
    }
    // Is anyone home? A live daemon answers the connect; a stale file refuses it.
    local::socket probe(ioc);
    beast::error_code ec;
    probe.connect(local::endpoint(where), ec);
    if (!ec) {
      return fail(Errc::already_exists,
                  fmt::format("another process is already listening on {}", where),
                  "is another weightsd running? stop it, or use a different --socket");
    }
    if (ec != asio::error::connection_refused) {
      return fail(Errc::io_error,
                  fmt::format("cannot probe existing socket {}: {}", where, ec.message()));
    }
    log::info("control: removing stale socket {}", where);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return fail(Errc::io_error, fmt::format("cannot remove stale socket {}: {}", where,
                                              std::generic_category().message(errno)));
    }
  }

  auto impl = std::make_shared<Impl>(ioc, path, std::move(handler), limits);
  beast::error_code ec;
  impl->acceptor.open(local{}, ec);
  if (!ec) {
    // bind() creates the file with the umask applied; make it 0660 from the first instant, then
    // chmod explicitly in case the umask was stricter.
    const mode_t old = ::umask(0117);
    impl->acceptor.bind(local::endpoint(where), ec);
    ::umask(old);
  }
  if (ec) {
    return fail(ec == asio::error::address_in_use ? Errc::already_exists : Errc::io_error,
                fmt::format("cannot bind control socket {}: {}", where, ec.message()));
  }
  if (::chmod(path.c_str(), 0660) != 0 || ::lstat(path.c_str(), &st) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return fail(Errc::io_error, fmt::format("cannot set mode 0660 on {}: {}", where,
                                            std::generic_category().message(err)));
  }
  impl->inode = st.st_ino;
  impl->device = st.st_dev;
  impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    ::unlink(path.c_str());
    return fail(Errc::io_error, fmt::format("cannot listen on {}: {}", where, ec.message()));
  }
  impl->accept();
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(impl)));
}

}  // namespace weights::daemon
