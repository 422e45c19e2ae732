#pragma once
// The libtorrent session: its own network thread (libtorrent's), alerts delivered to the
// io_context thread. set_alert_notify runs under libtorrent's alert mutex, so the callback only
// posts a drain to the io_context; the drain pops alerts and hands each to the engine there.
//
// This header exposes libtorrent types: include it only from engine.cpp and its own .cpp
// (libtorrent headers are slow to compile).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <libtorrent/alert.hpp>
#include <libtorrent/session.hpp>

#include "core/util/error.hpp"
#include "daemon/config.hpp"

namespace weights::daemon {

namespace lt = libtorrent;

// The settings the daemon runs libtorrent with (exposed for tests).
lt::settings_pack session_settings(const Config& config);

class TorrentSession {
 public:
  using AlertFn = std::function<void(lt::alert*)>;

  // Starts the session with settings from `config`; `on_alert` is called on the io_context
  // thread for every alert (pointers are valid only during the call).
  static Result<std::unique_ptr<TorrentSession>> start(boost::asio::io_context& ioc,
                                                       const Config& config, AlertFn on_alert);
  ~TorrentSession();  // stops alert delivery, then aborts the session (blocks until it stops)
  TorrentSession(const TorrentSession&) = delete;
  TorrentSession& operator=(const TorrentSession&) = delete;

  lt::session& session() { return *ses_; }
  // The TCP port we listen on (from listen_succeeded_alert, else the session's), 0 if none.
  int listen_port() const;
  // bytes/s, 0 = unlimited. A limit holds for every peer, loopback and LAN ones included.
  void set_rate_limits(std::uint64_t download, std::uint64_t upload);

 private:
  // Rate limits only govern the global peer class; loopback/LAN peers are in the local class
  // and would bypass them (libtorrent notes §0.5, §2.9): put every address in the global class.
  void limit_every_peer();
  TorrentSession(boost::asio::io_context& ioc, AlertFn on_alert);
  void drain();

  boost::asio::io_context& ioc_;
  AlertFn on_alert_;
  std::unique_ptr<lt::session> ses_;
  std::shared_ptr<bool> alive_;  // posted drains check it: they may run after destruction
  std::vector<lt::alert*> alerts_;
  int listen_port_ = 0;
  bool every_peer_limited_ = false;
};

}  // namespace weights::daemon
