#include "daemon/libtorrent_exposure.hpp"

#include <catch2/catch.hpp>
#include <libtorrent/settings_pack.hpp>

#include "daemon/pin_exchange_server.hpp"
#include "daemon/torrent_session.hpp"

using namespace weights::daemon;

namespace {
const std::vector<std::string> loopback{"127.0.0.2:0", "[::1]:6881"};
}

TEST_CASE("libtorrent versions are read from lt::version()", "[libtorrent]") {
  CHECK(parse_libtorrent_version("2.0.8.0") == LibtorrentVersion{2, 0, 8});
  CHECK(parse_libtorrent_version("2.0.14") == LibtorrentVersion{2, 0, 14});
  CHECK(parse_libtorrent_version("2.1.0.0") == LibtorrentVersion{2, 1, 0});
  for (const char* bad :
       {"", "2", "2.0", "2.0.", "2.0.8.", "2.0.8.0.1", "v2.0.8", "2.0.8-rc1", "2..8", "2.0.x"}) {
    INFO(bad);
    CHECK_FALSE(parse_libtorrent_version(bad));
  }
  CHECK(LibtorrentVersion{2, 0, 8} < recommended_libtorrent);
  CHECK(LibtorrentVersion{2, 0, 9} < LibtorrentVersion{2, 0, 10});  // numeric, not textual
  CHECK(LibtorrentVersion{2, 1, 0} > recommended_libtorrent);
}

TEST_CASE("a node listens publicly on a non-loopback address", "[libtorrent]") {
  CHECK_FALSE(listens_publicly(loopback));
  CHECK_FALSE(listens_publicly({"127.255.0.1:6881s", "lo:6881"}));
  CHECK_FALSE(listens_publicly({}));
  for (const char* iface :
       {"0.0.0.0:6881", "[::]:6881", "192.168.1.5:6881", "eth0:6881", "128.0.0.1:6881",
        "127.0.0.1.5:6881", "127.0.0:6881", "[::ffff:127.0.0.1]:6881"}) {
    INFO(iface);
    CHECK(listens_publicly({"127.0.0.2:0", iface}));
  }
}

TEST_CASE("the start-up warning needs an old libtorrent and public listening", "[libtorrent]") {
  const std::vector<std::string> wildcard{"0.0.0.0:6881", "[::]:6881"};
  SECTION("old and public: warned, naming both versions and why") {
    const auto w = libtorrent_exposure_warning("2.0.8.0", wildcard);
    REQUIRE(w);
    CHECK_THAT(*w, Catch::Contains("libtorrent 2.0.8.0 is older than 2.0.14"));
    CHECK_THAT(*w, Catch::Contains("non-loopback"));
    CHECK_THAT(*w, Catch::Contains("profile = \"private\""));
    CHECK(libtorrent_exposure_warning("2.0.13.0", {"127.0.0.1:0", "[::]:6881"}));
  }
  SECTION("old but loopback only: silent, the DHT included (it runs on the listen sockets)") {
    CHECK_FALSE(libtorrent_exposure_warning("2.0.8.0", loopback));
  }
  SECTION("recommended or newer: silent") {
    CHECK_FALSE(libtorrent_exposure_warning("2.0.14.0", wildcard));
    CHECK_FALSE(libtorrent_exposure_warning("2.1.2.0", wildcard));
  }
  SECTION("an unreadable version counts as old") {
    CHECK(libtorrent_exposure_warning("garbage", wildcard));
  }
}

TEST_CASE("the session keeps the remote-input hardening of docs/threat-model.md", "[libtorrent]") {
  using sp = lt::settings_pack;
  const auto p = session_settings(Config{});
  CHECK(p.get_bool(sp::ssrf_mitigation));
  CHECK_FALSE(p.get_bool(sp::allow_idna));
  CHECK(p.get_bool(sp::validate_https_trackers));
  // Router ports stay closed and uTP off unless configured (discovery: torrent_session_test).
  CHECK_FALSE(p.get_bool(sp::enable_upnp));
  CHECK_FALSE(p.get_bool(sp::enable_natpmp));
  CHECK_FALSE(p.get_bool(sp::enable_incoming_utp));
  CHECK_FALSE(p.get_bool(sp::enable_outgoing_utp));
}

TEST_CASE("the reported exposure is what the session runs with", "[libtorrent]") {
  Config c;
  c.listen_interfaces = {"0.0.0.0:6881"};
  auto e = network_exposure(c);
  CHECK(e.profile == "public");
  CHECK(e.listen_interfaces == c.listen_interfaces);
  CHECK(e.dht);
  CHECK(e.dht_bootstrap_nodes == public_dht_routers);
  CHECK(e.lsd);
  CHECK_FALSE(e.upnp);
  CHECK_FALSE(e.natpmp);
  CHECK(describe_network_exposure(e) ==
        "profile public; listen 0.0.0.0:6881; DHT on (bootstrap dht.libtorrent.org:25401, "
        "router.bittorrent.com:6881, dht.transmissionbt.com:6881); LSD on; UPnP off; NAT-PMP off");

  apply_network_profile(c, NetworkProfile::private_network);
  c.listen_interfaces = loopback;
  e = network_exposure(c);
  CHECK(e.profile == "private");
  CHECK_FALSE(e.dht);
  CHECK(e.dht_bootstrap_nodes.empty());
  CHECK_FALSE(e.lsd);
  CHECK(describe_network_exposure(e) ==
        "profile private; listen 127.0.0.2:0, [::1]:6881; DHT off; LSD off; UPnP off; NAT-PMP off");

  // A list kept while DHT is off is not in use, so not reported.
  c.dht_bootstrap_nodes = {"127.0.0.9:6881"};
  CHECK(network_exposure(c).dht_bootstrap_nodes.empty());
  c.dht = Toggle::on;
  c.dht_bootstrap_nodes.clear();
  CHECK_THAT(describe_network_exposure(network_exposure(c)),
             Catch::Contains("DHT on (no bootstrap nodes)"));
}

TEST_CASE("a loopback test DHT: its nodes are reported, the IP restriction lifted only there",
          "[libtorrent]") {
  using sp = lt::settings_pack;
  Config c;
  apply_network_profile(c, NetworkProfile::private_network);
  c.dht = Toggle::on;
  c.listen_interfaces = {"127.0.3.1:0"};
  c.dht_nodes = {"127.0.4.1:7000", "127.0.5.1:7001"};
  c.dht_restrict_ips = Toggle::off;
  auto e = network_exposure(c);
  CHECK(e.dht_nodes == c.dht_nodes);
  CHECK_FALSE(e.dht_restrict_ips);
  CHECK_THAT(describe_network_exposure(e),
             Catch::Contains("DHT on (no bootstrap nodes) (nodes 127.0.4.1:7000, 127.0.5.1:7001) "
                             "(several nodes per IP: loopback test DHT)"));
  auto p = session_settings(c);
  CHECK_FALSE(p.get_bool(sp::dht_restrict_routing_ips));
  CHECK_FALSE(p.get_bool(sp::dht_restrict_search_ips));
  CHECK(p.get_str(sp::dht_bootstrap_nodes).empty());
  // A public interface keeps the restriction, even if the setting slipped through.
  c.listen_interfaces.push_back("0.0.0.0:6881");
  p = session_settings(c);
  CHECK(p.get_bool(sp::dht_restrict_routing_ips));
  CHECK(p.get_bool(sp::dht_restrict_search_ips));
  CHECK(network_exposure(c).dht_restrict_ips);
}

TEST_CASE("the pin exchange listens where configured, or by the first listen address",
          "[libtorrent]") {
  CHECK(pin_exchange_endpoint("off", {"127.0.0.2:0"}, true).empty());
  CHECK(pin_exchange_endpoint("127.0.0.9:7000", {"127.0.0.2:0"}, false) == "127.0.0.9:7000");
  CHECK(pin_exchange_endpoint("auto", {"127.0.0.2:6881", "[::1]:6881"}, true) == "127.0.0.2:0");
  CHECK(pin_exchange_endpoint("auto", {"[::]:6881"}, true) == "[::]:0");
  // Nothing would find it without the DHT.
  CHECK(pin_exchange_endpoint("auto", {"127.0.0.2:6881"}, false).empty());
}
