#include "core/trust/dsse.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace weights::dsse {

std::string pae(std::string_view payload_type, std::string_view payload) {
  return fmt::format("DSSEv1 {} {} {} {}", payload_type.size(), payload_type, payload.size(),
                     payload);
}

Result<Envelope> parse(std::string_view bytes, std::size_t max_signatures) {
  auto doc = json::parse_strict(bytes, json::Limits{.max_bytes = max_envelope_bytes});
  if (!doc) return tl::unexpected(with_context(doc.error(), "DSSE envelope"));
  if (!doc->is_object()) return fail(Errc::schema_error, "DSSE envelope: expected an object");

  Envelope env;
  auto type = json::get_string(*doc, "payloadType", "envelope");
  if (!type) return tl::unexpected(type.error());
  env.payload_type = std::move(*type);

  auto payload_b64 = json::get_string(*doc, "payload", "envelope");
  if (!payload_b64) return tl::unexpected(payload_b64.error());
  auto payload = base64_decode(*payload_b64);
  if (!payload) return tl::unexpected(with_context(payload.error(), "envelope.payload"));
  env.payload.assign(payload->begin(), payload->end());

  auto sigs = json::get_array(*doc, "signatures", "envelope");
  if (!sigs) return tl::unexpected(sigs.error());
  if ((*sigs)->size() > max_signatures) {
    return fail(Errc::too_large, fmt::format("envelope.signatures: {} entries, limit is {}",
                                             (*sigs)->size(), max_signatures));
  }
  env.signatures.reserve((*sigs)->size());
  for (std::size_t i = 0; i < (*sigs)->size(); ++i) {
    const json::Json& entry = (**sigs)[i];
    const std::string where = fmt::format("envelope.signatures[{}]", i);
    if (!entry.is_object()) return fail(Errc::schema_error, where + ": expected an object");
    Signature sig;
    // keyid is an optional, unauthenticated hint in DSSE; absent means "try every key".
    if (json::has_field(entry, "keyid")) {
      auto keyid = json::get_string(entry, "keyid", where);
      if (!keyid) return tl::unexpected(keyid.error());
      sig.keyid = std::move(*keyid);
    }
    auto sig_b64 = json::get_string(entry, "sig", where);
    if (!sig_b64) return tl::unexpected(sig_b64.error());
    auto raw = base64_decode(*sig_b64);
    if (!raw) return tl::unexpected(with_context(raw.error(), where + ".sig"));
    if (raw->size() != sig.sig.size()) {
      return fail(Errc::schema_error,
                  fmt::format("{}.sig: expected a 64-byte Ed25519 signature, got {} bytes", where,
                              raw->size()));
    }
    std::copy(raw->begin(), raw->end(), sig.sig.begin());
    env.signatures.push_back(std::move(sig));
  }
  return env;
}

std::string serialize(const Envelope& env) {
  json::Json sigs = json::Json::array();
  for (const Signature& s : env.signatures) {
    sigs.push_back({{"keyid", s.keyid}, {"sig", base64_encode(s.sig)}});
  }
  const json::Json doc = {{"payloadType", env.payload_type},
                          {"payload", base64_encode(as_bytes(env.payload))},
                          {"signatures", std::move(sigs)}};
  return json::dump_compact(doc);
}

Result<Envelope> sign(std::string payload_type, std::string payload,
                      const std::vector<const crypto::PrivateKey*>& keys) {
  Envelope env{std::move(payload_type), std::move(payload), {}};
  const std::string message = pae(env.payload_type, env.payload);
  for (const crypto::PrivateKey* key : keys) {
    if (key == nullptr) return fail(Errc::invalid_argument, "dsse::sign: null signing key");
    auto sig = key->sign(as_bytes(message));
    if (!sig) return tl::unexpected(sig.error());
    env.signatures.push_back(Signature{key->public_key().keyid(), *sig});
  }
  return env;
}

std::set<crypto::PublicKey> verified_keys(const Envelope& env,
                                          const std::vector<crypto::PublicKey>& allowed) {
  std::set<crypto::PublicKey> result;
  if (allowed.empty()) return result;
  const std::string message = pae(env.payload_type, env.payload);
  std::vector<std::string> keyids;
  keyids.reserve(allowed.size());
  for (const auto& key : allowed) keyids.push_back(key.keyid());

  for (const Signature& s : env.signatures) {
    const bool hinted =
        !s.keyid.empty() && std::find(keyids.begin(), keyids.end(), s.keyid) != keyids.end();
    for (std::size_t i = 0; i < allowed.size(); ++i) {
      if (hinted && keyids[i] != s.keyid) continue;
      // A key already counted cannot count again; skipping it also bounds the work an envelope
      // full of junk signatures can cause.
      if (result.contains(allowed[i])) continue;
      if (crypto::verify(allowed[i], as_bytes(message), s.sig)) result.insert(allowed[i]);
    }
  }
  return result;
}

}  // namespace weights::dsse
