#ifndef ATTN_ATTRS_TD
#define ATTN_ATTRS_TD

include "dialect/AttnDialect.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Attn_MaskKind : I32EnumAttr<"MaskKind", "attention mask kind", [
    I32EnumAttrCase<"None", 0, "none">,
    I32EnumAttrCase<"Causal", 1, "causal">,
    I32EnumAttrCase<"SlidingWindow", 2, "sliding_window">,
    I32EnumAttrCase<"BlockSparse", 3, "block_sparse">,
    I32EnumAttrCase<"Custom", 4, "custom">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::attn";
}

// `Unset` exists so that the parser can accept a causal mask without an
// alignment and the verifier can say precisely what is missing.
def Attn_Alignment : I32EnumAttr<"Alignment", "causal alignment", [
    I32EnumAttrCase<"Unset", 0, "unset">,
    I32EnumAttrCase<"TopLeft", 1, "top_left">,
    I32EnumAttrCase<"BottomRight", 2, "bottom_right">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::attn";
}

def Attn_ScoreModKind : I32EnumAttr<"ScoreModKind", "score modifier", [
    I32EnumAttrCase<"None", 0, "none">,
    I32EnumAttrCase<"Alibi", 1, "alibi">,
    I32EnumAttrCase<"Custom", 2, "custom">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::attn";
}

def Attn_Layout : I32EnumAttr<"Layout", "sequence layout", [
    I32EnumAttrCase<"BSHD", 0, "bshd">,
    I32EnumAttrCase<"BHSD", 1, "bhsd">,
    I32EnumAttrCase<"Varlen", 2, "varlen">,
    I32EnumAttrCase<"Paged", 3, "paged">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::attn";
}

def Attn_Mode : I32EnumAttr<"Mode", "kernel mode", [
    I32EnumAttrCase<"Prefill", 0, "prefill">,
    I32EnumAttrCase<"Decode", 1, "decode">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::attn";
}

def Attn_Variant : I32EnumAttr<"Variant", "attention family", [
    I32EnumAttrCase<"Softmax", 0, "softmax">,
    I32EnumAttrCase<"Linear", 1, "linear">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::attn";
}

def Attn_ScoreModAttr : EnumAttr<Attn_Dialect, Attn_ScoreModKind, "score_mod"> {
  let assemblyFormat = "`<` $value `>`";
}
def Attn_LayoutAttr : EnumAttr<Attn_Dialect, Attn_Layout, "layout"> {
  let assemblyFormat = "`<` $value `>`";
}
def Attn_ModeAttr : EnumAttr<Attn_Dialect, Attn_Mode, "mode"> {
  let assemblyFormat = "`<` $value `>`";
}
def Attn_VariantAttr : EnumAttr<Attn_Dialect, Attn_Variant, "variant"> {
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// Mask
//===----------------------------------------------------------------------===//

def Attn_MaskAttr : Attn_Attr<"Mask", "mask"> {
  let summary = "which (query, key) pairs take part";
  let description = [{
    ```mlir
    #attn.mask<none>
    #attn.mask<causal, bottom_right>
    #attn.mask<sliding_window, left = 4095, right = 0, bottom_right>
    #attn.mask<block_sparse, block_q = 64, block_kv = 64>
    #attn.mask<custom>            // the kernel op's `mask` region decides
    ```
    Alignment places the diagonal: with `top_left` query row q sees key k
    when k <= q; with `bottom_right` when k <= q + (seq_kv - seq_q). The two
    differ when seq_q != seq_kv, so causal and sliding-window masks must name
    one. A sliding window admits q + off - left <= k <= q + off + right.
  }];
  let parameters = (ins
    "MaskKind":$kind,
    "Alignment":$alignment,
    "int64_t":$left,
    "int64_t":$right,
    "int64_t":$blockQ,
    "int64_t":$blockKv);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    static MaskAttr getNone(::mlir::MLIRContext *ctx);
    bool hasAlignment() const { return getAlignment() != Alignment::Unset; }
  }];
}

//===----------------------------------------------------------------------===//
// Schedule
//===----------------------------------------------------------------------===//

def Attn_ScheduleAttr : Attn_Attr<"Schedule", "schedule"> {
  let summary = "how the kernel is tiled and parallelised";
  let description = [{
    Keys may appear in any order; an absent key (printed as absent) means
    "not chosen yet" and is filled by a schedule pass.

    ```mlir
    #attn.schedule<block_m = 64, block_n = 64, micro_m = 4, micro_n = 32,
                   vector_width = 16, threads = 2>
    #attn.schedule<block_m = 128, block_n = 64, warps = 8, stages = 2>
    ```
    `block_m`/`block_n`: query/key rows per tile. CPU: `micro_m` rows by
    `micro_n` columns of register-blocked accumulators, `vector_width` f32
    lanes, default `threads`. GPU: `warps`, pipeline `stages`, `split_kv`.
  }];
  let parameters = (ins
    "int64_t":$blockM, "int64_t":$blockN,
    "int64_t":$microM, "int64_t":$microN, "int64_t":$vectorWidth,
    "int64_t":$threads,
    "int64_t":$warps, "int64_t":$stages, "int64_t":$splitKv);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True when every parameter the CPU backend needs has been chosen.
    bool isCompleteForCpu() const {
      return getBlockM() > 0 && getBlockN() > 0 && getMicroM() > 0 &&
             getMicroN() > 0 && getVectorWidth() > 0 && getThreads() > 0;
    }
  }];
}

#endif // ATTN_ATTRS_TD
