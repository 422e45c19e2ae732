#include "daemon/config.hpp"

#include <algorithm>
#include <fstream>
#include <map>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/util/units.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::daemon;

namespace {

api::GetEnv env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

Error apply_error(const std::string& text) {
  auto r = apply_toml(Config{}, text, "w.toml");
  REQUIRE_FALSE(r);
  return r.error();
}

}  // namespace

TEST_CASE("system mode defaults to /var/lib and /run", "[config]") {
  const auto c = default_config(Mode::system, env_of({}));
  CHECK(c.state_dir == "/var/lib/weightsd");
  CHECK(c.control_socket == "/run/weightsd/control.sock");
  CHECK(default_config_file(Mode::system, env_of({})) == "/etc/weightsd/weightsd.toml");
  CHECK(c.utp == Toggle::off);
  CHECK(c.disk_io == DiskIo::mmap);
}

TEST_CASE("by default a node joins the public DHT and LSD and opens no router ports", "[config]") {
  for (const auto mode : {Mode::system, Mode::user}) {
    const auto c = default_config(mode, env_of({{"HOME", "/h"}}));
    CHECK(c.network_profile == NetworkProfile::public_network);
    CHECK(c.dht == Toggle::on);
    CHECK(c.dht_bootstrap_nodes == public_dht_routers);
    CHECK(c.lsd == Toggle::on);
    CHECK(c.upnp == Toggle::off);
    CHECK(c.natpmp == Toggle::off);
  }
  // libtorrent 2.0.8's own default router is among them, and every entry is HOST:PORT.
  CHECK(std::count(public_dht_routers.begin(), public_dht_routers.end(),
                   "dht.libtorrent.org:25401") == 1);
  for (const auto& node : public_dht_routers) {
    INFO(node);
    CHECK(units::parse_host_port(node));
  }
}

TEST_CASE("the private profile turns DHT, LSD, UPnP and NAT-PMP off with no bootstrap nodes",
          "[config]") {
  auto c = apply_toml(Config{}, "[network]\nprofile = \"private\"\n", "w.toml");
  REQUIRE(c);
  CHECK(c->network_profile == NetworkProfile::private_network);
  CHECK(c->dht == Toggle::off);
  CHECK(c->dht_bootstrap_nodes.empty());
  CHECK(c->lsd == Toggle::off);
  CHECK(c->upnp == Toggle::off);
  CHECK(c->natpmp == Toggle::off);
  // Back to public from a private base.
  auto p = apply_toml(*c, "[network]\nprofile = \"public\"\n", "w.toml");
  REQUIRE(p);
  CHECK(p->dht == Toggle::on);
  CHECK(p->dht_bootstrap_nodes == public_dht_routers);
  CHECK_THAT(apply_error("[network]\nprofile = \"closed\"\n").message,
             Catch::Contains("w.toml:2: network.profile: 'closed' is not public or private"));
  CHECK(apply_error("[network]\nprofile = true\n").code == Errc::schema_error);
}

TEST_CASE("explicit discovery keys win over the profile wherever they appear", "[config]") {
  // toml++ iterates keys sorted, so "dht" is seen before "profile": the profile still may not
  // undo it.
  auto c = apply_toml(Config{}, R"([network]
dht = "on"
dht_bootstrap_nodes = ["127.0.0.5:6881", "[::1]:6882"]
profile = "private"
lsd = "on"
)",
                      "w.toml");
  REQUIRE(c);
  CHECK(c->network_profile == NetworkProfile::private_network);
  CHECK(c->dht == Toggle::on);
  CHECK(c->dht_bootstrap_nodes == std::vector<std::string>{"127.0.0.5:6881", "[::1]:6882"});
  CHECK(c->lsd == Toggle::on);
  CHECK(c->upnp == Toggle::off);
}

TEST_CASE("an explicit empty bootstrap list stays empty with DHT on", "[config]") {
  auto c = apply_toml(Config{}, "[network]\ndht_bootstrap_nodes = []\n", "w.toml");
  REQUIRE(c);
  CHECK(c->network_profile == NetworkProfile::public_network);
  CHECK(c->dht == Toggle::on);
  CHECK(c->dht_bootstrap_nodes.empty());
}

TEST_CASE("bootstrap nodes are HOST:PORT; a bad one names the key and its line", "[config]") {
  auto c = apply_toml(
      Config{}, "[network]\ndht_bootstrap_nodes = [\"router.example.org:6881\", \"10.0.0.1:1\"]\n",
      "w.toml");
  REQUIRE(c);
  CHECK(c->dht_bootstrap_nodes ==
        std::vector<std::string>{"router.example.org:6881", "10.0.0.1:1"});
  for (const char* bad : {"router.example.org", "router.example.org:0", "-bad.example:6881",
                          "a..b:6881", "1.2.3.999:6881", "::1:6881", "host:port"}) {
    INFO(bad);
    const auto e =
        apply_error(fmt::format("[network]\ndht_bootstrap_nodes = [\n  \"{}\"\n]\n", bad));
    CHECK(e.code == Errc::schema_error);
    CHECK_THAT(e.message, Catch::StartsWith("w.toml:3: network.dht_bootstrap_nodes: "));
  }
  CHECK_THAT(apply_error("[network]\ndht_bootstrap_nodes = \"a.example:1\"\n").message,
             Catch::Contains("expected an array of strings"));
}

TEST_CASE("dht_nodes are HOST:PORT members of a private DHT, added after start", "[config]") {
  auto c = apply_toml(Config{},
                      "[network]\nprofile = \"private\"\ndht = \"on\"\n"
                      "dht_nodes = [\"127.0.2.1:7001\", \"node.example:6881\"]\n",
                      "w.toml");
  REQUIRE(c);
  CHECK(c->dht == Toggle::on);
  CHECK(c->dht_bootstrap_nodes.empty());
  CHECK(c->dht_nodes == std::vector<std::string>{"127.0.2.1:7001", "node.example:6881"});
  const auto e = apply_error("[network]\ndht_nodes = [\n  \"127.0.2.1\"\n]\n");
  CHECK(e.code == Errc::schema_error);
  CHECK_THAT(e.message, Catch::StartsWith("w.toml:3: network.dht_nodes: "));
}

TEST_CASE("dht_restrict_ips may be turned off only when every listen interface is loopback",
          "[config]") {
  testing::TempDir dir;
  const auto file = dir / "w.toml";
  write(file, "[network]\ndht_restrict_ips = false\n");
  Overrides flags;
  flags.mode = Mode::user;
  flags.config_file = file;
  // The default listen interfaces (0.0.0.0, [::]) are public: refused.
  auto c = load_config(flags, env_of({{"HOME", "/h"}}));
  REQUIRE_FALSE(c);
  CHECK(c.error().code == Errc::invalid_argument);
  CHECK_THAT(c.error().message, Catch::Contains("dht_restrict_ips"));
  // --listen on loopback alone: accepted.
  flags.listen_interfaces = std::vector<std::string>{"127.0.3.1:0"};
  c = load_config(flags, env_of({{"HOME", "/h"}}));
  REQUIRE(c);
  CHECK(c->dht_restrict_ips == Toggle::off);
  // One non-loopback interface among them: refused again.
  flags.listen_interfaces = std::vector<std::string>{"127.0.3.1:0", "10.0.0.1:6881"};
  CHECK_FALSE(load_config(flags, env_of({{"HOME", "/h"}})));
  // The default keeps the restriction, whatever the interfaces.
  CHECK(Config{}.dht_restrict_ips == Toggle::on);
}

TEST_CASE("pin_exchange is ADDR:PORT, auto or off", "[config]") {
  CHECK(Config{}.pin_exchange == "auto");
  for (const char* ok : {"127.0.0.2:0", "0.0.0.0:7000", "off", "auto"}) {
    INFO(ok);
    auto c = apply_toml(Config{}, fmt::format("[network]\npin_exchange = \"{}\"\n", ok), "w.toml");
    REQUIRE(c);
    CHECK(c->pin_exchange == ok);
  }
  const auto e = apply_error("[network]\npin_exchange = \"somewhere\"\n");
  CHECK(e.code == Errc::schema_error);
  CHECK_THAT(e.message, Catch::StartsWith("w.toml:2: network.pin_exchange: "));
}

TEST_CASE("WEIGHTSD_NETWORK_PROFILE selects the profile the config file starts from", "[config]") {
  testing::TempDir dir;
  Overrides flags;
  flags.mode = Mode::user;
  flags.config_file = dir / "w.toml";
  write(dir / "w.toml", "[network]\nlisten_interfaces = [\"127.0.0.2:0\"]\n");
  auto c = load_config(flags, env_of({{"HOME", "/h"}, {"WEIGHTSD_NETWORK_PROFILE", "private"}}));
  REQUIRE(c);
  CHECK(c->network_profile == NetworkProfile::private_network);
  CHECK(c->dht == Toggle::off);
  CHECK(c->dht_bootstrap_nodes.empty());
  CHECK(c->lsd == Toggle::off);

  // The file's own keys win: its profile, and its explicit discovery keys.
  write(dir / "w.toml", "[network]\nprofile = \"public\"\nlsd = \"off\"\n");
  c = load_config(flags, env_of({{"HOME", "/h"}, {"WEIGHTSD_NETWORK_PROFILE", "private"}}));
  REQUIRE(c);
  CHECK(c->dht == Toggle::on);
  CHECK(c->dht_bootstrap_nodes == public_dht_routers);
  CHECK(c->lsd == Toggle::off);

  const auto e =
      load_config(flags, env_of({{"HOME", "/h"}, {"WEIGHTSD_NETWORK_PROFILE", "closed"}}));
  REQUIRE_FALSE(e);
  CHECK_THAT(e.error().message, Catch::Contains("WEIGHTSD_NETWORK_PROFILE"));
}

TEST_CASE("user mode defaults follow the XDG directories", "[config]") {
  const auto env = env_of({{"HOME", "/home/u"},
                           {"XDG_RUNTIME_DIR", "/run/user/1000"},
                           {"XDG_CONFIG_HOME", "/home/u/cfg"}});
  const auto c = default_config(Mode::user, env);
  CHECK(c.state_dir == "/home/u/.local/state/weightsd");
  CHECK(c.control_socket == "/run/user/1000/weightsd/control.sock");
  CHECK(default_config_file(Mode::user, env) == "/home/u/cfg/weightsd/weightsd.toml");
}

TEST_CASE("a full TOML file sets every field", "[config]") {
  auto c = apply_toml(Config{}, R"(
state_dir = "/srv/w"
control_socket = "/srv/w/c.sock"
log_level = "debug"

[network]
listen_interfaces = ["127.0.0.2:6881", "[::1]:0"]
dht = "off"
lsd = false
upnp = "on"
natpmp = true
utp = "on"

[limits]
download_rate = "10MiB"
upload_rate = 1000
max_disk = "2 TB"

[feeds]
refresh_interval = "30m"
)",
                      "w.toml");
  REQUIRE(c);
  CHECK(c->state_dir == "/srv/w");
  CHECK(c->control_socket == "/srv/w/c.sock");
  CHECK(c->log_level == LogLevel::debug);
  CHECK(c->listen_interfaces == std::vector<std::string>{"127.0.0.2:6881", "[::1]:0"});
  CHECK(c->dht == Toggle::off);
  CHECK(c->lsd == Toggle::off);
  CHECK(c->upnp == Toggle::on);
  CHECK(c->natpmp == Toggle::on);
  CHECK(c->utp == Toggle::on);
  CHECK(c->download_rate == 10ULL * 1024 * 1024);
  CHECK(c->upload_rate == 1000);
  CHECK(c->max_disk == 2000000000000ULL);
  CHECK(c->feed_refresh_interval == std::chrono::minutes(30));
}

TEST_CASE("an unknown key is an error naming the key and its line", "[config]") {
  const auto e = apply_error("log_level = \"info\"\n\n[network]\ndht = \"on\"\ndhtt = \"off\"\n");
  CHECK(e.code == Errc::schema_error);
  CHECK(e.message == "w.toml:5: network.dhtt: unknown key");
  CHECK(e.hint.find("dht") != std::string::npos);
  const auto top = apply_error("stat_dir = \"/x\"\n");
  CHECK(top.message == "w.toml:1: stat_dir: unknown key");
  CHECK(apply_error("[netwrk]\ndht = \"on\"\n").message.find("netwrk") != std::string::npos);
}

TEST_CASE("a wrong type is an error with the line", "[config]") {
  const auto e = apply_error("\n[limits]\nmax_disk = true\n");
  CHECK(e.code == Errc::schema_error);
  CHECK(e.message.rfind("w.toml:3: limits.max_disk: ", 0) == 0);
  CHECK(e.message.find("boolean") != std::string::npos);
  CHECK(apply_error("[network]\ndht = \"yes\"\n").message.find("w.toml:2: network.dht") == 0);
  CHECK(apply_error("[network]\ndht = 1\n").code == Errc::schema_error);
  CHECK(apply_error("state_dir = \"relative/path\"\n").message.find("absolute") !=
        std::string::npos);
  CHECK(apply_error("log_level = \"loud\"\n").code == Errc::schema_error);
  CHECK(apply_error("network = 3\n").message.find("expected a table") != std::string::npos);
  const auto item =
      apply_error("[network]\nlisten_interfaces = [\n  \"0.0.0.0:6881\",\n  \"nope\"\n]\n");
  CHECK(item.message.rfind("w.toml:4: network.listen_interfaces: ", 0) == 0);
  CHECK(apply_error("[limits]\nmax_disk = -1\n").code == Errc::schema_error);
  CHECK(apply_error("[limits]\nmax_disk = \"10 parsecs\"\n").message.find("unknown unit") !=
        std::string::npos);
}

TEST_CASE("TOML syntax errors are parse errors with the line", "[config]") {
  const auto e = apply_error("a = 1\nb = = 2\n");
  CHECK(e.code == Errc::parse_error);
  CHECK(e.message.rfind("w.toml:2: ", 0) == 0);
}

TEST_CASE("size and duration keys use the units grammar", "[config]") {
  CHECK(apply_toml(Config{}, "[limits]\nmax_disk = \"3GiB\"\n", "w.toml").value().max_disk ==
        3ULL << 30);
  CHECK_THAT(apply_error("[limits]\nmax_disk = \"1.5GB\"\n").message,
             Catch::Contains("w.toml:2: limits.max_disk: '1.5GB'"));
  CHECK_THAT(apply_error("[limits]\nmax_disk = \"99999999999TiB\"\n").message,
             Catch::Contains("too large"));
  CHECK(apply_toml(Config{}, "[feeds]\nrefresh_interval = \"2h\"\n", "w.toml")
            .value()
            .feed_refresh_interval == std::chrono::hours(2));
  CHECK_THAT(apply_error("[feeds]\nrefresh_interval = \"1w\"\n").message,
             Catch::Contains("unknown unit 'w'"));
  CHECK_THAT(apply_error("[feeds]\nrefresh_interval = \"600\"\n").message,
             Catch::Contains("unit is missing"));
  CHECK_THAT(apply_error("[feeds]\nrefresh_interval = 0\n").message,
             Catch::Contains("at least 1s"));
  CHECK_THAT(apply_error("[feeds]\nrefresh_interval = 3162240001\n").message,
             Catch::Contains("at most 100 years"));
}

TEST_CASE("the upstream check interval defaults to a day; 0 turns the checks off", "[config]") {
  CHECK(Config{}.upstream_check_interval == std::chrono::hours(24));
  CHECK(apply_toml(Config{}, "[upstream]\ncheck_interval = \"1s\"\n", "w.toml")
            .value()
            .upstream_check_interval == std::chrono::seconds(1));
  CHECK(apply_toml(Config{}, "[upstream]\ncheck_interval = 0\n", "w.toml")
            .value()
            .upstream_check_interval == std::chrono::seconds(0));
  CHECK_THAT(apply_error("[upstream]\ncheck_interval = \"1w\"\n").message,
             Catch::Contains("upstream.check_interval"));
}

TEST_CASE("precedence: defaults < file < environment < flags", "[config]") {
  testing::TempDir dir;
  const auto file = dir / "w.toml";
  write(file, "state_dir = \"/from/file\"\nlog_level = \"warning\"\n");
  Overrides flags;
  flags.mode = Mode::user;
  flags.config_file = file;

  auto c = load_config(flags, env_of({{"HOME", "/h"}}));
  REQUIRE(c);
  CHECK(c->state_dir == "/from/file");
  CHECK(c->log_level == LogLevel::warning);
  CHECK(c->config_file == file);

  c = load_config(flags, env_of({{"HOME", "/h"},
                                 {"WEIGHTSD_STATE_DIR", "/from/env"},
                                 {"WEIGHTSD_LOG_LEVEL", "debug"}}));
  REQUIRE(c);
  CHECK(c->state_dir == "/from/env");
  CHECK(c->log_level == LogLevel::debug);

  flags.state_dir = "/from/flag";
  flags.log_level = LogLevel::error;
  c = load_config(flags, env_of({{"HOME", "/h"}, {"WEIGHTSD_STATE_DIR", "/from/env"}}));
  REQUIRE(c);
  CHECK(c->state_dir == "/from/flag");
  CHECK(c->log_level == LogLevel::error);
}

TEST_CASE("WEIGHTSD_CONFIG selects the file and WEIGHTSD_SOCKET the socket", "[config]") {
  testing::TempDir dir;
  write(dir / "env.toml", "control_socket = \"/from/file.sock\"\n");
  Overrides flags;
  flags.mode = Mode::user;
  auto c = load_config(flags, env_of({{"HOME", "/h"}, {"WEIGHTSD_CONFIG", (dir / "env.toml")}}));
  REQUIRE(c);
  CHECK(c->control_socket == "/from/file.sock");
  c = load_config(flags, env_of({{"HOME", "/h"},
                                 {"WEIGHTSD_CONFIG", (dir / "env.toml")},
                                 {"WEIGHTSD_SOCKET", "/from/env.sock"}}));
  REQUIRE(c);
  CHECK(c->control_socket == "/from/env.sock");
}

TEST_CASE("a missing default file means defaults; a missing explicit file is an error",
          "[config]") {
  testing::TempDir dir;
  Overrides flags;
  flags.mode = Mode::user;
  auto c = load_config(flags, env_of({{"HOME", dir.path().string()}}));
  REQUIRE(c);
  CHECK(c->config_file.empty());
  CHECK(c->state_dir == dir / ".local/state/weightsd");

  flags.config_file = dir / "missing.toml";
  auto e = load_config(flags, env_of({{"HOME", dir.path().string()}}));
  REQUIRE_FALSE(e);
  CHECK(e.error().message.find("missing.toml") != std::string::npos);
}

TEST_CASE("the default user config file is read when present", "[config]") {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "cfg/weightsd");
  write(dir / "cfg/weightsd/weightsd.toml", "[feeds]\nrefresh_interval = 120\n");
  Overrides flags;
  flags.mode = Mode::user;
  auto c = load_config(flags, env_of({{"HOME", "/h"}, {"XDG_CONFIG_HOME", (dir / "cfg")}}));
  REQUIRE(c);
  CHECK(c->feed_refresh_interval == std::chrono::seconds(120));
}

TEST_CASE("bad environment values and over-long socket paths are refused", "[config]") {
  Overrides flags;
  flags.mode = Mode::user;
  CHECK_FALSE(load_config(flags, env_of({{"HOME", "/h"}, {"WEIGHTSD_LOG_LEVEL", "loud"}})));
  flags.control_socket = "/" + std::string(200, 's');
  auto e = load_config(flags, env_of({{"HOME", "/h"}}));
  REQUIRE_FALSE(e);
  CHECK(e.error().message.find("longer than") != std::string::npos);
}

TEST_CASE("the rendered effective config parses back to the same config", "[config]") {
  Config c = default_config(Mode::user, env_of({{"HOME", "/h"}}));
  c.dht = Toggle::off;
  c.max_disk = 12345;
  c.listen_interfaces = {"127.0.0.3:7000"};
  c.feed_refresh_interval = std::chrono::seconds(77);
  const auto text = render_toml(c);
  auto back = apply_toml(Config{}, text, "rendered");
  REQUIRE(back);
  back->mode = c.mode;
  CHECK(*back == c);
  // Each profile with an explicit key it would not give by itself.
  for (const auto profile : {NetworkProfile::public_network, NetworkProfile::private_network}) {
    Config p = c;
    apply_network_profile(p, profile);
    p.dht = Toggle::on;
    p.dht_bootstrap_nodes = {"127.0.0.9:6881"};
    auto again = apply_toml(Config{}, render_toml(p), "rendered");
    REQUIRE(again);
    again->mode = p.mode;
    CHECK(*again == p);
  }
}

TEST_CASE("describe_changes lists exactly the settings that differ", "[config]") {
  Config a;
  Config b = a;
  CHECK(describe_changes(a, b).empty());
  b.log_level = LogLevel::debug;
  b.upload_rate = 5;
  const auto changes = describe_changes(a, b);
  REQUIRE(changes.size() == 2);
  CHECK(changes[0] == "log_level: 'info' -> 'debug'");
  CHECK(changes[1] == "limits.upload_rate: 0 -> 5");
}

TEST_CASE("seed-node settings: windows, scrub, metrics, free space and connections", "[config]") {
  auto c = apply_toml(Config{}, R"(
[limits]
min_free_disk = "2GiB"
max_connections = 800
control_connections_per_user = 4
[[limits.windows]]
start = "08:00"
end = "18:00"
upload_rate = "1MiB"
[[limits.windows]]
start = "22:00"
end = "06:00"
download_rate = 0
upload_rate = 0
[scrub]
enabled = "off"
interval = "7d"
rate = "16MiB"
[metrics]
listen = "127.0.0.1:9999"
)",
                      "seed.toml");
  REQUIRE(c);
  CHECK(c->min_free_disk == 2ull << 30);
  CHECK(c->max_connections == 800);
  CHECK(c->control_connections_per_user == 4);
  CHECK(Config{}.control_connections_per_user == 16);
  REQUIRE(c->rate_windows.size() == 2);
  CHECK(c->rate_windows[0] == RateWindow{8 * 60, 18 * 60, std::nullopt, 1u << 20});
  CHECK(c->rate_windows[1] == RateWindow{22 * 60, 6 * 60, 0, 0});
  CHECK(c->scrub == Toggle::off);
  CHECK(c->scrub_interval == std::chrono::hours(24 * 7));
  CHECK(c->scrub_rate == 16u << 20);
  CHECK(c->metrics_listen == "127.0.0.1:9999");
  auto off = apply_toml(Config{}, "[metrics]\nlisten = \"off\"\n", "m.toml");
  REQUIRE(off);
  CHECK(off->metrics_listen.empty());

  Config r = *c;
  r.scrub = Toggle::on;
  r.state_dir = "/var/lib/w";
  r.control_socket = "/run/w.sock";
  auto back = apply_toml(Config{}, render_toml(r), "rendered");
  REQUIRE(back);
  back->mode = r.mode;
  back->state_dir = r.state_dir;
  back->control_socket = r.control_socket;
  CHECK(back->rate_windows == r.rate_windows);
  CHECK(back->metrics_listen == r.metrics_listen);
  CHECK(back->scrub_rate == r.scrub_rate);
}

TEST_CASE("bad windows and seed-node values are errors naming the key", "[config]") {
  CHECK_THAT(apply_error("[[limits.windows]]\nstart = \"8:00\"\nend = \"18:00\"\n").message,
             Catch::Contains("limits.windows.start"));
  CHECK_THAT(apply_error("[[limits.windows]]\nstart = \"08:00\"\n").message,
             Catch::Contains("needs start and end"));
  CHECK_THAT(apply_error("[[limits.windows]]\nstart = \"08:00\"\nend = \"08:00\"\n").message,
             Catch::Contains("empty window"));
  CHECK_THAT(
      apply_error("[[limits.windows]]\nstart = \"08:00\"\nend = \"09:00\"\nrate = 1\n").message,
      Catch::Contains("unknown key"));
  CHECK_THAT(apply_error("[limits]\nwindows = 3\n").message, Catch::Contains("array of tables"));
  CHECK_THAT(apply_error("[scrub]\nrate = \"1KiB\"\n").message, Catch::Contains("at least 1MiB"));
  CHECK_THAT(apply_error("[metrics]\nlisten = \"nowhere\"\n").message,
             Catch::Contains("metrics.listen"));
  CHECK_THAT(apply_error("[limits]\nmax_connections = 1\n").message,
             Catch::Contains("from 2 to 65535"));
  CHECK_THAT(apply_error("[limits]\ncontrol_connections_per_user = 65\n").message,
             Catch::Contains("from 1 to 64"));
}

TEST_CASE("[trust] path_policy selects the portable path policy", "[config]") {
  CHECK(Config{}.path_policy == weights::PathPolicy::standard);
  auto c = apply_toml(Config{}, "[trust]\npath_policy = \"portable\"\n", "w.toml");
  REQUIRE(c);
  CHECK(c->path_policy == weights::PathPolicy::portable);
  const auto e = apply_error("[trust]\npath_policy = \"windows\"\n");
  CHECK(e.code == Errc::schema_error);
  CHECK(e.message == "w.toml:2: trust.path_policy: 'windows' is not one of standard, portable");
  CHECK(apply_error("[trust]\npath_policy = true\n").code == Errc::schema_error);
  // Rendered and read back.
  Config full = default_config(Mode::user, env_of({{"HOME", "/h"}}));
  full.path_policy = weights::PathPolicy::portable;
  const auto text = render_toml(full);
  CHECK_THAT(text, Catch::Contains("[trust]\npath_policy = 'portable'"));
  auto back = apply_toml(Config{}, text, "rendered");
  REQUIRE(back);
  CHECK(back->path_policy == weights::PathPolicy::portable);
}
