#ifndef ATTNC_TOOLS_ATTNC_COMMANDS_H
#define ATTNC_TOOLS_ATTNC_COMMANDS_H

#include "Options.h"

namespace attnc::cli {
/// The exit codes of attnc (docs/attnc.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitCheckFailed = 1, // the numerics check failed
  kExitInput = 2,       // a usage or input error
  kExitIo = 3,          // an I/O error (a full disk...) or an internal error
};

/// Prints `attnc: error: <message>` and returns its exit code: kExitIo for
/// Status::isIo and internal errors, else kExitInput.
int exitWith(const Status &status);

/// Each returns the process exit code.
int runCommand(const Options &options);
int compileCommand(const Options &options);
int cacheCommand(const Options &options);
int tuneCommand(const Options &options);
} // namespace attnc::cli

#endif
