#include "ingestion_service.h"

#include <string>
#include <utility>
#include <vector>

#include "log.h"
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
                       BuildPool* pool, ServiceCounters& counters, CallWorkers& workers,
                       std::shared_ptr<const Grant> grant)
      : context_(context),
        response_(response),
        workers_(workers),
        grant_(std::move(grant)),
        call_(builder, producer, limits, pool, counters, grant_.get()) {
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
  std::shared_ptr<const Grant> grant_;  // before call_, which holds it
  StreamCall call_;
};

// A PublishStream refused before its first read (UNAUTHENTICATED).
class RefusedStreamReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  explicit RefusedStreamReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

IngestionServiceImpl::IngestionServiceImpl(const RecordBuilder& builder, Producer& producer, ServiceLimits limits,
                                           BuildPool* pool, TokenFile* tokens)
    : builder_(builder), producer_(producer), limits_(limits), pool_(pool), tokens_(tokens) {}

bool IngestionServiceImpl::Authenticate(grpc::CallbackServerContext* context, std::shared_ptr<const Grant>* grant,
                                        grpc::Status* refused) {
  if (tokens_ == nullptr) return true;
  const auto& metadata = context->client_metadata();
  const auto found = metadata.find("authorization");
  const std::string authorization = found == metadata.end() ? "" : std::string(found->second.data(), found->second.size());
  // Under mutual TLS, the client certificate gRPC verified.
  std::string certificate_cn;
  const std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  if (auth != nullptr) {
    const std::vector<grpc::string_ref> names = auth->FindPropertyValues("x509_common_name");
    if (!names.empty()) certificate_cn.assign(names.front().data(), names.front().size());
  }
  AuthFailure failure = AuthFailure::kNone;
  *grant = tokens_->Authenticate(authorization, certificate_cn, &failure);
  if (*grant != nullptr) return true;
  const bool missing = failure == AuthFailure::kMissingToken;
  (missing ? counters_.auth_missing_token : counters_.auth_unknown_token).fetch_add(1, std::memory_order_relaxed);
  Log(LogLevel::kWarn, "call_unauthenticated",
      {{"reason", missing ? "missing_token" : "unknown_token"}, {"peer", context->peer()}});
  *refused = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, missing ? kMissingToken : kUnknownToken);
  return false;
}

grpc::ServerReadReactor<grpc::ByteBuffer>* IngestionServiceImpl::PublishStream(grpc::CallbackServerContext* context,
                                                                               grpc::ByteBuffer* response) {
  std::shared_ptr<const Grant> grant;
  grpc::Status refused;
  if (!Authenticate(context, &grant, &refused)) return new RefusedStreamReactor(refused);
  return new PublishStreamReactor(context, response, builder_, producer_, limits_, pool_, counters_, workers_,
                                  std::move(grant));
}

grpc::ServerUnaryReactor* IngestionServiceImpl::Publish(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  // The request and response stay put until the call is done, which is after Finish.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  workers_.Run([this, context, reactor, request, response] {
    std::shared_ptr<const Grant> grant;
    grpc::Status refused;
    if (!Authenticate(context, &grant, &refused)) {
      reactor->Finish(refused);
      return;
    }
    reactor->Finish(AnswerPublish(builder_, producer_, limits_, counters_, *request, response, grant.get()));
  });
  return reactor;
}

}  // namespace nexus
