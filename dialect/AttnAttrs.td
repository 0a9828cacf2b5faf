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
    I32EnumAttrCase<"Custom", 3, "custom">]> {
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

// Linear attention's feature map phi, applied elementwise to q and k
// (custom: the kernel's 'feature' region).
def Attn_FeatureMap : I32EnumAttr<"FeatureMap", "linear attention feature map", [
    I32EnumAttrCase<"Elu1", 0, "elu1">,
    I32EnumAttrCase<"Relu", 1, "relu">,
    I32EnumAttrCase<"Identity", 2, "identity">,
    I32EnumAttrCase<"Custom", 3, "custom">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::attn";
}

// What a dimension of a declared input is indexed by: its size must equal
// that extent at run time (`any`: a size of the caller's choosing).
def Attn_InputDim : I32EnumAttr<"InputDim", "input dimension", [
    I32EnumAttrCase<"Batch", 0, "batch">,
    I32EnumAttrCase<"QHeads", 1, "q_heads">,
    I32EnumAttrCase<"KvHeads", 2, "kv_heads">,
    I32EnumAttrCase<"SeqQ", 3, "seq_q">,
    I32EnumAttrCase<"SeqKv", 4, "seq_kv">,
    I32EnumAttrCase<"Any", 5, "any">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::attn";
}

// Which sequence length attn.seq_len reads.
def Attn_SeqKind : I32EnumAttr<"SeqKind", "sequence", [
    I32EnumAttrCase<"Q", 0, "q">,
    I32EnumAttrCase<"Kv", 1, "kv">]> {
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
def Attn_FeatureMapAttr : EnumAttr<Attn_Dialect, Attn_FeatureMap, "feature_map"> {
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
    #attn.mask<custom>            // the kernel op's `mask` region decides
    ```
    Alignment places the diagonal: with `top_left` query row q sees key k
    when k <= q; with `bottom_right` when k <= q + (seq_kv - seq_q). The two
    differ when seq_q != seq_kv, so causal and sliding-window masks must name
    one. A sliding window admits q + off - left <= k <= q + off + right.
    Block sparsity is a separate attribute (#attn.block_sparse) that
    combines with any mask.
  }];
  let parameters = (ins
    "MaskKind":$kind,
    "Alignment":$alignment,
    "int64_t":$left,
    "int64_t":$right);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    static MaskAttr getNone(::mlir::MLIRContext *ctx);
    bool hasAlignment() const { return getAlignment() != Alignment::Unset; }
  }];
}

//===----------------------------------------------------------------------===//
// Extra inputs
//===----------------------------------------------------------------------===//

def Attn_InputAttr : Attn_Attr<"Input", "input"> {
  let summary = "a run-time tensor or scalar that mask and score regions read";
  let description = [{
    ```mlir
    #attn.input<"doc_ids", i32, [batch, seq_kv]>
    #attn.input<"slopes", f32, [q_heads]>
    #attn.input<"bias", f32, [q_heads, any]>   // a table of any length
    #attn.input<"offset", i32, []>             // a scalar
    ```
    Name, element type (i32 or f32) and, per dimension, what it is indexed
    by. Regions read it with `attn.load @name[...]`; indices are clamped
    into the input's extent, so no load reads outside it. Its sizes are
    checked at the boundary: `batch`, `q_heads`, `kv_heads`, `seq_q` and
    `seq_kv` dimensions must match the call, `any` must be at least 1.
  }];
  let parameters = (ins
    StringRefParameter<"input name">:$name,
    "::mlir::Type":$elementType,
    ArrayRefParameter<"InputDim", "dimensions">:$dims);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// Block sparsity
//===----------------------------------------------------------------------===//

def Attn_BlockSparseAttr : Attn_Attr<"BlockSparse", "block_sparse"> {
  let summary = "a run-time block mask of block_q x block_kv tiles";
  let description = [{
    ```mlir
    #attn.block_sparse<block_q = 128, block_kv = 128>
    ```
    The kernel takes a block mask at run time, in FlexAttention's form: for
    each (batch, q head, query block) the number and kv-block indices of
    partial blocks (the mask is evaluated there) and of full blocks (every
    pair visible: the mask is skipped); blocks in neither list are never
    visited. It combines with any mask and score modifier.
  }];
  let parameters = (ins "int64_t":$blockQ, "int64_t":$blockKv);
  let assemblyFormat = "`<` `block_q` `=` $blockQ `,` `block_kv` `=` $blockKv `>`";
  let genVerifyDecl = 1;
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
    lanes, default `threads`, and `dot`: the bits of the elements the
    matrix products multiply (32: every operand widened to f32, FMAs; 16:
    bf16 pairs by `vdpbf16ps`, for bf16 kernels on AVX512_BF16 hosts); the
    CPU schedule pass sets 16 where its heuristic applies and leaves it
    unset (32) otherwise. `prefetch`: the cache level that a decode
    kernel's software prefetches of K and V fill in the rows form (GQA
    groups of at most 8 rows): 1 prefetches into L1
    (`prefetcht0`), 2 into L2 (`prefetcht2`); the CPU schedule pass sets it
    for those kernels from the host's L1d size. GPU: `warps`, pipeline
    `stages`, `split_kv`.
  }];
  let parameters = (ins
    "int64_t":$blockM, "int64_t":$blockN,
    "int64_t":$microM, "int64_t":$microN, "int64_t":$vectorWidth,
    "int64_t":$threads,
    "int64_t":$warps, "int64_t":$stages, "int64_t":$splitKv,
    "int64_t":$dot, "int64_t":$prefetch);
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
