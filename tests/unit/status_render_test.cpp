#include "cli/status_render.hpp"

#include <catch2/catch.hpp>

using namespace weights;
using weights::cli::render_network;

TEST_CASE("status shows a public node as reachable, with its DHT routers and LSD", "[status]") {
  api::NetworkExposure n;
  n.profile = "public";
  n.listen_interfaces = {"0.0.0.0:6881", "[::]:6881"};
  n.dht = true;
  n.dht_bootstrap_nodes = {"dht.libtorrent.org:25401", "router.bittorrent.com:6881",
                           "dht.transmissionbt.com:6881"};
  n.lsd = true;
  CHECK(render_network(n) ==
        "  network:   public profile, listens on 0.0.0.0:6881, [::]:6881 (reachable from other "
        "hosts)\n"
        "             DHT on (bootstrap dht.libtorrent.org:25401, router.bittorrent.com:6881, +1 "
        "more), LSD on, UPnP off, NAT-PMP off\n");
}

TEST_CASE("status shows a node on loopback addresses only as not reachable from other hosts",
          "[status]") {
  api::NetworkExposure n;
  n.profile = "private";
  n.listen_interfaces = {"127.0.0.2:41234", "[::1]:41234"};
  const std::string out = render_network(n);
  CHECK_THAT(out, Catch::Contains("private profile, listens on 127.0.0.2:41234, [::1]:41234 "
                                  "(loopback only)"));
  CHECK_THAT(out, Catch::Contains("DHT off, LSD off, UPnP off, NAT-PMP off"));
  n.dht = true;
  CHECK_THAT(render_network(n), Catch::Contains("DHT on (no bootstrap routers)"));
  // One address other hosts can reach makes the node reachable.
  n.listen_interfaces.push_back("192.168.1.5:41234");
  CHECK_THAT(render_network(n), Catch::Contains("(reachable from other hosts)"));
  n.listen_interfaces = {"eth0:6881"};
  CHECK_THAT(render_network(n), Catch::Contains("(reachable from other hosts)"));
  n.listen_interfaces.clear();
  CHECK_THAT(render_network(n), Catch::Contains("no listen interface"));
}
