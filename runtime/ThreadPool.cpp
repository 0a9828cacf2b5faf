#include "runtime/ThreadPool.h"

#include <algorithm>
#include <memory>

namespace attnc {

namespace {
struct WorkerStart {
  ThreadPool *pool;
  unsigned index;
  void (ThreadPool::*loop)(unsigned);
};
void *runWorker(void *arg) {
  std::unique_ptr<WorkerStart> start(static_cast<WorkerStart *>(arg));
  (start->pool->*start->loop)(start->index);
  return nullptr;
}
} // namespace

ThreadPool::ThreadPool(unsigned workers) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kWorkerStackBytes);
  for (unsigned i = 0; i < workers; ++i) {
    auto *start = new WorkerStart{this, i, &ThreadPool::workerLoop};
    pthread_t thread;
    if (pthread_create(&thread, &attr, runWorker, start) != 0) {
      delete start; // fewer workers: parallelFor uses the ones there are
      break;
    }
    threads_.push_back(thread);
  }
  pthread_attr_destroy(&attr);
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (pthread_t t : threads_)
    pthread_join(t, nullptr);
}

ThreadPool &ThreadPool::shared() {
  // Leaked on purpose: workers must outlive static destructors that may
  // still run kernels.
  static ThreadPool *pool = new ThreadPool(
      std::max(1u, std::thread::hardware_concurrency()) - 1);
  return *pool;
}

void ThreadPool::drain() {
  for (int64_t i = next_.fetch_add(1); i < n_; i = next_.fetch_add(1))
    (*fn_)(i);
}

void ThreadPool::workerLoop(unsigned index) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] {
        return stop_ || (generation_ != seen && index < helpers_);
      });
      if (stop_)
        return;
      seen = generation_;
    }
    drain();
    std::lock_guard<std::mutex> lock(mutex_);
    if (--active_ == 0)
      done_.notify_one();
  }
}

void ThreadPool::parallelFor(int64_t n, unsigned threads,
                             const std::function<void(int64_t)> &fn) {
  if (n <= 0)
    return;
  unsigned helpers = static_cast<unsigned>(
      std::min<int64_t>({static_cast<int64_t>(threads) - 1,
                         static_cast<int64_t>(workers()), n - 1}));
  if (threads <= 1 || helpers == 0) {
    for (int64_t i = 0; i < n; ++i)
      fn(i);
    return;
  }
  std::lock_guard<std::mutex> callerLock(callerMutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = &fn;
    n_ = n;
    next_.store(0);
    helpers_ = helpers;
    active_ = helpers;
    ++generation_;
  }
  wake_.notify_all();
  drain();
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return active_ == 0; });
  fn_ = nullptr;
}

} // namespace attnc
