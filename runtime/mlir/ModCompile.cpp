#include "runtime/mlir/ModCompile.h"

#include "dialect/Mods.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"

namespace attnc::detail {
namespace {

using mlir::Operation;
using mlir::Value;

ModType modTypeOf(mlir::Type t) {
  if (t.isF32())
    return ModType::F32;
  if (t.isSignlessInteger(1))
    return ModType::I1;
  if (t.isSignlessInteger(32))
    return ModType::I32;
  return ModType::I64; // i64 and index
}

/// The instruction for each whitelisted elementwise op, by name.
const llvm::StringMap<ModInst::Op> &opcodes() {
  static const llvm::StringMap<ModInst::Op> table = {
      {"arith.addi", ModInst::AddI},         {"arith.subi", ModInst::SubI},
      {"arith.muli", ModInst::MulI},         {"arith.divsi", ModInst::DivSI},
      {"arith.divui", ModInst::DivUI},       {"arith.remsi", ModInst::RemSI},
      {"arith.remui", ModInst::RemUI},       {"arith.ceildivsi", ModInst::CeilDivSI},
      {"arith.floordivsi", ModInst::FloorDivSI},
      {"arith.maxsi", ModInst::MaxSI},       {"arith.minsi", ModInst::MinSI},
      {"arith.maxui", ModInst::MaxUI},       {"arith.minui", ModInst::MinUI},
      {"arith.andi", ModInst::AndI},         {"arith.ori", ModInst::OrI},
      {"arith.xori", ModInst::XorI},         {"arith.shli", ModInst::ShLI},
      {"arith.shrsi", ModInst::ShRSI},       {"arith.shrui", ModInst::ShRUI},
      {"arith.cmpi", ModInst::CmpI},         {"arith.select", ModInst::Select},
      {"arith.extsi", ModInst::ExtSI},       {"arith.extui", ModInst::ExtUI},
      {"arith.trunci", ModInst::TruncI},     {"arith.index_cast", ModInst::IndexCast},
      {"arith.index_castui", ModInst::IndexCastUI},
      {"arith.sitofp", ModInst::SIToFP},     {"arith.uitofp", ModInst::UIToFP},
      {"arith.fptosi", ModInst::FPToSI},     {"arith.fptoui", ModInst::FPToUI},
      {"arith.addf", ModInst::AddF},         {"arith.subf", ModInst::SubF},
      {"arith.mulf", ModInst::MulF},         {"arith.divf", ModInst::DivF},
      {"arith.remf", ModInst::RemF},         {"arith.negf", ModInst::NegF},
      {"arith.maximumf", ModInst::MaximumF}, {"arith.minimumf", ModInst::MinimumF},
      {"arith.maxnumf", ModInst::MaxNumF},   {"arith.minnumf", ModInst::MinNumF},
      {"arith.cmpf", ModInst::CmpF},         {"math.absf", ModInst::AbsF},
      {"math.absi", ModInst::AbsI},          {"math.ceil", ModInst::Ceil},
      {"math.floor", ModInst::Floor},        {"math.copysign", ModInst::CopySign},
      {"math.exp", ModInst::Exp},            {"math.exp2", ModInst::Exp2},
      {"math.log", ModInst::Log},            {"math.log2", ModInst::Log2},
      {"math.log1p", ModInst::Log1p},        {"math.tanh", ModInst::Tanh},
      {"math.sqrt", ModInst::Sqrt},          {"math.rsqrt", ModInst::Rsqrt},
      {"math.powf", ModInst::PowF},          {"math.fma", ModInst::Fma},
      {"math.sin", ModInst::Sin},            {"math.cos", ModInst::Cos},
      {"math.erf", ModInst::Erf},            {"math.roundeven", ModInst::RoundEven},
      {"math.trunc", ModInst::Trunc},
  };
  return table;
}

ModProgram compile(mlir::func::FuncOp f, mlir::attn::KernelOp kernel) {
  ModProgram p;
  llvm::DenseMap<Value, int32_t> reg;
  auto push = [&](ModInst in, Value result) {
    reg[result] = static_cast<int32_t>(p.insts.size());
    p.insts.push_back(std::move(in));
  };
  mlir::Block &entry = f.front();
  for (auto [i, arg] : llvm::enumerate(entry.getArguments())) {
    ModInst in;
    in.op = ModInst::Arg;
    in.type = modTypeOf(arg.getType());
    in.intValue = static_cast<int64_t>(i);
    push(in, arg);
  }
  for (Operation &op : entry) {
    if (auto ret = llvm::dyn_cast<mlir::func::ReturnOp>(op)) {
      for (Value v : ret.getOperands())
        p.results.push_back(reg.lookup(v));
      break;
    }
    ModInst in;
    Value result = op.getResult(0);
    in.type = modTypeOf(result.getType());
    if (op.getNumOperands() > 0)
      in.srcType = modTypeOf(op.getOperand(0).getType());
    int32_t *slots[] = {&in.a, &in.b, &in.c};
    for (unsigned i = 0; i < op.getNumOperands() && i < 3; ++i)
      *slots[i] = reg.lookup(op.getOperand(i));
    if (auto c = llvm::dyn_cast<mlir::arith::ConstantOp>(op)) {
      in.op = ModInst::Const;
      if (auto fa = llvm::dyn_cast<mlir::FloatAttr>(c.getValue()))
        in.floatValue = fa.getValueAsDouble();
      else
        in.intValue = llvm::cast<mlir::IntegerAttr>(c.getValue()).getInt();
    } else if (auto s = llvm::dyn_cast<mlir::attn::SeqLenOp>(op)) {
      in.op = s.getWhich() == mlir::attn::SeqKind::Q ? ModInst::SeqQ
                                                     : ModInst::SeqKv;
    } else if (auto load = llvm::dyn_cast<mlir::attn::LoadOp>(op)) {
      in.op = ModInst::Load;
      in.a = in.b = in.c = -1;
      auto inputs = kernel.getInputsAttr();
      for (auto [i, a] : llvm::enumerate(inputs))
        if (llvm::cast<mlir::attn::InputAttr>(a).getName() == load.getInput())
          in.intValue = static_cast<int64_t>(i);
      for (Value index : load.getIndices())
        in.indices.push_back(reg.lookup(index));
    } else {
      // The verifier admits only whitelisted ops (AttnOps.cpp), each here.
      in.op = opcodes().lookup(op.getName().getStringRef());
      if (auto cmp = llvm::dyn_cast<mlir::arith::CmpIOp>(op))
        in.predicate = static_cast<uint8_t>(cmp.getPredicate());
      if (auto cmp = llvm::dyn_cast<mlir::arith::CmpFOp>(op))
        in.predicate = static_cast<uint8_t>(cmp.getPredicate());
      if (llvm::isa<mlir::arith::SelectOp>(op))
        in.srcType = modTypeOf(op.getOperand(1).getType());
    }
    push(std::move(in), result);
  }
  return p;
}

} // namespace

std::shared_ptr<const ModPrograms> compileMods(mlir::attn::KernelOp op) {
  mlir::attn::ModDefinitions defs = mlir::attn::buildModDefinitions(op);
  auto mods = std::make_shared<ModPrograms>();
  if (defs.mask)
    mods->mask = compile(defs.mask, op);
  if (defs.score)
    mods->score = compile(defs.score, op);
  if (defs.range)
    mods->range = compile(defs.range, op);
  if (defs.feature)
    mods->feature = compile(defs.feature, op);
  return mods;
}

std::vector<InputDecl> inputsOf(mlir::attn::KernelOp op) {
  std::vector<InputDecl> out;
  if (mlir::ArrayAttr inputs = op.getInputsAttr())
    for (mlir::Attribute a : inputs) {
      auto input = llvm::cast<mlir::attn::InputAttr>(a);
      InputDecl d;
      d.name = input.getName().str();
      d.type = input.getElementType().isF32() ? DType::F32 : DType::I32;
      for (mlir::attn::InputDim dim : input.getDims())
        d.dims.push_back(static_cast<InputDim>(dim));
      out.push_back(std::move(d));
    }
  return out;
}

} // namespace attnc::detail
