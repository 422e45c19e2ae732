#include "cli/app.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <unistd.h>

#include "cli/command.hpp"
#include "cli/exit_codes.hpp"
#include "core/completion/completion.hpp"

namespace weights::cli {

void emit(const Context& ctx, const nlohmann::json& value, const std::string& human) {
  if (ctx.format == Format::json) {
    fmt::print("{}\n", value.dump(2));
  } else {
    fmt::print("{}", human);
  }
}

namespace {

constexpr const char* footer_text =
    "Examples:\n"
    "  weightsctl status                       is weightsd running, and which socket is used\n"
    "  weightsctl fetch gemma-4                fetch a release by alias and wait until verified\n"
    "  weightsctl --json list | jq .           the same data for scripts (docs/cli.md)\n"
    "  weightsctl COMMAND --help               each command's options and examples\n"
    "\n"
    "Socket: --socket, else $WEIGHTSD_SOCKET, else the user daemon's socket\n"
    "($XDG_RUNTIME_DIR/weightsd/control.sock) if it exists, else /run/weightsd/control.sock.\n"
    "Colour: only on a terminal, never with NO_COLOR set.\n";

// Colour on stderr only for a terminal that is not dumb, and never with NO_COLOR
// (https://no-color.org: any non-empty value).
bool use_colour() {
  const char* no_colour = std::getenv("NO_COLOR");
  if (no_colour != nullptr && *no_colour != '\0') return false;
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::string_view(term) == "dumb") return false;
  return ::isatty(STDERR_FILENO) == 1;
}

std::string paint(std::string_view text, std::string_view sgr) {
  if (!use_colour()) return std::string(text);
  return fmt::format("\33[{}m{}\33[0m", sgr, text);
}

void register_completion_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("completion", "Print a shell completion script");
  auto shell = std::make_shared<std::string>();
  cmd->add_option("shell", *shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  cmd->footer(
      "Examples:\n"
      "  source <(weightsctl completion bash)\n"
      "  weightsctl completion fish > ~/.config/fish/completions/weightsctl.fish\n"
      "Packages install these already (bash-completion, zsh vendor-completions, fish).");
  cmd->callback([&app, &ctx, shell] {
    ctx.action = [&app, shell]() -> Status {
      using completion::Shell;
      const Shell sh = *shell == "zsh" ? Shell::zsh : *shell == "fish" ? Shell::fish : Shell::bash;
      fmt::print("{}", completion::script(app, "weightsctl", sh));
      return {};
    };
  });
}

// Every subcommand's help ends with where the global options and exit codes are described.
void add_common_footer(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands({})) {
    std::string footer = sub->get_footer();
    if (!footer.empty()) footer += "\n\n";
    sub->footer(footer +
                "Global options: --json (JSON on stdout, docs/cli.md), --socket PATH.\n"
                "Exit codes: see `weightsctl --help`.");
    add_common_footer(*sub);
  }
}

// "feed add" for `weightsctl --json feed add ...`: the chain of subcommands that were parsed.
std::string invoked_command(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (!sub->parsed()) continue;
    const std::string rest = invoked_command(*sub);
    return rest.empty() ? sub->get_name() : sub->get_name() + " " + rest;
  }
  return {};
}

}  // namespace

int run(int argc, char** argv) {
  Context ctx;
  // Named explicitly: help and man pages must not show the path the binary was run from.
  CLI::App app{"weightsctl: publish, verify, fetch and seed open-weight model releases",
               "weightsctl"};
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
  register_follow_commands(app, ctx);
  register_export_commands(app, ctx);
  register_catalog_commands(app, ctx);
  register_completion_command(app, ctx);
  // Set after the subcommands exist, which would otherwise inherit it.
  app.footer(std::string(footer_text) + "\n" + exit_codes_help);
  add_common_footer(app);

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
      Error& err = st.error();
      if (err.hint.empty() && err.code == Errc::invalid_argument) {
        err.hint = fmt::format("see `weightsctl {} --help`", invoked_command(app));
      }
      if (ctx.format == Format::json) {
        nlohmann::json j = {{"error",
                             {{"code", std::string(code_name(err.code))},
                              {"message", err.message},
                              {"hint", err.hint}}}};
        if (ctx.error_details.is_object()) {
          for (const auto& [key, value] : ctx.error_details.items()) {
            if (key != "error") j[key] = value;
          }
        }
        fmt::print("{}\n", j.dump(2));
      }
      fmt::print(stderr, "weightsctl: {} {}\n", paint("error:", "1;31"), err.message);
      if (!err.hint.empty()) fmt::print(stderr, "{} {}\n", paint("hint:", "1;33"), err.hint);
      return static_cast<int>(exit_code_for(err.code));
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "weightsctl: internal error: {}\n", e.what());
    return static_cast<int>(Exit::internal);
  }
}

}  // namespace weights::cli
