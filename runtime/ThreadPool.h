#ifndef ATTNC_RUNTIME_THREADPOOL_H
#define ATTNC_RUNTIME_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <pthread.h>
#include <thread>
#include <vector>

namespace attnc {

/// A fixed set of worker threads that run parallel loops. Items are handed
/// out one at a time from a shared counter, so uneven items (causal blocks)
/// balance themselves. One loop runs at a time; concurrent callers queue.
class ThreadPool {
public:
  /// Each worker's stack: fixed rather than the process's default (which
  /// is 2 MiB under `ulimit -s unlimited`), since a CPU kernel's tiles take
  /// up to 2 MiB of it (compiler/AttnToSCF/AttnToSCF.h).
  static constexpr size_t kWorkerStackBytes = size_t(16) << 20;

  explicit ThreadPool(unsigned workers);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  /// Runs fn(i) for i in [0, n) on up to `threads` threads (the caller is
  /// one of them) and returns when all are done.
  void parallelFor(int64_t n, unsigned threads,
                   const std::function<void(int64_t)> &fn);

  unsigned workers() const { return static_cast<unsigned>(threads_.size()); }

  /// The process-wide pool, sized to the machine's cores (created on first
  /// use).
  static ThreadPool &shared();

private:
  void workerLoop(unsigned index);
  void drain();

  std::vector<pthread_t> threads_;
  std::mutex callerMutex_; // serialises parallelFor calls
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  // The loop in flight.
  const std::function<void(int64_t)> *fn_ = nullptr;
  int64_t n_ = 0;
  unsigned helpers_ = 0; // workers taking part in this loop
  unsigned active_ = 0;  // workers still running this loop
  std::atomic<int64_t> next_{0};
};

} // namespace attnc

#endif
