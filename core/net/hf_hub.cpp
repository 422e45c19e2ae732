#include "core/net/hf_hub.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util/json.hpp"
#include "core/util/path_policy.hpp"

namespace weights::hf {
namespace {

bool is_hex(std::string_view s, std::size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::string_view refusal_name(HubRefusal r) noexcept {
  switch (r) {
    case HubRefusal::repo_not_found:
      return "repo_not_found";
    case HubRefusal::revision_not_found:
      return "revision_not_found";
    case HubRefusal::entry_not_found:
      return "entry_not_found";
    case HubRefusal::gated:
      return "gated";
    case HubRefusal::unauthorized:
      return "unauthorized";
    case HubRefusal::forbidden:
      return "forbidden";
    case HubRefusal::not_found:
      return "not_found";
    case HubRefusal::gone:
      return "gone";
    case HubRefusal::rate_limited:
      return "rate_limited";
    case HubRefusal::legally_blocked:
      return "legally_blocked";
    case HubRefusal::signed_url_refused:
      return "signed_url_refused";
    case HubRefusal::xet_only:
      return "xet_only";
    case HubRefusal::server_error:
      return "server_error";
    case HubRefusal::other:
      break;
  }
  return "other";
}

HubRefusal classify_refusal(const Url& endpoint, const Url& answered_by, const ResponseHead& head) {
  if (signed_url_expired(endpoint, answered_by, head.status)) return HubRefusal::signed_url_refused;
  // The hub's Xet storage answers a plain HTTP GET of a very large file (over about 400 GB) with
  // 400: such a file is served only to Xet clients.
  if (head.status == 400 && !answered_by.same_origin(endpoint)) return HubRefusal::xet_only;
  // The hub's own codes (huggingface_hub's hf_raise_for_status reads the same header); a code we
  // do not know leaves the status to decide.
  if (const auto code = head.header(error_code_header)) {
    if (*code == "RepoNotFound") return HubRefusal::repo_not_found;
    if (*code == "RevisionNotFound") return HubRefusal::revision_not_found;
    if (*code == "EntryNotFound") return HubRefusal::entry_not_found;
    if (*code == "GatedRepo") return HubRefusal::gated;
  }
  switch (head.status) {
    case 401:
      return HubRefusal::unauthorized;
    case 403:
      return HubRefusal::forbidden;
    case 404:
      return HubRefusal::not_found;
    case 410:
      return HubRefusal::gone;
    case 429:
      return HubRefusal::rate_limited;
    case 451:
      return HubRefusal::legally_blocked;
    default:
      return head.status >= 500 && head.status < 600 ? HubRefusal::server_error : HubRefusal::other;
  }
}

Error hub_status_error(const Url& endpoint, const Url& url, const ResponseHead& head,
                       std::string_view what) {
  return hub_status_error(endpoint, url, head, what, HubSubject{});
}

Error hub_status_error(const Url& endpoint, const Url& url, const ResponseHead& head,
                       std::string_view what, const HubSubject& subject) {
  const std::string shown = url.str();
  const std::string where = what == shown ? shown : fmt::format("{} ({})", what, shown);
  // The status and the hub's code as the hub said them; only codes we know are repeated.
  const HubRefusal why = classify_refusal(endpoint, url, head);
  auto said = [&](std::string_view code) { return fmt::format("HTTP {}, {}", head.status, code); };
  const std::string repo = subject.repo.empty() ? std::string("the repository") : subject.repo;
  // The repository's page, where a licence is accepted: {endpoint}/{repo}.
  std::string page =
      fmt::format("{}://{}{}", endpoint.scheme == UrlScheme::https ? "https" : "http",
                  endpoint.host_header(), endpoint.target);
  while (!page.empty() && page.back() == '/') page.pop_back();
  page = subject.repo.empty() ? "the repository's page on the hub" : page + "/" + subject.repo;
  const std::string never_accepted = "weightsd never accepts a licence on your behalf";
  switch (why) {
    case HubRefusal::signed_url_refused:
      return Error{Errc::unavailable,
                   fmt::format("{}: HTTP {}: the download server refused a fresh signed URL from "
                               "the hub",
                               where, head.status),
                   "signed URLs carry an expiry time: check this machine's clock, then run the "
                   "same command again (downloads resume)"};
    case HubRefusal::xet_only:
      return Error{Errc::unsupported,
                   fmt::format("{}: HTTP 400 from the hub's download server: it serves this "
                               "file only over the Xet protocol (the hub does so for files over "
                               "about 400 GB), not over plain HTTP",
                               where),
                   "weightsd gets such a file from peers only: fetch the release from a swarm "
                   "that holds it (a catalog entry with its info-hash, or --peer), or from a "
                   "mirror that serves it over HTTP (HF_ENDPOINT / --endpoint)"};
    case HubRefusal::repo_not_found:
      return Error{
          Errc::not_found,
          fmt::format("{}: repository {} not found: it does not exist, or it is private and "
                      "{} ({})",
                      where, repo,
                      subject.token_sent ? "the account of HF_TOKEN cannot see it"
                                         : "this request carried no token",
                      said("RepoNotFound")),
          subject.token_sent
              ? "check ORG/NAME (spelling, organisation); a private repository needs read "
                "access for the account HF_TOKEN belongs to"
              : "check ORG/NAME (spelling, organisation); for a private repository set HF_TOKEN "
                "to a read token of an account that can see it"};
    case HubRefusal::revision_not_found:
      return Error{
          Errc::not_found,
          fmt::format("{}: {} has no revision '{}' (branch, tag or commit) ({})", where, repo,
                      escape_path_for_message(subject.revision), said("RevisionNotFound")),
          "name an existing branch or tag, or a full 40-hex commit id (the hub lists "
          "them under \"Files and versions\")"};
    case HubRefusal::entry_not_found: {
      std::string at;
      if (const auto c = head.header(repo_commit_header); c && is_hex(*c, 40)) {
        at = fmt::format(", commit {}", *c);
      }
      return Error{
          Errc::not_found,
          fmt::format("{}: no file '{}' in {}@{}{} ({})", where,
                      escape_path_for_message(subject.file), repo,
                      escape_path_for_message(subject.revision), at, said("EntryNotFound")),
          "check the path and the revision; if the commit's git tree holds this file, the hub "
          "or mirror is out of step with its own git: try again later or another mirror "
          "(HF_ENDPOINT / --endpoint)"};
    }
    case HubRefusal::gated:
      return Error{
          Errc::permission_denied,
          fmt::format("{}: {} is a gated repository: the hub serves its files only to accounts "
                      "that accepted its licence ({})",
                      where, repo, said("GatedRepo")),
          subject.token_sent
              ? fmt::format("the account of HF_TOKEN has no access yet: accept the licence at "
                            "{} with that account (some publishers approve requests by hand); "
                            "{}",
                            page, never_accepted)
              : fmt::format("accept the licence at {} with your own account, then set HF_TOKEN "
                            "to a read token of that account; {}",
                            page, never_accepted)};
    case HubRefusal::unauthorized:
      return Error{
          Errc::permission_denied,
          fmt::format("{}: HTTP 401: the hub wants authentication{}", where,
                      subject.token_sent ? " and refused HF_TOKEN" : ""),
          subject.token_sent
              ? "check that HF_TOKEN is a valid read token (not expired or revoked)"
              : "the repository may be private or gated: set HF_TOKEN to a read token of an "
                "account with access"};
    case HubRefusal::forbidden:
      return Error{
          Errc::permission_denied, fmt::format("{}: HTTP 403: the hub refuses access", where),
          fmt::format("the repository may be gated or disabled: accept its licence at {} with "
                      "your own account and set HF_TOKEN to a read token of that account; {}",
                      page, never_accepted)};
    case HubRefusal::not_found:
      return Error{Errc::not_found,
                   fmt::format("{}: HTTP 404: no such repository, revision or file", where),
                   "check ORG/NAME@REVISION; the repository may have been deleted"};
    case HubRefusal::gone:
      return Error{Errc::not_found,
                   fmt::format("{}: HTTP 410: gone: the hub no longer serves it", where),
                   "it may have been deleted or disabled upstream: get the release from peers "
                   "that hold it (weightsctl fetch ORG/NAME@<commit>) or from a mirror "
                   "(HF_ENDPOINT / --endpoint)"};
    case HubRefusal::rate_limited: {
      const auto wait = retry_after(head, std::nullopt);
      return Error{
          Errc::unavailable,
          fmt::format("{}: HTTP 429: rate limited by the hub, still after retrying{}", where,
                      wait ? fmt::format(" (it asks to wait {} s)", wait->count()) : ""),
          "wait a few minutes and run the same command again (downloads resume); "
          "anonymous requests share a per-address limit, a token (HF_TOKEN) raises it"};
    }
    case HubRefusal::legally_blocked:
      return Error{Errc::unavailable,
                   fmt::format("{}: HTTP 451: the hub is legally barred from serving this "
                               "repository here",
                               where),
                   "waiting will not change that: get the release from peers that hold it "
                   "(weightsctl fetch) or from a mirror (HF_ENDPOINT / --endpoint; pin "
                   "ORG/NAME@<commit> and the mirror cannot change a byte)"};
    case HubRefusal::server_error:
      return Error{Errc::unavailable,
                   fmt::format("{}: HTTP {}: the hub failed to answer", where, head.status),
                   "try again later, or use a mirror (HF_ENDPOINT / --endpoint)"};
    case HubRefusal::other:
      break;
  }
  return Error{Errc::unavailable, fmt::format("{}: HTTP {}", where, head.status),
               "try again later, or use a mirror (HF_ENDPOINT / --endpoint)"};
}

bool signed_url_expired(const Url& endpoint, const Url& answered_by, unsigned status) {
  return (status == 403 || status == 410) && !answered_by.same_origin(endpoint);
}

// ---- options ----------------------------------------------------------------------------------

HubOptions hub_options_from_env() {
  HubOptions o;
  if (const char* e = std::getenv("HF_ENDPOINT"); e && *e) o.endpoint = e;
  if (const char* t = std::getenv("HF_TOKEN"); t && *t) {
    o.token = t;
  } else if (const char* t2 = std::getenv("HUGGING_FACE_HUB_TOKEN"); t2 && *t2) {
    o.token = t2;
  }
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  if (auto proxy = ProxySettings::from_env()) {
    o.proxy = std::move(*proxy);
  } else {
    o.config_error = proxy.error();
  }
  return o;
}

// ---- hub JSON -----------------------------------------------------------------------------------

Result<HubRevision> parse_revision_info(std::string_view body) {
  auto doc = json::parse_strict(body, {64 * 1024 * 1024, 64});
  if (!doc) return tl::unexpected(with_context(doc.error(), "model info"));
  if (!doc->is_object()) return fail(Errc::schema_error, "model info: expected an object");
  HubRevision r;
  auto sha = json::get_string(*doc, "sha", "model info");
  if (!sha) return tl::unexpected(sha.error());
  if (!is_hex(*sha, 40)) {
    return fail(Errc::schema_error, fmt::format("model info: sha '{}' is not a commit id", *sha));
  }
  r.sha = *sha;
  if (auto card = doc->find("cardData"); card != doc->end() && card->is_object()) {
    if (auto lic = card->find("license"); lic != card->end() && lic->is_string()) {
      r.license = lic->get<std::string>();
    }
  }
  return r;
}

Status parse_tree(std::string_view body, std::vector<HubFile>& files) {
  auto doc = json::parse_strict(body, {64 * 1024 * 1024, 64});
  if (!doc) return tl::unexpected(with_context(doc.error(), "file tree"));
  if (!doc->is_array()) return fail(Errc::schema_error, "file tree: expected an array");
  std::size_t i = 0;
  for (const auto& e : *doc) {
    const std::string where = fmt::format("file tree[{}]", i++);
    if (!e.is_object()) return fail(Errc::schema_error, where + ": expected an object");
    auto type = json::get_string(e, "type", where);
    if (!type) return tl::unexpected(type.error());
    if (*type == "directory") continue;
    if (*type != "file") {
      return fail(Errc::unsupported, fmt::format("{}: entry type '{}'", where, *type),
                  "only files and directories can be imported");
    }
    HubFile f;
    auto path = json::get_string(e, "path", where);
    if (!path) return tl::unexpected(path.error());
    if (auto st = check_path(*path); !st) return tl::unexpected(with_context(st.error(), where));
    f.path = *path;
    auto size = json::get_uint(e, "size", where);
    if (!size) return tl::unexpected(size.error());
    f.size = *size;
    auto oid = json::get_string(e, "oid", where);
    if (!oid) return tl::unexpected(oid.error());
    if (!is_hex(*oid, 40)) {
      return fail(Errc::schema_error, fmt::format("{}.oid: not a git object id", where));
    }
    f.git_oid = *oid;
    if (auto lfs = e.find("lfs"); lfs != e.end() && !lfs->is_null()) {
      const std::string lw = where + ".lfs";
      if (!lfs->is_object()) return fail(Errc::schema_error, lw + ": expected an object");
      auto lo = json::get_string(*lfs, "oid", lw);
      if (!lo) return tl::unexpected(lo.error());
      if (!is_hex(*lo, 64)) {
        return fail(Errc::schema_error, fmt::format("{}.oid: not a SHA-256", lw));
      }
      auto ls = json::get_uint(*lfs, "size", lw);
      if (!ls) return tl::unexpected(ls.error());
      if (*ls != f.size) {
        return fail(Errc::schema_error,
                    fmt::format("{}: lfs.size {} differs from size {}", where, *ls, f.size));
      }
      f.lfs_sha256 = *lo;
    }
    files.push_back(std::move(f));
  }
  return {};
}

std::string next_link(std::string_view header) {
  // Link: <https://host/api/...&cursor=xyz>; rel="next", <...>; rel="prev"
  std::size_t pos = 0;
  while (pos < header.size()) {
    const auto open = header.find('<', pos);
    if (open == std::string_view::npos) break;
    const auto close = header.find('>', open);
    if (close == std::string_view::npos) break;
    const auto end = header.find(',', close);
    const auto params =
        header.substr(close + 1, end == std::string_view::npos ? header.npos : end - close - 1);
    if (params.find("rel=\"next\"") != std::string_view::npos ||
        params.find("rel=next") != std::string_view::npos) {
      return std::string(header.substr(open + 1, close - open - 1));
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return {};
}
// ---- Hub ----------------------------------------------------------------------------------------

Hub::Hub(HubOptions options) : options_(std::move(options)) {
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/')
    options_.endpoint.pop_back();
  if (options_.config_error) {
    endpoint_error_ = *options_.config_error;
    return;
  }
  auto u = parse_url(options_.endpoint);
  if (!u) {
    endpoint_error_ = u.error();
  } else if (!u->userinfo.empty()) {
    endpoint_error_ = Error{Errc::invalid_argument,
                            fmt::format("{}: credentials in the endpoint URL are not supported; "
                                        "set HF_TOKEN",
                                        u->str()),
                            {}};
  } else {
    endpoint_ = *u;
    endpoint_ok_ = true;
  }
}

HttpOptions Hub::http_options() const {
  HttpOptions h;
  h.connect_timeout = options_.timeout;
  h.read_timeout = options_.timeout;
  h.max_redirects = options_.max_redirects;
  h.max_attempts = options_.max_attempts;
  h.max_retry_after = options_.max_retry_after;
  h.default_retry_after = std::chrono::seconds(1);  // as huggingface_hub: a 429 is worth a retry
  h.proxy = options_.proxy;
  h.user_agent = "weightsctl/" WEIGHTS_VERSION;
  h.keep_headers = {std::string(error_code_header), std::string(repo_commit_header)};
  return h;
}

HttpRequest Hub::request(const Url& url) const {
  HttpRequest r;
  r.url = url;
  // The token goes to the endpoint's origin only: not to a CDN a redirect leads to, nor to a
  // Link that names another host.
  if (!options_.token.empty() && url.same_origin(endpoint_)) {
    r.authorization = "Bearer " + options_.token;
  }
  return r;
}

Error Hub::refused(const Url& asked, const HttpResult& got, std::string_view what,
                   HubSubject subject) {
  subject.token_sent = !request(asked).authorization.empty();
  last_refusal_ = classify_refusal(endpoint_, got.url, got.head);
  last_status_ = got.head.status;
  last_error_code_ = got.head.header(error_code_header).value_or("");
  return hub_status_error(endpoint_, got.url, got.head, what, subject);
}

Result<Hub::Json> Hub::get_json(const std::string& url_text) {
  return get_json(url_text, url_text, HubSubject{});
}

Result<Hub::Json> Hub::get_json(const std::string& url_text, std::string_view what,
                                HubSubject subject) {
  last_refusal_.reset();
  if (!endpoint_ok_) return tl::unexpected(endpoint_error_);
  auto url = parse_url(url_text);
  if (!url) return tl::unexpected(url.error());
  std::string body;
  HttpRequest r = request(*url);
  r.max_bytes = options_.max_json_bytes;
  r.sink = [&body](std::string_view chunk) -> Status {
    body.append(chunk);
    return {};
  };
  auto got = http_request(r, http_options());
  if (!got) {
    Error e = got.error();
    if (e.code == Errc::unavailable && e.hint.empty()) {
      e.hint =
          "check the endpoint (HF_ENDPOINT / --endpoint), the proxy (https_proxy) and the "
          "network";
    }
    return tl::unexpected(e);
  }
  if (got->head.status < 200 || got->head.status >= 300) {
    return tl::unexpected(refused(*url, *got, what, std::move(subject)));
  }
  return Json{std::move(body), got->head.link};
}

Result<HubRevision> Hub::revision(std::string_view repo, std::string_view rev) {
  if (!endpoint_ok_) return tl::unexpected(endpoint_error_);
  if (!is_valid_model_id(repo)) {
    return fail(Errc::invalid_argument, fmt::format("'{}' is not a repository id ORG/NAME", repo));
  }
  const std::string base = options_.endpoint;
  const std::string asked = fmt::format("{}@{}", repo, rev);
  auto info = get_json(fmt::format("{}/api/models/{}/revision/{}", base, percent_encode_path(repo),
                                   percent_encode_path(rev, false)),
                       asked, HubSubject{std::string(repo), std::string(rev), {}, false});
  if (!info) return tl::unexpected(info.error());
  auto r = parse_revision_info(info->body);
  if (!r) return tl::unexpected(r.error());
  r->repo = std::string(repo);
  std::string next = fmt::format("{}/api/models/{}/tree/{}?recursive=true", base,
                                 percent_encode_path(repo), r->sha);
  for (int page = 0; !next.empty(); ++page) {
    if (page > 10000) return fail(Errc::too_large, "file tree: more than 10000 pages");
    auto tree = get_json(next, fmt::format("{}@{}: file tree", repo, r->sha),
                         HubSubject{std::string(repo), r->sha, {}, false});
    if (!tree) return tl::unexpected(tree.error());
    if (auto st = parse_tree(tree->body, r->files); !st) return tl::unexpected(st.error());
    next = next_link(tree->link);
    if (!next.empty()) {
      auto nu = parse_url(next);
      if (!nu || !nu->same_origin(endpoint_)) {
        return fail(Errc::wrong_target,
                    fmt::format("file tree: next page '{}' is not on the endpoint",
                                escape_path_for_message(next)));
      }
    }
  }
  std::sort(r->files.begin(), r->files.end(),
            [](const HubFile& a, const HubFile& b) { return a.path < b.path; });
  for (std::size_t i = 1; i < r->files.size(); ++i) {
    if (r->files[i].path == r->files[i - 1].path) {
      return fail(Errc::schema_error,
                  fmt::format("file tree: '{}' listed twice", r->files[i].path));
    }
  }
  if (r->files.empty()) {
    return fail(Errc::not_found, fmt::format("{}@{} has no files", repo, r->sha));
  }
  return r;
}

Status Hub::download(const HubRevision& rev, const HubFile& file, const fs::path& dest,
                     const Progress& progress) {
  last_refusal_.reset();
  if (!endpoint_ok_) return tl::unexpected(endpoint_error_);
  if (auto st = check_path(file.path); !st) return st;
  std::error_code ec;
  if (fs::is_regular_file(dest, ec) && fs::file_size(dest, ec) == file.size && !ec) return {};
  fs::create_directories(dest.parent_path(), ec);
  if (ec) {
    return fail(Errc::io_error,
                fmt::format("cannot create {}: {}", dest.parent_path().string(), ec.message()));
  }
  const fs::path part = dest.string() + ".part";
  int fd = -1;
  std::uint64_t have = 0;
  auto close_fd = [&] {
    if (fd >= 0) ::close(fd);
    fd = -1;
  };
  auto cannot = [&](std::string_view what) {
    return fail(Errc::io_error,
                fmt::format("cannot {} {}: {}", what, part.string(), std::strerror(errno)));
  };
  // Before each attempt: open the .part file and keep what it already holds (a Range resumes).
  auto open_part = [&]() -> Status {
    close_fd();
    fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return cannot("open");
    struct stat stt {};
    if (::fstat(fd, &stt) != 0) return cannot("stat");
    have = static_cast<std::uint64_t>(stt.st_size);
    if (have > file.size) {
      if (::ftruncate(fd, 0) != 0) return cannot("truncate");
      have = 0;
    }
    if (::lseek(fd, static_cast<off_t>(have), SEEK_SET) < 0) return cannot("seek in");
    return {};
  };
  // A server that ignores Range answers 200 with the whole file: start over. (The client checks
  // that a 206 continues exactly where the .part file ends.)
  auto on_head = [&](const ResponseHead& h) -> Status {
    if (h.status != 206 && have > 0) {
      if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) return cannot("truncate");
      have = 0;
    }
    return {};
  };
  auto cancelled = [&] { return options_.cancel && options_.cancel->load(); };
  auto sink = [&](std::string_view chunk) -> Status {
    if (cancelled())
      return fail(Errc::unavailable, fmt::format("{}: download cancelled", file.path));
    if (have + chunk.size() > file.size) {
      return fail(
          Errc::length_mismatch,
          fmt::format("{}: the hub sent more than the listed {} bytes", file.path, file.size));
    }
    while (!chunk.empty()) {
      const ssize_t w = ::write(fd, chunk.data(), chunk.size());
      if (w < 0) {
        if (errno == EINTR) continue;
        return cannot("write");
      }
      have += static_cast<std::uint64_t>(w);
      chunk.remove_prefix(static_cast<std::size_t>(w));
    }
    if (progress) progress(file, have);
    return {};
  };
  const std::string what = fmt::format("{}@{}: {}", rev.repo, rev.sha.substr(0, 12), file.path);
  auto url =
      parse_url(fmt::format("{}/{}/resolve/{}/{}", options_.endpoint, percent_encode_path(rev.repo),
                            rev.sha, percent_encode_path(file.path)));
  if (!url) return tl::unexpected(url.error());
  for (int attempt = 1;; ++attempt) {
    if (auto st = open_part(); !st) {
      close_fd();
      return st;
    }
    // An empty file, or a .part already complete, needs no request (a Range past the end is 416).
    if (have == file.size) break;
    HttpRequest r = request(*url);
    r.max_bytes = file.size;
    r.range_from = have;
    r.on_head = on_head;
    r.sink = sink;
    auto got = http_request(r, http_options());
    if (!got) {
      // A dropped or stalled transfer is tried again from where it stopped; anything else is
      // final.
      if (got.error().code == Errc::unavailable && attempt < options_.max_attempts &&
          !cancelled()) {
        continue;
      }
      close_fd();
      Error e = with_context(got.error(), what);
      if (e.code == Errc::too_large) e.code = Errc::length_mismatch;  // more than listed
      if (e.code == Errc::unavailable && e.hint.empty()) {
        e.hint =
            "check the network or the hub's status, then run the same command again: "
            "downloads resume";
      }
      return tl::unexpected(e);
    }
    const unsigned s = got->head.status;
    if ((s >= 200 && s < 300) || s == 416) break;  // 416: checked by size below
    // The CDN refused the signed URL the hub redirected to (expired, or used up): the next
    // attempt asks the hub for a fresh one and resumes where the .part file ends.
    if (signed_url_expired(endpoint_, got->url, s) && attempt < options_.max_attempts) continue;
    close_fd();
    return tl::unexpected(
        refused(*url, *got, what, HubSubject{rev.repo, rev.sha, file.path, false}));
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    close_fd();
    return fail(Errc::io_error,
                fmt::format("cannot sync {}: {}", part.string(), std::strerror(err)));
  }
  close_fd();
  const auto size = fs::file_size(part, ec);
  if (ec || size != file.size) {
    return fail(Errc::length_mismatch,
                fmt::format("{}: got {} of {} bytes", what, ec ? 0 : size, file.size),
                "run the same command again: the download resumes");
  }
  fs::rename(part, dest, ec);
  if (ec) {
    return fail(Errc::io_error, fmt::format("cannot rename {} to {}: {}", part.string(),
                                            dest.string(), ec.message()));
  }
  return {};
}

// ---- LFS by default --------------------------------------------------------------------------

bool lfs_by_default(std::string_view path) {
  // huggingface_hub's default .gitattributes for model repositories, plus *.gguf.
  static constexpr std::string_view suffixes[] = {
      ".7z",      ".arrow",   ".bin",    ".bz2",     ".ckpt", ".ftz", ".gz",   ".h5",
      ".joblib",  ".mlmodel", ".model",  ".msgpack", ".npy",  ".npz", ".onnx", ".ot",
      ".parquet", ".pb",      ".pickle", ".pkl",     ".pt",   ".pth", ".rar",  ".safetensors",
      ".tar",     ".tflite",  ".tgz",    ".wasm",    ".xz",   ".zip", ".zst",  ".gguf"};
  const auto slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  for (const auto s : suffixes) {
    if (name.size() > s.size() && name.substr(name.size() - s.size()) == s) return true;
  }
  return name.find(".tar.") != std::string_view::npos ||
         name.find(".lfs.") != std::string_view::npos ||
         name.find("tfevents") != std::string_view::npos || path.rfind("saved_model/", 0) == 0 ||
         path.find("/saved_model/") != std::string_view::npos;
}

// ---- cache --------------------------------------------------------------------------------------

fs::path default_cache_dir() {
  if (const char* c = std::getenv("HF_HUB_CACHE"); c && *c) return c;
  if (const char* h = std::getenv("HF_HOME"); h && *h) return fs::path(h) / "hub";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    return fs::path(x) / "huggingface" / "hub";
  }
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/") / ".cache" / "huggingface" / "hub";
}

std::string cache_repo_folder(std::string_view repo) {
  std::string out = "models--";
  for (const char c : repo) {
    if (c == '/') {
      out += "--";
    } else {
      out += c;
    }
  }
  return out;
}

std::string cache_blob_name(const ReleaseFile& file) {
  return file.git_oid ? *file.git_oid : file.sha256;
}

Result<CacheSnapshot> open_cache_snapshot(const fs::path& path_in,
                                          const std::optional<std::string>& revision) {
  std::error_code ec;
  fs::path path = fs::absolute(path_in, ec).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();
  fs::path repo_dir;
  std::string rev;
  if (path.parent_path().filename() == "snapshots") {
    repo_dir = path.parent_path().parent_path();
    rev = path.filename().string();
  } else {
    repo_dir = path;
    if (revision) {
      rev = *revision;
    } else {
      const fs::path ref = repo_dir / "refs" / "main";
      std::FILE* f = std::fopen(ref.c_str(), "rb");
      if (!f) {
        return fail(Errc::not_found, fmt::format("{}: no refs/main", repo_dir.string()),
                    "name the snapshot directory (.../snapshots/<commit>) or pass --revision");
      }
      char buf[128] = {};
      const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
      std::fclose(f);
      rev.assign(buf, n);
      while (!rev.empty() && (rev.back() == '\n' || rev.back() == '\r')) rev.pop_back();
    }
    if (is_hex(rev, 40) || fs::is_directory(repo_dir / "snapshots" / rev, ec)) {
      // a commit id, or a snapshot folder of that name
    } else if (fs::exists(repo_dir / "refs" / rev, ec)) {
      std::FILE* f = std::fopen((repo_dir / "refs" / rev).c_str(), "rb");
      char buf[128] = {};
      const std::size_t n = f ? std::fread(buf, 1, sizeof buf - 1, f) : 0;
      if (f) std::fclose(f);
      rev.assign(buf, n);
      while (!rev.empty() && (rev.back() == '\n' || rev.back() == '\r')) rev.pop_back();
    }
    path = repo_dir / "snapshots" / rev;
  }
  const std::string folder = repo_dir.filename().string();
  if (folder.rfind("models--", 0) != 0) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: not a Hugging Face cache model folder (models--ORG--NAME)",
                            repo_dir.string()));
  }
  const std::string tail = folder.substr(8);
  const auto dash = tail.find("--");
  CacheSnapshot s;
  s.repo = dash == std::string::npos ? tail : tail.substr(0, dash) + "/" + tail.substr(dash + 2);
  s.revision = rev;
  s.snapshot_dir = path;
  if (!is_valid_revision(rev) || !fs::is_directory(path, ec)) {
    return fail(Errc::not_found, fmt::format("{}: no such snapshot", path.string()));
  }
  const fs::path blobs = fs::canonical(repo_dir / "blobs", ec);
  if (ec) return fail(Errc::not_found, fmt::format("{}: no blobs/ folder", repo_dir.string()));
  fs::recursive_directory_iterator it(path, ec), end;
  if (ec) return fail(Errc::io_error, fmt::format("{}: {}", path.string(), ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) return fail(Errc::io_error, fmt::format("{}: {}", path.string(), ec.message()));
    if (it->is_directory(ec) && !it->is_symlink(ec)) continue;
    const std::string rel = it->path().lexically_relative(path).generic_string();
    if (!it->is_symlink(ec)) {
      return fail(Errc::invalid_argument,
                  fmt::format("{}: a plain file, not a link into blobs/", it->path().string()),
                  "only cache files named by their hash can be verified; re-download the "
                  "snapshot with huggingface_hub (symlinks enabled)");
    }
    const fs::path target = fs::canonical(it->path(), ec);
    if (ec || target.parent_path() != blobs || !fs::is_regular_file(target, ec)) {
      return fail(Errc::invalid_argument, fmt::format("{}: does not link to a blob in {}",
                                                      it->path().string(), blobs.string()));
    }
    const std::string name = target.filename().string();
    if (!is_hex(name, 40) && !is_hex(name, 64)) {
      return fail(Errc::invalid_argument,
                  fmt::format("{}: blob name '{}' is not a hash", it->path().string(), name));
    }
    s.files.push_back(CacheFile{rel, name});
  }
  std::sort(s.files.begin(), s.files.end(),
            [](const CacheFile& a, const CacheFile& b) { return a.path < b.path; });
  if (s.files.empty())
    return fail(Errc::not_found, fmt::format("{}: empty snapshot", path.string()));
  return s;
}

Status check_against_cache(const CacheSnapshot& snap, std::vector<ReleaseFile>& files) {
  std::map<std::string, std::string> blob;
  for (const auto& f : snap.files) blob[f.path] = f.blob_name;
  for (auto& f : files) {
    const auto it = blob.find(f.path);
    if (it == blob.end()) {
      return fail(Errc::internal, fmt::format("{}: not in the snapshot listing", f.path));
    }
    const std::string& name = it->second;
    if (name.size() == 64) {
      if (f.sha256 != name) {
        return fail(
            Errc::hash_mismatch,
            fmt::format("{}: SHA-256 {} differs from its blob name {}", f.path, f.sha256, name),
            "the cache is corrupt; delete that blob and download it again");
      }
      f.git_oid.reset();
    } else {
      if (!f.git_oid || *f.git_oid != name) {
        return fail(Errc::hash_mismatch,
                    fmt::format("{}: git blob id {} differs from its blob name {}", f.path,
                                f.git_oid.value_or("(not computed)"), name),
                    "the cache is corrupt; delete that blob and download it again");
      }
    }
  }
  return {};
}

}  // namespace weights::hf
