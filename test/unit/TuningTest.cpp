// The tuning database (JSON, exact and nearest-bucket lookup) and shape
// dispatch over the kernel cache.
#include "TestUtil.h"

#include "runtime/Dispatch.h"
#include "runtime/Reference.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

using namespace attnc;
namespace fs = std::filesystem;

namespace {

TuningRecord record(const std::string &problem, int64_t seqQ, int64_t seqKv,
                    int64_t blockM) {
  TuningRecord r;
  r.problem = problem;
  r.target = hostTarget();
  r.batch = 1;
  r.seqQ = seqQ;
  r.seqKv = seqKv;
  r.schedule = {blockM, 32, 4, 16};
  r.millis = 1.5;
  r.device = "test";
  r.llvmVersion = llvmVersion();
  r.attncVersion = attncVersion();
  r.date = "2026-11-22T00:00:00Z";
  return r;
}

std::string tempFile(const std::string &name) {
  return (fs::path(testing::TempDir()) /
          ("attnc-" + std::to_string(getpid()) + "-" + name))
      .string();
}

TEST(TuningDb, SavesAndLoadsEveryField) {
  TuningDb db;
  db.add(record("p", 512, 512, 32));
  db.add(record("p", 2048, 2048, 64));
  db.add(record("p", 512, 512, 128)); // same shape: replaces
  TuningRecord decode = record("d", 1, 4096, 4);
  decode.schedule.prefetch = 2;
  db.add(decode);
  std::string path = tempFile("db.json");
  ASSERT_TRUE(db.save(path).ok());
  {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    // Only the decode record says a level; unset levels are not written.
    size_t first = text.find("\"prefetch\"");
    ASSERT_NE(first, std::string::npos) << text;
    EXPECT_EQ(text.find("\"prefetch\"", first + 1), std::string::npos) << text;
  }
  auto back = TuningDb::load(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->records().size(), 3u);
  EXPECT_EQ(back->records()[0].schedule.prefetch, 0); // absent: unset
  EXPECT_EQ(back->records()[2].schedule.prefetch, 2);
  const TuningRecord &r = back->records()[0];
  EXPECT_EQ(r.problem, "p");
  EXPECT_EQ(r.target, hostTarget());
  EXPECT_EQ(r.seqQ, 512);
  EXPECT_EQ(r.schedule.blockM, 128);
  EXPECT_EQ(r.schedule.blockN, 32);
  EXPECT_DOUBLE_EQ(r.millis, 1.5);
  EXPECT_EQ(r.llvmVersion, llvmVersion());
  EXPECT_EQ(r.date, "2026-11-22T00:00:00Z");
  fs::remove(path);
  EXPECT_TRUE(TuningDb::load(path)->records().empty()); // missing: empty
}

TEST(TuningDb, LookupIsExactThenNearestWithinABucket) {
  TuningDb db;
  db.add(record("p", 512, 512, 32));
  db.add(record("p", 2048, 2048, 64));
  db.add(record("other", 1000, 1000, 128));
  auto exact = db.lookup("p", hostTarget(), 1, 2048, 2048);
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->schedule.blockM, 64);
  auto near = db.lookup("p", hostTarget(), 1, 700, 600);
  ASSERT_TRUE(near);
  EXPECT_EQ(near->schedule.blockM, 32);
  EXPECT_EQ(db.lookup("p", hostTarget(), 1, 1600, 1700)->schedule.blockM, 64);
  EXPECT_FALSE(db.lookup("p", hostTarget(), 1, 100, 100)); // > 2x away
  EXPECT_FALSE(db.lookup("p", hostTarget(), 1, 512, 8192));
  EXPECT_FALSE(db.lookup("p", "another machine", 1, 512, 512));
  EXPECT_FALSE(db.lookup("q", hostTarget(), 1, 512, 512));
}

TEST(TuningDb, MalformedFilesAreErrors) {
  std::string path = tempFile("bad.json");
  auto expectError = [&](const std::string &content, const std::string &why) {
    std::ofstream(path, std::ios::trunc) << content;
    auto db = TuningDb::load(path);
    ASSERT_FALSE(db.ok()) << content;
    EXPECT_NE(db.status().message().find("not a tuning database: " + why),
              std::string::npos)
        << db.status().message();
  };
  expectError("{", "");
  expectError("[]", "expected {\"schema\": 2");
  expectError("{\"schema\": 3, \"records\": []}", "expected {\"schema\": 2");
  expectError("{\"schema\": 1, \"records\": []}",
              "schema 1 (written before problem keys were taken from the "
              "kernel's IR); run attnc tune again to rebuild it");
  expectError("{\"schema\": 2}", "no \"records\" array");
  expectError("{\"schema\": 2, \"records\": [{\"problem\": \"p\"}]}",
              "a record is not an object with a \"schedule\"");
  expectError("{\"schema\": 2, \"records\": [{\"schedule\": {}}]}",
              "a record lacks one of");
  const std::string fields =
      "\"problem\": \"p\", \"target\": \"t\", \"batch\": 1, \"seq_q\": 1, "
      "\"seq_kv\": 8, \"schedule\": {\"block_m\": 4, \"block_n\": 32, "
      "\"micro_m\": 4, \"micro_n\": 32, \"prefetch\": ";
  expectError("{\"schema\": 2, \"records\": [{" + fields + "3}}]}",
              "record 0 has schedule prefetch 3; it must be 1 (into L1) or 2 "
              "(into L2), or absent");
  expectError("{\"schema\": 2, \"records\": [{" + fields + "\"L2\"}}]}",
              "record 0 has schedule prefetch that is not an integer; it must be "
              "1 (into L1) or 2 (into L2), or absent");
  fs::remove(path);
}

TEST(Dispatch, TunedScheduleForCoveredShapesHeuristicOtherwise) {
  KernelCache cache({"", false});
  KernelRequest spec;
  spec.name = "dispatched";
  spec.qHeads = 4;
  spec.kvHeads = 2;
  spec.dQk = 32;
  spec.mask = MaskKind::Causal;
  spec.alignment = Alignment::TopLeft;
  spec.schedule.threads = 2;
  KernelIr source = attnc::test::irOf(spec);
  auto heuristic = cache.get(source, CpuBackend());
  ASSERT_TRUE(heuristic.ok());
  TuningDb db;
  db.add(record(source.problemKey(), 256, 256, 16));
  Dispatcher dispatcher(cache, db);

  auto tuned = dispatcher.select(source, 1, 256, 256);
  ASSERT_TRUE(tuned.ok()) << tuned.status().message();
  EXPECT_TRUE(tuned->tuned && tuned->exact);
  EXPECT_EQ(tuned->kernel->spec().blockM, 16);
  EXPECT_EQ(tuned->kernel->spec().blockN, 32);
  auto near = dispatcher.select(source, 1, 300, 200);
  ASSERT_TRUE(near.ok());
  EXPECT_TRUE(near->tuned && !near->exact);
  EXPECT_EQ(near->kernel.get(), tuned->kernel.get()); // no recompile
  auto far = dispatcher.select(source, 1, 4096, 4096);
  ASSERT_TRUE(far.ok());
  EXPECT_FALSE(far->tuned);
  EXPECT_EQ(far->kernel.get(), heuristic->get());
  EXPECT_EQ(cache.stats().compiles, 2u); // heuristic + one tuned variant

  // The tuned kernel computes the same attention.
  std::mt19937_64 rng(attnc::test::testSeed());
  const KernelSpec &s = near->kernel->spec();
  test::Buffer q(s.layout, 1, 300, 4, 32, false, rng), k(s.layout, 1, 200, 2, 32, false, rng),
      v(s.layout, 1, 200, 2, 32, false, rng), o(s.layout, 1, 300, 4, 32, false, rng);
  AttentionArgs args{q.view, k.view, v.view, o.view, {}};
  ASSERT_TRUE(near->kernel->run(args).ok());
  EXPECT_TRUE(compareWithReference(s, args).passed());
}

/// A GQA 8/2 decode kernel (4-row tiles: the rows form), with `prefetch`
/// in its schedule (0: none).
KernelIr decodeKernel(const char *name, int64_t prefetch) {
  KernelRequest spec;
  spec.name = name;
  spec.mode = Mode::Decode;
  spec.qHeads = 8;
  spec.kvHeads = 2;
  spec.dQk = 64;
  spec.schedule.threads = 1;
  spec.schedule.prefetch = prefetch;
  return attnc::test::irOf(spec);
}

// A tuned prefetch level reaches the decode kernel; a record without one
// leaves it to the heuristic.
TEST(Dispatch, TunedPrefetchLevelReachesTheDecodeKernel) {
  KernelCache cache({"", false});
  KernelIr source = decodeKernel("decode_tuned", 0);
  auto heuristic = cache.get(source, CpuBackend());
  ASSERT_TRUE(heuristic.ok()) << heuristic.status().message();
  const KernelSpec &h = (*heuristic)->spec();
  ASSERT_NE(h.prefetch, 0); // a GQA group of 4 takes the rows form
  TuningDb db;
  TuningRecord other = record(source.problemKey(), 1, 1000, h.blockM);
  other.schedule = {h.blockM, h.blockN, h.microM, h.microN, 3 - h.prefetch};
  db.add(other);
  TuningRecord unset = record(source.problemKey(), 1, 100000, h.blockM);
  unset.schedule = {h.blockM, h.blockN, h.microM, h.microN, 0};
  db.add(unset);
  Dispatcher dispatcher(cache, db);
  auto tuned = dispatcher.select(source, 1, 1, 1000);
  ASSERT_TRUE(tuned.ok()) << tuned.status().message();
  EXPECT_TRUE(tuned->tuned);
  EXPECT_EQ(tuned->kernel->spec().prefetch, 3 - h.prefetch);
  auto plain = dispatcher.select(source, 1, 1, 100000);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_TRUE(plain->tuned);
  EXPECT_EQ(plain->kernel->spec().prefetch, h.prefetch);
}

// A source op that sets a prefetch level still takes a tuned tiling that
// is not the rows form: the level is dropped, not refused.
TEST(Dispatch, TunedTilingWithoutTheRowsFormDropsThePrefetchLevel) {
  KernelCache cache({"", false});
  KernelIr source = decodeKernel("decode_pinned", 1);
  TuningDb db;
  db.add(record(source.problemKey(), 1, 1000, 64)); // block_m 64: K^T tiles
  Dispatcher dispatcher(cache, db);
  auto tuned = dispatcher.select(source, 1, 1, 1000);
  ASSERT_TRUE(tuned.ok()) << tuned.status().message();
  EXPECT_EQ(tuned->kernel->spec().blockM, 64);
  EXPECT_EQ(tuned->kernel->spec().prefetch, 0);
  auto direct = cache.get(source, CpuBackend()); // the op as written
  ASSERT_TRUE(direct.ok()) << direct.status().message();
  EXPECT_EQ((*direct)->spec().prefetch, 1);
}

} // namespace
