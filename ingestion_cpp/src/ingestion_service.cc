#include "ingestion_service.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/support/method_handler.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "build_pool.h"
#include "log.h"

namespace nexus {

namespace v1 = keystone::olist::v1;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kExhaustedReason = "resource exhausted: the Kafka producer queue is full; retry later";

void Reject(v1::EventResult* result, const std::string& reason) {
  result->set_accepted(false);
  result->set_reason(reason);
}

std::string DeliveryFailure(int err) {
  return std::string("delivery failed: ") + rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)) + "; retry";
}

std::string OverLimit(const char* what, int events, int limit) {
  return std::string(what) + " of " + std::to_string(events) + " events is over the limit of " +
         std::to_string(limit) + "; split it";
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The index of PublishStream among the service's methods, in ingestion.proto's order.
constexpr int kPublishStreamMethod = 1;

}  // namespace

// Builds and queues the events of request messages, one call's worth; counts why
// events were not queued.
class EventQueuer {
 public:
  explicit EventQueuer(IngestionServiceImpl& service) : service_(service) {}

  // Queues every valid event of `request` into `batch` (Reset for the request's size);
  // calls on_reject(i, reason) for each event i that is not queued. The records come
  // from `built` when given (built by the BuildPool), else are built here.
  template <typename OnReject>
  void QueueAll(const v1::PublishRequest& request, DeliveryBatch* batch, OnReject&& on_reject,
                const BuiltMessage* built = nullptr) {
    const int n = request.events_size();
    for (int i = 0; i < n; ++i) {
      const v1::Event& event = request.events(i);
      const uint32_t index = static_cast<uint32_t>(i);
      if (exhausted_) {
        on_reject(index, kExhaustedReason);
        ++queue_full;
        continue;
      }
      const KafkaRecord* record = &record_;
      if (built != nullptr) {
        record = built->record(i);
        if (record == nullptr) {
          on_reject(index, built->reason(i));
          ++invalid;
          continue;
        }
      } else {
        const std::string reason = service_.builder_.Build(event, &record_);
        if (!reason.empty()) {
          on_reject(index, reason);
          ++invalid;
          continue;
        }
      }
      DeliverySlot* slot = batch->Add(index, record->entity);
      rd_kafka_resp_err_t err = service_.producer_.Produce(*record, event.event_id(), event.source(), slot);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) err = RetryWhileFull(*record, event, slot);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      batch->Cancel(slot);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        exhausted_ = true;
        on_reject(index, kExhaustedReason);
        ++queue_full;
      } else {
        on_reject(index, std::string("not queued: ") + rd_kafka_err2str(err) + "; retry");
        ++delivery_failed;
      }
    }
  }

  // The producer queue stayed full: the rest of the call is rejected.
  bool exhausted() const { return exhausted_; }

  uint32_t invalid = 0;
  uint32_t queue_full = 0;
  uint32_t delivery_failed = 0;  // not queued, or a failed delivery report (counted by the caller)
  Clock::duration queue_full_wait{};  // time spent waiting for room in the producer queue

 private:
  rd_kafka_resp_err_t RetryWhileFull(const KafkaRecord& record, const v1::Event& event, DeliverySlot* slot) {
    const auto started = Clock::now();
    const auto deadline = started + std::chrono::milliseconds(service_.limits_.queue_full_timeout_ms);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__QUEUE_FULL;
    auto now = started;
    while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && now < deadline) {
      service_.producer_.Poll(1);
      err = service_.producer_.Produce(record, event.event_id(), event.source(), slot);
      now = Clock::now();
    }
    queue_full_wait += now - started;
    return err;
  }

  IngestionServiceImpl& service_;
  KafkaRecord record_;  // built here when there is no BuiltMessage; reused
  bool exhausted_ = false;
};

namespace {

// Counters, the log line for calls with rejections, and the call's status.
grpc::Status FinishCall(ServiceCounters& c, const EventQueuer& queuer, const char* method,
                        const v1::PublishResponse& response, nlohmann::ordered_json extra) {
  c.accepted.fetch_add(response.accepted(), std::memory_order_relaxed);
  c.rejected_invalid.fetch_add(queuer.invalid, std::memory_order_relaxed);
  c.rejected_queue_full.fetch_add(queuer.queue_full, std::memory_order_relaxed);
  c.rejected_delivery.fetch_add(queuer.delivery_failed, std::memory_order_relaxed);
  if (response.rejected() > 0) {
    std::string first;
    for (const v1::EventResult& r : response.results()) {
      if (!r.accepted()) {
        first = r.reason();
        break;
      }
    }
    nlohmann::ordered_json fields = {{"method", method},
                                     {"accepted", response.accepted()},
                                     {"rejected", response.rejected()},
                                     {"invalid", queuer.invalid},
                                     {"queue_full", queuer.queue_full},
                                     {"delivery_failed", queuer.delivery_failed},
                                     {"first_reason", first}};
    for (auto& [key, value] : extra.items()) fields[key] = value;
    Log(LogLevel::kInfo, "publish_rejected", std::move(fields));
  }
  if (queuer.exhausted() && response.accepted() == 0) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "the Kafka producer queue is full; nothing was written, retry later");
  }
  return grpc::Status::OK;
}

}  // namespace

IngestionServiceImpl::IngestionServiceImpl(const RecordBuilder& builder, KafkaProducer& producer,
                                           ServiceLimits limits, BuildPool* pool)
    : builder_(builder), producer_(producer), limits_(limits), pool_(pool) {
  // The generated sync handler parses each stream message itself, and a message that
  // does not parse ends its Read() loop exactly like the client's end of stream: the
  // call would be answered OK for the messages before it. Reading raw bytes and parsing
  // here lets the call fail with INVALID_ARGUMENT naming the message instead.
  MarkMethodStreamed(kPublishStreamMethod,
                     new grpc::internal::ClientStreamingHandler<IngestionServiceImpl, grpc::ByteBuffer, grpc::ByteBuffer>(
                         [](IngestionServiceImpl* service, grpc::ServerContext* context,
                            grpc::ServerReader<grpc::ByteBuffer>* reader, grpc::ByteBuffer* response) {
                           return service->PublishStreamRaw(context, reader, response);
                         },
                         this));
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
  EventQueuer queuer(*this);
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
  counters_.publish_latency.Observe(Seconds(Clock::now() - started));
  return status;
}

namespace {

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

// Messages of one stream handed to the BuildPool ahead of the one being queued.
constexpr size_t kBuildAhead = 2;
// Events of one stream queued without their delivery reports yet; past this the stream
// waits (serving reports) before it queues more, so its memory stays bounded (~250
// bytes of parsed request and ~500 of built record per event) however far Kafka lags.
constexpr uint32_t kMaxStreamEventsInFlight = 50000;

}  // namespace

grpc::Status IngestionServiceImpl::PublishStreamRaw(grpc::ServerContext* context,
                                                    grpc::ServerReader<grpc::ByteBuffer>* reader,
                                                    grpc::ByteBuffer* raw_response) {
  counters_.calls_stream.fetch_add(1, std::memory_order_relaxed);
  v1::PublishResponse response_message;
  v1::PublishResponse* response = &response_message;
  grpc::ByteBuffer raw;
  bool malformed = false;
  const auto started = Clock::now();
  Clock::duration reading{};
  Clock::duration build_wait{};
  auto* results = response->mutable_results();
  DeliveryTracker tracker;
  EventQueuer queuer(*this);
  std::deque<std::unique_ptr<StreamMessage>> building;   // read, handed to the pool, in order
  std::deque<std::unique_ptr<StreamMessage>> in_flight;  // queued, awaiting reports, in order
  std::vector<std::unique_ptr<StreamMessage>> spare;
  uint32_t next_index = 0;
  uint32_t accepted = 0;
  uint64_t messages = 0;
  bool stopped_early = false;
  size_t max_in_flight = 0;
  uint32_t in_flight_events = 0;
  Clock::duration in_flight_wait{};

  auto reject = [&](uint32_t index, const std::string& event_id, const std::string& reason) {
    v1::EventResult* result = results->Add();
    result->set_index(index);
    result->set_event_id(event_id);
    Reject(result, reason);
  };
  // Takes the answers of the oldest messages whose reports are all in.
  auto reap = [&] {
    while (!in_flight.empty() && in_flight.front()->delivery.Done()) {
      std::unique_ptr<StreamMessage> done = std::move(in_flight.front());
      in_flight.pop_front();
      in_flight_events -= static_cast<uint32_t>(done->request().events_size());
      for (const DeliverySlot& slot : done->delivery.slots()) {
        if (!slot.queued) continue;
        if (slot.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          ++accepted;
        } else {
          reject(done->first_index + slot.index, done->request().events(static_cast<int>(slot.index)).event_id(),
                 DeliveryFailure(slot.err));
          ++queuer.delivery_failed;
        }
      }
      spare.push_back(std::move(done));
    }
  };
  // Waits until the stream's unanswered events leave room for `events` more.
  auto wait_for_room = [&](uint32_t events) {
    reap();
    if (in_flight_events + events <= kMaxStreamEventsInFlight || in_flight.empty()) return;
    const auto before = Clock::now();
    while (in_flight_events + events > kMaxStreamEventsInFlight && !in_flight.empty()) {
      producer_.Poll(1);
      reap();
    }
    in_flight_wait += Clock::now() - before;
  };
  // Queues a read message on the producer (its records built by the pool if it has one).
  auto queue = [&](std::unique_ptr<StreamMessage> message) {
    const v1::PublishRequest& request = message->request();
    wait_for_room(static_cast<uint32_t>(request.events_size()));
    const uint32_t first = message->first_index;
    message->delivery.Reset(&tracker, static_cast<size_t>(request.events_size()));
    const BuiltMessage* built = nullptr;
    if (pool_ != nullptr) {
      const auto before_wait = Clock::now();
      message->built.Wait();
      build_wait += Clock::now() - before_wait;
      built = &message->built;
    }
    queuer.QueueAll(
        request, &message->delivery,
        [&](uint32_t i, const std::string& reason) {
          reject(first + i, request.events(static_cast<int>(i)).event_id(), reason);
        },
        built);
    in_flight_events += static_cast<uint32_t>(request.events_size());
    in_flight.push_back(std::move(message));
    max_in_flight = std::max(max_in_flight, in_flight.size());
    reap();
  };

  for (;;) {
    std::unique_ptr<StreamMessage> message;
    if (spare.empty()) {
      message = std::make_unique<StreamMessage>();
    } else {
      message = std::move(spare.back());
      spare.pop_back();
    }
    const auto before_read = Clock::now();
    const bool more = reader->Read(&raw);
    if (more) {
      grpc::ProtoBufferReader bytes(&raw);
      malformed = !message->Renew()->ParseFromZeroCopyStream(&bytes);
    }
    reading += Clock::now() - before_read;
    if (!more || malformed) break;
    ++messages;
    const v1::PublishRequest& request = message->request();
    const int n = request.events_size();
    message->first_index = next_index;
    next_index += static_cast<uint32_t>(n);
    if (n > limits_.max_batch_events) {
      const std::string reason = OverLimit("stream message", n, limits_.max_batch_events) + " per message";
      for (int i = 0; i < n; ++i) reject(message->first_index + i, request.events(i).event_id(), reason);
      queuer.invalid += static_cast<uint32_t>(n);
      spare.push_back(std::move(message));
    } else if (pool_ != nullptr) {
      pool_->Submit(&message->request(), &message->built);
      building.push_back(std::move(message));
      while (building.size() > kBuildAhead) {
        queue(std::move(building.front()));
        building.pop_front();
      }
    } else {
      queue(std::move(message));
    }
    if (queuer.exhausted() || results->size() >= limits_.max_stream_rejections) {
      stopped_early = true;
      break;
    }
  }
  // Messages read are answered, even after an early stop (then as exhausted).
  while (!building.empty()) {
    queue(std::move(building.front()));
    building.pop_front();
  }
  const auto produced = Clock::now();
  tracker.Wait();
  reap();
  // Invalid events were listed as read, failed deliveries as their reports came in.
  std::sort(results->pointer_begin(), results->pointer_end(),
            [](const v1::EventResult* a, const v1::EventResult* b) { return a->index() < b->index(); });
  response->set_accepted(accepted);
  response->set_rejected(next_index - accepted);
  const auto ms = [](Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  grpc::Status status = FinishCall(counters_, queuer, "PublishStream", *response,
                                   {{"events", next_index}, {"messages", messages}, {"stopped_early", stopped_early}});
  Log(LogLevel::kDebug, "publish_stream",
      {{"messages", messages}, {"events", next_index}, {"accepted", accepted}, {"stopped_early", stopped_early},
       {"read_wait_ms", ms(reading)}, {"produce_ms", ms(produced - started - reading)},
       {"build_wait_ms", ms(build_wait)}, {"max_messages_in_flight", max_in_flight},
       {"in_flight_wait_ms", ms(in_flight_wait)}, {"queue_full_wait_ms", ms(queuer.queue_full_wait)},
       {"delivery_wait_ms", ms(Clock::now() - produced)}});
  counters_.stream_latency.Observe(Seconds(Clock::now() - started));
  if (context->IsCancelled()) {
    Log(LogLevel::kWarn, "publish_stream_cancelled", {{"events", next_index}, {"accepted", accepted}});
    return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away mid-stream");
  }
  if (malformed) {
    Log(LogLevel::kWarn, "publish_stream_malformed",
        {{"message", messages}, {"events", next_index}, {"accepted", accepted}});
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "stream message " + std::to_string(messages) + " (0-based) is not a valid PublishRequest; " +
                            "the " + std::to_string(next_index) + " events before it were processed (" +
                            std::to_string(accepted) + " written, " + std::to_string(next_index - accepted) +
                            " rejected); send again from event index " + std::to_string(next_index));
  }
  if (status.ok()) {
    bool own_buffer = false;
    status = grpc::SerializationTraits<v1::PublishResponse>::Serialize(*response, raw_response, &own_buffer);
  }
  return status;
}

}  // namespace nexus
