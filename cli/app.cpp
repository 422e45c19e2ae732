#include "cli/app.hpp"

#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "cli/command.hpp"
#include "cli/exit_codes.hpp"

namespace weights::cli {

void emit(const Context& ctx, const nlohmann::json& value, const std::string& human) {
  if (ctx.format == Format::json) {
    fmt::print("{}\n", value.dump(2));
  } else {
    fmt::print("{}", human);
  }
}

int run(int argc, char** argv) {
  Context ctx;
  CLI::App app{"weightsctl: publish, verify, fetch and seed open-weight model releases"};
  app.footer(exit_codes_help);
  app.set_version_flag("--version", std::string("weightsctl ") + WEIGHTS_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  bool json = false;
  app.add_flag("--json", json, "Machine-readable JSON output on stdout");

  register_key_commands(app, ctx);
  register_feed_commands(app, ctx);
  register_release_commands(app, ctx);
  register_daemon_commands(app, ctx);
  register_release_daemon_commands(app, ctx);
  register_export_commands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(Exit::usage);
  }
  ctx.format = json ? Format::json : Format::human;
  try {
    if (!ctx.action) return static_cast<int>(Exit::usage);
    Status st = ctx.action();
    if (!st) {
      const Error& err = st.error();
      if (ctx.format == Format::json) {
        nlohmann::json j = {{"error",
                             {{"code", std::string(code_name(err.code))},
                              {"message", err.message},
                              {"hint", err.hint}}}};
        fmt::print("{}\n", j.dump(2));
      }
      fmt::print(stderr, "weightsctl: {}\n", err.message);
      if (!err.hint.empty()) fmt::print(stderr, "hint: {}\n", err.hint);
      return static_cast<int>(exit_code_for(err.code));
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "weightsctl: internal error: {}\n", e.what());
    return static_cast<int>(Exit::internal);
  }
}

}  // namespace weights::cli
