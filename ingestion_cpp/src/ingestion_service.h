// keystone.olist.v1.IngestionService: every event of a call is built (validated and
// encoded) by RecordBuilder and queued on the producer; the call answers once every
// queued event has its delivery report.
//
// Answers. Publish: one EventResult per event, in order, accepted ones with their
// topic, partition and offset; a request that does not parse is refused
// INVALID_ARGUMENT, nothing processed (publish_call.h). PublishStream: the counts over the whole stream and one
// EventResult per rejected event, in index order (stream_call.h says how a stream is
// bounded and stops early).
//
// Backpressure: when the producer queue is full an event waits for up to
// queue_full_timeout_ms, then it and the rest of its call are rejected as resource
// exhausted (event_queuer.h). A call in which nothing was accepted because of that ends
// with status RESOURCE_EXHAUSTED (safe to retry whole); otherwise the call is OK and
// the per-event reasons say which events to send again. A stream that waits also stops
// reading, which slows the client through gRPC flow control.
//
// Who may publish: with a TokenFile, a call without a known bearer token ends
// UNAUTHENTICATED before a byte of it is parsed, and its events are published as its
// producer (producer_tokens.h).
#pragma once

#include <memory>

#include <grpcpp/grpcpp.h>

#include "keystone/olist/v1/ingestion.grpc.pb.h"
#include "build_pool.h"
#include "call_outcome.h"
#include "call_workers.h"
#include "producer.h"
#include "producer_tokens.h"
#include "record_builder.h"

namespace nexus {

// Both methods on gRPC's callback API, as raw bytes, each parsed by the call itself.
using IngestionServiceBase = keystone::olist::v1::IngestionService::WithRawCallbackMethod_Publish<
    keystone::olist::v1::IngestionService::WithRawCallbackMethod_PublishStream<
        keystone::olist::v1::IngestionService::Service>>;

class IngestionServiceImpl final : public IngestionServiceBase {
 public:
  // `pool` (optional) builds stream messages ahead on its threads; else the call's thread builds.
  // `tokens` (optional): the producers who may publish; without it, anyone may.
  IngestionServiceImpl(const RecordBuilder& builder, Producer& producer, ServiceLimits limits,
                       BuildPool* pool = nullptr, TokenFile* tokens = nullptr);

  // Served from the raw request, parsed by AnswerPublish (publish_call.h), on CallWorkers:
  // the generated typed handler answers bytes that do not parse INTERNAL, with no details.
  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  // Served from raw messages, parsed by the StreamCall, so that a malformed message is
  // told apart from the end of the stream: the generated typed reader ends its loop on
  // either, and the call would be answered OK for the messages before it.
  grpc::ServerReadReactor<grpc::ByteBuffer>* PublishStream(grpc::CallbackServerContext* context,
                                                           grpc::ByteBuffer* response) override;

  const ServiceCounters& counters() const { return counters_; }

 private:
  // False, with the status to end the call with, when the call may not publish; else
  // `grant` is its producer (null without a TokenFile).
  bool Authenticate(grpc::CallbackServerContext* context, std::shared_ptr<const Grant>* grant,
                    grpc::Status* refused);

  const RecordBuilder& builder_;
  Producer& producer_;
  ServiceLimits limits_;
  BuildPool* pool_;
  TokenFile* tokens_;
  ServiceCounters counters_;
  CallWorkers workers_;  // last: destroyed (joined) first, while the rest is still there
};

}  // namespace nexus
