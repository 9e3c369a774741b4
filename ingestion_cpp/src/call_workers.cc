#include "call_workers.h"

#include <utility>

namespace nexus {

CallWorkers::~CallWorkers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void CallWorkers::Run(std::function<void()> step) {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.push_back(std::move(step));
  if (idle_ >= queue_.size()) {
    work_cv_.notify_one();
  } else {
    threads_.emplace_back([this] { Loop(); });
  }
}

size_t CallWorkers::threads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return threads_.size();
}

void CallWorkers::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    ++idle_;
    work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stopping, and nothing left to run
    std::function<void()> step = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    step();
    lock.lock();
  }
}

}  // namespace nexus
