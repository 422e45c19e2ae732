#include "daemon/engine/startup_loader.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "daemon/log.hpp"

namespace weights::daemon {

StartupLoader::StartupLoader(boost::asio::io_context& io, LoadHost& host)
    : io_(io), host_(host), alive_(std::make_shared<bool>(true)) {}

StartupLoader::~StartupLoader() {
  *alive_ = false;
}

void StartupLoader::enqueue(Release& r) {
  r.intake = Intake::loading;
  queue_.push(r.rec.id);
}

void StartupLoader::start() {
  if (queue_.loading() == 0) {
    log::info("{} release(s) loaded", host_.release_count());
    return;
  }
  log::info("loading {} release(s)", queue_.loading());
  post_batch();
}

void StartupLoader::loaded(Release& r) {
  if (r.intake != Intake::loading) return;
  r.intake = Intake::ready;
  if (queue_.loaded()) log::info("{} release(s) loaded", host_.release_count());
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
    Release* r = host_.find(id);
    if (!r || r->intake != Intake::loading) continue;
    if (auto st = host_.start_add(*r); !st) {
      loaded(*r);
      r->error = st.error();
      host_.persist(*r);
    }
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
