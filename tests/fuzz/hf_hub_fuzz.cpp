// Fuzzes what `weightsctl release add --from-hf` reads from a Hugging Face hub (or a replica):
// the revision info JSON, a file-tree page, the Link header that pages the tree (parsed with the
// one URL parser, core/net/url.hpp), and a redirect Location resolved against the endpoint; then
// compares the listed files with the same files as a pinned tree (upstream::check_listing) and as
// hashed "on disk" (upstream::check_against_pin), as the importer does.
//
// Then maps a refusal the hub sent (status line and headers, parsed by the one HTTP client with
// the headers the Hub keeps) to its error, as Hub does for every answer outside 2xx.
//
// Input: up to five parts separated by "\n\0\n": revision info, tree page, Link header,
// Location header, a refusal's response head (seeds in corpus/hf_hub/).
//
// Checks: a parsed URL round-trips through str() and carries no byte that could end or
// split the request line (controls, space); tree entries pass the path policy and have their
// hashes in the documented shape; the comparison accepts the hub's own listing and refuses any
// file whose length differs; a refusal's error is one line, never repeats whatever the hub put
// in its headers beyond a known error code or a commit id, and its code
// follows its reason (a missing repository, revision or file: not_found).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/net/hf_hub.hpp"
#include "core/net/http_client.hpp"
#include "core/net/url.hpp"
#include "core/upstream/hf_pin.hpp"
#include "core/util/path_policy.hpp"

namespace {

using namespace weights;
using weights::fuzz::check;
using weights::fuzz::text_of;

std::vector<std::string_view> split(std::string_view text) {
  constexpr std::string_view separator("\n\0\n", 3);
  std::vector<std::string_view> parts;
  while (parts.size() < 4) {
    const auto at = text.find(separator);
    if (at == std::string_view::npos) break;
    parts.push_back(text.substr(0, at));
    text.remove_prefix(at + separator.size());
  }
  parts.push_back(text);
  parts.resize(5);
  return parts;
}

bool request_safe(std::string_view s) {
  for (const unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

void check_url(const Url& u) {
  check(!u.host.empty() && u.port != 0 && !u.target.empty() && u.target.front() == '/');
  check(request_safe(u.host) && request_safe(u.target) && request_safe(u.userinfo));
  auto again = parse_url(u.str());
  check(again.has_value());
  check(again->scheme == u.scheme && again->host == u.host && again->port == u.port &&
        again->target == u.target);
}

// Never sent anywhere: a request's token, which no error may show.
std::string_view token() {
  return "hf_FUZZTOKENxxxxxxxxxxxxxxxxxxxxxxxx";
}
// Text a hostile hub puts in its headers; no error may repeat it.
std::string_view marker() {
  return "PWNED";
}

const Url& endpoint() {
  static const Url u = parse_url("https://huggingface.co/api/models/org/name").value();
  return u;
}

// A refusal's head as the Hub reads it, mapped to an error as Hub::download would.
void check_refusal(std::string_view bytes) {
  HttpOptions o;
  o.max_header_bytes = 4096;
  o.keep_headers = {std::string(hf::error_code_header), std::string(hf::repo_commit_header)};
  const std::string url = "https://huggingface.co/org/name/resolve/main/f.json";
  auto head = parse_http_response(bytes, 1024, o, url);
  if (!head || (head->status >= 200 && head->status < 300)) return;
  check(head->kept.size() <= o.keep_headers.size());
  const Url answered = parse_url(url).value();
  const hf::HubRefusal why = hf::classify_refusal(endpoint(), answered, *head);
  const hf::HubSubject subject{"org/name", "main", "f.json", true};
  const Error e = hf::hub_status_error(endpoint(), answered, *head, "org/name@main", subject);
  const std::string all = e.to_string();
  check(e.message.find('\n') == std::string::npos && e.hint.find('\n') == std::string::npos);
  // Header values are read, not echoed: a marker in any of them never reaches the message.
  check(bytes.find(marker()) == std::string_view::npos || all.find(marker()) == std::string::npos);
  const bool missing = why == hf::HubRefusal::repo_not_found ||
                       why == hf::HubRefusal::revision_not_found ||
                       why == hf::HubRefusal::entry_not_found;
  check(!missing || e.code == Errc::not_found);
  check(why != hf::HubRefusal::gated || e.code == Errc::permission_denied);
  check(!hf::refusal_name(why).empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = split(text_of(data, size));

  auto rev = hf::parse_revision_info(parts[0]);
  if (rev) check(rev->sha.size() == 40);

  std::vector<hf::HubFile> files;
  if (auto st = hf::parse_tree(parts[1], files); st) {
    for (const auto& f : files) {
      check(check_path(f.path).has_value());
      check(f.git_oid.size() == 40);
      check(!f.lfs_sha256 || f.lfs_sha256->size() == 64);
    }
    hf::HubRevision listing;
    listing.repo = "org/name";
    listing.sha = std::string(40, '0');
    listing.files = files;
    // The same files as a pinned tree and as hashed on disk: must match; one length off: must
    // not.
    upstream::PinnedTree pinned;
    pinned.commit = listing.sha;
    std::vector<ReleaseFile> disk;
    for (const auto& f : files) {
      upstream::PinnedFile p;
      p.path = f.path;
      p.size = f.size;
      p.sha256 = f.lfs_sha256.value_or(std::string(64, '0'));
      p.git_oid = f.git_oid;
      p.kind = f.lfs_sha256 ? upstream::FileKind::lfs : upstream::FileKind::blob;
      pinned.files.push_back(p);
      ReleaseFile r;
      r.path = f.path;
      r.length = f.size;
      r.sha256 = p.sha256;
      r.git_oid = f.git_oid;
      disk.push_back(std::move(r));
    }
    bool unique = true;
    for (std::size_t i = 0; i < files.size() && unique; ++i) {
      for (std::size_t j = i + 1; j < files.size() && unique; ++j) {
        unique = files[i].path != files[j].path;
      }
    }
    std::string bad;
    if (unique) {
      check(upstream::check_listing(listing, pinned).has_value());
      check(upstream::check_against_pin(pinned, disk, &bad).has_value());
    }
    if (!disk.empty()) {
      pinned.files.front().size ^= 1;
      check(!upstream::check_listing(listing, pinned).has_value());
      pinned.files.front().size ^= 1;
      disk.front().length ^= 1;
      check(!upstream::check_against_pin(pinned, disk, &bad).has_value());
    }
  }

  const std::string next = hf::next_link(parts[2]);
  check(next.size() <= parts[2].size());
  if (!next.empty()) {
    if (auto u = parse_url(next)) check_url(*u);
  }

  if (auto u = parse_url(parts[3])) check_url(*u);
  if (auto u = resolve_reference(endpoint(), parts[3])) {
    check_url(*u);
    check(u->userinfo.empty() || parts[3].find('@') != std::string_view::npos);
  }

  check_refusal(parts[4]);
  return 0;
}
