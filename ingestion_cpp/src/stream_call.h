// One PublishStream call: the state the stream keeps between its messages, and what it
// does with each. The gRPC reactor (ingestion_service.cc) only moves bytes: it hands
// every message read to Add() and, once Add() says stop or the client's stream ends,
// answers with Finish(). No gRPC call in here, so the unit tests drive it with
// serialized requests and a fake producer.
//
// The answer: the counts over the whole stream and one EventResult per *rejected*
// event (index across the stream, event id, reason), in index order; an event not
// listed was accepted. So a stream's answer and the server's memory follow the
// rejections and the messages in flight, not the length of the stream. A stream stops
// being read once it has max_stream_rejections rejected events or the producer queue
// stayed full: the answer then covers the first accepted + rejected events, and the
// client sends the rest again.
//
// Flow control: Add() returns only once its message is queued on the producer, which
// may wait for room (the producer queue, or the stream's own bound on bytes in flight);
// meanwhile the reactor reads nothing, which slows the client through gRPC flow control
// (the server's HTTP/2 window, olist_ingestion_enterprise.cc, bounds what the transport
// holds for the stream meanwhile).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include "keystone/olist/v1/ingestion.pb.h"
#include "build_pool.h"
#include "call_outcome.h"
#include "delivery.h"
#include "event_queuer.h"
#include "producer.h"
#include "record_builder.h"

namespace nexus {

class StreamMessage;

class StreamCall {
 public:
  // Request bytes of one stream's messages queued without all their delivery reports;
  // past this the stream waits (serving reports) before it queues more (one message is
  // always let through), so its memory stays bounded however far Kafka lags. The server
  // holds ~13 bytes per request byte in flight (parsed request, built record, the
  // librdkafka message and its headers: ~2.3 KB per order item of 178 bytes), so 2 MiB
  // (~11,800 order items) is ~27 MB a stream. The bound before, 50,000 events (~9 MB),
  // peaked at ~190 MB with one stream and ~600 MB with four, no faster (README.md).
  static constexpr size_t kMaxBytesInFlight = 2 * 1024 * 1024;
  // Messages handed to the BuildPool ahead of the one being queued.
  static constexpr size_t kBuildAhead = 2;

  // `pool` (optional) builds messages ahead on its threads; else Add() builds them.
  // `grant`: the call's authenticated producer (null without a tokens file; event_queuer.h).
  // Everything given must outlive the call.
  StreamCall(const RecordBuilder& builder, Producer& producer, const ServiceLimits& limits, BuildPool* pool,
             ServiceCounters& counters, const Grant* grant = nullptr);
  ~StreamCall();
  StreamCall(const StreamCall&) = delete;
  StreamCall& operator=(const StreamCall&) = delete;

  // Takes the stream's next message as read. False: read no more, because the message
  // is not a PublishRequest (the call fails) or the stream stopped early.
  bool Add(grpc::ByteBuffer* raw);
  // The stream is over (ended by the client, stopped by Add(), or `cancelled`): queues
  // the messages still building, waits for every delivery report, counts and logs the
  // call. The status; when OK, `response` holds the serialized PublishResponse.
  grpc::Status Finish(bool cancelled, grpc::ByteBuffer* response);

 private:
  using Clock = std::chrono::steady_clock;

  std::unique_ptr<StreamMessage> TakeSpare();
  void Queue(std::unique_ptr<StreamMessage> message);
  void WaitForRoom(size_t bytes);
  void Reap();
  void AddRejection(uint32_t index, const std::string& event_id, const std::string& reason);

  const ServiceLimits& limits_;
  BuildPool* pool_;
  ServiceCounters& counters_;
  Producer& producer_;
  DeliveryTracker tracker_;
  EventQueuer queuer_;
  keystone::olist::v1::PublishResponse response_;
  std::deque<std::unique_ptr<StreamMessage>> building_;   // read, handed to the pool, in order
  std::deque<std::unique_ptr<StreamMessage>> in_flight_;  // queued, awaiting reports, in order
  std::vector<std::unique_ptr<StreamMessage>> spare_;
  uint32_t next_index_ = 0;  // events read so far
  uint32_t accepted_ = 0;
  size_t in_flight_bytes_ = 0;
  uint64_t messages_ = 0;
  bool malformed_ = false;
  bool stopped_early_ = false;
  size_t max_in_flight_ = 0;
  // Where the time went, for the publish_stream debug line.
  const Clock::time_point started_ = Clock::now();
  Clock::time_point read_since_ = started_;  // when the reactor last asked for a message
  Clock::duration reading_{};
  Clock::duration build_wait_{};
  Clock::duration in_flight_wait_{};
};

}  // namespace nexus
