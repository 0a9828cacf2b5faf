#include "runtime/TuningDb.h"

#include "runtime/Files.h"
#include "runtime/detail/Compiler.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <unistd.h>

namespace attnc {
namespace json = llvm::json;

const std::string &hostTarget() { return detail::hostTargetId(); }
const char *attncVersion() { return ATTNC_VERSION; }
const char *llvmVersion() { return LLVM_VERSION_STRING; }

StatusOr<TuningDb> TuningDb::load(const std::string &path) {
  TuningDb db;
  if (!pathExists(path))
    return db; // no database yet
  StatusOr<std::string> read = readRegularFile(path, kMaxTextFileBytes);
  if (!read.ok())
    return read.status();
  return parse(*read, path);
}

StatusOr<TuningDb> TuningDb::parse(const std::string &text,
                                   const std::string &path) {
  TuningDb db;
  auto bad = [&](const std::string &why) {
    return Status::error(fmt::format("{}: not a tuning database: {}", path, why));
  };
  llvm::Expected<json::Value> root = json::parse(text);
  if (!root)
    return bad(llvm::toString(root.takeError()));
  const json::Object *object = root->getAsObject();
  if (object && object->getInteger("schema") == 1)
    return bad("schema 1 (written before problem keys were taken from the "
               "kernel's IR); run attnc tune again to rebuild it");
  if (!object || object->getInteger("schema") != 2)
    return bad("expected {\"schema\": 2, \"records\": [...]}");
  const json::Array *records = object->getArray("records");
  if (!records)
    return bad("no \"records\" array");
  for (const json::Value &value : *records) {
    const json::Object *r = value.getAsObject();
    const json::Object *sched = r ? r->getObject("schedule") : nullptr;
    if (!r || !sched)
      return bad("a record is not an object with a \"schedule\"");
    TuningRecord rec;
    auto str = [&](const json::Object *o, const char *key, std::string &out) {
      if (auto v = o->getString(key))
        out = v->str();
      return o->getString(key).has_value();
    };
    auto num = [&](const json::Object *o, const char *key, int64_t &out) {
      if (auto v = o->getInteger(key))
        out = *v;
      return o->getInteger(key).has_value();
    };
    bool ok = str(r, "problem", rec.problem) & str(r, "target", rec.target) &
              num(r, "batch", rec.batch) & num(r, "seq_q", rec.seqQ) &
              num(r, "seq_kv", rec.seqKv) &
              num(sched, "block_m", rec.schedule.blockM) &
              num(sched, "block_n", rec.schedule.blockN) &
              num(sched, "micro_m", rec.schedule.microM) &
              num(sched, "micro_n", rec.schedule.microN);
    if (!ok)
      return bad("a record lacks one of problem, target, batch, seq_q, "
                 "seq_kv or a schedule field");
    // The schedule's own rules are the verifier's, when the record is
    // used; here only what no record can mean.
    const TunedSchedule &t = rec.schedule;
    if (rec.batch < 1 || rec.seqQ < 1 || rec.seqKv < 1 || t.blockM < 1 ||
        t.blockN < 1 || t.microM < 1 || t.microN < 1 || t.blockM > 1024 ||
        t.blockN > 1024 || t.microM > 1024 || t.microN > 1024)
      return bad(fmt::format(
          "record {} has batch {}, seq_q {}, seq_kv {} (each must be >= 1) "
          "and block_m {}, block_n {}, micro_m {}, micro_n {} (each must be "
          "in [1, 1024])",
          db.records_.size(), rec.batch, rec.seqQ, rec.seqKv, t.blockM,
          t.blockN, t.microM, t.microN));
    // Optional (absent in records of kernels without the rows form).
    if (const json::Value *pf = sched->get("prefetch")) {
      std::optional<int64_t> level = pf->getAsInteger();
      if (!level || (*level != 1 && *level != 2))
        return bad(fmt::format(
            "record {} has schedule prefetch {}; it must be 1 (into L1) or 2 "
            "(into L2), or absent",
            db.records_.size(),
            level ? std::to_string(*level) : std::string("that is not an integer")));
      rec.schedule.prefetch = *level;
    }
    rec.millis = r->getNumber("time_ms").value_or(0);
    str(r, "device", rec.device);
    str(r, "llvm", rec.llvmVersion);
    str(r, "attnc", rec.attncVersion);
    str(r, "date", rec.date);
    db.records_.push_back(std::move(rec));
  }
  return db;
}

Status TuningDb::save(const std::string &path) const {
  json::Array records;
  for (const TuningRecord &r : records_) {
    json::Object schedule{{"block_m", r.schedule.blockM},
                          {"block_n", r.schedule.blockN},
                          {"micro_m", r.schedule.microM},
                          {"micro_n", r.schedule.microN}};
    if (r.schedule.prefetch)
      schedule["prefetch"] = r.schedule.prefetch;
    records.push_back(json::Object{
        {"problem", r.problem},
        {"target", r.target},
        {"batch", r.batch},
        {"seq_q", r.seqQ},
        {"seq_kv", r.seqKv},
        {"schedule", std::move(schedule)},
        {"time_ms", r.millis},
        {"device", r.device},
        {"llvm", r.llvmVersion},
        {"attnc", r.attncVersion},
        {"date", r.date}});
  }
  json::Value root = json::Object{{"schema", 2}, {"records", std::move(records)}};
  std::string text = llvm::formatv("{0:2}", root).str() + "\n";
  return writeOutputFile(path, text);
}

void TuningDb::add(TuningRecord record) {
  for (TuningRecord &r : records_)
    if (r.problem == record.problem && r.target == record.target &&
        r.batch == record.batch && r.seqQ == record.seqQ &&
        r.seqKv == record.seqKv) {
      r = std::move(record);
      return;
    }
  records_.push_back(std::move(record));
}

std::optional<TuningRecord> TuningDb::lookup(const std::string &problem,
                                             const std::string &target,
                                             int64_t batch, int64_t seqQ,
                                             int64_t seqKv) const {
  auto logRatio = [](int64_t a, int64_t b) {
    return std::abs(std::log2(double(std::max<int64_t>(a, 1)) /
                              double(std::max<int64_t>(b, 1))));
  };
  const TuningRecord *best = nullptr;
  double bestDistance = 0;
  for (const TuningRecord &r : records_) {
    if (r.problem != problem || r.target != target)
      continue;
    double dq = logRatio(seqQ, r.seqQ), dkv = logRatio(seqKv, r.seqKv);
    if (dq > 1 || dkv > 1)
      continue; // outside the bucket: more than 2x away
    double distance = dq + dkv + 0.25 * logRatio(batch, r.batch);
    if (!best || distance < bestDistance) {
      best = &r;
      bestDistance = distance;
    }
  }
  return best ? std::optional<TuningRecord>(*best) : std::nullopt;
}

} // namespace attnc
