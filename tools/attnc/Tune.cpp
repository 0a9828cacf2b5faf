// attnc tune: enumerate legal CPU schedules for a spec, compile them in
// parallel, drop any that fails the float64 check, time the rest at each
// shape, and record the winners (with provenance) in the tuning database.
#include "Commands.h"
#include "DeclaredInputs.h"
#include "Png.h"

#include "runtime/BlockMask.h"
#include "runtime/CpuKernel.h"
#include "runtime/KernelCache.h"
#include "runtime/Reference.h"
#include "runtime/ThreadPool.h"
#include "runtime/TuningDb.h"

#include <fmt/format.h>

#include <charconv>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <deque>
#include <limits>
#include <mutex>
#include <random>
#include <unistd.h>

namespace attnc::cli {
namespace {

struct Shape {
  int64_t batch, seqQ, seqKv;
  std::string str() const { return fmt::format("{}x{}x{}", batch, seqQ, seqKv); }
};

StatusOr<std::vector<Shape>> parseShapes(const std::string &text) {
  std::vector<Shape> shapes;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    std::string item = text.substr(pos, end == std::string::npos ? end : end - pos);
    // Three decimal integers joined by 'x', nothing else (sscanf would
    // take spaces and signs, and overflow is undefined there).
    int64_t sizes[3] = {0, 0, 0};
    const char *p = item.data(), *last = item.data() + item.size();
    bool ok = true;
    for (int i = 0; i < 3 && ok; ++i) {
      auto [end, ec] = std::from_chars(p, last, sizes[i]);
      ok = ec == std::errc() && sizes[i] >= 1 && p != end &&
           (i == 2 ? end == last : end != last && *end == 'x');
      p = end + 1;
    }
    if (!ok)
      return Status::error(fmt::format(
          "--shapes: '{}' is not BATCHxSEQ_QxSEQ_KV with positive sizes", item));
    shapes.push_back({sizes[0], sizes[1], sizes[2]});
    if (end == std::string::npos)
      break;
    pos = end + 1;
  }
  return shapes;
}

struct Candidate {
  Schedule schedule;
  std::shared_ptr<const CpuKernel> kernel;
  std::string dropped; // why it was dropped, if it was
  std::vector<double> millis; // per shape
  std::string label() const {
    return fmt::format("{}x{}/{}x{}{}", schedule.blockM, schedule.blockN,
                       schedule.microM, schedule.microN,
                       schedule.prefetch == 1   ? " pf L1"
                       : schedule.prefetch == 2 ? " pf L2"
                                                : "");
  }
};

/// Random inputs for one shape, in `sets` copies that the timing rotates
/// through so that no run finds the previous run's data in cache.
struct Inputs {
  std::vector<std::vector<float>> q, k, v, o, lse;
  std::deque<std::vector<TypedTensor>> typed; // per set, made on first use
  DeclaredInputs declared; // the kernel's #attn.input tensors (random)
  BlockMask blocks;         // block-sparse kernels: their own mask's
  Status status = Status::success();
  Inputs(const KernelSpec &s, const Shape &shape, int sets,
         std::mt19937_64 &rng) {
    auto random = [&](int64_t n) { return uniformInputs(n, rng); };
    for (int i = 0; i < sets; ++i) {
      q.push_back(random(shape.batch * shape.seqQ * s.qHeads * s.dQk));
      k.push_back(random(shape.batch * shape.seqKv * s.kvHeads * s.dQk));
      v.push_back(random(shape.batch * shape.seqKv * s.kvHeads * s.dV));
      o.emplace_back(shape.batch * shape.seqQ * s.qHeads * s.dV);
      lse.emplace_back(shape.batch * s.qHeads * shape.seqQ);
    }
    auto extra = loadDeclaredInputs({}, s, shape.batch, shape.seqQ,
                                    shape.seqKv, rng);
    if (extra.ok())
      declared = std::move(*extra);
    else
      status = extra.status();
  }
  /// The views of set `i`, in the kernel's element types (16-bit sets are
  /// rounded copies, made once per set).
  AttentionArgs args(const KernelSpec &s, const Shape &shape, int i) {
    while (typed.size() <= static_cast<size_t>(i)) {
      const size_t n = typed.size();
      const DType type = dtypeNamed(s.elementType), kv = dtypeNamed(s.kvType());
      std::vector<TypedTensor> &t = typed.emplace_back();
      t.reserve(4);
      t.emplace_back(q[n], type, s.layout, shape.batch, shape.seqQ, s.qHeads, s.dQk);
      t.emplace_back(k[n], kv, s.layout, shape.batch, shape.seqKv, s.kvHeads, s.dQk);
      t.emplace_back(v[n], kv, s.layout, shape.batch, shape.seqKv, s.kvHeads, s.dV);
      t.emplace_back(o[n], type, s.layout, shape.batch, shape.seqQ, s.qHeads, s.dV);
    }
    const std::vector<TypedTensor> &t = typed[i];
    AttentionArgs a{t[0].view, t[1].view, t[2].view, t[3].view, {}};
    if (s.lse)
      a.lse = lseView(lse[i].data(), shape.batch, s.qHeads, shape.seqQ);
    a.inputs = declared.tensors;
    if (s.blockQ > 0) { // the kernel's own mask, as a block mask
      if (!blocks.numBlocks.size()) {
        auto built = buildBlockMask(s, a);
        if (built.ok())
          blocks = std::move(*built);
      }
      a.blockMask = blocks.args();
    }
    return a;
  }
};

/// Legal CPU schedules around the host's vector width, the heuristic's own
/// (`heuristic`, the resolved view) first.
std::vector<Schedule> enumerate(const KernelSpec &heuristic) {
  auto scheduleOf = [](const KernelSpec &s) {
    Schedule out;
    out.blockM = s.blockM, out.blockN = s.blockN, out.microM = s.microM,
    out.microN = s.microN, out.vectorWidth = s.vectorWidth;
    out.prefetch = s.prefetch;
    return out;
  };
  std::vector<Schedule> out = {scheduleOf(heuristic)};
  // A decode kernel that takes the rows form: its tiling with the other
  // prefetch level too (the heuristic's rule rests on two hosts).
  if (heuristic.prefetch) {
    Schedule other = out.front();
    other.prefetch = 3 - heuristic.prefetch;
    out.push_back(other);
  }
  const int64_t w = heuristic.vectorWidth;
  for (int64_t blockM : {32, 64, 128})
    for (int64_t microM : {4, 8})
      for (int64_t blockN : {32, 64, 128})
        for (int64_t microN : {w, 2 * w}) {
          if (blockM % microM || blockN % microN || microN > 8 * w ||
              (microM == 8 && w < 16))
            continue;
          Schedule s = out.front();
          s.blockM = blockM, s.blockN = blockN, s.microM = microM,
          s.microN = microN;
          s.prefetch = 0; // block_m >= 32: not the rows form (withSchedule
                          // drops a level the source op gives)
          if (s.blockM == heuristic.blockM && s.blockN == heuristic.blockN &&
              s.microM == heuristic.microM && s.microN == heuristic.microN)
            continue;
          out.push_back(s);
        }
  return out;
}

void progress(size_t done, size_t total, const std::string &what) {
  if (!isatty(STDOUT_FILENO))
    return;
  const int width = 30;
  int filled = static_cast<int>(width * done / std::max<size_t>(total, 1));
  fmt::print("\r[{}{}] {}/{} {:<40}", std::string(filled, '#'),
             std::string(width - filled, ' '), done, total, what);
  if (done == total)
    fmt::print("\n");
  std::fflush(stdout);
}

Status plot(const std::string &path, const std::vector<Candidate> &all,
            const std::vector<Shape> &shapes) {
  std::vector<const Candidate *> kept;
  for (const Candidate &c : all)
    if (c.dropped.empty())
      kept.push_back(&c);
  const int barW = 10, gap = 2, panelH = 150, margin = 12, header = 26;
  const int width = std::max(320, margin * 2 + int(kept.size()) * (barW + gap));
  Image img(width, int(shapes.size()) * (panelH + header) + margin, 0xffffff);
  for (size_t si = 0; si < shapes.size(); ++si) {
    int top = int(si) * (panelH + header) + margin;
    double worst = 0, best = 1e300;
    for (const Candidate *c : kept)
      worst = std::max(worst, c->millis[si]), best = std::min(best, c->millis[si]);
    img.text(margin, top, fmt::format("shape {}: best {:.2f} ms, worst {:.2f} ms",
                                      shapes[si].str(), best, worst),
             0x202020);
    int base = top + header + panelH - 10;
    img.fill(margin, base, width - 2 * margin, 1, 0x404040);
    for (size_t i = 0; i < kept.size(); ++i) {
      double t = kept[i]->millis[si];
      int h = std::max(1, int((panelH - 20) * t / std::max(worst, 1e-9)));
      uint32_t color = t == best ? 0x2ca02c : i == 0 ? 0xff7f0e : 0x1f77b4;
      img.fill(margin + int(i) * (barW + gap), base - h, barW, h, color);
    }
  }
  return img.writePng(path);
}

} // namespace

int tuneCommand(const Options &o) {
  auto error = [](const std::string &m) {
    fmt::print(stderr, "attnc: error: {}\n", m);
    return 2;
  };
  if (o.target == "cuda")
    return error("--target cuda: the CUDA backend has no tuner yet (its "
                 "kernels use the spec's schedule or the defaults); tune "
                 "with --target cpu");
  StatusOr<std::vector<Shape>> shapes = parseShapes(o.shapes);
  if (!shapes.ok())
    return exitWith(shapes.status());
  StatusOr<KernelIr> ir = loadKernel(o);
  if (!ir.ok())
    return exitWith(ir.status());
  if (takesSequences(ir->view().layout))
    return exitWith(Status::error(fmt::format(
        "attnc tune measures dense calls (batch x seq_q x seq_kv shapes); "
        "kernel @{} has layout {}, which it does not tune yet",
        ir->view().name, toString(ir->view().layout))));
  std::string dbPath = o.tuningDb.empty() ? "attnc-tuning.json" : o.tuningDb;
  StatusOr<TuningDb> db = TuningDb::load(dbPath);
  if (!db.ok())
    return exitWith(db.status());
  KernelCache &cache = KernelCache::shared();
  CpuCompileOptions options;
  options.vectorWidth = o.vectorWidth;
  CpuBackend backend(options);
  auto heuristic = cache.get(*ir, backend);
  if (!heuristic.ok())
    return exitWith(heuristic.status());
  const KernelSpec &base = (*heuristic)->spec();
  for (const Shape &shape : *shapes)
    if (Status st = checkTensorSizes(base, shape.batch, shape.seqQ, shape.seqKv);
        !st.ok())
      return exitWith(Status::error("--shapes " + shape.str() + ": " +
                                    st.message()));
  unsigned threads = static_cast<unsigned>(o.threads ? o.threads : base.threads);

  std::vector<Candidate> candidates;
  for (const Schedule &s : enumerate(base))
    candidates.push_back({s, nullptr, "", {}});
  fmt::print("tuning @{} for {} shape(s): {} schedules, {} thread(s), median "
             "of {} runs\n",
             base.name, shapes->size(), candidates.size(), threads, o.reps);

  // Compile in parallel (through the kernel cache), then check numerics.
  std::mutex progressMutex;
  size_t compiled = 0;
  ThreadPool::shared().parallelFor(
      candidates.size(), threads, [&](int64_t i) {
        Candidate &c = candidates[i];
        // The schedule is set on the kernel's own op, so everything else it
        // says (regions, inputs) is what each candidate computes.
        StatusOr<KernelIr> candidate = ir->withSchedule(c.schedule);
        StatusOr<std::shared_ptr<const CpuKernel>> kernel =
            candidate.ok() ? cache.get(*candidate, backend) : candidate.status();
        if (kernel.ok())
          c.kernel = *kernel;
        else
          c.dropped = "compile: " + kernel.status().message();
        std::lock_guard<std::mutex> lock(progressMutex);
        progress(++compiled, candidates.size(), "compiling " + c.label());
      });
  std::mt19937_64 rng(o.seed);
  Shape probe{1, 37, 53};
  Inputs probeInputs(base, probe, 1, rng);
  if (!probeInputs.status.ok())
    return error(probeInputs.status.message());
  for (Candidate &c : candidates) {
    if (!c.dropped.empty())
      continue;
    AttentionArgs args = probeInputs.args(base, probe, 0);
    // O starts as NaN for each candidate: one that left part of it unwritten
    // would otherwise pass on the previous candidate's output.
    probeInputs.typed[0][3].fill(std::numeric_limits<float>::quiet_NaN());
    Status st = c.kernel->run(args, threads);
    Comparison cmp = compareWithReference(c.kernel->spec(), args);
    if (!st.ok() || !cmp.passed())
      c.dropped = st.ok() ? fmt::format("numerics: error {:.3g} > {:.3g}",
                                        cmp.maxError, cmp.tolerance)
                          : st.message();
  }

  // Time every surviving candidate at every shape.
  size_t total = 0, done = 0;
  for (const Candidate &c : candidates)
    total += c.dropped.empty() * shapes->size();
  const int sets = 3;
  for (size_t si = 0; si < shapes->size(); ++si) {
    const Shape &shape = (*shapes)[si];
    Inputs inputs(base, shape, sets, rng);
    if (!inputs.status.ok())
      return error(inputs.status.message());
    for (Candidate &c : candidates) {
      if (!c.dropped.empty())
        continue;
      AttentionArgs warm = inputs.args(base, shape, 0);
      if (Status st = c.kernel->run(warm, threads); !st.ok()) {
        c.dropped = fmt::format("run at {}: {}", shape.str(), st.message());
        progress(done += shapes->size() - si, total, "dropped " + c.label());
        continue;
      }
      // The same kernel on the same shapes as the warm-up: it runs.
      std::vector<double> t;
      for (int r = 0; r < o.reps; ++r) {
        AttentionArgs args = inputs.args(base, shape, r % sets);
        auto start = std::chrono::steady_clock::now();
        (void)c.kernel->run(args, threads);
        t.push_back(std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start)
                        .count());
      }
      std::sort(t.begin(), t.end());
      c.millis.push_back(t[t.size() / 2]);
      progress(++done, total, fmt::format("shape {} schedule {}", shape.str(), c.label()));
    }
  }

  for (const Candidate &c : candidates)
    if (!c.dropped.empty())
      fmt::print("dropped {}: {}\n", c.label(), c.dropped);
  const Candidate &heur = candidates.front();
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  fmt::print("\n{:>16} | {:>16} {:>10} | {:>10} {:>8}\n", "shape",
             "best b_m x b_n/micro", "ms", "heuristic", "speedup");
  for (size_t si = 0; si < shapes->size(); ++si) {
    const Candidate *best = nullptr;
    for (const Candidate &c : candidates)
      if (c.dropped.empty() && (!best || c.millis[si] < best->millis[si]))
        best = &c;
    if (!best)
      return error("every schedule was dropped");
    double heurMs = heur.dropped.empty() ? heur.millis[si] : 0;
    fmt::print("{:>16} | {:>16} {:>10.3f} | {:>10.3f} {:>7.2f}x\n",
               (*shapes)[si].str(), best->label(), best->millis[si], heurMs,
               heurMs ? heurMs / best->millis[si] : 0);
    TuningRecord r;
    r.problem = ir->problemKey();
    r.target = hostTarget();
    r.batch = (*shapes)[si].batch;
    r.seqQ = (*shapes)[si].seqQ;
    r.seqKv = (*shapes)[si].seqKv;
    r.schedule = {best->schedule.blockM, best->schedule.blockN,
                  best->schedule.microM, best->schedule.microN,
                  best->schedule.prefetch};
    r.millis = best->millis[si];
    r.device = fmt::format("cpu, {} threads", threads);
    r.llvmVersion = llvmVersion();
    r.attncVersion = attncVersion();
    r.date = date;
    db->add(r);
  }
  if (Status st = db->save(dbPath); !st.ok())
    return exitWith(st);
  fmt::print("wrote {} ({} record(s))\n", dbPath, db->records().size());
  if (!o.plotFile.empty()) {
    if (Status st = plot(o.plotFile, candidates, *shapes); !st.ok())
      return exitWith(st);
    fmt::print("wrote {} (green: best, orange: heuristic)\n", o.plotFile);
  }
  return 0;
}

} // namespace attnc::cli
