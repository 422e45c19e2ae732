// Fuzzes what `weightsctl release add --from-hf` reads from a Hugging Face hub (or a replica):
// the revision info JSON, a file-tree page, the Link header that pages the tree (parsed with the
// one URL parser, core/net/url.hpp), and a redirect Location resolved against the endpoint; then
// compares the listed files with the same files as a pinned tree (upstream::check_listing) and as
// hashed "on disk" (upstream::check_against_pin), as the importer does.
//
// Input: up to four parts separated by "\n\0\n": revision info, tree page, Link header,
// Location header (seeds in corpus/hf_hub/).
//
// Checks: a parsed URL round-trips through str() and carries no byte that could end or
// split the request line (controls, space); tree entries pass the path policy and have their
// hashes in the documented shape; the comparison accepts the hub's own listing and refuses any
// file whose length differs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/net/hf_hub.hpp"
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
  while (parts.size() < 3) {
    const auto at = text.find(separator);
    if (at == std::string_view::npos) break;
    parts.push_back(text.substr(0, at));
    text.remove_prefix(at + separator.size());
  }
  parts.push_back(text);
  parts.resize(4);
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

const Url& endpoint() {
  static const Url u = parse_url("https://huggingface.co/api/models/org/name").value();
  return u;
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
  return 0;
}
