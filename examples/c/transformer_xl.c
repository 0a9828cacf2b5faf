/* A Transformer-XL layer through the C API: a segment of seq_q queries
 * attends to [cached memory; segment] (seq_kv = memory + seq_q), causal
 * and bottom-right aligned, with a learned bias per head and relative
 * distance, r[h, distance]: examples/transformer-xl.mlir.
 *
 *   cc transformer_xl.c -lattnc -lm && ./a.out path/to/examples */
#include "example.h"

enum { BATCH = 2, MEMORY = 384, SEQ_Q = 129, SEQ_KV = MEMORY + SEQ_Q, HEADS = 10,
       D = 64 };

static int causal(const void *ctx, int b, int h, int q, int k) {
  (void)ctx, (void)b, (void)h;
  return k <= q + MEMORY;
}

static double relative(const void *ctx, double s, int b, int h, int q, int k) {
  const float *r = ctx;
  (void)b;
  return s + r[h * SEQ_KV + (q + MEMORY - k)];
}

int main(int argc, char **argv) {
  char *spec = example_spec(argc, argv, "transformer-xl");
  attnc_kernel *kernel;
  ATTNC_CHECK(attnc_kernel_create_from_mlir(spec, ATTNC_TARGET_CPU, &kernel));
  static float r[HEADS * SEQ_KV];
  example_fill(r, HEADS * SEQ_KV, 5);
  attnc_input in = {"r", r, ATTNC_DTYPE_F32, 2, {HEADS, SEQ_KV}, {SEQ_KV, 1}};
  example_problem p =
      example_problem_new(BATCH, SEQ_Q, SEQ_KV, HEADS, HEADS, D, 1 / sqrt(D));
  example_tensors t = example_tensors_of(&p);
  ATTNC_CHECK(attnc_kernel_run_with_inputs(kernel, &t.q, &t.k, &t.v, &t.o, NULL,
                                           &in, 1, 0, NULL));
  example_semantics sem = {causal, relative, r};
  int failed = example_check("Transformer-XL", &p, &sem);
  example_problem_free(&p);
  attnc_kernel_destroy(kernel);
  free(spec);
  return failed;
}
