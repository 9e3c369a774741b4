#include "validation.h"

#include <gtest/gtest.h>

#include <cmath>

#include "test_events.h"

namespace nexus {
namespace {

class ValidationTest : public ::testing::Test {
 protected:
  const Contracts contracts_ = Contracts::FromDescriptors();

  std::string Check(const v1::Event& event) {
    EnvelopeCheck envelope = CheckEnvelope(contracts_, event);
    if (envelope.entity == nullptr) return envelope.reason;
    return CheckRecord(*envelope.entity,
                       event.GetReflection()->GetMessage(event, envelope.entity->payload_field));
  }
};

TEST_F(ValidationTest, ValidEventsPass) {
  EXPECT_EQ(Check(testing::OrderItemEvent()), "");
  EXPECT_EQ(Check(testing::ReviewEvent()), "");
}

TEST_F(ValidationTest, Envelope) {
  v1::Event event = testing::OrderItemEvent();
  event.clear_event_id();
  EXPECT_EQ(Check(event), "event_id: is required");

  event = testing::OrderItemEvent();
  event.set_entity(v1::ENTITY_UNSPECIFIED);
  EXPECT_EQ(Check(event), "entity: is required (ENTITY_ORDER_ITEMS for a order_item payload)");

  event.set_entity(static_cast<v1::Entity>(42));
  EXPECT_EQ(Check(event), "entity: unknown value 42");

  event.set_entity(v1::ENTITY_ORDERS);
  EXPECT_EQ(Check(event), "entity: ENTITY_ORDERS does not match the order_item payload (ENTITY_ORDER_ITEMS)");

  event = testing::OrderItemEvent();
  event.clear_payload();
  EXPECT_EQ(Check(event), "payload: no record set (set exactly one of the payload fields)");
}

TEST_F(ValidationTest, RequiredStringsAndFormats) {
  v1::Event event = testing::OrderItemEvent();
  event.mutable_order_item()->clear_seller_id();
  EXPECT_EQ(Check(event), "seller_id: is required");

  event = testing::OrderItemEvent();
  event.mutable_order_item()->set_order_id("00010242FE8C5A6D1BA2DD792CB16214");
  EXPECT_EQ(Check(event),
            "order_id: must be an md5_id (32 lower-case hex characters), got \"00010242FE8C5A6D1BA2DD792CB16214\"");

  event = testing::OrderItemEvent();
  event.mutable_order_item()->set_shipping_limit_date("2017-09-19T09:45:35");
  EXPECT_NE(Check(event).find("shipping_limit_date: must be a timestamp"), std::string::npos);
}

TEST_F(ValidationTest, Ranges) {
  v1::Event event = testing::OrderItemEvent();
  event.mutable_order_item()->set_order_item_id(0);
  EXPECT_EQ(Check(event), "order_item_id: 0 is less than the minimum 1");

  event = testing::OrderItemEvent();
  event.mutable_order_item()->set_price(-0.5);
  EXPECT_EQ(Check(event), "price: -0.5 is less than the minimum 0");

  event = testing::OrderItemEvent();
  event.mutable_order_item()->set_price(std::nan(""));
  EXPECT_EQ(Check(event), "price: must be a finite number");

  event = testing::ReviewEvent();
  event.mutable_review()->set_review_score(6);
  EXPECT_EQ(Check(event), "review_score: 6 is more than the maximum 5");
}

TEST_F(ValidationTest, EnumsAndLengths) {
  v1::Event event;
  event.set_event_id("e1");
  event.set_entity(v1::ENTITY_PAYMENTS);
  v1::OrderPayment* payment = event.mutable_payment();
  payment->set_order_id("b81ef226f3fe1789b1e8b2acac839d17");
  payment->set_payment_sequential(1);
  payment->set_payment_type("credit_card");
  payment->set_payment_installments(8);
  payment->set_payment_value(99.33);
  EXPECT_EQ(Check(event), "");
  payment->set_payment_type("bitcoin");
  EXPECT_EQ(Check(event),
            "payment_type: must be one of credit_card, boleto, voucher, debit_card, not_defined, got \"bitcoin\"");

  event = testing::ReviewEvent();
  event.mutable_review()->set_review_comment_title(std::string(200, 'x'));
  EXPECT_EQ(Check(event), "");
  // 200 code points of two bytes each are still 200 characters.
  std::string accented;
  for (int i = 0; i < 200; ++i) accented += "\xc3\xa9";
  event.mutable_review()->set_review_comment_title(accented);
  EXPECT_EQ(Check(event), "");
  event.mutable_review()->set_review_comment_title(std::string(201, 'x'));
  EXPECT_EQ(Check(event), "review_comment_title: longer than 200 characters");
}

TEST_F(ValidationTest, OptionalFieldsAreCheckedOnlyWhenSet) {
  v1::Event event = testing::ReviewEvent();
  event.mutable_review()->set_review_answer_timestamp("yesterday");
  EXPECT_NE(Check(event).find("review_answer_timestamp: must be a timestamp"), std::string::npos);
  event.mutable_review()->clear_review_answer_timestamp();
  EXPECT_EQ(Check(event), "");
}

TEST(Formats, MatchTheJsonSchemaPatterns) {
  EXPECT_TRUE(MatchesFormat(Format::kTimestamp, "2018-01-18 00:00:00"));
  EXPECT_FALSE(MatchesFormat(Format::kTimestamp, "2018-01-18 00:00"));
  EXPECT_FALSE(MatchesFormat(Format::kTimestamp, "2018-01-18 0a:00:00"));
  EXPECT_TRUE(MatchesFormat(Format::kZipPrefix, "01037"));
  EXPECT_FALSE(MatchesFormat(Format::kZipPrefix, "1037"));
  EXPECT_TRUE(MatchesFormat(Format::kState, "SP"));
  EXPECT_FALSE(MatchesFormat(Format::kState, "sp"));
  EXPECT_FALSE(MatchesFormat(Format::kMd5Id, "0001"));
  EXPECT_EQ(CodePoints("S\xc3\xa3o Paulo"), 9u);
}

}  // namespace
}  // namespace nexus
