#include "delivery.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace nexus {
namespace {

TEST(Delivery, WaitReturnsAtOnceWhenNothingIsInFlight) {
  DeliveryTracker tracker;
  DeliveryBatch batch;
  batch.Reset(&tracker, 2);
  DeliverySlot* slot = batch.Add(0, nullptr);
  batch.Cancel(slot);
  EXPECT_TRUE(batch.Done());
  tracker.Wait();  // would hang if the cancelled slot were still counted
  EXPECT_FALSE(batch.slots()[0].queued);
}

TEST(Delivery, BatchIsDoneOnlyAfterItsLastReport) {
  DeliveryTracker tracker;
  DeliveryBatch batch;
  batch.Reset(&tracker, 3);
  DeliverySlot* a = batch.Add(0, nullptr);
  DeliverySlot* b = batch.Add(2, nullptr);
  EXPECT_FALSE(batch.Done());
  DeliveryBatch::Complete(a, 0, 4, 100);
  EXPECT_FALSE(batch.Done());
  DeliveryBatch::Complete(b, 7, -1, -1);
  EXPECT_TRUE(batch.Done());
  tracker.Wait();
  EXPECT_EQ(batch.slots()[0].partition, 4);
  EXPECT_EQ(batch.slots()[0].offset, 100);
  EXPECT_EQ(batch.slots()[1].index, 2u);
  EXPECT_EQ(batch.slots()[1].err, 7);
}

TEST(Delivery, WaitBlocksUntilReportsFromAnotherThread) {
  DeliveryTracker tracker;
  std::vector<DeliveryBatch> batches(4);
  std::vector<DeliverySlot*> slots;
  for (DeliveryBatch& batch : batches) {
    batch.Reset(&tracker, 100);
    for (uint32_t i = 0; i < 100; ++i) slots.push_back(batch.Add(i, nullptr));
  }
  std::atomic<bool> reported{false};
  std::thread reporter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (size_t i = 0; i < slots.size(); ++i) {
      if (i + 1 == slots.size()) reported = true;
      DeliveryBatch::Complete(slots[i], 0, 0, static_cast<int64_t>(i));
    }
  });
  tracker.Wait();
  EXPECT_TRUE(reported.load());
  for (const DeliveryBatch& batch : batches) EXPECT_TRUE(batch.Done());
  reporter.join();
}

TEST(Delivery, ABatchIsReusedAfterItIsDone) {
  DeliveryTracker tracker;
  DeliveryBatch batch;
  batch.Reset(&tracker, 1);
  DeliverySlot* slot = batch.Add(0, nullptr);
  EXPECT_THROW(batch.Reset(&tracker, 1), std::logic_error);  // still in flight
  EXPECT_THROW(batch.Add(1, nullptr), std::logic_error);     // beyond its size: addresses would move
  DeliveryBatch::Complete(slot, 0, 0, 0);
  batch.Reset(&tracker, 1);
  EXPECT_TRUE(batch.slots().empty());
  tracker.Wait();
}

}  // namespace
}  // namespace nexus
