// Parsing, printing and verification of the attn dialect's attributes.
#include "dialect/AttnAttrs.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::attn;

#include "dialect/AttnEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/AttnAttrs.cpp.inc"

void AttnDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/AttnAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// MaskAttr
//===----------------------------------------------------------------------===//

MaskAttr MaskAttr::getNone(MLIRContext *ctx) {
  return MaskAttr::get(ctx, MaskKind::None, Alignment::Unset, kAbsent, kAbsent);
}

Attribute MaskAttr::parse(AsmParser &parser, Type) {
  MLIRContext *ctx = parser.getContext();
  SMLoc loc = parser.getCurrentLocation();
  StringRef kindName;
  if (parser.parseLess() || parser.parseKeyword(&kindName))
    return {};
  std::optional<MaskKind> kind = symbolizeMaskKind(kindName);
  if (!kind) {
    parser.emitError(loc, "unknown mask kind '")
        << kindName
        << "'; expected none, causal, sliding_window or custom";
    return {};
  }
  Alignment alignment = Alignment::Unset;
  int64_t left = kAbsent, right = kAbsent;
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc itemLoc = parser.getCurrentLocation();
    StringRef key;
    if (parser.parseKeyword(&key))
      return {};
    if (std::optional<Alignment> a = symbolizeAlignment(key);
        a && *a != Alignment::Unset) {
      if (alignment != Alignment::Unset) {
        parser.emitError(itemLoc, "mask alignment given twice");
        return {};
      }
      alignment = *a;
      continue;
    }
    int64_t *slot = llvm::StringSwitch<int64_t *>(key)
                        .Case("left", &left)
                        .Case("right", &right)
                        .Default(nullptr);
    if (!slot) {
      parser.emitError(itemLoc, "unknown mask parameter '")
          << key << "'; expected top_left, bottom_right, left or right";
      return {};
    }
    if (*slot != kAbsent) {
      parser.emitError(itemLoc, "mask parameter '") << key << "' given twice";
      return {};
    }
    int64_t value;
    SMLoc valueLoc;
    if (parser.parseEqual() ||
        (valueLoc = parser.getCurrentLocation(), parser.parseInteger(value)))
      return {};
    if (value < 0) {
      parser.emitError(valueLoc, "mask parameter '")
          << key << "' must be >= 0, got " << value;
      return {};
    }
    *slot = value;
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<MaskAttr>(loc, ctx, *kind, alignment, left, right);
}

void MaskAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyMaskKind(getKind());
  if (getLeft() != kAbsent)
    printer << ", left = " << getLeft();
  if (getRight() != kAbsent)
    printer << ", right = " << getRight();
  if (hasAlignment())
    printer << ", " << stringifyAlignment(getAlignment());
  printer << ">";
}

LogicalResult MaskAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               MaskKind kind, Alignment alignment, int64_t left,
                               int64_t right) {
  bool aligned = kind == MaskKind::Causal || kind == MaskKind::SlidingWindow;
  if (aligned && alignment == Alignment::Unset)
    return emitError() << stringifyMaskKind(kind)
                       << " mask requires an explicit alignment: top_left or "
                          "bottom_right";
  if (!aligned && alignment != Alignment::Unset)
    return emitError() << "alignment applies only to causal and "
                          "sliding_window masks, not "
                       << stringifyMaskKind(kind);
  bool window = kind == MaskKind::SlidingWindow;
  if (window && (left == kAbsent || right == kAbsent))
    return emitError() << "sliding_window mask requires both 'left' and "
                          "'right' extents";
  if (!window && (left != kAbsent || right != kAbsent))
    return emitError() << "'left' and 'right' apply only to sliding_window "
                          "masks, not "
                       << stringifyMaskKind(kind);
  if ((left != kAbsent && left < 0) || (right != kAbsent && right < 0))
    return emitError() << "sliding_window extents must be >= 0 (left = "
                       << left << ", right = " << right << ")";
  if (left > kMaxWindow || right > kMaxWindow)
    return emitError() << "sliding_window extents must be at most 2^40 (left = "
                       << left << ", right = " << right << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// InputAttr
//===----------------------------------------------------------------------===//

Attribute InputAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  std::string name;
  Type type;
  SmallVector<InputDim> dims;
  if (parser.parseLess() || parser.parseString(&name) || parser.parseComma() ||
      parser.parseType(type) || parser.parseComma())
    return {};
  auto parseDim = [&]() -> ParseResult {
    SMLoc dimLoc = parser.getCurrentLocation();
    StringRef keyword;
    if (parser.parseKeyword(&keyword))
      return failure();
    std::optional<InputDim> dim = symbolizeInputDim(keyword);
    if (!dim)
      return parser.emitError(dimLoc, "unknown input dimension '")
             << keyword
             << "'; expected batch, q_heads, kv_heads, seq_q, seq_kv or any";
    dims.push_back(*dim);
    return success();
  };
  if (parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, parseDim) ||
      parser.parseGreater())
    return {};
  return parser.getChecked<InputAttr>(loc, parser.getContext(), name, type,
                                      dims);
}

void InputAttr::print(AsmPrinter &printer) const {
  printer << "<\"" << getName() << "\", " << getElementType() << ", [";
  llvm::interleaveComma(getDims(), printer,
                        [&](InputDim d) { printer << stringifyInputDim(d); });
  printer << "]>";
}

/// True for [A-Za-z_][A-Za-z0-9_]* of at most `limit` characters.
bool mlir::attn::isIdentifier(StringRef name, size_t limit) {
  if (name.empty() || name.size() > limit || llvm::isDigit(name.front()))
    return false;
  return llvm::all_of(name,
                      [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

LogicalResult InputAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                StringRef name, Type elementType,
                                ArrayRef<InputDim> dims) {
  if (!isIdentifier(name, kMaxNameLength))
    return emitError() << "input name '" << name
                       << "' must be an identifier ([A-Za-z_][A-Za-z0-9_]*, at "
                          "most "
                       << kMaxNameLength << " characters)";
  if (!elementType.isF32() && !elementType.isSignlessInteger(32))
    return emitError() << "input '" << name
                       << "' must have element type i32 or f32, got "
                       << elementType;
  if (dims.size() > kMaxInputRank)
    return emitError() << "input '" << name << "' has rank " << dims.size()
                       << "; at most " << kMaxInputRank << " is supported";
  return success();
}

//===----------------------------------------------------------------------===//
// BlockSparseAttr
//===----------------------------------------------------------------------===//

LogicalResult
BlockSparseAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        int64_t blockQ, int64_t blockKv) {
  if (blockQ < 1 || blockKv < 1 || blockQ > (1 << 20) || blockKv > (1 << 20))
    return emitError() << "block_sparse block sizes must be in [1, 1048576], "
                          "got block_q = "
                       << blockQ << ", block_kv = " << blockKv;
  return success();
}

//===----------------------------------------------------------------------===//
// ScheduleAttr
//===----------------------------------------------------------------------===//

namespace {
/// The schedule's keys in print order, each with its getter.
struct ScheduleKey {
  const char *name;
  int64_t (ScheduleAttr::*get)() const;
};
constexpr ScheduleKey kScheduleKeys[] = {
    {"block_m", &ScheduleAttr::getBlockM},
    {"block_n", &ScheduleAttr::getBlockN},
    {"micro_m", &ScheduleAttr::getMicroM},
    {"micro_n", &ScheduleAttr::getMicroN},
    {"vector_width", &ScheduleAttr::getVectorWidth},
    {"threads", &ScheduleAttr::getThreads},
    {"warps", &ScheduleAttr::getWarps},
    {"stages", &ScheduleAttr::getStages},
    {"split_kv", &ScheduleAttr::getSplitKv},
    {"dot", &ScheduleAttr::getDot},
    {"prefetch", &ScheduleAttr::getPrefetch},
};
constexpr size_t kNumScheduleKeys = std::size(kScheduleKeys);
} // namespace

Attribute ScheduleAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  int64_t values[kNumScheduleKeys] = {};
  bool seen[kNumScheduleKeys] = {};
  if (parser.parseLess())
    return {};
  if (failed(parser.parseOptionalGreater())) {
    do {
      SMLoc keyLoc = parser.getCurrentLocation();
      StringRef key;
      int64_t value = 0;
      if (parser.parseKeyword(&key))
        return {};
      size_t i = 0;
      while (i < kNumScheduleKeys && key != kScheduleKeys[i].name)
        ++i;
      if (i == kNumScheduleKeys) {
        parser.emitError(keyLoc, "unknown schedule key '")
            << key
            << "'; expected block_m, block_n, micro_m, micro_n, "
               "vector_width, threads, warps, stages, split_kv, dot or "
               "prefetch";
        return {};
      }
      if (seen[i]) {
        parser.emitError(keyLoc, "schedule key '") << key << "' given twice";
        return {};
      }
      if (parser.parseEqual() || parser.parseInteger(value))
        return {};
      seen[i] = true;
      values[i] = value;
    } while (succeeded(parser.parseOptionalComma()));
    if (parser.parseGreater())
      return {};
  }
  return parser.getChecked<ScheduleAttr>(
      loc, parser.getContext(), values[0], values[1], values[2], values[3],
      values[4], values[5], values[6], values[7], values[8], values[9],
      values[10]);
}

void ScheduleAttr::print(AsmPrinter &printer) const {
  printer << "<";
  bool first = true;
  for (const ScheduleKey &key : kScheduleKeys) {
    int64_t value = (this->*key.get)();
    if (value == 0)
      continue;
    printer << (first ? "" : ", ") << key.name << " = " << value;
    first = false;
  }
  printer << ">";
}

LogicalResult
ScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                     int64_t blockM, int64_t blockN, int64_t microM,
                     int64_t microN, int64_t vectorWidth, int64_t threads,
                     int64_t warps, int64_t stages, int64_t splitKv,
                     int64_t dot, int64_t prefetch) {
  const int64_t values[] = {blockM, blockN, microM,  microN, vectorWidth,
                            threads, warps, stages, splitKv, dot, prefetch};
  for (size_t i = 0; i < kNumScheduleKeys; ++i)
    if (values[i] < 0)
      return emitError() << "schedule '" << kScheduleKeys[i].name << "' ("
                         << values[i] << ") must be >= 0 (0 means unset)";
  auto isPow2 = [](int64_t v) { return (v & (v - 1)) == 0; };
  if (blockM > 1024 || blockN > 1024)
    return emitError() << "block_m (" << blockM << ") and block_n (" << blockN
                       << ") must be at most 1024";
  if (vectorWidth && vectorWidth != 4 && vectorWidth != 8 && vectorWidth != 16)
    return emitError() << "vector_width (" << vectorWidth
                       << ") must be 4, 8 or 16";
  if (microM > 16)
    return emitError() << "micro_m (" << microM << ") must be at most 16";
  if (blockM && microM && blockM % microM)
    return emitError() << "block_m (" << blockM
                       << ") must be a multiple of micro_m (" << microM << ")";
  if (microN && vectorWidth && microN % vectorWidth)
    return emitError() << "micro_n (" << microN
                       << ") must be a multiple of vector_width ("
                       << vectorWidth << ")";
  if (microN && vectorWidth && microN / vectorWidth > 8)
    return emitError() << "micro_n (" << microN
                       << ") must be at most 8 vectors of vector_width ("
                       << vectorWidth << ")";
  if (blockN && microN && blockN % microN)
    return emitError() << "block_n (" << blockN
                       << ") must be a multiple of micro_n (" << microN << ")";
  if (warps && (!isPow2(warps) || warps > 16))
    return emitError() << "warps (" << warps
                       << ") must be a power of two no greater than 16";
  if (stages > 8)
    return emitError() << "stages (" << stages << ") must be at most 8";
  if (dot && dot != 16 && dot != 32)
    return emitError() << "dot (" << dot
                       << ") must be 16 (bf16 products) or 32 (f32 products)";
  if (prefetch > 2)
    return emitError() << "prefetch (" << prefetch
                       << ") must be 1 (into L1) or 2 (into L2)";
  return success();
}
