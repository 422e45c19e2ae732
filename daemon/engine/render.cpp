#include "daemon/engine/render.hpp"

#include <algorithm>
#include <string_view>

#include "core/feed/tuf_client.hpp"
#include "daemon/engine/upstream_watch.hpp"
#include "daemon/metrics.hpp"

namespace weights::daemon {

namespace {

enum class FileState { pending, downloading, verifying, verified, failed };

std::string_view file_state_name(FileState s) {
  switch (s) {
    case FileState::pending:
      return "pending";
    case FileState::downloading:
      return "downloading";
    case FileState::verifying:
      return "verifying";
    case FileState::verified:
      return "verified";
    case FileState::failed:
      return "failed";
  }
  return "pending";
}

FileState file_state(const FileEntry& f, bool has_torrent) {
  if (f.verified) return FileState::verified;
  if (f.hashing) return FileState::verifying;
  if (f.failed) return FileState::failed;
  if (f.wanted && has_torrent && (f.done > 0 || f.v1_done > 0)) return FileState::downloading;
  return FileState::pending;
}

std::optional<std::string> time_of(std::int64_t ticks) {
  if (ticks == 0) return std::nullopt;
  return format_utc(TimePoint(TimePoint::duration(ticks)));
}

std::optional<api::ErrorInfo> error_info(const std::optional<Error>& e) {
  if (!e) return std::nullopt;
  return api::ErrorInfo::from(*e);
}

std::uint64_t wanted_length(const Release& r) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < r.files.size(); ++i) {
    if (r.files[i].wanted) n += r.manifest.files[i].length;
  }
  return n;
}

std::uint64_t verified_length(const Release& r) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < r.files.size(); ++i) {
    if (r.files[i].verified) n += r.manifest.files[i].length;
  }
  return n;
}

}  // namespace

api::HubStatusInfo render_hub_status(const HubStatus& h) {
  api::HubStatusInfo out;
  auto at = [](std::int64_t ticks) { return format_utc(TimePoint(TimePoint::duration(ticks))); };
  out.state = hub_state_name(h);
  out.checked = at(h.checked);
  out.since = at(h.unreachable_since != 0 ? h.unreachable_since : h.answer_since);
  if (h.answer == HubAnswer::refused) {
    out.http_status = h.http_status;
    if (!h.error_code.empty()) out.error_code = h.error_code;
  }
  if (h.unreachable_since != 0) {
    out.error = h.error;
    if (h.answer != HubAnswer::none) {
      out.answer = h.answer == HubAnswer::refused ? "refused" : "serving";
      out.answer_since = at(h.answer_since);
    }
  }
  out.seeding_priority = upstream_refused(h);
  return out;
}

ReleaseContext context_of(const Release& r, const std::set<std::string>& held) {
  return ReleaseContext{state_of(r), held.count(r.rec.id) > 0};
}

bool is_seeding(const Release& r, ReleaseState state) {
  return valid(r.handle) && state == ReleaseState::complete && !(r.status && r.status->paused);
}

api::Release render_release(const Release& r, const ReleaseContext& ctx) {
  api::Release out;
  for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
    const auto& f = r.manifest.files[i];
    const FileEntry& e = r.files[i];
    const std::int64_t done =
        e.verified ? static_cast<std::int64_t>(f.length) : std::max(e.done, e.v1_done);
    out.files.push_back({f.path, f.length, e.wanted,
                         std::string(file_state_name(file_state(e, valid(r.handle)))), done});
  }
  const TorrentStatus none;
  const TorrentStatus& s = r.status ? *r.status : none;
  const TorrentStatus& v1 = r.v1_status ? *r.v1_status : none;
  out.id = r.rec.id;
  out.feed = r.rec.feed;
  out.model = r.rec.model;
  out.revision = r.rec.revision;
  out.aliases = r.manifest.aliases;
  out.release_seq = r.rec.release_seq;
  out.origin = std::string(origin_name(r.rec.origin));
  out.state = std::string(to_string(ctx.state));
  out.seeding = is_seeding(r, ctx.state);
  out.pinned = r.rec.pinned;
  out.held = ctx.held;
  out.last_requested = time_of(r.rec.last_requested);
  out.last_scrubbed = time_of(r.rec.last_scrubbed);
  out.total_length = r.manifest.total_length;
  out.wanted_length = wanted_length(r);
  out.verified_length = verified_length(r);
  out.downloaded_bytes = r.downloaded_base + s.total_payload_download + v1.total_payload_download;
  out.uploaded_bytes = r.uploaded_base + s.total_payload_upload + v1.total_payload_upload;
  out.download_rate = s.download_payload_rate + v1.download_payload_rate;
  out.upload_rate = s.upload_payload_rate + v1.upload_payload_rate;
  out.peers = s.num_peers + v1.num_peers;
  out.seeds = s.num_seeds + v1.num_seeds;
  out.hash_failures = static_cast<std::int64_t>(r.hash_failures);
  out.banned_peers = static_cast<std::int64_t>(r.banned_peers);
  out.error = error_info(r.error);
  if (!r.rec.view_path.empty()) out.path = r.rec.view_path;
  out.v2_infohash = r.rec.v2_infohash;
  out.include = r.rec.include;
  out.v1_seeding = valid(r.v1_handle) && !r.v1_downloading();
  out.v1_downloading = r.v1_downloading() && r.v1_active();
  if (r.hf_cache) {
    auto& hc = out.hf_cache.emplace();
    hc.dir = r.hf_cache->dir.string();
    if (!r.hf_snapshot.empty()) hc.snapshot = r.hf_snapshot;
    hc.error = error_info(r.hf_cache_error);
  }
  if (r.hub && r.hub->checked != 0) out.hub_status = render_hub_status(*r.hub);
  if (r.upstream_phase == UpstreamPhase::downloading) {
    // From the upstream's resolve URLs, before there is a torrent.
    for (const auto& f : r.files) out.downloaded_bytes += f.done;
    out.download_rate = r.upstream_rate;
  }
  for (const auto& t : r.sources.totals()) {
    out.sources.push_back(
        {t.kind == SourceKind::peer ? "peer" : "web_seed", t.address, t.downloaded});
  }
  if (!out.sources.empty()) {
    out.downloaded_from_peers = r.sources.from(SourceKind::peer);
    out.downloaded_from_web_seeds = r.sources.from(SourceKind::web_seed);
  }
  if (r.rec.origin == Origin::upstream) {
    auto& up = out.upstream.emplace();
    up.kind = r.manifest.upstream.kind;
    up.repo = r.manifest.upstream.repo;
    up.commit = r.rec.revision;
    up.pinned_by = r.upstream_branch ? "branch" : r.upstream_alias ? "catalog" : "commit";
    up.branch = r.upstream_branch;
    up.alias = r.upstream_alias;
    up.rejected_peers = r.upstream_rejected;
    up.rejected_peers_more = r.upstream_rejected_more;
    if (r.license) {
      const auto& t = *r.license;
      auto& li = up.license.emplace();
      li.id = t.id;
      li.name = t.name;
      li.url = t.url;
      li.files = t.files;
      li.gated = t.gated;
      li.source = std::string(upstream::license_source_name(t.source));
      li.where = t.where;
      if (t.source == upstream::LicenseSource::catalog && !t.layer.empty()) {
        up.catalog_layer = t.layer;
      }
      li.problem = t.problem;
      li.needs_acceptance = upstream::needs_acceptance(t);
      if (r.license_accepted_at) li.accepted_at = time_of(*r.license_accepted_at);
    }
  }
  return out;
}

api::Follow render_follow(const FollowView& v) {
  const Follow& f = v.follow;
  api::Follow j;
  j.id = f.id;
  const bool of_catalog = f.source == FollowSource::catalog;
  j.feed = of_catalog ? std::string(api::catalog_source) : f.feed;
  j.source = of_catalog ? "catalog" : "feed";
  j.accept_license = f.accept_license;
  if (!f.model_glob.empty()) j.model = f.model_glob;
  if (!f.alias.empty()) j.alias = f.alias;
  j.latest = f.latest;
  j.max_size = f.max_size;
  j.created = format_utc(TimePoint(TimePoint::duration(f.created_at)));
  if (v.last_applied) j.last_applied = format_utc(*v.last_applied);
  j.mirroring.assign(v.mirroring.begin(), v.mirroring.end());
  for (const auto& [id, why] : v.skipped) j.skipped.push_back({id, why});
  for (const auto& [id, why] : v.refused) j.refused.push_back({id, why});
  return j;
}

api::Feed render_feed(const FeedState& feed, const FeedFacts& facts, TimePoint now) {
  const auto summary = tuf::summarize(feed);
  const auto& ok = facts.last_success;
  const auto& refused = facts.last_refusal;
  api::Feed out;
  out.result = "never";
  if (ok && (!refused || ok->time >= refused->time)) {
    out.result = std::string(refresh_result_name(ok->result));
  } else if (refused) {
    out.result = "refused";
  }
  auto role = [](const tuf::RoleSummary& s) {
    api::RoleInfo info{s.version, std::nullopt};
    if (s.version != 0) info.expires = format_utc(s.expires);
    return info;
  };
  if (refused) {
    out.last_refusal =
        api::FeedRefusal{format_utc(refused->time), refused->error_code, refused->message};
  }
  const auto stale_since = tuf::stale_since(feed, now);
  out.name = feed.name;
  out.location = feed.location;
  out.mirrors = feed.mirrors;
  out.refresh = facts.refresh;
  if (ok) out.last_success = format_utc(ok->time);
  out.stale = tuf::is_stale(feed, now);
  if (stale_since) out.stale_since = format_utc(*stale_since);
  out.roles = {role(summary.root), role(summary.timestamp), role(summary.snapshot),
               role(summary.targets)};
  out.releases = static_cast<std::uint64_t>(facts.releases);
  return out;
}

ReleaseMetrics release_metrics(const Release& r, const ReleaseContext& ctx) {
  ReleaseMetrics m;
  m.id = r.rec.id;
  m.size_bytes = wanted_length(r);
  m.verified_bytes = verified_length(r);
  m.downloaded_bytes = r.downloaded_base + (r.status ? r.status->total_payload_download : 0);
  m.uploaded_bytes = r.uploaded_base + (r.status ? r.status->total_payload_upload : 0);
  m.from_peers = r.sources.from(SourceKind::peer);
  m.from_web_seeds = r.sources.from(SourceKind::web_seed);
  m.peers = r.status ? r.status->num_peers : 0;
  m.seeding = is_seeding(r, ctx.state);
  m.pinned = r.rec.pinned;
  m.held = ctx.held;
  m.state = ctx.state;
  if (r.hub && r.hub->checked != 0) {
    m.hub_state = hub_state_name(*r.hub);
    if (r.hub->answer == HubAnswer::refused) m.hub_refused_status = r.hub->http_status;
  }
  return m;
}

std::vector<ReleaseMetrics> release_metrics(const ReleaseRegistry& registry,
                                            const std::set<std::string>& held) {
  std::vector<ReleaseMetrics> out;
  for (const auto& [id, r] : registry) out.push_back(release_metrics(*r, context_of(*r, held)));
  return out;
}

PayloadRates payload_rates(const ReleaseRegistry& registry) {
  PayloadRates out;
  for (const auto& [id, r] : registry) {
    if (r->upstream_phase == UpstreamPhase::downloading) out.download += r->upstream_rate;
    if (!r->status) continue;
    out.download += r->status->download_payload_rate;
    out.upload += r->status->upload_payload_rate;
  }
  return out;
}

std::string render_metrics(const MetricsSnapshot& s) {
  MetricsWriter m;
  m.family("weightsd_build_info", "weightsd version", MetricType::gauge);
  m.sample({{"version", WEIGHTS_VERSION}}, 1);

  m.family("weightsd_releases", "releases known to the node", MetricType::gauge);
  m.sample({}, static_cast<double>(s.releases.size()));
  auto per_release = [&](std::string_view name, std::string_view help, MetricType type,
                         auto value) {
    m.family(name, help, type);
    for (const auto& r : s.releases) m.sample({{"release", r.id}}, static_cast<double>(value(r)));
  };
  per_release("weightsd_release_size_bytes", "bytes of the release's wanted files",
              MetricType::gauge, [](const ReleaseMetrics& r) { return r.size_bytes; });
  per_release("weightsd_release_verified_bytes", "bytes SHA-256-verified against the manifest",
              MetricType::gauge, [](const ReleaseMetrics& r) { return r.verified_bytes; });
  per_release("weightsd_release_downloaded_bytes_total", "payload bytes downloaded",
              MetricType::counter, [](const ReleaseMetrics& r) { return r.downloaded_bytes; });
  per_release("weightsd_release_uploaded_bytes_total", "payload bytes uploaded",
              MetricType::counter, [](const ReleaseMetrics& r) { return r.uploaded_bytes; });
  m.family("weightsd_release_downloaded_from_bytes_total",
           "payload bytes downloaded this session, by source: peers or web_seeds (the hub)",
           MetricType::counter);
  for (const auto& r : s.releases) {
    m.sample({{"release", r.id}, {"source", "peers"}}, static_cast<double>(r.from_peers));
    m.sample({{"release", r.id}, {"source", "web_seeds"}}, static_cast<double>(r.from_web_seeds));
  }
  per_release("weightsd_release_peers", "connected peers", MetricType::gauge,
              [](const ReleaseMetrics& r) { return r.peers; });
  per_release("weightsd_release_seeding", "1 when complete and seeding", MetricType::gauge,
              [](const ReleaseMetrics& r) { return r.seeding ? 1 : 0; });
  per_release("weightsd_release_pinned", "1 when pinned (never evicted)", MetricType::gauge,
              [](const ReleaseMetrics& r) { return r.pinned ? 1 : 0; });
  per_release("weightsd_release_held", "1 when a follow holds it (not evicted)", MetricType::gauge,
              [](const ReleaseMetrics& r) { return r.held ? 1 : 0; });
  m.family("weightsd_release_state", "the release's state (1 for the current one)",
           MetricType::gauge);
  for (const auto& r : s.releases) {
    m.sample({{"release", r.id}, {"state", std::string(to_string(r.state))}}, 1);
  }

  // The hub's answers about upstream commits: per release, and the refused ones counted by
  // status (every refusal status is always present, so an alert needs no absent() guard).
  m.family("weightsd_release_upstream_state",
           "what the hub last said about the release's upstream commit (1 for the current one)",
           MetricType::gauge);
  for (const auto& r : s.releases) {
    if (r.hub_state.empty()) continue;
    MetricsWriter::Labels labels{{"release", r.id}, {"state", r.hub_state}};
    if (r.hub_refused_status != 0) {
      labels.emplace_back("http_status", std::to_string(r.hub_refused_status));
    }
    m.sample(labels, 1);
  }
  m.family("weightsd_upstream_refused_releases",
           "releases whose upstream hub refuses their commit, by HTTP status (seeded first)",
           MetricType::gauge);
  for (const unsigned status : {401u, 403u, 404u, 410u, 451u}) {
    const auto n =
        std::count_if(s.releases.begin(), s.releases.end(),
                      [&](const ReleaseMetrics& r) { return r.hub_refused_status == status; });
    m.sample({{"status", std::to_string(status)}}, static_cast<double>(n));
  }
  m.family("weightsd_upstream_unreachable_releases",
           "releases whose last hub check got no answer (network, 429, 5xx)", MetricType::gauge);
  m.sample({}, static_cast<double>(std::count_if(
                   s.releases.begin(), s.releases.end(),
                   [](const ReleaseMetrics& r) { return r.hub_state == "unreachable"; })));

  auto ts = [](const std::optional<std::string>& t) -> std::optional<double> {
    if (!t) return std::nullopt;
    auto p = parse_utc(*t);
    if (!p) return std::nullopt;
    return static_cast<double>(p->time_since_epoch().count());
  };
  const auto& fj = s.feeds;
  m.family("weightsd_feed_stale", "1 when the feed's metadata expired and nothing fresher came",
           MetricType::gauge);
  for (const auto& f : fj) m.sample({{"feed", f.name}}, f.stale ? 1 : 0);
  m.family("weightsd_feed_stale_since_timestamp_seconds", "when the feed became stale",
           MetricType::gauge);
  for (const auto& f : fj) {
    if (auto t = ts(f.stale_since)) m.sample({{"feed", f.name}}, *t);
  }
  m.family("weightsd_feed_last_success_timestamp_seconds", "last successful refresh",
           MetricType::gauge);
  for (const auto& f : fj) {
    if (auto t = ts(f.last_success)) m.sample({{"feed", f.name}}, *t);
  }
  m.family("weightsd_feed_last_refresh_failed",
           "1 when the most recent refresh was refused (reason in weightsctl feed status)",
           MetricType::gauge);
  for (const auto& f : fj) m.sample({{"feed", f.name}}, f.result == "refused" ? 1 : 0);
  m.family("weightsd_feed_last_refusal_info", "the code of the feed's last refusal",
           MetricType::gauge);
  for (const auto& f : fj) {
    if (f.last_refusal) m.sample({{"feed", f.name}, {"code", f.last_refusal->code}}, 1);
  }
  m.family("weightsd_feed_releases", "releases in the feed's trusted targets", MetricType::gauge);
  for (const auto& f : fj) m.sample({{"feed", f.name}}, static_cast<double>(f.releases));

  m.family("weightsd_disk_reserved_bytes", "bytes reserved by releases (shared content once)",
           MetricType::gauge);
  m.sample({}, static_cast<double>(s.disk_reserved));
  m.family("weightsd_disk_budget_bytes", "max_disk (0 = no budget)", MetricType::gauge);
  m.sample({}, static_cast<double>(s.disk_budget));
  if (s.disk_free) {
    m.family("weightsd_disk_free_bytes", "free bytes on the state dir's filesystem",
             MetricType::gauge);
    m.sample({}, static_cast<double>(*s.disk_free));
  }
  m.family("weightsd_evictions_total", "releases evicted to stay within the budget",
           MetricType::counter);
  m.sample({}, static_cast<double>(s.room.evictions));
  m.family("weightsd_no_space_refusals_total", "fetches refused for lack of room",
           MetricType::counter);
  m.sample({}, static_cast<double>(s.room.no_space_refusals));
  m.family("weightsd_scrub_files_total", "stored files re-hashed by the scrubber",
           MetricType::counter);
  m.sample({}, static_cast<double>(s.scrub.files));
  m.family("weightsd_scrub_bytes_total", "bytes re-hashed by the scrubber", MetricType::counter);
  m.sample({}, static_cast<double>(s.scrub.bytes));
  m.family("weightsd_scrub_mismatches_total", "stored files found damaged and quarantined",
           MetricType::counter);
  m.sample({}, static_cast<double>(s.scrub.mismatches));
  m.family("weightsd_scrub_passes_total", "releases scrubbed completely", MetricType::counter);
  m.sample({}, static_cast<double>(s.scrub.passes));
  if (s.scrub.last_pass != 0) {
    m.family("weightsd_scrub_last_finished_timestamp_seconds", "when the last scrub pass ended",
             MetricType::gauge);
    m.sample({}, static_cast<double>(s.scrub.last_pass));
  }
  m.family("weightsd_rate_limit_bytes_per_second", "limits in force now (0 = unlimited)",
           MetricType::gauge);
  m.sample({{"direction", "download"}}, static_cast<double>(s.rates.download));
  m.sample({{"direction", "upload"}}, static_cast<double>(s.rates.upload));
  m.family("weightsd_follows", "follow policies", MetricType::gauge);
  m.sample({}, static_cast<double>(s.follows));
  return m.text();
}

}  // namespace weights::daemon
