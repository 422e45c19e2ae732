#pragma once
namespace weights::cli {
// Parses the command line, runs one command, maps any error to an exit code and message.
int run(int argc, char** argv);
}  // namespace weights::cli
