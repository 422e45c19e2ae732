#pragma once
// The hub-gone search (docs/pinned-releases.md §4c): among the endpoints the DHT names under a
// pin's rendezvous key, find one whose pin exchange hands over the commit's git objects, when
// anyone can announce anything under that key. One PinSearch per fetch: PinnedFetch starts it
// when the hub's git endpoint fails, and joins the swarm of the answer it reports.
//
// What a flood of bogus endpoints under the key can and cannot do to it:
//  - endpoints are deduplicated; at most `max_endpoints` are remembered (later ones are dropped);
//  - up to `concurrent` endpoints are asked at once, at most `group_in_flight` of one address
//    group (an IPv4 /24, an IPv6 /64: where one host's ports, or one network's hosts, live), on
//    the host's worker threads, each ask bounded by PinFetchOptions (pin_ask_options);
//  - the next endpoint asked is, of those not asked yet, the one whose group has been rejected
//    least, then asked least, then that arrived first: a flood from a few groups goes behind
//    every endpoint of a fresh group. An endpoint is asked at most twice; the second time only
//    when its first answer was `unavailable` or `not_found` (busy, down, not ready yet),
//    `retry_delay` after the first and only while no endpoint not asked yet can be asked;
//  - at most `max_asks` asks per search and `max_group_asks` per group;
//  - the key is looked up at once (after `lookup_interval` when endpoints were configured: they
//    are asked first) and again every `lookup_interval` (the DHT answers with a random subset of
//    what it stores) while the search runs; new asks start only while it runs:
//    for `search_time`, not counting the time a verified answer's swarm is being tried. When it
//    is over and no ask is in flight (or the asks budget is spent), the search fails;
//  - every rejected endpoint is named once: the first `shown_rejections` by text, then a count.
// The first answer that verifies wins: the asks in flight are cancelled (their outcomes are
// dropped, not counted) and the search pauses until the fetch rejects that answer's swarm
// (reject_winner: then it goes on) or stops it. A later answer offering a swarm already
// rejected is rejected at once.
//
// Io thread only; the host runs the asks elsewhere.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/publish/pinned_torrent.hpp"
#include "core/upstream/pin_exchange.hpp"
#include "core/util/error.hpp"
#include "core/util/units.hpp"

namespace weights::daemon {

struct PinSearchLimits {
  std::chrono::milliseconds search_time{90000};
  std::chrono::milliseconds lookup_interval{2000};
  std::chrono::milliseconds retry_delay{10000};
  std::size_t concurrent = 6;
  std::size_t group_in_flight = 2;  // a pin exchange serves at most 2 connections per address
  std::size_t max_asks = 256;
  std::size_t max_group_asks = 32;
  std::size_t max_endpoints = 4096;
  std::size_t shown_rejections = 16;
};

// The deadlines of one ask: the offer (at most max_pin_offer_bytes) within 5 s, connect and
// answer; the objects within 10 s plus 1 s per 64 KiB the offer names, never silent for 10 s
// nor slower than 16 KiB/s over 10 s. `cancel`, when set, stops either request within ~100 ms.
upstream::PinFetchOptions pin_ask_options(std::shared_ptr<const std::atomic<bool>> cancel);

// One ask as the engine makes it (on a worker thread): fetch_verified_pin with pin_ask_options.
Result<upstream::VerifiedPin> ask_pin_peer(const units::Endpoint& peer,
                                           const weights::UpstreamPin& pin,
                                           std::shared_ptr<const std::atomic<bool>> cancel);

// The address group an endpoint counts in: "a.b.c.0/24" for IPv4 (and IPv4-mapped IPv6),
// "x:x:x:x::/64" for IPv6.
std::string address_group(const boost::asio::ip::address& address);

// The rejected endpoints a search names: each once, the first few by text, then a count.
struct RejectedPeers {
  std::vector<std::string> shown;  // "peer ADDR:PORT: <what was wrong>"
  std::size_t more = 0;            // rejected, not in `shown`
  std::size_t total() const { return shown.size() + more; }
  friend bool operator==(const RejectedPeers&, const RejectedPeers&) = default;
};

// What the search needs of the engine.
class PinSearchHost {
 public:
  virtual ~PinSearchHost() = default;
  virtual std::chrono::steady_clock::time_point now() = 0;
  // Runs `fn` on the io thread after `delay` (never after the engine is gone).
  virtual void after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  // Looks the key up in the DHT; its answers reach PinSearch::on_peers. false: the key was looked
  // up less than a second ago (the search tries again at its next interval).
  virtual bool lookup(const std::string& key_hex) = 0;
  // Asks `peer` for `pin` off the io thread (ask_pin_peer) and calls `done` with the outcome on
  // the io thread. Once `cancel` is set the ask may end early with any error.
  virtual void ask(const units::Endpoint& peer, const weights::UpstreamPin& pin,
                   std::shared_ptr<const std::atomic<bool>> cancel,
                   std::function<void(Result<upstream::VerifiedPin>)> done) = 0;
};

// What the search tells its fetch. The search may be stopped (stop()) from within any of them.
struct PinSearchEvents {
  // An answer verified against the pin; the search is paused.
  std::function<void(const units::Endpoint& peer, upstream::VerifiedPin answer)> verified;
  // An endpoint was rejected (`text` names it and why); rejected() has changed.
  std::function<void(const std::string& text)> rejected;
  // The search is over with nothing verified: unavailable, naming the key, the commit, how many
  // endpoints were found and asked, and the rejected ones.
  std::function<void(const Error& e)> failed;
};

class PinSearch {
 public:
  // `known`: endpoints asked before those the DHT names ([network] pin_exchange_peers).
  PinSearch(PinSearchHost& host, weights::UpstreamPin pin, std::vector<units::Endpoint> known,
            PinSearchEvents events, PinSearchLimits limits = {});
  ~PinSearch();
  PinSearch(const PinSearch&) = delete;
  PinSearch& operator=(const PinSearch&) = delete;

  // The first lookup and asks.
  void start();
  // Endpoints the DHT returned for the key (untrusted leads); port 0 is ignored.
  void on_peers(const std::vector<units::Endpoint>& peers);
  // The verified answer's swarm let the fetch down (`why`): its peer is rejected, so is any later
  // answer offering the same swarm, and the search goes on.
  void reject_winner(const std::string& why);
  // Cancels the asks in flight; no event follows.
  void stop();

  const std::string& key_hex() const { return key_hex_; }
  const RejectedPeers& rejected() const { return rejected_; }
  std::size_t found() const { return leads_.size(); }
  std::size_t asked() const { return asks_; }
  std::size_t in_flight() const { return in_flight_; }
  bool paused() const { return winner_.has_value(); }

 private:
  // An endpoint found under the key.
  struct Lead {
    units::Endpoint endpoint;
    std::size_t group = 0;
    std::uint64_t seq = 0;  // arrival order
    int attempts = 0;       // asks that came back (a cancelled one does not count)
    bool asking = false;
    bool done = false;                                   // never asked again
    bool named = false;                                  // in rejected_
    std::chrono::steady_clock::time_point not_before{};  // a second ask waits until then
    std::uint64_t ask_id = 0;
    std::shared_ptr<std::atomic<bool>> cancel;  // of the ask in flight
  };
  struct Group {
    std::size_t asks = 0;  // started and not cancelled
    std::size_t in_flight = 0;
    std::size_t rejections = 0;
  };
  void add(const units::Endpoint& ep);
  void tick();
  // Starts the asks there is room for; ends the search when it is over.
  void pump();
  std::optional<std::size_t> next_lead(std::chrono::steady_clock::time_point now) const;
  void ask(std::size_t lead);
  void answered(std::size_t lead, std::uint64_t ask_id, Result<upstream::VerifiedPin> got);
  void reject(std::size_t lead, const std::string& why);
  void cancel_asks();
  bool over(std::chrono::steady_clock::time_point now) const;

  PinSearchHost& host_;
  weights::UpstreamPin pin_;
  std::string key_hex_;
  PinSearchEvents events_;
  PinSearchLimits limits_;
  std::vector<Lead> leads_;
  std::map<std::string, std::size_t> lead_index_;  // by format_endpoint
  std::vector<Group> groups_;
  std::map<std::string, std::size_t> group_index_;  // by address_group
  std::uint64_t next_ask_id_ = 0;
  std::size_t asks_ = 0;       // asks started and not cancelled
  std::size_t in_flight_ = 0;  // asks whose outcome has not come back
  std::chrono::steady_clock::time_point deadline_{};
  std::optional<std::size_t> winner_;  // the lead whose verified answer is being tried
  std::optional<std::string> winner_swarm_;
  std::chrono::steady_clock::time_point paused_at_{};
  std::set<std::string> rejected_swarms_;  // info-hashes whose swarm failed the fetch
  RejectedPeers rejected_;
  bool started_ = false;
  bool stopped_ = false;
  bool tick_armed_ = false;
  // Callbacks hold it weakly: an outcome or timer after the search is gone is dropped.
  std::shared_ptr<PinSearch*> self_;
};

}  // namespace weights::daemon
