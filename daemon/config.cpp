#include "daemon/config.hpp"

#include <algorithm>
#include <functional>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>
#include <unistd.h>

#include "core/toml/toml_read.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/units.hpp"
#include "daemon/libtorrent_exposure.hpp"

namespace weights::daemon {

std::string_view toggle_name(Toggle t) noexcept {
  return t == Toggle::on ? "on" : "off";
}

std::string_view disk_io_name(DiskIo d) noexcept {
  return d == DiskIo::posix ? "posix" : "mmap";
}

std::string_view super_seeding_name(SuperSeeding s) noexcept {
  return s == SuperSeeding::published ? "published" : "off";
}

std::string_view network_profile_name(NetworkProfile p) noexcept {
  return p == NetworkProfile::private_network ? "private" : "public";
}

Result<NetworkProfile> parse_network_profile(std::string_view name) {
  if (name == "public") return NetworkProfile::public_network;
  if (name == "private") return NetworkProfile::private_network;
  return fail(Errc::invalid_argument, fmt::format("'{}' is not public or private", name));
}

void apply_network_profile(Config& config, NetworkProfile profile) {
  const bool is_public = profile == NetworkProfile::public_network;
  config.network_profile = profile;
  config.dht = is_public ? Toggle::on : Toggle::off;
  config.dht_bootstrap_nodes = is_public ? public_dht_routers : std::vector<std::string>{};
  config.lsd = is_public ? Toggle::on : Toggle::off;
  config.upnp = Toggle::off;
  config.natpmp = Toggle::off;
}

Mode default_mode() noexcept {
  return ::geteuid() == 0 ? Mode::system : Mode::user;
}

std::filesystem::path default_config_file(Mode mode, const api::GetEnv& env) {
  if (mode == Mode::system) return "/etc/weightsd/weightsd.toml";
  return api::xdg_config_home(env) / "weightsd" / "weightsd.toml";
}

Config default_config(Mode mode, const api::GetEnv& env) {
  Config c;
  c.mode = mode;
  c.state_dir = mode == Mode::system ? std::filesystem::path("/var/lib/weightsd")
                                     : api::xdg_state_home(env) / "weightsd";
  c.control_socket = api::default_socket_path(mode, env);
  return c;
}

namespace {

// ---- value parsers shared by TOML, environment and flags ----------------------------------------

using units::parse_duration;
using units::parse_size;

Result<Toggle> parse_toggle(std::string_view s) {
  if (s == "on") return Toggle::on;
  if (s == "off") return Toggle::off;
  return fail(Errc::invalid_argument, fmt::format("'{}' is not \"on\" or \"off\"", s));
}

// A listen address: listen_interfaces entries, --listen and [metrics] listen (port 0 = ephemeral).
Result<units::Endpoint> listen_endpoint(std::string_view s) {
  return units::parse_endpoint(s, units::PortZero::allowed);
}

// ---- TOML schema --------------------------------------------------------------------------------

struct Where {
  std::string_view source;
  std::string key;  // dotted: "network.dht"
  int line = 0;
};

Error schema_error_at(const Where& w, std::string message, std::string hint = {}) {
  return Error{Errc::schema_error, fmt::format("{}:{}: {}: {}", w.source, w.line, w.key, message),
               std::move(hint)};
}

using toml_read::type_name;

Result<std::string> want_string(const toml::node& n, const Where& w) {
  if (const auto* s = n.as_string()) return s->get();
  return tl::unexpected(
      schema_error_at(w, fmt::format("expected a string, found {}", type_name(n))));
}

// An array of strings; `check` (if given) vets each item, its error reported at the item's line.
Result<std::vector<std::string>> want_string_array(
    const toml::node& n, const Where& w,
    const std::function<Status(const std::string&)>& check = nullptr) {
  const auto* arr = n.as_array();
  if (arr == nullptr) {
    return tl::unexpected(
        schema_error_at(w, fmt::format("expected an array of strings, found {}", type_name(n))));
  }
  std::vector<std::string> out;
  for (const auto& item : *arr) {
    Where iw = w;
    iw.line = static_cast<int>(item.source().begin.line);
    auto s = want_string(item, iw);
    if (!s) return tl::unexpected(s.error());
    if (check) {
      if (auto ok = check(*s); !ok) return tl::unexpected(schema_error_at(iw, ok.error().message));
    }
    out.push_back(std::move(*s));
  }
  return out;
}

Result<std::filesystem::path> want_abs_path(const toml::node& n, const Where& w) {
  auto s = want_string(n, w);
  if (!s) return tl::unexpected(s.error());
  if (s->empty() || (*s)[0] != '/') {
    return tl::unexpected(schema_error_at(w, fmt::format("'{}' is not an absolute path", *s)));
  }
  return std::filesystem::path(*s);
}

Result<Toggle> want_toggle(const toml::node& n, const Where& w) {
  if (const auto* b = n.as_boolean()) return b->get() ? Toggle::on : Toggle::off;
  if (const auto* s = n.as_string()) {
    auto t = parse_toggle(s->get());
    if (!t) return tl::unexpected(schema_error_at(w, t.error().message));
    return *t;
  }
  return tl::unexpected(schema_error_at(
      w, fmt::format("expected \"on\"/\"off\" (or true/false), found {}", type_name(n))));
}

// Integers are taken as-is in the base unit; strings may carry a unit.
Result<std::uint64_t> want_quantity(
    const toml::node& n, const Where& w,
    const std::function<Result<std::uint64_t>(std::string_view)>& parse, std::string_view what) {
  if (const auto* i = n.as_integer()) {
    if (i->get() < 0) return tl::unexpected(schema_error_at(w, "must not be negative"));
    return static_cast<std::uint64_t>(i->get());
  }
  if (const auto* s = n.as_string()) {
    auto v = parse(s->get());
    if (!v) return tl::unexpected(schema_error_at(w, v.error().message));
    return *v;
  }
  return tl::unexpected(schema_error_at(
      w, fmt::format("expected {} (integer or string), found {}", what, type_name(n))));
}

Result<NetworkProfile> want_network_profile(const toml::node& n, const Where& w) {
  auto s = want_string(n, w);
  if (!s) return tl::unexpected(s.error());
  auto p = parse_network_profile(*s);
  if (!p) return tl::unexpected(schema_error_at(w, p.error().message));
  return *p;
}

using Apply = std::function<Status(const toml::node&, const Where&, Config&)>;

struct Key {
  std::string_view section;  // "" for top level
  std::string_view name;
  Apply apply;
};

template <class T, class F>
Apply setter(F parse, T Config::*member) {
  return [parse, member](const toml::node& n, const Where& w, Config& c) -> Status {
    auto v = parse(n, w);
    if (!v) return tl::unexpected(v.error());
    c.*member = std::move(*v);
    return {};
  };
}

// A duration key ("30s", "1h"): at least one second, or 0 too where 0 means off.
enum class ZeroIsOff { no, yes };
Apply duration_setter(std::chrono::seconds Config::*member, ZeroIsOff zero = ZeroIsOff::no) {
  return [member, zero](const toml::node& n, const Where& w, Config& c) -> Status {
    auto v = want_quantity(
        n, w,
        [](std::string_view s) -> Result<std::uint64_t> {
          auto d = parse_duration(s);
          if (!d) return tl::unexpected(d.error());
          return static_cast<std::uint64_t>(d->count());
        },
        "a duration in seconds");
    if (!v) return tl::unexpected(v.error());
    if (*v < 1 && zero == ZeroIsOff::no) {
      return tl::unexpected(schema_error_at(w, "must be at least 1s"));
    }
    if (*v > static_cast<std::uint64_t>(units::max_duration.count())) {
      return tl::unexpected(schema_error_at(w, "must be at most 100 years"));
    }
    c.*member = std::chrono::seconds(*v);
    return {};
  };
}

// [[limits.windows]] start = "08:00", end = "18:00", upload_rate = "1MiB", download_rate = 0
Apply windows_setter() {
  return [](const toml::node& n, const Where& w, Config& c) -> Status {
    const auto* arr = n.as_array();
    if (arr == nullptr) {
      return tl::unexpected(schema_error_at(
          w,
          fmt::format("expected an array of tables ([[limits.windows]]), found {}", type_name(n))));
    }
    std::vector<RateWindow> out;
    for (const auto& item : *arr) {
      Where iw = w;
      iw.line = static_cast<int>(item.source().begin.line);
      const auto* t = item.as_table();
      if (t == nullptr) return tl::unexpected(schema_error_at(iw, "expected a table"));
      RateWindow rw;
      bool has_start = false, has_end = false;
      for (const auto& [k, v] : *t) {
        const std::string key(k.str());
        Where kw = iw;
        kw.key = fmt::format("{}.{}", w.key, key);
        if (key == "start" || key == "end") {
          auto s = want_string(v, kw);
          if (!s) return tl::unexpected(s.error());
          auto m = parse_clock_time(*s, key == "end");
          if (!m) return tl::unexpected(schema_error_at(kw, m.error().message));
          (key == "start" ? rw.start_minute : rw.end_minute) = *m;
          (key == "start" ? has_start : has_end) = true;
        } else if (key == "download_rate" || key == "upload_rate") {
          auto q = want_quantity(v, kw, parse_size, "bytes per second");
          if (!q) return tl::unexpected(q.error());
          (key == "download_rate" ? rw.download_rate : rw.upload_rate) = *q;
        } else {
          return tl::unexpected(schema_error_at(
              kw, "unknown key", "valid keys: start, end, download_rate, upload_rate"));
        }
      }
      if (!has_start || !has_end) {
        return tl::unexpected(schema_error_at(iw, "a window needs start and end (\"HH:MM\")"));
      }
      if (rw.start_minute == rw.end_minute) {
        return tl::unexpected(schema_error_at(iw, "start and end are equal: an empty window"));
      }
      out.push_back(rw);
    }
    c.rate_windows = std::move(out);
    return {};
  };
}

const std::vector<Key>& schema() {
  static const std::vector<Key> keys = {
      {"", "state_dir", setter(want_abs_path, &Config::state_dir)},
      {"", "control_socket", setter(want_abs_path, &Config::control_socket)},
      {"", "log_level",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto s = want_string(n, w);
         if (!s) return tl::unexpected(s.error());
         auto l = parse_log_level(*s);
         if (!l) {
           return tl::unexpected(schema_error_at(
               w, fmt::format("'{}' is not one of error, warning, info, debug", *s)));
         }
         c.log_level = *l;
         return {};
       }},
      {"network", "listen_interfaces",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto v = want_string_array(n, w, [](const std::string& s) -> Status {
           if (auto ok = listen_endpoint(s); !ok) return tl::unexpected(ok.error());
           return {};
         });
         if (!v) return tl::unexpected(v.error());
         c.listen_interfaces = std::move(*v);
         return {};
       }},
      {"network", "outgoing_interfaces",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto v = want_string_array(n, w);
         if (!v) return tl::unexpected(v.error());
         c.outgoing_interfaces = std::move(*v);
         return {};
       }},
      {"network", "allow_multiple_connections_per_ip",
       setter(want_toggle, &Config::allow_multiple_connections_per_ip)},
      {"network", "disk_io",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto s = want_string(n, w);
         if (!s) return tl::unexpected(s.error());
         if (*s == "mmap") {
           c.disk_io = DiskIo::mmap;
         } else if (*s == "posix") {
           c.disk_io = DiskIo::posix;
         } else {
           return tl::unexpected(schema_error_at(w, fmt::format("'{}' is not mmap or posix", *s)));
         }
         return {};
       }},
      {"network", "super_seeding",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto s = want_string(n, w);
         if (!s) return tl::unexpected(s.error());
         if (*s == "published") {
           c.super_seeding = SuperSeeding::published;
         } else if (*s == "off") {
           c.super_seeding = SuperSeeding::off;
         } else {
           return tl::unexpected(
               schema_error_at(w, fmt::format("'{}' is not published or off", *s)));
         }
         return {};
       }},
      {"network", "hashing_threads",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         const auto* i = n.as_integer();
         if (i == nullptr || i->get() < 1 || i->get() > 64) {
           return tl::unexpected(schema_error_at(w, "expected an integer from 1 to 64"));
         }
         c.hashing_threads = static_cast<unsigned>(i->get());
         return {};
       }},
      {"network", "resume_save_interval", duration_setter(&Config::resume_save_interval)},
      // Its discovery defaults are applied before the whole file (apply_toml); here it is only
      // recorded, so it cannot undo an explicit key that came first.
      {"network", "profile",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto p = want_network_profile(n, w);
         if (!p) return tl::unexpected(p.error());
         c.network_profile = *p;
         return {};
       }},
      {"network", "dht", setter(want_toggle, &Config::dht)},
      {"network", "dht_bootstrap_nodes",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto v = want_string_array(n, w, [](const std::string& s) -> Status {
           if (auto hp = units::parse_host_port(s); !hp) return tl::unexpected(hp.error());
           return {};
         });
         if (!v) return tl::unexpected(v.error());
         c.dht_bootstrap_nodes = std::move(*v);
         return {};
       }},
      {"network", "dht_nodes",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto v = want_string_array(n, w, [](const std::string& s) -> Status {
           if (auto hp = units::parse_host_port(s); !hp) return tl::unexpected(hp.error());
           return {};
         });
         if (!v) return tl::unexpected(v.error());
         c.dht_nodes = std::move(*v);
         return {};
       }},
      {"network", "dht_restrict_ips", setter(want_toggle, &Config::dht_restrict_ips)},
      {"network", "pin_exchange",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto s = want_string(n, w);
         if (!s) return tl::unexpected(s.error());
         if (*s != "auto" && *s != "off") {
           if (auto ok = listen_endpoint(*s); !ok) {
             return tl::unexpected(schema_error_at(
                 w, ok.error().message, "\"ADDR:PORT\" (port 0: ephemeral), \"auto\" or \"off\""));
           }
         }
         c.pin_exchange = *s;
         return {};
       }},
      {"network", "pin_exchange_peers",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto v = want_string_array(n, w, [](const std::string& s) -> Status {
           if (auto ep = units::parse_endpoint(s, units::PortZero::refused); !ep) {
             return tl::unexpected(ep.error());
           }
           return {};
         });
         if (!v) return tl::unexpected(v.error());
         c.pin_exchange_peers = std::move(*v);
         return {};
       }},
      {"network", "lsd", setter(want_toggle, &Config::lsd)},
      {"network", "upnp", setter(want_toggle, &Config::upnp)},
      {"network", "natpmp", setter(want_toggle, &Config::natpmp)},
      {"network", "utp", setter(want_toggle, &Config::utp)},
      {"limits", "download_rate",
       setter([](const toml::node& n,
                 const Where& w) { return want_quantity(n, w, parse_size, "bytes per second"); },
              &Config::download_rate)},
      {"limits", "upload_rate",
       setter([](const toml::node& n,
                 const Where& w) { return want_quantity(n, w, parse_size, "bytes per second"); },
              &Config::upload_rate)},
      {"limits", "max_disk",
       setter([](const toml::node& n,
                 const Where& w) { return want_quantity(n, w, parse_size, "a size in bytes"); },
              &Config::max_disk)},
      {"limits", "min_free_disk",
       setter([](const toml::node& n,
                 const Where& w) { return want_quantity(n, w, parse_size, "a size in bytes"); },
              &Config::min_free_disk)},
      {"limits", "max_connections",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         const auto* i = n.as_integer();
         if (i == nullptr || i->get() < 2 || i->get() > 65535) {
           return tl::unexpected(schema_error_at(w, "expected an integer from 2 to 65535"));
         }
         c.max_connections = static_cast<std::uint32_t>(i->get());
         return {};
       }},
      {"limits", "control_connections_per_user",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         const auto* i = n.as_integer();
         const auto most = static_cast<std::int64_t>(api::max_connections);
         if (i == nullptr || i->get() < 1 || i->get() > most) {
           return tl::unexpected(
               schema_error_at(w, fmt::format("expected an integer from 1 to {}", most)));
         }
         c.control_connections_per_user = static_cast<std::uint32_t>(i->get());
         return {};
       }},
      {"limits", "windows", windows_setter()},
      {"feeds", "refresh_interval", duration_setter(&Config::feed_refresh_interval)},
      {"feeds", "retry_interval", duration_setter(&Config::feed_retry_interval)},
      {"feeds", "http_timeout", duration_setter(&Config::feed_http_timeout)},
      {"feeds", "http_min_rate",
       setter([](const toml::node& n,
                 const Where& w) { return want_quantity(n, w, parse_size, "bytes per second"); },
              &Config::feed_http_min_rate)},
      {"trust", "path_policy",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto s = want_string(n, w);
         if (!s) return tl::unexpected(s.error());
         auto p = parse_path_policy(*s);
         if (!p) {
           return tl::unexpected(
               schema_error_at(w, fmt::format("'{}' is not one of standard, portable", *s)));
         }
         c.path_policy = *p;
         return {};
       }},
      {"scrub", "enabled", setter(want_toggle, &Config::scrub)},
      {"scrub", "interval", duration_setter(&Config::scrub_interval)},
      {"scrub", "rate",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto v = want_quantity(n, w, parse_size, "bytes per second");
         if (!v) return tl::unexpected(v.error());
         if (*v < 1024 * 1024) return tl::unexpected(schema_error_at(w, "must be at least 1MiB"));
         c.scrub_rate = *v;
         return {};
       }},
      {"upstream", "endpoint",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto s = want_string(n, w);
         if (!s) return tl::unexpected(s.error());
         while (!s->empty() && s->back() == '/') s->pop_back();
         if (!s->empty() && !s->starts_with("http://") && !s->starts_with("https://")) {
           return tl::unexpected(schema_error_at(w, "must be an http:// or https:// URL"));
         }
         c.upstream_endpoint = *s;
         return {};
       }},
      {"upstream", "check_interval",
       duration_setter(&Config::upstream_check_interval, ZeroIsOff::yes)},
      {"catalog", "dirs",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto v = want_string_array(n, w, [](const std::string& s) -> Status {
           if (s.empty() || s.front() != '/') {
             return fail(Errc::schema_error, fmt::format("'{}' is not an absolute path", s));
           }
           return {};
         });
         if (!v) return tl::unexpected(v.error());
         c.catalog_dirs.assign(v->begin(), v->end());
         return {};
       }},
      {"metrics", "listen",
       [](const toml::node& n, const Where& w, Config& c) -> Status {
         auto s = want_string(n, w);
         if (!s) return tl::unexpected(s.error());
         if (*s == "off" || s->empty()) {
           c.metrics_listen.clear();
           return {};
         }
         if (auto ok = listen_endpoint(*s); !ok) {
           return tl::unexpected(schema_error_at(w, ok.error().message));
         }
         c.metrics_listen = *s;
         return {};
       }},
  };
  return keys;
}

bool is_section(std::string_view name) {
  const auto& keys = schema();
  return std::any_of(keys.begin(), keys.end(),
                     [&](const Key& k) { return !k.section.empty() && k.section == name; });
}

std::string valid_keys(std::string_view section) {
  std::string out;
  for (const auto& k : schema()) {
    if (k.section != section) continue;
    if (!out.empty()) out += ", ";
    out += k.name;
  }
  if (section.empty()) {
    for (std::string_view s :
         {"network", "limits", "feeds", "scrub", "upstream", "catalog", "metrics"})
      out += fmt::format(", [{}]", s);
  }
  return out;
}

Status apply_table(const toml::table& table, std::string_view section, std::string_view source,
                   Config& config) {
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    Where w{source, section.empty() ? name : fmt::format("{}.{}", section, name),
            static_cast<int>(key.source().begin.line)};
    if (w.line == 0) w.line = static_cast<int>(node.source().begin.line);
    if (section.empty() && is_section(name)) {
      const auto* sub = node.as_table();
      if (sub == nullptr) {
        return fail(Errc::schema_error, fmt::format("{}:{}: {}: expected a table ([{}]), found {}",
                                                    source, w.line, name, name, type_name(node)));
      }
      if (auto st = apply_table(*sub, name, source, config); !st) return st;
      continue;
    }
    const auto& keys = schema();
    const auto it = std::find_if(keys.begin(), keys.end(), [&](const Key& k) {
      return k.section == section && k.name == name;
    });
    if (it == keys.end()) {
      return tl::unexpected(
          schema_error_at(w, "unknown key",
                          fmt::format("valid keys{}: {}",
                                      section.empty() ? std::string(" at top level")
                                                      : fmt::format(" in [{}]", section),
                                      valid_keys(section))));
    }
    if (auto st = it->apply(node, w, config); !st) return st;
  }
  return {};
}

std::filesystem::path make_absolute(const std::filesystem::path& p) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(p, ec);
  return ec ? p : abs.lexically_normal();
}

}  // namespace

Result<Config> apply_toml(Config base, std::string_view text, std::string_view source_name) {
  auto parsed = toml_read::parse(text, source_name);
  if (!parsed) return tl::unexpected(parsed.error());
  const toml::table& doc = *parsed;
  if (const auto* profile = doc["network"]["profile"].node()) {
    const Where w{source_name, "network.profile", static_cast<int>(profile->source().begin.line)};
    auto p = want_network_profile(*profile, w);
    if (!p) return tl::unexpected(p.error());
    apply_network_profile(base, *p);
  }
  if (auto st = apply_table(doc, "", source_name, base); !st) return tl::unexpected(st.error());
  return base;
}

Result<Config> load_config(const Overrides& flags, const api::GetEnv& env) {
  const Mode mode = flags.mode.value_or(default_mode());
  Config config = default_config(mode, env);
  if (auto v = env(env_network_profile); v && !v->empty()) {
    auto p = parse_network_profile(*v);
    if (!p) return tl::unexpected(with_context(p.error(), env_network_profile));
    apply_network_profile(config, *p);
  }

  // Config file: explicit ones must exist; the default one is optional.
  std::optional<std::filesystem::path> explicit_file = flags.config_file;
  if (!explicit_file) {
    if (auto v = env(env_config); v && !v->empty()) explicit_file = std::filesystem::path(*v);
  }
  const std::filesystem::path file =
      explicit_file ? make_absolute(*explicit_file) : default_config_file(mode, env);
  std::error_code ec;
  if (explicit_file || std::filesystem::exists(file, ec)) {
    auto text = read_file(file, 1024 * 1024);
    if (!text) {
      return tl::unexpected(
          with_context(std::move(text.error()), fmt::format("config file {}", file.string())));
    }
    auto applied = apply_toml(std::move(config), *text, file.string());
    if (!applied) return applied;
    config = std::move(*applied);
    config.config_file = file;
  }

  // Environment.
  if (auto v = env(env_state_dir); v && !v->empty()) config.state_dir = make_absolute(*v);
  if (auto v = env(env_socket); v && !v->empty()) config.control_socket = make_absolute(*v);
  if (auto v = env(env_log_level); v && !v->empty()) {
    auto l = parse_log_level(*v);
    if (!l) {
      return fail(
          Errc::invalid_argument,
          fmt::format("{}='{}' is not one of error, warning, info, debug", env_log_level, *v));
    }
    config.log_level = *l;
  }

  // Flags.
  if (flags.state_dir) config.state_dir = make_absolute(*flags.state_dir);
  if (flags.control_socket) config.control_socket = make_absolute(*flags.control_socket);
  if (flags.log_level) config.log_level = *flags.log_level;
  if (flags.listen_interfaces) {
    std::vector<std::string> outgoing;
    for (const auto& li : *flags.listen_interfaces) {
      auto ep = listen_endpoint(li);
      if (!ep) return tl::unexpected(with_context(ep.error(), "--listen"));
      if (!ep->address.is_unspecified()) outgoing.push_back(ep->address.to_string());
    }
    config.listen_interfaces = *flags.listen_interfaces;
    if (!flags.outgoing_interfaces) config.outgoing_interfaces = std::move(outgoing);
  }
  if (flags.outgoing_interfaces) config.outgoing_interfaces = *flags.outgoing_interfaces;

  // Checked on the final listen interfaces (flags may have replaced the file's).
  if (config.dht_restrict_ips == Toggle::off && listens_publicly(config.listen_interfaces)) {
    return fail(Errc::invalid_argument,
                "[network] dht_restrict_ips = \"off\" needs every listen interface on loopback: "
                "a public node keeps one DHT routing entry per /24 and per IP",
                "remove dht_restrict_ips, or listen on 127.0.0.x only (a test DHT)");
  }

  if (config.control_socket.native().size() > api::max_socket_path_length()) {
    return fail(Errc::invalid_argument,
                fmt::format("control socket path {} is longer than the {} bytes a Unix socket "
                            "address can hold",
                            config.control_socket.string(), api::max_socket_path_length()),
                "choose a shorter path with --socket or control_socket");
  }
  return config;
}

namespace {

std::string toml_string(std::string_view s) {
  std::ostringstream out;
  out << toml::value<std::string>(std::string(s));
  return out.str();
}

struct Entry {
  std::string_view section;
  std::string_view key;
  std::string value;  // TOML-encoded
};

std::string list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += ", ";
    out += toml_string(items[i]);
  }
  return out + "]";
}

std::string clock_text(int minute) {
  return fmt::format("{:02}:{:02}", minute / 60, minute % 60);
}

std::string windows_text(const std::vector<RateWindow>& ws) {
  std::string out = "[";
  for (std::size_t i = 0; i < ws.size(); ++i) {
    const auto& w = ws[i];
    out += fmt::format("{}{{ start = \"{}\", end = \"{}\"", i ? ", " : "",
                       clock_text(w.start_minute), clock_text(w.end_minute));
    if (w.download_rate) out += fmt::format(", download_rate = {}", *w.download_rate);
    if (w.upload_rate) out += fmt::format(", upload_rate = {}", *w.upload_rate);
    out += " }";
  }
  return out + "]";
}

std::vector<Entry> entries(const Config& c) {
  const std::string interfaces = list(c.listen_interfaces);
  std::vector<std::string> dirs;
  for (const auto& d : c.catalog_dirs) dirs.push_back(d.string());
  const std::string catalog_dirs = list(dirs);
  auto t = [](Toggle v) { return toml_string(toggle_name(v)); };
  return {
      {"", "state_dir", toml_string(c.state_dir.string())},
      {"", "control_socket", toml_string(c.control_socket.string())},
      {"", "log_level", toml_string(log_level_name(c.log_level))},
      {"network", "listen_interfaces", interfaces},
      {"network", "outgoing_interfaces", list(c.outgoing_interfaces)},
      {"network", "allow_multiple_connections_per_ip", t(c.allow_multiple_connections_per_ip)},
      {"network", "disk_io", toml_string(disk_io_name(c.disk_io))},
      {"network", "super_seeding", toml_string(super_seeding_name(c.super_seeding))},
      {"network", "hashing_threads", std::to_string(c.hashing_threads)},
      {"network", "resume_save_interval", std::to_string(c.resume_save_interval.count())},
      {"network", "profile", toml_string(network_profile_name(c.network_profile))},
      {"network", "dht", t(c.dht)},
      {"network", "dht_bootstrap_nodes", list(c.dht_bootstrap_nodes)},
      {"network", "dht_nodes", list(c.dht_nodes)},
      {"network", "dht_restrict_ips", t(c.dht_restrict_ips)},
      {"network", "pin_exchange", toml_string(c.pin_exchange)},
      {"network", "pin_exchange_peers", list(c.pin_exchange_peers)},
      {"network", "lsd", t(c.lsd)},
      {"network", "upnp", t(c.upnp)},
      {"network", "natpmp", t(c.natpmp)},
      {"network", "utp", t(c.utp)},
      {"limits", "download_rate", std::to_string(c.download_rate)},
      {"limits", "upload_rate", std::to_string(c.upload_rate)},
      {"limits", "max_disk", std::to_string(c.max_disk)},
      {"limits", "min_free_disk", std::to_string(c.min_free_disk)},
      {"limits", "max_connections", std::to_string(c.max_connections)},
      {"limits", "control_connections_per_user", std::to_string(c.control_connections_per_user)},
      {"limits", "windows", windows_text(c.rate_windows)},
      {"feeds", "refresh_interval", std::to_string(c.feed_refresh_interval.count())},
      {"feeds", "retry_interval", std::to_string(c.feed_retry_interval.count())},
      {"feeds", "http_timeout", std::to_string(c.feed_http_timeout.count())},
      {"feeds", "http_min_rate", std::to_string(c.feed_http_min_rate)},
      {"trust", "path_policy", toml_string(path_policy_name(c.path_policy))},
      {"scrub", "enabled", t(c.scrub)},
      {"scrub", "interval", std::to_string(c.scrub_interval.count())},
      {"scrub", "rate", std::to_string(c.scrub_rate)},
      {"upstream", "endpoint", toml_string(c.upstream_endpoint)},
      {"upstream", "check_interval", std::to_string(c.upstream_check_interval.count())},
      {"catalog", "dirs", catalog_dirs},
      {"metrics", "listen", toml_string(c.metrics_listen.empty() ? "off" : c.metrics_listen)},
  };
}

}  // namespace

std::string render_toml(const Config& config) {
  std::string out = fmt::format(
      "# weightsd effective configuration (mode: {}, file: {})\n", api::mode_name(config.mode),
      config.config_file.empty() ? std::string("none (defaults)") : config.config_file.string());
  out += "# sizes in bytes (0 = unlimited), durations in seconds\n";
  std::string_view section;
  for (const auto& e : entries(config)) {
    if (e.section != section) {
      section = e.section;
      out += fmt::format("\n[{}]\n", section);
    }
    out += fmt::format("{} = {}\n", e.key, e.value);
  }
  return out;
}

std::vector<std::string> describe_changes(const Config& before, const Config& after) {
  std::vector<std::string> out;
  const auto a = entries(before);
  const auto b = entries(after);
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].value == b[i].value) continue;
    const std::string key =
        a[i].section.empty() ? std::string(a[i].key) : fmt::format("{}.{}", a[i].section, a[i].key);
    out.push_back(fmt::format("{}: {} -> {}", key, a[i].value, b[i].value));
  }
  return out;
}

}  // namespace weights::daemon
