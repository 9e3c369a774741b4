#include "stream_call.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/impl/codegen/proto_utils.h>  // SerializationTraits of protobuf messages

#include "fake_producer.h"
#include "test_events.h"

namespace nexus {
namespace {

v1::Event Item(int n) {
  v1::Event event = testing::OrderItemEvent();
  event.set_event_id("item-" + std::to_string(n));
  return event;
}

v1::Event Invalid(int n) {
  v1::Event event = Item(n);
  event.mutable_order_item()->set_price(-1);  // the contract says price >= 0
  return event;
}

grpc::ByteBuffer Message(const std::vector<v1::Event>& events) {
  v1::PublishRequest request;
  for (const v1::Event& event : events) *request.add_events() = event;
  grpc::ByteBuffer raw;
  bool own = false;
  EXPECT_TRUE(grpc::SerializationTraits<v1::PublishRequest>::Serialize(request, &raw, &own).ok());
  return raw;
}

v1::PublishResponse Parse(grpc::ByteBuffer* raw) {
  v1::PublishResponse response;
  EXPECT_TRUE(grpc::SerializationTraits<v1::PublishResponse>::Deserialize(raw, &response).ok());
  return response;
}

class StreamCallTest : public ::testing::Test {
 protected:
  StreamCallTest() : contracts_(Contracts::FromDescriptors()), builder_(contracts_, testing::SchemaIdsFor(contracts_)) {}

  StreamCall Call(BuildPool* pool = nullptr) { return StreamCall(builder_, producer_, limits_, pool, counters_); }

  // Adds each message in turn while the call reads on; how many it took.
  size_t AddAll(StreamCall& call, std::vector<grpc::ByteBuffer> messages) {
    size_t taken = 0;
    for (grpc::ByteBuffer& message : messages) {
      ++taken;
      if (!call.Add(&message)) break;
    }
    return taken;
  }

  const Contracts contracts_;
  const RecordBuilder builder_;
  testing::FakeProducer producer_;
  ServiceLimits limits_;
  ServiceCounters counters_;
  grpc::ByteBuffer answer_;
};

TEST_F(StreamCallTest, AnswersCountsAndOnlyTheRejectionsIndexedAcrossTheStream) {
  StreamCall call = Call();
  EXPECT_EQ(AddAll(call, {Message({Item(0), Item(1)}), Message({Item(2), Invalid(3), Item(4)})}), 2u);
  ASSERT_TRUE(call.Finish(false, &answer_).ok());
  const v1::PublishResponse response = Parse(&answer_);
  EXPECT_EQ(response.accepted(), 4u);
  EXPECT_EQ(response.rejected(), 1u);
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_EQ(response.results(0).index(), 3u);
  EXPECT_EQ(response.results(0).event_id(), "item-3");
  EXPECT_FALSE(response.results(0).accepted());
  EXPECT_NE(response.results(0).reason(), "");
  EXPECT_EQ(producer_.topics.size(), 4u);
  EXPECT_EQ(producer_.topics.front(), "olist.order_items.v1");
  EXPECT_EQ(counters_.calls_stream.load(), 1u);
  EXPECT_EQ(counters_.accepted.load(), 4u);
  EXPECT_EQ(counters_.rejected_invalid.load(), 1u);
}

TEST_F(StreamCallTest, FailedDeliveriesAndRefusedEventsAreListedInIndexOrder) {
  producer_.fail = {"item-1"};
  producer_.not_queued = {"item-4"};
  StreamCall call = Call();
  AddAll(call, {Message({Item(0), Item(1)}), Message({Invalid(2), Item(3), Item(4)})});
  ASSERT_TRUE(call.Finish(false, &answer_).ok());
  const v1::PublishResponse response = Parse(&answer_);
  EXPECT_EQ(response.accepted(), 2u);
  EXPECT_EQ(response.rejected(), 3u);
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(response.results(0).index(), 1u);
  EXPECT_EQ(response.results(0).reason().rfind("delivery failed: ", 0), 0u);
  EXPECT_EQ(response.results(1).index(), 2u);
  EXPECT_EQ(response.results(2).index(), 4u);
  EXPECT_EQ(response.results(2).reason().rfind("not queued: ", 0), 0u);
  EXPECT_EQ(counters_.rejected_delivery.load(), 2u);
  EXPECT_EQ(counters_.rejected_invalid.load(), 1u);
}

TEST_F(StreamCallTest, AMalformedMessageEndsTheCallNamingWhereToResume) {
  StreamCall call = Call();
  grpc::Slice garbage(std::string("\xff\xff\xff\xff", 4));
  grpc::ByteBuffer bad(&garbage, 1);
  std::vector<grpc::ByteBuffer> messages;
  messages.push_back(Message({Item(0), Item(1)}));
  messages.push_back(bad);
  messages.push_back(Message({Item(2)}));
  EXPECT_EQ(AddAll(call, std::move(messages)), 2u);
  const grpc::Status status = call.Finish(false, &answer_);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("stream message 1 (0-based)"), std::string::npos) << status.error_message();
  EXPECT_NE(status.error_message().find("send again from event index 2"), std::string::npos);
  EXPECT_EQ(counters_.accepted.load(), 2u);  // the events before it were written
}

TEST_F(StreamCallTest, AnOversizeMessageIsRejectedEventByEventAndTheStreamGoesOn) {
  limits_.max_batch_events = 2;
  StreamCall call = Call();
  EXPECT_EQ(AddAll(call, {Message({Item(0), Item(1), Item(2)}), Message({Item(3)})}), 2u);
  ASSERT_TRUE(call.Finish(false, &answer_).ok());
  const v1::PublishResponse response = Parse(&answer_);
  EXPECT_EQ(response.accepted(), 1u);
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_NE(response.results(2).reason().find("over the limit of 2"), std::string::npos);
}

TEST_F(StreamCallTest, StopsReadingOnceItHasMaxStreamRejections) {
  limits_.max_stream_rejections = 2;
  StreamCall call = Call();
  EXPECT_EQ(AddAll(call, {Message({Invalid(0), Item(1)}), Message({Invalid(2), Invalid(3)}), Message({Item(4)})}),
            2u);
  ASSERT_TRUE(call.Finish(false, &answer_).ok());
  const v1::PublishResponse response = Parse(&answer_);
  EXPECT_EQ(response.accepted() + response.rejected(), 4u);  // the answer covers what was read
  EXPECT_EQ(response.rejected(), 3u);
}

TEST_F(StreamCallTest, WaitsForRoomWhileReportsFreeTheProducerQueue) {
  producer_.instant = false;
  producer_.capacity = 1;  // every second produce finds the queue full until a Poll
  StreamCall call = Call();
  EXPECT_EQ(AddAll(call, {Message({Item(0), Item(1), Item(2)})}), 1u);
  producer_.DeliverAll();
  ASSERT_TRUE(call.Finish(false, &answer_).ok());
  EXPECT_EQ(Parse(&answer_).accepted(), 3u);
  EXPECT_GE(producer_.polls, 2u);
}

TEST_F(StreamCallTest, AQueueThatStaysFullRejectsTheRestAndStopsReading) {
  producer_.instant = false;
  producer_.stuck = true;
  producer_.capacity = 2;
  limits_.queue_full_timeout_ms = 5;
  StreamCall call = Call();
  EXPECT_EQ(AddAll(call, {Message({Item(0), Item(1), Item(2), Item(3)}), Message({Item(4)})}), 1u);
  producer_.DeliverAll();
  ASSERT_TRUE(call.Finish(false, &answer_).ok());  // some were written: OK, the reasons say what to resend
  const v1::PublishResponse response = Parse(&answer_);
  EXPECT_EQ(response.accepted(), 2u);
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).index(), 2u);
  EXPECT_EQ(response.results(0).reason(), kExhaustedReason);
  EXPECT_EQ(counters_.rejected_queue_full.load(), 2u);
}

TEST_F(StreamCallTest, NothingWrittenBecauseTheQueueIsFullIsResourceExhausted) {
  producer_.instant = false;
  producer_.stuck = true;
  producer_.capacity = 0;
  limits_.queue_full_timeout_ms = 5;
  StreamCall call = Call();
  AddAll(call, {Message({Item(0), Item(1)})});
  EXPECT_EQ(call.Finish(false, &answer_).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(counters_.rejected_queue_full.load(), 2u);
}

TEST_F(StreamCallTest, KeepsAtMostItsBoundOfBytesInFlight) {
  producer_.instant = false;  // reports only when the call polls
  const int per_message = 500;
  std::vector<v1::Event> events;
  for (int i = 0; i < per_message; ++i) events.push_back(Item(i));
  const size_t message_bytes = Message(events).Length();
  const size_t fit = StreamCall::kMaxBytesInFlight / message_bytes;  // messages within the bound
  ASSERT_GE(fit, 2u);
  StreamCall call = Call();
  for (size_t m = 0; m < fit + 2; ++m) {
    grpc::ByteBuffer message = Message(events);
    ASSERT_TRUE(call.Add(&message));
  }
  EXPECT_LE(producer_.max_queued, fit * per_message);
  EXPECT_GT(producer_.polls, 0u);  // it waited for reports
  producer_.DeliverAll();
  ASSERT_TRUE(call.Finish(false, &answer_).ok());
  EXPECT_EQ(Parse(&answer_).accepted(), static_cast<uint32_t>((fit + 2) * per_message));
}

TEST_F(StreamCallTest, AMessageOverTheBoundOfBytesInFlightStillGoesThrough) {
  producer_.instant = false;
  std::vector<v1::Event> events;
  while (events.size() * 100 < StreamCall::kMaxBytesInFlight) events.push_back(Item(static_cast<int>(events.size())));
  limits_.max_batch_events = static_cast<int>(events.size());
  grpc::ByteBuffer message = Message(events);
  ASSERT_GT(message.Length(), StreamCall::kMaxBytesInFlight);
  StreamCall call = Call();
  ASSERT_TRUE(call.Add(&message));
  EXPECT_EQ(producer_.queued(), events.size());  // queued at once: nothing else was in flight
  producer_.DeliverAll();
  ASSERT_TRUE(call.Finish(false, &answer_).ok());
  EXPECT_EQ(Parse(&answer_).accepted(), events.size());
}

TEST_F(StreamCallTest, ACancelledCallIsAnsweredCancelledAfterItsReports) {
  StreamCall call = Call();
  AddAll(call, {Message({Item(0)})});
  EXPECT_EQ(call.Finish(true, &answer_).error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(counters_.accepted.load(), 1u);  // what was written is counted
}

TEST_F(StreamCallTest, BuildsAheadOnThePoolAndQueuesInOrder) {
  BuildPool pool(builder_, 2);
  StreamCall call = Call(&pool);
  std::vector<grpc::ByteBuffer> messages;
  for (int m = 0; m < 5; ++m) messages.push_back(Message({Item(2 * m), m == 3 ? Invalid(2 * m + 1) : Item(2 * m + 1)}));
  EXPECT_EQ(AddAll(call, std::move(messages)), 5u);
  ASSERT_TRUE(call.Finish(false, &answer_).ok());
  const v1::PublishResponse response = Parse(&answer_);
  EXPECT_EQ(response.accepted(), 9u);
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_EQ(response.results(0).index(), 7u);
  EXPECT_EQ(producer_.next_offset, 9);
}

}  // namespace
}  // namespace nexus
