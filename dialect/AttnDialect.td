#ifndef ATTN_DIALECT_TD
#define ATTN_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::mlir::attn";
  let summary = "Declarative description of fused attention kernels";
  let description = [{
    The `attn` dialect describes *what* an attention kernel computes: heads and
    GQA/MQA grouping, head dims, element types, scale and softcap, the mask,
    score modifiers, layout, mode, outputs and a schedule. It knows nothing of
    backends; lowering passes decide *how*.
  }];
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerAttributes();
  }];
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

class Attn_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Attn_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

#endif // ATTN_DIALECT_TD
