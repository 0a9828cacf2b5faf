// attnc: compile and run attention kernels from a spec (file or flags).
#include "Commands.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>

namespace {
int run(int argc, char **argv);
} // namespace

// Every failure is a Status; what escapes anyway (memory running out while
// a tensor the size checks allowed is allocated) is an error, not an abort.
int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "attnc: error: out of memory\n");
  } catch (const std::exception &e) {
    std::fprintf(stderr, "attnc: error: internal error: %s\n", e.what());
  }
  return attnc::cli::kExitIo;
}

namespace {
int run(int argc, char **argv) {
  using namespace attnc::cli;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    fmt::print("{}", usage());
    return argc < 2 ? 2 : 0;
  }
  // `attnc COMMAND --help`: that command's usage and flags.
  const std::string command = argv[1];
  if (command == "run" || command == "tune" || command == "compile" ||
      command == "cache" || command == "viz")
    for (int i = 2; i < argc; ++i)
      if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
        fmt::print("{}", usage(command));
        return 0;
      }
  attnc::StatusOr<Options> options = parseOptions(argc - 1, argv + 1);
  if (!options.ok()) {
    fmt::print(stderr, "attnc: error: {}\n", options.status().message());
    return 2;
  }
  if (options->command == "cache")
    return cacheCommand(*options);
  if (options->command == "tune")
    return tuneCommand(*options);
  if (options->command == "viz")
    return vizCommand(*options);
  return options->command == "run" ? runCommand(*options)
                                   : compileCommand(*options);
}
} // namespace
