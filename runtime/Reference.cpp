#include "runtime/Reference.h"

#include "runtime/Half.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnc {

ModEvaluator::ModEvaluator(const KernelSpec &spec, const AttentionArgs &args,
                           int64_t batchBase)
    : mods_(spec.mods ? spec.mods : std::make_shared<ModPrograms>()),
      batchBase_(batchBase) {
  env_.seqQ = args.q.seq();
  env_.seqKv = args.k.seq();
  if (spec.blockQ > 0 && args.blockMask.given()) {
    blockQ_ = spec.blockQ;
    blockKv_ = spec.blockKv;
    blocks_ = &args.blockMask;
  }
  for (const InputDecl &decl : spec.inputs) {
    const InputTensor *bound = nullptr;
    for (const InputTensor &t : args.inputs)
      if (t.name == decl.name)
        bound = &t;
    env_.inputs.push_back(bound); // a kernel run with this call checked it
  }
}

int ModEvaluator::blockState(int64_t b, int64_t h, int64_t qb, int64_t kb) {
  const BlockMaskArgs &m = *blocks_;
  int64_t bb = m.numBlocks.sizes[0] == 1 ? 0 : b;
  int64_t hh = m.numBlocks.sizes[1] == 1 ? 0 : h;
  if (rowKey_[0] != bb || rowKey_[1] != hh || rowKey_[2] != qb) {
    rowKey_[0] = bb, rowKey_[1] = hh, rowKey_[2] = qb;
    rowStates_.assign(m.indices.sizes[3], 0);
    auto at = [](const InputTensor &t, std::initializer_list<int64_t> index) {
      int64_t offset = 0, d = 0;
      for (int64_t i : index)
        offset += i * t.strides[d++];
      return static_cast<const int32_t *>(t.data)[offset];
    };
    for (int list = 0; list < 2; ++list) {
      const InputTensor &num = list ? m.fullNumBlocks : m.numBlocks;
      const InputTensor &idx = list ? m.fullIndices : m.indices;
      for (int32_t j = 0; j < at(num, {bb, hh, qb}); ++j)
        rowStates_[at(idx, {bb, hh, qb, j})] = static_cast<char>(1 + list);
    }
  }
  return rowStates_[kb];
}

bool ModEvaluator::visible(int64_t b, int64_t h, int64_t q, int64_t k) {
  if (blocks_) { // absent blocks are masked, full ones trusted
    int state = blockState(b, h, q / blockQ_, k / blockKv_);
    if (state != 1)
      return state == 2;
  }
  if (!mods_->mask)
    return true;
  ModValue args[4], out[1];
  args[0].i = b + batchBase_, args[1].i = h, args[2].i = q, args[3].i = k;
  evaluate<double>(*mods_->mask, args, out, env_, registers_);
  return out[0].i != 0;
}

template <typename T>
T ModEvaluator::score(T s, int64_t b, int64_t h, int64_t q, int64_t k) {
  if (!mods_->score)
    return s;
  ModValue args[5], out[1];
  args[0].f = static_cast<double>(s);
  args[1].i = b + batchBase_, args[2].i = h, args[3].i = q, args[4].i = k;
  evaluate<T>(*mods_->score, args, out, env_, registers_);
  return static_cast<T>(out[0].f);
}
template double ModEvaluator::score(double, int64_t, int64_t, int64_t, int64_t);
template float ModEvaluator::score(float, int64_t, int64_t, int64_t, int64_t);

bool ModEvaluator::range(int64_t qFirst, int64_t qLast, int64_t out[4]) {
  if (!mods_->range || blocks_)
    return false;
  ModValue args[4], results[4];
  args[0].i = qFirst, args[1].i = qLast, args[2].i = env_.seqQ,
  args[3].i = env_.seqKv;
  evaluate<double>(*mods_->range, args, results, env_, registers_);
  for (int i = 0; i < 4; ++i)
    out[i] = results[i].i;
  return true;
}

namespace {

/// Calls fn(dense, args, sequence) for each sequence of a checked varlen or
/// paged call: `dense` is the spec with a dense layout, `args` the sequence
/// as a dense call of batch 1 (paged K/V gathered into f32 copies, exact
/// for every element type; the block mask cut to its row).
/// False (calling fn for none) when the call does not pass its checks.
template <typename Fn>
bool forEachSequence(const KernelSpec &s, const AttentionArgs &a, Fn fn) {
  std::vector<Sequence> sequences;
  if (!splitSequences(s, a, sequences).ok())
    return false; // no reference for a bad call (validateCall says why)
  KernelSpec dense = s;
  dense.layout = Layout::BSHD;
  std::vector<float> k, v;
  for (const Sequence &q : sequences) {
    AttentionArgs sub;
    sub.q = q.q, sub.o = q.o, sub.lse = q.lse, sub.k = q.k, sub.v = q.v;
    sub.inputs = a.inputs;
    sub.blockMask = a.blockMask;
    if (s.blockQ > 0 && a.blockMask.numBlocks.sizes[0] != 1)
      for (InputTensor *t : {&sub.blockMask.numBlocks, &sub.blockMask.indices,
                             &sub.blockMask.fullNumBlocks,
                             &sub.blockMask.fullIndices}) {
        t->data = static_cast<int32_t *>(t->data) + q.index * t->strides[0];
        t->sizes[0] = 1;
      }
    if (s.layout == Layout::Paged) {
      const int64_t pageSize = q.k.seq();
      auto gather = [&](const TensorView &pool, std::vector<float> &buffer,
                        int64_t dim) {
        buffer.resize(s.kvHeads * q.seqKv * dim);
        TensorView t = denseView(buffer.data(), Layout::BHSD, 1, q.seqKv,
                                 s.kvHeads, dim);
        for (int64_t j = 0; j < q.seqKv; ++j) {
          int64_t page = q.pages[j / pageSize * q.pageStride];
          for (int64_t h = 0; h < s.kvHeads; ++h)
            for (int64_t d = 0; d < dim; ++d)
              t.at(0, h, j, d) = pool.get(page, h, j % pageSize, d);
        }
        return t;
      };
      sub.k = gather(q.k, k, s.dQk);
      sub.v = gather(q.v, v, s.dV);
    }
    fn(dense, sub, q);
  }
  return true;
}

int64_t visiblePairsDense(const KernelSpec &s, const AttentionArgs &a,
                          int64_t batchBase);

} // namespace

int64_t visiblePairs(const KernelSpec &s, const AttentionArgs &a) {
  if (!takesSequences(s.layout))
    return visiblePairsDense(s, a, 0);
  int64_t pairs = 0;
  forEachSequence(s, a, [&](const KernelSpec &dense, const AttentionArgs &sub,
                            const Sequence &q) {
    pairs += visiblePairsDense(dense, sub, q.index);
  });
  return pairs;
}

namespace {
int64_t visiblePairsDense(const KernelSpec &s, const AttentionArgs &a,
                          int64_t batchBase) {
  ModEvaluator mods(s, a, batchBase);
  const int64_t batch = a.q.batch(), seqQ = a.q.seq(), seqKv = a.k.seq();
  int64_t perHead = 0, bounds[4];
  if (!mods.hasMask())
    return batch * s.qHeads * seqQ * seqKv;
  if (mods.range(0, 0, bounds)) {
    // Built-in masks depend on neither b nor h, and their range of a
    // single row is exactly its visible keys (dialect/Mods.h).
    for (int64_t q = 0; q < seqQ; ++q) {
      mods.range(q, q, bounds);
      perHead += std::max<int64_t>(0, bounds[3] - bounds[2]);
    }
    return batch * s.qHeads * perHead;
  }
  // A custom mask or a block mask: pair by pair, once for every (b, h)
  // that the mask or the block mask can tell apart.
  const ModProgram *mask = s.mods && s.mods->mask ? &*s.mods->mask : nullptr;
  const bool blocks = s.blockQ > 0 && a.blockMask.given();
  const bool byBatch = (mask && mask->reads(0)) ||
                       (blocks && a.blockMask.numBlocks.sizes[0] != 1);
  const bool byHead = (mask && mask->reads(1)) ||
                      (blocks && a.blockMask.numBlocks.sizes[1] != 1);
  const int64_t batches = byBatch ? batch : 1, heads = byHead ? s.qHeads : 1;
  int64_t pairs = 0;
  for (int64_t b = 0; b < batches; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t q = 0; q < seqQ; ++q)
        for (int64_t k = 0; k < seqKv; ++k)
          pairs += mods.visible(b, h, q, k);
  return pairs * (batch / batches) * (s.qHeads / heads);
}
} // namespace

double attentionFlops(const KernelSpec &s, const AttentionArgs &a) {
  return 2.0 * static_cast<double>(visiblePairs(s, a)) * (s.dQk + s.dV);
}

namespace {
template <typename T>
ReferenceResult<T> referenceDense(const KernelSpec &s, const AttentionArgs &a,
                                  int64_t batchBase) {
  const int64_t batch = a.q.batch(), seqQ = a.q.seq(), seqKv = a.k.seq();
  const int64_t group = s.qHeads / s.kvHeads;
  ModEvaluator mods(s, a, batchBase);
  ReferenceResult<T> r;
  r.out.assign(batch * s.qHeads * seqQ * s.dV, T(0));
  r.lse.assign(batch * s.qHeads * seqQ, -std::numeric_limits<T>::infinity());
  if (s.probs)
    r.probs.assign(batch * s.qHeads * seqQ * seqKv, T(0));
  std::vector<T> score(seqKv);
  std::vector<char> visible(seqKv);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < s.qHeads; ++h) {
      int64_t kvh = h / group;
      for (int64_t i = 0; i < seqQ; ++i) {
        T maxScore = -std::numeric_limits<T>::infinity();
        for (int64_t j = 0; j < seqKv; ++j) {
          visible[j] = mods.visible(b, h, i, j);
          if (!visible[j])
            continue;
          T dot = 0;
          for (int64_t d = 0; d < s.dQk; ++d)
            dot += T(a.q.get(b, h, i, d)) * T(a.k.get(b, kvh, j, d));
          T x = mods.score<T>(dot * T(s.scale), b, h, i, j);
          score[j] = x;
          // A NaN score (from the inputs or a score region) poisons the
          // row, as in PyTorch's scaled_dot_product_attention.
          maxScore = std::isnan(x) || std::isnan(maxScore)
                         ? std::numeric_limits<T>::quiet_NaN()
                         : std::max(maxScore, x);
        }
        if (maxScore == -std::numeric_limits<T>::infinity())
          continue; // fully masked: out 0, lse -inf
        T sum = 0;
        for (int64_t j = 0; j < seqKv; ++j)
          if (visible[j])
            sum += (score[j] = std::exp(score[j] - maxScore));
        for (int64_t j = 0; j < seqKv; ++j) {
          if (!visible[j])
            continue;
          T p = score[j] / sum;
          if (s.probs)
            r.probs[((b * s.qHeads + h) * seqQ + i) * seqKv + j] = p;
          for (int64_t d = 0; d < s.dV; ++d)
            r.at(a.q, s.dV, b, h, i, d) += p * T(a.v.get(b, kvh, j, d));
        }
        r.lse[(b * s.qHeads + h) * seqQ + i] = maxScore + std::log(sum);
      }
    }
  return r;
}
} // namespace

template <typename T>
ReferenceResult<T> referenceAttention(const KernelSpec &s,
                                      const AttentionArgs &a) {
  if (!takesSequences(s.layout))
    return referenceDense<T>(s, a, 0);
  ReferenceResult<T> r;
  r.out.assign(a.q.batch() * s.qHeads * a.q.seq() * s.dV, T(0));
  r.lse.assign(a.q.batch() * s.qHeads * a.q.seq(),
               -std::numeric_limits<T>::infinity());
  forEachSequence(s, a, [&](const KernelSpec &dense, const AttentionArgs &sub,
                            const Sequence &q) {
    ReferenceResult<T> one = referenceDense<T>(dense, sub, q.index);
    for (int64_t h = 0; h < s.qHeads; ++h)
      for (int64_t i = 0; i < q.seqQ; ++i) {
        r.lse[(q.qBatch * s.qHeads + h) * a.q.seq() + q.qFirst + i] =
            one.lse[h * q.seqQ + i];
        for (int64_t d = 0; d < s.dV; ++d)
          r.at(a.q, s.dV, q.qBatch, h, q.qFirst + i, d) =
              one.out[(h * q.seqQ + i) * s.dV + d];
      }
  });
  return r;
}

template ReferenceResult<double> referenceAttention(const KernelSpec &,
                                                    const AttentionArgs &);
template ReferenceResult<float> referenceAttention(const KernelSpec &,
                                                   const AttentionArgs &);

namespace {

/// Naive attention as a framework computes it in f16/bf16: the scores, the
/// probabilities and the output are each rounded to the element type (with
/// f32 accumulation inside each product), dense [batch, q_heads, seq_q, d_v].
std::vector<float> naiveHalf(const KernelSpec &s, const AttentionArgs &a,
                             HalfKind kind, int64_t batchBase) {
  const int64_t batch = a.q.batch(), seqQ = a.q.seq(), seqKv = a.k.seq();
  const int64_t group = s.qHeads / s.kvHeads;
  ModEvaluator mods(s, a, batchBase);
  auto round = [kind](float x) { return roundToHalf(x, kind); };
  std::vector<float> out(batch * s.qHeads * seqQ * s.dV, 0.f), p(seqKv);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < s.qHeads; ++h)
      for (int64_t i = 0; i < seqQ; ++i) {
        int64_t kvh = h / group;
        float maxScore = -INFINITY;
        for (int64_t j = 0; j < seqKv; ++j) {
          p[j] = -INFINITY;
          if (!mods.visible(b, h, i, j))
            continue;
          float dot = 0;
          for (int64_t d = 0; d < s.dQk; ++d)
            dot += a.q.get(b, h, i, d) * a.k.get(b, kvh, j, d);
          p[j] = round(mods.score<float>(dot * float(s.scale), b, h, i, j));
          maxScore = std::max(maxScore, p[j]);
        }
        if (maxScore == -INFINITY)
          continue; // fully masked: out 0
        float sum = 0;
        for (int64_t j = 0; j < seqKv; ++j)
          sum += (p[j] = p[j] == -INFINITY ? 0.f : std::exp(p[j] - maxScore));
        for (int64_t j = 0; j < seqKv; ++j)
          p[j] = round(p[j] / sum);
        for (int64_t d = 0; d < s.dV; ++d) {
          float acc = 0;
          for (int64_t j = 0; j < seqKv; ++j)
            acc += p[j] * a.v.get(b, kvh, j, d);
          out[((b * s.qHeads + h) * seqQ + i) * s.dV + d] = round(acc);
        }
      }
  return out;
}

Comparison compareDense(const KernelSpec &s, const AttentionArgs &a,
                        int64_t batchBase) {
  ReferenceResult<double> ref = referenceDense<double>(s, a, batchBase);
  HalfKind kind;
  const bool half = halfKindOf(s.elementType, kind);
  // Naive f32 is the yardstick for O of f32 kernels and for LSE; a half
  // kernel without LSE needs only the naive half-precision output.
  ReferenceResult<float> naive;
  if (!half || s.lse || s.probs)
    naive = referenceDense<float>(s, a, batchBase);
  std::vector<float> naiveHalfOut;
  if (half)
    naiveHalfOut = naiveHalf(s, a, kind, batchBase);
  const std::vector<float> &naiveOut = half ? naiveHalfOut : naive.out;
  Comparison c;
  double lseNaiveError = 0;
  // A NaN or inf in v at a key a row cannot see may reach that row's O
  // column (a tile multiplies its masked probabilities, 0, by v, as
  // FlashAttention does): unspecified, so NaN is accepted there. Which
  // (batch, kv head, column) hold one; empty when v is finite.
  const int64_t group = s.qHeads / s.kvHeads;
  std::vector<char> vNonFinite;
  for (int64_t b = 0; b < a.v.batch(); ++b)
    for (int64_t h = 0; h < s.kvHeads; ++h)
      for (int64_t j = 0; j < a.v.seq(); ++j)
        for (int64_t d = 0; d < s.dV; ++d)
          if (!std::isfinite(a.v.get(b, h, j, d))) {
            if (vNonFinite.empty())
              vNonFinite.assign(a.v.batch() * s.kvHeads * s.dV, 0);
            vNonFinite[(b * s.kvHeads + h) * s.dV + d] = 1;
          }
  auto compare = [&](double got, double want, double naiveGot, double &error,
                     double &naiveError) {
    if (std::isnan(want)) { // a NaN score reached the row: NaN, as PyTorch
      c.nanMissing |= !std::isnan(got);
      return;
    }
    if (!std::isfinite(want)) { // a fully masked row's LSE (-inf), or inf
      c.lseMismatch |= got != want;
      return;
    }
    if (!std::isfinite(got)) {
      c.nonFinite = true;
      return;
    }
    error = std::max(error, std::abs(got - want));
    naiveError = std::max(naiveError, std::abs(naiveGot - want));
  };
  const int64_t batch = a.q.batch(), seqQ = a.q.seq();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < s.qHeads; ++h)
      for (int64_t i = 0; i < seqQ; ++i) {
        const int64_t row = (b * s.qHeads + h) * seqQ + i;
        for (int64_t d = 0; d < s.dV; ++d) {
          double got = a.o.get(b, h, i, d);
          if (std::isnan(got) && !vNonFinite.empty() &&
              vNonFinite[(b * s.kvHeads + h / group) * s.dV + d])
            continue;
          compare(got, ref.out[row * s.dV + d], naiveOut[row * s.dV + d],
                  c.maxError, c.naiveError);
        }
        if (s.lse)
          compare(a.lse.at(b, h, i, 0), ref.lse[row], naive.lse[row],
                  half ? c.lseError : c.maxError,
                  half ? lseNaiveError : c.naiveError);
      }
  c.tolerance = 2 * c.naiveError + 1e-5;
  if (half)
    c.lseTolerance = 2 * lseNaiveError + 1e-5;
  if (s.probs) {
    // P against naive f32 P (the kernel writes f32 probabilities whatever
    // its element type), under the same rule.
    double probsNaiveError = 0;
    const int64_t seqKv = a.k.seq();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < s.qHeads; ++h)
        for (int64_t i = 0; i < seqQ; ++i)
          for (int64_t j = 0; j < seqKv; ++j) {
            const int64_t at = ((b * s.qHeads + h) * seqQ + i) * seqKv + j;
            compare(a.probs.at(b, h, i, j), ref.probs[at], naive.probs[at],
                    c.probsError, probsNaiveError);
          }
    c.probsTolerance = 2 * probsNaiveError + 1e-5;
  }
  return c;
}

} // namespace

Comparison compareWithReference(const KernelSpec &s, const AttentionArgs &a) {
  if (!takesSequences(s.layout))
    return compareDense(s, a, 0);
  // Each sequence under the rule on its own (a long sequence's larger
  // naive error must not excuse a short one's); the result is the worst
  // one's, by error over tolerance, with every sequence's flags.
  Comparison worst;
  double worstRatio = -1;
  bool flags[3] = {false, false, false};
  bool valid = forEachSequence(
      s, a, [&](const KernelSpec &dense, const AttentionArgs &sub,
                const Sequence &q) {
        Comparison c = compareDense(dense, sub, q.index);
        double ratio = std::max(c.maxError / c.tolerance,
                                c.lseTolerance > 0 ? c.lseError / c.lseTolerance
                                                   : 0.0);
        if (ratio > worstRatio)
          worst = c, worstRatio = ratio;
        flags[0] |= c.nonFinite, flags[1] |= c.nanMissing,
            flags[2] |= c.lseMismatch;
      });
  worst.nonFinite = flags[0], worst.nanMissing = flags[1],
  worst.lseMismatch = flags[2];
  worst.invalidCall = !valid;
  if (worstRatio < 0) // no sequence: nothing to compare
    worst.tolerance = 1e-5;
  return worst;
}

} // namespace attnc
