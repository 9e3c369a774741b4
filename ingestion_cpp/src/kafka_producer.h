// The Kafka side: a librdkafka (C API) idempotent producer, a thread that serves its
// delivery reports, and DeliveryTracker, which lets a gRPC call wait until every
// event it queued has its delivery report (the ack to the client comes after that).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "catalog.h"
#include "config.h"
#include "record_builder.h"

namespace nexus {

class DeliveryTracker;

// One queued message; its address is the message's librdkafka opaque. Written by the
// delivery report, read by the call after DeliveryTracker::Wait().
struct DeliverySlot {
  DeliveryTracker* tracker = nullptr;
  uint32_t index = 0;  // the event's index in its call
  const EntityPlan* entity = nullptr;
  bool queued = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  int32_t partition = -1;
  int64_t offset = -1;
};

// The messages of one gRPC call. Not copyable; must outlive its delivery reports,
// which Wait() guarantees.
class DeliveryTracker {
 public:
  DeliveryTracker() = default;
  DeliveryTracker(const DeliveryTracker&) = delete;
  DeliveryTracker& operator=(const DeliveryTracker&) = delete;

  // A slot for the event at `index`, counted as outstanding until Complete or Cancel.
  DeliverySlot* Add(uint32_t index);
  // The produce call failed: the slot will get no delivery report.
  void Cancel(DeliverySlot* slot);
  // The delivery report arrived (called on the producer's poll thread).
  void Complete(DeliverySlot* slot, rd_kafka_resp_err_t err, int32_t partition, int64_t offset);
  // Blocks until every queued slot has its delivery report. Call once, after the last Add.
  void Wait();

  const std::deque<DeliverySlot>& slots() const { return slots_; }

 private:
  // Queued messages without a report, plus one held by the call until Wait(): so the
  // count reaches zero exactly once, after the call has stopped adding.
  std::atomic<int64_t> outstanding_{1};
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::deque<DeliverySlot> slots_;  // a deque: slots keep their address as it grows
};

struct ProducerCounters {
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> delivery_errors{0};
};

class KafkaProducer {
 public:
  // Throws std::runtime_error naming the bad property.
  KafkaProducer(const KafkaProperties& properties, const Catalog& catalog);
  ~KafkaProducer();  // stops the poll thread and destroys the handle (flush first)
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Queues one record (copying key and value); RD_KAFKA_RESP_ERR__QUEUE_FULL when
  // librdkafka's queue has no room, another error code when it cannot be queued.
  rd_kafka_resp_err_t Produce(const KafkaRecord& record, const std::string& event_id, const std::string& source,
                              DeliverySlot* slot);
  // Serves delivery reports for up to `timeout_ms` (room frees up as they arrive).
  void Poll(int timeout_ms);
  // Waits up to `timeout_ms` for every queued message; returns how many are left.
  int Flush(int timeout_ms);
  int QueueLength() const;
  // Set once librdkafka reports a fatal error (e.g. the idempotent producer fenced):
  // the producer can no longer be used.
  bool fatal() const { return fatal_.load(); }
  const ProducerCounters& counters() const { return counters_; }

 private:
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* message);

  rd_kafka_t* rk_ = nullptr;
  std::vector<rd_kafka_topic_t*> topics_;  // indexed like catalog.entities()
  std::thread poller_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> fatal_{false};
  ProducerCounters counters_;
};

}  // namespace nexus
