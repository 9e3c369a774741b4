// Threads for the blocking part of calls. A PublishStream call may wait: for room in
// the producer queue (up to queue_full_timeout_ms), for its bound in flight, for the
// records the BuildPool builds, and at its end for every delivery report; a Publish
// call waits for room and for its reports too. gRPC runs callback reactions on a couple
// of threads of its own (one per core), and a reaction that waits holds one of them,
// stalling every other call's reads; so the service hands each step to Run() instead
// and returns at once. A step runs on an idle thread, or a new one when none is idle:
// like the sync server's threads, their number follows the calls busy at the same time
// (and they stay, idle, for the next).
// Pure: no gRPC; tested on its own.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nexus {

class CallWorkers {
 public:
  CallWorkers() = default;
  ~CallWorkers();  // runs the steps queued, then joins
  CallWorkers(const CallWorkers&) = delete;
  CallWorkers& operator=(const CallWorkers&) = delete;

  void Run(std::function<void()> step);
  size_t threads() const;

 private:
  void Loop();

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::deque<std::function<void()>> queue_;
  size_t idle_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace nexus
