// attnc run: compile a spec for this CPU, run it on random or .npy inputs,
// check it against the float64 reference, and time it.
#include "Commands.h"

#include "runtime/CpuKernel.h"
#include "runtime/Dispatch.h"
#include "runtime/KernelCache.h"
#include "runtime/detail/CpuCompiler.h"
#include "runtime/Npy.h"
#include "runtime/Reference.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <random>

namespace attnc::cli {
namespace {

/// The (batch, seq, heads, dim) of an .npy array stored in `layout` order.
struct LayoutDims {
  int64_t batch, seq, heads, dim;
};

StatusOr<LayoutDims> dimsOf(const std::string &file, const NpyArray &a,
                            Layout layout, const char *headsName,
                            int64_t heads, const char *dimName, int64_t dim) {
  const char *expected = layout == Layout::BSHD ? "(batch, seq, heads, dim)"
                                                : "(batch, heads, seq, dim)";
  if (a.shape.size() != 4)
    return Status::error(fmt::format(
        "{}: has {} dimensions; layout {} expects 4: {}", file, a.shape.size(),
        toString(layout), expected));
  LayoutDims d = layout == Layout::BSHD
                     ? LayoutDims{a.shape[0], a.shape[1], a.shape[2], a.shape[3]}
                     : LayoutDims{a.shape[0], a.shape[2], a.shape[1], a.shape[3]};
  if (d.heads != heads || d.dim != dim)
    return Status::error(fmt::format(
        "{}: shape ({}) is {} with {} heads and dim {}, but the kernel has {} "
        "= {} and {} = {}",
        file, fmt::join(a.shape, ", "), expected, d.heads, d.dim, headsName,
        heads, dimName, dim));
  return d;
}

Status fail(const std::string &message) { return Status::error(message); }

} // namespace

int runCommand(const Options &o) {
  auto report = [](const Status &st) {
    fmt::print(stderr, "attnc: error: {}\n", st.message());
    return 2;
  };
  StatusOr<std::string> text = loadSpecText(o);
  if (!text.ok())
    return report(text.status());
  CpuCompileOptions compileOptions;
  compileOptions.vectorWidth = o.vectorWidth;
  compileOptions.sourceName = o.specFile.empty() ? "<flags>" : o.specFile;
  // The resolved spec (checked, defaults filled) sizes the inputs; which
  // kernel runs is chosen once the shape is known.
  auto frontEnd = detail::CpuFrontEnd::run(*text, compileOptions);
  if (!frontEnd.ok())
    return report(frontEnd.status());
  const KernelSpec s = (*frontEnd)->spec();
  if (!o.lseFile.empty() && !s.lse)
    return report(fail(fmt::format(
        "--lse needs a kernel that returns LSE; add lse = true to @{}",
        s.name)));

  // Inputs: .npy files (their shapes give batch and lengths) or random.
  std::vector<float> qData, kData, vData;
  int64_t batch, seqQ, seqKv;
  if (!o.qFile.empty()) {
    StatusOr<NpyArray> q = readNpy(o.qFile), k = readNpy(o.kFile),
                       v = readNpy(o.vFile);
    for (auto *a : {&q, &k, &v})
      if (!a->ok())
        return report(a->status());
    auto qd = dimsOf(o.qFile, *q, s.layout, "q_heads", s.qHeads, "d_qk", s.dQk);
    auto kd = dimsOf(o.kFile, *k, s.layout, "kv_heads", s.kvHeads, "d_qk", s.dQk);
    auto vd = dimsOf(o.vFile, *v, s.layout, "kv_heads", s.kvHeads, "d_v", s.dV);
    for (auto *d : {&qd, &kd, &vd})
      if (!d->ok())
        return report(d->status());
    batch = qd->batch;
    seqQ = qd->seq;
    seqKv = kd->seq;
    if (kd->batch != batch || vd->batch != batch || vd->seq != seqKv)
      return report(fail(fmt::format(
          "{}, {} and {} disagree: batch {}, {}, {}; k and v seq {} vs {}",
          o.qFile, o.kFile, o.vFile, batch, kd->batch, vd->batch, seqKv,
          vd->seq)));
    for (auto [flag, given, actual] :
         {std::tuple{"--batch", o.batch, batch},
          std::tuple{"--seq-q", o.seqQ, seqQ},
          std::tuple{"--seq-kv", o.seqKv, seqKv}})
      if (given && *given != actual)
        return report(fail(fmt::format(
            "{} {} contradicts the .npy inputs, which have {}", flag, *given,
            actual)));
    qData = std::move(q->data);
    kData = std::move(k->data);
    vData = std::move(v->data);
  } else {
    if (!o.seqQ)
      return report(fail("--seq-q is required (or give --q/--k/--v)"));
    batch = o.batch.value_or(1);
    seqQ = *o.seqQ;
    seqKv = o.seqKv.value_or(seqQ);
    std::mt19937_64 rng(o.seed);
    auto random = [&](int64_t n) { return uniformInputs(n, rng); };
    qData = random(batch * seqQ * s.qHeads * s.dQk);
    kData = random(batch * seqKv * s.kvHeads * s.dQk);
    vData = random(batch * seqKv * s.kvHeads * s.dV);
  }
  for (auto [flag, value] : {std::pair{"--batch", batch},
                             std::pair{"--seq-q", seqQ},
                             std::pair{"--seq-kv", seqKv}})
    if (value < 1)
      return report(fail(fmt::format("{} must be >= 1, got {}", flag, value)));

  // The kernel, through the kernel cache (a spec compiled before, by any
  // process, loads in milliseconds; --no-cache keeps it in memory only).
  // With a tuning database, the schedule tuned for this shape (exact or the
  // nearest bucket) replaces the heuristic's: same computation, other tiles.
  KernelCache cache({o.cacheDir, o.useCache});
  auto start = std::chrono::steady_clock::now();
  CacheSource from = CacheSource::Compiled;
  std::shared_ptr<const CpuKernel> kernel;
  std::string scheduleFrom = "heuristic";
  if (!o.tuningDb.empty()) {
    StatusOr<TuningDb> db = TuningDb::load(o.tuningDb);
    if (!db.ok())
      return report(db.status());
    Dispatcher dispatcher(cache, std::move(*db), compileOptions);
    auto choice = dispatcher.select(*text, batch, seqQ, seqKv);
    if (!choice.ok())
      return report(choice.status());
    kernel = choice->kernel;
    from = choice->from;
    scheduleFrom = !choice->tuned ? "heuristic; the tuning db does not cover "
                                    "this shape"
                   : choice->exact ? "tuning db, exact shape"
                                   : "tuning db, nearest shape";
  } else {
    auto got = cache.get(*text, compileOptions, &from);
    if (!got.ok())
      return report(got.status());
    kernel = *got;
  }
  double compileMillis = std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - start)
                             .count();
  const KernelSpec &t = kernel->spec();

  std::vector<float> outData(batch * seqQ * s.qHeads * s.dV);
  std::vector<float> lseData(s.lse ? batch * s.qHeads * seqQ : 0);
  AttentionArgs args{
      denseView(qData.data(), s.layout, batch, seqQ, s.qHeads, s.dQk),
      denseView(kData.data(), s.layout, batch, seqKv, s.kvHeads, s.dQk),
      denseView(vData.data(), s.layout, batch, seqKv, s.kvHeads, s.dV),
      denseView(outData.data(), s.layout, batch, seqQ, s.qHeads, s.dV),
      {}};
  if (s.lse)
    args.lse = lseView(lseData.data(), batch, s.qHeads, seqQ);

  unsigned threads = static_cast<unsigned>(o.threads ? o.threads : s.threads);
  std::string mask = toString(s.mask);
  if (s.mask == MaskKind::SlidingWindow)
    mask += fmt::format(" left {} right {}", s.windowLeft, s.windowRight);
  if (s.mask != MaskKind::None)
    mask += fmt::format(" ({})", toString(s.alignment));
  fmt::print("kernel    @{}: q_heads {}, kv_heads {}, d_qk {}, d_v {}, {}, "
             "mask {}, layout {}{}{}\n",
             s.name, s.qHeads, s.kvHeads, s.dQk, s.dV, s.elementType, mask,
             toString(s.layout), s.softcap ? fmt::format(", softcap {}", s.softcap) : "",
             s.lse ? ", lse" : "");
  fmt::print("schedule  block_m {}, block_n {}, micro {}x{}, vector_width {}, "
             "threads {} ({})\n",
             t.blockM, t.blockN, t.microM, t.microN, t.vectorWidth, threads,
             scheduleFrom);
  fmt::print("shape     batch {}, seq_q {}, seq_kv {}{}\n", batch, seqQ, seqKv,
             o.qFile.empty() ? fmt::format(" (random inputs, seed {})", o.seed)
                             : " (from .npy)");
  fmt::print("compile   {:.1f} ms ({})\n", compileMillis, toString(from));

  if (Status st = kernel->run(args, threads); !st.ok()) // warm-up
    return report(st);
  std::vector<double> millis;
  for (int r = 0; r < o.reps; ++r) {
    auto start = std::chrono::steady_clock::now();
    (void)kernel->run(args, threads);
    millis.push_back(std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - start)
                         .count());
  }
  std::sort(millis.begin(), millis.end());
  double median = millis[millis.size() / 2];
  double flops = attentionFlops(s, batch, seqQ, seqKv);
  fmt::print("time      {:.3f} ms (median of {}; min {:.3f})   {:.1f} GFLOP/s\n",
             median, o.reps, millis.front(), flops / (median * 1e6));

  int rc = 0;
  if (o.check) {
    Comparison c = compareWithReference(s, args);
    fmt::print("check     max |out - ref| {:.3g} vs tolerance {:.3g} (2 x "
               "naive f32 error {:.3g} + 1e-5){}: {}\n",
               c.maxError, c.tolerance, c.naiveError,
               c.nonFinite ? ", NaN/inf found" : c.lseMismatch ? ", LSE -inf mismatch" : "",
               c.passed() ? "PASS" : "FAIL");
    rc = c.passed() ? 0 : 1;
  }
  if (!o.outFile.empty()) {
    std::vector<int64_t> shape =
        s.layout == Layout::BSHD ? std::vector<int64_t>{batch, seqQ, s.qHeads, s.dV}
                                 : std::vector<int64_t>{batch, s.qHeads, seqQ, s.dV};
    if (Status st = writeNpy(o.outFile, shape, outData.data()); !st.ok())
      return report(st);
    fmt::print("wrote     {} {}\n", o.outFile, fmt::join(shape, "x"));
  }
  if (!o.lseFile.empty()) {
    if (Status st = writeNpy(o.lseFile, {batch, s.qHeads, seqQ}, lseData.data());
        !st.ok())
      return report(st);
    fmt::print("wrote     {} {}x{}x{}\n", o.lseFile, batch, s.qHeads, seqQ);
  }
  return rc;
}

} // namespace attnc::cli
