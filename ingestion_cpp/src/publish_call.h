// One Publish call: the request's bytes in, the answer's bytes out. It parses the
// request itself, so bytes that are not a PublishRequest are refused INVALID_ARGUMENT
// with nothing processed (gRPC's generated handler would fail the call INTERNAL, with no
// details); then it builds and queues every event, waits for the delivery report of
// each one queued, and answers one EventResult per event, in order, accepted ones with
// their topic, partition and offset. No gRPC call in here, so the unit tests drive it
// with serialized requests and a fake producer; the service (ingestion_service.cc) runs
// it on CallWorkers, since it waits.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include "call_outcome.h"
#include "producer.h"
#include "record_builder.h"

namespace nexus {

// What a Publish request that does not parse is answered (the twin says the same).
constexpr const char* kMalformedPublish = "the request is not a valid PublishRequest; nothing was processed";

// The call's status; when OK, `response` holds the serialized PublishResponse. `grant`:
// the call's authenticated producer (null without a tokens file; event_queuer.h).
grpc::Status AnswerPublish(const RecordBuilder& builder, Producer& producer, const ServiceLimits& limits,
                           ServiceCounters& counters, const grpc::ByteBuffer& request, grpc::ByteBuffer* response,
                           const Grant* grant = nullptr);

}  // namespace nexus
