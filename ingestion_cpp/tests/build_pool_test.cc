#include "build_pool.h"

#include <gtest/gtest.h>

#include "schema_ids.h"
#include "test_events.h"

namespace nexus {
namespace {

std::vector<Uuid> ZeroIds(const Contracts& contracts) { return std::vector<Uuid>(contracts.entities().size()); }

v1::PublishRequest Request(int events, int bad_every) {
  v1::PublishRequest request;
  for (int i = 0; i < events; ++i) {
    v1::Event* event = request.add_events();
    *event = testing::OrderItemEvent();
    event->mutable_order_item()->set_order_item_id(1 + i);
    if (bad_every > 0 && i % bad_every == 0) event->mutable_order_item()->set_price(-1);
  }
  return request;
}

TEST(BuildPool, BuildsLikeTheBuilderOnPoolThreads) {
  const Contracts contracts = Contracts::FromDescriptors();
  const RecordBuilder builder(contracts, ZeroIds(contracts));
  BuildPool pool(builder, 2);
  std::vector<v1::PublishRequest> requests;
  for (int m = 0; m < 6; ++m) requests.push_back(Request(50, 7));
  std::vector<BuiltMessage> built(requests.size());
  for (size_t m = 0; m < requests.size(); ++m) pool.Submit(&requests[m], &built[m]);
  for (size_t m = 0; m < requests.size(); ++m) {
    built[m].Wait();
    for (int i = 0; i < 50; ++i) {
      KafkaRecord expected;
      const std::string reason = builder.Build(requests[m].events(i), &expected);
      EXPECT_EQ(built[m].reason(i), reason);
      if (i % 7 == 0) {
        EXPECT_EQ(built[m].record(i), nullptr);
        EXPECT_EQ(reason, "price: -1 is less than the minimum 0");
      } else {
        ASSERT_NE(built[m].record(i), nullptr);
        EXPECT_EQ(built[m].record(i)->key, expected.key);
        EXPECT_EQ(built[m].record(i)->value, expected.value);
      }
    }
  }
}

TEST(BuildPool, AReusedMessageForgetsItsOldReasons) {
  const Contracts contracts = Contracts::FromDescriptors();
  const RecordBuilder builder(contracts, ZeroIds(contracts));
  BuildPool pool(builder, 1);
  BuiltMessage built;
  const v1::PublishRequest bad = Request(10, 1);
  pool.Submit(&bad, &built);
  built.Wait();
  EXPECT_EQ(built.record(3), nullptr);
  const v1::PublishRequest good = Request(4, 0);
  pool.Submit(&good, &built);
  built.Wait();
  for (int i = 0; i < 4; ++i) EXPECT_NE(built.record(i), nullptr) << i;
}

}  // namespace
}  // namespace nexus
