#include "record_json.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_events.h"

namespace nexus {
namespace {

std::string Encode(const Contracts& contracts, const v1::Event& event) {
  const EntityPlan* entity = contracts.ByPayloadField(event.payload_case());
  std::string out;
  AppendRecordJson(*entity, event.GetReflection()->GetMessage(event, entity->payload_field), &out);
  return out;
}

TEST(RecordJson, OrderItemHasOlistColumnsInOrderAndNumbersAsNumbers) {
  const Contracts contracts = Contracts::FromDescriptors();
  EXPECT_EQ(Encode(contracts, testing::OrderItemEvent()),
            "{\"order_id\":\"00010242fe8c5a6d1ba2dd792cb16214\",\"order_item_id\":1,"
            "\"product_id\":\"4244733e06e7ecb4970a6e2683c13e61\",\"seller_id\":\"48436dade18ac8b2bce089ec2a041202\","
            "\"shipping_limit_date\":\"2017-09-19 09:45:35\",\"price\":58.9,\"freight_value\":13.29}");
}

TEST(RecordJson, UnsetOptionalsAreNullAndStringsAreEscaped) {
  const Contracts contracts = Contracts::FromDescriptors();
  const std::string text = Encode(contracts, testing::ReviewEvent());
  const nlohmann::json doc = nlohmann::json::parse(text);
  EXPECT_TRUE(doc["review_comment_title"].is_null());
  EXPECT_TRUE(doc["review_answer_timestamp"].is_null());
  EXPECT_EQ(doc["review_comment_message"], "Recebi bem antes do prazo \"estipulado\".\n");
  EXPECT_EQ(doc["review_score"], 4);
  EXPECT_EQ(doc.size(), 7u);
}

TEST(RecordJson, ProductOptionalIntegersAreNullOrNumbers) {
  const Contracts contracts = Contracts::FromDescriptors();
  v1::Event event;
  event.set_entity(v1::ENTITY_PRODUCTS);
  event.mutable_product()->set_product_id("1e9e8ef04dbcff4541ed26657ea517e5");
  event.mutable_product()->set_product_weight_g(0);
  const nlohmann::json doc = nlohmann::json::parse(Encode(contracts, event));
  EXPECT_EQ(doc["product_weight_g"], 0);
  EXPECT_TRUE(doc["product_category_name"].is_null());
  EXPECT_TRUE(doc["product_photos_qty"].is_null());
}

TEST(RecordJson, EscapesControlCharactersAndKeepsUtf8) {
  std::string out;
  AppendJsonString(std::string("a\"b\\c\x01\t\xc3\xa9", 9), &out);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\u0001\\t\xc3\xa9\"");
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), std::string("a\"b\\c\x01\t\xc3\xa9", 9));
}

TEST(RecordJson, NumbersReadBackExactlyAndKeepAFraction) {
  for (double v : {0.0, 12.0, 58.9, 13.29, -23.545621, 1e-7, 6543.21, 1e20, -46.633309}) {
    std::string out;
    AppendJsonNumber(v, &out);
    EXPECT_EQ(nlohmann::json::parse(out).get<double>(), v) << out;
    EXPECT_TRUE(nlohmann::json::parse(out).is_number_float()) << out;
  }
  std::string out;
  AppendJsonNumber(12.0, &out);
  EXPECT_EQ(out, "12.0");
}

TEST(RecordJson, KeyIsTheKeyFieldsJoined) {
  const Contracts contracts = Contracts::FromDescriptors();
  const v1::Event event = testing::OrderItemEvent();
  const EntityPlan* entity = contracts.ByName("order_items");
  EXPECT_EQ(RecordKey(*entity, event.order_item()), "00010242fe8c5a6d1ba2dd792cb16214");
}

}  // namespace
}  // namespace nexus
