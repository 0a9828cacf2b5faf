/* What the programmable-attention C examples share: reading a spec file,
 * random inputs, and a naive attention written here, in plain C, from the
 * semantics in docs/dialect.md (not from attnc's own reference), so that
 * each example checks attnc against an independent implementation.
 *
 * Each example compiles its spec (an examples/ .mlir file) through the C API,
 * binds the kernel's declared inputs (and block mask), runs it, and
 * compares O with naive attention in float64 under FlashAttention's rule:
 * max |out - ref| <= 2 * max |naive f32 - ref| + 1e-5. It prints the error
 * and exits non-zero when the rule fails or a call fails. */
#ifndef ATTNC_EXAMPLE_H
#define ATTNC_EXAMPLE_H

#include "attnc/attnc.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exits with the C API's message when a call fails. */
#define ATTNC_CHECK(call)                                                      \
  do {                                                                         \
    if ((call) != ATTNC_OK) {                                                  \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,            \
              attnc_last_error());                                             \
      exit(2);                                                                 \
    }                                                                          \
  } while (0)

static inline void *example_alloc(size_t count, size_t size) {
  void *p = calloc(count, size);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

/* The whole of a spec file, NUL-terminated: examples/<name>.mlir under the
 * directory given as argv[1] (default: examples, from the repository root). */
static inline char *example_spec(int argc, char **argv, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.mlir", argc > 1 ? argv[1] : "examples",
           name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: cannot open\n", path);
    exit(2);
  }
  char *text = NULL;
  size_t len = 0, cap = 0, got;
  char chunk[4096];
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (len + got + 1 > cap) {
      cap = 2 * (len + got + 1);
      text = realloc(text, cap);
      if (!text) {
        fprintf(stderr, "out of memory\n");
        exit(2);
      }
    }
    memcpy(text + len, chunk, got);
    len += got;
  }
  fclose(f);
  if (!text) {
    fprintf(stderr, "%s: empty\n", path);
    exit(2);
  }
  text[len] = 0;
  return text;
}

/* Uniform floats in [-1, 1) from a fixed seed (xorshift64). */
static inline void example_fill(float *x, size_t n, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
  }
}

/* One problem in BSHD layout, and the kernel's buffers for it. */
typedef struct example_problem {
  int batch, seq_q, seq_kv, q_heads, kv_heads, d;
  double scale;
  float *q, *k, *v, *o;
} example_problem;

static inline example_problem example_problem_new(int batch, int seq_q, int seq_kv,
                                           int q_heads, int kv_heads, int d,
                                           double scale) {
  example_problem p = {batch, seq_q, seq_kv, q_heads, kv_heads, d, scale,
                       NULL,  NULL,  NULL,   NULL};
  size_t nq = (size_t)batch * seq_q * q_heads * d;
  size_t nkv = (size_t)batch * seq_kv * kv_heads * d;
  p.q = example_alloc(nq, sizeof(float));
  p.k = example_alloc(nkv, sizeof(float));
  p.v = example_alloc(nkv, sizeof(float));
  p.o = example_alloc(nq, sizeof(float));
  example_fill(p.q, nq, 1);
  example_fill(p.k, nkv, 2);
  example_fill(p.v, nkv, 3);
  return p;
}

/* The run arguments for p's q, k, v and o (no LSE). */
typedef struct example_tensors {
  attnc_tensor q, k, v, o;
} example_tensors;

static inline example_tensors example_tensors_of(example_problem *p) {
  example_tensors t;
  t.q = attnc_tensor_dense(p->q, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, p->batch,
                           p->seq_q, p->q_heads, p->d);
  t.k = attnc_tensor_dense(p->k, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, p->batch,
                           p->seq_kv, p->kv_heads, p->d);
  t.v = attnc_tensor_dense(p->v, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, p->batch,
                           p->seq_kv, p->kv_heads, p->d);
  t.o = attnc_tensor_dense(p->o, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, p->batch,
                           p->seq_q, p->q_heads, p->d);
  return t;
}

/* The example's semantics: whether (b, h, q, k) is visible, and the score
 * after the modifier (s is already scaled). */
typedef struct example_semantics {
  int (*visible)(const void *ctx, int b, int h, int q, int k);
  double (*score)(const void *ctx, double s, int b, int h, int q, int k);
  const void *ctx;
} example_semantics;

/* Naive attention of one row, every value rounded to float when f32 is set
 * (the "naive f32" of the tolerance rule); a row with no visible key is 0. */
static inline void example_naive_row(const example_problem *p,
                              const example_semantics *sem, int b, int h,
                              int i, int f32, double *scores, double *out) {
#define ROUND(x) (f32 ? (double)(float)(x) : (x))
  int kvh = h / (p->q_heads / p->kv_heads);
  double m = -INFINITY, sum = 0;
  for (int j = 0; j < p->seq_kv; ++j) {
    scores[j] = -INFINITY;
    if (!sem->visible(sem->ctx, b, h, i, j))
      continue;
    const float *qr = p->q + (((size_t)b * p->seq_q + i) * p->q_heads + h) * p->d;
    const float *kr =
        p->k + (((size_t)b * p->seq_kv + j) * p->kv_heads + kvh) * p->d;
    double dot = 0;
    for (int e = 0; e < p->d; ++e)
      dot = ROUND(dot + ROUND((double)qr[e] * kr[e]));
    double s = ROUND(sem->score(sem->ctx, ROUND(dot * p->scale), b, h, i, j));
    scores[j] = s;
    if (s > m)
      m = s;
  }
  for (int e = 0; e < p->d; ++e)
    out[e] = 0;
  if (m == -INFINITY)
    return;
  for (int j = 0; j < p->seq_kv; ++j) {
    if (scores[j] == -INFINITY)
      continue;
    double w = ROUND(exp(scores[j] - m));
    sum = ROUND(sum + w);
    const float *vr =
        p->v + (((size_t)b * p->seq_kv + j) * p->kv_heads + kvh) * p->d;
    for (int e = 0; e < p->d; ++e)
      out[e] = ROUND(out[e] + ROUND(w * vr[e]));
  }
  for (int e = 0; e < p->d; ++e)
    out[e] = ROUND(out[e] / sum);
#undef ROUND
}

/* Compares p->o with naive attention in float64 under the tolerance rule;
 * prints the result and returns 0 on a pass, 1 on a failure. */
static inline int example_check(const char *what, const example_problem *p,
                         const example_semantics *sem) {
  double *scores = example_alloc(p->seq_kv, sizeof(double));
  double *ref = example_alloc(p->d, sizeof(double));
  double *naive = example_alloc(p->d, sizeof(double));
  double err = 0, naive_err = 0;
  for (int b = 0; b < p->batch; ++b)
    for (int h = 0; h < p->q_heads; ++h)
      for (int i = 0; i < p->seq_q; ++i) {
        example_naive_row(p, sem, b, h, i, 0, scores, ref);
        example_naive_row(p, sem, b, h, i, 1, scores, naive);
        const float *o =
            p->o + (((size_t)b * p->seq_q + i) * p->q_heads + h) * p->d;
        for (int e = 0; e < p->d; ++e) {
          double d = fabs(o[e] - ref[e]), n = fabs(naive[e] - ref[e]);
          if (!(d <= err)) /* NaN counts as a failure */
            err = d;
          if (n > naive_err)
            naive_err = n;
        }
      }
  free(scores);
  free(ref);
  free(naive);
  double tol = 2 * naive_err + 1e-5;
  int ok = err <= tol;
  printf("%s: batch %d, seq_q %d, seq_kv %d, %d/%d heads, d %d: max |out - "
         "ref| %.3g vs tolerance %.3g: %s\n",
         what, p->batch, p->seq_q, p->seq_kv, p->q_heads, p->kv_heads, p->d,
         err, tol, ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}

static inline void example_problem_free(example_problem *p) {
  free(p->q);
  free(p->k);
  free(p->v);
  free(p->o);
}

#endif /* ATTNC_EXAMPLE_H */
