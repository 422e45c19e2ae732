// PeerDialer over a fake TorrentBackend: when --peer endpoints are dialled, and the redial of a
// download that lost its peers.
#include "daemon/engine/peer_dialer.hpp"

#include <catch2/catch.hpp>

#include "support/fake_backend.hpp"

using namespace weights::daemon;
using weights::testing::FakeBackend;
using namespace std::chrono_literals;
using Strings = std::vector<std::string>;

namespace {

constexpr TorrentId hybrid = 1, companion = 2;
const PeerDialer::Clock::time_point t0 = PeerDialer::Clock::time_point(std::chrono::hours(1));

TorrentStatus downloading(int peers = 0) {
  TorrentStatus st;
  st.state = TorrentPhase::downloading;
  st.num_peers = peers;
  return st;
}

}  // namespace

TEST_CASE("peers parse as ip:port or [v6]:port; port 0 and garbage are refused", "[peers]") {
  auto v4 = parse_peer("127.0.0.2:6881");
  REQUIRE(v4);
  CHECK(v4->port() == 6881);
  REQUIRE(parse_peer("[::1]:7000"));
  CHECK_FALSE(parse_peer("127.0.0.2:0"));
  CHECK_FALSE(parse_peer("nowhere"));
}

TEST_CASE("pending peers are dialled on the hybrid and the downloading companion", "[peers]") {
  FakeBackend b;
  PeerDialer d;
  d.queue_known({"127.0.0.2:6881", "not a peer", "127.0.0.3:6882"});
  REQUIRE(d.pending().size() == 2);
  d.connect_pending(b, hybrid, companion, nullptr);
  CHECK(b.take() == Strings{"connect_peer 1 127.0.0.2:6881", "connect_peer 2 127.0.0.2:6881",
                            "connect_peer 1 127.0.0.3:6882", "connect_peer 2 127.0.0.3:6882"});
  CHECK_FALSE(d.has_pending());
  d.connect_pending(b, hybrid, companion, nullptr);
  CHECK(b.calls.empty());
}

TEST_CASE("peers wait while the torrent checks, or until there is a torrent", "[peers]") {
  FakeBackend b;
  PeerDialer d;
  d.queue(*parse_peer("127.0.0.2:6881"));
  d.connect_pending(b, no_torrent, no_torrent, nullptr);
  TorrentStatus checking;
  checking.state = TorrentPhase::checking_files;
  d.connect_pending(b, hybrid, no_torrent, &checking);
  checking.state = TorrentPhase::checking_resume_data;
  d.connect_pending(b, hybrid, no_torrent, &checking);
  CHECK(b.calls.empty());
  CHECK(d.has_pending());
  const auto st = downloading();
  d.connect_pending(b, hybrid, no_torrent, &st);
  CHECK(b.take() == Strings{"connect_peer 1 127.0.0.2:6881"});
}

TEST_CASE("a peer the hybrid refuses stays pending; the companion is not asked", "[peers]") {
  FakeBackend b;
  b.refuse_connect.insert(hybrid);
  PeerDialer d;
  d.queue(*parse_peer("127.0.0.2:6881"));
  d.connect_pending(b, hybrid, companion, nullptr);
  CHECK(b.take() == Strings{"connect_peer_refused 1 127.0.0.2:6881"});
  CHECK(d.has_pending());
  // A refusal by the companion does not keep the peer.
  b.refuse_connect = {companion};
  d.connect_pending(b, hybrid, companion, nullptr);
  CHECK_FALSE(d.has_pending());
}

TEST_CASE("a download without peers redials its known peers every 500 ms, then every 5 s",
          "[peers]") {
  FakeBackend b;
  PeerDialer d;
  const Strings known{"127.0.0.2:6881"};
  d.maybe_redial(b, hybrid, downloading(1), known, true, t0);  // connected: nothing to do
  CHECK(b.calls.empty());
  d.maybe_redial(b, hybrid, downloading(0), known, true, t0 + 100ms);
  CHECK(b.take() == Strings{"clear_peers 1", "force_reannounce 1"});
  REQUIRE(d.has_pending());
  // Not again while the redial is still pending.
  d.maybe_redial(b, hybrid, downloading(0), known, true, t0 + 1s);
  CHECK(b.calls.empty());
  d.connect_pending(b, hybrid, no_torrent, nullptr);
  b.take();
  d.maybe_redial(b, hybrid, downloading(0), known, false, t0 + 400ms);  // too soon
  CHECK(b.calls.empty());
  d.maybe_redial(b, hybrid, downloading(0), known, false, t0 + 600ms);
  CHECK(b.take() == Strings{"clear_peers 1"});  // no trackers: no reannounce
  d.connect_pending(b, hybrid, no_torrent, nullptr);
  b.take();
  // 30 s after the last peer was seen the peer is gone, not restarting: every 5 s.
  d.maybe_redial(b, hybrid, downloading(0), known, false, t0 + 31s);
  CHECK(b.take() == Strings{"clear_peers 1"});
  d.connect_pending(b, hybrid, no_torrent, nullptr);
  b.take();
  d.maybe_redial(b, hybrid, downloading(0), known, false, t0 + 34s);
  CHECK(b.calls.empty());
  d.maybe_redial(b, hybrid, downloading(0), known, false, t0 + 36s);
  CHECK(b.take() == Strings{"clear_peers 1"});
}

TEST_CASE("no redial when seeding, checking, or with no known peers", "[peers]") {
  FakeBackend b;
  PeerDialer d;
  TorrentStatus seeding;
  seeding.state = TorrentPhase::seeding;
  d.maybe_redial(b, hybrid, seeding, {"127.0.0.2:6881"}, true, t0 + 1h);
  TorrentStatus checking;
  checking.state = TorrentPhase::checking_files;
  d.maybe_redial(b, hybrid, checking, {"127.0.0.2:6881"}, true, t0 + 1h);
  d.maybe_redial(b, hybrid, downloading(0), {}, true, t0 + 1h);
  CHECK(b.calls.empty());
}
