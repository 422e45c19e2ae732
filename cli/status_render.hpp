#pragma once
// Human rendering of `weightsctl status` parts that are pure functions of the control API's
// status object (core/api/types.hpp).
#include <string>

#include "core/api/types.hpp"

namespace weights::cli {

// Two lines, each starting "  network:   " / 13 spaces and ending in '\n': the profile, where
// the node listens and whether that is loopback only or reachable from other hosts; then which
// discovery (DHT with its bootstrap routers, LSD) and port mapping (UPnP, NAT-PMP) run.
std::string render_network(const api::NetworkExposure& network);

}  // namespace weights::cli
