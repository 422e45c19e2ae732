#include "daemon/engine/hash_recheck.hpp"

#include "daemon/log.hpp"

namespace weights::daemon {

bool RecheckBudget::take(const std::string& id) {
  int& n = used_[id];
  if (n >= max_inconsistent_rechecks) return false;
  ++n;
  return true;
}

int RecheckBudget::used(const std::string& id) const {
  const auto it = used_.find(id);
  return it == used_.end() ? 0 : it->second;
}

RecheckOutcome recheck_inconsistent(TorrentBackend& backend, TorrentId t, Release& r,
                                    RecheckBudget& budget, const std::string& message) {
  if (!valid(t) || !budget.take(r.rec.id)) return RecheckOutcome::gave_up;
  // The recheck keeps only pieces that hash right; every file is still hashed against the
  // manifest or the pin before the release is complete, so a retry cannot accept bad data.
  backend.clear_error(t);
  backend.force_recheck(t);
  backend.resume(t);
  ++r.hash_failures;
  log::warning("{}: {}; rechecking the files and resuming (recheck {} of {})", r.rec.id, message,
               budget.used(r.rec.id), max_inconsistent_rechecks);
  return RecheckOutcome::rechecking;
}

}  // namespace weights::daemon
