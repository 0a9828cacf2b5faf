// GPU numerics: the CUDA backend against the float64 reference. Needs an
// NVIDIA GPU and driver; elsewhere the test is skipped and says why.
#include "TestUtil.h"

#include "runtime/Reference.h"
#include "runtime/cuda/CudaKernel.h"
#include "runtime/cuda/Driver.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace attnc;
using namespace attnc::cuda;

namespace {

uint16_t toBits(float x, bool bf16) {
  if (bf16) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    u += 0x7fff + ((u >> 16) & 1); // round to nearest even
    return static_cast<uint16_t>(u >> 16);
  }
  _Float16 h = static_cast<_Float16>(x);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}
float fromBits(uint16_t bits, bool bf16) {
  if (bf16) {
    uint32_t u = uint32_t(bits) << 16;
    float x;
    std::memcpy(&x, &u, 4);
    return x;
  }
  _Float16 h;
  std::memcpy(&h, &bits, 2);
  return static_cast<float>(h);
}
float roundTo(float x, bool bf16) { return fromBits(toBits(x, bf16), bf16); }

/// Naive attention as a framework runs it in f16/bf16: S, P and O are each
/// rounded to the element type (FlashAttention's "naive same-dtype").
std::vector<float> naiveSameDtype(const KernelSpec &s, const AttentionArgs &a,
                                  bool bf16) {
  const int64_t B = a.q.batch(), Sq = a.q.seq(), Skv = a.k.seq();
  std::vector<float> out(B * s.qHeads * Sq * s.dV, 0.f), p(Skv);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < s.qHeads; ++h)
      for (int64_t i = 0; i < Sq; ++i) {
        int64_t kvh = h / (s.qHeads / s.kvHeads);
        float mx = -INFINITY;
        for (int64_t j = 0; j < Skv; ++j) {
          float dot = 0;
          for (int64_t d = 0; d < s.dQk; ++d)
            dot += a.q.at(b, h, i, d) * a.k.at(b, kvh, j, d);
          float x = dot * float(s.scale);
          if (s.softcap > 0)
            x = float(s.softcap) * std::tanh(x / float(s.softcap));
          p[j] = isVisible(s, i, j, Sq, Skv) ? roundTo(x, bf16) : -INFINITY;
          mx = std::max(mx, p[j]);
        }
        if (mx == -INFINITY)
          continue;
        float sum = 0;
        for (int64_t j = 0; j < Skv; ++j)
          sum += (p[j] = p[j] == -INFINITY ? 0.f : std::exp(p[j] - mx));
        for (int64_t d = 0; d < s.dV; ++d) {
          float acc = 0;
          for (int64_t j = 0; j < Skv; ++j)
            acc += roundTo(p[j] / sum, bf16) * a.v.at(b, kvh, j, d);
          out[((b * s.qHeads + h) * Sq + i) * s.dV + d] = roundTo(acc, bf16);
        }
      }
  return out;
}

struct DeviceBuffer {
  const DriverApi &api;
  unsigned long long ptr = 0;
  DeviceBuffer(const DriverApi &api, size_t bytes) : api(api) {
    api.memAlloc(&ptr, std::max<size_t>(bytes, 16));
  }
  ~DeviceBuffer() { api.memFree(ptr); }
};

DeviceTensor deviceView(unsigned long long ptr, const TensorView &host) {
  DeviceTensor t;
  t.data = ptr;
  for (int i = 0; i < 4; ++i) {
    t.sizes[i] = host.sizes[i];
    t.strides[i] = host.strides[i];
  }
  return t;
}

TEST(CudaNumerics, SweepMatchesFloat64Reference) {
  auto driver = Driver::get();
  if (!driver.ok())
    GTEST_SKIP() << "skipped (needs an NVIDIA GPU): " << driver.status().message();
  const DriverApi &api = (*driver)->api();
  std::mt19937_64 rng(attnc::test::testSeed());
  const char *masks[] = {"#attn.mask<none>", "#attn.mask<causal, top_left>",
                         "#attn.mask<causal, bottom_right>",
                         "#attn.mask<sliding_window, left = 37, right = 3, bottom_right>"};
  const std::pair<int, int> dims[] = {{64, 64}, {128, 128}, {256, 256}, {40, 72}, {96, 96}};
  const std::pair<int, int> lengths[] = {{1, 1}, {17, 17}, {113, 300}, {300, 113}, {1023, 1023}};
  int cases = 0, failures = 0;
  for (int i = 0; i < 40; ++i) {
    bool bf16 = i % 2;
    auto [dQk, dV] = dims[i % 5];
    auto [seqQ, seqKv] = lengths[(i / 5) % 5];
    int kvHeads = i % 3 == 0 ? 1 : 2, qHeads = 4;
    std::string spec = fmt::format(
        "attn.kernel @gpu{} attributes {{q_heads = {}, kv_heads = {}, d_qk = {}, "
        "d_v = {}, element_type = {}, mask = {}, layout = #attn.layout<{}>, lse "
        "= true}}",
        i, qHeads, kvHeads, dQk, dV, bf16 ? "bf16" : "f16", masks[i % 4],
        i % 3 == 1 ? "bhsd" : "bshd");
    auto kernel = CudaKernel::compile(spec);
    ASSERT_TRUE(kernel.ok()) << spec << "\n" << kernel.status().message();
    const KernelSpec &s = (*kernel)->spec();
    // Host inputs, rounded to the element type so the reference sees exactly
    // what the GPU sees.
    attnc::test::Buffer q(s.layout, 2, seqQ, qHeads, dQk, false, rng),
        k(s.layout, 2, seqKv, kvHeads, dQk, false, rng),
        v(s.layout, 2, seqKv, kvHeads, dV, false, rng),
        o(s.layout, 2, seqQ, qHeads, dV, false, rng);
    std::vector<float> lse(2 * qHeads * seqQ);
    auto upload = [&](attnc::test::Buffer &buf) {
      std::vector<uint16_t> bits(buf.storage.size());
      for (size_t e = 0; e < bits.size(); ++e) {
        bits[e] = toBits(buf.storage[e], bf16);
        buf.storage[e] = fromBits(bits[e], bf16);
      }
      auto dev = std::make_unique<DeviceBuffer>(api, bits.size() * 2);
      api.memcpyHtoD(dev->ptr, bits.data(), bits.size() * 2);
      return dev;
    };
    auto dq = upload(q), dk = upload(k), dv = upload(v), dO = upload(o);
    DeviceBuffer dl(api, lse.size() * 4);
    AttentionArgs host{q.view, k.view, v.view, o.view,
                       lseView(lse.data(), 2, qHeads, seqQ)};
    CudaArgs args{deviceView(dq->ptr, q.view), deviceView(dk->ptr, k.view),
                  deviceView(dv->ptr, v.view), deviceView(dO->ptr, o.view),
                  deviceView(dl.ptr, host.lse)};
    Status st = (*kernel)->run(args);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(api.ctxSynchronize(), 0) << spec;
    std::vector<uint16_t> outBits(o.storage.size());
    api.memcpyDtoH(outBits.data(), dO->ptr, outBits.size() * 2);
    api.memcpyDtoH(lse.data(), dl.ptr, lse.size() * 4);
    for (size_t e = 0; e < outBits.size(); ++e)
      o.storage[e] = fromBits(outBits[e], bf16);

    ReferenceResult<double> ref = referenceAttention<double>(s, host);
    std::vector<float> naive = naiveSameDtype(s, host, bf16);
    double err = 0, naiveErr = 0;
    bool nan = false;
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t h = 0; h < qHeads; ++h)
        for (int64_t r = 0; r < seqQ; ++r)
          for (int64_t d = 0; d < dV; ++d) {
            double want = ref.at(host.q, dV, b, h, r, d);
            float got = host.o.at(b, h, r, d);
            nan |= std::isnan(got);
            err = std::max(err, std::abs(got - want));
            naiveErr = std::max(
                naiveErr, std::abs(naive[((b * qHeads + h) * seqQ + r) * dV + d] - want));
          }
    double tol = 2 * naiveErr + 1e-5;
    // LSE is computed in f32 throughout: the rule against a naive f32 LSE;
    // a row with no visible key must be exactly -inf.
    ReferenceResult<float> naiveLse = referenceAttention<float>(s, host);
    double lseErr = 0, lseNaive = 0;
    bool lseMismatch = false;
    for (size_t r = 0; r < lse.size(); ++r) {
      if (!std::isfinite(ref.lse[r])) {
        lseMismatch |= lse[r] != -INFINITY;
        continue;
      }
      lseErr = std::max(lseErr, std::abs(lse[r] - ref.lse[r]));
      lseNaive = std::max(lseNaive, std::abs(naiveLse.lse[r] - ref.lse[r]));
    }
    double lseTol = 2 * lseNaive + 1e-5;
    nan |= lseMismatch || lseErr > lseTol;
    ++cases;
    if (nan || err > tol) {
      ++failures;
      ADD_FAILURE() << fmt::format(
          "{}\n  seq_q {} seq_kv {}: O error {:.3g} (tolerance {:.3g}), LSE "
          "error {:.3g} (tolerance {:.3g}){}",
          spec, seqQ, seqKv, err, tol, lseErr, lseTol,
          lseMismatch ? ", a fully masked row's LSE is not -inf" : "");
    }
  }
  std::printf("cuda numerics: %d cases on %s, %d failures\n", cases,
              (*driver)->devices()[0].name.c_str(), failures);
}

} // namespace
