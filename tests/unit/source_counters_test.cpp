// SourceCounters: a release's downloaded bytes per peer and web seed, from libtorrent's
// per-connection totals on each status update; a connection that closes keeps its bytes.
#include "daemon/engine/source_counters.hpp"

#include <catch2/catch.hpp>

using namespace weights::daemon;
using Totals = std::vector<SourceTotal>;

namespace {

ConnectionBytes peer(const std::string& ip, int port, std::int64_t bytes) {
  return {SourceKind::peer, ip, ip + ":" + std::to_string(port), bytes};
}
ConnectionBytes web(const std::string& ep, std::int64_t bytes) {
  return {SourceKind::web_seed, ep, ep, bytes};
}

}  // namespace

TEST_CASE("each source's bytes are its connections' latest totals", "[sources]") {
  SourceCounters c;
  CHECK(c.empty());
  c.observe({peer("127.0.0.2", 6881, 100), web("127.0.0.1:80", 10)});
  c.observe({peer("127.0.0.2", 6881, 300), web("127.0.0.1:80", 50), peer("127.0.0.3", 7000, 0)});
  CHECK(c.totals() ==
        Totals{{SourceKind::peer, "127.0.0.2", 300}, {SourceKind::web_seed, "127.0.0.1:80", 50}});
  CHECK(c.from(SourceKind::peer) == 300);
  CHECK(c.from(SourceKind::web_seed) == 50);
}

TEST_CASE("a closed connection's bytes are banked, a reconnect adds to them", "[sources]") {
  SourceCounters c;
  c.observe({peer("127.0.0.2", 6881, 100), peer("127.0.0.3", 7000, 40)});
  c.observe({peer("127.0.0.3", 7000, 60)});  // .2 closed
  CHECK(c.from(SourceKind::peer) == 160);
  // .2 again from another port (an incoming connection): same source, new counter.
  c.observe({peer("127.0.0.2", 50000, 5), peer("127.0.0.3", 7000, 60)});
  CHECK(c.totals() ==
        Totals{{SourceKind::peer, "127.0.0.2", 105}, {SourceKind::peer, "127.0.0.3", 60}});
  // .3 reconnected on the same endpoint between two updates: its total went down.
  c.observe({peer("127.0.0.2", 50000, 5), peer("127.0.0.3", 7000, 20)});
  CHECK(c.totals() ==
        Totals{{SourceKind::peer, "127.0.0.2", 105}, {SourceKind::peer, "127.0.0.3", 80}});
  c.observe({});
  CHECK(c.from(SourceKind::peer) == 185);
}

TEST_CASE("a release's torrents are counted apart and summed", "[sources]") {
  SourceCounters c;
  c.observe({peer("127.0.0.2", 6881, 100)}, 0);
  c.observe({peer("127.0.0.2", 6881, 30)}, 1);  // the v1 companion, same peer
  CHECK(c.totals() == Totals{{SourceKind::peer, "127.0.0.2", 130}});
  c.observe({}, 1);  // the companion's connection closed; the hybrid's is still there
  c.observe({peer("127.0.0.2", 6881, 120)}, 0);
  CHECK(c.totals() == Totals{{SourceKind::peer, "127.0.0.2", 150}});
}

TEST_CASE("sources with no byte are not listed", "[sources]") {
  SourceCounters c;
  c.observe({peer("127.0.0.2", 6881, 0), web("127.0.0.1:80", 0)});
  CHECK(c.totals().empty());
  CHECK(c.from(SourceKind::web_seed) == 0);
}
