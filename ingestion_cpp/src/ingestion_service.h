// keystone.olist.v1.IngestionService: every event of a call is built (validated and
// encoded) by RecordBuilder and queued on the producer; the call answers once every
// queued event has its delivery report, with one EventResult per event.
//
// Backpressure: when librdkafka's queue is full an event waits (serving delivery
// reports) for up to queue_full_timeout_ms; after that it and the rest of its call
// are rejected as resource exhausted, instead of buffering without bound. A call in
// which nothing was accepted because of that ends with status RESOURCE_EXHAUSTED
// (safe to retry whole); otherwise the call is OK and the per-event reasons say which
// events to send again. A stream that waits also stops reading, which slows the
// client through gRPC flow control.
#pragma once

#include <atomic>
#include <cstdint>

#include "keystone/olist/v1/ingestion.grpc.pb.h"
#include "kafka_producer.h"
#include "record_builder.h"

namespace nexus {

struct ServiceLimits {
  int max_batch_events = 10000;
  int queue_full_timeout_ms = 2000;
};

struct ServiceCounters {
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> rejected_invalid{0};
  std::atomic<uint64_t> rejected_queue_full{0};
  std::atomic<uint64_t> rejected_delivery{0};
};

class IngestionServiceImpl final : public keystone::olist::v1::IngestionService::Service {
 public:
  IngestionServiceImpl(const RecordBuilder& builder, KafkaProducer& producer, ServiceLimits limits);

  grpc::Status Publish(grpc::ServerContext* context, const keystone::olist::v1::PublishRequest* request,
                       keystone::olist::v1::PublishResponse* response) override;
  grpc::Status PublishStream(grpc::ServerContext* context,
                             grpc::ServerReader<keystone::olist::v1::PublishRequest>* reader,
                             keystone::olist::v1::PublishResponse* response) override;

  const ServiceCounters& counters() const { return counters_; }

 private:
  friend class PublishCall;
  const RecordBuilder& builder_;
  KafkaProducer& producer_;
  ServiceLimits limits_;
  ServiceCounters counters_;
};

}  // namespace nexus
