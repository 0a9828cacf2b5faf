#ifndef ATTNC_RUNTIME_KERNELIR_H
#define ATTNC_RUNTIME_KERNELIR_H

// A kernel's identity: its canonical attn.kernel op. Every front end makes
// one (spec text through the MLIR parser; the C API struct and the
// driver's flags through the MLIR builder API), and everything downstream
// starts from it: cache keys, tuning-database keys, dispatch and the tuner,
// which applies a schedule by setting #attn.schedule on the op. The op
// travels as the text the MLIR printer made of it, so a KernelIr is cheap
// to copy and safe to share between threads. No MLIR header is included
// here.

#include "runtime/Spec.h"
#include "runtime/Status.h"

#include <memory>
#include <string>

namespace mlir::attn {
class KernelOp; // declared only: no MLIR header is included
}

namespace attnc {

/// Fields of #attn.schedule; 0 leaves a field to the target's heuristic.
struct Schedule {
  int64_t blockM = 0, blockN = 0, microM = 0, microN = 0, vectorWidth = 0;
  int64_t threads = 0, warps = 0, stages = 0, splitKv = 0;
  int64_t dot = 0; // CPU: 16 (bf16 products) or 32 (f32 products)
  int64_t prefetch = 0; // CPU decode rows form: 1 into L1, 2 into L2
};

/// What a front end without MLIR asks for (the C API's attnc_spec, the
/// driver's flags). Zero means "default". KernelIr::build turns it into an
/// op with the builder API; custom regions and extra inputs need spec text.
struct KernelRequest {
  std::string name = "attention";
  int64_t qHeads = 0, kvHeads = 0; // kvHeads 0: = qHeads
  int64_t dQk = 0, dV = 0;         // dV 0: = dQk
  std::string elementType = "f32"; // f32, f16 or bf16: q and o
  std::string kvElementType;       // k and v; empty: = elementType
  double scale = 0;                // 0: 1/sqrt(dQk)
  double softcap = 0;              // 0: off
  MaskKind mask = MaskKind::None;  // none, causal or sliding_window
  Alignment alignment = Alignment::Unset; // required for causal and window
  int64_t windowLeft = 0, windowRight = 0;
  ScoreMod scoreMod = ScoreMod::None; // none or alibi
  Layout layout = Layout::BSHD;
  Mode mode = Mode::Prefill;
  bool lse = false;
  Schedule schedule;
};

class KernelIr {
public:
  /// Parses and verifies spec text holding exactly one attn.kernel.
  /// Diagnostics name `sourceName` and point into the text.
  static StatusOr<KernelIr> parse(const std::string &text,
                                  const std::string &sourceName = "<spec>");
  /// Builds the op for `request` and verifies it; diagnostics name
  /// `sourceName` (for example "<flags>").
  static StatusOr<KernelIr> build(const KernelRequest &request,
                                  const std::string &sourceName = "<request>");

  /// The op as the MLIR printer writes it: the kernel's canonical text, and
  /// what cache keys and dispatch compare.
  const std::string &text() const;
  /// The text backends parse: the spec as written, so that diagnostics point
  /// into the user's file, or for built and rescheduled ops the canonical
  /// text. It holds the same op as text().
  const std::string &source() const;
  /// Where the kernel came from (a file name, "<flags>", ...).
  const std::string &sourceName() const;
  /// A read-only summary of the op (defaults applied, schedule as given).
  const KernelSpec &view() const;
  /// What the kernel computes, whatever its name and schedule: a SHA-256
  /// of the resolved op with both removed. Two kernels with equal keys
  /// differ at most in tiling; kernels that differ in a region do not
  /// share one.
  const std::string &problemKey() const;

  /// The same op with the non-zero fields of `schedule` set in its
  /// #attn.schedule (other fields kept), less a `prefetch` level that the
  /// resulting block_m cannot use (not the decode rows form).
  StatusOr<KernelIr> withSchedule(const Schedule &schedule) const;
  /// The same op with element_type `type` and kv_element_type `kvType`
  /// (f32, f16 or bf16; an empty name keeps the op's). A new element_type
  /// with no `kvType` makes k and v that type too.
  StatusOr<KernelIr> withElementType(const std::string &type,
                                     const std::string &kvType = "") const;
  /// The same op with probs = true (it also writes its probabilities).
  StatusOr<KernelIr> withProbs() const;

private:
  struct Impl;
  /// The KernelIr of a verified op (`source`: the text it was parsed from).
  static KernelIr fromOp(mlir::attn::KernelOp op, const std::string *source,
                         const std::string &sourceName);
  explicit KernelIr(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

} // namespace attnc

#endif
