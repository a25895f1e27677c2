// The `mailroom` command: parses the command line (CLI11) and runs one subcommand.
#pragma once

namespace mailroom::app {

// Returns the process exit status: 0 success, 1 failure, 2 usage error (CLI11's convention
// is kept for --help and parse errors).
int run(int argc, char** argv);

}  // namespace mailroom::app
