#include "daemon/engine/pin_announcer.hpp"

#include <catch2/catch.hpp>

#include "support/fake_backend.hpp"

using namespace weights;
using namespace weights::daemon;
using Clock = PinAnnouncer::Clock;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> with_prefix(const std::vector<std::string>& calls, std::string_view p) {
  std::vector<std::string> out;
  for (const auto& c : calls) {
    if (c.rfind(p, 0) == 0) out.push_back(c);
  }
  return out;
}

const std::string key_a(40, 'a');
const std::string key_b(40, 'b');

}  // namespace

TEST_CASE("nothing is announced before the routing table has a node; then every key at once",
          "[pin_announcer]") {
  testing::FakeBackend b;
  AnnounceSettings s;
  s.jitter = 0s;
  PinAnnouncer a(
      b, s,
      [] {
        return std::vector<std::string>{key_a, key_b};
      },
      [] { return 7000; });
  const auto t0 = Clock::time_point{} + 1h;
  a.tick(t0);
  a.adopted(key_a, t0);
  CHECK(with_prefix(b.take(), "dht_announce").empty());
  b.dht_nodes = 3;
  a.tick(t0 + 2s);
  CHECK(b.take() == std::vector<std::string>{"dht_announce " + key_a + " 7000",
                                             "dht_announce " + key_b + " 7000"});
  // Not again before the interval; then again (libtorrent never repeats a session announce).
  a.tick(t0 + 2s + s.interval - 1s);
  CHECK(b.take().empty());
  a.tick(t0 + 2s + s.interval);
  CHECK(with_prefix(b.take(), "dht_announce").size() == 2);
}

TEST_CASE("an adopted release is announced at once once the DHT has nodes", "[pin_announcer]") {
  testing::FakeBackend b;
  b.dht_nodes = 1;
  PinAnnouncer a(
      b, {}, [] { return std::vector<std::string>{}; }, [] { return 7000; });
  const auto t0 = Clock::time_point{} + 1h;
  a.tick(t0);
  b.take();
  a.adopted(key_b, t0 + 1s);
  CHECK(b.take() == std::vector<std::string>{"dht_announce " + key_b + " 7000"});
}

TEST_CASE("without a pin exchange port nothing is announced", "[pin_announcer]") {
  testing::FakeBackend b;
  b.dht_nodes = 5;
  PinAnnouncer a(
      b, {}, [] { return std::vector<std::string>{key_a}; }, [] { return 0; });
  a.tick(Clock::time_point{} + 1h);
  CHECK(b.take().empty());
}

TEST_CASE("configured DHT nodes are asked again while the table holds fewer", "[pin_announcer]") {
  testing::FakeBackend b;
  AnnounceSettings s;
  s.nodes = {units::HostPort{"127.0.2.1", 7001, {}}, units::HostPort{"127.0.3.1", 7002, {}}};
  PinAnnouncer a(
      b, s, [] { return std::vector<std::string>{}; }, [] { return 7000; });
  const auto t0 = Clock::time_point{} + 1h;
  a.tick(t0);
  CHECK(b.take() ==
        std::vector<std::string>{"dht_add_node 127.0.2.1:7001", "dht_add_node 127.0.3.1:7002"});
  a.tick(t0 + 1s);
  CHECK(b.take().empty());  // not before node_retry
  b.dht_nodes = 1;
  a.tick(t0 + s.node_retry);
  CHECK(with_prefix(b.take(), "dht_add_node").size() == 2);
  b.dht_nodes = 2;
  a.tick(t0 + 2 * s.node_retry);
  CHECK(with_prefix(b.take(), "dht_add_node").empty());
}

TEST_CASE("a key is looked up at most once a second", "[pin_announcer]") {
  testing::FakeBackend b;
  PinAnnouncer a(
      b, {}, [] { return std::vector<std::string>{}; }, [] { return 7000; });
  const auto t0 = Clock::time_point{} + 1h;
  CHECK(a.lookup(key_a, t0));
  CHECK_FALSE(a.lookup(key_a, t0 + 999ms));
  CHECK(a.lookup(key_b, t0 + 999ms));  // per key
  CHECK(a.lookup(key_a, t0 + 1s));
  CHECK(b.take() == std::vector<std::string>{"dht_lookup " + key_a, "dht_lookup " + key_b,
                                             "dht_lookup " + key_a});
}

TEST_CASE("the rendezvous key is pinned_torrent's, in lowercase hex", "[pin_announcer]") {
  auto pin = canonical_pin("huggingface", "openai/gpt-oss-20b",
                           "6cee5e81ee83917806bbde320786a8fb61efebee");
  REQUIRE(pin);
  CHECK(rendezvous_key_hex(*pin) == "490dbfe22da6d0a449e6f4cd06afc4d28e23d4c7");
}
