// Delivery tracking: a gRPC call is answered only after the delivery report of every
// event it queued. Slots are grouped per request message (DeliveryBatch), so a long
// stream hands a finished batch back and reuses it: memory follows the messages in
// flight, not the length of the stream. No lock per event: atomic counters, and one
// condition variable per call, touched only by the last report after the call began
// to wait. Pure (no Kafka): the producer calls DeliveryBatch::Complete from its
// delivery-report callback.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "contracts.h"

namespace nexus {

class DeliveryBatch;

// One queued message; its address is the message's librdkafka opaque. Written by the
// delivery report, read by the call once its batch is Done().
struct DeliverySlot {
  DeliveryBatch* batch = nullptr;
  uint32_t index = 0;  // the event's index in its request message
  const EntityPlan* entity = nullptr;
  bool queued = false;
  int err = 0;  // rd_kafka_resp_err_t; 0 = delivered
  int32_t partition = -1;
  int64_t offset = -1;
};

// The messages of one call. Not copyable; must outlive its delivery reports, which
// Wait() guarantees.
class DeliveryTracker {
 public:
  DeliveryTracker() = default;
  DeliveryTracker(const DeliveryTracker&) = delete;
  DeliveryTracker& operator=(const DeliveryTracker&) = delete;

  void Queued() { outstanding_.fetch_add(1, std::memory_order_relaxed); }
  // A queued message's report arrived, or its produce call failed.
  void Reported();
  // Blocks until every queued message has its report. Call once, after the last Queued().
  void Wait();

 private:
  // Queued messages without a report, plus one held by the call until Wait(): so the
  // count reaches zero exactly once, after the call has stopped queueing.
  std::atomic<int64_t> outstanding_{1};
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
};

// The slots of one request message.
class DeliveryBatch {
 public:
  DeliveryBatch() = default;
  DeliveryBatch(const DeliveryBatch&) = delete;
  DeliveryBatch& operator=(const DeliveryBatch&) = delete;

  // Starts over for up to `events` slots, reported to `tracker`. Only when Done().
  void Reset(DeliveryTracker* tracker, size_t events);
  // A slot for the event at `index`, counted in flight until Complete or Cancel.
  // At most `events` per Reset, so slot addresses stay fixed.
  DeliverySlot* Add(uint32_t index, const EntityPlan* entity);
  // The produce call failed: the slot will get no delivery report.
  void Cancel(DeliverySlot* slot);
  // The delivery report of `slot` (on the thread that serves librdkafka's reports).
  static void Complete(DeliverySlot* slot, int err, int32_t partition, int64_t offset);
  // Every queued slot has its report: the slots can be read and the batch reused.
  bool Done() const { return outstanding_.load(std::memory_order_acquire) == 0; }

  const std::vector<DeliverySlot>& slots() const { return slots_; }

 private:
  DeliveryTracker* tracker_ = nullptr;
  std::vector<DeliverySlot> slots_;
  std::atomic<int32_t> outstanding_{0};
};

}  // namespace nexus
