#ifndef ATTNC_TOOLS_ATTNC_OPTIONS_H
#define ATTNC_TOOLS_ATTNC_OPTIONS_H

#include "runtime/KernelIr.h"
#include "runtime/Status.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attnc::cli {

/// Everything the attnc subcommands accept, parsed and checked.
struct Options {
  std::string command;  // run | compile | tune | cache | viz
  std::string specFile; // positional SPEC.mlir, or empty
  KernelRequest flagSpec; // the kernel asked for by flags when specFile is empty
  bool specFlagsGiven = false;
  std::string dtype; // --dtype: the element type of the flags' or file's kernel
  std::string kvDtype; // --kv-dtype: that of its k and v (empty: as --dtype)
  // run
  std::optional<int64_t> batch, seqQ, seqKv;
  // run, layouts varlen and paged (docs/attnc.md): the sequences' lengths
  // (--seqlens, --seqlens-kv) and the KV cache's page size
  std::vector<int64_t> seqlens, seqlensKv;
  std::optional<int64_t> pageSize;
  int64_t threads = 0;
  uint64_t seed = 42;
  int reps = 5;
  bool check = true;
  std::string qFile, kFile, vFile, outFile, lseFile;
  // --input NAME=FILE.npy, for the kernel's declared inputs
  std::vector<std::pair<std::string, std::string>> inputFiles;
  // kernel cache (run and cache)
  bool useCache = true;
  std::string cacheDir; // empty: the default directory
  std::string cacheAction; // cache: stat | list | clear
  // tune (and run --tuning-db)
  std::string tuningDb;
  std::string shapes;
  std::string target = "cpu";
  std::string plotFile;
  std::string arch = "sm_90"; // compile --target cuda
  int64_t device = 0;         // run --target cuda
  // compile
  std::string emit = "mlir";
  std::string outputFile; // -o
  int64_t vectorWidth = 0;
  // viz (and the run flags for its inputs)
  std::string pngFile, probsFile;
  std::vector<int64_t> heads; // empty: every head (at most 64)
  int64_t batchIndex = 0;
};

/// Parses argv (after the program name). Errors name the offending flag.
StatusOr<Options> parseOptions(int argc, char **argv);

/// The kernel: the spec file parsed, or the op built from the flags.
StatusOr<KernelIr> loadKernel(const Options &options);

/// The help text: every command's (empty `command`), or one command's
/// usage line and flags (run, tune, compile or cache).
std::string usage(const std::string &command = "");

} // namespace attnc::cli

#endif
