#include "daemon/engine/pin_rendezvous.hpp"

#include "core/upstream/pin_exchange.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {
namespace {

// The held pins as the pin exchange's handler asks for them.
class HeldSource final : public upstream::PinSource {
 public:
  HeldSource(std::shared_ptr<const std::map<std::string, HeldRelease>> held, int bt_port,
             const std::function<std::filesystem::path(const std::string&)>& objects_file,
             const upstream::BundleDigestCache& digests)
      : held_(std::move(held)), bt_port_(bt_port), objects_file_(objects_file), digests_(digests) {}
  std::optional<upstream::HeldPin> find(const RendezvousKey& key) const override {
    const auto it = held_->find(upstream::key_hex(key));
    if (it == held_->end() || bt_port_ <= 0) return std::nullopt;
    upstream::HeldPin out;
    out.pin = it->second.pin;
    out.info_hash_v2 = it->second.v2_infohash;
    out.bt_port = static_cast<std::uint16_t>(bt_port_);
    out.objects_path = objects_file_(it->second.v2_infohash);
    // Unknown on an error: the handler then reads the file and answers for it.
    if (auto digest = digests_.get(out.objects_path)) out.objects_digest = std::move(*digest);
    return out;
  }

 private:
  std::shared_ptr<const std::map<std::string, HeldRelease>> held_;
  int bt_port_;
  const std::function<std::filesystem::path(const std::string&)>& objects_file_;
  const upstream::BundleDigestCache& digests_;
};

std::vector<units::HostPort> dht_nodes_of(const Config& c) {
  std::vector<units::HostPort> out;
  for (const auto& n : c.dht_nodes) {
    if (auto hp = units::parse_host_port(n)) out.push_back(std::move(*hp));
  }
  return out;
}

}  // namespace

std::vector<units::Endpoint> pin_exchange_peers(const Config& config) {
  std::vector<units::Endpoint> out;
  for (const auto& p : config.pin_exchange_peers) {
    if (auto ep = units::parse_endpoint(p, units::PortZero::refused)) out.push_back(*ep);
  }
  return out;
}

PinRendezvous::PinRendezvous(
    TorrentBackend& backend, const ReleaseRegistry& registry, const Config& config,
    std::function<int()> bt_port,
    std::function<std::filesystem::path(const std::string& v2_infohash)> objects_file)
    : backend_(backend),
      registry_(registry),
      config_(config),
      bt_port_(std::move(bt_port)),
      objects_file_(std::move(objects_file)),
      held_(std::make_shared<const std::map<std::string, HeldRelease>>()) {}

PinRendezvous::~PinRendezvous() {
  server_.reset();  // joins the server's thread before the snapshot and callbacks go
}

std::shared_ptr<const std::map<std::string, HeldRelease>> PinRendezvous::held() const {
  std::lock_guard lock(mutex_);
  return held_;
}

void PinRendezvous::start() {
  AnnounceSettings s;
  if (config_.dht == Toggle::on) s.nodes = dht_nodes_of(config_);
  announcer_.emplace(
      backend_, std::move(s),
      [this] {
        std::vector<std::string> keys;
        for (const auto& [k, _] : announced_) keys.push_back(k);
        return keys;
      },
      [this] { return port(); });
  const auto endpoint = pin_exchange_endpoint(config_.pin_exchange, config_.listen_interfaces,
                                              config_.dht == Toggle::on);
  if (endpoint.empty()) return;
  auto server = PinExchangeServer::start(
      endpoint, [this](const std::string& method, const std::string& target) {
        // The BitTorrent port as of the last tick (the session is the io thread's).
        const HeldSource source(held(), bt_port_cache_.load(), objects_file_, digests_);
        auto res = upstream::handle_pin_request(method, target, source);
        return PinHttpAnswer{static_cast<int>(res.status), std::move(res.content_type),
                             std::move(res.body)};
      });
  if (!server) {
    log::error("{}", server.error().message);
    return;
  }
  server_ = std::move(*server);
  log::info("pin exchange at http://{}/weightsd-pin/1/", server_->local_endpoint());
}

void PinRendezvous::tick(std::chrono::steady_clock::time_point now) {
  bt_port_cache_ = bt_port_();
  auto held = std::make_shared<const std::map<std::string, HeldRelease>>(held_pins(registry_));
  std::vector<std::string> added;
  for (const auto& [k, _] : *held) {
    if (!announced_.count(k)) added.push_back(k);
  }
  announced_ = *held;
  {
    std::lock_guard lock(mutex_);
    held_ = std::move(held);
  }
  if (!announcer_) return;
  for (const auto& k : added) announcer_->adopted(k, now);
  announcer_->tick(now);
}

bool PinRendezvous::lookup(const std::string& key_hex) {
  return announcer_ && announcer_->lookup(key_hex, std::chrono::steady_clock::now());
}

}  // namespace weights::daemon
