#include "daemon/engine/upstream_watch.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include <fmt/format.h>

#include "core/upstream/git_pin.hpp"
#include "core/util/time.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {

namespace {

// The kind of upstream the watch asks (core/trust/release_manifest.hpp ReleaseUpstream::kind).
constexpr std::string_view watched_kind = "huggingface";

class HubApi final : public UpstreamHub {
 public:
  explicit HubApi(hf::HubOptions options) : options_(std::move(options)) {
    // A check is cheap to repeat at the next interval: one retry after a short Retry-After, not
    // a fetch's patience, so the transfer thread is not held for minutes.
    options_.max_attempts = 2;
    options_.max_retry_after = std::chrono::seconds(10);
    options_.timeout = std::chrono::seconds(30);
  }

  HubCheck ask(const UpstreamPin& pin) override {
    hf::Hub hub(options_);
    auto got = hub.get_json(
        fmt::format("{}/api/models/{}/revision/{}", options_.endpoint, pin.repo, pin.commit));
    if (got) return HubCheck{HubCheck::Outcome::serving, 200, {}, {}};
    return check_of_failure(got.error(), hub.last_refusal(), hub.last_refusal_status(),
                            hub.last_error_code());
  }

 private:
  hf::HubOptions options_;
};

}  // namespace

bool is_refusal_status(unsigned status) {
  return status == 401 || status == 403 || status == 404 || status == 410 || status == 451;
}

HubCheck check_of_failure(const Error& e, std::optional<hf::HubRefusal> refusal, unsigned status,
                          const std::string& error_code) {
  HubCheck c;
  if (refusal && *refusal != hf::HubRefusal::signed_url_refused && is_refusal_status(status)) {
    c.outcome = HubCheck::Outcome::refused;
    c.http_status = status;
    c.error_code = error_code;
    return c;
  }
  c.outcome = HubCheck::Outcome::unreachable;
  c.http_status = refusal ? status : 0;
  c.error = e.message;
  return c;
}

HubStatus record_check(const std::optional<HubStatus>& before, const HubCheck& check,
                       std::int64_t now) {
  HubStatus s = before.value_or(HubStatus{});
  s.checked = now;
  switch (check.outcome) {
    case HubCheck::Outcome::serving:
      if (s.answer != HubAnswer::serving) s.answer_since = now;
      s.answer = HubAnswer::serving;
      s.http_status = 0;
      s.error_code.clear();
      break;
    case HubCheck::Outcome::refused:
      if (s.answer != HubAnswer::refused || s.http_status != check.http_status) {
        s.answer_since = now;
      }
      s.answer = HubAnswer::refused;
      s.http_status = check.http_status;
      s.error_code = check.error_code;
      break;
    case HubCheck::Outcome::unreachable:
      if (s.unreachable_since == 0) s.unreachable_since = now;
      s.error = check.error;
      return s;
  }
  s.answer_checked = now;
  s.unreachable_since = 0;
  s.error.clear();
  return s;
}

bool upstream_refused(const std::optional<HubStatus>& s) {
  return s && s->answer == HubAnswer::refused;
}

std::string hub_state_name(const HubStatus& s) {
  if (s.unreachable_since != 0) return "unreachable";
  switch (s.answer) {
    case HubAnswer::serving:
      return "serving";
    case HubAnswer::refused:
      return "refused";
    case HubAnswer::none:
      break;
  }
  return "";
}

std::optional<UpstreamPin> watched_pin(const Release& r) {
  if (r.upstream_phase != UpstreamPhase::none || r.rec.manifest.empty()) return std::nullopt;
  const auto& up = r.manifest.upstream;
  if (up.kind != watched_kind || !is_valid_model_id(up.repo)) return std::nullopt;
  std::string commit = r.manifest.revision;
  std::transform(commit.begin(), commit.end(), commit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!upstream::is_commit_id(commit)) return std::nullopt;
  return UpstreamPin{up.repo, std::move(commit)};
}

std::vector<std::string> due_checks(std::span<const WatchCandidate> candidates, std::int64_t now,
                                    std::chrono::seconds interval, std::size_t max) {
  const std::int64_t every = std::chrono::duration_cast<TimePoint::duration>(interval).count();
  std::vector<const WatchCandidate*> due;
  for (const auto& c : candidates) {
    if (c.last_checked == 0 || now - c.last_checked >= every) due.push_back(&c);
  }
  std::sort(due.begin(), due.end(), [](const WatchCandidate* a, const WatchCandidate* b) {
    if (a->last_checked != b->last_checked) return a->last_checked < b->last_checked;
    return a->id < b->id;
  });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < due.size() && i < max; ++i) out.push_back(due[i]->id);
  return out;
}

std::shared_ptr<UpstreamHub> make_upstream_hub(hf::HubOptions options) {
  return std::make_shared<HubApi>(std::move(options));
}

void EngineWatchHost::on_transfer(std::function<HubCheck()> work,
                                  std::function<void(HubCheck)> then) {
  transfers_.run(std::move(work), std::move(then));
}

void EngineWatchHost::persist(const std::string& id, const HubStatus& s) {
  if (auto st = db_.put_hub_status(id, s); !st) {
    log::warning("{}: cannot record the hub's answer: {}", id, st.error().message);
  }
}

UpstreamWatch::UpstreamWatch(ReleaseRegistry& registry, UpstreamWatchHost& host,
                             std::shared_ptr<UpstreamHub> hub, WatchSettings settings)
    : registry_(registry), host_(host), hub_(std::move(hub)), settings_(settings) {}

void UpstreamWatch::restore(std::vector<std::pair<std::string, HubStatus>> statuses) {
  for (auto& [id, s] : statuses) restored_[id] = std::move(s);
}

void UpstreamWatch::record(const std::string& id, const HubCheck& check) {
  Release* r = registry_.find(id);
  std::optional<HubStatus> before;
  if (r && r->hub) {
    before = r->hub;
  } else if (auto it = restored_.find(id); it != restored_.end()) {
    before = it->second;
  }
  const HubStatus now = record_check(before, check, host_.now_ticks());
  const bool changed = !before || hub_state_name(*before) != hub_state_name(now) ||
                       before->http_status != now.http_status;
  if (changed) {
    switch (check.outcome) {
      case HubCheck::Outcome::refused:
        log::warning("{}: the hub refuses its upstream commit (HTTP {}{}): seeding it first", id,
                     now.http_status,
                     now.error_code.empty() ? std::string() : ", " + now.error_code);
        break;
      case HubCheck::Outcome::serving:
        log::info("{}: the hub serves its upstream commit", id);
        break;
      case HubCheck::Outcome::unreachable:
        log::info("{}: no answer from the hub about its upstream commit: {}", id, check.error);
        break;
    }
  }
  if (r) {
    r->hub = now;
    restored_.erase(id);
  } else {
    restored_[id] = now;
  }
  host_.persist(id, now);
  if (r) apply_priority(*r);
}

void UpstreamWatch::apply_priority(Release& r) {
  const bool high = upstream_refused(r.hub);
  for (auto [handle, applied] :
       {std::pair{r.handle, &r.priority_hybrid}, std::pair{r.v1_handle, &r.priority_v1}}) {
    if (high && valid(handle) && *applied != handle) {
      host_.seed_priority(handle, SeedPriority::high);
      *applied = handle;
    } else if (!high && valid(*applied)) {
      // Only a torrent still in the session is told (one removed since took its priority along).
      if (*applied == handle) host_.seed_priority(handle, SeedPriority::normal);
      *applied = no_torrent;
    }
  }
}

void UpstreamWatch::tick() {
  std::vector<WatchCandidate> candidates;
  for (auto& [id, r] : registry_) {
    if (!r->hub) {
      if (auto it = restored_.find(id); it != restored_.end()) {
        r->hub = std::move(it->second);
        restored_.erase(it);
      }
    }
    apply_priority(*r);
    if (settings_.interval.count() > 0 && !asked_.count(id) && watched_pin(*r)) {
      candidates.push_back({id, r->hub ? r->hub->checked : 0});
    }
  }
  if (settings_.interval.count() <= 0 || in_flight_ >= settings_.max_in_flight) return;
  for (const auto& id : due_checks(candidates, host_.now_ticks(), settings_.interval, 1)) {
    const Release* r = registry_.find(id);
    auto pin = watched_pin(*r);
    asked_.insert(id);
    ++in_flight_;
    host_.on_transfer([hub = hub_, pin = *pin] { return hub->ask(pin); },
                      [this, id](HubCheck got) {
                        --in_flight_;
                        asked_.erase(id);
                        // A release removed meanwhile keeps no status.
                        if (registry_.find(id)) record(id, got);
                      });
  }
}

}  // namespace weights::daemon
