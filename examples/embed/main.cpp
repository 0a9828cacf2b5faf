// Embedding attnc: JIT a GQA causal decode-style kernel through the C++
// wrapper over the C API, run it on this program's own buffers for several
// lengths, and check one output against a naive computation. Then a
// block-sparse kernel with its own mask region, from attn dialect text,
// run with the block mask the wrapper builds from that region.
#include <attnc/attnc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

/// A dense BSHD f32 view of `data` (batch 1).
attnc_tensor bshd(std::vector<float> &data, int64_t seq, int64_t heads,
                  int64_t dim) {
  return attnc_tensor_dense(data.data(), ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, 1,
                            seq, heads, dim);
}

/// Local attention as a mask region (each query sees itself and the 47
/// keys before it), block-sparse over 32 x 32 blocks.
bool blockSparse() {
  const char *text = R"(
attn.kernel @local_window attributes {
  q_heads = 2, d_qk = 32, element_type = f32, mask = #attn.mask<custom>,
  block_sparse = #attn.block_sparse<block_q = 32, block_kv = 32>
} mask {
^bb0(%b: index, %h: index, %q: index, %k: index):
  %w = arith.constant 48 : index
  %causal = arith.cmpi ule, %k, %q : index
  %back = arith.subi %q, %k : index
  %near = arith.cmpi ult, %back, %w : index
  %v = arith.andi %causal, %near : i1
  attn.yield %v : i1
})";
  const int64_t heads = 2, dim = 32, seq = 113;
  attnc::Kernel kernel = attnc::Kernel::fromMlir(text);
  if (!kernel.ok()) {
    std::fprintf(stderr, "attnc: %s\n", kernel.error().c_str());
    return false;
  }
  attnc::BlockMask blocks = kernel.blockMask(1, seq, seq);
  if (!blocks.ok()) { // its own error, not the kernel's
    std::fprintf(stderr, "attnc: %s\n", blocks.error().c_str());
    return false;
  }
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> q(seq * heads * dim), k(q.size()), v(q.size()), o(q.size());
  for (auto *buffer : {&q, &k, &v})
    for (float &x : *buffer)
      x = dist(rng);
  attnc_tensor tq = bshd(q, seq, heads, dim), tk = bshd(k, seq, heads, dim),
               tv = bshd(v, seq, heads, dim), to = bshd(o, seq, heads, dim);
  attnc_block_mask_view view = blocks.view();
  attnc_run_args args = {};
  args.q = &tq, args.k = &tk, args.v = &tv, args.o = &to;
  args.block_mask = &view;
  if (kernel.run(args) != ATTNC_OK) {
    std::fprintf(stderr, "attnc: %s\n", kernel.error().c_str());
    return false;
  }
  double worst = 0;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < seq; ++i) {
      const int64_t first = std::max<int64_t>(0, i - 47);
      std::vector<double> s(i + 1 - first);
      double max = -INFINITY, sum = 0;
      for (int64_t j = first; j <= i; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < dim; ++d)
          dot += double(q[(i * heads + h) * dim + d]) * k[(j * heads + h) * dim + d];
        max = std::max(max, s[j - first] = dot / std::sqrt(double(dim)));
      }
      for (double &x : s)
        sum += (x = std::exp(x - max));
      for (int64_t d = 0; d < dim; ++d) {
        double want = 0;
        for (int64_t j = first; j <= i; ++j)
          want += s[j - first] / sum * v[(j * heads + h) * dim + d];
        worst = std::max(worst, std::abs(want - o[(i * heads + h) * dim + d]));
      }
    }
  std::printf("block-sparse local window: %.0f%% of blocks visited, max error "
              "%.2e: %s\n",
              100 * blocks.density(), worst, worst < 1e-5 ? "PASS" : "FAIL");
  return worst < 1e-5;
}

int main() {
  const int64_t qHeads = 8, kvHeads = 2, dim = 64;
  attnc_spec spec = attnc_spec_default();
  spec.name = "embedded";
  spec.q_heads = qHeads;
  spec.kv_heads = kvHeads;
  spec.d_qk = dim;
  spec.mask = ATTNC_MASK_CAUSAL;
  spec.alignment = ATTNC_ALIGN_BOTTOM_RIGHT;

  attnc::Kernel kernel = attnc::Kernel::create(spec);
  if (!kernel.ok() || kernel.compile() != ATTNC_OK) {
    std::fprintf(stderr, "attnc: %s\n", kernel.error().c_str());
    return 1;
  }
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  double worst = 0;
  for (int64_t seqKv : {1, 17, 300}) { // one kernel, any length
    const int64_t seqQ = 1;
    std::vector<float> q(seqQ * qHeads * dim), k(seqKv * kvHeads * dim),
        v(seqKv * kvHeads * dim), o(seqQ * qHeads * dim);
    for (auto *buffer : {&q, &k, &v})
      for (float &x : *buffer)
        x = dist(rng);
    attnc_tensor tq = bshd(q, seqQ, qHeads, dim), tk = bshd(k, seqKv, kvHeads, dim),
                 tv = bshd(v, seqKv, kvHeads, dim), to = bshd(o, seqQ, qHeads, dim);
    if (kernel.run(tq, tk, tv, to) != ATTNC_OK) {
      std::fprintf(stderr, "attnc: %s\n", kernel.error().c_str());
      return 1;
    }
    // Naive check of head 5 (kv head 1): the single query sees every key.
    const int64_t h = 5, kvh = h / (qHeads / kvHeads);
    std::vector<double> s(seqKv);
    double max = -INFINITY, sum = 0;
    for (int64_t j = 0; j < seqKv; ++j) {
      double dot = 0;
      for (int64_t d = 0; d < dim; ++d)
        dot += double(q[h * dim + d]) * k[(j * kvHeads + kvh) * dim + d];
      s[j] = dot / std::sqrt(double(dim));
      max = std::max(max, s[j]);
    }
    for (double &x : s)
      sum += (x = std::exp(x - max));
    for (int64_t d = 0; d < dim; ++d) {
      double want = 0;
      for (int64_t j = 0; j < seqKv; ++j)
        want += s[j] / sum * v[(j * kvHeads + kvh) * dim + d];
      worst = std::max(worst, std::abs(want - o[h * dim + d]));
    }
  }
  std::printf("attnc %s embedded: max error %.2e over 3 lengths: %s\n",
              attnc_version(), worst, worst < 1e-5 ? "PASS" : "FAIL");
  return worst < 1e-5 && blockSparse() ? 0 : 1;
}
