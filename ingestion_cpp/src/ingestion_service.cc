#include "ingestion_service.h"

#include <chrono>
#include <string>

#include "log.h"

namespace nexus {

namespace v1 = keystone::olist::v1;

// The state of one Publish or PublishStream call; results go straight into the response.
class PublishCall {
 public:
  PublishCall(IngestionServiceImpl& service, v1::PublishResponse* response)
      : service_(service), response_(response) {}

  void Add(const v1::Event& event) {
    const uint32_t index = next_index_++;
    v1::EventResult* result = response_->add_results();
    result->set_index(index);
    result->set_event_id(event.event_id());
    if (exhausted_) {
      Reject(result, kExhaustedReason);
      ++queue_full_;
      return;
    }
    std::string reason = service_.builder_.Build(event, &record_);
    if (!reason.empty()) {
      Reject(result, reason);
      ++invalid_;
      return;
    }
    DeliverySlot* slot = tracker_.Add(index);
    slot->entity = record_.entity;
    rd_kafka_resp_err_t err = service_.producer_.Produce(record_, event.event_id(), event.source(), slot);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) err = RetryWhileFull(event, slot);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      tracker_.Cancel(slot);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        exhausted_ = true;
        Reject(result, kExhaustedReason);
        ++queue_full_;
      } else {
        Reject(result, std::string("not queued: ") + rd_kafka_err2str(err) + "; retry");
        ++delivery_failed_;
      }
    }
  }

  void RejectAll(const v1::PublishRequest& request, const std::string& reason) {
    for (const v1::Event& event : request.events()) {
      v1::EventResult* result = response_->add_results();
      result->set_index(next_index_++);
      result->set_event_id(event.event_id());
      Reject(result, reason);
      ++invalid_;
    }
  }

  // Waits for the delivery reports, fills in the accepted events and the counts.
  grpc::Status Finish(const char* method) {
    tracker_.Wait();
    uint32_t accepted = 0;
    for (const DeliverySlot& slot : tracker_.slots()) {
      if (!slot.queued) continue;
      v1::EventResult* result = response_->mutable_results(static_cast<int>(slot.index));
      if (slot.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        result->set_accepted(true);
        result->set_topic(slot.entity->topic);
        result->set_partition(slot.partition);
        result->set_offset(slot.offset);
        ++accepted;
      } else {
        Reject(result, std::string("delivery failed: ") + rd_kafka_err2str(slot.err) + "; retry");
        ++delivery_failed_;
      }
    }
    const uint32_t rejected = static_cast<uint32_t>(response_->results_size()) - accepted;
    response_->set_accepted(accepted);
    response_->set_rejected(rejected);
    ServiceCounters& c = service_.counters_;
    c.accepted.fetch_add(accepted, std::memory_order_relaxed);
    c.rejected_invalid.fetch_add(invalid_, std::memory_order_relaxed);
    c.rejected_queue_full.fetch_add(queue_full_, std::memory_order_relaxed);
    c.rejected_delivery.fetch_add(delivery_failed_, std::memory_order_relaxed);
    if (rejected > 0) {
      std::string first;
      for (const v1::EventResult& r : response_->results()) {
        if (!r.accepted()) {
          first = r.reason();
          break;
        }
      }
      Log(LogLevel::kInfo, "publish_rejected",
          {{"method", method}, {"events", response_->results_size()}, {"accepted", accepted},
           {"rejected", rejected}, {"invalid", invalid_}, {"queue_full", queue_full_},
           {"delivery_failed", delivery_failed_}, {"first_reason", first}});
    }
    if (exhausted_ && accepted == 0) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "the Kafka producer queue is full; nothing was written, retry later");
    }
    return grpc::Status::OK;
  }

 private:
  static constexpr const char* kExhaustedReason =
      "resource exhausted: the Kafka producer queue is full; retry later";

  static void Reject(v1::EventResult* result, const std::string& reason) {
    result->set_accepted(false);
    result->set_reason(reason);
  }

  rd_kafka_resp_err_t RetryWhileFull(const v1::Event& event, DeliverySlot* slot) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::milliseconds(service_.limits_.queue_full_timeout_ms);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__QUEUE_FULL;
    while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && Clock::now() < deadline) {
      service_.producer_.Poll(1);
      err = service_.producer_.Produce(record_, event.event_id(), event.source(), slot);
    }
    return err;
  }

  IngestionServiceImpl& service_;
  v1::PublishResponse* response_;
  DeliveryTracker tracker_;
  KafkaRecord record_;  // reused: its buffers keep their capacity
  uint32_t next_index_ = 0;
  bool exhausted_ = false;
  uint32_t invalid_ = 0;
  uint32_t queue_full_ = 0;
  uint32_t delivery_failed_ = 0;
};

IngestionServiceImpl::IngestionServiceImpl(const RecordBuilder& builder, KafkaProducer& producer,
                                           ServiceLimits limits)
    : builder_(builder), producer_(producer), limits_(limits) {}

grpc::Status IngestionServiceImpl::Publish(grpc::ServerContext*, const v1::PublishRequest* request,
                                           v1::PublishResponse* response) {
  counters_.calls.fetch_add(1, std::memory_order_relaxed);
  if (request->events_size() > limits_.max_batch_events) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "batch of " + std::to_string(request->events_size()) + " events is over the limit of " +
                            std::to_string(limits_.max_batch_events) + "; split it");
  }
  PublishCall call(*this, response);
  response->mutable_results()->Reserve(request->events_size());
  for (const v1::Event& event : request->events()) call.Add(event);
  return call.Finish("Publish");
}

grpc::Status IngestionServiceImpl::PublishStream(grpc::ServerContext* context,
                                                 grpc::ServerReader<v1::PublishRequest>* reader,
                                                 v1::PublishResponse* response) {
  counters_.calls.fetch_add(1, std::memory_order_relaxed);
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  Clock::duration reading{};
  PublishCall call(*this, response);
  v1::PublishRequest request;
  uint64_t messages = 0;
  for (;;) {
    const auto before_read = Clock::now();
    const bool more = reader->Read(&request);
    reading += Clock::now() - before_read;
    if (!more) break;
    ++messages;
    if (request.events_size() > limits_.max_batch_events) {
      call.RejectAll(request, "stream message of " + std::to_string(request.events_size()) +
                                  " events is over the limit of " + std::to_string(limits_.max_batch_events) +
                                  " per message; split it");
      continue;
    }
    for (const v1::Event& event : request.events()) call.Add(event);
  }
  const auto produced = Clock::now();
  grpc::Status status = call.Finish("PublishStream");
  const auto ms = [](Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  Log(LogLevel::kDebug, "publish_stream",
      {{"messages", messages}, {"events", response->results_size()}, {"accepted", response->accepted()},
       {"read_wait_ms", ms(reading)}, {"produce_ms", ms(produced - started - reading)},
       {"delivery_wait_ms", ms(Clock::now() - produced)}});
  if (context->IsCancelled()) {
    Log(LogLevel::kWarn, "publish_stream_cancelled",
        {{"events", response->results_size()}, {"accepted", response->accepted()}});
    return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away mid-stream");
  }
  return status;
}

}  // namespace nexus
