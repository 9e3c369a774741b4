#include "ingestion_service.h"

#include "publish_call.h"
#include "stream_call.h"

namespace nexus {

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

grpc::ServerUnaryReactor* IngestionServiceImpl::Publish(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  // The request and response stay put until the call is done, which is after Finish.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  workers_.Run([this, reactor, request, response] {
    reactor->Finish(AnswerPublish(builder_, producer_, limits_, counters_, *request, response));
  });
  return reactor;
}

}  // namespace nexus
