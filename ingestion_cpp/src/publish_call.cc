#include "publish_call.h"

#include <chrono>
#include <string>

#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/impl/codegen/proto_utils.h>  // SerializationTraits of protobuf messages

#include "keystone/olist/v1/ingestion.pb.h"
#include "delivery.h"
#include "event_queuer.h"
#include "log.h"

namespace nexus {

namespace v1 = keystone::olist::v1;
using Clock = std::chrono::steady_clock;

namespace {

bool Parse(const grpc::ByteBuffer& raw, v1::PublishRequest* request) {
  grpc::ByteBuffer bytes(raw);  // shares the slices; the reader needs a mutable buffer
  grpc::ProtoBufferReader reader(&bytes);
  return request->ParseFromZeroCopyStream(&reader);
}

}  // namespace

grpc::Status AnswerPublish(const RecordBuilder& builder, Producer& producer, const ServiceLimits& limits,
                           ServiceCounters& counters, const grpc::ByteBuffer& raw_request,
                           grpc::ByteBuffer* raw_response, const Grant* grant) {
  const auto started = Clock::now();
  v1::PublishRequest request;
  if (!Parse(raw_request, &request)) {
    Log(LogLevel::kWarn, "publish_malformed", {{"bytes", raw_request.Length()}});
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, kMalformedPublish);
  }
  counters.calls_publish.fetch_add(1, std::memory_order_relaxed);
  const int n = request.events_size();
  if (n > limits.max_batch_events) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, OverLimit("batch", n, limits.max_batch_events));
  }
  v1::PublishResponse response;
  auto* results = response.mutable_results();
  results->Reserve(n);
  for (int i = 0; i < n; ++i) {
    v1::EventResult* result = results->Add();
    result->set_index(static_cast<uint32_t>(i));
    result->set_event_id(request.events(i).event_id());
  }
  DeliveryTracker tracker;
  DeliveryBatch batch;
  batch.Reset(&tracker, static_cast<size_t>(n));
  EventQueuer queuer(builder, producer, limits.queue_full_timeout_ms, grant);
  queuer.QueueAll(request, &batch,
                  [&](uint32_t i, const std::string& reason) { Reject(results->Mutable(static_cast<int>(i)), reason); });
  tracker.Wait();
  uint32_t accepted = 0;
  for (const DeliverySlot& slot : batch.slots()) {
    if (!slot.queued) continue;
    v1::EventResult* result = results->Mutable(static_cast<int>(slot.index));
    if (slot.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      result->set_accepted(true);
      result->set_topic(slot.entity->topic);
      result->set_partition(slot.partition);
      result->set_offset(slot.offset);
      ++accepted;
    } else {
      Reject(result, DeliveryFailure(slot.err));
      ++queuer.delivery_failed;
    }
  }
  response.set_accepted(accepted);
  response.set_rejected(static_cast<uint32_t>(n) - accepted);
  grpc::Status status = FinishCall(counters, queuer, "Publish", response, {{"events", n}});
  if (status.ok()) {
    bool own_buffer = false;
    status = grpc::SerializationTraits<v1::PublishResponse>::Serialize(response, raw_response, &own_buffer);
  }
  counters.publish_latency.Observe(std::chrono::duration<double>(Clock::now() - started).count());
  return status;
}

}  // namespace nexus
