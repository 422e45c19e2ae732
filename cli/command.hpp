#pragma once
// Shared plumbing for weightsctl commands: each command module registers its subcommands on
// the CLI11 app and sets the action to run once parsing succeeded.
#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/util/error.hpp"

namespace weights::cli {

enum class Format { human, json };

struct Context {
  Format format = Format::human;
  std::function<Status()> action;  // set by the chosen subcommand's callback
  std::string socket;              // global --socket; empty: api::discover_socket decides
  // With --json, a failing action's report: its fields join {"error": ...} in the one document
  // printed on stdout (`catalog check` lists every entry that differs).
  nlohmann::json error_details;
};

// Prints a result either as the given human text or as JSON on stdout.
void emit(const Context& ctx, const nlohmann::json& value, const std::string& human);

void register_key_commands(CLI::App& app, Context& ctx);
void register_feed_commands(CLI::App& app, Context& ctx);
void register_release_commands(CLI::App& app, Context& ctx);
// Commands that talk to a running weightsd (status, ...) and the global --socket option.
void register_daemon_commands(CLI::App& app, Context& ctx);
// fetch, wait, list, show, pin, unpin, remove, verify, seed (talk to weightsd).
void register_release_daemon_commands(CLI::App& app, Context& ctx);
// export / import: air-gapped transfer of a release (cmd_export.cpp).
void register_export_commands(CLI::App& app, Context& ctx);
// catalog list/show/search/validate (offline), pin/check (the hub): the model catalog
// (cmd_catalog.cpp).
void register_catalog_commands(CLI::App& app, Context& ctx);
// `weightsctl show RELEASE` (also `status RELEASE`).
Status show_release(const Context& ctx, const std::string& id);
// follow, follows, unfollow, scrub (seed-node policy; talk to weightsd).
void register_follow_commands(CLI::App& app, Context& ctx);
// feed add/list/status/refresh/remove (talk to weightsd); `feed` is the feed subcommand.
void register_feed_daemon_commands(CLI::App* feed, Context& ctx);

}  // namespace weights::cli
