#pragma once
// Shell completion scripts generated from a program's own CLI11 command tree (weightsctl's and
// weightsd's), so they list exactly the commands and options the binary accepts (the build
// installs their output). Its own target, weights_completion: the daemon uses it without
// linking anything of the CLI.
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace weights::completion {

enum class Shell { bash, zsh, fish };

// The completion script for the command tree `root`, invoked as `program`, in the given shell.
std::string script(const CLI::App& root, std::string_view program, Shell shell);

}  // namespace weights::completion
