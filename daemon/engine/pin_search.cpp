#include "daemon/engine/pin_search.hpp"

#include <algorithm>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "daemon/engine/pin_announcer.hpp"

namespace weights::daemon {

upstream::PinFetchOptions pin_ask_options(std::shared_ptr<const std::atomic<bool>> cancel) {
  using std::chrono::seconds;
  upstream::PinFetchOptions o;
  o.offer.connect_timeout = seconds(5);
  o.offer.read_timeout = seconds(5);
  o.offer.deadline = seconds(5);
  o.offer.cancel = cancel;
  o.objects.connect_timeout = seconds(5);
  o.objects.read_timeout = seconds(10);
  o.objects.min_rate = 16 * 1024;
  o.objects.rate_window = seconds(10);
  o.objects.cancel = std::move(cancel);
  o.objects_base = seconds(10);
  o.objects_rate = 64 * 1024;
  return o;
}

Result<upstream::VerifiedPin> ask_pin_peer(const units::Endpoint& peer,
                                           const weights::UpstreamPin& pin,
                                           std::shared_ptr<const std::atomic<bool>> cancel) {
  return upstream::fetch_verified_pin(peer, pin, pin_ask_options(std::move(cancel)));
}

std::string address_group(const boost::asio::ip::address& address) {
  namespace ip = boost::asio::ip;
  ip::address a = address;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    return fmt::format("{}.{}.{}.0/24", b[0], b[1], b[2]);
  }
  auto b = a.to_v6().to_bytes();
  std::fill(b.begin() + 8, b.end(), 0);
  return fmt::format("{}/64", ip::address_v6(b).to_string());
}

PinSearch::PinSearch(PinSearchHost& host, weights::UpstreamPin pin,
                     std::vector<units::Endpoint> known, PinSearchEvents events,
                     PinSearchLimits limits)
    : host_(host),
      pin_(std::move(pin)),
      key_hex_(rendezvous_key_hex(pin_)),
      events_(std::move(events)),
      limits_(limits),
      self_(std::make_shared<PinSearch*>(this)) {
  for (const auto& ep : known) add(ep);
}

PinSearch::~PinSearch() {
  cancel_asks();
}

void PinSearch::start() {
  if (started_ || stopped_) return;
  started_ = true;
  deadline_ = host_.now() + limits_.search_time;
  // Configured endpoints (an operator's own seed nodes) get a head start: the DHT is first asked
  // at the first tick, so what it names is not asked before them.
  if (leads_.empty()) host_.lookup(key_hex_);
  pump();
  if (stopped_) return;
  tick_armed_ = true;
  host_.after(limits_.lookup_interval, [weak = std::weak_ptr<PinSearch*>(self_)] {
    if (auto s = weak.lock()) (*s)->tick();
  });
}

void PinSearch::tick() {
  tick_armed_ = false;
  if (stopped_) return;
  if (!winner_ && host_.now() < deadline_) host_.lookup(key_hex_);
  pump();
  if (stopped_ || tick_armed_) return;
  tick_armed_ = true;
  host_.after(limits_.lookup_interval, [weak = std::weak_ptr<PinSearch*>(self_)] {
    if (auto s = weak.lock()) (*s)->tick();
  });
}

void PinSearch::on_peers(const std::vector<units::Endpoint>& peers) {
  if (stopped_) return;
  for (const auto& ep : peers) add(ep);
  pump();
}

void PinSearch::add(const units::Endpoint& ep) {
  if (ep.port == 0 || ep.address.is_unspecified()) return;
  if (leads_.size() >= limits_.max_endpoints) return;
  const std::string name = units::format_endpoint(ep);
  if (lead_index_.count(name)) return;
  const std::string group = address_group(ep.address);
  auto [g, fresh] = group_index_.emplace(group, groups_.size());
  if (fresh) groups_.emplace_back();
  Lead lead;
  lead.endpoint = ep;
  lead.group = g->second;
  lead.seq = leads_.size();
  lead_index_.emplace(name, leads_.size());
  leads_.push_back(std::move(lead));
}

// Of the endpoints that may be asked now: fewest asks of this endpoint (a second ask waits for
// every first), then the group rejected least, then asked least, then the first found.
std::optional<std::size_t> PinSearch::next_lead(std::chrono::steady_clock::time_point now) const {
  std::optional<std::size_t> best;
  auto key = [this](std::size_t i) {
    const Lead& l = leads_[i];
    const Group& g = groups_[l.group];
    return std::make_tuple(l.attempts, g.rejections, g.asks, l.seq);
  };
  for (std::size_t i = 0; i < leads_.size(); ++i) {
    const Lead& l = leads_[i];
    if (l.asking || l.done || l.not_before > now) continue;
    const Group& g = groups_[l.group];
    if (g.in_flight >= limits_.group_in_flight || g.asks >= limits_.max_group_asks) continue;
    if (!best || key(i) < key(*best)) best = i;
  }
  return best;
}

bool PinSearch::over(std::chrono::steady_clock::time_point now) const {
  return in_flight_ == 0 && (now >= deadline_ || asks_ >= limits_.max_asks);
}

void PinSearch::pump() {
  if (!started_ || stopped_ || winner_) return;
  const auto now = host_.now();
  while (now < deadline_ && in_flight_ < limits_.concurrent && asks_ < limits_.max_asks) {
    const auto next = next_lead(now);
    if (!next) break;
    ask(*next);
  }
  if (!over(now)) return;
  stopped_ = true;
  std::string why = fmt::format(
      "no peer under the pin's DHT key {} served commit {} within {} s ({} endpoints found, {} "
      "asked)",
      key_hex_, pin_.commit,
      std::chrono::duration_cast<std::chrono::seconds>(limits_.search_time).count(), leads_.size(),
      asks_);
  if (!rejected_.shown.empty()) {
    why += fmt::format("; rejected: {}", fmt::join(rejected_.shown, "; "));
    if (rejected_.more) why += fmt::format("; and {} more", rejected_.more);
  }
  events_.failed(Error{Errc::unavailable, std::move(why),
                       "fetch again once a node holding the release is up, or the hub"});
}

void PinSearch::ask(std::size_t i) {
  Lead& l = leads_[i];
  Group& g = groups_[l.group];
  l.asking = true;
  l.ask_id = ++next_ask_id_;
  l.cancel = std::make_shared<std::atomic<bool>>(false);
  ++g.asks;
  ++g.in_flight;
  ++asks_;
  ++in_flight_;
  host_.ask(l.endpoint, pin_, l.cancel,
            [weak = std::weak_ptr<PinSearch*>(self_), i,
             id = l.ask_id](Result<upstream::VerifiedPin> got) {
              if (auto s = weak.lock()) (*s)->answered(i, id, std::move(got));
            });
}

void PinSearch::answered(std::size_t i, std::uint64_t ask_id, Result<upstream::VerifiedPin> got) {
  Lead& l = leads_[i];
  if (!l.asking || l.ask_id != ask_id) return;
  Group& g = groups_[l.group];
  l.asking = false;
  --in_flight_;
  --g.in_flight;
  const bool cancelled = l.cancel && l.cancel->load();
  l.cancel.reset();
  if (stopped_) return;
  if (cancelled) {
    // Another answer won meanwhile: this one neither counts nor names the peer.
    --asks_;
    --g.asks;
    return pump();
  }
  ++l.attempts;
  if (!got) {
    const auto code = got.error().code;
    if ((code == Errc::unavailable || code == Errc::not_found) && l.attempts < 2) {
      l.not_before = host_.now() + limits_.retry_delay;
    } else {
      l.done = true;
    }
    reject(i, got.error().message);
    return pump();
  }
  l.done = true;
  if (rejected_swarms_.count(got->offer.info_hash_v2)) {
    reject(i, fmt::format("offers swarm {}, which failed this fetch already",
                          got->offer.info_hash_v2));
    return pump();
  }
  winner_ = i;
  winner_swarm_ = got->offer.info_hash_v2;
  paused_at_ = host_.now();
  cancel_asks();
  events_.verified(l.endpoint, std::move(*got));
}

void PinSearch::reject(std::size_t i, const std::string& why) {
  Lead& l = leads_[i];
  ++groups_[l.group].rejections;
  // The pin exchange's client errors name the peer already.
  const auto name = fmt::format("peer {}: ", units::format_endpoint(l.endpoint));
  std::string text = why.rfind(name, 0) == 0 ? why : name + why;
  if (!l.named) {
    l.named = true;
    if (rejected_.shown.size() < limits_.shown_rejections) {
      rejected_.shown.push_back(text);
    } else {
      ++rejected_.more;
    }
  }
  if (events_.rejected) events_.rejected(text);
}

void PinSearch::reject_winner(const std::string& why) {
  if (!winner_ || stopped_) return;
  const std::size_t i = *winner_;
  winner_.reset();
  rejected_swarms_.insert(*winner_swarm_);
  winner_swarm_.reset();
  // The time its swarm was tried is not search time.
  deadline_ += host_.now() - paused_at_;
  reject(i, why);
  pump();
}

void PinSearch::stop() {
  stopped_ = true;
  cancel_asks();
}

void PinSearch::cancel_asks() {
  for (auto& l : leads_) {
    if (l.asking && l.cancel) l.cancel->store(true);
  }
}

}  // namespace weights::daemon
