/* Chunked prefill into a paged KV cache, through the C API: two prompts
 * (300 and 77 tokens) are fed 64 tokens a call. Each call packs the chunks'
 * queries (ragged: cu_seqlens_q), appends their keys and values into the
 * sequences' pages (k_new/v_new, packed like q, one key per query), and
 * attends causally, bottom-right: each new query sees the cached prompt and
 * the chunk up to itself. A finished prompt takes part with 0 queries. At
 * the end every query's output is checked against naive causal attention
 * in double over its prompt's prefix. The pages are FlashInfer's CSR form
 * (kv_indptr, kv_indices, kv_last_page_len), which counts the appended keys.
 *
 *   cc chunked_prefill.c -lattnc -lm && ./a.out */
#include "example.h"

enum { SEQS = 2, HQ = 8, HKV = 2, D = 64, PAGE = 32, CHUNK = 64 };
enum { MAX_LEN = 300, MAX_PAGES = (MAX_LEN + PAGE - 1) / PAGE, POOL = 2 * MAX_PAGES };

static const int prompt[SEQS] = {300, 77};
static float q[SEQS][MAX_LEN * HQ * D], k[SEQS][MAX_LEN * HKV * D],
    v[SEQS][MAX_LEN * HKV * D], out[SEQS][MAX_LEN * HQ * D];

int main(void) {
  attnc_spec spec = attnc_spec_default();
  spec.name = "chunked_prefill";
  spec.q_heads = HQ;
  spec.kv_heads = HKV;
  spec.d_qk = D;
  spec.mask = ATTNC_MASK_CAUSAL;
  spec.alignment = ATTNC_ALIGN_BOTTOM_RIGHT;
  spec.layout = ATTNC_LAYOUT_PAGED;
  attnc_kernel *kernel;
  ATTNC_CHECK(attnc_kernel_create(&spec, ATTNC_TARGET_CPU, &kernel));

  for (int b = 0; b < SEQS; ++b) {
    example_fill(q[b], (size_t)MAX_LEN * HQ * D, 1 + b);
    example_fill(k[b], (size_t)MAX_LEN * HKV * D, 3 + b);
    example_fill(v[b], (size_t)MAX_LEN * HKV * D, 5 + b);
  }
  float *k_pool = example_alloc((size_t)POOL * PAGE * HKV * D, sizeof(float));
  float *v_pool = example_alloc((size_t)POOL * PAGE * HKV * D, sizeof(float));
  /* Sequence b owns pages b, b + 2, b + 4, ... (interleaved in the pool). */
  int32_t indices[SEQS * MAX_PAGES];
  static float cq[SEQS * CHUNK * HQ * D], co[SEQS * CHUNK * HQ * D];
  static float ck[SEQS * CHUNK * HKV * D], cv[SEQS * CHUNK * HKV * D];
  int done[SEQS] = {0, 0};
  for (int call = 0; done[0] < prompt[0] || done[1] < prompt[1]; ++call) {
    int32_t cu_q[SEQS + 1] = {0}, indptr[SEQS + 1] = {0}, last[SEQS];
    int n = 0; /* packed rows */
    for (int b = 0; b < SEQS; ++b) {
      int take = prompt[b] - done[b] < CHUNK ? prompt[b] - done[b] : CHUNK;
      memcpy(cq + (size_t)n * HQ * D, q[b] + (size_t)done[b] * HQ * D,
             sizeof(float) * take * HQ * D);
      memcpy(ck + (size_t)n * HKV * D, k[b] + (size_t)done[b] * HKV * D,
             sizeof(float) * take * HKV * D);
      memcpy(cv + (size_t)n * HKV * D, v[b] + (size_t)done[b] * HKV * D,
             sizeof(float) * take * HKV * D);
      n += take;
      cu_q[b + 1] = n;
      /* The lengths after this call's append, in pages. */
      int len = done[b] + take, pages = (len + PAGE - 1) / PAGE;
      for (int j = 0; j < pages; ++j)
        indices[indptr[b] + j] = b + SEQS * j;
      indptr[b + 1] = indptr[b] + pages;
      last[b] = pages ? len - (pages - 1) * PAGE : 0;
    }
    attnc_tensor tq = attnc_tensor_dense(cq, ATTNC_DTYPE_F32, ATTNC_LAYOUT_VARLEN, 1, n, HQ, D);
    attnc_tensor to = attnc_tensor_dense(co, ATTNC_DTYPE_F32, ATTNC_LAYOUT_VARLEN, 1, n, HQ, D);
    attnc_tensor kn = attnc_tensor_dense(ck, ATTNC_DTYPE_F32, ATTNC_LAYOUT_VARLEN, 1, n, HKV, D);
    attnc_tensor vn = attnc_tensor_dense(cv, ATTNC_DTYPE_F32, ATTNC_LAYOUT_VARLEN, 1, n, HKV, D);
    attnc_tensor tk = attnc_tensor_pages(k_pool, ATTNC_DTYPE_F32, POOL, PAGE, HKV, D);
    attnc_tensor tv = attnc_tensor_pages(v_pool, ATTNC_DTYPE_F32, POOL, PAGE, HKV, D);
    attnc_run_args args = {&tq, &tk, &tv, &to, NULL, NULL, 0, NULL, 0, NULL};
    attnc_sequences seqs = attnc_sequences_init();
    seqs.batch = SEQS;
    seqs.cu_seqlens_q = cu_q;
    seqs.kv_indptr = indptr;
    seqs.kv_indices = indices;
    seqs.num_kv_indices = indptr[SEQS];
    seqs.kv_last_page_len = last;
    seqs.k_new = &kn;
    seqs.v_new = &vn;
    ATTNC_CHECK(attnc_kernel_run_sequences(kernel, &args, &seqs));
    for (int b = 0; b < SEQS; ++b) {
      int take = cu_q[b + 1] - cu_q[b];
      memcpy(out[b] + (size_t)done[b] * HQ * D, co + (size_t)cu_q[b] * HQ * D,
             sizeof(float) * take * HQ * D);
      done[b] += take;
    }
  }

  /* Naive causal attention over each prompt, in double. */
  double worst = 0;
  static double s[MAX_LEN];
  for (int b = 0; b < SEQS; ++b)
    for (int i = 0; i < prompt[b]; ++i)
      for (int h = 0; h < HQ; ++h) {
        int kvh = h / (HQ / HKV);
        double m = -INFINITY, sum = 0;
        for (int j = 0; j <= i; ++j) {
          double dot = 0;
          for (int e = 0; e < D; ++e)
            dot += (double)q[b][(i * HQ + h) * D + e] * k[b][(j * HKV + kvh) * D + e];
          s[j] = dot / sqrt((double)D);
          if (s[j] > m)
            m = s[j];
        }
        for (int j = 0; j <= i; ++j)
          sum += (s[j] = exp(s[j] - m));
        for (int c = 0; c < D; ++c) {
          double want = 0;
          for (int j = 0; j <= i; ++j)
            want += s[j] / sum * v[b][(j * HKV + kvh) * D + c];
          double diff = fabs(out[b][(i * HQ + h) * D + c] - want);
          if (!(diff <= worst))
            worst = diff;
        }
      }
  int failed = !(worst < 1e-5);
  printf("chunked prefill: prompts of %d and %d tokens in chunks of %d, pages "
         "of %d: max |out - ref| %.3g: %s\n",
         prompt[0], prompt[1], CHUNK, PAGE, worst, failed ? "FAIL" : "PASS");
  free(k_pool);
  free(v_pool);
  attnc_kernel_destroy(kernel);
  return failed;
}
