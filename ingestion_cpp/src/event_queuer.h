// Builds and queues the events of request messages on the producer, one call's worth
// (a Publish batch, or every message of a PublishStream), and counts why events were
// not queued. Backpressure lives here: when the producer queue is full an event waits
// (serving delivery reports) for up to queue_full_timeout_ms; after that it and every
// later event of the call are rejected as resource exhausted, instead of buffering
// without bound. With a Grant (the call's authenticated producer, producer_tokens.h), an
// event of an entity the producer may not publish is rejected, and the source header of
// every event queued names the producer.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "keystone/olist/v1/ingestion.pb.h"
#include "build_pool.h"
#include "delivery.h"
#include "producer.h"
#include "producer_tokens.h"
#include "record_builder.h"

namespace nexus {

// The reasons a call gives for an event it did not write.
constexpr const char* kExhaustedReason = "resource exhausted: the Kafka producer queue is full; retry later";
std::string DeliveryFailure(int err);
std::string OverLimit(const char* what, int events, int limit);
void Reject(keystone::olist::v1::EventResult* result, const std::string& reason);

class EventQueuer {
 public:
  using Clock = std::chrono::steady_clock;

  // `grant` (may be null: no tokens file) must outlive the queuer.
  EventQueuer(const RecordBuilder& builder, Producer& producer, int queue_full_timeout_ms,
              const Grant* grant = nullptr)
      : builder_(builder), producer_(producer), queue_full_timeout_(queue_full_timeout_ms), grant_(grant) {}

  // Queues every valid event of `request` into `batch` (Reset for the request's size);
  // calls on_reject(i, reason) for each event i that is not queued. The records come
  // from `built` when given (built by the BuildPool), else are built here.
  template <typename OnReject>
  void QueueAll(const keystone::olist::v1::PublishRequest& request, DeliveryBatch* batch, OnReject&& on_reject,
                const BuiltMessage* built = nullptr) {
    const int n = request.events_size();
    for (int i = 0; i < n; ++i) {
      const keystone::olist::v1::Event& event = request.events(i);
      const uint32_t index = static_cast<uint32_t>(i);
      if (exhausted_) {
        on_reject(index, kExhaustedReason);
        ++queue_full;
        continue;
      }
      const KafkaRecord* record = &record_;
      if (built != nullptr) {
        record = built->record(i);
        if (record == nullptr) {
          on_reject(index, built->reason(i));
          ++invalid;
          continue;
        }
      } else {
        const std::string reason = builder_.Build(event, &record_);
        if (!reason.empty()) {
          on_reject(index, reason);
          ++invalid;
          continue;
        }
      }
      if (grant_ != nullptr && !grant_->Allows(*record->entity)) {
        on_reject(index, grant_->Refusal(*record->entity));
        ++forbidden;
        continue;
      }
      DeliverySlot* slot = batch->Add(index, record->entity);
      const rd_kafka_resp_err_t err = Produce(*record, event, slot);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      batch->Cancel(slot);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        exhausted_ = true;
        on_reject(index, kExhaustedReason);
        ++queue_full;
      } else {
        on_reject(index, std::string("not queued: ") + rd_kafka_err2str(err) + "; retry");
        ++delivery_failed;
      }
    }
  }

  // The producer queue stayed full: the rest of the call is rejected.
  bool exhausted() const { return exhausted_; }

  uint32_t invalid = 0;
  uint32_t queue_full = 0;
  uint32_t forbidden = 0;  // of an entity the call's producer may not publish
  uint32_t delivery_failed = 0;  // not queued, or a failed delivery report (counted by the caller)
  Clock::duration queue_full_wait{};  // time spent waiting for room in the producer queue

 private:
  // Produces, and while the queue is full retries (serving reports) up to the timeout.
  rd_kafka_resp_err_t Produce(const KafkaRecord& record, const keystone::olist::v1::Event& event,
                              DeliverySlot* slot);

  const RecordBuilder& builder_;
  Producer& producer_;
  std::chrono::milliseconds queue_full_timeout_;
  const Grant* grant_;
  KafkaRecord record_;  // built here when there is no BuiltMessage; reused
  bool exhausted_ = false;
};

}  // namespace nexus
