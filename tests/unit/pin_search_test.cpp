// The hub-gone search over a fake host: the test's clock and timers, lookups recorded, and each
// peer ask held until the test answers it (no sockets). What the asks do on the wire is
// pin_exchange_test's; the search in a daemon is hub_gone_dht_test's and hub_gone_flood_test's.
#include "daemon/engine/pin_search.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "daemon/engine/pin_announcer.hpp"

using namespace weights;
using namespace weights::daemon;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

units::Endpoint ep(const std::string& address, std::uint16_t port) {
  return units::Endpoint{boost::asio::ip::make_address(address), port};
}

struct Ask {
  units::Endpoint peer;
  std::shared_ptr<const std::atomic<bool>> cancel;
  std::function<void(Result<upstream::VerifiedPin>)> done;
  bool answered = false;
  bool cancelled() const { return cancel && cancel->load(); }
};

struct FakeHost final : PinSearchHost {
  std::chrono::steady_clock::time_point t{};
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> timers;
  std::vector<std::string> lookups;
  std::vector<Ask> asks;  // in the order asked

  std::chrono::steady_clock::time_point now() override { return t; }
  void after(milliseconds d, std::function<void()> fn) override {
    timers.emplace(t + d, std::move(fn));
  }
  bool lookup(const std::string& key_hex) override {
    lookups.push_back(key_hex);
    return true;
  }
  void ask(const units::Endpoint& peer, const weights::UpstreamPin&,
           std::shared_ptr<const std::atomic<bool>> cancel,
           std::function<void(Result<upstream::VerifiedPin>)> done) override {
    asks.push_back(Ask{peer, std::move(cancel), std::move(done)});
  }

  // Moves the clock on, running each timer when its time comes.
  void advance(milliseconds d) {
    const auto end = t + d;
    while (!timers.empty() && timers.begin()->first <= end) {
      auto it = timers.begin();
      t = it->first;
      auto fn = std::move(it->second);
      timers.erase(it);
      fn();
    }
    t = end;
  }
  // Asks not answered yet.
  std::vector<std::size_t> open() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < asks.size(); ++i) {
      if (!asks[i].answered) out.push_back(i);
    }
    return out;
  }
  void answer(std::size_t i, Result<upstream::VerifiedPin> got) {
    REQUIRE_FALSE(asks[i].answered);
    asks[i].answered = true;
    asks[i].done(std::move(got));
  }
  void refuse(std::size_t i, Errc code = Errc::schema_error, const std::string& why = "garbage") {
    answer(i, tl::unexpected(Error{code, why, ""}));
  }
  // Every open ask refused, until none is left (the search asks more as answers come back).
  void refuse_all(Errc code = Errc::schema_error) {
    for (auto open_asks = open(); !open_asks.empty(); open_asks = open()) {
      for (auto i : open_asks) refuse(i, code);
    }
  }
  std::size_t asked(const std::string& address) const {
    return static_cast<std::size_t>(std::count_if(asks.begin(), asks.end(), [&](const Ask& a) {
      return a.peer.address.to_string() == address;
    }));
  }
};

const std::string commit = "6cee5e81ee83917806bbde320786a8fb61efebee";

weights::UpstreamPin test_pin() {
  auto pin = canonical_pin("huggingface", "openai/gpt-oss-20b", commit);
  REQUIRE(pin);
  return *pin;
}

upstream::VerifiedPin answer_with_swarm(char swarm) {
  upstream::VerifiedPin v;
  v.offer.pin = test_pin();
  v.offer.info_hash_v2 = std::string(64, swarm);
  v.offer.bt_port = 6881;
  v.tree.commit = commit;
  v.objects = "objects";
  return v;
}

struct Search {
  FakeHost host;
  std::vector<std::pair<units::Endpoint, upstream::VerifiedPin>> verified;
  std::vector<std::string> rejected;
  std::optional<Error> failed;
  std::unique_ptr<PinSearch> search;

  explicit Search(std::vector<units::Endpoint> known = {}, PinSearchLimits limits = {}) {
    PinSearchEvents events;
    events.verified = [this](const units::Endpoint& p, upstream::VerifiedPin v) {
      verified.emplace_back(p, std::move(v));
    };
    events.rejected = [this](const std::string& text) { rejected.push_back(text); };
    events.failed = [this](const Error& e) {
      REQUIRE_FALSE(failed);
      failed = e;
    };
    search =
        std::make_unique<PinSearch>(host, test_pin(), std::move(known), std::move(events), limits);
  }
  // `n` endpoints, each in its own /24 of 10.x.y.1.
  static std::vector<units::Endpoint> spread(int n, int from = 0) {
    std::vector<units::Endpoint> out;
    for (int i = from; i < from + n; ++i) {
      out.push_back(ep(fmt::format("10.{}.{}.1", i / 256, i % 256), 7000));
    }
    return out;
  }
};

}  // namespace

TEST_CASE("an endpoint's address group is its IPv4 /24 or IPv6 /64", "[pin_search]") {
  using boost::asio::ip::make_address;
  CHECK(address_group(make_address("127.0.11.1")) == "127.0.11.0/24");
  CHECK(address_group(make_address("::ffff:192.0.2.77")) == "192.0.2.0/24");
  CHECK(address_group(make_address("2001:db8:1:2:3:4:5:6")) == "2001:db8:1:2::/64");
}

TEST_CASE("an ask's deadlines: the offer in 5 s, the objects in proportion to their size",
          "[pin_search]") {
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  const auto o = pin_ask_options(cancel);
  CHECK(o.offer.deadline == seconds(5));
  CHECK(o.offer.connect_timeout <= seconds(5));
  CHECK(o.offer.cancel == cancel);
  CHECK(o.objects.cancel == cancel);
  CHECK(upstream::pin_objects_deadline(o, 4096) < seconds(11));
  CHECK(upstream::pin_objects_deadline(o, 64ull << 20) == seconds(10 + 1024));
}

TEST_CASE(
    "the configured endpoints are asked first, several at once, and endpoints are "
    "deduplicated",
    "[pin_search]") {
  Search s({ep("192.0.2.1", 7000), ep("198.51.100.1", 7000)});
  s.search->start();
  // The DHT is first asked at the first tick: what it names comes after them.
  REQUIRE(s.host.asks.size() == 2);
  CHECK(s.host.lookups.empty());
  s.host.advance(seconds(2));
  REQUIRE(s.host.lookups.size() == 1);
  CHECK(s.host.lookups.front() == rendezvous_key_hex(test_pin()));
  CHECK(units::format_endpoint(s.host.asks[0].peer) == "192.0.2.1:7000");
  CHECK(units::format_endpoint(s.host.asks[1].peer) == "198.51.100.1:7000");
  // The DHT names one of them again, one with port 0, and ten new ones.
  auto peers = Search::spread(10);
  peers.push_back(ep("192.0.2.1", 7000));
  peers.push_back(ep("203.0.113.9", 0));
  s.search->on_peers(peers);
  s.search->on_peers(peers);
  CHECK(s.search->found() == 12);
  CHECK(s.host.asks.size() == PinSearchLimits{}.concurrent);
  CHECK(s.search->in_flight() == PinSearchLimits{}.concurrent);
  s.host.refuse_all();
  CHECK(s.host.asks.size() == 12);  // each endpoint once: a refusal is final
  CHECK(s.rejected.size() == 12);
  CHECK_FALSE(s.failed);  // still searching
}

TEST_CASE("a flood from one address group holds at most two asks and goes behind a fresh group",
          "[pin_search]") {
  Search s;
  s.search->start();
  std::vector<units::Endpoint> flood;
  for (std::uint16_t p = 1000; p < 1200; ++p) flood.push_back(ep("192.0.2.1", p));
  s.search->on_peers(flood);
  // Two of its endpoints at a time (a tarpit holds them), however many it announced.
  CHECK(s.host.asks.size() == 2);
  // A holder found later is asked at once.
  s.search->on_peers({ep("198.51.100.7", 7000)});
  REQUIRE(s.host.asks.size() == 3);
  CHECK(units::format_endpoint(s.host.asks[2].peer) == "198.51.100.7:7000");
  // Three more endpoints of the flood's group and one of a fresh group arrive while the flood's
  // two asks are refused: the fresh group's endpoint is asked before the flood's next ones.
  s.search->on_peers({ep("192.0.2.1", 2000), ep("203.0.113.5", 7000)});
  CHECK(s.host.asks.size() == 4);
  CHECK(units::format_endpoint(s.host.asks[3].peer) == "203.0.113.5:7000");
  s.host.refuse(0);
  s.host.refuse(1);
  CHECK(s.host.asked("192.0.2.1") == 4);
  // The group is asked at most max_group_asks times in all.
  s.host.refuse_all();
  CHECK(s.host.asked("192.0.2.1") == PinSearchLimits{}.max_group_asks);
  CHECK(s.search->found() == 203);
}

TEST_CASE("the first answer that verifies wins; the other asks are cancelled, not counted",
          "[pin_search]") {
  Search s(Search::spread(4));
  s.search->start();
  REQUIRE(s.host.asks.size() == 4);
  s.host.answer(2, answer_with_swarm('a'));
  REQUIRE(s.verified.size() == 1);
  CHECK(units::format_endpoint(s.verified[0].first) == units::format_endpoint(s.host.asks[2].peer));
  CHECK(s.verified[0].second.offer.info_hash_v2 == std::string(64, 'a'));
  CHECK(s.search->paused());
  CHECK(s.host.asks[0].cancelled());
  CHECK(s.host.asks[1].cancelled());
  CHECK(s.host.asks[3].cancelled());
  CHECK_FALSE(s.host.asks[2].cancelled());
  // The cancelled asks come back with errors: nobody is named for them.
  s.host.refuse(0, Errc::unavailable, "cancelled");
  s.host.refuse(1, Errc::unavailable, "cancelled");
  s.host.refuse(3, Errc::unavailable, "cancelled");
  CHECK(s.rejected.empty());
  CHECK(s.search->rejected().total() == 0);
  // Paused: no lookup and no ask while the winner's swarm is tried, whatever the DHT says.
  const auto lookups = s.host.lookups.size();
  s.search->on_peers(Search::spread(3, 100));
  s.host.advance(seconds(10));
  CHECK(s.host.asks.size() == 4);
  CHECK(s.host.lookups.size() == lookups);
  // Stopped: no event follows.
  s.search->stop();
  s.search->reject_winner("too late");
  CHECK(s.rejected.empty());
  CHECK_FALSE(s.failed);
}

TEST_CASE(
    "a winner whose swarm fails is named, the search goes on, and another offer of that "
    "swarm is rejected at once",
    "[pin_search]") {
  Search s(Search::spread(3));
  s.search->start();
  REQUIRE(s.host.asks.size() == 3);
  s.host.answer(0, answer_with_swarm('a'));
  REQUIRE(s.verified.size() == 1);
  s.host.refuse(1, Errc::unavailable, "cancelled");
  s.host.refuse(2, Errc::unavailable, "cancelled");
  s.search->reject_winner("the metadata of its info-hash is not the commit's torrent");
  REQUIRE(s.rejected.size() == 1);
  CHECK(s.rejected[0] ==
        "peer 10.0.0.1:7000: the metadata of its info-hash is not the "
        "commit's torrent");
  CHECK(s.search->rejected().shown == s.rejected);
  CHECK_FALSE(s.search->paused());
  // The two cancelled endpoints are asked again.
  REQUIRE(s.host.asks.size() == 5);
  s.host.answer(3, answer_with_swarm('a'));
  CHECK(s.verified.size() == 1);
  REQUIRE(s.rejected.size() == 2);
  CHECK_THAT(s.rejected[1], Catch::Contains("offers swarm " + std::string(64, 'a') +
                                            ", which failed this fetch already"));
  s.host.answer(4, answer_with_swarm('b'));
  REQUIRE(s.verified.size() == 2);
  CHECK(s.verified[1].second.offer.info_hash_v2 == std::string(64, 'b'));
}

TEST_CASE("the time a winner's swarm is tried is not search time", "[pin_search]") {
  Search s(Search::spread(2));
  s.search->start();
  s.host.advance(seconds(80));
  s.host.answer(0, answer_with_swarm('a'));
  s.host.refuse(1, Errc::unavailable, "cancelled");
  s.host.advance(seconds(60));  // past 90 s
  s.search->reject_winner("no metadata within 30 s");
  // 10 s of search are left: the other endpoint is asked again, and lookups go on.
  CHECK_FALSE(s.failed);
  REQUIRE(s.host.asks.size() == 3);
  const auto lookups = s.host.lookups.size();
  s.host.advance(seconds(2));
  CHECK(s.host.lookups.size() > lookups);
}

TEST_CASE("a peer that is down is asked once more after every fresh endpoint, and named once",
          "[pin_search]") {
  Search s({ep("192.0.2.1", 7000)});
  s.search->start();
  REQUIRE(s.host.asks.size() == 1);
  s.host.refuse(0, Errc::unavailable, "peer 192.0.2.1:7000: connection refused");
  REQUIRE(s.rejected.size() == 1);
  CHECK(s.rejected[0] == "peer 192.0.2.1:7000: connection refused");  // not prefixed twice
  s.host.advance(seconds(5));
  CHECK(s.host.asks.size() == 1);  // not before retry_delay
  s.host.advance(seconds(6));
  REQUIRE(s.host.asks.size() == 2);
  s.host.refuse(1, Errc::unavailable, "connection refused");
  s.host.advance(seconds(30));
  CHECK(s.host.asks.size() == 2);  // twice at most
  CHECK(s.search->rejected().shown.size() == 1);
  CHECK(s.rejected.size() == 2);  // each refusal is still reported (the log)
}

TEST_CASE("rejected peers are named once each: the first 16, then a count", "[pin_search]") {
  Search s;
  s.search->start();
  s.search->on_peers(Search::spread(20));
  s.host.refuse_all();
  CHECK(s.search->rejected().shown.size() == 16);
  CHECK(s.search->rejected().more == 4);
  CHECK(s.search->rejected().total() == 20);
  s.host.advance(seconds(90));
  REQUIRE(s.failed);
  CHECK(s.failed->code == Errc::unavailable);
  CHECK_THAT(s.failed->message, Catch::Contains("; and 4 more"));
  CHECK_THAT(s.failed->message, Catch::Contains("peer 10.0.0.1:7000: garbage"));
  CHECK_THAT(s.failed->message, Catch::Contains("(20 endpoints found, 20 asked)"));
}

TEST_CASE(
    "the key is looked up every 2 s for 90 s; no ask starts after that, and the search "
    "fails once the asks in flight are back",
    "[pin_search]") {
  Search s;
  s.search->start();
  s.host.advance(seconds(10));
  CHECK(s.host.lookups.size() == 6);  // at once, then every 2 s
  s.search->on_peers({ep("192.0.2.1", 7000)});
  REQUIRE(s.host.asks.size() == 1);
  s.host.advance(seconds(80));  // t = 90 s: the ask is still in flight (a slow holder)
  const auto lookups = s.host.lookups.size();
  CHECK_FALSE(s.failed);
  s.search->on_peers({ep("198.51.100.1", 7000)});
  s.host.advance(seconds(10));
  CHECK(s.host.asks.size() == 1);  // found too late
  CHECK(s.host.lookups.size() == lookups);
  CHECK_FALSE(s.failed);
  s.host.refuse(0, Errc::unavailable, "deadline");
  REQUIRE(s.failed);
  CHECK_THAT(s.failed->message,
             Catch::StartsWith("no peer under the pin's DHT key " + rendezvous_key_hex(test_pin()) +
                               " served commit " + commit + " within 90 s"));
}

TEST_CASE("the asks budget bounds a search however many endpoints the DHT names", "[pin_search]") {
  PinSearchLimits limits;
  limits.max_asks = 10;
  Search s({}, limits);
  s.search->start();
  s.search->on_peers(Search::spread(50));
  s.host.refuse_all();
  CHECK(s.host.asks.size() == 10);
  CHECK(s.search->found() == 50);
  REQUIRE(s.failed);  // nothing more can be asked: over before the search time
  CHECK_THAT(s.failed->message, Catch::Contains("(50 endpoints found, 10 asked)"));
}

TEST_CASE("a search remembers at most max_endpoints endpoints", "[pin_search]") {
  PinSearchLimits limits;
  limits.max_endpoints = 5;
  Search s({}, limits);
  s.search->start();
  s.search->on_peers(Search::spread(9));
  CHECK(s.search->found() == 5);
}

TEST_CASE("outcomes after the search is gone are dropped", "[pin_search]") {
  Search s(Search::spread(2));
  s.search->start();
  REQUIRE(s.host.asks.size() == 2);
  s.search.reset();
  CHECK(s.host.asks[0].cancelled());
  s.host.answer(0, answer_with_swarm('a'));
  s.host.advance(seconds(100));
  CHECK(s.verified.empty());
  CHECK_FALSE(s.failed);
}
