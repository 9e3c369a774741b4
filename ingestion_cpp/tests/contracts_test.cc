#include "contracts.h"

#include <gtest/gtest.h>

namespace nexus {
namespace {

TEST(Contracts, HasEveryEntityOfThePayloadOneof) {
  const Contracts contracts = Contracts::FromDescriptors();
  ASSERT_EQ(contracts.entities().size(), 9u);
  std::vector<std::string> topics;
  for (const EntityPlan& e : contracts.entities()) topics.push_back(e.topic);
  EXPECT_EQ(topics, (std::vector<std::string>{
                        "olist.customers.v1", "olist.geolocation.v1", "olist.order_items.v1", "olist.payments.v1",
                        "olist.reviews.v1", "olist.orders.v1", "olist.products.v1", "olist.sellers.v1",
                        "olist.category_translation.v1"}));
}

TEST(Contracts, MapsTopicsKeysAndEnums) {
  const Contracts contracts = Contracts::FromDescriptors();
  const EntityPlan* items = contracts.ByName("order_items");
  ASSERT_NE(items, nullptr);
  EXPECT_EQ(items->topic, "olist.order_items.v1");
  EXPECT_EQ(items->entity_enum_name, "ENTITY_ORDER_ITEMS");
  EXPECT_EQ(contracts.ByEnum(3), items);
  EXPECT_EQ(contracts.ByPayloadField(12), items);
  ASSERT_EQ(items->key_fields.size(), 1u);
  EXPECT_EQ(items->fields[items->key_fields[0]].name, "order_id");
  EXPECT_EQ(contracts.ByName("category_translation")->fields[contracts.ByName("category_translation")->key_fields[0]].name,
            "product_category_name");
  EXPECT_EQ(contracts.ByName("nope"), nullptr);
  EXPECT_EQ(contracts.ByEnum(0), nullptr);
}

TEST(Contracts, ReadsFieldRulesFromTheOptions) {
  const Contracts contracts = Contracts::FromDescriptors();
  const EntityPlan* payments = contracts.ByName("payments");
  const FieldPlan& type = payments->fields[2];
  EXPECT_EQ(type.name, "payment_type");
  EXPECT_TRUE(type.required);
  EXPECT_EQ(type.enum_values.size(), 5u);
  const FieldPlan& installments = payments->fields[3];
  EXPECT_EQ(*installments.minimum, 0);
  EXPECT_EQ(*installments.maximum, 24);
  const EntityPlan* reviews = contracts.ByName("reviews");
  const FieldPlan& title = reviews->fields[3];
  EXPECT_EQ(title.name, "review_comment_title");
  EXPECT_TRUE(title.has_presence);
  EXPECT_FALSE(title.required);
  EXPECT_EQ(*title.max_length, 200u);
  EXPECT_EQ(reviews->fields[0].format, Format::kMd5Id);
  EXPECT_EQ(reviews->fields[0].json_key, "\"review_id\":");
}

}  // namespace
}  // namespace nexus
