#include "publish_call.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <grpcpp/impl/codegen/proto_utils.h>  // SerializationTraits of protobuf messages

#include "keystone/olist/v1/ingestion.pb.h"
#include "fake_producer.h"
#include "test_events.h"

namespace nexus {
namespace {

v1::Event Item(int n) {
  v1::Event event = testing::OrderItemEvent();
  event.set_event_id("item-" + std::to_string(n));
  return event;
}

grpc::ByteBuffer Request(const std::vector<v1::Event>& events) {
  v1::PublishRequest request;
  for (const v1::Event& event : events) *request.add_events() = event;
  grpc::ByteBuffer raw;
  bool own = false;
  EXPECT_TRUE(grpc::SerializationTraits<v1::PublishRequest>::Serialize(request, &raw, &own).ok());
  return raw;
}

class PublishCallTest : public ::testing::Test {
 protected:
  PublishCallTest() : contracts_(Contracts::FromDescriptors()), builder_(contracts_, testing::SchemaIdsFor(contracts_)) {}

  grpc::Status Answer(const grpc::ByteBuffer& request) {
    return AnswerPublish(builder_, producer_, limits_, counters_, request, &answer_);
  }

  const Contracts contracts_;
  const RecordBuilder builder_;
  testing::FakeProducer producer_;
  ServiceLimits limits_;
  ServiceCounters counters_;
  grpc::ByteBuffer answer_;
};

TEST_F(PublishCallTest, AnswersEveryEventInOrderWithWhereItWasWritten) {
  v1::Event invalid = Item(1);
  invalid.mutable_order_item()->set_price(-1);  // the contract says price >= 0
  ASSERT_TRUE(Answer(Request({Item(0), invalid, Item(2)})).ok());
  v1::PublishResponse response;
  ASSERT_TRUE(grpc::SerializationTraits<v1::PublishResponse>::Deserialize(&answer_, &response).ok());
  EXPECT_EQ(response.accepted(), 2u);
  EXPECT_EQ(response.rejected(), 1u);
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_TRUE(response.results(0).accepted());
  EXPECT_EQ(response.results(0).topic(), "olist.order_items.v1");
  EXPECT_EQ(response.results(2).offset(), 1);
  EXPECT_FALSE(response.results(1).accepted());
  EXPECT_EQ(response.results(1).event_id(), "item-1");
  EXPECT_EQ(counters_.calls_publish.load(), 1u);
  EXPECT_EQ(counters_.accepted.load(), 2u);
}

TEST_F(PublishCallTest, BytesThatAreNotAPublishRequestAreRefusedWithNothingProcessed) {
  // Field 1 (events) said to be far longer than the bytes that follow: the conformance suite's garbage.
  static const char kGarbage[] = "\x0a\xff\xff\xff\xff\x0f garbage";
  grpc::Slice slice(std::string(kGarbage, sizeof kGarbage - 1));
  const grpc::ByteBuffer request(&slice, 1);
  const grpc::Status status = Answer(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "the request is not a valid PublishRequest; nothing was processed");
  EXPECT_EQ(producer_.produce_calls, 0u);
  EXPECT_EQ(counters_.calls_publish.load(), 0u);  // as the twin: a call that never started
}

TEST_F(PublishCallTest, ABatchOverTheLimitIsRefusedWhole) {
  limits_.max_batch_events = 1;
  const grpc::Status status = Answer(Request({Item(0), Item(1)}));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("over the limit of 1"), std::string::npos) << status.error_message();
  EXPECT_EQ(producer_.produce_calls, 0u);
}

}  // namespace
}  // namespace nexus
