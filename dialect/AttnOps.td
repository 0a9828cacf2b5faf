#ifndef ATTN_OPS_TD
#define ATTN_OPS_TD

include "dialect/AttnDialect.td"
include "dialect/AttnAttrs.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/BuiltinAttributes.td"

def Attn_KernelOp : Attn_Op<"kernel", [Symbol, IsolatedFromAbove]> {
  let summary = "declares one fused attention kernel";
  let description = [{
    `attn.kernel` declares an attention forward pass

        O[b, h, i, :] = sum_j softmax_j(mod(scale * Q[b,h,i,:] . K[b,kvh,j,:])) V[b,kvh,j,:]

    with kvh = h / (q_heads / kv_heads). Batch and sequence lengths are not
    part of the op: they are run-time values, so one kernel serves any length.
    Only `q_heads`, `d_qk` and `element_type` are required; the
    `attn-resolve-defaults` pass makes every other choice explicit.

    ```mlir
    attn.kernel @llama3_8b attributes {
      q_heads = 32, kv_heads = 8, d_qk = 128, element_type = f32,
      mask = #attn.mask<causal, bottom_right>
    }
    ```

    A `custom` mask carries a `mask` region ((b, h, q, k : index) -> i1); a
    `custom` score modifier a `score` region ((s : f32, b, h, q, k : index)
    -> f32). Both end in `attn.yield` and hold only pure arith and math ops
    on i1, i32, i64, index and f32 values, `attn.seq_len` and `attn.load`
    of the tensors and scalars declared in `inputs`:

    ```mlir
    attn.kernel @doc attributes {q_heads = 8, d_qk = 64, element_type = f32,
        mask = #attn.mask<custom>,
        inputs = [#attn.input<"doc", i32, [seq_kv]>]} mask {
    ^bb0(%b: index, %h: index, %q: index, %k: index):
      %dq = attn.load @doc[%q] : i32
      %dk = attn.load @doc[%k] : i32
      %same = arith.cmpi eq, %dq, %dk : i32
      attn.yield %same : i1
    }
    ```
    `block_sparse` adds a run-time block mask (see #attn.block_sparse).
  }];

  let arguments = (ins
    SymbolNameAttr:$sym_name,
    I64Attr:$q_heads,
    OptionalAttr<I64Attr>:$kv_heads,
    I64Attr:$d_qk,
    OptionalAttr<I64Attr>:$d_v,
    TypeAttr:$element_type,
    OptionalAttr<TypeAttr>:$kv_element_type,
    OptionalAttr<TypeAttr>:$accum_type,
    OptionalAttr<F64Attr>:$scale,
    OptionalAttr<F64Attr>:$softcap,
    OptionalAttr<Attn_MaskAttr>:$mask,
    OptionalAttr<Attn_ScoreModAttr>:$score_mod,
    OptionalAttr<Attn_LayoutAttr>:$layout,
    OptionalAttr<Attn_ModeAttr>:$mode,
    OptionalAttr<Attn_VariantAttr>:$variant,
    OptionalAttr<Attn_FeatureMapAttr>:$feature_map,
    OptionalAttr<BoolAttr>:$normalize,
    OptionalAttr<F64Attr>:$eps,
    OptionalAttr<BoolAttr>:$lse,
    OptionalAttr<BoolAttr>:$probs,
    OptionalAttr<TypedArrayAttrBase<Attn_InputAttr, "declared inputs">>:$inputs,
    OptionalAttr<Attn_BlockSparseAttr>:$block_sparse,
    OptionalAttr<Attn_ScheduleAttr>:$schedule
  );
  let regions = (region MaxSizedRegion<1>:$mask_fn, MaxSizedRegion<1>:$score_fn,
                        MaxSizedRegion<1>:$feature_fn);

  let assemblyFormat = [{
    $sym_name attr-dict-with-keyword (`mask` $mask_fn^)? (`score` $score_fn^)?
    (`feature` $feature_fn^)?
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;

  let extraClassDeclaration = [{
    // Accessors that apply the documented defaults, so that code can read a
    // kernel before or after attn-resolve-defaults and get the same answer.
    int64_t getKvHeadsOrDefault() { return static_cast<int64_t>(getKvHeads().value_or(getQHeads())); }
    int64_t getDvOrDefault() { return static_cast<int64_t>(getDV().value_or(getDQk())); }
    ::mlir::Type getAccumTypeOrDefault();
    /// K and V's element type: element_type unless given (a half-precision
    /// KV cache read by an f32 kernel, as ggml runs it).
    ::mlir::Type getKvElementTypeOrDefault() {
      return getKvElementType().value_or(getElementType());
    }
    double getScaleOrDefault();
    double getSoftcapOrDefault() { return getSoftcap() ? getSoftcap()->convertToDouble() : 0.0; }
    MaskAttr getMaskOrDefault();
    ScoreModKind getScoreModOrDefault();
    Layout getLayoutOrDefault();
    Mode getModeOrDefault();
    Variant getVariantOrDefault();
    bool getLseOrDefault() { return getLse().value_or(false); }
    bool getProbsOrDefault() { return getProbs().value_or(false); }
    /// Linear attention: phi (elu1), normalisation by phi(q) z (true) and
    /// its denominator's floor (1e-6).
    FeatureMap getFeatureMapOrDefault() {
      return getFeatureMap().value_or(FeatureMap::Elu1);
    }
    bool getNormalizeOrDefault() { return getNormalize().value_or(true); }
    double getEpsOrDefault() { return getEps() ? getEps()->convertToDouble() : 1e-6; }
    /// The declared input named `name`, or null.
    InputAttr lookupInput(::llvm::StringRef name);
  }];
}

def Attn_LoadOp : Attn_Op<"load", [Pure]> {
  let summary = "reads one element of a declared input in a mask or score region";
  let description = [{
    ```mlir
    %d = attn.load @doc_ids[%b, %k] : i32
    %s = attn.load @offset[] : i32        // a scalar input
    ```
    One index per dimension of the input. Each index is clamped into
    [0, size - 1] of its dimension before the read, so a load never reads
    outside the input whatever the region computes.
  }];
  let arguments = (ins FlatSymbolRefAttr:$input, Variadic<Index>:$indices);
  let results = (outs AnyTypeOf<[I32, F32]>:$result);
  let assemblyFormat = "$input `[` $indices `]` attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Attn_SeqLenOp : Attn_Op<"seq_len", [Pure]> {
  let summary = "the run-time query or key sequence length, in a region";
  let description = [{
    ```mlir
    %n = attn.seq_len kv
    ```
  }];
  let arguments = (ins Attn_SeqKind:$which);
  let results = (outs Index:$result);
  let assemblyFormat = "$which attr-dict";
}

def Attn_YieldOp : Attn_Op<"yield", [Pure, Terminator, HasParent<"KernelOp">]> {
  let summary = "returns the value of a mask or score region";
  let arguments = (ins AnyType:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

#endif // ATTN_OPS_TD
