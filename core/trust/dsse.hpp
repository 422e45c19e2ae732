#pragma once
// DSSE envelopes (https://github.com/secure-systems-lab/dsse):
//   {"payloadType": T, "payload": base64(P), "signatures": [{"keyid": K, "sig": base64(S)}]}
// S is an Ed25519 signature over PAE(T, P) = "DSSEv1" SP LEN(T) SP T SP LEN(P) SP P, with
// LEN as ASCII decimal. Verify first, then parse the verified payload bytes.
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/crypto.hpp"
#include "core/util/error.hpp"
#include "core/util/json.hpp"

namespace weights::dsse {

inline constexpr std::string_view tuf_payload_type = "application/vnd.tuf+json";

std::string pae(std::string_view payload_type, std::string_view payload);

struct Signature {
  std::string keyid;  // a lookup hint only; never counted
  crypto::SignatureBytes sig{};
};

struct Envelope {
  std::string payload_type;
  std::string payload;  // decoded bytes
  std::vector<Signature> signatures;
};

// Strict parse of the envelope JSON (strict JSON, strict base64, 64-byte signatures, at most
// max_signatures entries). keyid may be absent (read as ""); unknown fields are ignored. An empty
// signatures array parses (and verifies to no keys). Does not check payload_type: callers must.
// The JSON reader's size ceiling for an envelope. Callers cap what they fetch (TUF metadata:
// tuf::max_pinned_metadata_bytes, also 64 MiB); the generic 16 MiB JSON limit would refuse the
// targets of a feed of ~12,500 releases.
inline constexpr std::size_t max_envelope_bytes = 64 * 1024 * 1024;
Result<Envelope> parse(std::string_view bytes, std::size_t max_signatures = 64);
std::string serialize(const Envelope& env);  // compact JSON

// Signs PAE(payload_type, payload) with each key, in order.
Result<Envelope> sign(std::string payload_type, std::string payload,
                      const std::vector<const crypto::PrivateKey*>& keys);

// The set of distinct public keys among `allowed` that produced a valid signature in `env`
// over PAE(env.payload_type, env.payload). keyids are lookup hints only: a signature is tried
// against the allowed keys whose keyid matches, else against every allowed key. Because the
// result is a set of raw keys, a key that signs twice (or under two keyids) counts once.
std::set<crypto::PublicKey> verified_keys(const Envelope& env,
                                          const std::vector<crypto::PublicKey>& allowed);

}  // namespace weights::dsse
