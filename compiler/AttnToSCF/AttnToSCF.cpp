// convert-attn-to-scf: attn.kernel -> a fused FlashAttention-style loop nest.
//
// For each work item (batch, q head, query block of block_m rows):
//   pack Q (pre-scaled; bf16 pairs, unscaled, with bf16 products) into a
//     block_m x d_qk tile
//   for each key/value tile of block_n rows that the mask leaves visible:
//     K^T tile (d_qk x block_n): prefill takes it from the calling thread's
//       K^T cache, transposing K only on the first visit of the tile by this
//       thread in this call; decode (one visit per tile) packs it on the stack
//     S = Q K^T               register-blocked micro_m x micro_n micro-kernel;
//                             decode tiles of up to 8 rows (a GQA group)
//                             take the rows form instead: no K^T tile, each
//                             K row times every Q row, lanes summed by a
//                             shuffle tree (computeScoresRows)
//     S = score(S)            softcap, ALiBi, custom (dialect/Mods.h)
//     S = mask(S)             only on tiles that the key range does not
//                             prove fully visible (and short tiles)
//     online softmax: row max m, row sum l, P = exp(S - m), rescale acc
//     acc += P V              register-blocked micro-kernel; prefill and the
//                             rows form read V in place, other decode tiles
//                             pack it (sequential streams)
//   O = acc / l, LSE = m + log(l); a fully masked row gives O = 0, LSE = -inf
// Paged kernels (layout = paged) read K/V rows through the page table (the
// one difference in the loop nest) and copy V tiles in prefill too. Varlen
// kernels are dense kernels: the runtime runs each sequence as a batch of 1,
// passing its index as batch_base for the regions.
// With bf16 products (schedule dot = 16) the Q, K^T, P and V tiles hold
// bf16 pairs, one pair of adjacent reduction elements per 32-bit word (bit
// patterns, only moved), and both micro-kernels multiply them with
// vdpbf16ps: Q unscaled (S is scaled in f32 as it is stored), P rounded to
// bf16 as the softmax writes it (the row sums add the f32 values), V
// always copied, two key rows interleaved. The decode rows form takes them
// in its scores only: Q's pairs times the pairs K's rows already hold, in
// place; its P V multiplies f32 P by V's rows widened to f32.
// Every local buffer is a static tile: nothing scales with seq_q x seq_kv.
// The K^T cache (runtime-owned, seq_kv x d_qk floats, tagged per tile) is
// the one buffer that grows with seq_kv.
#include "compiler/AttnToSCF/AttnToSCF.h"
#include "compiler/AttnToSCF/ModInliner.h"
#include "compiler/KernelAbi.h"
#include "compiler/Passes.h"
#include "dialect/Mods.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <numeric>
#include <optional>

namespace mlir::attn {
#define GEN_PASS_DEF_CONVERTATTNTOSCF
#include "compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;


namespace {

/// The static facts of one kernel that the loop nest is specialised on.
struct KernelShape {
  int64_t qHeads, kvHeads, dQk, dV;
  Type qType, kvType; // q and o; k and v (f32, f16 or bf16)
  double scale;
  bool lse;
  int64_t blockM, blockN, microM, microN, width;
  WorkSplit split;
  bool cacheKt; // prefill: K^T tiles are reused by the query blocks
  ArrayAttr inputs; // declared inputs (#attn.input), or null
  int64_t blockQ, blockKv; // #attn.block_sparse; 0 when dense
  bool paged; // K and V come from page pools through a page table
  bool probs; // also write P = exp(S - LSE), a second pass over the tiles
  bool dot16; // bf16 products (vdpbf16ps) on tiles of bf16 pairs
  /// Decode of a GQA group of at most kMaxDecodeRowsFormRows rows
  /// (takesDecodeRowsForm): scores straight from K's rows and P V
  /// from V's rows in place, with no K^T or V copy (computeScoresRows).
  bool rowsForm;
  /// The rows form's K/V prefetches fill L2 (schedule prefetch = 2), not L1.
  bool prefetchL2;
  /// The rows form with bf16 products (schedule dot = 16): the scores
  /// multiply the bf16 pairs of Q (unscaled) and of K's rows in place
  /// (vdpbf16ps), P V stays f32 with P unrounded; dot16 is false then.
  bool pairsScores;

  static KernelShape of(KernelOp op) {
    ScheduleAttr s = op.getScheduleAttr();
    const bool rows = takesDecodeRowsForm(
        op.getModeOrDefault() == Mode::Decode, s.getBlockM());
    const bool bf16Products = s.getDot() == 16;
    return {static_cast<int64_t>(op.getQHeads()),
            op.getKvHeadsOrDefault(),
            static_cast<int64_t>(op.getDQk()),
            op.getDvOrDefault(),
            op.getElementType(),
            op.getKvElementTypeOrDefault(),
            op.getScaleOrDefault(),
            op.getLseOrDefault(),
            s.getBlockM(),
            s.getBlockN(),
            s.getMicroM(),
            s.getMicroN(),
            s.getVectorWidth(),
            WorkSplit::of(op.getQHeads(), op.getKvHeadsOrDefault(),
                          s.getBlockM(),
                          /*oneHeadPerItem=*/bool(op.getBlockSparseAttr())),
            op.getModeOrDefault() == Mode::Prefill,
            op.getInputsAttr(),
            op.getBlockSparseAttr() ? op.getBlockSparseAttr().getBlockQ() : 0,
            op.getBlockSparseAttr() ? op.getBlockSparseAttr().getBlockKv() : 0,
            op.getLayoutOrDefault() == Layout::Paged,
            op.getProbsOrDefault(),
            bf16Products && !rows, // the rows form: pairsScores instead
            rows,
            rows && s.getPrefetch() == 2,
            bf16Products && rows};
  }
  bool blockSparse() const { return blockQ > 0; }
  int64_t numInputs() const { return inputs ? inputs.size() : 0; }
  int64_t roundUp(int64_t n) const { return (n + width - 1) / width * width; }
  /// Elements of the reduction dims per tile word: 2 with bf16 pairs.
  int64_t unit() const { return dot16 ? 2 : 1; }
  /// Rows of the K^T tile (words per key column), and Q tile words a row.
  int64_t ktRows() const {
    return abi::ktRows(dQk, dot16 || pairsScores ? 16 : 32);
  }
  /// Vector registers of the target: 32 zmm with AVX-512, else 16.
  int64_t vectorRegisters() const { return width == 16 ? 32 : 16; }
};

class LoopNestEmitter {
public:
  LoopNestEmitter(const KernelShape &shape, const ModDefinitions &defs,
                  ImplicitLocOpBuilder &b)
      : s(shape), defs(defs), b(b), f32(b.getF32Type()),
        vecTy(VectorType::get({shape.width}, b.getF32Type())),
        idxVecTy(VectorType::get({shape.width}, b.getI64Type())) {}

  /// The bytes of stack the tiles emitBody allocated take.
  int64_t stackBytes() const { return stackBytes_; }

  /// The function type, in the order of compiler/KernelAbi.h:
  ///   (q, k, v, o, [lse], [page_table, kv_seqlens], [block mask],
  ///    inputs..., partials, splits, begin, end, kt, tags, batch_base) -> ().
  /// kt ([slots, d_qk, block_n]) and tags ([slots]) are the calling thread's
  /// K^T cache: key tile t of (batch, kv head) lives in slot t mod slots,
  /// and the slot's tag names which tile it holds (0: none). The runtime
  /// clears a thread's tags before its first item of each call, so nothing
  /// from an earlier call is ever reused.
  FunctionType functionType() {
    auto strided4 = [&](int64_t heads, int64_t dim, Type element) {
      int64_t dyn = ShapedType::kDynamic;
      return MemRefType::get(
          {dyn, heads, dyn, dim}, element,
          StridedLayoutAttr::get(b.getContext(), dyn, {dyn, dyn, dyn, 1}));
    };
    int64_t dyn = ShapedType::kDynamic;
    auto lseTy = MemRefType::get(
        {dyn, s.qHeads, dyn}, f32,
        StridedLayoutAttr::get(b.getContext(), dyn, {dyn, dyn, dyn}));
    Type index = b.getIndexType();
    auto partialsTy = MemRefType::get({dyn}, f32);
    auto ktTy = MemRefType::get({dyn, s.ktRows(), s.blockN}, f32);
    auto tagsTy = MemRefType::get({dyn}, b.getI64Type());
    SmallVector<Type> args;
    for (const abi::Arg &arg : abiArgs()) {
      switch (arg.role) {
      case abi::Role::Q:
        args.push_back(strided4(s.qHeads, s.dQk, s.qType));
        break;
      case abi::Role::K:
        args.push_back(strided4(s.kvHeads, s.dQk, s.kvType));
        break;
      case abi::Role::V:
        args.push_back(strided4(s.kvHeads, s.dV, s.kvType));
        break;
      case abi::Role::O:
        args.push_back(strided4(s.qHeads, s.dV, s.qType));
        break;
      case abi::Role::Lse:
        args.push_back(lseTy);
        break;
      case abi::Role::Probs: // [b, h, q, k], unit key stride (vector stores)
        args.push_back(MemRefType::get(
            {dyn, dyn, dyn, dyn}, f32,
            StridedLayoutAttr::get(b.getContext(), dyn, {dyn, dyn, dyn, 1})));
        break;
      case abi::Role::PageTable:
      case abi::Role::KvSeqlens:
      case abi::Role::KvNumBlocks:
      case abi::Role::KvIndices:
      case abi::Role::FullKvNumBlocks:
      case abi::Role::FullKvIndices: {
        SmallVector<int64_t> shape(arg.rank, dyn);
        args.push_back(MemRefType::get(
            shape, b.getI32Type(),
            StridedLayoutAttr::get(b.getContext(), dyn, shape)));
        break;
      }
      case abi::Role::SequenceTable: // CUDA kernels only (cudaKernelArgs)
        llvm_unreachable("a sequence table in a CPU kernel's arguments");
      case abi::Role::Input: {
        // Any sizes and strides: the runtime checks them at the boundary.
        SmallVector<int64_t> shape(arg.rank, dyn);
        Type element = arg.type == abi::ElementType::F32
                           ? Type(f32)
                           : Type(b.getI32Type());
        args.push_back(MemRefType::get(
            shape, element,
            StridedLayoutAttr::get(b.getContext(), dyn, shape)));
        break;
      }
      }
    }
    args.append({partialsTy, index, index, index, ktTy, tagsTy, index});
    return b.getFunctionType(args, {});
  }

  /// The kernel's user-visible arguments (compiler/KernelAbi.h).
  std::vector<abi::Arg> abiArgs() const {
    return abi::kernelArgs(abi::elementTypeOf(s.qType),
                           abi::elementTypeOf(s.kvType), s.lse, s.probs, s.paged,
                           s.blockSparse(), abi::inputArgs(s.inputs));
  }

  void emitBody(func::FuncOp func) {
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    unsigned next = 0;
    SmallVector<Value> inputs;
    for (const abi::Arg &arg : abiArgs()) {
      Value value = entry->getArgument(next++);
      switch (arg.role) {
      case abi::Role::Q:
        q = value;
        break;
      case abi::Role::K:
        k = value;
        break;
      case abi::Role::V:
        v = value;
        break;
      case abi::Role::O:
        o = value;
        break;
      case abi::Role::Lse:
        lseOut = value;
        break;
      case abi::Role::Probs:
        probsOut = value;
        break;
      case abi::Role::PageTable:
        pageTable = value;
        break;
      case abi::Role::KvSeqlens:
        kvSeqlens = value;
        break;
      case abi::Role::KvNumBlocks:
        blockCount[0] = value;
        break;
      case abi::Role::KvIndices:
        blockIndex[0] = value;
        break;
      case abi::Role::FullKvNumBlocks:
        blockCount[1] = value;
        break;
      case abi::Role::FullKvIndices:
        blockIndex[1] = value;
        break;
      case abi::Role::SequenceTable: // CUDA kernels only (cudaKernelArgs)
        llvm_unreachable("a sequence table in a CPU kernel's arguments");
      case abi::Role::Input:
        inputs.push_back(value);
        break;
      }
    }
    partials = entry->getArgument(next);
    splits = entry->getArgument(next + 1);
    Value begin = entry->getArgument(next + 2), end = entry->getArgument(next + 3);
    ktCache = entry->getArgument(next + 4);
    ktTags = entry->getArgument(next + 5);
    batchBase = entry->getArgument(next + 6);

    // Tiles live on the stack of the calling thread, allocated once per call.
    qTile = tile({s.blockM, s.roundUp(s.ktRows())});
    if (!s.cacheKt && !s.rowsForm)
      kTile = tile({s.ktRows(), s.blockN});
    if (s.rowsForm)
      dotTile = tile({s.blockM, s.width * s.width});
    if (packsV())
      vTile = tile({(s.blockN + s.unit() - 1) / s.unit(), s.roundUp(s.dV)});
    if (s.paged)
      for (Value &rows : pageRows)
        rows = tile({s.blockN}, b.getIndexType());
    sTile = tile({s.blockM, s.blockN});
    accTile = tile({s.blockM, s.roundUp(s.dV)});
    rowMax = tile({s.blockM});
    rowSum = tile({s.blockM});
    rowAlpha = tile({s.blockM});
    if (s.probs)
      rowLse = tile({s.blockM});

    seqQ = b.create<memref::DimOp>(q, 2);
    // Paged: dim 2 of the pools is the page size, and each batch has its
    // own key count (emitWorkItem).
    if (s.paged)
      pageSize = b.create<memref::DimOp>(k, 2);
    else
      seqKv = b.create<memref::DimOp>(k, 2);
    inputValues = inputs;
    numQBlocks =
        b.create<arith::CeilDivUIOp>(seqQ, idx(s.split.positionsPerItem));
    batchSize = b.create<memref::DimOp>(q, 0);
    forLoop(begin, end, idx(1), {},
            [&](Value item, ValueRange) {
              emitWorkItem(item);
              return SmallVector<Value>();
            });
    b.create<func::ReturnOp>();
  }

private:
  using BodyFn = function_ref<SmallVector<Value>(Value, ValueRange)>;

  //===--------------------------------------------------------------------===//
  // Small builders
  //===--------------------------------------------------------------------===//
  Value idx(int64_t v) { return b.create<arith::ConstantIndexOp>(v); }
  Value f32Const(double v) {
    return b.create<arith::ConstantOp>(b.getF32FloatAttr(v));
  }
  Value splat(double v) {
    return b.create<arith::ConstantOp>(
        DenseElementsAttr::get(vecTy, b.getF32FloatAttr(v)));
  }
  Value splatOf(Value scalar) {
    Type t = scalar.getType().isF32() ? Type(vecTy) : Type(idxVecTy);
    return b.create<vector::BroadcastOp>(t, scalar);
  }
  Value add(Value x, Value y) { return b.create<arith::AddIOp>(x, y); }
  Value sub(Value x, Value y) { return b.create<arith::SubIOp>(x, y); }
  Value mul(Value x, Value y) { return b.create<arith::MulIOp>(x, y); }
  Value minS(Value x, Value y) { return b.create<arith::MinSIOp>(x, y); }
  Value maxS(Value x, Value y) { return b.create<arith::MaxSIOp>(x, y); }
  Value clamp(Value x, Value lo, Value hi) { return minS(maxS(x, lo), hi); }
  Value toI64(Value x) {
    return b.create<arith::IndexCastOp>(b.getI64Type(), x);
  }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return b.create<arith::CmpIOp>(p, x, y);
  }
  Value negInf() { return f32Const(-std::numeric_limits<double>::infinity()); }

  /// Elements of `mem` in a 64-byte cache line.
  static int64_t lineElements(Value mem) {
    Type element = cast<MemRefType>(mem.getType()).getElementType();
    return 512 / element.getIntOrFloatBitWidth();
  }
  /// A read prefetch (it never faults): into all cache levels, or with
  /// `intoL2` into L2 and not L1 (x86: prefetcht0 / prefetcht2).
  void prefetch(Value mem, ValueRange indices, bool intoL2 = false) {
    b.create<memref::PrefetchOp>(mem, indices, /*isWrite=*/false,
                                 /*localityHint=*/intoL2 ? 1 : 3,
                                 /*isDataCache=*/true);
  }

  /// A 64-byte aligned stack tile of f32 (or `element`: index, 8 bytes),
  /// counted in stackBytes().
  Value tile(ArrayRef<int64_t> shape, Type element = {}) {
    if (!element)
      element = f32;
    int64_t bytes = element.isIndex() ? 8 : 4;
    for (int64_t d : shape)
      bytes *= d;
    stackBytes_ += (bytes + 63) / 64 * 64;
    return b.create<memref::AllocaOp>(MemRefType::get(shape, element),
                                      b.getI64IntegerAttr(64));
  }
  Value load(Value mem, ValueRange indices) {
    return b.create<memref::LoadOp>(mem, indices);
  }
  void store(Value value, Value mem, ValueRange indices) {
    b.create<memref::StoreOp>(value, mem, indices);
  }
  Value loadVec(Value mem, ValueRange indices) {
    return b.create<vector::LoadOp>(vecTy, mem, indices);
  }
  void storeVec(Value value, Value mem, ValueRange indices) {
    b.create<vector::StoreOp>(value, mem, indices);
  }

  /// Loads W lanes of row `prefix` of a global tensor from column `col`, as
  /// f32 (f16 and bf16 elements are widened, exactly); lanes at or past
  /// `limit` (the head dim) read as 0 and touch no memory.
  Value loadRow(Value mem, ValueRange prefix, int64_t col, int64_t limit) {
    return loadRowAt(mem, prefix, idx(col), std::min(s.width, limit - col));
  }
  /// The same from a run-time column: the first `lanes` lanes are read.
  Value loadRowAt(Value mem, ValueRange prefix, Value col, int64_t lanes) {
    SmallVector<Value> indices(prefix.begin(), prefix.end());
    indices.push_back(col);
    Type element = cast<MemRefType>(mem.getType()).getElementType();
    auto rowTy = VectorType::get({s.width}, element);
    Value x;
    if (lanes == s.width) {
      x = b.create<vector::LoadOp>(rowTy, mem, indices);
    } else {
      Value mask = b.create<vector::CreateMaskOp>(
          VectorType::get({s.width}, b.getI1Type()), ValueRange{idx(lanes)});
      Value zero = b.create<arith::ConstantOp>(
          DenseElementsAttr::get(rowTy, b.getFloatAttr(element, 0.0)));
      x = b.create<vector::MaskedLoadOp>(rowTy, mem, indices, mask, zero);
    }
    return element.isF32() ? x : b.create<arith::ExtFOp>(vecTy, x).getResult();
  }
  /// bf16 products: 2 x W bf16 elements of a global row from column `col`
  /// (the first `lanes` read, the rest 0), as W words of bf16 pairs.
  Value loadPairsAt(Value mem, ValueRange prefix, Value col, int64_t lanes) {
    SmallVector<Value> indices(prefix.begin(), prefix.end());
    indices.push_back(col);
    auto rowTy = VectorType::get({2 * s.width}, b.getBF16Type());
    Value x;
    if (lanes == 2 * s.width) {
      x = b.create<vector::LoadOp>(rowTy, mem, indices);
    } else {
      Value mask = b.create<vector::CreateMaskOp>(
          VectorType::get({2 * s.width}, b.getI1Type()), ValueRange{idx(lanes)});
      Value zero = b.create<arith::ConstantOp>(
          DenseElementsAttr::get(rowTy, b.getFloatAttr(b.getBF16Type(), 0.0)));
      x = b.create<vector::MaskedLoadOp>(rowTy, mem, indices, mask, zero);
    }
    return b.create<vector::BitCastOp>(vecTy, x);
  }
  /// The reduction-dim chunk of a Q or K row at word `c` (`elements`
  /// valid): f32 lanes, or with bf16 products words of bf16 pairs.
  Value loadChunk(Value mem, ValueRange prefix, Value c, int64_t elements,
                  bool pairs = false) {
    if (!s.dot16 && !pairs)
      return loadRowAt(mem, prefix, c, elements);
    return loadPairsAt(mem, prefix, mul(c, idx(2)), elements);
  }
  /// acc + the pairwise products of the bf16 pairs in words `x` and `y`
  /// (vdpbf16ps: bf16 inputs exact, f32 sums; denormal inputs read as 0).
  Value dotBf16(Value acc, Value x, Value y) {
    auto pairsTy = VectorType::get({2 * s.width}, b.getBF16Type());
    return b
        .create<LLVM::CallIntrinsicOp>(
            TypeRange{vecTy}, "llvm.x86.avx512bf16.dpbf16ps.512",
            ValueRange{acc, b.create<vector::BitCastOp>(pairsTy, x),
                       b.create<vector::BitCastOp>(pairsTy, y)})
        .getResult(0);
  }
  /// Words of the bf16 pairs of 2 x W f32 lanes `lo` then `hi`, rounded to
  /// nearest even (vcvtne2ps2bf16; NaN stays NaN).
  Value packBf16(Value lo, Value hi) {
    auto pairsTy = VectorType::get({2 * s.width}, b.getBF16Type());
    Value x = b.create<LLVM::CallIntrinsicOp>(
                   TypeRange{pairsTy}, "llvm.x86.avx512bf16.cvtne2ps2bf16.512",
                   ValueRange{hi, lo})
                  .getResult(0);
    return b.create<vector::BitCastOp>(vecTy, x);
  }

  /// Stores the lanes of `value` below `limit - col` to a global row, rounded
  /// to nearest even where the tensor holds f16 or bf16.
  void storeRow(Value value, Value mem, ValueRange prefix, int64_t col,
                int64_t limit) {
    SmallVector<Value> indices(prefix.begin(), prefix.end());
    indices.push_back(idx(col));
    Type element = cast<MemRefType>(mem.getType()).getElementType();
    if (!element.isF32())
      value = b.create<arith::TruncFOp>(VectorType::get({s.width}, element),
                                        value);
    if (col + s.width <= limit) {
      b.create<vector::StoreOp>(value, mem, indices);
      return;
    }
    Value mask = b.create<vector::CreateMaskOp>(
        VectorType::get({s.width}, b.getI1Type()), ValueRange{idx(limit - col)});
    b.create<vector::MaskedStoreOp>(mem, indices, mask, value);
  }

  /// scf.for whose body is produced by `body(iv, iterArgs)`, which returns the
  /// values to yield. Leaves the insertion point after the loop.
  ValueRange forLoop(Value lb, Value ub, Value step, ValueRange init,
                     BodyFn body) {
    auto loop = b.create<scf::ForOp>(lb, ub, step, init);
    OpBuilder::InsertionGuard guard(b);
    Block *block = loop.getBody();
    if (init.empty()) {
      b.setInsertionPoint(block->getTerminator());
      body(loop.getInductionVar(), {});
    } else {
      b.setInsertionPointToEnd(block);
      b.create<scf::YieldOp>(
          body(loop.getInductionVar(), loop.getRegionIterArgs()));
    }
    return loop.getResults();
  }
  void forEachRow(Value lb, Value ub, int64_t step,
                  function_ref<void(Value)> body) {
    forLoop(lb, ub, idx(step), {}, [&](Value i, ValueRange) {
      body(i);
      return SmallVector<Value>();
    });
  }
  void ifThen(Value cond, function_ref<void()> body) {
    auto ifOp = b.create<scf::IfOp>(cond, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    body();
  }

  //===--------------------------------------------------------------------===//
  // The stages of one work item
  //===--------------------------------------------------------------------===//
  void emitWorkItem(Value item) {
    const int64_t heads = s.split.headsPerItem;
    const int64_t groups = s.qHeads / heads;
    split = b.create<arith::RemUIOp>(item, splits);
    Value tile = b.create<arith::DivUIOp>(item, splits);
    Value qBlock = b.create<arith::RemUIOp>(tile, numQBlocks);
    Value rest = b.create<arith::DivUIOp>(tile, numQBlocks);
    firstHead = mul(b.create<arith::RemUIOp>(rest, idx(groups)), idx(heads));
    batch = b.create<arith::DivUIOp>(rest, idx(groups));
    regionBatch = add(batch, batchBase);
    if (s.paged)
      seqKv = b.create<arith::IndexCastOp>(b.getIndexType(),
                                           load(kvSeqlens, {batch}));
    mods.emplace(b, s.width, seqQ, seqKv, inputValues, s.inputs);
    kvHead = b.create<arith::DivUIOp>(firstHead, idx(s.qHeads / s.kvHeads));
    m0 = mul(qBlock, idx(s.split.positionsPerItem));
    positions = minS(idx(s.split.positionsPerItem), sub(seqQ, m0));
    rows = mul(positions, idx(heads));
    rowsUp = mul(b.create<arith::CeilDivUIOp>(rows, idx(s.microM)),
                 idx(s.microM));

    packQ();
    initState();
    visitTiles();
    finalize();
    if (s.probs) // the runtime passes one split; a row's LSE is final here
      ifThen(cmp(arith::CmpIPredicate::eq, splits, idx(1)), [&] { emitProbs(); });
  }

  /// The key tiles of this item, each through processTile.
  void visitTiles() {
    if (s.blockSparse()) {
      visibleKeyRange(); // fullLo/fullHi: built-in masks skip full tiles
      emitBlockLists();
    } else {
      auto [lo, hi] = splitKeyRange();
      forLoop(lo, hi, idx(s.blockN), {}, [&](Value n0, ValueRange) {
        processTile(n0, hi, /*trusted=*/false);
        return SmallVector<Value>();
      });
    }
  }

  /// probs = true: P[b, h, q, k] = exp(S - LSE) for this item's rows, after
  /// the fused pass has found each row's LSE. Every key of the rows is
  /// first set to 0; then the tiles the fused pass visited are visited
  /// again, their scores recomputed (the same scores, modifiers and
  /// masks), and P written for their keys. The fused pass keeps no P. The
  /// runtime runs probs kernels without split-KV (one split: the LSE of a
  /// row is known here).
  void emitProbs() {
    forEachRow(idx(0), rows, 1, [&](Value i) {
      Value sum = load(rowSum, {i});
      // As finalizeOutputs: a fully masked row (sum 0) has LSE -inf, a row
      // that saw a NaN score a NaN one.
      Value seen =
          b.create<arith::CmpFOp>(arith::CmpFPredicate::UNE, sum, f32Const(0));
      Value lse = b.create<arith::AddFOp>(load(rowMax, {i}),
                                          b.create<math::LogOp>(sum));
      store(b.create<arith::SelectOp>(seen, lse, negInf()), rowLse, {i});
      Value h = headOf(i), row = positionOf(i);
      Value zero = splat(0.0);
      forEachRow(idx(0), seqKv, s.width, [&](Value j) {
        Value mask = b.create<vector::CreateMaskOp>(
            VectorType::get({s.width}, b.getI1Type()),
            ValueRange{sub(seqKv, j)});
        b.create<vector::MaskedStoreOp>(probsOut, ValueRange{batch, h, row, j},
                                        mask, zero);
      });
    });
    probsPass = true;
    visitTiles();
    probsPass = false;
  }

  /// Writes P for the scores in sTile (keys [n0, n0 + cols)): exp(s - LSE),
  /// 0 where the score is -inf (masked), NaN in a row whose LSE is NaN.
  void writeProbs(Value n0, Value cols) {
    forEachRow(idx(0), rows, 1, [&](Value i) {
      Value lse = splatOf(load(rowLse, {i}));
      Value h = headOf(i), row = positionOf(i);
      Value minusInf = splat(-std::numeric_limits<double>::infinity());
      for (int64_t c = 0; c < s.blockN; c += s.width) {
        Value x = loadVec(sTile, {i, idx(c)});
        Value d = b.create<arith::SubFOp>(x, lse);
        // s <= LSE up to rounding: clamp to 0 (OGT is false for NaN).
        Value positive =
            b.create<arith::CmpFOp>(arith::CmpFPredicate::OGT, d, splat(0.0));
        d = b.create<arith::SelectOp>(positive, splat(0.0), d);
        Value masked =
            b.create<arith::CmpFOp>(arith::CmpFPredicate::OEQ, x, minusInf);
        Value p = b.create<arith::SelectOp>(masked, splat(0.0),
                                            expNonPositive(d));
        Value lanes = clamp(sub(cols, idx(c)), idx(0), idx(s.width));
        Value mask = b.create<vector::CreateMaskOp>(
            VectorType::get({s.width}, b.getI1Type()), ValueRange{lanes});
        b.create<vector::MaskedStoreOp>(
            probsOut, ValueRange{batch, h, row, add(n0, idx(c))}, mask, p);
      }
    });
  }

  /// Block-sparse: the key tiles of this item's query block are those of
  /// the kv blocks its lists name, partial ones first (the mask is
  /// evaluated there), then full ones (trusted: no mask but the tail). The
  /// lists were validated at the boundary: counts <= kv blocks, indices in
  /// range, no block twice. Split-KV is off (the runtime passes 1).
  void emitBlockLists() {
    auto broadcastOr = [&](Value mem, int64_t dim, Value index) {
      Value one = cmp(arith::CmpIPredicate::eq,
                      b.create<memref::DimOp>(mem, dim), idx(1));
      return b.create<arith::SelectOp>(one, idx(0), index).getResult();
    };
    Value bIdx = broadcastOr(blockCount[0], 0, batch);
    Value hIdx = broadcastOr(blockCount[0], 1, firstHead);
    Value qb = b.create<arith::DivUIOp>(m0, idx(s.blockQ));
    for (int list = 0; list < 2; ++list) {
      Value count = b.create<arith::IndexCastOp>(
          b.getIndexType(), load(blockCount[list], {bIdx, hIdx, qb}));
      forLoop(idx(0), count, idx(1), {}, [&](Value j, ValueRange) {
        Value kvb = b.create<arith::IndexCastOp>(
            b.getIndexType(), load(blockIndex[list], {bIdx, hIdx, qb, j}));
        Value start = mul(kvb, idx(s.blockKv));
        Value end = minS(add(start, idx(s.blockKv)), seqKv);
        forLoop(start, end, idx(s.blockN), {}, [&](Value n0, ValueRange) {
          processTile(n0, end, /*trusted=*/list == 1);
          return SmallVector<Value>();
        });
        return SmallVector<Value>();
      });
    }
  }

  /// One key tile [n0, min(n0 + block_n, hi)): scores, modifiers, mask,
  /// online softmax, P V. `trusted`: a full block of a block mask, where
  /// only lanes past the last key are masked.
  void processTile(Value n0, Value hi, bool trusted) {
    {
      Value cols = minS(idx(s.blockN), sub(hi, n0));
      n0Cur = n0;
      if (s.paged)
        findPages(n0);
      if (s.cacheKt) {
        // Tiles are aligned to block_n (splitKeyRange), so n0 names one.
        Value tileNo = b.create<arith::DivUIOp>(n0, idx(s.blockN));
        ktIndex = b.create<arith::RemUIOp>(
            tileNo, b.create<memref::DimOp>(ktCache, 0));
        // (batch, kv head) in the high 32 bits, the tile in the low ones:
        // the sequences of a varlen or paged call differ in length, so a
        // count of tiles per batch would not keep their ids apart (the
        // runtime keeps batch x kv_heads and the tiles below 2^31).
        Value id = b.create<arith::OrIOp>(
            b.create<arith::ShLIOp>(
                toI64(add(mul(regionBatch, idx(s.kvHeads)), kvHead)),
                b.create<arith::ConstantIntOp>(32, 64)),
            toI64(add(tileNo, idx(1))));
        Value stale = b.create<arith::CmpIOp>(arith::CmpIPredicate::ne,
                                              load(ktTags, {ktIndex}), id);
        ifThen(stale, [&] {
          // The whole tile, not just this item's keys: another item whose
          // band reaches further will reuse it.
          packK(n0, minS(idx(s.blockN), sub(seqKv, n0)));
          store(id, ktTags, {ktIndex});
        });
        if (packsV() && !probsPass)
          packV(n0, cols);
      } else if (!s.rowsForm) {
        packK(n0, cols);
        if (packsV() && !probsPass)
          packV(n0, cols);
      }
      if (s.rowsForm)
        computeScoresRows(cols);
      else
        computeScores();
      if (defs.score)
        applyScore(n0);
      applyMask(n0, cols, trusted);
      if (probsPass) {
        writeProbs(n0, cols);
        return;
      }
      updateSoftmax();
      accumulatePV(cols);
    }
  }

  /// The query head and position of tile row `r` (see WorkSplit).
  Value headOf(Value r) {
    if (s.split.headsPerItem == 1)
      return firstHead;
    return add(firstHead,
               b.create<arith::RemUIOp>(r, idx(s.split.headsPerItem)));
  }
  Value positionOf(Value r) {
    if (s.split.headsPerItem == 1)
      return add(m0, r);
    return add(m0, b.create<arith::DivUIOp>(r, idx(s.split.headsPerItem)));
  }

  /// qTile[r, :] = scale * Q[b, headOf(r), positionOf(r), :] (with bf16
  /// products: Q's bf16 pairs, unscaled); rows in [rows, rowsUp) are 0.
  void packQ() {
    Value scale = splat(s.scale);
    const bool pairs = s.dot16 || s.pairsScores;
    const int64_t unit = pairs ? 2 : 1, chunk = s.width * unit;
    forEachRow(idx(0), rows, 1, [&](Value i) {
      Value h = headOf(i), row = positionOf(i);
      for (int64_t c = 0; c < s.dQk; c += chunk) {
        Value word = idx(c / unit);
        Value x = loadChunk(q, {batch, h, row}, word,
                            std::min(chunk, s.dQk - c), pairs);
        if (!pairs)
          x = b.create<arith::MulFOp>(x, scale);
        storeVec(x, qTile, {i, word});
      }
    });
    forEachRow(rows, rowsUp, 1, [&](Value i) {
      for (int64_t c = 0; c < s.ktRows(); c += s.width)
        storeVec(splat(0.0), qTile, {i, idx(c)});
    });
  }

  void initState() {
    forEachRow(idx(0), rowsUp, 1, [&](Value i) {
      store(negInf(), rowMax, {i});
      store(f32Const(0.0), rowSum, {i});
      for (int64_t c = 0; c < s.roundUp(s.dV); c += s.width)
        storeVec(splat(0.0), accTile, {i, idx(c)});
    });
  }

  /// [lo, hi): the keys that any row of this query block may see, from the
  /// mask's range function; it also sets [fullLo, fullHi), the keys every
  /// row sees (empty for custom masks: every tile is masked).
  std::pair<Value, Value> visibleKeyRange() {
    if (!defs.range) {
      fullLo = fullHi = idx(0);
      return {idx(0), seqKv};
    }
    SmallVector<Value> r = mods->inlineFunc(
        defs.range, {m0, sub(add(m0, positions), idx(1)), seqQ, seqKv});
    fullLo = r[2];
    fullHi = r[3];
    return {r[0], r[1]};
  }

  /// Transposes a width x width block held as `width` row vectors, in
  /// log2(width) rounds of two-source interleaves (one vpermt2ps each on
  /// AVX-512): round k pairs row i with row i + width/2.
  SmallVector<Value> transposeBlock(SmallVector<Value> rows) {
    const int64_t w = s.width;
    SmallVector<int64_t> lo, hi;
    for (int64_t i = 0; i < w / 2; ++i) {
      lo.append({i, w + i});
      hi.append({w / 2 + i, w + w / 2 + i});
    }
    for (int64_t round = 1; round < w; round *= 2) {
      SmallVector<Value> next(w);
      for (int64_t i = 0; i < w / 2; ++i) {
        next[2 * i] = b.create<vector::ShuffleOp>(rows[i], rows[i + w / 2], lo);
        next[2 * i + 1] =
            b.create<vector::ShuffleOp>(rows[i], rows[i + w / 2], hi);
      }
      rows = std::move(next);
    }
    return rows;
  }

  /// This item's share of the visible keys: split s of `splits` takes the
  /// s-th run of whole block_n tiles (possibly none).
  std::pair<Value, Value> splitKeyRange() {
    auto [lo, hi] = visibleKeyRange();
    // With the K^T cache, tiles start at multiples of block_n (the extra
    // keys of a sliding window's first tile are masked).
    if (s.cacheKt)
      lo = mul(b.create<arith::DivUIOp>(lo, idx(s.blockN)), idx(s.blockN));
    Value perSplit = b.create<arith::CeilDivUIOp>(sub(hi, lo), splits);
    Value chunk = mul(b.create<arith::CeilDivUIOp>(perSplit, idx(s.blockN)),
                      idx(s.blockN));
    Value first = minS(add(lo, mul(split, chunk)), hi);
    return {first, minS(add(first, chunk), hi)};
  }

  /// The K^T tile's element (d, j): the stack tile, or this tile's slot in
  /// the K^T cache.
  SmallVector<Value> ktAt(Value d, Value j) {
    if (s.cacheKt)
      return {ktIndex, d, j};
    return {d, j};
  }
  Value ktMem() { return s.cacheKt ? ktCache : kTile; }

  /// Whether V tiles are copied to vTile (decode with K^T tiles; paged
  /// prefill, whose rows would each need a page lookup inside the P V
  /// micro-kernel; bf16 products, which interleave key rows) or read in
  /// place (dense prefill, and the rows form of decode, whose V rows are
  /// prefetched with its K rows).
  bool packsV() const {
    return !s.rowsForm && (!s.cacheKt || s.paged || s.dot16);
  }

  /// Paged: the page and slot of each key row of the tile at n0 and of the
  /// next tile (for its prefetches), once a tile: page = page_table[b,
  /// key / page_size] (checked in range at the boundary), slot = key %
  /// page_size. Looked up per use instead, the divisions and table loads
  /// of every row and head-dim chunk made paged decode 1.2-1.5x dense.
  void findPages(Value n0) {
    Value last = sub(seqKv, idx(1));
    forEachRow(idx(0), minS(idx(s.blockN), sub(seqKv, n0)), 1, [&](Value j) {
      Value keys[2] = {add(n0, j), minS(add(add(n0, idx(s.blockN)), j), last)};
      for (int t = 0; t < 2; ++t) {
        Value page = b.create<arith::IndexCastOp>(
            b.getIndexType(),
            load(pageTable,
                 {batch, b.create<arith::DivUIOp>(keys[t], pageSize)}));
        store(page, pageRows[2 * t], {j});
        store(b.create<arith::RemUIOp>(keys[t], pageSize), pageRows[2 * t + 1],
              {j});
      }
    });
  }
  /// The indices of K/V row j of the current tile (`ahead` > 0: the row
  /// `ahead` keys further, clamped to the last key; paged kernels look up
  /// only the next tile's rows, ahead = block_n) for this item's (batch, kv
  /// head), before the head-dim index: dense [b, kvh, key]; paged [page,
  /// kvh, slot] (findPages).
  SmallVector<Value> kvRow(Value j, int64_t ahead = 0) {
    if (!s.paged) {
      Value key = add(n0Cur, j);
      if (ahead)
        key = minS(add(key, idx(ahead)), sub(seqKv, idx(1)));
      return {batch, kvHead, key};
    }
    assert((ahead == 0 || ahead == s.blockN) && "findPages looks up the next tile only");
    int t = ahead ? 2 : 0;
    return {load(pageRows[t], {j}), kvHead, load(pageRows[t + 1], {j})};
  }
  /// Prefetches K/V row `row` a line at a time: V's, and K's if `withK`;
  /// into L2 in the rows form with schedule prefetch = 2.
  void prefetchRow(ArrayRef<Value> row, bool withK) {
    if (withK)
      for (int64_t c = 0; c < s.dQk; c += lineElements(k))
        prefetch(k, at(row, idx(c)), s.prefetchL2);
    for (int64_t c = 0; c < s.dV; c += lineElements(v))
      prefetch(v, at(row, idx(c)), s.prefetchL2);
  }
  static SmallVector<Value> at(ArrayRef<Value> prefix, Value last) {
    SmallVector<Value> indices(prefix.begin(), prefix.end());
    indices.push_back(last);
    return indices;
  }

  /// Decode: vTile[j, :] = V[b, kvh, n0 + j, :] for j < cols. Decode streams
  /// K/V from memory once; a sequential copy keeps the prefetchers ahead,
  /// where the P V micro-kernel's strided partial rows would not (20% slower
  /// at 32k keys). Prefill reads V in place: its tiles are reused from cache.
  /// Copying row j also prefetches row j of the next tile's K and V, one
  /// tile ahead of the stream (decode at 4k-32k keys, 1 thread: 8.5-8.8 ->
  /// 8.9-9.6 GB/s).
  void packV(Value n0, Value cols) {
    if (s.dot16)
      return packVPairs(cols);
    forEachRow(idx(0), cols, 1, [&](Value j) {
      prefetchNextRow(j);
      SmallVector<Value> row = kvRow(j);
      for (int64_t c = 0; c < s.dV; c += s.width)
        storeVec(loadRow(v, row, c, s.dV), vTile, {j, idx(c)});
    });
  }

  /// Row j of the next tile's V, and of its K in decode (prefill takes K
  /// from the K^T cache), prefetched a line at a time.
  void prefetchNextRow(Value j) {
    prefetchRow(kvRow(j, s.blockN), /*withK=*/!s.cacheKt);
  }

  /// bf16 products: vTile[p, c] = the pair (V[2p, c], V[2p + 1, c]) of
  /// tile rows, for p < ceil(cols / 2); a key row past the tile reads as 0
  /// (its P is 0, and 0 x a stale NaN would not be). Rows are prefetched
  /// one tile ahead as packV does.
  void packVPairs(Value cols) {
    auto halfTy = VectorType::get({s.width}, b.getBF16Type());
    SmallVector<int64_t> interleave;
    for (int64_t e = 0; e < s.width; ++e)
      interleave.append({e, s.width + e});
    Value zero = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(halfTy, b.getFloatAttr(b.getBF16Type(), 0.0)));
    Value pairs = b.create<arith::CeilDivUIOp>(cols, idx(2));
    forEachRow(idx(0), pairs, 1, [&](Value p) {
      Value j0 = mul(p, idx(2)), j1 = add(j0, idx(1));
      Value second = cmp(arith::CmpIPredicate::ult, j1, cols);
      Value j1In = minS(j1, sub(cols, idx(1)));
      SmallVector<Value> rows[2] = {kvRow(j0), kvRow(j1In)};
      prefetchNextRow(j0);
      prefetchNextRow(j1In);
      for (int64_t c = 0; c < s.dV; c += s.width) {
        int64_t lanes = std::min(s.width, s.dV - c);
        Value x[2];
        for (int r = 0; r < 2; ++r) {
          SmallVector<Value> indices = at(rows[r], idx(c));
          if (lanes == s.width) {
            x[r] = b.create<vector::LoadOp>(halfTy, v, indices);
          } else {
            Value mask = b.create<vector::CreateMaskOp>(
                VectorType::get({s.width}, b.getI1Type()),
                ValueRange{idx(lanes)});
            x[r] = b.create<vector::MaskedLoadOp>(halfTy, v, indices, mask,
                                                  zero);
          }
        }
        x[1] = b.create<arith::SelectOp>(second, x[1], zero);
        Value words = b.create<vector::BitCastOp>(
            vecTy, b.create<vector::ShuffleOp>(x[0], x[1], interleave));
        storeVec(words, vTile, {p, idx(c)});
      }
    });
  }

  /// K^T[:, j] = K[b, kvh, n0 + j, :] for j < cols. K is transposed a
  /// width x width block at a time; only the rows of a short last tile that
  /// do not fill a block go through scalar stores.
  void packK(Value n0, Value cols) {
    Value fullRows = mul(b.create<arith::DivUIOp>(cols, idx(s.width)),
                         idx(s.width));
    // With bf16 products K^T's rows are words of bf16 pairs: the same
    // transposes move pairs, K^T[r, j] = (K[j, 2r], K[j, 2r + 1]).
    const int64_t unit = s.unit(), chunk = s.width * unit;
    // A width x width block of keys j0.. and words c..: `elements` of the
    // head dim valid.
    auto transposeChunk = [&](Value j0, Value c, int64_t elements) {
      SmallVector<Value> rows;
      for (int64_t r = 0; r < s.width; ++r)
        rows.push_back(loadChunk(k, kvRow(add(j0, idx(r))), c, elements));
      SmallVector<Value> columns = transposeBlock(std::move(rows));
      for (int64_t e = 0; e < (elements + unit - 1) / unit; ++e)
        storeVec(columns[e], ktMem(), ktAt(add(c, idx(e)), j0));
    };
    // Whole chunks of dims in a loop, not unrolled: unrolled, an innermost
    // loop held d_qk/width chunks of loads and stores (d_qk scalar stores
    // in the loop below), whose pairwise dependence checks took LLVM's
    // loop-load elimination about 140 ms a compile (docs/perf.md, "Cold
    // compile").
    const int64_t whole = s.dQk / chunk * chunk; // elements
    const int64_t wholeWords = whole / unit;
    forEachRow(idx(0), fullRows, s.width, [&](Value j0) {
      forEachRow(idx(0), idx(wholeWords), s.width,
                 [&](Value c) { transposeChunk(j0, c, chunk); });
      if (whole < s.dQk)
        transposeChunk(j0, idx(wholeWords), s.dQk - whole);
    });
    // The keys of a short last tile that fill no block: a column at a time.
    auto scatterChunk = [&](Value j, Value c, int64_t elements) {
      Value x = loadChunk(k, kvRow(j), c, elements);
      for (int64_t e = 0; e < (elements + unit - 1) / unit; ++e)
        store(b.create<vector::ExtractOp>(x, ArrayRef<int64_t>{e}), ktMem(),
              ktAt(add(c, idx(e)), j));
    };
    forEachRow(fullRows, cols, 1, [&](Value j) {
      forEachRow(idx(0), idx(wholeWords), s.width,
                 [&](Value c) { scatterChunk(j, c, chunk); });
      if (whole < s.dQk)
        scatterChunk(j, idx(wholeWords), s.dQk - whole);
    });
  }

  /// Register-blocked micro-kernel: for rows [i0, i0 + micro_m) and columns
  /// [c0, c0 + lanes * width), acc += sum_r lhs[i, r] * rhs[r, col] over
  /// r in [0, depth); `accIn`/`accOut` load and store the accumulators.
  /// With bf16 products r counts words of bf16 pairs on both sides.
  void microKernel(Value i0, Value c0, int64_t vectors, Value depth, Value lhs,
                   function_ref<Value(Value, int64_t)> rhsVec,
                   function_ref<Value(int64_t, int64_t)> accIn,
                   function_ref<void(int64_t, int64_t, Value)> accOut) {
    SmallVector<Value> init;
    for (int64_t r = 0; r < s.microM; ++r)
      for (int64_t n = 0; n < vectors; ++n)
        init.push_back(accIn(r, n));
    ValueRange result =
        forLoop(idx(0), depth, idx(1), init, [&](Value d, ValueRange acc) {
          SmallVector<Value> rhsVecs, next;
          for (int64_t n = 0; n < vectors; ++n)
            rhsVecs.push_back(rhsVec(d, n));
          for (int64_t r = 0; r < s.microM; ++r) {
            Value a = splatOf(load(lhs, {add(i0, idx(r)), d}));
            for (int64_t n = 0; n < vectors; ++n)
              next.push_back(
                  s.dot16 ? dotBf16(acc[r * vectors + n], a, rhsVecs[n])
                          : b.create<vector::FMAOp>(a, rhsVecs[n],
                                                    acc[r * vectors + n])
                                .getResult());
          }
          return next;
        });
    for (int64_t r = 0; r < s.microM; ++r)
      for (int64_t n = 0; n < vectors; ++n)
        accOut(r, n, result[r * vectors + n]);
  }

  /// sTile = qTile * kTile for rows < rowsUp.
  void computeScores() {
    int64_t vectors = s.microN / s.width;
    forEachRow(idx(0), rowsUp, s.microM, [&](Value i0) {
      forEachRow(idx(0), idx(s.blockN), s.microN, [&](Value j0) {
        microKernel(
            i0, j0, vectors, idx(s.ktRows()), qTile,
            [&](Value d, int64_t n) {
              return loadVec(ktMem(), ktAt(d, add(j0, idx(n * s.width))));
            },
            [&](int64_t, int64_t) { return splat(0.0); },
            [&](int64_t r, int64_t n, Value acc) {
              if (s.dot16) // Q was not pre-scaled
                acc = b.create<arith::MulFOp>(acc, splat(s.scale));
              storeVec(acc, sTile,
                       {add(i0, idx(r)), add(j0, idx(n * s.width))});
            });
      });
    });
  }

  /// The rows form of sTile = qTile * K^T for decode (rowsForm), a chunk
  /// of `width` keys at a time. A loop over the chunk's keys reads each K
  /// row once, in place and in key order, multiplies it with every row's
  /// Q (d_qk lanes: one vector a row and key, the lanes not yet summed;
  /// with bf16 products ceil(d_qk / 2) words of bf16 pairs by vdpbf16ps)
  /// into dotTile, and prefetches the key's V row, which this tile's P V
  /// reads next (accumulatePV prefetches the next tile's K rows in turn:
  /// each phase prefetches what the other reads; the probs pass, which has
  /// no P V, prefetches the next tile's K row here). Then a
  /// shuffle tree (sumLanes) sums each row's `width` vectors across lanes
  /// into one vector of `width` scores. Keys past the tile read the tile's
  /// last row (their scores are masked to -inf). The key loop is a loop,
  /// not unrolled: unrolled, LLVM hoisted all of the chunk's K loads above
  /// the products and spilled them.
  void computeScoresRows(Value cols) {
    const int64_t w = s.width;
    // micro_m rows at a time, each row's products in two chains (even and
    // odd chunks of d_qk, or of its pair words), so that 2 x micro_m FMA
    // (or vdpbf16ps) chains overlap. The K
    // row's chunks are loaded a group at a time, as many as the registers
    // hold beside the 2 x micro_m accumulators and a Q chunk (all of d_qk
    // 128 at width 16; 6 chunks at width 8 and micro_m 4).
    const int64_t unit = s.pairsScores ? 2 : 1;
    const int64_t chunks = (s.ktRows() + w - 1) / w;
    const int64_t group =
        std::max<int64_t>(1, s.vectorRegisters() - 2 * s.microM - 2);
    Value last = sub(cols, idx(1));
    forEachRow(idx(0), idx(s.blockN), w, [&](Value c) {
      forEachRow(idx(0), idx(w), 1, [&](Value j) {
        Value key = minS(add(c, j), last);
        SmallVector<Value> row = kvRow(key);
        if (probsPass) // it reads no V, and runs no P V to prefetch K
          prefetchNextKLines(key, 0, 1);
        else
          prefetchRow(row, /*withK=*/false);
        forEachRow(idx(0), rowsUp, s.microM, [&](Value i0) {
          SmallVector<Value> acc(2 * s.microM);
          for (int64_t g0 = 0; g0 < chunks; g0 += group) {
            const int64_t g1 = std::min(chunks, g0 + group);
            SmallVector<Value> keyVecs;
            for (int64_t n = g0; n < g1; ++n)
              keyVecs.push_back(loadChunk(
                  k, row, idx(n * w),
                  std::min(w * unit, s.dQk - n * w * unit), s.pairsScores));
            for (int64_t r = 0; r < s.microM; ++r)
              for (int64_t n = g0; n < g1; ++n) {
                Value qv = loadVec(qTile, {add(i0, idx(r)), idx(n * w)});
                Value kv = keyVecs[n - g0];
                Value &a = acc[2 * r + n % 2];
                if (s.pairsScores)
                  a = dotBf16(a ? a : splat(0.0), qv, kv);
                else
                  a = a ? b.create<vector::FMAOp>(qv, kv, a).getResult()
                        : b.create<arith::MulFOp>(qv, kv).getResult();
              }
          }
          for (int64_t r = 0; r < s.microM; ++r) {
            Value sum = acc[2 * r + 1]
                            ? b.create<arith::AddFOp>(acc[2 * r], acc[2 * r + 1])
                                  .getResult()
                            : acc[2 * r];
            storeVec(sum, dotTile, {add(i0, idx(r)), mul(j, idx(w))});
          }
        });
      });
      forEachRow(idx(0), rowsUp, 1, [&](Value i) {
        // A binary counter of partial sums: a vector of level L holds 2^L
        // keys' partial sums, width / 2^L lanes each.
        SmallVector<std::pair<int64_t, Value>> stack;
        for (int64_t j = 0; j < w; ++j) {
          stack.push_back({0, loadVec(dotTile, {i, idx(j * w)})});
          while (stack.size() >= 2 &&
                 stack[stack.size() - 1].first == stack[stack.size() - 2].first) {
            auto [level, hi] = stack.pop_back_val();
            Value lo = stack.pop_back_val().second;
            stack.push_back({level + 1, sumLanes(lo, hi, level)});
          }
        }
        Value scores = stack.front().second;
        if (s.pairsScores) // Q was not pre-scaled
          scores = b.create<arith::MulFOp>(scores, splat(s.scale));
        storeVec(scores, sTile, {i, c});
      });
    });
  }

  /// Combines two vectors of level `level` (each 2^level keys of g = width
  /// / 2^level lanes) into one of level + 1: the first halves of every key's
  /// lanes, a's keys then b's, plus the second halves; keys stay in order.
  Value sumLanes(Value a, Value bVec, int64_t level) {
    const int64_t g = s.width >> level, keys = int64_t(1) << level;
    SmallVector<int64_t> first, second;
    for (int64_t src = 0; src < 2; ++src)
      for (int64_t key = 0; key < keys; ++key)
        for (int64_t l = 0; l < g / 2; ++l) {
          first.push_back(src * s.width + key * g + l);
          second.push_back(src * s.width + key * g + g / 2 + l);
        }
    return b.create<arith::AddFOp>(
        b.create<vector::ShuffleOp>(a, bVec, first),
        b.create<vector::ShuffleOp>(a, bVec, second));
  }


  /// The row's query position, clamped into [0, seq_q): padding rows of a
  /// tile must not show user code an out-of-range index.
  Value clampedQuery(Value i) {
    return minS(positionOf(i), sub(seqQ, idx(1)));
  }
  /// Key indices n0 + c + lane, clamped into [0, seq_kv) for user code
  /// (lanes past the last key are masked afterwards).
  Value clampedKeys(Value n0, int64_t c) {
    Value keys = b.create<arith::AddIOp>(
        b.create<vector::BroadcastOp>(indexVecTy(), add(n0, idx(c))),
        laneIota());
    Value last =
        b.create<vector::BroadcastOp>(indexVecTy(), sub(seqKv, idx(1)));
    return b.create<arith::MinSIOp>(keys, last);
  }
  VectorType indexVecTy() {
    return VectorType::get({s.width}, b.getIndexType());
  }
  Value laneIota() {
    SmallVector<int64_t> lanes(s.width);
    std::iota(lanes.begin(), lanes.end(), 0);
    return b.create<arith::ConstantOp>(
        DenseElementsAttr::get(indexVecTy(), ArrayRef<int64_t>(lanes)));
  }

  /// S = score(S, b, h, q, k) on every row and column of the tile: the
  /// score function (softcap, ALiBi, custom) lifted to vectors over k.
  void applyScore(Value n0) {
    forEachRow(idx(0), rowsUp, 1, [&](Value i) {
      Value h = headOf(i), row = clampedQuery(i);
      for (int64_t c = 0; c < s.blockN; c += s.width) {
        Value x = loadVec(sTile, {i, idx(c)});
        Value y = mods->inlineFunc(
            defs.score, {x, regionBatch, h, row, clampedKeys(n0, c)})[0];
        if (!isa<VectorType>(y.getType())) // depends on neither s nor k
          y = b.create<vector::BroadcastOp>(vecTy, y);
        storeVec(y, sTile, {i, idx(c)});
      }
    });
  }

  /// Sets masked scores (and columns past the last key) to -inf, only on
  /// tiles that the key range does not prove fully visible, or that are
  /// short.
  void applyMask(Value n0, Value cols, bool trusted) {
    const bool useMask = defs.mask && !trusted;
    Value needMask = cmp(arith::CmpIPredicate::slt, cols, idx(s.blockN));
    if (useMask) {
      Value full = b.create<arith::AndIOp>(
          cmp(arith::CmpIPredicate::sge, n0, fullLo),
          cmp(arith::CmpIPredicate::sle, add(n0, idx(s.blockN)), fullHi));
      needMask = b.create<arith::OrIOp>(
          needMask, b.create<arith::XOrIOp>(
                        full, b.create<arith::ConstantIntOp>(1, 1)));
    }
    ifThen(needMask, [&] {
      Value keyEnd = b.create<vector::BroadcastOp>(indexVecTy(), add(n0, cols));
      Value minusInf = splat(-std::numeric_limits<double>::infinity());
      forEachRow(idx(0), rowsUp, 1, [&](Value i) {
        Value h = headOf(i), row = clampedQuery(i);
        for (int64_t c = 0; c < s.blockN; c += s.width) {
          Value keys = b.create<arith::AddIOp>(
              b.create<vector::BroadcastOp>(indexVecTy(), add(n0, idx(c))),
              laneIota());
          Value valid = cmp(arith::CmpIPredicate::slt, keys, keyEnd);
          if (useMask) {
            Value visible = mods->inlineFunc(
                defs.mask, {regionBatch, h, row, clampedKeys(n0, c)})[0];
            if (!isa<VectorType>(visible.getType())) // depends on no key
              visible = b.create<vector::BroadcastOp>(
                  VectorType::get({s.width}, b.getI1Type()), visible);
            valid = b.create<arith::AndIOp>(valid, visible);
          }
          Value x = loadVec(sTile, {i, idx(c)});
          storeVec(b.create<arith::SelectOp>(valid, x, minusInf), sTile,
                   {i, idx(c)});
        }
      });
    });
  }

  /// x > y ? x : y as compare-and-select, which x86 turns into a single
  /// vmaxps. A NaN in y is kept, a NaN in x dropped: the running max need not
  /// see a NaN score, since that score's own exp is NaN and poisons the row's
  /// sum and accumulator (updateSoftmax). (arith.maxnumf, even with nnan,
  /// lowers to a NaN-aware blend of four instructions; with nnan a NaN
  /// argument would be poison.)
  Value fastMax(Value x, Value y) {
    Value greater = b.create<arith::CmpFOp>(arith::CmpFPredicate::OGT, x, y);
    return b.create<arith::SelectOp>(greater, x, y);
  }

  /// The max of a vector's lanes by halving it with shuffles and fastMax.
  Value maxAcrossLanes(Value v) {
    for (int64_t w = s.width / 2; w >= 1; w /= 2) {
      SmallVector<int64_t> low, high;
      for (int64_t l = 0; l < w; ++l)
        low.push_back(l), high.push_back(l + w);
      v = fastMax(b.create<vector::ShuffleOp>(v, v, low),
                  b.create<vector::ShuffleOp>(v, v, high));
    }
    return b.create<vector::ExtractOp>(v, ArrayRef<int64_t>{0});
  }

  /// exp(x) for lanes x <= 0 (a score minus its row's running max), with
  /// about 2 ulp of error: x = n ln2 + r (Cody-Waite, |r| <= ln2/2),
  /// exp(r) by a degree-7 Taylor polynomial, 2^n from exponent bits. Inputs
  /// are clamped at -88, where n = -127 gives zero exponent bits, so x = -inf
  /// (a masked score) yields exactly 0 and a fully masked row sums to 0.
  /// A NaN lane stays NaN.
  /// About 15 operations a vector, half of math.exp's general approximation.
  Value expNonPositive(Value x) {
    auto fma = [&](Value a, Value m, Value c) {
      return b.create<math::FmaOp>(a, m, c).getResult();
    };
    // Two clamps, one vmaxps each: n comes from the one that drops a NaN
    // (so fptosi never sees one: that would be poison), r from the one
    // that keeps it (so the polynomial, and the result, are NaN).
    Value clamped = fastMax(splat(-88.0), x);    // NaN stays NaN
    Value clampedNum = fastMax(x, splat(-88.0)); // NaN becomes -88
    Value n = b.create<math::RoundEvenOp>(
        b.create<arith::MulFOp>(clampedNum, splat(1.4426950408889634)));
    // ln2 split so that n * ln2Hi is exact for |n| <= 127.
    Value r = fma(n, splat(-0.693145751953125), clamped);
    r = fma(n, splat(-1.428606765330187e-06), r);
    Value p = splat(1.0 / 5040);
    for (double c : {1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1.0, 1.0})
      p = fma(p, r, splat(c));
    auto i32Vec = VectorType::get({s.width}, b.getI32Type());
    Value bits = b.create<arith::ShLIOp>(
        b.create<arith::AddIOp>(b.create<arith::FPToSIOp>(i32Vec, n),
                                b.create<arith::ConstantOp>(DenseElementsAttr::get(
                                    i32Vec, b.getI32IntegerAttr(127)))),
        b.create<arith::ConstantOp>(
            DenseElementsAttr::get(i32Vec, b.getI32IntegerAttr(23))));
    return b.create<arith::MulFOp>(p, b.create<arith::BitcastOp>(vecTy, bits));
  }

  /// Prefill: softmax row `i` also prefetches its share of the next key
  /// tile (V rows and the next K^T cache slot), so the next tile's loads
  /// are spread over this tile's softmax. At 8192 keys K^T and V come from
  /// L3 or memory, where the P V micro-kernel's strided partial rows do not
  /// trigger the hardware prefetchers (4/1 heads, d 128: 2% faster and
  /// steadier; level at 2048). Prefetches never fault, but indices are
  /// clamped in range anyway.
  void prefetchNextTile(Value i) {
    int64_t keysPerRow = s.paged ? 0 : (s.blockN + s.blockM - 1) / s.blockM;
    Value firstKey = add(add(n0Cur, idx(s.blockN)), mul(i, idx(keysPerRow)));
    for (int64_t kk = 0; kk < keysPerRow; ++kk) {
      Value key = minS(add(firstKey, idx(kk)), sub(seqKv, idx(1)));
      for (int64_t c = 0; c < s.dV; c += lineElements(v))
        prefetch(v, {batch, kvHead, key, idx(c)});
    }
    Value nextSlot = b.create<arith::RemUIOp>(
        add(ktIndex, idx(1)), b.create<memref::DimOp>(ktCache, 0));
    int64_t dimsPerRow = (s.ktRows() + s.blockM - 1) / s.blockM;
    for (int64_t dd = 0; dd < dimsPerRow; ++dd) {
      Value d = minS(add(mul(i, idx(dimsPerRow)), idx(dd)),
                     idx(s.ktRows() - 1));
      for (int64_t c = 0; c < s.blockN; c += lineElements(ktCache))
        prefetch(ktCache, {nextSlot, d, idx(c)});
    }
  }

  /// Online softmax over one tile: new row max, P = exp(S - max) in place,
  /// row sums, and alpha = exp(old max - new max), by which accumulatePV
  /// rescales the accumulator row as it loads it.
  void updateSoftmax() {
    forEachRow(idx(0), rowsUp, 1, [&](Value i) {
      if (s.cacheKt)
        prefetchNextTile(i);
      Value oldMax = load(rowMax, {i});
      Value vmax = loadVec(sTile, {i, idx(0)});
      // Plain vmaxps, then a tree of them across the lanes: a NaN score
      // may or may not reach the max, and either way its row ends NaN (its
      // own exp is NaN), as in PyTorch; no op here turns a NaN into poison.
      for (int64_t c = s.width; c < s.blockN; c += s.width)
        vmax = fastMax(vmax, loadVec(sTile, {i, idx(c)}));
      Value tileMax = maxAcrossLanes(vmax);
      Value newMax = fastMax(oldMax, tileMax);
      // A row with no visible key so far keeps max = -inf; subtracting 0
      // instead keeps exp(-inf) = 0 and avoids inf - inf = NaN.
      Value allMasked = b.create<arith::CmpFOp>(arith::CmpFPredicate::OEQ,
                                                newMax, negInf());
      Value safeMax =
          b.create<arith::SelectOp>(allMasked, f32Const(0.0), newMax);
      Value shift = splatOf(safeMax);
      Value vsum = splat(0.0);
      // With bf16 products the row's first block_n / 2 words get P's bf16
      // pairs: the pair of lanes c .. c + 2W - 1 goes to words c / 2 ..,
      // which the loads of this or an earlier step have already read.
      for (int64_t c = 0; c < s.blockN; c += s.width * s.unit()) {
        Value p[2] = {splat(0.0), splat(0.0)};
        for (int64_t h = 0; h < s.unit() && c + h * s.width < s.blockN; ++h) {
          p[h] = expNonPositive(b.create<arith::SubFOp>(
              loadVec(sTile, {i, idx(c + h * s.width)}), shift));
          vsum = b.create<arith::AddFOp>(vsum, p[h]);
        }
        if (s.dot16)
          storeVec(packBf16(p[0], p[1]), sTile, {i, idx(c / 2)});
        else
          storeVec(p[0], sTile, {i, idx(c)});
      }
      Value tileSum =
          b.create<vector::ReductionOp>(vector::CombiningKind::ADD, vsum);
      Value alpha =
          b.create<math::ExpOp>(b.create<arith::SubFOp>(oldMax, safeMax));
      Value sum = b.create<arith::AddFOp>(
          b.create<arith::MulFOp>(load(rowSum, {i}), alpha), tileSum);
      store(sum, rowSum, {i});
      store(newMax, rowMax, {i});
      // The accumulator row is rescaled by alpha as the P V micro-kernel
      // loads it (accumulatePV), not in a pass of its own.
      store(alpha, rowAlpha, {i});
    });
  }

  /// Rows form, P V pass `pass` of `passes` at tile row j: prefetches that
  /// pass's share of the lines of the next tile's K row j (dense: clamped
  /// to the last key; paged: the row findPages looked up), which the next
  /// tile's scores read. The scores prefetch this tile's V rows in turn
  /// (computeScoresRows), so both phases keep requests in flight for the
  /// other's data. Against K and V prefetched `width` keys ahead from the
  /// scores alone (and 64-key tiles), with the tile's K and V rows in 32
  /// KiB (SelectCpuSchedule): 16-bit caches from memory 1.04-1.13x, f32
  /// 1.06-1.09x at 1 thread and 1.00-1.03x at 2 (medians of three
  /// same-process runs; docs/perf.md "Decode"). Schedule prefetch = 2
  /// sends these and the V prefetches to L2 instead of L1 (prefetcht2;
  /// from memory on the Zen 4 VM, whose L1d is 32 KiB, 1.25-1.7x the ratio
  /// to the read stream).
  void prefetchNextKLines(Value j, int64_t pass, int64_t passes) {
    const int64_t line = lineElements(k);
    const int64_t lines = (s.dQk + line - 1) / line;
    const int64_t per = (lines + passes - 1) / passes;
    SmallVector<Value> row = kvRow(j, s.blockN);
    for (int64_t l = pass * per; l < std::min(lines, (pass + 1) * per); ++l)
      prefetch(k, at(row, idx(l * line)), s.prefetchL2);
  }

  /// accTile += sTile[:, :cols] * V[b, kvh, n0 : n0 + cols, :].
  void accumulatePV(Value cols) {
    int64_t dVPad = s.roundUp(s.dV);
    // The rows form reads V in place, once per pass over d_v: at least
    // micro_n, and up to 4 vectors a pass where the registers hold them
    // (micro_m x vectors accumulators plus the V row's vectors and a
    // broadcast).
    int64_t passWidth = s.microN;
    if (s.rowsForm) {
      int64_t vectors =
          std::clamp<int64_t>((s.vectorRegisters() - 8) / s.microM, 1, 4);
      passWidth = std::max(passWidth, vectors * s.width);
    }
    forEachRow(idx(0), rowsUp, s.microM, [&](Value i0) {
      for (int64_t c0 = 0; c0 < dVPad; c0 += passWidth) {
        int64_t vectors = std::min(passWidth, dVPad - c0) / s.width;
        auto at = [&](int64_t r, int64_t n) -> SmallVector<Value> {
          return {add(i0, idx(r)), idx(c0 + n * s.width)};
        };
        // V is read in place: its rows are already [key, d_v] with unit
        // stride, the layout this product wants; lanes past d_v read 0.
        // With bf16 products both sides are words of key pairs.
        Value depth = s.dot16 ? b.create<arith::CeilDivUIOp>(cols, idx(2))
                              : cols;
        microKernel(
            i0, idx(c0), vectors, depth, sTile,
            [&](Value d, int64_t n) {
              if (s.rowsForm && n == 0) {
                auto ahead = [&] {
                  prefetchNextKLines(d, c0 / passWidth,
                                     (dVPad + passWidth - 1) / passWidth);
                };
                // Once a key: where a tile has several row groups (vector
                // width 8 or 4), the first group's passes prefetch.
                if (s.blockM <= s.microM)
                  ahead();
                else
                  ifThen(cmp(arith::CmpIPredicate::eq, i0, idx(0)), ahead);
              }
              if (packsV())
                return loadVec(vTile, {d, idx(c0 + n * s.width)});
              return loadRow(v, kvRow(d), c0 + n * s.width, s.dV);
            },
            [&](int64_t r, int64_t n) {
              // acc *= exp(old max - new max) (updateSoftmax's alpha).
              Value alpha = splatOf(load(rowAlpha, {add(i0, idx(r))}));
              return b.create<arith::MulFOp>(loadVec(accTile, at(r, n)), alpha)
                  .getResult();
            },
            [&](int64_t r, int64_t n, Value acc) {
              storeVec(acc, accTile, at(r, n));
            });
      }
    });
  }

  /// With one split: O = acc / l (0 for a fully masked row) and LSE =
  /// m + log(l) (else -inf). With several, the unnormalised acc, m and l of
  /// this split go to `partials` for the runtime to merge:
  ///   acc at [split, b, h, pos, 0:d_v], then m and l at [split, b, h, pos].
  void finalize() {
    auto ifOp = b.create<scf::IfOp>(
        cmp(arith::CmpIPredicate::eq, splits, idx(1)), /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      finalizeOutputs();
      b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
      finalizePartials();
    }
  }

  void finalizePartials() {
    Value seqRows = mul(mul(batchSize, idx(s.qHeads)), seqQ); // rows a split
    Value mBase = mul(mul(splits, seqRows), idx(s.dV));
    Value lBase = add(mBase, mul(splits, seqRows));
    forEachRow(idx(0), rows, 1, [&](Value i) {
      Value row = add(mul(add(mul(add(mul(split, batchSize), batch),
                                  idx(s.qHeads)),
                              headOf(i)),
                          seqQ),
                      positionOf(i));
      Value base = mul(row, idx(s.dV));
      for (int64_t c = 0; c < s.dV; c += s.width) {
        Value acc = loadVec(accTile, {i, idx(c)});
        Value at = add(base, idx(c));
        if (c + s.width <= s.dV) {
          storeVec(acc, partials, {at});
        } else {
          Value mask = b.create<vector::CreateMaskOp>(
              VectorType::get({s.width}, b.getI1Type()),
              ValueRange{idx(s.dV - c)});
          b.create<vector::MaskedStoreOp>(partials, ValueRange{at}, mask, acc);
        }
      }
      store(load(rowMax, {i}), partials, {add(mBase, row)});
      store(load(rowSum, {i}), partials, {add(lBase, row)});
    });
  }

  void finalizeOutputs() {
    forEachRow(idx(0), rows, 1, [&](Value i) {
      Value sum = load(rowSum, {i});
      // sum != 0 or NaN: a row that saw a NaN score ends NaN in O and LSE,
      // a fully masked one (sum 0) gives 0 and -inf.
      Value seen =
          b.create<arith::CmpFOp>(arith::CmpFPredicate::UNE, sum, f32Const(0));
      Value inv = b.create<arith::SelectOp>(
          seen, b.create<arith::DivFOp>(f32Const(1.0), sum), f32Const(0.0));
      Value invVec = splatOf(inv);
      Value h = headOf(i), row = positionOf(i);
      for (int64_t c = 0; c < s.dV; c += s.width) {
        Value out = b.create<arith::MulFOp>(loadVec(accTile, {i, idx(c)}),
                                            invVec);
        storeRow(out, o, {batch, h, row}, c, s.dV);
      }
      if (s.lse) {
        Value lse = b.create<arith::AddFOp>(load(rowMax, {i}),
                                            b.create<math::LogOp>(sum));
        store(b.create<arith::SelectOp>(seen, lse, negInf()), lseOut,
              {batch, h, row});
      }
    });
  }

  const KernelShape &s;
  const ModDefinitions &defs;
  ImplicitLocOpBuilder &b;
  std::optional<ModInliner> mods; // once the sequence lengths exist
  Type f32;
  VectorType vecTy, idxVecTy;
  Value q, k, v, o, lseOut, probsOut, partials, splits;
  Value rowLse;            // probs: each row's LSE, for the second pass
  bool probsPass = false;  // processTile writes P instead of updating O
  Value qTile, kTile, vTile, sTile, accTile, rowMax, rowSum, rowAlpha;
  Value dotTile; // rows form: [row, key x width] lane-wise products
  Value seqQ, seqKv, batchSize, numQBlocks;
  // Paged: the page table, the kv lengths and the pools' page size.
  Value pageTable, kvSeqlens, pageSize;
  // Paged: page and slot of the current tile's rows, then the next tile's.
  Value pageRows[4];
  SmallVector<Value> inputValues; // the declared inputs' memrefs
  // The keys every row of the current work item sees (see visibleKeyRange).
  Value fullLo, fullHi;
  // The work item: batch, its first query head and kv head, its first query
  // position m0, how many positions it has, and its rows (heads x positions).
  // regionBatch = batch + batchBase: what regions see as b.
  Value split, batch, regionBatch, batchBase, firstHead, kvHead, m0, positions,
      rows, rowsUp;
  Value ktCache, ktTags;
  // Block-sparse: [0] partial, [1] full lists (counts and indices).
  Value blockCount[2], blockIndex[2];
  // The current key tile: its first key, and its K^T cache slot (prefill).
  Value n0Cur, ktIndex;
  int64_t stackBytes_ = 0; // of the tiles, counted as tile() makes them
};

struct ConvertAttnToSCF
    : attn::impl::ConvertAttnToSCFBase<ConvertAttnToSCF> {
  void runOnOperation() override {
    SmallVector<KernelOp> kernels;
    getOperation().walk([&](KernelOp op) { kernels.push_back(op); });
    for (KernelOp op : kernels)
      if (failed(lowerKernelToLoops(op)))
        return signalPassFailure();
  }
};
} // namespace

LogicalResult mlir::attn::lowerKernelToLoops(KernelOp op) {
  if (failed(checkCpuSupport(op)))
    return failure();
  KernelShape shape = KernelShape::of(op);
  // The one definition of the mask and score modifiers, inlined below.
  ModDefinitions defs = buildModDefinitions(op);
  ImplicitLocOpBuilder b(op.getLoc(), op);
  LoopNestEmitter emitter(shape, defs, b);
  auto func = b.create<func::FuncOp>(op.getSymName(), emitter.functionType());
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  emitter.emitBody(func);
  if (emitter.stackBytes() > kMaxCpuStackTileBytes) {
    func.erase();
    ScheduleAttr sched = op.getScheduleAttr();
    return op.emitOpError()
           << "schedule block_m " << sched.getBlockM() << ", block_n "
           << sched.getBlockN() << " with d_qk " << op.getDQk() << " and d_v "
           << op.getDvOrDefault() << " needs "
           << emitter.stackBytes() / 1024 << " KiB of stack for its tiles; "
           << "the cpu backend allows at most "
           << kMaxCpuStackTileBytes / 1024 << " KiB (choose a smaller block_m "
           << "or block_n)";
  }
  op.erase();
  return success();
}
