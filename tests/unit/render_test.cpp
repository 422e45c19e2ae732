// Rendering: the API's release, feed and follow objects and /metrics' text from hand-built
// records (no session, no database).
#include "daemon/engine/render.hpp"

#include <algorithm>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>

#include "support/record_rows.hpp"

using namespace weights;
using namespace weights::daemon;

namespace {

TimePoint at(std::string_view utc) {
  return *parse_utc(utc);
}

// A release of three files (a 100-byte config, a 1000-byte and a 3000-byte weight file),
// nothing done yet; `wanted` selects files by index.
std::unique_ptr<Release> make_release(std::vector<bool> wanted = {true, true, true}) {
  auto r = std::make_unique<Release>();
  r->rec.id = "org/model@r1";
  r->rec.feed = "demo";
  r->rec.model = "org/model";
  r->rec.revision = "r1";
  r->rec.release_seq = 7;
  r->rec.v2_infohash = std::string(64, 'a');
  r->manifest.model = "org/model";
  r->manifest.revision = "r1";
  r->manifest.aliases = {"model"};
  const std::vector<std::pair<std::string, std::uint64_t>> files = {
      {"config.json", 100}, {"w/a.bin", 1000}, {"w/b.bin", 3000}};
  for (std::size_t i = 0; i < files.size(); ++i) {
    ReleaseFile f;
    f.path = files[i].first;
    f.length = files[i].second;
    r->manifest.files.push_back(f);
    r->manifest.total_length += f.length;
    FileEntry e;
    e.length = f.length;
    e.wanted = wanted[i];
    r->files.push_back(e);
  }
  return r;
}

TorrentStatus status(std::int64_t down, std::int64_t up, int rate, int peers) {
  TorrentStatus s;
  s.state = TorrentPhase::downloading;
  s.total_payload_download = down;
  s.total_payload_upload = up;
  s.download_payload_rate = rate;
  s.upload_payload_rate = rate / 2;
  s.num_peers = peers;
  s.num_seeds = peers - 1;
  return s;
}

std::vector<std::string> file_states(const api::Release& j) {
  std::vector<std::string> out;
  for (const auto& f : j.files) out.push_back(f.state);
  return out;
}

}  // namespace

TEST_CASE("a download with the v1 companion active adds both sources", "[render]") {
  auto r = make_release();
  r->handle = 1;
  r->v1_handle = 2;
  r->v1_mode = CompanionMode::active;
  r->downloaded_base = 10;
  r->uploaded_base = 5;
  r->status = status(400, 40, 1000, 3);
  r->v1_status = status(600, 60, 2000, 2);
  r->files[0].verified = true;
  r->files[1].hashing = true;
  r->files[1].done = 1000;
  r->files[2].done = 100;
  r->files[2].v1_done = 2500;  // the companion is ahead: its bytes count
  const auto j = render_release(*r, {ReleaseState::downloading, false});
  CHECK(j.id == "org/model@r1");
  CHECK(j.state == "downloading");
  CHECK_FALSE(j.seeding);
  CHECK(j.origin == "fetched");
  CHECK(j.aliases == std::vector<std::string>{"model"});
  CHECK(j.release_seq == 7);
  CHECK(j.downloaded_bytes == 10 + 400 + 600);
  CHECK(j.uploaded_bytes == 5 + 40 + 60);
  CHECK(j.download_rate == 3000);
  CHECK(j.upload_rate == 1500);
  CHECK(j.peers == 5);
  CHECK(j.seeds == 3);
  CHECK(j.v1_downloading);
  CHECK_FALSE(j.v1_seeding);
  CHECK(file_states(j) == std::vector<std::string>{"verified", "verifying", "downloading"});
  CHECK(j.files[0].done_bytes == 100);
  CHECK(j.files[1].done_bytes == 1000);
  CHECK(j.files[2].done_bytes == 2500);
  CHECK(j.total_length == 4100);
  CHECK(j.wanted_length == 4100);
  CHECK(j.verified_length == 100);
  CHECK_FALSE(j.error);
  CHECK_FALSE(j.path);
  CHECK_FALSE(j.hf_cache);
  CHECK(j.sources.empty());
  CHECK_FALSE(j.downloaded_from_peers);
  r->sources.observe({{SourceKind::web_seed, "127.0.0.1:80", "127.0.0.1:80", 300},
                      {SourceKind::peer, "127.0.0.3", "127.0.0.3:7000", 200},
                      {SourceKind::peer, "127.0.0.2", "127.0.0.2:6881", 100}});
  const auto with_sources = render_release(*r, {ReleaseState::downloading, false});
  REQUIRE(with_sources.sources.size() == 3);
  CHECK(with_sources.sources[0].kind == "peer");
  CHECK(with_sources.sources[0].address == "127.0.0.2");
  CHECK(with_sources.sources[2].kind == "web_seed");
  CHECK(with_sources.sources[2].downloaded_bytes == 300);
  CHECK(with_sources.downloaded_from_peers == 300);
  CHECK(with_sources.downloaded_from_web_seeds == 300);
  CHECK_FALSE(j.last_requested);

  SECTION("a companion standing by downloads nothing and does not seed") {
    r->v1_mode = CompanionMode::standby;
    const auto s = render_release(*r, {ReleaseState::downloading, false});
    CHECK_FALSE(s.v1_downloading);
    CHECK_FALSE(s.v1_seeding);
  }
  SECTION("without a torrent no file is downloading") {
    r->handle = no_torrent;
    const auto s = render_release(*r, {ReleaseState::resolving, false});
    CHECK(file_states(s) == std::vector<std::string>{"verified", "verifying", "pending"});
  }
}

TEST_CASE("a complete release seeds unless paused, with its view and times", "[render]") {
  auto r = make_release();
  r->handle = 1;
  r->v1_handle = 2;
  r->v1_mode = CompanionMode::seeding;
  r->status = status(0, 0, 0, 1);
  r->status->state = TorrentPhase::seeding;
  for (auto& f : r->files) f.verified = true;
  r->rec.view_path = "/var/lib/weightsd/views/org/model/r1";
  r->rec.pinned = true;
  r->rec.origin = Origin::seeded;
  r->rec.last_requested = at("2026-01-02T03:04:05Z").time_since_epoch().count();
  const auto j = render_release(*r, {ReleaseState::complete, true});
  CHECK(j.state == "complete");
  CHECK(j.seeding);
  CHECK(j.pinned);
  CHECK(j.held);
  CHECK(j.origin == "seeded");
  CHECK(j.path == "/var/lib/weightsd/views/org/model/r1");
  CHECK(j.last_requested == "2026-01-02T03:04:05Z");
  CHECK_FALSE(j.last_scrubbed);
  CHECK(j.v1_seeding);
  CHECK_FALSE(j.v1_downloading);
  CHECK(j.verified_length == j.total_length);
  CHECK(file_states(j) == std::vector<std::string>(3, "verified"));
  CHECK(j.files[2].done_bytes == 3000);

  r->status->paused = true;
  CHECK_FALSE(render_release(*r, {ReleaseState::complete, false}).seeding);
  CHECK_FALSE(is_seeding(*r, ReleaseState::complete));
  r->status->paused = false;
  CHECK(is_seeding(*r, ReleaseState::complete));
  CHECK_FALSE(is_seeding(*r, ReleaseState::degraded));
}

TEST_CASE("a failed release carries its error; a failed file shows", "[render]") {
  auto r = make_release();
  r->handle = 1;
  r->files[1].failed = true;
  r->hash_failures = 4;
  r->banned_peers = 1;
  r->error = Error{Errc::hash_mismatch, "w/a.bin failed SHA-256 3 times", "check the feed"};
  const auto j = render_release(*r, {ReleaseState::failed, false});
  CHECK(j.state == "failed");
  CHECK(j.finished());
  REQUIRE(j.error);
  CHECK(j.error->code == "hash_mismatch");
  CHECK(j.error->message == "w/a.bin failed SHA-256 3 times");
  CHECK(j.error->hint == "check the feed");
  CHECK(j.hash_failures == 4);
  CHECK(j.banned_peers == 1);
  CHECK(file_states(j) == std::vector<std::string>{"pending", "failed", "pending"});
}

TEST_CASE("degraded and disk-full releases render the engine's state", "[render]") {
  auto r = make_release();
  r->handle = 1;
  for (auto& f : r->files) f.verified = true;
  r->files[2].verified = false;
  r->files[2].failed = true;  // quarantined by a scrub
  r->degraded = true;
  const auto d = render_release(*r, {ReleaseState::degraded, false});
  CHECK(d.state == "degraded");
  CHECK_FALSE(d.seeding);
  CHECK(d.verified_length == 1100);

  auto full = make_release();
  full->handle = 1;
  full->disk_full = true;
  full->status = status(50, 0, 0, 0);
  full->status->paused = true;
  full->files[1].done = 50;
  const auto p = render_release(*full, {ReleaseState::paused, false});
  CHECK(p.state == "paused");
  CHECK(p.downloaded_bytes == 50);
  CHECK(file_states(p) == std::vector<std::string>{"pending", "downloading", "pending"});
}

TEST_CASE("a Hugging Face cache request shows its snapshot or its error", "[render]") {
  auto r = make_release();
  r->hf_cache = HfCacheTarget{"/home/u/.cache/huggingface/hub", std::nullopt};
  auto j = render_release(*r, {ReleaseState::downloading, false});
  REQUIRE(j.hf_cache);
  CHECK(j.hf_cache->dir == "/home/u/.cache/huggingface/hub");
  CHECK_FALSE(j.hf_cache->snapshot);
  CHECK_FALSE(j.hf_cache->error);

  r->hf_snapshot = "/home/u/.cache/huggingface/hub/models--org--model/snapshots/r1";
  j = render_release(*r, {ReleaseState::complete, false});
  CHECK(j.hf_cache->snapshot == r->hf_snapshot);

  r->hf_snapshot.clear();
  r->hf_cache_error = Error{Errc::io_error, "cannot link", ""};
  j = render_release(*r, {ReleaseState::complete, false});
  CHECK_FALSE(j.hf_cache->snapshot);
  REQUIRE(j.hf_cache->error);
  CHECK(j.hf_cache->error->code == "io_error");
}

TEST_CASE("a partial include counts only the wanted files", "[render]") {
  auto r = make_release({true, true, false});
  r->rec.include = {"config.json", "w/a.*"};
  r->handle = 1;
  r->files[0].verified = true;
  r->files[1].verified = true;
  r->files[2].done = 10;  // pieces shared with wanted files: not downloading for us
  const auto j = render_release(*r, {ReleaseState::complete, false});
  CHECK(j.include == std::vector<std::string>{"config.json", "w/a.*"});
  CHECK(j.total_length == 4100);
  CHECK(j.wanted_length == 1100);
  CHECK(j.verified_length == 1100);
  CHECK(j.files[2].wanted == false);
  CHECK(j.files[2].state == "pending");
  CHECK(j.files[2].done_bytes == 10);

  const auto m = release_metrics(*r, {ReleaseState::complete, false});
  CHECK(m.size_bytes == 1100);
  CHECK(m.verified_bytes == 1100);
}

TEST_CASE("a feed: the newer of success and refusal decides the result; staleness at now",
          "[render]") {
  FeedState fs;
  fs.name = "demo";
  fs.location = "https://feeds.example/demo";
  fs.mirrors = {"https://mirror.example/demo"};
  fs.root = {3, "", at("2027-01-01T00:00:00Z")};
  fs.timestamp = TrustedRole{40, "", at("2026-03-02T00:00:00Z")};
  fs.snapshot = TrustedRole{12, "", at("2026-04-01T00:00:00Z")};
  fs.targets = TrustedRole{9, "", at("2026-03-01T00:00:00Z")};
  FeedFacts facts;
  facts.releases = 5;
  facts.refresh.completed = 2;
  facts.refresh.requested = 2;

  auto f = render_feed(fs, facts, at("2026-02-01T00:00:00Z"));
  CHECK(f.name == "demo");
  CHECK(f.location == "https://feeds.example/demo");
  CHECK(f.mirrors == fs.mirrors);
  CHECK(f.result == "never");
  CHECK_FALSE(f.last_success);
  CHECK_FALSE(f.last_refusal);
  CHECK_FALSE(f.stale);
  CHECK_FALSE(f.stale_since);
  CHECK(f.releases == 5);
  CHECK(f.refresh.completed == 2);
  CHECK(f.roles.root.version == 3);
  CHECK(f.roles.timestamp.version == 40);
  CHECK(f.roles.timestamp.expires == "2026-03-02T00:00:00Z");
  CHECK(f.roles.targets.expires == "2026-03-01T00:00:00Z");

  facts.last_success = RefreshLogEntry{at("2026-02-01T00:00:00Z"), RefreshResult::updated, "", ""};
  f = render_feed(fs, facts, at("2026-03-05T00:00:00Z"));
  CHECK(f.result == "updated");
  CHECK(f.last_success == "2026-02-01T00:00:00Z");
  CHECK(f.stale);
  CHECK(f.stale_since == "2026-03-01T00:00:00Z");  // the earliest expiry passed

  facts.last_refusal = RefreshLogEntry{at("2026-02-02T00:00:00Z"), RefreshResult::refused,
                                       "bad_signature", "timestamp: signature"};
  f = render_feed(fs, facts, at("2026-02-03T00:00:00Z"));
  CHECK(f.result == "refused");
  REQUIRE(f.last_refusal);
  CHECK(f.last_refusal->code == "bad_signature");
  CHECK(f.last_refusal->time == "2026-02-02T00:00:00Z");

  facts.last_success->time = at("2026-02-02T00:00:00Z");  // a success as new wins
  facts.last_success->result = RefreshResult::up_to_date;
  CHECK(render_feed(fs, facts, at("2026-02-03T00:00:00Z")).result == "up_to_date");

  FeedState fresh;  // added, never refreshed: stale (no timestamp) but nothing expired
  fresh.name = "new";
  fresh.root = {1, "", at("2027-01-01T00:00:00Z")};
  const auto n = render_feed(fresh, FeedFacts{}, at("2026-02-03T00:00:00Z"));
  CHECK(n.stale);
  CHECK_FALSE(n.stale_since);
  CHECK(n.roles.timestamp.version == 0);
  CHECK_FALSE(n.roles.timestamp.expires);
}

TEST_CASE("a follow renders its policy and what it did", "[render]") {
  FollowView v;
  v.follow.id = 3;
  v.follow.feed = "demo";
  v.follow.model_glob = "org/*";
  v.follow.latest = 2;
  v.follow.created_at = at("2026-01-01T00:00:00Z").time_since_epoch().count();
  v.last_applied = at("2026-01-01T00:01:00Z");
  v.mirroring = {"org/model@r1"};
  v.refused = {{"org/big@r1", "no_space"}};
  const auto j = render_follow(v);
  CHECK(j.id == 3);
  CHECK(j.model == "org/*");
  CHECK_FALSE(j.alias);
  CHECK(j.latest == 2);
  CHECK(j.created == "2026-01-01T00:00:00Z");
  CHECK(j.last_applied == "2026-01-01T00:01:00Z");
  CHECK(j.mirroring == std::vector<std::string>{"org/model@r1"});
  REQUIRE(j.refused.size() == 1);
  CHECK(j.refused[0].id == "org/big@r1");
  CHECK(j.skipped.empty());
}

namespace {

// The Prometheus text exposition format 0.0.4 as far as /metrics uses it: every line is
// "# HELP name text", "# TYPE name counter|gauge" or a sample "name{labels} value" / "name
// value"; a family's HELP then TYPE come before its samples, once; samples carry their family's
// name. Returns the first violation, or nothing (and the sample lines in `samples`).
std::optional<std::string> prometheus_violation(const std::string& text,
                                                std::vector<std::string>* samples = nullptr) {
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+)");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge))");
  static const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")"
      R"((,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? (-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?))");
  if (text.empty() || text.back() != '\n') return "not newline-terminated";
  std::istringstream in(text);
  std::string line, helped, typed;
  std::set<std::string> families;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, help)) {
      if (!families.insert(m[1]).second) return "second HELP: " + line;
      helped = m[1];
      typed.clear();
    } else if (std::regex_match(line, m, type)) {
      if (m[1] != helped || !typed.empty()) return "TYPE without its HELP: " + line;
      typed = m[1];
    } else if (std::regex_match(line, m, sample)) {
      if (m[1] != typed) return "sample outside its family: " + line;
      if (samples) samples->push_back(line);
    } else {
      return "not a HELP, TYPE or sample line: " + line;
    }
  }
  return std::nullopt;
}

std::vector<std::string> check_prometheus(const std::string& text) {
  std::vector<std::string> samples;
  const auto violation = prometheus_violation(text, &samples);
  INFO(violation.value_or(""));
  CHECK_FALSE(violation);
  return samples;
}

bool has(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

}  // namespace

TEST_CASE("metrics text has the counters, per-release and per-feed samples", "[render]") {
  MetricsSnapshot s;
  auto r = make_release({true, true, false});
  r->handle = 1;
  r->files[0].verified = true;
  r->status = status(700, 30, 0, 2);
  r->v1_status = status(5, 5, 0, 9);  // not in /metrics' payload counters
  r->rec.pinned = true;
  r->sources.observe({{SourceKind::peer, "127.0.0.2", "127.0.0.2:6881", 400},
                      {SourceKind::web_seed, "127.0.0.1:80", "127.0.0.1:80", 300}});
  s.releases.push_back(release_metrics(*r, {ReleaseState::downloading, true}));
  auto done = make_release();
  done->rec.id = "org/other@x \"quoted\"";
  done->handle = 2;
  for (auto& f : done->files) f.verified = true;
  s.releases.push_back(release_metrics(*done, {ReleaseState::complete, false}));

  FeedState fs;
  fs.name = "demo";
  fs.root = {1, "", at("2027-01-01T00:00:00Z")};
  fs.timestamp = TrustedRole{1, "", at("2026-01-01T00:00:00Z")};
  FeedFacts facts;
  facts.releases = 4;
  facts.last_success = RefreshLogEntry{at("2025-12-01T00:00:00Z"), RefreshResult::updated, "", ""};
  facts.last_refusal = RefreshLogEntry{at("2025-12-02T00:00:00Z"), RefreshResult::refused,
                                       "expired", "timestamp expired"};
  s.feeds.push_back(render_feed(fs, facts, at("2026-02-01T00:00:00Z")));

  s.disk_reserved = 4100;
  s.disk_budget = 1 << 20;
  s.disk_free = 12345;
  s.room = {1, 2};
  s.scrub = {3, 4096, 5, 6, at("2026-01-01T00:00:00Z").time_since_epoch().count()};
  s.rates = {1000, 0};
  s.follows = 2;

  const auto text = render_metrics(s);
  const auto samples = check_prometheus(text);
  CHECK(has(samples, "weightsd_releases 2"));
  CHECK(has(samples, "weightsd_release_size_bytes{release=\"org/model@r1\"} 1100"));
  CHECK(has(samples, "weightsd_release_verified_bytes{release=\"org/model@r1\"} 100"));
  CHECK(has(samples, "weightsd_release_downloaded_bytes_total{release=\"org/model@r1\"} 700"));
  CHECK(has(samples, "weightsd_release_uploaded_bytes_total{release=\"org/model@r1\"} 30"));
  CHECK(has(samples, "weightsd_release_peers{release=\"org/model@r1\"} 2"));
  CHECK(has(
      samples,
      R"(weightsd_release_downloaded_from_bytes_total{release="org/model@r1",source="peers"} 400)"));
  CHECK(has(
      samples,
      R"(weightsd_release_downloaded_from_bytes_total{release="org/model@r1",source="web_seeds"} 300)"));
  CHECK(has(samples, "weightsd_release_pinned{release=\"org/model@r1\"} 1"));
  CHECK(has(samples, "weightsd_release_held{release=\"org/model@r1\"} 1"));
  CHECK(has(samples, "weightsd_release_seeding{release=\"org/model@r1\"} 0"));
  CHECK(has(samples, "weightsd_release_state{release=\"org/model@r1\",state=\"downloading\"} 1"));
  CHECK(has(samples, R"(weightsd_release_seeding{release="org/other@x \"quoted\""} 1)"));
  CHECK(has(samples, "weightsd_feed_stale{feed=\"demo\"} 1"));
  CHECK(has(samples, "weightsd_feed_stale_since_timestamp_seconds{feed=\"demo\"} 1767225600"));
  CHECK(has(samples, "weightsd_feed_last_refresh_failed{feed=\"demo\"} 1"));
  CHECK(has(samples, "weightsd_feed_last_refusal_info{feed=\"demo\",code=\"expired\"} 1"));
  CHECK(has(samples, "weightsd_feed_releases{feed=\"demo\"} 4"));
  CHECK(has(samples, "weightsd_disk_reserved_bytes 4100"));
  CHECK(has(samples, "weightsd_disk_budget_bytes 1048576"));
  CHECK(has(samples, "weightsd_disk_free_bytes 12345"));
  CHECK(has(samples, "weightsd_evictions_total 1"));
  CHECK(has(samples, "weightsd_no_space_refusals_total 2"));
  CHECK(has(samples, "weightsd_scrub_files_total 3"));
  CHECK(has(samples, "weightsd_scrub_bytes_total 4096"));
  CHECK(has(samples, "weightsd_scrub_mismatches_total 5"));
  CHECK(has(samples, "weightsd_scrub_passes_total 6"));
  CHECK(has(samples, "weightsd_scrub_last_finished_timestamp_seconds 1767225600"));
  CHECK(has(samples, "weightsd_rate_limit_bytes_per_second{direction=\"download\"} 1000"));
  CHECK(has(samples, "weightsd_rate_limit_bytes_per_second{direction=\"upload\"} 0"));
  CHECK(has(samples, "weightsd_follows 2"));
  CHECK(text.find("# TYPE weightsd_evictions_total counter\n") != std::string::npos);
  CHECK(text.find("# TYPE weightsd_releases gauge\n") != std::string::npos);

  SECTION("optional families are left out, not sampled as 0") {
    s.disk_free.reset();
    s.scrub.last_pass = 0;
    const auto t = render_metrics(s);
    check_prometheus(t);
    CHECK(t.find("weightsd_disk_free_bytes") == std::string::npos);
    CHECK(t.find("weightsd_scrub_last_finished_timestamp_seconds") == std::string::npos);
  }
}

TEST_CASE("the registry's releases render in id order with their state, hold and rates",
          "[render]") {
  weights::testing::RecordRows db;
  ReleaseRegistry registry{db.store()};
  auto b = make_release();
  b->rec.id = "org/b@r1";
  b->handle = 1;
  b->status = status(10, 20, 300, 2);  // rates 300 down, 150 up
  registry.add(std::move(b));
  auto a = make_release();
  a->rec.id = "org/a@r1";
  a->handle = 2;
  for (auto& f : a->files) f.verified = true;
  a->status = status(0, 0, 40, 1);
  registry.add(std::move(a));
  registry.add(make_release());  // org/model@r1: no torrent, no status

  const auto m = release_metrics(registry, {"org/b@r1"});
  REQUIRE(m.size() == 3);
  CHECK(m[0].id == "org/a@r1");
  CHECK(m[0].state == ReleaseState::complete);
  CHECK_FALSE(m[0].held);
  CHECK(m[1].id == "org/b@r1");
  CHECK(m[1].held);
  CHECK(m[1].state == ReleaseState::downloading);
  CHECK(m[2].id == "org/model@r1");
  const auto rates = payload_rates(registry);
  CHECK(rates.download == 340);
  CHECK(rates.upload == 170);
  CHECK(context_of(*registry.find("org/b@r1"), {"org/b@r1"}).held);
}

TEST_CASE("a release coming from the upstream shows how it was pinned, its bytes and its rate",
          "[render]") {
  auto r = make_release();
  r->rec.origin = Origin::upstream;
  r->rec.feed = "upstream:huggingface";
  r->rec.revision = std::string(40, 'c');
  r->manifest.upstream = {"huggingface", "org/model"};
  r->upstream_phase = UpstreamPhase::downloading;
  r->files[0].done = 100;
  r->files[1].done = 400;
  r->upstream_rate = 250;
  const auto j = render_release(*r, context_of(*r, {}));
  CHECK(j.origin == "upstream");
  CHECK(j.state == "downloading");
  CHECK(j.downloaded_bytes == 500);
  CHECK(j.download_rate == 250);
  REQUIRE(j.upstream);
  CHECK(j.upstream->repo == "org/model");
  CHECK(j.upstream->commit == std::string(40, 'c'));
  CHECK(j.upstream->pinned_by == "commit");
  CHECK_FALSE(j.upstream->branch);

  r->upstream_branch = "main";
  CHECK(render_release(*r, context_of(*r, {})).upstream->pinned_by == "branch");
  r->upstream_branch.reset();
  r->upstream_alias = "model";
  const auto by_alias = render_release(*r, context_of(*r, {}));
  CHECK(by_alias.upstream->pinned_by == "catalog");
  CHECK(by_alias.upstream->alias == "model");

  testing::RecordRows rows;
  ReleaseRegistry registry(rows.store());
  registry.add(std::move(r));
  CHECK(payload_rates(registry).download == 250);
}

TEST_CASE("the hub's answer renders with its times; unreachable keeps the last answer",
          "[render]") {
  auto r = make_release();
  CHECK_FALSE(render_release(*r, context_of(*r, {})).hub_status);
  const auto t0 = at("2026-12-07T09:00:00Z").time_since_epoch().count();
  const auto t1 = at("2026-12-08T09:00:00Z").time_since_epoch().count();
  HubStatus h;
  h.answer = HubAnswer::refused;
  h.http_status = 451;
  h.error_code = "UnavailableForLegalReasons";
  h.answer_since = t0;
  h.answer_checked = t1;
  h.checked = t1;
  r->hub = h;
  auto j = render_release(*r, context_of(*r, {}));
  REQUIRE(j.hub_status);
  CHECK(j.hub_status->state == "refused");
  CHECK(j.hub_status->since == "2026-12-07T09:00:00Z");
  CHECK(j.hub_status->checked == "2026-12-08T09:00:00Z");
  CHECK(j.hub_status->http_status == 451u);
  CHECK(j.hub_status->error_code == "UnavailableForLegalReasons");
  CHECK(j.hub_status->seeding_priority);
  CHECK_FALSE(j.hub_status->answer);

  r->hub->unreachable_since = t1;
  r->hub->error = "connection refused";
  j = render_release(*r, context_of(*r, {}));
  CHECK(j.hub_status->state == "unreachable");
  CHECK(j.hub_status->since == "2026-12-08T09:00:00Z");
  CHECK(j.hub_status->answer == "refused");
  CHECK(j.hub_status->answer_since == "2026-12-07T09:00:00Z");
  CHECK(j.hub_status->error == "connection refused");
  CHECK(j.hub_status->seeding_priority);

  MetricsSnapshot s;
  s.releases.push_back(release_metrics(*r, {ReleaseState::complete, false}));
  auto served = make_release();
  served->rec.id = "org/served@x";
  served->hub = HubStatus{HubAnswer::serving, 0, "", t0, t1, 0, "", t1};
  s.releases.push_back(release_metrics(*served, {ReleaseState::complete, false}));
  auto refused = make_release();
  refused->rec.id = "org/gone@x";
  refused->hub = HubStatus{HubAnswer::refused, 404, "", t0, t1, 0, "", t1};
  s.releases.push_back(release_metrics(*refused, {ReleaseState::complete, false}));
  const auto samples = check_prometheus(render_metrics(s));
  CHECK(has(samples,
            "weightsd_release_upstream_state{release=\"org/model@r1\",state=\"unreachable\","
            "http_status=\"451\"} 1"));
  CHECK(has(samples,
            "weightsd_release_upstream_state{release=\"org/served@x\",state=\"serving\"} 1"));
  CHECK(has(samples,
            "weightsd_release_upstream_state{release=\"org/gone@x\",state=\"refused\","
            "http_status=\"404\"} 1"));
  CHECK(has(samples, "weightsd_upstream_refused_releases{status=\"451\"} 1"));
  CHECK(has(samples, "weightsd_upstream_refused_releases{status=\"404\"} 1"));
  CHECK(has(samples, "weightsd_upstream_refused_releases{status=\"410\"} 0"));
  CHECK(has(samples, "weightsd_upstream_unreachable_releases 1"));
}

TEST_CASE("the format check notices what Prometheus would refuse", "[render]") {
  const std::string ok = "# HELP a_total a.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n";
  CHECK_FALSE(prometheus_violation(ok));
  CHECK(prometheus_violation("a_total 2\n"));                                     // no HELP/TYPE
  CHECK(prometheus_violation("# HELP a a.\n# TYPE a gauge\nb 1\n"));              // other name
  CHECK(prometheus_violation("# HELP a a.\n# TYPE a gauge\na{x=\"q\"q\"} 1\n"));  // escaping
  CHECK(prometheus_violation("# HELP a a.\n# TYPE a gauge\na 1 2\n"));
  CHECK(prometheus_violation(ok + ok));                             // a family twice
  CHECK(prometheus_violation("# HELP a a.\n# TYPE a gauge\na 1"));  // no final newline
}
