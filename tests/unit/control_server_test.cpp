#include "daemon/control_server.hpp"

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/api/api_client.hpp"
#include "core/api/events.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::daemon;
using namespace std::chrono_literals;

namespace {

// Runs a ControlServer on its own io_context thread; stop() is posted to that thread.
class Running {
 public:
  Running(const std::filesystem::path& socket, ServerLimits limits) {
    auto server = ControlServer::start(
        ioc_, socket,
        [this](const api::Request& req, const Caller& caller) {
          ++calls;
          last_uid = caller.uid;
          last_gid = caller.gid;
          last_group = caller.groups.empty() ? 0 : caller.groups.front();
          if (req.target == "/v1/stream" || req.target == "/v1/forever") {
            // Three events then the end, or nothing ever (until shutdown).
            api::Response res;
            res.content_type = std::string(api::content_type::event_stream);
            res.stream = std::make_shared<api::EventSource>();
            res.stream->interval = 10ms;
            const bool forever = req.target == "/v1/forever";
            res.stream->next = [n = 0, forever]() mutable -> api::EventSource::Step {
              if (forever) return {"", false};
              ++n;
              return {api::format_event("tick", std::to_string(n)), n == 3};
            };
            return res;
          }
          return api::json_response(200, {{"target", req.target}});
        },
        limits);
    REQUIRE(server);
    server_ = std::move(*server);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Running() {
    boost::asio::post(ioc_, [this] { server_->stop(); });
    thread_.join();
  }
  std::atomic<int> calls{0};
  std::atomic<uid_t> last_uid{12345};
  std::atomic<gid_t> last_gid{12345};
  std::atomic<gid_t> last_group{12345};

 private:
  boost::asio::io_context ioc_;
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;
};

int raw_connect(const std::filesystem::path& p) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, p.c_str(), sizeof addr.sun_path - 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

template <class F>
bool eventually(F f, std::chrono::milliseconds deadline = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

}  // namespace

TEST_CASE("requests reach the handler and the socket is 0660", "[control_server]") {
  testing::TempDir dir;
  const auto sock = dir / "c.sock";
  Running server(sock, {});
  auto res = api::call(sock, "GET", "/v1/anything?x=1");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body.find("/v1/anything?x=1") != std::string::npos);
  struct stat st {};
  REQUIRE(::stat(sock.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
}

TEST_CASE("targets outside /v1 never reach the handler", "[control_server]") {
  testing::TempDir dir;
  const auto sock = dir / "c.sock";
  Running server(sock, {});
  for (const char* target : {"/", "/v10/x", "/metrics", "/v1x"}) {
    auto res = api::call(sock, "GET", target);
    REQUIRE(res);
    CHECK(res->status == 404);
    CHECK(api::error_from_response(*res).code == Errc::not_found);
  }
  CHECK(server.calls == 0);
}

TEST_CASE("bodies over the limit are 413 without calling the handler", "[control_server]") {
  testing::TempDir dir;
  const auto sock = dir / "c.sock";
  ServerLimits limits;
  limits.max_body_bytes = 100;
  Running server(sock, limits);
  auto res = api::call(sock, "POST", "/v1/x", std::string(101, 'x'));
  REQUIRE(res);
  CHECK(res->status == 413);
  auto ok = api::call(sock, "POST", "/v1/x", std::string(100, 'x'));
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(server.calls == 1);
}

TEST_CASE("connections over the limit get 503 until a slot frees up", "[control_server]") {
  testing::TempDir dir;
  const auto sock = dir / "c.sock";
  ServerLimits limits;
  limits.max_connections = 1;
  limits.read_timeout = 300ms;
  Running server(sock, limits);
  const int idle = raw_connect(sock);  // holds the only slot until the read timeout
  auto busy = api::call(sock, "GET", "/v1/x");
  REQUIRE(busy);
  CHECK(busy->status == 503);
  CHECK(api::error_from_response(*busy).code == Errc::unavailable);
  // The idle connection times out and frees the slot.
  CHECK(eventually([&] {
    auto r = api::call(sock, "GET", "/v1/x");
    return r && r->status == 200;
  }));
  ::close(idle);
}

namespace {

// Runs `fn` in a child process as uid/gid `id` (tests run as root) and returns its exit status.
template <class F>
int as_uid(uid_t id, F fn) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(id, id, id) != 0 ||
        ::setresuid(id, id, id) != 0) {
      ::_exit(99);
    }
    ::_exit(fn());
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

}  // namespace

TEST_CASE("one uid's connections cannot take every slot; the handler learns the peer's uid",
          "[control_server]") {
  testing::TempDir dir;
  REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
  const auto sock = dir / "c.sock";
  ServerLimits limits;
  limits.max_connections = 8;
  limits.max_connections_per_uid = 2;
  Running server(sock, limits);
  REQUIRE(::chmod(sock.c_str(), 0666) == 0);

  int hold[2];  // the first child keeps its connections until the parent writes here
  int report[2];
  REQUIRE(::pipe(hold) == 0);
  REQUIRE(::pipe(report) == 0);
  const pid_t holder = ::fork();
  REQUIRE(holder >= 0);
  if (holder == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(42001, 42001, 42001) != 0 ||
        ::setresuid(42001, 42001, 42001) != 0) {
      ::_exit(99);
    }
    int a = raw_connect(sock);
    int b = raw_connect(sock);
    auto third = api::call(sock, "GET", "/v1/x");
    const char status = third && third->status == 503 ? 'y' : 'n';
    (void)!::write(report[1], &status, 1);
    char c = 0;
    (void)!::read(hold[0], &c, 1);
    ::close(a);
    ::close(b);
    ::_exit(0);
  }
  ::close(report[1]);  // so a child that died is an EOF here, not a hang
  ::close(hold[0]);
  char third = 0;
  REQUIRE(::read(report[0], &third, 1) == 1);
  CHECK(third == 'y');  // a third connection from the same uid is refused

  // Another user, and root, are still served while 42001 holds its two.
  CHECK(as_uid(42002, [&] {
          auto r = api::call(sock, "GET", "/v1/x");
          return r && r->status == 200 ? 0 : 1;
        }) == 0);
  CHECK(server.last_uid == 42002);
  auto mine = api::call(sock, "GET", "/v1/x");
  REQUIRE(mine);
  CHECK(mine->status == 200);
  CHECK(server.last_uid == 0);

  REQUIRE(::write(hold[1], "x", 1) == 1);
  int status = 0;
  REQUIRE(::waitpid(holder, &status, 0) == holder);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  ::close(hold[1]);
  ::close(report[0]);
  // Its slots come back once it has gone.
  CHECK(eventually([&] {
    return as_uid(42001, [&] {
             auto r = api::call(sock, "GET", "/v1/x");
             return r && r->status == 200 ? 0 : 1;
           }) == 0;
  }));
}

TEST_CASE("the handler gets the peer's uid, gid and supplementary groups from the socket",
          "[control_server]") {
  testing::TempDir dir;
  REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
  const auto sock = dir / "c.sock";
  Running server(sock, {});
  REQUIRE(::chmod(sock.c_str(), 0666) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const gid_t groups[] = {42200};
    if (::setgroups(1, groups) != 0 || ::setresgid(42003, 42003, 42003) != 0 ||
        ::setresuid(42001, 42001, 42001) != 0) {
      ::_exit(99);
    }
    auto r = api::call(sock, "GET", "/v1/x");
    ::_exit(r && r->status == 200 ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(server.last_uid == 42001);
  CHECK(server.last_gid == 42003);
  CHECK(server.last_group == 42200);
}

TEST_CASE("the client reports a missing daemon as unavailable with a hint", "[control_server]") {
  testing::TempDir dir;
  auto res = api::call(api::Endpoint{dir / "none.sock", "--socket"}, "GET", "/v1/status");
  REQUIRE_FALSE(res);
  CHECK(res.error().code == Errc::unavailable);
  CHECK(res.error().message.find("cannot reach weightsd at " + (dir / "none.sock").string()) == 0);
  CHECK(res.error().message.find("--socket") != std::string::npos);
  CHECK(res.error().hint.find("systemctl status weightsd") != std::string::npos);
}

TEST_CASE("the client times out on a daemon that never answers", "[control_server]") {
  testing::TempDir dir;
  const auto sock = dir / "c.sock";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 4) == 0);  // accepts into the backlog, never reads
  auto res = api::call(sock, "GET", "/v1/status", {}, 200ms);
  REQUIRE_FALSE(res);
  CHECK(res.error().code == Errc::unavailable);
  ::close(fd);
}

TEST_CASE("a stale socket file is replaced, a live one or a regular file is not",
          "[control_server]") {
  testing::TempDir dir;
  const auto sock = dir / "c.sock";
  {
    // Bound then closed without unlink: what a crashed daemon leaves behind.
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);
  }
  {
    Running server(sock, {});
    CHECK(api::call(sock, "GET", "/v1/x"));

    boost::asio::io_context other;
    auto second = ControlServer::start(
        other, sock, [](const api::Request&, const Caller&) { return api::Response{}; });
    REQUIRE_FALSE(second);
    CHECK(second.error().code == Errc::already_exists);
    CHECK(second.error().message.find("already listening") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(sock));  // stop() removed it

  std::ofstream(dir / "plain") << "not a socket";
  boost::asio::io_context ioc;
  auto res = ControlServer::start(
      ioc, dir / "plain", [](const api::Request&, const Caller&) { return api::Response{}; });
  REQUIRE_FALSE(res);
  CHECK(res.error().message.find("is not a socket") != std::string::npos);
  CHECK(std::filesystem::exists(dir / "plain"));
}

TEST_CASE("a streamed response reaches the client event by event and then ends",
          "[control_server]") {
  testing::TempDir tmp;
  const auto sock = tmp / "c.sock";
  Running server(sock, {});
  api::EventParser parser;
  std::vector<api::Event> events;
  const api::Endpoint ep{sock, "test"};
  auto st = api::call_stream(
      ep, "/v1/stream",
      [&](std::string_view bytes) {
        for (auto& e : parser.feed(bytes)) events.push_back(std::move(e));
        return true;
      },
      [] { return true; }, 5s);
  REQUIRE(st.has_value());
  REQUIRE(events.size() == 3);
  CHECK(events[0].name == "tick");
  CHECK(events[2].data == "3");
  // The connection is closed after the stream: the slot is free again.
  CHECK(eventually([&] { return api::call(sock, "GET", "/v1/x").has_value(); }));
}

TEST_CASE("a stream ends when the client stops and when the server shuts down",
          "[control_server]") {
  testing::TempDir tmp;
  const auto sock = tmp / "c.sock";
  const api::Endpoint ep{sock, "test"};
  {
    Running server(sock, {});
    std::atomic<bool> go{true};
    std::thread stopper([&] {
      std::this_thread::sleep_for(200ms);
      go = false;
    });
    auto st = api::call_stream(
        ep, "/v1/forever", [](std::string_view) { return true; }, [&] { return go.load(); }, 5s);
    stopper.join();
    REQUIRE_FALSE(st.has_value());
    CHECK(st.error().message == "stopped");
  }
  std::optional<Status> result;
  std::thread client;
  {
    Running server(sock, {});
    client = std::thread([&] {
      result = api::call_stream(
          ep, "/v1/forever", [](std::string_view) { return true; }, [] { return true; }, 5s);
    });
    REQUIRE(eventually([&] { return server.calls.load() == 1; }));
  }  // the server stops here: the open stream is closed, not left hanging
  client.join();
  REQUIRE(result.has_value());
  REQUIRE_FALSE(result->has_value());
  CHECK(result->error().code == Errc::unavailable);
}

TEST_CASE("a streamed route's error answer is returned as its error", "[control_server]") {
  testing::TempDir tmp;
  const auto sock = tmp / "c.sock";
  Running server(sock, {});
  auto st = api::call_stream(
      {sock, "test"}, "/elsewhere", [](std::string_view) { return true; }, [] { return true; }, 5s);
  REQUIRE_FALSE(st.has_value());
  CHECK(st.error().code == Errc::not_found);
}
