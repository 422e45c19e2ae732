#pragma once
// Shell completion scripts generated from weightsctl's own CLI11 command tree, so they list
// exactly the commands and options the binary accepts (the build installs their output).
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace weights::cli {

enum class Shell { bash, zsh, fish };

// The completion script for the command tree `root`, invoked as `program`, in the given shell.
std::string completion_script(const CLI::App& root, std::string_view program, Shell shell);

}  // namespace weights::cli
