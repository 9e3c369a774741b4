// The Kafka side: a librdkafka (C API) idempotent producer and a thread that serves
// its delivery reports into the DeliverySlot each message carries (delivery.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "contracts.h"
#include "config.h"
#include "delivery.h"
#include "producer.h"
#include "record_builder.h"

namespace nexus {

struct ProducerCounters {
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> delivery_errors{0};
};

class KafkaProducer final : public Producer {
 public:
  // Throws std::runtime_error naming the bad property.
  KafkaProducer(const KafkaProperties& properties, const Contracts& contracts);
  ~KafkaProducer();  // stops the poll thread and destroys the handle (flush first)
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Queues one record (copying key and value); RD_KAFKA_RESP_ERR__QUEUE_FULL when
  // librdkafka's queue has no room, another error code when it cannot be queued.
  rd_kafka_resp_err_t Produce(const KafkaRecord& record, const std::string& event_id, const std::string& source,
                              DeliverySlot* slot) override;
  // Serves delivery reports for up to `timeout_ms` (room frees up as they arrive).
  void Poll(int timeout_ms) override;
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
  std::vector<rd_kafka_topic_t*> topics_;  // indexed like contracts.entities()
  std::thread poller_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> fatal_{false};
  ProducerCounters counters_;
};

}  // namespace nexus
