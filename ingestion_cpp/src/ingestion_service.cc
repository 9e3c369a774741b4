#include "ingestion_service.h"

#include <chrono>
#include <string>

#include "event_queuer.h"
#include "stream_call.h"

namespace nexus {

namespace v1 = keystone::olist::v1;
using Clock = std::chrono::steady_clock;

namespace {

// One PublishStream call on gRPC's callback API: reads a message, hands it to its
// StreamCall, reads the next only once that returns (so a stream waiting for room in
// the producer reads nothing, and gRPC flow control slows its client), and answers
// when the client's stream ends, the call is cancelled, or the StreamCall says stop.
// The StreamCall's steps may wait, so they run on CallWorkers, never on the reaction's
// gRPC thread. One read is outstanding at a time, so a call's steps never overlap;
// StartRead and Finish are a step's last touch of the reactor, which gRPC deletes
// (OnDone) after Finish.
class PublishStreamReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  PublishStreamReactor(grpc::CallbackServerContext* context, grpc::ByteBuffer* response,
                       const RecordBuilder& builder, Producer& producer, const ServiceLimits& limits,
                       BuildPool* pool, ServiceCounters& counters, CallWorkers& workers)
      : context_(context), response_(response), workers_(workers), call_(builder, producer, limits, pool, counters) {
    StartRead(&message_);
  }

  void OnReadDone(bool ok) override {
    workers_.Run([this, ok] { Step(ok); });
  }

  void OnDone() override { delete this; }

 private:
  void Step(bool ok) {
    if (ok && call_.Add(&message_)) {
      StartRead(&message_);
      return;
    }
    // !ok: the client's end of stream, or the call cancelled (its deadline, the client gone).
    Finish(call_.Finish(context_->IsCancelled(), response_));
  }

  grpc::CallbackServerContext* context_;
  grpc::ByteBuffer* response_;
  CallWorkers& workers_;
  grpc::ByteBuffer message_;
  StreamCall call_;
};

}  // namespace

IngestionServiceImpl::IngestionServiceImpl(const RecordBuilder& builder, Producer& producer, ServiceLimits limits,
                                           BuildPool* pool)
    : builder_(builder), producer_(producer), limits_(limits), pool_(pool) {}

grpc::ServerReadReactor<grpc::ByteBuffer>* IngestionServiceImpl::PublishStream(grpc::CallbackServerContext* context,
                                                                               grpc::ByteBuffer* response) {
  return new PublishStreamReactor(context, response, builder_, producer_, limits_, pool_, counters_, workers_);
}

grpc::Status IngestionServiceImpl::Publish(grpc::ServerContext*, const v1::PublishRequest* request,
                                           v1::PublishResponse* response) {
  const auto started = Clock::now();
  counters_.calls_publish.fetch_add(1, std::memory_order_relaxed);
  const int n = request->events_size();
  if (n > limits_.max_batch_events) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, OverLimit("batch", n, limits_.max_batch_events));
  }
  auto* results = response->mutable_results();
  results->Reserve(n);
  for (int i = 0; i < n; ++i) {
    v1::EventResult* result = results->Add();
    result->set_index(static_cast<uint32_t>(i));
    result->set_event_id(request->events(i).event_id());
  }
  DeliveryTracker tracker;
  DeliveryBatch batch;
  batch.Reset(&tracker, static_cast<size_t>(n));
  EventQueuer queuer(builder_, producer_, limits_.queue_full_timeout_ms);
  queuer.QueueAll(*request, &batch,
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
  response->set_accepted(accepted);
  response->set_rejected(static_cast<uint32_t>(n) - accepted);
  grpc::Status status = FinishCall(counters_, queuer, "Publish", *response, {{"events", n}});
  counters_.publish_latency.Observe(std::chrono::duration<double>(Clock::now() - started).count());
  return status;
}

}  // namespace nexus
