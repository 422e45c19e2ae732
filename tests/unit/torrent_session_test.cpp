#include "daemon/torrent_session.hpp"

#include <catch2/catch.hpp>
#include <libtorrent/settings_pack.hpp>

using namespace weights::daemon;
using sp = lt::settings_pack;

namespace {

Config with_profile(NetworkProfile profile) {
  Config c;
  apply_network_profile(c, profile);
  return c;
}

}  // namespace

TEST_CASE("the default settings join the DHT through the public routers and turn LSD on",
          "[torrent_session]") {
  const auto p = session_settings(Config{});
  CHECK(p.get_bool(sp::enable_dht));
  CHECK(p.get_str(sp::dht_bootstrap_nodes) ==
        "dht.libtorrent.org:25401,router.bittorrent.com:6881,dht.transmissionbt.com:6881");
  CHECK(p.get_bool(sp::enable_lsd));
  CHECK_FALSE(p.get_bool(sp::enable_upnp));
  CHECK_FALSE(p.get_bool(sp::enable_natpmp));
  // A public node keeps libtorrent's one-node-per-/24 routing rules.
  CHECK(p.get_bool(sp::dht_restrict_routing_ips));
  CHECK(p.get_bool(sp::dht_restrict_search_ips));
}

TEST_CASE("the private profile turns every kind of discovery off and names no router",
          "[torrent_session]") {
  const auto p = session_settings(with_profile(NetworkProfile::private_network));
  CHECK_FALSE(p.get_bool(sp::enable_dht));
  CHECK(p.get_str(sp::dht_bootstrap_nodes).empty());
  CHECK_FALSE(p.get_bool(sp::enable_lsd));
  CHECK_FALSE(p.get_bool(sp::enable_upnp));
  CHECK_FALSE(p.get_bool(sp::enable_natpmp));
}

TEST_CASE("DHT on with an empty bootstrap list overrides libtorrent's default router",
          "[torrent_session]") {
  // libtorrent's own default (dht.libtorrent.org:25401) would be looked up at start.
  CHECK_FALSE(lt::default_settings().get_str(sp::dht_bootstrap_nodes).empty());
  Config c;
  c.dht_bootstrap_nodes.clear();
  const auto p = session_settings(c);
  CHECK(p.get_bool(sp::enable_dht));
  REQUIRE(p.has_val(sp::dht_bootstrap_nodes));
  CHECK(p.get_str(sp::dht_bootstrap_nodes).empty());
}

TEST_CASE("bootstrap nodes of a private DHT are passed as configured", "[torrent_session]") {
  Config c = with_profile(NetworkProfile::private_network);
  c.dht = Toggle::on;
  c.dht_bootstrap_nodes = {"127.0.1.1:6881", "127.0.2.1:6881"};
  const auto p = session_settings(c);
  CHECK(p.get_bool(sp::enable_dht));
  CHECK(p.get_str(sp::dht_bootstrap_nodes) == "127.0.1.1:6881,127.0.2.1:6881");
  // With DHT off the list is not handed to libtorrent at all.
  c.dht = Toggle::off;
  CHECK(session_settings(c).get_str(sp::dht_bootstrap_nodes).empty());
}
