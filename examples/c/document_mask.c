/* A document mask over packed sequences, through the C API: one row of
 * tokens holds several documents, and a token attends causally within its
 * own document. examples/document-mask.mlir declares the document ids as an
 * int32 input `doc` of shape [seq_kv]; this program binds it by name.
 *
 *   cc document_mask.c -lattnc -lm && ./a.out path/to/examples */
#include "example.h"

enum { BATCH = 2, SEQ = 300, Q_HEADS = 16, KV_HEADS = 4, D = 64 };

static int visible(const void *ctx, int b, int h, int q, int k) {
  const int32_t *doc = ctx;
  (void)b, (void)h;
  return doc[q] == doc[k] && k <= q;
}

static double identity(const void *ctx, double s, int b, int h, int q, int k) {
  (void)ctx, (void)b, (void)h, (void)q, (void)k;
  return s;
}

int main(int argc, char **argv) {
  char *spec = example_spec(argc, argv, "document-mask");
  attnc_kernel *kernel;
  ATTNC_CHECK(attnc_kernel_create_from_mlir(spec, ATTNC_TARGET_CPU, &kernel));

  /* Documents of 1, 17, 113 and 169 tokens, as a packer writes their ids. */
  static int32_t doc[SEQ];
  const int lengths[] = {1, 17, 113, SEQ - 131};
  for (int i = 0, d = 0, end = lengths[0]; i < SEQ; ++i) {
    if (i == end)
      end += lengths[++d];
    doc[i] = d;
  }
  attnc_input in = {"doc", doc, ATTNC_DTYPE_I32, 1, {SEQ}, {1}};

  example_problem p =
      example_problem_new(BATCH, SEQ, SEQ, Q_HEADS, KV_HEADS, D, 1 / sqrt(D));
  example_tensors t = example_tensors_of(&p);
  ATTNC_CHECK(attnc_kernel_run_with_inputs(kernel, &t.q, &t.k, &t.v, &t.o, NULL,
                                           &in, 1, 0, NULL));
  example_semantics sem = {visible, identity, doc};
  int failed = example_check("document mask", &p, &sem);

  /* A wrong binding is refused with the rule it breaks. */
  in.sizes[0] = SEQ - 1;
  if (attnc_kernel_run_with_inputs(kernel, &t.q, &t.k, &t.v, &t.o, NULL, &in,
                                   1, 0, NULL) == ATTNC_OK) {
    printf("a doc input of the wrong size was accepted\n");
    failed = 1;
  } else {
    printf("refused: %s\n", attnc_last_error());
  }
  example_problem_free(&p);
  attnc_kernel_destroy(kernel);
  free(spec);
  return failed;
}
