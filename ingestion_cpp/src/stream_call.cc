#include "stream_call.h"

#include <algorithm>
#include <string>

#include <google/protobuf/arena.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/impl/codegen/proto_utils.h>  // SerializationTraits of protobuf messages

#include "log.h"

namespace nexus {

namespace v1 = keystone::olist::v1;

// A stream message being built or in flight; reused once its reports are in. Its
// request lives on its own arena, so parsing 500 events costs a few bump allocations
// instead of several mallocs per event, and dropping them is one Reset.
class StreamMessage {
 public:
  StreamMessage() : initial_block_(new char[kInitialBlockBytes]), arena_(Options(initial_block_.get())) {}

  // A fresh, empty request (the previous one's memory goes back to the arena).
  v1::PublishRequest* Renew() {
    arena_.Reset();
    request_ = google::protobuf::Arena::CreateMessage<v1::PublishRequest>(&arena_);
    return request_;
  }
  const v1::PublishRequest& request() const { return *request_; }

  BuiltMessage built;
  DeliveryBatch delivery;
  uint32_t first_index = 0;
  size_t bytes = 0;  // serialized, as read

 private:
  static constexpr size_t kInitialBlockBytes = 256 * 1024;  // 500 order items take ~150 KiB

  static google::protobuf::ArenaOptions Options(char* initial_block) {
    google::protobuf::ArenaOptions options;
    options.initial_block = initial_block;
    options.initial_block_size = kInitialBlockBytes;
    options.max_block_size = 1024 * 1024;
    return options;
  }

  std::unique_ptr<char[]> initial_block_;
  google::protobuf::Arena arena_;
  v1::PublishRequest* request_ = nullptr;
};

StreamCall::StreamCall(const RecordBuilder& builder, Producer& producer, const ServiceLimits& limits,
                       BuildPool* pool, ServiceCounters& counters, const Grant* grant)
    : limits_(limits),
      pool_(pool),
      counters_(counters),
      producer_(producer),
      queuer_(builder, producer, limits.queue_full_timeout_ms, grant) {
  counters_.calls_stream.fetch_add(1, std::memory_order_relaxed);
}

// Finish() has waited for every report, so no slot of these messages is still written to.
StreamCall::~StreamCall() = default;

bool StreamCall::Add(grpc::ByteBuffer* raw) {
  std::unique_ptr<StreamMessage> message = TakeSpare();
  message->bytes = raw->Length();
  {
    grpc::ProtoBufferReader bytes(raw);
    malformed_ = !message->Renew()->ParseFromZeroCopyStream(&bytes);
  }
  reading_ += Clock::now() - read_since_;
  if (malformed_) {  // its read is counted; Finish() adds no more
    spare_.push_back(std::move(message));
    return false;
  }
  ++messages_;
  const v1::PublishRequest& request = message->request();
  const int n = request.events_size();
  message->first_index = next_index_;
  next_index_ += static_cast<uint32_t>(n);
  if (n > limits_.max_batch_events) {
    const std::string reason = OverLimit("stream message", n, limits_.max_batch_events) + " per message";
    for (int i = 0; i < n; ++i) AddRejection(message->first_index + i, request.events(i).event_id(), reason);
    queuer_.invalid += static_cast<uint32_t>(n);
    spare_.push_back(std::move(message));
  } else if (pool_ != nullptr) {
    pool_->Submit(&message->request(), &message->built);
    building_.push_back(std::move(message));
    while (building_.size() > kBuildAhead) {
      Queue(std::move(building_.front()));
      building_.pop_front();
    }
  } else {
    Queue(std::move(message));
  }
  read_since_ = Clock::now();
  if (queuer_.exhausted() || response_.results_size() >= limits_.max_stream_rejections) {
    stopped_early_ = true;
    return false;
  }
  return true;
}

grpc::Status StreamCall::Finish(bool cancelled, grpc::ByteBuffer* raw_response) {
  if (!stopped_early_ && !malformed_) reading_ += Clock::now() - read_since_;  // the read that saw the end
  // Messages read are answered, even after an early stop (then as exhausted).
  while (!building_.empty()) {
    Queue(std::move(building_.front()));
    building_.pop_front();
  }
  const auto produced = Clock::now();
  tracker_.Wait();
  Reap();
  // Invalid events were listed as read, failed deliveries as their reports came in.
  auto* results = response_.mutable_results();
  std::sort(results->pointer_begin(), results->pointer_end(),
            [](const v1::EventResult* a, const v1::EventResult* b) { return a->index() < b->index(); });
  response_.set_accepted(accepted_);
  response_.set_rejected(next_index_ - accepted_);
  const auto ms = [](Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  grpc::Status status =
      FinishCall(counters_, queuer_, "PublishStream", response_,
                 {{"events", next_index_}, {"messages", messages_}, {"stopped_early", stopped_early_}});
  Log(LogLevel::kDebug, "publish_stream",
      {{"messages", messages_}, {"events", next_index_}, {"accepted", accepted_}, {"stopped_early", stopped_early_},
       {"read_wait_ms", ms(reading_)}, {"produce_ms", ms(produced - started_ - reading_)},
       {"build_wait_ms", ms(build_wait_)}, {"max_messages_in_flight", max_in_flight_},
       {"in_flight_wait_ms", ms(in_flight_wait_)}, {"queue_full_wait_ms", ms(queuer_.queue_full_wait)},
       {"delivery_wait_ms", ms(Clock::now() - produced)}});
  counters_.stream_latency.Observe(std::chrono::duration<double>(Clock::now() - started_).count());
  if (cancelled) {
    Log(LogLevel::kWarn, "publish_stream_cancelled", {{"events", next_index_}, {"accepted", accepted_}});
    return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away mid-stream");
  }
  if (malformed_) {
    Log(LogLevel::kWarn, "publish_stream_malformed",
        {{"message", messages_}, {"events", next_index_}, {"accepted", accepted_}});
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "stream message " + std::to_string(messages_) + " (0-based) is not a valid PublishRequest; " +
                            "the " + std::to_string(next_index_) + " events before it were processed (" +
                            std::to_string(accepted_) + " written, " + std::to_string(next_index_ - accepted_) +
                            " rejected); send again from event index " + std::to_string(next_index_));
  }
  if (status.ok()) {
    bool own_buffer = false;
    status = grpc::SerializationTraits<v1::PublishResponse>::Serialize(response_, raw_response, &own_buffer);
  }
  return status;
}

std::unique_ptr<StreamMessage> StreamCall::TakeSpare() {
  if (spare_.empty()) return std::make_unique<StreamMessage>();
  std::unique_ptr<StreamMessage> message = std::move(spare_.back());
  spare_.pop_back();
  return message;
}

// Queues a read message on the producer (its records built by the pool if it has one).
void StreamCall::Queue(std::unique_ptr<StreamMessage> message) {
  const v1::PublishRequest& request = message->request();
  WaitForRoom(message->bytes);
  const uint32_t first = message->first_index;
  message->delivery.Reset(&tracker_, static_cast<size_t>(request.events_size()));
  const BuiltMessage* built = nullptr;
  if (pool_ != nullptr) {
    const auto before_wait = Clock::now();
    message->built.Wait();
    build_wait_ += Clock::now() - before_wait;
    built = &message->built;
  }
  queuer_.QueueAll(
      request, &message->delivery,
      [&](uint32_t i, const std::string& reason) {
        AddRejection(first + i, request.events(static_cast<int>(i)).event_id(), reason);
      },
      built);
  in_flight_bytes_ += message->bytes;
  in_flight_.push_back(std::move(message));
  max_in_flight_ = std::max(max_in_flight_, in_flight_.size());
  Reap();
}

// Waits until the stream's unanswered messages leave room for `bytes` more.
void StreamCall::WaitForRoom(size_t bytes) {
  Reap();
  if (in_flight_bytes_ + bytes <= kMaxBytesInFlight || in_flight_.empty()) return;
  const auto before = Clock::now();
  while (in_flight_bytes_ + bytes > kMaxBytesInFlight && !in_flight_.empty()) {
    producer_.Poll(1);
    Reap();
  }
  in_flight_wait_ += Clock::now() - before;
}

// Takes the answers of the oldest messages whose reports are all in.
void StreamCall::Reap() {
  while (!in_flight_.empty() && in_flight_.front()->delivery.Done()) {
    std::unique_ptr<StreamMessage> done = std::move(in_flight_.front());
    in_flight_.pop_front();
    in_flight_bytes_ -= done->bytes;
    for (const DeliverySlot& slot : done->delivery.slots()) {
      if (!slot.queued) continue;
      if (slot.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++accepted_;
      } else {
        AddRejection(done->first_index + slot.index,
                     done->request().events(static_cast<int>(slot.index)).event_id(), DeliveryFailure(slot.err));
        ++queuer_.delivery_failed;
      }
    }
    spare_.push_back(std::move(done));
  }
}

void StreamCall::AddRejection(uint32_t index, const std::string& event_id, const std::string& reason) {
  v1::EventResult* result = response_.add_results();
  result->set_index(index);
  result->set_event_id(event_id);
  Reject(result, reason);
}

}  // namespace nexus
