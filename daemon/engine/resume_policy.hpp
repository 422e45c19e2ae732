#pragma once
// Resume data and start-up loading, as policy over plain data (no libtorrent types).
//
// A release's hybrid torrent has one resume file (store: resume/<v2>.resume). The rules for
// replacing it: never while a check runs or before the first status after an add (in 2.0.8 the
// resume data of a torrent in checking_files has only the pieces checked so far, so a file
// written then would make every later restart download the rest again); never with fewer pieces
// than the file already holds (`floor`); while pieces arrive, every progress_save_interval.
// A complete release whose file already says so is not rewritten (resume_unchanged).
//
// ShutdownGate counts what a shutdown waits for (the final status update, then the saves);
// LoadQueue is the start-up queue of releases whose torrents are added in batches.
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace weights::daemon {

using SteadyClock = std::chrono::steady_clock;

// Resume data of a download as its pieces arrive: a kill -9 loses at most this much progress.
constexpr auto progress_save_interval = std::chrono::seconds(2);

// What the policy knows of one hybrid torrent's resume file.
struct ResumeRecord {
  bool checking = false;  // a check we started (force_recheck) is running
  // Pieces known on disk (loaded, or last written); -1 after a check, whose result stands.
  int floor = -1;
  int save_requested_pieces = -1;  // pieces the status had when the last save was requested
  SteadyClock::time_point last_progress_save{};
  // The file says the torrent is complete and nothing was re-checked or re-selected since.
  bool current = false;
};

// The torrent's latest status, as far as the policy needs it.
struct ResumeStatus {
  bool known = false;     // a status update arrived since the add
  bool checking = false;  // checking files or resume data
  bool downloading = false;
  int num_pieces = 0;
  bool payload_moved = false;  // bytes down or up this session
};

// Whether save data with `have_pieces` may replace the file.
bool resume_save_allowed(const ResumeRecord& r, const ResumeStatus& st, int have_pieces);

// Whether a progress save is due now (pieces arrived and the interval passed).
bool progress_save_due(const ResumeRecord& r, const ResumeStatus& st, SteadyClock::time_point now);

// True if the file still says everything: complete, current, and no payload moved this session
// (the file keeps all-time counters). Such a torrent is skipped by periodic and shutdown saves.
bool resume_unchanged(const ResumeRecord& r, const ResumeStatus& st, bool release_complete);

// State changes.
void resume_added(ResumeRecord& r, int have_pieces);  // the torrent is (re-)added
void resume_check_started(ResumeRecord& r);           // force_recheck
// A check is over; returns whether it was one we started.
bool resume_checked(ResumeRecord& r);
void resume_save_requested(ResumeRecord& r, const ResumeStatus& st, SteadyClock::time_point now);
// A file was written with `have_pieces`; `says_complete`: the release is complete and every
// piece is in it.
void resume_written(ResumeRecord& r, int have_pieces, bool says_complete);

// Shutdown: first the status update requested by the shutdown must be answered (so the saves
// carry current payload counters), then every requested save; then the shutdown is done.
class ShutdownGate {
 public:
  bool shutting_down() const { return shutting_down_; }
  int saves_outstanding() const { return saves_outstanding_; }

  // A status update was requested (post_torrent_updates); each is answered once.
  void update_requested() { ++updates_pending_; }
  // An update was answered. True: the final one; request the saves now.
  bool update_answered();
  // libtorrent dropped status updates: those answers will not come. True: request the saves.
  bool updates_dropped();
  // The shutdown starts: wait for the updates requested until now (call update_requested for
  // the final one right after).
  void begin();
  // The saves were requested. True: none was, the shutdown is done.
  bool saves_requested(int n);
  // A save was answered (written, refused or failed). True: it was the last one.
  bool save_answered();

 private:
  bool shutting_down_ = false;
  bool awaiting_final_status_ = false;
  int updates_pending_ = 0;
  int saves_outstanding_ = 0;
};

// Start-up: every known release is listed at once (state `loading`); their torrents are added
// in batches so that the control API answers meanwhile.
class LoadQueue {
 public:
  static constexpr std::size_t batch_size = 64;

  void push(std::string id);
  // The next ids to add (at most batch_size); empty once every queued id was handed out.
  std::vector<std::string> next_batch();
  bool exhausted() const { return next_ >= queue_.size(); }
  // Releases still loading.
  std::size_t loading() const { return loading_; }
  // One release finished loading (added, or failed to). True: it was the last one.
  bool loaded();

 private:
  std::vector<std::string> queue_;
  std::size_t next_ = 0;
  std::size_t loading_ = 0;
};

}  // namespace weights::daemon
