#include "core/net/http_fetcher.hpp"

#include <fmt/format.h>

#include "core/util/path_policy.hpp"

namespace weights {

Result<std::unique_ptr<HttpFetcher>> HttpFetcher::create(std::string_view base,
                                                         HttpOptions options) {
  auto u = parse_url(base);
  if (!u) return tl::unexpected(u.error());
  if (!u->userinfo.empty()) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: credentials in feed URLs are not supported", u->str()));
  }
  if (u->target.find('?') != std::string::npos) {
    return fail(Errc::invalid_argument, fmt::format("{}: a feed URL has no query", u->str()));
  }
  if (!u->target.ends_with('/')) u->target += '/';
  return std::unique_ptr<HttpFetcher>(new HttpFetcher(std::move(*u), std::move(options)));
}

Result<std::string> HttpFetcher::fetch(std::string_view relative_name, std::uint64_t max_bytes) {
  if (auto ok = check_path(relative_name); !ok) {
    return tl::unexpected(with_context(ok.error(), "fetch"));
  }
  Url url = base_;
  url.target += percent_encode_path(relative_name);
  std::string body;
  HttpRequest r;
  r.url = std::move(url);
  r.max_bytes = max_bytes;
  r.sink = [&body](std::string_view chunk) -> Status {
    body.append(chunk);
    return {};
  };
  auto res = http_request(r, options_);
  if (!res) return tl::unexpected(res.error());
  if (res->head.status != 200) return tl::unexpected(status_error(res->url, res->head));
  return body;
}

}  // namespace weights
