/* The C API from a C translation unit: create, compile, run, destroy, and
 * every error path a C caller can hit, with its message. Prints
 * "N passed, N failed" and exits non-zero on any failure. */
#include "attnc/attnc.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (cond) {                                                                \
      ++passed;                                                                \
    } else {                                                                   \
      ++failed;                                                                \
      printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                   \
      printf(__VA_ARGS__);                                                     \
      printf("\n");                                                            \
    }                                                                          \
  } while (0)

#define CHECK_ERROR(call, status, text)                                        \
  do {                                                                         \
    attnc_status st_ = (call);                                                 \
    CHECK(st_ == (status) && strstr(attnc_last_error(), (text)) != NULL,       \
          "status %d, message '%s'", (int)st_, attnc_last_error());           \
  } while (0)

/* Naive causal (bottom-right) GQA attention in double, BSHD. */
static double reference(const float *q, const float *k, const float *v,
                         int sq, int skv, int hq, int hkv, int d, int b,
                         int h, int i, int c) {
  int kvh = h / (hq / hkv);
  double m = -INFINITY, sum = 0, out = 0;
  double *s = malloc(sizeof(double) * skv);
  for (int j = 0; j < skv; ++j) {
    s[j] = -INFINITY;
    if (j > i + skv - sq)
      continue;
    double dot = 0;
    for (int e = 0; e < d; ++e)
      dot += (double)q[((b * sq + i) * hq + h) * d + e] *
             k[((b * skv + j) * hkv + kvh) * d + e];
    s[j] = dot / sqrt((double)d);
    if (s[j] > m)
      m = s[j];
  }
  for (int j = 0; j < skv; ++j)
    if (s[j] > -INFINITY) {
      double p = exp(s[j] - m);
      sum += p;
      out += p * v[((b * skv + j) * hkv + kvh) * d + c];
    }
  free(s);
  return sum > 0 ? out / sum : 0;
}

/* max |o - reference| over a whole dense BSHD output. */
static double max_error(const float *o, const float *q, const float *k,
                        const float *v, int b_, int sq, int skv, int hq,
                        int hkv, int d) {
  double worst = 0;
  for (int b = 0; b < b_; ++b)
    for (int h = 0; h < hq; ++h)
      for (int i = 0; i < sq; ++i)
        for (int c = 0; c < d; ++c) {
          double want = reference(q, k, v, sq, skv, hq, hkv, d, b, h, i, c);
          double diff = fabs(o[((b * sq + i) * hq + h) * d + c] - want);
          if (!(diff <= worst)) /* a NaN (an unwritten output) sticks */
            worst = diff;
        }
  return worst;
}

/* float -> bf16 bits, round to nearest even (finite inputs), and back. */
static uint16_t to_bf16(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}
static float from_bf16(uint16_t bits) {
  uint32_t u = (uint32_t)bits << 16;
  float x;
  memcpy(&x, &u, 4);
  return x;
}

int main(void) {
  enum { B = 2, SQ = 17, SKV = 33, HQ = 4, HKV = 2, D = 24 };
  static float q[B * SQ * HQ * D], k[B * SKV * HKV * D], v[B * SKV * HKV * D];
  static float o[B * SQ * HQ * D], lse[B * HQ * SQ];
  srand(7);
  for (size_t i = 0; i < sizeof q / sizeof *q; ++i)
    q[i] = (float)rand() / RAND_MAX - 0.5f;
  for (size_t i = 0; i < sizeof k / sizeof *k; ++i) {
    k[i] = (float)rand() / RAND_MAX - 0.5f;
    v[i] = (float)rand() / RAND_MAX - 0.5f;
  }

  CHECK(strlen(attnc_version()) > 0, "version");
  attnc_spec spec = attnc_spec_default();
  spec.name = "c_api_kernel";
  spec.q_heads = HQ;
  spec.kv_heads = HKV;
  spec.d_qk = D;
  spec.mask = ATTNC_MASK_CAUSAL;
  spec.alignment = ATTNC_ALIGN_BOTTOM_RIGHT;
  spec.lse = 1;

  attnc_kernel *kernel = NULL;
  CHECK(attnc_kernel_create(&spec, ATTNC_TARGET_CPU, &kernel) == ATTNC_OK,
        "%s", attnc_last_error());
  CHECK(attnc_kernel_compile(kernel) == ATTNC_OK, "%s", attnc_last_error());
  attnc_tensor tq = attnc_tensor_dense(q, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, B, SQ, HQ, D);
  attnc_tensor tk = attnc_tensor_dense(k, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, B, SKV, HKV, D);
  attnc_tensor tv = attnc_tensor_dense(v, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, B, SKV, HKV, D);
  attnc_tensor to = attnc_tensor_dense(o, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, B, SQ, HQ, D);
  attnc_tensor tl = attnc_tensor_lse(lse, B, HQ, SQ);
  CHECK(attnc_kernel_run(kernel, &tq, &tk, &tv, &to, &tl, 2, NULL) == ATTNC_OK,
        "%s", attnc_last_error());
  double err = max_error(o, q, k, v, B, SQ, SKV, HQ, HKV, D);
  CHECK(err < 1e-5, "max error %g", err);

  /* Merging partial attention: keys [0, 13) and [13, SKV) run apart,
   * merged, equal the whole run (a kernel without a mask). */
  {
    static float part0[B * SQ * HQ * D], part1[B * SQ * HQ * D];
    static float merged[B * SQ * HQ * D], whole[B * SQ * HQ * D];
    static float l0[B * HQ * SQ], l1[B * HQ * SQ], lm[B * HQ * SQ];
    attnc_spec none = spec;
    none.name = "c_api_unmasked";
    none.mask = ATTNC_MASK_NONE;
    none.alignment = ATTNC_ALIGN_UNSET;
    attnc_kernel *unmasked = NULL;
    CHECK(attnc_kernel_create(&none, ATTNC_TARGET_CPU, &unmasked) == ATTNC_OK,
          "%s", attnc_last_error());
    attnc_tensor parts[2] = {
        attnc_tensor_dense(part0, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, B, SQ, HQ, D),
        attnc_tensor_dense(part1, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, B, SQ, HQ, D)};
    attnc_tensor lses[2] = {attnc_tensor_lse(l0, B, HQ, SQ),
                            attnc_tensor_lse(l1, B, HQ, SQ)};
    const int64_t cut[3] = {0, 13, SKV};
    for (int p = 0; p < 2; ++p) {
      attnc_tensor pk = tk, pv = tv;
      pk.data = k + cut[p] * tk.strides[2];
      pv.data = v + cut[p] * tv.strides[2];
      pk.sizes[2] = pv.sizes[2] = cut[p + 1] - cut[p];
      CHECK(attnc_kernel_run(unmasked, &tq, &pk, &pv, &parts[p], &lses[p], 1, NULL) ==
                ATTNC_OK, "%s", attnc_last_error());
    }
    attnc_tensor tw = attnc_tensor_dense(whole, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, B, SQ, HQ, D);
    attnc_tensor tm = attnc_tensor_dense(merged, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, B, SQ, HQ, D);
    attnc_tensor tlm = attnc_tensor_lse(lm, B, HQ, SQ);
    CHECK(attnc_kernel_run(unmasked, &tq, &tk, &tv, &tw, &tl, 1, NULL) == ATTNC_OK,
          "%s", attnc_last_error());
    attnc_merge_args margs = {parts, lses, 2, &tm, &tlm, ATTNC_TARGET_CPU, 0, NULL};
    CHECK(attnc_merge(&margs) == ATTNC_OK, "%s", attnc_last_error());
    double worst = 0, worst_lse = 0;
    for (size_t i = 0; i < sizeof merged / sizeof *merged; ++i)
      worst = fmax(worst, fabs(merged[i] - whole[i]));
    for (size_t i = 0; i < sizeof lm / sizeof *lm; ++i)
      worst_lse = fmax(worst_lse, fabs(lm[i] - lse[i]));
    CHECK(worst < 1e-5 && worst_lse < 1e-5, "merge: max error %g, lse %g", worst,
          worst_lse);
    /* The CUDA kernel, emulated: the same result within f32 rounding. */
    {
      static float emulated[B * SQ * HQ * D];
      attnc_tensor te = attnc_tensor_dense(emulated, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, B, SQ, HQ, D);
      attnc_merge_args sim = margs;
      sim.o = &te;
      sim.lse = NULL;
      sim.target = ATTNC_TARGET_CUDA_SIM;
      CHECK(attnc_merge(&sim) == ATTNC_OK, "%s", attnc_last_error());
      double diff = 0;
      for (size_t i = 0; i < sizeof emulated / sizeof *emulated; ++i)
        diff = fmax(diff, fabs(emulated[i] - merged[i]));
      CHECK(diff < 1e-6, "cuda-sim merge: max difference %g", diff);
    }
    /* The CUDA target takes device addresses: here only its argument
     * checks, and without a driver its status (these buffers are host
     * memory, which a GPU must not be given). */
    margs.target = ATTNC_TARGET_CUDA;
    margs.threads = 1;
    CHECK_ERROR(attnc_merge(&margs), ATTNC_ERROR_INVALID_ARGUMENT,
                "threads must be 0 for the CUDA target");
    margs.threads = 0;
    void *cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!cuda)
      CHECK_ERROR(attnc_merge(&margs), ATTNC_ERROR_NO_DEVICE, "no CUDA driver");
    else
      dlclose(cuda);
    margs.target = ATTNC_TARGET_CPU;
    tlm.data = NULL;
    CHECK_ERROR(attnc_merge(&margs), ATTNC_ERROR_INVALID_ARGUMENT,
                "lse->data is NULL (pass lse = NULL to skip the merged LSE)");
    tlm.data = lm;
    margs.num_parts = 0;
    CHECK_ERROR(attnc_merge(&margs), ATTNC_ERROR_INVALID_ARGUMENT,
                "num_parts (0) must be in [1, 2^20]");
    margs.num_parts = 2;
    margs.threads = -1;
    CHECK_ERROR(attnc_merge(&margs), ATTNC_ERROR_INVALID_ARGUMENT,
                "threads must be >= 0, got -1");
    margs.threads = 0;
    margs.stream = &margs;
    CHECK_ERROR(attnc_merge(&margs), ATTNC_ERROR_INVALID_ARGUMENT,
                "stream must be NULL for attnc_merge");
    margs.stream = NULL;
    margs.target = (attnc_target)7;
    CHECK_ERROR(attnc_merge(&margs), ATTNC_ERROR_UNSUPPORTED,
                "target (7) is not an attnc_target");
    margs.target = ATTNC_TARGET_CPU;
    margs.o = NULL;
    CHECK_ERROR(attnc_merge(&margs), ATTNC_ERROR_INVALID_ARGUMENT,
                "args and args->o must not be NULL");
    margs.o = &tm;
    margs.num_parts = 2;
    parts[1].sizes[2] = 5;
    CHECK_ERROR(attnc_merge(&margs), ATTNC_ERROR_INVALID_ARGUMENT,
                "outputs[1]: shape [2, 4, 5, 24] differs from o's [2, 4, 17, 24]");
    parts[1].sizes[2] = SQ;
    attnc_kernel_destroy(unmasked);
  }

  /* Run-time errors: wrong shapes, missing LSE, a stream on the CPU. */
  attnc_tensor bad = tq;
  bad.sizes[1] = 8;
  CHECK_ERROR(attnc_kernel_run(kernel, &bad, &tk, &tv, &to, &tl, 0, NULL),
              ATTNC_ERROR_INVALID_ARGUMENT,
              "q: has 8 heads, but the kernel has q_heads = 4");
  CHECK_ERROR(attnc_kernel_run(kernel, &tq, &tk, &tv, &to, NULL, 0, NULL),
              ATTNC_ERROR_INVALID_ARGUMENT, "no lse buffer was given");
  CHECK_ERROR(attnc_kernel_run(kernel, &tq, &tk, &tv, &to, &tl, 0, (void *)1),
              ATTNC_ERROR_INVALID_ARGUMENT, "stream must be NULL");
  CHECK_ERROR(attnc_kernel_run(kernel, &tq, &tk, &tv, &to, &tl, -1, NULL),
              ATTNC_ERROR_INVALID_ARGUMENT, "threads must be >= 0, got -1");
  CHECK_ERROR(attnc_kernel_run(kernel, NULL, &tk, &tv, &to, &tl, 0, NULL),
              ATTNC_ERROR_INVALID_ARGUMENT, "must not be NULL");
  /* Tensors carry their element type; this CPU kernel takes f32. */
  bad = tk;
  bad.dtype = (attnc_dtype)9;
  CHECK_ERROR(attnc_kernel_run(kernel, &tq, &bad, &tv, &to, &tl, 0, NULL),
              ATTNC_ERROR_INVALID_ARGUMENT, "k->dtype (9) is not an attnc_dtype");
  bad.dtype = ATTNC_DTYPE_F16;
  CHECK_ERROR(attnc_kernel_run(kernel, &tq, &bad, &tv, &to, &tl, 0, NULL),
              ATTNC_ERROR_INVALID_ARGUMENT,
              "k: element type is f16, but the kernel's kv_element_type is f32");
  attnc_kernel_destroy(kernel);

  /* ALiBi from the spec struct is the same kernel as from attn text: the
   * same output, bit for bit, and not the output without it. */
  {
    static float with_struct[B * SQ * HQ * D], with_text[B * SQ * HQ * D];
    attnc_spec a = spec;
    a.name = "c_api_alibi";
    a.lse = 0;
    a.alibi = 1;
    attnc_kernel *from_struct = NULL, *from_text = NULL;
    CHECK(attnc_kernel_create(&a, ATTNC_TARGET_CPU, &from_struct) == ATTNC_OK,
          "%s", attnc_last_error());
    CHECK(attnc_kernel_create_from_mlir(
              "attn.kernel @c_api_alibi attributes {q_heads = 4, kv_heads = 2, "
              "d_qk = 24, element_type = f32, mask = #attn.mask<causal, "
              "bottom_right>, score_mod = #attn.score_mod<alibi>}",
              ATTNC_TARGET_CPU, &from_text) == ATTNC_OK,
          "%s", attnc_last_error());
    attnc_tensor t1 = attnc_tensor_dense(with_struct, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, B, SQ, HQ, D);
    attnc_tensor t2 = attnc_tensor_dense(with_text, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, B, SQ, HQ, D);
    CHECK(attnc_kernel_run(from_struct, &tq, &tk, &tv, &t1, NULL, 1, NULL) == ATTNC_OK,
          "%s", attnc_last_error());
    CHECK(attnc_kernel_run(from_text, &tq, &tk, &tv, &t2, NULL, 1, NULL) == ATTNC_OK,
          "%s", attnc_last_error());
    CHECK(memcmp(with_struct, with_text, sizeof with_struct) == 0,
          "spec-struct ALiBi differs from attn-text ALiBi");
    CHECK(memcmp(with_struct, o, sizeof with_struct) != 0,
          "ALiBi changed nothing");
    attnc_kernel_destroy(from_struct);
    attnc_kernel_destroy(from_text);
  }

  /* Creation errors: each named. */
  attnc_kernel *none = NULL;
  attnc_spec s = spec;
  s.kv_heads = 3;
  CHECK_ERROR(attnc_kernel_create(&s, ATTNC_TARGET_CPU, &none),
              ATTNC_ERROR_INVALID_SPEC, "kv_heads (3) must divide q_heads (4)");
  CHECK(none == NULL, "no handle on failure");
  s = spec;
  s.alignment = ATTNC_ALIGN_UNSET;
  CHECK_ERROR(attnc_kernel_create(&s, ATTNC_TARGET_CPU, &none),
              ATTNC_ERROR_INVALID_SPEC,
              "causal mask requires an explicit alignment");
  s = spec;
  s.name = "not a name";
  CHECK_ERROR(attnc_kernel_create(&s, ATTNC_TARGET_CPU, &none),
              ATTNC_ERROR_INVALID_ARGUMENT, "must be an identifier");
  s = spec;
  s.mask = (attnc_mask)9;
  CHECK_ERROR(attnc_kernel_create(&s, ATTNC_TARGET_CPU, &none),
              ATTNC_ERROR_INVALID_ARGUMENT, "spec->mask (9) is not an attnc_mask");
  /* Any int a C caller stores in an enum field is checked (fuzzing found
   * the C++ side reading layout 2 as its enum: undefined behaviour). */
  s = spec;
  s.layout = (attnc_layout)4;
  CHECK_ERROR(attnc_kernel_create(&s, ATTNC_TARGET_CPU, &none),
              ATTNC_ERROR_INVALID_ARGUMENT, "spec->layout (4) is not an attnc_layout");
  s = spec;
  s.alignment = (attnc_alignment)-1;
  CHECK_ERROR(attnc_kernel_create(&s, ATTNC_TARGET_CPU, &none),
              ATTNC_ERROR_INVALID_ARGUMENT,
              "spec->alignment (-1) is not an attnc_alignment");
  CHECK_ERROR(attnc_kernel_create(&spec, (attnc_target)3, &none),
              ATTNC_ERROR_INVALID_ARGUMENT, "target (3) is not an attnc_target");
  CHECK_ERROR(attnc_kernel_create(NULL, ATTNC_TARGET_CPU, &none),
              ATTNC_ERROR_INVALID_ARGUMENT, "spec is NULL");
  CHECK_ERROR(attnc_kernel_create(&spec, ATTNC_TARGET_CPU, NULL),
              ATTNC_ERROR_INVALID_ARGUMENT, "out is NULL");
  /* The CUDA target checks the spec for the GPU when the handle is made. */
  CHECK_ERROR(attnc_kernel_create(&spec, ATTNC_TARGET_CUDA, &none),
              ATTNC_ERROR_UNSUPPORTED,
              "the cuda backend needs element_type f16 or bf16, got 'f32'");
  s = spec;
  s.dtype = (attnc_dtype)7;
  CHECK_ERROR(attnc_kernel_create(&s, ATTNC_TARGET_CUDA, &none),
              ATTNC_ERROR_INVALID_ARGUMENT,
              "spec->dtype (7) must be ATTNC_DTYPE_F32, _F16 or _BF16");
  s = spec;
  s.kv_dtype = (attnc_dtype)5;
  CHECK_ERROR(attnc_kernel_create(&s, ATTNC_TARGET_CPU, &none),
              ATTNC_ERROR_INVALID_ARGUMENT,
              "spec->kv_dtype (5) must be ATTNC_DTYPE_F32 (the same as dtype), "
              "_F16 or _BF16");
  /* An f32 kernel reading a bf16 KV cache: k and v are bf16 bit patterns
   * (rounded to nearest even here), q and o f32; checked against the
   * reference on the rounded values. */
  {
    static uint16_t k16[B * SKV * HKV * D], v16[B * SKV * HKV * D];
    static float kr[B * SKV * HKV * D], vr[B * SKV * HKV * D];
    for (size_t i = 0; i < sizeof k16 / sizeof *k16; ++i) {
      k16[i] = to_bf16(k[i]);
      v16[i] = to_bf16(v[i]);
      kr[i] = from_bf16(k16[i]);
      vr[i] = from_bf16(v16[i]);
    }
    s = spec;
    s.name = "c_api_bf16_kv";
    s.kv_dtype = ATTNC_DTYPE_BF16;
    attnc_kernel *mixed = NULL;
    CHECK(attnc_kernel_create(&s, ATTNC_TARGET_CPU, &mixed) == ATTNC_OK, "%s",
          attnc_last_error());
    for (size_t i = 0; i < sizeof o / sizeof *o; ++i)
      o[i] = NAN; /* an output the run does not write shows up */
    attnc_tensor hk = attnc_tensor_dense(k16, ATTNC_DTYPE_BF16, ATTNC_LAYOUT_BSHD, B, SKV, HKV, D);
    attnc_tensor hv = attnc_tensor_dense(v16, ATTNC_DTYPE_BF16, ATTNC_LAYOUT_BSHD, B, SKV, HKV, D);
    CHECK(attnc_kernel_run(mixed, &tq, &hk, &hv, &to, &tl, 1, NULL) == ATTNC_OK,
          "%s", attnc_last_error());
    double worst = max_error(o, q, kr, vr, B, SQ, SKV, HQ, HKV, D);
    CHECK(worst < 1e-5, "bf16 KV cache: max error %g", worst);
    CHECK_ERROR(attnc_kernel_run(mixed, &tq, &tk, &hv, &to, &tl, 1, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "k: element type is f32, but the kernel's kv_element_type is bf16");
    attnc_kernel_destroy(mixed);
  }
  s = spec;
  s.dtype = ATTNC_DTYPE_BF16;
  s.kv_dtype = ATTNC_DTYPE_F16;
  CHECK_ERROR(attnc_kernel_create(&s, ATTNC_TARGET_CUDA, &none),
              ATTNC_ERROR_UNSUPPORTED,
              "the cuda backend does not support kv_element_type different "
              "from element_type yet");
  s.kv_dtype = ATTNC_DTYPE_F32; /* the same as dtype */
  {
    attnc_kernel *gpu = NULL;
    CHECK(attnc_kernel_create(&s, ATTNC_TARGET_CUDA, &gpu) == ATTNC_OK, "%s",
          attnc_last_error());
    CHECK_ERROR(attnc_kernel_run(gpu, &tq, &tk, &tv, &to, NULL, 2, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT, "threads must be 0 for the CUDA target");
    void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!driver) {
      /* No GPU here: compiling says so with its own status. */
      CHECK_ERROR(attnc_kernel_compile(gpu), ATTNC_ERROR_NO_DEVICE,
                  "no CUDA driver");
    } else {
      CHECK(attnc_kernel_compile(gpu) == ATTNC_OK, "%s", attnc_last_error());
      dlclose(driver);
    }
    attnc_kernel_destroy(gpu);
  }
  CHECK_ERROR(attnc_kernel_create_from_mlir(
                  "attn.kernel @h attributes {q_heads = 4, d_qk = 64, "
                  "element_type = f32, variant = #attn.variant<linear>}",
                  ATTNC_TARGET_CPU, &none),
              ATTNC_ERROR_UNSUPPORTED,
              "is variant linear: the cpu backend compiles softmax attention; run linear attention with LinearKernel");
  CHECK_ERROR(attnc_kernel_create_from_mlir("attn.kernel @", ATTNC_TARGET_CPU,
                                            &none),
              ATTNC_ERROR_INVALID_SPEC, "invalid kernel spec");

  /* The CPU target still works after the CUDA errors, from MLIR text. */
  attnc_kernel *text = NULL;
  CHECK(attnc_kernel_create_from_mlir(
            "attn.kernel @from_text attributes {q_heads = 4, kv_heads = 2, "
            "d_qk = 24, element_type = f32, mask = #attn.mask<causal, "
            "bottom_right>}",
            ATTNC_TARGET_CPU, &text) == ATTNC_OK,
        "%s", attnc_last_error());
  memset(o, 0, sizeof o);
  CHECK(attnc_kernel_run(text, &tq, &tk, &tv, &to, NULL, 1, NULL) == ATTNC_OK,
        "%s", attnc_last_error());
  CHECK(fabs(o[5] - reference(q, k, v, SQ, SKV, HQ, HKV, D, 0, 0, 0, 5)) < 1e-5,
        "text kernel output");
  attnc_kernel_destroy(text);

  /* A custom mask reading a declared input: packed documents. */
  {
    static int32_t doc[SKV];
    for (int j = 0; j < SKV; ++j)
      doc[j] = j < 12 ? 0 : j < 20 ? 1 : 2;
    attnc_kernel *packed = NULL;
    CHECK(attnc_kernel_create_from_mlir(
              "attn.kernel @documents attributes {q_heads = 4, kv_heads = 2, "
              "d_qk = 24, element_type = f32, mask = #attn.mask<custom>, "
              "inputs = [#attn.input<\"doc\", i32, [seq_kv]>]} mask {\n"
              "^bb0(%b: index, %h: index, %q: index, %k: index):\n"
              "  %dq = attn.load @doc[%q] : i32\n"
              "  %dk = attn.load @doc[%k] : i32\n"
              "  %same = arith.cmpi eq, %dq, %dk : i32\n"
              "  attn.yield %same : i1\n}",
              ATTNC_TARGET_CPU, &packed) == ATTNC_OK,
          "%s", attnc_last_error());
    attnc_input in = {"doc", doc, ATTNC_DTYPE_I32, 1, {SKV}, {1}};
    memset(o, 0, sizeof o);
    CHECK(attnc_kernel_run_with_inputs(packed, &tq, &tk, &tv, &to, NULL, &in, 1,
                                       1, NULL) == ATTNC_OK,
          "%s", attnc_last_error());
    /* Row 15 (document 1) attends to keys 12..19 only: compare one output
     * with a direct computation. */
    {
      int i = 15, h = 1, kvh = 0, c = 3;
      double m = -INFINITY, sum = 0, want = 0, s[SKV];
      for (int j = 12; j < 20; ++j) {
        double dot = 0;
        for (int e = 0; e < D; ++e)
          dot += (double)q[(i * HQ + h) * D + e] * k[(j * HKV + kvh) * D + e];
        s[j] = dot / sqrt((double)D);
        if (s[j] > m)
          m = s[j];
      }
      for (int j = 12; j < 20; ++j) {
        double p = exp(s[j] - m);
        sum += p;
        want += p * v[(j * HKV + kvh) * D + c];
      }
      want /= sum;
      CHECK(fabs(o[(i * HQ + h) * D + c] - want) < 1e-5, "document mask output %g vs %g",
            o[(i * HQ + h) * D + c], want);
    }
    CHECK_ERROR(attnc_kernel_run(packed, &tq, &tk, &tv, &to, NULL, 1, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "input 'doc': kernel @documents declares it, but the call does "
                "not give it");
    attnc_input wrong = in;
    wrong.sizes[0] = SKV - 1;
    CHECK_ERROR(attnc_kernel_run_with_inputs(packed, &tq, &tk, &tv, &to, NULL,
                                             &wrong, 1, 1, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "input 'doc': dimension 0 (seq_kv) has size 32, but the call has 33");
    wrong = in;
    wrong.dtype = ATTNC_DTYPE_F32;
    CHECK_ERROR(attnc_kernel_run_with_inputs(packed, &tq, &tk, &tv, &to, NULL,
                                             &wrong, 1, 1, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "input 'doc': element type is f32, but the kernel declares i32");
    wrong = in;
    wrong.name = "docs";
    CHECK_ERROR(attnc_kernel_run_with_inputs(packed, &tq, &tk, &tv, &to, NULL,
                                             &wrong, 1, 1, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "input 'docs' is not declared by kernel @documents (it declares: doc)");
    wrong = in;
    wrong.rank = 5;
    CHECK_ERROR(attnc_kernel_run_with_inputs(packed, &tq, &tk, &tv, &to, NULL,
                                             &wrong, 1, 1, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "inputs[0] ('doc'): rank (5) must be in [0, 4]");
    /* Hostile input tables: each is refused by name, nothing is read. */
    CHECK_ERROR(attnc_kernel_run_with_inputs(packed, &tq, &tk, &tv, &to, NULL,
                                             &in, 65, 1, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "num_inputs (65) must be in [0, 64], with inputs non-NULL when "
                "it is not 0");
    CHECK_ERROR(attnc_kernel_run_with_inputs(packed, &tq, &tk, &tv, &to, NULL,
                                             NULL, 1, 1, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT, "num_inputs (1) must be in [0, 64]");
    CHECK_ERROR(attnc_kernel_run_with_inputs(packed, &tq, &tk, &tv, &to, NULL,
                                             &in, -1, 1, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT, "num_inputs (-1) must be in [0, 64]");
    wrong = in;
    wrong.name = NULL;
    CHECK_ERROR(attnc_kernel_run_with_inputs(packed, &tq, &tk, &tv, &to, NULL,
                                             &wrong, 1, 1, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT, "inputs[0].name is NULL");
    wrong = in;
    wrong.dtype = (attnc_dtype)99;
    CHECK_ERROR(attnc_kernel_run_with_inputs(packed, &tq, &tk, &tv, &to, NULL,
                                             &wrong, 1, 1, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "inputs[0] ('doc'): dtype (99) is not an attnc_dtype");
    wrong = in;
    wrong.strides[0] = -1;
    CHECK_ERROR(attnc_kernel_run_with_inputs(packed, &tq, &tk, &tv, &to, NULL,
                                             &wrong, 1, 1, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "input 'doc': stride 0 is -1; strides must be >= 0");
    {
      /* Sizes and strides that would wrap the kernel's offsets. */
      attnc_tensor huge = tk;
      huge.strides[0] = (int64_t)1 << 62;
      huge.sizes[0] = 4;
      CHECK_ERROR(attnc_kernel_run(packed, &tq, &huge, &tv, &to, NULL, 1, NULL),
                  ATTNC_ERROR_INVALID_ARGUMENT, "span more than 2^56 elements");
    }
    attnc_kernel_destroy(packed);
  }
  /* A block-sparse kernel: its block mask built from its own (causal)
   * mask, then the run; the output is the dense causal one. */
  {
    attnc_kernel *sparse = NULL;
    CHECK(attnc_kernel_create_from_mlir(
              "attn.kernel @blocks attributes {q_heads = 4, kv_heads = 2, "
              "d_qk = 24, element_type = f32, mask = #attn.mask<causal, "
              "bottom_right>, block_sparse = #attn.block_sparse<block_q = 16, "
              "block_kv = 16>}",
              ATTNC_TARGET_CPU, &sparse) == ATTNC_OK,
          "%s", attnc_last_error());
    attnc_block_mask *mask = NULL;
    CHECK(attnc_block_mask_build(sparse, B, SQ, SKV, NULL, 0, &mask) == ATTNC_OK,
          "%s", attnc_last_error());
    attnc_block_mask_view view = attnc_block_mask_get(mask);
    CHECK(view.q_blocks == 2 && view.kv_blocks == 3 && view.batch == 1 &&
              view.heads == 1,
          "block mask shape %lld %lld %lld %lld", (long long)view.q_blocks,
          (long long)view.kv_blocks, (long long)view.batch, (long long)view.heads);
    /* 17 x 33 bottom-right causal: query block 0 sees kv blocks 0 (full)
     * and 1 (partial), block 1 sees all three. */
    CHECK(view.full_kv_num_blocks[0] == 1 && view.kv_num_blocks[0] == 1,
          "query block 0: %d full, %d partial", view.full_kv_num_blocks[0],
          view.kv_num_blocks[0]);
    CHECK(fabs(attnc_block_mask_density(mask) - 5.0 / 6.0) < 1e-12, "density %g",
          attnc_block_mask_density(mask));
    memset(o, 0, sizeof o);
    attnc_run_args args = {&tq, &tk, &tv, &to, NULL, NULL, 0, &view, 1, NULL};
    CHECK(attnc_kernel_run_args(sparse, &args) == ATTNC_OK, "%s",
          attnc_last_error());
    CHECK(fabs(o[(16 * HQ + 3) * D + 5] -
               reference(q, k, v, SQ, SKV, HQ, HKV, D, 0, 3, 16, 5)) < 1e-5,
          "block-sparse output");
    CHECK_ERROR(attnc_kernel_run(sparse, &tq, &tk, &tv, &to, NULL, 1, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "block mask: kernel @blocks is block-sparse (block_q = 16, "
                "block_kv = 16); give its block mask");
    attnc_block_mask_view broken = view;
    broken.full_kv_indices = NULL;
    args.block_mask = &broken;
    CHECK_ERROR(attnc_kernel_run_args(sparse, &args), ATTNC_ERROR_INVALID_ARGUMENT,
                "block_mask: every array must be non-NULL");
    broken = view;
    broken.q_blocks = (int64_t)1 << 40;
    CHECK_ERROR(attnc_kernel_run_args(sparse, &args), ATTNC_ERROR_INVALID_ARGUMENT,
                "block mask: kv_num_blocks has shape [1, 1, 1099511627776]; it "
                "must be [1, 1, 2]");
    attnc_block_mask *none = NULL;
    CHECK_ERROR(attnc_block_mask_build(sparse, 0, SQ,
                                       SKV, NULL, 0, &none),
                ATTNC_ERROR_INVALID_ARGUMENT, "batch (0) must be >= 1");
    /* A shape whose block mask could not be allocated is an error, not an
     * abort. */
    CHECK_ERROR(attnc_block_mask_build(sparse, 1, (int64_t)1 << 40,
                                       (int64_t)1 << 40, NULL, 0, &none),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "block mask: 1 x 1 x 68719476736 query blocks x 68719476736 kv "
                "blocks is more than 2^28 entries");
    CHECK(none == NULL, "no block mask on failure");
    attnc_block_mask_destroy(mask);
    attnc_kernel_destroy(sparse);
    attnc_kernel *dense = NULL;
    CHECK(attnc_kernel_create(&spec, ATTNC_TARGET_CPU, &dense) == ATTNC_OK, "%s",
          attnc_last_error());
    CHECK_ERROR(attnc_block_mask_build(dense, B, SQ, SKV, NULL, 0, &none),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "kernel @c_api_kernel is not block-sparse");
    attnc_kernel_destroy(dense);
  }

  /* The emulated CUDA target: the CUDA kernel text on the CPU, f16 host
   * buffers laid out as for the GPU (16-byte aligned). */
  {
    static _Float16 hq[SQ * HQ * 32] __attribute__((aligned(16)));
    static _Float16 hk[SKV * HKV * 32] __attribute__((aligned(16)));
    static _Float16 hv[SKV * HKV * 32] __attribute__((aligned(16)));
    static _Float16 ho[SQ * HQ * 32] __attribute__((aligned(16)));
    static float fq[SQ * HQ * 32], fk[SKV * HKV * 32], fv[SKV * HKV * 32];
    for (int i = 0; i < SQ * HQ * 32; ++i)
      fq[i] = (float)(hq[i] = (_Float16)((float)rand() / RAND_MAX - 0.5f));
    for (int i = 0; i < SKV * HKV * 32; ++i) {
      fk[i] = (float)(hk[i] = (_Float16)((float)rand() / RAND_MAX - 0.5f));
      fv[i] = (float)(hv[i] = (_Float16)((float)rand() / RAND_MAX - 0.5f));
    }
    attnc_kernel *sim = NULL;
    CHECK(attnc_kernel_create_from_mlir(
              "attn.kernel @emulated attributes {q_heads = 4, kv_heads = 2, "
              "d_qk = 32, element_type = f16, mask = #attn.mask<causal, "
              "bottom_right>}",
              ATTNC_TARGET_CUDA_SIM, &sim) == ATTNC_OK,
          "%s", attnc_last_error());
    attnc_status compiled = attnc_kernel_compile(sim);
    if (compiled != ATTNC_OK &&
        strstr(attnc_last_error(), "compiler") != NULL) {
      printf("skipped the CUDA_SIM checks (no host C++ compiler): %s\n",
             attnc_last_error());
    } else {
      CHECK(compiled == ATTNC_OK, "%s", attnc_last_error());
      attnc_tensor sq = attnc_tensor_dense(hq, ATTNC_DTYPE_F16, ATTNC_LAYOUT_BSHD, 1, SQ, HQ, 32);
      attnc_tensor sk = attnc_tensor_dense(hk, ATTNC_DTYPE_F16, ATTNC_LAYOUT_BSHD, 1, SKV, HKV, 32);
      attnc_tensor sv = attnc_tensor_dense(hv, ATTNC_DTYPE_F16, ATTNC_LAYOUT_BSHD, 1, SKV, HKV, 32);
      attnc_tensor so = attnc_tensor_dense(ho, ATTNC_DTYPE_F16, ATTNC_LAYOUT_BSHD, 1, SQ, HQ, 32);
      CHECK(attnc_kernel_run(sim, &sq, &sk, &sv, &so, NULL, 1, NULL) == ATTNC_OK,
            "%s", attnc_last_error());
      double worst = 0;
      for (int h = 0; h < HQ; ++h)
        for (int i = 0; i < SQ; ++i)
          for (int c = 0; c < 32; c += 7) {
            double want = reference(fq, fk, fv, SQ, SKV, HQ, HKV, 32, 0, h, i, c);
            double diff = fabs((double)ho[(i * HQ + h) * 32 + c] - want);
            if (diff > worst)
              worst = diff;
          }
      CHECK(worst < 4e-3, "emulated f16 output off by %g", worst);
      CHECK_ERROR(attnc_kernel_run(sim, &sq, &sk, &sv, &so, NULL, 0, (void *)1),
                  ATTNC_ERROR_INVALID_ARGUMENT,
                  "stream must be NULL for the CUDA_SIM target");
      attnc_tensor misaligned = sq;
      misaligned.data = hq + 1;
      CHECK_ERROR(attnc_kernel_run(sim, &misaligned, &sk, &sv, &so, NULL, 0, NULL),
                  ATTNC_ERROR_INVALID_ARGUMENT, "q: the address must be 16-byte aligned");
    }
    attnc_kernel_destroy(sim);
  }
  /* Varlen and paged calls (docs/serving.md): the B dense sequences above,
   * packed (varlen) and in shuffled pages of 5 keys (paged, from
   * FlashInfer's CSR through attnc_block_table_from_csr), must give the
   * dense answer. */
  {
    static float o2[B * SQ * HQ * D];
    attnc_spec vs = spec;
    vs.name = "c_varlen";
    vs.lse = 0;
    vs.layout = ATTNC_LAYOUT_VARLEN;
    attnc_kernel *varlen = NULL;
    CHECK(attnc_kernel_create(&vs, ATTNC_TARGET_CPU, &varlen) == ATTNC_OK, "%s",
          attnc_last_error());
    int32_t cu_q[B + 1] = {0, SQ, 2 * SQ}, cu_k[B + 1] = {0, SKV, 2 * SKV};
    attnc_tensor pq = attnc_tensor_dense(q, ATTNC_DTYPE_F32, ATTNC_LAYOUT_VARLEN, 1, B * SQ, HQ, D);
    attnc_tensor pk = attnc_tensor_dense(k, ATTNC_DTYPE_F32, ATTNC_LAYOUT_VARLEN, 1, B * SKV, HKV, D);
    attnc_tensor pv = attnc_tensor_dense(v, ATTNC_DTYPE_F32, ATTNC_LAYOUT_VARLEN, 1, B * SKV, HKV, D);
    attnc_tensor po = attnc_tensor_dense(o2, ATTNC_DTYPE_F32, ATTNC_LAYOUT_VARLEN, 1, B * SQ, HQ, D);
    attnc_run_args ra = {&pq, &pk, &pv, &po, NULL, NULL, 0, NULL, 2, NULL};
    attnc_sequences seqs = attnc_sequences_init();
    seqs.batch = B;
    seqs.cu_seqlens_q = cu_q;
    seqs.cu_seqlens_k = cu_k;
    memset(o2, 0xff, sizeof o2); /* NaN: every row must be written */
    CHECK(attnc_kernel_run_sequences(varlen, &ra, &seqs) == ATTNC_OK, "%s",
          attnc_last_error());
    err = max_error(o2, q, k, v, B, SQ, SKV, HQ, HKV, D);
    CHECK(err < 1e-5, "varlen max error %g", err);
    CHECK_ERROR(attnc_kernel_run_args(varlen, &ra), ATTNC_ERROR_INVALID_ARGUMENT,
                "kernel @c_varlen has layout varlen: run it with "
                "attnc_kernel_run_sequences");
    CHECK_ERROR(attnc_kernel_run_sequences(varlen, &ra, NULL),
                ATTNC_ERROR_INVALID_ARGUMENT, "sequences is NULL");
    cu_k[1] = 2 * SKV + 1;
    CHECK_ERROR(attnc_kernel_run_sequences(varlen, &ra, &seqs),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "cu_seqlens_k must not decrease: cu_seqlens_k[2] = 66 is below "
                "cu_seqlens_k[1] = 67");
    attnc_kernel_destroy(varlen);

    enum { PS = 5, PER = (SKV + PS - 1) / PS, PAGES = B * PER + 3 };
    static float kp[PAGES * PS * HKV * D], vp[PAGES * PS * HKV * D];
    int32_t indptr[B + 1] = {0, PER, 2 * PER}, indices[B * PER];
    int32_t lens[B] = {SKV, SKV}, table[B * (PER + 1)];
    for (int i = 0; i < B * PER; ++i)
      indices[i] = (i * 7 + 2) % PAGES; /* distinct: 7 is coprime to 17 pages */
    CHECK(attnc_block_table_from_csr(indptr, indices, B * PER, B, table, PER + 1) == ATTNC_OK,
          "%s", attnc_last_error());
    CHECK(table[PER] == -1 && table[1] == indices[1], "block table %d %d",
          table[PER], table[1]);
    for (int b = 0; b < B; ++b)
      for (int j = 0; j < SKV; ++j) {
        int page = indices[b * PER + j / PS];
        for (int h = 0; h < HKV; ++h)
          for (int e = 0; e < D; ++e) {
            kp[((page * PS + j % PS) * HKV + h) * D + e] = k[((b * SKV + j) * HKV + h) * D + e];
            vp[((page * PS + j % PS) * HKV + h) * D + e] = v[((b * SKV + j) * HKV + h) * D + e];
          }
      }
    attnc_spec ps = vs;
    ps.name = "c_paged";
    ps.layout = ATTNC_LAYOUT_PAGED;
    attnc_kernel *paged = NULL;
    CHECK(attnc_kernel_create(&ps, ATTNC_TARGET_CPU, &paged) == ATTNC_OK, "%s",
          attnc_last_error());
    attnc_tensor kt = attnc_tensor_pages(kp, ATTNC_DTYPE_F32, PAGES, PS, HKV, D);
    attnc_tensor vt = attnc_tensor_pages(vp, ATTNC_DTYPE_F32, PAGES, PS, HKV, D);
    attnc_run_args pa = {&tq, &kt, &vt, &to, NULL, NULL, 0, NULL, 2, NULL};
    attnc_sequences pseq = attnc_sequences_init();
    pseq.batch = B;
    pseq.block_table = table;
    pseq.max_pages = PER + 1;
    pseq.cache_seqlens = lens;
    memset(o, 0xff, sizeof o);
    CHECK(attnc_kernel_run_sequences(paged, &pa, &pseq) == ATTNC_OK, "%s",
          attnc_last_error());
    err = max_error(o, q, k, v, B, SQ, SKV, HQ, HKV, D);
    CHECK(err < 1e-5, "paged max error %g", err);
    table[1] = PAGES;
    CHECK_ERROR(attnc_kernel_run_sequences(paged, &pa, &pseq),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "block_table[0, 1] = 17 (page 1 of sequence 0) is not a page of "
                "the pools (0 <= id < 17)");
    indptr[1] = 9;
    CHECK_ERROR(attnc_block_table_from_csr(indptr, indices, B * PER, B, table, PER + 1),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "sequence 0 has 9 pages, more than max_pages (8)");
    indptr[1] = PER;
    indptr[2] = 2 * PER + 1;
    CHECK_ERROR(attnc_block_table_from_csr(indptr, indices, B * PER, B, table, PER + 1),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "kv_indptr[2] = 15 is past num_kv_indices (14)");
    CHECK_ERROR(attnc_block_table_from_csr(indptr, NULL, 4, B, table, PER + 1),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "kv_indptr and block_table must not be NULL, nor kv_indices");
    indptr[0] = 1;
    CHECK_ERROR(attnc_block_table_from_csr(indptr, indices, B * PER, B, table, PER + 1),
                ATTNC_ERROR_INVALID_ARGUMENT, "kv_indptr[0] must be 0, got 1");
    CHECK_ERROR(attnc_block_table_from_csr(indptr, indices, B * PER, -1, table, PER + 1),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "batch (-1) must be in [0, 2^24], max_pages (8) in [1, 2^31]");
    pseq.struct_size = 8;
    CHECK_ERROR(attnc_kernel_run_sequences(paged, &pa, &pseq),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "sequences->struct_size (8) must be sizeof(attnc_sequences)");
    pseq = attnc_sequences_init();
    pseq.batch = -2;
    CHECK_ERROR(attnc_kernel_run_sequences(paged, &pa, &pseq),
                ATTNC_ERROR_INVALID_ARGUMENT,
                "sequences: batch (-2) must be in [0, 2^24]");
    attnc_kernel_destroy(paged);
  }

  /* Attention weights (probs = true, from dialect text): every P row
   * equals the double-precision softmax of its scores, 0 where masked. */
  {
    static float probs[B * HQ * SQ * SKV], po[B * SQ * HQ * D];
    attnc_kernel *pk = NULL;
    CHECK(attnc_kernel_create_from_mlir(
              "attn.kernel @c_api_probs attributes {q_heads = 4, kv_heads = 2, "
              "d_qk = 24, element_type = f32, mask = #attn.mask<causal, "
              "bottom_right>, probs = true}",
              ATTNC_TARGET_CPU, &pk) == ATTNC_OK,
          "%s", attnc_last_error());
    for (size_t i = 0; i < sizeof probs / sizeof *probs; ++i)
      probs[i] = NAN;
    attnc_tensor tpo = attnc_tensor_dense(po, ATTNC_DTYPE_F32, ATTNC_LAYOUT_BSHD, B, SQ, HQ, D);
    attnc_tensor tp = attnc_tensor_probs(probs, B, HQ, SQ, SKV);
    attnc_run_args pa = {&tq, &tk, &tv, &tpo, NULL, NULL, 0, NULL, 1, NULL};
    CHECK(attnc_kernel_run_probs(pk, &pa, &tp) == ATTNC_OK, "%s", attnc_last_error());
    double worst = 0;
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < HQ; ++h)
        for (int i = 0; i < SQ; ++i) {
          double s[SKV], m = -INFINITY, sum = 0;
          for (int j = 0; j < SKV; ++j) {
            s[j] = -INFINITY;
            if (j > i + SKV - SQ)
              continue;
            double dot = 0;
            for (int e = 0; e < D; ++e)
              dot += (double)q[((b * SQ + i) * HQ + h) * D + e] *
                     k[((b * SKV + j) * HKV + h / (HQ / HKV)) * D + e];
            s[j] = dot / sqrt((double)D);
            m = s[j] > m ? s[j] : m;
          }
          for (int j = 0; j < SKV; ++j)
            sum += s[j] > -INFINITY ? exp(s[j] - m) : 0;
          for (int j = 0; j < SKV; ++j) {
            double want = s[j] > -INFINITY ? exp(s[j] - m) / sum : 0;
            double diff = fabs(probs[((b * HQ + h) * SQ + i) * SKV + j] - want);
            if (!(diff <= worst)) /* a NaN (an unwritten weight) sticks */
              worst = diff;
          }
        }
    CHECK(worst < 1e-6, "max probs error %g", worst);
    double perr = max_error(po, q, k, v, B, SQ, SKV, HQ, HKV, D);
    CHECK(perr < 1e-5, "max output error %g", perr);
    CHECK_ERROR(attnc_kernel_run_args(pk, &pa), ATTNC_ERROR_INVALID_ARGUMENT,
                "probs: the kernel was compiled with probs = true, but no "
                "probs buffer was given");
    CHECK_ERROR(attnc_kernel_run_probs(pk, &pa, NULL), ATTNC_ERROR_INVALID_ARGUMENT,
                "probs must not be NULL (attnc_kernel_run_args runs kernels "
                "without probs)");
    attnc_tensor short_p = attnc_tensor_probs(probs, B, HQ, SQ, SKV - 1);
    CHECK_ERROR(attnc_kernel_run_probs(pk, &pa, &short_p), ATTNC_ERROR_INVALID_ARGUMENT,
                "probs: shape [2, 4, 17, 32] must be [batch, q_heads, seq_q, "
                "seq_kv] = [2, 4, 17, 33]");
    /* Sizes no buffer has: the helper's strides saturate and the boundary
     * refuses them, rather than the helper overflowing. */
    attnc_tensor huge_p = attnc_tensor_probs(probs, B, (int64_t)1 << 40,
                                             (int64_t)1 << 40, SKV);
    CHECK_ERROR(attnc_kernel_run_probs(pk, &pa, &huge_p), ATTNC_ERROR_INVALID_ARGUMENT,
                "span more than 2^56 elements");
    attnc_kernel *plain_k = NULL;
    CHECK(attnc_kernel_create(&spec, ATTNC_TARGET_CPU, &plain_k) == ATTNC_OK,
          "%s", attnc_last_error());
    attnc_run_args plain = {&tq, &tk, &tv, &to, &tl, NULL, 0, NULL, 1, NULL};
    CHECK_ERROR(attnc_kernel_run_probs(plain_k, &plain, &tp), ATTNC_ERROR_INVALID_ARGUMENT,
                "probs: a buffer was given, but the kernel was compiled with "
                "probs = false");
    attnc_kernel_destroy(plain_k);
    attnc_kernel_destroy(pk);
  }

  attnc_kernel_destroy(NULL); /* allowed */

  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
