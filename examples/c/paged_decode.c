/* A vLLM-like decode loop over a paged KV cache, through the C API: four
 * sequences of different lengths share one pool of 16-key pages, handed out
 * from a shuffled free list as sequences grow. Each step gives every
 * sequence one new query; the call appends the step's new key and value
 * into the cache (k_new/v_new, FlashAttention's block_table form: the new
 * key goes after cache_seqlens) and attends to the whole sequence. Each
 * step's output is checked against naive attention in double over the
 * sequence's keys, kept here in plain arrays.
 *
 *   cc paged_decode.c -lattnc -lm && ./a.out path/to/examples */
#include "example.h"

enum { SEQS = 4, HQ = 32, HKV = 8, D = 128, PAGE = 16, STEPS = 3 };
enum { MAX_LEN = 520, MAX_PAGES = (MAX_LEN + PAGE - 1) / PAGE, POOL = 160 };

/* One sequence's keys and values in order, [len][HKV][D]: what the paged
 * cache must hold for it. */
static float keys[SEQS][MAX_LEN * HKV * D], values[SEQS][MAX_LEN * HKV * D];

/* Naive causal decode attention of query row q ([HQ][D]) over `len` keys,
 * in double: o[h][c] for every head. */
static void naive(const float *q, const float *k, const float *v, int len,
                  double *o) {
  static double s[MAX_LEN];
  for (int h = 0; h < HQ; ++h) {
    int kvh = h / (HQ / HKV);
    double m = -INFINITY, sum = 0;
    for (int j = 0; j < len; ++j) {
      double dot = 0;
      for (int e = 0; e < D; ++e)
        dot += (double)q[h * D + e] * k[(j * HKV + kvh) * D + e];
      s[j] = dot / sqrt((double)D);
      if (s[j] > m)
        m = s[j];
    }
    for (int c = 0; c < D; ++c)
      o[h * D + c] = 0;
    for (int j = 0; j < len; ++j) {
      double p = exp(s[j] - m);
      sum += p;
      for (int c = 0; c < D; ++c)
        o[h * D + c] += p * v[(j * HKV + kvh) * D + c];
    }
    for (int c = 0; c < D; ++c)
      o[h * D + c] = len ? o[h * D + c] / sum : 0;
  }
}

int main(int argc, char **argv) {
  char *spec = example_spec(argc, argv, "llama3-8b-paged-decode");
  attnc_kernel *kernel;
  ATTNC_CHECK(attnc_kernel_create_from_mlir(spec, ATTNC_TARGET_CPU, &kernel));

  float *k_pool = example_alloc((size_t)POOL * PAGE * HKV * D, sizeof(float));
  float *v_pool = example_alloc((size_t)POOL * PAGE * HKV * D, sizeof(float));
  int32_t table[SEQS * MAX_PAGES], lens[SEQS] = {37, 250, 0, 500};
  int32_t free_pages[POOL], free_count = POOL;
  for (int i = 0; i < POOL; ++i)
    free_pages[i] = (i * 37 + 11) % POOL; /* shuffled: 37 is coprime to 160 */
  /* The prompts: keys and values already in the cache, page by page. */
  for (int b = 0; b < SEQS; ++b) {
    example_fill(keys[b], (size_t)MAX_LEN * HKV * D, 10 + b);
    example_fill(values[b], (size_t)MAX_LEN * HKV * D, 20 + b);
    for (int j = 0; j < lens[b]; ++j) {
      if (j % PAGE == 0)
        table[b * MAX_PAGES + j / PAGE] = free_pages[--free_count];
      int page = table[b * MAX_PAGES + j / PAGE];
      size_t at = ((size_t)page * PAGE + j % PAGE) * HKV * D;
      memcpy(k_pool + at, keys[b] + (size_t)j * HKV * D, sizeof(float) * HKV * D);
      memcpy(v_pool + at, values[b] + (size_t)j * HKV * D, sizeof(float) * HKV * D);
    }
  }

  static float q[SEQS * HQ * D], o[SEQS * HQ * D], lse[SEQS * HQ];
  static float k_new[SEQS * HKV * D], v_new[SEQS * HKV * D];
  static double want[HQ * D];
  double worst = 0;
  for (int step = 0; step < STEPS; ++step) {
    /* Each sequence's new token: its query, and the key and value the
     * call appends at position lens[b] (a new page when that one is full). */
    example_fill(q, sizeof q / sizeof *q, 100 + step);
    for (int b = 0; b < SEQS; ++b) {
      if (lens[b] % PAGE == 0)
        table[b * MAX_PAGES + lens[b] / PAGE] = free_pages[--free_count];
      memcpy(k_new + b * HKV * D, keys[b] + (size_t)lens[b] * HKV * D,
             sizeof(float) * HKV * D);
      memcpy(v_new + b * HKV * D, values[b] + (size_t)lens[b] * HKV * D,
             sizeof(float) * HKV * D);
    }
    attnc_tensor tq = attnc_tensor_dense(q, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, SEQS, 1, HQ, D);
    attnc_tensor to = attnc_tensor_dense(o, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, SEQS, 1, HQ, D);
    attnc_tensor tl = attnc_tensor_lse(lse, SEQS, HQ, 1);
    attnc_tensor tk = attnc_tensor_pages(k_pool, ATTNC_DTYPE_F32, POOL, PAGE, HKV, D);
    attnc_tensor tv = attnc_tensor_pages(v_pool, ATTNC_DTYPE_F32, POOL, PAGE, HKV, D);
    attnc_tensor kn = attnc_tensor_dense(k_new, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, SEQS, 1, HKV, D);
    attnc_tensor vn = attnc_tensor_dense(v_new, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, SEQS, 1, HKV, D);
    attnc_run_args args = {&tq, &tk, &tv, &to, &tl, NULL, 0, NULL, 0, NULL};
    attnc_sequences seqs = attnc_sequences_init();
    seqs.batch = SEQS;
    seqs.block_table = table;
    seqs.max_pages = MAX_PAGES;
    seqs.cache_seqlens = lens;
    seqs.k_new = &kn;
    seqs.v_new = &vn;
    ATTNC_CHECK(attnc_kernel_run_sequences(kernel, &args, &seqs));
    for (int b = 0; b < SEQS; ++b) {
      ++lens[b];
      naive(q + b * HQ * D, keys[b], values[b], lens[b], want);
      for (int e = 0; e < HQ * D; ++e) {
        double diff = fabs(o[b * HQ * D + e] - want[e]);
        if (!(diff <= worst))
          worst = diff;
      }
    }
  }
  /* f32 accumulation over at most 503 keys: a few ulps of the outputs. */
  int failed = !(worst < 1e-5);
  printf("paged decode: %d steps, %d sequences (lengths now %d, %d, %d, %d), "
         "%d of %d pages used: max |out - ref| %.3g: %s\n",
         STEPS, SEQS, lens[0], lens[1], lens[2], lens[3], POOL - free_count,
         POOL, worst, failed ? "FAIL" : "PASS");
  free(k_pool);
  free(v_pool);
  attnc_kernel_destroy(kernel);
  free(spec);
  return failed;
}
