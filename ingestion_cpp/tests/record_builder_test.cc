#include "record_builder.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "schema_ids.h"
#include "test_events.h"

namespace nexus {
namespace {

TEST(RecordBuilder, BuildsTopicKeyAndFramedValue) {
  const Contracts contracts = Contracts::FromDescriptors();
  const RecordBuilder builder(contracts, testing::SchemaIdsFor(contracts));
  KafkaRecord record;
  ASSERT_EQ(builder.Build(testing::OrderItemEvent(), &record), "");
  EXPECT_EQ(record.entity->topic, "olist.order_items.v1");
  EXPECT_EQ(record.key, "00010242fe8c5a6d1ba2dd792cb16214");
  ASSERT_GT(record.value.size(), kGlueHeaderSize);
  EXPECT_EQ(record.value[0], 3);
  EXPECT_EQ(record.value[1], 0);
  Uuid id;
  std::copy(record.value.begin() + 2, record.value.begin() + 18, id.begin());
  EXPECT_EQ(FormatUuid(id), "00000000-0000-4000-8000-000000000003");  // order_items is the 3rd entity
  const nlohmann::json doc = nlohmann::json::parse(record.value.substr(kGlueHeaderSize));
  EXPECT_EQ(doc["order_id"], "00010242fe8c5a6d1ba2dd792cb16214");
  EXPECT_EQ(doc["price"], 58.9);
}

TEST(RecordBuilder, ReturnsTheReasonForABadEvent) {
  const Contracts contracts = Contracts::FromDescriptors();
  const RecordBuilder builder(contracts, testing::SchemaIdsFor(contracts));
  v1::Event event = testing::OrderItemEvent();
  event.mutable_order_item()->set_freight_value(-1);
  KafkaRecord record;
  EXPECT_EQ(builder.Build(event, &record), "freight_value: -1 is less than the minimum 0");
}

TEST(SchemaIds, NamesMissingEntitiesAndBadIds) {
  const Contracts contracts = Contracts::FromDescriptors();
  try {
    SchemaIdsForEntities(contracts, ParseSchemaIds(R"({"olist.orders.v1": "00000000-0000-4000-8000-000000000001"})"));
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("olist.order_items.v1"), std::string::npos);
  }
  EXPECT_THROW(ParseSchemaIds(R"({"olist.orders.v1": "nope"})"), std::runtime_error);
  EXPECT_THROW(ParseSchemaIds("[]"), std::runtime_error);
  EXPECT_THROW(ParseSchemaIds("{"), std::runtime_error);
}

}  // namespace
}  // namespace nexus
