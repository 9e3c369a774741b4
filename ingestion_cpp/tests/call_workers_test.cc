#include "call_workers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace nexus {
namespace {

TEST(CallWorkers, AStepThatWaitsDoesNotHoldUpAnother) {
  CallWorkers workers;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> other_ran;
  workers.Run([released] { released.wait(); });  // a stream waiting for room in the producer
  workers.Run([&other_ran] { other_ran.set_value(); });
  // Would wait forever if the second step queued behind the first.
  other_ran.get_future().wait();
  release.set_value();
  EXPECT_EQ(workers.threads(), 2u);
}

TEST(CallWorkers, RunsEveryQueuedStepBeforeItGoes) {
  std::atomic<int> ran{0};
  {
    CallWorkers workers;
    std::promise<void> first;
    workers.Run([&] {
      ++ran;
      first.set_value();
    });
    first.get_future().wait();
    for (int i = 0; i < 100; ++i) workers.Run([&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 101);
}

}  // namespace
}  // namespace nexus
