#include "core/hf_hub.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.hpp"
#include "core/path_policy.hpp"

namespace weights::hf {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

beast::string_view bsv(std::string_view s) {
  return {s.data(), s.size()};
}
std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}

bool is_hex(std::string_view s, std::size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Percent-encodes for a URL, keeping '/' (repo ids and file paths) unless `keep_slash` is false
// (revisions such as "refs/pr/1" are one segment, as huggingface_hub quotes them).
std::string encode_path(std::string_view s, bool keep_slash = true) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (c == '/' && keep_slash)) {
      out += ch;
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

// Response head plus what the caller needs to continue.
struct Head {
  unsigned status = 0;
  std::string location;
  std::string link;
  std::string content_range;
  std::string retry_after;
  std::optional<std::uint64_t> content_length;
};

// One HTTP/1.1 exchange on a fresh connection. The body goes to `sink` (called with chunks);
// `max_body` bounds it. Each network step (resolve, connect, handshake, write, each read) has
// its own deadline, so a stalled peer fails after options.timeout, not never.
class Exchange {
 public:
  Exchange(const HubOptions& o, const Url& url) : options_(o), url_(url) {}

  using Sink = std::function<Status(const char*, std::size_t)>;
  using OnHead = std::function<Status(const Head&)>;

  Result<Head> run(const http::request<http::empty_body>& req, std::uint64_t max_body,
                   const OnHead& on_head, const Sink& sink) {
    if (url_.scheme == "https") {
      ssl::context ctx(ssl::context::tls_client);
      ctx.set_default_verify_paths();
      ctx.set_verify_mode(ssl::verify_peer);
      ctx.set_verify_callback(ssl::host_name_verification(url_.host));
      ssl::stream<beast::tcp_stream> stream(ioc_, ctx);
      if (!SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str())) {
        return fail(Errc::unavailable, fmt::format("{}: cannot set TLS SNI", url_.host));
      }
      if (auto st = connect(beast::get_lowest_layer(stream)); !st)
        return tl::unexpected(st.error());
      beast::get_lowest_layer(stream).expires_after(options_.timeout);
      boost::system::error_code ec;
      stream.async_handshake(ssl::stream_base::client, [&](auto e) { ec = e; });
      if (auto st = drive(ec, "TLS handshake"); !st) return tl::unexpected(st.error());
      return exchange(stream, req, max_body, on_head, sink);
    }
    beast::tcp_stream stream(ioc_);
    if (auto st = connect(stream); !st) return tl::unexpected(st.error());
    return exchange(stream, req, max_body, on_head, sink);
  }

 private:
  Status drive(boost::system::error_code& ec, std::string_view what) {
    ioc_.restart();
    ioc_.run();
    if (ec == beast::error::timeout) {
      return fail(Errc::unavailable,
                  fmt::format("{}: {} timed out after {}s", to_string(url_), what,
                              options_.timeout.count()),
                  "check the network or the hub's status, then run the same command again: "
                  "downloads resume");
    }
    if (ec) {
      return fail(Errc::unavailable,
                  fmt::format("{}: {} failed: {}", to_string(url_), what, ec.message()),
                  "check the endpoint (HF_ENDPOINT / --endpoint) and the network");
    }
    return {};
  }

  Status connect(beast::tcp_stream& s) {
    tcp::resolver resolver(ioc_);
    boost::system::error_code ec;
    tcp::resolver::results_type results;
    s.expires_after(options_.timeout);
    resolver.async_resolve(url_.host, url_.port, [&](auto e, auto r) {
      ec = e;
      results = r;
    });
    if (auto st = drive(ec, "name resolution"); !st) return st;
    s.expires_after(options_.timeout);
    s.async_connect(results, [&](auto e, auto) { ec = e; });
    return drive(ec, "connect");
  }

  template <class Stream>
  Result<Head> exchange(Stream& stream, const http::request<http::empty_body>& req,
                        std::uint64_t max_body, const OnHead& on_head, const Sink& sink) {
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).expires_after(options_.timeout);
    http::async_write(stream, req, [&](auto e, std::size_t) { ec = e; });
    if (auto st = drive(ec, "sending the request"); !st) return tl::unexpected(st.error());

    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.header_limit(64 * 1024);
    // Our own caps apply below. (Beast 1.74 treats body_limit(none) as a zero limit.)
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::get_lowest_layer(stream).expires_after(options_.timeout);
    http::async_read_header(stream, buffer, parser, [&](auto e, std::size_t) { ec = e; });
    if (auto st = drive(ec, "reading the response header"); !st) return tl::unexpected(st.error());
    const auto& res = parser.get();
    Head head;
    head.status = res.result_int();
    head.location = std::string(sv(res[http::field::location]));
    head.link = std::string(sv(res[http::field::link]));
    head.content_range = std::string(sv(res[http::field::content_range]));
    head.retry_after = std::string(sv(res[http::field::retry_after]));
    if (parser.content_length()) head.content_length = *parser.content_length();
    // Only a 2xx body is payload; anything else is read (bounded) and dropped.
    const bool payload = head.status >= 200 && head.status < 300;
    if (payload && on_head) {
      if (auto st = on_head(head); !st) return tl::unexpected(st.error());
    }
    const std::uint64_t limit = payload ? max_body : 64 * 1024;
    if (head.content_length && *head.content_length > limit) {
      if (!payload) return head;
      return fail(Errc::length_mismatch,
                  fmt::format("{}: Content-Length {} is more than the expected {} bytes",
                              to_string(url_), *head.content_length, limit));
    }
    std::array<char, 64 * 1024> chunk{};
    std::uint64_t got = 0;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      beast::get_lowest_layer(stream).expires_after(options_.timeout);
      http::async_read(stream, buffer, parser, [&](auto e, std::size_t) { ec = e; });
      ioc_.restart();
      ioc_.run();
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        if (auto st = drive(ec, "reading the response body"); !st) {
          return tl::unexpected(st.error());
        }
      }
      const std::size_t n = chunk.size() - parser.get().body().size;
      got += n;
      if (got > limit) {
        if (!payload) return head;
        return fail(Errc::length_mismatch,
                    fmt::format("{}: more than the expected {} bytes", to_string(url_), limit));
      }
      if (payload && n > 0 && sink) {
        if (auto st = sink(chunk.data(), n); !st) return tl::unexpected(st.error());
      }
    }
    return head;
  }

  const HubOptions& options_;
  Url url_;
  asio::io_context ioc_;
};

// Turns a final non-2xx status into an error with a hint.
Error status_error(const Url& url, const Head& head, std::string_view what) {
  const std::string where = fmt::format("{} ({})", what, to_string(url));
  switch (head.status) {
    case 401:
    case 403:
      return Error{Errc::unavailable,
                   fmt::format("{}: HTTP {}: gated or private repository", where, head.status),
                   "accept the model's conditions on the hub, then set HF_TOKEN to a token of "
                   "that account"};
    case 404:
      return Error{Errc::not_found,
                   fmt::format("{}: HTTP 404: no such repository, revision or file", where),
                   "check ORG/NAME@REVISION; the repository may have been deleted"};
    case 429:
      return Error{Errc::unavailable, fmt::format("{}: HTTP 429: rate limited", where),
                   "wait and run the same command again (downloads resume); a token (HF_TOKEN) "
                   "raises the limit"};
    default:
      return Error{Errc::unavailable, fmt::format("{}: HTTP {}", where, head.status),
                   "try again later, or use a mirror (HF_ENDPOINT / --endpoint)"};
  }
}

std::optional<std::chrono::seconds> retry_after(const Head& head) {
  if (head.retry_after.empty()) return std::chrono::seconds(1);
  unsigned v = 0;
  const auto* b = head.retry_after.data();
  const auto [p, e] = std::from_chars(b, b + head.retry_after.size(), v);
  if (e != std::errc() || p != b + head.retry_after.size()) return std::nullopt;  // HTTP-date
  return std::chrono::seconds(v);
}

// Printable ASCII without space: anything else in a host or request target (CR, LF, NUL,
// space above all) would split the request line or inject header lines.
bool request_safe(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

bool same_origin(const Url& a, const Url& b) {
  return a.scheme == b.scheme && lower(a.host) == lower(b.host) && a.port == b.port;
}

}  // namespace

// ---- URLs ---------------------------------------------------------------------------------------

Result<Url> parse_url(std::string_view text) {
  Url u;
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    return fail(Errc::invalid_argument, fmt::format("'{}' is not an http(s) URL", text));
  }
  u.scheme = lower(std::string(text.substr(0, sep)));
  if (u.scheme != "http" && u.scheme != "https") {
    return fail(Errc::invalid_argument,
                fmt::format("'{}': only http and https are supported", text));
  }
  std::string_view rest = text.substr(sep + 3);
  const auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (u.target.front() == '?') u.target = "/" + u.target;
  if (const auto hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return fail(Errc::invalid_argument, fmt::format("'{}': bad host", text));
  }
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail(Errc::invalid_argument, fmt::format("'{}': bad host", text));
    }
    u.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && authority.front() == ':') u.port = authority.substr(1);
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    u.host = std::string(authority.substr(0, colon));
    u.port = std::string(authority.substr(colon + 1));
  } else {
    u.host = std::string(authority);
  }
  if (u.port.empty()) u.port = u.scheme == "https" ? "443" : "80";
  if (u.host.empty() || !std::all_of(u.port.begin(), u.port.end(), ::isdigit)) {
    return fail(Errc::invalid_argument, fmt::format("'{}': bad host or port", text));
  }
  // A host name, or an IPv6 literal (it was in brackets): nothing that could read back as
  // another host once the URL is written out again.
  const bool v6 = u.host.find(':') != std::string::npos;
  const bool host_ok = std::all_of(u.host.begin(), u.host.end(), [v6](unsigned char c) {
    return v6 ? (std::isxdigit(c) || c == ':' || c == '.')
              : (std::isalnum(c) || c == '-' || c == '.' || c == '_');
  });
  if (!host_ok || !request_safe(u.target)) {
    return fail(Errc::invalid_argument,
                fmt::format("'{}': bad host, or spaces or control characters in the URL",
                            escape_path_for_message(text)));
  }
  return u;
}

std::string to_string(const Url& u) {
  const bool default_port =
      (u.scheme == "https" && u.port == "443") || (u.scheme == "http" && u.port == "80");
  const std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  return fmt::format("{}://{}{}{}", u.scheme, host, default_port ? "" : ":" + u.port, u.target);
}

Result<Url> resolve_location(const Url& base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return parse_url(location);
  if (location.substr(0, 2) == "//") return parse_url(base.scheme + ":" + std::string(location));
  if (!location.empty() && location.front() == '/') {
    if (!request_safe(location)) {
      return fail(Errc::parse_error, fmt::format("redirect location '{}': spaces or control "
                                                 "characters",
                                                 escape_path_for_message(location)));
    }
    Url u = base;
    u.target = std::string(location.substr(0, location.find('#')));  // never sent
    return u;
  }
  return fail(Errc::parse_error, fmt::format("unsupported redirect location '{}'", location));
}

HubOptions hub_options_from_env() {
  HubOptions o;
  if (const char* e = std::getenv("HF_ENDPOINT"); e && *e) o.endpoint = e;
  if (const char* t = std::getenv("HF_TOKEN"); t && *t) {
    o.token = t;
  } else if (const char* t2 = std::getenv("HUGGING_FACE_HUB_TOKEN"); t2 && *t2) {
    o.token = t2;
  }
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
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
  auto u = parse_url(options_.endpoint);
  if (u) {
    endpoint_ = *u;
    endpoint_ok_ = true;
  } else {
    endpoint_error_ = u.error();
  }
}

namespace {

// GET with redirects and Retry-After; the body of the final 2xx response goes to `sink`.
// `restart` is called before each attempt so the sink can reset (e.g. re-open a resumed file and
// return the Range start). The token goes only to the endpoint's origin.
struct GetResult {
  Head head;
  Url url;
};

Result<GetResult> get_following(const HubOptions& o, const Url& endpoint, Url url,
                                const std::function<std::optional<std::uint64_t>()>& range_start,
                                std::uint64_t max_body, const Exchange::OnHead& on_head,
                                const Exchange::Sink& sink, std::string_view what) {
  int redirects = 0;
  int attempts = 0;
  for (;;) {
    http::request<http::empty_body> req{http::verb::get, bsv(url.target), 11};
    const bool default_port =
        (url.scheme == "https" && url.port == "443") || (url.scheme == "http" && url.port == "80");
    req.set(http::field::host, bsv(default_port ? url.host : url.host + ":" + url.port));
    req.set(http::field::user_agent, "weightsctl/" WEIGHTS_VERSION);
    req.set(http::field::accept_encoding, "identity");
    req.set(http::field::connection, "close");
    if (!o.token.empty() && same_origin(url, endpoint)) {
      req.set(http::field::authorization, bsv("Bearer " + o.token));
    }
    std::optional<std::uint64_t> start = range_start ? range_start() : std::nullopt;
    if (start && *start > 0) req.set(http::field::range, bsv(fmt::format("bytes={}-", *start)));
    Exchange ex(o, url);
    auto head = ex.run(req, max_body, on_head, sink);
    ++attempts;
    if (!head) {
      // A dropped or stalled transfer is retried (it resumes); anything else is final.
      if (head.error().code == Errc::unavailable && attempts < o.max_attempts && range_start) {
        continue;
      }
      return tl::unexpected(head.error());
    }
    const unsigned s = head->status;
    if (s == 301 || s == 302 || s == 303 || s == 307 || s == 308) {
      if (++redirects > o.max_redirects) {
        return fail(Errc::unavailable,
                    fmt::format("{}: more than {} redirects", what, o.max_redirects));
      }
      auto next = resolve_location(url, head->location);
      if (!next) return tl::unexpected(with_context(next.error(), what));
      url = *next;
      continue;
    }
    if ((s == 429 || s == 503) && attempts < o.max_attempts) {
      const auto wait = retry_after(*head);
      if (wait && *wait <= o.max_retry_after) {
        std::this_thread::sleep_for(*wait);
        continue;
      }
    }
    if (s < 200 || s >= 300) {
      if (s == 416) return GetResult{*head, url};  // the caller decides (resume past the end)
      return tl::unexpected(status_error(url, *head, what));
    }
    return GetResult{*head, url};
  }
}

}  // namespace

Result<Hub::Json> Hub::get_json(const std::string& url_text) {
  auto url = parse_url(url_text);
  if (!url) return tl::unexpected(url.error());
  std::string body;
  auto got = get_following(
      options_, endpoint_, *url, {}, options_.max_json_bytes, {},
      [&](const char* p, std::size_t n) -> Status {
        body.append(p, n);
        return {};
      },
      url_text);
  if (!got) return tl::unexpected(got.error());
  return Json{std::move(body), got->head.link};
}

Result<HubRevision> Hub::revision(std::string_view repo, std::string_view rev) {
  if (!endpoint_ok_) return tl::unexpected(endpoint_error_);
  if (!is_valid_model_id(repo)) {
    return fail(Errc::invalid_argument, fmt::format("'{}' is not a repository id ORG/NAME", repo));
  }
  const std::string base = options_.endpoint;
  auto info = get_json(fmt::format("{}/api/models/{}/revision/{}", base, encode_path(repo),
                                   encode_path(rev, false)));
  if (!info) return tl::unexpected(info.error());
  auto r = parse_revision_info(info->body);
  if (!r) return tl::unexpected(r.error());
  r->repo = std::string(repo);
  std::string next =
      fmt::format("{}/api/models/{}/tree/{}?recursive=true", base, encode_path(repo), r->sha);
  for (int page = 0; !next.empty(); ++page) {
    if (page > 10000) return fail(Errc::too_large, "file tree: more than 10000 pages");
    auto tree = get_json(next);
    if (!tree) return tl::unexpected(tree.error());
    if (auto st = parse_tree(tree->body, r->files); !st) return tl::unexpected(st.error());
    next = next_link(tree->link);
    if (!next.empty()) {
      auto nu = parse_url(next);
      if (!nu || !same_origin(*nu, endpoint_)) {
        return fail(Errc::wrong_target,
                    fmt::format("file tree: next page '{}' is not on the endpoint", next));
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
  // Before each attempt: open the .part file and report how much of it can be kept.
  auto range_start = [&]() -> std::optional<std::uint64_t> {
    close_fd();
    fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return std::nullopt;
    struct stat stt {};
    ::fstat(fd, &stt);
    have = static_cast<std::uint64_t>(stt.st_size);
    if (have > file.size) {
      (void)::ftruncate(fd, 0);
      have = 0;
    }
    ::lseek(fd, static_cast<off_t>(have), SEEK_SET);
    return have;
  };
  // A server that ignores Range answers 200 with the whole file: start over. A 206 must
  // continue exactly where the .part file ends.
  auto on_head = [&](const Head& h) -> Status {
    if (fd < 0) {
      return fail(Errc::io_error,
                  fmt::format("cannot open {}: {}", part.string(), std::strerror(errno)));
    }
    if (h.status == 206) {
      const std::string expect = fmt::format("bytes {}-", have);
      if (h.content_range.rfind(expect, 0) != 0) {
        return fail(Errc::unavailable,
                    fmt::format("{}: Content-Range '{}' does not continue at byte {}", file.path,
                                h.content_range, have));
      }
      return {};
    }
    if (have > 0) {
      if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) {
        return fail(Errc::io_error,
                    fmt::format("cannot truncate {}: {}", part.string(), std::strerror(errno)));
      }
      have = 0;
    }
    return {};
  };
  auto sink = [&](const char* p, std::size_t n) -> Status {
    if (fd < 0) {
      return fail(Errc::io_error,
                  fmt::format("cannot open {}: {}", part.string(), std::strerror(errno)));
    }
    if (have + n > file.size) {
      return fail(
          Errc::length_mismatch,
          fmt::format("{}: the hub sent more than the listed {} bytes", file.path, file.size));
    }
    while (n > 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return fail(Errc::io_error,
                    fmt::format("cannot write {}: {}", part.string(), std::strerror(errno)));
      }
      have += static_cast<std::uint64_t>(w);
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    if (progress) progress(file, have);
    return {};
  };
  const std::string what = fmt::format("{}@{}: {}", rev.repo, rev.sha.substr(0, 12), file.path);
  auto url = parse_url(fmt::format("{}/{}/resolve/{}/{}", options_.endpoint, encode_path(rev.repo),
                                   rev.sha, encode_path(file.path)));
  if (!url) return tl::unexpected(url.error());
  // An empty file, or a .part already complete, needs no request (a Range past the end is 416).
  if (range_start() != file.size) {
    auto got =
        get_following(options_, endpoint_, *url, range_start, file.size, on_head, sink, what);
    if (!got) {
      close_fd();
      return tl::unexpected(got.error());
    }
  }
  if (fd < 0) {
    return fail(Errc::io_error,
                fmt::format("cannot open {}: {}", part.string(), std::strerror(errno)));
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

// ---- checks -------------------------------------------------------------------------------------

Status check_against_hub(const HubRevision& rev, std::vector<ReleaseFile>& files,
                         std::string* bad_path) {
  std::map<std::string, const HubFile*> by_path;
  for (const auto& f : rev.files) by_path[f.path] = &f;
  if (files.size() != rev.files.size()) {
    return fail(Errc::wrong_target,
                fmt::format("{} files on disk, but {}@{} lists {}", files.size(), rev.repo,
                            rev.sha.substr(0, 12), rev.files.size()),
                "import into an empty directory");
  }
  for (auto& f : files) {
    const auto it = by_path.find(f.path);
    if (it == by_path.end()) {
      return fail(Errc::wrong_target,
                  fmt::format("{}: not a file of {}@{}", f.path, rev.repo, rev.sha.substr(0, 12)),
                  "import into an empty directory");
    }
    const HubFile& h = *it->second;
    if (bad_path) *bad_path = f.path;
    if (f.length != h.size) {
      return fail(Errc::length_mismatch,
                  fmt::format("{}: {} bytes, the hub lists {}", f.path, f.length, h.size));
    }
    if (h.lfs_sha256) {
      if (f.sha256 != *h.lfs_sha256) {
        return fail(Errc::hash_mismatch,
                    fmt::format("{}: SHA-256 {} differs from the hub's LFS oid {}", f.path,
                                f.sha256, *h.lfs_sha256),
                    "the download or the mirror is corrupt; nothing was signed");
      }
      f.git_oid.reset();
    } else {
      if (!f.git_oid) {
        return fail(Errc::internal, fmt::format("{}: git blob id was not computed", f.path));
      }
      if (*f.git_oid != h.git_oid) {
        return fail(Errc::hash_mismatch,
                    fmt::format("{}: git blob id {} differs from the hub's oid {}", f.path,
                                *f.git_oid, h.git_oid),
                    "the download or the mirror is corrupt; nothing was signed");
      }
    }
  }
  if (bad_path) bad_path->clear();
  return {};
}

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
