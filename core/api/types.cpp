#include "core/api/types.hpp"

#include <fmt/format.h>

#include "core/api/api.hpp"

namespace weights::api {
namespace io {

std::string_view type_name(const nlohmann::json& j) {
  if (j.is_number_unsigned()) return "unsigned integer";
  if (j.is_number_integer()) return "integer";
  return j.type_name();
}

Error type_error(const std::string& where, std::string_view expected, const nlohmann::json& got) {
  return Error{Errc::schema_error,
               fmt::format("{}: expected {}, got {}", where, expected, type_name(got)), ""};
}

Status read(const nlohmann::json& j, std::string& out, const std::string& where, UnknownFields) {
  if (!j.is_string()) return tl::unexpected(type_error(where, "a string", j));
  out = j.get<std::string>();
  return {};
}

Status read(const nlohmann::json& j, bool& out, const std::string& where, UnknownFields) {
  if (!j.is_boolean()) return tl::unexpected(type_error(where, "true or false", j));
  out = j.get<bool>();
  return {};
}

Status read(const nlohmann::json& j, std::uint64_t& out, const std::string& where, UnknownFields) {
  if (j.is_number_unsigned()) {
    out = j.get<std::uint64_t>();
    return {};
  }
  if (j.is_number_integer() && j.get<std::int64_t>() >= 0) {
    out = static_cast<std::uint64_t>(j.get<std::int64_t>());
    return {};
  }
  return tl::unexpected(type_error(where, "an unsigned integer", j));
}

Status read(const nlohmann::json& j, std::int64_t& out, const std::string& where, UnknownFields) {
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(INT64_MAX)) {
      return fail(Errc::schema_error, where + ": integer out of range");
    }
    out = static_cast<std::int64_t>(v);
    return {};
  }
  if (j.is_number_integer()) {
    out = j.get<std::int64_t>();
    return {};
  }
  return tl::unexpected(type_error(where, "an integer", j));
}

Status read(const nlohmann::json& j, nlohmann::json& out, const std::string&, UnknownFields) {
  out = j;
  return {};
}

Fields::Fields(const nlohmann::json& j, std::string where, UnknownFields unknown)
    : j_(j), where_(std::move(where)), unknown_(unknown) {
  if (!j_.is_object()) status_ = tl::unexpected(type_error(where_, "an object", j_));
}

Status Fields::done() const {
  if (!status_ || unknown_ == UnknownFields::ignore) return status_;
  for (const auto& [key, value] : j_.items()) {
    if (!seen_.count(key)) {
      return fail(Errc::schema_error, fmt::format("{}: unknown field '{}'", where_, key));
    }
  }
  return status_;
}

}  // namespace io

using io::nullable;
using nlohmann::json;

Error ErrorInfo::to_error() const {
  return Error{errc_from_name(code).value_or(Errc::internal), message, hint};
}

ErrorInfo ErrorInfo::from(const Error& e) {
  return ErrorInfo{std::string(code_name(e.code)), e.message, e.hint};
}

Status read(const json& j, ErrorInfo& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("code", v.code)
      .req("message", v.message)
      .opt("hint", v.hint)
      .done();
}
void to_json(json& j, const ErrorInfo& v) {
  j = {{"code", v.code}, {"message", v.message}, {"hint", v.hint}};
}

Status read(const json& j, ErrorBody& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("error", v.error).done();
}
void to_json(json& j, const ErrorBody& v) {
  j = {{"error", v.error}};
}

Status read(const json& j, ReleaseFile& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("path", v.path)
      .req("length", v.length)
      .req("wanted", v.wanted)
      .req("state", v.state)
      .req("done_bytes", v.done_bytes)
      .done();
}
void to_json(json& j, const ReleaseFile& v) {
  j = {{"path", v.path},
       {"length", v.length},
       {"wanted", v.wanted},
       {"state", v.state},
       {"done_bytes", v.done_bytes}};
}

Status read(const json& j, HfCacheInfo& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("dir", v.dir)
      .req("snapshot", v.snapshot)
      .req("error", v.error)
      .done();
}
void to_json(json& j, const HfCacheInfo& v) {
  j = {{"dir", v.dir}, {"snapshot", nullable(v.snapshot)}, {"error", nullable(v.error)}};
}

Status read(const json& j, LicenseInfo& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("id", v.id)
      .req("name", v.name)
      .req("url", v.url)
      .req("files", v.files)
      .req("gated", v.gated)
      .req("source", v.source)
      .req("where", v.where)
      .req("problem", v.problem)
      .req("needs_acceptance", v.needs_acceptance)
      .req("accepted_at", v.accepted_at)
      .done();
}
void to_json(json& j, const LicenseInfo& v) {
  j = {{"id", v.id},
       {"name", v.name},
       {"url", v.url},
       {"files", v.files},
       {"gated", v.gated},
       {"source", v.source},
       {"where", v.where},
       {"problem", v.problem},
       {"needs_acceptance", v.needs_acceptance},
       {"accepted_at", io::nullable(v.accepted_at)}};
}

Status read(const json& j, UpstreamInfo& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("kind", v.kind)
      .req("repo", v.repo)
      .req("commit", v.commit)
      .req("pinned_by", v.pinned_by)
      .opt("branch", v.branch)
      .opt("alias", v.alias)
      .opt("catalog_layer", v.catalog_layer)
      .opt("license", v.license)
      .opt("rejected_peers", v.rejected_peers)
      .opt("rejected_peers_more", v.rejected_peers_more)
      .done();
}
void to_json(json& j, const UpstreamInfo& v) {
  j = {{"kind", v.kind}, {"repo", v.repo}, {"commit", v.commit}, {"pinned_by", v.pinned_by}};
  if (v.branch) j["branch"] = *v.branch;
  if (v.alias) j["alias"] = *v.alias;
  if (v.catalog_layer) j["catalog_layer"] = *v.catalog_layer;
  if (v.license) j["license"] = *v.license;
  if (!v.rejected_peers.empty()) j["rejected_peers"] = v.rejected_peers;
  if (v.rejected_peers_more) j["rejected_peers_more"] = v.rejected_peers_more;
}

Status read(const json& j, DownloadSource& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("kind", v.kind)
      .req("address", v.address)
      .req("downloaded_bytes", v.downloaded_bytes)
      .done();
}
void to_json(json& j, const DownloadSource& v) {
  j = {{"kind", v.kind}, {"address", v.address}, {"downloaded_bytes", v.downloaded_bytes}};
}

Status read(const json& j, HubStatusInfo& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("state", v.state)
      .req("since", v.since)
      .req("checked", v.checked)
      .opt("http_status", v.http_status)
      .opt("error_code", v.error_code)
      .opt("answer", v.answer)
      .opt("answer_since", v.answer_since)
      .opt("error", v.error)
      .req("seeding_priority", v.seeding_priority)
      .done();
}
void to_json(json& j, const HubStatusInfo& v) {
  j = {{"state", v.state},
       {"since", v.since},
       {"checked", v.checked},
       {"seeding_priority", v.seeding_priority}};
  if (v.http_status) j["http_status"] = *v.http_status;
  if (v.error_code) j["error_code"] = *v.error_code;
  if (v.answer) j["answer"] = *v.answer;
  if (v.answer_since) j["answer_since"] = *v.answer_since;
  if (v.error) j["error"] = *v.error;
}

Status read(const json& j, Release& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("id", v.id)
      .req("feed", v.feed)
      .req("model", v.model)
      .req("revision", v.revision)
      .req("aliases", v.aliases)
      .req("release_seq", v.release_seq)
      .req("origin", v.origin)
      .req("state", v.state)
      .req("seeding", v.seeding)
      .req("pinned", v.pinned)
      .req("held", v.held)
      .req("last_requested", v.last_requested)
      .req("last_scrubbed", v.last_scrubbed)
      .req("total_length", v.total_length)
      .req("wanted_length", v.wanted_length)
      .req("verified_length", v.verified_length)
      .req("downloaded_bytes", v.downloaded_bytes)
      .req("uploaded_bytes", v.uploaded_bytes)
      .req("download_rate", v.download_rate)
      .req("upload_rate", v.upload_rate)
      .req("peers", v.peers)
      .req("seeds", v.seeds)
      .req("hash_failures", v.hash_failures)
      .req("banned_peers", v.banned_peers)
      .req("error", v.error)
      .req("path", v.path)
      .req("v2_infohash", v.v2_infohash)
      .req("include", v.include)
      .req("v1_seeding", v.v1_seeding)
      .req("v1_downloading", v.v1_downloading)
      .req("files", v.files)
      .opt("hf_cache", v.hf_cache)
      .opt("upstream", v.upstream)
      .opt("sources", v.sources)
      .opt("downloaded_from_peers", v.downloaded_from_peers)
      .opt("downloaded_from_web_seeds", v.downloaded_from_web_seeds)
      .opt("hub_status", v.hub_status)
      .done();
}
void to_json(json& j, const Release& v) {
  j = {{"id", v.id},
       {"feed", v.feed},
       {"model", v.model},
       {"revision", v.revision},
       {"aliases", v.aliases},
       {"release_seq", v.release_seq},
       {"origin", v.origin},
       {"state", v.state},
       {"seeding", v.seeding},
       {"pinned", v.pinned},
       {"held", v.held},
       {"last_requested", nullable(v.last_requested)},
       {"last_scrubbed", nullable(v.last_scrubbed)},
       {"total_length", v.total_length},
       {"wanted_length", v.wanted_length},
       {"verified_length", v.verified_length},
       {"downloaded_bytes", v.downloaded_bytes},
       {"uploaded_bytes", v.uploaded_bytes},
       {"download_rate", v.download_rate},
       {"upload_rate", v.upload_rate},
       {"peers", v.peers},
       {"seeds", v.seeds},
       {"hash_failures", v.hash_failures},
       {"banned_peers", v.banned_peers},
       {"error", nullable(v.error)},
       {"path", nullable(v.path)},
       {"v2_infohash", v.v2_infohash},
       {"include", v.include},
       {"v1_seeding", v.v1_seeding},
       {"v1_downloading", v.v1_downloading},
       {"files", v.files}};
  if (v.hf_cache) j["hf_cache"] = *v.hf_cache;
  if (v.upstream) j["upstream"] = *v.upstream;
  if (!v.sources.empty()) j["sources"] = v.sources;
  if (v.downloaded_from_peers) j["downloaded_from_peers"] = *v.downloaded_from_peers;
  if (v.downloaded_from_web_seeds) j["downloaded_from_web_seeds"] = *v.downloaded_from_web_seeds;
  if (v.hub_status) j["hub_status"] = *v.hub_status;
}

Status read(const json& j, ReleaseList& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("releases", v.releases).done();
}
void to_json(json& j, const ReleaseList& v) {
  j = {{"releases", v.releases}};
}

Status read(const json& j, Removed& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("removed", v.removed).done();
}
void to_json(json& j, const Removed& v) {
  j = {{"removed", v.removed}};
}

Status read(const json& j, RefreshOutcome& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("ticket", v.ticket)
      .req("result", v.result)
      .req("code", v.code)
      .req("message", v.message)
      .done();
}
void to_json(json& j, const RefreshOutcome& v) {
  j = {{"ticket", v.ticket},
       {"result", v.result},
       {"code", nullable(v.code)},
       {"message", nullable(v.message)}};
}

Status read(const json& j, FeedRefresh& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("running", v.running)
      .req("requested", v.requested)
      .req("completed", v.completed)
      .req("consecutive_failures", v.consecutive_failures)
      .req("next", v.next)
      .req("location", v.location)
      .req("last", v.last)
      .done();
}
void to_json(json& j, const FeedRefresh& v) {
  j = {{"running", v.running},     {"requested", v.requested},
       {"completed", v.completed}, {"consecutive_failures", v.consecutive_failures},
       {"next", nullable(v.next)}, {"location", nullable(v.location)},
       {"last", nullable(v.last)}};
}

Status read(const json& j, RoleInfo& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("version", v.version).req("expires", v.expires).done();
}
void to_json(json& j, const RoleInfo& v) {
  j = {{"version", v.version}, {"expires", nullable(v.expires)}};
}

Status read(const json& j, FeedRoles& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("root", v.root)
      .req("timestamp", v.timestamp)
      .req("snapshot", v.snapshot)
      .req("targets", v.targets)
      .done();
}
void to_json(json& j, const FeedRoles& v) {
  j = {{"root", v.root},
       {"timestamp", v.timestamp},
       {"snapshot", v.snapshot},
       {"targets", v.targets}};
}

Status read(const json& j, FeedRefusal& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("time", v.time)
      .req("code", v.code)
      .req("message", v.message)
      .done();
}
void to_json(json& j, const FeedRefusal& v) {
  j = {{"time", v.time}, {"code", v.code}, {"message", v.message}};
}

Status read(const json& j, FeedCatalogError& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("code", v.code).req("message", v.message).done();
}
void to_json(json& j, const FeedCatalogError& v) {
  j = {{"code", v.code}, {"message", v.message}};
}

Status read(const json& j, FeedCatalog& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("layer", v.layer)
      .req("snapshot_version", v.snapshot_version)
      .req("files", v.files)
      .req("error", v.error)
      .done();
}
void to_json(json& j, const FeedCatalog& v) {
  j = {{"layer", v.layer},
       {"snapshot_version", nullable(v.snapshot_version)},
       {"files", v.files},
       {"error", nullable(v.error)}};
}

Status read(const json& j, Feed& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("name", v.name)
      .req("location", v.location)
      .req("mirrors", v.mirrors)
      .req("result", v.result)
      .req("last_success", v.last_success)
      .req("last_refusal", v.last_refusal)
      .req("stale", v.stale)
      .req("stale_since", v.stale_since)
      .req("refresh", v.refresh)
      .req("roles", v.roles)
      .req("releases", v.releases)
      .opt("catalog", v.catalog)
      .opt("ticket", v.ticket)
      .done();
}
void to_json(json& j, const Feed& v) {
  j = {{"name", v.name},
       {"location", v.location},
       {"mirrors", v.mirrors},
       {"refresh", v.refresh},
       {"result", v.result},
       {"last_success", nullable(v.last_success)},
       {"last_refusal", nullable(v.last_refusal)},
       {"stale", v.stale},
       {"stale_since", nullable(v.stale_since)},
       {"roles", v.roles},
       {"releases", v.releases}};
  if (v.catalog) j["catalog"] = *v.catalog;
  if (v.ticket) j["ticket"] = *v.ticket;
}

Status read(const json& j, FeedList& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("feeds", v.feeds).done();
}
void to_json(json& j, const FeedList& v) {
  j = {{"feeds", v.feeds}};
}

Status read(const json& j, FollowReason& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("id", v.id).req("reason", v.reason).done();
}
void to_json(json& j, const FollowReason& v) {
  j = {{"id", v.id}, {"reason", v.reason}};
}

Status read(const json& j, Follow& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("id", v.id)
      .req("feed", v.feed)
      .opt("source", v.source)
      .opt("accept_license", v.accept_license)
      .req("model", v.model)
      .req("alias", v.alias)
      .req("latest", v.latest)
      .req("max_size", v.max_size)
      .req("created", v.created)
      .req("last_applied", v.last_applied)
      .req("mirroring", v.mirroring)
      .req("skipped", v.skipped)
      .req("refused", v.refused)
      .done();
}
void to_json(json& j, const Follow& v) {
  j = {{"id", v.id},
       {"feed", v.feed},
       {"source", v.source.empty() ? std::string("feed") : v.source},
       {"accept_license", v.accept_license},
       {"model", nullable(v.model)},
       {"alias", nullable(v.alias)},
       {"latest", v.latest},
       {"max_size", v.max_size},
       {"created", v.created},
       {"last_applied", nullable(v.last_applied)},
       {"mirroring", v.mirroring},
       {"skipped", v.skipped},
       {"refused", v.refused}};
}

Status read(const json& j, FollowList& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("follows", v.follows).done();
}
void to_json(json& j, const FollowList& v) {
  j = {{"follows", v.follows}};
}

Status read(const json& j, FollowRemoved& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("removed", v.removed).done();
}
void to_json(json& j, const FollowRemoved& v) {
  j = {{"removed", v.removed}};
}

Status read(const json& j, ScrubResult& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("queued", v.queued).req("rate", v.rate).done();
}
void to_json(json& j, const ScrubResult& v) {
  j = {{"queued", v.queued}, {"rate", v.rate}};
}

Status read(const json& j, ExportResult& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("id", v.id)
      .req("dir", v.dir)
      .req("format", v.format)
      .req("feed", v.feed)
      .req("model", v.model)
      .req("revision", v.revision)
      .req("release_seq", v.release_seq)
      .req("files", v.files)
      .req("total_length", v.total_length)
      .done();
}
void to_json(json& j, const ExportResult& v) {
  j = {{"id", v.id},
       {"dir", v.dir},
       {"format", v.format},
       {"feed", v.feed},
       {"model", v.model},
       {"revision", v.revision},
       {"release_seq", v.release_seq},
       {"files", v.files},
       {"total_length", v.total_length}};
}

Status read(const json& j, VersionInfo& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("protocol_version", v.protocol_version)
      .req("version", v.version)
      .done();
}
void to_json(json& j, const VersionInfo& v) {
  j = {{"protocol_version", v.protocol_version}, {"version", v.version}};
}

Status read(const json& j, DiskStatus& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("reserved", v.reserved)
      .req("budget", v.budget)
      .req("free", v.free)
      .done();
}
void to_json(json& j, const DiskStatus& v) {
  j = {{"reserved", v.reserved}, {"budget", v.budget}, {"free", nullable(v.free)}};
}

Status read(const json& j, RateLimits& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("download", v.download).req("upload", v.upload).done();
}
void to_json(json& j, const RateLimits& v) {
  j = {{"download", v.download}, {"upload", v.upload}};
}

Status read(const json& j, NetworkExposure& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("profile", v.profile)
      .req("listen_interfaces", v.listen_interfaces)
      .req("dht", v.dht)
      .req("dht_bootstrap_nodes", v.dht_bootstrap_nodes)
      .opt("dht_nodes", v.dht_nodes)
      .opt("dht_restrict_ips", v.dht_restrict_ips)
      .req("lsd", v.lsd)
      .req("upnp", v.upnp)
      .req("natpmp", v.natpmp)
      .done();
}
void to_json(json& j, const NetworkExposure& v) {
  j = {{"profile", v.profile},
       {"listen_interfaces", v.listen_interfaces},
       {"dht", v.dht},
       {"dht_bootstrap_nodes", v.dht_bootstrap_nodes},
       {"dht_nodes", v.dht_nodes},
       {"dht_restrict_ips", v.dht_restrict_ips},
       {"lsd", v.lsd},
       {"upnp", v.upnp},
       {"natpmp", v.natpmp}};
}

namespace {

// EngineStatus's fields sit at the top level of the status object.
io::Fields& engine_fields(io::Fields& f, EngineStatus& v) {
  return f.req("listen_port", v.listen_port)
      .opt("pin_exchange_port", v.pin_exchange_port)
      .opt("dht_nodes", v.dht_nodes)
      .req("listen_interfaces", v.listen_interfaces)
      .req("outgoing_interfaces", v.outgoing_interfaces)
      .req("releases", v.releases)
      .req("releases_loading", v.releases_loading)
      .req("feeds", v.feeds)
      .req("download_rate", v.download_rate)
      .req("upload_rate", v.upload_rate)
      .req("disk", v.disk)
      .req("rate_limits", v.rate_limits)
      .req("network", v.network);
}

}  // namespace

Status read(const json& j, EngineStatus& v, const std::string& w, UnknownFields u) {
  io::Fields f(j, w, u);
  return engine_fields(f, v).done();
}
void to_json(json& j, const EngineStatus& v) {
  j = {{"listen_port", v.listen_port},
       {"pin_exchange_port", v.pin_exchange_port},
       {"dht_nodes", v.dht_nodes},
       {"listen_interfaces", v.listen_interfaces},
       {"outgoing_interfaces", v.outgoing_interfaces},
       {"releases", v.releases},
       {"releases_loading", v.releases_loading},
       {"feeds", v.feeds},
       {"download_rate", v.download_rate},
       {"upload_rate", v.upload_rate},
       {"disk", v.disk},
       {"rate_limits", v.rate_limits},
       {"network", v.network}};
}

Status read(const json& j, DaemonStatus& v, const std::string& w, UnknownFields u) {
  io::Fields f(j, w, u);
  f.req("control_socket", v.control_socket)
      .req("mode", v.mode)
      .req("pid", v.pid)
      .req("protocol_version", v.protocol_version)
      .req("state_dir", v.state_dir)
      .req("uptime_s", v.uptime_s)
      .req("version", v.version);
  if (j.is_object() && j.contains("listen_port")) engine_fields(f, v.engine.emplace());
  return f.done();
}
void to_json(json& j, const DaemonStatus& v) {
  j = {{"control_socket", v.control_socket},
       {"mode", v.mode},
       {"pid", v.pid},
       {"protocol_version", v.protocol_version},
       {"state_dir", v.state_dir},
       {"uptime_s", v.uptime_s},
       {"version", v.version}};
  if (v.engine) j.update(json(*v.engine));
}

Status read(const json& j, LogLevelRequest& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("log_level", v.log_level).done();
}
void to_json(json& j, const LogLevelRequest& v) {
  j = {{"log_level", v.log_level}};
}

Status read(const json& j, LogLevelResult& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("log_level", v.log_level).req("previous", v.previous).done();
}
void to_json(json& j, const LogLevelResult& v) {
  j = {{"log_level", v.log_level}, {"previous", v.previous}};
}

Status read(const json& j, AddFeedRequest& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("name", v.name)
      .req("location", v.location)
      .req("root", v.root)
      .opt("mirrors", v.mirrors)
      .done();
}
void to_json(json& j, const AddFeedRequest& v) {
  j = {{"name", v.name}, {"location", v.location}, {"root", v.root}, {"mirrors", v.mirrors}};
}

Status read(const json& j, FetchRequest& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("name", v.name)
      .opt("revision", v.revision)
      .opt("include", v.include)
      .opt("peers", v.peers)
      .opt("hf_cache", v.hf_cache)
      .opt("accept_license", v.accept_license)
      .done();
}
void to_json(json& j, const FetchRequest& v) {
  j = {{"name", v.name}};
  if (v.revision) j["revision"] = *v.revision;
  if (!v.include.empty()) j["include"] = v.include;
  if (!v.peers.empty()) j["peers"] = v.peers;
  if (v.hf_cache) j["hf_cache"] = *v.hf_cache;
  if (v.accept_license) j["accept_license"] = true;
}

Status read(const json& j, SeedRequest& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("feed", v.feed)
      .req("model", v.model)
      .req("revision", v.revision)
      .req("dir", v.dir)
      .done();
}
void to_json(json& j, const SeedRequest& v) {
  j = {{"feed", v.feed}, {"model", v.model}, {"revision", v.revision}, {"dir", v.dir}};
}

Status read(const json& j, PeersRequest& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).opt("peers", v.peers).done();
}
void to_json(json& j, const PeersRequest& v) {
  j = {{"peers", v.peers}};
}

Status read(const json& j, FollowRequest& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u)
      .req("feed", v.feed)
      .opt("model", v.model)
      .opt("alias", v.alias)
      .opt("latest", v.latest)
      .opt("max_size", v.max_size)
      .opt("accept_license", v.accept_license)
      .done();
}
void to_json(json& j, const FollowRequest& v) {
  j = {{"feed", v.feed}};
  if (v.model) j["model"] = *v.model;
  if (v.alias) j["alias"] = *v.alias;
  if (v.latest) j["latest"] = *v.latest;
  if (v.max_size) j["max_size"] = *v.max_size;
  if (v.accept_license) j["accept_license"] = true;
}

Status read(const json& j, ScrubRequest& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).opt("release", v.release).done();
}
void to_json(json& j, const ScrubRequest& v) {
  j = json::object();
  if (v.release) j["release"] = *v.release;
}

Status read(const json& j, ExportRequest& v, const std::string& w, UnknownFields u) {
  return io::Fields(j, w, u).req("dir", v.dir).done();
}
void to_json(json& j, const ExportRequest& v) {
  j = {{"dir", v.dir}};
}

}  // namespace weights::api
