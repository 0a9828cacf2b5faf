/* T5's relative position bias read from a table, through the C API:
 * examples/t5-relative-bias.mlir declares `bias`, float32 [q_heads, any],
 * and its score region adds bias[h, bucket(k - q)]. The table is a run-time
 * input: a new table is a new argument, never a new kernel.
 *
 *   cc t5_relative_bias.c -lattnc -lm && ./a.out path/to/examples */
#include "example.h"

enum { BATCH = 1, SEQ = 257, HEADS = 8, D = 64, BUCKETS = 32 };

/* T5's _relative_position_bucket (bidirectional, 32 buckets, max distance
 * 128): 16 per direction, exact below 8, then 8 + floor(2 log2(n / 8)) up
 * to 15. floor(2 log2(n / 8)) >= j is tested exactly, as n^2 >= 64 * 2^j. */
static int bucket(int rel) {
  int base = rel > 0 ? 16 : 0;
  long n = rel < 0 ? -rel : rel;
  if (n < 8)
    return base + (int)n;
  int large = 8;
  for (int j = 1; j <= 7; ++j)
    if (n * n >= 64L << j)
      large = 8 + j;
  return base + large;
}

static int all(const void *ctx, int b, int h, int q, int k) {
  (void)ctx, (void)b, (void)h, (void)q, (void)k;
  return 1;
}

static double relative_bias(const void *ctx, double s, int b, int h, int q,
                            int k) {
  const float *table = ctx;
  (void)b;
  return s + table[h * BUCKETS + bucket(k - q)];
}

int main(int argc, char **argv) {
  char *spec = example_spec(argc, argv, "t5-relative-bias");
  attnc_kernel *kernel;
  ATTNC_CHECK(attnc_kernel_create_from_mlir(spec, ATTNC_TARGET_CPU, &kernel));
  static float table[HEADS * BUCKETS];
  example_fill(table, HEADS * BUCKETS, 4);
  attnc_input in = {"bias", table, ATTNC_DTYPE_F32, 2, {HEADS, BUCKETS},
                    {BUCKETS, 1}};
  example_problem p = example_problem_new(BATCH, SEQ, SEQ, HEADS, HEADS, D, 1);
  example_tensors t = example_tensors_of(&p);
  ATTNC_CHECK(attnc_kernel_run_with_inputs(kernel, &t.q, &t.k, &t.v, &t.o, NULL,
                                           &in, 1, 0, NULL));
  example_semantics sem = {all, relative_bias, table};
  int failed = example_check("T5 relative bias", &p, &sem);
  example_problem_free(&p);
  attnc_kernel_destroy(kernel);
  free(spec);
  return failed;
}
