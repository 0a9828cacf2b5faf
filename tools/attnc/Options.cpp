#include "Commands.h"

#include "runtime/Files.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <type_traits>

namespace attnc::cli {

namespace {
const char *const kHeader = "attnc: the attention kernel compiler\n";
const char *const kSpecFlags = R"(spec flags (instead of SPEC.mlir):
  --name NAME            kernel name (default attention)
  --q-heads N            query heads (required)
  --kv-heads N           key/value heads (default q-heads; GQA/MQA when fewer)
  --head-dim D           d_qk and d_v
  --d-qk D, --d-v D      head dims when they differ
  --dtype f32|f16|bf16   element type of q and o (cpu: any; cuda: f16 or
                         bf16); with SPEC.mlir, replaces the file's
  --kv-dtype T           element type of k and v: f32, f16 or bf16
                         (default --dtype; cpu: an f32 kernel may read an
                         f16/bf16 KV cache)
  --scale X              softmax scale (default 1/sqrt(d_qk))
  --softcap C            logit softcap C*tanh(s/C) (default off)
  --alibi                ALiBi with BLOOM/MPT slopes (score_mod alibi)
  --mask none|causal|sliding_window
  --align top_left|bottom_right   required with causal and sliding_window
  --window-left L, --window-right R   sliding window extents
  --layout bshd|bhsd|varlen|paged   tensor layout (default bshd; varlen
                         and paged: see --seqlens)
  --mode prefill|decode  decode: few query rows (default prefill)
  --block-m, --block-n, --micro-m, --micro-n, --vector-width N   schedule
  --dot 16|32            CPU products: 16 multiplies bf16 pairs (vdpbf16ps;
                         bf16 kernels on AVX512_BF16 hosts), 32 widens to f32
  --prefetch 1|2         CPU decode rows form (GQA groups of at most 8 rows):
                         the cache level its K/V prefetches fill, 1 L1 or
                         2 L2 (default: from the host's L1d size)
)";
const char *const kRunFlags = R"(run flags:
  --batch B, --seq-q N, --seq-kv M   shape (default batch 1, seq-kv = seq-q)
  --seqlens L1,L2,...    layout varlen: each sequence's length (q and k,
                         packed); layout paged: each sequence's cached keys,
                         with --seq-q N queries each (default 1)
  --seqlens-kv L1,...    layout varlen: key lengths when they differ
  --page-size P          layout paged: keys a page (default 16); pages are
                         shuffled with --seed
  --threads T            worker threads (default: the schedule's)
  --seed S               seed for random inputs (default 42)
  --reps R               timed repetitions, median reported (default 5)
  --q/--k/--v FILE.npy   float32 inputs in the spec's layout instead of random
  --out FILE.npy         write O (layout order)
  --lse FILE.npy         write LSE [batch, q_heads, seq_q]; needs lse = true
                         (implied when the spec comes from flags)
  --input NAME=FILE.npy  a declared input (#attn.input) of the kernel:
                         float32 or int32, its shape as declared; inputs not
                         given are random (f32 in [-1, 1), i32 in [0, 4),
                         `any` dimensions of 32)
  --no-check             skip the float64 reference check
  --no-cache             compile afresh instead of using the kernel cache
  --cache-dir DIR        kernel cache directory (default: $ATTNC_CACHE_DIR,
                         else $XDG_CACHE_HOME/attnc, else ~/.cache/attnc)
  --target cpu|cuda|cuda-sim   where to run (default cpu); cuda compiles
                         with NVRTC for the GPU's arch and runs there (f16/bf16
                         specs; inputs are rounded to that type before the
                         check); cuda-sim runs the same CUDA kernel text on
                         the CPU under the SIMT emulator (host C++ compiler;
                         race, bounds and stale-read checks; runs once; not a
                         GPU time)
  --device N             the GPU to use with --target cuda (default 0)
)";
const char *const kTuneFlags = R"(tune flags (and --threads, --reps):
  --shapes 1x512x512,1x2048x2048   shapes to tune for (batch x seq_q x seq_kv)
  --target cpu|cuda      target to tune (default cpu)
  --tuning-db FILE       database to update (default attnc-tuning.json); attnc
                         run --tuning-db FILE uses it to pick the schedule
  --plot FILE.png        plot the time of every schedule for each shape
)";
const char *const kCompileFlags = R"(compile flags:
  --emit=spec            the resolved, scheduled attn.kernel
  --emit=loops           the fused loop nest (scf/vector/memref)
  --emit=mlir            the LLVM dialect module handed to the JIT (default)
  --emit=llvm            LLVM IR
  -o FILE                write to FILE instead of stdout
  --target cuda          CUDA C++ for NVRTC instead: --emit=cuda (default),
                         ptx or cubin, for --arch sm_80|sm_90|... (default
                         sm_90); needs no GPU
)";
const char *const kVizFlags = R"(viz flags (and --batch, --seq-q, --seq-kv, --seed, --q/--k/--v, --input,
--threads, --no-cache, --cache-dir, --no-check):
  --png FILE.png         one heatmap per head: query rows against key
                         columns, a colour scale, masked pairs grey
  --heads H1,H2,...      the query heads to draw (default all, at most 64)
  --batch-index B        the batch element to draw (default 0)
  --probs FILE.npy       also write every probability, [batch, q_heads,
                         seq_q, seq_kv] float32 (BertViz and TransformerLens
                         take this shape)
)";
const char *const kCacheHelp = R"(cache actions:
  stat                   the directory, the number of entries (and how many
                         are invalid) and their size
  list                   each entry: kernel name, target, size, file
  clear                  remove every entry (and temporaries a killed writer
                         left behind)
  --cache-dir DIR        the cache to act on (default: $ATTNC_CACHE_DIR,
                         else $XDG_CACHE_HOME/attnc, else ~/.cache/attnc)
)";
} // namespace

std::string usage(const std::string &command) {
  struct Line {
    const char *command, *text;
  };
  static const Line lines[] = {{"run", "  attnc run     (SPEC.mlir | spec flags) [run flags]"}, {"tune", "  attnc tune    (SPEC.mlir | spec flags) --shapes BxSQxSKV[,...] [tune flags]"}, {"compile", "  attnc compile (SPEC.mlir | spec flags) [--emit=spec|loops|mlir|llvm] [-o FILE]"}, {"cache", "  attnc cache   stat|list|clear [--cache-dir DIR]"}, {"viz", "  attnc viz     (SPEC.mlir | spec flags) --png FILE.png [viz flags]"}};
  std::string out = kHeader;
  out += "\nusage:\n";
  for (const Line &l : lines)
    if (command.empty() || command == l.command)
      out += std::string(l.text) + "\n";
  auto add = [&](const char *name, const char *text) {
    if (command.empty() || command == name)
      out += std::string("\n") + text;
  };
  if (command != "cache")
    out += std::string("\n") + kSpecFlags;
  add("run", kRunFlags);
  add("tune", kTuneFlags);
  add("compile", kCompileFlags);
  add("viz", kVizFlags);
  if (command == "cache")
    out += std::string("\n") + kCacheHelp;
  return out;
}

namespace {

/// Integers are decimal digits with an optional '-', all of the text, in
/// int64 range: no spaces, '+', hex or trailing junk.
StatusOr<int64_t> parseInt(const std::string &flag, const std::string &text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range)
    return Status::error(fmt::format(
        "{} {} is out of range (at most 2^63 - 1)", flag, text));
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return Status::error(
        fmt::format("{} expects an integer, got '{}'", flag, text));
  return v;
}

/// Numbers in decimal or exponent form, all of the text; nan and inf are
/// numbers here and the spec's rules reject them by name.
StatusOr<double> parseDouble(const std::string &flag, const std::string &text) {
  char *end = nullptr;
  errno = 0;
  double v = text.empty() || std::isspace(static_cast<unsigned char>(text[0]))
                 ? 0
                 : std::strtod(text.c_str(), &end);
  if (text.empty() || !end || *end)
    return Status::error(
        fmt::format("{} expects a number, got '{}'", flag, text));
  if (errno == ERANGE && std::isfinite(v) && v != 0)
    errno = 0; // a denormal: representable
  if (errno == ERANGE)
    return Status::error(fmt::format(
        "{} {} is out of the range of a double", flag, text));
  return v;
}

/// Flags whose value must be at least `least` when given: where the spec
/// reads 0 as "the default", an explicit 0 is an error, not the default.
auto atLeast = [](int64_t least, auto &slot) {
  return [least, &slot](const std::string &f, const std::string &v) -> Status {
    StatusOr<int64_t> parsed = parseInt(f, v);
    if (!parsed.ok())
      return parsed.status();
    if (*parsed < least)
      return Status::error(
          fmt::format("{} must be >= {}, got {}", f, least, *parsed));
    slot = *parsed;
    return Status::success();
  };
};

/// Sets `out` to the value `text` names among `choices`; empty text keeps
/// `out` (the spec's default). Else: "FLAG must be a, b or c, got 'x'".
template <typename E>
Status choose(const char *flag, const std::string &text,
              std::initializer_list<std::pair<const char *, E>> choices,
              E &out) {
  if (text.empty())
    return Status::success();
  std::vector<std::string> names;
  for (const auto &[name, value] : choices) {
    if (text == name) {
      out = value;
      return Status::success();
    }
    names.push_back(name);
  }
  std::string last = names.back();
  names.pop_back();
  return Status::error(fmt::format("{} must be {} or {}, got '{}'", flag,
                                   fmt::join(names, ", "), last, text));
}

} // namespace

/// Bounds on counts that would otherwise run for days or spawn a thread
/// per unit of a typo.
constexpr int64_t kMaxReps = 1000000;
constexpr int64_t kMaxThreads = 1024;

StatusOr<Options> parseOptions(int argc, char **argv) {
  Options o;
  if (argc < 1)
    return Status::error("missing command: run or compile");
  o.command = argv[0];
  if (o.command != "run" && o.command != "compile" && o.command != "cache" &&
      o.command != "tune" && o.command != "viz")
    return Status::error(fmt::format(
        "unknown command '{}'; expected run, compile, tune, cache or viz",
        o.command));
  if (o.command == "cache") {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--cache-dir" && i + 1 < argc)
        o.cacheDir = argv[++i];
      else if (arg.rfind("--cache-dir=", 0) == 0)
        o.cacheDir = arg.substr(12);
      else if (!arg.empty() && arg[0] != '-' && o.cacheAction.empty())
        o.cacheAction = arg;
      else
        return Status::error(fmt::format(
            "unexpected argument '{}' for attnc cache", arg));
    }
    if (o.cacheAction != "stat" && o.cacheAction != "list" &&
        o.cacheAction != "clear")
      return Status::error("attnc cache needs an action: stat, list or clear");
    return o;
  }
  KernelRequest &s = o.flagSpec;
  bool compile = o.command == "compile";

  // Each flag: takes a value?, which command(s), is it a spec flag, setter.
  // Which commands a flag applies to.
  enum : unsigned { kRun = 1, kCompile = 2, kTune = 4, kViz = 8, kAll = 15 };
  struct Flag {
    bool value;
    bool spec;
    unsigned commands;
    std::function<Status(const std::string &flag, const std::string &v)> set;
  };
  // A setter that parses the flag's value into `slot` (an integer, a
  // double, or an optional integer).
  auto number = [](auto &slot) {
    return [&slot](const std::string &f, const std::string &v) -> Status {
      using Slot = std::decay_t<decltype(slot)>;
      auto parsed = [&] {
        if constexpr (std::is_same_v<Slot, double>)
          return parseDouble(f, v);
        else
          return parseInt(f, v);
      }();
      if (!parsed.ok())
        return parsed.status();
      slot = *parsed;
      return Status::success();
    };
  };
  // A comma-separated list of lengths, each in [0, 2^31), at most 2^16.
  auto lengths = [](std::vector<int64_t> &slot) {
    return [&slot](const std::string &f, const std::string &v) -> Status {
      slot.clear();
      size_t start = 0;
      while (true) {
        size_t comma = v.find(',', start);
        std::string item = v.substr(start, comma == std::string::npos
                                               ? std::string::npos
                                               : comma - start);
        StatusOr<int64_t> n = parseInt(f, item);
        if (!n.ok())
          return n.status();
        if (*n < 0 || *n > (int64_t(1) << 31) - 1)
          return Status::error(fmt::format(
              "{}: each length must be in [0, 2^31), got {}", f, *n));
        slot.push_back(*n);
        if (slot.size() > (size_t(1) << 16))
          return Status::error(fmt::format(
              "{}: at most 65536 sequences, got more", f));
        if (comma == std::string::npos)
          break;
        start = comma + 1;
      }
      return Status::success();
    };
  };
  auto text = [](std::string &slot) {
    return [&slot](const std::string &, const std::string &v) -> Status {
      slot = v;
      return Status::success();
    };
  };
  int64_t headDim = 0, seed = 42, reps = 5;
  std::string mask, align, layout, mode;
  std::map<std::string, Flag> flags = {
      {"--name", {true, true, kAll, text(s.name)}},
      {"--q-heads", {true, true, kAll, atLeast(1, s.qHeads)}},
      {"--kv-heads", {true, true, kAll, atLeast(1, s.kvHeads)}},
      {"--head-dim", {true, true, kAll, atLeast(1, headDim)}},
      {"--d-qk", {true, true, kAll, atLeast(1, s.dQk)}},
      {"--d-v", {true, true, kAll, atLeast(1, s.dV)}},
      // With a spec file, --dtype changes its element type (one example
      // serves the cpu and cuda targets); with spec flags it is one of them.
      {"--dtype", {true, false, kAll, text(o.dtype)}},
      {"--kv-dtype", {true, false, kAll, text(o.kvDtype)}},
      {"--scale",
       {true, true, kAll,
        [&](const std::string &f, const std::string &v) -> Status {
          if (Status st = number(s.scale)(f, v); !st.ok())
            return st;
          if (s.scale == 0) // the request's "unset": never a silent default
            return Status::error(fmt::format(
                "{} must be finite and positive (omit it for 1/sqrt(d_qk)), "
                "got {}", f, v));
          return Status::success();
        }}},
      {"--softcap", {true, true, kAll, number(s.softcap)}},
      {"--alibi",
       {false, true, kAll,
        [&](const std::string &, const std::string &) {
          s.scoreMod = ScoreMod::Alibi;
          return Status::success();
        }}},
      {"--mask", {true, true, kAll, text(mask)}},
      {"--align", {true, true, kAll, text(align)}},
      {"--window-left", {true, true, kAll, number(s.windowLeft)}},
      {"--window-right", {true, true, kAll, number(s.windowRight)}},
      {"--layout", {true, true, kAll, text(layout)}},
      {"--mode", {true, true, kAll, text(mode)}},
      {"--block-m", {true, true, kAll, atLeast(1, s.schedule.blockM)}},
      {"--block-n", {true, true, kAll, atLeast(1, s.schedule.blockN)}},
      {"--micro-m", {true, true, kAll, atLeast(1, s.schedule.microM)}},
      {"--micro-n", {true, true, kAll, atLeast(1, s.schedule.microN)}},
      {"--dot", {true, true, kAll, atLeast(1, s.schedule.dot)}},
      {"--prefetch", {true, true, kAll, atLeast(1, s.schedule.prefetch)}},
      {"--vector-width", {true, false, kAll, atLeast(1, o.vectorWidth)}},
      {"--batch", {true, false, kRun | kViz, atLeast(1, o.batch)}},
      {"--seq-q", {true, false, kRun | kViz, atLeast(1, o.seqQ)}},
      {"--seq-kv", {true, false, kRun | kViz, atLeast(1, o.seqKv)}},
      {"--seqlens", {true, false, kRun, lengths(o.seqlens)}},
      {"--seqlens-kv", {true, false, kRun, lengths(o.seqlensKv)}},
      {"--page-size", {true, false, kRun, atLeast(1, o.pageSize)}},
      {"--threads", {true, false, kRun | kTune | kViz, atLeast(1, o.threads)}},
      {"--seed", {true, false, kRun | kViz, atLeast(0, seed)}},
      {"--reps", {true, false, kRun | kTune, atLeast(1, reps)}},
      {"--q", {true, false, kRun | kViz, text(o.qFile)}},
      {"--k", {true, false, kRun | kViz, text(o.kFile)}},
      {"--v", {true, false, kRun | kViz, text(o.vFile)}},
      {"--out", {true, false, kRun, text(o.outFile)}},
      {"--lse", {true, false, kRun, text(o.lseFile)}},
      {"--input",
       {true, false, kRun | kViz,
        [&](const std::string &flag, const std::string &v) -> Status {
          size_t eq = v.find('=');
          if (eq == 0 || eq == std::string::npos || eq + 1 == v.size())
            return Status::error(fmt::format(
                "{} expects NAME=FILE.npy, got '{}'", flag, v));
          std::string name = v.substr(0, eq);
          for (const auto &given : o.inputFiles)
            if (given.first == name)
              return Status::error(fmt::format(
                  "{} {} is given twice", flag, name));
          o.inputFiles.emplace_back(name, v.substr(eq + 1));
          return Status::success();
        }}},
      {"--no-check",
       {false, false, kRun | kViz,
        [&](const std::string &, const std::string &) {
          o.check = false;
          return Status::success();
        }}},
      {"--no-cache",
       {false, false, kRun | kViz,
        [&](const std::string &, const std::string &) {
          o.useCache = false;
          return Status::success();
        }}},
      {"--cache-dir", {true, false, kRun | kViz, text(o.cacheDir)}},
      {"--emit", {true, false, kCompile, text(o.emit)}},
      {"-o", {true, false, kCompile, text(o.outputFile)}},
      {"--tuning-db", {true, false, kRun | kTune, text(o.tuningDb)}},
      {"--shapes", {true, false, kTune, text(o.shapes)}},
      {"--target", {true, false, kAll, text(o.target)}},
      {"--device", {true, false, kRun, atLeast(0, o.device)}},
      {"--arch", {true, false, kCompile, text(o.arch)}},
      {"--plot", {true, false, kTune, text(o.plotFile)}},
      {"--png", {true, false, kViz, text(o.pngFile)}},
      {"--probs", {true, false, kViz, text(o.probsFile)}},
      {"--heads", {true, false, kViz, lengths(o.heads)}},
      {"--batch-index", {true, false, kViz, atLeast(0, o.batchIndex)}},
  };

  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.empty() || arg[0] != '-' || arg == "-") {
      if (!o.specFile.empty())
        return Status::error(fmt::format(
            "more than one spec file given ('{}' and '{}')", o.specFile, arg));
      o.specFile = arg;
      continue;
    }
    std::string name = arg, value;
    bool inlineValue = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inlineValue = true;
    }
    auto it = flags.find(name);
    if (it == flags.end())
      return Status::error(
          fmt::format("unknown option '{}' (see attnc --help)", name));
    const Flag &flag = it->second;
    unsigned command = o.command == "run"   ? kRun
                       : compile            ? kCompile
                       : o.command == "viz" ? kViz
                                            : kTune;
    if (!(flag.commands & command)) {
      std::vector<const char *> names;
      for (auto [bit, n] : {std::pair{kRun, "run"}, {kCompile, "compile"},
                            {kTune, "tune"}, {kViz, "viz"}})
        if (flag.commands & bit)
          names.push_back(n);
      return Status::error(fmt::format("option '{}' applies to attnc {} only",
                                       name, fmt::join(names, " and ")));
    }
    if (flag.value && !inlineValue) {
      if (i + 1 >= argc)
        return Status::error(fmt::format("option '{}' needs a value", name));
      value = argv[++i];
    } else if (!flag.value && inlineValue) {
      return Status::error(fmt::format("option '{}' takes no value", name));
    }
    if (Status st = flag.set(name, value); !st.ok())
      return st;
    o.specFlagsGiven |= flag.spec;
  }

  o.seed = static_cast<uint64_t>(seed);
  if (reps > kMaxReps)
    return Status::error(
        fmt::format("--reps must be at most {}, got {}", kMaxReps, reps));
  o.reps = static_cast<int>(reps);
  if (o.threads > kMaxThreads)
    return Status::error(fmt::format("--threads must be at most {}, got {}",
                                     kMaxThreads, o.threads));
  if (!o.specFile.empty() && o.specFlagsGiven)
    return Status::error("give the spec either as a file or as flags, not "
                         "both");
  if (o.specFile.empty() && !o.specFlagsGiven)
    return Status::error("no spec: give SPEC.mlir or spec flags such as "
                         "--q-heads 8 --head-dim 64");
  bool simulated = o.target == "cuda-sim";
  if (o.target != "cpu" && o.target != "cuda" && !simulated)
    return Status::error(fmt::format(
        "--target must be cpu, cuda or cuda-sim, got '{}'", o.target));
  if (simulated && o.command != "run")
    return Status::error("--target cuda-sim applies to attnc run only (attnc "
                         "compile --target cuda prints the same kernel text)");
  if (o.command == "run" && o.target != "cpu") {
    // CPU-only knobs are errors, not silently ignored (--threads sets the
    // emulator's OS threads for cuda-sim).
    for (auto [given, flag] :
         {std::pair{o.threads != 0 && !simulated, "--threads"},
          std::pair{!o.tuningDb.empty(), "--tuning-db"},
          std::pair{o.vectorWidth != 0, "--vector-width"}})
      if (given)
        return Status::error(fmt::format(
            "{} applies to --target cpu only", flag));
  }
  if (o.device != 0 && o.target != "cuda")
    return Status::error("--device applies to --target cuda only");
  if (o.device < 0)
    return Status::error(fmt::format("--device must be >= 0, got {}", o.device));
  if (compile && o.target == "cuda") {
    if (o.emit == "mlir") // the default for the cpu target
      o.emit = "cuda";
    if (o.emit != "cuda" && o.emit != "ptx" && o.emit != "cubin")
      return Status::error(fmt::format(
          "--emit for --target cuda must be cuda, ptx or cubin, got '{}'",
          o.emit));
  } else if (compile && o.emit != "spec" && o.emit != "loops" &&
             o.emit != "mlir" && o.emit != "llvm") {
    return Status::error(fmt::format(
        "--emit must be spec, loops, mlir or llvm, got '{}'", o.emit));
  }
  if (o.command == "viz") {
    if (o.target != "cpu")
      return Status::error("attnc viz runs on --target cpu only");
    if (o.pngFile.empty() && o.probsFile.empty())
      return Status::error("attnc viz needs --png FILE.png or --probs FILE.npy");
    if (o.heads.size() > 64)
      return Status::error(fmt::format("--heads: at most 64 heads to draw, got {}",
                                       o.heads.size()));
  }
  if (o.command == "tune" && o.shapes.empty())
    return Status::error("attnc tune needs --shapes BATCHxSEQ_QxSEQ_KV[,...]");
  int inputs = !o.qFile.empty() + !o.kFile.empty() + !o.vFile.empty();
  if (inputs != 0 && inputs != 3)
    return Status::error("--q, --k and --v must be given together");

  if (o.specFlagsGiven) {
    if (s.qHeads == 0)
      return Status::error("--q-heads is required when the spec is given by "
                           "flags");
    if (headDim) {
      if (s.dQk || s.dV)
        return Status::error("give --head-dim or --d-qk/--d-v, not both");
      s.dQk = s.dV = headDim;
    }
    if (s.dQk == 0)
      return Status::error("--head-dim (or --d-qk) is required when the spec "
                           "is given by flags");
    if (Status st = choose("--mask", mask,
                           {{"none", MaskKind::None},
                            {"causal", MaskKind::Causal},
                            {"sliding_window", MaskKind::SlidingWindow}},
                           s.mask);
        !st.ok())
      return st;
    if (Status st = choose("--align", align,
                           {{"top_left", Alignment::TopLeft},
                            {"bottom_right", Alignment::BottomRight}},
                           s.alignment);
        !st.ok())
      return st;
    if (s.mask != MaskKind::None && s.alignment == Alignment::Unset)
      return Status::error(fmt::format(
          "--mask {} requires --align top_left or --align bottom_right (they "
          "differ when seq_q != seq_kv)",
          mask));
    if (s.mask == MaskKind::None && s.alignment != Alignment::Unset)
      return Status::error("--align applies only to causal and "
                           "sliding_window masks");
    if (s.mask != MaskKind::SlidingWindow && (s.windowLeft || s.windowRight))
      return Status::error("--window-left/--window-right apply only to "
                           "--mask sliding_window");
    if (Status st = choose("--layout", layout,
                           {{"bshd", Layout::BSHD},
                            {"bhsd", Layout::BHSD},
                            {"varlen", Layout::Varlen},
                            {"paged", Layout::Paged}},
                           s.layout);
        !st.ok())
      return st;
    if (Status st = choose("--mode", mode,
                           {{"prefill", Mode::Prefill}, {"decode", Mode::Decode}},
                           s.mode);
        !st.ok())
      return st;
    s.lse = !o.lseFile.empty();
    if (!o.dtype.empty())
      s.elementType = o.dtype;
    s.kvElementType = o.kvDtype;
    s.schedule.vectorWidth = o.vectorWidth;
    s.schedule.threads = o.threads;
  }
  return o;
}

int exitWith(const Status &status) {
  fmt::print(stderr, "attnc: error: {}\n", status.message());
  bool internal = status.message().rfind("internal error", 0) == 0;
  return status.isIo() || internal ? kExitIo : kExitInput;
}

StatusOr<KernelIr> loadKernel(const Options &o) {
  if (o.specFile.empty())
    return KernelIr::build(o.flagSpec, "<flags>");
  StatusOr<std::string> text = readRegularFile(o.specFile, kMaxTextFileBytes);
  if (!text.ok())
    return text.status();
  StatusOr<KernelIr> ir = KernelIr::parse(*text, o.specFile);
  if (!ir.ok() || (o.dtype.empty() && o.kvDtype.empty()))
    return ir;
  return ir->withElementType(o.dtype, o.kvDtype);
}

} // namespace attnc::cli
