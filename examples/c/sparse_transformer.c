/* OpenAI's Sparse Transformer patterns as block-sparse kernels, through
 * the C API: examples/sparse-transformer-fixed.mlir and -strided.mlir. For
 * each, attnc_block_mask_build turns the kernel's mask region into a block
 * mask for the shape (block by block, no seq x seq grid); the kernel skips
 * absent blocks, trusts full ones and evaluates the region on partial
 * ones. The block mask is an argument: any other source of one (a
 * precomputed pattern, FlexAttention's create_block_mask) works the same.
 *
 *   cc sparse_transformer.c -lattnc -lm && ./a.out path/to/examples */
#include "example.h"

enum { BATCH = 1, SEQ = 700, HEADS = 8, D = 64 };

/* Child et al. (2019), with the examples' parameters. */
static int fixed(const void *ctx, int b, int h, int q, int k) {
  (void)ctx, (void)b, (void)h;
  return k <= q && (q / 128 == k / 128 || k % 128 >= 112);
}

static int strided(const void *ctx, int b, int h, int q, int k) {
  (void)ctx, (void)b, (void)h;
  return k <= q && (q - k < 256 || (q - k) % 256 == 0);
}

static double identity(const void *ctx, double s, int b, int h, int q, int k) {
  (void)ctx, (void)b, (void)h, (void)q, (void)k;
  return s;
}

static int run(int argc, char **argv, const char *name,
               int (*visible)(const void *, int, int, int, int)) {
  char *spec = example_spec(argc, argv, name);
  attnc_kernel *kernel;
  ATTNC_CHECK(attnc_kernel_create_from_mlir(spec, ATTNC_TARGET_CPU, &kernel));
  attnc_block_mask *blocks;
  ATTNC_CHECK(attnc_block_mask_build(kernel, BATCH, SEQ, SEQ, NULL, 0, &blocks));
  attnc_block_mask_view view = attnc_block_mask_get(blocks);

  example_problem p = example_problem_new(BATCH, SEQ, SEQ, HEADS, HEADS, D, 1 / sqrt(D));
  example_tensors t = example_tensors_of(&p);
  attnc_run_args args;
  memset(&args, 0, sizeof args);
  args.q = &t.q;
  args.k = &t.k;
  args.v = &t.v;
  args.o = &t.o;
  args.block_mask = &view;
  ATTNC_CHECK(attnc_kernel_run_args(kernel, &args));
  char what[128];
  snprintf(what, sizeof what, "%s (%.0f%% of %lldx%lld blocks visited)", name,
           100 * attnc_block_mask_density(blocks), (long long)view.q_blocks,
           (long long)view.kv_blocks);
  example_semantics sem = {visible, identity, NULL};
  int failed = example_check(what, &p, &sem);

  /* A block mask must match the call's shape. */
  view.q_blocks -= 1;
  if (attnc_kernel_run_args(kernel, &args) == ATTNC_OK) {
    printf("a block mask of the wrong shape was accepted\n");
    failed = 1;
  } else {
    printf("refused: %s\n", attnc_last_error());
  }
  example_problem_free(&p);
  attnc_block_mask_destroy(blocks);
  attnc_kernel_destroy(kernel);
  free(spec);
  return failed;
}

int main(int argc, char **argv) {
  int failed = run(argc, argv, "sparse-transformer-fixed", fixed);
  failed |= run(argc, argv, "sparse-transformer-strided", strided);
  return failed;
}
