// Fuzzes the comparison of signed targets metadata with a release manifest (what the client
// does with every release target it downloads): parse_targets on the first part of the input,
// then validate_release_target(entry, second part) for every entry, whatever its kind.
//
// Input: targets payload JSON, the separator "\n\0\n", release manifest bytes (seeds in
// corpus/release_target/). Without a separator the whole input is the manifest, compared with
// a fixed entry for the demo release.
//
// Checks: an accepted manifest agrees with the entry on model, revision and release_seq, the
// entry sits at the canonical path, and the manifest is exactly what parse_release_manifest
// returns for the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/trust/release_manifest.hpp"
#include "core/trust/release_target.hpp"
#include "core/trust/tuf_metadata.hpp"

using weights::fuzz::check;

namespace {

using namespace weights;

tuf::TargetInfo demo_entry() {
  tuf::TargetInfo t;
  t.path = "models/weightsd-demo/tiny-llm/3f2c1e0.release.json";
  t.length = 2295;
  t.sha256 = std::string(64, 'a');
  t.kind = tuf::TargetKind::release;
  t.model = "weightsd-demo/tiny-llm";
  t.revision = "3f2c1e0";
  t.release_seq = 1;
  return t;
}

void compare(const tuf::TargetInfo& entry, std::string_view manifest_bytes) {
  auto m = validate_release_target(entry, manifest_bytes);
  if (!m) return;
  check(m->model == entry.model && m->revision == entry.revision &&
        m->release_seq == entry.release_seq);
  check(entry.path == release_target_path(entry.model, entry.revision));
  auto plain = parse_release_manifest(manifest_bytes);
  check(plain.has_value() && *plain == *m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = weights::fuzz::text_of(data, size);
  constexpr std::string_view separator("\n\0\n", 3);
  const auto at = text.find(separator);
  if (at == std::string_view::npos) {
    compare(demo_entry(), text);
    return 0;
  }
  const std::string_view manifest = text.substr(at + separator.size());
  auto targets = tuf::parse_targets(text.substr(0, at));
  if (!targets) return 0;
  for (const auto& entry : targets->targets) compare(entry, manifest);
  return 0;
}
