#include "daemon/engine/release_checks.hpp"

#include <utility>

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "daemon/engine/resume_policy.hpp"
#include "daemon/engine/views.hpp"
#include "daemon/log.hpp"
#include "daemon/store.hpp"

namespace weights::daemon {

namespace asio = boost::asio;

ExpectedFile expected_of(const Release& r, std::size_t i) {
  return ExpectedFile{r.manifest.files[i].length, r.manifest.files[i].sha256};
}

ReleaseChecks::ReleaseChecks(ReleaseRegistry& registry, ChecksHost& host, TorrentBackend& torrents,
                             Verifier& verifier, const Store& store, asio::io_context& ioc,
                             ChecksConfig config)
    : registry_(registry),
      host_(host),
      torrents_(torrents),
      verifier_(verifier),
      store_(store),
      ioc_(ioc),
      config_(std::move(config)),
      alive_(std::make_shared<bool>(true)) {}

ReleaseChecks::~ReleaseChecks() {
  *alive_ = false;
}

// ---- events
// --------------------------------------------------------------------------------------

void ReleaseChecks::file_completed(Release& r, DownloadSource source, int lt_index) {
  for (const auto i : mark_file_completed(r.files, lt_index, source)) request_hash(r, i);
}

void ReleaseChecks::cache_flushed(Release& r) {
  if (r.flush_outstanding > 0 && --r.flush_outstanding == 0) on_flushed(r);
}

void ReleaseChecks::torrent_finished(Release& r, TorrentId t) {
  if (!r.resume.current) torrents_.save_resume(t, ResumeSave::flush_disk_cache);
  host_.request_updates();
}

void ReleaseChecks::torrent_checked(Release& r, TorrentId t) {
  // A check we started is over: its result is what is on disk, persist it now (a kill
  // before the next save would otherwise lose the check). At start-up (resume data checked)
  // only partial downloads are saved: complete releases keep their resume file.
  // The check's result stands, even below the floor: libtorrent either took the have
  // bitfield we gave it or, having rejected it, hashed the files.
  const bool was_checking = resume_checked(r.resume);
  if (was_checking || !all_wanted_verified(r.files)) {
    // The cached status may still say checking_files, which would veto the save.
    r.status = torrents_.status(t);
    host_.request_progress_save(r);
  }
}

// The verifier's reports, by purpose.
void ReleaseChecks::on_checked(const FileChecked& c) {
  switch (c.purpose) {
    case CheckPurpose::downloaded:
      on_hashed(c);
      return;
    case CheckPurpose::reverify_store:
    case CheckPurpose::reverify_staging:
      on_reverified(c);
      return;
    case CheckPurpose::scrub:
      on_scrubbed(c);
      return;
  }
}

// ---- downloaded files
// ----------------------------------------------------------------------------

void ReleaseChecks::request_hash(Release& r, std::size_t i) {
  if (r.files[i].hashing || r.files[i].verified) return;
  r.flush_pending.insert(i);
  if (r.flush_outstanding > 0) return;
  // Both download sources write the same files: wait until both have flushed.
  for (auto* h : {&r.handle, &r.v1_handle}) {
    if (valid(*h) && (h == &r.handle || r.v1_active())) {
      torrents_.flush_cache(*h);  // answered by cache_flushed_alert
      ++r.flush_outstanding;
    }
  }
}

void ReleaseChecks::on_flushed(Release& r) {
  r.flush_outstanding = 0;
  const auto pending = std::move(r.flush_pending);
  r.flush_pending.clear();
  for (const auto i : pending) hash_file_async(r, i);
}

void ReleaseChecks::hash_file_async(Release& r, std::size_t i) {
  if (r.files[i].hashing || r.files[i].verified) return;
  r.files[i].hashing = true;
  const auto path =
      store_.staging_file(r.rec.v2_infohash, r.rec.revision, r.manifest.files[i].path);
  verifier_.check(FileKey{r.rec.id, r.generation, i}, path, expected_of(r, i),
                  CheckPurpose::downloaded);
}

void ReleaseChecks::on_hashed(const FileChecked& c) {
  Release* r = registry_.find(c.key.release);
  if (!r || r->generation != c.key.generation) return;
  const auto i = c.key.index;
  r->files[i].hashing = false;
  const auto& f = r->manifest.files[i];
  const auto path = store_.staging_file(r->rec.v2_infohash, r->rec.revision, f.path);
  const bool mismatch = c.outcome == CheckOutcome::mismatch;
  if ((c.error && c.error->code == Errc::io_error && r->files[i].io_retries < 20) ||
      (mismatch && r->files[i].io_retries < 2)) {
    // Not readable yet (libtorrent may report a piece before the file is on disk): try
    // again shortly; only a readable file with other content is a verification failure.
    r->files[i].io_retries++;
    auto timer = std::make_shared<asio::steady_timer>(ioc_, config_.retry_delay);
    const std::string rid = r->rec.id;
    const auto g = r->generation;
    timer->async_wait(
        [this, alive = alive_, timer, rid, g, i](const boost::system::error_code& ec) {
          if (ec || !*alive || host_.shutting_down()) return;
          Release* again = registry_.find(rid);
          if (!again || again->generation != g) return;
          hash_file_async(*again, i);
        });
    return;
  }
  if (c.outcome == CheckOutcome::match) {
    // With two download sources the file may still be written to (see check_complete): it
    // is linked into the store, which other releases share, only after the final pass.
    if (auto st = r->v1_active() ? Status{} : store_.adopt(path, f.sha256); !st) {
      r->error = st.error();
      registry_.persist(*r);
      return;
    }
    r->files[i].verified = true;
    r->files[i].failed = false;
    deselect_verified(*r, i);
    registry_.persist(*r);
    check_complete(*r);
    return;
  }
  r->files[i].failed = true;
  r->files[i].attempts++;
  const std::string why =
      c.error ? c.error->message
              : fmt::format("SHA-256 {} (length {}) differs from the manifest's {} (length {})",
                            c.sha256, c.length, f.sha256, f.length);
  r->error = Error{c.error ? c.error->code : Errc::hash_mismatch,
                   fmt::format("{}: file {}: {}", r->rec.id, f.path, why),
                   r->files[i].attempts < max_hash_attempts
                       ? "the file is being downloaded again"
                       : "giving up on this file; remove the release and fetch it again"};
  log::error("{}", r->error->message);
  registry_.persist(*r);
  if (r->files[i].attempts < max_hash_attempts && valid(r->handle)) {
    // libtorrent's Merkle check passed but the full-file hash did not: have libtorrent
    // re-check what is on disk so bad pieces are downloaded again.
    recheck(*r);
  }
}

// With two download sources, a file verified from one is not downloaded again by the other.
// Blocks already requested may still be written into it (libtorrent uses its part file only
// for files that do not exist yet); the final pass in check_complete catches bad ones.
void ReleaseChecks::deselect_verified(Release& r, std::size_t i) {
  if (!r.v1_active() || r.files[i].lt_index < 0) return;
  torrents_.file_priority(r.handle, r.files[i].lt_index, FilePriority::skip);
  torrents_.file_priority(r.v1_handle, r.files[i].lt_index, FilePriority::skip);
}

void ReleaseChecks::recheck(Release& r) {
  r.resume_have.clear();
  r.resume.current = false;
  if (valid(r.handle)) {
    torrents_.force_recheck(r.handle);
    resume_check_started(r.resume);
  }
  if (r.v1_active() && valid(r.v1_handle)) torrents_.force_recheck(r.v1_handle);
  // A seed dropped its connections to other seeds; once it misses pieces again it must find
  // them: the known peers are dialled again after the check, and trackers asked anew. The peer
  // list still marks them as seeds seen while we were finished, which keeps them from being
  // connect candidates, so it starts over.
  if (valid(r.handle)) torrents_.clear_peers(r.handle);
  r.peers.queue_known(r.rec.peers);
  if (valid(r.handle)) torrents_.force_reannounce(r.handle);
}

void ReleaseChecks::hash_completed_files(Release& r) {
  if (r.intake == Intake::preparing) return;
  for (const auto i : files_to_hash(r.files)) request_hash(r, i);
}

void ReleaseChecks::verify_empty_files(Release& r) {
  for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
    if (r.files[i].wanted && !r.files[i].verified && r.manifest.files[i].length == 0) {
      if (store_.adopt_empty()) r.files[i].verified = true;
    }
  }
}

// ---- completion
// ----------------------------------------------------------------------------------

void ReleaseChecks::check_complete(Release& r, CompanionAdd how) {
  const auto complete = complete_view(r.manifest, r.files);
  if (!complete) return;
  const auto& view = *complete;
  if (r.verify_outstanding > 0) return;
  if (r.v1_downloading()) {
    // Final counters of both sources before they are removed or re-added.
    if (valid(r.v1_handle)) r.v1_status = torrents_.status(r.v1_handle);
    if (valid(r.handle)) r.status = torrents_.status(r.handle);
    const auto plan = host_.finish_v1_download(r);
    // Both torrents wrote into the same files: a block of one may have landed in a file
    // already verified through the other (in flight when it was deselected, or from a peer
    // that sent bad data). Hash everything once more before the release is complete.
    if (plan.staging_pass) {
      r.staging_pass = true;
      verify_all(r, VerifySource::staging);
      return;
    }
  }
  // At start-up every complete release passes here: an intact view, record and resume file
  // are kept as they are (rebuilding, persisting and saving cost ~3 fsyncs per release).
  if (!r.error && !r.degraded && !r.v1_downloading() && view_intact(store_, r.rec, view)) {
    host_.add_v1_seed(r, how);
    materialise_hf_cache(r);
    return;
  }
  const bool was_clean = !r.error && !r.degraded;
  auto moved = publish_view(store_, r.rec, view);
  if (!moved) {
    r.error = moved.error();
    registry_.persist(r);
    return;
  }
  const bool changed = *moved || !was_clean;
  r.error.reset();
  r.degraded = false;
  if (changed || release_state_from_string(r.rec.state) != ReleaseState::complete) {
    log::info("{}: complete, view at {}", r.rec.id, r.rec.view_path);
  }
  // The cached status comes from the last state_update (every 500 ms): refresh it so that a
  // release reported "complete" also reports every byte it downloaded.
  if (valid(r.handle)) r.status = torrents_.status(r.handle);
  registry_.persist(r);
  if (valid(r.handle)) torrents_.save_resume(r.handle, ResumeSave::flush_disk_cache);
  host_.add_v1_seed(r, how);
  materialise_hf_cache(r);
}

// The wanted files as a Hugging Face cache snapshot (hard links to the store), once.
void ReleaseChecks::materialise_hf_cache(Release& r) {
  if (!r.hf_cache || !r.hf_snapshot.empty()) return;
  auto snap = make_hf_snapshot(store_, *r.hf_cache, r.manifest, r.rec.revision, r.files);
  if (!snap) {
    r.hf_cache_error = snap.error();
    log::error("{}: Hugging Face cache at {}: {}", r.rec.id, r.hf_cache->dir.string(),
               snap.error().message);
    return;
  }
  r.hf_cache_error.reset();
  r.hf_snapshot = snap->string();
  log::info("{}: Hugging Face cache snapshot at {}", r.rec.id, r.hf_snapshot);
}

// ---- verify passes
// -------------------------------------------------------------------------------

void ReleaseChecks::verify_all(Release& r, VerifySource source) {
  if (r.verify_outstanding > 0) return;
  r.verify_failures.clear();
  for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
    if (!r.files[i].verified) continue;
    const auto& f = r.manifest.files[i];
    // Empty files are never written by libtorrent; the store's is adopted without staging.
    if (source == VerifySource::staging && f.length == 0) continue;
    ++r.verify_outstanding;
    const auto path = source == VerifySource::store
                          ? store_.store_file(f.sha256)
                          : store_.staging_file(r.rec.v2_infohash, r.rec.revision, f.path);
    verifier_.check(FileKey{r.rec.id, r.generation, i}, path, expected_of(r, i),
                    source == VerifySource::store ? CheckPurpose::reverify_store
                                                  : CheckPurpose::reverify_staging);
  }
  if (r.verify_outstanding == 0) {
    r.staging_pass = false;
    check_complete(r);
  }
}

void ReleaseChecks::on_reverified(const FileChecked& c) {
  Release* rr = registry_.find(c.key.release);
  if (!rr || rr->generation != c.key.generation) return;
  const auto i = c.key.index;
  const auto source =
      c.purpose == CheckPurpose::reverify_store ? VerifySource::store : VerifySource::staging;
  rr->verify_outstanding--;
  const auto& file = rr->manifest.files[i];
  bool good = c.outcome == CheckOutcome::match;
  if (good && source == VerifySource::staging && file.length > 0) {
    const auto path = store_.staging_file(rr->rec.v2_infohash, rr->rec.revision, file.path);
    if (auto st = store_.adopt(path, file.sha256); !st) {
      log::error("{}: {}", rr->rec.id, st.error().message);
      good = false;
    }
  }
  if (!good) {
    rr->verify_failures.push_back(file.path);
    if (source == VerifySource::store) {
      // Damaged on disk after it was verified: quarantine (a copy kept, the store entry and
      // the view removed), degraded; the re-check runs once every file was hashed.
      quarantine(*rr, i, c.found(), "verify", Recheck::later);
    } else {
      // (A staging copy was never adopted: the store's entry is another release's.)
      rr->files[i].verified = false;
      rr->files[i].failed = true;
      (void)store_.remove_view(rr->rec.model, rr->rec.revision);
      rr->rec.view_path.clear();
    }
  }
  if (rr->verify_outstanding > 0) return;
  rr->staging_pass = false;
  if (!rr->verify_failures.empty()) {
    std::string list;
    for (const auto& p : rr->verify_failures) list += (list.empty() ? "" : ", ") + p;
    rr->error = Error{Errc::hash_mismatch,
                      fmt::format("{}: verify: {} file(s) differ from the manifest: {}", rr->rec.id,
                                  rr->verify_failures.size(), list),
                      "the damaged files are being downloaded again"};
    log::error("{}", rr->error->message);
    recheck(*rr);
    registry_.persist(*rr);
  } else {
    log::info("{}: verify: every stored file matches the manifest", rr->rec.id);
    registry_.persist(*rr);
    check_complete(*rr);
  }
}

// ---- scrub
// ---------------------------------------------------------------------------------------

void ReleaseChecks::queue_due_scrubs() {
  if (!config_.scrub || !verifier_.scrub_idle()) return;
  const auto now = host_.now_ticks();
  const auto interval = config_.scrub_interval.count();
  const Release* oldest = nullptr;
  for (const auto& [id, rp] : registry_) {
    const Release& r = *rp;
    if (state_of(r) != ReleaseState::complete) continue;
    // Never scrubbed: count from when it was added, so a fresh node does not re-hash
    // everything it just verified.
    const auto since = r.rec.last_scrubbed != 0 ? r.rec.last_scrubbed : r.rec.added_at;
    if (now - since < interval) continue;
    if (!oldest ||
        since < (oldest->rec.last_scrubbed ? oldest->rec.last_scrubbed : oldest->rec.added_at)) {
      oldest = &r;
    }
  }
  if (oldest) verifier_.queue_scrub(oldest->rec.id);
}

// The scrub (Verifier) walks a complete release's verified files one at a time, read at most
// at scrub_rate. A mismatch quarantines the file (out of the store and the view), marks the
// release degraded and has libtorrent re-check and re-download the bad pieces.
ScrubSource ReleaseChecks::scrub_source(const ReleaseRegistry& registry, const Store& store) {
  ScrubSource src;
  src.start = [&registry](const std::string& id) -> std::optional<std::uint64_t> {
    const Release* r = registry.find(id);
    if (!r || state_of(*r) != ReleaseState::complete) return std::nullopt;
    return r->generation;
  };
  src.next = [&registry, &store](const std::string& id, std::uint64_t gen, std::size_t i) {
    ScrubSource::Next next;
    const Release* r = registry.find(id);
    if (!r || r->generation != gen) return next;  // gone
    while (i < r->manifest.files.size() &&
           (!r->files[i].verified || r->manifest.files[i].length == 0)) {
      ++i;
    }
    if (i >= r->manifest.files.size()) {
      next.kind = ScrubSource::Next::Kind::done;
      return next;
    }
    next.kind = ScrubSource::Next::Kind::file;
    next.index = i;
    next.path = store.store_file(r->manifest.files[i].sha256);
    next.expected = expected_of(*r, i);
    return next;
  };
  return src;
}

void ReleaseChecks::on_scrubbed(const FileChecked& c) {
  Release* r = registry_.find(c.key.release);
  if (!r || r->generation != c.key.generation) return;
  const bool damaged = c.outcome != CheckOutcome::match;
  ++totals_.files;
  totals_.bytes += c.outcome != CheckOutcome::unreadable ? c.length : 0;
  if (damaged) ++totals_.mismatches;
  if (damaged) quarantine(*r, c.key.index, c.found(), "scrub");
}

void ReleaseChecks::on_scrub_finished(const ScrubFinished& f) {
  Release* r = registry_.find(f.release);
  if (!r || r->generation != f.generation) return;
  r->rec.last_scrubbed = host_.now_ticks();
  ++totals_.passes;
  totals_.last_pass = r->rec.last_scrubbed;
  if (f.mismatches == 0) {
    log::info("{}: scrub: every stored file matches the manifest", f.release);
  }
  registry_.persist(*r);
}

// Takes damaged content out of the store and the view; the staging copy (the same inode)
// is re-checked by libtorrent, which downloads the bad pieces again.
void ReleaseChecks::quarantine(Release& r, std::size_t i, const std::string& found,
                               std::string_view by, Recheck when) {
  const auto& file = r.manifest.files[i];
  // libtorrent re-downloads into the staging name (see quarantine_stored_file).
  quarantine_stored_file(store_, config_.quarantine_dir, file.sha256,
                         store_.staging_file(r.rec.v2_infohash, r.rec.revision, file.path),
                         host_.now_ticks());
  (void)store_.remove_view(r.rec.model, r.rec.revision);
  r.rec.view_path.clear();
  r.files[i].verified = false;
  r.files[i].failed = true;
  r.degraded = true;
  r.error = Error{Errc::hash_mismatch,
                  fmt::format("{}: {}: file {} is damaged on disk: {} instead of the manifest's "
                              "{}; quarantined",
                              r.rec.id, by, file.path, found, file.sha256),
                  "the damaged pieces are being downloaded again from the swarm"};
  log::error("{}", r.error->message);
  if (when == Recheck::now) recheck(r);
  registry_.persist(r);
}

}  // namespace weights::daemon
