#pragma once
// Feeds over HTTP(S): a Fetcher that GETs `<base URL>/<relative name>` with the one HTTP client
// (core/net/http_client.hpp: limits, deadlines, minimum rate, redirects, proxies, TLS checks).
// Errors: not_found for 404/410 (the TUF root chain stops on it), the rest as http_get.
// One HttpFetcher is used by one thread at a time.
#include <memory>
#include <string>
#include <string_view>

#include "core/net/fetcher.hpp"
#include "core/net/http_client.hpp"
#include "core/util/error.hpp"

namespace weights {

class HttpFetcher final : public Fetcher {
 public:
  // `base` is the feed's URL; relative names are appended to its path (percent-encoded).
  static Result<std::unique_ptr<HttpFetcher>> create(std::string_view base, HttpOptions options);
  Result<std::string> fetch(std::string_view relative_name, std::uint64_t max_bytes) override;
  std::string describe() const override { return base_.str(); }

 private:
  HttpFetcher(Url base, HttpOptions options)
      : base_(std::move(base)), options_(std::move(options)) {}
  Url base_;
  HttpOptions options_;
};

}  // namespace weights
