#include "cli/command.hpp"

namespace weights::cli {
void register_release_commands(CLI::App&, Context&) {}
}  // namespace weights::cli
