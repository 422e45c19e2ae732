// Fuzzes what a pin exchange peer or client controls first (core/upstream/pin_exchange.cpp): the
// offer body (parse_offer) a fetcher reads from any peer found under a rendezvous key, and the
// request target (parse_pin_path, handle_pin_request) a holder reads from anyone. Each input is
// tried as both. Checks the contract of pin_exchange.hpp: a refusal has a documented code and a
// printable one-line message naming the offer or the target; an accepted offer is canonical and
// in range, and renders to JSON that parses back to the same offer; an accepted target is the
// one spelling pin_target makes; the handler answers 400, 404 or 405 for a node holding nothing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/upstream/pin_exchange.hpp"
#include "core/util/encoding.hpp"

using weights::fuzz::check;

namespace {

struct NoPins : weights::upstream::PinSource {
  std::optional<weights::upstream::HeldPin> find(const weights::RendezvousKey&) const override {
    return std::nullopt;
  }
};

void check_message(const weights::Error& e, std::string_view prefix) {
  check(e.message.starts_with(prefix));
  for (unsigned char c : e.message) check(c >= 0x20 && c < 0x7f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weights;
  using namespace weights::upstream;
  const std::string_view text = weights::fuzz::text_of(data, size);

  auto offer = parse_offer(text);
  if (!offer) {
    const auto& e = offer.error();
    check(e.code == Errc::too_large || e.code == Errc::parse_error || e.code == Errc::schema_error);
    check_message(e, "offer");
  } else {
    check(size <= max_pin_offer_bytes);
    auto canonical = canonical_pin(offer->pin.upstream, offer->pin.repo, offer->pin.commit);
    check(canonical && *canonical == offer->pin);
    check(is_lower_hex(offer->info_hash_v2, 32) && is_lower_hex(offer->objects_sha256, 32));
    check(offer->objects_size >= 1 && offer->objects_size <= max_git_bundle_bytes);
    check(offer->bt_port != 0);
    const std::string rendered = render_offer(*offer);
    check(rendered.size() <= max_pin_offer_bytes);
    auto again = parse_offer(rendered);
    check(again && *again == *offer);
  }

  auto path = parse_pin_path(text);
  if (!path) {
    check(path.error().code == Errc::parse_error);
    check_message(path.error(), "pin exchange target");
  } else {
    check(pin_target(path->key, path->resource) == text);
  }
  const NoPins none;
  const PinResponse r = handle_pin_request("GET", text, none);
  check(r.status == 400 || r.status == 404);
  check((r.status == 400) == (!path && text.starts_with("/weightsd-pin/")));
  check(handle_pin_request("POST", text, none).status == 405);
  return 0;
}
