#ifndef ATTNC_TOOLS_ATTNC_COMMANDS_H
#define ATTNC_TOOLS_ATTNC_COMMANDS_H

#include "Options.h"

namespace attnc::cli {
/// Each returns the process exit code: 0 ok, 1 check failed, 2 error.
int runCommand(const Options &options);
int compileCommand(const Options &options);
int cacheCommand(const Options &options);
int tuneCommand(const Options &options);
} // namespace attnc::cli

#endif
