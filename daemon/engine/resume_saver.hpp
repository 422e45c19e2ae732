#pragma once
// The resume saver: when resume data of a release's hybrid torrent is requested and how the
// answer is written (atomically, store: resume/<v2>.resume), the periodic and progress saves,
// and the shutdown gate (the final status update, then one save per torrent that changed, then
// done; or the deadline). The rules themselves are pure, in resume_policy.hpp; this applies
// them to Release records and the TorrentBackend. The engine is reached only through
// ResumeHost. Runs on the io thread.
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "daemon/engine/release.hpp"
#include "daemon/engine/resume_policy.hpp"
#include "daemon/engine/torrent_backend.hpp"
#include "daemon/engine/torrent_events.hpp"

namespace weights::daemon {

class ResumeHost {
 public:
  virtual ~ResumeHost() = default;
  virtual TorrentBackend& backend() = 0;
  // The release whose hybrid torrent `t` is; null for a v1 companion or a torrent of no release.
  virtual Release* hybrid_release(TorrentId t) = 0;
  // Every hybrid torrent in the session, with its release (null if none).
  virtual std::vector<std::pair<TorrentId, const Release*>> hybrid_torrents() = 0;
  // The release's state is `complete` (release_state.hpp).
  virtual bool complete(const Release& r) = 0;
  // Where the release's resume file is.
  virtual std::filesystem::path resume_file(const Release& r) = 0;
};

class ResumeSaver {
 public:
  using Now = std::function<SteadyClock::time_point()>;

  ResumeSaver(boost::asio::io_context& io, ResumeHost& host, Now now = SteadyClock::now);
  ~ResumeSaver();
  ResumeSaver(const ResumeSaver&) = delete;
  ResumeSaver& operator=(const ResumeSaver&) = delete;

  const ShutdownGate& gate() const { return gate_; }

  // ---- one release
  // Whether a ResumeSaved with `have_pieces` may replace the release's file (resume_policy).
  bool save_allowed(const Release& r, int have_pieces) const;
  // Requests resume data now (a download's progress, or right after a check): no cache flush.
  void request_progress_save(Release& r);
  // After each status update of the hybrid: a progress save if one is due (pieces arrived and
  // progress_save_interval passed since the last request).
  void maybe_save_progress(Release& r);
  // The file still says everything (complete, current, no payload moved): no save needed.
  bool unchanged(const Release& r) const;

  // ---- status updates (each request is answered once; the shutdown waits for its own)
  void request_updates();
  // A StatusBatch was handled: if it was the shutdown's, the saves are requested now.
  void updates_answered();
  // Status batches were dropped (UpdatesLost): the shutdown does not wait for them.
  void updates_lost();

  // ---- periodic: resume data of every hybrid torrent that changed (only_if_modified)
  void save_changed();

  // ---- answers to save_resume
  void on_saved(const ResumeSaved& e);
  void on_save_failed(const ResumeSaveFailed& e);

  // ---- shutdown
  // Starts the shutdown: `done` runs once every save it requests is answered (saved or failed),
  // or at deadline_passed(). Then call request_updates() for the final status (the saves carry
  // its payload counters). False: a shutdown had begun already (`done` is dropped).
  bool begin_shutdown(std::function<void()> done);
  // The shutdown's deadline: done now, whatever is unanswered.
  void deadline_passed();

 private:
  void save_for_shutdown();
  void answered();
  void finish();

  boost::asio::io_context& io_;
  ResumeHost& host_;
  Now now_;
  ShutdownGate gate_;
  std::function<void()> done_;
  std::shared_ptr<bool> alive_;
};

}  // namespace weights::daemon
