#include "daemon/daemon.hpp"

#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/completion/completion.hpp"
#include "core/util/units.hpp"
#include "daemon/build_info.hpp"
#include "daemon/control_server.hpp"
#include "daemon/engine.hpp"
#include "daemon/handler.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/notify.hpp"

namespace weights::daemon {
namespace {

namespace asio = boost::asio;

constexpr const char* exit_codes_help =
    "Exit codes: 0 ok, 1 failure, 64 usage error, 70 internal error, 74 I/O error,\n"
    "75 another weightsd holds the state dir or socket, 78 invalid configuration.";

// How often STATUS= is refreshed for `systemctl status` (cheap: one pass over the releases).
constexpr std::chrono::seconds status_interval{10};

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

// Creates the state dir (0750) if missing; an existing one is used as is.
Status ensure_state_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return {};
  if (std::filesystem::exists(dir, ec)) {
    return fail(Errc::io_error,
                fmt::format("state dir {} exists and is not a directory", dir.string()));
  }
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return fail(Errc::io_error,
                fmt::format("cannot create state dir {}: {}", dir.string(), errno_text(errno)),
                "check permissions, or choose another --state-dir");
  }
  ::chmod(dir.c_str(), 0750);  // the umask may have removed group bits
  return {};
}

// flock on <state_dir>/lock for the daemon's lifetime; the file holds the owner's pid so a second
// daemon can say who is in the way. The file is never deleted (deleting lock files races).
class StateLock {
 public:
  static Result<std::unique_ptr<StateLock>> acquire(const std::filesystem::path& dir) {
    const auto path = dir / "lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
      return fail(Errc::io_error,
                  fmt::format("cannot open lock file {}: {}", path.string(), errno_text(errno)));
    }
    auto lock = std::unique_ptr<StateLock>(new StateLock(fd));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err != EWOULDBLOCK) {
        return fail(Errc::io_error,
                    fmt::format("cannot lock {}: {}", path.string(), errno_text(err)));
      }
      char buf[32] = {};
      const auto n = ::pread(fd, buf, sizeof buf - 1, 0);
      std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      return fail(Errc::already_exists,
                  fmt::format("state dir {} is in use by another weightsd (pid {})", dir.string(),
                              holder.empty() ? "unknown" : holder),
                  "stop that daemon first, or give this one another --state-dir");
    }
    const std::string pid = fmt::format("{}\n", ::getpid());
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      return fail(Errc::io_error,
                  fmt::format("cannot write pid to {}: {}", path.string(), errno_text(errno)));
    }
    return lock;
  }
  ~StateLock() { ::close(fd_); }  // releases the flock
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

 private:
  explicit StateLock(int fd) : fd_(fd) {}
  int fd_;
};

// The running daemon: everything lives on the io_context thread.
class Daemon {
 public:
  Daemon(Options options, Config config)
      : options_(std::move(options)),
        config_(std::move(config)),
        signals_(ioc_),
        watchdog_timer_(ioc_),
        status_timer_(ioc_) {}

  Status run() {
    if (auto st = ensure_state_dir(config_.state_dir); !st) return st;
    auto lock = StateLock::acquire(config_.state_dir);
    if (!lock) return tl::unexpected(lock.error());
    lock_ = std::move(*lock);

    DaemonInfo info{
        std::string(version()), static_cast<long>(::getpid()),    config_.mode, config_.state_dir,
        config_.control_socket, std::chrono::steady_clock::now(), ::geteuid()};
    auto engine = Engine::start(ioc_, config_);
    if (!engine) return tl::unexpected(engine.error());
    engine_ = std::move(*engine);
    handler_ =
        std::make_unique<Handler>(std::move(info), &std::chrono::steady_clock::now, engine_.get());
    ServerLimits limits;
    limits.max_connections_per_uid = config_.control_connections_per_user;
    auto server = ControlServer::start(
        ioc_, config_.control_socket,
        [this](const api::Request& r, const Caller& c) { return handler_->handle(r, c); }, limits);
    if (!server) return tl::unexpected(server.error());
    server_ = std::move(*server);
    start_metrics();

    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    signals_.add(SIGHUP);
    wait_for_signal();

    log::info("weightsd {} ({} mode) listening on {}, state dir {}", version(),
              api::mode_name(config_.mode), config_.control_socket.string(),
              config_.state_dir.string());
    // READY only now: the state is open (Engine::start), every release is listed, and the
    // control socket accepts. Releases may still be `loading` (their torrents being added);
    // STATUS= says "loading N/M releases" until they all are.
    notifier_.ready(status_line());
    if (auto period = notifier_.watchdog_period()) {
      log::debug("systemd watchdog: pinging every {} ms", period->count() / 1000);
      schedule_watchdog(*period);
    }
    schedule_status();
    ioc_.run();
    log::info("weightsd stopped");
    return {};
  }

 private:
  // Metrics are an aid, not a duty: a taken port is logged and the daemon runs on.
  void start_metrics() {
    if (config_.metrics_listen.empty()) return;
    auto m = MetricsServer::start(ioc_, config_.metrics_listen, [this]() -> std::string {
      return engine_ ? engine_->metrics_text() : std::string();
    });
    if (!m) {
      log::warning("{} ({})", m.error().message, m.error().hint);
      return;
    }
    metrics_ = std::move(*m);
    log::info("metrics at http://{}/metrics", metrics_->local_endpoint());
  }

  void wait_for_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;  // cancelled during shutdown
      if (signo == SIGHUP) {
        reload();
        return wait_for_signal();
      }
      shutdown(signo);
    });
  }

  // One line for `systemctl status`: what the node holds and moves right now.
  std::string status_line() const {
    std::uint64_t releases = 0, loading = 0, feeds = 0, down = 0, up = 0, port = 0;
    if (engine_) {
      const auto f = engine_->status_fields();
      // Rates and the port are signed in libtorrent.
      auto positive = [](std::int64_t v) { return v > 0 ? static_cast<std::uint64_t>(v) : 0; };
      releases = f.releases;
      loading = f.releases_loading;
      feeds = f.feeds;
      down = positive(f.download_rate);
      up = positive(f.upload_rate);
      port = positive(f.listen_port);
    }
    // Port 0: libtorrent has no listen socket (yet, or at all: it failed to bind).
    const std::string what =
        loading == 0 ? fmt::format("{} release{}", releases, releases == 1 ? "" : "s")
                     : fmt::format("loading {}/{} releases", releases - loading, releases);
    return fmt::format("ready: {}, {} feed{}, down {}/s, up {}/s, {}; control socket {}", what,
                       feeds, feeds == 1 ? "" : "s", units::format_size(down),
                       units::format_size(up),
                       port == 0 ? std::string("no BitTorrent listen port")
                                 : fmt::format("BitTorrent port {}", port),
                       config_.control_socket.string());
  }

  // WATCHDOG=1 from the event loop itself: if the loop wedges, the pings stop and systemd
  // restarts the daemon.
  void schedule_watchdog(std::chrono::microseconds period) {
    notifier_.watchdog();
    watchdog_timer_.expires_after(period);
    watchdog_timer_.async_wait([this, period](const boost::system::error_code& ec) {
      if (!ec) schedule_watchdog(period);
    });
  }

  // Every status_interval; every second while releases are still loading after the start.
  void schedule_status() {
    bool loading = false;
    if (engine_) {
      loading = engine_->status_fields().releases_loading > 0;
    }
    status_timer_.expires_after(loading ? std::chrono::seconds(1) : status_interval);
    status_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      notifier_.status(status_line());
      schedule_status();
    });
  }

  void shutdown(int signo) {
    log::info("received {}, shutting down", signo == SIGINT ? "SIGINT" : "SIGTERM");
    notifier_.stopping();
    if (server_) server_->stop();  // stop accepting, finish responses, remove the socket
    if (metrics_) metrics_->stop();
    boost::system::error_code ignored;
    signals_.cancel(ignored);
    watchdog_timer_.cancel();
    status_timer_.cancel();
    // Resume data for every torrent is saved before the session stops; the engine is destroyed
    // from a fresh handler (never inside its own callback).
    if (engine_) {
      engine_->shutdown([this] { asio::post(ioc_, [this] { engine_.reset(); }); });
    }
    // ioc_.run() returns once the remaining connections have closed and the engine is gone.
  }

  // SIGHUP: re-read config with the original flags. An invalid file keeps the running config.
  void reload() {
    notifier_.reloading();
    auto next = load_config(options_.overrides);
    if (!next) {
      log::error("config reload failed, keeping the running configuration: {}",
                 next.error().to_string());
      notifier_.ready(status_line());
      return;
    }
    // These are bound at startup (lock, socket); changing them needs a restart.
    if (next->state_dir != config_.state_dir || next->control_socket != config_.control_socket ||
        next->mode != config_.mode) {
      log::warning(
          "state_dir/control_socket changes take effect after a restart; keeping {} and {}",
          config_.state_dir.string(), config_.control_socket.string());
      next->state_dir = config_.state_dir;
      next->control_socket = config_.control_socket;
      next->mode = config_.mode;
    }
    const auto changes = describe_changes(config_, *next);
    if (changes.empty()) {
      log::info("config reloaded: no changes");
    } else {
      for (const auto& c : changes) log::info("config reloaded: {}", c);
    }
    config_ = std::move(*next);
    log::set_level(config_.log_level);
    notifier_.ready(status_line());
  }

  Options options_;
  Config config_;
  asio::io_context ioc_;  // declared before everything that registers work on it
  asio::signal_set signals_;
  asio::steady_timer watchdog_timer_;
  asio::steady_timer status_timer_;
  Notifier notifier_;
  std::unique_ptr<StateLock> lock_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<ControlServer> server_;
  std::unique_ptr<MetricsServer> metrics_;
};

void print_error(const Error& err) {
  // Messages may quote a config file or a path: escaped like every log line.
  std::fprintf(stderr, "weightsd: %s\n", log::escape(err.message).c_str());
  if (!err.hint.empty()) std::fprintf(stderr, "hint: %s\n", log::escape(err.hint).c_str());
}

Exit exit_for(const Error& err) {
  switch (err.code) {
    case Errc::already_exists:
      return Exit::in_use;
    case Errc::io_error:
    case Errc::database_error:
      return Exit::io;
    case Errc::internal:
      return Exit::internal;
    default:
      return Exit::failure;
  }
}

}  // namespace

std::optional<int> parse_args(int argc, char** argv, Options& out) {
  CLI::App app{"weightsd: mirrors open-weight model releases over BitTorrent, verified",
               "weightsd"};
  app.footer(
      "Examples:\n"
      "  systemctl start weightsd                  the system service (runs weightsd --system)\n"
      "  weightsd --user &                         a per-user daemon (XDG state and socket)\n"
      "  weightsd --system --check-config          validate /etc/weightsd/weightsd.toml\n"
      "  weightsd --state-dir /tmp/w --socket /tmp/w.sock --listen 127.0.0.2:0\n"
      "\n"
      "Environment: WEIGHTSD_CONFIG, WEIGHTSD_STATE_DIR, WEIGHTSD_SOCKET, WEIGHTSD_LOG_LEVEL\n"
      "(precedence: flags > environment > config file > defaults); WEIGHTSD_NETWORK_PROFILE=\n"
      "public|private: the [network] profile when the config file names none. Under systemd\n"
      "(NOTIFY_SOCKET, JOURNAL_STREAM) it reports readiness, status and watchdog pings and logs\n"
      "with journal priorities; SIGHUP reloads the config file.\n"
      "\n" +
      std::string(exit_codes_help));
  app.set_version_flag("--version", std::string("weightsd ") + WEIGHTS_VERSION);
  std::string config_file;
  std::string state_dir;
  std::string socket;
  std::string log_level;
  bool user = false;
  bool system = false;
  bool check = false;
  app.add_option("--config", config_file, "TOML config file (must exist)");
  app.add_option("--state-dir", state_dir, "State directory (database, store, lock)");
  app.add_option("--socket", socket, "Control socket path");
  app.add_option("--log-level", log_level, "error, warning, info or debug")
      ->check(CLI::IsMember({"error", "warning", "info", "debug"}));
  auto* user_flag = app.add_flag("--user", user, "User-mode defaults (XDG dirs)");
  auto* system_flag =
      app.add_flag("--system", system, "System-mode defaults (/var/lib/weightsd, /run/weightsd)");
  user_flag->excludes(system_flag);
  std::vector<std::string> listen;
  std::vector<std::string> outgoing;
  app.add_option("--listen", listen,
                 "BitTorrent listen interface ADDR:PORT (repeatable or comma-separated; port 0 = "
                 "ephemeral). Also sets the outgoing interface to ADDR unless --outgoing is given")
      ->delimiter(',');
  app.add_option("--outgoing", outgoing,
                 "Local address(es) for outgoing peer connections (repeatable or comma-separated)")
      ->delimiter(',');
  app.add_flag("--check-config", check, "Validate the configuration, print it and exit");
  std::string completion;
  app.add_option("--completion", completion, "Print a shell completion script and exit")
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(Exit::usage);
  }
  if (!completion.empty()) {
    using completion::Shell;
    const auto shell = completion == "zsh"    ? Shell::zsh
                       : completion == "fish" ? Shell::fish
                                              : Shell::bash;
    std::fputs(completion::script(app, "weightsd", shell).c_str(), stdout);
    return static_cast<int>(Exit::ok);
  }
  if (!config_file.empty()) out.overrides.config_file = config_file;
  if (!state_dir.empty()) out.overrides.state_dir = state_dir;
  if (!socket.empty()) out.overrides.control_socket = socket;
  if (!log_level.empty()) out.overrides.log_level = parse_log_level(log_level);
  if (!listen.empty()) out.overrides.listen_interfaces = listen;
  if (!outgoing.empty()) out.overrides.outgoing_interfaces = outgoing;
  if (user) out.overrides.mode = Mode::user;
  if (system) out.overrides.mode = Mode::system;
  out.action = check ? Action::check_config : Action::run;
  return std::nullopt;
}

int run(const Options& options) {
  try {
    auto config = load_config(options.overrides);
    if (!config) {
      if (options.action == Action::run) {
        Notifier().status(fmt::format("failed: {}", config.error().message));
      }
      print_error(config.error());
      return static_cast<int>(Exit::config);
    }
    if (options.action == Action::check_config) {
      std::fputs(render_toml(*config).c_str(), stdout);
      return static_cast<int>(Exit::ok);
    }
    log::set_level(config->log_level);
    // Writes to a closed socket must surface as EPIPE errors, not kill the daemon.
    std::signal(SIGPIPE, SIG_IGN);
    Daemon daemon(options, std::move(*config));
    if (auto st = daemon.run(); !st) {
      Notifier().status(fmt::format("failed: {}", st.error().message));
      log::error("{}", st.error().message);
      if (!st.error().hint.empty()) log::error("hint: {}", st.error().hint);
      return static_cast<int>(exit_for(st.error()));
    }
    return static_cast<int>(Exit::ok);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weightsd: internal error: %s\n", log::escape(e.what()).c_str());
    return static_cast<int>(Exit::internal);
  }
}

}  // namespace weights::daemon
