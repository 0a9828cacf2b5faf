// Tuning database text through the JSON reader and the record checks, then
// a lookup and a save of what was read (to /dev/null's equivalent: memory).
#include "FuzzInput.h"

#include "runtime/TuningDb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  auto db = attnc::TuningDb::parse(text, "<fuzz>");
  if (db.ok())
    for (const attnc::TuningRecord &r : db->records())
      (void)db->lookup(r.problem, r.target, r.batch, r.seqQ, r.seqKv);
  return 0;
}
