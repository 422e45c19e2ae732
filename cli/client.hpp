#pragma once
// What the commands that talk to weightsd share: the API client for the chosen socket, waiting
// for a feed refresh, and following a release until it is complete or failed.
#include <cstdint>
#include <string>

#include "cli/command.hpp"
#include "core/api/client.hpp"
#include "core/util/error.hpp"

namespace weights::cli {

// The client for --socket / $WEIGHTSD_SOCKET / the default socket (api::discover_socket).
api::Client client_for(const Context& ctx);

// Polls the feed until the refresh with `ticket` has completed (10 min at most); returns the
// feed then.
Result<api::Feed> wait_for_refresh(const api::Client& client, const std::string& name,
                                   std::uint64_t ticket);

// The error of the refresh that answered `ticket`, if it was refused.
std::optional<Error> refusal_of(const api::Feed& feed, std::uint64_t ticket);

enum class Display { live, lines, quiet };
// live on a terminal, lines otherwise, quiet with --json.
Display display_for(const Context& ctx);

// Follows the release's progress stream until it is complete or failed (or Ctrl-C, which
// stops waiting with a hint to re-attach), drawing progress as `display` says.
Result<api::Release> wait_for(const api::Client& client, const std::string& id, Display display);

// Prints a finished release (or returns its failure as the error, with its code).
Status finish_wait(const Context& ctx, const api::Release& r);

std::string human_rate(std::uint64_t bytes_per_s);

}  // namespace weights::cli
