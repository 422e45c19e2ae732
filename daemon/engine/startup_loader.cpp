#include "daemon/engine/startup_loader.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "core/trust/release_manifest.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {

StartupLoader::StartupLoader(boost::asio::io_context& io, ReleaseRegistry& registry, LoadHost& host)
    : io_(io), registry_(registry), host_(host), alive_(std::make_shared<bool>(true)) {}

StartupLoader::~StartupLoader() {
  *alive_ = false;
}

void StartupLoader::load(std::vector<ReleaseRecord> records,
                         const std::function<bool(const ReleaseRecord&)>& has_torrent) {
  for (auto& rec : records) {
    auto m = parse_release_manifest(rec.manifest);
    if (!m) {
      log::error("release {}: stored manifest unreadable: {}", rec.id, m.error().message);
      continue;
    }
    Release& r = registry_.add(registry_.make(std::move(rec), std::move(*m)));
    if (has_torrent(r.rec)) enqueue(r);
  }
  start();
}

void StartupLoader::enqueue(Release& r) {
  r.intake = Intake::loading;
  queue_.push(r.rec.id);
}

void StartupLoader::start() {
  if (queue_.loading() == 0) {
    log::info("{} release(s) loaded", registry_.size());
    return;
  }
  log::info("loading {} release(s)", queue_.loading());
  post_batch();
}

void StartupLoader::loaded(Release& r) {
  if (r.intake != Intake::loading) return;
  r.intake = Intake::ready;
  if (queue_.loaded()) log::info("{} release(s) loaded", registry_.size());
}

void StartupLoader::failed(Release& r, const Error& e) {
  loaded(r);
  r.error = e;
  registry_.persist(r);
}

void StartupLoader::post_batch() {
  std::weak_ptr<bool> weak = alive_;
  boost::asio::post(io_, [this, weak] {
    if (auto a = weak.lock(); a && *a) run_batch();
  });
}

// One batch per turn: the adds are queued with libtorrent (which checks the resume data of
// those added while the next batch is read) and the loop serves the API before the next one.
void StartupLoader::run_batch() {
  if (host_.shutting_down()) return;
  for (const auto& id : queue_.next_batch()) {
    Release* r = registry_.find(id);
    if (!r || r->intake != Intake::loading) continue;
    if (auto st = host_.start_add(*r); !st) failed(*r, st.error());
  }
  if (!queue_.exhausted()) post_batch();
}

Status not_loading(const Release& r) {
  if (r.intake != Intake::loading) return {};
  return fail(Errc::unavailable,
              fmt::format("{} is still being loaded (daemon start-up)", r.rec.id),
              "retry in a moment; GET /v1/releases shows it `loading` until then");
}

}  // namespace weights::daemon
