#include "daemon/engine/resume_policy.hpp"

#include <algorithm>

namespace weights::daemon {

bool resume_save_allowed(const ResumeRecord& r, const ResumeStatus& st, int have_pieces) {
  const bool checking = r.checking || !st.known || st.checking;
  return !checking && have_pieces >= r.floor;
}

bool progress_save_due(const ResumeRecord& r, const ResumeStatus& st, SteadyClock::time_point now) {
  if (r.checking || !st.downloading) return false;
  if (st.num_pieces <= r.save_requested_pieces) return false;
  return now - r.last_progress_save >= progress_save_interval;
}

bool resume_unchanged(const ResumeRecord& r, const ResumeStatus& st, bool release_complete) {
  return r.current && !(st.known && st.payload_moved) && release_complete;
}

void resume_added(ResumeRecord& r, int have_pieces) {
  r.checking = false;
  r.floor = have_pieces;
  r.save_requested_pieces = have_pieces;
}

void resume_check_started(ResumeRecord& r) {
  r.checking = true;
}

bool resume_checked(ResumeRecord& r) {
  const bool was = r.checking;
  r.checking = false;
  r.floor = -1;
  return was;
}

void resume_save_requested(ResumeRecord& r, const ResumeStatus& st, SteadyClock::time_point now) {
  r.last_progress_save = now;
  if (st.known) r.save_requested_pieces = st.num_pieces;
}

void resume_written(ResumeRecord& r, int have_pieces, bool says_complete) {
  r.floor = std::max(r.floor, have_pieces);
  if (says_complete) r.current = true;
}

bool ShutdownGate::update_answered() {
  if (updates_pending_ > 0) --updates_pending_;
  if (awaiting_final_status_ && updates_pending_ == 0) {
    awaiting_final_status_ = false;
    return true;
  }
  return false;
}

bool ShutdownGate::updates_dropped() {
  updates_pending_ = 0;
  if (!awaiting_final_status_) return false;
  awaiting_final_status_ = false;
  return true;
}

void ShutdownGate::begin() {
  shutting_down_ = true;
  saves_outstanding_ = 0;
  awaiting_final_status_ = true;
}

bool ShutdownGate::saves_requested(int n) {
  saves_outstanding_ = n;
  return n == 0;
}

bool ShutdownGate::save_answered() {
  if (!shutting_down_ || saves_outstanding_ == 0) return false;
  return --saves_outstanding_ == 0;
}

void LoadQueue::push(std::string id) {
  queue_.push_back(std::move(id));
  ++loading_;
}

std::vector<std::string> LoadQueue::next_batch() {
  std::vector<std::string> out;
  while (out.size() < batch_size && next_ < queue_.size()) out.push_back(queue_[next_++]);
  if (exhausted()) {
    queue_.clear();
    queue_.shrink_to_fit();
    next_ = 0;
  }
  return out;
}

bool LoadQueue::loaded() {
  return loading_ > 0 && --loading_ == 0;
}

}  // namespace weights::daemon
