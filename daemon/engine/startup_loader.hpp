#pragma once
// Start-up loading: every stored release is taken into the ReleaseRegistry at once
// (Intake::loading, state `loading`);
// their torrents are added LoadQueue::batch_size at a time, one batch per turn of the event
// loop, so the control API answers meanwhile. Each add is asynchronous (the host's start_add):
// a release is loaded when its add answers (loaded()), and the loading is over when the last
// one did. Requests that would add, remove or re-add a torrent wait until then (not_loading).
// The engine is reached only through LoadHost. Runs on the io thread.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/util/error.hpp"
#include "daemon/engine/release.hpp"
#include "daemon/engine/release_registry.hpp"
#include "daemon/engine/resume_policy.hpp"

namespace weights::daemon {

class LoadHost {
 public:
  virtual ~LoadHost() = default;
  // No further batch starts once the daemon shuts down.
  virtual bool shutting_down() = 0;
  // Starts adding the release's torrent (answered later: the engine then calls loaded()). An
  // error: the add could not start; the release fails with it.
  virtual Status start_add(Release& r) = 0;
};

class StartupLoader {
 public:
  StartupLoader(boost::asio::io_context& io, ReleaseRegistry& registry, LoadHost& host);
  ~StartupLoader();
  StartupLoader(const StartupLoader&) = delete;
  StartupLoader& operator=(const StartupLoader&) = delete;

  const LoadQueue& queue() const { return queue_; }

  // Start-up: each stored record becomes a Release in the registry (one whose stored manifest
  // does not parse is logged and left out); those whose torrent is in the store
  // (`has_torrent`) are queued, then start().
  void load(std::vector<ReleaseRecord> records,
            const std::function<bool(const ReleaseRecord&)>& has_torrent);
  // Marks `r` loading and queues its torrent's add (before start()).
  void enqueue(Release& r);
  // Starts adding the queued releases, the first batch on the next turn of the loop.
  void start();
  // `r`'s add answered (or failed): it is loaded. Nothing if it was not loading.
  void loaded(Release& r);
  // `r`'s add was refused: it is loaded, fails with `e`, and is persisted.
  void failed(Release& r, const Error& e);

 private:
  void post_batch();
  void run_batch();

  boost::asio::io_context& io_;
  ReleaseRegistry& registry_;
  LoadHost& host_;
  LoadQueue queue_;
  std::shared_ptr<bool> alive_;
};

// Requests that would add, remove or re-add a release's torrent wait until it is loaded:
// unavailable (with a hint to retry) while it is.
Status not_loading(const Release& r);

}  // namespace weights::daemon
