// keystone.olist.v1.IngestionService: every event of a call is built (validated and
// encoded) by RecordBuilder and queued on the producer; the call answers once every
// queued event has its delivery report.
//
// Answers. Publish: one EventResult per event, in order, accepted ones with their
// topic, partition and offset. PublishStream: the counts over the whole stream and one
// EventResult per *rejected* event (index across the stream, event id, reason), in
// index order; an event not listed was accepted. So a stream's answer and the
// server's memory follow the rejections and the messages in flight, not the length of
// the stream. A stream stops being read once it has max_stream_rejections rejected
// events or the producer queue stayed full: the answer then covers the first
// accepted + rejected events, and the client sends the rest again.
//
// Backpressure: when librdkafka's queue is full an event waits (serving delivery
// reports) for up to queue_full_timeout_ms; after that it and the rest of its request
// message are rejected as resource exhausted, instead of buffering without bound. A
// call in which nothing was accepted because of that ends with status
// RESOURCE_EXHAUSTED (safe to retry whole); otherwise the call is OK and the
// per-event reasons say which events to send again. A stream that waits also stops
// reading, which slows the client through gRPC flow control.
#pragma once

#include <atomic>
#include <cstdint>

#include "keystone/olist/v1/ingestion.grpc.pb.h"
#include "build_pool.h"
#include "kafka_producer.h"
#include "metrics.h"
#include "record_builder.h"

namespace nexus {

struct ServiceLimits {
  int max_batch_events = 10000;
  int queue_full_timeout_ms = 2000;
  int max_stream_rejections = 10000;
};

struct ServiceCounters {
  std::atomic<uint64_t> calls_publish{0};
  std::atomic<uint64_t> calls_stream{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> rejected_invalid{0};
  std::atomic<uint64_t> rejected_queue_full{0};
  std::atomic<uint64_t> rejected_delivery{0};
  LatencyHistogram publish_latency;  // a Publish call, from its start to its answer
  LatencyHistogram stream_latency;   // a PublishStream call, from its start to its answer
};

class IngestionServiceImpl final : public keystone::olist::v1::IngestionService::Service {
 public:
  // `pool` (optional) builds stream messages ahead on its threads; else the call's thread builds.
  IngestionServiceImpl(const RecordBuilder& builder, KafkaProducer& producer, ServiceLimits limits,
                       BuildPool* pool = nullptr);

  grpc::Status Publish(grpc::ServerContext* context, const keystone::olist::v1::PublishRequest* request,
                       keystone::olist::v1::PublishResponse* response) override;
  // PublishStream is served from raw messages (see the constructor), so that a malformed
  // message is told apart from the end of the stream; the typed override is never called.
  grpc::Status PublishStreamRaw(grpc::ServerContext* context, grpc::ServerReader<grpc::ByteBuffer>* reader,
                                grpc::ByteBuffer* response);

  const ServiceCounters& counters() const { return counters_; }

 private:
  friend class EventQueuer;
  const RecordBuilder& builder_;
  KafkaProducer& producer_;
  ServiceLimits limits_;
  BuildPool* pool_;
  ServiceCounters counters_;
};

}  // namespace nexus
