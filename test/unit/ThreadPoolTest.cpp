#include "runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

using namespace attnc;

namespace {

TEST(ThreadPool, RunsEveryItemExactlyOnce) {
  ThreadPool pool(3);
  for (unsigned threads : {1u, 2u, 4u, 16u})
    for (int64_t n : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      pool.parallelFor(n, threads, [&](int64_t i) { ++hits[i]; });
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(hits[i].load(), 1) << "item " << i << " of " << n;
    }
}

TEST(ThreadPool, UsesSeveralThreadsWhenAsked) {
  ThreadPool pool(3);
  std::mutex mutex;
  std::set<std::thread::id> ids;
  std::atomic<int> inFlight{0}, maxInFlight{0};
  pool.parallelFor(64, 4, [&](int64_t) {
    int now = ++inFlight;
    for (int seen = maxInFlight; now > seen && !maxInFlight.compare_exchange_weak(seen, now);)
      ;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    --inFlight;
    std::lock_guard<std::mutex> lock(mutex);
    ids.insert(std::this_thread::get_id());
  });
  EXPECT_GT(ids.size(), 1u);
  EXPECT_LE(maxInFlight.load(), 4);
}

TEST(ThreadPool, ConcurrentCallersAreSerialisedSafely) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int r = 0; r < 50; ++r)
        pool.parallelFor(10, 3, [&](int64_t i) { total += i; });
    });
  for (std::thread &t : callers)
    t.join();
  EXPECT_EQ(total.load(), 4 * 50 * 45);
}

} // namespace
