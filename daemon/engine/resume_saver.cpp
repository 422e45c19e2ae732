#include "daemon/engine/resume_saver.hpp"

#include <boost/asio/post.hpp>

#include "core/util/atomic_file.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {

namespace {

ResumeStatus resume_status(const Release& r) {
  ResumeStatus st;
  if (!r.status) return st;
  st.known = true;
  st.checking = r.status->checking();
  st.downloading = r.status->state == TorrentPhase::downloading;
  st.num_pieces = r.status->num_pieces;
  st.payload_moved = r.status->total_payload_download > 0 || r.status->total_payload_upload > 0;
  return st;
}

}  // namespace

ResumeSaver::ResumeSaver(boost::asio::io_context& io, ResumeHost& host, Now now)
    : io_(io), host_(host), now_(std::move(now)), alive_(std::make_shared<bool>(true)) {}

ResumeSaver::~ResumeSaver() {
  *alive_ = false;
}

bool ResumeSaver::save_allowed(const Release& r, int have) const {
  const auto st = resume_status(r);
  if (!resume_save_allowed(r.resume, st, have)) {
    log::debug("{}: resume data not written ({} pieces, {} on disk{})", r.rec.id, have,
               r.resume.floor, r.resume.checking || !st.known || st.checking ? ", checking" : "");
    return false;
  }
  return true;
}

// A kill -9 then loses at most progress_save_interval of pieces. The trees are not written (see
// the event), so a save costs about one byte per piece.
void ResumeSaver::request_progress_save(Release& r) {
  if (!valid(r.handle)) return;
  resume_save_requested(r.resume, resume_status(r), now_());
  // No flush_disk_cache: it closes the torrent's files each time, and the pieces are in the
  // page cache, which a killed process does not lose.
  host_.backend().save_resume(r.handle, ResumeSave::plain);
}

void ResumeSaver::maybe_save_progress(Release& r) {
  if (progress_save_due(r.resume, resume_status(r), now_())) request_progress_save(r);
}

// libtorrent's own flag (only_if_modified) cannot tell whether the file still says everything:
// in 2.0.8 a torrent loaded from resume data counts as modified (measured: a restart and SIGTERM
// rewrote all 1,000 resume files).
bool ResumeSaver::unchanged(const Release& r) const {
  return resume_unchanged(r.resume, resume_status(r), host_.complete(r));
}

// Every StatusBatch answers one call (libtorrent posts one even with no changes).
void ResumeSaver::request_updates() {
  gate_.update_requested();
  host_.backend().post_updates();
}

void ResumeSaver::updates_answered() {
  if (gate_.update_answered()) save_for_shutdown();
}

void ResumeSaver::updates_lost() {
  if (gate_.updates_dropped()) save_for_shutdown();
}

void ResumeSaver::save_changed() {
  for (const auto& [t, r] : host_.hybrid_torrents()) {
    if (!valid(t) || (r && unchanged(*r))) continue;
    host_.backend().save_resume(t, ResumeSave::only_if_modified);
  }
}

void ResumeSaver::on_saved(const ResumeSaved& e) {
  Release* r = host_.hybrid_release(e.torrent);
  if (r && !save_allowed(*r, e.have_pieces)) {
    answered();
    return;
  }
  if (r) {
    // libtorrent folds session payload into total_downloaded only once a second, so a save
    // right after completion (or at shutdown) can miss bytes: use the exact counters of the
    // latest status (refreshed before the completion save and at shutdown; asking the torrent
    // here would be a round trip to libtorrent's thread per save).
    const std::int64_t min_down =
        r->status ? r->downloaded_base + r->status->total_payload_download : 0;
    const std::int64_t min_up = r->status ? r->uploaded_base + r->status->total_payload_upload : 0;
    if (auto st = write_file_atomic(host_.resume_file(*r), e.encode(min_down, min_up)); !st) {
      log::error("resume data for {}: {}", r->rec.id, st.error().message);
    } else {
      // Says complete: the file now says the torrent is complete.
      resume_written(r->resume, e.have_pieces, host_.complete(*r) && e.all_pieces);
    }
  }
  answered();
}

void ResumeSaver::on_save_failed(const ResumeSaveFailed& e) {
  if (!e.not_modified) log::debug("save resume data failed: {}", e.message);
  answered();
}

bool ResumeSaver::begin_shutdown(std::function<void()> done) {
  if (gate_.shutting_down()) return false;
  gate_.begin();
  done_ = std::move(done);
  return true;
}

// Resume data of every hybrid torrent that changed (unchanged()), so stopping costs in
// proportion to the releases that changed, not to all of them. Payload counters are those of
// the status update requested at shutdown.
void ResumeSaver::save_for_shutdown() {
  int unchanged_n = 0, requested = 0;
  for (const auto& [t, r] : host_.hybrid_torrents()) {
    if (!valid(t)) continue;
    if (r && unchanged(*r)) {
      ++unchanged_n;
      continue;
    }
    host_.backend().save_resume(t, ResumeSave::flush_disk_cache);
    ++requested;
  }
  log::info("shutdown: saving resume data of {} torrent(s), {} unchanged", requested, unchanged_n);
  if (gate_.saves_requested(requested)) {
    // Done on the next turn of the loop, not inside the handler that got here.
    std::weak_ptr<bool> weak = alive_;
    boost::asio::post(io_, [this, weak] {
      if (auto a = weak.lock(); a && *a) finish();
    });
  }
}

void ResumeSaver::deadline_passed() {
  log::warning("shutdown: {} resume data save(s) unanswered", gate_.saves_outstanding());
  finish();
}

void ResumeSaver::answered() {
  if (gate_.save_answered()) finish();
}

void ResumeSaver::finish() {
  if (auto done = std::move(done_)) {
    done_ = nullptr;
    done();
  }
}

}  // namespace weights::daemon
