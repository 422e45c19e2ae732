// Fuzzes dsse::parse and verified_keys. Checks that anything accepted serialises and re-parses
// to the same envelope, and that arbitrary envelopes never verify under a fixed key (the
// fuzzer cannot forge Ed25519).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/trust/dsse.hpp"

using weights::fuzz::check;

namespace {

bool same(const weights::dsse::Envelope& a, const weights::dsse::Envelope& b) {
  if (a.payload_type != b.payload_type || a.payload != b.payload) return false;
  if (a.signatures.size() != b.signatures.size()) return false;
  for (std::size_t i = 0; i < a.signatures.size(); ++i) {
    if (a.signatures[i].keyid != b.signatures[i].keyid) return false;
    if (a.signatures[i].sig != b.signatures[i].sig) return false;
  }
  return true;
}

const std::vector<weights::crypto::PublicKey>& allowed() {
  // RFC 8032 test 1 public key; its private key is public, but the fuzzer does not know it and
  // the signed PAE would have to match exactly.
  static const std::vector<weights::crypto::PublicKey> keys = {
      weights::crypto::public_key_from_hex(
          "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
          .value()};
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = weights::fuzz::text_of(data, size);
  auto env = weights::dsse::parse(text, 16);
  if (!env) return 0;
  check(env->signatures.size() <= 16);

  auto again = weights::dsse::parse(weights::dsse::serialize(*env), 16);
  check(again.has_value());
  check(same(*env, *again));

  check(weights::dsse::verified_keys(*env, allowed()).empty());
  (void)weights::dsse::pae(env->payload_type, env->payload);
  return 0;
}
