#include "daemon/torrent_session.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <libtorrent/address.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/fingerprint.hpp>
#include <libtorrent/ip_filter.hpp>
#include <libtorrent/mmap_disk_io.hpp>
#include <libtorrent/posix_disk_io.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/version.hpp>

#include "daemon/libtorrent_exposure.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

lt::settings_pack session_settings(const Config& c) {
  using sp = lt::settings_pack;
  sp p;
  p.set_str(sp::listen_interfaces, join(c.listen_interfaces));
  p.set_str(sp::outgoing_interfaces, join(c.outgoing_interfaces));
  // uTP is 5-30x slower than TCP on loopback/LAN (libtorrent notes §0.3).
  p.set_bool(sp::enable_outgoing_utp, c.utp == Toggle::on);
  p.set_bool(sp::enable_incoming_utp, c.utp == Toggle::on);
  p.set_bool(sp::allow_multiple_connections_per_ip,
             c.allow_multiple_connections_per_ip == Toggle::on);
  p.set_bool(sp::enable_dht, c.dht == Toggle::on);
  // Always set: libtorrent's own default names a public router, looked up by DNS when the DHT
  // starts; an empty list (or DHT off) must mean no such query.
  p.set_str(sp::dht_bootstrap_nodes, c.dht == Toggle::on ? join(c.dht_bootstrap_nodes) : "");
  // A public node keeps one routing-table entry per /24 and per IP (libtorrent's defaults, set
  // so no default change loses them): it resists a flood of nodes from one network. Only a node
  // listening on loopback alone may lift it (load_config refuses it otherwise; checked again here).
  const bool restrict_ips =
      c.dht_restrict_ips == Toggle::on || listens_publicly(c.listen_interfaces);
  p.set_bool(sp::dht_restrict_routing_ips, restrict_ips);
  p.set_bool(sp::dht_restrict_search_ips, restrict_ips);
  p.set_bool(sp::enable_lsd, c.lsd == Toggle::on);
  p.set_bool(sp::enable_upnp, c.upnp == Toggle::on);
  p.set_bool(sp::enable_natpmp, c.natpmp == Toggle::on);
  p.set_int(sp::alert_mask,
            static_cast<int>(static_cast<std::uint32_t>(
                lt::alert_category::status | lt::alert_category::storage |
                lt::alert_category::error | lt::alert_category::peer |
                lt::alert_category::file_progress | lt::alert_category::dht_operation)));
  p.set_int(sp::alert_queue_size, 10000);
  // We never auto-manage: every release is started and stopped explicitly and seeds forever.
  p.set_int(sp::active_downloads, -1);
  p.set_int(sp::active_seeds, -1);
  p.set_int(sp::active_limit, 100000);
  p.set_int(sp::active_checking, 2);
  p.set_int(sp::seed_time_limit, 0x7fffffff);
  p.set_int(sp::share_ratio_limit, 0x7fffffff);
  p.set_int(sp::seed_time_ratio_limit, 0x7fffffff);
  p.set_int(sp::download_rate_limit,
            static_cast<int>(std::min<std::uint64_t>(c.download_rate, 0x7fffffff)));
  p.set_int(sp::upload_rate_limit,
            static_cast<int>(std::min<std::uint64_t>(c.upload_rate, 0x7fffffff)));
  // A dropped peer (a seeder restarting) is dialled again within seconds: the defaults (60 s x
  // failures, given up after 3) leave a download without its only seeder for a minute or more.
  p.set_int(sp::min_reconnect_time, 1);
  p.set_int(sp::max_failcount, 10);
  p.set_int(sp::max_queued_disk_bytes, 8 * 1024 * 1024);
  p.set_int(sp::file_pool_size, 256);
  p.set_int(sp::connections_limit, static_cast<int>(c.max_connections));
  // Hundreds of seeded releases: announce all of them, not libtorrent's default subset.
  p.set_int(sp::active_tracker_limit, 100000);
  p.set_int(sp::active_dht_limit, 100000);
  // Remote-input hardening (docs/threat-model.md "libtorrent"): libtorrent's defaults, set
  // explicitly so no default change or reordering loses them. Trackers, web seeds and peers
  // may not steer us to loopback services or IDNA look-alike hosts, and HTTPS trackers and web
  // seeds must present valid certificates. (no_connect_privileged_ports is not set: in 2.0.8
  // it is a port filter that also blocks web seeds on ports 80 and 443.)
  p.set_bool(sp::ssrf_mitigation, true);
  p.set_bool(sp::allow_idna, false);
  p.set_bool(sp::validate_https_trackers, true);
  // 8-byte fingerprint (a 20-byte one would make every connection reuse one peer-id).
  p.set_str(sp::peer_fingerprint, lt::generate_fingerprint("WD", 0, 1, 0, 0));
  p.set_str(sp::user_agent,
            fmt::format("weightsd/{} libtorrent/{}", WEIGHTS_VERSION, lt::version()));
  return p;
}

TorrentSession::TorrentSession(boost::asio::io_context& ioc, AlertFn on_alert)
    : ioc_(ioc), on_alert_(std::move(on_alert)), alive_(std::make_shared<bool>(true)) {}

Result<std::unique_ptr<TorrentSession>> TorrentSession::start(boost::asio::io_context& ioc,
                                                              const Config& config,
                                                              AlertFn on_alert) {
  log::info("network: {}", describe_network_exposure(network_exposure(config)));
  // lt::version() is the library loaded at run time, not the headers we were built against.
  if (auto warning = libtorrent_exposure_warning(lt::version(), config.listen_interfaces)) {
    log::warning("{}", *warning);
  }
  auto ts = std::unique_ptr<TorrentSession>(new TorrentSession(ioc, std::move(on_alert)));
  // With libtorrent's default plugins (ut_metadata, ut_pex, smart_ban): in 2.0.8 smart_ban is
  // a hybrid torrent's only per-block blame for a failed piece (docs/threat-model.md "Who is
  // banned for bad data").
  lt::session_params params(session_settings(config));
  params.disk_io_constructor = config.disk_io == DiskIo::posix ? lt::posix_disk_io_constructor
                                                               : lt::mmap_disk_io_constructor;
  try {
    ts->ses_ = std::make_unique<lt::session>(std::move(params));
  } catch (const std::exception& e) {
    return fail(Errc::io_error, fmt::format("cannot start the BitTorrent session: {}", e.what()));
  }
  // Rate limits only govern the global peer class; loopback/LAN peers are in the local class
  // and would bypass them (libtorrent notes §0.5, §2.9). A configured limit is meant to hold for
  // every peer, so put all addresses in the global class only.
  if (config.upload_rate != 0 || config.download_rate != 0 || !config.rate_windows.empty()) {
    ts->limit_every_peer();
  }
  // Runs under libtorrent's alert mutex on its thread: only wake our loop (notes §2.7).
  std::weak_ptr<bool> alive = ts->alive_;
  TorrentSession* self = ts.get();
  ts->ses_->set_alert_notify([&ioc, alive, self] {
    boost::asio::post(ioc, [alive, self] {
      if (auto a = alive.lock(); a && *a) self->drain();
    });
  });
  return ts;
}

TorrentSession::~TorrentSession() {
  *alive_ = false;
  if (ses_) {
    ses_->set_alert_notify([] {});
    auto proxy = ses_->abort();
    ses_.reset();
  }
}

void TorrentSession::limit_every_peer() {
  if (every_peer_limited_) return;
  every_peer_limited_ = true;
  const auto global = 1u << static_cast<std::uint32_t>(lt::session::global_peer_class_id);
  lt::ip_filter f;
  f.add_rule(lt::make_address("0.0.0.0"), lt::make_address("255.255.255.255"), global);
  f.add_rule(lt::make_address("::"), lt::make_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
             global);
  ses_->set_peer_class_filter(f);
}

void TorrentSession::set_rate_limits(std::uint64_t download, std::uint64_t upload) {
  using sp = lt::settings_pack;
  if (download != 0 || upload != 0) limit_every_peer();
  sp p;
  p.set_int(sp::download_rate_limit,
            static_cast<int>(std::min<std::uint64_t>(download, 0x7fffffff)));
  p.set_int(sp::upload_rate_limit, static_cast<int>(std::min<std::uint64_t>(upload, 0x7fffffff)));
  ses_->apply_settings(std::move(p));
}

void TorrentSession::drain() {
  ses_->pop_alerts(&alerts_);
  for (lt::alert* a : alerts_) {
    if (auto* ls = lt::alert_cast<lt::listen_succeeded_alert>(a)) {
      if (ls->socket_type == lt::socket_type_t::tcp && listen_port_ == 0) {
        listen_port_ = ls->port;
      }
    } else if (auto* lf = lt::alert_cast<lt::listen_failed_alert>(a)) {
      log::warning("listen failed: {}", lf->message());
    }
    on_alert_(a);
  }
}

int TorrentSession::listen_port() const {
  if (listen_port_ != 0) return listen_port_;
  return ses_ ? ses_->listen_port() : 0;
}

}  // namespace weights::daemon
