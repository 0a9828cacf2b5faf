/* ALiBi with BLOOM's and MPT's slopes, through the C API: the built-in
 * score modifier of examples/bloom-alibi.mlir (causal, bottom-right). The
 * slopes are computed by the kernel; this program only checks them, with
 * its own copy of BLOOM's formula.
 *
 *   cc alibi.c -lattnc -lm && ./a.out path/to/examples */
#include "example.h"

enum { BATCH = 1, SEQ_Q = 113, SEQ_KV = 200, HEADS = 32, D = 128 };

/* BLOOM's get_slopes: 2^(-8 (h + 1) / n) for the first n = 2^floor(log2 H)
 * heads, then every other slope of 2n heads. */
static double slope(int h) {
  int n = 1;
  while (2 * n <= HEADS)
    n *= 2;
  return h < n ? pow(2, -8.0 * (h + 1) / n) : pow(2, -4.0 * (2 * (h - n) + 1) / n);
}

static int causal(const void *ctx, int b, int h, int q, int k) {
  (void)ctx, (void)b, (void)h;
  return k <= q + SEQ_KV - SEQ_Q;
}

static double alibi(const void *ctx, double s, int b, int h, int q, int k) {
  (void)ctx, (void)b;
  return s - slope(h) * fabs((double)k - (q + SEQ_KV - SEQ_Q));
}

int main(int argc, char **argv) {
  char *spec = example_spec(argc, argv, "bloom-alibi");
  attnc_kernel *kernel;
  ATTNC_CHECK(attnc_kernel_create_from_mlir(spec, ATTNC_TARGET_CPU, &kernel));
  example_problem p =
      example_problem_new(BATCH, SEQ_Q, SEQ_KV, HEADS, HEADS, D, 1 / sqrt(D));
  example_tensors t = example_tensors_of(&p);
  ATTNC_CHECK(attnc_kernel_run(kernel, &t.q, &t.k, &t.v, &t.o, NULL, 0, NULL));
  example_semantics sem = {causal, alibi, NULL};
  int failed = example_check("ALiBi (BLOOM slopes)", &p, &sem);
  example_problem_free(&p);
  attnc_kernel_destroy(kernel);
  free(spec);
  return failed;
}
