// Valid sample events for the unit tests, one per entity that the tests use, and schema
// ids for every entity.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "keystone/olist/v1/olist.pb.h"
#include "contracts.h"
#include "schema_ids.h"

namespace nexus {
namespace v1 = keystone::olist::v1;
}  // namespace nexus

namespace nexus::testing {

inline v1::Event OrderItemEvent() {
  v1::Event event;
  event.set_event_id("2f1c2a52-0000-4000-8000-000000000001");
  event.set_source("unit-test");
  event.set_entity(v1::ENTITY_ORDER_ITEMS);
  v1::OrderItem* item = event.mutable_order_item();
  item->set_order_id("00010242fe8c5a6d1ba2dd792cb16214");
  item->set_order_item_id(1);
  item->set_product_id("4244733e06e7ecb4970a6e2683c13e61");
  item->set_seller_id("48436dade18ac8b2bce089ec2a041202");
  item->set_shipping_limit_date("2017-09-19 09:45:35");
  item->set_price(58.9);
  item->set_freight_value(13.29);
  return event;
}

inline v1::Event ReviewEvent() {
  v1::Event event;
  event.set_event_id("2f1c2a52-0000-4000-8000-000000000002");
  event.set_source("unit-test");
  event.set_entity(v1::ENTITY_REVIEWS);
  v1::OrderReview* review = event.mutable_review();
  review->set_review_id("7bc2406110b926393aa56f80a40eba40");
  review->set_order_id("73fc7af87114b39712e6da79b0a377eb");
  review->set_review_score(4);
  review->set_review_comment_message("Recebi bem antes do prazo \"estipulado\".\n");
  review->set_review_creation_date("2018-01-18 00:00:00");
  return event;
}

// 00000000-0000-4000-8000-00000000000N for the Nth entity of the contracts.
inline std::vector<Uuid> SchemaIdsFor(const Contracts& contracts) {
  std::string text = "{";
  int n = 0;
  for (const EntityPlan& e : contracts.entities()) {
    char uuid[40];
    std::snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012d", ++n);
    text += (n > 1 ? "," : "") + std::string("\"") + e.topic + "\":\"" + uuid + "\"";
  }
  text += "}";
  return SchemaIdsForEntities(contracts, ParseSchemaIds(text));
}

}  // namespace nexus::testing
