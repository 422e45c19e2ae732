#pragma once
// One grammar for each kind of quantity a user types: in the config file (config/weightsd.toml),
// in weightsd's flags and in weightsctl's options (docs/cli.md). Every parser takes the whole
// text: no leading or trailing whitespace, no sign, no fraction, units case-sensitive.
//
//   size      DIGITS [" "] [UNIT]   UNIT: B, KB, MB, GB, TB (powers of 1000),
//                                         KiB, MiB, GiB, TiB (powers of 1024); none = bytes.
//                                   "512", "64MiB", "2 TB". At most 2^63-1 bytes (what SQLite
//                                   and TOML integers hold).
//   duration  DIGITS [" "] UNIT     UNIT: s, m, h, d. "45s", "30m", "12h", "90d". The unit is
//                                   required; at most 100 years (so adding one to a clock
//                                   cannot overflow).
//   endpoint  IPV4:PORT | [IPV6]:PORT   an IP address literal, IPv6 always in brackets
//                                   ("127.0.0.1:6881", "[::1]:6881"), no zone ("%eth0");
//                                   PORT decimal 0-65535, 0 only where the caller allows
//                                   an ephemeral port.
//   host port HOST:PORT | endpoint  a DNS name (labels of letters, digits and '-', not starting
//                                   or ending with '-', 1-63 characters each, 253 in all, the
//                                   last one not all digits) or an endpoint as above;
//                                   "router.bittorrent.com:6881", "127.0.0.2:6881". PORT 1-65535.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/address.hpp>

#include "core/util/error.hpp"

namespace weights::units {

inline constexpr std::uint64_t max_size = INT64_MAX;
inline constexpr std::chrono::seconds max_duration{100LL * 366 * 86400};

// Bytes, per the size grammar above.
Result<std::uint64_t> parse_size(std::string_view text);

// For people, not for parse_size: "512 B", "1.5 GiB" (binary units, one decimal, up to PiB).
std::string format_size(std::uint64_t bytes);

// Per the duration grammar above; "0s" is a valid duration (callers with a minimum check it).
Result<std::chrono::seconds> parse_duration(std::string_view text);

// Whether port 0 (the OS picks a port, for a listening socket) is accepted.
enum class PortZero { refused, allowed };

struct Endpoint {
  boost::asio::ip::address address;
  std::uint16_t port = 0;
};

// Per the endpoint grammar above.
Result<Endpoint> parse_endpoint(std::string_view text, PortZero port_zero);

// The canonical spelling parse_endpoint accepts: "127.0.0.1:6881", "[::1]:6881".
std::string format_endpoint(const Endpoint& endpoint);

// A host port: a name (resolved by whoever dials it) or an IP literal.
struct HostPort {
  std::string host;  // as written, brackets of an IPv6 literal removed
  std::uint16_t port = 0;
  std::optional<boost::asio::ip::address> address;  // set when `host` is an IP literal
};

// Per the host port grammar above (port 0 refused).
Result<HostPort> parse_host_port(std::string_view text);

}  // namespace weights::units
